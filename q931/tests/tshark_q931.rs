//! tshark (Wireshark's dissectors, written independently of this crate) decodes every
//! message this crate encodes, wrapped in LAPD I-frames in a pcap of link type 203
//! (LINKTYPE_LAPD, no FCS): no malformed packet, no expert error, and the decoded fields are
//! the ones meant.
//!
//! Needs `tshark` (Debian package `tshark`); the test fails if it is missing.

#[path = "common/pcap.rs"]
mod pcap;

use q931::codeset::Codeset;
use q931::ie::*;
use q931::message::{CallRef, CallRefFlag, Message};
use std::process::Command;

/// One message and the tshark fields expected for it.
struct Case {
    msg: Message,
    /// (field, expected value) pairs; multi-valued fields use tshark's `,` aggregator.
    fields: Vec<(&'static str, &'static str)>,
}

fn case(msg: Message, fields: &[(&'static str, &'static str)]) -> Case {
    Case {
        msg,
        fields: fields.to_vec(),
    }
}

fn cases() -> Vec<Case> {
    let cr = CallRef::two_octet(0x1234, CallRefFlag::FromOriginator);
    let r = cr.reply();
    let ch = |n| ChannelId::primary(n, true);
    let full_setup = Message::setup(cr, BearerCapability::speech(Layer1Protocol::G711ALaw))
        .with(ChannelId::primary(17, false))
        .with(ProgressIndicator::new(
            Location::PrivateLocal,
            ProgressDescription::OriginationNonIsdn,
        ))
        .with(Display::new("Alice"))
        .with(DateTime {
            year: 26,
            month: 11,
            day: 26,
            hour: Some(20),
            minute: Some(41),
            second: Some(5),
        })
        .with(KeypadFacility::new("*21#"))
        .with(Signal::new(SignalValue::DIAL_TONE_ON))
        .with(
            CallingPartyNumber::new(
                TypeOfNumber::International,
                NumberingPlan::Isdn,
                "4930123456",
            )
            .with_presentation(
                Presentation::Restricted,
                Screening::UserProvidedVerifiedPassed,
            ),
        )
        .with(InfoElement::CallingPartySubaddress(Subaddress::nsap_ia5(
            "12",
        )))
        .with(CalledPartyNumber::new(
            TypeOfNumber::National,
            NumberingPlan::Isdn,
            "301234567",
        ))
        .with(RedirectingNumber::new(
            TypeOfNumber::Subscriber,
            NumberingPlan::Isdn,
            "777",
            (Presentation::Allowed, Screening::NetworkProvided),
            RedirectionReason::ForwardingBusy,
        ))
        .with(LowLayerCompatibility {
            coding_standard: CodingStandard::ItuT,
            capability: InfoTransferCapability::Speech,
            negotiation: None,
            rest: vec![0x90, 0xA3],
        })
        .with(HighLayerCompatibility::telephony())
        .with(UserUser::new(UuProtocol::IA5, b"hello"))
        .with_sending_complete();
    // Called party subaddress goes after the called number.
    let mut full_setup = full_setup;
    full_setup.insert(InfoElement::CalledPartySubaddress(Subaddress::nsap_ia5(
        "9",
    )));
    let t1_setup = Message::setup(
        CallRef::two_octet(7, CallRefFlag::FromOriginator),
        BearerCapability::audio_3_1khz(Layer1Protocol::G711MuLaw),
    )
    .with(ChannelId::primary(23, true).with_interface_id(1))
    .with(CalledPartyNumber::new(
        TypeOfNumber::National,
        NumberingPlan::Isdn,
        "2125551212",
    ));
    let mut shifted = Message::connect(r).with(
        ConnectedNumber::new(TypeOfNumber::National, NumberingPlan::Isdn, "301234567")
            .with_presentation(Presentation::Allowed, Screening::NetworkProvided),
    );
    shifted.insert(InfoElement::ConnectedSubaddress(Subaddress::nsap_ia5("5")));
    shifted.push_in_codeset(RawIe {
        codeset: Codeset::LOCAL_NETWORK,
        id: 0x01,
        contents: vec![0x81],
    });
    vec![
        case(
            full_setup,
            &[
                ("q931.message_type", "0x05"),
                ("q931.call_ref", "1234"),
                ("q931.uil1", "0x03,0x03"), // bearer capability and LLC
                ("q931.channel.number", "17"),
                ("q931.channel.exclusive", "0"),
                ("q931.progress_indicator.description", "0x03"),
                ("q931.display_information", "Alice"),
                ("q931.keypad_facility", "*21#"),
                ("q931.signal", "0x00"),
                ("q931.calling_party_number.digits", "4930123456"),
                ("q931.presentation_ind", "0x01,0x00"),
                ("q931.called_party_number.digits", "301234567"),
                ("q931.redirecting_number.digits", "777"),
                ("q931.extension.reason", "0x01"),
                ("q931.high_layer_characteristics", "0x01"),
                ("q931.user.protocol_discriminator", "0x04"),
                ("q931.user.string", "hello"),
            ],
        ),
        case(
            t1_setup,
            &[
                ("q931.message_type", "0x05"),
                ("q931.information_transfer_capability", "0x10"),
                ("q931.uil1", "0x02"),
                ("q931.channel.interface_id_present", "1"),
                ("q931.channel.interface_id", "1"),
                ("q931.channel.number", "23"),
                ("q931.called_party_number.digits", "2125551212"),
            ],
        ),
        case(
            Message::setup_acknowledge(r, Some(ch(1))),
            &[("q931.message_type", "0x0d"), ("q931.channel.number", "1")],
        ),
        case(
            Message::call_proceeding(r, Some(ch(31))),
            &[("q931.message_type", "0x02"), ("q931.channel.number", "31")],
        ),
        case(
            Message::alerting(r).with(ProgressIndicator::new(
                Location::PublicRemote,
                ProgressDescription::InbandAvailable,
            )),
            &[
                ("q931.message_type", "0x01"),
                ("q931.progress_indicator.location", "0x04"),
                ("q931.progress_indicator.description", "0x08"),
            ],
        ),
        case(
            Message::progress(
                r,
                ProgressIndicator::new(Location::Transit, ProgressDescription::NotEndToEndIsdn),
            ),
            &[
                ("q931.message_type", "0x03"),
                ("q931.progress_indicator.description", "0x01"),
            ],
        ),
        case(
            shifted,
            &[
                ("q931.message_type", "0x07"),
                ("q931.connected_number.digits", "301234567"),
            ],
        ),
        case(
            Message::connect_acknowledge(cr),
            &[("q931.message_type", "0x0f")],
        ),
        case(
            Message::disconnect(
                cr,
                Cause::new(CauseValue::NoCircuitAvailable, Location::PublicLocal),
            ),
            &[
                ("q931.message_type", "0x45"),
                ("q931.cause_value", "34"),
                ("q931.cause_location", "2"),
            ],
        ),
        case(
            Message::release(
                r,
                Some(
                    Cause::new(CauseValue::MandatoryIeMissing, Location::User)
                        .with_diagnostics(&[0x04]),
                ),
            ),
            &[("q931.message_type", "0x4d"), ("q931.cause_value", "96")],
        ),
        case(
            Message::release_complete(
                cr,
                Some(Cause::new(
                    CauseValue::Interworking,
                    Location::BeyondInterworking,
                )),
            ),
            &[
                ("q931.message_type", "0x5a"),
                ("q931.cause_value", "127"),
                ("q931.cause_location", "10"),
            ],
        ),
        case(
            Message::information(cr)
                .with(KeypadFacility::new("5"))
                .with_sending_complete(),
            &[("q931.message_type", "0x7b"), ("q931.keypad_facility", "5")],
        ),
        case(
            Message::notify(
                r,
                NotificationIndicator::new(NotificationDescription::USER_RESUMED),
            ),
            &[("q931.message_type", "0x6e")],
        ),
        case(
            // ROSE invoke of QSIG callingName (opcode 0), namePresentationAllowedSimple "Alice".
            Message::facility(
                cr,
                Facility::new(&[
                    0x91, 0xA1, 0x0D, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x80, 0x05, b'A', b'l',
                    b'i', b'c', b'e',
                ]),
            ),
            &[("q931.message_type", "0x62")],
        ),
        case(
            Message::status(
                r,
                Cause::new(CauseValue::MessageNotCompatibleWithState, Location::User)
                    .with_diagnostics(&[0x07]),
                CallState::new(CallStateValue::CallReceived),
            ),
            &[
                ("q931.message_type", "0x7d"),
                ("q931.cause_value", "101"),
                ("q931.call_state", "0x07"),
            ],
        ),
        case(
            Message::status_enquiry(cr),
            &[("q931.message_type", "0x75")],
        ),
        case(
            Message::restart(
                CallRef::global(2, CallRefFlag::FromOriginator),
                RestartIndicator::new(RestartClass::IndicatedChannels),
                Some(ch(5)),
            ),
            &[
                ("q931.message_type", "0x46"),
                ("q931.restart_indicator", "0x00"),
                ("q931.channel.number", "5"),
                ("q931.call_ref", "0000"),
            ],
        ),
        case(
            Message::restart_acknowledge(
                CallRef::global(2, CallRefFlag::ToOriginator),
                RestartIndicator::new(RestartClass::AllInterfaces),
                None,
            ),
            &[
                ("q931.message_type", "0x4e"),
                ("q931.restart_indicator", "0x07"),
            ],
        ),
        case(
            Message::service(
                cr,
                ChangeStatus {
                    channel_preference: true,
                    status: ServiceStatus::OutOfService,
                },
                Some(ch(3)),
            ),
            &[
                ("q931.maintenance_message_type", "0x0f"),
                ("q931.channel.number", "3"),
            ],
        ),
        case(
            Message::service_acknowledge(
                r,
                ChangeStatus {
                    channel_preference: true,
                    status: ServiceStatus::InService,
                },
                Some(ch(3)),
            ),
            &[("q931.maintenance_message_type", "0x07")],
        ),
        case(
            Message::restart(
                CallRef::global(2, CallRefFlag::FromOriginator),
                RestartIndicator::new(RestartClass::IndicatedChannels),
                Some(ChannelId::primary_slot_map(
                    &[1, 2, 24],
                    SlotMapKind::T1,
                    true,
                )),
            ),
            &[("q931.message_type", "0x46"), ("q931.channel.map", "1")],
        ),
        case(
            Message::setup(
                CallRef::one_octet(5, CallRefFlag::FromOriginator),
                BearerCapability::unrestricted_digital(),
            )
            .with(ChannelId::basic(2, true))
            .with(CalledPartyNumber::new(
                TypeOfNumber::Unknown,
                NumberingPlan::Unknown,
                "123",
            )),
            &[
                ("q931.call_ref_len", "1"),
                ("q931.call_ref", "05"),
                ("q931.information_transfer_capability", "0x08"),
                ("q931.channel.selection", "0x02"),
            ],
        ),
        // A name as a EuroISDN network side sends it (`Variant::name_display`). NI-2's
        // leads with the ANSI display type 0xB1, which Wireshark's Q.931 dissector shows as
        // a character of the text; libpri reads it as a type (tests/libpri_names.rs).
        case(
            Message::connect(r).with(
                q931::call::Variant::euro_isdn_e1()
                    .name_display(q931::lapd::Role::Network, "Carol Callee")
                    .unwrap(),
            ),
            &[
                ("q931.message_type", "0x07"),
                ("q931.display_information", "Carol Callee"),
            ],
        ),
        // The caller's name as NI-2 sends it in a SETUP's Facility (GR-1367): networking
        // extensions, interpretation, callingName (checked in the verbose dump: the last
        // frame).
        case(
            Message::facility(
                cr,
                q931::supplementary::name::ni2_facility(
                    q931::supplementary::name::NameOperation::Calling,
                    &q931::supplementary::name::PartyName::Allowed("Dave Facility".into()),
                    q931::supplementary::rose::InvokeId(3),
                ),
            ),
            &[("q931.message_type", "0x62")],
        ),
    ]
}

fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(args)
        .output()
        .expect("tshark must be installed (Debian package tshark)");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn tshark_decodes_every_message_we_encode() {
    let cases = cases();
    let mut pcap = pcap::PcapWriter::new(pcap::LINKTYPE_LAPD);
    for (i, c) in cases.iter().enumerate() {
        let l3 = c.msg.to_bytes().unwrap();
        // Alternate the direction (C/R) the way user and network commands differ.
        let frame = pcap::lapd_i_frame(0, i % 2 == 1, 0, i as u8, 0, false, &l3);
        pcap.packet(1_000_000 + i as u64 * 1000, &frame);
    }
    let path = pcap::temp_path("q931-tshark");
    pcap.write_to(&path).unwrap();
    let p = path.to_str().unwrap();

    let verbose = tshark(&["-r", p, "-V"]);
    for bad in ["Malformed", "Expert Info (Error", "Invalid"] {
        assert!(!verbose.contains(bad), "tshark reports {bad:?}:\n{verbose}");
    }
    assert_eq!(
        verbose.matches("\nQ.931\n").count(),
        cases.len(),
        "{verbose}"
    );

    let mut fields: Vec<&str> = cases
        .iter()
        .flat_map(|c| c.fields.iter().map(|(f, _)| *f))
        .collect();
    fields.sort();
    fields.dedup();
    let mut args = vec![
        "-r",
        p,
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "aggregator=,",
        "-E",
        "occurrence=a",
    ];
    for f in &fields {
        args.push("-e");
        args.push(f);
    }
    let out = tshark(&args);
    let rows: Vec<&str> = out.lines().collect();
    let mut mismatches = Vec::new();
    assert_eq!(rows.len(), cases.len());
    for (i, (c, row)) in cases.iter().zip(rows).enumerate() {
        let values: Vec<&str> = row.split('|').collect();
        for (field, want) in &c.fields {
            let idx = fields.iter().position(|f| f == field).unwrap();
            let got = values.get(idx).copied().unwrap_or("");
            if got != *want {
                mismatches.push(format!(
                    "frame {} ({}): {field} = {got:?}, want {want:?}",
                    i + 1,
                    c.msg.message_type
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    // Presence checks from the verbose dump.
    let frame = |n: usize| {
        verbose
            .split("\nFrame ")
            .nth(n - 1)
            .unwrap_or("")
            .to_owned()
    };
    assert!(frame(1).contains("Sending complete"), "{}", frame(1));
    assert!(
        frame(1).contains("Date/time: 26-11-26 20:41:05"),
        "{}",
        frame(1)
    );
    assert!(
        frame(1).contains("Signal: Dial tone on (0x00)"),
        "{}",
        frame(1)
    );
    assert!(frame(1).contains("Called party subaddress"));
    assert!(frame(1).contains("Calling party subaddress"));
    assert!(frame(1).contains("Low-layer compatibility"));
    // tshark 4.0 has no dissector for the connected subaddress (Q.951, 0x4D): it shows the
    // element's bytes, which must be ours.
    assert!(
        frame(7).contains("Unknown information element (0x4D)")
            && frame(7).contains("Data: 805035"),
        "{}",
        frame(7)
    );
    assert!(
        frame(7).contains("Non-locking shift to codeset 6"),
        "{}",
        frame(7)
    );
    assert!(
        frame(13).contains("Notification description: User resume (0x01)"),
        "{}",
        frame(13)
    );
    let last = frame(cases.len());
    assert!(
        last.contains("callingName")
            && last.contains("Dave Facility")
            && last.contains("discardAnyUnrecognisedInvokePdu"),
        "{last}"
    );
    assert!(
        frame(14).contains("callingName") && frame(14).contains("Alice"),
        "{}",
        frame(14)
    );
    // T1 slot map for channels 1, 2 and 24: 80 00 03.
    let map = frame(21);
    assert!(
        map.contains("Slot map: 0x80")
            && map.contains("Slot map: 0x00")
            && map.contains("Slot map: 0x03"),
        "{map}"
    );
    // Only the two elements above are unknown to tshark.
    assert_eq!(
        verbose.matches("Unknown information element").count(),
        2,
        "{verbose}"
    );
    if std::env::var_os("Q931_TSHARK_DUMP").is_some() {
        println!("{verbose}");
    }
    let _ = std::fs::remove_file(&path);
}

/// An IPv4 + TCP (port 1720) + TPKT (RFC 1006) packet carrying `payload`, for link type 101
/// (LINKTYPE_RAW). Checksums are left at zero: tshark does not verify them by default.
fn tpkt_over_tcp(payload: &[u8], seq: u32) -> Vec<u8> {
    let tpkt_len = (4 + payload.len()) as u16;
    let total = (20 + 20 + tpkt_len as usize) as u16;
    let mut p = Vec::with_capacity(total as usize);
    // IPv4: version 4, IHL 5, total length, id, TTL 64, protocol 6 (TCP), 127.0.0.1 -> .2.
    p.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0,
        0,
        64,
        6,
        0,
        0,
    ]);
    p.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 2]);
    // TCP: ports 40000 -> 1720, seq, ack, data offset 5, PSH|ACK, window.
    p.extend_from_slice(&40000u16.to_be_bytes());
    p.extend_from_slice(&1720u16.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&1u32.to_be_bytes());
    p.extend_from_slice(&[0x50, 0x18, 0xFF, 0xFF, 0, 0, 0, 0]);
    // TPKT: version 3, reserved, length.
    p.extend_from_slice(&[3, 0, (tpkt_len >> 8) as u8, tpkt_len as u8]);
    p.extend_from_slice(payload);
    p
}

#[test]
fn tshark_reads_the_h225_two_octet_user_user_length() {
    use q931::message::Dialect;
    // 300 octets of user information: only a 2-octet length can carry it.
    let payload: Vec<u8> = (0..300u32).map(|i| (i % 251) as u8).collect();
    let msg = Message::setup(
        CallRef::two_octet(0x4242, CallRefFlag::FromOriginator),
        BearerCapability::speech(Layer1Protocol::G711ALaw),
    )
    .with(Display::new("sip:alice"))
    .with(CalledPartyNumber::new(
        TypeOfNumber::National,
        NumberingPlan::Isdn,
        "800",
    ))
    .with(UserUser::new(UuProtocol::X208_X209, &payload));
    let mut q = Vec::new();
    msg.encode_with(&mut q, Dialect::H225).unwrap();
    assert_eq!(Message::decode_with(&q, Dialect::H225).unwrap(), msg);

    let mut pcap = pcap::PcapWriter::new(101);
    pcap.packet(1_000_000, &tpkt_over_tcp(&q, 1));
    let path = pcap::temp_path("q931-h225");
    pcap.write_to(&path).unwrap();
    // The H.225.0 ASN.1 dissector is turned off: the payload is not a real H.225 PDU, and the
    // point is the Q.931 framing around it.
    let verbose = tshark(&[
        "-r",
        path.to_str().unwrap(),
        "-V",
        "--disable-protocol",
        "h225",
    ]);
    let _ = std::fs::remove_file(&path);
    assert!(verbose.contains("TPKT"), "{verbose}");
    assert!(!verbose.contains("Malformed"), "{verbose}");
    assert!(!verbose.contains("Expert Info (Error"), "{verbose}");
    assert!(
        verbose.contains("Called party number digits: 800"),
        "{verbose}"
    );
    assert!(
        verbose.contains("Display information: sip:alice"),
        "{verbose}"
    );
    let uu = verbose
        .split("Information element: User-user")
        .nth(1)
        .unwrap_or("");
    assert!(uu.contains("Length: 301"), "{verbose}");
    assert!(uu.contains("X.208 and X.209"), "{verbose}");
}
