//! RTP ports through gatewayd: a port of the configured range that another program holds
//! is never named in an SDP (the pool binds each port when it hands it out, and skips
//! those it cannot bind), and a call's port stays reserved from its SDP until its media
//! are bridged.
//!
//! The daemon is the real `gatewayd` process (`daemon_support`) on a simulated E1 whose
//! far end is the simulated switch (it answers); SIPp (Debian `sip-tester`) plays the PBX.

use std::net::UdpSocket;

use crate::daemon_support::{free_port_block, Daemon, Options};
use crate::sipp_scenario::{ack_2xx, head, invite, pbx_in_dialog};

/// SIPp calls `[service]` offering PCMA from `rtp_port`; the 200's SDP must name
/// `expect_port`; it hangs up after a second.
fn uac(rtp_port: u16, expect_port: u16) -> String {
    format!(
        r#"{}{}  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true">
    <action>
      <ereg regexp="m=audio {expect_port} RTP/AVP 8" search_in="body" check_it="true" assign_to="1"/>
    </action>
  </recv>
{}  <pause milliseconds="1000"/>
{}  <recv response="200"/>
  <Reference variables="1"/>
</scenario>
"#,
        head("RTP port of the answer"),
        invite(&rtp_port.to_string(), &[8]),
        ack_2xx(),
        pbx_in_dialog("BYE", 2).send_retrans(),
    )
}

/// The range has two ports and another program holds one of them: every call gets the
/// other one, one after another (the socket an ended call handed back is the next
/// call's), and no call goes without media.
#[test]
fn a_port_another_program_holds_is_never_named_in_an_sdp() {
    let low = free_port_block(3);
    let taken = UdpSocket::bind(("0.0.0.0", low)).unwrap();
    let free = low + 2;
    let d = Daemon::start(
        "rtp-ports",
        Options {
            rtp_ports: Some((low, free)),
            ..Options::default()
        },
    );
    let far = UdpSocket::bind("127.0.0.1:0").unwrap();
    let far_port = far.local_addr().unwrap().port();
    let sf = d.scenario("uac_port.xml", &uac(far_port, free));
    // Three calls: the pool starts on either port of the range and goes round it.
    for call in 0..3 {
        assert!(
            d.sipp(&["-sf", &sf, "-s", "0123", "-m", "1"]),
            "call {call}: the 200 named a port other than {free}; log:\n{}",
            d.log()
        );
    }
    let log = d.log();
    assert!(
        !log.contains("RTP port not bound"),
        "a call went without media:\n{log}"
    );
    assert_eq!(d.cdrs().len(), 3);
    d.assert_no_busy_channel();
    drop(taken);
}
