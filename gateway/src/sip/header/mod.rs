//! Typed headers, decoded on demand from the raw values the message keeps
//! (RFC 3261 §20, §25 and the extension RFCs named in each module).

mod address;
mod auth;
mod date;
mod event;
mod identity;
mod media;
mod numeric;
mod reason;
mod tokens;
mod via;

pub use address::{
    Contact, ContactValue, From, NameAddr, RecordRoute, ReferTo, ReferredBy, Route, To,
};
pub use auth::{
    Authorization, Credentials, ProxyAuthenticate, ProxyAuthorization, WwwAuthenticate,
};
pub use date::Date;
pub use event::{Event, Replaces, SubscriptionState};
pub use identity::{
    Diversion, HistoryInfo, PAssertedIdentity, PPreferredIdentity, Privacy, PrivacyValue,
};
pub use media::{Accept, ContentType, MediaType};
pub use numeric::{
    CSeq, ContentLength, Expires, MaxForwards, MinExpires, MinSe, RAck, RSeq, Refresher,
    RetryAfter, SessionExpires,
};
pub use reason::Reason;
pub use tokens::{Allow, ProxyRequire, Require, Supported, Unsupported};
pub use via::{Transport, Via};

use super::message::HeaderName;
use super::scan::{trim_ws, Cursor, SResult};

/// A header whose value is one element (RFC 3261 §7.3.1: may appear once).
pub trait Header<'a>: Sized {
    /// The header's name.
    const NAME: HeaderName;
    /// Parse the whole (trimmed) value.
    fn parse(value: &'a str) -> SResult<Self>;
}

/// A header whose value is a comma-separated list, which may also be spread over several
/// header fields (RFC 3261 §7.3.1).
pub trait ListHeader<'a>: Sized {
    /// The header's name.
    const NAME: HeaderName;
    /// Parse one element; stop before a top-level COMMA or the end.
    fn parse_item(c: &mut Cursor<'a>) -> SResult<Self>;
    /// Whether an empty header value (no elements) is legal, e.g. `Supported:` (RFC 3261 §20.37).
    const MAY_BE_EMPTY: bool = false;
}

/// Parse a comma list, appending to `out`. Empty elements are errors (RFC 4475 §3.1.2.1).
pub(crate) fn parse_list<'a, T: ListHeader<'a>>(value: &'a str, out: &mut Vec<T>) -> SResult<()> {
    let mut c = Cursor::new(value);
    c.skip_ws();
    if c.at_end() {
        return if T::MAY_BE_EMPTY {
            Ok(())
        } else {
            c.err("empty value")
        };
    }
    loop {
        c.skip_ws();
        out.push(T::parse_item(&mut c)?);
        c.skip_ws();
        if c.at_end() {
            return Ok(());
        }
        if !c.eat(b',') {
            return c.err("',' expected");
        }
    }
}

/// Headers whose value is kept as text: User-Agent, Server, Subject, Organization and the like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text<'a>(pub &'a str);

macro_rules! text_header {
    ($name:ident, $hn:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name<'a>(pub &'a str);

        impl<'a> Header<'a> for $name<'a> {
            const NAME: HeaderName = HeaderName::$hn;
            fn parse(value: &'a str) -> SResult<Self> {
                Ok($name(trim_ws(value)))
            }
        }
    };
}

text_header!(
    UserAgent,
    UserAgent,
    "User-Agent (RFC 3261 §20.41): product tokens and comments, verbatim."
);
text_header!(
    Server,
    Server,
    "Server (RFC 3261 §20.35): product tokens and comments, verbatim."
);
text_header!(
    Subject,
    Subject,
    "Subject (RFC 3261 §20.36), verbatim (may be empty)."
);

/// Call-ID (RFC 3261 §20.8): `word [ "@" word ]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallId<'a>(pub &'a str);

impl<'a> Header<'a> for CallId<'a> {
    const NAME: HeaderName = HeaderName::CallId;
    fn parse(value: &'a str) -> SResult<Self> {
        let mut c = Cursor::new(value);
        c.skip_ws();
        let start = c.pos();
        let w = c.take_while(super::scan::is_word);
        if w.is_empty() {
            return c.err("word expected");
        }
        if c.eat(b'@') && c.take_while(super::scan::is_word).is_empty() {
            return c.err("word expected after '@'");
        }
        let id = c.slice(start, c.pos());
        c.expect_end()?;
        Ok(CallId(id))
    }
}
