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
use crate::media::FRAME_SAMPLES;

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

/// In-band DTMF detector for one B-channel.
pub struct DtmfDetector {
    rx: DtmfRx,
    current: Option<u8>,
}

impl DtmfDetector {
    pub fn new() -> Result<Self, DspError> {
        let mut rx = DtmfRx::new()?;
        // Q.24 for the European region: accept up to 8 dB normal and 4 dB reverse
        // twist; a tone must reach −26 dBm0 per frequency to count (spandsp's default
        // threshold is more sensitive, which talk-off on speech makes unwelcome).
        rx.set_parms(0, 8.0, 4.0, -26.0);
        Ok(DtmfDetector { rx, current: None })
    }

    /// The digit currently detected, if any.
    pub fn current(&self) -> Option<u8> {
        self.current
    }

    /// Feed one frame of linear samples; report a start or end of a digit. A change
    /// from one digit straight to another reports the end now and the new start on the
    /// next frame (a Q.24 pause is always there in practice).
    pub fn process(&mut self, frame: &[i16; FRAME_SAMPLES]) -> Option<DtmfTransition> {
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

    #[test]
    fn event_codes_round_trip() {
        assert_eq!(event_of_digit('#'), Some(11));
        assert_eq!(event_of_digit('d'), Some(15));
        assert_eq!(digit_of_event(10), Some('*'));
        assert_eq!(digit_of_event(16), None);
        assert_eq!(event_of_digit('x'), None);
    }
}
