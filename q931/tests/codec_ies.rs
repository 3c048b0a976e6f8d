//! Known-answer and round-trip tests for every information element type.
//!
//! Contents bytes (octet 3 onwards) come from public traces where one shows the element:
//! - [CISCO-DBG] defaultgateway.org/2021/02/18/analyzing-debug-isdn-q931/ (Cisco IOS prints
//!   each element's contents in hex: `Bearer Capability i = 0x8090A3`).
//! - [LINKBIT] www.linkbit.com/static/examples/simple-isdn-call.htm.
//! - [GOELLER] www2.informatik.hu-berlin.de/~goeller/isdn/ (DatenD2ToGSM.html, dreierco.html).
//!
//! The others are the Q.931 §4.5 layouts written out octet by octet (each comment names the
//! octets); tests/tshark_q931.rs has tshark confirm them.

use q931::ie::*;
use q931::IeError;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Decodes `contents`, checks it equals `want` and encodes back to the same octets.
fn kat<T: IeCodec + PartialEq + std::fmt::Debug>(contents: &str, want: &T) {
    let b = hex(contents);
    let got = T::decode(&b).unwrap_or_else(|e| panic!("{contents}: {e}"));
    assert_eq!(&got, want, "{contents}");
    let mut out = Vec::new();
    want.encode(&mut out);
    assert_eq!(out, b, "encoding of {want:?}");
}

#[test]
fn bearer_capability() {
    // [CISCO-DBG] 0x8090A3: speech, circuit, 64 kbit/s, G.711 A-law.
    kat(
        "80 90 A3",
        &BearerCapability::speech(Layer1Protocol::G711ALaw),
    );
    // T1: 3.1 kHz audio, µ-law.
    kat(
        "90 90 A2",
        &BearerCapability::audio_3_1khz(Layer1Protocol::G711MuLaw),
    );
    // [GOELLER] 0x8890: unrestricted digital, no octet 5.
    kat("88 90", &BearerCapability::unrestricted_digital());
    // Multirate 6 x 64 kbit/s with octet 4.1, V.110 with 5a (async 9600), layer 2 Q.921
    // (octet 6), layer 3 X.25 (octet 7).
    let bc = BearerCapability {
        coding_standard: CodingStandard::ItuT,
        capability: InfoTransferCapability::UnrestrictedDigital,
        transfer_mode: TransferMode::Circuit,
        rate: InfoTransferRate::Multirate,
        rate_multiplier: Some(6),
        layer1: Some(LayerInfo {
            protocol: 1,
            extension: vec![0x48, 0x80 | 0x3B],
        }),
        layer2: Some(LayerInfo::new(2)),
        layer3: Some(LayerInfo::new(6)),
    };
    kat("88 98 86 21 48 BB C2 E6", &bc);
    assert_eq!(bc.layer1_protocol(), Some(Layer1Protocol::V110));
    // Errors name the octet.
    assert_eq!(
        BearerCapability::decode(&[0x80]),
        Err(IeError::Missing {
            octet: "4",
            field: "information transfer rate"
        })
    );
    assert!(matches!(
        BearerCapability::decode(&hex("80 90 23")),
        Err(IeError::Missing { octet: "5", .. })
    ));
    assert!(matches!(
        BearerCapability::decode(&hex("80 90 C2 A3")),
        Err(IeError::InvalidValue { octet: "5", .. })
    ));
    assert!(matches!(
        BearerCapability::decode(&hex("00 90")),
        Err(IeError::InvalidValue { octet: "3", .. })
    ));
    assert!(matches!(
        BearerCapability::decode(&hex("88 98")),
        Err(IeError::Missing { octet: "4.1", .. })
    ));
}

#[test]
fn channel_identification() {
    // [CISCO-DBG] 0xA98387: PRI, exclusive, channel 7; 0xA1838F: preferred, channel 15.
    kat("A9 83 87", &ChannelId::primary(7, true));
    kat("A1 83 8F", &ChannelId::primary(15, false));
    // [GOELLER] 0x83: BRI any channel; 0x89: BRI B1 exclusive.
    kat("83", &ChannelId::basic(3, false));
    kat("89", &ChannelId::basic(1, true));
    kat("8A", &ChannelId::basic(2, true));
    assert_eq!(
        ChannelId::decode(&[0x8A]).unwrap().channel_number(),
        Some(2)
    );
    // PRI any channel, no channel.
    kat("A3", &ChannelId::primary_any());
    kat("A0", &ChannelId::primary_none());
    // NI-2 T1 with explicit interface identifier 1 (octet 3.1), channel 23.
    kat(
        "E9 81 83 97",
        &ChannelId::primary(23, true).with_interface_id(1),
    );
    // D-channel indicator.
    let d = ChannelId::decode(&hex("AC")).unwrap();
    assert!(d.d_channel && d.exclusive && d.selection == ChannelSelection::NoChannel);
    // T1 slot map (3 octets) for channels 1 and 2, E1 slot map (4 octets).
    let t1 = ChannelId::decode(&hex("A9 93 00 00 03")).unwrap();
    let l = t1.channels.as_ref().unwrap();
    assert!(l.is_map && l.channels == [0, 0, 3]);
    kat("A9 93 00 00 03", &t1);
    assert_eq!(l.channel_numbers(), [1, 2]);
    kat(
        "A9 93 00 00 03",
        &ChannelId::primary_slot_map(&[1, 2], SlotMapKind::T1, true),
    );
    let e1 = ChannelId::decode(&hex("A9 93 00 00 80 00")).unwrap();
    assert_eq!(e1.channels.as_ref().unwrap().channels.len(), 4);
    // E1 map: bit n is timeslot n, so 0x8000 is timeslot 15.
    assert_eq!(e1.channels.as_ref().unwrap().channel_numbers(), [15]);
    kat(
        "A9 93 80 00 01 06",
        &ChannelId::primary_slot_map(&[1, 2, 8, 31], SlotMapKind::E1, true),
    );
    assert_eq!(
        ChannelId::primary_slot_map(&[1, 2, 8, 31], SlotMapKind::E1, true)
            .channels
            .unwrap()
            .channel_numbers(),
        [1, 2, 8, 31]
    );
    // Several channel numbers (ext bit 0 except on the last).
    let multi = ChannelId::decode(&hex("A9 83 01 02 83")).unwrap();
    assert_eq!(multi.channels.as_ref().unwrap().channels, [1, 2, 3]);
    assert_eq!(multi.channel_number(), None);
    kat("A9 83 01 02 83", &multi);
    // H0 channel type.
    assert_eq!(
        ChannelId::decode(&hex("A9 86 81"))
            .unwrap()
            .channels
            .unwrap()
            .channel_type,
        ChannelType::H0
    );
    // Errors.
    assert!(matches!(
        ChannelId::decode(&hex("A9")),
        Err(IeError::Missing { octet: "3.2", .. })
    ));
    assert!(matches!(
        ChannelId::decode(&hex("A9 83 07")),
        Err(IeError::Missing { octet: "3.3", .. })
    ));
    assert!(matches!(
        ChannelId::decode(&hex("89 01")),
        Err(IeError::TrailingOctets { after: "3" })
    ));
    assert!(matches!(
        ChannelId::decode(&hex("E9 01")),
        Err(IeError::Missing { octet: "3.1", .. })
    ));
    assert!(ChannelId::decode(&[]).is_err());
}

#[test]
fn cause() {
    // [CISCO-DBG] 0x8090: user, normal call clearing.
    kat(
        "80 90",
        &Cause::new(CauseValue::NormalCallClearing, Location::User),
    );
    // Public network serving the local user, 34 no circuit.
    kat(
        "82 A2",
        &Cause::new(CauseValue::NoCircuitAvailable, Location::PublicLocal),
    );
    // With octet 3a (recommendation Q.931 = 0) and diagnostics (missing element 0x18).
    let c = Cause {
        coding_standard: CodingStandard::ItuT,
        location: Location::PublicLocal,
        recommendation: Some(0),
        value: CauseValue::MandatoryIeMissing,
        diagnostics: vec![0x18],
    };
    kat("02 80 E0 18", &c);
    // National coding (ANSI T1.607 uses coding standard 10 for network specific causes).
    let n = Cause::decode(&hex("C2 A2")).unwrap();
    assert_eq!(n.coding_standard, CodingStandard::National);
    // Every Q.850 value has a name and survives the round trip.
    for v in CauseValue::ALL {
        assert_eq!(CauseValue::from_u8(v.value()), *v);
        assert_ne!(v.name(), "Unknown cause");
        let c = Cause::new(*v, Location::Transit);
        let mut b = Vec::new();
        c.encode(&mut b);
        assert_eq!(Cause::decode(&b).unwrap(), c);
    }
    assert_eq!(CauseValue::ALL.len(), 71);
    assert!(CauseValue::ALL
        .windows(2)
        .all(|w| w[0].value() < w[1].value()));
    assert_eq!(
        CauseValue::from_u8(16).to_string(),
        "Normal call clearing (16)"
    );
    assert_eq!(CauseValue::from_u8(12), CauseValue::Other(12));
    assert_eq!(CauseValue::UserBusy.class(), 1);
    assert!(matches!(
        Cause::decode(&hex("80")),
        Err(IeError::Missing { octet: "4", .. })
    ));
    assert!(matches!(
        Cause::decode(&hex("80 10")),
        Err(IeError::InvalidValue { octet: "4", .. })
    ));
}

#[test]
fn progress_indicator() {
    // [LINKBIT] 0x8188: private network serving the local user, in-band available.
    kat(
        "81 88",
        &ProgressIndicator::new(Location::PrivateLocal, ProgressDescription::InbandAvailable),
    );
    kat(
        "82 81",
        &ProgressIndicator::new(Location::PublicLocal, ProgressDescription::NotEndToEndIsdn),
    );
    kat(
        "80 82",
        &ProgressIndicator::new(Location::User, ProgressDescription::DestinationNonIsdn),
    );
    assert!(ProgressDescription::NotEndToEndIsdn.is_inband());
    assert!(!ProgressDescription::DestinationNonIsdn.is_inband());
    assert!(matches!(
        ProgressIndicator::decode(&hex("81 88 00")),
        Err(IeError::TrailingOctets { .. })
    ));
}

#[test]
fn party_numbers() {
    // [CISCO-DBG] Calling Party Number i = 0x2183, '94301628'.
    kat(
        "21 83 39 34 33 30 31 36 32 38",
        &CallingPartyNumber::new(TypeOfNumber::National, NumberingPlan::Isdn, "94301628")
            .with_presentation(Presentation::Allowed, Screening::NetworkProvided),
    );
    // [CISCO-DBG] Called Party Number i = 0xC1, '399'.
    kat(
        "C1 33 39 39",
        &CalledPartyNumber::new(TypeOfNumber::Subscriber, NumberingPlan::Isdn, "399"),
    );
    // [GOELLER] calling number with no digits-only octet 3a ("0x0080" then "0").
    kat(
        "00 80 30",
        &CallingPartyNumber::new(TypeOfNumber::Unknown, NumberingPlan::Unknown, "0")
            .with_presentation(Presentation::Allowed, Screening::UserProvidedNotScreened),
    );
    // Calling number without octet 3a; presentation restricted with no digits.
    kat(
        "91 34 39",
        &CallingPartyNumber::new(TypeOfNumber::International, NumberingPlan::Isdn, "49"),
    );
    let hidden = CallingPartyNumber::decode(&hex("21 A3")).unwrap();
    assert_eq!(
        hidden.presentation,
        Some((Presentation::Restricted, Screening::NetworkProvided))
    );
    assert!(hidden.digits.is_empty());
    // Overlap digits with * and #.
    kat(
        "81 2A 32 31 23",
        &CalledPartyNumber::new(TypeOfNumber::Unknown, NumberingPlan::Isdn, "*21#"),
    );
    // Connected number (Q.951).
    kat(
        "21 83 35",
        &ConnectedNumber::new(TypeOfNumber::National, NumberingPlan::Isdn, "5")
            .with_presentation(Presentation::Allowed, Screening::NetworkProvided),
    );
    // Redirection number (Q.952 §4.1.3): the same layout, its own identifier, and a
    // typed element in a message.
    let r = RedirectionNumber::new(TypeOfNumber::National, NumberingPlan::Isdn, "5")
        .with_presentation(Presentation::Restricted, Screening::NetworkProvided);
    kat("21 A3 35", &r);
    assert_eq!(InfoElement::from(r).id(), IeId::REDIRECTION_NUMBER);
    // Redirecting number with reason (octet 3b): forwarding unconditional.
    kat(
        "41 03 8F 37 37",
        &RedirectingNumber::new(
            TypeOfNumber::Subscriber,
            NumberingPlan::Isdn,
            "77",
            (Presentation::Allowed, Screening::NetworkProvided),
            RedirectionReason::ForwardingUnconditional,
        ),
    );
    // Redirecting number without 3b.
    let rn = RedirectingNumber::decode(&hex("21 80 31")).unwrap();
    assert_eq!(rn.reason, None);
    // Private numbering plan, abbreviated.
    let p = CalledPartyNumber::decode(&hex("E9 31")).unwrap();
    assert_eq!(
        (p.type_of_number, p.numbering_plan),
        (TypeOfNumber::Abbreviated, NumberingPlan::Private)
    );
    // Errors: called number has no octet 3a; non-IA5 digit; empty.
    assert!(matches!(
        CalledPartyNumber::decode(&hex("01 80 31")),
        Err(IeError::InvalidValue { octet: "3", .. })
    ));
    assert!(matches!(
        CalledPartyNumber::decode(&hex("81 B1")),
        Err(IeError::InvalidValue { octet: "4", .. })
    ));
    assert!(CalledPartyNumber::decode(&[]).is_err());
    assert!(matches!(
        CallingPartyNumber::decode(&hex("01 00 31")),
        Err(IeError::InvalidValue { octet: "3a", .. })
    ));
    assert!(matches!(
        RedirectingNumber::decode(&hex("01 00")),
        Err(IeError::Missing { octet: "3b", .. })
    ));
}

#[test]
fn subaddresses() {
    // [GOELLER] calling party subaddress 0x80 'P' '0': NSAP, IA5 AFI 0x50.
    kat("80 50 30", &Subaddress::nsap_ia5("0"));
    // User specified, odd.
    kat(
        "A8 12 34 05",
        &Subaddress {
            subaddress_type: SubaddressType::UserSpecified,
            odd: true,
            information: vec![0x12, 0x34, 0x05],
        },
    );
    assert!(Subaddress::decode(&hex("20 50")).is_err());
}

#[test]
fn display_keypad_signal_datetime() {
    kat("41 6C 69 63 65", &Display::new("Alice"));
    // NI-2 display with a display type octet (0xB1 calling party name).
    let d = Display::decode(&hex("B1 42 6F 62")).unwrap();
    assert_eq!((d.display_type, d.text.as_str()), (Some(0xB1), "Bob"));
    kat("B1 42 6F 62", &d);
    // 8-bit text is ISO 8859-1 ("Müller"), kept through a round trip.
    let d = Display::decode(&hex("4D FC 6C 6C 65 72")).unwrap();
    assert_eq!((d.display_type, d.text.as_str()), (None, "Müller"));
    kat("4D FC 6C 6C 65 72", &d);
    kat("2A 32 31 23", &KeypadFacility::new("*21#"));
    assert!(KeypadFacility::decode(&[]).is_err());
    kat("01", &Signal::new(SignalValue::RING_BACK_TONE_ON));
    kat("3F", &Signal::new(SignalValue::TONES_OFF));
    assert!(Signal::decode(&hex("20")).is_err());
    // 2026-11-26 20:41:05, and the short form without time.
    kat(
        "1A 0B 1A 14 29 05",
        &DateTime {
            year: 26,
            month: 11,
            day: 26,
            hour: Some(20),
            minute: Some(41),
            second: Some(5),
        },
    );
    kat(
        "1A 0B 1A",
        &DateTime {
            year: 26,
            month: 11,
            day: 26,
            hour: None,
            minute: None,
            second: None,
        },
    );
    assert!(matches!(
        DateTime::decode(&hex("1A 0D 1A")),
        Err(IeError::InvalidValue { octet: "4", .. })
    ));
}

#[test]
fn user_user_facility_notification() {
    kat("04 68 69", &UserUser::new(UuProtocol::IA5, b"hi"));
    // H.225.0: X.208/X.209 coded.
    let uu = UserUser::decode(&hex("05 20 B8 06 00 08 91 4A 00 05")).unwrap();
    assert_eq!(uu.protocol, UuProtocol::X208_X209);
    assert_eq!(uu.data.len(), 9);
    assert!(UserUser::decode(&[]).is_err());
    // Facility kept raw: ROSE profile 0x91.
    let f = Facility::decode(&hex("91 A1 06 02 01 01 02 01 00")).unwrap();
    assert_eq!(f.protocol_profile(), Some(0x11));
    kat("91 A1 06 02 01 01 02 01 00", &f);
    kat(
        "80",
        &NotificationIndicator::new(NotificationDescription::USER_SUSPENDED),
    );
    // ETSI extension: 0x40 followed by an ASN.1 component, kept raw.
    let n = NotificationIndicator::decode(&hex("C0 A1 03 02 01 01")).unwrap();
    assert_eq!(n.description, NotificationDescription::ASN1_EXTENSION);
    assert_eq!(n.rest.len(), 5);
    kat("C0 A1 03 02 01 01", &n);
}

#[test]
fn compatibility_elements() {
    // [GOELLER] HLC 0x9181: ITU-T, first interpretation, profile, telephony.
    kat("91 81", &HighLayerCompatibility::telephony());
    // Extended HLC (octet 4a).
    let h = HighLayerCompatibility::decode(&hex("91 5E 81")).unwrap();
    assert_eq!((h.characteristics, h.extended), (0x5E, Some(0x01)));
    kat("91 5E 81", &h);
    assert!(HighLayerCompatibility::decode(&hex("91")).is_err());
    // [GOELLER] LLC 0x8090A3.
    let llc = LowLayerCompatibility {
        coding_standard: CodingStandard::ItuT,
        capability: InfoTransferCapability::Speech,
        negotiation: None,
        rest: vec![0x90, 0xA3],
    };
    kat("80 90 A3", &llc);
    // With octet 3a (out-band negotiation possible).
    let n = LowLayerCompatibility::decode(&hex("08 C0 90")).unwrap();
    assert_eq!(n.negotiation, Some(true));
    kat("08 C0 90", &n);
}

#[test]
fn restart_call_state_change_status() {
    kat(
        "80",
        &RestartIndicator::new(RestartClass::IndicatedChannels),
    );
    kat("86", &RestartIndicator::new(RestartClass::SingleInterface));
    kat("87", &RestartIndicator::new(RestartClass::AllInterfaces));
    assert!(matches!(
        RestartIndicator::decode(&hex("81")),
        Err(IeError::InvalidValue { field: "class", .. })
    ));
    kat("0A", &CallState::new(CallStateValue::Active));
    kat("19", &CallState::new(CallStateValue::OverlapReceiving));
    kat("3D", &CallState::new(CallStateValue::Restart1));
    assert_eq!(
        CallState::decode(&hex("05")).unwrap().value,
        CallStateValue::Other(5)
    );
    kat(
        "C2",
        &ChangeStatus {
            channel_preference: true,
            status: ServiceStatus::OutOfService,
        },
    );
    kat(
        "80",
        &ChangeStatus {
            channel_preference: false,
            status: ServiceStatus::InService,
        },
    );
}

#[test]
fn single_octet_and_codeset_helpers() {
    use q931::codeset::{Codeset, CodesetTracker, Shift, ShiftOutcome};
    assert_eq!(
        Shift::from_octet(0x96),
        Some(Shift::locking(Codeset::LOCAL_NETWORK))
    );
    assert_eq!(
        Shift::from_octet(0x9D),
        Some(Shift::non_locking(Codeset::NATIONAL))
    );
    assert_eq!(Shift::from_octet(0xA1), None);
    assert_eq!(Shift::non_locking(Codeset::USER_SPECIFIC).to_octet(), 0x9F);
    let mut t = CodesetTracker::default();
    assert_eq!(
        t.shift(Shift::non_locking(Codeset::NATIONAL)),
        ShiftOutcome::Applied
    );
    assert_eq!(t.current(), Codeset::NATIONAL);
    t.element_done();
    assert_eq!(t.current(), Codeset::Q931);
    assert_eq!(
        t.shift(Shift::locking(Codeset::LOCAL_NETWORK)),
        ShiftOutcome::Applied
    );
    assert_eq!(
        t.shift(Shift::locking(Codeset::NATIONAL)),
        ShiftOutcome::LockingToLowerOrSame
    );
    assert_eq!(t.current(), Codeset::LOCAL_NETWORK);
    assert!(IeId(0x0A).comprehension_required());
    assert!(!IeId(0x60).comprehension_required());
    assert_eq!(IeId::CAUSE.to_string(), "Cause (0x08)");
}
