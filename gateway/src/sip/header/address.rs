//! Address headers: From, To, Contact, Route, Record-Route (RFC 3261 §20.10, §20.20, §20.30,
//! §20.34, §20.39), Refer-To (RFC 3515 §2.1), Referred-By (RFC 3892 §3).

use super::{Header, ListHeader};
use crate::sip::message::HeaderName;
use crate::sip::param::{parse_header_params_noting, Param, Params};
use crate::sip::scan::{is_token, is_ws, unquote, Cursor, SResult, SyntaxError};
use crate::sip::uri::Uri;
use std::borrow::Cow;

/// `( name-addr / addr-spec ) *( SEMI param )`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The display name as written: a quoted-string's content (escapes kept) or the tokens.
    pub display_name: Option<&'a str>,
    /// Whether the display name was a quoted-string.
    pub display_quoted: bool,
    /// The URI.
    pub uri: Uri<'a>,
    /// Whether the URI was enclosed in `<>` (name-addr form).
    pub bracketed: bool,
    /// Header parameters after the address (`tag`, `expires`, `q`, ...).
    pub params: Params<'a>,
}

impl<'a> NameAddr<'a> {
    /// The display name with quoted-pair escapes undone.
    pub fn display_name(&self) -> Option<Cow<'a, str>> {
        let d = self.display_name?;
        Some(if self.display_quoted {
            unquote(d)
        } else {
            Cow::Borrowed(d)
        })
    }

    /// `;tag=` (RFC 3261 §19.3).
    pub fn tag(&self) -> Option<&'a str> {
        self.params.value("tag")
    }

    /// Parse one name-addr or addr-spec followed by header parameters, stopping at a
    /// top-level COMMA or the end.
    pub(crate) fn parse_item(c: &mut Cursor<'a>, need_brackets: bool) -> SResult<Self> {
        NameAddr::parse_item_noting(c, need_brackets, "").map(|(na, _)| na)
    }

    /// [`NameAddr::parse_item`], also handing back the first header parameter called
    /// `wanted` (see [`parse_header_params_noting`]).
    fn parse_item_noting(
        c: &mut Cursor<'a>,
        need_brackets: bool,
        wanted: &str,
    ) -> SResult<(Self, Option<Param<'a>>)> {
        c.skip_ws();
        let mut display_name = None;
        let mut display_quoted = false;
        let bracketed;
        if c.peek() == Some(b'"') {
            display_name = Some(c.quoted_string()?);
            display_quoted = true;
            c.skip_ws();
            if c.peek() != Some(b'<') {
                return c.err("'<' expected after display name");
            }
            bracketed = true;
        } else if c.peek() == Some(b'<') {
            bracketed = true;
        } else {
            // *(token LWS) before LAQUOT, or an addr-spec.
            let save = c.clone();
            let start = c.pos();
            let mut end = start;
            loop {
                let t = c.take_while(is_token);
                if t.is_empty() {
                    break;
                }
                end = c.pos();
                c.skip_ws();
            }
            if c.peek() == Some(b'<') && end > start {
                display_name = Some(c.slice(start, end));
                bracketed = true;
            } else {
                *c = save;
                bracketed = false;
            }
        }
        let uri = if bracketed {
            c.eat(b'<');
            let start = c.pos();
            let raw = c.take_until(b'>');
            if !c.eat(b'>') {
                return c.err("'>' expected");
            }
            // LAQUOT = SWS "<" and RAQUOT = ">" SWS: no white space inside the brackets
            // (RFC 4475 §3.1.2.15).
            let r = raw.as_bytes();
            if memchr::memchr3(b' ', b'\t', b'\r', r).is_some()
                || memchr::memchr(b'\n', r).is_some()
            {
                return Err(SyntaxError {
                    reason: "white space inside <>",
                    at: start,
                });
            }
            parse_uri(raw, start)?
        } else {
            if need_brackets {
                return c.err("'<' expected");
            }
            let start = c.pos();
            let raw = c.take_while(|b| !is_ws(b) && b != b';' && b != b',');
            // An addr-spec containing ',', '?' or ';' must be bracketed (RFC 3261 §20.10,
            // RFC 4475 §3.1.2.14).
            if raw.contains('?') || raw.contains('>') || raw.contains('<') {
                return Err(SyntaxError {
                    reason: "URI with '?' must be enclosed in <>",
                    at: start,
                });
            }
            parse_uri(raw, start)?
        };
        let (params, noted) = parse_header_params_noting(c, wanted)?;
        Ok((
            NameAddr {
                display_name,
                display_quoted,
                uri,
                bracketed,
                params,
            },
            noted,
        ))
    }

    fn parse_single(value: &'a str, need_brackets: bool) -> SResult<Self> {
        let mut c = Cursor::new(value);
        let na = NameAddr::parse_item(&mut c, need_brackets)?;
        c.expect_end()?;
        Ok(na)
    }
}

fn parse_uri(raw: &str, at: usize) -> SResult<Uri<'_>> {
    Uri::parse(raw).map_err(|e| SyntaxError {
        reason: e.reason,
        at: at + e.at,
    })
}

macro_rules! single_address {
    ($name:ident, $hn:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name<'a>(pub NameAddr<'a>);

        impl<'a> Header<'a> for $name<'a> {
            const NAME: HeaderName = HeaderName::$hn;
            fn parse(value: &'a str) -> SResult<Self> {
                NameAddr::parse_single(value, false).map($name)
            }
        }

        impl<'a> std::ops::Deref for $name<'a> {
            type Target = NameAddr<'a>;
            fn deref(&self) -> &NameAddr<'a> {
                &self.0
            }
        }
    };
}

single_address!(From, From, "From (RFC 3261 §20.20).");
single_address!(To, To, "To (RFC 3261 §20.39).");
single_address!(ReferTo, ReferTo, "Refer-To (RFC 3515 §2.1).");
single_address!(
    ReferredBy,
    ReferredBy,
    "Referred-By (RFC 3892 §3); `cid` parameter kept."
);

macro_rules! route_list {
    ($name:ident, $hn:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name<'a>(pub NameAddr<'a>);

        impl<'a> ListHeader<'a> for $name<'a> {
            const NAME: HeaderName = HeaderName::$hn;
            fn parse_item(c: &mut Cursor<'a>) -> SResult<Self> {
                NameAddr::parse_item(c, true).map($name)
            }
        }

        impl<'a> std::ops::Deref for $name<'a> {
            type Target = NameAddr<'a>;
            fn deref(&self) -> &NameAddr<'a> {
                &self.0
            }
        }
    };
}

route_list!(
    Route,
    Route,
    "One Route entry (RFC 3261 §20.34): always a name-addr."
);
route_list!(
    RecordRoute,
    RecordRoute,
    "One Record-Route entry (RFC 3261 §20.30): always a name-addr."
);

/// One Contact entry (RFC 3261 §20.10) with `q` and `expires` helpers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact<'a>(pub NameAddr<'a>);

impl<'a> Contact<'a> {
    /// `;expires=` in seconds; `None` when absent, `Some(Err)` when malformed.
    pub fn expires(&self) -> Option<Result<u32, SyntaxError>> {
        let v = self.0.params.value("expires")?;
        Some(crate::sip::scan::parse_delta_seconds(v).ok_or(SyntaxError {
            reason: "bad expires parameter",
            at: 0,
        }))
    }

    /// `;q=` as thousandths (qvalue = "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")]).
    pub fn q(&self) -> Option<Result<u16, SyntaxError>> {
        q_of(self.0.params.get("q"))
    }
}

impl<'a> std::ops::Deref for Contact<'a> {
    type Target = NameAddr<'a>;
    fn deref(&self) -> &NameAddr<'a> {
        &self.0
    }
}

/// The value of a `q` parameter (`None` when absent or without value).
fn q_of(p: Option<Param<'_>>) -> Option<Result<u16, SyntaxError>> {
    let v = p?.value?;
    Some(parse_qvalue(v).ok_or(SyntaxError {
        reason: "bad q parameter",
        at: 0,
    }))
}

/// `qvalue` in thousandths (RFC 3261 §25.1).
pub(crate) fn parse_qvalue(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut f: u16 = 0;
    for i in 0..3 {
        f = f * 10 + frac.as_bytes().get(i).map_or(0, |c| u16::from(c - b'0'));
    }
    match int {
        "0" => Some(f),
        "1" if f == 0 => Some(1000),
        _ => None,
    }
}

impl<'a> ListHeader<'a> for Contact<'a> {
    const NAME: HeaderName = HeaderName::Contact;
    fn parse_item(c: &mut Cursor<'a>) -> SResult<Self> {
        // The one parameter checked here is noted while the list is validated.
        let (na, q) = NameAddr::parse_item_noting(c, false, "q")?;
        if let Some(Err(e)) = q_of(q) {
            return Err(e);
        }
        Ok(Contact(na))
    }
}

/// The Contact header field as a whole: `*` or a list of addresses (RFC 3261 §20.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactValue<'a> {
    /// `Contact: *` (REGISTER removing all bindings, RFC 3261 §10.2.2).
    Star,
    /// The listed contacts.
    Addresses(Vec<Contact<'a>>),
}
