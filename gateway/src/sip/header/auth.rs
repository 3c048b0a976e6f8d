//! Authorization, Proxy-Authorization, WWW-Authenticate, Proxy-Authenticate
//! (RFC 3261 §20.7, §20.28, §20.44, §20.27, §25.1; digest parameters per RFC 7616 §3.3/§3.4).

use super::Header;
use crate::sip::message::HeaderName;
use crate::sip::param::{parse_auth_params, Params};
use crate::sip::scan::{Cursor, SResult};
use std::borrow::Cow;

/// A scheme with comma-separated `auth-param`s (credentials or a challenge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// `Digest` or any other scheme, as written.
    pub scheme: &'a str,
    /// The auth-params in wire order; quoted values keep their quotes.
    pub params: Params<'a>,
}

impl<'a> Credentials<'a> {
    /// Whether the scheme is Digest.
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("Digest")
    }

    /// A parameter's value, unquoted (`realm`, `nonce`, `username`, `uri`, `response`,
    /// `algorithm`, `cnonce`, `opaque`, `qop`, `nc`, `stale`).
    pub fn param(&self, name: &str) -> Option<Cow<'a, str>> {
        self.params.unquoted(name)
    }

    fn parse(value: &'a str) -> SResult<Self> {
        let mut c = Cursor::new(value);
        c.skip_ws();
        let scheme = c.token()?;
        let params = if c.skip_ws() && !c.at_end() {
            parse_auth_params(&mut c)?
        } else {
            Params::default()
        };
        c.expect_end()?;
        Ok(Credentials { scheme, params })
    }
}

macro_rules! auth_header {
    ($name:ident, $hn:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name<'a>(pub Credentials<'a>);

        impl<'a> Header<'a> for $name<'a> {
            const NAME: HeaderName = HeaderName::$hn;
            fn parse(value: &'a str) -> SResult<Self> {
                Credentials::parse(value).map($name)
            }
        }

        impl<'a> std::ops::Deref for $name<'a> {
            type Target = Credentials<'a>;
            fn deref(&self) -> &Credentials<'a> {
                &self.0
            }
        }
    };
}

auth_header!(
    Authorization,
    Authorization,
    "Authorization (RFC 3261 §20.7)."
);
auth_header!(
    ProxyAuthorization,
    ProxyAuthorization,
    "Proxy-Authorization (RFC 3261 §20.28)."
);
auth_header!(
    WwwAuthenticate,
    WwwAuthenticate,
    "WWW-Authenticate (RFC 3261 §20.44)."
);
auth_header!(
    ProxyAuthenticate,
    ProxyAuthenticate,
    "Proxy-Authenticate (RFC 3261 §20.27)."
);
