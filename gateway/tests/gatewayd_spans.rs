//! A simulated span's line follows the configuration: its `clock_priority` and `crc4`
//! reach the simulated E1 (both ends: the simulated switch mirrors the line, as the
//! clock master), through the real daemon.

use crate::daemon_support::{Daemon, Options};

#[test]
fn a_simulated_span_runs_with_the_configured_line_and_clock_priority() {
    let d = Daemon::start(
        "span-line",
        Options {
            span: "clock_priority = 0\ncrc4 = false",
            ..Options::default()
        },
    );
    // Up (Daemon::start waits for the D-channel): both ends framed without CRC-4. With
    // priority 0 the span never gives the device its timing: the clock column says `-`
    // (the default priority 1 makes it `source`, `gatewayd_reload`).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let spans = d.ctl("show spans");
        let line = spans.lines().nth(1).unwrap_or("").to_string();
        if line.split_whitespace().eq(["1", "ok", "up", "-", "0"]) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{spans}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
