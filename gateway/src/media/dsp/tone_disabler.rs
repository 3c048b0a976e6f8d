//! The echo canceller's tone disabler (ITU-T G.165 §4): a modem or fax
//! answering a call sends 2100 Hz, and data must then cross the gateway without a
//! canceller (whose adaptation and non-linear processor would corrupt it; V.8, V.34 and
//! V.90 modems and V.34 fax cancel their own echo).
//!
//! - **Disabling:** 2100 Hz ± 21 Hz (G.165 §4.2) with a phase reversal (V.25 ANS with
//!   phase reversals every 450 ms, V.8 ANSam): what G.165 asks of a canceller's
//!   disabler. And, beyond it, 2100 Hz held for [`CED_HOLD_MS`] without a reversal (T.30
//!   CED of a G3 fax, 2.6–4 s): G.164's echo-suppressor signal, which G.168 lets a
//!   canceller obey as well; taken here because a fax on a speech bearer is still a fax
//!   call, whose canceller the gateway turns off. The tone counts from −31 dBm0 up
//!   (G.165 §4.2: the disabler must work down to that level),
//!   and only when it is nearly all the signal's power: speech does not hold one pure
//!   tone for hundreds of milliseconds.
//! - **Holding:** once disabled, the canceller stays off while any signal above −36 dBm0
//!   passes (the data that follows the tone), and comes back after [`SILENCE_MS`] below it
//!   (G.165 §4.4 holding band, §4.8 release time: 250 ± 150 ms).
//!
//! The signal is looked at in 10 ms blocks of 80 samples: 2100 Hz makes exactly 21 cycles
//! in one, so the phase of the block's 2100 Hz component (one DFT bin) is the same from
//! block to block while the tone is steady, and jumps by 180° across a reversal.

use crate::media::FRAME_SAMPLES;

/// Samples per block (10 ms): a whole number of 2100 Hz cycles (21).
const BLOCK: usize = 80;
/// 2100 Hz cycles per block.
const CYCLES: usize = 21;
/// RMS of a 0 dBm0 sine on the 16-bit scale of decoded G.711 (A-law's overload point is
/// +3.14 dBm0 at full scale, µ-law's +3.17).
const DBM0_RMS: f32 = 15_884.0;
/// Least tone level that disables (G.165 §4.2: −31 dBm0), as mean power per sample.
const MIN_TONE_POWER: f32 = (DBM0_RMS * 0.028_183_8) * (DBM0_RMS * 0.028_183_8);
/// Below this (−36 dBm0) the line counts as silent for re-enabling (G.165 §4.4).
const HOLD_POWER: f32 = (DBM0_RMS * 0.015_848_9) * (DBM0_RMS * 0.015_848_9);
/// Share of a block's power that must be in the 2100 Hz bin for the block to be tone.
/// A tone 21 Hz off (the edge of G.165's band) puts 0.86 of its power in the bin (10 ms
/// window), so at the band's edge the tone must stand about 11 dB above everything else;
/// 50 Hz off it puts 0.41 and is not taken.
const PURITY: f32 = 0.8;
/// Blocks of tone before a phase reversal counts (the tone must be there first).
const MIN_TONE_BEFORE_REVERSAL: u32 = 10;
/// A block this far (or further) from where a steady tone would be is a reversal: 180° ±
/// 25° by G.165, with room for a reversal in mid-block. The tone's own drift (within
/// ±21 Hz of 2100 Hz, up to ±75.6° per block) is measured and taken out first.
const REVERSAL_MIN_DEG: f32 = 110.0;
/// A tone block within this of where a steady tone would be is clean: it refines the
/// drift and becomes the next block's reference.
const CLEAN_DEG: f32 = 40.0;
/// 2100 Hz without reversal held this long disables too (fax CED, T.30: 2.6 s to 4 s).
pub const CED_HOLD_MS: u32 = 2000;
/// Silence after which the canceller comes back.
pub const SILENCE_MS: u32 = 250;
/// Blocks of 10 ms the tone may fade for (a reversal in mid-block cancels much of its
/// bin) without the run of tone ending.
const GAP_BLOCKS: u32 = 1;

/// What a frame did to the canceller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToneVerdict {
    /// The disabling tone was found in this frame: the canceller goes off.
    Disable,
    /// The line has been quiet long enough: the canceller comes back.
    Enable,
}

/// One direction's view of the disabling tone.
#[derive(Debug, Clone, Default)]
struct Direction {
    /// Consecutive 10 ms blocks of tone (fades of up to [`GAP_BLOCKS`] included).
    tone_blocks: u32,
    /// Blocks since the last tone block.
    gap: u32,
    /// The phase of the last clean tone block (degrees), and the blocks since.
    anchor: Option<(f32, u32)>,
    /// How far the phase moves per block (degrees): 0 at exactly 2100 Hz, 75.6° at
    /// 21 Hz off (0.21 of a cycle per 10 ms).
    drift: Option<f32>,
}

/// `deg` in (−180°, 180°].
fn wrap(deg: f32) -> f32 {
    let d = deg.rem_euclid(360.0);
    if d > 180.0 {
        d - 360.0
    } else {
        d
    }
}

impl Direction {
    /// One block: `(power per sample, 2100 Hz bin)`. Returns whether the disabling tone
    /// is now established in this direction.
    fn block(&mut self, power: f32, bin: (f32, f32)) -> bool {
        let bin_power = (bin.0 * bin.0 + bin.1 * bin.1) * 2.0 / (BLOCK * BLOCK) as f32;
        let tone = power >= MIN_TONE_POWER && bin_power >= PURITY * power;
        if !tone {
            self.gap += 1;
            if let Some((_, n)) = &mut self.anchor {
                *n += 1;
            }
            if self.gap > GAP_BLOCKS {
                *self = Direction::default();
            }
            return false;
        }
        let phase = bin.1.atan2(bin.0).to_degrees();
        let mut reversed = false;
        match (self.anchor, self.drift) {
            (None, _) => self.anchor = Some((phase, 0)),
            (Some((at, _)), None) => {
                // The second tone block: the first measure of the drift.
                self.drift = Some(wrap(phase - at));
                self.anchor = Some((phase, 0));
            }
            (Some((at, n)), Some(drift)) => {
                let blocks = (n + 1) as f32;
                // Where a steady tone would be now, and how far from it this block is.
                let off = wrap(phase - at - blocks * drift);
                if off.abs() >= REVERSAL_MIN_DEG {
                    reversed = true;
                    self.anchor = Some((phase, 0));
                } else if off.abs() <= CLEAN_DEG {
                    self.drift = Some(wrap(drift + off / blocks / 2.0));
                    self.anchor = Some((phase, 0));
                } else if let Some((_, n)) = &mut self.anchor {
                    // A block a reversal went through in its middle: measured from the
                    // clean block before it.
                    *n += 1;
                }
            }
        }
        self.tone_blocks += 1 + self.gap;
        self.gap = 0;
        (reversed && self.tone_blocks >= MIN_TONE_BEFORE_REVERSAL)
            || self.tone_blocks * 10 >= CED_HOLD_MS
    }
}

/// The tone disabler of one B-channel's canceller: fed both directions a frame at a time.
#[derive(Debug, Clone, Default)]
pub struct ToneDisabler {
    /// What came from the line (the far end's answer tone) and what we sent to it.
    directions: [Direction; 2],
    disabled: bool,
    /// Milliseconds both directions have been below the holding level.
    quiet_ms: u32,
}

impl ToneDisabler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the canceller is off.
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// One 20 ms frame each way: `received` from the B-channel, `sent` to it (linear).
    pub fn process(
        &mut self,
        received: &[i16; FRAME_SAMPLES],
        sent: &[i16; FRAME_SAMPLES],
    ) -> Option<ToneVerdict> {
        let mut found = false;
        let mut loud = false;
        for (d, frame) in self.directions.iter_mut().zip([received, sent]) {
            for block in frame.chunks_exact(BLOCK) {
                let (power, bin) = analyse(block);
                loud |= power > HOLD_POWER;
                found |= d.block(power, bin);
            }
        }
        if !self.disabled {
            if found {
                self.disabled = true;
                self.quiet_ms = 0;
                return Some(ToneVerdict::Disable);
            }
            return None;
        }
        if loud {
            self.quiet_ms = 0;
            return None;
        }
        self.quiet_ms += (FRAME_SAMPLES / 8) as u32;
        if self.quiet_ms >= SILENCE_MS {
            *self = ToneDisabler::default();
            return Some(ToneVerdict::Enable);
        }
        None
    }
}

/// Mean power per sample of a block, and its 2100 Hz DFT bin (real, imaginary).
fn analyse(block: &[i16]) -> (f32, (f32, f32)) {
    let table = twiddles();
    let (mut energy, mut re, mut im) = (0.0f32, 0.0f32, 0.0f32);
    for (&x, &(c, s)) in block.iter().zip(table.iter()) {
        let x = x as f32;
        energy += x * x;
        re += x * c;
        im -= x * s;
    }
    (energy / BLOCK as f32, (re, im))
}

/// cos and sin of 2π·2100·n/8000 for the samples of one block (the same for every
/// block: it holds whole cycles).
fn twiddles() -> &'static [(f32, f32); BLOCK] {
    static TABLE: std::sync::OnceLock<[(f32, f32); BLOCK]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [(0.0, 0.0); BLOCK];
        for (n, e) in t.iter_mut().enumerate() {
            let w = 2.0 * std::f64::consts::PI * (CYCLES * n) as f64 / BLOCK as f64;
            *e = (w.cos() as f32, w.sin() as f32);
        }
        t
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ms` of a sine of `hz` at `dbm0`, its phase turned by 180° every `reversal_ms`
    /// (0: never), from sample `start` of the signal; 20 ms frames.
    fn tone(hz: f64, dbm0: f64, reversal_ms: u32, ms: u32) -> Vec<[i16; FRAME_SAMPLES]> {
        let amp = DBM0_RMS as f64 * std::f64::consts::SQRT_2 * 10f64.powf(dbm0 / 20.0);
        let n = (ms * 8) as usize;
        let samples: Vec<i16> = (0..n)
            .map(|i| {
                let flips = if reversal_ms == 0 {
                    0
                } else {
                    i / (reversal_ms as usize * 8)
                };
                let sign = if flips % 2 == 0 { 1.0 } else { -1.0 };
                let w = 2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0;
                (sign * amp * w.sin()) as i16
            })
            .collect();
        frames(&samples)
    }

    fn frames(samples: &[i16]) -> Vec<[i16; FRAME_SAMPLES]> {
        samples
            .chunks_exact(FRAME_SAMPLES)
            .map(|c| c.try_into().unwrap())
            .collect()
    }

    const SILENT: [i16; FRAME_SAMPLES] = [0; FRAME_SAMPLES];

    /// Frames fed as received; the time (ms) of each verdict.
    fn run(d: &mut ToneDisabler, received: &[[i16; FRAME_SAMPLES]]) -> Vec<(u32, ToneVerdict)> {
        received
            .iter()
            .enumerate()
            .filter_map(|(i, f)| d.process(f, &SILENT).map(|v| (i as u32 * 20, v)))
            .collect()
    }

    #[test]
    fn ans_with_phase_reversals_disables_within_a_second() {
        // 450 ms puts each reversal between two 10 ms blocks, 445 ms (within G.165's
        // ±25 ms) in the middle of one.
        for reversal in [450, 445] {
            for (hz, dbm0) in [(2100.0, -12.0), (2079.0, -30.0), (2121.0, -6.0)] {
                let mut d = ToneDisabler::new();
                let v = run(&mut d, &tone(hz, dbm0, reversal, 1500));
                let what = format!("{hz} Hz {dbm0} dBm0, reversals every {reversal} ms");
                assert_eq!(v.len(), 1, "{what}: {v:?}");
                let (at, verdict) = v[0];
                assert_eq!(verdict, ToneVerdict::Disable);
                // In the frame of the first reversal, or the next.
                assert!((420..=480).contains(&at), "{what}: at {at} ms");
            }
        }
    }

    #[test]
    fn the_tone_from_the_ip_side_disables_too() {
        let mut d = ToneDisabler::new();
        let ans = tone(2100.0, -12.0, 450, 1000);
        let at = ans
            .iter()
            .position(|f| d.process(&SILENT, f).is_some())
            .map(|i| i * 20);
        assert!(at.is_some_and(|t| t <= 500), "{at:?}");
    }

    #[test]
    fn fax_ced_without_reversals_disables_after_two_seconds() {
        let mut d = ToneDisabler::new();
        let v = run(&mut d, &tone(2100.0, -15.0, 0, 3000));
        assert_eq!(v.len(), 1, "{v:?}");
        assert!((1980..=2020).contains(&v[0].0), "{v:?}");
    }

    #[test]
    fn other_tones_and_weak_or_short_ones_do_not_disable() {
        for (hz, dbm0, reversal, ms) in [
            // Another tone, with reversals.
            (1004.0, -10.0, 450, 3000),
            (1800.0, -10.0, 450, 3000),
            // Off by more than the tolerance.
            (2200.0, -10.0, 450, 3000),
            // Below −31 dBm0.
            (2100.0, -40.0, 450, 3000),
            // 2100 Hz without reversal, shorter than CED.
            (2100.0, -10.0, 0, 1500),
        ] {
            let mut d = ToneDisabler::new();
            assert_eq!(
                run(&mut d, &tone(hz, dbm0, reversal, ms)),
                vec![],
                "{hz} Hz {dbm0} dBm0"
            );
        }
        // Speech-like: two formants of varying pitch.
        let samples: Vec<i16> = (0..24_000)
            .map(|i| {
                let t = i as f64 / 8000.0;
                let f0 = 120.0 + 40.0 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
                let a = 4000.0 * (2.0 * std::f64::consts::PI * f0 * 5.0 * t).sin()
                    + 3000.0
                        * (2.0 * std::f64::consts::PI * 2100.0 * t).sin()
                        * (2.0 * std::f64::consts::PI * 4.0 * t).sin().abs();
                a as i16
            })
            .collect();
        let mut d = ToneDisabler::new();
        assert_eq!(run(&mut d, &frames(&samples)), vec![]);
    }

    #[test]
    fn the_canceller_stays_off_while_data_flows_and_comes_back_after_silence() {
        let mut d = ToneDisabler::new();
        let mut signal = tone(2100.0, -12.0, 450, 1000);
        // Then data: a loud signal that is not 2100 Hz, for 2 s.
        signal.extend(tone(1650.0, -15.0, 0, 2000));
        let v = run(&mut d, &signal);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(d.is_disabled());
        // 240 ms of silence is not enough, 260 ms is (G.165: 250 ± 150 ms).
        let quiet = vec![[0i16; FRAME_SAMPLES]; 12];
        assert_eq!(run(&mut d, &quiet), vec![]);
        assert_eq!(run(&mut d, &quiet[..1]), vec![(0, ToneVerdict::Enable)]);
        assert!(!d.is_disabled());
    }
}
