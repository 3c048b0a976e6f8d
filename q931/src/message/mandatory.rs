//! Mandatory information elements per message, Q.931 §3.1 message tables (ETSI EN 300 403
//! §3.1 agrees for basic call), for the §5.8.6.1 check.
//!
//! Only unconditionally mandatory elements are listed. Conditional ones depend on the call
//! (the call-control layer checks them): channel identification in the network's first
//! response to a SETUP (CALL PROCEEDING, ALERTING, CONNECT, SETUP ACKNOWLEDGE: notes to
//! their §3.1 tables), the cause in RELEASE / RELEASE COMPLETE when they are the
//! first clearing message, and channel identification in RESTART when the class is
//! "indicated channels" ([`crate::validate`] checks that one, it needs no call state).

use crate::ie::IeId;
use crate::message::MessageType;

/// The direction a message travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Sent by the user side (TE / CPE), received by the network side.
    UserToNetwork,
    /// Sent by the network side, received by the user side.
    NetworkToUser,
}

const NONE: &[IeId] = &[];
const BC: &[IeId] = &[IeId::BEARER_CAPABILITY];
const BC_CHAN: &[IeId] = &[IeId::BEARER_CAPABILITY, IeId::CHANNEL_ID];
const CHAN: &[IeId] = &[IeId::CHANNEL_ID];
const CAUSE: &[IeId] = &[IeId::CAUSE];
const PROGRESS: &[IeId] = &[IeId::PROGRESS_INDICATOR];
const NOTIFICATION: &[IeId] = &[IeId::NOTIFICATION_INDICATOR];
const FACILITY: &[IeId] = &[IeId::FACILITY];
const STATUS: &[IeId] = &[IeId::CAUSE, IeId::CALL_STATE];
const RESTART: &[IeId] = &[IeId::RESTART_INDICATOR];
const SERVICE: &[IeId] = &[IeId::CHANGE_STATUS, IeId::CHANNEL_ID];
const SERVICE_ACK: &[IeId] = &[IeId::CHANGE_STATUS];

/// The elements that must be present in `message_type` sent in `direction`.
pub fn mandatory_ies(message_type: MessageType, direction: Direction) -> &'static [IeId] {
    use Direction::*;
    match (message_type, direction) {
        // §3.1 SETUP: bearer capability both ways; channel identification is
        // mandatory network to user.
        (MessageType::Setup, NetworkToUser) => BC_CHAN,
        (MessageType::Setup, UserToNetwork) => BC,
        // §3.1 SETUP ACKNOWLEDGE: channel identification network to user.
        (MessageType::SetupAcknowledge, NetworkToUser) => CHAN,
        // §3.1 DISCONNECT.
        (MessageType::Disconnect, _) => CAUSE,
        // §3.1 PROGRESS.
        (MessageType::Progress, _) => PROGRESS,
        // §3.1 NOTIFY.
        (MessageType::Notify, _) => NOTIFICATION,
        // Q.932 §4.1 FACILITY.
        (MessageType::Facility, _) => FACILITY,
        // §3.1 STATUS.
        (MessageType::Status, _) => STATUS,
        // §3.4.1 / §3.4.2 RESTART, RESTART ACKNOWLEDGE.
        (MessageType::Restart, _) | (MessageType::RestartAcknowledge, _) => RESTART,
        // NI-2 maintenance.
        (MessageType::Service, _) => SERVICE,
        (MessageType::ServiceAcknowledge, _) => SERVICE_ACK,
        _ => NONE,
    }
}
