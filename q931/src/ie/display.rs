//! Display, Q.931 §4.5.16 (identifier 0x28).
//!
//! ```text
//! octet 3.. display information, IA5 characters (at most 34 octets on the ISDN
//!           user-network interface in ETSI, 82 in Q.931)
//! ```
//! ANSI T1.607 / NI-2 switches may put a display type octet with bit 8 set before the
//! characters (e.g. 0xB1 "calling party name"); it is kept in [`Display::display_type`].
//!
//! The characters are read as ISO 8859-1, which keeps IA5 as it is: European switches
//! send names such as "Müller" in 8-bit form in the Display (as libpri reads it). Written,
//! each character is its ISO 8859-1 octet, `?` for one beyond it.

use super::{IeCodec, IeId};
use crate::error::IeError;

/// Display, Q.931 §4.5.16.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Display {
    /// The leading octet with bit 8 set used by ANSI/NI-2 variants, when present.
    pub display_type: Option<u8>,
    /// The IA5 text.
    pub text: String,
}

impl Display {
    pub fn new(text: &str) -> Self {
        Display {
            display_type: None,
            text: text.to_owned(),
        }
    }
}

impl IeCodec for Display {
    const ID: IeId = IeId::DISPLAY;

    fn decode(contents: &[u8]) -> Result<Self, IeError> {
        let (display_type, text) = match contents.split_first() {
            Some((&t, rest)) if t & 0x80 != 0 => (Some(t), rest),
            _ => (None, contents),
        };
        Ok(Display {
            display_type,
            text: text.iter().map(|&b| char::from(b)).collect(),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        if let Some(t) = self.display_type {
            out.push(t | 0x80);
        }
        out.extend(
            self.text
                .chars()
                .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')),
        );
    }
}
