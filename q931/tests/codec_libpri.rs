//! The codec against libpri (Debian `libpri-dev`), a Q.931 stack nobody here wrote: every
//! Q.931 message libpri sends decodes with no invalid element, passes the §5.8 checks, and
//! re-encodes byte for byte; every message our builders make is accepted by libpri with the
//! values we meant (numbers, channel, cause, progress). EuroISDN E1 and NI-2, both roles.
//!
//! Uses the libpri harness of tests/libpri (socket pair carrying LAPD frames with FCS).

mod libpri;

use std::time::{Duration, Instant};

use libpri::harness::Harness;
use libpri::{CallParams, Node, PriEvent, Switch};
use q931::ie::*;
use q931::lapd::{LinkConfig, LinkEvent, LinkState, Role};
use q931::message::{CallRef, CallRefFlag, Direction, Message, MessageType};
use q931::validate::{check, Handling};

fn up(h: &Harness) -> bool {
    h.link.state() == LinkState::MultipleFrameEstablished
        && h.pri_events().any(|e| *e == PriEvent::DchanUp)
}

fn connected(role: Role, switch: Switch) -> Harness {
    let node = match role {
        Role::User => Node::Network,
        Role::Network => Node::Cpe,
    };
    let mut h = Harness::new(LinkConfig::pri(role), node, switch);
    h.pri.hangup_fix_enable(true);
    h.link.establish(Instant::now());
    assert!(h.run_until(Duration::from_secs(5), up));
    h.new_pri_events();
    h.new_link_events();
    h
}

/// Waits for the next Q.931 message from libpri of `message_type`, decodes it with our
/// codec and checks it: no invalid element, §5.8 clean for `direction`, exact re-encoding.
fn expect(h: &mut Harness, message_type: MessageType, direction: Direction) -> Message {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        while let Some(e) = h.next_link_event() {
            if let LinkEvent::Data(bytes) = e {
                let m = Message::decode(&bytes)
                    .unwrap_or_else(|err| panic!("libpri message {bytes:02X?}: {err}"));
                assert_eq!(m.invalid_ies().count(), 0, "{m:#?}");
                let report = check(&m, direction);
                assert_eq!(
                    report.handling(Location::User),
                    Handling::Process,
                    "{:?} in {m:#?}",
                    report.problems
                );
                assert_eq!(m.to_bytes().unwrap(), bytes, "re-encoding of {m:#?}");
                if m.message_type == message_type {
                    return m;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no {message_type}: {:#?}",
            h.trace
        );
        h.step(Duration::from_millis(20));
    }
}

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

fn send(h: &mut Harness, m: &Message) {
    h.link
        .send_i(Instant::now(), &m.to_bytes().unwrap())
        .unwrap();
}

fn we_call_libpri_answers_we_clear(switch: Switch) {
    let mut h = connected(Role::User, switch);
    let law = match switch {
        Switch::EuroIsdnE1 => Layer1Protocol::G711ALaw,
        Switch::Ni2 | Switch::Lucent5e => Layer1Protocol::G711MuLaw,
    };
    let cr = CallRef::two_octet(0x0123, CallRefFlag::FromOriginator);
    let setup = Message::setup(cr, BearerCapability::speech(law))
        .with(ChannelId::primary(5, true))
        .with(
            CallingPartyNumber::new(TypeOfNumber::National, NumberingPlan::Isdn, "3012345")
                .with_presentation(Presentation::Allowed, Screening::UserProvidedNotScreened),
        )
        .with(CalledPartyNumber::new(
            TypeOfNumber::National,
            NumberingPlan::Isdn,
            "5551234",
        ))
        .with_sending_complete();
    send(&mut h, &setup);
    let ring = expect_pri(&mut h, |e| match e {
        PriEvent::Ring(r) => Some(r.clone()),
        _ => None,
    });
    assert_eq!(ring.called_number, "5551234");
    assert_eq!(ring.calling_number, "3012345");
    assert_eq!(ring.channel & 0xFF, 5);
    assert!(!ring.flexible);
    assert!(ring.complete);
    let call = ring.call.expect("call handle");
    h.pri.proceeding(call, ring.channel, false).unwrap();
    let m = expect(
        &mut h,
        MessageType::CallProceeding,
        Direction::NetworkToUser,
    );
    assert_eq!(m.call_ref, cr.reply());
    assert_eq!(m.channel_id().and_then(|c| c.channel_number()), Some(5));
    h.pri.alerting(call, ring.channel, true).unwrap();
    let m = expect(&mut h, MessageType::Alerting, Direction::NetworkToUser);
    assert!(
        m.progress_indicators().any(|p| p.description.is_inband()),
        "{m:#?}"
    );
    h.pri.answer(call, ring.channel).unwrap();
    expect(&mut h, MessageType::Connect, Direction::NetworkToUser);
    send(&mut h, &Message::connect_acknowledge(cr));
    // STATUS ENQUIRY in the active state: libpri answers STATUS, cause 30, state 10.
    send(&mut h, &Message::status_enquiry(cr));
    let st = expect(&mut h, MessageType::Status, Direction::NetworkToUser);
    assert_eq!(
        st.cause().unwrap().value,
        CauseValue::ResponseToStatusEnquiry
    );
    assert_eq!(st.call_state().unwrap().value, CallStateValue::Active);
    // We clear with cause 16; libpri hangs up with the same cause.
    send(
        &mut h,
        &Message::disconnect(
            cr,
            Cause::new(CauseValue::NormalCallClearing, Location::User),
        ),
    );
    let cause = expect_pri(&mut h, |e| match e {
        PriEvent::HangupReq(hg) => Some(hg.cause),
        _ => None,
    });
    assert_eq!(cause, 16);
    h.pri.hangup(call, cause).unwrap();
    expect(&mut h, MessageType::Release, Direction::NetworkToUser);
    send(&mut h, &Message::release_complete(cr, None));
    expect_pri(&mut h, |e| match e {
        PriEvent::Hangup(_) | PriEvent::HangupAck(_) => Some(()),
        _ => None,
    });
}

fn libpri_calls_we_answer_it_clears(switch: Switch) {
    let mut h = connected(Role::Network, switch);
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
    let setup = expect(&mut h, MessageType::Setup, Direction::UserToNetwork);
    assert_eq!(setup.called_party_number().unwrap().digits, "5551234");
    assert_eq!(setup.calling_party_number().unwrap().digits, "2000");
    assert_eq!(
        setup.bearer_capability().unwrap().capability,
        InfoTransferCapability::Speech
    );
    assert_eq!(setup.channel_id().and_then(|c| c.channel_number()), Some(3));
    assert_eq!(setup.call_ref.flag, CallRefFlag::FromOriginator);
    let r = setup.call_ref.reply();
    send(
        &mut h,
        &Message::call_proceeding(r, Some(ChannelId::primary(3, true))),
    );
    let p = expect_pri(&mut h, |e| match e {
        PriEvent::Proceeding(p) => Some(p.clone()),
        _ => None,
    });
    assert_eq!(p.channel & 0xFF, 3);
    send(
        &mut h,
        &Message::alerting(r).with(ProgressIndicator::new(
            Location::PublicLocal,
            ProgressDescription::InbandAvailable,
        )),
    );
    expect_pri(&mut h, |e| matches!(e, PriEvent::Ringing(_)).then_some(()));
    send(&mut h, &Message::connect(r));
    expect_pri(&mut h, |e| matches!(e, PriEvent::Answer(_)).then_some(()));
    expect(
        &mut h,
        MessageType::ConnectAcknowledge,
        Direction::UserToNetwork,
    );
    h.pri.hangup(call, 17).unwrap();
    let d = expect(&mut h, MessageType::Disconnect, Direction::UserToNetwork);
    assert_eq!(d.cause().unwrap().value, CauseValue::UserBusy);
    send(
        &mut h,
        &Message::release(
            r,
            Some(Cause::new(
                CauseValue::NormalCallClearing,
                Location::PublicLocal,
            )),
        ),
    );
    let hg = expect_pri(&mut h, |e| match e {
        PriEvent::Hangup(hg) => Some(hg.clone()),
        _ => None,
    });
    h.pri.hangup(call, hg.cause).unwrap();
    let rc = expect(
        &mut h,
        MessageType::ReleaseComplete,
        Direction::UserToNetwork,
    );
    assert_eq!(rc.call_ref, setup.call_ref);
}

fn libpri_restarts_a_channel(switch: Switch) {
    let mut h = connected(Role::User, switch);
    h.pri.reset(7).unwrap();
    let m = expect(&mut h, MessageType::Restart, Direction::NetworkToUser);
    assert!(m.call_ref.is_global());
    assert_eq!(
        m.restart_indicator().unwrap().class,
        RestartClass::IndicatedChannels
    );
    assert_eq!(m.channel_id().and_then(|c| c.channel_number()), Some(7));
    let ack = Message::restart_acknowledge(
        m.call_ref.reply(),
        *m.restart_indicator().unwrap(),
        m.channel_id().cloned(),
    );
    send(&mut h, &ack);
    let ch = expect_pri(&mut h, |e| match e {
        PriEvent::RestartAck { channel } => Some(*channel),
        _ => None,
    });
    assert_eq!(ch & 0xFF, 7);
}

#[test]
fn euroisdn_we_call_libpri_answers_we_clear() {
    we_call_libpri_answers_we_clear(Switch::EuroIsdnE1);
}

#[test]
fn ni2_we_call_libpri_answers_we_clear() {
    we_call_libpri_answers_we_clear(Switch::Ni2);
}

#[test]
fn euroisdn_libpri_calls_we_answer_it_clears() {
    libpri_calls_we_answer_it_clears(Switch::EuroIsdnE1);
}

#[test]
fn ni2_libpri_calls_we_answer_it_clears() {
    libpri_calls_we_answer_it_clears(Switch::Ni2);
}

#[test]
fn euroisdn_libpri_restart_decodes_and_our_ack_is_accepted() {
    libpri_restarts_a_channel(Switch::EuroIsdnE1);
}

#[test]
fn ni2_libpri_restart_decodes_and_our_ack_is_accepted() {
    libpri_restarts_a_channel(Switch::Ni2);
}
