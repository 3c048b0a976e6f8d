//! Running Debian's tshark on a pcap we wrote, and reading its `-V` tree.

use std::process::Command;

pub fn available() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `tshark -n -r pcap -o tcp.check_checksum:TRUE args...`, stdout as a string.
pub fn run(pcap: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(pcap)
        .args(["-o", "tcp.check_checksum:TRUE"])
        .args(args)
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Fails the test if tshark reports a malformed packet, an expert error or warning, or
/// a bad checksum anywhere in its `-V` output.
pub fn assert_clean(verbose: &str) {
    for bad in [
        "Malformed",
        "[Expert Info (Error",
        "[Expert Info (Warning",
        "Checksum Status: Bad",
    ] {
        assert!(!verbose.contains(bad), "tshark: {bad}\n{verbose}");
    }
}

/// The `-V` text of each frame.
pub fn frames(verbose: &str) -> Vec<String> {
    verbose
        .split("\nFrame ")
        .map(str::to_string)
        .filter(|f| !f.trim().is_empty())
        .collect()
}

/// The H.245 message names tshark shows in one frame (`request: x (n)`, `response: ...`,
/// `command: ...`, `indication: ...`), in order.
pub fn h245_names(frame: &str) -> Vec<String> {
    frame
        .lines()
        .map(str::trim)
        .filter(|l| {
            ["request: ", "response: ", "command: ", "indication: "]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .map(|l| {
            l.split_once(": ")
                .unwrap()
                .1
                .split(" (")
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}
