//! Caller and callee against each other in virtual time (no sockets): the pair shuttles
//! the bytes of both connections and jumps the clock to the next deadline.

use super::*;

fn media(last: u8) -> MediaAddresses {
    MediaAddresses {
        rtp: SocketAddrV4::new([10, 0, 0, last].into(), 5000),
        rtcp: SocketAddrV4::new([10, 0, 0, last].into(), 5001),
    }
}

fn place() -> PlaceCall {
    PlaceCall {
        call_ref: 77,
        call_id: Guid([1; 16]),
        conference_id: Guid([2; 16]),
        source_aliases: vec![Alias::Dialled("1001".into())],
        destination_aliases: vec![Alias::Dialled("2002".into())],
        calling_number: Some("1001".into()),
        called_number: Some("2002".into()),
        display: None,
        source_signal_address: None,
        dest_signal_address: None,
    }
}

struct Pair {
    now: Instant,
    a: Call,
    b: Call,
    ea: Vec<Event>,
    eb: Vec<Event>,
    /// H.245 message names a→b and b→a on the separate connection.
    h245_ab: Vec<&'static str>,
    h245_ba: Vec<&'static str>,
    h245_up: bool,
}

impl Pair {
    fn new(ca: CallConfig, cb: CallConfig) -> Self {
        let now = Instant::now();
        Self {
            now,
            a: Call::place(now, ca, place()),
            b: Call::incoming(cb),
            ea: Vec::new(),
            eb: Vec::new(),
            h245_ab: Vec::new(),
            h245_ba: Vec::new(),
            h245_up: false,
        }
    }

    fn run(&mut self) {
        for _ in 0..1000 {
            let mut moved = false;
            while let Some(t) = self.a.poll_transmit() {
                moved = true;
                match t.channel {
                    Channel::Signalling => self.b.handle_signalling_bytes(self.now, &t.bytes),
                    Channel::H245 => {
                        self.h245_ab.extend(h245_names(&t.bytes));
                        self.b.handle_h245_bytes(self.now, &t.bytes)
                    }
                }
            }
            while let Some(t) = self.b.poll_transmit() {
                moved = true;
                match t.channel {
                    Channel::Signalling => self.a.handle_signalling_bytes(self.now, &t.bytes),
                    Channel::H245 => {
                        self.h245_ba.extend(h245_names(&t.bytes));
                        self.a.handle_h245_bytes(self.now, &t.bytes)
                    }
                }
            }
            for side in 0..2 {
                loop {
                    let e = if side == 0 {
                        self.a.poll_event()
                    } else {
                        self.b.poll_event()
                    };
                    let Some(e) = e else { break };
                    moved = true;
                    if let Event::H245Connect(_) = e {
                        // The "TCP connection": both ends see it come up.
                        self.h245_up = true;
                        self.a.h245_connected(self.now);
                        self.b.h245_connected(self.now);
                    }
                    if side == 0 {
                        self.ea.push(e)
                    } else {
                        self.eb.push(e)
                    }
                }
            }
            if !moved {
                return;
            }
        }
        panic!("no quiescence");
    }

    fn advance(&mut self) {
        let t = [self.a.poll_timeout(), self.b.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .expect("a deadline");
        self.now = self.now.max(t);
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
        self.run();
    }
}

fn released(events: &[Event]) -> Option<CauseValue> {
    events.iter().find_map(|e| match e {
        Event::Released { cause, .. } => Some(*cause),
        _ => None,
    })
}

#[test]
fn fast_start_call() {
    let mut p = Pair::new(CallConfig::new(media(1)), CallConfig::new(media(2)));
    p.run();
    let Some(Event::Setup(s)) = p.eb.first() else {
        panic!("{:?}", p.eb)
    };
    assert_eq!(s.fast_start_offer, vec![G711::ALaw, G711::MuLaw]);
    assert_eq!(s.called_number.as_deref(), Some("2002"));
    p.b.proceeding(p.now);
    p.b.alerting(p.now);
    p.run();
    assert!(p.ea.contains(&Event::Proceeding) && p.ea.contains(&Event::Alerting));
    let media_a = p.a.media().unwrap();
    assert_eq!(media_a.remote_rtp, media(2).rtp);
    assert_eq!(p.b.media().unwrap().remote_rtp, media(1).rtp);
    p.b.answer(p.now);
    p.run();
    assert!(p.ea.contains(&Event::Connected {
        media: Some(media_a)
    }));
    // Digits on a fast-started, tunnelled call: UserInputIndication in a Facility.
    assert_eq!(p.a.send_digits(p.now, "5"), DigitRoute::UserInput);
    p.run();
    assert!(p.eb.contains(&Event::Digits("5".into())));
    p.a.release(p.now, CauseValue::NormalCallClearing);
    p.run();
    assert_eq!(released(&p.ea), Some(CauseValue::NormalCallClearing));
    assert_eq!(released(&p.eb), Some(CauseValue::NormalCallClearing));
    assert!(!p.h245_up);
}

/// Alerting with progress indicator 8 (early media) is seen as in-band by the caller;
/// plain Alerting is not, and Progress always is.
#[test]
fn alerting_with_inband_progress_indicator() {
    let mut p = Pair::new(CallConfig::new(media(1)), CallConfig::new(media(2)));
    p.run();
    p.b.proceeding(p.now);
    p.b.alerting_inband(p.now);
    p.run();
    assert!(p.ea.contains(&Event::Alerting), "{:?}", p.ea);
    assert!(p.a.peer_inband());
    assert!(
        p.a.media().is_some(),
        "the fast start answer rode in the Alerting"
    );

    let mut p = Pair::new(CallConfig::new(media(1)), CallConfig::new(media(2)));
    p.run();
    p.b.alerting(p.now);
    p.run();
    assert!(p.ea.contains(&Event::Alerting));
    assert!(!p.a.peer_inband());
    p.b.progress(p.now);
    p.run();
    assert!(p.a.peer_inband());
}

#[test]
fn tunnelled_h245_without_fast_start() {
    let mut ca = CallConfig::new(media(1));
    ca.fast_start = false;
    let mut p = Pair::new(ca, CallConfig::new(media(2)));
    p.run();
    p.b.alerting(p.now);
    p.b.answer(p.now);
    p.run();
    let ma = p.a.media().expect("a's channel open");
    assert_eq!(ma.remote_rtp, media(2).rtp);
    assert_eq!(ma.telephone_event, Some(101));
    assert!(p.b.media().is_some());
    assert!(p.eb.contains(&Event::IncomingMedia {
        codec: G711::ALaw,
        frames: 20
    }));
    assert!(p.a.is_tunneling() && !p.h245_up);
    // telephone-event announced by the peer: RFC 2833.
    assert_eq!(
        p.a.send_digits(p.now, "1"),
        DigitRoute::Rfc2833 { payload_type: 101 }
    );
    p.b.release(p.now, CauseValue::UserBusy);
    p.run();
    assert_eq!(released(&p.ea), Some(CauseValue::UserBusy));
}

#[test]
fn separate_h245_connection_both_directions() {
    for caller_listens in [true, false] {
        let mut ca = CallConfig::new(media(1));
        ca.fast_start = false;
        ca.h245_tunneling = false;
        ca.dtmf = DtmfMode::UserInput;
        let mut cb = CallConfig::new(media(2));
        cb.h245_tunneling = false;
        if caller_listens {
            ca.h245_listen = Some("10.0.0.1:1800".parse().unwrap());
        } else {
            cb.h245_listen = Some("10.0.0.2:1801".parse().unwrap());
        }
        let mut p = Pair::new(ca, cb);
        p.run();
        p.b.answer(p.now);
        p.run();
        assert!(p.h245_up, "caller_listens={caller_listens}");
        let connector = if caller_listens { &p.eb } else { &p.ea };
        assert!(connector.iter().any(|e| matches!(e, Event::H245Connect(_))));
        assert!(p.a.media().is_some() && p.b.media().is_some());
        assert_eq!(p.a.send_digits(p.now, "9"), DigitRoute::UserInput);
        p.run();
        assert!(p.eb.contains(&Event::Digits("9".into())));
        p.a.release(p.now, CauseValue::NormalCallClearing);
        p.run();
        assert_eq!(released(&p.ea), Some(CauseValue::NormalCallClearing));
        assert_eq!(released(&p.eb), Some(CauseValue::NormalCallClearing));
        for names in [&p.h245_ab, &p.h245_ba] {
            for n in [
                "terminalCapabilitySet",
                "masterSlaveDetermination",
                "openLogicalChannel",
                "openLogicalChannelAck",
                "closeLogicalChannel",
                "closeLogicalChannelAck",
                "endSessionCommand",
            ] {
                assert!(names.contains(&n), "{n} missing: {names:?}");
            }
        }
    }
}

#[test]
fn fast_start_refused_falls_back_to_h245() {
    let mut cb = CallConfig::new(media(2));
    cb.fast_start = false;
    let mut p = Pair::new(CallConfig::new(media(1)), cb);
    p.run();
    p.b.proceeding(p.now);
    p.run();
    p.b.answer(p.now);
    p.run();
    assert!(p.a.media().is_some() && p.b.media().is_some());
    assert!(p.a.is_tunneling());
}

#[test]
fn t303_clears_an_unanswered_setup() {
    let mut p = Pair::new(CallConfig::new(media(1)), CallConfig::new(media(2)));
    // The Setup is lost.
    while p.a.poll_transmit().is_some() {}
    p.advance();
    assert_eq!(released(&p.ea), Some(CauseValue::NoUserResponding));
}

#[test]
fn callee_rejects_with_a_cause() {
    let mut p = Pair::new(CallConfig::new(media(1)), CallConfig::new(media(2)));
    p.run();
    p.b.release(p.now, CauseValue::UserBusy);
    p.run();
    assert_eq!(released(&p.ea), Some(CauseValue::UserBusy));
    assert!(p.ea.iter().any(|e| matches!(
        e,
        Event::Released {
            reason: Some(ReleaseReason::InConf),
            by_peer: true,
            ..
        }
    )));
}

#[test]
fn deferred_fast_start_answer_names_the_addresses_set_later() {
    // A gateway passing media through: it answers fast start with the addresses of its
    // other side, which it learns after Alerting.
    let mut cb = CallConfig::new(media(2));
    cb.defer_fast_start_answer = true;
    let mut p = Pair::new(CallConfig::new(media(1)), cb);
    p.run();
    p.b.proceeding(p.now);
    p.b.alerting(p.now);
    p.run();
    assert!(p.ea.contains(&Event::Alerting));
    assert!(
        !p.ea.iter().any(|e| matches!(e, Event::Media(_))),
        "no fast start answer in Alerting: {:?}",
        p.ea
    );
    assert!(p.b.set_media(media(9), Some(G711::MuLaw)));
    p.b.answer(p.now);
    p.run();
    let Some(Event::Connected { media: Some(m) }) = p.ea.last() else {
        panic!("{:?}", p.ea)
    };
    assert_eq!(
        m.remote_rtp,
        media(9).rtp,
        "the caller sends to the address set"
    );
    assert_eq!(m.codec, G711::MuLaw, "the preferred law");
    assert!(!p.b.set_media(media(3), None), "the answer is out");

    // Without set_media, Connect carries the answer with the configured addresses.
    let mut cb = CallConfig::new(media(2));
    cb.defer_fast_start_answer = true;
    let mut p = Pair::new(CallConfig::new(media(1)), cb);
    p.run();
    p.b.alerting(p.now);
    p.b.answer(p.now);
    p.run();
    let Some(Event::Connected { media: Some(m) }) = p.ea.last() else {
        panic!("{:?}", p.ea)
    };
    assert_eq!(m.remote_rtp, media(2).rtp);
}

/// H.323 §8.5 on a separate H.245 connection: the caller releases after Alerting (its
/// CloseLogicalChannel is out) while the callee answers; the Connect crosses the release.
/// The release goes on (CloseLogicalChannelAck, EndSessionCommand both ways, Release
/// Complete) instead of the Connect bringing the call back to Active, where nothing would
/// ever finish it.
#[test]
fn connect_crossing_our_release_does_not_revive_the_call() {
    let mut ca = CallConfig::new(media(1));
    ca.fast_start = false;
    ca.h245_tunneling = false;
    ca.h245_listen = Some("10.0.0.1:1800".parse().unwrap());
    let mut cb = CallConfig::new(media(2));
    cb.h245_tunneling = false;
    let mut p = Pair::new(ca, cb);
    p.run();
    // The callee connects to the caller's h245Address when it first responds: H.245 and
    // both logical channels are up before the answer.
    p.b.alerting(p.now);
    p.run();
    assert!(p.h245_up && p.a.media().is_some() && p.b.media().is_some());
    assert!(p.ea.contains(&Event::Alerting));
    let before = p.ea.len();

    p.a.release(p.now, CauseValue::NormalCallClearing);
    p.b.answer(p.now);
    p.run();
    // Only timers could still move a stuck call; none may be needed, but allow them.
    for _ in 0..10 {
        if p.a.is_released() && p.b.is_released() {
            break;
        }
        assert!(
            p.a.poll_timeout().is_some() || p.b.poll_timeout().is_some(),
            "stuck without a deadline: caller events {:?}",
            &p.ea[before..]
        );
        p.advance();
    }
    let after = &p.ea[before..];
    assert!(
        !after
            .iter()
            .any(|e| matches!(e, Event::Connected { .. } | Event::Alerting)),
        "the caller went on with the call after releasing: {after:?}"
    );
    assert!(p.a.is_released() && p.b.is_released());
    assert_eq!(released(&p.ea), Some(CauseValue::NormalCallClearing));
    assert_eq!(released(&p.eb), Some(CauseValue::NormalCallClearing));
    assert!(p.h245_ab.contains(&"endSessionCommand"), "{:?}", p.h245_ab);
}

/// A TPKT-framed Facility (`empty` body) tunnelling `n` roundTripDelayRequests, as a
/// peer on a fresh call-signalling connection might send.
fn facility_with_round_trip_requests(n: u8) -> Vec<u8> {
    use h323_asn1::h245 as asn;
    let msgs: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let m = asn::MultimediaSystemControlMessage::request(
                asn::RequestMessage::roundTripDelayRequest(asn::RoundTripDelayRequest::new(
                    asn::SequenceNumber(i),
                )),
            );
            h245_tunnel::encode(&m).unwrap()
        })
        .collect();
    let sig = CallSignal::facility(
        CallRef::two_octet(77, CallRefFlag::FromOriginator),
        Guid([1; 16]),
        None,
        None,
        &msgs,
    );
    frame(&sig.to_bytes().unwrap()).unwrap()
}

/// H.225.0: tunnelled H.245 belongs to a call, and there is none before the Setup. A
/// connection sending only Facilities with H.245 requests gets no answers queued.
#[test]
fn tunnelled_h245_before_setup_is_ignored() {
    let now = Instant::now();
    let mut b = Call::incoming(CallConfig::new(media(2)));
    let bytes = facility_with_round_trip_requests(50);
    for _ in 0..100 {
        b.handle_signalling_bytes(now, &bytes);
    }
    assert_eq!(b.pending_h245(), (0, 0), "answers queued for no call");
    assert!(b.poll_transmit().is_none());
    assert!(b.poll_event().is_none());
    // The Setup that comes after is taken as usual.
    let mut p = Pair::new(CallConfig::new(media(1)), CallConfig::new(media(2)));
    p.b = b;
    p.run();
    p.b.answer(p.now);
    p.run();
    assert!(p.ea.iter().any(|e| matches!(e, Event::Connected { .. })));
}

/// A Facility asking us to connect to an H.245 address (startH245) before any Setup is
/// ignored: there is no call to connect for, and the address is the peer's choice.
#[test]
fn start_h245_before_setup_is_ignored() {
    let now = Instant::now();
    let mut cb = CallConfig::new(media(2));
    cb.fast_start = false;
    cb.h245_tunneling = false;
    let mut b = Call::incoming(cb);
    let sig = CallSignal::facility(
        CallRef::two_octet(77, CallRefFlag::FromOriginator),
        Guid([1; 16]),
        Some(h323_asn1::h225::FacilityReason::startH245(())),
        Some(SocketAddrV4::new([192, 0, 2, 9].into(), 1800)),
        &[],
    );
    b.handle_signalling_bytes(now, &frame(&sig.to_bytes().unwrap()).unwrap());
    assert!(b.poll_event().is_none(), "no H.245 connection for no call");
    assert!(b.poll_transmit().is_none());
}

/// Setup received, nothing sent yet: tunnelled H.245 waits for our first response, but
/// only up to MAX_PENDING_H245_OCTETS; the rest is dropped, and the Connect carrying what
/// waits still encodes (User-user IE ≤ 65535 octets) and decodes at the caller.
#[test]
fn tunnelled_h245_waiting_for_the_first_response_is_bounded() {
    let mut ca = CallConfig::new(media(1));
    ca.fast_start = false;
    let mut p = Pair::new(ca, CallConfig::new(media(2)));
    p.run();
    assert!(matches!(p.eb.first(), Some(Event::Setup(_))));
    let bytes = facility_with_round_trip_requests(100);
    let mut last = p.b.pending_h245();
    for i in 0..400 {
        p.b.handle_signalling_bytes(p.now, &bytes);
        let now = p.b.pending_h245();
        assert!(now.1 <= MAX_PENDING_H245_OCTETS, "{now:?}");
        if i > 0 && now == last {
            break;
        }
        last = now;
    }
    let full = p.b.pending_h245();
    p.b.handle_signalling_bytes(p.now, &bytes);
    assert_eq!(p.b.pending_h245(), full, "the queue grew past its bound");
    assert!(
        full.1 > MAX_PENDING_H245_OCTETS - 64,
        "filled up to the bound: {full:?}"
    );
    assert!(
        p.b.poll_transmit().is_none(),
        "nothing before the first response"
    );

    p.b.answer(p.now);
    let t = p.b.poll_transmit().expect("the Connect goes out");
    assert_eq!(t.channel, Channel::Signalling);
    let mut d = tpkt::TpktDecoder::new();
    d.handle_bytes(&t.bytes);
    let connect = CallSignal::decode(&d.poll_packet().unwrap().unwrap()).unwrap();
    assert_eq!(connect.message_type(), MessageType::Connect);
    assert!(connect.h245_control().len() >= full.0);
    assert_eq!(p.b.pending_h245(), (0, 0));
    p.a.handle_signalling_bytes(p.now, &t.bytes);
    p.run();
    assert!(p.ea.iter().any(|e| matches!(e, Event::Connected { .. })));
}
