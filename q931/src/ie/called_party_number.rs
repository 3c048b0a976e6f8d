//! Called party number, Q.931 §4.5.8 (identifier 0x70).
//!
//! ```text
//! octet 3   ext=1 | type of number (3) | numbering plan identification (4)
//! octet 4.. number digits, IA5 characters
//! ```

use super::number::{self, Layout, NumberingPlan, TypeOfNumber};
use super::{IeCodec, IeId};
use crate::error::IeError;

/// Called party number, Q.931 §4.5.8.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CalledPartyNumber {
    pub type_of_number: TypeOfNumber,
    pub numbering_plan: NumberingPlan,
    /// IA5 digits (`0`–`9`, `*`, `#`, ...).
    pub digits: String,
}

impl CalledPartyNumber {
    pub fn new(type_of_number: TypeOfNumber, numbering_plan: NumberingPlan, digits: &str) -> Self {
        CalledPartyNumber {
            type_of_number,
            numbering_plan,
            digits: digits.to_owned(),
        }
    }
}

impl IeCodec for CalledPartyNumber {
    const ID: IeId = IeId::CALLED_PARTY_NUMBER;

    fn decode(contents: &[u8]) -> Result<Self, IeError> {
        let p = number::decode(contents, Layout::Called)?;
        Ok(CalledPartyNumber {
            type_of_number: p.ton,
            numbering_plan: p.plan,
            digits: p.digits,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        number::encode(
            out,
            self.type_of_number,
            self.numbering_plan,
            None,
            None,
            &self.digits,
        );
    }
}
