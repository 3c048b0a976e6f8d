//! The hand-written aligned-PER codec of Setup messages (`h323::h225::setup_per`)
//! against rasn's generic codec, the reference: wherever the fast path answers, it
//! gives rasn's decoded value and rasn's octets, over the test corpus (the known-answer
//! captures, every H.225.0 message of the harness's real calls, the messages the
//! tshark tests check), over values using every component and alternative it covers,
//! and over 8,000 mutations of Setups (where rasn fails, the fast path must not
//! answer).

use std::net::SocketAddrV4;

use h323::fast_start::{self, MediaAddresses, G711};
use h323::h225::{setup_per, Alias, CallSignal, Endpoint, Guid, SetupParams};
use h323::h245_tunnel;
use h323::harness;
use h323::q931::ie::InfoElement;
use h323::q931::{Dialect, Message};
use h323::tpkt::TpktDecoder;
use h323_asn1::h225 as asn;
use h323_asn1::rasn;
use h323_asn1::rasn::types::{BitString, BmpString, Ia5String, ObjectIdentifier, OctetString};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Where the fast path answers, it agrees with rasn; returns whether it answered for
/// both directions.
fn check(per: &[u8]) -> bool {
    let slow = rasn::aper::decode::<asn::H323UserInformation>(per);
    let fast = setup_per::decode(per);
    if let Some(f) = &fast {
        let s = slow
            .as_ref()
            .unwrap_or_else(|e| panic!("fast path decoded what rasn rejects ({e}): {per:02x?}"));
        assert_eq!(f, s, "decoded values differ for {per:02x?}");
    }
    let Ok(value) = slow else { return false };
    fast.is_some() & check_encode(&value)
}

/// The fast encoder gives rasn's octets, or nothing (and leaves the buffer alone).
fn check_encode(value: &asn::H323UserInformation) -> bool {
    let mut out = vec![0xAA, 0xBB];
    let fast = setup_per::encode(value, &mut out);
    match rasn::aper::encode(value) {
        Ok(slow) if fast.is_some() => {
            assert_eq!(&out[..2], &[0xAA, 0xBB]);
            assert_eq!(out[2..], slow[..], "encodings differ for {value:?}");
            true
        }
        Ok(_) => {
            assert_eq!(out, [0xAA, 0xBB]);
            false
        }
        Err(e) => {
            assert!(fast.is_none(), "fast path encoded what rasn rejects ({e})");
            assert_eq!(out, [0xAA, 0xBB]);
            false
        }
    }
}

/// The User-user contents (after the protocol discriminator) of a Q.931 message.
fn user_user(q931: &[u8]) -> Option<Vec<u8>> {
    let m = Message::decode_with(q931, Dialect::H225).ok()?;
    m.ies.iter().find_map(|ie| match ie {
        InfoElement::UserUser(u) => Some(u.data.to_vec()),
        _ => None,
    })
}

fn media() -> MediaAddresses {
    MediaAddresses {
        rtp: "192.0.2.10:5000".parse().unwrap(),
        rtcp: "192.0.2.10:5001".parse().unwrap(),
    }
}

/// The benchmark's Setup, and variants of what `CallSignal::setup` emits.
fn our_setups() -> Vec<CallSignal> {
    let proposals = fast_start::proposals(&[G711::ALaw, G711::MuLaw], 20, media());
    let full = SetupParams {
        call_ref: 0x2A2A,
        call_id: Guid([0x5E; 16]),
        conference_id: Guid([0xC0; 16]),
        endpoint: Endpoint::default(),
        source_aliases: vec![
            Alias::H323Id("gateway-a".into()),
            Alias::Dialled("493012345".into()),
        ],
        destination_aliases: vec![Alias::Dialled("4940987654321".into())],
        source_signal_address: Some("192.0.2.10:40000".parse::<SocketAddrV4>().unwrap()),
        dest_signal_address: Some("192.0.2.20:1720".parse::<SocketAddrV4>().unwrap()),
        fast_start: fast_start::encode_all(&proposals).unwrap(),
        h245_address: None,
        h245_tunneling: true,
        h245_control: vec![
            h245_tunnel::encode(&h245_tunnel::master_slave_determination(60, 0x123456)).unwrap(),
        ],
        called_number: Some("4940987654321".into()),
        calling_number: Some("493012345".into()),
        display: Some("Gateway A".into()),
        bearer_a_law: true,
    };
    let mut variants = vec![full.clone()];
    let mut p = full.clone();
    p.fast_start.clear();
    p.h245_control.clear();
    p.h245_tunneling = false;
    p.h245_address = Some("192.0.2.10:40001".parse().unwrap());
    p.source_aliases = vec![
        Alias::Url("h323:gw@example.com".into()),
        Alias::Email("gw@example.com".into()),
        Alias::H323Id("Grüße €".into()),
    ];
    variants.push(p);
    let mut p = full.clone();
    p.endpoint.gateway = !p.endpoint.gateway;
    p.source_aliases.clear();
    p.destination_aliases.clear();
    p.source_signal_address = None;
    p.dest_signal_address = None;
    // Long enough for the 2-octet open-type length of fastStart (X.691 §11.9.3.7).
    p.fast_start = vec![vec![0x5A; 100], vec![0xA5; 60], vec![]];
    variants.push(p);
    variants
        .iter()
        .map(|p| CallSignal::setup(p).unwrap())
        .collect()
}

/// The test corpus as H323-UserInformation encodings.
fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut c = Vec::new();
    let ekiga = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/ekiga-setup-v4.tpkt"
    ))
    .unwrap();
    let mut tpkt = TpktDecoder::new();
    tpkt.handle_bytes(&ekiga);
    let q931 = tpkt.poll_packet().unwrap().unwrap();
    c.push(("ekiga v4 setup".into(), user_user(&q931).unwrap()));
    // Erlang/OTP h323test.erl (see tests/known_answer.rs): Ericsson V0.1 Setup (with
    // and without the 4 octets after it), NetMeeting Alerting and Connect.
    let ericsson = hex("00B8060008914A0001010180533622C000000000074572696373736F6E0356302E3100010180533700AC1F38C206B80045367AE75C5740120300AC1F38C6415000411C110000D7D22EA88D511C0200AC1F3806C0583802150000080E1403001E80800A04000100AC1F38C661A820400000060401004E1403001E80801114000100AC1F38C72EE000AC1F38C72EE00100010063AA34AB");
    c.push((
        "ericsson v1 setup".into(),
        ericsson[..ericsson.len() - 4].to_vec(),
    ));
    c.push(("ericsson v1 setup + 4".into(), ericsson));
    c.push((
        "netmeeting alerting".into(),
        hex("0380060008914a0002020120110000000000000000000000000000000000"),
    ));
    c.push(("netmeeting connect".into(), hex("02c0060008914a00020088e1293a04a322c0b500534c164d6963726f736f6674ae204e65744d656474696e67ae0003332e3000001689edc5bf23d3118c2d00c04f4b1cd00900110000000000000000000000000000000000")));
    for (name, _, records) in harness::call_seed_records() {
        for (i, r) in records.iter().enumerate() {
            if r.channel == h323::call::Channel::Signalling && r.bytes.len() > 4 {
                if let Some(uu) = user_user(&r.bytes[4..]) {
                    c.push((format!("{name}-{i}"), uu));
                }
            }
        }
    }
    for (i, s) in our_setups().iter().enumerate() {
        c.push((
            format!("our setup {i}"),
            user_user(&s.to_bytes().unwrap()).unwrap(),
        ));
    }
    c
}

#[test]
fn corpus_agrees_with_rasn() {
    let corpus = corpus();
    let mut answered = Vec::new();
    for (name, per) in &corpus {
        if check(per) {
            answered.push(name.as_str());
        }
    }
    // Our own Setups (the benchmark's among them) and those of the harness's calls go
    // through the fast path; the others (older module versions, other bodies) do not.
    for i in 0..3 {
        assert!(
            answered.contains(&format!("our setup {i}").as_str()),
            "{answered:?}"
        );
    }
    assert!(answered.len() > 3, "{answered:?}");
    assert!(!answered.contains(&"ekiga v4 setup"));
    assert!(!answered.contains(&"netmeeting connect"));
}

/// CallSignal as a whole: the bytes are the ones rasn's path gives, and the decoded
/// value is rasn's.
#[test]
fn call_signal_round_trip_matches_rasn() {
    for s in our_setups() {
        let bytes = s.to_bytes().unwrap();
        let per = user_user(&bytes).unwrap();
        assert_eq!(per, rasn::aper::encode(s.uu().unwrap()).unwrap());
        let back = CallSignal::decode(&bytes).unwrap();
        assert_eq!(
            back.uu().unwrap(),
            &rasn::aper::decode::<asn::H323UserInformation>(&per).unwrap()
        );
        assert_eq!(back.to_bytes().unwrap(), bytes);
    }
}

fn setup_mut(uu: &mut asn::H323UserInformation) -> &mut asn::SetupUUIE {
    match &mut uu.h323_uu_pdu.h323_message_body {
        asn::H323UUPDUH323MessageBody::setup(s) => s,
        _ => unreachable!(),
    }
}

fn non_standard(oid: bool) -> asn::NonStandardParameter {
    let id = if oid {
        asn::NonStandardIdentifier::object(
            ObjectIdentifier::new(vec![1, 3, 6, 1, 4, 1, 99999, 7]).unwrap(),
        )
    } else {
        asn::NonStandardIdentifier::h221NonStandard(asn::H221NonStandard::new(181, 0, 21324))
    };
    asn::NonStandardParameter::new(id, OctetString::from_slice(&[1, 2, 3]))
}

/// Every covered component and alternative, one value at a time and all together:
/// rasn's octets from the fast encoder, and rasn's value from the fast decoder.
#[test]
fn covered_values_agree_with_rasn() {
    let base = our_setups()[0].uu().unwrap().clone();
    type Edit = Box<dyn Fn(&mut asn::H323UserInformation)>;
    fn transports() -> Vec<asn::TransportAddress> {
        vec![
            asn::TransportAddress::ipAddress(asn::TransportAddressIpAddress::new(
                OctetString::from_slice(&[10, 0, 0, 1]),
                65535,
            )),
            asn::TransportAddress::ipxAddress(asn::TransportAddressIpxAddress::new(
                OctetString::from_slice(&[1, 2, 3, 4, 5, 6]),
                OctetString::from_slice(&[7, 8, 9, 10]),
                OctetString::from_slice(&[11, 12]),
            )),
            asn::TransportAddress::ip6Address(asn::TransportAddressIp6Address::new(
                OctetString::from_slice(&[0x20; 16]),
                1720,
            )),
            asn::TransportAddress::netBios(OctetString::from_slice(&[0x41; 16])),
            asn::TransportAddress::nsap(OctetString::from_slice(&[0x47; 20])),
            asn::TransportAddress::nsap(OctetString::from_slice(&[0x47])),
            asn::TransportAddress::nonStandardAddress(non_standard(true)),
        ]
    }
    fn aliases() -> Vec<asn::AliasAddress> {
        let mut v = vec![
            asn::AliasAddress::dialledDigits(Ia5String::try_from("#*,0123456789").unwrap()),
            asn::AliasAddress::dialledDigits(Ia5String::try_from("1".repeat(128)).unwrap()),
            asn::AliasAddress::h323_ID(BmpString::try_from([0u8, 0x41].as_slice()).unwrap()),
            asn::AliasAddress::h323_ID(BmpString::try_from(vec![0x4E; 512]).unwrap()),
            asn::AliasAddress::url_ID(Ia5String::try_from("h323:a@b").unwrap()),
            asn::AliasAddress::url_ID(Ia5String::try_from("u".repeat(512)).unwrap()),
            asn::AliasAddress::email_ID(Ia5String::try_from("a@b.c").unwrap()),
        ];
        v.extend(transports().into_iter().map(asn::AliasAddress::transportID));
        v
    }
    let mut edits: Vec<(&str, Edit)> = vec![
        ("nothing", Box::new(|_| {})),
        (
            "aliases",
            Box::new(|u| {
                let s = setup_mut(u);
                s.source_address = Some(aliases());
                s.destination_address = Some(aliases());
                s.dest_extra_call_info = Some(aliases());
                s.remote_extension_address = aliases().pop();
            }),
        ),
        (
            "addresses",
            Box::new(|u| {
                let s = setup_mut(u);
                for (i, t) in transports().into_iter().enumerate() {
                    match i % 3 {
                        0 => s.h245_address = Some(t),
                        1 => s.dest_call_signal_address = Some(t),
                        _ => s.source_call_signal_address = Some(t),
                    }
                }
            }),
        ),
        (
            "root options",
            Box::new(|u| {
                let s = setup_mut(u);
                s.dest_extra_crv = Some(vec![
                    asn::CallReferenceValue(0),
                    asn::CallReferenceValue(65535),
                ]);
                s.active_mc = true;
                s.conference_goal = asn::SetupUUIEConferenceGoal::invite(());
                s.call_type = asn::CallType::nToN(());
            }),
        ),
        (
            "goal extension",
            Box::new(|u| {
                setup_mut(u).conference_goal =
                    asn::SetupUUIEConferenceGoal::capability_negotiation(());
            }),
        ),
        (
            "goal extension 2",
            Box::new(|u| {
                let s = setup_mut(u);
                s.conference_goal =
                    asn::SetupUUIEConferenceGoal::callIndependentSupplementaryService(());
                s.call_type = asn::CallType::oneToN(());
            }),
        ),
        (
            "additions",
            Box::new(|u| {
                let s = setup_mut(u);
                s.media_wait_for_connect = Some(true);
                s.can_overlap_send = Some(true);
                s.endpoint_identifier = Some(asn::EndpointIdentifier(
                    BmpString::try_from(vec![0x30; 256]).unwrap(),
                ));
                s.multiple_calls = Some(true);
                s.maintain_connection = None;
                s.symmetric_operation_required = Some(());
                s.parallel_h245_control = Some(vec![OctetString::from_slice(&[9; 200])]);
                s.hop_count = Some(31);
            }),
        ),
        (
            "no additions",
            Box::new(|u| {
                let s = setup_mut(u);
                s.source_call_signal_address = None;
                s.call_identifier = None;
                s.fast_start = None;
                s.media_wait_for_connect = None;
                s.can_overlap_send = None;
                s.multiple_calls = None;
                s.maintain_connection = None;
                u.h323_uu_pdu.h245_tunnelling = None;
                u.h323_uu_pdu.h245_control = None;
            }),
        ),
        (
            "endpoint",
            Box::new(|u| {
                let e = &mut setup_mut(u).source_info;
                e.non_standard_data = Some(non_standard(false));
                e.gatekeeper = Some(asn::GatekeeperInfo::new(Some(non_standard(true))));
                e.gateway = Some(asn::GatewayInfo::new(None, Some(non_standard(false))));
                e.mcu = Some(asn::McuInfo::new(None, None));
                e.terminal = Some(asn::TerminalInfo::new(Some(non_standard(false))));
                e.mc = true;
                e.undefined_node = true;
                e.set = Some(BitString::from_slice(&[0x80, 0, 0x01, 0xFF]));
                if let Some(v) = &mut e.vendor {
                    v.product_id = Some(OctetString::from_slice(&[0x50; 256]));
                    v.version_id = None;
                    v.enterprise_number = ObjectIdentifier::new(vec![2, 999, 3]);
                }
            }),
        ),
        (
            "endpoint bare",
            Box::new(|u| {
                let e = &mut setup_mut(u).source_info;
                e.vendor = None;
                e.gateway = None;
                e.terminal = None;
            }),
        ),
        (
            "pdu",
            Box::new(|u| {
                let p = &mut u.h323_uu_pdu;
                p.non_standard_data = Some(non_standard(true));
                p.h4501_supplementary_service = Some(vec![OctetString::from_slice(&[1]); 3]);
                p.h245_tunnelling = Some(false);
                p.non_standard_control = Some(vec![non_standard(false), non_standard(true)]);
                p.provisional_resp_to_h245_tunnelling = Some(());
                u.user_data = Some(asn::H323UserInformationUserData::new(
                    4,
                    OctetString::from_slice(&[0x33; 131]),
                ));
            }),
        ),
        (
            "protocol identifier",
            Box::new(|u| {
                setup_mut(u).protocol_identifier = asn::ProtocolIdentifier(
                    ObjectIdentifier::new(vec![0, 0, 8, 2250, 0, 4]).unwrap(),
                );
            }),
        ),
    ];
    // And all of them at once.
    let all: Vec<Edit> = edits.drain(1..).map(|(_, e)| e).collect();
    let mut together = base.clone();
    for e in &all {
        e(&mut together);
    }
    let mut values = vec![base.clone(), together];
    for e in all {
        let mut v = base.clone();
        e(&mut v);
        values.push(v);
    }
    for v in values {
        let per = rasn::aper::encode(&v).unwrap();
        assert!(check_encode(&v), "fast path did not encode {v:?}");
        assert_eq!(setup_per::decode(&per).as_ref(), Some(&v), "{per:02x?}");
        assert!(check(&per));
    }
}

/// Values the fast path does not cover or that break a constraint: it leaves them to
/// rasn (same octets or same error).
#[test]
fn uncovered_values_go_to_rasn() {
    let base = our_setups()[0].uu().unwrap().clone();
    let mut v = base.clone();
    setup_mut(&mut v).hop_count = Some(0); // INTEGER (1..31)
    assert!(!check_encode(&v));
    let mut v = base.clone();
    setup_mut(&mut v).display_name = Some(vec![]);
    assert!(!check_encode(&v));
    let mut v = base.clone();
    setup_mut(&mut v).source_address = Some(vec![asn::AliasAddress::dialledDigits(
        Ia5String::try_from("12A").unwrap(),
    )]);
    assert!(!check_encode(&v));
    let mut v = base.clone();
    setup_mut(&mut v).source_info.set = Some(BitString::from_slice(&[1, 2]));
    assert!(!check_encode(&v));
    let mut v = base;
    v.h323_uu_pdu.generic_data = Some(vec![]);
    assert!(!check_encode(&v));
}

/// 8,000 mutations (bit flips, octet changes, truncations, insertions) of Setups: the
/// fast path answers only with rasn's value.
#[test]
fn mutated_setups_agree_with_rasn() {
    let seeds: Vec<Vec<u8>> = corpus()
        .into_iter()
        .filter(|(_, per)| setup_per::decode(per).is_some())
        .map(|(_, per)| per)
        .collect();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = move |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    let (mut answered, mut total) = (0, 0);
    for i in 0..8_000 {
        let mut m = seeds[i % seeds.len()].clone();
        for _ in 0..1 + rnd(3) {
            let at = rnd(m.len());
            match rnd(4) {
                0 => m[at] ^= 1 << rnd(8),
                1 => m[at] = rnd(256) as u8,
                2 => m.truncate(at),
                _ => m.insert(at, rnd(256) as u8),
            }
            if m.is_empty() {
                m.push(0);
            }
        }
        total += 1;
        if setup_per::decode(&m).is_some() {
            answered += 1;
        }
        check(&m);
    }
    // Some mutations keep a valid covered Setup (a changed digit, address, flag).
    assert!(answered > total / 50, "{answered} of {total}");
}
