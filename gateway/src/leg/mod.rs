//! Legs: each speaks one protocol and translates it to and from the neutral call model
//! (`crate::core::model`). Sans-IO like the endpoints they sit on.

pub mod h323;
pub mod isdn;
pub mod sip;

#[cfg(test)]
mod tests;
