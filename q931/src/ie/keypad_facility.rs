//! Keypad facility, Q.931 §4.5.18 (identifier 0x2C).
//!
//! ```text
//! octet 3.. keypad facility information, IA5 characters
//! ```

use super::{ia5_string, IeCodec, IeId};
use crate::error::IeError;

/// Keypad facility, Q.931 §4.5.18.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeypadFacility {
    /// The IA5 characters (digits, `*`, `#`).
    pub digits: String,
}

impl KeypadFacility {
    pub fn new(digits: &str) -> Self {
        KeypadFacility {
            digits: digits.to_owned(),
        }
    }
}

impl IeCodec for KeypadFacility {
    const ID: IeId = IeId::KEYPAD_FACILITY;

    fn decode(contents: &[u8]) -> Result<Self, IeError> {
        if contents.is_empty() {
            return Err(IeError::Missing {
                octet: "3",
                field: "keypad facility information",
            });
        }
        Ok(KeypadFacility {
            digits: ia5_string(contents, "3", "keypad facility information")?,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        super::number::push_ia5(out, &self.digits);
    }
}
