//! The SIP user agent core of a trunk-facing B2BUA: transactions, dialogs and calls glued
//! together, sans-IO. Messages from the transport go in with [`Endpoint::handle_incoming`],
//! time with [`Endpoint::handle_timeout`]; messages to send come out of
//! [`Endpoint::poll_transmit`] with their [`Target`], and what the call layer must know
//! comes out of [`Endpoint::poll_event`]. The call layer acts with [`Endpoint::invite`],
//! [`Endpoint::respond`], [`Endpoint::hangup`] and friends.
//!
//! What the endpoint does by itself, as RFC 3261 asks of any UA: the §8.2 checks (400, 416,
//! 420, 415), 100 Trying, 481 for unknown dialogs and transactions, ACK for 2xx, 2xx
//! retransmission until ACK, CANCEL (200 + 487), BYE (200), OPTIONS (200 with Allow),
//! PRACK for reliable provisionals it receives, retransmission of reliable provisionals it
//! sends until PRACK (RFC 3262), and 405 for methods a gateway does not serve.

mod call;
mod client;
pub mod driver;
mod finished;
mod ids;
mod session;
pub mod stats;

pub use call::{CallHandle, CallRole, OutgoingCall};
pub use client::{Credential, RegHandle, RegistrationSpec};
pub use ids::IdGen;
pub use stats::SipStats;

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, VecDeque};

/// The endpoint's tables: keys come from the network, so the hasher is seeded per table
/// (foldhash, the hashbrown default), and fast on the short strings of transaction keys.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tracing::debug;

use call::{Call, CallState, SentAck};
use finished::{Finished, FinishedTable};

use super::dialog::{Dialog, DialogError};
use super::header::{RAck, RSeq, Require, Supported};
use super::transaction::{
    ClientEvent, ClientKey, InviteClient, InviteServer, NonInviteClient, NonInviteServer,
    ServerEvent, ServerKey, State as TxState, Timers, Uas2xxRetransmitter,
};
use super::transport::{response_target, response_target_of_via, Incoming, Protocol, Target};
use super::validate::{check_request_parts, UasPolicy};
use super::{HeaderName, Method, RequestBuilder, ResponseBuilder, SipMessage, StatusCode, Uri};

/// Methods we serve (Allow, §20.5).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY";
/// Extensions we support (Supported, §20.37).
/// `norefersub`: RFC 4488 §4 (`Refer-Sub: false` is honoured).
pub const SUPPORTED: &str = "100rel, timer, replaces, norefersub";

/// How the endpoint presents itself.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// Our address as written in Via and Contact, per protocol.
    pub advertise: Vec<(Protocol, SocketAddr)>,
    /// User part of our Contact.
    pub contact_user: String,
    /// User-Agent / Server header.
    pub user_agent: String,
    pub timers: Timers,
}

/// A non-INVITE request the call layer must answer with [`Endpoint::respond_request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestHandle(u64);

/// What happened, for the call layer.
#[derive(Debug, Clone)]
pub enum UaEvent {
    /// A new INVITE (out of dialog). Answer with [`Endpoint::respond`].
    IncomingCall {
        call: CallHandle,
        invite: SipMessage,
        source: Target,
    },
    /// The caller cancelled before we answered (we sent 200 to the CANCEL and 487).
    Cancelled {
        call: CallHandle,
        cancel: SipMessage,
    },
    /// The ACK for our 2xx to the INVITE arrived, or one with a body for our 2xx to a
    /// re-INVITE; `sdp` is its body when it has one (the answer to an offer we made in
    /// the 2xx, RFC 3264 §4 / RFC 3261 §13.2.1, §14.2).
    Confirmed {
        call: CallHandle,
        sdp: Option<Vec<u8>>,
    },
    /// The PRACK for our reliable provisional arrived (RFC 3262 §3): the early dialog and
    /// its SDP are settled; the call layer may now answer.
    Pracked { call: CallHandle },
    /// Our 2xx was never acknowledged (§13.3.1.4): the call layer should hang up.
    AckTimeout { call: CallHandle },
    /// A provisional response to our INVITE.
    Progress {
        call: CallHandle,
        response: SipMessage,
    },
    /// A 2xx to our INVITE (we sent the ACK).
    Answered {
        call: CallHandle,
        response: SipMessage,
    },
    /// Our INVITE failed: a final error, or 408 (Timer B) / 503 (transport) made up here.
    Rejected {
        call: CallHandle,
        status: u16,
        response: Option<SipMessage>,
    },
    /// The far end hung up (we answered its BYE with 200).
    Bye {
        call: CallHandle,
        request: SipMessage,
    },
    /// The session timer ran out without a refresh (RFC 4028 §10): we sent BYE; a
    /// `Terminated` follows.
    SessionExpired { call: CallHandle },
    /// Our BYE finished (answered or timed out): the call is gone.
    Terminated { call: CallHandle },
    /// Another request: in a dialog (`call` set: re-INVITE, UPDATE, INFO, REFER, NOTIFY) or
    /// not. Answer with [`Endpoint::respond_request`] (or [`Endpoint::respond`] for a
    /// re-INVITE, which is `reinvite: true`).
    Request {
        call: Option<CallHandle>,
        handle: RequestHandle,
        request: SipMessage,
        reinvite: bool,
    },
    /// A registration succeeded (again, at each refresh); `expires` 0 after unregister.
    Registered { handle: RegHandle, expires: u32 },
    /// A registration failed with `status` (408 when the registrar did not answer); it is
    /// tried again in a minute.
    RegistrationFailed { handle: RegHandle, status: u16 },
    /// The answer to an OPTIONS ping (408 when none came, 503 on transport failure).
    PingResult { target: Target, status: u16 },
    /// A response to a request sent with [`Endpoint::request_in_dialog`].
    RequestResult {
        call: CallHandle,
        method: String,
        status: u16,
        response: Option<SipMessage>,
    },
}

impl UaEvent {
    /// The call the event is about, if any.
    pub fn call(&self) -> Option<CallHandle> {
        match self {
            UaEvent::IncomingCall { call, .. }
            | UaEvent::Cancelled { call, .. }
            | UaEvent::Confirmed { call, .. }
            | UaEvent::Pracked { call }
            | UaEvent::AckTimeout { call }
            | UaEvent::Progress { call, .. }
            | UaEvent::Answered { call, .. }
            | UaEvent::Rejected { call, .. }
            | UaEvent::Bye { call, .. }
            | UaEvent::SessionExpired { call }
            | UaEvent::Terminated { call }
            | UaEvent::RequestResult { call, .. } => Some(*call),
            UaEvent::Request { call, .. } => *call,
            UaEvent::Registered { .. }
            | UaEvent::RegistrationFailed { .. }
            | UaEvent::PingResult { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum TxRef {
    ServerInvite(ServerKey),
    ServerNonInvite(ServerKey),
    ClientInvite(ClientKey),
    ClientNonInvite(ClientKey),
    Retransmit(CallHandle),
    Register(RegHandle),
    Session(CallHandle),
}

struct ServerTx<T> {
    tx: T,
    /// Where responses go (§18.2.2), worked out once from the request and its source.
    reply: Target,
    call: Option<CallHandle>,
}

impl<T> ServerTx<T> {
    /// `reply` is [`reply_target`] of the request (worked out once per request by
    /// [`Endpoint::handle_request`]).
    fn new(tx: T, reply: Target, call: Option<CallHandle>) -> Self {
        ServerTx { tx, reply, call }
    }
}

struct ClientTx<T> {
    tx: T,
    target: Target,
    call: Option<CallHandle>,
}

/// The SIP endpoint.
pub struct Endpoint {
    config: EndpointConfig,
    /// Our Contact URI per protocol (UDP, TCP, TLS), made once from `config`.
    contacts: [Arc<str>; 3],
    ids: IdGen,
    policy: UasPolicy<'static>,
    server_invites: HashMap<ServerKey, ServerTx<InviteServer>>,
    server_others: HashMap<ServerKey, ServerTx<NonInviteServer>>,
    /// Server transactions past their final response that only absorb retransmissions
    /// until Timer L or J (see [`finished`]).
    finished: FinishedTable,
    client_invites: HashMap<ClientKey, ClientTx<InviteClient>>,
    client_others: HashMap<ClientKey, ClientTx<NonInviteClient>>,
    calls: HashMap<CallHandle, Call>,
    /// (Call-ID, our tag) → call.
    by_dialog: DialogIndex,
    requests: HashMap<RequestHandle, ServerKey>,
    /// Deadlines, earliest first. An entry is live while `scheduled` holds the same
    /// (time, sequence number) for its transaction: moving or cancelling a deadline is one
    /// map update, and stale entries are dropped as they surface.
    timers: BinaryHeap<Reverse<Deadline>>,
    /// The live deadline of each transaction (or call timer), so that a drain that does
    /// not move it adds nothing.
    scheduled: HashMap<TxRef, Scheduled>,
    /// Deadlines set since the heap was last looked at. They reach the heap only then, so
    /// one that is set and replaced within a turn (the 100 Trying timer of an INVITE the
    /// application answers at once) never costs a heap entry.
    dirty: Vec<TxRef>,
    next_timer: u64,
    transmits: VecDeque<(Target, Bytes)>,
    events: VecDeque<UaEvent>,
    next_handle: u64,
    credentials: Vec<Credential>,
    registrations: HashMap<RegHandle, client::Registration>,
    owners: HashMap<ClientKey, client::Owner>,
    stats: SipStats,
}

/// Our tag → call (§12: with the Call-ID and the peer's tag, it identifies a dialog; ours
/// is unique on its own, and [`Endpoint::dialog_of`] checks the Call-ID to keep the match
/// strict). Keyed by the tag's value ([`IdGen::tag_value`]), so that neither adding a call
/// nor matching an in-dialog request allocates.
#[derive(Default)]
struct DialogIndex(HashMap<u64, CallHandle>);

impl DialogIndex {
    fn insert(&mut self, local_tag: &str, call: CallHandle) {
        if let Some(v) = IdGen::tag_value(local_tag) {
            self.0.insert(v, call);
        }
    }

    fn get(&self, local_tag: &str) -> Option<CallHandle> {
        self.0.get(&IdGen::tag_value(local_tag)?).copied()
    }

    fn remove(&mut self, local_tag: &str, call: CallHandle) {
        if let Some(v) = IdGen::tag_value(local_tag) {
            if self.0.get(&v) == Some(&call) {
                self.0.remove(&v);
            }
        }
    }
}

/// A transaction's live deadline.
#[derive(Debug, Clone, Copy)]
struct Scheduled {
    at: Instant,
    seq: u64,
    /// Whether the heap holds it yet.
    queued: bool,
}

/// A heap entry: ordered by time, then by the order deadlines were set (the sequence
/// number is unique, so the transaction reference never takes part in the ordering).
#[derive(Debug)]
struct Deadline {
    at: Instant,
    seq: u64,
    r: TxRef,
}

impl PartialEq for Deadline {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Deadline {}

impl PartialOrd for Deadline {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Deadline {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl Endpoint {
    pub fn new(config: EndpointConfig) -> Self {
        let contacts =
            [Protocol::Udp, Protocol::Tcp, Protocol::Tls].map(|p| Self::make_contact(&config, p));
        Endpoint {
            contacts,
            config,
            ids: IdGen::new(),
            policy: UasPolicy::default(),
            server_invites: HashMap::default(),
            server_others: HashMap::default(),
            finished: FinishedTable::default(),
            client_invites: HashMap::default(),
            client_others: HashMap::default(),
            calls: HashMap::default(),
            by_dialog: DialogIndex::default(),
            requests: HashMap::default(),
            timers: BinaryHeap::new(),
            scheduled: HashMap::default(),
            dirty: Vec::new(),
            next_timer: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            next_handle: 1,
            credentials: Vec::new(),
            registrations: HashMap::default(),
            owners: HashMap::default(),
            stats: SipStats::default(),
        }
    }

    /// Live calls (dialogs and calls being set up).
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// Live transactions of all kinds.
    pub fn transaction_count(&self) -> usize {
        self.server_invites.len()
            + self.server_others.len()
            + self.finished.len()
            + self.client_invites.len()
            + self.client_others.len()
    }

    /// The INVITE that set up a call (theirs for incoming calls, ours for outgoing ones).
    pub fn invite_of(&self, call: CallHandle) -> Option<&SipMessage> {
        self.calls.get(&call).map(|c| &c.invite)
    }

    /// The dialog of a call, once there is one.
    pub fn dialog(&self, call: CallHandle) -> Option<&Dialog> {
        self.calls.get(&call).and_then(|c| c.dialog.as_ref())
    }

    pub fn poll_transmit(&mut self) -> Option<(Target, Bytes)> {
        let t = self.transmits.pop_front()?;
        self.stats.sent(&t.1);
        Some(t)
    }

    /// What the endpoint counted since it started (transactions, responses by class).
    pub fn stats(&self) -> &SipStats {
        &self.stats
    }

    pub fn poll_event(&mut self) -> Option<UaEvent> {
        self.events.pop_front()
    }

    /// The earliest deadline of any timer.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.queue_deadlines();
        let finished = self.finished.poll_timeout();
        // Drop heap entries that were moved, cancelled or whose transaction is gone.
        while let Some(Reverse(d)) = self.timers.peek() {
            if self.is_live(d) {
                return Some(finished.map_or(d.at, |f| f.min(d.at)));
            }
            self.timers.pop();
        }
        finished
    }

    fn is_live(&self, d: &Deadline) -> bool {
        self.scheduled
            .get(&d.r)
            .is_some_and(|s| (s.at, s.seq) == (d.at, d.seq))
    }

    /// Put the deadlines set since the last look into the heap.
    fn queue_deadlines(&mut self) {
        for r in self.dirty.drain(..) {
            if let Some(s) = self.scheduled.get_mut(&r) {
                if !s.queued {
                    s.queued = true;
                    self.timers.push(Reverse(Deadline {
                        at: s.at,
                        seq: s.seq,
                        r,
                    }));
                }
            }
        }
    }

    fn handle(&mut self) -> u64 {
        self.next_handle += 1;
        self.next_handle
    }

    fn schedule(&mut self, r: TxRef, at: Option<Instant>) {
        let Some(at) = at else {
            self.scheduled.remove(&r);
            return;
        };
        let seq = self.next_timer + 1;
        let s = Scheduled {
            at,
            seq,
            queued: false,
        };
        match self.scheduled.entry(r) {
            Entry::Occupied(mut e) => {
                if e.get().at == at {
                    return;
                }
                // A deadline already queued for this transaction stays in the heap as a
                // stale entry; one not queued yet is simply replaced.
                let queued = e.get().queued;
                e.insert(s);
                if queued {
                    self.dirty.push(e.key().clone());
                }
            }
            Entry::Vacant(e) => {
                self.dirty.push(e.key().clone());
                e.insert(s);
            }
        }
        self.next_timer = seq;
    }

    /// The call whose dialog has our tag `local_tag` and Call-ID `call_id` (§12.2.2).
    fn dialog_of(&self, call_id: &str, local_tag: &str) -> Option<CallHandle> {
        let call = self.by_dialog.get(local_tag)?;
        let c = self.calls.get(&call)?;
        (c.invite.call_id().ok()?.0 == call_id).then_some(call)
    }

    fn via(&mut self, protocol: Protocol) -> String {
        let addr = self
            .config
            .advertise
            .iter()
            .find(|(p, _)| *p == protocol)
            .or(self.config.advertise.first())
            .map(|(_, a)| *a)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 5060)));
        format!(
            "SIP/2.0/{} {};branch={};rport",
            protocol.via_token(),
            host_port(addr),
            self.ids.branch()
        )
    }

    /// Our Contact URI for `protocol` (made once, at [`Endpoint::new`]).
    fn contact(&self, protocol: Protocol) -> Arc<str> {
        self.contacts[contact_index(protocol)].clone()
    }

    fn make_contact(config: &EndpointConfig, protocol: Protocol) -> Arc<str> {
        let addr = config
            .advertise
            .iter()
            .find(|(p, _)| *p == protocol)
            .or(config.advertise.first())
            .map(|(_, a)| *a)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 5060)));
        let transport = match protocol {
            Protocol::Udp => "",
            Protocol::Tcp => ";transport=tcp",
            Protocol::Tls => ";transport=tls",
        };
        Arc::from(format!(
            "sip:{}@{}{transport}",
            config.contact_user,
            host_port(addr)
        ))
    }

    // -----------------------------------------------------------------------------------
    // Input.

    /// A message from the transport.
    pub fn handle_incoming(&mut self, now: Instant, incoming: Incoming) {
        if incoming.message.is_request() {
            self.handle_request(now, incoming.message, incoming.source);
        } else {
            self.handle_response(now, incoming.message);
        }
    }

    /// `target` is where the response goes: [`reply_target`] of `req`.
    fn send_stateless(
        &mut self,
        req: &SipMessage,
        target: Target,
        status: StatusCode,
        extra: &[(&str, String)],
    ) {
        let mut b = ResponseBuilder::from_request(req, status, None, Some(&self.ids.tag()));
        for (n, v) in extra {
            b.push_header(n, v);
        }
        b.push_header("Server", &self.config.user_agent);
        let bytes = b.build();
        self.transmits.push_back((target, bytes));
    }

    fn handle_request(&mut self, now: Instant, req: SipMessage, source: Target) {
        let method = req.method().unwrap_or(Method::Other(""));
        let common = match check_request_parts(&req, &self.policy) {
            Ok(c) => c,
            Err(rej) => {
                if method != Method::Ack {
                    let mut extra = Vec::new();
                    if !rej.unsupported.is_empty() {
                        extra.push(("Unsupported", rej.unsupported.join(", ")));
                    }
                    if !rej.accept.is_empty() {
                        extra.push(("Accept", rej.accept.join(", ")));
                    }
                    self.send_stateless(&req, reply_target(&req, source), rej.status, &extra);
                }
                return;
            }
        };
        // The checks decoded the top Via, CSeq, Call-ID and To tag once: they serve the
        // transaction key (§17.2.3), the response target (§18.2.2) and dialog matching
        // (§12.2.2).
        let reply = if source.protocol.is_reliable() {
            source
        } else {
            response_target_of_via(&common.top_via, source.protocol).unwrap_or(source)
        };
        let Ok(key) = ServerKey::of_parts(&req, &common.top_via, &common.cseq) else {
            self.send_stateless(&req, reply, StatusCode::BAD_REQUEST, &[]);
            return;
        };
        let has_to_tag = common.to_tag.is_some();
        let in_dialog = common
            .to_tag
            .and_then(|t| self.dialog_of(common.call_id, t));
        // Retransmissions and ACKs for non-2xx find their transaction (§17.2.3).
        if let Some(s) = self.server_invites.get_mut(&key) {
            s.tx.handle_request(now, req);
            self.drain(now, TxRef::ServerInvite(key));
            return;
        }
        if let Some(s) = self.server_others.get_mut(&key) {
            s.tx.handle_request(now, req);
            self.drain(now, TxRef::ServerNonInvite(key));
            return;
        }
        if let Some(f) = self.finished.get(&key) {
            let (response, call, reply) = (f.response.clone(), f.call, f.reply);
            match (response, call) {
                // §17.2.2: a retransmitted non-INVITE gets the final response again.
                (Some(r), _) => self.transmits.push_back((reply, r)),
                // RFC 6026 §7.1: an ACK matching an accepted INVITE goes to the TU (a peer
                // that reuses the INVITE's branch for the ACK of a 2xx); a retransmitted
                // INVITE is absorbed.
                (None, Some(call)) if req.method() == Some(Method::Ack) => {
                    self.handle_ack_2xx(now, req, Some(call))
                }
                (None, _) => {}
            }
            return;
        }
        // §12.2.2 for a request inside one of our dialogs (ACK and CANCEL excepted): the
        // Call-ID and our tag matched above; the peer's tag and the CSeq order are checked
        // with the values the checks decoded.
        let order = match (in_dialog, method) {
            (Some(call), m) if !matches!(m, Method::Ack | Method::Cancel) => self
                .calls
                .get_mut(&call)
                .and_then(|c| c.dialog.as_mut())
                .map(|d| d.handle_matched_request(&req, common.from_tag, &common.cseq)),
            _ => None,
        };
        match method {
            Method::Ack => self.handle_ack_2xx(now, req, in_dialog),
            Method::Cancel => self.handle_cancel(now, req, key, source, reply),
            Method::Invite if !has_to_tag => self.new_incoming_call(now, req, key, source, reply),
            _ if has_to_tag && in_dialog.is_none() => {
                // §12.2.2: a request for a dialog we do not know.
                self.send_stateless(&req, reply, StatusCode::CALL_DOES_NOT_EXIST, &[]);
            }
            Method::Invite => {
                // A re-INVITE: the call layer answers with `respond`.
                let call = in_dialog.expect("checked above");
                if matches!(order, Some(Err(_))) {
                    self.send_stateless(&req, reply, StatusCode::SERVER_INTERNAL_ERROR, &[]);
                    return;
                }
                if let Some(c) = self.calls.get_mut(&call) {
                    c.reinvite = Some(key.clone());
                }
                // A re-INVITE is a session refresh (RFC 4028 §9).
                self.session_refreshed(now, call);
                self.stats.server(&Method::Invite);
                let tx = InviteServer::new(
                    now,
                    req.clone(),
                    source.protocol.is_reliable(),
                    self.config.timers,
                );
                self.server_invites
                    .insert(key.clone(), ServerTx::new(tx, reply, Some(call)));
                let handle = RequestHandle(self.handle());
                self.requests.insert(handle, key.clone());
                self.events.push_back(UaEvent::Request {
                    call: Some(call),
                    handle,
                    request: req,
                    reinvite: true,
                });
                self.drain(now, TxRef::ServerInvite(key));
            }
            _ => self.handle_non_invite(now, req, key, source, reply, in_dialog, order),
        }
    }

    fn handle_ack_2xx(&mut self, now: Instant, req: SipMessage, call: Option<CallHandle>) {
        let Some(call) = call else {
            debug!("ACK for an unknown dialog dropped");
            return;
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if let Some(r) = c.retransmit.as_mut() {
            r.handle_ack();
        }
        c.retransmit = None;
        // The dialog has nothing to learn from an ACK (§12.2.2: it carries the INVITE's
        // CSeq and refreshes no target); only its body, the SDP answer when our 2xx
        // carried the offer (an INVITE or re-INVITE without SDP, §13.2.1, §14.2), goes
        // up: always for the INVITE's, for a re-INVITE's when it has one.
        let sdp = (!req.body().is_empty()).then(|| req.body().to_vec());
        if c.state == CallState::Answered {
            c.state = CallState::Confirmed;
            self.events.push_back(UaEvent::Confirmed { call, sdp });
        } else if sdp.is_some() {
            self.events.push_back(UaEvent::Confirmed { call, sdp });
        }
        // No 2xx retransmission is due any more: cancel its deadline rather than let it
        // fire for nothing.
        self.schedule(TxRef::Retransmit(call), None);
        let _ = now;
    }

    fn handle_cancel(
        &mut self,
        now: Instant,
        req: SipMessage,
        key: ServerKey,
        source: Target,
        reply: Target,
    ) {
        let invite_key = key.with_method("INVITE");
        // §9.2: the INVITE may be pending, or answered already (its transaction then
        // lingers as a record: the CANCEL gets its 200 and changes nothing).
        let (call, still_pending) = match (
            self.server_invites.get(&invite_key),
            self.finished.get(&invite_key),
        ) {
            (Some(inv), _) => (inv.call, inv.tx.state() == TxState::Proceeding),
            (None, Some(f)) => (f.call, false),
            (None, None) => {
                // §9.2: no matching transaction.
                self.send_stateless(&req, reply, StatusCode::CALL_DOES_NOT_EXIST, &[]);
                return;
            }
        };
        // 200 to the CANCEL itself, in its own transaction.
        self.stats.server(&Method::Cancel);
        let mut tx = NonInviteServer::new(
            now,
            req.clone(),
            source.protocol.is_reliable(),
            self.config.timers,
        );
        let ok = ResponseBuilder::from_request(&req, StatusCode::OK, None, None).build();
        tx.respond(now, ok, StatusCode::OK);
        self.server_others
            .insert(key.clone(), ServerTx::new(tx, reply, call));
        self.drain(now, TxRef::ServerNonInvite(key));
        if still_pending {
            if let Some(call) = call {
                self.respond(now, call, StatusCode::REQUEST_TERMINATED, None, &[], None);
                if let Some(c) = self.calls.get_mut(&call) {
                    c.state = CallState::Ended;
                }
                self.events
                    .push_back(UaEvent::Cancelled { call, cancel: req });
            }
        }
    }

    fn new_incoming_call(
        &mut self,
        now: Instant,
        req: SipMessage,
        key: ServerKey,
        source: Target,
        reply: Target,
    ) {
        // RFC 4028 §8.1: an interval below our minimum is refused with 422 and Min-SE.
        if let Err(min) = Self::uas_session(&req) {
            self.send_stateless(
                &req,
                source,
                StatusCode::SESSION_INTERVAL_TOO_SMALL,
                &[("Min-SE", min.to_string())],
            );
            return;
        }
        let handle = CallHandle(self.handle());
        let local_tag = self.ids.tag();
        let contact = self.contact(source.protocol);
        let dialog = Dialog::uas(&req, &local_tag, &contact).ok();
        self.by_dialog.insert(&local_tag, handle);
        let peer_100rel = self.peer_requires_or_supports_100rel(&req);
        self.calls.insert(
            handle,
            Call {
                role: CallRole::Uas,
                state: CallState::Ringing,
                invite: req.clone(),
                local_tag,
                dialog,
                target: source,
                invite_key: Some(TxRef::ServerInvite(key.clone())),
                retransmit: None,
                pending_cancel: false,
                cancel_reason: None,
                provisional_seen: false,
                reinvite: None,
                peer_100rel,
                prack_pending: None,
                out: None,
                auth_tries: 0,
                session: None,
                last_ack: None,
            },
        );
        self.stats.server(&Method::Invite);
        let tx = InviteServer::new(
            now,
            req.clone(),
            source.protocol.is_reliable(),
            self.config.timers,
        );
        self.server_invites
            .insert(key.clone(), ServerTx::new(tx, reply, Some(handle)));
        self.events.push_back(UaEvent::IncomingCall {
            call: handle,
            invite: req,
            source,
        });
        self.drain(now, TxRef::ServerInvite(key));
    }

    fn peer_requires_or_supports_100rel(&self, req: &SipMessage) -> bool {
        let req_tags: Vec<Require<'_>> = req.get_all().unwrap_or_default();
        let sup: Vec<Supported<'_>> = req.get_all().unwrap_or_default();
        req_tags.iter().any(|t| t.0.eq_ignore_ascii_case("100rel"))
            || sup.iter().any(|t| t.0.eq_ignore_ascii_case("100rel"))
    }

    // The request, its key, where it came from and where answers go, its call and the
    // dialog's verdict on it: all worked out once by `handle_request`.
    #[allow(clippy::too_many_arguments)]
    fn handle_non_invite(
        &mut self,
        now: Instant,
        req: SipMessage,
        key: ServerKey,
        source: Target,
        reply: Target,
        call: Option<CallHandle>,
        order: Option<Result<(), DialogError>>,
    ) {
        let method = req.method().unwrap_or(Method::Other(""));
        self.stats.server(&method);
        let mut tx = NonInviteServer::new(
            now,
            req.clone(),
            source.protocol.is_reliable(),
            self.config.timers,
        );
        let mut auto: Option<(StatusCode, Vec<(&str, String)>)> = None;
        // §12.2.2: out of order (or not of the dialog after all): 500.
        if let Some(Err(_)) = order {
            auto = Some((StatusCode::SERVER_INTERNAL_ERROR, vec![]));
        }
        if auto.is_none() {
            auto = match (method, call) {
                (Method::Bye, Some(c)) => {
                    // The dialog ends here; a retransmitted BYE still finds its
                    // transaction and gets the same 200.
                    self.finish_call(c);
                    self.events.push_back(UaEvent::Bye {
                        call: c,
                        request: req.clone(),
                    });
                    Some((StatusCode::OK, vec![]))
                }
                (Method::Prack, Some(c)) => {
                    // RFC 3262 §3: the PRACK stops the reliable provisional's retransmission.
                    let rack = req.get::<RAck<'_>>().ok().flatten().map(|r| r.rseq);
                    if let Some(call) = self.calls.get_mut(&c) {
                        if rack.is_some() && rack == call.prack_pending {
                            call.prack_pending = None;
                            call.retransmit = None;
                            self.events.push_back(UaEvent::Pracked { call: c });
                        }
                    }
                    Some((StatusCode::OK, vec![]))
                }
                (Method::Options, _) => Some((
                    StatusCode::OK,
                    vec![
                        ("Allow", ALLOW.to_string()),
                        ("Accept", "application/sdp".to_string()),
                        ("Supported", SUPPORTED.to_string()),
                    ],
                )),
                (Method::Update, Some(c)) => {
                    // An UPDATE is a session refresh (RFC 4028 §9).
                    self.session_refreshed(now, c);
                    None
                }
                (Method::Info | Method::Refer | Method::Notify, Some(_)) => None,
                // RFC 3515 §2.4.2: a REFER outside a dialog would refer a call we do not
                // have; the gateway declines it (a REFER naming an unknown dialog got 481
                // above, RFC 3261 §12.2.2).
                (Method::Refer, None) => Some((StatusCode::FORBIDDEN, vec![])),
                (
                    Method::Register
                    | Method::Subscribe
                    | Method::Publish
                    | Method::Message
                    | Method::Info
                    | Method::Update
                    | Method::Notify,
                    None,
                ) => Some((
                    StatusCode::METHOD_NOT_ALLOWED,
                    vec![("Allow", ALLOW.to_string())],
                )),
                (_, _) => Some((
                    StatusCode::NOT_IMPLEMENTED,
                    vec![("Allow", ALLOW.to_string())],
                )),
            };
        }
        match auto {
            Some((status, extra)) => {
                let mut b =
                    ResponseBuilder::from_request(&req, status, None, Some(&self.ids.tag()));
                for (n, v) in extra {
                    b.push_header(n, v);
                }
                tx.respond(now, b.build(), status);
                self.server_others
                    .insert(key.clone(), ServerTx::new(tx, reply, call));
            }
            None => {
                let handle = RequestHandle(self.handle());
                self.requests.insert(handle, key.clone());
                self.server_others
                    .insert(key.clone(), ServerTx::new(tx, reply, call));
                self.events.push_back(UaEvent::Request {
                    call,
                    handle,
                    request: req,
                    reinvite: false,
                });
            }
        }
        self.drain(now, TxRef::ServerNonInvite(key));
    }

    fn handle_response(&mut self, now: Instant, resp: SipMessage) {
        if let Some(status) = resp.status() {
            self.stats.received(status.code());
        }
        let Ok(key) = ClientKey::of(&resp) else {
            return;
        };
        if let Some(c) = self.client_invites.get_mut(&key) {
            c.tx.handle_response(now, resp);
            self.drain(now, TxRef::ClientInvite(key));
            return;
        }
        if let Some(c) = self.client_others.get_mut(&key) {
            c.tx.handle_response(now, resp);
            self.drain(now, TxRef::ClientNonInvite(key));
            return;
        }
        // A 2xx retransmitted after the INVITE transaction ended: ACK it again (§13.2.2.4).
        if &*key.method == "INVITE" && resp.status().is_some_and(|s| s.is_success()) {
            let call_id = resp.call_id().map(|c| c.0).unwrap_or_default();
            let from = resp.from().ok();
            let tag = from.as_ref().and_then(|f| f.tag()).unwrap_or_default();
            if let Some(h) = self.dialog_of(call_id, tag) {
                self.send_ack_2xx(h, &resp);
            }
        }
    }

    /// Let time pass: fire every due timer.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.finished.handle_timeout(now);
        loop {
            // Deadlines set by the timers fired so far count too (a zero Timer J or K).
            self.queue_deadlines();
            if self.timers.peek().is_none_or(|Reverse(d)| d.at > now) {
                break;
            }
            let Some(Reverse(d)) = self.timers.pop() else {
                break;
            };
            if !self.is_live(&d) {
                continue;
            }
            let r = d.r;
            self.scheduled.remove(&r);
            match &r {
                TxRef::ServerInvite(k) => {
                    if let Some(t) = self.server_invites.get_mut(k) {
                        t.tx.handle_timeout(now);
                    }
                }
                TxRef::ServerNonInvite(k) => {
                    if let Some(t) = self.server_others.get_mut(k) {
                        t.tx.handle_timeout(now);
                    }
                }
                TxRef::ClientInvite(k) => {
                    if let Some(t) = self.client_invites.get_mut(k) {
                        t.tx.handle_timeout(now);
                    }
                }
                TxRef::ClientNonInvite(k) => {
                    if let Some(t) = self.client_others.get_mut(k) {
                        t.tx.handle_timeout(now);
                    }
                }
                TxRef::Retransmit(_) => {}
                TxRef::Register(h) => {
                    self.refresh_registration(now, *h);
                    continue;
                }
                TxRef::Session(call) => {
                    self.on_session_timeout(now, *call);
                    continue;
                }
            }
            self.drain(now, r);
        }
    }

    /// Take what a transaction produced, act on its events, re-arm its timer, drop it when
    /// it is over.
    fn drain(&mut self, now: Instant, r: TxRef) {
        match r {
            TxRef::Register(_) | TxRef::Session(_) => {}
            TxRef::ServerInvite(k) => {
                let next = drain_server(&mut self.server_invites, &k, &mut self.transmits);
                // RFC 6026 §7.1: once Accepted, the transaction only absorbs INVITE
                // retransmissions and hands matching ACKs up until Timer L: a record does.
                let accepted = self
                    .server_invites
                    .get(&k)
                    .is_some_and(|s| s.tx.state() == TxState::Accepted);
                if accepted {
                    if let Some(s) = self.server_invites.remove(&k) {
                        let record = Finished {
                            response: None,
                            reply: s.reply,
                            call: s.call,
                        };
                        let until = now + self.config.timers.t1x64();
                        self.finished.insert(k.clone(), record, until);
                    }
                    self.schedule(TxRef::ServerInvite(k), None);
                    return;
                }
                self.schedule(TxRef::ServerInvite(k), next);
            }
            TxRef::ServerNonInvite(k) => {
                let next = drain_server(&mut self.server_others, &k, &mut self.transmits);
                // §17.2.2: once Completed, the transaction only resends its final response
                // until Timer J (zero over reliable transports): a record does.
                let completed = self
                    .server_others
                    .get(&k)
                    .is_some_and(|s| s.tx.state() == TxState::Completed);
                if completed {
                    if let Some(s) = self.server_others.remove(&k) {
                        if !s.tx.is_reliable() {
                            let record = Finished {
                                response: s.tx.last_response().cloned(),
                                reply: s.reply,
                                call: None,
                            };
                            let until = now + self.config.timers.timer_j(false);
                            self.finished.insert(k.clone(), record, until);
                        }
                    }
                    self.schedule(TxRef::ServerNonInvite(k), None);
                    return;
                }
                self.schedule(TxRef::ServerNonInvite(k), next);
            }
            TxRef::ClientInvite(k) => {
                let Some((call, events, next, done)) =
                    take_client_output(&mut self.client_invites, &k, &mut self.transmits)
                else {
                    return;
                };
                if let Some(call) = call {
                    for e in events {
                        self.on_invite_client_event(now, call, e);
                    }
                }
                let next = if done {
                    self.client_invites.remove(&k);
                    None
                } else {
                    next
                };
                self.schedule(TxRef::ClientInvite(k), next);
            }
            TxRef::ClientNonInvite(k) => {
                let Some((call, events, next, done)) =
                    take_client_output(&mut self.client_others, &k, &mut self.transmits)
                else {
                    return;
                };
                for e in events {
                    match call {
                        Some(call) => {
                            let method = k.method.clone();
                            self.on_non_invite_client_event(now, call, &method, e);
                        }
                        None => {
                            if let Some((status, resp)) = outcome(e) {
                                if let Some(owner) = self.owners.remove(&k) {
                                    self.on_owned_result(now, owner, status, resp);
                                }
                            }
                        }
                    }
                }
                let next = if done {
                    self.owners.remove(&k);
                    self.client_others.remove(&k);
                    None
                } else {
                    next
                };
                self.schedule(TxRef::ClientNonInvite(k), next);
            }
            TxRef::Retransmit(call) => {
                let Some(c) = self.calls.get_mut(&call) else {
                    return;
                };
                let target = c.target;
                let mut timed_out = false;
                let mut next = None;
                if let Some(r) = c.retransmit.as_mut() {
                    r.handle_timeout(now);
                    if let Some(b) = r.poll_transmit() {
                        self.transmits.push_back((target, b));
                    }
                    timed_out = r.ack_timed_out();
                    next = r.poll_timeout();
                    if r.is_done() {
                        c.retransmit = None;
                    }
                }
                if timed_out && matches!(c.state, CallState::Answered) {
                    self.events.push_back(UaEvent::AckTimeout { call });
                }
                self.schedule(TxRef::Retransmit(call), next);
            }
        }
    }

    fn on_invite_client_event(&mut self, now: Instant, call: CallHandle, e: ClientEvent) {
        // A re-INVITE of ours (another CSeq than the dialog's INVITE): its final response
        // goes to the call layer; the call stays whatever it says (RFC 3261 §14.1), and a
        // 2xx is ACKed with the re-INVITE's CSeq (§13.2.2.4).
        let reinvite_resp = match &e {
            ClientEvent::Provisional(r) | ClientEvent::Final(r) => self
                .calls
                .get(&call)
                .filter(|c| c.state == CallState::Confirmed || c.state == CallState::Answered)
                .and_then(|c| {
                    let this = r.cseq().ok()?.seq;
                    let first = c.invite.cseq().ok()?.seq;
                    // In a dialog we answered, every INVITE we send is a re-INVITE.
                    (c.role == CallRole::Uas || first != this).then_some(this)
                }),
            _ => None,
        };
        if let Some(seq) = reinvite_resp {
            if let ClientEvent::Final(resp) = e {
                let status = resp.status().map(|s| s.code()).unwrap_or(500);
                if (200..300).contains(&status) {
                    self.send_ack_2xx_seq(call, seq);
                }
                self.events.push_back(UaEvent::RequestResult {
                    call,
                    method: "INVITE".to_string(),
                    status,
                    response: Some(resp),
                });
            }
            return;
        }
        match e {
            ClientEvent::Provisional(resp) => {
                let Some(c) = self.calls.get_mut(&call) else {
                    return;
                };
                c.provisional_seen = true;
                if c.dialog.is_none() {
                    c.dialog = Dialog::uac(&c.invite, &resp).ok();
                }
                // RFC 3262 §4: PRACK a reliable provisional (once per RSeq).
                let reliable = resp
                    .get_all::<Require<'_>>()
                    .unwrap_or_default()
                    .iter()
                    .any(|t| t.0.eq_ignore_ascii_case("100rel"));
                let rseq = resp.get::<RSeq>().ok().flatten().map(|r| r.0);
                let mut prack = None;
                if let (true, Some(rseq), Some(d)) = (reliable, rseq, c.dialog.as_mut()) {
                    if d.accept_rseq(rseq) {
                        let cseq = c.invite.cseq().map(|x| x.seq).unwrap_or(1);
                        prack = Some((rseq, cseq));
                    } else {
                        return;
                    }
                }
                let pending_cancel = c.pending_cancel;
                if let Some((rseq, cseq)) = prack {
                    let via = self.via(self.calls[&call].target.protocol);
                    if let Some(c) = self.calls.get_mut(&call) {
                        if let Some(d) = c.dialog.as_mut() {
                            let req = d
                                .request(Method::Prack, &via, None)
                                .header("RAck", format!("{rseq} {cseq} INVITE"))
                                .build();
                            let target = c.target;
                            self.start_client(now, req, target, Some(call));
                        }
                    }
                }
                if pending_cancel {
                    self.send_cancel(now, call);
                }
                self.events.push_back(UaEvent::Progress {
                    call,
                    response: resp,
                });
            }
            ClientEvent::Final(resp) => {
                let status = resp.status().map(|s| s.code()).unwrap_or(500);
                if (200..300).contains(&status) {
                    if self.is_other_fork(call, &resp) {
                        return;
                    }
                    let first = {
                        let Some(c) = self.calls.get_mut(&call) else {
                            return;
                        };
                        let same_tag = c.dialog.as_ref().is_some_and(|d| {
                            resp.to()
                                .ok()
                                .and_then(|t| t.tag().map(|x| x == d.id().remote_tag))
                                == Some(true)
                        });
                        match c.dialog.as_mut() {
                            Some(d) if same_tag => d.confirm_with(&resp),
                            // The 2xx comes from another fork than the early dialog.
                            _ => c.dialog = Dialog::uac(&c.invite, &resp).ok(),
                        }
                        let first =
                            c.state != CallState::Answered && c.state != CallState::Confirmed;
                        c.state = CallState::Confirmed;
                        first
                    };
                    self.send_ack_2xx(call, &resp);
                    if first {
                        if let Some((secs, refresher, we)) = session::uac_session_from_2xx(&resp) {
                            self.start_session(now, call, secs, refresher, we);
                        }
                        if self.calls.get(&call).is_some_and(|c| c.pending_cancel) {
                            // Answered while our CANCEL crossed it (§9.1): hang up with BYE.
                            self.hangup(now, call, None);
                        }
                        self.events.push_back(UaEvent::Answered {
                            call,
                            response: resp,
                        });
                    }
                } else {
                    if (status == 401 || status == 407)
                        && self.retry_with_credentials(now, call, &resp)
                    {
                        return;
                    }
                    self.finish_call(call);
                    self.events.push_back(UaEvent::Rejected {
                        call,
                        status,
                        response: Some(resp),
                    });
                }
            }
            ClientEvent::Timeout => {
                self.finish_call(call);
                self.events.push_back(UaEvent::Rejected {
                    call,
                    status: 408,
                    response: None,
                });
            }
            ClientEvent::TransportError => {
                self.finish_call(call);
                self.events.push_back(UaEvent::Rejected {
                    call,
                    status: 503,
                    response: None,
                });
            }
        }
    }

    fn on_non_invite_client_event(
        &mut self,
        now: Instant,
        call: CallHandle,
        method: &str,
        e: ClientEvent,
    ) {
        let Some((status, response)) = outcome(e) else {
            return;
        };
        match method {
            "BYE" => {
                self.finish_call(call);
                self.events.push_back(UaEvent::Terminated { call });
            }
            "CANCEL" | "PRACK" => {}
            "UPDATE"
                if self
                    .calls
                    .get(&call)
                    .and_then(|c| c.session.as_ref())
                    .is_some_and(|s| s.refreshing) =>
            {
                // Our session refresh: a 2xx restarts the timer; a failure lets it run out.
                if let Some(s) = self.calls.get_mut(&call).and_then(|c| c.session.as_mut()) {
                    s.refreshing = false;
                }
                if (200..300).contains(&status) {
                    self.session_refreshed(now, call);
                }
            }
            _ => self.events.push_back(UaEvent::RequestResult {
                call,
                method: method.to_string(),
                status,
                response,
            }),
        }
    }

    fn finish_call(&mut self, call: CallHandle) {
        // The call's own timers go with it.
        self.schedule(TxRef::Retransmit(call), None);
        self.schedule(TxRef::Session(call), None);
        if let Some(c) = self.calls.remove(&call) {
            self.by_dialog.remove(&c.local_tag, call);
        }
    }

    /// A 2xx from a second fork after the call was answered by another (§13.2.2.4): ACK
    /// it and send BYE on that fork's dialog. Returns whether it was such a 2xx.
    fn is_other_fork(&mut self, call: CallHandle, resp: &SipMessage) -> bool {
        let Some(c) = self.calls.get(&call) else {
            return false;
        };
        if !matches!(c.state, CallState::Confirmed | CallState::Ending) {
            return false;
        }
        let their_tag = resp.to().ok().and_then(|t| t.tag().map(str::to_string));
        let ours = c.dialog.as_ref().map(|d| d.id().remote_tag.clone());
        if their_tag.is_none() || their_tag == ours {
            return false;
        }
        let (protocol, fallback) = (c.target.protocol, c.target);
        let cseq = c.invite.cseq().map(|x| x.seq).unwrap_or(1);
        let Ok(mut fork) = Dialog::uac(&c.invite, resp) else {
            return true;
        };
        let target = resolve(
            fork.route_set()
                .first()
                .map(String::as_str)
                .unwrap_or(fork.remote_target()),
            protocol,
        )
        .unwrap_or(fallback);
        let via = self.via(protocol);
        let ack = fork.ack(&via, cseq);
        self.transmits.push_back((target, ack));
        let via = self.via(protocol);
        let bye = fork.request(Method::Bye, &via, None).build();
        self.start_client(Instant::now(), bye, target, None);
        true
    }

    /// Send the INVITE again with credentials for the challenge in `resp` (§22.2): once,
    /// and once more for a stale nonce ([`client::answers_challenge`]).
    fn retry_with_credentials(
        &mut self,
        now: Instant,
        call: CallHandle,
        resp: &SipMessage,
    ) -> bool {
        let Some(c) = self.calls.get(&call) else {
            return false;
        };
        let Some(out) = c
            .out
            .clone()
            .filter(|_| client::answers_challenge(c.auth_tries, resp))
        else {
            return false;
        };
        let call_id = c
            .invite
            .call_id()
            .map(|x| x.0.to_string())
            .unwrap_or_default();
        let local_tag = c.local_tag.clone();
        let cseq = c.invite.cseq().map(|x| x.seq).unwrap_or(1) + 1;
        let Some(auth) = self.authorization_for(resp, "INVITE", &out.request_uri) else {
            return false;
        };
        let bytes = self.build_invite(&out, &call_id, &local_tag, cseq, Some(auth));
        let Ok(invite) = SipMessage::parse(bytes.clone()) else {
            return false;
        };
        let key = ClientKey::of(&invite).ok().map(TxRef::ClientInvite);
        if let Some(c) = self.calls.get_mut(&call) {
            c.auth_tries += 1;
            c.invite = invite;
            c.invite_key = key;
            c.state = CallState::Calling;
            c.provisional_seen = false;
            c.dialog = None;
        }
        self.start_client(now, bytes, out.target, Some(call));
        true
    }

    fn send_ack_2xx(&mut self, call: CallHandle, resp: &SipMessage) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let cseq = c.invite.cseq().map(|x| x.seq).unwrap_or(1);
        let _ = resp;
        self.send_ack_2xx_seq(call, cseq);
    }

    /// ACK for a 2xx to the INVITE (or re-INVITE) of CSeq number `cseq` (§13.2.2.4). A
    /// retransmission of a 2xx already acknowledged gets the same ACK again, octet for octet.
    fn send_ack_2xx_seq(&mut self, call: CallHandle, cseq: u32) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if let (Some(sent), Some(d)) = (&c.last_ack, &c.dialog) {
            if sent.cseq == cseq && sent.dialog == *d.id() {
                self.transmits.push_back((sent.target, sent.bytes.clone()));
                return;
            }
        }
        let protocol = c.target.protocol;
        let via = self.via(protocol);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(d) = c.dialog.as_mut() else { return };
        let ack = d.ack(&via, cseq);
        let target = resolve(
            d.route_set()
                .first()
                .map(String::as_str)
                .unwrap_or(d.remote_target()),
            protocol,
        )
        .unwrap_or(c.target);
        c.last_ack = Some(SentAck {
            cseq,
            dialog: d.id().clone(),
            target,
            bytes: ack.clone(),
        });
        self.transmits.push_back((target, ack));
    }

    fn start_client(&mut self, now: Instant, req: Bytes, target: Target, call: Option<CallHandle>) {
        let Ok(msg) = SipMessage::parse(req) else {
            return;
        };
        let Ok(key) = ClientKey::of(&msg) else { return };
        let reliable = target.protocol.is_reliable();
        self.stats.client(&key.method);
        if msg.method() == Some(Method::Invite) {
            let tx = InviteClient::new(now, msg, reliable, self.config.timers);
            self.client_invites
                .insert(key.clone(), ClientTx { tx, target, call });
            self.drain(now, TxRef::ClientInvite(key));
        } else {
            let tx = NonInviteClient::new(now, msg, reliable, self.config.timers);
            self.client_others
                .insert(key.clone(), ClientTx { tx, target, call });
            self.drain(now, TxRef::ClientNonInvite(key));
        }
    }

    // -----------------------------------------------------------------------------------
    // Commands.

    fn build_invite(
        &mut self,
        out: &OutgoingCall,
        call_id: &str,
        local_tag: &str,
        cseq: u32,
        auth: Option<(&str, String)>,
    ) -> Bytes {
        let via = self.via(out.target.protocol);
        let contact = self.contact(out.target.protocol);
        let mut b = RequestBuilder::new(Method::Invite, &out.request_uri)
            .header("Via", &via)
            .header("Max-Forwards", "70")
            .header("From", format!("{};tag={local_tag}", out.from))
            .header("To", &out.to)
            .header("Call-ID", call_id)
            .header("CSeq", format!("{cseq} INVITE"))
            .header("Contact", format!("<{contact}>"))
            .header("Allow", ALLOW)
            .header("Supported", SUPPORTED)
            .header("User-Agent", &self.config.user_agent);
        for (name, value) in Self::session_request_headers() {
            b.push_header(name, value);
        }
        if let Some((name, value)) = auth {
            b.push_header(name, value);
        }
        for (n, v) in &out.headers {
            b.push_header(n, v);
        }
        if let Some(sdp) = &out.sdp {
            b = b.body("application/sdp", sdp.to_vec());
        }
        b.build()
    }

    /// Place a call: send an INVITE.
    pub fn invite(&mut self, now: Instant, out: OutgoingCall) -> CallHandle {
        let handle = CallHandle(self.handle());
        let local_tag = self.ids.tag();
        let call_id = format!("{}@{}", self.ids.call_id(), self.config.contact_user);
        let bytes = self.build_invite(&out, &call_id, &local_tag, 1, None);
        let Ok(invite) = SipMessage::parse(bytes.clone()) else {
            // Only possible if the caller passed header text that breaks the message.
            self.events.push_back(UaEvent::Rejected {
                call: handle,
                status: 400,
                response: None,
            });
            return handle;
        };
        self.by_dialog.insert(&local_tag, handle);
        let key = ClientKey::of(&invite).ok();
        self.calls.insert(
            handle,
            Call {
                role: CallRole::Uac,
                state: CallState::Calling,
                invite,
                local_tag,
                dialog: None,
                target: out.target,
                invite_key: key.map(TxRef::ClientInvite),
                retransmit: None,
                pending_cancel: false,
                cancel_reason: None,
                provisional_seen: false,
                reinvite: None,
                peer_100rel: false,
                prack_pending: None,
                out: Some(out.clone()),
                auth_tries: 0,
                session: None,
                last_ack: None,
            },
        );
        self.start_client(now, bytes, out.target, Some(handle));
        handle
    }

    /// Answer an incoming INVITE (or a re-INVITE) with `status`. A 2xx confirms the call
    /// (retransmitted until ACK); a final error ends it. `reliable` 18x responses are sent
    /// with 100rel when the caller supports it (RFC 3262).
    pub fn respond(
        &mut self,
        now: Instant,
        call: CallHandle,
        status: StatusCode,
        reason: Option<&str>,
        headers: &[(&str, String)],
        sdp: Option<&[u8]>,
    ) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let key = match (&c.reinvite, &c.invite_key) {
            (Some(k), _) => k.clone(),
            (None, Some(TxRef::ServerInvite(k))) => k.clone(),
            _ => return,
        };
        let Some(s) = self.server_invites.get(&key) else {
            return;
        };
        let req = s.tx.request();
        let is_reinvite = c.reinvite.is_some();
        let reliable = !is_reinvite
            && c.peer_100rel
            && status.code() > 100
            && status.code() < 200
            && sdp.is_some();
        let mut b = ResponseBuilder::from_request(req, status, reason, Some(&c.local_tag));
        if status.code() > 100 {
            let contact = &self.contacts[contact_index(s.reply.protocol)];
            b.push_header_parts("Contact", &[b"<", contact.as_bytes(), b">"]);
        }
        if status.is_success() {
            b.push_header("Allow", ALLOW);
            b.push_header("Supported", SUPPORTED);
        }
        // RFC 4028 §9: the 2xx to the initial INVITE carries the negotiated interval.
        let offer = match status.is_success() && !is_reinvite {
            true => Self::uas_session(req),
            false => Ok(None),
        };
        let session = match offer {
            Ok(Some((secs, refresher))) => {
                let who = match refresher {
                    crate::sip::header::Refresher::Uac => "uac",
                    crate::sip::header::Refresher::Uas => "uas",
                };
                b.push_header("Session-Expires", format!("{secs};refresher={who}"));
                if refresher == crate::sip::header::Refresher::Uac {
                    b.push_header("Require", "timer");
                }
                Some((secs, refresher))
            }
            _ => None,
        };
        let mut rseq = None;
        if reliable {
            let seed = self.ids.seed32();
            if let Some(d) = self.calls.get_mut(&call).and_then(|c| c.dialog.as_mut()) {
                let n = d.next_rseq(seed);
                b.push_header("Require", "100rel");
                b.push_header("RSeq", n.to_string());
                rseq = Some(n);
            }
        }
        b.push_header("Server", &self.config.user_agent);
        for (n, v) in headers {
            b.push_header(n, v);
        }
        if let Some(sdp) = sdp {
            b = b.body("application/sdp", sdp.to_vec());
        }
        let bytes = b.build();
        if let Some(s) = self.server_invites.get_mut(&key) {
            s.tx.respond(now, bytes.clone(), status);
        }
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if status.is_success() {
            if is_reinvite {
                c.reinvite = None;
            } else {
                c.state = CallState::Answered;
                if let Some(d) = c.dialog.as_mut() {
                    d.confirm();
                }
            }
            c.retransmit = Some(Uas2xxRetransmitter::new(now, bytes, self.config.timers));
            c.prack_pending = None;
        } else if let Some(n) = rseq {
            c.retransmit = Some(Uas2xxRetransmitter::new(now, bytes, self.config.timers));
            c.prack_pending = Some(n);
        } else if status.code() >= 300 {
            if is_reinvite {
                c.reinvite = None;
            } else {
                c.state = CallState::Ended;
                c.retransmit = None;
            }
        }
        let next = c.retransmit.as_ref().and_then(|r| r.poll_timeout());
        self.schedule(TxRef::Retransmit(call), next);
        if let Some((secs, refresher)) = session {
            let we = refresher == crate::sip::header::Refresher::Uas;
            self.start_session(now, call, secs, refresher, we);
        }
        self.drain(now, TxRef::ServerInvite(key));
        if status.code() >= 300 && !is_reinvite {
            self.finish_call(call);
        }
    }

    /// Answer a request handed up as [`UaEvent::Request`] (not a re-INVITE).
    pub fn respond_request(
        &mut self,
        now: Instant,
        handle: RequestHandle,
        status: StatusCode,
        headers: &[(&str, String)],
        body: Option<(&str, &[u8])>,
    ) {
        let Some(key) = self.requests.remove(&handle) else {
            return;
        };
        if let Some(s) = self.server_others.get_mut(&key) {
            let mut b =
                ResponseBuilder::from_request(s.tx.request(), status, None, Some(&self.ids.tag()));
            for (n, v) in headers {
                b.push_header(n, v);
            }
            if let Some((ct, body)) = body {
                b = b.body(ct, body.to_vec());
            }
            s.tx.respond(now, b.build(), status);
            self.drain(now, TxRef::ServerNonInvite(key));
        } else if let Some(call) = self.server_invites.get(&key).and_then(|s| s.call) {
            let sdp = body.map(|(_, b)| b);
            self.respond(now, call, status, None, headers, sdp);
        }
    }

    /// Send a request inside a call's dialog (INFO, UPDATE, REFER, NOTIFY, re-INVITE);
    /// the outcome comes back as [`UaEvent::RequestResult`].
    pub fn request_in_dialog(
        &mut self,
        now: Instant,
        call: CallHandle,
        method: Method<'_>,
        headers: &[(&str, String)],
        body: Option<(&str, &[u8])>,
    ) -> bool {
        let Some(c) = self.calls.get(&call) else {
            return false;
        };
        let protocol = c.target.protocol;
        let fallback = c.target;
        let via = self.via(protocol);
        let Some(d) = self.calls.get_mut(&call).and_then(|c| c.dialog.as_mut()) else {
            return false;
        };
        let mut b = d.request(method, &via, None);
        for (n, v) in headers {
            b.push_header(n, v);
        }
        if let Some((ct, body)) = body {
            b = b.body(ct, body.to_vec());
        }
        let target = resolve(
            d.route_set()
                .first()
                .map(String::as_str)
                .unwrap_or(d.remote_target()),
            protocol,
        )
        .unwrap_or(fallback);
        let req = b.build();
        self.start_client(now, req, target, Some(call));
        true
    }

    /// End a call the way its state allows: CANCEL (or a pending CANCEL until a provisional
    /// arrives, §9.1) for our unanswered INVITE, a final response (`status`, default 480)
    /// for theirs, BYE once answered. `reason` is a Reason header value (RFC 3326), e.g.
    /// `Q.850;cause=16;text="Normal call clearing"`.
    pub fn hangup(&mut self, now: Instant, call: CallHandle, reason: Option<&str>) {
        self.hangup_with(now, call, None, reason)
    }

    /// As [`Endpoint::hangup`], with the status for an unanswered incoming call.
    pub fn hangup_with(
        &mut self,
        now: Instant,
        call: CallHandle,
        status: Option<StatusCode>,
        reason: Option<&str>,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let extra: Vec<(&str, String)> = reason
            .map(|r| ("Reason", r.to_string()))
            .into_iter()
            .collect();
        match (c.role, c.state) {
            (CallRole::Uac, CallState::Calling) => {
                c.pending_cancel = true;
                c.cancel_reason = reason.map(str::to_string);
                if c.provisional_seen {
                    self.send_cancel(now, call);
                }
            }
            (CallRole::Uas, CallState::Ringing) => {
                let status =
                    status.unwrap_or(StatusCode::new(480).unwrap_or(StatusCode::BUSY_HERE));
                self.respond(now, call, status, None, &extra, None);
            }
            (_, CallState::Answered | CallState::Confirmed) => {
                c.state = CallState::Ending;
                c.retransmit = None;
                let protocol = c.target.protocol;
                let fallback = c.target;
                let via = self.via(protocol);
                let Some(d) = self.calls.get_mut(&call).and_then(|c| c.dialog.as_mut()) else {
                    self.finish_call(call);
                    return;
                };
                let mut b = d.request(Method::Bye, &via, None);
                for (n, v) in &extra {
                    b.push_header(n, v);
                }
                let target = resolve(
                    d.route_set()
                        .first()
                        .map(String::as_str)
                        .unwrap_or(d.remote_target()),
                    protocol,
                )
                .unwrap_or(fallback);
                let req = b.build();
                self.start_client(now, req, target, Some(call));
            }
            (_, CallState::Ending) => {}
            (_, CallState::Ended) => self.finish_call(call),
            (CallRole::Uas, CallState::Calling) | (CallRole::Uac, CallState::Ringing) => {}
        }
    }

    /// CANCEL our INVITE (§9.1): same Request-URI, Call-ID, To, From, CSeq number and top
    /// Via (branch) as the INVITE, and its Route headers.
    fn send_cancel(&mut self, now: Instant, call: CallHandle) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.state != CallState::Calling {
            return;
        }
        c.state = CallState::Ending;
        let inv = c.invite.clone();
        let target = c.target;
        let mut b = RequestBuilder::new(Method::Cancel, inv.request_uri_str().unwrap_or_default());
        if let Some(v) = inv.header_value(&HeaderName::Via) {
            if let Some(top) = super::transaction::split_list(v).first() {
                b.push_header("Via", top);
            }
        }
        for h in inv.header_fields(&HeaderName::Route) {
            b.push_header("Route", h.value);
        }
        b.push_header("Max-Forwards", "70");
        for name in [HeaderName::From, HeaderName::To, HeaderName::CallId] {
            if let Some(v) = inv.header_value(&name) {
                b.push_header(name.as_str(), v);
            }
        }
        let seq = inv.cseq().map(|x| x.seq).unwrap_or(1);
        b.push_header("CSeq", format!("{seq} CANCEL"));
        if let Some(r) = &c.cancel_reason {
            b.push_header("Reason", r);
        }
        let req = b.build();
        self.start_client(now, req, target, Some(call));
    }
}

/// A final outcome of a client transaction as a status: the response's, or 408 for
/// Timer B/F and 503 for a transport failure (RFC 3261 §8.1.3.1, §17.1.4). Provisional
/// responses are not outcomes.
fn outcome(e: ClientEvent) -> Option<(u16, Option<SipMessage>)> {
    match e {
        ClientEvent::Provisional(_) => None,
        ClientEvent::Final(r) => Some((r.status().map(|s| s.code()).unwrap_or(500), Some(r))),
        ClientEvent::Timeout => Some((408, None)),
        ClientEvent::TransportError => Some((503, None)),
    }
}

/// What the endpoint needs of a transaction, client or server (RFC 3261 §17), to drain
/// it: its messages to send, its events, its next deadline, whether it is over.
trait Transaction {
    type Event;
    fn poll_transmit(&mut self) -> Option<Bytes>;
    fn poll_event(&mut self) -> Option<Self::Event>;
    fn poll_timeout(&self) -> Option<Instant>;
    fn is_terminated(&self) -> bool;
}

macro_rules! transaction {
    ($event:ty: $($t:ty),+) => {
        $(
            impl Transaction for $t {
                type Event = $event;
                fn poll_transmit(&mut self) -> Option<Bytes> {
                    <$t>::poll_transmit(self)
                }
                fn poll_event(&mut self) -> Option<$event> {
                    <$t>::poll_event(self)
                }
                fn poll_timeout(&self) -> Option<Instant> {
                    <$t>::poll_timeout(self)
                }
                fn is_terminated(&self) -> bool {
                    <$t>::is_terminated(self)
                }
            }
        )+
    };
}

transaction!(ClientEvent: InviteClient, NonInviteClient);
transaction!(ServerEvent: InviteServer, NonInviteServer);

/// Send what a client transaction produced and hand back its call, its events, its next
/// deadline and whether it is over. The caller acts on the events before it drops the
/// transaction, since acting may start new ones.
type ClientOutput = (Option<CallHandle>, Vec<ClientEvent>, Option<Instant>, bool);

fn take_client_output<T: Transaction<Event = ClientEvent>>(
    table: &mut HashMap<ClientKey, ClientTx<T>>,
    k: &ClientKey,
    transmits: &mut VecDeque<(Target, Bytes)>,
) -> Option<ClientOutput> {
    let c = table.get_mut(k)?;
    while let Some(b) = c.tx.poll_transmit() {
        transmits.push_back((c.target, b));
    }
    let events = std::iter::from_fn(|| c.tx.poll_event()).collect();
    Some((c.call, events, c.tx.poll_timeout(), c.tx.is_terminated()))
}

/// Send what a server transaction produced to where its responses go, log its events, and
/// drop it when it is over; returns its next deadline (none once it is gone).
fn drain_server<T: Transaction<Event = ServerEvent>>(
    table: &mut HashMap<ServerKey, ServerTx<T>>,
    k: &ServerKey,
    transmits: &mut VecDeque<(Target, Bytes)>,
) -> Option<Instant> {
    let s = table.get_mut(k)?;
    while let Some(b) = s.tx.poll_transmit() {
        transmits.push_back((s.reply, b));
    }
    while let Some(e) = s.tx.poll_event() {
        if let (ServerEvent::AckTimeout, Some(call)) = (e, s.call) {
            debug!(?call, "no ACK for our final response");
        }
    }
    if s.tx.is_terminated() {
        table.remove(k);
        None
    } else {
        s.tx.poll_timeout()
    }
}

/// Where [`Endpoint::contact`] keeps a protocol's Contact.
fn contact_index(protocol: Protocol) -> usize {
    match protocol {
        Protocol::Udp => 0,
        Protocol::Tcp => 1,
        Protocol::Tls => 2,
    }
}

fn host_port(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

/// Where a response to `req` goes: back on the connection for streams; by `received`/
/// `rport` for UDP (§18.2.2), falling back to the packet's source.
fn reply_target(req: &SipMessage, source: Target) -> Target {
    if source.protocol.is_reliable() {
        return source;
    }
    response_target(req, source.protocol).unwrap_or(source)
}

/// The transport address of a SIP URI with an IP host (`;transport=` picks the protocol).
pub fn resolve(uri: &str, default: Protocol) -> Option<Target> {
    let inner = match (uri.find('<'), uri.rfind('>')) {
        (Some(a), Some(b)) if a < b => &uri[a + 1..b],
        _ => uri,
    };
    let Ok(Uri::Sip(u)) = Uri::parse(inner) else {
        return None;
    };
    let protocol = match u.transport().map(str::to_ascii_lowercase).as_deref() {
        Some("tcp") => Protocol::Tcp,
        Some("tls") => Protocol::Tls,
        Some("udp") => Protocol::Udp,
        _ if u.secure => Protocol::Tls,
        _ => default,
    };
    let ip = match u.host {
        super::Host::Ipv4(a) => std::net::IpAddr::V4(a),
        super::Host::Ipv6(a) => std::net::IpAddr::V6(a),
        super::Host::Domain(_) => return None,
    };
    let port = u.port.unwrap_or(if protocol == Protocol::Tls {
        5061
    } else {
        5060
    });
    Some(Target {
        protocol,
        addr: SocketAddr::new(ip, port),
    })
}

#[cfg(test)]
mod tests;
