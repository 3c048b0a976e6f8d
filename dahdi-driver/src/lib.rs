//! The DAHDI userspace ABI and the TDM device layer.
//!
//! Everything above this crate talks to E1/T1 spans through the [`Device`] trait and
//! never knows whether a real DAHDI card (`/dev/dahdi`, [`kernel`]) or the software
//! simulator (`tdm-sim`) is underneath. [`abi`] is the kernel's userspace ABI byte for
//! byte.

pub mod abi;
pub mod conformance;
pub mod device;
pub mod kernel;

pub use device::*;
