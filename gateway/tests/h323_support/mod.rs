//! What the H.323 tests through gatewayd share: our own `h323::call::Call` as the H.323
//! peer over real TCP (answering, or calling the daemon), the `h323` crate's gatekeeper
//! double on a UDP socket, the daemon as a real child process (`gatewayd run`), and a
//! loopback capture (`dumpcap`) decoded by tshark.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use h323::asn1::h225 as asn;
use h323::call::{Call, CallConfig, Channel, Event, PlaceCall};
use h323::fast_start::MediaAddresses;
use h323::h225::{Alias, Guid};
use h323::q931::ie::CauseValue;
use h323::ras::gatekeeper::{Gatekeeper, GatekeeperConfig, GatekeeperEvent};

/// Move bytes between one call and its signalling connection (H.245 tunnelled or none);
/// the events that came out are appended to `log`. False once the connection closed.
pub fn pump(call: &mut Call, stream: &mut TcpStream, now: Instant, log: &mut Vec<Event>) -> bool {
    let mut open = true;
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => {
                open = false;
                break;
            }
            Ok(n) => call.handle_signalling_bytes(now, &buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(_) => {
                open = false;
                break;
            }
        }
    }
    if call.poll_timeout().is_some_and(|t| t <= now) {
        call.handle_timeout(now);
    }
    flush(call, stream);
    while let Some(ev) = call.poll_event() {
        log.push(ev);
    }
    flush(call, stream);
    open
}

pub fn flush(call: &mut Call, stream: &mut TcpStream) {
    while let Some(t) = call.poll_transmit() {
        assert_eq!(t.channel, Channel::Signalling, "H.245 is tunnelled here");
        stream.set_nonblocking(false).unwrap();
        let _ = stream.write_all(&t.bytes);
        stream.set_nonblocking(true).unwrap();
    }
}

pub fn media(port: u16) -> MediaAddresses {
    MediaAddresses {
        rtp: SocketAddrV4::new([127, 0, 0, 1].into(), port),
        rtcp: SocketAddrV4::new([127, 0, 0, 1].into(), port + 1),
    }
}

pub fn v4(a: std::net::SocketAddr) -> SocketAddrV4 {
    match a {
        std::net::SocketAddr::V4(a) => a,
        other => panic!("{other}"),
    }
}

/// The next connection to `listener`, polled every `poll` until `deadline` (failing
/// with `missing` then); the listener and the stream are left non-blocking.
pub fn accept_before(
    listener: &TcpListener,
    deadline: Instant,
    poll: Duration,
    missing: &str,
) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "{missing}");
                std::thread::sleep(poll);
            }
            Err(e) => panic!("{e}"),
        }
    };
    stream.set_nonblocking(true).unwrap();
    stream
}

/// The H.323 endpoint answering one call: Call Proceeding at once, Alerting 200 ms
/// later, Connect 200 ms after that; then it releases with `release` after its delay, or
/// waits for the gateway's Release Complete. Returns every event of the call.
pub fn answer_one(
    listener: TcpListener,
    rtp_port: u16,
    release: Option<(Duration, CauseValue)>,
) -> Vec<Event> {
    let deadline = Instant::now() + Duration::from_secs(25);
    let mut stream = accept_before(
        &listener,
        deadline,
        Duration::from_millis(10),
        "no H.323 connection from gatewayd",
    );
    let mut call = Call::incoming(CallConfig::new(media(rtp_port)));
    let mut log = Vec::new();
    let mut alert_at = None;
    let mut answer_at = None;
    let mut release_at = None;
    while Instant::now() < deadline {
        let now = Instant::now();
        let open = pump(&mut call, &mut stream, now, &mut log);
        // Call Proceeding at once; Alerting 300 ms later (after the SIP side's own 100
        // Trying, RFC 3261 §17.2.1), Connect 300 ms after that.
        if alert_at.is_none() && log.iter().any(|e| matches!(e, Event::Setup(_))) {
            call.proceeding(now);
            alert_at = Some(now + Duration::from_millis(300));
        }
        if alert_at.is_some_and(|t| t <= now) && answer_at.is_none() {
            call.alerting(now);
            answer_at = Some(now + Duration::from_millis(300));
        }
        if answer_at.is_some_and(|t| t <= now) {
            answer_at = Some(now + Duration::from_secs(3600));
            call.answer(now);
            release_at = release.map(|(d, c)| (now + d, c));
        }
        if let Some((t, cause)) = release_at {
            if t <= now {
                call.release(now, cause);
                release_at = None;
            }
        }
        flush(&mut call, &mut stream);
        if log.iter().any(|e| matches!(e, Event::Released { .. })) || !open {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    while let Some(ev) = call.poll_event() {
        log.push(ev);
    }
    log
}

/// Our endpoint calls `called` on the daemon's H.323 port with fast start; once
/// connected it holds `hold`, then releases with `cause` (or waits for the gateway's
/// Release Complete when `cause` is `None`). Returns every event of the call.
pub fn call_daemon(
    port: u16,
    called: &str,
    calling: &str,
    rtp_port: u16,
    hold: Duration,
    cause: Option<CauseValue>,
    id: u8,
) -> Vec<Event> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_nonblocking(true).unwrap();
    let now = Instant::now();
    let mut call = Call::place(
        now,
        CallConfig::new(media(rtp_port)),
        PlaceCall {
            call_ref: u16::from(id),
            call_id: Guid([id; 16]),
            conference_id: Guid([id.wrapping_add(100); 16]),
            source_aliases: vec![Alias::Dialled(calling.into()), Alias::H323Id("ep".into())],
            destination_aliases: vec![Alias::Dialled(called.into())],
            calling_number: Some(calling.into()),
            called_number: Some(called.into()),
            display: None,
            source_signal_address: None,
            dest_signal_address: None,
        },
    );
    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut release_at = None;
    while Instant::now() < deadline {
        let now = Instant::now();
        let open = pump(&mut call, &mut stream, now, &mut log);
        if release_at.is_none() && log.iter().any(|e| matches!(e, Event::Connected { .. })) {
            release_at = Some(now + hold);
        }
        if let (Some(t), Some(c)) = (release_at, cause) {
            if t <= now {
                call.release(now, c);
                release_at = Some(now + Duration::from_secs(3600));
            }
        }
        flush(&mut call, &mut stream);
        if log.iter().any(|e| matches!(e, Event::Released { .. })) || !open {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    while let Some(ev) = call.poll_event() {
        log.push(ev);
    }
    log
}

/// The names of a call's events, in order (media events left out).
pub fn kinds(log: &[Event]) -> Vec<&'static str> {
    log.iter()
        .filter_map(|e| match e {
            Event::Setup(_) => Some("setup"),
            Event::Proceeding => Some("proceeding"),
            Event::Alerting => Some("alerting"),
            Event::Progress => Some("progress"),
            Event::Connected { .. } => Some("connected"),
            Event::Released { .. } => Some("released"),
            _ => None,
        })
        .collect()
}

pub fn released(log: &[Event]) -> Option<(CauseValue, bool)> {
    log.iter().find_map(|e| match e {
        Event::Released { cause, by_peer, .. } => Some((*cause, *by_peer)),
        _ => None,
    })
}

/// An ARQ the gatekeeper double received: (answerCall, call identifier).
pub type Arq = (bool, Option<Guid>);

/// The gatekeeper double on UDP: its address, its events, itself, the ARQs it received
/// (decoded from the datagrams) and the stop flag.
pub struct UdpGatekeeper {
    pub addr: SocketAddrV4,
    pub events: Arc<Mutex<Vec<GatekeeperEvent>>>,
    pub gk: Arc<Mutex<Gatekeeper>>,
    pub arqs: Arc<Mutex<Vec<Arq>>>,
    pub stop: Arc<AtomicBool>,
}

impl UdpGatekeeper {
    /// The gatekeeper double (`h323::ras::gatekeeper`) on a UDP socket in a thread until
    /// dropped; it grants registrations of at most `ttl` seconds.
    pub fn start(routes: Vec<(Alias, SocketAddrV4)>, ttl: u32) -> UdpGatekeeper {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = v4(socket.local_addr().unwrap());
        let mut config = GatekeeperConfig::new("GK-TEST", addr);
        config.time_to_live = Some(ttl);
        config.routes = routes;
        let gk = Arc::new(Mutex::new(Gatekeeper::new(config)));
        let events = Arc::new(Mutex::new(Vec::new()));
        let arqs = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (g2, e2, a2, s2) = (gk.clone(), events.clone(), arqs.clone(), stop.clone());
        std::thread::spawn(move || {
            socket
                .set_read_timeout(Some(Duration::from_millis(20)))
                .unwrap();
            let mut buf = [0u8; 4096];
            while !s2.load(Ordering::Relaxed) {
                let got = socket.recv_from(&mut buf);
                let mut g = g2.lock().unwrap();
                let now = Instant::now();
                if let Ok((n, std::net::SocketAddr::V4(from))) = got {
                    if let Ok(asn::RasMessage::admissionRequest(arq)) = h323::ras::decode(&buf[..n])
                    {
                        a2.lock().unwrap().push((
                            arq.answer_call,
                            arq.call_identifier
                                .as_ref()
                                .map(|c| Guid::from_asn(&c.guid)),
                        ));
                    }
                    g.handle_datagram(now, from, &buf[..n]);
                }
                g.handle_timeout(now);
                while let Some(t) = g.poll_transmit() {
                    let _ = socket.send_to(&t.payload, t.destination);
                }
                let mut ev = e2.lock().unwrap();
                while let Some(e) = g.poll_event() {
                    ev.push(e);
                }
            }
        });
        UdpGatekeeper {
            addr,
            events,
            gk,
            arqs,
            stop,
        }
    }

    pub fn events(&self) -> Vec<GatekeeperEvent> {
        self.events.lock().unwrap().clone()
    }

    /// Wait until `pred` holds over the events so far.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&[GatekeeperEvent]) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        loop {
            let ev = self.events();
            if pred(&ev) {
                return;
            }
            assert!(Instant::now() < deadline, "{what}: {ev:#?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for UdpGatekeeper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// gatewayd as a real process (`gatewayd run --config FILE`), its log in its directory.
pub struct Process {
    pub child: Child,
    pub dir: PathBuf,
}

impl Process {
    pub fn start(dir: &Path, config: &str) -> Process {
        let path = dir.join("gatewayd.toml");
        std::fs::write(&path, config).unwrap();
        let log = std::fs::File::create(dir.join("gatewayd.log")).unwrap();
        // SAFETY: getpid(2) has no preconditions.
        let parent = unsafe { libc::getpid() };
        let mut c = Command::new(env!("CARGO_BIN_EXE_gatewayd"));
        c.args(["run", "--config"])
            .arg(&path)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log);
        // The daemon dies with the test thread that started it, even when the test
        // process is killed (PR_SET_PDEATHSIG); only async-signal-safe calls here.
        // SAFETY: prctl, getppid and _exit between fork and exec.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut c, move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        let child = c.spawn().expect("gatewayd runs");
        let p = Process {
            child,
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !dir.join("ctl.sock").exists() {
            assert!(
                Instant::now() < deadline,
                "gatewayd did not come up: {}",
                p.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        p
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("gatewayd.log")).unwrap_or_default()
    }

    /// SIGTERM, as a service manager stops it; true when it exited by itself in time.
    pub fn stop(&mut self) -> bool {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A capture on the loopback interface by `dumpcap` (part of Debian's tshark), with a
/// capture filter; stopped and decoded by tshark.
pub struct Capture {
    child: Child,
    pub file: PathBuf,
}

impl Capture {
    /// Start capturing; `None` when dumpcap is not installed or cannot capture here.
    pub fn start(file: &Path, filter: &str) -> Option<Capture> {
        let mut child = Command::new("dumpcap")
            .args(["-q", "-i", "lo", "-f", filter, "-w"])
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .ok()?;
        // dumpcap says "File: …" on stderr once the capture runs.
        let mut err = child.stderr.take()?;
        let mut seen = Vec::new();
        let mut b = [0u8; 256];
        let deadline = Instant::now() + Duration::from_secs(10);
        while !String::from_utf8_lossy(&seen).contains("File:") {
            match err.read(&mut b) {
                Ok(0) | Err(_) => return None,
                Ok(n) => seen.extend_from_slice(&b[..n]),
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return None;
            }
        }
        std::thread::spawn(move || while matches!(err.read(&mut b), Ok(n) if n > 0) {});
        Some(Capture {
            child,
            file: file.to_path_buf(),
        })
    }

    /// Stop (SIGINT, so the file is complete).
    pub fn stop(mut self) -> PathBuf {
        // Give the last packets time to be written.
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        let _ = self.child.wait();
        self.file.clone()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        // A test that failed before `stop` leaves no dumpcap behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One decoded packet: its fields by name (tshark `-T fields`, one column per field).
pub type Packet = std::collections::HashMap<String, String>;

/// Decode `file` with tshark, SIP on `sip_ports`, keeping packets that carry Q.931 or SIP,
/// with `fields`. TPKT on any TCP port is found by tshark's own TPKT heuristic (4.0: a
/// `-d tcp.port==N,tpkt` is ambiguous there, "matched 2 dissectors", and decodes nothing).
pub fn tshark_fields(file: &Path, sip_ports: &[u16], fields: &[&str]) -> Vec<Packet> {
    let mut c = Command::new("tshark");
    c.arg("-r").arg(file);
    for p in sip_ports {
        c.args(["-d", &format!("udp.port=={p},sip")]);
    }
    c.args(["-Y", "q931 || sip", "-T", "fields", "-E", "separator=|"]);
    c.args(["-E", "occurrence=a", "-E", "aggregator=;"]);
    for f in fields {
        c.args(["-e", f]);
    }
    let out = c.output().expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            fields
                .iter()
                .zip(l.split('|'))
                .map(|(f, v)| (f.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

pub fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// SIPp as the called party ringing: 180 to the INVITE just received, with its To tag.
pub const RINGING_180: &str = r#"  <send>
    <![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
"#;
