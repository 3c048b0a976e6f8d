//! Fields shared by the party number elements: called party number (§4.5.8), calling party
//! number (§4.5.10), connected number (Q.951 §3), redirecting number (Q.952 §4).

use super::{ia5_string, Octets};
use crate::error::IeError;

macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident, $mask:expr, { $($(#[$vm:meta])* $v:ident = $n:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $v,)*
            /// A code point not named here, kept as received.
            Other(u8),
        }
        impl $name {
            pub const fn from_bits(b: u8) -> Self {
                match b & $mask {
                    $($n => Self::$v,)*
                    o => Self::Other(o),
                }
            }
            pub const fn bits(self) -> u8 {
                match self {
                    $(Self::$v => $n,)*
                    Self::Other(o) => o & $mask,
                }
            }
        }
    };
}

code_enum!(
    /// Type of number, octet 3 bits 5–7.
    TypeOfNumber, 0x07, {
        /// 000
        Unknown = 0,
        /// 001
        International = 1,
        /// 010
        National = 2,
        /// 011
        NetworkSpecific = 3,
        /// 100
        Subscriber = 4,
        /// 110
        Abbreviated = 6,
    }
);

code_enum!(
    /// Numbering plan identification, octet 3 bits 1–4.
    NumberingPlan, 0x0F, {
        /// 0000
        Unknown = 0,
        /// 0001: ISDN/telephony numbering plan (E.164).
        Isdn = 1,
        /// 0011: data numbering plan (X.121).
        Data = 3,
        /// 0100: telex numbering plan (F.69).
        Telex = 4,
        /// 1000: national standard numbering plan.
        National = 8,
        /// 1001: private numbering plan.
        Private = 9,
    }
);

code_enum!(
    /// Presentation indicator, octet 3a bits 6–7.
    Presentation, 0x03, {
        /// 00
        Allowed = 0,
        /// 01
        Restricted = 1,
        /// 10: number not available due to interworking.
        NotAvailable = 2,
    }
);

code_enum!(
    /// Screening indicator, octet 3a bits 1–2.
    Screening, 0x03, {
        /// 00
        UserProvidedNotScreened = 0,
        /// 01
        UserProvidedVerifiedPassed = 1,
        /// 10
        UserProvidedVerifiedFailed = 2,
        /// 11
        NetworkProvided = 3,
    }
);

code_enum!(
    /// Reason for redirection, redirecting number octet 3b bits 1–4 (Q.952).
    RedirectionReason, 0x0F, {
        /// 0000
        Unknown = 0,
        /// 0001: call forwarding busy.
        ForwardingBusy = 1,
        /// 0010: call forwarding no reply.
        ForwardingNoReply = 2,
        /// 0100: call deflection.
        Deflection = 4,
        /// 1001: called DTE out of order.
        DteOutOfOrder = 9,
        /// 1010: call forwarding by the called DTE.
        ForwardingByDte = 10,
        /// 1111: call forwarding unconditional.
        ForwardingUnconditional = 15,
    }
);

/// The decoded parts of a party number element.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct NumberParts {
    pub ton: TypeOfNumber,
    pub plan: NumberingPlan,
    pub presentation: Option<(Presentation, Screening)>,
    pub reason: Option<RedirectionReason>,
    pub digits: String,
}

/// Which optional octets after octet 3 the element may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Octet 3 only (called party number).
    Called,
    /// Octet 3 and optional 3a (calling party number, connected number).
    WithPresentation,
    /// Octets 3, optional 3a and optional 3b (redirecting number).
    WithReason,
}

pub(crate) fn decode(contents: &[u8], layout: Layout) -> Result<NumberParts, IeError> {
    let mut o = Octets::new(contents);
    let o3 = o.next("3", "type of number")?;
    let mut parts = NumberParts {
        ton: TypeOfNumber::from_bits(o3 >> 4),
        plan: NumberingPlan::from_bits(o3),
        presentation: None,
        reason: None,
        digits: String::new(),
    };
    if o3 & 0x80 == 0 {
        if layout == Layout::Called {
            return Err(IeError::InvalidValue {
                octet: "3",
                field: "extension bit",
                value: o3,
            });
        }
        let o3a = o.next("3a", "presentation indicator")?;
        parts.presentation = Some((Presentation::from_bits(o3a >> 5), Screening::from_bits(o3a)));
        if o3a & 0x80 == 0 {
            if layout != Layout::WithReason {
                return Err(IeError::InvalidValue {
                    octet: "3a",
                    field: "extension bit",
                    value: o3a,
                });
            }
            let o3b = o.next("3b", "reason for redirection")?;
            if o3b & 0x80 == 0 {
                return Err(IeError::InvalidValue {
                    octet: "3b",
                    field: "extension bit",
                    value: o3b,
                });
            }
            parts.reason = Some(RedirectionReason::from_bits(o3b));
        }
    }
    parts.digits = ia5_string(o.rest(), "4", "number digits")?;
    Ok(parts)
}

pub(crate) fn encode(
    out: &mut Vec<u8>,
    ton: TypeOfNumber,
    plan: NumberingPlan,
    presentation: Option<(Presentation, Screening)>,
    reason: Option<RedirectionReason>,
    digits: &str,
) {
    let o3 = ton.bits() << 4 | plan.bits();
    let presentation = match (presentation, reason) {
        (None, Some(_)) => Some((Presentation::Allowed, Screening::UserProvidedNotScreened)),
        (p, _) => p,
    };
    match presentation {
        None => out.push(0x80 | o3),
        Some((p, s)) => {
            out.push(o3);
            let o3a = p.bits() << 5 | s.bits();
            match reason {
                None => out.push(0x80 | o3a),
                Some(r) => {
                    out.push(o3a);
                    out.push(0x80 | r.bits());
                }
            }
        }
    }
    push_ia5(out, digits);
}

/// Appends IA5 text: the octets as they are when all are ASCII (the usual case), else each
/// masked to 7 bits.
pub(crate) fn push_ia5(out: &mut Vec<u8>, text: &str) {
    if text.is_ascii() {
        out.extend_from_slice(text.as_bytes());
    } else {
        out.extend(text.bytes().map(|b| b & 0x7F));
    }
}
