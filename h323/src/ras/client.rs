//! The endpoint side of RAS as a sans-IO state machine: datagrams and time in,
//! datagrams and events out.
//!
//! - Gatekeeper discovery (H.225.0 §7.8 / H.323 §7.2.1): GRQ to the well-known multicast
//!   address 224.0.1.41:1718 or to a known address, GCF/GRJ; or no discovery at all with
//!   a configured gatekeeper.
//! - Registration (§7.9): a full RRQ with the gateway's aliases and E.164 prefixes, then
//!   lightweight RRQs (keepAlive, endpointIdentifier, gatekeeperIdentifier) well before
//!   the granted timeToLive runs out ([`keep_alive_after`]).
//! - Recovery: RRJ `fullRegistrationRequired` (a gatekeeper that restarted and forgot us)
//!   brings a full RRQ, `discoveryRequired` a new discovery; a keep-alive that gets no
//!   answer after all retries, or a gatekeeper's URQ, starts the registration over.
//! - Admission (§7.11) per call with callIdentifier, conferenceID, bandwidth and the
//!   destination aliases; the ACF's destCallSignalAddress is handed out. Disengage
//!   (§7.12) after the call, unregistration (§7.10) on shutdown.
//! - Requests from the gatekeeper that an endpoint must answer: URQ (UCF), DRQ (DCF, and
//!   the call must be released), IRQ (IRR), BRQ (BCF); any other request gets an XRS.
//! - Every request is retransmitted with its own sequence number after its timeout,
//!   [`RasTimers`] times; a RIP extends the wait by its delay. Replies are matched on the
//!   sequence number and on the kind of request.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use h323_asn1::h225 as asn;
use thiserror::Error;
use tracing::{debug, info, warn};

use super::confirm::{self, CallInfo};
use super::timer::{keep_alive_after, RasTimers, Retry};
use super::{
    admission_request, bmp_string, decode, disengage_request, encode, gatekeeper_request,
    message_name, registration_request_with, sequence_number, unregistration_request, RasCall,
    RasError, Registrant, RrqOptions,
};
use crate::h225::ids::socket_addr;
use crate::h225::{Alias, Guid};

/// Gatekeeper discovery multicast address and port (H.225.0 §7.1: 224.0.1.41, UDP 1718).
pub const DISCOVERY_MULTICAST: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(224, 0, 1, 41), 1718);

/// Where the gatekeeper is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatekeeperLocation {
    /// Discover it with a multicast GRQ to [`DISCOVERY_MULTICAST`].
    Multicast,
    /// Discover it with a unicast GRQ to this address.
    Discover(SocketAddrV4),
    /// Register with it directly (no GRQ) unless it asks for discovery
    /// (RRJ `discoveryRequired`); then GRQ goes to this address.
    Configured(SocketAddrV4),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    pub registrant: Registrant,
    pub gatekeeper: GatekeeperLocation,
    /// The gatekeeper we want (GRQ/RRQ gatekeeperIdentifier), if a particular one.
    pub gatekeeper_id: Option<String>,
    /// Registration lifetime we ask for, in seconds (the RCF decides).
    pub time_to_live: Option<u32>,
    pub timers: RasTimers,
    /// After a discovery or a full registration failed (reject or no answer), wait this
    /// long before starting over.
    pub retry_after: Duration,
}

impl ClientConfig {
    pub fn new(registrant: Registrant, gatekeeper: GatekeeperLocation) -> Self {
        Self {
            registrant,
            gatekeeper,
            gatekeeper_id: None,
            time_to_live: Some(300),
            timers: RasTimers::default(),
            retry_after: Duration::from_secs(30),
        }
    }
}

/// One RAS datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub destination: SocketAddrV4,
    pub payload: Vec<u8>,
}

/// Why something did not work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No answer after every retransmission.
    NoResponse,
    /// The gatekeeper rejected it; the reject reason's ASN.1 name.
    Rejected(String),
    /// The gatekeeper unregistered us (its URQ reason's ASN.1 name, if any).
    UnregisteredByGatekeeper(Option<String>),
}

/// What the endpoint learns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RasEvent {
    GatekeeperFound {
        address: SocketAddrV4,
        gatekeeper_id: Option<String>,
    },
    DiscoveryFailed {
        reason: Failure,
    },
    /// A full registration succeeded.
    Registered {
        endpoint_id: String,
        gatekeeper_id: Option<String>,
        time_to_live: Option<Duration>,
    },
    /// A lightweight re-registration was confirmed.
    KeepAlive {
        time_to_live: Option<Duration>,
    },
    /// A full registration attempt failed; a new one follows after `retry_after`.
    RegistrationFailed {
        reason: Failure,
    },
    /// We were registered and are not any more; registering again has begun.
    RegistrationLost {
        reason: Failure,
    },
    /// The URQ we sent was answered (UCF: `confirmed`), rejected or never answered.
    Unregistered {
        confirmed: bool,
    },
    AdmissionConfirmed {
        call_id: Guid,
        dest_call_signal_address: Option<SocketAddrV4>,
        bandwidth: u32,
        routed_by_gatekeeper: bool,
    },
    AdmissionFailed {
        call_id: Guid,
        reason: Failure,
    },
    /// The DRQ we sent was confirmed (DCF), rejected or never answered; the call is gone.
    Disengaged {
        call_id: Guid,
        confirmed: bool,
    },
    /// The gatekeeper's DRQ: the call must be released now (DCF already sent).
    DisengageRequested {
        call_id: Guid,
    },
    /// The gatekeeper's BRQ changed a call's bandwidth (BCF already sent).
    BandwidthChanged {
        call_id: Guid,
        bandwidth: u32,
    },
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum RasClientError {
    #[error("not registered with a gatekeeper")]
    NotRegistered,
    #[error("call {0:?} is already known")]
    DuplicateCall(Guid),
    #[error("no such call {0:?}")]
    UnknownCall(Guid),
    #[error(transparent)]
    Ras(#[from] RasError),
}

/// A call to admit (ARQ).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub call_ref: u16,
    pub call_id: Guid,
    pub conference_id: Guid,
    pub destination: Vec<Alias>,
    pub dest_call_signal_address: Option<SocketAddrV4>,
    /// Empty: our registered aliases.
    pub source: Vec<Alias>,
    /// Both directions, units of 100 bit/s (1280 = 2 × 64 kbit/s).
    pub bandwidth: u32,
    /// We answer the call (ARQ answerCall) rather than place it.
    pub answer_call: bool,
}

/// Where registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationState {
    Idle,
    Discovering,
    Registering,
    Registered,
    /// Waiting before the next discovery/registration attempt.
    Waiting,
    Unregistering,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Grq,
    Rrq { keep_alive: bool },
    Urq,
    Arq(Guid),
    Drq(Guid),
}

impl Kind {
    /// Does `reply` answer this kind of request?
    fn answered_by(self, reply: &asn::RasMessage) -> bool {
        use asn::RasMessage as R;
        match self {
            Kind::Grq => matches!(reply, R::gatekeeperConfirm(_) | R::gatekeeperReject(_)),
            Kind::Rrq { .. } => {
                matches!(reply, R::registrationConfirm(_) | R::registrationReject(_))
            }
            Kind::Urq => matches!(
                reply,
                R::unregistrationConfirm(_) | R::unregistrationReject(_)
            ),
            Kind::Arq(_) => matches!(reply, R::admissionConfirm(_) | R::admissionReject(_)),
            Kind::Drq(_) => matches!(reply, R::disengageConfirm(_) | R::disengageReject(_)),
        }
    }
}

#[derive(Debug)]
struct Pending {
    seq: u16,
    kind: Kind,
    transmit: Transmit,
    deadline: Instant,
    retries_left: u8,
    retry: Retry,
    /// RequestInProgress messages that extended the wait so far.
    rips: u8,
}

/// RequestInProgress messages that extend one request's wait at most: a gatekeeper that
/// keeps saying "coming" is then given the request's own retries and timeout, not held
/// to its word forever.
const MAX_RIPS: u8 = 5;

#[derive(Debug, Clone)]
struct Call {
    admission: Admission,
    admitted: bool,
    routed_by_gatekeeper: bool,
    bandwidth: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Discovering,
    Registering,
    Registered,
    Waiting(Instant),
    Unregistering,
}

/// The RAS client of one endpoint (gateway). See the module documentation.
#[derive(Debug)]
pub struct RasClient {
    config: ClientConfig,
    phase: Phase,
    /// The gatekeeper's RAS address, once known.
    gatekeeper: Option<SocketAddrV4>,
    gatekeeper_id: Option<String>,
    discovered: bool,
    endpoint_id: Option<String>,
    time_to_live: Option<Duration>,
    keep_alive_at: Option<Instant>,
    next_seq: u16,
    pending: Vec<Pending>,
    calls: Vec<Call>,
    /// The last request from the gatekeeper we answered (its sequence number and
    /// message name) and our answer, resent if the request is retransmitted.
    last_answer: Option<(u16, &'static str, Transmit)>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<RasEvent>,
}

impl RasClient {
    pub fn new(config: ClientConfig) -> Self {
        Self {
            gatekeeper_id: config.gatekeeper_id.clone(),
            config,
            phase: Phase::Idle,
            gatekeeper: None,
            discovered: false,
            endpoint_id: None,
            time_to_live: None,
            keep_alive_at: None,
            next_seq: 1,
            pending: Vec::new(),
            calls: Vec::new(),
            last_answer: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Begin discovery or registration.
    pub fn start(&mut self, now: Instant) -> Result<(), RasClientError> {
        self.begin(now)
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    pub fn state(&self) -> RegistrationState {
        match self.phase {
            Phase::Idle => RegistrationState::Idle,
            Phase::Discovering => RegistrationState::Discovering,
            Phase::Registering => RegistrationState::Registering,
            Phase::Registered => RegistrationState::Registered,
            Phase::Waiting(_) => RegistrationState::Waiting,
            Phase::Unregistering => RegistrationState::Unregistering,
        }
    }

    pub fn is_registered(&self) -> bool {
        self.phase == Phase::Registered
    }

    pub fn endpoint_id(&self) -> Option<&str> {
        self.endpoint_id.as_deref()
    }

    pub fn gatekeeper_id(&self) -> Option<&str> {
        self.gatekeeper_id.as_deref()
    }

    pub fn gatekeeper_address(&self) -> Option<SocketAddrV4> {
        self.gatekeeper
    }

    /// The registration lifetime the gatekeeper granted.
    pub fn time_to_live(&self) -> Option<Duration> {
        self.time_to_live
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<RasEvent> {
        self.events.pop_front()
    }

    /// The next instant [`handle_timeout`](Self::handle_timeout) has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let waiting = match self.phase {
            Phase::Waiting(t) => Some(t),
            _ => None,
        };
        self.pending
            .iter()
            .map(|p| p.deadline)
            .chain(self.keep_alive_at)
            .chain(waiting)
            .min()
    }

    /// Ask the gatekeeper to admit a call (ARQ). The answer comes as
    /// [`RasEvent::AdmissionConfirmed`] or [`RasEvent::AdmissionFailed`].
    pub fn admit(&mut self, now: Instant, admission: Admission) -> Result<(), RasClientError> {
        if !self.is_registered() {
            return Err(RasClientError::NotRegistered);
        }
        if self.call(admission.call_id).is_some() {
            return Err(RasClientError::DuplicateCall(admission.call_id));
        }
        let seq = self.take_seq();
        let msg = admission_request(seq, &self.ras_call(&admission))?;
        let call_id = admission.call_id;
        self.calls.push(Call {
            bandwidth: admission.bandwidth,
            admission,
            admitted: false,
            routed_by_gatekeeper: false,
        });
        self.send_request(now, seq, Kind::Arq(call_id), &msg)?;
        Ok(())
    }

    /// The call is over: DRQ (normalDrop). [`RasEvent::Disengaged`] follows. Without a
    /// registration the call is only forgotten.
    pub fn disengage(&mut self, now: Instant, call_id: Guid) -> Result<(), RasClientError> {
        let Some(call) = self.call(call_id).cloned() else {
            return Err(RasClientError::UnknownCall(call_id));
        };
        self.pending.retain(|p| p.kind != Kind::Arq(call_id));
        if self.endpoint_id.is_none() || self.gatekeeper.is_none() {
            self.remove_call(call_id);
            self.events.push_back(RasEvent::Disengaged {
                call_id,
                confirmed: false,
            });
            return Ok(());
        }
        if self.pending.iter().any(|p| p.kind == Kind::Drq(call_id)) {
            return Ok(());
        }
        let seq = self.take_seq();
        let mut rc = self.ras_call(&call.admission);
        rc.bandwidth = call.bandwidth;
        let msg = disengage_request(seq, &rc)?;
        self.send_request(now, seq, Kind::Drq(call_id), &msg)?;
        Ok(())
    }

    /// Leave the gatekeeper (URQ); [`RasEvent::Unregistered`] follows.
    pub fn unregister(&mut self, now: Instant) -> Result<(), RasClientError> {
        self.keep_alive_at = None;
        self.pending
            .retain(|p| !matches!(p.kind, Kind::Grq | Kind::Rrq { .. }));
        match (self.phase, self.gatekeeper, self.endpoint_id.clone()) {
            (Phase::Registered, Some(_), Some(ep)) => {
                let seq = self.take_seq();
                let msg = unregistration_request(
                    seq,
                    &self.config.registrant,
                    Some(&ep),
                    self.gatekeeper_id.as_deref(),
                )?;
                self.phase = Phase::Unregistering;
                self.send_request(now, seq, Kind::Urq, &msg)?;
            }
            (Phase::Unregistering, ..) => {}
            _ => {
                self.phase = Phase::Idle;
                self.endpoint_id = None;
                self.events
                    .push_back(RasEvent::Unregistered { confirmed: false });
            }
        }
        Ok(())
    }

    /// Timers: retransmissions, request failures, keep-alive, the next attempt.
    pub fn handle_timeout(&mut self, now: Instant) {
        // Retransmit or give up on every request whose time is up.
        let mut failed = Vec::new();
        for p in &mut self.pending {
            if p.deadline > now {
                continue;
            }
            if p.retries_left > 0 {
                p.retries_left -= 1;
                p.deadline = now + p.retry.timeout;
                debug!(seq = p.seq, kind = ?p.kind, "RAS retransmission");
                self.transmits.push_back(p.transmit.clone());
            } else {
                failed.push(p.kind);
            }
        }
        if !failed.is_empty() {
            self.pending.retain(|p| !failed.contains(&p.kind));
            for kind in failed {
                self.request_failed(now, kind);
            }
        }
        if self.keep_alive_at.is_some_and(|t| t <= now) {
            self.keep_alive_at = None;
            if let Err(e) = self.send_keep_alive(now) {
                warn!(error = %e, "RAS keep-alive not sent");
            }
        }
        if let Phase::Waiting(t) = self.phase {
            if t <= now {
                if let Err(e) = self.begin(now) {
                    warn!(error = %e, "RAS registration not started");
                }
            }
        }
    }

    /// A datagram from the network (`from`: its source address).
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddrV4, bytes: &[u8]) {
        let msg = match decode(bytes) {
            Ok(m) => m,
            Err(e) => {
                debug!(%from, error = %e, "RAS datagram dropped");
                return;
            }
        };
        let name = message_name(&msg);
        let Some(seq) = sequence_number(&msg) else {
            debug!(%from, name, "RAS message without a sequence number ignored");
            return;
        };
        // Once the gatekeeper is known, only its host is listened to (GCF excepted: any
        // gatekeeper may answer a multicast GRQ).
        let from_gatekeeper = self.gatekeeper.is_none_or(|g| g.ip() == from.ip());
        if !from_gatekeeper && !matches!(msg, asn::RasMessage::gatekeeperConfirm(_)) {
            debug!(%from, name, "RAS message not from our gatekeeper ignored");
            return;
        }
        if is_request(&msg) {
            self.handle_request(now, from, seq, name, &msg, bytes);
            return;
        }
        if let asn::RasMessage::requestInProgress(rip) = &msg {
            if let Some(p) = self.pending.iter_mut().find(|p| p.seq == seq) {
                if p.rips < MAX_RIPS {
                    // H.225.0 RIP: the answer will come; wait `delay` (ms) before retrying.
                    p.rips += 1;
                    p.deadline = now + Duration::from_millis(u64::from(rip.delay));
                    debug!(seq, delay_ms = rip.delay, "RAS RequestInProgress");
                } else {
                    debug!(seq, "RAS RequestInProgress once too often: ignored");
                }
            }
            return;
        }
        let Some(i) = self
            .pending
            .iter()
            .position(|p| p.seq == seq && p.kind.answered_by(&msg))
        else {
            debug!(%from, seq, name, "RAS reply matches no request (late or duplicate)");
            return;
        };
        let p = self.pending.swap_remove(i);
        if let Err(e) = self.handle_reply(now, from, p.kind, msg) {
            warn!(error = %e, "RAS reply handling failed");
        }
    }

    // ---- replies -------------------------------------------------------------------

    fn handle_reply(
        &mut self,
        now: Instant,
        from: SocketAddrV4,
        kind: Kind,
        msg: asn::RasMessage,
    ) -> Result<(), RasClientError> {
        use asn::RasMessage as R;
        match msg {
            R::gatekeeperConfirm(gcf) => {
                let address = socket_addr(&gcf.ras_address).unwrap_or(from);
                let id = gcf.gatekeeper_identifier.as_ref().map(|g| bmp_string(&g.0));
                info!(%address, gatekeeper_id = ?id, "gatekeeper found");
                self.gatekeeper = Some(address);
                if id.is_some() {
                    self.gatekeeper_id = id.clone();
                }
                self.discovered = true;
                self.events.push_back(RasEvent::GatekeeperFound {
                    address,
                    gatekeeper_id: id,
                });
                self.send_full_rrq(now)?;
            }
            R::gatekeeperReject(grj) => {
                let reason = Failure::Rejected(choice_name(&grj.reject_reason));
                warn!(?reason, "gatekeeper discovery rejected");
                self.events.push_back(RasEvent::DiscoveryFailed { reason });
                self.wait(now);
            }
            R::registrationConfirm(rcf) => {
                let endpoint_id = bmp_string(&rcf.endpoint_identifier.0);
                if let Some(g) = &rcf.gatekeeper_identifier {
                    self.gatekeeper_id = Some(bmp_string(&g.0));
                }
                let ttl = rcf
                    .time_to_live
                    .as_ref()
                    .map(|t| Duration::from_secs(u64::from(t.0)));
                self.time_to_live = ttl;
                self.keep_alive_at = ttl.map(|t| now + keep_alive_after(t, self.config.timers.rrq));
                let was_keep_alive = matches!(kind, Kind::Rrq { keep_alive: true });
                let same_id = self.endpoint_id.as_deref() == Some(endpoint_id.as_str());
                self.endpoint_id = Some(endpoint_id.clone());
                self.phase = Phase::Registered;
                if was_keep_alive && same_id {
                    debug!(?ttl, "RAS keep-alive confirmed");
                    self.events
                        .push_back(RasEvent::KeepAlive { time_to_live: ttl });
                } else {
                    info!(%endpoint_id, ?ttl, "registered with the gatekeeper");
                    self.events.push_back(RasEvent::Registered {
                        endpoint_id,
                        gatekeeper_id: self.gatekeeper_id.clone(),
                        time_to_live: ttl,
                    });
                }
            }
            R::registrationReject(rrj) => {
                let keep_alive = matches!(kind, Kind::Rrq { keep_alive: true });
                let reason = Failure::Rejected(choice_name(&rrj.reject_reason));
                warn!(?reason, keep_alive, "registration rejected");
                self.keep_alive_at = None;
                let was_registered = self.phase == Phase::Registered || keep_alive;
                self.endpoint_id = None;
                match rrj.reject_reason {
                    // H.225.0 §7.9.3: the gatekeeper wants a new discovery first.
                    asn::RegistrationRejectReason::discoveryRequired(()) => {
                        self.lost_or_failed(was_registered, reason);
                        self.discovered = false;
                        self.send_grq(now)?;
                    }
                    // A lightweight RRQ the gatekeeper cannot match to a registration
                    // (it restarted or expired us): register in full again.
                    asn::RegistrationRejectReason::fullRegistrationRequired(()) => {
                        self.lost_or_failed(was_registered, reason);
                        self.send_full_rrq(now)?;
                    }
                    _ => {
                        self.lost_or_failed(was_registered, reason);
                        self.wait(now);
                    }
                }
            }
            R::unregistrationConfirm(_) | R::unregistrationReject(_) => {
                let confirmed = matches!(msg, R::unregistrationConfirm(_));
                info!(confirmed, "unregistered");
                self.phase = Phase::Idle;
                self.endpoint_id = None;
                self.keep_alive_at = None;
                self.events.push_back(RasEvent::Unregistered { confirmed });
            }
            R::admissionConfirm(acf) => {
                let Kind::Arq(call_id) = kind else {
                    return Ok(());
                };
                let routed = matches!(acf.call_model, asn::CallModel::gatekeeperRouted(()));
                if let Some(c) = self
                    .calls
                    .iter_mut()
                    .find(|c| c.admission.call_id == call_id)
                {
                    c.admitted = true;
                    c.routed_by_gatekeeper = routed;
                    c.bandwidth = acf.band_width.0;
                }
                self.events.push_back(RasEvent::AdmissionConfirmed {
                    call_id,
                    dest_call_signal_address: socket_addr(&acf.dest_call_signal_address),
                    bandwidth: acf.band_width.0,
                    routed_by_gatekeeper: routed,
                });
            }
            R::admissionReject(arj) => {
                let Kind::Arq(call_id) = kind else {
                    return Ok(());
                };
                self.remove_call(call_id);
                self.events.push_back(RasEvent::AdmissionFailed {
                    call_id,
                    reason: Failure::Rejected(choice_name(&arj.reject_reason)),
                });
            }
            R::disengageConfirm(_) | R::disengageReject(_) => {
                let Kind::Drq(call_id) = kind else {
                    return Ok(());
                };
                self.remove_call(call_id);
                self.events.push_back(RasEvent::Disengaged {
                    call_id,
                    confirmed: matches!(msg, R::disengageConfirm(_)),
                });
            }
            _ => {}
        }
        Ok(())
    }

    fn lost_or_failed(&mut self, was_registered: bool, reason: Failure) {
        self.events.push_back(if was_registered {
            RasEvent::RegistrationLost { reason }
        } else {
            RasEvent::RegistrationFailed { reason }
        });
    }

    fn request_failed(&mut self, now: Instant, kind: Kind) {
        warn!(?kind, "RAS request unanswered after all retransmissions");
        let result = match kind {
            Kind::Grq => {
                self.events.push_back(RasEvent::DiscoveryFailed {
                    reason: Failure::NoResponse,
                });
                self.wait(now);
                Ok(())
            }
            Kind::Rrq { keep_alive: false } => {
                self.events.push_back(RasEvent::RegistrationFailed {
                    reason: Failure::NoResponse,
                });
                // Rediscover next time if we found this gatekeeper by discovery.
                self.discovered = false;
                self.wait(now);
                Ok(())
            }
            Kind::Rrq { keep_alive: true } => {
                // The gatekeeper is gone or lost us: start over at once.
                self.endpoint_id = None;
                self.events.push_back(RasEvent::RegistrationLost {
                    reason: Failure::NoResponse,
                });
                self.discovered = false;
                self.begin(now)
            }
            Kind::Urq => {
                self.phase = Phase::Idle;
                self.endpoint_id = None;
                self.events
                    .push_back(RasEvent::Unregistered { confirmed: false });
                Ok(())
            }
            Kind::Arq(call_id) => {
                self.remove_call(call_id);
                self.events.push_back(RasEvent::AdmissionFailed {
                    call_id,
                    reason: Failure::NoResponse,
                });
                Ok(())
            }
            Kind::Drq(call_id) => {
                self.remove_call(call_id);
                self.events.push_back(RasEvent::Disengaged {
                    call_id,
                    confirmed: false,
                });
                Ok(())
            }
        };
        if let Err(e) = result {
            warn!(error = %e, "RAS recovery failed");
        }
    }

    // ---- requests from the gatekeeper ---------------------------------------------

    fn handle_request(
        &mut self,
        now: Instant,
        from: SocketAddrV4,
        seq: u16,
        name: &'static str,
        msg: &asn::RasMessage,
        bytes: &[u8],
    ) {
        if let Some((s, n, answer)) = &self.last_answer {
            if *s == seq && *n == name {
                debug!(seq, name, "retransmitted gatekeeper request: same answer");
                self.transmits.push_back(Transmit {
                    destination: answer.destination,
                    payload: answer.payload.clone(),
                });
                return;
            }
        }
        let mut reply_to = from;
        let mut reregister = false;
        let answer = match msg {
            asn::RasMessage::unregistrationRequest(urq) => {
                let ours = match (&urq.endpoint_identifier, &self.endpoint_id) {
                    (Some(theirs), Some(ours)) => bmp_string(&theirs.0) == *ours,
                    (None, Some(_)) => true,
                    (_, None) => false,
                };
                if ours {
                    let reason = urq.reason.as_ref().map(choice_name);
                    info!(?reason, "gatekeeper unregistered us");
                    self.endpoint_id = None;
                    self.keep_alive_at = None;
                    self.pending.retain(|p| !matches!(p.kind, Kind::Rrq { .. }));
                    self.events.push_back(RasEvent::RegistrationLost {
                        reason: Failure::UnregisteredByGatekeeper(reason),
                    });
                    // H.323 §7.2.2: answer UCF; the endpoint may then register again.
                    reregister = true;
                    Ok(confirm::unregistration_confirm(seq))
                } else {
                    Ok(confirm::unregistration_reject(
                        seq,
                        asn::UnregRejectReason::notCurrentlyRegistered(()),
                    ))
                }
            }
            asn::RasMessage::disengageRequest(drq) => {
                let call_id = drq
                    .call_identifier
                    .as_ref()
                    .map(|c| Guid::from_asn(&c.guid))
                    .or_else(|| {
                        let conf = Guid::from_asn(&drq.conference_id.0);
                        let cr = drq.call_reference_value.0;
                        self.calls
                            .iter()
                            .find(|c| {
                                c.admission.conference_id == conf
                                    && c.admission.call_ref & 0x7FFF == cr
                            })
                            .map(|c| c.admission.call_id)
                    });
                if let Some(call_id) = call_id.filter(|id| self.call(*id).is_some()) {
                    self.pending
                        .retain(|p| p.kind != Kind::Arq(call_id) && p.kind != Kind::Drq(call_id));
                    self.remove_call(call_id);
                    self.events
                        .push_back(RasEvent::DisengageRequested { call_id });
                }
                // An unknown call is already gone: confirm (H.225.0 §7.12.2).
                Ok(confirm::disengage_confirm(seq))
            }
            asn::RasMessage::infoRequest(irq) => {
                if let Some(a) = irq.reply_address.as_ref().and_then(socket_addr) {
                    reply_to = a;
                }
                let want_id = irq
                    .call_identifier
                    .as_ref()
                    .map(|c| Guid::from_asn(&c.guid));
                let cr = irq.call_reference_value.0;
                let calls: Vec<CallInfo> = self
                    .calls
                    .iter()
                    .filter(|c| c.admitted)
                    .filter(|c| match want_id {
                        Some(id) if cr != 0 => c.admission.call_id == id,
                        _ => cr == 0 || c.admission.call_ref & 0x7FFF == cr,
                    })
                    .map(|c| CallInfo {
                        call_ref: c.admission.call_ref,
                        call_id: c.admission.call_id,
                        conference_id: c.admission.conference_id,
                        originator: !c.admission.answer_call,
                        bandwidth: c.bandwidth,
                        routed_by_gatekeeper: c.routed_by_gatekeeper,
                    })
                    .collect();
                match &self.endpoint_id {
                    Some(ep) => {
                        confirm::info_request_response(seq, &self.config.registrant, ep, &calls)
                    }
                    None => Ok(confirm::unknown_message_response(seq, bytes)),
                }
            }
            asn::RasMessage::bandwidthRequest(brq) => {
                let call_id = brq
                    .call_identifier
                    .as_ref()
                    .map(|c| Guid::from_asn(&c.guid));
                let bw = brq.band_width.0;
                match call_id
                    .and_then(|id| self.calls.iter_mut().find(|c| c.admission.call_id == id))
                {
                    Some(c) => {
                        // H.225.0: an endpoint complies with the gatekeeper's BRQ.
                        c.bandwidth = bw;
                        let call_id = c.admission.call_id;
                        self.events.push_back(RasEvent::BandwidthChanged {
                            call_id,
                            bandwidth: bw,
                        });
                        Ok(confirm::bandwidth_confirm(seq, bw))
                    }
                    None => Ok(confirm::bandwidth_reject(
                        seq,
                        asn::BandRejectReason::invalidConferenceID(()),
                        0,
                    )),
                }
            }
            _ => Ok(confirm::unknown_message_response(seq, bytes)),
        };
        let transmit = match answer.and_then(|m| encode(&m)) {
            Ok(payload) => Transmit {
                destination: reply_to,
                payload,
            },
            Err(e) => {
                warn!(error = %e, name, "RAS answer not encoded");
                return;
            }
        };
        self.last_answer = Some((seq, name, transmit.clone()));
        self.transmits.push_back(transmit);
        if reregister {
            if let Err(e) = self.send_full_rrq(now) {
                warn!(error = %e, "RAS re-registration not started");
            }
        }
    }

    // ---- sending -------------------------------------------------------------------

    fn take_seq(&mut self) -> u16 {
        // RequestSeqNum ::= INTEGER (1..65535)
        let s = self.next_seq;
        self.next_seq = if s == u16::MAX { 1 } else { s + 1 };
        s
    }

    fn retry_for(&self, kind: Kind) -> Retry {
        let t = &self.config.timers;
        match kind {
            Kind::Grq => t.grq,
            Kind::Rrq { .. } => t.rrq,
            Kind::Urq => t.urq,
            Kind::Arq(_) => t.arq,
            Kind::Drq(_) => t.drq,
        }
    }

    fn send_request(
        &mut self,
        now: Instant,
        seq: u16,
        kind: Kind,
        msg: &asn::RasMessage,
    ) -> Result<(), RasClientError> {
        let destination = match kind {
            Kind::Grq => self.discovery_address(),
            _ => self.gatekeeper.ok_or(RasClientError::NotRegistered)?,
        };
        let transmit = Transmit {
            destination,
            payload: encode(msg)?,
        };
        let retry = self.retry_for(kind);
        self.transmits.push_back(transmit.clone());
        self.pending.push(Pending {
            seq,
            kind,
            transmit,
            deadline: now + retry.timeout,
            retries_left: retry.retries,
            retry,
            rips: 0,
        });
        Ok(())
    }

    fn discovery_address(&self) -> SocketAddrV4 {
        match &self.config.gatekeeper {
            GatekeeperLocation::Multicast => DISCOVERY_MULTICAST,
            GatekeeperLocation::Discover(a) | GatekeeperLocation::Configured(a) => *a,
        }
    }

    /// Start (or start over): discovery, or a full RRQ to a configured gatekeeper.
    fn begin(&mut self, now: Instant) -> Result<(), RasClientError> {
        self.pending
            .retain(|p| !matches!(p.kind, Kind::Grq | Kind::Rrq { .. }));
        self.keep_alive_at = None;
        match &self.config.gatekeeper {
            GatekeeperLocation::Configured(a) if !self.discovered => {
                self.gatekeeper = Some(*a);
                self.send_full_rrq(now)
            }
            _ if self.discovered && self.gatekeeper.is_some() => self.send_full_rrq(now),
            _ => self.send_grq(now),
        }
    }

    fn send_grq(&mut self, now: Instant) -> Result<(), RasClientError> {
        self.pending
            .retain(|p| !matches!(p.kind, Kind::Grq | Kind::Rrq { .. }));
        let seq = self.take_seq();
        let msg = gatekeeper_request(
            seq,
            &self.config.registrant,
            self.config.gatekeeper_id.as_deref(),
        )?;
        self.phase = Phase::Discovering;
        self.send_request(now, seq, Kind::Grq, &msg)
    }

    fn send_full_rrq(&mut self, now: Instant) -> Result<(), RasClientError> {
        if self.gatekeeper.is_none() {
            if let GatekeeperLocation::Configured(a) = self.config.gatekeeper {
                self.gatekeeper = Some(a);
            } else {
                return self.send_grq(now);
            }
        }
        self.pending.retain(|p| !matches!(p.kind, Kind::Rrq { .. }));
        let seq = self.take_seq();
        let msg = registration_request_with(
            seq,
            &self.config.registrant,
            &RrqOptions {
                time_to_live: self.config.time_to_live,
                keep_alive: false,
                endpoint_id: None,
                gatekeeper_id: self.gatekeeper_id.as_deref(),
                discovery_complete: self.discovered,
            },
        )?;
        self.phase = Phase::Registering;
        self.send_request(now, seq, Kind::Rrq { keep_alive: false }, &msg)
    }

    fn send_keep_alive(&mut self, now: Instant) -> Result<(), RasClientError> {
        if self.phase != Phase::Registered
            || self
                .pending
                .iter()
                .any(|p| matches!(p.kind, Kind::Rrq { .. }))
        {
            return Ok(());
        }
        let Some(ep) = self.endpoint_id.clone() else {
            return self.send_full_rrq(now);
        };
        let seq = self.take_seq();
        // H.225.0 §7.9.1: keepAlive TRUE with endpointIdentifier and gatekeeperIdentifier.
        let msg = registration_request_with(
            seq,
            &self.config.registrant,
            &RrqOptions {
                time_to_live: self.time_to_live.map(|t| t.as_secs() as u32),
                keep_alive: true,
                endpoint_id: Some(&ep),
                gatekeeper_id: self.gatekeeper_id.as_deref(),
                discovery_complete: self.discovered,
            },
        )?;
        self.send_request(now, seq, Kind::Rrq { keep_alive: true }, &msg)
    }

    fn wait(&mut self, now: Instant) {
        self.keep_alive_at = None;
        self.phase = Phase::Waiting(now + self.config.retry_after);
    }

    fn call(&self, call_id: Guid) -> Option<&Call> {
        self.calls.iter().find(|c| c.admission.call_id == call_id)
    }

    fn remove_call(&mut self, call_id: Guid) {
        self.calls.retain(|c| c.admission.call_id != call_id);
    }

    fn ras_call(&self, a: &Admission) -> RasCall {
        RasCall {
            endpoint_id: self.endpoint_id.clone().unwrap_or_default(),
            call_ref: a.call_ref,
            call_id: a.call_id,
            conference_id: a.conference_id,
            destination: a.destination.clone(),
            source: if a.source.is_empty() {
                self.config.registrant.aliases.clone()
            } else {
                a.source.clone()
            },
            dest_call_signal_address: a.dest_call_signal_address,
            src_call_signal_address: Some(self.config.registrant.call_signal_address),
            bandwidth: a.bandwidth,
            answer_call: a.answer_call,
        }
    }
}

/// Requests an endpoint may receive from a gatekeeper (or anything it must not ignore).
fn is_request(m: &asn::RasMessage) -> bool {
    use asn::RasMessage as R;
    matches!(
        m,
        R::gatekeeperRequest(_)
            | R::registrationRequest(_)
            | R::unregistrationRequest(_)
            | R::admissionRequest(_)
            | R::bandwidthRequest(_)
            | R::disengageRequest(_)
            | R::locationRequest(_)
            | R::infoRequest(_)
            | R::nonStandardMessage(_)
            | R::serviceControlIndication(_)
    )
}

/// The ASN.1 name of a CHOICE value (`discoveryRequired`, ...), from its `Debug` form.
pub(crate) fn choice_name<T: std::fmt::Debug>(v: &T) -> String {
    let s = format!("{v:?}");
    match s.find('(') {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
