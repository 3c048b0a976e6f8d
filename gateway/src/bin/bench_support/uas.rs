//! The UAS part of `bench-sip`: SIPp (`sipp -sn uac`) drives INVITE → 180 → 200 → ACK →
//! BYE → 200 call cycles at a fixed rate against our user agent core, then, in the same
//! run, against SIPp's own UAS (`sipp -sn uas`). Reported: the call rate we sustained, the
//! failed calls SIPp counted, and our CPU time per call over SIPp UAS's CPU time per call.
//!
//! Both UAS are measured the same way: each is a fresh process (ours is this binary run
//! as `bench-sip --uas-serve`, one thread running the endpoint), started before the load,
//! and its CPU time is the sum over all its threads of the first field of
//! `/proc/<pid>/task/<tid>/schedstat` (user + system, nanoseconds), read just before and
//! just after the SIPp UAC run, so that both figures cover the same window (no start-up,
//! no idle tail).

use std::io::BufRead;
use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gateway::sip::transaction::Timers;
use gateway::sip::transport::{Listen, Protocol, Transport};
use gateway::sip::ua::driver::{run, Application};
use gateway::sip::ua::{Endpoint, EndpointConfig, UaEvent};
use gateway::sip::StatusCode;

const SDP: &[u8] = b"v=0\r\no=gw 1 1 IN IP4 127.0.0.1\r\ns=gw\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 20000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=ptime:20\r\n";

/// Figures of one UAS run.
pub struct UasRun {
    pub calls: u64,
    pub failed: u64,
    pub wall: Duration,
    pub cpu: Duration,
}

impl UasRun {
    /// CPU time per successful call, in seconds.
    pub fn per_call(&self) -> f64 {
        self.cpu.as_secs_f64() / self.calls.max(1) as f64
    }
}

/// CPU time (user + system) all threads of process `pid` have run so far: the sum of the
/// first field of their `schedstat` (nanoseconds, Linux).
fn cpu_of(pid: u32) -> Duration {
    let ns: u64 = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
        .unwrap_or_default()
        .iter()
        .filter_map(|t| std::fs::read_to_string(t.join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(ns)
}

/// Minor page faults, user and system time (clock ticks) of process `pid`: fields 10, 14
/// and 15 of `/proc/<pid>/stat`. The times are too coarse for the per-call figure, enough
/// to split it.
fn faults_user_sys_of(pid: u32) -> [u64; 3] {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return [0; 3];
    };
    // The command name may hold spaces: count fields after its closing parenthesis
    // (the first one after it is field 3).
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    [10, 14, 15].map(|n| f.get(n - 3).copied().unwrap_or(0))
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// When SIPp counted failed calls, its last message table (messages, retransmissions,
/// timeouts, unexpected messages per scenario step), so that a run starved by a loaded
/// machine can be told from a fault of the UAS.
fn explain_failures(stdout: &str, failed: u64) {
    if failed == 0 {
        return;
    }
    let Some(start) = stdout.rfind("Messages  Retrans") else {
        return;
    };
    for line in stdout[start..].lines().take_while(|l| !l.trim().is_empty()) {
        eprintln!("    sipp uac: {}", line.trim_end());
    }
}

/// Count of "Successful call" / "Failed call" on SIPp's final screen.
fn sipp_counts(stdout: &str) -> (u64, u64) {
    let grab = |label: &str| {
        stdout
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with(label))
            .and_then(|l| l.split('|').nth(2))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    (grab("Successful call"), grab("Failed call"))
}

fn sipp_uac(port: u16, rate: u64, calls: u64) -> std::process::Output {
    Command::new("sipp")
        .args([
            "-sn",
            "uac",
            &format!("127.0.0.1:{port}"),
            "-i",
            "127.0.0.1",
            "-p",
            "0",
        ])
        .args([
            "-r",
            &rate.to_string(),
            "-m",
            &calls.to_string(),
            "-l",
            &(rate * 4).to_string(),
        ])
        .args([
            "-d",
            "0",
            "-nostdin",
            "-timeout",
            "120s",
            "-timeout_error",
            "-max_socket",
            "1000",
        ])
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .expect("sipp (Debian package sip-tester) must be installed")
}

/// Drive the UAS process `uas` (listening on `port`) with SIPp's UAC, then end it.
fn drive(mut uas: Child, port: u16, rate: u64, calls: u64, label: &str) -> UasRun {
    let pid = uas.id();
    let before = faults_user_sys_of(pid);
    let cpu0 = cpu_of(pid);
    let t0 = Instant::now();
    let out = sipp_uac(port, rate, calls);
    let wall = t0.elapsed();
    let cpu = cpu_of(pid).saturating_sub(cpu0);
    let after = faults_user_sys_of(pid);
    let [faults, user, sys] = [0, 1, 2].map(|i| after[i].saturating_sub(before[i]));
    // SIPp's UAS does not always stop by itself after `-m` calls, ours never does: end it.
    // SAFETY: signalling our own child, which has not been reaped yet.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    let _ = uas.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (ok, failed) = sipp_counts(&stdout);
    explain_failures(&stdout, failed);
    eprintln!(
        "  {label}: {ok} successful, {failed} failed, {:.1} s, CPU {:.3} s ({}% system, {faults} page faults), {:.1} µs CPU/call",
        wall.as_secs_f64(),
        cpu.as_secs_f64(),
        (100 * sys).checked_div(user + sys).unwrap_or(0),
        cpu.as_secs_f64() * 1e6 / ok.max(1) as f64
    );
    UasRun {
        calls: ok,
        failed: failed + calls.saturating_sub(ok + failed),
        wall,
        cpu,
    }
}

struct AutoAnswer;

impl Application for AutoAnswer {
    fn on_event(&mut self, ep: &mut Endpoint, now: Instant, ev: UaEvent) -> bool {
        match ev {
            UaEvent::IncomingCall { call, .. } => {
                ep.respond(now, call, StatusCode::RINGING, None, &[], None);
                ep.respond(now, call, StatusCode::OK, None, &[], Some(SDP));
            }
            UaEvent::Request { handle, .. } => {
                ep.respond_request(now, handle, StatusCode::OK, &[], None)
            }
            _ => {}
        }
        true
    }
}

/// The child side (`bench-sip --uas-serve`): our endpoint run by `ua::driver::run` over
/// `Transport::bind_direct` on this process's only thread, answering each call with 180 and
/// 200 + SDP; the UDP port goes to stdout. Runs until killed.
pub fn serve() {
    // End with the benchmark, even when it dies before it could end us.
    // SAFETY: PR_SET_PDEATHSIG takes a signal number and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let (transport, incoming) = Transport::bind_direct(Listen {
            udp: Some("127.0.0.1:0".parse().expect("address")),
            ..Default::default()
        })
        .await
        .expect("bind UDP");
        let addr = transport
            .local_addr(Protocol::Udp)
            .expect("UDP listener bound");
        println!("{}", addr.port());
        let ep = Endpoint::new(EndpointConfig {
            advertise: vec![(Protocol::Udp, addr)],
            contact_user: "gw".into(),
            user_agent: "gatewayd".into(),
            timers: Timers::default(),
        });
        run(transport, incoming, ep, AutoAnswer, None).await;
    });
}

/// Our UAS, in a fresh process, driven by SIPp at `rate` calls/s for `calls` calls.
pub fn ours(rate: u64, calls: u64) -> UasRun {
    let exe = std::env::current_exe().expect("path of bench-sip");
    let mut child = Command::new(exe)
        .arg("--uas-serve")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("bench-sip --uas-serve");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("piped stdout");
    let _ = std::io::BufReader::new(stdout).read_line(&mut line);
    let port: u16 = line
        .trim()
        .parse()
        .expect("bench-sip --uas-serve prints its UDP port");
    drive(child, port, rate, calls, "ours")
}

/// SIPp's own UAS under the same load, its CPU time read the same way as ours.
pub fn sipp_uas(rate: u64, calls: u64) -> UasRun {
    let port = free_port();
    let child = Command::new("sipp")
        .args([
            "-sn",
            "uas",
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-m",
            &calls.to_string(),
        ])
        .args(["-nostdin", "-timeout", "120s", "-max_socket", "1000"])
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp");
    // Let it bind and settle (ours has printed its port once bound).
    std::thread::sleep(Duration::from_millis(300));
    drive(child, port, rate, calls, "sipp -sn uas")
}
