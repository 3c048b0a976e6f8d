//! B-channels: audio through the cable bit-exact, buffering like DAHDI, the poll fd.

mod common;

use common::*;
use dahdi_driver::{ChanError, Channel, ChannelMode, Device, Event, Law, SpanId, SpanKind};
use tdm_sim::tone::{measure, ToneGen};
use tdm_sim::{End, Sim};

/// One block of a 1 kHz tone per timeslot, tagged so that crossed timeslots would show.
fn tone_stream(law: Law, ts: u8, blocks: usize) -> Vec<u8> {
    let mut g = ToneGen::new(law, 1000.0, -6.0 - ts as f64 / 4.0);
    let mut v = vec![0u8; 160 * blocks];
    g.fill(&mut v);
    v[0] = ts;
    v[1] = !ts;
    v
}

/// Near channel, far channel, what near sends, what far sends.
type Pair = (Box<dyn Channel>, Box<dyn Channel>, Vec<u8>, Vec<u8>);

fn bearers(kind: SpanKind) -> Vec<u8> {
    let d = kind.dchannel().0;
    (1..=kind.channels()).filter(|&t| t != d).collect()
}

/// Writes `blocks` tone blocks on every bearer of `from` (two up front, then one per 20 ms)
/// and checks the other end reads them back bit-exact after `delay` chunks of idle code.
fn tone_bit_exact(kind: SpanKind) {
    let sim = match kind {
        SpanKind::E1 => Sim::builder().e1(1).delay_chunks(2).build(),
        SpanKind::T1 => Sim::builder().t1(1).delay_chunks(2).build(),
    };
    let law = kind.default_law();
    let idle = tdm_sim::channel::idle_code(law);
    let (near, far) = (sim.near(), sim.far());
    let ts_list = bearers(kind);
    let mut tx: Vec<Pair> = ts_list
        .iter()
        .map(|&ts| {
            (
                open(&near, 1, ts, clear(law)),
                open(&far, 1, ts, clear(law)),
                tone_stream(law, ts, 25),
                tone_stream(law, ts.wrapping_add(100), 25),
            )
        })
        .collect();
    let mut got_far: Vec<Vec<u8>> = vec![Vec::new(); ts_list.len()];
    let mut got_near: Vec<Vec<u8>> = vec![Vec::new(); ts_list.len()];
    for step in 0..30 {
        for (i, (n, f, sn, sf)) in tx.iter_mut().enumerate() {
            let writes = if step == 0 { 2 } else { 1 };
            for w in 0..writes {
                let b = if step == 0 { w } else { step + 1 };
                if b < 25 {
                    assert_eq!(n.write(&sn[b * 160..(b + 1) * 160]).unwrap(), 160);
                    assert_eq!(f.write(&sf[b * 160..(b + 1) * 160]).unwrap(), 160);
                }
            }
            read_all(f.as_mut(), &mut got_far[i]);
            read_all(n.as_mut(), &mut got_near[i]);
        }
        sim.advance(20).unwrap();
    }
    let delay = sim.delay_chunks() * 8;
    for (i, (_, _, sn, sf)) in tx.iter().enumerate() {
        for (got, sent, dir) in [
            (&got_far[i], sn, "near->far"),
            (&got_near[i], sf, "far->near"),
        ] {
            assert!(
                got.len() >= delay + sent.len(),
                "{dir} ts {}: {} bytes",
                ts_list[i],
                got.len()
            );
            assert!(
                got[..delay].iter().all(|&b| b == idle),
                "{dir}: idle before the tone"
            );
            assert_eq!(
                &got[delay..delay + sent.len()],
                &sent[..],
                "{dir} ts {}",
                ts_list[i]
            );
            assert!(
                got[delay + sent.len()..].iter().all(|&b| b == idle),
                "{dir}: idle after"
            );
        }
    }
    // And it is a 1 kHz tone.
    let r = measure(
        law,
        &got_far[0][delay + 160..delay + 960],
        &[500.0, 1000.0, 1500.0],
    );
    assert_eq!(r.freq, 1000.0);
    assert!(r.purity > 0.9, "{r:?}");
}

#[test]
fn e1_tone_on_all_bearers_is_bit_exact_both_ways() {
    tone_bit_exact(SpanKind::E1);
}

#[test]
fn t1_tone_on_all_bearers_is_bit_exact_both_ways() {
    tone_bit_exact(SpanKind::T1);
}

#[test]
fn all_codes_pass_untouched() {
    let sim = Sim::e1(1);
    let mut a = open(&sim.near(), 1, 5, clear(Law::ALaw));
    let mut b = open(&sim.far(), 1, 5, clear(Law::ALaw));
    let block: Vec<u8> = (0..160u32).map(|i| (i * 7 % 256) as u8).collect();
    let mut all: Vec<u8> = (0..=255u8).collect();
    all.extend_from_slice(&block[..64]);
    a.write(&all[..160]).unwrap();
    a.write(&all[160..320]).unwrap();
    sim.advance(60).unwrap();
    let mut got = Vec::new();
    read_all(b.as_mut(), &mut got);
    assert_eq!(&got[8..8 + 320], &all[..320]);
}

#[test]
fn underrun_sends_idle_code_and_counts() {
    for (sim, law, idle) in [
        (Sim::builder().e1(1).build(), Law::ALaw, 0xD5u8),
        (Sim::builder().t1(1).build(), Law::MuLaw, 0xFFu8),
    ] {
        let _a = open(&sim.near(), 1, 1, clear(law));
        let mut b = open(&sim.far(), 1, 1, clear(law));
        sim.advance(40).unwrap();
        let mut got = Vec::new();
        read_all(b.as_mut(), &mut got);
        assert_eq!(got.len(), 320);
        assert!(got.iter().all(|&x| x == idle), "{got:02x?}");
        let st = sim.channel_stats(End::Near, chan(1, 1)).unwrap();
        assert_eq!(st.tx_underruns, 40);
    }
}

#[test]
fn law_change_changes_idle_code() {
    let sim = Sim::e1(1);
    let mut a = open(&sim.near(), 1, 1, clear(Law::ALaw));
    let mut b = open(&sim.far(), 1, 1, clear(Law::ALaw));
    a.set_law(Law::MuLaw).unwrap();
    sim.advance(41).unwrap();
    let mut got = Vec::new();
    read_all(b.as_mut(), &mut got);
    // The first chunk on the line was sent before the change.
    assert!(got[8..].iter().all(|&x| x == 0xFF));
}

#[test]
fn reads_and_writes_are_one_block_at_most() {
    let sim = Sim::builder().e1(1).numbufs(4).build();
    let mut a = open(&sim.near(), 1, 1, clear(Law::ALaw));
    let mut b = open(&sim.far(), 1, 1, clear(Law::ALaw));
    // Nothing yet: WouldBlock.
    let mut buf = [0u8; 1000];
    assert!(matches!(b.read(&mut buf), Err(ChanError::WouldBlock)));
    // A write takes one block; four blocks fill the buffers.
    assert_eq!(a.write(&[1u8; 1000]).unwrap(), 160);
    for _ in 0..3 {
        assert_eq!(a.write(&[2u8; 160]).unwrap(), 160);
    }
    assert!(matches!(a.write(&[3u8; 160]), Err(ChanError::WouldBlock)));
    sim.advance(20).unwrap();
    assert_eq!(b.read(&mut buf).unwrap(), 160);
    assert!(matches!(b.read(&mut buf), Err(ChanError::WouldBlock)));
    // A short read frees the whole block, as DAHDI does.
    sim.advance(40).unwrap();
    assert_eq!(b.read(&mut buf[..10]).unwrap(), 10);
    assert_eq!(b.read(&mut buf).unwrap(), 160);
    assert!(matches!(b.read(&mut buf), Err(ChanError::WouldBlock)));
}

#[test]
fn overrun_drops_newest_and_is_reported_with_buffer_events() {
    for events_on in [false, true] {
        let sim = Sim::builder()
            .e1(1)
            .numbufs(2)
            .buffer_events(events_on)
            .build();
        let _a = open(&sim.near(), 1, 1, clear(Law::ALaw));
        let mut b = open(&sim.far(), 1, 1, clear(Law::ALaw));
        sim.advance(100).unwrap();
        let st = sim.channel_stats(End::Far, chan(1, 1)).unwrap();
        assert_eq!(st.rx_blocks, 2);
        assert_eq!(st.rx_overruns, 60);
        let mut buf = [0u8; 160];
        if events_on {
            assert!(matches!(b.read(&mut buf), Err(ChanError::EventPending)));
            // The far channel sends nothing either: its underrun is reported too.
            let evs = events(b.as_mut());
            assert_eq!(evs, vec![Event::WriteUnderrun, Event::ReadOverrun]);
        }
        assert_eq!(b.read(&mut buf).unwrap(), 160);
        assert_eq!(b.read(&mut buf).unwrap(), 160);
        assert!(matches!(b.read(&mut buf), Err(ChanError::WouldBlock)));
    }
}

#[test]
fn underrun_event_with_buffer_events() {
    let sim = Sim::builder().e1(1).buffer_events(true).build();
    let mut a = open(&sim.near(), 1, 1, clear(Law::ALaw));
    sim.advance(1).unwrap();
    assert!(matches!(a.write(&[0u8; 160]), Err(ChanError::EventPending)));
    assert_eq!(a.get_event().unwrap(), Some(Event::WriteUnderrun));
    assert_eq!(a.get_event().unwrap(), None);
    assert_eq!(a.write(&[0u8; 160]).unwrap(), 160);
}

#[test]
fn poll_fd_follows_data_and_events() {
    let sim = Sim::e1(1);
    let mut a = open(&sim.near(), 1, 1, clear(Law::ALaw));
    let mut b = open(&sim.far(), 1, 1, clear(Law::ALaw));
    assert_eq!(poll_now(b.as_ref()), 0);
    let mut buf = [0u8; 160];
    assert!(matches!(b.read(&mut buf), Err(ChanError::WouldBlock)));
    a.write(&[0x11; 160]).unwrap();
    sim.advance(19).unwrap();
    assert_eq!(poll_now(b.as_ref()), 0, "no whole block yet");
    sim.advance(1).unwrap();
    assert_eq!(poll_now(b.as_ref()) & libc::POLLIN, libc::POLLIN);
    assert_eq!(b.read(&mut buf).unwrap(), 160);
    assert!(matches!(b.read(&mut buf), Err(ChanError::WouldBlock)));
    assert_eq!(poll_now(b.as_ref()), 0, "drained");
    // An event: POLLPRI, and reads fail until it is fetched.
    sim.impair(SpanId(1), End::Far, tdm_sim::Impairment::LossOfSignal(true))
        .unwrap();
    sim.advance(1).unwrap();
    assert_eq!(poll_now(b.as_ref()) & libc::POLLPRI, libc::POLLPRI);
    assert!(matches!(b.read(&mut buf), Err(ChanError::EventPending)));
    assert!(matches!(b.write(&buf), Err(ChanError::EventPending)));
    assert_eq!(b.get_event().unwrap(), Some(Event::Alarm));
    assert_eq!(poll_now(b.as_ref()) & libc::POLLPRI, 0);
}

#[test]
fn channels_open_once_and_validate() {
    let sim = Sim::e1(2);
    let near = sim.near();
    let a = open(&near, 1, 1, clear(Law::ALaw));
    assert!(matches!(
        near.open_channel(chan(1, 1), clear(Law::ALaw)),
        Err(dahdi_driver::DeviceError::Busy(_))
    ));
    drop(a);
    let _a = open(&near, 1, 1, clear(Law::ALaw));
    assert!(near.open_channel(chan(1, 0), clear(Law::ALaw)).is_err());
    assert!(near.open_channel(chan(1, 32), clear(Law::ALaw)).is_err());
    assert!(near.open_channel(chan(3, 1), clear(Law::ALaw)).is_err());
    assert!(near
        .open_channel(
            chan(1, 2),
            ChannelMode::Clear {
                blocksize: 0,
                law: Law::ALaw
            }
        )
        .is_err());
    // The same timeslot at the other end is another channel.
    let _b = open(&sim.far(), 1, 1, clear(Law::ALaw));
    assert_eq!(near.spans().unwrap(), vec![SpanId(1), SpanId(2)]);
}

/// B-channel reads and writes take no span lock: the clock, the writer and the reader
/// run on three threads and the stream still arrives exact, in order, with only idle
/// code where the writer fell behind.
#[test]
fn clock_writer_and_reader_on_three_threads_keep_the_stream_exact() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    const CHUNKS: u64 = 4000;
    const SYMBOLS: usize = 0xD5; // 0..=0xD4: never the A-law idle code
    let sim = Arc::new(Sim::builder().e1(1).numbufs(32).build());
    let mut a = open(&sim.near(), 1, 5, clear(Law::ALaw));
    let mut b = open(&sim.far(), 1, 5, clear(Law::ALaw));
    let blocks_read = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let clock = {
        let (sim, blocks_read, done) = (sim.clone(), blocks_read.clone(), done.clone());
        std::thread::spawn(move || {
            for k in 0..CHUNKS {
                // Keep the reader within 16 of its 32 blocks, so nothing overruns.
                while k / 20 > blocks_read.load(Ordering::Acquire) + 16 {
                    std::thread::yield_now();
                }
                sim.advance(1).unwrap();
            }
            done.store(true, Ordering::Release);
        })
    };
    let writer = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut next = 0usize;
            let mut block = [0u8; 160];
            while !done.load(Ordering::Acquire) {
                for (i, o) in block.iter_mut().enumerate() {
                    *o = ((next + i) % SYMBOLS) as u8;
                }
                match a.write(&block) {
                    Ok(n) => next += n,
                    Err(ChanError::WouldBlock) => std::thread::yield_now(),
                    Err(e) => panic!("write: {e}"),
                }
            }
            next
        })
    };
    let mut got = Vec::new();
    let mut buf = [0u8; 160];
    loop {
        // Read `done` first: once the clock has finished, one more empty read is final.
        let finished = done.load(Ordering::Acquire);
        match b.read(&mut buf) {
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                blocks_read.fetch_add(1, Ordering::Release);
            }
            Err(ChanError::WouldBlock) if finished => break,
            Err(ChanError::WouldBlock) => std::thread::yield_now(),
            Err(e) => panic!("read: {e}"),
        }
    }
    clock.join().unwrap();
    let written = writer.join().unwrap();
    let st = sim.channel_stats(End::Far, chan(1, 5)).unwrap();
    assert_eq!(st.rx_overruns, 0);
    assert_eq!(got.len() as u64, CHUNKS / 20 * 160, "every block read");
    let payload: Vec<u8> = got.into_iter().filter(|&x| x != 0xD5).collect();
    assert!(
        payload.len() > 10 * 160,
        "audio flowed: {} octets",
        payload.len()
    );
    assert!(payload.len() <= written);
    for (k, &x) in payload.iter().enumerate() {
        assert_eq!(x as usize, k % SYMBOLS, "octet {k} out of sequence");
    }
}
