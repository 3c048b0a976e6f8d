//! The range of local RTP ports (`[general] rtp_port_min`..`rtp_port_max`) handed out to
//! the legs.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

/// The daemon's RTP ports, taken in turn (even ports, RFC 3550 §11). One pool is shared by
/// all SIP trunks and the H.323 leg, so that no two legs get the same port: a transfer
/// between trunks bridges the new leg's port while the old one's is still in use, and a
/// relayed SIP ↔ H.323 call binds one port on each side.
#[derive(Debug, Clone)]
pub struct RtpPortPool {
    range: (u16, u16),
    next: Arc<AtomicU16>,
}

impl RtpPortPool {
    pub fn new(range: (u16, u16)) -> RtpPortPool {
        RtpPortPool {
            range,
            next: Arc::new(AtomicU16::new(range.0)),
        }
    }

    /// A pool whose first port is an even port of `range` picked from the clock: a
    /// restarted daemon, or a second one sharing the range on the host (tests run several
    /// in one process), does not start on the ports of the calls before.
    pub fn starting_anywhere(range: (u16, u16)) -> RtpPortPool {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() ^ (d.as_secs() as u32));
        let pairs = u32::from(range.1.saturating_sub(range.0) / 2) + 1;
        let first = range.0 + 2 * (seed % pairs) as u16;
        RtpPortPool {
            range,
            next: Arc::new(AtomicU16::new(first)),
        }
    }

    /// The next port of the range (wrapping around).
    pub fn take(&self) -> u16 {
        let (lo, hi) = self.range;
        let step = |p: u16| {
            if p < lo || p.saturating_add(2) > hi {
                lo
            } else {
                p + 2
            }
        };
        let prev = self
            .next
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| Some(step(p)))
            .unwrap_or(lo);
        if prev < lo || prev > hi {
            lo
        } else {
            prev
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_sequence_of_even_ports_that_wraps() {
        let a = RtpPortPool::new((10000, 10006));
        let b = a.clone();
        assert_eq!(
            [a.take(), b.take(), a.take(), b.take(), a.take()],
            [10000, 10002, 10004, 10006, 10000]
        );
    }

    #[test]
    fn a_pool_starting_anywhere_stays_on_even_ports_of_its_range() {
        let p = RtpPortPool::starting_anywhere((10000, 10010));
        for _ in 0..20 {
            let port = p.take();
            assert!((10000..=10010).contains(&port) && port % 2 == 0, "{port}");
        }
    }
}
