//! The E1 CRC-4 multiframe (G.704 §2.3.3, G.706 §4.2–4.3).
//!
//! Sixteen frames make a multiframe of two sub-multiframes (SMF) of eight. Bit 1 (Si) of
//! timeslot 0 carries, in the FAS frames 0, 2, 4, 6 of each SMF, the bits C1..C4 of the
//! CRC-4 of the previous SMF; in the NFAS frames 1, 3, 5, 7, 9, 11 the multiframe
//! alignment signal `001011`; in frames 13 and 15 the E bits, which report errored SMFs
//! received (0 = errored) back to the far end (G.704 Table 5b). The CRC-4 is the remainder
//! of the SMF's 2048 bits (C bits taken as 0), multiplied by x⁴, divided by x⁴ + x + 1
//! (G.704 §2.3.3.5.2).
//!
//! A chunk is eight frames, so each transmitted chunk is exactly one SMF. The receiver
//! works frame by frame (slips move its chunks against the SMFs), finds the multiframe
//! from the MFAS bits, checks each SMF against the C bits that follow and counts the
//! errors (`crc4_count`). Controlled slips happen in the slip buffer after the framer on
//! real cards, so the CRC check never sees them; here the receiver is told of a slip and
//! shifts its multiframe position instead of reporting errors.

use crate::cable::{Chunk, CHUNK, TS};

/// The multiframe alignment signal in the NFAS frames 1, 3, 5, 7, 9, 11.
const MFAS: [u8; 6] = [0, 0, 1, 0, 1, 1];

/// `TABLE[r][b]`: the CRC-4 register `r` after the octet `b` (bit 1 = MSB first).
static TABLE: [[u8; 256]; 16] = build_table();

const fn build_table() -> [[u8; 256]; 16] {
    let mut t = [[0u8; 256]; 16];
    let mut r0 = 0;
    while r0 < 16 {
        let mut b = 0;
        while b < 256 {
            let mut r = r0 as u8;
            let mut i = 0;
            while i < 8 {
                let bit = ((b >> (7 - i)) & 1) as u8;
                let fb = ((r >> 3) & 1) ^ bit;
                r = (r << 1) & 0x0F;
                if fb == 1 {
                    r ^= 0x03;
                }
                i += 1;
            }
            t[r0][b] = r;
            b += 1;
        }
        r0 += 1;
    }
    t
}

/// CRC-4 register after one frame's 32 octets; the Si bit of a FAS frame counts as 0.
#[inline]
fn crc_frame(mut r: u8, ts0: u8, rest: impl Iterator<Item = u8>, fas: bool) -> u8 {
    r = TABLE[r as usize][(if fas { ts0 & 0x7F } else { ts0 }) as usize];
    for o in rest {
        r = TABLE[r as usize][o as usize];
    }
    r
}

/// The CRC-4 of a whole SMF held in one chunk (Si bits of its FAS frames taken as 0),
/// without a bit-serial or octet-serial pass: x⁴ + x + 1 divides x¹⁵ + 1, so the message
/// can be folded modulo x¹⁵ + 1 first, where multiplying by xⁿ is a 15-bit rotation. The
/// octet of frame k, timeslot t sits at x^(256·(7−k) + 8·(31−t)) ≡ x^((7−k) + 8·(31−t))
/// (256 ≡ 1 mod 15): per timeslot the eight octets fold into one 15-bit value, rotated by
/// 8·(31−t) mod 15. Same result as the octet-serial register over the 8 frames.
#[inline]
pub fn smf_crc(chunk: &Chunk) -> u8 {
    // Rotation of each timeslot's fold: 8·(31 − t) mod 15.
    const ROT: [u32; TS] = {
        let mut r = [0u32; TS];
        let mut t = 0;
        while t < TS {
            r[t] = (8 * (31 - t as u32)) % 15;
            t += 1;
        }
        r
    };
    let mut acc: u32 = 0;
    for (t, samples) in chunk.iter().enumerate() {
        let mut w = u64::from_le_bytes(*samples);
        if t == 0 {
            // Bit 1 (Si, the MSB) of the FAS frames 0, 2, 4, 6: the C bits, taken as 0.
            w &= !0x0080_0080_0080_0080;
        }
        let g = fold_octets(w) as u32;
        let s = ROT[t];
        acc ^= ((g << s) | (g >> (15 - s))) & 0x7FFF;
    }
    reduce(acc << 4)
}

/// XOR of octet k of `w` (k = 0 in the low octet) shifted left by 7 − k: three halving
/// steps on the byte-swapped word instead of eight extractions.
#[inline]
fn fold_octets(w: u64) -> u64 {
    let y = w.swap_bytes(); // octet k now at 8·(7 − k)
    let p = (y & 0x00FF_00FF_00FF_00FF) ^ ((y >> 7) & 0x01FE_01FE_01FE_01FE);
    let q = (p & 0x0000_01FF_0000_01FF) ^ ((p >> 14) & 0x0000_07FC_0000_07FC);
    (q & 0x7FF) ^ ((q >> 28) & 0x7FF0)
}

/// A polynomial of degree < 19 modulo x⁴ + x + 1.
#[inline]
fn reduce(mut v: u32) -> u8 {
    for d in (4..19).rev() {
        if v & (1 << d) != 0 {
            v ^= 0b10011 << (d - 4);
        }
    }
    v as u8
}

/// The Si bit of frame `f` (0..16) of the multiframe.
#[inline]
fn si_bit(f: usize, c_bits: u8, e_bits: [bool; 2]) -> u8 {
    if f % 2 == 0 {
        (c_bits >> (3 - (f % 8) / 2)) & 1
    } else {
        match f {
            13 => e_bits[0] as u8,
            15 => e_bits[1] as u8,
            _ => MFAS[f / 2],
        }
    }
}

/// The sending side: C bits of the last SMF sent, E bits to report.
#[derive(Debug, Clone, Default)]
pub struct Crc4Tx {
    c_bits: u8,
}

impl Crc4Tx {
    /// Sets the Si bits of the chunk's timeslot 0 (frames `first_frame..+8`, one SMF),
    /// then computes the chunk's CRC-4 for the next SMF. `e_bits` is what our receiver
    /// wants reported (true = SMF received without error).
    pub fn stamp(&mut self, chunk: &mut Chunk, first_frame: u64, e_bits: [bool; 2]) {
        let base = (first_frame % 16) as usize;
        for (k, o) in chunk[0].iter_mut().enumerate() {
            let si = si_bit(base + k, self.c_bits, e_bits);
            *o = (*o & 0x7F) | (si << 7);
        }
        self.c_bits = smf_crc(chunk);
    }
}

/// The receiving side.
#[derive(Debug, Clone)]
pub struct Crc4Rx {
    aligned: bool,
    /// Multiframe position of the next frame (0..16), when aligned.
    pos: usize,
    /// Si bits of the last NFAS frames, newest in bit 0 (alignment search).
    hist: u8,
    /// CRC register of the SMF being received, and whether it started at its first frame.
    acc: u8,
    acc_valid: bool,
    /// CRC of the SMF before, waiting for its C bits.
    expect: Option<u8>,
    c_bits: u8,
    /// Multiframes in a row whose MFAS bits were wrong (G.706 §4.3: loss of multiframe).
    mfas_bad: u8,
    mfas_ok_this: bool,
    /// Errored SMFs (`crc4_count`).
    pub errors: u32,
    /// E bits for our transmitter: true = that SMF arrived intact.
    pub e_bits: [bool; 2],
}

impl Default for Crc4Rx {
    fn default() -> Self {
        Crc4Rx {
            aligned: false,
            pos: 0,
            hist: 0,
            acc: 0,
            acc_valid: false,
            expect: None,
            c_bits: 0,
            mfas_bad: 0,
            mfas_ok_this: true,
            errors: 0,
            e_bits: [true; 2],
        }
    }
}

impl Crc4Rx {
    pub fn multiframe_aligned(&self) -> bool {
        self.aligned
    }

    /// The frame was lost: search the multiframe again.
    pub fn lost(&mut self) {
        let errors = self.errors;
        *self = Crc4Rx {
            errors,
            ..Crc4Rx::default()
        };
    }

    /// A slip dropped (`+1`) or repeated (`-1`) a frame after the framer: follow it
    /// without checking the SMFs it touched.
    pub fn slipped(&mut self, drop: bool) {
        if self.aligned {
            self.pos = if drop {
                (self.pos + 1) % 16
            } else {
                (self.pos + 15) % 16
            };
            self.acc_valid = false;
            self.expect = None;
        }
    }

    /// Takes the frames of a received chunk, in order.
    pub fn push(&mut self, chunk: &Chunk) {
        // The usual case: the chunk is exactly one SMF; its CRC comes in one fold.
        let whole = self.aligned && self.pos % 8 == 0;
        for k in 0..CHUNK {
            self.frame(chunk, k, !whole);
        }
        if whole && self.aligned && self.acc_valid {
            self.acc = smf_crc(chunk);
        }
    }

    fn frame(&mut self, chunk: &Chunk, k: usize, serial_crc: bool) {
        let ts0 = chunk[0][k];
        let si = ts0 >> 7;
        if !self.aligned {
            // An NFAS word has bit 2 set (G.704 Table 4b); its Si bits spell the MFAS.
            if ts0 & 0x40 != 0 {
                self.hist = ((self.hist << 1) | si) & 0x3F;
                if self.hist == 0b001011 {
                    self.aligned = true;
                    self.pos = 12;
                    self.acc_valid = false;
                    self.expect = None;
                    self.mfas_bad = 0;
                    self.mfas_ok_this = true;
                }
            }
            return;
        }
        let f = self.pos;
        if f % 8 == 0 {
            self.expect = self.acc_valid.then_some(self.acc);
            self.acc = 0;
            self.acc_valid = true;
            self.c_bits = 0;
        }
        if f == 0 {
            if self.mfas_ok_this {
                self.mfas_bad = 0;
            } else {
                self.mfas_bad += 1;
                if self.mfas_bad >= 2 {
                    self.lost();
                    return;
                }
            }
            self.mfas_ok_this = true;
        }
        if f % 2 == 0 {
            self.c_bits |= si << (3 - (f % 8) / 2);
            if f % 8 == 6 {
                if let Some(want) = self.expect.take() {
                    let ok = want == self.c_bits;
                    if !ok {
                        self.errors = self.errors.wrapping_add(1);
                    }
                    // This checks the previous SMF: SMF II of the last multiframe when we
                    // are in SMF I, and SMF I when we are in SMF II.
                    self.e_bits[if f < 8 { 1 } else { 0 }] = ok;
                }
            }
        } else if f <= 11 && si != MFAS[f / 2] {
            self.mfas_ok_this = false;
        }
        if self.acc_valid && serial_crc {
            self.acc = crc_frame(self.acc, ts0, (1..TS).map(|ts| chunk[ts][k]), f % 2 == 0);
        }
        self.pos = (f + 1) % 16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::e1_ts0;

    fn chunks(n: usize, seed: u8) -> Vec<Chunk> {
        let mut tx = Crc4Tx::default();
        (0..n)
            .map(|c| {
                let mut ch: Chunk = [[0; CHUNK]; TS];
                for (ts, s) in ch.iter_mut().enumerate() {
                    for (k, o) in s.iter_mut().enumerate() {
                        *o = (ts as u8).wrapping_mul(31) ^ (k as u8) ^ (c as u8).wrapping_mul(seed);
                    }
                }
                for (k, o) in ch[0].iter_mut().enumerate() {
                    *o = e1_ts0((c * CHUNK + k) as u64, false);
                }
                tx.stamp(&mut ch, (c * CHUNK) as u64, [true; 2]);
                ch
            })
            .collect()
    }

    #[test]
    fn check_value_of_the_register() {
        // x⁴ + x + 1 over one octet 0x80 (x⁷): x¹¹ mod P = x³ + x² + x = 0b1110.
        assert_eq!(TABLE[0][0x80], 0b1110);
    }

    #[test]
    fn folded_crc_equals_the_serial_one() {
        let mut rng = crate::prng::SplitMix64::new(5);
        for _ in 0..500 {
            let mut ch: Chunk = [[0; CHUNK]; TS];
            for s in ch.iter_mut() {
                *s = rng.next_u64().to_le_bytes();
            }
            let r = (0..CHUNK).fold(0u8, |r, k| {
                crc_frame(r, ch[0][k], (1..TS).map(|ts| ch[ts][k]), k % 2 == 0)
            });
            assert_eq!(smf_crc(&ch), r);
        }
    }

    #[test]
    fn si_bits_carry_the_mfas() {
        let c = chunks(4, 7);
        let si: Vec<u8> = c
            .iter()
            .flat_map(|ch| ch[0].iter().map(|o| o >> 7))
            .collect();
        let nfas: Vec<u8> = (0..6).map(|i| si[1 + 2 * i]).collect();
        assert_eq!(nfas, MFAS);
        assert_eq!(si[13], 1);
        assert_eq!(si[15], 1);
    }

    #[test]
    fn clean_line_has_no_errors_and_a_flipped_bit_one() {
        let mut c = chunks(40, 3);
        let mut rx = Crc4Rx::default();
        for ch in &c[..20] {
            rx.push(ch);
        }
        assert!(rx.multiframe_aligned());
        assert_eq!(rx.errors, 0);
        c[25][9][3] ^= 0x10;
        for ch in &c[20..] {
            rx.push(ch);
        }
        assert_eq!(rx.errors, 1);
    }
}
