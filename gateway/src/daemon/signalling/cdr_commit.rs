//! Group commit of CDRs over signalling turns (cdr.rs, DAEMON.md "CDRs").
//!
//! A turn that ended calls has written their records to the batched [`crate::cdr::CdrWriter`]
//! without syncing them. Everything the turn produced (SIP messages, Q.931 frames, H.323
//! output) may tell a peer that a call ended, or carry a new call on a freed channel, so
//! it stays queued in its endpoint until the records are durable. The file is synced at
//! most once per [`GroupCommit::interval`] (or at once when [`GroupCommit::batch`] records
//! wait): under load one `fdatasync` covers the calls of many turns, and a call that ends
//! after a quiet spell is synced at once, with no added delay.

use std::time::{Duration, Instant};

/// What the signalling task does with the output it holds, at the end of a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Commit {
    /// Every record written is durable: the output goes.
    Release,
    /// Sync the file now, then the output goes.
    Sync,
    /// Keep the output queued; the next sync is due at this instant.
    Hold(Instant),
}

/// When to sync the CDR file.
#[derive(Debug, Clone)]
pub(super) struct GroupCommit {
    interval: Duration,
    batch: u64,
    last_sync: Option<Instant>,
}

impl GroupCommit {
    /// Syncs at least `interval` apart, unless `batch` records wait.
    pub(super) fn new(interval: Duration, batch: u64) -> GroupCommit {
        GroupCommit {
            interval,
            batch: batch.max(1),
            last_sync: None,
        }
    }

    /// With `unsynced` records written but not durable, at `now`.
    pub(super) fn decide(&self, unsynced: u64, now: Instant) -> Commit {
        if unsynced == 0 {
            return Commit::Release;
        }
        match self.last_sync.map(|t| t + self.interval) {
            Some(next) if now < next && unsynced < self.batch => Commit::Hold(next),
            _ => Commit::Sync,
        }
    }

    /// The file was synced (or a sync was tried) at `now`.
    pub(super) fn synced(&mut self, now: Instant) {
        self.last_sync = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn nothing_unsynced_releases_at_once() {
        let g = GroupCommit::new(10 * MS, 4);
        assert_eq!(g.decide(0, Instant::now()), Commit::Release);
    }

    #[test]
    fn first_record_after_a_quiet_spell_syncs_at_once() {
        let t0 = Instant::now();
        let mut g = GroupCommit::new(10 * MS, 4);
        assert_eq!(g.decide(1, t0), Commit::Sync, "never synced before");
        g.synced(t0);
        assert_eq!(g.decide(1, t0 + 10 * MS), Commit::Sync, "interval passed");
    }

    #[test]
    fn records_within_the_interval_wait_for_the_next_sync() {
        let t0 = Instant::now();
        let mut g = GroupCommit::new(10 * MS, 4);
        g.synced(t0);
        assert_eq!(g.decide(1, t0 + 3 * MS), Commit::Hold(t0 + 10 * MS));
        assert_eq!(g.decide(3, t0 + 9 * MS), Commit::Hold(t0 + 10 * MS));
        assert_eq!(
            g.decide(0, t0 + 9 * MS),
            Commit::Release,
            "synced by someone else"
        );
        assert_eq!(g.decide(3, t0 + 10 * MS), Commit::Sync);
    }

    #[test]
    fn a_full_batch_syncs_before_the_interval() {
        let t0 = Instant::now();
        let mut g = GroupCommit::new(10 * MS, 4);
        g.synced(t0);
        assert_eq!(g.decide(4, t0 + MS), Commit::Sync);
    }
}
