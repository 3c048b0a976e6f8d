#![no_std]
//! ITU-T G.711 pulse code modulation: A-law and µ-law.
//!
//! The workspace's single G.711 implementation: the DAHDI driver layer (the channel law of
//! `DAHDI_SETLAW`), the TDM simulator, the gateway's media engine and the end-to-end tests
//! all use these functions, so a tone encoded by one is decoded bit for bit by another.
//!
//! ```
//! use g711::Law;
//! assert_eq!(Law::ALaw.encode(0), 0xD5); // positive zero, an idle E1 timeslot
//! assert_eq!(Law::MuLaw.decode(0xFF), 0);
//! let code = Law::ALaw.encode(1000);
//! assert!((Law::ALaw.decode(code) - 1000).abs() <= 16);
//! ```
//!
//! Linear samples are 16-bit two's complement (`i16`). A-law carries 13 significant bits
//! (the 16-bit value is the 13-bit value shifted left by 3), µ-law 14 bits (shifted left
//! by 2), which is how G.711's "uniform PCM" columns (Tables 1a/2a, normalised to 4096 and
//! 8192) line up with a 16-bit full scale.
//!
//! Encoders follow the segment/quantisation layout of G.711 §3 (A-law, Table 1) and §4
//! (µ-law, Table 2). Negative inputs use the one's complement magnitude (`!x`), as the
//! ITU-T G.191 reference tools do, so that the quantiser is symmetric about −½ LSB.
//! Decoders are 256-entry tables computed at compile time from the same layout.

/// Sampling rate of G.711 (G.711 §1): 8000 samples per second.
pub const SAMPLE_RATE: u32 = 8000;

/// The companding law of a G.711 stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    /// A-law (G.711 §3): E1 spans, RTP payload type 8 (PCMA).
    ALaw,
    /// µ-law (G.711 §4): T1 spans, RTP payload type 0 (PCMU).
    MuLaw,
}

impl Law {
    /// The code for a zero-valued sample (positive zero): A-law `0xD5`, µ-law `0xFF`.
    /// This is what an idle/silent B-channel carries and what we play for silence.
    pub const fn silence(self) -> u8 {
        match self {
            Law::ALaw => ALAW_SILENCE,
            Law::MuLaw => ULAW_SILENCE,
        }
    }

    /// Encode one linear sample.
    #[inline]
    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Law::ALaw => linear_to_alaw(sample),
            Law::MuLaw => linear_to_ulaw(sample),
        }
    }

    /// Decode one G.711 byte.
    #[inline]
    pub fn decode(self, code: u8) -> i16 {
        match self {
            Law::ALaw => alaw_to_linear(code),
            Law::MuLaw => ulaw_to_linear(code),
        }
    }

    /// Encode a block; `out` must be at least as long as `input` (extra bytes untouched).
    /// Returns the number of bytes written.
    pub fn encode_block(self, input: &[i16], out: &mut [u8]) -> usize {
        let n = input.len().min(out.len());
        for (o, &s) in out[..n].iter_mut().zip(&input[..n]) {
            *o = self.encode(s);
        }
        n
    }

    /// Decode a block; returns the number of samples written.
    pub fn decode_block(self, input: &[u8], out: &mut [i16]) -> usize {
        let n = input.len().min(out.len());
        let table = match self {
            Law::ALaw => &ALAW_DECODE,
            Law::MuLaw => &ULAW_DECODE,
        };
        for (o, &c) in out[..n].iter_mut().zip(&input[..n]) {
            *o = table[c as usize];
        }
        n
    }

    /// The static RTP payload type of this law (RFC 3551 Table 4): PCMU 0, PCMA 8.
    pub const fn rtp_payload_type(self) -> u8 {
        match self {
            Law::ALaw => 8,
            Law::MuLaw => 0,
        }
    }

    /// The SDP/RTP encoding name (RFC 3551 §4.5.14).
    pub const fn encoding_name(self) -> &'static str {
        match self {
            Law::ALaw => "PCMA",
            Law::MuLaw => "PCMU",
        }
    }
}

/// A-law code of positive zero (G.711 §3: even bits inverted, so 1000 0000 ⊕ 0101 0101).
pub const ALAW_SILENCE: u8 = 0xD5;
/// µ-law code of positive zero (G.711 §4: all bits inverted, so 1000 0000 ⊕ 0111 1111).
pub const ULAW_SILENCE: u8 = 0xFF;

/// Encode a linear sample to A-law (G.711 §3, Table 1a).
#[inline]
pub const fn linear_to_alaw(sample: i16) -> u8 {
    // 12-bit magnitude (the 13-bit value without sign), one's complement for negatives.
    let (mag, sign) = if sample >= 0 {
        ((sample as i32) >> 4, 0x80u8)
    } else {
        ((!(sample as i32)) >> 4, 0x00u8)
    };
    // Segment 0 and 1 share a step; from segment 1 the step doubles per segment.
    let code = if mag < 32 {
        // Segment 0 (mag 0..15) and segment 1 (16..31): direct.
        mag as u8
    } else {
        let mut seg = 1u8;
        let mut m = mag;
        while m > 31 {
            m >>= 1;
            seg += 1;
        }
        // m is now 16..31: interval is the low 4 bits.
        (seg << 4) | ((m as u8) & 0x0F)
    };
    (code | sign) ^ 0x55
}

/// Decode an A-law byte to a linear sample (G.711 §3, Table 1a decoder output values).
#[inline]
pub const fn alaw_to_linear(code: u8) -> i16 {
    ALAW_DECODE[code as usize]
}

/// Encode a linear sample to µ-law (G.711 §4, Table 2a).
#[inline]
pub const fn linear_to_ulaw(sample: i16) -> u8 {
    // 13-bit magnitude in 14-bit units, one's complement for negatives, plus the bias 33.
    let (mag, sign) = if sample >= 0 {
        ((sample as i32) >> 2, 0x80u8)
    } else {
        ((!(sample as i32)) >> 2, 0x00u8)
    };
    let mut biased = mag + 33;
    if biased > 0x1FFF {
        biased = 0x1FFF;
    }
    // Segment: position of the highest set bit above bit 5.
    let mut seg = 0u8;
    let mut t = biased >> 6;
    while t != 0 {
        seg += 1;
        t >>= 1;
    }
    let interval = ((biased >> (seg + 1)) & 0x0F) as u8;
    // All bits but the polarity bit inverted for transmission; polarity 1 = positive.
    (((seg << 4) | interval) ^ 0x7F) | sign
}

/// Decode a µ-law byte to a linear sample (G.711 §4, Table 2a decoder output values).
#[inline]
pub const fn ulaw_to_linear(code: u8) -> i16 {
    ULAW_DECODE[code as usize]
}

const fn alaw_decode_one(code: u8) -> i16 {
    let c = code ^ 0x55;
    let seg = ((c >> 4) & 0x07) as i32;
    let q = (c & 0x0F) as i32;
    // Decoder output in 13-bit units (Table 1a, column 7), the middle of the interval.
    let mag13 = if seg == 0 {
        2 * q + 1
    } else {
        (2 * q + 33) << (seg - 1)
    };
    let v = mag13 << 3;
    if c & 0x80 != 0 {
        v as i16
    } else {
        (-v) as i16
    }
}

const fn ulaw_decode_one(code: u8) -> i16 {
    let c = !code;
    let seg = ((c >> 4) & 0x07) as i32;
    let q = (c & 0x0F) as i32;
    // Decoder output in 14-bit units (Table 2a, column 7).
    let mag14 = ((2 * q + 33) << seg) - 33;
    let v = mag14 << 2;
    if c & 0x80 != 0 {
        (-v) as i16
    } else {
        v as i16
    }
}

const fn build_table(alaw: bool) -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if alaw {
            alaw_decode_one(i as u8)
        } else {
            ulaw_decode_one(i as u8)
        };
        i += 1;
    }
    t
}

/// A-law decoding table, indexed by the transmitted byte.
pub static ALAW_DECODE: [i16; 256] = build_table(true);
/// µ-law decoding table, indexed by the transmitted byte.
pub static ULAW_DECODE: [i16; 256] = build_table(false);

#[cfg(test)]
mod tests {
    use super::*;

    // Known answers from G.711 Tables 1a/2a: the largest decoder output is 4032 (A-law,
    // normalised to 4096) and 8031 (µ-law, normalised to 8159), here scaled to 16 bits.
    #[test]
    fn known_answer_extremes() {
        assert_eq!(alaw_to_linear(0xAA), 4032 * 8);
        assert_eq!(alaw_to_linear(0x2A), -4032 * 8);
        assert_eq!(ulaw_to_linear(0x80), 8031 * 4);
        assert_eq!(ulaw_to_linear(0x00), -8031 * 4);
        // Smallest levels: A-law ±1 (13-bit, 1/2 of the first step), µ-law 0 (both zeros).
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0);
    }

    #[test]
    fn encode_zero_is_silence_code() {
        assert_eq!(linear_to_alaw(0), ALAW_SILENCE);
        assert_eq!(linear_to_ulaw(0), ULAW_SILENCE);
        assert_eq!(Law::ALaw.silence(), 0xD5);
        assert_eq!(Law::MuLaw.silence(), 0xFF);
    }

    #[test]
    fn every_code_round_trips() {
        for c in 0..=255u8 {
            assert_eq!(linear_to_alaw(alaw_to_linear(c)), c, "A-law {c:#04x}");
            let u = linear_to_ulaw(ulaw_to_linear(c));
            // µ-law has two zeros (0xFF, 0x7F): both decode to 0, which encodes as 0xFF.
            if c == 0x7F {
                assert_eq!(u, 0xFF);
            } else {
                assert_eq!(u, c, "µ-law {c:#04x}");
            }
        }
    }

    #[test]
    fn quantisation_error_within_half_step() {
        for x in (i16::MIN..=i16::MAX).step_by(7) {
            let a = alaw_to_linear(linear_to_alaw(x)) as i32;
            let u = ulaw_to_linear(linear_to_ulaw(x)) as i32;
            let xi = x as i32;
            // Largest A-law step is 128 (13-bit) = 1024 (16-bit); µ-law 256 (14) = 1024.
            // Beyond the top decision level the error grows by clipping only.
            if xi.abs() < 31_000 {
                assert!((a - xi).abs() <= 512, "A-law x={x} got {a}");
                assert!((u - xi).abs() <= 512, "µ-law x={x} got {u}");
            }
            // Monotonic and sign-preserving.
            assert!(
                a.signum() == xi.signum() || xi.abs() < 16,
                "A-law sign x={x}"
            );
        }
    }

    #[test]
    fn segment_boundaries_from_table_1a_and_2a() {
        // A-law: 13-bit input 64 is the first value of segment 2 (code 0x20 before
        // even-bit inversion, positive: 0xA0 ^ 0x55 = 0xF5); 63 is the top of segment 1.
        assert_eq!(linear_to_alaw(64 << 3), 0xA0 ^ 0x55);
        assert_eq!(linear_to_alaw(63 << 3), 0x9F ^ 0x55);
        assert_eq!(linear_to_alaw(32 << 3), 0x90 ^ 0x55);
        // µ-law: 14-bit input 31 → segment 1 starts at 31 (decision value), Table 2a.
        // Transmitted: polarity bit 1 (positive), the other seven bits inverted.
        assert_eq!(linear_to_ulaw(31 << 2), 0x80 | (0x10 ^ 0x7F));
        assert_eq!(linear_to_ulaw(30 << 2), 0x80 | (0x0F ^ 0x7F));
        assert_eq!(linear_to_ulaw(-(31 << 2) - 1), 0x10 ^ 0x7F);
    }

    #[test]
    fn full_scale_and_sign_reference_points() {
        // G.711 Table 1a/2a: zero, the positive and negative full scale, sign symmetry.
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(linear_to_alaw(-1), 0x55);
        assert_eq!(linear_to_alaw(i16::MAX), 0xAA);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2A);
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        // Monotonic: larger positive inputs never map to a smaller magnitude code.
        let mag = |c: u8| (c ^ 0xD5) & 0x7F;
        let mut last = 0;
        for v in (0..=i16::MAX).step_by(64) {
            let m = mag(linear_to_alaw(v));
            assert!(m >= last);
            last = m;
        }
    }
}
