//! Two of our call endpoints over real TCP sockets on loopback: a call with fast start
//! (H.245 tunnelled), and calls without fast start whose H.245 runs on its own TCP
//! connection (the caller listening and announcing `h245Address` in Setup, or the callee
//! in Connect): TerminalCapabilitySet, MasterSlaveDetermination, OpenLogicalChannel both
//! ways, a UserInputIndication digit each way, then CloseLogicalChannel, EndSessionCommand
//! and Release Complete. Every H.245 message sent on the separate connection goes into a
//! pcap that tshark decodes without a malformed-packet or expert warning, each with the
//! message type we meant.
//!
//! The I/O shell here is the thin loop the STYLE guide describes: read → handle → poll →
//! write, non-blocking std sockets, one thread driving both ends.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddrV4, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::support::pcap::PcapWriter;
use h323::call::{Call, CallConfig, Channel, DigitRoute, DtmfMode, Event, PlaceCall};
use h323::fast_start::{MediaAddresses, G711};
use h323::h225::{Alias, Guid};
use h323::q931::ie::CauseValue;

fn media(port: u16) -> MediaAddresses {
    MediaAddresses {
        rtp: SocketAddrV4::new([127, 0, 0, 1].into(), port),
        rtcp: SocketAddrV4::new([127, 0, 0, 1].into(), port + 1),
    }
}

fn v4(a: std::net::SocketAddr) -> SocketAddrV4 {
    match a {
        std::net::SocketAddr::V4(a) => a,
        other => panic!("not IPv4: {other}"),
    }
}

/// Orders the H.245 writes of both sides for the pcap.
static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// One endpoint: its call, its sockets, what happened.
struct Side {
    name: &'static str,
    call: Call,
    sig: TcpStream,
    h245: Option<TcpStream>,
    h245_listener: Option<TcpListener>,
    /// The H.245 connection: (we connected = client side, local, peer).
    h245_conn: Option<(bool, SocketAddrV4, SocketAddrV4)>,
    events: Vec<Event>,
    /// Every TPKT packet we wrote on the H.245 connection, with its global write order.
    h245_sent: Vec<(u64, Vec<u8>)>,
    /// The same for the call-signalling connection.
    sig_sent: Vec<(u64, Vec<u8>)>,
    closed: bool,
}

fn write_all(s: &mut TcpStream, mut b: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !b.is_empty() {
        match s.write(b) {
            Ok(n) => b = &b[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "write stalled");
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("write: {e}"),
        }
    }
}

/// Non-blocking read: Some(bytes), Some(empty) on EOF, None if nothing.
fn read_some(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = [0u8; 4096];
    match s.read(&mut buf) {
        Ok(n) => Some(buf[..n].to_vec()),
        Err(e) if e.kind() == ErrorKind::WouldBlock => None,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => Some(Vec::new()),
        Err(e) => panic!("read: {e}"),
    }
}

impl Side {
    fn new(name: &'static str, call: Call, sig: TcpStream, listener: Option<TcpListener>) -> Self {
        sig.set_nonblocking(true).unwrap();
        sig.set_nodelay(true).unwrap();
        Self {
            name,
            call,
            sig,
            h245: None,
            h245_listener: listener,
            h245_conn: None,
            events: Vec::new(),
            h245_sent: Vec::new(),
            sig_sent: Vec::new(),
            closed: false,
        }
    }

    fn attach_h245(&mut self, s: TcpStream, client: bool) {
        s.set_nonblocking(true).unwrap();
        s.set_nodelay(true).unwrap();
        self.h245_conn = Some((
            client,
            v4(s.local_addr().unwrap()),
            v4(s.peer_addr().unwrap()),
        ));
        self.h245 = Some(s);
        self.call.h245_connected(Instant::now());
    }

    /// One turn of the I/O loop; true if anything happened.
    fn step(&mut self) -> bool {
        let mut busy = false;
        let now = Instant::now();
        if !self.closed {
            if let Some(b) = read_some(&mut self.sig) {
                busy = true;
                if b.is_empty() {
                    self.closed = true;
                    self.call.signalling_closed(now);
                } else {
                    self.call.handle_signalling_bytes(now, &b);
                }
            }
        }
        if let Some(l) = &self.h245_listener {
            l.set_nonblocking(true).unwrap();
            if let Ok((s, _)) = l.accept() {
                busy = true;
                self.h245_listener = None;
                self.attach_h245(s, false);
            }
        }
        if let Some(s) = &mut self.h245 {
            if let Some(b) = read_some(s) {
                busy = true;
                if b.is_empty() {
                    self.h245 = None;
                    self.call.h245_closed(now);
                } else {
                    self.call.handle_h245_bytes(now, &b);
                }
            }
        }
        if self.call.poll_timeout().is_some_and(|t| t <= now) {
            self.call.handle_timeout(now);
        }
        while let Some(e) = self.call.poll_event() {
            busy = true;
            if let Event::H245Connect(addr) = e {
                let s = TcpStream::connect(addr).expect("connect to the peer's h245Address");
                self.attach_h245(s, true);
            }
            self.events.push(e);
        }
        while let Some(t) = self.call.poll_transmit() {
            busy = true;
            match t.channel {
                Channel::Signalling => {
                    write_all(&mut self.sig, &t.bytes);
                    let order = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    self.sig_sent.push((order, t.bytes));
                }
                Channel::H245 => {
                    let s = self.h245.as_mut().expect("H.245 connection");
                    write_all(s, &t.bytes);
                    let order = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    self.h245_sent.push((order, t.bytes));
                }
            }
        }
        busy
    }

    fn has(&self, f: impl Fn(&Event) -> bool) -> bool {
        self.events.iter().any(f)
    }

    fn released(&self) -> Option<CauseValue> {
        self.events.iter().find_map(|e| match e {
            Event::Released { cause, .. } => Some(*cause),
            _ => None,
        })
    }
}

/// Runs both ends until `done` holds (20 s at most: CI machines can be loaded; a
/// healthy run takes milliseconds).
fn drive(a: &mut Side, b: &mut Side, what: &str, done: impl Fn(&Side, &Side) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let busy = a.step() | b.step();
        if done(a, b) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: timed out\n{}: {:?}\n{}: {:?}",
            a.name,
            a.events,
            b.name,
            b.events
        );
        if !busy {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// A caller and a callee connected over loopback TCP (the callee listens like port
/// 1720; the port is ephemeral here).
fn connect(
    mut ca: CallConfig,
    mut cb: CallConfig,
    caller_listens: bool,
    callee_listens: bool,
) -> (Side, Side) {
    let sig_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let sig_addr = v4(sig_listener.local_addr().unwrap());
    let l_a = caller_listens.then(|| TcpListener::bind("127.0.0.1:0").unwrap());
    let l_b = callee_listens.then(|| TcpListener::bind("127.0.0.1:0").unwrap());
    ca.h245_listen = l_a.as_ref().map(|l| v4(l.local_addr().unwrap()));
    cb.h245_listen = l_b.as_ref().map(|l| v4(l.local_addr().unwrap()));
    let sa = TcpStream::connect(sig_addr).unwrap();
    let (sb, _) = sig_listener.accept().unwrap();
    let place = PlaceCall {
        call_ref: 0x0123,
        call_id: Guid(*b"loopback-call-id"),
        conference_id: Guid(*b"loopback-conf-id"),
        source_aliases: vec![Alias::H323Id("gw-a".into()), Alias::Dialled("1001".into())],
        destination_aliases: vec![Alias::Dialled("4930123456".into())],
        calling_number: Some("1001".into()),
        called_number: Some("4930123456".into()),
        display: Some("Gateway A".into()),
        source_signal_address: Some(v4(sa.local_addr().unwrap())),
        dest_signal_address: Some(sig_addr),
    };
    let a = Side::new("caller", Call::place(Instant::now(), ca, place), sa, l_a);
    let b = Side::new("callee", Call::incoming(cb), sb, l_b);
    (a, b)
}

fn answer(a: &mut Side, b: &mut Side) {
    drive(a, b, "Setup", |_, b| {
        b.has(|e| matches!(e, Event::Setup(_)))
    });
    let now = Instant::now();
    b.call.proceeding(now);
    b.call.alerting(now);
    drive(a, b, "Alerting", |a, _| a.has(|e| *e == Event::Alerting));
    b.call.answer(Instant::now());
    drive(a, b, "Connect", |a, _| {
        a.has(|e| matches!(e, Event::Connected { .. }))
    });
}

#[test]
fn fast_start_call_over_loopback() {
    let (mut a, mut b) = connect(
        CallConfig::new(media(5000)),
        CallConfig::new(media(6000)),
        false,
        false,
    );
    answer(&mut a, &mut b);
    let Some(Event::Setup(setup)) = b.events.first() else {
        panic!("{:?}", b.events)
    };
    assert_eq!(setup.fast_start_offer, vec![G711::ALaw, G711::MuLaw]);
    assert_eq!(
        setup.destination_aliases,
        vec![Alias::Dialled("4930123456".into())]
    );
    assert_eq!(
        setup.source_aliases,
        vec![Alias::H323Id("gw-a".into()), Alias::Dialled("1001".into())]
    );
    assert_eq!(setup.calling_number.as_deref(), Some("1001"));
    // Media from fast start, known at Connect: A-law, each side's RTP address.
    let connected = a
        .events
        .iter()
        .find_map(|e| match e {
            Event::Connected { media } => *media,
            _ => None,
        })
        .expect("Connect carries the media");
    assert_eq!(connected.codec, G711::ALaw);
    assert_eq!(connected.frames, 20);
    assert_eq!(connected.remote_rtp, media(6000).rtp);
    assert_eq!(b.call.media().unwrap().remote_rtp, media(5000).rtp);
    assert!(a.h245_conn.is_none() && b.h245_conn.is_none());
    // A digit over tunnelled H.245.
    assert_eq!(
        a.call.send_digits(Instant::now(), "7"),
        DigitRoute::UserInput
    );
    drive(&mut a, &mut b, "digit", |_, b| {
        b.has(|e| *e == Event::Digits("7".into()))
    });
    b.call
        .release(Instant::now(), CauseValue::NormalCallClearing);
    drive(&mut a, &mut b, "release", |a, b| {
        a.released().is_some() && b.released().is_some()
    });
    assert_eq!(a.released(), Some(CauseValue::NormalCallClearing));
    signalling_tshark_check(
        &a,
        &b,
        "h225-fast-start.pcap",
        &[
            ("setup", 4, &[]),
            ("callProceeding", 0, &[]),
            ("alerting", 2, &[]),
            ("connect", 0, &[]),
            ("empty", 0, &["userInput"]),
            ("releaseComplete", 0, &[]),
        ],
    );
}

/// Without fast start, H.245 tunnelled: TerminalCapabilitySet and
/// MasterSlaveDetermination ride in the Setup, the answers in the callee's responses,
/// the rest in Facility messages; RFC 2833 is negotiated (both announce payload 101).
#[test]
fn tunnelled_h245_call_over_loopback() {
    let mut ca = CallConfig::new(media(5000));
    ca.fast_start = false;
    let (mut a, mut b) = connect(ca, CallConfig::new(media(6000)), false, false);
    answer(&mut a, &mut b);
    drive(&mut a, &mut b, "H.245 channels", |a, b| {
        a.call.media().is_some() && b.call.media().is_some()
    });
    assert!(a.h245_conn.is_none() && a.call.is_tunneling());
    assert_eq!(a.call.media().unwrap().remote_rtp, media(6000).rtp);
    assert_eq!(
        a.call.send_digits(Instant::now(), "1"),
        DigitRoute::Rfc2833 { payload_type: 101 }
    );
    a.call.release(Instant::now(), CauseValue::UserBusy);
    drive(&mut a, &mut b, "release", |a, b| {
        a.released().is_some() && b.released().is_some()
    });
    assert_eq!(b.released(), Some(CauseValue::UserBusy));
    let names: Vec<String> = tunnelled_names(&a)
        .into_iter()
        .chain(tunnelled_names(&b))
        .collect();
    for n in [
        "terminalCapabilitySet",
        "terminalCapabilitySetAck",
        "masterSlaveDetermination",
        "masterSlaveDeterminationAck",
        "openLogicalChannel",
        "openLogicalChannelAck",
        "endSessionCommand",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} missing in {names:?}");
    }
    signalling_tshark_check(&a, &b, "h225-tunnelled.pcap", &[]);
}

/// The tunnelled H.245 message names of every H.225.0 message a side sent.
fn tunnelled_names(side: &Side) -> Vec<String> {
    side.sig_sent
        .iter()
        .flat_map(|(_, b)| {
            let mut d = h323::tpkt::TpktDecoder::new();
            d.handle_bytes(b);
            let p = d.poll_packet().unwrap().unwrap();
            let sig = h323::h225::CallSignal::decode(&p).unwrap();
            h323::h245_tunnel::decode_all(sig.h245_control())
                .into_iter()
                .map(|m| h323::h245_tunnel::message_name(&m.unwrap()).to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

type Expected<'a> = &'a [(&'a str, usize, &'a [&'a str])];

/// Both sides' H.225.0 messages, in write order, in a pcap on TCP port 1720 (where
/// tshark looks for Q.931/H.225.0 in TPKT): no malformed packet or expert warning, and
/// when `expected` is given, each frame's h323-message-body, fastStart count and
/// tunnelled H.245 types.
fn signalling_tshark_check(a: &Side, b: &Side, file: &str, expected: Expected) {
    if !crate::support::tshark::available() {
        eprintln!("tshark not installed: skipped (apt-get install tshark)");
        return;
    }
    let client: SocketAddrV4 = "127.0.0.1:40000".parse().unwrap();
    let server: SocketAddrV4 = "127.0.0.1:1720".parse().unwrap();
    let mut pcap = PcapWriter::new(client, server);
    let mut all: Vec<(u64, bool, &Vec<u8>)> = Vec::new();
    all.extend(a.sig_sent.iter().map(|(n, p)| (*n, true, p)));
    all.extend(b.sig_sent.iter().map(|(n, p)| (*n, false, p)));
    all.sort_by_key(|(n, ..)| *n);
    let count = all.len();
    for (_, from_caller, pkt) in all {
        pcap.data(from_caller, pkt);
    }
    let dir = std::env::temp_dir().join(format!("h323-loopback-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(file);
    std::fs::write(&path, &pcap.bytes).unwrap();
    let verbose = crate::support::tshark::run(&path, &["-V"]);
    crate::support::tshark::assert_clean(&verbose);
    let frames: Vec<String> = crate::support::tshark::frames(&verbose)
        .into_iter()
        .filter(|f| f.contains("H.225.0 CS"))
        .collect();
    assert_eq!(frames.len(), count, "one H.225.0 frame per message");
    if expected.is_empty() {
        return;
    }
    let bodies: Vec<String> = frames
        .iter()
        .map(|f| {
            f.lines()
                .map(str::trim)
                .find_map(|l| l.strip_prefix("h323-message-body: "))
                .and_then(|l| l.split(" (").next())
                .unwrap_or("?")
                .to_string()
        })
        .collect();
    let want: Vec<&str> = expected.iter().map(|(b, ..)| *b).collect();
    // Both ends may send Release Complete (H.323 §8.5 step 4); the second one may not be
    // written before the first arrives.
    assert!(bodies.len() >= want.len(), "{bodies:?}");
    assert_eq!(&bodies[..want.len()], &want[..]);
    assert!(
        bodies[want.len()..].iter().all(|b| b == "releaseComplete"),
        "{bodies:?}"
    );
    for (frame, (body, fast, h245)) in frames.iter().zip(expected) {
        let fs = frame
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("fastStart: "))
            .map(str::to_string);
        match fast {
            0 => assert_eq!(fs, None, "{body}"),
            n => assert_eq!(fs, Some(format!("fastStart: {n} items")), "{body}"),
        }
        assert_eq!(&crate::support::tshark::h245_names(frame), h245, "{body}");
    }
}

/// Call without fast start, H.245 on its own TCP connection; returns both sides for the
/// pcap check.
fn call_with_separate_h245(caller_listens: bool) -> (Side, Side) {
    let mut ca = CallConfig::new(media(5000));
    ca.fast_start = false;
    ca.h245_tunneling = false;
    ca.dtmf = DtmfMode::UserInput;
    let mut cb = CallConfig::new(media(6000));
    cb.h245_tunneling = false;
    cb.dtmf = DtmfMode::Signal;
    let (mut a, mut b) = connect(ca, cb, caller_listens, !caller_listens);
    answer(&mut a, &mut b);
    drive(&mut a, &mut b, "H.245 channels", |a, b| {
        a.call.media().is_some()
            && b.call.media().is_some()
            && a.has(|e| matches!(e, Event::IncomingMedia { .. }))
            && b.has(|e| matches!(e, Event::IncomingMedia { .. }))
    });
    // Who connected to whom.
    let (a_client, ..) = a.h245_conn.expect("caller has the H.245 connection");
    let (b_client, ..) = b.h245_conn.expect("callee has the H.245 connection");
    assert_eq!(a_client, !caller_listens);
    assert_eq!(b_client, caller_listens);
    let connector = if caller_listens { &b } else { &a };
    assert!(connector.has(|e| matches!(e, Event::H245Connect(_))));
    // Media both ways, to the addresses of the OpenLogicalChannelAcks.
    assert_eq!(a.call.media().unwrap().remote_rtp, media(6000).rtp);
    assert_eq!(a.call.media().unwrap().remote_rtcp, Some(media(6000).rtcp));
    assert_eq!(b.call.media().unwrap().remote_rtp, media(5000).rtp);
    assert!(b.has(|e| *e
        == Event::IncomingMedia {
            codec: G711::ALaw,
            frames: 20
        }));
    // A digit each way: alphanumeric from the caller, signal from the callee.
    assert_eq!(
        a.call.send_digits(Instant::now(), "4"),
        DigitRoute::UserInput
    );
    assert_eq!(
        b.call.send_digits(Instant::now(), "#"),
        DigitRoute::UserInput
    );
    drive(&mut a, &mut b, "digits", |a, b| {
        b.has(|e| *e == Event::Digits("4".into())) && a.has(|e| *e == Event::Digits("#".into()))
    });
    a.call
        .release(Instant::now(), CauseValue::NormalCallClearing);
    drive(&mut a, &mut b, "release", |a, b| {
        a.released().is_some() && b.released().is_some()
    });
    assert_eq!(a.released(), Some(CauseValue::NormalCallClearing));
    assert_eq!(b.released(), Some(CauseValue::NormalCallClearing));
    (a, b)
}

fn names_sent(side: &Side) -> Vec<&'static str> {
    side.h245_sent
        .iter()
        .flat_map(|(_, b)| h323::call::h245_names(b))
        .collect()
}

fn check_h245_sequence(a: &Side, b: &Side) {
    for side in [a, b] {
        let names = names_sent(side);
        for n in [
            "terminalCapabilitySet",
            "terminalCapabilitySetAck",
            "masterSlaveDetermination",
            "masterSlaveDeterminationAck",
            "openLogicalChannel",
            "openLogicalChannelAck",
            "userInput",
            "closeLogicalChannel",
            "closeLogicalChannelAck",
            "endSessionCommand",
        ] {
            assert!(
                names.contains(&n),
                "{}: {n} missing in {names:?}",
                side.name
            );
        }
        assert!(!names.contains(&"undecodable"));
        // One channel each way: opened once, closed once.
        let count = |n: &str| names.iter().filter(|x| **x == n).count();
        assert_eq!(count("openLogicalChannel"), 1, "{}: {names:?}", side.name);
        assert_eq!(count("closeLogicalChannel"), 1, "{}: {names:?}", side.name);
        assert_eq!(count("endSessionCommand"), 1, "{}: {names:?}", side.name);
    }
}

/// Writes both sides' H.245 packets into one TCP conversation in a pcap, in the order
/// they were written, and checks tshark's reading of each.
fn tshark_check(a: &Side, b: &Side, file: &str) {
    if !crate::support::tshark::available() {
        eprintln!("tshark not installed: skipped (apt-get install tshark)");
        return;
    }
    let (a_client, a_local, a_peer) = a.h245_conn.unwrap();
    let (client, server) = if a_client {
        (a_local, a_peer)
    } else {
        (a_peer, a_local)
    };
    let mut pcap = PcapWriter::new(client, server);
    let mut all: Vec<(u64, bool, &Vec<u8>)> = Vec::new();
    for (side, from_client) in [(a, a_client), (b, !a_client)] {
        all.extend(side.h245_sent.iter().map(|(n, p)| (*n, from_client, p)));
    }
    all.sort_by_key(|(n, ..)| *n);
    let mut expected = Vec::new();
    for (_, from_client, pkt) in all {
        pcap.data(from_client, pkt);
        expected.push(h323::call::h245_names(pkt));
    }
    let dir = std::env::temp_dir().join(format!("h323-loopback-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(file);
    std::fs::write(&path, &pcap.bytes).unwrap();
    let decode_as = format!("tcp.port=={},h245", server.port());
    let verbose = crate::support::tshark::run(&path, &["-d", &decode_as, "-V"]);
    crate::support::tshark::assert_clean(&verbose);
    let frames: Vec<String> = crate::support::tshark::frames(&verbose)
        .into_iter()
        .filter(|f| f.contains("H.245"))
        .collect();
    assert_eq!(frames.len(), expected.len(), "one H.245 frame per packet");
    for (frame, want) in frames.iter().zip(&expected) {
        assert_eq!(&crate::support::tshark::h245_names(frame), want, "{frame}");
    }
    // Fields we meant: capabilities, the channel's codec and addresses, the digits.
    assert!(verbose.contains("g711Alaw64k: 20") && verbose.contains("g711Ulaw64k: 20"));
    assert!(verbose.contains("dynamicRTPPayloadType: 101"));
    assert!(verbose.contains("audioTelephoneEvent: 0-16"));
    assert!(verbose.contains("terminalType: 60"));
    assert!(verbose.contains("tsapIdentifier: 5000") && verbose.contains("tsapIdentifier: 6000"));
    assert!(verbose.contains("alphanumeric: 4"), "UII alphanumeric");
    assert!(verbose.contains("signalType: #"), "UII signal");
    assert!(verbose.contains("disconnect"));
}

#[test]
fn separate_h245_caller_listens() {
    let (a, b) = call_with_separate_h245(true);
    check_h245_sequence(&a, &b);
    tshark_check(&a, &b, "h245-caller-listens.pcap");
    signalling_tshark_check(
        &a,
        &b,
        "h225-caller-listens.pcap",
        &[
            ("setup", 0, &[]),
            ("callProceeding", 0, &[]),
            ("alerting", 0, &[]),
            ("connect", 0, &[]),
            ("releaseComplete", 0, &[]),
        ],
    );
}

#[test]
fn separate_h245_callee_listens() {
    let (a, b) = call_with_separate_h245(false);
    check_h245_sequence(&a, &b);
    tshark_check(&a, &b, "h245-callee-listens.pcap");
}
