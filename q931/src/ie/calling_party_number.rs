//! Calling party number, Q.931 §4.5.10 (identifier 0x6C).
//!
//! ```text
//! octet 3   ext | type of number (3) | numbering plan identification (4)
//! octet 3a  ext=1 | presentation indicator (2) | spare (3) | screening indicator (2)
//! octet 4.. number digits, IA5 characters
//! ```

use super::number::{self, Layout, NumberingPlan, Presentation, Screening, TypeOfNumber};
use super::{IeCodec, IeId};
use crate::error::IeError;

/// Calling party number, Q.931 §4.5.10 (identifier 0x6C).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallingPartyNumber {
    pub type_of_number: TypeOfNumber,
    pub numbering_plan: NumberingPlan,
    /// Octet 3a, when present.
    pub presentation: Option<(Presentation, Screening)>,
    /// IA5 digits; may be empty (e.g. presentation restricted).
    pub digits: String,
}

impl CallingPartyNumber {
    /// A number without octet 3a.
    pub fn new(type_of_number: TypeOfNumber, numbering_plan: NumberingPlan, digits: &str) -> Self {
        CallingPartyNumber {
            type_of_number,
            numbering_plan,
            presentation: None,
            digits: digits.to_owned(),
        }
    }

    /// Adds octet 3a.
    pub fn with_presentation(mut self, presentation: Presentation, screening: Screening) -> Self {
        self.presentation = Some((presentation, screening));
        self
    }
}

impl IeCodec for CallingPartyNumber {
    const ID: IeId = IeId::CALLING_PARTY_NUMBER;

    fn decode(contents: &[u8]) -> Result<Self, IeError> {
        let p = number::decode(contents, Layout::WithPresentation)?;
        Ok(CallingPartyNumber {
            type_of_number: p.ton,
            numbering_plan: p.plan,
            presentation: p.presentation,
            digits: p.digits,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        number::encode(
            out,
            self.type_of_number,
            self.numbering_plan,
            self.presentation,
            None,
            &self.digits,
        );
    }
}
