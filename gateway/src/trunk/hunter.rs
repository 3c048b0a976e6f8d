//! Channel hunting for one trunk group.

use dahdi_driver::ChannelId;

use super::{ChannelTable, Hunting};

/// Picks channels of one trunk group from the shared [`ChannelTable`].
#[derive(Debug, Clone)]
pub struct Hunter {
    /// Members in configured order (span by span, timeslots ascending).
    channels: Vec<ChannelId>,
    policy: Hunting,
    /// Index of the channel last handed out (round robin).
    cursor: Option<usize>,
}

impl Hunter {
    pub fn new(channels: Vec<ChannelId>, policy: Hunting) -> Self {
        Hunter {
            channels,
            policy,
            cursor: None,
        }
    }

    pub fn policy(&self) -> Hunting {
        self.policy
    }

    pub fn channels(&self) -> &[ChannelId] {
        &self.channels
    }

    /// Replace the policy (configuration reload) keeping the round-robin position.
    pub fn set_policy(&mut self, policy: Hunting) {
        self.policy = policy;
    }

    /// The next idle channel by the group's policy, skipping `exclude` (channels the far end
    /// just refused with cause 44). Does not seize it: the caller seizes it in the table.
    pub fn hunt(&mut self, table: &ChannelTable, exclude: &[ChannelId]) -> Option<ChannelId> {
        let usable = |c: &ChannelId| table.is_idle(*c) && !exclude.contains(c);
        let n = self.channels.len();
        let pick = match self.policy {
            Hunting::Ascending => self.channels.iter().position(usable),
            Hunting::Descending => self.channels.iter().rposition(usable),
            Hunting::RoundRobin => {
                let start = self.cursor.map_or(0, |c| c + 1);
                (0..n)
                    .map(|i| (start + i) % n)
                    .find(|&i| usable(&self.channels[i]))
            }
            Hunting::LeastRecentlyUsed => {
                // Never-used channels first (in order), then the oldest release.
                self.channels
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| usable(c))
                    .min_by_key(|(i, c)| (table.last_released(**c), *i))
                    .map(|(i, _)| i)
            }
        }?;
        self.cursor = Some(pick);
        Some(self.channels[pick])
    }

    /// Idle and total channel counts, for `ctl show trunk-groups` and metrics.
    pub fn counts(&self, table: &ChannelTable) -> (usize, usize) {
        let idle = self.channels.iter().filter(|c| table.is_idle(**c)).count();
        (idle, self.channels.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trunk::BusyReason;
    use dahdi_driver::{SpanId, Timeslot};
    use std::time::{Duration, Instant};

    fn chans(n: u8) -> Vec<ChannelId> {
        (1..=n)
            .map(|t| ChannelId {
                span: SpanId(1),
                timeslot: Timeslot(t),
            })
            .collect()
    }

    fn table(chs: &[ChannelId]) -> ChannelTable {
        let mut t = ChannelTable::new();
        for c in chs {
            t.add(*c);
        }
        t
    }

    fn ts(c: Option<ChannelId>) -> Option<u8> {
        c.map(|c| c.timeslot.0)
    }

    #[test]
    fn ascending_and_descending() {
        let chs = chans(4);
        let mut t = table(&chs);
        let mut up = Hunter::new(chs.clone(), Hunting::Ascending);
        let mut down = Hunter::new(chs.clone(), Hunting::Descending);
        assert_eq!(ts(up.hunt(&t, &[])), Some(1));
        assert_eq!(ts(down.hunt(&t, &[])), Some(4));
        t.seize(chs[0], 1, BusyReason::Outgoing);
        t.seize(chs[3], 2, BusyReason::Outgoing);
        assert_eq!(ts(up.hunt(&t, &[])), Some(2));
        assert_eq!(ts(down.hunt(&t, &[])), Some(3));
        assert_eq!(
            ts(up.hunt(&t, &[chs[1]])),
            Some(3),
            "excluded channel skipped"
        );
    }

    #[test]
    fn round_robin_wraps_and_skips_busy() {
        let chs = chans(3);
        let mut t = table(&chs);
        let mut h = Hunter::new(chs.clone(), Hunting::RoundRobin);
        assert_eq!(ts(h.hunt(&t, &[])), Some(1));
        assert_eq!(ts(h.hunt(&t, &[])), Some(2));
        t.seize(chs[2], 9, BusyReason::Incoming);
        assert_eq!(ts(h.hunt(&t, &[])), Some(1), "3 busy: wraps to 1");
    }

    #[test]
    fn least_recently_used_prefers_never_used_then_oldest() {
        let chs = chans(3);
        let mut t = table(&chs);
        let mut h = Hunter::new(chs.clone(), Hunting::LeastRecentlyUsed);
        let t0 = Instant::now();
        for (i, c) in chs.iter().enumerate() {
            t.seize(*c, i as u64, BusyReason::Outgoing);
        }
        // Released in order 2, 3, 1: 2 is the least recently used.
        t.release(chs[1], 1, t0);
        t.release(chs[2], 2, t0 + Duration::from_secs(1));
        t.release(chs[0], 0, t0 + Duration::from_secs(2));
        assert_eq!(ts(h.hunt(&t, &[])), Some(2));
        let mut fresh = table(&chs);
        fresh.seize(chs[0], 5, BusyReason::Outgoing);
        fresh.release(chs[0], 5, t0);
        assert_eq!(
            ts(h.hunt(&fresh, &[])),
            Some(2),
            "never-used channel before a used one"
        );
    }

    #[test]
    fn all_busy_gives_none() {
        let chs = chans(2);
        let mut t = table(&chs);
        for p in [
            Hunting::Ascending,
            Hunting::Descending,
            Hunting::RoundRobin,
            Hunting::LeastRecentlyUsed,
        ] {
            let mut h = Hunter::new(chs.clone(), p);
            t.seize(chs[0], 1, BusyReason::Outgoing);
            t.seize(chs[1], 2, BusyReason::Outgoing);
            assert_eq!(h.hunt(&t, &[]), None, "{p:?}");
            assert_eq!(h.counts(&t), (0, 2));
        }
    }
}
