//! Quick measurement of the Q.931 codec on one core: decodes, encodes and decode+encode
//! round trips of a realistic PRI SETUP (bearer capability, channel identification, progress
//! indicator, calling and called party numbers, sending complete: the Linkbit sample trace).
//!
//! `cargo run --release -p q931 --example codec_speed [seconds-per-phase]`

use q931::message::{Dialect, Message};
use std::hint::black_box;
use std::time::{Duration, Instant};

const SETUP: &[u8] = &[
    0x08, 0x02, 0x00, 0x32, 0x05, 0x04, 0x03, 0x80, 0x90, 0xA3, 0x18, 0x03, 0xA9, 0x83, 0x85, 0x1E,
    0x02, 0x81, 0x88, 0x6C, 0x09, 0x21, 0x80, 0x32, 0x32, 0x32, 0x32, 0x32, 0x30, 0x35, 0x70, 0x08,
    0xA1, 0x31, 0x31, 0x31, 0x31, 0x31, 0x30, 0x35, 0xA1,
];

/// CPU time of this thread in ns (Linux `/proc/thread-self/schedstat`, first field), so the
/// figure holds on a machine shared with other work; `None` elsewhere.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn rate(name: &str, secs: f64, mut f: impl FnMut()) -> f64 {
    let budget = Duration::from_secs_f64(secs);
    let start = Instant::now();
    let cpu_start = cpu_ns();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..1000 {
            f();
        }
        n += 1000;
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = match (cpu_start, cpu_ns()) {
        (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
        _ => wall,
    };
    let per_s = n as f64 / cpu;
    println!(
        "{name:<28} {per_s:>12.0} /s of CPU time ({:.0} ns each; {:.0} /s wall clock)",
        1e9 / per_s,
        n as f64 / wall
    );
    per_s
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let msg = Message::decode(SETUP).expect("sample decodes");
    let mut out = Vec::with_capacity(128);
    let d = rate("SETUP decode", secs, || {
        black_box(Message::decode(black_box(SETUP)).ok());
    });
    let mut reused = msg.clone();
    let di = rate("SETUP decode_into (reused)", secs, || {
        reused.decode_into(black_box(SETUP), Dialect::Isdn).ok();
        black_box(&reused);
    });
    let e = rate("SETUP encode", secs, || {
        out.clear();
        black_box(&msg).encode(&mut out).ok();
        black_box(&out);
    });
    let r = rate("SETUP decode+encode", secs, || {
        out.clear();
        if let Ok(m) = Message::decode(black_box(SETUP)) {
            m.encode(&mut out).ok();
        }
        black_box(&out);
    });
    println!(
        "codec q931 setup_decode_per_s={d:.0} setup_decode_into_per_s={di:.0} \
         setup_encode_per_s={e:.0} setup_roundtrip_per_s={r:.0}"
    );
}
