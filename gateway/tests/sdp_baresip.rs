//! A real SIP user agent's SDP offer: baresip (Debian package `baresip-core`) dials a
//! UDP socket of this test; the INVITE's SDP goes through our offer/answer engine.

use std::net::UdpSocket;

use crate::baresip_support::{Baresip, Setup};

use gateway::media::Law;
use gateway::sdp::{Direction, LocalCapabilities, OfferAnswer, SessionDescription};

#[test]
fn baresip_offer_is_answered_with_pcma_and_telephone_event() {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (_phone, invite, _) = Baresip::dial(
        &Setup {
            name: "sdp",
            config: "audio_player aufile,/dev/null\n\
                     audio_source ausine,1000\n\
                     module g711.so\nmodule ausine.so\nmodule aufile.so\nmodule account.so\n\
                     module_app menu.so\n",
            user: "gwtest",
            account: "regint=0",
            run_secs: 8,
        },
        &sock,
        "4001",
    );
    let invite = invite.into_bytes();
    let at = invite
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("INVITE has a body");
    let body = &invite[at + 4..];
    let offer = SessionDescription::parse(body).expect("baresip SDP parses");
    let audio = &offer.media()[0];
    assert!(audio.codec("PCMU").is_some() && audio.codec("PCMA").is_some());
    assert_eq!(audio.direction, Direction::SendRecv);

    let mut oa = OfferAnswer::new(
        LocalCapabilities::for_span_law("127.0.0.1".parse().unwrap(), Law::ALaw),
        40000,
    );
    let (answer, neg, _) = oa.handle_offer(&offer).unwrap();
    let a = neg.audio.unwrap();
    // baresip lists PCMU first; an E1 gateway still prefers PCMA (no transcoding).
    assert_eq!(a.law, Law::ALaw);
    assert_eq!(a.remote.unwrap().port(), audio.port);
    let (te_pt, events) = a.telephone_event.expect("baresip offers telephone-event");
    assert_eq!(Some(te_pt.get()), audio.telephone_event().map(|t| t.0));
    assert!(events.contains(0) && events.contains(15));
    let text = String::from_utf8(answer.to_bytes()).unwrap();
    assert!(
        text.contains(&format!("m=audio 40000 RTP/AVP 8 {}\r\n", te_pt.get())),
        "{text}"
    );
}
