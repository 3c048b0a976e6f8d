//! Q.931 §5.8 error handling on a call: the message checks of [`crate::validate`] applied
//! with the call state, §5.8.3.2 call reference procedures, §5.8.4 messages not compatible
//! with the state (cause 101) or unknown (cause 97), §5.8.10 STATUS ENQUIRY and §5.8.11
//! STATUS.

use std::time::Instant;

use tracing::{debug, warn};

use super::interface::Interface;
use super::state::Stage;
use super::{CallError, CallHandle};
use crate::ie::{CallStateValue, Cause, CauseValue};
use crate::lapd::Role;
use crate::message::{CallRefFlag, Direction, Message, MessageType};
use crate::validate::{self, Handling};

impl Interface {
    /// Asks the peer for its state of `call` (§5.8.10): STATUS ENQUIRY and T322. While
    /// T322 runs there is one enquiry outstanding: a second request sends nothing. The
    /// STATUS that answers is checked against our state (§5.8.11); without an answer the
    /// enquiry is repeated up to [`super::Timers::n322`] times, then the call is cleared
    /// (RELEASE, cause 41).
    pub fn status_enquiry(&mut self, now: Instant, call: CallHandle) -> Result<(), CallError> {
        self.call_mut(call)?;
        self.start_status_enquiry(now, call);
        Ok(())
    }

    /// §5.8.10: STATUS ENQUIRY with T322, unless T322 already runs.
    pub(crate) fn start_status_enquiry(&mut self, now: Instant, call: CallHandle) {
        let t322 = self.cfg.timers.t322;
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.t322.is_some() {
            return;
        }
        c.t322 = Some(now + t322);
        c.enquiries = 1;
        c.status_97 = None;
        let cr = c.call_ref();
        self.send(now, &Message::status_enquiry(cr));
    }

    /// T322 expired (§5.8.10): act on a STATUS with cause 97 if one came, else enquire
    /// again, else clear the call.
    pub(crate) fn t322_timeout(&mut self, now: Instant, call: CallHandle) {
        let (t322, n322) = (self.cfg.timers.t322, self.cfg.timers.n322);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.t322.is_none_or(|t| t > now) {
            return;
        }
        c.t322 = None;
        if let Some(theirs) = c.status_97.take() {
            c.enquiries = 0;
            self.check_peer_state(now, call, theirs, None);
        } else if c.enquiries < n322 {
            c.enquiries += 1;
            c.t322 = Some(now + t322);
            let cr = c.call_ref();
            self.send(now, &Message::status_enquiry(cr));
        } else {
            // The number of repetitions and what follows are the implementation's choice
            // (§5.8.10): the peer does not answer for this call, so it is cleared; T308 and
            // the restart procedure cover a peer that stays silent.
            c.enquiries = 0;
            warn!(?call, "STATUS ENQUIRY unanswered: clearing the call");
            if c.stage != Stage::ReleaseSent {
                let cause = self.cause(CauseValue::TemporaryFailure);
                self.start_release(now, call, Some(cause));
            }
        }
    }

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
        let Some(c) = self.calls.get_mut(&call) else {
            self.unknown_call_ref(now, call, msg, handling);
            return;
        };
        // §5.8.10: a clearing message stops T322; the clearing goes on.
        if msg.message_type.is_clearing() {
            c.stop_t322();
        }
        // Q.932 §8.2: supplementary service components (call transfer) come first; the
        // message's own procedure follows.
        if !self.transfers.is_empty() && !matches!(handling, Handling::Ignore) {
            self.transfer_message(now, call, msg);
        }
        if !matches!(handling, Handling::Ignore) {
            self.ect_inform_message(call, msg);
            if msg.message_type == MessageType::Facility {
                self.name_message(call, msg);
            }
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
            MessageType::Notify => {
                // §5.9: a notification for the user; one without a Notification indicator
                // (mandatory, §3.1.10) was already reported by the validation.
                if let Some(n) = msg.notification_indicator() {
                    self.events.push_back(super::Event::Notified {
                        call,
                        description: n.description,
                        redirection: msg.redirection_number().cloned(),
                    });
                }
                true
            }
            MessageType::Facility => true,
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

    /// §5.8.11: STATUS received on a call (with §5.8.10: the answer to our STATUS
    /// ENQUIRY).
    fn status_received(&mut self, now: Instant, call: CallHandle, msg: &Message) {
        let Some(theirs) = msg.call_state().map(|s| s.value) else {
            return;
        };
        let cause = msg.cause().map(|c| c.value);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.t322.is_some() {
            match cause {
                // §5.8.10: T322 keeps running for an explicit answer; this state is acted
                // on at its expiry.
                Some(CauseValue::MessageTypeNonExistent) => {
                    c.status_97 = Some(theirs);
                    return;
                }
                Some(CauseValue::ResponseToStatusEnquiry) => c.stop_t322(),
                _ => {}
            }
        }
        self.check_peer_state(now, call, theirs, msg.cause());
    }

    /// §5.8.11: the peer's state of `call` against ours.
    fn check_peer_state(
        &mut self,
        now: Instant,
        call: CallHandle,
        theirs: CallStateValue,
        cause: Option<&Cause>,
    ) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let ours = c.stage.state_value(self.cfg.role, c.handle.ours);
        if theirs == CallStateValue::Null {
            // c) The peer has no such call: release ours internally. The cause reported is
            // the STATUS's own unless it merely answers an enquiry: then 41, temporary
            // failure, as §5.8.11 c) has the network clear with.
            let cause = match cause {
                Some(c) if c.value != CauseValue::ResponseToStatusEnquiry => c.clone(),
                _ => self.cause(CauseValue::TemporaryFailure),
            };
            self.release_call(call, Some(cause));
            return;
        }
        // b) In the Release request state, nothing.
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
