//! Our driver's real backend (`dahdi_driver::kernel::KernelDevice`, the code that runs
//! on DAHDI cards) passes the driver-layer conformance suite against the simulator,
//! through `libdahdi_sim.so`: span bring-up and status, channel exclusivity, the timer,
//! B-channel audio bit-exact both ways on every bearer, HDLC frames on the D-channel,
//! and the alarm events of a far end going down and up.
//!
//! The test re-runs its own binary as a child process with `LD_PRELOAD` set: the child
//! opens `/dev/dahdi` with `KernelDevice` and runs the checks of
//! `dahdi_driver::conformance` in real time, in `run_all`'s order, with one difference:
//! the B-channel check runs one timeslot at a time, on every bearer. `run_all` opens
//! all 60 channels first and then requires the same delay on every timeslot, counted
//! from each channel's open; through the preload every open is a few round trips to
//! `tdm-simd` (tens of microseconds idle, milliseconds on a loaded 2-core CI host,
//! where a system call into DAHDI takes one), so the opens spread over several 1 ms
//! chunks and the per-channel delays differ by whole chunks although the line's delay
//! is the same.

mod common;

use std::time::Duration;

use common::{run_with_timeout, Simd};
use dahdi_driver::conformance::{self, Limits, Link};
use dahdi_driver::kernel::KernelDevice;
use dahdi_driver::{SpanConfig, SpanId};

const CHILD_ENV: &str = "DAHDI_SIM_CONFORMANCE_CHILD";

fn run_child(name: &str, sim_args: &[&str]) -> String {
    let sim = Simd::start(name, sim_args);
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = sim.command(exe);
    cmd.env(CHILD_ENV, "1")
        .args(["--exact", name, "--nocapture", "--test-threads=1"]);
    let out = run_with_timeout(cmd, Duration::from_secs(240));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains("conformance PASS"),
        "conformance under the preload library failed: {}\n{stdout}\n{}\n--- tdm-simd ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        sim.log()
    );
    println!("{stdout}");
    stdout
}

fn child(config: SpanConfig) {
    let dev = KernelDevice::open("/dev/dahdi").expect("open /dev/dahdi through the preload");
    let link = Link {
        near: &dev,
        near_span: SpanId(1),
        far: &dev,
        far_span: SpanId(2),
        config,
    };
    let limits = Limits::default();
    let timeslots = conformance::bearer_timeslots(link.config.kind);
    let sleep = &mut std::thread::sleep;
    let mut run = || -> Result<String, conformance::ConformanceError> {
        let up = conformance::bring_up(&link, &limits, sleep)?;
        conformance::check_span_status(&link)?;
        conformance::check_channel_exclusive(&link)?;
        let ticks = conformance::check_ticker(&dev, sleep)?;
        let mut audio = Vec::new();
        for &ts in &timeslots {
            let a = conformance::check_bchannel_audio(&link, &[ts], &limits, sleep)?;
            audio.push((
                ts.0,
                a.bytes_per_direction,
                a.delay_near_to_far,
                a.delay_far_to_near,
            ));
        }
        let hdlc = conformance::check_hdlc_frames(&link, &limits, sleep)?;
        let alarm = conformance::check_alarm_events(&link, &limits, sleep)?;
        Ok(format!(
            "bring-up {up:?}\nticker {ticks} ticks in 50 ms\naudio (timeslot, bytes each way bit-exact, delays) {audio:?}\nhdlc {hdlc:?}\nalarm {alarm:?}"
        ))
    };
    match run() {
        Ok(r) => println!("{r}\nconformance PASS"),
        Err(e) => panic!("conformance FAIL {e}"),
    }
}

#[test]
fn kernel_backend_passes_conformance_e1() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return child(SpanConfig::e1_pri(1));
    }
    // One cable: DAHDI span 1 is its near end, span 2 its far end.
    run_child(
        "kernel_backend_passes_conformance_e1",
        &["--e1", "1", "--numbufs", "32", "--fifo"],
    );
}

#[test]
fn kernel_backend_passes_conformance_t1() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return child(SpanConfig::t1_pri(1));
    }
    run_child(
        "kernel_backend_passes_conformance_t1",
        &["--t1", "1", "--numbufs", "32", "--fifo"],
    );
}

/// A program that opens and closes the timer again and again (once per call, say)
/// leaves no mapping of its shared page behind: without the unmapping, each open
/// cost a mapping for the life of the process, up to the kernel's limit.
#[test]
fn timers_opened_and_closed_leave_no_mapping_behind() {
    if std::env::var_os(CHILD_ENV).is_some() {
        let mappings = || {
            std::fs::read_to_string("/proc/self/maps")
                .unwrap()
                .lines()
                .count()
        };
        let before = mappings();
        for _ in 0..300 {
            // SAFETY: opening and closing a path through the preload library.
            let fd = unsafe { libc::open(c"/dev/dahdi/timer".as_ptr(), libc::O_RDWR) };
            assert!(fd >= 0, "{}", std::io::Error::last_os_error());
            // SAFETY: the descriptor just opened.
            unsafe { libc::close(fd) };
        }
        let after = mappings();
        assert!(
            after < before + 10,
            "{before} mappings before, {after} after"
        );
        println!("mappings {before} → {after}\nconformance PASS");
        return;
    }
    run_child(
        "timers_opened_and_closed_leave_no_mapping_behind",
        &["--e1", "1"],
    );
}
