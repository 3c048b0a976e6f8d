//! Errors of the Q.931 codec.
//!
//! Two levels, following Q.931 §5.8:
//! - [`DecodeError`]: the message as a whole cannot be used (§5.8.1 protocol discriminator,
//!   §5.8.2 message too short, §5.8.3.1 invalid call reference format). The clause says to
//!   ignore such a message.
//! - [`IeError`]: one information element has bad contents (§5.8.6.2 / §5.8.7.2). The message
//!   decoder keeps going and records the element as [`crate::ie::InvalidIe`]; the
//!   [`crate::validate`] module then says which cause to answer with.

/// The message cannot be used at all; Q.931 §5.8.1–§5.8.3.1 say to ignore it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Q.931 §5.8.2: fewer octets than protocol discriminator, call reference and message type.
    #[error("message too short: {len} octets, at least {needed} needed")]
    TooShort { len: usize, needed: usize },
    /// Q.931 §5.8.1: octet 1 is not a protocol discriminator this decoder handles.
    #[error("octet 1: unsupported protocol discriminator {0:#04x}")]
    ProtocolDiscriminator(u8),
    /// Q.931 §5.8.3.1: bits 5–8 of the call reference length octet are not 0000.
    #[error("octet 2: call reference spare bits not zero ({0:#04x})")]
    CallRefSpareBits(u8),
    /// Q.931 §5.8.3.1: the call reference is longer than this decoder supports (2 octets).
    #[error("octet 2: call reference length {0} not supported (at most 2)")]
    CallRefLength(u8),
}

/// What is wrong with the contents of one information element. Says which octet and field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IeError {
    /// A mandatory octet of the element is absent.
    #[error("octet {octet} ({field}) missing")]
    Missing {
        octet: &'static str,
        field: &'static str,
    },
    /// A field has a value the standard reserves or does not define.
    #[error("octet {octet}: {field} has invalid value {value:#04x}")]
    InvalidValue {
        octet: &'static str,
        field: &'static str,
        value: u8,
    },
    /// Octets after the last one the element's layout allows.
    #[error("unexpected octets after octet {after}")]
    TrailingOctets { after: &'static str },
    /// The element announces more contents than the message holds.
    #[error("element length {declared} exceeds the {available} octets left in the message")]
    Truncated { declared: usize, available: usize },
    /// The contents are longer than the element allows.
    #[error("contents of {len} octets exceed the maximum of {max}")]
    TooLong { len: usize, max: usize },
}

/// A message cannot be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// An element's contents do not fit its length field (255 octets, or 65535 for the
    /// H.225.0 user-user element).
    #[error("information element {id:#04x}: contents of {len} octets do not fit the length field")]
    IeTooLong { id: u8, len: usize },
    /// The call reference value does not fit its length (7 bits for 1 octet, 15 for 2).
    #[error("call reference value {value} does not fit in {len} octet(s)")]
    CallRefValue { value: u16, len: u8 },
}
