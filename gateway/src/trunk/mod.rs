//! Trunk groups: B-channels hunted together, with their states.
//!
//! The state of every B-channel lives in one [`ChannelTable`] (a channel may belong to several
//! groups, as in `chan_dahdi.conf`); a [`Hunter`] per trunk group picks the next idle channel
//! according to the group's policy.

mod channel_table;
mod hunter;
pub mod security;

pub use channel_table::{BusyReason, ChannelState, ChannelTable, OutOfService};
pub use hunter::Hunter;

use serde::Deserialize;

/// How a trunk group picks the channel for an outgoing call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Hunting {
    /// Lowest idle channel first (Asterisk `g`).
    #[default]
    Ascending,
    /// Highest idle channel first (Asterisk `G`); the usual choice on the side opposite a
    /// switch that hunts ascending, to keep glare rare.
    Descending,
    /// The idle channel after the last one used (Asterisk `r`).
    RoundRobin,
    /// The idle channel released the longest time ago.
    LeastRecentlyUsed,
}

/// Which calls a trunk group carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Only calls from the PSTN.
    In,
    /// Only calls to the PSTN.
    Out,
    #[default]
    Both,
}

impl Direction {
    /// Whether an outgoing call (towards the span) may use the group.
    pub fn allows_outgoing(self) -> bool {
        matches!(self, Direction::Out | Direction::Both)
    }
    /// Whether an incoming call (from the span) may be accepted on the group.
    pub fn allows_incoming(self) -> bool {
        matches!(self, Direction::In | Direction::Both)
    }
}
