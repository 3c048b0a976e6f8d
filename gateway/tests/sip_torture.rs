//! RFC 4475 (SIP torture tests) and RFC 5118 (IPv6 torture tests), one test per message.
//! The message files are in `tests/data/rfc4475/` and `tests/data/rfc5118/` (see the README
//! there for their source). Each valid message is checked for a few key values; each
//! invalid one must be refused with the response RFC 4475 names (or dropped, for responses).

use gateway::sip::header::{
    Accept, Authorization, ContactValue, Date, Expires, ProxyRequire, Require, RetryAfter, Route,
    Transport,
};
use gateway::sip::validate::{check_request, validate, UasPolicy};
use gateway::sip::{
    HeaderName, Host, Method, ParseError, ParseErrorKind, SipMessage, StatusCode, StreamDecoder,
    StreamEvent, Uri,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn load(dir: &str, name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{dir}/{name}.dat", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Parse as a datagram and run the RFC 3261 well-formedness checks.
fn check(dir: &str, name: &str) -> Result<SipMessage, ParseError> {
    let m = SipMessage::parse(load(dir, name))?;
    validate(&m)?;
    Ok(m)
}

fn valid(name: &str) -> SipMessage {
    match check("rfc4475", name) {
        Ok(m) => {
            // The same octets over a stream give the same message when Content-Length
            // frames them exactly.
            let raw = load("rfc4475", name);
            if let Some(cl) = m.content_length() {
                let head = m.as_bytes().len() - m.body().len();
                if head + cl as usize == raw.len() {
                    let mut d = StreamDecoder::new();
                    d.handle_data(&raw);
                    match d.poll_event() {
                        Some(Ok(StreamEvent::Message(s))) => assert_eq!(s, m),
                        other => panic!("{name} over a stream: {other:?}"),
                    }
                }
            }
            m
        }
        Err(e) => panic!("{name} must be accepted: {e}"),
    }
}

fn rejected(dir: &str, name: &str) -> ParseError {
    match check(dir, name) {
        Ok(m) => panic!("{name} must be rejected: {m:?}"),
        Err(e) => e,
    }
}

fn bad_request(name: &str) -> ParseError {
    let e = rejected("rfc4475", name);
    assert_eq!(
        e.response_status(),
        Some(StatusCode::BAD_REQUEST),
        "{name}: {e}"
    );
    e
}

fn dropped(name: &str) -> ParseError {
    let e = rejected("rfc4475", name);
    assert!(e.in_response, "{name}: {e}");
    assert_eq!(
        e.response_status(),
        None,
        "{name}: a bad response is dropped"
    );
    e
}

fn uas(m: &SipMessage) -> Result<(), StatusCode> {
    check_request(m, &UasPolicy::default()).map_err(|r| r.status)
}

fn sip_user(u: &Uri<'_>) -> Vec<u8> {
    u.as_sip()
        .expect("sip uri")
        .user_unescaped()
        .expect("escapes")
        .into_owned()
}

// ---- RFC 4475 §3.1.1: valid messages -------------------------------------------------

#[test]
fn rfc4475_3_1_1_1_wsinv_short_tortuous_invite() {
    let m = valid("wsinv");
    assert_eq!(m.method(), Some(Method::Invite));
    let to = m.to().unwrap();
    assert_eq!(to.tag(), Some("1918181833n"));
    assert_eq!(
        to.uri.as_sip().unwrap().host,
        Host::Domain("chair-dnrc.example.com")
    );
    let from = m.from().unwrap();
    assert_eq!(from.display_name().unwrap(), "J Rosenberg \\\"");
    assert_eq!(from.tag(), Some("98asjd8"));
    assert_eq!(m.max_forwards().unwrap().unwrap().0, 68);
    assert_eq!(m.call_id().unwrap().0, "wsinv.ndaksdj@192.0.2.1");
    let cseq = m.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (9, Method::Invite));
    let vias = m.via().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].host, Host::Ipv4(Ipv4Addr::new(192, 0, 2, 2)));
    assert_eq!(vias[0].branch(), Some("390skdjuw"));
    assert_eq!(vias[1].transport, Transport::Tcp);
    assert_eq!(vias[1].host, Host::Domain("spindle.example.com"));
    assert_eq!(vias[1].branch(), Some("z9hG4bK9ikj8"));
    assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));
    let ContactValue::Addresses(c) = m.contact().unwrap() else {
        panic!()
    };
    assert_eq!(c[0].display_name().unwrap(), "Quoted string \"\"");
    assert_eq!(c[0].q().unwrap().unwrap(), 330);
    assert_eq!(c[0].params.value("newparam"), Some("newvalue"));
    assert!(c[0].params.has("secondparam"));
    assert_eq!(m.header_value(&HeaderName::Subject), Some(&b""[..]));
    let nf = HeaderName::Other("newfangledheader".into());
    assert_eq!(
        m.header_value(&nf),
        Some(&b"newfangled value\r\n continued newfangled value"[..])
    );
    let routes = m.get_all::<Route>().unwrap();
    assert!(routes[0].uri.as_sip().unwrap().is_loose_route());
    assert_eq!(m.content_length(), Some(150));
    assert_eq!(m.body().len(), 150);
}

#[test]
fn rfc4475_3_1_1_2_intmeth_wide_range_of_valid_characters() {
    let m = valid("intmeth");
    assert_eq!(
        m.method(),
        Some(Method::Other("!interesting-Method0123456789_*+`.%indeed'~"))
    );
    let ru = m.request_uri().unwrap();
    let u = ru.as_sip().unwrap();
    assert_eq!(
        u.user,
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        u.password,
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK-.!%66*_+`'~"));
    let to = m.to().unwrap();
    assert_eq!(to.display_name().unwrap(), "BEL:\x07 NUL:\0 DEL:\x7f");
    let from = m.from().unwrap();
    assert_eq!(from.display_name, Some("token1~` token2'+_ token3*%!.-"));
    assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
    assert_eq!(
        from.params.unquoted("fromParam''~+*_!.-%").unwrap(),
        "\u{440}\u{430}\u{431}\u{43e}\u{442}\u{430}\u{44e}\u{449}\u{438}\u{439}"
    );
    assert_eq!(
        m.call_id().unwrap().0,
        "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    );
    assert_eq!(m.cseq().unwrap().seq, 139122385);
    assert_eq!(m.max_forwards().unwrap().unwrap().0, 255);
    let ext = HeaderName::Other("extensionHeader-!.%*+_`'~".into());
    assert_eq!(
        std::str::from_utf8(m.header_value(&ext).unwrap()).unwrap(),
        "\u{feff}\u{5927}\u{505c}\u{96fb}"
    );
}

#[test]
fn rfc4475_3_1_1_3_esc01_valid_use_of_percent_escaping() {
    let m = valid("esc01");
    assert_eq!(
        sip_user(&m.request_uri().unwrap()),
        b"sips:user@example.com"
    );
    assert_eq!(sip_user(&m.to().unwrap().uri), b"user");
    assert_eq!(sip_user(&m.from().unwrap().uri), b"I have spaces");
    assert_eq!(m.call_id().unwrap().0, "esc01.239409asdfakjkn23onasd0-3234");
    let ContactValue::Addresses(c) = m.contact().unwrap() else {
        panic!()
    };
    let cu = c[0].uri.as_sip().unwrap();
    assert_eq!(cu.user_unescaped().unwrap().as_ref(), b"caller");
    assert_eq!(cu.params.iter().next().unwrap().name, "%6C%72");
    assert_eq!(
        gateway::sip::uri::unescape(cu.params.value("n%61me").unwrap())
            .unwrap()
            .as_ref(),
        b"value%41"
    );
    assert!(m.content_type().unwrap().unwrap().is("application", "sdp"));
}

#[test]
fn rfc4475_3_1_1_4_escnull_escaped_nulls_in_uris() {
    let m = valid("escnull");
    assert_eq!(sip_user(&m.to().unwrap().uri), b"null-\0-null");
    let ContactValue::Addresses(c) = m.contact().unwrap() else {
        panic!()
    };
    assert_eq!(c.len(), 2);
    assert_eq!(sip_user(&c[0].uri), b"\0");
    assert_eq!(sip_user(&c[1].uri), b"\0\0");
    assert_eq!(m.content_length(), Some(0));
}

#[test]
fn rfc4475_3_1_1_5_esc02_percent_when_not_an_escape() {
    let m = valid("esc02");
    // The method is the token "RE%47IST%45R", not REGISTER: tokens are never unescaped.
    assert_eq!(m.method(), Some(Method::Other("RE%47IST%45R")));
    assert_eq!(m.cseq().unwrap().method, Method::Other("RE%47IST%45R"));
    assert_eq!(m.to().unwrap().display_name().unwrap(), "%Z%45");
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK209%fzsnel234"));
    let ContactValue::Addresses(c) = m.contact().unwrap() else {
        panic!()
    };
    // "C%6Fntact" is an unknown header, not a third Contact.
    assert_eq!(c.len(), 2);
    let other = HeaderName::Other("C%6Fntact".into());
    assert_eq!(
        m.header_value(&other),
        Some(&b"<sip:alias2@host2.example.com>"[..])
    );
}

#[test]
fn rfc4475_3_1_1_6_lwsdisp_no_lws_between_display_name_and_laquot() {
    let m = valid("lwsdisp");
    let from = m.from().unwrap();
    assert_eq!(from.display_name, Some("caller"));
    assert_eq!(from.tag(), Some("323"));
}

#[test]
fn rfc4475_3_1_1_7_longreq_long_values_in_header_fields() {
    let m = valid("longreq");
    let to = m.to().unwrap();
    let dn = to.display_name().unwrap();
    assert!(dn.starts_with("I have a user name of extremeextreme") && dn.ends_with("proportion"));
    let tu = to.uri.as_sip().unwrap();
    assert_eq!(tu.port, Some(6000));
    assert!(tu.params.has(
        "verylonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglongParameterNameWithNoValue"
    ));
    let from = m.from().unwrap();
    assert!(from.tag().unwrap().len() > 150);
    assert!(m.call_id().unwrap().0.ends_with("reallylongcallid"));
    // 34 Via fields in every spelling of the name (V:, via:, vIa: ...).
    let vias = m.via().unwrap();
    assert_eq!(vias.len(), 34);
    assert_eq!(vias[0].host, Host::Domain("sip33.example.com"));
    let unknown = m.headers().find(|h| h.kind.is_none()).unwrap();
    assert!(unknown.name.starts_with(b"Unknown-LongLong"));
}

#[test]
fn rfc4475_3_1_1_8_dblreq_extra_trailing_octets_in_udp_datagram() {
    let m = valid("dblreq");
    assert_eq!(m.method(), Some(Method::Register));
    assert!(m.body().is_empty());
    assert_eq!(
        m.call_id().unwrap().0,
        "dblreq.0ha0isndaksdj99sdfafnl3lk233412"
    );
    // On a stream the same octets are two messages (the INVITE's Content-Length leaves five
    // octets over, which would start a third message and are ignored here).
    let raw = load("rfc4475", "dblreq");
    let mut d = StreamDecoder::new();
    d.handle_data(&raw);
    let mut methods = Vec::new();
    let mut pongs = 0;
    while let Some(Ok(ev)) = d.poll_event() {
        match ev {
            StreamEvent::Message(m) => methods.push(m.method().unwrap().as_str().to_string()),
            // The extra CRLF between the two is a keep-alive pong (RFC 5626 §4.4.1).
            StreamEvent::Pong => pongs += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(methods, ["REGISTER", "INVITE"]);
    assert_eq!(pongs, 1);
}

#[test]
fn rfc4475_3_1_1_9_semiuri_semicolon_separated_parameters_in_uri_user_part() {
    let m = valid("semiuri");
    let ru = m.request_uri().unwrap();
    let u = ru.as_sip().unwrap();
    assert_eq!(u.user, Some("user;par=u%40example.net"));
    assert_eq!(u.host, Host::Domain("example.com"));
    assert!(u.params.is_empty());
    let accept = m.get_all::<Accept>().unwrap();
    assert_eq!(accept.len(), 6);
    assert!(accept[5].0.is("message", "sipfrag"));
}

#[test]
fn rfc4475_3_1_1_10_transports_varied_and_unknown_transport_types() {
    let m = valid("transports");
    let t: Vec<Transport<'_>> = m.via().unwrap().iter().map(|v| v.transport).collect();
    assert_eq!(
        t,
        [
            Transport::Udp,
            Transport::Sctp,
            Transport::Tls,
            Transport::Other("UNKNOWN"),
            Transport::Tcp
        ]
    );
    assert_eq!(m.call_id().unwrap().0, "transports.kijh4akdnaqjkwendsasfdj");
}

#[test]
fn rfc4475_3_1_1_11_mpart01_multipart_mime_message() {
    let m = valid("mpart01");
    let ct = m.content_type().unwrap().unwrap();
    assert!(ct.is("multipart", "mixed"));
    let boundary = ct.params.value("boundary").unwrap();
    assert_eq!(boundary, "7a9cbec02ceef655");
    let marker = format!("--{boundary}");
    assert!(m
        .body()
        .windows(marker.len())
        .any(|w| w == marker.as_bytes()));
    assert_eq!(m.body().len(), m.content_length().unwrap() as usize);
}

#[test]
fn rfc4475_3_1_1_12_unreason_unusual_reason_phrase() {
    let m = valid("unreason");
    assert_eq!(m.status(), Some(StatusCode::OK));
    let reason = m.reason_phrase().unwrap();
    assert!(
        reason.starts_with("= 2**3 * 5**2 \u{43d}\u{43e} "),
        "{reason}"
    );
    assert_eq!(m.body().len(), 154);
}

#[test]
fn rfc4475_3_1_1_13_noreason_empty_reason_phrase() {
    let m = valid("noreason");
    assert_eq!(m.status(), Some(StatusCode::TRYING));
    assert_eq!(m.reason_phrase(), Some(""));
    assert_eq!(m.to().unwrap().tag(), Some("902jndnke3"));
}

// ---- RFC 4475 §3.1.2: invalid messages ------------------------------------------------

#[test]
fn rfc4475_3_1_2_1_badinv01_extraneous_header_field_separators() {
    let e = bad_request("badinv01");
    assert!(matches!(e.header_name(), Some(HeaderName::Via)), "{e}");
}

#[test]
fn rfc4475_3_1_2_2_clerr_content_length_larger_than_message() {
    let e = bad_request("clerr");
    assert_eq!(e.kind, ParseErrorKind::BodyTooShort);
    // On a stream the message simply is not complete yet.
    let mut d = StreamDecoder::new();
    d.handle_data(&load("rfc4475", "clerr"));
    assert_eq!(d.poll_event(), None);
}

#[test]
fn rfc4475_3_1_2_3_ncl_negative_content_length() {
    let e = bad_request("ncl");
    assert_eq!(e.header_name(), Some(&HeaderName::ContentLength));
}

#[test]
fn rfc4475_3_1_2_4_scalar02_request_scalar_fields_with_overlarge_values() {
    let e = bad_request("scalar02");
    assert_eq!(e.header_name(), Some(&HeaderName::CSeq));
    let m = SipMessage::parse(load("rfc4475", "scalar02")).unwrap();
    assert!(
        m.max_forwards().is_err(),
        "Max-Forwards 300 is out of range"
    );
    // An overlarge Expires saturates (RFC 3261 §20.19 treats it as 2^32-1).
    assert_eq!(m.get::<Expires>().unwrap().unwrap().0, u32::MAX);
}

#[test]
fn rfc4475_3_1_2_5_scalarlg_response_scalar_fields_with_overlarge_values() {
    let e = dropped("scalarlg");
    assert_eq!(e.header_name(), Some(&HeaderName::CSeq));
    let m = SipMessage::parse(load("rfc4475", "scalarlg")).unwrap();
    assert!(m.get::<RetryAfter>().is_err());
}

#[test]
fn rfc4475_3_1_2_6_quotbal_unterminated_quoted_string_in_display_name() {
    let e = bad_request("quotbal");
    assert_eq!(e.header_name(), Some(&HeaderName::To));
}

#[test]
fn rfc4475_3_1_2_7_ltgtruri_laquot_raquot_enclosing_request_uri() {
    let e = bad_request("ltgtruri");
    assert!(matches!(e.kind, ParseErrorKind::RequestUri(_)), "{e}");
}

#[test]
fn rfc4475_3_1_2_8_lwsruri_malformed_request_uri_embedded_lws() {
    let e = bad_request("lwsruri");
    assert!(matches!(e.kind, ParseErrorKind::StartLine(_)), "{e}");
}

#[test]
fn rfc4475_3_1_2_9_lwsstart_multiple_sp_separating_request_line_elements() {
    let e = bad_request("lwsstart");
    assert!(matches!(e.kind, ParseErrorKind::StartLine(_)), "{e}");
}

#[test]
fn rfc4475_3_1_2_10_trws_sp_characters_at_end_of_request_line() {
    let e = bad_request("trws");
    assert!(matches!(e.kind, ParseErrorKind::StartLine(_)), "{e}");
}

#[test]
fn rfc4475_3_1_2_11_escruri_escaped_headers_in_sip_request_uri() {
    let e = bad_request("escruri");
    assert!(matches!(e.kind, ParseErrorKind::RequestUri(_)), "{e}");
}

#[test]
fn rfc4475_3_1_2_12_baddate_invalid_time_zone_in_date_header_field() {
    let e = bad_request("baddate");
    assert_eq!(e.header_name(), Some(&HeaderName::Date));
    // The same value in GMT is fine.
    let ok = <Date as gateway::sip::header::Header>::parse("Fri, 01 Jan 2010 16:00:00 GMT");
    assert_eq!(ok.unwrap().hour, 16);
}

#[test]
fn rfc4475_3_1_2_13_regbadct_failure_to_enclose_name_addr_uri_in_brackets() {
    let e = bad_request("regbadct");
    assert_eq!(e.header_name(), Some(&HeaderName::Contact));
}

#[test]
fn rfc4475_3_1_2_14_badaspec_spaces_within_addr_spec() {
    let e = bad_request("badaspec");
    assert_eq!(e.header_name(), Some(&HeaderName::To));
}

#[test]
fn rfc4475_3_1_2_15_baddn_non_token_characters_in_display_name() {
    let e = bad_request("baddn");
    assert_eq!(e.header_name(), Some(&HeaderName::From));
}

#[test]
fn rfc4475_3_1_2_16_badvers_unknown_protocol_version() {
    let e = rejected("rfc4475", "badvers");
    assert_eq!(e.kind, ParseErrorKind::Version);
    assert_eq!(e.response_status(), Some(StatusCode::VERSION_NOT_SUPPORTED));
}

#[test]
fn rfc4475_3_1_2_17_mismatch01_start_line_and_cseq_method_mismatch() {
    let e = bad_request("mismatch01");
    assert_eq!(e.kind, ParseErrorKind::CSeqMethodMismatch);
}

#[test]
fn rfc4475_3_1_2_18_mismatch02_unknown_method_with_cseq_method_mismatch() {
    // 400, not 501: the mismatch is detected first (RFC 4475 §3.1.2.18).
    let e = bad_request("mismatch02");
    assert_eq!(e.kind, ParseErrorKind::CSeqMethodMismatch);
}

#[test]
fn rfc4475_3_1_2_19_bigcode_overlarge_response_code() {
    let e = dropped("bigcode");
    assert!(matches!(e.kind, ParseErrorKind::StartLine(_)), "{e}");
}

// ---- RFC 4475 §3.2: transaction layer -------------------------------------------------

#[test]
fn rfc4475_3_2_1_badbranch_missing_transaction_identifier() {
    let m = check("rfc4475", "badbranch").unwrap();
    let via = m.top_via().unwrap();
    // The branch is the bare magic cookie. It parses; the transaction layer falls back to
    // RFC 2543 matching (RFC 3261 §17.2.3) as RFC 4475 §3.2.1 allows.
    assert_eq!(via.branch(), Some("z9hG4bK"));
    assert!(!via.has_rfc3261_branch());
    assert_eq!(uas(&m), Ok(()));
}

// ---- RFC 4475 §3.3: application layer -------------------------------------------------

#[test]
fn rfc4475_3_3_1_insuf_missing_required_header_fields() {
    let e = bad_request("insuf");
    assert!(matches!(e.kind, ParseErrorKind::Missing(_)), "{e}");
}

#[test]
fn rfc4475_3_3_2_unkscm_request_uri_with_unknown_scheme() {
    let m = valid("unkscm");
    assert_eq!(
        m.request_uri(),
        Some(Uri::Other {
            scheme: "nobodyKnowsThisScheme",
            rest: "totallyopaquecontent"
        })
    );
    assert_eq!(uas(&m), Err(StatusCode::UNSUPPORTED_URI_SCHEME));
}

#[test]
fn rfc4475_3_3_3_novelsc_request_uri_with_known_but_atypical_scheme() {
    let m = valid("novelsc");
    assert_eq!(m.request_uri().unwrap().scheme(), "soap.beep");
    assert_eq!(uas(&m), Err(StatusCode::UNSUPPORTED_URI_SCHEME));
}

#[test]
fn rfc4475_3_3_4_unksm2_unknown_uri_schemes_in_header_fields() {
    // Well-formed; the unknown schemes are kept so that a registrar can refuse the binding
    // and a proxy can forward the request.
    let m = valid("unksm2");
    assert_eq!(
        m.to().unwrap().uri,
        Uri::Other {
            scheme: "isbn",
            rest: "2983792873"
        }
    );
    assert_eq!(m.from().unwrap().uri.scheme(), "http");
    let ContactValue::Addresses(c) = m.contact().unwrap() else {
        panic!()
    };
    assert_eq!(c[0].uri.scheme(), "name");
}

#[test]
fn rfc4475_3_3_5_bext01_proxy_require_and_require() {
    let m = valid("bext01");
    let req: Vec<&str> = m
        .get_all::<Require>()
        .unwrap()
        .iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(req, ["nothingSupportsThis", "nothingSupportsThisEither"]);
    assert_eq!(m.get_all::<ProxyRequire>().unwrap().len(), 2);
    let r = check_request(&m, &UasPolicy::default()).unwrap_err();
    assert_eq!(r.status, StatusCode::BAD_EXTENSION);
    assert_eq!(
        r.unsupported,
        ["nothingSupportsThis", "nothingSupportsThisEither"]
    );
}

#[test]
fn rfc4475_3_3_6_invut_unknown_content_type() {
    let m = valid("invut");
    let r = check_request(&m, &UasPolicy::default()).unwrap_err();
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        r.accept,
        [
            "application/sdp",
            "application/dtmf-relay",
            "message/sipfrag"
        ]
    );
}

#[test]
fn rfc4475_3_3_7_regaut01_unknown_authorization_scheme() {
    let m = valid("regaut01");
    let a = m.get::<Authorization>().unwrap().unwrap();
    assert_eq!(a.scheme, "NoOneKnowsThisScheme");
    assert!(!a.is_digest());
    assert_eq!(a.param("opaque-data").unwrap(), "here");
}

#[test]
fn rfc4475_3_3_8_multi01_multiple_values_in_single_value_required_fields() {
    let e = bad_request("multi01");
    assert!(matches!(e.kind, ParseErrorKind::Duplicate(_)), "{e}");
}

#[test]
fn rfc4475_3_3_9_mcl01_multiple_content_length_values() {
    let e = bad_request("mcl01");
    assert_eq!(e.kind, ParseErrorKind::Duplicate(HeaderName::ContentLength));
    // On a stream the framing is lost: the connection must be closed.
    let mut d = StreamDecoder::new();
    d.handle_data(&load("rfc4475", "mcl01"));
    assert!(matches!(d.poll_event(), Some(Err(_))));
}

#[test]
fn rfc4475_3_3_10_bcast_200_ok_with_broadcast_via() {
    let m = valid("bcast");
    let vias = m.via().unwrap();
    assert_eq!(vias[1].host, Host::Ipv4(Ipv4Addr::BROADCAST));
    assert_eq!(m.status(), Some(StatusCode::OK));
}

#[test]
fn rfc4475_3_3_11_zeromf_max_forwards_of_zero() {
    let m = valid("zeromf");
    assert_eq!(m.max_forwards().unwrap().unwrap().0, 0);
    // A UAS answers an OPTIONS with Max-Forwards 0 (it is not forwarded).
    assert_eq!(uas(&m), Ok(()));
}

#[test]
fn rfc4475_3_3_12_cparam01_register_with_contact_header_parameter() {
    let m = valid("cparam01");
    let ContactValue::Addresses(c) = m.contact().unwrap() else {
        panic!()
    };
    // Without <> the ";unknownparam" belongs to the header, not the URI.
    assert!(c[0].params.has("unknownparam"));
    assert!(c[0].uri.as_sip().unwrap().params.is_empty());
}

#[test]
fn rfc4475_3_3_13_cparam02_register_with_url_parameter() {
    let m = valid("cparam02");
    let ContactValue::Addresses(c) = m.contact().unwrap() else {
        panic!()
    };
    assert!(c[0].params.is_empty());
    assert!(c[0].uri.as_sip().unwrap().params.has("unknownparam"));
}

#[test]
fn rfc4475_3_3_14_regescrt_register_with_url_escaped_header() {
    let m = valid("regescrt");
    let ContactValue::Addresses(c) = m.contact().unwrap() else {
        panic!()
    };
    let u = c[0].uri.as_sip().unwrap();
    assert_eq!(u.headers, [("Route", "%3Csip:sip.example.com%3E")]);
    assert_eq!(
        gateway::sip::uri::unescape(u.headers[0].1)
            .unwrap()
            .as_ref(),
        b"<sip:sip.example.com>"
    );
}

#[test]
fn rfc4475_3_3_15_sdp01_unacceptable_accept_offering() {
    let m = valid("sdp01");
    assert_eq!(uas(&m), Err(StatusCode::NOT_ACCEPTABLE));
}

// ---- RFC 4475 §3.4: backward compatibility --------------------------------------------

#[test]
fn rfc4475_3_4_1_inv2543_invite_with_rfc2543_syntax() {
    let m = valid("inv2543");
    assert_eq!(m.top_via().unwrap().branch(), None);
    assert_eq!(m.from().unwrap().tag(), None);
    assert_eq!(m.max_forwards().unwrap(), None);
    assert_eq!(m.content_length(), None);
    assert!(m.body().starts_with(b"v=0"));
    // Unbracketed: ";user=phone" is a header parameter of To, a URI parameter of From.
    assert_eq!(m.to().unwrap().params.value("user"), Some("phone"));
    assert!(m.from().unwrap().uri.as_sip().unwrap().is_user_phone());
    assert_eq!(uas(&m), Ok(()));
}

// ---- RFC 5118 -----------------------------------------------------------------------

fn v6(s: &str) -> Host<'static> {
    Host::Ipv6(s.parse::<Ipv6Addr>().unwrap())
}

fn valid5118(name: &str) -> SipMessage {
    check("rfc5118", name).unwrap_or_else(|e| panic!("{name} must be accepted: {e}"))
}

#[test]
fn rfc5118_4_1_ipv6_good_valid_sip_message_with_ipv6_reference() {
    let m = valid5118("ipv6-good");
    assert_eq!(
        m.request_uri().unwrap().as_sip().unwrap().host,
        v6("2001:db8::10")
    );
    assert_eq!(m.top_via().unwrap().host, v6("2001:db8::9:1"));
    let ContactValue::Addresses(c) = m.contact().unwrap() else {
        panic!()
    };
    assert_eq!(c[0].uri.as_sip().unwrap().host, v6("2001:db8::1"));
}

#[test]
fn rfc5118_4_2_ipv6_bad_invalid_sip_message_with_ipv6_reference() {
    let e = rejected("rfc5118", "ipv6-bad");
    assert_eq!(e.response_status(), Some(StatusCode::BAD_REQUEST));
    assert!(matches!(e.kind, ParseErrorKind::RequestUri(_)), "{e}");
}

#[test]
fn rfc5118_4_3_port_ambiguous_in_a_sip_uri() {
    // Syntactically valid: 5070 is the last group of the address, there is no port.
    let m = valid5118("port-ambiguous");
    let ru = m.request_uri().unwrap();
    let u = ru.as_sip().unwrap();
    assert_eq!(u.host, v6("2001:db8::10:5070"));
    assert_eq!(u.port, None);
}

#[test]
fn rfc5118_4_4_port_unambiguous_in_a_sip_uri() {
    let m = valid5118("port-unambiguous");
    let ru = m.request_uri().unwrap();
    let u = ru.as_sip().unwrap();
    assert_eq!(u.host, v6("2001:db8::10"));
    assert_eq!(u.port, Some(5070));
}

#[test]
fn rfc5118_4_5_via_received_param_with_delim() {
    let m = valid5118("via-received-param-with-delim");
    let via = m.top_via().unwrap();
    assert_eq!(
        via.received().unwrap().unwrap(),
        "2001:db8::9:255".parse::<IpAddr>().unwrap()
    );
}

#[test]
fn rfc5118_4_5_via_received_param_no_delim() {
    let m = valid5118("via-received-param-no-delim");
    let via = m.top_via().unwrap();
    assert_eq!(
        via.received().unwrap().unwrap(),
        "2001:db8::9:255".parse::<IpAddr>().unwrap()
    );
    assert_eq!(via.branch(), Some("z9hG4bKas3"));
}

#[test]
fn rfc5118_4_6_ipv6_in_sdp_sip_request_with_ipv6_addresses_in_sdp_body() {
    let m = valid5118("ipv6-in-sdp");
    assert!(m.content_type().unwrap().unwrap().is("application", "sdp"));
    assert!(m.body().windows(16).any(|w| w == b"IN IP6 2001:db8:"));
    assert_eq!(m.body().len(), m.content_length().unwrap() as usize);
}

#[test]
fn rfc5118_4_7_mult_ip_in_header_multiple_ip_addresses_in_sip_headers() {
    let m = valid5118("mult-ip-in-header");
    let vias = m.via().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].host, v6("2001:db8::9:1"));
    assert_eq!(vias[0].port, Some(6050));
    assert_eq!(vias[1].host, Host::Ipv4(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(vias[2].transport, Transport::Tcp);
    assert_eq!(
        vias[2].received().unwrap().unwrap(),
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 200))
    );
}

#[test]
fn rfc5118_4_8_mult_ip_in_sdp_multiple_ip_addresses_in_sdp() {
    let m = valid5118("mult-ip-in-sdp");
    assert_eq!(m.body().len(), m.content_length().unwrap() as usize);
    assert!(m.body().windows(6).any(|w| w == b"IN IP6"));
    assert!(m.body().windows(6).any(|w| w == b"IN IP4"));
}

#[test]
fn rfc5118_4_9_ipv4_mapped_ipv6_addresses() {
    let m = valid5118("ipv4-mapped-ipv6");
    let vias = m.via().unwrap();
    assert_eq!(vias[0].host, v6("::ffff:192.0.2.10"));
    assert_eq!(vias[0].port, Some(19823));
    let ContactValue::Addresses(c) = m.contact().unwrap() else {
        panic!()
    };
    assert_eq!(c[0].uri.as_sip().unwrap().host, v6("::ffff:192.0.2.2"));
}

#[test]
fn rfc5118_4_10_ipv6_correct_abnf_2_colons() {
    let m = valid5118("ipv6-correct-abnf-2-colons");
    assert_eq!(
        m.request_uri().unwrap().as_sip().unwrap().host,
        v6("2001:db8::192.0.2.1")
    );
}

#[test]
fn rfc5118_4_10_ipv6_bug_abnf_3_colons_rejected() {
    // ":::" is not an IPv6 address (RFC 4291 §2.2); RFC 3261's ABNF allowed it by mistake.
    let e = rejected("rfc5118", "ipv6-bug-abnf-3-colons");
    assert_eq!(e.response_status(), Some(StatusCode::BAD_REQUEST));
}

// ---- every file: no panic, stable verdict -----------------------------------------------

#[test]
fn every_torture_file_parses_or_fails_without_panic_and_round_trips() {
    for dir in ["rfc4475", "rfc5118"] {
        let path = format!("{}/tests/data/{dir}", env!("CARGO_MANIFEST_DIR"));
        let mut n = 0;
        for entry in std::fs::read_dir(&path).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().and_then(|e| e.to_str()) != Some("dat") {
                continue;
            }
            n += 1;
            let raw = std::fs::read(&p).unwrap();
            if let Ok(m) = SipMessage::parse(raw) {
                let rebuilt = gateway::sip::builder::rebuild(&m);
                let again = SipMessage::parse(rebuilt).unwrap();
                assert_eq!(again, m, "{}", p.display());
            }
        }
        assert!(n >= 12, "{dir}: {n} files");
    }
}
