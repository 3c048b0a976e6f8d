//! What the switch puts on a B-channel (tones, with cadence) and how it looks for a tone
//! in what it recorded (Goertzel, by [`crate::tone::measure`]).

use std::f64::consts::TAU;

use dahdi_driver::{Law, SpanKind};

use crate::tone::{self, RATE};

/// A tone of one or two frequencies, continuous or with an on/off cadence, in G.711.
#[derive(Debug, Clone)]
pub struct ToneSource {
    law: Law,
    steps: [f64; 2],
    phases: [f64; 2],
    /// Peak amplitude of each component (linear, 16-bit scale).
    amplitude: f64,
    /// (on, off) in samples.
    cadence: Option<(u64, u64)>,
    sample: u64,
}

impl ToneSource {
    /// A continuous tone of `freq` Hz at `dbm0`.
    pub fn continuous(law: Law, freq: f64, dbm0: f64) -> Self {
        ToneSource::new(law, [freq, 0.0], dbm0, None)
    }

    /// The ringback (ringing tone) of the span's region, at -13 dBm0. ITU-T E.180
    /// Supplement 2 lists the national tones: most of Europe uses 425 Hz, 1 s on, 4 s off;
    /// North America 440 + 480 Hz, 2 s on, 4 s off.
    pub fn ringback(law: Law, kind: SpanKind) -> Self {
        match kind {
            SpanKind::E1 => ToneSource::new(law, [425.0, 0.0], -13.0, Some((1000, 4000))),
            SpanKind::T1 => ToneSource::new(law, [440.0, 480.0], -16.0, Some((2000, 4000))),
        }
    }

    fn new(law: Law, freqs: [f64; 2], dbm0: f64, cadence_ms: Option<(u64, u64)>) -> Self {
        // 0 dBm0 is 3.17 dB below the G.711 overload point (G.711 §4); peak = rms × √2.
        let rms = 32768.0 * 10f64.powf((dbm0 - 3.17) / 20.0);
        ToneSource {
            law,
            steps: freqs.map(|f| TAU * f / RATE),
            phases: [0.0; 2],
            amplitude: rms * std::f64::consts::SQRT_2,
            cadence: cadence_ms.map(|(on, off)| (on * 8, off * 8)),
            sample: 0,
        }
    }

    /// Fills `out` with the next samples.
    pub fn fill(&mut self, out: &mut [u8]) {
        for o in out {
            let on = match self.cadence {
                Some((on, off)) => self.sample % (on + off) < on,
                None => true,
            };
            let mut v = 0.0;
            for (i, step) in self.steps.iter().enumerate() {
                if *step != 0.0 {
                    v += self.phases[i].sin();
                    self.phases[i] = (self.phases[i] + step) % TAU;
                }
            }
            let s = if on { v * self.amplitude } else { 0.0 };
            *o = self.law.encode(s.round().clamp(-32768.0, 32767.0) as i16);
            self.sample += 1;
        }
    }
}

/// Window of the tone detector: 100 ms, a 10 Hz Goertzel bin.
pub const WINDOW: usize = 800;
/// A window holds the tone when at least this share of its power is at the frequency.
pub const MIN_PURITY: f64 = 0.5;
/// ... and its level is at least this (dBm0).
pub const MIN_LEVEL_DBM0: f64 = -40.0;

/// Milliseconds of `audio` (G.711 in `law`) that carry a tone of `freq` Hz, counted in
/// whole 100 ms windows.
pub fn tone_ms(law: Law, audio: &[u8], freq: f64) -> u64 {
    audio
        .chunks_exact(WINDOW)
        .filter(|w| {
            let r = tone::measure(law, w, &[freq]);
            r.purity >= MIN_PURITY && r.level_dbm0 >= MIN_LEVEL_DBM0
        })
        .count() as u64
        * (WINDOW as u64 / 8)
}

/// Milliseconds of `audio` carrying the dual tone `f1` + `f2` (each component at least
/// 35 % of the window's power, together at least `MIN_LEVEL_DBM0`), in whole 100 ms
/// windows; e.g. the North American ringback, 440 + 480 Hz.
pub fn dual_tone_ms(law: Law, audio: &[u8], f1: f64, f2: f64) -> u64 {
    audio
        .chunks_exact(WINDOW)
        .filter(|w| {
            let (a, b) = (tone::measure(law, w, &[f1]), tone::measure(law, w, &[f2]));
            a.purity >= 0.35 && b.purity >= 0.35 && a.level_dbm0 >= MIN_LEVEL_DBM0
        })
        .count() as u64
        * (WINDOW as u64 / 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuous_tone_is_found_and_others_are_not() {
        let mut t = ToneSource::continuous(Law::ALaw, 1000.0, -10.0);
        let mut b = vec![0u8; 8000];
        t.fill(&mut b);
        assert_eq!(tone_ms(Law::ALaw, &b, 1000.0), 1000);
        assert_eq!(tone_ms(Law::ALaw, &b, 800.0), 0);
        assert_eq!(tone_ms(Law::ALaw, &[0xD5; 8000], 1000.0), 0);
    }

    #[test]
    fn ringback_follows_its_cadence() {
        let mut t = ToneSource::ringback(Law::ALaw, SpanKind::E1);
        let mut b = vec![0u8; 8 * 5000];
        t.fill(&mut b);
        assert_eq!(tone_ms(Law::ALaw, &b, 425.0), 1000);
        let mut t = ToneSource::ringback(Law::MuLaw, SpanKind::T1);
        let mut b = vec![0u8; 8 * 6000];
        t.fill(&mut b);
        // Two equal components: each holds about half the power.
        let r = tone::measure(Law::MuLaw, &b[..800], &[440.0, 480.0]);
        assert!(r.purity > 0.4 && r.purity < 0.6, "{r:?}");
        assert!(r.level_dbm0 > -16.0, "{r:?}");
        assert_eq!(dual_tone_ms(Law::MuLaw, &b, 440.0, 480.0), 2000);
        assert_eq!(dual_tone_ms(Law::MuLaw, &b, 440.0, 620.0), 0);
    }
}
