//! baresip (Debian `baresip-core`) as a real SIP phone for the tests: one place that writes
//! its configuration, keeps its log, and waits for it to be ready or to dial.
//!
//! baresip's SIP port is picked by binding port 0 and letting it go, and baresip starts as a
//! separate process: either can go wrong on a loaded CI machine (the port taken again before
//! baresip binds it, a start that stalls). A start that never becomes ready, or never dials,
//! is therefore retried with a fresh port and process, and its log is printed so the cause is
//! on record; after the last try the test fails with the log in its message.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::port_support;

const ATTEMPTS: usize = 3;

/// A running baresip; killed, and its directory removed, when dropped.
pub struct Baresip {
    child: Child,
    /// Its configuration directory (config, accounts, log; recordings if asked for).
    pub dir: PathBuf,
    /// The UDP port its SIP stack listens on, at 127.0.0.1.
    pub port: u16,
}

/// What the test asks of baresip beyond the common configuration.
pub struct Setup<'a> {
    /// Names the configuration directory (with the test's process id).
    pub name: &'a str,
    /// Extra lines for `config` (modules, audio source, `snd_path`, RTP ports); `{dir}`
    /// stands for the configuration directory.
    pub config: &'a str,
    /// The user part of its one account, `<sip:user@127.0.0.1:port>`.
    pub user: &'a str,
    /// The account's parameters (`regint=0;answermode=auto`).
    pub account: &'a str,
    /// `-t`: baresip quits on its own after this many seconds.
    pub run_secs: u32,
}

impl Drop for Baresip {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Baresip {
    /// Kills baresip (the call ends without a BYE); its files stay until drop.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// What baresip printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    fn spawn(setup: &Setup, attempt: usize, exec: Option<String>) -> Baresip {
        // Numbered: the test modules share one process and may run baresips side by side.
        static SPAWNED: AtomicU32 = AtomicU32::new(0);
        let n = SPAWNED.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "gw-baresip-{}-{}-{n}-{attempt}",
            setup.name,
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = port_support::free_udp_port();
        std::fs::write(
            dir.join("config"),
            format!(
                "sip_listen 127.0.0.1:{port}\n\
                 module_path /usr/lib/baresip/modules\n{}",
                setup.config.replace("{dir}", &dir.display().to_string())
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("accounts"),
            format!("<sip:{}@127.0.0.1:{port}>;{}\n", setup.user, setup.account),
        )
        .unwrap();
        std::fs::write(dir.join("contacts"), "").unwrap();
        let log = std::fs::File::create(dir.join("log")).unwrap();
        let mut cmd = Command::new("baresip");
        cmd.arg("-f")
            .arg(&dir)
            .args(["-n", "127.0.0.1", "-t", &setup.run_secs.to_string()]);
        if let Some(e) = exec {
            cmd.args(["-e", &e]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("baresip must be installed (Debian package baresip-core; run .ci/deps)");
        Baresip { child, dir, port }
    }

    /// Starts baresip and waits until it says it is ready to take calls.
    pub fn start(setup: &Setup) -> Baresip {
        retry(setup, |attempt| {
            let phone = Baresip::spawn(setup, attempt, None);
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if phone.log().contains("baresip is ready") {
                    return Ok(phone);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(phone)
        })
    }

    /// Starts baresip dialling `sip:user@` the address of `sock`, and returns it with the
    /// INVITE it sent and the address it came from.
    pub fn dial(setup: &Setup, sock: &UdpSocket, user: &str) -> (Baresip, String, SocketAddr) {
        let target = sock.local_addr().unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        retry(setup, |attempt| {
            let phone = Baresip::spawn(setup, attempt, Some(format!("/dial sip:{user}@{target}")));
            let mut buf = [0u8; 65535];
            let deadline = Instant::now() + Duration::from_secs(6);
            while Instant::now() < deadline {
                if let Ok((n, from)) = sock.recv_from(&mut buf) {
                    if buf[..n].starts_with(b"INVITE ") {
                        let invite = String::from_utf8_lossy(&buf[..n]).into_owned();
                        return Ok((phone, invite, from));
                    }
                }
            }
            Err(phone)
        })
    }

    /// The recording baresip's `sndfile` module wrote of what it decoded (`*-dec.wav`) under
    /// `dir`, as 16-bit samples after the 44-byte header, with its rate and channel count.
    pub fn decoded_recording(dir: &Path) -> (Vec<i16>, u32, usize) {
        let wavs: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
            .collect();
        assert_eq!(wavs.len(), 1, "baresip's decoded recordings: {wavs:?}");
        let wav = std::fs::read(&wavs[0]).unwrap();
        assert!(wav.len() >= 44, "recording shorter than its header");
        let rate = u32::from_le_bytes([wav[24], wav[25], wav[26], wav[27]]);
        let channels = u16::from_le_bytes([wav[22], wav[23]]) as usize;
        let samples = wav[44..]
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        (samples, rate, channels)
    }
}

/// Runs `attempt` up to [`ATTEMPTS`] times; a failed try hands back its baresip, whose log is
/// printed before it is killed.
fn retry<T>(setup: &Setup, mut attempt: impl FnMut(usize) -> Result<T, Baresip>) -> T {
    for n in 1..=ATTEMPTS {
        match attempt(n) {
            Ok(t) => return t,
            Err(phone) if n < ATTEMPTS => {
                eprintln!(
                    "baresip ({}) try {n} did not come up, retrying; its log:\n{}",
                    setup.name,
                    phone.log()
                );
            }
            Err(phone) => panic!(
                "baresip ({}) did not come up in {ATTEMPTS} tries; last log:\n{}",
                setup.name,
                phone.log()
            ),
        }
    }
    unreachable!("the last try returns or panics")
}
