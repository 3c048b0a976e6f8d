//! Reason (RFC 3326 §2): `protocol *( SEMI reason-params )` with `cause` and `text`.

use super::ListHeader;
use crate::sip::message::HeaderName;
use crate::sip::param::{parse_header_params, Params};
use crate::sip::scan::{parse_u64, Cursor, SResult};
use std::borrow::Cow;

/// One Reason entry, e.g. `Q.850;cause=16;text="Normal call clearing"` or `SIP;cause=200`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason<'a> {
    /// `SIP`, `Q.850` or an extension token.
    pub protocol: &'a str,
    /// Parameters.
    pub params: Params<'a>,
}

impl<'a> Reason<'a> {
    /// Whether the protocol is Q.850 (the cause is then an ISDN cause value, 1..=127).
    pub fn is_q850(&self) -> bool {
        self.protocol.eq_ignore_ascii_case("Q.850")
    }

    /// Whether the protocol is SIP (the cause is then a status code).
    pub fn is_sip(&self) -> bool {
        self.protocol.eq_ignore_ascii_case("SIP")
    }

    /// `;cause=`.
    pub fn cause(&self) -> Option<u16> {
        self.params
            .value("cause")
            .and_then(|v| parse_u64(v, u64::from(u16::MAX)))
            .map(|v| v as u16)
    }

    /// `;text=`, unquoted.
    pub fn text(&self) -> Option<Cow<'a, str>> {
        self.params.unquoted("text")
    }
}

impl<'a> ListHeader<'a> for Reason<'a> {
    const NAME: HeaderName = HeaderName::Reason;
    fn parse_item(c: &mut Cursor<'a>) -> SResult<Self> {
        let protocol = c.token()?;
        let params = parse_header_params(c)?;
        let r = Reason { protocol, params };
        if r.params.has("cause") && r.cause().is_none() {
            return c.err("bad cause");
        }
        Ok(r)
    }
}
