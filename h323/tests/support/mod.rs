//! Shared by the integration tests: a sample call's messages, and a pcap writer.
#![allow(dead_code)]

pub mod pcap;
pub mod tshark;

use std::net::SocketAddrV4;

use h323::fast_start::{self, MediaAddresses, G711};
use h323::h225::{Alias, CallSignal, Endpoint, Guid, ResponseParams, SetupParams};
use h323::h245_tunnel;
use h323_asn1::h225 as asn;
use h323_asn1::rasn::types::OctetString;
use q931::ie::{CallStateValue, CauseValue};
use q931::{CallRef, CallRefFlag};

pub const CALLER: SocketAddrV4 = SocketAddrV4::new(std::net::Ipv4Addr::new(10, 0, 0, 1), 40000);
pub const CALLEE: SocketAddrV4 = SocketAddrV4::new(std::net::Ipv4Addr::new(10, 0, 0, 2), 1720);

pub fn caller_media() -> MediaAddresses {
    MediaAddresses {
        rtp: "10.0.0.1:5000".parse().unwrap(),
        rtcp: "10.0.0.1:5001".parse().unwrap(),
    }
}

pub fn callee_media() -> MediaAddresses {
    MediaAddresses {
        rtp: "10.0.0.2:6000".parse().unwrap(),
        rtcp: "10.0.0.2:6001".parse().unwrap(),
    }
}

pub const CALL_ID: Guid = Guid([
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF, 0x01,
]);
pub const CONF_ID: Guid = Guid([
    0xC0, 0xFE, 0xF9, 0x3E, 0xCD, 0x9E, 0xD6, 0x11, 0x9A, 0xB2, 0x00, 0x04, 0x76, 0x22, 0x20, 0x17,
]);

/// A Setup with fast start (G.711 A-law and µ-law, 20 ms: four proposals), aliases,
/// addresses and a tunnelled MasterSlaveDetermination.
pub fn setup_params() -> SetupParams {
    let proposals = fast_start::proposals(&[G711::ALaw, G711::MuLaw], 20, caller_media());
    SetupParams {
        call_ref: 0x1234,
        call_id: CALL_ID,
        conference_id: CONF_ID,
        endpoint: Endpoint::default(),
        source_aliases: vec![Alias::H323Id("gw-a".into()), Alias::Dialled("1001".into())],
        destination_aliases: vec![Alias::Dialled("4930123456".into())],
        source_signal_address: Some(CALLER),
        dest_signal_address: Some(CALLEE),
        fast_start: fast_start::encode_all(&proposals).unwrap(),
        h245_address: None,
        h245_tunneling: true,
        h245_control: vec![
            h245_tunnel::encode(&h245_tunnel::master_slave_determination(60, 0x0A0B0C)).unwrap(),
        ],
        called_number: Some("4930123456".into()),
        calling_number: Some("1001".into()),
        display: Some("Gateway A".into()),
        bearer_a_law: true,
    }
}

pub fn response_params(fast_start: Vec<Vec<u8>>, h245_control: Vec<Vec<u8>>) -> ResponseParams {
    ResponseParams {
        call_ref: 0x1234,
        call_id: CALL_ID,
        conference_id: CONF_ID,
        endpoint: Endpoint {
            gateway: false,
            ..Endpoint::default()
        },
        fast_start,
        fast_connect_refused: false,
        h245_address: None,
        h245_tunneling: true,
        h245_control,
        display: None,
    }
}

/// Which way a message goes: caller → callee (true) or back.
pub struct Sample {
    pub from_caller: bool,
    pub signal: CallSignal,
    /// What tshark must show: h323-message-body name.
    pub body: &'static str,
    pub fast_start: usize,
    /// Tunnelled H.245 message names.
    pub h245: Vec<&'static str>,
}

/// Every message kind we emit, as one call would carry them.
pub fn sample_call() -> Vec<Sample> {
    let setup = CallSignal::setup(&setup_params()).unwrap();
    let offered: Vec<OctetString> = setup.fast_start().to_vec();
    let answer = fast_start::select(&offered, &[G711::ALaw], callee_media()).unwrap();
    let msd_ack = h245_tunnel::encode(&h245_tunnel::master_slave_determination_ack(false)).unwrap();
    let to_caller = CallRef::two_octet(0x1234, CallRefFlag::ToOriginator);
    let to_callee = CallRef::two_octet(0x1234, CallRefFlag::FromOriginator);
    let mut connect_params = response_params(answer.elements.clone(), vec![]);
    connect_params.h245_address = Some("10.0.0.2:1800".parse().unwrap());
    vec![
        Sample {
            from_caller: true,
            signal: setup,
            body: "setup",
            fast_start: 4,
            h245: vec!["masterSlaveDetermination"],
        },
        Sample {
            from_caller: false,
            signal: CallSignal::call_proceeding(&response_params(vec![], vec![])),
            body: "callProceeding",
            fast_start: 0,
            h245: vec![],
        },
        Sample {
            from_caller: false,
            signal: CallSignal::alerting(&response_params(
                answer.elements.clone(),
                vec![msd_ack.clone()],
            )),
            body: "alerting",
            fast_start: 2,
            h245: vec!["masterSlaveDeterminationAck"],
        },
        Sample {
            from_caller: false,
            signal: CallSignal::progress(&response_params(vec![], vec![])),
            body: "progress",
            fast_start: 0,
            h245: vec![],
        },
        Sample {
            from_caller: false,
            signal: CallSignal::connect(&connect_params),
            body: "connect",
            fast_start: 2,
            h245: vec![],
        },
        Sample {
            from_caller: true,
            signal: CallSignal::facility(to_callee, CALL_ID, None, None, &[msd_ack]),
            body: "empty",
            fast_start: 0,
            h245: vec!["masterSlaveDeterminationAck"],
        },
        Sample {
            from_caller: false,
            signal: CallSignal::facility(
                to_caller,
                CALL_ID,
                Some(asn::FacilityReason::startH245(())),
                Some("10.0.0.2:1800".parse().unwrap()),
                &[],
            ),
            body: "facility",
            fast_start: 0,
            h245: vec![],
        },
        Sample {
            from_caller: true,
            signal: CallSignal::information(to_callee, CALL_ID, Some("5"), &[]),
            body: "information",
            fast_start: 0,
            h245: vec![],
        },
        Sample {
            from_caller: false,
            signal: CallSignal::status(
                to_caller,
                CALL_ID,
                CauseValue::ResponseToStatusEnquiry,
                CallStateValue::Active,
            ),
            body: "status",
            fast_start: 0,
            h245: vec![],
        },
        Sample {
            from_caller: true,
            signal: CallSignal::release_complete(
                to_callee,
                CALL_ID,
                None,
                Some(CauseValue::UserBusy),
                true,
            ),
            body: "releaseComplete",
            fast_start: 0,
            h245: vec![],
        },
    ]
}
