//! Two endpoints back to back in virtual time: every message crosses a simulated network.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::sip::transport::Incoming;

struct Pair {
    a: Endpoint,
    b: Endpoint,
    now: Instant,
    a_addr: SocketAddr,
    b_addr: SocketAddr,
    /// Drop the next N messages from a to b.
    drop_a_to_b: usize,
    wire: Vec<String>,
    /// Every message `a` sent, as sent.
    a_sent: Vec<bytes::Bytes>,
    a_events: Vec<UaEvent>,
    b_events: Vec<UaEvent>,
}

fn endpoint(addr: SocketAddr, user: &str) -> Endpoint {
    Endpoint::new(EndpointConfig {
        advertise: vec![(Protocol::Udp, addr)],
        contact_user: user.into(),
        user_agent: "test".into(),
        timers: Timers::default(),
    })
}

impl Pair {
    fn new() -> Pair {
        let a_addr: SocketAddr = "192.0.2.1:5060".parse().unwrap();
        let b_addr: SocketAddr = "192.0.2.2:5060".parse().unwrap();
        Pair {
            a: endpoint(a_addr, "a"),
            b: endpoint(b_addr, "gw"),
            now: Instant::now(),
            a_addr,
            b_addr,
            drop_a_to_b: 0,
            wire: Vec::new(),
            a_sent: Vec::new(),
            a_events: Vec::new(),
            b_events: Vec::new(),
        }
    }

    /// Register `sip:gw@reg.test` at b (as the registrar), asking for `expires`.
    fn register_at_b(&mut self, expires: u32) -> RegHandle {
        let target = self.b_target();
        self.a.register(
            self.now,
            RegistrationSpec {
                registrar: "sip:reg.test".into(),
                aor: "sip:gw@reg.test".into(),
                target,
                expires,
            },
        )
    }

    fn b_target(&self) -> Target {
        Target {
            protocol: Protocol::Udp,
            addr: self.b_addr,
        }
    }

    /// The registrar (b) answers a's REGISTER `req` with `status`, and `header` if any.
    fn registrar_answers(
        &mut self,
        req: &SipMessage,
        status: StatusCode,
        header: Option<(&str, String)>,
    ) {
        let mut b = crate::sip::ResponseBuilder::from_request(req, status, None, Some("r"));
        if let Some((name, value)) = header {
            b.push_header(name, value);
        }
        let message = SipMessage::parse(b.build()).unwrap();
        let source = self.b_target();
        self.a.handle_incoming(
            self.now,
            Incoming {
                message,
                source,
                local: self.a_addr,
            },
        );
    }

    /// Deliver everything in flight (both ways) until quiet.
    fn run(&mut self) {
        loop {
            let mut moved = false;
            while let Some((t, bytes)) = self.a.poll_transmit() {
                moved = true;
                assert_eq!(t.addr, self.b_addr, "a sends only to b");
                self.wire.push(first_line(&bytes));
                self.a_sent.push(bytes.clone());
                if self.drop_a_to_b > 0 {
                    self.drop_a_to_b -= 1;
                    continue;
                }
                let message = SipMessage::parse(bytes).unwrap();
                let source = Target {
                    protocol: Protocol::Udp,
                    addr: self.a_addr,
                };
                self.b.handle_incoming(
                    self.now,
                    Incoming {
                        message,
                        source,
                        local: self.b_addr,
                    },
                );
            }
            while let Some((t, bytes)) = self.b.poll_transmit() {
                moved = true;
                assert_eq!(t.addr, self.a_addr, "b answers a");
                self.wire.push(format!("  {}", first_line(&bytes)));
                let message = SipMessage::parse(bytes).unwrap();
                let source = Target {
                    protocol: Protocol::Udp,
                    addr: self.b_addr,
                };
                self.a.handle_incoming(
                    self.now,
                    Incoming {
                        message,
                        source,
                        local: self.a_addr,
                    },
                );
            }
            while let Some(e) = self.a.poll_event() {
                self.a_events.push(e);
            }
            while let Some(e) = self.b.poll_event() {
                self.b_events.push(e);
            }
            if !moved {
                break;
            }
        }
    }

    /// Advance virtual time by `d`, firing timers in order.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = t.max(self.now);
                    self.a.handle_timeout(self.now);
                    self.b.handle_timeout(self.now);
                    self.run();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    fn call_a_to_b(&mut self) -> CallHandle {
        let target = Target {
            protocol: Protocol::Udp,
            addr: self.b_addr,
        };
        let h = self.a.invite(self.now, OutgoingCall {
            request_uri: "sip:0301234@192.0.2.2".into(),
            from: "<sip:100@192.0.2.1>".into(),
            to: "<sip:0301234@192.0.2.2>".into(),
            target,
            sdp: Some(bytes::Bytes::from_static(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\n")),
            headers: vec![],
        });
        self.run();
        h
    }

    fn b_incoming(&self) -> CallHandle {
        self.b_events
            .iter()
            .find_map(|e| match e {
                UaEvent::IncomingCall { call, .. } => Some(*call),
                _ => None,
            })
            .expect("b saw the INVITE")
    }
}

fn first_line(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn basic_call_ladder_and_bye_from_caller() {
    let mut p = Pair::new();
    let a_call = p.call_a_to_b();
    let b_call = p.b_incoming();
    p.b.respond(p.now, b_call, StatusCode::RINGING, None, &[], None);
    p.run();
    p.b.respond(p.now, b_call, StatusCode::OK, None, &[], Some(b"v=0\r\n"));
    p.run();
    assert!(p
        .a_events
        .iter()
        .any(|e| matches!(e, UaEvent::Answered { .. })));
    assert!(p
        .b_events
        .iter()
        .any(|e| matches!(e, UaEvent::Confirmed { .. })));
    p.a.hangup(p.now, a_call, Some("Q.850;cause=16"));
    p.run();
    assert!(p.b_events.iter().any(|e| matches!(e, UaEvent::Bye { .. })));
    assert!(p
        .a_events
        .iter()
        .any(|e| matches!(e, UaEvent::Terminated { .. })));
    let ladder: Vec<&str> = p.wire.iter().map(String::as_str).collect();
    assert_eq!(
        ladder,
        [
            "INVITE sip:0301234@192.0.2.2 SIP/2.0",
            "  SIP/2.0 180 Ringing",
            "  SIP/2.0 200 OK",
            "ACK sip:a@192.0.2.1:5060 SIP/2.0"
                .replace("a@192.0.2.1", "gw@192.0.2.2")
                .as_str(),
            "BYE sip:gw@192.0.2.2:5060 SIP/2.0",
            "  SIP/2.0 200 OK",
        ]
    );
    // Timers drain every transaction; no call is left.
    p.advance(Duration::from_secs(40));
    assert_eq!((p.a.call_count(), p.b.call_count()), (0, 0));
    assert_eq!((p.a.transaction_count(), p.b.transaction_count()), (0, 0));
}

#[test]
fn trying_is_sent_after_200_ms_when_the_core_is_slow() {
    let mut p = Pair::new();
    p.call_a_to_b();
    p.advance(Duration::from_millis(250));
    assert!(p.wire.iter().any(|l| l.contains("100 Trying")));
    assert!(
        !p.wire
            .iter()
            .any(|l| l.starts_with("INVITE") && l != &p.wire[0]),
        "no INVITE retransmission after 100"
    );
}

#[test]
fn cancel_before_answer_gets_487_and_200() {
    let mut p = Pair::new();
    let a_call = p.call_a_to_b();
    let b_call = p.b_incoming();
    p.b.respond(p.now, b_call, StatusCode::RINGING, None, &[], None);
    p.run();
    p.a.hangup(p.now, a_call, None);
    p.run();
    assert!(p
        .b_events
        .iter()
        .any(|e| matches!(e, UaEvent::Cancelled { .. })));
    assert!(p
        .a_events
        .iter()
        .any(|e| matches!(e, UaEvent::Rejected { status: 487, .. })));
    assert!(p.wire.iter().any(|l| l.starts_with("CANCEL")));
    assert!(
        p.wire
            .iter()
            .any(|l| l == "ACK sip:0301234@192.0.2.2 SIP/2.0"),
        "ACK for the 487: {:?}",
        p.wire
    );
    p.advance(Duration::from_secs(40));
    assert_eq!((p.a.call_count(), p.b.call_count()), (0, 0));
}

#[test]
fn cancel_waits_for_a_provisional() {
    let mut p = Pair::new();
    let a_call = p.call_a_to_b();
    let b_call = p.b_incoming();
    p.a.hangup(p.now, a_call, None);
    p.run();
    assert!(
        !p.wire.iter().any(|l| l.starts_with("CANCEL")),
        "§9.1: no CANCEL before a 1xx"
    );
    p.b.respond(p.now, b_call, StatusCode::RINGING, None, &[], None);
    p.run();
    assert!(p.wire.iter().any(|l| l.starts_with("CANCEL")));
}

/// RFC 3326 §2: the CANCEL carries the Reason the hang-up gave (a gateway's Q.850 cause).
#[test]
fn cancel_carries_the_reason() {
    let mut p = Pair::new();
    let a_call = p.call_a_to_b();
    let b_call = p.b_incoming();
    p.b.respond(p.now, b_call, StatusCode::RINGING, None, &[], None);
    p.run();
    p.a.hangup(p.now, a_call, Some("Q.850;cause=18"));
    p.run();
    let cause = p.b_events.iter().find_map(|e| match e {
        UaEvent::Cancelled { cancel, .. } => Some(crate::leg::sip::q850_of(cancel)),
        _ => None,
    });
    assert_eq!(cause, Some(Some(18)), "{:?}", p.wire);
}

#[test]
fn busy_is_acked_by_the_transaction() {
    let mut p = Pair::new();
    p.call_a_to_b();
    let b_call = p.b_incoming();
    p.b.hangup_with(
        p.now,
        b_call,
        Some(StatusCode::BUSY_HERE),
        Some("Q.850;cause=17"),
    );
    p.run();
    assert!(p
        .a_events
        .iter()
        .any(|e| matches!(e, UaEvent::Rejected { status: 486, .. })));
    assert_eq!(p.wire.last().unwrap(), "ACK sip:0301234@192.0.2.2 SIP/2.0");
}

#[test]
fn lost_ack_makes_the_uas_retransmit_its_200() {
    let mut p = Pair::new();
    p.call_a_to_b();
    let b_call = p.b_incoming();
    p.b.respond(p.now, b_call, StatusCode::OK, None, &[], Some(b"v=0\r\n"));
    p.drop_a_to_b = 1; // the ACK
    p.run();
    p.advance(Duration::from_millis(600));
    let oks = p.wire.iter().filter(|l| l.contains("200 OK")).count();
    assert_eq!(oks, 2, "200 retransmitted at T1: {:?}", p.wire);
    let acks: Vec<_> = p.a_sent.iter().filter(|b| b.starts_with(b"ACK ")).collect();
    assert_eq!(acks.len(), 2, "re-ACKed: {:?}", p.wire);
    // §13.2.2.4: the same ACK again, so that the UAS sees a retransmission.
    assert_eq!(acks[0], acks[1]);
    assert!(p
        .b_events
        .iter()
        .any(|e| matches!(e, UaEvent::Confirmed { .. })));
}

#[test]
fn unknown_dialog_gets_481_and_options_200() {
    let mut p = Pair::new();
    let bye = SipMessage::parse(
        &b"BYE sip:gw@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\r\n\
Max-Forwards: 70\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:gw@c>;tag=nope\r\nCall-ID: zz\r\nCSeq: 2 BYE\r\n\
Content-Length: 0\r\n\r\n"[..],
    )
    .unwrap();
    let src = Target {
        protocol: Protocol::Udp,
        addr: p.a_addr,
    };
    p.b.handle_incoming(
        p.now,
        Incoming {
            message: bye,
            source: src,
            local: p.b_addr,
        },
    );
    let (_, resp) = p.b.poll_transmit().unwrap();
    assert!(first_line(&resp).contains("481"));
    let opt = SipMessage::parse(
        &b"OPTIONS sip:gw@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKo\r\n\
Max-Forwards: 70\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:gw@c>\r\nCall-ID: oo\r\nCSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n"[..],
    )
    .unwrap();
    p.b.handle_incoming(
        p.now,
        Incoming {
            message: opt,
            source: src,
            local: p.b_addr,
        },
    );
    let (_, resp) = p.b.poll_transmit().unwrap();
    let resp = SipMessage::parse(resp).unwrap();
    assert_eq!(resp.status().unwrap().code(), 200);
    assert!(resp.header_value(&HeaderName::Allow).is_some());
}

#[test]
fn unsupported_require_gets_420() {
    let mut p = Pair::new();
    let inv = SipMessage::parse(
        &b"INVITE sip:1@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKr\r\n\
Max-Forwards: 70\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:1@c>\r\nCall-ID: rr\r\nCSeq: 1 INVITE\r\n\
Require: foo\r\nContact: <sip:a@192.0.2.1>\r\nContent-Length: 0\r\n\r\n"[..],
    )
    .unwrap();
    let src = Target {
        protocol: Protocol::Udp,
        addr: p.a_addr,
    };
    p.b.handle_incoming(
        p.now,
        Incoming {
            message: inv,
            source: src,
            local: p.b_addr,
        },
    );
    let (_, resp) = p.b.poll_transmit().unwrap();
    let resp = SipMessage::parse(resp).unwrap();
    assert_eq!(resp.status().unwrap().code(), 420);
    assert_eq!(
        resp.header_value(&HeaderName::Unsupported),
        Some(&b"foo"[..])
    );
}

#[test]
fn reliable_provisional_is_pracked_and_stops_retransmitting() {
    let mut p = Pair::new();
    let target = Target {
        protocol: Protocol::Udp,
        addr: p.b_addr,
    };
    let a_call = p.a.invite(
        p.now,
        OutgoingCall {
            request_uri: "sip:0301234@192.0.2.2".into(),
            from: "<sip:100@192.0.2.1>".into(),
            to: "<sip:0301234@192.0.2.2>".into(),
            target,
            sdp: Some(bytes::Bytes::from_static(b"v=0\r\n")),
            headers: vec![("Require".into(), "100rel".into())],
        },
    );
    p.run();
    let b_call = p.b_incoming();
    p.b.respond(
        p.now,
        b_call,
        StatusCode::SESSION_PROGRESS,
        None,
        &[],
        Some(b"v=0\r\n"),
    );
    p.run();
    assert!(
        p.wire.iter().any(|l| l.starts_with("PRACK")),
        "{:?}",
        p.wire
    );
    p.advance(Duration::from_secs(5));
    assert_eq!(
        p.wire.iter().filter(|l| l.contains("183")).count(),
        1,
        "PRACK stopped the retransmission"
    );
    let _ = a_call;
}

#[test]
fn invite_to_nobody_times_out_with_408() {
    let mut p = Pair::new();
    p.drop_a_to_b = usize::MAX;
    p.call_a_to_b();
    p.advance(Duration::from_secs(33));
    assert!(p
        .a_events
        .iter()
        .any(|e| matches!(e, UaEvent::Rejected { status: 408, .. })));
    assert_eq!(p.a.call_count(), 0);
    assert_eq!(
        p.wire.iter().filter(|l| l.starts_with("INVITE")).count(),
        7,
        "Timer A: 7 sends over 32 s"
    );
}

#[test]
fn invite_challenged_with_401_is_sent_again_with_credentials() {
    let mut p = Pair::new();
    p.a.add_credentials(Some("gw.test"), "pbx", "secret");
    let mut server = crate::sip::digest::DigestServer::new("gw.test", b"k".to_vec());
    p.call_a_to_b();
    let first = p.b_incoming();
    let ch = server.challenge(10, crate::sip::digest::Algorithm::Md5, false);
    p.b.respond(
        p.now,
        first,
        StatusCode::UNAUTHORIZED,
        None,
        &[("WWW-Authenticate", ch.to_header_value())],
        None,
    );
    p.run();
    let second = p
        .b_events
        .iter()
        .filter_map(|e| match e {
            UaEvent::IncomingCall { call, invite, .. } if *call != first => {
                Some((*call, invite.clone()))
            }
            _ => None,
        })
        .next()
        .expect("the INVITE came again");
    let auth = second
        .1
        .header_value(&HeaderName::Authorization)
        .expect("with credentials");
    let auth = std::str::from_utf8(auth).unwrap();
    assert_eq!(
        server.verify(auth, "INVITE", 11, |u| (u == "pbx")
            .then(|| "secret".into())),
        Ok("pbx".into())
    );
    assert_eq!(second.1.cseq().unwrap().seq, 2, "CSeq advanced (§22.2)");
    p.b.respond(p.now, second.0, StatusCode::OK, None, &[], Some(b"v=0\r\n"));
    p.run();
    assert!(p
        .a_events
        .iter()
        .any(|e| matches!(e, UaEvent::Answered { .. })));
    assert!(!p
        .a_events
        .iter()
        .any(|e| matches!(e, UaEvent::Rejected { .. })));
}

#[test]
fn a_second_fork_answering_gets_ack_and_bye() {
    let mut p = Pair::new();
    let a_call = p.call_a_to_b();
    let b_call = p.b_incoming();
    let invite = p.b.invite_of(b_call).unwrap().clone();
    p.b.respond(p.now, b_call, StatusCode::OK, None, &[], Some(b"v=0\r\n"));
    p.run();
    assert!(p
        .a_events
        .iter()
        .any(|e| matches!(e, UaEvent::Answered { call, .. } if *call == a_call)));
    // A second UAS behind a forking proxy answers the same INVITE with another tag.
    let other =
        crate::sip::ResponseBuilder::from_request(&invite, StatusCode::OK, None, Some("fork2"))
            .header("Contact", "<sip:other@192.0.2.2:5060>")
            .build();
    let src = Target {
        protocol: Protocol::Udp,
        addr: p.b_addr,
    };
    p.wire.clear();
    p.a.handle_incoming(
        p.now,
        Incoming {
            message: SipMessage::parse(other).unwrap(),
            source: src,
            local: p.a_addr,
        },
    );
    let sent: Vec<String> = std::iter::from_fn(|| p.a.poll_transmit())
        .map(|(_, b)| first_line(&b))
        .collect();
    assert_eq!(
        sent,
        [
            "ACK sip:other@192.0.2.2:5060 SIP/2.0",
            "BYE sip:other@192.0.2.2:5060 SIP/2.0"
        ]
    );
    assert_eq!(
        p.a_events
            .iter()
            .filter(|e| matches!(e, UaEvent::Answered { .. }))
            .count(),
        1
    );
}

#[test]
fn registration_answers_the_challenge_and_refreshes_before_expiry() {
    let mut p = Pair::new();
    p.a.add_credentials(None, "gw", "pw");
    let mut server = crate::sip::digest::DigestServer::new("reg.test", b"k".to_vec());
    let h = p.register_at_b(600);
    let answer = |p: &mut Pair, server: &mut crate::sip::digest::DigestServer| -> SipMessage {
        let (_, bytes) = p.a.poll_transmit().expect("REGISTER sent");
        let req = SipMessage::parse(bytes).unwrap();
        assert_eq!(req.method(), Some(Method::Register));
        match req.header_value(&HeaderName::Authorization) {
            None => {
                let ch = server.challenge(10, crate::sip::digest::Algorithm::Md5, false);
                let challenge = ("WWW-Authenticate", ch.to_header_value());
                p.registrar_answers(&req, StatusCode::UNAUTHORIZED, Some(challenge));
            }
            Some(a) => {
                let a = std::str::from_utf8(a).unwrap();
                assert!(server
                    .verify(a, "REGISTER", 11, |u| (u == "gw").then(|| "pw".into()))
                    .is_ok());
                p.registrar_answers(&req, StatusCode::OK, Some(("Expires", "120".into())));
            }
        }
        req
    };
    let r1 = answer(&mut p, &mut server);
    let r2 = answer(&mut p, &mut server);
    assert_eq!(
        r2.call_id().unwrap().0,
        r1.call_id().unwrap().0,
        "same Call-ID (§10.2.4)"
    );
    assert_eq!(r2.cseq().unwrap().seq, r1.cseq().unwrap().seq + 1);
    let ev: Vec<_> = std::iter::from_fn(|| p.a.poll_event()).collect();
    assert!(ev
        .iter()
        .any(|e| matches!(e, UaEvent::Registered { handle, expires: 120 } if *handle == h)));
    // The granted 120 s is refreshed 12 s early.
    let t0 = p.now;
    p.now = t0 + Duration::from_secs(107);
    p.a.handle_timeout(p.now);
    let stray: Vec<_> = std::iter::from_fn(|| p.a.poll_transmit())
        .map(|(_, b)| first_line(&b))
        .filter(|l| l.starts_with("REGISTER"))
        .collect();
    assert!(stray.is_empty(), "too early: {stray:?}");
    p.now = t0 + Duration::from_secs(108);
    p.a.handle_timeout(p.now);
    let r3 = answer(&mut p, &mut server);
    assert_eq!(
        r3.cseq().unwrap().seq,
        r2.cseq().unwrap().seq + 1,
        "refresh"
    );
}

/// The REGISTERs a sent by `at` (the timers run first), their Expires values.
fn registers_sent(p: &mut Pair, at: Instant) -> Vec<SipMessage> {
    p.now = at;
    p.a.handle_timeout(p.now);
    std::iter::from_fn(|| p.a.poll_transmit())
        .map(|(_, b)| SipMessage::parse(b).unwrap())
        .filter(|m| m.method() == Some(Method::Register))
        .collect()
}

fn expires_of(m: &SipMessage) -> u32 {
    m.get::<crate::sip::header::Expires>().unwrap().unwrap().0
}

/// A registrar that grants a binding of a few seconds, or none, is not sent one REGISTER
/// after another: the refresh waits half the binding at least, and a second at least.
#[test]
fn a_very_short_binding_is_refreshed_after_half_of_it_not_at_once() {
    for (granted, first, wait) in [(0u32, 1u64, 1u64), (4, 2, 2), (8, 4, 4), (30, 25, 25)] {
        let mut p = Pair::new();
        p.register_at_b(3600);
        let (_, bytes) = p.a.poll_transmit().expect("REGISTER sent");
        let req = SipMessage::parse(bytes).unwrap();
        p.registrar_answers(&req, StatusCode::OK, Some(("Expires", granted.to_string())));
        let t0 = p.now;
        let early = registers_sent(&mut p, t0 + Duration::from_millis(first * 1000 - 1));
        assert!(early.is_empty(), "granted {granted}: too early");
        let due = registers_sent(&mut p, t0 + Duration::from_secs(wait));
        assert_eq!(due.len(), 1, "granted {granted}: the refresh");
    }
}

/// 423 Interval Too Brief: the REGISTER goes again at once with the registrar's
/// Min-Expires (RFC 3261 §10.2.8), and that binding is kept; a Min-Expires no longer
/// than what was asked waits a minute like any failure.
#[test]
fn interval_too_brief_asks_again_with_the_registrars_minimum() {
    let mut p = Pair::new();
    p.register_at_b(60);
    let (_, bytes) = p.a.poll_transmit().expect("REGISTER sent");
    let req = SipMessage::parse(bytes).unwrap();
    assert_eq!(expires_of(&req), 60);
    p.registrar_answers(
        &req,
        StatusCode::INTERVAL_TOO_BRIEF,
        Some(("Min-Expires", "300".into())),
    );
    let now = p.now;
    let again = registers_sent(&mut p, now);
    assert_eq!(again.len(), 1, "asked again at once");
    assert_eq!(expires_of(&again[0]), 300);
    assert_eq!(again[0].cseq().unwrap().seq, req.cseq().unwrap().seq + 1);
    p.registrar_answers(&again[0], StatusCode::OK, Some(("Expires", "300".into())));
    let t0 = p.now;
    assert!(registers_sent(&mut p, t0 + Duration::from_secs(269)).is_empty());
    let refresh = registers_sent(&mut p, t0 + Duration::from_secs(270));
    assert_eq!(
        refresh.iter().map(expires_of).collect::<Vec<_>>(),
        vec![300]
    );
    // A minimum no longer than the 300 asked: no loop, a retry in a minute.
    p.registrar_answers(
        &refresh[0],
        StatusCode::INTERVAL_TOO_BRIEF,
        Some(("Min-Expires", "300".into())),
    );
    let t1 = p.now;
    assert!(registers_sent(&mut p, t1 + Duration::from_secs(59)).is_empty());
    let retry = registers_sent(&mut p, t1 + Duration::from_secs(60));
    assert_eq!(retry.len(), 1);
    // A registrar raising its minimum at every answer is followed twice in a row, then
    // waited for like any failure.
    let mut last = retry[0].clone();
    for min in [400u32, 500, 600] {
        p.registrar_answers(
            &last,
            StatusCode::INTERVAL_TOO_BRIEF,
            Some(("Min-Expires", min.to_string())),
        );
        let now = p.now;
        match registers_sent(&mut p, now).pop() {
            Some(again) => {
                assert_eq!(expires_of(&again), min);
                last = again;
            }
            None => {
                assert_eq!(min, 600, "only the third is not followed at once");
                let later = registers_sent(&mut p, now + Duration::from_secs(60));
                assert_eq!(later.len(), 1);
            }
        }
    }
}

#[test]
fn options_ping_reports_the_answer() {
    let mut p = Pair::new();
    let target = Target {
        protocol: Protocol::Udp,
        addr: p.b_addr,
    };
    p.a.ping(p.now, target, "sip:gw@192.0.2.2");
    p.run();
    assert!(p
        .a_events
        .iter()
        .any(|e| matches!(e, UaEvent::PingResult { status: 200, .. })));
    p.drop_a_to_b = usize::MAX;
    p.a.ping(p.now, target, "sip:gw@192.0.2.2");
    p.run();
    p.advance(Duration::from_secs(33));
    assert!(p
        .a_events
        .iter()
        .any(|e| matches!(e, UaEvent::PingResult { status: 408, .. })));
}

#[test]
fn session_timer_negotiated_refreshed_by_update_and_expiry_sends_bye() {
    let mut p = Pair::new();
    let a_call = p.call_a_to_b();
    let b_call = p.b_incoming();
    p.b.respond(p.now, b_call, StatusCode::OK, None, &[], Some(b"v=0\r\n"));
    p.run();
    let ok = p.a_events.iter().find_map(|e| match e {
        UaEvent::Answered { response, .. } => Some(response.clone()),
        _ => None,
    });
    let se = ok
        .unwrap()
        .get::<crate::sip::header::SessionExpires<'_>>()
        .unwrap()
        .map(|s| (s.seconds, s.refresher));
    assert_eq!(
        se,
        Some((1800, Some(crate::sip::header::Refresher::Uac))),
        "the UAC refreshes"
    );
    // a (the refresher) sends UPDATE at half the interval; b's timer restarts on it.
    p.advance(Duration::from_secs(901));
    assert!(
        p.wire.iter().any(|l| l.starts_with("UPDATE")),
        "{:?}",
        p.wire
    );
    assert!(p.b_events.iter().any(|e| matches!(e, UaEvent::Request { request, .. } if request.method() == Some(Method::Update))));
    // Now a stops refreshing (its UPDATEs are lost): b clears the call before the end.
    let b_req = p.b_events.iter().find_map(|e| match e {
        UaEvent::Request { handle, .. } => Some(*handle),
        _ => None,
    });
    p.b.respond_request(p.now, b_req.unwrap(), StatusCode::OK, &[], None);
    p.run();
    p.drop_a_to_b = usize::MAX;
    p.advance(Duration::from_secs(1800));
    assert!(p
        .b_events
        .iter()
        .any(|e| matches!(e, UaEvent::SessionExpired { call } if *call == b_call)));
    let _ = a_call;
}

#[test]
fn too_short_session_interval_gets_422() {
    let mut p = Pair::new();
    let inv = SipMessage::parse(
        &b"INVITE sip:1@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKse\r\n\
Max-Forwards: 70\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:1@c>\r\nCall-ID: se\r\nCSeq: 1 INVITE\r\n\
Supported: timer\r\nSession-Expires: 30\r\nContact: <sip:a@192.0.2.1>\r\nContent-Length: 0\r\n\r\n"
            [..],
    )
    .unwrap();
    let src = Target {
        protocol: Protocol::Udp,
        addr: p.a_addr,
    };
    p.b.handle_incoming(
        p.now,
        Incoming {
            message: inv,
            source: src,
            local: p.b_addr,
        },
    );
    let (_, resp) = p.b.poll_transmit().unwrap();
    let resp = SipMessage::parse(resp).unwrap();
    assert_eq!(resp.status().unwrap().code(), 422);
    assert_eq!(resp.header_value(&HeaderName::MinSe), Some(&b"90"[..]));
    assert!(p.b.poll_event().is_none(), "no call reaches the core");
}

/// A peer's request to endpoint `b` as received over UDP from 192.0.2.1:5060.
fn feed(b: &mut Endpoint, now: Instant, text: &str) {
    b.handle_incoming(
        now,
        Incoming {
            message: SipMessage::parse(text.replace('\n', "\r\n").into_bytes()).unwrap(),
            source: Target {
                protocol: Protocol::Udp,
                addr: "192.0.2.1:5060".parse().unwrap(),
            },
            local: "192.0.2.2:5060".parse().unwrap(),
        },
    );
}

fn sent(b: &mut Endpoint) -> Vec<bytes::Bytes> {
    std::iter::from_fn(|| b.poll_transmit().map(|(_, m)| m)).collect()
}

fn request_text(method: &str, branch: &str, cseq: &str, to_tag: &str) -> String {
    format!(
        "{method} sip:gw@192.0.2.2 SIP/2.0\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}\n\
Max-Forwards: 70\n\
From: <sip:100@192.0.2.1>;tag=peer1\n\
To: <sip:gw@192.0.2.2>{to_tag}\n\
Call-ID: finished-1@192.0.2.1\n\
CSeq: {cseq}\n\
Contact: <sip:100@192.0.2.1:5060>\n\
Content-Length: 0\n\n"
    )
}

#[test]
fn finished_transactions_absorb_retransmissions_until_timers_l_and_j() {
    let t0 = Instant::now();
    let mut b = endpoint("192.0.2.2:5060".parse().unwrap(), "gw");
    feed(
        &mut b,
        t0,
        &request_text("INVITE", "z9hG4bKinv1", "1 INVITE", ""),
    );
    let call = match b.poll_event() {
        Some(UaEvent::IncomingCall { call, .. }) => call,
        other => panic!("expected the call, got {other:?}"),
    };
    b.respond(t0, call, StatusCode::OK, None, &[], Some(b"v=0\r\n"));
    let ok = sent(&mut b);
    assert_eq!(ok.len(), 1);
    let ok = SipMessage::parse(ok[0].clone()).unwrap();
    let tag = format!(";tag={}", ok.to().unwrap().tag().unwrap());
    // RFC 6026 §7.1: a retransmitted INVITE is absorbed by the accepted transaction (the
    // 2xx is retransmitted by the UAS core on its own timer, not in answer to it).
    feed(
        &mut b,
        t0,
        &request_text("INVITE", "z9hG4bKinv1", "1 INVITE", ""),
    );
    assert!(sent(&mut b).is_empty());
    assert!(b.poll_event().is_none());
    // A CANCEL crossing the 200 gets its own 200 and changes nothing (§9.2).
    feed(
        &mut b,
        t0,
        &request_text("CANCEL", "z9hG4bKinv1", "1 CANCEL", ""),
    );
    let cancel_ok = sent(&mut b);
    assert_eq!(cancel_ok.len(), 1);
    assert!(
        first_line(&cancel_ok[0]).contains("200"),
        "{:?}",
        cancel_ok[0]
    );
    assert!(cancel_ok[0].windows(6).any(|w| w == b"CANCEL"));
    assert!(b.poll_event().is_none());
    // An ACK that reuses the INVITE's branch matches the accepted transaction: it goes to
    // the TU all the same (RFC 6026 §7.1) and confirms the call.
    feed(
        &mut b,
        t0,
        &request_text("ACK", "z9hG4bKinv1", "1 ACK", &tag),
    );
    assert!(matches!(b.poll_event(), Some(UaEvent::Confirmed { call: c, sdp: None }) if c == call));
    // BYE, then its retransmission: the same 200 both times (§17.2.2).
    feed(
        &mut b,
        t0,
        &request_text("BYE", "z9hG4bKbye1", "2 BYE", &tag),
    );
    assert!(matches!(b.poll_event(), Some(UaEvent::Bye { .. })));
    let first = sent(&mut b);
    feed(
        &mut b,
        t0,
        &request_text("BYE", "z9hG4bKbye1", "2 BYE", &tag),
    );
    assert_eq!(sent(&mut b), first);
    assert!(b.poll_event().is_none());
    assert_eq!(b.call_count(), 0);
    assert!(b.transaction_count() >= 2);
    // Timers L and J (64·T1) end them; nothing is left and nothing more is due.
    let t1 = t0 + Duration::from_secs(31);
    b.handle_timeout(t1);
    assert!(b.transaction_count() >= 2);
    let mut now = t1;
    while let Some(t) = b.poll_timeout() {
        assert!(
            t <= t0 + Duration::from_secs(33),
            "a deadline left at {t:?}"
        );
        now = t.max(now);
        b.handle_timeout(now);
    }
    assert_eq!(b.transaction_count(), 0);
    // After Timer J the BYE is unknown: a late copy is a request for no dialog (481).
    feed(
        &mut b,
        now,
        &request_text("BYE", "z9hG4bKbye1", "2 BYE", &tag),
    );
    let late = sent(&mut b);
    assert_eq!(late.len(), 1);
    assert!(first_line(&late[0]).contains("481"), "{:?}", late[0]);
}

/// An INVITE without SDP: our 2xx carries the offer, the ACK the answer (RFC 3261
/// §13.2.1); the ACK's body goes up with `Confirmed`.
#[test]
fn the_ack_of_a_delayed_offer_carries_the_answer_up() {
    let t0 = Instant::now();
    let mut b = endpoint("192.0.2.2:5060".parse().unwrap(), "gw");
    feed(
        &mut b,
        t0,
        &request_text("INVITE", "z9hG4bKdo1", "1 INVITE", ""),
    );
    let call = match b.poll_event() {
        Some(UaEvent::IncomingCall { call, .. }) => call,
        other => panic!("expected the call, got {other:?}"),
    };
    b.respond(t0, call, StatusCode::OK, None, &[], Some(b"v=0\r\n"));
    let ok = SipMessage::parse(sent(&mut b)[0].clone()).unwrap();
    let tag = format!(";tag={}", ok.to().unwrap().tag().unwrap());
    // `feed` turns the text's line ends into CRLF.
    let answer =
        "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000 RTP/AVP 8\n";
    let ack = request_text("ACK", "z9hG4bKack1", "1 ACK", &tag).replace(
        "Content-Length: 0\n\n",
        &format!(
            "Content-Type: application/sdp\nContent-Length: {}\n\n{answer}",
            answer.len() + answer.matches('\n').count()
        ),
    );
    feed(&mut b, t0, &ack);
    match b.poll_event() {
        Some(UaEvent::Confirmed { call: c, sdp }) => {
            assert_eq!(c, call);
            assert_eq!(sdp, Some(answer.replace('\n', "\r\n").into_bytes()));
        }
        other => panic!("expected Confirmed, got {other:?}"),
    }
}

/// A registrar that restarted between its challenge and our answer (its nonce key
/// changed) challenges the right answer again with `stale=true`: answered once more
/// (RFC 7616 §3.3). A third challenge in a row is a refusal.
#[test]
fn registration_answers_a_stale_challenge_once_more_and_no_more() {
    use crate::sip::digest::{Algorithm, AuthError, DigestServer};
    let mut p = Pair::new();
    p.a.add_credentials(None, "gw", "pw");
    let h = p.register_at_b(600);
    let pw = |u: &str| (u == "gw").then(|| "pw".to_string());
    // Answer the next REGISTER with a challenge from `server` (or 200 when its
    // credentials check); returns why its credentials did not check, if they did not.
    let step = |p: &mut Pair, server: &mut DigestServer, stale: bool| -> Option<AuthError> {
        let (_, bytes) = p.a.poll_transmit().expect("REGISTER sent");
        let req = SipMessage::parse(bytes).unwrap();
        let checked = req
            .header_value(&HeaderName::Authorization)
            .map(|a| server.verify(std::str::from_utf8(a).unwrap(), "REGISTER", 11, pw));
        match &checked {
            Some(Ok(_)) => {
                p.registrar_answers(&req, StatusCode::OK, Some(("Expires", "120".into())))
            }
            _ => {
                let ch = server.challenge(10, Algorithm::Md5, stale);
                let challenge = ("WWW-Authenticate", ch.to_header_value());
                p.registrar_answers(&req, StatusCode::UNAUTHORIZED, Some(challenge));
            }
        }
        checked.and_then(Result::err)
    };
    let mut before = DigestServer::new("reg.test", b"old".to_vec());
    assert_eq!(step(&mut p, &mut before, false), None, "no credentials yet");
    // The registrar restarted: our right answer to the old nonce is stale.
    let mut after = DigestServer::new("reg.test", b"new".to_vec());
    assert_eq!(step(&mut p, &mut after, true), Some(AuthError::Stale));
    assert_eq!(step(&mut p, &mut after, false), None, "answered again: 200");
    let ev: Vec<_> = std::iter::from_fn(|| p.a.poll_event()).collect();
    assert!(ev
        .iter()
        .any(|e| matches!(e, UaEvent::Registered { handle, expires: 120 } if *handle == h)));

    // A registrar that challenges the answer again without `stale` is refusing: the
    // challenge is not answered.
    // The registration failed, and no REGISTER followed.
    let gave_up = |p: &mut Pair, what: &str| {
        assert!(p.a.poll_transmit().is_none(), "{what}");
        let ev: Vec<_> = std::iter::from_fn(|| p.a.poll_event()).collect();
        assert!(ev
            .iter()
            .any(|e| matches!(e, UaEvent::RegistrationFailed { .. })));
    };
    let wrong = || {
        let mut p = Pair::new();
        p.a.add_credentials(None, "gw", "wrong");
        p.register_at_b(600);
        p
    };
    let mut p = wrong();
    let mut server = DigestServer::new("reg.test", b"k".to_vec());
    assert_eq!(step(&mut p, &mut server, false), None);
    assert_eq!(
        step(&mut p, &mut server, false),
        Some(AuthError::WrongResponse)
    );
    gave_up(&mut p, "no third REGISTER");

    // With `stale` it is answered once more, and never a third time.
    let mut p = wrong();
    assert_eq!(step(&mut p, &mut server, false), None);
    assert_eq!(
        step(&mut p, &mut server, true),
        Some(AuthError::WrongResponse)
    );
    // The second answer is refused too, with a stale-marked challenge: not answered.
    assert_eq!(
        step(&mut p, &mut server, true),
        Some(AuthError::WrongResponse)
    );
    gave_up(&mut p, "no fourth REGISTER");
}

/// A removal asked for while a refresh awaits its answer goes out only after that answer
/// (RFC 3261 §10.2: a UA must not send a new registration before the previous one has
/// its final response), and only the removal's own answer ends the registration.
#[test]
fn a_removal_waits_for_the_pending_refresh() {
    let mut p = Pair::new();
    let h = p.register_at_b(120);
    let sent = |p: &mut Pair| -> Vec<SipMessage> {
        std::iter::from_fn(|| p.a.poll_transmit())
            .map(|(_, b)| SipMessage::parse(b).unwrap())
            .filter(|m| m.method() == Some(Method::Register))
            .collect()
    };
    let ok = |p: &mut Pair, req: &SipMessage| {
        p.registrar_answers(req, StatusCode::OK, Some(("Expires", "120".into())));
    };
    let first = sent(&mut p);
    assert_eq!(first.len(), 1);
    ok(&mut p, &first[0]);
    // The refresh goes out, and while it waits the daemon stops.
    p.now += Duration::from_secs(108);
    p.a.handle_timeout(p.now);
    let refresh = sent(&mut p);
    assert_eq!(refresh.len(), 1, "the refresh");
    p.a.unregister(p.now, h);
    assert!(
        sent(&mut p).is_empty(),
        "no removal while the refresh waits"
    );
    let expires = |m: &SipMessage| {
        String::from_utf8_lossy(m.header_value(&HeaderName::Expires).unwrap()).into_owned()
    };
    ok(&mut p, &refresh[0]);
    let removal = sent(&mut p);
    assert_eq!(removal.len(), 1, "the removal after the refresh's answer");
    assert_eq!(expires(&removal[0]), "0");
    assert!(removal[0].cseq().unwrap().seq > refresh[0].cseq().unwrap().seq);
    let events: Vec<_> = std::iter::from_fn(|| p.a.poll_event()).collect();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, UaEvent::Registered { expires: 0, .. })),
        "the refresh's 200 is not the removal's: {events:?}"
    );
    ok(&mut p, &removal[0]);
    let events: Vec<_> = std::iter::from_fn(|| p.a.poll_event()).collect();
    assert!(events
        .iter()
        .any(|e| matches!(e, UaEvent::Registered { handle, expires: 0 } if *handle == h)));
}
