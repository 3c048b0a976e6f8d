//! Hold and resume through the real daemon process (issue 9): SIPp as the PBX holds a call
//! answered by libpri on a simulated E1 with a re-INVITE `a=sendonly`, then resumes it with
//! `a=sendrecv` (RFC 3264 §8.4). libpri must receive NOTIFY *remote hold* and then *remote
//! retrieval* (Q.931 §4.5.22, notification indicator 0x79/0x7A), the B-channel must carry
//! the gateway's music on hold instead of the PBX's RTP while held, and the PBX must get no
//! audio while held; both directions come back after the resume.

mod common;

use common::{
    assert_held_and_resumed, heard_ms, pstn_e1_group, uac_hold_resume, Line, Rig, RtpPeer, Shared,
    DISPOSITION, ISDN_CAUSE, MOH_TONE, SIP_TONE, SWITCH_TONE,
};

fn groups() -> String {
    pstn_e1_group(r#"hold_media = "moh""#)
        + r#"
[[route]]
pattern = "_0X."
from = ["pbx"]
to = ["pstn"]
"#
}

static RIG: Shared = Shared::new();

/// Milliseconds of `hz` in pri-switch's `media … heard=HZ:MS,…` report.
fn heard(media: &str, hz: f64) -> u64 {
    heard_ms(media, "heard", hz)
}

#[test]
fn reinvite_hold_sends_notify_remote_hold_plays_moh_and_resume_restores_audio_both_ways() {
    let rig = RIG.lock(|| Rig::start("hold", Line::E1, &groups()));
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

    // NOTIFY remote hold / retrieval; both ways only outside the hold.
    let media = assert_held_and_resumed(&rig, mark, &rep, talk_ms, hold_ms);
    // While held the B-channel hears the generated music on hold (C5 for 250 ms of each
    // 2 s phrase: at least one phrase in 3 s).
    let moh = heard(&media, MOH_TONE);
    assert!(
        moh >= 150,
        "switch heard the music on hold's C5 for {moh} ms: {media}"
    );

    let cdrs = rig.assert_clean(cdr0, 1);
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");
    assert_eq!(cdrs[0][ISDN_CAUSE], "16");
}
