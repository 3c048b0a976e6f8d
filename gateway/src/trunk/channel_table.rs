//! The state of every B-channel of every span.

use std::time::Instant;

use dahdi_driver::{ChannelId, SpanId};

use crate::id_map::HashMap;

/// Why a channel cannot carry a call right now. Several reasons may hold at once; the
/// channel comes back only when all have cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutOfService {
    /// Taken out by an operator (`gatewayd ctl channel … out`).
    pub maintenance: bool,
    /// Its span is in alarm (red/blue/yellow) or its D-channel is down.
    pub alarm: bool,
    /// The far end took it out of service (NI-2 SERVICE, maintenance or out of service),
    /// or a RESTART of ours for it went unanswered (Q.931 §5.5.1, T316): it stays out
    /// until the far end puts it back in service or a RESTART of it completes.
    pub far_end: bool,
}

impl OutOfService {
    fn any(&self) -> bool {
        self.maintenance || self.alarm || self.far_end
    }
}

/// Whether the channel was seized by us or by the far end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusyReason {
    Outgoing,
    Incoming,
}

/// The state of one B-channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelState {
    Idle,
    /// Carrying call `call`.
    Busy {
        call: u64,
        reason: BusyReason,
    },
    OutOfService(OutOfService),
}

#[derive(Debug, Clone)]
struct Entry {
    busy: Option<(u64, BusyReason)>,
    oos: OutOfService,
    last_released: Option<Instant>,
}

/// Every B-channel's state. Owned by the core; not shared across threads.
#[derive(Debug, Default)]
pub struct ChannelTable {
    channels: HashMap<ChannelId, Entry>,
}

impl ChannelTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Make a channel known (idle). Adding a known channel keeps its state.
    pub fn add(&mut self, ch: ChannelId) {
        self.channels.entry(ch).or_insert(Entry {
            busy: None,
            oos: OutOfService::default(),
            last_released: None,
        });
    }

    /// Whether the channel is known.
    pub fn contains(&self, ch: ChannelId) -> bool {
        self.channels.contains_key(&ch)
    }

    /// The channel's state, `None` if unknown. A busy channel stays busy even when taken
    /// out of service: its call goes on until it clears (or the core clears it).
    pub fn state(&self, ch: ChannelId) -> Option<ChannelState> {
        self.channels.get(&ch).map(|e| match (e.busy, e.oos.any()) {
            (Some((call, reason)), _) => ChannelState::Busy { call, reason },
            (None, true) => ChannelState::OutOfService(e.oos),
            (None, false) => ChannelState::Idle,
        })
    }

    /// Whether a new call could take the channel.
    pub fn is_idle(&self, ch: ChannelId) -> bool {
        self.state(ch) == Some(ChannelState::Idle)
    }

    /// When the channel last became free.
    pub fn last_released(&self, ch: ChannelId) -> Option<Instant> {
        self.channels.get(&ch).and_then(|e| e.last_released)
    }

    /// Seize an idle channel for `call`. Fails (false) if it is not idle.
    pub fn seize(&mut self, ch: ChannelId, call: u64, reason: BusyReason) -> bool {
        if !self.is_idle(ch) {
            return false;
        }
        if let Some(e) = self.channels.get_mut(&ch) {
            e.busy = Some((call, reason));
        }
        true
    }

    /// Hand a channel `from` one call `to` another (glare: the network's SETUP takes the
    /// channel our own outgoing call had seized). False if `from` does not hold it.
    pub fn hand_over(&mut self, ch: ChannelId, from: u64, to: u64, reason: BusyReason) -> bool {
        match self.channels.get_mut(&ch) {
            Some(e) if e.busy.map(|(c, _)| c) == Some(from) => {
                e.busy = Some((to, reason));
                true
            }
            _ => false,
        }
    }

    /// Free a channel at the end of `call`. A release for another call is ignored (false),
    /// so a late clear of an old call never frees a channel a new call took.
    pub fn release(&mut self, ch: ChannelId, call: u64, now: Instant) -> bool {
        match self.channels.get_mut(&ch) {
            Some(e) if e.busy.map(|(c, _)| c) == Some(call) => {
                e.busy = None;
                e.last_released = Some(now);
                true
            }
            _ => false,
        }
    }

    /// Update the out-of-service reasons of a channel.
    pub fn set_out_of_service(&mut self, ch: ChannelId, f: impl FnOnce(&mut OutOfService)) {
        if let Some(e) = self.channels.get_mut(&ch) {
            f(&mut e.oos);
        }
    }

    /// Mark every channel of a span in or out of alarm.
    pub fn set_span_alarm(&mut self, span: SpanId, alarm: bool) {
        for (ch, e) in self.channels.iter_mut() {
            if ch.span == span {
                e.oos.alarm = alarm;
            }
        }
    }

    /// Channels that are busy, with their calls (the audit compares them with live calls).
    pub fn busy(&self) -> impl Iterator<Item = (ChannelId, u64)> + '_ {
        self.channels
            .iter()
            .filter_map(|(ch, e)| e.busy.map(|(call, _)| (*ch, call)))
    }

    /// All known channels, sorted.
    pub fn channels(&self) -> Vec<ChannelId> {
        let mut v: Vec<_> = self.channels.keys().copied().collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dahdi_driver::Timeslot;

    fn ch(ts: u8) -> ChannelId {
        ChannelId {
            span: SpanId(1),
            timeslot: Timeslot(ts),
        }
    }

    #[test]
    fn seize_release_and_stale_release() {
        let mut t = ChannelTable::new();
        t.add(ch(1));
        let now = Instant::now();
        assert!(t.seize(ch(1), 7, BusyReason::Outgoing));
        assert!(
            !t.seize(ch(1), 8, BusyReason::Incoming),
            "no double seizure"
        );
        assert!(!t.release(ch(1), 8, now), "release of another call ignored");
        assert!(t.release(ch(1), 7, now));
        assert_eq!(t.state(ch(1)), Some(ChannelState::Idle));
        assert_eq!(t.last_released(ch(1)), Some(now));
    }

    #[test]
    fn out_of_service_reasons_stack() {
        let mut t = ChannelTable::new();
        t.add(ch(2));
        t.set_out_of_service(ch(2), |o| o.maintenance = true);
        t.set_span_alarm(SpanId(1), true);
        assert!(!t.is_idle(ch(2)));
        t.set_span_alarm(SpanId(1), false);
        assert!(!t.is_idle(ch(2)), "still in maintenance");
        t.set_out_of_service(ch(2), |o| o.maintenance = false);
        assert!(t.is_idle(ch(2)));
    }

    #[test]
    fn busy_channel_taken_out_stays_busy_until_release() {
        let mut t = ChannelTable::new();
        t.add(ch(3));
        assert!(t.seize(ch(3), 1, BusyReason::Incoming));
        t.set_span_alarm(SpanId(1), true);
        assert!(matches!(
            t.state(ch(3)),
            Some(ChannelState::Busy { call: 1, .. })
        ));
        t.release(ch(3), 1, Instant::now());
        assert!(matches!(t.state(ch(3)), Some(ChannelState::OutOfService(o)) if o.alarm));
    }
}
