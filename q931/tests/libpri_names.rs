//! Party names against libpri (Debian `libpri-dev`): the caller's name in the SETUP's
//! Display element (Q.931 §4.5.16) as libpri sends and reads it. EuroISDN carries it from
//! the network side only (libpri as the network sends it; as the user it sends none);
//! NI-2 both ways, typed "calling party name" (0xB1).

mod libpri;

use std::time::Instant;

use libpri::{ffi, CallParams, PriEvent, Switch};
use q931::call::{name_of, ChannelPref, Event, InterfaceConfig, SetupRequest};
use q931::ie::{
    BearerCapability, CalledPartyNumber, CallingPartyNumber, InfoElement, Layer1Protocol,
    NumberingPlan, TypeOfNumber,
};
use q931::lapd::Role;

use libpri::call_harness::CallHarness as H;

/// libpri calls us from "3000" named `name`: the Display of our IncomingSetup.
fn pri_calls_named(h: &mut H, channel: i32, name: &str) -> Option<q931::ie::Display> {
    let call = h.pri.new_call().expect("pri_new_call");
    h.pri
        .call(
            call,
            &CallParams {
                channel,
                called: "2000",
                calling: "3000",
                called_plan: ffi::PRI_NATIONAL_ISDN,
                calling_plan: ffi::PRI_NATIONAL_ISDN,
                calling_name: name,
                ..CallParams::default()
            },
        )
        .unwrap();
    h.expect(|e| match e {
        Event::IncomingSetup { display, .. } => Some(display.clone()),
        _ => None,
    })
}

/// We call "4000" from "1000" named `name` (the Display our interface makes for it, if
/// its side and variant send one): the name libpri read from our SETUP.
fn we_call_named(h: &mut H, channel: u8, name: &str) -> String {
    let extra: Vec<InfoElement> = h
        .ours
        .name_display(name)
        .into_iter()
        .map(Into::into)
        .collect();
    h.ours
        .setup_with(
            Instant::now(),
            SetupRequest {
                called: Some(CalledPartyNumber::new(
                    TypeOfNumber::National,
                    NumberingPlan::Isdn,
                    "4000",
                )),
                calling: Some(CallingPartyNumber::new(
                    TypeOfNumber::National,
                    NumberingPlan::Isdn,
                    "1000",
                )),
                bearer: BearerCapability::speech(Layer1Protocol::G711ALaw),
                channel: ChannelPref::Exclusive(channel),
                sending_complete: true,
            },
            extra,
        )
        .unwrap();
    h.pri_expect(|e| match e {
        PriEvent::Ring(r) => Some(r.calling_name.clone()),
        _ => None,
    })
}

#[test]
fn euroisdn_libpri_network_sends_the_callers_name_and_we_read_it() {
    let mut h = H::new(
        InterfaceConfig::euro_isdn_e1(Role::User),
        Switch::EuroIsdnE1,
    );
    let d = pri_calls_named(&mut h, 5, "Bob Switch").expect("a Display in the SETUP");
    assert_eq!(name_of(&d).as_deref(), Some("Bob Switch"));
}

#[test]
fn euroisdn_our_network_side_sends_the_name_libpri_user_reads() {
    let mut h = H::new(
        InterfaceConfig::euro_isdn_e1(Role::Network),
        Switch::EuroIsdnE1,
    );
    assert_eq!(we_call_named(&mut h, 3, "Alice PBX"), "Alice PBX");
}

#[test]
fn euroisdn_our_user_side_sends_no_name() {
    let mut h = H::new(
        InterfaceConfig::euro_isdn_e1(Role::User),
        Switch::EuroIsdnE1,
    );
    assert_eq!(we_call_named(&mut h, 3, "Alice PBX"), "");
}

#[test]
fn ni2_names_cross_both_ways_with_libpri() {
    for role in [Role::User, Role::Network] {
        let mut h = H::new(InterfaceConfig::ni2_t1(role), Switch::Ni2);
        assert_eq!(
            we_call_named(&mut h, 3, "Alice PBX"),
            "Alice PBX",
            "{role:?}"
        );
        let d = pri_calls_named(&mut h, 20, "Bob Switch").expect("a Display in the SETUP");
        assert_eq!(name_of(&d).as_deref(), Some("Bob Switch"), "{role:?}");
    }
}
