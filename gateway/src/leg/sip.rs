//! The SIP leg: a SIP trunk's calls on an [`Endpoint`], translated to and from the neutral
//! model (DESIGN.md table): INVITE ↔ Setup, 100 ↔ Proceeding, 180 ↔ Alerting, 183 ↔
//! Progress, 200 ↔ Connect, BYE/CANCEL/final error ↔ Release (RFC 3398 with the RFC 3326
//! Reason header both ways), Request-URI/From/P-Asserted-Identity ↔ called/calling,
//! `Privacy: id` ↔ presentation restricted (RFC 3325).
//!
//! Transfers: an in-dialog REFER (RFC 3515) becomes [`Core::refer`] and its progress goes
//! back as NOTIFY `message/sipfrag` (§2.4.4); an INVITE with `Replaces` (RFC 3891) naming
//! one of this trunk's confirmed dialogs becomes [`Core::replace`]; a transfer's new call
//! carries the REFER's `Referred-By` (RFC 3892 §3). A REFER whose `Refer-To` replaces
//! another dialog of this trunk (the transferor's second call through us, RFC 5589 §7)
//! becomes [`Core::refer_join`].

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use tracing::{debug, warn};

use crate::config::NumberRules;
use crate::core::number::{from_sip_user, to_sip_user};
use crate::core::{
    Bearer, Clearing, Core, Delivery, LegId, Media, Message, Number, Reason, Redirection,
    ReferRefused, ReplaceRefused, Setup, TransferStatus,
};
use crate::id_map::HashMap;
use crate::interwork::redirect::{self, RedirectHeaders};
use crate::media::Law;
use crate::rtp::{PortHold, RtpPortPool};
use crate::sdp::HoldChange;
use crate::sdp::{Direction, LocalCapabilities, OfferAnswer, SessionDescription};
use crate::sip::header::NameAddr;
use crate::sip::header::{PAssertedIdentity, Privacy, PrivacyValue, ReferTo, ReferredBy, Replaces};
use crate::sip::transport::{Protocol, Target};
use crate::sip::ua::{CallHandle, Endpoint, OutgoingCall, UaEvent};
use crate::sip::{Method, SipMessage, StatusCode, Uri};

/// One SIP call's state on the leg.
struct SipCall {
    leg: LegId,
    /// We received the INVITE.
    uas: bool,
    /// A final response (UAS) or 2xx (UAC) happened.
    answered: bool,
    /// The SDP offer/answer of this call.
    sdp: OfferAnswer,
    /// Our SDP answer (UAS), sent with 183/200.
    local_sdp: Option<Vec<u8>>,
    /// Our RTP port in the SDP.
    rtp_port: u16,
    /// Its reservation in the pool, when the port is ours (not an address passed
    /// through): dropped with the call, it frees a port whose media were never bridged.
    port_hold: Option<PortHold>,
    /// The SDP offer of the INVITE (UAS), to answer it again with another address
    /// ([`SipLeg::answer_with_address`]).
    offer: Option<Vec<u8>>,
    /// Call-ID and called user part of the INVITE (UAS), to recognise the INVITEs of
    /// RFC 3578 overlap dialling.
    call_id: String,
    called: String,
    /// Who answered on the other leg (COLP), for the P-Asserted-Identity of our 200 OK.
    connected: Option<Number>,
    /// The peer's REFER was accepted: its implicit subscription (RFC 3515 §2.4.4) is
    /// active until a final NOTIFY.
    refer_active: bool,
    /// The peer listed UPDATE in its Allow (RFC 3311 §5.1); else a connected line
    /// update goes as a re-INVITE.
    peer_update: bool,
    /// UAC: what the INVITE was made of and which of the trunk's peers it went to, to try
    /// the next peer when this one does not answer or is unavailable; dropped once the
    /// peer gave a provisional response beyond 100.
    retry: Option<Box<Retry>>,
}

/// An outgoing call as it was asked for (see [`SipLeg::originate_with`]), to place it
/// again at the trunk's next peer (RFC 3263 §4.3: a 503 or a transaction timeout moves on
/// to the next server).
struct Retry {
    setup: Setup,
    referred_by: Option<String>,
    replaces: Option<String>,
    media_address: Option<SocketAddr>,
    /// The index in `peers` of the peer this INVITE went to.
    peer: usize,
}

/// What a transfer's REFER asks the new call's INVITE to carry.
#[derive(Debug, Clone, Copy, Default)]
pub struct Referral<'a> {
    /// The REFER's `Referred-By` (RFC 3892 §3).
    pub referred_by: Option<&'a str>,
    /// The `Replaces` of the Refer-To URI (RFC 3891 §7.1).
    pub replaces: Option<&'a str>,
}

/// The SIP side of the gateway for one SIP trunk.
pub struct SipLeg {
    trunk: String,
    rules: NumberRules,
    peers: Vec<SocketAddr>,
    protocol: Protocol,
    /// Our address in SDP and URIs.
    local: IpAddr,
    law: Law,
    ports: RtpPortPool,
    by_handle: HashMap<CallHandle, SipCall>,
    by_leg: HashMap<LegId, CallHandle>,
    /// Headers that carry redirection on this trunk (Diversion / History-Info).
    redirect: RedirectHeaders,
    /// `sips:` URIs towards the trunk (RFC 3261 §26.2.2; TLS trunks only).
    sips: bool,
    /// The trunk's peers are in our trust domain (RFC 3325 §2.3).
    trust_identity: bool,
    /// The user part of our Contact (what a registrar sends calls for the trunk to).
    contact_user: String,
}

/// The Q.850 cause of a `Reason: Q.850;cause=N` header (RFC 3326).
pub fn q850_of(msg: &SipMessage) -> Option<u8> {
    msg.get_all::<crate::sip::header::Reason>()
        .ok()?
        .iter()
        .find(|r| r.is_q850())
        .and_then(|r| r.cause())
        .and_then(|c| u8::try_from(c).ok())
}

/// Whether a message's Allow header lists UPDATE (RFC 3261 §20.5, RFC 3311 §5.1).
fn allows_update(msg: &SipMessage) -> bool {
    msg.headers()
        .filter(|h| h.name.eq_ignore_ascii_case(b"Allow"))
        .filter_map(|h| h.value_str())
        .any(|v| {
            v.split(',')
                .any(|m| m.trim().eq_ignore_ascii_case("UPDATE"))
        })
}

/// The user part of a SIP or tel URI.
fn uri_user(uri: &Uri<'_>) -> Option<String> {
    if let Some(s) = uri.as_sip() {
        return s.user.map(str::to_string);
    }
    uri.as_tel().map(|t| t.number.to_string())
}

/// The most digits taken from one `application/dtmf-relay` INFO.
const MAX_INFO_DIGITS: usize = 16;

/// The digits of an `application/dtmf-relay` INFO body (`Signal=5`); `#` and `*` count.
fn dtmf_relay_signal(msg: &SipMessage) -> Option<String> {
    let ct = msg.headers().find(|h| {
        h.name.eq_ignore_ascii_case(b"Content-Type") || h.name.eq_ignore_ascii_case(b"c")
    })?;
    if !ct
        .value_str()?
        .trim()
        .to_ascii_lowercase()
        .starts_with("application/dtmf-relay")
    {
        return None;
    }
    let body = std::str::from_utf8(msg.body()).ok()?;
    let signal = body.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        k.trim().eq_ignore_ascii_case("signal").then(|| v.trim())
    })?;
    // One event per INFO as sent (Signal=5); a few more are taken, not a body's worth.
    let digits: String = signal
        .chars()
        .filter(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D'))
        .take(MAX_INFO_DIGITS)
        .collect();
    (!digits.is_empty()).then_some(digits)
}

/// `name` as the display-name of a name-addr, with the space before the `<`: a
/// quoted-string (RFC 3261 §25.1) with `"` and `\` escaped and control characters left
/// out; empty for no name.
fn display_part(name: Option<&str>) -> String {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return String::new();
    };
    let mut q = String::with_capacity(name.len() + 3);
    q.push('"');
    for c in name.chars().filter(|c| !c.is_control()) {
        if matches!(c, '"' | '\\') {
            q.push('\\');
        }
        q.push(c);
    }
    q.push_str("\" ");
    q
}

/// The display-name of a name-addr, if it has one that is not blank.
fn name_of(a: &NameAddr<'_>) -> Option<String> {
    a.display_name()
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty())
}

/// `Privacy: id` (RFC 3325 §9.3): the identity is not to be shown.
fn privacy_id(msg: &SipMessage) -> bool {
    msg.get::<Privacy>()
        .ok()
        .flatten()
        .is_some_and(|p| p.contains(PrivacyValue::Id))
}

/// NOTIFY of a REFER's implicit subscription (RFC 3515 §2.4.4, §2.4.5): `Event: refer`
/// and a `message/sipfrag` body holding the new call's status line; `last` ends the
/// subscription (`terminated;reason=noresource`, RFC 6665 §4.2.2).
fn send_refer_notify(ep: &mut Endpoint, now: Instant, call: CallHandle, code: u16, last: bool) {
    let reason = StatusCode::new(code).map_or("Unknown", StatusCode::default_reason);
    let body = format!("SIP/2.0 {code} {reason}\r\n");
    let state = if last {
        "terminated;reason=noresource".to_string()
    } else {
        "active;expires=60".to_string()
    };
    ep.request_in_dialog(
        now,
        call,
        Method::Notify,
        &[
            ("Event", "refer".to_string()),
            ("Subscription-State", state),
        ],
        Some(("message/sipfrag;version=2.0", body.as_bytes())),
    );
}

/// `Reason` header value for a Q.850 cause (RFC 3326 §2).
pub fn reason_header(cause: u8) -> String {
    format!("Q.850;cause={cause}")
}

impl SipLeg {
    /// A leg for SIP trunk `trunk` sending to `peers` over `protocol`; `local` is our
    /// address for SDP; RTP ports are taken from `rtp_ports` in turn.
    pub fn new(
        trunk: &str,
        rules: NumberRules,
        peers: Vec<SocketAddr>,
        protocol: Protocol,
        local: IpAddr,
        law: Law,
        rtp_ports: (u16, u16),
    ) -> SipLeg {
        SipLeg {
            trunk: trunk.to_string(),
            rules,
            peers,
            protocol,
            local,
            law,
            ports: RtpPortPool::new(rtp_ports),
            by_handle: HashMap::default(),
            by_leg: HashMap::default(),
            redirect: RedirectHeaders::default(),
            sips: false,
            trust_identity: false,
            contact_user: String::new(),
        }
    }

    /// Take RTP ports from `pool` (shared with the daemon's other SIP trunks).
    pub fn with_port_pool(mut self, pool: RtpPortPool) -> SipLeg {
        self.ports = pool;
        self
    }

    /// Believe the peers' P-Asserted-Identity and send ours to them (the trunk's
    /// `trust_identity` key, RFC 3325 §2.3).
    pub fn with_trust_identity(mut self, trust: bool) -> SipLeg {
        self.trust_identity = trust;
        self
    }

    /// The transport the trunk's peers are reached over.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The user part of our Contact URIs (the endpoint's `contact_user`): an INVITE to it
    /// names no number, so the called number is taken from its To.
    pub fn with_contact_user(mut self, user: &str) -> SipLeg {
        self.contact_user = user.to_string();
        self
    }

    /// The identity a request or response asserts (RFC 3325 §9.1), from a trusted peer
    /// only (§5: otherwise it is ignored); `Privacy: id` makes it restricted.
    fn asserted(&self, msg: &SipMessage) -> Option<Number> {
        if !self.trust_identity {
            return None;
        }
        let pai = msg.first::<PAssertedIdentity>().ok().flatten()?;
        let user = uri_user(&pai.0.uri)?;
        let mut n = from_sip_user(&user, &self.rules, privacy_id(msg));
        n.name = name_of(&pai.0);
        Some(n)
    }

    /// Headers asserting `n` towards the trunk (RFC 3325 §9.3, RFC 3323 §4.2): only to a
    /// trusted peer; `Privacy: id` when presentation is restricted.
    fn assert_headers(&self, n: &Number, local_host: &str) -> Vec<(String, String)> {
        let mut h = Vec::new();
        if self.trust_identity {
            h.push((
                "P-Asserted-Identity".to_string(),
                format!(
                    "{}<sip:{}@{local_host}>",
                    display_part(n.name.as_deref()),
                    to_sip_user(n, &self.rules)
                ),
            ));
            if n.restricted {
                h.push(("Privacy".to_string(), "id".to_string()));
            }
        }
        h
    }

    fn local_host(&self) -> String {
        match self.local {
            IpAddr::V4(a) => a.to_string(),
            IpAddr::V6(a) => format!("[{a}]"),
        }
    }

    /// Address the trunk's peers with `sips:` URIs (its `sips` key; the transport is TLS).
    pub fn with_sips(mut self, sips: bool) -> SipLeg {
        self.sips = sips && self.protocol == Protocol::Tls;
        self
    }

    /// Signal redirected calls with these headers (the trunk's `redirecting` key).
    pub fn with_redirecting(mut self, headers: RedirectHeaders) -> SipLeg {
        self.redirect = headers;
        self
    }

    /// A configuration reload changed the trunk (same listener): new calls use the new
    /// name, number rules, peers and headers; calls in progress keep their state.
    pub fn reconfigure(&mut self, trunk: &crate::config::SipTrunk) {
        self.trunk = trunk.name.clone();
        self.rules = trunk.numbering.clone();
        self.peers = trunk.peers.clone();
        self.redirect = trunk.redirecting;
        self.sips = trunk.sips && self.protocol == Protocol::Tls;
        self.trust_identity = trunk.trust_identity;
    }

    /// The SIP trunk's name.
    pub fn trunk(&self) -> &str {
        &self.trunk
    }

    /// Whether `leg` is one of this trunk's legs.
    pub fn owns(&self, leg: LegId) -> bool {
        self.by_leg.contains_key(&leg)
    }

    /// Calls in progress on this leg.
    pub fn call_count(&self) -> usize {
        self.by_handle.len()
    }

    /// Our RTP port (as put in the SDP) for a leg.
    pub fn rtp_port(&self, leg: LegId) -> Option<u16> {
        let h = self.by_leg.get(&leg)?;
        self.by_handle.get(h).map(|c| c.rtp_port)
    }

    fn new_sdp(&mut self) -> (OfferAnswer, PortHold) {
        let hold = self.ports.take();
        (
            OfferAnswer::new(
                LocalCapabilities::for_span_law(self.local, self.law),
                hold.port(),
            ),
            hold,
        )
    }

    /// Media passed through (the other leg's RTP peer talks to the SIP UA directly, no
    /// relay): our SDP answer to the INVITE names `remote` — the other side's RTP address —
    /// instead of our own port, and prefers `law` (the codec the other side settled on).
    /// Before the answer goes out (183/200); false when the call has no offer to answer or
    /// the answer is already sent.
    pub fn answer_with_address(&mut self, leg: LegId, remote: SocketAddr, law: Law) -> bool {
        let Some(c) = self
            .by_leg
            .get(&leg)
            .and_then(|h| self.by_handle.get_mut(h))
        else {
            return false;
        };
        let Some(offer) = c.offer.as_deref().filter(|_| c.uas && !c.answered) else {
            return false;
        };
        let mut sdp = OfferAnswer::new(
            LocalCapabilities::for_span_law(remote.ip(), law),
            remote.port(),
        );
        match SessionDescription::parse(offer).map(|d| sdp.handle_offer(&d)) {
            Ok(Ok((answer, _, _))) => {
                c.local_sdp = Some(answer.to_bytes());
                c.sdp = sdp;
                c.offer = None;
                // Our own port is not in the answer: its reservation goes.
                c.port_hold = None;
                true
            }
            _ => false,
        }
    }

    /// The neutral media of a negotiated SDP.
    fn media_of(sdp: &OfferAnswer) -> Option<Media> {
        let a = sdp.negotiated()?.audio.as_ref()?;
        Some(Media::Rtp {
            remote: a.remote?,
            law: a.law,
            telephone_event: a.telephone_event.map(|(pt, _)| pt.get()),
        })
    }

    /// An event from the endpoint.
    pub fn on_event(&mut self, ep: &mut Endpoint, core: &mut Core, now: Instant, ev: UaEvent) {
        // Every line logged while the event is handled names the core's call (and our
        // leg), so that the call's SIP and ISDN lines can be followed together.
        let leg = ev
            .call()
            .and_then(|h| self.by_handle.get(&h))
            .map(|c| c.leg);
        let _span = leg
            .and_then(|leg| Some((core.call_of(leg)?, leg)))
            .map(|(call, leg)| {
                tracing::info_span!("call", %call, %leg, trunk = %self.trunk).entered()
            });
        match ev {
            UaEvent::IncomingCall { call, invite, .. } => {
                self.incoming(ep, core, now, call, &invite, None)
            }
            UaEvent::Progress { call, response } => {
                let Some(c) = self.by_handle.get_mut(&call) else {
                    return;
                };
                let status = response.status().map_or(0, |s| s.code());
                if status > 100 {
                    // The peer took the call (ringing, early media): a later failure is
                    // the callee's, not the peer's, and goes to the core.
                    c.retry = None;
                }
                if !response.body().is_empty() {
                    if let Ok(d) = SessionDescription::parse(response.body()) {
                        if let Err(e) = c.sdp.handle_answer(&d) {
                            debug!(error = %e, "early SDP answer refused");
                        }
                    }
                }
                let media = Self::media_of(&c.sdp);
                let msg = match status {
                    100 => Message::Proceeding,
                    180 => Message::Alerting {
                        inband: media.is_some(),
                    },
                    _ => Message::Progress {
                        inband: media.is_some(),
                        media,
                    },
                };
                let leg = c.leg;
                // A 180 with SDP: the core learns where the early media go (Alerting
                // carries no media) before the Alerting cuts them through.
                if let (180, Some(m)) = (status, media) {
                    core.handle(now, leg, Message::Media(m));
                }
                core.handle(now, leg, msg);
            }
            UaEvent::Confirmed {
                call,
                sdp: Some(body),
            } => {
                // The answer to the offer of our 200 (the INVITE or a re-INVITE had no
                // SDP, RFC 3261 §13.2.1, §14.2): the media it names go to the core, which
                // bridges them or moves the bridge (a PBX redirecting the media by third
                // party call control, RFC 3725 §4.1).
                let Some(c) = self.by_handle.get_mut(&call) else {
                    return;
                };
                if !c.sdp.has_pending_offer() {
                    return;
                }
                let (leg, before) = (c.leg, Self::media_of(&c.sdp));
                match SessionDescription::parse(&body).map(|d| c.sdp.handle_answer(&d)) {
                    Ok(Ok((_, change))) => {
                        Self::tell_new_media(core, now, leg, before, &c.sdp);
                        Self::tell_hold_change(core, now, leg, change);
                    }
                    _ => warn!(%leg, "SDP answer in the ACK refused; the media stay as they were"),
                }
            }
            UaEvent::Answered { call, response } => {
                let Some(c) = self.by_handle.get_mut(&call) else {
                    return;
                };
                c.answered = true;
                c.peer_update = allows_update(&response);
                if let Ok(d) = SessionDescription::parse(response.body()) {
                    if let Err(e) = c.sdp.handle_answer(&d) {
                        debug!(error = %e, "SDP answer refused");
                    }
                }
                let media = Self::media_of(&c.sdp);
                let leg = c.leg;
                // RFC 3325: who answered, for the connected line (COLP) on the other side.
                if let Some(n) = self.asserted(&response) {
                    core.handle(now, leg, Message::ConnectedLine(n));
                }
                core.handle(now, leg, Message::Connect { media });
            }
            UaEvent::Rejected {
                call,
                status,
                response,
            } => {
                if self.fail_over(ep, core, now, call, status) {
                    return;
                }
                let q850 = response.as_ref().and_then(q850_of);
                self.finish(core, now, call, Reason::Sip { status, q850 });
            }
            UaEvent::Cancelled { call, cancel } => {
                let q850 = q850_of(&cancel);
                self.finish(core, now, call, Reason::Sip { status: 0, q850 });
            }
            UaEvent::Bye { call, request } => {
                let q850 = q850_of(&request);
                self.finish(core, now, call, Reason::Sip { status: 0, q850 });
            }
            UaEvent::AckTimeout { call } => {
                ep.hangup(now, call, Some(&reason_header(41)));
                self.finish(core, now, call, Reason::Q850(41));
            }
            UaEvent::Terminated { call } => {
                // Our own BYE completed; the core already knows.
                if let Some(c) = self.by_handle.remove(&call) {
                    self.by_leg.remove(&c.leg);
                }
            }
            UaEvent::Request {
                call: Some(call),
                handle,
                request,
                reinvite: true,
            } => self.reoffer(ep, core, now, call, handle, &request, true),
            UaEvent::Request {
                call: Some(call),
                handle,
                request,
                reinvite: false,
            } if request.method() == Some(Method::Update) && !request.body().is_empty() => {
                self.reoffer(ep, core, now, call, handle, &request, false)
            }
            UaEvent::RequestResult {
                call,
                method,
                status,
                response: Some(response),
            } if method == "INVITE" && (200..300).contains(&status) => {
                // The answer to our re-INVITE (hold/resume, identity): media it moves
                // (RFC 3264 §8.3) move the bridge, as for the peer's own offers.
                if let Some(c) = self.by_handle.get_mut(&call) {
                    if let Ok(d) = SessionDescription::parse(response.body()) {
                        let (leg, before) = (c.leg, Self::media_of(&c.sdp));
                        match c.sdp.handle_answer(&d) {
                            Ok(_) => Self::tell_new_media(core, now, leg, before, &c.sdp),
                            Err(e) => debug!(error = %e, "re-INVITE answer refused"),
                        }
                    }
                }
            }
            UaEvent::Request {
                call: Some(call),
                handle,
                request,
                reinvite: false,
            } if request.method() == Some(Method::Refer) => {
                self.refer(ep, core, now, call, handle, &request)
            }
            UaEvent::Request {
                call: Some(call),
                handle,
                request,
                reinvite: false,
            } => {
                // INFO in a dialog: DTMF relay (application/dtmf-relay) becomes digits —
                // more called digits in overlap sending before answer, DTMF after; other
                // bodies pass along as text.
                ep.respond_request(now, handle, StatusCode::OK, &[], None);
                if let Some(c) = self.by_handle.get(&call) {
                    let text = String::from_utf8_lossy(request.body()).into_owned();
                    let msg = match dtmf_relay_signal(&request) {
                        Some(digits) => Message::Digits {
                            digits,
                            complete: false,
                        },
                        None => Message::Info(text),
                    };
                    core.handle(now, c.leg, msg);
                }
            }
            other => debug!(?other, "SIP event not used by the call layer"),
        }
    }

    /// A re-INVITE (`reinvite`) or UPDATE with an SDP offer in an established call
    /// (RFC 3264 §8, RFC 3311): answered (sendonly → recvonly, inactive → inactive,
    /// §8.4), 488 if unacceptable (the call goes on, RFC 3261 §14.2); a change of hold
    /// state goes to the core as [`Message::Hold`] / [`Message::Resume`], new media (an
    /// address, port or codec, §8.3) as [`Message::Media`], which moves the bridge. A
    /// re-INVITE without SDP asks for an offer: ours goes in the 200 and the answer
    /// comes in the ACK (RFC 3261 §14.2, [`UaEvent::Confirmed`]). An UPDATE without SDP
    /// (a session refresh, RFC 4028) is answered without one (RFC 3311 §5.2).
    #[allow(clippy::too_many_arguments)]
    fn reoffer(
        &mut self,
        ep: &mut Endpoint,
        core: &mut Core,
        now: Instant,
        call: CallHandle,
        handle: crate::sip::ua::RequestHandle,
        request: &SipMessage,
        reinvite: bool,
    ) {
        let status = |n: u16| StatusCode::new(n).unwrap_or(StatusCode::OK);
        let Some(c) = self.by_handle.get_mut(&call) else {
            ep.respond_request(now, handle, status(481), &[], None);
            return;
        };
        if request.body().is_empty() {
            if reinvite {
                let offer = c.sdp.create_offer(c.sdp.local_direction()).to_bytes();
                c.local_sdp = Some(offer.clone());
                ep.respond(now, call, StatusCode::OK, None, &[], Some(&offer));
            } else {
                ep.respond_request(now, handle, StatusCode::OK, &[], None);
            }
            return;
        }
        let before = Self::media_of(&c.sdp);
        let outcome = SessionDescription::parse(request.body())
            .ok()
            .and_then(|d| c.sdp.handle_offer(&d).ok())
            .map(|(answer, _, change)| (answer.to_bytes(), change));
        let Some((answer, change)) = outcome else {
            // RFC 3261 §21.4.26: not acceptable here.
            if reinvite {
                ep.respond(now, call, status(488), None, &[], None);
            } else {
                ep.respond_request(now, handle, status(488), &[], None);
            }
            return;
        };
        c.local_sdp = Some(answer.clone());
        if reinvite {
            ep.respond(now, call, StatusCode::OK, None, &[], Some(&answer));
        } else {
            ep.respond_request(
                now,
                handle,
                StatusCode::OK,
                &[],
                Some(("application/sdp", &answer)),
            );
        }
        // The same description again (same o= version, §8) leaves the negotiation, and
        // so the media, as they were: nothing moves.
        Self::tell_new_media(core, now, c.leg, before, &c.sdp);
        Self::tell_hold_change(core, now, c.leg, change);
    }

    /// The media `sdp` has negotiated, to the core as [`Message::Media`] when they differ
    /// from `before` (an address, port or codec moved, RFC 3264 §8.3): it bridges them,
    /// or moves the bridge.
    fn tell_new_media(
        core: &mut Core,
        now: Instant,
        leg: LegId,
        before: Option<Media>,
        sdp: &OfferAnswer,
    ) {
        if let Some(m) = Self::media_of(sdp).filter(|m| Some(*m) != before) {
            core.handle(now, leg, Message::Media(m));
        }
    }

    /// A change of hold state to the core ([`Message::Hold`] / [`Message::Resume`]).
    fn tell_hold_change(core: &mut Core, now: Instant, leg: LegId, change: Option<HoldChange>) {
        match change {
            Some(HoldChange::Held) => core.handle(now, leg, Message::Hold),
            Some(HoldChange::Resumed) => core.handle(now, leg, Message::Resume),
            None => {}
        }
    }

    /// A REFER in a dialog (RFC 3515 §2.4.2): exactly one `Refer-To` (else 400, §2.4.1)
    /// naming a `sip:`/`sips:`/`tel:` user; the core routes it as a blind transfer of the
    /// other party. Accepted: 202, then NOTIFY `SIP/2.0 100 Trying` at once (§2.4.4) and
    /// the new call's progress as the core reports it; with `Refer-Sub: false` (RFC 4488
    /// §4) no subscription is made: 202 with `Refer-Sub: false` and no NOTIFY at all. A
    /// `Refer-To` carrying `?Replaces=` (RFC 3891 §7.1: an attended transfer signalled by
    /// REFER) has the new call's INVITE carry that `Replaces` (400 if it is not one).
    fn refer(
        &mut self,
        ep: &mut Endpoint,
        core: &mut Core,
        now: Instant,
        call: CallHandle,
        handle: crate::sip::ua::RequestHandle,
        request: &SipMessage,
    ) {
        let status = |n: u16| StatusCode::new(n).unwrap_or(StatusCode::OK);
        let Some(c) = self.by_handle.get_mut(&call) else {
            ep.respond_request(now, handle, status(481), &[], None);
            return;
        };
        let refer_to = match request.get::<ReferTo>() {
            Ok(Some(r)) => r,
            Ok(None) | Err(_) => {
                debug!("REFER without exactly one valid Refer-To");
                ep.respond_request(now, handle, StatusCode::BAD_REQUEST, &[], None);
                return;
            }
        };
        // RFC 3891 §7.1: `Replaces` as an escaped header of the Refer-To URI.
        let replaces = refer_to.uri.as_sip().and_then(|u| {
            u.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("Replaces"))
                .map(|(_, v)| {
                    crate::sip::uri::unescape(v)
                        .and_then(|b| String::from_utf8(b.into_owned()).ok())
                        .filter(|r| {
                            <Replaces as crate::sip::header::Header>::parse(r)
                                .is_ok_and(|r| r.to_tag().is_some() && r.from_tag().is_some())
                        })
                })
        });
        if replaces == Some(None) {
            debug!("Refer-To with a malformed Replaces");
            ep.respond_request(now, handle, StatusCode::BAD_REQUEST, &[], None);
            return;
        }
        let replaces = replaces.flatten();
        let Some(user) = uri_user(&refer_to.uri).filter(|u| !u.is_empty()) else {
            ep.respond_request(now, handle, StatusCode::BAD_REQUEST, &[], None);
            return;
        };
        // RFC 3892 §3: carried on as received (a malformed one is dropped).
        let referred_by = match request.get::<ReferredBy>() {
            Ok(Some(_)) => request
                .headers()
                .find(|h| {
                    h.name.eq_ignore_ascii_case(b"Referred-By") || h.name.eq_ignore_ascii_case(b"b")
                })
                .and_then(|h| h.value_str())
                .map(|v| v.trim().to_string()),
            _ => None,
        };
        // RFC 4488 §4: the referrer asks for no implicit subscription.
        let no_sub = request
            .headers()
            .find(|h| h.name.eq_ignore_ascii_case(b"Refer-Sub"))
            .and_then(|h| h.value_str())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("false"));
        let target = from_sip_user(&user, &self.rules, false);
        let referrer = c.leg;
        // RFC 5589 §7: the dialog to replace may be the transferor's other call through
        // us: the gateway joins the two calls itself instead of calling itself.
        let ours = replaces
            .as_deref()
            .and_then(|r| self.own_dialog(ep, call, r));
        let outcome = match ours {
            Some(Err(403)) => Err(ReferRefused::SameCall),
            Some(Ok(leg)) => core.refer_join(now, referrer, leg),
            Some(Err(_)) => Ok(()),
            None => core.refer_replacing(now, referrer, &target, referred_by, replaces),
        };
        let Some(c) = self.by_handle.get_mut(&call) else {
            return;
        };
        match outcome {
            Ok(()) if no_sub => {
                c.refer_active = false;
                let h = [("Refer-Sub", "false".to_string())];
                ep.respond_request(now, handle, status(202), &h, None);
            }
            Ok(()) => {
                c.refer_active = true;
                ep.respond_request(now, handle, status(202), &[], None);
                send_refer_notify(ep, now, call, 100, false);
                if let Some(Err(code)) = ours {
                    // RFC 3891 §3 as the target would answer: 486 (`early-only`).
                    c.refer_active = false;
                    send_refer_notify(ep, now, call, code, true);
                }
            }
            Err(e) => {
                debug!(error = %e, "REFER refused");
                let code = match e {
                    ReferRefused::NoCall => 481,
                    ReferRefused::NotAnswered | ReferRefused::SameCall => 403,
                    ReferRefused::Pending => 491,
                };
                ep.respond_request(now, handle, status(code), &[], None);
            }
        }
    }

    /// Whether the `Replaces` value `r` of a REFER received in `referrer`'s dialog names
    /// another dialog of this trunk (RFC 3891 §7.1): `None` if not; else its leg, or 403
    /// when it is the REFER's own dialog or the referrer is not its remote party (the
    /// same URI in From / To, RFC 3891 §6), 486 for `early-only` on a confirmed dialog.
    fn own_dialog(
        &self,
        ep: &Endpoint,
        referrer: CallHandle,
        r: &str,
    ) -> Option<Result<LegId, u16>> {
        let r = <Replaces as crate::sip::header::Header>::parse(r).ok()?;
        let (to_tag, from_tag) = (r.to_tag()?, r.from_tag()?);
        let (h, c) = self.by_handle.iter().find(|(h, _)| {
            ep.dialog(**h).is_some_and(|d| {
                let id = d.id();
                id.call_id == r.call_id && id.local_tag == to_tag && id.remote_tag == from_tag
            })
        })?;
        let party = |h: CallHandle| {
            let d = ep.dialog(h)?;
            let na =
                <crate::sip::header::From as crate::sip::header::Header>::parse(d.remote()).ok()?;
            let u = na.uri.as_sip()?;
            Some((
                u.user.map(str::to_string),
                u.host.to_string().to_ascii_lowercase(),
                u.port,
            ))
        };
        if *h == referrer || party(*h).is_none() || party(*h) != party(referrer) {
            return Some(Err(403));
        }
        if c.answered && r.early_only() {
            return Some(Err(486));
        }
        Some(Ok(c.leg))
    }

    /// The leg of the dialog a `Replaces` header names (RFC 3891 §3: `to-tag` is our tag,
    /// `from-tag` the peer's), or the status to refuse with: 481 when no dialog of ours
    /// matches or it is an early dialog we did not initiate (an early dialog of an INVITE
    /// we sent is replaced, the core cancels it), 486 for `early-only` on a confirmed
    /// dialog.
    pub fn dialog_to_replace(&self, ep: &Endpoint, r: &Replaces<'_>) -> Result<LegId, u16> {
        let (Some(to_tag), Some(from_tag)) = (r.to_tag(), r.from_tag()) else {
            return Err(481);
        };
        let (_, c) = self
            .by_handle
            .iter()
            .find(|(h, _)| {
                ep.dialog(**h).is_some_and(|d| {
                    let id = d.id();
                    id.call_id == r.call_id && id.local_tag == to_tag && id.remote_tag == from_tag
                })
            })
            .ok_or(481u16)?;
        if !c.answered {
            return if c.uas { Err(481) } else { Ok(c.leg) };
        }
        if r.early_only() {
            return Err(486);
        }
        Ok(c.leg)
    }

    fn finish(&mut self, core: &mut Core, now: Instant, call: CallHandle, r: Reason) {
        if let Some(c) = self.by_handle.remove(&call) {
            self.by_leg.remove(&c.leg);
            core.handle(now, c.leg, Message::Release(r));
        }
    }

    /// A new INVITE whose `Replaces` names no dialog of this trunk but `elsewhere`: what
    /// another SIP trunk of ours found for it (its leg, or the status to refuse with;
    /// the daemon checked that trunk's allow-list takes the INVITE's source, RFC 3891 §6).
    pub fn incoming_replacing(
        &mut self,
        ep: &mut Endpoint,
        core: &mut Core,
        now: Instant,
        call: CallHandle,
        invite: &SipMessage,
        elsewhere: Result<LegId, u16>,
    ) {
        self.incoming(ep, core, now, call, invite, Some(elsewhere))
    }

    fn incoming(
        &mut self,
        ep: &mut Endpoint,
        core: &mut Core,
        now: Instant,
        call: CallHandle,
        invite: &SipMessage,
        elsewhere: Option<Result<LegId, u16>>,
    ) {
        let mut called = invite
            .request_uri()
            .as_ref()
            .and_then(uri_user)
            .unwrap_or_default();
        if !self.contact_user.is_empty() && called == self.contact_user {
            // RFC 3261 §10/§16.5: a registrar (an ITSP) retargets calls for the trunk's
            // address of record to our registered Contact; the number called (the DID)
            // stays in To.
            if let Some(to) = invite.to().ok().and_then(|t| uri_user(&t.uri)) {
                called = to;
            }
        }
        let call_id = invite
            .call_id()
            .map(|c| c.0.to_string())
            .unwrap_or_default();
        // RFC 3578 §2.1: an INVITE with the Call-ID of one still pending and more digits
        // continues the dialling of that call.
        let earlier = self
            .by_handle
            .iter()
            .find(|(_, c)| {
                c.uas
                    && !c.answered
                    && c.call_id == call_id
                    && called.len() > c.called.len()
                    && called.starts_with(&c.called)
            })
            .map(|(h, _)| *h);
        if let Some(old) = earlier {
            return self.more_digits(ep, core, now, old, call, invite, called);
        }
        // RFC 3891 §3: an INVITE naming a dialog to replace (attended transfer).
        let replaces = match invite.get::<Replaces>() {
            Ok(r) => r,
            Err(e) => {
                debug!(error = %e, "malformed or repeated Replaces");
                ep.respond(now, call, StatusCode::BAD_REQUEST, None, &[], None);
                return;
            }
        };
        let restricted = privacy_id(invite);
        // RFC 3325 §9.1: P-Asserted-Identity is the caller id when it comes from the trust
        // domain (§5: ignored otherwise); From is the user's unverified claim.
        let asserted = self.asserted(invite);
        let verified = asserted.is_some();
        // The caller's name goes with the identity it comes from: an asserted identity's
        // own display-name (From's is the caller's unverified claim, RFC 3325 §9.1), else
        // From's (what the caller's UA shows as its own name, RFC 3261 §20.20).
        let calling = asserted.or_else(|| {
            let from = invite.from().ok()?;
            let mut n = from_sip_user(&uri_user(&from.uri)?, &self.rules, restricted);
            n.name = name_of(&from);
            Some(n)
        });
        let (mut sdp, port_hold) = self.new_sdp();
        let rtp_port = port_hold.port();
        let port_hold = Some(port_hold);
        let mut local_sdp = None;
        let mut media = None;
        if !invite.body().is_empty() {
            match SessionDescription::parse(invite.body()).map(|d| sdp.handle_offer(&d)) {
                Ok(Ok((answer, _, _))) => {
                    local_sdp = Some(answer.to_bytes());
                    media = Self::media_of(&sdp);
                }
                _ => {
                    // RFC 3398 §7.2.4.1 / RFC 3261 §21.4.26: no common media.
                    let status = StatusCode::new(488).unwrap_or(StatusCode::OK);
                    ep.respond(now, call, status, None, &[], None);
                    return;
                }
            }
        }
        // RFC 5806 / RFC 7044: a redirected call.
        let redirecting = redirect::received(invite, self.redirect).map(|r| Redirection {
            from: from_sip_user(&r.user, &self.rules, r.restricted),
            reason: r.reason,
            count: r.count,
        });
        let setup = Setup {
            called: from_sip_user(&called, &self.rules, false),
            calling,
            bearer: Bearer::Speech,
            media,
            complete: true,
            redirecting,
        };
        let trunk = self.trunk.clone();
        let leg = match replaces {
            Some(r) => {
                let status = |n: u16| StatusCode::new(n).unwrap_or(StatusCode::OK);
                let found = match self.dialog_to_replace(ep, &r) {
                    Err(481) => elsewhere.unwrap_or(Err(481)),
                    other => other,
                };
                let refuse = match found {
                    Err(code) => Err(code),
                    Ok(old) => core.replace(now, old, &trunk, setup).map_err(|e| match e {
                        // §3: no match, or an early dialog we did not initiate: 481.
                        ReplaceRefused::NoCall | ReplaceRefused::Early => 481,
                        ReplaceRefused::NoMediaPath => 488,
                    }),
                };
                match refuse {
                    Ok(leg) => leg,
                    Err(code) => {
                        debug!(code, call_id = r.call_id, "Replaces refused");
                        ep.respond(now, call, status(code), None, &[], None);
                        return;
                    }
                }
            }
            None => core.incoming(now, &trunk, None, setup).1,
        };
        // The core's call id beside the SIP dialog's: what ties this leg's log lines (and
        // the peer's traces) to the call's other leg.
        debug!(call = ?core.call_of(leg), %leg, sip_call_id = %call_id, trunk = %self.trunk, "SIP leg: incoming INVITE");
        core.set_identity_verified(leg, verified);
        self.by_leg.insert(leg, call);
        self.by_handle.insert(
            call,
            SipCall {
                leg,
                uas: true,
                answered: false,
                sdp,
                local_sdp,
                rtp_port,
                port_hold,
                offer: (!invite.body().is_empty()).then(|| invite.body().to_vec()),
                call_id,
                called,
                connected: None,
                refer_active: false,
                peer_update: allows_update(invite),
                retry: None,
            },
        );
    }

    /// RFC 3578 §2.1: `call`'s INVITE repeats the Call-ID of the pending `old` one with more
    /// digits. The superseded INVITE is answered 484 Address Incomplete, the new one takes
    /// its place for the same core leg, and the extra digits go to the core (overlap
    /// sending on the ISDN side, Q.931 §5.1.3).
    #[allow(clippy::too_many_arguments)]
    fn more_digits(
        &mut self,
        ep: &mut Endpoint,
        core: &mut Core,
        now: Instant,
        old: CallHandle,
        call: CallHandle,
        invite: &SipMessage,
        called: String,
    ) {
        let Some(mut c) = self.by_handle.remove(&old) else {
            return;
        };
        let status = |n: u16| StatusCode::new(n).unwrap_or(StatusCode::OK);
        ep.respond(now, old, status(484), None, &[], None);
        if !invite.body().is_empty() {
            let mut sdp = OfferAnswer::new(
                LocalCapabilities::for_span_law(self.local, self.law),
                c.rtp_port,
            );
            match SessionDescription::parse(invite.body()).map(|d| sdp.handle_offer(&d)) {
                Ok(Ok((answer, _, _))) => {
                    c.local_sdp = Some(answer.to_bytes());
                    c.sdp = sdp;
                    c.offer = Some(invite.body().to_vec());
                }
                _ => {
                    ep.respond(now, call, status(488), None, &[], None);
                    self.by_leg.remove(&c.leg);
                    core.handle(
                        now,
                        c.leg,
                        Message::Release(Reason::Sip {
                            status: 488,
                            q850: None,
                        }),
                    );
                    return;
                }
            }
        }
        let digits = called[c.called.len()..].to_string();
        debug!(trunk = %self.trunk, %digits, "RFC 3578: more digits");
        c.called = called;
        let leg = c.leg;
        self.by_leg.insert(leg, call);
        self.by_handle.insert(call, c);
        core.handle(
            now,
            leg,
            Message::Digits {
                digits,
                complete: false,
            },
        );
    }

    /// Place an outgoing call for the core.
    pub fn originate(
        &mut self,
        ep: &mut Endpoint,
        core: &mut Core,
        now: Instant,
        leg: LegId,
        setup: &Setup,
    ) {
        self.originate_with(ep, core, now, leg, setup, Referral::default(), None)
    }

    /// Place an outgoing call for the core; a transfer's new call carries the REFER's
    /// `Referred-By` (RFC 3892 §3: the referee copies it into the triggered INVITE).
    pub fn originate_referred(
        &mut self,
        ep: &mut Endpoint,
        core: &mut Core,
        now: Instant,
        leg: LegId,
        setup: &Setup,
        referred_by: Option<&str>,
    ) {
        let referral = Referral {
            referred_by,
            replaces: None,
        };
        self.originate_with(ep, core, now, leg, setup, referral, None)
    }

    /// As [`SipLeg::originate_referred`], with what the REFER asked for (`referral`); with
    /// `media_address`, the SDP offer names that address (the other leg's RTP peer, media
    /// passed through) instead of our own port.
    #[allow(clippy::too_many_arguments)]
    pub fn originate_with(
        &mut self,
        ep: &mut Endpoint,
        core: &mut Core,
        now: Instant,
        leg: LegId,
        setup: &Setup,
        referral: Referral<'_>,
        media_address: Option<SocketAddr>,
    ) {
        self.originate_at(ep, core, now, leg, setup, referral, media_address, 0);
    }

    /// As [`SipLeg::originate_with`], to the trunk's peer number `index`.
    #[allow(clippy::too_many_arguments)]
    fn originate_at(
        &mut self,
        ep: &mut Endpoint,
        core: &mut Core,
        now: Instant,
        leg: LegId,
        setup: &Setup,
        referral: Referral<'_>,
        media_address: Option<SocketAddr>,
        index: usize,
    ) {
        let Some(peer) = self.peers.get(index).copied() else {
            warn!(trunk = %self.trunk, "SIP trunk has no peer");
            core.handle(now, leg, Message::Release(Reason::Q850(27)));
            return;
        };
        // Kept only when there is a next peer to try (a copy of the setup per call).
        let retry = (index + 1 < self.peers.len()).then(|| {
            Box::new(Retry {
                setup: setup.clone(),
                referred_by: referral.referred_by.map(str::to_string),
                replaces: referral.replaces.map(str::to_string),
                media_address,
                peer: index,
            })
        });
        let host = match peer {
            SocketAddr::V4(a) => a.to_string(),
            SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
        };
        let local_host = self.local_host();
        let called = to_sip_user(&setup.called, &self.rules);
        let mut headers = Vec::new();
        // RFC 3325 §9.3 / RFC 3323 §4.1.1.3: the identity goes in P-Asserted-Identity
        // (with Privacy: id when restricted) to a trusted peer only; a restricted
        // caller's From is anonymous either way.
        let from = match &setup.calling {
            Some(n) => {
                headers.extend(self.assert_headers(n, &local_host));
                if n.restricted {
                    "\"Anonymous\" <sip:anonymous@anonymous.invalid>".to_string()
                } else {
                    format!(
                        "{}<sip:{}@{local_host}>",
                        display_part(n.name.as_deref()),
                        to_sip_user(n, &self.rules)
                    )
                }
            }
            None => format!("<sip:gateway@{local_host}>"),
        };
        if let Some(r) = &setup.redirecting {
            let user = to_sip_user(&r.from, &self.rules);
            headers.extend(redirect::headers_for(
                self.redirect,
                r,
                &user,
                &called,
                &local_host,
            ));
        }
        if let Some(r) = referral.referred_by {
            headers.push(("Referred-By".to_string(), r.to_string()));
        }
        if let Some(r) = referral.replaces {
            // RFC 3891 §3: the target replaces that dialog with this one.
            headers.push(("Replaces".to_string(), r.to_string()));
        }
        let (mut sdp, rtp_port, port_hold) = match (media_address, setup.media) {
            (Some(a), Some(Media::Rtp { law, .. })) => (
                OfferAnswer::new(LocalCapabilities::for_span_law(a.ip(), law), a.port()),
                a.port(),
                None,
            ),
            _ => {
                let (sdp, hold) = self.new_sdp();
                (sdp, hold.port(), Some(hold))
            }
        };
        let offer = sdp.create_offer(Direction::SendRecv).to_bytes();
        // RFC 3261 §26.2.2: `sips:` asks for TLS on every hop; otherwise a TLS trunk's
        // URIs name the transport (§19.1.1).
        let (scheme, uri_params) = match (self.sips, self.protocol) {
            (true, _) => ("sips", ""),
            (false, Protocol::Tls) => ("sip", ";transport=tls"),
            (false, Protocol::Tcp) => ("sip", ";transport=tcp"),
            (false, Protocol::Udp) => ("sip", ""),
        };
        let handle = ep.invite(
            now,
            OutgoingCall {
                request_uri: format!("{scheme}:{called}@{host}{uri_params}"),
                from,
                to: format!("<{scheme}:{called}@{host}>"),
                target: Target {
                    protocol: self.protocol,
                    addr: peer,
                },
                sdp: Some(offer.into()),
                headers,
            },
        );
        debug!(call = ?core.call_of(leg), %leg, sip_call_id = ?ep.invite_of(handle).and_then(|m| m.call_id().ok()).map(|c| c.0.to_string()), trunk = %self.trunk, %peer, "SIP leg: INVITE sent");
        self.by_leg.insert(leg, handle);
        self.by_handle.insert(
            handle,
            SipCall {
                leg,
                uas: false,
                answered: false,
                sdp,
                local_sdp: None,
                rtp_port,
                port_hold,
                offer: None,
                call_id: String::new(),
                called: String::new(),
                connected: None,
                refer_active: false,
                peer_update: false,
                retry,
            },
        );
    }

    /// Our INVITE to one peer failed with `status` (the peer's, or the endpoint's own 408
    /// for a timeout and 503 for a transport failure): when that means the peer is
    /// unavailable (408, 503: RFC 3263 §4.3, RFC 3261 §21.5.4) and the trunk has another
    /// peer, the call is placed there and the core hears nothing. True when so.
    fn fail_over(
        &mut self,
        ep: &mut Endpoint,
        core: &mut Core,
        now: Instant,
        call: CallHandle,
        status: u16,
    ) -> bool {
        let Some(c) = self.by_handle.get(&call) else {
            return false;
        };
        let next = match &c.retry {
            Some(r) if !c.uas && !c.answered && matches!(status, 408 | 503) => r.peer + 1,
            _ => return false,
        };
        // A reload may have taken peers away since the INVITE went out.
        if next >= self.peers.len() {
            return false;
        }
        let Some(c) = self.by_handle.remove(&call) else {
            return false;
        };
        self.by_leg.remove(&c.leg);
        let Some(r) = c.retry else { return false };
        warn!(
            trunk = %self.trunk,
            status,
            failed = %self.peers[r.peer],
            next = %self.peers[next],
            "INVITE failed at this peer: trying the next"
        );
        let referral = Referral {
            referred_by: r.referred_by.as_deref(),
            replaces: r.replaces.as_deref(),
        };
        self.originate_at(
            ep,
            core,
            now,
            c.leg,
            &r.setup,
            referral,
            r.media_address,
            next,
        );
        true
    }

    /// A message from the core for one of our legs.
    pub fn deliver(&mut self, ep: &mut Endpoint, now: Instant, leg: LegId, msg: Delivery) {
        let Some(&handle) = self.by_leg.get(&leg) else {
            return;
        };
        let local_host = self.local_host();
        let colp = match (&msg, self.by_handle.get(&handle)) {
            (Delivery::Connect { .. }, Some(c)) => c
                .connected
                .as_ref()
                .map(|n| self.assert_headers(n, &local_host))
                .unwrap_or_default(),
            (Delivery::Transferred(n), _) => self.assert_headers(n, &local_host),
            _ => Vec::new(),
        };
        let Some(c) = self.by_handle.get_mut(&handle) else {
            return;
        };
        let code = |n: u16| StatusCode::new(n).unwrap_or(StatusCode::OK);
        match msg {
            Delivery::Proceeding => {
                // The endpoint sent 100 Trying when the INVITE arrived (RFC 3261 §8.2.6.1).
            }
            Delivery::Alerting { inband } if c.uas && !c.answered => {
                if inband && c.local_sdp.is_some() {
                    ep.respond(now, handle, code(183), None, &[], c.local_sdp.as_deref());
                } else {
                    ep.respond(now, handle, code(180), None, &[], None);
                }
            }
            Delivery::Progress { .. } if c.uas && !c.answered => {
                ep.respond(now, handle, code(183), None, &[], c.local_sdp.as_deref());
            }
            Delivery::Connect { .. } if c.uas && !c.answered => {
                c.answered = true;
                if c.offer.is_none() && c.local_sdp.is_none() {
                    // An INVITE without SDP (RFC 3261 §13.2.1, e.g. a Replaces): the offer
                    // goes in our 200, the answer comes in the ACK.
                    c.local_sdp = Some(c.sdp.create_offer(Direction::SendRecv).to_bytes());
                }
                // RFC 3325 §9.1: the connected party's identity in the 200 OK (COLP).
                let headers: Vec<(&str, String)> =
                    colp.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
                ep.respond(
                    now,
                    handle,
                    code(200),
                    None,
                    &headers,
                    c.local_sdp.as_deref(),
                );
            }
            Delivery::ConnectedLine(n) => c.connected = Some(n),
            Delivery::Transferred(n) if c.answered => {
                // RFC 3325 §9.1 / RFC 4916 §1: the party we connect the peer to changed (a
                // transfer): a mid-dialog request asserting the new identity, to a trusted
                // peer only (`colp` is empty otherwise). UPDATE without a body when the peer
                // allows it (RFC 3311 §5.1), else a re-INVITE offering the same media.
                if colp.is_empty() {
                    debug!(%leg, "peer not trusted: connected line update not sent");
                    return;
                }
                c.connected = Some(n);
                let headers: Vec<(&str, String)> =
                    colp.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
                if c.peer_update {
                    ep.request_in_dialog(now, handle, Method::Update, &headers, None);
                } else {
                    let dir = c.sdp.local_direction();
                    let offer = c.sdp.create_offer(dir).to_bytes();
                    ep.request_in_dialog(
                        now,
                        handle,
                        Method::Invite,
                        &headers,
                        Some(("application/sdp", &offer)),
                    );
                }
            }
            Delivery::Hold | Delivery::Resume if c.answered => {
                // RFC 3264 §8.4: the PSTN party holds: we offer sendonly (it may play its
                // own music to us); retrieval offers sendrecv again.
                let dir = if msg == Delivery::Hold {
                    Direction::SendOnly
                } else {
                    Direction::SendRecv
                };
                let offer = c.sdp.create_offer(dir).to_bytes();
                ep.request_in_dialog(
                    now,
                    handle,
                    Method::Invite,
                    &[],
                    Some(("application/sdp", &offer)),
                );
            }
            Delivery::TransferProgress(st) if c.refer_active => {
                let (code, last) = match st {
                    TransferStatus::Ringing => (180, false),
                    TransferStatus::Progress => (183, false),
                    TransferStatus::Answered => (200, true),
                    TransferStatus::Failed(Clearing { status, .. }) => (status, true),
                };
                c.refer_active = !last;
                send_refer_notify(ep, now, handle, code, last);
            }
            Delivery::Release(Clearing { cause, status }) => {
                let reason = reason_header(cause);
                if c.uas && !c.answered {
                    ep.respond(now, handle, code(status), None, &[("Reason", reason)], None);
                } else {
                    ep.hangup(now, handle, Some(&reason));
                }
                let c = self.by_handle.remove(&handle);
                if let Some(c) = c {
                    self.by_leg.remove(&c.leg);
                }
            }
            Delivery::Digits(d) if c.answered => {
                let body = format!("Signal={d}\r\nDuration=160\r\n");
                ep.request_in_dialog(
                    now,
                    handle,
                    Method::Info,
                    &[],
                    Some(("application/dtmf-relay", body.as_bytes())),
                );
            }
            Delivery::Info(text) if c.answered => {
                ep.request_in_dialog(
                    now,
                    handle,
                    Method::Info,
                    &[],
                    Some(("application/dtmf-relay", text.as_bytes())),
                );
            }
            other => debug!(?other, %leg, "not sent on SIP in this state"),
        }
    }
}
