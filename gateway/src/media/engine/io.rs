//! The few system calls the media threads make, batched: `epoll_wait` once per tick to
//! learn which RTP sockets have datagrams, `recvmmsg` to take up to [`RECV_BATCH`]
//! datagrams of one socket in one call (with the kernel's arrival time,
//! `SO_TIMESTAMPNS`), and `send` on a socket connected to its latched peer (`sendto`
//! with a socket address converted once per remote until then).
//! Per-channel sockets (one UDP port per call, as SDP needs) mean a `sendmmsg` batch would
//! only ever hold one packet per socket; [`PacketIo`] batches across sockets with io_uring
//! instead where the kernel runs it (`uring.rs`), and falls back to these calls. The
//! benchmark's traffic generator, which owns one socket for all far ends, uses `sendmmsg`.
//! [`Poller::wait`] (`epoll_pwait2`) and [`Waker`] are what the media thread sleeps on.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::time::Duration;

/// Datagrams taken from one socket per `recvmmsg`.
pub const RECV_BATCH: usize = 4;
/// Largest datagram we read: RTP header with CSRCs and an extension + 20 ms G.711 and
/// then some (a 40 ms packet is 332 bytes).
pub const MAX_DATAGRAM: usize = 512;

/// A socket address in the kernel's form, built once per remote.
#[derive(Clone, Copy)]
pub struct RawAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl RawAddr {
    pub fn new(addr: SocketAddr) -> Self {
        // SAFETY: an all-zero sockaddr_storage is a valid value.
        let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
        let len = match addr {
            SocketAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than sockaddr_in and suitably aligned.
                unsafe { (&mut storage as *mut _ as *mut libc::sockaddr_in).write(sin) };
                size_of::<libc::sockaddr_in>()
            }
            SocketAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: as above, for sockaddr_in6.
                unsafe { (&mut storage as *mut _ as *mut libc::sockaddr_in6).write(sin6) };
                size_of::<libc::sockaddr_in6>()
            }
        };
        RawAddr {
            storage,
            len: len as libc::socklen_t,
        }
    }

    pub fn as_ptr(&self) -> *const libc::sockaddr {
        &self.storage as *const _ as *const libc::sockaddr
    }

    pub fn len(&self) -> libc::socklen_t {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Back to a `SocketAddr` (for a datagram's source).
    pub fn to_socket_addr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
        match storage.ss_family as i32 {
            libc::AF_INET => {
                // SAFETY: the family says this is a sockaddr_in.
                let sin = unsafe { &*(storage as *const _ as *const libc::sockaddr_in) };
                let ip = std::net::Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                Some(SocketAddr::new(ip.into(), u16::from_be(sin.sin_port)))
            }
            libc::AF_INET6 => {
                // SAFETY: the family says this is a sockaddr_in6.
                let sin6 = unsafe { &*(storage as *const _ as *const libc::sockaddr_in6) };
                let ip = std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                    ip,
                    u16::from_be(sin6.sin6_port),
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}

/// Send one datagram without blocking. `Ok(false)` when the socket buffer is full
/// (the packet is dropped, as a router would).
pub fn send_to(fd: RawFd, buf: &[u8], to: &RawAddr) -> io::Result<bool> {
    // SAFETY: buf and the address are valid for the lengths given.
    let r = unsafe {
        libc::sendto(
            fd,
            buf.as_ptr() as *const libc::c_void,
            buf.len(),
            libc::MSG_DONTWAIT,
            to.as_ptr(),
            to.len(),
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::WouldBlock {
            return Ok(false);
        }
        return Err(e);
    }
    Ok(true)
}

/// Send one datagram on a connected socket (no address: the kernel's cached route).
/// `Ok(false)` when the socket buffer is full.
pub fn send(fd: RawFd, buf: &[u8]) -> io::Result<bool> {
    // SAFETY: buf is valid for its length.
    let r = unsafe {
        libc::send(
            fd,
            buf.as_ptr() as *const libc::c_void,
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::WouldBlock {
            return Ok(false);
        }
        return Err(e);
    }
    Ok(true)
}

/// Connect a UDP socket to its peer: sends need no address and reuse the route the
/// kernel looked up once, and datagrams from any other source are dropped by the
/// kernel (POSIX `connect`, UDP).
pub fn connect(fd: RawFd, to: &RawAddr) -> io::Result<()> {
    // SAFETY: a valid address of the given length.
    let r = unsafe { libc::connect(fd, to.as_ptr(), to.len()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn local_addr(fd: RawFd) -> io::Result<RawAddr> {
    // SAFETY: an all-zero sockaddr_storage is valid; the kernel fills at most `len`.
    let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let r =
        unsafe { libc::getsockname(fd, &mut storage as *mut _ as *mut libc::sockaddr, &mut len) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(RawAddr { storage, len })
}

fn port_of(a: &RawAddr) -> u16 {
    RawAddr::to_socket_addr(&a.storage).map_or(0, |s| s.port())
}

/// Undo [`connect`]: an `AF_UNSPEC` address dissolves the association (Linux
/// `connect(2)`), and datagrams from every source are received again. A socket that was
/// bound to port 0 (the kernel chose its port) loses that port in the disconnect (Linux
/// `__udp_disconnect` unhashes it), so it is bound again to the same address and port.
pub fn disconnect(fd: RawFd) -> io::Result<()> {
    let before = local_addr(fd)?;
    // SAFETY: an all-zero sockaddr with family AF_UNSPEC.
    let mut sa: libc::sockaddr = unsafe { zeroed() };
    sa.sa_family = libc::AF_UNSPEC as libc::sa_family_t;
    let r = unsafe { libc::connect(fd, &sa, size_of::<libc::sockaddr>() as libc::socklen_t) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    if port_of(&local_addr(fd)?) != port_of(&before) {
        // SAFETY: the address getsockname gave, with its length.
        let r = unsafe { libc::bind(fd, before.as_ptr(), before.len()) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Ask the kernel to stamp each datagram's arrival (`SO_TIMESTAMPNS`, CLOCK_REALTIME).
pub fn enable_timestamps(fd: RawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: a valid int option.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            &on as *const _ as *const libc::c_void,
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// CLOCK_REALTIME now, in nanoseconds (the clock of `SO_TIMESTAMPNS`).
pub fn realtime_ns() -> i64 {
    // SAFETY: a valid timespec out-pointer.
    let mut ts: libc::timespec = unsafe { zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// CPU time of the calling thread, ns.
pub use tdm_sim::rt::thread_cpu_ns;

/// Room for the control messages of one datagram (its `SO_TIMESTAMPNS` stamp).
pub(crate) const CMSG_SPACE: usize = 64;

/// Buffers for one `recvmmsg` of up to [`RECV_BATCH`] datagrams, reused every call.
pub struct RecvBatch {
    bufs: Box<[[u8; MAX_DATAGRAM]; RECV_BATCH]>,
    addrs: [libc::sockaddr_storage; RECV_BATCH],
    cmsgs: [[u64; CMSG_SPACE / 8]; RECV_BATCH],
    iovs: [libc::iovec; RECV_BATCH],
    hdrs: [libc::mmsghdr; RECV_BATCH],
    count: usize,
}

/// What armed receives hand on for an owner, in order: [`Incoming::Ahead`] of
/// each prefetch stage a few datagrams before the owner's datagram (so that its state
/// is in the cache when the datagram is handed on), then the datagram.
pub enum Incoming<'a> {
    Ahead(PrefetchStage),
    Datagram(Datagram<'a>),
}

/// The stages of prefetching a channel's state, each one's loads finding what the
/// stage before brought in: where the channel is (its slot), its state, and what its
/// state points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefetchStage {
    Slot,
    State,
    Buffers,
}

/// One received datagram.
pub struct Datagram<'a> {
    pub data: &'a [u8],
    pub from: Option<SocketAddr>,
    /// Kernel arrival time (CLOCK_REALTIME ns), when stamped.
    pub arrival_ns: Option<i64>,
}

impl Default for RecvBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl RecvBatch {
    pub fn new() -> Self {
        // SAFETY: all-zero is valid for these plain C structs; pointers are set per call.
        unsafe {
            RecvBatch {
                bufs: Box::new([[0; MAX_DATAGRAM]; RECV_BATCH]),
                addrs: zeroed(),
                cmsgs: [[0; CMSG_SPACE / 8]; RECV_BATCH],
                iovs: zeroed(),
                hdrs: zeroed(),
                count: 0,
            }
        }
    }

    /// Take what `fd` has queued, up to the batch size; returns how many.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        for i in 0..RECV_BATCH {
            self.iovs[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr() as *mut libc::c_void,
                iov_len: MAX_DATAGRAM,
            };
            let h = &mut self.hdrs[i].msg_hdr;
            h.msg_name = &mut self.addrs[i] as *mut _ as *mut libc::c_void;
            h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &mut self.iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = self.cmsgs[i].as_mut_ptr() as *mut libc::c_void;
            h.msg_controllen = CMSG_SPACE as _;
            h.msg_flags = 0;
            self.hdrs[i].msg_len = 0;
        }
        // SAFETY: every header points into buffers owned by self that outlive the call.
        let r = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                RECV_BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            self.count = 0;
            if e.kind() == io::ErrorKind::WouldBlock {
                return Ok(0);
            }
            return Err(e);
        }
        self.count = r as usize;
        Ok(self.count)
    }

    /// The `i`-th datagram of the last `recv`.
    pub fn get(&self, i: usize) -> Option<Datagram<'_>> {
        if i >= self.count {
            return None;
        }
        let len = (self.hdrs[i].msg_len as usize).min(MAX_DATAGRAM);
        Some(Datagram {
            data: &self.bufs[i][..len],
            from: RawAddr::to_socket_addr(&self.addrs[i]),
            arrival_ns: timestamp_of(&self.hdrs[i].msg_hdr),
        })
    }
}

pub(crate) fn timestamp_of(h: &libc::msghdr) -> Option<i64> {
    // SAFETY: the kernel filled msg_control/msg_controllen; CMSG_* walk within them.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts = (libc::CMSG_DATA(c) as *const libc::timespec).read_unaligned();
                return Some(ts.tv_sec * 1_000_000_000 + ts.tv_nsec);
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    None
}

/// An epoll set of RTP sockets; each registered with a token.
pub struct Poller {
    fd: OwnedFd,
    events: Vec<libc::epoll_event>,
    ready: usize,
    /// `epoll_pwait2` is there (cleared on the first `ENOSYS`).
    pwait2: bool,
}

impl Poller {
    pub fn new(capacity: usize) -> io::Result<Self> {
        // SAFETY: plain syscall.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Poller {
            // SAFETY: a fresh descriptor we own.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            events: vec![libc::epoll_event { events: 0, u64: 0 }; capacity.max(16)],
            ready: 0,
            pwait2: true,
        })
    }

    pub fn add(&mut self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: valid descriptors and event.
        let r = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub fn remove(&mut self, fd: RawFd) {
        // SAFETY: valid descriptors; a null event is allowed for DEL.
        unsafe {
            libc::epoll_ctl(
                self.fd.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            );
        }
    }

    /// Grow the event array to `n` entries (done when channels are added, not per tick).
    pub fn reserve(&mut self, n: usize) {
        if self.events.len() < n {
            self.events
                .resize(n, libc::epoll_event { events: 0, u64: 0 });
        }
    }

    /// Which sockets are readable now (no waiting).
    pub fn poll_now(&mut self) -> io::Result<usize> {
        let r = self.epoll_wait(0);
        self.found(r)
    }

    /// `epoll_wait` with a timeout of `ms` milliseconds into the events buffer.
    fn epoll_wait(&mut self, ms: libc::c_int) -> libc::c_int {
        // SAFETY: the events buffer is valid for its length.
        unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                self.events.as_mut_ptr(),
                self.events.len() as libc::c_int,
                ms,
            )
        }
    }

    /// The outcome of a wait that returned `r`: how many descriptors are ready (none
    /// when a signal cut the wait short).
    fn found(&mut self, r: libc::c_int) -> io::Result<usize> {
        if r < 0 {
            let e = io::Error::last_os_error();
            self.ready = 0;
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(0);
            }
            return Err(e);
        }
        self.ready = r as usize;
        Ok(self.ready)
    }

    /// Wait at most `timeout` for a registered descriptor to become readable; returns
    /// how many are. The timeout is kept to the nanosecond (`epoll_pwait2`, Linux 5.11);
    /// where the kernel lacks it, `epoll_wait` is given the timeout rounded down to the
    /// millisecond (the caller then waits for its tick on the ticker).
    pub fn wait(&mut self, timeout: Duration) -> io::Result<usize> {
        let r = if self.pwait2 {
            let ts = libc::timespec {
                tv_sec: timeout.as_secs() as libc::time_t,
                tv_nsec: timeout.subsec_nanos() as libc::c_long,
            };
            // SAFETY: the events buffer is valid for its length, the timespec for the
            // call; a null signal mask leaves the mask alone.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_epoll_pwait2,
                    self.fd.as_raw_fd(),
                    self.events.as_mut_ptr(),
                    self.events.len() as libc::c_int,
                    &ts as *const libc::timespec,
                    std::ptr::null::<libc::sigset_t>(),
                    0usize,
                )
            };
            if r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
                self.pwait2 = false;
                return self.wait(timeout);
            }
            r as libc::c_int
        } else {
            self.epoll_wait(timeout.as_millis().min(i32::MAX as u128) as libc::c_int)
        };
        self.found(r)
    }

    /// How many descriptors the last wait found ready.
    pub fn ready(&self) -> usize {
        self.ready
    }

    pub fn token(&self, i: usize) -> u64 {
        self.events[..self.ready][i].u64
    }
}

/// Wakes a media thread sleeping in [`Poller::wait`]: an `eventfd` registered in its
/// epoll set. The thread arms it only before a sleep longer than a tick; otherwise its
/// next tick (at most 1 ms away) takes the control messages, and [`Waker::wake`] costs
/// one atomic operation, no system call and no extra wake-up.
pub struct Waker {
    fd: OwnedFd,
    armed: AtomicBool,
}

impl Waker {
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain syscall.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Waker {
            // SAFETY: a fresh descriptor we own.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            armed: AtomicBool::new(false),
        })
    }

    /// The thread is about to sleep past its next tick: the next [`Waker::wake`] writes
    /// the descriptor. Check the control queue after this (and before sleeping): a
    /// message sent before it was armed is not signalled.
    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// Back from the sleep (or not going): wakes go unsignalled again.
    pub fn disarm(&self) {
        self.armed.store(false, Ordering::Relaxed);
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Call after sending a control message: makes the descriptor readable (eventfd(2):
    /// adds 1 to its counter) when the thread is armed, once per sleep.
    pub fn wake(&self) {
        fence(Ordering::SeqCst);
        if !self.armed.swap(false, Ordering::SeqCst) {
            return;
        }
        let one: u64 = 1;
        // SAFETY: 8 bytes from a valid u64. A full counter (EAGAIN) is readable already.
        unsafe {
            libc::write(
                self.fd.as_raw_fd(),
                &one as *const u64 as *const libc::c_void,
                8,
            )
        };
    }

    /// Clear it again (read the counter).
    pub fn reset(&self) {
        let mut n: u64 = 0;
        // SAFETY: 8 bytes into a valid u64; EAGAIN when nothing was written.
        unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                &mut n as *mut u64 as *mut libc::c_void,
                8,
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn poller_wait_times_out_to_the_sub_millisecond_and_wakes_on_the_waker() {
        let mut p = Poller::new(4).unwrap();
        let w = Waker::new().unwrap();
        p.add(w.fd(), 7).unwrap();
        let t = Instant::now();
        assert_eq!(p.wait(Duration::from_micros(300)).unwrap(), 0);
        let took = t.elapsed();
        assert!(took >= Duration::from_micros(300), "{took:?}");
        w.wake();
        assert_eq!(p.wait(Duration::ZERO).unwrap(), 0, "not armed: no signal");
        w.arm();
        w.wake();
        assert_eq!(p.wait(Duration::from_secs(5)).unwrap(), 1);
        assert_eq!(p.token(0), 7);
        assert_eq!(p.ready(), 1);
        // Level-triggered until reset.
        assert_eq!(p.wait(Duration::ZERO).unwrap(), 1);
        w.reset();
        assert_eq!(p.wait(Duration::ZERO).unwrap(), 0);
        // Signalled once per arming.
        w.arm();
        w.wake();
        w.reset();
        w.wake();
        assert_eq!(p.wait(Duration::ZERO).unwrap(), 0);
    }

    #[test]
    fn poller_wait_wakes_on_a_datagram() {
        let mut p = Poller::new(4).unwrap();
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        p.add(b.as_raw_fd(), 3).unwrap();
        let to = b.local_addr().unwrap();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            a.send_to(b"x", to).unwrap();
        });
        let t = Instant::now();
        assert_eq!(p.wait(Duration::from_secs(5)).unwrap(), 1);
        assert!(t.elapsed() < Duration::from_secs(4));
        assert_eq!(p.token(0), 3);
        sender.join().unwrap();
    }

    /// Both paths move the same datagrams: sends with and without address, results
    /// per owner, receives with source and kernel arrival stamp.
    fn packet_io_round_trip(mode: IoMode) -> IoBackend {
        let mut pio = PacketIo::new(mode);
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let c = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for s in [&a, &b, &c] {
            s.set_nonblocking(true).unwrap();
        }
        enable_timestamps(b.as_raw_fd()).unwrap();
        enable_timestamps(c.as_raw_fd()).unwrap();
        let to_b = RawAddr::new(b.local_addr().unwrap());
        connect(a.as_raw_fd(), &RawAddr::new(c.local_addr().unwrap())).unwrap();
        let mut results = Vec::new();
        let mut queued = 0;
        for i in 0..3u8 {
            // `a` is connected to `c`; a datagram with an address goes there instead.
            match pio.send(a.as_raw_fd(), &[i; 40], Some(&to_b), 1, |o, r| {
                results.push((o, r.unwrap()))
            }) {
                Sent::Now(r) => results.push((1, r.unwrap())),
                Sent::Queued => queued += 1,
            }
        }
        match pio.send(a.as_raw_fd(), &[9; 172], None, 2, |o, r| {
            results.push((o, r.unwrap()))
        }) {
            Sent::Now(r) => results.push((2, r.unwrap())),
            Sent::Queued => queued += 1,
        }
        assert_eq!(pio.pending(), queued);
        pio.flush(|o, r| results.push((o, r.unwrap())));
        assert_eq!(pio.pending(), 0);
        results.sort_by_key(|r| r.0);
        assert_eq!(results, vec![(1, true), (1, true), (1, true), (2, true)]);

        let mut got: Vec<(u32, Vec<u8>, Option<SocketAddr>, bool)> = Vec::new();
        let mut rounds = 0;
        while got.len() < 4 && rounds < 10 {
            rounds += 1;
            pio.mark_ready(b.as_raw_fd(), 10);
            pio.mark_ready(c.as_raw_fd(), 20);
            let drain = pio.reads_at_tick();
            pio.receive(
                drain,
                |o, d| {
                    got.push((o, d.data.to_vec(), d.from, d.arrival_ns.is_some()));
                    true
                },
                |_, r| panic!("no send was queued: {r:?}"),
            );
        }
        let from = a.local_addr().unwrap();
        got.sort_by_key(|g| (g.0, g.1.clone()));
        assert_eq!(got.len(), 4, "{got:?}");
        for (i, g) in got[..3].iter().enumerate() {
            assert_eq!(
                (g.0, g.1.as_slice(), g.2, g.3),
                (10, &[i as u8; 40][..], Some(from), true)
            );
        }
        assert_eq!(
            (got[3].0, got[3].1.as_slice(), got[3].2),
            (20, &[9u8; 172][..], Some(from))
        );
        // Nothing more: an empty socket reads nothing and is no error.
        pio.mark_ready(b.as_raw_fd(), 10);
        let drain = pio.reads_at_tick();
        assert_eq!(
            pio.receive(drain, |_, _| panic!("nothing was sent"), |_, _| {}),
            0
        );
        pio.backend()
    }

    /// Armed receives (io_uring, Linux ≥ 6.1): datagrams of every armed socket come
    /// back with owner, source and arrival stamp, from a wait that a datagram ends early;
    /// sends go by the fixed file table; the control eventfd ends a wait too; a disarmed
    /// socket is heard no more and can be armed again (a new owner generation).
    #[test]
    fn packet_io_armed_receives_where_the_kernel_runs_them() {
        let mut pio = PacketIo::new(IoMode::UringArmed);
        if !pio.armed() {
            eprintln!("io_uring receives cannot be armed here: nothing to test");
            return;
        }
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let c = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for s in [&a, &b, &c] {
            s.set_nonblocking(true).unwrap();
        }
        enable_timestamps(b.as_raw_fd()).unwrap();
        let waker = Waker::new().unwrap();
        pio.arm_control(waker.fd()).unwrap();
        pio.arm(b.as_raw_fd(), 10).unwrap();
        pio.arm(c.as_raw_fd(), 20).unwrap();
        // Nothing yet: the wait runs out.
        let t = std::time::Instant::now();
        pio.wait(Duration::from_millis(30)).unwrap();
        assert!(
            t.elapsed() >= Duration::from_millis(25),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(
            pio.receive_armed(true, |_, _| panic!("nothing sent")),
            (0, false)
        );

        // A datagram from another thread ends the wait early.
        let to_b = b.local_addr().unwrap();
        let a2 = a.try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            a2.send_to(&[7; 40], to_b).unwrap();
        });
        let t = std::time::Instant::now();
        pio.wait(Duration::from_secs(5)).unwrap();
        assert!(t.elapsed() < Duration::from_secs(4));
        sender.join().unwrap();
        let mut got: Vec<(u32, Vec<u8>, Option<SocketAddr>, bool)> = Vec::new();
        let (n, control) = pio.receive_armed(true, |o, d| {
            got.push((o, d.data.to_vec(), d.from, d.arrival_ns.is_some()))
        });
        assert_eq!((n, control), (1, false));
        assert_eq!(
            got,
            vec![(10, vec![7; 40], Some(a.local_addr().unwrap()), true)]
        );

        // Many datagrams to both sockets, sent through the ring itself (fixed files).
        got.clear();
        let to_c = RawAddr::new(c.local_addr().unwrap());
        let mut sent = 0;
        for i in 0..50u8 {
            let fd = b.as_raw_fd();
            if let Sent::Now(r) = pio.send(fd, &[i; 172], Some(&to_c), 10, |_, r| {
                assert!(r.unwrap());
            }) {
                assert!(r.unwrap());
            }
            sent += 1;
            a.send_to(&[i; 20], to_b).unwrap();
        }
        pio.flush(|_, r| assert!(r.unwrap()));
        let mut rounds = 0;
        while got.len() < 2 * sent && rounds < 100 {
            rounds += 1;
            pio.wait(Duration::from_millis(10)).unwrap();
            pio.receive_armed(true, |o, d| got.push((o, d.data.to_vec(), d.from, true)));
        }
        let to_b_count = got.iter().filter(|g| g.0 == 10 && g.1.len() == 20).count();
        let to_c_count = got.iter().filter(|g| g.0 == 20 && g.1.len() == 172).count();
        assert_eq!((to_b_count, to_c_count), (sent, sent));
        // In order per socket.
        let firsts: Vec<u8> = got.iter().filter(|g| g.0 == 20).map(|g| g.1[0]).collect();
        assert_eq!(firsts, (0..50).collect::<Vec<u8>>());

        // The control eventfd ends a wait and is reported.
        waker.arm();
        waker.wake();
        pio.wait(Duration::from_secs(5)).unwrap();
        assert!(
            pio.receive_armed(true, |_, _| {}).1,
            "the control eventfd fired"
        );
        waker.reset();

        // Disarmed: c is not read any more (its datagram stays in the socket).
        pio.release(20, |_, _| {});
        a.send_to(&[1; 10], c.local_addr().unwrap()).unwrap();
        pio.wait(Duration::from_millis(30)).unwrap();
        assert_eq!(pio.receive_armed(true, |_, _| panic!("c is disarmed")).0, 0);
        let mut buf = [0u8; 64];
        assert_eq!(c.recv(&mut buf).unwrap(), 10);
        // Armed again under another owner: heard there.
        pio.arm(c.as_raw_fd(), 21).unwrap();
        a.send_to(&[2; 12], c.local_addr().unwrap()).unwrap();
        got.clear();
        let mut rounds = 0;
        while got.is_empty() && rounds < 100 {
            rounds += 1;
            pio.wait(Duration::from_millis(10)).unwrap();
            pio.receive_armed(true, |o, d| got.push((o, d.data.to_vec(), d.from, true)));
        }
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].0, got[0].1.as_slice()), (21, &[2u8; 12][..]));
    }

    /// More datagrams waiting than the ring has provided buffers (a burst after a
    /// stall): the receives that run out end, are armed again once buffers are back,
    /// and every datagram is handed on, none twice.
    #[test]
    fn packet_io_armed_receives_survive_running_out_of_buffers() {
        let mut pio = PacketIo::with_buffers(IoMode::UringArmed, 64);
        if !pio.armed() {
            eprintln!("io_uring receives cannot be armed here: nothing to test");
            return;
        }
        const SOCKETS: usize = 40;
        const EACH: usize = 120; // 4,800 datagrams for 64 provided buffers
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let socks: Vec<std::net::UdpSocket> = (0..SOCKETS)
            .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        for (i, s) in socks.iter().enumerate() {
            s.set_nonblocking(true).unwrap();
            pio.arm(s.as_raw_fd(), i as u32).unwrap();
        }
        // All sent before the ring is looked at again.
        for k in 0..EACH {
            for s in &socks {
                let mut pkt = [0u8; 8];
                pkt[..4].copy_from_slice(&(k as u32).to_be_bytes());
                tx.send_to(&pkt, s.local_addr().unwrap()).unwrap();
            }
        }
        let mut next = vec![0u32; SOCKETS];
        let mut total = 0;
        let mut rounds = 0;
        while total < SOCKETS * EACH && rounds < 500 {
            rounds += 1;
            let (n, _) = pio.receive_armed(true, |o, d| {
                let k = u32::from_be_bytes([d.data[0], d.data[1], d.data[2], d.data[3]]);
                assert_eq!(k, next[o as usize], "socket {o}: in order, none twice");
                next[o as usize] += 1;
            });
            total += n;
            if n == 0 {
                pio.wait(Duration::from_millis(5)).unwrap();
            }
        }
        assert_eq!(total, SOCKETS * EACH, "after {rounds} looks");
        assert!(next.iter().all(|&n| n as usize == EACH), "{next:?}");
    }

    #[test]
    fn packet_io_by_system_calls() {
        assert_eq!(packet_io_round_trip(IoMode::Syscalls), IoBackend::Syscalls);
    }

    #[test]
    fn packet_io_by_io_uring_receiving_by_readiness() {
        packet_io_round_trip(IoMode::UringReadiness);
    }

    /// Receives at the tick (io_uring): one datagram per socket, then each socket whose
    /// datagram the caller says may have more behind it is read until it is empty, bursts
    /// longer than one round included, in the order the datagrams came; a socket the
    /// caller says holds no more keeps the rest for the next tick. The sends queued
    /// meanwhile go in the same submission and report their results.
    #[test]
    fn packet_io_reads_at_the_tick_drain_the_sockets_that_may_have_more() {
        let mut pio = PacketIo::new(IoMode::Auto);
        if !pio.reads_at_tick() {
            eprintln!("io_uring not available here");
            return;
        }
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let c = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let sink = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        // A burst of 11 on `b` (more than the first read and the drain rounds of two), two
        // on `c`.
        for i in 0..11u8 {
            a.send_to(&[i; 20], b.local_addr().unwrap()).unwrap();
        }
        a.send_to(&[98; 20], c.local_addr().unwrap()).unwrap();
        a.send_to(&[99; 20], c.local_addr().unwrap()).unwrap();
        let to_sink = RawAddr::new(sink.local_addr().unwrap());
        for _ in 0..3 {
            assert!(matches!(
                pio.send(a.as_raw_fd(), &[7; 30], Some(&to_sink), 5, |_, _| {}),
                Sent::Queued
            ));
        }
        let mut got = Vec::new();
        let mut sent = Vec::new();
        pio.mark_ready(b.as_raw_fd(), 1);
        pio.mark_ready(c.as_raw_fd(), 2);
        // `b` may have more after each datagram, `c` not.
        let n = pio.receive(
            true,
            |o, d| {
                got.push((o, d.data[0]));
                o == 1
            },
            |o, r| sent.push((o, r.unwrap())),
        );
        assert_eq!(sent, vec![(5, true); 3], "the sends went with the receives");
        assert_eq!(pio.pending(), 0);
        // One, then DRAIN_ROUNDS rounds of two: 9 of the burst now, the rest at the next
        // tick; one of `c`'s two.
        let from_b: Vec<u8> = got.iter().filter(|g| g.0 == 1).map(|g| g.1).collect();
        assert_eq!(from_b, (0..9).collect::<Vec<u8>>());
        let from_c: Vec<u8> = got.iter().filter(|g| g.0 == 2).map(|g| g.1).collect();
        assert_eq!(from_c, vec![98]);
        assert_eq!(n, 10);
        pio.mark_ready(b.as_raw_fd(), 1);
        pio.mark_ready(c.as_raw_fd(), 2);
        got.clear();
        pio.receive(
            true,
            |o, d| {
                got.push((o, d.data[0]));
                true
            },
            |_, _| {},
        );
        got.sort();
        assert_eq!(got, vec![(1, 9), (1, 10), (2, 99)]);
        let mut buf = [0u8; 64];
        sink.set_nonblocking(true).unwrap();
        let mut at_sink = 0;
        while sink.recv(&mut buf).is_ok() {
            at_sink += 1;
        }
        assert_eq!(at_sink, 3);
    }

    /// A registered socket (a slot of the ring's file table) sends and is read through
    /// its slot; released, the kernel holds no reference to it (closed, its port is free
    /// again), and a new socket registered at the same slot sends from its own address,
    /// not the old one's.
    #[test]
    fn packet_io_registered_sockets_are_released_whole() {
        let mut pio = PacketIo::new(IoMode::Auto);
        if !pio.reads_at_tick() {
            eprintln!("io_uring not available here");
            return;
        }
        let sink = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sink.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let to_sink = RawAddr::new(sink.local_addr().unwrap());
        let old = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let old_addr = old.local_addr().unwrap();
        if !pio.register(old.as_raw_fd(), 3) {
            eprintln!("no fixed file table here (Linux < 5.19 or RLIMIT_NOFILE): nothing to test");
            return;
        }
        // Read through the slot.
        sink.send_to(&[5; 16], old_addr).unwrap();
        pio.mark_ready(old.as_raw_fd(), 3);
        let mut got = Vec::new();
        pio.receive(
            true,
            |o, d| {
                got.push((o, d.data.to_vec()));
                false
            },
            |_, _| {},
        );
        assert_eq!(got, vec![(3, vec![5; 16])]);
        // A send queued through the slot goes when the socket is released.
        assert!(matches!(
            pio.send(old.as_raw_fd(), &[1; 12], Some(&to_sink), 3, |_, _| {}),
            Sent::Queued
        ));
        let mut results = Vec::new();
        pio.release(3, |o, r| results.push((o, r.unwrap())));
        assert_eq!(results, vec![(3, true)]);
        let mut buf = [0u8; 64];
        let (n, from) = sink.recv_from(&mut buf).unwrap();
        assert_eq!((n, from), (12, old_addr));
        drop(old);
        // Closed in the kernel too: a table that still held it would keep the port.
        let again = std::net::UdpSocket::bind(old_addr)
            .expect("the released socket's port is free once it is closed");
        let new = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(pio.register(new.as_raw_fd(), 3));
        if let Sent::Now(r) = pio.send(new.as_raw_fd(), &[2; 12], Some(&to_sink), 3, |_, _| {}) {
            assert!(r.unwrap());
        }
        pio.flush(|_, r| assert!(r.unwrap()));
        let (n, from) = sink.recv_from(&mut buf).unwrap();
        assert_eq!((n, from), (12, new.local_addr().unwrap()));
        pio.release(3, |_, _| {});
        drop(again);
    }

    #[test]
    fn packet_io_sends_given_up_never_go_out_on_another_calls_socket() {
        let mut pio = PacketIo::new(IoMode::Auto);
        if !pio.reads_at_tick() {
            eprintln!("io_uring not available here");
            return;
        }
        let sink = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sink.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let to_sink = RawAddr::new(sink.local_addr().unwrap());
        let old = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        if !pio.register(old.as_raw_fd(), 3) {
            eprintln!("no fixed file table here: nothing to test");
            return;
        }
        // A send through slot 3, and then the ring cannot be entered: the send is given
        // up as an error, though its entry stays in the submission queue.
        assert!(matches!(
            pio.send(old.as_raw_fd(), &[1; 12], Some(&to_sink), 3, |_, _| {}),
            Sent::Queued
        ));
        pio.fail_next_enters(1000);
        let mut results = Vec::new();
        pio.flush(|o, r| results.push((o, r.is_err())));
        assert_eq!(results, vec![(u32::MAX, true)]);
        assert!(pio.stranded());
        // That call ends, and the next call's socket comes to the same owner while the
        // entry is still there: it is not put in slot 3, which the entry names, and its
        // packets go by system call meanwhile.
        pio.release(3, |_, _| {});
        drop(old);
        let new = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let new_addr = new.local_addr().unwrap();
        assert!(!pio.register(new.as_raw_fd(), 3));
        match pio.send(new.as_raw_fd(), &[2; 12], Some(&to_sink), 3, |_, _| {}) {
            Sent::Now(r) => assert!(r.unwrap()),
            Sent::Queued => panic!("queued into a slot a stranded entry still points into"),
        }
        // The ring works again: the old entry is submitted now, names an empty slot
        // and fails; nothing but the new call's one packet reaches the far end.
        pio.fail_next_enters(0);
        pio.flush(|_, _| {});
        assert!(!pio.stranded());
        let mut buf = [0u8; 64];
        let (n, from) = sink.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&[2u8; 12][..], new_addr));
        assert!(
            sink.recv_from(&mut buf).is_err(),
            "a second datagram: {:?}",
            &buf[..12]
        );
        // And the socket takes its slot now.
        assert!(pio.register(new.as_raw_fd(), 3));
        assert!(matches!(
            pio.send(new.as_raw_fd(), &[3; 12], Some(&to_sink), 3, |_, _| {}),
            Sent::Queued
        ));
        pio.flush(|_, r| assert!(r.unwrap()));
        let (n, from) = sink.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&[3u8; 12][..], new_addr));
        pio.release(3, |_, _| {});
    }

    #[test]
    fn packet_io_by_io_uring_where_the_kernel_runs_it() {
        let backend = packet_io_round_trip(IoMode::Auto);
        if super::super::uring::Uring::with_buffers(true, 64).is_ok() {
            assert_eq!(backend, IoBackend::Uring);
        } else {
            eprintln!("io_uring not available here: the system-call path was tested");
        }
    }
}

/// Which way a media thread moves its packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoBackend {
    /// io_uring: a tick's sends in one submission, the readable sockets read in one.
    Uring,
    /// One `send`/`sendto` per packet and one `recvmmsg` per readable socket.
    Syscalls,
}

/// What a media thread should use. [`IoMode::Auto`] takes io_uring when the kernel runs
/// it (probed when the thread starts) and plain system calls otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IoMode {
    /// io_uring, each channel's RTP socket read at its own tick, right before its block
    /// is served (the default): no socket is watched between ticks, so a datagram's
    /// arrival costs no wake-up and the thread wakes once per tick. A datagram waits in
    /// its socket instead of the jitter buffer until the tick its frame could first be
    /// played on.
    #[default]
    Auto,
    /// io_uring with a multishot receive armed in the ring on every socket (Linux 6.1:
    /// deferred task work), datagrams taken as they arrive.
    UringArmed,
    /// io_uring, receives as they arrive, found by `epoll_wait` readiness (what kernels
    /// before 6.1 get for arrival-driven receives).
    UringReadiness,
    /// One system call per packet, receives as they arrive (found by `epoll_wait`).
    Syscalls,
}

/// A send handed to [`PacketIo::send`].
pub enum Sent {
    /// Gone (`Ok(true)`), dropped on a full socket buffer (`Ok(false)`), or failed.
    Now(io::Result<bool>),
    /// Queued: its result comes from [`PacketIo::flush`].
    Queued,
}

/// The media thread's packet I/O: io_uring where it runs, plain system calls otherwise,
/// behind one interface. With io_uring, sends are queued until [`PacketIo::flush`].
pub struct PacketIo {
    uring: Option<Box<super::uring::Uring>>,
    recv: RecvBatch,
    ready: Vec<(RawFd, u32)>,
    /// Receives at each channel's tick ([`IoMode::Auto`] with io_uring).
    at_tick: bool,
}

impl PacketIo {
    pub fn new(mode: IoMode) -> Self {
        Self::with_buffers(mode, super::uring::BUF_COUNT)
    }

    /// As [`PacketIo::new`], with `buffers` provided buffers for armed receives.
    pub(crate) fn with_buffers(mode: IoMode, buffers: u16) -> Self {
        let uring = match mode {
            IoMode::Syscalls => None,
            IoMode::Auto | IoMode::UringArmed | IoMode::UringReadiness => {
                match super::uring::Uring::with_buffers(mode == IoMode::UringArmed, buffers) {
                    Ok(u) => Some(Box::new(u)),
                    Err(e) => {
                        tracing::info!(error = %e, "media thread: io_uring not available, one system call per packet");
                        None
                    }
                }
            }
        };
        PacketIo {
            at_tick: mode == IoMode::Auto && uring.is_some(),
            uring,
            recv: RecvBatch::new(),
            ready: Vec::new(),
        }
    }

    /// Sockets are read at their channel's tick ([`PacketIo::mark_ready`] then
    /// [`PacketIo::receive`] with `drain`), not watched between ticks.
    pub fn reads_at_tick(&self) -> bool {
        self.at_tick
    }

    pub fn backend(&self) -> IoBackend {
        if self.uring.is_some() {
            IoBackend::Uring
        } else {
            IoBackend::Syscalls
        }
    }

    /// Send `pkt` on `fd` (`to`: the address, `None` on a connected socket); `owner`
    /// names the sender in [`PacketIo::flush`]'s results. A full queue is flushed
    /// first (its results through `done`).
    pub fn send(
        &mut self,
        fd: RawFd,
        pkt: &[u8],
        to: Option<&RawAddr>,
        owner: u32,
        done: impl FnMut(u32, io::Result<bool>),
    ) -> Sent {
        if let Some(u) = self.uring.as_mut().filter(|u| !u.stranded()) {
            if u.push_send(fd, pkt, to, owner) {
                return Sent::Queued;
            }
            u.submit_sends(done);
            if u.push_send(fd, pkt, to, owner) {
                return Sent::Queued;
            }
            if !u.stranded() {
                return Sent::Now(Err(io::Error::other("io_uring: no room for a send")));
            }
        }
        // No ring, or entries given up are still in it (their slots are not reused).
        Sent::Now(match to {
            Some(a) => send_to(fd, pkt, a),
            None => send(fd, pkt),
        })
    }

    /// Receives are armed in the io_uring ring: the sockets are not in the epoll set;
    /// use [`PacketIo::arm`], [`PacketIo::wait`] and [`PacketIo::receive_armed`].
    pub fn armed(&self) -> bool {
        self.uring.as_ref().is_some_and(|u| u.is_armed())
    }

    /// Keep a receive armed on `fd` for `owner` (armed receiving only).
    pub fn arm(&mut self, fd: RawFd, owner: u32) -> io::Result<()> {
        match self.uring.as_mut() {
            Some(u) => u.arm(fd, owner),
            None => Err(io::Error::other("receives are not armed")),
        }
    }

    /// Register `owner`'s socket with the ring (its slot of the fixed file table: no
    /// descriptor lookup per packet); returns whether it is there (never without io_uring,
    /// a table, or a slot for `owner`). Each registered socket is
    /// given up with [`PacketIo::release`] before it is closed.
    pub fn register(&mut self, fd: RawFd, owner: u32) -> bool {
        self.uring.as_mut().is_some_and(|u| u.register(fd, owner))
    }

    /// Done with `owner`'s socket: queued sends are flushed first (results through
    /// `done`), an armed receive is stopped, and the socket leaves the ring's file table.
    /// Afterwards the kernel holds no reference to it (but for entries stranded when the
    /// ring could not be entered: see `Uring::release`).
    pub fn release(&mut self, owner: u32, done: impl FnMut(u32, io::Result<bool>)) {
        if let Some(u) = self.uring.as_mut() {
            u.release(owner, done);
        }
    }

    /// Watch the control eventfd in the ring (armed receiving only).
    pub fn arm_control(&mut self, fd: RawFd) -> io::Result<()> {
        match self.uring.as_mut() {
            Some(u) => u.arm_control(fd),
            None => Err(io::Error::other("receives are not armed")),
        }
    }

    /// Sleep until a datagram or the control eventfd, at most `timeout` (armed
    /// receiving only).
    pub fn wait(&mut self, timeout: Duration) -> io::Result<()> {
        match self.uring.as_mut() {
            Some(u) => u.wait(timeout),
            None => Err(io::Error::other("receives are not armed")),
        }
    }

    /// Hand on what the armed receives took (`got(owner, datagram)`), after one
    /// `io_uring_enter` when `enter` (otherwise what the last one brought); returns the
    /// datagrams and whether the control eventfd fired.
    pub fn receive_armed(
        &mut self,
        enter: bool,
        got: impl FnMut(u32, Datagram<'_>),
    ) -> (usize, bool) {
        let mut got = got;
        self.receive_armed_ahead(enter, |o, d| {
            if let Incoming::Datagram(d) = d {
                got(o, d);
            }
        })
    }

    /// As [`PacketIo::receive_armed`], with each owner's prefetch stages
    /// ([`Incoming::Ahead`]) handed on a few datagrams before its datagram.
    pub fn receive_armed_ahead(
        &mut self,
        enter: bool,
        got: impl FnMut(u32, Incoming<'_>),
    ) -> (usize, bool) {
        match self.uring.as_mut() {
            Some(u) => u.receive_armed(enter, got),
            None => (0, false),
        }
    }

    /// Sends queued and not yet flushed.
    pub fn pending(&self) -> usize {
        self.uring.as_ref().map_or(0, |u| u.queued())
    }

    /// Hand the queued sends to the kernel (one `io_uring_enter`) and report each.
    pub fn flush(&mut self, done: impl FnMut(u32, io::Result<bool>)) {
        if let Some(u) = self.uring.as_mut() {
            u.submit_sends(done);
        }
    }

    /// Read the sockets noted with [`PacketIo::mark_ready`] (found readable by an
    /// `epoll_wait`, or due at this tick); `got(owner, datagram)` for each datagram. With
    /// io_uring the queued sends go in the same submission (`done(owner, result)` for
    /// each, as [`PacketIo::flush`]). `drain: false`: io_uring reads one datagram per
    /// socket (a socket with more stays readable for the next wait); `drain: true`: one,
    /// and then each socket whose datagram `got` answers `true` for (it may have more)
    /// until it is empty (see `Uring::recv_each`).
    /// System calls: `recvmmsg` per socket until it is empty, whatever `got` answers.
    /// Returns the datagrams read.
    pub fn receive(
        &mut self,
        drain: bool,
        mut got: impl FnMut(u32, Datagram<'_>) -> bool,
        done: impl FnMut(u32, io::Result<bool>),
    ) -> usize {
        let ready = std::mem::take(&mut self.ready);
        if let Some(u) = self.uring.as_mut() {
            u.settle();
        }
        let n = match self.uring.as_mut().filter(|u| !u.stranded()) {
            Some(u) => u.recv_each(&ready, drain, got, done),
            None => {
                let mut total = 0;
                for &(fd, owner) in &ready {
                    loop {
                        let n = match self.recv.recv(fd) {
                            Ok(n) => n,
                            Err(e) => {
                                tracing::debug!(error = %e, "RTP receive");
                                0
                            }
                        };
                        for j in 0..n {
                            if let Some(d) = self.recv.get(j) {
                                let _ = got(owner, d);
                            }
                        }
                        total += n;
                        if n < RECV_BATCH {
                            break;
                        }
                    }
                }
                total
            }
        };
        self.ready = ready;
        self.ready.clear();
        n
    }

    /// Note a readable socket for the next [`PacketIo::receive`].
    pub fn mark_ready(&mut self, fd: RawFd, owner: u32) {
        self.ready.push((fd, owner));
    }

    /// Tests: the ring's next `n` entries into the kernel fail.
    #[cfg(test)]
    fn fail_next_enters(&mut self, n: u32) {
        if let Some(u) = self.uring.as_mut() {
            u.fail_next_enters(n);
        }
    }

    #[cfg(test)]
    fn stranded(&self) -> bool {
        self.uring.as_ref().is_some_and(|u| u.stranded())
    }
}
