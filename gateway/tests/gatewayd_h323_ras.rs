//! The daemon's gatekeeper client (issue #7) through the real `gatewayd` process: the
//! `h323` crate's gatekeeper double on UDP, SIPp (Debian `sip-tester`) as the IP-PBX, our
//! own `h323::call` endpoint as the H.323 peer on real TCP.
//!
//! One run: registration (RRQ with our prefix and alias), lightweight keep-alive RRQs
//! within the gatekeeper's 2 s time to live, the gatekeeper goes silent and comes back
//! restarted (it forgot us: the next keep-alive gets RRJ fullRegistrationRequired and
//! gatewayd registers again with a full RRQ), then calls work both ways: SIP → gatekeeper
//! (ARQ, ACF with the peer's address, Setup there, DRQ) and H.323 → SIP (the Setup is
//! admitted first by an ARQ with answerCall TRUE, H.225.0 §7.8 / H.323 §8.1.5; DRQ after),
//! each with its CDR; at SIGTERM gatewayd leaves the gatekeeper (URQ) before it exits.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::h323_support::{answer_one, call_daemon, kinds, released, v4, Process, UdpGatekeeper};
use h323::h225::{Alias, Guid};
use h323::q931::ie::CauseValue;
use h323::ras::gatekeeper::GatekeeperEvent;

use crate::port_support::{free_tcp_port, free_udp_port, rtp_port_keys};

fn count(ev: &[GatekeeperEvent], pred: impl Fn(&GatekeeperEvent) -> bool) -> usize {
    ev.iter().filter(|e| pred(e)).count()
}

fn sipp(dir: &std::path::Path, pbx_port: u16, sip_port: u16, args: &[&str]) -> Command {
    let mut c = Command::new("sipp");
    c.args(args)
        .args(["-p", &pbx_port.to_string(), "-i", "127.0.0.1"])
        .args(["-timeout", "30", "-timeout_error", "-nostdin"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if sip_port != 0 {
        c.arg(format!("127.0.0.1:{sip_port}"));
    }
    c
}

#[test]
fn gatekeeper_restart_then_calls_both_ways_then_urq_at_shutdown() {
    let dir = std::env::temp_dir().join(format!("gatewayd-h323-ras-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let peer = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer_addr = v4(peer.local_addr().unwrap());
    // The gatekeeper grants 2 s registrations: keep-alives every second or so.
    let gk = UdpGatekeeper::start(vec![(Alias::Dialled("5003".into()), peer_addr)], 2);
    let (sip_port, pbx_port, h323_port) = (free_udp_port(), free_udp_port(), free_tcp_port());
    let rtp_keys = rtp_port_keys(101);
    let config = format!(
        r#"
[general]
cdr_file = "{d}/cdr.csv"
control_socket = "{d}/ctl.sock"
{rtp_keys}

[[sip_trunk]]
name = "pbx"
listen = "127.0.0.1:{sip_port}"
peers = ["127.0.0.1:{pbx_port}"]

[h323]
listen = "127.0.0.1:{h323_port}"

[gatekeeper]
address = "{gk}"
aliases = ["gatewayd"]
prefixes = ["0301"]
ttl = 60
ras_listen = "127.0.0.1:0"

[[route]]
pattern = "5003"
from = ["pbx"]
to = ["gatekeeper"]

[[route]]
pattern = "_2XX"
from = ["gatekeeper"]
to = ["pbx"]
"#,
        d = dir.display(),
        gk = gk.addr,
    );
    let mut daemon = Process::start(&dir, &config);

    // 1. Registration: a full RRQ with our prefix, alias and call-signalling port.
    gk.wait_for("registration", Duration::from_secs(10), |ev| {
        count(ev, |e| matches!(e, GatekeeperEvent::Registered { .. })) >= 1
    });
    {
        let g = gk.gk.lock().unwrap();
        let r = &g.registrations()[0];
        assert_eq!(r.prefixes, vec!["0301".to_string()]);
        assert!(
            r.aliases.contains(&Alias::H323Id("gatewayd".into())),
            "{r:?}"
        );
        assert_eq!(r.call_signal_addresses[0].port(), h323_port);
    }
    // 2. Lightweight keep-alive RRQs (keepAlive, endpoint id) before the 2 s run out.
    gk.wait_for("two keep-alives", Duration::from_secs(6), |ev| {
        count(ev, |e| matches!(e, GatekeeperEvent::KeepAlive { .. })) >= 2
    });
    assert_eq!(
        count(&gk.events(), |e| matches!(
            e,
            GatekeeperEvent::Expired { .. }
        )),
        0,
        "the keep-alives came in time"
    );

    // 3. The gatekeeper goes away for a while and comes back restarted, with no memory of
    // us: the keep-alive RRQ is rejected and gatewayd registers again in full.
    gk.gk.lock().unwrap().set_silent(true);
    std::thread::sleep(Duration::from_millis(2500));
    {
        let mut g = gk.gk.lock().unwrap();
        g.restart();
        g.set_silent(false);
    }
    gk.wait_for(
        "full RRQ after the restart",
        Duration::from_secs(15),
        |ev| {
            ev.iter()
                .position(|e| matches!(e, GatekeeperEvent::Restarted))
                .is_some_and(|restart| {
                    ev[restart..]
                        .iter()
                        .any(|e| matches!(e, GatekeeperEvent::Registered { .. }))
                })
        },
    );
    let ev = gk.events();
    let restart = ev
        .iter()
        .position(|e| matches!(e, GatekeeperEvent::Restarted))
        .unwrap();
    assert!(
        ev[restart..]
            .iter()
            .any(|e| matches!(e, GatekeeperEvent::Forgotten { .. })),
        "the keep-alive after the restart was rejected (RRJ): {ev:#?}"
    );
    assert_eq!(gk.gk.lock().unwrap().registrations().len(), 1);
    // And the keep-alives go on with the new registration.
    gk.wait_for(
        "keep-alive after re-registration",
        Duration::from_secs(6),
        |ev| {
            let again = ev
                .iter()
                .rposition(|e| matches!(e, GatekeeperEvent::Registered { .. }))
                .unwrap();
            ev[again..]
                .iter()
                .any(|e| matches!(e, GatekeeperEvent::KeepAlive { .. }))
        },
    );

    // 4. SIP → gatekeeper: ARQ, ACF with the peer's address from the alias table, Setup.
    let answering = std::thread::spawn(move || answer_one(peer, 40060, None));
    let ok = sipp(
        &dir,
        pbx_port,
        sip_port,
        &["-sn", "uac", "-s", "5003", "-m", "1", "-d", "300"],
    )
    .status()
    .expect("sipp (Debian sip-tester)")
    .success();
    let log = answering.join().unwrap();
    assert!(ok, "SIPp call through the gatekeeper; peer saw {log:?}");
    assert_eq!(
        kinds(&log),
        ["setup", "connected", "released"],
        "the peer answered: {log:?}"
    );
    assert_eq!(released(&log), Some((CauseValue::NormalCallClearing, true)));

    // 5. H.323 → SIP: our endpoint calls 201; gatewayd asks admission (answerCall) before
    // it routes the Setup to SIPp's UAS.
    let mut uas = sipp(&dir, pbx_port, 0, &["-sn", "uas", "-m", "1"])
        .spawn()
        .expect("sipp uas");
    std::thread::sleep(Duration::from_millis(300));
    let log = call_daemon(
        h323_port,
        "201",
        "2001",
        40070,
        Duration::from_millis(300),
        Some(CauseValue::NormalCallClearing),
        9,
    );
    assert!(
        uas.wait().unwrap().success(),
        "SIPp UAS saw INVITE, ACK, BYE"
    );
    let k = kinds(&log);
    assert!(
        k.contains(&"connected") && k.last() == Some(&"released"),
        "{log:?}"
    );
    assert_eq!(
        released(&log),
        Some((CauseValue::NormalCallClearing, false))
    );

    // ARQ answerCall FALSE for the call we placed, TRUE with the caller's call identifier
    // for the call we answered; a DRQ after each.
    gk.wait_for("two DRQs", Duration::from_secs(5), |ev| {
        count(ev, |e| matches!(e, GatekeeperEvent::Disengaged { .. })) >= 2
    });
    let arqs = gk.arqs.lock().unwrap().clone();
    assert_eq!(arqs.len(), 2, "{arqs:?}");
    assert!(!arqs[0].0, "outgoing call: answerCall FALSE");
    assert_eq!(
        arqs[1],
        (true, Some(Guid([9; 16]))),
        "incoming: answerCall TRUE"
    );
    let ev = gk.events();
    assert!(
        ev.iter().any(|e| matches!(
            e,
            GatekeeperEvent::Disengaged { call_id: Some(id), .. } if *id == Guid([9; 16])
        )),
        "DRQ for the answered call: {ev:#?}"
    );
    // The answered call came to our own call-signalling address.
    assert!(ev.iter().any(|e| matches!(
        e,
        GatekeeperEvent::Admitted { call_id: Some(id), destination, .. }
            if *id == Guid([9; 16]) && destination.port() == h323_port
    )));

    // CDRs: both calls, the H.323 trunk named, normal clearing.
    let cdr = std::fs::read_to_string(dir.join("cdr.csv")).unwrap();
    let rows: Vec<Vec<&str>> = cdr
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 2, "{cdr}");
    // call_id,setup,answer,end,duration,billsec,calling,called,in_trunk,out_trunk,span,
    // channel,isdn_cause,sip_status,release_side,codec,disposition,transfer
    assert_eq!(
        (rows[0][7], rows[0][8], rows[0][9]),
        ("5003", "pbx", "gatekeeper")
    );
    assert_eq!(
        (rows[1][7], rows[1][8], rows[1][9]),
        ("201", "gatekeeper", "pbx")
    );
    for r in &rows {
        assert_eq!(r[12], "16", "{cdr}");
        assert_eq!(r[16], "ANSWERED", "{cdr}");
    }
    assert_eq!(rows[1][14], "h323", "the H.323 side cleared: {cdr}");

    // 6. SIGTERM: URQ, UCF, then the process exits.
    assert!(daemon.stop(), "gatewayd exits on SIGTERM");
    let ev = gk.events();
    assert!(
        ev.iter()
            .any(|e| matches!(e, GatekeeperEvent::Unregistered { .. })),
        "URQ at shutdown: {ev:#?}\n{}",
        daemon.log()
    );
    assert!(gk.gk.lock().unwrap().registrations().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
