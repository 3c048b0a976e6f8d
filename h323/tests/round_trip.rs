//! Round trips of every message we emit, the unknown-extension trap, and a randomized
//! no-panic run of the decoders over mutated messages.

use crate::support::sample_call;
use h323::h225::{BodyKind, CallSignal, UserInfo};
use h323::{fast_start, h245_tunnel, tpkt};
use q931::ie::{CauseValue, UserUser, UuProtocol};
use q931::{CallRef, CallRefFlag, Dialect, Message, MessageType};

#[test]
fn every_sample_message_round_trips() {
    for s in sample_call() {
        let bytes = s.signal.to_bytes().unwrap();
        let back = CallSignal::decode(&bytes).unwrap();
        assert_eq!(back.kind().unwrap().asn1_name(), s.body);
        // The Q.931 part comes back with its IEs in ascending order, the UU identical.
        assert_eq!(back.uu(), s.signal.uu());
        assert_eq!(back.to_bytes().unwrap(), bytes);
        assert_eq!(back.fast_start().len(), s.fast_start);
        let names: Vec<&str> = h245_tunnel::decode_all(back.h245_control())
            .iter()
            .map(|m| h245_tunnel::message_name(m.as_ref().unwrap()))
            .collect();
        assert_eq!(names, s.h245);
        assert_eq!(
            back.call_identifier(),
            if s.body == "empty" {
                None
            } else {
                Some(crate::support::CALL_ID)
            }
        );
    }
}

#[test]
fn setup_fields_survive() {
    let setup = CallSignal::setup(&crate::support::setup_params()).unwrap();
    let back = CallSignal::decode(&setup.to_bytes().unwrap()).unwrap();
    assert_eq!(back.message_type(), MessageType::Setup);
    assert_eq!(back.kind(), Some(BodyKind::Setup));
    assert_eq!(back.protocol_version(), Some(h323::h225::PROTOCOL_VERSION));
    assert_eq!(back.conference_id(), Some(crate::support::CONF_ID));
    assert_eq!(
        back.source_aliases(),
        crate::support::setup_params().source_aliases
    );
    assert_eq!(
        back.destination_aliases(),
        crate::support::setup_params().destination_aliases
    );
    assert_eq!(back.h245_tunneling(), Some(true));
    assert_eq!(back.called_number(), Some("4930123456"));
    assert_eq!(back.calling_number(), Some("1001"));
    let answer = fast_start::select(
        back.fast_start(),
        &[fast_start::G711::MuLaw],
        crate::support::callee_media(),
    )
    .unwrap();
    assert_eq!(answer.negotiated.codec, fast_start::G711::MuLaw);
    assert_eq!(
        answer.negotiated.remote_rtp,
        crate::support::caller_media().rtp
    );
}

#[test]
fn release_complete_cause_and_reason() {
    let samples = sample_call();
    let rc = &samples.last().unwrap().signal;
    let back = CallSignal::decode(&rc.to_bytes().unwrap()).unwrap();
    assert_eq!(
        back.release_reason(),
        Some(h323::h225::ReleaseReason::InConf)
    );
    assert_eq!(back.release_cause(), CauseValue::UserBusy);
}

/// A message whose h323-message-body is an extension alternative (index 40) no version
/// of H.225.0 defines yet: the Q.931 part is decoded, the User-user payload kept raw,
/// relayed unchanged, and reported; the next message on the connection is unaffected.
#[test]
fn unknown_message_body_alternative_is_kept_raw() {
    // bits: UI ext 0, user-data 0, UU-PDU ext 0, nonStandardData 0, body extended 1,
    // normally-small index 0 101000 (40), padding; open type of one octet 00.
    let uu = vec![0x0A, 0x80, 0x01, 0x00];
    let frame = Message::new(
        CallRef::two_octet(7, CallRefFlag::ToOriginator),
        MessageType::Facility,
    )
    .with(UserUser::new(UuProtocol::X208_X209, &uu));
    let mut bytes = Vec::new();
    frame.encode_with(&mut bytes, Dialect::H225).unwrap();
    let sig = CallSignal::decode(&bytes).unwrap();
    match &sig.user_info {
        UserInfo::Unknown { raw, detail } => {
            assert_eq!(raw, &uu);
            assert!(!detail.is_empty());
        }
        other => panic!("expected Unknown, got {other:?}"),
    }
    assert_eq!(sig.kind(), None);
    assert_eq!(sig.message_type(), MessageType::Facility);
    assert_eq!(sig.to_bytes().unwrap(), bytes);

    // Malformed PER, by contrast, is an error.
    let frame = Message::new(
        CallRef::two_octet(7, CallRefFlag::ToOriginator),
        MessageType::Facility,
    )
    .with(UserUser::new(UuProtocol::X208_X209, &[0x00, 0xB8]));
    let mut bad = Vec::new();
    frame.encode_with(&mut bad, Dialect::H225).unwrap();
    assert!(CallSignal::decode(&bad).is_err());
}

/// xorshift64*: a fixed-seed generator, so the run is the same every time.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn randomized_mutations_never_panic() {
    let seeds: Vec<Vec<u8>> = sample_call()
        .iter()
        .map(|s| s.signal.to_bytes().unwrap())
        .collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut decoded = 0usize;
    for i in 0..8_000 {
        let mut m = seeds[i % seeds.len()].clone();
        match rng.below(4) {
            0 => {
                let n = rng.below(m.len() + 1);
                m.truncate(n);
            }
            1 => {
                for _ in 0..=rng.below(4) {
                    let p = rng.below(m.len());
                    m[p] ^= 1 << rng.below(8);
                }
            }
            2 => {
                let p = rng.below(m.len());
                m[p] = rng.next() as u8;
            }
            _ => {
                // Mutate only inside the PER payload (after the UU header).
                let start = m.len().saturating_sub(20);
                let p = start + rng.below(m.len() - start);
                m[p] = rng.next() as u8;
            }
        }
        if let Ok(sig) = CallSignal::decode(&m) {
            decoded += 1;
            let _ = sig.to_bytes();
            for e in sig.fast_start() {
                let _ = fast_start::classify(e);
            }
            let _ = h245_tunnel::decode_all(sig.h245_control());
        }
        let mut d = tpkt::TpktDecoder::new();
        d.handle_bytes(&m);
        while let Ok(Some(_)) = d.poll_packet() {}
    }
    // Some mutations land in don't-care bits: the decoders did real work.
    assert!(decoded > 100, "only {decoded} mutated messages decoded");
}

/// The Q.931 framing H.225.0 needs from crate `q931`: a 2-octet call reference (a 1-octet
/// one is refused), a User-user IE with its 2-octet length, and clear errors when it is
/// missing or runs past the end.
#[test]
fn q931_framing_errors() {
    use h323::h225::CallSignalError;
    let good = sample_call()[0].signal.to_bytes().unwrap();
    // 08 02 12 34 05 ...: protocol discriminator, call reference length 2, value, SETUP.
    assert_eq!(&good[..5], &[0x08, 0x02, 0x12, 0x34, 0x05]);
    // The User-user IE is last, with a 2-octet length and protocol discriminator 0x05.
    let uu = good.iter().rposition(|&b| b == 0x7E).unwrap();
    let len = u16::from_be_bytes([good[uu + 1], good[uu + 2]]) as usize;
    assert_eq!(uu + 3 + len, good.len());
    assert_eq!(good[uu + 3], 0x05);

    let one_octet = [0x08, 0x01, 0x05, 0x5A];
    assert_eq!(
        CallSignal::decode(&one_octet),
        Err(CallSignalError::CallReferenceLength(1))
    );
    let no_uu = [0x08, 0x02, 0x00, 0x07, 0x5A];
    assert_eq!(
        CallSignal::decode(&no_uu),
        Err(CallSignalError::MissingUserUser)
    );
    let truncated = &good[..good.len() - 3];
    assert!(matches!(
        CallSignal::decode(truncated),
        Err(CallSignalError::UserUserInvalid(_))
    ));
    assert!(matches!(
        CallSignal::decode(&[0x09, 0x02, 0x00, 0x07, 0x5A]),
        Err(CallSignalError::Frame(_))
    ));
}

/// A message whose Q.931 part ends with an element after a shift: the User-user IE goes
/// before the shift (Q.931 §4.5.1), the rest as received.
#[test]
fn user_user_goes_before_a_shift() {
    let mut sig = sample_call()[1].signal.clone();
    sig.frame.push_in_codeset(q931::ie::RawIe {
        codeset: q931::codeset::Codeset::LOCAL_NETWORK,
        id: 0x01,
        contents: vec![0xAA],
    });
    let bytes = sig.to_bytes().unwrap();
    let back = CallSignal::decode(&bytes).unwrap();
    assert_eq!(back.uu(), sig.uu());
    assert_eq!(back.frame.ies, sig.frame.ies);
    // ... 7E LL LL 05 <PER> 9E 01 01 AA (non-locking shift to codeset 6): the shift and the codeset-6 element come last.
    assert_eq!(&bytes[bytes.len() - 4..], &[0x9E, 0x01, 0x01, 0xAA]);
}
