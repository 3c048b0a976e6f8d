//! Trunk security: who may send us requests (an allow-list per trunk) and how fast (a
//! per-source rate limit that answers floods with 503 + Retry-After, RFC 3261 §21.5.4,
//! without touching calls in progress).
//!
//! ```
//! use std::time::Instant;
//! use gateway::config::{Cidr, RejectAction};
//! use gateway::sip::guard::{Guard, TrunkAccess, Verdict};
//! let mut g = Guard::new(vec![TrunkAccess {
//!     name: "pbx".into(),
//!     allow: vec!["192.0.2.0/24".parse::<Cidr>().unwrap()],
//!     reject: RejectAction::Forbidden,
//!     rate_per_s: 2,
//! }]);
//! let now = Instant::now();
//! assert_eq!(g.check(now, "192.0.2.7".parse().unwrap(), true), Verdict::Accept { trunk: 0 });
//! assert_eq!(g.check(now, "203.0.113.1".parse().unwrap(), true), Verdict::Forbidden);
//! ```

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::config::{Cidr, RejectAction};

/// The access rules of one SIP trunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkAccess {
    pub name: String,
    pub allow: Vec<Cidr>,
    pub reject: RejectAction,
    /// New dialogs per second accepted from one source address (burst of the same size).
    pub rate_per_s: u32,
}

/// What to do with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Handle it, as belonging to trunk number `trunk`.
    Accept { trunk: usize },
    /// Answer 403 Forbidden.
    Forbidden,
    /// Send nothing at all.
    Drop,
    /// Answer 503 Service Unavailable with `Retry-After: retry_after` seconds.
    RateLimited { trunk: usize, retry_after: u32 },
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The guard in front of the SIP transaction layer.
#[derive(Debug)]
pub struct Guard {
    trunks: Vec<TrunkAccess>,
    buckets: HashMap<IpAddr, Bucket>,
    last_prune: Option<Instant>,
}

impl Guard {
    pub fn new(trunks: Vec<TrunkAccess>) -> Self {
        Guard {
            trunks,
            buckets: HashMap::new(),
            last_prune: None,
        }
    }

    /// Replace the rules (configuration reload); rate state is kept.
    pub fn reload(&mut self, trunks: Vec<TrunkAccess>) {
        self.trunks = trunks;
    }

    /// Whether a trunk's allow-list takes `source` (nothing counted).
    pub fn allows(&self, source: IpAddr) -> bool {
        self.trunks
            .iter()
            .any(|t| t.allow.iter().any(|c| c.contains(source)))
    }

    /// Decide on a request from `source`. `starts_dialog` is true for out-of-dialog
    /// requests (INVITE without To tag, REGISTER, OPTIONS…): only those count against the
    /// rate, so BYEs and re-INVITEs of calls in progress always get through.
    pub fn check(&mut self, now: Instant, source: IpAddr, starts_dialog: bool) -> Verdict {
        let Some(idx) = self
            .trunks
            .iter()
            .position(|t| t.allow.iter().any(|c| c.contains(source)))
        else {
            // Nobody allows this source: answer as the first trunk says (403 by default).
            return match self.trunks.first().map(|t| t.reject) {
                Some(RejectAction::Silent) => Verdict::Drop,
                _ => Verdict::Forbidden,
            };
        };
        if !starts_dialog {
            return Verdict::Accept { trunk: idx };
        }
        let rate = f64::from(self.trunks[idx].rate_per_s.max(1));
        self.prune(now);
        let b = self.buckets.entry(source).or_insert(Bucket {
            tokens: rate,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(rate);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Verdict::Accept { trunk: idx }
        } else {
            // Time until one token is back, rounded up to whole seconds (at least 1).
            let wait = ((1.0 - b.tokens) / rate).ceil().max(1.0) as u32;
            Verdict::RateLimited {
                trunk: idx,
                retry_after: wait,
            }
        }
    }

    /// Forget sources idle for a minute, at most once a minute.
    fn prune(&mut self, now: Instant) {
        let minute = Duration::from_secs(60);
        if self
            .last_prune
            .is_some_and(|t| now.saturating_duration_since(t) < minute)
        {
            return;
        }
        self.last_prune = Some(now);
        self.buckets
            .retain(|_, b| now.saturating_duration_since(b.last) < minute);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(reject: RejectAction) -> Guard {
        Guard::new(vec![TrunkAccess {
            name: "pbx".into(),
            allow: vec![
                "192.0.2.0/24".parse().unwrap(),
                "2001:db8::/32".parse().unwrap(),
            ],
            reject,
            rate_per_s: 5,
        }])
    }

    #[test]
    fn allows_asks_the_allow_list_without_counting() {
        let g = guard(RejectAction::Silent);
        assert!(g.allows("192.0.2.9".parse().unwrap()));
        assert!(!g.allows("198.51.100.1".parse().unwrap()));
        assert!(g.buckets.is_empty());
    }

    #[test]
    fn allow_list_and_reject_actions() {
        let now = Instant::now();
        let mut g = guard(RejectAction::Silent);
        assert_eq!(
            g.check(now, "2001:db8::5".parse().unwrap(), true),
            Verdict::Accept { trunk: 0 }
        );
        assert_eq!(
            g.check(now, "198.51.100.1".parse().unwrap(), true),
            Verdict::Drop
        );
        let mut g = guard(RejectAction::Forbidden);
        assert_eq!(
            g.check(now, "198.51.100.1".parse().unwrap(), false),
            Verdict::Forbidden
        );
    }

    #[test]
    fn flood_gets_503_but_in_dialog_requests_pass() {
        let t0 = Instant::now();
        let mut g = guard(RejectAction::Forbidden);
        let src: IpAddr = "192.0.2.9".parse().unwrap();
        let accepted = (0..20)
            .filter(|_| g.check(t0, src, true) == Verdict::Accept { trunk: 0 })
            .count();
        assert_eq!(accepted, 5, "burst of rate_per_s");
        assert!(matches!(
            g.check(t0, src, true),
            Verdict::RateLimited { retry_after: 1, .. }
        ));
        assert_eq!(
            g.check(t0, src, false),
            Verdict::Accept { trunk: 0 },
            "a BYE passes"
        );
        // Another source is not affected.
        assert_eq!(
            g.check(t0, "192.0.2.10".parse().unwrap(), true),
            Verdict::Accept { trunk: 0 }
        );
        // A second later the bucket has refilled.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(
            (0..10)
                .filter(|_| g.check(t1, src, true) == Verdict::Accept { trunk: 0 })
                .count(),
            5
        );
    }
}
