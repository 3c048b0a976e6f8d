//! A span as a cable: two ends, and a line in each direction with a fixed delay.
//!
//! Each chunk (1 ms, 8 frames) every configured end transmits one octet per timeslot per
//! frame: E1 timeslot 0 carries the frame alignment words (G.704 §2.3.2), the channels
//! carry what their users wrote (or the idle code), and each receiver reads the frames the
//! other end sent `delay` chunks earlier, through its line impairments (loss of signal,
//! AIS, bit errors, slips), works out its frame alignment and alarms, and hands each open
//! channel its 8 octets.

use dahdi_driver::{Alarms, Event, SpanConfig, SpanKind};

use crate::channel::{idle_code, ChanState};
use crate::crc4::{Crc4Rx, Crc4Tx};
use crate::framing::{e1_ts0, E1Aligner, LineCondition};
use crate::prng::BitErrors;
use crate::SlipKind;

/// Timeslots of a frame as stored (E1: TS0..TS31; T1: channels 1..24, index 0 unused).
pub(crate) const TS: usize = 32;
/// Frames per chunk: 8 samples of 125 µs make DAHDI's 1 ms chunk.
pub(crate) const CHUNK: usize = 8;

/// One chunk, timeslot-major: `chunk[ts][frame]`.
pub(crate) type Chunk = [[u8; CHUNK]; TS];

/// Per-frame line state carried beside the octets.
const SIGNAL: u8 = 1;
/// T1: the framing bits are present (the 193rd bit; not an octet of any timeslot).
const T1_FRAMED: u8 = 2;
/// T1: the framing carries the yellow alarm (ESF data link RAI).
const T1_RAI: u8 = 4;

/// One direction of the cable: a ring of chunks written by one end, read by the other.
/// Slips move the read position by single frames, so a chunk read may straddle two
/// chunks written.
pub(crate) struct Line {
    ring: Box<[Chunk]>,
    flags: Box<[[u8; CHUNK]]>,
    /// Next chunk to write.
    w: usize,
    /// Frames between the end of the last written chunk and the end of the chunk read.
    lag: usize,
}

impl Line {
    fn new(delay_chunks: usize) -> Self {
        let n = (delay_chunks + 5).next_power_of_two();
        Line {
            ring: vec![[[0; CHUNK]; TS]; n].into_boxed_slice(),
            flags: vec![[0; CHUNK]; n].into_boxed_slice(),
            w: 0,
            lag: CHUNK * delay_chunks,
        }
    }

    fn frames(&self) -> usize {
        self.ring.len() * CHUNK
    }

    #[inline]
    fn write(&mut self, chunk: &Chunk, flags: u8) {
        self.ring[self.w] = *chunk;
        self.flags[self.w] = [flags; CHUNK];
        self.w = (self.w + 1) & (self.ring.len() - 1);
    }

    /// The chunk to transmit into, in place; [`Line::commit`] then moves on.
    #[inline]
    fn slot(&mut self) -> &mut Chunk {
        &mut self.ring[self.w]
    }

    #[inline]
    fn commit(&mut self, flags: u8) {
        self.flags[self.w] = [flags; CHUNK];
        self.w = (self.w + 1) & (self.ring.len() - 1);
    }

    #[inline]
    fn read(&self, chunk: &mut Chunk, flags: &mut [u8; CHUNK]) {
        let total = self.frames();
        let start = (self.w * CHUNK + 2 * total - CHUNK - self.lag) & (total - 1);
        let (ci, off) = (start / CHUNK, start % CHUNK);
        if off == 0 {
            *chunk = self.ring[ci];
            *flags = self.flags[ci];
        } else {
            // Samples are bytes of a little-endian u64: shift the two chunks together.
            let cj = (ci + 1) & (self.ring.len() - 1);
            let join = |a: &[u8; CHUNK], b: &[u8; CHUNK]| -> [u8; CHUNK] {
                let (x, y) = (u64::from_le_bytes(*a), u64::from_le_bytes(*b));
                ((x >> (8 * off)) | (y << (8 * (CHUNK - off)))).to_le_bytes()
            };
            for ((out, a), b) in chunk.iter_mut().zip(&self.ring[ci]).zip(&self.ring[cj]) {
                *out = join(a, b);
            }
            *flags = join(&self.flags[ci], &self.flags[cj]);
        }
    }

    /// A controlled slip at the receiver: one frame skipped or read twice.
    fn slip(&mut self, kind: SlipKind) -> bool {
        match kind {
            SlipKind::Drop if self.lag >= 1 => self.lag -= 1,
            SlipKind::Repeat if self.lag + 2 * CHUNK < self.frames() => self.lag += 1,
            _ => return false,
        }
        true
    }

    /// The current delay in frames (the nominal one, give or take the slips).
    pub fn lag_frames(&self) -> usize {
        self.lag
    }
}

/// Impairments applied to what one end receives.
#[derive(Default)]
pub(crate) struct RxImpairments {
    pub los: bool,
    pub ais: bool,
    pub bit_errors: Option<BitErrors>,
    /// One-shot XOR masks: (timeslot, mask) applied to the next frame received.
    pub flips: Vec<(u8, u8)>,
}

/// Alarm integration, in chunks: how long a defect must last before the span reports it,
/// and how long it must be gone before the alarm clears (`RECOVER` is shown meanwhile).
/// Zero reports at once. Real framers integrate for a few seconds (DAHDI's common cards
/// wait 2.5 s).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Debounce {
    pub declare: u32,
    pub clear: u32,
}

/// One end of a span: its configuration, channels, receiver and counters.
pub(crate) struct EndSpan {
    pub config: Option<SpanConfig>,
    pub slots: [Option<ChanState>; TS],
    pub alarms: Alarms,
    pub condition: LineCondition,
    aligner: E1Aligner,
    pub slips: u32,
    pub bpv: u32,
    tx_frame: u64,
    pub rx: RxImpairments,
    debounce: Debounce,
    crc4_tx: Crc4Tx,
    crc4_rx: Crc4Rx,
    /// A change of the line's alarms not reported yet, and for how many chunks it lasted.
    pending: Alarms,
    pending_for: u32,
}

impl EndSpan {
    fn new(config: Option<SpanConfig>, debounce: Debounce) -> Self {
        let started = config.is_some();
        EndSpan {
            config,
            slots: std::array::from_fn(|_| None),
            alarms: if started {
                Alarms::empty()
            } else {
                Alarms::NOTOPEN
            },
            condition: LineCondition::InFrame { rai: false },
            aligner: E1Aligner::in_frame(),
            slips: 0,
            bpv: 0,
            tx_frame: 0,
            rx: RxImpairments::default(),
            debounce,
            crc4_tx: Crc4Tx::default(),
            crc4_rx: Crc4Rx::default(),
            pending: Alarms::empty(),
            pending_for: 0,
        }
    }

    /// Reports the line's alarms after the integration time.
    fn integrate(&mut self, raw: Alarms) {
        let shown = self.alarms - Alarms::RECOVER;
        if raw == shown {
            self.pending_for = 0;
            self.set_alarms(raw);
            return;
        }
        if raw != self.pending || self.pending_for == 0 {
            self.pending = raw;
            self.pending_for = 0;
        }
        self.pending_for += 1;
        let need = if raw.is_empty() {
            self.debounce.clear
        } else {
            self.debounce.declare
        };
        if self.pending_for >= need.max(1) {
            self.pending_for = 0;
            self.set_alarms(raw);
        } else if raw.is_empty() {
            self.set_alarms(shown | Alarms::RECOVER);
        }
    }

    pub fn fas_errors(&self) -> u32 {
        self.aligner.fas_errors
    }

    /// Errored sub-multiframes found by the CRC-4 check.
    pub fn crc4_errors(&self) -> u32 {
        self.crc4_rx.errors
    }

    fn crc4_on(&self, kind: SpanKind) -> bool {
        kind == SpanKind::E1 && self.config.as_ref().is_some_and(|c| c.crc4)
    }

    /// Starts the end with `config` (the receiver hunts for the frame if it was down).
    pub fn start(&mut self, config: SpanConfig) {
        if self.config.is_none() {
            self.aligner = E1Aligner::hunting();
            self.condition = LineCondition::Lfa;
            self.set_alarms(LineCondition::Lfa.alarms());
        }
        self.config = Some(config);
    }

    /// Stops the end: the transmitter goes quiet and the span reports NOTOPEN.
    pub fn stop(&mut self) {
        self.config = None;
        self.set_alarms(Alarms::NOTOPEN);
    }

    /// Sets the span alarms; on a change between "no alarm" and "some alarm" every open
    /// channel is told (`dahdi_alarm_notify`).
    fn set_alarms(&mut self, alarms: Alarms) {
        if alarms.is_empty() != self.alarms.is_empty() {
            let in_alarm = !alarms.is_empty();
            for ch in self.slots.iter_mut().flatten() {
                if ch.in_alarm != in_alarm {
                    ch.in_alarm = in_alarm;
                    ch.queue_event(if in_alarm {
                        Event::Alarm
                    } else {
                        Event::NoAlarm
                    });
                }
            }
        }
        self.alarms = alarms;
    }

    /// Fills `chunk` with what this end sends; returns the line flags.
    #[inline]
    fn transmit(&mut self, kind: SpanKind, chunk: &mut Chunk, dchannel_cut: bool) -> u8 {
        if self.config.is_none() {
            for s in chunk.iter_mut() {
                *s = [0; CHUNK];
            }
            return 0;
        }
        let rai = self.condition.sends_rai();
        let nch = kind.channels() as usize;
        let idle = [idle_code(kind.default_law()); CHUNK];
        let mut flags = SIGNAL;
        match kind {
            SpanKind::E1 => {
                for (k, o) in chunk[0].iter_mut().enumerate() {
                    *o = e1_ts0(self.tx_frame + k as u64, rai);
                }
            }
            SpanKind::T1 => {
                chunk[0] = [0; CHUNK];
                flags |= T1_FRAMED | if rai { T1_RAI } else { 0 };
            }
        }
        for ch in self.slots[1..=nch].iter().flatten() {
            ch.prefetch_tx();
        }
        for (slot, samples) in self.slots[1..=nch].iter_mut().zip(&mut chunk[1..=nch]) {
            match slot {
                Some(ch) => ch.tx_chunk(samples),
                None => *samples = idle,
            }
        }
        for s in chunk.iter_mut().skip(nch + 1) {
            *s = [0xFF; CHUNK];
        }
        if dchannel_cut {
            chunk[kind.dchannel().0 as usize] = [0xFF; CHUNK];
        }
        if self.crc4_on(kind) {
            self.crc4_tx
                .stamp(chunk, self.tx_frame, self.crc4_rx.e_bits);
        }
        self.tx_frame += CHUNK as u64;
        flags
    }

    /// Takes one received chunk through the impairments, the framer and to the channels.
    #[inline]
    fn receive(&mut self, kind: SpanKind, chunk: &mut Chunk, flags: &[u8; CHUNK]) {
        if self.config.is_none() {
            return;
        }
        let nch = kind.channels() as usize;
        let first = if kind == SpanKind::E1 { 0 } else { 1 };
        let signal = flags.iter().any(|f| f & SIGNAL != 0) && !self.rx.los;
        let mut framed_t1 = flags.iter().any(|f| f & T1_FRAMED != 0);
        let rai_t1 = flags.iter().any(|f| f & T1_RAI != 0);
        if !signal {
            // No pulses on the wire: the receiver decodes zeros and loses the frame.
            for s in chunk[first..=nch].iter_mut() {
                *s = [0; CHUNK];
            }
            if kind == SpanKind::E1 {
                self.aligner.lost();
                self.crc4_rx.lost();
            }
            self.condition = LineCondition::Los;
        } else {
            if self.rx.ais {
                for s in chunk[first..=nch].iter_mut() {
                    *s = [0xFF; CHUNK];
                }
                framed_t1 = false;
            }
            let nbits = (nch + 1 - first) * CHUNK * 8;
            if let Some(be) = &mut self.rx.bit_errors {
                let mut n = 0u32;
                be.run(nbits as u64, |bit| {
                    let ts = first + (bit / 64) as usize;
                    let k = ((bit / 8) % 8) as usize;
                    chunk[ts][k] ^= 0x80 >> (bit % 8);
                    n += 1;
                });
                // Line errors show as bipolar violations at the line decoder.
                self.bpv = self.bpv.wrapping_add(n);
            }
            for (ts, mask) in self.rx.flips.drain(..) {
                if let Some(s) = chunk.get_mut(ts as usize) {
                    s[0] ^= mask;
                }
            }
            // G.775: AIS is fewer than 3 zeros in 512 bits.
            let zeros: usize = chunk[first..=nch]
                .iter()
                .map(|s| u64::from_ne_bytes(*s).count_zeros() as usize)
                .sum();
            let all_ones = zeros * 512 < 3 * nbits;
            self.condition = match kind {
                SpanKind::E1 => {
                    self.aligner.push(&chunk[0]);
                    if self.crc4_on(kind) {
                        if self.aligner.aligned() {
                            self.crc4_rx.push(chunk);
                        } else {
                            self.crc4_rx.lost();
                        }
                    }
                    if all_ones && !self.aligner.aligned() {
                        LineCondition::Ais
                    } else if !self.aligner.aligned() {
                        LineCondition::Lfa
                    } else {
                        LineCondition::InFrame {
                            rai: self.aligner.rai(),
                        }
                    }
                }
                SpanKind::T1 => {
                    if !framed_t1 && all_ones {
                        LineCondition::Ais
                    } else if !framed_t1 {
                        LineCondition::Lfa
                    } else {
                        LineCondition::InFrame { rai: rai_t1 }
                    }
                }
            };
        }
        self.integrate(self.condition.alarms());
        let in_alarm = !self.alarms.is_empty();
        for ch in self.slots[1..=nch].iter().flatten() {
            ch.prefetch_rx();
        }
        for (slot, samples) in self.slots[1..=nch].iter_mut().zip(&chunk[1..=nch]) {
            if let Some(ch) = slot {
                ch.rx_chunk(samples, in_alarm);
            }
        }
    }
}

/// A span: two ends and the line between them.
pub(crate) struct Cable {
    pub kind: SpanKind,
    pub ends: [EndSpan; 2],
    /// `lines[e]` carries what end `e` sends to the other end.
    lines: [Line; 2],
    pub dchannel_cut: bool,
    /// Transmitter abort requests, per end, for the D-channel.
    pub abort_tx: [bool; 2],
}

impl Cable {
    pub fn new(
        kind: SpanKind,
        configs: [Option<SpanConfig>; 2],
        delay_chunks: usize,
        debounce: Debounce,
    ) -> Self {
        let mut cable = Cable {
            kind,
            ends: configs.map(|c| EndSpan::new(c, debounce)),
            lines: [Line::new(delay_chunks), Line::new(delay_chunks)],
            dchannel_cut: false,
            abort_tx: [false; 2],
        };
        // The line was already carrying the ends' signals before the simulation began.
        let mut chunk: Chunk = [[0; CHUNK]; TS];
        for _ in 0..delay_chunks {
            for e in 0..2 {
                let flags = cable.ends[e].transmit(kind, &mut chunk, false);
                cable.lines[e].write(&chunk, flags);
            }
        }
        cable
    }

    /// One chunk: both ends transmit, then both receive.
    #[inline]
    pub fn tick(&mut self) {
        let mut chunk: Chunk = [[0; CHUNK]; TS];
        let mut flags = [0u8; CHUNK];
        let dch = self.kind.dchannel().0 as usize;
        for e in 0..2 {
            if self.abort_tx[e] {
                self.abort_tx[e] = false;
                if let Some(ch) = &mut self.ends[e].slots[dch] {
                    ch.abort_tx();
                }
            }
            let line = &mut self.lines[e];
            let f = self.ends[e].transmit(self.kind, line.slot(), self.dchannel_cut);
            line.commit(f);
        }
        for e in 0..2 {
            self.lines[1 - e].read(&mut chunk, &mut flags);
            self.ends[e].receive(self.kind, &mut chunk, &flags);
        }
    }

    /// A slip in what end `at` receives.
    pub fn slip(&mut self, at: usize, kind: SlipKind) -> bool {
        if !self.lines[1 - at].slip(kind) {
            return false;
        }
        let end = &mut self.ends[at];
        end.slips = end.slips.wrapping_add(1);
        end.aligner.slipped();
        end.crc4_rx.slipped(kind == SlipKind::Drop);
        true
    }

    /// The delay, in frames, of what end `at` receives.
    pub fn rx_lag_frames(&self, at: usize) -> usize {
        self.lines[1 - at].lag_frames()
    }
}
