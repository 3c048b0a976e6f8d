//! Test audio: a sine tone generator and a Goertzel tone detector, on the workspace's
//! G.711. Shared by `pri-switch` (on the B-channel) and the tests (on RTP), so both ends
//! measure tones the same way.

use std::f64::consts::PI;

/// Companding law of a G.711 stream: the workspace's `g711` crate, so the tests decode
/// exactly what the gateway and the simulator encode.
pub use g711::Law;

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
        for law in [Law::ALaw, Law::MuLaw] {
            for s in (-32000i32..32000).step_by(97) {
                let back = i32::from(law.decode(law.encode(s as i16)));
                let tol = (s.abs() / 16).max(16);
                assert!((back - s).abs() <= tol, "{law:?} {s} -> {back}");
            }
        }
        // Known codes: A-law silence 0xD5, µ-law silence 0xFF.
        assert_eq!(Law::ALaw.encode(0), 0xD5);
        assert_eq!(Law::MuLaw.encode(0), 0xFF);
    }

    #[test]
    fn detector_finds_the_tone_sent_and_not_another() {
        for law in [Law::ALaw, Law::MuLaw] {
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
