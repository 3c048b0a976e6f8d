//! Hold and resume by UPDATE (RFC 3311) through the real daemon process, with libpri on a
//! simulated E1 as the PSTN party and SIPp as the PBX (issue 9; `hold_libpri.rs` does it
//! with re-INVITE):
//!
//! - UPDATE `a=inactive`: the gateway answers `a=inactive` (RFC 3264 §8.4), libpri gets
//!   NOTIFY *remote hold*, then *remote retrieval* after the UPDATE `a=sendrecv`
//!   (Q.931 §4.5.22); while held the B-channel carries the music on hold of
//!   `[general] moh_file` (here a WAV file of a 1400 Hz tone), not the generated melody
//!   and not the PBX's audio; both directions come back after the resume.
//! - UPDATE `a=sendonly`: answered `a=recvonly`, the same NOTIFYs; the trunk group's
//!   `hold_media = "silence"`: the B-channel hears neither the PBX nor any music while
//!   held.

mod common;

use common::{
    assert_held_and_resumed, heard_ms, pstn_e1_group, uac_hold_resume_update, Line, Rig, RtpPeer,
    Shared, DISPOSITION, MOH_TONE, SIP_TONE, SWITCH_TONE, TRANSFER_TONE,
};

/// The music file's tone: one of the frequencies pri-switch listens for, distinct from
/// the generated melody's (`MOH_TONE`) and the parties' tones.
const FILE_TONE: f64 = TRANSFER_TONE;

fn groups(hold_media: &str) -> String {
    pstn_e1_group(&format!("hold_media = \"{hold_media}\""))
        + r#"
[[route]]
pattern = "_0X."
from = ["pbx"]
to = ["pstn"]
"#
}

/// One second of `hz` at about -10 dBm0 as an 8 kHz mono 16-bit WAV file.
fn tone_wav(path: &std::path::Path, hz: f64) {
    let samples: Vec<i16> = (0..8000)
        .map(|i| (8000.0 * (2.0 * std::f64::consts::PI * hz * f64::from(i) / 8000.0).sin()) as i16)
        .collect();
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&8000u32.to_le_bytes());
    b.extend_from_slice(&16000u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(&data);
    std::fs::write(path, b).unwrap();
}

static MOH: Shared = Shared::new();
static SILENCE: Shared = Shared::new();

/// Milliseconds of `hz` in pri-switch's `media … heard=HZ:MS,…` report.
fn heard(media: &str, hz: f64) -> u64 {
    heard_ms(media, "heard", hz)
}

/// A call held and resumed by UPDATE `direction`; pri-switch's media report of it.
fn hold_by_update(rig: &Rig, direction: &str, talk_ms: u64, hold_ms: u64) -> String {
    let law = rig.line.law();
    let mark = rig.switch.mark();
    let rtp = RtpPeer::start(law, SIP_TONE, vec![SWITCH_TONE, SIP_TONE]);
    let run = rig.sipp(
        &format!("update-{direction}"),
        &uac_hold_resume_update(law, rtp.port, talk_ms, hold_ms, direction),
        "0301234",
    );
    let rep = rtp.stop();
    assert!(run.ok, "SIPp UPDATE hold/resume failed:\n{}", run.trace);
    // NOTIFY remote hold / retrieval; both ways only outside the hold.
    assert_held_and_resumed(rig, mark, &rep, talk_ms, hold_ms)
}

#[test]
fn update_inactive_holds_with_notify_and_plays_the_moh_file() {
    let rig = MOH.lock(|| {
        let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let wav = dir.join("moh-1400.wav");
        tone_wav(&wav, FILE_TONE);
        Rig::start_with(
            "hold-update-moh",
            Line::E1,
            &format!("moh_file = \"{}\"", wav.display()),
            "",
            &groups("moh"),
        )
    });
    let cdr0 = rig.cdrs().len();
    let (talk_ms, hold_ms) = (2000, 3000);
    let media = hold_by_update(&rig, "inactive", talk_ms, hold_ms);
    // While held: the file's 1400 Hz, most of the hold; never the generated melody.
    let file = heard(&media, FILE_TONE);
    assert!(
        (hold_ms - 1200..=hold_ms + 800).contains(&file),
        "switch heard the MOH file's 1400 Hz for {file} ms (held {hold_ms}): {media}"
    );
    assert_eq!(heard(&media, MOH_TONE), 0, "the melody played: {media}");
    let cdrs = rig.assert_clean(cdr0, 1);
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");
}

#[test]
fn update_sendonly_holds_with_notify_and_silence() {
    let rig = SILENCE.lock(|| Rig::start("hold-update-silence", Line::E1, &groups("silence")));
    let cdr0 = rig.cdrs().len();
    let media = hold_by_update(&rig, "sendonly", 1500, 2000);
    assert_eq!(heard(&media, MOH_TONE), 0, "music while held: {media}");
    assert_eq!(heard(&media, FILE_TONE), 0, "music while held: {media}");
    let cdrs = rig.assert_clean(cdr0, 1);
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");
}
