//! RAS requests we emit (GRQ, RRQ, lightweight RRQ keep-alive, ARQ, DRQ, URQ) on UDP
//! 1719, decoded by tshark: no malformed packet, and message type, sequence number,
//! aliases, keepAlive and time-to-live are what we meant. Plus round trips through our
//! own decoder. Skipped with a note when tshark is absent.

mod support;

use std::net::SocketAddrV4;
use std::process::Command;

use h323::h225::{Alias, Endpoint};
use h323::ras::{self, RasCall, Registrant};
use support::pcap::UdpPcap;

const GK: &str = "10.0.0.9:1719";
const US: &str = "10.0.0.1:1719";

fn registrant() -> Registrant {
    Registrant {
        endpoint: Endpoint::default(),
        ras_address: US.parse().unwrap(),
        call_signal_address: "10.0.0.1:1720".parse().unwrap(),
        aliases: vec![Alias::H323Id("gw-a".into())],
        prefixes: vec!["4930".into(), "4940".into()],
    }
}

fn call() -> RasCall {
    RasCall {
        endpoint_id: "EP-0001".into(),
        call_ref: 0x1234,
        call_id: support::CALL_ID,
        conference_id: support::CONF_ID,
        destination: vec![Alias::Dialled("4930123456".into())],
        source: vec![Alias::Dialled("1001".into())],
        dest_call_signal_address: None,
        src_call_signal_address: Some("10.0.0.1:1720".parse().unwrap()),
        bandwidth: 1280,
        answer_call: false,
    }
}

/// (message, expected tshark name, sequence number)
fn requests() -> Vec<(h323_asn1::h225::RasMessage, &'static str, u16)> {
    let r = registrant();
    vec![
        (
            ras::gatekeeper_request(1, &r, None).unwrap(),
            "gatekeeperRequest",
            1,
        ),
        (
            ras::registration_request(2, &r, Some(300), false, None, Some("GK-X")).unwrap(),
            "registrationRequest",
            2,
        ),
        (
            ras::registration_request(3, &r, Some(300), true, Some("EP-0001"), Some("GK-X"))
                .unwrap(),
            "registrationRequest",
            3,
        ),
        (
            ras::admission_request(4, &call()).unwrap(),
            "admissionRequest",
            4,
        ),
        (
            ras::disengage_request(5, &call()).unwrap(),
            "disengageRequest",
            5,
        ),
        (
            ras::unregistration_request(6, &r, Some("EP-0001"), Some("GK-X")).unwrap(),
            "unregistrationRequest",
            6,
        ),
    ]
}

#[test]
fn ras_requests_round_trip() {
    for (m, name, seq) in requests() {
        let b = ras::encode(&m).unwrap();
        let back = ras::decode(&b).unwrap();
        assert_eq!(back, m);
        assert_eq!(ras::message_name(&back), name);
        assert_eq!(ras::sequence_number(&back), Some(seq));
    }
}

#[test]
fn tshark_decodes_ras_requests() {
    if !Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("tshark not installed: skipped");
        return;
    }
    let gk: SocketAddrV4 = GK.parse().unwrap();
    let us: SocketAddrV4 = US.parse().unwrap();
    let reqs = requests();
    let mut pcap = UdpPcap::new();
    for (m, _, _) in &reqs {
        pcap.datagram(us, gk, &ras::encode(m).unwrap());
    }
    let dir = std::env::temp_dir().join(format!("h323-ras-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ras.pcap");
    std::fs::write(&path, &pcap.bytes).unwrap();
    let out = Command::new("tshark")
        .args(["-n", "-V", "-o", "udp.check_checksum:TRUE", "-r"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v = String::from_utf8(out.stdout).unwrap();
    assert!(!v.contains("Malformed"), "{v}");
    assert!(!v.contains("[Expert Info (Error"), "{v}");
    assert!(!v.contains("[Expert Info (Warning"), "{v}");
    let frames: Vec<&str> = v
        .split("\nFrame ")
        .filter(|f| f.contains("H.225.0 RAS"))
        .collect();
    assert_eq!(frames.len(), reqs.len(), "{v}");
    for (f, (_, name, seq)) in frames.iter().zip(&reqs) {
        let l: Vec<&str> = f.lines().map(str::trim).collect();
        assert!(
            l.iter()
                .any(|x| x.starts_with(&format!("RasMessage: {name} ("))),
            "{name}:\n{f}"
        );
        assert!(l.contains(&format!("requestSeqNum: {seq}").as_str()), "{f}");
    }
    // GRQ and the full RRQ carry our alias and the gateway's prefixes; the keep-alive
    // RRQ says keepAlive and carries the endpoint identifier instead of aliases.
    assert!(frames[0].contains("h323-ID: gw-a"));
    assert!(frames[1].contains("dialledDigits: 4930") && frames[1].contains("dialledDigits: 4940"));
    assert!(frames[1].contains("keepAlive: False"));
    assert!(frames[1].contains("timeToLive: 300"));
    assert!(frames[2].contains("keepAlive: True"));
    assert!(frames[2].contains("endpointIdentifier: EP-0001"));
    assert!(!frames[2].contains("h323-ID: gw-a"));
    assert!(
        frames[3].contains("dialledDigits: 4930123456") && frames[3].contains("bandWidth: 1280")
    );
    assert!(frames[4].contains("disengageReason: normalDrop ("));
    assert!(frames[5].contains("gatekeeperIdentifier: GK-X"));
}
