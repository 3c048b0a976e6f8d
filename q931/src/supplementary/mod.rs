//! Supplementary services carried in the Facility element (ITU-T Q.932): the BER subset,
//! ROSE components, the Facility APDU framing, and the call transfer services a PRI
//! gateway invokes to take itself out of a call whose two parties are both on the
//! switch: ETSI Explicit Call Transfer (EN 300 369-1) and NI-2 Two B-channel Transfer
//! (GR-2865-CORE). The procedure that invokes them on two calls is
//! [`crate::call::Interface::transfer`].
//!
//! Everything here decodes any octets without panicking. What decodes re-encodes to the
//! same values; byte for byte when the sender used the shortest integer and length forms
//! (as libpri does: the known answers of the tests are its octets).

pub mod address;
pub mod apdu;
pub mod ber;
pub mod ect;
pub mod name;
pub mod rose;
pub mod two_bct;

pub use apdu::{ApduError, FacilityApdus, ProtocolProfile};
pub use rose::{Code, Component, InvokeId, Problem};
