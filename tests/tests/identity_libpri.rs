//! Connected line after a transfer (issue 9), end to end through the real daemon process
//! with libpri (`pri-switch`) on a simulated E1 and SIPp as the IP-PBX:
//!
//! - PSTN side: SIPp calls PSTN party 1, then blind-transfers it (REFER) to PSTN party 2
//!   on the same span (trunk group `transfer = "hairpin"`). Once party 2 answers, the
//!   gateway tells party 1 whom it now talks to: ETSI ECT `EctInform` (EN 300 369-1)
//!   active with party 2's number, which libpri reports as a connected line update
//!   (`PRI_SUBCMD_CONNECTED_LINE`, pri-switch's `connected` line).
//! - SIP side: the switch's party of an answered call is transferred inside the PSTN
//!   (pri-switch's `colp`, libpri's `pri_connected_line_update`: `EctInform` in a
//!   FACILITY); the gateway tells the PBX, a trusted peer (`trust_identity`), with a
//!   mid-dialog request carrying P-Asserted-Identity (RFC 3325 §9.1, RFC 4916 §1):
//!   UPDATE when the PBX's INVITE listed UPDATE in Allow (RFC 3311 §5.1), else a
//!   re-INVITE offering the same media. SIPp checks the header and answers.
//! - COLP at answer (Q.951 §3 ↔ RFC 3325 §9.1), both ways: the switch's Connected number
//!   (set by `colp` before it answers) is the P-Asserted-Identity of the 200 OK SIPp gets;
//!   the P-Asserted-Identity of SIPp's 200 OK is the Connected number libpri reads in our
//!   CONNECT.

mod common;

use std::sync::MutexGuard;
use std::time::Duration;

use common::{
    answered_with, bye, kv, pstn_e1_transfer, sdp, uac_answered, uac_refer, uas_answer, Line, Rig,
    RtpPeer, Shared, CALLED, DISPOSITION, SIP_TONE, SWITCH_TONE,
};
use gateway_tests::audio::Law;

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

static PSTN_SIDE: Shared = Shared::new();
static SIP_SIDE: Shared = Shared::new();

#[test]
fn blind_transfer_tells_the_remaining_pstn_party_its_new_partner() {
    let _one = serial();
    let rig =
        PSTN_SIDE.lock(|| Rig::start("identity-pstn", Line::E1, &pstn_e1_transfer("hairpin")));
    let law = rig.line.law();
    let cdr0 = rig.cdrs().len();
    let mark = rig.switch.mark();
    let rtp = RtpPeer::start(law, SIP_TONE, vec![SWITCH_TONE]);
    let sipp = rig.sipp_spawn(
        "refer-identity",
        &uac_refer(law, rtp.port, 1000, "0302222"),
        "0301111",
    );
    let ring1 = rig.switch.wait(mark, Duration::from_secs(10), |l| {
        l.starts_with("ring ") && kv(l, "called") == Some("0301111")
    });
    let id1 = kv(&ring1, "id").unwrap().to_string();
    let ring2 = rig.switch.wait(mark, Duration::from_secs(15), |l| {
        l.starts_with("ring ") && kv(l, "called") == Some("0302222")
    });
    let id2 = kv(&ring2, "id").unwrap().to_string();
    // libpri's view of party 1 after the transfer: connected to 0302222, presentation
    // allowed (libpri's PRI_PRES_ALLOWED | PRI_PRES_USER_NUMBER_UNSCREENED = 0).
    let line = rig.switch.wait(mark, Duration::from_secs(10), |l| {
        l.starts_with("connected ") && kv(l, "id") == Some(id1.as_str())
    });
    assert_eq!(kv(&line, "number"), Some("0302222"), "{line}");
    assert_eq!(kv(&line, "pres"), Some("0x00"), "{line}");
    // Party 2 is told nothing: it was called by party 1's number all along.
    assert!(
        !rig.switch
            .since(mark)
            .iter()
            .any(|l| l.starts_with("connected ") && kv(l, "id") == Some(id2.as_str())),
        "{:?}",
        rig.switch.since(mark)
    );
    let run = sipp.finish();
    let _ = rtp.stop();
    assert!(run.ok, "SIPp transfer failed:\n{}", run.trace);
    let mut sw = rig;
    sw.switch.send(&format!("hangup {id1} 16"));
    for id in [&id1, &id2] {
        sw.switch.released(mark, id);
    }
    let cdrs = sw.assert_clean(cdr0, 2);
    assert_eq!(cdrs[0][DISPOSITION], "TRANSFERRED", "{cdrs:?}");
}

/// SIPp UAC: INVITE (with `allow` as its Allow header, if any), 200, ACK; then the
/// gateway's in-dialog `method` whose P-Asserted-Identity must name `number`, answered
/// 200 (with SDP for a re-INVITE, then its ACK); BYE.
fn uac_expecting(method: &str, allow: Option<&str>, number: &str, rtp_port: u16) -> String {
    let sdp = sdp(Law::ALaw, rtp_port);
    let allow = allow
        .map(|a| format!("\n      Allow: {a}"))
        .unwrap_or_default();
    let answer = if method == "INVITE" {
        format!(
            "      Contact: sip:2001@[local_ip]:[local_port]\n      Content-Type: application/sdp\n      \
             Content-Length: [len]\n\n      {}",
            sdp.replace("o=pbx 1 1", "o=pbx 1 2")
        )
    } else {
        "      Content-Length: 0".to_string()
    };
    let ack = if method == "INVITE" {
        "<recv request=\"ACK\"/>"
    } else {
        ""
    };
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="connected line update by {method}">
  {answered}
  <recv request="{method}" timeout="10000">
    <action>
      <ereg regexp="sip:{number}@" search_in="hdr" header="P-Asserted-Identity:" check_it="true" assign_to="pai"/>
    </action>
  </recv>
  <Reference variables="pai"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
{answer}
    ]]>
  </send>
  {ack}
  <pause milliseconds="300"/>
  {bye}
</scenario>
"#,
        answered = answered_with(Law::ALaw, rtp_port, &allow),
        bye = bye(2),
    )
}

fn sip_side_rig() -> MutexGuard<'static, Rig> {
    SIP_SIDE.lock(|| {
        Rig::start_with_trunk(
            "identity-sip",
            Line::E1,
            "trust_identity = true",
            &format!(
                "{}\n[[route]]\npattern = \"_2XX\"\nto = [\"pbx\"]\n",
                pstn_e1_transfer("hairpin")
            ),
        )
    })
}

/// The switch transfers its party of an answered call to `number`; SIPp must see
/// `method` asserting it.
fn switch_transfer_reaches_the_pbx(method: &str, allow: Option<&str>, number: &str) {
    let _one = serial();
    let rig = sip_side_rig();
    let cdr0 = rig.cdrs().len();
    let mark = rig.switch.mark();
    let rtp = RtpPeer::start(rig.line.law(), SIP_TONE, vec![SWITCH_TONE]);
    let sipp = rig.sipp_spawn(
        &format!("colp-{method}"),
        &uac_expecting(method, allow, number, rtp.port),
        "0301234",
    );
    let answer = rig
        .switch
        .wait(mark, Duration::from_secs(10), |l| l.starts_with("answer "));
    let id = kv(&answer, "id").unwrap().to_string();
    // Let the CONNECT ACKNOWLEDGE and the PBX's ACK pass.
    std::thread::sleep(Duration::from_millis(500));
    let mut rig = rig;
    rig.switch.send(&format!("colp {id} {number}"));
    rig.switch.wait(mark, Duration::from_secs(15), |l| {
        l.starts_with("colp ") && kv(l, "id") == Some(id.as_str())
    });
    let run = sipp.finish();
    let _ = rtp.stop();
    assert!(
        run.ok,
        "SIPp saw no {method} asserting {number}:\n{}",
        run.trace
    );
    let cdrs = rig.assert_clean(cdr0, 1);
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");
}

#[test]
fn switch_side_transfer_becomes_update_with_pai_when_the_pbx_allows_update() {
    switch_transfer_reaches_the_pbx("UPDATE", Some("INVITE, ACK, CANCEL, BYE, UPDATE"), "4711");
}

#[test]
fn switch_side_transfer_becomes_reinvite_with_pai_without_update_in_allow() {
    switch_transfer_reaches_the_pbx("INVITE", None, "4712");
}

#[test]
fn connected_number_of_the_switch_is_pai_of_the_200_ok() {
    let _one = serial();
    let rig = sip_side_rig();
    let cdr0 = rig.cdrs().len();
    let mark = rig.switch.mark();
    let rtp = RtpPeer::start(rig.line.law(), SIP_TONE, vec![SWITCH_TONE]);
    // pri-switch answers numbers with 0777 after 2 s: time to set its connected line.
    let xml = uac_answered(rig.line.law(), rtp.port, 500).replacen(
        "<recv response=\"200\" rtd=\"true\"/>",
        "<recv response=\"200\" rtd=\"true\">\n    <action>\n      <ereg regexp=\"sip:301999@\" \
         search_in=\"hdr\" header=\"P-Asserted-Identity:\" check_it=\"true\" assign_to=\"pai\"/>\n    \
         </action>\n  </recv>\n  <Reference variables=\"pai\"/>",
        1,
    );
    assert!(xml.contains("assign_to"), "scenario not patched");
    let sipp = rig.sipp_spawn("colp-200", &xml, "0307771");
    let ring = rig
        .switch
        .wait(mark, Duration::from_secs(10), |l| l.starts_with("ring "));
    let id = kv(&ring, "id").unwrap().to_string();
    let mut rig = rig;
    rig.switch.send(&format!("colp {id} 301999"));
    let run = sipp.finish();
    let _ = rtp.stop();
    assert!(
        run.ok,
        "SIPp's 200 OK lacks P-Asserted-Identity 301999:\n{}",
        run.trace
    );
    // libpri put it in its CONNECT.
    let log = rig.log_text("pri-switch.log");
    assert!(
        log.contains("Connected Number"),
        "no Connected number in libpri's CONNECT"
    );
    let cdrs = rig.assert_clean(cdr0, 1);
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");
}

#[test]
fn pai_of_the_pbx_200_ok_is_the_connected_number_libpri_reads() {
    let _one = serial();
    let mut rig = sip_side_rig();
    let cdr0 = rig.cdrs().len();
    let law = rig.line.law();
    let rtp = RtpPeer::start(law, SIP_TONE, vec![SWITCH_TONE]);
    let xml = uas_answer(law, rtp.port).replacen(
        "Content-Type: application/sdp",
        "P-Asserted-Identity: <sip:2015@[local_ip]>\n      Content-Type: application/sdp",
        1,
    );
    let uas = rig.sipp_spawn("uas-pai", &xml, "s");
    let (_, _, answer) = rig.switch_calls_and_clears("201", Duration::from_millis(300));
    // COLP: libpri's connected line is the PBX's asserted 2015, presentation allowed.
    assert_eq!(kv(&answer, "connected"), Some("2015"), "{answer}");
    assert_eq!(kv(&answer, "pres"), Some("0x00"), "{answer}");
    let run = uas.finish();
    let _ = rtp.stop();
    assert!(run.ok, "SIPp UAS:\n{}", run.trace);
    let cdrs = rig.assert_clean(cdr0, 1);
    assert_eq!(cdrs[0][CALLED], "201", "{cdrs:?}");
}
