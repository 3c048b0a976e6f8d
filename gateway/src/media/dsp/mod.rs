//! Telephony DSP on B-channel audio: DTMF detection and generation (ITU-T Q.23/Q.24)
//! through spandsp (`spandsp` crate, which vendors and builds spandsp), and the line
//! echo canceller (an NLMS filter as ITU-T G.168 assumes, written here: see `echo`) with
//! its 2100 Hz tone disabler (G.165 §4, `tone_disabler`).
//! Linear 16-bit samples at 8 kHz, one 20 ms frame at a time; nothing here allocates
//! after construction.
//!
//! spandsp's state objects are not `Send`: a media thread creates them itself when a
//! channel is added, and they never leave that thread.

pub mod dtmf;
pub mod echo;
pub mod tone_disabler;

pub use dtmf::{DtmfDetector, DtmfGenerator, DtmfTransition};
pub use echo::LineEchoCanceller;
pub use tone_disabler::{ToneDisabler, ToneVerdict};

/// Errors creating DSP state.
#[derive(Debug, thiserror::Error)]
pub enum DspError {
    #[error("spandsp: {0}")]
    Spandsp(#[from] spandsp::error::SpanDspError),
    #[error("not a DTMF digit: {0:?}")]
    NotADigit(char),
}
