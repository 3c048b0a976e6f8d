//! The wire protocol between `libdahdi_sim.so` (in the DAHDI program) and `tdm-simd`.
//!
//! One `AF_UNIX` `SOCK_SEQPACKET` connection per file descriptor the program opened under
//! `/dev/dahdi`: the first request is [`Op::Open`], closing the connection closes the
//! file (and frees the channel). Every request gets exactly one reply:
//!
//! ```text
//! request: op u8 | payload
//! reply:   result i64 (>= 0: value, < 0: -errno) | payload   [+ one fd by SCM_RIGHTS]
//! ```
//!
//! A reply may carry a file descriptor: the channel's readiness socket. The library puts
//! it in place of the descriptor the program holds (`dup2`), so `poll`, `select` and
//! `epoll` on that descriptor wait in the kernel on the simulator's readiness (`POLLIN`
//! when a read can succeed, `POLLPRI` when an event is queued) with no interposition.
//!
//! Two more requests need no open file: [`Op::Sysfs`] (the text of one attribute under
//! `/sys/bus/dahdi_spans`) and [`Op::Control`] (a text command from a test or an
//! operator: impairments, configuration queries).

#![allow(dead_code)]

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Environment variable naming the daemon's socket.
pub const SOCKET_ENV: &str = "DAHDI_SIM_SOCKET";
/// The socket used when the variable is not set.
pub const DEFAULT_SOCKET: &str = "/tmp/tdm-simd.sock";

/// Most descriptors one message carries.
pub const MAX_FDS: usize = 4;

/// Largest message either way (an 8192-byte block plus headers fits easily).
pub const MAX_MSG: usize = 64 * 1024;

/// Request kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Op {
    /// `node u8 | flags i32`: opens a device node; must be the first request.
    Open = 1,
    /// `len u32 | blocking u8`: one `read()`.
    Read = 2,
    /// `blocking u8 | data`: one `write()`.
    Write = 3,
    /// `request u32 | argument bytes`: one `ioctl()`; the reply carries the argument
    /// back for requests that write to it.
    Ioctl = 4,
    /// `path`: the text of a sysfs attribute.
    Sysfs = 5,
    /// `command`: a control command; the reply is text.
    Control = 6,
    /// Closes the file; the reply comes once the daemon released it (a channel is free
    /// for the next `DAHDI_SPECIFY` as soon as `close()` returns, as with DAHDI).
    Close = 7,
}

impl Op {
    pub fn from_u8(b: u8) -> Option<Op> {
        Some(match b {
            1 => Op::Open,
            2 => Op::Read,
            3 => Op::Write,
            4 => Op::Ioctl,
            5 => Op::Sysfs,
            6 => Op::Control,
            7 => Op::Close,
            _ => return None,
        })
    }
}

/// The device nodes under `/dev/dahdi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Node {
    Ctl = 0,
    Channel = 1,
    Pseudo = 2,
    Timer = 3,
}

impl Node {
    pub fn from_u8(b: u8) -> Option<Node> {
        Some(match b {
            0 => Node::Ctl,
            1 => Node::Channel,
            2 => Node::Pseudo,
            3 => Node::Timer,
            _ => return None,
        })
    }

    /// The node a path under `/dev/dahdi/` names.
    pub fn from_name(name: &str) -> Option<Node> {
        Some(match name {
            "ctl" => Node::Ctl,
            "channel" => Node::Channel,
            "pseudo" => Node::Pseudo,
            "timer" => Node::Timer,
            _ => return None,
        })
    }
}

/// Sends one message, with up to [`MAX_FDS`] descriptors attached.
pub fn send_msg(sock: RawFd, data: &[u8], fds: &[RawFd]) -> io::Result<()> {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // Room for one SCM_RIGHTS control message carrying the ints, 8-byte aligned.
    let mut cbuf = [0u64; 8];
    let fds = &fds[..fds.len().min(MAX_FDS)];
    // SAFETY: an all-zero msghdr is valid; the fields are set below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        let bytes = std::mem::size_of_val(fds) as u32;
        // SAFETY: CMSG_SPACE only computes a size.
        let space = unsafe { libc::CMSG_SPACE(bytes) };
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = space as usize;
        // SAFETY: msg_control points at `cbuf`, large enough for one header and the ints.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(bytes) as usize;
            for (i, &fd) in fds.iter().enumerate() {
                std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>().add(i), fd);
            }
        }
    }
    loop {
        // SAFETY: `msg` points at valid buffers for the duration of the call.
        let n = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
        if n >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Receives one message into `buf` (resized to what arrived; empty when the peer
/// closed); returns the descriptors attached.
pub fn recv_msg(sock: RawFd, buf: &mut Vec<u8>) -> io::Result<Vec<RawFd>> {
    buf.resize(MAX_MSG, 0);
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut cbuf = [0u64; 8];
    // SAFETY: an all-zero msghdr is valid; the fields are set below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf);
    let n = loop {
        // SAFETY: `msg` points at valid, writable buffers for the duration of the call.
        let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n >= 0 {
            break n as usize;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            buf.clear();
            return Err(e);
        }
    };
    buf.truncate(n);
    let mut fds = Vec::new();
    // SAFETY: walking the control messages the kernel filled in `cbuf`.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let n = ((*c).cmsg_len - libc::CMSG_LEN(0) as usize)
                    / std::mem::size_of::<libc::c_int>();
                for i in 0..n {
                    fds.push(std::ptr::read_unaligned(
                        libc::CMSG_DATA(c).cast::<libc::c_int>().add(i),
                    ));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok(fds)
}

/// Connects to the daemon's socket.
pub fn connect(path: &str) -> io::Result<RawFd> {
    // SAFETY: plain socket creation.
    let s = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: an all-zero sockaddr_un is valid; the path is copied in below.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_bytes();
    if bytes.len() >= addr.sun_path.len() {
        // SAFETY: closing the socket we just created.
        unsafe { libc::close(s) };
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    for (d, &b) in addr.sun_path.iter_mut().zip(bytes) {
        *d = b as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    // SAFETY: `addr` is a valid sockaddr_un of `len` bytes.
    let rc = unsafe {
        libc::connect(
            s,
            (&addr as *const libc::sockaddr_un).cast(),
            len as libc::socklen_t,
        )
    };
    if rc != 0 {
        let e = io::Error::last_os_error();
        // SAFETY: closing the socket we just created.
        unsafe { libc::close(s) };
        return Err(e);
    }
    Ok(s)
}

/// A reply as received: the result and the payload.
pub fn parse_reply(buf: &[u8]) -> Option<(i64, &[u8])> {
    let head: [u8; 8] = buf.get(..8)?.try_into().ok()?;
    Some((i64::from_le_bytes(head), &buf[8..]))
}

/// Builds a reply.
pub fn reply(result: i64, payload: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&result.to_le_bytes());
    out.extend_from_slice(payload);
}

/// One control command over a fresh connection; returns the daemon's text answer, or
/// its error text when the command failed.
pub fn control(socket: &str, command: &str) -> io::Result<Result<String, String>> {
    let s = connect(socket)?;
    let mut msg = vec![Op::Control as u8];
    msg.extend_from_slice(command.as_bytes());
    let res = send_msg(s, &msg, &[]).and_then(|()| {
        let mut buf = Vec::new();
        for fd in recv_msg(s, &mut buf)? {
            // SAFETY: closing a descriptor we were handed and do not use.
            unsafe { libc::close(fd) };
        }
        let (result, text) = parse_reply(&buf)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "short control reply"))?;
        let text = String::from_utf8_lossy(text).into_owned();
        Ok(if result >= 0 { Ok(text) } else { Err(text) })
    });
    // SAFETY: closing our own socket.
    unsafe { libc::close(s) };
    res
}

/// The state of one DAHDI timer, in a page shared by the daemon and the program
/// (`memfd`, sent with the timer's readiness socket): the daemon's pacer writes the
/// clock, the program configures, reads and acknowledges trips without a round trip,
/// as fast as the kernel's timer ioctls (`DAHDI_TIMERCONFIG`, `DAHDI_GETEVENT`,
/// `DAHDI_TIMERACK`; `dahdi-base.c`, `dahdi_timer_unlocked_ioctl`).
#[repr(C)]
pub struct TimerPage {
    /// The simulator's clock, in chunks.
    pub now: AtomicU64,
    /// Period in chunks (0: not armed).
    pub period: AtomicU64,
    pub start: AtomicU64,
    pub acked: AtomicU64,
    /// Whether the readiness socket holds an out-of-band byte (`POLLPRI`).
    pub pri: AtomicBool,
}

impl TimerPage {
    pub const SIZE: usize = 4096;

    /// Trips not yet acknowledged.
    pub fn tripped(&self) -> u64 {
        let period = self.period.load(Ordering::Acquire);
        if period == 0 {
            return 0;
        }
        let now = self.now.load(Ordering::Acquire);
        let start = self.start.load(Ordering::Acquire);
        (now.saturating_sub(start) / period).saturating_sub(self.acked.load(Ordering::Acquire))
    }

    /// `DAHDI_TIMERCONFIG`: a period in samples, rounded up to whole chunks of 8.
    pub fn configure(&self, samples: i32) {
        let samples = u64::try_from(samples).unwrap_or(0);
        self.period.store(0, Ordering::Release);
        self.start
            .store(self.now.load(Ordering::Acquire), Ordering::Release);
        self.acked.store(0, Ordering::Release);
        self.period.store(samples.div_ceil(8), Ordering::Release);
    }

    /// `DAHDI_TIMERACK`: takes `n` trips off (all of them when `n` is out of range).
    pub fn ack(&self, n: i32) {
        let t = self.tripped();
        let n = match u64::try_from(n) {
            Ok(n) if n >= 1 && n <= t => n,
            _ => t,
        };
        self.acked.fetch_add(n, Ordering::AcqRel);
    }
}

/// Maps a timer page from its memfd.
pub fn map_timer_page(fd: RawFd) -> io::Result<&'static TimerPage> {
    // SAFETY: mapping a shared page of a memfd we hold; it stays mapped until its holder
    // unmaps it (the preload's handle when the program closes the timer, the daemon's
    // `Timer` when it goes), so the `'static` is the holder's to keep.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            TimerPage::SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the page is zero-initialised or written by the daemon; TimerPage is atomics
    // only, valid for any bit pattern, and page-aligned.
    Ok(unsafe { &*(p as *const TimerPage) })
}
