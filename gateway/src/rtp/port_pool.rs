//! The range of local RTP ports (`[general] rtp_port_min`..`rtp_port_max`) handed out to
//! the legs, and the bound sockets of ended calls kept for the next ones.

use std::collections::HashMap;
use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

/// Bound sockets kept for reuse at most; more are closed when handed back.
pub const KEPT_SOCKETS: usize = 256;

/// The daemon's RTP ports, taken in turn (even ports, RFC 3550 §11). One pool is shared by
/// all SIP trunks and the H.323 leg, so that no two legs get the same port: a transfer
/// between trunks bridges the new leg's port while the old one's is still in use, and a
/// relayed SIP ↔ H.323 call binds one port on each side.
///
/// The socket of a call whose media ended can be handed back ([`RtpPortPool::give_back`]):
/// its port is then the next one taken (most recently freed first), and [`RtpPortPool::bind`]
/// returns the same socket, emptied of what reached it meanwhile, instead of opening a new
/// one. That spares `socket`, `bind` and `close` per call; at most [`KEPT_SOCKETS`] are kept.
#[derive(Debug, Clone)]
pub struct RtpPortPool {
    range: (u16, u16),
    next: Arc<AtomicU16>,
    kept: Arc<Mutex<Kept>>,
}

/// The sockets handed back, by port.
#[derive(Debug, Default)]
struct Kept {
    sockets: HashMap<u16, (UdpSocket, Taken)>,
    /// Ports of kept sockets nobody took yet, most recently freed last.
    free: Vec<u16>,
    /// Ports taken from the pool so far (the age of a taken, not yet bound socket).
    takes: u64,
}

/// Whether a kept socket's port was handed out again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Taken {
    No,
    /// By the `n`-th take, for a call not yet answered (its media is bound at the answer,
    /// often 100 ms and more later under load). A call that ends unanswered leaves its
    /// socket here: when room is needed, the oldest one taken more than [`KEPT_SOCKETS`]
    /// takes ago is closed (a call that still binds its port later gets a new socket).
    At(u64),
}

impl RtpPortPool {
    pub fn new(range: (u16, u16)) -> RtpPortPool {
        RtpPortPool {
            range,
            next: Arc::new(AtomicU16::new(range.0)),
            kept: Arc::default(),
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
            kept: Arc::default(),
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The port of the most recently handed back socket, or else the next port of the
    /// range (wrapping around).
    pub fn take(&self) -> u16 {
        {
            let mut kept = self.kept();
            kept.takes += 1;
            let takes = kept.takes;
            if let Some(port) = kept.free.pop() {
                if let Some(entry) = kept.sockets.get_mut(&port) {
                    entry.1 = Taken::At(takes);
                }
                return port;
            }
        }
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

    /// A UDP socket bound on `port` (all addresses): the one kept for that port, with the
    /// datagrams that reached it since its call ended thrown away, or a new one.
    pub fn bind(&self, port: u16) -> io::Result<UdpSocket> {
        let reused = {
            let mut kept = self.kept();
            let entry = kept.sockets.remove(&port);
            if let Some((_, Taken::No)) = &entry {
                kept.free.retain(|p| *p != port);
            }
            entry
        };
        match reused {
            Some((socket, _)) => {
                drain(&socket);
                Ok(socket)
            }
            None => UdpSocket::bind(("0.0.0.0", port)),
        }
    }

    /// The socket of `port` is no longer used by any call: keep it bound for a next call.
    /// With [`KEPT_SOCKETS`] kept already, the one taken longest ago makes room if it was
    /// taken more than [`KEPT_SOCKETS`] takes ago (its call most likely ended unanswered);
    /// otherwise this one is closed (the calls being set up keep theirs).
    pub fn give_back(&self, port: u16, socket: UdpSocket) {
        let mut kept = self.kept();
        if kept.sockets.contains_key(&port) {
            return;
        }
        if kept.sockets.len() >= KEPT_SOCKETS {
            let oldest = kept
                .sockets
                .iter()
                .filter_map(|(p, (_, t))| match t {
                    Taken::At(n) => Some((*n, *p)),
                    Taken::No => None,
                })
                .min();
            let takes = kept.takes;
            match oldest {
                Some((n, p)) if takes - n > KEPT_SOCKETS as u64 => {
                    kept.sockets.remove(&p);
                }
                _ => return,
            }
        }
        kept.sockets.insert(port, (socket, Taken::No));
        kept.free.push(port);
    }

    /// Sockets kept for reuse (taken or not).
    pub fn kept_sockets(&self) -> usize {
        self.kept().sockets.len()
    }
}

/// Throw away every datagram queued on `socket` (stale media of its last call), without
/// blocking.
fn drain(socket: &UdpSocket) {
    let mut buf = [0u8; 1];
    loop {
        // SAFETY: a valid buffer of its length; MSG_TRUNC discards the rest of the datagram.
        let r = unsafe {
            libc::recv(
                socket.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            match e.kind() {
                // An ICMP error queued by the last call's sends is taken off by this call
                // (reported once); the next datagram is read again.
                io::ErrorKind::Interrupted | io::ErrorKind::ConnectionRefused => continue,
                // WouldBlock: nothing queued any more.
                _ => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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

    /// A socket bound on an ephemeral port, standing for one the pool bound for a call.
    fn call_socket() -> (UdpSocket, u16) {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = s.local_addr().unwrap().port();
        (s, port)
    }

    #[test]
    fn a_handed_back_socket_is_the_next_port_taken_and_the_same_socket_bound() {
        let pool = RtpPortPool::new((30000, 30100));
        let (s, port) = call_socket();
        let local = s.local_addr().unwrap();
        pool.give_back(port, s);
        assert_eq!(pool.take(), port);
        let again = pool.bind(port).unwrap();
        assert_eq!(again.local_addr().unwrap(), local);
        assert_eq!(pool.kept_sockets(), 0);
        // Nothing kept any more: the range again.
        assert_eq!(pool.take(), 30000);
    }

    #[test]
    fn most_recently_freed_first() {
        let pool = RtpPortPool::new((30000, 30100));
        let (a, pa) = call_socket();
        let (b, pb) = call_socket();
        pool.give_back(pa, a);
        pool.give_back(pb, b);
        assert_eq!(pool.take(), pb);
        assert_eq!(pool.take(), pa);
    }

    #[test]
    fn a_reused_socket_gives_the_new_call_no_datagram_of_the_old_one() {
        let pool = RtpPortPool::new((30000, 30100));
        let (s, port) = call_socket();
        let old_peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        // The last call's far end still sends after the call ended.
        for i in 0..20u8 {
            old_peer.send_to(&[0x80, i], ("127.0.0.1", port)).unwrap();
        }
        pool.give_back(port, s);
        for i in 20..40u8 {
            old_peer.send_to(&[0x80, i], ("127.0.0.1", port)).unwrap();
        }
        assert_eq!(pool.take(), port);
        let reused = pool.bind(port).unwrap();
        // The new call's peer sends one datagram: it is the first one read.
        let new_peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        new_peer.send_to(b"new call", ("127.0.0.1", port)).unwrap();
        reused
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = reused.recv_from(&mut buf).unwrap();
        assert_eq!(
            (&buf[..n], from),
            (&b"new call"[..], new_peer.local_addr().unwrap())
        );
    }

    #[test]
    fn a_port_bound_without_being_taken_leaves_the_free_list() {
        // A transfer that kept a leg binds its port again right after handing it back.
        let pool = RtpPortPool::new((30000, 30100));
        let (s, port) = call_socket();
        pool.give_back(port, s);
        let again = pool.bind(port).unwrap();
        assert_eq!(again.local_addr().unwrap().port(), port);
        assert_eq!(pool.take(), 30000, "the port is in use, not free");
    }

    #[test]
    fn when_full_the_socket_taken_longest_ago_makes_room() {
        let pool = RtpPortPool::new((30000, 30100));
        let mut ports = Vec::new();
        for _ in 0..KEPT_SOCKETS {
            let (s, port) = call_socket();
            pool.give_back(port, s);
            ports.push(port);
        }
        // Full of free sockets: one more handed back is closed.
        let (s, extra) = call_socket();
        pool.give_back(extra, s);
        assert_eq!(pool.kept_sockets(), KEPT_SOCKETS);
        assert!(UdpSocket::bind(("127.0.0.1", extra)).is_ok(), "closed");
        // Calls take every kept port; none is answered yet (or ever: busy, cancelled).
        let taken: Vec<u16> = (0..KEPT_SOCKETS).map(|_| pool.take()).collect();
        assert_eq!(
            taken[0],
            *ports.last().unwrap(),
            "most recently freed first"
        );
        // Another call's socket comes back: the calls being set up keep theirs, it is
        // closed.
        let (s, port) = call_socket();
        pool.give_back(port, s);
        assert!(UdpSocket::bind(("127.0.0.1", port)).is_ok(), "closed");
        // Two calls later the port taken first is older than KEPT_SOCKETS takes: its
        // call most likely ended unanswered, and it makes room.
        assert_eq!([pool.take(), pool.take()], [30000, 30002]);
        let (s, port) = call_socket();
        pool.give_back(port, s);
        assert_eq!(pool.kept_sockets(), KEPT_SOCKETS);
        assert!(UdpSocket::bind(("127.0.0.1", taken[0])).is_ok(), "closed");
        // Its call, answered at last, binds its port anew; the others get theirs back.
        let late = pool.bind(taken[0]).unwrap();
        assert_eq!(late.local_addr().unwrap().port(), taken[0]);
        let kept = pool.bind(taken[1]).unwrap();
        assert_eq!(
            kept.local_addr().unwrap().ip(),
            std::net::Ipv4Addr::LOCALHOST
        );
        assert_eq!(pool.take(), port);
    }
}
