//! Line echo canceller on the TDM side: a normalised LMS adaptive FIR filter (the
//! structure ITU-T G.168 assumes), with a Geigel double-talk detector and a simple
//! non-linear processor, one per B-channel carrying voice.
//!
//! Not spandsp's `echo_can`: the vendored spandsp 0.2.4 `echo.c` prints debug lines to
//! stdout for every sample ("echo is …", "Narrowband score …"), which no media thread
//! can afford, so the canceller is written here.
//!
//! The "sent" reference is what we wrote toward the switch (the SIP talker's speech);
//! "received" is what the B-channel brought back, with the hybrid's echo of it. The
//! canceller subtracts its estimate of that echo before the audio goes to RTP.

use crate::media::FRAME_SAMPLES;

/// Default tail: 128 taps = 16 ms at 8 kHz (G.168 §6: the canceller must cover the echo
/// path delay; 16 ms is the common setting for a digital trunk's hybrids).
pub const DEFAULT_TAPS: usize = 128;

/// Adaptation step of the NLMS update.
const MU: f32 = 0.4;
/// Geigel detector: near-end speech when |received| exceeds half the recent peak sent.
const GEIGEL: f32 = 0.5;
/// Samples adaptation stays frozen after double talk (30 ms).
const HANGOVER: u32 = 240;
/// Below this reference power (about −50 dBm0) there is nothing to learn from.
const MIN_REF_POWER: f32 = 64.0 * 64.0;
/// Below this mean reference power over the tail (about −60 dBm0; A-law's idle code
/// decodes to ±8, power 64) there is nothing to cancel either: its echo, at least 6 dB
/// further down (the echo return loss G.168 assumes of a hybrid), is below one G.711
/// step near zero.
const QUIET_POWER: f32 = 20.0 * 20.0;
/// Lanes of the filter's sums: eight independent partial sums, which the compiler keeps
/// in SIMD registers (one running float sum is a chain it may not reorder).
const LANES: usize = 8;

pub struct LineEchoCanceller {
    taps: usize,
    weights: Box<[f32]>,
    /// The last `taps` reference samples, stored twice so that the window ending at any
    /// position is one contiguous slice (newest last).
    history: Box<[f32]>,
    pos: usize,
    /// Sum of squares over the window.
    energy: f32,
    hangover: u32,
    /// Smoothed powers of the reference and of the residual (for the NLP).
    ref_power: f32,
    residual_power: f32,
}

impl LineEchoCanceller {
    pub fn new(taps: usize) -> Self {
        let taps = taps.clamp(8, 1024);
        LineEchoCanceller {
            taps,
            weights: vec![0.0; taps].into_boxed_slice(),
            history: vec![0.0; 2 * taps].into_boxed_slice(),
            pos: 0,
            energy: 0.0,
            hangover: 0,
            ref_power: 0.0,
            residual_power: 0.0,
        }
    }

    /// Forget the echo path learnt so far (the canceller was off while data crossed:
    /// what it knew may no longer hold), keeping the tail length.
    pub fn reset(&mut self) {
        // In place: nothing here allocates after construction.
        self.weights.fill(0.0);
        self.history.fill(0.0);
        self.pos = 0;
        self.energy = 0.0;
        self.hangover = 0;
        self.ref_power = 0.0;
        self.residual_power = 0.0;
    }

    /// Cancel the echo of `sent` (what went to the line) in `received`, in place.
    pub fn process(&mut self, sent: &[i16; FRAME_SAMPLES], received: &mut [i16; FRAME_SAMPLES]) {
        for (r, &t) in received.iter_mut().zip(sent.iter()) {
            *r = self.sample(t as f32, *r as f32);
        }
    }

    #[inline]
    fn sample(&mut self, x: f32, d: f32) -> i16 {
        let n = self.taps;
        // Push the reference sample: drop the oldest from the energy.
        let oldest = self.history[self.pos];
        self.energy = (self.energy + x * x - oldest * oldest).max(0.0);
        self.history[self.pos] = x;
        self.history[self.pos + n] = x;
        self.pos += 1;
        if self.pos == n {
            self.pos = 0;
            // The running sum drifts by float rounding (large squares in, large squares
            // out); once per tail it is summed afresh, so `quiet` below stays exact.
            self.energy = dot(&self.history[..n], &self.history[..n]);
        }
        // window[k] is the sample k+1 places after the oldest; newest last.
        let window = &self.history[self.pos..self.pos + n];
        // A reference below QUIET_POWER over the whole tail leaves an echo under one
        // G.711 step near zero: nothing to subtract, and the tail's peak is bounded by
        // its energy (|x| ≤ √Σx²), which is all the Geigel detector needs to see that
        // the near end is louder. Silence on the far side (half of any conversation)
        // then costs a few operations a sample instead of three passes over the tail.
        let quiet = self.energy < QUIET_POWER * n as f32;
        let (e, tail_peak) = if quiet {
            (d, self.energy.sqrt())
        } else {
            (d - dot(window, &self.weights), peak(window))
        };
        // Geigel double-talk detection (G.168 Annex: near-end speech freezes adaptation).
        if d.abs() > GEIGEL * tail_peak {
            self.hangover = HANGOVER;
        } else if self.hangover > 0 {
            self.hangover -= 1;
        }
        let mean_ref = self.energy / n as f32;
        if self.hangover == 0 && mean_ref > MIN_REF_POWER {
            let step = MU * e / (self.energy + 1.0);
            for (w, a) in self.weights.iter_mut().zip(window.iter()) {
                *w += step * a;
            }
        }
        // NLP: when only the far talker speaks and what is left is far below it, the
        // residual is echo; send silence instead of it.
        self.ref_power += (x * x - self.ref_power) / 64.0;
        self.residual_power += (e * e - self.residual_power) / 64.0;
        let out = if self.hangover == 0
            && self.ref_power > MIN_REF_POWER
            && self.residual_power * 1000.0 < self.ref_power
        {
            0.0
        } else {
            e
        };
        out.clamp(i16::MIN as f32, i16::MAX as f32) as i16
    }
}

/// Σ a·b over the tail, in [`LANES`] partial sums.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (xs, ys) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let rest: f32 = xs
        .remainder()
        .iter()
        .zip(ys.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in xs.zip(ys) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// max |a| over the tail, in [`LANES`] partial maxima.
fn peak(a: &[f32]) -> f32 {
    let mut m = [0.0f32; LANES];
    let xs = a.chunks_exact(LANES);
    let rest = xs.remainder().iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for x in xs {
        for i in 0..LANES {
            // A plain comparison (the samples are finite): one `maxps`, with no NaN rule.
            let v = x[i].abs();
            m[i] = if v > m[i] { v } else { m[i] };
        }
    }
    m.iter().fold(rest, |a, &b| a.max(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::tone::mean_power;

    /// Noise-like speech through an echo path (12 dB loss, 2 ms delay, a second weaker
    /// reflection): after adapting, the residual echo is at least 20 dB down.
    #[test]
    fn echo_is_reduced_after_adaptation() {
        let mut ec = LineEchoCanceller::new(DEFAULT_TAPS);
        let mut seed: u32 = 12345;
        let mut history = [0i16; 64];
        let (mut raw, mut residual) = (0.0, 0.0);
        for frame_no in 0..200 {
            let mut sent = [0i16; FRAME_SAMPLES];
            let mut received = [0i16; FRAME_SAMPLES];
            for i in 0..FRAME_SAMPLES {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let s = ((seed >> 16) as i16 as i32 / 4) as i16;
                history.rotate_right(1);
                history[0] = s;
                sent[i] = s;
                received[i] = history[16] / 4 + history[40] / 16;
            }
            let before = received;
            ec.process(&sent, &mut received);
            if frame_no >= 150 {
                raw += mean_power(&before);
                residual += mean_power(&received);
            }
        }
        assert!(residual * 100.0 < raw, "residual {residual} raw {raw}");
    }

    /// The lane-split sums equal the plain ones, for any tail length.
    #[test]
    fn lane_sums_equal_plain_sums() {
        let mut seed: u32 = 7;
        for n in [8usize, 13, 64, 128, 1024] {
            let v: Vec<f32> = (0..2 * n)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    ((seed >> 16) as i16) as f32
                })
                .collect();
            let (a, b) = v.split_at(n);
            let plain: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x * y)).sum();
            assert!(
                (f64::from(dot(a, b)) - plain).abs() <= plain.abs() * 1e-5 + 1.0,
                "n {n}"
            );
            let max = a.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            assert_eq!(peak(a), max, "n {n}");
        }
    }

    /// The far side falls silent (A-law idle code) for a while and talks again: the
    /// echo of its speech is still cancelled, and during the silence the near end
    /// passes unchanged.
    #[test]
    fn echo_is_cancelled_again_after_far_end_silence() {
        let mut ec = LineEchoCanceller::new(DEFAULT_TAPS);
        let mut seed: u32 = 99;
        let mut history = [0i16; 64];
        let (mut raw, mut residual) = (0.0, 0.0);
        for frame_no in 0..400 {
            let silent = (150..250).contains(&frame_no);
            let mut sent = [0i16; FRAME_SAMPLES];
            let mut received = [0i16; FRAME_SAMPLES];
            for i in 0..FRAME_SAMPLES {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let s = if silent {
                    8
                } else {
                    ((seed >> 16) as i16 as i32 / 4) as i16
                };
                history.rotate_right(1);
                history[0] = s;
                sent[i] = s;
                received[i] = history[16] / 4 + history[40] / 16;
                if silent {
                    received[i] = received[i].saturating_add(((seed >> 20) as i16) / 64);
                }
            }
            let before = received;
            ec.process(&sent, &mut received);
            if (170..250).contains(&frame_no) {
                assert_eq!(received, before, "frame {frame_no}: the near end passes");
            }
            if frame_no >= 350 {
                raw += mean_power(&before);
                residual += mean_power(&received);
            }
        }
        assert!(residual * 100.0 < raw, "residual {residual} raw {raw}");
    }

    /// Near-end speech alone passes untouched by the NLP (nothing is being sent).
    #[test]
    fn near_end_speech_passes_when_nothing_is_sent() {
        let mut ec = LineEchoCanceller::new(DEFAULT_TAPS);
        let mut tone = crate::media::ToneGenerator::new(1000.0, -10.0);
        let silence = [0i16; FRAME_SAMPLES];
        for _ in 0..20 {
            let mut frame = [0i16; FRAME_SAMPLES];
            tone.fill_linear(&mut frame);
            let before = frame;
            ec.process(&silence, &mut frame);
            assert_eq!(frame, before);
        }
    }

    /// Double talk: echo plus a louder near-end tone; the tone survives.
    #[test]
    fn double_talk_keeps_the_near_end() {
        let mut ec = LineEchoCanceller::new(DEFAULT_TAPS);
        let mut far = crate::media::ToneGenerator::new(600.0, -20.0);
        let mut near = crate::media::ToneGenerator::new(1000.0, -6.0);
        let mut last = [0i16; FRAME_SAMPLES];
        for _ in 0..50 {
            let mut sent = [0i16; FRAME_SAMPLES];
            far.fill_linear(&mut sent);
            let mut received = [0i16; FRAME_SAMPLES];
            near.fill_linear(&mut received);
            for i in 0..FRAME_SAMPLES {
                received[i] = received[i].saturating_add(sent[i] / 4);
            }
            ec.process(&sent, &mut received);
            last = received;
        }
        let d = crate::media::tone::detect_linear(&last, 1000.0);
        assert!(d.present && d.tone_dbm0 > -9.0, "{d:?}");
    }
}
