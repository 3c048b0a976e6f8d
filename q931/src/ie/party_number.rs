//! Numbers that carry presentation and screening (octet 3a): the Calling party number
//! (Q.931 §4.5.10, identifier 0x6C), the Connected number (ITU-T Q.951 §3 / ETSI
//! EN 300 097, identifier 0x4C) and the Redirection number (Q.952 §4.1.3, 0x76) have the
//! same layout, so one type serves them all.
//!
//! ```text
//! octet 3   ext | type of number (3) | numbering plan identification (4)
//! octet 3a  ext=1 | presentation indicator (2) | spare (3) | screening indicator (2)
//! octet 4.. number digits, IA5 characters
//! ```

use super::number::{self, Layout, NumberingPlan, Presentation, Screening, TypeOfNumber};
use super::{IeCodec, IeId};
use crate::error::IeError;

/// A number with optional presentation and screening; `ID` is the element identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartyNumber<const ID: u8> {
    pub type_of_number: TypeOfNumber,
    pub numbering_plan: NumberingPlan,
    /// Octet 3a, when present.
    pub presentation: Option<(Presentation, Screening)>,
    /// IA5 digits; may be empty (e.g. presentation restricted).
    pub digits: String,
}

/// Calling party number, Q.931 §4.5.10 (identifier 0x6C).
pub type CallingPartyNumber = PartyNumber<{ IeId::CALLING_PARTY_NUMBER.0 }>;

/// Connected number, ITU-T Q.951 §3 / ETSI EN 300 097 (identifier 0x4C).
pub type ConnectedNumber = PartyNumber<{ IeId::CONNECTED_NUMBER.0 }>;

/// Redirection number, ITU-T Q.952 §4.1.3 (identifier 0x76): the number a call was
/// redirected or transferred to; in a NOTIFY "call transferred, active" (0x6A), the
/// party the user is now connected to (EN 300 369-1, the NOTIFY form of ECT).
pub type RedirectionNumber = PartyNumber<{ IeId::REDIRECTION_NUMBER.0 }>;

impl<const ID: u8> PartyNumber<ID> {
    /// A number without octet 3a.
    pub fn new(type_of_number: TypeOfNumber, numbering_plan: NumberingPlan, digits: &str) -> Self {
        PartyNumber {
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

impl<const ID: u8> IeCodec for PartyNumber<ID> {
    const ID: IeId = IeId(ID);

    fn decode(contents: &[u8]) -> Result<Self, IeError> {
        let p = number::decode(contents, Layout::WithPresentation)?;
        Ok(PartyNumber {
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
