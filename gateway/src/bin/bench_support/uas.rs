//! The UAS part of `bench-sip`: SIPp (`sipp -sn uac`) drives INVITE → 180 → 200 → ACK →
//! BYE → 200 call cycles at a fixed rate against our user agent core, then, in the same
//! run, against SIPp's own UAS (`sipp -sn uas`). Reported: the call rate we sustained, the
//! failed calls SIPp counted, and our CPU time per call over SIPp UAS's CPU time per call.

use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
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

/// CPU time (user + system) threads have run so far: the sum of the first field of their
/// `schedstat` (nanoseconds, Linux). The same reading is taken of our UAS (the thread that
/// runs the endpoint; the benchmark's main thread, which only spawns SIPp's UAC and waits, is
/// left out) and of all of SIPp's UAS process, just before and just after the SIPp UAC load,
/// so that both figures cover the same window (no start-up, no idle tail).
fn cpu_of(tasks: &[std::path::PathBuf]) -> Duration {
    let ns: u64 = tasks
        .iter()
        .filter_map(|t| std::fs::read_to_string(t.join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(ns)
}

/// The threads of process `pid`.
fn tasks_of(pid: u32) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
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

struct AutoAnswer {
    answered: Arc<AtomicU64>,
}

impl Application for AutoAnswer {
    fn on_event(&mut self, ep: &mut Endpoint, now: Instant, ev: UaEvent) -> bool {
        match ev {
            UaEvent::IncomingCall { call, .. } => {
                ep.respond(now, call, StatusCode::RINGING, None, &[], None);
                ep.respond(now, call, StatusCode::OK, None, &[], Some(SDP));
                self.answered.fetch_add(1, Ordering::Relaxed);
            }
            UaEvent::Request { handle, .. } => {
                ep.respond_request(now, handle, StatusCode::OK, &[], None)
            }
            _ => {}
        }
        true
    }
}

/// Our UAS, driven by SIPp at `rate` calls/s for `calls` calls.
pub fn ours(rate: u64, calls: u64) -> UasRun {
    let (tx, rx) = std::sync::mpsc::channel();
    let answered = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let a2 = answered.clone();
    let stop2 = stop.clone();
    let th = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        rt.block_on(async move {
            let (transport, incoming) = Transport::bind_direct(Listen {
                udp: Some("127.0.0.1:0".parse().unwrap()),
                ..Default::default()
            })
            .await
            .unwrap();
            let addr = transport.local_addr(Protocol::Udp).unwrap();
            tx.send((addr.port(), tid)).unwrap();
            let ep = Endpoint::new(EndpointConfig {
                advertise: vec![(Protocol::Udp, addr)],
                contact_user: "gw".into(),
                user_agent: "gatewayd".into(),
                timers: Timers::default(),
            });
            let run_fut = run(transport, incoming, ep, AutoAnswer { answered: a2 }, None);
            tokio::select! {
                _ = run_fut => {}
                _ = async { while !stop2.load(Ordering::Relaxed) { tokio::time::sleep(Duration::from_millis(50)).await } } => {}
            }
        });
    });
    let (port, tid) = rx.recv().unwrap();
    let uas = [std::path::PathBuf::from(format!("/proc/self/task/{tid}"))];
    let cpu0 = cpu_of(&uas);
    let t0 = Instant::now();
    let out = sipp_uac(port, rate, calls);
    let wall = t0.elapsed();
    let cpu = cpu_of(&uas).saturating_sub(cpu0);
    stop.store(true, Ordering::Relaxed);
    let _ = th.join();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (ok, failed) = sipp_counts(&stdout);
    explain_failures(&stdout, failed);
    eprintln!(
        "  ours: {ok} successful, {failed} failed, {} answered, {:.1} s, CPU {:.2} s",
        answered.load(Ordering::Relaxed),
        wall.as_secs_f64(),
        cpu.as_secs_f64()
    );
    UasRun {
        calls: ok,
        failed: failed + calls.saturating_sub(ok + failed),
        wall,
        cpu,
    }
}

/// SIPp's own UAS under the same load, its CPU time read the same way as ours.
pub fn sipp_uas(rate: u64, calls: u64) -> UasRun {
    let port = free_port();
    let mut child = Command::new("sipp")
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
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id();
    let tasks = tasks_of(pid);
    let cpu0 = cpu_of(&tasks);
    let t0 = Instant::now();
    let out = sipp_uac(port, rate, calls);
    let wall = t0.elapsed();
    let cpu = cpu_of(&tasks).saturating_sub(cpu0);
    // SIPp's UAS does not always stop by itself after `-m` calls: end it.
    // SAFETY: signalling our own child, which has not been reaped yet.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    let _ = child.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (ok, failed) = sipp_counts(&stdout);
    explain_failures(&stdout, failed);
    eprintln!(
        "  sipp -sn uas: {ok} successful, {failed} failed, {:.1} s, CPU {:.2} s",
        wall.as_secs_f64(),
        cpu.as_secs_f64()
    );
    UasRun {
        calls: ok,
        failed,
        wall,
        cpu,
    }
}
