//! The PBX moves the media of an answered call (issue 6, RFC 3264 §8.3, RFC 3725 §4.1)
//! through the real daemon process, with libpri answering on a simulated E1: first by a
//! re-INVITE naming another port and µ-law instead of A-law, then by a re-INVITE without
//! SDP, whose 200 carries the gateway's offer, answered in the ACK with a third port and
//! A-law again. After each move the new RTP endpoint must hear the switch's tone in its
//! law and the switch must hear the new endpoint's tone. Each endpoint only sends to
//! whoever sent to it first, so what it hears came because the gateway followed the SDP,
//! not because it latched onto a new source (symmetric RTP).

mod common;

use std::time::{Duration, Instant};

use common::{
    heard_ms, uac_media_moves, Line, Rig, RtpPeer, Shared, DISPOSITION, MOH_TONE, PSTN_BOTH_WAYS,
    SIP_TONE, SWITCH_TONE, TRANSFER_TONE,
};
use gateway_tests::audio::Law;

static RIG: Shared = Shared::new();

/// Wait up to 15 s for `peer` to have heard `hz`.
fn wait_heard(peer: &RtpPeer, hz: f64, what: &str) {
    let t0 = Instant::now();
    while peer.heard_ms_now(hz) < 200 {
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "{what} heard nothing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn reinvite_and_the_answer_in_an_ack_move_the_media_and_change_the_law() {
    let rig = RIG.lock(|| Rig::start("reinvite-media", Line::E1, PSTN_BOTH_WAYS));
    let cdr0 = rig.cdrs().len();
    let mark = rig.switch.mark();
    let first = RtpPeer::start(Law::ALaw, SIP_TONE, vec![SWITCH_TONE]);
    let second = RtpPeer::start(Law::MuLaw, TRANSFER_TONE, vec![SWITCH_TONE]);
    let third = RtpPeer::start(Law::ALaw, MOH_TONE, vec![SWITCH_TONE]);
    let sipp = rig.sipp_spawn(
        "media-moves",
        &uac_media_moves(first.port, second.port, third.port, 3000),
        "0301234",
    );
    wait_heard(&first, SWITCH_TONE, "the first endpoint");
    // The re-INVITE: µ-law to the second endpoint.
    wait_heard(&second, SWITCH_TONE, "the second endpoint (µ-law)");
    // The first endpoint would be followed again once it keeps sending A-law from its
    // port (symmetric RTP) when the third move brings A-law back: it hangs up now.
    let first = first.stop();
    // The answer in the ACK: A-law to the third endpoint.
    wait_heard(
        &third,
        SWITCH_TONE,
        "the third endpoint (answer in the ACK)",
    );
    let run = sipp.finish();
    let (second, third) = (second.stop(), third.stop());
    assert!(run.ok, "SIPp's media moves failed:\n{}", run.trace);
    assert_eq!(second.payload_types, vec![0], "µ-law only to the second");
    assert_eq!(third.payload_types, vec![8], "A-law only to the third");
    assert!(first.payload_types.iter().all(|&pt| pt == 8));

    let id = rig.switch.answered_id(mark);
    let media = rig.switch.media_of(mark, &id);
    // The switch heard each endpoint in turn: the A-law one, the µ-law one through the
    // gateway's µ → A conversion, and the third.
    for (hz, who) in [
        (SIP_TONE, "first"),
        (TRANSFER_TONE, "second"),
        (MOH_TONE, "third"),
    ] {
        assert!(
            heard_ms(&media, "heard", hz) >= 1000,
            "the switch did not hear the {who} endpoint: {media}"
        );
    }
    let gw = rig.log("gatewayd.log");
    assert!(
        gw.contains("bridged RTP peer moved or changed codec"),
        "no move in gatewayd's log"
    );
    let cdrs = rig.assert_clean(cdr0, 1);
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");
}
