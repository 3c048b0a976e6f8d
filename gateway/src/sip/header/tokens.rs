//! Option-tag and method lists: Require, Proxy-Require, Supported, Unsupported
//! (RFC 3261 §20.32, §20.29, §20.37, §20.40), Allow (§20.5).

use super::ListHeader;
use crate::sip::message::HeaderName;
use crate::sip::method::Method;
use crate::sip::scan::{Cursor, SResult};

macro_rules! tag_list {
    ($name:ident, $hn:ident, $empty:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name<'a>(pub &'a str);

        impl<'a> ListHeader<'a> for $name<'a> {
            const NAME: HeaderName = HeaderName::$hn;
            const MAY_BE_EMPTY: bool = $empty;
            fn parse_item(c: &mut Cursor<'a>) -> SResult<Self> {
                c.token().map($name)
            }
        }
    };
}

tag_list!(
    Require,
    Require,
    false,
    "One option-tag of Require (RFC 3261 §20.32)."
);
tag_list!(
    ProxyRequire,
    ProxyRequire,
    false,
    "One option-tag of Proxy-Require (RFC 3261 §20.29)."
);
tag_list!(
    Supported,
    Supported,
    true,
    "One option-tag of Supported (RFC 3261 §20.37); the header may be empty."
);
tag_list!(
    Unsupported,
    Unsupported,
    false,
    "One option-tag of Unsupported (RFC 3261 §20.40)."
);

/// One method of Allow (RFC 3261 §20.5); the header may be empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allow<'a>(pub Method<'a>);

impl<'a> ListHeader<'a> for Allow<'a> {
    const NAME: HeaderName = HeaderName::Allow;
    const MAY_BE_EMPTY: bool = true;
    fn parse_item(c: &mut Cursor<'a>) -> SResult<Self> {
        c.token().map(|t| Allow(Method::from_token(t)))
    }
}
