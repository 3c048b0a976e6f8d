//! Transfers of calls with an H.323 leg, end to end through gatewayd (issue #9: "for calls
//! that cross E1 and H.323 legs").
//!
//! SIP party A (SIPp) calls 5001, routed to the H.323 endpoint (our own `h323::call` on
//! real TCP, fast start, media relayed by the gateway). Then:
//! - A REFERs the call to 301 (routed from the H.323 trunk to a second SIP trunk, where
//!   SIPp B answers): NOTIFY 100/180/200, A is BYE'd, the H.323 endpoint's RTP is relayed
//!   to B: each hears the other's tone;
//! - A REFERs the call to 0301234 (the E1; the simulated switch answers with its 1004 Hz
//!   tone): the switch's B-channel is bridged to the H.323 leg's RTP, each hears the
//!   other's tone;
//! - SIPp C sends an INVITE with `Replaces` naming A's dialog (attended transfer): C is
//!   answered, A is BYE'd, the H.323 endpoint sees no new Setup and no Release Complete
//!   until C hangs up, and its tone and C's go through the relay.
//!
//! Each ends with its CDRs (`TRANSFERRED`, then the new part of the call) and no call or
//! channel left. Every tone is detected by Goertzel (`gateway::media::tone_present`) in
//! what the other end received.

use std::net::{SocketAddr, SocketAddrV4, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::daemon_support::{free_tcp_port, free_udp_port, Daemon, Options, CALLED, DISPOSITION};
use crate::h323_support::{accept_before, flush, kinds, pump, released};
use crate::sipp_scenario::Uac;
use crate::transfer_support::{
    c_hangs_up, ok_with_sdp, party_c, read_dialog, records, ringing, scenario, sdp, spawn_sipp,
    write_dialog, RtpEnd, CALL_ID, IN_TRUNK, OK_TO_REQUEST, OUT_TRUNK, REPLACES, REPLACING_GLOBALS,
    SWITCH_TONE, TRANSFER,
};
use h323::call::{Call, CallConfig, Event};
use h323::fast_start::MediaAddresses;
use h323::q931::ie::CauseValue;

/// The tone the H.323 endpoint plays.
const H323_TONE: f64 = 700.0;
/// The tone SIP party A (the transferor) plays.
const A_TONE: f64 = 1400.0;
/// The tone the transfer target (B, or C) plays.
const TARGET_TONE: f64 = 1800.0;

/// The H.323 endpoint answering the next call on `listener` with fast start (Call
/// Proceeding, Alerting 200 ms later, Connect 200 ms after that), its RTP at `end`; it
/// releases `release_after` after answering, or waits for the gateway's Release
/// Complete. Returns its events and whether a second connection came (a new Setup).
fn h323_answer(
    listener: TcpListener,
    end: Arc<RtpEnd>,
    release_after: Option<Duration>,
) -> JoinHandle<(Vec<Event>, bool)> {
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut stream = accept_before(
            &listener,
            deadline,
            Duration::from_millis(10),
            "no H.323 call from gatewayd",
        );
        let media = MediaAddresses {
            rtp: end.addr,
            rtcp: SocketAddrV4::new(*end.addr.ip(), end.addr.port() + 1),
        };
        let mut call = Call::incoming(CallConfig::new(media));
        let mut log = Vec::new();
        let (mut seen, mut alert_at, mut connect_at, mut release_at) = (0, None, None, None);
        let mut second = false;
        while Instant::now() < deadline {
            let now = Instant::now();
            let open = pump(&mut call, &mut stream, now, &mut log);
            for ev in &log[seen..] {
                match ev {
                    Event::Setup(_) => {
                        call.proceeding(now);
                        alert_at = Some(now + Duration::from_millis(200));
                    }
                    Event::Connected { media } => {
                        release_at = release_after.map(|d| now + d);
                        if let Some(m) = media {
                            end.set_target(SocketAddr::V4(m.remote_rtp));
                        }
                    }
                    Event::Media(m) => end.set_target(SocketAddr::V4(m.remote_rtp)),
                    _ => {}
                }
            }
            seen = log.len();
            if alert_at.is_some_and(|t| t <= now) {
                alert_at = None;
                call.alerting(now);
                connect_at = Some(now + Duration::from_millis(200));
            }
            if connect_at.is_some_and(|t| t <= now) {
                connect_at = None;
                call.answer(now);
            }
            if release_at.is_some_and(|t| t <= now) {
                release_at = None;
                call.release(now, CauseValue::NormalCallClearing);
            }
            flush(&mut call, &mut stream);
            // A transfer must not reach the endpoint as a new call.
            second |= listener.accept().is_ok();
            if log.iter().any(|e| matches!(e, Event::Released { .. })) || !open {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        while let Some(ev) = call.poll_event() {
            log.push(ev);
        }
        (log, second)
    })
}

/// A, phone 201 calling 5001.
fn party_a() -> Uac {
    Uac::phone("201", "atag[call_number]", "5001")
}

/// A's INVITE to 5001 (media at `rtp`), its 200 (the gateway's tag kept as `$gwtag`)
/// and the ACK.
fn a_call(rtp: SocketAddrV4) -> String {
    let a = party_a();
    format!(
        r#"{}  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true">
    <action>
      <ereg regexp=";tag=([^;>\r\n]*)" search_in="hdr" header="To:" assign_to="gwtagall,gwtag"/>
    </action>
  </recv>
{}"#,
        a.invite(1).sdp(&sdp(rtp)).send_retrans(),
        a.in_dialog("ACK", 1).send(),
    )
}

/// Receive a NOTIFY of the REFER subscription whose sipfrag is `status` and answer it.
fn notify(status: u16, var: &str) -> String {
    format!(
        r#"  <recv request="NOTIFY">
    <action>
      <ereg regexp="Event: *refer" search_in="msg" check_it="true" assign_to="{var}e"/>
      <ereg regexp="SIP/2.0 {status} " search_in="body" check_it="true" assign_to="{var}"/>
    </action>
  </recv>
{OK_TO_REQUEST}"#
    )
}

/// A: calls 5001, talks `talk_ms`, REFERs to `target`, gets 202 and the NOTIFYs of
/// `sipfrags` in order, is BYE'd.
fn transferor(rtp: SocketAddrV4, talk_ms: u64, target: &str, sipfrags: &[u16]) -> String {
    let notifies: Vec<String> = sipfrags
        .iter()
        .enumerate()
        .map(|(i, s)| notify(*s, &format!("n{i}")))
        .collect();
    let vars: Vec<String> = (0..sipfrags.len())
        .flat_map(|i| [format!("n{i}"), format!("n{i}e")])
        .collect();
    let a = party_a();
    scenario(
        "transferor",
        &format!(
            r#"{}
  <pause milliseconds="{talk_ms}"/>
{}  <recv response="202"/>
{}
  <recv request="BYE"/>
{OK_TO_REQUEST}
  <timewait milliseconds="300"/>
  <Reference variables="gwtagall,gwtag,{}"/>"#,
            a_call(rtp),
            a.in_dialog("REFER", 2)
                .contact(&a)
                .header(&format!("Refer-To: <sip:{target}@[remote_ip]>"))
                .header("Referred-By: <sip:201@[local_ip]:[local_port]>")
                .send_retrans(),
            notifies.join("\n"),
            vars.join(","),
        ),
    )
}

/// A in the attended transfer: calls 5001, writes the dialog's Call-ID and tags to
/// `dialog.txt` (for C), is BYE'd when C replaces it.
fn replaced(rtp: SocketAddrV4) -> String {
    scenario(
        "replaced",
        &format!(
            r#"{}
{}
  <recv request="BYE"/>
{OK_TO_REQUEST}
  <timewait milliseconds="300"/>
  <Reference variables="gwtagall"/>"#,
            a_call(rtp),
            write_dialog("atag[call_number]"),
        ),
    )
}

/// C: INVITE to 5001 with `Replaces` (the dialog given with `-set callid/gwtag/atag`),
/// 200, ACK, talks `talk_ms`, BYE.
fn replacing(rtp: SocketAddrV4, talk_ms: u64) -> String {
    let c = party_c("ctag[call_number]", "5001");
    scenario(
        "replacing",
        &format!(
            r#"{REPLACING_GLOBALS}
{}  <recv response="100" optional="true"/>
  <recv response="200" rrs="true"/>
{}{}"#,
            c.invite(1)
                .header(REPLACES)
                .header("Require: replaces")
                .sdp(&sdp(rtp))
                .send_retrans(),
            c.in_dialog("ACK", 1).send(),
            c_hangs_up(&c, talk_ms),
        ),
    )
}

/// B, the blind transfer's target on the second SIP trunk: the INVITE must carry A's
/// Referred-By; rings 300 ms, answers (media at `rtp`), is BYE'd.
fn target(rtp: SocketAddrV4) -> String {
    scenario(
        "transfer target",
        &format!(
            r#"  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp="sip:201@" search_in="hdr" header="Referred-By:" check_it="true" assign_to="rb"/>
    </action>
  </recv>
{ringing}
  <pause milliseconds="300"/>
{}
  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>
{OK_TO_REQUEST}
  <timewait milliseconds="300"/>
  <Reference variables="rb"/>"#,
            ok_with_sdp("btag[call_number]", rtp),
            ringing = ringing("btag[call_number]"),
        ),
    )
}

/// The two records of a blind transfer of the H.323 endpoint's call to `target`, routed
/// to `out_trunk`, both checked, and the first call's id; no B-channel is left busy.
fn blind_records(d: &Daemon, target: &str, out_trunk: &str) -> (Vec<Vec<String>>, String) {
    let cdrs = records(d, 0, 2);
    assert_eq!(cdrs.len(), 2, "{cdrs:?}");
    let call = cdrs[0][CALL_ID].clone();
    assert_eq!(cdrs[0][DISPOSITION], "TRANSFERRED", "{cdrs:?}");
    assert_eq!(cdrs[0][TRANSFER], format!("blind to {target} as {call}.1"));
    assert_eq!(cdrs[1][DISPOSITION], "ANSWERED");
    assert_eq!(cdrs[1][IN_TRUNK], "ep");
    assert_eq!(cdrs[1][OUT_TRUNK], out_trunk);
    assert_eq!(cdrs[1][TRANSFER], format!("blind from {call}"));
    d.assert_no_busy_channel();
    (cdrs, call)
}

struct Rig {
    daemon: Daemon,
    endpoint: TcpListener,
    /// Where SIPp B (the second SIP trunk's peer) listens.
    phone_b: u16,
}

fn start(name: &str) -> Rig {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let endpoint = TcpListener::bind("127.0.0.1:0").unwrap();
    let phone_b = free_udp_port();
    let tail = format!(
        r#"
[[sip_trunk]]
name = "pbx2"
listen = "127.0.0.1:{pbx2}"
peers = ["127.0.0.1:{phone_b}"]

[h323]
listen = "127.0.0.1:{h323}"

[[h323_peer]]
name = "ep"
address = "127.0.0.1:{ep}"
fast_start = true

[[route]]
pattern = "5001"
from = ["pbx"]
to = ["ep"]

# A transfer's new call is routed as if the remaining party (the H.323 endpoint)
# dialled it.
[[route]]
pattern = "_3XX"
from = ["ep"]
to = ["pbx2"]

[[route]]
pattern = "_0X."
from = ["ep"]
to = ["pstn"]
"#,
        pbx2 = free_udp_port(),
        h323 = free_tcp_port(),
        ep = endpoint.local_addr().unwrap().port(),
    );
    let daemon = Daemon::start(
        name,
        Options {
            tail: &tail,
            ..Options::default()
        },
    );
    Rig {
        daemon,
        endpoint,
        phone_b,
    }
}

/// SIP A ↔ H.323, A REFERs to 301 on the second SIP trunk: NOTIFY 100, 180, 200; A is
/// BYE'd; the H.323 endpoint's RTP is now relayed to B and back.
#[test]
fn blind_transfer_of_an_h323_call_to_sip_relays_the_endpoint_to_the_target() {
    let r = start("xfer-h323-sip");
    let d = &r.daemon;
    let ep_rtp = Arc::new(RtpEnd::start(H323_TONE));
    let a_rtp = RtpEnd::start(A_TONE);
    let b_rtp = RtpEnd::start(TARGET_TONE);
    let ep = h323_answer(
        r.endpoint.try_clone().unwrap(),
        ep_rtp.clone(),
        Some(Duration::from_millis(6000)),
    );
    let sf_b = d.scenario("target.xml", &target(b_rtp.addr));
    let mut b = spawn_sipp(d, r.phone_b, &sf_b);
    std::thread::sleep(Duration::from_millis(200));
    let sf_a = d.scenario(
        "transferor.xml",
        &transferor(a_rtp.addr, 2000, "301", &[100, 180, 200]),
    );
    let ok_a = d.sipp(&["-sf", &sf_a, "-s", "5001", "-m", "1"]);
    let (log, second) = ep.join().unwrap();
    let ok_b = b.wait().unwrap().success();
    assert!(
        ok_a,
        "SIPp A: REFER 202, NOTIFY 100/180/200, BYE; endpoint {log:?}"
    );
    assert!(ok_b, "SIPp B: INVITE with Referred-By, answered, BYE'd");
    assert_eq!(
        kinds(&log),
        ["setup", "connected", "released"],
        "one call at the endpoint, released by it: {log:?}"
    );
    assert!(!second, "no second Setup at the endpoint");
    assert_eq!(released(&log).map(|r| r.1), Some(false), "{log:?}");
    let (ep_a, ep_b, b_ep) = (
        ep_rtp.heard(A_TONE),
        ep_rtp.heard(TARGET_TONE),
        b_rtp.heard(H323_TONE),
    );
    assert!(ep_a >= 40, "the endpoint heard A before: {ep_a}");
    assert!(
        ep_b >= 75,
        "the endpoint heard B after the transfer: {ep_b}"
    );
    assert!(b_ep >= 75, "B heard the endpoint: {b_ep}");
    a_rtp.stop();
    b_rtp.stop();
    Arc::try_unwrap(ep_rtp).ok().unwrap().stop();
    let (cdrs, call) = blind_records(d, "301", "pbx2");
    assert_eq!(cdrs[1][CALL_ID], format!("{call}.1"));
    assert_eq!(cdrs[1][CALLED], "301");
}

/// SIP A ↔ H.323, A REFERs to 0301234 on the E1: the switch answers, its B-channel is
/// bridged to the H.323 leg's RTP; the endpoint hears the switch's tone and the switch
/// the endpoint's.
#[test]
fn blind_transfer_of_an_h323_call_to_the_e1_bridges_the_endpoint() {
    let r = start("xfer-h323-e1");
    let d = &r.daemon;
    let ep_rtp = Arc::new(RtpEnd::start(H323_TONE));
    let a_rtp = RtpEnd::start(A_TONE);
    let ep = h323_answer(
        r.endpoint.try_clone().unwrap(),
        ep_rtp.clone(),
        Some(Duration::from_millis(5000)),
    );
    let sf_a = d.scenario(
        "transferor.xml",
        &transferor(a_rtp.addr, 1500, "0301234", &[100, 180, 200]),
    );
    let ok_a = d.sipp(&["-sf", &sf_a, "-s", "5001", "-m", "1"]);
    let (log, second) = ep.join().unwrap();
    assert!(
        ok_a,
        "SIPp A: REFER 202, NOTIFY 100/180/200, BYE; endpoint {log:?}"
    );
    assert_eq!(kinds(&log), ["setup", "connected", "released"], "{log:?}");
    assert!(!second, "no second Setup at the endpoint");
    let heard = ep_rtp.heard(SWITCH_TONE);
    assert!(heard >= 75, "the endpoint heard the switch: {heard}");
    assert!(ep_rtp.heard(A_TONE) >= 30, "and A before the transfer");
    a_rtp.stop();
    Arc::try_unwrap(ep_rtp).ok().unwrap().stop();
    let sim = d.ctl("show sim-calls");
    let calls: Vec<&str> = sim.lines().filter(|l| l.contains("from-gateway")).collect();
    assert_eq!(calls.len(), 1, "{sim}");
    assert!(
        calls[0].contains("0301234") || calls[0].contains("301234"),
        "{sim}"
    );
    assert!(
        calls[0].contains("700Hz/"),
        "the switch heard the endpoint: {sim}"
    );
    blind_records(d, "0301234", "pstn");
}

/// Attended: C's INVITE with `Replaces` names A's dialog of a SIP ↔ H.323 call. The
/// H.323 leg is kept (no new Setup, no Release Complete until C hangs up); C's tone and
/// the endpoint's go through the relay.
#[test]
fn replaces_of_the_sip_leg_of_an_h323_call_keeps_the_h323_leg() {
    let r = start("xfer-h323-replaces");
    let d = &r.daemon;
    let ep_rtp = Arc::new(RtpEnd::start(H323_TONE));
    let a_rtp = RtpEnd::start(A_TONE);
    let c_rtp = RtpEnd::start(TARGET_TONE);
    let ep = h323_answer(r.endpoint.try_clone().unwrap(), ep_rtp.clone(), None);
    let sf_a = d.scenario("replaced.xml", &replaced(a_rtp.addr));
    let mut a = d
        .sipp_command(
            "127.0.0.1",
            d.pbx_port,
            &["-sf", &sf_a, "-s", "5001", "-m", "1"],
        )
        .spawn()
        .unwrap();
    let set = read_dialog(d);
    // A talks to the endpoint a while.
    std::thread::sleep(Duration::from_millis(1500));
    let sf_c = d.scenario("replacing.xml", &replacing(c_rtp.addr, 3000));
    let mut args: Vec<&str> = vec!["-sf", &sf_c, "-s", "5001", "-m", "1"];
    args.extend(set.iter().map(String::as_str));
    let ok_c = d
        .sipp_command("127.0.0.1", free_udp_port(), &args)
        .status()
        .unwrap()
        .success();
    let ok_a = a.wait().unwrap().success();
    let (log, second) = ep.join().unwrap();
    assert!(
        ok_c,
        "SIPp C: INVITE with Replaces answered, BYE; endpoint {log:?}"
    );
    assert!(ok_a, "SIPp A: answered, BYE'd by the gateway");
    assert_eq!(
        kinds(&log),
        ["setup", "connected", "released"],
        "the H.323 leg kept: {log:?}"
    );
    assert!(!second, "no second Setup at the endpoint");
    assert_eq!(
        released(&log),
        Some((CauseValue::NormalCallClearing, true)),
        "released by the gateway only when C hung up"
    );
    let (ep_c, c_ep) = (ep_rtp.heard(TARGET_TONE), c_rtp.heard(H323_TONE));
    assert!(ep_c >= 75, "the endpoint heard C: {ep_c}");
    assert!(c_ep >= 75, "C heard the endpoint: {c_ep}");
    assert!(ep_rtp.heard(A_TONE) >= 40, "and A before");
    a_rtp.stop();
    c_rtp.stop();
    Arc::try_unwrap(ep_rtp).ok().unwrap().stop();
    let cdrs = records(d, 0, 2);
    assert_eq!(cdrs.len(), 2, "{cdrs:?}");
    let call = cdrs[0][CALL_ID].clone();
    assert_eq!(cdrs[0][DISPOSITION], "TRANSFERRED", "{cdrs:?}");
    assert_eq!(cdrs[0][TRANSFER], format!("attended as {call}.1"));
    assert_eq!(cdrs[1][CALL_ID], format!("{call}.1"));
    assert_eq!(cdrs[1][DISPOSITION], "ANSWERED");
    assert_eq!(cdrs[1][TRANSFER], format!("attended from {call}"));
    d.assert_no_busy_channel();
}
