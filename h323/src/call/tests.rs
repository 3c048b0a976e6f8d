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
