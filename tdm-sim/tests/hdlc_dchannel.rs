//! HDLC on the D-channel: real bits in TS16 (E1) / channel 24 (T1).

mod common;

use common::*;
use dahdi_driver::{ChanError, ChannelMode, Device, Event, SpanId, SpanKind};
use tdm_sim::{End, Impairment, Sim};

fn stuffing_heavy_frames() -> Vec<Vec<u8>> {
    let mut v = vec![
        vec![0xFF; 64],
        vec![0x7E; 64],
        vec![0x7D; 64],
        vec![0x7E, 0x7D, 0xFF, 0x7E, 0x7D, 0xFF],
        // Five-ones patterns straddling octets.
        vec![0xF8, 0x1F, 0xF0, 0x3F, 0xE0, 0x7F, 0xC0, 0xFF, 0x80],
        vec![0x02, 0x01, 0x7F],
        (0..=255u8).collect(),
        // A maximal Q.921 frame: 260 octets of information plus address and control.
        (0..264u32).map(|i| (i * 37 % 256) as u8).collect(),
    ];
    v.push(vec![0xFF; 1024]);
    v
}

fn dchan(kind: SpanKind) -> u8 {
    kind.dchannel().0
}

fn round_trip(sim: &Sim, kind: SpanKind) {
    let d = dchan(kind);
    let mut n = open(&sim.near(), 1, d, ChannelMode::HdlcFcs);
    let mut f = open(&sim.far(), 1, d, ChannelMode::HdlcFcs);
    let frames = stuffing_heavy_frames();
    for fr in &frames {
        assert_eq!(n.write(fr).unwrap(), fr.len());
        let rev: Vec<u8> = fr.iter().rev().copied().collect();
        assert_eq!(f.write(&rev).unwrap(), fr.len());
    }
    // Total about 2 KB each way with stuffing: 64 kbit/s moves 8 octets a ms.
    sim.advance(400).unwrap();
    let (got_f, ev_f) = read_frames(f.as_mut());
    let (got_n, ev_n) = read_frames(n.as_mut());
    assert!(ev_f.is_empty() && ev_n.is_empty(), "{ev_f:?} {ev_n:?}");
    assert_eq!(got_f, frames);
    let rev: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| f.iter().rev().copied().collect())
        .collect();
    assert_eq!(got_n, rev);
    let st = sim.channel_stats(End::Near, chan(1, d)).unwrap();
    assert_eq!(st.frames_sent, frames.len() as u64);
    assert_eq!(st.frames_received, frames.len() as u64);
}

#[test]
fn e1_stuffing_heavy_frames_round_trip_through_ts16() {
    round_trip(&Sim::e1(1), SpanKind::E1);
}

#[test]
fn t1_stuffing_heavy_frames_round_trip_through_channel_24() {
    round_trip(&Sim::builder().t1(1).build(), SpanKind::T1);
}

#[test]
fn frames_are_really_bit_stuffed_on_the_line() {
    // The far end reads TS16 as a clear channel: the raw line octets.
    let sim = Sim::e1(1);
    let mut n = open(&sim.near(), 1, 16, ChannelMode::HdlcFcs);
    let mut raw = open(&sim.far(), 1, 16, clear(dahdi_driver::Law::ALaw));
    sim.advance(2).unwrap();
    n.write(&[0xFF; 20]).unwrap();
    sim.advance(60).unwrap();
    let mut line = Vec::new();
    read_all(raw.as_mut(), &mut line);
    // Idle flags, then 160 content bits + 32 stuffed zeros + 16 FCS bits (+ stuffing).
    // The first chunk was on the line before the channel opened: the idle code.
    assert!(line[..8].iter().all(|&o| o == 0xD5), "{:02x?}", &line[..16]);
    assert!(
        line[8..16].iter().all(|&o| o == 0x7E),
        "{:02x?}",
        &line[..16]
    );
    let bits: Vec<u8> = line
        .iter()
        .flat_map(|o| (0..8).rev().map(move |i| (o >> i) & 1))
        .collect();
    let mut runs = Vec::new();
    let mut run = 0;
    for &b in &bits {
        if b == 1 {
            run += 1;
        } else {
            if run > 0 {
                runs.push(run);
            }
            run = 0;
        }
    }
    // Only flags have six ones; the 160 ones of content come in runs of five.
    assert!(runs.iter().all(|&r| r == 5 || r == 6 || r < 5), "{runs:?}");
    assert!(runs.iter().filter(|&&r| r == 5).count() >= 32);
    assert!(!runs.contains(&7));
}

#[test]
fn flipped_bit_gives_bad_fcs_at_the_receiver() {
    let sim = Sim::e1(1);
    let mut n = open(&sim.near(), 1, 16, ChannelMode::HdlcFcs);
    let mut f = open(&sim.far(), 1, 16, ChannelMode::HdlcFcs);
    // 100 octets of 0x55 take about 13 chunks; flip one bit in the middle.
    n.write(&[0x55; 100]).unwrap();
    sim.advance(6).unwrap();
    sim.impair(
        SpanId(1),
        End::Far,
        Impairment::FlipBits {
            timeslot: dahdi_driver::Timeslot(16),
            mask: 0x08,
        },
    )
    .unwrap();
    sim.advance(20).unwrap();
    let mut buf = [0u8; 256];
    assert!(matches!(f.read(&mut buf), Err(ChanError::EventPending)));
    assert_eq!(f.get_event().unwrap(), Some(Event::BadFcs));
    assert!(matches!(f.read(&mut buf), Err(ChanError::WouldBlock)));
    // The line is fine again.
    n.write(b"next frame").unwrap();
    sim.advance(5).unwrap();
    assert_eq!(f.read(&mut buf).unwrap(), 10);
    assert_eq!(&buf[..10], b"next frame");
    assert_eq!(sim.channel_stats(End::Far, chan(1, 16)).unwrap().bad_fcs, 1);
}

#[test]
fn bit_errors_never_deliver_a_corrupt_frame() {
    let sim = Sim::e1(1);
    sim.impair(
        SpanId(1),
        End::Far,
        Impairment::BitErrors {
            rate: 2e-4,
            seed: 99,
        },
    )
    .unwrap();
    let mut n = open(&sim.near(), 1, 16, ChannelMode::HdlcFcs);
    let mut f = open(&sim.far(), 1, 16, ChannelMode::HdlcFcs);
    let mut good = 0;
    let mut bad = 0;
    for i in 0..400u32 {
        let frame: Vec<u8> = (0..60u32).map(|k| (k * 13 + i) as u8).collect();
        n.write(&frame).unwrap();
        sim.advance(10).unwrap();
        let (frames, evs) = read_frames(f.as_mut());
        for fr in frames {
            assert_eq!(fr, frame, "a frame arrived corrupted");
            good += 1;
        }
        bad += evs
            .iter()
            .filter(|e| matches!(e, Event::BadFcs | Event::Abort))
            .count();
    }
    // About 500 bits per frame at 2e-4: roughly one frame in ten is hit.
    assert!(bad > 10 && good > 300, "good {good} bad {bad}");
    let st = sim.far().span_status(SpanId(1)).unwrap();
    assert!(st.bpv_count > 100, "{st:?}");
    assert!(st.alarms.is_empty());
}

#[test]
fn abort_is_reported_and_link_recovers() {
    let sim = Sim::e1(1);
    let mut n = open(&sim.near(), 1, 16, ChannelMode::HdlcFcs);
    let mut f = open(&sim.far(), 1, 16, ChannelMode::HdlcFcs);
    n.write(&[0x42; 200]).unwrap();
    sim.advance(5).unwrap();
    sim.impair(SpanId(1), End::Near, Impairment::AbortDChannelFrame)
        .unwrap();
    n.write(b"after abort").unwrap();
    sim.advance(10).unwrap();
    let (frames, evs) = read_frames(f.as_mut());
    assert_eq!(evs, vec![Event::Abort]);
    assert_eq!(frames, vec![b"after abort".to_vec()]);
}

#[test]
fn dchannel_cut_stops_frames_without_a_span_alarm() {
    let sim = Sim::e1(1);
    let mut n = open(&sim.near(), 1, 16, ChannelMode::HdlcFcs);
    let mut f = open(&sim.far(), 1, 16, ChannelMode::HdlcFcs);
    n.write(&[0x42; 100]).unwrap();
    sim.advance(4).unwrap();
    sim.impair(SpanId(1), End::Near, Impairment::DChannelCut(true))
        .unwrap();
    sim.advance(20).unwrap();
    // The frame in flight was cut: all ones is an abort.
    let (frames, evs) = read_frames(f.as_mut());
    assert!(frames.is_empty());
    assert_eq!(evs, vec![Event::Abort]);
    n.write(b"lost").unwrap();
    f.write(b"lost too").unwrap();
    sim.advance(20).unwrap();
    for ch in [&mut n, &mut f] {
        let (frames, evs) = read_frames(ch.as_mut());
        assert!(frames.is_empty() && evs.is_empty(), "{frames:?} {evs:?}");
    }
    for end in [sim.near(), sim.far()] {
        assert!(end.span_status(SpanId(1)).unwrap().alarms.is_empty());
    }
    sim.impair(SpanId(1), End::Near, Impairment::DChannelCut(false))
        .unwrap();
    // A frame needs an opening flag the receiver sees: let flags flow again first.
    sim.advance(2).unwrap();
    n.write(b"back").unwrap();
    sim.advance(10).unwrap();
    let (frames, _) = read_frames(f.as_mut());
    assert_eq!(frames, vec![b"back".to_vec()]);
}

#[test]
fn hdlc_limits() {
    let sim = Sim::builder().e1(1).hdlc_queue(2).build();
    let mut n = open(&sim.near(), 1, 16, ChannelMode::HdlcFcs);
    assert!(matches!(
        n.write(&[0; 1025]),
        Err(ChanError::TooLarge(1025))
    ));
    n.write(&[1; 10]).unwrap();
    n.write(&[2; 10]).unwrap();
    assert!(matches!(n.write(&[3; 10]), Err(ChanError::WouldBlock)));
    assert!(n.set_law(dahdi_driver::Law::ALaw).is_err());
}

#[test]
fn rx_queue_overflow_is_an_overrun_event() {
    let sim = Sim::builder().e1(1).hdlc_queue(2).build();
    let mut n = open(&sim.near(), 1, 16, ChannelMode::HdlcFcs);
    let mut f = open(&sim.far(), 1, 16, ChannelMode::HdlcFcs);
    for i in 0..4u8 {
        n.write(&[i; 4]).unwrap();
        sim.advance(5).unwrap();
    }
    let (frames, evs) = read_frames(f.as_mut());
    assert_eq!(evs, vec![Event::Overrun, Event::Overrun]);
    assert_eq!(frames, vec![vec![0u8; 4], vec![1u8; 4]]);
}

#[test]
fn slip_in_the_middle_of_a_frame_is_a_bad_fcs() {
    let sim = Sim::builder().e1(1).delay_chunks(2).build();
    let mut n = open(&sim.near(), 1, 16, ChannelMode::HdlcFcs);
    let mut f = open(&sim.far(), 1, 16, ChannelMode::HdlcFcs);
    n.write(&[0x5A; 120]).unwrap();
    sim.advance(6).unwrap();
    sim.impair(
        SpanId(1),
        End::Far,
        Impairment::Slip(tdm_sim::SlipKind::Drop),
    )
    .unwrap();
    sim.advance(20).unwrap();
    assert_eq!(read_frames(f.as_mut()), (vec![], vec![Event::BadFcs]));
    n.write(b"after the slip").unwrap();
    sim.advance(6).unwrap();
    assert_eq!(
        read_frames(f.as_mut()),
        (vec![b"after the slip".to_vec()], vec![])
    );
}

#[test]
fn hdlc_fd_polls_for_frames_and_errors() {
    let sim = Sim::e1(1);
    let mut n = open(&sim.near(), 1, 16, ChannelMode::HdlcFcs);
    let mut f = open(&sim.far(), 1, 16, ChannelMode::HdlcFcs);
    let mut buf = [0u8; 64];
    assert!(matches!(f.read(&mut buf), Err(ChanError::WouldBlock)));
    assert_eq!(poll_now(f.as_ref()), 0);
    n.write(b"frame").unwrap();
    sim.advance(4).unwrap();
    assert_eq!(poll_now(f.as_ref()) & libc::POLLIN, libc::POLLIN);
    assert_eq!(poll_now(f.as_ref()) & libc::POLLPRI, 0);
    assert_eq!(f.read(&mut buf).unwrap(), 5);
    assert!(matches!(f.read(&mut buf), Err(ChanError::WouldBlock)));
    assert_eq!(poll_now(f.as_ref()), 0);
    n.write(&[0x55; 40]).unwrap();
    sim.advance(2).unwrap();
    sim.impair(
        SpanId(1),
        End::Far,
        Impairment::FlipBits {
            timeslot: dahdi_driver::Timeslot(16),
            mask: 0x01,
        },
    )
    .unwrap();
    sim.advance(8).unwrap();
    assert_eq!(poll_now(f.as_ref()) & libc::POLLPRI, libc::POLLPRI);
    assert_eq!(f.get_event().unwrap(), Some(Event::BadFcs));
    assert_eq!(poll_now(f.as_ref()), 0);
}
