//! `bench-echo`: what the line echo canceller costs per B-channel. Run:
//! `cargo run --release -p gateway --bin bench-echo` (`-- --frames N`, default 50,000).
//!
//! One canceller (`media/dsp/echo.rs`, 128 taps) takes 20 ms blocks as a media thread
//! gives them: the line carries the echo of what was sent (12 dB and 18 dB down, 2 ms
//! and 5 ms late) plus near-end noise. Three far-end patterns: speech-like noise all
//! the time, the idle code all the time, and talkspurts (one second of each in turn,
//! as a conversation goes). CPU time of this thread per block, and the channels one
//! core could carry at that cost.
//! Final line: `bench echo speech_us=A silence_us=B talkspurts_us=C channels_per_core=N`
//! (N for talkspurts).

use gateway::media::dsp::echo::{LineEchoCanceller, DEFAULT_TAPS};
use gateway::media::engine::io::thread_cpu_ns;
use gateway::media::FRAME_SAMPLES;

#[derive(Clone, Copy)]
enum Far {
    Speech,
    Silence,
    Talkspurts,
}

/// CPU µs per 20 ms block for `frames` blocks of the pattern.
fn run(far: Far, frames: usize) -> f64 {
    let mut ec = LineEchoCanceller::new(DEFAULT_TAPS);
    let mut seed: u32 = 1;
    let mut line = [0i16; 64];
    let mut sink = 0i64;
    let t0 = thread_cpu_ns();
    for f in 0..frames {
        let talking = match far {
            Far::Speech => true,
            Far::Silence => false,
            Far::Talkspurts => f % 100 < 50,
        };
        let mut sent = [0i16; FRAME_SAMPLES];
        let mut received = [0i16; FRAME_SAMPLES];
        for (s, r) in sent.iter_mut().zip(received.iter_mut()) {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            // A-law's idle code decodes to ±8.
            *s = if talking { (seed >> 16) as i16 / 4 } else { 8 };
            line.rotate_right(1);
            line[0] = *s;
            *r = line[16] / 4 + line[40] / 8 + ((seed >> 20) as i16) / 256;
        }
        ec.process(&sent, &mut received);
        sink += i64::from(received[f % FRAME_SAMPLES]);
    }
    let ns = thread_cpu_ns().saturating_sub(t0);
    std::hint::black_box(sink);
    ns as f64 / 1e3 / frames as f64
}

fn main() {
    let mut frames = 50_000usize;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => {}
        [flag, n] if flag == "--frames" => match n.parse() {
            Ok(n) if n > 0 => frames = n,
            _ => {
                eprintln!("bench-echo: --frames takes a positive number");
                std::process::exit(2);
            }
        },
        _ => {
            eprintln!("bench-echo: usage: bench-echo [--frames N]");
            std::process::exit(2);
        }
    }
    let speech = run(Far::Speech, frames);
    let silence = run(Far::Silence, frames);
    let spurts = run(Far::Talkspurts, frames);
    println!("{DEFAULT_TAPS} taps, {frames} blocks of 20 ms per pattern, CPU µs per block:");
    println!("  far end speaking all the time {speech:.2}");
    println!("  far end silent (idle code)    {silence:.2}");
    println!("  talkspurts (1 s each way)     {spurts:.2}");
    let per_core = 20_000.0 / spurts;
    println!(
        "bench echo speech_us={speech:.2} silence_us={silence:.2} talkspurts_us={spurts:.2} \
         channels_per_core={per_core:.0}"
    );
}
