//! A span alarm during a call, end to end through the real daemon process: `gatewayd` on a
//! simulated E1 (DAHDI span 1 through `libdahdi_sim.so`), `pri-switch` (libpri, network
//! side) on the far end, SIPp as the IP-PBX. `tdm-simd ctl impair 1 los on` cuts the
//! signal at gatewayd's receiver during an answered call: the call is cleared towards
//! SIP with a BYE carrying the Q.850 cause, the span's channels go out of service, and
//! come back when the signal returns (`los off`), after which calls go through again.
//! `show spans` and the metrics follow the span: its clock (the device's timing source
//! unless in alarm) and the frame slips its receiver counts (`impair 1 slip …`). The
//! other failure on an answered call, RTP that stops, clears it after `rtp_timeout`; a
//! call nobody answers is cleared after `no_answer_timeout`.

mod common;

use std::time::{Duration, Instant};

use common::{
    kv, uac_answered, uac_until_bye, Line, Rig, RtpPeer, Shared, DISPOSITION, ISDN_CAUSE, SIP_TONE,
    SWITCH_TONE,
};

const GROUPS: &str = r#"
[[trunk_group]]
name = "pstn"
members = [{ span = 1 }]

[[route]]
pattern = "_0X."
from = ["pbx"]
to = ["pstn"]
"#;

static RIG: Shared = Shared::new();

/// `[general] rtp_timeout = 2`: two seconds without RTP clear an answered call;
/// `no_answer_timeout = 3`: a call nobody answers within 3 s is cleared.
fn rig() -> std::sync::MutexGuard<'static, Rig> {
    RIG.lock(|| {
        Rig::start_with(
            "alarm",
            Line::E1,
            "rtp_timeout = 2\nno_answer_timeout = 3",
            "",
            GROUPS,
        )
    })
}

/// Waits up to 5 s (the daemon reads the spans' status every second) for span 1's line
/// of `show spans` (its words: span, alarm, D-channel, clock…, slips) to satisfy `want`.
fn wait_span_line(rig: &Rig, what: &str, want: impl Fn(&[&str]) -> bool) {
    let t0 = Instant::now();
    loop {
        let spans = rig.ctl("show spans");
        let line = spans.lines().find(|l| l.starts_with("1 ")).unwrap_or("");
        if want(&line.split_whitespace().collect::<Vec<_>>()) {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "span 1 not {what}:\n{spans}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_channels(rig: &Rig, what: &str, limit: Duration, pred: impl Fn(&str) -> bool) {
    let t0 = Instant::now();
    loop {
        let chans = rig.ctl("show channels");
        let lines: Vec<&str> = chans.lines().filter(|l| l.starts_with("1:")).collect();
        if lines.len() == 30 && lines.iter().all(|l| pred(l)) {
            return;
        }
        assert!(
            t0.elapsed() < limit,
            "channels not {what} after {limit:?}:\n{chans}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn loss_of_signal_during_a_call_clears_it_and_takes_the_channels_out_until_it_returns() {
    let rig = rig();
    let law = rig.line.law();
    let cdr0 = rig.cdrs().len();
    let mark = rig.switch.mark();
    let rtp = RtpPeer::start(law, SIP_TONE, vec![SWITCH_TONE]);
    let uac = rig.sipp_spawn("alarm-call", &uac_until_bye(law, rtp.port), "0301234");
    let answer = rig
        .switch
        .wait(mark, Duration::from_secs(10), |l| l.starts_with("answer "));
    let id = kv(&answer, "id").unwrap().to_string();
    std::thread::sleep(Duration::from_millis(500));

    let before_alarm = rig.switch.mark();
    rig.sim_ctl("impair 1 los on");
    let run = uac.finish();
    let rep = rtp.stop();
    assert!(run.ok, "SIPp got the gateway's BYE:\n{}", run.trace);
    assert!(
        run.trace.contains("Reason: Q.850;cause=27"),
        "the BYE carries Q.850 cause 27 (destination out of order):\n{}",
        run.trace
    );
    assert!(
        rep.heard_ms(SWITCH_TONE) > 0,
        "audio flowed before the alarm: {rep:?}"
    );
    wait_channels(&rig, "out of service", Duration::from_secs(5), |l| {
        l.contains("out-of-service") && l.contains("alarm")
    });
    // A span in red alarm gives no timing: the device times from elsewhere (a DAHDI
    // span's priority is dahdi_cfg's, so `other`).
    wait_span_line(&rig, "in alarm, not the timing source", |w| {
        w.get(1) == Some(&"ALARM") && w.get(3) == Some(&"other")
    });
    let m = rig.metrics();
    assert_eq!(m.get("gatewayd_span_alarm{span=\"1\"}"), 1.0, "{}", m.0);
    assert_eq!(
        m.get("gatewayd_span_sync_source{span=\"1\"}"),
        0.0,
        "{}",
        m.0
    );
    // libpri's side of the call ends too (the gateway's DISCONNECT reaches it, or its
    // own timers clear it).
    rig.switch.wait(mark, Duration::from_secs(40), |l| {
        l.starts_with("released ") && kv(l, "id") == Some(&id)
    });

    // The far end, libpri's span, sees the remote alarm (yellow) as a DAHDI event.
    let far = rig.switch.wait(before_alarm, Duration::from_secs(15), |l| {
        l.starts_with("alarm span=2")
    });
    eprintln!("pri-switch: {far}");

    rig.sim_ctl("impair 1 los off");
    wait_channels(&rig, "back in service", Duration::from_secs(30), |l| {
        l.ends_with(" idle")
    });
    let cdrs = rig.assert_clean(cdr0, 1);
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");
    assert_eq!(cdrs[0][ISDN_CAUSE], "27", "{cdrs:?}");

    // Service is back: a new call is answered and cleared normally.
    let cdr1 = rig.cdrs().len();
    let rtp = RtpPeer::start(law, SIP_TONE, vec![SWITCH_TONE]);
    let run = rig.sipp("after-alarm", &uac_answered(law, rtp.port, 500), "0301234");
    rtp.stop();
    assert!(run.ok, "a call after the alarm:\n{}", run.trace);
    let cdrs = rig.assert_clean(cdr1, 1);
    assert_eq!(cdrs[0][ISDN_CAUSE], "16", "{cdrs:?}");
}

#[test]
fn the_clock_source_shows_in_ctl_and_the_metrics_and_dahdi_reports_no_slip_count() {
    let rig = rig();
    // Not in alarm, clock_priority 1 (the default): the device times from span 1.
    wait_up(&rig);
    let m = rig.metrics();
    assert_eq!(
        m.get("gatewayd_span_sync_source{span=\"1\"}"),
        1.0,
        "{}",
        m.0
    );
    // DAHDI's span statistics count no slips (`DAHDI_SPANSTAT` has no such field): the
    // slips are unknown, not 0, in ctl (`-`) and absent from the metrics, even after
    // slips on the line.
    rig.sim_ctl("impair 1 slip repeat");
    std::thread::sleep(Duration::from_millis(1200));
    wait_span_line(&rig, "in service with an unknown slip count", |w| {
        w == ["1", "ok", "up", "source", "-"]
    });
    let m = rig.metrics();
    assert!(!m.0.contains("gatewayd_span_slips{"), "{}", m.0);
}

/// Span 1 in service: no alarm, D-channel up, the device's timing source.
fn wait_up(rig: &Rig) {
    let t0 = Instant::now();
    loop {
        let spans = rig.ctl("show spans");
        let ok = spans.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.get(..4) == Some(&["1", "ok", "up", "source"][..])
        });
        if ok {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(40),
            "span 1 not in service:\n{spans}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn rtp_that_stops_clears_the_answered_call_after_rtp_timeout_with_cause_41() {
    let rig = rig();
    let law = rig.line.law();
    let cdr0 = rig.cdrs().len();
    let mark = rig.switch.mark();
    let rtp = RtpPeer::start(law, SIP_TONE, vec![SWITCH_TONE]);
    let uac = rig.sipp_spawn("rtp-stops", &uac_until_bye(law, rtp.port), "0301234");
    let answer = rig
        .switch
        .wait(mark, Duration::from_secs(10), |l| l.starts_with("answer "));
    let id = kv(&answer, "id").unwrap().to_string();
    std::thread::sleep(Duration::from_millis(1000));
    // The PBX's RTP stops; the call stays up on both sides until the timeout.
    let stopped = Instant::now();
    let rep = rtp.stop();
    assert!(rep.heard_ms(SWITCH_TONE) > 0, "audio flowed first: {rep:?}");
    let run = uac.finish();
    let cleared_after = stopped.elapsed();
    assert!(run.ok, "SIPp got the gateway's BYE:\n{}", run.trace);
    assert!(
        run.trace.contains("Reason: Q.850;cause=41"),
        "the BYE carries Q.850 cause 41 (temporary failure):\n{}",
        run.trace
    );
    assert!(
        cleared_after >= Duration::from_millis(1900) && cleared_after < Duration::from_secs(6),
        "cleared {cleared_after:?} after the RTP stopped (rtp_timeout = 2)"
    );
    let disc = rig.switch.disconnect_of(mark, &id);
    assert_eq!(
        kv(&disc, "cause"),
        Some("41"),
        "DISCONNECT to libpri: {disc}"
    );
    rig.switch.released(mark, &id);
    let cdrs = rig.assert_clean(cdr0, 1);
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");
    assert_eq!(cdrs[0][ISDN_CAUSE], "41", "{cdrs:?}");
}

#[test]
fn a_call_nobody_answers_is_cleared_after_no_answer_timeout_with_cause_19() {
    let rig = rig();
    let law = rig.line.law();
    let cdr0 = rig.cdrs().len();
    let mark = rig.switch.mark();
    // 0888…: libpri rings and never answers.
    let t0 = Instant::now();
    let run = rig.sipp(
        "no-answer",
        &common::uac_rejected(law, 9, 480, true),
        "08881234",
    );
    let took = t0.elapsed();
    assert!(
        run.ok,
        "SIPp: 180, then 480 from the gateway:\n{}",
        run.trace
    );
    assert!(
        took >= Duration::from_millis(2900) && took < Duration::from_secs(8),
        "cleared after {took:?} (no_answer_timeout = 3)"
    );
    let disc = rig.switch.wait(mark, Duration::from_secs(10), |l| {
        l.starts_with("disconnect ")
    });
    assert_eq!(
        kv(&disc, "cause"),
        Some("19"),
        "DISCONNECT to libpri: {disc}"
    );
    rig.switch.wait(mark, Duration::from_secs(10), |l| {
        l.starts_with("released ")
    });
    let cdrs = rig.assert_clean(cdr0, 1);
    assert_eq!(cdrs[0][ISDN_CAUSE], "19", "{cdrs:?}");
    assert_ne!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");
}
