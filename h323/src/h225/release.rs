//! Release Complete reasons and their Q.850 causes (H.225.0 §7.4.2, Table 5: "Mapping of
//! ReleaseCompleteReason to Q.931/Q.850 cause values"), and the way back for a gateway
//! that clears an H.323 call because of an SCN cause.

use h323_asn1::h225 as asn;

use q931::ie::CauseValue;

/// `ReleaseCompleteReason` without its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReleaseReason {
    NoBandwidth,
    GatekeeperResources,
    UnreachableDestination,
    DestinationRejection,
    InvalidRevision,
    NoPermission,
    UnreachableGatekeeper,
    GatewayResources,
    BadFormatAddress,
    AdaptiveBusy,
    InConf,
    UndefinedReason,
    FacilityCallDeflection,
    SecurityDenied,
    CalledPartyNotRegistered,
    CallerNotRegistered,
    NewConnectionNeeded,
    NonStandardReason,
    ReplaceWithConferenceInvite,
    GenericDataReason,
    NeededFeatureNotSupported,
    TunnelledSignallingRejected,
    InvalidCid,
    SecurityError,
    HopCountExceeded,
}

/// (reason, Q.850 cause) per H.225.0 Table 5.
const TABLE_5: &[(ReleaseReason, u8)] = &[
    (ReleaseReason::NoBandwidth, 34),
    (ReleaseReason::GatekeeperResources, 47),
    (ReleaseReason::UnreachableDestination, 3),
    (ReleaseReason::DestinationRejection, 16),
    (ReleaseReason::InvalidRevision, 88),
    (ReleaseReason::NoPermission, 111),
    (ReleaseReason::UnreachableGatekeeper, 38),
    (ReleaseReason::GatewayResources, 42),
    (ReleaseReason::BadFormatAddress, 28),
    (ReleaseReason::AdaptiveBusy, 41),
    (ReleaseReason::InConf, 17),
    (ReleaseReason::UndefinedReason, 31),
    (ReleaseReason::FacilityCallDeflection, 16),
    (ReleaseReason::SecurityDenied, 31),
    (ReleaseReason::CalledPartyNotRegistered, 20),
    (ReleaseReason::CallerNotRegistered, 31),
    (ReleaseReason::NewConnectionNeeded, 47),
    (ReleaseReason::NonStandardReason, 127),
    (ReleaseReason::ReplaceWithConferenceInvite, 31),
    (ReleaseReason::GenericDataReason, 31),
    (ReleaseReason::NeededFeatureNotSupported, 31),
    (ReleaseReason::TunnelledSignallingRejected, 127),
    (ReleaseReason::InvalidCid, 16),
    (ReleaseReason::SecurityError, 31),
    (ReleaseReason::HopCountExceeded, 31),
];

impl ReleaseReason {
    /// The Q.850 cause H.225.0 Table 5 gives for this reason (a gateway puts it in the
    /// SCN release when the H.323 side cleared with a reason and no Cause IE).
    pub fn to_q850(self) -> CauseValue {
        TABLE_5
            .iter()
            .find(|(r, _)| *r == self)
            .map(|(_, c)| CauseValue::from_u8(*c))
            .unwrap_or(CauseValue::NormalUnspecified)
    }

    /// The reason for a Q.850 cause, where Table 5 names exactly one reason for it (so
    /// that reason → cause → reason is the identity). Other causes travel in the Cause IE
    /// alone (H.225.0 §7.4.2: the Cause IE takes precedence over the reason).
    pub fn from_q850(cause: CauseValue) -> Option<Self> {
        let mut found = TABLE_5.iter().filter(|(_, c)| *c == cause.value());
        match (found.next(), found.next()) {
            (Some((r, _)), None) => Some(*r),
            _ => None,
        }
    }

    pub fn to_asn(self) -> Option<asn::ReleaseCompleteReason> {
        use asn::ReleaseCompleteReason as R;
        Some(match self {
            Self::NoBandwidth => R::noBandwidth(()),
            Self::GatekeeperResources => R::gatekeeperResources(()),
            Self::UnreachableDestination => R::unreachableDestination(()),
            Self::DestinationRejection => R::destinationRejection(()),
            Self::InvalidRevision => R::invalidRevision(()),
            Self::NoPermission => R::noPermission(()),
            Self::UnreachableGatekeeper => R::unreachableGatekeeper(()),
            Self::GatewayResources => R::gatewayResources(()),
            Self::BadFormatAddress => R::badFormatAddress(()),
            Self::AdaptiveBusy => R::adaptiveBusy(()),
            Self::InConf => R::inConf(()),
            Self::UndefinedReason => R::undefinedReason(()),
            Self::FacilityCallDeflection => R::facilityCallDeflection(()),
            Self::SecurityDenied => R::securityDenied(()),
            Self::CalledPartyNotRegistered => R::calledPartyNotRegistered(()),
            Self::CallerNotRegistered => R::callerNotRegistered(()),
            Self::NewConnectionNeeded => R::newConnectionNeeded(()),
            Self::GenericDataReason => R::genericDataReason(()),
            Self::NeededFeatureNotSupported => R::neededFeatureNotSupported(()),
            Self::TunnelledSignallingRejected => R::tunnelledSignallingRejected(()),
            Self::InvalidCid => R::invalidCID(()),
            Self::HopCountExceeded => R::hopCountExceeded(()),
            // These carry parameters we cannot invent.
            Self::NonStandardReason | Self::ReplaceWithConferenceInvite | Self::SecurityError => {
                return None
            }
        })
    }

    pub fn from_asn(r: &asn::ReleaseCompleteReason) -> Option<Self> {
        use asn::ReleaseCompleteReason as R;
        Some(match r {
            R::noBandwidth(()) => Self::NoBandwidth,
            R::gatekeeperResources(()) => Self::GatekeeperResources,
            R::unreachableDestination(()) => Self::UnreachableDestination,
            R::destinationRejection(()) => Self::DestinationRejection,
            R::invalidRevision(()) => Self::InvalidRevision,
            R::noPermission(()) => Self::NoPermission,
            R::unreachableGatekeeper(()) => Self::UnreachableGatekeeper,
            R::gatewayResources(()) => Self::GatewayResources,
            R::badFormatAddress(()) => Self::BadFormatAddress,
            R::adaptiveBusy(()) => Self::AdaptiveBusy,
            R::inConf(()) => Self::InConf,
            R::undefinedReason(()) => Self::UndefinedReason,
            R::facilityCallDeflection(()) => Self::FacilityCallDeflection,
            R::securityDenied(()) => Self::SecurityDenied,
            R::calledPartyNotRegistered(()) => Self::CalledPartyNotRegistered,
            R::callerNotRegistered(()) => Self::CallerNotRegistered,
            R::newConnectionNeeded(()) => Self::NewConnectionNeeded,
            R::nonStandardReason(_) => Self::NonStandardReason,
            R::replaceWithConferenceInvite(_) => Self::ReplaceWithConferenceInvite,
            R::genericDataReason(()) => Self::GenericDataReason,
            R::neededFeatureNotSupported(()) => Self::NeededFeatureNotSupported,
            R::tunnelledSignallingRejected(()) => Self::TunnelledSignallingRejected,
            R::invalidCID(()) => Self::InvalidCid,
            R::securityError(_) => Self::SecurityError,
            R::hopCountExceeded(()) => Self::HopCountExceeded,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_5_values() {
        assert_eq!(
            ReleaseReason::NoBandwidth.to_q850(),
            CauseValue::from_u8(34)
        );
        assert_eq!(ReleaseReason::InConf.to_q850(), CauseValue::from_u8(17));
        assert_eq!(
            ReleaseReason::UnreachableDestination.to_q850(),
            CauseValue::from_u8(3)
        );
        assert_eq!(
            ReleaseReason::CalledPartyNotRegistered.to_q850(),
            CauseValue::from_u8(20)
        );
        assert_eq!(
            ReleaseReason::AdaptiveBusy.to_q850(),
            CauseValue::from_u8(41)
        );
    }

    #[test]
    fn cause_to_reason_is_the_inverse_where_unique() {
        for (reason, cause) in TABLE_5 {
            if let Some(back) = ReleaseReason::from_q850(CauseValue::from_u8(*cause)) {
                assert_eq!(back, *reason);
                assert_eq!(back.to_q850(), CauseValue::from_u8(*cause));
            }
        }
        assert_eq!(
            ReleaseReason::from_q850(CauseValue::from_u8(17)),
            Some(ReleaseReason::InConf)
        );
        // 16 and 31 belong to several reasons: no reason, the Cause IE says it.
        assert_eq!(ReleaseReason::from_q850(CauseValue::from_u8(16)), None);
        assert_eq!(ReleaseReason::from_q850(CauseValue::from_u8(31)), None);
    }

    #[test]
    fn asn_round_trip() {
        for (reason, _) in TABLE_5 {
            if let Some(a) = reason.to_asn() {
                assert_eq!(ReleaseReason::from_asn(&a), Some(*reason));
            }
        }
    }
}
