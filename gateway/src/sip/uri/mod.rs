//! URIs: `sip:`/`sips:` (RFC 3261 §19.1), `tel:` (RFC 3966) and any other scheme kept
//! verbatim so that a UAS can answer 416 (RFC 3261 §8.2.2.1).

mod escape;
mod sip;
mod tel;

pub use escape::unescape;
pub use sip::{Host, SipUri};
pub use tel::TelUri;

use super::scan::{SResult, SyntaxError};
use std::fmt;

/// A URI as found in a Request-URI or a name-addr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri<'a> {
    /// `sip:` or `sips:`.
    Sip(SipUri<'a>),
    /// `tel:` (RFC 3966).
    Tel(TelUri<'a>),
    /// Any other `absoluteURI`: the scheme and everything after the colon, verbatim.
    Other {
        /// The scheme, as written.
        scheme: &'a str,
        /// What follows `scheme:`.
        rest: &'a str,
    },
}

impl<'a> Uri<'a> {
    /// Parse a URI with no surrounding white space.
    pub fn parse(s: &'a str) -> SResult<Uri<'a>> {
        let colon = crate::sip::scan::find_byte(s, b':').ok_or(SyntaxError {
            reason: "URI scheme expected",
            at: 0,
        })?;
        let scheme = &s[..colon];
        // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )  (RFC 3261 §25.1)
        let valid_scheme = scheme
            .bytes()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
        if !valid_scheme {
            return Err(SyntaxError {
                reason: "bad URI scheme",
                at: 0,
            });
        }
        let rest = &s[colon + 1..];
        if scheme.eq_ignore_ascii_case("sip") {
            SipUri::parse_after_scheme(rest, false, colon + 1).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("sips") {
            SipUri::parse_after_scheme(rest, true, colon + 1).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("tel") {
            TelUri::parse_after_scheme(rest, colon + 1).map(Uri::Tel)
        } else {
            // absoluteURI = scheme ":" ( hier-part / opaque-part ); no white space or
            // controls, and not empty.
            if rest.is_empty() || rest.bytes().any(|c| c <= b' ' || c == 0x7f || c == b'"') {
                return Err(SyntaxError {
                    reason: "bad absoluteURI",
                    at: colon + 1,
                });
            }
            Ok(Uri::Other { scheme, rest })
        }
    }

    /// The scheme in lower case for the known ones, as written for others.
    pub fn scheme(&self) -> &'a str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Tel(_) => "tel",
            Uri::Other { scheme, .. } => scheme,
        }
    }

    /// The SIP URI, if it is one.
    pub fn as_sip(&self) -> Option<&SipUri<'a>> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// The tel URI, if it is one.
    pub fn as_tel(&self) -> Option<&TelUri<'a>> {
        match self {
            Uri::Tel(u) => Some(u),
            _ => None,
        }
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Tel(u) => u.fmt(f),
            Uri::Other { scheme, rest } => write!(f, "{scheme}:{rest}"),
        }
    }
}
