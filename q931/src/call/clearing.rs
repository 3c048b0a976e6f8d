//! Call clearing, Q.931 §5.3: DISCONNECT / RELEASE / RELEASE COMPLETE from either side in
//! every state, clear collision (§5.3.5), and the expiry actions of the call timers.

use std::time::Instant;

use super::interface::Interface;
use super::state::Stage;
use super::timers::Timer;
use super::{CallError, CallHandle, Event};
use crate::ie::{Cause, CauseValue};
use crate::lapd::Role;
use crate::message::Message;

impl Interface {
    // ---- commands ---------------------------------------------------------------------

    /// Ends a call with `cause`, with the message the state calls for (§5.3.2 / §5.3.3):
    /// RELEASE COMPLETE to refuse an incoming call not yet answered, RELEASE after a
    /// received DISCONNECT, DISCONNECT (T305) otherwise.
    pub fn disconnect(
        &mut self,
        now: Instant,
        call: CallHandle,
        cause: CauseValue,
    ) -> Result<(), CallError> {
        let cause = self.cause(cause);
        let t305 = self.cfg.timers.t305;
        let c = self.call_mut(call)?;
        match c.stage {
            Stage::Null | Stage::ReleaseSent | Stage::DisconnectSent => {
                Err(CallError::WrongState {
                    command: "DISCONNECT",
                    stage: c.stage,
                })
            }
            // §5.2.5.1 / §5.3.2: an offered call is refused with RELEASE COMPLETE.
            Stage::Setup if !c.handle.ours => {
                let cr = c.call_ref();
                self.send(now, &Message::release_complete(cr, Some(cause.clone())));
                self.release_call(call, Some(cause));
                Ok(())
            }
            Stage::DisconnectReceived => {
                self.start_release(now, call, Some(cause));
                Ok(())
            }
            _ => {
                c.stage = Stage::DisconnectSent;
                c.t302 = None;
                c.setup = None;
                c.clear_cause = Some(cause.clone());
                c.start(Timer::T305, now + t305);
                let cr = c.call_ref();
                self.send(now, &Message::disconnect(cr, cause));
                Ok(())
            }
        }
    }

    /// Sends RELEASE (T308, §5.3.4), e.g. after a [`Event::Disconnecting`] with in-band
    /// information.
    pub fn release(
        &mut self,
        now: Instant,
        call: CallHandle,
        cause: CauseValue,
    ) -> Result<(), CallError> {
        let cause = self.cause(cause);
        let c = self.call_mut(call)?;
        if matches!(c.stage, Stage::Null | Stage::ReleaseSent) {
            return Err(CallError::WrongState {
                command: "RELEASE",
                stage: c.stage,
            });
        }
        self.start_release(now, call, Some(cause));
        Ok(())
    }

    /// RELEASE (with `cause` when given: the first clearing message, or a §5.8 report),
    /// T308, Release request state.
    pub(crate) fn start_release(&mut self, now: Instant, call: CallHandle, cause: Option<Cause>) {
        let t308 = self.cfg.timers.t308;
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.stage = Stage::ReleaseSent;
        c.t302 = None;
        c.setup = None;
        if c.clear_cause.is_none() {
            c.clear_cause = cause.clone();
        }
        c.start(Timer::T308, now + t308);
        let cr = c.call_ref();
        self.send(now, &Message::release(cr, cause));
    }

    // ---- received clearing messages ---------------------------------------------------

    /// DISCONNECT (§5.3.3 network side, §5.3.4 user side). `report`: a §5.8 cause the
    /// RELEASE in answer carries; `as_normal`: the cause was missing or bad (§5.8.6), act
    /// as for cause 31.
    pub(crate) fn disconnect_received(
        &mut self,
        now: Instant,
        call: CallHandle,
        msg: &Message,
        report: Option<Cause>,
        as_normal: bool,
    ) {
        let network = self.cfg.role == Role::Network;
        let auto = self.cfg.auto_release;
        let normal = Cause::new(CauseValue::NormalUnspecified, self.location());
        let cause = match msg.cause() {
            Some(c) if !as_normal => c.clone(),
            _ => normal,
        };
        let inband = super::establishment::inband(msg);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        match c.stage {
            Stage::Null | Stage::ReleaseSent | Stage::DisconnectReceived => {}
            // §5.3.5 clear collision: both sent DISCONNECT; stop T305, send RELEASE.
            Stage::DisconnectSent => {
                c.peer_cause = Some(cause);
                let release_cause = report.or_else(|| c.clear_cause.clone());
                self.start_release(now, call, release_cause);
            }
            _ => {
                c.stage = Stage::DisconnectReceived;
                c.stop();
                c.t302 = None;
                c.setup = None;
                c.peer_cause = Some(cause.clone());
                self.events.push_back(Event::Disconnecting {
                    call,
                    cause: cause.clone(),
                    inband,
                });
                // §5.3.3: the network answers RELEASE; §5.3.4.1: so does the user unless
                // it wants the in-band announcement.
                if network || (auto && !inband) {
                    self.start_release(now, call, report);
                }
            }
        }
    }

    /// RELEASE (§5.3.3 / §5.3.4; collision §5.3.5).
    pub(crate) fn release_received(
        &mut self,
        now: Instant,
        call: CallHandle,
        msg: &Message,
        report: Option<Cause>,
    ) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        // The cause that started the clearing: the peer's DISCONNECT, else this message's,
        // else ours.
        let cause = c
            .peer_cause
            .clone()
            .or_else(|| msg.cause().cloned())
            .or_else(|| c.clear_cause.clone());
        if c.stage != Stage::ReleaseSent {
            let cr = c.call_ref();
            self.send(now, &Message::release_complete(cr, report));
        }
        self.release_call(call, cause);
    }

    /// RELEASE COMPLETE (§5.3.3 / §5.3.4; also the refusal of our SETUP, §5.1.5 / §5.2.5).
    pub(crate) fn release_complete_received(&mut self, call: CallHandle, msg: &Message) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        // The cause that started the clearing: the peer's DISCONNECT, else this message's,
        // else ours.
        let cause = c
            .peer_cause
            .clone()
            .or_else(|| msg.cause().cloned())
            .or_else(|| c.clear_cause.clone());
        self.release_call(call, cause);
    }

    // ---- timer expiries (§9.1 Tables 9-1 and 9-2) --------------------------------------

    pub(crate) fn call_timeout(&mut self, now: Instant, call: CallHandle) {
        let user = self.cfg.role == Role::User;
        let t303 = self.cfg.timers.t303;
        let t308 = self.cfg.timers.t308;
        self.t322_timeout(now, call);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.t302.is_some_and(|t| t <= now) {
            // §5.2.4: end of dialling by time-out; the layer above decides whether the
            // number is complete (proceed) or not (clear with cause 28).
            c.t302 = None;
            self.events.push_back(Event::MoreInfo {
                call,
                digits: String::new(),
                sending_complete: true,
                timed_out: true,
            });
        }
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some((timer, at)) = c.timer else {
            return;
        };
        if at > now {
            return;
        }
        tracing::debug!(?timer, ?call, "timer expired");
        match timer {
            // §5.1.1 / §5.2.1: SETUP once more, then give up.
            Timer::T303 => {
                if c.expiries == 0 {
                    c.expiries = 1;
                    c.timer = Some((Timer::T303, now + t303));
                    if let Some(setup) = c.setup.clone() {
                        self.send_raw(now, &setup);
                    }
                } else {
                    let cr = c.call_ref();
                    let cause = self.cause(CauseValue::RecoveryOnTimerExpiry);
                    self.send(now, &Message::release_complete(cr, Some(cause.clone())));
                    let reported = if user {
                        cause
                    } else {
                        self.cause(CauseValue::NoUserResponding)
                    };
                    self.release_call(call, Some(reported));
                }
            }
            // §5.1.3 T304, §5.1.5 T310, §5.1.8 T313, §5.1.7 T301: clear with DISCONNECT.
            Timer::T304 | Timer::T310 | Timer::T313 | Timer::T301 => {
                c.stop();
                let value = if timer == Timer::T301 && !user {
                    CauseValue::NoAnswer
                } else {
                    CauseValue::RecoveryOnTimerExpiry
                };
                if let Err(e) = self.disconnect(now, call, value) {
                    tracing::debug!(%e, "clearing after timer expiry");
                }
            }
            // §5.3.3 / §5.3.4: no answer to DISCONNECT: RELEASE with the original cause.
            Timer::T305 => {
                let cause = c
                    .clear_cause
                    .clone()
                    .unwrap_or_else(|| self.cause(CauseValue::RecoveryOnTimerExpiry));
                self.start_release(now, call, Some(cause));
            }
            // §5.3.4.3: RELEASE once more; then release the call reference and leave the
            // channel in maintenance (it comes back with a RESTART).
            Timer::T308 => {
                if c.expiries == 0 {
                    c.expiries = 1;
                    c.timer = Some((Timer::T308, now + t308));
                    let cr = c.call_ref();
                    let cause = c.clear_cause.clone();
                    self.send(now, &Message::release(cr, cause));
                } else {
                    let cause = self.cause(CauseValue::RecoveryOnTimerExpiry);
                    self.release_call_to_maintenance(now, call, Some(cause));
                }
            }
            // T302 runs in its own slot (above), never in this one.
            Timer::T302 => c.stop(),
            // §5.8.8: the data link did not come back in time: clear internally.
            Timer::T309 => {
                let cause = self.cause(CauseValue::DestinationOutOfOrder);
                self.release_call(call, Some(cause));
            }
        }
    }
}
