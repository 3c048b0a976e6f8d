//! High layer compatibility, Q.931 §4.5.17 (identifier 0x7D).
//!
//! ```text
//! octet 3   ext=1 | coding standard (2) | interpretation (3) | presentation method (2)
//! octet 4   ext | high layer characteristics identification (7)
//! octet 4a  ext=1 | extended high layer characteristics identification (7)
//!           (when octet 4 ext bit is 0)
//! ```

use super::{CodingStandard, IeCodec, IeId, Octets};
use crate::error::IeError;

/// High layer compatibility, Q.931 §4.5.17.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HighLayerCompatibility {
    pub coding_standard: CodingStandard,
    /// Octet 3 bits 3–5 (100: first (primary or only) high layer characteristics
    /// identification to be used in the call).
    pub interpretation: u8,
    /// Octet 3 bits 1–2 (01: high layer protocol profile).
    pub presentation_method: u8,
    /// Octet 4 bits 1–7 (0x01 telephony, 0x04 fax group 2/3, 0x21 fax group 4, ...).
    pub characteristics: u8,
    /// Octet 4a bits 1–7, when present.
    pub extended: Option<u8>,
}

impl HighLayerCompatibility {
    /// Telephony (0x01), ITU-T coding, first interpretation, protocol profile.
    pub fn telephony() -> Self {
        HighLayerCompatibility {
            coding_standard: CodingStandard::ItuT,
            interpretation: 4,
            presentation_method: 1,
            characteristics: 0x01,
            extended: None,
        }
    }
}

impl IeCodec for HighLayerCompatibility {
    const ID: IeId = IeId::HIGH_LAYER_COMPATIBILITY;

    fn decode(contents: &[u8]) -> Result<Self, IeError> {
        let mut o = Octets::new(contents);
        let o3 = o.next("3", "interpretation")?;
        if o3 & 0x80 == 0 {
            return Err(IeError::InvalidValue {
                octet: "3",
                field: "extension bit",
                value: o3,
            });
        }
        let o4 = o.next("4", "high layer characteristics identification")?;
        let extended = if o4 & 0x80 == 0 {
            let a = o.next("4a", "extended high layer characteristics identification")?;
            if a & 0x80 == 0 {
                return Err(IeError::InvalidValue {
                    octet: "4a",
                    field: "extension bit",
                    value: a,
                });
            }
            Some(a & 0x7F)
        } else {
            None
        };
        o.finish(if extended.is_some() { "4a" } else { "4" })?;
        Ok(HighLayerCompatibility {
            coding_standard: CodingStandard::from_bits(o3 >> 5),
            interpretation: (o3 >> 2) & 0x07,
            presentation_method: o3 & 0x03,
            characteristics: o4 & 0x7F,
            extended,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(
            0x80 | self.coding_standard.bits() << 5
                | (self.interpretation & 0x07) << 2
                | (self.presentation_method & 0x03),
        );
        match self.extended {
            None => out.push(0x80 | (self.characteristics & 0x7F)),
            Some(e) => {
                out.push(self.characteristics & 0x7F);
                out.push(0x80 | (e & 0x7F));
            }
        }
    }
}
