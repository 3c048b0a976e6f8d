//! Call transfer by the switch (`Interface::transfer`) against libpri 1.6 (Debian
//! `libpri-dev`): ETSI Explicit Call Transfer with libpri as the EuroISDN network side
//! (`pri_transfer_enable`, `PRI_SUBCMD_TRANSFER_CALL`, `pri_transfer_rsp`), accepted and
//! refused; and NI-2 Two B-channel Transfer, where libpri as the user side
//! (`pri_channel_bridge`) gives the known answer our encoder must reproduce octet for
//! octet, and our decoder must read.

mod libpri;

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use libpri::{ffi, seqpacket_pair, CallRef as PriCall, LibPri, Node, PriEvent, Switch};
use q931::call::{
    CallHandle, ChannelPref, Event, Interface, InterfaceConfig, SetupRequest, Stage,
    TransferFailure, TransferMethod,
};
use q931::ie::{
    BearerCapability, CalledPartyNumber, InfoElement, Layer1Protocol, NumberingPlan, TypeOfNumber,
};
use q931::lapd::{fcs, Role};
use q931::supplementary::ect::{self, EctError};
use q931::supplementary::two_bct::{self, TransferCallRef};
use q931::supplementary::{Component, FacilityApdus};
use q931::{Message, MessageType};

struct H {
    pri: LibPri,
    ours: Interface,
    sock: File,
    pri_events: Vec<PriEvent>,
    events: Vec<Event>,
    /// Q.931 messages libpri sent (LAPD I-frame information fields).
    from_pri: Vec<Vec<u8>>,
    /// Q.931 messages we sent.
    to_pri: Vec<Vec<u8>>,
    rx: Vec<u8>,
    tx: Vec<u8>,
}

/// The Q.931 message in a LAPD frame (FCS stripped), if it is an I-frame.
fn i_frame_info(frame: &[u8]) -> Option<&[u8]> {
    (frame.len() > 4 && frame[2] & 0x01 == 0).then(|| &frame[4..])
}

impl H {
    fn new(cfg: InterfaceConfig, switch: Switch, transfer: bool) -> H {
        let node = match cfg.role {
            Role::User => Node::Network,
            Role::Network => Node::Cpe,
        };
        let (theirs, ours) = seqpacket_pair();
        let mut pri = LibPri::new(theirs, node, switch);
        pri.hangup_fix_enable(true);
        pri.transfer_enable(transfer);
        if std::env::var_os("LIBPRI_DEBUG").is_some() {
            pri.set_debug(ffi::PRI_DEBUG_Q931_DUMP | ffi::PRI_DEBUG_APDU);
        }
        let mut h = H {
            pri,
            ours: Interface::new(cfg),
            sock: File::from(ours),
            pri_events: Vec::new(),
            events: Vec::new(),
            from_pri: Vec::new(),
            to_pri: Vec::new(),
            rx: vec![0; 1024],
            tx: Vec::with_capacity(300),
        };
        h.ours.start(Instant::now());
        h.pri_expect(|e| matches!(e, PriEvent::DchanUp).then_some(()));
        h.expect(|e| matches!(e, Event::LinkUp).then_some(()));
        h
    }

    fn step(&mut self, max_wait: Duration) {
        self.flush();
        let now = Instant::now();
        let mut wait = max_wait;
        if let Some(t) = self.ours.poll_timeout() {
            wait = wait.min(t.saturating_duration_since(now));
        }
        if let Some(d) = self.pri.schedule_next() {
            wait = wait.min(d);
        }
        let mut fds = [
            ffi::PollFd {
                fd: self.pri.fd(),
                events: ffi::POLLIN,
                revents: 0,
            },
            ffi::PollFd {
                fd: self.sock.as_raw_fd(),
                events: ffi::POLLIN,
                revents: 0,
            },
        ];
        let ms = wait.as_micros().div_ceil(1000).min(1000) as i32;
        // SAFETY: two valid pollfd.
        let n = unsafe { ffi::poll(fds.as_mut_ptr(), 2, ms) };
        if n > 0 && fds[0].revents != 0 {
            if let Some(e) = self.pri.check_event() {
                self.pri_events.push(e);
            }
        }
        loop {
            match self.sock.read(&mut self.rx) {
                Ok(n) if n > fcs::FCS_LEN => {
                    let frame = &self.rx[..n - fcs::FCS_LEN];
                    if let Some(m) = i_frame_info(frame) {
                        self.from_pri.push(m.to_vec());
                    }
                    self.ours.handle_frame(Instant::now(), frame);
                }
                Ok(_) => break,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("read: {e}"),
            }
        }
        for _ in 0..64 {
            if self.pri.schedule_next() != Some(Duration::ZERO) {
                break;
            }
            if let Some(e) = self.pri.schedule_run() {
                self.pri_events.push(e);
            }
        }
        let now = Instant::now();
        if self.ours.poll_timeout().is_some_and(|t| t <= now) {
            self.ours.handle_timeout(now);
        }
        self.flush();
    }

    fn flush(&mut self) {
        while self.ours.poll_transmit_into(&mut self.tx) {
            if let Some(m) = i_frame_info(&self.tx) {
                self.to_pri.push(m.to_vec());
            }
            fcs::append(&mut self.tx);
            match self.sock.write(&self.tx) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("write: {e}"),
            }
        }
        while let Some(e) = self.ours.poll_event() {
            self.events.push(e);
        }
    }

    fn pri_expect<T>(&mut self, mut pick: impl FnMut(&PriEvent) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut cursor = 0;
        loop {
            while cursor < self.pri_events.len() {
                cursor += 1;
                if let Some(t) = pick(&self.pri_events[cursor - 1]) {
                    self.pri_events.drain(..cursor);
                    return t;
                }
            }
            assert!(
                Instant::now() < deadline,
                "libpri event not seen: {:#?}\nours: {:#?}",
                self.pri_events,
                self.events
            );
            self.step(Duration::from_millis(20));
        }
    }

    fn expect<T>(&mut self, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(6);
        let mut cursor = 0;
        loop {
            while cursor < self.events.len() {
                cursor += 1;
                if let Some(t) = pick(&self.events[cursor - 1]) {
                    self.events.drain(..cursor);
                    return t;
                }
            }
            assert!(
                Instant::now() < deadline,
                "event not seen: {:#?}\nlibpri: {:#?}",
                self.events,
                self.pri_events
            );
            self.step(Duration::from_millis(20));
        }
    }

    /// Until our calls are released, completing libpri's side of the clearing (its
    /// HANGUP after our RELEASE is answered with `pri_hangup`, libpri 1.6).
    fn released(&mut self, calls: &[CallHandle]) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut left: Vec<CallHandle> = calls.to_vec();
        while !left.is_empty() {
            for e in std::mem::take(&mut self.pri_events) {
                if let PriEvent::Hangup(hg) = e {
                    if let Some(c) = hg.call {
                        let _ = self.pri.hangup(c, hg.cause);
                    }
                }
            }
            self.events.retain(|e| match e {
                Event::Released { call, .. } => {
                    left.retain(|c| c != call);
                    false
                }
                _ => true,
            });
            assert!(Instant::now() < deadline, "not released: {left:?}");
            self.step(Duration::from_millis(20));
        }
    }

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
    H::new(
        InterfaceConfig::euro_isdn_e1(Role::User),
        Switch::EuroIsdnE1,
        transfer,
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
    let mut h = H::new(InterfaceConfig::ni2_t1(Role::Network), Switch::Ni2, false);
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
    let mut h = H::new(InterfaceConfig::ni2_t1(Role::User), Switch::Ni2, false);
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
