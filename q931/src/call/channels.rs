//! B-channel states of one span (Q.931 §5.1.2 / §5.2.3 channel selection, §5.5 restart,
//! NI-2 maintenance).

use super::{CallHandle, Span};

/// The state of one B-channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelState {
    Idle,
    /// Reserved for or used by a call.
    Busy(CallHandle),
    /// Being restarted, or left in a maintenance condition (T308 second expiry, RESTART
    /// unanswered, NI-2 SERVICE "maintenance").
    Maintenance,
    /// Taken out of service (NI-2 SERVICE).
    OutOfService,
}

/// The B-channels of a span and their states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelTable {
    /// Indexed by channel number (0 unused; E1 16 and T1 24 never present).
    states: Vec<Option<ChannelState>>,
    /// Where the search for an idle channel starts (round robin spreads calls).
    next: usize,
}

impl ChannelTable {
    pub fn new(span: Span) -> ChannelTable {
        let channels = span.b_channels();
        let max = channels.iter().copied().max().unwrap_or(0) as usize;
        let mut states = vec![None; max + 1];
        for c in channels {
            states[c as usize] = Some(ChannelState::Idle);
        }
        ChannelTable { states, next: 1 }
    }

    /// The state of `channel`, `None` if the span has no such B-channel.
    pub fn get(&self, channel: u8) -> Option<ChannelState> {
        self.states.get(channel as usize).copied().flatten()
    }

    /// Every B-channel number, ascending.
    pub fn numbers(&self) -> Vec<u8> {
        (0..self.states.len())
            .filter(|&i| self.states[i].is_some())
            .map(|i| i as u8)
            .collect()
    }

    pub(crate) fn set(&mut self, channel: u8, state: ChannelState) {
        if let Some(Some(s)) = self.states.get_mut(channel as usize) {
            *s = state;
        }
    }

    pub fn is_idle(&self, channel: u8) -> bool {
        self.get(channel) == Some(ChannelState::Idle)
    }

    /// An idle channel, searched round robin.
    pub(crate) fn pick_idle(&mut self) -> Option<u8> {
        let n = self.states.len();
        for i in 0..n {
            let c = (self.next + i) % n;
            if self.states[c] == Some(ChannelState::Idle) {
                self.next = c + 1;
                return Some(c as u8);
            }
        }
        None
    }

    /// Frees `channel` if `call` holds it.
    pub(crate) fn free(&mut self, channel: u8, call: CallHandle) {
        if self.get(channel) == Some(ChannelState::Busy(call)) {
            self.set(channel, ChannelState::Idle);
        }
    }

    /// Number of idle channels.
    pub fn idle_count(&self) -> usize {
        self.states
            .iter()
            .filter(|s| **s == Some(ChannelState::Idle))
            .count()
    }
}
