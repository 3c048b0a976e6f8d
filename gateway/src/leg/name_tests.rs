//! Party names: the ISDN Display element (Q.931 §4.5.16) ↔ the display-name of SIP From
//! and P-Asserted-Identity (RFC 3261 §20.20, RFC 3325 §9.1), for the caller (SETUP ↔
//! INVITE) and for who answered (CONNECT ↔ 200 OK), through the World of `tests.rs`.
//! EuroISDN lets only the network side send a Display; NI-2 both, typed "calling party
//! name" (0xB1).

use q931::ie::{Display, NumberingPlan, Presentation, Screening};

use super::*;

fn calling(restricted: bool) -> q931::ie::CallingPartyNumber {
    let mut c = q931::ie::CallingPartyNumber::new(QTon::National, NumberingPlan::Isdn, "301234");
    c.presentation = Some((
        if restricted {
            Presentation::Restricted
        } else {
            Presentation::Allowed
        },
        Screening::NetworkProvided,
    ));
    c
}

/// The switch calls 201 with a Display: the INVITE the PBX gets.
fn named_setup_from_switch(w: &mut World, name: &str, restricted: bool) -> SipMessage {
    w.switch
        .setup_with(
            w.now,
            switch_request("201", Some(calling(restricted))),
            vec![Display::new(name).into()],
        )
        .unwrap();
    w.run();
    pbx_invite(w)
}

/// The PBX calls 0301234567 from `from` with `headers`: the caller's name in the SETUP the
/// switch gets, if any.
fn named_invite_from_pbx(w: &mut World, from: &str, headers: &[(&str, &str)]) -> Option<String> {
    w.pbx.invite(
        w.now,
        OutgoingCall {
            request_uri: "sip:0301234567@192.0.2.1".into(),
            from: from.into(),
            to: "<sip:0301234567@192.0.2.1>".into(),
            target: Target {
                protocol: Protocol::Udp,
                addr: "192.0.2.1:5060".parse().unwrap(),
            },
            sdp: Some(bytes::Bytes::from_static(OFFER)),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        },
    );
    w.run();
    w.switch_events
        .iter()
        .find_map(|e| match e {
            Event::IncomingSetup { name, .. } => Some(name.clone()),
            _ => None,
        })
        .expect("the switch got a SETUP")
}

#[test]
fn the_switchs_display_is_the_callers_display_name_on_sip() {
    let mut w = World::with(&trusted(), RedirectHeaders::Diversion);
    let inv = named_setup_from_switch(&mut w, "Bob \"the\" Switch", false);
    let from = header(&inv, "From");
    assert!(
        from[0].starts_with(r#""Bob \"the\" Switch" <sip:"#),
        "quoted, with its quotes escaped (RFC 3261 §25.1): {from:?}"
    );
    let pai = header(&inv, "P-Asserted-Identity");
    assert!(
        pai.len() == 1 && pai[0].starts_with(r#""Bob \"the\" Switch" <sip:"#),
        "{pai:?}"
    );
    // Parsed back by our own SIP stack, the name is whole again.
    let parsed = inv.from().unwrap();
    assert_eq!(
        parsed.display_name().as_deref(),
        Some(r#"Bob "the" Switch"#)
    );
}

#[test]
fn a_restricted_callers_name_is_withheld_outside_the_trust_domain() {
    let mut w = World::new();
    let inv = named_setup_from_switch(&mut w, "Bob Switch", true);
    assert!(!String::from_utf8_lossy(inv.as_bytes()).contains("Bob"));
    assert!(header(&inv, "From")[0].contains("anonymous"));
}

#[test]
fn the_pbx_callers_name_goes_in_an_ni2_setup() {
    let mut w = World::with_interfaces(&trusted(), RedirectHeaders::Diversion, ni2);
    let d = named_invite_from_pbx(&mut w, "\"Alice PBX\" <sip:4930999@192.0.2.10>", &[]);
    assert_eq!(d.as_deref(), Some("Alice PBX"));
}

#[test]
fn a_euroisdn_user_side_sends_no_display() {
    // ETSI EN 300 403 / Q.931 Table 3-12: Display goes from the network to the user only.
    let mut w = World::with(&trusted(), RedirectHeaders::Diversion);
    let d = named_invite_from_pbx(&mut w, "\"Alice PBX\" <sip:4930999@192.0.2.10>", &[]);
    assert_eq!(d, None);
}

#[test]
fn the_asserted_identitys_name_wins_and_privacy_withholds_it() {
    let mut w = World::with_interfaces(&trusted(), RedirectHeaders::Diversion, ni2);
    let d = named_invite_from_pbx(
        &mut w,
        "\"Front desk\" <sip:4930999@192.0.2.10>",
        &[(
            "P-Asserted-Identity",
            "\"Alice Smith\" <sip:4930111@192.0.2.10>",
        )],
    );
    assert_eq!(d.as_deref(), Some("Alice Smith"));
    // An asserted identity without a name does not take From's unverified one.
    let mut w = World::with_interfaces(&trusted(), RedirectHeaders::Diversion, ni2);
    let d = named_invite_from_pbx(
        &mut w,
        "\"Claimed Name\" <sip:4930999@192.0.2.10>",
        &[("P-Asserted-Identity", "<sip:4930111@192.0.2.10>")],
    );
    assert_eq!(d, None);
    let mut w = World::with_interfaces(&trusted(), RedirectHeaders::Diversion, ni2);
    let d = named_invite_from_pbx(
        &mut w,
        "\"Alice Smith\" <sip:4930999@192.0.2.10>",
        &[("Privacy", "id")],
    );
    assert_eq!(d, None, "presentation restricted: no name to the switch");
}

#[test]
fn the_connects_display_is_the_name_in_the_200_oks_pai() {
    let mut w = World::with(&trusted(), RedirectHeaders::Diversion);
    w.pbx_call("0301234567");
    let (call, _, _) = w.switch_setup();
    let connected =
        q931::ie::ConnectedNumber::new(QTon::National, NumberingPlan::Isdn, "301234567")
            .with_presentation(Presentation::Allowed, Screening::NetworkProvided);
    w.switch
        .connect_with(
            w.now,
            call,
            vec![connected.into(), Display::new("Carol Callee").into()],
        )
        .unwrap();
    w.run();
    let ok = pbx_answered(&w);
    let pai = header(&ok, "P-Asserted-Identity");
    assert!(
        pai.len() == 1
            && pai[0].starts_with("\"Carol Callee\" <sip:")
            && pai[0].contains("301234567"),
        "{pai:?}"
    );
}

#[test]
fn the_200_oks_asserted_name_goes_in_an_ni2_connect() {
    let mut w = ni2_world();
    w.switch_calls("201", None);
    w.pbx_answers(&[(
        "P-Asserted-Identity",
        "\"Dave Desk\" <sip:205@192.0.2.10>".to_string(),
    )]);
    let d = w
        .switch_events
        .iter()
        .find_map(|e| match e {
            Event::ConnectedName { name, .. } => Some(name.clone()),
            _ => None,
        })
        .expect("CONNECT with a name");
    assert_eq!(d, "Dave Desk");
}

/// NI-2 with the test configuration's routes and one for 3XX from the switch.
fn ni2_world() -> World {
    let config = format!(
        "{}\n[[route]]\npattern = \"_3X.\"\nfrom = [\"pstn\"]\nto = [\"pbx\"]\n",
        trusted()
    );
    World::with_interfaces(&config, RedirectHeaders::Diversion, ni2)
}

/// The NI-2 switch calls 301, its SETUP saying the caller's name follows (GR-1367).
fn setup_with_name_to_follow(w: &mut World) -> q931::call::CallHandle {
    use q931::supplementary::{name, rose::InvokeId};
    let call = w
        .switch
        .setup_with(
            w.now,
            switch_request("301", Some(calling(false))),
            vec![name::information_following_facility(InvokeId(1)).into()],
        )
        .unwrap();
    w.run();
    call
}

fn pbx_invites(w: &World) -> usize {
    w.pbx_events
        .iter()
        .filter(|e| matches!(e, UaEvent::IncomingCall { .. }))
        .count()
}

#[test]
fn an_ni2_name_that_follows_the_setup_is_waited_for() {
    use q931::supplementary::name::{NameOperation, PartyName};
    let mut w = ni2_world();
    let call = setup_with_name_to_follow(&mut w);
    // Answered at once (the network sends the name then), the INVITE held.
    assert!(
        w.switch_events
            .iter()
            .any(|e| matches!(e, Event::Proceeding { .. })),
        "{:?}",
        w.switch_events
    );
    assert_eq!(pbx_invites(&w), 0);
    w.switch
        .send_name(
            w.now,
            call,
            NameOperation::Calling,
            &PartyName::Allowed("Nia Later".into()),
        )
        .unwrap();
    w.run();
    let inv = pbx_invite(&w);
    assert!(
        header(&inv, "From")[0].starts_with("\"Nia Later\" <sip:"),
        "{:?}",
        header(&inv, "From")
    );
}

#[test]
fn a_name_that_never_follows_holds_the_call_name_wait_at_most() {
    let mut w = ni2_world();
    setup_with_name_to_follow(&mut w);
    w.advance(crate::leg::isdn::NAME_WAIT - Duration::from_millis(10));
    assert_eq!(pbx_invites(&w), 0, "still waiting for the name");
    w.advance(Duration::from_millis(20));
    let inv = pbx_invite(&w);
    assert!(
        header(&inv, "From")[0].starts_with("<sip:"),
        "no name: {:?}",
        header(&inv, "From")
    );
}

#[test]
fn the_channel_of_a_setup_awaiting_its_name_is_not_hunted_meanwhile() {
    use q931::supplementary::{name, rose::InvokeId};
    let mut w = ni2_world();
    let mut req = switch_request("301", Some(calling(false)));
    req.channel = q931::call::ChannelPref::Exclusive(1);
    w.switch
        .setup_with(
            w.now,
            req,
            vec![name::information_following_facility(InvokeId(1)).into()],
        )
        .unwrap();
    w.run();
    assert_eq!(pbx_invites(&w), 0, "waiting for the name");
    let held = ChannelId {
        span: SpanId(1),
        timeslot: Timeslot(1),
    };
    assert_eq!(
        w.core.busy_channels(),
        vec![held],
        "reserved while it waits"
    );
    // The PBX calls out meanwhile: ascending hunting would take channel 1, the one
    // the waiting call has; the SETUP goes on channel 2 at the first try.
    named_invite_from_pbx(&mut w, "<sip:+4930999@192.0.2.10>", &[]);
    let channels: Vec<Option<u8>> = w
        .switch_events
        .iter()
        .filter_map(|e| match e {
            Event::IncomingSetup { channel, .. } => Some(*channel),
            _ => None,
        })
        .collect();
    assert_eq!(channels, vec![Some(2)], "{:?}", w.switch_events);
    // The waiting call, once it goes on, is on its own channel.
    w.advance(crate::leg::isdn::NAME_WAIT);
    assert_eq!(pbx_invites(&w), 1, "the INVITE for the waiting call");
    let busy = w.core.busy_channels();
    assert!(busy.contains(&held), "{busy:?}");
    assert!(w.core.audit(w.now).is_empty(), "no channel without a call");
}

#[test]
fn a_setup_cleared_while_its_name_is_awaited_leaves_nothing_behind() {
    let mut w = ni2_world();
    let call = setup_with_name_to_follow(&mut w);
    w.switch
        .disconnect(w.now, call, q931::ie::CauseValue::NormalCallClearing)
        .unwrap();
    w.run();
    w.advance(crate::leg::isdn::NAME_WAIT * 2);
    assert_eq!(pbx_invites(&w), 0);
    assert!(
        w.switch_events
            .iter()
            .any(|e| matches!(e, Event::Released { call: c, .. } if *c == call)),
        "{:?}",
        w.switch_events
    );
    w.assert_clean();
}
