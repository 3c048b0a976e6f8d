//! One open channel of a simulated span: its buffers, its HDLC framer, its event queue,
//! and the handle implementing [`dahdi_driver::Channel`].
//!
//! Buffering follows DAHDI (`dahdi-base.c`): a clear channel has `numbufs` blocks of
//! `blocksize` bytes each way; a read returns at most one block (and frees it whole); a
//! write takes at most one block; when every receive block is full, what arrives is
//! dropped (a read overrun); when nothing is queued to send, the channel sends the idle
//! code of its law (a write underrun). The overrun/underrun events are queued only when
//! buffer events are enabled (`DAHDI_BUFFER_EVENTS`), as in DAHDI. HDLC errors (bad FCS,
//! abort, overrun) are queued only while the span is out of alarm, as in DAHDI.

use std::cell::{Cell, UnsafeCell};
use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use dahdi_driver::{ChanError, Channel, ChannelId, Event, Law};

use crate::hdlc::{HdlcDecoder, HdlcEncoder, RxOutcome};
use crate::notify::Notifier;
use crate::sim::Shared;

/// DAHDI's event ring size (`DAHDI_MAX_EVENTSIZE`).
const MAX_EVENTS: usize = 64;

/// The idle (silence) code of a law: `DAHDI_LIN2X(0)`.
pub fn idle_code(law: Law) -> u8 {
    match law {
        Law::ALaw => 0xD5,
        Law::MuLaw => 0xFF,
    }
}

#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch hint; it reads nothing and cannot fault, whatever the address.
    #[allow(unused_unsafe)]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Counters of one channel, readable with [`crate::Sim::channel_stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelStats {
    /// Clear channel: receive blocks completed.
    pub rx_blocks: u64,
    /// Clear channel: chunks in which received audio had to be dropped (buffers full).
    pub rx_overruns: u64,
    /// Clear channel: chunks padded with the idle code for lack of audio to send.
    pub tx_underruns: u64,
    /// HDLC: frames put on the line.
    pub frames_sent: u64,
    /// HDLC: frames received with a good FCS.
    pub frames_received: u64,
    /// HDLC: frames received with a bad FCS.
    pub bad_fcs: u64,
    /// HDLC: aborted frames received.
    pub aborts: u64,
    /// HDLC: frames lost because they were too long or the receive queue was full.
    pub hdlc_overruns: u64,
}

/// What a channel's handle and the clock share without the span lock.
///
/// A clear channel's buffers are two single-producer single-consumer rings: the clock
/// fills receive blocks and the handle takes them; the handle fills the transmit ring and
/// the clock drains it 8 octets a chunk. Each side publishes its progress with a release
/// store of its own counter and reads the other's with an acquire load, so a B-channel
/// `read`/`write` never takes the span lock the clock holds while it runs the span's
/// chunk, and the clock never waits for a reader (DAHDI's own buffers are handed over the
/// same way between its interrupt and `read()`). Events, the poll fd, law, flush and the
/// HDLC queues stay under the span lock.
#[repr(C, align(64))]
pub(crate) struct ChanShared {
    /// Receive blocks completed (clock).
    rx_done: AtomicU64,
    /// Transmit octets put on the line (clock).
    tx_sent: AtomicU64,
    /// Receive blocks taken (handle).
    rx_taken: AtomicU64,
    /// Transmit octets written (handle).
    tx_put: AtomicU64,
    /// Bumped whenever the channel goes from "nothing to read, no event" to having
    /// something: the handle skips the lock for a read while it has not moved since the
    /// last `WouldBlock`.
    pub produced: AtomicU64,
    /// Events queued (the length of the locked queue), for the lock-free paths.
    events: AtomicU32,
    /// A poll fd exists: reads go through the lock, which keeps its readiness right.
    polled: AtomicBool,
    /// A clear channel (the rings below are in use).
    clear: bool,
    blocksize: usize,
    numbufs: usize,
    /// Receive blocks (`numbufs × blocksize`), then the transmit ring (as many octets).
    buf: Box<[UnsafeCell<u8>]>,
}

// SAFETY: the buffer is only written through the ring protocol above: the clock writes a
// receive block no reader can see yet (its index is past `rx_done`, and `rx_taken` says
// the reader is done with it) and transmit octets the writer has published; the handle
// reads published receive blocks and writes transmit octets the clock has consumed.
// Everything else is atomic or immutable.
unsafe impl Sync for ChanShared {}

impl ChanShared {
    fn new(clear: bool, blocksize: usize, numbufs: usize) -> Self {
        let len = if clear { 2 * blocksize * numbufs } else { 0 };
        ChanShared {
            rx_done: AtomicU64::new(0),
            tx_sent: AtomicU64::new(0),
            rx_taken: AtomicU64::new(0),
            tx_put: AtomicU64::new(0),
            produced: AtomicU64::new(0),
            events: AtomicU32::new(0),
            polled: AtomicBool::new(false),
            clear,
            blocksize,
            numbufs,
            buf: (0..len).map(|_| UnsafeCell::new(0)).collect(),
        }
    }

    fn base(&self) -> *mut u8 {
        // UnsafeCell<u8> has the layout of u8 and allows writes through a shared
        // reference.
        UnsafeCell::raw_get(self.buf.as_ptr())
    }

    /// Whether the handle may read and write without the span lock.
    #[inline]
    pub fn lock_free(&self) -> bool {
        self.clear && !self.polled.load(Ordering::Acquire)
    }

    #[inline]
    pub fn events_pending(&self) -> bool {
        self.events.load(Ordering::Acquire) != 0
    }

    fn rx_readable(&self) -> bool {
        self.rx_done.load(Ordering::Acquire) != self.rx_taken.load(Ordering::Relaxed)
    }

    /// Handle side: takes the oldest complete receive block into `out` (at most one
    /// block); `None` when there is none.
    #[inline]
    pub fn take_block(&self, out: &mut [u8]) -> Option<usize> {
        let taken = self.rx_taken.load(Ordering::Relaxed);
        if taken == self.rx_done.load(Ordering::Acquire) {
            return None;
        }
        let n = out.len().min(self.blocksize);
        let at = (taken % self.numbufs as u64) as usize * self.blocksize;
        // SAFETY: block `taken` is complete (acquired through `rx_done`) and the clock
        // does not write it again before `rx_taken` moves past it (released below).
        unsafe { std::ptr::copy_nonoverlapping(self.base().add(at), out.as_mut_ptr(), n) };
        self.rx_taken.store(taken + 1, Ordering::Release);
        Some(n)
    }

    /// Handle side: queues up to one block of `data` to send; returns how much fit.
    #[inline]
    pub fn put(&self, data: &[u8]) -> usize {
        let cap = self.blocksize * self.numbufs;
        let put = self.tx_put.load(Ordering::Relaxed);
        let queued = (put - self.tx_sent.load(Ordering::Acquire)) as usize;
        let n = data.len().min(self.blocksize).min(cap - queued);
        if n == 0 {
            return 0;
        }
        let tail = (put % cap as u64) as usize;
        let first = n.min(cap - tail);
        // SAFETY: octets `put..put + n` (mod cap) are free: the clock has consumed
        // everything before `tx_sent` (acquired above) and reads nothing past `tx_put`
        // until it is released below.
        unsafe {
            let ring = self.base().add(cap);
            std::ptr::copy_nonoverlapping(data.as_ptr(), ring.add(tail), first);
            std::ptr::copy_nonoverlapping(data.as_ptr().add(first), ring, n - first);
        }
        self.tx_put.store(put + n as u64, Ordering::Release);
        n
    }

    /// Handle side, under the span lock (the clock is not running this span): drops
    /// everything queued both ways.
    fn flush(&self) {
        self.rx_taken
            .store(self.rx_done.load(Ordering::Acquire), Ordering::Release);
        self.tx_put
            .store(self.tx_sent.load(Ordering::Acquire), Ordering::Release);
    }
}

/// The clock's side of a clear channel (under the span lock).
pub(crate) struct ClearChan {
    law: Law,
    blocksize: usize,
    numbufs: usize,
    /// Octets in the transmit ring (and in the receive blocks).
    half: usize,
    /// `shared.buf`, kept here to spare the clock a dependent load.
    base: *mut u8,
    /// The receive block being filled (`rx_done % numbufs`) and how far.
    rx_block: usize,
    rx_fill: usize,
    /// `shared.rx_done`, `shared.tx_sent`: only the clock writes them.
    rx_done: u64,
    tx_sent: u64,
    /// `tx_sent % half`.
    tx_head: usize,
    overrun_flag: bool,
    underrun_flag: bool,
}

// SAFETY: `base` points into the `ChanShared` buffer the same `ChanState` keeps alive
// through its `Arc`; it is only used under the span lock by the clock side.
unsafe impl Send for ClearChan {}

pub(crate) struct HdlcChan {
    enc: HdlcEncoder,
    dec: HdlcDecoder,
    txq: VecDeque<Vec<u8>>,
    rxq: VecDeque<Vec<u8>>,
    pool: Vec<Vec<u8>>,
    max_queue: usize,
    max_frame: usize,
}

pub(crate) enum ChanKind {
    Clear(ClearChan),
    Hdlc(Box<HdlcChan>),
}

pub(crate) struct ChanState {
    kind: ChanKind,
    events: VecDeque<Event>,
    notify: Option<Notifier>,
    /// DAHDI's `chan_alarms`: whether this channel was last told of an alarm.
    pub in_alarm: bool,
    buffer_events: bool,
    pub stats: Box<ChannelStats>,
    /// Shared with the channel's handle.
    pub shared: Arc<ChanShared>,
}

/// Channel buffer settings, from the simulator's builder.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BufferConfig {
    pub numbufs: usize,
    pub hdlc_queue: usize,
    pub max_frame: usize,
    pub buffer_events: bool,
}

fn queue_event(
    events: &mut VecDeque<Event>,
    notify: &mut Option<Notifier>,
    shared: &ChanShared,
    ev: Event,
) {
    if events.len() < MAX_EVENTS {
        events.push_back(ev);
    }
    shared.events.store(events.len() as u32, Ordering::Release);
    shared.produced.fetch_add(1, Ordering::Release);
    if let Some(n) = notify {
        n.signal_event();
    }
}

/// A receive block was completed: publishes it, and wakes a waiting reader if the
/// channel had nothing to read before.
#[inline]
fn complete_rx_block(
    c: &mut ClearChan,
    shared: &ChanShared,
    notify: &mut Option<Notifier>,
    stats: &mut ChannelStats,
) {
    let was_empty = c.rx_done == shared.rx_taken.load(Ordering::Acquire);
    c.rx_fill = 0;
    c.rx_block += 1;
    if c.rx_block == c.numbufs {
        c.rx_block = 0;
    }
    c.rx_done += 1;
    shared.rx_done.store(c.rx_done, Ordering::Release);
    stats.rx_blocks += 1;
    if was_empty {
        shared.produced.fetch_add(1, Ordering::Release);
        if let Some(n) = notify {
            if n.armed {
                n.signal_readable();
            }
        }
    }
}

impl ChanState {
    pub fn clear(blocksize: usize, law: Law, cfg: BufferConfig) -> Self {
        let numbufs = cfg.numbufs.max(1);
        let shared = Arc::new(ChanShared::new(true, blocksize, numbufs));
        ChanState {
            kind: ChanKind::Clear(ClearChan {
                law,
                blocksize,
                numbufs,
                half: blocksize * numbufs,
                base: shared.base(),
                rx_block: 0,
                rx_fill: 0,
                rx_done: 0,
                tx_sent: 0,
                tx_head: 0,
                overrun_flag: false,
                underrun_flag: false,
            }),
            events: VecDeque::new(),
            notify: None,
            in_alarm: false,
            buffer_events: cfg.buffer_events,
            stats: Box::default(),
            shared,
        }
    }

    pub fn hdlc(cfg: BufferConfig) -> Self {
        ChanState {
            kind: ChanKind::Hdlc(Box::new(HdlcChan {
                enc: HdlcEncoder::new(cfg.max_frame),
                dec: HdlcDecoder::new(cfg.max_frame),
                txq: VecDeque::with_capacity(cfg.hdlc_queue),
                rxq: VecDeque::with_capacity(cfg.hdlc_queue),
                pool: Vec::new(),
                max_queue: cfg.hdlc_queue.max(1),
                max_frame: cfg.max_frame,
            })),
            events: VecDeque::new(),
            notify: None,
            in_alarm: false,
            buffer_events: cfg.buffer_events,
            stats: Box::default(),
            shared: Arc::new(ChanShared::new(false, 0, 0)),
        }
    }

    pub fn queue_event(&mut self, ev: Event) {
        queue_event(&mut self.events, &mut self.notify, &self.shared, ev);
    }

    fn readable(&self) -> bool {
        match &self.kind {
            ChanKind::Clear(_) => self.shared.rx_readable(),
            ChanKind::Hdlc(h) => !h.rxq.is_empty(),
        }
    }

    /// Starts loading the memory `tx_chunk` will read: the span loop issues these for
    /// every channel first, so the cache misses of 31 channels overlap instead of adding up.
    #[inline]
    pub fn prefetch_tx(&self) {
        if let ChanKind::Clear(c) = &self.kind {
            prefetch(&self.shared.tx_put);
            // SAFETY: `tx_head < half`, inside the transmit ring; only an address is made.
            prefetch(unsafe { c.base.add(c.half + c.tx_head) });
        }
    }

    /// As [`Self::prefetch_tx`], for what `rx_chunk` will write.
    #[inline]
    pub fn prefetch_rx(&self) {
        if let ChanKind::Clear(c) = &self.kind {
            // SAFETY: inside the receive blocks; only an address is made.
            prefetch(unsafe { c.base.add(c.rx_block * c.blocksize + c.rx_fill) });
        }
    }

    /// Produces this channel's 8 octets of the chunk.
    #[inline]
    pub fn tx_chunk(&mut self, out: &mut [u8; 8]) {
        match &mut self.kind {
            ChanKind::Clear(c) => {
                let shared = &*self.shared;
                let cap = c.half;
                let avail = (shared.tx_put.load(Ordering::Acquire) - c.tx_sent) as usize;
                if avail >= 8 && c.tx_head + 8 <= cap {
                    // The usual case: one fixed-size copy, no division.
                    // SAFETY: octets `tx_head..tx_head + 8` of the transmit ring were
                    // published by the writer (`avail` acquired above) and lie inside it.
                    *out = unsafe { c.base.add(cap + c.tx_head).cast::<[u8; 8]>().read() };
                    c.tx_head += 8;
                    if c.tx_head == cap {
                        c.tx_head = 0;
                    }
                    c.tx_sent += 8;
                    shared.tx_sent.store(c.tx_sent, Ordering::Release);
                    c.underrun_flag = false;
                    return;
                }
                let n = avail.min(8);
                for o in out.iter_mut().take(n) {
                    // SAFETY: as above, one published octet at a time, wrapping.
                    *o = unsafe { c.base.add(cap + c.tx_head).read() };
                    c.tx_head += 1;
                    if c.tx_head == cap {
                        c.tx_head = 0;
                    }
                }
                c.tx_sent += n as u64;
                shared.tx_sent.store(c.tx_sent, Ordering::Release);
                if n < 8 {
                    out[n..].fill(idle_code(c.law));
                    self.stats.tx_underruns += 1;
                    if !c.underrun_flag {
                        c.underrun_flag = true;
                        if self.buffer_events {
                            queue_event(
                                &mut self.events,
                                &mut self.notify,
                                &self.shared,
                                Event::WriteUnderrun,
                            );
                        }
                    }
                } else {
                    c.underrun_flag = false;
                }
            }
            ChanKind::Hdlc(h) => {
                for o in out.iter_mut() {
                    if h.enc.is_idle() {
                        if let Some(f) = h.txq.pop_front() {
                            if h.enc.start_frame(&f).is_ok() {
                                self.stats.frames_sent += 1;
                            }
                            if h.pool.len() < 2 * h.max_queue {
                                h.pool.push(f);
                            }
                        }
                    }
                    *o = h.enc.next_octet();
                }
            }
        }
    }

    /// Aborts the HDLC frame being sent, if any.
    pub fn abort_tx(&mut self) {
        if let ChanKind::Hdlc(h) = &mut self.kind {
            h.enc.abort();
        }
    }

    /// Takes this channel's 8 received octets of the chunk. `span_alarm`: the span is in
    /// alarm (HDLC errors are then not reported, as in DAHDI).
    #[inline]
    pub fn rx_chunk(&mut self, inp: &[u8; 8], span_alarm: bool) {
        let ChanState {
            kind,
            events,
            notify,
            stats,
            buffer_events,
            shared,
            ..
        } = self;
        match kind {
            ChanKind::Clear(c) => {
                let full = (c.rx_done - shared.rx_taken.load(Ordering::Acquire)) as usize;
                if full < c.numbufs && c.rx_fill + 8 <= c.blocksize {
                    // The usual case: the chunk fits in the block being filled.
                    let at = c.rx_block * c.blocksize + c.rx_fill;
                    // SAFETY: the block being filled is not visible to the reader (it is
                    // past `rx_done`) and is free (fewer than `numbufs` are full).
                    unsafe { c.base.add(at).cast::<[u8; 8]>().write(*inp) };
                    c.rx_fill += 8;
                    if c.rx_fill == c.blocksize {
                        complete_rx_block(c, shared, notify, stats);
                    }
                    c.overrun_flag = false;
                } else {
                    Self::rx_clear_slow(c, inp, events, notify, shared, stats, *buffer_events);
                }
            }
            ChanKind::Hdlc(h) => {
                let was_idle = events.is_empty() && h.rxq.is_empty();
                let HdlcChan {
                    dec,
                    rxq,
                    pool,
                    max_queue,
                    ..
                } = &mut **h;
                for &o in inp {
                    dec.push_octet(o, |r| {
                        let ev = match r {
                            RxOutcome::Frame(f) => {
                                if rxq.len() < *max_queue {
                                    let mut v = pool.pop().unwrap_or_default();
                                    v.clear();
                                    v.extend_from_slice(f);
                                    rxq.push_back(v);
                                    stats.frames_received += 1;
                                    return;
                                }
                                stats.hdlc_overruns += 1;
                                Event::Overrun
                            }
                            RxOutcome::BadFcs => {
                                stats.bad_fcs += 1;
                                Event::BadFcs
                            }
                            RxOutcome::Abort => {
                                stats.aborts += 1;
                                Event::Abort
                            }
                            RxOutcome::Overrun => {
                                stats.hdlc_overruns += 1;
                                Event::Overrun
                            }
                        };
                        if !span_alarm {
                            queue_event(events, notify, shared, ev);
                        }
                    });
                }
                if was_idle && !rxq.is_empty() {
                    shared.produced.fetch_add(1, Ordering::Release);
                    if let Some(n) = notify {
                        if n.armed {
                            n.signal_readable();
                        }
                    }
                }
            }
        }
    }

    fn rx_clear_slow(
        c: &mut ClearChan,
        inp: &[u8; 8],
        events: &mut VecDeque<Event>,
        notify: &mut Option<Notifier>,
        shared: &ChanShared,
        stats: &mut ChannelStats,
        buffer_events: bool,
    ) {
        let mut src: &[u8] = inp;
        let mut dropped = false;
        while !src.is_empty() {
            if (c.rx_done - shared.rx_taken.load(Ordering::Acquire)) as usize >= c.numbufs {
                dropped = true;
                break;
            }
            let n = (c.blocksize - c.rx_fill).min(src.len());
            let at = c.rx_block * c.blocksize + c.rx_fill;
            // SAFETY: as in `rx_chunk`: the block being filled is free and unpublished,
            // and `rx_fill + n <= blocksize` keeps the copy inside it.
            unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), c.base.add(at), n) };
            c.rx_fill += n;
            src = &src[n..];
            if c.rx_fill == c.blocksize {
                complete_rx_block(c, shared, notify, stats);
            }
        }
        if dropped {
            stats.rx_overruns += 1;
            if !c.overrun_flag {
                c.overrun_flag = true;
                if buffer_events {
                    queue_event(events, notify, shared, Event::ReadOverrun);
                }
            }
        } else {
            c.overrun_flag = false;
        }
    }

    /// The reader's fd, created on first use. From then on the handle's reads and writes
    /// take the span lock, so that the fd's readiness follows every change.
    pub fn raw_fd(&mut self) -> std::io::Result<RawFd> {
        if self.notify.is_none() {
            let mut n = Notifier::new()?;
            if !self.events.is_empty() {
                n.signal_event();
            } else if self.readable() {
                n.signal_readable();
            }
            self.notify = Some(n);
            self.shared.polled.store(true, Ordering::Release);
        }
        Ok(self.notify.as_ref().map(Notifier::fd).unwrap_or(-1))
    }

    fn would_block(&mut self) -> ChanError {
        if let Some(n) = &mut self.notify {
            n.clear();
        }
        ChanError::WouldBlock
    }

    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, ChanError> {
        if !self.events.is_empty() {
            return Err(ChanError::EventPending);
        }
        if buf.is_empty() {
            // DAHDI: a read of less than one byte is EINVAL.
            return Err(ChanError::Io(std::io::Error::from(
                std::io::ErrorKind::InvalidInput,
            )));
        }
        let n = match &mut self.kind {
            ChanKind::Clear(_) => match self.shared.take_block(buf) {
                Some(n) => n,
                None => return Err(self.would_block()),
            },
            ChanKind::Hdlc(h) => {
                let Some(f) = h.rxq.pop_front() else {
                    return Err(self.would_block());
                };
                let n = buf.len().min(f.len());
                buf[..n].copy_from_slice(&f[..n]);
                if h.pool.len() < 2 * h.max_queue {
                    h.pool.push(f);
                }
                n
            }
        };
        let readable = self.readable();
        if let Some(nt) = &mut self.notify {
            if readable && !nt.in_signaled() {
                nt.signal_readable();
            }
        }
        Ok(n)
    }

    pub fn write(&mut self, buf: &[u8]) -> Result<usize, ChanError> {
        if !self.events.is_empty() {
            return Err(ChanError::EventPending);
        }
        if buf.is_empty() {
            return Err(ChanError::Io(std::io::Error::from(
                std::io::ErrorKind::InvalidInput,
            )));
        }
        match &mut self.kind {
            ChanKind::Clear(_) => match self.shared.put(buf) {
                0 => Err(ChanError::WouldBlock),
                n => Ok(n),
            },
            ChanKind::Hdlc(h) => {
                if buf.len() > h.max_frame {
                    return Err(ChanError::TooLarge(buf.len()));
                }
                if h.txq.len() >= h.max_queue {
                    return Err(ChanError::WouldBlock);
                }
                let mut v = h.pool.pop().unwrap_or_default();
                v.clear();
                v.extend_from_slice(buf);
                h.txq.push_back(v);
                Ok(buf.len())
            }
        }
    }

    pub fn get_event(&mut self) -> Option<Event> {
        let ev = self.events.pop_front();
        self.shared
            .events
            .store(self.events.len() as u32, Ordering::Release);
        if ev.is_some() && self.events.is_empty() {
            let readable = self.readable();
            if let Some(n) = &mut self.notify {
                n.clear();
                if readable {
                    n.signal_readable();
                }
            }
        }
        ev
    }

    pub fn set_law(&mut self, law: Law) -> Result<(), ChanError> {
        match &mut self.kind {
            ChanKind::Clear(c) => {
                c.law = law;
                Ok(())
            }
            ChanKind::Hdlc(_) => Err(ChanError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "SETLAW on an HDLC channel",
            ))),
        }
    }

    pub fn flush(&mut self) {
        match &mut self.kind {
            ChanKind::Clear(c) => {
                // Under the span lock: the clock is not in this span's chunk.
                self.shared.flush();
                c.rx_fill = 0;
            }
            ChanKind::Hdlc(h) => {
                while let Some(f) = h.txq.pop_front() {
                    h.pool.push(f);
                }
                while let Some(f) = h.rxq.pop_front() {
                    h.pool.push(f);
                }
                h.pool.truncate(2 * h.max_queue);
            }
        }
    }
}

/// The handle of an open simulated channel; closing it (drop) frees the timeslot.
pub struct SimChannel {
    pub(crate) shared: Arc<Shared>,
    pub(crate) cable: usize,
    pub(crate) end: usize,
    pub(crate) id: ChannelId,
    pub(crate) fd: Cell<RawFd>,
    pub(crate) chan: Arc<ChanShared>,
    /// `produced` as seen by the last read that found nothing.
    pub(crate) idle_at: Option<u64>,
}

impl SimChannel {
    fn with<R>(&self, f: impl FnOnce(&mut ChanState) -> R) -> Option<R> {
        let mut cable = self.shared.lock_cable(self.cable);
        cable.ends[self.end].slots[self.id.timeslot.0 as usize]
            .as_mut()
            .map(f)
    }

    fn closed() -> ChanError {
        ChanError::Io(std::io::Error::from(std::io::ErrorKind::NotConnected))
    }
}

impl Channel for SimChannel {
    fn id(&self) -> ChannelId {
        self.id
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ChanError> {
        let chan = &*self.chan;
        if chan.lock_free() && !buf.is_empty() {
            // A clear channel nobody polls: straight from the ring, no span lock.
            if chan.events_pending() {
                return Err(ChanError::EventPending);
            }
            return chan.take_block(buf).ok_or(ChanError::WouldBlock);
        }
        // Nothing arrived since the last read found nothing: no need to take the lock
        // (that read also left the poll fd armed, so nothing is to be done there either).
        if self.idle_at == Some(chan.produced.load(Ordering::Acquire)) && !buf.is_empty() {
            return Err(ChanError::WouldBlock);
        }
        let (r, seen) = self
            .with(|c| {
                let r = c.read(buf);
                (r, c.shared.produced.load(Ordering::Relaxed))
            })
            .unwrap_or_else(|| (Err(Self::closed()), 0));
        self.idle_at = matches!(r, Err(ChanError::WouldBlock)).then_some(seen);
        r
    }

    fn write(&mut self, buf: &[u8]) -> Result<usize, ChanError> {
        let chan = &*self.chan;
        if chan.lock_free() && !buf.is_empty() {
            if chan.events_pending() {
                return Err(ChanError::EventPending);
            }
            return match chan.put(buf) {
                0 => Err(ChanError::WouldBlock),
                n => Ok(n),
            };
        }
        self.with(|c| c.write(buf))
            .unwrap_or_else(|| Err(Self::closed()))
    }

    fn get_event(&mut self) -> Result<Option<Event>, ChanError> {
        self.with(|c| c.get_event()).ok_or_else(Self::closed)
    }

    fn set_law(&mut self, law: Law) -> Result<(), ChanError> {
        self.with(|c| c.set_law(law))
            .unwrap_or_else(|| Err(Self::closed()))
    }

    fn flush(&mut self) -> Result<(), ChanError> {
        self.with(|c| c.flush()).ok_or_else(Self::closed)
    }

    /// The shared counters' line (the first a read or write touches; the clock on
    /// another CPU writes it every chunk).
    fn prefetch(&self) {
        prefetch(Arc::as_ptr(&self.chan));
    }

    fn raw_fd(&self) -> RawFd {
        if self.fd.get() >= 0 {
            return self.fd.get();
        }
        match self.with(|c| c.raw_fd()) {
            Some(Ok(fd)) => {
                self.fd.set(fd);
                fd
            }
            Some(Err(e)) => {
                tracing::error!(channel = %self.id, error = %e, "cannot create the channel's poll fd");
                -1
            }
            None => -1,
        }
    }
}

impl Drop for SimChannel {
    fn drop(&mut self) {
        let mut cable = self.shared.lock_cable(self.cable);
        cable.ends[self.end].slots[self.id.timeslot.0 as usize] = None;
    }
}
