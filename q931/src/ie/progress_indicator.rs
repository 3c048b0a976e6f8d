//! Progress indicator, Q.931 §4.5.23 (identifier 0x1E).
//!
//! ```text
//! octet 3   ext=1 | coding standard (2) | spare | location (4)
//! octet 4   ext=1 | progress description (7)
//! ```

use super::cause::Location;
use super::{CodingStandard, IeCodec, IeId, Octets};
use crate::error::IeError;

/// Progress description, octet 4 bits 1–7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProgressDescription {
    /// 1: call is not end-to-end ISDN; further call progress information may be available
    /// in-band.
    NotEndToEndIsdn,
    /// 2: destination address is non-ISDN.
    DestinationNonIsdn,
    /// 3: origination address is non-ISDN.
    OriginationNonIsdn,
    /// 4: call has returned to the ISDN.
    ReturnedToIsdn,
    /// 5: interworking has occurred and has resulted in a telecommunication service change.
    ServiceChange,
    /// 8: in-band information or an appropriate pattern is now available.
    InbandAvailable,
    Other(u8),
}

impl ProgressDescription {
    pub const fn from_u8(b: u8) -> Self {
        match b & 0x7F {
            1 => Self::NotEndToEndIsdn,
            2 => Self::DestinationNonIsdn,
            3 => Self::OriginationNonIsdn,
            4 => Self::ReturnedToIsdn,
            5 => Self::ServiceChange,
            8 => Self::InbandAvailable,
            o => Self::Other(o),
        }
    }
    pub const fn value(self) -> u8 {
        match self {
            Self::NotEndToEndIsdn => 1,
            Self::DestinationNonIsdn => 2,
            Self::OriginationNonIsdn => 3,
            Self::ReturnedToIsdn => 4,
            Self::ServiceChange => 5,
            Self::InbandAvailable => 8,
            Self::Other(o) => o & 0x7F,
        }
    }
    /// `true` when the description means in-band tones or announcements can be heard
    /// (descriptions 1 and 8): the gateway should cut the media through (early media).
    pub const fn is_inband(self) -> bool {
        matches!(self, Self::NotEndToEndIsdn | Self::InbandAvailable)
    }
}

/// Progress indicator, Q.931 §4.5.23.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProgressIndicator {
    pub coding_standard: CodingStandard,
    pub location: Location,
    pub description: ProgressDescription,
}

impl ProgressIndicator {
    pub const fn new(location: Location, description: ProgressDescription) -> Self {
        ProgressIndicator {
            coding_standard: CodingStandard::ItuT,
            location,
            description,
        }
    }
}

impl IeCodec for ProgressIndicator {
    const ID: IeId = IeId::PROGRESS_INDICATOR;

    fn decode(contents: &[u8]) -> Result<Self, IeError> {
        let mut o = Octets::new(contents);
        let o3 = o.next("3", "location")?;
        if o3 & 0x80 == 0 {
            return Err(IeError::InvalidValue {
                octet: "3",
                field: "extension bit",
                value: o3,
            });
        }
        let o4 = o.next("4", "progress description")?;
        if o4 & 0x80 == 0 {
            return Err(IeError::InvalidValue {
                octet: "4",
                field: "extension bit",
                value: o4,
            });
        }
        o.finish("4")?;
        Ok(ProgressIndicator {
            coding_standard: CodingStandard::from_bits(o3 >> 5),
            location: Location::from_bits(o3),
            description: ProgressDescription::from_u8(o4),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(0x80 | self.coding_standard.bits() << 5 | self.location.bits());
        out.push(0x80 | self.description.value());
    }
}
