//! `gatewayd ctl audit` through the real daemon: the audit of every span runs at once
//! and reports per span, then the channels it freed. A span whose calls are in step
//! (idle, and again after a call in from the simulated switch) says so.

use std::time::{Duration, Instant};

use crate::daemon_support::{Daemon, Options};

#[test]
fn ctl_audit_reports_each_span_in_step() {
    let d = Daemon::start("audit", Options::default());
    assert_eq!(d.ctl("audit"), "span 1: in step\nchannels freed: none\n");
    // A call from the simulated switch, ended, then the audit again, twice in a row (a
    // fix waits for the second): nothing to put right.
    assert_eq!(d.ctl("simcall 1 5001 200"), "ok\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !d.ctl("show calls").trim().is_empty() {
        assert!(Instant::now() < deadline, "{}", d.ctl("show calls"));
        std::thread::sleep(Duration::from_millis(100));
    }
    for _ in 0..2 {
        assert_eq!(d.ctl("audit"), "span 1: in step\nchannels freed: none\n");
    }
    assert!(d.ctl("audit please").starts_with("error: unknown command"));
}
