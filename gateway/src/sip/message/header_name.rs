//! Header field names, long and compact forms (RFC 3261 §7.3.3, §20; RFC 3515, 3841, 3892,
//! 4028, 6665, 8224).

use std::fmt;

macro_rules! header_names {
    ($( $variant:ident => $canon:literal $(, $compact:literal)? ;)*) => {
        /// A header field name. Known names are matched case-insensitively and compact forms
        /// map to their long form; anything else is kept as `Other` with its spelling.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum HeaderName {
            $(
                #[doc = $canon]
                $variant,
            )*
            /// An extension header, spelled as received.
            Other(String),
        }

        #[allow(dead_code, clippy::enum_variant_names)]
        #[derive(Clone, Copy)]
        #[repr(u8)]
        enum Id { $( $variant, )* }

        /// Every known header, indexed by its id.
        static KNOWN: &[HeaderName] = &[ $( HeaderName::$variant, )* ];
        /// Long names and compact forms, indexed by id.
        const SPELLINGS: &[(&str, Option<char>)] = &[ $( ($canon, header_names!(@c $($compact)?)), )* ];

        impl HeaderName {
            /// The canonical long form.
            pub fn as_str(&self) -> &str {
                match self {
                    $( HeaderName::$variant => $canon, )*
                    HeaderName::Other(s) => s,
                }
            }

            /// The compact form, if the header has one.
            pub fn compact(&self) -> Option<char> {
                self.id().and_then(|i| SPELLINGS[usize::from(i)].1)
            }

            /// A small number identifying a known header (`None` for extensions).
            #[inline]
            pub(crate) fn id(&self) -> Option<u8> {
                match self {
                    $( HeaderName::$variant => Some(Id::$variant as u8), )*
                    HeaderName::Other(_) => None,
                }
            }
        }
    };
    (@c $c:literal) => { Some($c) };
    (@c) => { None };
}

/// Id meaning "extension header".
pub(crate) const EXTENSION: u8 = u8::MAX;

const fn lower(c: u8) -> u8 {
    c.to_ascii_lowercase()
}

/// Hash of a header name for the lookup table: length, first, second and last octet,
/// case-folded, mixed by a multiplicative (Fibonacci) hash.
const fn name_hash(b: &[u8]) -> usize {
    let n = b.len();
    if n < 2 {
        return 0;
    }
    let key = (n as u32 & 0xff)
        | (lower(b[0]) as u32) << 8
        | (lower(b[1]) as u32) << 16
        | (lower(b[n - 1]) as u32) << 24;
    (key.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
}

const HASH_BITS: u32 = 9;
const HASH_SLOTS: usize = 1 << HASH_BITS;

/// Open-addressing table of long names: slot -> id + 1 (0 = empty). Built at compile time.
static BY_HASH: [u8; HASH_SLOTS] = {
    let mut t = [0u8; HASH_SLOTS];
    let mut i = 0;
    while i < SPELLINGS.len() {
        let mut slot = name_hash(SPELLINGS[i].0.as_bytes());
        while t[slot] != 0 {
            slot = (slot + 1) & (HASH_SLOTS - 1);
        }
        t[slot] = i as u8 + 1;
        i += 1;
    }
    t
};

/// Compact letter -> id (EXTENSION when none). Built at compile time.
static BY_COMPACT: [u8; 26] = {
    let mut t = [EXTENSION; 26];
    let mut i = 0;
    while i < SPELLINGS.len() {
        if let Some(c) = SPELLINGS[i].1 {
            t[(c as u8 - b'a') as usize] = i as u8;
        }
        i += 1;
    }
    t
};

impl HeaderName {
    /// The known header with this id.
    pub(crate) fn from_id(id: u8) -> Option<&'static HeaderName> {
        KNOWN.get(usize::from(id))
    }

    /// The id of a header name as received, [`EXTENSION`] when unknown.
    #[inline]
    pub(crate) fn lookup_id(name: &[u8]) -> u8 {
        if name.len() == 1 {
            let c = name[0].to_ascii_lowercase();
            return if c.is_ascii_lowercase() {
                BY_COMPACT[usize::from(c - b'a')]
            } else {
                EXTENSION
            };
        }
        let mut slot = name_hash(name);
        loop {
            let e = BY_HASH[slot];
            if e == 0 {
                return EXTENSION;
            }
            let id = e - 1;
            let known = SPELLINGS[usize::from(id)].0.as_bytes();
            // Most peers use the canonical spelling: try the plain comparison first.
            if known == name || known.eq_ignore_ascii_case(name) {
                return id;
            }
            slot = (slot + 1) & (HASH_SLOTS - 1);
        }
    }

    fn known(name: &[u8]) -> Option<HeaderName> {
        HeaderName::from_id(HeaderName::lookup_id(name)).cloned()
    }
}

header_names! {
    Via => "Via", 'v';
    From => "From", 'f';
    To => "To", 't';
    CallId => "Call-ID", 'i';
    CSeq => "CSeq";
    Contact => "Contact", 'm';
    MaxForwards => "Max-Forwards";
    ContentLength => "Content-Length", 'l';
    ContentType => "Content-Type", 'c';
    ContentEncoding => "Content-Encoding", 'e';
    ContentDisposition => "Content-Disposition";
    ContentLanguage => "Content-Language";
    Route => "Route";
    RecordRoute => "Record-Route";
    Require => "Require";
    ProxyRequire => "Proxy-Require";
    Supported => "Supported", 'k';
    Unsupported => "Unsupported";
    Allow => "Allow";
    AllowEvents => "Allow-Events", 'u';
    Accept => "Accept";
    AcceptEncoding => "Accept-Encoding";
    AcceptLanguage => "Accept-Language";
    Expires => "Expires";
    MinExpires => "Min-Expires";
    MinSe => "Min-SE";
    SessionExpires => "Session-Expires", 'x';
    RSeq => "RSeq";
    RAck => "RAck";
    Authorization => "Authorization";
    WwwAuthenticate => "WWW-Authenticate";
    ProxyAuthenticate => "Proxy-Authenticate";
    ProxyAuthorization => "Proxy-Authorization";
    AuthenticationInfo => "Authentication-Info";
    Event => "Event", 'o';
    SubscriptionState => "Subscription-State";
    ReferTo => "Refer-To", 'r';
    ReferredBy => "Referred-By", 'b';
    Replaces => "Replaces";
    PAssertedIdentity => "P-Asserted-Identity";
    PPreferredIdentity => "P-Preferred-Identity";
    Privacy => "Privacy";
    Diversion => "Diversion";
    HistoryInfo => "History-Info";
    Reason => "Reason";
    RetryAfter => "Retry-After";
    UserAgent => "User-Agent";
    Server => "Server";
    Subject => "Subject", 's';
    Date => "Date";
    Timestamp => "Timestamp";
    Warning => "Warning";
    Organization => "Organization";
    Priority => "Priority";
    CallInfo => "Call-Info";
    AlertInfo => "Alert-Info";
    ErrorInfo => "Error-Info";
    InReplyTo => "In-Reply-To";
    ReplyTo => "Reply-To";
    MimeVersion => "MIME-Version";
    AcceptContact => "Accept-Contact", 'a';
    RejectContact => "Reject-Contact", 'j';
    RequestDisposition => "Request-Disposition", 'd';
    Identity => "Identity", 'y';
}

impl HeaderName {
    /// Classify a header name as received (RFC 3261 §7.3.1: names are case-insensitive).
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        HeaderName::known(name)
            .unwrap_or_else(|| HeaderName::Other(String::from_utf8_lossy(name).into_owned()))
    }

    /// Whether `name` (as written) denotes this header.
    pub fn matches(&self, name: &[u8]) -> bool {
        match self.id() {
            None => self.as_str().as_bytes().eq_ignore_ascii_case(name),
            Some(id) => HeaderName::lookup_id(name) == id,
        }
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_and_compact_form_finds_its_header() {
        for (i, (name, compact)) in SPELLINGS.iter().enumerate() {
            let id = i as u8;
            assert_eq!(HeaderName::lookup_id(name.as_bytes()), id, "{name}");
            assert_eq!(
                HeaderName::lookup_id(name.to_ascii_uppercase().as_bytes()),
                id
            );
            assert_eq!(
                HeaderName::lookup_id(name.to_ascii_lowercase().as_bytes()),
                id
            );
            assert_eq!(HeaderName::from_id(id).map(|h| h.as_str()), Some(*name));
            if let Some(c) = compact {
                let mut b = [0u8; 4];
                assert_eq!(HeaderName::lookup_id(c.encode_utf8(&mut b).as_bytes()), id);
                assert_eq!(HeaderName::from_id(id).and_then(|h| h.compact()), Some(*c));
            }
        }
        for unknown in [
            "X-Foo",
            "Vias",
            "Fro",
            "q",
            "C%6Fntact",
            "",
            "Content-Lengthx",
        ] {
            assert_eq!(
                HeaderName::lookup_id(unknown.as_bytes()),
                EXTENSION,
                "{unknown}"
            );
        }
        assert_eq!(
            HeaderName::from_bytes(b"x-custom"),
            HeaderName::Other("x-custom".into())
        );
    }
}
