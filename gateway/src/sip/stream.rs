//! Framing SIP over a byte stream (TCP, TLS): RFC 3261 §18.3 (Content-Length delimits the
//! body and is mandatory on streams) and the CRLF keep-alives of RFC 5626 §4.4.1.
//!
//! Sans-IO: feed what the socket gave with [`StreamDecoder::handle_data`], then take events
//! with [`StreamDecoder::poll_event`] until it returns `None`.

use crate::sip::error::{ParseError, ParseErrorKind};
use crate::sip::message::{SipMessage, MAX_MESSAGE_SIZE};
use crate::sip::scan::parse_u64;
use bytes::{Buf, BytesMut};

/// What the decoder found in the stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// A complete message.
    Message(SipMessage),
    /// A message whose header section or body was framed correctly but does not parse; the
    /// stream stays usable. Answer it (if a request) per [`ParseError::response_status`].
    Invalid(ParseError),
    /// A keep-alive ping (CRLF CRLF): answer with a single CRLF pong.
    Ping,
    /// A keep-alive pong (a single CRLF).
    Pong,
}

/// The stream cannot be framed any more (missing or bad Content-Length, oversized message,
/// broken line endings before the blank line): close the connection (RFC 3261 §18.3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stream framing lost: {0}")]
pub struct FramingError(pub ParseError);

/// Accumulates stream bytes and cuts them into messages.
#[derive(Debug)]
pub struct StreamDecoder {
    buf: BytesMut,
    /// How far the search for CRLF CRLF has looked.
    scanned: usize,
    /// When the header section is complete: (header length, body length).
    frame: Option<(usize, usize)>,
    max_message: usize,
    broken: bool,
}

impl Default for StreamDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamDecoder {
    /// A decoder with the default size limit ([`MAX_MESSAGE_SIZE`]).
    pub fn new() -> Self {
        Self::with_limit(MAX_MESSAGE_SIZE)
    }

    /// A decoder refusing messages larger than `max_message` octets.
    pub fn with_limit(max_message: usize) -> Self {
        StreamDecoder {
            buf: BytesMut::with_capacity(4096),
            scanned: 0,
            frame: None,
            max_message: max_message.min(MAX_MESSAGE_SIZE),
            broken: false,
        }
    }

    /// Bytes received from the connection.
    pub fn handle_data(&mut self, data: &[u8]) {
        if !self.broken {
            self.buf.extend_from_slice(data);
        }
    }

    /// Octets buffered but not yet returned.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next event, `None` when more bytes are needed; `Some(Err)` once framing is lost
    /// (every later call returns `None`).
    pub fn poll_event(&mut self) -> Option<Result<StreamEvent, FramingError>> {
        if self.broken {
            return None;
        }
        match self.next_event() {
            Ok(ev) => ev.map(Ok),
            Err(e) => {
                self.broken = true;
                self.buf.clear();
                Some(Err(FramingError(e)))
            }
        }
    }

    fn next_event(&mut self) -> Result<Option<StreamEvent>, ParseError> {
        if self.frame.is_none() {
            // Keep-alives between messages (RFC 5626 §4.4.1): CRLF CRLF is a ping, a lone
            // CRLF a pong.
            if self.buf.starts_with(b"\r\n") {
                if self.buf.starts_with(b"\r\n\r\n") {
                    self.buf.advance(4);
                    self.scanned = 0;
                    return Ok(Some(StreamEvent::Ping));
                }
                if self.buf.len() == 2 || (self.buf.len() >= 3 && self.buf[2] != b'\r') {
                    self.buf.advance(2);
                    self.scanned = 0;
                    return Ok(Some(StreamEvent::Pong));
                }
                // "\r\n\r": wait for the fourth octet.
                return Ok(None);
            }
            let from = self.scanned.saturating_sub(3);
            let Some(i) = memchr::memmem::find(&self.buf[from..], b"\r\n\r\n") else {
                self.scanned = self.buf.len();
                if self.buf.len() > self.max_message {
                    return Err(ParseError::new(ParseErrorKind::TooLarge, self.buf.len()));
                }
                return Ok(None);
            };
            let head_len = from + i + 4;
            let body_len = content_length(&self.buf[..head_len])?;
            if head_len + body_len > self.max_message {
                return Err(ParseError::new(ParseErrorKind::TooLarge, head_len));
            }
            self.frame = Some((head_len, body_len));
        }
        let (head_len, body_len) = self.frame.unwrap_or((0, 0));
        if self.buf.len() < head_len + body_len {
            return Ok(None);
        }
        let bytes = self.buf.split_to(head_len + body_len).freeze();
        self.frame = None;
        self.scanned = 0;
        Ok(Some(match SipMessage::parse_stream_message(bytes) {
            Ok(m) => StreamEvent::Message(m),
            Err(e) => StreamEvent::Invalid(e),
        }))
    }
}

/// Find Content-Length (or `l`) in a complete header section without parsing the rest.
/// Missing, malformed or repeated values lose the framing.
fn content_length(head: &[u8]) -> Result<usize, ParseError> {
    let mut found: Option<usize> = None;
    let mut pos = 0;
    while pos < head.len() {
        let end = memchr::memmem::find(&head[pos..], b"\r\n").map_or(head.len(), |i| pos + i);
        let line = &head[pos..end];
        let colon = memchr::memchr(b':', line);
        if let Some(colon) = colon {
            let name = line[..colon].trim_ascii_end();
            if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
                // The value may continue on folded lines.
                let mut vend = end;
                while head.get(vend + 2).is_some_and(|&c| c == b' ' || c == b'\t') {
                    vend = memchr::memmem::find(&head[vend + 2..], b"\r\n")
                        .map_or(head.len(), |i| vend + 2 + i);
                }
                let raw = &head[pos + colon + 1..vend];
                let mut parts = raw
                    .split(|c| c.is_ascii_whitespace())
                    .filter(|p| !p.is_empty());
                let value = parts.next().unwrap_or(b"");
                let single = parts.next().is_none();
                let n = std::str::from_utf8(value)
                    .ok()
                    .filter(|_| single)
                    .and_then(|s| parse_u64(s, MAX_MESSAGE_SIZE as u64))
                    .ok_or(ParseError::header(
                        crate::sip::message::HeaderName::ContentLength,
                        "Content-Length must be 1*DIGIT",
                        pos + colon + 1,
                    ))?;
                if found.is_some() {
                    return Err(ParseError::new(
                        ParseErrorKind::Duplicate(crate::sip::message::HeaderName::ContentLength),
                        pos,
                    ));
                }
                found = Some(n as usize);
            }
        }
        pos = end + 2;
    }
    found.ok_or(ParseError::new(
        ParseErrorKind::MissingContentLength,
        head.len(),
    ))
}
