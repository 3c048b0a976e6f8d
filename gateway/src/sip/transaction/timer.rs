//! Timer values (RFC 3261 §17.1.1.1, Table 4 of Appendix A).

use std::time::Duration;

/// T1, T2 and T4; every other timer derives from them as Table 4 says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate, 500 ms by default.
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses, 4 s.
    pub t2: Duration,
    /// Maximum time a message remains in the network, 5 s.
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// 64*T1: Timers B, F, H, J (unreliable), L and M.
    pub fn t1x64(&self) -> Duration {
        self.t1 * 64
    }

    /// Timer D: > 32 s for unreliable transports, 0 for reliable ones.
    pub fn timer_d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            Duration::from_secs(32).max(self.t1x64())
        }
    }

    /// Timers I and K: T4 for unreliable transports, 0 for reliable ones.
    pub fn t4_or_zero(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t4
        }
    }

    /// Timer J: 64*T1 for unreliable transports, 0 for reliable ones.
    pub fn timer_j(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t1x64()
        }
    }
}

/// A retransmission timer that doubles from `start` and is capped at `cap` (Timers A, E, G).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub at: std::time::Instant,
    pub interval: Duration,
    pub cap: Option<Duration>,
}

impl Backoff {
    pub fn new(now: std::time::Instant, start: Duration, cap: Option<Duration>) -> Self {
        Backoff {
            at: now + start,
            interval: start,
            cap,
        }
    }

    /// After firing: the next interval is twice this one, capped.
    pub fn next(&mut self) {
        self.interval *= 2;
        if let Some(cap) = self.cap {
            self.interval = self.interval.min(cap);
        }
        self.at += self.interval;
    }

    /// Restart with a given interval (Timer E in Proceeding fires at T2).
    pub fn fixed(&mut self, now: std::time::Instant, interval: Duration) {
        self.interval = interval;
        self.at = now + interval;
    }
}
