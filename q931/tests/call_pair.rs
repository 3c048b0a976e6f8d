//! Q.931 call control, user side against network side, both ours, over LAPD in memory and
//! in virtual time: each state transition group and each timer (Q.931 §5, §9.1).

use std::time::{Duration, Instant};

use q931::call::{
    CallHandle, ChannelPref, ChannelState, Event, Interface, InterfaceConfig, SetupRequest, Stage,
};
use q931::ie::{
    BearerCapability, CallStateValue, CalledPartyNumber, CallingPartyNumber, Cause, CauseValue,
    Layer1Protocol, NumberingPlan, ProgressDescription, ServiceStatus, TypeOfNumber,
};
use q931::lapd::{Link, LinkConfig, LinkEvent, Role, I_QUEUE_LIMIT};
use q931::message::{CallRef, CallRefFlag, Message, MessageType};

/// Two interfaces joined by an in-memory D-channel.
struct Pair {
    user: Interface,
    net: Interface,
    now: Instant,
    /// While set, frames are lost both ways.
    cut: bool,
    user_events: Vec<Event>,
    net_events: Vec<Event>,
}

impl Pair {
    fn new(cfg: fn(Role) -> InterfaceConfig) -> Pair {
        let now = Instant::now();
        let mut p = Pair {
            user: Interface::new(cfg(Role::User)),
            net: Interface::new(cfg(Role::Network)),
            now,
            cut: false,
            user_events: Vec::new(),
            net_events: Vec::new(),
        };
        p.user.start(now);
        p.run();
        assert!(p.user_events.contains(&Event::LinkUp));
        assert!(p.net_events.contains(&Event::LinkUp));
        p.user_events.clear();
        p.net_events.clear();
        p
    }

    fn e1() -> Pair {
        Pair::new(InterfaceConfig::euro_isdn_e1)
    }

    /// Moves frames both ways until both are quiet.
    fn run(&mut self) {
        loop {
            let mut moved = false;
            while let Some(f) = self.user.poll_transmit() {
                moved = true;
                if !self.cut {
                    self.net.handle_frame(self.now, &f);
                }
            }
            while let Some(f) = self.net.poll_transmit() {
                moved = true;
                if !self.cut {
                    self.user.handle_frame(self.now, &f);
                }
            }
            if !moved {
                break;
            }
        }
        while let Some(e) = self.user.poll_event() {
            self.user_events.push(e);
        }
        while let Some(e) = self.net.poll_event() {
            self.net_events.push(e);
        }
    }

    /// Advances virtual time by `d`, running every timer on the way.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = [self.user.poll_timeout(), self.net.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.user.handle_timeout(self.now);
                    self.net.handle_timeout(self.now);
                    self.run();
                }
                _ => break,
            }
        }
        self.now = end;
        self.run();
    }

    fn take_user(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.user_events)
    }

    fn take_net(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.net_events)
    }

    /// The user places an en-bloc call to "5551234"; returns (user handle, network handle).
    fn user_calls(&mut self, channel: ChannelPref) -> (CallHandle, CallHandle) {
        let h = self
            .user
            .setup(self.now, request("5551234", channel, true))
            .unwrap();
        self.run();
        let n = incoming(&self.take_net());
        (h, n)
    }

    /// The user dials "55" without sending complete and the network asks for more
    /// (SETUP ACKNOWLEDGE): overlap sending, Q.931 §5.1.3. Returns (user, network).
    fn overlap_call(&mut self) -> (CallHandle, CallHandle) {
        let u = self
            .user
            .setup(self.now, request("55", ChannelPref::Any, false))
            .unwrap();
        self.run();
        let n = incoming(&self.take_net());
        self.net.setup_acknowledge(self.now, n).unwrap();
        self.run();
        (u, n)
    }

    /// A call from the user, answered at once: active on both sides.
    fn active_call(&mut self) -> (CallHandle, CallHandle) {
        let (u, n) = self.user_calls(ChannelPref::Any);
        self.net.proceeding(self.now, n).unwrap();
        self.net.connect(self.now, n).unwrap();
        self.run();
        assert_eq!(self.user.stage(u), Some(Stage::Active));
        assert_eq!(self.net.stage(n), Some(Stage::Active));
        self.take_user();
        self.take_net();
        (u, n)
    }
}

fn request(called: &str, channel: ChannelPref, complete: bool) -> SetupRequest {
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
    }
}

fn incoming(events: &[Event]) -> CallHandle {
    events
        .iter()
        .find_map(|e| match e {
            Event::IncomingSetup { call, .. } => Some(*call),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no IncomingSetup in {events:#?}"))
}

fn released(events: &[Event]) -> Option<u8> {
    events.iter().find_map(|e| match e {
        Event::Released { cause, .. } => Some(cause.as_ref().map_or(0, |c| c.value.value())),
        _ => None,
    })
}

#[test]
fn en_bloc_call_from_the_user_is_answered_and_cleared_by_the_user() {
    let mut p = Pair::e1();
    let u = p
        .user
        .setup(p.now, request("5551234", ChannelPref::Exclusive(5), true))
        .unwrap();
    assert_eq!(p.user.call_state(u), Some(CallStateValue::CallInitiated));
    p.run();
    let ev = p.take_net();
    let Event::IncomingSetup {
        call: n,
        called,
        calling,
        channel,
        sending_complete,
        ..
    } = ev[0].clone()
    else {
        panic!("{ev:?}")
    };
    assert_eq!(called.unwrap().digits, "5551234");
    assert_eq!(calling.unwrap().digits, "1000");
    assert_eq!(channel, Some(5));
    assert!(sending_complete);
    assert_eq!(p.net.call_state(n), Some(CallStateValue::CallInitiated));
    p.net.proceeding(p.now, n).unwrap();
    p.run();
    assert_eq!(
        p.user.call_state(u),
        Some(CallStateValue::OutgoingCallProceeding)
    );
    p.net.alerting(p.now, n, true).unwrap();
    p.run();
    assert_eq!(p.user.call_state(u), Some(CallStateValue::CallDelivered));
    assert_eq!(p.net.call_state(n), Some(CallStateValue::CallDelivered));
    p.net.connect(p.now, n).unwrap();
    p.run();
    assert_eq!(
        p.take_user(),
        vec![
            Event::Proceeding {
                call: u,
                channel: Some(5),
                inband: false
            },
            Event::Alerting {
                call: u,
                inband: true
            },
            Event::Connected {
                call: u,
                channel: Some(5)
            },
        ]
    );
    assert_eq!(
        p.take_net(),
        vec![Event::Connected {
            call: n,
            channel: Some(5)
        }]
    );
    assert_eq!(p.user.channels().get(5), Some(ChannelState::Busy(u)));
    p.user
        .disconnect(p.now, u, CauseValue::NormalCallClearing)
        .unwrap();
    assert_eq!(
        p.user.call_state(u),
        Some(CallStateValue::DisconnectRequest)
    );
    p.run();
    let ev = p.take_net();
    assert!(matches!(&ev[0], Event::Disconnecting { cause, .. } if cause.value.value() == 16));
    assert_eq!(released(&ev), Some(16));
    assert_eq!(released(&p.take_user()), Some(16));
    assert_eq!(p.user.call_count() + p.net.call_count(), 0);
    assert_eq!(p.user.channels().get(5), Some(ChannelState::Idle));
    assert_eq!(p.net.channels().get(5), Some(ChannelState::Idle));
}

#[test]
fn call_from_the_network_is_answered_by_the_user_and_cleared_by_the_network() {
    let mut p = Pair::e1();
    let n = p
        .net
        .setup(p.now, request("2000", ChannelPref::Any, true))
        .unwrap();
    p.run();
    let u = incoming(&p.take_user());
    assert_eq!(p.user.call_state(u), Some(CallStateValue::CallPresent));
    assert_eq!(p.net.call_state(n), Some(CallStateValue::CallPresent));
    let ch = p.user.channel(u).unwrap();
    assert_eq!(p.net.channel(n), Some(ch));
    p.user.alerting(p.now, u, false).unwrap();
    p.run();
    assert_eq!(
        p.take_net(),
        vec![Event::Alerting {
            call: n,
            inband: false
        }]
    );
    assert_eq!(p.net.call_state(n), Some(CallStateValue::CallReceived));
    p.user.connect(p.now, u).unwrap();
    assert_eq!(p.user.call_state(u), Some(CallStateValue::ConnectRequest));
    p.run();
    assert_eq!(p.user.call_state(u), Some(CallStateValue::Active));
    assert!(p.take_user().contains(&Event::Connected {
        call: u,
        channel: Some(ch)
    }));
    p.net.disconnect(p.now, n, CauseValue::UserBusy).unwrap();
    assert_eq!(
        p.net.call_state(n),
        Some(CallStateValue::DisconnectIndication)
    );
    p.run();
    let ev = p.take_user();
    assert!(
        matches!(&ev[0], Event::Disconnecting { cause, inband: false, .. } if cause.value.value() == 17)
    );
    assert_eq!(released(&ev), Some(17));
    assert_eq!(released(&p.take_net()), Some(17));
    assert_eq!(p.user.channels().idle_count(), 30);
}

#[test]
fn user_refuses_an_offered_call_with_release_complete_and_its_cause() {
    let mut p = Pair::e1();
    let n = p
        .net
        .setup(p.now, request("2000", ChannelPref::Any, true))
        .unwrap();
    p.run();
    let u = incoming(&p.take_user());
    p.user
        .disconnect(p.now, u, CauseValue::UnallocatedNumber)
        .unwrap();
    p.run();
    assert_eq!(released(&p.take_net()), Some(1));
    assert_eq!(p.net.stage(n), None);
}

#[test]
fn overlap_sending_with_setup_acknowledge_and_information() {
    let mut p = Pair::e1();
    let u = p
        .user
        .setup(p.now, request("55", ChannelPref::Any, false))
        .unwrap();
    p.run();
    let ev = p.take_net();
    let n = incoming(&ev);
    assert!(matches!(
        ev[0],
        Event::IncomingSetup {
            sending_complete: false,
            ..
        }
    ));
    p.net.setup_acknowledge(p.now, n).unwrap();
    p.run();
    assert_eq!(p.net.call_state(n), Some(CallStateValue::OverlapSending));
    assert_eq!(p.user.call_state(u), Some(CallStateValue::OverlapSending));
    assert!(
        matches!(p.take_user()[0], Event::SetupAcknowledged { call, channel: Some(_) } if call == u)
    );
    p.user.information(p.now, u, "512", false).unwrap();
    p.user.information(p.now, u, "34", true).unwrap();
    p.run();
    assert_eq!(
        p.take_net(),
        vec![
            Event::MoreInfo {
                call: n,
                digits: "512".into(),
                sending_complete: false,
                timed_out: false
            },
            Event::MoreInfo {
                call: n,
                digits: "34".into(),
                sending_complete: true,
                timed_out: false
            },
        ]
    );
    p.net.proceeding(p.now, n).unwrap();
    p.run();
    assert_eq!(
        p.user.call_state(u),
        Some(CallStateValue::OutgoingCallProceeding)
    );
}

#[test]
fn t302_expiry_ends_overlap_receiving() {
    let mut p = Pair::e1();
    let (_, n) = p.overlap_call();
    p.advance(Duration::from_secs(14));
    assert!(p.take_net().is_empty());
    p.advance(Duration::from_secs(2));
    assert_eq!(
        p.take_net(),
        vec![Event::MoreInfo {
            call: n,
            digits: String::new(),
            sending_complete: true,
            timed_out: true
        }]
    );
}

#[test]
fn t304_expiry_clears_an_overlap_call_the_user_does_not_complete() {
    let mut p = Pair::e1();
    // The network waits longer than the user (T302 > T304 here).
    let (u, _) = p.overlap_call();
    p.advance(Duration::from_secs(14));
    p.take_net();
    p.user.information(p.now, u, "1", false).unwrap();
    p.run();
    p.advance(Duration::from_secs(19));
    assert_eq!(p.user.stage(u), Some(Stage::Overlap));
    p.advance(Duration::from_secs(2));
    let ev = p.take_net();
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Disconnecting { cause, .. } if cause.value.value() == 102)),
        "{ev:?}"
    );
    assert_eq!(released(&p.take_user()), Some(102));
}

#[test]
fn t303_retransmits_setup_once_then_clears() {
    let mut p = Pair::e1();
    let u = p
        .user
        .setup(p.now, request("5551234", ChannelPref::Any, true))
        .unwrap();
    p.run();
    let n = incoming(&p.take_net());
    // The network side stays silent (nobody answers the offered call).
    p.advance(Duration::from_secs(4));
    assert_eq!(p.user.stage(u), Some(Stage::Setup), "SETUP sent again");
    assert!(
        p.take_net().is_empty(),
        "the repeated SETUP is the same call"
    );
    p.advance(Duration::from_secs(4));
    assert_eq!(released(&p.take_user()), Some(102));
    assert_eq!(released(&p.take_net()), Some(102));
    assert_eq!(p.net.stage(n), None);
}

#[test]
fn t310_expiry_after_call_proceeding_clears_with_cause_102() {
    let mut p = Pair::e1();
    let (u, n) = p.user_calls(ChannelPref::Any);
    p.net.proceeding(p.now, n).unwrap();
    p.run();
    p.take_user();
    p.advance(Duration::from_secs(29));
    assert_eq!(p.user.stage(u), Some(Stage::Proceeding));
    p.advance(Duration::from_secs(2));
    assert_eq!(released(&p.take_user()), Some(102));
    assert_eq!(released(&p.take_net()), Some(102));
}

#[test]
fn t301_expiry_after_alerting_clears_the_call() {
    let mut p = Pair::e1();
    let (u, n) = p.user_calls(ChannelPref::Any);
    p.net.alerting(p.now, n, true).unwrap();
    p.run();
    p.advance(Duration::from_secs(179));
    assert_eq!(p.user.stage(u), Some(Stage::Delivered));
    p.advance(Duration::from_secs(2));
    assert_eq!(released(&p.take_user()), Some(102));
}

#[test]
fn disconnect_collision_ends_in_release_on_both_sides() {
    let mut p = Pair::e1();
    let (u, n) = p.active_call();
    p.user
        .disconnect(p.now, u, CauseValue::NormalCallClearing)
        .unwrap();
    p.net.disconnect(p.now, n, CauseValue::UserBusy).unwrap();
    p.run();
    assert!(released(&p.take_user()).is_some());
    assert!(released(&p.take_net()).is_some());
    assert_eq!(p.user.call_count() + p.net.call_count(), 0);
    assert_eq!(
        p.user.poll_timeout().is_some(),
        p.user.link().poll_timeout().is_some()
    );
}

#[test]
fn t305_then_t308_twice_release_the_call_and_restart_its_channel() {
    let mut p = Pair::e1();
    let (u, _n) = p.active_call();
    let ch = p.user.channel(u).unwrap();
    p.cut = true;
    p.user
        .disconnect(p.now, u, CauseValue::NormalCallClearing)
        .unwrap();
    p.advance(Duration::from_millis(100));
    assert_eq!(
        p.user.call_state(u),
        Some(CallStateValue::DisconnectRequest)
    );
    // The data link fails meanwhile (T200 × N200), which clears the call in clearing
    // states at once (§5.8.8); so keep layer 2 out of it with a long T200 instead.
    let mut q = Pair::new(|role| {
        let mut cfg = InterfaceConfig::euro_isdn_e1(role);
        cfg.link.t200 = Duration::from_secs(3600);
        cfg.link.t203 = Duration::from_secs(3600);
        cfg
    });
    let (u, _n) = q.active_call();
    let ch2 = q.user.channel(u).unwrap();
    q.cut = true;
    q.user
        .disconnect(q.now, u, CauseValue::NormalCallClearing)
        .unwrap();
    q.advance(Duration::from_secs(29));
    assert_eq!(
        q.user.call_state(u),
        Some(CallStateValue::DisconnectRequest)
    );
    q.advance(Duration::from_secs(2));
    assert_eq!(
        q.user.call_state(u),
        Some(CallStateValue::ReleaseRequest),
        "T305 → RELEASE"
    );
    q.advance(Duration::from_secs(4));
    assert_eq!(
        q.user.call_state(u),
        Some(CallStateValue::ReleaseRequest),
        "T308 → RELEASE again"
    );
    q.advance(Duration::from_secs(4));
    assert_eq!(released(&q.take_user()), Some(102));
    assert_eq!(q.user.channels().get(ch2), Some(ChannelState::Maintenance));
    // Back on the line: the RESTART of that channel is acknowledged, the channel is idle.
    q.cut = false;
    q.advance(Duration::from_secs(121));
    let ev = q.take_user();
    assert!(
        ev.contains(&Event::RestartComplete {
            channels: vec![ch2]
        }),
        "{ev:?}"
    );
    assert_eq!(q.user.channels().get(ch2), Some(ChannelState::Idle));
    let _ = ch;
}

#[test]
fn t309_keeps_an_active_call_across_a_short_link_outage() {
    let mut p = Pair::e1();
    let (u, n) = p.active_call();
    let (u2, n2) = p.user_calls(ChannelPref::Any);
    p.net.proceeding(p.now, n2).unwrap();
    p.run();
    p.take_user();
    p.cut = true;
    // T203 (10 s) then T200 × N200 (4 s): both sides see the link go.
    p.advance(Duration::from_secs(20));
    let ev = p.take_user();
    assert!(ev.contains(&Event::LinkDown), "{ev:?}");
    assert_eq!(p.user.stage(u2), None, "the call being set up is cleared");
    assert!(ev.contains(&Event::Released {
        call: u2,
        cause: Some(Cause::new(
            CauseValue::TemporaryFailure,
            q931::ie::Location::User
        ))
    }));
    assert_eq!(p.user.stage(u), Some(Stage::Active));
    p.cut = false;
    p.advance(Duration::from_secs(30));
    assert!(p.take_user().contains(&Event::LinkUp));
    assert_eq!(p.user.stage(u), Some(Stage::Active));
    assert_eq!(p.net.stage(n), Some(Stage::Active));
    // Well past T309: the call is still there.
    p.advance(Duration::from_secs(120));
    assert_eq!(p.user.stage(u), Some(Stage::Active));
    p.take_net();
    p.user
        .disconnect(p.now, u, CauseValue::NormalCallClearing)
        .unwrap();
    p.run();
    assert_eq!(released(&p.take_net()), Some(16));
}

#[test]
fn t309_expiry_clears_the_active_call_when_the_link_stays_down() {
    let mut p = Pair::e1();
    let (u, n) = p.active_call();
    p.cut = true;
    p.advance(Duration::from_secs(20));
    assert_eq!(p.user.stage(u), Some(Stage::Active));
    p.advance(Duration::from_secs(90));
    assert_eq!(released(&p.take_user()), Some(27));
    assert_eq!(released(&p.take_net()), Some(27));
    assert_eq!(p.net.stage(n), None);
}

#[test]
fn restart_of_a_channel_clears_its_call_on_both_sides() {
    let mut p = Pair::e1();
    let (u, n) = p.active_call();
    let ch = p.net.channel(n).unwrap();
    p.net.restart_channels(p.now, Some(vec![ch])).unwrap();
    assert_eq!(p.net.channels().get(ch), Some(ChannelState::Maintenance));
    p.run();
    let ev = p.take_user();
    assert!(
        ev.contains(&Event::RestartIndication { channels: vec![ch] }),
        "{ev:?}"
    );
    assert_eq!(released(&ev), Some(41));
    assert_eq!(p.user.stage(u), None);
    assert!(p
        .take_net()
        .contains(&Event::RestartComplete { channels: vec![ch] }));
    assert_eq!(p.net.channels().get(ch), Some(ChannelState::Idle));
    // The whole interface.
    p.user.restart_channels(p.now, None).unwrap();
    p.run();
    let ev = p.take_net();
    assert!(matches!(&ev[0], Event::RestartIndication { channels } if channels.len() == 30));
    assert!(
        matches!(&p.take_user()[0], Event::RestartComplete { channels } if channels.len() == 30)
    );
}

#[test]
fn t316_retransmits_restart_then_reports_failure() {
    let mut p = Pair::new(|role| {
        let mut cfg = InterfaceConfig::euro_isdn_e1(role);
        cfg.link.t200 = Duration::from_secs(3600);
        cfg.link.t203 = Duration::from_secs(3600);
        cfg
    });
    p.cut = true;
    p.user.restart_channels(p.now, Some(vec![3, 4])).unwrap();
    assert_eq!(
        p.user.restart_channels(p.now, None),
        Err(q931::call::CallError::RestartPending)
    );
    // §5.5.1: two attempts (N316 = 2), T316 = 120 s each.
    p.advance(Duration::from_secs(239));
    assert!(p.take_user().is_empty());
    p.advance(Duration::from_secs(2));
    assert_eq!(
        p.take_user(),
        vec![Event::RestartFailed {
            channels: vec![3, 4]
        }]
    );
    // Out of service until maintenance restarts them.
    assert_eq!(p.user.channels().get(3), Some(ChannelState::OutOfService));
    p.cut = false;
    p.user.restart_channels(p.now, Some(vec![3, 4])).unwrap();
    p.advance(Duration::from_secs(1));
    assert!(p.take_user().contains(&Event::RestartComplete {
        channels: vec![3, 4]
    }));
    assert_eq!(p.user.channels().get(3), Some(ChannelState::Idle));
}

#[test]
fn t316_sends_restart_n316_times_on_the_wire() {
    let mut r = Raw::new();
    r.ours.restart_channels(r.now, Some(vec![7])).unwrap();
    let restarts = |got: &[Message]| {
        got.iter()
            .filter(|m| m.message_type == MessageType::Restart)
            .count()
    };
    assert_eq!(restarts(&r.exchange()), 1);
    assert_eq!(restarts(&r.advance(Duration::from_secs(119))), 0);
    assert_eq!(
        restarts(&r.advance(Duration::from_secs(2))),
        1,
        "T316 expiry"
    );
    assert_eq!(restarts(&r.advance(Duration::from_secs(300))), 0);
    assert!(r
        .events
        .contains(&Event::RestartFailed { channels: vec![7] }));
}

/// A pair whose user side lets the layer above confirm the clearing after a RESTART.
fn confirming_pair() -> Pair {
    Pair::new(|role| {
        let mut cfg = InterfaceConfig::euro_isdn_e1(role);
        cfg.restart_confirm = role == Role::User;
        cfg
    })
}

#[test]
fn t317_restart_acknowledged_once_the_layer_above_has_cleared() {
    let mut p = confirming_pair();
    let (u, n) = p.active_call();
    let ch = p.net.channel(n).unwrap();
    p.net.restart_channels(p.now, Some(vec![ch])).unwrap();
    p.run();
    let ev = p.take_user();
    assert!(ev.contains(&Event::RestartIndication { channels: vec![ch] }));
    // The call reference went to Null at once (§5.5.2), the channel waits.
    assert_eq!(released(&ev), Some(41));
    assert_eq!(p.user.stage(u), None);
    assert_eq!(p.user.channels().get(ch), Some(ChannelState::Maintenance));
    assert_eq!(p.user.restart_pending_channels(), &[ch]);
    assert_eq!(released(&p.take_net()), Some(41));
    // No acknowledgement before the layer above is done.
    p.advance(Duration::from_secs(10));
    assert!(p.take_net().is_empty());
    p.user.restart_done(p.now, &[ch]).unwrap();
    p.run();
    assert_eq!(
        p.take_net(),
        vec![Event::RestartComplete { channels: vec![ch] }]
    );
    assert_eq!(p.user.channels().get(ch), Some(ChannelState::Idle));
    assert_eq!(p.net.channels().get(ch), Some(ChannelState::Idle));
    // Nothing is being restarted any more.
    assert_eq!(
        p.user.restart_done(p.now, &[ch]),
        Err(q931::call::CallError::NoRestartInProgress)
    );
    // Well past T317: no maintenance indication.
    p.advance(Duration::from_secs(120));
    assert!(p.take_user().is_empty());
}

#[test]
fn t317_expiry_informs_maintenance_and_acknowledges_the_idle_part() {
    let mut p = confirming_pair();
    p.net.restart_channels(p.now, None).unwrap();
    p.run();
    assert!(matches!(&p.take_user()[..],
        [Event::RestartIndication { channels }] if channels.len() == 30));
    p.user.restart_done(p.now, &[1, 2]).unwrap();
    assert_eq!(p.user.channels().get(1), Some(ChannelState::Idle));
    assert_eq!(p.user.channels().get(3), Some(ChannelState::Maintenance));
    p.advance(Duration::from_secs(89));
    assert!(p.take_user().is_empty());
    p.advance(Duration::from_secs(2));
    let ev = p.take_user();
    let rest: Vec<u8> = (3..=31).filter(|&c| c != 16).collect();
    assert_eq!(
        ev,
        vec![Event::RestartClearingExpired {
            channels: rest.clone()
        }]
    );
    assert_eq!(p.user.channels().get(3), Some(ChannelState::Maintenance));
    // The acknowledgement named channels 1 and 2 only (note to §5.5.2): our network side,
    // which restarted the whole interface, discards it and repeats the RESTART at T316.
    let ev = p.take_net();
    assert!(ev.is_empty(), "{ev:?}");
    p.advance(Duration::from_secs(30));
    let ev = p.take_user();
    assert!(matches!(&ev[..], [Event::RestartIndication { channels }] if channels.len() == 30));
    let all: Vec<u8> = p.user.channels().numbers();
    p.user.restart_done(p.now, &all).unwrap();
    p.run();
    assert!(
        matches!(&p.take_net()[..], [Event::RestartComplete { channels }] if channels.len() == 30)
    );
    assert_eq!(p.user.channels().idle_count(), 30);
    assert_eq!(p.net.channels().idle_count(), 30);
}

#[test]
fn channel_selection_exclusive_taken_is_44_preferred_moves_and_none_free_is_34() {
    let mut p = Pair::e1();
    let n = p
        .net
        .setup(p.now, request("2000", ChannelPref::Exclusive(7), true))
        .unwrap();
    p.run();
    let _ = incoming(&p.take_user());
    assert_eq!(p.net.channel(n), Some(7));
    // The user asks for 7 exclusively while the network holds it: cause 44.
    let u = p
        .user
        .setup(p.now, request("1", ChannelPref::Exclusive(8), true))
        .unwrap();
    p.user
        .disconnect(p.now, u, CauseValue::NormalCallClearing)
        .ok();
    p.run();
    p.take_user();
    p.take_net();
    // Our own table refuses 7 locally; ask the network through a preferred/exclusive SETUP
    // for a channel the network holds but we believe free (the network's call is on 7,
    // so take 9 on the network side behind the user's back).
    let n9 = p
        .net
        .setup(p.now, request("2001", ChannelPref::Exclusive(9), true))
        .unwrap();
    // Not delivered yet: the SETUP is queued; the user's SETUP crosses it.
    let u9 = p
        .user
        .setup(p.now, request("1", ChannelPref::Exclusive(9), true))
        .unwrap();
    p.run();
    assert_eq!(
        released(&p.take_user()),
        Some(44),
        "exclusive channel taken"
    );
    assert_eq!(p.net.channel(n9), Some(9));
    assert_eq!(p.user.stage(u9), None);
    let u9b = p
        .user
        .setup(p.now, request("1", ChannelPref::Preferred(7), true))
        .unwrap();
    p.run();
    let ev = p.take_net();
    let n9b = incoming(&ev);
    let ch = p.net.channel(n9b).unwrap();
    assert!(ch != 7 && ch != 9, "another channel: {ch}");
    p.net.proceeding(p.now, n9b).unwrap();
    p.run();
    assert_eq!(p.user.channel(u9b), Some(ch));
    // Fill the span from the network side until no channel is left.
    let mut placed = 0;
    while p
        .net
        .setup(p.now, request("3", ChannelPref::Any, true))
        .is_ok()
    {
        placed += 1;
    }
    assert_eq!(placed, 27);
    assert_eq!(
        p.net.setup(p.now, request("3", ChannelPref::Any, true)),
        Err(q931::call::CallError::NoChannel(
            CauseValue::NoCircuitAvailable
        ))
    );
    p.run();
    p.take_user();
    let u_any = p
        .user
        .setup(p.now, request("1", ChannelPref::Any, true))
        .unwrap();
    p.run();
    assert_eq!(released(&p.take_user()), Some(34));
    assert_eq!(p.user.stage(u_any), None);
}

#[test]
fn glare_on_a_preferred_channel_the_network_wins_and_the_user_call_moves() {
    let mut p = Pair::e1();
    let u = p
        .user
        .setup(p.now, request("1", ChannelPref::Preferred(10), true))
        .unwrap();
    let n = p
        .net
        .setup(p.now, request("2", ChannelPref::Exclusive(10), true))
        .unwrap();
    p.run();
    let uin = incoming(&p.take_user());
    assert_eq!(p.user.channel(uin), Some(10));
    let nin = incoming(&p.take_net());
    let moved = p.net.channel(nin).unwrap();
    assert_ne!(moved, 10);
    p.net.proceeding(p.now, nin).unwrap();
    p.run();
    assert_eq!(p.user.channel(u), Some(moved));
    assert_eq!(p.net.channel(n), Some(10));
}

#[test]
fn ni2_service_takes_a_channel_out_of_service_and_back() {
    let mut p = Pair::new(InterfaceConfig::ni2_t1);
    assert_eq!(p.user.channels().idle_count(), 23);
    p.net
        .service(p.now, &[3], ServiceStatus::OutOfService)
        .unwrap();
    p.run();
    assert!(matches!(&p.take_user()[0], Event::ServiceChange { channels, .. } if channels == &[3]));
    assert!(
        matches!(&p.take_net()[0], Event::ServiceAcknowledged { channels, .. } if channels == &[3])
    );
    assert_eq!(p.user.channels().get(3), Some(ChannelState::OutOfService));
    assert_eq!(p.net.channels().get(3), Some(ChannelState::OutOfService));
    p.net
        .service(p.now, &[3], ServiceStatus::InService)
        .unwrap();
    p.run();
    assert_eq!(p.user.channels().get(3), Some(ChannelState::Idle));
    // An NI-2 call on the T1.
    let (u, _n) = p.active_call();
    assert!(p.user.channel(u).is_some_and(|c| (1..=23).contains(&c)));
}

#[test]
fn progress_with_inband_information_is_reported() {
    let mut p = Pair::e1();
    let (u, n) = p.user_calls(ChannelPref::Any);
    p.net.proceeding(p.now, n).unwrap();
    p.net
        .progress(p.now, n, ProgressDescription::InbandAvailable)
        .unwrap();
    p.run();
    assert!(p.take_user().contains(&Event::Progress {
        call: u,
        description: ProgressDescription::InbandAvailable,
        inband: true
    }));
}

// ---- §5.8 against a hand-driven peer ------------------------------------------------

/// Our user-side interface against a bare network-side data link whose messages the test
/// writes by hand.
struct Raw {
    ours: Interface,
    peer: Link,
    now: Instant,
    events: Vec<Event>,
}

impl Raw {
    fn new() -> Raw {
        let now = Instant::now();
        let mut r = Raw {
            ours: Interface::new(InterfaceConfig::euro_isdn_e1(Role::User)),
            peer: Link::new(LinkConfig::pri(Role::Network)),
            now,
            events: Vec::new(),
        };
        r.ours.start(now);
        r.exchange();
        r
    }

    /// Shuttles frames; returns the messages the peer received.
    fn exchange(&mut self) -> Vec<Message> {
        let mut got = Vec::new();
        loop {
            let mut moved = false;
            while let Some(f) = self.ours.poll_transmit() {
                moved = true;
                self.peer.handle_frame(self.now, &f);
            }
            while let Some(f) = self.peer.poll_transmit() {
                moved = true;
                self.ours.handle_frame(self.now, &f);
            }
            while let Some(e) = self.peer.poll_event() {
                if let LinkEvent::Data(b) = e {
                    got.push(Message::decode(&b).unwrap());
                }
            }
            if !moved {
                break;
            }
        }
        while let Some(e) = self.ours.poll_event() {
            self.events.push(e);
        }
        got
    }

    fn send(&mut self, msg: &Message) -> Vec<Message> {
        self.peer
            .send_i(self.now, &msg.to_bytes().unwrap())
            .unwrap();
        self.exchange()
    }

    fn send_bytes(&mut self, bytes: &[u8]) -> Vec<Message> {
        self.peer.send_i(self.now, bytes).unwrap();
        self.exchange()
    }

    /// Advances virtual time by `d`, running both ends' timers; the messages the peer got.
    fn advance(&mut self, d: Duration) -> Vec<Message> {
        let end = self.now + d;
        let mut got = Vec::new();
        loop {
            let next = [self.ours.poll_timeout(), self.peer.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.ours.handle_timeout(self.now);
                    self.peer.handle_timeout(self.now);
                    got.extend(self.exchange());
                }
                _ => break,
            }
        }
        self.now = end;
        got.extend(self.exchange());
        got
    }
}

fn cause_of(m: &Message) -> u8 {
    m.cause().map_or(0, |c| c.value.value())
}

fn net_cause(v: CauseValue) -> Cause {
    Cause::new(v, q931::ie::Location::PublicLocal)
}

#[test]
fn unknown_call_reference_gets_release_complete_81_and_status_enquiry_gets_null() {
    let mut r = Raw::new();
    let cr = CallRef::two_octet(0x55, CallRefFlag::FromOriginator);
    let got = r.send(&Message::connect(cr));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_type, MessageType::ReleaseComplete);
    assert_eq!(got[0].call_ref, cr.reply());
    assert_eq!(cause_of(&got[0]), 81);
    let got = r.send(&Message::release(
        cr,
        Some(net_cause(CauseValue::NormalCallClearing)),
    ));
    assert_eq!(
        (got[0].message_type, cause_of(&got[0])),
        (MessageType::ReleaseComplete, 81)
    );
    assert!(r.send(&Message::release_complete(cr, None)).is_empty());
    let got = r.send(&Message::status_enquiry(cr));
    assert_eq!(got[0].message_type, MessageType::Status);
    assert_eq!(cause_of(&got[0]), 30);
    assert_eq!(got[0].call_state().unwrap().value, CallStateValue::Null);
}

#[test]
fn setup_without_bearer_capability_is_refused_with_cause_96() {
    let mut r = Raw::new();
    r.events.clear();
    // SETUP, cr 0x0001, channel 1 exclusive, no bearer capability.
    let got = r.send_bytes(&[0x08, 0x02, 0x00, 0x01, 0x05, 0x18, 0x03, 0xA9, 0x83, 0x81]);
    assert_eq!(got[0].message_type, MessageType::ReleaseComplete);
    assert_eq!(cause_of(&got[0]), 96);
    assert_eq!(got[0].cause().unwrap().diagnostics, vec![0x04]);
    assert!(r.events.is_empty());
}

/// An incoming call on channel 1, answered (active) by our user side.
fn raw_active(r: &mut Raw) -> (CallRef, CallHandle) {
    let cr = CallRef::two_octet(0x101, CallRefFlag::FromOriginator);
    let setup = Message::setup(cr, BearerCapability::speech(Layer1Protocol::G711ALaw))
        .with(q931::ie::ChannelId::primary(1, true));
    r.send(&setup);
    let h = incoming(&r.events);
    r.events.clear();
    r.ours.connect(r.now, h).unwrap();
    let got = r.exchange();
    assert_eq!(got[0].message_type, MessageType::Connect);
    assert_eq!(got[0].channel_id().unwrap().channel_number(), Some(1));
    r.send(&Message::connect_acknowledge(cr));
    assert_eq!(r.ours.stage(h), Some(Stage::Active));
    r.events.clear();
    (cr, h)
}

#[test]
fn a_full_i_queue_refuses_messages_and_the_timers_still_end_the_call() {
    let mut r = Raw::new();
    let (cr, h) = raw_active(&mut r);
    // The peer stays busy (Q.921 §5.6.5), answering each of our polls RNR F=1, while it
    // sends STATUS ENQUIRY after STATUS ENQUIRY: each STATUS (§5.8.10) can only queue.
    r.peer.set_receiver_busy(r.now, true);
    r.exchange();
    for _ in 0..4 {
        for _ in 0..I_QUEUE_LIMIT / 3 {
            assert!(r.send(&Message::status_enquiry(cr)).is_empty());
        }
        r.advance(Duration::from_millis(1500));
        assert!(r.ours.link().queued() <= I_QUEUE_LIMIT);
    }
    assert_eq!(r.ours.link().queued(), I_QUEUE_LIMIT);
    assert!(r.ours.link().peer_busy() && r.ours.is_link_up());
    // DISCONNECT, then RELEASE twice, are refused by the data link (and logged); T305 and
    // T308 twice end the call all the same, its channel waiting in maintenance (§5.3.4.3).
    r.ours
        .disconnect(r.now, h, CauseValue::NormalCallClearing)
        .unwrap();
    assert!(r.advance(Duration::from_secs(39)).is_empty());
    assert_eq!(r.ours.stage(h), None);
    assert_eq!(released(&r.events), Some(102));
    assert_eq!(r.ours.channels().get(1), Some(ChannelState::Maintenance));
    assert_eq!(r.ours.link().queued(), I_QUEUE_LIMIT);
    assert!(r.ours.is_link_up());
    // The peer is ready again: the STATUS messages accepted go out, and the RESTART the
    // data link refused follows at T316 (§5.5.1); its acknowledgement frees the channel.
    r.peer.set_receiver_busy(r.now, false);
    let got = r.exchange();
    assert_eq!(got.len(), I_QUEUE_LIMIT);
    assert!(got.iter().all(|m| m.message_type == MessageType::Status));
    let got = r.advance(Duration::from_secs(121));
    let restart = got
        .iter()
        .find(|m| m.message_type == MessageType::Restart)
        .unwrap_or_else(|| panic!("no RESTART in {got:?}"));
    r.send(&Message::restart_acknowledge(
        restart.call_ref.reply(),
        *restart.restart_indicator().unwrap(),
        restart.channel_id().cloned(),
    ));
    assert!(r
        .events
        .contains(&Event::RestartComplete { channels: vec![1] }));
    assert_eq!(r.ours.channels().get(1), Some(ChannelState::Idle));
}

#[test]
fn unexpected_unknown_and_status_messages_on_an_active_call() {
    let mut r = Raw::new();
    let (cr, h) = raw_active(&mut r);
    // §5.8.4: ALERTING in the Active state: STATUS, cause 101, state 10.
    let got = r.send(&Message::alerting(cr));
    assert_eq!(got[0].message_type, MessageType::Status);
    assert_eq!(cause_of(&got[0]), 101);
    assert_eq!(got[0].cause().unwrap().diagnostics, vec![0x01]);
    assert_eq!(got[0].call_state().unwrap().value, CallStateValue::Active);
    // Unknown message type 0x33: STATUS cause 97.
    let got = r.send_bytes(&[0x08, 0x02, 0x00, 0x01 | 0x01, 0x33]);
    let _ = got;
    let got = r.send_bytes(&[0x08, 0x02, 0x01, 0x01, 0x33]);
    assert_eq!(
        (got[0].message_type, cause_of(&got[0])),
        (MessageType::Status, 97)
    );
    // STATUS ENQUIRY: STATUS cause 30, Active.
    let got = r.send(&Message::status_enquiry(cr));
    assert_eq!(cause_of(&got[0]), 30);
    assert_eq!(got[0].call_state().unwrap().value, CallStateValue::Active);
    // A compatible STATUS changes nothing; an incompatible one clears with RELEASE 101.
    assert!(r
        .send(&Message::status(
            cr,
            net_cause(CauseValue::ResponseToStatusEnquiry),
            q931::ie::CallState::new(CallStateValue::Active)
        ))
        .is_empty());
    let got = r.send(&Message::status(
        cr,
        net_cause(CauseValue::ResponseToStatusEnquiry),
        q931::ie::CallState::new(CallStateValue::OverlapReceiving),
    ));
    assert_eq!(
        (got[0].message_type, cause_of(&got[0])),
        (MessageType::Release, 101)
    );
    r.send(&Message::release_complete(cr, None));
    assert_eq!(r.ours.stage(h), None);
}

#[test]
fn status_reporting_null_releases_the_call_and_disconnect_without_cause_is_cleared_as_31() {
    let mut r = Raw::new();
    let (cr, h) = raw_active(&mut r);
    assert!(r
        .send(&Message::status(
            cr,
            net_cause(CauseValue::TemporaryFailure),
            q931::ie::CallState::new(CallStateValue::Null)
        ))
        .is_empty());
    assert_eq!(r.ours.stage(h), None);
    assert_eq!(released(&r.events), Some(41));
    r.events.clear();
    let (cr, h) = raw_active(&mut r);
    // DISCONNECT with its mandatory cause missing: RELEASE carrying cause 96.
    let got = r.send(&Message::new(cr, MessageType::Disconnect));
    assert_eq!(
        (got[0].message_type, cause_of(&got[0])),
        (MessageType::Release, 96)
    );
    assert!(
        matches!(&r.events[0], Event::Disconnecting { cause, .. } if cause.value.value() == 31)
    );
    r.send(&Message::release_complete(cr, None));
    assert_eq!(r.ours.stage(h), None);
}

fn types(got: &[Message]) -> Vec<MessageType> {
    got.iter().map(|m| m.message_type).collect()
}

#[test]
fn t322_repeats_status_enquiry_then_clears_the_call() {
    let mut r = Raw::new();
    let (cr, h) = raw_active(&mut r);
    r.ours.status_enquiry(r.now, h).unwrap();
    let got = r.exchange();
    assert_eq!(types(&got), vec![MessageType::StatusEnquiry]);
    assert_eq!(got[0].call_ref, cr.reply());
    // One enquiry at a time (§5.8.10): a second request sends nothing.
    r.ours.status_enquiry(r.now, h).unwrap();
    assert!(r.exchange().is_empty());
    // No answer: repeated at each T322 expiry (4 s), N322 = 3 in all, then RELEASE 41.
    let got = r.advance(Duration::from_millis(3_900));
    assert!(got.is_empty());
    assert_eq!(
        types(&r.advance(Duration::from_millis(200))),
        vec![MessageType::StatusEnquiry]
    );
    assert_eq!(
        types(&r.advance(Duration::from_secs(4))),
        vec![MessageType::StatusEnquiry]
    );
    let got = r.advance(Duration::from_secs(4));
    assert_eq!(
        (types(&got), cause_of(&got[0])),
        (vec![MessageType::Release], 41)
    );
    assert_eq!(r.ours.stage(h), Some(Stage::ReleaseSent));
    r.send(&Message::release_complete(cr, None));
    assert_eq!(r.ours.stage(h), None);
    assert_eq!(released(&r.events), Some(41));
}

#[test]
fn t322_stopped_by_status_30_and_by_a_clearing_message() {
    let mut r = Raw::new();
    let (cr, h) = raw_active(&mut r);
    r.ours.status_enquiry(r.now, h).unwrap();
    r.exchange();
    // STATUS, cause 30, a compatible state: T322 stops, the call goes on.
    let status = |v: CauseValue, s: CallStateValue| {
        Message::status(cr, net_cause(v), q931::ie::CallState::new(s))
    };
    assert!(r
        .send(&status(
            CauseValue::ResponseToStatusEnquiry,
            CallStateValue::Active
        ))
        .is_empty());
    assert!(r.advance(Duration::from_secs(20)).is_empty());
    assert_eq!(r.ours.stage(h), Some(Stage::Active));
    // An enquiry answered by DISCONNECT: T322 stops, clearing goes on.
    r.ours.status_enquiry(r.now, h).unwrap();
    r.exchange();
    let got = r.send(&Message::disconnect(
        cr,
        net_cause(CauseValue::NormalCallClearing),
    ));
    assert_eq!(types(&got), vec![MessageType::Release]);
    assert!(r.advance(Duration::from_secs(2)).is_empty());
    r.send(&Message::release_complete(cr, None));
    assert_eq!(released(&r.events), Some(16));
    assert!(r.advance(Duration::from_secs(20)).is_empty());
}

#[test]
fn t322_acts_at_expiry_on_a_status_with_cause_97() {
    let mut r = Raw::new();
    let (cr, h) = raw_active(&mut r);
    r.ours.status_enquiry(r.now, h).unwrap();
    r.exchange();
    // §5.8.10: cause 97 keeps T322 running; its state (incompatible here) is acted on at
    // expiry: RELEASE 101.
    let got = r.send(&Message::status(
        cr,
        net_cause(CauseValue::MessageTypeNonExistent),
        q931::ie::CallState::new(CallStateValue::OverlapReceiving),
    ));
    assert!(got.is_empty());
    assert_eq!(r.ours.stage(h), Some(Stage::Active));
    let got = r.advance(Duration::from_secs(5));
    assert_eq!(
        (types(&got), cause_of(&got[0])),
        (vec![MessageType::Release], 101)
    );
}

#[test]
fn status_null_in_answer_to_an_enquiry_releases_with_41() {
    let mut r = Raw::new();
    let (cr, h) = raw_active(&mut r);
    r.ours.status_enquiry(r.now, h).unwrap();
    r.exchange();
    assert!(r
        .send(&Message::status(
            cr,
            net_cause(CauseValue::ResponseToStatusEnquiry),
            q931::ie::CallState::new(CallStateValue::Null)
        ))
        .is_empty());
    assert_eq!(r.ours.stage(h), None);
    assert_eq!(released(&r.events), Some(41));
}

#[test]
fn restart_of_an_unknown_channel_gets_status_82() {
    let mut r = Raw::new();
    let cr = CallRef::global(2, CallRefFlag::FromOriginator);
    let got = r.send(&Message::restart(
        cr,
        q931::ie::RestartIndicator::new(q931::ie::RestartClass::IndicatedChannels),
        Some(q931::ie::ChannelId::primary(16, true)),
    ));
    assert_eq!(
        (got[0].message_type, cause_of(&got[0])),
        (MessageType::Status, 82)
    );
    let got = r.send(&Message::restart(
        cr,
        q931::ie::RestartIndicator::new(q931::ie::RestartClass::IndicatedChannels),
        Some(q931::ie::ChannelId::primary(17, true)),
    ));
    assert_eq!(got[0].message_type, MessageType::RestartAcknowledge);
    assert_eq!(got[0].call_ref, cr.reply());
    assert_eq!(got[0].channel_id().unwrap().channel_number(), Some(17));
}

#[test]
fn t313_expiry_clears_an_answer_never_acknowledged() {
    let mut r = Raw::new();
    let cr = CallRef::two_octet(0x77, CallRefFlag::FromOriginator);
    r.send(
        &Message::setup(cr, BearerCapability::speech(Layer1Protocol::G711ALaw))
            .with(q931::ie::ChannelId::primary(2, true)),
    );
    let h = incoming(&r.events);
    r.ours.connect(r.now, h).unwrap();
    r.exchange();
    r.now += Duration::from_secs(4);
    r.ours.handle_timeout(r.now);
    let got = r.exchange();
    assert_eq!(
        (got[0].message_type, cause_of(&got[0])),
        (MessageType::Disconnect, 102)
    );
}

/// xorshift64*: a small deterministic generator for the robustness test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn random_and_mutated_messages_never_panic_and_keep_the_channel_table_consistent() {
    let real: Vec<Vec<u8>> = {
        let cr = CallRef::two_octet(0x101, CallRefFlag::FromOriginator);
        let bc = BearerCapability::speech(Layer1Protocol::G711ALaw);
        vec![
            Message::setup(cr, bc.clone())
                .with(q931::ie::ChannelId::primary(1, true))
                .with(CalledPartyNumber::new(
                    TypeOfNumber::National,
                    NumberingPlan::Isdn,
                    "123",
                ))
                .to_bytes()
                .unwrap(),
            Message::setup_acknowledge(cr, Some(q931::ie::ChannelId::primary(2, false)))
                .to_bytes()
                .unwrap(),
            Message::call_proceeding(cr, Some(q931::ie::ChannelId::primary(3, true)))
                .to_bytes()
                .unwrap(),
            Message::alerting(cr).to_bytes().unwrap(),
            Message::connect(cr).to_bytes().unwrap(),
            Message::connect_acknowledge(cr).to_bytes().unwrap(),
            Message::disconnect(cr, net_cause(CauseValue::UserBusy))
                .to_bytes()
                .unwrap(),
            Message::release(cr, None).to_bytes().unwrap(),
            Message::release_complete(cr, None).to_bytes().unwrap(),
            Message::status_enquiry(cr).to_bytes().unwrap(),
            Message::status(
                cr,
                net_cause(CauseValue::ResponseToStatusEnquiry),
                q931::ie::CallState::new(CallStateValue::Active),
            )
            .to_bytes()
            .unwrap(),
            Message::restart(
                CallRef::global(2, CallRefFlag::FromOriginator),
                q931::ie::RestartIndicator::new(q931::ie::RestartClass::IndicatedChannels),
                Some(q931::ie::ChannelId::primary_slot_map(
                    &[1, 2, 3],
                    q931::ie::SlotMapKind::E1,
                    true,
                )),
            )
            .to_bytes()
            .unwrap(),
        ]
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut r = Raw::new();
    // Some calls of our own in flight too.
    for _ in 0..3 {
        r.ours
            .setup(r.now, request("1", ChannelPref::Any, true))
            .unwrap();
    }
    r.exchange();
    for step in 0..20_000 {
        let mut m = real[rng.below(real.len() as u64) as usize].clone();
        match rng.below(4) {
            0 => {
                // Flip a few bits.
                for _ in 0..=rng.below(3) {
                    let i = rng.below(m.len() as u64) as usize;
                    m[i] ^= 1 << rng.below(8);
                }
            }
            1 => m.truncate(rng.below(m.len() as u64 + 1) as usize),
            2 => {
                // A random call reference value and flag (small values collide often).
                if m.len() > 4 && m[1] == 2 {
                    m[2] = (rng.below(2) as u8) << 7;
                    m[3] = rng.below(8) as u8;
                }
            }
            _ => {
                let extra = rng.below(12) as usize;
                m.extend((0..extra).map(|_| rng.next() as u8));
            }
        }
        r.peer.send_i(r.now, &m).unwrap();
        r.exchange();
        if step % 97 == 0 {
            r.now += Duration::from_secs(rng.below(200));
            r.ours.handle_timeout(r.now);
            r.peer.handle_timeout(r.now);
            r.exchange();
        }
        if step % 500 == 0 && r.ours.call_count() < 5 {
            let _ = r.ours.setup(r.now, request("2", ChannelPref::Any, true));
        }
        // Every busy channel belongs to a live call that holds it.
        for c in r.ours.channels().numbers() {
            if let Some(ChannelState::Busy(h)) = r.ours.channels().get(c) {
                assert_eq!(r.ours.channel(h), Some(c), "channel {c} held by {h:?}");
            }
        }
    }
}

#[test]
fn a_network_answer_on_another_channel_than_our_exclusive_one_is_refused_with_cause_6() {
    let mut r = Raw::new();
    let call = r
        .ours
        .setup(r.now, request("5551234", ChannelPref::Exclusive(5), true))
        .unwrap();
    let got = r.exchange();
    assert_eq!(got[0].message_type, MessageType::Setup);
    assert_eq!(got[0].channel_id().unwrap().channel_number(), Some(5));
    assert!(got[0].channel_id().unwrap().exclusive);
    let cr = got[0].call_ref.reply();
    let got = r.send(&Message::call_proceeding(
        cr,
        Some(q931::ie::ChannelId::primary(6, true)),
    ));
    assert_eq!(
        (got[0].message_type, cause_of(&got[0])),
        (MessageType::Release, 6)
    );
    assert!(r
        .ours
        .calls()
        .all(|(h, stage, _)| h != call || stage == Stage::ReleaseSent));
    r.send(&Message::release_complete(cr, None));
    assert_eq!(released(&r.events), Some(6));
    assert!(r.ours.channels().is_idle(5) && r.ours.channels().is_idle(6));
}

#[test]
fn channels_left_in_maintenance_during_a_restart_are_restarted_next() {
    let mut p = Pair::new(|role| {
        let mut cfg = InterfaceConfig::euro_isdn_e1(role);
        // Long enough to outlast the outage, short enough to recover the window after it.
        cfg.link.t200 = Duration::from_secs(45);
        cfg.link.t203 = Duration::from_secs(3600);
        cfg
    });
    let (a, _) = p.active_call();
    let (b, _) = p.active_call();
    let (ca, cb) = (p.user.channel(a).unwrap(), p.user.channel(b).unwrap());
    p.cut = true;
    p.user
        .disconnect(p.now, a, CauseValue::NormalCallClearing)
        .unwrap();
    p.advance(Duration::from_secs(1));
    p.user
        .disconnect(p.now, b, CauseValue::NormalCallClearing)
        .unwrap();
    // T305 + T308 + T308 for each: both channels end in maintenance, one RESTART at a time.
    p.advance(Duration::from_secs(40));
    assert_eq!(p.user.channels().get(ca), Some(ChannelState::Maintenance));
    assert_eq!(p.user.channels().get(cb), Some(ChannelState::Maintenance));
    p.cut = false;
    p.advance(Duration::from_secs(250));
    let done: Vec<Vec<u8>> = p
        .take_user()
        .into_iter()
        .filter_map(|e| match e {
            Event::RestartComplete { channels } => Some(channels),
            _ => None,
        })
        .collect();
    assert_eq!(done, vec![vec![ca], vec![cb]]);
    assert!(p.user.channels().is_idle(ca) && p.user.channels().is_idle(cb));
}

#[test]
fn disconnect_with_inband_information_waits_for_the_user_to_release() {
    let mut r = Raw::new();
    let (cr, h) = raw_active(&mut r);
    // DISCONNECT with progress indicator 8: an announcement is playing in-band.
    let got = r.send(
        &Message::disconnect(cr, net_cause(CauseValue::UserBusy)).with(
            q931::ie::ProgressIndicator::new(
                q931::ie::Location::PublicLocal,
                ProgressDescription::InbandAvailable,
            ),
        ),
    );
    assert!(got.is_empty(), "no RELEASE yet: {got:?}");
    assert!(
        matches!(&r.events[0], Event::Disconnecting { inband: true, cause, .. } if cause.value.value() == 17)
    );
    assert_eq!(
        r.ours.call_state(h),
        Some(CallStateValue::DisconnectIndication)
    );
    r.ours
        .release(r.now, h, CauseValue::NormalCallClearing)
        .unwrap();
    let got = r.exchange();
    assert_eq!(got[0].message_type, MessageType::Release);
    r.send(&Message::release_complete(cr, None));
    assert_eq!(r.ours.stage(h), None);
    assert_eq!(released(&r.events), Some(17));
    // Without a progress indicator the RELEASE goes out at once.
    r.events.clear();
    let (cr, _h) = raw_active(&mut r);
    let got = r.send(&Message::disconnect(cr, net_cause(CauseValue::UserBusy)));
    assert_eq!(got[0].message_type, MessageType::Release);
}
