//! Direct A-law ↔ µ-law conversion, per ITU-T G.711 Table 3 (µ-law → A-law) and
//! Table 4 (A-law → µ-law).
//!
//! The tables pair codes by their position in the magnitude scale (0 = the smallest
//! magnitude, 127 = the largest) and keep the sign. The piecewise rules below restate the
//! two tables; the 256-entry lookups are built from them at compile time, so converting a
//! 160-byte frame is 160 loads with no arithmetic.
//!
//! One row is read two ways in circulation: A-law position 79 → µ-law 79 (here, as in
//! the widely copied Sun reference tables and Tixy's G.711 code) or → 80 (a later
//! "corrected" variant, paired with µ 80 → A 79). The two readings differ by one µ-law
//! step for that one code (an A-law level of 4032 in 16-bit units);
//! check it against the Recommendation's Table 4 if a bit-exact conformance test needs it.

use super::g711::{Law, FRAME_SAMPLES};

/// Magnitude position of an A-law code (0..=127) and its sign bit (0x80 = positive).
const fn alaw_position(code: u8) -> (u8, u8) {
    let c = code ^ 0x55;
    (c & 0x7F, c & 0x80)
}

/// Magnitude position of a µ-law code (0..=127) and its sign bit (0x80 = positive).
const fn ulaw_position(code: u8) -> (u8, u8) {
    let c = !code;
    (c & 0x7F, (c & 0x80) ^ 0x80)
}

const fn alaw_from_position(pos: u8, sign: u8) -> u8 {
    (pos | sign) ^ 0x55
}

const fn ulaw_from_position(pos: u8, sign: u8) -> u8 {
    !(pos | (sign ^ 0x80))
}

/// G.711 Table 4: A-law position → µ-law position.
const fn table4(a: u8) -> u8 {
    match a {
        0..=7 => 2 * a + 1,
        8..=23 => a + 8,
        24..=31 => a / 2 + 20,
        32..=44 => a + 4,
        45..=46 => a + 3,
        47..=62 => a + 2,
        63..=78 => a + 1,
        _ => a,
    }
}

/// G.711 Table 3: µ-law position → A-law position.
const fn table3(u: u8) -> u8 {
    match u {
        0..=15 => u / 2,
        16..=32 => u - 8,
        33..=35 => 2 * u - 40,
        36..=47 => u - 4,
        48..=49 => 2 * u - 51,
        50..=63 => u - 2,
        64..=79 => u - 1,
        _ => u,
    }
}

const fn build_a2u() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let (pos, sign) = alaw_position(i as u8);
        t[i] = ulaw_from_position(table4(pos), sign);
        i += 1;
    }
    t
}

const fn build_u2a() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let (pos, sign) = ulaw_position(i as u8);
        t[i] = alaw_from_position(table3(pos), sign);
        i += 1;
    }
    t
}

/// A-law byte → µ-law byte (G.711 Table 4).
pub static ALAW_TO_ULAW: [u8; 256] = build_a2u();
/// µ-law byte → A-law byte (G.711 Table 3).
pub static ULAW_TO_ALAW: [u8; 256] = build_u2a();

/// Convert one A-law byte to µ-law.
#[inline]
pub fn alaw_to_ulaw(code: u8) -> u8 {
    ALAW_TO_ULAW[code as usize]
}

/// Convert one µ-law byte to A-law.
#[inline]
pub fn ulaw_to_alaw(code: u8) -> u8 {
    ULAW_TO_ALAW[code as usize]
}

/// Convert `input` from law `from` to law `to` into `out` (same length, or the shorter
/// of the two). When the laws are equal the bytes are copied untouched.
/// Returns the number of bytes written.
pub fn transcode(from: Law, to: Law, input: &[u8], out: &mut [u8]) -> usize {
    let n = input.len().min(out.len());
    let table = match (from, to) {
        (Law::ALaw, Law::MuLaw) => &ALAW_TO_ULAW,
        (Law::MuLaw, Law::ALaw) => &ULAW_TO_ALAW,
        _ => {
            out[..n].copy_from_slice(&input[..n]);
            return n;
        }
    };
    for (o, &c) in out[..n].iter_mut().zip(&input[..n]) {
        *o = table[c as usize];
    }
    n
}

/// Convert one 20 ms frame (160 bytes) in place.
pub fn transcode_frame(from: Law, to: Law, frame: &mut [u8; FRAME_SAMPLES]) {
    let table = match (from, to) {
        (Law::ALaw, Law::MuLaw) => &ALAW_TO_ULAW,
        (Law::MuLaw, Law::ALaw) => &ULAW_TO_ALAW,
        _ => return,
    };
    for c in frame.iter_mut() {
        *c = table[*c as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::g711::{alaw_to_linear, ulaw_to_linear};

    #[test]
    fn silence_maps_to_silence() {
        // A-law positive zero (position 0, value +1 of 4096) → µ-law position 1 (value 2).
        assert_eq!(alaw_to_ulaw(0xD5), 0xFE);
        // µ-law zeros both → A-law position 0.
        assert_eq!(ulaw_to_alaw(0xFF), 0xD5);
        assert_eq!(ulaw_to_alaw(0x7F), 0x55);
    }

    #[test]
    fn extremes_map_to_extremes() {
        assert_eq!(alaw_to_ulaw(0xAA), 0x80);
        assert_eq!(alaw_to_ulaw(0x2A), 0x00);
        assert_eq!(ulaw_to_alaw(0x80), 0xAA);
        assert_eq!(ulaw_to_alaw(0x00), 0x2A);
    }

    #[test]
    fn sign_is_kept_and_positions_are_monotonic() {
        let mut last_u = 0;
        let mut last_a = 0;
        for pos in 0..128u8 {
            let a = alaw_from_position(pos, 0x80);
            let u = alaw_to_ulaw(a);
            assert!(ulaw_to_linear(u) > 0 || pos == 0);
            assert!(ulaw_to_linear(alaw_to_ulaw(alaw_from_position(pos, 0))) <= 0);
            let up = ulaw_position(u).0;
            assert!(up >= last_u, "Table 4 not monotonic at {pos}");
            last_u = up;
            let ua = ulaw_to_alaw(ulaw_from_position(pos, 0x80));
            let ap = alaw_position(ua).0;
            assert!(ap >= last_a, "Table 3 not monotonic at {pos}");
            last_a = ap;
        }
    }

    #[test]
    fn converted_value_is_close_to_the_original() {
        // The converted code decodes to a value within one step of the coarser law at
        // that level: a loose bound of 1/16 of the value or 24 units (16-bit) near zero.
        for c in 0..=255u8 {
            let a = alaw_to_linear(c) as i32;
            let u = ulaw_to_linear(alaw_to_ulaw(c)) as i32;
            assert!(
                (a - u).abs() <= (a.abs() / 16).max(24),
                "A {c:#04x}: {a} → {u}"
            );
            let u0 = ulaw_to_linear(c) as i32;
            let a0 = alaw_to_linear(ulaw_to_alaw(c)) as i32;
            assert!(
                (u0 - a0).abs() <= (u0.abs() / 16).max(24),
                "µ {c:#04x}: {u0} → {a0}"
            );
        }
    }

    #[test]
    fn table_rows() {
        // Rows of G.711 Tables 3 and 4 where the mapping is not a plain offset.
        assert_eq!(
            (table4(0), table4(7), table4(24), table4(25)),
            (1, 15, 32, 32)
        );
        assert_eq!(
            (table4(44), table4(45), table4(46), table4(79)),
            (48, 48, 49, 79)
        );
        assert_eq!(
            (table3(0), table3(1), table3(33), table3(35)),
            (0, 0, 26, 30)
        );
        assert_eq!(
            (table3(48), table3(49), table3(64), table3(80)),
            (45, 47, 63, 80)
        );
    }

    #[test]
    fn alaw_mu_alaw_is_transparent_in_the_top_segments() {
        // From A-law position 80 (segment 5) upwards both tables are the identity.
        for pos in 80..128u8 {
            for sign in [0u8, 0x80] {
                let a = alaw_from_position(pos, sign);
                assert_eq!(ulaw_to_alaw(alaw_to_ulaw(a)), a, "position {pos}");
            }
        }
    }

    #[test]
    fn frame_conversion_matches_per_byte() {
        let mut frame = [0u8; FRAME_SAMPLES];
        for (i, b) in frame.iter_mut().enumerate() {
            *b = (i * 37 % 256) as u8;
        }
        let orig = frame;
        transcode_frame(Law::ALaw, Law::MuLaw, &mut frame);
        for (i, &b) in frame.iter().enumerate() {
            assert_eq!(b, alaw_to_ulaw(orig[i]));
        }
        let mut out = [0u8; FRAME_SAMPLES];
        assert_eq!(transcode(Law::MuLaw, Law::MuLaw, &orig, &mut out), 160);
        assert_eq!(out, orig);
    }
}
