//! `bench-h323-gateway`: SIP ↔ H.323 calls per second through the whole daemon. Run:
//! `cargo run --release -p gateway --bin bench-h323-gateway`.
//!
//! gatewayd (its real runtime, `gateway::daemon`, hosted on a thread of this process)
//! routes every number from its SIP trunk to one `[[h323_peer]]`. SIPp (Debian package
//! `sip-tester`) drives INVITE → 200 → ACK → BYE at a fixed rate on the SIP side; on the
//! H.323 side a small multi-call answering endpoint made of the `h323` crate's
//! `h323::call::Call` (one per TCP connection, on a tokio runtime of its own thread,
//! `h323-peer`) accepts each call-signalling connection over real TCP, answers the Setup
//! with fast start (Alerting then Connect carrying the fast start answer, or Connect alone
//! with `--no-ring`) and waits for the gateway's Release Complete. Every call crosses the
//! SIP leg, the core (routing, CDR), the H.323 leg (H.225.0 in aligned PER over TPKT) and
//! the daemon's TCP connection tasks: Setup ↔ INVITE, Alerting ↔ 180, Connect ↔ 200,
//! Release Complete ↔ BYE.
//!
//! CPU is read per thread (`/proc/self/task/<tid>/schedstat`): the daemon is every thread
//! but this one's main thread and the H.323 peer's (`h323-peer`), whose CPU is printed
//! apart; SIPp is a process of its own. Wall-clock rates on a loaded machine are
//! pessimistic: `cpu_us_per_call` (daemon CPU per completed call) is the figure to compare.
//!
//! A call counts as failed when SIPp counts it failed, or when the H.323 side did not see
//! Setup → Connect → Release Complete with cause 16 (normal clearing, the BYE's).
//!
//! Options: `--rate CPS` (default 800), `--calls N` (12000), `--limit N` concurrent calls
//! (1000), `--no-ring` (Connect without Alerting).
//! Final line: `bench h323-gateway cps=N failed=K cpu_us_per_call=U peer_cpu_us_per_call=P`.

#[path = "bench_support/daemon.rs"]
mod daemon_bench;
use daemon_bench::{ctl, start_daemon, threads_cpu};
use std::collections::HashMap;
use std::net::{SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use h323::call::{Call, CallConfig, Event};
use h323::fast_start::MediaAddresses;
use h323::q931::ie::CauseValue;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

struct Opts {
    rate: u32,
    calls: u32,
    limit: u32,
    ring: bool,
}

fn opts() -> Opts {
    let mut o = Opts {
        rate: 800,
        calls: 12000,
        limit: 1000,
        ring: true,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--no-ring" {
            o.ring = false;
            i += 1;
            continue;
        }
        let v = args.get(i + 1).and_then(|v| v.parse::<u32>().ok());
        match (args[i].as_str(), v) {
            ("--rate", Some(v)) => o.rate = v.max(1),
            ("--calls", Some(v)) => o.calls = v.max(1),
            ("--limit", Some(v)) => o.limit = v.max(1),
            (a, _) => {
                eprintln!("bench-h323-gateway: unknown or incomplete option `{a}`");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    o
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port")
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free TCP port")
}

const PEER_THREAD: &str = "h323-peer";

fn config(dir: &Path, sip_port: u16, pbx_port: u16, h323_port: u16, peer_port: u16) -> String {
    format!(
        "[general]\ncdr_file = \"{d}/cdr.csv\"\ncontrol_socket = \"{d}/ctl.sock\"\n\
         media_threads = 1\n\n\
         [[sip_trunk]]\nname = \"pbx\"\nlisten = \"127.0.0.1:{sip_port}\"\n\
         peers = [\"127.0.0.1:{pbx_port}\"]\nrate_limit = 0\n\n\
         [h323]\nlisten = \"127.0.0.1:{h323_port}\"\n\n\
         [[h323_peer]]\nname = \"h323-ep\"\naddress = \"127.0.0.1:{peer_port}\"\n\
         fast_start = true\nh245_tunnelling = true\n\n\
         [[route]]\npattern = \"_X.\"\nfrom = [\"pbx\"]\nto = [\"h323-ep\"]\n",
        d = dir.display()
    )
}

/// The last row of SIPp's statistics file as column → value.
fn sipp_stats(path: &Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(head) = lines.next() else {
        return HashMap::new();
    };
    let Some(last) = lines.next_back() else {
        return HashMap::new();
    };
    head.split(';')
        .zip(last.split(';'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// What the H.323 endpoint saw.
#[derive(Default)]
struct PeerStats {
    connections: AtomicU64,
    setups: AtomicU64,
    /// Release Complete from the gateway with cause 16 after our Connect.
    cleared_normally: AtomicU64,
    /// Anything else: another cause, a connection closed without Release Complete.
    abnormal: AtomicU64,
}

/// One call on one accepted call-signalling connection: answer the Setup (Alerting, then
/// Connect with the fast start answer), then wait for the gateway's Release Complete.
async fn answer(mut stream: TcpStream, media: MediaAddresses, ring: bool, stats: Arc<PeerStats>) {
    let _ = stream.set_nodelay(true);
    let mut call = Call::incoming(CallConfig::new(media));
    let mut buf = vec![0u8; 4096];
    let mut out = Vec::with_capacity(1024);
    let mut answered = false;
    loop {
        let now = Instant::now();
        let mut released = None;
        loop {
            let mut moved = false;
            while let Some(ev) = call.poll_event() {
                moved = true;
                match ev {
                    Event::Setup(_) => {
                        stats.setups.fetch_add(1, Ordering::Relaxed);
                        if ring {
                            call.alerting(now);
                        }
                        call.answer(now);
                        answered = true;
                    }
                    Event::Released { cause, by_peer, .. } => released = Some((cause, by_peer)),
                    _ => {}
                }
            }
            while let Some(t) = call.poll_transmit() {
                moved = true;
                out.extend_from_slice(&t.bytes);
            }
            if !moved {
                break;
            }
        }
        if !out.is_empty() {
            if stream.write_all(&out).await.is_err() {
                stats.abnormal.fetch_add(1, Ordering::Relaxed);
                return;
            }
            out.clear();
        }
        if let Some((cause, by_peer)) = released {
            if answered && by_peer && cause == CauseValue::NormalCallClearing {
                stats.cleared_normally.fetch_add(1, Ordering::Relaxed);
            } else {
                stats.abnormal.fetch_add(1, Ordering::Relaxed);
            }
            // The gateway closes the connection after its Release Complete: read to EOF.
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
            })
            .await;
            return;
        }
        let timeout = call.poll_timeout();
        tokio::select! {
            r = stream.read(&mut buf) => match r {
                Ok(n) if n > 0 => call.handle_signalling_bytes(Instant::now(), &buf[..n]),
                // Closed before the gateway's Release Complete.
                _ => {
                    stats.abnormal.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            },
            _ = async {
                match timeout {
                    Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
                    None => std::future::pending().await,
                }
            } => call.handle_timeout(Instant::now()),
        }
    }
}

/// The answering H.323 endpoint: a listener and one task per connection, on a
/// single-threaded tokio runtime of the `h323-peer` thread.
fn start_peer(port: u16, ring: bool, stats: Arc<PeerStats>) {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(PEER_THREAD.into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("peer runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind(("127.0.0.1", port))
                    .await
                    .expect("H.323 peer listener");
                let _ = ready_tx.send(());
                let mut rtp_port: u16 = 20000;
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    stats.connections.fetch_add(1, Ordering::Relaxed);
                    // Our (never used) RTP address in the fast start answer.
                    rtp_port = if rtp_port >= 29998 {
                        20000
                    } else {
                        rtp_port + 2
                    };
                    let media = MediaAddresses {
                        rtp: SocketAddrV4::new([127, 0, 0, 1].into(), rtp_port),
                        rtcp: SocketAddrV4::new([127, 0, 0, 1].into(), rtp_port + 1),
                    };
                    tokio::spawn(answer(stream, media, ring, stats.clone()));
                }
            });
        })
        .expect("peer thread");
    ready_rx.recv().expect("peer listening");
}

fn main() {
    let o = opts();
    let dir: PathBuf =
        std::env::temp_dir().join(format!("bench-h323-gateway-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let (sip_port, pbx_port) = (free_udp_port(), free_udp_port());
    let (h323_port, peer_port) = (free_tcp_port(), free_tcp_port());
    let path = dir.join("gatewayd.toml");
    std::fs::write(
        &path,
        config(&dir, sip_port, pbx_port, h323_port, peer_port),
    )
    .expect("config written");
    println!(
        "gatewayd SIP trunk → H.323 peer (fast start, {}); SIPp: {} calls at {}/s, at most {} \
         at a time",
        if o.ring {
            "Alerting + Connect"
        } else {
            "Connect"
        },
        o.calls,
        o.rate,
        o.limit
    );
    let stats = Arc::new(PeerStats::default());
    start_peer(peer_port, o.ring, stats.clone());
    start_daemon(&dir, &path);
    let sock = dir.join("ctl.sock");
    let t0 = Instant::now();
    while ctl(&sock, "show calls").is_err() {
        if t0.elapsed() > Duration::from_secs(30) {
            eprintln!("gatewayd did not come up");
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("gatewayd up after {:.1} s", t0.elapsed().as_secs_f64());

    let stats_file = dir.join("sipp-stats.csv");
    let before = threads_cpu();
    let started = Instant::now();
    let status = Command::new("sipp")
        .args(["-sn", "uac", "-s", "5000", "-d", "0"])
        .args(["-r", &o.rate.to_string(), "-rp", "1000"])
        .args(["-m", &o.calls.to_string(), "-l", &o.limit.to_string()])
        .args(["-i", "127.0.0.1", "-p", &pbx_port.to_string()])
        .args(["-nostdin", "-timeout", "120", "-timeout_error"])
        .args(["-trace_stat", "-fd", "1", "-stf"])
        .arg(&stats_file)
        .arg(format!("127.0.0.1:{sip_port}"))
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("sipp runs (Debian package sip-tester)");
    let wall = started.elapsed();
    // The last Release Completes reach the peer just after SIPp's last 200 to BYE.
    let settle = Instant::now() + Duration::from_secs(5);
    while stats.cleared_normally.load(Ordering::Relaxed) + stats.abnormal.load(Ordering::Relaxed)
        < stats.setups.load(Ordering::Relaxed)
        && Instant::now() < settle
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let after = threads_cpu();
    let s = sipp_stats(&stats_file);
    let num = |k: &str| s.get(k).and_then(|v| v.trim().parse::<u64>().ok());
    let ok = num("SuccessfulCall(C)").unwrap_or(0);
    let sipp_failed = num("FailedCall(C)").unwrap_or(o.calls as u64 - ok);
    let (mut daemon_ns, mut peer_ns) = (0u64, 0u64);
    let mut by_name: HashMap<String, u64> = HashMap::new();
    let me = std::process::id();
    for (tid, (name, ns)) in &after {
        let used = ns - before.get(tid).map_or(0, |b| b.1);
        if *tid == me {
            continue;
        }
        *by_name.entry(name.clone()).or_default() += used;
        if name == PEER_THREAD {
            peer_ns += used;
        } else {
            daemon_ns += used;
        }
    }
    // Let the last CDRs land, then check them and the calls.
    std::thread::sleep(Duration::from_millis(500));
    let cdr_text = std::fs::read_to_string(dir.join("cdr.csv")).unwrap_or_default();
    let cdrs = cdr_text.lines().count().saturating_sub(1);
    let cdr_answered = cdr_text
        .lines()
        .skip(1)
        .filter(|l| l.contains(",h323-ep,") && l.contains(",ANSWERED"))
        .count();
    let calls = ctl(&sock, "show calls").unwrap_or_default();

    let setups = stats.setups.load(Ordering::Relaxed);
    let normal = stats.cleared_normally.load(Ordering::Relaxed);
    let abnormal = stats.abnormal.load(Ordering::Relaxed);
    // A call SIPp completed must also have completed on the H.323 side.
    let h323_failed = abnormal + ok.saturating_sub(normal);
    let failed = sipp_failed + h323_failed;
    let cps = ok as f64 / wall.as_secs_f64();
    let per_call = daemon_ns as f64 / 1000.0 / ok.max(1) as f64;
    let peer_per_call = peer_ns as f64 / 1000.0 / ok.max(1) as f64;
    let mut names: Vec<_> = by_name.into_iter().collect();
    names.sort_by_key(|(_, ns)| std::cmp::Reverse(*ns));
    println!(
        "SIPp: {ok} calls completed, {sipp_failed} failed in {:.2} s wall (exit {:?})",
        wall.as_secs_f64(),
        status.code()
    );
    println!(
        "H.323 peer: {} connections, {setups} Setups answered, {normal} Release Complete \
         cause 16, {abnormal} abnormal endings",
        stats.connections.load(Ordering::Relaxed)
    );
    println!(
        "daemon CPU {:.2} s ({:.0}% of one core, {per_call:.0} µs per call), H.323 peer {:.2} s \
         ({peer_per_call:.0} µs per call)",
        daemon_ns as f64 / 1e9,
        daemon_ns as f64 / 1e9 / wall.as_secs_f64() * 100.0,
        peer_ns as f64 / 1e9
    );
    if daemon_ns > 0 {
        println!(
            "daemon capacity at this CPU cost: {:.0} calls per CPU-second",
            ok as f64 / (daemon_ns as f64 / 1e9)
        );
    }
    for (name, ns) in names.iter().take(8) {
        println!("  thread {name:<16} {:.3} s", *ns as f64 / 1e9);
    }
    println!(
        "CDRs written: {cdrs} ({cdr_answered} ANSWERED to h323-ep); calls still up: {}",
        calls.lines().count()
    );
    if cdrs as u64 != ok + sipp_failed {
        println!("WARNING: {cdrs} CDRs for {} calls", ok + sipp_failed);
    }
    if let Ok(l) = std::fs::read_to_string("/proc/loadavg") {
        println!(
            "load average: {}",
            l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "bench h323-gateway cps={cps:.0} failed={failed} cpu_us_per_call={per_call:.0} \
         peer_cpu_us_per_call={peer_per_call:.0}"
    );
    std::process::exit(0);
}
