//! The RAS client against the gatekeeper double in virtual time: discovery, registration,
//! keep-alive for hours, retransmissions with the H.225.0 default timers, RIP, recovery
//! after a gatekeeper restart or outage, admissions, and the gatekeeper's own requests.

#![allow(clippy::bool_assert_comparison)]

use std::time::Duration;

use crate::ras_pair::{client_config, registrant, Pair, GK};
use h323::h225::{Alias, Guid};
use h323::ras::client::{
    Admission, Failure, GatekeeperLocation, RasClient, RasEvent, RegistrationState,
    DISCOVERY_MULTICAST,
};
use h323::ras::gatekeeper::GatekeeperEvent;
use h323::ras::{self, confirm};
use h323_asn1::h225 as asn;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn one_gateway(location: GatekeeperLocation) -> Pair {
    let r = registrant(1, "gw-a", &["4930", "4940"]);
    let mut p = Pair::new(Pair::gk_config(), vec![client_config(r, location)]);
    p.start_all();
    p
}

fn keep_alives(p: &Pair) -> usize {
    p.gk_events
        .iter()
        .filter(|(_, e)| matches!(e, GatekeeperEvent::KeepAlive { .. }))
        .count()
}

fn expired(p: &Pair) -> bool {
    p.gk_events
        .iter()
        .any(|(_, e)| matches!(e, GatekeeperEvent::Expired { .. }))
}

#[test]
fn multicast_discovery_then_registration_with_prefixes() {
    let p = one_gateway(GatekeeperLocation::Multicast);
    let sent = p.sent_by(registrant(1, "", &[]).ras_address);
    assert_eq!(sent[0].name, "gatekeeperRequest");
    assert_eq!(sent[0].dst, DISCOVERY_MULTICAST);
    assert_eq!(sent[1].name, "registrationRequest");
    assert_eq!(sent[1].dst, GK);
    let ev = p.events(0);
    assert_eq!(
        ev[0],
        RasEvent::GatekeeperFound {
            address: GK,
            gatekeeper_id: Some("GK-TEST".into())
        }
    );
    assert_eq!(
        ev[1],
        RasEvent::Registered {
            endpoint_id: "EP-0001".into(),
            gatekeeper_id: Some("GK-TEST".into()),
            time_to_live: Some(secs(60)),
        }
    );
    let c = &p.clients[0];
    assert!(c.is_registered());
    assert_eq!(c.endpoint_id(), Some("EP-0001"));
    let reg = p.gk.registration("EP-0001").unwrap();
    assert_eq!(reg.aliases, vec![Alias::H323Id("gw-a".into())]);
    assert_eq!(reg.prefixes, vec!["4930".to_string(), "4940".to_string()]);
    assert_eq!(
        reg.call_signal_addresses,
        vec!["10.0.0.1:1720".parse().unwrap()]
    );
    // The full RRQ says discovery happened.
    let rrq = ras::decode(&sent[1].payload).unwrap();
    let asn::RasMessage::registrationRequest(rrq) = rrq else {
        panic!()
    };
    assert!(rrq.discovery_complete);
    assert_eq!(rrq.keep_alive, Some(false));
}

#[test]
fn keep_alive_holds_the_registration_for_an_hour() {
    let mut p = one_gateway(GatekeeperLocation::Discover(GK));
    p.run_until(secs(3600));
    assert!(!expired(&p), "{:?}", p.gk_events);
    // TTL 60 s: keep-alive after 45 s (3/4, and 60 - 12 s of retries): 80 in an hour.
    let n = keep_alives(&p);
    assert_eq!(n, 80, "keep-alives");
    let rrqs: Vec<_> = p
        .wire
        .iter()
        .filter(|w| w.name == "registrationRequest")
        .collect();
    assert_eq!(rrqs.len(), 81);
    // Every keep-alive is the lightweight form with our endpoint and gatekeeper ids,
    // and sequence numbers never repeat.
    let mut seqs: Vec<u16> = rrqs.iter().map(|w| w.seq.unwrap()).collect();
    for w in &rrqs[1..] {
        let asn::RasMessage::registrationRequest(r) = ras::decode(&w.payload).unwrap() else {
            panic!()
        };
        assert_eq!(r.keep_alive, Some(true));
        assert_eq!(
            r.endpoint_identifier
                .map(|e| String::from_utf16_lossy(&e.0.into_vec())),
            Some("EP-0001".into())
        );
        assert!(r.gatekeeper_identifier.is_some());
        assert!(r.terminal_alias.is_none());
    }
    seqs.dedup();
    assert_eq!(seqs.len(), 81);
    // Gaps between keep-alives are 45 s, always below the 60 s TTL.
    for pair in rrqs[1..].windows(2) {
        assert_eq!(pair[1].at - pair[0].at, secs(45));
    }
    let ev = p.events(0);
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, RasEvent::KeepAlive { .. }))
            .count(),
        80
    );
    assert!(p.clients[0].is_registered());
}

#[test]
fn unanswered_rrq_is_retransmitted_with_the_default_timers() {
    let r = registrant(1, "gw-a", &[]);
    let mut p = Pair::new(
        Pair::gk_config(),
        vec![client_config(r.clone(), GatekeeperLocation::Configured(GK))],
    );
    p.gk.set_silent(true);
    p.start_all();
    p.run_until(secs(10));
    let sent = p.sent_by(r.ras_address);
    // No discovery with a configured gatekeeper; RRQ at 0, 3, 6 s (3 s, 2 retries), the
    // same octets each time (same sequence number); given up at 9 s.
    let at: Vec<Duration> = sent.iter().map(|w| w.at).collect();
    assert_eq!(at, vec![secs(0), secs(3), secs(6)]);
    assert!(sent.iter().all(|w| w.name == "registrationRequest"));
    assert!(sent.iter().all(|w| w.payload == sent[0].payload));
    assert_eq!(
        p.client_events[0].last().unwrap(),
        &(
            secs(9),
            RasEvent::RegistrationFailed {
                reason: Failure::NoResponse
            }
        )
    );
    assert_eq!(p.clients[0].state(), RegistrationState::Waiting);
    // After retry_after (20 s) it tries again, with a new sequence number; the
    // gatekeeper is back by then.
    p.gk.set_silent(false);
    p.run_until(secs(30));
    let sent = p.sent_by(r.ras_address);
    assert_eq!(sent[3].at, secs(29));
    assert_ne!(sent[3].seq, sent[0].seq);
    assert!(p.clients[0].is_registered());
}

#[test]
fn unanswered_grq_uses_five_seconds() {
    let r = registrant(1, "gw-a", &[]);
    let mut p = Pair::new(
        Pair::gk_config(),
        vec![client_config(r.clone(), GatekeeperLocation::Multicast)],
    );
    p.gk.set_silent(true);
    p.start_all();
    p.run_until(secs(16));
    let at: Vec<Duration> = p.sent_by(r.ras_address).iter().map(|w| w.at).collect();
    assert_eq!(at, vec![secs(0), secs(5), secs(10)]);
    assert!(p.events(0).contains(&RasEvent::DiscoveryFailed {
        reason: Failure::NoResponse
    }));
}

#[test]
fn request_in_progress_extends_the_wait() {
    // Drive the client by hand: the "gatekeeper" answers RRQ with RIP (10 s), then RCF.
    let r = registrant(1, "gw-a", &[]);
    let mut c = RasClient::new(client_config(r, GatekeeperLocation::Configured(GK)));
    let t0 = std::time::Instant::now();
    c.start(t0).unwrap();
    let rrq = c.poll_transmit().unwrap();
    let seq = ras::sequence_number(&ras::decode(&rrq.payload).unwrap()).unwrap();
    let rip = ras::encode(&confirm::request_in_progress(seq, 10_000)).unwrap();
    c.handle_datagram(t0 + secs(1), GK, &rip);
    // Without the RIP the retransmission would be due at 3 s; now at 11 s.
    assert_eq!(c.poll_timeout(), Some(t0 + secs(11)));
    c.handle_timeout(t0 + secs(3));
    assert!(c.poll_transmit().is_none());
    // A RIP or a confirm with another sequence number is not ours.
    let other = ras::encode(&confirm::request_in_progress(seq.wrapping_add(7), 60_000)).unwrap();
    c.handle_datagram(t0 + secs(2), GK, &other);
    assert_eq!(c.poll_timeout(), Some(t0 + secs(11)));
    let reg = confirm::Registration {
        call_signal_addresses: &[],
        aliases: &[],
        gatekeeper_id: "GK-X",
        endpoint_id: "EP-77",
        time_to_live: Some(30),
    };
    let wrong_seq = ras::encode(&confirm::registration_confirm(seq + 1, &reg).unwrap()).unwrap();
    c.handle_datagram(t0 + secs(4), GK, &wrong_seq);
    assert!(!c.is_registered());
    // An answer of the wrong kind with our sequence number is not taken either.
    let ucf = ras::encode(&confirm::unregistration_confirm(seq)).unwrap();
    c.handle_datagram(t0 + secs(4), GK, &ucf);
    assert!(!c.is_registered());
    let rcf = ras::encode(&confirm::registration_confirm(seq, &reg).unwrap()).unwrap();
    c.handle_datagram(t0 + secs(5), GK, &rcf);
    assert!(c.is_registered());
    assert_eq!(c.endpoint_id(), Some("EP-77"));
    assert_eq!(c.gatekeeper_id(), Some("GK-X"));
    // TTL 30 s: keep-alive 18 s after the RCF.
    assert_eq!(c.poll_timeout(), Some(t0 + secs(5) + secs(18)));
}

/// A gatekeeper that answers every retransmission with RequestInProgress is believed a
/// few times, then the request runs out of retries as if unanswered.
#[test]
fn request_in_progress_forever_is_not_believed_forever() {
    let r = registrant(1, "gw-a", &[]);
    let mut c = RasClient::new(client_config(r, GatekeeperLocation::Configured(GK)));
    let t0 = std::time::Instant::now();
    let mut now = t0;
    c.start(now).unwrap();
    let rrq = c.poll_transmit().unwrap();
    let seq = ras::sequence_number(&ras::decode(&rrq.payload).unwrap()).unwrap();
    let rip = ras::encode(&confirm::request_in_progress(seq, 60_000)).unwrap();
    // Each RIP believed puts the retry a minute off; the gatekeeper sends one every
    // 30 s, so that the retry would never come, but only five are believed.
    let failed = (0..50).any(|_| {
        c.handle_datagram(now, GK, &rip);
        now += secs(30);
        c.handle_timeout(now);
        while c.poll_transmit().is_some() {}
        std::iter::from_fn(|| c.poll_event())
            .any(|e| matches!(e, RasEvent::RegistrationFailed { .. }))
    });
    assert!(failed, "the RRQ never failed");
    assert!(!c.is_registered());
    assert!(now - t0 < secs(6 * 60), "believed for {:?}", now - t0);
}

#[test]
fn gatekeeper_restart_brings_a_full_registration() {
    let mut p = one_gateway(GatekeeperLocation::Discover(GK));
    p.run_until(secs(100));
    p.gk.restart();
    p.run_until(secs(3600));
    assert!(!expired(&p));
    let ev = p.events(0);
    let lost = ev
        .iter()
        .position(|e| {
            *e == RasEvent::RegistrationLost {
                reason: Failure::Rejected("fullRegistrationRequired".into()),
            }
        })
        .expect("the keep-alive after the restart is rejected");
    assert_eq!(
        ev[lost + 1],
        RasEvent::Registered {
            endpoint_id: "EP-0002".into(),
            gatekeeper_id: Some("GK-TEST".into()),
            time_to_live: Some(secs(60)),
        }
    );
    assert_eq!(p.clients[0].endpoint_id(), Some("EP-0002"));
    // No rediscovery was needed: one GRQ in all.
    assert_eq!(
        p.wire
            .iter()
            .filter(|w| w.name == "gatekeeperRequest")
            .count(),
        1
    );
    let reg = p.gk.registration("EP-0002").unwrap();
    assert_eq!(reg.prefixes, vec!["4930".to_string(), "4940".to_string()]);
    assert!(reg.keep_alives > 70);
}

#[test]
fn restarted_gatekeeper_asking_for_discovery() {
    let mut gk = Pair::gk_config();
    gk.forgotten_reason = asn::RegistrationRejectReason::discoveryRequired(());
    let r = registrant(1, "gw-a", &[]);
    let mut p = Pair::new(
        gk,
        vec![client_config(r, GatekeeperLocation::Configured(GK))],
    );
    p.start_all();
    p.run_until(secs(40));
    p.gk.restart();
    p.run_until(secs(200));
    let names: Vec<&str> = p.wire.iter().map(|w| w.name).collect();
    // RRQ, RCF, keep-alive RRQ, RRJ, GRQ (to the configured address), GCF, RRQ, RCF ...
    assert_eq!(
        &names[..8],
        &[
            "registrationRequest",
            "registrationConfirm",
            "registrationRequest",
            "registrationReject",
            "gatekeeperRequest",
            "gatekeeperConfirm",
            "registrationRequest",
            "registrationConfirm"
        ]
    );
    assert_eq!(p.wire[4].dst, GK);
    assert!(p.clients[0].is_registered());
    assert_eq!(p.clients[0].endpoint_id(), Some("EP-0002"));
}

#[test]
fn gatekeeper_outage_then_rediscovery() {
    let mut p = one_gateway(GatekeeperLocation::Discover(GK));
    p.run_until(secs(40));
    p.cut = true;
    // Keep-alive at 45 s, retries at 48 and 51, lost at 54 s; rediscovery at once (GRQ
    // 54, 59, 64 s), then waiting 20 s (retry_after) until 89 s.
    p.run_until(secs(80));
    assert!(
        expired(&p),
        "the gatekeeper expired us meanwhile (TTL 60 s)"
    );
    let ev = p.client_events[0].clone();
    assert!(ev.contains(&(
        secs(54),
        RasEvent::RegistrationLost {
            reason: Failure::NoResponse
        }
    )));
    assert!(ev.contains(&(
        secs(69),
        RasEvent::DiscoveryFailed {
            reason: Failure::NoResponse
        }
    )));
    assert!(!p.clients[0].is_registered());
    p.cut = false;
    p.run_until(secs(100));
    assert!(p.clients[0].is_registered());
    assert_eq!(p.clients[0].endpoint_id(), Some("EP-0002"));
    let last: Vec<&str> = p.wire.iter().rev().take(4).map(|w| w.name).collect();
    assert_eq!(
        last,
        vec![
            "registrationConfirm",
            "registrationRequest",
            "gatekeeperConfirm",
            "gatekeeperRequest"
        ]
    );
}

fn admission(to: &str, call: u8) -> Admission {
    Admission {
        call_ref: 0x100 + u16::from(call),
        call_id: Guid([call; 16]),
        conference_id: Guid([call ^ 0xFF; 16]),
        destination: vec![Alias::Dialled(to.into())],
        dest_call_signal_address: None,
        source: vec![],
        bandwidth: 1280,
        answer_call: false,
    }
}

#[test]
fn admission_routes_by_prefix_and_alias_then_disengage() {
    let mut gk = Pair::gk_config();
    gk.routes.push((
        Alias::Dialled("5551234".into()),
        "10.0.0.77:1720".parse().unwrap(),
    ));
    let a = client_config(
        registrant(1, "gw-a", &["4930"]),
        GatekeeperLocation::Configured(GK),
    );
    let b = client_config(
        registrant(2, "gw-b", &["4940", "49401"]),
        GatekeeperLocation::Configured(GK),
    );
    let mut p = Pair::new(gk, vec![a, b]);
    p.start_all();
    assert!(p.clients.iter().all(RasClient::is_registered));
    let now = p.now;
    p.clients[0].admit(now, admission("4940123456", 1)).unwrap();
    p.clients[0].admit(now, admission("5551234", 2)).unwrap();
    p.clients[0].admit(now, admission("999", 3)).unwrap();
    p.shuttle();
    let ev = p.events(0);
    assert!(ev.contains(&RasEvent::AdmissionConfirmed {
        call_id: Guid([1; 16]),
        dest_call_signal_address: Some("10.0.0.2:1720".parse().unwrap()),
        bandwidth: 1280,
        routed_by_gatekeeper: false,
    }));
    assert!(ev.contains(&RasEvent::AdmissionConfirmed {
        call_id: Guid([2; 16]),
        dest_call_signal_address: Some("10.0.0.77:1720".parse().unwrap()),
        bandwidth: 1280,
        routed_by_gatekeeper: false,
    }));
    assert!(ev.contains(&RasEvent::AdmissionFailed {
        call_id: Guid([3; 16]),
        reason: Failure::Rejected("calledPartyNotRegistered".into()),
    }));
    assert_eq!(p.gk.calls().len(), 2);
    // The callee's own ARQ (answerCall) is admitted to its own address.
    let mut answer = admission("4940123456", 1);
    answer.answer_call = true;
    p.clients[1].admit(now, answer).unwrap();
    p.shuttle();
    assert!(p.events(1).contains(&RasEvent::AdmissionConfirmed {
        call_id: Guid([1; 16]),
        dest_call_signal_address: Some("10.0.0.2:1720".parse().unwrap()),
        bandwidth: 1280,
        routed_by_gatekeeper: false,
    }));
    // The ARQ carried what we meant.
    let arq = p
        .wire
        .iter()
        .find(|w| w.name == "admissionRequest")
        .unwrap();
    let asn::RasMessage::admissionRequest(arq) = ras::decode(&arq.payload).unwrap() else {
        panic!()
    };
    assert_eq!(arq.call_identifier.unwrap().guid.0.to_vec(), vec![1u8; 16]);
    assert_eq!(arq.conference_id.0 .0.to_vec(), vec![0xFEu8; 16]);
    assert_eq!(arq.band_width.0, 1280);
    assert_eq!(arq.call_reference_value.0, 0x101);
    // A second ARQ for a known call, or one while unregistered, is refused locally.
    assert!(p.clients[0].admit(now, admission("4940123456", 1)).is_err());
    p.clients[0].disengage(now, Guid([1; 16])).unwrap();
    p.clients[0].disengage(now, Guid([2; 16])).unwrap();
    p.shuttle();
    let ev = p.events(0);
    assert!(ev.contains(&RasEvent::Disengaged {
        call_id: Guid([1; 16]),
        confirmed: true
    }));
    assert!(ev.contains(&RasEvent::Disengaged {
        call_id: Guid([2; 16]),
        confirmed: true
    }));
    assert_eq!(p.gk.calls().len(), 1, "only the callee's admission is left");
    assert!(p.clients[0].disengage(now, Guid([1; 16])).is_err());
    // Unregistration on shutdown.
    p.clients[0].unregister(now).unwrap();
    p.shuttle();
    assert_eq!(
        p.events(0).last(),
        Some(&RasEvent::Unregistered { confirmed: true })
    );
    assert_eq!(p.clients[0].state(), RegistrationState::Idle);
    assert!(p.gk.registration("EP-0001").is_none());
    assert!(p.clients[0].admit(now, admission("4940123456", 9)).is_err());
}

#[test]
fn gatekeeper_requests_are_answered() {
    let mut p = one_gateway(GatekeeperLocation::Configured(GK));
    let now = p.now;
    p.clients[0].admit(now, admission("4930111", 5)).unwrap();
    p.shuttle();
    // IRQ for all calls: IRR with our call.
    let irq = p.gk.info_request("EP-0001", 0).unwrap();
    p.shuttle();
    let irr = p.wire.last().unwrap();
    assert_eq!((irr.name, irr.seq), ("infoRequestResponse", Some(irq)));
    let asn::RasMessage::infoRequestResponse(irr) = ras::decode(&irr.payload).unwrap() else {
        panic!()
    };
    let calls = irr.per_call_info.unwrap().0;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].call_reference_value.0, 0x105);
    assert_eq!(calls[0].originator, Some(true));
    // BRQ: comply and tell.
    let brq =
        p.gk.bandwidth_request("EP-0001", Guid([5; 16]), 640)
            .unwrap();
    p.shuttle();
    assert_eq!(
        (p.wire.last().unwrap().name, p.wire.last().unwrap().seq),
        ("bandwidthConfirm", Some(brq))
    );
    assert!(p.events(0).contains(&RasEvent::BandwidthChanged {
        call_id: Guid([5; 16]),
        bandwidth: 640
    }));
    // DRQ from the gatekeeper: DCF, and the call must go.
    let drq = p.gk.disengage("EP-0001", Guid([5; 16])).unwrap();
    p.shuttle();
    assert_eq!(
        (p.wire.last().unwrap().name, p.wire.last().unwrap().seq),
        ("disengageConfirm", Some(drq))
    );
    assert!(p.events(0).contains(&RasEvent::DisengageRequested {
        call_id: Guid([5; 16])
    }));
    assert!(p.clients[0].disengage(now, Guid([5; 16])).is_err());
    // URQ: UCF, then a new full registration.
    let urq = p.gk.unregister("EP-0001").unwrap();
    p.shuttle();
    let ucf = p
        .wire
        .iter()
        .find(|w| w.name == "unregistrationConfirm")
        .unwrap();
    assert_eq!(ucf.seq, Some(urq));
    assert!(p.events(0).contains(&RasEvent::RegistrationLost {
        reason: Failure::UnregisteredByGatekeeper(Some("maintenance".into()))
    }));
    assert!(p.clients[0].is_registered());
    assert_eq!(p.clients[0].endpoint_id(), Some("EP-0002"));
    // A retransmitted gatekeeper request gets the same answer and changes nothing.
    let last_urq = p
        .wire
        .iter()
        .find(|w| w.name == "unregistrationRequest")
        .unwrap()
        .payload
        .clone();
    let now = p.now;
    p.clients[0].handle_datagram(now, GK, &last_urq);
    let again = p.clients[0].poll_transmit().unwrap();
    assert_eq!(again.payload, ucf.payload);
    assert!(p.clients[0].poll_transmit().is_none());
    assert_eq!(p.clients[0].endpoint_id(), Some("EP-0002"));
}

#[test]
fn garbage_and_strays_are_ignored() {
    let mut p = one_gateway(GatekeeperLocation::Configured(GK));
    let now = p.now;
    for junk in [&b""[..], &[0xFF; 40], &[0x00], &[0x7F, 0xFF, 0xFF, 0xFF]] {
        p.clients[0].handle_datagram(now, GK, junk);
    }
    let stray = ras::encode(&confirm::admission_confirm(
        4242,
        1280,
        false,
        "10.0.0.5:1720".parse().unwrap(),
    ))
    .unwrap();
    p.clients[0].handle_datagram(now, GK, &stray);
    assert!(p.clients[0].poll_transmit().is_none());
    assert!(p.clients[0].poll_event().is_none());
    assert!(p.clients[0].is_registered());
}

#[test]
fn messages_from_other_hosts_are_ignored() {
    let mut p = one_gateway(GatekeeperLocation::Configured(GK));
    let now = p.now;
    let intruder: std::net::SocketAddrV4 = "10.6.6.6:1719".parse().unwrap();
    let urq = ras::encode(
        &confirm::gatekeeper_unregistration_request(
            500,
            &[],
            "EP-0001",
            "GK-TEST",
            asn::UnregRequestReason::maintenance(()),
        )
        .unwrap(),
    )
    .unwrap();
    p.clients[0].handle_datagram(now, intruder, &urq);
    assert!(p.clients[0].poll_transmit().is_none());
    assert!(p.clients[0].is_registered());
    // The same URQ from the gatekeeper is obeyed.
    p.clients[0].handle_datagram(now, GK, &urq);
    assert_eq!(
        p.clients[0].poll_transmit().map(|t| t.destination),
        Some(GK)
    );
}

#[test]
fn reply_summarises_the_confirms_and_rejects() {
    use h323::ras::RasReply;
    let reg = confirm::Registration {
        call_signal_addresses: &["10.0.0.1:1720".parse().unwrap()],
        aliases: &[Alias::H323Id("gw-a".into())],
        gatekeeper_id: "GK-X",
        endpoint_id: "EP-9",
        time_to_live: Some(90),
    };
    let cases = [
        (
            confirm::gatekeeper_confirm(1, "GK-X", GK).unwrap(),
            RasReply::GatekeeperConfirm {
                seq: 1,
                gatekeeper_id: Some("GK-X".into()),
                ras_address: Some(GK),
            },
        ),
        (
            confirm::registration_confirm(2, &reg).unwrap(),
            RasReply::RegistrationConfirm {
                seq: 2,
                endpoint_id: "EP-9".into(),
                gatekeeper_id: Some("GK-X".into()),
                time_to_live: Some(90),
                aliases: vec![Alias::H323Id("gw-a".into())],
            },
        ),
        (
            confirm::admission_confirm(3, 640, true, "10.0.0.2:1720".parse().unwrap()),
            RasReply::AdmissionConfirm {
                seq: 3,
                dest_call_signal_address: Some("10.0.0.2:1720".parse().unwrap()),
                bandwidth: 640,
                routed_by_gatekeeper: true,
            },
        ),
        (
            confirm::unregistration_confirm(4),
            RasReply::UnregistrationConfirm { seq: 4 },
        ),
        (
            confirm::disengage_confirm(5),
            RasReply::DisengageConfirm { seq: 5 },
        ),
        (
            confirm::registration_reject(
                6,
                None,
                asn::RegistrationRejectReason::duplicateAlias(vec![]),
            )
            .unwrap(),
            RasReply::Reject {
                seq: 6,
                message: "registrationReject",
            },
        ),
        (
            confirm::info_request(7, 0, None, None),
            RasReply::Other {
                seq: Some(7),
                message: "infoRequest",
            },
        ),
    ];
    for (m, want) in cases {
        let back = ras::decode(&ras::encode(&m).unwrap()).unwrap();
        assert_eq!(ras::reply(&back), want);
    }
}
