//! Media processing: G.711 companding (ITU-T G.711), A-law ↔ µ-law transcoding
//! (G.711 Tables 3 and 4), and tone generation/detection used to check that audio
//! crossed a path.

pub mod dsp;
pub mod engine;
pub mod g711;
pub mod moh_file;
pub mod tone;
pub mod transcode;

pub use g711::{Law, FRAME_SAMPLES, SAMPLE_RATE};
pub use tone::{goertzel_power, tone_present, ToneDetection, ToneGenerator};
pub use transcode::{alaw_to_ulaw, transcode_frame, ulaw_to_alaw};
