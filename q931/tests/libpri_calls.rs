//! Our Q.931 call control ([`q931::call::Interface`]) against libpri (Debian `libpri-dev`,
//! a stack nobody here wrote) over an `AF_UNIX`/`SOCK_SEQPACKET` socket pair carrying LAPD
//! frames with their 2 FCS octets, as DAHDI presents a D-channel: libpri as the network side
//! (the PSTN switch) with ours as the user side, and the other way round. Calls both ways
//! with alerting, answer and clearing by either side, overlap dialling, causes carried
//! intact, RESTART both ways, link loss with an active call kept by T309, and timeouts.

mod libpri;

use std::time::{Duration, Instant};

use libpri::{ffi, CallParams, CallRef as PriCall, PriEvent, PriTimer, Switch};
use q931::call::{
    CallError, CallHandle, ChannelPref, ChannelState, Event, InterfaceConfig, SetupRequest, Stage,
};
use q931::ie::{
    BearerCapability, CalledPartyNumber, CallingPartyNumber, CauseValue, Layer1Protocol,
    NumberingPlan, ServiceStatus, TypeOfNumber,
};
use q931::lapd::Role;
use q931::message::ProtocolDiscriminator;

use libpri::call_harness::CallHarness as H;

/// What the calls here add to the harness: the calls each side places.
impl H {
    fn e1(role: Role) -> H {
        H::new(InterfaceConfig::euro_isdn_e1(role), Switch::EuroIsdnE1)
    }

    /// libpri answers its call `pc` (CONNECT on `channel`); we see it connected.
    fn pri_answers(&mut self, pc: PriCall, channel: i32) {
        self.pri.answer(pc, channel).unwrap();
        self.expect(|e| matches!(e, Event::Connected { .. }).then_some(()));
    }

    /// Our clearing of `call` reaches libpri (its HANGUP_REQ on its call `pc`), which
    /// hangs up: our release must report the cause libpri saw. Returns that cause.
    fn pri_takes_our_clearing(&mut self, call: CallHandle, pc: PriCall) -> i32 {
        let cause = self.pri_expect(|e| match e {
            PriEvent::HangupReq(hg) if hg.call == Some(pc) => Some(hg.cause),
            _ => None,
        });
        self.pri.hangup(pc, cause).unwrap();
        assert_eq!(released(self, call).map(i32::from), Some(cause));
        cause
    }

    /// We clear `call` (libpri's `pc`) with `cause`, which must reach libpri intact.
    fn we_clear(&mut self, call: CallHandle, pc: PriCall, cause: CauseValue) {
        self.ours.disconnect(now(), call, cause).unwrap();
        assert_eq!(
            self.pri_takes_our_clearing(call, pc),
            i32::from(cause.value())
        );
    }

    /// Our call to "5551234" on `channel`; returns our handle and libpri's RING.
    fn we_call(
        &mut self,
        channel: ChannelPref,
        called: &str,
        complete: bool,
    ) -> (CallHandle, libpri::Ring) {
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
                    calling: Some(CallingPartyNumber::new(
                        TypeOfNumber::National,
                        NumberingPlan::Isdn,
                        "1000",
                    )),
                    bearer: BearerCapability::speech(Layer1Protocol::G711ALaw),
                    channel,
                    sending_complete: complete,
                },
            )
            .unwrap();
        let ring = self.pri_expect(|e| match e {
            PriEvent::Ring(r) => Some(r.clone()),
            _ => None,
        });
        (h, ring)
    }

    /// libpri calls "2000" on `channel`; returns libpri's call and our IncomingSetup.
    fn pri_calls(&mut self, channel: i32, complete: bool) -> (PriCall, Event) {
        let call = self.pri.new_call().expect("pri_new_call");
        self.pri
            .call(
                call,
                &CallParams {
                    channel,
                    called: "2000",
                    calling: "3000",
                    called_plan: ffi::PRI_NATIONAL_ISDN,
                    calling_plan: ffi::PRI_NATIONAL_ISDN,
                    complete,
                    ..CallParams::default()
                },
            )
            .unwrap();
        let setup = self.expect(|e| matches!(e, Event::IncomingSetup { .. }).then(|| e.clone()));
        (call, setup)
    }
}

fn handle_of(e: &Event) -> CallHandle {
    match e {
        Event::IncomingSetup { call, .. } => *call,
        other => panic!("{other:?}"),
    }
}

fn released(h: &mut H, call: CallHandle) -> Option<u8> {
    h.expect(|e| match e {
        Event::Released { call: c, cause } if *c == call => {
            Some(cause.as_ref().map(|c| c.value.value()))
        }
        _ => None,
    })
}

/// libpri reports our RELEASE as HANGUP and sends RELEASE COMPLETE once told to hang up
/// (libpri 1.6); returns the cause it reported.
fn pri_completes(h: &mut H, pc: PriCall) -> i32 {
    let cause = h.pri_expect(|e| match e {
        PriEvent::Hangup(hg) if hg.call == Some(pc) => Some(hg.cause),
        _ => None,
    });
    h.pri.hangup(pc, cause).unwrap();
    cause
}

fn now() -> Instant {
    Instant::now()
}

// ---- libpri as the network side (the PSTN switch), ours the user side ----------------

#[test]
fn libpri_network_answers_our_call_and_we_clear_with_16() {
    let mut h = H::e1(Role::User);
    let (call, ring) = h.we_call(ChannelPref::Exclusive(1), "5551234", true);
    assert_eq!(ring.called_number, "5551234");
    assert_eq!(ring.calling_number, "1000");
    assert!(ring.complete);
    assert_eq!(ring.channel & 0xFF, 1);
    assert!(!ring.flexible);
    let pc = ring.call.unwrap();
    h.pri.proceeding(pc, ring.channel, false).unwrap();
    assert_eq!(
        h.expect(|e| match e {
            Event::Proceeding { channel, .. } => Some(*channel),
            _ => None,
        }),
        Some(1)
    );
    h.pri.alerting(pc, ring.channel, true).unwrap();
    assert!(h.expect(|e| match e {
        Event::Alerting { inband, .. } => Some(*inband),
        _ => None,
    }));
    h.pri_answers(pc, ring.channel);
    assert_eq!(h.ours.stage(call), Some(Stage::Active));
    h.we_clear(call, pc, CauseValue::NormalCallClearing);
    assert_eq!(h.ours.channels().idle_count(), 30);
}

/// The start-up race: libpri (the switch) starts first and its SABME is lost (we are
/// not there yet). Ours then sends SABME; libpri, still awaiting the UA to its own,
/// answers UA (Q.921 §5.5.5) and stays in state 5, so our link is up while libpri's is
/// not: our first SETUP is ignored by libpri, whose T200 then sends SABME again and
/// resets our link, discarding the SETUP. Before the fix the call waited for T303 (4 s);
/// now the reset makes us send the SETUP again at once.
#[test]
fn libpri_network_rings_at_once_for_a_call_placed_as_our_link_comes_up() {
    let mut h = H::unstarted(
        InterfaceConfig::euro_isdn_e1(Role::User),
        Switch::EuroIsdnE1,
    );
    // libpri's first SABME is in our socket: lose it, as a line not yet open would.
    let lost = h.lose_waiting_frames();
    assert!(lost >= 1, "libpri sent its SABME at start");
    h.ours.start(now());
    h.expect(|e| matches!(e, Event::LinkUp).then_some(()));
    let up = Instant::now();
    let (call, ring) = h.we_call(ChannelPref::Exclusive(1), "5551234", true);
    let took = up.elapsed();
    assert!(
        h.pri_events.iter().any(|e| matches!(e, PriEvent::DchanUp)),
        "libpri's link came up: {:?}",
        h.pri_events
    );
    // At most libpri's T200 (1 s) after our link came up, well before T303 (4 s).
    assert!(
        took < Duration::from_millis(2500),
        "SETUP reached libpri {took:?} after our link came up"
    );
    // The call goes on normally: answered and cleared.
    let pc = ring.call.unwrap();
    h.pri_answers(pc, ring.channel);
    h.we_clear(call, pc, CauseValue::NormalCallClearing);
}

#[test]
fn libpri_network_calls_us_we_answer_and_it_clears_with_17() {
    let mut h = H::e1(Role::User);
    let (pc, setup) = h.pri_calls(5, true);
    let Event::IncomingSetup {
        call,
        called,
        calling,
        channel,
        sending_complete,
        ..
    } = setup
    else {
        unreachable!()
    };
    assert_eq!(called.unwrap().digits, "2000");
    assert_eq!(calling.unwrap().digits, "3000");
    assert_eq!(channel, Some(5));
    assert!(sending_complete);
    h.ours.alerting(now(), call, false).unwrap();
    h.pri_expect(|e| matches!(e, PriEvent::Ringing(a) if a.call == Some(pc)).then_some(()));
    h.ours.connect(now(), call).unwrap();
    h.pri_expect(|e| matches!(e, PriEvent::Answer(a) if a.call == Some(pc)).then_some(()));
    h.expect(|e| matches!(e, Event::Connected { .. }).then_some(()));
    assert_eq!(h.ours.stage(call), Some(Stage::Active));
    h.pri.hangup(pc, 17).unwrap();
    let cause = h.expect(|e| match e {
        Event::Disconnecting { cause, .. } => Some(cause.value.value()),
        _ => None,
    });
    assert_eq!(cause, 17);
    // Our RELEASE reaches libpri, which reports the end of the call and answers RELEASE
    // COMPLETE when told to hang up.
    h.pri_expect(|e| matches!(e, PriEvent::Hangup(_)).then_some(()));
    h.pri.hangup(pc, 17).unwrap();
    assert_eq!(released(&mut h, call), Some(17));
}

#[test]
fn causes_1_and_34_cross_intact_between_libpri_network_and_us() {
    let mut h = H::e1(Role::User);
    // We refuse libpri's call with cause 1 (RELEASE COMPLETE).
    let (pc, setup) = h.pri_calls(2, true);
    h.ours
        .disconnect(now(), handle_of(&setup), CauseValue::UnallocatedNumber)
        .unwrap();
    let hangup = h.pri_expect(|e| match e {
        PriEvent::Hangup(hg) => Some(hg.clone()),
        _ => None,
    });
    assert_eq!((hangup.call, hangup.cause), (Some(pc), 1));
    h.pri.hangup(pc, 1).unwrap();
    // libpri refuses our call with cause 34 after CALL PROCEEDING.
    let (call, ring) = h.we_call(ChannelPref::Any, "777", true);
    let rc = ring.call.unwrap();
    h.pri.proceeding(rc, ring.channel, false).unwrap();
    h.pri.hangup(rc, 34).unwrap();
    assert_eq!(
        h.expect(|e| match e {
            Event::Disconnecting { cause, .. } => Some(cause.value.value()),
            _ => None,
        }),
        34
    );
    pri_completes(&mut h, rc);
    assert_eq!(released(&mut h, call), Some(34));
    // And 17 from us during alerting.
    let (call, ring) = h.we_call(ChannelPref::Any, "778", true);
    let rc = ring.call.unwrap();
    h.pri.alerting(rc, ring.channel, false).unwrap();
    h.expect(|e| matches!(e, Event::Alerting { .. }).then_some(()));
    h.we_clear(call, rc, CauseValue::UserBusy);
}

#[test]
fn overlap_dialling_towards_libpri_network() {
    let mut h = H::e1(Role::User);
    h.pri.set_overlapdial(true);
    let (call, ring) = h.we_call(ChannelPref::Any, "55", false);
    assert!(!ring.complete);
    assert_eq!(ring.called_number, "55");
    let pc = ring.call.unwrap();
    h.pri.setup_ack(pc, ring.channel).unwrap();
    h.expect(|e| matches!(e, Event::SetupAcknowledged { .. }).then_some(()));
    assert_eq!(h.ours.stage(call), Some(Stage::Overlap));
    h.ours.information(now(), call, "51", false).unwrap();
    h.ours.information(now(), call, "2", true).unwrap();
    let mut digits = String::new();
    let mut complete = false;
    while !complete {
        let (d, c) = h.pri_expect(|e| match e {
            PriEvent::InfoReceived {
                digits, complete, ..
            } => Some((digits.clone(), *complete)),
            _ => None,
        });
        digits.push_str(&d);
        complete = c;
    }
    assert_eq!(digits, "512");
    h.pri.proceeding(pc, ring.channel, false).unwrap();
    h.expect(|e| matches!(e, Event::Proceeding { .. }).then_some(()));
}

#[test]
fn overlap_receiving_from_libpri_network() {
    let mut h = H::e1(Role::User);
    h.pri.set_overlapdial(true);
    let (pc, setup) = h.pri_calls(3, false);
    let call = handle_of(&setup);
    assert!(matches!(
        setup,
        Event::IncomingSetup {
            sending_complete: false,
            ..
        }
    ));
    h.ours.setup_acknowledge(now(), call).unwrap();
    h.pri_expect(|e| matches!(e, PriEvent::SetupAck { .. }).then_some(()));
    for d in b"45" {
        h.pri.information(pc, *d).unwrap();
        let got = h.expect(|e| match e {
            Event::MoreInfo { digits, .. } => Some(digits.clone()),
            _ => None,
        });
        assert_eq!(got.as_bytes(), &[*d]);
    }
    h.ours.proceeding(now(), call).unwrap();
    h.pri_expect(|e| matches!(e, PriEvent::Proceeding(_)).then_some(()));
}

#[test]
fn restart_both_ways_with_libpri_network() {
    let mut h = H::e1(Role::User);
    // libpri restarts channel 4 while our call is on it.
    let (pc, setup) = h.pri_calls(4, true);
    let call = handle_of(&setup);
    h.ours.connect(now(), call).unwrap();
    h.pri_expect(|e| matches!(e, PriEvent::Answer(_)).then_some(()));
    let _ = pc;
    h.pri.reset(4).unwrap();
    let channels = h.expect(|e| match e {
        Event::RestartIndication { channels } => Some(channels.clone()),
        _ => None,
    });
    assert_eq!(channels, vec![4]);
    assert_eq!(h.ours.stage(call), None);
    let ack = h.pri_expect(|e| match e {
        PriEvent::RestartAck { channel } => Some(*channel),
        _ => None,
    });
    assert_eq!(ack & 0xFF, 4);
    // Ours of channel 9, answered by libpri.
    h.ours.restart_channels(now(), Some(vec![9])).unwrap();
    let restarted = h.pri_expect(|e| match e {
        PriEvent::Restart { channel } => Some(*channel),
        _ => None,
    });
    assert_eq!(restarted & 0xFF, 9);
    let done = h.expect(|e| match e {
        Event::RestartComplete { channels } => Some(channels.clone()),
        _ => None,
    });
    assert_eq!(done, vec![9]);
    assert!(h.ours.channels().is_idle(9));
}

#[test]
fn active_call_survives_a_short_link_outage_with_libpri_network() {
    let mut cfg = InterfaceConfig::euro_isdn_e1(Role::User);
    cfg.link.t200 = Duration::from_millis(200);
    cfg.link.t203 = Duration::from_millis(600);
    let mut h = H::new(cfg, Switch::EuroIsdnE1);
    h.pri.set_timer(PriTimer::T200, 200);
    h.pri.set_timer(PriTimer::T203, 600);
    let (call, ring) = h.we_call(ChannelPref::Any, "5551234", true);
    let pc = ring.call.unwrap();
    h.pri_answers(pc, ring.channel);
    h.cut = true;
    h.expect_within(Duration::from_secs(5), |e| {
        matches!(e, Event::LinkDown).then_some(())
    })
    .expect("link down");
    assert_eq!(h.ours.stage(call), Some(Stage::Active), "T309 running");
    h.cut = false;
    h.expect_within(Duration::from_secs(10), |e| {
        matches!(e, Event::LinkUp).then_some(())
    })
    .expect("link back");
    h.run_for(Duration::from_millis(500));
    assert_eq!(h.ours.stage(call), Some(Stage::Active));
    // The call is still known to libpri: clearing it works end to end.
    h.pri.hangup(pc, 16).unwrap();
    pri_completes(&mut h, pc);
    assert_eq!(released(&mut h, call), Some(16));
}

#[test]
fn libpri_network_t303_when_we_never_answer_its_setup() {
    let mut h = H::e1(Role::User);
    h.pri.set_timer(PriTimer::T303, 300);
    let (pc, setup) = h.pri_calls(6, true);
    let call = handle_of(&setup);
    // No answer from us: libpri repeats the SETUP at T303 and then gives up: it reports
    // the hangup and goes to Null without a message to us (libpri 1.6).
    let hangup = h.pri_expect(|e| match e {
        PriEvent::Hangup(hg) | PriEvent::HangupReq(hg) => Some(hg.clone()),
        _ => None,
    });
    assert_eq!(hangup.call, Some(pc));
    assert_eq!(hangup.cause, 18, "no user responding");
    assert_eq!(
        h.ours.stage(call),
        Some(Stage::Setup),
        "the repeated SETUP is the same call"
    );
    assert_eq!(h.ours.call_count(), 1);
    // Our late answer meets a call reference libpri has forgotten: libpri clears it, with
    // cause 101 (message not compatible with call state) where Q.931 §5.8.3.2 a) has 81.
    h.ours.alerting(now(), call, false).unwrap();
    assert_eq!(released(&mut h, call), Some(101));
    assert_eq!(h.ours.call_count(), 0);
}

#[test]
fn our_t310_clears_towards_libpri_network_with_cause_102() {
    let mut cfg = InterfaceConfig::euro_isdn_e1(Role::User);
    cfg.timers.t310 = Duration::from_millis(400);
    let mut h = H::new(cfg, Switch::EuroIsdnE1);
    let (call, ring) = h.we_call(ChannelPref::Any, "5551234", true);
    let pc = ring.call.unwrap();
    h.pri.proceeding(pc, ring.channel, false).unwrap();
    assert_eq!(h.pri_takes_our_clearing(call, pc), 102);
}

// ---- libpri as the user side, ours the network side ---------------------------------------

#[test]
fn libpri_user_calls_us_we_answer_and_it_clears_with_16() {
    let mut h = H::e1(Role::Network);
    let (pc, setup) = h.pri_calls(7, true);
    let call = handle_of(&setup);
    assert!(matches!(
        setup,
        Event::IncomingSetup {
            channel: Some(7),
            ..
        }
    ));
    h.ours.proceeding(now(), call).unwrap();
    let p = h.pri_expect(|e| match e {
        PriEvent::Proceeding(p) => Some(p.clone()),
        _ => None,
    });
    assert_eq!(p.channel & 0xFF, 7);
    h.ours.alerting(now(), call, true).unwrap();
    h.pri_expect(|e| matches!(e, PriEvent::Ringing(_)).then_some(()));
    h.ours.connect(now(), call).unwrap();
    h.pri_expect(|e| matches!(e, PriEvent::Answer(a) if a.call == Some(pc)).then_some(()));
    h.pri.hangup(pc, 16).unwrap();
    let cause = h.expect(|e| match e {
        Event::Disconnecting { cause, .. } => Some(cause.value.value()),
        _ => None,
    });
    assert_eq!(cause, 16);
    let hg = h.pri_expect(|e| match e {
        PriEvent::Hangup(hg) => Some(hg.clone()),
        _ => None,
    });
    h.pri.hangup(pc, hg.cause).unwrap();
    assert_eq!(released(&mut h, call), Some(16));
}

#[test]
fn we_call_libpri_user_it_answers_and_we_clear_with_17() {
    let mut h = H::e1(Role::Network);
    let (call, ring) = h.we_call(ChannelPref::Any, "4000", true);
    assert_eq!(ring.called_number, "4000");
    let ch = h.ours.channel(call).unwrap();
    assert_eq!(ring.channel & 0xFF, i32::from(ch));
    let pc = ring.call.unwrap();
    h.pri.proceeding(pc, ring.channel, false).unwrap();
    h.expect(|e| matches!(e, Event::Proceeding { .. }).then_some(()));
    h.pri.alerting(pc, ring.channel, false).unwrap();
    h.expect(|e| matches!(e, Event::Alerting { .. }).then_some(()));
    h.pri_answers(pc, ring.channel);
    h.we_clear(call, pc, CauseValue::UserBusy);
}

#[test]
fn causes_1_and_34_cross_intact_between_libpri_user_and_us() {
    let mut h = H::e1(Role::Network);
    let (call, ring) = h.we_call(ChannelPref::Any, "4001", true);
    h.pri.hangup(ring.call.unwrap(), 1).unwrap();
    assert_eq!(released(&mut h, call), Some(1));
    let (pc, setup) = h.pri_calls(8, true);
    h.ours
        .disconnect(now(), handle_of(&setup), CauseValue::NoCircuitAvailable)
        .unwrap();
    let hg = h.pri_expect(|e| match e {
        PriEvent::Hangup(hg) => Some(hg.clone()),
        _ => None,
    });
    assert_eq!((hg.call, hg.cause), (Some(pc), 34));
}

#[test]
fn libpri_user_asks_for_a_channel_we_hold_and_gets_44() {
    let mut h = H::e1(Role::Network);
    let (_call, _ring) = h.we_call(ChannelPref::Exclusive(12), "4002", true);
    let call = h.pri.new_call().unwrap();
    h.pri
        .call(
            call,
            &CallParams {
                channel: 12,
                exclusive: true,
                called: "2000",
                ..CallParams::default()
            },
        )
        .unwrap();
    let hg = h.pri_expect(|e| match e {
        PriEvent::Hangup(hg) if hg.call == Some(call) => Some(hg.clone()),
        _ => None,
    });
    assert_eq!(hg.cause, 44);
}

#[test]
fn overlap_receiving_from_libpri_user() {
    let mut h = H::e1(Role::Network);
    let (pc, setup) = h.pri_calls(9, false);
    let call = handle_of(&setup);
    h.ours.setup_acknowledge(now(), call).unwrap();
    h.pri_expect(|e| matches!(e, PriEvent::SetupAck { .. }).then_some(()));
    h.pri.information(pc, b'7').unwrap();
    let d = h.expect(|e| match e {
        Event::MoreInfo { digits, .. } => Some(digits.clone()),
        _ => None,
    });
    assert_eq!(d, "7");
    h.ours.connect(now(), call).unwrap();
    h.pri_expect(|e| matches!(e, PriEvent::Answer(_)).then_some(()));
}

#[test]
fn our_restart_as_network_is_acknowledged_by_libpri_user() {
    let mut h = H::e1(Role::Network);
    h.ours.restart_channels(now(), Some(vec![5])).unwrap();
    let ch = h.pri_expect(|e| match e {
        PriEvent::Restart { channel } => Some(*channel),
        _ => None,
    });
    assert_eq!(ch & 0xFF, 5);
    let done = h.expect(|e| match e {
        Event::RestartComplete { channels } => Some(channels.clone()),
        _ => None,
    });
    assert_eq!(done, vec![5]);
}

#[test]
fn ni2_calls_both_ways_with_libpri() {
    for role in [Role::User, Role::Network] {
        let mut h = H::new(InterfaceConfig::ni2_t1(role), Switch::Ni2);
        let (call, ring) = h.we_call(ChannelPref::Exclusive(3), "5551234", true);
        assert_eq!(ring.called_number, "5551234");
        let pc = ring.call.unwrap();
        h.pri.proceeding(pc, ring.channel, false).unwrap();
        h.pri_answers(pc, ring.channel);
        h.we_clear(call, pc, CauseValue::NormalCallClearing);
        let (pc, setup) = h.pri_calls(20, true);
        let call = handle_of(&setup);
        h.ours.connect(now(), call).unwrap();
        h.pri_expect(|e| matches!(e, PriEvent::Answer(_)).then_some(()));
        h.pri.hangup(pc, 17).unwrap();
        h.pri_expect(|e| matches!(e, PriEvent::Hangup(_)).then_some(()));
        h.pri.hangup(pc, 17).unwrap();
        assert_eq!(released(&mut h, call), Some(17), "{role:?}");
    }
}

#[test]
fn libpri_network_t305_releases_when_we_hold_its_disconnect() {
    // We keep the DISCONNECT (as for an in-band announcement) and send no RELEASE: libpri's
    // T305 runs out and it sends RELEASE itself (Q.931 §5.3.4.1 / §5.3.3).
    let mut cfg = InterfaceConfig::euro_isdn_e1(Role::User);
    cfg.auto_release = false;
    let mut h = H::new(cfg, Switch::EuroIsdnE1);
    h.pri.set_timer(PriTimer::T305, 400);
    let (call, ring) = h.we_call(ChannelPref::Exclusive(1), "5551234", true);
    let pc = ring.call.unwrap();
    h.pri_answers(pc, ring.channel);
    // Let our CONNECT ACKNOWLEDGE arrive first.
    h.run_for(Duration::from_millis(100));
    h.pri.hangup(pc, 17).unwrap();
    let cause = h.expect(|e| match e {
        Event::Disconnecting { cause, .. } => Some(cause.value.value()),
        _ => None,
    });
    assert_eq!(cause, 17);
    assert_eq!(h.ours.stage(call), Some(Stage::DisconnectReceived));
    let t0 = Instant::now();
    assert_eq!(released(&mut h, call), Some(17));
    assert!(
        t0.elapsed() >= Duration::from_millis(300),
        "released by libpri's T305"
    );
}

#[test]
fn active_call_survives_a_short_link_outage_with_libpri_user() {
    let mut cfg = InterfaceConfig::euro_isdn_e1(Role::Network);
    cfg.link.t200 = Duration::from_millis(200);
    cfg.link.t203 = Duration::from_millis(600);
    let mut h = H::new(cfg, Switch::EuroIsdnE1);
    h.pri.set_timer(PriTimer::T200, 200);
    h.pri.set_timer(PriTimer::T203, 600);
    let (pc, setup) = h.pri_calls(11, true);
    let call = handle_of(&setup);
    h.ours.connect(now(), call).unwrap();
    h.pri_expect(|e| matches!(e, PriEvent::Answer(_)).then_some(()));
    h.cut = true;
    h.expect_within(Duration::from_secs(5), |e| {
        matches!(e, Event::LinkDown).then_some(())
    })
    .expect("link down");
    assert_eq!(h.ours.stage(call), Some(Stage::Active), "T309 running");
    h.cut = false;
    h.expect_within(Duration::from_secs(10), |e| {
        matches!(e, Event::LinkUp).then_some(())
    })
    .expect("link back");
    h.run_for(Duration::from_millis(500));
    assert_eq!(h.ours.stage(call), Some(Stage::Active));
    h.we_clear(call, pc, CauseValue::NormalCallClearing);
}

#[test]
fn libpri_user_t303_when_we_never_answer_its_setup() {
    let mut h = H::e1(Role::Network);
    h.pri.set_timer(PriTimer::T303, 300);
    let (pc, setup) = h.pri_calls(13, true);
    let call = handle_of(&setup);
    let hangup = h.pri_expect(|e| match e {
        PriEvent::Hangup(hg) | PriEvent::HangupReq(hg) => Some(hg.clone()),
        _ => None,
    });
    assert_eq!(hangup.call, Some(pc));
    // libpri (user side too) goes to Null after its second T303 expiry and says nothing;
    // our late CALL PROCEEDING gets its STATUS (Null state), which releases our call.
    assert_eq!(h.ours.stage(call), Some(Stage::Setup));
    h.ours.proceeding(now(), call).unwrap();
    assert!(released(&mut h, call).is_some());
    assert_eq!(h.ours.call_count(), 0);
    assert!(h.ours.channels().is_idle(13));
}

#[test]
fn we_abandon_our_call_before_libpri_network_answers() {
    let mut h = H::e1(Role::User);
    let (call, ring) = h.we_call(ChannelPref::Exclusive(2), "5551234", true);
    assert_eq!(ring.channel & 0xFF, 2);
    // The caller hangs up while the call is still being offered (U1): DISCONNECT.
    h.ours
        .disconnect(now(), call, CauseValue::NormalCallClearing)
        .unwrap();
    // libpri, with the call still offered to its application (its N6 from the user's
    // view), clears it by itself: RELEASE COMPLETE with our cause, no event for the
    // application (libpri 1.6).
    assert!(!h
        .pri_events
        .iter()
        .any(|e| matches!(e, PriEvent::HangupReq(_))));
    assert_eq!(released(&mut h, call), Some(16));
    assert!(h.ours.channels().is_idle(2));
}

#[test]
fn our_restart_of_the_whole_interface_is_acknowledged_by_libpri() {
    for role in [Role::User, Role::Network] {
        let mut h = H::e1(role);
        h.ours.restart_channels(now(), None).unwrap();
        let done = h.expect(|e| match e {
            Event::RestartComplete { channels } => Some(channels.clone()),
            _ => None,
        });
        assert_eq!(done.len(), 30, "{role:?}");
        assert_eq!(h.ours.channels().idle_count(), 30);
    }
}

// ---- libpri's own timers -------------------------------------------------------------------

#[test]
fn libpri_t316_repeats_its_restart_while_we_clear_and_our_t317_informs_maintenance() {
    let mut cfg = InterfaceConfig::euro_isdn_e1(Role::User);
    cfg.restart_confirm = true;
    cfg.timers.t317 = Duration::from_millis(1000);
    let mut h = H::new(cfg, Switch::EuroIsdnE1);
    // libpri's T316 is off unless set; N316 = 3 RESTARTs in all.
    h.pri.set_timer(PriTimer::T316, 200);
    h.pri.set_timer(PriTimer::N316, 3);
    let (pc, setup) = h.pri_calls(5, true);
    let call = handle_of(&setup);
    h.ours.connect(now(), call).unwrap();
    h.pri_expect(|e| matches!(e, PriEvent::Answer(a) if a.call == Some(pc)).then_some(()));
    h.pri.reset(5).unwrap();
    // Our call reference goes to Null at once (§5.5.2); the channel waits for the layer
    // above, which here never reports it idle: no RESTART ACKNOWLEDGE goes out.
    assert_eq!(released(&mut h, call), Some(41));
    let expired = h
        .expect_within(Duration::from_secs(5), |e| match e {
            Event::RestartClearingExpired { channels } => Some(channels.clone()),
            _ => None,
        })
        .expect("T317 expiry");
    assert_eq!(expired, vec![5]);
    // libpri sent its RESTART N316 = 3 times, one per T316 expiry, each restarting our T317.
    let indications = h
        .events
        .iter()
        .filter(|e| matches!(e, Event::RestartIndication { channels } if channels == &[5]))
        .count();
    assert_eq!(indications, 3);
    assert!(!h
        .pri_events
        .iter()
        .any(|e| matches!(e, PriEvent::RestartAck { .. })));
    assert_eq!(h.ours.channels().get(5), Some(ChannelState::Maintenance));
    assert_eq!(
        h.ours.restart_done(now(), &[5]),
        Err(CallError::NoRestartInProgress)
    );
    // libpri's maintenance restarts the channel again; this time we clear within T317.
    h.pri.reset(5).unwrap();
    h.expect(|e| {
        matches!(e, Event::RestartIndication { channels } if channels == &[5]).then_some(())
    });
    h.ours.restart_done(now(), &[5]).unwrap();
    let ch = h.pri_expect(|e| match e {
        PriEvent::RestartAck { channel } => Some(*channel),
        _ => None,
    });
    assert_eq!(ch & 0xFF, 5);
    assert_eq!(h.ours.channels().get(5), Some(ChannelState::Idle));
}

#[test]
fn libpri_t309_clears_during_a_long_outage_and_our_status_enquiry_finds_out() {
    let mut cfg = InterfaceConfig::euro_isdn_e1(Role::User);
    cfg.link.t200 = Duration::from_millis(200);
    cfg.link.t203 = Duration::from_millis(600);
    let mut h = H::new(cfg, Switch::EuroIsdnE1);
    h.pri.set_timer(PriTimer::T200, 200);
    h.pri.set_timer(PriTimer::T203, 600);
    h.pri.set_timer(PriTimer::T309, 300);
    let (call, ring) = h.we_call(ChannelPref::Exclusive(4), "5551234", true);
    let pc = ring.call.unwrap();
    h.pri_answers(pc, ring.channel);
    h.run_for(Duration::from_millis(100));
    h.cut = true;
    // libpri's T309 (300 ms) runs out long before ours (90 s): libpri clears the call,
    // cause 27, destination out of order.
    let hg = h.pri_expect(|e| match e {
        PriEvent::Hangup(hg) if hg.call == Some(pc) => Some(hg.clone()),
        _ => None,
    });
    assert_eq!(hg.cause, 27);
    h.pri.hangup(pc, hg.cause).unwrap();
    h.expect(|e| matches!(e, Event::LinkDown).then_some(()));
    assert_eq!(h.ours.stage(call), Some(Stage::Active), "our T309 runs");
    h.cut = false;
    h.expect_within(Duration::from_secs(10), |e| {
        matches!(e, Event::LinkUp).then_some(())
    })
    .expect("link back");
    // The link is back: our STATUS ENQUIRY (§5.8.8, T322) meets a call reference libpri
    // has forgotten; it answers RELEASE COMPLETE, cause 81, and our call is gone.
    assert_eq!(released(&mut h, call), Some(81));
    assert!(h.ours.channels().is_idle(4));
}

#[test]
fn our_status_enquiry_is_answered_by_libpri_and_t322_stops() {
    for role in [Role::User, Role::Network] {
        let mut cfg = InterfaceConfig::euro_isdn_e1(role);
        cfg.timers.t322 = Duration::from_millis(150);
        let mut h = H::new(cfg, Switch::EuroIsdnE1);
        let (pc, setup) = h.pri_calls(9, true);
        let call = handle_of(&setup);
        h.ours.connect(now(), call).unwrap();
        h.pri_expect(|e| matches!(e, PriEvent::Answer(a) if a.call == Some(pc)).then_some(()));
        h.run_for(Duration::from_millis(100));
        h.ours.status_enquiry(now(), call).unwrap();
        // Unanswered, T322 would repeat STATUS ENQUIRY twice and clear the call at 450 ms;
        // libpri's STATUS (cause 30, Active) stops it and the call stays.
        h.run_for(Duration::from_millis(1000));
        assert_eq!(h.ours.stage(call), Some(Stage::Active), "{role:?}");
        assert!(!h
            .pri_events
            .iter()
            .any(|e| matches!(e, PriEvent::HangupReq(_) | PriEvent::Hangup(_))));
        h.pri.hangup(pc, 16).unwrap();
        let hg = h.expect(|e| match e {
            Event::Disconnecting { cause, .. } => Some(cause.value.value()),
            _ => None,
        });
        assert_eq!(hg, 16);
    }
}

#[test]
fn libpri_has_no_t310_action() {
    // libpri 1.6 lists T310 among the timers pri_set_timer accepts, for every switch type,
    // but its Q.931 code never starts it (only T303, T305, T308, T309, T313 and T316 are
    // scheduled): after CALL PROCEEDING and nothing else the call stays up.
    for switch in [Switch::EuroIsdnE1, Switch::Ni2] {
        let cfg = match switch {
            Switch::Ni2 => InterfaceConfig::ni2_t1(Role::Network),
            _ => InterfaceConfig::euro_isdn_e1(Role::Network),
        };
        let mut h = H::new(cfg, switch);
        h.pri.set_timer(PriTimer::T310, 200);
        assert_eq!(h.pri.timer(PriTimer::T310), 200);
        let (pc, setup) = h.pri_calls(6, true);
        let call = handle_of(&setup);
        h.ours.proceeding(now(), call).unwrap();
        h.pri_expect(|e| matches!(e, PriEvent::Proceeding(_)).then_some(()));
        h.run_for(Duration::from_millis(1200));
        assert!(
            !h.pri_events.iter().any(|e| matches!(
                e,
                PriEvent::Hangup(_) | PriEvent::HangupReq(_) | PriEvent::HangupAck(_)
            )),
            "{switch:?}: {:?}",
            h.pri_events
        );
        assert_eq!(h.ours.stage(call), Some(Stage::Proceeding));
        // The call is intact: cleared end to end.
        h.we_clear(call, pc, CauseValue::NormalCallClearing);
    }
}

// ---- NI-2 (and 5ESS) SERVICE maintenance against libpri -------------------------------------

/// Our T1 interface facing libpri with real SERVICE support: NI-2 (national maintenance,
/// discriminator 0x43) or 5ESS (AT&T maintenance, 0x03).
fn service_pair(role: Role, switch: Switch) -> H {
    let mut cfg = InterfaceConfig::ni2_t1(role);
    if switch == Switch::Lucent5e {
        cfg.variant.service_discriminator = ProtocolDiscriminator::MAINTENANCE;
    }
    let mut h = H::new(cfg, switch);
    h.pri.set_service_message_support(true);
    h
}

#[test]
fn libpri_service_takes_our_channel_out_of_service_and_back() {
    for switch in [Switch::Ni2, Switch::Lucent5e] {
        for role in [Role::User, Role::Network] {
            let mut h = service_pair(role, switch);
            let what = format!("{switch:?} {role:?}");
            h.pri
                .maintenance_service(7, ffi::SERVICE_CHANGE_STATUS_OUTOFSERVICE)
                .unwrap();
            let (channels, status) = h.expect(|e| match e {
                Event::ServiceChange { channels, status } => Some((channels.clone(), *status)),
                _ => None,
            });
            assert_eq!(channels, vec![7], "{what}");
            assert_eq!(status.status, ServiceStatus::OutOfService, "{what}");
            assert_eq!(h.ours.channels().get(7), Some(ChannelState::OutOfService));
            // Our SERVICE ACKNOWLEDGE reaches libpri's application.
            let (ch, st) = h.pri_expect(|e| match e {
                PriEvent::ServiceAck {
                    channel,
                    change_status,
                } => Some((*channel, *change_status)),
                _ => None,
            });
            assert_eq!((ch & 0xFF, st), (7, 2), "{what}");
            // The channel takes no call meanwhile.
            assert!(matches!(
                h.ours.setup(
                    now(),
                    SetupRequest {
                        called: None,
                        calling: None,
                        bearer: BearerCapability::speech(Layer1Protocol::G711MuLaw),
                        channel: ChannelPref::Exclusive(7),
                        sending_complete: true,
                    }
                ),
                Err(CallError::NoChannel(
                    CauseValue::RequestedChannelNotAvailable
                ))
            ));
            h.pri
                .maintenance_service(7, ffi::SERVICE_CHANGE_STATUS_INSERVICE)
                .unwrap();
            let status = h.expect(|e| match e {
                Event::ServiceChange { status, .. } => Some(*status),
                _ => None,
            });
            assert_eq!(status.status, ServiceStatus::InService, "{what}");
            assert!(h.ours.channels().is_idle(7), "{what}");
        }
    }
}

#[test]
fn our_service_is_acknowledged_by_libpri() {
    for switch in [Switch::Ni2, Switch::Lucent5e] {
        for role in [Role::User, Role::Network] {
            let mut h = service_pair(role, switch);
            let what = format!("{switch:?} {role:?}");
            h.ours
                .service(now(), &[9], ServiceStatus::OutOfService)
                .unwrap();
            let (ch, st) = h.pri_expect(|e| match e {
                PriEvent::Service {
                    channel,
                    change_status,
                } => Some((*channel, *change_status)),
                _ => None,
            });
            assert_eq!((ch & 0xFF, st), (9, 2), "{what}");
            let (channels, status) = h.expect(|e| match e {
                Event::ServiceAcknowledged { channels, status } => {
                    Some((channels.clone(), *status))
                }
                _ => None,
            });
            assert_eq!(channels, vec![9], "{what}");
            assert_eq!(status.status, ServiceStatus::OutOfService, "{what}");
            assert_eq!(h.ours.channels().get(9), Some(ChannelState::OutOfService));
            h.ours
                .service(now(), &[9], ServiceStatus::InService)
                .unwrap();
            let st = h.pri_expect(|e| match e {
                PriEvent::Service { change_status, .. } => Some(*change_status),
                _ => None,
            });
            assert_eq!(st, 0, "{what}");
            h.expect(|e| matches!(e, Event::ServiceAcknowledged { .. }).then_some(()));
            assert!(h.ours.channels().is_idle(9), "{what}");
        }
    }
}
