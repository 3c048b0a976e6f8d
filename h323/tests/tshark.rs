//! Every H.225.0 call-signalling message we emit, in TPKT on TCP port 1720, written into a
//! pcap and decoded by tshark (Wireshark's dissectors are an independent implementation
//! of Q.931, H.225.0 and H.245). Skipped, with a note, when tshark is not installed.

use std::process::Command;

use crate::support::{pcap::PcapWriter, sample_call, CALLEE, CALLER};
use h323::tpkt;

fn tshark_available() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run_tshark(pcap: &std::path::Path, args: &[&str]) -> String {
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

fn write_call_pcap(name: &str) -> (std::path::PathBuf, Vec<crate::support::Sample>) {
    let samples = sample_call();
    let mut pcap = PcapWriter::new(CALLER, CALLEE);
    for s in &samples {
        let mut q931 = Vec::new();
        s.signal.encode(&mut q931).unwrap();
        let mut seg = Vec::new();
        tpkt::encode(&q931, &mut seg).unwrap();
        pcap.data(s.from_caller, &seg);
    }
    let dir = std::env::temp_dir().join(format!("h323-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, &pcap.bytes).unwrap();
    (path, samples)
}

/// The lines of tshark's `-V` tree that follow the TPKT header, per frame with H.225.0.
fn h225_frames(verbose: &str) -> Vec<String> {
    verbose
        .split("\nFrame ")
        .filter(|f| f.contains("H.225.0 CS"))
        .map(str::to_string)
        .collect()
}

fn lines_with<'a>(frame: &'a str, prefix: &str) -> Vec<&'a str> {
    frame
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with(prefix))
        .collect()
}

#[test]
fn tshark_decodes_every_message_we_emit() {
    if !tshark_available() {
        eprintln!("tshark not installed: skipped (apt-get install tshark)");
        return;
    }
    let (path, samples) = write_call_pcap("call.pcap");
    let verbose = run_tshark(&path, &["-V"]);
    assert!(
        !verbose.contains("Malformed"),
        "malformed packet:\n{verbose}"
    );
    assert!(
        !verbose.contains("[Expert Info (Error"),
        "expert error:\n{verbose}"
    );
    assert!(
        !verbose.contains("[Expert Info (Warning"),
        "expert warning:\n{verbose}"
    );
    assert!(
        !verbose.contains("Checksum Status: Bad"),
        "checksum:\n{verbose}"
    );

    let frames = h225_frames(&verbose);
    assert_eq!(frames.len(), samples.len(), "one H.225.0 frame per message");
    for (frame, sample) in frames.iter().zip(&samples) {
        let body = lines_with(frame, "h323-message-body: ");
        assert_eq!(body.len(), 1, "{frame}");
        assert!(
            body[0].starts_with(&format!("h323-message-body: {} (", sample.body)),
            "expected {} got {}",
            sample.body,
            body[0]
        );
        let fast = lines_with(frame, "fastStart: ");
        match sample.fast_start {
            0 => assert!(fast.is_empty(), "{fast:?}"),
            n => assert_eq!(fast, vec![format!("fastStart: {n} items").as_str()]),
        }
        let h245: Vec<&str> = lines_with(frame, "request: ")
            .into_iter()
            .chain(lines_with(frame, "response: "))
            .chain(lines_with(frame, "command: "))
            .chain(lines_with(frame, "indication: "))
            .map(|l| l.split_once(": ").unwrap().1.split(" (").next().unwrap())
            .collect();
        assert_eq!(h245, sample.h245, "tunnelled H.245 in {}", sample.body);
        // Every message names the call.
        if sample.body != "empty" {
            assert!(
                frame.contains("guid: 11223344-5566-7788-99aa-bbccddeeff01"),
                "callIdentifier missing in {}",
                sample.body
            );
        }
    }

    // Setup: aliases, addresses and the four G.711 proposals as we meant them.
    let setup = &frames[0];
    assert!(setup.contains("Message type: SETUP (0x05)"));
    assert_eq!(lines_with(setup, "h323-ID: "), vec!["h323-ID: gw-a"]);
    assert_eq!(
        lines_with(setup, "dialledDigits: "),
        vec!["dialledDigits: 1001", "dialledDigits: 4930123456"]
    );
    assert!(setup.contains("Calling party number digits: 1001"));
    assert!(setup.contains("Called party number digits: 4930123456"));
    assert!(setup.contains("conferenceID: c0fef93e-cd9e-d611-9ab2-000476222017"));
    assert_eq!(
        lines_with(setup, "g711Alaw64k: ").len() + lines_with(setup, "g711Ulaw64k: ").len(),
        4
    );
    for l in lines_with(setup, "g711Alaw64k: ")
        .into_iter()
        .chain(lines_with(setup, "g711Ulaw64k: "))
    {
        assert!(l.ends_with(": 20"), "20 ms per packet: {l}");
    }
    assert!(setup.contains("tsapIdentifier: 5000") && setup.contains("tsapIdentifier: 5001"));
    assert!(setup.contains("h245Tunnelling: True"));
    assert!(setup.contains("protocolIdentifier: 0.0.8.2250.0.7"));

    // The answer in Alerting/Connect: A-law only, the callee's RTP address.
    for f in &frames[2..5] {
        if f.contains("fastStart") {
            assert_eq!(lines_with(f, "g711Ulaw64k: ").len(), 0);
            assert!(f.contains("network: 10.0.0.2") && f.contains("tsapIdentifier: 6000"));
        }
    }
    assert!(frames[4].contains("h245Address: ipAddress (0)"));
    assert!(frames[6].contains("reason: startH245 ("));
    assert!(frames[8].contains("Message type: STATUS (0x7d)"));
    let release = &frames[9];
    assert!(release.contains("Message type: RELEASE COMPLETE (0x5a)"));
    assert!(release.contains("Cause value: User busy (17)"), "{release}");
    assert!(release.contains("reason: inConf ("), "{release}");
}
