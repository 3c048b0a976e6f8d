//! Early media between SIP and the E1 through the real daemon process (the rig of
//! `common`: `gatewayd run` on a simulated E1, libpri as the switch in `pri-switch`,
//! SIPp as the IP-PBX, the test's RTP endpoint): what each side hears before answer.

mod common;

use std::sync::MutexGuard;
use std::time::Duration;

use common::{
    assert_early_media_then_answer, assert_q931_in_order, heard_ms, kv, scenario, sdp,
    uac_answered, uas_response, Line, Rig, RtpPeer, Shared, EARLY_TONE, OK_LAST, PSTN_BOTH_WAYS,
    SIP_TONE, SWITCH_TONE,
};
use gateway_tests::audio::Law;

static RIG: Shared = Shared::new();

fn rig() -> MutexGuard<'static, Rig> {
    RIG.lock(|| Rig::start("early-sip", Line::E1, PSTN_BOTH_WAYS))
}

/// libpri answers `…0555…` with PROGRESS and `…0444…` with ALERTING, both with progress
/// indicator 8, plays 425 Hz for 2 s, then CONNECT and 1004 Hz: SIPp must get a 183
/// (with SDP) before its 200, and the PBX's RTP endpoint hears the 425 Hz ≥ 1 s (the
/// switch plays it only before CONNECT) and the 1004 Hz after.
#[test]
fn libpri_in_band_progress_is_heard_on_the_183_rtp_before_the_200() {
    let rig = rig();
    let law = rig.line.law();
    for called in ["0305551", "0304441"] {
        let mark = rig.switch.mark();
        let cdr0 = rig.cdrs().len();
        let rtp = RtpPeer::start(law, SIP_TONE, vec![EARLY_TONE, SWITCH_TONE]);
        let xml = uac_answered(law, rtp.port, 1500).replace(
            "<recv response=\"183\" optional=\"true\"/>",
            "<recv response=\"183\"/>",
        );
        assert!(xml.contains("<recv response=\"183\"/>"));
        let run = rig.sipp(&format!("early-{called}"), &xml, called);
        let rep = rtp.stop();
        assert!(
            run.ok,
            "{called}: SIPp (183 then 200) failed:\n{}",
            run.trace
        );
        let ring = rig
            .switch
            .wait(mark, Duration::from_secs(15), |l| l.starts_with("ring "));
        let id = kv(&ring, "id").unwrap().to_string();
        let m = rig.switch.media_of(mark, &id);
        eprintln!("{called}: RTP endpoint {rep:?}; pri-switch {m}");
        // The PBX heard libpri's in-band progress on the 183's RTP before the 200.
        assert_early_media_then_answer(&rig, mark, &rep, called.contains("0555"), called);
        rig.assert_clean(cdr0, 1);
    }
}

/// UAS: INVITE, 183 with SDP (early media at `rtp_port`, RFC 3960 §3), 2 s, 200 with
/// the same SDP, ACK, then the BYE.
fn uas_early_then_answer(law: Law, rtp_port: u16) -> String {
    let sdp = sdp(law, rtp_port);
    scenario(
        "early media then answer",
        &format!(
            "<recv request=\"INVITE\" crlf=\"true\"/>
  {}
  <pause milliseconds=\"2000\"/>
  {}
  <recv request=\"ACK\" crlf=\"true\"/>
  <recv request=\"BYE\"/>
  {OK_LAST}
  <timewait milliseconds=\"500\"/>",
            uas_response("183 Session Progress", Some(&sdp)),
            uas_response("200 OK", Some(&sdp)).replace("<send>", "<send retrans=\"500\">"),
        ),
    )
}

/// libpri calls 201 (the PBX); SIPp answers 183 with SDP, its RTP endpoint plays
/// 1800 Hz, and the 200 comes 2 s later: libpri receives PROGRESS before CONNECT and
/// hears the PBX's tone before CONNECT (pri-switch's `early=`) ≥ 1 s; the switch then
/// clears after the call has been up a second.
#[test]
fn the_pbx_183_early_media_reach_libpri_before_connect() {
    let mut rig = rig();
    let law = rig.line.law();
    let mark = rig.switch.mark();
    let cdr0 = rig.cdrs().len();
    let rtp = RtpPeer::start(law, SIP_TONE, vec![SWITCH_TONE]);
    let sipp = rig.sipp_spawn("early-uas", &uas_early_then_answer(law, rtp.port), "201");
    std::thread::sleep(Duration::from_millis(300));
    let (id, _) = rig.switch_calls(mark, "201");
    std::thread::sleep(Duration::from_millis(1000));
    rig.switch.send(&format!("hangup {id} 16"));
    let run = sipp.finish();
    let rep = rtp.stop();
    assert!(run.ok, "SIPp failed:\n{}", run.trace);
    let m = rig.switch.media_of(mark, &id);
    eprintln!("pri-switch {m}; RTP endpoint {rep:?}");
    assert!(
        heard_ms(&m, "early", SIP_TONE) >= 1000,
        "libpri heard the PBX's early media before CONNECT: {m}"
    );
    assert!(heard_ms(&m, "heard", SIP_TONE) >= 500, "and after: {m}");
    assert_q931_in_order(&rig, mark, &["tx SETUP", "rx PROGRESS", "rx CONNECT"]);
    rig.assert_clean(cdr0, 1);
}
