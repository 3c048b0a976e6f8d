//! Q.931 §5.8 error handling on a call: the message checks of [`crate::validate`] applied
//! with the call state, §5.8.3.2 call reference procedures, §5.8.4 messages not compatible
//! with the state (cause 101) or unknown (cause 97), §5.8.10 STATUS ENQUIRY and §5.8.11
//! STATUS.

use std::time::Instant;

use tracing::debug;

use super::interface::Interface;
use super::state::Stage;
use super::CallHandle;
use crate::ie::{CallStateValue, Cause, CauseValue};
use crate::lapd::Role;
use crate::message::{CallRefFlag, Direction, Message, MessageType};
use crate::validate::{self, Handling};

impl Interface {
    /// A message on an ordinary call reference.
    pub(crate) fn handle_call_message(&mut self, now: Instant, msg: &Message) {
        let direction = match self.cfg.role {
            Role::User => Direction::NetworkToUser,
            Role::Network => Direction::UserToNetwork,
        };
        let handling = validate::check(msg, direction).handling(self.location());
        let call = CallHandle {
            call_ref: msg.call_ref.value,
            // Flag 1: the message goes to the originator of the call reference: us.
            ours: msg.call_ref.flag == CallRefFlag::ToOriginator,
        };
        if !self.calls.contains_key(&call) {
            self.unknown_call_ref(now, call, msg, handling);
            return;
        }
        let mut report = None;
        let mut as_normal = false;
        match handling {
            Handling::Process => {}
            Handling::Ignore => return,
            Handling::ProcessAndReport(c) => report = Some(c),
            Handling::ClearAsNormal(c) => {
                report = Some(c);
                as_normal = true;
            }
            Handling::Status(c) => {
                self.send_status(now, call, c);
                return;
            }
            // §5.8.3.2 f): SETUP on a call reference in use: ignored.
            Handling::RejectSetup(_) => return,
            Handling::UnknownMessageType(octet) => {
                let c = validate::message_type_cause(
                    CauseValue::MessageTypeNonExistent,
                    octet,
                    self.location(),
                );
                self.send_status(now, call, c);
                return;
            }
            Handling::GlobalCallRefStatus(_) => return,
        }
        let accepted = match msg.message_type {
            MessageType::Setup => true,
            MessageType::SetupAcknowledge
            | MessageType::CallProceeding
            | MessageType::Alerting
            | MessageType::Connect => self.answer_to_setup(now, call, msg),
            MessageType::ConnectAcknowledge => self.connect_acknowledge(call),
            MessageType::Progress => self.progress_received(call, msg),
            MessageType::Information => {
                self.information_received(now, call, msg);
                true
            }
            MessageType::Disconnect => {
                let r = report.take();
                self.disconnect_received(now, call, msg, r, as_normal);
                true
            }
            MessageType::Release => {
                let r = report.take();
                self.release_received(now, call, msg, r);
                true
            }
            MessageType::ReleaseComplete => {
                report = None;
                self.release_complete_received(call, msg);
                true
            }
            MessageType::StatusEnquiry => {
                // §5.8.10: STATUS with cause 30 and our state.
                let c = self.cause(CauseValue::ResponseToStatusEnquiry);
                self.send_status(now, call, c);
                true
            }
            MessageType::Status => {
                self.status_received(now, call, msg);
                true
            }
            MessageType::Notify | MessageType::Facility => true,
            // Basic-rate suspension, user information, congestion control, segmentation:
            // not implemented on this PRI (§5.8.4: cause 97).
            other => {
                let c = validate::message_type_cause(
                    CauseValue::MessageTypeNonExistent,
                    other.octet(),
                    self.location(),
                );
                self.send_status(now, call, c);
                return;
            }
        };
        if !accepted && self.calls.contains_key(&call) {
            // §5.8.4: a message not compatible with the call state: STATUS, cause 101.
            let c = validate::message_type_cause(
                CauseValue::MessageNotCompatibleWithState,
                msg.message_type.octet(),
                self.location(),
            );
            self.send_status(now, call, c);
            return;
        }
        if let Some(c) = report {
            if self.calls.contains_key(&call) {
                self.send_status(now, call, c);
            }
        }
    }

    /// §5.8.3.2: a message whose call reference is not in use.
    fn unknown_call_ref(
        &mut self,
        now: Instant,
        call: CallHandle,
        msg: &Message,
        handling: Handling,
    ) {
        let cr = msg.call_ref.reply();
        let invalid = self.cause(CauseValue::InvalidCallReference);
        match msg.message_type {
            MessageType::Setup if !call.ours => match handling {
                Handling::Ignore => {}
                // §5.8.6.1 / §5.8.6.2: RELEASE COMPLETE with cause 96 or 100.
                Handling::RejectSetup(c) => self.send(now, &Message::release_complete(cr, Some(c))),
                _ => self.incoming_setup(now, call, msg),
            },
            // b) RELEASE COMPLETE: nothing.
            MessageType::ReleaseComplete => {}
            // c) RELEASE: RELEASE COMPLETE.
            MessageType::Release => self.send(now, &Message::release_complete(cr, Some(invalid))),
            // §5.8.11 / e): STATUS for an unknown call: nothing if it says Null, else
            // RELEASE COMPLETE cause 101.
            MessageType::Status => {
                let null = msg
                    .call_state()
                    .is_some_and(|s| s.value == CallStateValue::Null);
                if !null {
                    let c = self.cause(CauseValue::MessageNotCompatibleWithState);
                    self.send(now, &Message::release_complete(cr, Some(c)));
                }
            }
            // f): STATUS ENQUIRY: STATUS reporting the Null state.
            MessageType::StatusEnquiry => {
                let c = self.cause(CauseValue::ResponseToStatusEnquiry);
                self.send_status(now, call, c);
            }
            // §5.8.4: unknown message types in the Null state are ignored.
            MessageType::Unknown(_) => {}
            // a) anything else: RELEASE COMPLETE, cause 81.
            _ => self.send(now, &Message::release_complete(cr, Some(invalid))),
        }
    }

    /// §5.8.11: STATUS received on a call.
    fn status_received(&mut self, now: Instant, call: CallHandle, msg: &Message) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let ours = c.stage.state_value(self.cfg.role, c.handle.ours);
        let Some(theirs) = msg.call_state().map(|s| s.value) else {
            return;
        };
        if theirs == CallStateValue::Null {
            // The peer has no such call: release ours internally.
            let cause = msg.cause().cloned();
            self.release_call(call, cause);
            return;
        }
        if c.stage == Stage::ReleaseSent {
            return;
        }
        if !compatible(ours, theirs) {
            debug!(?ours, ?theirs, "STATUS: states not compatible");
            let cause = Cause::new(CauseValue::MessageNotCompatibleWithState, self.location());
            self.start_release(now, call, Some(cause));
        }
    }
}

/// §5.8.11: whether the state the peer reports fits ours, allowing for messages in flight.
/// Both sides number states from the user's view (U3 faces N3), so equal numbers always fit;
/// other pairs fit when one message in transit separates them.
fn compatible(ours: CallStateValue, theirs: CallStateValue) -> bool {
    use CallStateValue as V;
    if ours == theirs {
        return true;
    }
    let group = |s: CallStateValue| match s {
        V::CallInitiated | V::OverlapSending | V::OutgoingCallProceeding | V::CallDelivered => 1,
        V::CallPresent
        | V::OverlapReceiving
        | V::IncomingCallProceeding
        | V::CallReceived
        | V::ConnectRequest => 2,
        V::Active => 3,
        V::DisconnectRequest | V::DisconnectIndication | V::ReleaseRequest => 4,
        _ => 0,
    };
    match (group(ours), group(theirs)) {
        (0, _) | (_, 0) => false,
        // Establishment states of the same call direction, answers in flight.
        (a, b) if a == b => true,
        // CONNECT / CONNECT ACKNOWLEDGE in flight.
        (3, 1 | 2) | (1 | 2, 3) => matches!(
            (ours, theirs),
            (
                V::Active,
                V::CallDelivered | V::OutgoingCallProceeding | V::OverlapSending
            ) | (
                V::Active,
                V::ConnectRequest | V::CallReceived | V::IncomingCallProceeding
            ) | (
                V::CallDelivered | V::OutgoingCallProceeding | V::OverlapSending,
                V::Active
            ) | (
                V::ConnectRequest | V::CallReceived | V::IncomingCallProceeding,
                V::Active
            )
        ),
        // Clearing crossing anything.
        (4, _) | (_, 4) => true,
        _ => false,
    }
}
