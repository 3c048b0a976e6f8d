//! Called party subaddress (Q.931 §4.5.9, identifier 0x71), calling party subaddress
//! (§4.5.11, 0x6D) and connected subaddress (Q.951, 0x4D): one layout.
//!
//! ```text
//! octet 3   ext=1 | type of subaddress (3) | odd/even indicator | spare (3)
//! octet 4.. subaddress information
//! ```

use super::{IeCodec, IeId, Octets};
use crate::error::IeError;

/// Type of subaddress, octet 3 bits 5–7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubaddressType {
    /// 000: NSAP (X.213 / ISO 8348 AD2).
    Nsap,
    /// 010: user specified.
    UserSpecified,
    Other(u8),
}

impl SubaddressType {
    const fn from_bits(b: u8) -> Self {
        match b & 0x07 {
            0 => Self::Nsap,
            2 => Self::UserSpecified,
            o => Self::Other(o),
        }
    }
    const fn bits(self) -> u8 {
        match self {
            Self::Nsap => 0,
            Self::UserSpecified => 2,
            Self::Other(o) => o & 0x07,
        }
    }
}

/// A subaddress (called, calling or connected: the element identifier tells which).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subaddress {
    pub subaddress_type: SubaddressType,
    /// Octet 3 bit 4: odd number of address signals (for BCD user-specified subaddresses).
    pub odd: bool,
    /// Octet 4 onwards.
    pub information: Vec<u8>,
}

impl Subaddress {
    /// Called party subaddress identifier.
    pub const CALLED_ID: IeId = IeId::CALLED_PARTY_SUBADDRESS;
    /// Calling party subaddress identifier.
    pub const CALLING_ID: IeId = IeId::CALLING_PARTY_SUBADDRESS;
    /// Connected subaddress identifier.
    pub const CONNECTED_ID: IeId = IeId::CONNECTED_SUBADDRESS;

    /// An NSAP subaddress with IA5 contents (AFI 0x50 followed by the characters), the
    /// usual form for a dialled subaddress.
    pub fn nsap_ia5(text: &str) -> Self {
        let mut information = Vec::with_capacity(text.len() + 1);
        information.push(0x50);
        information.extend(text.bytes().map(|b| b & 0x7F));
        Subaddress {
            subaddress_type: SubaddressType::Nsap,
            odd: false,
            information,
        }
    }
}

impl IeCodec for Subaddress {
    /// The called party subaddress; the same layout serves 0x6D and 0x4D.
    const ID: IeId = IeId::CALLED_PARTY_SUBADDRESS;

    fn decode(contents: &[u8]) -> Result<Self, IeError> {
        let mut o = Octets::new(contents);
        let o3 = o.next("3", "type of subaddress")?;
        if o3 & 0x80 == 0 {
            return Err(IeError::InvalidValue {
                octet: "3",
                field: "extension bit",
                value: o3,
            });
        }
        Ok(Subaddress {
            subaddress_type: SubaddressType::from_bits(o3 >> 4),
            odd: o3 & 0x08 != 0,
            information: o.rest().to_vec(),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(0x80 | self.subaddress_type.bits() << 4 | if self.odd { 0x08 } else { 0 });
        out.extend_from_slice(&self.information);
    }
}
