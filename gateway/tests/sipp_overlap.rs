//! Overlap sending with SIPp as the dialling PBX (RFC 3578): three INVITEs on one Call-ID,
//! each with more digits, over real UDP into the gateway's SIP leg, core and ISDN leg; the
//! far end is a q931 network side doing overlap receiving (Q.931 §5.2.4), as a switch
//! that expects overlap dialling does. The superseded INVITEs get 484, the digits arrive
//! in INFORMATION, the digit map ends the dialling, the last INVITE is answered.
//!
//! (The daemon's simulated switch answers every SETUP en bloc, so the far end here is
//! driven in the test, in real time.)

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dahdi_driver::SpanId;
use gateway::cdr::{Cdr, CdrError};
use gateway::config::Config;
use gateway::core::{Action, CdrSink, Core, TrunkKind};
use gateway::leg::isdn::IsdnLeg;
use gateway::leg::sip::SipLeg;
use gateway::media::Law;
use gateway::sip::transaction::Timers;
use gateway::sip::transport::{Listen, Protocol, Transport, TransportEvent};
use gateway::sip::ua::{Endpoint, EndpointConfig};
use q931::call::{Event, Interface, InterfaceConfig};
use q931::ie::Layer1Protocol;
use q931::lapd::Role;

use crate::sipp_scenario::{head, offer, Uac};

#[derive(Clone, Default)]
struct Records(Arc<Mutex<Vec<Cdr>>>);

impl CdrSink for Records {
    fn write(&mut self, cdr: &Cdr) -> Result<(), CdrError> {
        self.0.lock().unwrap().push(cdr.clone());
        Ok(())
    }
}

/// SIPp dials 0301, then 030123, then 0301234567 on the same Call-ID and From tag.
fn dialling() -> String {
    let dial = |digits: &str| Uac::sipp("sipp", digits);
    let (first, second, last) = (dial("0301"), dial("030123"), dial("0301234567"));
    let invite = |uac: &Uac, cseq| uac.invite(cseq).sdp(&offer("[media_port]", &[8])).send();
    format!(
        r#"{}{}  <recv response="100" optional="true"/>
  <recv response="183"/>
{}  <recv response="484">
    <action>
      <ereg regexp="^ *1 INVITE" search_in="hdr" header="CSeq:" check_it="true" assign_to="c1"/>
      <log message="484 for [$c1]"/>
    </action>
  </recv>
{}  <!-- The pending second INVITE gets its 100 Trying after 200 ms (RFC 3261 §8.2.6.1). -->
  <recv response="100"/>
{}  <recv response="484">
    <action>
      <ereg regexp="^ *2 INVITE" search_in="hdr" header="CSeq:" check_it="true" assign_to="c2"/>
      <log message="484 for [$c2]"/>
    </action>
  </recv>
{}  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>
{}  <pause milliseconds="300"/>
{}  <recv response="200" crlf="true"/>
</scenario>
"#,
        head("RFC 3578 overlap dialling"),
        invite(&first, 1),
        invite(&second, 2),
        first.ack_failure(1).last_from().send(),
        invite(&last, 3),
        second.ack_failure(2).last_from().send(),
        last.in_dialog("ACK", 3).direct(&last).send(),
        last.in_dialog("BYE", 4).direct(&last).send_retrans(),
    )
}

fn config(listen: SocketAddr, peer: SocketAddr) -> Config {
    let text = format!(
        r#"
[[span]]
id = 1
type = "e1"
signalling = "pri_cpe"

[[trunk_group]]
name = "pstn"
members = [{{ span = 1, channels = "1-3" }}]
overlap_sending = true
digit_map = ["_0[1-9]XXXXXXXX"]
digit_timeout = 5

[[sip_trunk]]
name = "pbx"
listen = "{listen}"
peers = ["{peer}"]

[[route]]
pattern = "_0X."
from = ["pbx"]
to = ["pstn"]
"#
    );
    Config::from_str(&text, "overlap.toml").unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn sipp_dials_in_overlap_and_the_switch_gets_information() {
    let dir = std::env::temp_dir().join(format!("gateway-sipp-overlap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("overlap.xml");
    std::fs::write(&scenario, dialling()).unwrap();
    let sipp_port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (transport, mut rx) = Transport::bind(Listen {
        udp: Some("127.0.0.1:0".parse().unwrap()),
        ..Default::default()
    })
    .await
    .unwrap();
    let local = transport.local_addr(Protocol::Udp).unwrap();
    let peer: SocketAddr = format!("127.0.0.1:{sipp_port}").parse().unwrap();
    let cfg = config(local, peer);
    let mut now = Instant::now();
    let cdrs = Records::default();
    let mut core = Core::new(&cfg, Box::new(cdrs.clone()), now);
    let mut ep = Endpoint::new(EndpointConfig {
        advertise: vec![(Protocol::Udp, local)],
        contact_user: "gw".into(),
        user_agent: "gatewayd-test".into(),
        timers: Timers::default(),
    });
    let mut sip = SipLeg::new(
        "pbx",
        cfg.sip_trunks[0].numbering.clone(),
        vec![peer],
        Protocol::Udp,
        local.ip(),
        Law::ALaw,
        (30000, 30998),
    );
    let mut user = Interface::new(InterfaceConfig::euro_isdn_e1(Role::User));
    user.start(now);
    let mut isdn = IsdnLeg::new(SpanId(1), user, Layer1Protocol::G711ALaw);
    let mut switch = Interface::new(InterfaceConfig::euro_isdn_e1(Role::Network));

    let start_sipp = || {
        Command::new("sipp")
            .args([
                "-sf",
                scenario.to_str().unwrap(),
                "-m",
                "1",
                "-p",
                &sipp_port.to_string(),
                "-i",
                "127.0.0.1",
                "-timeout",
                "20",
                "-timeout_error",
                "-nostdin",
                &local.to_string(),
            ])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("sipp.err")).unwrap())
            .spawn()
            .expect("sipp (Debian package sip-tester) runs")
    };
    let mut sipp = None;

    // What the switch saw: (digits, sending complete) of the SETUP, then of each INFORMATION.
    let mut dialled: Vec<(String, bool)> = Vec::new();
    let mut answer_at: Option<(Instant, q931::call::CallHandle)> = None;
    let deadline = Instant::now() + Duration::from_secs(25);
    let status = loop {
        now = Instant::now();
        assert!(
            now < deadline,
            "SIPp did not finish; switch saw {dialled:?}"
        );
        // SIPp dials once the D-channel is up.
        if sipp.is_none() && isdn.interface().is_link_up() {
            sipp = Some(start_sipp());
        }
        if let Some(s) = sipp.as_mut().and_then(|c| c.try_wait().unwrap()) {
            break s;
        }
        while let Ok(ev) = rx.try_recv() {
            if let TransportEvent::Message(m) = ev {
                ep.handle_incoming(now, m);
            }
        }
        ep.handle_timeout(now);
        isdn.handle_timeout(&mut core, now);
        switch.handle_timeout(now);
        core.handle_timeout(now);
        // Everything in flight, until quiet.
        loop {
            let mut moved = false;
            while let Some(ev) = ep.poll_event() {
                moved = true;
                sip.on_event(&mut ep, &mut core, now, ev);
            }
            while let Some(a) = core.poll_action() {
                moved = true;
                match a {
                    Action::Originate {
                        leg,
                        kind: TrunkKind::Sip,
                        setup,
                        ..
                    } => sip.originate(&mut ep, &mut core, now, leg, &setup),
                    Action::Originate {
                        leg,
                        channel,
                        setup,
                        ..
                    } => isdn.originate(&mut core, now, leg, channel, &setup),
                    Action::Deliver { leg, msg, .. } => {
                        if sip.owns(leg) {
                            sip.deliver(&mut ep, now, leg, msg);
                        } else {
                            isdn.deliver(now, leg, msg);
                        }
                    }
                    Action::Bridge { .. }
                    | Action::Answered { .. }
                    | Action::Relay { .. }
                    | Action::MediaChanged { .. }
                    | Action::Unbridge { .. }
                    | Action::Merged { .. }
                    | Action::Hairpin { .. }
                    | Action::HoldMedia { .. } => {}
                }
            }
            while let Some(f) = isdn.interface().poll_transmit() {
                moved = true;
                switch.handle_frame(now, &f);
            }
            while let Some(f) = switch.poll_transmit() {
                moved = true;
                isdn.handle_frame(&mut core, now, &f);
            }
            isdn.drain(&mut core, now);
            // The switch: overlap receiving (§5.2.4) until Sending complete, then it rings
            // and answers half a second later.
            while let Some(ev) = switch.poll_event() {
                moved = true;
                match ev {
                    Event::IncomingSetup {
                        call,
                        called,
                        sending_complete,
                        ..
                    } => {
                        dialled.push((
                            called.map(|c| c.digits).unwrap_or_default(),
                            sending_complete,
                        ));
                        switch.setup_acknowledge(now, call).unwrap();
                    }
                    Event::MoreInfo {
                        call,
                        digits,
                        sending_complete,
                        ..
                    } => {
                        dialled.push((digits, sending_complete));
                        if sending_complete {
                            switch.proceeding(now, call).unwrap();
                            switch.alerting(now, call, false).unwrap();
                            answer_at = Some((now + Duration::from_millis(500), call));
                        }
                    }
                    _ => {}
                }
            }
            if !moved {
                break;
            }
        }
        if let Some((t, call)) = answer_at {
            if now >= t {
                switch.connect(now, call).unwrap();
                answer_at = None;
                continue;
            }
        }
        while let Some((target, bytes)) = ep.poll_transmit() {
            transport.send(target, bytes).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    assert!(
        status.success(),
        "SIPp's dialling scenario passed; switch saw {dialled:?}"
    );
    assert_eq!(
        dialled,
        vec![
            ("0301".to_string(), false),
            ("23".to_string(), false),
            ("4567".to_string(), true)
        ]
    );
    // The BYE cleared the call; one CDR with the whole number.
    let t0 = Instant::now();
    while core.call_count() > 0 && t0.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(core.call_count(), 0);
    let cdrs = cdrs.0.lock().unwrap();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].called, "0301234567");
    assert_eq!(cdrs[0].disposition, "ANSWERED");
}
