//! `tel:` URIs (RFC 3966 §3, §5).

use crate::sip::param::Params;
use crate::sip::scan::{SResult, SyntaxError};
use std::fmt;

/// A telephone-number URI, borrowed from the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelUri<'a> {
    /// Everything after `tel:`, as written.
    pub raw: &'a str,
    /// The number as written, `+` and visual separators included.
    pub number: &'a str,
    /// `global-number` (starts with `+`, RFC 3966 §5.1.4) or `local-number` (§5.1.5).
    pub global: bool,
    /// Parameters (`ext`, `isub`, `phone-context`, others) in wire order.
    pub params: Params<'a>,
}

const fn is_visual_separator(c: u8) -> bool {
    matches!(c, b'-' | b'.' | b'(' | b')')
}

const fn is_pchar(c: u8) -> bool {
    // param-unreserved / unreserved / pct-encoded (RFC 3966 §3)
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'[' | b']'
                | b'/'
                | b':'
                | b'&'
                | b'+'
                | b'$'
                | b'-'
                | b'_'
                | b'.'
                | b'!'
                | b'~'
                | b'*'
                | b'\''
                | b'('
                | b')'
                | b'%'
        )
}

impl<'a> TelUri<'a> {
    pub(super) fn parse_after_scheme(rest: &'a str, base: usize) -> SResult<Self> {
        let e = |reason, at: usize| {
            Err(SyntaxError {
                reason,
                at: base + at,
            })
        };
        let end = crate::sip::scan::find_byte(rest, b';').unwrap_or(rest.len());
        let number = &rest[..end];
        let global = number.starts_with('+');
        let digits = if global { &number[1..] } else { number };
        let digit_ok = |c: u8| {
            if global {
                c.is_ascii_digit() || is_visual_separator(c)
            } else {
                c.is_ascii_hexdigit() || c == b'*' || c == b'#' || is_visual_separator(c)
            }
        };
        if !digits
            .bytes()
            .any(|c| c.is_ascii_hexdigit() || c == b'*' || c == b'#')
            || !digits.bytes().all(digit_ok)
        {
            return e("bad telephone number", 0);
        }
        let params = if end < rest.len() {
            for (i, p) in rest[end + 1..].split(';').enumerate() {
                let (name, value) = match p.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (p, None),
                };
                let name_ok = !name.is_empty()
                    && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-');
                if !name_ok || value.is_some_and(|v| v.is_empty() || !v.bytes().all(is_pchar)) {
                    return e("bad tel parameter", end + 1 + i);
                }
            }
            Params::uri(&rest[end + 1..])
        } else {
            Params::default()
        };
        // local-number requires a phone-context (RFC 3966 §5.1.5).
        if !global && !params.has("phone-context") {
            return e("local number without phone-context", 0);
        }
        Ok(TelUri {
            raw: rest,
            number,
            global,
            params,
        })
    }

    /// The number with visual separators removed (`+` kept for global numbers).
    pub fn digits(&self) -> String {
        self.number
            .bytes()
            .filter(|&c| !is_visual_separator(c))
            .map(char::from)
            .collect()
    }

    /// `;phone-context=` (RFC 3966 §5.1.5).
    pub fn phone_context(&self) -> Option<&'a str> {
        self.params.value("phone-context")
    }

    /// `;ext=` (RFC 3966 §5.1.3).
    pub fn extension(&self) -> Option<&'a str> {
        self.params.value("ext")
    }
}

impl fmt::Display for TelUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tel:{}", self.raw)
    }
}
