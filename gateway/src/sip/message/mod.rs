//! The SIP message (RFC 3261 §7): a buffer plus the byte ranges of its start line, each
//! header's name and value, and the body. Typed headers are decoded on demand and borrow
//! from the buffer.

mod header_name;
mod parse;

pub use header_name::HeaderName;
pub use parse::MAX_MESSAGE_SIZE;

use super::error::{ParseError, ParseErrorKind};
use super::header::{self, Header, ListHeader};
use super::method::Method;
use super::scan::SyntaxError;
use super::status::StatusCode;
use super::uri::Uri;
use bytes::Bytes;
use std::fmt;

/// A byte range in the message buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// First octet.
    pub start: u32,
    /// One past the last octet.
    pub end: u32,
}

impl Span {
    fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// As a `usize` range.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// Length in octets.
    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    /// Empty range.
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

#[derive(Debug, Clone)]
pub(crate) struct RawHeader {
    pub(crate) name: Span,
    pub(crate) value: Span,
    /// Known header id, [`header_name::EXTENSION`] for extension headers (their name is in
    /// `name`).
    pub(crate) id: u8,
}

/// The parsed start line (RFC 3261 §7.1 Request-Line, §7.2 Status-Line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartLine {
    Request { method: Span, uri: Span },
    Response { code: StatusCode, reason: Span },
}

/// One header field as received.
#[derive(Debug, Clone, Copy)]
pub struct HeaderRef<'m> {
    /// The name as written (possibly compact, any case).
    pub name: &'m [u8],
    /// The known header this is, `None` for an extension header.
    pub kind: Option<&'m HeaderName>,
    /// The value, leading and trailing white space removed, folds kept.
    pub value: &'m [u8],
    /// Offset of the value in the message.
    pub offset: usize,
}

impl<'m> HeaderRef<'m> {
    /// The value as text, if it is UTF-8.
    pub fn value_str(&self) -> Option<&'m str> {
        std::str::from_utf8(self.value).ok()
    }
}

/// A parsed SIP request or response. Cheap to clone: the buffer and the table of header
/// fields are both reference counted, so the copies a transaction, a call and an event keep
/// of one request cost no allocation.
#[derive(Clone)]
pub struct SipMessage {
    buf: Bytes,
    start: StartLine,
    headers: std::sync::Arc<[RawHeader]>,
    body: Span,
    content_length: Option<u32>,
    /// Every header value is ASCII (found while splitting): values need no UTF-8 check.
    ascii_values: bool,
}

impl SipMessage {
    /// Parse one message received as a datagram (RFC 3261 §18.3): the body is the rest of
    /// the datagram, cut to Content-Length when present; a Content-Length larger than what
    /// arrived is an error (400).
    pub fn parse(buf: impl Into<Bytes>) -> Result<SipMessage, ParseError> {
        let buf = buf.into();
        parse::parse_message(buf, parse::Framing::Datagram)
    }

    /// Parse one complete message cut out of a stream: Content-Length is mandatory and must
    /// cover exactly the octets after the header section.
    pub fn parse_stream_message(buf: impl Into<Bytes>) -> Result<SipMessage, ParseError> {
        parse::parse_message(buf.into(), parse::Framing::Stream)
    }

    /// The whole message as received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The underlying buffer.
    pub fn buffer(&self) -> &Bytes {
        &self.buf
    }

    fn slice(&self, s: Span) -> &[u8] {
        &self.buf[s.range()]
    }

    fn str(&self, s: Span) -> &str {
        // Start-line pieces were checked to be UTF-8 when parsing.
        std::str::from_utf8(self.slice(s)).unwrap_or("")
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// Whether this is a response.
    pub fn is_response(&self) -> bool {
        !self.is_request()
    }

    /// The request method.
    pub fn method(&self) -> Option<Method<'_>> {
        match self.start {
            StartLine::Request { method, .. } => Some(Method::from_token(self.str(method))),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI as written.
    pub fn request_uri_str(&self) -> Option<&str> {
        match self.start {
            StartLine::Request { uri, .. } => Some(self.str(uri)),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI, decoded.
    pub fn request_uri(&self) -> Option<Uri<'_>> {
        // Checked when parsing, so this cannot fail for a parsed message.
        self.request_uri_str().and_then(|s| Uri::parse(s).ok())
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<StatusCode> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase of a response (may be empty).
    pub fn reason_phrase(&self) -> Option<&str> {
        match self.start {
            StartLine::Response { reason, .. } => Some(self.str(reason)),
            StartLine::Request { .. } => None,
        }
    }

    /// The body (possibly empty).
    pub fn body(&self) -> &[u8] {
        self.slice(self.body)
    }

    /// The body as a zero-copy slice of the buffer.
    pub fn body_bytes(&self) -> Bytes {
        self.buf.slice(self.body.range())
    }

    /// The Content-Length header's value, if present.
    pub fn content_length(&self) -> Option<u32> {
        self.content_length
    }

    /// Number of header fields.
    pub fn header_count(&self) -> usize {
        self.headers.len()
    }

    fn header_ref<'m>(&'m self, h: &'m RawHeader) -> HeaderRef<'m> {
        HeaderRef {
            name: self.slice(h.name),
            kind: HeaderName::from_id(h.id),
            value: self.slice(h.value),
            offset: h.value.start as usize,
        }
    }

    /// All header fields in order.
    pub fn headers(&self) -> impl Iterator<Item = HeaderRef<'_>> {
        self.headers.iter().map(move |h| self.header_ref(h))
    }

    fn is(&self, h: &RawHeader, name: &HeaderName) -> bool {
        match name.id() {
            Some(id) => h.id == id,
            None => {
                h.id == header_name::EXTENSION
                    && self
                        .slice(h.name)
                        .eq_ignore_ascii_case(name.as_str().as_bytes())
            }
        }
    }

    /// All fields called `name` (compact and long forms alike), in order.
    pub fn header_fields<'m>(
        &'m self,
        name: &'m HeaderName,
    ) -> impl Iterator<Item = HeaderRef<'m>> + 'm {
        self.headers
            .iter()
            .filter(move |h| self.is(h, name))
            .map(move |h| self.header_ref(h))
    }

    /// The value of the first field called `name`, verbatim.
    pub fn header_value<'m>(&'m self, name: &'m HeaderName) -> Option<&'m [u8]> {
        self.header_fields(name).next().map(|h| h.value)
    }

    fn err(&self, kind: ParseErrorKind, offset: usize) -> ParseError {
        let mut e = ParseError::new(kind, offset);
        e.in_response = self.is_response();
        e
    }

    fn value_err(&self, name: HeaderName, h: &RawHeader, se: SyntaxError) -> ParseError {
        self.err(
            ParseErrorKind::HeaderValue {
                header: name,
                reason: se.reason,
            },
            h.value.start as usize + se.at,
        )
    }

    fn value_utf8(&self, name: &HeaderName, h: &RawHeader) -> Result<&str, ParseError> {
        let v = self.slice(h.value);
        if self.ascii_values {
            debug_assert!(v.is_ascii());
            // SAFETY: `ascii_values` is only set when the splitter saw every octet of every
            // header value below 0x80 (`parse::find_line_break`), the buffer is immutable
            // (`Bytes`) and `h.value` is one of those values; ASCII is valid UTF-8.
            return Ok(unsafe { std::str::from_utf8_unchecked(v) });
        }
        std::str::from_utf8(v).map_err(|e| {
            self.err(
                ParseErrorKind::HeaderValue {
                    header: name.clone(),
                    reason: "not UTF-8",
                },
                h.value.start as usize + e.valid_up_to(),
            )
        })
    }

    /// Decode a single-valued header: `Ok(None)` when absent; an error when malformed or
    /// present more than once (RFC 4475 §3.3.9).
    pub fn get<'m, T: Header<'m>>(&'m self) -> Result<Option<T>, ParseError> {
        let mut found = None;
        for h in self.headers.iter() {
            if Some(h.id) == T::NAME.id() {
                if found.is_some() {
                    return Err(self.err(ParseErrorKind::Duplicate(T::NAME), h.name.start as usize));
                }
                found = Some(h);
            }
        }
        match found {
            None => Ok(None),
            Some(h) => {
                let v = self.value_utf8(&T::NAME, h)?;
                T::parse(v)
                    .map(Some)
                    .map_err(|se| self.value_err(T::NAME, h, se))
            }
        }
    }

    /// Decode every field of a header that may legally appear several times without being a
    /// comma list, such as WWW-Authenticate / Proxy-Authenticate (one challenge per realm or
    /// algorithm, RFC 7616 §3.7) and Authorization / Proxy-Authorization.
    pub fn each<'m, T: Header<'m>>(&'m self) -> Result<Vec<T>, ParseError> {
        let mut out = Vec::new();
        for h in self.headers.iter() {
            if Some(h.id) == T::NAME.id() {
                let v = self.value_utf8(&T::NAME, h)?;
                out.push(T::parse(v).map_err(|se| self.value_err(T::NAME, h, se))?);
            }
        }
        Ok(out)
    }

    /// Decode a mandatory single-valued header.
    pub fn require<'m, T: Header<'m>>(&'m self) -> Result<T, ParseError> {
        self.get::<T>()?
            .ok_or_else(|| self.err(ParseErrorKind::Missing(T::NAME), 0))
    }

    /// Decode every element of a list header, across all its fields, in order.
    pub fn get_all<'m, T: ListHeader<'m>>(&'m self) -> Result<Vec<T>, ParseError> {
        let mut out = Vec::new();
        for h in self.headers.iter() {
            if Some(h.id) == T::NAME.id() {
                let v = self.value_utf8(&T::NAME, h)?;
                header::parse_list(v, &mut out).map_err(|se| self.value_err(T::NAME, h, se))?;
            }
        }
        Ok(out)
    }

    /// The first element of a list header (e.g. the topmost Via) without decoding the rest.
    pub fn first<'m, T: ListHeader<'m>>(&'m self) -> Result<Option<T>, ParseError> {
        for h in self.headers.iter() {
            if Some(h.id) == T::NAME.id() {
                let v = self.value_utf8(&T::NAME, h)?;
                let mut c = super::scan::Cursor::new(v);
                c.skip_ws();
                if c.at_end() && T::MAY_BE_EMPTY {
                    continue;
                }
                return T::parse_item(&mut c)
                    .map(Some)
                    .map_err(|se| self.value_err(T::NAME, h, se));
            }
        }
        Ok(None)
    }

    /// All Via entries, topmost first.
    pub fn via(&self) -> Result<Vec<header::Via<'_>>, ParseError> {
        self.get_all()
    }

    /// The topmost Via.
    pub fn top_via(&self) -> Result<header::Via<'_>, ParseError> {
        self.first()?
            .ok_or_else(|| self.err(ParseErrorKind::Missing(HeaderName::Via), 0))
    }

    /// From (mandatory).
    pub fn from(&self) -> Result<header::From<'_>, ParseError> {
        self.require()
    }

    /// To (mandatory).
    pub fn to(&self) -> Result<header::To<'_>, ParseError> {
        self.require()
    }

    /// The tag of To (RFC 3261 §19.3), `None` when To is absent, malformed or has no tag.
    /// A value without the letters "tag" anywhere cannot carry a tag parameter, so To is
    /// only decoded when it might (an initial INVITE's To is not).
    pub fn to_tag(&self) -> Option<&str> {
        let v = self.header_value(&HeaderName::To)?;
        if !v.windows(3).any(|w| w.eq_ignore_ascii_case(b"tag")) {
            return None;
        }
        self.to().ok()?.tag()
    }

    /// Call-ID (mandatory).
    pub fn call_id(&self) -> Result<header::CallId<'_>, ParseError> {
        self.require()
    }

    /// CSeq (mandatory).
    pub fn cseq(&self) -> Result<header::CSeq<'_>, ParseError> {
        self.require()
    }

    /// Max-Forwards, if present.
    pub fn max_forwards(&self) -> Result<Option<header::MaxForwards>, ParseError> {
        self.get()
    }

    /// Contact: `*` or the list of addresses (empty list when absent).
    pub fn contact(&self) -> Result<header::ContactValue<'_>, ParseError> {
        let mut fields = self.header_fields(&HeaderName::Contact);
        if let Some(first) = fields.next() {
            if first.value == b"*" {
                if fields.next().is_some() {
                    return Err(self.err(
                        ParseErrorKind::HeaderValue {
                            header: HeaderName::Contact,
                            reason: "'*' must be the only Contact",
                        },
                        first.offset,
                    ));
                }
                return Ok(header::ContactValue::Star);
            }
        }
        self.get_all().map(header::ContactValue::Addresses)
    }

    fn non_cl_headers(&self) -> usize {
        self.headers
            .iter()
            .filter(|h| Some(h.id) != HeaderName::ContentLength.id())
            .count()
    }

    /// Content-Type, if present.
    pub fn content_type(&self) -> Result<Option<header::ContentType<'_>>, ParseError> {
        self.get()
    }
}

impl fmt::Debug for SipMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SipMessage")
            .field("text", &String::from_utf8_lossy(&self.buf))
            .finish()
    }
}

impl PartialEq for SipMessage {
    /// Same start line, same header fields (name and value) in the same order, same body.
    /// Content-Length fields are left out (the body is compared instead).
    fn eq(&self, other: &SipMessage) -> bool {
        let start_eq = match (self.start, other.start) {
            (
                StartLine::Request {
                    method: m1,
                    uri: u1,
                },
                StartLine::Request {
                    method: m2,
                    uri: u2,
                },
            ) => self.slice(m1) == other.slice(m2) && self.slice(u1) == other.slice(u2),
            (
                StartLine::Response {
                    code: c1,
                    reason: r1,
                },
                StartLine::Response {
                    code: c2,
                    reason: r2,
                },
            ) => c1 == c2 && self.slice(r1) == other.slice(r2),
            _ => false,
        };
        if !start_eq || self.body() != other.body() {
            return false;
        }
        let mine = self
            .headers
            .iter()
            .filter(|h| Some(h.id) != HeaderName::ContentLength.id());
        let theirs = other
            .headers
            .iter()
            .filter(|h| Some(h.id) != HeaderName::ContentLength.id());
        mine.map(|h| (h, self))
            .zip(theirs.map(|h| (h, other)))
            .all(|((a, ma), (b, mb))| {
                let name_eq = a.id == b.id
                    && (a.id != header_name::EXTENSION
                        || ma.slice(a.name).eq_ignore_ascii_case(mb.slice(b.name)));
                // A fold (CRLF WSP) is equivalent to the WSP alone (RFC 3261 §7.3.1).
                let unfold = |c: &u8| if *c == b'\r' || *c == b'\n' { b' ' } else { *c };
                name_eq
                    && ma
                        .slice(a.value)
                        .iter()
                        .map(unfold)
                        .eq(mb.slice(b.value).iter().map(unfold))
            })
            && self.non_cl_headers() == other.non_cl_headers()
    }
}
