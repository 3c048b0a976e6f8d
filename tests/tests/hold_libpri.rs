//! Hold and resume through the real daemon process (issue 9): SIPp as the PBX holds a call
//! answered by libpri on a simulated E1 with a re-INVITE `a=sendonly`, then resumes it with
//! `a=sendrecv` (RFC 3264 §8.4). libpri must receive NOTIFY *remote hold* and then *remote
//! retrieval* (Q.931 §4.5.22, notification indicator 0x79/0x7A), the B-channel must carry
//! the gateway's music on hold instead of the PBX's RTP while held, and the PBX must get no
//! audio while held; both directions come back after the resume.

mod common;

use std::time::Duration;

use common::{
    assert_q931_in_order, heard_ms, kv, uac_hold_resume, Line, Rig, RtpPeer, Shared, DISPOSITION,
    ISDN_CAUSE, MOH_TONE, SIP_TONE, SWITCH_TONE,
};

const GROUPS: &str = r#"
[[trunk_group]]
name = "pstn"
members = [{ span = 1, channels = "1-15,17-31" }]
hunting = "ascending"
hold_media = "moh"

[[route]]
pattern = "_0X."
from = ["pbx"]
to = ["pstn"]
"#;

static RIG: Shared = Shared::new();

/// Milliseconds of `hz` in pri-switch's `media … heard=HZ:MS,…` report.
fn heard(media: &str, hz: f64) -> u64 {
    heard_ms(media, "heard", hz)
}

#[test]
fn reinvite_hold_sends_notify_remote_hold_plays_moh_and_resume_restores_audio_both_ways() {
    let rig = RIG.lock(|| Rig::start("hold", Line::E1, GROUPS));
    let cdr0 = rig.cdrs().len();
    let law = rig.line.law();
    let mark = rig.switch.mark();
    let (talk_ms, hold_ms) = (2000, 3000);
    let rtp = RtpPeer::start(law, SIP_TONE, vec![SWITCH_TONE, SIP_TONE]);
    let run = rig.sipp(
        "hold",
        &uac_hold_resume(law, rtp.port, talk_ms, hold_ms),
        "0301234",
    );
    let rep = rtp.stop();
    assert!(run.ok, "SIPp hold/resume call failed:\n{}", run.trace);

    let ring = rig
        .switch
        .wait(mark, Duration::from_secs(15), |l| l.starts_with("ring "));
    let id = kv(&ring, "id").unwrap().to_string();
    let media = rig.switch.wait(mark, Duration::from_secs(15), |l| {
        l.starts_with("media ") && kv(l, "id") == Some(&id)
    });
    assert_q931_in_order(
        &rig,
        mark,
        &[
            "rx SETUP",
            "tx CONNECT",
            "rx NOTIFY",
            "rx NOTIFY",
            "rx DISCONNECT",
        ],
    );
    // libpri's own decoding of the two notification indicators, in order.
    let log = std::fs::read_to_string(rig.dir.join("pri-switch.log")).unwrap_or_default();
    let hold_at = log
        .find("Remote hold")
        .expect("libpri decoded no 'Remote hold'");
    let retrieval_at = log[hold_at..]
        .find("Remote retrieval")
        .expect("libpri decoded no 'Remote retrieval' after the hold");
    assert!(retrieval_at > 0);

    eprintln!("pri-switch: {media}\nRTP endpoint: {rep:?}");
    // The PBX's 1800 Hz reaches the B-channel only while the call is not held: about
    // 2 × talk_ms, clearly less than the whole call (2 × talk_ms + hold_ms).
    let sip_tone = heard(&media, SIP_TONE);
    assert!(
        (2 * talk_ms - 1500..=2 * talk_ms + 800).contains(&sip_tone),
        "switch heard 1800 Hz for {sip_tone} ms (talk 2 × {talk_ms}, held {hold_ms}): {media}"
    );
    // While held the B-channel hears the generated music on hold (C5 for 250 ms of each
    // 2 s phrase: at least one phrase in 3 s).
    let moh = heard(&media, MOH_TONE);
    assert!(
        moh >= 150,
        "switch heard the music on hold's C5 for {moh} ms: {media}"
    );
    // And the PBX hears the switch's 1004 Hz only outside the hold.
    let pstn_tone = rep.heard_ms(SWITCH_TONE);
    assert!(
        (2 * talk_ms - 1500..=2 * talk_ms + 800).contains(&pstn_tone),
        "RTP endpoint heard 1004 Hz for {pstn_tone} ms (talk 2 × {talk_ms}, held {hold_ms})"
    );

    let cdrs = rig.assert_clean(cdr0, 1);
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");
    assert_eq!(cdrs[0][ISDN_CAUSE], "16");
}
