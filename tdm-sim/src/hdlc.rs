//! HDLC framing bit by bit inside a 64 kbit/s timeslot (ISO/IEC 13239, as used by Q.921
//! LAPD on the ISDN D-channel).
//!
//! - Frames are delimited by flags `0x7E` (ISO/IEC 13239 §4.3.1); idle time is filled with
//!   flags (§4.3.5, interframe time fill).
//! - Transparency by zero-bit insertion: after five consecutive ones of frame content the
//!   sender inserts a zero, which the receiver deletes (§4.3.2).
//! - The frame check sequence is CRC-16/X.25 (`CRC_16_IBM_SDLC`, generator x¹⁶+x¹²+x⁵+1,
//!   preset ones, ones' complement sent), transmitted low-order octet first (§4.2.5.1,
//!   Q.921 §2.7).
//! - Seven or more consecutive ones abort a frame (§4.3.3).
//! - Octets go on the line low-order bit first (§4.2.2, Q.921 §2.8). On an E1/T1
//!   timeslot the bit sent first is the most significant bit of the timeslot octet
//!   (G.704 §2.3: bit 1 first), so the first HDLC bit of each timeslot octet is its MSB.
//!
//! The encoder and decoder are sans-IO: they take and give timeslot octets. Both are
//! table-driven where it pays: the encoder stuffs a whole octet with one table lookup, the
//! decoder takes an octet in one step when it cannot contain a flag, an abort or a stuffed
//! zero, and skips repeated idle flags without looking at their bits.

use crc::{Crc, CRC_16_IBM_SDLC};

/// CRC-16/X.25, the HDLC/LAPD frame check sequence.
pub const FCS: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_SDLC);

/// The flag octet (ISO/IEC 13239 §4.3.1).
pub const FLAG: u8 = 0x7E;

/// Largest frame content (without FCS) the encoder accepts and the decoder delivers by
/// default; DAHDI's D-channels are configured with 1024-byte buffers by chan_dahdi.
pub const DEFAULT_MAX_FRAME: usize = 1024;

/// Computes the FCS of `frame` as transmitted (low-order octet first).
pub fn fcs_bytes(frame: &[u8]) -> [u8; 2] {
    FCS.checksum(frame).to_le_bytes()
}

/// One entry of the stuffing table: `bits` (first-sent bit in bit 0), how many, and the
/// count of trailing ones afterwards.
#[derive(Clone, Copy)]
struct Stuffed {
    bits: u16,
    len: u8,
    ones: u8,
}

/// `STUFF[ones][octet]`: the octet sent LSB first after `ones` (0..=4) consecutive ones, with
/// a zero inserted after every fifth one (ISO/IEC 13239 §4.3.2).
static STUFF: [[Stuffed; 256]; 5] = build_stuff_table();

const fn build_stuff_table() -> [[Stuffed; 256]; 5] {
    let mut table = [[Stuffed {
        bits: 0,
        len: 0,
        ones: 0,
    }; 256]; 5];
    let mut ones_in = 0;
    while ones_in < 5 {
        let mut byte = 0;
        while byte < 256 {
            let mut bits: u16 = 0;
            let mut len: u8 = 0;
            let mut ones = ones_in as u8;
            let mut i = 0;
            while i < 8 {
                let bit = ((byte >> i) & 1) as u16;
                bits |= bit << len;
                len += 1;
                if bit == 1 {
                    ones += 1;
                    if ones == 5 {
                        // Inserted zero: bit value 0, just advance.
                        len += 1;
                        ones = 0;
                    }
                } else {
                    ones = 0;
                }
                i += 1;
            }
            table[ones_in][byte] = Stuffed { bits, len, ones };
            byte += 1;
        }
        ones_in += 1;
    }
    table
}

/// Longest run of ones inside each octet.
static MAX_RUN: [u8; 256] = build_max_run();

const fn build_max_run() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let mut run = 0u8;
        let mut best = 0u8;
        let mut i = 0;
        while i < 8 {
            if (b >> i) & 1 == 1 {
                run += 1;
                if run > best {
                    best = run;
                }
            } else {
                run = 0;
            }
            i += 1;
        }
        t[b] = best;
        b += 1;
    }
    t
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxState {
    /// Sending interframe flags; the last unit queued was a flag.
    Idle,
    /// Sending frame content and FCS from `frame[pos..]`.
    Data,
}

/// Error returned by [`HdlcEncoder::start_frame`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("a frame is already being sent")]
    Busy,
    #[error("empty frame")]
    Empty,
    #[error("frame of {0} bytes exceeds the maximum")]
    TooLarge(usize),
}

/// HDLC transmitter: frames in, timeslot octets out.
#[derive(Debug, Clone)]
pub struct HdlcEncoder {
    /// Pending line bits, first to send in bit 0.
    acc: u64,
    nbits: u32,
    /// Consecutive ones of frame content sent so far (for zero insertion).
    ones: u8,
    state: TxState,
    /// Frame content followed by its two FCS octets.
    frame: Vec<u8>,
    pos: usize,
    max_frame: usize,
}

impl Default for HdlcEncoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

impl HdlcEncoder {
    /// A transmitter sending flags, accepting frames up to `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        HdlcEncoder {
            acc: FLAG as u64,
            nbits: 8,
            ones: 0,
            state: TxState::Idle,
            frame: Vec::with_capacity(max_frame + 2),
            pos: 0,
            max_frame,
        }
    }

    /// Whether a new frame may be started (nothing but flags is being sent).
    pub fn is_idle(&self) -> bool {
        self.state == TxState::Idle
    }

    /// Starts sending `frame` (content without FCS; the FCS is appended here). The frame
    /// follows the flag already queued, which serves as its opening flag.
    pub fn start_frame(&mut self, frame: &[u8]) -> Result<(), EncodeError> {
        if self.state != TxState::Idle {
            return Err(EncodeError::Busy);
        }
        if frame.is_empty() {
            return Err(EncodeError::Empty);
        }
        if frame.len() > self.max_frame {
            return Err(EncodeError::TooLarge(frame.len()));
        }
        self.frame.clear();
        self.frame.extend_from_slice(frame);
        self.frame.extend_from_slice(&fcs_bytes(frame));
        self.pos = 0;
        self.ones = 0;
        self.state = TxState::Data;
        Ok(())
    }

    /// Aborts the frame being sent: eight ones go out (at least seven are needed,
    /// ISO/IEC 13239 §4.3.3), then flags. Does nothing when idle.
    pub fn abort(&mut self) {
        if self.state == TxState::Data {
            self.push(0xFF, 8);
            self.push(FLAG as u16, 8);
            self.ones = 0;
            self.state = TxState::Idle;
        }
    }

    #[inline]
    fn push(&mut self, bits: u16, len: u32) {
        self.acc |= (bits as u64) << self.nbits;
        self.nbits += len;
    }

    #[inline]
    fn refill(&mut self) {
        match self.state {
            TxState::Idle => self.push(FLAG as u16, 8),
            TxState::Data => {
                let byte = self.frame[self.pos];
                let s = STUFF[self.ones as usize][byte as usize];
                self.push(s.bits, s.len as u32);
                self.ones = s.ones;
                self.pos += 1;
                if self.pos == self.frame.len() {
                    // Closing flag (§4.3.1); it may open the next frame too.
                    self.push(FLAG as u16, 8);
                    self.ones = 0;
                    self.state = TxState::Idle;
                }
            }
        }
    }

    /// The next timeslot octet (first line bit in the MSB).
    #[inline]
    pub fn next_octet(&mut self) -> u8 {
        if self.nbits < 8 {
            self.refill();
        }
        let out = self.acc as u8;
        self.acc >>= 8;
        self.nbits -= 8;
        out.reverse_bits()
    }
}

/// What the decoder found at the end of a frame.
#[derive(Debug, PartialEq, Eq)]
pub enum RxOutcome<'a> {
    /// A frame with a good FCS; the slice is its content, FCS stripped.
    Frame(&'a [u8]),
    /// A frame whose FCS did not check, or that was not a whole number of octets or too
    /// short to hold an FCS (§4.2.5: such frames are invalid).
    BadFcs,
    /// The sender aborted a frame after at least one octet (§4.3.3).
    Abort,
    /// A frame longer than the receive buffer.
    Overrun,
}

/// The decoder's bit-level state, compared to skip repeated idle octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RxBits {
    ones: u8,
    hunting: bool,
    acc: u64,
    nacc: u32,
    frame_bits: u32,
}

/// HDLC receiver: timeslot octets in, frames and errors out.
#[derive(Debug, Clone)]
pub struct HdlcDecoder {
    s: RxBits,
    buf: Vec<u8>,
    max_frame: usize,
    /// An octet that left the state unchanged without output, and that state: the same
    /// octet in the same state is skipped (repeated interframe flags at any bit phase).
    memo: Option<(RxBits, u8)>,
}

impl Default for HdlcDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

impl HdlcDecoder {
    /// A receiver hunting for a flag, delivering frames up to `max_frame` bytes of content.
    pub fn new(max_frame: usize) -> Self {
        HdlcDecoder {
            s: RxBits {
                ones: 0,
                hunting: true,
                acc: 0,
                nacc: 0,
                frame_bits: 0,
            },
            buf: Vec::with_capacity(max_frame + 3),
            max_frame,
            memo: None,
        }
    }

    /// Back to flag hunting, dropping any partial frame.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.s = RxBits {
            ones: 0,
            hunting: true,
            acc: 0,
            nacc: 0,
            frame_bits: 0,
        };
        self.memo = None;
    }

    #[inline]
    fn start_frame(&mut self) {
        self.buf.clear();
        self.s.acc = 0;
        self.s.nacc = 0;
        self.s.frame_bits = 0;
    }

    /// Appends bits (first in bit 0); keeps at least 8 bits back so that a flag's leading
    /// bits can be taken back out.
    #[inline]
    fn append(&mut self, bits: u64, n: u32) -> bool {
        self.s.acc |= bits << self.s.nacc;
        self.s.nacc += n;
        self.s.frame_bits += n;
        if self.s.nacc >= 16 {
            self.buf.push(self.s.acc as u8);
            self.s.acc >>= 8;
            self.s.nacc -= 8;
            if self.buf.len() > self.max_frame + 2 {
                return false;
            }
        }
        true
    }

    fn end_frame(&mut self, out: &mut impl FnMut(RxOutcome<'_>)) {
        // The flag's leading zero and five ones were taken as content: take them back.
        let back = self.s.frame_bits.min(6);
        let data_bits = self.s.frame_bits - back;
        let remain = self.s.nacc - back;
        if data_bits > 0 {
            if data_bits % 8 != 0 {
                out(RxOutcome::BadFcs);
            } else {
                if remain == 8 {
                    self.buf.push(self.s.acc as u8);
                }
                let n = self.buf.len();
                if n < 3 {
                    out(RxOutcome::BadFcs);
                } else if n > self.max_frame + 2 {
                    out(RxOutcome::Overrun);
                } else {
                    let got = u16::from_le_bytes([self.buf[n - 2], self.buf[n - 1]]);
                    if FCS.checksum(&self.buf[..n - 2]) == got {
                        out(RxOutcome::Frame(&self.buf[..n - 2]));
                    } else {
                        out(RxOutcome::BadFcs);
                    }
                }
            }
        }
        self.start_frame();
        self.s.hunting = false;
    }

    /// Feeds one timeslot octet (first line bit in the MSB); `out` is called for each
    /// frame or error completed by it.
    #[inline]
    pub fn push_octet(&mut self, octet: u8, mut out: impl FnMut(RxOutcome<'_>)) {
        let b = octet.reverse_bits();
        let s = &mut self.s;
        if s.hunting {
            // Only a flag ends the hunt; skip octets that cannot complete one.
            if b == 0xFF {
                s.ones = s.ones.saturating_add(8);
                return;
            }
            if s.ones.saturating_add(b.trailing_ones() as u8) < 6 && MAX_RUN[b as usize] < 6 {
                s.ones = b.leading_ones() as u8;
                return;
            }
        } else if s.ones + (b.trailing_ones() as u8) < 5 && MAX_RUN[b as usize] < 5 {
            // Eight content bits: no stuffed zero, flag or abort possible.
            s.ones = b.leading_ones() as u8;
            if !self.append(b as u64, 8) {
                self.overrun(&mut out);
            }
            return;
        }
        if self.buf.is_empty() {
            if let Some((state, memo_octet)) = self.memo {
                if memo_octet == b && state == self.s {
                    return;
                }
            }
        }
        let before = self.s;
        let mut emitted = false;
        for i in 0..8 {
            let bit = (b >> i) & 1;
            if bit == 1 {
                self.s.ones = self.s.ones.saturating_add(1);
                let ones = self.s.ones;
                match ones {
                    1..=5 if !self.s.hunting && !self.append(1, 1) => {
                        self.overrun(&mut out);
                        emitted = true;
                    }
                    6 => {}
                    7 => {
                        // Abort (§4.3.3): report it if an octet of the frame had arrived.
                        if !self.s.hunting && self.s.frame_bits >= 6 + 8 {
                            out(RxOutcome::Abort);
                            emitted = true;
                        }
                        self.start_frame();
                        self.s.hunting = true;
                    }
                    _ => {}
                }
            } else {
                let ones = self.s.ones;
                match ones {
                    5 => {} // inserted zero (§4.3.2): delete it
                    6 => {
                        let mut called = false;
                        self.end_frame(&mut |o| {
                            called = true;
                            out(o)
                        });
                        emitted |= called;
                    }
                    0..=4 if !self.s.hunting && !self.append(0, 1) => {
                        self.overrun(&mut out);
                        emitted = true;
                    }
                    _ => {} // end of an abort/idle run of ones: still hunting
                }
                self.s.ones = 0;
            }
        }
        if !emitted && self.buf.is_empty() && before == self.s {
            self.memo = Some((before, b));
        }
    }

    fn overrun(&mut self, out: &mut impl FnMut(RxOutcome<'_>)) {
        out(RxOutcome::Overrun);
        self.start_frame();
        self.s.hunting = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(frames: &[Vec<u8>], idle_between: usize) -> Vec<Result<Vec<u8>, String>> {
        let mut enc = HdlcEncoder::default();
        let mut dec = HdlcDecoder::default();
        let mut got = Vec::new();
        let feed = |dec: &mut HdlcDecoder, o: u8, got: &mut Vec<_>| {
            dec.push_octet(o, |r| match r {
                RxOutcome::Frame(f) => got.push(Ok(f.to_vec())),
                other => got.push(Err(format!("{other:?}"))),
            })
        };
        for f in frames {
            for _ in 0..idle_between {
                let o = enc.next_octet();
                feed(&mut dec, o, &mut got);
            }
            enc.start_frame(f).unwrap();
            while !enc.is_idle() {
                let o = enc.next_octet();
                feed(&mut dec, o, &mut got);
            }
        }
        for _ in 0..4 {
            let o = enc.next_octet();
            feed(&mut dec, o, &mut got);
        }
        got
    }

    #[test]
    fn fcs_check_value() {
        assert_eq!(FCS.checksum(b"123456789"), 0x906E);
    }

    #[test]
    fn stuffing_heavy_frames_round_trip() {
        let frames = vec![
            vec![0xFF; 40],
            vec![0x7E; 40],
            vec![0x7D; 40],
            (0..=255u8).collect::<Vec<_>>(),
            vec![0x3F, 0x7E, 0xFF, 0xFC, 0x1F, 0xF8],
            vec![0x01],
        ];
        for idle in [0usize, 1, 3] {
            let got = roundtrip(&frames, idle);
            let want: Vec<_> = frames.iter().cloned().map(Ok).collect();
            assert_eq!(got, want, "idle {idle}");
        }
    }

    #[test]
    fn stuffing_inserts_zeros() {
        let mut enc = HdlcEncoder::default();
        // Drain the initial flag.
        assert_eq!(enc.next_octet(), FLAG);
        enc.start_frame(&[0xFF, 0xFF]).unwrap();
        let mut line = Vec::new();
        while !enc.is_idle() {
            line.push(enc.next_octet());
        }
        // No six consecutive ones may appear between the flags.
        let mut bits = Vec::new();
        for o in &line {
            for i in (0..8).rev() {
                bits.push((o >> i) & 1);
            }
        }
        let content = &bits[..bits.len() - 8];
        let mut run = 0;
        for &b in content {
            run = if b == 1 { run + 1 } else { 0 };
            assert!(run <= 5, "run of {run} ones in {line:02x?}");
        }
    }

    #[test]
    fn flipped_bit_gives_bad_fcs() {
        let mut enc = HdlcEncoder::default();
        let mut dec = HdlcDecoder::default();
        let mut got = Vec::new();
        enc.start_frame(b"\x00\x01\x03\x08hello world").unwrap();
        let mut n = 0;
        while !enc.is_idle() {
            let mut o = enc.next_octet();
            n += 1;
            if n == 5 {
                o ^= 0x10;
            }
            dec.push_octet(o, |r| got.push(format!("{r:?}")));
        }
        for _ in 0..3 {
            dec.push_octet(enc.next_octet(), |r| got.push(format!("{r:?}")));
        }
        assert_eq!(got, vec!["BadFcs".to_string()]);
    }

    #[test]
    fn abort_is_reported() {
        let mut enc = HdlcEncoder::default();
        let mut dec = HdlcDecoder::default();
        let mut got = Vec::new();
        enc.start_frame(&[0x55; 30]).unwrap();
        for _ in 0..10 {
            dec.push_octet(enc.next_octet(), |r| got.push(format!("{r:?}")));
        }
        enc.abort();
        for _ in 0..6 {
            dec.push_octet(enc.next_octet(), |r| got.push(format!("{r:?}")));
        }
        enc.start_frame(b"after").unwrap();
        for _ in 0..12 {
            dec.push_octet(enc.next_octet(), |r| got.push(format!("{r:?}")));
        }
        assert_eq!(
            got,
            vec![
                "Abort".to_string(),
                "Frame([97, 102, 116, 101, 114])".into()
            ]
        );
    }

    #[test]
    fn idle_ones_and_garbage_give_nothing() {
        let mut dec = HdlcDecoder::default();
        let mut got = 0;
        for _ in 0..100 {
            dec.push_octet(0xFF, |_| got += 1);
        }
        for _ in 0..100 {
            dec.push_octet(0xD5, |_| got += 1);
        }
        assert_eq!(got, 0);
    }

    #[test]
    fn oversized_frame_overruns() {
        let mut enc = HdlcEncoder::new(64);
        let mut dec = HdlcDecoder::new(16);
        let mut got = Vec::new();
        enc.start_frame(&[0x11; 40]).unwrap();
        for _ in 0..60 {
            dec.push_octet(enc.next_octet(), |r| got.push(format!("{r:?}")));
        }
        assert_eq!(got, vec!["Overrun".to_string()]);
        assert_eq!(enc.start_frame(&[0; 65]), Err(EncodeError::TooLarge(65)));
    }
}

#[cfg(test)]
mod randomized {
    use super::*;
    use crate::prng::SplitMix64;

    fn random_frame(rng: &mut SplitMix64, max: usize) -> Vec<u8> {
        let len = 1 + (rng.next_u64() as usize % max);
        (0..len)
            .map(|_| match rng.next_u64() % 4 {
                0 => 0xFF,
                1 => 0x7E,
                2 => 0x7D,
                _ => rng.next_u64() as u8,
            })
            .collect()
    }

    /// Thousands of random frames (biased to stuffing-heavy octets), random idle between
    /// them, some hit by a flipped bit: every clean frame arrives exact and in order, no
    /// hit frame is ever delivered altered.
    #[test]
    fn random_frames_with_random_hits() {
        let mut rng = SplitMix64::new(2024);
        let mut enc = HdlcEncoder::default();
        let mut dec = HdlcDecoder::default();
        let mut sent_clean = Vec::new();
        let mut got = Vec::new();
        let mut errors = 0;
        let mut hits = 0;
        for _ in 0..3000 {
            let frame = random_frame(&mut rng, 300);
            let hit = rng.next_u64() % 5 == 0;
            // Idle flags (the previous frame's closing flag may still be finishing).
            for _ in 0..rng.next_u64() % 4 {
                dec.push_octet(enc.next_octet(), |r| match r {
                    RxOutcome::Frame(f) => got.push(f.to_vec()),
                    _ => errors += 1,
                });
            }
            enc.start_frame(&frame).unwrap();
            let mut n = 0;
            let flip_at = 1 + rng.next_u64() as usize % frame.len();
            while !enc.is_idle() {
                let mut o = enc.next_octet();
                n += 1;
                if hit && n == flip_at {
                    o ^= 1 << (rng.next_u64() % 8);
                }
                dec.push_octet(o, |r| match r {
                    RxOutcome::Frame(f) => got.push(f.to_vec()),
                    _ => errors += 1,
                });
            }
            // Flush the closing flag through the decoder.
            dec.push_octet(enc.next_octet(), |r| match r {
                RxOutcome::Frame(f) => got.push(f.to_vec()),
                _ => errors += 1,
            });
            if hit {
                hits += 1;
            } else {
                sent_clean.push(frame);
            }
        }
        // No hit frame is ever delivered: what arrives is clean frames, in order. A hit on
        // a flag merges two frames (losing a clean neighbour too), which is rare.
        let mut it = sent_clean.iter();
        for (i, g) in got.iter().enumerate() {
            assert!(
                it.by_ref().any(|s| s == g),
                "delivered frame {i} ({} octets) was never sent clean",
                g.len()
            );
        }
        let lost = sent_clean.len() - got.len();
        assert!(lost * 20 < hits, "{lost} clean frames lost for {hits} hits");
        assert!(errors >= hits, "{errors} errors for {hits} hits");
    }

    /// Any octets at all: no panic, and whatever comes out is bounded.
    #[test]
    fn arbitrary_octets_never_panic() {
        let mut rng = SplitMix64::new(7);
        let mut dec = HdlcDecoder::new(64);
        let mut frames = 0usize;
        for i in 0..2_000_000u32 {
            let o = match i % 1000 {
                0..=99 => 0x7E,
                100..=149 => 0xFF,
                _ => rng.next_u64() as u8,
            };
            dec.push_octet(o, |r| {
                if let RxOutcome::Frame(f) = r {
                    assert!(f.len() <= 64);
                    frames += 1;
                }
            });
        }
        // Random data almost never has a valid FCS.
        assert!(frames < 100, "{frames}");
    }
}
