//! Transactions in virtual time: every timer of RFC 3261 §17 as a short test.

use std::time::{Duration, Instant};

use super::*;
use crate::sip::{ResponseBuilder, SipMessage, StatusCode};

fn invite() -> SipMessage {
    SipMessage::parse(
        &b"INVITE sip:0301234@gw.example.net SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bKinv1, SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKup\r\n\
Max-Forwards: 70\r\n\
Route: <sip:proxy.example.net;lr>\r\n\
From: \"Alice\" <sip:alice@example.net>;tag=a1\r\n\
To: <sip:0301234@gw.example.net>\r\n\
Call-ID: call-1@192.0.2.2\r\n\
CSeq: 7 INVITE\r\n\
Contact: <sip:alice@192.0.2.2>\r\n\
Content-Length: 0\r\n\r\n"[..],
    )
    .unwrap()
}

fn options() -> SipMessage {
    SipMessage::parse(
        &b"OPTIONS sip:gw.example.net SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bKopt1\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@example.net>;tag=a1\r\n\
To: <sip:gw.example.net>\r\n\
Call-ID: opt-1@192.0.2.2\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n"[..],
    )
    .unwrap()
}

fn response_to(req: &SipMessage, code: u16) -> SipMessage {
    let bytes =
        ResponseBuilder::from_request(req, StatusCode::new(code).unwrap(), None, Some("gw9"))
            .build();
    SipMessage::parse(bytes).unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Advance `poll_timeout` by `poll_timeout` until `end`, collecting the times at which
/// something was transmitted.
macro_rules! run_until {
    ($tx:expr, $t0:expr, $end:expr) => {{
        let mut sent = Vec::new();
        while $tx.poll_transmit().is_some() {
            sent.push(Duration::ZERO);
        }
        while let Some(at) = $tx.poll_timeout() {
            if at > $t0 + $end {
                break;
            }
            $tx.handle_timeout(at);
            while $tx.poll_transmit().is_some() {
                sent.push(at - $t0);
            }
        }
        sent
    }};
}

#[test]
fn non_invite_client_timer_e_doubles_to_t2_then_timer_f() {
    let t0 = Instant::now();
    let mut tx = NonInviteClient::new(t0, options(), false, Timers::default());
    let sent = run_until!(tx, t0, Duration::from_secs(40));
    let expect: Vec<Duration> = [
        0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500,
    ]
    .into_iter()
    .map(ms)
    .collect();
    assert_eq!(sent, expect);
    assert!(matches!(tx.poll_event(), Some(ClientEvent::Timeout)));
    assert!(tx.is_terminated());
}

#[test]
fn non_invite_client_in_proceeding_retransmits_every_t2() {
    let t0 = Instant::now();
    let req = options();
    let mut tx = NonInviteClient::new(t0, req.clone(), false, Timers::default());
    tx.poll_transmit();
    tx.handle_timeout(t0 + ms(500));
    assert!(tx.poll_transmit().is_some());
    tx.handle_response(t0 + ms(1000), response_to(&req, 100));
    assert!(matches!(tx.poll_event(), Some(ClientEvent::Provisional(_))));
    assert_eq!(tx.poll_timeout(), Some(t0 + ms(5000)), "T2 after the 1xx");
    tx.handle_response(t0 + ms(2000), response_to(&req, 200));
    assert!(matches!(tx.poll_event(), Some(ClientEvent::Final(_))));
    assert_eq!(tx.state(), State::Completed);
    // Retransmitted 200: absorbed.
    tx.handle_response(t0 + ms(2100), response_to(&req, 200));
    assert!(tx.poll_event().is_none());
    // Timer K = T4.
    assert_eq!(tx.poll_timeout(), Some(t0 + ms(7000)));
    tx.handle_timeout(t0 + ms(7000));
    assert!(tx.is_terminated());
}

#[test]
fn reliable_transport_has_no_retransmissions_and_zero_timer_k() {
    let t0 = Instant::now();
    let req = options();
    let mut tx = NonInviteClient::new(t0, req.clone(), true, Timers::default());
    let sent = run_until!(tx, t0, Duration::from_secs(10));
    assert_eq!(sent, vec![Duration::ZERO]);
    tx.handle_response(t0 + ms(10), response_to(&req, 200));
    tx.handle_timeout(t0 + ms(10));
    assert!(tx.is_terminated(), "Timer K is 0 on TCP");
}

#[test]
fn invite_client_timer_a_doubles_without_cap_and_b_times_out() {
    let t0 = Instant::now();
    let mut tx = InviteClient::new(t0, invite(), false, Timers::default());
    let sent = run_until!(tx, t0, Duration::from_secs(40));
    let expect: Vec<Duration> = [0, 500, 1500, 3500, 7500, 15500, 31500]
        .into_iter()
        .map(ms)
        .collect();
    assert_eq!(sent, expect);
    assert!(matches!(tx.poll_event(), Some(ClientEvent::Timeout)));
}

#[test]
fn invite_client_acks_non_2xx_and_absorbs_retransmissions() {
    let t0 = Instant::now();
    let inv = invite();
    let mut tx = InviteClient::new(t0, inv.clone(), false, Timers::default());
    tx.poll_transmit();
    tx.handle_response(t0 + ms(100), response_to(&inv, 180));
    assert!(matches!(tx.poll_event(), Some(ClientEvent::Provisional(_))));
    tx.handle_timeout(t0 + ms(600));
    assert!(tx.poll_transmit().is_none(), "Timer A stops in Proceeding");
    tx.handle_response(t0 + ms(1000), response_to(&inv, 486));
    assert!(
        matches!(tx.poll_event(), Some(ClientEvent::Final(r)) if r.status().unwrap().code() == 486)
    );
    let ack = SipMessage::parse(tx.poll_transmit().expect("ACK")).unwrap();
    assert_eq!(ack.method(), Some(crate::sip::Method::Ack));
    assert_eq!(ack.request_uri_str(), Some("sip:0301234@gw.example.net"));
    assert_eq!(ack.top_via().unwrap().branch(), Some("z9hG4bKinv1"));
    assert_eq!(ack.via().unwrap().len(), 1, "only the top Via");
    assert_eq!(ack.to().unwrap().tag(), Some("gw9"));
    assert_eq!(ack.from().unwrap().tag(), Some("a1"));
    let cseq = ack.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (7, crate::sip::Method::Ack));
    assert!(ack.header_value(&crate::sip::HeaderName::Route).is_some());
    // The 486 again: ACK again, no event.
    tx.handle_response(t0 + ms(1500), response_to(&inv, 486));
    assert!(tx.poll_event().is_none());
    assert!(tx.poll_transmit().is_some());
    // Timer D = 32 s on UDP.
    assert_eq!(tx.poll_timeout(), Some(t0 + ms(33_000)));
    tx.handle_timeout(t0 + ms(33_000));
    assert!(tx.is_terminated());
}

#[test]
fn invite_client_passes_every_2xx_up_in_accepted() {
    let t0 = Instant::now();
    let inv = invite();
    let mut tx = InviteClient::new(t0, inv.clone(), false, Timers::default());
    tx.handle_response(t0 + ms(100), response_to(&inv, 200));
    tx.handle_response(t0 + ms(200), response_to(&inv, 200));
    assert!(matches!(tx.poll_event(), Some(ClientEvent::Final(_))));
    assert!(
        matches!(tx.poll_event(), Some(ClientEvent::Final(_))),
        "RFC 6026: forked 2xx"
    );
    assert_eq!(tx.state(), State::Accepted);
    tx.handle_timeout(t0 + ms(100) + Duration::from_secs(32));
    assert!(tx.is_terminated(), "Timer M");
}

#[test]
fn invite_server_sends_100_after_200ms_and_resends_last_response() {
    let t0 = Instant::now();
    let inv = invite();
    let mut tx = InviteServer::new(t0, inv.clone(), false, Timers::default());
    assert_eq!(tx.poll_timeout(), Some(t0 + ms(200)));
    tx.handle_timeout(t0 + ms(200));
    let trying = SipMessage::parse(tx.poll_transmit().unwrap()).unwrap();
    assert_eq!(trying.status(), Some(StatusCode::TRYING));
    tx.handle_request(t0 + ms(500), inv.clone());
    assert_eq!(
        SipMessage::parse(tx.poll_transmit().unwrap())
            .unwrap()
            .status(),
        Some(StatusCode::TRYING),
        "retransmitted INVITE gets the last provisional"
    );
}

#[test]
fn invite_server_timer_g_and_h_without_ack() {
    let t0 = Instant::now();
    let inv = invite();
    let mut tx = InviteServer::new(t0, inv.clone(), false, Timers::default());
    let busy = ResponseBuilder::from_request(&inv, StatusCode::BUSY_HERE, None, Some("x")).build();
    tx.respond(t0, busy, StatusCode::BUSY_HERE);
    let sent = run_until!(tx, t0, Duration::from_secs(40));
    let expect: Vec<Duration> = [
        0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500,
    ]
    .into_iter()
    .map(ms)
    .collect();
    assert_eq!(sent, expect, "Timer G doubles to T2");
    assert!(
        matches!(tx.poll_event(), Some(ServerEvent::AckTimeout)),
        "Timer H"
    );
}

#[test]
fn invite_server_ack_confirms_then_timer_i() {
    let t0 = Instant::now();
    let inv = invite();
    let mut tx = InviteServer::new(t0, inv.clone(), false, Timers::default());
    let busy = ResponseBuilder::from_request(&inv, StatusCode::BUSY_HERE, None, Some("x")).build();
    tx.respond(t0, busy.clone(), StatusCode::BUSY_HERE);
    tx.poll_transmit();
    let ack = SipMessage::parse(ack_for_non_2xx(&inv, &SipMessage::parse(busy).unwrap())).unwrap();
    assert_eq!(
        ServerKey::of(&ack).unwrap(),
        ServerKey::of(&inv).unwrap(),
        "ACK matches"
    );
    tx.handle_request(t0 + ms(300), ack);
    assert_eq!(tx.state(), State::Confirmed);
    tx.handle_timeout(t0 + ms(600));
    assert!(tx.poll_transmit().is_none(), "no more Timer G");
    tx.handle_timeout(t0 + ms(5300));
    assert!(tx.is_terminated(), "Timer I = T4");
}

#[test]
fn invite_server_2xx_goes_to_accepted_and_passes_acks_up() {
    let t0 = Instant::now();
    let inv = invite();
    let mut tx = InviteServer::new(t0, inv.clone(), false, Timers::default());
    let ok = ResponseBuilder::from_request(&inv, StatusCode::OK, None, Some("x")).build();
    tx.respond(t0, ok.clone(), StatusCode::OK);
    assert_eq!(tx.state(), State::Accepted);
    tx.poll_transmit();
    tx.handle_request(t0 + ms(10), inv.clone());
    assert!(
        tx.poll_transmit().is_none(),
        "INVITE retransmission absorbed in Accepted"
    );
    tx.respond(t0 + ms(500), ok, StatusCode::OK);
    assert!(
        tx.poll_transmit().is_some(),
        "the core's 2xx retransmission goes out"
    );
    tx.handle_timeout(t0 + Duration::from_secs(32));
    assert!(tx.is_terminated(), "Timer L");
}

#[test]
fn non_invite_server_resends_final_and_timer_j() {
    let t0 = Instant::now();
    let req = options();
    let mut tx = NonInviteServer::new(t0, req.clone(), false, Timers::default());
    tx.handle_request(t0, req.clone());
    assert!(tx.poll_transmit().is_none(), "nothing to resend in Trying");
    let ok = ResponseBuilder::from_request(&req, StatusCode::OK, None, Some("x")).build();
    tx.respond(t0, ok, StatusCode::OK);
    tx.poll_transmit();
    tx.handle_request(t0 + ms(500), req);
    assert!(tx.poll_transmit().is_some());
    assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
    tx.handle_timeout(t0 + Duration::from_secs(32));
    assert!(tx.is_terminated());
}

#[test]
fn uas_2xx_retransmits_until_ack_or_64_t1() {
    let t0 = Instant::now();
    let mut r = Uas2xxRetransmitter::new(t0, bytes::Bytes::from_static(b"x"), Timers::default());
    let sent = run_until!(r, t0, ms(8000));
    let expect: Vec<Duration> = [500, 1500, 3500, 7500].into_iter().map(ms).collect();
    assert_eq!(sent, expect);
    r.handle_ack();
    assert!(r.is_done() && !r.ack_timed_out());
    let mut r = Uas2xxRetransmitter::new(t0, bytes::Bytes::from_static(b"x"), Timers::default());
    while let Some(at) = r.poll_timeout() {
        r.handle_timeout(at);
        r.poll_transmit();
    }
    assert!(r.ack_timed_out(), "no ACK in 64*T1: the TU must send BYE");
}

#[test]
fn keys_match_responses_and_tell_cancel_from_invite() {
    let inv = invite();
    let resp = response_to(&inv, 180);
    assert_eq!(ClientKey::of(&inv).unwrap(), ClientKey::of(&resp).unwrap());
    let cancel = SipMessage::parse(
        &b"CANCEL sip:0301234@gw.example.net SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bKinv1\r\n\
Max-Forwards: 70\r\nFrom: \"Alice\" <sip:alice@example.net>;tag=a1\r\n\
To: <sip:0301234@gw.example.net>\r\nCall-ID: call-1@192.0.2.2\r\nCSeq: 7 CANCEL\r\n\
Content-Length: 0\r\n\r\n"[..],
    )
    .unwrap();
    let ck = ServerKey::of(&cancel).unwrap();
    assert_ne!(ck, ServerKey::of(&inv).unwrap());
    assert_eq!(ck.with_method("INVITE"), ServerKey::of(&inv).unwrap());
}
