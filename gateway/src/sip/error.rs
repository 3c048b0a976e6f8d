//! Parse errors that tell a UAS what to answer (RFC 3261 §8.2, §21.4).

use super::message::HeaderName;
use super::status::StatusCode;

/// What went wrong while parsing a SIP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// The message does not end its header section with an empty line.
    #[error("header section not terminated by CRLF CRLF")]
    Incomplete,
    /// The start line is neither a Request-Line nor a Status-Line (RFC 3261 §7.1, §7.2).
    #[error("malformed start line: {0}")]
    StartLine(&'static str),
    /// The Request-URI does not parse (RFC 3261 §19.1).
    #[error("malformed Request-URI: {0}")]
    RequestUri(&'static str),
    /// `SIP/x.y` with a version other than 2.0 (RFC 3261 §8.2.1 answers 505).
    #[error("unsupported SIP version")]
    Version,
    /// The Request-URI has a scheme this UA does not serve (RFC 3261 §8.2.2.1 answers 416).
    #[error("unsupported URI scheme")]
    UnsupportedScheme,
    /// A header line is not `name HCOLON value` or a continuation (RFC 3261 §7.3.1).
    #[error("malformed header line")]
    HeaderLine,
    /// A header value does not match its grammar.
    #[error("malformed {header} header: {reason}")]
    HeaderValue {
        /// Which header.
        header: HeaderName,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A single-valued header appears more than once (RFC 3261 §7.3.1).
    #[error("{0} header present more than once")]
    Duplicate(HeaderName),
    /// A mandatory header is absent (RFC 3261 §8.1.1).
    #[error("mandatory {0} header missing")]
    Missing(HeaderName),
    /// The CSeq method differs from the request method (RFC 3261 §8.1.1.5).
    #[error("CSeq method does not match the request method")]
    CSeqMethodMismatch,
    /// Content-Length says more octets than arrived (RFC 3261 §18.3).
    #[error("body shorter than Content-Length")]
    BodyTooShort,
    /// A stream message carries no Content-Length (RFC 3261 §18.3, §20.14).
    #[error("Content-Length required on a stream transport")]
    MissingContentLength,
    /// The message exceeds the configured size limit.
    #[error("message too large")]
    TooLarge,
    /// The header section is not UTF-8 where a typed header needs it.
    #[error("header value is not UTF-8")]
    NotUtf8,
}

/// A parse failure: what, where (octet offset in the input) and the response a UAS sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at octet {offset}")]
pub struct ParseError {
    /// What went wrong.
    pub kind: ParseErrorKind,
    /// Octet offset in the message where the problem was found.
    pub offset: usize,
    /// Whether the message was a response (responses in error are dropped, RFC 3261 §16.7).
    pub in_response: bool,
}

impl ParseError {
    pub(crate) fn new(kind: ParseErrorKind, offset: usize) -> Self {
        ParseError {
            kind,
            offset,
            in_response: false,
        }
    }

    pub(crate) fn header(header: HeaderName, reason: &'static str, offset: usize) -> Self {
        Self::new(ParseErrorKind::HeaderValue { header, reason }, offset)
    }

    /// The header the error is about, if any.
    pub fn header_name(&self) -> Option<&HeaderName> {
        match &self.kind {
            ParseErrorKind::HeaderValue { header, .. }
            | ParseErrorKind::Duplicate(header)
            | ParseErrorKind::Missing(header) => Some(header),
            ParseErrorKind::MissingContentLength => Some(&HeaderName::ContentLength),
            ParseErrorKind::CSeqMethodMismatch => Some(&HeaderName::CSeq),
            _ => None,
        }
    }

    /// The status a UAS answers a bad request with; `None` when the message must be dropped
    /// silently (a bad response, RFC 3261 §18.1.2 / RFC 4475 §3.1.2.5, or no start line to
    /// answer at all).
    pub fn response_status(&self) -> Option<StatusCode> {
        if self.in_response {
            return None;
        }
        Some(match self.kind {
            ParseErrorKind::Version => StatusCode::VERSION_NOT_SUPPORTED,
            ParseErrorKind::UnsupportedScheme => StatusCode::UNSUPPORTED_URI_SCHEME,
            ParseErrorKind::TooLarge => StatusCode::MESSAGE_TOO_LARGE,
            ParseErrorKind::Incomplete => return None,
            _ => StatusCode::BAD_REQUEST,
        })
    }
}
