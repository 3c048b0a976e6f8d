//! Call transfer by the switch (`Interface::transfer`) against libpri 1.6 (Debian
//! `libpri-dev`): ETSI Explicit Call Transfer with libpri as the EuroISDN network side
//! (`pri_transfer_enable`, `PRI_SUBCMD_TRANSFER_CALL`, `pri_transfer_rsp`), accepted and
//! refused; and NI-2 Two B-channel Transfer, where libpri as the user side
//! (`pri_channel_bridge`) gives the known answer our encoder must reproduce octet for
//! octet, and our decoder must read.

mod libpri;

use std::time::{Duration, Instant};

use libpri::{CallRef as PriCall, PriEvent, Switch};
use q931::call::{
    CallHandle, ChannelPref, Event, InterfaceConfig, SetupRequest, Stage, TransferFailure,
    TransferMethod,
};
use q931::ie::{
    BearerCapability, CalledPartyNumber, InfoElement, Layer1Protocol, NumberingPlan, TypeOfNumber,
};
use q931::lapd::Role;
use q931::supplementary::ect::{self, EctError};
use q931::supplementary::two_bct::{self, TransferCallRef};
use q931::supplementary::{Component, FacilityApdus};
use q931::{Message, MessageType};

use libpri::call_harness::CallHarness as H;

/// What the transfer tests add to the harness: an answered call, and the supplementary
/// service components on the wire.
impl H {
    /// We (user side) call libpri, which answers: our handle and libpri's call.
    fn answered_call(&mut self, called: &str) -> (CallHandle, PriCall) {
        let h = self
            .ours
            .setup(
                Instant::now(),
                SetupRequest {
                    called: Some(CalledPartyNumber::new(
                        TypeOfNumber::National,
                        NumberingPlan::Isdn,
                        called,
                    )),
                    calling: None,
                    bearer: BearerCapability::speech(Layer1Protocol::G711ALaw),
                    channel: ChannelPref::Any,
                    sending_complete: true,
                },
            )
            .unwrap();
        let ring = self.pri_expect(|e| match e {
            PriEvent::Ring(r) => Some(r.clone()),
            _ => None,
        });
        let pc = ring.call.unwrap();
        self.pri.answer(pc, ring.channel).unwrap();
        self.expect(|e| matches!(e, Event::Connected { call, .. } if *call == h).then_some(()));
        (h, pc)
    }

    /// The Facility elements' components of the FACILITY/DISCONNECT messages in `msgs`.
    fn components(msgs: &[Vec<u8>]) -> Vec<(MessageType, Vec<u8>, Component)> {
        let mut out = Vec::new();
        for m in msgs {
            let Ok(msg) = Message::decode(m) else {
                continue;
            };
            for ie in &msg.ies {
                if let InfoElement::Facility(f) = ie {
                    let apdus = FacilityApdus::from_facility(f).expect("facility decodes");
                    for c in apdus.components {
                        out.push((msg.message_type, f.contents.clone(), c));
                    }
                }
            }
        }
        out
    }
}

fn e1_user(transfer: bool) -> H {
    H::configured(
        InterfaceConfig::euro_isdn_e1(Role::User),
        Switch::EuroIsdnE1,
        |pri| pri.transfer_enable(transfer),
    )
}

#[test]
fn libpri_network_accepts_our_ect_and_clears_both_calls() {
    let mut h = e1_user(true);
    let (a, pa) = h.answered_call("5551001");
    let (b, pb) = h.answered_call("5551002");
    h.ours
        .transfer(Instant::now(), a, b, TransferMethod::EtsiEct)
        .unwrap();
    assert!(h.ours.transfer_pending(a));
    // libpri: ExplicitEctExecute on b naming a (call_1 is the call it arrived on).
    let req = h.pri_expect(|e| match e {
        PriEvent::Facility { transfers, .. } => transfers.first().cloned(),
        _ => None,
    });
    assert_eq!(req.call_1, Some(pb));
    assert_eq!(req.call_2, Some(pa));
    assert!(!req.call_1_held && !req.call_2_held);
    // As a switch does: the result in call_1's DISCONNECT, then the other call cleared.
    h.pri.transfer_rsp(pb, req.invoke_id, true).unwrap();
    h.pri.hangup(pb, 16).unwrap();
    h.pri.hangup(pa, 16).unwrap();
    let (ta, tb) = h.expect(|e| match e {
        Event::TransferCompleted {
            a,
            b,
            method: TransferMethod::EtsiEct,
        } => Some((*a, *b)),
        _ => None,
    });
    assert_eq!((ta, tb), (a, b));
    h.released(&[a, b]);
    assert_eq!(h.ours.call_count(), 0);
    assert_eq!(h.ours.channels().idle_count(), 30);

    // On the wire: our EctLinkIdRequest in a FACILITY on a, libpri's LinkId result, our
    // ExplicitEctExecute with that LinkId on b, libpri's result in the DISCONNECT of b.
    let ours = H::components(&h.to_pri);
    let theirs = H::components(&h.from_pri);
    let (t, bytes, req) = &ours[0];
    assert_eq!(*t, MessageType::Facility);
    let Component::Invoke { invoke_id, .. } = req else {
        panic!("{req:?}")
    };
    let mut want = Vec::new();
    FacilityApdus::rose(vec![ect::link_id_request(*invoke_id)]).encode(&mut want);
    assert_eq!(bytes, &want);
    let link = theirs
        .iter()
        .find_map(|(t, _, c)| {
            (*t == MessageType::Facility)
                .then(|| ect::link_id_of(c))
                .flatten()
        })
        .expect("libpri's LinkId result");
    let (t, _, exec) = &ours[1];
    assert_eq!(*t, MessageType::Facility);
    assert_eq!(ect::link_id_of(exec), Some(link));
    assert!(theirs.iter().any(|(t, _, c)| *t == MessageType::Disconnect
        && matches!(c, Component::ReturnResult { invoke_id, .. } if Some(*invoke_id) == exec.invoke_id())));
}

#[test]
fn libpri_network_refuses_ect_and_the_calls_go_on() {
    // Transfer not enabled: libpri answers EctLinkIdRequest with resourceUnavailable.
    let mut h = e1_user(false);
    let (a, _) = h.answered_call("5551001");
    let (b, _) = h.answered_call("5551002");
    h.ours
        .transfer(Instant::now(), a, b, TransferMethod::EtsiEct)
        .unwrap();
    let reason = h.expect(|e| match e {
        Event::TransferFailed { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    assert_eq!(
        reason,
        TransferFailure::Error(EctError::ResourceUnavailable)
    );
    assert_eq!(h.ours.stage(a), Some(Stage::Active));
    assert_eq!(h.ours.stage(b), Some(Stage::Active));
    assert!(!h.ours.transfer_pending(a));

    // Enabled, but the switch's application says no: notAvailable, calls kept.
    let mut h = e1_user(true);
    let (a, _) = h.answered_call("5551001");
    let (b, _) = h.answered_call("5551002");
    h.ours
        .transfer(Instant::now(), a, b, TransferMethod::EtsiEct)
        .unwrap();
    let req = h.pri_expect(|e| match e {
        PriEvent::Facility { transfers, .. } => transfers.first().cloned(),
        _ => None,
    });
    h.pri
        .transfer_rsp(req.call_1.unwrap(), req.invoke_id, false)
        .unwrap();
    let reason = h.expect(|e| match e {
        Event::TransferFailed { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    assert_eq!(reason, TransferFailure::Error(EctError::NotAvailable));
    assert_eq!(h.ours.stage(a), Some(Stage::Active));
    assert_eq!(h.ours.stage(b), Some(Stage::Active));
}

#[test]
fn ect_without_answer_times_out_and_a_second_transfer_is_refused() {
    let mut h = e1_user(true);
    let (a, _) = h.answered_call("5551001");
    let (b, _) = h.answered_call("5551002");
    let t0 = Instant::now();
    h.ours.transfer(t0, a, b, TransferMethod::EtsiEct).unwrap();
    assert!(h.ours.transfer(t0, b, a, TransferMethod::EtsiEct).is_err());
    assert!(h.ours.transfer(t0, a, a, TransferMethod::EtsiEct).is_err());
    // Virtual time: no frame is fed, the response timer runs out.
    let later = t0 + q931::call::TRANSFER_RESPONSE_TIMEOUT + Duration::from_millis(1);
    assert!(h.ours.poll_timeout().is_some_and(|t| t <= later));
    h.ours.handle_timeout(later);
    let ev: Vec<Event> = std::iter::from_fn(|| h.ours.poll_event()).collect();
    assert!(
        ev.iter().any(|e| matches!(
            e,
            Event::TransferFailed {
                reason: TransferFailure::Timeout,
                ..
            }
        )),
        "{ev:?}"
    );
}

/// libpri as the NI-2 user side invokes 2BCT (`pri_channel_bridge`) on two calls we, as
/// the network side, placed to it: its FACILITY is our known answer.
#[test]
fn libpri_user_two_bct_matches_our_encoding() {
    let mut h = H::new(InterfaceConfig::ni2_t1(Role::Network), Switch::Ni2);
    let mut calls = Vec::new();
    for n in ["2001", "2002"] {
        let ours = h
            .ours
            .setup(
                Instant::now(),
                SetupRequest {
                    called: Some(CalledPartyNumber::new(
                        TypeOfNumber::National,
                        NumberingPlan::Isdn,
                        n,
                    )),
                    calling: None,
                    bearer: BearerCapability::speech(Layer1Protocol::G711MuLaw),
                    channel: ChannelPref::Any,
                    sending_complete: true,
                },
            )
            .unwrap();
        let ring = h.pri_expect(|e| match e {
            PriEvent::Ring(r) => Some(r.clone()),
            _ => None,
        });
        let pc = ring.call.unwrap();
        h.pri.answer(pc, ring.channel).unwrap();
        h.expect(|e| matches!(e, Event::Connected { call, .. } if *call == ours).then_some(()));
        calls.push((ours, pc));
    }
    let (a, pa) = calls[0];
    let (b, pb) = calls[1];
    h.pri.channel_bridge(pa, pb).unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    let found = loop {
        let comps = H::components(&h.from_pri);
        if let Some(c) = comps
            .into_iter()
            .find(|(t, _, _)| *t == MessageType::Facility)
        {
            break c;
        }
        assert!(Instant::now() < deadline, "no FACILITY from libpri");
        h.step(Duration::from_millis(20));
    };
    let (_, bytes, comp) = found;
    // It names call b as libpri sends its messages: we originated it, so flag set.
    let named = two_bct::transfer_call_ref(&comp).expect("InitiateTransfer");
    assert_eq!(
        named,
        TransferCallRef {
            value: b.call_ref,
            sender_originated: false
        }
    );
    // Our encoder gives the same octets for the same invoke id and call reference.
    let mut ours = Vec::new();
    FacilityApdus::rose(vec![two_bct::initiate_transfer(
        comp.invoke_id().unwrap(),
        named,
    )])
    .encode(&mut ours);
    assert_eq!(bytes, ours);
    // The message came on call a.
    let msg = h
        .from_pri
        .iter()
        .filter_map(|m| Message::decode(m).ok())
        .find(|m| m.message_type == MessageType::Facility)
        .unwrap();
    assert_eq!(msg.call_ref.value, a.call_ref);
}

/// Our 2BCT invoke as the NI-2 user side, and the switch's clearing that completes it.
#[test]
fn two_bct_completes_when_the_switch_clears() {
    let mut h = H::new(InterfaceConfig::ni2_t1(Role::User), Switch::Ni2);
    let (a, pa) = h.answered_call("5551001");
    let (b, pb) = h.answered_call("5551002");
    h.ours
        .transfer(Instant::now(), a, b, TransferMethod::Ni2TwoBct)
        .unwrap();
    // Until the FACILITY went out.
    while !H::components(&h.to_pri)
        .iter()
        .any(|(t, _, _)| *t == MessageType::Facility)
    {
        h.step(Duration::from_millis(20));
    }
    let (_, bytes, c) = H::components(&h.to_pri).remove(0);
    assert_eq!(
        two_bct::transfer_call_ref(&c),
        Some(TransferCallRef {
            value: b.call_ref,
            sender_originated: true
        })
    );
    assert_eq!(&bytes[..2], &[0x91, 0xA1]);
    assert!(h.ours.transfer_pending(a), "pending before clearing");
    // The switch connects the parties and clears both calls from us.
    h.pri.hangup(pa, 16).unwrap();
    h.pri.hangup(pb, 16).unwrap();
    h.expect(|e| {
        matches!(
            e,
            Event::TransferCompleted {
                method: TransferMethod::Ni2TwoBct,
                ..
            }
        )
        .then_some(())
    });
    h.released(&[a, b]);
}

/// After a transfer on our side (the gateway's IP side), our `EctInform` tells libpri's
/// party whom it is now connected to: libpri reports it as a connected line update
/// (`PRI_SUBCMD_CONNECTED_LINE`) carrying the number, presentation allowed.
#[test]
fn libpri_reads_our_ect_inform_as_a_connected_line_update() {
    use q931::supplementary::address::{PresentedNumberUnscreened, RosePartyNumber};
    use q931::supplementary::ect::EctStatus;
    let mut h = e1_user(true);
    let (a, pa) = h.answered_call("5551001");
    let number = RosePartyNumber {
        plan: NumberingPlan::Isdn,
        ton: TypeOfNumber::National,
        digits: "301234".to_string(),
    };
    h.ours
        .ect_inform(
            Instant::now(),
            a,
            EctStatus::Active,
            Some(PresentedNumberUnscreened::Allowed(number)),
        )
        .unwrap();
    let (call, line) = h.pri_expect(|e| match e {
        PriEvent::Facility {
            call, connected, ..
        } => connected.first().cloned().map(|l| (*call, l)),
        _ => None,
    });
    assert_eq!(call, Some(pa));
    assert_eq!(line.number, "301234");
    assert!(line.number_valid);
    // Type of number national (2), plan ISDN (1): 0x21; presentation allowed.
    assert_eq!(line.plan, 0x21, "{line:?}");
    assert_eq!(line.presentation & 0x60, 0, "{line:?}");
    h.pri.hangup(pa, 16).unwrap();
    h.released(&[a]);
}

/// libpri's `pri_connected_line_update` on an active call (the switch's party was
/// transferred) arrives as `EctInform` active with the new number.
#[test]
fn libpri_connected_line_update_reaches_us_as_transfer_informed() {
    use q931::supplementary::address::PresentedNumberUnscreened;
    use q931::supplementary::ect::EctStatus;
    let mut h = e1_user(true);
    let (a, pa) = h.answered_call("5551001");
    // PRI_PRES_ALLOWED | PRI_PRES_USER_NUMBER_UNSCREENED = 0; unknown type, ISDN plan.
    h.pri.connected_line_update(pa, "4711", 0x01, 0).unwrap();
    let (status, redirection) = h.expect(|e| match e {
        Event::TransferInformed {
            call,
            status,
            redirection,
        } if *call == a => Some((*status, redirection.clone())),
        _ => None,
    });
    assert_eq!(status, EctStatus::Active);
    match redirection {
        Some(PresentedNumberUnscreened::Allowed(n)) => assert_eq!(n.digits, "4711"),
        other => panic!("redirection {other:?}"),
    }
    h.pri.hangup(pa, 16).unwrap();
    h.released(&[a]);
}
