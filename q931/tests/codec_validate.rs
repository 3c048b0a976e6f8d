//! The Q.931 §5.8 error procedures: each problem is found, and the handling and cause (with
//! diagnostics) are the ones the clause prescribes.

use q931::codeset::{Codeset, Shift};
use q931::ie::*;
use q931::message::{mandatory_ies, CallRef, CallRefFlag, Direction, Message, MessageType};
use q931::validate::{check, message_type_cause, Handling, Problem};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn handle(bytes: &str, dir: Direction) -> (Vec<Problem>, Handling) {
    let m = Message::decode(&hex(bytes)).expect("decodes");
    let r = check(&m, dir);
    let h = r.handling(Location::User);
    (r.problems, h)
}

fn cause(v: CauseValue, diag: &[u8]) -> Cause {
    Cause::new(v, Location::User).with_diagnostics(diag)
}

const U2N: Direction = Direction::UserToNetwork;
const N2U: Direction = Direction::NetworkToUser;

#[test]
fn a_clean_setup_is_processed() {
    let (p, h) = handle(
        "08 02 00 01 05 04 03 80 90 A3 18 03 A9 83 81 70 02 81 31",
        N2U,
    );
    assert!(p.is_empty(), "{p:?}");
    assert_eq!(h, Handling::Process);
}

#[test]
fn missing_mandatory_elements_5_8_6_1() {
    // SETUP without bearer capability: RELEASE COMPLETE with cause 96, diagnostic 0x04.
    let (p, h) = handle("08 02 00 01 05 70 02 81 31", U2N);
    assert_eq!(p, [Problem::MissingMandatory(IeId::BEARER_CAPABILITY)]);
    assert_eq!(
        h,
        Handling::RejectSetup(cause(CauseValue::MandatoryIeMissing, &[0x04]))
    );
    // Network to user the channel identification is mandatory too: both listed.
    let (_, h) = handle("08 02 00 01 05 70 02 81 31", N2U);
    assert_eq!(
        h,
        Handling::RejectSetup(cause(CauseValue::MandatoryIeMissing, &[0x04, 0x18]))
    );
    // STATUS without call state: no action, STATUS cause 96 diagnostic 0x14.
    let (_, h) = handle("08 02 80 01 7D 08 02 80 9E", N2U);
    assert_eq!(
        h,
        Handling::Status(cause(CauseValue::MandatoryIeMissing, &[0x14]))
    );
    // DISCONNECT without cause: clear as for cause 31, RELEASE carries cause 96.
    let (_, h) = handle("08 02 80 01 45", N2U);
    assert_eq!(
        h,
        Handling::ClearAsNormal(cause(CauseValue::MandatoryIeMissing, &[0x08]))
    );
    // PROGRESS without progress indicator, NOTIFY without notification indicator.
    assert_eq!(
        handle("08 02 80 01 03", N2U).1,
        Handling::Status(cause(CauseValue::MandatoryIeMissing, &[0x1E]))
    );
    assert_eq!(
        handle("08 02 80 01 6E", N2U).1,
        Handling::Status(cause(CauseValue::MandatoryIeMissing, &[0x27]))
    );
    // RESTART for indicated channels without channel identification.
    let (p, _) = handle("08 02 00 00 46 79 01 80", N2U);
    assert_eq!(p, [Problem::MissingMandatory(IeId::CHANNEL_ID)]);
    // RESTART without restart indicator.
    assert_eq!(
        handle("08 02 00 00 46", N2U).1,
        Handling::Status(cause(CauseValue::MandatoryIeMissing, &[0x79]))
    );
}

#[test]
fn mandatory_content_error_5_8_6_2() {
    // DISCONNECT whose cause lacks octet 4.
    let (p, h) = handle("08 02 80 01 45 08 01 80", N2U);
    assert!(matches!(
        p[0],
        Problem::MandatoryContentError(IeId::CAUSE, _)
    ));
    assert_eq!(
        h,
        Handling::ClearAsNormal(cause(CauseValue::InvalidIeContents, &[0x08]))
    );
    // SETUP whose bearer capability is truncated: RELEASE COMPLETE cause 100.
    let (_, h) = handle("08 02 00 01 05 04 01 80", U2N);
    assert_eq!(
        h,
        Handling::RejectSetup(cause(CauseValue::InvalidIeContents, &[0x04]))
    );
    // An element running past the end of the message counts as a content error too.
    let (_, h) = handle("08 02 00 01 05 04 03 80 90", U2N);
    assert_eq!(
        h,
        Handling::RejectSetup(cause(CauseValue::InvalidIeContents, &[0x04]))
    );
}

#[test]
fn unrecognised_elements_5_8_7_1() {
    // An unknown element 0x60: act on the message, STATUS with cause 99 may be sent.
    let (p, h) = handle("08 02 80 01 01 60 01 00", N2U);
    assert_eq!(
        p,
        [Problem::Unrecognised {
            codeset: Codeset::Q931,
            id: 0x60
        }]
    );
    assert_eq!(
        h,
        Handling::ProcessAndReport(cause(CauseValue::IeNonExistent, &[0x60]))
    );
    // Comprehension required (identifier 0000 xxxx): as a missing mandatory element.
    let (p, h) = handle("08 02 00 01 05 04 03 80 90 A3 0A 01 00", U2N);
    assert_eq!(p, [Problem::ComprehensionRequired(IeId(0x0A))]);
    assert_eq!(
        h,
        Handling::RejectSetup(cause(CauseValue::MandatoryIeMissing, &[0x0A]))
    );
    // RELEASE COMPLETE: no action on unrecognised information.
    assert_eq!(handle("08 02 80 01 5A 60 01 00", N2U).1, Handling::Process);
    // Known-but-raw elements (network-specific facilities) are recognised.
    assert_eq!(
        handle("08 02 00 01 05 04 03 80 90 A3 18 01 A3 20 02 00 31", N2U).1,
        Handling::Process
    );
    // An element in codeset 6 nobody here knows is reported, without diagnostics from
    // another codeset.
    let (p, h) = handle("08 02 80 01 01 9E 01 01 00", N2U);
    assert_eq!(
        p,
        [Problem::Unrecognised {
            codeset: Codeset::LOCAL_NETWORK,
            id: 0x01
        }]
    );
    assert_eq!(
        h,
        Handling::ProcessAndReport(cause(CauseValue::IeNonExistent, &[]))
    );
}

/// A message with more unrecognised elements than a cause can name: the STATUS's cause
/// names each once, as many as fit (Q.931 §3 message tables: 32 octets), and encodes.
#[test]
fn diagnostics_of_many_unrecognised_elements_fit_in_a_cause() {
    // The variable-length identifiers this stack does not know (0x10 up: below is
    // "comprehension required").
    let unknown: Vec<u8> = (0x10u8..0x80)
        .filter(|id| {
            let one = format!("08 02 80 01 01 {id:02X} 01 00");
            handle(&one, N2U).1
                == Handling::ProcessAndReport(cause(CauseValue::IeNonExistent, &[*id]))
        })
        .collect();
    assert!(unknown.len() > q931::ie::MAX_DIAGNOSTICS, "{unknown:?}");
    let mut hex = String::from("08 02 80 01 01");
    for id in unknown.iter().chain(&unknown) {
        hex.push_str(&format!(" {id:02X} 01 00"));
    }
    let (_, h) = handle(&hex, N2U);
    let Handling::ProcessAndReport(c) = h else {
        panic!("{h:?}")
    };
    assert_eq!(c.diagnostics, unknown[..q931::ie::MAX_DIAGNOSTICS]);
    let mut out = Vec::new();
    q931::ie::IeCodec::encode(&c, &mut out);
    assert!(out.len() <= 32 - 2, "contents of {} octets", out.len());
}

#[test]
fn non_mandatory_content_error_5_8_7_2() {
    // ALERTING with a one-octet progress indicator.
    let (p, h) = handle("08 02 80 01 01 1E 01 88", N2U);
    assert!(matches!(
        p[0],
        Problem::ContentError(IeId::PROGRESS_INDICATOR, _)
    ));
    assert_eq!(
        h,
        Handling::ProcessAndReport(cause(CauseValue::InvalidIeContents, &[0x1E]))
    );
}

#[test]
fn unknown_message_type_5_8_4() {
    let (p, h) = handle("08 02 80 01 7F", N2U);
    assert_eq!(p, [Problem::UnknownMessageType(0x7F)]);
    assert_eq!(h, Handling::UnknownMessageType(0x7F));
    // The state machine picks 97 or 98; the diagnostic is the message type.
    let c = message_type_cause(
        CauseValue::MessageNotCompatibleOrNonExistent,
        0x7F,
        Location::User,
    );
    assert_eq!(c.value.value(), 98);
    assert_eq!(c.diagnostics, [0x7F]);
}

#[test]
fn global_call_reference_5_8_3_2() {
    // SETUP on the global call reference: STATUS cause 81 on the global call reference.
    let (p, h) = handle("08 02 00 00 05 04 03 80 90 A3", U2N);
    assert!(p.contains(&Problem::GlobalCallRefNotAllowed));
    assert_eq!(
        h,
        Handling::GlobalCallRefStatus(Cause::new(CauseValue::InvalidCallReference, Location::User))
    );
    // RESTART and STATUS may use it.
    assert_eq!(handle("08 02 00 00 46 79 01 87", N2U).1, Handling::Process);
    assert_eq!(
        handle("08 02 80 00 7D 08 02 80 9E 14 01 00", N2U).1,
        Handling::Process
    );
}

#[test]
fn setup_with_the_flag_set_is_ignored_5_8_3_2() {
    let (p, h) = handle("08 02 80 01 05 04 03 80 90 A3", U2N);
    assert_eq!(p, [Problem::SetupWithFlagSet]);
    assert_eq!(h, Handling::Ignore);
}

#[test]
fn sequence_repetition_and_shift_rules() {
    // §5.8.5.1: called number before bearer capability is out of sequence (processed).
    let (p, h) = handle("08 02 00 01 05 70 02 81 31 04 03 80 90 A3", U2N);
    assert_eq!(p, [Problem::OutOfSequence(IeId::BEARER_CAPABILITY)]);
    assert_eq!(h, Handling::Process);
    // §5.8.5.2: a repeated called number is ignored; two progress indicators are allowed.
    let (p, _) = handle("08 02 00 01 05 04 03 80 90 A3 70 02 81 31 70 02 81 32", U2N);
    assert_eq!(p, [Problem::Repeated(IeId::CALLED_PARTY_NUMBER)]);
    let (p, _) = handle("08 02 80 01 01 1E 02 82 81 1E 02 82 88", N2U);
    assert!(p.is_empty(), "{p:?}");
    // §4.5.2: locking shift to a lower codeset.
    let (p, _) = handle("08 02 80 01 01 96 95", N2U);
    assert_eq!(
        p,
        [Problem::InvalidShift(Shift::locking(Codeset::NATIONAL))]
    );
}

#[test]
fn answers_are_built_for_each_handling() {
    let answer = |bytes: &str, dir, state| {
        let m = Message::decode(&hex(bytes)).unwrap();
        check(&m, dir)
            .handling(Location::User)
            .answer(&m, state)
            .map(|a| a.to_bytes().unwrap())
    };
    // STATUS without call state, received in the active state: STATUS 96 (0x14), state 10.
    assert_eq!(
        answer("08 02 80 01 7D 08 02 80 9E", N2U, CallStateValue::Active),
        Some(hex("08 02 00 01 7D 08 03 80 E0 14 14 01 0A"))
    );
    // SETUP without bearer capability: RELEASE COMPLETE 96 (0x04).
    assert_eq!(
        answer("08 02 00 05 05 70 02 81 31", U2N, CallStateValue::Null),
        Some(hex("08 02 80 05 5A 08 03 80 E0 04"))
    );
    // DISCONNECT without cause: RELEASE 96 (0x08).
    assert_eq!(
        answer("08 02 80 01 45", N2U, CallStateValue::Active),
        Some(hex("08 02 00 01 4D 08 03 80 E0 08"))
    );
    // RELEASE with an unknown element: RELEASE COMPLETE 99 (0x60).
    assert_eq!(
        answer(
            "08 02 80 01 4D 08 02 80 90 60 01 00",
            N2U,
            CallStateValue::DisconnectRequest
        ),
        Some(hex("08 02 00 01 5A 08 03 80 E3 60"))
    );
    // ALERTING with an unknown element: STATUS 99 (0x60), state 4.
    assert_eq!(
        answer(
            "08 02 80 01 01 60 01 00",
            N2U,
            CallStateValue::CallDelivered
        ),
        Some(hex("08 02 00 01 7D 08 03 80 E3 60 14 01 04"))
    );
    // SETUP on the global call reference: STATUS 81 on the global call reference.
    assert_eq!(
        answer("08 02 00 00 05 04 03 80 90 A3", U2N, CallStateValue::Null),
        Some(hex("08 02 80 00 7D 08 02 80 D1 14 01 00"))
    );
    // Nothing for a clean message, an ignored one, or RELEASE COMPLETE.
    assert_eq!(
        answer("08 02 80 01 01", N2U, CallStateValue::CallDelivered),
        None
    );
    assert_eq!(
        answer("08 02 80 01 05 04 03 80 90 A3", U2N, CallStateValue::Null),
        None
    );
    assert_eq!(
        answer("08 02 80 01 5A", N2U, CallStateValue::ReleaseRequest),
        None
    );
}

#[test]
fn mandatory_table() {
    assert_eq!(
        mandatory_ies(MessageType::Setup, Direction::UserToNetwork),
        [IeId::BEARER_CAPABILITY]
    );
    assert_eq!(
        mandatory_ies(MessageType::Setup, Direction::NetworkToUser),
        [IeId::BEARER_CAPABILITY, IeId::CHANNEL_ID]
    );
    assert_eq!(
        mandatory_ies(MessageType::Status, Direction::UserToNetwork),
        [IeId::CAUSE, IeId::CALL_STATE]
    );
    assert!(mandatory_ies(MessageType::Alerting, Direction::NetworkToUser).is_empty());
    assert!(mandatory_ies(MessageType::StatusEnquiry, Direction::NetworkToUser).is_empty());
    // Every builder produces a message with its mandatory elements.
    let cr = CallRef::two_octet(9, CallRefFlag::FromOriginator);
    let msgs = [
        Message::setup(cr, BearerCapability::speech(Layer1Protocol::G711ALaw)),
        Message::disconnect(
            cr,
            Cause::new(CauseValue::NormalCallClearing, Location::User),
        ),
        Message::progress(
            cr,
            ProgressIndicator::new(Location::User, ProgressDescription::InbandAvailable),
        ),
        Message::status(
            cr,
            Cause::new(CauseValue::ResponseToStatusEnquiry, Location::User),
            CallState::new(CallStateValue::Null),
        ),
    ];
    for m in msgs {
        assert!(
            check(&m, Direction::UserToNetwork).is_clean(),
            "{}",
            m.message_type
        );
    }
}
