//! The range of local RTP ports (`[general] rtp_port_min`..`rtp_port_max`) handed out to
//! the legs, each bound when it is handed out, and the bound sockets of ended calls kept
//! for the next ones.

use std::collections::HashMap;
use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use tracing::warn;

/// Idle bound sockets (of ended calls) kept for reuse at most; more are closed when
/// handed back.
pub const KEPT_SOCKETS: usize = 256;

/// The daemon's RTP ports, taken in turn (even ports, RFC 3550 §11). One pool is shared by
/// all SIP trunks and the H.323 leg, so that no two legs get the same port: a transfer
/// between trunks bridges the new leg's port while the old one's is still in use, and a
/// relayed SIP ↔ H.323 call binds one port on each side.
///
/// A port is bound when it is taken ([`RtpPortPool::take`]), before it goes into an SDP
/// or a fast start element: a port that another program holds is skipped rather than
/// announced, and nothing can take the port between the offer and the moment the media
/// are bridged (at the answer, often 100 ms and more later). The socket waits in the
/// pool, reserved, until [`RtpPortPool::bind`] hands it to the bridge; if the call ends
/// first, dropping its [`PortHold`] closes it.
///
/// The socket of a call whose media ended can be handed back ([`RtpPortPool::give_back`]):
/// its port is then the next one taken (most recently freed first), and [`RtpPortPool::bind`]
/// returns the same socket, emptied of what reached it meanwhile, instead of opening a new
/// one. That spares `socket`, `bind` and `close` per call; at most [`KEPT_SOCKETS`] idle
/// ones are kept.
#[derive(Debug, Clone)]
pub struct RtpPortPool {
    range: (u16, u16),
    next: Arc<AtomicU16>,
    kept: Arc<Mutex<Kept>>,
}

/// The bound sockets the pool holds, by port.
#[derive(Debug, Default)]
struct Kept {
    sockets: HashMap<u16, (UdpSocket, State)>,
    /// Ports of idle sockets, most recently freed last.
    free: Vec<u16>,
    /// Takes so far: each reservation's number.
    takes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Handed back by an ended call, waiting for the next take.
    Idle,
    /// Taken (by the take of this number) for a call whose media are not bridged yet.
    Reserved(u64),
}

/// A port taken from the pool for one call. Dropped before its media were bridged (the
/// call failed, was cancelled, or went `media = "direct"`), it closes the socket reserved
/// for it; once bridged, the bridge owns the socket and the drop does nothing.
#[derive(Debug)]
pub struct PortHold {
    port: u16,
    /// The number of the take: the port may be idle and taken again by another call
    /// before this hold is dropped, and that call's reservation is not this one's.
    take: u64,
    pool: RtpPortPool,
}

impl PortHold {
    /// The port, for the SDP or the fast start element.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortHold {
    fn drop(&mut self) {
        self.pool.release(self.port, self.take);
    }
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
        let first = range.0 + 2 * (seed % Self::pairs(range)) as u16;
        RtpPortPool {
            range,
            next: Arc::new(AtomicU16::new(first)),
            kept: Arc::default(),
        }
    }

    /// Even ports in `range`.
    fn pairs(range: (u16, u16)) -> u32 {
        u32::from(range.1.saturating_sub(range.0) / 2) + 1
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next port of the range in turn (wrapping around).
    fn next_in_range(&self) -> u16 {
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

    /// A port for a call, its socket bound and reserved: the most recently handed back
    /// idle socket's, or else the next port of the range that can be bound (ports in use
    /// by our other calls or by other programs are skipped). When none of the range can
    /// be bound (every port busy, or out of descriptors), the next port is handed out
    /// unbound, logged; binding it when the media are bridged fails then, also logged, and
    /// the call goes on without media.
    pub fn take(&self) -> PortHold {
        let take = {
            let mut kept = self.kept();
            kept.takes += 1;
            let take = kept.takes;
            if let Some(port) = kept.free.pop() {
                if let Some(entry) = kept.sockets.get_mut(&port) {
                    entry.1 = State::Reserved(take);
                }
                return self.hold(port, take);
            }
            take
        };
        let mut last = None;
        for _ in 0..Self::pairs(self.range) {
            let port = self.next_in_range();
            if self.kept().sockets.contains_key(&port) {
                continue;
            }
            match UdpSocket::bind(("0.0.0.0", port)) {
                Ok(socket) => {
                    self.kept()
                        .sockets
                        .insert(port, (socket, State::Reserved(take)));
                    return self.hold(port, take);
                }
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = Some(e),
                Err(e) => {
                    warn!(port, error = %e, "RTP port not bound when taken");
                    return self.hold(port, take);
                }
            }
        }
        let port = self.next_in_range();
        warn!(
            port,
            range = ?self.range,
            error = ?last.map(|e| e.to_string()),
            "no RTP port of the range could be bound; handed out unbound"
        );
        self.hold(port, take)
    }

    fn hold(&self, port: u16, take: u64) -> PortHold {
        PortHold {
            port,
            take,
            pool: self.clone(),
        }
    }

    /// A UDP socket bound on `port` (all addresses): the one the pool holds for that port
    /// (reserved by its take, or idle), with the datagrams that reached it meanwhile
    /// thrown away, or a new one.
    pub fn bind(&self, port: u16) -> io::Result<UdpSocket> {
        let held = {
            let mut kept = self.kept();
            let entry = kept.sockets.remove(&port);
            if let Some((_, State::Idle)) = &entry {
                kept.free.retain(|p| *p != port);
            }
            entry
        };
        match held {
            Some((socket, _)) => {
                drain(&socket);
                Ok(socket)
            }
            None => UdpSocket::bind(("0.0.0.0", port)),
        }
    }

    /// The call whose take numbered `take` got `port` and ended before its media were
    /// bridged: its reserved socket is closed (one a bridge took, an idle one, or one
    /// reserved by a later take is left alone).
    fn release(&self, port: u16, take: u64) {
        let mut kept = self.kept();
        if let Some((_, State::Reserved(t))) = kept.sockets.get(&port) {
            if *t == take {
                kept.sockets.remove(&port);
            }
        }
    }

    /// The socket of `port` is no longer used by any call: keep it bound for a next call,
    /// unless [`KEPT_SOCKETS`] idle ones are kept already (then it is closed).
    pub fn give_back(&self, port: u16, socket: UdpSocket) {
        let mut kept = self.kept();
        if kept.sockets.contains_key(&port) || kept.free.len() >= KEPT_SOCKETS {
            return;
        }
        kept.sockets.insert(port, (socket, State::Idle));
        kept.free.push(port);
    }

    /// Sockets the pool holds (reserved or idle).
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

    // Each test has its own block of ports below the tests' band (20000–32767) and above
    // the SIP leg tests' (10000–10998): the pool binds what it hands out.

    /// Whether a program could bind `port` now.
    fn free(port: u16) -> bool {
        UdpSocket::bind(("127.0.0.1", port)).is_ok()
    }

    #[test]
    fn clones_share_one_sequence_of_even_ports_that_wraps() {
        let a = RtpPortPool::new((16000, 16006));
        let b = a.clone();
        // Each hold dropped at once: its port is free again when the range wraps.
        assert_eq!(
            [
                a.take().port(),
                b.take().port(),
                a.take().port(),
                b.take().port(),
                a.take().port()
            ],
            [16000, 16002, 16004, 16006, 16000]
        );
    }

    #[test]
    fn a_pool_starting_anywhere_stays_on_even_ports_of_its_range() {
        let p = RtpPortPool::starting_anywhere((16010, 16020));
        for _ in 0..20 {
            let port = p.take().port();
            assert!((16010..=16020).contains(&port) && port % 2 == 0, "{port}");
        }
    }

    #[test]
    fn a_taken_port_is_bound_until_the_bridge_takes_its_socket_or_the_call_ends() {
        let pool = RtpPortPool::new((16030, 16040));
        let hold = pool.take();
        let port = hold.port();
        assert!(!free(port), "reserved from the take on");
        // The bridge gets the very socket; the call's end then leaves it alone.
        let bridged = pool.bind(port).unwrap();
        assert_eq!(bridged.local_addr().unwrap().port(), port);
        assert_eq!(pool.kept_sockets(), 0);
        drop(hold);
        assert!(!free(port), "still the bridge's");
        drop(bridged);
        // A call that ends before its media were bridged (busy, cancelled) frees its port.
        let hold = pool.take();
        let port = hold.port();
        assert!(!free(port));
        drop(hold);
        assert!(free(port), "closed with its call");
        assert_eq!(pool.kept_sockets(), 0);
    }

    #[test]
    fn a_port_another_program_holds_is_not_handed_out() {
        let pool = RtpPortPool::new((16050, 16056));
        let other = UdpSocket::bind(("0.0.0.0", 16050)).unwrap();
        let hold = pool.take();
        assert_eq!(hold.port(), 16052);
        drop(other);
    }

    /// A socket bound on an ephemeral port, standing for one the pool bound for a call.
    fn call_socket() -> (UdpSocket, u16) {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = s.local_addr().unwrap().port();
        (s, port)
    }

    #[test]
    fn a_handed_back_socket_is_the_next_port_taken_and_the_same_socket_bound() {
        let pool = RtpPortPool::new((16060, 16070));
        let (s, port) = call_socket();
        let local = s.local_addr().unwrap();
        pool.give_back(port, s);
        let hold = pool.take();
        assert_eq!(hold.port(), port);
        let again = pool.bind(port).unwrap();
        assert_eq!(again.local_addr().unwrap(), local);
        assert_eq!(pool.kept_sockets(), 0);
        // Nothing kept any more: the range again.
        assert_eq!(pool.take().port(), 16060);
    }

    #[test]
    fn most_recently_freed_first() {
        let pool = RtpPortPool::new((16080, 16090));
        let (a, pa) = call_socket();
        let (b, pb) = call_socket();
        pool.give_back(pa, a);
        pool.give_back(pb, b);
        let (hb, ha) = (pool.take(), pool.take());
        assert_eq!((hb.port(), ha.port()), (pb, pa));
    }

    #[test]
    fn the_end_of_a_call_does_not_release_the_port_another_call_took_since() {
        let pool = RtpPortPool::new((16100, 16110));
        let (s, port) = call_socket();
        pool.give_back(port, s);
        // Call 1 takes the port, is bridged, and its media end (handed back) before its
        // signalling does; call 2 takes the same port at once.
        let first = pool.take();
        let socket = pool.bind(port).unwrap();
        pool.give_back(port, socket);
        let second = pool.take();
        assert_eq!(second.port(), port);
        drop(first);
        // Call 2's reservation stands: its bridge gets the socket kept for it.
        assert_eq!(pool.kept_sockets(), 1);
        let bridged = pool.bind(port).unwrap();
        assert_eq!(bridged.local_addr().unwrap().port(), port);
        assert_eq!(pool.kept_sockets(), 0);
    }

    #[test]
    fn a_reused_socket_gives_the_new_call_no_datagram_of_the_old_one() {
        let pool = RtpPortPool::new((16120, 16130));
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
        let hold = pool.take();
        assert_eq!(hold.port(), port);
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
        let pool = RtpPortPool::new((16140, 16150));
        let (s, port) = call_socket();
        pool.give_back(port, s);
        let again = pool.bind(port).unwrap();
        assert_eq!(again.local_addr().unwrap().port(), port);
        assert_eq!(pool.take().port(), 16140, "the port is in use, not free");
    }

    #[test]
    fn at_most_kept_sockets_idle_ones_and_reserved_ones_beside_them() {
        let pool = RtpPortPool::new((16200, 16998));
        let mut ports = Vec::new();
        for _ in 0..KEPT_SOCKETS {
            let (s, port) = call_socket();
            pool.give_back(port, s);
            ports.push(port);
        }
        // Full of idle sockets: one more handed back is closed.
        let (s, extra) = call_socket();
        pool.give_back(extra, s);
        assert_eq!(pool.kept_sockets(), KEPT_SOCKETS);
        assert!(free(extra), "closed");
        // Calls take every idle port (most recently freed first), then ports of the
        // range, each reserved: none is closed for lack of room.
        let holds: Vec<PortHold> = (0..KEPT_SOCKETS + 10).map(|_| pool.take()).collect();
        assert_eq!(holds[0].port(), *ports.last().unwrap());
        assert_eq!(holds[KEPT_SOCKETS].port(), 16200);
        assert_eq!(pool.kept_sockets(), KEPT_SOCKETS + 10);
        // An ended call's socket is kept idle beside them.
        let (s, port) = call_socket();
        pool.give_back(port, s);
        assert!(!free(port), "kept");
        // Calls that end unanswered close theirs.
        drop(holds);
        assert_eq!(pool.kept_sockets(), 1);
        assert!(free(16200));
    }
}
