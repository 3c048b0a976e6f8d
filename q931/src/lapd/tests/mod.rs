//! Multiple-frame operation between our user side and our network side, in virtual time.

mod pair;
mod property;
mod throughput;
mod tshark;

use std::time::Duration;

use pair::{is_i, is_s, is_u, payloads, Pair, Path, Side};

use crate::lapd::{
    Control, Frame, LinkConfig, LinkError, LinkEvent, LinkState, MdlError, Role, Supervisory,
    Unnumbered, I_QUEUE_LIMIT,
};

#[test]
fn user_side_establishes_with_sabme_ua() {
    let mut pair = Pair::pri();
    pair.user.establish(pair.now);
    pair.deliver();
    assert_eq!(pair.user.state(), LinkState::MultipleFrameEstablished);
    assert_eq!(pair.network.state(), LinkState::MultipleFrameEstablished);
    assert_eq!(pair.user_events, [LinkEvent::EstablishConfirm]);
    assert_eq!(pair.network_events, [LinkEvent::EstablishIndication]);
    // On the wire: SABME P=1 as a user command (C/R=0), UA F=1 as a network response (C/R=0).
    assert_eq!(
        pair.wire,
        [
            (Side::User, vec![0x00, 0x01, 0x7F]),
            (Side::Network, vec![0x00, 0x01, 0x73])
        ]
    );
}

#[test]
fn network_side_establishes_with_its_own_cr_bits() {
    let mut pair = Pair::pri();
    pair.network.establish(pair.now);
    pair.deliver();
    assert_eq!(pair.network_events, [LinkEvent::EstablishConfirm]);
    assert_eq!(pair.user_events, [LinkEvent::EstablishIndication]);
    // SABME as a network command (C/R=1), UA as a user response (C/R=1).
    assert_eq!(
        pair.wire,
        [
            (Side::Network, vec![0x02, 0x01, 0x7F]),
            (Side::User, vec![0x02, 0x01, 0x73])
        ]
    );
}

#[test]
fn both_sides_establishing_at_once_collide_cleanly() {
    let mut pair = Pair::pri();
    pair.user.establish(pair.now);
    pair.network.establish(pair.now);
    pair.deliver();
    assert!(pair.user.is_established() && pair.network.is_established());
    assert_eq!(pair.user_events, [LinkEvent::EstablishConfirm]);
    assert_eq!(pair.network_events, [LinkEvent::EstablishConfirm]);
}

#[test]
fn data_flows_both_ways_in_order_across_sequence_wrap() {
    let mut pair = Pair::established();
    let up = payloads(300, 1);
    let down = payloads(300, 2);
    for (u, d) in up.iter().zip(&down) {
        pair.user.send_i(pair.now, u).unwrap();
        pair.network.send_i(pair.now, d).unwrap();
        pair.deliver();
    }
    assert_eq!(Pair::data(&pair.network_events), up);
    assert_eq!(Pair::data(&pair.user_events), down);
    assert_eq!(pair.user.queued(), 0);
    assert_eq!(pair.network.queued(), 0);
    assert_eq!(pair.user.stats().i_retransmitted, 0);
    // 300 mod 128 = 44.
    let (vs, va, vr) = pair.user.sequence_state();
    assert_eq!((vs.value(), va.value(), vr.value()), (44, 44, 44));
    // Acknowledgements rode on the I frames going the other way or in RR responses.
    assert!(pair.sent_by(Side::User).iter().all(|c| !matches!(
        c,
        Control::Supervisory {
            function: Supervisory::Reject,
            ..
        }
    )));
}

#[test]
fn i_frames_queued_while_down_go_after_establishment() {
    let mut pair = Pair::pri();
    let msgs = payloads(3, 7);
    for m in &msgs {
        pair.user.send_i(pair.now, m).unwrap();
    }
    assert_eq!(pair.user.state(), LinkState::AwaitingEstablishment);
    pair.deliver();
    assert_eq!(pair.user_events, [LinkEvent::EstablishConfirm]);
    assert_eq!(Pair::data(&pair.network_events), msgs);
}

#[test]
fn window_of_k_frames_then_waits_for_acknowledgement() {
    let mut pair = Pair::established();
    pair.to_network = Path::Hold;
    let msgs = payloads(10, 3);
    for m in &msgs {
        pair.user.send_i(pair.now, m).unwrap();
    }
    pair.deliver();
    // k = 7 outstanding, 3 waiting.
    assert_eq!(pair.held_to_network(), 7);
    assert_eq!(pair.user.queued(), 10);
    pair.to_network = Path::Pass;
    pair.release_held();
    assert_eq!(Pair::data(&pair.network_events), msgs);
    assert_eq!(pair.user.queued(), 0);
    assert_eq!(pair.user.stats().i_sent, 10);
}

#[test]
fn receiver_not_ready_stops_the_sender_until_cleared() {
    let mut pair = Pair::established();
    pair.network.set_receiver_busy(pair.now, true);
    pair.deliver();
    assert!(pair.user.peer_busy());
    let msgs = payloads(2, 4);
    for m in &msgs {
        pair.user.send_i(pair.now, m).unwrap();
    }
    pair.deliver();
    assert!(Pair::data(&pair.network_events).is_empty());
    // The busy peer is polled every T200 and answers RNR F=1; the link stays up.
    pair.run_for(Duration::from_millis(3500));
    assert!(pair.user.is_established());
    assert!(pair.sent_by(Side::Network).iter().any(|c| is_s(
        c,
        Supervisory::ReceiveNotReady,
        true
    )));
    assert!(Pair::data(&pair.network_events).is_empty());
    pair.network.set_receiver_busy(pair.now, false);
    pair.deliver();
    assert_eq!(Pair::data(&pair.network_events), msgs);
    assert!(!pair.user.peer_busy());
    assert!(!pair
        .user_events
        .iter()
        .any(|e| matches!(e, LinkEvent::MdlError(_))));
}

#[test]
fn i_queue_is_bounded_while_the_peer_stays_busy() {
    let mut pair = Pair::established();
    pair.network.set_receiver_busy(pair.now, true);
    pair.deliver();
    assert!(pair.user.peer_busy());
    let msgs = payloads(I_QUEUE_LIMIT + 40, 9);
    let mut accepted = Vec::new();
    let mut refused = 0;
    // Over several T200 periods the busy peer keeps sending I frames (as STATUS ENQUIRY
    // would), and layer 3 answers each, on top of its own traffic.
    for (period, chunk) in msgs.chunks(msgs.len().div_ceil(6)).enumerate() {
        pair.network
            .send_i(pair.now, &[0x08, 0x02, 0x00, period as u8, 0x75])
            .unwrap();
        pair.deliver();
        for m in chunk {
            match pair.user.send_i(pair.now, m) {
                Ok(()) => accepted.push(m.clone()),
                Err(e) => {
                    assert_eq!(
                        e,
                        LinkError::QueueFull {
                            limit: I_QUEUE_LIMIT
                        }
                    );
                    refused += 1;
                }
            }
            assert!(pair.user.queued() <= I_QUEUE_LIMIT);
        }
        pair.deliver();
        pair.run_for(Duration::from_millis(1500));
        assert!(pair.user.queued() <= I_QUEUE_LIMIT);
        assert!(pair.user.is_established(), "period {period}");
    }
    // Q.921 §5.6.5: every poll was answered RNR F=1 and the link stayed up, busy.
    let rnr_f1 = pair
        .sent_by(Side::Network)
        .iter()
        .filter(|c| is_s(c, Supervisory::ReceiveNotReady, true))
        .count();
    assert!(rnr_f1 >= 6, "{rnr_f1} RNR F=1");
    assert!(pair.user.peer_busy());
    assert_eq!(accepted, msgs[..I_QUEUE_LIMIT]);
    assert_eq!(refused, 40);
    assert_eq!(pair.user.queued(), I_QUEUE_LIMIT);
    assert!(Pair::data(&pair.network_events).is_empty());
    // The peer is ready again: what was accepted goes out, in order, and room returns.
    pair.network.set_receiver_busy(pair.now, false);
    pair.deliver();
    assert_eq!(Pair::data(&pair.network_events), accepted);
    assert_eq!(pair.user.queued(), 0);
    pair.user.send_i(pair.now, b"room again").unwrap();
    assert!(!pair
        .user_events
        .iter()
        .any(|e| matches!(e, LinkEvent::MdlError(_))));
}

#[test]
fn i_queue_is_bounded_when_polls_are_answered_but_nothing_is_acknowledged() {
    let mut pair = Pair::established();
    // The peer (by hand here) hears nothing of ours but answers each poll RR F=1 with
    // N(R) = 0.
    pair.to_network = Path::Cut;
    pair.to_user = Path::Cut;
    let rr_f1_nr0 = [0x00, 0x01, 0x01, 0x01];
    let msgs = payloads(I_QUEUE_LIMIT + 10, 10);
    let mut results = Vec::new();
    for chunk in msgs.chunks(msgs.len().div_ceil(10)) {
        for m in chunk {
            results.push(pair.user.send_i(pair.now, m));
            assert!(pair.user.queued() <= I_QUEUE_LIMIT);
        }
        pair.deliver();
        // T200 in state 7: the last I frame again with P=1, and the peer's RR F=1 ends
        // timer recovery (§5.6.7), so RC starts from 0 at the next expiry.
        assert!(pair.advance());
        assert!(matches!(
            pair.sent_by(Side::User).last(),
            Some(Control::Information { poll: true, .. })
        ));
        assert_eq!(pair.user.state(), LinkState::TimerRecovery);
        pair.user.handle_frame(pair.now, &rr_f1_nr0);
        pair.deliver();
        assert_eq!(pair.user.state(), LinkState::MultipleFrameEstablished);
    }
    // Ten T200 periods, each answered: the link stays up, as Q.921 has it.
    assert!(pair.user.is_established());
    assert!(!pair
        .user_events
        .iter()
        .any(|e| matches!(e, LinkEvent::MdlError(_))));
    assert!(results[..I_QUEUE_LIMIT].iter().all(Result::is_ok));
    assert!(results[I_QUEUE_LIMIT..].iter().all(|r| *r
        == Err(LinkError::QueueFull {
            limit: I_QUEUE_LIMIT
        })));
    assert_eq!(pair.user.queued(), I_QUEUE_LIMIT);
}

#[test]
fn lost_i_frame_is_recovered_by_reject() {
    let mut pair = Pair::established();
    let mut count = 0;
    pair.drop_to_network = Some(Box::new(move |f: &Frame<'_>| {
        if is_i(&f.control) {
            count += 1;
            return count == 2;
        }
        false
    }));
    let msgs = payloads(4, 5);
    for m in &msgs {
        pair.user.send_i(pair.now, m).unwrap();
    }
    pair.deliver();
    assert_eq!(Pair::data(&pair.network_events), msgs);
    assert_eq!(pair.network.stats().rej_sent, 1);
    assert_eq!(pair.user.stats().t200_expiries, 0);
    assert!(pair.user.stats().i_retransmitted >= 1);
    assert_eq!(pair.user.queued(), 0);
}

#[test]
fn lost_last_i_frame_is_recovered_by_t200_with_poll() {
    let mut pair = Pair::established();
    let mut dropped = false;
    pair.drop_to_network = Some(Box::new(move |f: &Frame<'_>| {
        if is_i(&f.control) && !dropped {
            dropped = true;
            return true;
        }
        false
    }));
    let start = pair.now;
    pair.user.send_i(pair.now, b"lost once").unwrap();
    pair.deliver();
    assert!(pair.network_events.is_empty());
    assert!(pair.advance());
    assert_eq!(pair.now - start, Duration::from_secs(1));
    assert_eq!(
        pair.network_events,
        [LinkEvent::Data(b"lost once".to_vec())]
    );
    // The retransmission carried P=1 and was answered RR F=1, ending timer recovery.
    let user_frames = pair.sent_by(Side::User);
    assert!(matches!(
        user_frames.last(),
        Some(Control::Information { poll: true, .. })
    ));
    assert!(pair
        .sent_by(Side::Network)
        .iter()
        .any(|c| is_s(c, Supervisory::ReceiveReady, true)));
    assert_eq!(pair.user.state(), LinkState::MultipleFrameEstablished);
    assert_eq!(pair.user.queued(), 0);
}

#[test]
fn t200_n200_exhaustion_re_establishes_and_recovers() {
    let mut pair = Pair::established();
    pair.to_network = Path::Cut;
    let start = pair.now;
    pair.user.send_i(pair.now, b"into the void").unwrap();
    pair.deliver();
    // I frame, then N200 = 3 retransmissions with P=1 at T200 intervals, then MDL-ERROR (I)
    // and SABME at T200 × (N200 + 1).
    pair.run_for(Duration::from_millis(4000));
    let i_frames = pair.sent_by(Side::User).iter().filter(|c| is_i(c)).count();
    assert_eq!(i_frames, 4);
    assert_eq!(
        pair.user_events,
        [LinkEvent::MdlError(MdlError::StatusEnquiryExhausted)]
    );
    assert_eq!(pair.user.state(), LinkState::AwaitingEstablishment);
    assert_eq!(pair.now - start, Duration::from_secs(4));
    // SABME N200 times more without answer: MDL-ERROR (G), DL-RELEASE indication, and the
    // link (kept up) keeps trying.
    pair.run_for(Duration::from_millis(4000));
    assert_eq!(
        pair.user_events[1..],
        [
            LinkEvent::MdlError(MdlError::SabmeRetransmissionsExhausted),
            LinkEvent::ReleaseIndication
        ]
    );
    assert_eq!(pair.user.state(), LinkState::AwaitingEstablishment);
    // Another failed cycle does not repeat the DL-RELEASE indication.
    pair.run_for(Duration::from_millis(4000));
    assert_eq!(
        pair.user_events[3..],
        [LinkEvent::MdlError(MdlError::SabmeRetransmissionsExhausted)]
    );
    // The path comes back: the next SABME re-establishes, layer 3 is told.
    pair.to_network = Path::Pass;
    pair.run_for(Duration::from_millis(1500));
    assert!(pair.user.is_established() && pair.network.is_established());
    assert_eq!(
        pair.user_events.last(),
        Some(&LinkEvent::EstablishIndication)
    );
    // The network side had nothing outstanding: a peer-initiated re-establishment is only
    // reported to management there (Annex B, state 7/8 SABME with V(S) = V(A)).
    assert_eq!(
        pair.network_events,
        [LinkEvent::MdlError(MdlError::PeerInitiatedReestablishment)]
    );
    // And data flows again.
    pair.clear();
    pair.user.send_i(pair.now, b"back").unwrap();
    pair.network.send_i(pair.now, b"again").unwrap();
    pair.deliver();
    assert_eq!(pair.network_events, [LinkEvent::Data(b"back".to_vec())]);
    assert_eq!(pair.user_events, [LinkEvent::Data(b"again".to_vec())]);
}

#[test]
fn t203_idle_supervision_polls_with_rr() {
    let mut pair = Pair::established();
    let start = pair.now;
    pair.run_for(Duration::from_secs(35));
    assert!(pair.user.is_established() && pair.network.is_established());
    assert!(pair.user_events.is_empty() && pair.network_events.is_empty());
    assert!(pair.user.stats().t203_expiries + pair.network.stats().t203_expiries >= 3);
    // The first poll went out exactly T203 after establishment.
    let polls = pair
        .sent_by(Side::User)
        .iter()
        .chain(pair.sent_by(Side::Network).iter())
        .filter(|c| is_s(c, Supervisory::ReceiveReady, true))
        .count();
    assert!(polls >= 6, "{polls} RR frames with P/F=1");
    assert_eq!(pair.now - start, Duration::from_secs(35));
}

#[test]
fn t203_with_a_silent_peer_ends_in_re_establishment() {
    let mut pair = Pair::established();
    pair.to_network = Path::Cut;
    pair.to_user = Path::Cut;
    // T203 (10 s), then 1 + N200 enquiries at T200 intervals.
    pair.run_for(Duration::from_millis(14_001));
    assert!(pair
        .user_events
        .contains(&LinkEvent::MdlError(MdlError::StatusEnquiryExhausted)));
    assert_eq!(pair.user.state(), LinkState::AwaitingEstablishment);
    let enquiries = pair
        .sent_by(Side::User)
        .iter()
        .filter(|c| is_s(c, Supervisory::ReceiveReady, true))
        .count();
    assert_eq!(enquiries, 4);
}

#[test]
fn disc_releases_both_sides() {
    let mut cfg = LinkConfig::pri(Role::Network);
    cfg.keep_up = false;
    let mut pair = Pair::new(LinkConfig::pri(Role::User), cfg);
    pair.user.establish(pair.now);
    pair.deliver();
    pair.clear();
    pair.user.release(pair.now);
    pair.deliver();
    assert_eq!(pair.user_events, [LinkEvent::ReleaseConfirm]);
    assert_eq!(pair.network_events, [LinkEvent::ReleaseIndication]);
    assert_eq!(pair.user.state(), LinkState::TeiAssigned);
    assert_eq!(pair.network.state(), LinkState::TeiAssigned);
    assert!(is_u(&pair.sent_by(Side::User)[0], Unnumbered::Disc));
    assert!(is_u(&pair.sent_by(Side::Network)[0], Unnumbered::Ua));
    // Nothing runs any more.
    assert!(!pair.advance());
    // A data request brings it back up.
    pair.user.send_i(pair.now, b"hello").unwrap();
    pair.deliver();
    assert_eq!(
        pair.network_events[1..],
        [
            LinkEvent::EstablishIndication,
            LinkEvent::Data(b"hello".to_vec())
        ]
    );
}

#[test]
fn a_kept_up_network_side_re_establishes_after_disc() {
    let mut pair = Pair::established();
    pair.user.release(pair.now);
    pair.deliver();
    assert_eq!(pair.user_events, [LinkEvent::ReleaseConfirm]);
    // The network side (kept up) tries again after T200, and the user side accepts.
    assert!(pair.advance());
    assert!(pair.user.is_established() && pair.network.is_established());
    assert_eq!(
        pair.user_events,
        [LinkEvent::ReleaseConfirm, LinkEvent::EstablishIndication]
    );
}

#[test]
fn disc_is_retransmitted_then_given_up() {
    let mut pair = Pair::established();
    pair.to_network = Path::Cut;
    pair.user.release(pair.now);
    pair.run_for(Duration::from_secs(5));
    let discs = pair
        .sent_by(Side::User)
        .iter()
        .filter(|c| is_u(c, Unnumbered::Disc))
        .count();
    assert_eq!(discs, 4);
    assert_eq!(
        pair.user_events,
        [
            LinkEvent::MdlError(MdlError::DiscRetransmissionsExhausted),
            LinkEvent::ReleaseConfirm
        ]
    );
    assert_eq!(pair.user.state(), LinkState::TeiAssigned);
}

#[test]
fn peer_restart_while_established() {
    let mut pair = Pair::established();
    // Two I frames outstanding towards a peer that is about to restart.
    pair.to_network = Path::Hold;
    pair.user.send_i(pair.now, b"one").unwrap();
    pair.user.send_i(pair.now, b"two").unwrap();
    pair.deliver();
    pair.to_network = Path::Pass;
    // The network restarts: a fresh entity that establishes.
    pair.network = crate::lapd::Link::new(LinkConfig::pri(Role::Network));
    pair.network.establish(pair.now);
    pair.deliver();
    assert_eq!(
        pair.user_events,
        [
            LinkEvent::MdlError(MdlError::PeerInitiatedReestablishment),
            LinkEvent::EstablishIndication
        ]
    );
    assert_eq!(pair.network_events, [LinkEvent::EstablishConfirm]);
    assert_eq!(pair.user.queued(), 0, "outstanding I frames are discarded");
    // Sequence numbers restarted at 0 on both sides: data flows.
    pair.clear();
    pair.network.send_i(pair.now, b"after restart").unwrap();
    pair.user.send_i(pair.now, b"also").unwrap();
    pair.deliver();
    assert_eq!(
        pair.user_events,
        [LinkEvent::Data(b"after restart".to_vec())]
    );
    assert_eq!(pair.network_events, [LinkEvent::Data(b"also".to_vec())]);
}

#[test]
fn establishment_refused_or_unanswered_is_indicated_once() {
    let mut pair = Pair::pri();
    pair.to_network = Path::Cut;
    pair.user.establish(pair.now);
    pair.run_for(Duration::from_millis(12_500));
    let releases = pair
        .user_events
        .iter()
        .filter(|e| **e == LinkEvent::ReleaseIndication)
        .count();
    let g = pair
        .user_events
        .iter()
        .filter(|e| **e == LinkEvent::MdlError(MdlError::SabmeRetransmissionsExhausted))
        .count();
    assert_eq!(releases, 1);
    assert_eq!(g, 3);
}

#[test]
fn nr_error_frmr_and_undefined_control_trigger_re_establishment() {
    for (bytes, code) in [
        // RR response from the network with N(R)=5 while V(S)=V(A)=0.
        (vec![0x00, 0x01, 0x01, 0x0A], MdlError::SequenceError),
        // FRMR response.
        (
            vec![0x00, 0x01, 0x87, 0, 0, 0, 0, 0],
            MdlError::FrmrReceived,
        ),
        // Undefined control field.
        (
            vec![0x02, 0x01, 0x0D, 0x00],
            MdlError::UndefinedControlField,
        ),
        // UA carrying information.
        (vec![0x00, 0x01, 0x63, 0x01], MdlError::InfoNotPermitted),
        // RR with a trailing octet.
        (vec![0x02, 0x01, 0x01, 0x00, 0x00], MdlError::WrongSize),
    ] {
        let mut pair = Pair::established();
        pair.user.handle_frame(pair.now, &bytes);
        pair.deliver();
        assert_eq!(
            pair.user_events[0],
            LinkEvent::MdlError(code),
            "{bytes:02x?}"
        );
        assert!(pair.user.is_established());
        assert!(is_u(&pair.sent_by(Side::User)[0], Unnumbered::Sabme));
        assert_eq!(pair.user_events[1], LinkEvent::EstablishIndication);
    }
}

#[test]
fn oversized_information_field_is_refused_and_detected() {
    let mut pair = Pair::established();
    assert!(pair.user.send_i(pair.now, &[0u8; 261]).is_err());
    let mut frame = vec![0x02, 0x01, 0x00, 0x00];
    frame.extend_from_slice(&[0u8; 261]);
    pair.user.handle_frame(pair.now, &frame);
    pair.deliver();
    assert_eq!(
        pair.user_events[0],
        LinkEvent::MdlError(MdlError::N201Exceeded)
    );
}

#[test]
fn frames_for_other_addresses_and_broken_frames_are_ignored() {
    let mut pair = Pair::established();
    for bytes in [
        &[][..],
        &[0x02],
        &[0x03, 0x01, 0x01, 0x00], // EA0 set
        &[0x06, 0x01, 0x01, 0x01], // SAPI 1
        &[0x02, 0x03, 0x01, 0x01], // TEI 1
        &[0x02, 0xFF, 0x01, 0x01], // RR on the group TEI
        &[0x02, 0x01, 0x00],       // I frame cut short
    ] {
        pair.user.handle_frame(pair.now, bytes);
    }
    pair.deliver();
    assert!(pair.user_events.is_empty());
    assert!(pair.wire.is_empty());
    assert_eq!(pair.user.stats().discarded, 7);
    // A UI frame on the group TEI is a DL-UNIT-DATA indication.
    pair.user
        .handle_frame(pair.now, &[0x02, 0xFF, 0x03, 0x08, 0x00]);
    assert_eq!(
        pair.user.poll_event(),
        Some(LinkEvent::UnitData(vec![0x08, 0x00]))
    );
}

#[test]
fn poll_transmit_into_reuses_buffers() {
    let mut pair = Pair::established();
    let mut out = Vec::with_capacity(300);
    pair.user.send_i(pair.now, b"abc").unwrap();
    assert!(pair.user.poll_transmit_into(&mut out));
    assert_eq!(out, [0x00, 0x01, 0x00, 0x00, b'a', b'b', b'c']);
    assert!(!pair.user.poll_transmit_into(&mut out));
}

#[test]
fn acknowledgement_rides_on_the_answer_when_layer_3_answers_first() {
    let mut pair = Pair::established();
    let now = pair.now;
    pair.user.send_i(now, b"SETUP").unwrap();
    let frame = pair.user.poll_transmit().unwrap();
    pair.network.handle_frame(now, &frame);
    assert_eq!(
        pair.network.poll_event(),
        Some(LinkEvent::Data(b"SETUP".to_vec()))
    );
    // Layer 3 answers before the transmit queue is polled: no separate RR.
    pair.network.send_i(now, b"CALL PROCEEDING").unwrap();
    let answer = pair.network.poll_transmit().unwrap();
    assert!(matches!(
        Frame::decode(&answer).unwrap().control,
        Control::Information { nr, .. } if nr.value() == 1
    ));
    assert_eq!(pair.network.poll_transmit(), None);
    // Without an answer, the acknowledgement goes out as an RR response.
    pair.user.handle_frame(now, &answer);
    assert_eq!(
        pair.user.poll_event(),
        Some(LinkEvent::Data(b"CALL PROCEEDING".to_vec()))
    );
    let rr = pair.user.poll_transmit().unwrap();
    assert!(is_s(
        &Frame::decode(&rr).unwrap().control,
        Supervisory::ReceiveReady,
        false
    ));
}

#[test]
fn establish_requested_while_releasing_follows_the_release() {
    let mut cfg = LinkConfig::pri(Role::Network);
    cfg.keep_up = false;
    let mut pair = Pair::new(LinkConfig::pri(Role::User), cfg);
    pair.user.establish(pair.now);
    pair.deliver();
    pair.clear();
    pair.user.release(pair.now);
    pair.user.establish(pair.now);
    pair.deliver();
    assert_eq!(
        pair.user_events,
        [LinkEvent::ReleaseConfirm, LinkEvent::EstablishConfirm]
    );
    assert_eq!(
        pair.network_events,
        [LinkEvent::ReleaseIndication, LinkEvent::EstablishIndication]
    );
    assert!(pair.user.is_established() && pair.network.is_established());
}
