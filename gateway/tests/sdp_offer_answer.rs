//! SDP offer/answer against SDP bodies written by real products (sources cited on each)
//! and odd ones.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use gateway::media::Law;
use gateway::rtp::PayloadType;
use gateway::sdp::{
    Direction, HoldChange, LocalCapabilities, MediaKind, OfferAnswer, OfferAnswerError,
    SessionDescription, TelephoneEvents,
};

fn crlf(s: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for line in s.lines() {
        let l = line.trim_start();
        if l.is_empty() {
            continue;
        }
        v.extend_from_slice(l.as_bytes());
        v.extend_from_slice(b"\r\n");
    }
    v
}

fn sdp(s: &str) -> SessionDescription {
    SessionDescription::parse(&crlf(s)).expect("parses")
}

fn e1() -> OfferAnswer {
    OfferAnswer::new(
        LocalCapabilities::for_span_law(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)), Law::ALaw),
        40000,
    )
}

fn t1() -> OfferAnswer {
    OfferAnswer::new(
        LocalCapabilities::for_span_law(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)), Law::MuLaw),
        40000,
    )
}

fn text(s: &SessionDescription) -> String {
    String::from_utf8(s.to_bytes()).unwrap()
}

/// Asterisk 1.8 (chan_sip) INVITE body, from the Kolmisoft wiki page "Session
/// Description Protocol" (https://wiki.kolmisoft.com/index.php?title=Session_Description_Protocol).
const ASTERISK_18: &str = "v=0
    o=root 702294668 702294668 IN IP4 192.168.0.158
    s=Asterisk PBX 1.8.32.6
    c=IN IP4 192.168.0.158
    t=0 0
    m=audio 10288 RTP/AVP 8 0 4 101
    a=rtpmap:8 PCMA/8000
    a=rtpmap:0 PCMU/8000
    a=rtpmap:4 G723/8000
    a=fmtp:4 annexa=no
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-16
    a=ptime:20
    a=sendrecv";

/// Asterisk ("User-Agent: Asterisk PBX") INVITE with `a=silenceSupp`, from
/// http://piezoelectrics.blogspot.com/2009/08/sip-invite-message.html
const ASTERISK_PCMU_ONLY: &str = "v=0
    o=root 19191 19191 IN IP4 64.34.231.248
    s=session
    c=IN IP4 64.34.231.248
    t=0 0
    m=audio 13354 RTP/AVP 0 101
    a=rtpmap:0 PCMU/8000
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-16
    a=silenceSupp:off - - - -
    a=ptime:20
    a=sendrecv";

/// AudioCodes MP-11x gateway INVITE (lower-case encoding names, events 0-15), from the
/// MP-11x & MP-124 SIP User's Manual LTRT-65412, p. 392
/// (https://www.easymanua.ls/audiocodes/mp-124/manual?p=392).
const AUDIOCODES: &str = "v=0
    o=AudiocodesGW 771609035 771608915 IN IP4 10.33.37.78
    s=Phone-Call
    c=IN IP4 10.33.37.78
    t=0 0
    m=audio 4000 RTP/AVP 8 0 101
    a=rtpmap:8 pcma/8000
    a=rtpmap:0 pcmu/8000
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-15
    a=ptime:20
    a=sendrecv";

/// Cisco IOS gateway T.38 switchover re-INVITE (only an image m-line), from Cisco's
/// "Configure CUBE T.38" troubleshooting note (mirrored at
/// https://mcdewey.supported.systems/c/voice-quality::troubleshooting::configure-cube-t38).
const CISCO_T38_REINVITE: &str = "v=0
    o=CiscoSystemsSIP-GW-UserAgent 3745 9509 IN IP4 10.0.0.2
    s=SIP Call
    c=IN IP4 10.0.0.2
    t=0 0
    m=image 17682 udptl t38
    c=IN IP4 10.0.0.2
    a=T38FaxVersion:0
    a=T38MaxBitRate:7200
    a=T38FaxFillBitRemoval:0
    a=T38FaxTranscodingMMR:0
    a=T38FaxTranscodingJBIG:0
    a=T38FaxRateManagement:transferredTCF
    a=T38FaxMaxBuffer:200
    a=T38FaxMaxDatagram:180
    a=T38FaxUdpEC:t38UDPRedundancy";

/// Microsoft Office Communicator / Lync offer with many codecs and ICE candidates,
/// from [MS-DTMF] §2.2.1 (https://learn.microsoft.com/en-us/openspecs/office_protocols/
/// ms-dtmf/a72f4ae3-2269-49ea-b18c-ec2edbdcddb6), candidates shortened.
const LYNC: &str = "v=0
    o=- 0 1 IN IP4 10.131.32.127
    s=session
    c=IN IP4 10.131.32.127
    b=CT:99980
    t=0 0
    a=x-devicecaps:audio:send,recv;video:send,recv
    m=audio 50006 RTP/AVP 117 114 9 112 111 0 8 116 115 97 13 118 101
    a=x-ssrc-range:727739136-727739136
    a=rtcp-fb:* x-message app send:dsh recv:dsh
    a=rtcp-rsize
    a=label:main-audio
    a=x-source:main-audio
    a=ice-ufrag:6Gjo
    a=ice-pwd:NvUIAlyBYxK0xQ+VCXYRc2L/
    a=candidate:1 1 UDP 2130706431 10.131.32.127 50006 typ host
    a=candidate:1 2 UDP 2130705918 10.131.32.127 50007 typ host
    a=x-candidate-ipv6:2 1 UDP 2130705919 2001:4898:1:12:6d0f:ce6a:35a9:c5e0 50002 typ host
    a=rtcp:50007
    a=rtpmap:117 G722/8000/2
    a=rtpmap:114 x-msrta/16000
    a=fmtp:114 bitrate=29000
    a=rtpmap:9 G722/8000
    a=rtpmap:112 G7221/16000
    a=fmtp:112 bitrate=24000
    a=rtpmap:111 SIREN/16000
    a=fmtp:111 bitrate=16000
    a=rtpmap:0 PCMU/8000
    a=rtpmap:8 PCMA/8000
    a=rtpmap:116 AAL2-G726-32/8000
    a=rtpmap:115 x-msrta/8000
    a=fmtp:115 bitrate=11800
    a=rtpmap:97 RED/8000
    a=rtpmap:13 CN/8000
    a=rtpmap:118 CN/16000
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-16
    a=encryption:optional";

/// RFC 3264 §10.1 (audio and video offer; the connection address is a host name).
const RFC3264_10_1: &str = "v=0
    o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com
    s=
    c=IN IP4 host.atlanta.example.com
    t=0 0
    m=audio 49170 RTP/AVP 0 8 97
    a=rtpmap:0 PCMU/8000
    a=rtpmap:8 PCMA/8000
    a=rtpmap:97 iLBC/8000
    m=video 51372 RTP/AVP 31 32
    a=rtpmap:31 H261/90000
    a=rtpmap:32 MPV/90000";

#[test]
fn parses_real_world_bodies_into_typed_sections() {
    let a = sdp(ASTERISK_18);
    let m = &a.media()[0];
    assert_eq!(m.kind, MediaKind::Audio);
    assert_eq!(m.port, 10288);
    assert_eq!(m.connection, Some("192.168.0.158".parse().unwrap()));
    assert_eq!(
        m.codecs.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["PCMA", "PCMU", "G723", "telephone-event"]
    );
    assert_eq!(m.codecs[2].fmtp.as_deref(), Some("annexa=no"));
    let (pt, ev) = m.telephone_event().unwrap();
    assert_eq!(pt, 101);
    assert!(ev.contains(16) && ev.contains(0) && !ev.contains(17));
    assert_eq!(m.ptime, Some(20));
    assert_eq!(m.direction, Direction::SendRecv);

    let lync = sdp(LYNC);
    let m = &lync.media()[0];
    assert_eq!(m.codecs.len(), 13);
    assert_eq!(m.rtcp.unwrap().port, 50007);
    assert_eq!(m.codec("PCMA").unwrap().payload_type, 8);
    assert!(m.attribute("ice-ufrag").is_some());

    let cisco = sdp(CISCO_T38_REINVITE);
    let m = &cisco.media()[0];
    assert!(m.is_t38());
    assert_eq!(
        m.attribute("T38FaxRateManagement"),
        Some(Some("transferredTCF"))
    );
}

#[test]
fn e1_answers_asterisk_with_pcma_and_keeps_telephone_event() {
    let mut oa = e1();
    let (answer, neg, change) = oa.handle_offer(&sdp(ASTERISK_18)).unwrap();
    assert_eq!(change, None);
    let audio = neg.audio.unwrap();
    assert_eq!(audio.law, Law::ALaw);
    assert_eq!(audio.payload_type, PayloadType::PCMA);
    assert_eq!(audio.remote, Some("192.168.0.158:10288".parse().unwrap()));
    assert_eq!(
        audio.remote_rtcp,
        Some("192.168.0.158:10289".parse().unwrap())
    );
    assert_eq!(audio.telephone_event.unwrap().0.get(), 101);
    assert_eq!(audio.direction, Direction::SendRecv);
    let t = text(&answer);
    assert!(t.contains("m=audio 40000 RTP/AVP 8 101\r\n"), "{t}");
    assert!(t.contains("a=rtpmap:8 PCMA/8000\r\n"));
    assert!(t.contains("a=fmtp:101 0-16\r\n"));
    assert!(t.contains("c=IN IP4 192.0.2.10\r\n"));
    assert!(t.contains("a=sendrecv\r\n"));
    // The answer parses back.
    let back = SessionDescription::parse(&answer.to_bytes()).unwrap();
    assert_eq!(back.media().len(), 1);
}

#[test]
fn t1_prefers_pcmu_even_when_offered_second() {
    let mut oa = t1();
    let (_, neg, _) = oa.handle_offer(&sdp(ASTERISK_18)).unwrap();
    assert_eq!(neg.audio.unwrap().law, Law::MuLaw);
    // E1 facing a PCMU-only offer still connects (A↔µ conversion in the media path).
    let (answer, neg, _) = e1().handle_offer(&sdp(ASTERISK_PCMU_ONLY)).unwrap();
    assert_eq!(neg.audio.unwrap().law, Law::MuLaw);
    assert!(text(&answer).contains("m=audio 40000 RTP/AVP 0 101\r\n"));
}

#[test]
fn lower_case_names_and_events_0_15_are_mirrored() {
    let (answer, neg, _) = e1().handle_offer(&sdp(AUDIOCODES)).unwrap();
    let audio = neg.audio.unwrap();
    assert_eq!(audio.law, Law::ALaw);
    let (_, ev) = audio.telephone_event.unwrap();
    assert_eq!(ev.to_string(), "0-15");
    let t = text(&answer);
    assert!(t.contains("a=rtpmap:8 pcma/8000\r\n"), "{t}");
    assert!(t.contains("a=fmtp:101 0-15\r\n"));
}

#[test]
fn lync_offer_picks_pcma_among_thirteen() {
    let (answer, neg, _) = e1().handle_offer(&sdp(LYNC)).unwrap();
    let audio = neg.audio.unwrap();
    assert_eq!(audio.payload_type, PayloadType::PCMA);
    assert_eq!(
        audio.remote_rtcp,
        Some("10.131.32.127:50007".parse().unwrap())
    );
    assert!(text(&answer).contains("m=audio 40000 RTP/AVP 8 101\r\n"));
}

#[test]
fn rfc3264_audio_video_offer_rejects_video_with_port_zero() {
    let (answer, neg, _) = t1().handle_offer(&sdp(RFC3264_10_1)).unwrap();
    let audio = neg.audio.unwrap();
    assert_eq!(audio.law, Law::MuLaw);
    // Host name in c=: no usable address until the SIP layer resolves it.
    assert_eq!(audio.remote, None);
    assert!(audio.telephone_event.is_none());
    let media = answer.media();
    assert_eq!(media.len(), 2);
    assert_eq!(media[1].kind, MediaKind::Video);
    assert_eq!(media[1].port, 0);
    assert_eq!(media[1].formats, ["31", "32"]);
    let t = text(&answer);
    assert!(t.contains("m=audio 40000 RTP/AVP 0\r\n"), "{t}");
    assert!(t.contains("m=video 0 RTP/AVP 31 32\r\n"));
}

#[test]
fn t38_reinvite_is_rejected_without_t38_and_accepted_with_it() {
    let mut oa = e1();
    oa.handle_offer(&sdp(ASTERISK_18)).unwrap();
    let err = oa.handle_offer(&sdp(CISCO_T38_REINVITE)).unwrap_err();
    assert!(matches!(err, OfferAnswerError::NoCommonCodec { .. }));

    let mut caps = LocalCapabilities::for_span_law("192.0.2.10".parse().unwrap(), Law::ALaw);
    caps.t38_port = Some(40100);
    let mut oa = OfferAnswer::new(caps, 40000);
    let (answer, neg, _) = oa.handle_offer(&sdp(CISCO_T38_REINVITE)).unwrap();
    assert_eq!(neg.audio, None);
    assert_eq!(
        neg.t38.unwrap().remote,
        Some("10.0.0.2:17682".parse().unwrap())
    );
    let t = text(&answer);
    assert!(t.contains("m=image 40100 udptl t38\r\n"), "{t}");
    assert!(t.contains("a=T38FaxRateManagement:transferredTCF\r\n"));
}

#[test]
fn audio_plus_t38_offer_keeps_both_lines_in_order() {
    let offer = "v=0
        o=- 1 1 IN IP4 198.51.100.7
        s=-
        c=IN IP4 198.51.100.7
        t=0 0
        m=audio 5004 RTP/AVP 0 8
        m=image 5006 udptl t38
        a=T38FaxVersion:0
        a=T38FaxRateManagement:transferredTCF";
    let (answer, neg, _) = e1().handle_offer(&sdp(offer)).unwrap();
    assert_eq!(neg.audio.unwrap().law, Law::ALaw);
    let t = text(&answer);
    let audio_at = t.find("m=audio 40000 RTP/AVP 8").unwrap();
    let image_at = t.find("m=image 0 udptl t38").unwrap();
    assert!(audio_at < image_at);
}

#[test]
fn hold_and_resume_in_reoffers_with_version_checks() {
    let mut oa = e1();
    let (a1, _, _) = oa.handle_offer(&sdp(ASTERISK_18)).unwrap();
    let v1 = a1.origin().1;

    // Re-offer, same o= version: unchanged, our same answer comes back.
    let (a_same, neg, change) = oa.handle_offer(&sdp(ASTERISK_18)).unwrap();
    assert!(neg.unchanged);
    assert_eq!(change, None);
    assert_eq!(a_same.origin().1, v1);

    // Hold with a=sendonly: we answer recvonly.
    let hold = ASTERISK_18
        .replace("702294668 702294668", "702294668 702294669")
        .replace("a=sendrecv", "a=sendonly");
    let (a2, neg, change) = oa.handle_offer(&sdp(&hold)).unwrap();
    assert_eq!(change, Some(HoldChange::Held));
    assert!(neg.remote_hold);
    assert_eq!(neg.audio.unwrap().direction, Direction::RecvOnly);
    assert!(text(&a2).contains("a=recvonly\r\n"));
    assert_eq!(a2.origin().1, v1 + 1);

    // Resume.
    let resume = ASTERISK_18.replace("702294668 702294668", "702294668 702294670");
    let (a3, _, change) = oa.handle_offer(&sdp(&resume)).unwrap();
    assert_eq!(change, Some(HoldChange::Resumed));
    assert_eq!(a3.origin().1, v1 + 2);

    // Legacy hold: c=0.0.0.0 (RFC 3264 §8.4).
    let legacy = ASTERISK_18
        .replace("702294668 702294668", "702294668 702294671")
        .replace("c=IN IP4 192.168.0.158", "c=IN IP4 0.0.0.0");
    let (_, neg, change) = oa.handle_offer(&sdp(&legacy)).unwrap();
    assert_eq!(change, Some(HoldChange::Held));
    assert_eq!(neg.audio.unwrap().remote, None);

    // Inactive → inactive.
    let inactive = ASTERISK_18
        .replace("702294668 702294668", "702294668 702294672")
        .replace("a=sendrecv", "a=inactive");
    let (a5, neg, change) = oa.handle_offer(&sdp(&inactive)).unwrap();
    assert_eq!(change, None); // still held
    assert_eq!(neg.audio.unwrap().direction, Direction::Inactive);
    assert!(text(&a5).contains("a=inactive\r\n"));
}

#[test]
fn session_level_direction_applies_to_media() {
    let offer = "v=0
        o=- 5 5 IN IP4 203.0.113.1
        s=-
        c=IN IP4 203.0.113.1
        t=0 0
        a=recvonly
        m=audio 7000 RTP/AVP 8";
    let (answer, neg, _) = e1().handle_offer(&sdp(offer)).unwrap();
    assert_eq!(neg.audio.unwrap().direction, Direction::SendOnly);
    assert!(!neg.remote_hold);
    assert!(text(&answer).contains("a=sendonly\r\n"));
}

#[test]
fn our_offer_and_its_answer() {
    let mut oa = e1();
    let offer = oa.create_offer(Direction::SendRecv);
    let t = text(&offer);
    assert!(t.starts_with("v=0\r\no=gateway "), "{t}");
    assert!(t.contains("m=audio 40000 RTP/AVP 8 0 101\r\n"));
    assert!(t.contains("a=rtpmap:8 PCMA/8000\r\n"));
    assert!(t.contains("a=rtpmap:0 PCMU/8000\r\n"));
    assert!(t.contains("a=rtpmap:101 telephone-event/8000\r\n"));
    assert!(t.contains("a=fmtp:101 0-16\r\n"));
    assert!(t.contains("a=ptime:20\r\n"));
    let v0 = offer.origin().1;

    // The peer answers PCMU only, telephone-event at another PT, ptime 30, IPv6.
    let answer = "v=0
        o=peer 9 9 IN IP6 2001:db8::7
        s=-
        c=IN IP6 2001:db8::7
        t=0 0
        m=audio 30000 RTP/AVP 0 96
        a=rtpmap:96 telephone-event/8000
        a=fmtp:96 0-15
        a=ptime:30
        a=sendrecv";
    let (neg, _) = oa.handle_answer(&sdp(answer)).unwrap();
    let audio = neg.audio.unwrap();
    assert_eq!(audio.law, Law::MuLaw);
    assert_eq!(
        audio.remote,
        Some(SocketAddr::new("2001:db8::7".parse().unwrap(), 30000))
    );
    assert_eq!(audio.telephone_event.unwrap().0.get(), 96);
    assert_eq!(audio.send_ptime, 30);

    // Re-offer to hold: version + 1, a=sendonly; the answer's recvonly is not "their hold".
    let hold = oa.create_offer(Direction::SendOnly);
    assert_eq!(hold.origin().1, v0 + 1);
    assert!(text(&hold).contains("a=sendonly\r\n"));
    let ans = answer
        .replace("9 9", "9 10")
        .replace("a=sendrecv", "a=recvonly");
    let (neg, change) = oa.handle_answer(&sdp(&ans)).unwrap();
    assert_eq!(change, None);
    assert_eq!(neg.audio.unwrap().direction, Direction::SendOnly);
}

#[test]
fn answers_that_break_the_rules_are_refused() {
    let mut oa = e1();
    assert_eq!(
        oa.handle_answer(&sdp(ASTERISK_18)),
        Err(OfferAnswerError::NoOfferPending)
    );
    oa.create_offer(Direction::SendRecv);
    let two = "v=0
        o=- 1 1 IN IP4 203.0.113.1
        s=-
        c=IN IP4 203.0.113.1
        t=0 0
        m=audio 7000 RTP/AVP 8
        m=audio 7002 RTP/AVP 8";
    assert_eq!(
        oa.handle_answer(&sdp(two)),
        Err(OfferAnswerError::MediaCountMismatch {
            offered: 1,
            answered: 2
        })
    );
    oa.create_offer(Direction::SendRecv);
    let rejected = "v=0
        o=- 1 2 IN IP4 203.0.113.1
        s=-
        c=IN IP4 203.0.113.1
        t=0 0
        m=audio 0 RTP/AVP 8";
    assert!(matches!(
        oa.handle_answer(&sdp(rejected)),
        Err(OfferAnswerError::NoCommonCodec { .. })
    ));
}

#[test]
fn odd_offers() {
    // G.729 only: nothing in common (the SIP layer answers 488).
    let g729 = "v=0
        o=- 1 1 IN IP4 203.0.113.1
        s=-
        c=IN IP4 203.0.113.1
        t=0 0
        m=audio 7000 RTP/AVP 18
        a=rtpmap:18 G729/8000";
    assert!(matches!(
        e1().handle_offer(&sdp(g729)),
        Err(OfferAnswerError::NoCommonCodec { .. })
    ));
    // SRTP-only audio is rejected (no keys), the plain one accepted.
    let savp = "v=0
        o=- 1 1 IN IP4 203.0.113.1
        s=-
        c=IN IP4 203.0.113.1
        t=0 0
        m=audio 7000 RTP/SAVP 8
        a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz
        m=audio 7002 RTP/AVP 8";
    let (answer, neg, _) = e1().handle_offer(&sdp(savp)).unwrap();
    assert_eq!(neg.audio.unwrap().index, 1);
    assert_eq!(answer.media()[0].port, 0);
    // Media-level c= wins over session-level; no t= line; LF-only line ends; unknown lines.
    let lax = b"v=0\no=- 1 1 IN IP4 203.0.113.1\ns=-\nc=IN IP4 203.0.113.1\nx=unknown\nm=audio 7000 RTP/AVP 8 0\nc=IN IP4 203.0.113.99\na=ptime:40\na=maxptime:60\na=x-foo\n";
    let offer = SessionDescription::parse(lax).unwrap();
    let m = &offer.media()[0];
    assert_eq!(m.connection, Some("203.0.113.99".parse().unwrap()));
    assert_eq!((m.ptime, m.maxptime), (Some(40), Some(60)));
    let (_, neg, _) = e1().handle_offer(&offer).unwrap();
    assert_eq!(neg.audio.unwrap().send_ptime, 40);
    // telephone-event with an odd event list and no fmtp at all.
    let ev = TelephoneEvents::parse("0-11,16").unwrap();
    assert_eq!(ev.to_string(), "0-11,16");
    assert!(TelephoneEvents::parse("5-2").is_none());
    assert!(TelephoneEvents::parse("abc").is_none());
    let nofmtp = "v=0
        o=- 1 1 IN IP4 203.0.113.1
        s=-
        c=IN IP4 203.0.113.1
        t=0 0
        m=audio 7000 RTP/AVP 8 100
        a=rtpmap:100 telephone-event/8000";
    let (answer, neg, _) = e1().handle_offer(&sdp(nofmtp)).unwrap();
    assert_eq!(
        neg.audio.unwrap().telephone_event.unwrap().1.to_string(),
        "0-15"
    );
    assert!(text(&answer).contains("a=fmtp:100 0-15\r\n"));
    // Garbage is an error, not a panic.
    assert!(SessionDescription::parse(b"hello").is_err());
    assert!(SessionDescription::parse(b"v=0\r\nm=audio x RTP/AVP 0\r\n").is_err());
    assert!(SessionDescription::parse(&[0xff, 0xfe]).is_err());
}

/// RFC 2543-era multicast INVITE body (two `t=` lines, `i=`, `e=`, `c=` with TTL), from
/// the GNU oSIP test messages (libosip2-2.2.0, `src/test/res/sip5`).
#[test]
fn multicast_offer_is_parsed_and_declined() {
    let offer = "v=0
        o=user1 53655765 2353687637 IN IP4 128.3.4.5
        s=Mbone Audio
        t=3149328700 0
        i=Discussion of Mbone Engineering Issues
        e=mbone@somewhere.com
        c=IN IP4 224.2.0.1/127
        t=0 0
        m=audio 3456 RTP/AVP 0
        a=rtpmap:0 PCMU/8000";
    let o = sdp(offer);
    assert_eq!(o.session().times.len(), 2);
    assert_eq!(o.media()[0].connection, Some("224.2.0.1".parse().unwrap()));
    assert!(matches!(
        t1().handle_offer(&o),
        Err(OfferAnswerError::NoCommonCodec { .. })
    ));
}

#[test]
fn a_later_answer_to_the_same_offer_wins_and_maxptime_caps_ptime() {
    let mut oa = e1();
    oa.create_offer(Direction::SendRecv);
    // 183 Session Progress from one fork: PCMA, ptime 30 but maxptime 20.
    let early = "v=0
        o=fork1 1 1 IN IP4 203.0.113.1
        s=-
        c=IN IP4 203.0.113.1
        t=0 0
        m=audio 7000 RTP/AVP 8
        a=ptime:30
        a=maxptime:20";
    let (neg, _) = oa.handle_answer(&sdp(early)).unwrap();
    let a = neg.audio.unwrap();
    assert_eq!(a.send_ptime, 20);
    assert_eq!(a.remote, Some("203.0.113.1:7000".parse().unwrap()));
    // 200 OK from another fork with PCMU: it is the answer that counts.
    let fin = "v=0
        o=fork2 5 5 IN IP4 203.0.113.2
        s=-
        c=IN IP4 203.0.113.2
        t=0 0
        m=audio 9000 RTP/AVP 0";
    let (neg, _) = oa.handle_answer(&sdp(fin)).unwrap();
    let a = neg.audio.unwrap();
    assert_eq!(a.law, Law::MuLaw);
    assert_eq!(a.remote, Some("203.0.113.2:9000".parse().unwrap()));
    assert_eq!(
        oa.negotiated().unwrap().audio.as_ref().unwrap().law,
        Law::MuLaw
    );
    // Once the peer makes an offer, old answers are no longer accepted.
    oa.handle_offer(&sdp(ASTERISK_18)).unwrap();
    assert_eq!(
        oa.handle_answer(&sdp(fin)),
        Err(OfferAnswerError::NoOfferPending)
    );
}
