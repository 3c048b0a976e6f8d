//! SIP (RFC 3261): messages, URIs, headers, transactions, dialogs, transports.
//!
//! Message layer (this engineer's part):
//! - [`SipMessage`]: a zero-copy parse of one message, typed headers on demand
//!   ([`header`]), strict where RFC 3261 is strict, errors that name the response to send.
//! - [`StreamDecoder`]: framing for TCP/TLS by Content-Length, keep-alives (RFC 5626 §4.4.1).
//! - [`builder`]: requests and responses to bytes, responses from requests (§8.2.6).
//! - [`validate`]: the UAS checks of §8.2 (400, 416, 420, 415, 406).

pub mod builder;
pub mod dialog;
pub mod digest;
pub mod error;
pub mod guard;
pub mod header;
pub mod message;
pub mod method;
pub mod param;
pub mod scan;
pub mod status;
pub mod stream;
pub mod transaction;
pub mod transport;
pub mod ua;
pub mod uri;
pub mod validate;

pub use builder::{RequestBuilder, ResponseBuilder};
pub use error::{ParseError, ParseErrorKind};
pub use message::{HeaderName, HeaderRef, SipMessage};
pub use method::Method;
pub use scan::{unquote, SyntaxError};
pub use status::StatusCode;
pub use stream::{StreamDecoder, StreamEvent};
pub use uri::{Host, SipUri, TelUri, Uri};
