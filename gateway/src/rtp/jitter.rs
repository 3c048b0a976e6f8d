//! An adaptive jitter buffer for G.711, sans-IO.
//!
//! Packets go in with [`JitterBuffer::push`] as they arrive (any packet duration: 10, 20,
//! 30, 40 ms ...); the media tick takes out exactly one 20 ms frame (160 samples) with
//! [`JitterBuffer::pop`] every 20 ms. Samples are stored in a ring indexed by RTP
//! timestamp, so re-chunking, reordering and duplicates come for free: a sample slot is
//! either filled or not.
//!
//! The playout point trails the newest timestamps by a target delay that follows the
//! measured interarrival jitter (RFC 3550 A.8 estimator): late packets push it up one
//! frame at a time (by stretching, i.e. playing one concealment frame without advancing);
//! when the least buffered depth over one second stays a frame above the target, one
//! frame is dropped. A talkspurt start (marker bit) on an empty buffer re-anchors the
//! playout point at the target delay. An SSRC change or a timestamp jump beyond the ring
//! restarts the buffer.

use std::time::Instant;

use super::packet::{RtpPacket, Ssrc};
use crate::media::{Law, FRAME_SAMPLES};

/// Ring capacity in samples (512 ms at 8 kHz), a power of two.
const RING: usize = 4096;
const MASK: i64 = RING as i64 - 1;
const FRAME: i64 = FRAME_SAMPLES as i64;
/// Pops per adaptation window (1 s of 20 ms frames).
const WINDOW: u32 = 50;
/// Longest packet accepted, samples (RFC 3551 §4.5: G.711 packets are typically 10-60 ms).
const MAX_PACKET_SAMPLES: i64 = 1024;

/// Bounds and start value of the buffer delay.
#[derive(Debug, Clone, Copy)]
pub struct JitterBufferConfig {
    pub law: Law,
    /// Smallest target delay, samples (default 20 ms).
    pub min_delay: u32,
    /// Largest target delay, samples (default 200 ms); must stay below 3584 (448 ms).
    pub max_delay: u32,
    /// Starting target delay, samples (default 40 ms).
    pub initial_delay: u32,
}

impl JitterBufferConfig {
    pub fn new(law: Law) -> Self {
        JitterBufferConfig {
            law,
            min_delay: 160,
            max_delay: 1600,
            initial_delay: 320,
        }
    }
}

/// What a pushed packet turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Stored (possibly only partly, if its head was already played).
    Stored,
    /// Every sample of it was already there.
    Duplicate,
    /// Its samples were due before the playout point: dropped.
    Late,
    /// It started a new stream (first packet, new SSRC or timestamp jump): re-mapped.
    Restarted,
    /// Longer than any G.711 packet we accept (over 1,024 samples, 128 ms): dropped.
    Oversized,
}

/// What a popped frame contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// 160 received samples.
    Audio,
    /// Some or all samples were missing although later audio had arrived (loss): the
    /// gap was concealed (previous frame repeated once, then silence).
    Concealed,
    /// Nothing to play (before the first packet, between talkspurts, or the buffer grew).
    Silence,
}

/// Counters a support engineer reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    pub packets: u64,
    pub duplicates: u64,
    pub late: u64,
    /// Frames played with missing samples while later audio was present.
    pub lost_frames: u64,
    pub concealed_frames: u64,
    pub silence_frames: u64,
    pub audio_frames: u64,
    /// Frames dropped to shrink the delay.
    pub dropped_frames: u64,
    /// Frames inserted to grow the delay.
    pub stretched_frames: u64,
    pub ssrc_changes: u64,
    pub resyncs: u64,
    pub oversized: u64,
}

/// The adaptive jitter buffer of one RTP stream.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    cfg: JitterBufferConfig,
    ring: Box<[u8; RING]>,
    present: Box<[u64; RING / 64]>,
    ssrc: Option<Ssrc>,
    epoch: Instant,
    /// Last timestamp seen and its extended value, to unwrap 32-bit timestamps.
    last_ts: u32,
    last_ext: i64,
    /// Extended timestamp of the next sample to play.
    playout: Option<i64>,
    /// One past the newest sample received.
    highest_end: i64,
    /// First sample of the stream or talkspurt: what comes before is lead-in silence.
    anchor: i64,
    /// Added to unwrapped timestamps to place them in the playout timeline.
    offset: i64,
    target: u32,
    jitter: f64,
    last_transit: Option<i64>,
    packet_samples: u32,
    late_since_pop: bool,
    last_frame: [u8; FRAME_SAMPLES],
    concealed_run: u32,
    window_pops: u32,
    window_min_depth: i64,
    stats: JitterStats,
}

impl JitterBuffer {
    pub fn new(now: Instant, cfg: JitterBufferConfig) -> Self {
        let max_delay = cfg.max_delay.min(RING as u32 - 512);
        let min_delay = cfg.min_delay.min(max_delay);
        let cfg = JitterBufferConfig {
            max_delay,
            min_delay,
            initial_delay: cfg.initial_delay.clamp(min_delay, max_delay),
            ..cfg
        };
        JitterBuffer {
            cfg,
            ring: Box::new([cfg.law.silence(); RING]),
            present: Box::new([0; RING / 64]),
            ssrc: None,
            epoch: now,
            last_ts: 0,
            last_ext: 0,
            playout: None,
            highest_end: 0,
            anchor: 0,
            offset: 0,
            target: cfg.initial_delay,
            jitter: 0.0,
            last_transit: None,
            packet_samples: FRAME_SAMPLES as u32,
            late_since_pop: false,
            last_frame: [cfg.law.silence(); FRAME_SAMPLES],
            concealed_run: 0,
            window_pops: 0,
            window_min_depth: i64::MAX,
            stats: JitterStats::default(),
        }
    }

    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Current target delay in samples.
    pub fn target_delay(&self) -> u32 {
        self.target
    }

    /// Estimated interarrival jitter, samples.
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// Samples buffered ahead of the playout point (gaps included).
    pub fn depth(&self) -> i64 {
        match self.playout {
            Some(p) => (self.highest_end - p).max(0),
            None => 0,
        }
    }

    fn is_present(&self, pos: i64) -> bool {
        let i = (pos & MASK) as usize;
        self.present[i / 64] & (1 << (i % 64)) != 0
    }

    fn set_present(&mut self, pos: i64, on: bool) {
        let i = (pos & MASK) as usize;
        if on {
            self.present[i / 64] |= 1 << (i % 64);
        } else {
            self.present[i / 64] &= !(1 << (i % 64));
        }
    }

    /// Calls `f(word, mask)` for each presence word covering positions `pos..pos + n`
    /// (`n` ≤ [`RING`]), in order; stops when `f` returns `false`.
    fn for_words(&mut self, pos: i64, n: usize, mut f: impl FnMut(&mut u64, u64) -> bool) {
        let mut i = (pos & MASK) as usize;
        let mut left = n;
        while left > 0 {
            let bit = i % 64;
            let take = (64 - bit).min(left);
            let mask = if take == 64 {
                u64::MAX
            } else {
                ((1u64 << take) - 1) << bit
            };
            if !f(&mut self.present[i / 64], mask) {
                return;
            }
            left -= take;
            i = (i + take) & MASK as usize;
        }
    }

    /// Whether every position of `pos..pos + n` holds a sample (a word at a time).
    fn all_present(&mut self, pos: i64, n: usize) -> bool {
        let mut all = true;
        self.for_words(pos, n, |w, m| {
            all = *w & m == m;
            all
        });
        all
    }

    /// Whether no position of `pos..pos + n` holds a sample (a word at a time).
    fn none_present(&mut self, pos: i64, n: usize) -> bool {
        let mut none = true;
        self.for_words(pos, n, |w, m| {
            none = *w & m == 0;
            none
        });
        none
    }

    fn set_range(&mut self, pos: i64, n: usize, on: bool) {
        self.for_words(pos, n, |w, m| {
            if on {
                *w |= m;
            } else {
                *w &= !m;
            }
            true
        });
    }

    /// Copy `bytes` into the ring from `pos` on (wrapping).
    fn ring_write(&mut self, pos: i64, bytes: &[u8]) {
        let i = (pos & MASK) as usize;
        let first = bytes.len().min(RING - i);
        self.ring[i..i + first].copy_from_slice(&bytes[..first]);
        self.ring[..bytes.len() - first].copy_from_slice(&bytes[first..]);
    }

    /// Map the stream so that timestamp `ts` lands at the target delay after the playout
    /// point (or right after what is still buffered). Audio already buffered keeps playing.
    fn rebase(&mut self, ts: u32) -> i64 {
        let pos = match self.playout {
            Some(p) => self.highest_end.max(p + self.target as i64),
            None => {
                self.playout = Some(ts as i64 - self.target as i64);
                ts as i64
            }
        };
        self.last_ts = ts;
        self.last_ext = ts as i64;
        self.offset = pos - ts as i64;
        self.last_transit = None;
        self.anchor = pos;
        self.highest_end = self.highest_end.max(pos);
        pos
    }

    fn unwrap_ts(&mut self, ts: u32) -> i64 {
        let ext = self.last_ext + ts.wrapping_sub(self.last_ts) as i32 as i64;
        if ext > self.last_ext {
            self.last_ext = ext;
            self.last_ts = ts;
        }
        ext
    }

    /// A packet arrived at `now`; its payload is G.711 in this buffer's law (the caller
    /// filters by payload type).
    pub fn push(&mut self, now: Instant, pkt: &RtpPacket<'_>) -> PushOutcome {
        self.stats.packets += 1;
        let len = pkt.payload.len() as i64;
        if len > MAX_PACKET_SAMPLES {
            self.stats.oversized += 1;
            return PushOutcome::Oversized;
        }
        let mut outcome = PushOutcome::Stored;
        if self.ssrc != Some(pkt.ssrc) {
            if self.ssrc.is_some() {
                self.stats.ssrc_changes += 1;
                tracing::debug!(old = ?self.ssrc, new = ?pkt.ssrc, "jitter buffer: SSRC change");
            }
            self.ssrc = Some(pkt.ssrc);
            self.rebase(pkt.timestamp);
            outcome = PushOutcome::Restarted;
        }
        let mut ext = self.unwrap_ts(pkt.timestamp) + self.offset;
        let playout = self.playout.unwrap_or(ext - self.target as i64);
        if ext + len - playout > RING as i64 - FRAME || playout - ext > RING as i64 {
            // RFC 3550 §5.1 allows any timestamp jump; beyond the ring we re-map.
            self.stats.resyncs += 1;
            ext = self.rebase(pkt.timestamp);
            outcome = PushOutcome::Restarted;
        } else if pkt.marker && self.highest_end <= playout && outcome == PushOutcome::Stored {
            // Talkspurt start on an empty buffer: re-anchor at the target delay.
            let pos = playout + self.target as i64;
            self.offset += pos - ext;
            ext = pos;
            self.anchor = pos;
        }
        if ext + len <= playout {
            self.stats.late += 1;
            self.late_since_pop = true;
            return PushOutcome::Late;
        }
        let mut stored = 0;
        if ext >= playout && self.none_present(ext, len as usize) {
            // The usual case, a packet in order into free space: one copy, one mask per
            // word of the presence map.
            self.ring_write(ext, pkt.payload);
            self.set_range(ext, len as usize, true);
            stored = len;
        }
        for (i, &b) in pkt.payload.iter().enumerate().skip(stored as usize) {
            let pos = ext + i as i64;
            if pos < playout || self.is_present(pos) {
                continue;
            }
            self.ring[(pos & MASK) as usize] = b;
            self.set_present(pos, true);
            stored += 1;
        }
        if stored == 0 && len > 0 && outcome == PushOutcome::Stored {
            self.stats.duplicates += 1;
            return PushOutcome::Duplicate;
        }
        if len > 0 {
            self.packet_samples = len as u32;
        }
        self.highest_end = self.highest_end.max(ext + len);
        // RFC 3550 A.8 jitter estimate, here in samples, as a float.
        let arrival =
            super::stats::duration_units(now.saturating_duration_since(self.epoch), 8000) as i64;
        let transit = arrival - ext;
        if let Some(last) = self.last_transit {
            let d = (transit - last).abs() as f64;
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
        outcome
    }

    /// The delay the measured jitter asks for: one packet plus four times the jitter,
    /// rounded up to 10 ms, within the bounds.
    fn desired_delay(&self) -> u32 {
        let want = self.packet_samples as f64 + 4.0 * self.jitter;
        let rounded = ((want / 80.0).ceil() * 80.0) as u32;
        rounded.clamp(self.cfg.min_delay, self.cfg.max_delay)
    }

    /// Where the next [`JitterBuffer::pop`] reads (the frame's samples and their
    /// presence bits), as `(address, bytes)` spans; prefetched by the media thread a few
    /// channels ahead of the one it serves.
    pub fn next_pop_spans(&self) -> [(*const u8, usize); 2] {
        let at = (self.playout.unwrap_or(0) & MASK) as usize;
        let len = FRAME_SAMPLES.min(RING - at);
        [
            (self.ring[at..].as_ptr(), len),
            (self.present[at / 64..].as_ptr() as *const u8, 32),
        ]
    }

    /// Where the next in-order [`JitterBuffer::push`] writes (after the newest sample
    /// stored), as in [`JitterBuffer::next_pop_spans`].
    pub fn next_push_spans(&self) -> [(*const u8, usize); 2] {
        let at = (self.highest_end & MASK) as usize;
        let len = FRAME_SAMPLES.min(RING - at);
        [
            (self.ring[at..].as_ptr(), len),
            (self.present[at / 64..].as_ptr() as *const u8, 32),
        ]
    }

    /// Take the next 20 ms frame at `now` into `out`.
    pub fn pop(&mut self, _now: Instant, out: &mut [u8; FRAME_SAMPLES]) -> FrameKind {
        let silence = self.cfg.law.silence();
        let Some(mut playout) = self.playout else {
            out.fill(silence);
            self.stats.silence_frames += 1;
            return FrameKind::Silence;
        };
        // Grow: late packets mean the delay is too short; stretch by one frame.
        if self.late_since_pop {
            self.late_since_pop = false;
            if self.target < self.cfg.max_delay {
                self.target = (self.target + FRAME as u32).min(self.cfg.max_delay);
                self.stats.stretched_frames += 1;
                return self.conceal(out);
            }
        }
        // Shrink: track the least depth over a window.
        let depth = self.highest_end - playout;
        self.window_min_depth = self.window_min_depth.min(depth);
        self.window_pops += 1;
        if self.window_pops >= WINDOW {
            let desired = self.desired_delay();
            if desired < self.target {
                self.target = (self.target - 80).max(desired);
            }
            // The least depth includes the packet that just arrived: what exceeds one
            // packet is the real delay; a frame more than the target is dropped.
            let delay = self.window_min_depth - self.packet_samples as i64;
            if delay >= self.target as i64 + FRAME {
                // Drop the oldest frame.
                for pos in playout..playout + FRAME {
                    self.set_present(pos, false);
                }
                playout += FRAME;
                self.stats.dropped_frames += 1;
            }
            self.window_pops = 0;
            self.window_min_depth = i64::MAX;
        }
        let mut missing = 0;
        let whole = self.all_present(playout, FRAME_SAMPLES);
        if whole {
            // Every sample there: one copy and one mask per word.
            let i = (playout & MASK) as usize;
            let first = FRAME_SAMPLES.min(RING - i);
            out[..first].copy_from_slice(&self.ring[i..i + first]);
            out[first..].copy_from_slice(&self.ring[..FRAME_SAMPLES - first]);
            self.set_range(playout, FRAME_SAMPLES, false);
        }
        for (i, o) in out
            .iter_mut()
            .enumerate()
            .skip(if whole { FRAME_SAMPLES } else { 0 })
        {
            let pos = playout + i as i64;
            if self.is_present(pos) {
                *o = self.ring[(pos & MASK) as usize];
                self.set_present(pos, false);
            } else {
                *o = silence;
                missing += 1;
            }
        }
        let later_audio = self.highest_end > playout + FRAME && playout + FRAME > self.anchor;
        self.playout = Some(playout + FRAME);
        if missing == 0 {
            self.last_frame = *out;
            self.concealed_run = 0;
            self.stats.audio_frames += 1;
            FrameKind::Audio
        } else if missing == FRAME_SAMPLES {
            if later_audio {
                self.stats.lost_frames += 1;
                self.conceal(out)
            } else {
                self.concealed_run = 0;
                self.stats.silence_frames += 1;
                FrameKind::Silence
            }
        } else {
            // Partly received: silence fills the holes.
            self.stats.lost_frames += 1;
            self.stats.concealed_frames += 1;
            self.last_frame = *out;
            FrameKind::Concealed
        }
    }

    /// Repeat the last frame once, then play silence (a minimal G.711 concealment).
    fn conceal(&mut self, out: &mut [u8; FRAME_SAMPLES]) -> FrameKind {
        if self.concealed_run == 0 && self.stats.audio_frames > 0 {
            *out = self.last_frame;
        } else {
            out.fill(self.cfg.law.silence());
        }
        self.concealed_run += 1;
        self.stats.concealed_frames += 1;
        FrameKind::Concealed
    }
}
