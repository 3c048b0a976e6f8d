//! Attended transfer by REFER between two calls through gatewayd, one party on the E1 and
//! one on SIP (RFC 5589 §7, RFC 3891 §7.1): phone A (SIPp) calls the simulated switch
//! (call 1, party B on a B-channel) and phone C on a second SIP trunk (call 2, SIPp as
//! UAS, its RTP relayed by the gateway), then REFERs call 1 with `Refer-To:
//! <sip:301@gw?Replaces=<call 2's dialog>>`. The gateway joins B and C itself: A gets
//! NOTIFY 100 / 200 and BYE on both dialogs, call 2's relay gives C's RTP port back and
//! B's B-channel is bridged to it (the bridge waits for the merged call's relay), so the
//! switch hears C and C hears the switch; three records.
//!
//! SIPp keeps A's two dialogs in one scenario: the second Call-ID is `two///<call-id>`
//! (SIPp matches on what follows `///`), and `-cid_str %u-%p` keeps `@` out of it.

use std::net::SocketAddrV4;
use std::time::Duration;

use crate::daemon_support::{free_udp_port, Daemon, Options, CALLED, DISPOSITION};
use crate::transfer_support::{
    ok_with_sdp, records, scenario, sdp, spawn_sipp, RtpEnd, OK_TO_REQUEST, TRANSFER,
};

/// The switch's tone (its default).
const SWITCH_TONE: f64 = 1004.0;
/// C's tone.
const C_TONE: f64 = 1800.0;
/// A's tone (on both of its calls).
const A_TONE: f64 = 1400.0;

/// A: call 1 to 0301111 (the switch), call 2 to 301 (C), talk, REFER call 1 to C
/// replacing call 2, then the NOTIFYs and both BYEs in whatever order.
fn phone_a(rtp1: SocketAddrV4, rtp2: SocketAddrV4) -> String {
    let ok = |next: &str| OK_TO_REQUEST.replacen("<send>", &format!("<send{next}>"), 1);
    let invite = |to: &str, cid: &str, tag: &str, rtp| {
        format!(
            r#"  <send retrans="500">
    <![CDATA[
      INVITE sip:{to}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:2001@[local_ip]:[local_port]>;tag={tag}
      To: <sip:{to}@[remote_ip]:[remote_port]>
      Call-ID: {cid}
      CSeq: 1 INVITE
      Contact: sip:2001@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      {}
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200">
    <action>
      <ereg regexp="tag=([^;> ]*)" search_in="hdr" header="To:" assign_to="junk{tag},gw{tag}"/>
    </action>
  </recv>
  <send>
    <![CDATA[
      ACK sip:{to}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:2001@[local_ip]:[local_port]>;tag={tag}
      To: <sip:{to}@[remote_ip]:[remote_port]>;tag=[$gw{tag}]
      Call-ID: {cid}
      CSeq: 1 ACK
      Contact: sip:2001@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>"#,
            sdp(rtp)
        )
    };
    scenario(
        "phone A",
        &format!(
            r#"{}
{}
  <Reference variables="junkone,junktwo"/>
  <pause milliseconds="1500"/>
  <send retrans="500">
    <![CDATA[
      REFER sip:0301111@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:2001@[local_ip]:[local_port]>;tag=one
      To: <sip:0301111@[remote_ip]:[remote_port]>;tag=[$gwone]
      Call-ID: [call_id]
      CSeq: 2 REFER
      Contact: sip:2001@[local_ip]:[local_port]
      Refer-To: <sip:301@[remote_ip]:[remote_port]?Replaces=two%2F%2F%2F[call_id]%3Bto-tag%3D[$gwtwo]%3Bfrom-tag%3Dtwo>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="202"/>
  <label id="1"/>
  <recv request="NOTIFY" optional="true" next="2"/>
  <recv request="BYE" next="3"/>
  <label id="2"/>
{}
  <label id="3"/>
{}
  <label id="4"/>
  <recv request="NOTIFY" optional="true" next="5"/>
  <recv request="BYE" next="6"/>
  <label id="5"/>
{}
  <label id="6"/>
{}
  <timewait milliseconds="300"/>"#,
            invite("0301111", "[call_id]", "one", rtp1),
            invite("301", "two///[call_id]", "two", rtp2),
            ok(" next=\"1\""),
            ok(""),
            ok(" next=\"4\""),
            ok(""),
        ),
    )
}

/// C: answers the gateway's INVITE (media at `rtp`), talks 5 s, then hangs up.
fn phone_c(rtp: SocketAddrV4) -> String {
    scenario(
        "phone C",
        &format!(
            r#"  <recv request="INVITE">
    <action>
      <ereg regexp="sip:[^>;\r\n]*" search_in="hdr" header="Contact:" assign_to="gwuri"/>
      <ereg regexp="[^\r\n]*" search_in="hdr" header="From:" assign_to="gwfrom"/>
    </action>
  </recv>
{}
  <recv request="ACK"/>
  <pause milliseconds="5000"/>
  <send retrans="500">
    <![CDATA[
      BYE [$gwuri] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:301@[local_ip]:[local_port]>;tag=ctag
      To: [$gwfrom]
      Call-ID: [call_id]
      CSeq: 1 BYE
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>"#,
            ok_with_sdp("ctag", rtp)
        ),
    )
}

#[test]
fn refer_replacing_our_own_dialog_bridges_the_pstn_party_to_the_sip_party() {
    let c_port = free_udp_port();
    let tail = format!(
        r#"
[[sip_trunk]]
name = "pbx2"
listen = "127.0.0.1:{}"
peers = ["127.0.0.1:{c_port}"]

[[route]]
pattern = "_3XX"
from = ["pbx"]
to = ["pbx2"]
"#,
        free_udp_port()
    );
    let d = Daemon::start(
        "attended-refer-sip",
        Options {
            tail: &tail,
            ..Options::default()
        },
    );
    let (a1, a2, c) = (
        RtpEnd::start(A_TONE),
        RtpEnd::start(A_TONE),
        RtpEnd::start(C_TONE),
    );
    let sf_c = d.scenario("c.xml", &phone_c(c.addr));
    let mut sipp_c = spawn_sipp(&d, c_port, &sf_c);
    std::thread::sleep(Duration::from_millis(300));
    let sf_a = d.scenario("a.xml", &phone_a(a1.addr, a2.addr));
    let ok_a = d
        .sipp_command(
            "127.0.0.1",
            d.pbx_port,
            &[
                "-sf",
                &sf_a,
                "-m",
                "1",
                "-cid_str",
                "%u-%p",
                "-trace_msg",
                "-message_file",
                "a.log",
            ],
        )
        .status()
        .unwrap()
        .success();
    let trace = std::fs::read_to_string(d.dir.join("a.log")).unwrap_or_default();
    assert!(ok_a, "SIPp A: two calls, REFER, NOTIFYs, two BYEs\n{trace}");
    let frags: Vec<&str> = trace
        .lines()
        .filter(|l| l.trim_start().starts_with("SIP/2.0 ") && !l.contains("SIP/2.0/"))
        .collect();
    let notify_frags: Vec<&str> = trace
        .split("NOTIFY sip:")
        .skip(1)
        .filter_map(|m| m.lines().find(|l| l.trim_start().starts_with("SIP/2.0 ")))
        .map(str::trim)
        .collect();
    assert_eq!(
        notify_frags,
        ["SIP/2.0 100 Trying", "SIP/2.0 200 OK"],
        "{frags:?}"
    );
    let ok_c = sipp_c.wait().unwrap().success();
    assert!(ok_c, "SIPp C: answered, then hung up on the joined call");
    // After the join only the switch's tone reaches C, and C's tone the switch.
    let c_heard = c.heard(SWITCH_TONE);
    assert!(c_heard >= 50, "C heard the switch: {c_heard}");
    let sim = d.ctl("show sim-calls");
    let call = sim
        .lines()
        .find(|l| l.contains("0301111"))
        .unwrap_or_else(|| panic!("{sim}"))
        .to_string();
    assert!(call.contains("1800Hz/"), "the switch heard C: {call}");
    for r in [a1, a2, c] {
        r.stop();
    }
    let cdrs = records(&d, 0, 3);
    assert_eq!(cdrs.len(), 3, "{cdrs:?}");
    assert_eq!(cdrs[0][DISPOSITION], "TRANSFERRED", "{cdrs:?}");
    assert_eq!(cdrs[1][DISPOSITION], "TRANSFERRED", "{cdrs:?}");
    assert_eq!(cdrs[2][DISPOSITION], "ANSWERED", "{cdrs:?}");
    assert_eq!(cdrs[2][CALLED], "301", "{cdrs:?}");
    assert_eq!(
        cdrs[2][TRANSFER],
        format!("attended join of {} and {}", cdrs[0][0], cdrs[1][0]),
        "{cdrs:?}"
    );
    d.assert_no_busy_channel();
}
