//! Clearing SIP ↔ H.323 calls from either side at every stage (issue #7, "glare-free
//! clearing from either side at every stage"), through the real `gatewayd` process
//! (`daemon_support`), one table of cases on one daemon:
//!
//! - SIP → H.323 (SIPp calls 5001, our `h323::call` endpoint answers on TCP with fast
//!   start): CANCEL while the H.323 side is proceeding or alerting, Release Complete with
//!   causes 17, 18, 19 and 34 before the answer, BYE after the answer, Release Complete
//!   after the answer;
//! - H.323 → SIP (our endpoint calls 201, SIPp answers as the PBX): Release Complete
//!   before the answer (the PBX gets CANCEL), the PBX's 486 and 404.
//!
//! Each case asserts both sides (the H.323 endpoint's events with the Release Complete's
//! cause and who sent it; SIPp's own checks of the final response or BYE and its
//! `Reason: Q.850;cause=N`), the call's CDR (disposition, Q.850 cause, SIP status,
//! release side) and that nothing is left (`show calls` empty, no busy channel).

use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::daemon_support::{
    free_tcp_port, Daemon, Options, DISPOSITION, ISDN_CAUSE, RELEASE_SIDE, SIP_STATUS,
};
use crate::h323_support::{accept_before, flush, kinds, media, pump, released, RINGING_180};
use crate::sipp_scenario::{self as scenario, ack_2xx, bye, head, invite};
use h323::call::{Call, CallConfig, Event, PlaceCall};
use h323::h225::{Alias, Guid};
use h323::q931::ie::CauseValue;

/// What the answering H.323 endpoint does, at a time after the Setup arrived.
#[derive(Debug, Clone, Copy)]
enum Step {
    Proceeding,
    Alerting,
    Connect,
    Release(CauseValue),
}

/// The H.323 endpoint answering the next call on `listener` with `steps` (milliseconds
/// after the Setup); it returns its events once the call is released.
fn answer(listener: TcpListener, rtp_port: u16, steps: Vec<(u64, Step)>) -> JoinHandle<Vec<Event>> {
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut stream = accept_before(
            &listener,
            deadline,
            Duration::from_millis(5),
            "no H.323 call from gatewayd",
        );
        let mut call = Call::incoming(CallConfig::new(media(rtp_port)));
        let mut log = Vec::new();
        let mut setup_at = None;
        let mut next = 0;
        while Instant::now() < deadline {
            let now = Instant::now();
            let open = pump(&mut call, &mut stream, now, &mut log);
            if setup_at.is_none() && log.iter().any(|e| matches!(e, Event::Setup(_))) {
                setup_at = Some(now);
            }
            if let Some(t0) = setup_at {
                while next < steps.len() && now >= t0 + Duration::from_millis(steps[next].0) {
                    match steps[next].1 {
                        Step::Proceeding => call.proceeding(now),
                        Step::Alerting => call.alerting(now),
                        Step::Connect => call.answer(now),
                        Step::Release(c) => call.release(now, c),
                    }
                    next += 1;
                }
            }
            flush(&mut call, &mut stream);
            if log.iter().any(|e| matches!(e, Event::Released { .. })) || !open {
                break;
            }
            std::thread::sleep(Duration::from_millis(3));
        }
        while let Some(ev) = call.poll_event() {
            log.push(ev);
        }
        log
    })
}

/// Our endpoint calls `called` on the daemon with fast start; with `release`, it sends
/// Release Complete with that cause that long after its Setup (whatever happened);
/// otherwise it waits for the gateway's. Returns its events.
fn call(port: u16, called: &str, id: u8, release: Option<(u64, CauseValue)>) -> Vec<Event> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_nonblocking(true).unwrap();
    let start = Instant::now();
    let mut call = Call::place(
        start,
        CallConfig::new(media(41000 + u16::from(id) * 2)),
        PlaceCall {
            call_ref: u16::from(id),
            call_id: Guid([id; 16]),
            conference_id: Guid([id.wrapping_add(100); 16]),
            source_aliases: vec![Alias::Dialled("2001".into())],
            destination_aliases: vec![Alias::Dialled(called.into())],
            calling_number: Some("2001".into()),
            called_number: Some(called.into()),
            // The caller's name (H.225.0 §7.3.1): From's display-name on the SIP side.
            display: Some("Eve H323".into()),
            source_signal_address: None,
            dest_signal_address: None,
        },
    );
    let mut log = Vec::new();
    let mut released_sent = false;
    let deadline = start + Duration::from_secs(20);
    while Instant::now() < deadline {
        let now = Instant::now();
        let open = pump(&mut call, &mut stream, now, &mut log);
        if let Some((ms, cause)) = release {
            if !released_sent && now >= start + Duration::from_millis(ms) {
                call.release(now, cause);
                released_sent = true;
            }
        }
        flush(&mut call, &mut stream);
        if log.iter().any(|e| matches!(e, Event::Released { .. })) || !open {
            break;
        }
        std::thread::sleep(Duration::from_millis(3));
    }
    while let Some(ev) = call.poll_event() {
        log.push(ev);
    }
    log
}

/// What SIPp does as the calling UA (SIP → H.323).
#[derive(Debug, Clone, Copy)]
enum Uac {
    /// CANCEL once this response came (and 300 ms passed); then 200 (CANCEL), 487, ACK.
    Cancel(u16),
    /// Expect this final response with `Reason: Q.850;cause=N`; ACK.
    Refused(u16, u8),
    /// Answered; BYE with `Reason: Q.850;cause=16` 300 ms after the ACK.
    Bye,
    /// Answered; expect a BYE with `Reason: Q.850;cause=N`.
    AwaitBye(u8),
}

/// A `recv` that requires `Reason: Q.850;cause=N` (variable `$var`).
fn recv_with_reason(what: &str, cause: u8, var: &str) -> String {
    format!(
        r#"  <recv {what}>
    <action>
      <ereg regexp="Q\.850;cause={cause}([^0-9]|$)" search_in="hdr" header="Reason:" check_it="true" assign_to="{var}"/>
    </action>
  </recv>
"#
    )
}

fn uac(kind: Uac) -> String {
    let mut x = head("clearing uac");
    x += &invite("[media_port]", &[8, 0]);
    // The gateway's 100 Trying comes after 200 ms unless a response came first (RFC 3261
    // §17.2.1), whatever the H.323 side does; CANCEL needs a provisional response first
    // (§9.1).
    x += if matches!(kind, Uac::Cancel(100)) {
        "  <recv response=\"100\"/>\n"
    } else {
        "  <recv response=\"100\" optional=\"true\"/>\n"
    };
    let mut vars = Vec::new();
    let phone = scenario::Uac::pbx();
    match kind {
        Uac::Cancel(after) => {
            if after == 180 {
                x += "  <recv response=\"180\"/>\n";
            }
            x += "  <pause milliseconds=\"300\"/>\n";
            x += &phone.cancel(1).send();
            x += "  <recv response=\"200\"/>\n  <recv response=\"487\"/>\n";
            x += &phone.ack_failure(1).send();
        }
        Uac::Refused(status, cause) => {
            x += "  <recv response=\"180\" optional=\"true\"/>\n";
            x += &recv_with_reason(&format!("response=\"{status}\""), cause, "r1");
            vars.push("r1");
            x += &phone.ack_failure(1).send();
        }
        Uac::Bye => {
            x += "  <recv response=\"180\" optional=\"true\"/>\n";
            x += "  <recv response=\"200\" rrs=\"true\"/>\n";
            x += &ack_2xx();
            x += "  <pause milliseconds=\"300\"/>\n";
            x += &bye(2);
            x += "  <recv response=\"200\"/>\n";
        }
        Uac::AwaitBye(cause) => {
            x += "  <recv response=\"180\" optional=\"true\"/>\n";
            x += "  <recv response=\"200\" rrs=\"true\"/>\n";
            x += &ack_2xx();
            x += &recv_with_reason("request=\"BYE\"", cause, "r1");
            vars.push("r1");
            x += r#"  <send>
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
"#;
        }
    }
    if !vars.is_empty() {
        x += &format!("  <Reference variables=\"{}\"/>\n", vars.join(","));
    }
    x += "</scenario>\n";
    x
}

/// What SIPp does as the PBX (H.323 → SIP).
#[derive(Debug, Clone, Copy)]
enum Uas {
    /// 180, then expects CANCEL with `Reason: Q.850;cause=16`: 200 to it, 487 to the
    /// INVITE, the ACK.
    RingUntilCancel,
    /// This final response to the INVITE (after 180); the ACK.
    Refuse(u16),
}

fn uas(kind: Uas) -> String {
    let mut x = format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="clearing uas">
  <recv request="INVITE">
    <action>
      <ereg regexp="([0-9]+)" search_in="hdr" header="CSeq:" assign_to="cs,cseq"/>
      <ereg regexp="^ *&quot;Eve H323&quot; &lt;sip:2001@" search_in="hdr" header="From:" check_it="true" assign_to="from"/>
    </action>
  </recv>
  <Reference variables="from"/>
{RINGING_180}"#
    );
    let final_response = |status: &str| {
        format!(
            r#"  <send>
    <![CDATA[
      SIP/2.0 {status}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      CSeq: [$cseq] INVITE
      Content-Length: 0

    ]]>
  </send>
"#
        )
    };
    match kind {
        Uas::RingUntilCancel => {
            // RFC 3326: the CANCEL says why (the H.323 caller's cause).
            x += r#"  <recv request="CANCEL">
    <action>
      <ereg regexp="Q\.850;cause=16([^0-9]|$)" search_in="hdr" header="Reason:" check_it="true" assign_to="r"/>
    </action>
  </recv>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
"#;
            x += &final_response("487 Request Terminated");
        }
        Uas::Refuse(status) => {
            x += "  <pause milliseconds=\"300\"/>\n";
            let text = match status {
                486 => "Busy Here",
                404 => "Not Found",
                _ => "Refused",
            };
            x += &final_response(&format!("{status} {text}"));
        }
    }
    let vars = if matches!(kind, Uas::RingUntilCancel) {
        "cs,r"
    } else {
        "cs"
    };
    x += &format!("  <recv request=\"ACK\"/>\n  <Reference variables=\"{vars}\"/>\n</scenario>\n");
    x
}

/// One SIP → H.323 case: what the peer does, what SIPp does and expects, what the peer
/// must see at the end (the Release Complete's cause, whether the peer sent it), and the
/// CDR (disposition, cause, SIP status, release side).
struct SipToH323 {
    name: &'static str,
    steps: Vec<(u64, Step)>,
    uac: Uac,
    released: (CauseValue, bool),
    answered: bool,
    cdr: (&'static str, &'static str, &'static str, &'static str),
}

struct H323ToSip {
    name: &'static str,
    /// The caller's Release Complete (ms after its Setup, cause).
    release: Option<(u64, CauseValue)>,
    uas: Uas,
    released: (CauseValue, bool),
    cdr: (&'static str, &'static str, &'static str, &'static str),
}

fn start(name: &str) -> (Daemon, u16, TcpListener) {
    let h323_port = free_tcp_port();
    let ep = TcpListener::bind("127.0.0.1:0").unwrap();
    let tail = format!(
        r#"
[h323]
listen = "127.0.0.1:{h323_port}"

[[h323_peer]]
name = "ep"
address = "127.0.0.1:{ep}"
fast_start = true

[[route]]
pattern = "5001"
from = ["pbx"]
to = ["ep"]

[[route]]
pattern = "_2XX"
from = ["ep"]
to = ["pbx"]
"#,
        ep = ep.local_addr().unwrap().port()
    );
    let d = Daemon::start(
        name,
        Options {
            tail: &tail,
            ..Options::default()
        },
    );
    (d, h323_port, ep)
}

/// The CDRs once there are `n`.
fn wait_cdrs(d: &Daemon, n: usize) -> Vec<Vec<String>> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while d.cdrs().len() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    d.cdrs()
}

fn check_cdr(
    d: &Daemon,
    n: usize,
    name: &str,
    (disposition, cause, status, side): (&str, &str, &str, &str),
) {
    let cdrs = wait_cdrs(d, n);
    assert_eq!(cdrs.len(), n, "{name}: one CDR per call: {cdrs:?}");
    let cdr = &cdrs[n - 1];
    assert_eq!(
        (
            cdr[DISPOSITION].as_str(),
            cdr[ISDN_CAUSE].as_str(),
            cdr[SIP_STATUS].as_str(),
            cdr[RELEASE_SIDE].as_str()
        ),
        (disposition, cause, status, side),
        "{name}: CDR {cdr:?}"
    );
    d.assert_no_busy_channel();
}

#[test]
fn sip_h323_clearing_from_either_side_at_every_stage() {
    use CauseValue::*;
    use Step::*;
    let (d, h323_port, ep) = start("h323-clearing");
    let ring = || vec![(0, Proceeding), (150, Alerting)];
    let answered = |extra: Vec<(u64, Step)>| {
        let mut s = vec![(0, Proceeding), (150, Alerting), (300, Connect)];
        s.extend(extra);
        s
    };
    let refused = |cause| vec![(0, Proceeding), (150, Alerting), (450, Release(cause))];
    let cases = vec![
        SipToH323 {
            name: "CANCEL while proceeding",
            steps: vec![(0, Proceeding)],
            uac: Uac::Cancel(100),
            released: (NormalCallClearing, false),
            answered: false,
            cdr: ("CANCELLED", "16", "487", "sip"),
        },
        SipToH323 {
            name: "CANCEL while alerting",
            steps: ring(),
            uac: Uac::Cancel(180),
            released: (NormalCallClearing, false),
            answered: false,
            cdr: ("CANCELLED", "16", "487", "sip"),
        },
        SipToH323 {
            name: "Release Complete 17 before answer",
            steps: refused(UserBusy),
            uac: Uac::Refused(486, 17),
            released: (UserBusy, true),
            answered: false,
            cdr: ("BUSY", "17", "486", "h323"),
        },
        SipToH323 {
            name: "Release Complete 18 before answer",
            steps: refused(NoUserResponding),
            uac: Uac::Refused(408, 18),
            released: (NoUserResponding, true),
            answered: false,
            cdr: ("NO ANSWER", "18", "408", "h323"),
        },
        SipToH323 {
            name: "Release Complete 19 before answer",
            steps: refused(NoAnswer),
            uac: Uac::Refused(480, 19),
            released: (NoAnswer, true),
            answered: false,
            cdr: ("NO ANSWER", "19", "480", "h323"),
        },
        SipToH323 {
            name: "Release Complete 34 before answer",
            steps: vec![(0, Proceeding), (150, Release(NoCircuitAvailable))],
            uac: Uac::Refused(503, 34),
            released: (NoCircuitAvailable, true),
            answered: false,
            // Congestion fails over to the route's next target (core, `is_failover`);
            // with none left the gateway gives up with the last cause.
            cdr: ("FAILED", "34", "503", "gateway"),
        },
        SipToH323 {
            name: "BYE after answer",
            steps: answered(vec![]),
            uac: Uac::Bye,
            released: (NormalCallClearing, false),
            answered: true,
            cdr: ("ANSWERED", "16", "200", "sip"),
        },
        SipToH323 {
            name: "Release Complete 31 after answer",
            steps: answered(vec![(900, Release(NormalUnspecified))]),
            uac: Uac::AwaitBye(31),
            released: (NormalUnspecified, true),
            answered: true,
            cdr: ("ANSWERED", "31", "200", "h323"),
        },
    ];
    let mut n = 0;
    for (i, c) in cases.into_iter().enumerate() {
        let peer = answer(ep.try_clone().unwrap(), 40200 + 2 * i as u16, c.steps);
        let sf = d.scenario(&format!("uac{i}.xml"), &uac(c.uac));
        let ok = d.sipp(&["-sf", &sf, "-s", "5001", "-m", "1", "-trace_err"]);
        let log = peer.join().unwrap();
        assert!(
            ok,
            "{}: SIPp's checks ({:?}); peer saw {log:?}",
            c.name, c.uac
        );
        assert_eq!(
            released(&log),
            Some((c.released.0, !c.released.1)),
            "{}: the peer's Release Complete (cause, sent by the gateway): {log:?}",
            c.name
        );
        assert_eq!(
            kinds(&log).contains(&"connected"),
            c.answered,
            "{}: {log:?}",
            c.name
        );
        n += 1;
        check_cdr(&d, n, c.name, c.cdr);
    }

    let cases = vec![
        H323ToSip {
            name: "H.323 Release Complete while the PBX rings",
            release: Some((700, NormalCallClearing)),
            uas: Uas::RingUntilCancel,
            released: (NormalCallClearing, true),
            cdr: ("CANCELLED", "16", "487", "h323"),
        },
        H323ToSip {
            name: "PBX busy (486)",
            release: None,
            uas: Uas::Refuse(486),
            released: (UserBusy, false),
            cdr: ("BUSY", "17", "486", "sip"),
        },
        H323ToSip {
            name: "PBX 404",
            release: None,
            uas: Uas::Refuse(404),
            released: (UnallocatedNumber, false),
            cdr: ("FAILED", "1", "404", "sip"),
        },
    ];
    for (i, c) in cases.into_iter().enumerate() {
        let sf = d.scenario(&format!("uas{i}.xml"), &uas(c.uas));
        let mut sipp = d.sipp_uas(&["-sf", &sf, "-m", "1", "-trace_err"]);
        std::thread::sleep(Duration::from_millis(200));
        let log = call(h323_port, "201", 30 + i as u8, c.release);
        let ok = sipp.wait().unwrap().success();
        assert!(
            ok,
            "{}: SIPp's checks ({:?}); caller saw {log:?}",
            c.name, c.uas
        );
        assert!(!kinds(&log).contains(&"connected"), "{}: {log:?}", c.name);
        assert_eq!(
            released(&log),
            Some((c.released.0, !c.released.1)),
            "{}: the caller's Release Complete (cause, sent by the gateway): {log:?}",
            c.name
        );
        n += 1;
        check_cdr(&d, n, c.name, c.cdr);
    }
}
