//! The libpri call wrappers of `libpri/mod.rs` exercised end to end over our data link, with
//! hand-written Q.931 messages on our side (the call control layer sits above and will use
//! the same harness): libpri answers a call we place, and places one we answer, with every
//! event decoded from libpri's structures.

mod libpri;

use std::time::{Duration, Instant};

use libpri::harness::Harness;
use libpri::{CallParams, CallRef, Node, PriEvent, Switch};
use q931::lapd::{LinkConfig, LinkEvent, LinkState, Role};

fn up(h: &Harness) -> bool {
    h.link.state() == LinkState::MultipleFrameEstablished
        && h.pri_events().any(|e| *e == PriEvent::DchanUp)
}

/// Runs until a Q.931 message of `message_type` arrives on our link and returns it.
fn expect_message(h: &mut Harness, message_type: u8) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        while let Some(e) = h.next_link_event() {
            if let LinkEvent::Data(msg) = e {
                if msg.get(4) == Some(&message_type) {
                    return msg;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no message type {message_type:#04x}: {:#?}",
            h.trace
        );
        h.step(Duration::from_millis(20));
    }
}

/// Runs until libpri reports an event `pick` accepts and returns what it extracted.
fn expect_pri<T>(h: &mut Harness, mut pick: impl FnMut(&PriEvent) -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        while let Some(e) = h.next_pri_event() {
            if let Some(t) = pick(&e) {
                return t;
            }
        }
        assert!(Instant::now() < deadline, "{:#?}", h.trace);
        h.step(Duration::from_millis(20));
    }
}

fn cause_value(msg: &[u8]) -> Option<u8> {
    let mut i = 5;
    while i + 1 < msg.len() {
        if msg[i] & 0x80 != 0 {
            i += 1;
            continue;
        }
        let len = usize::from(msg[i + 1]);
        if msg[i] == 0x08 && len >= 2 {
            return msg.get(i + 3).map(|b| b & 0x7F);
        }
        i += 2 + len;
    }
    None
}

fn connected(role: Role) -> Harness {
    let node = match role {
        Role::User => Node::Network,
        Role::Network => Node::Cpe,
    };
    let mut h = Harness::new(LinkConfig::pri(role), node, Switch::EuroIsdnE1);
    h.pri.hangup_fix_enable(true);
    h.link.establish(Instant::now());
    assert!(h.run_until(Duration::from_secs(5), up));
    h.new_pri_events();
    h.new_link_events();
    h
}

#[test]
fn libpri_network_side_answers_our_call_and_we_clear() {
    let mut h = connected(Role::User);
    // SETUP: speech, B1 exclusive, called 1234, calling 1000, sending complete.
    let setup = [
        0x08, 0x02, 0x00, 0x01, 0x05, 0x04, 0x03, 0x80, 0x90, 0xA3, 0x18, 0x03, 0xA9, 0x83, 0x81,
        0x6C, 0x06, 0x01, 0x80, b'1', b'0', b'0', b'0', 0x70, 0x05, 0x81, b'1', b'2', b'3', b'4',
        0xA1,
    ];
    h.link.send_i(Instant::now(), &setup).unwrap();
    let ring = expect_pri(&mut h, |e| match e {
        PriEvent::Ring(r) => Some(r.clone()),
        _ => None,
    });
    assert_eq!(ring.called_number, "1234");
    assert_eq!(ring.calling_number, "1000");
    assert!(ring.complete);
    assert_eq!(ring.channel & 0xFF, 1);
    assert!(!ring.flexible, "exclusive channel");
    let call = ring.call.expect("call handle");
    h.pri.proceeding(call, ring.channel, false).unwrap();
    h.pri.alerting(call, ring.channel, true).unwrap();
    h.pri.answer(call, ring.channel).unwrap();
    for message_type in [0x02, 0x01, 0x07] {
        let msg = expect_message(&mut h, message_type);
        assert_eq!(
            &msg[..4],
            &[0x08, 0x02, 0x80, 0x01],
            "call reference, flag set"
        );
    }
    // CONNECT ACKNOWLEDGE, then DISCONNECT cause 16 from us.
    h.link
        .send_i(Instant::now(), &[0x08, 0x02, 0x00, 0x01, 0x0F])
        .unwrap();
    h.link
        .send_i(
            Instant::now(),
            &[0x08, 0x02, 0x00, 0x01, 0x45, 0x08, 0x02, 0x80, 0x90],
        )
        .unwrap();
    let (hangup_call, cause) = expect_pri(&mut h, |e| match e {
        PriEvent::HangupReq(hg) => Some((hg.call, hg.cause)),
        _ => None,
    });
    assert_eq!(hangup_call, Some(call));
    assert_eq!(cause, 16);
    h.pri.hangup(call, cause).unwrap();
    let release = expect_message(&mut h, 0x4D);
    assert_eq!(&release[..4], &[0x08, 0x02, 0x80, 0x01]);
    h.link
        .send_i(Instant::now(), &[0x08, 0x02, 0x00, 0x01, 0x5A])
        .unwrap();
    let done: Option<CallRef> = expect_pri(&mut h, |e| match e {
        PriEvent::Hangup(hg) | PriEvent::HangupAck(hg) => Some(hg.call),
        _ => None,
    });
    assert_eq!(done, Some(call));
}

#[test]
fn libpri_user_side_places_a_call_we_answer_and_it_clears() {
    let mut h = connected(Role::Network);
    let call = h.pri.new_call().expect("pri_new_call");
    h.pri
        .call(
            call,
            &CallParams {
                channel: 3,
                called: "5551234",
                calling: "2000",
                ..CallParams::default()
            },
        )
        .unwrap();
    let setup = expect_message(&mut h, 0x05);
    let text = String::from_utf8_lossy(&setup);
    assert!(
        text.contains("5551234") && text.contains("2000"),
        "{setup:02x?}"
    );
    assert_eq!(setup[2] & 0x80, 0, "originating side of the call reference");
    let cr = [setup[2] | 0x80, setup[3]];
    let answer = |message_type: u8, body: &[u8]| {
        let mut m = vec![0x08, 0x02, cr[0], cr[1], message_type];
        m.extend_from_slice(body);
        m
    };
    h.link
        .send_i(
            Instant::now(),
            &answer(0x02, &[0x18, 0x03, 0xA9, 0x83, 0x83]),
        )
        .unwrap();
    let proceeding = expect_pri(&mut h, |e| match e {
        PriEvent::Proceeding(p) => Some(p.clone()),
        _ => None,
    });
    assert_eq!(proceeding.call, Some(call));
    assert_eq!(proceeding.channel & 0xFF, 3);
    // ALERTING with progress indicator "in-band information available" (8).
    h.link
        .send_i(Instant::now(), &answer(0x01, &[0x1E, 0x02, 0x80, 0x88]))
        .unwrap();
    let ringing = expect_pri(&mut h, |e| match e {
        PriEvent::Ringing(a) => Some(a.clone()),
        _ => None,
    });
    assert_eq!(ringing.call, Some(call));
    h.link.send_i(Instant::now(), &answer(0x07, &[])).unwrap();
    let answered = expect_pri(&mut h, |e| match e {
        PriEvent::Answer(a) => Some(a.call),
        _ => None,
    });
    assert_eq!(answered, Some(call));
    // libpri (CPE) acknowledges the CONNECT, then clears with cause 17.
    expect_message(&mut h, 0x0F);
    h.pri.hangup(call, 17).unwrap();
    let disconnect = expect_message(&mut h, 0x45);
    assert_eq!(cause_value(&disconnect), Some(17));
    h.link.send_i(Instant::now(), &answer(0x4D, &[])).unwrap();
    // libpri reports the RELEASE as HANGUP and completes it when told to hang up.
    let hangup = expect_pri(&mut h, |e| match e {
        PriEvent::Hangup(hg) => Some(hg.clone()),
        _ => None,
    });
    assert_eq!(hangup.call, Some(call));
    h.pri.hangup(call, hangup.cause).unwrap();
    let complete = expect_message(&mut h, 0x5A);
    assert_eq!(&complete[2..4], &setup[2..4]);
}
