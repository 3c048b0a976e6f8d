//! The data link entity for multiple-frame operation (ITU-T Q.921 §5 and the SDL of Annex B),
//! for a PRI point-to-point link: SAPI 0, TEI 0, no TEI management.
//!
//! Sans-IO: frames and time go in through [`Link::handle_frame`] and [`Link::handle_timeout`],
//! layer 3 requests through [`Link::establish`], [`Link::release`] and [`Link::send_i`];
//! frames to send, indications for layer 3 and the next deadline come out of
//! [`Link::poll_transmit`], [`Link::poll_event`] and [`Link::poll_timeout`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tracing::debug;

use super::address::{Address, Role, Sapi, Tei};
use super::control::{Control, SeqNo, Supervisory, Unnumbered};
use super::frame::Frame;
use super::mdl_error::MdlError;

mod procedures;
mod receive;
mod timers;

/// System parameters of a data link (Q.921 §5.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkConfig {
    /// Which side of the interface this entity is on (C/R bit semantics, §3.3.2).
    pub role: Role,
    /// SAPI of the data link (0: call control).
    pub sapi: Sapi,
    /// TEI of the data link (0 on PRI).
    pub tei: Tei,
    /// k: maximum number of outstanding I frames (§5.9.5; 7 for a 64 kbit/s PRI D-channel).
    /// Held to 1..=127, the most modulo 128 allows.
    pub k: u8,
    /// N200: maximum number of retransmissions (§5.9.2; default 3).
    pub n200: u8,
    /// N201: maximum octets in an information field (§5.9.3; default 260).
    pub n201: usize,
    /// T200: acknowledgement timer (§5.9.1; default 1 s).
    pub t200: Duration,
    /// T203: maximum time without frames exchanged (§5.9.8; default 10 s).
    pub t203: Duration,
    /// Keep multiple-frame operation up: re-establish by itself after any loss of the link
    /// that layer 3 did not ask for (the persistent layer 2 a PRI expects, as libpri does).
    pub keep_up: bool,
}

impl LinkConfig {
    /// The defaults for a PRI D-channel: SAPI 0, TEI 0, k=7, N200=3, N201=260, T200=1 s,
    /// T203=10 s, kept up.
    pub fn pri(role: Role) -> LinkConfig {
        LinkConfig {
            role,
            sapi: Sapi::CALL_CONTROL,
            tei: Tei::PRI,
            k: 7,
            n200: 3,
            n201: 260,
            t200: Duration::from_secs(1),
            t203: Duration::from_secs(10),
            keep_up: true,
        }
    }
}

/// States of the data link entity (Q.921 Annex B). States 1 to 3 (TEI assignment) do not
/// exist on a PRI, where the TEI is fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkState {
    /// State 4: TEI assigned, no multiple-frame operation.
    TeiAssigned,
    /// State 5: SABME sent, awaiting UA.
    AwaitingEstablishment,
    /// State 6: DISC sent, awaiting UA.
    AwaitingRelease,
    /// State 7: multiple-frame established.
    MultipleFrameEstablished,
    /// State 8: timer recovery (an enquiry or a retransmission with P=1 outstanding).
    TimerRecovery,
}

/// What the data link reports to layer 3 and to management (Q.921 §4.1 primitives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// DL-ESTABLISH confirm: the establishment layer 3 asked for succeeded.
    EstablishConfirm,
    /// DL-ESTABLISH indication: the link was (re-)established by the peer or by the data
    /// link itself; I frames outstanding before may be lost.
    EstablishIndication,
    /// DL-RELEASE confirm: the release layer 3 asked for is done.
    ReleaseConfirm,
    /// DL-RELEASE indication: multiple-frame operation ended without layer 3 asking
    /// (Q.931 starts T309 for its active calls).
    ReleaseIndication,
    /// DL-DATA indication: an I frame's information field (a Q.931 message).
    Data(Vec<u8>),
    /// DL-UNIT-DATA indication: a UI frame's information field.
    UnitData(Vec<u8>),
    /// MDL-ERROR indication with its Table II-1 code.
    MdlError(MdlError),
}

/// Why a layer 3 request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The payload does not fit in one information field (Q.921 §5.9.3).
    #[error("information field of {len} octets exceeds N201 = {n201}")]
    PayloadTooLong {
        /// Payload length.
        len: usize,
        /// The configured N201.
        n201: usize,
    },
    /// The data link is being released (state 6): DL-DATA requests are not accepted.
    #[error("data link is awaiting release")]
    Releasing,
    /// The I queue already holds [`I_QUEUE_LIMIT`] frames (sent and unacknowledged, or
    /// waiting for the window or for a busy peer, Q.921 §5.6.5): the DL-DATA request is
    /// refused rather than queued without bound.
    #[error("I queue full ({limit} frames) while the peer does not acknowledge")]
    QueueFull {
        /// The bound, [`I_QUEUE_LIMIT`].
        limit: usize,
    },
}

/// Counters, for tests and measurements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// I frames sent for the first time.
    pub i_sent: u64,
    /// I frames sent again (REJ, T200 recovery).
    pub i_retransmitted: u64,
    /// I frames accepted in sequence.
    pub i_received: u64,
    /// REJ frames sent.
    pub rej_sent: u64,
    /// Expiries of T200.
    pub t200_expiries: u64,
    /// Expiries of T203.
    pub t203_expiries: u64,
    /// Frames received and discarded as invalid or not addressed to this link.
    pub discarded: u64,
    /// Our I frames (queued or sent and not acknowledged) dropped by a re-establishment
    /// (§5.5.3: the I queue is discarded; layer 3 learns of it from the DL-ESTABLISH
    /// indication and recovers what matters, e.g. an unanswered SETUP).
    pub i_discarded: u64,
}

/// One Q.921 data link entity in multiple-frame operation.
#[derive(Debug)]
pub struct Link {
    cfg: LinkConfig,
    state: LinkState,
    /// V(S), V(A), V(R) (§3.5.2).
    vs: SeqNo,
    va: SeqNo,
    vr: SeqNo,
    /// Retransmission counter RC.
    rc: u8,
    peer_busy: bool,
    own_busy: bool,
    reject_exception: bool,
    ack_pending: bool,
    l3_initiated: bool,
    t200: Option<Instant>,
    t203: Option<Instant>,
    /// When `keep_up` asks for a new establishment attempt from state 4.
    retry_at: Option<Instant>,
    /// Layer 3 released the link: do not bring it back up by itself.
    held_down: bool,
    /// Layer 3 last heard the link is up (or asked for it): a loss must be indicated.
    l3_expects_up: bool,
    /// A DL-ESTABLISH request arrived while awaiting release.
    establish_after_release: bool,
    /// The I queue: information fields from the one numbered V(A) on; the first
    /// `V(S) - V(A)` of them have been sent and await acknowledgement.
    iq: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
    events: VecDeque<LinkEvent>,
    /// Spare buffers, so that steady traffic does not allocate.
    pool: Vec<Vec<u8>>,
    stats: LinkStats,
}

/// Buffers kept for reuse at most.
const POOL_LIMIT: usize = 64;

/// Most I frames the I queue holds, those sent and awaiting acknowledgement included; a
/// DL-DATA request beyond it is refused with [`LinkError::QueueFull`].
///
/// Why a bound: a peer may stay in the receiver busy condition indefinitely, answering every
/// enquiry with RNR F=1 (§5.6.5; T200 then restarts and RC is reset at each expiry in state
/// 7, §5.6.7), and one that answers RR F=1 without ever acknowledging clears timer recovery
/// each time as well (§5.6.7: the condition ends on any supervisory response with F=1).
/// Either keeps the link up while it may still send I frames that each force a Q.931
/// answer (STATUS ENQUIRY → STATUS), so without a bound the queue grows at D-channel rate
/// for as long as the peer likes.
///
/// Why 128: it is the modulus, so any window k (≤ 127) can always be filled; it is some 18
/// windows of the PRI default k = 7; at N201 = 260 octets it is 128 × 264 ≈ 34 kB, over 4 s
/// of a 64 kbit/s D-channel; and it leaves room for four messages per B-channel of a
/// 30-channel E1 clearing at once. A healthy peer never gets near it.
///
/// Why refuse rather than re-establish: a busy peer is not a protocol error, and Q.921
/// re-establishes only when enquiries go unanswered N200 times (§5.6.7) or on errors
/// (§5.8). Re-establishing would lose the frames outstanding, whatever call they belong
/// to, yet keep those never sent (Annex B discards the I queue only when V(S) ≠ V(A)), so
/// a peer still busy afterwards leaves the queue as full as before.
/// Refusing tells layer 3 at once, and Q.931 treats a message not sent like one not
/// answered: its timers (T303, T305, T308, T316) end the procedure.
pub const I_QUEUE_LIMIT: usize = SeqNo::MODULUS as usize;

impl Link {
    /// A data link entity in state 4 (TEI assigned). Nothing is sent until layer 3 asks for
    /// establishment (or sends data), or the peer establishes.
    pub fn new(mut cfg: LinkConfig) -> Link {
        cfg.k = cfg.k.clamp(1, SeqNo::MODULUS - 1);
        Link {
            cfg,
            state: LinkState::TeiAssigned,
            vs: SeqNo::ZERO,
            va: SeqNo::ZERO,
            vr: SeqNo::ZERO,
            rc: 0,
            peer_busy: false,
            own_busy: false,
            reject_exception: false,
            ack_pending: false,
            l3_initiated: false,
            t200: None,
            t203: None,
            retry_at: None,
            held_down: false,
            l3_expects_up: false,
            establish_after_release: false,
            iq: VecDeque::new(),
            tx: VecDeque::new(),
            events: VecDeque::new(),
            pool: Vec::new(),
            stats: LinkStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LinkConfig {
        &self.cfg
    }

    /// The current state.
    pub fn state(&self) -> LinkState {
        self.state
    }

    /// Whether I frames can flow (states 7 and 8).
    pub fn is_established(&self) -> bool {
        matches!(
            self.state,
            LinkState::MultipleFrameEstablished | LinkState::TimerRecovery
        )
    }

    /// Counters since creation.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// V(S), V(A) and V(R).
    pub fn sequence_state(&self) -> (SeqNo, SeqNo, SeqNo) {
        (self.vs, self.va, self.vr)
    }

    /// I frames sent and not yet acknowledged, plus those waiting to be sent.
    pub fn queued(&self) -> usize {
        self.iq.len()
    }

    /// Whether the peer said it is busy (RNR).
    pub fn peer_busy(&self) -> bool {
        self.peer_busy
    }

    // ---- layer 3 requests ----------------------------------------------------------------

    /// DL-ESTABLISH request (Q.921 §5.5.1.1).
    pub fn establish(&mut self, now: Instant) {
        self.held_down = false;
        self.l3_expects_up = true;
        match self.state {
            LinkState::TeiAssigned => {
                self.retry_at = None;
                self.establish_data_link(now);
                self.l3_initiated = true;
                self.set_state(LinkState::AwaitingEstablishment);
            }
            LinkState::AwaitingEstablishment => {
                self.discard_iq();
                self.l3_initiated = true;
            }
            LinkState::MultipleFrameEstablished | LinkState::TimerRecovery => {
                self.discard_iq();
                self.establish_data_link(now);
                self.l3_initiated = true;
                self.set_state(LinkState::AwaitingEstablishment);
            }
            // Annex B has no transition for this request while awaiting release: it is
            // carried out once the release completes.
            LinkState::AwaitingRelease => self.establish_after_release = true,
        }
    }

    /// DL-RELEASE request (Q.921 §5.5.3.1). The link then stays down until
    /// [`Link::establish`] (or the peer establishes).
    pub fn release(&mut self, now: Instant) {
        self.held_down = true;
        self.establish_after_release = false;
        self.retry_at = None;
        match self.state {
            LinkState::TeiAssigned => self.push_status(LinkEvent::ReleaseConfirm),
            LinkState::AwaitingEstablishment
            | LinkState::MultipleFrameEstablished
            | LinkState::TimerRecovery => {
                self.discard_iq();
                self.rc = 0;
                self.send_u(true, Unnumbered::Disc, true);
                self.t203 = None;
                self.t200 = Some(now + self.cfg.t200);
                self.set_state(LinkState::AwaitingRelease);
            }
            LinkState::AwaitingRelease => {}
        }
    }

    /// DL-DATA request: queue `payload` (a Q.931 message) for acknowledged transfer in an I
    /// frame. While the link is down the frame waits in the I queue and establishment starts.
    pub fn send_i(&mut self, now: Instant, payload: &[u8]) -> Result<(), LinkError> {
        if payload.len() > self.cfg.n201 {
            return Err(LinkError::PayloadTooLong {
                len: payload.len(),
                n201: self.cfg.n201,
            });
        }
        if self.state == LinkState::AwaitingRelease {
            return Err(LinkError::Releasing);
        }
        if self.iq.len() >= I_QUEUE_LIMIT {
            debug!(
                queued = self.iq.len(),
                peer_busy = self.peer_busy,
                state = ?self.state,
                "I queue full: DL-DATA request refused"
            );
            return Err(LinkError::QueueFull {
                limit: I_QUEUE_LIMIT,
            });
        }
        let mut buf = self.take_buffer();
        buf.extend_from_slice(payload);
        self.iq.push_back(buf);
        match self.state {
            LinkState::TeiAssigned => self.establish(now),
            LinkState::MultipleFrameEstablished => self.push_i_frames(now),
            _ => {}
        }
        Ok(())
    }

    /// DL-UNIT-DATA request: send `payload` at once in a UI command (§5.2).
    pub fn send_ui(&mut self, payload: &[u8]) -> Result<(), LinkError> {
        if payload.len() > self.cfg.n201 {
            return Err(LinkError::PayloadTooLong {
                len: payload.len(),
                n201: self.cfg.n201,
            });
        }
        self.send_frame(
            true,
            Control::Unnumbered {
                function: Unnumbered::Ui,
                poll_final: false,
            },
            payload,
        );
        Ok(())
    }

    /// Layer 3 flow control: enter or leave the own receiver busy condition (§5.6.5, §5.6.6).
    pub fn set_receiver_busy(&mut self, now: Instant, busy: bool) {
        if busy == self.own_busy {
            return;
        }
        self.own_busy = busy;
        if self.is_established() {
            let function = if busy {
                Supervisory::ReceiveNotReady
            } else {
                Supervisory::ReceiveReady
            };
            self.send_s(false, function, false);
            self.ack_pending = false;
        }
        self.push_i_frames(now);
    }

    // ---- input ---------------------------------------------------------------------------

    /// Handles one received frame (no flags, no FCS). Never panics, whatever the bytes.
    pub fn handle_frame(&mut self, now: Instant, bytes: &[u8]) {
        // Q.921 §2.9 and §5.8.4: invalid frames and frames for another SAPI/TEI are discarded
        // without any action.
        let Ok(address) = Address::decode(bytes) else {
            self.stats.discarded += 1;
            return;
        };
        if address.sapi != self.cfg.sapi
            || (address.tei != self.cfg.tei && address.tei != Tei::GROUP)
        {
            self.stats.discarded += 1;
            return;
        }
        let frame = match Frame::decode(bytes) {
            Ok(frame) => frame,
            Err(error) => {
                self.stats.discarded += 1;
                self.frame_rejection(now, error);
                return;
            }
        };
        let command = self.cfg.role.is_command(address.cr);
        if address.tei == Tei::GROUP {
            // Only UI frames travel on the broadcast data link (§5.2).
            if let Control::Unnumbered {
                function: Unnumbered::Ui,
                ..
            } = frame.control
            {
                self.deliver_unit_data(frame.info);
            } else {
                self.stats.discarded += 1;
            }
            return;
        }
        match frame.control {
            Control::Information { ns, nr, poll } => {
                if command {
                    self.on_i_frame(now, ns, nr, poll, frame.info);
                } else {
                    self.stats.discarded += 1;
                }
            }
            Control::Supervisory {
                function,
                nr,
                poll_final,
            } => self.on_supervisory(now, command, function, nr, poll_final),
            Control::Unnumbered {
                function,
                poll_final,
            } => match (function, command) {
                (Unnumbered::Sabme, true) => self.on_sabme(now, poll_final),
                (Unnumbered::Disc, true) => self.on_disc(now, poll_final),
                (Unnumbered::Ua, false) => self.on_ua(now, poll_final),
                (Unnumbered::Dm, false) => self.on_dm(now, poll_final),
                (Unnumbered::Frmr, false) => self.on_frmr(now),
                (Unnumbered::Ui, true) => self.deliver_unit_data(frame.info),
                // XID is not used on a PRI; commands sent as responses and the other way
                // round are not valid frames and are discarded.
                _ => self.stats.discarded += 1,
            },
        }
        self.push_i_frames(now);
    }

    /// Runs the timers that are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.t200.is_some_and(|t| t <= now) {
            self.t200 = None;
            self.stats.t200_expiries += 1;
            self.on_t200(now);
        }
        if self.t203.is_some_and(|t| t <= now) {
            self.t203 = None;
            self.stats.t203_expiries += 1;
            self.on_t203(now);
        }
        if self.retry_at.is_some_and(|t| t <= now) {
            self.retry_at = None;
            if self.state == LinkState::TeiAssigned && self.cfg.keep_up && !self.held_down {
                self.establish_data_link(now);
                self.l3_initiated = false;
                self.set_state(LinkState::AwaitingEstablishment);
            }
        }
        self.push_i_frames(now);
    }

    // ---- output --------------------------------------------------------------------------

    /// The next frame to send (no FCS), if any.
    ///
    /// An acknowledgement owed for received I frames goes out as an RR (or RNR) response
    /// only when nothing else is queued: called after layer 3 has handled the received
    /// messages (read → handle → poll events → poll transmit), the answer's I frame carries
    /// N(R) instead (Q.921 §5.6.2, acknowledge pending).
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.tx.is_empty() {
            self.flush_ack();
        }
        self.tx.pop_front()
    }

    /// Like [`Link::poll_transmit`], copying the frame into `out` (cleared first) and keeping
    /// the buffer for reuse: no allocation in steady state.
    pub fn poll_transmit_into(&mut self, out: &mut Vec<u8>) -> bool {
        if self.tx.is_empty() {
            self.flush_ack();
        }
        match self.tx.pop_front() {
            Some(frame) => {
                out.clear();
                out.extend_from_slice(&frame);
                self.recycle(frame);
                true
            }
            None => false,
        }
    }

    /// The next indication for layer 3 or management, if any.
    pub fn poll_event(&mut self) -> Option<LinkEvent> {
        self.events.pop_front()
    }

    /// The earliest deadline at which [`Link::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.t200, self.t203, self.retry_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Gives a buffer (from [`Link::poll_transmit`] or a [`LinkEvent::Data`]) back for reuse.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        if self.pool.len() < POOL_LIMIT {
            self.pool.push(buf);
        }
    }
}
