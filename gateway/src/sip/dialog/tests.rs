use super::*;
use crate::sip::{ResponseBuilder, StatusCode};

fn invite() -> SipMessage {
    SipMessage::parse(
        &b"INVITE sip:0301234@gw.example.net SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bKinv1\r\n\
Record-Route: <sip:p2.example.net;lr>, <sip:p1.example.net;lr>\r\n\
Max-Forwards: 70\r\n\
From: \"Alice\" <sip:alice@example.net>;tag=a1\r\n\
To: <sip:0301234@gw.example.net>\r\n\
Call-ID: call-1@192.0.2.2\r\n\
CSeq: 7 INVITE\r\n\
Contact: <sip:alice@192.0.2.2:5060>\r\n\
Content-Length: 0\r\n\r\n"[..],
    )
    .unwrap()
}

fn ok_from_uas(inv: &SipMessage) -> SipMessage {
    let b = ResponseBuilder::from_request(inv, StatusCode::OK, None, Some("g1"))
        .header(
            "Record-Route",
            "<sip:p2.example.net;lr>, <sip:p1.example.net;lr>",
        )
        .header("Contact", "<sip:gw@198.51.100.1:5060>")
        .build();
    SipMessage::parse(b).unwrap()
}

#[test]
fn uas_dialog_routes_bye_through_record_route_in_order() {
    let inv = invite();
    let mut d = Dialog::uas(&inv, "g1", "sip:gw@198.51.100.1:5060").unwrap();
    assert_eq!(d.state(), DialogState::Early);
    d.confirm();
    let bye = SipMessage::parse(
        d.request(
            Method::Bye,
            "SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKb1",
            None,
        )
        .build(),
    )
    .unwrap();
    assert_eq!(
        bye.request_uri_str(),
        Some("sip:alice@192.0.2.2:5060"),
        "remote target"
    );
    let routes: Vec<_> = bye
        .header_fields(&HeaderName::Route)
        .map(|h| text(h.value))
        .collect();
    assert_eq!(
        routes,
        ["<sip:p2.example.net;lr>", "<sip:p1.example.net;lr>"]
    );
    assert_eq!(bye.from().unwrap().tag(), Some("g1"), "our tag in From");
    assert_eq!(bye.to().unwrap().tag(), Some("a1"));
    assert_eq!(bye.cseq().unwrap().seq, 1);
    assert!(d.matches(
        &SipMessage::parse(
            &b"BYE sip:gw@198.51.100.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKx\r\n\
From: <sip:alice@example.net>;tag=a1\r\nTo: <sip:0301234@gw.example.net>;tag=g1\r\n\
Call-ID: call-1@192.0.2.2\r\nCSeq: 8 BYE\r\nContent-Length: 0\r\n\r\n"[..]
        )
        .unwrap()
    ));
}

#[test]
fn uac_dialog_reverses_record_route_and_acks_2xx() {
    let inv = invite();
    let ok = ok_from_uas(&inv);
    let mut d = Dialog::uac(&inv, &ok).unwrap();
    assert_eq!(d.state(), DialogState::Confirmed);
    assert_eq!(d.remote_target(), "sip:gw@198.51.100.1:5060");
    assert_eq!(
        d.route_set(),
        ["<sip:p1.example.net;lr>", "<sip:p2.example.net;lr>"]
    );
    let ack = SipMessage::parse(d.ack("SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKack", 7)).unwrap();
    let cseq = ack.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (7, Method::Ack));
    assert_eq!(ack.to().unwrap().tag(), Some("g1"));
    let bye = SipMessage::parse(
        d.request(Method::Bye, "SIP/2.0/UDP x;branch=z9hG4bKb", None)
            .build(),
    )
    .unwrap();
    assert_eq!(bye.cseq().unwrap().seq, 8, "CSeq continues from the INVITE");
}

#[test]
fn strict_router_gets_the_request_uri() {
    let inv = invite();
    let ok = SipMessage::parse(
        ResponseBuilder::from_request(&inv, StatusCode::OK, None, Some("g1"))
            .header("Record-Route", "<sip:strict.example.net>")
            .header("Contact", "<sip:gw@198.51.100.1>")
            .build(),
    )
    .unwrap();
    let mut d = Dialog::uac(&inv, &ok).unwrap();
    let bye = SipMessage::parse(
        d.request(Method::Bye, "SIP/2.0/UDP x;branch=z9hG4bKb", None)
            .build(),
    )
    .unwrap();
    assert_eq!(bye.request_uri_str(), Some("sip:strict.example.net"));
    let routes: Vec<_> = bye
        .header_fields(&HeaderName::Route)
        .map(|h| text(h.value))
        .collect();
    assert_eq!(
        routes,
        ["<sip:gw@198.51.100.1>"],
        "remote target last (§12.2.1.1)"
    );
}

#[test]
fn in_dialog_requests_check_cseq_and_refresh_target() {
    let inv = invite();
    let mut d = Dialog::uas(&inv, "g1", "sip:gw@198.51.100.1").unwrap();
    let req = |method: &str, seq: u32, contact: &str| {
        SipMessage::parse(format!(
            "{method} sip:gw@198.51.100.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK{seq}\r\n\
From: <sip:alice@example.net>;tag=a1\r\nTo: <sip:0301234@gw.example.net>;tag=g1\r\n\
Call-ID: call-1@192.0.2.2\r\nCSeq: {seq} {method}\r\nContact: <{contact}>\r\nContent-Length: 0\r\n\r\n"
        ))
        .unwrap()
    };
    d.handle_request(&req("INVITE", 8, "sip:alice@192.0.2.77"))
        .unwrap();
    assert_eq!(
        d.remote_target(),
        "sip:alice@192.0.2.77",
        "re-INVITE refreshes the target"
    );
    assert_eq!(
        d.handle_request(&req("INFO", 5, "sip:x@y")),
        Err(DialogError::CSeqOutOfOrder { got: 5, last: 8 }),
        "lower CSeq: 500"
    );
    d.handle_request(&req("BYE", 9, "sip:x@y")).unwrap();
    assert_eq!(d.state(), DialogState::Terminated);
    let mut other = req("BYE", 10, "sip:x@y");
    other =
        SipMessage::parse(String::from_utf8_lossy(other.as_bytes()).replace("tag=g1", "tag=zz"))
            .unwrap();
    assert_eq!(d.handle_request(&other), Err(DialogError::WrongDialog));
}

#[test]
fn response_without_to_tag_makes_no_dialog() {
    let inv = invite();
    let trying = SipMessage::parse(
        ResponseBuilder::from_request(&inv, StatusCode::TRYING, None, None).build(),
    )
    .unwrap();
    assert_eq!(
        Dialog::uac(&inv, &trying).unwrap_err(),
        DialogError::NoRemoteTag
    );
}

#[test]
fn rseq_sequence_for_100rel() {
    let inv = invite();
    let mut d = Dialog::uas(&inv, "g1", "sip:gw@h").unwrap();
    let first = d.next_rseq(12345);
    assert_eq!(d.next_rseq(0), first + 1);
    let ok = ok_from_uas(&inv);
    let mut c = Dialog::uac(&inv, &ok).unwrap();
    assert!(c.accept_rseq(40));
    assert!(!c.accept_rseq(40), "retransmission");
    assert!(!c.accept_rseq(42), "out of order");
    assert!(c.accept_rseq(41));
}
