//! The rig of the end-to-end tests: `tdm-simd` (simulated E1/T1 cables served as
//! `/dev/dahdi`), `gatewayd run` on the near span through `libdahdi_sim.so`, `pri-switch`
//! (libpri, network side) on the far span through the same library, SIPp as the IP-PBX
//! and an RTP endpoint owned by the test.
//!
//! One rig per test file is shared by its tests, which take turns (`Rig::lock`); its
//! processes are spawned by a thread that never ends, with `PR_SET_PDEATHSIG`, so they die
//! with the test binary.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gateway_tests::audio::{detect, Law, ToneGen};

// ---------------------------------------------------------------------------------------
// Programs.

/// The programs the rig runs, from this build's target directory and profile.
pub struct Bins {
    pub gatewayd: PathBuf,
    pub tdm_simd: PathBuf,
    pub preload: PathBuf,
    pub pri_switch: PathBuf,
}

/// The binaries, built on first use: `cargo test` builds this package's `pri-switch` but
/// neither other packages' binaries nor cdylibs, so `gatewayd`, `tdm-simd` and
/// `libdahdi_sim.so` are brought up to date with `cargo build` into the same target
/// directory and profile (a no-op after `cargo build --workspace`).
pub fn bins() -> &'static Bins {
    static BINS: OnceLock<Bins> = OnceLock::new();
    BINS.get_or_init(|| {
        let t0 = Instant::now();
        let pri_switch = PathBuf::from(env!("CARGO_BIN_EXE_pri-switch"));
        let profile_dir = pri_switch.parent().expect("profile dir").to_path_buf();
        let target_dir = profile_dir.parent().expect("target dir").to_path_buf();
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        for args in [
            &["build", "--quiet", "-p", "dahdi-sim"][..],
            &["build", "--quiet", "-p", "gateway", "--bin", "gatewayd"][..],
        ] {
            let mut cmd = Command::new(env!("CARGO"));
            // Not the variables cargo set for this test (CARGO_PKG_NAME, …): build scripts
            // that watch them (ring's) would be rebuilt, here and again by the next
            // `cargo test`.
            for (k, _) in std::env::vars_os() {
                let k = k.to_string_lossy();
                if k.starts_with("CARGO_") && k != "CARGO_HOME" {
                    cmd.env_remove(&*k);
                }
            }
            cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
                .args(args)
                .env("CARGO_TARGET_DIR", &target_dir);
            if release {
                cmd.arg("--release");
            }
            let out = cmd.output().expect("run cargo");
            assert!(
                out.status.success(),
                "cargo {args:?} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let b = Bins {
            gatewayd: profile_dir.join("gatewayd"),
            tdm_simd: profile_dir.join("tdm-simd"),
            preload: profile_dir.join("libdahdi_sim.so"),
            pri_switch,
        };
        for p in [&b.gatewayd, &b.tdm_simd, &b.preload, &b.pri_switch] {
            assert!(p.exists(), "{} missing", p.display());
        }
        eprintln!("e2e: programs up to date in {:?}", t0.elapsed());
        b
    })
}

/// Whether SIPp (Debian `sip-tester`) is installed.
pub fn have_sipp() -> bool {
    Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

type SpawnReq = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Spawns `cmd` (whose stdio the caller set) from a thread that lives as long as the process: with
/// `PR_SET_PDEATHSIG` tied to that thread, the rig's daemons die with the test binary
/// (statics are never dropped).
fn spawn_kept(cmd: Command) -> Child {
    static KEEPER: OnceLock<Mutex<mpsc::Sender<SpawnReq>>> = OnceLock::new();
    let tx = KEEPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnReq>();
        std::thread::spawn(move || {
            for (mut cmd, reply) in rx {
                // SAFETY: prctl is async-signal-safe; nothing else runs in pre_exec.
                unsafe {
                    cmd.pre_exec(|| {
                        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
                let _ = reply.send(cmd.spawn());
            }
            // The senders live in a static: never reached, so the thread never ends.
            loop {
                std::thread::park();
            }
        });
        Mutex::new(tx)
    });
    let (rtx, rrx) = mpsc::channel();
    tx.lock()
        .unwrap_or_else(|p| p.into_inner())
        .send((cmd, rtx))
        .expect("keeper thread");
    rrx.recv().expect("keeper reply").expect("spawn")
}

/// Trunk groups and routes of a rig that calls both ways on span 1: the PBX's `0…` to group
/// `pstn` (span 1, ascending), the switch's `2XX` to the PBX.
pub const PSTN_BOTH_WAYS: &str = r#"
[[trunk_group]]
name = "pstn"
members = [{ span = 1 }]
hunting = "ascending"

[[route]]
pattern = "_0X."
from = ["pbx"]
to = ["pstn"]

[[route]]
pattern = "_2XX"
to = ["pbx"]
"#;

/// As [`PSTN_BOTH_WAYS`], for a North American numbering plan: the PBX's ten-digit
/// `NXXNXXXXXX` to group `pstn` (span 1, hunting `hunting`), the switch's `2XX` to the PBX.
pub fn nanp_both_ways(hunting: &str) -> String {
    format!(
        r#"
[[trunk_group]]
name = "pstn"
members = [{{ span = 1 }}]
hunting = "{hunting}"

[[route]]
pattern = "_NXXNXXXXXX"
from = ["pbx"]
to = ["pstn"]

[[route]]
pattern = "_2XX"
to = ["pbx"]
"#
    )
}

/// Trunk group `pstn`: every B-channel of the E1 on span 1 (timeslots 1–15 and 17–31;
/// 16 carries the D-channel), hunting ascending, with more keys `keys` (TOML lines, e.g.
/// `transfer = "ect"` or `hold_media = "moh"`). The routes are each file's own.
pub fn pstn_e1_group(keys: &str) -> String {
    format!(
        r#"
[[trunk_group]]
name = "pstn"
members = [{{ span = 1, channels = "1-15,17-31" }}]
hunting = "ascending"
{keys}
"#
    )
}

/// [`pstn_e1_group`] with `transfer = "{transfer}"` (`ect`, `hairpin`, `2bct`) and the
/// route `_0X.` to it. No `from`: a transfer's new call is routed as if the PSTN party
/// (on `pstn`) dialled it.
pub fn pstn_e1_transfer(transfer: &str) -> String {
    pstn_e1_group(&format!("transfer = \"{transfer}\""))
        + r#"
[[route]]
pattern = "_0X."
to = ["pstn"]
"#
}

#[path = "../../../gateway/tests/port_support/mod.rs"]
mod port_support;
#[allow(unused_imports)]
pub use port_support::{free_port_block, free_tcp_port, free_udp_port, rtp_port_keys};

/// Waits up to `limit` until a program has bound UDP `port` on 127.0.0.1 (a SIPp UAS is
/// then listening: what arrives from then on waits in its socket).
pub fn wait_udp_bound(port: u16, limit: Duration) {
    let t0 = Instant::now();
    while UdpSocket::bind(("127.0.0.1", port)).is_ok() {
        assert!(
            t0.elapsed() < limit,
            "nothing bound UDP port {port} in {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Milliseconds of `hz` in a pri-switch report's `key` (`hz:ms,hz:ms…`).
pub fn heard_ms(line: &str, key: &str, hz: f64) -> u64 {
    kv(line, key)
        .unwrap_or("")
        .split(',')
        .filter_map(|e| e.split_once(':'))
        .filter(|(f, _)| f.parse::<u32>().ok() == Some(hz as u32))
        .filter_map(|(_, ms)| ms.parse::<u64>().ok())
        .sum()
}

/// `word key=value …` lines: the value of `key`.
pub fn kv<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

/// Column positions of `gateway::cdr::HEADER`.
pub const CALLED: usize = 7;
pub const IN_TRUNK: usize = 8;
pub const OUT_TRUNK: usize = 9;
pub const SPAN: usize = 10;
pub const CHANNEL: usize = 11;
pub const ISDN_CAUSE: usize = 12;
pub const SIP_STATUS: usize = 13;
pub const RELEASE_SIDE: usize = 14;
pub const DISPOSITION: usize = 16;

/// The Q.931 message names libpri reported for its call after `mark`, in order, with
/// direction (`rx`/`tx` seen from libpri).
pub fn q931_after(rig: &Rig, mark: usize) -> Vec<String> {
    q931_lines(&rig.switch.since(mark), |_| true)
}

/// pri-switch's `q931 dir=… msg=…` lines among `lines` for which `keep` holds, as
/// `rx NAME` / `tx NAME`.
fn q931_lines(lines: &[String], keep: impl Fn(&str) -> bool) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.starts_with("q931 ") && keep(l))
        .map(|l| format!("{} {}", kv(l, "dir").unwrap(), kv(l, "msg").unwrap()))
        .collect()
}

/// Whether `want` occurs in `seen` in order (other messages may come between).
fn in_order(seen: &[String], want: &[&str]) -> bool {
    let mut it = seen.iter();
    want.iter().all(|w| it.any(|s| s == w))
}

/// Waits up to 5 s for libpri's Q.931 messages after `mark` to contain `want` in order
/// and returns them. libpri reports a call's end to its application before it dumps the
/// RELEASE COMPLETE it sends last, so a check made at the end event alone would race.
pub fn assert_q931_in_order(rig: &Rig, mark: usize, want: &[&str]) -> Vec<String> {
    wait_in_order(|| q931_after(rig, mark), want, "")
}

/// Polls `seen` every 20 ms for up to 5 s until it holds `want` in order (see
/// [`assert_q931_in_order`]); `on` says where, for the failure message.
fn wait_in_order(seen: impl Fn() -> Vec<String>, want: &[&str], on: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let seen = seen();
        if in_order(&seen, want) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "libpri's Q.931 messages{on} {seen:?} lack {want:?} in that order"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// libpri's Q.931 messages for a SIP call it answered and the PBX's BYE cleared (Q.931
/// §5.2 call establishment at the network side, §5.3.3 clearing by the user: DISCONNECT
/// from us, RELEASE, RELEASE COMPLETE), in order as libpri logs them.
pub const ANSWERED_CLEARED_BY_BYE: [&str; 8] = [
    "rx SETUP",
    "tx CALL_PROCEEDING",
    "tx ALERTING",
    "tx CONNECT",
    "rx CONNECT_ACKNOWLEDGE",
    "rx DISCONNECT",
    "tx RELEASE",
    "rx RELEASE_COMPLETE",
];

/// libpri's Q.931 messages for a call it placed to the PBX, answered there, and cleared
/// itself (Q.931 §5.1 at the user side seen from the network, §5.3.4 clearing by the
/// network: DISCONNECT from libpri, RELEASE, RELEASE COMPLETE), in order.
pub const PLACED_ANSWERED_SWITCH_CLEARS: [&str; 7] = [
    "tx SETUP",
    "rx CALL_PROCEEDING",
    "rx ALERTING",
    "rx CONNECT",
    "tx DISCONNECT",
    "rx RELEASE",
    "tx RELEASE_COMPLETE",
];

/// libpri's Q.931 messages for a call it refused after CALL PROCEEDING (its `…0999CC`
/// numbers: DISCONNECT with cause `CC`, Q.931 §5.3.4 clearing by the network), in order.
pub const REFUSED_AFTER_CALL_PROCEEDING: [&str; 5] = [
    "rx SETUP",
    "tx CALL_PROCEEDING",
    "tx DISCONNECT",
    "rx RELEASE",
    "tx RELEASE_COMPLETE",
];

/// The tone pri-switch plays before CONNECT on its early-media numbers (`--early-tone`,
/// default 425 Hz, the European ringing tone's frequency).
pub const EARLY_TONE: f64 = 425.0;

/// A call to one of libpri's early-media numbers (`…0555…`: PROGRESS, `…0444…`:
/// ALERTING, both with progress indicator 8, in-band information, Q.931 §4.5.23;
/// `progress` says which), answered 2 s later and cleared by the caller: the caller's
/// RTP endpoint (`rep`) heard [`EARLY_TONE`] (played only before CONNECT) ≥ 1 s and the
/// answered call's [`SWITCH_TONE`] ≥ 500 ms, and libpri's Q.931 came in that order.
/// `what` names the call in failure messages.
pub fn assert_early_media_then_answer(
    rig: &Rig,
    mark: usize,
    rep: &RtpReport,
    progress: bool,
    what: &str,
) {
    assert!(
        rep.heard_ms(EARLY_TONE) >= 1000,
        "{what}: the caller heard libpri's in-band progress before the answer: {rep:?}"
    );
    assert!(
        rep.heard_ms(SWITCH_TONE) >= 500,
        "{what}: and the answered call's tone after: {rep:?}"
    );
    let early = if progress {
        "tx PROGRESS"
    } else {
        "tx ALERTING"
    };
    assert_q931_in_order(
        rig,
        mark,
        &["rx SETUP", early, "tx CONNECT", "rx DISCONNECT"],
    );
}

/// Audio crossed the daemon both ways on an answered call: the PBX's [`SIP_TONE`] over
/// RTP reached the B-channel (pri-switch's `media` report) and the switch's
/// [`SWITCH_TONE`] reached the PBX's RTP endpoint (`rep`), each for at least `min_ms`;
/// and the RTP the PBX got was in the line's `law` only (PCMA on E1, PCMU on T1).
pub fn assert_tones_both_ways(media: &str, rep: &RtpReport, law: Law, min_ms: u64) {
    let on_tdm = heard_ms(media, "heard", SIP_TONE);
    assert!(
        on_tdm >= min_ms,
        "switch heard the PBX's 1800 Hz for {on_tdm} ms: {media}"
    );
    let on_rtp = rep.heard_ms(SWITCH_TONE);
    assert!(
        on_rtp >= min_ms,
        "the PBX's RTP endpoint heard the switch's 1004 Hz for {on_rtp} ms: {rep:?}"
    );
    assert_eq!(
        rep.payload_types,
        vec![law.rtp_payload_type()],
        "{law:?} only: {rep:?}"
    );
}

/// A call to libpri that SIPp held and resumed (hold_libpri.rs, hold_update_libpri.rs),
/// talking `talk_ms` before and after a hold of `hold_ms`; `rep` is the PBX's RTP
/// endpoint's report. libpri must have received NOTIFY twice, which it decodes as
/// *Remote hold* then *Remote retrieval* (Q.931 §4.5.22, notification indicator
/// 0x79/0x7A); the PBX's [`SIP_TONE`] must have reached the B-channel, and the switch's
/// [`SWITCH_TONE`] the PBX, only outside the hold (about 2 × `talk_ms`, clearly less than
/// the whole call). Returns pri-switch's `media` report of the call.
pub fn assert_held_and_resumed(
    rig: &Rig,
    mark: usize,
    rep: &RtpReport,
    talk_ms: u64,
    hold_ms: u64,
) -> String {
    let ring = rig
        .switch
        .wait(mark, Duration::from_secs(15), |l| l.starts_with("ring "));
    let id = kv(&ring, "id").unwrap().to_string();
    let media = rig.switch.media_of(mark, &id);
    assert_q931_in_order(
        rig,
        mark,
        &[
            "rx SETUP",
            "tx CONNECT",
            "rx NOTIFY",
            "rx NOTIFY",
            "rx DISCONNECT",
        ],
    );
    // libpri's own decoding of the two notification indicators, in order (the last hold
    // in the log is this call's: the rig is shared by the file's tests).
    let log = rig.log_text("pri-switch.log");
    let hold_at = log
        .rfind("Remote hold")
        .expect("libpri decoded no 'Remote hold'");
    assert!(
        log[hold_at..].contains("Remote retrieval"),
        "libpri decoded no 'Remote retrieval' after the hold"
    );
    eprintln!("pri-switch: {media}\nRTP endpoint: {rep:?}");
    let talk = 2 * talk_ms - 1500..=2 * talk_ms + 800;
    let sip_tone = heard_ms(&media, "heard", SIP_TONE);
    assert!(
        talk.contains(&sip_tone),
        "switch heard 1800 Hz for {sip_tone} ms (talk 2 × {talk_ms}, held {hold_ms}): {media}"
    );
    let pstn_tone = rep.heard_ms(SWITCH_TONE);
    assert!(
        talk.contains(&pstn_tone),
        "RTP endpoint heard 1004 Hz for {pstn_tone} ms (talk 2 × {talk_ms}, held {hold_ms})"
    );
    media
}

// ---------------------------------------------------------------------------------------
// pri-switch.

/// The switch's report lines, collected by a reader thread.
#[derive(Default)]
struct Lines {
    lines: Mutex<Vec<String>>,
    cv: Condvar,
}

pub struct PriSwitch {
    child: Child,
    stdin: ChildStdin,
    lines: Arc<Lines>,
}

impl PriSwitch {
    fn start(cmd: Command, log: &Path) -> PriSwitch {
        let mut cmd = cmd;
        cmd.stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).expect("switch log"));
        cmd.stdin(Stdio::piped());
        let mut child = spawn_kept(cmd);
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Lines::default());
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                l.lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
                l.cv.notify_all();
            }
        });
        PriSwitch {
            child,
            stdin,
            lines,
        }
    }

    /// Index of the next line to come.
    fn lines(&self) -> MutexGuard<'_, Vec<String>> {
        self.lines.lines.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn mark(&self) -> usize {
        self.lines().len()
    }

    /// Lines since `mark`.
    pub fn since(&self, mark: usize) -> Vec<String> {
        let g = self.lines();
        g[mark.min(g.len())..].to_vec()
    }

    /// The two calls a test has the gateway place, to `first` then `second`, as they
    /// ring at the switch; the second party speaks with `second_tone` (before its answer,
    /// 300 ms after the SETUP). Returns (call 1 id, its channel, call 2 id, its channel).
    pub fn two_rings(
        &mut self,
        mark: usize,
        first: &str,
        second: &str,
        second_tone: f64,
    ) -> (String, u8, String, u8) {
        let ring1 = self.wait(mark, Duration::from_secs(10), |l| {
            l.starts_with("ring ") && kv(l, "called") == Some(first)
        });
        let ring2 = self.wait(mark, Duration::from_secs(15), |l| {
            l.starts_with("ring ") && kv(l, "called") == Some(second)
        });
        let id2 = kv(&ring2, "id").unwrap().to_string();
        self.send(&format!("tone {id2} {second_tone}"));
        (
            kv(&ring1, "id").unwrap().to_string(),
            kv(&ring1, "channel").unwrap().parse().unwrap(),
            id2,
            kv(&ring2, "channel").unwrap().parse().unwrap(),
        )
    }

    /// The id of the first call answered after `mark`, waiting up to 10 s.
    pub fn answered_id(&self, mark: usize) -> String {
        let answer = self.wait(mark, Duration::from_secs(10), |l| l.starts_with("answer "));
        kv(&answer, "id").unwrap().to_string()
    }

    /// Call `id`'s `media` report after `mark`, waiting up to 15 s.
    pub fn media_of(&self, mark: usize, id: &str) -> String {
        self.wait(mark, Duration::from_secs(15), |l| {
            l.starts_with("media ") && kv(l, "id") == Some(id)
        })
    }

    /// The keys pri-switch's own DTMF receiver heard after `mark`, one `dtmf id=… digit=…
    /// ms=…` line each.
    pub fn keys_heard(&self, mark: usize) -> Vec<String> {
        self.since(mark)
            .into_iter()
            .filter(|l| l.starts_with("dtmf "))
            .collect()
    }

    /// The DISCONNECT libpri received for call `id` after `mark` (`disconnect … cause=`),
    /// waiting up to 15 s.
    pub fn disconnect_of(&self, mark: usize, id: &str) -> String {
        self.wait(mark, Duration::from_secs(15), |l| {
            l.starts_with("disconnect ") && kv(l, "id") == Some(id)
        })
    }

    /// Waits up to 15 s for call `id`'s end (`released`) after `mark`.
    pub fn released(&self, mark: usize, id: &str) -> String {
        self.wait(mark, Duration::from_secs(15), |l| {
            l.starts_with("released ") && kv(l, "id") == Some(id)
        })
    }

    /// The first line after `mark` for which `pred` holds, waiting up to `limit`.
    pub fn wait(&self, mark: usize, limit: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        let mut g = self.lines();
        loop {
            if let Some(l) = g[mark.min(g.len())..].iter().find(|l| pred(l)) {
                return l.clone();
            }
            let now = Instant::now();
            if now >= deadline {
                let said = g[mark.min(g.len())..].join("\n");
                drop(g);
                panic!(
                    "pri-switch did not report what was awaited within {limit:?}; it said:\n{said}"
                );
            }
            g = self
                .lines
                .cv
                .wait_timeout(g, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Send one command line.
    pub fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to pri-switch");
        self.stdin.flush().expect("flush pri-switch");
    }

    /// The Q.931 messages libpri reported on DAHDI span `span` after `mark`, in order,
    /// as `rx NAME` / `tx NAME` (seen from libpri).
    pub fn q931_on(&self, span: u16, mark: usize) -> Vec<String> {
        let span = span.to_string();
        q931_lines(&self.since(mark), |l| kv(l, "span") == Some(&span))
    }

    /// As [`assert_q931_in_order`], for this switch's span `span`.
    pub fn assert_q931_in_order(&self, span: u16, mark: usize, want: &[&str]) -> Vec<String> {
        wait_in_order(
            || self.q931_on(span, mark),
            want,
            &format!(" on span {span}"),
        )
    }

    /// Whether libpri's last word on the data link of DAHDI span `span` was `up`.
    pub fn link_up(&self, span: u16) -> bool {
        let span = span.to_string();
        self.lines()
            .iter()
            .rev()
            .filter(|l| kv(l, "span") == Some(&span))
            .find(|l| l.starts_with("up ") || l.starts_with("down "))
            .is_some_and(|l| l.starts_with("up "))
    }

    pub fn alive(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_none()
    }
}

// ---------------------------------------------------------------------------------------
// Transfers that leave two PSTN parties on the span (transfer_libpri_e1.rs,
// attended_refer_libpri.rs).

/// The tone of the second PSTN party of such a transfer, distinct from the first's
/// ([`SWITCH_TONE`]) and the SIP side's; one of the frequencies `pri-switch` listens for.
pub const PARTY2_TONE: f64 = MOH_TONE;

/// The least a party must hear of the other through the gateway's hairpin. Each party
/// can only hear the other's tone through the hairpin; the figure is low because
/// pri-switch, starved on a loaded host, loses whole blocks on its own (its `sent_ms`
/// falls behind the call's length), not because the hairpin does (its counters show no
/// loss).
pub const HAIRPIN_HEARD_MS: u64 = 100;

impl PriSwitch {
    /// libpri's side of an Explicit Call Transfer (ETSI EN 300 369-1): the gateway's
    /// ExplicitEctExecute arrived on call `id2` naming call `id1` (reported within
    /// `limit`), neither held; both calls cleared from the gateway; the switch then joined
    /// the two parties, and each heard the other (≥ 500 ms of [`SWITCH_TONE`] and
    /// [`PARTY2_TONE`]). Returns the `joined` report.
    pub fn assert_ect_joined(&self, mark: usize, id1: &str, id2: &str, limit: Duration) -> String {
        let t = self.wait(mark, limit, |l| l.starts_with("transfer "));
        assert_eq!(kv(&t, "id"), Some(id2), "{t}");
        assert_eq!(kv(&t, "with"), Some(id1), "{t}");
        assert_eq!(kv(&t, "held"), Some("0,0"), "neither call on hold: {t}");
        for id in [id1, id2] {
            self.released(mark, id);
        }
        let joined = self.wait(mark, Duration::from_secs(15), |l| l.starts_with("joined "));
        assert!(heard_ms(&joined, "heard", SWITCH_TONE) >= 500, "{joined}");
        assert!(
            heard_ms(&joined, "with_heard", PARTY2_TONE) >= 500,
            "{joined}"
        );
        joined
    }

    /// Calls `id1` (party 1, [`SWITCH_TONE`]) and `id2` (party 2, [`PARTY2_TONE`]),
    /// joined in the gateway's hairpin, talk for 2 s; then `clearing` (one of the two)
    /// hangs up with cause 16 and the other must get DISCONNECT with cause 16 (Q.850
    /// normal clearing, passed on by the gateway). Each must have heard the other's tone
    /// for [`HAIRPIN_HEARD_MS`]. Returns the `media` reports of party 1 and party 2.
    pub fn assert_hairpin_talk(
        &mut self,
        mark: usize,
        id1: &str,
        id2: &str,
        clearing: &str,
    ) -> (String, String) {
        let other = if clearing == id1 { id2 } else { id1 };
        std::thread::sleep(Duration::from_millis(2000));
        self.send(&format!("hangup {clearing} 16"));
        let disc = self.disconnect_of(mark, other);
        assert_eq!(kv(&disc, "cause"), Some("16"), "{disc}");
        let (m1, m2) = (self.media_of(mark, id1), self.media_of(mark, id2));
        assert!(
            heard_ms(&m1, "heard", PARTY2_TONE) >= HAIRPIN_HEARD_MS,
            "party 1: {m1}; party 2: {m2}"
        );
        assert!(
            heard_ms(&m2, "heard", SWITCH_TONE) >= HAIRPIN_HEARD_MS,
            "party 2: {m2}"
        );
        (m1, m2)
    }
}

// ---------------------------------------------------------------------------------------
// The rig.

/// Which line the rig simulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// E1, EuroISDN, A-law (PCMA).
    E1,
    /// T1, NI-2, µ-law (PCMU).
    T1,
}

impl Line {
    pub fn law(self) -> Law {
        match self {
            Line::E1 => Law::ALaw,
            Line::T1 => Law::MuLaw,
        }
    }
}

/// Tone the switch plays on answered calls, and the one the test sends over RTP.
pub const SWITCH_TONE: f64 = 1004.0;
pub const SIP_TONE: f64 = 1800.0;
/// The first note of the gateway's generated music on hold (C5, `media::tone::MusicOnHold`).
pub const MOH_TONE: f64 = 523.25;
/// The tone of a transfer's new party (so that what the switch hears after a transfer
/// is told apart from what it heard before).
pub const TRANSFER_TONE: f64 = 1400.0;

/// `pri-switch` on DAHDI span `span` of the simulator at `sim_socket`, network side, the
/// line's switch variant, playing [`SWITCH_TONE`] and listening for the rig's tones.
fn switch_command(line: Line, span: u16, sim_socket: &Path) -> Command {
    let kind = match line {
        Line::E1 => "e1",
        Line::T1 => "t1",
    };
    let mut sw = Command::new(&bins().pri_switch);
    sw.args(["--span", &format!("{span}:{kind}")])
        .args(["--tone", &SWITCH_TONE.to_string()])
        .args([
            "--detect",
            &format!("{SIP_TONE},{SWITCH_TONE},{MOH_TONE},{TRANSFER_TONE}"),
        ])
        .env("LD_PRELOAD", &bins().preload)
        .env("DAHDI_SIM_SOCKET", sim_socket);
    sw
}

pub struct Rig {
    pub line: Line,
    pub dir: PathBuf,
    pub sim_socket: PathBuf,
    pub ctl_socket: PathBuf,
    pub sip_port: u16,
    pub pbx_port: u16,
    /// gatewayd's Prometheus endpoint (`metrics_listen`), read by [`Rig::metrics`].
    pub metrics_port: u16,
    /// The near span (gatewayd's, DAHDI span 1) and its far end (pri-switch's, span 2).
    pub near_span: u16,
    pub far_span: u16,
    pub switch: PriSwitch,
    simd: Child,
    gatewayd: Child,
}

/// A scrape of gatewayd's metrics (the Prometheus text format).
pub struct Metrics(pub String);

impl Metrics {
    /// The value of the sample `series` (name and labels as written, e.g.
    /// `gatewayd_calls_answered_total` or `gatewayd_span_channels{span="1",state="busy"}`);
    /// 0 for a series not there yet (a counter nothing counted).
    pub fn get(&self, series: &str) -> f64 {
        self.0
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .map_or(0.0, |v| {
                v.split_whitespace()
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{series}: {v}"))
            })
    }
}

impl Rig {
    /// Start `tdm-simd`, `gatewayd` and `pri-switch` for `line` with the gatewayd
    /// configuration `extra` (trunk groups and routes) appended to the common part.
    pub fn start(name: &str, line: Line, groups_and_routes: &str) -> Rig {
        Rig::start_with_trunk(name, line, "", groups_and_routes)
    }

    /// As [`Rig::start`], with more keys (`trunk_keys`, TOML lines) in the `pbx` SIP
    /// trunk, e.g. `trust_identity = true`.
    pub fn start_with_trunk(
        name: &str,
        line: Line,
        trunk_keys: &str,
        groups_and_routes: &str,
    ) -> Rig {
        Rig::start_with(name, line, "", trunk_keys, groups_and_routes)
    }

    /// As [`Rig::start_with_trunk`], with more keys in `[general]` too (`general_keys`,
    /// TOML lines, e.g. `moh_file = "…"`).
    pub fn start_with(
        name: &str,
        line: Line,
        general_keys: &str,
        trunk_keys: &str,
        groups_and_routes: &str,
    ) -> Rig {
        Rig::start_cables(name, line, 1, general_keys, trunk_keys, groups_and_routes)
    }

    /// As [`Rig::start_with`], with `cables` simulated cables of `line`: DAHDI spans
    /// `1..=cables` are the near ends, `cables + 1..=2 * cables` their far ends (every
    /// span started as a PRI line). gatewayd is configured with span 1 only (on DAHDI
    /// span 1) and [`Rig::switch`] runs on its far end, span `cables + 1`; the other
    /// cables are there for a span added later (a reload) with its own switch, see
    /// [`Rig::start_switch`].
    pub fn start_cables(
        name: &str,
        line: Line,
        cables: u16,
        general_keys: &str,
        trunk_keys: &str,
        groups_and_routes: &str,
    ) -> Rig {
        assert!(cables >= 1);
        let b = bins();
        let t_start = Instant::now();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("e2e-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sim_socket = dir.join("simd.sock");
        let ctl_socket = dir.join("ctl.sock");

        // The cable: near end span 1 (gatewayd), far end span 2 (pri-switch), both
        // started as PRI lines.
        let mut simd = Command::new(&b.tdm_simd);
        simd.arg("--socket")
            .arg(&sim_socket)
            .arg(match line {
                Line::E1 => "--e1",
                Line::T1 => "--t1",
            })
            .arg(cables.to_string())
            .args(["--started", "--numbufs", "8"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("simd.log")).unwrap());
        let simd = spawn_kept(simd);
        let t0 = Instant::now();
        while !sim_socket.exists() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "tdm-simd did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(100));

        let sip_port = free_udp_port();
        let pbx_port = free_udp_port();
        let metrics_port = free_tcp_port();
        let rtp_keys = rtp_port_keys(401);
        let (kind, switchtype) = match line {
            Line::E1 => ("e1", "euroisdn"),
            Line::T1 => ("t1", "ni2"),
        };
        let config = format!(
            r#"# Written by the end-to-end tests (tests/tests/common/mod.rs).
[general]
cdr_file = "{dir}/cdr.csv"
control_socket = "{ctl}"
metrics_listen = "127.0.0.1:{metrics_port}"
{rtp_keys}
{general_keys}

[[span]]
id = 1
type = "{kind}"
signalling = "pri_cpe"
switchtype = "{switchtype}"
device = {{ kind = "dahdi", dahdi_span = 1 }}

[[sip_trunk]]
name = "pbx"
listen = "127.0.0.1:{sip_port}"
peers = ["127.0.0.1:{pbx_port}"]
{trunk_keys}

{groups_and_routes}
"#,
            dir = dir.display(),
            ctl = ctl_socket.display(),
        );
        let cfg = dir.join("gatewayd.toml");
        std::fs::write(&cfg, config).unwrap();

        let preload = |c: &mut Command| {
            c.env("LD_PRELOAD", &b.preload)
                .env("DAHDI_SIM_SOCKET", &sim_socket);
        };
        let mut gw = Command::new(&b.gatewayd);
        gw.arg("run").arg("-c").arg(&cfg).current_dir(&dir);
        preload(&mut gw);
        gw.env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("gatewayd.log")).unwrap());
        let gatewayd = spawn_kept(gw);

        let far_span = cables + 1;
        let switch = PriSwitch::start(
            switch_command(line, far_span, &sim_socket),
            &dir.join("pri-switch.log"),
        );

        let mut rig = Rig {
            line,
            dir,
            sim_socket,
            ctl_socket,
            sip_port,
            pbx_port,
            metrics_port,
            near_span: 1,
            far_span,
            switch,
            simd,
            gatewayd,
        };
        rig.wait_up(Duration::from_secs(30));
        eprintln!("e2e: rig {name} up in {:?}", t_start.elapsed());
        rig
    }

    /// gatewayd's metrics, as a Prometheus server scrapes them (HTTP GET).
    pub fn metrics(&self) -> Metrics {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.metrics_port))
            .expect("gatewayd's metrics endpoint");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: gatewayd\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        Metrics(body.to_string())
    }

    /// The configuration file gatewayd runs with (a test may edit it and reload).
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("gatewayd.toml")
    }

    /// gatewayd's process id (for `kill -HUP`).
    pub fn gatewayd_pid(&self) -> u32 {
        self.gatewayd.id()
    }

    /// Another `pri-switch` (libpri, network side, the rig's line and tones) on the far
    /// end DAHDI span `span` (of a cable started by [`Rig::start_cables`]); its stderr
    /// (libpri's Q.931 dumps) goes to `pri-switch-<span>.log`.
    pub fn start_switch(&self, span: u16) -> PriSwitch {
        PriSwitch::start(
            switch_command(self.line, span, &self.sim_socket),
            &self.dir.join(format!("pri-switch-{span}.log")),
        )
    }

    /// Whether libpri's last word on its data link was `up`.
    pub fn switch_up(&self) -> bool {
        self.switch
            .since(0)
            .iter()
            .rev()
            .find(|l| l.starts_with("up ") || l.starts_with("down "))
            .is_some_and(|l| l.starts_with("up "))
    }

    /// Wait until gatewayd's D-channel is up and libpri reported its link up (both ends
    /// start LAPD at once; until libpri has its UA a SABME of its may still reset the
    /// link and lose a SETUP).
    pub fn wait_up(&mut self, limit: Duration) {
        let t0 = Instant::now();
        loop {
            assert!(
                self.gatewayd.try_wait().ok().flatten().is_none(),
                "gatewayd exited:\n{}",
                self.log("gatewayd.log")
            );
            assert!(
                self.switch.alive(),
                "pri-switch exited:\n{}",
                self.log("pri-switch.log")
            );
            let up = self.ctl_socket.exists()
                && self
                    .try_ctl("show spans")
                    .is_some_and(|s| s.lines().any(|l| l.split_whitespace().nth(2) == Some("up")));
            if up && self.switch_up() {
                break;
            }
            assert!(
                t0.elapsed() < limit,
                "the D-channel did not come up in {limit:?}\ngatewayd:\n{}\nswitch:\n{}",
                self.log("gatewayd.log"),
                self.switch.since(0).join("\n")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The last 6,000 bytes of the rig's log `name` (for failure messages).
    pub fn log(&self, name: &str) -> String {
        let t = self.log_text(name);
        let n = t.len();
        t[n.saturating_sub(6000)..].to_string()
    }

    /// All of the rig's log `name` (`gatewayd.log`, `pri-switch.log` with libpri's Q.931
    /// and APDU dumps), empty if there is none yet.
    pub fn log_text(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// Waits up to `limit` until the log `name` contains `needle` and returns the log
    /// then. `what` says in the failure what was awaited.
    pub fn wait_log(&self, name: &str, needle: &str, limit: Duration, what: &str) -> String {
        let t0 = Instant::now();
        loop {
            let text = self.log_text(name);
            if text.contains(needle) {
                return text;
            }
            assert!(
                t0.elapsed() < limit,
                "{what}: no {needle:?} in {name} within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn try_ctl(&self, line: &str) -> Option<String> {
        let mut s = UnixStream::connect(&self.ctl_socket).ok()?;
        s.write_all(format!("{line}\n").as_bytes()).ok()?;
        s.shutdown(std::net::Shutdown::Write).ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    }

    /// `gatewayd ctl LINE`, through the real command-line client.
    pub fn ctl(&self, words: &str) -> String {
        run_ctl(&bins().gatewayd, "-s", &self.ctl_socket, words)
    }

    /// `tdm-simd ctl WORDS`.
    pub fn sim_ctl(&self, words: &str) -> String {
        run_ctl(&bins().tdm_simd, "--socket", &self.sim_socket, words)
    }

    /// The CDR lines written so far (header skipped), split into fields.
    pub fn cdrs(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(self.dir.join("cdr.csv"))
            .unwrap_or_default()
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    }

    /// `show channels` lines that are busy.
    pub fn busy_channels(&self) -> Vec<String> {
        self.ctl("show channels")
            .lines()
            .filter(|l| l.contains("busy"))
            .map(str::to_string)
            .collect()
    }

    /// libpri calls `called` at the PBX (whose SIPp UAS the test started: it gets 300 ms
    /// to bind its port first), as [`Rig::switch_calls`]; the answered call talks for
    /// `talk`, then libpri clears it with cause 16 (normal clearing). Returns the mark
    /// taken before the call, its id and the switch's `answer` line.
    pub fn switch_calls_and_clears(
        &mut self,
        called: &str,
        talk: Duration,
    ) -> (usize, String, String) {
        std::thread::sleep(Duration::from_millis(300));
        let mark = self.switch.mark();
        let (id, answer) = self.switch_calls(mark, called);
        std::thread::sleep(talk);
        self.switch.send(&format!("hangup {id} 16"));
        (mark, id, answer)
    }

    /// Waits up to 5 s until exactly `n` B-channels are busy (`show channels`).
    pub fn wait_busy_channels(&self, n: usize) {
        let t0 = Instant::now();
        loop {
            let busy = self.busy_channels();
            if busy.len() == n {
                return;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "{n} busy channels awaited: {busy:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// libpri places a call to `called` on the rig's far span (`call SPAN NUMBER`) and
    /// waits until it is answered: returns the call's id and the switch's `answer` line,
    /// whose channel must be the one of libpri's SETUP (`placed`).
    pub fn switch_calls(&mut self, mark: usize, called: &str) -> (String, String) {
        let span = self.far_span;
        self.switch.send(&format!("call {span} {called}"));
        let placed = self.switch.wait(mark, Duration::from_secs(15), |l| {
            l.starts_with("placed ") || l.starts_with("error")
        });
        let id = kv(&placed, "id")
            .unwrap_or_else(|| panic!("{placed}"))
            .to_string();
        let answer = self.switch.wait(mark, Duration::from_secs(10), |l| {
            l.starts_with("answer ") && kv(l, "id") == Some(id.as_str())
        });
        assert_eq!(
            kv(&answer, "channel"),
            kv(&placed, "channel"),
            "answered on the B-channel of its SETUP: {placed} / {answer}"
        );
        (id, answer)
    }

    /// After a test: no B-channel busy (`gatewayd ctl show channels`), no call left
    /// (`show calls`), and one new CDR per call made since `cdr_mark`. Waits a little for
    /// releases in flight. Returns the new CDRs.
    pub fn assert_clean(&self, cdr_mark: usize, calls: usize) -> Vec<Vec<String>> {
        let t0 = Instant::now();
        loop {
            let busy = self.busy_channels();
            let calls_left = self.ctl("show calls");
            let cdrs = self.cdrs();
            if busy.is_empty() && calls_left.trim().is_empty() && cdrs.len() >= cdr_mark + calls {
                let new = cdrs[cdr_mark..].to_vec();
                assert_eq!(new.len(), calls, "one CDR per call: {new:?}");
                return new;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "not clean after the test: busy channels {busy:?}, calls {calls_left:?}, \
                 {} new CDRs for {calls} calls",
                cdrs.len() - cdr_mark
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Run SIPp as the IP-PBX with scenario `xml` (service = `called`) to completion.
    pub fn sipp(&self, name: &str, xml: &str, called: &str) -> SippRun {
        self.sipp_spawn(name, xml, called).finish()
    }

    /// Start SIPp (UAC towards gatewayd, or UAS waiting on the PBX port).
    pub fn sipp_spawn(&self, name: &str, xml: &str, called: &str) -> SippChild {
        self.sipp_spawn_on(name, xml, called, self.pbx_port)
    }

    /// Start SIPp on local port `port` (a second UAC while another SIPp holds the PBX
    /// port; gatewayd accepts requests from the peer's address on any port).
    pub fn sipp_spawn_on(&self, name: &str, xml: &str, called: &str, port: u16) -> SippChild {
        self.sipp_spawn_with(name, xml, called, port, &[])
    }

    /// As [`Rig::sipp_spawn_on`], with more SIPp arguments (`-set NAME VALUE` …).
    pub fn sipp_spawn_with(
        &self,
        name: &str,
        xml: &str,
        called: &str,
        port: u16,
        extra: &[String],
    ) -> SippChild {
        let sf = self.dir.join(format!("{name}.xml"));
        std::fs::write(&sf, xml).unwrap();
        let mut cmd = Command::new("sipp");
        cmd.arg("-sf")
            .arg(&sf)
            .args(["-s", called, "-m", "1", "-i", "127.0.0.1"])
            .args(["-p", &port.to_string()])
            .args(["-timeout", "30", "-timeout_error", "-nostdin"])
            .args(["-trace_err", "-trace_msg"])
            .args(extra)
            .arg(format!("127.0.0.1:{}", self.sip_port))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join(format!("{name}.stderr"))).unwrap());
        SippChild {
            child: spawn_kept(cmd),
            name: name.to_string(),
            dir: self.dir.clone(),
        }
    }
}

/// `PROGRAM ctl SOCKET_FLAG SOCKET WORDS…` (the daemons' command-line clients); fails the
/// test if the client does, returns what it printed.
fn run_ctl(program: &Path, socket_flag: &str, socket: &Path, words: &str) -> String {
    let out = Command::new(program)
        .arg("ctl")
        .arg(socket_flag)
        .arg(socket)
        .args(words.split_whitespace())
        .output()
        .unwrap_or_else(|e| panic!("{} ctl: {e}", program.display()));
    let name = program.file_name().unwrap_or_default().to_string_lossy();
    assert!(
        out.status.success(),
        "{name} ctl {words}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub struct SippChild {
    child: Child,
    name: String,
    dir: PathBuf,
}

pub struct SippRun {
    pub ok: bool,
    /// SIPp's message trace (for failure messages).
    pub trace: String,
}

impl SippChild {
    pub fn finish(mut self) -> SippRun {
        let t0 = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait sipp") {
                break s;
            }
            if t0.elapsed() > Duration::from_secs(40) {
                let _ = self.child.kill();
                break self.child.wait().expect("wait sipp");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut trace = String::new();
        if let Ok(rd) = std::fs::read_dir(&self.dir) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with(&self.name)
                    && (n.ends_with("_messages.log") || n.ends_with("_errors.log"))
                {
                    trace.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        SippRun {
            ok: status.success(),
            trace,
        }
    }
}

// ---------------------------------------------------------------------------------------
// SIPp scenarios.

pub fn sdp(law: Law, rtp_port: u16) -> String {
    let (pt, name) = match law {
        Law::ALaw => (8, "PCMA"),
        Law::MuLaw => (0, "PCMU"),
    };
    format!(
        "v=0\n      o=pbx 1 1 IN IP4 127.0.0.1\n      s=-\n      c=IN IP4 127.0.0.1\n      t=0 0\n      \
         m=audio {rtp_port} RTP/AVP {pt}\n      a=rtpmap:{pt} {name}/8000\n      a=ptime:20"
    )
}

const INVITE_HEAD: &str = "INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: pbx <sip:2001@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:2001@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]";

/// ACK of a 2xx: a transaction of its own (new branch).
const ACK: &str = "<send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: pbx <sip:2001@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:2001@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>";

/// ACK of a final error: part of the INVITE transaction, so it carries the INVITE's
/// branch (RFC 3261 §17.1.1.3); the INVITE is the scenario's message `back` steps before
/// this one (SIPp's `[branch-N]`).
fn ack_error(back: usize) -> String {
    ACK.replace("branch=[branch]", &format!("branch=[branch-{back}]"))
}

fn invite(law: Law, rtp_port: u16) -> String {
    format!(
        "<send retrans=\"500\">\n    <![CDATA[\n      {INVITE_HEAD}\n\n      {}\n    ]]>\n  </send>",
        sdp(law, rtp_port)
    )
}

/// The INVITE up to the ACK of its 2xx (100, 180 and 183 optional).
fn answered(law: Law, rtp_port: u16) -> String {
    answered_with(law, rtp_port, "")
}

/// As [`answered`], with `contact_extra` (e.g. an `Allow` header line) after the INVITE's
/// Contact.
pub fn answered_with(law: Law, rtp_port: u16, contact_extra: &str) -> String {
    const CONTACT: &str = "Contact: sip:2001@[local_ip]:[local_port]\n";
    format!(
        "{}
  <recv response=\"100\" optional=\"true\"/>
  <recv response=\"180\" optional=\"true\"/>
  <recv response=\"183\" optional=\"true\"/>
  <recv response=\"200\" rtd=\"true\"/>
  {ACK}",
        invite(law, rtp_port).replacen(
            CONTACT,
            &format!("Contact: sip:2001@[local_ip]:[local_port]{contact_extra}\n"),
            1
        )
    )
}

/// A request of the caller (SIPp as UAC) in its dialog (RFC 3261 §12.2.1.1: the To
/// tag of the 2xx, `[peer_tag_param]`): `method` with CSeq `cseq`, `headers` (lines
/// after Contact, each ending with a newline and the scenario's indentation, or empty)
/// and, if any, a `body` of `(content type, text)`; retransmitted every 500 ms until
/// answered.
pub fn uac_in_dialog(method: &str, cseq: u32, headers: &str, body: Option<(&str, &str)>) -> String {
    let body = match body {
        Some((content_type, text)) => {
            format!("Content-Type: {content_type}\n      Content-Length: [len]\n\n      {text}")
        }
        None => "Content-Length: 0".to_string(),
    };
    format!(
        "<send retrans=\"500\">
    <![CDATA[
      {method} sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: pbx <sip:2001@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Contact: sip:2001@[local_ip]:[local_port]
      {headers}Max-Forwards: 70
      {body}
    ]]>
  </send>"
    )
}

/// The caller's BYE (CSeq `cseq`) and its 200.
pub fn bye(cseq: u32) -> String {
    format!(
        "{}\n  <recv response=\"200\" crlf=\"true\"/>",
        uac_in_dialog("BYE", cseq, "", None)
    )
}

/// 200 OK to the last request received (no dialog-creating headers).
pub const OK_LAST: &str = "<send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>";

/// An in-dialog offer (re-INVITE or UPDATE, `method`) with CSeq `cseq`, SDP version
/// `cseq` and `a={direction}`.
fn offer_in_dialog(method: &str, law: Law, rtp_port: u16, cseq: u32, direction: &str) -> String {
    let body = sdp(law, rtp_port)
        .replace("o=pbx 1 1", &format!("o=pbx 1 {cseq}"))
        .replace("a=ptime:20", &format!("a=ptime:20\n      a={direction}"));
    let head = in_dialog_head(method, cseq);
    format!(
        "<send retrans=\"500\">\n    <![CDATA[\n      {head}\n\n      {body}\n    ]]>\n  </send>"
    )
}

/// The head of an in-dialog request (`method`, CSeq `cseq`), ending with the SDP body's
/// `Content-Type` and `Content-Length` as [`INVITE_HEAD`] does.
fn in_dialog_head(method: &str, cseq: u32) -> String {
    INVITE_HEAD
        .replace("INVITE sip:", &format!("{method} sip:"))
        .replace("CSeq: 1 INVITE", &format!("CSeq: {cseq} {method}"))
        .replace(
            "To: <sip:[service]@[remote_ip]:[remote_port]>",
            "To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]",
        )
}

/// The ACK of the 2xx to the INVITE or re-INVITE of CSeq `cseq`.
fn ack_of(cseq: u32) -> String {
    ACK.replace("CSeq: 1 ACK", &format!("CSeq: {cseq} ACK"))
}

/// An in-dialog INVITE exchange of the caller: the request `invite`, its 100 (optional),
/// the 200 `ok` (a `<recv>`, see [`ok_matching`]) and the `ack` (RFC 3261 §14.1).
fn reinvite_exchange(invite: &str, ok: &str, ack: &str) -> String {
    format!("{invite}\n  <recv response=\"100\" optional=\"true\"/>\n  {ok}\n  {ack}")
}

/// Receive a 200 whose body must match `regexp` (SIPp's `ereg`, checked through
/// `<Reference variables="{var}">` at the scenario's end).
fn ok_matching(regexp: &str, var: &str) -> String {
    format!(
        "<recv response=\"200\">
    <action>
      <ereg regexp=\"{regexp}\" search_in=\"body\" check_it=\"true\" assign_to=\"{var}\"/>
    </action>
  </recv>"
    )
}

/// A SIPp scenario named `name` of the XML elements `body`.
pub fn scenario(name: &str, body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<scenario name=\"{name}\">\n  {body}\n</scenario>\n"
    )
}

/// UAC: INVITE, 180 (optional), 200, ACK, hold `hold_ms`, BYE, 200.
pub fn uac_answered(law: Law, rtp_port: u16, hold_ms: u64) -> String {
    scenario(
        "answered call",
        &format!(
            "{}
  <pause milliseconds=\"{hold_ms}\"/>
  {}",
            answered(law, rtp_port),
            bye(2)
        ),
    )
}

/// UAC: INVITE, 200, ACK, talk `talk_ms`, then a blind transfer of the other party to
/// `target` (RFC 3515 REFER with Refer-To and Referred-By), 202; every NOTIFY of the
/// implicit subscription (message/sipfrag 100, 180, 200) is answered 200 until the
/// gateway's BYE releases the transferor, which is answered too.
pub fn uac_refer(law: Law, rtp_port: u16, talk_ms: u64, target: &str) -> String {
    scenario(
        "blind transfer",
        &format!(
            "{}
  <pause milliseconds=\"{talk_ms}\"/>
  {}
  <recv response=\"202\"/>
  <label id=\"1\"/>
  <recv request=\"NOTIFY\" optional=\"true\" next=\"2\"/>
  <recv request=\"BYE\" next=\"3\"/>
  <label id=\"2\"/>
  {}
  <label id=\"3\"/>
  {OK_LAST}",
            answered(law, rtp_port),
            uac_in_dialog(
                "REFER",
                2,
                &format!(
                    "Refer-To: <sip:{target}@[remote_ip]:[remote_port]>\n      \
                     Referred-By: <sip:2001@[local_ip]:[local_port]>\n      "
                ),
                None
            ),
            OK_LAST.replacen("<send>", "<send next=\"1\">", 1)
        ),
    )
}

/// UAC: INVITE, 200, ACK, then waits for the gateway's BYE and answers it.
pub fn uac_until_bye(law: Law, rtp_port: u16) -> String {
    scenario(
        "answered, cleared by the gateway",
        &format!(
            "{}
  <recv request=\"BYE\"/>
  {OK_LAST}",
            answered(law, rtp_port)
        ),
    )
}

/// UAC: INVITE, 200, ACK, talk `talk_ms`, hold with a re-INVITE offering `a=sendonly`
/// (RFC 3264 §8.4; the answer must be `recvonly`), stay held `hold_ms`, resume with a
/// re-INVITE offering `a=sendrecv`, talk `talk_ms` again, BYE. The RTP endpoint keeps
/// sending throughout, as a PBX playing its own music on hold would.
pub fn uac_hold_resume(law: Law, rtp_port: u16, talk_ms: u64, hold_ms: u64) -> String {
    let reinvite = |cseq, direction| offer_in_dialog("INVITE", law, rtp_port, cseq, direction);
    let held_ok = ok_matching("a=recvonly", "held");
    scenario(
        "hold and resume",
        &format!(
            "{}
  <pause milliseconds=\"{talk_ms}\"/>
  {}
  <pause milliseconds=\"{hold_ms}\"/>
  {}
  <pause milliseconds=\"{talk_ms}\"/>
  {}
  <Reference variables=\"held\"/>",
            answered(law, rtp_port),
            reinvite_exchange(&reinvite(2, "sendonly"), &held_ok, &ack_of(2)),
            reinvite_exchange(
                &reinvite(3, "sendrecv"),
                "<recv response=\"200\"/>",
                &ack_of(3)
            ),
            bye(4),
        ),
    )
}

/// UAC: as [`uac_hold_resume`], with UPDATE (RFC 3311) instead of re-INVITE: the hold
/// offers `a={direction}` (`sendonly` or `inactive`) and the gateway's answer must be
/// `a=recvonly` resp. `a=inactive` (RFC 3264 §8.4); the resume offers `a=sendrecv`.
pub fn uac_hold_resume_update(
    law: Law,
    rtp_port: u16,
    talk_ms: u64,
    hold_ms: u64,
    direction: &str,
) -> String {
    let update = |cseq, direction| offer_in_dialog("UPDATE", law, rtp_port, cseq, direction);
    let answer = if direction == "inactive" {
        "inactive"
    } else {
        "recvonly"
    };
    let held_ok = ok_matching(&format!("a={answer}"), "held");
    let resumed_ok = ok_matching("a=sendrecv", "resumed");
    scenario(
        "hold and resume by UPDATE",
        &format!(
            "{}
  <pause milliseconds=\"{talk_ms}\"/>
  {}
  {held_ok}
  <pause milliseconds=\"{hold_ms}\"/>
  {}
  {resumed_ok}
  <pause milliseconds=\"{talk_ms}\"/>
  {}
  <Reference variables=\"held,resumed\"/>",
            answered(law, rtp_port),
            update(2, direction),
            update(3, "sendrecv"),
            bye(4),
        ),
    )
}

/// UAC: the media moved twice by the PBX, as third party call control does (RFC 3725):
/// INVITE (A-law on `rtp_port`), 200, ACK, talk `talk_ms`; a re-INVITE offering µ-law on
/// `port2` (CSeq 2, version 2; the answer must be PCMU), ACK, talk; a re-INVITE without
/// SDP (CSeq 3), whose 200 must carry the gateway's offer, and the ACK answering it with
/// A-law on `port3` (version 3), talk; BYE.
pub fn uac_media_moves(rtp_port: u16, port2: u16, port3: u16, talk_ms: u64) -> String {
    let answer = sdp(Law::ALaw, port3).replace("o=pbx 1 1", "o=pbx 1 3");
    let ack_answer = ack_of(3).replace(
        "Content-Length: 0",
        &format!("Content-Type: application/sdp\n      Content-Length: [len]\n\n      {answer}"),
    );
    let pcmu_ok = ok_matching("RTP/AVP 0", "pcmu");
    let offer_ok = ok_matching("m=audio [0-9]+ RTP/AVP", "offer");
    scenario(
        "media moved by re-INVITE and by the answer in an ACK",
        &format!(
            "{}
  <pause milliseconds=\"{talk_ms}\"/>
  {}
  <pause milliseconds=\"{talk_ms}\"/>
  {}
  <pause milliseconds=\"{talk_ms}\"/>
  {}
  <Reference variables=\"pcmu,offer\"/>",
            answered(Law::ALaw, rtp_port),
            reinvite_exchange(
                &offer_in_dialog("INVITE", Law::MuLaw, port2, 2, "sendrecv"),
                &pcmu_ok,
                &ack_of(2)
            ),
            reinvite_exchange(
                &uac_in_dialog("INVITE", 3, "", None),
                &offer_ok,
                &ack_answer
            ),
            bye(4),
        ),
    )
}

/// UAC: INVITE, then the final error `status` (after an optional 180), ACK.
pub fn uac_rejected(law: Law, rtp_port: u16, status: u16, ringing: bool) -> String {
    scenario(
        &format!("expect {status}"),
        &format!(
            "{}
  <recv response=\"100\" optional=\"true\"/>
  <recv response=\"180\" optional=\"{}\"/>
  <recv response=\"183\" optional=\"true\"/>
  <recv response=\"{status}\"/>
  {}",
            invite(law, rtp_port),
            !ringing,
            ack_error(5)
        ),
    )
}

/// UAC: INVITE, the provisional response `ringing` (180, or 183 for early media), wait
/// `wait_ms`, CANCEL, 200 (CANCEL), 487, ACK.
pub fn uac_cancel(law: Law, rtp_port: u16, ringing: u16, wait_ms: u64) -> String {
    scenario(
        "cancel",
        &format!(
            "{}
  <recv response=\"100\" optional=\"true\"/>
  <recv response=\"{ringing}\"/>
  <pause milliseconds=\"{wait_ms}\"/>
  <send>
    <![CDATA[
      CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-4]
      From: pbx <sip:2001@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 CANCEL
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response=\"200\"/>
  <recv response=\"487\"/>
  {}",
            invite(law, rtp_port),
            ack_error(7)
        ),
    )
}

/// A response of the called PBX (SIPp as UAS) to the INVITE just received: `status`
/// (code and reason), our To tag (the dialog's, RFC 3261 §12.1.1), our Contact and, if
/// given, an SDP body `sdp`.
pub fn uas_response(status: &str, sdp: Option<&str>) -> String {
    let body = match sdp {
        Some(sdp) => {
            format!("Content-Type: application/sdp\n      Content-Length: [len]\n\n      {sdp}")
        }
        None => "Content-Length: 0".to_string(),
    };
    format!(
        "<send>
    <![CDATA[
      SIP/2.0 {status}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      {body}
    ]]>
  </send>"
    )
}

/// UAS: INVITE, 100, 180, 200 with SDP (media at `rtp_port`), ACK, then the BYE (200).
pub fn uas_answer(law: Law, rtp_port: u16) -> String {
    scenario(
        "answer",
        &format!(
            "<recv request=\"INVITE\" crlf=\"true\"/>
  {}
  <pause milliseconds=\"200\"/>
  {}
  <recv request=\"ACK\" crlf=\"true\"/>
  <recv request=\"BYE\"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
    ]]>
  </send>
  <timewait milliseconds=\"500\"/>",
            uas_response("180 Ringing", None),
            // A 2xx to an INVITE is retransmitted until its ACK (RFC 3261 §13.3.1.4).
            uas_response("200 OK", Some(&sdp(law, rtp_port))).replacen(
                "<send>",
                "<send retrans=\"500\">",
                1
            )
        ),
    )
}

/// UAS: INVITE, then the final error `status`, ACK.
pub fn uas_reject(status: u16) -> String {
    scenario(
        &format!("reject with {status}"),
        &format!(
            "<recv request=\"INVITE\" crlf=\"true\"/>
  <send>
    <![CDATA[
      SIP/2.0 {status} Rejected
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
  <recv request=\"ACK\"/>"
        ),
    )
}

/// UAS: INVITE, 180, then it waits for CANCEL: 200 to the CANCEL, 487 to the INVITE
/// (RFC 3261 §9.2), and the ACK of the 487. Any other request (a BYE) fails it.
pub fn uas_ring_cancelled() -> String {
    scenario(
        "ring, cancelled",
        &format!(
            "<recv request=\"INVITE\" crlf=\"true\"/>
  {}
  <recv request=\"CANCEL\"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
  <send>
    <![CDATA[
      SIP/2.0 487 Request Terminated
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      CSeq: [last_cseq_number] INVITE
      Content-Length: 0
    ]]>
  </send>
  <recv request=\"ACK\"/>",
            uas_response("180 Ringing", None)
        ),
    )
}

// ---------------------------------------------------------------------------------------
// RTP endpoint.

/// What the test's RTP endpoint measured.
#[derive(Debug, Default, Clone)]
pub struct RtpReport {
    pub sent: u64,
    pub received: u64,
    /// Milliseconds of each detected tone (Hz, ms).
    pub heard: Vec<(u32, u64)>,
    /// Payload types received.
    pub payload_types: Vec<u8>,
    pub peer: Option<SocketAddr>,
}

impl RtpReport {
    pub fn heard_ms(&self, hz: f64) -> u64 {
        self.heard
            .iter()
            .find(|(f, _)| *f == hz as u32)
            .map_or(0, |(_, ms)| *ms)
    }
}

/// The test's RTP endpoint: sends a tone (20 ms G.711 packets) to whoever sends to it
/// (symmetric RTP: the gateway's RTP socket) and detects the tones it receives.
pub struct RtpPeer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    /// The tone it sends (`f64` bits), changed by [`RtpPeer::set_tone`].
    tone_hz: Arc<AtomicU64>,
    /// Milliseconds heard so far per tone (Hz), see [`RtpPeer::heard_ms_now`].
    heard_now: Arc<Mutex<std::collections::BTreeMap<u32, u64>>>,
    thread: Option<JoinHandle<RtpReport>>,
}

impl RtpPeer {
    pub fn start(law: Law, tone_hz: f64, detect_hz: Vec<f64>) -> RtpPeer {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = sock.local_addr().unwrap().port();
        sock.set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let tone_bits = Arc::new(AtomicU64::new(tone_hz.to_bits()));
        let hz_now = tone_bits.clone();
        let heard_now: Arc<Mutex<std::collections::BTreeMap<u32, u64>>> = Default::default();
        let heard = heard_now.clone();
        let thread = std::thread::spawn(move || {
            let mut rep = RtpReport::default();
            let mut tone = ToneGen::new(tone_hz);
            let mut playing = tone_hz.to_bits();
            let mut buf = [0u8; 2048];
            let mut next_send = Instant::now();
            let (mut seq, mut ts, ssrc) = (1u16, 0u32, 0x5eed_1234u32);
            while !s.load(Ordering::Relaxed) {
                if let Ok((n, from)) = sock.recv_from(&mut buf) {
                    if n > 12 && buf[0] >> 6 == 2 {
                        rep.received += 1;
                        rep.peer.get_or_insert(from);
                        let pt = buf[1] & 0x7F;
                        if !rep.payload_types.contains(&pt) {
                            rep.payload_types.push(pt);
                        }
                        let cc = usize::from(buf[0] & 0x0F);
                        let start = 12 + 4 * cc;
                        if pt == law.rtp_payload_type() && n > start {
                            if let Some(hz) = detect(law, &buf[start..n], &detect_hz) {
                                *heard
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .entry(hz as u32)
                                    .or_default() += (n - start) as u64 / 8;
                            }
                        }
                    }
                }
                let Some(peer) = rep.peer else { continue };
                let now = Instant::now();
                while next_send <= now {
                    let mut pkt = [0u8; 12 + 160];
                    pkt[0] = 0x80;
                    pkt[1] = law.rtp_payload_type() | if seq == 1 { 0x80 } else { 0 };
                    pkt[2..4].copy_from_slice(&seq.to_be_bytes());
                    pkt[4..8].copy_from_slice(&ts.to_be_bytes());
                    pkt[8..12].copy_from_slice(&ssrc.to_be_bytes());
                    let want = hz_now.load(Ordering::Relaxed);
                    if want != playing {
                        playing = want;
                        tone = ToneGen::new(f64::from_bits(want));
                    }
                    tone.fill(law, &mut pkt[12..]);
                    let _ = sock.send_to(&pkt, peer);
                    rep.sent += 1;
                    seq = seq.wrapping_add(1);
                    ts = ts.wrapping_add(160);
                    next_send = if next_send + Duration::from_millis(100) < now {
                        now + Duration::from_millis(20)
                    } else {
                        next_send + Duration::from_millis(20)
                    };
                }
            }
            rep.heard = heard
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|(hz, ms)| (*hz, *ms))
                .collect();
            rep
        });
        RtpPeer {
            port,
            stop,
            tone_hz: tone_bits,
            heard_now,
            thread: Some(thread),
        }
    }

    /// Milliseconds of `hz` heard so far (while it runs; [`RtpReport::heard_ms`] at the
    /// end).
    pub fn heard_ms_now(&self, hz: f64) -> u64 {
        self.heard_now
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(hz as u32))
            .copied()
            .unwrap_or(0)
    }

    /// Send `hz` from the next packet on (what is heard is still counted per tone).
    pub fn set_tone(&self, hz: f64) {
        self.tone_hz.store(hz.to_bits(), Ordering::Relaxed);
    }

    pub fn stop(mut self) -> RtpReport {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

// ---------------------------------------------------------------------------------------
// Sharing one rig between the tests of a file.

/// One rig per test file, created on first use; tests take turns.
pub struct Shared {
    rig: OnceLock<Mutex<Rig>>,
}

impl Shared {
    pub const fn new() -> Shared {
        Shared {
            rig: OnceLock::new(),
        }
    }

    pub fn lock(&self, make: impl FnOnce() -> Rig) -> MutexGuard<'_, Rig> {
        assert!(
            have_sipp(),
            "SIPp is needed: apt-get install sip-tester (Debian)"
        );
        let m = self.rig.get_or_init(|| Mutex::new(make()));
        let mut g = m.lock().unwrap_or_else(|p| p.into_inner());
        // A test that failed may have left the link down or a call up: wait for calm,
        // and hang up what is left so that the next test starts clean.
        g.wait_up(Duration::from_secs(30));
        let calls = g.ctl("show calls");
        for id in calls.lines().filter_map(|l| l.split_whitespace().next()) {
            let id = id.trim_start_matches("call-");
            let _ = g.try_ctl(&format!("hangup {id}"));
        }
        let t0 = Instant::now();
        while !g.busy_channels().is_empty() && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        g
    }
}
