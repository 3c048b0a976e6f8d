//! G.711 companding (ITU-T G.711 §3, Tables 1a/1b for A-law, 2a/2b for µ-law), enough to
//! put test tones on a timeslot and measure what comes back.

use dahdi_driver::Law;

const SEG_END: [i32; 8] = [0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF, 0x3FFF, 0x7FFF];

fn segment(v: i32, ends: &[i32; 8]) -> usize {
    ends.iter().position(|&e| v <= e).unwrap_or(8)
}

/// A-law encoding of a 16-bit linear sample (even bits inverted, G.711 §3.1).
pub fn linear_to_alaw(sample: i16) -> u8 {
    const A_END: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];
    let mut v = (sample as i32) >> 3;
    let mask = if v >= 0 {
        0xD5
    } else {
        v = -v - 1;
        0x55
    };
    let seg = segment(v, &A_END);
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let mut a = (seg as i32) << 4;
    a |= if seg < 2 {
        (v >> 1) & 0xF
    } else {
        (v >> seg) & 0xF
    };
    (a as u8) ^ mask
}

/// Linear value of an A-law code.
pub fn alaw_to_linear(code: u8) -> i16 {
    let a = code ^ 0x55;
    let mut t = ((a & 0x0F) as i32) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

/// µ-law encoding of a 16-bit linear sample (G.711 §3.2, bias 0x84).
pub fn linear_to_ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    let mut v = (sample as i32) >> 2;
    let mask = if v < 0 {
        v = -v;
        0x7F
    } else {
        0xFF
    };
    v = (v + (BIAS >> 2)).min(8159);
    let seg = segment(v << 2, &SEG_END);
    let u = if seg >= 8 {
        0x7F
    } else {
        (((seg as i32) << 4) | (((v << 2) >> (seg + 3)) & 0xF)) as u8
    };
    u ^ mask
}

/// Linear value of a µ-law code.
pub fn ulaw_to_linear(code: u8) -> i16 {
    let u = !code;
    let mut t = (((u & 0x0F) as i32) << 3) + 0x84;
    t <<= (u & 0x70) >> 4;
    (if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 }) as i16
}

pub fn encode(law: Law, sample: i16) -> u8 {
    match law {
        Law::ALaw => linear_to_alaw(sample),
        Law::MuLaw => linear_to_ulaw(sample),
    }
}

pub fn decode(law: Law, code: u8) -> i16 {
    match law {
        Law::ALaw => alaw_to_linear(code),
        Law::MuLaw => ulaw_to_linear(code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_codes() {
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(linear_to_ulaw(0), 0xFF);
    }

    #[test]
    fn round_trips_within_quantisation() {
        for s in (-32000i32..32000).step_by(97) {
            let s = s as i16;
            for law in [Law::ALaw, Law::MuLaw] {
                let back = decode(law, encode(law, s)) as i32;
                let err = (back - s as i32).abs();
                assert!(err <= (s as i32).abs() / 16 + 16, "{law:?} {s} -> {back}");
            }
        }
        for c in 0..=255u8 {
            assert_eq!(linear_to_alaw(alaw_to_linear(c)), c);
            if c != 0x7F {
                assert_eq!(linear_to_ulaw(ulaw_to_linear(c)), c, "{c:#x}");
            }
        }
    }
}
