//! How punctually this machine wakes a real-time thread that has no work at all.
//!
//! A 1 ms tick (DAHDI's, and the simulator's clock) is only as punctual as the host lets
//! it be. The probe sleeps to absolute 1 ms deadlines on the monotonic clock, exactly as
//! the simulator's clock and the media threads do, and records each wake-up that came
//! over one period late. Run beside a benchmark, on the CPU of the thread measured, it
//! tells the machine's own stalls (a virtual CPU the host took away) apart from late
//! ticks that the work caused: a thread with no work cannot be late by its own doing.

use std::time::Duration;

use crate::rt::thread_cpu_ns;
use crate::sync::now_ns;

/// What a probe saw.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WakeProbe {
    /// Deadlines slept to.
    pub wakeups: u64,
    /// When (from the probe's start) each wake-up over one period late was due.
    pub late_at: Vec<Duration>,
    /// The latest wake-up.
    pub worst: Duration,
    /// The probe thread's own CPU time.
    pub cpu: Duration,
}

impl WakeProbe {
    /// Sleeps to absolute deadlines `period` apart for `length`, on the calling thread
    /// (which the caller has given its policy and CPU), and returns what it saw.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = tdm_sim::wake_probe::WakeProbe::run(Duration::from_millis(1), Duration::from_millis(20));
    /// assert_eq!(p.wakeups, 20);
    /// assert!(p.late_at.len() as u64 <= p.wakeups);
    /// ```
    pub fn run(period: Duration, length: Duration) -> WakeProbe {
        let period_ns = period.as_nanos().max(1) as u64;
        let count = length.as_nanos() as u64 / period_ns;
        let start = now_ns();
        let cpu0 = thread_cpu_ns();
        let mut probe = WakeProbe::default();
        for k in 1..=count {
            let due = start + k * period_ns;
            crate::sim::sleep_until_ns(due);
            let late = now_ns().saturating_sub(due);
            probe.wakeups += 1;
            probe.worst = probe.worst.max(Duration::from_nanos(late));
            if late > period_ns {
                probe.late_at.push(Duration::from_nanos(due - start));
            }
        }
        probe.cpu = Duration::from_nanos(thread_cpu_ns().saturating_sub(cpu0));
        probe
    }

    /// Wake-ups over one period late.
    pub fn late(&self) -> u64 {
        self.late_at.len() as u64
    }

    /// The seconds, counted from 1, in which a late wake-up was due: second 1 is
    /// (0, 1 s], so a wake-up due at exactly 1 s is the first second's last.
    pub fn late_seconds(&self) -> Vec<u64> {
        let mut s: Vec<u64> = self
            .late_at
            .iter()
            .map(|d| d.saturating_sub(Duration::from_nanos(1)).as_secs() + 1)
            .collect();
        s.dedup();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_seconds_are_distinct_and_ordered() {
        let p = WakeProbe {
            wakeups: 5000,
            late_at: [1.2, 1.7, 3.0, 3.9, 4.5, 5.0]
                .into_iter()
                .map(Duration::from_secs_f64)
                .collect(),
            ..WakeProbe::default()
        };
        assert_eq!(p.late(), 6);
        assert_eq!(p.late_seconds(), vec![2, 3, 4, 5]);
    }

    #[test]
    fn a_probe_that_cannot_sleep_is_late_every_time() {
        // Deadlines 1 ns apart: every wake-up comes after the next one was due.
        let p = WakeProbe::run(Duration::from_nanos(1), Duration::from_nanos(50));
        assert_eq!(p.wakeups, 50);
        assert_eq!(p.late(), 50);
        assert!(p.worst > Duration::from_nanos(1));
    }
}
