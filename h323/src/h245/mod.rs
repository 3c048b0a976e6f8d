//! The minimal H.245 (v15) a peer without fast start needs, as one sans-IO session:
//! capability exchange ([`capability`], §8.3), master/slave determination ([`msd`], §8.2),
//! the forward audio logical channels both ways ([`logical_channel`], §8.4),
//! UserInputIndication ([`user_input`]) and EndSessionCommand.
//!
//! The session is transport-neutral: messages go in with
//! [`H245Session::handle_message`] and out through [`H245Session::poll_message`], whether
//! they travel tunnelled in H.225.0 (`h245Control`) or in TPKT on their own TCP
//! connection. Time is passed in; [`H245Session::poll_timeout`] is the next deadline of
//! T101 (capability exchange), T106 (master/slave determination) or T103 (logical
//! channel signalling).

pub mod capability;
pub mod logical_channel;
pub mod msd;
pub mod user_input;

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use h323_asn1::h245 as asn;

pub use capability::{LocalCapabilities, RemoteCapabilities};
pub use logical_channel::{Offer, RejectCause};
pub use msd::{MsdFailure, Role};
pub use user_input::UserInput;

use crate::fast_start::{MediaAddresses, G711};

/// H.323 Table 1 (H.323 §6.2.8.x): terminal type of a gateway without MC.
pub const TERMINAL_TYPE_GATEWAY: u8 = 60;

/// H.245 timers and counters (Annex C). H.245 leaves their values to the implementation;
/// these defaults keep every wait bounded well inside an H.225.0 call set-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H245Timers {
    /// T101: waiting for TerminalCapabilitySetAck/Reject.
    pub t101: Duration,
    /// T103: waiting for OpenLogicalChannelAck/Reject or CloseLogicalChannelAck.
    pub t103: Duration,
    /// T106: waiting for a MasterSlaveDetermination response.
    pub t106: Duration,
    /// N100: master/slave determination attempts.
    pub n100: u8,
}

impl Default for H245Timers {
    fn default() -> Self {
        Self {
            t101: Duration::from_secs(10),
            t103: Duration::from_secs(10),
            t106: Duration::from_secs(10),
            n100: 3,
        }
    }
}

/// What the session announces and uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H245Config {
    pub terminal_type: u8,
    pub capabilities: LocalCapabilities,
    /// Our RTP/RTCP addresses for the audio session.
    pub media: MediaAddresses,
    /// The forward logical channel number we use for our audio.
    pub channel_number: u16,
    pub timers: H245Timers,
    /// Seed of the random numbers of master/slave determination; `None` draws one from
    /// the process's hash keys.
    pub seed: Option<u64>,
}

impl H245Config {
    pub fn new(media: MediaAddresses) -> Self {
        Self {
            terminal_type: TERMINAL_TYPE_GATEWAY,
            capabilities: LocalCapabilities::default(),
            media,
            channel_number: 1,
            timers: H245Timers::default(),
            seed: None,
        }
    }
}

/// A procedure that failed (the call should be released).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H245Failure {
    /// T101 expired or the peer rejected our capabilities.
    CapabilityExchange,
    MasterSlave(MsdFailure),
    /// Our audio channel was rejected, or T103 expired.
    OutgoingChannel,
    /// The peer receives none of the codecs we send.
    NoCommonCodec,
}

/// What the session reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum H245Event {
    RemoteCapabilities(RemoteCapabilities),
    MasterSlave(Role),
    /// Our forward audio channel is open: send `codec` to `remote_rtp`.
    OutgoingChannelOpen {
        channel: u16,
        codec: G711,
        frames: u16,
        remote_rtp: SocketAddrV4,
        remote_rtcp: Option<SocketAddrV4>,
    },
    /// The peer's forward channel is open: it sends `codec` to our RTP address.
    IncomingChannelOpen {
        channel: u16,
        codec: G711,
        frames: u16,
        remote_rtcp: Option<SocketAddrV4>,
    },
    /// The peer's OpenLogicalChannel was refused.
    IncomingChannelRejected {
        channel: u16,
        cause: RejectCause,
    },
    OutgoingChannelClosed {
        channel: u16,
    },
    IncomingChannelClosed {
        channel: u16,
    },
    UserInput(UserInput),
    /// The peer sent EndSessionCommand (H.323 §8.5).
    EndSession,
    Failure(H245Failure),
}

/// Outgoing logical channel states (H.245 §C.5.2, outgoing LCSE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutChannel {
    Released,
    AwaitingEstablishment { codec: G711, frames: u16 },
    Established,
    AwaitingRelease,
}

/// One H.245 control channel.
#[derive(Debug)]
pub struct H245Session {
    cfg: H245Config,
    rng: u64,
    started: bool,
    // CESE (§8.3): outgoing and incoming sides.
    tcs_seq: u8,
    tcs_deadline: Option<Instant>,
    tcs_acked: bool,
    remote: Option<RemoteCapabilities>,
    msd: msd::MasterSlave,
    // LCSE (§8.4): our forward channel, and the peer's.
    out_channel: OutChannel,
    out_deadline: Option<Instant>,
    in_channels: Vec<u16>,
    /// Our channel was closed on request: it is not opened again by itself.
    closed_by_user: bool,
    end_session_sent: bool,
    end_session_received: bool,
    out: VecDeque<asn::MultimediaSystemControlMessage>,
    events: VecDeque<H245Event>,
}

fn message_seed() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    h.finish()
}

impl H245Session {
    pub fn new(cfg: H245Config) -> Self {
        let seed = cfg.seed.unwrap_or_else(message_seed) | 1;
        let timers = cfg.timers;
        Self {
            msd: msd::MasterSlave::new(cfg.terminal_type, timers.n100, timers.t106),
            cfg,
            rng: seed,
            started: false,
            tcs_seq: 0,
            tcs_deadline: None,
            tcs_acked: false,
            remote: None,
            out_channel: OutChannel::Released,
            out_deadline: None,
            in_channels: Vec::new(),
            closed_by_user: false,
            end_session_sent: false,
            end_session_received: false,
            out: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// xorshift64*: the 24-bit status determination numbers (H.245 §8.2.1 asks for
    /// random ones).
    fn random(&mut self) -> u32 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as u32
    }

    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Starts capability exchange and master/slave determination (H.323 §8.2: the first
    /// messages on a new H.245 channel).
    pub fn start(&mut self, now: Instant) {
        if self.started {
            return;
        }
        self.started = true;
        self.tcs_seq = self.tcs_seq.wrapping_add(1);
        self.out.push_back(capability::terminal_capability_set(
            self.tcs_seq,
            &self.cfg.capabilities,
        ));
        self.tcs_deadline = Some(now + self.cfg.timers.t101);
        if self.msd.role().is_none() && !self.msd.is_busy() {
            let r = self.random();
            self.msd.start(now, r);
        }
        self.drain_msd();
    }

    /// The peer's capabilities, once received.
    pub fn remote_capabilities(&self) -> Option<&RemoteCapabilities> {
        self.remote.as_ref()
    }

    pub fn role(&self) -> Option<Role> {
        self.msd.role()
    }

    /// Our forward channel is open (Ack received).
    pub fn outgoing_open(&self) -> bool {
        self.out_channel == OutChannel::Established
    }

    /// No logical channel is open or being opened/closed in either direction.
    pub fn channels_closed(&self) -> bool {
        self.out_channel == OutChannel::Released && self.in_channels.is_empty()
    }

    pub fn end_session_received(&self) -> bool {
        self.end_session_received
    }

    pub fn end_session_sent(&self) -> bool {
        self.end_session_sent
    }

    fn drain_msd(&mut self) {
        while let Some(m) = self.msd.poll_message() {
            self.out.push_back(m);
        }
        while let Some(o) = self.msd.poll_outcome() {
            self.events.push_back(match o {
                msd::MsdOutcome::Determined(r) => H245Event::MasterSlave(r),
                msd::MsdOutcome::Failed(f) => H245Event::Failure(H245Failure::MasterSlave(f)),
            });
        }
    }

    /// One received H.245 message.
    pub fn handle_message(&mut self, now: Instant, msg: asn::MultimediaSystemControlMessage) {
        use asn::MultimediaSystemControlMessage as M;
        tracing::trace!(message = crate::h245_tunnel::message_name(&msg), "H.245 in");
        match msg {
            M::request(r) => self.handle_request(now, r),
            M::response(r) => self.handle_response(now, r),
            M::command(asn::CommandMessage::endSessionCommand(_)) => {
                self.end_session_received = true;
                self.events.push_back(H245Event::EndSession);
            }
            M::indication(i) => match i {
                asn::IndicationMessage::userInput(u) => {
                    if let Some(ui) = user_input::from_asn(&u) {
                        self.events.push_back(H245Event::UserInput(ui));
                    }
                }
                asn::IndicationMessage::masterSlaveDeterminationRelease(_) => {
                    self.msd.handle_release()
                }
                asn::IndicationMessage::terminalCapabilitySetRelease(_) => {
                    tracing::debug!("peer released its capability exchange");
                }
                _ => {}
            },
            _ => {}
        }
        self.drain_msd();
        self.maybe_open(now);
    }

    fn handle_request(&mut self, now: Instant, r: asn::RequestMessage) {
        match r {
            asn::RequestMessage::terminalCapabilitySet(tcs) => {
                // §8.3 incoming CESE: acknowledge and take the new set.
                let remote = RemoteCapabilities::from_tcs(&tcs);
                self.out.push_back(capability::ack(tcs.sequence_number.0));
                self.remote = Some(remote.clone());
                self.events.push_back(H245Event::RemoteCapabilities(remote));
            }
            asn::RequestMessage::masterSlaveDetermination(m) => {
                let r = self.random();
                self.msd.handle_request(now, &m, r);
            }
            asn::RequestMessage::openLogicalChannel(olc) => {
                match logical_channel::classify_offer(&olc, &self.cfg.capabilities.codecs) {
                    Offer::Audio {
                        channel,
                        codec,
                        frames,
                        rtcp,
                    } => {
                        self.out
                            .push_back(logical_channel::ack(channel, self.cfg.media));
                        if !self.in_channels.contains(&channel) {
                            self.in_channels.push(channel);
                        }
                        self.events.push_back(H245Event::IncomingChannelOpen {
                            channel,
                            codec,
                            frames,
                            remote_rtcp: rtcp,
                        });
                    }
                    Offer::Unsupported { channel, cause } => {
                        self.out.push_back(logical_channel::reject(channel, cause));
                        self.events
                            .push_back(H245Event::IncomingChannelRejected { channel, cause });
                    }
                }
            }
            asn::RequestMessage::closeLogicalChannel(c) => {
                let channel = c.forward_logical_channel_number.0;
                self.out.push_back(logical_channel::close_ack(channel));
                if let Some(i) = self.in_channels.iter().position(|&n| n == channel) {
                    self.in_channels.remove(i);
                    self.events
                        .push_back(H245Event::IncomingChannelClosed { channel });
                }
            }
            asn::RequestMessage::roundTripDelayRequest(r) => {
                // H.245 §8.9: answer with the same sequence number.
                self.out
                    .push_back(asn::MultimediaSystemControlMessage::response(
                        asn::ResponseMessage::roundTripDelayResponse(
                            asn::RoundTripDelayResponse::new(r.sequence_number),
                        ),
                    ));
            }
            other => {
                tracing::debug!(request = ?std::mem::discriminant(&other), "H.245 request not handled");
            }
        }
    }

    fn handle_response(&mut self, now: Instant, r: asn::ResponseMessage) {
        match r {
            asn::ResponseMessage::terminalCapabilitySetAck(a)
                if a.sequence_number.0 == self.tcs_seq && self.tcs_deadline.is_some() =>
            {
                self.tcs_deadline = None;
                self.tcs_acked = true;
            }
            asn::ResponseMessage::terminalCapabilitySetReject(r)
                if r.sequence_number.0 == self.tcs_seq && self.tcs_deadline.is_some() =>
            {
                self.tcs_deadline = None;
                self.events
                    .push_back(H245Event::Failure(H245Failure::CapabilityExchange));
            }
            asn::ResponseMessage::masterSlaveDeterminationAck(a) => self.msd.handle_ack(&a),
            asn::ResponseMessage::masterSlaveDeterminationReject(_) => {
                let r = self.random();
                self.msd.handle_reject(now, r);
            }
            asn::ResponseMessage::openLogicalChannelAck(a) => {
                let channel = a.forward_logical_channel_number.0;
                if channel != self.cfg.channel_number {
                    return;
                }
                if let OutChannel::AwaitingEstablishment { codec, frames } = self.out_channel {
                    let (rtp, rtcp) = logical_channel::ack_addresses(&a);
                    self.out_deadline = None;
                    match rtp {
                        Some(remote_rtp) => {
                            self.out_channel = OutChannel::Established;
                            self.events.push_back(H245Event::OutgoingChannelOpen {
                                channel,
                                codec,
                                frames,
                                remote_rtp,
                                remote_rtcp: rtcp,
                            });
                        }
                        None => {
                            // H.225.0 needs the receiver's mediaChannel: without it the
                            // channel is useless; close it.
                            self.out.push_back(logical_channel::close(channel, true));
                            self.out_channel = OutChannel::Released;
                            self.events
                                .push_back(H245Event::Failure(H245Failure::OutgoingChannel));
                        }
                    }
                }
            }
            asn::ResponseMessage::openLogicalChannelReject(r)
                if r.forward_logical_channel_number.0 == self.cfg.channel_number
                    && matches!(self.out_channel, OutChannel::AwaitingEstablishment { .. }) =>
            {
                tracing::debug!(cause = ?logical_channel::reject_cause(&r), "our OLC rejected");
                self.out_channel = OutChannel::Released;
                self.out_deadline = None;
                self.events
                    .push_back(H245Event::Failure(H245Failure::OutgoingChannel));
            }
            asn::ResponseMessage::closeLogicalChannelAck(a)
                if a.forward_logical_channel_number.0 == self.cfg.channel_number
                    && self.out_channel == OutChannel::AwaitingRelease =>
            {
                self.out_channel = OutChannel::Released;
                self.out_deadline = None;
                self.events.push_back(H245Event::OutgoingChannelClosed {
                    channel: self.cfg.channel_number,
                });
            }
            _ => {}
        }
    }

    /// Opens our forward audio channel once capabilities are exchanged both ways and
    /// master/slave is determined.
    fn maybe_open(&mut self, now: Instant) {
        if self.out_channel != OutChannel::Released
            || self.closed_by_user
            || !self.tcs_acked
            || self.msd.role().is_none()
            || self.end_session_sent
            || self.end_session_received
        {
            return;
        }
        let Some(remote) = &self.remote else {
            return;
        };
        if remote.empty {
            return;
        }
        match remote.choose(&self.cfg.capabilities) {
            Some((codec, frames)) => {
                self.out.push_back(logical_channel::open(
                    self.cfg.channel_number,
                    codec,
                    frames,
                    self.cfg.media,
                ));
                self.out_channel = OutChannel::AwaitingEstablishment { codec, frames };
                self.out_deadline = Some(now + self.cfg.timers.t103);
            }
            None => {
                // Only once: mark the channel as given up.
                self.out_channel = OutChannel::AwaitingRelease;
                self.out_deadline = None;
                self.events
                    .push_back(H245Event::Failure(H245Failure::NoCommonCodec));
            }
        }
    }

    /// Closes our forward channel (CloseLogicalChannel, T103). Returns false if there was
    /// nothing to close.
    pub fn close_outgoing(&mut self, now: Instant) -> bool {
        self.closed_by_user = true;
        match self.out_channel {
            OutChannel::Established | OutChannel::AwaitingEstablishment { .. } => {
                self.out
                    .push_back(logical_channel::close(self.cfg.channel_number, false));
                self.out_channel = OutChannel::AwaitingRelease;
                self.out_deadline = Some(now + self.cfg.timers.t103);
                true
            }
            OutChannel::AwaitingRelease if self.out_deadline.is_none() => {
                // Given up for lack of a common codec: nothing on the wire.
                self.out_channel = OutChannel::Released;
                false
            }
            _ => false,
        }
    }

    /// Sends EndSessionCommand `disconnect` (H.323 §8.5 step 2).
    pub fn end_session(&mut self) {
        if !self.end_session_sent {
            self.end_session_sent = true;
            self.out.push_back(crate::h245_tunnel::end_session());
        }
    }

    /// Sends `digits` as UserInputIndication: one `signal` per digit when the peer
    /// announced `dtmf`, else `alphanumeric`. Returns false if nothing could be encoded.
    pub fn send_user_input(&mut self, digits: &str, duration_ms: u16) -> bool {
        let use_signal = self
            .remote
            .as_ref()
            .is_some_and(|r| r.user_input_dtmf && !r.user_input_alphanumeric);
        if use_signal {
            self.send_user_input_signals(digits, duration_ms)
        } else {
            match user_input::alphanumeric(digits) {
                Some(m) => {
                    self.out.push_back(m);
                    true
                }
                None => false,
            }
        }
    }

    /// Sends one `signal` per digit whatever the peer announced.
    pub fn send_user_input_signals(&mut self, digits: &str, duration_ms: u16) -> bool {
        let msgs: Option<Vec<_>> = digits
            .chars()
            .map(|d| user_input::signal(d, duration_ms))
            .collect();
        match msgs {
            Some(m) => {
                self.out.extend(m);
                true
            }
            None => false,
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.tcs_deadline,
            self.msd.poll_timeout(),
            self.out_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.tcs_deadline.is_some_and(|d| now >= d) {
            // §C.3.5: T101 expiry → TerminalCapabilitySetRelease, failure.
            self.tcs_deadline = None;
            self.out.push_back(capability::release());
            self.events
                .push_back(H245Event::Failure(H245Failure::CapabilityExchange));
        }
        self.msd.handle_timeout(now);
        self.drain_msd();
        if self.out_deadline.is_some_and(|d| now >= d) {
            self.out_deadline = None;
            match self.out_channel {
                OutChannel::AwaitingEstablishment { .. } => {
                    // §C.5.x: T103 expiry → CloseLogicalChannel (source lcse), failure.
                    self.out
                        .push_back(logical_channel::close(self.cfg.channel_number, true));
                    self.out_channel = OutChannel::Released;
                    self.events
                        .push_back(H245Event::Failure(H245Failure::OutgoingChannel));
                }
                OutChannel::AwaitingRelease => {
                    self.out_channel = OutChannel::Released;
                    self.events.push_back(H245Event::OutgoingChannelClosed {
                        channel: self.cfg.channel_number,
                    });
                }
                _ => {}
            }
        }
    }

    pub fn poll_message(&mut self) -> Option<asn::MultimediaSystemControlMessage> {
        self.out.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<H245Event> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests;
