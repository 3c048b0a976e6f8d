//! Test support: a `tdm-simd` per test, the preload library, and programs run against
//! them.
//!
//! `tdm-simd` is the package's binary (`CARGO_BIN_EXE_tdm-simd`). `libdahdi_sim.so` is
//! the package's cdylib, which `cargo test` does not build (only `cargo build` does):
//! the tests run `cargo build -p dahdi-sim --lib` once, into the same target directory
//! and profile, so the library is always the one of the sources under test.

#![allow(dead_code)]

#[path = "../../src/proto.rs"]
pub mod proto;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const SIMD: &str = env!("CARGO_BIN_EXE_tdm-simd");

/// The preload library next to the daemon binary, built (or brought up to date) on
/// first use.
pub fn preload_lib() -> PathBuf {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let profile_dir = Path::new(SIMD).parent().expect("binary directory");
        let target_dir = profile_dir.parent().expect("target directory");
        let mut cmd = Command::new(env!("CARGO"));
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--quiet", "-p", "dahdi-sim", "--lib"])
            .env("CARGO_TARGET_DIR", target_dir);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let out = run_with_timeout(cmd, Duration::from_secs(900));
        assert!(
            out.status.success(),
            "cargo build -p dahdi-sim --lib failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lib = profile_dir.join("libdahdi_sim.so");
        assert!(lib.exists(), "{} was not built", lib.display());
        lib
    })
    .clone()
}

/// A running `tdm-simd` on its own socket; killed when dropped.
pub struct Simd {
    child: Child,
    pub dir: PathBuf,
    pub socket: String,
}

impl Simd {
    pub fn start(name: &str, args: &[&str]) -> Simd {
        let dir = std::env::temp_dir().join(format!("dahdi-sim-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let socket = dir.join("simd.sock").to_string_lossy().into_owned();
        let log = std::fs::File::create(dir.join("simd.log")).expect("log file");
        let child = Command::new(SIMD)
            .args(["--socket", &socket])
            .args(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn tdm-simd");
        let sim = Simd { child, dir, socket };
        let t0 = Instant::now();
        while sim.try_control("config").is_none() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "tdm-simd did not come up"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        sim
    }

    fn try_control(&self, cmd: &str) -> Option<String> {
        match proto::control(&self.socket, cmd) {
            Ok(Ok(t)) => Some(t),
            _ => None,
        }
    }

    /// A control command that must succeed.
    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn control(&self, cmd: &str) -> String {
        match proto::control(&self.socket, cmd) {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => panic!("control {cmd:?} failed: {e}"),
            Err(e) => panic!("control {cmd:?}: {e}"),
        }
    }

    /// A command with the preload library pointed at this daemon.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("LD_PRELOAD", preload_lib())
            .env(proto::SOCKET_ENV, &self.socket);
        c
    }

    /// The daemon's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("simd.log")).unwrap_or_default()
    }
}

impl Drop for Simd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs a command to completion, killing it after `limit`.
pub fn run_with_timeout(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let t0 = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{cmd:?} still running after {limit:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a Debian program is installed (package `dahdi`).
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}
