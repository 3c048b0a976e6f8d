//! Party names against libpri (Debian `libpri-dev`): the caller's name in the SETUP as
//! libpri sends and reads it. EuroISDN carries it in a Display element (Q.931 §4.5.16)
//! from the network side only (libpri as the network sends it; as the user it sends none);
//! NI-2 both ways, in a Display typed "calling party name" (0xB1) and in a Facility
//! element's `callingName` invoke (GR-1367, ISO/IEC 13868), each read alone too; and the
//! NI-2 network's name delivery after the SETUP (`InformationFollowing`, then a FACILITY).

mod libpri;

use std::time::Instant;

use libpri::{ffi, CallParams, LibPri, PriEvent, Switch};
use q931::call::{ChannelPref, Event, InterfaceConfig, SetupRequest};
use q931::ie::{
    BearerCapability, CalledPartyNumber, CallingPartyNumber, InfoElement, Layer1Protocol,
    NumberingPlan, TypeOfNumber,
};
use q931::lapd::Role;
use q931::supplementary::name::{self, NameOperation, PartyName};
use q931::supplementary::rose::InvokeId;

use libpri::call_harness::CallHarness as H;

/// libpri calls us from "3000" named `name`: the caller's name of our IncomingSetup.
fn pri_calls_named(h: &mut H, channel: i32, name: &str) -> Option<String> {
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
        Event::IncomingSetup { name, .. } => Some(name.clone()),
        _ => None,
    })
}

/// We call "4000" from "1000" with `extra` elements in the SETUP: the name libpri read.
fn we_call_with(h: &mut H, channel: u8, extra: Vec<InfoElement>) -> String {
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

/// We call named `name` (the elements our interface makes for it, if its side and
/// variant send any): the name libpri read.
fn we_call_named(h: &mut H, channel: u8, name: &str) -> String {
    let extra = h.ours.name_ies(NameOperation::Calling, name);
    we_call_with(h, channel, extra)
}

#[test]
fn euroisdn_libpri_network_sends_the_callers_name_and_we_read_it() {
    let mut h = H::new(
        InterfaceConfig::euro_isdn_e1(Role::User),
        Switch::EuroIsdnE1,
    );
    assert_eq!(
        pri_calls_named(&mut h, 5, "Bob Switch").as_deref(),
        Some("Bob Switch")
    );
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
        assert_eq!(
            pri_calls_named(&mut h, 20, "Bob Switch").as_deref(),
            Some("Bob Switch"),
            "{role:?}"
        );
    }
}

#[test]
fn ni2_a_facility_calling_name_alone_is_read_both_ways() {
    // Ours, the user side, with only the Facility element: libpri reads its callingName.
    let mut h = H::new(InterfaceConfig::ni2_t1(Role::User), Switch::Ni2);
    let facility = name::ni2_facility(
        NameOperation::Calling,
        &PartyName::Allowed("Fac Only".into()),
        InvokeId(1),
    );
    assert_eq!(we_call_with(&mut h, 3, vec![facility.into()]), "Fac Only");
    // libpri as the user side sending the name in a Facility element only (no Display):
    // we read it from the callingName invoke.
    let mut h = H::configured(
        InterfaceConfig::ni2_t1(Role::Network),
        Switch::Ni2,
        |p: &mut LibPri| {
            p.facility_enable();
            p.display_send_block();
        },
    );
    assert_eq!(
        pri_calls_named(&mut h, 20, "Fac Caller").as_deref(),
        Some("Fac Caller")
    );
}

#[test]
fn ni2_libpri_network_names_the_caller_in_a_facility_after_the_setup() {
    // libpri as an NI-2 network with Facility on and no Display: its SETUP says
    // InformationFollowing, the name comes in a FACILITY.
    let mut h = H::configured(
        InterfaceConfig::ni2_t1(Role::User),
        Switch::Ni2,
        |p: &mut LibPri| {
            p.facility_enable();
            p.display_send_block();
        },
    );
    let call = h.pri.new_call().expect("pri_new_call");
    h.pri
        .call(
            call,
            &CallParams {
                channel: 20,
                called: "2000",
                calling: "3000",
                calling_name: "Later Name",
                ..CallParams::default()
            },
        )
        .unwrap();
    let (ours, name, follows) = h.expect(|e| match e {
        Event::IncomingSetup {
            call,
            name,
            name_follows,
            ..
        } => Some((*call, name.clone(), *name_follows)),
        _ => None,
    });
    assert_eq!((name, follows), (None, true));
    // libpri sends the FACILITY once the call is answered (CALL PROCEEDING here).
    h.ours.proceeding(Instant::now(), ours).unwrap();
    let named = h.expect(|e| match e {
        Event::CallingName { call, name } if *call == ours => Some(name.clone()),
        _ => None,
    });
    assert_eq!(named.as_deref(), Some("Later Name"));
}
