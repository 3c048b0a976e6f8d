//! SIP trunk peers and digest authentication, through the real daemon (`[[sip_trunk]]`
//! keys `peers`, `auth` and `register`), against SIPp: a call goes to the next peer when
//! the first is unavailable (503); the trunk registers at a registrar that
//! challenges it and checks its answer (SIPp's `verifyauth`); a PBX that challenges the
//! gateway's INVITE gets it again with credentials that check; with
//! `challenge_inbound`, the PBX's INVITE without credentials gets 401, with wrong ones
//! 403, and with the right ones it is carried to the simulated switch.

use std::time::{Duration, Instant};

use crate::daemon_support::{free_udp_port, Daemon, Options, DISPOSITION};
use crate::sipp_interop::{CHALLENGING_UAS, REGISTRAR_UAS};
use crate::sipp_scenario::{bye, head, offer, reply, Uac};

/// The trunk's credentials at SIPp's scenarios (`verifyauth username="gw" password="pw"`).
const GW_AUTH: &str = "auth = { username = \"gw\", password = \"pw\" }";

/// Waits up to `limit` for the daemon's log to hold `what`.
fn wait_log(d: &Daemon, what: &str, limit: Duration) -> String {
    let t0 = Instant::now();
    loop {
        let log = d.log();
        if let Some(line) = log.lines().find(|l| l.contains(what)) {
            return line.to_string();
        }
        assert!(
            t0.elapsed() < limit,
            "no `{what}` in the log:\n{}",
            crate::daemon_support::log_tail(&d.log_path(), 30)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_trunk_registers_at_a_registrar_that_checks_its_digest() {
    let pbx_port = free_udp_port();
    let keys = format!(
        "{GW_AUTH}\nregister = {{ registrar = \"sip:127.0.0.1:{pbx_port}\", aor = \"sip:gw@sipp.test\", expires = 300 }}"
    );
    let d = Daemon::start(
        "sip-register",
        Options {
            sip_trunk: &keys,
            pbx_port: Some(pbx_port),
            ..Options::default()
        },
    );
    // The REGISTER went out at start; SIPp gets its retransmission (RFC 3261 §17.1.2.2).
    let sf = d.scenario("registrar.xml", REGISTRAR_UAS);
    let mut registrar = d.sipp_uas(&["-sf", &sf, "-m", "1"]);
    assert!(registrar.wait().unwrap().success(), "SIPp's registrar");
    // 401 answered with the trunk's credentials, SIPp's verifyauth took them, and the
    // registrar's 60 s (not the 300 asked for) is what the trunk now refreshes.
    let line = wait_log(&d, "registered", Duration::from_secs(5));
    assert!(line.contains("expires=60"), "{line}");
    assert!(!d.log().contains("registration refused"), "{}", d.log());
}

#[test]
fn a_pbx_that_challenges_the_invite_gets_it_with_credentials_that_check() {
    let d = Daemon::start(
        "sip-auth-out",
        Options {
            sip_trunk: GW_AUTH,
            ..Options::default()
        },
    );
    let sf = d.scenario("challenger.xml", CHALLENGING_UAS);
    let mut pbx = d.sipp_uas(&["-sf", &sf, "-m", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    // The simulated switch calls 201 (routed to the PBX) and clears after 1 s.
    assert_eq!(d.ctl("simcall 1 201"), "ok\n");
    assert!(pbx.wait().unwrap().success(), "SIPp's challenging PBX");
    d.assert_no_busy_channel();
    // Answered: SIPp's verifyauth took the second INVITE's credentials (a wrong answer
    // gets 403 from it, and the call would have failed).
    let cdrs = d.cdrs();
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");
}

/// The PBX calls 0301234: its first INVITE must get 401 with a challenge; the second
/// carries SIPp's answer with `password`, and must get `then` (200: answered, talked
/// 500 ms, BYE; 403: refused, ACKed).
fn challenged_pbx(password: &str, then: u16) -> String {
    let uac = Uac::pbx();
    let invite = |cseq| uac.invite(cseq).sdp(&offer("[media_port]", &[8]));
    let second = invite(2)
        .header(&format!(
            "[authentication username=pbx password={password}]"
        ))
        .send_retrans();
    let end = if then == 200 {
        format!(
            "  <recv response=\"180\" optional=\"true\"/>\n  <recv response=\"183\" optional=\"true\"/>\n  \
             <recv response=\"200\" rrs=\"true\"/>\n{}  <pause milliseconds=\"500\"/>\n{}  <recv response=\"200\"/>\n",
            crate::sipp_scenario::pbx_in_dialog("ACK", 2).send(),
            bye(3),
        )
    } else {
        format!(
            "  <recv response=\"{then}\"/>\n{}",
            uac.ack_failure(2).send()
        )
    };
    format!(
        "{}{}  <recv response=\"100\" optional=\"true\"/>\n  <recv response=\"401\" auth=\"true\"/>\n{}{second}  \
         <recv response=\"100\" optional=\"true\"/>\n{end}</scenario>\n",
        head("challenged by the gateway"),
        invite(1).send_retrans(),
        uac.ack_failure(1).send(),
    )
}

#[test]
fn with_challenge_inbound_the_pbx_must_answer_the_gateways_digest_challenge() {
    let d = Daemon::start(
        "sip-auth-in",
        Options {
            sip_trunk:
                "auth = { username = \"pbx\", password = \"secret\", challenge_inbound = true }",
            ..Options::default()
        },
    );
    // Wrong password: 401, then 403, and no call.
    let wrong = d.scenario("wrong.xml", &challenged_pbx("guess", 403));
    assert!(
        d.sipp(&["-sf", &wrong, "-s", "0301234", "-m", "1"]),
        "401 then 403 for a wrong password"
    );
    assert!(d.cdrs().is_empty(), "{:?}", d.cdrs());
    // The right one: the call goes through to the simulated switch and back.
    let right = d.scenario("right.xml", &challenged_pbx("secret", 200));
    assert!(
        d.sipp(&["-sf", &right, "-s", "0301234", "-m", "1"]),
        "401, then the call answered"
    );
    d.assert_no_busy_channel();
    let cdrs = d.cdrs();
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");
    // The wrong answer was logged with its 403 (the guard answers before the transaction
    // layer: the refused INVITE made no call and no CDR).
    let m = wait_log(&d, "SIP credentials refused", Duration::from_secs(1));
    assert!(m.contains("403"), "{m}");
}

/// SIPp's UAS on `port`, with the scenario file `sf` or (`None`) its built-in `uas`.
fn sipp_uas_on(d: &Daemon, port: u16, sf: Option<&str>) -> std::process::Child {
    let mut c = std::process::Command::new("sipp");
    match sf {
        Some(f) => c.args(["-sf", f]),
        None => c.args(["-sn", "uas"]),
    };
    c.args(["-m", "1", "-p", &port.to_string(), "-i", "127.0.0.1"])
        .args(["-timeout", "30", "-timeout_error", "-nostdin"])
        .current_dir(&d.dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    c.spawn().expect("sipp runs")
}

/// The first peer answers 503 (RFC 3261 §21.5.4: unavailable): the INVITE goes to the
/// second, which answers; one call, answered, and the switch never hears of the 503.
#[test]
fn a_call_goes_to_the_next_peer_when_the_first_is_unavailable() {
    let second = free_udp_port();
    let d = Daemon::start(
        "sip-failover",
        Options {
            more_peers: &[second],
            ..Options::default()
        },
    );
    let unavailable = d.scenario(
        "unavailable.xml",
        &format!(
            "{}  <recv request=\"INVITE\"/>\n{}  <recv request=\"ACK\"/>\n</scenario>\n",
            head("unavailable"),
            reply("503 Service Unavailable"),
        ),
    );
    let mut first = sipp_uas_on(&d, d.pbx_port, Some(&unavailable));
    let mut answering = sipp_uas_on(&d, second, None);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(d.ctl("simcall 1 201"), "ok\n");
    assert!(
        first.wait().unwrap().success(),
        "the first peer's 503 was ACKed"
    );
    assert!(
        answering.wait().unwrap().success(),
        "the second peer got the INVITE, answered, and the switch's BYE"
    );
    d.assert_no_busy_channel();
    let cdrs = d.cdrs();
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");
    assert!(
        d.log()
            .contains("INVITE failed at this peer: trying the next"),
        "{}",
        d.log()
    );
}

/// A registrar (an ITSP) sends the calls for the trunk's address of record to our
/// registered Contact, `sip:gatewayd@…`, with the number called in To: that number is
/// routed (here to the simulated switch, which answers).
#[test]
fn an_invite_to_our_contact_is_routed_by_the_number_in_to() {
    let d = Daemon::start("sip-contact", Options::default());
    let uac = Uac::pbx();
    let invite = uac
        .invite(1)
        .sdp(&offer("[media_port]", &[8]))
        .send_retrans()
        .replace(
            "To: <sip:[service]@[remote_ip]:[remote_port]>",
            "To: <sip:0301234@[remote_ip]:[remote_port]>",
        );
    assert!(invite.contains("To: <sip:0301234@"), "{invite}");
    let xml = format!(
        "{}{invite}  <recv response=\"100\" optional=\"true\"/>\n  <recv response=\"180\" optional=\"true\"/>\n  \
         <recv response=\"183\" optional=\"true\"/>\n  <recv response=\"200\" rrs=\"true\"/>\n{}  \
         <pause milliseconds=\"300\"/>\n{}  <recv response=\"200\"/>\n</scenario>\n",
        head("to our contact"),
        crate::sipp_scenario::ack_2xx(),
        bye(2),
    );
    let sf = d.scenario("contact.xml", &xml);
    assert!(
        d.sipp(&["-sf", &sf, "-s", "gatewayd", "-m", "1"]),
        "the call to sip:gatewayd@ with To 0301234 is answered"
    );
    d.assert_no_busy_channel();
    let cdrs = d.cdrs();
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    assert_eq!(
        cdrs[0][crate::daemon_support::CALLED],
        "0301234",
        "{cdrs:?}"
    );
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");
}

/// SIPp's registrar of the other test, then the removal: a REGISTER whose Contact (or
/// Expires) says 0, answered 200 (the scenario fails without it).
fn registrar_then_removal() -> String {
    let unregister = format!(
        r#"  <recv request="REGISTER">
    <action>
      <ereg regexp="[Ee]xpires[:=] *0[^0-9]" search_in="msg" check_it="true" assign_to="gone"/>
    </action>
  </recv>
{}  <label id="end"/>
  <Reference variables="gone"/>
</scenario>
"#,
        reply("200 OK")
    );
    let xml = REGISTRAR_UAS.replace("  <label id=\"end\"/>\n</scenario>\n", &unregister);
    assert!(xml.contains("gone"), "the registrar scenario's end moved");
    xml
}

/// A daemon on a trunk that registers at `pbx_port`; the `register` key too.
fn registering_daemon(name: &str, pbx_port: u16) -> (Daemon, String) {
    let register = format!(
        "register = {{ registrar = \"sip:127.0.0.1:{pbx_port}\", aor = \"sip:gw@sipp.test\", expires = 300 }}"
    );
    let keys = format!("{GW_AUTH}\n{register}");
    let d = Daemon::start(
        name,
        Options {
            sip_trunk: &keys,
            pbx_port: Some(pbx_port),
            ..Options::default()
        },
    );
    (d, register)
}

/// A reload that removes the trunk's `register` removes its binding at the registrar: a
/// REGISTER with expires 0 (RFC 3261 §10.2.2), after the registration of the start.
#[test]
fn a_reload_without_register_unregisters_the_trunk() {
    let (d, register) = registering_daemon("sip-unregister", free_udp_port());
    let sf = d.scenario("registrar-twice.xml", &registrar_then_removal());
    let mut registrar = d.sipp_uas(&["-sf", &sf, "-m", "1"]);
    wait_log(&d, "registered", Duration::from_secs(10));
    let path = d.dir.join("gatewayd.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace(&register, "")).unwrap();
    assert_eq!(d.ctl("reload"), "ok\n");
    assert!(
        registrar.wait().unwrap().success(),
        "the registrar got the REGISTER with expires 0"
    );
    wait_log(&d, "unregistering", Duration::from_secs(1));
}

/// A daemon that stops (SIGTERM) removes its binding at the registrar first (RFC 3261
/// §10.2.2), so that the PBX stops sending calls to a gateway that is gone; then exits.
#[test]
fn a_stopping_daemon_unregisters_the_trunk() {
    let (mut d, _) = registering_daemon("sip-stop-unregister", free_udp_port());
    let sf = d.scenario("registrar-stop.xml", &registrar_then_removal());
    let mut registrar = d.sipp_uas(&["-sf", &sf, "-m", "1"]);
    wait_log(&d, "registered", Duration::from_secs(10));
    let t0 = Instant::now();
    assert!(
        d.terminate(Duration::from_secs(10)),
        "gatewayd exits on SIGTERM"
    );
    assert!(
        t0.elapsed() < Duration::from_millis(1500),
        "the registrar's 200 ended the wait: {:?}",
        t0.elapsed()
    );
    assert!(
        registrar.wait().unwrap().success(),
        "the registrar got the REGISTER with expires 0"
    );
    let log = d.log();
    assert!(log.contains("unregistering"), "{log}");
    assert!(log.contains("gatewayd stopped"), "{log}");
}
