//! Fuzzes the LAPD frame decoder and the Q.921 data link state machine.
//!
//! The input is a script: the first octet picks the role and options, then each step is an
//! opcode octet followed by its operands (a frame to receive, time to let pass, a DL-DATA
//! request, establish/release, receiver busy). After every step the window invariants must
//! hold, and every frame the link sends must decode.

#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use q931::lapd::{Frame, Link, LinkConfig, Role};

fuzz_target!(|data: &[u8]| {
    // The decoder alone: never panics, and what decodes re-encodes to the same bytes.
    if let Ok(frame) = Frame::decode(data) {
        let mut out = Vec::new();
        frame.encode(&mut out);
        assert_eq!(out, data);
    }

    let Some((&options, mut script)) = data.split_first() else {
        return;
    };
    let role = if options & 1 == 0 {
        Role::User
    } else {
        Role::Network
    };
    let mut cfg = LinkConfig::pri(role);
    cfg.keep_up = options & 2 != 0;
    cfg.k = 1 + (options >> 2) % 16;
    let mut link = Link::new(cfg);
    let mut now = Instant::now();
    while let Some((&op, rest)) = script.split_first() {
        script = rest;
        match op % 8 {
            // Receive a frame of `len` octets.
            0..=2 => {
                let Some((&len, rest)) = script.split_first() else {
                    break;
                };
                let len = usize::from(len).min(rest.len());
                link.handle_frame(now, &rest[..len]);
                script = &rest[len..];
            }
            // Let time pass (up to 65 s) and run the timers.
            3 => {
                let Some((ms, rest)) = script.split_first_chunk::<2>() else {
                    break;
                };
                now += Duration::from_millis(u64::from(u16::from_le_bytes(*ms)));
                link.handle_timeout(now);
                script = rest;
            }
            // Jump to the next deadline.
            4 => {
                if let Some(t) = link.poll_timeout() {
                    now = now.max(t);
                    link.handle_timeout(now);
                }
            }
            // DL-DATA request.
            5 => {
                let Some((&len, rest)) = script.split_first() else {
                    break;
                };
                let len = usize::from(len).min(rest.len());
                let _ = link.send_i(now, &rest[..len]);
                script = &rest[len..];
            }
            6 => match op >> 3 & 3 {
                0 => link.establish(now),
                1 => link.release(now),
                2 => link.set_receiver_busy(now, true),
                _ => link.set_receiver_busy(now, false),
            },
            _ => {
                let _ = link.send_ui(&[0x08, 0x01, 0x00, 0x7D]);
            }
        }
        let (vs, va, _) = link.sequence_state();
        let outstanding = vs.since(va);
        assert!(outstanding <= link.config().k);
        assert!(usize::from(outstanding) <= link.queued());
        while let Some(frame) = link.poll_transmit() {
            assert!(Frame::decode(&frame).is_ok());
            link.recycle(frame);
        }
        while link.poll_event().is_some() {}
    }
});
