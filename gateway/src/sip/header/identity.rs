//! Identity and privacy headers for interworking: P-Asserted-Identity and
//! P-Preferred-Identity (RFC 3325 §9.1, §9.2), Privacy (RFC 3323 §4.2, RFC 3325 §9.3),
//! Diversion (RFC 5806 §3), History-Info (RFC 7044 §5).

use super::address::NameAddr;
use super::{Header, ListHeader};
use crate::sip::message::HeaderName;
use crate::sip::scan::{parse_u64, Cursor, SResult, SyntaxError};

/// One P-Asserted-Identity value: `name-addr / addr-spec` (a `sip:`/`sips:` and/or a `tel:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PAssertedIdentity<'a>(pub NameAddr<'a>);

/// One P-Preferred-Identity value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PPreferredIdentity<'a>(pub NameAddr<'a>);

macro_rules! identity {
    ($name:ident, $hn:ident) => {
        impl<'a> ListHeader<'a> for $name<'a> {
            const NAME: HeaderName = HeaderName::$hn;
            fn parse_item(c: &mut Cursor<'a>) -> SResult<Self> {
                let na = NameAddr::parse_item(c, false)?;
                // PAssertedID-value = name-addr / addr-spec: no header parameters.
                if !na.params.is_empty() {
                    return c.err("no parameters allowed");
                }
                Ok($name(na))
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

identity!(PAssertedIdentity, PAssertedIdentity);
identity!(PPreferredIdentity, PPreferredIdentity);

/// A priv-value (RFC 3323 §4.2, RFC 3325 §9.3, RFC 7044 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivacyValue<'a> {
    /// `header`.
    Header,
    /// `session`.
    Session,
    /// `user`.
    User,
    /// `none`.
    None,
    /// `critical`.
    Critical,
    /// `id` (RFC 3325).
    Id,
    /// `history` (RFC 7044).
    History,
    /// An extension token.
    Other(&'a str),
}

/// Privacy: `priv-value *( ";" priv-value )`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Privacy<'a>(pub Vec<PrivacyValue<'a>>);

impl<'a> Privacy<'a> {
    /// Whether `value` is requested.
    pub fn contains(&self, value: PrivacyValue<'_>) -> bool {
        self.0.iter().any(|v| match (v, &value) {
            (PrivacyValue::Other(a), PrivacyValue::Other(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        })
    }
}

impl<'a> Header<'a> for Privacy<'a> {
    const NAME: HeaderName = HeaderName::Privacy;
    fn parse(value: &'a str) -> SResult<Self> {
        let mut c = Cursor::new(value);
        c.skip_ws();
        let mut out = Vec::new();
        loop {
            let t = c.token()?;
            out.push(match t.to_ascii_lowercase().as_str() {
                "header" => PrivacyValue::Header,
                "session" => PrivacyValue::Session,
                "user" => PrivacyValue::User,
                "none" => PrivacyValue::None,
                "critical" => PrivacyValue::Critical,
                "id" => PrivacyValue::Id,
                "history" => PrivacyValue::History,
                _ => PrivacyValue::Other(t),
            });
            if !c.eat_sep(b';') {
                break;
            }
        }
        c.expect_end()?;
        Ok(Privacy(out))
    }
}

/// One Diversion entry: `name-addr *( SEMI diversion-params )` with `reason`, `counter`,
/// `limit`, `privacy`, `screen`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diversion<'a>(pub NameAddr<'a>);

impl<'a> Diversion<'a> {
    /// `;reason=` (e.g. `unconditional`, `user-busy`, `no-answer`), unquoted.
    pub fn reason(&self) -> Option<std::borrow::Cow<'a, str>> {
        self.0.params.unquoted("reason")
    }

    /// `;counter=` (1..=15, RFC 5806 §3).
    pub fn counter(&self) -> Option<u8> {
        self.0
            .params
            .value("counter")
            .and_then(|v| parse_u64(v, 255))
            .map(|v| v as u8)
    }
}

impl<'a> ListHeader<'a> for Diversion<'a> {
    const NAME: HeaderName = HeaderName::Diversion;
    fn parse_item(c: &mut Cursor<'a>) -> SResult<Self> {
        NameAddr::parse_item(c, false).map(Diversion)
    }
}

impl<'a> std::ops::Deref for Diversion<'a> {
    type Target = NameAddr<'a>;
    fn deref(&self) -> &NameAddr<'a> {
        &self.0
    }
}

/// One History-Info entry: `hi-targeted-to-uri *( SEMI hi-param )` with a mandatory
/// `index` (RFC 7044 §5) and optional `rc`, `mp`, `np`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryInfo<'a> {
    /// The entry.
    pub addr: NameAddr<'a>,
    /// `index` as its dotted components (`1.1.2` → `[1, 1, 2]`).
    pub index: Vec<u32>,
}

impl<'a> HistoryInfo<'a> {
    /// `;rc=` index this entry was retargeted from.
    pub fn rc(&self) -> Option<&'a str> {
        self.addr.params.value("rc")
    }

    /// `;mp=` index this entry was mapped from.
    pub fn mp(&self) -> Option<&'a str> {
        self.addr.params.value("mp")
    }

    /// The `cause` URI parameter (RFC 4458) of the targeted-to URI, if it is a SIP URI.
    pub fn cause(&self) -> Option<u16> {
        self.addr
            .uri
            .as_sip()
            .and_then(|u| u.params.value("cause"))
            .and_then(|v| parse_u64(v, 699))
            .map(|v| v as u16)
    }
}

impl<'a> ListHeader<'a> for HistoryInfo<'a> {
    const NAME: HeaderName = HeaderName::HistoryInfo;
    fn parse_item(c: &mut Cursor<'a>) -> SResult<Self> {
        let addr = NameAddr::parse_item(c, true)?;
        let bad = SyntaxError {
            reason: "index parameter missing or malformed",
            at: c.pos(),
        };
        let raw = addr.params.value("index").ok_or(bad)?;
        let mut index = Vec::new();
        for part in raw.split('.') {
            index.push(parse_u64(part, u64::from(u32::MAX)).ok_or(bad)? as u32);
        }
        Ok(HistoryInfo { addr, index })
    }
}
