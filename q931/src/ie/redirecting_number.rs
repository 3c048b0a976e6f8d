//! Redirecting number, ITU-T Q.952 §4 / Q.931 Table 4-3 (identifier 0x74).
//!
//! ```text
//! octet 3   ext | type of number (3) | numbering plan identification (4)
//! octet 3a  ext | presentation indicator (2) | spare (3) | screening indicator (2)
//! octet 3b  ext=1 | spare (3) | reason for redirection (4)
//! octet 4.. number digits, IA5 characters
//! ```

use super::number::{
    self, Layout, NumberingPlan, Presentation, RedirectionReason, Screening, TypeOfNumber,
};
use super::{IeCodec, IeId};
use crate::error::IeError;

/// Redirecting number, Q.952.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RedirectingNumber {
    pub type_of_number: TypeOfNumber,
    pub numbering_plan: NumberingPlan,
    /// Octet 3a, when present (always present when `reason` is).
    pub presentation: Option<(Presentation, Screening)>,
    /// Octet 3b, when present.
    pub reason: Option<RedirectionReason>,
    pub digits: String,
}

impl RedirectingNumber {
    pub fn new(
        type_of_number: TypeOfNumber,
        numbering_plan: NumberingPlan,
        digits: &str,
        presentation: (Presentation, Screening),
        reason: RedirectionReason,
    ) -> Self {
        RedirectingNumber {
            type_of_number,
            numbering_plan,
            presentation: Some(presentation),
            reason: Some(reason),
            digits: digits.to_owned(),
        }
    }
}

impl IeCodec for RedirectingNumber {
    const ID: IeId = IeId::REDIRECTING_NUMBER;

    fn decode(contents: &[u8]) -> Result<Self, IeError> {
        let p = number::decode(contents, Layout::WithReason)?;
        Ok(RedirectingNumber {
            type_of_number: p.ton,
            numbering_plan: p.plan,
            presentation: p.presentation,
            reason: p.reason,
            digits: p.digits,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        number::encode(
            out,
            self.type_of_number,
            self.numbering_plan,
            self.presentation,
            self.reason,
            &self.digits,
        );
    }
}
