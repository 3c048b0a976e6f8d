//! Interworking between legs: what one protocol's event means in another.

pub mod cause;
pub mod redirect;
