//! The DAHDI userspace ABI and the TDM device layer.
//!
//! Everything above this crate talks to E1/T1 spans through the [`Device`] trait and
//! never knows whether a real DAHDI card (`/dev/dahdi`) or the software simulator
//! (`tdm-sim`) is underneath.

pub mod device;

pub use device::*;
