//! Tone generation and Goertzel detection over G.711 audio.
//!
//! Tests all over the project use this to check that "a tone sent is detected": generate a
//! sine into G.711 bytes at one end, and at the other end ask whether the bytes received
//! carry most of their power at that frequency.

use super::g711::{Law, SAMPLE_RATE};

/// Amplitude (16-bit linear) of a sine at 0 dBm0: G.711 puts 0 dBm0 3.17 dB (µ-law) /
/// 3.14 dB (A-law) below the peak; 22 656 is the µ-law figure (within 0.05 dB of A-law).
pub const AMPLITUDE_0_DBM0: f64 = 22_656.0;

/// A phase-continuous sine generator at 8 kHz.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    step: f64,
    phase: f64,
    amplitude: f64,
}

impl ToneGenerator {
    /// A sine of `freq_hz` at `level_dbm0` (e.g. -10.0).
    pub fn new(freq_hz: f64, level_dbm0: f64) -> Self {
        Self {
            step: std::f64::consts::TAU * freq_hz / SAMPLE_RATE as f64,
            phase: 0.0,
            amplitude: AMPLITUDE_0_DBM0 * 10f64.powf(level_dbm0 / 20.0),
        }
    }

    /// The next linear sample.
    pub fn next_sample(&mut self) -> i16 {
        let v = self.amplitude * self.phase.sin();
        self.phase += self.step;
        if self.phase > std::f64::consts::TAU {
            self.phase -= std::f64::consts::TAU;
        }
        v.round().clamp(i16::MIN as f64, i16::MAX as f64) as i16
    }

    /// Fill `out` with G.711 bytes of the tone in `law`.
    pub fn fill(&mut self, law: Law, out: &mut [u8]) {
        for b in out {
            *b = law.encode(self.next_sample());
        }
    }

    /// Fill `out` with linear samples.
    pub fn fill_linear(&mut self, out: &mut [i16]) {
        for s in out {
            *s = self.next_sample();
        }
    }
}

/// Music on hold generated in the gateway: a short rising C-major arpeggio (C5 E5 G5 C6,
/// 250 ms a note at -20 dBm0) and a second of quiet, over and over, so the held party
/// knows the call is still there.
#[derive(Debug, Clone)]
pub struct MusicOnHold {
    tone: ToneGenerator,
    /// Samples into the current phrase (or into the file).
    pos: usize,
    /// The configured music (`[general] moh_file`), looped instead of the melody.
    file: Option<std::sync::Arc<[i16]>>,
}

impl MusicOnHold {
    const NOTES: [f64; 4] = [523.25, 659.26, 783.99, 1046.5];
    const NOTE: usize = SAMPLE_RATE as usize / 4;
    const PHRASE: usize = Self::NOTE * Self::NOTES.len() + SAMPLE_RATE as usize;
    const LEVEL_DBM0: f64 = -20.0;

    pub fn new() -> Self {
        Self {
            tone: ToneGenerator::new(Self::NOTES[0], Self::LEVEL_DBM0),
            pos: 0,
            file: None,
        }
    }

    /// Music from a file ([`crate::media::moh_file::MohFile`]), played in a loop; an
    /// empty one plays the generated melody.
    pub fn from_file(samples: std::sync::Arc<[i16]>) -> Self {
        Self {
            file: (!samples.is_empty()).then_some(samples),
            ..Self::new()
        }
    }

    /// The next linear samples.
    pub fn fill_linear(&mut self, out: &mut [i16]) {
        if let Some(f) = &self.file {
            let mut done = 0;
            while done < out.len() {
                let n = (out.len() - done).min(f.len() - self.pos);
                out[done..done + n].copy_from_slice(&f[self.pos..self.pos + n]);
                done += n;
                self.pos = (self.pos + n) % f.len();
            }
            return;
        }
        for s in out {
            let note = self.pos / Self::NOTE;
            if self.pos % Self::NOTE == 0 {
                if let Some(f) = Self::NOTES.get(note) {
                    self.tone = ToneGenerator::new(*f, Self::LEVEL_DBM0);
                }
            }
            *s = if note < Self::NOTES.len() {
                self.tone.next_sample()
            } else {
                0
            };
            self.pos = (self.pos + 1) % Self::PHRASE;
        }
    }
}

/// What a B-channel hears while the SIP side holds the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldSound {
    Silence,
    /// The generated melody ([`MusicOnHold::new`]).
    Melody,
    /// A configured file's samples, looped.
    File(std::sync::Arc<[i16]>),
}

impl Default for MusicOnHold {
    fn default() -> Self {
        Self::new()
    }
}

/// Mean power (in squared 16-bit units) at `freq_hz` in `samples`, by the Goertzel
/// algorithm generalised to a non-integer bin. For a sine of amplitude A at that frequency
/// the result approaches A²/2, the sine's mean power.
pub fn goertzel_power(samples: &[i16], freq_hz: f64) -> f64 {
    let n = samples.len();
    if n == 0 {
        return 0.0;
    }
    let w = std::f64::consts::TAU * freq_hz / SAMPLE_RATE as f64;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = x as f64 + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let mag2 = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * mag2 / (n as f64 * n as f64)
}

/// Mean power of `samples` in squared 16-bit units.
pub fn mean_power(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples
        .iter()
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        / samples.len() as f64
}

/// Convert a mean power to dBm0.
pub fn power_to_dbm0(power: f64) -> f64 {
    let p0 = AMPLITUDE_0_DBM0 * AMPLITUDE_0_DBM0 / 2.0;
    if power <= 0.0 {
        f64::NEG_INFINITY
    } else {
        10.0 * (power / p0).log10()
    }
}

/// The result of looking for one frequency in G.711 audio.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneDetection {
    /// Power at the frequency, dBm0.
    pub tone_dbm0: f64,
    /// Total power of the block, dBm0.
    pub total_dbm0: f64,
    /// Share of the total power found at the frequency (0..≈1).
    pub ratio: f64,
    /// Whether the tone is present: at least -40 dBm0 and at least half the power.
    pub present: bool,
}

/// Look for a tone of `freq_hz` in G.711 bytes of `law`. Use at least 20 ms (160 bytes);
/// longer blocks resolve closer frequencies (the bin is about 8000/len Hz wide).
pub fn tone_present(bytes: &[u8], law: Law, freq_hz: f64) -> ToneDetection {
    let samples: Vec<i16> = bytes.iter().map(|&b| law.decode(b)).collect();
    detect_linear(&samples, freq_hz)
}

/// As [`tone_present`] on linear samples.
pub fn detect_linear(samples: &[i16], freq_hz: f64) -> ToneDetection {
    let tone = goertzel_power(samples, freq_hz);
    let total = mean_power(samples);
    let ratio = if total > 0.0 { tone / total } else { 0.0 };
    let tone_dbm0 = power_to_dbm0(tone);
    ToneDetection {
        tone_dbm0,
        total_dbm0: power_to_dbm0(total),
        ratio,
        present: tone_dbm0 >= -40.0 && ratio >= 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tone_is_detected_in_both_laws() {
        for law in [Law::ALaw, Law::MuLaw] {
            let mut g = ToneGenerator::new(1004.0, -10.0);
            let mut buf = vec![0u8; 800];
            g.fill(law, &mut buf);
            let d = tone_present(&buf, law, 1004.0);
            assert!(d.present, "{law:?}: {d:?}");
            assert!((d.tone_dbm0 + 10.0).abs() < 0.5, "{law:?}: level {d:?}");
            let other = tone_present(&buf, law, 1400.0);
            assert!(!other.present, "{law:?}: 1400 Hz falsely present {other:?}");
        }
    }

    #[test]
    fn silence_and_noise_have_no_tone() {
        let silence = vec![Law::ALaw.silence(); 800];
        assert!(!tone_present(&silence, Law::ALaw, 1000.0).present);
        // Pseudo-random noise (xorshift) at a fair level.
        let mut x = 0x1234_5678u32;
        let noise: Vec<i16> = (0..1600)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 20) as i16 - 2048
            })
            .collect();
        assert!(!detect_linear(&noise, 1000.0).present);
    }

    #[test]
    fn dual_tone_shows_both_frequencies_at_half_power() {
        // DTMF "1": 697 + 1209 Hz.
        let mut a = ToneGenerator::new(697.0, -10.0);
        let mut b = ToneGenerator::new(1209.0, -10.0);
        let s: Vec<i16> = (0..1600)
            .map(|_| a.next_sample() / 2 + b.next_sample() / 2)
            .collect();
        let d1 = detect_linear(&s, 697.0);
        let d2 = detect_linear(&s, 1209.0);
        assert!((d1.ratio - 0.5).abs() < 0.05 && (d2.ratio - 0.5).abs() < 0.05);
        assert!(detect_linear(&s, 941.0).ratio < 0.01);
    }

    #[test]
    fn music_on_hold_plays_its_notes_then_a_second_of_quiet() {
        // A file loops across block boundaries.
        let mut f = MusicOnHold::from_file(vec![1i16, 2, 3].into());
        let mut out = [0i16; 7];
        f.fill_linear(&mut out[..2]);
        f.fill_linear(&mut out[2..]);
        assert_eq!(out, [1, 2, 3, 1, 2, 3, 1]);
        let mut moh = MusicOnHold::new();
        let mut phrase = vec![0i16; MusicOnHold::PHRASE];
        moh.fill_linear(&mut phrase);
        let note = MusicOnHold::NOTE;
        for (i, f) in MusicOnHold::NOTES.iter().enumerate() {
            let d = detect_linear(&phrase[i * note..(i + 1) * note], *f);
            assert!(d.present, "note {i} at {f} Hz: {d:?}");
            assert!((d.tone_dbm0 + 20.0).abs() < 1.0, "{d:?}");
        }
        assert!(phrase[4 * note..].iter().all(|&x| x == 0));
        // And again from the start.
        let mut again = vec![0i16; note];
        moh.fill_linear(&mut again);
        assert!(detect_linear(&again, MusicOnHold::NOTES[0]).present);
    }
}
