//! bench-media: how many B-channels one media thread bridges to RTP in real time.
//!
//! N channels on ceil(N/30) simulated E1 spans (tdm-sim, real-time clock), each bridged
//! by one media thread to its own loopback UDP socket; a traffic generator thread plays
//! every far RTP endpoint from one socket (`sendmmsg`/`recvmmsg`), sending a 20 ms PCMA
//! packet per channel every 20 ms and draining what the engine sends. In the same run,
//! first, a bare `sendmmsg`/`recvmmsg` loop over loopback measures what one core moves
//! without any media work (the limit, `of_limit`'s denominator); then two more
//! bare loops move the engine's traffic pattern with nothing else: one datagram in and one
//! out per socket, as many sockets as channels, io_uring batches (one thread; and with
//! the far side on another CPU, as the generator is). Their rates are printed beside
//! `of_limit`: they show how much of the one-socket figure the kernel itself leaves for
//! one socket per call with its peer on another CPU.
//!
//! Last line: `bench media channels=N cpu=F late=K p99_ms=L of_limit=R` where `cpu` is
//! the media thread's CPU over wall time (1.0 = one core), `late` the ticks it missed,
//! `p99_ms` the worst 99th percentile of the engine's added latency (tick wake-up →
//! RTP `sendto`; kernel arrival → jitter buffer, counted from the tick's wake-up for a
//! datagram that arrived before it when sockets are read at the channel's tick (it could
//! not have been played earlier); playout tick → B-channel write), and
//! `of_limit` its packets (sent + received) per CPU-second over the bare loop's.
//!
//! The channels are opened at an even rate over `--open-ms` (100 ms), as calls are set
//! up one after another: a B-channel's 20 ms blocks complete on the tick (mod 20) it was
//! opened on, and opened all at once they would crowd a few ticks (the run prints the
//! fullest phase).
//!
//! `--probe` runs an idle real-time thread on the media thread's CPU through the
//! measurement ([`tdm_sim::wake_probe`]): the seconds in which it woke over 1 ms late are
//! the host's stalls, printed beside the seconds in which the engine had late ticks.

use std::mem::zeroed;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use clap::Parser;
use dahdi_driver::{ChannelId, ChannelMode, Device, SpanId, Timeslot};
use gateway::media::engine::io::{thread_cpu_ns, IoMode, RawAddr};
use gateway::media::engine::{ChannelConfig, DtmfMode, EngineOptions, MediaEngine};
use gateway::media::{Law, FRAME_SAMPLES};
use gateway::rtp::PayloadType;
use tdm_sim::wake_probe::WakeProbe;
use tdm_sim::{ClockMode, Sim};

#[derive(Parser)]
struct Args {
    /// Bridged channels (30 per E1 span).
    #[arg(long, default_value_t = 2000)]
    channels: usize,
    /// Measured seconds (after a 3 s warm-up).
    #[arg(long, default_value_t = 15)]
    secs: u64,
    /// Echo canceller on every channel (128 taps).
    #[arg(long)]
    echo: bool,
    /// No in-band DTMF detection.
    #[arg(long)]
    no_dtmf: bool,
    /// Seconds of the bare loopback loop.
    #[arg(long, default_value_t = 3)]
    bare_secs: u64,
    /// Milliseconds over which the channels are opened, at an even rate (0: at once,
    /// which puts most of them on a few of the 20 phases).
    #[arg(long, default_value_t = 100)]
    open_ms: u64,
    /// Packet I/O of the media thread: io_uring where the kernel runs it, each RTP socket
    /// read at its channel's tick (`auto`); io_uring with multishot receives armed in the
    /// ring, datagrams taken as they arrive (`uring-armed`, Linux ≥ 6.1); io_uring with
    /// receives found by `epoll_wait` as they arrive (`uring-readiness`); or one system
    /// call per packet (`syscalls`).
    #[arg(long, default_value = "auto")]
    io: String,
    /// Keep the media thread on a CPU of its own and the generator and the simulator's
    /// clock on another (with two CPUs or more).
    #[arg(long)]
    pin: bool,
    /// Also run an idle `SCHED_FIFO` thread on the media thread's CPU (with `--pin`)
    /// sleeping to the same 1 ms deadlines through the measurement: its wake-ups over
    /// 1 ms late are the host's stalls, which no work of the engine caused. It costs the
    /// media thread a context switch per millisecond.
    #[arg(long)]
    probe: bool,
}

const PKT: usize = 12 + FRAME_SAMPLES;
const BATCH: usize = 64;

fn set_buf(sock: &UdpSocket, bytes: i32) {
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_SNDBUFFORCE] {
        // SAFETY: a valid int option on a valid socket; failure leaves the default.
        unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                &bytes as *const i32 as *const libc::c_void,
                4,
            );
        }
    }
}

/// `sendmmsg` of `pkts[..n]` to `dests[..n]`; returns how many went.
fn sendmmsg(sock: &UdpSocket, pkts: &mut [[u8; PKT]], dests: &[RawAddr], n: usize) -> usize {
    // SAFETY: zeroed C structs, then every pointer set to live buffers below.
    let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
    let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
    let n = n.min(BATCH);
    for i in 0..n {
        iovs[i] = libc::iovec {
            iov_base: pkts[i].as_mut_ptr() as *mut libc::c_void,
            iov_len: PKT,
        };
        hdrs[i].msg_hdr.msg_name = dests[i].as_ptr() as *mut libc::c_void;
        hdrs[i].msg_hdr.msg_namelen = dests[i].len();
        hdrs[i].msg_hdr.msg_iov = &mut iovs[i];
        hdrs[i].msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: as above.
    let r = unsafe {
        libc::sendmmsg(
            sock.as_raw_fd(),
            hdrs.as_mut_ptr(),
            n as u32,
            libc::MSG_DONTWAIT,
        )
    };
    r.max(0) as usize
}

/// Drain up to `BATCH` datagrams per call until the socket is empty; returns the count.
fn drain(sock: &UdpSocket, bufs: &mut [[u8; 512]; BATCH]) -> u64 {
    let mut total = 0;
    loop {
        // SAFETY: zeroed C structs, pointers set to `bufs`.
        let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        for i in 0..BATCH {
            iovs[i] = libc::iovec {
                iov_base: bufs[i].as_mut_ptr() as *mut libc::c_void,
                iov_len: 512,
            };
            hdrs[i].msg_hdr.msg_iov = &mut iovs[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: as above.
        let r = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                hdrs.as_mut_ptr(),
                BATCH as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r <= 0 {
            return total;
        }
        total += r as u64;
        if (r as usize) < BATCH {
            return total;
        }
    }
}

/// The bare loop: one thread sends batches from one socket to another and receives
/// them; returns (packets, CPU seconds). Each packet is one send and one receive.
fn bare_loop(secs: u64) -> (u64, f64) {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    set_buf(&a, 8 << 20);
    set_buf(&b, 8 << 20);
    let dest = RawAddr::new(b.local_addr().unwrap());
    let dests = [dest; BATCH];
    let mut pkts = [[0x80u8; PKT]; BATCH];
    let mut bufs = [[0u8; 512]; BATCH];
    let cpu0 = thread_cpu_ns();
    let end = Instant::now() + Duration::from_secs(secs);
    let mut moved = 0;
    while Instant::now() < end {
        for _ in 0..4 {
            sendmmsg(&a, &mut pkts, &dests, BATCH);
        }
        moved += drain(&b, &mut bufs);
    }
    (moved, (thread_cpu_ns() - cpu0) as f64 / 1e9)
}

/// `n` sockets, one per call as the engine has them, each connected to `far`; and
/// their addresses.
fn near_sockets(n: usize, far: SocketAddr) -> anyhow::Result<(Vec<UdpSocket>, Vec<RawAddr>)> {
    let mut near = Vec::with_capacity(n);
    let mut addrs = Vec::with_capacity(n);
    for _ in 0..n {
        let s = UdpSocket::bind("127.0.0.1:0")?;
        s.connect(far)?;
        addrs.push(RawAddr::new(s.local_addr()?));
        near.push(s);
    }
    Ok((near, addrs))
}

/// What the engine does for a tick's channels, and nothing else: one io_uring
/// submission of a receive (`MSG_DONTWAIT`) on each of `near` (at most [`BATCH`]), then
/// one of a send back on each that had a datagram. Returns the receives and sends done.
fn near_round(
    ring: &mut io_uring::IoUring,
    near: &[UdpSocket],
    bufs: &mut [[u8; 512]],
    pkt: &[u8; PKT],
) -> anyhow::Result<u64> {
    use io_uring::{opcode, types};
    let full = || anyhow::anyhow!("io_uring submission queue full");
    for (i, s) in near.iter().enumerate() {
        let e = opcode::Recv::new(types::Fd(s.as_raw_fd()), bufs[i].as_mut_ptr(), 512)
            .flags(libc::MSG_DONTWAIT)
            .build()
            .user_data(i as u64);
        // SAFETY: the buffer outlives the entry, which completes before we return.
        unsafe { ring.submission().push(&e) }.map_err(|_| full())?;
    }
    ring.submit_and_wait(near.len())?;
    let mut got = [false; BATCH];
    for c in ring.completion() {
        if c.result() > 0 {
            got[c.user_data() as usize] = true;
        }
    }
    let mut sends = 0;
    for (s, _) in near.iter().zip(got).filter(|(_, g)| *g) {
        let e = opcode::Send::new(types::Fd(s.as_raw_fd()), pkt.as_ptr(), PKT as u32)
            .flags(libc::MSG_DONTWAIT)
            .build();
        // SAFETY: `pkt` outlives the entry, which completes before we return.
        unsafe { ring.submission().push(&e) }.map_err(|_| full())?;
        sends += 1;
    }
    ring.submit_and_wait(sends)?;
    let sent = ring.completion().filter(|c| c.result() > 0).count();
    Ok((sends + sent) as u64)
}

/// Walks `n` sockets round and round: `f` gets the next `count` of them from `*next` on,
/// as runs of at most [`BATCH`] that do not wrap, and `*next` moves past them.
fn each_run(
    next: &mut usize,
    n: usize,
    count: usize,
    mut f: impl FnMut(std::ops::Range<usize>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut left = count;
    while left > 0 {
        let k = BATCH.min(left).min(n - *next);
        f(*next..*next + k)?;
        *next = (*next + k) % n;
        left -= k;
    }
    Ok(())
}

/// The bare loop again over `n` sockets, one per call: a far socket sends one datagram to
/// each of the next [`BATCH`] sockets (`sendmmsg`), those receive theirs and send one
/// back ([`near_round`]), the far socket drains them; round after round over all `n`, so
/// each socket's kernel state is as cold as the engine's. One thread; only
/// [`near_round`] is timed (thread CPU around it), as the engine's far side runs on
/// another thread. Returns (receives + sends, CPU seconds).
fn bare_sockets_loop(n: usize, secs: u64) -> anyhow::Result<(u64, f64)> {
    let far = UdpSocket::bind("127.0.0.1:0")?;
    set_buf(&far, 16 << 20);
    let (near, dests) = near_sockets(n, far.local_addr()?)?;
    let mut ring = io_uring::IoUring::new(2 * BATCH as u32)?;
    let mut pkts = [[0x80u8; PKT]; BATCH];
    let mut bufs = [[0u8; 512]; BATCH];
    let (mut moved, mut cpu_ns) = (0u64, 0u64);
    let end = Instant::now() + Duration::from_secs(secs);
    let mut next = 0;
    while Instant::now() < end {
        each_run(&mut next, n, BATCH, |r| {
            sendmmsg(&far, &mut pkts, &dests[r.clone()], r.len());
            let t0 = thread_cpu_ns();
            moved += near_round(&mut ring, &near[r], &mut bufs, &pkts[0])?;
            cpu_ns += thread_cpu_ns() - t0;
            drain(&far, &mut [[0u8; 512]; BATCH]);
            Ok(())
        })?;
    }
    Ok((moved, cpu_ns as f64 / 1e9))
}

/// As [`bare_sockets_loop`] with the far side on a thread of its own on CPU `far_cpu`,
/// as the engine's generator is: it sends one datagram to each of the `n` sockets every
/// 20 ms (in 1 ms steps, as the generator) and drains what comes back; a thread on
/// `near_cpu` runs [`near_round`] over the next `n / 20` sockets every millisecond.
/// Datagrams allocated on one CPU and taken on the other, and the sockets' queues
/// written by one CPU and read by the other, are the costs this adds to the one-thread
/// loop. Returns (the near thread's receives + sends, its CPU seconds).
fn bare_sockets_split(
    n: usize,
    secs: u64,
    near_cpu: usize,
    far_cpu: usize,
) -> anyhow::Result<(u64, f64)> {
    let far = UdpSocket::bind("127.0.0.1:0")?;
    set_buf(&far, 16 << 20);
    let (near, dests) = near_sockets(n, far.local_addr()?)?;
    let per_ms = n.div_ceil(20);
    let stop = Instant::now() + Duration::from_secs(secs);
    // Both sides step once a millisecond, each on its own CPU.
    let paced = move |cpu: usize, mut step: Box<dyn FnMut() -> anyhow::Result<()> + Send>| {
        std::thread::spawn(move || -> anyhow::Result<f64> {
            pin(0, cpu);
            let (start, cpu0) = (Instant::now(), thread_cpu_ns());
            let mut ms = 0;
            while Instant::now() < stop {
                step()?;
                ms += 1;
                let due = start + Duration::from_millis(ms);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
            Ok((thread_cpu_ns() - cpu0) as f64 / 1e9)
        })
    };
    let (mut pkts, mut far_next) = ([[0x80u8; PKT]; BATCH], 0);
    let far_side = paced(
        far_cpu,
        Box::new(move || {
            each_run(&mut far_next, n, per_ms, |r| {
                sendmmsg(&far, &mut pkts, &dests[r.clone()], r.len());
                Ok(())
            })?;
            drain(&far, &mut [[0u8; 512]; BATCH]);
            Ok(())
        }),
    );
    let moved = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = moved.clone();
    let (mut ring, mut bufs, mut next) = (
        io_uring::IoUring::new(2 * BATCH as u32)?,
        [[0u8; 512]; BATCH],
        0,
    );
    let pkt = [0x80u8; PKT];
    let near_side = paced(
        near_cpu,
        Box::new(move || {
            each_run(&mut next, n, per_ms, |r| {
                let done = near_round(&mut ring, &near[r], &mut bufs, &pkt)?;
                counted.fetch_add(done, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            })
        }),
    );
    let cpu = near_side
        .join()
        .map_err(|_| anyhow::anyhow!("near thread panicked"))??;
    far_side
        .join()
        .map_err(|_| anyhow::anyhow!("far thread panicked"))??;
    Ok((moved.load(std::sync::atomic::Ordering::Relaxed), cpu))
}

/// The kernel's id of this process's thread named `name` (`/proc/self/task/*/comm`).
fn thread_named(name: &str) -> Option<libc::pid_t> {
    std::fs::read_dir("/proc/self/task").ok()?.find_map(|e| {
        let e = e.ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        (comm.trim_end() == name)
            .then(|| e.file_name().to_str()?.parse().ok())
            .flatten()
    })
}

/// User and kernel CPU time of thread `tid` so far, in seconds (`utime` and `stime` of
/// proc_pid_stat(5), sampled by the kernel at its tick): which side of the system call
/// boundary the media thread's time goes to.
fn thread_user_kernel(tid: libc::pid_t) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces), from field 3 (`state`) on.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after `state`.
    Some((ticks(11)? / hz, ticks(12)? / hz))
}

/// Keep thread `tid` (0: the caller) on CPU `cpu`.
fn pin(tid: libc::pid_t, cpu: usize) -> bool {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET stays within it.
    unsafe {
        let mut set: libc::cpu_set_t = zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// The CPUs this process may use.
fn cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t filled by the kernel.
    unsafe {
        let mut set: libc::cpu_set_t = zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

struct Generator {
    sock: UdpSocket,
    dests: Vec<RawAddr>,
    /// The CPU it keeps to (see `pin`).
    cpu: Option<usize>,
}

/// Plays the far RTP endpoints until `stop`: channel i gets its packet on the
/// millisecond i mod 20 of every 20 ms. Returns (sent, received, CPU seconds).
fn generate(g: Generator, stop: Instant) -> (u64, u64, f64) {
    // The network's side of the test: just below the media thread, so that it is not
    // the builders' load that decides when packets arrive. (At normal priority, even
    // nice −20, it fell behind on this shared host: 1.1–1.3 M of 1.82 M packets sent,
    // so the engine would have been measured on less work.) It takes real-time budget,
    // though: the kernel caps real-time threads at 95 % of each CPU per second
    // (sched_rt_runtime_us), and the media thread (≈ 0.7 of a core), this generator
    // (≈ 0.45), the simulator's clock (≈ 0.15) and other programs' real-time threads can
    // go over it on one CPU, which then stops all of them for the rest of the second.
    tdm_sim::rt::enter_fifo("rtp-generator", tdm_sim::rt::MEDIA_PRIORITY - 1);
    if let Some(cpu) = g.cpu {
        pin(0, cpu);
    }
    let n = g.dests.len();
    let mut seq = vec![0u16; n];
    let mut pkts = [[0xD5u8; PKT]; BATCH];
    let mut dests = [RawAddr::new("127.0.0.1:9".parse().unwrap()); BATCH];
    let mut bufs = [[0u8; 512]; BATCH];
    let cpu0 = thread_cpu_ns();
    let (mut sent, mut received) = (0u64, 0u64);
    let start = Instant::now();
    let mut ms: u64 = 0;
    while Instant::now() < stop {
        let phase = (ms % 20) as usize;
        let mut k = 0;
        let mut i = phase;
        while i < n {
            let s = seq[i];
            seq[i] = s.wrapping_add(1);
            let ts = (ms / 20) as u32 * 160;
            let p = &mut pkts[k];
            p[0] = 0x80;
            p[1] = 8;
            p[2..4].copy_from_slice(&s.to_be_bytes());
            p[4..8].copy_from_slice(&ts.to_be_bytes());
            p[8..12].copy_from_slice(&(i as u32 + 1).to_be_bytes());
            dests[k] = g.dests[i];
            k += 1;
            if k == BATCH {
                sent += sendmmsg(&g.sock, &mut pkts, &dests, k) as u64;
                k = 0;
            }
            i += 20;
        }
        if k > 0 {
            sent += sendmmsg(&g.sock, &mut pkts, &dests, k) as u64;
        }
        received += drain(&g.sock, &mut bufs);
        ms += 1;
        let next = start + Duration::from_millis(ms);
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
    }
    received += drain(&g.sock, &mut bufs);
    (sent, received, (thread_cpu_ns() - cpu0) as f64 / 1e9)
}

/// Steal time of each CPU so far (`/proc/stat`, the 8th value of each `cpuN` line),
/// in milliseconds.
fn steal_ms() -> Vec<u64> {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    std::fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .map(|l| {
            let ticks: u64 = l
                .split_whitespace()
                .nth(8)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            ticks * 1000 / hz
        })
        .collect()
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let locked = tdm_sim::rt::enter_locked_memory("bench-media");
    let n = args.channels;
    let spans = n.div_ceil(30);
    println!(
        "bare loop: sendmmsg/recvmmsg over loopback, {} s",
        args.bare_secs
    );
    let (bare_pkts, bare_cpu) = bare_loop(args.bare_secs);
    // Each packet is one send and one receive: count both, as for the engine.
    let bare_rate = 2.0 * bare_pkts as f64 / bare_cpu;
    println!(
        "bare loop: {bare_pkts} packets in {bare_cpu:.2} CPU-s = {:.0} sends+receives per CPU-s",
        bare_rate
    );

    println!(
        "bare loop over {n} sockets (one per channel, io_uring), {} s",
        args.bare_secs
    );
    let (sock_ops, sock_cpu) = bare_sockets_loop(n, args.bare_secs)?;
    let sockets_rate = sock_ops as f64 / sock_cpu;
    println!(
        "bare loop over {n} sockets: {sock_ops} receives+sends in {sock_cpu:.2} CPU-s = {sockets_rate:.0} per CPU-s ({:.2} of the one-socket loop)",
        sockets_rate / bare_rate
    );

    // With two CPUs or more, the same over two CPUs, as the engine and its generator run.
    let cpu_list = cpus();
    let split_rate = match cpu_list.as_slice() {
        [near, far, ..] => {
            let (ops, cpu) = bare_sockets_split(n, args.bare_secs, *near, *far)?;
            let r = ops as f64 / cpu;
            println!(
                "bare loop over {n} sockets, their far side on another CPU at the engine's packet rate: {ops} receives+sends in {cpu:.2} CPU-s = {r:.0} per CPU-s ({:.2} of the one-socket loop)",
                r / bare_rate
            );
            Some(r)
        }
        _ => None,
    };
    println!("{n} channels on {spans} simulated E1 spans, real-time clock");
    let sim = Sim::builder().e1(spans).clock(ClockMode::RealTime).build();
    let near = sim.near();
    let gen_sock = UdpSocket::bind("127.0.0.1:0")?;
    set_buf(&gen_sock, 16 << 20);
    let gen_addr: SocketAddr = gen_sock.local_addr()?;
    let io = match args.io.as_str() {
        "auto" => IoMode::Auto,
        "uring-armed" => IoMode::UringArmed,
        "uring-readiness" => IoMode::UringReadiness,
        "syscalls" => IoMode::Syscalls,
        other => anyhow::bail!("--io {other}: auto, uring-armed, uring-readiness or syscalls"),
    };
    let mut engine = MediaEngine::start_with(
        vec![near.ticker()?],
        EngineOptions {
            io,
            ..EngineOptions::default()
        },
    )?;
    let mut dests = Vec::with_capacity(n);
    let mut added = 0;
    // Calls come one after another, not all on the same millisecond: a B-channel's
    // 20 ms blocks complete at the tick (mod 20) it was opened on, so channels opened
    // in one burst would all share a few phases and load those ticks only.
    let opening = Instant::now();
    let spread = Duration::from_millis(args.open_ms);
    'spans: for span in 1..=spans as u16 {
        for ts in (1..=31u8).filter(|&t| t != 16) {
            if added == n {
                break 'spans;
            }
            let due = opening + spread.mul_f64(added as f64 / n as f64);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            let id = ChannelId {
                span: SpanId(span),
                timeslot: Timeslot(ts),
            };
            let tdm = near.open_channel(
                id,
                ChannelMode::Clear {
                    blocksize: FRAME_SAMPLES,
                    law: dahdi_driver::Law::ALaw,
                },
            )?;
            let socket = UdpSocket::bind("127.0.0.1:0")?;
            dests.push(RawAddr::new(socket.local_addr()?));
            let mut cfg = ChannelConfig::voice(
                tdm,
                Law::ALaw,
                socket,
                gen_addr,
                Law::ALaw,
                PayloadType::PCMA,
                PayloadType::new(101),
            );
            cfg.echo_cancel = args.echo;
            if args.no_dtmf {
                cfg.dtmf = DtmfMode::Off;
            }
            cfg.rtp_timeout = Some(Duration::from_secs(5));
            engine.add_channel(cfg)?;
            added += 1;
        }
    }
    println!(
        "engine: 1 media thread; echo canceller {}, DTMF detection {}; memory locked: {locked}; packet I/O: {}",
        if args.echo { "on" } else { "off" },
        if args.no_dtmf { "off" } else { "on" },
        engine.stats()[0].packet_io()
    );
    // `--pin`: the media thread on a CPU of its own, the generator and the simulator's
    // clock (≈ 0.15 of a core: the simulated cards' interrupt) on another, so that they
    // never share one CPU's real-time budget (see `generate`). Off by default: on a host
    // where other programs run real-time threads too, a pinned media thread cannot move
    // away from them.
    let gen_cpu = if args.pin && cpu_list.len() >= 2 {
        let media = thread_named("media-0");
        match media {
            Some(tid) if pin(tid, cpu_list[0]) => {
                if let Some(clock) = thread_named("tdm-sim-clock") {
                    pin(clock, cpu_list[1]);
                }
                Some(cpu_list[1])
            }
            _ => None,
        }
    } else {
        None
    };
    println!(
        "placement: {}",
        match gen_cpu {
            Some(g) => format!(
                "media thread on CPU {}, generator and simulator clock on CPU {g}",
                cpu_list[0]
            ),
            None => "media thread, generator and simulator clock left to the scheduler".into(),
        }
    );
    let warm = Duration::from_secs(3);
    let measure = Duration::from_secs(args.secs);
    let stop = Instant::now() + warm + measure + Duration::from_millis(200);
    let generator = std::thread::Builder::new()
        .name("rtp-generator".into())
        .spawn(move || {
            generate(
                Generator {
                    sock: gen_sock,
                    dests,
                    cpu: gen_cpu,
                },
                stop,
            )
        })?;
    std::thread::sleep(warm);
    let probe_cpu = gen_cpu.map(|_| cpu_list[0]);
    let probe = args.probe.then(|| {
        let cpu = probe_cpu;
        let length = measure;
        std::thread::spawn(move || {
            tdm_sim::rt::enter_fifo("wake-probe", tdm_sim::rt::CLOCK_PRIORITY);
            if let Some(cpu) = cpu {
                pin(0, cpu);
            }
            WakeProbe::run(Duration::from_millis(1), length)
        })
    });
    engine.reset_window();
    let s0 = engine.stats()[0];
    let c0 = sim.clock_stats();
    let steal0 = steal_ms();
    let media_tid = thread_named("media-0");
    let uk0 = media_tid.and_then(thread_user_kernel);
    let t0 = Instant::now();
    let mut late_seconds = Vec::new();
    let mut late_before = s0.late_ticks;
    for i in 0..args.secs {
        std::thread::sleep(Duration::from_secs(1));
        let s = engine.stats()[0];
        if s.late_ticks > late_before {
            late_seconds.push(i + 1);
        }
        late_before = s.late_ticks;
        println!(
            "  {:>2} s: cpu {:.3}  sent {}  received {}  late ticks {}  max tick {:.2} ms",
            i + 1,
            (s.cpu_ns - s0.cpu_ns) as f64 / t0.elapsed().as_nanos() as f64,
            s.packets_sent - s0.packets_sent,
            s.packets_received - s0.packets_received,
            s.late_ticks - s0.late_ticks,
            s.max_tick_ns as f64 / 1e6,
        );
    }
    let wall = t0.elapsed().as_secs_f64();
    let s1 = engine.stats()[0];
    let c1 = sim.clock_stats();
    let steal1 = steal_ms();
    let uk1 = media_tid.and_then(thread_user_kernel);
    let (gen_sent, gen_recv, gen_cpu) = generator.join().expect("generator thread");
    let cpu_s = (s1.cpu_ns - s0.cpu_ns) as f64 / 1e9;
    let cpu = cpu_s / wall;
    let moved = (s1.packets_sent - s0.packets_sent) + (s1.packets_received - s0.packets_received);
    let rate = moved as f64 / cpu_s;
    let of_limit = rate / bare_rate;
    let late = s1.late_ticks - s0.late_ticks;
    let p99 = [
        s1.tdm_to_rtp_p99_ms,
        s1.rtp_to_jitter_p99_ms,
        s1.jitter_to_tdm_p99_ms,
    ];
    let p99_max = p99.iter().flatten().copied().fold(0.0, f64::max);
    let expected = (n as f64 * 50.0 * wall) as u64;
    println!(
        "engine: {} sent, {} received in {wall:.1} s (expected ≈ {expected} each way), {} send errors",
        s1.packets_sent - s0.packets_sent,
        s1.packets_received - s0.packets_received,
        s1.send_errors - s0.send_errors
    );
    println!(
        "engine: {cpu_s:.2} CPU-s = {cpu:.3} of a core for {n} channels → {:.0} channels per core; {:.0} µs CPU per channel-second",
        n as f64 / cpu,
        cpu_s * 1e6 / (n as f64 * wall)
    );
    if let (Some((u0, k0)), Some((u1, k1))) = (uk0, uk1) {
        let (user, kernel) = (u1 - u0, k1 - k0);
        println!(
            "engine: of its CPU, user space {user:.2} s ({:.0} %), kernel {kernel:.2} s: {:.0} ns of user space per packet",
            100.0 * user / (user + kernel).max(1e-9),
            user * 1e9 / moved.max(1) as f64
        );
    }
    println!(
        "engine: p99 tdm→rtp {:?} ms, rtp→jitter buffer {:?} ms, playout→tdm {:?} ms; max tick {:.2} ms",
        p99[0], p99[1], p99[2], s1.max_tick_ns as f64 / 1e6
    );
    println!(
        "engine: {} channels in the fullest phase (a fair share is {})",
        s1.largest_phase,
        n.div_ceil(20)
    );
    let overrun = s1.late_after_overrun - s0.late_after_overrun;
    println!(
        "engine: {late} late ticks: {overrun} right after a tick whose work took over 1 ms (overrun), {} after a short one (wake-up/scheduling)",
        late - overrun
    );
    println!(
        "engine: {} ticks overran (work over 1 ms): {:.1} ms in all, {:.1} ms of it on the CPU (the rest the thread was not running)",
        s1.overrun_ticks - s0.overrun_ticks,
        (s1.overrun_wall_ns - s0.overrun_wall_ns) as f64 / 1e6,
        (s1.overrun_cpu_ns - s0.overrun_cpu_ns) as f64 / 1e6,
    );
    println!(
        "engine: {} more ticks came together because the simulator's clock posted them late (served as soon as posted; not in `late`)",
        s1.late_clock_ticks - s0.late_clock_ticks
    );
    println!("engine: {rate:.0} packets per CPU-s vs bare {bare_rate:.0}: of_limit {of_limit:.3}");
    println!(
        "engine: {:.3} of the bare loop over {n} sockets ({sockets_rate:.0} per CPU-s)",
        rate / sockets_rate
    );
    if let Some(split) = split_rate {
        println!(
            "engine: {:.3} of the bare loop over {n} sockets with their far side on another CPU ({split:.0} per CPU-s)",
            rate / split
        );
    }
    println!(
        "simulator clock: {} late chunks of {} (its own thread, not counted above); SCHED_FIFO: clock {}, media thread {}",
        c1.late_chunks - c0.late_chunks,
        c1.chunks - c0.chunks,
        c1.fifo,
        s1.fifo
    );
    println!("generator: sent {gen_sent}, received {gen_recv}, {gen_cpu:.2} CPU-s");
    if let Some(p) = probe.map(|h| h.join().expect("probe thread")) {
        println!(
            "probe (an idle SCHED_FIFO thread, {}, on the same 1 ms deadlines): {} of {} wake-ups over 1 ms late, worst {:.2} ms; in seconds {:?} of the measurement (the engine had late ticks in seconds {late_seconds:?})",
            if probe_cpu.is_some() { "on the media thread's CPU" } else { "unpinned" },
            p.late(),
            p.wakeups,
            p.worst.as_secs_f64() * 1e3,
            p.late_seconds(),
        );
    }
    // Time the hypervisor ran something else on our virtual CPUs (a VM's stalls that no
    // scheduling inside it explains).
    let steal: Vec<String> = steal1
        .iter()
        .zip(&steal0)
        .enumerate()
        .map(|(cpu, (b, a))| format!("CPU {cpu} {} ms", b.saturating_sub(*a)))
        .collect();
    println!(
        "host steal time during the measurement: {}",
        steal.join(", ")
    );
    engine.shutdown();
    println!(
        "load average {} (1, 5, 15 min)",
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    );
    println!(
        "bench media channels={n} cpu={cpu:.3} late={late} p99_ms={p99_max:.3} of_limit={of_limit:.3}"
    );
    Ok(())
}
