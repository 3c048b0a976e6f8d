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
/// case-folded by setting bit 0x20 (the same as lower case for the letters and '-' of known
/// names; other names hash anyhow and are not found), mixed by a multiplicative (Fibonacci)
/// hash.
const fn name_hash(b: &[u8]) -> usize {
    let n = b.len();
    if n < 2 {
        return 0;
    }
    let key = (n as u32 & 0xff)
        | ((b[0] | 0x20) as u32) << 8
        | ((b[1] | 0x20) as u32) << 16
        | ((b[n - 1] | 0x20) as u32) << 24;
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

/// Room for the longest known name ("P-Preferred-Identity", 20 octets).
const MAX_NAME: usize = 24;

/// Known names in lower case, zero-padded to [`MAX_NAME`], with their length; by id.
static LOWER: [(u8, [u8; MAX_NAME]); SPELLINGS.len()] = {
    let mut t = [(0u8, [0u8; MAX_NAME]); SPELLINGS.len()];
    let mut i = 0;
    while i < SPELLINGS.len() {
        let b = SPELLINGS[i].0.as_bytes();
        assert!(b.len() <= MAX_NAME);
        t[i].0 = b.len() as u8;
        let mut k = 0;
        while k < b.len() {
            t[i].1[k] = lower(b[k]);
            k += 1;
        }
        i += 1;
    }
    t
};

/// Whether `name` (a `token`, 2..=MAX_NAME octets) equals the lower-case known name `lower`
/// of the same length, ignoring case. Known names are letters and '-'; a token octet ORed
/// with 0x20 equals a lower-case letter only if it is that letter in either case, and equals
/// '-' (0x2D) only if it is '-' (0x0D, the other octet that would, is no token octet). So the
/// comparison runs on 8-octet words (and 4-octet ones below 8).
#[inline]
fn token_eq_folded(name: &[u8], lower: &[u8; MAX_NAME]) -> bool {
    #[inline(always)]
    fn w8(b: &[u8], at: usize) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(w)
    }
    #[inline(always)]
    fn w4(b: &[u8], at: usize) -> u32 {
        let mut w = [0u8; 4];
        w.copy_from_slice(&b[at..at + 4]);
        u32::from_le_bytes(w)
    }
    const FOLD8: u64 = 0x2020_2020_2020_2020;
    const FOLD4: u32 = 0x2020_2020;
    let n = name.len();
    if n >= 8 {
        let mut i = 0;
        while i + 8 < n {
            if w8(name, i) | FOLD8 != w8(lower, i) {
                return false;
            }
            i += 8;
        }
        // The last word may overlap the previous one.
        w8(name, n - 8) | FOLD8 == w8(lower, n - 8)
    } else if n >= 4 {
        w4(name, 0) | FOLD4 == w4(lower, 0) && w4(name, n - 4) | FOLD4 == w4(lower, n - 4)
    } else {
        name.iter().zip(lower).all(|(&c, &k)| c | 0x20 == k)
    }
}

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
        // Known names are letters and '-' only, so a name with any other octet is no known
        // one; the token check lets `lookup_token_id` compare with case folded by one OR.
        if !name.iter().all(|&c| crate::sip::scan::is_token(c)) {
            return EXTENSION;
        }
        HeaderName::lookup_token_id(name)
    }

    /// [`HeaderName::lookup_id`] for a name already known to be a `token` (the message
    /// splitter checked it).
    #[inline]
    pub(crate) fn lookup_token_id(name: &[u8]) -> u8 {
        if name.len() == 1 {
            let c = name[0].to_ascii_lowercase();
            return if c.is_ascii_lowercase() {
                BY_COMPACT[usize::from(c - b'a')]
            } else {
                EXTENSION
            };
        }
        if name.len() > MAX_NAME {
            return EXTENSION;
        }
        let mut slot = name_hash(name);
        loop {
            let e = BY_HASH[slot];
            if e == 0 {
                return EXTENSION;
            }
            let id = e - 1;
            let known = &LOWER[usize::from(id)];
            if usize::from(known.0) == name.len() && token_eq_folded(name, &known.1) {
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

    /// The folded word comparison against a plain case-insensitive search of the table, for
    /// every known name with one octet changed to each value, and random short strings.
    #[test]
    fn folded_lookup_agrees_with_plain_search() {
        let reference = |name: &[u8]| -> u8 {
            if name.len() == 1 {
                return SPELLINGS
                    .iter()
                    .position(|(_, c)| c.is_some_and(|c| name[0].eq_ignore_ascii_case(&(c as u8))))
                    .map_or(EXTENSION, |i| i as u8);
            }
            SPELLINGS
                .iter()
                .position(|(s, _)| s.as_bytes().eq_ignore_ascii_case(name))
                .map_or(EXTENSION, |i| i as u8)
        };
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for (name, _) in SPELLINGS {
            let b = name.as_bytes();
            for at in 0..b.len() {
                for v in 0..=255u8 {
                    let mut m = b.to_vec();
                    m[at] = v;
                    cases.push(m);
                }
            }
            cases.push(b[..b.len() - 1].to_vec());
            cases.push([b, b"x"].concat());
        }
        let mut x: u32 = 0x2545_F491;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let len = (x % 6) as usize;
            cases.push(
                (0..len)
                    .map(|k| b"tTvV-\raAo"[((x >> (3 * k)) % 9) as usize])
                    .collect(),
            );
        }
        for c in &cases {
            assert_eq!(
                HeaderName::lookup_id(c),
                reference(c),
                "{:?}",
                String::from_utf8_lossy(c)
            );
        }
    }
}
