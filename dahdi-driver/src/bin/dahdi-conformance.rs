//! Runs the driver-layer conformance suite on the real DAHDI backend, in real time:
//! two spans of one DAHDI device that are cabled to each other (cards looped back, or
//! tdm-sim served through an `LD_PRELOAD` library).
//!
//! ```text
//! dahdi-conformance [--root /dev/dahdi] [--near 1] [--far 2] [--t1]
//! ```
//!
//! Exits 0 and prints the report when every check passes, 1 with the failing check.

use std::process::ExitCode;

use dahdi_driver::conformance::{self, Limits, Link};
use dahdi_driver::kernel::{KernelDevice, DEFAULT_ROOT};
use dahdi_driver::{SpanConfig, SpanId};

fn usage() -> ExitCode {
    eprintln!("usage: dahdi-conformance [--root DIR] [--near SPAN] [--far SPAN] [--t1]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut root = std::env::var("DAHDI_DEVICE_ROOT").unwrap_or_else(|_| DEFAULT_ROOT.into());
    let (mut near, mut far, mut t1) = (1u16, 2u16, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next();
        match a.as_str() {
            "--root" => match value() {
                Some(v) => root = v,
                None => return usage(),
            },
            "--near" => match value().and_then(|v| v.parse().ok()) {
                Some(v) => near = v,
                None => return usage(),
            },
            "--far" => match value().and_then(|v| v.parse().ok()) {
                Some(v) => far = v,
                None => return usage(),
            },
            "--t1" => t1 = true,
            _ => return usage(),
        }
    }
    let dev = match KernelDevice::open(&root) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cannot open DAHDI at {root}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let link = Link {
        near: &dev,
        near_span: SpanId(near),
        far: &dev,
        far_span: SpanId(far),
        config: if t1 {
            SpanConfig::t1_pri(1)
        } else {
            SpanConfig::e1_pri(1)
        },
    };
    println!("conformance: {root}, span {near} against span {far}");
    match conformance::run_all(&link, &Limits::default(), &mut std::thread::sleep) {
        Ok(r) => {
            println!("bring-up           {:?}", r.bring_up);
            println!("ticker             {} ticks in 50 ms", r.ticks_in_50ms);
            println!(
                "B-channel audio    {} timeslots × {} bytes each way bit-exact, delay {}/{} samples",
                r.audio.timeslots,
                r.audio.bytes_per_direction,
                r.audio.delay_near_to_far,
                r.audio.delay_far_to_near
            );
            println!(
                "D-channel HDLC     {} frames ({} bytes) each way in {:?}",
                r.hdlc.frames_per_direction, r.hdlc.bytes_per_direction, r.hdlc.elapsed
            );
            println!(
                "alarm events       {:?} after {:?}, cleared after {:?}",
                r.alarm.alarms_during_outage, r.alarm.time_to_alarm, r.alarm.time_to_clear
            );
            println!("PASS");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("FAIL {e}");
            ExitCode::FAILURE
        }
    }
}
