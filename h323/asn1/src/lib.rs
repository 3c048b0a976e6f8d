//! H.225.0 and H.245 ASN.1 types, generated from the ITU-T modules (see README).
//!
//! - [`h225`]: H.225.0 v7 (12/2009) `H323-MESSAGES`, call signalling and RAS.
//! - [`h245`]: H.245 v15 (12/2009) `MULTIMEDIA-SYSTEM-CONTROL`.
//! - [`h235`]: H.235.0 (09/2005) `H235-SECURITY-MESSAGES`, imported by H.225.0.
//!
//! Encode and decode with aligned PER: [`rasn::aper`]. The modules are compiled one at a
//! time by `gen/` (rasn-compiler 0.16); cross-module imports resolve through the sibling
//! modules below.

#[path = "h225.rs"]
mod h225_gen;
#[path = "h235.rs"]
mod h235_gen;
#[path = "h245.rs"]
mod h245_gen;

// The generated files each hold one `pub mod <module-name>`; they import each other as
// `super::<module-name>`, so those names live side by side at the crate root.
pub use h225_gen::h323_messages;
pub use h235_gen::h235_security_messages;
pub use h245_gen::multimedia_system_control;

/// H.235.0 `H235-SECURITY-MESSAGES`.
pub use h235_security_messages as h235;
/// H.225.0 `H323-MESSAGES`.
pub use h323_messages as h225;
/// H.245 `MULTIMEDIA-SYSTEM-CONTROL`.
pub use multimedia_system_control as h245;

pub use rasn;
