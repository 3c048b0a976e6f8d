//! `tdm-simd` against a client that misbehaves on its socket.

mod common;

use common::proto::{self, Op};
use common::Simd;

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Descriptors sent along with a connection's first request are closed by the daemon,
/// not kept: 200 control requests carrying four each leave its table as it was
/// (before, 800 descriptors stayed open, and about 85 such connections exhausted a
/// 1024-descriptor limit).
#[test]
fn descriptors_sent_with_a_first_request_are_not_kept() {
    let sim = Simd::start("simd-input-fds", &["--e1", "1"]);
    let before = open_fds(sim.pid());
    // SAFETY: a fresh eventfd we own.
    let extra = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    assert!(extra >= 0);
    for _ in 0..200 {
        let s = proto::connect(&sim.socket).expect("connect");
        let mut msg = vec![Op::Control as u8];
        msg.extend_from_slice(b"config");
        proto::send_msg(s, &msg, &[extra, extra, extra, extra]).expect("send");
        let mut buf = Vec::new();
        for fd in proto::recv_msg(s, &mut buf).expect("reply") {
            // SAFETY: a descriptor we were handed.
            unsafe { libc::close(fd) };
        }
        // SAFETY: our own socket.
        unsafe { libc::close(s) };
    }
    // The connection threads end after their answer; give the last ones a moment.
    let t0 = std::time::Instant::now();
    let mut after = open_fds(sim.pid());
    while after > before + 10 && t0.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::sleep(std::time::Duration::from_millis(20));
        after = open_fds(sim.pid());
    }
    assert!(
        after <= before + 10,
        "{before} descriptors open before, {after} after\n{}",
        sim.log()
    );
    // SAFETY: our own descriptor.
    unsafe { libc::close(extra) };
}
