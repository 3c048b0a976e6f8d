//! How fast two data links pass Q.931-sized I frames back to back in memory, with the
//! message pattern of a basic call (SETUP → CALL PROCEEDING, ALERTING, CONNECT →
//! CONNECT ACKNOWLEDGE, DISCONNECT → RELEASE → RELEASE COMPLETE), layer 3 answering before
//! the transmit queue is polled so acknowledgements ride on the answers. A measurement, not
//! a check: run it in release mode,
//! `cargo test --release -p q931 --lib lapd::tests::throughput -- --ignored --nocapture`.

use std::time::Instant;

use crate::lapd::{Link, LinkConfig, LinkEvent, Role};

/// (sender is the user side, message length) of the 8 messages of one call.
const CALL: [(bool, usize); 8] = [
    (true, 31),  // SETUP
    (false, 10), // CALL PROCEEDING
    (false, 9),  // ALERTING
    (false, 5),  // CONNECT
    (true, 5),   // CONNECT ACKNOWLEDGE
    (true, 9),   // DISCONNECT
    (false, 5),  // RELEASE
    (true, 5),   // RELEASE COMPLETE
];

fn shuttle(now: Instant, from: &mut Link, to: &mut Link, buf: &mut Vec<u8>) -> usize {
    let mut frames = 0;
    while from.poll_transmit_into(buf) {
        to.handle_frame(now, buf);
        frames += 1;
    }
    frames
}

fn drain(link: &mut Link) -> usize {
    let mut n = 0;
    while let Some(e) = link.poll_event() {
        if let LinkEvent::Data(d) = e {
            n += 1;
            link.recycle(d);
        }
    }
    n
}

#[test]
#[ignore = "measurement; run in release mode with --ignored --nocapture"]
fn throughput() {
    let now = Instant::now();
    let mut user = Link::new(LinkConfig::pri(Role::User));
    let mut network = Link::new(LinkConfig::pri(Role::Network));
    let mut buf = Vec::with_capacity(300);
    user.establish(now);
    shuttle(now, &mut user, &mut network, &mut buf);
    shuttle(now, &mut network, &mut user, &mut buf);
    drain(&mut user);
    drain(&mut network);
    let msg = [0x08u8; 64];
    let calls = 1_000_000u64;
    let mut frames = 0usize;
    let mut delivered = 0usize;
    let start = Instant::now();
    for _ in 0..calls {
        for (i, (from_user, len)) in CALL.into_iter().enumerate() {
            let (a, b) = if from_user {
                (&mut user, &mut network)
            } else {
                (&mut network, &mut user)
            };
            a.send_i(now, &msg[..len]).unwrap();
            frames += shuttle(now, a, b, &mut buf);
            delivered += drain(b);
            // The receiver's layer 3 has nothing to answer right now: its shell polls the
            // transmit queue and the acknowledgement goes out as RR.
            if CALL[(i + 1) % CALL.len()].0 == from_user {
                frames += shuttle(now, b, a, &mut buf);
            }
        }
    }
    // The last acknowledgement.
    frames += shuttle(now, &mut user, &mut network, &mut buf);
    frames += shuttle(now, &mut network, &mut user, &mut buf);
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(delivered as u64, calls * 8);
    assert_eq!(user.queued() + network.queued(), 0);
    println!(
        "lapd: {calls} call patterns ({delivered} I frames, {frames} frames on the wire) in \
         {elapsed:.2} s: {:.0} call patterns/s, {:.0} I frames/s, {:.2} frames per message",
        calls as f64 / elapsed,
        delivered as f64 / elapsed,
        frames as f64 / delivered as f64
    );
}
