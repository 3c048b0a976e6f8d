//! Header field names, long and compact forms (RFC 3261 §7.3.3, §20; RFC 3515, 3892,
//! 4028, 6665).

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
        static SPELLINGS: &[(&str, Option<char>)] = &[ $( ($canon, header_names!(@c $($compact)?)), )* ];

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

struct Table {
    /// Ids of known names by length (long forms up to 31 octets) and lower-cased first
    /// letter.
    by_len: Vec<[Vec<u8>; 26]>,
    /// Ids by compact letter.
    compact: [u8; 26],
}

fn table() -> &'static Table {
    static T: std::sync::OnceLock<Table> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let mut by_len: Vec<[Vec<u8>; 26]> = (0..32).map(|_| Default::default()).collect();
        let mut compact = [EXTENSION; 26];
        for (i, (name, c)) in SPELLINGS.iter().enumerate() {
            let first = name.as_bytes()[0].to_ascii_lowercase() - b'a';
            by_len[name.len()][usize::from(first)].push(i as u8);
            if let Some(c) = c {
                compact[(*c as u8 - b'a') as usize] = i as u8;
            }
        }
        Table { by_len, compact }
    })
}

impl HeaderName {
    /// The known header with this id.
    pub(crate) fn from_id(id: u8) -> Option<&'static HeaderName> {
        KNOWN.get(usize::from(id))
    }

    /// The id of a header name as received, [`EXTENSION`] when unknown.
    #[inline]
    pub(crate) fn lookup_id(name: &[u8]) -> u8 {
        let t = table();
        if name.len() == 1 {
            let c = name[0].to_ascii_lowercase();
            return if c.is_ascii_lowercase() {
                t.compact[usize::from(c - b'a')]
            } else {
                EXTENSION
            };
        }
        let first = name.first().map_or(0, |c| c.to_ascii_lowercase());
        if !first.is_ascii_lowercase() {
            return EXTENSION;
        }
        if let Some(by_first) = t.by_len.get(name.len()) {
            for &id in &by_first[usize::from(first - b'a')] {
                if SPELLINGS[usize::from(id)]
                    .0
                    .as_bytes()
                    .eq_ignore_ascii_case(name)
                {
                    return id;
                }
            }
        }
        EXTENSION
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
