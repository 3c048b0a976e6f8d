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
}
