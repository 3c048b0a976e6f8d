//! Known-answer decodes of H.225.0 and H.245 byte strings captured from real endpoints.
//!
//! Sources (public test vectors, captures of real equipment):
//! - dpkt (github.com/kbandla/dpkt, `dpkt/h225.py`): a Q.931 SETUP over TPKT from Ekiga
//!   2.0.2 / OPAL 2.2.2, H.225.0 v4 with 14 fast-start proposals (`data/ekiga-setup-v4.tpkt`).
//! - Erlang/OTP asn1 test suite (`lib/asn1/test/h323test.erl`, Ericsson AB): an
//!   Ericsson "V0.1" Setup announcing H.225.0 version 1 with v2-era extensions only
//!   (no h245Tunnelling, multipleCalls, maintainConnection), Alerting and Connect from
//!   Microsoft NetMeeting 3.0 (H.225.0 v2), an AdmissionRequest, and a NetMeeting H.245
//!   TerminalCapabilitySet followed by a MasterSlaveDetermination.

use std::net::SocketAddrV4;

use h323::fast_start::{self, Proposal, G711};
use h323::h225::{Alias, BodyKind, CallSignal, Guid};
use h323::tpkt::TpktDecoder;
use h323_asn1::{h225, h245, rasn};
use q931::ie::{UserUser, UuProtocol};
use q931::{CallRef, CallRefFlag, Dialect, Message, MessageType};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Erlang/OTP h323test.erl `t0()`: Ericsson V0.1 Setup, H323-UserInformation. The
/// string there carries 4 more octets (63 AA 34 AB) after the PER value.
const ERICSSON_SETUP_V1: &str = "00B8060008914A0001010180533622C000000000074572696373736F6E0356302E3100010180533700AC1F38C206B80045367AE75C5740120300AC1F38C6415000411C110000D7D22EA88D511C0200AC1F3806C0583802150000080E1403001E80800A04000100AC1F38C661A820400000060401004E1403001E80801114000100AC1F38C72EE000AC1F38C72EE00100010063AA34AB";
/// h323test.erl `dec_alerting()`: NetMeeting Alerting, H.225.0 v2.
const NETMEETING_ALERTING_V2: &str = "0380060008914a0002020120110000000000000000000000000000000000";
/// h323test.erl `dec_connect()`: NetMeeting Connect, H.225.0 v2.
const NETMEETING_CONNECT_V2: &str = "02c0060008914a00020088e1293a04a322c0b500534c164d6963726f736f6674ae204e65744d656474696e67ae0003332e3000001689edc5bf23d3118c2d00c04f4b1cd00900110000000000000000000000000000000000";
/// h323test.erl `arq()`: AdmissionRequest.
const ARQ: &str = "27900007086000340036003300320038003700370101805337010180533600AC1F38C60693000D000445367AE75C5740120300AC1F38C6415004E0200100110000D7D22EA88D511C0200AC1F38C6C0580100";
/// h323test.erl `dec_h245_TCS()`: NetMeeting TerminalCapabilitySet; the string goes on
/// with a MasterSlaveDetermination and 4 more octets.
const NETMEETING_TCS: &str = "02700106000881750003800d00003c000100000100000100000e807fff04b5428080010180000e4830600100800c96a88000002020b500534c48020000000000f4010000f401010004000000000002000100401f000000100000000104002000f401070000010000000200ff00000000c0004000f0000000cc0130ff880118ff00008000012040b380000220c0b38000032020b500534c28020000000000a0000000a000040010000000000070000100401f0000580200000c001000000000008000042020b500534c28020000000000a0000000a000040010000000000071000100401f00003a07000025001000000000008000052020b500534c28020000000000800000008000050014000000000072000100401f00000809000025001000000000008000062020b500534c28020000000000800000008000050014000000000073000100401f00007f0a00002b0010000000000080000722000b40000909a00120390c000a09900120390c000b09880120390c000c08a2203940000d089220390004800602070007000600040005000200010000000300000a00000e800702070007000600040005000200010000000300000900000e800802070007000600040005000200010000000300000c00000e800902070007000600040005000200010000000300000b00000e800a02070007000600040005000200010000000300000d00000e0300000b01003280299d93369631bc";

fn round_trips(uu: &h225::H323UserInformation) {
    let again = rasn::aper::encode(uu).unwrap();
    assert_eq!(
        &rasn::aper::decode::<h225::H323UserInformation>(&again).unwrap(),
        uu
    );
}

#[test]
fn ekiga_v4_setup_over_tpkt() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/ekiga-setup-v4.tpkt"
    ))
    .unwrap();
    assert_eq!(bytes.len(), 1041);
    let mut tpkt = TpktDecoder::new();
    tpkt.handle_bytes(&bytes);
    let q931 = tpkt.poll_packet().unwrap().unwrap();
    let setup = CallSignal::decode(&q931).unwrap();
    assert_eq!(setup.message_type(), MessageType::Setup);
    assert_eq!(setup.call_ref().value, 0x542B);
    assert_eq!(setup.call_ref().flag, CallRefFlag::FromOriginator);
    assert_eq!(setup.display(), Some("Jon Oberheide\0"));
    assert_eq!(setup.kind(), Some(BodyKind::Setup));
    assert_eq!(setup.protocol_version(), Some(4));
    assert_eq!(
        setup.source_aliases(),
        vec![Alias::H323Id("Jon Oberheide".into())]
    );
    assert_eq!(
        setup.destination_aliases(),
        vec![Alias::H323Id("tcp$h323.voxgratia.org".into())]
    );
    assert_eq!(setup.h245_tunneling(), Some(true));
    assert_eq!(
        setup.call_identifier(),
        Some(Guid(
            hex("5e881d0cb706db119eca0010a4896d6a").try_into().unwrap()
        ))
    );
    // 14 proposals: Speex, iLBC, GSM, ... and G.711 µ-law then A-law at 30 ms, each as a
    // receive (our RTP 152.160.38.65:5002) and a transmit proposal.
    let fs = setup.fast_start();
    assert_eq!(fs.len(), 14);
    let g711: Vec<(bool, G711, u16)> = fs
        .iter()
        .filter_map(|e| match fast_start::classify(e) {
            Proposal::Transmit { codec, frames, .. } => Some((true, codec, frames)),
            Proposal::Receive {
                codec, frames, rtp, ..
            } => {
                assert_eq!(
                    rtp,
                    Some("152.160.38.65:5002".parse::<SocketAddrV4>().unwrap())
                );
                Some((false, codec, frames))
            }
            Proposal::Other => None,
        })
        .collect();
    assert_eq!(
        g711,
        vec![
            (false, G711::MuLaw, 30),
            (true, G711::MuLaw, 30),
            (false, G711::ALaw, 30),
            (true, G711::ALaw, 30)
        ]
    );
    // Re-encoded and decoded again, nothing is lost. (The octets differ from the peer's:
    // we know 17 extension additions of Setup-UUIE where the v4 encoder knew fewer, and
    // X.691 sizes the extension bit-map by the encoder's module.)
    let again = setup.to_bytes().unwrap();
    assert_eq!(CallSignal::decode(&again).unwrap(), setup);
}

#[test]
fn ericsson_setup_from_an_old_version_peer() {
    let bytes = hex(ERICSSON_SETUP_V1);
    let (uu, rest) =
        rasn::aper::decode_with_remainder::<h225::H323UserInformation>(&bytes).unwrap();
    assert_eq!(rest, &[0x63, 0xAA, 0x34, 0xAB]);
    let h225::H323UUPDUH323MessageBody::setup(s) = &uu.h323_uu_pdu.h323_message_body else {
        panic!("not a setup: {uu:?}");
    };
    assert_eq!(
        h323::h225::ids::protocol_version(&s.protocol_identifier),
        Some(1)
    );
    // The v3/v4 extension additions generated code used to require are absent.
    assert_eq!(uu.h323_uu_pdu.h245_tunnelling, None);
    assert_eq!(s.multiple_calls, None);
    assert_eq!(s.maintain_connection, None);
    assert_eq!(s.media_wait_for_connect, Some(false));
    assert!(s.call_identifier.is_some());
    assert_eq!(
        h323::h225::ids::aliases_from_asn_pub(s.source_address.as_ref()),
        vec![Alias::Dialled("2003".into())]
    );
    assert_eq!(
        h323::h225::ids::aliases_from_asn_pub(s.destination_address.as_ref()),
        vec![Alias::Dialled("2004".into())]
    );
    assert_eq!(
        s.dest_call_signal_address
            .as_ref()
            .and_then(h323::h225::socket_addr),
        Some("172.31.56.194:1720".parse().unwrap())
    );
    let vendor = s.source_info.vendor.as_ref().unwrap();
    assert_eq!(&vendor.product_id.as_ref().unwrap()[..], b"Ericsson");
    assert_eq!(s.fast_start.as_ref().map(Vec::len), Some(2));
    round_trips(&uu);

    // The same value inside a Q.931 SETUP goes through CallSignal.
    let frame = Message::new(
        CallRef::two_octet(4, CallRefFlag::FromOriginator),
        MessageType::Setup,
    )
    .with(UserUser::new(
        UuProtocol::X208_X209,
        &bytes[..bytes.len() - 4],
    ));
    let mut q931 = Vec::new();
    frame.encode_with(&mut q931, Dialect::H225).unwrap();
    let sig = CallSignal::decode(&q931).unwrap();
    assert_eq!(sig.protocol_version(), Some(1));
    assert_eq!(sig.h245_tunneling(), None);
    assert_eq!(sig.source_aliases(), vec![Alias::Dialled("2003".into())]);
}

#[test]
fn netmeeting_v2_alerting_and_connect() {
    let a = hex(NETMEETING_ALERTING_V2);
    let uu: h225::H323UserInformation = rasn::aper::decode(&a).unwrap();
    let h225::H323UUPDUH323MessageBody::alerting(al) = &uu.h323_uu_pdu.h323_message_body else {
        panic!("not alerting");
    };
    assert_eq!(
        h323::h225::ids::protocol_version(&al.protocol_identifier),
        Some(2)
    );
    assert_eq!(al.multiple_calls, None);
    assert_eq!(uu.h323_uu_pdu.h245_tunnelling, None);
    round_trips(&uu);

    let c = hex(NETMEETING_CONNECT_V2);
    let uu: h225::H323UserInformation = rasn::aper::decode(&c).unwrap();
    let h225::H323UUPDUH323MessageBody::connect(co) = &uu.h323_uu_pdu.h323_message_body else {
        panic!("not connect");
    };
    assert_eq!(
        h323::h225::ids::protocol_version(&co.protocol_identifier),
        Some(2)
    );
    assert_eq!(
        co.h245_address.as_ref().and_then(h323::h225::socket_addr),
        Some("136.225.41.58:1187".parse().unwrap())
    );
    let vendor = co.destination_info.vendor.as_ref().unwrap();
    assert_eq!(vendor.vendor.t35_country_code, 181);
    assert_eq!(vendor.vendor.manufacturer_code, 21324);
    assert_eq!(co.maintain_connection, None);
    round_trips(&uu);
}

#[test]
fn admission_request() {
    let b = hex(ARQ);
    let ras: h225::RasMessage = rasn::aper::decode(&b).unwrap();
    let h225::RasMessage::admissionRequest(arq) = &ras else {
        panic!("not ARQ");
    };
    assert_eq!(arq.request_seq_num.0, 8);
    assert_eq!(arq.band_width.0, 13);
    assert_eq!(
        arq.src_call_signal_address
            .as_ref()
            .and_then(h323::h225::socket_addr),
        Some("172.31.56.198:1683".parse().unwrap())
    );
    let again = rasn::aper::encode(&ras).unwrap();
    assert_eq!(rasn::aper::decode::<h225::RasMessage>(&again).unwrap(), ras);
}

#[test]
fn netmeeting_terminal_capability_set_then_msd() {
    let b = hex(NETMEETING_TCS);
    let (tcs, rest) =
        rasn::aper::decode_with_remainder::<h245::MultimediaSystemControlMessage>(&b).unwrap();
    assert_eq!(
        h323::h245_tunnel::message_name(&tcs),
        "terminalCapabilitySet"
    );
    let h245::MultimediaSystemControlMessage::request(h245::RequestMessage::terminalCapabilitySet(
        t,
    )) = &tcs
    else {
        panic!()
    };
    assert_eq!(t.sequence_number.0, 1);
    let arcs: &[u32] = &t.protocol_identifier;
    assert_eq!(arcs, &[0, 0, 8, 245, 0, 3]);
    assert!(t.capability_table.as_ref().unwrap().len() > 5);
    // What follows is the next TPKT packet of the H.245 connection: NetMeeting's
    // MasterSlaveDetermination (terminal type 50), then 4 octets of the next segment.
    let mut tpkt = TpktDecoder::new();
    tpkt.handle_bytes(rest);
    let msd = tpkt.poll_packet().unwrap().unwrap();
    assert_eq!(
        h323::h245_tunnel::decode(&msd).unwrap(),
        h323::h245_tunnel::master_slave_determination(50, 0x299D93)
    );
    assert_eq!(tpkt.pending(), 4);
}
