//! A sans-IO H.323 call endpoint (H.323 §8 call signalling procedures), caller or callee:
//! Setup / Call Proceeding / Alerting / Progress / Connect / Release Complete over one
//! TPKT call-signalling connection, fast start offered, accepted or refused (then H.245
//! instead), H.245 tunnelled in H.225.0 messages or on its own TCP connection (we listen
//! and announce `h245Address`, or connect to the peer's), release reasons ↔ Q.850 causes.
//!
//! Shape (see the crate README): commands ([`Call::place`], [`Call::incoming`],
//! [`Call::proceeding`], [`Call::alerting`], [`Call::progress`], [`Call::answer`],
//! [`Call::release`], [`Call::send_digits`]) and what arrived
//! ([`Call::handle_signalling_bytes`], [`Call::handle_h245_bytes`],
//! [`Call::h245_connected`], [`Call::handle_timeout`]) go in; [`Call::poll_transmit`]
//! (TPKT-framed bytes for one of the two TCP connections), [`Call::poll_event`] and
//! [`Call::poll_timeout`] come out. No sockets, no clock.
//!
//! The example of the crate README (kept identical to it by `tests/readme.rs`): a caller
//! and a callee, their bytes handed over in memory where an I/O shell would use TCP.
//!
//! ```rust
//! use std::time::Instant;
//! use h323::call::{Call, CallConfig, Channel, Event, PlaceCall};
//! use h323::fast_start::MediaAddresses;
//! use h323::h225::{Alias, Guid};
//! use h323::q931::ie::CauseValue;
//!
//! let media = |port| MediaAddresses {
//!     rtp: format!("192.0.2.1:{port}").parse().unwrap(),
//!     rtcp: format!("192.0.2.1:{}", port + 1).parse().unwrap(),
//! };
//! let now = Instant::now();
//! // Caller: Setup with fast start (G.711 A-law and µ-law, 20 ms) and H.245 tunnelling.
//! let mut caller = Call::place(now, CallConfig::new(media(5000)), PlaceCall {
//!     call_ref: 1,
//!     call_id: Guid([1; 16]),
//!     conference_id: Guid([2; 16]),
//!     source_aliases: vec![Alias::Dialled("1001".into())],
//!     destination_aliases: vec![Alias::Dialled("4930123456".into())],
//!     calling_number: Some("1001".into()),
//!     called_number: Some("4930123456".into()),
//!     display: None,
//!     source_signal_address: None,
//!     dest_signal_address: None,
//! });
//! // Callee: a new connection on port 1720.
//! let mut callee = Call::incoming(CallConfig::new(media(6000)));
//!
//! // The I/O shell: write what poll_transmit gives to the right connection.
//! fn shuttle(now: Instant, from: &mut Call, to: &mut Call) {
//!     while let Some(t) = from.poll_transmit() {
//!         match t.channel {
//!             Channel::Signalling => to.handle_signalling_bytes(now, &t.bytes),
//!             Channel::H245 => to.handle_h245_bytes(now, &t.bytes),
//!         }
//!     }
//! }
//!
//! shuttle(now, &mut caller, &mut callee);
//! let Some(Event::Setup(setup)) = callee.poll_event() else { panic!() };
//! assert_eq!(setup.destination_aliases, vec![Alias::Dialled("4930123456".into())]);
//! assert_eq!(setup.fast_start_offer.len(), 2);
//!
//! callee.alerting(now); // carries the fast start answer
//! callee.answer(now);
//! shuttle(now, &mut callee, &mut caller);
//! let events: Vec<Event> = std::iter::from_fn(|| caller.poll_event()).collect();
//! assert!(events.contains(&Event::Alerting));
//! let Some(Event::Connected { media: Some(m) }) = events.last() else { panic!() };
//! assert_eq!(m.remote_rtp, media(6000).rtp); // send our RTP there
//!
//! caller.release(now, CauseValue::NormalCallClearing);
//! shuttle(now, &mut caller, &mut callee);
//! let released = std::iter::from_fn(|| callee.poll_event()).last();
//! assert!(matches!(
//!     released,
//!     Some(Event::Released { cause: CauseValue::NormalCallClearing, by_peer: true, .. })
//! ));
//! ```

use std::collections::VecDeque;
use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use q931::ie::{CallStateValue, CauseValue, Location, ProgressDescription, ProgressIndicator};
use q931::{CallRef, CallRefFlag, MessageType};

use crate::fast_start::{self, MediaAddresses, G711};
use crate::h225::{Alias, CallSignal, Endpoint, Guid, ReleaseReason, ResponseParams, SetupParams};
use crate::h245::{
    H245Config, H245Event, H245Failure, H245Session, H245Timers, LocalCapabilities,
    TERMINAL_TYPE_GATEWAY,
};
use crate::{h245_tunnel, tpkt};

/// How digits handed to [`Call::send_digits`] travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfMode {
    /// H.245 UserInputIndication, `alphanumeric` (or `signal` when the peer only
    /// announced `dtmf`).
    UserInput,
    /// H.245 UserInputIndication `signal`, one per digit.
    Signal,
    /// RFC 2833 telephone-events in the RTP stream when the peer announced
    /// receiveRTPAudioTelephonyEventCapability; UserInputIndication otherwise.
    Rfc2833WhenNegotiated,
}

/// Call-level timers (H.225.0 §7.x uses Q.931's T303/T301 in spirit; values are ours).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallTimers {
    /// Setup sent, no response at all (cleared with cause 18).
    pub t303: Duration,
    /// Response received, no Connect (cleared with 19 after Alerting, else 18).
    pub t301: Duration,
    /// Our EndSessionCommand sent on a separate H.245 connection, waiting for the peer's
    /// (H.323 §8.5 step 3) before Release Complete.
    pub end_session: Duration,
}

impl Default for CallTimers {
    fn default() -> Self {
        Self {
            t303: Duration::from_secs(10),
            t301: Duration::from_secs(180),
            end_session: Duration::from_secs(3),
        }
    }
}

/// How this endpoint behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallConfig {
    pub endpoint: Endpoint,
    /// Our RTP/RTCP addresses for audio.
    pub media: MediaAddresses,
    /// G.711 laws in preference order (fast start and H.245 alike).
    pub codecs: Vec<G711>,
    /// Milliseconds per packet.
    pub frames: u16,
    /// Payload type on which we receive RFC 2833 events (announced in our capabilities).
    pub telephone_event: Option<u8>,
    /// Caller: offer fast start. Callee: accept it when offered.
    pub fast_start: bool,
    /// Offer (caller) / accept (callee) H.245 tunnelling.
    pub h245_tunneling: bool,
    /// Where we listen for a separate H.245 connection, announced as `h245Address`;
    /// `None`: we only connect to the peer's.
    pub h245_listen: Option<SocketAddrV4>,
    pub terminal_type: u8,
    pub h245_timers: H245Timers,
    pub timers: CallTimers,
    pub dtmf: DtmfMode,
    /// Duration announced with UserInputIndication `signal`.
    pub digit_duration_ms: u16,
    /// Seed of the H.245 master/slave random numbers (`None`: drawn per call).
    pub seed: Option<u64>,
    /// Callee: hold the fast start answer back until [`Call::set_media`] names our
    /// addresses (a gateway passing the media through learns them from its other side)
    /// or until Connect, which carries it in any case (H.323 §8.1.7.1: the answer may come
    /// in any message up to and including Connect).
    pub defer_fast_start_answer: bool,
}

impl CallConfig {
    pub fn new(media: MediaAddresses) -> Self {
        Self {
            endpoint: Endpoint::default(),
            media,
            codecs: vec![G711::ALaw, G711::MuLaw],
            frames: 20,
            telephone_event: Some(101),
            fast_start: true,
            h245_tunneling: true,
            h245_listen: None,
            terminal_type: TERMINAL_TYPE_GATEWAY,
            h245_timers: H245Timers::default(),
            timers: CallTimers::default(),
            dtmf: DtmfMode::Rfc2833WhenNegotiated,
            digit_duration_ms: 100,
            seed: None,
            defer_fast_start_answer: false,
        }
    }

    fn h245_config(&self) -> H245Config {
        H245Config {
            terminal_type: self.terminal_type,
            capabilities: LocalCapabilities {
                codecs: self.codecs.clone(),
                frames: self.frames,
                telephone_event: self.telephone_event,
            },
            media: self.media,
            channel_number: 1,
            timers: self.h245_timers,
            seed: self.seed,
        }
    }
}

/// What a call to place carries (the Setup).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceCall {
    /// Q.931 call reference value (15 bits) chosen by the caller.
    pub call_ref: u16,
    pub call_id: Guid,
    pub conference_id: Guid,
    pub source_aliases: Vec<Alias>,
    pub destination_aliases: Vec<Alias>,
    pub calling_number: Option<String>,
    pub called_number: Option<String>,
    pub display: Option<String>,
    pub source_signal_address: Option<SocketAddrV4>,
    pub dest_signal_address: Option<SocketAddrV4>,
}

/// Which TCP connection bytes belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// The H.225.0 call-signalling connection (TCP 1720).
    Signalling,
    /// The separate H.245 connection.
    H245,
}

/// Bytes to write, already TPKT-framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub channel: Channel,
    pub bytes: Vec<u8>,
}

/// Where and how we send audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Media {
    pub codec: G711,
    /// Milliseconds per packet.
    pub frames: u16,
    pub remote_rtp: SocketAddrV4,
    pub remote_rtcp: Option<SocketAddrV4>,
    /// RFC 2833 payload type the peer receives telephone-events on (H.245 only).
    pub telephone_event: Option<u8>,
}

/// A Setup that arrived (callee).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingSetup {
    pub call_id: Guid,
    pub conference_id: Guid,
    pub source_aliases: Vec<Alias>,
    pub destination_aliases: Vec<Alias>,
    pub calling_number: Option<String>,
    /// The Calling party number's presentation is restricted (Q.931 §4.5.10).
    pub calling_restricted: bool,
    pub called_number: Option<String>,
    pub display: Option<String>,
    /// The G.711 laws the caller offered by fast start (empty: no fast start).
    pub fast_start_offer: Vec<G711>,
    /// H.225.0 version of the caller.
    pub protocol_version: Option<u32>,
}

/// What the call reports to its user (the gateway) and to its I/O shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Setup(IncomingSetup),
    Proceeding,
    Alerting,
    /// Progress (in-band information available).
    Progress,
    /// The call is answered; `media` is where we send audio when already known (fast
    /// start), else it follows as [`Event::Media`].
    Connected {
        media: Option<Media>,
    },
    /// Where we send audio (fast start answer, or our H.245 channel acknowledged).
    Media(Media),
    /// The peer sends us `codec` (its H.245 channel to us is open).
    IncomingMedia {
        codec: G711,
        frames: u16,
    },
    Digits(String),
    /// I/O shell: open a TCP connection to the peer's H.245 address, then call
    /// [`Call::h245_connected`].
    H245Connect(SocketAddrV4),
    /// The call is over; write what is queued, then close the connections.
    Released {
        cause: CauseValue,
        reason: Option<ReleaseReason>,
        by_peer: bool,
    },
}

/// How [`Call::send_digits`] sent them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigitRoute {
    /// As H.245 UserInputIndication.
    UserInput,
    /// The media layer must send RFC 2833 events with this payload type.
    Rfc2833 { payload_type: u8 },
    /// No H.245 channel and no RFC 2833: in-band only.
    Unavailable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Caller,
    Callee,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Callee waiting for Setup.
    Idle,
    /// Caller: Setup sent.
    CallInitiated,
    /// Caller: Call Proceeding received.
    OutgoingProceeding,
    /// Caller: Alerting received.
    Delivered,
    /// Callee: Setup received, nothing sent yet.
    Present,
    /// Callee: Call Proceeding sent.
    IncomingProceeding,
    /// Callee: Alerting sent.
    Received,
    Active,
    /// H.323 §8.5 on a separate H.245 connection: closing channels, then EndSession.
    Releasing,
    Released,
}

/// One H.323 call.
#[derive(Debug)]
pub struct Call {
    cfg: CallConfig,
    role: Role,
    state: State,
    call_ref: u16,
    call_id: Guid,
    conference_id: Guid,
    sig_rx: tpkt::TpktDecoder,
    h245_rx: tpkt::TpktDecoder,
    /// H.245 travels in H.225.0 messages.
    tunneling: bool,
    /// The separate H.245 connection is up.
    h245_connected: bool,
    h245_connect_asked: bool,
    h245: H245Session,
    /// Tunnelled H.245 messages waiting for an H.225.0 message to ride in (at most
    /// [`MAX_PENDING_H245_OCTETS`]).
    h245_pending: Vec<Vec<u8>>,
    /// Some were dropped for want of room (warned once per call).
    h245_pending_overflowed: bool,
    /// H.245 procedures are needed (no fast start).
    h245_needed: bool,
    /// Callee: the fast start answer to send; caller: the proposals were answered.
    fast_start_answer: Option<Vec<Vec<u8>>>,
    fast_start_sent: bool,
    fast_connect_refused: bool,
    /// Callee: peer's h245Address from Setup.
    peer_h245: Option<SocketAddrV4>,
    /// Callee: the fast start proposals of the Setup (answered again by `set_media`).
    offered: Vec<h323_asn1::rasn::types::OctetString>,
    media: Option<Media>,
    /// Caller: the peer's last Alerting or Progress said in-band information is
    /// available (Q.931 §4.5.23 progress description 1 or 8).
    peer_inband: bool,
    deadline: Option<Instant>,
    release_cause: Option<CauseValue>,
    out: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

/// The most tunnelled H.245 we hold for the next H.225.0 message, in octets, each message
/// counted with [`PER_LENGTH_OCTETS`] for its length in `h245Control`. All that waits goes
/// in one message, whose User-user IE has a 2-octet length (H.225.0 §7.2.2: at most 65535
/// octets) and also carries the fast start answer, aliases and so on; what normally waits
/// (TCS, MSD and their answers) is well under 1 kB. More than this is a peer piling up
/// requests before our first response, and answering all of them would grow the queue
/// without limit and leave that response too long to encode.
const MAX_PENDING_H245_OCTETS: usize = 16 * 1024;

/// The aligned-PER length determinant of an `h245Control` element of up to 16383 octets
/// (X.691 length determinant: one octet below 128, two up to 16383).
const PER_LENGTH_OCTETS: usize = 2;

fn pending_octets(pending: &[Vec<u8>]) -> usize {
    pending.iter().map(|m| m.len() + PER_LENGTH_OCTETS).sum()
}

fn frame(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() + tpkt::HEADER_LEN);
    tpkt::encode(bytes, &mut out).ok()?;
    Some(out)
}

impl Call {
    fn new(cfg: CallConfig, role: Role) -> Self {
        let h245 = H245Session::new(cfg.h245_config());
        Self {
            role,
            state: if role == Role::Caller {
                State::CallInitiated
            } else {
                State::Idle
            },
            call_ref: 0,
            call_id: Guid([0; 16]),
            conference_id: Guid([0; 16]),
            sig_rx: tpkt::TpktDecoder::new(),
            h245_rx: tpkt::TpktDecoder::new(),
            tunneling: cfg.h245_tunneling,
            h245_connected: false,
            h245_connect_asked: false,
            h245,
            h245_pending: Vec::new(),
            h245_pending_overflowed: false,
            h245_needed: !cfg.fast_start,
            fast_start_answer: None,
            fast_start_sent: false,
            fast_connect_refused: false,
            peer_h245: None,
            offered: Vec::new(),
            media: None,
            peer_inband: false,
            deadline: None,
            release_cause: None,
            out: VecDeque::new(),
            events: VecDeque::new(),
            cfg,
        }
    }

    /// Places a call: queues the Setup (with fast start proposals when configured, and
    /// with TerminalCapabilitySet + MasterSlaveDetermination tunnelled when H.245 is
    /// needed from the start).
    pub fn place(now: Instant, cfg: CallConfig, p: PlaceCall) -> Self {
        let mut call = Self::new(cfg, Role::Caller);
        call.call_ref = p.call_ref & 0x7FFF;
        call.call_id = p.call_id;
        call.conference_id = p.conference_id;
        let fast_start = if call.cfg.fast_start {
            fast_start::encode_all(&fast_start::proposals(
                &call.cfg.codecs,
                call.cfg.frames,
                call.cfg.media,
            ))
            .unwrap_or_default()
        } else {
            Vec::new()
        };
        if call.h245_needed && call.tunneling {
            call.h245.start(now);
            call.collect_h245();
        }
        let params = SetupParams {
            call_ref: call.call_ref,
            call_id: p.call_id,
            conference_id: p.conference_id,
            endpoint: call.cfg.endpoint.clone(),
            source_aliases: p.source_aliases,
            destination_aliases: p.destination_aliases,
            source_signal_address: p.source_signal_address,
            dest_signal_address: p.dest_signal_address,
            fast_start,
            h245_address: call.cfg.h245_listen,
            h245_tunneling: call.cfg.h245_tunneling,
            h245_control: std::mem::take(&mut call.h245_pending),
            called_number: p.called_number,
            calling_number: p.calling_number,
            display: p.display,
            bearer_a_law: call.cfg.codecs.first() != Some(&G711::MuLaw),
        };
        match CallSignal::setup(&params) {
            Ok(sig) => {
                call.send_signal(&sig);
                call.deadline = Some(now + call.cfg.timers.t303);
            }
            Err(e) => {
                tracing::warn!(error = %e, "Setup does not encode");
                call.finish(CauseValue::InvalidNumberFormat, None, false);
            }
        }
        call
    }

    /// A call waiting for the peer's Setup on a new signalling connection.
    pub fn incoming(cfg: CallConfig) -> Self {
        Self::new(cfg, Role::Callee)
    }

    pub fn call_id(&self) -> Guid {
        self.call_id
    }

    /// The Q.931 call reference value (15 bits; the caller's, once a callee saw the Setup):
    /// what ARQ/DRQ carry as `callReferenceValue` (H.225.0 §7.8.1).
    pub fn call_ref(&self) -> u16 {
        self.call_ref
    }

    /// The call is over.
    pub fn is_released(&self) -> bool {
        self.state == State::Released
    }

    /// H.245 travels tunnelled in H.225.0 messages.
    pub fn is_tunneling(&self) -> bool {
        self.tunneling
    }

    /// Where we send audio, once known.
    pub fn media(&self) -> Option<Media> {
        self.media
    }

    fn our_flag(&self) -> CallRefFlag {
        match self.role {
            Role::Caller => CallRefFlag::FromOriginator,
            Role::Callee => CallRefFlag::ToOriginator,
        }
    }

    fn cr(&self) -> CallRef {
        CallRef::two_octet(self.call_ref, self.our_flag())
    }

    fn send_signal(&mut self, sig: &CallSignal) {
        match sig.to_bytes().ok().and_then(|b| frame(&b)) {
            Some(bytes) => self.out.push_back(Transmit {
                channel: Channel::Signalling,
                bytes,
            }),
            None => tracing::warn!("H.225.0 message does not encode"),
        }
    }

    fn finish(&mut self, cause: CauseValue, reason: Option<ReleaseReason>, by_peer: bool) {
        if self.state == State::Released {
            return;
        }
        self.state = State::Released;
        self.deadline = None;
        self.events.push_back(Event::Released {
            cause,
            reason,
            by_peer,
        });
    }

    // ---- H.245 plumbing ------------------------------------------------------------

    /// Moves the session's output to where it goes, and its events up.
    fn collect_h245(&mut self) {
        let mut held = pending_octets(&self.h245_pending);
        let mut dropped = 0usize;
        while let Some(m) = self.h245.poll_message() {
            let Ok(bytes) = h245_tunnel::encode(&m) else {
                tracing::warn!("H.245 message does not encode");
                continue;
            };
            if self.h245_connected {
                if let Some(f) = frame(&bytes) {
                    self.out.push_back(Transmit {
                        channel: Channel::H245,
                        bytes: f,
                    });
                }
            } else if held + bytes.len() + PER_LENGTH_OCTETS <= MAX_PENDING_H245_OCTETS {
                held += bytes.len() + PER_LENGTH_OCTETS;
                self.h245_pending.push(bytes);
            } else {
                dropped += 1;
            }
        }
        if dropped > 0 {
            if !self.h245_pending_overflowed {
                tracing::warn!(
                    dropped,
                    held,
                    "tunnelled H.245 waiting for an H.225.0 message: no room, dropped"
                );
            } else {
                tracing::debug!(dropped, "tunnelled H.245: no room, dropped");
            }
            self.h245_pending_overflowed = true;
        }
    }

    /// Tunnelled H.245 held for the next H.225.0 message: (messages, octets as counted
    /// against [`MAX_PENDING_H245_OCTETS`]).
    #[cfg(test)]
    fn pending_h245(&self) -> (usize, usize) {
        (self.h245_pending.len(), pending_octets(&self.h245_pending))
    }

    fn pump_h245(&mut self, now: Instant) {
        self.collect_h245();
        while let Some(e) = self.h245.poll_event() {
            match e {
                H245Event::OutgoingChannelOpen {
                    codec,
                    frames,
                    remote_rtp,
                    remote_rtcp,
                    ..
                } => {
                    let media = Media {
                        codec,
                        frames,
                        remote_rtp,
                        remote_rtcp,
                        telephone_event: self
                            .h245
                            .remote_capabilities()
                            .and_then(|r| r.telephone_event),
                    };
                    self.media = Some(media);
                    self.events.push_back(Event::Media(media));
                }
                H245Event::IncomingChannelOpen { codec, frames, .. } => self
                    .events
                    .push_back(Event::IncomingMedia { codec, frames }),
                H245Event::UserInput(u) => self.events.push_back(Event::Digits(u.digits())),
                H245Event::EndSession => self.peer_end_session(now),
                H245Event::OutgoingChannelClosed { .. } if self.state == State::Releasing => {
                    self.h245.end_session();
                    self.collect_h245();
                    self.deadline = Some(now + self.cfg.timers.end_session);
                }
                H245Event::Failure(f) if self.state != State::Releasing => {
                    let cause = match f {
                        H245Failure::NoCommonCodec => CauseValue::IncompatibleDestination,
                        H245Failure::OutgoingChannel => CauseValue::ResourceUnavailable,
                        _ => CauseValue::RecoveryOnTimerExpiry,
                    };
                    tracing::debug!(?f, "H.245 failure: releasing");
                    self.release(now, cause);
                }
                _ => {}
            }
        }
        self.collect_h245();
    }

    /// Sends tunnelled H.245 messages that did not ride in an H.225.0 message, in a
    /// Facility with the `empty` body (H.225.0 §7.4.1).
    fn flush_tunnel(&mut self) {
        if !self.tunneling || self.h245_pending.is_empty() || self.h245_connected {
            return;
        }
        // Not before the first response: the Setup and the first response carry what
        // is pending then.
        let sendable = !matches!(
            self.state,
            State::Idle | State::Present | State::CallInitiated | State::Released
        );
        if !sendable {
            return;
        }
        let msgs = std::mem::take(&mut self.h245_pending);
        let sig = CallSignal::facility(self.cr(), self.call_id, None, None, &msgs);
        self.send_signal(&sig);
    }

    fn start_h245_if_possible(&mut self, now: Instant) {
        if !self.h245_needed || self.h245.is_started() || self.state == State::Released {
            return;
        }
        if self.tunneling || self.h245_connected {
            self.h245.start(now);
            self.pump_h245(now);
        }
    }

    /// The separate H.245 connection is up (we connected, or accepted the peer's).
    pub fn h245_connected(&mut self, now: Instant) {
        if self.h245_connected {
            return;
        }
        self.h245_connected = true;
        if self.tunneling {
            // A separate connection replaces tunnelling (H.323 §8.2.1).
            self.tunneling = false;
            if self.h245.is_started() {
                self.h245 = H245Session::new(self.cfg.h245_config());
            }
            self.h245_pending.clear();
        }
        self.h245_needed |= self.media.is_none();
        self.start_h245_if_possible(now);
        self.after(now);
    }

    /// The separate H.245 connection closed.
    pub fn h245_closed(&mut self, now: Instant) {
        self.h245_connected = false;
        if matches!(self.state, State::Releasing) {
            self.send_release_complete(
                self.release_cause.unwrap_or(CauseValue::NormalCallClearing),
            );
        }
        self.after(now);
    }

    /// The call-signalling connection closed without a Release Complete.
    pub fn signalling_closed(&mut self, _now: Instant) {
        self.finish(CauseValue::TemporaryFailure, None, true);
    }

    // ---- received bytes ------------------------------------------------------------

    /// Bytes from the call-signalling TCP connection.
    pub fn handle_signalling_bytes(&mut self, now: Instant, bytes: &[u8]) {
        self.sig_rx.handle_bytes(bytes);
        loop {
            match self.sig_rx.poll_packet() {
                Ok(Some(p)) => match CallSignal::decode(&p) {
                    Ok(sig) => self.handle_signal(now, sig),
                    Err(e) => tracing::debug!(error = %e, "H.225.0 message ignored"),
                },
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "call-signalling stream broken");
                    self.finish(CauseValue::ProtocolError, None, true);
                    break;
                }
            }
        }
        self.after(now);
    }

    /// Bytes from the separate H.245 TCP connection.
    pub fn handle_h245_bytes(&mut self, now: Instant, bytes: &[u8]) {
        self.h245_rx.handle_bytes(bytes);
        loop {
            match self.h245_rx.poll_packet() {
                Ok(Some(p)) => match h245_tunnel::decode(&p) {
                    Ok(m) => self.h245.handle_message(now, m),
                    Err(e) => tracing::debug!(error = %e, "H.245 message ignored"),
                },
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "H.245 stream broken");
                    break;
                }
            }
        }
        self.pump_h245(now);
        self.after(now);
    }

    fn handle_tunnelled(&mut self, now: Instant, sig: &CallSignal) {
        if sig.h245_control().is_empty() {
            return;
        }
        if !self.tunneling {
            tracing::debug!("tunnelled H.245 while tunnelling is off: ignored");
            return;
        }
        if self.state == State::Idle {
            // Tunnelled H.245 belongs to a call (H.225.0 §7.6, H.323 §8.2.1), and before
            // the Setup there is none: answers would only wait for a first response
            // that may never come.
            tracing::debug!("tunnelled H.245 before Setup: ignored");
            return;
        }
        for m in h245_tunnel::decode_all(sig.h245_control()) {
            match m {
                Ok(m) => {
                    // H.245 procedures start once they are needed (no fast start); a
                    // UserInputIndication on a fast-started call is taken as it is.
                    if self.h245_needed && !self.h245.is_started() && self.state != State::Released
                    {
                        self.h245.start(now);
                    }
                    self.h245.handle_message(now, m)
                }
                Err(e) => tracing::debug!(error = %e, "tunnelled H.245 message ignored"),
            }
        }
        self.pump_h245(now);
    }

    fn handle_signal(&mut self, now: Instant, sig: CallSignal) {
        if self.state == State::Released {
            return;
        }
        match sig.message_type() {
            MessageType::Setup if self.role == Role::Callee && self.state == State::Idle => {
                self.handle_setup(now, sig)
            }
            MessageType::CallProceeding
            | MessageType::Alerting
            | MessageType::Progress
            | MessageType::Connect
                if self.role == Role::Caller && self.state == State::Releasing =>
            {
                // A response that crossed our release (H.323 §8.5, Q.931 Release Request
                // state) changes nothing: a Connect taking us to Active would leave the
                // clearing, acted on in Releasing only, unfinished. Releasing means a
                // separate H.245 connection, so tunnelling is off and it has no H.245.
                tracing::debug!(message = ?sig.message_type(), "response while releasing: ignored");
            }
            MessageType::CallProceeding
            | MessageType::Alerting
            | MessageType::Progress
            | MessageType::Connect
                if self.role == Role::Caller =>
            {
                self.handle_response(now, sig)
            }
            MessageType::ReleaseComplete => {
                // An EndSessionCommand tunnelled in it needs no answer: the call is over.
                let cause = sig.release_cause();
                self.finish(cause, sig.release_reason(), true);
            }
            MessageType::StatusEnquiry => {
                let state = match self.state {
                    State::Idle => CallStateValue::Null,
                    State::CallInitiated => CallStateValue::CallInitiated,
                    State::OutgoingProceeding => CallStateValue::OutgoingCallProceeding,
                    State::Delivered => CallStateValue::CallDelivered,
                    State::Present => CallStateValue::CallPresent,
                    State::IncomingProceeding => CallStateValue::IncomingCallProceeding,
                    State::Received => CallStateValue::CallReceived,
                    State::Active => CallStateValue::Active,
                    State::Releasing | State::Released => CallStateValue::ReleaseRequest,
                };
                let s = CallSignal::status(
                    self.cr(),
                    self.call_id,
                    CauseValue::ResponseToStatusEnquiry,
                    state,
                );
                self.send_signal(&s);
            }
            MessageType::Facility => {
                self.handle_tunnelled(now, &sig);
                // startH245 (H.225.0 §7.4.1): the peer asks us to connect to its address;
                // not before its Setup (there is no call yet to connect for).
                if let Some(addr) = sig.h245_address().filter(|_| self.state != State::Idle) {
                    self.peer_h245_address(addr);
                }
            }
            _ => self.handle_tunnelled(now, &sig),
        }
    }

    fn handle_setup(&mut self, now: Instant, sig: CallSignal) {
        self.call_ref = sig.call_ref().value;
        self.conference_id = sig.conference_id().unwrap_or(Guid([0; 16]));
        self.call_id = sig.call_identifier().unwrap_or(self.conference_id);
        self.state = State::Present;
        self.tunneling = self.cfg.h245_tunneling && sig.h245_tunneling() == Some(true);
        self.peer_h245 = sig.h245_address();
        let offer: Vec<G711> = sig
            .fast_start()
            .iter()
            .filter_map(|e| match fast_start::classify(e) {
                fast_start::Proposal::Transmit { codec, .. } => Some(codec),
                _ => None,
            })
            .fold(Vec::new(), |mut v, c| {
                if !v.contains(&c) {
                    v.push(c);
                }
                v
            });
        if !sig.fast_start().is_empty() {
            self.offered = sig.fast_start().to_vec();
            let answer = if self.cfg.fast_start {
                fast_start::select(sig.fast_start(), &self.cfg.codecs, self.cfg.media)
            } else {
                None
            };
            match answer {
                Some(a) => {
                    self.fast_start_answer = Some(a.elements);
                    self.media = Some(Media {
                        codec: a.negotiated.codec,
                        frames: a.negotiated.frames,
                        remote_rtp: a.negotiated.remote_rtp,
                        remote_rtcp: a.negotiated.remote_rtcp,
                        telephone_event: None,
                    });
                    self.h245_needed = false;
                }
                None => {
                    // H.323 §8.1.7.3: refuse fast start, fall back to H.245.
                    self.fast_connect_refused = true;
                    self.h245_needed = true;
                }
            }
        } else {
            self.h245_needed = true;
        }
        self.events.push_back(Event::Setup(IncomingSetup {
            call_id: self.call_id,
            conference_id: self.conference_id,
            source_aliases: sig.source_aliases(),
            destination_aliases: sig.destination_aliases(),
            calling_number: sig.calling_number().map(str::to_owned),
            calling_restricted: sig.calling_restricted(),
            called_number: sig.called_number().map(str::to_owned),
            display: sig.display().map(str::to_owned),
            fast_start_offer: offer,
            protocol_version: sig.protocol_version(),
        }));
        // Tunnelled H.245 in the Setup (TCS, MSD) is answered in our first response.
        self.handle_tunnelled(now, &sig);
    }

    fn peer_h245_address(&mut self, addr: SocketAddrV4) {
        if self.tunneling || self.h245_connected || self.h245_connect_asked {
            return;
        }
        if !self.h245_needed {
            return;
        }
        self.h245_connect_asked = true;
        self.events.push_back(Event::H245Connect(addr));
    }

    fn handle_response(&mut self, now: Instant, sig: CallSignal) {
        let first = self.state == State::CallInitiated;
        if first && sig.h245_tunneling() != Some(true) && self.tunneling {
            // The callee does not tunnel: what went in the Setup is lost; H.245 starts
            // again on a separate connection.
            self.tunneling = false;
            if self.h245.is_started() {
                self.h245 = H245Session::new(self.cfg.h245_config());
            }
            self.h245_pending.clear();
        }
        if self.media.is_none() && !self.fast_start_sent {
            if let Some(n) = fast_start::accepted(sig.fast_start()) {
                self.fast_start_sent = true;
                self.h245_needed = false;
                let media = Media {
                    codec: n.codec,
                    frames: n.frames,
                    remote_rtp: n.remote_rtp,
                    remote_rtcp: n.remote_rtcp,
                    telephone_event: None,
                };
                self.media = Some(media);
                self.events.push_back(Event::Media(media));
            }
        }
        let connect = sig.message_type() == MessageType::Connect;
        if sig.fast_connect_refused()
            || (connect && self.media.is_none())
            || (!self.cfg.fast_start && self.media.is_none())
        {
            self.h245_needed = true;
        }
        self.handle_tunnelled(now, &sig);
        if let Some(addr) = sig.h245_address() {
            self.peer_h245_address(addr);
        }
        self.start_h245_if_possible(now);
        match sig.message_type() {
            MessageType::CallProceeding => {
                if first {
                    self.state = State::OutgoingProceeding;
                    self.deadline = Some(now + self.cfg.timers.t301);
                }
                self.events.push_back(Event::Proceeding);
            }
            MessageType::Alerting => {
                self.peer_inband = sig.inband_available();
                if matches!(self.state, State::CallInitiated | State::OutgoingProceeding) {
                    self.state = State::Delivered;
                    self.deadline = Some(now + self.cfg.timers.t301);
                }
                self.events.push_back(Event::Alerting);
            }
            MessageType::Progress => {
                self.peer_inband = sig.inband_available();
                if first {
                    self.state = State::OutgoingProceeding;
                    self.deadline = Some(now + self.cfg.timers.t301);
                }
                self.events.push_back(Event::Progress);
            }
            MessageType::Connect => {
                self.state = State::Active;
                self.deadline = None;
                self.events
                    .push_back(Event::Connected { media: self.media });
            }
            _ => {}
        }
    }

    // ---- commands ------------------------------------------------------------------

    fn response_params(&mut self, now: Instant) -> ResponseParams {
        // The first response commits to fast start or refuses it; H.245 starts then.
        let fast_start = if self.fast_start_sent || self.cfg.defer_fast_start_answer {
            Vec::new()
        } else {
            self.fast_start_answer.clone().unwrap_or_default()
        };
        let refused = self.fast_connect_refused && !self.fast_start_sent;
        self.start_h245_if_possible(now);
        let mut h245_address = None;
        if self.h245_needed && !self.tunneling && !self.h245_connected {
            match self.peer_h245 {
                Some(addr) => self.peer_h245_address(addr),
                None => h245_address = self.cfg.h245_listen,
            }
        }
        let h245_control = if self.tunneling {
            std::mem::take(&mut self.h245_pending)
        } else {
            Vec::new()
        };
        ResponseParams {
            call_ref: self.call_ref,
            call_id: self.call_id,
            conference_id: self.conference_id,
            endpoint: self.cfg.endpoint.clone(),
            fast_start,
            fast_connect_refused: refused,
            h245_address,
            h245_tunneling: self.tunneling,
            h245_control,
            display: None,
        }
    }

    fn callee_can_respond(&self) -> bool {
        self.role == Role::Callee
            && matches!(
                self.state,
                State::Present | State::IncomingProceeding | State::Received
            )
    }

    /// Callee: Call Proceeding.
    pub fn proceeding(&mut self, now: Instant) {
        if !self.callee_can_respond() || self.state != State::Present {
            return;
        }
        let mut p = self.response_params(now);
        // Fast start is answered in Alerting/Progress/Connect, not here; a refusal may go.
        p.fast_start.clear();
        if p.fast_connect_refused {
            self.fast_start_sent = true;
        }
        self.send_signal(&CallSignal::call_proceeding(&p));
        self.state = State::IncomingProceeding;
        self.after(now);
    }

    fn mark_fast_start(&mut self, p: &ResponseParams) {
        if !p.fast_start.is_empty() || p.fast_connect_refused {
            self.fast_start_sent = true;
            if !p.fast_start.is_empty() {
                if let Some(m) = self.media {
                    self.events.push_back(Event::Media(m));
                }
            }
        }
    }

    /// Callee: Alerting (carries the fast start answer).
    pub fn alerting(&mut self, now: Instant) {
        self.send_alerting(now, false);
    }

    /// Callee: Alerting with a Progress indicator "in-band information is now available"
    /// (Q.931 §4.5.23, description 8): we play ringback or an announcement ourselves on
    /// the media the fast start answer opens (early media).
    pub fn alerting_inband(&mut self, now: Instant) {
        self.send_alerting(now, true);
    }

    /// Caller: the peer's last Alerting or Progress said in-band information is available
    /// (progress description 1 or 8): its media carry ringback or an announcement.
    pub fn peer_inband(&self) -> bool {
        self.peer_inband
    }

    fn send_alerting(&mut self, now: Instant, inband: bool) {
        if !self.callee_can_respond() || self.state == State::Received {
            return;
        }
        let p = self.response_params(now);
        self.mark_fast_start(&p);
        let mut sig = CallSignal::alerting(&p);
        if inband {
            sig.frame.insert(
                ProgressIndicator::new(
                    Location::PrivateLocal,
                    ProgressDescription::InbandAvailable,
                )
                .into(),
            );
        }
        self.send_signal(&sig);
        self.state = State::Received;
        self.after(now);
    }

    /// Callee: Progress with in-band information (early media).
    pub fn progress(&mut self, now: Instant) {
        if !self.callee_can_respond() {
            return;
        }
        let p = self.response_params(now);
        self.mark_fast_start(&p);
        self.send_signal(&CallSignal::progress(&p));
        if self.state == State::Present {
            self.state = State::IncomingProceeding;
        }
        self.after(now);
    }

    /// Callee: our media addresses are now `media` (before the fast start answer went
    /// out): the answer is made again with them and is no longer held back
    /// ([`CallConfig::defer_fast_start_answer`]); `prefer` goes first among our codecs
    /// (the law the other side settled on). False once the answer is sent, or when the
    /// Setup had no fast start we accepted.
    pub fn set_media(&mut self, media: MediaAddresses, prefer: Option<G711>) -> bool {
        if self.role != Role::Callee || self.fast_start_sent || self.fast_start_answer.is_none() {
            return false;
        }
        // The caller's order decides among the laws we accept (§8.1.7.1): `prefer` alone
        // first, so that it wins when offered at all.
        let preferred = prefer
            .filter(|c| self.cfg.codecs.contains(c))
            .and_then(|c| fast_start::select(&self.offered, &[c], media));
        let Some(a) =
            preferred.or_else(|| fast_start::select(&self.offered, &self.cfg.codecs, media))
        else {
            return false;
        };
        self.media = Some(Media {
            codec: a.negotiated.codec,
            frames: a.negotiated.frames,
            remote_rtp: a.negotiated.remote_rtp,
            remote_rtcp: a.negotiated.remote_rtcp,
            telephone_event: None,
        });
        self.cfg.media = media;
        self.cfg.defer_fast_start_answer = false;
        self.fast_start_answer = Some(a.elements);
        true
    }

    /// Callee: Connect.
    pub fn answer(&mut self, now: Instant) {
        if !self.callee_can_respond() {
            return;
        }
        // Connect carries the fast start answer at the latest.
        self.cfg.defer_fast_start_answer = false;
        let p = self.response_params(now);
        self.mark_fast_start(&p);
        self.send_signal(&CallSignal::connect(&p));
        self.state = State::Active;
        self.events
            .push_back(Event::Connected { media: self.media });
        self.after(now);
    }

    /// Releases the call with a Q.850 cause (H.323 §8.5). On a separate H.245
    /// connection: CloseLogicalChannel, EndSessionCommand, the peer's EndSessionCommand,
    /// then Release Complete; tunnelled: EndSessionCommand inside the Release Complete.
    pub fn release(&mut self, now: Instant, cause: CauseValue) {
        if matches!(self.state, State::Released | State::Releasing) {
            return;
        }
        if self.role == Role::Callee && self.state == State::Idle {
            self.finish(cause, None, false);
            return;
        }
        self.release_cause = Some(cause);
        if self.h245_connected && self.h245.is_started() && !self.h245.end_session_received() {
            self.state = State::Releasing;
            if self.h245.close_outgoing(now) {
                self.collect_h245();
                // EndSessionCommand follows the CloseLogicalChannelAck (or T103).
                self.deadline = None;
            } else {
                self.h245.end_session();
                self.collect_h245();
                self.deadline = Some(now + self.cfg.timers.end_session);
            }
            self.after(now);
            return;
        }
        if self.tunneling && self.h245.is_started() {
            self.h245.end_session();
            self.collect_h245();
        }
        self.send_release_complete(cause);
    }

    fn send_release_complete(&mut self, cause: CauseValue) {
        if self.state == State::Released {
            return;
        }
        let h245 = if self.tunneling {
            std::mem::take(&mut self.h245_pending)
        } else {
            Vec::new()
        };
        let sig = CallSignal::release_complete_with_h245(
            self.cr(),
            self.call_id,
            None,
            Some(cause),
            self.tunneling,
            &h245,
        );
        self.send_signal(&sig);
        let reason = ReleaseReason::from_q850(cause);
        self.finish(cause, reason, false);
    }

    /// The peer's EndSessionCommand (H.323 §8.5).
    fn peer_end_session(&mut self, now: Instant) {
        match self.state {
            State::Released => {}
            State::Releasing => {
                // Step 3 done: our EndSession was answered.
                self.send_release_complete(
                    self.release_cause.unwrap_or(CauseValue::NormalCallClearing),
                );
            }
            _ => {
                // The peer clears: close our channel, answer EndSession, Release Complete
                // (without waiting, H.323 §8.5 last paragraph).
                self.h245.close_outgoing(now);
                self.h245.end_session();
                self.collect_h245();
                self.release_cause = Some(CauseValue::NormalCallClearing);
                self.send_release_complete(CauseValue::NormalCallClearing);
                if let Some(Event::Released { by_peer, .. }) = self.events.back_mut() {
                    *by_peer = true;
                }
            }
        }
    }

    /// Sends DTMF digits (see [`DtmfMode`]).
    pub fn send_digits(&mut self, now: Instant, digits: &str) -> DigitRoute {
        if self.state == State::Released {
            return DigitRoute::Unavailable;
        }
        if self.cfg.dtmf == DtmfMode::Rfc2833WhenNegotiated {
            if let Some(pt) = self.media.and_then(|m| m.telephone_event) {
                return DigitRoute::Rfc2833 { payload_type: pt };
            }
        }
        let channel_up = self.h245_connected
            || (self.tunneling && !matches!(self.state, State::Idle | State::Released));
        if !channel_up {
            return DigitRoute::Unavailable;
        }
        let d = self.cfg.digit_duration_ms;
        let ok = match self.cfg.dtmf {
            DtmfMode::Signal => self.h245.send_user_input_signals(digits, d),
            _ => self.h245.send_user_input(digits, d),
        };
        self.collect_h245();
        self.after(now);
        if ok {
            DigitRoute::UserInput
        } else {
            DigitRoute::Unavailable
        }
    }

    // ---- time ----------------------------------------------------------------------

    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == State::Released {
            return None;
        }
        [self.deadline, self.h245.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Released {
            return;
        }
        self.h245.handle_timeout(now);
        self.pump_h245(now);
        if self.deadline.is_some_and(|d| now >= d) {
            self.deadline = None;
            match self.state {
                State::CallInitiated => self.release(now, CauseValue::NoUserResponding),
                State::OutgoingProceeding => self.release(now, CauseValue::NoUserResponding),
                State::Delivered => self.release(now, CauseValue::NoAnswer),
                State::Releasing => {
                    // No EndSessionCommand from the peer in time: clear anyway.
                    if !self.h245.end_session_sent() {
                        self.h245.end_session();
                        self.collect_h245();
                    }
                    self.send_release_complete(
                        self.release_cause.unwrap_or(CauseValue::NormalCallClearing),
                    );
                }
                _ => {}
            }
        }
        self.after(now);
    }

    /// After every input: tunnelled H.245 without a carrier goes in a Facility.
    fn after(&mut self, _now: Instant) {
        self.collect_h245();
        self.flush_tunnel();
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}

/// The H.245 message names in a buffer of TPKT-framed H.245 messages (for logs and
/// tests).
pub fn h245_names(tpkt_bytes: &[u8]) -> Vec<&'static str> {
    let mut d = tpkt::TpktDecoder::new();
    d.handle_bytes(tpkt_bytes);
    let mut names = Vec::new();
    while let Ok(Some(p)) = d.poll_packet() {
        match h245_tunnel::decode(&p) {
            Ok(m) => names.push(h245_tunnel::message_name(&m)),
            Err(_) => names.push("undecodable"),
        }
    }
    names
}

#[cfg(test)]
mod tests;
