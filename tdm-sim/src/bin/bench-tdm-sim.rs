//! Benchmark: N E1 spans in real time with every bearer carrying audio and every D-channel
//! carrying frames, all read and written through the `dahdi_driver` traits by a consumer
//! loop in this process. Measures the process CPU time as a fraction of one core, and the
//! chunks the clock completed late.
//!
//! `cargo run --release -p tdm-sim --bin bench-tdm-sim [-- --spans N --secs S --no-fifo]`
//!
//! The clock thread asks for `SCHED_FIFO` (as a card's interrupt would preempt ordinary
//! work); where that is refused it runs at normal priority, and the output says which.
//! A probe thread sleeping on the same 1 ms absolute deadlines, doing nothing else, shows
//! how late the machine itself wakes threads up; its CPU time is left out of the figure.

use std::time::{Duration, Instant};

use dahdi_driver::{ChanError, Channel, ChannelId, ChannelMode, Device, Law, SpanId, Timeslot};
use tdm_sim::tone::ToneGen;
use tdm_sim::wake_probe::WakeProbe;
use tdm_sim::{ClockMode, Sim};

const BLOCK: usize = 160;
/// One LAPD I-frame with a Q.931 message of ordinary size each 20 ms each way.
const FRAME_LEN: usize = 120;

struct Args {
    spans: usize,
    secs: u64,
    fifo: bool,
    /// Pin every thread of the process to one CPU.
    cpu: Option<usize>,
}

fn args() -> Args {
    let mut a = Args {
        spans: 64,
        secs: 30,
        fifo: true,
        cpu: Some(1),
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--spans" => a.spans = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.spans),
            "--secs" => a.secs = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.secs),
            "--fifo" => a.fifo = true,
            "--no-fifo" => a.fifo = false,
            "--cpu" => a.cpu = it.next().and_then(|v| v.parse().ok()),
            "--no-pin" => a.cpu = None,
            other => eprintln!("ignoring argument {other}"),
        }
    }
    a
}

fn cpu_time() -> Duration {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Sleeps to absolute 1 ms deadlines for `secs`, like the clock thread but with no work.
fn spawn_probe(fifo: bool, secs: u64) -> std::thread::JoinHandle<WakeProbe> {
    std::thread::spawn(move || {
        if fifo {
            let _ = tdm_sim::rt::set_fifo(tdm_sim::rt::CLOCK_PRIORITY);
        }
        WakeProbe::run(Duration::from_millis(1), Duration::from_secs(secs))
    })
}

struct Bearer {
    ch: Box<dyn Channel>,
    block: usize,
}

struct Counters {
    blocks_in: u64,
    blocks_out: u64,
    frames_in: u64,
    frames_out: u64,
    bad_frames: u64,
    events: u64,
    tx_full: u64,
}

/// Pins the calling thread (and the threads it creates afterwards) to one CPU.
fn pin(cpu: usize) -> bool {
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET stays within its bounds for cpu < 1024.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

fn main() {
    let mut a = args();
    if let Some(cpu) = a.cpu {
        let n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let cpu = cpu.min(n - 1);
        a.cpu = pin(cpu).then_some(cpu);
    }
    let locked = a.fifo && tdm_sim::rt::enter_locked_memory("bench-tdm-sim");
    let sim = Sim::builder()
        .e1(a.spans)
        .clock(ClockMode::RealTime)
        .fifo_priority(a.fifo.then_some(tdm_sim::rt::CLOCK_PRIORITY))
        .build();
    let devs = [sim.near(), sim.far()];
    // A second of tone, one block per step, cycled.
    let mut tone = vec![0u8; 8000];
    ToneGen::new(Law::ALaw, 1000.0, -10.0).fill(&mut tone);
    let mut bearers = Vec::new();
    let mut dchans = Vec::new();
    for dev in &devs {
        for s in 1..=a.spans as u16 {
            for ts in 1..=31u8 {
                let id = ChannelId {
                    span: SpanId(s),
                    timeslot: Timeslot(ts),
                };
                if ts == 16 {
                    dchans.push(dev.open_channel(id, ChannelMode::HdlcFcs).expect("open D"));
                } else {
                    let ch = dev
                        .open_channel(
                            id,
                            ChannelMode::Clear {
                                blocksize: BLOCK,
                                law: Law::ALaw,
                            },
                        )
                        .expect("open B");
                    bearers.push(Bearer {
                        ch,
                        block: ts as usize,
                    });
                }
            }
        }
    }
    println!(
        "bench tdm-sim: {} E1 spans, {} bearer channels and {} D-channels (both ends), {} s, {}, load {}",
        a.spans,
        bearers.len(),
        dchans.len(),
        a.secs,
        match a.cpu {
            Some(c) => format!("all threads on CPU {c}"),
            None => "threads not pinned".to_string(),
        },
        loadavg()
    );
    let frame: Vec<u8> = (0..FRAME_LEN).map(|i| (i * 31 + 7) as u8).collect();
    let mut c = Counters {
        blocks_in: 0,
        blocks_out: 0,
        frames_in: 0,
        frames_out: 0,
        bad_frames: 0,
        events: 0,
        tx_full: 0,
    };
    let mut buf = [0u8; 2048];
    let mut ticker = devs[0].ticker().expect("ticker");
    let mut since_round = 0u64;
    let mut first = true;
    let warmup = Duration::from_secs(1);
    let start = Instant::now();
    let mut measure: Option<(Instant, Duration, u64)> = None;
    let mut next_report = Duration::from_secs(5);
    let mut probe: Option<std::thread::JoinHandle<WakeProbe>> = None;
    loop {
        since_round += ticker.wait(Duration::from_millis(100)).expect("tick");
        let elapsed = start.elapsed();
        if measure.is_none() && elapsed >= warmup {
            measure = Some((Instant::now(), cpu_time(), sim.clock_stats().late_chunks));
            probe = Some(spawn_probe(a.fifo, a.secs));
        }
        if let Some((t0, cpu0, late0)) = measure {
            let wall = t0.elapsed();
            if wall >= next_report.saturating_sub(warmup) || wall >= Duration::from_secs(a.secs) {
                let cpu = (cpu_time() - cpu0).as_secs_f64() / wall.as_secs_f64().max(1e-9);
                let st = sim.clock_stats();
                println!(
                    "  {:>5.1} s  cpu {:.3} of a core  late {}  max lateness {:?}  blocks in/out {}/{}  frames in/out {}/{}  load {}",
                    wall.as_secs_f64(),
                    cpu,
                    st.late_chunks - late0,
                    st.max_lateness,
                    c.blocks_in,
                    c.blocks_out,
                    c.frames_in,
                    c.frames_out,
                    loadavg()
                );
                next_report += Duration::from_secs(5);
                if wall >= Duration::from_secs(a.secs) {
                    let p = probe
                        .take()
                        .map(|h| h.join().unwrap_or_default())
                        .unwrap_or_default();
                    let cpu_used = (cpu_time() - cpu0).saturating_sub(p.cpu);
                    let cpu = cpu_used.as_secs_f64() / wall.as_secs_f64().max(1e-9);
                    if c.bad_frames > 0 || c.events > 0 {
                        println!("  frame errors {} events {}", c.bad_frames, c.events);
                    }
                    println!(
                        "  clock thread SCHED_FIFO: {}; memory locked: {locked}; worst wake-up {:?}; worst chunk {:?}; tx queue full {} times",
                        st.fifo, st.max_wake_latency, st.max_tick, c.tx_full
                    );
                    println!(
                        "  probe (an idle thread on the same 1 ms deadlines): {} wake-ups over 1 ms late, worst {:?}",
                        p.late(),
                        p.worst
                    );
                    println!(
                        "  cpu {:.3} of one core over {:.1} s (process CPU time, probe excluded), load {}",
                        cpu,
                        wall.as_secs_f64(),
                        loadavg()
                    );
                    println!(
                        "bench tdm-sim spans={} cpu={:.3} late={}",
                        a.spans,
                        cpu,
                        st.late_chunks - late0
                    );
                    return;
                }
            }
        }
        if since_round < 20 {
            continue;
        }
        since_round -= 20;
        let writes = if first { 2 } else { 1 };
        first = false;
        for b in bearers.iter_mut() {
            for _ in 0..writes {
                let at = (b.block % 50) * BLOCK;
                match b.ch.write(&tone[at..at + BLOCK]) {
                    Ok(_) => {
                        c.blocks_out += 1;
                        b.block += 1;
                    }
                    Err(ChanError::WouldBlock) => c.tx_full += 1,
                    Err(ChanError::EventPending) => {
                        let _ = b.ch.get_event();
                        c.events += 1;
                    }
                    Err(e) => panic!("write: {e}"),
                }
            }
            loop {
                match b.ch.read(&mut buf) {
                    Ok(_) => c.blocks_in += 1,
                    Err(ChanError::WouldBlock) => break,
                    Err(ChanError::EventPending) => {
                        let _ = b.ch.get_event();
                        c.events += 1;
                    }
                    Err(e) => panic!("read: {e}"),
                }
            }
        }
        for d in dchans.iter_mut() {
            match d.write(&frame) {
                Ok(_) => c.frames_out += 1,
                Err(ChanError::WouldBlock) => c.tx_full += 1,
                Err(ChanError::EventPending) => {
                    let _ = d.get_event();
                    c.events += 1;
                }
                Err(e) => panic!("write D: {e}"),
            }
            loop {
                match d.read(&mut buf) {
                    Ok(n) => {
                        if buf[..n] == frame[..] {
                            c.frames_in += 1;
                        } else {
                            c.bad_frames += 1;
                        }
                    }
                    Err(ChanError::WouldBlock) => break,
                    Err(ChanError::EventPending) => {
                        let _ = d.get_event();
                        c.events += 1;
                    }
                    Err(e) => panic!("read D: {e}"),
                }
            }
        }
    }
}
