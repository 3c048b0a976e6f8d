//! Content-Type (RFC 3261 §20.15) and Accept (§20.1): media types with parameters.

use super::{Header, ListHeader};
use crate::sip::message::HeaderName;
use crate::sip::param::{parse_header_params, Params};
use crate::sip::scan::{Cursor, SResult};

/// `m-type SLASH m-subtype *(SEMI m-parameter)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType<'a> {
    /// Type (`application`), compare case-insensitively.
    pub mtype: &'a str,
    /// Subtype (`sdp`).
    pub subtype: &'a str,
    /// Parameters (`boundary`, `charset`, `q` ...).
    pub params: Params<'a>,
}

impl<'a> MediaType<'a> {
    fn parse_from(c: &mut Cursor<'a>) -> SResult<Self> {
        let mtype = c.token()?;
        if !c.eat_sep(b'/') {
            return c.err("'/' expected");
        }
        let subtype = c.token()?;
        let params = parse_header_params(c)?;
        Ok(MediaType {
            mtype,
            subtype,
            params,
        })
    }

    /// Whether this is `type/subtype` (case-insensitive).
    pub fn is(&self, mtype: &str, subtype: &str) -> bool {
        self.mtype.eq_ignore_ascii_case(mtype) && self.subtype.eq_ignore_ascii_case(subtype)
    }

    /// Whether this media range (possibly `*/*` or `type/*`) covers `type/subtype`.
    pub fn covers(&self, mtype: &str, subtype: &str) -> bool {
        (self.mtype == "*" && self.subtype == "*")
            || (self.mtype.eq_ignore_ascii_case(mtype)
                && (self.subtype == "*" || self.subtype.eq_ignore_ascii_case(subtype)))
    }
}

/// Content-Type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType<'a>(pub MediaType<'a>);

impl<'a> Header<'a> for ContentType<'a> {
    const NAME: HeaderName = HeaderName::ContentType;
    fn parse(value: &'a str) -> SResult<Self> {
        let mut c = Cursor::new(value);
        c.skip_ws();
        let m = MediaType::parse_from(&mut c)?;
        c.expect_end()?;
        Ok(ContentType(m))
    }
}

impl<'a> std::ops::Deref for ContentType<'a> {
    type Target = MediaType<'a>;
    fn deref(&self) -> &MediaType<'a> {
        &self.0
    }
}

/// One media range of Accept; the header may be empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accept<'a>(pub MediaType<'a>);

impl<'a> ListHeader<'a> for Accept<'a> {
    const NAME: HeaderName = HeaderName::Accept;
    const MAY_BE_EMPTY: bool = true;
    fn parse_item(c: &mut Cursor<'a>) -> SResult<Self> {
        MediaType::parse_from(c).map(Accept)
    }
}
