//! H.323 legs through gatewayd (issue #7): SIPp (Debian `sip-tester`) calls numbers routed
//! to an H.323 endpoint — our own `h323::call` endpoint on real TCP, as the test peer —
//! with fast start and without (H.245 tunnelled), and that endpoint calls an E1 number
//! answered by the daemon's simulated switch. Each pair of the DESIGN.md mapping is
//! asserted on both sides: Setup ↔ INVITE, Call Proceeding ↔ 100, Alerting ↔ 180,
//! Connect ↔ 200, Release Complete ↔ BYE with the Q.850 cause on both (the `Reason`
//! header checked by SIPp, the Release Complete's cause by the peer), and the CDRs.
//! The daemon is the real `gatewayd` process (`daemon_support`).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use crate::daemon_support::{
    free_tcp_port, free_udp_port, Daemon, Options, CALLED, DISPOSITION, IN_TRUNK, ISDN_CAUSE,
    RELEASE_SIDE, SIP_STATUS,
};
use crate::h323_support::{answer_one, flush, media, pump, released, UdpGatekeeper};
use crate::sipp_scenario::{ack_2xx, bye, head, invite, Uac};
use h323::call::{Call, CallConfig, Channel, Event, PlaceCall};
use h323::fast_start::{MediaAddresses, G711};
use h323::h225::{Alias, Guid};
use h323::q931::ie::CauseValue;
use h323::ras::gatekeeper::{Gatekeeper, GatekeeperConfig, GatekeeperEvent};

fn sip_uac(bye: &str) -> String {
    format!(
        r#"{}{}  <recv response="100"/>
  <recv response="180"/>
  <recv response="200" rrs="true"/>
{ack}
{bye}
</scenario>
"#,
        head("SIP to H.323"),
        invite("[media_port]", &[8, 0]),
        ack = ack_2xx(),
    )
}

/// We hang up with `Reason: Q.850;cause=16`.
fn uac_bye() -> String {
    format!(
        "  <pause milliseconds=\"800\"/>\n{}  <recv response=\"200\"/>",
        bye(2)
    )
}

/// The far end hangs up: the BYE must carry `Reason: Q.850;cause=31`.
const UAS_BYE: &str = r#"  <recv request="BYE">
    <action>
      <ereg regexp="Q\.850;cause=31" search_in="hdr" header="Reason:" check_it="true" assign_to="1"/>
      <log message="Reason [$1]"/>
    </action>
  </recv>
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
  </send>"#;

struct Setup323 {
    daemon: Daemon,
    h323_port: u16,
    fs: TcpListener,
    nofs: TcpListener,
    separate: TcpListener,
}

fn start(name: &str) -> Setup323 {
    let h323_port = free_tcp_port();
    let fs = TcpListener::bind("127.0.0.1:0").unwrap();
    let nofs = TcpListener::bind("127.0.0.1:0").unwrap();
    let separate = TcpListener::bind("127.0.0.1:0").unwrap();
    let tail = format!(
        r#"
[h323]
listen = "127.0.0.1:{h323_port}"

[[h323_peer]]
name = "ep-fs"
address = "127.0.0.1:{fs}"
fast_start = true
media = "direct"

[[h323_peer]]
name = "ep-nofs"
address = "127.0.0.1:{nofs}"
fast_start = false
h245_tunnelling = true

[[h323_peer]]
name = "ep-separate"
address = "127.0.0.1:{separate}"
fast_start = false
h245_tunnelling = false

[[route]]
pattern = "5001"
from = ["pbx"]
to = ["ep-fs"]

[[route]]
pattern = "5004"
from = ["pbx"]
to = ["ep-separate"]

[[route]]
pattern = "5002"
from = ["pbx"]
to = ["ep-nofs"]

[[route]]
pattern = "_0X."
from = ["ep-fs"]
to = ["pstn"]

[[route]]
pattern = "5001"
from = ["pstn"]
to = ["ep-fs"]
"#,
        fs = fs.local_addr().unwrap().port(),
        nofs = nofs.local_addr().unwrap().port(),
        separate = separate.local_addr().unwrap().port(),
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
        fs,
        nofs,
        separate,
    }
}

/// The H.323 endpoint answering one call without tunnelling: it announces its own
/// `h245Address` and the gateway connects there for H.245. Returns the call's events and
/// whether an H.245 connection came.
fn answer_separate_h245(listener: TcpListener, rtp_port: u16) -> (Vec<Event>, bool) {
    listener.set_nonblocking(true).unwrap();
    let h245_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    h245_listener.set_nonblocking(true).unwrap();
    let h245_addr = match h245_listener.local_addr().unwrap() {
        std::net::SocketAddr::V4(a) => a,
        other => panic!("{other}"),
    };
    let deadline = Instant::now() + Duration::from_secs(25);
    let mut sig = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                assert!(
                    Instant::now() < deadline,
                    "no H.323 connection from gatewayd"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("{e}"),
        }
    };
    sig.set_nonblocking(true).unwrap();
    let mut cfg = CallConfig::new(media(rtp_port));
    cfg.h245_tunneling = false;
    cfg.h245_listen = Some(h245_addr);
    let mut call = Call::incoming(cfg);
    let mut h245: Option<TcpStream> = None;
    let mut log = Vec::new();
    let mut setup_at = None;
    let mut alerted = false;
    let mut answered = false;
    let mut release_at = None;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let now = Instant::now();
        if h245.is_none() {
            if let Ok((s, _)) = h245_listener.accept() {
                s.set_nonblocking(true).unwrap();
                h245 = Some(s);
                call.h245_connected(now);
            }
        }
        let mut open = true;
        loop {
            match sig.read(&mut buf) {
                Ok(0) => {
                    open = false;
                    break;
                }
                Ok(n) => call.handle_signalling_bytes(now, &buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    open = false;
                    break;
                }
            }
        }
        if let Some(h) = &mut h245 {
            loop {
                match h.read(&mut buf) {
                    Ok(n) if n > 0 => call.handle_h245_bytes(now, &buf[..n]),
                    _ => break,
                }
            }
        }
        if call.poll_timeout().is_some_and(|t| t <= now) {
            call.handle_timeout(now);
        }
        while let Some(ev) = call.poll_event() {
            log.push(ev);
        }
        // Call Proceeding at once, Alerting and Connect 300 ms apart (as `answer_one`).
        if setup_at.is_none() && log.iter().any(|e| matches!(e, Event::Setup(_))) {
            call.proceeding(now);
            setup_at = Some(now);
        }
        if let Some(t) = setup_at {
            if !alerted && now >= t + Duration::from_millis(300) {
                call.alerting(now);
                alerted = true;
            }
            if !answered && now >= t + Duration::from_millis(600) {
                call.answer(now);
                answered = true;
            }
        }
        // Clear (cause 16) once answered and H.245 opened the audio both ways.
        let media_both = answered
            && log.iter().any(|e| matches!(e, Event::Media(_)))
            && log.iter().any(|e| matches!(e, Event::IncomingMedia { .. }));
        if media_both && release_at.is_none() {
            release_at = Some(now + Duration::from_millis(300));
        }
        if release_at.is_some_and(|t| t <= now) {
            call.release(now, CauseValue::NormalCallClearing);
            release_at = Some(now + Duration::from_secs(3600));
        }
        while let Some(t) = call.poll_transmit() {
            let stream = match t.channel {
                Channel::Signalling => Some(&mut sig),
                Channel::H245 => h245.as_mut(),
            };
            if let Some(st) = stream {
                st.set_nonblocking(false).unwrap();
                let _ = st.write_all(&t.bytes);
                st.set_nonblocking(true).unwrap();
            }
        }
        if log.iter().any(|e| matches!(e, Event::Released { .. })) || !open {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    while let Some(ev) = call.poll_event() {
        log.push(ev);
    }
    (log, h245.is_some())
}

#[test]
fn sip_to_h323_with_fast_start_and_without() {
    let s = start("h323-sip");
    let d = &s.daemon;

    // 1. Fast start; the SIP side hangs up with cause 16.
    let sip_rtp = free_udp_port();
    let fs = s.fs.try_clone().unwrap();
    let peer = std::thread::spawn(move || answer_one(fs, 40000, None));
    // The caller's display-name becomes the Setup's Display (H.225.0 §7.3.1).
    let sf = d.scenario(
        "uac_bye.xml",
        &sip_uac(&uac_bye()).replace("From: <sip:1001@", "From: \"Ann H323\" <sip:1001@"),
    );
    let ok = d.sipp(&[
        "-sf",
        &sf,
        "-s",
        "5001",
        "-m",
        "1",
        "-mp",
        &sip_rtp.to_string(),
        "-trace_err",
        "-trace_msg",
    ]);
    let log = peer.join().unwrap();
    assert!(
        ok,
        "SIPp: 100, 180, 200 and the BYE's 200 expected; peer saw {log:?}"
    );
    // Setup ↔ INVITE: numbers as aliases and IEs, fast start offered with the SIP side's
    // RTP address passed through.
    let Some(Event::Setup(setup)) = log.first() else {
        panic!("{log:?}")
    };
    assert_eq!(setup.called_number.as_deref(), Some("5001"));
    assert_eq!(setup.calling_number.as_deref(), Some("1001"));
    assert_eq!(setup.display.as_deref(), Some("Ann H323"));
    assert!(setup
        .destination_aliases
        .contains(&Alias::Dialled("5001".into())));
    assert!(setup
        .source_aliases
        .contains(&Alias::Dialled("1001".into())));
    assert_eq!(setup.fast_start_offer, vec![G711::ALaw, G711::MuLaw]);
    let m = log
        .iter()
        .find_map(|e| match e {
            Event::Connected { media } => *media,
            _ => None,
        })
        .expect("fast start settled the media by Connect");
    assert_eq!(m.remote_rtp.port(), sip_rtp, "the SIP side's RTP address");
    assert_eq!(m.codec, G711::ALaw);
    // Release Complete ↔ BYE: the BYE's Reason cause 16 arrives as the cause.
    assert_eq!(
        released(&log),
        Some((CauseValue::NormalCallClearing, true)),
        "{log:?}"
    );

    // 2. No fast start: H.245 tunnelled; the H.323 side hangs up with cause 31, the BYE
    // carries it.
    let nofs = s.nofs.try_clone().unwrap();
    let peer = std::thread::spawn(move || {
        answer_one(
            nofs,
            40010,
            Some((Duration::from_millis(1500), CauseValue::NormalUnspecified)),
        )
    });
    let sf = d.scenario("uac_wait_bye.xml", &sip_uac(UAS_BYE));
    let ok = d.sipp(&[
        "-sf",
        &sf,
        "-s",
        "5002",
        "-m",
        "1",
        "-trace_err",
        "-trace_msg",
    ]);
    let log = peer.join().unwrap();
    assert!(
        ok,
        "SIPp: BYE with Reason Q.850;cause=31 expected; peer saw {log:?}"
    );
    let Some(Event::Setup(setup)) = log.first() else {
        panic!("{log:?}")
    };
    assert!(setup.fast_start_offer.is_empty(), "{setup:?}");
    assert_eq!(setup.called_number.as_deref(), Some("5002"));
    // H.245 (tunnelled) opened our channel towards the peer.
    assert!(
        log.iter().any(|e| matches!(e, Event::Media(_))),
        "H.245 OpenLogicalChannel acknowledged: {log:?}"
    );
    assert!(
        log.iter().any(|e| matches!(e, Event::IncomingMedia { .. })),
        "the gateway opened its channel: {log:?}"
    );
    assert_eq!(released(&log), Some((CauseValue::NormalUnspecified, false)));

    // CDRs: one per call, answered, with the causes.
    let deadline = Instant::now() + Duration::from_secs(5);
    while d.cdrs().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let cdrs = d.cdrs();
    assert_eq!(cdrs.len(), 2, "{cdrs:?}");
    for (cdr, cause) in cdrs.iter().zip(["16", "31"]) {
        assert_eq!(cdr[DISPOSITION], "ANSWERED", "{cdr:?}");
        assert_eq!(cdr[ISDN_CAUSE], cause, "{cdr:?}");
    }
    assert!(cdrs[0].contains(&"ep-fs".to_string()), "{cdrs:?}");
    assert!(cdrs[1].contains(&"ep-nofs".to_string()), "{cdrs:?}");
    d.assert_no_busy_channel();
}

#[test]
fn h323_call_to_an_e1_number_is_answered_on_the_span() {
    let s = start("h323-e1");
    let d = &s.daemon;
    let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
    rtp.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let rtp_port = rtp.local_addr().unwrap().port();
    let mut stream = TcpStream::connect(("127.0.0.1", s.h323_port)).unwrap();
    stream.set_nonblocking(true).unwrap();
    let now = Instant::now();
    let mut cfg = CallConfig::new(MediaAddresses {
        rtp: SocketAddrV4::new([127, 0, 0, 1].into(), rtp_port),
        rtcp: SocketAddrV4::new([127, 0, 0, 1].into(), rtp_port + 1),
    });
    cfg.codecs = vec![G711::ALaw];
    let mut call = Call::place(
        now,
        cfg,
        PlaceCall {
            call_ref: 7,
            call_id: Guid([7; 16]),
            conference_id: Guid([8; 16]),
            source_aliases: vec![Alias::Dialled("2001".into()), Alias::H323Id("ep".into())],
            destination_aliases: vec![Alias::Dialled("0301234".into())],
            calling_number: Some("2001".into()),
            called_number: None,
            display: None,
            source_signal_address: None,
            dest_signal_address: None,
        },
    );
    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut connected_at = None;
    let mut rtp_seen = 0;
    let mut released_sent = false;
    while Instant::now() < deadline {
        let now = Instant::now();
        let open = pump(&mut call, &mut stream, now, &mut log);
        if connected_at.is_none() && log.iter().any(|e| matches!(e, Event::Connected { .. })) {
            connected_at = Some(now);
        }
        if let Some(t) = connected_at {
            // The simulated switch's audio arrives as PCMA (payload type 8) from the
            // B-channel bridged to our fast start address.
            let mut b = [0u8; 512];
            if let Ok(n) = rtp.recv(&mut b) {
                if n >= 12 && b[1] & 0x7f == 8 {
                    rtp_seen += 1;
                }
            }
            if !released_sent && (rtp_seen >= 5 || now > t + Duration::from_secs(3)) {
                call.release(now, CauseValue::NormalCallClearing);
                released_sent = true;
            }
        }
        flush(&mut call, &mut stream);
        if log.iter().any(|e| matches!(e, Event::Released { .. })) || !open {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    drop(stream);
    // Call Proceeding, Alerting (the switch rings), Connect (it answers after 1 s).
    let kinds: Vec<&str> = log
        .iter()
        .map(|e| match e {
            Event::Proceeding => "proceeding",
            Event::Alerting => "alerting",
            Event::Connected { .. } => "connected",
            Event::Released { .. } => "released",
            _ => "other",
        })
        .filter(|k| *k != "other")
        .collect();
    assert_eq!(
        kinds,
        ["proceeding", "alerting", "connected", "released"],
        "{log:?}"
    );
    let m = log
        .iter()
        .find_map(|e| match e {
            Event::Connected { media } => *media,
            _ => None,
        })
        .expect("fast start answered");
    assert_eq!(m.codec, G711::ALaw);
    assert_eq!(*m.remote_rtp.ip(), std::net::Ipv4Addr::LOCALHOST);
    assert!(
        rtp_seen >= 5,
        "PCMA from the span's B-channel: {rtp_seen} packets"
    );
    assert_eq!(
        released(&log),
        Some((CauseValue::NormalCallClearing, false))
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while d.cdrs().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let cdrs = d.cdrs();
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");
    assert_eq!(cdrs[0][ISDN_CAUSE], "16", "{cdrs:?}");
    assert!(cdrs[0].contains(&"ep-fs".to_string()), "{cdrs:?}");
    assert!(cdrs[0].contains(&"pstn".to_string()), "{cdrs:?}");
    d.assert_no_busy_channel();
}

#[test]
fn sip_to_h323_with_h245_on_its_own_connection() {
    let s = start("h323-h245");
    let d = &s.daemon;
    let listener = s.separate.try_clone().unwrap();
    let peer = std::thread::spawn(move || answer_separate_h245(listener, 40040));
    let sf = d.scenario(
        "uac_wait_bye.xml",
        &sip_uac(UAS_BYE.replace("31", "16").as_str()),
    );
    let ok = d.sipp(&["-sf", &sf, "-s", "5004", "-m", "1", "-trace_err"]);
    let (log, h245_came) = peer.join().unwrap();
    assert!(
        ok,
        "SIPp: BYE with Reason Q.850;cause=16 expected; peer saw {log:?}"
    );
    assert!(h245_came, "gatewayd connected to the peer's h245Address");
    let Some(Event::Setup(setup)) = log.first() else {
        panic!("{log:?}")
    };
    assert!(setup.fast_start_offer.is_empty());
    assert!(log.iter().any(|e| matches!(e, Event::Media(_))), "{log:?}");
    assert!(
        log.iter().any(|e| matches!(e, Event::IncomingMedia { .. })),
        "{log:?}"
    );
    // The H.245 channel of the gateway carried our SIP side's RTP address.
    let m = log
        .iter()
        .find_map(|e| match e {
            Event::Media(m) => Some(*m),
            _ => None,
        })
        .unwrap();
    assert_eq!(*m.remote_rtp.ip(), std::net::Ipv4Addr::LOCALHOST);
    // H.323 §8.5 on a separate H.245 connection: EndSessionCommand both ways, then Release
    // Complete from whichever side gets there first.
    assert_eq!(
        released(&log).map(|(c, _)| c),
        Some(CauseValue::NormalCallClearing)
    );
    d.assert_no_busy_channel();
}

#[test]
fn pstn_call_to_an_h323_endpoint() {
    let s = start("h323-pstn");
    let d = &s.daemon;
    let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let rtp_port = rtp.local_addr().unwrap().port();
    let fs = s.fs.try_clone().unwrap();
    let peer = std::thread::spawn(move || answer_one(fs, rtp_port, None));
    // The simulated switch calls 5001 on the E1 and clears after 1.5 s of conversation.
    assert_eq!(d.ctl("simcall 1 5001 1500"), "ok\n");
    let log = peer.join().unwrap();
    let Some(Event::Setup(setup)) = log.first() else {
        panic!("{log:?}")
    };
    assert_eq!(setup.called_number.as_deref(), Some("5001"));
    assert_eq!(setup.fast_start_offer, vec![G711::ALaw, G711::MuLaw]);
    let m = log
        .iter()
        .find_map(|e| match e {
            Event::Connected { media } => *media,
            _ => None,
        })
        .expect("fast start answered");
    assert_eq!(
        *m.remote_rtp.ip(),
        std::net::Ipv4Addr::LOCALHOST,
        "anchored"
    );
    assert_eq!(
        released(&log),
        Some((CauseValue::NormalCallClearing, true)),
        "{log:?}"
    );
    // The B-channel's audio reached the peer's RTP address as PCMA.
    rtp.set_nonblocking(true).unwrap();
    let mut pcma = 0;
    let mut others: std::collections::BTreeMap<u8, u32> = Default::default();
    let mut b = [0u8; 512];
    while let Ok(n) = rtp.recv(&mut b) {
        if n >= 12 && b[1] & 0x7f == 8 {
            pcma += 1;
        } else {
            *others
                .entry(if n >= 12 { b[1] & 0x7f } else { 255 })
                .or_default() += 1;
        }
    }
    // What else came (payload type → packets, 255: too short) and what the daemon said,
    // to tell a silent bridge from a wrong codec should this ever fail.
    assert!(
        pcma >= 5,
        "{pcma} PCMA packets, others {others:?}; the log:\n{}",
        d.log()
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while d.cdrs().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let cdrs = d.cdrs();
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");
    assert!(cdrs[0].contains(&"ep-fs".to_string()), "{cdrs:?}");
    d.assert_no_busy_channel();
}

#[test]
fn gatekeeper_registration_and_admission_around_a_sip_call() {
    let peer = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer_addr = match peer.local_addr().unwrap() {
        std::net::SocketAddr::V4(a) => a,
        other => panic!("{other}"),
    };
    let gkd = UdpGatekeeper::start(vec![(Alias::Dialled("5003".into()), peer_addr)], 60);
    let (gk_addr, events, gk) = (gkd.addr, gkd.events.clone(), gkd.gk.clone());
    let h323_port = free_tcp_port();
    let tail = format!(
        r#"
[h323]
listen = "127.0.0.1:{h323_port}"

[gatekeeper]
address = "{gk_addr}"
aliases = ["gatewayd"]
prefixes = ["0301"]
ttl = 60
ras_listen = "127.0.0.1:0"

[[route]]
pattern = "5003"
from = ["pbx"]
to = ["gatekeeper"]
"#
    );
    let d = Daemon::start(
        "h323-gk",
        Options {
            tail: &tail,
            ..Options::default()
        },
    );
    // RRQ with our prefix and alias, confirmed.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let regs = gk.lock().unwrap().registrations().to_vec();
        if let Some(r) = regs.first() {
            assert_eq!(r.prefixes, vec!["0301".to_string()]);
            assert!(
                r.aliases.contains(&Alias::H323Id("gatewayd".into())),
                "{r:?}"
            );
            assert_eq!(r.call_signal_addresses[0].port(), h323_port);
            break;
        }
        assert!(Instant::now() < deadline, "no registration");
        std::thread::sleep(Duration::from_millis(50));
    }
    // ARQ → ACF with the peer's address from the gatekeeper's table → Setup there.
    let answering = std::thread::spawn(move || answer_one(peer, 40020, None));
    let sf = d.scenario("uac_bye.xml", &sip_uac(&uac_bye()));
    let ok = d.sipp(&["-sf", &sf, "-s", "5003", "-m", "1"]);
    let log = answering.join().unwrap();
    assert!(ok, "SIPp call through the gatekeeper; peer saw {log:?}");
    let Some(Event::Setup(setup)) = log.first() else {
        panic!("{log:?}")
    };
    assert_eq!(setup.called_number.as_deref(), Some("5003"));
    assert_eq!(released(&log), Some((CauseValue::NormalCallClearing, true)));
    // DRQ after the call.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let ev = events.lock().unwrap().clone();
        let admitted = ev.iter().any(|e| {
            matches!(e, GatekeeperEvent::Admitted { destination, .. } if *destination == peer_addr)
        });
        let disengaged = ev
            .iter()
            .any(|e| matches!(e, GatekeeperEvent::Disengaged { .. }));
        if admitted && disengaged {
            break;
        }
        assert!(Instant::now() < deadline, "ARQ/DRQ expected: {ev:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(gkd);
    d.assert_no_busy_channel();
}

/// Calls the gatekeeper does not admit (ARJ) both ways, each with its CDR: SIPp calls 5009,
/// which the gatekeeper does not know (ARJ calledPartyNotRegistered): SIPp gets 403 with
/// `Reason: Q.850;cause=21`; then the gatekeeper forgets us (a restart) and our endpoint
/// calls in: the ARQ answerCall is rejected (callerNotRegistered), the caller gets Release
/// Complete cause 21, and the call, never routed, still has its CDR.
#[test]
fn gatekeeper_rejections_get_a_final_response_and_a_cdr() {
    let gkd = UdpGatekeeper::start(Vec::new(), 60);
    let h323_port = free_tcp_port();
    let tail = format!(
        r#"
[h323]
listen = "127.0.0.1:{h323_port}"

[gatekeeper]
address = "{gk}"
aliases = ["gatewayd"]
prefixes = ["0301"]
ttl = 60
ras_listen = "127.0.0.1:0"

[[route]]
pattern = "5009"
from = ["pbx"]
to = ["gatekeeper"]

[[route]]
pattern = "_2XX"
from = ["gatekeeper"]
to = ["pbx"]
"#,
        gk = gkd.addr
    );
    let d = Daemon::start(
        "h323-arj",
        Options {
            tail: &tail,
            ..Options::default()
        },
    );
    gkd.wait_for("registration", Duration::from_secs(10), |ev| {
        ev.iter()
            .any(|e| matches!(e, GatekeeperEvent::Registered { .. }))
    });

    // SIP → gatekeeper trunk, ARJ.
    let xml = format!(
        r#"{}  <recv response="100" optional="true"/>
  <recv response="403">
    <action>
      <ereg regexp="Q\.850;cause=21" search_in="hdr" header="Reason:" check_it="true" assign_to="1"/>
    </action>
  </recv>
{}  <Reference variables="1"/>
</scenario>
"#,
        head("SIP to H.323") + &invite("[media_port]", &[8, 0]),
        Uac::pbx().ack_failure(1).send()
    );
    let sf = d.scenario("uac_403.xml", &xml);
    let ok = d.sipp(&["-sf", &sf, "-s", "5009", "-m", "1", "-trace_err"]);
    assert!(
        ok,
        "SIPp: 403 with Reason Q.850;cause=21; {:#?}",
        gkd.events()
    );
    gkd.wait_for("ARJ", Duration::from_secs(2), |ev| {
        ev.iter()
            .any(|e| matches!(e, GatekeeperEvent::AdmissionRejected { .. }))
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while d.cdrs().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let cdrs = d.cdrs();
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    assert_eq!(
        (
            cdrs[0][DISPOSITION].as_str(),
            cdrs[0][ISDN_CAUSE].as_str(),
            cdrs[0][SIP_STATUS].as_str()
        ),
        ("FAILED", "21", "403"),
        "{cdrs:?}"
    );
    assert!(cdrs[0].contains(&"gatekeeper".to_string()), "{cdrs:?}");

    // The gatekeeper restarts and forgets us; an H.323 call in is not admitted.
    let fresh = GatekeeperConfig::new("GK-TEST", gkd.addr);
    *gkd.gk.lock().unwrap() = Gatekeeper::new(fresh);
    let log = crate::h323_support::call_daemon(
        h323_port,
        "201",
        "2001",
        41500,
        Duration::from_millis(100),
        None,
        9,
    );
    assert_eq!(
        released(&log),
        Some((CauseValue::CallRejected, true)),
        "Release Complete cause 21 from the gateway: {log:?}"
    );
    assert!(
        !log.iter().any(|e| matches!(e, Event::Connected { .. })),
        "{log:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while d.cdrs().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let cdrs = d.cdrs();
    assert_eq!(cdrs.len(), 2, "the refused call has its CDR: {cdrs:?}");
    let cdr = &cdrs[1];
    assert_eq!(
        (
            cdr[DISPOSITION].as_str(),
            cdr[ISDN_CAUSE].as_str(),
            cdr[SIP_STATUS].as_str(),
            cdr[CALLED].as_str(),
            cdr[IN_TRUNK].as_str(),
            cdr[RELEASE_SIDE].as_str()
        ),
        ("FAILED", "21", "", "201", "gatekeeper", "h323"),
        "{cdr:?}"
    );
    d.assert_no_busy_channel();
}

/// `gatewayd ctl hangup CALL` (the real CLI against the daemon's control socket) on an
/// answered SIP → H.323 call: the H.323 peer gets Release Complete cause 16, SIPp a BYE
/// with `Reason: Q.850;cause=16`, and the CDR says the gateway cleared it.
#[test]
fn ctl_hangup_releases_both_sides_of_a_sip_h323_call() {
    let s = start("h323-ctl-hangup");
    let d = &s.daemon;
    let fs = s.fs.try_clone().unwrap();
    let peer = std::thread::spawn(move || answer_one(fs, 40060, None));
    let sf = d.scenario(
        "uac_wait_bye.xml",
        &sip_uac(UAS_BYE.replace("31", "16").as_str()),
    );
    let mut sipp = d
        .sipp_command(
            "127.0.0.1",
            d.pbx_port,
            &["-sf", &sf, "-s", "5001", "-m", "1", "-trace_err"],
        )
        .spawn()
        .unwrap();
    // The call, once answered, as `show calls` lists it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let id = loop {
        let calls = d.ctl("show calls");
        if let Some(l) = calls.lines().find(|l| l.ends_with("answered")) {
            assert!(l.contains("pbx -> ep-fs"), "{calls}");
            break l.split_whitespace().next().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "no answered call: {calls}");
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(300));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatewayd"))
        .args(["ctl", "--socket"])
        .arg(d.sock())
        .args(["hangup", &id])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
    let ok = sipp.wait().unwrap().success();
    let log = peer.join().unwrap();
    assert!(ok, "SIPp: BYE with Reason Q.850;cause=16; peer saw {log:?}");
    assert_eq!(
        released(&log),
        Some((CauseValue::NormalCallClearing, true)),
        "Release Complete cause 16 from the gateway: {log:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while d.cdrs().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let cdrs = d.cdrs();
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    assert_eq!(
        (
            cdrs[0][DISPOSITION].as_str(),
            cdrs[0][ISDN_CAUSE].as_str(),
            cdrs[0][SIP_STATUS].as_str(),
            cdrs[0][RELEASE_SIDE].as_str()
        ),
        ("ANSWERED", "16", "200", "gateway"),
        "{cdrs:?}"
    );
    // Unknown now.
    assert!(d.ctl(&format!("hangup {id}")).starts_with("error"));
    d.assert_no_busy_channel();
}
