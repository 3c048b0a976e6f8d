//! libpri (Debian `libpri-dev`, plain `pri_new()` on a descriptor from
//! `/dev/dahdi/channel` + `DAHDI_SPECIFY` of the far end's D-channel, through
//! `libdahdi_sim.so`) as the network side brings the LAPD link up with our Q.921 data
//! link (`q931::lapd`, user side) on the near end's D-channel, opened with our driver's
//! real backend (`KernelDevice`) through the same library: frames cross the simulated E1
//! bit by bit in HDLC, with their FCS.
//!
//! Like the conformance test, the test binary re-runs itself with `LD_PRELOAD` set. The
//! libpri bindings are the Q.931 tests' (`q931/tests/libpri`), which link libpri.

mod common;
#[path = "../../../q931/tests/libpri/mod.rs"]
mod libpri;

use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use common::{run_with_timeout, Simd};
use dahdi_driver::kernel::KernelDevice;
use dahdi_driver::{ChanError, ChannelId, ChannelMode, Device, SpanId, Timeslot};
use libpri::{LibPri, Node, PriEvent, Switch};
use q931::lapd::{Link, LinkConfig, LinkState, Role};

const CHILD_ENV: &str = "DAHDI_SIM_LIBPRI_CHILD";
const NAME: &str = "libpri_network_brings_up_lapd_with_our_user_side_over_the_sim";

/// The far end's D-channel: span 2 (the far end of cable 1), timeslot 16 = channel 47.
const FAR_DCHAN: i32 = 31 + 16;

fn child() {
    let dev = KernelDevice::open("/dev/dahdi").expect("open /dev/dahdi through the preload");
    // Both ends are up (tdm-simd --started); wait until the framers aligned.
    let t0 = Instant::now();
    while [SpanId(1), SpanId(2)]
        .iter()
        .any(|&s| !dev.span_status(s).expect("span status").alarms.is_empty())
    {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "spans never came up"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    // libpri, network side, on the far D-channel exactly as a DAHDI user opens it.
    let far = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/dahdi/channel")
        .expect("open /dev/dahdi/channel");
    let mut chan = FAR_DCHAN;
    // SAFETY: DAHDI_SPECIFY takes a pointer to the channel number.
    let rc = unsafe {
        libc::ioctl(
            far.as_raw_fd(),
            dahdi_driver::abi::DAHDI_SPECIFY.0 as libc::Ioctl,
            &mut chan,
        )
    };
    assert_eq!(
        rc,
        0,
        "DAHDI_SPECIFY {FAR_DCHAN}: {}",
        std::io::Error::last_os_error()
    );
    let mut pri = LibPri::new(OwnedFd::from(far), Node::Network, Switch::EuroIsdnE1);

    // Our data link, user side, on the near D-channel through KernelDevice.
    let mut near = dev
        .open_channel(
            ChannelId {
                span: SpanId(1),
                timeslot: Timeslot(16),
            },
            ChannelMode::HdlcFcs,
        )
        .expect("open near D-channel");
    let mut link = Link::new(LinkConfig::pri(Role::User));
    let mut tx = Vec::new();
    let mut rx = vec![0u8; 1024];
    let mut pri_events = Vec::new();
    let (mut to_pri, mut from_pri) = (0, 0);

    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        while link.poll_transmit_into(&mut tx) {
            near.write(&tx).expect("write our frame");
            to_pri += 1;
        }
        let up = link.state() == LinkState::MultipleFrameEstablished
            && pri_events.contains(&PriEvent::DchanUp);
        if up {
            println!(
                "LAPD up after {:?}: {from_pri} frames from libpri, {to_pri} to libpri; libpri events {pri_events:?}",
                start.elapsed()
            );
            println!("libpri PASS");
            return;
        }
        let now = Instant::now();
        let mut wait = Duration::from_millis(20);
        if let Some(t) = link.poll_timeout() {
            wait = wait.min(t.saturating_duration_since(now));
        }
        if let Some(d) = pri.schedule_next() {
            wait = wait.min(d);
        }
        let mut fds = [
            libc::pollfd {
                fd: pri.fd(),
                events: libc::POLLIN | libc::POLLPRI,
                revents: 0,
            },
            libc::pollfd {
                fd: near.raw_fd(),
                events: libc::POLLIN | libc::POLLPRI,
                revents: 0,
            },
        ];
        let ms = wait.as_micros().div_ceil(1000) as i32;
        // SAFETY: two valid pollfds.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
        if fds[0].revents != 0 {
            if let Some(e) = pri.check_event() {
                pri_events.push(e);
            }
        }
        loop {
            match near.read(&mut rx) {
                Ok(n) => {
                    from_pri += 1;
                    link.handle_frame(Instant::now(), &rx[..n]);
                }
                Err(ChanError::WouldBlock) => break,
                Err(ChanError::EventPending) => {
                    let e = near.get_event().expect("get event");
                    println!("near D-channel event {e:?}");
                }
                Err(e) => panic!("read near D-channel: {e}"),
            }
        }
        for _ in 0..16 {
            if pri.schedule_next() != Some(Duration::ZERO) {
                break;
            }
            if let Some(e) = pri.schedule_run() {
                pri_events.push(e);
            }
        }
        let now = Instant::now();
        if link.poll_timeout().is_some_and(|t| t <= now) {
            link.handle_timeout(now);
        }
        while link.poll_event().is_some() {}
    }
    panic!(
        "LAPD not up: our link {:?}, libpri events {pri_events:?}, {from_pri} frames from libpri, {to_pri} to libpri",
        link.state()
    );
}

#[test]
fn libpri_network_brings_up_lapd_with_our_user_side_over_the_sim() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return child();
    }
    let sim = Simd::start("libpri", &["--e1", "1", "--started", "--fifo"]);
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = sim.command(exe);
    cmd.env(CHILD_ENV, "1")
        .args(["--exact", NAME, "--nocapture", "--test-threads=1"]);
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains("libpri PASS"),
        "libpri over the preload failed: {}\n{stdout}\n{}\n--- tdm-simd ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        sim.log()
    );
    println!("{stdout}");
}
