//! Music on hold from a file (`[general] moh_file`): read once, kept as 8 kHz linear
//! samples that the media threads loop while a call is held.
//!
//! Accepted, by the file name's ending:
//! - `.wav`: RIFF/WAVE (the Microsoft multimedia format: `RIFF` size `WAVE`, then chunks
//!   `fmt ` and `data`), mono, 8000 samples/s, either 16-bit linear PCM (format tag 1) or
//!   8-bit G.711 A-law (6) / µ-law (7);
//! - `.alaw`, `.al`, `.pcma`: raw G.711 A-law octets, 8 kHz;
//! - `.ulaw`, `.ul`, `.mulaw`, `.pcmu`: raw G.711 µ-law octets, 8 kHz.
//!
//! Every problem is an error naming the file and what is wrong (and, for a WAV file, the
//! octet offset of the field).

use std::path::Path;
use std::sync::Arc;

use crate::media::{Law, SAMPLE_RATE};

/// At most this much music is kept (10 minutes at 8 kHz, 9.6 MB of samples).
pub const MAX_SECONDS: usize = 600;

/// Why a music-on-hold file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MohFileError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: unknown kind of file: name it .wav, .alaw (.al, .pcma) or .ulaw (.ul, .mulaw, .pcmu)")]
    UnknownKind { file: String },
    #[error("{file}: octet {offset}: {field}: {message}")]
    Wav {
        file: String,
        offset: usize,
        field: &'static str,
        message: String,
    },
    #[error("{file}: no audio (empty)")]
    Empty { file: String },
    #[error("{file}: longer than {MAX_SECONDS} s")]
    TooLong { file: String },
}

/// Music for the hold: linear 16-bit samples at 8 kHz, shared by every held call.
#[derive(Clone, PartialEq, Eq)]
pub struct MohFile {
    pub path: String,
    pub samples: Arc<[i16]>,
}

impl std::fmt::Debug for MohFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MohFile({}, {} samples)", self.path, self.samples.len())
    }
}

/// What kind of content a file name promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Wav,
    Raw(Law),
}

fn kind_of(path: &Path) -> Option<Kind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "wav" => Kind::Wav,
        "alaw" | "al" | "pcma" => Kind::Raw(Law::ALaw),
        "ulaw" | "ul" | "mulaw" | "pcmu" => Kind::Raw(Law::MuLaw),
        _ => return None,
    })
}

impl MohFile {
    /// Reads and decodes `path`.
    pub fn load(path: &str) -> Result<MohFile, MohFileError> {
        let file = path.to_string();
        let kind =
            kind_of(Path::new(path)).ok_or(MohFileError::UnknownKind { file: file.clone() })?;
        let bytes = std::fs::read(path).map_err(|source| MohFileError::Read {
            file: file.clone(),
            source,
        })?;
        let samples = decode(&file, kind, &bytes)?;
        Ok(MohFile {
            path: file,
            samples: samples.into(),
        })
    }
}

fn decode(file: &str, kind: Kind, bytes: &[u8]) -> Result<Vec<i16>, MohFileError> {
    let samples = match kind {
        Kind::Raw(law) => g711(law, bytes),
        Kind::Wav => wav(file, bytes)?,
    };
    if samples.is_empty() {
        return Err(MohFileError::Empty {
            file: file.to_string(),
        });
    }
    if samples.len() > MAX_SECONDS * SAMPLE_RATE as usize {
        return Err(MohFileError::TooLong {
            file: file.to_string(),
        });
    }
    Ok(samples)
}

fn g711(law: Law, bytes: &[u8]) -> Vec<i16> {
    let mut out = vec![0i16; bytes.len()];
    law.decode_block(bytes, &mut out);
    out
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

/// RIFF/WAVE: the `fmt ` chunk's format tag, channels, sample rate and bits per sample,
/// then the `data` chunk's samples. Chunks are word-aligned (a pad octet after an odd
/// size); unknown chunks (`LIST`, `fact`, …) are skipped.
fn wav(file: &str, b: &[u8]) -> Result<Vec<i16>, MohFileError> {
    let bad = |offset: usize, field: &'static str, message: String| MohFileError::Wav {
        file: file.to_string(),
        offset,
        field,
        message,
    };
    if b.get(0..4) != Some(b"RIFF") {
        return Err(bad(0, "RIFF", "not a RIFF file".into()));
    }
    if b.get(8..12) != Some(b"WAVE") {
        return Err(bad(8, "WAVE", "RIFF form is not WAVE".into()));
    }
    // (format tag, bits per sample)
    let mut format: Option<(u16, u16)> = None;
    let mut at = 12;
    while at + 8 <= b.len() {
        let id = &b[at..at + 4];
        let size = le32(b, at + 4).unwrap_or(0) as usize;
        let body = at + 8;
        let end = body.saturating_add(size);
        if id == b"fmt " {
            if size < 16 || end > b.len() {
                return Err(bad(at + 4, "fmt size", format!("{size} octets")));
            }
            let tag = le16(b, body).unwrap_or(0);
            let channels = le16(b, body + 2).unwrap_or(0);
            let rate = le32(b, body + 4).unwrap_or(0);
            let bits = le16(b, body + 14).unwrap_or(0);
            if !matches!((tag, bits), (1, 16) | (6, 8) | (7, 8)) {
                return Err(bad(
                    body,
                    "format tag / bits per sample",
                    format!(
                        "format {tag} with {bits} bits: 16-bit PCM (1), A-law (6) or µ-law (7) needed"
                    ),
                ));
            }
            if channels != 1 {
                return Err(bad(
                    body + 2,
                    "channels",
                    format!("{channels} channels: mono needed"),
                ));
            }
            if rate != SAMPLE_RATE {
                return Err(bad(
                    body + 4,
                    "sample rate",
                    format!("{rate} Hz: {SAMPLE_RATE} Hz needed"),
                ));
            }
            format = Some((tag, bits));
        } else if id == b"data" {
            let Some((tag, _)) = format else {
                return Err(bad(at, "data", "data chunk before the fmt chunk".into()));
            };
            // A truncated last chunk (streamed writers leave size 0 or too large): take
            // what is there.
            let data = &b[body..end.min(b.len())];
            return Ok(match tag {
                6 => g711(Law::ALaw, data),
                7 => g711(Law::MuLaw, data),
                _ => data
                    .chunks_exact(2)
                    .map(|s| i16::from_le_bytes([s[0], s[1]]))
                    .collect(),
            });
        }
        at = end.saturating_add(size & 1);
    }
    Err(bad(
        b.len(),
        "data",
        if format.is_none() {
            "no fmt chunk".into()
        } else {
            "no data chunk".into()
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAV file of `samples` with the given header values.
    fn wav_bytes(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        b.extend_from_slice(b"WAVE");
        b.extend_from_slice(b"LIST");
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&[1, 2, 3, 0]); // odd size, padded
        b.extend_from_slice(b"fmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&tag.to_le_bytes());
        b.extend_from_slice(&channels.to_le_bytes());
        b.extend_from_slice(&rate.to_le_bytes());
        b.extend_from_slice(&(rate * u32::from(bits) / 8).to_le_bytes());
        b.extend_from_slice(&(bits / 8).to_le_bytes());
        b.extend_from_slice(&bits.to_le_bytes());
        b.extend_from_slice(b"data");
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn pcm16_mono_8k_wav_decodes() {
        let data: Vec<u8> = [1000i16, -1000, 32767]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let s = decode("m.wav", Kind::Wav, &wav_bytes(1, 1, 8000, 16, &data)).unwrap();
        assert_eq!(s, vec![1000, -1000, 32767]);
    }

    #[test]
    fn g711_wav_and_raw_files_decode_to_linear() {
        let alaw_silence = Law::ALaw.silence();
        let s = decode(
            "m.wav",
            Kind::Wav,
            &wav_bytes(6, 1, 8000, 8, &[alaw_silence; 4]),
        )
        .unwrap();
        assert_eq!(s.len(), 4);
        assert!(s.iter().all(|v| v.abs() < 16), "{s:?}");
        let s = decode("m.ulaw", Kind::Raw(Law::MuLaw), &[0x00, 0x80]).unwrap();
        assert!(s[0] < -30000 && s[1] > 30000, "{s:?}");
    }

    #[test]
    fn errors_name_the_file_the_offset_and_the_field() {
        let e = decode("m.wav", Kind::Wav, &wav_bytes(1, 1, 44100, 16, &[0, 0])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "m.wav: octet 36: sample rate: 44100 Hz: 8000 Hz needed"
        );
        let e = decode("m.wav", Kind::Wav, &wav_bytes(1, 2, 8000, 16, &[0; 4])).unwrap_err();
        assert!(e.to_string().contains("octet 34: channels"), "{e}");
        let e = decode("m.wav", Kind::Wav, &wav_bytes(3, 1, 8000, 32, &[0; 4])).unwrap_err();
        assert!(e.to_string().contains("format 3 with 32 bits"), "{e}");
        let e = decode("m.wav", Kind::Wav, b"RIFX").unwrap_err();
        assert!(e.to_string().starts_with("m.wav: octet 0: RIFF"), "{e}");
        let e = decode("m.wav", Kind::Wav, &wav_bytes(1, 1, 8000, 16, &[])).unwrap_err();
        assert_eq!(e.to_string(), "m.wav: no audio (empty)");
        let e = MohFile::load("/nonexistent/m.wav").unwrap_err();
        assert!(
            e.to_string().starts_with("/nonexistent/m.wav: cannot read"),
            "{e}"
        );
        let e = MohFile::load("music.mp3").unwrap_err();
        assert!(e.to_string().contains("unknown kind"), "{e}");
    }

    #[test]
    fn truncated_and_garbage_wavs_are_errors_not_panics() {
        let good = wav_bytes(1, 1, 8000, 16, &[1, 0, 2, 0]);
        for n in 0..good.len() {
            let _ = decode("m.wav", Kind::Wav, &good[..n]);
        }
        let mut x = good.clone();
        for i in 0..x.len() {
            x[i] ^= 0xFF;
            let _ = decode("m.wav", Kind::Wav, &x);
            x[i] ^= 0xFF;
        }
    }
}
