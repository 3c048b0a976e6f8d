//! The io_uring path of [`PacketIo`](super::io::PacketIo): a tick's RTP sends are queued
//! as submission entries and go to the kernel a batch per `io_uring_enter`, and the RTP
//! sockets are read by the ring as well — instead of one `send`/`recvmmsg` system call per
//! packet and socket and an `epoll_wait` to find the readable ones.
//!
//! Receiving, two ways, chosen when the ring is set up:
//! - **armed** (Linux ≥ 6.1: the ring is single-issuer with deferred task work): each RTP
//!   socket has a multishot `recvmsg` kept armed in the ring (`RecvMsgMulti`), its
//!   datagrams landing in a ring of provided buffers ([`BufRing`]). A datagram's arrival
//!   only queues work for the ring; the copy happens in the media thread's next
//!   `io_uring_enter` — the one that submits the tick's sends, or the one it sleeps in —
//!   so one system call both hands the kernel a batch of sends and takes every datagram
//!   that arrived meanwhile. No `epoll_wait`, and no socket polled twice.
//!   The control [`Waker`](super::io::Waker)'s eventfd is watched by a multishot poll in
//!   the same ring, so the thread sleeps in one `io_uring_enter` with a timeout.
//! - **readiness** (older kernels): the readable sockets an `epoll_wait` found are read
//!   with one `RecvMsg` each, all in one `io_uring_enter`.
//!
//! Either way (and when each socket is read at its channel's tick), a channel's socket
//! is a registered file while the channel lives ([`Uring::register`]): sends and
//! receives name its slot of the ring's fixed file table, and the kernel skips the
//! descriptor lookup and reference count it does per operation otherwise (`fget`/`fput`,
//! ≈ 4 % of the media thread's CPU at 2,000 channels). A registered socket stays open in
//! the kernel until [`Uring::release`] takes it out of the table.
//!
//! Every send and one-shot receive carries `MSG_DONTWAIT`, so the kernel completes it while
//! it is submitted (a full socket buffer or an empty socket completes with `EAGAIN` rather
//! than being parked): once `submit_sends` returns, every send buffer is free again. The
//! provided buffers of armed receives go back to the kernel as soon as their datagram has
//! been handed on.

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::RawFd;

use io_uring::{cqueue, opcode, squeue, types, IoUring};

use super::io::{
    timestamp_of, Datagram, Incoming, PrefetchStage, RawAddr, CMSG_SPACE, MAX_DATAGRAM,
};

/// Sends queued per submission at most (a tick's packets of 2,000 channels are ≈ 100).
pub const SEND_SLOTS: usize = 512;
/// How many datagrams before its own each prefetch stage of an owner is handed on by
/// [`Uring::receive_armed`].
const RECV_AHEAD: [(PrefetchStage, usize); 3] = [
    (PrefetchStage::Slot, 6),
    (PrefetchStage::State, 4),
    (PrefetchStage::Buffers, 2),
];
/// Receives per submission at most (receiving by readiness or at the tick).
pub const RECV_SLOTS: usize = 256;
/// Rounds of draining receives per socket and call of [`Uring::recv_each`]: up to
/// 1 + 2 × this many datagrams are taken from one socket at once (a burst after a network
/// stall, or 10 ms packets); the rest waits for the channel's next tick.
pub const DRAIN_ROUNDS: usize = 4;
/// Submission queue entries.
const SQ_ENTRIES: u32 = 1024;
/// Completion queue entries: every provided buffer's datagram, every socket's final
/// completion and a submission's sends fit.
const CQ_ENTRIES: u32 = 16384;
/// Provided buffers for armed receives (a power of two): 40 ms of 100,000 datagrams a
/// second may wait between two looks. When they run out, a socket's multishot receive
/// ends (`ENOBUFS`), its datagrams wait in the socket, and it is armed again once
/// buffers are back.
pub const BUF_COUNT: u16 = 4096;
/// One provided buffer: the kernel's `io_uring_recvmsg_out` (16), the source address
/// ([`NAME_LEN`]), the control messages ([`CMSG_SPACE`]), then the datagram.
const BUF_SIZE: usize = 16 + NAME_LEN + CMSG_SPACE + MAX_DATAGRAM;
/// Room for a source address in a provided buffer (a `sockaddr_in6` is 28 bytes; 32
/// keeps the control messages after it 8-byte aligned).
const NAME_LEN: usize = 32;
/// `io_uring_enter(2)` flag: wait for / reap completions (and run deferred task work).
const IORING_ENTER_GETEVENTS: u32 = 1;
/// `struct io_uring_buf` (linux/io_uring.h): one entry of a provided-buffer ring.
#[repr(C)]
struct IoUringBuf {
    addr: u64,
    len: u32,
    bid: u16,
    resv: u16,
}
/// `struct io_uring_recvmsg_out` (linux/io_uring.h): the head of a multishot `recvmsg`'s
/// buffer — lengths of the source address, control messages and payload, and flags.
const RECVMSG_OUT: usize = 16;
/// The buffer group of the provided buffers.
const BGID: u16 = 0;
/// Sockets with a slot in the fixed file table (more are used by descriptor).
const FIXED_FILES: u32 = 8192;

// `user_data`: the kind in the top 4 bits, a generation in bits 32..60, the owner below.
const KIND_SHIFT: u32 = 60;
const KIND_SEND: u64 = 1;
const KIND_RECV: u64 = 2;
const KIND_CONTROL: u64 = 3;
const KIND_CANCEL: u64 = 4;
/// A one-shot receive of [`Uring::recv_each`] (the owner field is its slot).
const KIND_READ: u64 = 5;
const GEN_MASK: u64 = (1 << 28) - 1;

fn tag(kind: u64, generation: u32, owner: u32) -> u64 {
    (kind << KIND_SHIFT) | ((generation as u64 & GEN_MASK) << 32) | owner as u64
}

fn kind_of(data: u64) -> u64 {
    data >> KIND_SHIFT
}

fn gen_of(data: u64) -> u32 {
    ((data >> 32) & GEN_MASK) as u32
}

fn owner_of(data: u64) -> u32 {
    data as u32
}

/// One queued datagram: its bytes, and the message header pointing at them.
struct SendSlot {
    buf: [u8; MAX_DATAGRAM],
    iov: libc::iovec,
    hdr: libc::msghdr,
    addr: RawAddr,
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

/// Page-aligned anonymous memory (the provided-buffer ring must be page-aligned).
struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> io::Result<Self> {
        // SAFETY: an anonymous private mapping; checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            ptr: ptr as *mut u8,
            len,
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: our own mapping, unmapped once.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
    }
}

/// The provided buffers of armed receives: a ring of `io_uring_buf` entries the kernel
/// takes buffers from (io_uring_register_buf_ring(3)), and the buffers themselves.
struct BufRing {
    ring: Mapping,
    bufs: Mapping,
    /// Buffers (a power of two).
    count: u16,
    /// Our tail: entries up to here are the kernel's.
    tail: u16,
}

impl BufRing {
    fn new(count: u16) -> io::Result<Self> {
        let count = count.max(1).next_power_of_two();
        let ring = Mapping::new(count as usize * size_of::<IoUringBuf>())?;
        let bufs = Mapping::new(count as usize * BUF_SIZE)?;
        let mut r = BufRing {
            ring,
            bufs,
            count,
            tail: 0,
        };
        for bid in 0..count {
            r.put(bid);
        }
        r.publish();
        Ok(r)
    }

    fn buf(&self, bid: u16) -> &[u8] {
        let i = (bid % self.count) as usize;
        // SAFETY: within the mapping; the kernel wrote this buffer before posting the
        // completion that named it and does not touch it until it is put back.
        unsafe { std::slice::from_raw_parts(self.bufs.ptr.add(i * BUF_SIZE), BUF_SIZE) }
    }

    /// Hand buffer `bid` back (seen by the kernel after [`BufRing::publish`]).
    fn put(&mut self, bid: u16) {
        let slot = (self.tail & (self.count - 1)) as usize;
        let bid = bid % self.count;
        // SAFETY: `slot` < `count` entries of the ring mapping; the entry past the
        // tail is ours to write.
        unsafe {
            let e = (self.ring.ptr as *mut IoUringBuf).add(slot);
            (*e).addr = self.bufs.ptr.add(bid as usize * BUF_SIZE) as u64;
            (*e).len = BUF_SIZE as u32;
            (*e).bid = bid;
        }
        self.tail = self.tail.wrapping_add(1);
    }

    /// Publish the tail: the buffers put so far are the kernel's.
    fn publish(&self) {
        // The tail shares its place with `resv` of entry 0 (struct io_uring_buf_ring).
        // SAFETY: an aligned u16 inside the ring mapping, written with release order
        // after the entries.
        unsafe {
            let tail = (self.ring.ptr as *mut u16).add(7);
            (*(tail as *const std::sync::atomic::AtomicU16))
                .store(self.tail, std::sync::atomic::Ordering::Release);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Arm {
    /// Not a socket of ours (any more).
    Off,
    /// Its multishot receive is in the ring.
    Armed,
    /// Its multishot receive ended (no buffer, an error): to be armed again.
    Ended,
}

#[derive(Clone, Copy)]
struct ArmedSocket {
    fd: RawFd,
    generation: u32,
    state: Arm,
}

/// The soft limit of open files (RLIMIT_NOFILE), at most `u32::MAX`.
fn open_file_limit() -> u32 {
    // SAFETY: getrlimit fills the struct it is given.
    let mut lim: libc::rlimit = unsafe { zeroed() };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 0;
    }
    u32::try_from(lim.rlim_cur).unwrap_or(u32::MAX)
}

/// What the ring's fixed file table holds: slot `owner` is the socket of owner `owner`.
struct FixedFiles {
    /// Slots of the ring's table: 0 without one (sparse tables need Linux 5.19).
    slots: u32,
    /// The descriptor registered at each slot, `-1` for none.
    fds: Vec<RawFd>,
}

impl FixedFiles {
    /// The slot to name for `fd` of `owner`, if that socket is the one registered there.
    fn slot(&self, fd: RawFd, owner: u32) -> Option<u32> {
        (fd >= 0 && self.fds.get(owner as usize) == Some(&fd)).then_some(owner)
    }
}

/// A completion kept for later: a datagram (or a receive's end) that came back while
/// sends were being submitted.
#[derive(Clone, Copy)]
struct Kept {
    data: u64,
    res: i32,
    flags: u32,
}

/// State of armed receiving.
struct Armed {
    bufs: BufRing,
    /// The header given with every `RecvMsgMulti`: only its name and control lengths
    /// count (they lay out each provided buffer).
    hdr: Box<libc::msghdr>,
    sockets: Vec<ArmedSocket>,
    kept: Vec<Kept>,
    /// Sockets whose receive ended, to be armed again.
    ended: Vec<u32>,
    generation: u32,
    control: Option<RawFd>,
    control_armed: bool,
    /// The control poll fired since the last [`Uring::receive_armed`].
    control_fired: bool,
    /// The ring was created disabled (single issuer): the first thread that uses it
    /// enables it and becomes its issuer.
    enabled: bool,
}

/// A ring and the buffers its entries point into. The slots live in boxed slices that
/// never move or grow, so the pointers given to the kernel stay valid; every send and
/// one-shot receive completes before `submit_sends`/`recv_each` return, so none
/// outlives its buffer, or else (the kernel could not be entered) it is stranded and its
/// slots are not used again until it has; armed receives write only into the provided buffers, which live
/// as long as the ring (and are cancelled before it goes).
pub struct Uring {
    ring: IoUring,
    sends: Box<[SendSlot]>,
    /// Owner of each queued send slot.
    owners: Box<[u32]>,
    queued: usize,
    /// Send results that came back ahead of [`Uring::submit_sends`] (an arming or a
    /// cancel submitted them): `(owner, result)`.
    early: Vec<(u32, i32)>,
    recvs: Box<[RecvSlot]>,
    armed: Option<Box<Armed>>,
    files: FixedFiles,
    /// Sends and one-shot receives given up as errors (`io_uring_enter` kept failing)
    /// whose entries the kernel may still take from the submission queue, or still run:
    /// they point into the send and receive slots and may name a slot of the file table.
    /// While any is left, no slot is used again and no socket is registered (the caller
    /// uses plain system calls, see [`Uring::stranded`]); their completions, as they come,
    /// count this down ([`Uring::settle`]).
    stranded: usize,
    /// Tests: the next this many `io_uring_enter` calls fail without entering the kernel.
    #[cfg(test)]
    fail_enters: u32,
}

// SAFETY: the raw pointers inside the slots point into the slots themselves (owned,
// boxed) and into mappings owned by the ring; nothing is shared, so moving the whole to
// another thread is sound (an armed ring is used by one thread: see `enable`).
unsafe impl Send for Uring {}

impl Uring {
    /// Set up a ring. Where the kernel has deferred task work (Linux 6.1) the ring is
    /// single-issuer, created disabled and enabled by the first thread that uses it (a
    /// worker may be built on one thread and run on another), and receives are armed;
    /// otherwise it has cooperative task work (Linux 5.19) or is plain, and receives go
    /// by readiness. Fails where io_uring is missing or forbidden
    /// (`kernel.io_uring_disabled`, seccomp), and then the caller uses plain system calls.
    /// `armed: false` keeps receiving by readiness on any kernel.
    /// `buffers`: provided buffers for armed receives ([`BUF_COUNT`]; rounded up to a
    /// power of two; tests use few to run out of them).
    pub fn with_buffers(armed: bool, buffers: u16) -> io::Result<Self> {
        // Probe: one no-op through a small plain ring, so that io_uring that cannot run
        // (seccomp on io_uring_enter) is found here, not on the first packet.
        let mut probe = IoUring::new(4)?;
        let nop = opcode::Nop::new().build().user_data(0);
        // SAFETY: a no-op refers to no memory.
        unsafe { probe.submission().push(&nop) }
            .map_err(|_| io::Error::other("io_uring submission queue full"))?;
        probe.submit_and_wait(1)?;
        probe.completion().for_each(drop);
        drop(probe);

        let deferred = if armed {
            IoUring::builder()
                .setup_single_issuer()
                .setup_defer_taskrun()
                .setup_r_disabled()
                .setup_cqsize(CQ_ENTRIES)
                .build(SQ_ENTRIES)
                .ok()
        } else {
            None
        };
        let (ring, armed) = match deferred {
            Some(ring) => match Self::set_up_armed(&ring, buffers) {
                Ok(a) => (ring, Some(a)),
                Err(e) => {
                    tracing::info!(error = %e, "io_uring: receives by readiness");
                    (Self::plain_ring()?, None)
                }
            },
            None => (Self::plain_ring()?, None),
        };
        // Without a table (before Linux 5.19) every operation names its descriptor. The
        // kernel refuses a table larger than the open-file limit (RLIMIT_NOFILE), which
        // gatewayd raises at start; a test or tool under a low limit gets a smaller one.
        let want = FIXED_FILES.min(open_file_limit());
        let slots = if want > 0 && ring.submitter().register_files_sparse(want).is_ok() {
            want
        } else {
            tracing::info!(
                slots = want,
                "io_uring: no fixed file table; sockets by descriptor"
            );
            0
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
        Ok(Uring {
            ring,
            sends,
            owners: vec![0; SEND_SLOTS].into_boxed_slice(),
            queued: 0,
            early: Vec::with_capacity(SEND_SLOTS),
            recvs,
            armed,
            files: FixedFiles {
                slots,
                fds: Vec::new(),
            },
            stranded: 0,
            #[cfg(test)]
            fail_enters: 0,
        })
    }

    fn plain_ring() -> io::Result<IoUring> {
        let entries = (SEND_SLOTS + RECV_SLOTS) as u32;
        match IoUring::builder().setup_coop_taskrun().build(entries) {
            Ok(r) => Ok(r),
            Err(_) => IoUring::new(entries),
        }
    }

    fn set_up_armed(ring: &IoUring, buffers: u16) -> io::Result<Box<Armed>> {
        let bufs = BufRing::new(buffers)?;
        let count = bufs.count as usize;
        // SAFETY: the ring mapping holds `bufs.count` entries and lives in `Armed`, which
        // the `Uring` drops after the ring (field order) and after cancelling receives.
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                bufs.ring.ptr as u64,
                bufs.count,
                BGID,
                0,
            )?;
        }
        // SAFETY: all-zero is a valid msghdr.
        let mut hdr: Box<libc::msghdr> = Box::new(unsafe { zeroed() });
        hdr.msg_namelen = NAME_LEN as libc::socklen_t;
        hdr.msg_controllen = CMSG_SPACE as _;
        Ok(Box::new(Armed {
            bufs,
            hdr,
            sockets: Vec::new(),
            kept: Vec::with_capacity(count * 2),
            ended: Vec::new(),
            generation: 0,
            control: None,
            control_armed: false,
            control_fired: false,
            enabled: false,
        }))
    }

    /// Receives are armed in the ring (no `epoll_wait`; see the module comment).
    pub fn is_armed(&self) -> bool {
        self.armed.is_some()
    }

    /// A disabled (single-issuer) ring is enabled by the first thread that enters it.
    fn enable(&mut self) -> io::Result<()> {
        if let Some(a) = self.armed.as_mut() {
            if !a.enabled {
                self.ring.submitter().register_enable_rings()?;
                a.enabled = true;
            }
        }
        Ok(())
    }

    /// `io_uring_enter`: submit what is queued, run the ring's deferred work (armed
    /// receives), wait for `want` completions at most `timeout`.
    fn enter(&mut self, want: usize, timeout: Option<std::time::Duration>) -> io::Result<()> {
        #[cfg(test)]
        if self.fail_enters > 0 {
            self.fail_enters -= 1;
            return Err(io::Error::from_raw_os_error(libc::EAGAIN));
        }
        self.enable()?;
        let r = match timeout {
            Some(t) => {
                let ts = types::Timespec::new()
                    .sec(t.as_secs())
                    .nsec(t.subsec_nanos());
                let args = types::SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(want, &args)
            }
            None => {
                let n = self.ring.submission().len() as u32;
                // SAFETY: no extra argument; GETEVENTS runs deferred task work even when
                // nothing is waited for.
                unsafe {
                    self.ring.submitter().enter::<libc::sigset_t>(
                        n,
                        want as u32,
                        IORING_ENTER_GETEVENTS,
                        None,
                    )
                }
            }
        };
        match r {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ETIME) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Push an entry, submitting what is queued when the submission queue is full.
    fn push(&mut self, entry: &squeue::Entry) -> io::Result<()> {
        // SAFETY (both pushes): every entry built here points into memory owned by
        // `self` that outlives its completion (see the type's comment).
        if unsafe { self.ring.submission().push(entry) }.is_ok() {
            return Ok(());
        }
        self.enter(0, None)?;
        self.collect();
        unsafe { self.ring.submission().push(entry) }
            .map_err(|_| io::Error::other("io_uring submission queue full"))
    }

    /// Move every completion out of the ring: send results to `early`, the rest to the
    /// armed receives' `kept` list. While entries are stranded, send and one-shot
    /// receive results are theirs (no other is submitted then) and count them down.
    fn collect(&mut self) {
        let Uring {
            ring,
            early,
            armed,
            stranded,
            ..
        } = self;
        for cqe in ring.completion() {
            let data = cqe.user_data();
            match kind_of(data) {
                // (A receive link's closing no-op has no owner and was not counted.)
                KIND_SEND | KIND_READ if *stranded > 0 && owner_of(data) != u32::MAX => {
                    *stranded -= 1;
                }
                KIND_SEND | KIND_READ if *stranded > 0 => {}
                KIND_SEND => early.push((owner_of(data), cqe.result())),
                KIND_RECV | KIND_CONTROL => {
                    if let Some(a) = armed.as_mut() {
                        a.kept.push(Kept {
                            data,
                            res: cqe.result(),
                            flags: cqe.flags(),
                        });
                    }
                }
                _ => {}
            }
        }
    }

    /// Sends queued and not yet submitted.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Entries were given up while the kernel may still run them (see the field): until
    /// they have completed ([`Uring::settle`]), sends are not queued ([`Uring::push_send`]
    /// says no) and sockets are read with plain system calls by the caller.
    pub fn stranded(&self) -> bool {
        self.stranded > 0
    }

    /// Take the completions of stranded entries that have come; the ring is used again
    /// once all have.
    pub fn settle(&mut self) {
        if self.stranded == 0 {
            return;
        }
        if let Err(e) = self.enter(0, None) {
            tracing::debug!(error = %e, "io_uring_enter (stranded entries)");
        }
        self.collect();
        if self.stranded == 0 {
            tracing::info!("io_uring: the entries given up have completed; the ring is used again");
        }
    }

    fn strand(&mut self, entries: usize) {
        if entries > 0 {
            tracing::warn!(
                entries,
                "io_uring: entries given up while the kernel may still run them; plain system calls until they complete"
            );
        }
        self.stranded += entries;
    }

    /// Tests: make the next `n` entries into the kernel fail.
    #[cfg(test)]
    pub(crate) fn fail_next_enters(&mut self, n: u32) {
        self.fail_enters = n;
    }

    /// Queue one datagram for `fd` (`to`: its address, `None` on a connected socket);
    /// `owner` comes back with its result. `false` when every slot is taken: call
    /// [`Uring::submit_sends`] first.
    pub fn push_send(&mut self, fd: RawFd, pkt: &[u8], to: Option<&RawAddr>, owner: u32) -> bool {
        if self.queued == SEND_SLOTS || pkt.len() > MAX_DATAGRAM || self.stranded > 0 {
            return false;
        }
        let fixed = self.files.slot(fd, owner);
        let i = self.queued;
        let s = &mut self.sends[i];
        s.buf[..pkt.len()].copy_from_slice(pkt);
        self.owners[i] = owner;
        let entry = match (to, fixed) {
            (Some(a), _) => {
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
                match fixed {
                    Some(slot) => opcode::SendMsg::new(types::Fixed(slot), &s.hdr),
                    None => opcode::SendMsg::new(types::Fd(fd), &s.hdr),
                }
                .flags(libc::MSG_DONTWAIT as u32)
                .build()
            }
            (None, Some(slot)) => {
                opcode::Send::new(types::Fixed(slot), s.buf.as_ptr(), pkt.len() as u32)
                    .flags(libc::MSG_DONTWAIT)
                    .build()
            }
            (None, None) => opcode::Send::new(types::Fd(fd), s.buf.as_ptr(), pkt.len() as u32)
                .flags(libc::MSG_DONTWAIT)
                .build(),
        };
        let entry = entry.user_data(tag(KIND_SEND, i as u32, owner));
        // SAFETY: the entry points into slot `i`, which stays untouched until the entry
        // has completed (`submit_sends` waits for all of them before slots are reused).
        if unsafe { self.ring.submission().push(&entry) }.is_err() {
            return false;
        }
        self.queued += 1;
        true
    }

    /// Submit the queued sends in one `io_uring_enter` and wait for them;
    /// `done(owner, result)` for each (`Ok(false)`: the socket buffer was full). With
    /// armed receives the same call takes the datagrams that arrived: they are kept for
    /// [`Uring::receive_armed`].
    pub fn submit_sends(&mut self, mut done: impl FnMut(u32, io::Result<bool>)) {
        self.settle();
        if self.queued == 0 && self.early.is_empty() {
            return;
        }
        let want = self.queued;
        let mut got = 0;
        for (owner, r) in self.early.drain(..) {
            got += 1;
            done(owner, result_of(r));
        }
        let mut rounds = 0;
        while got < want {
            rounds += 1;
            if let Err(e) = self.enter(want - got, None) {
                tracing::warn!(error = %e, "io_uring_enter (sends)");
            }
            let before = got;
            self.collect();
            for (owner, r) in self.early.drain(..) {
                got += 1;
                done(owner, result_of(r));
            }
            if got == before && rounds > 2 {
                // Nothing completed and the enter failed: give the results up as errors
                // rather than spin. The entries may still be submitted or running: they
                // are stranded, and no slot is used again until they have completed.
                let left = want - got;
                self.strand(left);
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

    /// Arm a multishot receive on `fd` for `owner` (armed receiving only): the socket
    /// takes a slot of the fixed file table, and its datagrams come back from
    /// [`Uring::receive_armed`].
    pub fn arm(&mut self, fd: RawFd, owner: u32) -> io::Result<()> {
        let Some(a) = self.armed.as_mut() else {
            return Err(io::Error::other("io_uring: receives are not armed"));
        };
        let i = owner as usize;
        if a.sockets.len() <= i {
            a.sockets.resize(
                i + 1,
                ArmedSocket {
                    fd: -1,
                    generation: 0,
                    state: Arm::Off,
                },
            );
        }
        a.generation = a.generation.wrapping_add(1) & GEN_MASK as u32;
        let generation = a.generation;
        a.sockets[i] = ArmedSocket {
            fd,
            generation,
            state: Arm::Armed,
        };
        self.register(fd, owner);
        self.push_recv(owner)?;
        // Submitted now, so that a datagram already queued is taken on the next look.
        self.enter(0, None)?;
        self.collect();
        Ok(())
    }

    fn push_recv(&mut self, owner: u32) -> io::Result<()> {
        let Some(a) = self.armed.as_ref() else {
            return Ok(());
        };
        let Some(s) = a.sockets.get(owner as usize).copied() else {
            return Ok(());
        };
        let hdr: *const libc::msghdr = &*a.hdr;
        let entry = match self.files.slot(s.fd, owner) {
            Some(slot) => opcode::RecvMsgMulti::new(types::Fixed(slot), hdr, BGID),
            None => opcode::RecvMsgMulti::new(types::Fd(s.fd), hdr, BGID),
        }
        .build()
        .user_data(tag(KIND_RECV, s.generation, owner));
        self.push(&entry)
    }

    /// Put `owner`'s socket in the fixed file table (slot `owner`), so that its sends and
    /// receives skip the descriptor lookup; returns whether it is there. Without a table,
    /// or past its [`FIXED_FILES`] slots, the socket is used by descriptor. It stays open
    /// in the kernel until [`Uring::release`].
    pub fn register(&mut self, fd: RawFd, owner: u32) -> bool {
        if self.files.slot(fd, owner).is_some() {
            return true;
        }
        // A stranded entry naming this slot would otherwise go out on the new socket.
        if owner >= self.files.slots || fd < 0 || self.stranded > 0 {
            return false;
        }
        // A socket still registered at the slot (not released) is replaced.
        if self
            .ring
            .submitter()
            .register_files_update(owner, &[fd])
            .is_err()
        {
            return false;
        }
        let i = owner as usize;
        if self.files.fds.len() <= i {
            self.files.fds.resize(i + 1, -1);
        }
        self.files.fds[i] = fd;
        true
    }

    /// Done with `owner`'s socket: queued sends are submitted first (`done` for each:
    /// they may name its slot), an armed receive is cancelled and its end awaited
    /// (datagrams it had received and not yet handed on are dropped), and the socket
    /// leaves the fixed file table. The kernel holds no reference to it afterwards,
    /// except for stranded entries ([`Uring::stranded`]): one of those may still go out
    /// later by the descriptor or slot it names, which another socket may hold by then.
    /// It carries the old call's packet to the old call's far end (its slot is not
    /// reused while stranded), never a packet of the new call.
    pub fn release(&mut self, owner: u32, done: impl FnMut(u32, io::Result<bool>)) {
        self.submit_sends(done);
        self.disarm(owner);
        let i = owner as usize;
        if self.files.fds.get(i).is_some_and(|&fd| fd >= 0) {
            if let Err(e) = self.ring.submitter().register_files_update(owner, &[-1]) {
                tracing::warn!(owner, error = %e, "io_uring: fixed file slot not cleared");
            }
            self.files.fds[i] = -1;
        }
    }

    /// Cancel `owner`'s armed receive and wait for its end (armed receiving only).
    fn disarm(&mut self, owner: u32) {
        let Some(a) = self.armed.as_mut() else {
            return;
        };
        let Some(s) = a.sockets.get(owner as usize).copied() else {
            return;
        };
        if s.state == Arm::Off {
            return;
        }
        a.sockets[owner as usize].state = Arm::Off;
        if s.state == Arm::Armed {
            let target = tag(KIND_RECV, s.generation, owner);
            let cancel =
                opcode::AsyncCancel::new(target)
                    .build()
                    .user_data(tag(KIND_CANCEL, 0, owner));
            if self.push(&cancel).is_ok() {
                // Wait for the receive's last completion (no "more" flag).
                for _ in 0..100 {
                    if let Err(e) = self.enter(1, Some(std::time::Duration::from_millis(10))) {
                        tracing::warn!(error = %e, "io_uring_enter (cancel)");
                        break;
                    }
                    self.collect();
                    let ended = self.armed.as_ref().is_some_and(|a| {
                        a.kept
                            .iter()
                            .any(|k| k.data == target && !cqueue::more(k.flags))
                    });
                    if ended {
                        break;
                    }
                }
            }
        }
    }

    /// Watch the control eventfd with a multishot poll in the ring (armed receiving).
    pub fn arm_control(&mut self, fd: RawFd) -> io::Result<()> {
        let Some(a) = self.armed.as_mut() else {
            return Err(io::Error::other("io_uring: receives are not armed"));
        };
        a.control = Some(fd);
        a.control_armed = true;
        let entry = opcode::PollAdd::new(types::Fd(fd), libc::POLLIN as u32)
            .multi(true)
            .build()
            .user_data(tag(KIND_CONTROL, 0, 0));
        self.push(&entry)
    }

    /// Sleep in `io_uring_enter` until a datagram or the control eventfd completes
    /// something, at most `timeout` (armed receiving).
    pub fn wait(&mut self, timeout: std::time::Duration) -> io::Result<()> {
        if self.armed.as_ref().is_some_and(|a| !a.kept.is_empty()) {
            return Ok(());
        }
        if self.ring.completion().is_empty() {
            self.enter(1, Some(timeout))?;
        }
        self.collect();
        Ok(())
    }

    /// Hand on the datagrams the armed receives took (`got(owner,
    /// Incoming::Datagram(..))` each, and before it, [`RECV_AHEAD`] datagrams earlier,
    /// the owner's prefetch stages), looking first (`enter`: one `io_uring_enter` that
    /// also runs the ring's deferred work); then arm again the sockets whose receive
    /// ended. Returns the datagrams and whether the control eventfd fired.
    pub fn receive_armed(
        &mut self,
        enter: bool,
        mut got: impl FnMut(u32, Incoming<'_>),
    ) -> (usize, bool) {
        if self.armed.is_none() {
            return (0, false);
        }
        if enter {
            if let Err(e) = self.enter(0, None) {
                tracing::warn!(error = %e, "io_uring_enter (receives)");
            }
        }
        self.collect();
        let Some(a) = self.armed.as_mut() else {
            return (0, false);
        };
        let mut total = 0;
        let mut kept = std::mem::take(&mut a.kept);
        for (j, &k) in kept.iter().enumerate() {
            for (stage, distance) in RECV_AHEAD {
                // The first datagrams get the stages they are already past, at once.
                let from = if j == 0 { 0 } else { distance };
                let to = (j + distance + 1).min(kept.len());
                for next in kept.get(j + from..to).into_iter().flatten() {
                    if kind_of(next.data) == KIND_RECV {
                        got(owner_of(next.data), Incoming::Ahead(stage));
                    }
                }
            }
            let more = cqueue::more(k.flags);
            if kind_of(k.data) == KIND_CONTROL {
                a.control_fired = true;
                if !more {
                    a.control_armed = false;
                }
                continue;
            }
            let owner = owner_of(k.data);
            let current = a
                .sockets
                .get(owner as usize)
                .is_some_and(|s| s.state == Arm::Armed && s.generation == gen_of(k.data));
            if let Some(bid) = cqueue::buffer_select(k.flags) {
                if current && k.res > 0 {
                    if let Some(d) = parse(a.bufs.buf(bid)) {
                        total += 1;
                        got(owner, Incoming::Datagram(d));
                    }
                }
                a.bufs.put(bid);
            }
            if !more && current {
                if k.res < 0 && k.res != -libc::ENOBUFS {
                    tracing::debug!(owner, error = k.res, "armed RTP receive ended");
                }
                a.sockets[owner as usize].state = Arm::Ended;
                a.ended.push(owner);
            }
        }
        kept.clear();
        a.kept = kept;
        a.bufs.publish();
        let control_fired = std::mem::take(&mut a.control_fired);
        let rearm_control = !a.control_armed;
        let control = a.control;
        let mut ended = std::mem::take(&mut a.ended);
        let mut pushed = false;
        for &owner in &ended {
            let Some(a) = self.armed.as_mut() else { break };
            if a.sockets[owner as usize].state != Arm::Ended {
                continue;
            }
            a.sockets[owner as usize].state = Arm::Armed;
            if self.push_recv(owner).is_err() {
                if let Some(a) = self.armed.as_mut() {
                    a.sockets[owner as usize].state = Arm::Ended;
                    a.ended.push(owner);
                }
            } else {
                pushed = true;
            }
        }
        ended.clear();
        if let Some(a) = self.armed.as_mut() {
            if a.ended.is_empty() {
                a.ended = ended;
            }
        }
        if rearm_control {
            if let Some(fd) = control {
                pushed |= self.arm_control(fd).is_ok();
            }
        }
        if pushed {
            if let Err(e) = self.enter(0, None) {
                tracing::warn!(error = %e, "io_uring_enter (arming)");
            }
        }
        (total, control_fired)
    }

    /// Read the sockets of `fds` (`(fd, owner)`), in submissions of up to [`RECV_SLOTS`]
    /// receives that also carry the queued sends (`done(owner, result)` for each, as
    /// [`Uring::submit_sends`]); `got(owner, datagram)` for each datagram read, in the
    /// order they were queued on each socket. Returns how many were read.
    ///
    /// One receive per socket first. `drain: false` stops there (receiving by readiness:
    /// a socket with more stays readable for the next `epoll_wait`). `drain: true`
    /// (receiving at the channel's tick: nothing else would come back for what is left):
    /// a socket whose datagram `got` answers `true` for (it may have more behind it) is
    /// then read until it is empty: two receives per socket, the second linked to the
    /// first so that an empty socket costs one, again while both bring a datagram, up to
    /// [`DRAIN_ROUNDS`] times. The caller tells: in steady state a socket holds the one
    /// datagram of its channel's packet interval, and a second receive would only come
    /// back empty (`EAGAIN`), which was a quarter of the media thread's receive work.
    pub fn recv_each(
        &mut self,
        fds: &[(RawFd, u32)],
        drain: bool,
        mut got: impl FnMut(u32, Datagram<'_>) -> bool,
        mut done: impl FnMut(u32, io::Result<bool>),
    ) -> usize {
        let mut total = 0;
        for chunk in fds.chunks(RECV_SLOTS) {
            let (read, more) = self.recv_round(chunk, 1, &mut got, &mut done);
            total += read;
            if !drain {
                continue;
            }
            // Sockets that may hold more (a burst, short packets, a backlog) are drained.
            let mut full = more;
            let mut rounds = 0;
            while !full.is_empty() && rounds < DRAIN_ROUNDS {
                let mut again = Vec::new();
                for part in full.chunks(RECV_SLOTS / 2) {
                    let (read, more) = self.recv_round(part, 2, &mut got, &mut done);
                    total += read;
                    again.extend(more);
                }
                full = again;
                rounds += 1;
            }
        }
        // Sends queued while nothing was to be read still go.
        if fds.is_empty() {
            self.submit_sends(done);
        }
        total
    }

    /// One submission: `per_socket` receives for each socket of `round` (linked) and the
    /// queued sends. Returns the datagrams read and the sockets that may have more: with
    /// one receive, those whose datagram `got` answered `true` for; with two, those whose
    /// both brought one.
    fn recv_round(
        &mut self,
        round: &[(RawFd, u32)],
        per_socket: usize,
        got: &mut impl FnMut(u32, Datagram<'_>) -> bool,
        done: &mut impl FnMut(u32, io::Result<bool>),
    ) -> (usize, Vec<(RawFd, u32)>) {
        let mut pushed = 0;
        'sockets: for &(fd, owner) in round {
            for k in 0..per_socket {
                let i = pushed;
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
                let mut entry = match self.files.slot(fd, owner) {
                    Some(slot) => opcode::RecvMsg::new(types::Fixed(slot), &mut s.hdr),
                    None => opcode::RecvMsg::new(types::Fd(fd), &mut s.hdr),
                }
                .flags(libc::MSG_DONTWAIT as u32)
                .build()
                .user_data(tag(KIND_READ, 0, i as u32));
                if k + 1 < per_socket {
                    // The next receive of this socket runs only if this one brought a
                    // datagram (an empty socket fails it with EAGAIN, which cancels the
                    // rest of the link).
                    entry = entry.flags(squeue::Flags::IO_LINK);
                }
                // SAFETY: the entry points into slot `i`, untouched until it completes
                // (below, before the slots are used again).
                if unsafe { self.ring.submission().push(&entry) }.is_err() {
                    tracing::warn!("io_uring submission queue full (receives)");
                    if k > 0 {
                        // A link left open would take the next entry in: end it here
                        // with a no-op.
                        let nop = opcode::Nop::new()
                            .build()
                            .user_data(tag(KIND_READ, 0, u32::MAX));
                        // SAFETY: a no-op refers to no memory.
                        let _ = unsafe { self.ring.submission().push(&nop) };
                    }
                    break 'sockets;
                }
                pushed += 1;
            }
        }
        let sends = self.queued;
        let want = pushed + sends;
        let (mut completed, mut sends_done) = (0, 0);
        for (owner, r) in self.early.drain(..) {
            // Queued sends that came back ahead (counted in `sends`).
            completed += 1;
            sends_done += 1;
            done(owner, result_of(r));
        }
        let mut rounds = 0;
        while completed < want {
            rounds += 1;
            if let Err(e) = self.enter(want - completed, None) {
                tracing::warn!(error = %e, "io_uring_enter (receives)");
            }
            let before = completed;
            for cqe in self.ring.completion() {
                let data = cqe.user_data();
                match kind_of(data) {
                    KIND_SEND => {
                        completed += 1;
                        sends_done += 1;
                        done(owner_of(data), result_of(cqe.result()));
                    }
                    KIND_READ => {
                        let i = owner_of(data) as usize;
                        if i == u32::MAX as usize {
                            continue;
                        }
                        completed += 1;
                        let r = cqe.result();
                        if r > 0 {
                            if let Some(s) = self.recvs.get_mut(i) {
                                s.len = (r as usize).min(MAX_DATAGRAM);
                            }
                        }
                    }
                    _ => {}
                }
            }
            if completed == before && rounds > 2 {
                // Not completed: the slots must not be read (nor reused) while the kernel
                // may still write them. Sends are given up as errors (see
                // `submit_sends`).
                tracing::warn!("io_uring: receives not completed");
                self.strand(want - completed);
                for _ in sends_done..sends {
                    done(
                        u32::MAX,
                        Err(io::Error::other("io_uring: send not completed")),
                    );
                }
                self.queued = 0;
                return (0, Vec::new());
            }
        }
        self.queued = 0;
        let mut read = 0;
        let mut full = Vec::new();
        for (n, pair) in self.recvs[..pushed].chunks(per_socket).enumerate() {
            let mut more = false;
            for s in pair.iter().filter(|s| s.len > 0) {
                read += 1;
                more = got(
                    s.owner,
                    Datagram {
                        data: &s.buf[..s.len],
                        from: RawAddr::to_socket_addr(&s.addr),
                        arrival_ns: timestamp_of(&s.hdr),
                    },
                );
            }
            let again = if per_socket == 1 {
                more
            } else {
                pair.iter().all(|s| s.len > 0)
            };
            if again {
                if let Some(&socket) = round.get(n) {
                    full.push(socket);
                }
            }
        }
        (read, full)
    }
}

impl Drop for Uring {
    /// Armed receives are cancelled before the provided buffers go (the ring itself
    /// goes first: field order).
    fn drop(&mut self) {
        let Some(a) = self.armed.as_ref() else {
            return;
        };
        if !a.enabled {
            return;
        }
        let owners: Vec<u32> = a
            .sockets
            .iter()
            .enumerate()
            .filter(|(_, s)| s.state != Arm::Off)
            .map(|(i, _)| i as u32)
            .collect();
        for owner in owners {
            self.disarm(owner);
        }
    }
}

/// A datagram in a provided buffer: `io_uring_recvmsg_out`, then the source address
/// and the control messages in fields of the lengths the request's header gave
/// ([`NAME_LEN`], [`CMSG_SPACE`]), then the payload (io_uring_prep_recvmsg_multishot(3)).
fn parse(buf: &[u8]) -> Option<Datagram<'_>> {
    let word = |i: usize| -> Option<usize> {
        let b = buf.get(i * 4..i * 4 + 4)?;
        Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let (namelen, controllen, payloadlen) = (word(0)?, word(1)?, word(2)?);
    let name = buf.get(RECVMSG_OUT..RECVMSG_OUT + namelen.min(NAME_LEN))?;
    let ctl_at = RECVMSG_OUT + NAME_LEN;
    let ctl = buf.get(ctl_at..ctl_at + controllen.min(CMSG_SPACE))?;
    let at = ctl_at + CMSG_SPACE;
    let data = buf.get(at..at + payloadlen.min(MAX_DATAGRAM).min(buf.len() - at))?;
    // SAFETY: all-zero is a valid sockaddr_storage; at most NAME_LEN bytes copied in.
    let mut addr: libc::sockaddr_storage = unsafe { zeroed() };
    // SAFETY: sockaddr_storage is larger than NAME_LEN bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(name.as_ptr(), &mut addr as *mut _ as *mut u8, name.len());
    }
    // The control messages, copied to an aligned place for the CMSG walk.
    let mut cmsg = [0u64; CMSG_SPACE / 8];
    // SAFETY: `cmsg` holds CMSG_SPACE bytes, `ctl` at most that many.
    unsafe {
        std::ptr::copy_nonoverlapping(ctl.as_ptr(), cmsg.as_mut_ptr() as *mut u8, ctl.len());
    }
    // SAFETY: all-zero is a valid msghdr; it points at `cmsg` for the walk only.
    let mut m: libc::msghdr = unsafe { zeroed() };
    m.msg_control = cmsg.as_mut_ptr() as *mut libc::c_void;
    m.msg_controllen = ctl.len() as _;
    Some(Datagram {
        data,
        from: RawAddr::to_socket_addr(&addr),
        arrival_ns: timestamp_of(&m),
    })
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
