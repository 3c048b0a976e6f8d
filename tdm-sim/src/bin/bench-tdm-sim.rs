//! Benchmark: N E1 spans in real time with every bearer carrying audio and every D-channel
//! carrying frames, all read and written through the `dahdi_driver` traits by a consumer
//! loop in this process. Measures the process CPU time as a fraction of one core, and the
//! chunks the clock completed late.
//!
//! `cargo run --release -p tdm-sim --bin bench-tdm-sim [-- --spans N --secs S --fifo]`

use std::time::{Duration, Instant};

use dahdi_driver::{ChanError, Channel, ChannelId, ChannelMode, Device, Law, SpanId, Timeslot};
use tdm_sim::tone::ToneGen;
use tdm_sim::{ClockMode, Sim};

const BLOCK: usize = 160;
/// One LAPD I-frame with a Q.931 message of ordinary size each 20 ms each way.
const FRAME_LEN: usize = 120;

struct Args {
    spans: usize,
    secs: u64,
    fifo: bool,
}

fn args() -> Args {
    let mut a = Args {
        spans: 64,
        secs: 30,
        fifo: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--spans" => a.spans = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.spans),
            "--secs" => a.secs = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.secs),
            "--fifo" => a.fifo = true,
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

fn main() {
    let a = args();
    let sim = Sim::builder()
        .e1(a.spans)
        .clock(ClockMode::RealTime)
        .fifo_priority(a.fifo.then_some(10))
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
        "bench tdm-sim: {} E1 spans, {} bearer channels and {} D-channels (both ends), {} s, load {}",
        a.spans,
        bearers.len(),
        dchans.len(),
        a.secs,
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
    loop {
        since_round += ticker.wait(Duration::from_millis(100)).expect("tick");
        let elapsed = start.elapsed();
        if measure.is_none() && elapsed >= warmup {
            measure = Some((Instant::now(), cpu_time(), sim.clock_stats().late_chunks));
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
                    if c.bad_frames > 0 || c.events > 0 {
                        println!("  frame errors {} events {}", c.bad_frames, c.events);
                    }
                    println!(
                        "  clock thread SCHED_FIFO: {}; worst wake-up {:?}; worst chunk {:?}; tx queue full {} times",
                        st.fifo, st.max_wake_latency, st.max_tick, c.tx_full
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
