//! RAS response timeouts and retry counts.
//!
//! RAS runs over UDP, so a requester retransmits a request that got no answer.
//! H.225.0 ("RAS timers and Request in Progress (RIP)") recommends per-message default
//! timeouts and retry counts; the values below are that table's for the requests an
//! endpoint sends: GRQ 5 s / 2 retries, RRQ 3 s / 2, URQ 3 s / 1, ARQ 5 s / 2,
//! DRQ 3 s / 2 (the same defaults as OpenH323/H323Plus's gatekeeper and RAS request
//! timers). A retransmission repeats the request with the same sequence number. A RIP
//! from the responder replaces the running timeout with the RIP's `delay` without
//! spending a retry.

use std::time::Duration;

/// How long to wait for an answer, and how many times to send the request again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub timeout: Duration,
    /// Retransmissions after the first send (2: three sends in all).
    pub retries: u8,
}

impl Retry {
    pub const fn new(timeout: Duration, retries: u8) -> Self {
        Self { timeout, retries }
    }

    /// The longest a request can stay unanswered: every send waits `timeout`.
    pub fn total(&self) -> Duration {
        self.timeout * (u32::from(self.retries) + 1)
    }
}

/// The retry policy of each request kind the endpoint sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RasTimers {
    pub grq: Retry,
    pub rrq: Retry,
    pub urq: Retry,
    pub arq: Retry,
    pub drq: Retry,
}

impl Default for RasTimers {
    fn default() -> Self {
        let s = Duration::from_secs;
        Self {
            grq: Retry::new(s(5), 2),
            rrq: Retry::new(s(3), 2),
            urq: Retry::new(s(3), 1),
            arq: Retry::new(s(5), 2),
            drq: Retry::new(s(3), 2),
        }
    }
}

impl RasTimers {
    /// Every kind with the same timeout and retry count (for tests on loopback).
    pub fn uniform(timeout: Duration, retries: u8) -> Self {
        let r = Retry::new(timeout, retries);
        Self {
            grq: r,
            rrq: r,
            urq: r,
            arq: r,
            drq: r,
        }
    }
}

/// When to send the lightweight re-registration for a registration granted for `ttl`:
/// early enough that the keep-alive and all its retransmissions fit before expiry
/// (with one more timeout of slack), and never later than 3/4 of the TTL; for a TTL
/// too short for that, at half of it.
pub fn keep_alive_after(ttl: Duration, rrq: Retry) -> Duration {
    let margin = rrq.total() + rrq.timeout;
    let three_quarters = ttl * 3 / 4;
    if ttl > margin * 2 {
        (ttl - margin).min(three_quarters)
    } else {
        ttl / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_alive_leaves_room_for_retries() {
        let rrq = RasTimers::default().rrq;
        // 3 sends × 3 s + 3 s slack = 12 s before a 300 s TTL runs out; 3/4 is earlier.
        assert_eq!(
            keep_alive_after(Duration::from_secs(300), rrq),
            Duration::from_secs(225)
        );
        // 60 s: 60 - 12 = 48 s (3/4 would be 45 s).
        assert_eq!(
            keep_alive_after(Duration::from_secs(60), rrq),
            Duration::from_secs(45)
        );
        // 30 s: 30 - 12 = 18 s.
        assert_eq!(
            keep_alive_after(Duration::from_secs(30), rrq),
            Duration::from_secs(18)
        );
        // Too short for the retries: half.
        assert_eq!(
            keep_alive_after(Duration::from_secs(10), rrq),
            Duration::from_secs(5)
        );
        assert_eq!(rrq.total(), Duration::from_secs(9));
    }
}
