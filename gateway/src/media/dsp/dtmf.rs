//! DTMF (ITU-T Q.23 frequencies, Q.24 detection limits) through spandsp's `dtmf_rx` and
//! `dtmf_tx`.
//!
//! The detector is polled once per 20 ms frame: spandsp reports the digit it currently
//! hears (`dtmf_rx_status`), and a change of that value is a digit start or end. spandsp
//! applies the Q.24 checks itself (level, twist, reverse twist, second harmonics, and a
//! digit must persist over two 102-sample blocks).

use std::os::raw::{c_char, c_int};

use spandsp::dtmf::{DtmfRx, DtmfTx};

use super::DspError;
use crate::media::tone::AMPLITUDE_0_DBM0;
use crate::media::{Law, FRAME_SAMPLES};

/// The 16 DTMF digits spandsp knows (Q.23 Table 1), in RFC 4733 §3.2 event order 0–15.
const DIGITS: &[u8; 16] = b"0123456789*#ABCD";

/// RFC 4733 event code of a DTMF digit character (`0`–`9`, `*`, `#`, `A`–`D`).
pub fn event_of_digit(c: char) -> Option<u8> {
    let up = c.to_ascii_uppercase() as u32;
    DIGITS.iter().position(|&d| d as u32 == up).map(|i| i as u8)
}

/// DTMF digit character of an RFC 4733 event code 0–15.
pub fn digit_of_event(event: u8) -> Option<char> {
    DIGITS.get(event as usize).map(|&d| d as char)
}

/// What changed in one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfTransition {
    /// A digit started (RFC 4733 event code).
    Start(u8),
    /// The digit that was on ended.
    End(u8),
}

/// Mean square (16-bit linear) below which a frame cannot hold a digit: −36 dBm0, 10 dB
/// under the weakest pair Q.24 lets through here (both tones at −26 dBm0, −23 dBm0 in
/// all), so even a digit that starts late in a frame clears it. 0 dBm0 is a sine of
/// amplitude [`AMPLITUDE_0_DBM0`](crate::media::tone::AMPLITUDE_0_DBM0), mean square A²/2.
const GATE_MEAN_SQUARE: f64 = AMPLITUDE_0_DBM0 * AMPLITUDE_0_DBM0 / 2.0 * 2.511_886e-4; // × 10^(−36/10)

/// The square of each code's linear sample, A-law and µ-law.
static SQUARES: [[u32; 256]; 2] = [squares(Law::ALaw), squares(Law::MuLaw)];

const fn squares(law: Law) -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let s = match law {
            Law::ALaw => crate::media::g711::alaw_to_linear(i as u8),
            Law::MuLaw => crate::media::g711::ulaw_to_linear(i as u8),
        } as i32;
        t[i] = (s * s) as u32;
        i += 1;
    }
    t
}

/// The sum of the squares of a frame's linear samples, from its G.711 codes.
pub fn frame_energy(law: Law, codes: &[u8; FRAME_SAMPLES]) -> i64 {
    let table = &SQUARES[matches!(law, Law::MuLaw) as usize];
    codes.iter().map(|&c| table[c as usize] as i64).sum()
}

/// In-band DTMF detector for one B-channel.
///
/// An energy gate runs first: a frame too quiet to hold a digit, after a quiet frame,
/// with no digit on, is not handed to spandsp (its Goertzel filters cost ~8 µs a frame,
/// the largest user-space cost of a media thread; silence is most of any call). The
/// first quiet frame after sound is still fed, so spandsp's 102-sample blocks settle on
/// quiet and a digit's end is always seen.
pub struct DtmfDetector {
    rx: DtmfRx,
    current: Option<u8>,
    /// The last frame fed was quiet (below the gate).
    quiet: bool,
    /// Frames the gate kept from spandsp (for tests and figures).
    gated: u64,
}

impl DtmfDetector {
    pub fn new() -> Result<Self, DspError> {
        let mut rx = DtmfRx::new()?;
        // Q.24 for the European region: accept up to 8 dB normal and 4 dB reverse
        // twist; a tone must reach −26 dBm0 per frequency to count (spandsp's default
        // threshold is more sensitive, which talk-off on speech makes unwelcome).
        rx.set_parms(0, 8.0, 4.0, -26.0);
        Ok(DtmfDetector {
            rx,
            current: None,
            quiet: false,
            gated: 0,
        })
    }

    /// Frames the energy gate kept from spandsp so far.
    pub fn gated_frames(&self) -> u64 {
        self.gated
    }

    /// The digit currently detected, if any.
    pub fn current(&self) -> Option<u8> {
        self.current
    }

    /// Feed one frame of linear samples; report a start or end of a digit. A change
    /// from one digit straight to another reports the end now and the new start on the
    /// next frame (a Q.24 pause is always there in practice).
    pub fn process(&mut self, frame: &[i16; FRAME_SAMPLES]) -> Option<DtmfTransition> {
        let sum: i64 = frame.iter().map(|&s| s as i64 * s as i64).sum();
        if self.gate(sum) {
            return None;
        }
        self.feed(frame)
    }

    /// As [`DtmfDetector::process`] on a frame still in G.711 codes: the gate is
    /// decided on the codes (the same sum of squares, from a table of each code's
    /// square), and only a frame it lets through is decoded and fed. Silence, most of
    /// any call, then costs neither the decoding nor the squares.
    pub fn process_coded(
        &mut self,
        law: Law,
        codes: &[u8; FRAME_SAMPLES],
    ) -> Option<DtmfTransition> {
        if self.gate(frame_energy(law, codes)) {
            return None;
        }
        let mut linear = [0i16; FRAME_SAMPLES];
        law.decode_block(codes, &mut linear);
        self.feed(&linear)
    }

    /// The energy gate: whether a frame whose samples' squares sum to `energy` is kept
    /// from spandsp.
    fn gate(&mut self, energy: i64) -> bool {
        let quiet = (energy as f64) < GATE_MEAN_SQUARE * FRAME_SAMPLES as f64;
        let was_quiet = std::mem::replace(&mut self.quiet, quiet);
        if quiet && was_quiet && self.current.is_none() {
            self.gated += 1;
            return true;
        }
        false
    }

    /// A frame the gate let through, to spandsp.
    fn feed(&mut self, frame: &[i16; FRAME_SAMPLES]) -> Option<DtmfTransition> {
        self.rx.rx(frame);
        let now = self
            .rx
            .status()
            .and_then(|c| if c == 'x' { None } else { event_of_digit(c) });
        match (self.current, now) {
            (None, Some(d)) => {
                self.current = Some(d);
                Some(DtmfTransition::Start(d))
            }
            (Some(d), n) if n != Some(d) => {
                self.current = None;
                Some(DtmfTransition::End(d))
            }
            _ => None,
        }
    }
}

/// DTMF generator for one B-channel: plays a digit while an RFC 4733 event is on.
pub struct DtmfGenerator {
    tx: DtmfTx,
    playing: Option<u8>,
    /// Samples still to play of the current tone.
    remaining: u32,
}

/// Longest a single digit tone plays when no end arrives (RFC 4733 §2.5.2.2 lets the
/// receiver stop on its own; 5 s covers any key press).
const MAX_TONE_SAMPLES: u32 = 5 * 8000;

impl DtmfGenerator {
    pub fn new() -> Result<Self, DspError> {
        let mut tx = DtmfTx::new()?;
        // Q.23 levels as sent by a telephone: −10 dBm0 low group, 2 dB twist.
        tx.set_level(-10, 2);
        Ok(DtmfGenerator {
            tx,
            playing: None,
            remaining: 0,
        })
    }

    pub fn playing(&self) -> Option<u8> {
        self.playing
    }

    /// Start the tone of RFC 4733 event `event` (0–15); it plays until [`Self::stop`].
    pub fn start(&mut self, event: u8) -> Result<(), DspError> {
        let c = digit_of_event(event).ok_or(DspError::NotADigit(event as char))?;
        // The tone is queued as one digit with a long on-time and ended early by `stop`.
        self.tx.set_timing(MAX_TONE_SAMPLES as i32 / 8, 0);
        let digit: [c_char; 2] = [c as u8 as c_char, 0];
        // SAFETY: the pointer comes from a live `DtmfTx`; `digit` is NUL-terminated and
        // outlives the call (spandsp copies it into its queue).
        unsafe {
            spandsp::spandsp_sys::dtmf_tx_put(self.tx.as_ptr(), digit.as_ptr(), 1 as c_int);
        }
        self.playing = Some(event);
        self.remaining = MAX_TONE_SAMPLES;
        Ok(())
    }

    /// The event ended: stop the tone at the next frame.
    pub fn stop(&mut self) {
        if self.playing.take().is_some() {
            // Reset the generator: spandsp drops the queued digit and the tone in progress.
            // SAFETY: live state, re-initialised in place with no callback.
            unsafe {
                spandsp::spandsp_sys::dtmf_tx_init(self.tx.as_ptr(), None, std::ptr::null_mut());
            }
            self.tx.set_level(-10, 2);
            self.remaining = 0;
        }
    }

    /// Overwrite `frame` with the tone if one is playing; returns whether it did.
    pub fn fill(&mut self, frame: &mut [i16; FRAME_SAMPLES]) -> bool {
        if self.playing.is_none() {
            return false;
        }
        let n = self.tx.generate(frame);
        frame[n..].fill(0);
        self.remaining = self.remaining.saturating_sub(FRAME_SAMPLES as u32);
        if self.remaining == 0 {
            self.stop();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_energy_from_codes_is_the_decoded_samples_sum_of_squares() {
        for law in [Law::ALaw, Law::MuLaw] {
            // Every code, loud and quiet, in frames of 160.
            for start in [0u8, 96, 200] {
                let mut codes = [0u8; FRAME_SAMPLES];
                for (i, c) in codes.iter_mut().enumerate() {
                    *c = start.wrapping_add(i as u8);
                }
                let mut linear = [0i16; FRAME_SAMPLES];
                law.decode_block(&codes, &mut linear);
                let want: i64 = linear.iter().map(|&s| s as i64 * s as i64).sum();
                assert_eq!(frame_energy(law, &codes), want, "{law:?} from {start}");
            }
        }
    }

    #[test]
    fn coded_frames_are_gated_and_detected_as_linear_ones() {
        // A digit between silences, fed as codes and as linear samples: the same
        // transitions and the same frames kept from spandsp.
        let mut gen = DtmfGenerator::new().unwrap();
        let (mut coded, mut linear) = (DtmfDetector::new().unwrap(), DtmfDetector::new().unwrap());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for i in 0..30 {
            if i == 10 {
                gen.start(5).unwrap();
            }
            if i == 18 {
                gen.stop();
            }
            let mut frame = [0i16; FRAME_SAMPLES];
            gen.fill(&mut frame);
            let mut codes = [0u8; FRAME_SAMPLES];
            Law::ALaw.encode_block(&frame, &mut codes);
            let mut decoded = [0i16; FRAME_SAMPLES];
            Law::ALaw.decode_block(&codes, &mut decoded);
            a.push(coded.process_coded(Law::ALaw, &codes));
            b.push(linear.process(&decoded));
        }
        assert_eq!(a, b);
        assert!(a.contains(&Some(DtmfTransition::Start(5))), "{a:?}");
        assert_eq!(coded.gated_frames(), linear.gated_frames());
        assert!(coded.gated_frames() > 10);
    }

    #[test]
    fn generated_digits_are_detected() {
        for (event, &ch) in DIGITS.iter().enumerate() {
            let event = event as u8;
            let mut g = DtmfGenerator::new().unwrap();
            let mut d = DtmfDetector::new().unwrap();
            g.start(event).unwrap();
            let mut frame = [0i16; FRAME_SAMPLES];
            let mut started = None;
            for i in 0..5 {
                assert!(g.fill(&mut frame));
                if let Some(DtmfTransition::Start(e)) = d.process(&frame) {
                    started = Some((i, e));
                }
            }
            assert_eq!(started.map(|s| s.1), Some(event), "digit {}", ch as char);
            g.stop();
            assert!(!g.fill(&mut frame));
            let silence = [0i16; FRAME_SAMPLES];
            let mut ended = false;
            for _ in 0..3 {
                if d.process(&silence) == Some(DtmfTransition::End(event)) {
                    ended = true;
                }
            }
            assert!(ended, "digit {} ended", ch as char);
        }
    }

    #[test]
    fn a_single_tone_is_not_a_digit() {
        let mut d = DtmfDetector::new().unwrap();
        let mut tone = crate::media::ToneGenerator::new(1000.0, -10.0);
        let mut frame = [0i16; FRAME_SAMPLES];
        for _ in 0..50 {
            tone.fill_linear(&mut frame);
            assert_eq!(d.process(&frame), None);
        }
    }

    /// Two sines (Q.23 row and column) at `dbm0` each, starting `offset` samples into
    /// the frame after `quiet` silent frames; returns the frame index of the start.
    fn weak_digit_after_silence(dbm0: f64, quiet: usize, offset: usize) -> (Option<usize>, u64) {
        let mut d = DtmfDetector::new().unwrap();
        let mut low = crate::media::ToneGenerator::new(770.0, dbm0);
        let mut high = crate::media::ToneGenerator::new(1336.0, dbm0);
        let silence = [0i16; FRAME_SAMPLES];
        for _ in 0..quiet {
            assert_eq!(d.process(&silence), None);
        }
        let mut started = None;
        for i in 0..6 {
            let (mut a, mut b) = ([0i16; FRAME_SAMPLES], [0i16; FRAME_SAMPLES]);
            low.fill_linear(&mut a);
            high.fill_linear(&mut b);
            let mut frame = [0i16; FRAME_SAMPLES];
            let from = if i == 0 { offset } else { 0 };
            for k in from..FRAME_SAMPLES {
                frame[k] = a[k].saturating_add(b[k]);
            }
            if let Some(DtmfTransition::Start(e)) = d.process(&frame) {
                assert_eq!(e, 5);
                started.get_or_insert(i);
            }
        }
        (started, d.gated_frames())
    }

    #[test]
    fn silence_is_gated_and_weak_late_digits_still_pass() {
        // Q.24's weakest accepted pair (−26 dBm0 each here), starting in the last
        // quarter of a frame after 50 quiet frames: the gate let the onset through.
        let (started, gated) = weak_digit_after_silence(-25.0, 50, 120);
        assert!(gated >= 48, "silent frames gated: {gated}");
        assert!(
            matches!(started, Some(0..=3)),
            "weak digit detected: {started:?}"
        );
        // The same tone with the gate never closing (no silence first) starts on the
        // same frame: the gate costs no detection delay.
        let (ungated, _) = weak_digit_after_silence(-25.0, 0, 120);
        assert_eq!(started, ungated);
        // Below Q.24's level nothing is detected either way.
        assert_eq!(weak_digit_after_silence(-32.0, 50, 0).0, None);
    }

    #[test]
    fn event_codes_round_trip() {
        assert_eq!(event_of_digit('#'), Some(11));
        assert_eq!(event_of_digit('d'), Some(15));
        assert_eq!(digit_of_event(10), Some('*'));
        assert_eq!(digit_of_event(16), None);
        assert_eq!(event_of_digit('x'), None);
    }
}
