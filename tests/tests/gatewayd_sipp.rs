//! End to end through the daemon's code (`gateway::daemon`, hosted in a thread): SIPp as
//! the IP-PBX calls through gatewayd onto a simulated E1 whose far end is the simulated
//! switch (q931 network side), which rings and answers. Checks the SIP outcome, that no
//! B-channel is left busy and that every call has its CDR.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use gateway::daemon::{run_blocking, Source};

#[path = "../../gateway/tests/port_support/mod.rs"]
mod port_support;
use port_support::{free_udp_port, rtp_port_keys};

fn ctl(sock: &Path, line: &str) -> String {
    let mut s = UnixStream::connect(sock).unwrap();
    s.write_all(format!("{line}\n").as_bytes()).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

struct Daemon {
    dir: PathBuf,
    sip_port: u16,
    pbx_port: u16,
}

impl Daemon {
    fn start(name: &str) -> Daemon {
        let dir = std::env::temp_dir().join(format!("gatewayd-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sip_port = free_udp_port();
        let pbx_port = free_udp_port();
        let rtp_keys = rtp_port_keys(101);
        let config = format!(
            r#"
[general]
cdr_file = "{dir}/cdr.csv"
control_socket = "{dir}/ctl.sock"
{rtp_keys}

[[span]]
id = 1
type = "e1"
signalling = "pri_cpe"
device = {{ kind = "sim" }}

[[trunk_group]]
name = "pstn"
members = [{{ span = 1 }}]
hunting = "ascending"

[[sip_trunk]]
name = "pbx"
listen = "127.0.0.1:{sip_port}"
peers = ["127.0.0.1:{pbx_port}"]

[[route]]
pattern = "_0X."
from = ["pbx"]
to = ["pstn"]

[[route]]
pattern = "_2XX"
from = ["pstn"]
to = ["pbx"]
"#,
            dir = dir.display()
        );
        let path = dir.join("gatewayd.toml");
        std::fs::write(&path, config).unwrap();
        std::thread::spawn(move || run_blocking(Source::File(path)));
        let d = Daemon {
            dir,
            sip_port,
            pbx_port,
        };
        // Wait for the control socket and the D-channel.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            assert!(Instant::now() < deadline, "gatewayd did not come up");
            let sock = d.sock();
            if sock.exists() && ctl(&sock, "show spans").contains(" up ") {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        d
    }

    fn sock(&self) -> PathBuf {
        self.dir.join("ctl.sock")
    }

    fn sipp(&self, args: &[&str]) -> bool {
        let status = Command::new("sipp")
            .args(args)
            .args([
                "-p",
                &self.pbx_port.to_string(),
                "-i",
                "127.0.0.1",
                "-timeout",
                "30",
                "-timeout_error",
                "-nostdin",
                &format!("127.0.0.1:{}", self.sip_port),
            ])
            .current_dir(&self.dir)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("sipp (Debian package sip-tester) runs");
        status.success()
    }

    fn cdrs(&self) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(self.dir.join("cdr.csv")).unwrap();
        text.lines()
            .skip(1)
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    }

    fn assert_no_busy_channel(&self) {
        let groups = ctl(&self.sock(), "show trunk-groups");
        assert!(groups.contains("pstn 30 0 0"), "{groups}");
        assert!(ctl(&self.sock(), "show calls").is_empty());
    }
}

/// Column positions of `gateway::cdr::HEADER`.
const CALLED: usize = 7;
const CHANNEL: usize = 11;
const ISDN_CAUSE: usize = 12;
const SIP_STATUS: usize = 13;
const DISPOSITION: usize = 16;

#[test]
fn sipp_calls_answered_by_the_switch_over_a_simulated_e1() {
    let d = Daemon::start("answer");
    // Three calls, each held 1 s after the switch answers, then BYE from SIPp.
    assert!(
        d.sipp(&["-sn", "uac", "-s", "0301234", "-m", "3", "-l", "3", "-d", "1000"]),
        "every SIPp call succeeded"
    );
    std::thread::sleep(Duration::from_millis(500));
    d.assert_no_busy_channel();
    let cdrs = d.cdrs();
    assert_eq!(cdrs.len(), 3, "{cdrs:?}");
    for r in &cdrs {
        assert_eq!(r[DISPOSITION], "ANSWERED");
        assert_eq!(r[CALLED], "0301234");
        assert_eq!(r[ISDN_CAUSE], "16");
        assert!(!r[CHANNEL].is_empty());
    }
}

/// A UAC scenario expecting one final error `status` (ACKed by SIPp).
fn reject_scenario(status: u16) -> String {
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="expect {status}">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="{status}"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-3]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
</scenario>
"#
    )
}

#[test]
fn unallocated_number_gets_404_and_a_cdr() {
    let d = Daemon::start("unallocated");
    let sf = d.dir.join("reject404.xml");
    std::fs::write(&sf, reject_scenario(404)).unwrap();
    assert!(d.sipp(&["-sf", sf.to_str().unwrap(), "-s", "999", "-m", "1"]));
    std::thread::sleep(Duration::from_millis(300));
    d.assert_no_busy_channel();
    let cdrs = d.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0][ISDN_CAUSE], "1");
    assert_eq!(cdrs[0][SIP_STATUS], "404");
    assert_eq!(cdrs[0][DISPOSITION], "FAILED");
}

#[test]
fn switch_causes_become_sip_statuses_busy_486_congestion_503() {
    let d = Daemon::start("causes");
    for (number, status, cause) in [("099917", 486u16, "17"), ("099934", 503, "34")] {
        let sf = d.dir.join(format!("reject{status}.xml"));
        std::fs::write(&sf, reject_scenario(status)).unwrap();
        assert!(
            d.sipp(&["-sf", sf.to_str().unwrap(), "-s", number, "-m", "1"]),
            "{number} gets {status}"
        );
        std::thread::sleep(Duration::from_millis(300));
        d.assert_no_busy_channel();
        let cdrs = d.cdrs();
        let last = cdrs.last().unwrap();
        assert_eq!(last[ISDN_CAUSE], cause);
        assert_eq!(last[SIP_STATUS], status.to_string());
    }
    assert_eq!(d.cdrs().len(), 2);
}

#[test]
fn switch_calls_the_pbx_which_answers_and_the_switch_clears_with_bye() {
    let d = Daemon::start("reverse");
    // SIPp as the PBX answers one call and expects the BYE.
    let args: Vec<String> = ["-sn", "uas", "-m", "1", "-p"]
        .iter()
        .map(|s| s.to_string())
        .chain([
            d.pbx_port.to_string(),
            "-i".into(),
            "127.0.0.1".into(),
            "-timeout".into(),
            "30".into(),
            "-timeout_error".into(),
            "-nostdin".into(),
        ])
        .collect();
    let mut uas = Command::new("sipp")
        .args(&args)
        .current_dir(&d.dir)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("sipp runs");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(ctl(&d.sock(), "simcall 1 201"), "ok\n");
    let status = uas.wait().unwrap();
    assert!(status.success(), "SIPp UAS got INVITE, answered, got BYE");
    std::thread::sleep(Duration::from_millis(300));
    d.assert_no_busy_channel();
    let cdrs = d.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED");
    assert_eq!(cdrs[0][CALLED], "201");
    assert_eq!(cdrs[0][ISDN_CAUSE], "16");
}
