//! The few system calls the media threads make, batched: `epoll_wait` once per tick to
//! learn which RTP sockets have datagrams, `recvmmsg` to take up to [`RECV_BATCH`]
//! datagrams of one socket in one call (with the kernel's arrival time,
//! `SO_TIMESTAMPNS`), and `send` on a socket connected to its latched peer (`sendto`
//! with a socket address converted once per remote until then).
//! Per-channel sockets (one UDP port per call, as SDP needs) mean a send batch would
//! only ever hold one packet per socket, so sends are single calls; the benchmark's
//! traffic generator, which owns one socket for all far ends, uses `sendmmsg`.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

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

/// CPU time of the calling thread, nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    // SAFETY: a valid timespec out-pointer.
    let mut ts: libc::timespec = unsafe { zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

const CMSG_SPACE: usize = 64;

/// Buffers for one `recvmmsg` of up to [`RECV_BATCH`] datagrams, reused every call.
pub struct RecvBatch {
    bufs: Box<[[u8; MAX_DATAGRAM]; RECV_BATCH]>,
    addrs: [libc::sockaddr_storage; RECV_BATCH],
    cmsgs: [[u64; CMSG_SPACE / 8]; RECV_BATCH],
    iovs: [libc::iovec; RECV_BATCH],
    hdrs: [libc::mmsghdr; RECV_BATCH],
    count: usize,
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

fn timestamp_of(h: &libc::msghdr) -> Option<i64> {
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
        // SAFETY: the events buffer is valid for its length.
        let r = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                self.events.as_mut_ptr(),
                self.events.len() as libc::c_int,
                0,
            )
        };
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

    pub fn token(&self, i: usize) -> u64 {
        self.events[..self.ready][i].u64
    }
}
