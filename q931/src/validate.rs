//! The error procedures of Q.931 §5.8, as far as they depend on the message alone.
//!
//! [`check`] lists every problem found in a decoded [`Message`] with the clause it falls
//! under; [`Report::handling`] turns the list into what the receiver must do and which
//! cause (with diagnostics) to send. What depends on the call state stays with the call
//! control layer: §5.8.3.2 call reference procedures (unknown call reference, SETUP with
//! the flag set, ...), choosing cause 97 or 98 for an unknown message type in a given
//! state (§5.8.4, see [`message_type_cause`]) and cause 101 for a message not compatible
//! with the call state (§5.8.4).
//!
//! Decode errors ([`crate::DecodeError`]: §5.8.1 protocol discriminator, §5.8.2 message too
//! short, §5.8.3.1 call reference format) mean "ignore the message"; they never reach here.

use crate::codeset::{Codeset, CodesetTracker, Shift, ShiftOutcome};
use crate::error::IeError;
use crate::ie::{
    CallState, CallStateValue, Cause, CauseValue, IeId, InfoElement, Location, RestartClass,
};
use crate::message::{mandatory_ies, CallRefFlag, Direction, Message, MessageType};

/// One problem found in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// §5.8.3.2: the global call reference with a message other than RESTART, RESTART
    /// ACKNOWLEDGE or STATUS (cause 81, STATUS on the global call reference).
    GlobalCallRefNotAllowed,
    /// §5.8.3.2: a SETUP whose call reference flag is 1 (it claims to answer a call
    /// reference the sender did not originate): the message is ignored.
    SetupWithFlagSet,
    /// §5.8.4: message type not recognised (cause 97 or 98, decided with the call state).
    UnknownMessageType(u8),
    /// §5.8.6.1: a mandatory element is missing (cause 96).
    MissingMandatory(IeId),
    /// §5.8.6.2: a mandatory element has invalid contents (cause 100).
    MandatoryContentError(IeId, IeError),
    /// §5.8.7.1: an unrecognised codeset 0 element whose identifier has bits 5–8 = 0000,
    /// "comprehension required": handled as a missing mandatory element (cause 96).
    ComprehensionRequired(IeId),
    /// §5.8.7.1: an unrecognised element (cause 99); the message is acted upon.
    Unrecognised { codeset: Codeset, id: u8 },
    /// §5.8.7.2: a non-mandatory element with invalid contents (cause 100); the message is
    /// acted upon as if the element were absent.
    ContentError(IeId, IeError),
    /// §5.8.5.1: a variable-length element of lower identifier than the one before it.
    /// This implementation processes such elements (the clause leaves it to the
    /// implementation), so this is informational.
    OutOfSequence(IeId),
    /// §5.8.5.2: a repeated element where repetition is not permitted: only the first one
    /// is handled, the rest ignored.
    Repeated(IeId),
    /// §4.5.2: a locking shift to a codeset not higher than the active one; the shift is
    /// ignored.
    InvalidShift(Shift),
}

impl Problem {
    /// The clause of Q.931 this falls under.
    pub const fn clause(&self) -> &'static str {
        match self {
            Problem::GlobalCallRefNotAllowed | Problem::SetupWithFlagSet => "5.8.3.2",
            Problem::UnknownMessageType(_) => "5.8.4",
            Problem::MissingMandatory(_) => "5.8.6.1",
            Problem::MandatoryContentError(..) => "5.8.6.2",
            Problem::ComprehensionRequired(_) | Problem::Unrecognised { .. } => "5.8.7.1",
            Problem::ContentError(..) => "5.8.7.2",
            Problem::OutOfSequence(_) => "5.8.5.1",
            Problem::Repeated(_) => "5.8.5.2",
            Problem::InvalidShift(_) => "4.5.2",
        }
    }

    /// The cause value this problem calls for, if it calls for one.
    pub const fn cause_value(&self) -> Option<CauseValue> {
        match self {
            Problem::GlobalCallRefNotAllowed => Some(CauseValue::InvalidCallReference),
            Problem::UnknownMessageType(_) => Some(CauseValue::MessageTypeNonExistent),
            Problem::MissingMandatory(_) | Problem::ComprehensionRequired(_) => {
                Some(CauseValue::MandatoryIeMissing)
            }
            Problem::MandatoryContentError(..) | Problem::ContentError(..) => {
                Some(CauseValue::InvalidIeContents)
            }
            Problem::Unrecognised { .. } => Some(CauseValue::IeNonExistent),
            Problem::SetupWithFlagSet
            | Problem::OutOfSequence(_)
            | Problem::Repeated(_)
            | Problem::InvalidShift(_) => None,
        }
    }

    /// `true` for the problems that stop the message from being acted upon normally
    /// (§5.8.6: mandatory element missing or wrong).
    pub const fn is_mandatory_error(&self) -> bool {
        matches!(
            self,
            Problem::MissingMandatory(_)
                | Problem::MandatoryContentError(..)
                | Problem::ComprehensionRequired(_)
        )
    }

    /// The element identifier concerned, for the cause diagnostics (Q.850 Table 2).
    fn ie_id(&self) -> Option<u8> {
        match self {
            Problem::MissingMandatory(id)
            | Problem::MandatoryContentError(id, _)
            | Problem::ComprehensionRequired(id)
            | Problem::ContentError(id, _) => Some(id.0),
            Problem::Unrecognised { id, .. } => Some(*id),
            _ => None,
        }
    }
}

/// What the receiver of a message must do, §5.8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handling {
    /// Nothing calls for an answer: act on the message.
    Process,
    /// §5.8.3.2: ignore the message, answer nothing.
    Ignore,
    /// §5.8.7.1 / §5.8.7.2: act on the message (ignoring the bad or unknown elements). The
    /// sender may be told: with STATUS carrying this cause; when the message is DISCONNECT,
    /// the RELEASE sent in answer carries it; when RELEASE, the RELEASE COMPLETE does.
    ProcessAndReport(Cause),
    /// §5.8.6.1 / §5.8.6.2 for SETUP: do not act on it; answer RELEASE COMPLETE with this
    /// cause.
    RejectSetup(Cause),
    /// §5.8.6.1 / §5.8.6.2 for DISCONNECT, RELEASE, RELEASE COMPLETE: clear as if cause 31
    /// "normal, unspecified" had been received; the RELEASE (answering DISCONNECT) or
    /// RELEASE COMPLETE (answering RELEASE) carries this cause. Nothing is sent for RELEASE
    /// COMPLETE.
    ClearAsNormal(Cause),
    /// §5.8.6.1 / §5.8.6.2 for other messages: do not act on it; answer STATUS with this
    /// cause.
    Status(Cause),
    /// §5.8.4: unknown message type. In the Null state ignore it (except as §5.8.3.2
    /// says); otherwise answer STATUS with cause 97 or 98 (see [`message_type_cause`]).
    UnknownMessageType(u8),
    /// §5.8.3.2: global call reference with a message that may not use it: take no action
    /// and answer STATUS on the global call reference with this cause (81).
    GlobalCallRefStatus(Cause),
}

impl Handling {
    /// The message §5.8 calls for in answer to `received`, for a call in `state` (the call
    /// state reported in a STATUS), on the same call reference with the flag flipped:
    /// STATUS for [`Handling::Status`], [`Handling::ProcessAndReport`] (except for clearing
    /// messages) and [`Handling::GlobalCallRefStatus`]; RELEASE COMPLETE for
    /// [`Handling::RejectSetup`]; the RELEASE answering a DISCONNECT or the RELEASE COMPLETE
    /// answering a RELEASE for [`Handling::ClearAsNormal`] and [`Handling::ProcessAndReport`].
    /// `None` when nothing is sent, and for [`Handling::UnknownMessageType`], whose cause (97 or
    /// 98) depends on the state: build that STATUS with [`message_type_cause`].
    pub fn answer(&self, received: &Message, state: CallStateValue) -> Option<Message> {
        let cr = received.call_ref.reply();
        let clearing = |cause: &Cause| match received.message_type {
            MessageType::Disconnect => Some(Message::release(cr, Some(cause.clone()))),
            MessageType::Release => Some(Message::release_complete(cr, Some(cause.clone()))),
            _ => None,
        };
        match self {
            Handling::Process | Handling::Ignore | Handling::UnknownMessageType(_) => None,
            Handling::RejectSetup(c) => Some(Message::release_complete(cr, Some(c.clone()))),
            Handling::ClearAsNormal(c) => clearing(c),
            Handling::ProcessAndReport(c) => {
                if received.message_type.is_clearing() {
                    clearing(c)
                } else {
                    Some(Message::status(cr, c.clone(), CallState::new(state)))
                }
            }
            Handling::Status(c) | Handling::GlobalCallRefStatus(c) => {
                Some(Message::status(cr, c.clone(), CallState::new(state)))
            }
        }
    }
}

/// The problems found in one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub message_type: MessageType,
    /// In the order found (mandatory checks after the element walk).
    pub problems: Vec<Problem>,
}

impl Report {
    /// `true` if nothing at all was found.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// What §5.8 requires of the receiver, with causes located at `location` (the
    /// receiver's own: [`Location::User`] on the user side, e.g.
    /// [`Location::PublicLocal`] on the network side).
    pub fn handling(&self, location: Location) -> Handling {
        if self.problems.contains(&Problem::SetupWithFlagSet) {
            return Handling::Ignore;
        }
        if self.problems.contains(&Problem::GlobalCallRefNotAllowed) {
            return Handling::GlobalCallRefStatus(Cause::new(
                CauseValue::InvalidCallReference,
                location,
            ));
        }
        if let MessageType::Unknown(octet) = self.message_type {
            return Handling::UnknownMessageType(octet);
        }
        let mandatory: Vec<&Problem> = self
            .problems
            .iter()
            .filter(|p| p.is_mandatory_error())
            .collect();
        if let Some(first) = mandatory.first() {
            // All missing ones are reported if the first is a missing one, else the content
            // errors (one cause per STATUS).
            let value = first.cause_value().unwrap_or(CauseValue::InvalidMessage);
            let diag: Vec<u8> = mandatory
                .iter()
                .filter(|p| p.cause_value() == Some(value))
                .filter_map(|p| p.ie_id())
                .collect();
            let cause = Cause::new(value, location).with_diagnostics(&diag);
            return match self.message_type {
                MessageType::Setup => Handling::RejectSetup(cause),
                MessageType::Disconnect | MessageType::Release | MessageType::ReleaseComplete => {
                    Handling::ClearAsNormal(cause)
                }
                _ => Handling::Status(cause),
            };
        }
        if self.message_type == MessageType::ReleaseComplete {
            // §5.8.7.1 c): no action on unrecognised information in RELEASE COMPLETE.
            return Handling::Process;
        }
        let reportable = self
            .problems
            .iter()
            .find(|p| matches!(p, Problem::Unrecognised { .. } | Problem::ContentError(..)));
        match reportable {
            Some(first) => {
                let value = first.cause_value().unwrap_or(CauseValue::InvalidMessage);
                let diag: Vec<u8> = self
                    .problems
                    .iter()
                    .filter(|p| {
                        p.cause_value() == Some(value)
                            && !matches!(p, Problem::Unrecognised { codeset, .. } if *codeset != Codeset::Q931)
                    })
                    .filter_map(|p| p.ie_id())
                    .fold(Vec::new(), |mut ids, id| {
                        // Each element once, however often it came.
                        if !ids.contains(&id) {
                            ids.push(id);
                        }
                        ids
                    });
                Handling::ProcessAndReport(Cause::new(value, location).with_diagnostics(&diag))
            }
            None => Handling::Process,
        }
    }
}

/// A cause for §5.8.4 / §5.8.3.2 style answers that carry the offending message type as
/// diagnostic (Q.850 Table 2: causes 97, 98, 101): `value` is one of those.
pub fn message_type_cause(value: CauseValue, message_type: u8, location: Location) -> Cause {
    Cause::new(value, location).with_diagnostics(&[message_type])
}

/// Elements that may legitimately appear more than once (§4.5.23 progress indicator,
/// §4.5.24 repeat indicator lists for bearer capability / LLC / HLC, RELEASE with two
/// causes, several channels in RESTART, several facility components).
const fn repeatable(id: u8) -> bool {
    matches!(id, 0x04 | 0x08 | 0x18 | 0x1C | 0x1E | 0x28 | 0x7C | 0x7D)
}

/// Lists the §5.8 problems of a message that travelled in `direction`.
pub fn check(msg: &Message, direction: Direction) -> Report {
    let mut problems = Vec::new();
    if msg.call_ref.is_global() && !msg.message_type.allows_global_call_ref() {
        problems.push(Problem::GlobalCallRefNotAllowed);
    }
    if msg.message_type == MessageType::Setup
        && !msg.call_ref.is_dummy()
        && msg.call_ref.flag == CallRefFlag::ToOriginator
    {
        problems.push(Problem::SetupWithFlagSet);
    }
    if let MessageType::Unknown(o) = msg.message_type {
        problems.push(Problem::UnknownMessageType(o));
    }
    let mandatory = mandatory_ies(msg.message_type, direction);
    let mut codesets = CodesetTracker::default();
    let mut seen = [false; 128];
    let mut last_var: Option<u8> = None;
    for ie in &msg.ies {
        if let InfoElement::Shift(s) = ie {
            if codesets.shift(*s) == ShiftOutcome::LockingToLowerOrSame {
                problems.push(Problem::InvalidShift(*s));
            }
            continue;
        }
        let codeset = codesets.current();
        codesets.element_done();
        let id = ie.id();
        if codeset != Codeset::Q931 {
            if let InfoElement::Unknown(r) = ie {
                problems.push(Problem::Unrecognised { codeset, id: r.id });
            }
            continue;
        }
        if !id.is_single_octet() {
            let idx = (id.0 & 0x7F) as usize;
            if let Some(last) = last_var {
                if id.0 < last {
                    problems.push(Problem::OutOfSequence(id));
                }
            }
            last_var = Some(last_var.map_or(id.0, |l| l.max(id.0)));
            if seen[idx] && !repeatable(id.0) {
                problems.push(Problem::Repeated(id));
                continue;
            }
            seen[idx] = true;
        }
        match ie {
            InfoElement::Unknown(r) => {
                let rid = IeId(r.id);
                if rid.is_single_octet() {
                    if !matches!(r.id & 0xF0, 0xA0 | 0xB0 | 0xD0) {
                        problems.push(Problem::Unrecognised { codeset, id: r.id });
                    }
                } else if !rid.is_recognised() {
                    if rid.comprehension_required() {
                        problems.push(Problem::ComprehensionRequired(rid));
                    } else {
                        problems.push(Problem::Unrecognised { codeset, id: r.id });
                    }
                }
            }
            InfoElement::Invalid(r) => {
                let rid = IeId(r.id);
                if mandatory.contains(&rid) {
                    problems.push(Problem::MandatoryContentError(rid, r.error));
                } else {
                    problems.push(Problem::ContentError(rid, r.error));
                }
            }
            _ => {}
        }
    }
    for id in mandatory {
        if !seen[(id.0 & 0x7F) as usize] {
            problems.push(Problem::MissingMandatory(*id));
        }
    }
    // §3.4.1 RESTART, note: channel identification is mandatory when the class is
    // "indicated channels".
    if matches!(
        msg.message_type,
        MessageType::Restart | MessageType::RestartAcknowledge
    ) {
        if let Some(ri) = msg.restart_indicator() {
            if ri.class == RestartClass::IndicatedChannels && !seen[IeId::CHANNEL_ID.0 as usize] {
                problems.push(Problem::MissingMandatory(IeId::CHANNEL_ID));
            }
        }
    }
    Report {
        message_type: msg.message_type,
        problems,
    }
}
