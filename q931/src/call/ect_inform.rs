//! Telling a party of a call that it is now connected to someone else after a transfer,
//! and hearing it: ETSI ECT's `EctInform` (EN 300 369-1), invoked in a FACILITY on the
//! call (Q.932 §8.2). The network sends it to the remaining party of an explicit call
//! transfer; a gateway sends it to its PSTN party when the transfer happened on the IP
//! side (libpri does the same for `pri_connected_line_update` on an active call, and
//! reports a received one as a connected line update).

use std::time::Instant;

use tracing::debug;

use super::state::Stage;
use super::{CallError, CallHandle, Event, Interface};
use crate::ie::InfoElement;
use crate::message::Message;
use crate::supplementary::address::PresentedNumberUnscreened;
use crate::supplementary::ect::{EctInform, EctStatus};
use crate::supplementary::FacilityApdus;

impl Interface {
    /// FACILITY with an `EctInform` invoke on `call` (active or establishing): its party
    /// is now connected to `redirection` (`active`: that party answered; otherwise it
    /// is being alerted). No answer is expected (the invoke has no result).
    pub fn ect_inform(
        &mut self,
        now: Instant,
        call: CallHandle,
        status: EctStatus,
        redirection: Option<PresentedNumberUnscreened>,
    ) -> Result<(), CallError> {
        let c = self.call_mut(call)?;
        if !(c.stage == Stage::Active || c.stage.is_establishing()) {
            return Err(CallError::WrongState {
                command: "FACILITY (EctInform)",
                stage: c.stage,
            });
        }
        let invoke = self.next_invoke_id();
        let inform = EctInform {
            status,
            redirection,
        };
        self.send_component(now, call, inform.invoke(invoke))
    }

    /// Q.932 §8.2: an `EctInform` invoke in any Facility element of a message on `call`
    /// becomes [`Event::TransferInformed`].
    pub(super) fn ect_inform_message(&mut self, call: CallHandle, msg: &Message) {
        for ie in &msg.ies {
            let InfoElement::Facility(f) = ie else {
                continue;
            };
            let Ok(apdus) = FacilityApdus::from_facility(f) else {
                continue;
            };
            for c in &apdus.components {
                if let Some(inform) = EctInform::of(c) {
                    debug!(?call, ?inform, "EctInform received");
                    self.events.push_back(Event::TransferInformed {
                        call,
                        status: inform.status,
                        redirection: inform.redirection,
                    });
                }
            }
        }
    }
}
