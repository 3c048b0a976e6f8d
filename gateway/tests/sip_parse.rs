//! SIP message parsing, stream framing, building and typed headers.

use gateway::sip::builder::rebuild;
use gateway::sip::header::{
    Allow, Authorization, ContactValue, Diversion, Event, HistoryInfo, MinSe, PAssertedIdentity,
    PPreferredIdentity, Privacy, PrivacyValue, RAck, RSeq, Reason, ReferTo, ReferredBy, Refresher,
    Replaces, Require, RetryAfter, Server, SessionExpires, SubscriptionState, Supported,
    Unsupported, UserAgent, WwwAuthenticate,
};
use gateway::sip::validate::validate;
use gateway::sip::{
    HeaderName, Host, Method, ParseErrorKind, RequestBuilder, ResponseBuilder, SipMessage,
    StatusCode, StreamDecoder, StreamEvent, Uri,
};
use std::net::Ipv6Addr;

const SDP: &str = "v=0\r\n\
o=gw 2890844526 2890844526 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 8 0 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

/// A realistic trunk INVITE, Content-Length before the blank line as usual.
fn invite() -> Vec<u8> {
    format!(
        "INVITE sip:+4930123456@gw.example.net;user=phone SIP/2.0\r\n\
Via: SIP/2.0/TCP 198.51.100.7:5060;branch=z9hG4bK776asdhds;rport\r\n\
Via: SIP/2.0/UDP [2001:db8::7]:5062;branch=z9hG4bK-1;received=2001:db8::8;rport=5062\r\n\
Max-Forwards: 70\r\n\
To: <sip:+4930123456@gw.example.net;user=phone>\r\n\
From: \"Alice Example\" <sip:+4940111222@pbx.example.com;user=phone>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pbx.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@198.51.100.7:5060;transport=tcp>;expires=3600\r\n\
P-Asserted-Identity: \"Alice\" <sip:+4940111222@pbx.example.com>, <tel:+49-40-111222>\r\n\
Privacy: id\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE\r\n\
Supported: 100rel, timer, replaces\r\n\
Session-Expires: 1800;refresher=uac\r\n\
Min-SE: 90\r\n\
User-Agent: ExamplePBX/4.2 (trunk)\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\
\r\n{SDP}",
        SDP.len()
    )
    .into_bytes()
}

#[test]
fn invite_parses_with_common_headers_typed() {
    let m = SipMessage::parse(invite()).unwrap();
    validate(&m).unwrap();
    assert_eq!(m.method(), Some(Method::Invite));
    let ru = m.request_uri().unwrap();
    assert!(ru.as_sip().unwrap().is_user_phone());
    let vias = m.via().unwrap();
    assert_eq!(vias[0].rport(), Some(None));
    assert_eq!(vias[1].rport(), Some(Some(5062)));
    assert_eq!(
        vias[1].host,
        Host::Ipv6("2001:db8::7".parse::<Ipv6Addr>().unwrap())
    );
    assert_eq!(vias[1].port, Some(5062));
    assert_eq!(
        vias[1].received().unwrap().unwrap(),
        "2001:db8::8".parse::<std::net::IpAddr>().unwrap()
    );
    assert_eq!(m.from().unwrap().display_name().unwrap(), "Alice Example");
    assert_eq!(m.cseq().unwrap().seq, 314159);
    let ContactValue::Addresses(c) = m.contact().unwrap() else {
        panic!()
    };
    assert_eq!(c[0].expires().unwrap().unwrap(), 3600);
    assert_eq!(c[0].uri.as_sip().unwrap().transport(), Some("tcp"));
    let pai = m.get_all::<PAssertedIdentity>().unwrap();
    assert_eq!(pai.len(), 2);
    assert_eq!(pai[1].uri.as_tel().unwrap().digits(), "+4940111222");
    assert!(m
        .get::<Privacy>()
        .unwrap()
        .unwrap()
        .contains(PrivacyValue::Id));
    let allow: Vec<Method<'_>> = m.get_all::<Allow>().unwrap().iter().map(|a| a.0).collect();
    assert_eq!(allow.len(), 7);
    assert!(allow.contains(&Method::Prack));
    let sup: Vec<&str> = m
        .get_all::<Supported>()
        .unwrap()
        .iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(sup, ["100rel", "timer", "replaces"]);
    let se = m.get::<SessionExpires>().unwrap().unwrap();
    assert_eq!((se.seconds, se.refresher), (1800, Some(Refresher::Uac)));
    assert_eq!(m.get::<MinSe>().unwrap().unwrap().seconds, 90);
    assert_eq!(
        m.get::<UserAgent>().unwrap().unwrap().0,
        "ExamplePBX/4.2 (trunk)"
    );
    assert_eq!(m.body(), SDP.as_bytes());
}

fn decode_stream(chunks: &[&[u8]]) -> Vec<SipMessage> {
    let mut d = StreamDecoder::new();
    let mut out = Vec::new();
    for c in chunks {
        d.handle_data(c);
        while let Some(ev) = d.poll_event() {
            match ev.unwrap() {
                StreamEvent::Message(m) => out.push(m),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(d.buffered(), 0);
    out
}

#[test]
fn stream_split_at_every_byte_boundary_gives_the_same_message() {
    let raw = invite();
    let whole = SipMessage::parse(raw.clone()).unwrap();
    for i in 0..=raw.len() {
        let got = decode_stream(&[&raw[..i], &raw[i..]]);
        assert_eq!(got.len(), 1, "split at {i}");
        assert_eq!(got[0], whole, "split at {i}");
        assert_eq!(got[0].as_bytes(), &raw[..], "split at {i}");
    }
}

#[test]
fn stream_fed_one_octet_at_a_time() {
    let raw = invite();
    let chunks: Vec<&[u8]> = raw.chunks(1).collect();
    let got = decode_stream(&chunks);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].as_bytes(), &raw[..]);
}

#[test]
fn stream_content_length_in_an_earlier_segment_than_the_blank_line() {
    let raw = invite();
    let cl = raw
        .windows(16)
        .position(|w| w == b"Content-Length: ")
        .unwrap();
    let cl_end = cl + raw[cl..].iter().position(|&c| c == b'\n').unwrap() + 1;
    // Segment 1 ends right after the Content-Length line, segment 2 is the blank line alone,
    // segment 3 the body in two parts.
    let body = cl_end + 2;
    let got = decode_stream(&[
        &raw[..cl_end],
        &raw[cl_end..body],
        &raw[body..body + 10],
        &raw[body + 10..],
    ]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body(), SDP.as_bytes());
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn stream_random_n_splits_of_several_messages_with_keepalives() {
    let one = invite();
    let bye = RequestBuilder::new(Method::Bye, "sip:alice@198.51.100.7:5060;transport=tcp")
        .header("Via", "SIP/2.0/TCP 192.0.2.10;branch=z9hG4bKbye1")
        .header("Max-Forwards", "70")
        .header("From", "<sip:+4930123456@gw.example.net>;tag=gw1")
        .header("To", "<sip:+4940111222@pbx.example.com>;tag=1928301774")
        .header("Call-ID", "a84b4c76e66710@pbx.example.com")
        .header("CSeq", "1 BYE")
        .build();
    let mut stream = Vec::new();
    stream.extend_from_slice(&one);
    stream.extend_from_slice(b"\r\n\r\n"); // ping
    stream.extend_from_slice(&bye);
    stream.extend_from_slice(&one);
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for round in 0..500 {
        let n = 1 + rng.below(12);
        let mut cuts: Vec<usize> = (0..n).map(|_| rng.below(stream.len() + 1)).collect();
        cuts.sort_unstable();
        let mut d = StreamDecoder::new();
        let mut prev = 0;
        let mut msgs = Vec::new();
        let mut pings = 0;
        for &c in cuts.iter().chain(std::iter::once(&stream.len())) {
            d.handle_data(&stream[prev..c]);
            prev = c;
            while let Some(ev) = d.poll_event() {
                match ev.unwrap() {
                    StreamEvent::Message(m) => msgs.push(m),
                    StreamEvent::Ping => pings += 1,
                    other => panic!("round {round}: {other:?}"),
                }
            }
        }
        assert_eq!(pings, 1, "round {round} cuts {cuts:?}");
        assert_eq!(msgs.len(), 3, "round {round} cuts {cuts:?}");
        assert_eq!(msgs[0].as_bytes(), &one[..]);
        assert_eq!(msgs[1].as_bytes(), &bye[..]);
        assert_eq!(msgs[2].as_bytes(), &one[..]);
    }
}

#[test]
fn stream_pong_and_missing_content_length() {
    let mut d = StreamDecoder::new();
    d.handle_data(b"\r\n");
    assert_eq!(d.poll_event(), Some(Ok(StreamEvent::Pong)));
    d.handle_data(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\r\n");
    let err = d.poll_event().unwrap().unwrap_err();
    assert_eq!(err.0.kind, ParseErrorKind::MissingContentLength);
    // Framing is lost for good.
    d.handle_data(b"\r\n\r\n");
    assert_eq!(d.poll_event(), None);
}

#[test]
fn stream_bad_message_with_good_framing_keeps_the_connection() {
    let mut d = StreamDecoder::new();
    d.handle_data(b"INVITE sip:a@b SIP/3.0\r\nContent-Length: 0\r\n\r\n");
    match d.poll_event() {
        Some(Ok(StreamEvent::Invalid(e))) => {
            assert_eq!(e.response_status(), Some(StatusCode::VERSION_NOT_SUPPORTED))
        }
        other => panic!("{other:?}"),
    }
    d.handle_data(&invite());
    assert!(matches!(d.poll_event(), Some(Ok(StreamEvent::Message(_)))));
}

#[test]
fn stream_oversized_header_section_is_refused() {
    let mut d = StreamDecoder::with_limit(1024);
    d.handle_data(b"INVITE sip:a@b SIP/2.0\r\n");
    d.handle_data(&[b'X'; 2000]);
    let e = d.poll_event().unwrap().unwrap_err();
    assert_eq!(e.0.response_status(), Some(StatusCode::MESSAGE_TOO_LARGE));
}

#[test]
fn two_differing_content_length_headers_are_rejected() {
    let raw = b"OPTIONS sip:a@example.com SIP/2.0\r\nContent-Length: 0\r\nl: 4\r\n\r\nabcd";
    let e = SipMessage::parse(&raw[..]).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::Duplicate(HeaderName::ContentLength));
    assert_eq!(e.response_status(), Some(StatusCode::BAD_REQUEST));
    assert_eq!(e.offset, raw.windows(2).position(|w| w == b"l:").unwrap());
}

#[test]
fn bad_cseq_is_an_error_naming_the_header_and_offset() {
    for bad in [
        "CSeq: abc INVITE",
        "CSeq: 1",
        "CSeq: 2147483648 INVITE",
        "CSeq: 1 INVITE x",
    ] {
        let raw = format!(
            "INVITE sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
From: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: x\r\n{bad}\r\n\r\n"
        );
        let m = SipMessage::parse(raw.clone()).unwrap();
        let e = validate(&m).unwrap_err();
        assert_eq!(e.header_name(), Some(&HeaderName::CSeq), "{bad}");
        assert!(
            e.offset >= raw.find("CSeq: ").unwrap() + 6,
            "{bad}: {}",
            e.offset
        );
        assert_eq!(e.response_status(), Some(StatusCode::BAD_REQUEST));
    }
}

#[test]
fn bare_lf_and_bad_start_lines_are_rejected() {
    assert!(SipMessage::parse(&b"OPTIONS sip:a@b SIP/2.0\nVia: x\n\n"[..]).is_err());
    assert!(SipMessage::parse(&b"OPTIONS sip:a@b\r\n\r\n"[..]).is_err());
    assert!(SipMessage::parse(&b"SIP/2.0 99 Low\r\n\r\n"[..]).is_err());
    assert!(SipMessage::parse(&b"OPTIONS sip:a@b SIP/2.0\r\n : x\r\n\r\n"[..]).is_err());
    let e = SipMessage::parse(&b"OPTIONS sip:a@b SIP/2.0\r\nVia: x"[..]).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::Incomplete);
    // CRLFs before the start line are ignored (RFC 3261 §7.5).
    let m = SipMessage::parse(&b"\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\n\r\n"[..]).unwrap();
    assert_eq!(m.method(), Some(Method::Options));
}

#[test]
fn compact_forms_case_and_lists_across_fields() {
    let raw = "OPTIONS sip:a@example.com SIP/2.0\r\n\
v: SIP/2.0/UDP h1;branch=z9hG4bK1, SIP/2.0/UDP h2;branch=z9hG4bK2\r\n\
VIA: SIP/2.0/UDP h3;branch=z9hG4bK3\r\n\
f: <sip:b@example.com>;tag=1\r\nt: <sip:a@example.com>\r\ni: cid\r\n\
cseq: 1 OPTIONS\r\nk: timer\r\nK: 100rel\r\no: refer;id=5\r\nu: refer\r\n\
r: <sip:c@example.com>\r\nb: <sip:d@example.com>;cid=\"x@y\"\r\nx: 300\r\n\
m: <sip:a@h1>, <sip:a@h2>;q=0.5\r\nm: <sip:a@h3>;q=1\r\ne: gzip\r\ns: hello\r\nl: 0\r\n\r\n";
    let m = SipMessage::parse(raw).unwrap();
    validate(&m).unwrap();
    let hosts: Vec<String> = m
        .via()
        .unwrap()
        .iter()
        .map(|v| v.host.to_string())
        .collect();
    assert_eq!(hosts, ["h1", "h2", "h3"]);
    assert_eq!(m.call_id().unwrap().0, "cid");
    assert_eq!(m.get_all::<Supported>().unwrap().len(), 2);
    let ev = m.get::<Event>().unwrap().unwrap();
    assert_eq!((ev.package, ev.id()), ("refer", Some("5")));
    assert_eq!(
        m.get::<ReferTo>().unwrap().unwrap().uri.to_string(),
        "sip:c@example.com"
    );
    assert_eq!(
        m.get::<ReferredBy>()
            .unwrap()
            .unwrap()
            .params
            .unquoted("cid")
            .unwrap(),
        "x@y"
    );
    assert_eq!(m.get::<SessionExpires>().unwrap().unwrap().seconds, 300);
    let ContactValue::Addresses(c) = m.contact().unwrap() else {
        panic!()
    };
    let qs: Vec<Option<u16>> = c.iter().map(|c| c.q().map(|q| q.unwrap())).collect();
    assert_eq!(qs, [None, Some(500), Some(1000)]);
    assert_eq!(m.header_value(&HeaderName::Subject), Some(&b"hello"[..]));
    assert_eq!(
        m.header_value(&HeaderName::ContentEncoding),
        Some(&b"gzip"[..])
    );
}

#[test]
fn contact_star() {
    let raw = "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
From: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: c\r\n\
CSeq: 2 REGISTER\r\nContact: *\r\nExpires: 0\r\nContent-Length: 0\r\n\r\n";
    let m = SipMessage::parse(raw).unwrap();
    validate(&m).unwrap();
    assert_eq!(m.contact().unwrap(), ContactValue::Star);
}

#[test]
fn tel_uris_global_local_and_parameters() {
    let g = Uri::parse("tel:+1-201-555-0123;ext=1234;isub=abc").unwrap();
    let t = g.as_tel().unwrap();
    assert!(t.global);
    assert_eq!(t.digits(), "+12015550123");
    assert_eq!(t.extension(), Some("1234"));
    let l = Uri::parse("tel:7042;phone-context=example.com").unwrap();
    let t = l.as_tel().unwrap();
    assert!(!t.global);
    assert_eq!(t.phone_context(), Some("example.com"));
    let l2 = Uri::parse("tel:*86#;phone-context=+49-30").unwrap();
    assert_eq!(l2.as_tel().unwrap().digits(), "*86#");
    // A local number needs a phone-context (RFC 3966 §5.1.5).
    assert!(Uri::parse("tel:7042").is_err());
    assert!(Uri::parse("tel:+").is_err());
    assert!(Uri::parse("tel:+1 201").is_err());
    // A tel: Request-URI is accepted; unknown schemes are kept for a 416.
    let raw = "INVITE tel:+4930123456 SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
From: <tel:+4940111222>;tag=1\r\nTo: <tel:+4930123456>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n";
    let m = SipMessage::parse(raw).unwrap();
    validate(&m).unwrap();
    assert_eq!(
        m.request_uri().unwrap().as_tel().unwrap().number,
        "+4930123456"
    );
    assert!(matches!(
        Uri::parse("urn:service:sos").unwrap(),
        Uri::Other { scheme: "urn", .. }
    ));
}

#[test]
fn sip_uri_details() {
    let u =
        Uri::parse("sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr?Subject=hi&X=").unwrap();
    let s = u.as_sip().unwrap();
    assert!(s.secure);
    assert_eq!(s.user, Some("alice"));
    assert_eq!(s.password, Some("secret"));
    assert_eq!(s.port, Some(5061));
    assert!(s.is_loose_route());
    assert_eq!(s.headers, [("Subject", "hi"), ("X", "")]);
    assert_eq!(
        u.to_string(),
        "sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr?Subject=hi&X="
    );
    assert!(Uri::parse("sip:a@b c").is_err());
    assert!(Uri::parse("sip:a@[2001:db8::1").is_err());
    assert!(Uri::parse("sip:a@host:99999").is_err());
    assert!(Uri::parse("sip:a%zz@host").is_err());
    assert!(Uri::parse("sip:@host").is_err());
}

#[test]
fn identity_and_interworking_headers() {
    let raw = "INVITE sip:+4930123456@gw SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
From: \"Anonymous\" <sip:anonymous@anonymous.invalid>;tag=1\r\nTo: <sip:+4930123456@gw>\r\n\
Call-ID: c\r\nCSeq: 1 INVITE\r\n\
P-Asserted-Identity: <tel:+4940111222>\r\n\
P-Preferred-Identity: \"Bob\" <sip:bob@example.com>\r\n\
Privacy: id;header;user\r\n\
Diversion: <sip:+4930999@pbx>;reason=unconditional;counter=1;privacy=off,\r\n <sip:+4930888@pbx>;reason=\"user-busy\";counter=2\r\n\
History-Info: <sip:+4930999@pbx>;index=1,<sip:+4930123456@gw?Reason=SIP%3Bcause%3D302>;index=1.1;rc=1\r\n\
History-Info: <sip:x@gw;cause=486>;index=1.1.1;mp=1.1\r\n\
Reason: Q.850;cause=16;text=\"Normal call clearing\", SIP;cause=200;text=\"Call completed elsewhere\"\r\n\
Content-Length: 0\r\n\r\n";
    let m = SipMessage::parse(raw).unwrap();
    validate(&m).unwrap();
    let pai = m.get_all::<PAssertedIdentity>().unwrap();
    assert!(pai[0].uri.as_tel().unwrap().global);
    let ppi = m.get_all::<PPreferredIdentity>().unwrap();
    assert_eq!(ppi[0].display_name().unwrap(), "Bob");
    let p = m.get::<Privacy>().unwrap().unwrap();
    assert_eq!(
        p.0,
        [PrivacyValue::Id, PrivacyValue::Header, PrivacyValue::User]
    );
    let d = m.get_all::<Diversion>().unwrap();
    assert_eq!(d.len(), 2);
    assert_eq!(d[0].reason().unwrap(), "unconditional");
    assert_eq!(d[1].reason().unwrap(), "user-busy");
    assert_eq!(d[1].counter(), Some(2));
    let h = m.get_all::<HistoryInfo>().unwrap();
    assert_eq!(h.len(), 3);
    assert_eq!(h[1].index, [1, 1]);
    assert_eq!(h[1].rc(), Some("1"));
    assert_eq!(h[2].mp(), Some("1.1"));
    assert_eq!(h[2].cause(), Some(486));
    let r = m.get_all::<Reason>().unwrap();
    assert!(r[0].is_q850());
    assert_eq!(r[0].cause(), Some(16));
    assert_eq!(r[0].text().unwrap(), "Normal call clearing");
    assert!(r[1].is_sip());
    // P-Asserted-Identity takes no parameters; History-Info needs an index.
    let bad = raw.replace("<tel:+4940111222>", "<tel:+4940111222>;x=1");
    let mb = SipMessage::parse(bad).unwrap();
    assert!(mb.get_all::<PAssertedIdentity>().is_err());
    let bad = raw.replace(";index=1.1.1", "");
    assert!(SipMessage::parse(bad)
        .unwrap()
        .get_all::<HistoryInfo>()
        .is_err());
}

#[test]
fn digest_prack_and_misc_headers() {
    let raw = "PRACK sip:gw SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
From: <sip:a@example.com>;tag=1\r\nTo: <sip:gw>;tag=2\r\nCall-ID: c\r\nCSeq: 2 PRACK\r\n\
RAck: 776656 1 INVITE\r\n\
Authorization: Digest username=\"alice\", realm=\"example.com\",\r\n  nonce=\"dcd98b\", uri=\"sip:gw\", response=\"6629fae49393a05397450978507c4ef1\",\r\n  algorithm=SHA-256, qop=auth, nc=00000001, cnonce=\"0a4f113b\", opaque=\"5ccc\"\r\n\
Replaces: 12345600@atlanta.example.com;from-tag=1234567;to-tag=12345;early-only\r\n\
Require: 100rel\r\nUnsupported: foo, bar\r\n\
Subscription-State: terminated;reason=timeout;expires=0\r\n\
Server: ExampleGW/1.0\r\nContent-Length: 0\r\n\r\n";
    let m = SipMessage::parse(raw).unwrap();
    validate(&m).unwrap();
    let rack = m.get::<RAck>().unwrap().unwrap();
    assert_eq!(
        (rack.rseq, rack.cseq, rack.method),
        (776656, 1, Method::Invite)
    );
    let a = m.get::<Authorization>().unwrap().unwrap();
    assert!(a.is_digest());
    assert_eq!(a.param("username").unwrap(), "alice");
    assert_eq!(a.param("nonce").unwrap(), "dcd98b");
    assert_eq!(a.param("algorithm").unwrap(), "SHA-256");
    assert_eq!(a.param("qop").unwrap(), "auth");
    assert_eq!(a.param("nc").unwrap(), "00000001");
    assert_eq!(a.params.len(), 10);
    let r = m.get::<Replaces>().unwrap().unwrap();
    assert_eq!(r.call_id, "12345600@atlanta.example.com");
    assert_eq!(
        (r.from_tag(), r.to_tag(), r.early_only()),
        (Some("1234567"), Some("12345"), true)
    );
    assert_eq!(m.get_all::<Require>().unwrap()[0].0, "100rel");
    assert_eq!(m.get_all::<Unsupported>().unwrap().len(), 2);
    let ss = m.get::<SubscriptionState>().unwrap().unwrap();
    assert_eq!(
        (ss.state, ss.reason(), ss.expires()),
        ("terminated", Some("timeout"), Some(0))
    );
    assert_eq!(m.get::<Server>().unwrap().unwrap().0, "ExampleGW/1.0");

    let w = <WwwAuthenticate as gateway::sip::header::Header>::parse(
        "Digest realm=\"gw\", nonce=\"abc\", qop=\"auth\", algorithm=MD5, stale=FALSE",
    )
    .unwrap();
    assert_eq!(w.param("qop").unwrap(), "auth");
    assert_eq!(w.param("stale").unwrap(), "FALSE");
    // Two challenges (one per algorithm, RFC 7616 §3.7) are two fields, decoded one by one.
    let two = "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
From: <sip:a@example.com>;tag=1\r\nTo: <sip:gw>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\
WWW-Authenticate: Digest realm=\"gw\", nonce=\"n1\", algorithm=SHA-256, qop=\"auth\"\r\n\
WWW-Authenticate: Digest realm=\"gw\", nonce=\"n1\", algorithm=MD5, qop=\"auth\"\r\n\
Content-Length: 0\r\n\r\n";
    let r = SipMessage::parse(two).unwrap();
    validate(&r).unwrap();
    let ch = r.each::<WwwAuthenticate>().unwrap();
    let algs: Vec<String> = ch
        .iter()
        .map(|c| c.param("algorithm").unwrap().into_owned())
        .collect();
    assert_eq!(algs, ["SHA-256", "MD5"]);
    assert!(r.get::<WwwAuthenticate>().is_err());
    let rs = <RSeq as gateway::sip::header::Header>::parse("988789").unwrap();
    assert_eq!(rs.0, 988789);
    assert!(<RSeq as gateway::sip::header::Header>::parse("0").is_err());
    let ra =
        <RetryAfter as gateway::sip::header::Header>::parse("18000 (in a meeting);duration=3600")
            .unwrap();
    assert_eq!((ra.seconds, ra.comment), (18000, Some("in a meeting")));
    assert_eq!(ra.params.value("duration"), Some("3600"));
}

#[test]
fn unknown_headers_are_kept_verbatim() {
    let raw = "OPTIONS sip:a@b SIP/2.0\r\nX-Weird:  a,,b;;\"c\r\nX-Folded: one\r\n\ttwo\r\n\r\n";
    let m = SipMessage::parse(raw).unwrap();
    let x = HeaderName::Other("x-weird".into());
    assert_eq!(m.header_value(&x), Some(&b"a,,b;;\"c"[..]));
    let f = HeaderName::Other("X-FOLDED".into());
    assert_eq!(m.header_value(&f), Some(&b"one\r\n\ttwo"[..]));
    let names: Vec<&[u8]> = m.headers().map(|h| h.name).collect();
    assert_eq!(names, [&b"X-Weird"[..], &b"X-Folded"[..]]);
}

#[test]
fn request_build_parse_round_trip() {
    let bytes = RequestBuilder::new(Method::Invite, "sip:+4930123456@gw.example.net")
        .header("Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKabc;rport")
        .header("Max-Forwards", "70")
        .header("From", "\"GW\" <sip:+4940111222@gw.example.net>;tag=xyz")
        .header("To", "<sip:+4930123456@gw.example.net>")
        .header("Call-ID", "abc@192.0.2.10")
        .header("CSeq", "1 INVITE")
        .header("Content-Length", "999") // ignored: the builder writes it
        .body("application/sdp", SDP)
        .build();
    let m = SipMessage::parse(bytes.clone()).unwrap();
    validate(&m).unwrap();
    assert_eq!(m.content_length(), Some(SDP.len() as u32));
    assert_eq!(m.body(), SDP.as_bytes());
    assert_eq!(m.cseq().unwrap().seq, 1);
    assert_eq!(m.header_fields(&HeaderName::ContentLength).count(), 1);
    // parse(build(x)) == x, and the stream decoder agrees.
    let again = SipMessage::parse(rebuild(&m)).unwrap();
    assert_eq!(again, m);
    assert_eq!(decode_stream(&[&bytes])[0], m);
    // The full INVITE re-serialised also compares equal.
    let inv = SipMessage::parse(invite()).unwrap();
    assert_eq!(SipMessage::parse(rebuild(&inv)).unwrap(), inv);
}

#[test]
fn response_from_request_copies_the_rfc3261_8_2_6_headers() {
    let req = SipMessage::parse(invite()).unwrap();
    let resp = ResponseBuilder::from_request(&req, StatusCode::RINGING, None, Some("gwtag1"))
        .header("Contact", "<sip:gw@192.0.2.10>")
        .build();
    let r = SipMessage::parse(resp).unwrap();
    validate(&r).unwrap();
    assert_eq!(r.status(), Some(StatusCode::RINGING));
    assert_eq!(r.reason_phrase(), Some("Ringing"));
    assert_eq!(r.via().unwrap(), req.via().unwrap());
    assert_eq!(r.from().unwrap(), req.from().unwrap());
    assert_eq!(r.call_id().unwrap(), req.call_id().unwrap());
    assert_eq!(r.cseq().unwrap(), req.cseq().unwrap());
    assert_eq!(r.to().unwrap().tag(), Some("gwtag1"));
    assert_eq!(r.to().unwrap().uri, req.to().unwrap().uri);
    assert!(r.body().is_empty());
    assert_eq!(r.content_length(), Some(0));
    // 100 Trying gets no tag; an existing tag is kept.
    let t = ResponseBuilder::from_request(&req, StatusCode::TRYING, None, Some("x")).build();
    assert_eq!(SipMessage::parse(t).unwrap().to().unwrap().tag(), None);
    let ok = ResponseBuilder::from_request(&r, StatusCode::OK, Some("Fine"), Some("other")).build();
    let ok = SipMessage::parse(ok).unwrap();
    assert_eq!(ok.to().unwrap().tag(), Some("gwtag1"));
    assert_eq!(ok.reason_phrase(), Some("Fine"));
}

/// Touch every typed accessor; errors are fine, panics are not.
fn exercise(m: &SipMessage) {
    let _ = validate(m);
    let _ = m.request_uri();
    let _ = m.via();
    let _ = m.contact();
    let _ = m.get_all::<PAssertedIdentity>();
    let _ = m.get_all::<Diversion>();
    let _ = m.get_all::<HistoryInfo>();
    let _ = m.get_all::<Reason>();
    let _ = m.get::<Authorization>();
    let _ = m.get::<Replaces>();
    let _ = m.get::<RAck>();
    let _ = m.get::<RetryAfter>();
    let _ = m.get::<ReferTo>();
    let _ = m.get::<Privacy>();
    let _ = rebuild(m);
    for h in m.headers() {
        let _ = h.value_str();
    }
}

#[test]
fn randomized_mutations_never_panic() {
    let seeds: Vec<Vec<u8>> = {
        let mut v = vec![invite()];
        for dir in ["rfc4475", "rfc5118"] {
            let path = format!("{}/tests/data/{dir}", env!("CARGO_MANIFEST_DIR"));
            for e in std::fs::read_dir(path).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "dat") {
                    v.push(std::fs::read(p).unwrap());
                }
            }
        }
        v
    };
    const SPECIAL: &[u8] = b"\r\n :;,<>\"\\@[]%=/?*0123456789\x00\xff\xc3\t";
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut parsed = 0;
    for _ in 0..20_000 {
        let mut b = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(8) {
            if b.is_empty() {
                break;
            }
            let i = rng.below(b.len());
            match rng.below(5) {
                0 => b[i] = SPECIAL[rng.below(SPECIAL.len())],
                1 => b[i] = rng.next() as u8,
                2 => {
                    b.remove(i);
                }
                3 => b.insert(i, SPECIAL[rng.below(SPECIAL.len())]),
                _ => b.truncate(i),
            }
        }
        if let Ok(m) = SipMessage::parse(b.clone()) {
            parsed += 1;
            exercise(&m);
        }
        let mut d = StreamDecoder::new();
        let cut = rng.below(b.len() + 1);
        d.handle_data(&b[..cut]);
        while let Some(Ok(_)) = d.poll_event() {}
        d.handle_data(&b[cut..]);
        while let Some(ev) = d.poll_event() {
            if let Ok(StreamEvent::Message(m)) = ev {
                exercise(&m);
            }
        }
    }
    // The mutations are small: a good share of inputs still parse and get decoded.
    assert!(parsed > 2_000, "{parsed}");
}
