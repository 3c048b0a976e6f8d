//! Facility, ITU-T Q.932 §4.4 / Q.931 Table 4-3 (identifier 0x1C).
//!
//! ```text
//! octet 3   ext=1 | spare (2) | protocol profile (5)   (0x11 = remote operations, ROSE)
//! octet 4.. components (ASN.1 BER), carried raw
//! ```

use super::{IeCodec, IeId};
use crate::error::IeError;

/// Facility, Q.932: the contents are carried as received.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Facility {
    /// Octet 3 onwards (protocol profile and components).
    pub contents: Vec<u8>,
}

impl Facility {
    pub fn new(contents: &[u8]) -> Self {
        Facility {
            contents: contents.to_vec(),
        }
    }

    /// The protocol profile of octet 3 (bits 1–5), if any.
    pub fn protocol_profile(&self) -> Option<u8> {
        self.contents.first().map(|b| b & 0x1F)
    }
}

impl IeCodec for Facility {
    const ID: IeId = IeId::FACILITY;

    fn decode(contents: &[u8]) -> Result<Self, IeError> {
        if contents.is_empty() {
            return Err(IeError::Missing {
                octet: "3",
                field: "protocol profile",
            });
        }
        Ok(Facility {
            contents: contents.to_vec(),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.contents);
    }
}
