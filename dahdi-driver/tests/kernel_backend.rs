//! The real `/dev/dahdi` backend, exercised without a kernel module.
//!
//! This test binary defines the libc symbols the backend calls (`open64`, `ioctl`,
//! `read`, `write`, `close`): the executable's definitions win over libc's, so the
//! unchanged production code talks to a small DAHDI model written here, after the
//! semantics of `dahdi-base.c` (two E1 spans wired to each other like a cable, channel
//! signalling, `SPECIFY`/`EBUSY`/`ENXIO`, HDLC frames with 2 FCS octets, `ELAST`, the
//! timer). File descriptors the model does not own go to libc's functions
//! (`dlsym(RTLD_NEXT)`). Every call on a model fd is logged, so the ioctl sequence of
//! `open_channel` is checked request by request. Then the whole conformance suite runs
//! on `KernelDevice`, span 1 against span 2.
//!
//! The model is deliberately small (whole frames, no bit-level HDLC); tdm-sim behind an
//! `LD_PRELOAD` library is the full-size version of this (issue 8).

use std::collections::{HashMap, VecDeque};
use std::ffi::{c_char, c_int, c_ulong, c_void, CStr};
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use dahdi_driver::abi::{self, *};
use dahdi_driver::conformance::{self, Limits, Link};
use dahdi_driver::kernel::KernelDevice;
use dahdi_driver::{
    ChanError, ChannelId, ChannelMode, Device, DeviceError, Event, Law, SpanConfig, SpanId,
    Timeslot,
};

const ROOT: &str = "/fake-dahdi-for-tests";
const CHANS_PER_SPAN: usize = 31;
const SPANS: usize = 2;
const DELAY_CHUNKS: usize = 2;

// ------------------------------------------------------------------------------------
// The model.

#[derive(Debug, Default)]
struct Span {
    lineconfig: i32,
    lbo: i32,
    sync: i32,
    running: bool,
    alarms: u32,
}

#[derive(Debug)]
struct Chan {
    sig: SigType,
    open_by: Option<RawFd>,
    hdlc: bool,
    fcs: bool,
    law: i32,
    blocksize: usize,
    numbufs: usize,
    tx: VecDeque<u8>,
    rx: VecDeque<u8>,
    tx_frames: VecDeque<Vec<u8>>,
    rx_frames: VecDeque<Vec<u8>>,
    events: VecDeque<i32>,
}

impl Chan {
    fn new() -> Self {
        Chan {
            sig: SigType::NONE,
            open_by: None,
            hdlc: false,
            fcs: false,
            law: DAHDI_LAW_ALAW,
            blocksize: DAHDI_DEFAULT_BLOCKSIZE,
            numbufs: DAHDI_DEFAULT_NUM_BUFS,
            tx: VecDeque::new(),
            rx: VecDeque::new(),
            tx_frames: VecDeque::new(),
            rx_frames: VecDeque::new(),
            events: VecDeque::new(),
        }
    }
    fn readable(&self) -> bool {
        if self.hdlc {
            !self.rx_frames.is_empty()
        } else {
            self.rx.len() >= self.blocksize
        }
    }
}

#[derive(Debug)]
enum Node {
    Ctl,
    /// `/dev/dahdi/channel`, bound to a channel number by `SPECIFY`.
    Channel(Option<usize>),
    Timer {
        samples: i32,
        pos: i32,
        tripped: u64,
    },
}

struct Fd {
    node: Node,
    nonblock: bool,
    /// Keeps the caller's fd pollable: one in-band byte for POLLIN, one out-of-band
    /// byte for POLLPRI.
    writer: UnixStream,
    state: (bool, bool),
}

#[derive(Default)]
struct Model {
    spans: Vec<Span>,
    chans: Vec<Chan>,
    fds: HashMap<RawFd, Fd>,
    lines: Vec<VecDeque<u8>>,
    frame_lines: Vec<VecDeque<(u64, Vec<u8>)>>,
    now: u64,
    log: Vec<(RawFd, String)>,
}

static MODEL: Mutex<Option<Model>> = Mutex::new(None);
/// Fast path for the interposed calls: is this fd the model's? (No lock, so that the
/// test harness's own writes never wait on the model.)
static OWNED: [AtomicBool; 4096] = [const { AtomicBool::new(false) }; 4096];

fn owned(fd: c_int) -> bool {
    usize::try_from(fd).is_ok_and(|i| i < OWNED.len() && OWNED[i].load(Ordering::SeqCst))
}

fn model() -> MutexGuard<'static, Option<Model>> {
    MODEL.lock().unwrap_or_else(|p| p.into_inner())
}

impl Model {
    fn new() -> Model {
        Model {
            spans: (0..SPANS)
                .map(|_| Span {
                    alarms: DAHDI_ALARM_NOTOPEN,
                    ..Span::default()
                })
                .collect(),
            chans: (0..SPANS * CHANS_PER_SPAN).map(|_| Chan::new()).collect(),
            lines: (0..SPANS * CHANS_PER_SPAN)
                .map(|_| VecDeque::from(vec![0xD5; 8 * DELAY_CHUNKS]))
                .collect(),
            frame_lines: (0..SPANS * CHANS_PER_SPAN)
                .map(|_| VecDeque::new())
                .collect(),
            ..Model::default()
        }
    }

    fn span_of(chan: usize) -> usize {
        chan / CHANS_PER_SPAN
    }
    /// The channel at the other end of the cable (span 1 ↔ span 2, same position).
    fn peer(chan: usize) -> usize {
        (chan + CHANS_PER_SPAN) % (SPANS * CHANS_PER_SPAN)
    }

    fn tick(&mut self) {
        self.now += 1;
        for c in 0..self.chans.len() {
            let (span, peer) = (Self::span_of(c), Self::peer(c));
            let up = self.spans[span].running;
            let peer_up = self.spans[Self::span_of(peer)].running;
            // Clear channels: 8 samples per chunk through a fixed delay line.
            let mut chunk = [0xD5u8; 8];
            let ch = &mut self.chans[c];
            if up && ch.open_by.is_some() && !ch.hdlc {
                for b in chunk.iter_mut() {
                    match ch.tx.pop_front() {
                        Some(x) => *b = x,
                        None => break,
                    }
                }
            }
            self.lines[c].extend(chunk);
            let out: Vec<u8> = self.lines[c].drain(..8).collect();
            let p = &mut self.chans[peer];
            if up && peer_up && p.open_by.is_some() && !p.hdlc {
                p.rx.extend(out);
                let cap = p.blocksize * p.numbufs;
                while p.rx.len() > cap {
                    p.rx.pop_front();
                }
            }
            // HDLC: one frame per chunk leaves, arriving DELAY_CHUNKS later.
            let ch = &mut self.chans[c];
            if up && ch.open_by.is_some() && ch.hdlc {
                if let Some(f) = ch.tx_frames.pop_front() {
                    self.frame_lines[c].push_back((self.now + DELAY_CHUNKS as u64, f));
                }
            }
            while self.frame_lines[c]
                .front()
                .is_some_and(|(due, _)| *due <= self.now)
            {
                let (_, f) = self.frame_lines[c].pop_front().unwrap();
                let p = &mut self.chans[peer];
                if up && peer_up && p.open_by.is_some() && p.hdlc {
                    p.rx_frames.push_back(f);
                }
            }
        }
        // Alarms: a running span whose far end is down sees loss of signal.
        for s in 0..SPANS {
            let peer_up = self.spans[(s + 1) % SPANS].running;
            let new = match (self.spans[s].running, peer_up) {
                (false, _) => DAHDI_ALARM_NOTOPEN,
                (true, false) => DAHDI_ALARM_RED | DAHDI_ALARM_LOS,
                (true, true) => DAHDI_ALARM_NONE,
            };
            let old = self.spans[s].alarms;
            if (old == 0) != (new == 0) {
                let ev = if new == 0 {
                    DAHDI_EVENT_NOALARM
                } else {
                    DAHDI_EVENT_ALARM
                };
                for c in s * CHANS_PER_SPAN..(s + 1) * CHANS_PER_SPAN {
                    if self.chans[c].open_by.is_some() {
                        self.chans[c].events.push_back(ev);
                    }
                }
            }
            self.spans[s].alarms = new;
        }
        for fd in self.fds.values_mut() {
            if let Node::Timer {
                samples,
                pos,
                tripped,
            } = &mut fd.node
            {
                if *samples > 0 {
                    *pos -= 8;
                    if *pos <= 0 {
                        *tripped += 1;
                        *pos = *samples;
                    }
                }
            }
        }
        self.sync_all();
    }

    fn sync_all(&mut self) {
        let fds: Vec<RawFd> = self.fds.keys().copied().collect();
        for fd in fds {
            let (r, p) = match &self.fds[&fd].node {
                Node::Ctl | Node::Channel(None) => (false, false),
                Node::Channel(Some(c)) => {
                    let ch = &self.chans[*c];
                    let ev = !ch.events.is_empty();
                    (ch.readable() || ev, ev)
                }
                Node::Timer { tripped, .. } => (*tripped > 0, *tripped > 0),
            };
            sync_signal(fd, self.fds.get_mut(&fd).unwrap(), r, p);
        }
    }
}

fn sync_signal(fd: RawFd, f: &mut Fd, readable: bool, pri: bool) {
    if f.state == (readable, pri) {
        return;
    }
    let mut b = [0u8; 64];
    // SAFETY: receiving into a local buffer on a socket the model created.
    unsafe {
        if f.state.1 {
            libc::recv(
                fd,
                b.as_mut_ptr().cast(),
                1,
                libc::MSG_OOB | libc::MSG_DONTWAIT,
            );
        }
        while libc::recv(fd, b.as_mut_ptr().cast(), b.len(), libc::MSG_DONTWAIT) > 0 {}
        if readable || pri {
            libc::send(f.writer.as_raw_fd(), [1u8].as_ptr().cast(), 1, 0);
        }
        if pri {
            libc::send(
                f.writer.as_raw_fd(),
                [2u8].as_ptr().cast(),
                1,
                libc::MSG_OOB,
            );
        }
    }
    f.state = (readable, pri);
}

fn req_name(req: u32) -> String {
    abi::name_of(req).map_or_else(|| format!("0x{req:08X}"), str::to_owned)
}

/// Copies a `T` in from the caller's pointer, lets `f` change it, copies it back.
///
/// # Safety
/// `arg` must point at a valid `T` (the backend passes the request's own type).
unsafe fn with_arg<T: Copy>(arg: *mut c_void, f: impl FnOnce(&mut T) -> c_int) -> c_int {
    let mut v = std::ptr::read_unaligned(arg.cast::<T>());
    let rc = f(&mut v);
    std::ptr::write_unaligned(arg.cast::<T>(), v);
    rc
}

impl Model {
    /// Returns 0 or a negative errno, as the kernel's handlers do.
    unsafe fn ioctl(&mut self, fd: RawFd, req: u32, arg: *mut c_void) -> c_int {
        self.log.push((fd, req_name(req)));
        let node = match self.fds.get(&fd) {
            Some(f) => match &f.node {
                Node::Ctl => 0,
                Node::Channel(c) => 1 + c.map_or(0, |c| c + 1),
                Node::Timer { .. } => usize::MAX,
            },
            None => return -libc::EBADF,
        };
        let r = Request(req);
        let rc = match node {
            0 => self.ctl_ioctl(r, arg),
            usize::MAX => self.timer_ioctl(fd, r, arg),
            1 => self.unbound_ioctl(fd, r, arg),
            n => self.chan_ioctl(n - 2, r, arg),
        };
        self.sync_all();
        rc
    }

    unsafe fn ctl_ioctl(&mut self, r: Request, arg: *mut c_void) -> c_int {
        match r {
            DAHDI_SPANSTAT => with_arg(arg, |si: &mut DahdiSpaninfo| {
                let n = si.spanno;
                let Some(s) = usize::try_from(n).ok().filter(|n| (1..=SPANS).contains(n)) else {
                    return -libc::EINVAL;
                };
                let span = &self.spans[s - 1];
                *si = DahdiSpaninfo::query(SpanId(s as u16));
                string_to_c_chars(&format!("FAKE/{s}"), &mut si.name);
                string_to_c_chars("fake E1 for the backend test", &mut si.desc);
                string_to_c_chars("E1", &mut si.spantype);
                si.alarms = span.alarms as i32;
                si.lineconfig = span.lineconfig;
                si.lbo = span.lbo;
                si.totalchans = CHANS_PER_SPAN as i32;
                si.totalspans = SPANS as i32;
                si.syncsrc = if span.running && span.sync > 0 {
                    s as i32
                } else {
                    0
                };
                0
            }),
            DAHDI_SPANCONFIG => with_arg(arg, |lc: &mut DahdiLineconfig| {
                let Some(s) = usize::try_from(lc.span)
                    .ok()
                    .filter(|n| (1..=SPANS).contains(n))
                else {
                    return -libc::EINVAL;
                };
                let span = &mut self.spans[s - 1];
                span.lineconfig = lc.lineconfig;
                span.lbo = lc.lbo;
                span.sync = lc.sync;
                0
            }),
            DAHDI_STARTUP | DAHDI_SHUTDOWN => with_arg(arg, |n: &mut c_int| {
                let Some(s) = usize::try_from(*n).ok().filter(|n| (1..=SPANS).contains(n)) else {
                    return -libc::ENXIO;
                };
                self.spans[s - 1].running = r == DAHDI_STARTUP;
                0
            }),
            DAHDI_CHANCONFIG => with_arg(arg, |cc: &mut DahdiChanconfig| {
                let Some(c) = self.chan_index(cc.chan) else {
                    return -libc::EINVAL;
                };
                let ch = &mut self.chans[c];
                let sig = SigType::from_raw(cc.sigtype);
                // dahdi_ioctl_chanconfig: clear-capable channels take any clear/HDLC type.
                if !SigType::HDLCFCS.includes(sig) && sig != SigType::HARDHDLC {
                    return -libc::EINVAL;
                }
                ch.sig = sig;
                ch.hdlc = sig.includes(SigType::HDLCRAW);
                ch.fcs = sig.includes(SigType::HDLCFCS);
                if cc.deflaw != 0 {
                    ch.law = cc.deflaw;
                }
                0
            }),
            DAHDI_GET_PARAMS => with_arg(arg, |p: &mut DahdiParams| {
                let Some(c) = self.chan_index(p.channel_number()) else {
                    return -libc::EINVAL;
                };
                self.fill_params(c, p);
                0
            }),
            DAHDI_GETVERSION => with_arg(arg, |v: &mut DahdiVersioninfo| {
                string_to_c_chars("3.1.0-model", &mut v.version);
                string_to_c_chars("", &mut v.echo_canceller);
                0
            }),
            _ => -libc::ENOTTY,
        }
    }

    fn chan_index(&self, channo: i32) -> Option<usize> {
        usize::try_from(channo)
            .ok()
            .filter(|n| (1..=self.chans.len()).contains(n))
            .map(|n| n - 1)
    }

    fn fill_params(&self, c: usize, p: &mut DahdiParams) {
        let ch = &self.chans[c];
        *p = DahdiParams::query(c as i32 + 1);
        p.spanno = (Self::span_of(c) + 1) as i32;
        p.chanpos = (c % CHANS_PER_SPAN + 1) as i32;
        p.sigtype = ch.sig.raw();
        p.sigcap = SigType::HDLCFCS.raw();
        p.curlaw = ch.law;
    }

    unsafe fn unbound_ioctl(&mut self, fd: RawFd, r: Request, arg: *mut c_void) -> c_int {
        if r != DAHDI_SPECIFY {
            return -libc::EINVAL;
        }
        with_arg(arg, |n: &mut c_int| {
            let Some(c) = self.chan_index(*n) else {
                return -libc::ENXIO;
            };
            let ch = &mut self.chans[c];
            // dahdi_specchan_open: unconfigured → ENXIO, already open → EBUSY.
            if ch.sig == SigType::NONE {
                return -libc::ENXIO;
            }
            if ch.open_by.is_some() {
                return -libc::EBUSY;
            }
            ch.open_by = Some(fd);
            ch.tx.clear();
            ch.rx.clear();
            ch.tx_frames.clear();
            ch.rx_frames.clear();
            ch.events.clear();
            ch.blocksize = DAHDI_DEFAULT_BLOCKSIZE;
            ch.numbufs = DAHDI_DEFAULT_NUM_BUFS;
            self.fds.get_mut(&fd).unwrap().node = Node::Channel(Some(c));
            0
        })
    }

    unsafe fn chan_ioctl(&mut self, c: usize, r: Request, arg: *mut c_void) -> c_int {
        let ch = &mut self.chans[c];
        match r {
            DAHDI_HDLCFCSMODE | DAHDI_HDLCRAWMODE => {
                if ch.sig != SigType::CLEAR {
                    return -libc::EINVAL;
                }
                with_arg(arg, |on: &mut c_int| {
                    ch.hdlc = *on != 0;
                    ch.fcs = *on != 0 && r == DAHDI_HDLCFCSMODE;
                    0
                })
            }
            DAHDI_SETLAW => with_arg(arg, |law: &mut c_int| {
                if !(0..=2).contains(law) {
                    return -libc::EINVAL;
                }
                ch.law = *law;
                0
            }),
            DAHDI_SET_BLOCKSIZE => with_arg(arg, |n: &mut c_int| {
                if *n < 16 || *n as usize > DAHDI_MAX_BLOCKSIZE {
                    return -libc::EINVAL;
                }
                ch.blocksize = *n as usize;
                0
            }),
            DAHDI_SET_BUFINFO => with_arg(arg, |bi: &mut DahdiBufferinfo| {
                let (size, num) = (bi.bufsize as usize, bi.numbufs as usize);
                if !(16..=DAHDI_MAX_BLOCKSIZE).contains(&size) || size * num > DAHDI_MAX_BUF_SPACE {
                    return -libc::EINVAL;
                }
                ch.blocksize = size;
                ch.numbufs = num;
                0
            }),
            DAHDI_GETEVENT => with_arg(arg, |ev: &mut c_int| {
                *ev = ch.events.pop_front().unwrap_or(DAHDI_EVENT_NONE);
                0
            }),
            DAHDI_FLUSH => with_arg(arg, |how: &mut c_int| {
                let how = FlushFlags::from_bits_retain(*how as u32);
                if how.contains(FlushFlags::READ) {
                    ch.rx.clear();
                    ch.rx_frames.clear();
                }
                if how.contains(FlushFlags::WRITE) {
                    ch.tx.clear();
                    ch.tx_frames.clear();
                }
                if how.contains(FlushFlags::EVENT) {
                    ch.events.clear();
                }
                0
            }),
            _ => -libc::ENOTTY,
        }
    }

    unsafe fn timer_ioctl(&mut self, fd: RawFd, r: Request, arg: *mut c_void) -> c_int {
        let Some(Fd {
            node:
                Node::Timer {
                    samples,
                    pos,
                    tripped,
                },
            ..
        }) = self.fds.get_mut(&fd)
        else {
            return -libc::EBADF;
        };
        match r {
            DAHDI_TIMERCONFIG => with_arg(arg, |n: &mut c_int| {
                *samples = (*n).max(0);
                *pos = *samples;
                0
            }),
            DAHDI_TIMERACK => with_arg(arg, |n: &mut c_int| {
                let k = if *n < 1 || *n as u64 > *tripped {
                    *tripped
                } else {
                    *n as u64
                };
                *tripped -= k;
                0
            }),
            DAHDI_GETEVENT => with_arg(arg, |ev: &mut c_int| {
                *ev = if *tripped > 0 {
                    DAHDI_EVENT_TIMER_EXPIRED
                } else {
                    DAHDI_EVENT_NONE
                };
                0
            }),
            _ => -libc::ENOTTY,
        }
    }

    /// dahdi_chan_read / dahdi_chan_write, non-blocking.
    fn read(&mut self, fd: RawFd, buf: &mut [u8]) -> isize {
        self.log.push((fd, "read".into()));
        let Some(Fd {
            node: Node::Channel(Some(c)),
            ..
        }) = self.fds.get(&fd)
        else {
            return -libc::EINVAL as isize;
        };
        let ch = &mut self.chans[*c];
        let rc = if !ch.events.is_empty() {
            -ELAST as isize
        } else if ch.hdlc {
            match ch.rx_frames.pop_front() {
                None => -libc::EAGAIN as isize,
                Some(mut f) => {
                    f.extend([0x5A, 0xA5]); // the 2 FCS octets DAHDI leaves on
                    let n = f.len().min(buf.len());
                    buf[..n].copy_from_slice(&f[..n]);
                    n as isize
                }
            }
        } else if ch.rx.len() < ch.blocksize {
            -libc::EAGAIN as isize
        } else {
            let block: Vec<u8> = ch.rx.drain(..ch.blocksize).collect();
            let n = block.len().min(buf.len());
            buf[..n].copy_from_slice(&block[..n]);
            n as isize
        };
        self.sync_all();
        rc
    }

    fn write(&mut self, fd: RawFd, buf: &[u8]) -> isize {
        self.log.push((fd, "write".into()));
        let Some(Fd {
            node: Node::Channel(Some(c)),
            ..
        }) = self.fds.get(&fd)
        else {
            return -libc::EINVAL as isize;
        };
        let ch = &mut self.chans[*c];
        let rc = if !ch.events.is_empty() {
            -ELAST as isize
        } else if ch.hdlc {
            if ch.tx_frames.len() >= ch.numbufs {
                -libc::EAGAIN as isize
            } else {
                // DAHDI takes at most one buffer and overwrites the last 2 octets with
                // the FCS: a writer that forgot the 2 reserved octets loses frame octets.
                let n = buf.len().min(ch.blocksize);
                let frame = buf[..n.saturating_sub(2)].to_vec();
                ch.tx_frames.push_back(frame);
                n as isize
            }
        } else if ch.tx.len() >= ch.blocksize * ch.numbufs {
            -libc::EAGAIN as isize
        } else {
            let n = buf.len().min(ch.blocksize);
            ch.tx.extend(&buf[..n]);
            n as isize
        };
        self.sync_all();
        rc
    }

    fn close(&mut self, fd: RawFd) {
        if let Some(f) = self.fds.remove(&fd) {
            if let Node::Channel(Some(c)) = f.node {
                self.chans[c].open_by = None;
            }
        }
    }
}

// ------------------------------------------------------------------------------------
// The interposed libc functions.

type OpenFn = unsafe extern "C" fn(*const c_char, c_int, libc::mode_t) -> c_int;
type IoctlFn = unsafe extern "C" fn(c_int, c_ulong, *mut c_void) -> c_int;
type ReadFn = unsafe extern "C" fn(c_int, *mut c_void, usize) -> isize;
type WriteFn = unsafe extern "C" fn(c_int, *const c_void, usize) -> isize;
type CloseFn = unsafe extern "C" fn(c_int) -> c_int;

fn next<T: Copy>(name: &CStr, cell: &'static OnceLock<usize>) -> T {
    let addr = *cell.get_or_init(|| {
        // SAFETY: looking up a libc symbol by its NUL-terminated name.
        let p = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) };
        assert!(!p.is_null(), "no next {name:?}");
        p as usize
    });
    // SAFETY: `T` is the function pointer type of the symbol looked up.
    unsafe { std::mem::transmute_copy(&addr) }
}

fn set_errno(e: c_int) {
    // SAFETY: errno is thread-local.
    unsafe { *libc::__errno_location() = e };
}

fn open_model(path: &CStr, flags: c_int) -> Option<c_int> {
    let path = path.to_str().ok()?;
    let name = path.strip_prefix(ROOT)?.strip_prefix('/')?;
    let mut guard = model();
    let Some(m) = guard.as_mut() else {
        set_errno(libc::ENOENT);
        return Some(-1);
    };
    let node = match name {
        "ctl" => Node::Ctl,
        "channel" => Node::Channel(None),
        "timer" => Node::Timer {
            samples: 0,
            pos: 0,
            tripped: 0,
        },
        _ => {
            set_errno(libc::ENOENT);
            return Some(-1);
        }
    };
    let (reader, writer) = UnixStream::pair().ok()?;
    reader.set_nonblocking(true).ok()?;
    if reader.as_raw_fd() as usize >= OWNED.len() {
        set_errno(libc::EMFILE);
        return Some(-1);
    }
    let fd = reader.into_raw_fd();
    OWNED[fd as usize].store(true, Ordering::SeqCst);
    m.log.push((fd, format!("open {name}")));
    m.fds.insert(
        fd,
        Fd {
            node,
            nonblock: flags & libc::O_NONBLOCK != 0,
            writer,
            state: (false, false),
        },
    );
    Some(fd)
}

/// # Safety
/// Called as libc's `open64`.
#[no_mangle]
pub unsafe extern "C" fn open64(path: *const c_char, flags: c_int, mode: libc::mode_t) -> c_int {
    static NEXT: OnceLock<usize> = OnceLock::new();
    if !path.is_null() {
        if let Some(fd) = open_model(CStr::from_ptr(path), flags) {
            return fd;
        }
    }
    next::<OpenFn>(c"open64", &NEXT)(path, flags, mode)
}

/// # Safety
/// Called as libc's `open`.
#[no_mangle]
pub unsafe extern "C" fn open(path: *const c_char, flags: c_int, mode: libc::mode_t) -> c_int {
    static NEXT: OnceLock<usize> = OnceLock::new();
    if !path.is_null() {
        if let Some(fd) = open_model(CStr::from_ptr(path), flags) {
            return fd;
        }
    }
    next::<OpenFn>(c"open", &NEXT)(path, flags, mode)
}

/// # Safety
/// Called as libc's `ioctl` (its one variadic argument is a pointer for every DAHDI
/// request).
#[no_mangle]
pub unsafe extern "C" fn ioctl(fd: c_int, req: c_ulong, arg: *mut c_void) -> c_int {
    static NEXT: OnceLock<usize> = OnceLock::new();
    if owned(fd) {
        let rc = model()
            .as_mut()
            .map_or(-libc::EBADF, |m| m.ioctl(fd, req as u32, arg));
        if rc < 0 {
            set_errno(-rc);
            return -1;
        }
        return rc;
    }
    next::<IoctlFn>(c"ioctl", &NEXT)(fd, req, arg)
}

/// # Safety
/// Called as libc's `read`.
#[no_mangle]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, count: usize) -> isize {
    static NEXT: OnceLock<usize> = OnceLock::new();
    if owned(fd) {
        let slice = std::slice::from_raw_parts_mut(buf.cast::<u8>(), count);
        let rc = model()
            .as_mut()
            .map_or(-libc::EBADF as isize, |m| m.read(fd, slice));
        if rc < 0 {
            set_errno(-rc as c_int);
            return -1;
        }
        return rc;
    }
    next::<ReadFn>(c"read", &NEXT)(fd, buf, count)
}

/// # Safety
/// Called as libc's `write`.
#[no_mangle]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, count: usize) -> isize {
    static NEXT: OnceLock<usize> = OnceLock::new();
    if owned(fd) {
        let slice = std::slice::from_raw_parts(buf.cast::<u8>(), count);
        let rc = model()
            .as_mut()
            .map_or(-libc::EBADF as isize, |m| m.write(fd, slice));
        if rc < 0 {
            set_errno(-rc as c_int);
            return -1;
        }
        return rc;
    }
    next::<WriteFn>(c"write", &NEXT)(fd, buf, count)
}

/// # Safety
/// Called as libc's `close`.
#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    static NEXT: OnceLock<usize> = OnceLock::new();
    if owned(fd) {
        OWNED[fd as usize].store(false, Ordering::SeqCst);
        if let Some(m) = model().as_mut() {
            m.close(fd);
        }
    }
    next::<CloseFn>(c"close", &NEXT)(fd)
}

// ------------------------------------------------------------------------------------
// Tests.

static SERIAL: Mutex<()> = Mutex::new(());

/// A fresh model for one test (tests in this binary share it, so they run one by one).
fn fresh() -> MutexGuard<'static, ()> {
    let g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    *model() = Some(Model::new());
    g
}

fn advance(d: Duration) {
    let mut m = model();
    let m = m.as_mut().unwrap();
    for _ in 0..d.as_millis() {
        m.tick();
    }
}

fn take_log() -> Vec<String> {
    std::mem::take(&mut model().as_mut().unwrap().log)
        .into_iter()
        .map(|(_, s)| s)
        .collect()
}

fn ch(span: u16, ts: u8) -> ChannelId {
    ChannelId {
        span: SpanId(span),
        timeslot: Timeslot(ts),
    }
}

#[test]
fn spans_and_configuration_go_through_spanstat_spanconfig_startup() {
    let _g = fresh();
    let dev = KernelDevice::open(ROOT).unwrap();
    assert_eq!(dev.spans().unwrap(), vec![SpanId(1), SpanId(2)]);
    let st = dev.span_status(SpanId(1)).unwrap();
    assert_eq!(st.name, "FAKE/1");
    assert_eq!(st.configured, None);
    assert!(st.alarms.contains(dahdi_driver::Alarms::NOTOPEN));
    take_log();

    dev.configure_span(SpanId(1), &SpanConfig::e1_pri(1))
        .unwrap();
    assert_eq!(
        take_log(),
        ["DAHDI_SPANSTAT", "DAHDI_SPANCONFIG", "DAHDI_STARTUP"]
    );
    {
        let m = model();
        let s = &m.as_ref().unwrap().spans[0];
        assert_eq!((s.lineconfig, s.sync, s.running), (0x700, 1, true));
    }
    let st = dev.span_status(SpanId(1)).unwrap();
    assert_eq!(st.configured, Some(SpanConfig::e1_pri(1)));
    assert!(st.is_sync_source);
    // T1 line settings on an E1 span are refused before any ioctl changes it.
    assert!(matches!(
        dev.configure_span(SpanId(2), &SpanConfig::t1_pri(0)),
        Err(DeviceError::InvalidConfig(_))
    ));
    assert!(matches!(
        dev.span_status(SpanId(3)),
        Err(DeviceError::NoSuchSpan(SpanId(3)))
    ));
    dev.shutdown_span(SpanId(1)).unwrap();
    assert!(!model().as_ref().unwrap().spans[0].running);
    assert_eq!(dev.version().unwrap().0, "3.1.0-model");
}

#[test]
fn opening_a_dchannel_configures_hdlcfcs_then_specifies() {
    let _g = fresh();
    let dev = KernelDevice::open(ROOT).unwrap();
    // Learn the channel map first, so the log below is only open_channel's work.
    assert_eq!(dev.channel_number(ch(2, 16)).unwrap(), 47);
    take_log();
    let d = dev.open_channel(ch(2, 16), ChannelMode::HdlcFcs).unwrap();
    assert_eq!(
        take_log(),
        [
            "DAHDI_GET_PARAMS",
            "DAHDI_CHANCONFIG",
            "open channel",
            "DAHDI_SPECIFY",
            "DAHDI_SET_BUFINFO"
        ]
    );
    {
        let m = model();
        let m = m.as_ref().unwrap();
        let c = &m.chans[46];
        assert_eq!(c.sig, SigType::HDLCFCS);
        assert!(c.hdlc && c.fcs);
        assert_eq!((c.blocksize, c.numbufs), (1024, 16));
        let f = &m.fds[&d.raw_fd()];
        assert!(f.nonblock, "channels are opened O_NONBLOCK");
    }
    // Opened twice: EBUSY from SPECIFY is Busy.
    assert!(matches!(
        dev.open_channel(ch(2, 16), ChannelMode::HdlcFcs),
        Err(DeviceError::Busy(id)) if id == ch(2, 16)
    ));
    drop(d);
    assert!(model().as_ref().unwrap().chans[46].open_by.is_none());
}

#[test]
fn a_clear_channel_asked_for_hdlc_uses_hdlcfcsmode() {
    let _g = fresh();
    let dev = KernelDevice::open(ROOT).unwrap();
    model().as_mut().unwrap().chans[15].sig = SigType::CLEAR; // bchan=16 in system.conf
    dev.channel_number(ch(1, 16)).unwrap();
    take_log();
    let _d = dev.open_channel(ch(1, 16), ChannelMode::HdlcFcs).unwrap();
    assert_eq!(
        take_log(),
        [
            "DAHDI_GET_PARAMS",
            "open channel",
            "DAHDI_SPECIFY",
            "DAHDI_HDLCFCSMODE",
            "DAHDI_SET_BUFINFO"
        ]
    );
    let m = model();
    let c = &m.as_ref().unwrap().chans[15];
    assert_eq!(c.sig, SigType::CLEAR);
    assert!(c.hdlc && c.fcs);
}

#[test]
fn opening_a_bchannel_sets_clear_mode_law_and_blocksize() {
    let _g = fresh();
    let dev = KernelDevice::open(ROOT).unwrap();
    dev.channel_number(ch(1, 1)).unwrap();
    take_log();
    let mode = ChannelMode::Clear {
        blocksize: 160,
        law: Law::MuLaw,
    };
    let mut b = dev.open_channel(ch(1, 1), mode).unwrap();
    assert_eq!(
        take_log(),
        [
            "DAHDI_GET_PARAMS",
            "DAHDI_CHANCONFIG",
            "open channel",
            "DAHDI_SPECIFY",
            "DAHDI_HDLCRAWMODE",
            "DAHDI_SETLAW",
            "DAHDI_SET_BUFINFO",
            "DAHDI_SET_BLOCKSIZE"
        ]
    );
    {
        let m = model();
        let c = &m.as_ref().unwrap().chans[0];
        assert_eq!(c.sig, SigType::CLEAR);
        assert!(!c.hdlc);
        assert_eq!((c.law, c.blocksize, c.numbufs), (DAHDI_LAW_MULAW, 160, 4));
    }
    b.set_law(Law::ALaw).unwrap();
    b.flush().unwrap();
    assert_eq!(take_log(), ["DAHDI_SETLAW", "DAHDI_FLUSH"]);
    assert_eq!(model().as_ref().unwrap().chans[0].law, DAHDI_LAW_ALAW);
    // Block sizes DAHDI refuses are refused up front.
    for blocksize in [8, 9000] {
        assert!(matches!(
            dev.open_channel(
                ch(1, 2),
                ChannelMode::Clear {
                    blocksize,
                    law: Law::ALaw
                }
            ),
            Err(DeviceError::InvalidConfig(_))
        ));
    }
    assert!(matches!(
        dev.open_channel(ch(1, 40), mode),
        Err(DeviceError::NoSuchChannel(_))
    ));
}

#[test]
fn hdlc_reads_strip_the_fcs_and_writes_reserve_fcs_room_elast_is_event_pending() {
    let _g = fresh();
    let dev = KernelDevice::open(ROOT).unwrap();
    dev.configure_span(SpanId(1), &SpanConfig::e1_pri(1))
        .unwrap();
    dev.configure_span(SpanId(2), &SpanConfig::e1_pri(0))
        .unwrap();
    advance(Duration::from_millis(2));
    let mut a = dev.open_channel(ch(1, 16), ChannelMode::HdlcFcs).unwrap();
    let mut b = dev.open_channel(ch(2, 16), ChannelMode::HdlcFcs).unwrap();
    assert_eq!(a.write(&[0x00, 0x01, 0x7F]).unwrap(), 3);
    advance(Duration::from_millis(5));
    let mut buf = [0u8; 64];
    // The model appends 2 FCS octets on read and drops the last 2 on write: the frame
    // survives only if the backend reserves the FCS octets and strips the FCS.
    assert_eq!(b.read(&mut buf).unwrap(), 3);
    assert_eq!(&buf[..3], &[0x00, 0x01, 0x7F]);
    assert!(matches!(b.read(&mut buf), Err(ChanError::WouldBlock)));
    // An event queued: reads and writes fail with ELAST until GETEVENT.
    dev.shutdown_span(SpanId(1)).unwrap();
    advance(Duration::from_millis(1));
    assert!(matches!(b.read(&mut buf), Err(ChanError::EventPending)));
    assert!(matches!(b.write(&[1, 2, 3]), Err(ChanError::EventPending)));
    assert_eq!(b.get_event().unwrap(), Some(Event::Alarm));
    assert_eq!(b.get_event().unwrap(), None);
    assert!(matches!(b.read(&mut buf), Err(ChanError::WouldBlock)));
    // A frame over the channel buffer is refused, not truncated by DAHDI.
    assert!(matches!(
        a.write(&[0u8; 1023]),
        Err(ChanError::TooLarge(1023))
    ));
}

#[test]
fn the_ticker_counts_timer_trips() {
    let _g = fresh();
    let dev = KernelDevice::open(ROOT).unwrap();
    let mut t = dev.ticker().unwrap();
    assert_eq!(take_log(), ["open ctl", "open timer", "DAHDI_TIMERCONFIG"]);
    // Nothing tripped: waits (in poll) and returns 0.
    let start = std::time::Instant::now();
    assert_eq!(t.wait(Duration::from_millis(20)).unwrap(), 0);
    assert!(start.elapsed() >= Duration::from_millis(20));
    advance(Duration::from_millis(7));
    assert_eq!(t.wait(Duration::from_millis(20)).unwrap(), 7);
    assert_eq!(t.wait(Duration::ZERO).unwrap(), 0);
    // The ticker wakes from poll when the timer trips on another thread.
    let h = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(30));
        advance(Duration::from_millis(3));
    });
    assert_eq!(t.wait(Duration::from_secs(5)).unwrap(), 3);
    h.join().unwrap();
}

#[test]
fn the_kernel_backend_passes_the_conformance_suite_span_1_against_span_2() {
    let _g = fresh();
    let dev = KernelDevice::open(ROOT).unwrap();
    let link = Link {
        near: &dev,
        near_span: SpanId(1),
        far: &dev,
        far_span: SpanId(2),
        config: SpanConfig::e1_pri(1),
    };
    let report = conformance::run_all(&link, &Limits::default(), &mut advance).unwrap();
    assert_eq!(report.audio.timeslots, 30);
    assert_eq!(report.ticks_in_50ms, 50);
    assert_eq!(report.audio.delay_near_to_far, 8 * DELAY_CHUNKS);
    assert_eq!(report.hdlc.frames_per_direction, 11);
}
