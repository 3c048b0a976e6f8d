//! Building requests and responses (RFC 3261 §7, §8.1.1, §8.2.6), straight into one buffer.
//!
//! Content-Length is always written by the builder (from the body), so a built message is
//! valid on streams and datagrams alike.

use crate::sip::header::To;
use crate::sip::message::{HeaderName, SipMessage};
use crate::sip::method::Method;
use crate::sip::status::StatusCode;
use bytes::Bytes;

#[derive(Debug, Clone)]
struct Writer {
    buf: Vec<u8>,
    body: Vec<u8>,
}

impl Writer {
    fn with_start_line(capacity: usize) -> Writer {
        Writer {
            buf: Vec::with_capacity(capacity),
            body: Vec::new(),
        }
    }

    /// Append `name: value CRLF`. CR and LF inside the value would break framing and are
    /// written as SP; Content-Length is ignored (the builder writes it).
    fn header(&mut self, name: &str, value: &[u8]) {
        if HeaderName::ContentLength.matches(name.as_bytes()) {
            return;
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b": ");
        if value.iter().any(|&c| c == b'\r' || c == b'\n') {
            self.buf.extend(
                value
                    .iter()
                    .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
            );
        } else {
            self.buf.extend_from_slice(value);
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    /// Append `name: ` the concatenated `parts` CRLF (same rules as [`Writer::header`]).
    fn header_parts(&mut self, name: &str, parts: &[&[u8]]) {
        if parts
            .iter()
            .any(|p| p.iter().any(|&c| c == b'\r' || c == b'\n'))
        {
            self.header(name, &parts.concat());
            return;
        }
        if HeaderName::ContentLength.matches(name.as_bytes()) {
            return;
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.extend_from_slice(b": ");
        for p in parts {
            self.buf.extend_from_slice(p);
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    fn finish(mut self) -> Bytes {
        self.buf.extend_from_slice(b"Content-Length: ");
        self.buf.reserve(self.body.len() + 24);
        push_decimal(&mut self.buf, self.body.len());
        self.buf.extend_from_slice(b"\r\n\r\n");
        self.buf.extend_from_slice(&self.body);
        Bytes::from(self.buf)
    }
}

/// Append `n` in decimal (no formatting machinery on the hot path).
fn push_decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Builds a request.
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    w: Writer,
}

impl RequestBuilder {
    /// `Method SP Request-URI SP SIP/2.0 CRLF`.
    pub fn new(method: Method<'_>, request_uri: &str) -> RequestBuilder {
        let mut w = Writer::with_start_line(512);
        w.buf.extend_from_slice(method.as_str().as_bytes());
        w.buf.push(b' ');
        w.buf.extend_from_slice(request_uri.as_bytes());
        w.buf.extend_from_slice(b" SIP/2.0\r\n");
        RequestBuilder { w }
    }

    /// Append a header field (any name, as given).
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<[u8]>) -> Self {
        self.w.header(name.as_ref(), value.as_ref());
        self
    }

    /// Append a header field in place.
    pub fn push_header(&mut self, name: impl AsRef<str>, value: impl AsRef<[u8]>) {
        self.w.header(name.as_ref(), value.as_ref());
    }

    /// Set the body and write its Content-Type.
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.w.header("Content-Type", content_type.as_bytes());
        self.w.body = body.into();
        self
    }

    /// The message as bytes, Content-Length appended.
    pub fn build(self) -> Bytes {
        self.w.finish()
    }
}

/// Builds a response.
#[derive(Debug, Clone)]
pub struct ResponseBuilder {
    w: Writer,
}

impl ResponseBuilder {
    /// `SIP/2.0 SP Status-Code SP Reason-Phrase CRLF`; `None` uses the RFC 3261 §21 phrase.
    pub fn new(status: StatusCode, reason: Option<&str>) -> ResponseBuilder {
        let mut w = Writer::with_start_line(512);
        w.buf.extend_from_slice(b"SIP/2.0 ");
        push_decimal(&mut w.buf, usize::from(status.code()));
        w.buf.push(b' ');
        let reason = reason.unwrap_or(status.default_reason());
        w.buf
            .extend(reason.bytes().filter(|&c| c != b'\r' && c != b'\n'));
        w.buf.extend_from_slice(b"\r\n");
        ResponseBuilder { w }
    }

    /// A response to `request` (RFC 3261 §8.2.6.2): Via fields copied in order, From,
    /// Call-ID and CSeq copied, To copied with `to_tag` added when it has no tag yet (not
    /// for 100, §8.2.6.2), Timestamp copied for 100 Trying (§8.2.6.1).
    pub fn from_request(
        request: &SipMessage,
        status: StatusCode,
        reason: Option<&str>,
        to_tag: Option<&str>,
    ) -> ResponseBuilder {
        let mut b = ResponseBuilder::new(status, reason);
        for h in request.headers() {
            let Some(kind) = h.kind else { continue };
            match kind {
                HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                    b.w.header(kind.as_str(), h.value)
                }
                HeaderName::Timestamp if status == StatusCode::TRYING => {
                    b.w.header(kind.as_str(), h.value)
                }
                HeaderName::To => {
                    // A value without the letters "tag" anywhere cannot carry a tag
                    // parameter: only values that might are decoded.
                    let may_have_tag = h.value.windows(3).any(|w| w.eq_ignore_ascii_case(b"tag"));
                    let has_tag = may_have_tag
                        && h.value_str()
                            .and_then(|v| <To as crate::sip::header::Header>::parse(v).ok())
                            .is_some_and(|t| t.tag().is_some());
                    match to_tag {
                        Some(tag) if !has_tag && status != StatusCode::TRYING => {
                            let mut v = h.value.to_vec();
                            v.extend_from_slice(b";tag=");
                            v.extend_from_slice(tag.as_bytes());
                            b.w.header("To", &v);
                        }
                        _ => b.w.header("To", h.value),
                    }
                }
                _ => {}
            }
        }
        b
    }

    /// Append a header field (any name, as given).
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<[u8]>) -> Self {
        self.w.header(name.as_ref(), value.as_ref());
        self
    }

    /// Append a header field in place.
    pub fn push_header(&mut self, name: impl AsRef<str>, value: impl AsRef<[u8]>) {
        self.w.header(name.as_ref(), value.as_ref());
    }

    /// Append a header field whose value is the concatenation of `parts` (no temporary
    /// string for values such as `<` URI `>`).
    pub fn push_header_parts(&mut self, name: &str, parts: &[&[u8]]) {
        self.w.header_parts(name, parts);
    }

    /// Set the body and write its Content-Type.
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.w.header("Content-Type", content_type.as_bytes());
        self.w.body = body.into();
        self
    }

    /// The message as bytes, Content-Length appended.
    pub fn build(self) -> Bytes {
        self.w.finish()
    }
}

/// Re-serialise a parsed message: same start line, same fields in order (folds turned into
/// single spaces), same body, a fresh Content-Length. `SipMessage::parse` of the result
/// equals the input.
pub fn rebuild(msg: &SipMessage) -> Bytes {
    let mut w = Writer::with_start_line(msg.as_bytes().len() + 32);
    if let (Some(m), Some(u)) = (msg.method(), msg.request_uri_str()) {
        w.buf.extend_from_slice(m.as_str().as_bytes());
        w.buf.push(b' ');
        w.buf.extend_from_slice(u.as_bytes());
        w.buf.extend_from_slice(b" SIP/2.0\r\n");
    } else if let Some(code) = msg.status() {
        w.buf.extend_from_slice(b"SIP/2.0 ");
        push_decimal(&mut w.buf, usize::from(code.code()));
        w.buf.push(b' ');
        w.buf
            .extend_from_slice(msg.reason_phrase().unwrap_or("").as_bytes());
        w.buf.extend_from_slice(b"\r\n");
    }
    for h in msg.headers() {
        let name = String::from_utf8_lossy(h.name);
        w.header(&name, h.value);
    }
    w.body = msg.body().to_vec();
    w.finish()
}
