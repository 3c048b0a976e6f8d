//! The call endpoint never panics on bytes: the real byte streams of three calls (fast
//! start; H.245 tunnelled; H.245 on a separate connection), mutated at random with a
//! fixed seed, fed to fresh endpoints on both connections with commands in between.

use std::time::{Duration, Instant};

use h323::call::{Call, CallConfig, Channel, Event, PlaceCall};
use h323::fast_start::MediaAddresses;
use h323::h225::{Alias, Guid};
use h323::q931::ie::CauseValue;

fn media(port: u16) -> MediaAddresses {
    MediaAddresses {
        rtp: format!("127.0.0.1:{port}").parse().unwrap(),
        rtcp: format!("127.0.0.1:{}", port + 1).parse().unwrap(),
    }
}

fn place() -> PlaceCall {
    PlaceCall {
        call_ref: 9,
        call_id: Guid([3; 16]),
        conference_id: Guid([4; 16]),
        source_aliases: vec![Alias::H323Id("a".into())],
        destination_aliases: vec![Alias::Dialled("12".into())],
        calling_number: Some("1".into()),
        called_number: Some("12".into()),
        display: Some("x".into()),
        source_signal_address: None,
        dest_signal_address: None,
    }
}

fn configs(kind: u8) -> (CallConfig, CallConfig) {
    let mut a = CallConfig::new(media(5000));
    let mut b = CallConfig::new(media(6000));
    if kind >= 1 {
        a.fast_start = false;
    }
    if kind == 2 {
        a.h245_tunneling = false;
        b.h245_tunneling = false;
        b.h245_listen = Some("127.0.0.1:1801".parse().unwrap());
    }
    (a, b)
}

/// Every packet of one complete call: (from caller, channel, bytes).
fn record(kind: u8) -> Vec<(bool, Channel, Vec<u8>)> {
    let now = Instant::now();
    let (ca, cb) = configs(kind);
    let mut a = Call::place(now, ca, place());
    let mut b = Call::incoming(cb);
    let mut log = Vec::new();
    let mut step = 0;
    while !(a.is_released() && b.is_released()) && step < 200 {
        step += 1;
        while let Some(t) = a.poll_transmit() {
            match t.channel {
                Channel::Signalling => b.handle_signalling_bytes(now, &t.bytes),
                Channel::H245 => b.handle_h245_bytes(now, &t.bytes),
            }
            log.push((true, t.channel, t.bytes));
        }
        while let Some(t) = b.poll_transmit() {
            match t.channel {
                Channel::Signalling => a.handle_signalling_bytes(now, &t.bytes),
                Channel::H245 => a.handle_h245_bytes(now, &t.bytes),
            }
            log.push((false, t.channel, t.bytes));
        }
        let mut connect = false;
        while let Some(e) = b.poll_event() {
            match e {
                Event::Setup(_) => {
                    b.alerting(now);
                    b.answer(now);
                }
                Event::H245Connect(_) => connect = true,
                _ => {}
            }
        }
        while let Some(e) = a.poll_event() {
            match e {
                Event::H245Connect(_) => connect = true,
                Event::Media(_) if step > 3 => a.release(now, CauseValue::NormalCallClearing),
                _ => {}
            }
        }
        if connect {
            a.h245_connected(now);
            b.h245_connected(now);
        }
        if step == 40 {
            a.release(now, CauseValue::NormalCallClearing);
        }
    }
    log
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn mutated_streams_never_panic() {
    let logs: Vec<_> = (0..3).map(|k| (k, record(k))).collect();
    for (k, log) in &logs {
        assert!(
            log.len() >= 4,
            "call kind {k} produced only {} packets",
            log.len()
        );
    }
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let mut events = 0usize;
    for i in 0..600 {
        let (kind, log) = &logs[i % logs.len()];
        let (ca, cb) = configs(*kind);
        let t0 = Instant::now();
        let mut callee = Call::incoming(cb);
        let mut caller = Call::place(t0, ca, place());
        callee.h245_connected(t0);
        for (n, (from_caller, channel, bytes)) in log.iter().enumerate() {
            let mut b = bytes.clone();
            match rng.below(5) {
                0 => b.truncate(rng.below(b.len() + 1)),
                1 | 2 => {
                    for _ in 0..=rng.below(3) {
                        let p = rng.below(b.len());
                        if let Some(x) = b.get_mut(p) {
                            *x ^= 1 << rng.below(8);
                        }
                    }
                }
                3 => {
                    let p = rng.below(b.len());
                    if let Some(x) = b.get_mut(p) {
                        *x = rng.next() as u8;
                    }
                }
                _ => {}
            }
            let now = t0 + Duration::from_millis(n as u64 * 10);
            let to = if *from_caller {
                &mut callee
            } else {
                &mut caller
            };
            match channel {
                Channel::Signalling => to.handle_signalling_bytes(now, &b),
                Channel::H245 => to.handle_h245_bytes(now, &b),
            }
            match rng.below(8) {
                0 => to.alerting(now),
                1 => to.answer(now),
                2 => {
                    let _ = to.send_digits(now, "1#");
                }
                3 => to.h245_connected(now),
                _ => {}
            }
        }
        for c in [&mut caller, &mut callee] {
            let mut now = t0 + Duration::from_secs(1);
            for _ in 0..20 {
                let Some(t) = c.poll_timeout() else { break };
                now = now.max(t);
                c.handle_timeout(now);
            }
            c.release(now, CauseValue::NormalCallClearing);
            while c.poll_transmit().is_some() {}
            while c.poll_event().is_some() {
                events += 1;
            }
        }
    }
    assert!(
        events > 900,
        "the endpoints did real work ({events} events)"
    );
}
