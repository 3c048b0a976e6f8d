//! Low layer compatibility, Q.931 §4.5.19 (identifier 0x7C).
//!
//! ```text
//! octet 3   ext | coding standard (2) | information transfer capability (5)
//! octet 3a  ext=1 | negotiation indicator | spare (6)       (when octet 3 ext bit is 0)
//! octet 4.. as the bearer capability octets 4 to 7 (transfer mode and rate, layer 1/2/3
//!           protocols with their extension octets)
//! ```
//! Octets 3 and 3a are decoded; octets 4 onwards are kept as received, since their
//! meaning is end to end (the network carries them transparently).

use super::bearer_capability::InfoTransferCapability;
use super::{CodingStandard, IeCodec, IeId, Octets};
use crate::error::IeError;

/// Low layer compatibility, Q.931 §4.5.19.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LowLayerCompatibility {
    pub coding_standard: CodingStandard,
    pub capability: InfoTransferCapability,
    /// Octet 3a bit 7 (out-band negotiation possible), when octet 3a is present.
    pub negotiation: Option<bool>,
    /// Octets 4 onwards as received.
    pub rest: Vec<u8>,
}

impl IeCodec for LowLayerCompatibility {
    const ID: IeId = IeId::LOW_LAYER_COMPATIBILITY;

    fn decode(contents: &[u8]) -> Result<Self, IeError> {
        let mut o = Octets::new(contents);
        let o3 = o.next("3", "information transfer capability")?;
        let negotiation = if o3 & 0x80 == 0 {
            let a = o.next("3a", "negotiation indicator")?;
            if a & 0x80 == 0 {
                return Err(IeError::InvalidValue {
                    octet: "3a",
                    field: "extension bit",
                    value: a,
                });
            }
            Some(a & 0x40 != 0)
        } else {
            None
        };
        let rest = o.rest();
        if rest.is_empty() {
            return Err(IeError::Missing {
                octet: "4",
                field: "information transfer rate",
            });
        }
        Ok(LowLayerCompatibility {
            coding_standard: CodingStandard::from_bits(o3 >> 5),
            capability: InfoTransferCapability::from_bits(o3),
            negotiation,
            rest: rest.to_vec(),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let o3 = self.coding_standard.bits() << 5 | self.capability.bits();
        match self.negotiation {
            None => out.push(0x80 | o3),
            Some(n) => {
                out.push(o3);
                out.push(0x80 | if n { 0x40 } else { 0 });
            }
        }
        out.extend_from_slice(&self.rest);
    }
}
