//! Trunk security enforced by gatewayd (`[[sip_trunk]]` keys `allow`, `reject`,
//! `rate_limit`): SIPp from an address the trunk does not allow gets 403 (or silence), and a
//! flood from an allowed address gets 503 + Retry-After while a call in progress through
//! the daemon goes on undisturbed.

use std::net::UdpSocket;
use std::time::Duration;

use crate::daemon_support::{free_udp_port, sipp_stat_counts, Daemon, Options, DISPOSITION};
use crate::sipp_scenario::{head, refused, Uac};

/// OPTIONS (each sent once) that must be refused with 503 carrying a Retry-After (a 200
/// fails the "call").
fn expect_503() -> String {
    format!(
        r#"{}{}  <recv response="503">
    <action>
      <ereg regexp="[0-9]+" search_in="hdr" header="Retry-After:" check_it="true" assign_to="1"/>
      <log message="Retry-After [$1]"/>
    </action>
  </recv>
</scenario>
"#,
        head("flood expecting 503"),
        Uac::sipp("sipp", "[service]").outside("OPTIONS", 1).send(),
    )
}

#[test]
fn sipp_from_an_address_not_allowed_gets_403_and_no_call() {
    let d = Daemon::start("guard-403", Options::default());
    let sf = d.scenario("expect403.xml", &refused("expect 403", 403));
    let ok = d
        .sipp_command(
            "127.0.0.2",
            free_udp_port(),
            &["-sf", &sf, "-s", "0301234", "-m", "1"],
        )
        .status()
        .unwrap()
        .success();
    assert!(ok, "SIPp from 127.0.0.2 got 403");
    // The same call from the trunk's peer is carried.
    assert!(d.sipp(&["-sn", "uac", "-s", "0301234", "-m", "1", "-d", "200"]));
    d.assert_no_busy_channel();
    let cdrs = d.cdrs();
    assert_eq!(cdrs.len(), 1, "the refused INVITE made no call: {cdrs:?}");
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED");
}

#[test]
fn silent_trunk_answers_nothing_to_an_address_not_allowed() {
    let d = Daemon::start(
        "guard-silent",
        Options {
            sip_trunk: "allow = [\"127.0.0.1/32\"]\nreject = \"silent\"",
            ..Options::default()
        },
    );
    let sock = UdpSocket::bind("127.0.0.2:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let port = sock.local_addr().unwrap().port();
    let options = format!(
        "OPTIONS sip:gw@127.0.0.1:{} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:{port};branch=z9hG4bKscan1\r\n\
         From: <sip:scanner@127.0.0.2>;tag=s1\r\nTo: <sip:gw@127.0.0.1>\r\nCall-ID: scan-1\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        d.sip_port
    );
    sock.send_to(options.as_bytes(), ("127.0.0.1", d.sip_port))
        .unwrap();
    let mut buf = [0u8; 2048];
    assert!(
        sock.recv_from(&mut buf).is_err(),
        "a silent trunk sends nothing to a scanner"
    );
    // From an allowed address the same OPTIONS is answered.
    let ok_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    ok_sock
        .set_read_timeout(Some(Duration::from_millis(3000)))
        .unwrap();
    let p = ok_sock.local_addr().unwrap().port();
    let allowed = options
        .replace(&format!("127.0.0.2:{port}"), &format!("127.0.0.1:{p}"))
        .replace("scan-1", "scan-2");
    ok_sock
        .send_to(allowed.as_bytes(), ("127.0.0.1", d.sip_port))
        .unwrap();
    let (n, _) = ok_sock.recv_from(&mut buf).expect("an answer");
    assert!(
        buf[..n].starts_with(b"SIP/2.0 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
}

#[test]
fn flood_gets_503_with_retry_after_while_a_call_in_progress_goes_on() {
    let d = Daemon::start(
        "guard-flood",
        Options {
            sip_trunk: "rate_limit = 5",
            ..Options::default()
        },
    );
    // A call from the PBX, answered by the switch after 1 s and held 4 s more.
    let mut held = d.held_call(4000);
    // The flood: 300 OPTIONS at 150/s from the same address, another port.
    let sf = d.scenario("flood503.xml", &expect_503());
    let _ = d
        .sipp_command(
            "127.0.0.1",
            free_udp_port(),
            &[
                "-sf",
                &sf,
                "-s",
                "gw",
                "-r",
                "150",
                "-m",
                "300",
                "-trace_stat",
                "-fd",
                "1",
            ],
        )
        .status()
        .unwrap();
    let (refused, passed) = sipp_stat_counts(&d.dir, "flood503_");
    assert_eq!(refused + passed, 300);
    // 5 at once, then 5 a second for the ~2 s of the flood.
    assert!(refused >= 270, "503 + Retry-After for the flood: {refused}");
    assert!(
        (1..=30).contains(&passed),
        "the rate let some through: {passed}"
    );
    assert!(
        held.wait().unwrap().success(),
        "the call in progress completed (its BYE passed the guard)"
    );
    d.assert_no_busy_channel();
    let cdrs = d.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED");
    // The limit is a rate, not a ban: a second later the PBX calls again.
    std::thread::sleep(Duration::from_millis(1200));
    assert!(d.sipp(&["-sn", "uac", "-s", "0301234", "-m", "1", "-d", "200"]));
}
