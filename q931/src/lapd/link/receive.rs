//! Received frames, state by state (Q.921 §5.5 to §5.8, Annex B).

use std::time::Instant;

use super::{Link, LinkEvent, LinkState};
use crate::lapd::control::{SeqNo, Supervisory, Unnumbered};
use crate::lapd::frame::FrameError;
use crate::lapd::mdl_error::MdlError;

impl Link {
    pub(super) fn on_sabme(&mut self, now: Instant, p: bool) {
        match self.state {
            LinkState::TeiAssigned => {
                self.send_u(false, Unnumbered::Ua, p);
                self.clear_exception_conditions();
                self.reset_sequence();
                self.retry_at = None;
                self.held_down = false;
                self.push_status(LinkEvent::EstablishIndication);
                self.t200 = None;
                self.t203 = Some(now + self.cfg.t203);
                self.set_state(LinkState::MultipleFrameEstablished);
            }
            // §5.5.5 (collision of identical commands): answer UA, stay until our own UA.
            LinkState::AwaitingEstablishment => self.send_u(false, Unnumbered::Ua, p),
            LinkState::AwaitingRelease => self.send_u(false, Unnumbered::Dm, p),
            LinkState::MultipleFrameEstablished | LinkState::TimerRecovery => {
                // §5.5.1.2 (re-establishment by the peer).
                self.send_u(false, Unnumbered::Ua, p);
                self.clear_exception_conditions();
                self.mdl_error(MdlError::PeerInitiatedReestablishment);
                if self.vs != self.va {
                    self.discard_iq();
                    self.push_status(LinkEvent::EstablishIndication);
                }
                self.t200 = None;
                self.t203 = Some(now + self.cfg.t203);
                self.reset_sequence();
                self.set_state(LinkState::MultipleFrameEstablished);
            }
        }
    }

    pub(super) fn on_disc(&mut self, now: Instant, p: bool) {
        match self.state {
            LinkState::TeiAssigned | LinkState::AwaitingEstablishment => {
                self.send_u(false, Unnumbered::Dm, p)
            }
            LinkState::AwaitingRelease => self.send_u(false, Unnumbered::Ua, p),
            LinkState::MultipleFrameEstablished | LinkState::TimerRecovery => {
                // §5.5.3.2: the peer releases.
                self.discard_iq();
                self.send_u(false, Unnumbered::Ua, p);
                self.push_status(LinkEvent::ReleaseIndication);
                self.t200 = None;
                self.t203 = None;
                self.enter_tei_assigned(now, true);
            }
        }
    }

    pub(super) fn on_ua(&mut self, now: Instant, f: bool) {
        match self.state {
            LinkState::AwaitingEstablishment if f => {
                // §5.5.1.1: establishment complete.
                if self.l3_initiated {
                    self.push_status(LinkEvent::EstablishConfirm);
                } else {
                    if self.vs != self.va {
                        self.discard_iq();
                    }
                    self.push_status(LinkEvent::EstablishIndication);
                }
                self.t200 = None;
                self.t203 = Some(now + self.cfg.t203);
                self.reset_sequence();
                self.set_state(LinkState::MultipleFrameEstablished);
            }
            LinkState::AwaitingRelease if f => {
                self.push_status(LinkEvent::ReleaseConfirm);
                self.t200 = None;
                self.enter_tei_assigned(now, false);
            }
            _ => self.mdl_error(if f {
                MdlError::UnsolicitedUaF1
            } else {
                MdlError::UnsolicitedUaF0
            }),
        }
    }

    pub(super) fn on_dm(&mut self, now: Instant, f: bool) {
        match self.state {
            LinkState::TeiAssigned => {
                // A DM with F=0 is the peer asking for establishment (§5.5.1.1).
                if !f {
                    self.retry_at = None;
                    self.establish_data_link(now);
                    self.l3_initiated = false;
                    self.set_state(LinkState::AwaitingEstablishment);
                }
            }
            LinkState::AwaitingEstablishment => {
                if f {
                    // §5.5.1.3: the peer refuses establishment.
                    self.discard_iq();
                    self.push_status(LinkEvent::ReleaseIndication);
                    self.t200 = None;
                    self.enter_tei_assigned(now, true);
                }
            }
            LinkState::AwaitingRelease => {
                if f {
                    self.push_status(LinkEvent::ReleaseConfirm);
                    self.t200 = None;
                    self.enter_tei_assigned(now, false);
                }
            }
            LinkState::MultipleFrameEstablished => {
                if f {
                    self.mdl_error(MdlError::UnsolicitedDmF1);
                } else {
                    self.mdl_error(MdlError::UnsolicitedDmF0);
                    self.establish_data_link(now);
                    self.l3_initiated = false;
                    self.set_state(LinkState::AwaitingEstablishment);
                }
            }
            LinkState::TimerRecovery => {
                self.mdl_error(if f {
                    MdlError::UnsolicitedDmF1
                } else {
                    MdlError::UnsolicitedDmF0
                });
                self.establish_data_link(now);
                self.l3_initiated = false;
                self.set_state(LinkState::AwaitingEstablishment);
            }
        }
    }

    pub(super) fn on_frmr(&mut self, now: Instant) {
        if self.is_established() {
            // §5.8.6: FRMR received, re-establish.
            self.mdl_error(MdlError::FrmrReceived);
            self.establish_data_link(now);
            self.l3_initiated = false;
            self.set_state(LinkState::AwaitingEstablishment);
        }
    }

    /// §5.8.5: frame rejection conditions are reported and, in multiple-frame operation,
    /// recovered by re-establishment (LAPD does not send FRMR).
    pub(super) fn frame_rejection(&mut self, now: Instant, error: FrameError) {
        let code = match error {
            FrameError::UndefinedControl { .. } => MdlError::UndefinedControlField,
            FrameError::InfoNotPermitted { .. } => MdlError::InfoNotPermitted,
            FrameError::WrongLength { .. } => MdlError::WrongSize,
            // Invalid frames (§2.9) are discarded silently.
            FrameError::TooShort { .. } | FrameError::AddressExtension { .. } => return,
        };
        self.mdl_error(code);
        if self.is_established() {
            self.establish_data_link(now);
            self.l3_initiated = false;
            self.set_state(LinkState::AwaitingEstablishment);
        }
    }

    pub(super) fn on_i_frame(&mut self, now: Instant, ns: SeqNo, nr: SeqNo, p: bool, info: &[u8]) {
        match self.state {
            LinkState::MultipleFrameEstablished | LinkState::TimerRecovery => {}
            LinkState::TeiAssigned => {
                // A command with P=1 while not established is answered by DM F=1.
                if p {
                    self.send_u(false, Unnumbered::Dm, true);
                }
                return;
            }
            LinkState::AwaitingEstablishment | LinkState::AwaitingRelease => return,
        }
        if info.len() > self.cfg.n201 {
            self.mdl_error(MdlError::N201Exceeded);
            self.establish_data_link(now);
            self.l3_initiated = false;
            self.set_state(LinkState::AwaitingEstablishment);
            return;
        }
        // §5.6.2: receiving I frames.
        if self.own_busy {
            if p {
                self.send_s(false, Supervisory::ReceiveNotReady, true);
                self.ack_pending = false;
            }
        } else if ns == self.vr {
            self.vr = self.vr.next();
            self.reject_exception = false;
            self.stats.i_received += 1;
            let mut buf = self.take_buffer();
            buf.extend_from_slice(info);
            self.events.push_back(LinkEvent::Data(buf));
            if p {
                self.enquiry_response(true);
            } else {
                self.ack_pending = true;
            }
        } else if self.reject_exception {
            // §5.7.1: N(S) sequence error already being recovered.
            if p {
                self.enquiry_response(true);
            }
        } else {
            self.reject_exception = true;
            self.stats.rej_sent += 1;
            self.send_s(false, Supervisory::Reject, p);
            self.ack_pending = false;
        }
        if !self.nr_valid(nr) {
            self.nr_error_recovery(now);
            return;
        }
        if self.state == LinkState::TimerRecovery || self.peer_busy {
            self.acknowledge(nr);
        } else if nr == self.vs {
            self.acknowledge(nr);
            self.t200 = None;
            self.t203 = Some(now + self.cfg.t203);
        } else if nr != self.va {
            self.acknowledge(nr);
            self.t200 = Some(now + self.cfg.t200);
        }
    }

    pub(super) fn on_supervisory(
        &mut self,
        now: Instant,
        command: bool,
        function: Supervisory,
        nr: SeqNo,
        pf: bool,
    ) {
        match self.state {
            LinkState::TeiAssigned => {
                if command && pf {
                    self.send_u(false, Unnumbered::Dm, true);
                }
                return;
            }
            LinkState::AwaitingEstablishment | LinkState::AwaitingRelease => return,
            LinkState::MultipleFrameEstablished | LinkState::TimerRecovery => {}
        }
        self.peer_busy = function == Supervisory::ReceiveNotReady;
        if self.state == LinkState::TimerRecovery && !command && pf {
            // §5.6.4 / Annex B state 8: the answer to our enquiry ends timer recovery.
            if !self.nr_valid(nr) {
                self.nr_error_recovery(now);
                return;
            }
            self.acknowledge(nr);
            if function == Supervisory::ReceiveNotReady {
                self.t200 = Some(now + self.cfg.t200);
            } else {
                self.t200 = None;
                self.t203 = Some(now + self.cfg.t203);
            }
            self.invoke_retransmission();
            self.set_state(LinkState::MultipleFrameEstablished);
            return;
        }
        if command && pf {
            self.enquiry_response(true);
        } else if !command && pf && self.state == LinkState::MultipleFrameEstablished {
            self.mdl_error(MdlError::UnsolicitedSupervisoryF1);
        }
        if !self.nr_valid(nr) {
            self.nr_error_recovery(now);
            return;
        }
        if self.state == LinkState::TimerRecovery {
            self.acknowledge(nr);
            return;
        }
        match function {
            Supervisory::ReceiveReady => {
                if nr == self.vs {
                    self.acknowledge(nr);
                    self.t200 = None;
                    self.t203 = Some(now + self.cfg.t203);
                } else if nr != self.va {
                    self.acknowledge(nr);
                    self.t200 = Some(now + self.cfg.t200);
                }
            }
            Supervisory::Reject => {
                // §5.6.3.2 / §5.7.1: retransmit from N(R).
                self.acknowledge(nr);
                self.t200 = None;
                self.t203 = Some(now + self.cfg.t203);
                self.invoke_retransmission();
            }
            Supervisory::ReceiveNotReady => {
                // §5.6.5: poll the busy peer with T200.
                self.acknowledge(nr);
                self.t203 = None;
                self.t200 = Some(now + self.cfg.t200);
            }
        }
    }
}
