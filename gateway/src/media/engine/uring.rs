//! The io_uring path of [`PacketIo`](super::io::PacketIo): a tick's RTP sends are queued
//! as submission entries and go to the kernel in one `io_uring_enter`, and the readable
//! sockets an `epoll_wait` found are read with one `recvmsg` entry each, again in one
//! `io_uring_enter` — instead of one `send`/`recvmmsg` system call per packet and socket.
//!
//! Every entry carries `MSG_DONTWAIT`, so the kernel completes it while it is submitted
//! (a full socket buffer or an empty socket completes with `EAGAIN` rather than being
//! parked): once `submit_and_wait` returns, every completion is in the ring and every
//! buffer is free again.

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::RawFd;

use io_uring::{opcode, types, IoUring};

use super::io::{timestamp_of, Datagram, RawAddr, CMSG_SPACE, MAX_DATAGRAM};

/// Sends queued per submission at most (a tick's packets of 2,000 channels are ≈ 100).
pub const SEND_SLOTS: usize = 512;
/// Sockets read per submission at most.
pub const RECV_SLOTS: usize = 256;
/// Marks a send's `user_data` (a receive's is its slot).
const SEND_TAG: u64 = 1 << 32;

/// One queued datagram: its bytes, and the message header pointing at them.
struct SendSlot {
    buf: [u8; MAX_DATAGRAM],
    iov: libc::iovec,
    hdr: libc::msghdr,
    addr: RawAddr,
    owner: u32,
}

struct RecvSlot {
    buf: [u8; MAX_DATAGRAM],
    addr: libc::sockaddr_storage,
    cmsg: [u64; CMSG_SPACE / 8],
    iov: libc::iovec,
    hdr: libc::msghdr,
    owner: u32,
    len: usize,
}

/// A ring and the buffers its entries point into. The slots live in boxed slices that
/// never move or grow, so the pointers given to the kernel stay valid; every entry
/// completes before `submit_sends`/`recv_each` return, so none outlives its buffer.
pub struct Uring {
    ring: IoUring,
    sends: Box<[SendSlot]>,
    queued: usize,
    recvs: Box<[RecvSlot]>,
}

// SAFETY: the raw pointers inside the slots point into the slots themselves (owned,
// boxed); nothing is shared, so moving the whole to another thread is sound.
unsafe impl Send for Uring {}

impl Uring {
    /// Set up a ring (cooperative task work where the kernel has it, Linux 5.19: no
    /// interrupt to run it; a plain ring otherwise). Not single-issuer: a worker may be
    /// built on one thread and run on another. Fails where io_uring is missing or
    /// forbidden (`kernel.io_uring_disabled`, seccomp), and then the caller uses plain
    /// system calls.
    pub fn new() -> io::Result<Self> {
        let entries = (SEND_SLOTS + RECV_SLOTS) as u32;
        let ring = match IoUring::builder().setup_coop_taskrun().build(entries) {
            Ok(r) => r,
            Err(_) => IoUring::new(entries)?,
        };
        // SAFETY: all-zero is a valid value of these plain C structs; pointers are set
        // when an entry is built.
        let sends = (0..SEND_SLOTS)
            .map(|_| unsafe {
                SendSlot {
                    buf: [0; MAX_DATAGRAM],
                    iov: zeroed(),
                    hdr: zeroed(),
                    addr: RawAddr::new(std::net::SocketAddr::from(([0, 0, 0, 0], 0))),
                    owner: 0,
                }
            })
            .collect();
        // SAFETY: as above.
        let recvs = (0..RECV_SLOTS)
            .map(|_| unsafe {
                RecvSlot {
                    buf: [0; MAX_DATAGRAM],
                    addr: zeroed(),
                    cmsg: [0; CMSG_SPACE / 8],
                    iov: zeroed(),
                    hdr: zeroed(),
                    owner: 0,
                    len: 0,
                }
            })
            .collect();
        let mut u = Uring {
            ring,
            sends,
            queued: 0,
            recvs,
        };
        // Probe: one no-op through the ring, so that a ring that cannot run is found
        // here, not on the first packet.
        let nop = opcode::Nop::new().build().user_data(0);
        // SAFETY: a no-op refers to no memory.
        unsafe { u.ring.submission().push(&nop) }
            .map_err(|_| io::Error::other("io_uring submission queue full"))?;
        u.ring.submit_and_wait(1)?;
        u.ring.completion().for_each(drop);
        Ok(u)
    }

    /// Sends queued and not yet submitted.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Queue one datagram for `fd` (`to`: its address, `None` on a connected socket);
    /// `owner` comes back with its result. `false` when every slot is taken: call
    /// [`Uring::submit_sends`] first.
    pub fn push_send(&mut self, fd: RawFd, pkt: &[u8], to: Option<&RawAddr>, owner: u32) -> bool {
        if self.queued == SEND_SLOTS || pkt.len() > MAX_DATAGRAM {
            return false;
        }
        let i = self.queued;
        let s = &mut self.sends[i];
        s.buf[..pkt.len()].copy_from_slice(pkt);
        s.owner = owner;
        let entry = match to {
            Some(a) => {
                s.addr = *a;
                s.iov = libc::iovec {
                    iov_base: s.buf.as_mut_ptr() as *mut libc::c_void,
                    iov_len: pkt.len(),
                };
                // SAFETY: all-zero is a valid msghdr.
                s.hdr = unsafe { zeroed() };
                s.hdr.msg_name = s.addr.as_ptr() as *mut libc::c_void;
                s.hdr.msg_namelen = s.addr.len();
                s.hdr.msg_iov = &mut s.iov;
                s.hdr.msg_iovlen = 1;
                opcode::SendMsg::new(types::Fd(fd), &s.hdr)
                    .flags(libc::MSG_DONTWAIT as u32)
                    .build()
            }
            None => opcode::Send::new(types::Fd(fd), s.buf.as_ptr(), pkt.len() as u32)
                .flags(libc::MSG_DONTWAIT)
                .build(),
        };
        let entry = entry.user_data(SEND_TAG | i as u64);
        // SAFETY: the entry points into slot `i`, which stays untouched until the entry
        // has completed (`submit_sends` waits for all of them before slots are reused).
        if unsafe { self.ring.submission().push(&entry) }.is_err() {
            return false;
        }
        self.queued += 1;
        true
    }

    /// Submit the queued sends in one `io_uring_enter` and wait for them;
    /// `done(owner, result)` for each (`Ok(false)`: the socket buffer was full).
    pub fn submit_sends(&mut self, mut done: impl FnMut(u32, io::Result<bool>)) {
        if self.queued == 0 {
            return;
        }
        let want = self.queued;
        let mut got = 0;
        while got < want {
            if let Err(e) = self.ring.submit_and_wait(want - got) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                tracing::warn!(error = %e, "io_uring_enter (sends)");
            }
            let before = got;
            for cqe in self.ring.completion() {
                let data = cqe.user_data();
                if data & SEND_TAG == 0 {
                    continue;
                }
                got += 1;
                let slot = (data & !SEND_TAG) as usize;
                let owner = self.sends.get(slot).map_or(u32::MAX, |s| s.owner);
                let r = cqe.result();
                done(owner, result_of(r));
            }
            if got == before {
                // Nothing completed and the enter failed: give the results up as errors
                // rather than spin (the slots are not reused while the kernel may
                // still read them: only after an empty ring).
                let left = want - got;
                for _ in 0..left {
                    done(
                        u32::MAX,
                        Err(io::Error::other("io_uring: send not completed")),
                    );
                }
                break;
            }
        }
        self.queued = 0;
    }

    /// Read one datagram from each socket of `fds` (`(fd, owner)`), in submissions of up
    /// to [`RECV_SLOTS`]; `got(owner, datagram)` for each one read. A socket with more
    /// queued stays readable for the next `epoll_wait`. Returns how many were read.
    pub fn recv_each(
        &mut self,
        fds: &[(RawFd, u32)],
        mut got: impl FnMut(u32, Datagram<'_>),
    ) -> usize {
        let mut total = 0;
        for chunk in fds.chunks(RECV_SLOTS) {
            let mut pushed = 0;
            for (i, &(fd, owner)) in chunk.iter().enumerate() {
                let s = &mut self.recvs[i];
                s.owner = owner;
                s.len = 0;
                s.iov = libc::iovec {
                    iov_base: s.buf.as_mut_ptr() as *mut libc::c_void,
                    iov_len: MAX_DATAGRAM,
                };
                // SAFETY: all-zero is a valid msghdr.
                s.hdr = unsafe { zeroed() };
                s.hdr.msg_name = &mut s.addr as *mut _ as *mut libc::c_void;
                s.hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                s.hdr.msg_iov = &mut s.iov;
                s.hdr.msg_iovlen = 1;
                s.hdr.msg_control = s.cmsg.as_mut_ptr() as *mut libc::c_void;
                s.hdr.msg_controllen = CMSG_SPACE as _;
                let entry = opcode::RecvMsg::new(types::Fd(fd), &mut s.hdr)
                    .flags(libc::MSG_DONTWAIT as u32)
                    .build()
                    .user_data(i as u64);
                // SAFETY: the entry points into slot `i`, untouched until it completes
                // (below, before the next chunk reuses the slots).
                if unsafe { self.ring.submission().push(&entry) }.is_err() {
                    tracing::warn!("io_uring submission queue full (receives)");
                    break;
                }
                pushed += 1;
            }
            let want = pushed;
            let mut done = 0;
            while done < want {
                if let Err(e) = self.ring.submit_and_wait(want - done) {
                    if e.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    tracing::warn!(error = %e, "io_uring_enter (receives)");
                }
                let before = done;
                for cqe in self.ring.completion() {
                    let data = cqe.user_data();
                    if data & SEND_TAG != 0 {
                        continue;
                    }
                    done += 1;
                    let r = cqe.result();
                    if r > 0 {
                        if let Some(s) = self.recvs.get_mut(data as usize) {
                            s.len = (r as usize).min(MAX_DATAGRAM);
                        }
                    }
                }
                if done == before {
                    // Not completed: the slots must not be read (nor reused) while the
                    // kernel may still write them.
                    tracing::warn!("io_uring: receives not completed");
                    return total;
                }
            }
            for s in self.recvs[..pushed].iter() {
                if s.len == 0 {
                    continue;
                }
                total += 1;
                got(
                    s.owner,
                    Datagram {
                        data: &s.buf[..s.len],
                        from: RawAddr::to_socket_addr(&s.addr),
                        arrival_ns: timestamp_of(&s.hdr),
                    },
                );
            }
        }
        total
    }
}

fn result_of(r: i32) -> io::Result<bool> {
    if r >= 0 {
        return Ok(true);
    }
    if -r == libc::EAGAIN || -r == libc::ENOBUFS {
        return Ok(false);
    }
    Err(io::Error::from_raw_os_error(-r))
}
