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

use common::{
    assert_early_media_then_answer, assert_q931_in_order, heard_ms, kv, Line, Rig, RtpPeer, Shared,
    DISPOSITION, EARLY_TONE, ISDN_CAUSE, REFUSED_AFTER_CALL_PROCEEDING, SIP_TONE, SWITCH_TONE,
};
use h323::call::{Call, CallConfig, Channel, DigitRoute, DtmfMode, Event, PlaceCall};
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
fn run(call: Call, stream: TcpStream, answer: bool, hold: Duration) -> Vec<Event> {
    let mut release_at = None;
    drive(call, stream, |call, now, ev| {
        match ev {
            Some(Event::Setup(_)) if answer => {
                call.proceeding(now);
                call.alerting(now);
                call.answer(now);
            }
            Some(Event::Connected { .. }) => release_at = Some(now + hold),
            _ => {}
        }
        if release_at.is_some_and(|t| t <= now) {
            release_at = None;
            call.release(now, CauseValue::NormalCallClearing);
        }
    })
    .into_iter()
    .map(|(_, e)| e)
    .collect()
}

/// Drive one H.323 call on `stream` (H.245 tunnelled) until it is released (25 s at
/// most): `step` sees each event as it comes (`Some`) and is called once per turn of
/// the loop (`None`, every 5 ms) to act on the call. Returns the events with the time
/// each arrived.
fn drive(
    mut call: Call,
    mut stream: TcpStream,
    mut step: impl FnMut(&mut Call, Instant, Option<&Event>),
) -> Vec<(Instant, Event)> {
    stream.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(25);
    let mut log: Vec<(Instant, Event)> = Vec::new();
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
        // Events may come from what `step` does too: go on until none is left.
        while let Some(ev) = call.poll_event() {
            step(&mut call, now, Some(&ev));
            log.push((now, ev));
        }
        step(&mut call, now, None);
        while let Some(ev) = call.poll_event() {
            step(&mut call, now, Some(&ev));
            log.push((now, ev));
        }
        while let Some(t) = call.poll_transmit() {
            assert_eq!(t.channel, Channel::Signalling, "H.245 is tunnelled");
            stream.set_nonblocking(false).unwrap();
            let _ = stream.write_all(&t.bytes);
            stream.set_nonblocking(true).unwrap();
        }
        if log.iter().any(|(_, e)| matches!(e, Event::Released { .. })) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    log
}

/// The digits the H.323 endpoint received (UserInputIndication), in order.
fn digits_of(log: &[(Instant, Event)]) -> String {
    log.iter()
        .filter_map(|(_, e)| match e {
            Event::Digits(d) => Some(d.as_str()),
            _ => None,
        })
        .collect()
}

/// The release of the H.323 call: (Q.850 cause, whether the peer released).
fn released(log: &[(Instant, Event)]) -> (u8, bool) {
    log.iter()
        .find_map(|(_, e)| match e {
            Event::Released { cause, by_peer, .. } => Some((cause.value(), *by_peer)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("the H.323 call was not released: {log:?}"))
}

/// When the H.323 endpoint saw the first event `pred` holds for.
fn when(log: &[(Instant, Event)], pred: impl Fn(&Event) -> bool) -> Option<Instant> {
    log.iter().find(|(_, e)| pred(e)).map(|(t, _)| *t)
}

/// Accept the gateway's H.323 call on the peer's listener (20 s at most).
fn accept() -> TcpStream {
    let (listener, _) = endpoints();
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match listener.accept() {
            Ok((s, _)) => return s,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "no H.323 call from gatewayd");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// The H.323 endpoint's call to `called` (fast start as `fast_start`, RTP at `rtp_port`).
fn place(called: &str, rtp_port: u16, fast_start: bool, dtmf: DtmfMode, n: u8) -> Call {
    let mut cfg = CallConfig::new(media(rtp_port));
    cfg.fast_start = fast_start;
    cfg.dtmf = dtmf;
    Call::place(
        Instant::now(),
        cfg,
        PlaceCall {
            call_ref: 100 + u16::from(n),
            call_id: Guid([n; 16]),
            conference_id: Guid([n.wrapping_add(100); 16]),
            source_aliases: vec![Alias::Dialled("2001".into())],
            destination_aliases: vec![Alias::Dialled(called.into())],
            calling_number: Some("2001".into()),
            called_number: Some(called.into()),
            display: None,
            source_signal_address: None,
            dest_signal_address: None,
        },
    )
}

fn connect_gateway() -> TcpStream {
    let (_, h323_port) = endpoints();
    TcpStream::connect(("127.0.0.1", *h323_port)).unwrap()
}

/// Milliseconds of `hz` in pri-switch's `media … heard=HZ:MS,…` report (after answer).
fn heard(media: &str, hz: f64) -> u64 {
    heard_ms(media, "heard", hz)
}

/// The id pri-switch gave the call it reported with a line starting `word ` since `mark`,
/// if any yet.
fn switch_id(rig: &Rig, mark: usize, word: &str) -> Option<String> {
    rig.switch
        .since(mark)
        .iter()
        .find(|l| l.starts_with(word))
        .and_then(|l| kv(l, "id").map(str::to_string))
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
            .wait(mark, Duration::from_secs(15), |l| l.starts_with("ring "));
        assert_eq!(kv(&ring, "called"), Some("0301234"));
        let id = kv(&ring, "id").unwrap().to_string();
        let disc = rig.switch.disconnect_of(mark, &id);
        assert_eq!(
            kv(&disc, "cause"),
            Some("16"),
            "Release Complete 16 → DISCONNECT 16"
        );
        let m = rig.switch.media_of(mark, &id);
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
/// both ways; DTMF both ways (the endpoint keys 2580 as UserInputIndication, which the
/// switch must hear in band; the switch keys 1470* in band, which the endpoint must get
/// as UserInputIndication); the endpoint hangs up after 3.5 s.
#[test]
fn pstn_call_from_libpri_to_an_h323_endpoint_with_tones_and_dtmf_both_ways() {
    let mut rig = rig();
    let mark = rig.switch.mark();
    let cdr0 = rig.cdrs().len();
    let rtp = RtpPeer::start(rig.line.law(), SIP_TONE, vec![SWITCH_TONE]);
    let port = rtp.port;
    let peer = std::thread::spawn(move || {
        let (mut connected, mut route) = (None, None);
        let mut cfg = CallConfig::new(media(port));
        cfg.dtmf = DtmfMode::UserInput;
        let log = drive(Call::incoming(cfg), accept(), |call, now, ev| {
            match ev {
                Some(Event::Setup(_)) => {
                    call.proceeding(now);
                    call.alerting(now);
                    call.answer(now);
                }
                Some(Event::Connected { .. }) => connected = Some(now),
                _ => {}
            }
            let Some(t0) = connected else { return };
            if route.is_none() && now >= t0 + Duration::from_millis(500) {
                route = Some(call.send_digits(now, "2580"));
            }
            if now >= t0 + Duration::from_millis(3500) {
                call.release(now, CauseValue::NormalCallClearing);
            }
        });
        (log, route)
    });
    let (id, _) = rig.switch_calls(mark, "5001");
    // Once the gateway has the CONNECT and has bridged the media.
    std::thread::sleep(Duration::from_millis(500));
    rig.switch.send(&format!("dtmf {id} 1470*"));
    let (log, route) = peer.join().unwrap();
    let rep = rtp.stop();
    let Some((_, Event::Setup(setup))) = log.first() else {
        panic!("{log:?}")
    };
    assert_eq!(setup.called_number.as_deref(), Some("5001"));
    let m = rig.switch.media_of(mark, &id);
    eprintln!("pri-switch {m}; RTP peer {rep:?}");
    assert!(
        heard(&m, SIP_TONE) >= 1000,
        "libpri heard the H.323 tone: {m}"
    );
    assert!(
        rep.heard_ms(SWITCH_TONE) >= 1000,
        "the H.323 side heard libpri's tone: {rep:?}"
    );
    assert_eq!(route, Some(DigitRoute::UserInput));
    assert_eq!(rep.payload_types, vec![8], "{rep:?}");
    assert_eq!(
        kv(&m, "digits"),
        Some("2580"),
        "the switch heard the endpoint's digits in band: {m}"
    );
    assert_eq!(
        digits_of(&log),
        "1470*",
        "the endpoint got the switch's digits: {log:?}"
    );
    assert_eq!(released(&log), (16, false));
    rig.assert_clean(cdr0, 1);
}

/// DTMF between the H.323 endpoint's H.245 UserInputIndication and in-band Q.23 tones
/// on the E1, both ways, on one call with fast start (the endpoint keys `alphanumeric`)
/// and one without (H.245 tunnelled only; the endpoint keys one `signal` per digit).
/// The gateway plays the endpoint's digits on the B-channel, where pri-switch's own
/// Goertzel receiver (not the gateway's spandsp) must hear exactly them; the switch keys
/// digits in band, which the gateway must detect and send as UserInputIndication.
#[test]
fn dtmf_h323_user_input_to_inband_on_the_e1_and_back() {
    let mut rig = rig();
    let cases = [
        (1u8, true, DtmfMode::UserInput, "1234", "5678#"),
        (2, false, DtmfMode::Signal, "*09#", "ABCD"),
    ];
    for (n, fast_start, mode, to_pstn, from_pstn) in cases {
        let mark = rig.switch.mark();
        let cdr0 = rig.cdrs().len();
        let rtp = RtpPeer::start(rig.line.law(), SIP_TONE, vec![SWITCH_TONE]);
        let call = place("0301234", rtp.port, fast_start, mode, n);
        let (mut connected, mut route, mut played) = (None, None, false);
        let mut answered = None;
        let log = drive(call, connect_gateway(), |call, now, ev| {
            if let Some(Event::Connected { .. }) = ev {
                connected = Some(now);
            }
            let Some(t0) = connected else { return };
            if route.is_none() && now >= t0 + Duration::from_millis(500) {
                route = Some(call.send_digits(now, to_pstn));
            }
            if answered.is_none() {
                answered = switch_id(&rig, mark, "answer ").map(|id| (id, now));
            }
            // Once the gateway has the CONNECT and has bridged the media.
            if let Some((id, t)) = answered.as_ref().filter(|_| !played) {
                if now >= *t + Duration::from_millis(500) {
                    rig.switch.send(&format!("dtmf {id} {from_pstn}"));
                    played = true;
                }
            }
            if now >= t0 + Duration::from_millis(3000) {
                call.release(now, CauseValue::NormalCallClearing);
            }
        });
        let rep = rtp.stop();
        assert_eq!(route, Some(DigitRoute::UserInput), "case {n}: {log:?}");
        let id = switch_id(&rig, mark, "ring ").expect("ring");
        let m = rig.switch.media_of(mark, &id);
        let keys = rig.switch.keys_heard(mark);
        eprintln!(
            "case {n}: pri-switch {m}\n{}\nRTP peer {rep:?}",
            keys.join("\n")
        );
        assert_eq!(
            kv(&m, "digits"),
            Some(to_pstn),
            "case {n}: the switch heard the H.323 UserInputIndication digits in band: {m}"
        );
        assert_eq!(
            digits_of(&log),
            from_pstn,
            "case {n}: the H.323 endpoint got the switch's in-band digits: {log:?}"
        );
        assert!(heard(&m, SIP_TONE) >= 1000, "case {n}: audio went on: {m}");
        // The digits went as UserInputIndication only: no RFC 2833 event in the RTP
        // (the endpoint announces receiveRTPAudioTelephonyEventCapability in its TCS).
        assert_eq!(rep.payload_types, vec![8], "case {n}: {rep:?}");
        assert_eq!(released(&log), (16, false));
        rig.assert_clean(cdr0, 1);
    }
}

/// libpri's early media reach the H.323 caller before Connect: the switch answers
/// `…0555…` with PROGRESS and `…0444…` with ALERTING, both with progress indicator 8,
/// plays 425 Hz for 2 s, then CONNECT and its 1004 Hz. The endpoint (fast start) gets
/// Progress or Alerting ≥ 1.5 s before Connect and hears the 425 Hz (which the switch
/// plays only before CONNECT) for ≥ 1 s, then the 1004 Hz.
#[test]
fn early_media_from_libpri_reach_the_h323_caller_before_connect() {
    let rig = rig();
    for (n, called, progress) in [(3u8, "0305551", true), (4, "0304441", false)] {
        let mark = rig.switch.mark();
        let cdr0 = rig.cdrs().len();
        let rtp = RtpPeer::start(rig.line.law(), SIP_TONE, vec![EARLY_TONE, SWITCH_TONE]);
        let call = place(called, rtp.port, true, DtmfMode::UserInput, n);
        let log: Vec<(Instant, Event)> = {
            let mut release_at = None;
            drive(call, connect_gateway(), |call, now, ev| {
                if let Some(Event::Connected { .. }) = ev {
                    release_at = Some(now + Duration::from_millis(1500));
                }
                if release_at.is_some_and(|t| t <= now) {
                    call.release(now, CauseValue::NormalCallClearing);
                }
            })
        };
        let rep = rtp.stop();
        let early = when(&log, |e| {
            if progress {
                matches!(e, Event::Progress)
            } else {
                matches!(e, Event::Alerting)
            }
        });
        let conn = when(&log, |e| matches!(e, Event::Connected { .. }));
        let (Some(early), Some(conn)) = (early, conn) else {
            panic!(
                "{called}: no {} then Connect: {log:?}",
                if progress { "Progress" } else { "Alerting" }
            )
        };
        let id = switch_id(&rig, mark, "ring ").expect("ring");
        let m = rig.switch.media_of(mark, &id);
        eprintln!(
            "{called}: Connect {:?} after the early message; RTP peer {rep:?}; pri-switch {m}",
            conn - early
        );
        assert!(
            conn - early >= Duration::from_millis(1500),
            "{called}: {log:?}"
        );
        // The H.323 caller heard libpri's early tone before Connect.
        assert_early_media_then_answer(&rig, mark, &rep, progress, called);
        assert_eq!(released(&log), (16, false));
        rig.assert_clean(cdr0, 1);
    }
}

/// The H.323 callee's early media reach libpri before CONNECT: libpri calls 5001, the
/// endpoint answers the fast start in Progress, plays its 1800 Hz, and sends Connect
/// only 2 s later. pri-switch's B-channel is open from its SETUP on and reports what it
/// heard before CONNECT apart (`early=`): ≥ 1 s of the endpoint's tone; libpri received
/// PROGRESS (in-band information) before CONNECT. (An H.323 Alerting carrying the fast
/// start answer is passed on as ALERTING without in-band information, and nothing is
/// bridged before Connect: see the README.)
#[test]
fn early_media_from_the_h323_callee_reach_libpri_before_connect() {
    let mut rig = rig();
    let mark = rig.switch.mark();
    let cdr0 = rig.cdrs().len();
    let rtp = RtpPeer::start(rig.line.law(), SIP_TONE, vec![SWITCH_TONE]);
    let port = rtp.port;
    let peer = std::thread::spawn(move || {
        let (mut answer_at, mut release_at) = (None, None);
        drive(
            Call::incoming(CallConfig::new(media(port))),
            accept(),
            |call, now, ev| {
                if let Some(Event::Setup(_)) = ev {
                    call.proceeding(now);
                    call.progress(now);
                    answer_at = Some(now + Duration::from_secs(2));
                }
                if answer_at.is_some_and(|t| t <= now) {
                    answer_at = None;
                    call.answer(now);
                    release_at = Some(now + Duration::from_millis(1000));
                }
                if release_at.is_some_and(|t| t <= now) {
                    call.release(now, CauseValue::NormalCallClearing);
                }
            },
        )
    });
    let far = rig.far_span;
    rig.switch.send(&format!("call {far} 5001"));
    let log = peer.join().unwrap();
    let rep = rtp.stop();
    let id = switch_id(&rig, mark, "placed ").expect("placed");
    let m = rig.switch.media_of(mark, &id);
    eprintln!("pri-switch {m}; RTP peer {rep:?}");
    assert!(
        heard_ms(&m, "early", SIP_TONE) >= 1000,
        "libpri heard the H.323 callee's tone before CONNECT: {m}"
    );
    assert!(heard(&m, SIP_TONE) >= 500, "and after: {m}");
    assert_q931_in_order(&rig, mark, &["tx SETUP", "rx PROGRESS", "rx CONNECT"]);
    assert_eq!(released(&log), (16, false));
    rig.assert_clean(cdr0, 1);
}

/// libpri clears the H.323 endpoint's call while it is alerting (DISCONNECT with cause
/// 17 user busy, then 34 no circuit): the endpoint gets Release Complete with that
/// cause; libpri's DISCONNECT is answered RELEASE / RELEASE COMPLETE; the CDR has the
/// cause; no B-channel stays busy.
#[test]
fn libpri_disconnect_while_alerting_reaches_the_h323_caller_with_its_cause() {
    let mut rig = rig();
    for (n, cause) in [(7u8, 17u8), (8, 34)] {
        let mark = rig.switch.mark();
        let cdr0 = rig.cdrs().len();
        let call = place(
            "0308881",
            40000 + u16::from(n) * 2,
            true,
            DtmfMode::UserInput,
            n,
        );
        let (mut alerting, mut sent) = (false, false);
        let log = drive(call, connect_gateway(), |_, _, ev| {
            if let Some(Event::Alerting) = ev {
                alerting = true;
            }
            if alerting && !sent {
                if let Some(id) = switch_id(&rig, mark, "ring ") {
                    rig.switch.send(&format!("hangup {id} {cause}"));
                    sent = true;
                }
            }
        });
        assert!(
            when(&log, |e| matches!(e, Event::Alerting)).is_some(),
            "{log:?}"
        );
        assert_eq!(
            released(&log),
            (cause, true),
            "DISCONNECT {cause} → Release Complete {cause}: {log:?}"
        );
        assert_q931_in_order(
            &rig,
            mark,
            &[
                "tx ALERTING",
                "tx DISCONNECT",
                "rx RELEASE",
                "tx RELEASE_COMPLETE",
            ],
        );
        let cdrs = rig.assert_clean(cdr0, 1);
        eprintln!("cause {cause}: CDR {:?}", cdrs[0]);
        assert_eq!(cdrs[0][ISDN_CAUSE], cause.to_string(), "{:?}", cdrs[0]);
    }
}

/// The H.323 caller gives up while libpri alerts (Release Complete with cause 16, then
/// 31 normal unspecified): libpri gets DISCONNECT with that cause, then RELEASE /
/// RELEASE COMPLETE; CDR and channels clean.
#[test]
fn h323_release_complete_while_alerting_reaches_libpri_as_disconnect_with_its_cause() {
    let rig = rig();
    for (n, cause) in [(9u8, 16u8), (10, 31)] {
        let mark = rig.switch.mark();
        let cdr0 = rig.cdrs().len();
        let call = place(
            "0308882",
            40100 + u16::from(n) * 2,
            true,
            DtmfMode::UserInput,
            n,
        );
        let mut release_at = None;
        let log = drive(call, connect_gateway(), |call, now, ev| {
            if let Some(Event::Alerting) = ev {
                release_at = Some(now + Duration::from_millis(300));
            }
            if release_at.is_some_and(|t| t <= now) {
                call.release(now, CauseValue::from_u8(cause));
            }
        });
        assert_eq!(released(&log), (cause, false), "{log:?}");
        let disc = rig.switch.wait(mark, Duration::from_secs(15), |l| {
            l.starts_with("disconnect ")
        });
        assert_eq!(
            kv(&disc, "cause"),
            Some(cause.to_string().as_str()),
            "Release Complete {cause} → DISCONNECT {cause}"
        );
        assert_q931_in_order(
            &rig,
            mark,
            &[
                "tx ALERTING",
                "rx DISCONNECT",
                "tx RELEASE",
                "rx RELEASE_COMPLETE",
            ],
        );
        let seen = common::q931_after(&rig, mark);
        assert!(!seen.iter().any(|m| m == "tx CONNECT"), "{seen:?}");
        let cdrs = rig.assert_clean(cdr0, 1);
        eprintln!("cause {cause}: CDR {:?}", cdrs[0]);
        assert_eq!(cdrs[0][ISDN_CAUSE], cause.to_string(), "{:?}", cdrs[0]);
    }
}

/// After answer, each side clears: the H.323 endpoint with Release Complete cause 31
/// (libpri gets DISCONNECT 31), then libpri with DISCONNECT cause 16 (the endpoint gets
/// Release Complete 16). Causes on both sides, CDRs ANSWERED with the cause, nothing
/// busy.
#[test]
fn after_answer_either_side_clears_and_the_other_gets_the_cause() {
    let mut rig = rig();
    // The H.323 endpoint clears.
    let mark = rig.switch.mark();
    let cdr0 = rig.cdrs().len();
    let call = place("0301234", 40200, true, DtmfMode::UserInput, 11);
    let mut release_at = None;
    let log = drive(call, connect_gateway(), |call, now, ev| {
        if let Some(Event::Connected { .. }) = ev {
            release_at = Some(now + Duration::from_millis(500));
        }
        if release_at.is_some_and(|t| t <= now) {
            call.release(now, CauseValue::from_u8(31));
        }
    });
    assert_eq!(released(&log), (31, false), "{log:?}");
    let disc = rig.switch.wait(mark, Duration::from_secs(15), |l| {
        l.starts_with("disconnect ")
    });
    assert_eq!(kv(&disc, "cause"), Some("31"));
    assert_q931_in_order(
        &rig,
        mark,
        &[
            "tx CONNECT",
            "rx DISCONNECT",
            "tx RELEASE",
            "rx RELEASE_COMPLETE",
        ],
    );
    let cdrs = rig.assert_clean(cdr0, 1);
    assert_eq!(cdrs[0][ISDN_CAUSE], "31", "{:?}", cdrs[0]);
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{:?}", cdrs[0]);

    // libpri clears.
    let mark = rig.switch.mark();
    let cdr0 = rig.cdrs().len();
    let call = place("0301234", 40202, true, DtmfMode::UserInput, 12);
    let (mut connected_at, mut sent) = (None, false);
    let log = drive(call, connect_gateway(), |_, now, ev| {
        if let Some(Event::Connected { .. }) = ev {
            connected_at = Some(now);
        }
        if !sent && connected_at.is_some_and(|t| now >= t + Duration::from_millis(500)) {
            if let Some(id) = switch_id(&rig, mark, "answer ") {
                rig.switch.send(&format!("hangup {id} 16"));
                sent = true;
            }
        }
    });
    assert_eq!(released(&log), (16, true), "{log:?}");
    assert_q931_in_order(
        &rig,
        mark,
        &[
            "tx CONNECT",
            "tx DISCONNECT",
            "rx RELEASE",
            "tx RELEASE_COMPLETE",
        ],
    );
    let cdrs = rig.assert_clean(cdr0, 1);
    assert_eq!(cdrs[0][ISDN_CAUSE], "16", "{:?}", cdrs[0]);
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{:?}", cdrs[0]);
}

/// libpri refuses the H.323 endpoint's call after CALL PROCEEDING (`…0999CC`: cause 17
/// user busy, then 1 unallocated number): the endpoint gets Release Complete with that
/// cause, never Alerting; CDR with the cause; nothing busy.
#[test]
fn libpri_refusal_after_call_proceeding_reaches_the_h323_caller_with_its_cause() {
    let rig = rig();
    for (n, called, cause) in [(13u8, "03099917", 17u8), (14, "03099901", 1)] {
        let mark = rig.switch.mark();
        let cdr0 = rig.cdrs().len();
        let call = place(
            called,
            40300 + u16::from(n) * 2,
            true,
            DtmfMode::UserInput,
            n,
        );
        let log = drive(call, connect_gateway(), |_, _, _| {});
        assert_eq!(released(&log), (cause, true), "{called}: {log:?}");
        assert!(
            when(&log, |e| matches!(
                e,
                Event::Alerting | Event::Connected { .. }
            ))
            .is_none(),
            "{called}: {log:?}"
        );
        assert_q931_in_order(&rig, mark, &REFUSED_AFTER_CALL_PROCEEDING);
        let cdrs = rig.assert_clean(cdr0, 1);
        eprintln!("{called}: CDR {:?}", cdrs[0]);
        assert_eq!(cdrs[0][ISDN_CAUSE], cause.to_string(), "{:?}", cdrs[0]);
    }
}

/// PSTN → H.323 clearing before answer: the H.323 endpoint refuses libpri's call with
/// Release Complete cause 17 (libpri gets DISCONNECT 17); then it alerts a second call
/// and libpri abandons it 500 ms later with DISCONNECT 16 (the endpoint gets Release
/// Complete 16 from the gateway). CDRs with the causes; nothing busy.
#[test]
fn pstn_to_h323_clearing_before_answer_carries_the_cause_both_ways() {
    let mut rig = rig();
    let far = rig.far_span;
    // The endpoint is busy.
    let mark = rig.switch.mark();
    let cdr0 = rig.cdrs().len();
    let peer = std::thread::spawn(move || {
        drive(
            Call::incoming(CallConfig::new(media(40400))),
            accept(),
            |call, now, ev| {
                if let Some(Event::Setup(_)) = ev {
                    call.release(now, CauseValue::from_u8(17));
                }
            },
        )
    });
    rig.switch.send(&format!("call {far} 5001"));
    let log = peer.join().unwrap();
    assert_eq!(released(&log), (17, false), "{log:?}");
    let disc = rig.switch.wait(mark, Duration::from_secs(15), |l| {
        l.starts_with("disconnect ")
    });
    assert_eq!(
        kv(&disc, "cause"),
        Some("17"),
        "Release Complete 17 → DISCONNECT 17"
    );
    assert_q931_in_order(&rig, mark, &["tx SETUP", "rx DISCONNECT", "tx RELEASE"]);
    let cdrs = rig.assert_clean(cdr0, 1);
    eprintln!("busy: CDR {:?}", cdrs[0]);
    assert_eq!(cdrs[0][ISDN_CAUSE], "17", "{:?}", cdrs[0]);

    // The caller abandons while the endpoint alerts.
    let mark = rig.switch.mark();
    let cdr0 = rig.cdrs().len();
    let peer = std::thread::spawn(move || {
        drive(
            Call::incoming(CallConfig::new(media(40402))),
            accept(),
            |call, now, ev| {
                if let Some(Event::Setup(_)) = ev {
                    call.proceeding(now);
                    call.alerting(now);
                }
            },
        )
    });
    rig.switch.send(&format!("call {far} 5001"));
    let placed = rig
        .switch
        .wait(mark, Duration::from_secs(15), |l| l.starts_with("placed "));
    let id = kv(&placed, "id").unwrap().to_string();
    rig.switch
        .wait(mark, Duration::from_secs(15), |l| l.starts_with("ringing "));
    std::thread::sleep(Duration::from_millis(500));
    rig.switch.send(&format!("hangup {id} 16"));
    let log = peer.join().unwrap();
    assert!(
        when(&log, |e| matches!(e, Event::Connected { .. })).is_none(),
        "{log:?}"
    );
    assert_eq!(
        released(&log),
        (16, true),
        "DISCONNECT 16 → Release Complete 16: {log:?}"
    );
    assert_q931_in_order(
        &rig,
        mark,
        &[
            "tx SETUP",
            "rx ALERTING",
            "tx DISCONNECT",
            "rx RELEASE",
            "tx RELEASE_COMPLETE",
        ],
    );
    let cdrs = rig.assert_clean(cdr0, 1);
    eprintln!("abandoned: CDR {:?}", cdrs[0]);
    assert_eq!(cdrs[0][ISDN_CAUSE], "16", "{:?}", cdrs[0]);
}
