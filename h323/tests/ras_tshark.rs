//! RAS requests we emit (GRQ, RRQ, lightweight RRQ keep-alive, ARQ, DRQ, URQ) on UDP
//! 1719, decoded by tshark: no malformed packet, and message type, sequence number,
//! aliases, keepAlive and time-to-live are what we meant. Plus round trips through our
//! own decoder. Skipped with a note when tshark is absent.

use std::net::SocketAddrV4;
use std::process::Command;

use crate::support::pcap::UdpPcap;
use h323::h225::{Alias, Endpoint};
use h323::ras::{self, RasCall, Registrant};

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
        call_id: crate::support::CALL_ID,
        conference_id: crate::support::CONF_ID,
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

/// Everything the RAS client and the gatekeeper double put on the wire in one session
/// (discovery, registration, keep-alive with a real endpoint id, a restart with RRJ and
/// a new registration, ARQ/ACF, ARJ, DRQ/DCF, the gatekeeper's IRQ/BRQ/DRQ/URQ and our
/// IRR/BCF/DCF/UCF, our URQ/UCF), plus the answers only the builders make (GRJ, URJ,
/// DRJ, BRJ, RIP, XRS).
fn session() -> Vec<(SocketAddrV4, SocketAddrV4, Vec<u8>, &'static str, u16)> {
    use crate::ras_pair::{client_config, registrant, Pair, GK};
    use h323::h225::Guid;
    use h323::ras::client::{Admission, GatekeeperLocation};
    use h323::ras::confirm;
    use h323_asn1::h225 as asn;
    use std::time::Duration;

    let r = registrant(1, "gw-a", &["4930", "4940"]);
    let mut p = Pair::new(
        Pair::gk_config(),
        vec![client_config(r, GatekeeperLocation::Multicast)],
    );
    p.start_all();
    p.run_until(Duration::from_secs(50)); // one keep-alive
    p.gk.restart();
    p.run_until(Duration::from_secs(100)); // RRJ, full RRQ
    let now = p.now;
    let adm = |to: &str, n: u8| Admission {
        call_ref: 0x200 + u16::from(n),
        call_id: Guid([n; 16]),
        conference_id: Guid([0xC0 | n; 16]),
        destination: vec![Alias::Dialled(to.into())],
        dest_call_signal_address: None,
        source: vec![],
        bandwidth: 1280,
        answer_call: false,
    };
    p.clients[0].admit(now, adm("4930555", 1)).unwrap();
    p.clients[0].admit(now, adm("777", 2)).unwrap();
    p.shuttle();
    p.gk.info_request("EP-0002", 0).unwrap();
    p.gk.bandwidth_request("EP-0002", Guid([1; 16]), 640)
        .unwrap();
    p.shuttle();
    p.clients[0].admit(now, adm("4930556", 3)).unwrap();
    p.shuttle();
    p.clients[0].disengage(now, Guid([3; 16])).unwrap();
    p.shuttle();
    p.gk.disengage("EP-0002", Guid([1; 16])).unwrap();
    p.shuttle();
    p.gk.unregister("EP-0002").unwrap();
    p.shuttle();
    p.clients[0].unregister(now).unwrap();
    p.shuttle();
    let mut out: Vec<_> = p
        .wire
        .iter()
        .map(|w| (w.src, w.dst, w.payload.clone(), w.name, w.seq.unwrap()))
        .collect();
    let us = registrant(1, "", &[]).ras_address;
    let extra = [
        (
            confirm::gatekeeper_reject(
                90,
                Some("GK-TEST"),
                asn::GatekeeperRejectReason::terminalExcluded(()),
            )
            .unwrap(),
            "gatekeeperReject",
        ),
        (
            confirm::unregistration_reject(91, asn::UnregRejectReason::notCurrentlyRegistered(())),
            "unregistrationReject",
        ),
        (
            confirm::disengage_reject(92, asn::DisengageRejectReason::notRegistered(())),
            "disengageReject",
        ),
        (
            confirm::bandwidth_reject(93, asn::BandRejectReason::invalidConferenceID(()), 0),
            "bandwidthReject",
        ),
        (confirm::request_in_progress(94, 5000), "requestInProgress"),
    ];
    for (m, name) in extra {
        let seq = ras::sequence_number(&m).unwrap();
        out.push((GK, us, ras::encode(&m).unwrap(), name, seq));
    }
    let xrs = confirm::unknown_message_response(95, &[0x01, 0x02]);
    out.push((
        us,
        GK,
        ras::encode(&xrs).unwrap(),
        "unknownMessageResponse",
        95,
    ));
    out
}

fn frames_of(v: &str) -> Vec<&str> {
    v.split("\nFrame ")
        .filter(|f| f.contains("H.225.0 RAS"))
        .collect()
}

#[test]
fn tshark_decodes_a_ras_session() {
    if !Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("tshark not installed: skipped");
        return;
    }
    let msgs = session();
    let names: Vec<&str> = msgs.iter().map(|m| m.3).collect();
    for kind in [
        "gatekeeperRequest",
        "gatekeeperConfirm",
        "registrationRequest",
        "registrationConfirm",
        "registrationReject",
        "admissionRequest",
        "admissionConfirm",
        "admissionReject",
        "infoRequest",
        "infoRequestResponse",
        "bandwidthRequest",
        "bandwidthConfirm",
        "disengageRequest",
        "disengageConfirm",
        "unregistrationRequest",
        "unregistrationConfirm",
    ] {
        assert!(names.contains(&kind), "{kind} missing from {names:?}");
    }
    let mut pcap = UdpPcap::new();
    for (src, dst, payload, _, _) in &msgs {
        pcap.datagram(*src, *dst, payload);
    }
    let dir = std::env::temp_dir().join(format!("h323-ras-session-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ras-session.pcap");
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
    let frames = frames_of(&v);
    assert_eq!(frames.len(), msgs.len(), "{v}");
    for (f, (_, _, _, name, seq)) in frames.iter().zip(&msgs) {
        let l: Vec<&str> = f.lines().map(str::trim).collect();
        assert!(
            l.iter()
                .any(|x| x.starts_with(&format!("RasMessage: {name} ("))),
            "{name}:\n{f}"
        );
        assert!(l.contains(&format!("requestSeqNum: {seq}").as_str()), "{f}");
    }
    let find = |name: &str, needle: &str| {
        frames
            .iter()
            .zip(&msgs)
            .any(|(f, m)| m.3 == name && f.contains(needle))
    };
    // The multicast GRQ on port 1718, and what the answers carry.
    assert!(frames[0].contains("224.0.1.41") && frames[0].contains("Dst Port: 1718"));
    assert!(find("gatekeeperConfirm", "gatekeeperIdentifier: GK-TEST"));
    assert!(find("registrationConfirm", "endpointIdentifier: EP-0001"));
    assert!(find("registrationConfirm", "timeToLive: 60"));
    assert!(find("registrationRequest", "discoveryComplete: True"));
    // The keep-alive with the endpoint id the gatekeeper gave us.
    assert!(frames
        .iter()
        .zip(&msgs)
        .any(|(f, m)| m.3 == "registrationRequest"
            && f.contains("keepAlive: True")
            && f.contains("endpointIdentifier: EP-0001")));
    assert!(find(
        "registrationReject",
        "rejectReason: fullRegistrationRequired ("
    ));
    assert!(find("registrationConfirm", "endpointIdentifier: EP-0002"));
    assert!(find("admissionRequest", "dialledDigits: 4930555"));
    assert!(find(
        "admissionReject",
        "rejectReason: calledPartyNotRegistered ("
    ));
    assert!(find("infoRequestResponse", "callReferenceValue: 513"));
    assert!(find("infoRequestResponse", "endpointIdentifier: EP-0002"));
    assert!(find("bandwidthRequest", "bandWidth: 640"));
    assert!(find("bandwidthConfirm", "bandWidth: 640"));
    assert!(find("disengageRequest", "disengageReason: forcedDrop ("));
    assert!(find("disengageRequest", "disengageReason: normalDrop ("));
    assert!(find("unregistrationRequest", "reason: maintenance ("));
    assert!(find("requestInProgress", "delay: 5000"));
}
