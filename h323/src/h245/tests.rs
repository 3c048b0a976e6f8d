//! Two sessions against each other in virtual time, every message through the PER codec.

use super::*;

fn media(last: u8) -> MediaAddresses {
    MediaAddresses {
        rtp: SocketAddrV4::new([10, 0, 0, last].into(), 5000),
        rtcp: SocketAddrV4::new([10, 0, 0, last].into(), 5001),
    }
}

fn session(last: u8, seed: u64) -> H245Session {
    let mut cfg = H245Config::new(media(last));
    cfg.seed = Some(seed);
    H245Session::new(cfg)
}

/// Moves messages both ways until quiet; returns the names that went a→b and b→a.
fn shuttle(now: Instant, a: &mut H245Session, b: &mut H245Session) -> (Vec<String>, Vec<String>) {
    let (mut ab, mut ba) = (Vec::new(), Vec::new());
    loop {
        let mut moved = false;
        while let Some(m) = a.poll_message() {
            let bytes = crate::h245_tunnel::encode(&m).unwrap();
            let m = crate::h245_tunnel::decode(&bytes).unwrap();
            ab.push(crate::h245_tunnel::message_name(&m).to_string());
            b.handle_message(now, m);
            moved = true;
        }
        while let Some(m) = b.poll_message() {
            let bytes = crate::h245_tunnel::encode(&m).unwrap();
            let m = crate::h245_tunnel::decode(&bytes).unwrap();
            ba.push(crate::h245_tunnel::message_name(&m).to_string());
            a.handle_message(now, m);
            moved = true;
        }
        if !moved {
            return (ab, ba);
        }
    }
}

fn events(s: &mut H245Session) -> Vec<H245Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

#[test]
fn tcs_msd_olc_both_ways_then_close() {
    let now = Instant::now();
    let mut a = session(1, 11);
    let mut b = session(2, 22);
    a.start(now);
    b.start(now);
    let (ab, ba) = shuttle(now, &mut a, &mut b);
    for sent in [&ab, &ba] {
        for name in [
            "terminalCapabilitySet",
            "masterSlaveDetermination",
            "terminalCapabilitySetAck",
            "masterSlaveDeterminationAck",
            "openLogicalChannel",
            "openLogicalChannelAck",
        ] {
            assert!(sent.iter().any(|n| n == name), "{name} missing in {sent:?}");
        }
    }
    let ea = events(&mut a);
    let eb = events(&mut b);
    let role_a = ea.iter().find_map(|e| match e {
        H245Event::MasterSlave(r) => Some(*r),
        _ => None,
    });
    let role_b = eb.iter().find_map(|e| match e {
        H245Event::MasterSlave(r) => Some(*r),
        _ => None,
    });
    assert_eq!(role_a.map(Role::opposite), role_b);
    // a sends A-law (first in b's table) to b's RTP, and b to a's.
    assert!(ea.contains(&H245Event::OutgoingChannelOpen {
        channel: 1,
        codec: G711::ALaw,
        frames: 20,
        remote_rtp: media(2).rtp,
        remote_rtcp: Some(media(2).rtcp),
    }));
    assert!(eb.contains(&H245Event::IncomingChannelOpen {
        channel: 1,
        codec: G711::ALaw,
        frames: 20,
        remote_rtcp: Some(media(1).rtcp),
    }));
    assert!(a.outgoing_open() && b.outgoing_open());
    assert_eq!(a.poll_timeout(), None, "every timer stopped");

    // Digits: b announced dtmf and basicString: alphanumeric.
    assert!(a.send_user_input("42#", 100));
    shuttle(now, &mut a, &mut b);
    assert_eq!(
        events(&mut b),
        vec![H245Event::UserInput(UserInput::Alphanumeric("42#".into()))]
    );

    // Release: CLC/CLCAck, EndSessionCommand both ways.
    assert!(a.close_outgoing(now));
    a.end_session();
    let (ab, ba) = shuttle(now, &mut a, &mut b);
    // Closed on request: not opened again once the Ack is in.
    assert_eq!(ab, vec!["closeLogicalChannel", "endSessionCommand"]);
    assert_eq!(ba, vec!["closeLogicalChannelAck"]);
    assert!(events(&mut b).contains(&H245Event::EndSession));
    assert!(events(&mut a).contains(&H245Event::OutgoingChannelClosed { channel: 1 }));
    assert!(a.end_session_sent() && b.end_session_received());
}

#[test]
fn t101_and_t103_expire() {
    let now = Instant::now();
    let mut a = session(1, 5);
    a.start(now);
    while a.poll_message().is_some() {}
    let t = a.poll_timeout().unwrap();
    assert_eq!(t, now + Duration::from_secs(10));
    a.handle_timeout(t);
    let names: Vec<&str> = std::iter::from_fn(|| a.poll_message())
        .map(|m| crate::h245_tunnel::message_name(&m))
        .collect();
    assert_eq!(
        names,
        vec![
            "terminalCapabilitySetRelease",
            "masterSlaveDeterminationRelease"
        ]
    );
    let ev = events(&mut a);
    assert!(ev.contains(&H245Event::Failure(H245Failure::CapabilityExchange)));
    assert!(ev.contains(&H245Event::Failure(H245Failure::MasterSlave(
        MsdFailure::Timeout
    ))));
}

#[test]
fn unsupported_codec_is_rejected() {
    let now = Instant::now();
    let mut cfg = H245Config::new(media(2));
    cfg.capabilities.codecs = vec![G711::MuLaw];
    let mut b = H245Session::new(cfg);
    let asn::MultimediaSystemControlMessage::request(asn::RequestMessage::openLogicalChannel(olc)) =
        logical_channel::open(7, G711::ALaw, 20, media(1))
    else {
        panic!()
    };
    b.handle_message(
        now,
        asn::MultimediaSystemControlMessage::request(asn::RequestMessage::openLogicalChannel(olc)),
    );
    let m = b.poll_message().unwrap();
    assert_eq!(
        crate::h245_tunnel::message_name(&m),
        "openLogicalChannelReject"
    );
    assert_eq!(
        events(&mut b),
        vec![H245Event::IncomingChannelRejected {
            channel: 7,
            cause: RejectCause::DataTypeNotSupported
        }]
    );
}
