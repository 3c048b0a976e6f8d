//! tshark (Wireshark 4.0, Debian package `tshark`) decodes what our data link sends and
//! receives: a capture of a scenario covering every frame type we emit, written with
//! [`crate::lapd::pcap::PcapWriter`], must decode without a malformed frame, and tshark must
//! read each command and response the way we meant them (P vs F, from the C/R bit).

use std::process::Command;
use std::time::Duration;

use super::pair::{is_i, Pair, Side};
use crate::lapd::pcap::PcapWriter;
use crate::lapd::{Control, Frame, Role};

/// Q.931 SETUP, 2-octet call reference `cr`, bearer speech A-law, B1 exclusive, called
/// number 1234, sending complete.
fn setup(cr: u8) -> Vec<u8> {
    let mut m = vec![0x08, 0x02, 0x00, cr, 0x05];
    m.extend_from_slice(&[0x04, 0x03, 0x80, 0x90, 0xA3]);
    m.extend_from_slice(&[0x18, 0x03, 0xA9, 0x83, 0x81]);
    m.extend_from_slice(&[0x70, 0x05, 0x81, b'1', b'2', b'3', b'4', 0xA1]);
    m
}

/// Q.931 CALL PROCEEDING for `cr`, from the destination side, with the channel.
fn call_proceeding(cr: u8) -> Vec<u8> {
    vec![0x08, 0x02, 0x80, cr, 0x02, 0x18, 0x03, 0xA9, 0x83, 0x81]
}

#[test]
fn tshark_decodes_our_lapd_without_errors() {
    let mut pair = Pair::pri();
    pair.user.establish(pair.now);
    pair.deliver();
    pair.user.send_i(pair.now, &setup(1)).unwrap();
    pair.deliver();
    pair.network.send_i(pair.now, &call_proceeding(1)).unwrap();
    pair.deliver();
    // A lost I frame: REJ recovery.
    let mut seen = 0;
    pair.drop_to_network = Some(Box::new(move |f: &Frame<'_>| {
        if is_i(&f.control) {
            seen += 1;
            return seen == 2;
        }
        false
    }));
    for cr in 2..5 {
        pair.user.send_i(pair.now, &setup(cr)).unwrap();
    }
    pair.deliver();
    pair.drop_to_network = None;
    // A busy receiver, polled, then ready.
    pair.network.set_receiver_busy(pair.now, true);
    pair.deliver();
    pair.user.send_i(pair.now, &setup(5)).unwrap();
    pair.run_for(Duration::from_millis(1500));
    pair.network.set_receiver_busy(pair.now, false);
    pair.deliver();
    // Idle: T203 polls.
    pair.run_for(Duration::from_secs(11));
    // Release by the user, re-establishment by the (kept up) network side.
    pair.user.release(pair.now);
    pair.deliver();
    pair.run_for(Duration::from_millis(1500));
    // A command with P=1 while not established is answered by DM.
    pair.network.release(pair.now);
    pair.deliver();
    pair.network
        .handle_frame(pair.now, &[0x00, 0x01, 0x01, 0x01]);
    pair.deliver();

    let frames = pair.wire.clone();
    for needed in ["SABME", "UA", "DISC", "DM", "RR", "RNR", "REJ"] {
        assert!(
            frames.iter().any(|(_, f)| describe(f).contains(needed)),
            "scenario lacks {needed}"
        );
    }
    let path = std::env::temp_dir().join(format!("lapd-tshark-{}.pcap", std::process::id()));
    let mut writer = PcapWriter::new(std::fs::File::create(&path).unwrap(), Role::User).unwrap();
    for (i, (side, frame)) in frames.iter().enumerate() {
        writer
            .write_frame(
                Duration::from_millis(1_000 + i as u64),
                *side == Side::User,
                frame,
            )
            .unwrap();
    }
    writer.into_inner().unwrap();

    let out = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .arg("-V")
        .output()
        .expect("tshark (Debian package tshark) is needed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verbose = String::from_utf8_lossy(&out.stdout);
    assert!(!verbose.contains("Malformed"), "{verbose}");
    assert!(!verbose.contains("Expert Info (Error"), "{verbose}");
    assert!(verbose.contains("SETUP") && verbose.contains("CALL PROCEEDING"));

    let out = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = summary.lines().collect();
    assert_eq!(lines.len(), frames.len(), "{summary}");
    let mut checked = 0;
    for ((side, frame), line) in frames.iter().zip(&lines) {
        let f = Frame::decode(frame).unwrap();
        let sender = match side {
            Side::User => Role::User,
            Side::Network => Role::Network,
        };
        let command = f.address.cr == sender.cr_bit(true);
        // tshark marks the P/F bit "P" in commands and "F" in responses.
        let mark = match f.control {
            Control::Supervisory {
                poll_final: true, ..
            } => Some(if command { "S P," } else { "S F," }),
            Control::Unnumbered {
                poll_final: true, ..
            } => Some(if command { "U P," } else { "U F," }),
            _ => None,
        };
        if let Some(mark) = mark {
            assert!(
                line.contains(mark),
                "{line} should contain {mark:?} ({frame:02x?})"
            );
            checked += 1;
        }
        let direction = if *side == Side::User {
            "Local User → Remote Network"
        } else {
            "Remote Network → Local User"
        };
        assert!(line.contains(direction), "{line}");
    }
    assert!(
        checked >= 10,
        "only {checked} frames with P/F set\n{summary}"
    );
    if std::env::var_os("LAPD_TSHARK_SHOW").is_some() {
        eprintln!("{summary}");
    }
    let _ = std::fs::remove_file(&path);
}

fn describe(frame: &[u8]) -> String {
    format!("{:?}", Frame::decode(frame).map(|f| f.control))
        .replace("Sabme", "SABME")
        .replace("Ua", "UA")
        .replace("Disc", "DISC")
        .replace("Dm", "DM")
        .replace("ReceiveReady", "RR")
        .replace("ReceiveNotReady", "RNR")
        .replace("Reject", "REJ")
}
