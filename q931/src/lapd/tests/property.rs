//! Property tests without external crates: a small deterministic generator drives the data
//! link with random bytes, random well-addressed frames, random requests and random time,
//! for both roles, checking invariants after every step. Whatever arrives, nothing panics.

use std::time::Duration;

use super::pair::{Pair, Path};
use crate::lapd::{Link, LinkConfig, LinkEvent, LinkState, Role};

/// xorshift64*: deterministic, seeded per case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

fn check_invariants(link: &Link) {
    let (vs, va, _) = link.sequence_state();
    let outstanding = usize::from(vs.since(va));
    assert!(
        outstanding <= usize::from(link.config().k),
        "window exceeded"
    );
    assert!(outstanding <= link.queued(), "more outstanding than queued");
    if !link.is_established() && link.state() != LinkState::AwaitingEstablishment {
        assert_eq!(outstanding, 0);
    }
}

fn random_frame(rng: &mut Rng, out: &mut Vec<u8>) {
    out.clear();
    match rng.below(4) {
        // Pure noise of any length.
        0 => {
            let len = rng.below(12) as usize;
            out.extend((0..len).map(|_| rng.byte()));
        }
        // SAPI 0 / TEI 0 with either C/R, any control octets, short tail.
        _ => {
            out.push(if rng.below(2) == 0 { 0x00 } else { 0x02 });
            out.push(0x01);
            let control = match rng.below(4) {
                0 => rng.byte() & 0xFE,                         // I
                1 => [0x01, 0x05, 0x09][rng.below(3) as usize], // S
                2 => [0x7F, 0x6F, 0x0F, 0x1F, 0x43, 0x53, 0x63, 0x73, 0x87, 0x03]
                    [rng.below(10) as usize], // U
                _ => rng.byte(),
            };
            out.push(control);
            // N(R) near the usual window most of the time.
            let nr = if rng.below(4) == 0 {
                rng.byte()
            } else {
                (rng.below(10) as u8) << 1 | (rng.byte() & 1)
            };
            if control & 0x03 != 0x03 {
                out.push(nr);
            }
            let tail = rng.below(4) as usize;
            out.extend((0..tail).map(|_| rng.byte()));
        }
    }
}

#[test]
fn random_input_never_panics_and_keeps_invariants() {
    for seed in 1..=200u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let role = if seed % 2 == 0 {
            Role::User
        } else {
            Role::Network
        };
        let mut cfg = LinkConfig::pri(role);
        cfg.keep_up = seed % 3 != 0;
        let mut link = Link::new(cfg);
        let mut now = std::time::Instant::now();
        let mut frame = Vec::new();
        for _ in 0..400 {
            match rng.below(10) {
                0..=5 => {
                    random_frame(&mut rng, &mut frame);
                    link.handle_frame(now, &frame);
                }
                6 => {
                    now += Duration::from_millis(rng.below(12_000));
                    link.handle_timeout(now);
                }
                7 => {
                    let len = rng.below(300) as usize;
                    frame.clear();
                    frame.extend((0..len).map(|_| rng.byte()));
                    let _ = link.send_i(now, &frame);
                }
                8 => match rng.below(4) {
                    0 => link.establish(now),
                    1 => link.release(now),
                    2 => link.set_receiver_busy(now, rng.below(2) == 0),
                    _ => {
                        let _ = link.send_ui(b"ui");
                    }
                },
                _ => {
                    if let Some(t) = link.poll_timeout() {
                        now = now.max(t);
                        link.handle_timeout(now);
                    }
                }
            }
            check_invariants(&link);
            while let Some(f) = link.poll_transmit() {
                // What we send is always a valid frame.
                assert!(crate::lapd::Frame::decode(&f).is_ok(), "{f:02x?}");
                link.recycle(f);
            }
            while link.poll_event().is_some() {}
        }
    }
}

#[test]
fn lossy_path_never_duplicates_or_reorders_and_recovers() {
    for seed in 1..=60u64 {
        let mut rng = Rng(seed.wrapping_mul(0xD1B5_4A32_D192_ED03) | 1);
        let mut pair = Pair::established();
        let loss = 5 + rng.below(40); // percent
        let mut r1 = Rng(rng.next() | 1);
        let mut r2 = Rng(rng.next() | 1);
        pair.drop_to_network = Some(Box::new(move |_| r1.below(100) < loss));
        pair.drop_to_user = Some(Box::new(move |_| r2.below(100) < loss));
        let mut sent = 0u16;
        for _ in 0..150 {
            match rng.below(3) {
                0 => {
                    let _ = pair.user.send_i(pair.now, &sent.to_be_bytes());
                    sent += 1;
                    pair.deliver();
                }
                1 => {
                    pair.advance();
                }
                _ => pair.run_for(Duration::from_millis(rng.below(3000))),
            }
            check_invariants(&pair.user);
            check_invariants(&pair.network);
        }
        // Delivered: strictly increasing, so no duplicate and no reordering.
        let got: Vec<u16> = Pair::data(&pair.network_events)
            .iter()
            .map(|d| u16::from_be_bytes([d[0], d[1]]))
            .collect();
        assert!(got.windows(2).all(|w| w[0] < w[1]), "seed {seed}: {got:?}");
        // The path heals: the link is (re-)established and carries data again.
        pair.drop_to_network = None;
        pair.drop_to_user = None;
        pair.to_network = Path::Pass;
        pair.run_for(Duration::from_secs(30));
        assert!(
            pair.user.is_established() && pair.network.is_established(),
            "seed {seed}"
        );
        pair.network_events.clear();
        pair.user.send_i(pair.now, b"final").unwrap();
        pair.deliver();
        pair.run_for(Duration::from_secs(2));
        assert!(
            pair.network_events
                .contains(&LinkEvent::Data(b"final".to_vec())),
            "seed {seed}: {:?}",
            pair.network_events
        );
    }
}
