//! ITU-T G.711 for the media engine: the workspace's `g711` crate, plus the packetisation
//! the gateway uses.

pub use ::g711::*;

/// Samples (= G.711 bytes) in one 20 ms packet or TDM frame batch.
pub const FRAME_SAMPLES: usize = 160;
