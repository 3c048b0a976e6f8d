//! Expiry of T200 and T203 (Q.921 §5.5, §5.6.1, §5.6.4, §5.9).

use std::time::Instant;

use super::{Link, LinkEvent, LinkState};
use crate::lapd::control::Unnumbered;
use crate::lapd::mdl_error::MdlError;

impl Link {
    pub(super) fn on_t200(&mut self, now: Instant) {
        match self.state {
            LinkState::TeiAssigned => {}
            LinkState::AwaitingEstablishment => {
                if self.rc >= self.cfg.n200 {
                    // §5.5.1.3: establishment failed.
                    self.discard_iq();
                    self.mdl_error(MdlError::SabmeRetransmissionsExhausted);
                    self.push_status(LinkEvent::ReleaseIndication);
                    self.enter_tei_assigned(now, false);
                } else {
                    self.rc += 1;
                    self.send_u(true, Unnumbered::Sabme, true);
                    self.t200 = Some(now + self.cfg.t200);
                }
            }
            LinkState::AwaitingRelease => {
                if self.rc >= self.cfg.n200 {
                    self.mdl_error(MdlError::DiscRetransmissionsExhausted);
                    self.push_status(LinkEvent::ReleaseConfirm);
                    self.enter_tei_assigned(now, false);
                } else {
                    self.rc += 1;
                    self.send_u(true, Unnumbered::Disc, true);
                    self.t200 = Some(now + self.cfg.t200);
                }
            }
            LinkState::MultipleFrameEstablished => {
                // §5.6.1 / Annex B state 7.
                self.rc = 0;
                self.recover(now);
                self.rc += 1;
                self.set_state(LinkState::TimerRecovery);
            }
            LinkState::TimerRecovery => {
                if self.rc >= self.cfg.n200 {
                    // §5.6.4: no answer to N200 enquiries: re-establish.
                    self.mdl_error(MdlError::StatusEnquiryExhausted);
                    self.establish_data_link(now);
                    self.l3_initiated = false;
                    self.set_state(LinkState::AwaitingEstablishment);
                } else {
                    self.recover(now);
                    self.rc += 1;
                }
            }
        }
    }

    /// The action of a T200 expiry in states 7 and 8: retransmit the last I frame sent with
    /// P=1, or, with nothing outstanding or a busy peer, send an enquiry.
    pub(super) fn recover(&mut self, now: Instant) {
        if self.peer_busy || self.vs == self.va {
            self.transmit_enquiry(now);
            return;
        }
        self.vs = self.vs.prev();
        let index = usize::from(self.vs.since(self.va));
        self.stats.i_retransmitted += 1;
        self.send_i_frame(index, true);
        self.vs = self.vs.next();
        self.t200 = Some(now + self.cfg.t200);
    }

    pub(super) fn on_t203(&mut self, now: Instant) {
        if self.state == LinkState::MultipleFrameEstablished {
            // §5.6.1 / §5.9.8: idle supervision.
            self.transmit_enquiry(now);
            self.rc = 0;
            self.set_state(LinkState::TimerRecovery);
        }
    }
}
