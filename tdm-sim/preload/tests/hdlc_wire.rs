//! The D-channel as a DAHDI program sees it through `libdahdi_sim.so`, with raw system
//! calls: `write()` takes a frame plus 2 octets of room for the FCS; `read()` returns
//! one frame followed by its 2 FCS octets (CRC-16/X.25, low octet first, Q.921 §2.7);
//! a frame damaged on the line becomes `DAHDI_EVENT_BADFCS`, announced by `POLLPRI`,
//! with `read()` failing with `ELAST` until `DAHDI_GETEVENT` fetched it.

mod common;

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use common::{run_with_timeout, Simd};
use dahdi_driver::abi::{self, ELAST};

const CHILD_ENV: &str = "DAHDI_SIM_HDLC_CHILD";
const NAME: &str = "hdlc_frames_carry_their_fcs_and_a_damaged_frame_is_a_badfcs_event";
static X25: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_IBM_SDLC);

fn open_chan(channo: i32) -> File {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/dahdi/channel")
        .expect("open /dev/dahdi/channel");
    let mut c = channo;
    // SAFETY: DAHDI_SPECIFY takes a pointer to the channel number.
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), abi::DAHDI_SPECIFY.0 as libc::Ioctl, &mut c) };
    assert_eq!(
        rc,
        0,
        "SPECIFY {channo}: {}",
        std::io::Error::last_os_error()
    );
    f
}

fn poll(f: &File, ms: i32) -> i16 {
    let mut p = libc::pollfd {
        fd: f.as_raw_fd(),
        events: libc::POLLIN | libc::POLLPRI,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, ms) };
    p.revents
}

fn get_event(f: &File) -> i32 {
    let mut ev: libc::c_int = 0;
    // SAFETY: DAHDI_GETEVENT writes an int.
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), abi::DAHDI_GETEVENT.0 as libc::Ioctl, &mut ev) };
    assert_eq!(rc, 0, "GETEVENT: {}", std::io::Error::last_os_error());
    ev
}

fn child() {
    let control = |cmd: &str| {
        let sock = std::env::var("DAHDI_SIM_SOCKET").expect("socket");
        let out = std::process::Command::new(common::SIMD)
            .args(["ctl", "--socket", &sock])
            .args(cmd.split(' '))
            .output()
            .expect("tdm-simd ctl");
        assert!(out.status.success(), "{cmd}: {out:?}");
    };
    // Cable 1: span 1 (near) channel 16 and span 2 (far) channel 31 + 16.
    let mut near = open_chan(16);
    let mut far = open_chan(47);
    let mut buf = [0u8; 2048];

    // A frame crosses with its FCS.
    let frame: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(37)).collect();
    let mut out = frame.clone();
    out.extend_from_slice(&[0, 0]); // room for the FCS
    assert_eq!(far.write(&out).expect("write frame"), out.len());
    let t0 = Instant::now();
    let n = loop {
        assert!(t0.elapsed() < Duration::from_secs(5), "frame never arrived");
        if poll(&near, 100) & libc::POLLIN != 0 {
            match near.read(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("read: {e}"),
            }
        }
    };
    assert_eq!(n, frame.len() + 2, "one frame and its FCS per read");
    assert_eq!(&buf[..frame.len()], &frame[..]);
    assert_eq!(buf[frame.len()..n], X25.checksum(&frame).to_le_bytes());
    // Nothing more: one read, one frame.
    assert!(matches!(near.read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock));

    // Bit errors at the near receiver until a frame arrives damaged.
    control("impair 1 biterrors 0.0002 7");
    let long: Vec<u8> = (0..300u32).map(|i| (i * 11) as u8).collect();
    let mut out = long.clone();
    out.extend_from_slice(&[0, 0]);
    let t0 = Instant::now();
    let mut events = Vec::new();
    while !events.contains(&abi::DAHDI_EVENT_BADFCS) {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no BADFCS event; events {events:?}"
        );
        let _ = far.write(&out);
        let r = poll(&near, 100);
        if r & libc::POLLPRI != 0 {
            // An event is queued: read fails with ELAST until it is fetched.
            let e = near.read(&mut buf).expect_err("read with an event queued");
            assert_eq!(e.raw_os_error(), Some(ELAST), "{e}");
            events.push(get_event(&near));
        } else if r & libc::POLLIN != 0 {
            let _ = near.read(&mut buf);
        }
    }
    control("impair 1 nobiterrors");
    println!("events while damaged: {events:?}");
    println!("hdlc PASS");
}

#[test]
fn hdlc_frames_carry_their_fcs_and_a_damaged_frame_is_a_badfcs_event() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return child();
    }
    let sim = Simd::start("hdlc", &["--e1", "1", "--started", "--fifo"]);
    std::thread::sleep(Duration::from_millis(200)); // framers align
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = sim.command(exe);
    cmd.env(CHILD_ENV, "1")
        .args(["--exact", NAME, "--nocapture", "--test-threads=1"]);
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains("hdlc PASS"),
        "{}\n{stdout}\n{}\n--- tdm-simd ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        sim.log()
    );
    println!("{stdout}");
}
