//! Replaces and REFER corner cases end to end through gatewayd (RFC 3891, RFC 4488),
//! with SIPp (Debian `sip-tester`) as the PBX's phones and the simulated E1 switch as the
//! PSTN party (it calls 201 with `gatewayd ctl simcall`, plays its 1004 Hz tone and
//! reports the tones it heard):
//! - an INVITE with `Replaces` and no SDP (RFC 3261 §13.2.1): our 200 carries the offer,
//!   C's ACK the answer; the switch and C then hear each other;
//! - `Replaces` naming the early dialog of an INVITE the gateway sent (RFC 3891 §3, a
//!   call pickup): C answers the switch's call, the ringing phone gets CANCEL;
//! - `Refer-Sub: false` (RFC 4488 §4): 202 with `Refer-Sub: false`, no NOTIFY, the
//!   transfer goes on (the target on a second SIP trunk answers, the transferor is
//!   BYE'd).
//!
//! Each ends with its CDRs and no call or channel left.

use std::net::SocketAddrV4;
use std::time::Duration;

use crate::daemon_support::{free_udp_port, Daemon, Options, CALLED, DISPOSITION};
use crate::transfer_support::{
    c_hangs_up, ok_with_sdp, party_c, read_dialog, records, ringing, scenario, sdp, spawn_sipp,
    write_dialog, RtpEnd, CALL_ID, OK_TO_REQUEST, OUT_TRUNK, REPLACES, REPLACING_GLOBALS,
    SWITCH_TONE, TRANSFER,
};

/// The tone of the party that takes the call over (C, or the transfer's target).
const NEW_TONE: f64 = 1800.0;
/// The tone of the phone the switch called first.
const A_TONE: f64 = 1400.0;

fn start(name: &str, phone_b: u16) -> Daemon {
    start_with(name, phone_b, free_udp_port(), "")
}

/// As [`start`], with the second trunk listening on `pbx2` and `extra` keys of it.
fn start_with(name: &str, phone_b: u16, pbx2: u16, extra: &str) -> Daemon {
    let tail = format!(
        r#"
[[sip_trunk]]
name = "pbx2"
listen = "127.0.0.1:{pbx2}"
peers = ["127.0.0.1:{phone_b}"]
{extra}

[[route]]
pattern = "_3XX"
from = ["pstn"]
to = ["pbx2"]
"#
    );
    Daemon::start(
        name,
        Options {
            tail: &tail,
            ..Options::default()
        },
    )
}

/// The phone the switch's call reaches (SIPp as UAS on the trunk's peer port): keeps the
/// gateway's tag (`$gwtag`, the From tag of its INVITE), rings, then `then`.
fn phone(then: &str) -> String {
    scenario(
        "phone",
        &format!(
            r#"  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp="sip:[^>;\r\n]*" search_in="hdr" header="Contact:" assign_to="gwuri"/>
      <ereg regexp="[^\r\n]*" search_in="hdr" header="From:" assign_to="gwfrom"/>
      <ereg regexp=";tag=([^;>\r\n]*)" search_in="hdr" header="From:" assign_to="gwtagall,gwtag"/>
    </action>
  </recv>
{ringing}
{then}"#,
            ringing = ringing("atag[call_number]")
        ),
    )
}

/// The phone answers (media at `rtp`) after 200 ms and ACK.
fn answer(rtp: SocketAddrV4) -> String {
    format!(
        r#"  <pause milliseconds="200"/>
{}
  <recv request="ACK" crlf="true"/>"#,
        ok_with_sdp("atag[call_number]", rtp)
    )
}

/// The phone answers (media at `rtp`), talks 1 s, then REFERs the gateway with
/// `headers` (`Refer-To` and the like), one a line.
fn answer_then_refer(rtp: SocketAddrV4, headers: &[&str]) -> String {
    let headers: String = headers.iter().map(|h| format!("      {h}\n")).collect();
    format!(
        r#"{}
  <pause milliseconds="1000"/>
  <send retrans="500">
    <![CDATA[
      REFER [$gwuri] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:201@[local_ip]:[local_port]>;tag=atag[call_number]
      To:[$gwfrom]
      Call-ID: [call_id]
      CSeq: 2 REFER
      Contact: <sip:201@[local_ip]:[local_port]>
{headers}      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>"#,
        answer(rtp)
    )
}

/// C: INVITE to 201 with `Replaces` (the dialog given with `-set callid/gwtag/atag`) and
/// `offer` as its SDP (none when `None`: then our 200 must carry an offer and the ACK
/// carries C's answer), talks `talk_ms`, BYE — or, with `talk_ms` `None`, waits for the
/// gateway's BYE.
fn replacing(rtp: SocketAddrV4, offer: bool, talk_ms: Option<u64>) -> String {
    let c = party_c("ctag[call_number]", "201");
    let (mut invite, mut ack) = (c.invite(1).header(REPLACES), c.in_dialog("ACK", 1));
    if offer {
        invite = invite.sdp(&sdp(rtp));
    } else {
        ack = ack.sdp(&sdp(rtp));
    }
    let check_offer = if offer {
        ""
    } else {
        r#"
    <action>
      <ereg regexp="m=audio [0-9]+ RTP/AVP" search_in="body" check_it="true" assign_to="offer"/>
    </action>"#
    };
    let end = match talk_ms {
        Some(ms) => c_hangs_up(&c, ms),
        None => format!("  <recv request=\"BYE\"/>\n{OK_TO_REQUEST}"),
    };
    let reference = if offer {
        String::new()
    } else {
        "\n  <Reference variables=\"offer\"/>".to_string()
    };
    scenario(
        "replacing",
        &format!(
            r#"{REPLACING_GLOBALS}
{}  <recv response="100" optional="true"/>
  <recv response="200" rrs="true">{check_offer}
  </recv>
{}{end}{reference}"#,
            invite.send_retrans(),
            ack.send(),
        ),
    )
}

/// A, the phone C replaces: answers (media at `rtp`), writes the dialog for C, is BYE'd.
fn replaced_phone(rtp: SocketAddrV4) -> String {
    phone(&format!(
        "{}\n{}\n  <recv request=\"BYE\"/>\n{OK_TO_REQUEST}\n  <timewait milliseconds=\"300\"/>\n  \
         <Reference variables=\"gwuri,gwfrom,gwtagall\"/>",
        answer(rtp),
        write_dialog("atag[call_number]")
    ))
}

/// Run C (from a port of its own) with the dialog A wrote.
fn run_c(d: &Daemon, sf: &str) -> bool {
    run_c_at(d, sf, "127.0.0.1", d.sip_port)
}

/// Run C from address `ip` towards our SIP listener on port `to`.
fn run_c_at(d: &Daemon, sf: &str, ip: &str, to: u16) -> bool {
    let set = read_dialog(d);
    let mut args: Vec<&str> = vec!["-sf", sf, "-s", "201", "-m", "1"];
    args.extend(set.iter().map(String::as_str));
    std::process::Command::new("sipp")
        .args(&args)
        .args(["-p", &free_udp_port().to_string(), "-i", ip])
        .args(["-timeout", "30", "-timeout_error", "-nostdin"])
        .arg(format!("127.0.0.1:{to}"))
        .current_dir(&d.dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("sipp runs")
        .success()
}

/// The switch's call to 201 as `show sim-calls` reports it.
fn switch_call(d: &Daemon) -> String {
    let sim = d.ctl("show sim-calls");
    sim.lines()
        .find(|l| l.contains("to-gateway"))
        .unwrap_or_else(|| panic!("{sim}"))
        .to_string()
}

/// Attended transfer with a delayed offer: C's INVITE with `Replaces` has no SDP; our 200
/// carries the offer and C's ACK the answer, after which the B-channel is bridged to C.
#[test]
fn replaces_without_sdp_offers_in_the_200_and_takes_the_answer_from_the_ack() {
    let d = start("xfer-sip-nosdp", free_udp_port());
    let a_rtp = RtpEnd::start(A_TONE);
    let c_rtp = RtpEnd::start(NEW_TONE);
    let sf_a = d.scenario("phone.xml", &replaced_phone(a_rtp.addr));
    let mut a = d.sipp_uas(&["-sf", &sf_a, "-m", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(d.ctl("simcall 1 201 6000"), "ok\n");
    let sf_c = d.scenario("replacing.xml", &replacing(c_rtp.addr, false, Some(3000)));
    std::thread::sleep(Duration::from_millis(1000));
    let ok_c = run_c(&d, &sf_c);
    let ok_a = a.wait().unwrap().success();
    assert!(
        ok_c,
        "SIPp C: 200 with an SDP offer, ACK with the answer, BYE"
    );
    assert!(ok_a, "SIPp A: answered, BYE'd when replaced");
    let c_heard = c_rtp.heard(SWITCH_TONE);
    assert!(c_heard >= 75, "C heard the switch: {c_heard}");
    a_rtp.stop();
    c_rtp.stop();
    let call = switch_call(&d);
    assert!(call.contains("1800Hz/"), "the switch heard C: {call}");
    let cdrs = records(&d, 0, 2);
    assert_eq!(cdrs.len(), 2, "{cdrs:?}");
    let id = cdrs[0][CALL_ID].clone();
    assert_eq!(cdrs[0][DISPOSITION], "TRANSFERRED", "{cdrs:?}");
    assert_eq!(cdrs[0][TRANSFER], format!("attended as {id}.1"));
    assert_eq!(cdrs[1][DISPOSITION], "ANSWERED");
    assert_eq!(cdrs[1][TRANSFER], format!("attended from {id}"));
    d.assert_no_busy_channel();
}

/// RFC 3891 §3: Replaces naming the early dialog of the INVITE the gateway sent (A rings,
/// never answers): C takes the call (the switch is connected to C), A gets CANCEL.
#[test]
fn replaces_of_an_early_dialog_the_gateway_initiated_answers_and_cancels_the_ringing_phone() {
    let d = start("xfer-sip-early", free_udp_port());
    let c_rtp = RtpEnd::start(NEW_TONE);
    let then = format!(
        r#"{}
  <recv request="CANCEL">
    <action>
      <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="cs"/>
    </action>
  </recv>
{OK_TO_REQUEST}
  <send>
    <![CDATA[
      SIP/2.0 487 Request Terminated
      [last_Via:]
      [last_From:]
      [last_To:];tag=atag[call_number]
      [last_Call-ID:]
      CSeq: [$cs] INVITE
      Content-Length: 0
    ]]>
  </send>
  <recv request="ACK"/>
  <timewait milliseconds="300"/>
  <Reference variables="gwuri,gwfrom,gwtagall"/>"#,
        write_dialog("atag[call_number]")
    );
    let sf_a = d.scenario("phone.xml", &phone(&then));
    let mut a = d.sipp_uas(&["-sf", &sf_a, "-m", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(d.ctl("simcall 1 201 3000"), "ok\n");
    // C picks up while A rings; the switch clears 3 s after the answer.
    let sf_c = d.scenario("replacing.xml", &replacing(c_rtp.addr, true, None));
    std::thread::sleep(Duration::from_millis(500));
    let ok_c = run_c(&d, &sf_c);
    let ok_a = a.wait().unwrap().success();
    assert!(
        ok_c,
        "SIPp C: INVITE with Replaces answered, BYE'd by the gateway"
    );
    assert!(ok_a, "SIPp A: rang, got CANCEL");
    let c_heard = c_rtp.heard(SWITCH_TONE);
    assert!(c_heard >= 75, "C heard the switch: {c_heard}");
    c_rtp.stop();
    let call = switch_call(&d);
    assert!(call.contains("1800Hz/"), "the switch heard C: {call}");
    let cdrs = records(&d, 0, 1);
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");
    assert_eq!(cdrs[0][TRANSFER], "early dialog replaced");
    assert_eq!(cdrs[0][OUT_TRUNK], "pbx");
    d.assert_no_busy_channel();
}

/// RFC 4488: A REFERs with `Refer-Sub: false`: 202 carrying `Refer-Sub: false`, then no
/// NOTIFY (SIPp fails on an unexpected one) before A's BYE; B on the second trunk
/// answers and talks with the switch.
#[test]
fn refer_sub_false_gets_no_notify_and_the_transfer_goes_on() {
    let phone_b = free_udp_port();
    let d = start("xfer-sip-norefersub", phone_b);
    let a_rtp = RtpEnd::start(A_TONE);
    let b_rtp = RtpEnd::start(NEW_TONE);
    let then = format!(
        r#"{}
  <recv response="202">
    <action>
      <ereg regexp="false" search_in="hdr" header="Refer-Sub:" check_it="true" assign_to="rs"/>
    </action>
  </recv>
  <recv request="BYE"/>
{OK_TO_REQUEST}
  <timewait milliseconds="300"/>
  <Reference variables="gwtagall,gwtag,rs"/>"#,
        answer_then_refer(
            a_rtp.addr,
            &["Refer-To: <sip:301@127.0.0.1>", "Refer-Sub: false"]
        )
    );
    let sf_a = d.scenario("phone.xml", &phone(&then));
    let target = phone(&format!(
        "{}\n  <recv request=\"BYE\"/>\n{OK_TO_REQUEST}\n  <timewait milliseconds=\"300\"/>\n  \
         <Reference variables=\"gwuri,gwfrom,gwtagall,gwtag\"/>",
        answer(b_rtp.addr)
    ));
    let sf_b = d.scenario("target.xml", &target);
    let mut b = spawn_sipp(&d, phone_b, &sf_b);
    let mut a = d.sipp_uas(&["-sf", &sf_a, "-m", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(d.ctl("simcall 1 201 5000"), "ok\n");
    let ok_a = a.wait().unwrap().success();
    let ok_b = b.wait().unwrap().success();
    assert!(ok_a, "SIPp A: 202 with Refer-Sub: false, no NOTIFY, BYE");
    assert!(
        ok_b,
        "SIPp B: answered the transfer, BYE'd when the switch cleared"
    );
    let b_heard = b_rtp.heard(SWITCH_TONE);
    assert!(b_heard >= 50, "B heard the switch: {b_heard}");
    a_rtp.stop();
    b_rtp.stop();
    let cdrs = records(&d, 0, 2);
    assert_eq!(cdrs.len(), 2, "{cdrs:?}");
    let id = cdrs[0][CALL_ID].clone();
    assert_eq!(cdrs[0][DISPOSITION], "TRANSFERRED", "{cdrs:?}");
    assert_eq!(cdrs[0][TRANSFER], format!("blind to 301 as {id}.1"));
    assert_eq!(cdrs[1][CALLED], "301");
    assert_eq!(cdrs[1][OUT_TRUNK], "pbx2");
    d.assert_no_busy_channel();
}

/// Receive a NOTIFY of the REFER subscription whose sipfrag is `status` and answer it.
fn notify(status: u16, var: &str) -> String {
    format!(
        r#"  <recv request="NOTIFY">
    <action>
      <ereg regexp="SIP/2.0 {status} " search_in="body" check_it="true" assign_to="{var}"/>
    </action>
  </recv>
{OK_TO_REQUEST}"#
    )
}

/// RFC 3891 §7.1, an attended transfer signalled by REFER: A's Refer-To carries
/// `?Replaces=` naming A's dialog with B; the gateway's INVITE to B carries that
/// `Replaces` (B checks it), B answers, NOTIFY 100/180/200, A is BYE'd, B talks with the
/// switch.
#[test]
fn refer_to_with_replaces_sends_the_invite_with_replaces_to_the_target() {
    let phone_b = free_udp_port();
    let d = start("xfer-sip-referreplaces", phone_b);
    let a_rtp = RtpEnd::start(A_TONE);
    let b_rtp = RtpEnd::start(NEW_TONE);
    let then = format!(
        r#"{}
  <recv response="202"/>
{}
{}
{}
  <recv request="BYE"/>
{OK_TO_REQUEST}
  <timewait milliseconds="300"/>
  <Reference variables="gwtagall,gwtag,n1,n2,n3"/>"#,
        answer_then_refer(a_rtp.addr, &["Refer-To: <sip:301@127.0.0.1?Replaces=ab-dialog%40127.0.0.1%3Bto-tag%3Dbtag7%3Bfrom-tag%3Datag7>", "Referred-By: <sip:201@[local_ip]:[local_port]>"]),
        notify(100, "n1"),
        notify(180, "n2"),
        notify(200, "n3"),
    );
    let sf_a = d.scenario("phone.xml", &phone(&then));
    // B: the INVITE must name A's dialog with B in Replaces.
    let target = phone(&format!(
        "{}\n  <recv request=\"BYE\"/>\n{OK_TO_REQUEST}\n  <timewait milliseconds=\"300\"/>\n  \
         <Reference variables=\"gwuri,gwfrom,gwtagall,gwtag,rep\"/>",
        answer(b_rtp.addr)
    ))
    .replace(
        r#"assign_to="gwtagall,gwtag"/>"#,
        r#"assign_to="gwtagall,gwtag"/>
      <ereg regexp="ab-dialog@127.0.0.1;to-tag=btag7;from-tag=atag7" search_in="hdr" header="Replaces:" check_it="true" assign_to="rep"/>"#,
    );
    let sf_b = d.scenario("target.xml", &target);
    let mut b = spawn_sipp(&d, phone_b, &sf_b);
    let mut a = d.sipp_uas(&["-sf", &sf_a, "-m", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(d.ctl("simcall 1 201 5000"), "ok\n");
    let ok_a = a.wait().unwrap().success();
    let ok_b = b.wait().unwrap().success();
    assert!(ok_a, "SIPp A: 202, NOTIFY 100/180/200, BYE");
    assert!(ok_b, "SIPp B: INVITE with A's Replaces, answered, BYE'd");
    let b_heard = b_rtp.heard(SWITCH_TONE);
    assert!(b_heard >= 50, "B heard the switch: {b_heard}");
    a_rtp.stop();
    b_rtp.stop();
    let cdrs = records(&d, 0, 2);
    assert_eq!(cdrs.len(), 2, "{cdrs:?}");
    assert_eq!(cdrs[0][DISPOSITION], "TRANSFERRED", "{cdrs:?}");
    assert_eq!(cdrs[1][OUT_TRUNK], "pbx2");
    d.assert_no_busy_channel();
}

/// C: INVITE with `Replaces` that must be refused with 403, then ACK.
fn replacing_forbidden(rtp: SocketAddrV4) -> String {
    let c = party_c("xtag[call_number]", "201");
    scenario(
        "replacing, forbidden",
        &format!(
            r#"{REPLACING_GLOBALS}
{}  <recv response="100" optional="true"/>
  <recv response="403"/>
{}"#,
            c.invite(1).header(REPLACES).sdp(&sdp(rtp)).send_retrans(),
            c.in_dialog("ACK", 1).direct(&c).send(),
        ),
    )
}

/// Replaces naming a dialog of another SIP trunk of ours (A answered the switch's call on
/// `pbx`; C's INVITE arrives on `pbx2`): honoured when `pbx`'s allow-list takes C's
/// address (127.0.0.1), 403 when it does not (127.0.0.2, which `pbx2` allows but `pbx`
/// does not); the switch then talks with C, A is BYE'd.
#[test]
fn replaces_across_trunks_follows_the_dialog_trunks_allow_list() {
    let pbx2 = free_udp_port();
    let d = start_with(
        "xfer-sip-crosstrunk",
        free_udp_port(),
        pbx2,
        r#"allow = ["127.0.0.0/8"]"#,
    );
    let a_rtp = RtpEnd::start(A_TONE);
    let c_rtp = RtpEnd::start(NEW_TONE);
    let sf_a = d.scenario("phone.xml", &replaced_phone(a_rtp.addr));
    let mut a = d.sipp_uas(&["-sf", &sf_a, "-m", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(d.ctl("simcall 1 201 6000"), "ok\n");
    std::thread::sleep(Duration::from_millis(800));
    let sf_x = d.scenario("forbidden.xml", &replacing_forbidden(c_rtp.addr));
    assert!(
        run_c_at(&d, &sf_x, "127.0.0.2", pbx2),
        "SIPp from 127.0.0.2 on pbx2: 403 (pbx does not allow it)"
    );
    let sf_c = d.scenario("replacing.xml", &replacing(c_rtp.addr, true, Some(2500)));
    let ok_c = run_c_at(&d, &sf_c, "127.0.0.1", pbx2);
    let ok_a = a.wait().unwrap().success();
    assert!(ok_c, "SIPp C on pbx2: INVITE with Replaces answered, BYE");
    assert!(ok_a, "SIPp A on pbx: answered, BYE'd when replaced");
    let c_heard = c_rtp.heard(SWITCH_TONE);
    assert!(c_heard >= 75, "C heard the switch: {c_heard}");
    a_rtp.stop();
    c_rtp.stop();
    let cdrs = records(&d, 0, 2);
    assert_eq!(cdrs.len(), 2, "{cdrs:?}");
    let id = cdrs[0][CALL_ID].clone();
    assert_eq!(cdrs[0][DISPOSITION], "TRANSFERRED", "{cdrs:?}");
    assert_eq!(cdrs[0][OUT_TRUNK], "pbx");
    assert_eq!(cdrs[1][TRANSFER], format!("attended from {id}"));
    assert_eq!(cdrs[1][OUT_TRUNK], "pbx2");
    d.assert_no_busy_channel();
}
