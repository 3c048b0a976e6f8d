//! End to end through the real daemon process on a simulated T1 with µ-law: `gatewayd`
//! (NI-2, user side) on DAHDI span 1 through `libdahdi_sim.so`, `pri-switch` (libpri,
//! network side, `PRI_SWITCH_NI2`) on the far end, SIPp as the IP-PBX offering PCMU only.
//! Tones cross the daemon both ways as µ-law on the B-channel and PCMU on RTP.

mod common;

use std::time::Duration;

use common::{
    assert_q931_in_order, assert_tones_both_ways, kv, nanp_both_ways, uac_answered, uas_answer,
    Line, Rig, RtpPeer, Shared, CALLED, DISPOSITION, ISDN_CAUSE, SIP_TONE, SWITCH_TONE,
};

static RIG: Shared = Shared::new();

#[test]
fn t1_ni2_sip_call_with_pcmu_tones_both_ways_cleared_by_bye() {
    let rig = RIG.lock(|| Rig::start("t1", Line::T1, &nanp_both_ways("descending")));
    let law = rig.line.law();
    let cdr0 = rig.cdrs().len();
    let mark = rig.switch.mark();
    let rtp = RtpPeer::start(law, SIP_TONE, vec![SWITCH_TONE, SIP_TONE]);
    let run = rig.sipp(
        "t1-answered",
        &uac_answered(law, rtp.port, 2500),
        "2125551234",
    );
    let rep = rtp.stop();
    assert!(run.ok, "SIPp call failed:\n{}", run.trace);
    let ring = rig
        .switch
        .wait(mark, Duration::from_secs(15), |l| l.starts_with("ring "));
    assert_eq!(kv(&ring, "called"), Some("2125551234"));
    assert_eq!(
        kv(&ring, "layer1"),
        Some("34"),
        "µ-law bearer (PRI_LAYER_1_ULAW)"
    );
    assert_eq!(
        kv(&ring, "channel"),
        Some("23"),
        "descending: the highest T1 bearer"
    );
    let id = kv(&ring, "id").unwrap().to_string();
    let disc = rig.switch.disconnect_of(mark, &id);
    assert_eq!(kv(&disc, "cause"), Some("16"));
    let media = rig.switch.media_of(mark, &id);
    assert_q931_in_order(
        &rig,
        mark,
        &[
            "rx SETUP",
            "tx CONNECT",
            "rx DISCONNECT",
            "tx RELEASE",
            "rx RELEASE_COMPLETE",
        ],
    );
    assert_tones_both_ways(&media, &rep, law, 1000);
    let cdrs = rig.assert_clean(cdr0, 1);
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");
    assert_eq!(cdrs[0][CALLED], "2125551234");
    assert_eq!(cdrs[0][ISDN_CAUSE], "16");
}

#[test]
fn t1_ni2_switch_calls_the_pbx_with_pcmu() {
    let mut rig = RIG.lock(|| Rig::start("t1", Line::T1, &nanp_both_ways("descending")));
    let law = rig.line.law();
    let cdr0 = rig.cdrs().len();
    let rtp = RtpPeer::start(law, SIP_TONE, vec![SWITCH_TONE, SIP_TONE]);
    let uas = rig.sipp_spawn("t1-uas", &uas_answer(law, rtp.port), "s");
    let (mark, id, _) = rig.switch_calls_and_clears("202", Duration::from_secs(2));
    let media = rig.switch.media_of(mark, &id);
    let run = uas.finish();
    let rep = rtp.stop();
    assert!(run.ok, "SIPp UAS: INVITE, answer, BYE:\n{}", run.trace);
    assert_tones_both_ways(&media, &rep, law, 1000);
    let cdrs = rig.assert_clean(cdr0, 1);
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");
    assert_eq!(cdrs[0][CALLED], "202");
}
