//! Test tones: a sine generator in G.711 and a single-frequency detector (Goertzel).

use dahdi_driver::Law;

/// Samples per second of a 64 kbit/s timeslot.
pub const RATE: f64 = 8000.0;

/// A sine tone generator producing G.711 codes.
#[derive(Debug, Clone)]
pub struct ToneGen {
    law: Law,
    phase: f64,
    step: f64,
    amplitude: f64,
}

impl ToneGen {
    /// `freq` Hz at `dbm0` (0 dBm0 ≈ 3.17 dB below the A-law/µ-law overload point).
    pub fn new(law: Law, freq: f64, dbm0: f64) -> Self {
        ToneGen {
            law,
            phase: 0.0,
            step: 2.0 * std::f64::consts::PI * freq / RATE,
            amplitude: 32768.0 * 10f64.powf((dbm0 - 3.17) / 20.0) * std::f64::consts::SQRT_2,
        }
    }

    /// Fills `out` with the next samples.
    pub fn fill(&mut self, out: &mut [u8]) {
        for o in out {
            let s = (self.phase.sin() * self.amplitude).round();
            *o = self.law.encode(s.clamp(-32768.0, 32767.0) as i16);
            self.phase += self.step;
            if self.phase > 2.0 * std::f64::consts::PI {
                self.phase -= 2.0 * std::f64::consts::PI;
            }
        }
    }
}

/// Level (dBm0) and the strongest of a few candidate frequencies in a block of G.711.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneReading {
    pub level_dbm0: f64,
    pub freq: f64,
    /// Share of the block's power at `freq` (1.0 = a pure tone).
    pub purity: f64,
}

/// Measures a block: overall level, and the best-matching frequency among `candidates`
/// by the Goertzel algorithm.
pub fn measure(law: Law, block: &[u8], candidates: &[f64]) -> ToneReading {
    let x: Vec<f64> = block.iter().map(|&c| law.decode(c) as f64).collect();
    let n = x.len().max(1) as f64;
    let power: f64 = x.iter().map(|v| v * v).sum::<f64>() / n;
    let full = (32768.0 * 10f64.powf(-3.17 / 20.0)).powi(2);
    let level_dbm0 = 10.0 * (power.max(1e-9) / full).log10();
    let mut best = (0.0, 0.0);
    for &f in candidates {
        let w = 2.0 * std::f64::consts::PI * f / RATE;
        let coeff = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0, 0.0);
        for v in &x {
            let s0 = v + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        let p = (s1 * s1 + s2 * s2 - coeff * s1 * s2) * 2.0 / (n * n);
        if p > best.1 {
            best = (f, p);
        }
    }
    ToneReading {
        level_dbm0,
        freq: best.0,
        purity: if power > 0.0 { best.1 / power } else { 0.0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_its_own_tone() {
        let mut g = ToneGen::new(Law::ALaw, 1000.0, -10.0);
        let mut b = vec![0u8; 800];
        g.fill(&mut b);
        let r = measure(Law::ALaw, &b, &[400.0, 1000.0, 2000.0]);
        assert_eq!(r.freq, 1000.0);
        assert!((r.level_dbm0 + 10.0).abs() < 0.5, "{r:?}");
        assert!(r.purity > 0.95, "{r:?}");
    }
}
