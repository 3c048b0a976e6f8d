//! Cause, Q.931 §4.5.12 and ITU-T Q.850 (identifier 0x08).
//!
//! ```text
//! octet 3   ext | coding standard (2) | spare | location (4)
//! octet 3a  ext | recommendation (7)              (when octet 3 ext bit is 0)
//! octet 4   ext | cause value (7: class (3) + value in class (4))
//! octet 5.. diagnostics
//! ```

use super::{CodingStandard, IeCodec, IeId, Octets};
use crate::error::IeError;
use std::fmt;

/// Location, octet 3 bits 1–4 (Q.850 §2.2.3); also used by the progress indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Location {
    /// 0000: user.
    User,
    /// 0001: private network serving the local user.
    PrivateLocal,
    /// 0010: public network serving the local user.
    PublicLocal,
    /// 0011: transit network.
    Transit,
    /// 0100: public network serving the remote user.
    PublicRemote,
    /// 0101: private network serving the remote user.
    PrivateRemote,
    /// 0111: international network.
    International,
    /// 1010: network beyond interworking point.
    BeyondInterworking,
    /// Reserved code points, kept as received.
    Other(u8),
}

impl Location {
    pub const fn from_bits(b: u8) -> Self {
        match b & 0x0F {
            0 => Self::User,
            1 => Self::PrivateLocal,
            2 => Self::PublicLocal,
            3 => Self::Transit,
            4 => Self::PublicRemote,
            5 => Self::PrivateRemote,
            7 => Self::International,
            10 => Self::BeyondInterworking,
            o => Self::Other(o),
        }
    }
    pub const fn bits(self) -> u8 {
        match self {
            Self::User => 0,
            Self::PrivateLocal => 1,
            Self::PublicLocal => 2,
            Self::Transit => 3,
            Self::PublicRemote => 4,
            Self::PrivateRemote => 5,
            Self::International => 7,
            Self::BeyondInterworking => 10,
            Self::Other(o) => o & 0x0F,
        }
    }
}

/// A cause value of ITU-T Q.850 Table 1 (7 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CauseValue {
    /// 1: Unallocated (unassigned) number.
    UnallocatedNumber,
    /// 2: No route to specified transit network.
    NoRouteToTransitNetwork,
    /// 3: No route to destination.
    NoRouteToDestination,
    /// 4: Send special information tone.
    SendSpecialInformationTone,
    /// 5: Misdialled trunk prefix.
    MisdialledTrunkPrefix,
    /// 6: Channel unacceptable.
    ChannelUnacceptable,
    /// 7: Call awarded and being delivered in an established channel.
    CallAwardedInEstablishedChannel,
    /// 8: Preemption.
    Preemption,
    /// 9: Preemption - circuit reserved for reuse.
    PreemptionCircuitReserved,
    /// 14: QoR: ported number.
    PortedNumber,
    /// 16: Normal call clearing.
    NormalCallClearing,
    /// 17: User busy.
    UserBusy,
    /// 18: No user responding.
    NoUserResponding,
    /// 19: No answer from user (user alerted).
    NoAnswer,
    /// 20: Subscriber absent.
    SubscriberAbsent,
    /// 21: Call rejected.
    CallRejected,
    /// 22: Number changed.
    NumberChanged,
    /// 23: Redirection to new destination.
    RedirectionToNewDestination,
    /// 24: Call rejected due to feature at the destination.
    RejectedFeatureAtDestination,
    /// 25: Exchange routing error.
    ExchangeRoutingError,
    /// 26: Non-selected user clearing.
    NonSelectedUserClearing,
    /// 27: Destination out of order.
    DestinationOutOfOrder,
    /// 28: Invalid number format (address incomplete).
    InvalidNumberFormat,
    /// 29: Facility rejected.
    FacilityRejected,
    /// 30: Response to STATUS ENQUIRY.
    ResponseToStatusEnquiry,
    /// 31: Normal, unspecified.
    NormalUnspecified,
    /// 34: No circuit/channel available.
    NoCircuitAvailable,
    /// 38: Network out of order.
    NetworkOutOfOrder,
    /// 39: Permanent frame mode connection out of service.
    PermanentFrameModeOutOfService,
    /// 40: Permanent frame mode connection operational.
    PermanentFrameModeOperational,
    /// 41: Temporary failure.
    TemporaryFailure,
    /// 42: Switching equipment congestion.
    SwitchingEquipmentCongestion,
    /// 43: Access information discarded.
    AccessInformationDiscarded,
    /// 44: Requested circuit/channel not available.
    RequestedChannelNotAvailable,
    /// 46: Precedence call blocked.
    PrecedenceCallBlocked,
    /// 47: Resource unavailable, unspecified.
    ResourceUnavailable,
    /// 49: Quality of service not available.
    QualityOfServiceNotAvailable,
    /// 50: Requested facility not subscribed.
    FacilityNotSubscribed,
    /// 53: Outgoing calls barred within CUG.
    OutgoingCallsBarredWithinCug,
    /// 55: Incoming calls barred within CUG.
    IncomingCallsBarredWithinCug,
    /// 57: Bearer capability not authorized.
    BearerCapabilityNotAuthorized,
    /// 58: Bearer capability not presently available.
    BearerCapabilityNotAvailable,
    /// 62: Inconsistency in designated outgoing access information and subscriber class.
    InconsistentOutgoingAccess,
    /// 63: Service or option not available, unspecified.
    ServiceNotAvailable,
    /// 65: Bearer capability not implemented.
    BearerCapabilityNotImplemented,
    /// 66: Channel type not implemented.
    ChannelTypeNotImplemented,
    /// 69: Requested facility not implemented.
    FacilityNotImplemented,
    /// 70: Only restricted digital information bearer capability is available.
    OnlyRestrictedDigitalAvailable,
    /// 79: Service or option not implemented, unspecified.
    ServiceNotImplemented,
    /// 81: Invalid call reference value.
    InvalidCallReference,
    /// 82: Identified channel does not exist.
    ChannelDoesNotExist,
    /// 83: A suspended call exists, but this call identity does not.
    SuspendedCallIdentityUnknown,
    /// 84: Call identity in use.
    CallIdentityInUse,
    /// 85: No call suspended.
    NoCallSuspended,
    /// 86: Call having the requested call identity has been cleared.
    CallIdentityCleared,
    /// 87: User not member of CUG.
    UserNotMemberOfCug,
    /// 88: Incompatible destination.
    IncompatibleDestination,
    /// 90: Non-existent CUG.
    NonExistentCug,
    /// 91: Invalid transit network selection.
    InvalidTransitNetwork,
    /// 95: Invalid message, unspecified.
    InvalidMessage,
    /// 96: Mandatory information element is missing.
    MandatoryIeMissing,
    /// 97: Message type non-existent or not implemented.
    MessageTypeNonExistent,
    /// 98: Message not compatible with call state or message type non-existent or not implemented.
    MessageNotCompatibleOrNonExistent,
    /// 99: Information element/parameter non-existent or not implemented.
    IeNonExistent,
    /// 100: Invalid information element contents.
    InvalidIeContents,
    /// 101: Message not compatible with call state.
    MessageNotCompatibleWithState,
    /// 102: Recovery on timer expiry.
    RecoveryOnTimerExpiry,
    /// 103: Parameter non-existent or not implemented - passed on.
    ParameterNonExistentPassedOn,
    /// 110: Message with unrecognized parameter discarded.
    UnrecognizedParameterDiscarded,
    /// 111: Protocol error, unspecified.
    ProtocolError,
    /// 127: Interworking, unspecified.
    Interworking,
    /// A value not listed in Q.850, kept as received.
    Other(u8),
}

impl CauseValue {
    /// Every value named by Q.850, in numeric order.
    pub const ALL: &'static [CauseValue] = &[
        Self::UnallocatedNumber,
        Self::NoRouteToTransitNetwork,
        Self::NoRouteToDestination,
        Self::SendSpecialInformationTone,
        Self::MisdialledTrunkPrefix,
        Self::ChannelUnacceptable,
        Self::CallAwardedInEstablishedChannel,
        Self::Preemption,
        Self::PreemptionCircuitReserved,
        Self::PortedNumber,
        Self::NormalCallClearing,
        Self::UserBusy,
        Self::NoUserResponding,
        Self::NoAnswer,
        Self::SubscriberAbsent,
        Self::CallRejected,
        Self::NumberChanged,
        Self::RedirectionToNewDestination,
        Self::RejectedFeatureAtDestination,
        Self::ExchangeRoutingError,
        Self::NonSelectedUserClearing,
        Self::DestinationOutOfOrder,
        Self::InvalidNumberFormat,
        Self::FacilityRejected,
        Self::ResponseToStatusEnquiry,
        Self::NormalUnspecified,
        Self::NoCircuitAvailable,
        Self::NetworkOutOfOrder,
        Self::PermanentFrameModeOutOfService,
        Self::PermanentFrameModeOperational,
        Self::TemporaryFailure,
        Self::SwitchingEquipmentCongestion,
        Self::AccessInformationDiscarded,
        Self::RequestedChannelNotAvailable,
        Self::PrecedenceCallBlocked,
        Self::ResourceUnavailable,
        Self::QualityOfServiceNotAvailable,
        Self::FacilityNotSubscribed,
        Self::OutgoingCallsBarredWithinCug,
        Self::IncomingCallsBarredWithinCug,
        Self::BearerCapabilityNotAuthorized,
        Self::BearerCapabilityNotAvailable,
        Self::InconsistentOutgoingAccess,
        Self::ServiceNotAvailable,
        Self::BearerCapabilityNotImplemented,
        Self::ChannelTypeNotImplemented,
        Self::FacilityNotImplemented,
        Self::OnlyRestrictedDigitalAvailable,
        Self::ServiceNotImplemented,
        Self::InvalidCallReference,
        Self::ChannelDoesNotExist,
        Self::SuspendedCallIdentityUnknown,
        Self::CallIdentityInUse,
        Self::NoCallSuspended,
        Self::CallIdentityCleared,
        Self::UserNotMemberOfCug,
        Self::IncompatibleDestination,
        Self::NonExistentCug,
        Self::InvalidTransitNetwork,
        Self::InvalidMessage,
        Self::MandatoryIeMissing,
        Self::MessageTypeNonExistent,
        Self::MessageNotCompatibleOrNonExistent,
        Self::IeNonExistent,
        Self::InvalidIeContents,
        Self::MessageNotCompatibleWithState,
        Self::RecoveryOnTimerExpiry,
        Self::ParameterNonExistentPassedOn,
        Self::UnrecognizedParameterDiscarded,
        Self::ProtocolError,
        Self::Interworking,
    ];

    /// From the 7-bit value.
    pub const fn from_u8(v: u8) -> Self {
        match v & 0x7F {
            1 => Self::UnallocatedNumber,
            2 => Self::NoRouteToTransitNetwork,
            3 => Self::NoRouteToDestination,
            4 => Self::SendSpecialInformationTone,
            5 => Self::MisdialledTrunkPrefix,
            6 => Self::ChannelUnacceptable,
            7 => Self::CallAwardedInEstablishedChannel,
            8 => Self::Preemption,
            9 => Self::PreemptionCircuitReserved,
            14 => Self::PortedNumber,
            16 => Self::NormalCallClearing,
            17 => Self::UserBusy,
            18 => Self::NoUserResponding,
            19 => Self::NoAnswer,
            20 => Self::SubscriberAbsent,
            21 => Self::CallRejected,
            22 => Self::NumberChanged,
            23 => Self::RedirectionToNewDestination,
            24 => Self::RejectedFeatureAtDestination,
            25 => Self::ExchangeRoutingError,
            26 => Self::NonSelectedUserClearing,
            27 => Self::DestinationOutOfOrder,
            28 => Self::InvalidNumberFormat,
            29 => Self::FacilityRejected,
            30 => Self::ResponseToStatusEnquiry,
            31 => Self::NormalUnspecified,
            34 => Self::NoCircuitAvailable,
            38 => Self::NetworkOutOfOrder,
            39 => Self::PermanentFrameModeOutOfService,
            40 => Self::PermanentFrameModeOperational,
            41 => Self::TemporaryFailure,
            42 => Self::SwitchingEquipmentCongestion,
            43 => Self::AccessInformationDiscarded,
            44 => Self::RequestedChannelNotAvailable,
            46 => Self::PrecedenceCallBlocked,
            47 => Self::ResourceUnavailable,
            49 => Self::QualityOfServiceNotAvailable,
            50 => Self::FacilityNotSubscribed,
            53 => Self::OutgoingCallsBarredWithinCug,
            55 => Self::IncomingCallsBarredWithinCug,
            57 => Self::BearerCapabilityNotAuthorized,
            58 => Self::BearerCapabilityNotAvailable,
            62 => Self::InconsistentOutgoingAccess,
            63 => Self::ServiceNotAvailable,
            65 => Self::BearerCapabilityNotImplemented,
            66 => Self::ChannelTypeNotImplemented,
            69 => Self::FacilityNotImplemented,
            70 => Self::OnlyRestrictedDigitalAvailable,
            79 => Self::ServiceNotImplemented,
            81 => Self::InvalidCallReference,
            82 => Self::ChannelDoesNotExist,
            83 => Self::SuspendedCallIdentityUnknown,
            84 => Self::CallIdentityInUse,
            85 => Self::NoCallSuspended,
            86 => Self::CallIdentityCleared,
            87 => Self::UserNotMemberOfCug,
            88 => Self::IncompatibleDestination,
            90 => Self::NonExistentCug,
            91 => Self::InvalidTransitNetwork,
            95 => Self::InvalidMessage,
            96 => Self::MandatoryIeMissing,
            97 => Self::MessageTypeNonExistent,
            98 => Self::MessageNotCompatibleOrNonExistent,
            99 => Self::IeNonExistent,
            100 => Self::InvalidIeContents,
            101 => Self::MessageNotCompatibleWithState,
            102 => Self::RecoveryOnTimerExpiry,
            103 => Self::ParameterNonExistentPassedOn,
            110 => Self::UnrecognizedParameterDiscarded,
            111 => Self::ProtocolError,
            127 => Self::Interworking,
            o => Self::Other(o),
        }
    }

    /// The 7-bit value.
    pub const fn value(self) -> u8 {
        match self {
            Self::UnallocatedNumber => 1,
            Self::NoRouteToTransitNetwork => 2,
            Self::NoRouteToDestination => 3,
            Self::SendSpecialInformationTone => 4,
            Self::MisdialledTrunkPrefix => 5,
            Self::ChannelUnacceptable => 6,
            Self::CallAwardedInEstablishedChannel => 7,
            Self::Preemption => 8,
            Self::PreemptionCircuitReserved => 9,
            Self::PortedNumber => 14,
            Self::NormalCallClearing => 16,
            Self::UserBusy => 17,
            Self::NoUserResponding => 18,
            Self::NoAnswer => 19,
            Self::SubscriberAbsent => 20,
            Self::CallRejected => 21,
            Self::NumberChanged => 22,
            Self::RedirectionToNewDestination => 23,
            Self::RejectedFeatureAtDestination => 24,
            Self::ExchangeRoutingError => 25,
            Self::NonSelectedUserClearing => 26,
            Self::DestinationOutOfOrder => 27,
            Self::InvalidNumberFormat => 28,
            Self::FacilityRejected => 29,
            Self::ResponseToStatusEnquiry => 30,
            Self::NormalUnspecified => 31,
            Self::NoCircuitAvailable => 34,
            Self::NetworkOutOfOrder => 38,
            Self::PermanentFrameModeOutOfService => 39,
            Self::PermanentFrameModeOperational => 40,
            Self::TemporaryFailure => 41,
            Self::SwitchingEquipmentCongestion => 42,
            Self::AccessInformationDiscarded => 43,
            Self::RequestedChannelNotAvailable => 44,
            Self::PrecedenceCallBlocked => 46,
            Self::ResourceUnavailable => 47,
            Self::QualityOfServiceNotAvailable => 49,
            Self::FacilityNotSubscribed => 50,
            Self::OutgoingCallsBarredWithinCug => 53,
            Self::IncomingCallsBarredWithinCug => 55,
            Self::BearerCapabilityNotAuthorized => 57,
            Self::BearerCapabilityNotAvailable => 58,
            Self::InconsistentOutgoingAccess => 62,
            Self::ServiceNotAvailable => 63,
            Self::BearerCapabilityNotImplemented => 65,
            Self::ChannelTypeNotImplemented => 66,
            Self::FacilityNotImplemented => 69,
            Self::OnlyRestrictedDigitalAvailable => 70,
            Self::ServiceNotImplemented => 79,
            Self::InvalidCallReference => 81,
            Self::ChannelDoesNotExist => 82,
            Self::SuspendedCallIdentityUnknown => 83,
            Self::CallIdentityInUse => 84,
            Self::NoCallSuspended => 85,
            Self::CallIdentityCleared => 86,
            Self::UserNotMemberOfCug => 87,
            Self::IncompatibleDestination => 88,
            Self::NonExistentCug => 90,
            Self::InvalidTransitNetwork => 91,
            Self::InvalidMessage => 95,
            Self::MandatoryIeMissing => 96,
            Self::MessageTypeNonExistent => 97,
            Self::MessageNotCompatibleOrNonExistent => 98,
            Self::IeNonExistent => 99,
            Self::InvalidIeContents => 100,
            Self::MessageNotCompatibleWithState => 101,
            Self::RecoveryOnTimerExpiry => 102,
            Self::ParameterNonExistentPassedOn => 103,
            Self::UnrecognizedParameterDiscarded => 110,
            Self::ProtocolError => 111,
            Self::Interworking => 127,
            Self::Other(o) => o & 0x7F,
        }
    }

    /// The class (bits 5–7): 0/1 normal event, 2 resource unavailable, 3 service or option
    /// not available, 4 service or option not implemented, 5 invalid message, 6 protocol
    /// error, 7 interworking.
    pub const fn class(self) -> u8 {
        self.value() >> 4
    }

    /// The Q.850 name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::UnallocatedNumber => "Unallocated (unassigned) number",
            Self::NoRouteToTransitNetwork => "No route to specified transit network",
            Self::NoRouteToDestination => "No route to destination",
            Self::SendSpecialInformationTone => "Send special information tone",
            Self::MisdialledTrunkPrefix => "Misdialled trunk prefix",
            Self::ChannelUnacceptable => "Channel unacceptable",
            Self::CallAwardedInEstablishedChannel => "Call awarded and being delivered in an established channel",
            Self::Preemption => "Preemption",
            Self::PreemptionCircuitReserved => "Preemption - circuit reserved for reuse",
            Self::PortedNumber => "QoR: ported number",
            Self::NormalCallClearing => "Normal call clearing",
            Self::UserBusy => "User busy",
            Self::NoUserResponding => "No user responding",
            Self::NoAnswer => "No answer from user (user alerted)",
            Self::SubscriberAbsent => "Subscriber absent",
            Self::CallRejected => "Call rejected",
            Self::NumberChanged => "Number changed",
            Self::RedirectionToNewDestination => "Redirection to new destination",
            Self::RejectedFeatureAtDestination => "Call rejected due to feature at the destination",
            Self::ExchangeRoutingError => "Exchange routing error",
            Self::NonSelectedUserClearing => "Non-selected user clearing",
            Self::DestinationOutOfOrder => "Destination out of order",
            Self::InvalidNumberFormat => "Invalid number format (address incomplete)",
            Self::FacilityRejected => "Facility rejected",
            Self::ResponseToStatusEnquiry => "Response to STATUS ENQUIRY",
            Self::NormalUnspecified => "Normal, unspecified",
            Self::NoCircuitAvailable => "No circuit/channel available",
            Self::NetworkOutOfOrder => "Network out of order",
            Self::PermanentFrameModeOutOfService => "Permanent frame mode connection out of service",
            Self::PermanentFrameModeOperational => "Permanent frame mode connection operational",
            Self::TemporaryFailure => "Temporary failure",
            Self::SwitchingEquipmentCongestion => "Switching equipment congestion",
            Self::AccessInformationDiscarded => "Access information discarded",
            Self::RequestedChannelNotAvailable => "Requested circuit/channel not available",
            Self::PrecedenceCallBlocked => "Precedence call blocked",
            Self::ResourceUnavailable => "Resource unavailable, unspecified",
            Self::QualityOfServiceNotAvailable => "Quality of service not available",
            Self::FacilityNotSubscribed => "Requested facility not subscribed",
            Self::OutgoingCallsBarredWithinCug => "Outgoing calls barred within CUG",
            Self::IncomingCallsBarredWithinCug => "Incoming calls barred within CUG",
            Self::BearerCapabilityNotAuthorized => "Bearer capability not authorized",
            Self::BearerCapabilityNotAvailable => "Bearer capability not presently available",
            Self::InconsistentOutgoingAccess => "Inconsistency in designated outgoing access information and subscriber class",
            Self::ServiceNotAvailable => "Service or option not available, unspecified",
            Self::BearerCapabilityNotImplemented => "Bearer capability not implemented",
            Self::ChannelTypeNotImplemented => "Channel type not implemented",
            Self::FacilityNotImplemented => "Requested facility not implemented",
            Self::OnlyRestrictedDigitalAvailable => "Only restricted digital information bearer capability is available",
            Self::ServiceNotImplemented => "Service or option not implemented, unspecified",
            Self::InvalidCallReference => "Invalid call reference value",
            Self::ChannelDoesNotExist => "Identified channel does not exist",
            Self::SuspendedCallIdentityUnknown => "A suspended call exists, but this call identity does not",
            Self::CallIdentityInUse => "Call identity in use",
            Self::NoCallSuspended => "No call suspended",
            Self::CallIdentityCleared => "Call having the requested call identity has been cleared",
            Self::UserNotMemberOfCug => "User not member of CUG",
            Self::IncompatibleDestination => "Incompatible destination",
            Self::NonExistentCug => "Non-existent CUG",
            Self::InvalidTransitNetwork => "Invalid transit network selection",
            Self::InvalidMessage => "Invalid message, unspecified",
            Self::MandatoryIeMissing => "Mandatory information element is missing",
            Self::MessageTypeNonExistent => "Message type non-existent or not implemented",
            Self::MessageNotCompatibleOrNonExistent => "Message not compatible with call state or message type non-existent or not implemented",
            Self::IeNonExistent => "Information element/parameter non-existent or not implemented",
            Self::InvalidIeContents => "Invalid information element contents",
            Self::MessageNotCompatibleWithState => "Message not compatible with call state",
            Self::RecoveryOnTimerExpiry => "Recovery on timer expiry",
            Self::ParameterNonExistentPassedOn => "Parameter non-existent or not implemented - passed on",
            Self::UnrecognizedParameterDiscarded => "Message with unrecognized parameter discarded",
            Self::ProtocolError => "Protocol error, unspecified",
            Self::Interworking => "Interworking, unspecified",
            Self::Other(_) => "Unknown cause",
        }
    }
}

impl fmt::Display for CauseValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.value())
    }
}

impl From<u8> for CauseValue {
    fn from(v: u8) -> Self {
        Self::from_u8(v)
    }
}

/// Cause, Q.931 §4.5.12.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cause {
    pub coding_standard: CodingStandard,
    pub location: Location,
    /// Octet 3a (recommendation: 0 = Q.931, 3 = X.21, 4 = X.25, 5 = Q.1031/Q.1051), when
    /// present.
    pub recommendation: Option<u8>,
    pub value: CauseValue,
    /// Octet 5 onwards (e.g. the identifier of a missing element for cause 96, or the
    /// message type for cause 97/98/101).
    pub diagnostics: Vec<u8>,
}

impl Cause {
    /// ITU-T coding, no recommendation octet, no diagnostics.
    pub fn new(value: CauseValue, location: Location) -> Self {
        Cause {
            coding_standard: CodingStandard::ItuT,
            location,
            recommendation: None,
            value,
            diagnostics: Vec::new(),
        }
    }

    /// Adds diagnostics (octet 5 onwards), at most [`MAX_DIAGNOSTICS`] octets: the rest
    /// is left out, so that the element keeps within its length.
    pub fn with_diagnostics(mut self, diagnostics: &[u8]) -> Self {
        self.diagnostics = diagnostics[..diagnostics.len().min(MAX_DIAGNOSTICS)].to_vec();
        self
    }
}

/// The most diagnostic octets a cause we build carries: the message tables of Q.931 §3
/// give the cause element 2–32 octets, of which the identifier, the length, octet 3
/// (with 3a) and the cause value take 5.
pub const MAX_DIAGNOSTICS: usize = 27;

impl IeCodec for Cause {
    const ID: IeId = IeId::CAUSE;

    fn decode(contents: &[u8]) -> Result<Self, IeError> {
        let mut o = Octets::new(contents);
        let o3 = o.next("3", "location")?;
        let recommendation = if o3 & 0x80 == 0 {
            let r = o.next("3a", "recommendation")?;
            if r & 0x80 == 0 {
                return Err(IeError::InvalidValue {
                    octet: "3a",
                    field: "extension bit",
                    value: r,
                });
            }
            Some(r & 0x7F)
        } else {
            None
        };
        let o4 = o.next("4", "cause value")?;
        if o4 & 0x80 == 0 {
            return Err(IeError::InvalidValue {
                octet: "4",
                field: "extension bit",
                value: o4,
            });
        }
        Ok(Cause {
            coding_standard: CodingStandard::from_bits(o3 >> 5),
            location: Location::from_bits(o3),
            recommendation,
            value: CauseValue::from_u8(o4),
            diagnostics: o.rest().to_vec(),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let o3 = self.coding_standard.bits() << 5 | self.location.bits();
        match self.recommendation {
            Some(r) => {
                out.push(o3);
                out.push(0x80 | (r & 0x7F));
            }
            None => out.push(0x80 | o3),
        }
        out.push(0x80 | self.value.value());
        out.extend_from_slice(&self.diagnostics);
    }
}
