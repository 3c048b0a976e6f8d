//! Our Q.921 data link against libpri (Debian `libpri-dev`) over a socket pair carrying
//! frames with their FCS octets, as a DAHDI HDLC channel does. libpri runs on the wall clock,
//! so do these tests (a few seconds each, timers shortened where they wait).

mod libpri;

use std::time::{Duration, Instant};

use libpri::harness::Harness;
use libpri::{Node, PriEvent, PriTimer, Switch};
use q931::lapd::{Control, Frame, LinkConfig, LinkEvent, LinkState, MdlError, Role, Supervisory};

const PRI_CAUSE_NORMAL_CIRCUIT_CONGESTION: i32 = 34;

fn harness(role: Role, cfg: impl FnOnce(&mut LinkConfig)) -> Harness {
    let mut config = LinkConfig::pri(role);
    cfg(&mut config);
    let node = match role {
        Role::User => Node::Network,
        Role::Network => Node::Cpe,
    };
    Harness::new(config, node, Switch::EuroIsdnE1)
}

fn up(h: &Harness) -> bool {
    h.link.state() == LinkState::MultipleFrameEstablished
        && h.count_pri(&PriEvent::DchanUp) > h.count_pri(&PriEvent::DchanDown)
}

/// A minimal EuroISDN SETUP (Q.931 §3.1.14) with a 2-octet call reference `cr`: bearer
/// capability speech / 64 kbit/s / A-law, channel identification PRI B1 exclusive, called
/// party number "1234", sending complete.
fn setup(cr: u16) -> Vec<u8> {
    vec![
        0x08,
        0x02,
        (cr >> 8) as u8 & 0x7F,
        cr as u8,
        0x05, // header, SETUP
        0x04,
        0x03,
        0x80,
        0x90,
        0xA3, // bearer capability
        0x18,
        0x03,
        0xA9,
        0x83,
        0x81, // channel identification
        0x70,
        0x05,
        0x81,
        b'1',
        b'2',
        b'3',
        b'4', // called party number
        0xA1, // sending complete
    ]
}

/// (call reference value, flag, message type, cause value) of a Q.931 message with a
/// 2-octet call reference.
fn summary(msg: &[u8]) -> Option<(u16, bool, u8, Option<u8>)> {
    if msg.len() < 5 || msg[0] != 0x08 || msg[1] != 0x02 {
        return None;
    }
    let flag = msg[2] & 0x80 != 0;
    let cr = u16::from(msg[2] & 0x7F) << 8 | u16::from(msg[3]);
    let mut cause = None;
    let mut i = 5;
    while i < msg.len() {
        let id = msg[i];
        if id & 0x80 != 0 {
            i += 1;
            continue;
        }
        let len = usize::from(*msg.get(i + 1)?);
        let body = msg.get(i + 2..i + 2 + len)?;
        if id == 0x08 && len >= 2 {
            cause = Some(body[1] & 0x7F);
        }
        i += 2 + len;
    }
    Some((cr, flag, msg[4], cause))
}

fn establishes(role: Role) {
    let mut h = harness(role, |_| {});
    h.link.establish(Instant::now());
    assert!(h.run_until(Duration::from_secs(5), up), "{:#?}", h.trace);
    // libpri's first frame is its SABME, with the C/R bit of its role.
    let first = h
        .frames_from_pri()
        .next()
        .expect("libpri sent nothing")
        .to_vec();
    let expected_cr = match role {
        Role::User => 0x02,    // a network command
        Role::Network => 0x00, // a user command
    };
    assert_eq!(first, [expected_cr, 0x01, 0x7F]);
    assert_eq!(h.count_pri(&PriEvent::DchanUp), 1);
    assert!(h.link_events().any(|e| matches!(
        e,
        LinkEvent::EstablishConfirm | LinkEvent::EstablishIndication
    )));
    // Stays up for a while, with nothing more than acknowledgements.
    h.run_for(Duration::from_millis(500));
    assert!(up(&h));
    assert_eq!(h.count_pri(&PriEvent::DchanDown), 0);
    assert!(!h
        .link_events()
        .any(|e| matches!(e, LinkEvent::MdlError(_) | LinkEvent::ReleaseIndication)));
}

#[test]
fn libpri_network_side_brings_link_up() {
    establishes(Role::User);
}

#[test]
fn libpri_user_side_brings_link_up() {
    establishes(Role::Network);
}

/// `calls` SETUPs in bursts from our side, each refused by libpri at once with RELEASE
/// COMPLETE cause 34. Every I frame must arrive once and in order, both ways.
fn exchange(h: &mut Harness, calls: u16) {
    h.new_pri_events();
    h.new_link_events();
    let mut next_cr = 1u16;
    let mut rings = Vec::new();
    let mut answers = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while answers.len() < usize::from(calls) && Instant::now() < deadline {
        // Bursts of up to 20 messages: more than the window k=7.
        if next_cr <= calls && h.link.queued() < 5 {
            for _ in 0..20 {
                if next_cr > calls {
                    break;
                }
                h.link.send_i(Instant::now(), &setup(next_cr)).unwrap();
                next_cr += 1;
            }
        }
        h.step(Duration::from_millis(20));
        for e in h.new_pri_events() {
            if let PriEvent::Ring(ring) = e {
                let call = ring.call.expect("RING without a call");
                assert_eq!(ring.called_number, "1234");
                assert!(ring.complete);
                h.pri
                    .hangup(call, PRI_CAUSE_NORMAL_CIRCUIT_CONGESTION)
                    .unwrap();
                rings.push(ring.cref);
            }
        }
        for e in h.new_link_events() {
            match e {
                LinkEvent::Data(msg) => answers.push(summary(&msg).expect("not Q.931")),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(rings.len(), usize::from(calls));
    assert_eq!(answers.len(), usize::from(calls), "{answers:?}");
    for (i, (cr, flag, message_type, cause)) in answers.iter().enumerate() {
        assert_eq!(*cr, i as u16 + 1, "answers in order");
        assert!(
            *flag,
            "answer from the destination side of the call reference"
        );
        assert_eq!(*message_type, 0x5A, "RELEASE COMPLETE");
        assert_eq!(*cause, Some(34));
    }
    assert_eq!(h.link.queued(), 0);
    assert!(up(h));
}

/// 150 SETUPs (N(S) and N(R) wrap past 127) and 150 answers, nothing lost or repeated.
fn data_exchange(role: Role) {
    let mut h = harness(role, |_| {});
    h.link.establish(Instant::now());
    assert!(h.run_until(Duration::from_secs(5), up));
    exchange(&mut h, 150);
    let stats = h.link.stats();
    assert_eq!(stats.i_sent, 150);
    assert_eq!(stats.i_received, 150);
    assert_eq!(stats.i_retransmitted, 0);
    assert_eq!(stats.rej_sent, 0);
}

#[test]
fn libpri_network_side_lapd_data_exchange_survives() {
    data_exchange(Role::User);
}

#[test]
fn libpri_user_side_lapd_data_exchange_survives() {
    data_exchange(Role::Network);
}

/// A D-channel outage longer than T203 + T200 × (N200 + 1) on both sides: both report the
/// link down, and both bring it back up when the line returns.
fn loss_and_recovery(role: Role) {
    let t200 = Duration::from_millis(200);
    let t203 = Duration::from_millis(1000);
    let mut h = harness(role, |c| {
        c.t200 = t200;
        c.t203 = t203;
    });
    h.pri.set_timer(PriTimer::T200, 200);
    h.pri.set_timer(PriTimer::T203, 1000);
    assert_eq!(h.pri.timer(PriTimer::N200), 3);
    h.link.establish(Instant::now());
    assert!(h.run_until(Duration::from_secs(5), up));
    h.new_link_events();
    h.cut = true;
    let cut_at = Instant::now();
    assert!(
        h.run_until(Duration::from_secs(5), |h| {
            h.count_pri(&PriEvent::DchanDown) >= 1
                && h.link_events().any(|e| *e == LinkEvent::ReleaseIndication)
        }),
        "{:#?}",
        h.trace
    );
    let detected = cut_at.elapsed();
    assert!(detected >= t203 + t200 * 3, "down after {detected:?}");
    // Still cut: our side keeps trying (SABME every T200), libpri too.
    h.run_for(Duration::from_millis(600));
    assert_eq!(h.link.state(), LinkState::AwaitingEstablishment);
    // The line returns.
    h.cut = false;
    assert!(
        h.run_until(Duration::from_secs(5), |h| up(h)
            && h.count_pri(&PriEvent::DchanUp) >= 2),
        "{:#?}",
        h.trace
    );
    let events = h.new_link_events();
    let released = events
        .iter()
        .position(|e| *e == LinkEvent::ReleaseIndication)
        .expect("DL-RELEASE indication");
    let established = events
        .iter()
        .rposition(|e| {
            matches!(
                e,
                LinkEvent::EstablishIndication | LinkEvent::EstablishConfirm
            )
        })
        .expect("DL-ESTABLISH after recovery");
    assert!(released < established);
    assert_eq!(
        events
            .iter()
            .filter(|e| **e == LinkEvent::ReleaseIndication)
            .count(),
        1
    );
    // And it carries data again.
    h.new_pri_events();
    h.link.send_i(Instant::now(), &setup(7)).unwrap();
    assert!(h.run_until(Duration::from_secs(3), |h| h
        .pri_events()
        .any(|e| matches!(e, PriEvent::Ring(_)))));
}

#[test]
fn libpri_network_side_link_loss_and_recovery() {
    loss_and_recovery(Role::User);
}

#[test]
fn libpri_user_side_link_loss_and_recovery() {
    loss_and_recovery(Role::Network);
}

fn is_rr(frame: &[u8], cr: u8, pf: bool) -> bool {
    frame[0] == cr
        && matches!(
            Frame::decode(frame).map(|f| f.control),
            Ok(Control::Supervisory { function: Supervisory::ReceiveReady, poll_final, .. }) if poll_final == pf
        )
}

#[test]
fn libpri_t203_keepalives_while_idle() {
    // Our user side polls every 500 ms of silence, libpri (network) every 700 ms.
    let mut h = harness(Role::User, |c| c.t203 = Duration::from_millis(500));
    h.pri.set_timer(PriTimer::T203, 700);
    h.link.establish(Instant::now());
    assert!(h.run_until(Duration::from_secs(5), up));
    h.run_for(Duration::from_secs(4));
    assert!(up(&h));
    // Ours: RR commands P=1 (user command: C/R=0), answered by libpri with RR F=1 (network
    // response: C/R=0).
    let our_polls = h.frames_to_pri().filter(|f| is_rr(f, 0x00, true)).count();
    let pri_answers = h.frames_from_pri().filter(|f| is_rr(f, 0x00, true)).count();
    // libpri's: RR commands P=1 (network command: C/R=1) answered by us (user response:
    // C/R=1).
    let pri_polls = h.frames_from_pri().filter(|f| is_rr(f, 0x02, true)).count();
    let our_answers = h.frames_to_pri().filter(|f| is_rr(f, 0x02, true)).count();
    assert!(our_polls >= 3, "{our_polls} polls");
    assert!(
        pri_answers >= our_polls - 1,
        "{pri_answers} answers to {our_polls}"
    );
    assert!(pri_polls + our_polls >= 6, "{pri_polls} libpri polls");
    assert_eq!(our_answers, pri_polls);
    assert_eq!(h.count_pri(&PriEvent::DchanDown), 0);
    assert!(!h
        .link_events()
        .any(|e| matches!(e, LinkEvent::MdlError(_) | LinkEvent::ReleaseIndication)));
}

fn is_i_frame(frame: &[u8]) -> bool {
    matches!(
        Frame::decode(frame).map(|f| f.control),
        Ok(Control::Information { .. })
    )
}

fn is_rej(frame: &[u8]) -> bool {
    matches!(
        Frame::decode(frame).map(|f| f.control),
        Ok(Control::Supervisory {
            function: Supervisory::Reject,
            ..
        })
    )
}

/// One of our I frames lost on the way to libpri and one of libpri's lost on the way to us:
/// each receiver asks with REJ, each sender goes back to N(R), and the exchange completes.
fn lost_frames_recovered(role: Role) {
    let mut h = harness(role, |_| {});
    h.link.establish(Instant::now());
    assert!(h.run_until(Duration::from_secs(5), up));
    let mut ours = 0;
    h.drop_to_pri = Some(Box::new(move |f: &[u8]| {
        if is_i_frame(f) {
            ours += 1;
            return ours == 3;
        }
        false
    }));
    let mut theirs = 0;
    h.drop_from_pri = Some(Box::new(move |f: &[u8]| {
        if is_i_frame(f) {
            theirs += 1;
            return theirs == 5;
        }
        false
    }));
    exchange(&mut h, 40);
    let stats = h.link.stats();
    assert!(stats.i_retransmitted >= 1, "{stats:?}");
    assert!(stats.rej_sent >= 1, "{stats:?}");
    assert!(h.frames_from_pri().any(is_rej), "libpri sent no REJ");
    assert_eq!(h.count_pri(&PriEvent::DchanDown), 0);
    assert!(!h
        .link_events()
        .any(|e| matches!(e, LinkEvent::ReleaseIndication)));
}

#[test]
fn libpri_network_side_lost_frames_recovered_by_rej() {
    lost_frames_recovered(Role::User);
}

#[test]
fn libpri_user_side_lost_frames_recovered_by_rej() {
    lost_frames_recovered(Role::Network);
}

/// libpri restarts (a fresh controller on a new descriptor) while our link is established:
/// its SABME re-establishes the link on our side (MDL-ERROR F) and data flows again.
#[test]
fn libpri_restart_while_established() {
    let mut h = harness(Role::User, |_| {});
    h.link.establish(Instant::now());
    assert!(h.run_until(Duration::from_secs(5), up));
    exchange(&mut h, 10);
    h.restart_pri();
    h.new_pri_events();
    assert!(h.run_until(Duration::from_secs(5), |h| {
        h.link_events()
            .any(|e| *e == LinkEvent::MdlError(MdlError::PeerInitiatedReestablishment))
    }));
    // The new libpri reports its D-channel up (the first one did so once before).
    assert!(h.run_until(Duration::from_secs(5), |h| up(h)
        && h.count_pri(&PriEvent::DchanUp) == 2));
    assert_eq!(h.link.state(), LinkState::MultipleFrameEstablished);
    let (vs, va, _) = h.link.sequence_state();
    assert_eq!(vs, va);
    // Sequence numbers restarted at 0 with the new peer: a full exchange works.
    exchange(&mut h, 20);
}

/// The last I frame of a burst lost, with nothing after it to reveal the gap: the sender's
/// T200 fires and it recovers with P=1 (ours towards libpri, then libpri's towards us).
#[test]
fn libpri_t200_recovers_a_lost_last_frame_both_ways() {
    let mut h = harness(Role::User, |c| c.t200 = Duration::from_millis(300));
    h.pri.set_timer(PriTimer::T200, 300);
    h.link.establish(Instant::now());
    assert!(h.run_until(Duration::from_secs(5), up));
    h.new_pri_events();
    h.new_link_events();

    // Ours lost once: the SETUP reaches libpri only through our T200 retransmission.
    let mut dropped = false;
    h.drop_to_pri = Some(Box::new(move |f: &[u8]| {
        if is_i_frame(f) && !dropped {
            dropped = true;
            return true;
        }
        false
    }));
    h.link.send_i(Instant::now(), &setup(1)).unwrap();
    let sent = Instant::now();
    let call = loop {
        h.step(Duration::from_millis(20));
        if let Some(PriEvent::Ring(ring)) = h.next_pri_event() {
            break ring.call.unwrap();
        }
        assert!(sent.elapsed() < Duration::from_secs(3), "{:#?}", h.trace);
    };
    assert!(sent.elapsed() >= Duration::from_millis(300));
    let stats = h.link.stats();
    assert_eq!(stats.i_retransmitted, 1);
    assert!(stats.t200_expiries >= 1);
    // The retransmission carried P=1 and libpri answered with a response F=1.
    assert!(h.frames_to_pri().any(|f| matches!(
        Frame::decode(f).map(|f| f.control),
        Ok(Control::Information { poll: true, .. })
    )));

    // libpri's answer lost once: it arrives through libpri's T200 recovery.
    let mut dropped = false;
    h.drop_from_pri = Some(Box::new(move |f: &[u8]| {
        if is_i_frame(f) && !dropped {
            dropped = true;
            return true;
        }
        false
    }));
    h.pri
        .hangup(call, PRI_CAUSE_NORMAL_CIRCUIT_CONGESTION)
        .unwrap();
    let sent = Instant::now();
    let answer = loop {
        h.step(Duration::from_millis(20));
        if let Some(LinkEvent::Data(msg)) = h.next_link_event() {
            break msg;
        }
        assert!(sent.elapsed() < Duration::from_secs(3), "{:#?}", h.trace);
    };
    assert_eq!(summary(&answer).map(|s| s.2), Some(0x5A));
    assert!(sent.elapsed() >= Duration::from_millis(300));
    assert_eq!(h.frames_from_pri().filter(|f| is_i_frame(f)).count(), 2);
    assert_eq!(h.link.stats().i_received, 1);
    assert!(up(&h));
    assert_eq!(h.count_pri(&PriEvent::DchanDown), 0);
}

#[test]
fn libpri_ni2_network_side_brings_link_up() {
    let mut h = Harness::new(LinkConfig::pri(Role::User), Node::Network, Switch::Ni2);
    h.link.establish(Instant::now());
    assert!(h.run_until(Duration::from_secs(5), up), "{:#?}", h.trace);
    exchange(&mut h, 10);
}
