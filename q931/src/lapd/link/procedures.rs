//! The procedures the Annex B SDL diagrams share (establish data link, transmit enquiry,
//! N(R) error recovery, ...), framing of what is sent, and the primitives to layer 3.

use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::{Link, LinkEvent, LinkState};
use crate::lapd::address::Address;
use crate::lapd::control::{Control, SeqNo, Supervisory, Unnumbered};
use crate::lapd::frame::Frame;
use crate::lapd::mdl_error::MdlError;

impl Link {
    // ---- procedures of Annex B -----------------------------------------------------------

    pub(super) fn establish_data_link(&mut self, now: Instant) {
        self.clear_exception_conditions();
        self.rc = 0;
        self.send_u(true, Unnumbered::Sabme, true);
        self.t200 = Some(now + self.cfg.t200);
        self.t203 = None;
    }

    pub(super) fn clear_exception_conditions(&mut self) {
        self.peer_busy = false;
        self.reject_exception = false;
        self.own_busy = false;
        self.ack_pending = false;
    }

    pub(super) fn transmit_enquiry(&mut self, now: Instant) {
        let function = if self.own_busy {
            Supervisory::ReceiveNotReady
        } else {
            Supervisory::ReceiveReady
        };
        self.send_s(true, function, true);
        self.ack_pending = false;
        self.t200 = Some(now + self.cfg.t200);
    }

    pub(super) fn enquiry_response(&mut self, f: bool) {
        let function = if self.own_busy {
            Supervisory::ReceiveNotReady
        } else {
            Supervisory::ReceiveReady
        };
        self.send_s(false, function, f);
        self.ack_pending = false;
    }

    pub(super) fn nr_error_recovery(&mut self, now: Instant) {
        self.mdl_error(MdlError::SequenceError);
        self.establish_data_link(now);
        self.l3_initiated = false;
        self.set_state(LinkState::AwaitingEstablishment);
    }

    /// V(S) := N(R), which is V(A) once the acknowledgement is processed: every outstanding
    /// I frame goes out again.
    pub(super) fn invoke_retransmission(&mut self) {
        let outstanding = self.vs.since(self.va);
        self.stats.i_retransmitted += u64::from(outstanding);
        self.vs = self.va;
    }

    pub(super) fn nr_valid(&self, nr: SeqNo) -> bool {
        nr.since(self.va) <= self.vs.since(self.va)
    }

    /// V(A) := N(R), releasing the acknowledged I frames.
    pub(super) fn acknowledge(&mut self, nr: SeqNo) {
        let acked = nr.since(self.va);
        for _ in 0..acked {
            if let Some(buf) = self.iq.pop_front() {
                self.recycle(buf);
            }
        }
        self.va = nr;
    }

    pub(super) fn reset_sequence(&mut self) {
        self.vs = SeqNo::ZERO;
        self.va = SeqNo::ZERO;
        self.vr = SeqNo::ZERO;
    }

    pub(super) fn discard_iq(&mut self) {
        while let Some(buf) = self.iq.pop_front() {
            self.stats.i_discarded += 1;
            self.recycle(buf);
        }
        self.vs = self.va;
    }

    pub(super) fn enter_tei_assigned(&mut self, now: Instant, retry_later: bool) {
        self.t200 = None;
        self.t203 = None;
        self.set_state(LinkState::TeiAssigned);
        if std::mem::take(&mut self.establish_after_release) {
            self.establish(now);
            return;
        }
        if self.cfg.keep_up && !self.held_down {
            // After a failed establishment the T200 wait has passed already: try again at
            // once. After a DISC or DM from the peer, give it T200 first.
            let delay = if retry_later {
                self.cfg.t200
            } else {
                Duration::ZERO
            };
            self.retry_at = Some(now + delay);
            if delay.is_zero() {
                self.retry_at = None;
                self.establish_data_link(now);
                self.l3_initiated = false;
                self.set_state(LinkState::AwaitingEstablishment);
            }
        }
    }

    /// Sends the I frames the window allows (§5.6.1): state 7, peer not busy, fewer than k
    /// outstanding.
    pub(super) fn push_i_frames(&mut self, now: Instant) {
        if self.state != LinkState::MultipleFrameEstablished || self.peer_busy {
            return;
        }
        loop {
            let outstanding = self.vs.since(self.va);
            if usize::from(outstanding) >= self.iq.len() || outstanding >= self.cfg.k {
                break;
            }
            let index = usize::from(outstanding);
            self.stats.i_sent += 1;
            self.send_i_frame(index, false);
            self.vs = self.vs.next();
            if self.t200.is_none() {
                self.t203 = None;
                self.t200 = Some(now + self.cfg.t200);
            }
        }
    }

    /// Acknowledgements not carried by an I frame go in an RR (or RNR) response.
    pub(super) fn flush_ack(&mut self) {
        if self.ack_pending && self.is_established() {
            self.enquiry_response(false);
        }
        self.ack_pending = false;
    }

    // ---- framing -------------------------------------------------------------------------

    pub(super) fn take_buffer(&mut self) -> Vec<u8> {
        let mut buf = self.pool.pop().unwrap_or_default();
        buf.clear();
        buf
    }

    pub(super) fn address(&self, command: bool) -> Address {
        Address {
            sapi: self.cfg.sapi,
            cr: self.cfg.role.cr_bit(command),
            tei: self.cfg.tei,
        }
    }

    pub(super) fn send_frame(&mut self, command: bool, control: Control, info: &[u8]) {
        let mut buf = self.take_buffer();
        Frame {
            address: self.address(command),
            control,
            info,
        }
        .encode(&mut buf);
        self.tx.push_back(buf);
    }

    pub(super) fn send_u(&mut self, command: bool, function: Unnumbered, poll_final: bool) {
        self.send_frame(
            command,
            Control::Unnumbered {
                function,
                poll_final,
            },
            &[],
        );
    }

    pub(super) fn send_s(&mut self, command: bool, function: Supervisory, poll_final: bool) {
        self.send_frame(
            command,
            Control::Supervisory {
                function,
                nr: self.vr,
                poll_final,
            },
            &[],
        );
    }

    /// Sends I queue entry `index` numbered V(S), with N(R) = V(R).
    pub(super) fn send_i_frame(&mut self, index: usize, poll: bool) {
        let mut buf = self.pool.pop().unwrap_or_default();
        buf.clear();
        let address = self.address(true);
        let info = self.iq.get(index).map(Vec::as_slice).unwrap_or(&[]);
        Frame {
            address,
            control: Control::Information {
                ns: self.vs,
                nr: self.vr,
                poll,
            },
            info,
        }
        .encode(&mut buf);
        self.tx.push_back(buf);
        self.ack_pending = false;
    }

    // ---- indications ---------------------------------------------------------------------

    pub(super) fn deliver_unit_data(&mut self, info: &[u8]) {
        let mut buf = self.take_buffer();
        buf.extend_from_slice(info);
        self.events.push_back(LinkEvent::UnitData(buf));
    }

    pub(super) fn mdl_error(&mut self, error: MdlError) {
        warn!(code = %error.code(), state = ?self.state, "{error}");
        self.events.push_back(LinkEvent::MdlError(error));
    }

    /// DL-ESTABLISH / DL-RELEASE primitives. A DL-RELEASE indication is only given when
    /// layer 3 believes the link is up or asked for it: a link kept up that keeps failing
    /// does not repeat it every cycle.
    pub(super) fn push_status(&mut self, event: LinkEvent) {
        match event {
            LinkEvent::EstablishConfirm | LinkEvent::EstablishIndication => {
                self.l3_expects_up = true;
            }
            LinkEvent::ReleaseIndication => {
                if !self.l3_expects_up {
                    return;
                }
                self.l3_expects_up = false;
            }
            LinkEvent::ReleaseConfirm => self.l3_expects_up = false,
            _ => {}
        }
        self.events.push_back(event);
    }

    pub(super) fn set_state(&mut self, state: LinkState) {
        if state != self.state {
            debug!(from = ?self.state, to = ?state, role = ?self.cfg.role, "Q.921 state");
            self.state = state;
        }
    }
}
