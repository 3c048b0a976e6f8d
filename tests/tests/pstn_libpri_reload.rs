//! A DAHDI span added by a reload, end to end through the real daemon process: `tdm-simd`
//! simulates two E1 cables (DAHDI spans 1 and 2 the near ends, 3 and 4 the far ends);
//! `gatewayd` starts with span 1 only (DAHDI span 1 through `libdahdi_sim.so`), libpri
//! (`pri-switch`, network side, EuroISDN) runs on span 3 and a second libpri switch on
//! span 4, the far end of the cable nobody has configured yet. During an answered call
//! on span 1 the test adds span 2 to the file (`device = { kind = "dahdi", dahdi_span =
//! 2 }`) with a trunk group, and reloads with `gatewayd ctl reload`; then a route to it,
//! reloaded with SIGHUP. The new span's D-channel comes up with its switch, calls cross
//! it both ways with tones each way, and the first call goes on untouched. Last, span 2
//! (idle) is removed by a reload and added again by SIGHUP: its DAHDI D-channel is
//! closed, opened again and carries a call.

mod common;

use std::time::{Duration, Instant};

use common::{
    assert_tones_both_ways, free_udp_port, heard_ms, kv, uac_answered, uac_rejected, uac_until_bye,
    uas_answer, wait_udp_bound, Line, PriSwitch, Rig, RtpPeer, Shared, ANSWERED_CLEARED_BY_BYE,
    CALLED, CHANNEL, DISPOSITION, IN_TRUNK, ISDN_CAUSE, OUT_TRUNK, PLACED_ANSWERED_SWITCH_CLEARS,
    PSTN_BOTH_WAYS, RELEASE_SIDE, SIP_TONE, SPAN, SWITCH_TONE, TRANSFER_TONE,
};

/// What the first reload (`ctl reload`) adds: span 2 on DAHDI span 2 and a trunk group
/// on it (descending, so that its first call takes channel 31).
const SPAN_2: &str = r#"
# Added by the test, then `gatewayd ctl reload`.
[[span]]
id = 2
type = "e1"
signalling = "pri_cpe"
switchtype = "euroisdn"
device = { kind = "dahdi", dahdi_span = 2 }

[[trunk_group]]
name = "pstn2"
members = [{ span = 2 }]
hunting = "descending"
"#;

/// What the second reload (SIGHUP) adds: a route to span 2's trunk group.
const ROUTE_2: &str = r#"
# Added by the test, then SIGHUP.
[[route]]
pattern = "_4X."
from = ["pbx"]
to = ["pstn2"]
"#;

/// The far ends: span 1's switch on DAHDI span 3, span 2's on DAHDI span 4.
const FAR_1: u16 = 3;
const FAR_2: u16 = 4;

/// The tone span 1's switch plays once span 2 is in use (so that what the PBX hears of
/// the first call after the reload is told apart from what it heard before).
const LATE_SWITCH_TONE: f64 = 600.0;

static RIG: Shared = Shared::new();

/// A talk phase the test ends itself lasts until the PBX has heard the switch's tone this
/// long (and at least [`TALK_MIN`]): on a starved host the audio comes late or with gaps,
/// and the phase grows instead of the measurement shrinking.
const TALK_HEARD_MS: u64 = 1000;
const TALK_MIN: Duration = Duration::from_millis(1500);
/// What the switch must have heard of the PBX's tone in such a phase. It measures about
/// as much as the PBX heard on an idle host; with four processes spinning on these two
/// cores (load 14) one switch heard 620 ms in 2 s of an inbound call (the PBX 1,700 ms):
/// the bound says that the tone crossed, the figures are printed.
const HEARD_MIN_MS: u64 = 300;

/// The talk phase of a call whose PBX side is `rtp`, listening for `hz` from the switch.
fn talk(rtp: &RtpPeer, hz: f64) {
    let t0 = Instant::now();
    wait_for(
        Duration::from_secs(20),
        "the PBX hears the switch",
        || t0.elapsed() >= TALK_MIN && rtp.heard_ms_now(hz) >= TALK_HEARD_MS,
        || format!("{hz} Hz heard for {} ms", rtp.heard_ms_now(hz)),
    );
}

/// Polls `what` every 50 ms until it holds, failing after `limit` with `state()`.
fn wait_for(limit: Duration, what: &str, mut ok: impl FnMut() -> bool, state: impl Fn() -> String) {
    let t0 = Instant::now();
    while !ok() {
        assert!(
            t0.elapsed() < limit,
            "{what}: not within {limit:?}\n{}",
            state()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits up to 10 s until all 30 B-channels of span 2 are idle (in service, no call).
fn wait_span2_idle(rig: &Rig, what: &str) {
    wait_for(
        Duration::from_secs(10),
        what,
        || {
            let chans = rig.ctl("show channels");
            let on2: Vec<&str> = chans.lines().filter(|l| l.starts_with("2:")).collect();
            on2.len() == 30 && on2.iter().all(|l| l.ends_with(" idle"))
        },
        || rig.ctl("show channels"),
    );
}

/// `show spans` has span `span` with its D-channel up.
fn dchannel_up(rig: &Rig, span: u16) -> bool {
    let id = span.to_string();
    rig.ctl("show spans").lines().any(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.first() == Some(&id.as_str()) && w.get(2) == Some(&"up")
    })
}

/// How many times gatewayd logged `what`.
fn logged(rig: &Rig, what: &str) -> usize {
    std::fs::read_to_string(rig.dir.join("gatewayd.log"))
        .unwrap_or_default()
        .matches(what)
        .count()
}

/// Append `text` to gatewayd's configuration file.
fn append_config(rig: &Rig, text: &str) {
    let path = rig.config_path();
    let mut cfg = std::fs::read_to_string(&path).unwrap();
    cfg.push_str(text);
    std::fs::write(&path, cfg).unwrap();
}

/// The first line after `mark` of switch `sw` that starts with `word` for call `id`.
fn event_of(sw: &PriSwitch, mark: usize, word: &str, id: &str, limit: Duration) -> String {
    sw.wait(mark, limit, |l| {
        l.starts_with(word) && kv(l, "id") == Some(id)
    })
}

#[test]
fn a_dahdi_span_added_by_reload_during_a_call_carries_calls_both_ways_and_the_call_goes_on() {
    let mut rig = RIG.lock(|| Rig::start_cables("reload", Line::E1, 2, "", "", PSTN_BOTH_WAYS));
    let law = rig.line.law();
    let cdr0 = rig.cdrs().len();
    // The far end of the second cable: its switch runs (and calls for its data link)
    // before the gateway knows the span.
    let mut sw2 = rig.start_switch(FAR_2);
    let spans = rig.ctl("show spans");
    assert!(!spans.lines().any(|l| l.starts_with("2 ")), "{spans}");

    // Call 1 on span 1: SIPp calls the switch, which answers; SIPp waits for its BYE.
    let mark1 = rig.switch.mark();
    let rtp1 = RtpPeer::start(
        law,
        SIP_TONE,
        vec![SWITCH_TONE, LATE_SWITCH_TONE, SIP_TONE, TRANSFER_TONE],
    );
    let uac1 = rig.sipp_spawn_on(
        "call1",
        &uac_until_bye(law, rtp1.port),
        "0301234",
        free_udp_port(),
    );
    let ring1 = rig
        .switch
        .wait(mark1, Duration::from_secs(10), |l| l.starts_with("ring "));
    let id1 = kv(&ring1, "id").unwrap().to_string();
    assert_eq!(kv(&ring1, "channel"), Some("1"), "pstn hunts ascending");
    event_of(&rig.switch, mark1, "answer ", &id1, Duration::from_secs(10));
    wait_for(
        Duration::from_secs(10),
        "call 1 busy on 1:1",
        || rig.busy_channels().iter().any(|l| l.starts_with("1:1 ")),
        || rig.ctl("show channels"),
    );

    // Reload 1, `gatewayd ctl reload`: span 2 and its trunk group.
    append_config(&rig, SPAN_2);
    assert_eq!(rig.ctl("reload"), "ok\n", "the reload is accepted");
    let spans = rig.ctl("show spans");
    assert!(
        spans.lines().any(|l| l.starts_with("2 ")),
        "span 2 listed:\n{spans}"
    );
    wait_for(
        Duration::from_secs(20),
        "span 2's D-channel up at both ends",
        || dchannel_up(&rig, 2) && sw2.link_up(FAR_2),
        || {
            format!(
                "{}\ngatewayd:\n{}\nswitch 2:\n{}",
                rig.ctl("show spans"),
                rig.log("gatewayd.log"),
                sw2.since(0).join("\n")
            )
        },
    );
    assert_eq!(logged(&rig, "span added by reload not opened"), 0);
    assert_eq!(logged(&rig, "span added by reload span=2"), 1);
    // Its 30 B-channels come into service with the data link.
    wait_span2_idle(&rig, "span 2's channels idle");
    assert!(dchannel_up(&rig, 1), "{}", rig.ctl("show spans"));
    assert_eq!(rig.ctl("show calls").lines().count(), 1, "call 1 goes on");

    // Call 2, inbound on span 2: its switch calls the PBX (SIPp UAS), which answers.
    let rtp2 = RtpPeer::start(law, SIP_TONE, vec![SWITCH_TONE, SIP_TONE]);
    let uas = rig.sipp_spawn("uas2", &uas_answer(law, rtp2.port), "s");
    wait_udp_bound(rig.pbx_port, Duration::from_secs(10));
    let mark2 = sw2.mark();
    sw2.send(&format!("call {FAR_2} 201"));
    let placed = sw2.wait(mark2, Duration::from_secs(15), |l| {
        l.starts_with("placed ") || l.starts_with("error")
    });
    let id2 = kv(&placed, "id")
        .unwrap_or_else(|| panic!("{placed}"))
        .to_string();
    let ch2: u8 = kv(&placed, "channel").unwrap().parse().unwrap();
    event_of(&sw2, mark2, "answer ", &id2, Duration::from_secs(10));
    wait_for(
        Duration::from_secs(5),
        "calls on both spans",
        || {
            let busy = rig.busy_channels();
            busy.iter().any(|l| l.starts_with("1:1 "))
                && busy.iter().any(|l| l.starts_with(&format!("2:{ch2} ")))
        },
        || rig.ctl("show channels"),
    );
    talk(&rtp2, SWITCH_TONE);
    sw2.send(&format!("hangup {id2} 16"));
    let media2 = event_of(&sw2, mark2, "media ", &id2, Duration::from_secs(5));
    let run = uas.finish();
    let rep2 = rtp2.stop();
    assert!(run.ok, "SIPp UAS: INVITE, answer, BYE:\n{}", run.trace);
    assert!(
        run.trace.contains("Reason: Q.850;cause=16"),
        "the BYE carries the switch's cause 16:\n{}",
        run.trace
    );
    sw2.assert_q931_in_order(FAR_2, mark2, &PLACED_ANSWERED_SWITCH_CLEARS);
    eprintln!("switch 2 (call 2): {media2}\nPBX (call 2): {rep2:?}");
    assert!(
        heard_ms(&media2, "heard", SIP_TONE) >= HEARD_MIN_MS,
        "switch 2 heard the PBX's 1800 Hz: {media2}"
    );
    assert!(
        rep2.heard_ms(SWITCH_TONE) >= TALK_HEARD_MS,
        "the PBX heard switch 2's 1004 Hz: {rep2:?}"
    );

    // Reload 2, SIGHUP: a route to span 2's trunk group.
    let mark_hup = sw2.mark();
    let reloads = logged(&rig, "configuration reloaded");
    append_config(&rig, ROUTE_2);
    // SAFETY: kill(2) on our own child's pid.
    let r = unsafe { libc::kill(rig.gatewayd_pid() as libc::pid_t, libc::SIGHUP) };
    assert_eq!(r, 0, "kill -HUP gatewayd");
    wait_for(
        Duration::from_secs(10),
        "SIGHUP reloads",
        || logged(&rig, "configuration reloaded") > reloads,
        || rig.log("gatewayd.log"),
    );
    assert_eq!(
        logged(&rig, "reload refused"),
        0,
        "{}",
        rig.log("gatewayd.log")
    );

    // Call 3, outbound on span 2: SIPp calls 4301234, routed to pstn2; switch 2 answers.
    let mark3 = sw2.mark();
    let rtp3 = RtpPeer::start(law, SIP_TONE, vec![SWITCH_TONE, SIP_TONE]);
    let uac3 = rig.sipp_spawn_on(
        "call3",
        &uac_answered(law, rtp3.port, 2500),
        "4301234",
        free_udp_port(),
    );
    let ring3 = sw2.wait(mark3, Duration::from_secs(10), |l| l.starts_with("ring "));
    assert_eq!(kv(&ring3, "called"), Some("4301234"));
    assert_eq!(kv(&ring3, "span"), Some("4"), "{ring3}");
    assert_eq!(kv(&ring3, "channel"), Some("31"), "pstn2 hunts descending");
    assert_eq!(kv(&ring3, "layer1"), Some("35"), "A-law bearer");
    let id3 = kv(&ring3, "id").unwrap().to_string();
    event_of(&sw2, mark3, "answer ", &id3, Duration::from_secs(10));
    let run = uac3.finish();
    let rep3 = rtp3.stop();
    assert!(run.ok, "SIPp call 3 failed:\n{}", run.trace);
    let disc3 = event_of(&sw2, mark3, "disconnect ", &id3, Duration::from_secs(5));
    assert_eq!(kv(&disc3, "cause"), Some("16"), "BYE → DISCONNECT cause 16");
    let media3 = event_of(&sw2, mark3, "media ", &id3, Duration::from_secs(5));
    sw2.assert_q931_in_order(FAR_2, mark3, &ANSWERED_CLEARED_BY_BYE);
    eprintln!("switch 2 (call 3): {media3}\nPBX (call 3): {rep3:?}");
    // Switch 2 heard the PBX's 1800 Hz and the PBX switch 2's 1004 Hz, in PCMA only.
    assert_tones_both_ways(&media3, &rep3, law, 1000);
    // The SIGHUP reload left span 2's data link alone.
    assert!(
        !sw2.since(mark_hup).iter().any(|l| l.starts_with("down ")),
        "{:?}",
        sw2.since(mark_hup)
    );

    // Call 1 went on through both reloads and both calls: each side now sends another
    // tone, heard by the other, then the switch clears it.
    assert!(
        rig.busy_channels().iter().any(|l| l.starts_with("1:1 ")),
        "{}",
        rig.ctl("show channels")
    );
    let mark_late = rig.switch.mark();
    rtp1.set_tone(TRANSFER_TONE);
    rig.switch.send(&format!("tone {id1} {LATE_SWITCH_TONE}"));
    rig.switch.wait(mark_late, Duration::from_secs(15), |l| {
        l.starts_with("tone ") && kv(l, "id") == Some(&id1)
    });
    talk(&rtp1, LATE_SWITCH_TONE);
    rig.switch.send(&format!("hangup {id1} 16"));
    let media1 = event_of(&rig.switch, mark1, "media ", &id1, Duration::from_secs(5));
    let run = uac1.finish();
    let rep1 = rtp1.stop();
    assert!(
        run.ok,
        "SIPp call 1 ends with the gateway's BYE:\n{}",
        run.trace
    );
    assert!(
        run.trace.contains("Reason: Q.850;cause=16"),
        "the BYE carries the switch's cause 16:\n{}",
        run.trace
    );
    event_of(
        &rig.switch,
        mark1,
        "released ",
        &id1,
        Duration::from_secs(5),
    );
    // Span 1 saw call 1's messages and nothing else: no RESTART, no STATUS, no
    // clearing before the switch's own, and its data link never went down.
    let want1 = [
        "rx SETUP",
        "tx CALL_PROCEEDING",
        "tx ALERTING",
        "tx CONNECT",
        "rx CONNECT_ACKNOWLEDGE",
        "tx DISCONNECT",
        "rx RELEASE",
        "tx RELEASE_COMPLETE",
    ];
    let seen1 = rig.switch.assert_q931_in_order(FAR_1, mark1, &want1);
    assert_eq!(seen1, want1, "span 1's Q.931 during the reloads");
    assert!(
        !rig.switch
            .since(mark1)
            .iter()
            .any(|l| l.starts_with("down ")),
        "span 1's data link stayed up"
    );
    eprintln!("switch 1 (call 1): {media1}\nPBX (call 1): {rep1:?}");
    assert!(
        heard_ms(&media1, "heard", SIP_TONE) >= 1000,
        "switch 1 heard the PBX's 1800 Hz: {media1}"
    );
    assert!(
        heard_ms(&media1, "heard", TRANSFER_TONE) >= HEARD_MIN_MS,
        "switch 1 heard the PBX's 1400 Hz sent after the reloads: {media1}"
    );
    assert!(
        rep1.heard_ms(SWITCH_TONE) >= 1000,
        "the PBX heard switch 1's 1004 Hz: {rep1:?}"
    );
    assert!(
        rep1.heard_ms(LATE_SWITCH_TONE) >= TALK_HEARD_MS,
        "the PBX heard switch 1's 600 Hz played after the reloads: {rep1:?}"
    );

    // Nothing busy, no call left, one CDR per call.
    let cdrs = rig.assert_clean(cdr0, 3);
    let cdr = |called: &str| {
        cdrs.iter()
            .find(|r| r[CALLED] == called)
            .unwrap_or_else(|| panic!("no CDR for {called}: {cdrs:?}"))
    };
    let ch2 = ch2.to_string();
    // (called, span, channel, (trunk column, trunk group), side that cleared)
    for (called, span, channel, group, side) in [
        ("0301234", "1", "1", (OUT_TRUNK, "pstn"), "isdn"),
        ("201", "2", ch2.as_str(), (IN_TRUNK, "pstn2"), "isdn"),
        ("4301234", "2", "31", (OUT_TRUNK, "pstn2"), "sip"),
    ] {
        let c = cdr(called);
        assert_eq!(c[DISPOSITION], "ANSWERED", "{c:?}");
        assert_eq!(c[ISDN_CAUSE], "16", "{c:?}");
        assert_eq!(c[SPAN], span, "{c:?}");
        assert_eq!(c[CHANNEL], channel, "{c:?}");
        assert_eq!(c[group.0], group.1, "{c:?}");
        assert_eq!(c[RELEASE_SIDE], side, "{c:?}");
    }

    // Span 2, idle, removed by `ctl reload`: its DAHDI D-channel is closed; added again
    // by SIGHUP: the same channel is opened again and carries a call.
    let cfg = std::fs::read_to_string(rig.config_path()).unwrap();
    let without = cfg.replace(SPAN_2, "").replace(ROUTE_2, "");
    assert_ne!(without, cfg);
    std::fs::write(rig.config_path(), without).unwrap();
    assert_eq!(rig.ctl("reload"), "ok\n", "an idle span may go");
    let spans = rig.ctl("show spans");
    assert!(!spans.lines().any(|l| l.starts_with("2 ")), "{spans}");
    wait_for(
        Duration::from_secs(10),
        "span 2's D-channel closed",
        || logged(&rig, "spans removed by reload: D-channels closed") == 1,
        || rig.log("gatewayd.log"),
    );
    assert!(
        rig.ctl("show channels")
            .lines()
            .filter(|l| l.starts_with("2:"))
            .all(|l| l.contains("out-of-service")),
        "{}",
        rig.ctl("show channels")
    );
    let reloads = logged(&rig, "configuration reloaded");
    append_config(&rig, SPAN_2);
    append_config(&rig, ROUTE_2);
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(
        unsafe { libc::kill(rig.gatewayd_pid() as libc::pid_t, libc::SIGHUP) },
        0
    );
    wait_for(
        Duration::from_secs(20),
        "span 2 added again, D-channel up",
        || logged(&rig, "configuration reloaded") > reloads && dchannel_up(&rig, 2),
        || format!("{}\n{}", rig.ctl("show spans"), rig.log("gatewayd.log")),
    );
    assert_eq!(logged(&rig, "span added by reload span=2"), 2);
    assert_eq!(logged(&rig, "span added by reload not opened"), 0);
    wait_span2_idle(&rig, "span 2's channels idle again");
    let cdr4 = rig.cdrs().len();
    let mark4 = sw2.mark();
    let run = rig.sipp("busy2", &uac_rejected(law, 9, 486, false), "4099917");
    assert!(run.ok, "SIPp expected 486 from span 2:\n{}", run.trace);
    let ring4 = sw2.wait(mark4, Duration::from_secs(15), |l| l.starts_with("ring "));
    assert_eq!(kv(&ring4, "channel"), Some("31"), "{ring4}");
    let cdrs = rig.assert_clean(cdr4, 1);
    assert_eq!(cdrs[0][DISPOSITION], "BUSY", "{cdrs:?}");
    assert_eq!(cdrs[0][ISDN_CAUSE], "17", "{cdrs:?}");
    assert_eq!(
        (cdrs[0][SPAN].as_str(), cdrs[0][CHANNEL].as_str()),
        ("2", "31")
    );
}
