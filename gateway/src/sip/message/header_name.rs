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
                match self {
                    $( $( HeaderName::$variant => Some($compact), )? )*
                    _ => None,
                }
            }

            fn known(name: &[u8]) -> Option<HeaderName> {
                if name.len() == 1 {
                    let c = name[0].to_ascii_lowercase() as char;
                    $( $( if c == $compact { return Some(HeaderName::$variant); } )? )*
                    return None;
                }
                $(
                    if name.len() == $canon.len() && name.eq_ignore_ascii_case($canon.as_bytes()) {
                        return Some(HeaderName::$variant);
                    }
                )*
                None
            }
        }
    };
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

    /// Classify without allocating; `None` for extension headers.
    pub(crate) fn lookup(name: &[u8]) -> Option<HeaderName> {
        HeaderName::known(name)
    }

    /// Whether `name` (as written) denotes this header.
    pub fn matches(&self, name: &[u8]) -> bool {
        match self {
            HeaderName::Other(s) => s.as_bytes().eq_ignore_ascii_case(name),
            known => HeaderName::known(name).as_ref() == Some(known),
        }
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
