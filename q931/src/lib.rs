//! ISDN PRI signalling as sans-IO state machines: Q.931 messages and information elements,
//! call control (user and network side), and Q.921 LAPD on the D-channel.
//!
//! The codec part:
//! - [`message::Message`]: decode/encode of Q.931 messages (§4), keeping element order and
//!   unknown elements raw, with typed accessors and builders for every message.
//! - [`ie`]: one module per information element (§4.5), each with `decode`/`encode`.
//! - [`codeset`]: locking and non-locking shifts (§4.5.2, §4.5.3).
//! - [`validate`]: the §5.8 error classification (which cause, what to answer).

pub mod call;
pub mod codeset;
pub mod error;
pub mod ie;
pub mod lapd;
pub mod message;
pub mod supplementary;
pub mod validate;

pub use error::{DecodeError, EncodeError, IeError};
pub use message::{CallRef, CallRefFlag, Dialect, Message, MessageType, ProtocolDiscriminator};
