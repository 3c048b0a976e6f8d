//! Symmetric RTP behind NAT (RFC 4961 sends and receives on one port; the gateway
//! "latches" onto where the far end's packets really come from).
//!
//! Before latching, media goes to the address signalled in SDP. After `required`
//! consecutive valid packets (RTP version 2, a negotiated payload type, one SSRC) from one
//! source address, we send there instead. Once latched, only a move of the *same* SSRC
//! (a NAT rebinding) is followed, again after `required` packets, so a stray or hostile
//! sender cannot steal the stream. A new SDP address (re-INVITE) starts over.

use std::net::SocketAddr;

use super::packet::Ssrc;

/// Latching state of one RTP stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymmetricLatch {
    signalled: SocketAddr,
    current: SocketAddr,
    latched: Option<Ssrc>,
    candidate: Option<(SocketAddr, Ssrc, u32)>,
    required: u32,
}

impl SymmetricLatch {
    /// Start with the address from the SDP (`c=` + `m=` port); latch after `required`
    /// packets (at least 1; 2 or 3 are usual).
    pub fn new(signalled: SocketAddr, required: u32) -> Self {
        SymmetricLatch {
            signalled,
            current: signalled,
            latched: None,
            candidate: None,
            required: required.max(1),
        }
    }

    /// Where to send now.
    pub fn remote(&self) -> SocketAddr {
        self.current
    }

    pub fn is_latched(&self) -> bool {
        self.latched.is_some()
    }

    /// The SDP address changed (re-offer): forget the latch.
    pub fn reset(&mut self, signalled: SocketAddr) {
        *self = SymmetricLatch::new(signalled, self.required);
    }

    /// A packet arrived from `src` with `ssrc`; `valid` says it passed the RTP checks
    /// (version, negotiated payload type). Returns the new remote address when it changes.
    pub fn handle_packet(
        &mut self,
        src: SocketAddr,
        ssrc: Ssrc,
        valid: bool,
    ) -> Option<SocketAddr> {
        if !valid {
            return None;
        }
        if let Some(locked) = self.latched {
            if src == self.current || ssrc != locked {
                if src == self.current {
                    self.candidate = None;
                }
                return None;
            }
        }
        let count = match self.candidate {
            Some((a, s, n)) if a == src && s == ssrc => n + 1,
            _ => 1,
        };
        if count >= self.required {
            self.candidate = None;
            self.latched = Some(ssrc);
            if src != self.current {
                tracing::debug!(from = %self.current, to = %src, ?ssrc, "symmetric RTP: latched");
                self.current = src;
                return Some(src);
            }
            return None;
        }
        self.candidate = Some((src, ssrc, count));
        None
    }

    /// The address from the SDP.
    pub fn signalled(&self) -> SocketAddr {
        self.signalled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn latches_after_two_valid_packets_from_the_nat() {
        let mut l = SymmetricLatch::new(a("10.0.0.5:4000"), 2);
        assert_eq!(
            l.handle_packet(a("203.0.113.9:31000"), Ssrc(5), false),
            None
        );
        assert_eq!(l.handle_packet(a("203.0.113.9:31000"), Ssrc(5), true), None);
        assert_eq!(l.remote(), a("10.0.0.5:4000"));
        assert_eq!(
            l.handle_packet(a("203.0.113.9:31000"), Ssrc(5), true),
            Some(a("203.0.113.9:31000"))
        );
        assert!(l.is_latched());
        // Another source with another SSRC cannot take over.
        for _ in 0..10 {
            assert_eq!(
                l.handle_packet(a("198.51.100.1:5000"), Ssrc(66), true),
                None
            );
        }
        // The same SSRC after a NAT rebinding is followed.
        assert_eq!(l.handle_packet(a("203.0.113.9:31002"), Ssrc(5), true), None);
        assert_eq!(
            l.handle_packet(a("203.0.113.9:31002"), Ssrc(5), true),
            Some(a("203.0.113.9:31002"))
        );
        l.reset(a("10.0.0.6:4002"));
        assert_eq!(l.remote(), a("10.0.0.6:4002"));
        assert!(!l.is_latched());
    }

    #[test]
    fn packets_from_the_signalled_address_latch_without_change() {
        let mut l = SymmetricLatch::new(a("192.0.2.1:4000"), 2);
        assert_eq!(l.handle_packet(a("192.0.2.1:4000"), Ssrc(1), true), None);
        assert_eq!(l.handle_packet(a("192.0.2.1:4000"), Ssrc(1), true), None);
        assert!(l.is_latched());
        assert_eq!(l.handle_packet(a("192.0.2.99:4000"), Ssrc(2), true), None);
        assert_eq!(l.remote(), a("192.0.2.1:4000"));
    }

    #[test]
    fn interleaved_sources_do_not_latch() {
        let mut l = SymmetricLatch::new(a("192.0.2.1:4000"), 2);
        for i in 0..10 {
            let src = if i % 2 == 0 {
                "192.0.2.7:1"
            } else {
                "192.0.2.8:1"
            };
            assert_eq!(l.handle_packet(a(src), Ssrc(i), true), None);
        }
        assert!(!l.is_latched());
    }
}
