//! H.323 legs through gatewayd (issue #7), seen from outside:
//!
//! - an H.323 call in routed to another H.323 peer (H.323 ↔ H.323 through the core), with
//!   the cause carried across both ways, `ctl show calls` listing both H.323 legs while it
//!   is up, and its CDR (both H.323 trunks, cause, release side);
//! - the documented mapping (DESIGN.md) asserted **on the wire**: the loopback captured by
//!   `dumpcap` while SIPp (Debian `sip-tester`) and our own `h323::call` endpoint call
//!   through the daemon, decoded independently by tshark (H.225.0/Q.931 in TPKT on the
//!   daemon's ports, SIP on its UDP port): INVITE → Setup, Alerting → 180, Connect → 200,
//!   BYE with `Reason: Q.850;cause=16` → Release Complete with cause 16, Release Complete
//!   with cause 31 → BYE with `Reason: Q.850;cause=31`, and the other direction Setup →
//!   INVITE, 183 → Progress, 180 → Alerting, 200 → Connect, BYE → Release Complete.
//!
//! tshark and dumpcap come with Debian's `tshark`; the wire test is skipped with a note
//! when they are missing or cannot capture (capturing on `lo` needs root or the
//! `wireshark` group).

use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::daemon_support::{free_tcp_port, Daemon, Options, DISPOSITION, ISDN_CAUSE};
use crate::h323_support::{answer_one, call_daemon, have, kinds, released, tshark_fields, Capture};
use crate::sipp_scenario::{ack_2xx, bye, head, invite};
use h323::call::Event;
use h323::q931::ie::CauseValue;

struct Setup323 {
    daemon: Daemon,
    h323_port: u16,
    out: TcpListener,
}

/// A daemon whose H.323 peer `ep-in` is every caller on 127.0.0.1 and `ep-out` the
/// answering endpoint; 6XXX goes H.323 → H.323, 5001 SIP → H.323, 2XX H.323 → SIP.
fn start(name: &str) -> Setup323 {
    let h323_port = free_tcp_port();
    let inbound = TcpListener::bind("127.0.0.1:0").unwrap();
    let out = TcpListener::bind("127.0.0.1:0").unwrap();
    let tail = format!(
        r#"
[h323]
listen = "127.0.0.1:{h323_port}"

[[h323_peer]]
name = "ep-in"
address = "127.0.0.1:{inbound}"

[[h323_peer]]
name = "ep-out"
address = "127.0.0.1:{out}"

[[route]]
pattern = "_6XXX"
from = ["ep-in"]
to = ["ep-out"]

[[route]]
pattern = "5001"
from = ["pbx"]
to = ["ep-out"]

[[route]]
pattern = "_2XX"
from = ["ep-in"]
to = ["pbx"]
"#,
        inbound = inbound.local_addr().unwrap().port(),
        out = out.local_addr().unwrap().port(),
    );
    let daemon = Daemon::start(
        name,
        Options {
            tail: &tail,
            ..Options::default()
        },
    );
    Setup323 {
        daemon,
        h323_port,
        out,
    }
}

fn wait_cdrs(d: &Daemon, n: usize) -> Vec<Vec<String>> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while d.cdrs().len() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    d.cdrs()
}

#[test]
fn h323_call_routed_to_an_h323_peer() {
    let s = start("h323-h323");
    let d = &s.daemon;

    // 1. The caller clears with cause 16 after 1.5 s; meanwhile `ctl show calls` lists the
    // call with both H.323 legs.
    let out = s.out.try_clone().unwrap();
    let callee = std::thread::spawn(move || answer_one(out, 40100, None));
    let sock = d.sock();
    let watcher = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let calls = crate::daemon_support::ctl(&sock, "show calls");
            if let Some(l) = calls.lines().find(|l| l.contains("answered")) {
                return l.to_string();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        String::new()
    });
    let caller = call_daemon(
        s.h323_port,
        "6001",
        "2001",
        40110,
        Duration::from_millis(1500),
        Some(CauseValue::NormalCallClearing),
        21,
    );
    let callee = callee.join().unwrap();
    let shown = watcher.join().unwrap();
    // `call-N 2001 -> 6001 ep-in -> ep-out [] answered`
    assert!(
        shown.contains("2001 -> 6001 ep-in -> ep-out") && shown.ends_with("answered"),
        "ctl show calls: {shown:?}"
    );
    let Some(Event::Setup(setup)) = callee.first() else {
        panic!("{callee:?}")
    };
    assert_eq!(setup.called_number.as_deref(), Some("6001"));
    assert_eq!(setup.calling_number.as_deref(), Some("2001"));
    assert_eq!(
        setup.fast_start_offer.len(),
        2,
        "fast start offered onwards: {setup:?}"
    );
    // The callee's Call Proceeding, Alerting and Connect reach the caller.
    assert_eq!(
        kinds(&caller),
        ["proceeding", "alerting", "connected", "released"],
        "{caller:?}"
    );
    assert_eq!(
        released(&callee),
        Some((CauseValue::NormalCallClearing, true)),
        "the caller's cause reaches the callee: {callee:?}"
    );

    // 2. The callee clears with cause 31: the caller's Release Complete carries it.
    let out = s.out.try_clone().unwrap();
    let callee = std::thread::spawn(move || {
        answer_one(
            out,
            40120,
            Some((Duration::from_millis(500), CauseValue::NormalUnspecified)),
        )
    });
    let caller = call_daemon(
        s.h323_port,
        "6002",
        "2001",
        40130,
        Duration::from_secs(30),
        None,
        22,
    );
    let callee = callee.join().unwrap();
    assert_eq!(
        released(&caller),
        Some((CauseValue::NormalUnspecified, true)),
        "{caller:?}"
    );
    assert_eq!(
        released(&callee),
        Some((CauseValue::NormalUnspecified, false))
    );

    // One CDR per call: both H.323 trunks, answered, the cause, the H.323 side released.
    let cdrs = wait_cdrs(d, 2);
    assert_eq!(cdrs.len(), 2, "{cdrs:?}");
    for (cdr, (called, cause)) in cdrs.iter().zip([("6001", "16"), ("6002", "31")]) {
        // call_id,setup,answer,end,duration,billsec,calling,called,in_trunk,out_trunk,...
        assert_eq!(cdr[7], called, "{cdr:?}");
        assert_eq!((cdr[8].as_str(), cdr[9].as_str()), ("ep-in", "ep-out"));
        assert_eq!(cdr[DISPOSITION], "ANSWERED", "{cdr:?}");
        assert_eq!(cdr[ISDN_CAUSE], cause, "{cdr:?}");
        assert_eq!(cdr[14], "h323", "{cdr:?}");
    }
    d.assert_no_busy_channel();
}

/// SIPp calls `[service]` offering PCMA and PCMU, and acknowledges the 200.
fn uac_head() -> String {
    format!(
        r#"{}{}  <recv response="100"/>
  <recv response="180"/>
  <recv response="200" rrs="true"/>
{}"#,
        head("SIP to H.323"),
        invite("[media_port]", &[8, 0]),
        ack_2xx()
    )
}

/// We hang up with `Reason: Q.850;cause=16`.
fn uac_bye() -> String {
    format!(
        "  <pause milliseconds=\"500\"/>\n{}  <recv response=\"200\"/>\n</scenario>\n",
        bye(2)
    )
}

/// The far end hangs up; we answer the BYE.
const UAC_WAIT_BYE: &str = r#"  <recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
</scenario>
"#;

/// The PBX answers a call from H.323: 100, 183 with SDP (early media), 180, 200; after
/// the ACK it hangs up with `Reason: Q.850;cause=16`.
const UAS_183: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="PBX answering H.323">
  <recv request="INVITE">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_from"/>
      <ereg regexp="sip:[^>]*" search_in="hdr" header="Contact:" assign_to="remote_contact"/>
    </action>
  </recv>
  <send>
    <![CDATA[
      SIP/2.0 100 Trying
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="200"/>
  <send>
    <![CDATA[
      SIP/2.0 183 Session Progress
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:201@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=pbx 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000

    ]]>
  </send>
  <pause milliseconds="200"/>
  <send>
    <![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:201@[local_ip]:[local_port]>
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="200"/>
  <send retrans="500">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:201@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=pbx 1 2 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000

    ]]>
  </send>
  <recv request="ACK"/>
  <pause milliseconds="500"/>
  <send retrans="500">
    <![CDATA[
      BYE [$remote_contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:201@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
      To: [$remote_from]
      [last_Call-ID:]
      CSeq: 1 BYE
      Contact: <sip:201@[local_ip]:[local_port]>
      Max-Forwards: 70
      Reason: Q.850;cause=16
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
"#;

/// One call's signalling as tshark decoded it, in frame order: H.225.0 messages as
/// `setup`, `proceeding`, `alerting`, `progress`, `connect`, `rc/<cause>`; SIP requests by
/// method (`BYE/<Reason cause>` when it has one), responses as `<status> <CSeq method>`.
fn wire(d: &Daemon, pcap: &std::path::Path) -> Vec<String> {
    let packets = tshark_fields(
        pcap,
        &[d.sip_port],
        &[
            "q931.message_type",
            "q931.cause_value",
            "sip.Method",
            "sip.Status-Code",
            "sip.CSeq.method",
            "sip.reason_cause_q850",
        ],
    );
    let mut out = Vec::new();
    for p in packets {
        let f = |k: &str| p.get(k).cloned().unwrap_or_default();
        // Several Q.931 messages may share a TCP segment.
        let causes: Vec<String> = f("q931.cause_value")
            .split(';')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        for t in f("q931.message_type").split(';').filter(|s| !s.is_empty()) {
            let t = u8::from_str_radix(t.trim_start_matches("0x"), 16).unwrap_or(0);
            out.push(match t {
                0x05 => "setup".to_string(),
                0x02 => "proceeding".into(),
                0x01 => "alerting".into(),
                0x03 => "progress".into(),
                0x07 => "connect".into(),
                0x5a => format!("rc/{}", causes.first().cloned().unwrap_or_default()),
                other => format!("q931-{other:#x}"),
            });
        }
        let method = f("sip.Method");
        if method == "BYE" && !f("sip.reason_cause_q850").is_empty() {
            out.push(format!("BYE/{}", f("sip.reason_cause_q850")));
        } else if !method.is_empty() {
            out.push(method);
        } else if !f("sip.Status-Code").is_empty() {
            out.push(format!("{} {}", f("sip.Status-Code"), f("sip.CSeq.method")));
        }
    }
    out
}

/// `expected` appears in `trace` in this order (other messages may come between).
fn assert_in_order(trace: &[String], expected: &[&str]) {
    let mut at = 0;
    for e in expected {
        match trace[at..].iter().position(|t| t == e) {
            Some(i) => at += i + 1,
            None => panic!("`{e}` missing after position {at} of the wire: {trace:?}"),
        }
    }
}

#[test]
fn mapping_pairs_on_the_wire_by_tshark() {
    if !have("tshark") || !have("dumpcap") {
        eprintln!("skipped: tshark/dumpcap (Debian tshark) not installed");
        return;
    }
    let s = start("h323-wire");
    let d = &s.daemon;
    let out_port = s.out.local_addr().unwrap().port();
    let filter = format!(
        "tcp port {} or tcp port {} or udp port {}",
        s.h323_port, out_port, d.sip_port
    );
    let capture = |n: &str| {
        let f = d.dir.join(format!("{n}.pcapng"));
        Capture::start(&f, &filter)
    };

    // a. SIP → H.323, the SIP side hangs up with cause 16.
    let Some(cap) = capture("a") else {
        eprintln!("skipped: dumpcap cannot capture on lo here");
        return;
    };
    let out = s.out.try_clone().unwrap();
    let peer = std::thread::spawn(move || answer_one(out, 40200, None));
    let sf = d.scenario("a.xml", &format!("{}{}", uac_head(), uac_bye()));
    assert!(
        d.sipp(&["-sf", &sf, "-s", "5001", "-m", "1"]),
        "SIPp call a"
    );
    let log = peer.join().unwrap();
    assert_eq!(released(&log), Some((CauseValue::NormalCallClearing, true)));
    let a = wire(d, &cap.stop());
    assert_in_order(
        &a,
        &[
            "INVITE",
            "setup",
            "proceeding",
            "100 INVITE",
            "alerting",
            "180 INVITE",
            "connect",
            "200 INVITE",
            "ACK",
            "BYE/16",
            "rc/16",
        ],
    );

    // b. SIP → H.323, the H.323 side hangs up with cause 31: BYE with Reason cause 31.
    let cap = capture("b").expect("capture b");
    let out = s.out.try_clone().unwrap();
    let peer = std::thread::spawn(move || {
        answer_one(
            out,
            40210,
            Some((Duration::from_millis(500), CauseValue::NormalUnspecified)),
        )
    });
    let sf = d.scenario("b.xml", &format!("{}{UAC_WAIT_BYE}", uac_head()));
    assert!(
        d.sipp(&["-sf", &sf, "-s", "5001", "-m", "1"]),
        "SIPp call b"
    );
    peer.join().unwrap();
    let b = wire(d, &cap.stop());
    assert_in_order(
        &b,
        &[
            "INVITE",
            "setup",
            "connect",
            "200 INVITE",
            "rc/31",
            "BYE/31",
            "200 BYE",
        ],
    );

    // c. H.323 → SIP: Setup → INVITE, 183 → Progress, 180 → Alerting, 200 → Connect,
    // the PBX's BYE with cause 16 → Release Complete with cause 16.
    let cap = capture("c").expect("capture c");
    let sf = d.scenario("c.xml", UAS_183);
    let mut uas = d.sipp_uas(&["-sf", &sf, "-m", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    let log = call_daemon(
        s.h323_port,
        "201",
        "2001",
        40220,
        Duration::from_secs(30),
        None,
        31,
    );
    assert!(uas.wait().unwrap().success(), "SIPp UAS call c");
    assert_eq!(
        kinds(&log),
        [
            "proceeding",
            "progress",
            "alerting",
            "connected",
            "released"
        ],
        "{log:?}"
    );
    assert_eq!(released(&log), Some((CauseValue::NormalCallClearing, true)));
    let c = wire(d, &cap.stop());
    assert_in_order(
        &c,
        &[
            "setup",
            "INVITE",
            "183 INVITE",
            "progress",
            "180 INVITE",
            "alerting",
            "200 INVITE",
            "connect",
            "BYE/16",
            "rc/16",
        ],
    );
    assert!(c.contains(&"proceeding".to_string()), "{c:?}");

    // Three CDRs with the H.323 trunk and the causes.
    let cdrs = wait_cdrs(d, 3);
    assert_eq!(cdrs.len(), 3, "{cdrs:?}");
    for (cdr, cause) in cdrs.iter().zip(["16", "31", "16"]) {
        assert_eq!(cdr[ISDN_CAUSE], cause, "{cdr:?}");
        assert!(cdr.contains(&"ep-out".to_string()) || cdr.contains(&"ep-in".to_string()));
    }
    d.assert_no_busy_channel();
}
