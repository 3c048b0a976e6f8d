//! Addressing data elements of the ETSI supplementary services (ETS 300 196-1 Annex D,
//! module `Addressing-Data-Elements`), as far as ECT's `EctInform` needs them:
//!
//! ```text
//! PresentedNumberUnscreened ::= CHOICE {
//!     presentationAllowedNumber            [0] PartyNumber,        -- explicit (CHOICE)
//!     presentationRestricted               [1] IMPLICIT NULL,
//!     numberNotAvailableDueToInterworking  [2] IMPLICIT NULL,
//!     presentationRestrictedNumber         [3] PartyNumber }       -- explicit (CHOICE)
//! PartyNumber ::= CHOICE {
//!     unknownPartyNumber          [0] IMPLICIT NumberDigits,
//!     publicPartyNumber           [1] IMPLICIT PublicPartyNumber,
//!     nsapEncodedNumber           [2] IMPLICIT NsapEncodedNumber,
//!     dataPartyNumber             [3] IMPLICIT NumberDigits,
//!     telexPartyNumber            [4] IMPLICIT NumberDigits,
//!     privatePartyNumber          [5] IMPLICIT PrivatePartyNumber,
//!     nationalStandardPartyNumber [8] IMPLICIT NumberDigits }
//! PublicPartyNumber ::= SEQUENCE { publicTypeOfNumber ENUMERATED, publicNumberDigits
//!     NumberDigits }                                   -- PrivatePartyNumber alike
//! NumberDigits ::= NumericString (SIZE(1..20))
//! ```
//!
//! The type of number values of `PublicTypeOfNumber` are those of the Q.931 element
//! (unknown 0, international 1, national 2, network specific 3, subscriber 4,
//! abbreviated 6), so [`TypeOfNumber`] serves both.

use super::ber::{self, BerError, Class, Reader, Tag};
use crate::ie::number::{NumberingPlan, TypeOfNumber};

/// A `PartyNumber`: the numbering plan (which CHOICE alternative), type of number (public
/// and private numbers only) and digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RosePartyNumber {
    /// [`NumberingPlan::Unknown`] ↔ `unknownPartyNumber`, [`NumberingPlan::Isdn`] ↔
    /// `publicPartyNumber`, [`NumberingPlan::Private`] ↔ `privatePartyNumber`,
    /// `Data`/`Telex`/`National` ↔ their digit-string alternatives.
    pub plan: NumberingPlan,
    pub ton: TypeOfNumber,
    pub digits: String,
}

impl RosePartyNumber {
    /// The alternative's context tag number for `plan` (a plan with no alternative of its
    /// own goes as `unknownPartyNumber`).
    fn alternative(&self) -> u32 {
        match self.plan {
            NumberingPlan::Isdn => 1,
            NumberingPlan::Data => 3,
            NumberingPlan::Telex => 4,
            NumberingPlan::Private => 5,
            NumberingPlan::National => 8,
            _ => 0,
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let alt = self.alternative();
        match alt {
            1 | 5 => ber::encode_constructed(Tag::context(alt, true), out, |o| {
                ber::encode_integer(Tag::ENUMERATED, i64::from(self.ton.bits()), o);
                ber::encode_tlv(Tag::universal(18, false), self.digits.as_bytes(), o);
            }),
            _ => ber::encode_tlv(Tag::context(alt, false), self.digits.as_bytes(), out),
        }
    }

    /// One `PartyNumber` element (with its tag) from `r`.
    pub fn decode(r: &mut Reader<'_>) -> Result<RosePartyNumber, BerError> {
        let t = r.read()?;
        let digits = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        let plain = |plan| RosePartyNumber {
            plan,
            ton: TypeOfNumber::Unknown,
            digits: digits(t.value),
        };
        const PUBLIC: Tag = Tag::context(1, true);
        const PRIVATE: Tag = Tag::context(5, true);
        Ok(match t.tag {
            PUBLIC | PRIVATE => {
                let mut inner = Reader::inner(&t);
                let ton = inner.expect(Tag::ENUMERATED, "publicTypeOfNumber")?;
                let ton = ber::decode_integer("publicTypeOfNumber", ton.value)?;
                let d = inner.expect(Tag::universal(18, false), "NumberDigits")?;
                inner.finish("PublicPartyNumber")?;
                RosePartyNumber {
                    plan: if t.tag == PUBLIC {
                        NumberingPlan::Isdn
                    } else {
                        NumberingPlan::Private
                    },
                    ton: TypeOfNumber::from_bits(u8::try_from(ton).unwrap_or(0)),
                    digits: digits(d.value),
                }
            }
            Tag {
                class: Class::Context,
                constructed: false,
                number,
            } if matches!(number, 0 | 3 | 4 | 8) => plain(match number {
                3 => NumberingPlan::Data,
                4 => NumberingPlan::Telex,
                8 => NumberingPlan::National,
                _ => NumberingPlan::Unknown,
            }),
            _ => {
                return Err(BerError::UnexpectedTag {
                    offset: t.offset,
                    expected: "PartyNumber",
                    found: t.tag.code(),
                })
            }
        })
    }
}

/// `PresentedNumberUnscreened` (ETS 300 196-1 Annex D).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PresentedNumberUnscreened {
    Allowed(RosePartyNumber),
    /// Presentation restricted, no number.
    Restricted,
    /// Number not available due to interworking.
    NotAvailable,
    /// Presentation restricted, with the number (for the network's own use).
    RestrictedNumber(RosePartyNumber),
}

impl PresentedNumberUnscreened {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            PresentedNumberUnscreened::Allowed(n) => {
                ber::encode_constructed(Tag::context(0, true), out, |o| n.encode(o))
            }
            PresentedNumberUnscreened::Restricted => {
                ber::encode_tlv(Tag::context(1, false), &[], out)
            }
            PresentedNumberUnscreened::NotAvailable => {
                ber::encode_tlv(Tag::context(2, false), &[], out)
            }
            PresentedNumberUnscreened::RestrictedNumber(n) => {
                ber::encode_constructed(Tag::context(3, true), out, |o| n.encode(o))
            }
        }
    }

    /// One element (with its tag) from `r`.
    pub fn decode(r: &mut Reader<'_>) -> Result<PresentedNumberUnscreened, BerError> {
        let t = r.read()?;
        let code = t.tag.code();
        let number = |t: &ber::Tlv<'_>| {
            let mut inner = Reader::inner(t);
            let n = RosePartyNumber::decode(&mut inner)?;
            inner.finish("PresentedNumberUnscreened")?;
            Ok::<_, BerError>(n)
        };
        Ok(match t.tag {
            t0 if t0 == Tag::context(0, true) => PresentedNumberUnscreened::Allowed(number(&t)?),
            t3 if t3 == Tag::context(3, true) => {
                PresentedNumberUnscreened::RestrictedNumber(number(&t)?)
            }
            t1 if t1 == Tag::context(1, false) => PresentedNumberUnscreened::Restricted,
            t2 if t2 == Tag::context(2, false) => PresentedNumberUnscreened::NotAvailable,
            _ => {
                return Err(BerError::UnexpectedTag {
                    offset: t.offset,
                    expected: "PresentedNumberUnscreened",
                    found: code,
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(p: PresentedNumberUnscreened) -> Vec<u8> {
        let mut out = Vec::new();
        p.encode(&mut out);
        let mut r = Reader::new(&out);
        assert_eq!(PresentedNumberUnscreened::decode(&mut r).unwrap(), p);
        assert!(r.is_empty());
        out
    }

    #[test]
    fn public_number_allowed_known_answer() {
        let n = RosePartyNumber {
            plan: NumberingPlan::Isdn,
            ton: TypeOfNumber::National,
            digits: "301234".to_string(),
        };
        // [0] { [1] { ENUMERATED 2, NumericString "301234" } }
        assert_eq!(
            round_trip(PresentedNumberUnscreened::Allowed(n)),
            [
                0xA0, 0x0D, 0xA1, 0x0B, 0x0A, 0x01, 0x02, 0x12, 0x06, b'3', b'0', b'1', b'2', b'3',
                b'4'
            ]
        );
    }

    #[test]
    fn unknown_number_restricted_and_null_forms_round_trip() {
        let n = RosePartyNumber {
            plan: NumberingPlan::Unknown,
            ton: TypeOfNumber::Unknown,
            digits: "42".to_string(),
        };
        assert_eq!(
            round_trip(PresentedNumberUnscreened::RestrictedNumber(n)),
            [0xA3, 0x04, 0x80, 0x02, b'4', b'2']
        );
        assert_eq!(
            round_trip(PresentedNumberUnscreened::Restricted),
            [0x81, 0x00]
        );
        round_trip(PresentedNumberUnscreened::NotAvailable);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [&[0xA0, 0x02, 0xA1, 0x00][..], &[0xA0], &[0x85, 0x00], &[]] {
            let mut r = Reader::new(bytes);
            assert!(
                PresentedNumberUnscreened::decode(&mut r).is_err(),
                "{bytes:02x?}"
            );
        }
    }
}
