//! A gatewayd as a real child process (`gatewayd run --config FILE`, the binary Cargo
//! built for the tests) on one simulated E1 whose far end is the daemon's simulated
//! switch, with one SIP trunk on the loopback; SIPp (Debian `sip-tester`) plays the
//! IP-PBX. Each test file adds what its feature needs to the configuration.
//!
//! The daemon is killed when its [`Daemon`] is dropped, and by the kernel when the test
//! thread that started it ends (`PR_SET_PDEATHSIG`), so none outlives a test, even one
//! that panicked or was killed. Its log (stderr, `RUST_LOG` or `info`) is `gatewayd.log`
//! in its directory; a failed start-up prints the log's tail.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::port_support;
#[allow(unused_imports)]
pub use port_support::{free_port_block, free_tcp_port, free_udp_port, rtp_port_keys};

pub fn ctl(sock: &Path, line: &str) -> String {
    try_ctl(sock, line).unwrap_or_else(|| panic!("control socket {}", sock.display()))
}

/// One control command; `None` when the socket does not answer.
pub fn try_ctl(sock: &Path, line: &str) -> Option<String> {
    let mut s = UnixStream::connect(sock).ok()?;
    s.write_all(format!("{line}\n").as_bytes()).ok()?;
    s.shutdown(std::net::Shutdown::Write).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

pub struct Daemon {
    pub dir: PathBuf,
    pub sip_port: u16,
    pub pbx_port: u16,
    /// Where the daemon serves its Prometheus metrics (`metrics_listen`).
    pub metrics_port: u16,
    child: Child,
}

/// `gatewayd run --config <config>` with its stderr appended to `log`, dying with the
/// thread that spawned it (`PR_SET_PDEATHSIG`, SIGKILL).
pub fn spawn_gatewayd(config: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    // SAFETY: getpid(2) has no preconditions.
    let parent = unsafe { libc::getpid() };
    let mut c = Command::new(env!("CARGO_BIN_EXE_gatewayd"));
    c.args(["run", "--config"])
        .arg(config)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    // SAFETY: only async-signal-safe calls (prctl, getppid, _exit) between fork and exec.
    unsafe {
        c.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The test process may have gone before the prctl took effect.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    c.spawn().expect("gatewayd (CARGO_BIN_EXE_gatewayd) starts")
}

/// The last `lines` lines of a log file.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// What a test changes in the configuration.
#[derive(Default)]
pub struct Options<'a> {
    /// Extra keys of the `[[sip_trunk]]` table.
    pub sip_trunk: &'a str,
    /// Extra keys of the `[[trunk_group]]` table.
    pub trunk_group: &'a str,
    /// Extra tables (routes…) appended to the file.
    pub tail: &'a str,
    /// Port of the SIP listener (a free UDP port when `None`).
    pub sip_port: Option<u16>,
    /// Port of the trunk's peer (a free UDP port when `None`).
    pub pbx_port: Option<u16>,
    /// The RTP port range (a free block of 101 ports of the band when `None`).
    pub rtp_ports: Option<(u16, u16)>,
    /// More peers of the trunk after `pbx_port` (ports on 127.0.0.1), tried in order.
    pub more_peers: &'a [u16],
    /// Extra keys of the `[[span]]` table.
    pub span: &'a str,
}

impl Daemon {
    /// Start a daemon; `name` names its directory.
    pub fn start(name: &str, opts: Options<'_>) -> Daemon {
        // Numbered too: all test modules share one process, and two of them may name
        // their daemons alike.
        static STARTED: AtomicU32 = AtomicU32::new(0);
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("gatewayd-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sip_port = opts.sip_port.unwrap_or_else(free_udp_port);
        let metrics_port = port_support::free_tcp_port();
        let pbx_port = opts.pbx_port.unwrap_or_else(free_udp_port);
        let rtp_keys = match opts.rtp_ports {
            Some((min, max)) => format!("rtp_port_min = {min}\nrtp_port_max = {max}"),
            None => rtp_port_keys(101),
        };
        let peers: Vec<String> = std::iter::once(pbx_port)
            .chain(opts.more_peers.iter().copied())
            .map(|p| format!("\"127.0.0.1:{p}\""))
            .collect();
        let peers = peers.join(", ");
        let config = format!(
            r#"
[general]
cdr_file = "{dir}/cdr.csv"
control_socket = "{dir}/ctl.sock"
metrics_listen = "127.0.0.1:{metrics_port}"
{rtp_keys}

[[span]]
id = 1
type = "e1"
signalling = "pri_cpe"
device = {{ kind = "sim" }}
{span}

[[trunk_group]]
name = "pstn"
members = [{{ span = 1 }}]
hunting = "ascending"
{trunk_group}

[[sip_trunk]]
name = "pbx"
listen = "127.0.0.1:{sip_port}"
peers = [{peers}]
{sip_trunk}

[[route]]
pattern = "_0X."
from = ["pbx"]
to = ["pstn"]

[[route]]
pattern = "_2XX"
from = ["pstn"]
to = ["pbx"]
{tail}
"#,
            dir = dir.display(),
            sip_trunk = opts.sip_trunk,
            span = opts.span,
            trunk_group = opts.trunk_group,
            tail = opts.tail,
        );
        let path = dir.join("gatewayd.toml");
        std::fs::write(&path, config).unwrap();
        gateway::config::Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let child = spawn_gatewayd(&path, &dir.join("gatewayd.log"));
        let mut d = Daemon {
            dir,
            sip_port,
            pbx_port,
            metrics_port,
            child,
        };
        // Wait for the control socket and the D-channel.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let exited = d.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() >= deadline {
                panic!(
                    "gatewayd did not come up ({}); the tail of {}:\n{}",
                    exited.map_or("timed out".to_string(), |s| s.to_string()),
                    d.log_path().display(),
                    log_tail(&d.log_path(), 30)
                );
            }
            let sock = d.sock();
            if sock.exists() && try_ctl(&sock, "show spans").is_some_and(|s| s.contains(" up ")) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("gatewayd.log")
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn sock(&self) -> PathBuf {
        self.dir.join("ctl.sock")
    }

    pub fn ctl(&self, line: &str) -> String {
        ctl(&self.sock(), line)
    }

    /// Write a SIPp scenario file into the daemon's directory.
    pub fn scenario(&self, name: &str, xml: &str) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, xml).unwrap();
        p.display().to_string()
    }

    /// SIPp towards the daemon from `ip`:`port`, with `args` first.
    pub fn sipp_command(&self, ip: &str, port: u16, args: &[&str]) -> Command {
        let mut c = Command::new("sipp");
        c.args(args)
            .args([
                "-p",
                &port.to_string(),
                "-i",
                ip,
                "-timeout",
                "30",
                "-timeout_error",
                "-nostdin",
                &format!("127.0.0.1:{}", self.sip_port),
            ])
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    /// SIPp as the PBX (from the trunk's peer address); true when every call succeeded.
    pub fn sipp(&self, args: &[&str]) -> bool {
        self.sipp_command("127.0.0.1", self.pbx_port, args)
            .status()
            .expect("sipp (Debian package sip-tester) runs")
            .success()
    }

    /// A call in progress: the PBX (SIPp's built-in `uac`) calls 0301234, holds the call
    /// `hold_ms` once answered and hangs up. Returns 1.5 s after the start, when the
    /// simulated switch has answered (after 1 s); the child ends with the call.
    pub fn held_call(&self, hold_ms: u64) -> Child {
        let hold = hold_ms.to_string();
        let child = self
            .sipp_command(
                "127.0.0.1",
                self.pbx_port,
                &["-sn", "uac", "-s", "0301234", "-m", "1", "-d", &hold],
            )
            .spawn()
            .expect("sipp (Debian package sip-tester) runs");
        std::thread::sleep(Duration::from_millis(1500));
        child
    }

    /// SIPp as the PBX's UAS on the peer port (calls from the switch go there).
    pub fn sipp_uas(&self, args: &[&str]) -> Child {
        let mut c = Command::new("sipp");
        c.args(args)
            .args([
                "-p",
                &self.pbx_port.to_string(),
                "-i",
                "127.0.0.1",
                "-timeout",
                "30",
                "-timeout_error",
                "-nostdin",
            ])
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c.spawn().expect("sipp runs")
    }

    pub fn cdrs(&self) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(self.dir.join("cdr.csv")).unwrap_or_default();
        text.lines()
            .skip(1)
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    }

    pub fn assert_no_busy_channel(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let groups = self.ctl("show trunk-groups");
            let calls = self.ctl("show calls");
            if groups.contains("pstn 30 0 0") && calls.is_empty() {
                return;
            }
            assert!(Instant::now() < deadline, "{groups}\n{calls}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Daemon {
    /// SIGKILL the daemon (a crash: nothing of it runs after).
    pub fn crash(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// [`Daemon::crash`], then start it again on the same configuration and directory and
    /// wait until its span is up.
    pub fn crash_and_restart(&mut self) {
        self.crash();
        self.restart();
    }

    /// Start the (crashed) daemon again on the same configuration and directory and wait
    /// until its span is up.
    pub fn restart(&mut self) {
        let _ = std::fs::remove_file(self.sock());
        self.child = spawn_gatewayd(&self.dir.join("gatewayd.toml"), &self.log_path());
        let deadline = Instant::now() + Duration::from_secs(30);
        while !try_ctl(&self.sock(), "show spans").is_some_and(|s| s.contains(" up ")) {
            assert!(
                Instant::now() < deadline,
                "gatewayd did not come back:\n{}",
                log_tail(&self.log_path(), 30)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Daemon {
    /// SIGTERM, and whether the daemon exited (status 0) within `limit`.
    pub fn terminate(&mut self, limit: Duration) -> bool {
        // SAFETY: kill(2) on the daemon's own pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Daemon {
    /// The value of one series of the daemon's metrics (`name{labels}` as exposed), 0
    /// when it is not there.
    pub fn metric(&self, series: &str) -> f64 {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.metrics_port))
            .expect("gatewayd's metrics endpoint");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: gatewayd\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .map_or(0.0, |v| {
                v.split_whitespace()
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{series}: {v}"))
            })
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Column positions of `gateway::cdr::HEADER`.
pub const CALLED: usize = 7;
pub const IN_TRUNK: usize = 8;
pub const OUT_TRUNK: usize = 9;
pub const CHANNEL: usize = 11;
pub const ISDN_CAUSE: usize = 12;
pub const SIP_STATUS: usize = 13;
pub const RELEASE_SIDE: usize = 14;
pub const DISPOSITION: usize = 16;

/// Counts of a SIPp run's final statistics line (`-trace_stat` writes
/// `<scenario>_<pid>_.csv` beside the scenario file): (successful, failed) calls.
pub fn sipp_stat_counts(dir: &Path, scenario_prefix: &str) -> (u64, u64) {
    let file = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(scenario_prefix))
                && p.to_string_lossy().ends_with("_.csv")
        })
        .expect("a SIPp statistics file");
    let text = std::fs::read_to_string(file).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(';').collect();
    let last: Vec<&str> = lines.last().unwrap().split(';').collect();
    let col = |name: &str| {
        let i = head.iter().position(|h| *h == name).unwrap();
        last[i].trim().parse::<u64>().unwrap()
    };
    (col("SuccessfulCall(C)"), col("FailedCall(C)"))
}
