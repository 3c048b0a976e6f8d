//! Transfer of two calls to each other by the switch, taking this interface out of both:
//! ETSI Explicit Call Transfer (EN 300 369-1 §9.2.2, explicit procedure with the link
//! identifier) and NI-2 Two B-channel Transfer (GR-2865-CORE), invoked in FACILITY
//! messages (Q.932 §8.2 functional protocol) on calls of this D-channel.
//!
//! ETSI ECT, served user side:
//! ```text
//!  FACILITY(call A, invoke EctLinkIdRequest)           →
//!                                                      ← FACILITY(call A, result LinkId)
//!  FACILITY(call B, invoke ExplicitEctExecute(LinkId)) →
//!                                                      ← DISCONNECT/FACILITY(call B, result)
//!                                                      ← DISCONNECT(call A), (call B)
//! ```
//! A Return Error or Reject at either step ends the attempt with the calls kept.
//!
//! NI-2 2BCT: FACILITY(call A, invoke InitiateTransfer(call reference of B)); the switch
//! answers by clearing the calls (no Return Result is defined for it in libpri's
//! coding): the first clearing message on A or B after the invoke completes the
//! transfer; a Return Error or Reject fails it.
//!
//! No answer within [`RESPONSE_TIMEOUT`] fails the attempt (libpri's T-RESPONSE default
//! for remote operations, 4 s).

use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::state::Stage;
use super::{CallError, CallHandle, Event, Interface};
use crate::ie::InfoElement;
use crate::message::{Message, MessageType};
use crate::supplementary::ect::{self, EctError, LinkId};
use crate::supplementary::rose::{Code, Component, InvokeId, Problem};
use crate::supplementary::two_bct::{self, TransferCallRef};
use crate::supplementary::FacilityApdus;

/// How long an invoke waits for its answer.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(4);

/// Which supplementary service joins the two calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferMethod {
    /// ETSI Explicit Call Transfer, EN 300 369-1 (explicit procedure with LinkId).
    EtsiEct,
    /// NI-2 Two B-channel Transfer, GR-2865-CORE.
    Ni2TwoBct,
}

/// Why a transfer did not happen. The calls are left as they were, unless
/// [`TransferFailure::CallCleared`] says one is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferFailure {
    /// The network answered with a Return Error.
    Error(EctError),
    /// The network rejected the invoke (X.219 problem).
    Rejected(Problem),
    /// No answer within [`RESPONSE_TIMEOUT`].
    Timeout,
    /// One of the calls was cleared before the transfer completed.
    CallCleared(CallHandle),
    /// The link identifier result could not be read.
    BadResult,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// ECT: EctLinkIdRequest sent on `a`.
    LinkId,
    /// ECT: ExplicitEctExecute sent on `b`.
    Execute,
    /// 2BCT: InitiateTransfer sent on `a`; the switch's clearing completes it.
    Clearing,
}

/// A transfer in progress.
#[derive(Debug, Clone)]
pub(crate) struct PendingTransfer {
    a: CallHandle,
    b: CallHandle,
    method: TransferMethod,
    step: Step,
    invoke: InvokeId,
    deadline: Instant,
}

/// What one component did to a pending transfer.
enum Outcome {
    Continue,
    Done,
    Failed(TransferFailure),
    /// ECT: the link identifier arrived; send the execute on `b`.
    Execute(LinkId),
}

impl Interface {
    /// Asks the switch to connect the remote parties of calls `a` and `b` and release
    /// both from this interface. Both calls must be active (or, for the second, at least
    /// delivered). The result comes as [`Event::TransferCompleted`] (the calls are then
    /// cleared by the network as usual: `Disconnecting`, `Released`) or
    /// [`Event::TransferFailed`] (the calls go on).
    pub fn transfer(
        &mut self,
        now: Instant,
        a: CallHandle,
        b: CallHandle,
        method: TransferMethod,
    ) -> Result<(), CallError> {
        for h in [a, b] {
            let c = self.call_mut(h)?;
            if !(c.stage == Stage::Active || c.stage.is_establishing()) {
                return Err(CallError::WrongState {
                    command: "transfer",
                    stage: c.stage,
                });
            }
        }
        if a == b
            || self
                .transfers
                .iter()
                .any(|t| [t.a, t.b].contains(&a) || [t.a, t.b].contains(&b))
        {
            return Err(CallError::TransferPending);
        }
        let invoke = self.next_invoke_id();
        let (component, step) = match method {
            TransferMethod::EtsiEct => (ect::link_id_request(invoke), Step::LinkId),
            TransferMethod::Ni2TwoBct => (
                two_bct::initiate_transfer(
                    invoke,
                    TransferCallRef {
                        value: b.call_ref,
                        sender_originated: b.ours,
                    },
                ),
                Step::Clearing,
            ),
        };
        info!(?a, ?b, ?method, %invoke, "transfer invoked");
        self.send_component(now, a, component)?;
        self.transfers.push(PendingTransfer {
            a,
            b,
            method,
            step,
            invoke,
            deadline: now + RESPONSE_TIMEOUT,
        });
        Ok(())
    }

    /// Whether a transfer involving `call` is in progress.
    pub fn transfer_pending(&self, call: CallHandle) -> bool {
        self.transfers.iter().any(|t| t.a == call || t.b == call)
    }

    pub(super) fn next_invoke_id(&mut self) -> InvokeId {
        // Q.932 §8.2.2.1 / ETSI: -32768..32767; positive and unique while outstanding.
        self.next_invoke = if self.next_invoke >= 0x7FFF {
            1
        } else {
            self.next_invoke + 1
        };
        InvokeId(i32::from(self.next_invoke))
    }

    pub(super) fn send_component(
        &mut self,
        now: Instant,
        call: CallHandle,
        c: Component,
    ) -> Result<(), CallError> {
        let cr = self.call_mut(call)?.call_ref();
        let msg = Message::facility(cr, FacilityApdus::rose(vec![c]).to_facility());
        self.send_keep(now, &msg)?;
        Ok(())
    }

    /// Q.932 §8.2: the components of every Facility element of a message on `call`
    /// (FACILITY, or a call control message carrying one such as DISCONNECT), and the
    /// clearing that completes a 2BCT. Called before the message's own procedure.
    pub(crate) fn transfer_message(&mut self, now: Instant, call: CallHandle, msg: &Message) {
        if self.transfers.is_empty() {
            return;
        }
        for ie in &msg.ies {
            let InfoElement::Facility(f) = ie else {
                continue;
            };
            match FacilityApdus::from_facility(f) {
                Ok(apdus) => {
                    for c in &apdus.components {
                        self.transfer_component(now, call, c);
                    }
                }
                Err(e) => debug!(%e, ?call, "facility not understood"),
            }
        }
        if matches!(
            msg.message_type,
            MessageType::Disconnect | MessageType::Release | MessageType::ReleaseComplete
        ) {
            if let Some(i) = self
                .transfers
                .iter()
                .position(|t| t.step == Step::Clearing && (t.a == call || t.b == call))
            {
                let t = self.transfers.remove(i);
                info!(a = ?t.a, b = ?t.b, "2BCT: the switch cleared the calls, transfer done");
                self.events.push_back(Event::TransferCompleted {
                    a: t.a,
                    b: t.b,
                    method: t.method,
                });
            }
        }
    }

    fn transfer_component(&mut self, now: Instant, call: CallHandle, c: &Component) {
        let Some(id) = c.invoke_id() else {
            return;
        };
        let Some(i) = self
            .transfers
            .iter()
            .position(|t| t.invoke == id && (t.a == call || t.b == call))
        else {
            return;
        };
        let t = self.transfers[i].clone();
        let outcome = match c {
            Component::Invoke { .. } => Outcome::Continue,
            Component::ReturnResult { .. } => match t.step {
                Step::LinkId => match ect::link_id_of(c) {
                    Some(l) => Outcome::Execute(l),
                    None => Outcome::Failed(TransferFailure::BadResult),
                },
                Step::Execute | Step::Clearing => Outcome::Done,
            },
            Component::ReturnError { error, .. } => {
                Outcome::Failed(TransferFailure::Error(EctError::from_code(error)))
            }
            Component::Reject { problem, .. } => {
                Outcome::Failed(TransferFailure::Rejected(*problem))
            }
        };
        match outcome {
            Outcome::Continue => {}
            Outcome::Done => {
                self.transfers.remove(i);
                info!(a = ?t.a, b = ?t.b, "transfer confirmed by the network");
                self.events.push_back(Event::TransferCompleted {
                    a: t.a,
                    b: t.b,
                    method: t.method,
                });
            }
            Outcome::Failed(reason) => {
                self.transfers.remove(i);
                warn!(a = ?t.a, b = ?t.b, ?reason, "transfer failed");
                self.events.push_back(Event::TransferFailed {
                    a: t.a,
                    b: t.b,
                    reason,
                });
            }
            Outcome::Execute(link) => {
                let invoke = self.next_invoke_id();
                debug!(?link, %invoke, "ECT: link id received, executing on the other call");
                match self.send_component(now, t.b, ect::explicit_ect_execute(invoke, link)) {
                    Ok(()) => {
                        let p = &mut self.transfers[i];
                        p.step = Step::Execute;
                        p.invoke = invoke;
                        p.deadline = now + RESPONSE_TIMEOUT;
                    }
                    Err(e) => {
                        self.transfers.remove(i);
                        warn!(%e, "ECT execute not sent");
                        let reason = match e {
                            CallError::UnknownCall(h) => TransferFailure::CallCleared(h),
                            _ => TransferFailure::Error(EctError::Other(Code::Local(-1))),
                        };
                        self.events.push_back(Event::TransferFailed {
                            a: t.a,
                            b: t.b,
                            reason,
                        });
                    }
                }
            }
        }
    }

    /// A call is gone: a transfer waiting on it fails (2BCT and a confirmed ECT were
    /// settled before the release by [`Interface::transfer_message`]).
    pub(crate) fn transfer_call_released(&mut self, call: CallHandle) {
        while let Some(i) = self
            .transfers
            .iter()
            .position(|t| t.a == call || t.b == call)
        {
            let t = self.transfers.remove(i);
            self.events.push_back(Event::TransferFailed {
                a: t.a,
                b: t.b,
                reason: TransferFailure::CallCleared(call),
            });
        }
    }

    pub(crate) fn transfer_deadline(&self) -> Option<Instant> {
        self.transfers.iter().map(|t| t.deadline).min()
    }

    pub(crate) fn transfer_timeouts(&mut self, now: Instant) {
        while let Some(i) = self.transfers.iter().position(|t| t.deadline <= now) {
            let t = self.transfers.remove(i);
            warn!(a = ?t.a, b = ?t.b, "transfer: no answer from the network");
            self.events.push_back(Event::TransferFailed {
                a: t.a,
                b: t.b,
                reason: TransferFailure::Timeout,
            });
        }
    }
}
