//! H.323 ↔ E1 media through the real daemon process (issue 7): the rig of `common` —
//! `gatewayd run` on a simulated E1 through `libdahdi_sim.so`, libpri (`pri-switch`,
//! network side) on the far end — plus an H.323 endpoint: our own `h323::call` on real
//! TCP, its RTP handled by the test's `RtpPeer` (symmetric: it answers where the gateway's
//! packets come from). Tones both ways: the switch plays 1004 Hz and reports what it heard
//! on the B-channel; the RTP peer plays 1800 Hz and detects what it received.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddrV4, TcpListener, TcpStream};
use std::sync::{MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use common::{kv, Line, Rig, RtpPeer, Shared, SIP_TONE, SWITCH_TONE};
use h323::call::{Call, CallConfig, Channel, Event, PlaceCall};
use h323::fast_start::MediaAddresses;
use h323::h225::{Alias, Guid};
use h323::q931::ie::CauseValue;

static RIG: Shared = Shared::new();

/// The H.323 peer's call-signalling listener and the gateway's H.323 port.
fn endpoints() -> &'static (TcpListener, u16) {
    static EP: OnceLock<(TcpListener, u16)> = OnceLock::new();
    EP.get_or_init(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        (l, port)
    })
}

fn rig() -> MutexGuard<'static, Rig> {
    RIG.lock(|| {
        let (peer, h323_port) = endpoints();
        let config = format!(
            r#"
[[trunk_group]]
name = "pstn"
members = [{{ span = 1 }}]
hunting = "ascending"

[h323]
listen = "127.0.0.1:{h323_port}"

[[h323_peer]]
name = "ep"
address = "{peer}"

[[route]]
pattern = "_0X."
from = ["ep"]
to = ["pstn"]

[[route]]
pattern = "5001"
from = ["pstn"]
to = ["ep"]
"#,
            peer = peer.local_addr().unwrap(),
        );
        Rig::start("h323", Line::E1, &config)
    })
}

fn media(port: u16) -> MediaAddresses {
    MediaAddresses {
        rtp: SocketAddrV4::new([127, 0, 0, 1].into(), port),
        rtcp: SocketAddrV4::new([127, 0, 0, 1].into(), port + 1),
    }
}

/// Run one H.323 call on `stream` (H.245 tunnelled): answer it when `answer`, release it
/// `hold` after Connect. Returns its events.
fn run(mut call: Call, mut stream: TcpStream, answer: bool, hold: Duration) -> Vec<Event> {
    stream.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(25);
    let mut log: Vec<Event> = Vec::new();
    let mut seen = 0;
    let mut release_at = None;
    let mut buf = [0u8; 4096];
    let mut open = true;
    while open && Instant::now() < deadline {
        let now = Instant::now();
        loop {
            match stream.read(&mut buf) {
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
        if call.poll_timeout().is_some_and(|t| t <= now) {
            call.handle_timeout(now);
        }
        while let Some(ev) = call.poll_event() {
            log.push(ev);
        }
        for ev in &log[seen..] {
            match ev {
                Event::Setup(_) if answer => {
                    call.proceeding(now);
                    call.alerting(now);
                    call.answer(now);
                }
                Event::Connected { .. } => release_at = Some(now + hold),
                _ => {}
            }
        }
        seen = log.len();
        while let Some(ev) = call.poll_event() {
            log.push(ev);
        }
        if release_at.is_some_and(|t| t <= now) {
            release_at = None;
            call.release(now, CauseValue::NormalCallClearing);
        }
        while let Some(t) = call.poll_transmit() {
            assert_eq!(t.channel, Channel::Signalling, "H.245 is tunnelled");
            stream.set_nonblocking(false).unwrap();
            let _ = stream.write_all(&t.bytes);
            stream.set_nonblocking(true).unwrap();
        }
        if log.iter().any(|e| matches!(e, Event::Released { .. })) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    log
}

/// Milliseconds of `hz` in pri-switch's `media … heard=HZ:MS,…` report.
fn heard(media: &str, hz: f64) -> u64 {
    let key = (hz as u32).to_string();
    kv(media, "heard")
        .unwrap_or("")
        .split(',')
        .filter_map(|p| p.split_once(':'))
        .filter(|(h, _)| *h == key)
        .map(|(_, ms)| ms.parse::<u64>().unwrap_or(0))
        .sum()
}

/// The H.323 endpoint calls 0301234 (routed to the E1) with fast start and without
/// (H.245 tunnelled: the media are known only after Connect); libpri answers and plays
/// 1004 Hz; the endpoint's RTP plays 1800 Hz. Each side hears the other's tone.
#[test]
fn h323_call_answered_by_libpri_with_tones_both_ways_with_and_without_fast_start() {
    let rig = rig();
    let (_, h323_port) = endpoints();
    for (i, fast_start) in [true, false].into_iter().enumerate() {
        let mark = rig.switch.mark();
        let cdr0 = rig.cdrs().len();
        let rtp = RtpPeer::start(rig.line.law(), SIP_TONE, vec![SWITCH_TONE]);
        let mut cfg = CallConfig::new(media(rtp.port));
        cfg.fast_start = fast_start;
        let call = Call::place(
            Instant::now(),
            cfg,
            PlaceCall {
                call_ref: 20 + i as u16,
                call_id: Guid([20 + i as u8; 16]),
                conference_id: Guid([40 + i as u8; 16]),
                source_aliases: vec![Alias::Dialled("2001".into())],
                destination_aliases: vec![Alias::Dialled("0301234".into())],
                calling_number: Some("2001".into()),
                called_number: Some("0301234".into()),
                display: None,
                source_signal_address: None,
                dest_signal_address: None,
            },
        );
        let stream = TcpStream::connect(("127.0.0.1", *h323_port)).unwrap();
        let log = run(call, stream, false, Duration::from_millis(2500));
        let rep = rtp.stop();
        assert!(
            log.iter().any(|e| matches!(e, Event::Connected { .. })),
            "fast_start {fast_start}: {log:?}"
        );
        let ring = rig
            .switch
            .wait(mark, Duration::from_secs(5), |l| l.starts_with("ring "));
        assert_eq!(kv(&ring, "called"), Some("0301234"));
        let id = kv(&ring, "id").unwrap().to_string();
        let disc = rig.switch.wait(mark, Duration::from_secs(5), |l| {
            l.starts_with("disconnect ") && kv(l, "id") == Some(&id)
        });
        assert_eq!(
            kv(&disc, "cause"),
            Some("16"),
            "Release Complete 16 → DISCONNECT 16"
        );
        let m = rig.switch.wait(mark, Duration::from_secs(5), |l| {
            l.starts_with("media ") && kv(l, "id") == Some(&id)
        });
        eprintln!("fast_start {fast_start}: pri-switch {m}; RTP peer {rep:?}");
        assert!(
            heard(&m, SIP_TONE) >= 1000,
            "fast_start {fast_start}: libpri's side heard the H.323 tone: {m}"
        );
        assert!(
            rep.heard_ms(SWITCH_TONE) >= 1000,
            "fast_start {fast_start}: the H.323 side heard libpri's tone: {rep:?}"
        );
        rig.assert_clean(cdr0, 1);
    }
}

/// libpri calls 5001, routed to the H.323 endpoint, which answers (fast start): tones
/// both ways; the endpoint hangs up after 2.5 s.
#[test]
fn pstn_call_from_libpri_to_an_h323_endpoint_with_tones_both_ways() {
    let mut rig = rig();
    let (listener, _) = endpoints();
    let mark = rig.switch.mark();
    let cdr0 = rig.cdrs().len();
    let rtp = RtpPeer::start(rig.line.law(), SIP_TONE, vec![SWITCH_TONE]);
    let port = rtp.port;
    let listener = listener.try_clone().unwrap();
    let peer = std::thread::spawn(move || {
        listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let stream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "no H.323 call from gatewayd");
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("{e}"),
            }
        };
        run(
            Call::incoming(CallConfig::new(media(port))),
            stream,
            true,
            Duration::from_millis(2500),
        )
    });
    let far = rig.far_span;
    rig.switch.send(&format!("call {far} 5001"));
    let log = peer.join().unwrap();
    let rep = rtp.stop();
    let Some(Event::Setup(setup)) = log.first() else {
        panic!("{log:?}")
    };
    assert_eq!(setup.called_number.as_deref(), Some("5001"));
    let placed = rig
        .switch
        .wait(mark, Duration::from_secs(5), |l| l.starts_with("placed "));
    let id = kv(&placed, "id").unwrap().to_string();
    let m = rig.switch.wait(mark, Duration::from_secs(5), |l| {
        l.starts_with("media ") && kv(l, "id") == Some(&id)
    });
    eprintln!("pri-switch {m}; RTP peer {rep:?}");
    assert!(
        heard(&m, SIP_TONE) >= 1000,
        "libpri heard the H.323 tone: {m}"
    );
    assert!(
        rep.heard_ms(SWITCH_TONE) >= 1000,
        "the H.323 side heard libpri's tone: {rep:?}"
    );
    rig.assert_clean(cdr0, 1);
}
