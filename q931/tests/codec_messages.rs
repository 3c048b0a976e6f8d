//! Known-answer and round-trip tests for every Q.931 message.
//!
//! Sources of the captured byte strings:
//! - [LINKBIT] Linkbit "simple ISDN call" trace sample, www.linkbit.com/static/examples/
//!   simple-isdn-call.htm (PRI, 2-octet call reference; LAPD header `00 01 02 02` removed).
//! - [GOELLER-D2] S. Goeller's E-DSS1 BRI traces, www2.informatik.hu-berlin.de/~goeller/isdn/
//!   DatenD2ToGSM.html (frames 3 and 4; LAPD header removed).
//! - [GOELLER-3] the same site, dreierco.html (frame 3).
//! - [CISCO-DBG] "Analyzing debug isdn q931", defaultgateway.org/2021/02/18/
//!   analyzing-debug-isdn-q931/: Cisco IOS prints every element's contents in hex
//!   (`Bearer Capability i = 0x8090A3`); the messages below are those elements framed in the
//!   order printed, with the printed call references.
//!
//! Messages no public trace here shows (NOTIFY, FACILITY, STATUS, RESTART, SERVICE, ...) are
//! written from the Q.931 layouts; tests/tshark_q931.rs has tshark decode every one of them.

use q931::codeset::{Codeset, Shift};
use q931::ie::*;
use q931::message::{CallRef, CallRefFlag, Dialect, Message, MessageType, ProtocolDiscriminator};
use q931::DecodeError;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Decodes, checks nothing is invalid or unknown, and checks re-encoding is identical.
fn decode_exact(bytes: &[u8]) -> Message {
    let m = Message::decode(bytes).expect("decodes");
    assert_eq!(m.invalid_ies().count(), 0, "invalid elements in {m:?}");
    assert_eq!(
        m.to_bytes().unwrap(),
        bytes,
        "re-encoding differs for {m:?}"
    );
    m
}

const CR1: CallRef = CallRef::two_octet(1, CallRefFlag::FromOriginator);

#[test]
fn linkbit_pri_setup() {
    // [LINKBIT] 17:31:00 Tx SETUP.
    let b = hex(
        "08 02 00 32 05 04 03 80 90 A3 18 03 A9 83 85 1E 02 81 88 6C 09 21 80 32 32 32 32 32
                 30 35 70 08 A1 31 31 31 31 31 30 35 A1",
    );
    let m = decode_exact(&b);
    assert_eq!(m.protocol_discriminator, ProtocolDiscriminator::Q931);
    assert_eq!(
        m.call_ref,
        CallRef::two_octet(0x32, CallRefFlag::FromOriginator)
    );
    assert_eq!(m.message_type, MessageType::Setup);
    let bc = m.bearer_capability().unwrap();
    assert_eq!(bc.capability, InfoTransferCapability::Speech);
    assert_eq!(bc.layer1_protocol(), Some(Layer1Protocol::G711ALaw));
    let ch = m.channel_id().unwrap();
    assert!(ch.exclusive);
    assert_eq!(ch.interface_type, InterfaceType::Primary);
    assert_eq!(ch.channel_number(), Some(5));
    let pi = m.progress_indicator().unwrap();
    assert_eq!(pi.location, Location::PrivateLocal);
    assert_eq!(pi.description, ProgressDescription::InbandAvailable);
    let cg = m.calling_party_number().unwrap();
    assert_eq!(cg.digits, "2222205");
    assert_eq!(cg.type_of_number, TypeOfNumber::National);
    assert_eq!(
        cg.presentation,
        Some((Presentation::Allowed, Screening::UserProvidedNotScreened))
    );
    let cd = m.called_party_number().unwrap();
    assert_eq!(cd.digits, "1111105");
    assert_eq!(cd.numbering_plan, NumberingPlan::Isdn);
    assert!(m.sending_complete());
    assert_eq!(
        m.to_string(),
        "SETUP cr=0x32/0 ch=5! pi=8 calling=2222205 called=1111105 complete"
    );
    // The same message from the builders.
    let built = Message::setup(
        CallRef::two_octet(0x32, CallRefFlag::FromOriginator),
        BearerCapability::speech(Layer1Protocol::G711ALaw),
    )
    .with(ChannelId::primary(5, true))
    .with(ProgressIndicator::new(
        Location::PrivateLocal,
        ProgressDescription::InbandAvailable,
    ))
    .with(
        CallingPartyNumber::new(TypeOfNumber::National, NumberingPlan::Isdn, "2222205")
            .with_presentation(Presentation::Allowed, Screening::UserProvidedNotScreened),
    )
    .with(CalledPartyNumber::new(
        TypeOfNumber::National,
        NumberingPlan::Isdn,
        "1111105",
    ))
    .with_sending_complete();
    assert_eq!(built.to_bytes().unwrap(), b);
}

#[test]
fn goeller_bri_setup_and_setup_ack() {
    // [GOELLER-D2] frame 3: SETUP, 1-octet call reference 1, unrestricted digital.
    let b = hex(
        "08 01 01 05 04 02 88 90 18 01 83 6c 03 00 80 30 70 0c 80 30 31 37 33 36 32 33 33 31 30 36",
    );
    let m = decode_exact(&b);
    assert_eq!(
        m.call_ref,
        CallRef::one_octet(1, CallRefFlag::FromOriginator)
    );
    let bc = m.bearer_capability().unwrap();
    assert_eq!(bc.capability, InfoTransferCapability::UnrestrictedDigital);
    assert_eq!(bc.layer1, None);
    let ch = m.channel_id().unwrap();
    assert_eq!(ch.interface_type, InterfaceType::Basic);
    assert_eq!(ch.selection, ChannelSelection::Any);
    assert!(!ch.exclusive);
    assert_eq!(m.calling_party_number().unwrap().digits, "0");
    assert_eq!(m.called_party_number().unwrap().digits, "01736233106");
    assert_eq!(
        m.called_party_number().unwrap().type_of_number,
        TypeOfNumber::Unknown
    );
    // Frame 4: SETUP ACKNOWLEDGE, flag set, B1 exclusive.
    let b = hex("08 01 81 0d 18 01 89");
    let m = decode_exact(&b);
    assert_eq!(m.call_ref, CallRef::one_octet(1, CallRefFlag::ToOriginator));
    assert_eq!(m.message_type, MessageType::SetupAcknowledge);
    let ch = m.channel_id().unwrap();
    assert_eq!(ch.selection, ChannelSelection::B1);
    assert!(ch.exclusive);
    assert_eq!(
        Message::setup_acknowledge(
            CallRef::one_octet(1, CallRefFlag::ToOriginator),
            Some(ChannelId::basic(1, true))
        )
        .to_bytes()
        .unwrap(),
        b
    );
}

#[test]
fn goeller_bri_setup_with_subaddress_llc_hlc() {
    // [GOELLER-3] frame 3.
    let b = hex(
        "08 01 0c 05 04 03 80 90 a3 18 01 83 6c 07 01 80 32 39 38 32 31 6d 03 80 50 30
                 70 0c 81 30 33 30 35 36 33 33 33 33 38 38 7c 03 80 90 a3 7d 02 91 81",
    );
    let m = decode_exact(&b);
    assert_eq!(m.call_ref.value, 12);
    let cg = m.calling_party_number().unwrap();
    assert_eq!(cg.digits, "29821");
    assert_eq!(cg.numbering_plan, NumberingPlan::Isdn);
    let sa = m.calling_party_subaddress().unwrap();
    assert_eq!(sa.subaddress_type, SubaddressType::Nsap);
    assert_eq!(sa.information, b"P0");
    assert_eq!(*sa, Subaddress::nsap_ia5("0"));
    assert_eq!(m.called_party_number().unwrap().digits, "03056333388");
    let llc = m.low_layer_compatibility().unwrap();
    assert_eq!(llc.capability, InfoTransferCapability::Speech);
    assert_eq!(llc.rest, [0x90, 0xA3]);
    let hlc = m.high_layer_compatibility().unwrap();
    assert_eq!(*hlc, HighLayerCompatibility::telephony());
}

#[test]
fn cisco_debug_call_flow() {
    // [CISCO-DBG]: RX SETUP callref 0x25C9 with Sending Complete, BC 0x8090A3,
    // Channel ID 0xA1838F (preferred, channel 15), Calling 0x2183 '94301628', Called 0xC1 '399'.
    let setup = hex("08 02 25 C9 05 A1 04 03 80 90 A3 18 03 A1 83 8F
                     6C 0A 21 83 39 34 33 30 31 36 32 38 70 04 C1 33 39 39");
    let m = decode_exact(&setup);
    assert!(m.sending_complete());
    assert_eq!(
        m.call_ref,
        CallRef::two_octet(0x25C9, CallRefFlag::FromOriginator)
    );
    let ch = m.channel_id().unwrap();
    assert!(!ch.exclusive);
    assert_eq!(ch.channel_number(), Some(15));
    let cg = m.calling_party_number().unwrap();
    assert_eq!(
        cg.presentation,
        Some((Presentation::Allowed, Screening::NetworkProvided))
    );
    assert_eq!(cg.digits, "94301628");
    let cd = m.called_party_number().unwrap();
    assert_eq!(cd.type_of_number, TypeOfNumber::Subscriber);
    assert_eq!(cd.digits, "399");

    let reply = m.call_ref.reply();
    assert_eq!(reply, CallRef::two_octet(0x25C9, CallRefFlag::ToOriginator));
    // TX CALL_PROC callref 0xA5C9, Channel ID 0xA98387 (exclusive, channel 7).
    let b = hex("08 02 A5 C9 02 18 03 A9 83 87");
    assert_eq!(
        decode_exact(&b).channel_id().unwrap().channel_number(),
        Some(7)
    );
    assert_eq!(
        Message::call_proceeding(reply, Some(ChannelId::primary(7, true)))
            .to_bytes()
            .unwrap(),
        b
    );
    // TX ALERTING, Progress Ind 0x8088.
    let b = hex("08 02 A5 C9 01 1E 02 80 88");
    let m = decode_exact(&b);
    assert_eq!(m.progress_indicator().unwrap().location, Location::User);
    assert!(m.progress_indicator().unwrap().description.is_inband());
    assert_eq!(
        Message::alerting(reply)
            .with(ProgressIndicator::new(
                Location::User,
                ProgressDescription::InbandAvailable
            ))
            .to_bytes()
            .unwrap(),
        b
    );
    // TX CONNECT, RX CONNECT_ACK.
    assert_eq!(
        Message::connect(reply).to_bytes().unwrap(),
        hex("08 02 A5 C9 07")
    );
    assert_eq!(
        decode_exact(&hex("08 02 25 C9 0F")).message_type,
        MessageType::ConnectAcknowledge
    );
    assert_eq!(
        Message::connect_acknowledge(m.call_ref.reply())
            .to_bytes()
            .unwrap(),
        hex("08 02 25 C9 0F")
    );
    // TX DISCONNECT, Cause 0x8090 (user, normal call clearing).
    let b = hex("08 02 A5 C9 45 08 02 80 90");
    let m = decode_exact(&b);
    assert_eq!(m.cause().unwrap().value, CauseValue::NormalCallClearing);
    assert_eq!(m.cause().unwrap().location, Location::User);
    assert_eq!(
        Message::disconnect(
            reply,
            Cause::new(CauseValue::NormalCallClearing, Location::User)
        )
        .to_bytes()
        .unwrap(),
        b
    );
    // RX RELEASE, TX RELEASE_COMP (no cause: not the first clearing message).
    assert_eq!(
        decode_exact(&hex("08 02 25 C9 4D")).message_type,
        MessageType::Release
    );
    assert_eq!(
        Message::release_complete(reply, None).to_bytes().unwrap(),
        hex("08 02 A5 C9 5A")
    );
}

/// Every builder, its bytes and its decode.
#[test]
fn every_message_builder_round_trips() {
    let r = CR1.reply();
    let ch1 = || ChannelId::primary(1, true);
    let cases: Vec<(Message, &str)> = vec![
        (
            Message::setup(CR1, BearerCapability::speech(Layer1Protocol::G711MuLaw))
                .with(ChannelId::primary(1, false).with_interface_id(0))
                .with(CalledPartyNumber::new(
                    TypeOfNumber::National,
                    NumberingPlan::Isdn,
                    "5551234",
                )),
            "08 02 00 01 05 04 03 80 90 A2 18 04 E1 80 83 81 70 08 A1 35 35 35 31 32 33 34",
        ),
        (
            Message::setup_acknowledge(r, Some(ch1())),
            "08 02 80 01 0D 18 03 A9 83 81",
        ),
        (
            Message::call_proceeding(r, Some(ch1())),
            "08 02 80 01 02 18 03 A9 83 81",
        ),
        (Message::alerting(r), "08 02 80 01 01"),
        (
            Message::progress(
                r,
                ProgressIndicator::new(Location::PublicLocal, ProgressDescription::NotEndToEndIsdn),
            ),
            "08 02 80 01 03 1E 02 82 81",
        ),
        (
            Message::connect(r).with(
                ConnectedNumber::new(TypeOfNumber::National, NumberingPlan::Isdn, "5551234")
                    .with_presentation(Presentation::Allowed, Screening::NetworkProvided),
            ),
            "08 02 80 01 07 4C 09 21 83 35 35 35 31 32 33 34",
        ),
        (Message::connect_acknowledge(CR1), "08 02 00 01 0F"),
        (
            Message::disconnect(
                CR1,
                Cause::new(CauseValue::UserBusy, Location::PublicRemote),
            ),
            "08 02 00 01 45 08 02 84 91",
        ),
        (Message::release(r, None), "08 02 80 01 4D"),
        (
            Message::release_complete(
                CR1,
                Some(Cause::new(
                    CauseValue::NormalCallClearing,
                    Location::PublicLocal,
                )),
            ),
            "08 02 00 01 5A 08 02 82 90",
        ),
        (
            Message::information(CR1)
                .with(CalledPartyNumber::new(
                    TypeOfNumber::Unknown,
                    NumberingPlan::Isdn,
                    "5",
                ))
                .with_sending_complete(),
            "08 02 00 01 7B 70 02 81 35 A1",
        ),
        (
            Message::notify(
                r,
                NotificationIndicator::new(NotificationDescription::USER_SUSPENDED),
            ),
            "08 02 80 01 6E 27 01 80",
        ),
        (
            Message::facility(
                CR1,
                Facility::new(&[0x91, 0xA1, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00]),
            ),
            "08 02 00 01 62 1C 09 91 A1 06 02 01 01 02 01 00",
        ),
        (
            Message::status(
                r,
                Cause::new(CauseValue::ResponseToStatusEnquiry, Location::User),
                CallState::new(CallStateValue::Active),
            ),
            "08 02 80 01 7D 08 02 80 9E 14 01 0A",
        ),
        (Message::status_enquiry(CR1), "08 02 00 01 75"),
        (
            Message::restart(
                CallRef::global(2, CallRefFlag::FromOriginator),
                RestartIndicator::new(RestartClass::IndicatedChannels),
                Some(ch1()),
            ),
            "08 02 00 00 46 18 03 A9 83 81 79 01 80",
        ),
        (
            Message::restart_acknowledge(
                CallRef::global(2, CallRefFlag::ToOriginator),
                RestartIndicator::new(RestartClass::AllInterfaces),
                None,
            ),
            "08 02 80 00 4E 79 01 87",
        ),
        (
            Message::service(
                CR1,
                ChangeStatus {
                    channel_preference: true,
                    status: ServiceStatus::OutOfService,
                },
                Some(ch1()),
            ),
            "03 02 00 01 0F 01 01 C2 18 03 A9 83 81",
        ),
        (
            Message::service_acknowledge(
                r,
                ChangeStatus {
                    channel_preference: true,
                    status: ServiceStatus::InService,
                },
                Some(ch1()),
            ),
            "03 02 80 01 07 01 01 C0 18 03 A9 83 81",
        ),
    ];
    for (m, expected) in cases {
        let bytes = m.to_bytes().unwrap();
        assert_eq!(bytes, hex(expected), "{}", m.message_type);
        let back = Message::decode(&bytes).unwrap();
        assert_eq!(back, m, "{}", m.message_type);
    }
}

#[test]
fn call_reference_forms() {
    // Dummy call reference (length 0).
    let m = decode_exact(&hex("08 00 62 1C 02 91 A1"));
    assert!(m.call_ref.is_dummy());
    assert_eq!(m.message_type, MessageType::Facility);
    // Global, 1 octet, flag set.
    let m = decode_exact(&hex("08 01 80 4E 79 01 86"));
    assert!(m.call_ref.is_global());
    assert_eq!(m.call_ref.flag, CallRefFlag::ToOriginator);
    assert_eq!(
        m.restart_indicator().unwrap().class,
        RestartClass::SingleInterface
    );
    // Largest 2-octet value.
    let m = decode_exact(&hex("08 02 FF FF 75"));
    assert_eq!(
        m.call_ref,
        CallRef::two_octet(0x7FFF, CallRefFlag::ToOriginator)
    );
    // Values that do not fit are refused when encoding.
    let bad = Message::status_enquiry(CallRef {
        length: 1,
        flag: CallRefFlag::FromOriginator,
        value: 200,
    });
    assert!(bad.to_bytes().is_err());
}

#[test]
fn message_level_errors_are_classified() {
    // §5.8.2 too short.
    assert!(matches!(
        Message::decode(&[0x08, 0x02]),
        Err(DecodeError::TooShort { .. })
    ));
    assert!(matches!(
        Message::decode(&[0x08, 0x02, 0x00, 0x01]),
        Err(DecodeError::TooShort { .. })
    ));
    // §5.8.1 protocol discriminator.
    assert_eq!(
        Message::decode(&hex("09 02 00 01 05")),
        Err(DecodeError::ProtocolDiscriminator(0x09))
    );
    // §5.8.3.1 spare bits and overlong call reference.
    assert_eq!(
        Message::decode(&hex("08 12 00 01 05")),
        Err(DecodeError::CallRefSpareBits(0x12))
    );
    assert_eq!(
        Message::decode(&hex("08 03 00 00 01 05")),
        Err(DecodeError::CallRefLength(3))
    );
    // §5.8.4: unknown type decodes, kept as is.
    let m = decode_exact(&hex("08 02 00 01 7F"));
    assert_eq!(m.message_type, MessageType::Unknown(0x7F));
}

#[test]
fn shifts_and_unknown_elements_are_kept_and_reencoded_identically() {
    // SETUP with a non-locking shift to codeset 6 (one raw element), back in codeset 0 for
    // the called number, then a locking shift to codeset 5 with two national elements.
    let b = hex("08 02 00 01 05 04 03 80 90 A3 9E 28 03 41 42 43 70 02 81 31
                 95 01 02 AA BB 7F 01 00");
    let m = decode_exact(&b);
    assert_eq!(
        m.ies[1],
        InfoElement::Shift(Shift::non_locking(Codeset::LOCAL_NETWORK))
    );
    // The display identifier in codeset 6 is not the codeset 0 display.
    assert_eq!(
        m.ies[2],
        InfoElement::Unknown(RawIe {
            codeset: Codeset::LOCAL_NETWORK,
            id: 0x28,
            contents: b"ABC".to_vec()
        })
    );
    assert!(m.display().is_none());
    assert_eq!(m.called_party_number().unwrap().digits, "1");
    assert_eq!(
        m.ies[4],
        InfoElement::Shift(Shift::locking(Codeset::NATIONAL))
    );
    let national: Vec<_> = m
        .unknown_ies()
        .filter(|r| r.codeset == Codeset::NATIONAL)
        .collect();
    assert_eq!(national.len(), 2);
    assert_eq!(national[1].id, 0x7F);
    // An unknown codeset 0 element and an unknown single-octet element.
    let b = hex("08 02 00 01 05 04 03 80 90 A3 62 02 01 02 A5");
    let m = decode_exact(&b);
    assert_eq!(m.unknown_ies().count(), 2);
    // push_in_codeset adds the shift itself.
    let mut m = Message::setup(CR1, BearerCapability::speech(Layer1Protocol::G711ALaw));
    m.push_in_codeset(RawIe {
        codeset: Codeset::USER_SPECIFIC,
        id: 0x01,
        contents: vec![7],
    });
    assert_eq!(
        m.to_bytes().unwrap(),
        hex("08 02 00 01 05 04 03 80 90 A3 9F 01 01 07")
    );
}

#[test]
fn invalid_and_truncated_elements_are_kept_raw() {
    // Progress indicator with a missing octet 4, then a truncated called party number.
    let b = hex("08 02 00 01 05 04 03 80 90 A3 1E 01 81 70 09 81 31");
    let m = Message::decode(&b).unwrap();
    let invalid: Vec<_> = m.invalid_ies().collect();
    assert_eq!(invalid.len(), 2);
    assert_eq!(invalid[0].id, 0x1E);
    assert_eq!(
        invalid[0].error,
        q931::IeError::Missing {
            octet: "4",
            field: "progress description"
        }
    );
    assert_eq!(
        invalid[1].error,
        q931::IeError::Truncated {
            declared: 9,
            available: 2
        }
    );
    assert_eq!(m.to_bytes().unwrap(), b);
}

#[test]
fn h225_user_user_has_a_two_octet_length() {
    // H.225.0 §7.2.2: the user-user element length is 2 octets. 300 octets of PER payload.
    let payload: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    let m = Message::setup(CR1, BearerCapability::speech(Layer1Protocol::G711ALaw))
        .with(UserUser::new(UuProtocol::X208_X209, &payload));
    let mut out = Vec::new();
    m.encode_with(&mut out, Dialect::H225).unwrap();
    assert_eq!(&out[10..14], &[0x7E, 0x01, 0x2D, 0x05]);
    let back = Message::decode_with(&out, Dialect::H225).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.user_user().unwrap().data, payload);
    // The ISDN dialect cannot carry it.
    assert!(m.to_bytes().is_err());
    // Other protocol discriminators keep the 1-octet length, as Wireshark reads Q.931 over
    // TPKT.
    let ia5 = Message::setup(CR1, BearerCapability::speech(Layer1Protocol::G711ALaw))
        .with(UserUser::new(UuProtocol::IA5, b"hi"));
    let mut out = Vec::new();
    ia5.encode_with(&mut out, Dialect::H225).unwrap();
    assert_eq!(&out[10..], &[0x7E, 0x03, 0x04, b'h', b'i']);
    assert_eq!(Message::decode_with(&out, Dialect::H225).unwrap(), ia5);
}

#[test]
fn decode_into_reuses_the_message() {
    let a = hex("08 02 00 01 05 04 03 80 90 A3 70 02 81 31");
    let b = hex("08 01 81 0d 18 01 89");
    let mut m = Message::decode(&a).unwrap();
    m.decode_into(&b, Dialect::Isdn).unwrap();
    assert_eq!(m, Message::decode(&b).unwrap());
    m.decode_into(&a, Dialect::Isdn).unwrap();
    assert_eq!(m, Message::decode(&a).unwrap());
    assert!(m.decode_into(&[0x08], Dialect::Isdn).is_err());
    assert!(m.ies.is_empty());
}

#[test]
fn with_keeps_ascending_order() {
    let m = Message::setup(CR1, BearerCapability::speech(Layer1Protocol::G711ALaw))
        .with(CalledPartyNumber::new(
            TypeOfNumber::Unknown,
            NumberingPlan::Isdn,
            "1",
        ))
        .with(Display::new("Bob"))
        .with(ChannelId::primary_any())
        .with(CallingPartyNumber::new(
            TypeOfNumber::Unknown,
            NumberingPlan::Isdn,
            "2",
        ));
    let ids: Vec<u8> = m.ies.iter().map(|i| i.id().0).collect();
    assert_eq!(ids, [0x04, 0x18, 0x28, 0x6C, 0x70]);
}

/// SERVICE as libpri 1.6 builds it (`maintenance_service()` in its q931.c: global call
/// reference with the flag, change status 0xC0 | status, an exclusive T1 channel): under
/// discriminator 0x43 (its NI-2 switch type) SERVICE is 0x07 and SERVICE ACKNOWLEDGE 0x0F;
/// under 0x03 (4ESS/5ESS) the other way round.
#[test]
fn service_in_national_and_att_maintenance_coding() {
    for (pd, service, ack) in [(0x43u8, 0x07u8, 0x0Fu8), (0x03, 0x0F, 0x07)] {
        let bytes = [
            pd, 0x02, 0x80, 0x00, service, 0x01, 0x01, 0xC2, 0x18, 0x03, 0xA9, 0x83, 0x87,
        ];
        let m = Message::decode(&bytes).unwrap();
        assert_eq!(m.protocol_discriminator, ProtocolDiscriminator(pd));
        assert_eq!(m.message_type, MessageType::Service, "{pd:#x}");
        let cs = m.change_status().unwrap();
        assert_eq!(cs.status, ServiceStatus::OutOfService);
        assert!(cs.channel_preference);
        assert_eq!(m.channel_id().unwrap().channel_number(), Some(7));
        assert_eq!(m.to_bytes().unwrap(), bytes);
        let mut a = bytes;
        a[4] = ack;
        let m = Message::decode(&a).unwrap();
        assert_eq!(m.message_type, MessageType::ServiceAcknowledge, "{pd:#x}");
        assert_eq!(m.to_bytes().unwrap(), a);
        assert_eq!(
            MessageType::Service.octet_in(ProtocolDiscriminator(pd)),
            service
        );
    }
}
