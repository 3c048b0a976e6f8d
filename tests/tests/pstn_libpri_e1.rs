//! End to end through the real daemon process on a simulated E1, with libpri as the PSTN
//! switch: `gatewayd run` (its span a DAHDI device, `LD_PRELOAD=libdahdi_sim.so` on
//! `tdm-simd`'s span 1), `pri-switch` (libpri, network side, EuroISDN) on the far end
//! (span 2), SIPp as the IP-PBX and the test's own RTP endpoint. Each test checks what
//! libpri saw (channel, Q.931 messages, causes, tone heard on the B-channel), what the SIP
//! side saw, and afterwards that `gatewayd ctl show channels` has no busy B-channel and
//! every call has its CDR.

mod common;

use std::sync::MutexGuard;
use std::time::Duration;

use common::{
    assert_q931_in_order, assert_tones_both_ways, kv, q931_after, uac_answered, uac_cancel,
    uac_rejected, uas_answer, uas_ring_cancelled, Line, Metrics, Rig, RtpPeer, RtpReport, Shared,
    ANSWERED_CLEARED_BY_BYE, CALLED, CHANNEL, DISPOSITION, ISDN_CAUSE,
    PLACED_ANSWERED_SWITCH_CLEARS, REFUSED_AFTER_CALL_PROCEEDING, SIP_STATUS, SIP_TONE,
    SWITCH_TONE,
};

/// Trunk groups on the one span: one per hunting policy (5 channels each, called
/// numbers `061…` to `064…`) and `pstn` for everything else dialled with a 0.
const GROUPS: &str = r#"
[[trunk_group]]
name = "pstn"
members = [{ span = 1, channels = "22-31" }]
hunting = "ascending"

[[trunk_group]]
name = "asc"
members = [{ span = 1, channels = "1-5" }]
hunting = "ascending"

[[trunk_group]]
name = "desc"
members = [{ span = 1, channels = "6-10" }]
hunting = "descending"

[[trunk_group]]
name = "rr"
members = [{ span = 1, channels = "11-15" }]
hunting = "round_robin"

[[trunk_group]]
name = "lru"
members = [{ span = 1, channels = "17-21" }]
hunting = "least_recently_used"

[[route]]
pattern = "_0X."
from = ["pbx"]
to = ["pstn"]

[[route]]
pattern = "_061X."
from = ["pbx"]
to = ["asc"]

[[route]]
pattern = "_062X."
from = ["pbx"]
to = ["desc"]

[[route]]
pattern = "_063X."
from = ["pbx"]
to = ["rr"]

[[route]]
pattern = "_064X."
from = ["pbx"]
to = ["lru"]

[[route]]
pattern = "_2XX"
to = ["pbx"]
"#;

static RIG: Shared = Shared::new();

fn rig() -> MutexGuard<'static, Rig> {
    RIG.lock(|| Rig::start("e1", Line::E1, GROUPS))
}

#[test]
fn sip_call_answered_by_libpri_carries_tones_both_ways_and_bye_clears_with_cause_16() {
    let rig = rig();
    let law = rig.line.law();
    let cdr0 = rig.cdrs().len();
    let m0 = rig.metrics();
    let mark = rig.switch.mark();
    let rtp = RtpPeer::start(law, SIP_TONE, vec![SWITCH_TONE, SIP_TONE]);
    let run = rig.sipp("answered", &uac_answered(law, rtp.port, 2500), "0301234");
    let rep = rtp.stop();
    assert!(run.ok, "SIPp call failed:\n{}", run.trace);

    let ring = rig
        .switch
        .wait(mark, Duration::from_secs(15), |l| l.starts_with("ring "));
    assert_eq!(kv(&ring, "called"), Some("0301234"));
    assert_eq!(
        kv(&ring, "layer1"),
        Some("35"),
        "A-law bearer (PRI_LAYER_1_ALAW)"
    );
    let id = kv(&ring, "id").unwrap().to_string();
    let channel: u8 = kv(&ring, "channel").unwrap().parse().unwrap();
    assert_eq!(channel, 22, "first channel of trunk group pstn, ascending");
    let disc = rig.switch.disconnect_of(mark, &id);
    assert_eq!(kv(&disc, "cause"), Some("16"), "BYE → DISCONNECT cause 16");
    let media = rig.switch.media_of(mark, &id);
    rig.switch.released(mark, &id);
    assert_q931_in_order(&rig, mark, &ANSWERED_CLEARED_BY_BYE);

    eprintln!("pri-switch: {media}\nRTP endpoint: {rep:?}");
    // The test's 1800 Hz over RTP reached the B-channel, libpri's side's 1004 Hz the RTP
    // endpoint, in PCMA only.
    assert_tones_both_ways(&media, &rep, law, 1000);

    let cdrs = rig.assert_clean(cdr0, 1);
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");
    assert_eq!(cdrs[0][CALLED], "0301234");
    assert_eq!(cdrs[0][ISDN_CAUSE], "16");
    assert!(
        cdrs[0][CHANNEL].ends_with(&channel.to_string()),
        "CDR channel {} vs libpri's {channel}",
        cdrs[0][CHANNEL]
    );
    assert_metrics_follow_the_call(&rig, &m0, &rep);
}

/// What gatewayd's Prometheus endpoint says after the answered call, against the scrape
/// `m0` before it: the SIP transactions and responses the PBX exchanged with it, the
/// call's RTP stream with its loss and jitter, and every channel of the span idle again.
fn assert_metrics_follow_the_call(rig: &Rig, m0: &Metrics, rep: &RtpReport) {
    let streams = "gatewayd_rtp_streams_total";
    let t0 = std::time::Instant::now();
    let m1 = loop {
        // The stream's figures come when the media thread hands the channel back.
        let m = rig.metrics();
        if m.get(streams) > m0.get(streams) || t0.elapsed() > Duration::from_secs(5) {
            break m;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let d = |series: &str| m1.get(series) - m0.get(series);
    eprintln!(
        "metrics after the call:\n{}",
        m1.0.lines()
            .filter(|l| l.starts_with("gatewayd_sip_") || l.starts_with("gatewayd_rtp_"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(d(streams), 1.0, "{}", m1.0);
    assert_eq!(d("gatewayd_calls_attempted_total"), 1.0);
    assert_eq!(d("gatewayd_calls_answered_total"), 1.0);
    let pbx = |labels: &str| format!("gatewayd_sip_transactions_total{{trunk=\"pbx\",{labels}}}");
    assert_eq!(
        d(&pbx("side=\"server\",method=\"INVITE\"")),
        1.0,
        "{}",
        m1.0
    );
    assert_eq!(d(&pbx("side=\"server\",method=\"BYE\"")), 1.0, "{}", m1.0);
    let out = |class: &str| {
        d(&format!(
            "gatewayd_sip_responses_total{{trunk=\"pbx\",class=\"{class}\",direction=\"out\"}}"
        ))
    };
    assert!(
        out("1xx") >= 1.0,
        "100 Trying or 180 to the INVITE: {}",
        m1.0
    );
    assert!(
        out("2xx") >= 2.0,
        "200 to the INVITE and to the BYE: {}",
        m1.0
    );
    assert_eq!(out("4xx") + out("5xx") + out("6xx"), 0.0, "{}", m1.0);
    // 2.5 s of 20 ms packets each way; the test's endpoint counted what it got.
    let received = d("gatewayd_rtp_packets_received_total");
    let sent = d("gatewayd_rtp_packets_sent_total");
    assert!(
        received >= 100.0 && received <= rep.sent as f64,
        "received {received}, the endpoint sent {}",
        rep.sent
    );
    assert!(
        sent >= 100.0 && sent >= rep.received as f64,
        "sent {sent}, the endpoint got {}",
        rep.received
    );
    assert!(d("gatewayd_rtp_packets_lost_total") <= received * 0.02);
    assert_eq!(d("gatewayd_rtp_jitter_seconds_count"), 1.0);
    // Over loopback the interarrival jitter is well under 20 ms.
    assert_eq!(
        d("gatewayd_rtp_jitter_seconds_bucket{le=\"0.02\"}"),
        1.0,
        "{}",
        m1.0
    );
    let span = |state: &str| {
        m1.get(&format!(
            "gatewayd_span_channels{{span=\"1\",state=\"{state}\"}}"
        ))
    };
    assert_eq!(span("busy"), 0.0, "{}", m1.0);
    assert_eq!(span("idle") + span("out_of_service"), 30.0, "{}", m1.0);
}

#[test]
fn libpri_calls_the_sip_pbx_which_answers_tones_cross_and_the_switch_clears() {
    let mut rig = rig();
    let law = rig.line.law();
    let cdr0 = rig.cdrs().len();
    let rtp = RtpPeer::start(law, SIP_TONE, vec![SWITCH_TONE, SIP_TONE]);
    let uas = rig.sipp_spawn("uas", &uas_answer(law, rtp.port), "s");
    let (mark, id, _) = rig.switch_calls_and_clears("201", Duration::from_secs(2));
    let media = rig.switch.media_of(mark, &id);
    let run = uas.finish();
    let rep = rtp.stop();
    assert!(run.ok, "SIPp UAS: INVITE, answer, BYE:\n{}", run.trace);
    assert_q931_in_order(&rig, mark, &PLACED_ANSWERED_SWITCH_CLEARS);
    assert_tones_both_ways(&media, &rep, law, 1000);
    let cdrs = rig.assert_clean(cdr0, 1);
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");
    assert_eq!(cdrs[0][CALLED], "201");
    assert_eq!(cdrs[0][ISDN_CAUSE], "16");
}

/// The switch gives up while the PBX rings (DISCONNECT before CONNECT): the PBX gets
/// CANCEL (RFC 3261 §9.1, the call was not answered), answers it 200 and the INVITE 487.
#[test]
fn the_switch_hangs_up_while_the_pbx_rings_and_the_pbx_gets_cancel() {
    let mut rig = rig();
    let cdr0 = rig.cdrs().len();
    let uas = rig.sipp_spawn("uas-cancelled", &uas_ring_cancelled(), "s");
    std::thread::sleep(Duration::from_millis(300));
    let mark = rig.switch.mark();
    let far = rig.far_span;
    rig.switch.send(&format!("call {far} 201"));
    let placed = rig.switch.wait(mark, Duration::from_secs(15), |l| {
        l.starts_with("placed ") || l.starts_with("error")
    });
    let id = kv(&placed, "id")
        .unwrap_or_else(|| panic!("{placed}"))
        .to_string();
    // The PBX's 180 reached libpri as ALERTING: the phone rings; then the switch clears.
    assert_q931_in_order(&rig, mark, &["tx SETUP", "rx ALERTING"]);
    rig.switch.send(&format!("hangup {id} 16"));
    let run = uas.finish();
    assert!(
        run.ok,
        "SIPp UAS: INVITE, 180, CANCEL, 487, ACK:\n{}",
        run.trace
    );
    assert!(
        run.trace.contains("Reason: Q.850;cause=16"),
        "the CANCEL carries the switch's cause (RFC 3326):\n{}",
        run.trace
    );
    rig.switch.released(mark, &id);
    let cdrs = rig.assert_clean(cdr0, 1);
    assert_ne!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");
    assert_eq!(cdrs[0][ISDN_CAUSE], "16", "{cdrs:?}");
}

/// A call the switch refuses with `cause` gets `status` on SIP.
fn refused(number: &str, cause: &str, status: u16) {
    let rig = rig();
    let law = rig.line.law();
    let cdr0 = rig.cdrs().len();
    let failed = format!("gatewayd_calls_failed_total{{cause=\"{cause}\"}}");
    let failed0 = rig.metrics().get(&failed);
    let mark = rig.switch.mark();
    let run = rig.sipp(
        &format!("refused{status}"),
        &uac_rejected(law, 9, status, false),
        number,
    );
    assert!(run.ok, "SIPp expected {status}:\n{}", run.trace);
    let ring = rig
        .switch
        .wait(mark, Duration::from_secs(15), |l| l.starts_with("ring "));
    assert_eq!(kv(&ring, "called"), Some(number));
    rig.switch.wait(mark, Duration::from_secs(15), |l| {
        l.starts_with("released ")
    });
    assert_q931_in_order(&rig, mark, &REFUSED_AFTER_CALL_PROCEEDING);
    let cdrs = rig.assert_clean(cdr0, 1);
    assert_eq!(cdrs[0][ISDN_CAUSE], cause, "{cdrs:?}");
    assert_eq!(cdrs[0][SIP_STATUS], status.to_string());
    assert_eq!(
        cdrs[0][DISPOSITION],
        if cause == "17" { "BUSY" } else { "FAILED" }
    );
    // The metrics count the failure under its cause.
    let m = rig.metrics();
    assert_eq!(m.get(&failed) - failed0, 1.0, "{failed}: {}", m.0);
}

#[test]
fn user_busy_cause_17_is_486() {
    refused("099917", "17", 486);
}

#[test]
fn unallocated_number_cause_1_is_404() {
    refused("099901", "1", 404);
}

#[test]
fn congestion_cause_34_is_503() {
    refused("099934", "34", 503);
}

/// SIPp cancels a call that rings (`ringing`: the provisional response it must get
/// first); returns libpri's cause in DISCONNECT and the Q.931 messages.
fn cancelled(number: &str, ringing: u16, wait_ms: u64) -> (String, Vec<String>) {
    let rig = rig();
    let law = rig.line.law();
    let cdr0 = rig.cdrs().len();
    let mark = rig.switch.mark();
    let run = rig.sipp("cancel", &uac_cancel(law, 9, ringing, wait_ms), number);
    assert!(run.ok, "SIPp INVITE/180/CANCEL/487:\n{}", run.trace);
    let disc = rig.switch.wait(mark, Duration::from_secs(15), |l| {
        l.starts_with("disconnect ")
    });
    rig.switch.wait(mark, Duration::from_secs(15), |l| {
        l.starts_with("released ")
    });
    let q = assert_q931_in_order(
        &rig,
        mark,
        &[
            "rx SETUP",
            "tx ALERTING",
            "rx DISCONNECT",
            "tx RELEASE",
            "rx RELEASE_COMPLETE",
        ],
    );
    let cdrs = rig.assert_clean(cdr0, 1);
    assert_eq!(cdrs[0][DISPOSITION], "CANCELLED", "{cdrs:?}");
    assert_eq!(cdrs[0][ISDN_CAUSE], "16", "{cdrs:?}");
    assert_eq!(cdrs[0][SIP_STATUS], "487", "{cdrs:?}");
    (kv(&disc, "cause").unwrap().to_string(), q)
}

#[test]
fn no_answer_the_pbx_gives_up_with_cancel_and_libpri_sees_disconnect_cause_16() {
    // 0888…: the switch rings and never answers; SIPp gives up after 2 s.
    let (cause, _) = cancelled("08881234", 180, 2000);
    // CANCEL carries no Reason: normal call clearing (RFC 3398 §8.2.x, Q.1912.5 CANCEL → 16).
    assert_eq!(cause, "16");
}

#[test]
fn cancel_before_answer_clears_the_call_before_connect() {
    // 0777…: the switch would answer after 2 s; SIPp cancels 300 ms after 180.
    let (cause, q) = cancelled("07771234", 180, 300);
    assert_eq!(cause, "16");
    assert!(
        !q.iter().any(|m| m == "tx CONNECT"),
        "libpri never answered: {q:?}"
    );
}

#[test]
fn alerting_with_inband_ringback_is_183_session_progress() {
    // 0666…: ALERTING with progress indicator 8 (in-band information available): the
    // documented mapping gives 183 with SDP instead of 180.
    let (cause, q) = cancelled("06661234", 183, 500);
    assert_eq!(cause, "16");
    assert!(!q.iter().any(|m| m == "tx CONNECT"), "{q:?}");
}

/// libpri calls the PBX, which refuses with `status`: libpri's call is cleared with
/// `cause` (RFC 3398 §8.2.6.1, status → cause).
fn pbx_refuses(status: u16, cause: &str) {
    let mut rig = rig();
    let cdr0 = rig.cdrs().len();
    let uas = rig.sipp_spawn("uas-reject", &common::uas_reject(status), "s");
    std::thread::sleep(Duration::from_millis(300));
    let mark = rig.switch.mark();
    rig.switch.send("call 2 203");
    let placed = rig.switch.wait(mark, Duration::from_secs(15), |l| {
        l.starts_with("placed ") || l.starts_with("error")
    });
    let id = kv(&placed, "id")
        .unwrap_or_else(|| panic!("{placed}"))
        .to_string();
    let end = rig.switch.wait(mark, Duration::from_secs(10), |l| {
        (l.starts_with("disconnect ") || l.starts_with("hangup ")) && kv(l, "id") == Some(&id)
    });
    rig.switch.released(mark, &id);
    let run = uas.finish();
    assert!(run.ok, "SIPp UAS rejected with {status}:\n{}", run.trace);
    assert_eq!(
        kv(&end, "cause"),
        Some(cause),
        "{status} → cause {cause}: {end}"
    );
    let cdrs = rig.assert_clean(cdr0, 1);
    assert_eq!(cdrs[0][SIP_STATUS], status.to_string(), "{cdrs:?}");
    assert_eq!(cdrs[0][ISDN_CAUSE], cause, "{cdrs:?}");
}

#[test]
fn pbx_busy_486_reaches_libpri_as_cause_17() {
    pbx_refuses(486, "17");
}

#[test]
fn pbx_not_found_404_reaches_libpri_as_cause_1() {
    pbx_refuses(404, "1");
}

// ---------------------------------------------------------------------------------------
// Hunting: which channel libpri sees in SETUP.

/// A call the switch refuses as busy: returns the channel of its SETUP.
fn busy_call(rig: &Rig, number: &str) -> u8 {
    let mark = rig.switch.mark();
    let run = rig.sipp("hunt", &uac_rejected(rig.line.law(), 9, 486, false), number);
    assert!(run.ok, "SIPp expected 486 for {number}:\n{}", run.trace);
    let ring = rig
        .switch
        .wait(mark, Duration::from_secs(15), |l| l.starts_with("ring "));
    rig.switch.wait(mark, Duration::from_secs(15), |l| {
        l.starts_with("released ")
    });
    wait_idle(rig);
    kv(&ring, "channel").unwrap().parse().unwrap()
}

/// Wait until gatewayd has freed every channel.
fn wait_idle(rig: &Rig) {
    let t0 = std::time::Instant::now();
    while !rig.busy_channels().is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(5), "channels stay busy");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The channel sequence of: a busy call; a ringing call held; four busy calls; the
/// held call cleared; one more busy call.
fn hunt(prefix: &str) -> Vec<u8> {
    let mut rig = rig();
    let cdr0 = rig.cdrs().len();
    let busy = format!("{prefix}099917");
    let mut seq = vec![busy_call(&rig, &busy)];
    let mark = rig.switch.mark();
    let hold = rig.sipp_spawn_on(
        "hold",
        &uac_rejected(rig.line.law(), 9, 486, true),
        &format!("{prefix}0888"),
        common::free_udp_port(),
    );
    let ring = rig
        .switch
        .wait(mark, Duration::from_secs(15), |l| l.starts_with("ring "));
    let hold_id = kv(&ring, "id").unwrap().to_string();
    seq.push(kv(&ring, "channel").unwrap().parse().unwrap());
    for _ in 0..4 {
        // The held call's channel stays busy: wait only for the others.
        let mark = rig.switch.mark();
        let run = rig.sipp("hunt", &uac_rejected(rig.line.law(), 9, 486, false), &busy);
        assert!(run.ok, "SIPp expected 486:\n{}", run.trace);
        let r = rig
            .switch
            .wait(mark, Duration::from_secs(15), |l| l.starts_with("ring "));
        rig.switch.wait(mark, Duration::from_secs(15), |l| {
            l.starts_with("released ")
        });
        let t0 = std::time::Instant::now();
        while rig.busy_channels().len() > 1 {
            assert!(t0.elapsed() < Duration::from_secs(5), "channels stay busy");
            std::thread::sleep(Duration::from_millis(20));
        }
        seq.push(kv(&r, "channel").unwrap().parse().unwrap());
    }
    rig.switch.send(&format!("hangup {hold_id} 17"));
    let run = hold.finish();
    assert!(run.ok, "held call ends with 486:\n{}", run.trace);
    wait_idle(&rig);
    seq.push(busy_call(&rig, &busy));
    rig.assert_clean(cdr0, 7);
    seq
}

#[test]
fn a_channel_taken_out_of_service_with_ctl_is_skipped_until_put_back() {
    let rig = rig();
    let cdr0 = rig.cdrs().len();
    assert_eq!(rig.ctl("channel 1:22 out").trim(), "ok");
    assert!(
        rig.ctl("show channels")
            .lines()
            .any(|l| l == "1:22 out-of-service maintenance"),
        "{}",
        rig.ctl("show channels")
    );
    let skipped = busy_call(&rig, "099917");
    assert_eq!(rig.ctl("channel 1:22 in").trim(), "ok");
    let back = busy_call(&rig, "099917");
    assert_eq!((skipped, back), (23, 22), "pstn hunts ascending from 22");
    rig.assert_clean(cdr0, 2);
}

#[test]
fn a_span_taken_out_of_service_with_ctl_takes_no_call_until_put_back() {
    let rig = rig();
    let cdr0 = rig.cdrs().len();
    assert_eq!(rig.ctl("span 1 out").trim(), "ok");
    let chans = rig.ctl("show channels");
    let span1: Vec<&str> = chans.lines().filter(|l| l.starts_with("1:")).collect();
    assert_eq!(span1.len(), 30, "{chans}");
    assert!(
        span1
            .iter()
            .all(|l| l.ends_with("out-of-service maintenance")),
        "{chans}"
    );
    // No channel to hunt: congestion (cause 34) → 503, and libpri sees no SETUP.
    let mark = rig.switch.mark();
    let run = rig.sipp(
        "span-out",
        &uac_rejected(rig.line.law(), 9, 503, false),
        "0301234",
    );
    assert!(run.ok, "SIPp expected 503:\n{}", run.trace);
    assert!(
        !q931_after(&rig, mark).iter().any(|m| m == "rx SETUP"),
        "{:?}",
        q931_after(&rig, mark)
    );
    assert_eq!(rig.ctl("span 1 in").trim(), "ok");
    assert!(
        rig.ctl("show channels")
            .lines()
            .filter(|l| l.starts_with("1:"))
            .all(|l| l.ends_with(" idle")),
        "{}",
        rig.ctl("show channels")
    );
    assert_eq!(
        busy_call(&rig, "099917"),
        22,
        "back in service: pstn hunts from 22"
    );
    rig.assert_clean(cdr0, 2);
}

#[test]
fn hunting_ascending_takes_the_lowest_idle_channel() {
    let seq = hunt("061");
    assert_eq!(seq, [1, 1, 2, 2, 2, 2, 1]);
}

#[test]
fn hunting_descending_takes_the_highest_idle_channel() {
    let seq = hunt("062");
    assert_eq!(seq, [10, 10, 9, 9, 9, 9, 10]);
}

#[test]
fn hunting_round_robin_takes_the_channel_after_the_last_used() {
    let seq = hunt("063");
    // After 15 it wraps to 11; after 11 comes 12 (free again).
    assert_eq!(seq, [11, 12, 13, 14, 15, 11, 12]);
}

#[test]
fn hunting_least_recently_used_takes_the_channel_released_longest_ago() {
    let seq = hunt("064");
    // Never-used channels first; then 17 (released first); at the end 19, released
    // before 20, 21, 17 and the held 18.
    assert_eq!(seq, [17, 18, 19, 20, 21, 17, 19]);
}
