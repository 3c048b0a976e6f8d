//! Interoperation of our SIP user agent with SIPp (Debian `sip-tester`), a SIP tool nobody
//! here wrote: SIPp as caller against our UAS, and as callee of our UAC, over UDP and TCP,
//! with CANCEL, 486, re-INVITE, PRACK (100rel) and a digest challenge.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gateway::sip::digest::{Algorithm, DigestServer};
use gateway::sip::transaction::Timers;
use gateway::sip::transport::{Listen, Protocol, Target, Transport};
use gateway::sip::ua::driver::{run, Application};
use gateway::sip::ua::{Endpoint, EndpointConfig, OutgoingCall, UaEvent};
use gateway::sip::StatusCode;

use crate::sipp_scenario::{head, offer, Uac};

const SDP_ANSWER: &[u8] = b"v=0\r\no=gw 1 1 IN IP4 127.0.0.1\r\ns=gw\r\nc=IN IP4 127.0.0.1\r\n\
t=0 0\r\nm=audio 20000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\na=ptime:20\r\n";

fn sipp_available() -> bool {
    Command::new("sipp").arg("-v").output().is_ok()
}

/// How our UAS answers, chosen by the called number (Request-URI user part).
#[derive(Default)]
struct Uas {
    calls_seen: usize,
    byes: usize,
    cancels: usize,
    reinvites: usize,
    auth: Option<DigestServer>,
    challenged: usize,
    early: Vec<gateway::sip::ua::CallHandle>,
    pracks: usize,
}

/// Our UAS application, shared with the test thread.
struct Shared(Arc<Mutex<Uas>>);

impl Application for Shared {
    fn on_event(&mut self, ep: &mut Endpoint, now: Instant, ev: UaEvent) -> bool {
        let mut s = self.0.lock().unwrap();
        match ev {
            UaEvent::IncomingCall { call, invite, .. } => {
                s.calls_seen += 1;
                let user = invite
                    .request_uri()
                    .and_then(|u| match u {
                        gateway::sip::Uri::Sip(u) => u.user.map(str::to_string),
                        _ => None,
                    })
                    .unwrap_or_default();
                if let Some(server) = s.auth.as_mut() {
                    let secs = now.elapsed().as_secs() + 1_000;
                    let creds = invite
                        .header_value(&gateway::sip::HeaderName::Authorization)
                        .map(|v| String::from_utf8_lossy(v).into_owned());
                    let ok = creds.is_some_and(|c| {
                        server
                            .verify(&c, "INVITE", secs, |u| {
                                (u == "pbx").then(|| "secret".to_string())
                            })
                            .is_ok()
                    });
                    if !ok {
                        let ch = server.challenge(secs, Algorithm::Md5, false);
                        s.challenged += 1;
                        ep.respond(
                            now,
                            call,
                            StatusCode::UNAUTHORIZED,
                            None,
                            &[("WWW-Authenticate", ch.to_header_value())],
                            None,
                        );
                        return true;
                    }
                }
                match user.as_str() {
                    "busy" => ep.hangup_with(
                        now,
                        call,
                        Some(StatusCode::BUSY_HERE),
                        Some("Q.850;cause=17"),
                    ),
                    "ring" => ep.respond(now, call, StatusCode::RINGING, None, &[], None),
                    "early" => {
                        // Reliable 183 (the caller requires 100rel); answered on PRACK.
                        s.early.push(call);
                        ep.respond(
                            now,
                            call,
                            StatusCode::SESSION_PROGRESS,
                            None,
                            &[],
                            Some(SDP_ANSWER),
                        );
                    }
                    _ => {
                        ep.respond(now, call, StatusCode::RINGING, None, &[], None);
                        ep.respond(now, call, StatusCode::OK, None, &[], Some(SDP_ANSWER));
                    }
                }
            }
            UaEvent::Pracked { call } => {
                s.pracks += 1;
                if s.early.contains(&call) {
                    ep.respond(now, call, StatusCode::OK, None, &[], Some(SDP_ANSWER));
                }
            }
            UaEvent::Request {
                handle,
                reinvite: true,
                ..
            } => {
                s.reinvites += 1;
                ep.respond_request(
                    now,
                    handle,
                    StatusCode::OK,
                    &[],
                    Some(("application/sdp", SDP_ANSWER)),
                );
            }
            UaEvent::Request { handle, .. } => {
                ep.respond_request(now, handle, StatusCode::OK, &[], None)
            }
            UaEvent::Bye { .. } => s.byes += 1,
            UaEvent::Cancelled { .. } => s.cancels += 1,
            _ => {}
        }
        true
    }
}

fn scenario(name: &str, xml: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sipp-scen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("{name}.xml"));
    std::fs::write(&p, xml).unwrap();
    p
}

/// Start our UAS on 127.0.0.1 (UDP and TCP) in a background runtime. UDP is read by the
/// driver itself (`bind_direct`, as in `bench-sip`); TCP comes over the inbox channel.
fn start_uas(state: Arc<Mutex<Uas>>) -> (SocketAddr, SocketAddr) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (transport, incoming) = Transport::bind_direct(Listen {
                udp: Some("127.0.0.1:0".parse().unwrap()),
                tcp: Some("127.0.0.1:0".parse().unwrap()),
                tls: None,
            })
            .await
            .unwrap();
            let udp = transport.local_addr(Protocol::Udp).unwrap();
            let tcp = transport.local_addr(Protocol::Tcp).unwrap();
            tx.send((udp, tcp)).unwrap();
            let ep = Endpoint::new(EndpointConfig {
                advertise: vec![(Protocol::Udp, udp), (Protocol::Tcp, tcp)],
                contact_user: "gw".into(),
                user_agent: "gatewayd-test".into(),
                timers: Timers::default(),
            });
            run(transport, incoming, ep, Shared(state), None).await;
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

fn sipp(args: &[&str]) -> std::process::Output {
    let out = Command::new("sipp")
        .args(args)
        .args([
            "-timeout",
            "30s",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
        ])
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run sipp");
    out
}

fn assert_sipp_ok(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: sipp exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Our UAS, `uas` as it starts, against SIPp running the scenario `xml` (saved as
/// `name`.xml) as UAC over UDP: `calls` calls at 20 per second; `what` names the case
/// when it fails. Returns our UAS's state.
fn run_scenario(what: &str, name: &str, xml: &str, uas: Uas, calls: u32) -> Arc<Mutex<Uas>> {
    let state = Arc::new(Mutex::new(uas));
    let (target, _) = start_uas(state.clone());
    let f = scenario(name, xml);
    let calls = calls.to_string();
    let out = sipp(&[
        "-sf",
        f.to_str().unwrap(),
        &target.to_string(),
        "-i",
        "127.0.0.1",
        "-p",
        "0",
        "-m",
        &calls,
        "-r",
        "20",
    ]);
    assert_sipp_ok(&out, what);
    state
}

#[test]
fn sipp_uac_calls_our_uas_over_udp_and_tcp() {
    if !sipp_available() {
        panic!("sipp is not installed: run .ci/deps (package sip-tester)");
    }
    let state = Arc::new(Mutex::new(Uas::default()));
    let (udp, tcp) = start_uas(state.clone());
    let out = sipp(&[
        "-sn",
        "uac",
        &udp.to_string(),
        "-i",
        "127.0.0.1",
        "-p",
        "0",
        "-m",
        "20",
        "-r",
        "50",
        "-d",
        "50",
        "-s",
        "answer",
    ]);
    assert_sipp_ok(&out, "uac over UDP");
    let out = sipp(&[
        "-sn",
        "uac",
        &tcp.to_string(),
        "-t",
        "t1",
        "-i",
        "127.0.0.1",
        "-p",
        "0",
        "-m",
        "10",
        "-r",
        "50",
        "-d",
        "50",
        "-s",
        "answer",
    ]);
    assert_sipp_ok(&out, "uac over TCP");
    let s = state.lock().unwrap();
    assert_eq!(s.calls_seen, 30);
    assert_eq!(s.byes, 30);
}

/// SIPp's ACK of the 2xx to its INVITE, CSeq `cseq`, in the dialog `uac` started (the
/// To of the last response, with our tag).
fn ack(uac: &Uac, cseq: u32) -> String {
    uac.in_dialog("ACK", cseq).last_to().send()
}

/// SIPp's BYE, CSeq `cseq`, in the dialog `uac` started, retransmitted until answered.
fn bye(uac: &Uac, cseq: u32) -> String {
    uac.in_dialog("BYE", cseq).last_to().send_retrans()
}

/// SIPp's SDP offer of PCMA on `[media_port]`: version `version` of its session (RFC 4566
/// §5.2; a re-offer counts it up), `attrs` the lines after the `m=` line.
fn pcma_offer(version: u32, attrs: &str) -> String {
    format!(
        "v=0\no=user1 1 {version} IN IP[local_ip_type] [local_ip]\ns=-\n\
         c=IN IP[media_ip_type] [media_ip]\nt=0 0\nm=audio [media_port] RTP/AVP 8\n{attrs}"
    )
}

/// SIPp calls `ring` (our UAS rings, never answers) and CANCELs on the 180.
fn cancel_uac() -> String {
    let uac = Uac::sipp("sipp", "ring");
    format!(
        r#"{}{}  <recv response="100" optional="true"/>
  <recv response="180"/>
{}  <recv response="200"/>
  <recv response="487"/>
{}</scenario>
"#,
        head("cancel before answer"),
        uac.invite(1)
            .sdp(&offer("[media_port]", &[8]))
            .send_retrans(),
        uac.cancel(1).send(),
        uac.ack_failure(1).send(),
    )
}

#[test]
fn sipp_cancels_before_answer() {
    let state = run_scenario("CANCEL", "cancel", &cancel_uac(), Uas::default(), 5);
    assert_eq!(state.lock().unwrap().cancels, 5);
}

/// SIPp calls `busy` without SDP: 486 with the Q.850 cause in `Reason`, ACKed.
fn busy_uac() -> String {
    let uac = Uac::sipp("sipp", "busy");
    format!(
        r#"{}{}  <recv response="100" optional="true"/>
  <recv response="486">
    <action>
      <ereg regexp="Q.850;cause=17" search_in="hdr" header="Reason:" check_it="true" assign_to="r"/>
    </action>
  </recv>
{}  <Reference variables="r"/>
</scenario>
"#,
        head("busy"),
        uac.invite(1).send_retrans(),
        uac.ack_failure(1).send(),
    )
}

#[test]
fn sipp_gets_486_with_q850_reason() {
    run_scenario("486", "busy", &busy_uac(), Uas::default(), 5);
}

/// SIPp calls `answer`, then re-INVITEs the answered call putting it on hold
/// (`a=sendonly`), and hangs up.
fn reinvite_uac() -> String {
    let uac = Uac::sipp("sipp", "answer");
    format!(
        r#"{}{}  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true"/>
{}{}  <recv response="100" optional="true"/>
  <recv response="200"/>
{}{}  <recv response="200"/>
</scenario>
"#,
        head("re-INVITE"),
        uac.invite(1).sdp(&pcma_offer(1, "")).send_retrans(),
        ack(&uac, 1),
        uac.in_dialog("INVITE", 2)
            .last_to()
            .contact(&uac)
            .sdp(&pcma_offer(2, "a=sendonly\n"))
            .send_retrans(),
        ack(&uac, 2),
        bye(&uac, 3),
    )
}

#[test]
fn sipp_reinvites_an_answered_call() {
    let state = run_scenario("re-INVITE", "reinvite", &reinvite_uac(), Uas::default(), 5);
    let s = state.lock().unwrap();
    assert_eq!((s.reinvites, s.byes), (5, 5));
}

/// SIPp calls `early` requiring 100rel, PRACKs the reliable 183 (RFC 3262 §7.2: RAck
/// names its RSeq and the INVITE's CSeq), ACKs the 200, hangs up 1.2 s later.
fn prack_uac() -> String {
    let uac = Uac::sipp("sipp", "early");
    format!(
        r#"{}{}  <recv response="100" optional="true"/>
  <recv response="183" rrs="true">
    <action>
      <ereg regexp="[0-9]+" search_in="hdr" header="RSeq:" assign_to="rseq"/>
    </action>
  </recv>
{}  <recv response="200"/>
  <recv response="200" rrs="true"/>
{}  <pause milliseconds="1200"/>
{}  <recv response="200"/>
  <Reference variables="rseq"/>
</scenario>
"#,
        head("100rel"),
        uac.invite(1)
            .header("Require: 100rel")
            .sdp(&pcma_offer(1, ""))
            .send_retrans(),
        uac.in_dialog("PRACK", 2)
            .last_to()
            .header("RAck: [$rseq] 1 INVITE")
            .send_retrans(),
        ack(&uac, 1),
        bye(&uac, 3),
    )
}

/// A reliable 183 (RFC 3262) is PRACKed by SIPp, then answered; neither the 183 nor the
/// 200 is retransmitted once PRACKed/ACKed (an unexpected message during SIPp's pause
/// would fail the scenario).
#[test]
fn sipp_pracks_our_reliable_183() {
    let state = run_scenario("PRACK", "prack", &prack_uac(), Uas::default(), 3);
    let s = state.lock().unwrap();
    assert_eq!((s.pracks, s.byes), (3, 3));
}

/// SIPp (user `pbx`) calls `answer` without SDP, ACKs our 401 and INVITEs again with
/// its credentials (SIPp's `[authentication]` answers the challenge, RFC 2617).
fn auth_uac() -> String {
    let uac = Uac::sipp("pbx", "answer");
    format!(
        r#"{}{}  <recv response="100" optional="true"/>
  <recv response="401" auth="true"/>
{}{}  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true"/>
{}{}  <recv response="200"/>
</scenario>
"#,
        head("digest"),
        uac.invite(1).send_retrans(),
        uac.ack_failure(1).send(),
        uac.invite(2)
            .header("[authentication username=pbx password=secret]")
            .send_retrans(),
        ack(&uac, 2),
        bye(&uac, 3),
    )
}

#[test]
fn sipp_answers_our_digest_challenge() {
    let uas = Uas {
        auth: Some(DigestServer::new("gw.test", b"k".to_vec())),
        ..Default::default()
    };
    let state = run_scenario("digest", "auth", &auth_uac(), uas, 3);
    let s = state.lock().unwrap();
    assert_eq!((s.challenged, s.calls_seen, s.byes), (3, 6, 3));
}

/// Our UAC calls SIPp's built-in UAS and hangs up each answered call.
#[test]
fn our_uac_calls_sipp_uas() {
    let sipp_port = crate::port_support::free_udp_port();
    let mut child = Command::new("sipp")
        .args([
            "-sn",
            "uas",
            "-i",
            "127.0.0.1",
            "-p",
            &sipp_port.to_string(),
            "-m",
            "10",
            "-nostdin",
            "-timeout",
            "30s",
            "-timeout_error",
        ])
        .current_dir(std::env::temp_dir())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("sipp");
    std::thread::sleep(Duration::from_millis(300));
    let target = Target {
        protocol: Protocol::Udp,
        addr: SocketAddr::from(([127, 0, 0, 1], sipp_port)),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (answered, terminated) = rt.block_on(async move {
        let (transport, incoming) = Transport::bind(Listen {
            udp: Some("127.0.0.1:0".parse().unwrap()),
            ..Default::default()
        })
        .await
        .unwrap();
        let udp = transport.local_addr(Protocol::Udp).unwrap();
        let ep = Endpoint::new(EndpointConfig {
            advertise: vec![(Protocol::Udp, udp)],
            contact_user: "gw".into(),
            user_agent: "gatewayd-test".into(),
            timers: Timers::default(),
        });
        struct Uac {
            target: Target,
            placed: usize,
            answered: usize,
            terminated: usize,
            in_flight: usize,
        }
        impl Application for Uac {
            fn on_event(&mut self, ep: &mut Endpoint, now: Instant, ev: UaEvent) -> bool {
                match ev {
                    UaEvent::Answered { call, .. } => {
                        self.answered += 1;
                        ep.hangup(now, call, Some("Q.850;cause=16"));
                    }
                    UaEvent::Terminated { .. } => {
                        self.terminated += 1;
                        self.in_flight -= 1;
                    }
                    UaEvent::Rejected { status, .. } => panic!("call rejected with {status}"),
                    _ => {}
                }
                self.terminated < 10
            }
            fn poll(&mut self, ep: &mut Endpoint, now: Instant) -> bool {
                while self.placed < 10 && self.in_flight < 3 {
                    self.placed += 1;
                    self.in_flight += 1;
                    ep.invite(
                        now,
                        OutgoingCall {
                            request_uri: format!("sip:service@{}", self.target.addr),
                            from: "<sip:gw@127.0.0.1>".into(),
                            to: format!("<sip:service@{}>", self.target.addr),
                            target: self.target,
                            sdp: Some(bytes::Bytes::from_static(SDP_ANSWER)),
                            headers: vec![],
                        },
                    );
                }
                true
            }
        }
        let app = Uac {
            target,
            placed: 0,
            answered: 0,
            terminated: 0,
            in_flight: 0,
        };
        let mut app = app;
        let app_ref = &mut app;
        let fut = run(transport, incoming, ep, AppRef(app_ref), None);
        tokio::time::timeout(Duration::from_secs(30), fut)
            .await
            .expect("calls done in 30 s");
        (app.answered, app.terminated)
    });
    let status = child.wait().unwrap();
    assert_eq!((answered, terminated), (10, 10));
    assert!(status.success(), "sipp uas saw failed calls: {status:?}");
}

/// Lets a borrowed application drive the loop.
struct AppRef<'a, A>(&'a mut A);

impl<A: Application> Application for AppRef<'_, A> {
    fn on_event(&mut self, ep: &mut Endpoint, now: Instant, ev: UaEvent) -> bool {
        self.0.on_event(ep, now, ev)
    }
    fn poll(&mut self, ep: &mut Endpoint, now: Instant) -> bool {
        self.0.poll(ep, now)
    }
}

pub(crate) const REGISTRAR_UAS: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="registrar with digest">
  <recv request="REGISTER"/>
  <send><![CDATA[
SIP/2.0 401 Unauthorized
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
WWW-Authenticate: Digest realm="sipp.test", nonce="47364c23432d2e131a5fb210812c", qop="auth"
Content-Length: 0

]]></send>
  <recv request="REGISTER">
    <action>
      <verifyauth assign_to="authvalid" username="gw" password="pw"/>
    </action>
  </recv>
  <nop hide="true" test="authvalid" next="goodauth"/>
  <send next="end"><![CDATA[
SIP/2.0 403 Forbidden
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <label id="goodauth"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
[last_Contact:]
Expires: 60
Content-Length: 0

]]></send>
  <label id="end"/>
</scenario>
"#;

pub(crate) const CHALLENGING_UAS: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="callee that challenges (no qop)">
  <recv request="INVITE"/>
  <send><![CDATA[
SIP/2.0 401 Unauthorized
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
WWW-Authenticate: Digest realm="sipp.test", nonce="1a2b3c4d5e6f", algorithm=MD5
Content-Length: 0

]]></send>
  <recv request="ACK"/>
  <recv request="INVITE">
    <action>
      <verifyauth assign_to="authvalid" username="gw" password="pw"/>
    </action>
  </recv>
  <nop hide="true" test="authvalid" next="goodauth"/>
  <send next="end"><![CDATA[
SIP/2.0 403 Forbidden
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag02[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <recv request="ACK" next="end"/>
  <label id="goodauth"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag02[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:sipp@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8
]]></send>
  <recv request="ACK"/>
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <label id="end"/>
</scenario>
"#;

/// Our endpoint as UAC against a SIPp scenario listening on a fresh port; `act` starts
/// the work (a REGISTER or an INVITE) and `done` decides from events when to stop.
fn against_sipp_uas(
    xml_name: &str,
    xml: &str,
    act: impl FnOnce(&mut Endpoint, Instant, Target) + Send + 'static,
    mut done: impl FnMut(&mut Endpoint, Instant, &UaEvent) -> bool + Send + 'static,
) {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let f = scenario(xml_name, xml);
    let mut child = Command::new("sipp")
        .args([
            "-sf",
            f.to_str().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-m",
            "1",
        ])
        .args([
            "-nostdin",
            "-timeout",
            "20s",
            "-timeout_error",
            "-trace_err",
        ])
        .current_dir(std::env::temp_dir())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("sipp");
    std::thread::sleep(Duration::from_millis(300));
    let target = Target {
        protocol: Protocol::Udp,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let (transport, incoming) = Transport::bind(Listen {
            udp: Some("127.0.0.1:0".parse().unwrap()),
            ..Default::default()
        })
        .await
        .unwrap();
        let udp = transport.local_addr(Protocol::Udp).unwrap();
        let mut ep = Endpoint::new(EndpointConfig {
            advertise: vec![(Protocol::Udp, udp)],
            contact_user: "gw".into(),
            user_agent: "gatewayd-test".into(),
            timers: Timers::default(),
        });
        ep.add_credentials(Some("sipp.test"), "gw", "pw");
        act(&mut ep, Instant::now(), target);
        let app = move |ep: &mut Endpoint, now: Instant, ev: UaEvent| !done(ep, now, &ev);
        tokio::time::timeout(
            Duration::from_secs(20),
            run(transport, incoming, ep, app, None),
        )
        .await
        .expect("finished in 20 s");
    });
    let status = child.wait().unwrap();
    assert!(status.success(), "sipp {xml_name} failed: {status:?}");
}

#[test]
fn we_register_at_a_sipp_registrar_that_verifies_our_digest() {
    let seen = Arc::new(Mutex::new(None));
    let seen2 = seen.clone();
    against_sipp_uas(
        "registrar",
        REGISTRAR_UAS,
        |ep, now, target| {
            ep.register(
                now,
                gateway::sip::ua::RegistrationSpec {
                    registrar: format!("sip:{}", target.addr),
                    aor: "sip:gw@sipp.test".into(),
                    target,
                    expires: 300,
                },
            );
        },
        move |_, _, ev| match ev {
            UaEvent::Registered { expires, .. } => {
                *seen2.lock().unwrap() = Some(Ok(*expires));
                true
            }
            UaEvent::RegistrationFailed { status, .. } => {
                *seen2.lock().unwrap() = Some(Err(*status));
                true
            }
            _ => false,
        },
    );
    assert_eq!(
        *seen.lock().unwrap(),
        Some(Ok(60)),
        "SIPp's verifyauth accepted our digest; 60 s granted"
    );
}

/// The challenge has no qop (the RFC 2617 legacy digest); SIPp's `verifyauth` checks the
/// answer. (SIPp reads only `Authorization`, so this uses 401 rather than 407.)
#[test]
fn our_uac_answers_a_401_from_sipp() {
    let outcome = Arc::new(Mutex::new(Vec::new()));
    let o2 = outcome.clone();
    against_sipp_uas(
        "challenger",
        CHALLENGING_UAS,
        |ep, now, target| {
            ep.invite(
                now,
                OutgoingCall {
                    request_uri: format!("sip:service@{}", target.addr),
                    from: "<sip:gw@127.0.0.1>".into(),
                    to: format!("<sip:service@{}>", target.addr),
                    target,
                    sdp: Some(bytes::Bytes::from_static(SDP_ANSWER)),
                    headers: vec![],
                },
            );
        },
        move |ep, now, ev| match ev {
            UaEvent::Answered { call, .. } => {
                o2.lock().unwrap().push("answered".to_string());
                ep.hangup(now, *call, None);
                false
            }
            UaEvent::Terminated { .. } => true,
            UaEvent::Rejected { status, .. } => {
                o2.lock().unwrap().push(format!("rejected {status}"));
                true
            }
            _ => false,
        },
    );
    assert_eq!(*outcome.lock().unwrap(), ["answered"]);
}
