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

use std::cell::Cell;
use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
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
fn prefetch(p: &u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch hint on a valid address; it reads nothing and cannot fault.
    #[allow(unused_unsafe)]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (p as *const u8).cast(),
        );
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

pub(crate) struct ClearChan {
    law: Law,
    blocksize: usize,
    numbufs: usize,
    /// Receive blocks, then the transmit ring: one allocation, `half` bytes each.
    buf: Box<[u8]>,
    half: usize,
    rx_head: usize,
    rx_full: usize,
    rx_fill: usize,
    tx_head: usize,
    tx_len: usize,
    overrun_flag: bool,
    underrun_flag: bool,
}

impl ClearChan {
    #[inline]
    fn rx(&self) -> &[u8] {
        &self.buf[..self.half]
    }
    #[inline]
    fn rx_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..self.half]
    }
    #[inline]
    fn tx(&self) -> &[u8] {
        &self.buf[self.half..]
    }
    #[inline]
    fn tx_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.half..]
    }
}

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
    /// Bumped whenever the channel goes from "nothing to read, no event" to having
    /// something: the handle skips the lock for a read while it has not moved since the
    /// last `WouldBlock`.
    pub produced: Arc<AtomicU64>,
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
    produced: &AtomicU64,
    ev: Event,
) {
    if events.len() < MAX_EVENTS {
        events.push_back(ev);
    }
    produced.fetch_add(1, Ordering::Release);
    if let Some(n) = notify {
        n.signal_event();
    }
}

impl ChanState {
    pub fn clear(blocksize: usize, law: Law, cfg: BufferConfig) -> Self {
        let numbufs = cfg.numbufs.max(1);
        ChanState {
            kind: ChanKind::Clear(ClearChan {
                law,
                blocksize,
                numbufs,
                buf: vec![0; 2 * blocksize * numbufs].into_boxed_slice(),
                half: blocksize * numbufs,
                rx_head: 0,
                rx_full: 0,
                rx_fill: 0,
                tx_head: 0,
                tx_len: 0,
                overrun_flag: false,
                underrun_flag: false,
            }),
            events: VecDeque::new(),
            notify: None,
            in_alarm: false,
            buffer_events: cfg.buffer_events,
            stats: Box::default(),
            produced: Arc::default(),
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
            produced: Arc::default(),
        }
    }

    pub fn queue_event(&mut self, ev: Event) {
        queue_event(&mut self.events, &mut self.notify, &self.produced, ev);
    }

    fn readable(&self) -> bool {
        match &self.kind {
            ChanKind::Clear(c) => c.rx_full > 0,
            ChanKind::Hdlc(h) => !h.rxq.is_empty(),
        }
    }

    /// Starts loading the memory `tx_chunk` will read: the span loop issues these for
    /// every channel first, so the cache misses of 31 channels overlap instead of adding up.
    #[inline]
    pub fn prefetch_tx(&self) {
        if let ChanKind::Clear(c) = &self.kind {
            if let Some(p) = c.tx().get(c.tx_head) {
                prefetch(p);
            }
        }
    }

    /// As [`Self::prefetch_tx`], for what `rx_chunk` will write.
    #[inline]
    pub fn prefetch_rx(&self) {
        if let ChanKind::Clear(c) = &self.kind {
            let mut block = c.rx_head + c.rx_full;
            if block >= c.numbufs {
                block -= c.numbufs;
            }
            if let Some(p) = c.rx().get(block * c.blocksize + c.rx_fill) {
                prefetch(p);
            }
        }
    }

    /// Produces this channel's 8 octets of the chunk.
    #[inline]
    pub fn tx_chunk(&mut self, out: &mut [u8; 8]) {
        match &mut self.kind {
            ChanKind::Clear(c) => {
                let cap = c.half;
                if c.tx_len >= 8 && c.tx_head + 8 <= cap {
                    // The usual case: one fixed-size copy, no division.
                    *out = c.tx()[c.tx_head..c.tx_head + 8].try_into().unwrap_or(*out);
                    c.tx_head += 8;
                    if c.tx_head == cap {
                        c.tx_head = 0;
                    }
                    c.tx_len -= 8;
                    c.underrun_flag = false;
                    return;
                }
                let n = c.tx_len.min(8);
                for (k, o) in out.iter_mut().enumerate().take(n) {
                    let mut at = c.tx_head + k;
                    if at >= cap {
                        at -= cap;
                    }
                    *o = c.tx()[at];
                }
                c.tx_head = (c.tx_head + n) % cap;
                c.tx_len -= n;
                if n < 8 {
                    out[n..].fill(idle_code(c.law));
                    self.stats.tx_underruns += 1;
                    if !c.underrun_flag {
                        c.underrun_flag = true;
                        if self.buffer_events {
                            queue_event(
                                &mut self.events,
                                &mut self.notify,
                                &self.produced,
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
        let was_idle = self.events.is_empty() && !self.readable();
        let ChanState {
            kind,
            events,
            notify,
            stats,
            buffer_events,
            produced,
            ..
        } = self;
        match kind {
            ChanKind::Clear(c) => {
                if c.rx_full < c.numbufs && c.rx_fill + 8 <= c.blocksize {
                    // The usual case: the chunk fits in the block being filled.
                    let mut block = c.rx_head + c.rx_full;
                    if block >= c.numbufs {
                        block -= c.numbufs;
                    }
                    let at = block * c.blocksize + c.rx_fill;
                    c.rx_mut()[at..at + 8].copy_from_slice(inp);
                    c.rx_fill += 8;
                    if c.rx_fill == c.blocksize {
                        c.rx_fill = 0;
                        c.rx_full += 1;
                        stats.rx_blocks += 1;
                    }
                    c.overrun_flag = false;
                } else {
                    Self::rx_clear_slow(c, inp, events, notify, produced, stats, *buffer_events);
                }
            }
            ChanKind::Hdlc(h) => {
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
                            queue_event(events, notify, produced, ev);
                        }
                    });
                }
            }
        }
        if was_idle && self.readable() {
            self.produced.fetch_add(1, Ordering::Release);
            if let Some(n) = &mut self.notify {
                if n.armed {
                    n.signal_readable();
                }
            }
        }
    }

    fn rx_clear_slow(
        c: &mut ClearChan,
        inp: &[u8; 8],
        events: &mut VecDeque<Event>,
        notify: &mut Option<Notifier>,
        produced: &AtomicU64,
        stats: &mut ChannelStats,
        buffer_events: bool,
    ) {
        let mut src: &[u8] = inp;
        let mut dropped = false;
        while !src.is_empty() {
            if c.rx_full == c.numbufs {
                dropped = true;
                break;
            }
            let block = (c.rx_head + c.rx_full) % c.numbufs;
            let n = (c.blocksize - c.rx_fill).min(src.len());
            let at = block * c.blocksize + c.rx_fill;
            c.rx_mut()[at..at + n].copy_from_slice(&src[..n]);
            c.rx_fill += n;
            src = &src[n..];
            if c.rx_fill == c.blocksize {
                c.rx_fill = 0;
                c.rx_full += 1;
                stats.rx_blocks += 1;
            }
        }
        if dropped {
            stats.rx_overruns += 1;
            if !c.overrun_flag {
                c.overrun_flag = true;
                if buffer_events {
                    queue_event(events, notify, produced, Event::ReadOverrun);
                }
            }
        } else {
            c.overrun_flag = false;
        }
    }

    /// The reader's fd, created on first use.
    pub fn raw_fd(&mut self) -> std::io::Result<RawFd> {
        if self.notify.is_none() {
            let mut n = Notifier::new()?;
            if !self.events.is_empty() {
                n.signal_event();
            } else if self.readable() {
                n.signal_readable();
            }
            self.notify = Some(n);
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
            ChanKind::Clear(c) => {
                if c.rx_full == 0 {
                    return Err(self.would_block());
                }
                let n = buf.len().min(c.blocksize);
                let at = c.rx_head * c.blocksize;
                buf[..n].copy_from_slice(&c.rx()[at..at + n]);
                c.rx_head = (c.rx_head + 1) % c.numbufs;
                c.rx_full -= 1;
                n
            }
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
            ChanKind::Clear(c) => {
                let cap = c.half;
                let n = buf.len().min(c.blocksize).min(cap - c.tx_len);
                if n == 0 {
                    return Err(ChanError::WouldBlock);
                }
                let tail = (c.tx_head + c.tx_len) % cap;
                let first = n.min(cap - tail);
                c.tx_mut()[tail..tail + first].copy_from_slice(&buf[..first]);
                c.tx_mut()[..n - first].copy_from_slice(&buf[first..n]);
                c.tx_len += n;
                Ok(n)
            }
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
                c.rx_head = 0;
                c.rx_full = 0;
                c.rx_fill = 0;
                c.tx_head = 0;
                c.tx_len = 0;
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
    pub(crate) produced: Arc<AtomicU64>,
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
        // Nothing arrived since the last read found nothing: no need to take the lock
        // (that read also left the poll fd armed, so nothing is to be done there either).
        if self.idle_at == Some(self.produced.load(Ordering::Acquire)) && !buf.is_empty() {
            return Err(ChanError::WouldBlock);
        }
        let (r, seen) = self
            .with(|c| {
                let r = c.read(buf);
                (r, c.produced.load(Ordering::Relaxed))
            })
            .unwrap_or_else(|| (Err(Self::closed()), 0));
        self.idle_at = matches!(r, Err(ChanError::WouldBlock)).then_some(seen);
        r
    }

    fn write(&mut self, buf: &[u8]) -> Result<usize, ChanError> {
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
