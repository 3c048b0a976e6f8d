//! Test audio: G.711 (ITU-T G.711 A-law and µ-law), a sine tone generator and a Goertzel
//! tone detector. Shared by `pri-switch` (on the B-channel) and the tests (on RTP), so both
//! ends measure tones the same way.

use std::f64::consts::PI;

/// Companding law of a G.711 stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    /// A-law (E1, RTP payload type 8, PCMA).
    A,
    /// µ-law (T1, RTP payload type 0, PCMU).
    Mu,
}

impl Law {
    /// One 16-bit linear sample to its G.711 code.
    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Law::A => alaw_encode(sample),
            Law::Mu => ulaw_encode(sample),
        }
    }

    /// One G.711 code to a 16-bit linear sample.
    pub fn decode(self, code: u8) -> i16 {
        match self {
            Law::A => alaw_decode(code),
            Law::Mu => ulaw_decode(code),
        }
    }

    /// The RTP payload type (RFC 3551 table 4).
    pub fn payload_type(self) -> u8 {
        match self {
            Law::A => 8,
            Law::Mu => 0,
        }
    }
}

// G.711 §A: A-law, 13-bit magnitude in 8 segments, even bits inverted (XOR 0x55).
fn alaw_encode(sample: i16) -> u8 {
    let (sign, mag) = if sample >= 0 {
        (0x80u8, i32::from(sample) >> 3)
    } else {
        (0x00u8, (-i32::from(sample) - 1).max(0) >> 3)
    };
    let mag = mag.min(0x0FFF);
    let code = if mag < 32 {
        (mag >> 1) as u8
    } else {
        let seg = (31 - (mag as u32).leading_zeros()) as i32 - 4; // 1..=7
        ((seg << 4) as u8) | (((mag >> seg) & 0x0F) as u8)
    };
    (sign | code) ^ 0x55
}

fn alaw_decode(code: u8) -> i16 {
    let c = code ^ 0x55;
    let seg = i32::from((c >> 4) & 0x07);
    let mant = i32::from(c & 0x0F);
    let mag = if seg == 0 {
        (mant << 4) + 8
    } else {
        ((mant << 4) + 0x108) << (seg - 1)
    };
    if c & 0x80 != 0 {
        mag as i16
    } else {
        -mag as i16
    }
}

// G.711 §B: µ-law, bias 132 (0x84), all bits inverted.
fn ulaw_encode(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    let s = i32::from(sample);
    let (sign, mag) = if s < 0 { (0x80u8, -s) } else { (0u8, s) };
    let mag = (mag.min(32635) + BIAS) as u32;
    let seg = (31 - mag.leading_zeros()) as i32 - 7; // 0..=7
    let mant = ((mag >> (seg + 3)) & 0x0F) as u8;
    !(sign | ((seg as u8) << 4) | mant)
}

fn ulaw_decode(code: u8) -> i16 {
    let c = !code;
    let seg = i32::from((c >> 4) & 0x07);
    let mant = i32::from(c & 0x0F);
    let mag = (((mant << 3) + 0x84) << seg) - 0x84;
    if c & 0x80 != 0 {
        -mag as i16
    } else {
        mag as i16
    }
}

/// A continuous sine tone, 8 kHz, written block by block without phase jumps.
#[derive(Debug, Clone)]
pub struct ToneGen {
    step: f64,
    phase: f64,
    amplitude: f64,
}

impl ToneGen {
    /// `hz` at about -10 dBm0 (amplitude 10,000 of 32,767).
    pub fn new(hz: f64) -> ToneGen {
        ToneGen {
            step: 2.0 * PI * hz / 8000.0,
            phase: 0.0,
            amplitude: 10_000.0,
        }
    }

    /// Fill `out` with G.711 codes of the next samples.
    pub fn fill(&mut self, law: Law, out: &mut [u8]) {
        for o in out {
            let s = (self.phase.sin() * self.amplitude) as i16;
            *o = law.encode(s);
            self.phase += self.step;
            if self.phase > 2.0 * PI {
                self.phase -= 2.0 * PI;
            }
        }
    }
}

/// Goertzel power of `hz` in `samples` (8 kHz), normalised so that a pure tone of
/// amplitude A gives about A²/4 · N².
fn goertzel(samples: &[f64], hz: f64) -> f64 {
    let coeff = 2.0 * (2.0 * PI * hz / 8000.0).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in samples {
        let s = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// Which of `candidates` (Hz) a block of G.711 audio carries, if any: the block must be
/// louder than about -40 dBm0 and one candidate must hold most of its energy.
pub fn detect(law: Law, block: &[u8], candidates: &[f64]) -> Option<f64> {
    if block.is_empty() {
        return None;
    }
    let samples: Vec<f64> = block.iter().map(|&c| f64::from(law.decode(c))).collect();
    let n = samples.len() as f64;
    let energy: f64 = samples.iter().map(|x| x * x).sum();
    // Mean square above 100² (about -50 dB below full scale).
    if energy / n < 10_000.0 {
        return None;
    }
    // For a pure tone, Goertzel power ≈ energy · N / 2.
    candidates
        .iter()
        .map(|&hz| (hz, goertzel(&samples, hz) * 2.0 / (energy * n)))
        .filter(|&(_, share)| share > 0.5)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(hz, _)| hz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g711_round_trips_within_a_segment_step() {
        for law in [Law::A, Law::Mu] {
            for s in (-32000i32..32000).step_by(97) {
                let back = i32::from(law.decode(law.encode(s as i16)));
                let tol = (s.abs() / 16).max(16);
                assert!((back - s).abs() <= tol, "{law:?} {s} -> {back}");
            }
        }
        // Known codes: A-law silence 0xD5, µ-law silence 0xFF.
        assert_eq!(Law::A.encode(0), 0xD5);
        assert_eq!(Law::Mu.encode(0), 0xFF);
    }

    #[test]
    fn detector_finds_the_tone_sent_and_not_another() {
        for law in [Law::A, Law::Mu] {
            let mut g = ToneGen::new(1004.0);
            let mut block = [0u8; 160];
            g.fill(law, &mut block);
            assert_eq!(detect(law, &block, &[1004.0, 1800.0]), Some(1004.0));
            assert_eq!(detect(law, &block, &[1800.0]), None);
            let silence = [law.encode(0); 160];
            assert_eq!(detect(law, &silence, &[1004.0, 1800.0]), None);
        }
    }
}
