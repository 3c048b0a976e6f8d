//! Caller names end to end through the real daemon process, with libpri (`pri-switch`) as
//! the PSTN switch and SIPp as the IP-PBX:
//!
//! - T1, NI-2 (the gateway on the user side, which NI-2 lets send a name): the display-name
//!   of the PBX's From is the name libpri reads from the gateway's SETUP (a Display typed
//!   "calling party name", 0xB1); with `Privacy: id` no name goes.
//! - E1, EuroISDN, and T1, NI-2: libpri, the network side, names its caller in the
//!   SETUP's Display; the PBX gets it as the display-name of From.
//! - T1, NI-2, the name after the SETUP (GR-1367): libpri's SETUP says
//!   `InformationFollowing` and its FACILITY, sent once the gateway answered with CALL
//!   PROCEEDING, names the caller; the gateway waits for it before it sends the INVITE.

mod common;

use std::time::Duration;

use common::{
    kv, nanp_both_ways, uac_answered, uas_answer, Line, Rig, RtpPeer, Shared, SIP_TONE, SWITCH_TONE,
};

static T1: Shared = Shared::new();
static E1: Shared = Shared::new();

/// The PBX calls 2125551234 from `from_display` (From's display-name, as SIPp writes it)
/// with `headers`: the `ring` line of libpri.
fn pbx_calls_the_ni2_switch(from_display: &str, headers: &str) -> String {
    let rig = T1.lock(|| Rig::start("names-t1", Line::T1, &nanp_both_ways("ascending")));
    let law = rig.line.law();
    let cdr0 = rig.cdrs().len();
    let mark = rig.switch.mark();
    let rtp = RtpPeer::start(law, SIP_TONE, vec![SWITCH_TONE]);
    let mut xml = uac_answered(law, rtp.port, 300).replace(
        "From: pbx <sip:2001@",
        &format!("From: {from_display} <sip:2001@"),
    );
    if !headers.is_empty() {
        xml = xml.replacen(
            "Content-Type: application/sdp",
            &format!("{headers}\n      Content-Type: application/sdp"),
            1,
        );
    }
    assert!(xml.contains(from_display), "scenario not patched");
    let run = rig.sipp("names-uac", &xml, "2125551234");
    let _ = rtp.stop();
    assert!(run.ok, "SIPp call failed:\n{}", run.trace);
    let ring = rig
        .switch
        .wait(mark, Duration::from_secs(15), |l| l.starts_with("ring "));
    rig.assert_clean(cdr0, 1);
    ring
}

#[test]
fn the_pbx_callers_display_name_is_the_name_libpri_reads_on_ni2() {
    let ring = pbx_calls_the_ni2_switch("\"Alice PBX\"", "");
    assert_eq!(kv(&ring, "name"), Some("Alice_PBX"), "{ring}");
}

#[test]
fn privacy_id_keeps_the_callers_name_from_the_ni2_switch() {
    let ring = pbx_calls_the_ni2_switch("\"Alice PBX\"", "Privacy: id");
    assert_eq!(kv(&ring, "name"), Some("none"), "{ring}");
}

/// The switch on `rig` calls 201 named "Bob Switch": SIPp, answering, must see that name
/// as From's display-name.
fn switch_caller_name_reaches_the_pbx(rig: std::sync::MutexGuard<'static, Rig>) {
    switch_caller_named_reaches_the_pbx(rig, "Bob Switch");
}

/// As [`switch_caller_name_reaches_the_pbx`], with the caller named `name`.
fn switch_caller_named_reaches_the_pbx(mut rig: std::sync::MutexGuard<'static, Rig>, name: &str) {
    let law = rig.line.law();
    let cdr0 = rig.cdrs().len();
    let rtp = RtpPeer::start(law, SIP_TONE, vec![SWITCH_TONE]);
    let xml = uas_answer(law, rtp.port).replacen(
        "<recv request=\"INVITE\" crlf=\"true\"/>",
        "<recv request=\"INVITE\" crlf=\"true\">\n    <action>\n      <ereg \
         regexp=\"^ *&quot;NAME&quot; &lt;sip:\" search_in=\"hdr\" header=\"From:\" \
         check_it=\"true\" assign_to=\"from\"/>\n    </action>\n  </recv>\n  <Reference \
         variables=\"from\"/>"
            .replace("NAME", name)
            .as_str(),
        1,
    );
    assert!(xml.contains("assign_to"), "scenario not patched");
    let uas = rig.sipp_spawn("names-uas", &xml, "s");
    let (mark, id, _) = rig.switch_calls_and_clears(
        &format!("201 name={}", name.replace(' ', "_")),
        Duration::from_millis(300),
    );
    rig.switch.released(mark, &id);
    let run = uas.finish();
    let _ = rtp.stop();
    assert!(
        run.ok,
        "SIPp's INVITE lacks From \"{name}\":\n{}",
        run.trace
    );
    rig.assert_clean(cdr0, 1);
}

#[test]
fn the_euroisdn_switchs_caller_name_is_the_from_display_name_the_pbx_gets() {
    switch_caller_name_reaches_the_pbx(
        E1.lock(|| Rig::start("names-e1", Line::E1, &nanp_both_ways("ascending"))),
    );
}

#[test]
fn the_ni2_switchs_caller_name_is_the_from_display_name_the_pbx_gets() {
    switch_caller_name_reaches_the_pbx(
        T1.lock(|| Rig::start("names-t1", Line::T1, &nanp_both_ways("ascending"))),
    );
}

#[test]
fn the_ni2_switchs_caller_name_in_a_facility_after_the_setup_reaches_the_pbx() {
    let mut rig = T1.lock(|| Rig::start("names-t1", Line::T1, &nanp_both_ways("ascending")));
    let mark = rig.switch.mark();
    rig.switch.send("facility on");
    rig.switch.send("display off");
    rig.switch.wait(mark, Duration::from_secs(5), |l| {
        l.starts_with("display off")
    });
    switch_caller_named_reaches_the_pbx(rig, "Fac Later");
    let mut rig = T1.lock(|| Rig::start("names-t1", Line::T1, &nanp_both_ways("ascending")));
    rig.switch.send("display on");
    // The SETUP carried no Display: the name came in the FACILITY libpri sent after it.
    let lines = rig.switch.since(mark);
    let setup = lines
        .iter()
        .position(|l| l.contains("dir=tx msg=SETUP"))
        .expect("the switch's SETUP");
    assert!(
        lines[setup..]
            .iter()
            .any(|l| l.contains("dir=tx msg=FACILITY")),
        "{lines:?}"
    );
}
