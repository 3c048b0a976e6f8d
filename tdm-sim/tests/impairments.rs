//! Line impairments and the alarms/events they produce at both ends.

mod common;

use common::*;
use dahdi_driver::{
    Alarms, ChanError, Channel, ChannelMode, Device, Event, Law, SpanConfig, SpanId, SpanKind,
};
use tdm_sim::{End, Impairment, Sim, SlipKind};

struct Ends {
    sim: Sim,
    near_b: Box<dyn Channel>,
    near_d: Box<dyn Channel>,
    far_b: Box<dyn Channel>,
    far_d: Box<dyn Channel>,
}

fn setup() -> Ends {
    setup_kind(SpanKind::E1)
}

fn setup_kind(kind: SpanKind) -> Ends {
    let sim = match kind {
        SpanKind::E1 => Sim::builder().e1(1),
        SpanKind::T1 => Sim::builder().t1(1),
    }
    .delay_chunks(3)
    .build();
    let law = kind.default_law();
    let d = kind.dchannel().0;
    let near_b = open(&sim.near(), 1, 1, clear(law));
    let near_d = open(&sim.near(), 1, d, ChannelMode::HdlcFcs);
    let far_b = open(&sim.far(), 1, 1, clear(law));
    let far_d = open(&sim.far(), 1, d, ChannelMode::HdlcFcs);
    sim.advance(10).unwrap();
    Ends {
        sim,
        near_b,
        near_d,
        far_b,
        far_d,
    }
}

fn alarms(sim: &Sim, end: End) -> Alarms {
    sim.device(end).span_status(SpanId(1)).unwrap().alarms
}

/// Every open channel of the end got exactly `want` (reads fail until fetched).
fn expect_events(e: &mut Ends, end: End, want: &[Event]) {
    let chans = match end {
        End::Near => [&mut e.near_b, &mut e.near_d],
        End::Far => [&mut e.far_b, &mut e.far_d],
    };
    for ch in chans {
        let mut buf = [0u8; 256];
        if !want.is_empty() {
            assert!(
                matches!(ch.read(&mut buf), Err(ChanError::EventPending)),
                "{} {:?}",
                ch.id(),
                end
            );
        }
        assert_eq!(events(ch.as_mut()), want, "{} at {end:?}", ch.id());
        // Drain the audio so that nothing else is pending.
        let _ = read_frames(ch.as_mut());
    }
}

fn impairment_cycle(imp: fn(bool) -> Impairment, at: End, here: Alarms) {
    impairment_cycle_on(SpanKind::E1, imp, at, here)
}

fn impairment_cycle_on(kind: SpanKind, imp: fn(bool) -> Impairment, at: End, here: Alarms) {
    let mut e = setup_kind(kind);
    assert!(alarms(&e.sim, End::Near).is_empty());
    assert!(alarms(&e.sim, End::Far).is_empty());
    expect_events(&mut e, End::Near, &[]);
    expect_events(&mut e, End::Far, &[]);

    e.sim.impair(SpanId(1), at, imp(true)).unwrap();
    e.sim.advance(1).unwrap();
    // The receiver at `at` sees it at once; RAI takes the line delay to come back.
    assert_eq!(alarms(&e.sim, at), here);
    assert!(alarms(&e.sim, at.other()).is_empty());
    e.sim.advance(e.sim.delay_chunks() as u64 + 1).unwrap();
    assert_eq!(alarms(&e.sim, at.other()), Alarms::YELLOW);
    expect_events(&mut e, at, &[Event::Alarm]);
    expect_events(&mut e, at.other(), &[Event::Alarm]);
    // It lasts, without further events.
    e.sim.advance(500).unwrap();
    assert_eq!(alarms(&e.sim, at), here);
    assert_eq!(alarms(&e.sim, at.other()), Alarms::YELLOW);
    expect_events(&mut e, at, &[]);
    expect_events(&mut e, at.other(), &[]);

    e.sim.impair(SpanId(1), at, imp(false)).unwrap();
    e.sim.advance(1).unwrap();
    assert!(alarms(&e.sim, at).is_empty());
    e.sim.advance(e.sim.delay_chunks() as u64 + 1).unwrap();
    assert!(alarms(&e.sim, at.other()).is_empty());
    expect_events(&mut e, at, &[Event::NoAlarm]);
    expect_events(&mut e, at.other(), &[Event::NoAlarm]);

    // The D-channel works again both ways.
    e.near_d.write(b"hello").unwrap();
    e.far_d.write(b"world").unwrap();
    e.sim.advance(10).unwrap();
    assert_eq!(
        read_frames(e.far_d.as_mut()),
        (vec![b"hello".to_vec()], vec![])
    );
    assert_eq!(
        read_frames(e.near_d.as_mut()),
        (vec![b"world".to_vec()], vec![])
    );
}

#[test]
fn loss_of_signal_is_red_here_and_yellow_there() {
    impairment_cycle(
        Impairment::LossOfSignal,
        End::Near,
        Alarms::RED | Alarms::LOS,
    );
    impairment_cycle(
        Impairment::LossOfSignal,
        End::Far,
        Alarms::RED | Alarms::LOS,
    );
}

#[test]
fn t1_loss_of_signal_and_ais() {
    impairment_cycle_on(
        SpanKind::T1,
        Impairment::LossOfSignal,
        End::Near,
        Alarms::RED | Alarms::LOS,
    );
    impairment_cycle_on(SpanKind::T1, Impairment::Ais, End::Far, Alarms::BLUE);
}

#[test]
fn ais_is_blue_here_and_yellow_there() {
    impairment_cycle(Impairment::Ais, End::Far, Alarms::BLUE);
    impairment_cycle(Impairment::Ais, End::Near, Alarms::BLUE);
}

#[test]
fn los_reads_zeros_and_ais_reads_ones() {
    let mut e = setup();
    e.sim
        .impair(SpanId(1), End::Near, Impairment::LossOfSignal(true))
        .unwrap();
    e.sim
        .impair(SpanId(1), End::Far, Impairment::Ais(true))
        .unwrap();
    e.sim.advance(10).unwrap();
    let _ = events(e.near_b.as_mut());
    let _ = events(e.far_b.as_mut());
    let _ = read_frames(e.near_b.as_mut());
    let _ = read_frames(e.far_b.as_mut());
    e.sim.advance(20).unwrap();
    let (n, _) = read_frames(e.near_b.as_mut());
    let (f, _) = read_frames(e.far_b.as_mut());
    assert!(n.concat().iter().all(|&b| b == 0x00) && !n.is_empty());
    assert!(f.concat().iter().all(|&b| b == 0xFF) && !f.is_empty());
}

#[test]
fn no_hdlc_errors_reported_while_in_alarm() {
    let mut e = setup();
    e.near_d.write(&[0x33; 200]).unwrap();
    e.sim.advance(5).unwrap();
    e.sim
        .impair(SpanId(1), End::Far, Impairment::LossOfSignal(true))
        .unwrap();
    e.sim.advance(40).unwrap();
    // Only the alarm: the frame cut short is not reported (DAHDI checks span alarms).
    assert_eq!(read_frames(e.far_d.as_mut()), (vec![], vec![Event::Alarm]));
}

#[test]
fn far_shutdown_is_loss_of_signal_at_the_near_end() {
    let mut e = setup();
    e.sim.far().shutdown_span(SpanId(1)).unwrap();
    assert_eq!(alarms(&e.sim, End::Far), Alarms::NOTOPEN);
    // What was already on the line still arrives.
    e.sim.advance(e.sim.delay_chunks() as u64).unwrap();
    assert!(alarms(&e.sim, End::Near).is_empty());
    e.sim.advance(1).unwrap();
    assert_eq!(alarms(&e.sim, End::Near), Alarms::RED | Alarms::LOS);
    expect_events(&mut e, End::Near, &[Event::Alarm]);
    expect_events(&mut e, End::Far, &[Event::Alarm]);
    e.sim.advance(10).unwrap();
    e.sim
        .far()
        .configure_span(SpanId(1), &SpanConfig::e1_pri(0))
        .unwrap();
    e.sim.advance(1).unwrap();
    // The far receiver found the frame within the chunk, and the near end's RAI in it.
    assert_eq!(alarms(&e.sim, End::Far), Alarms::YELLOW);
    // The near end once the far signal crossed the line; the far end once the RAI stopped.
    e.sim.advance(e.sim.delay_chunks() as u64 + 1).unwrap();
    assert!(alarms(&e.sim, End::Near).is_empty());
    e.sim.advance(e.sim.delay_chunks() as u64 + 1).unwrap();
    assert!(alarms(&e.sim, End::Far).is_empty());
    expect_events(&mut e, End::Near, &[Event::NoAlarm]);
    expect_events(&mut e, End::Far, &[Event::NoAlarm]);
    assert!(e
        .sim
        .near()
        .configure_span(SpanId(1), &SpanConfig::t1_pri(1))
        .is_err());
}

#[test]
fn unconfigured_spans_are_notopen_until_started() {
    let sim = Sim::builder().e1(1).autostart(false).build();
    sim.advance(5).unwrap();
    for end in [End::Near, End::Far] {
        let st = sim.device(end).span_status(SpanId(1)).unwrap();
        assert_eq!(st.alarms, Alarms::NOTOPEN);
        assert!(st.configured.is_none());
    }
    sim.near()
        .configure_span(SpanId(1), &SpanConfig::e1_pri(1))
        .unwrap();
    sim.advance(5).unwrap();
    assert_eq!(alarms(&sim, End::Near), Alarms::RED | Alarms::LOS);
    sim.far()
        .configure_span(SpanId(1), &SpanConfig::e1_pri(0))
        .unwrap();
    sim.advance(5).unwrap();
    assert!(alarms(&sim, End::Near).is_empty());
    assert!(alarms(&sim, End::Far).is_empty());
}

/// A counting ramp through a B-channel shows exactly the frame dropped or repeated.
#[test]
fn slips_drop_or_repeat_one_frame_of_every_timeslot() {
    let sim = Sim::builder().e1(1).delay_chunks(2).build();
    let mut tx: Vec<Box<dyn Channel>> = [1u8, 2, 31]
        .iter()
        .map(|&t| open(&sim.far(), 1, t, clear(Law::ALaw)))
        .collect();
    let mut rx: Vec<Box<dyn Channel>> = [1u8, 2, 31]
        .iter()
        .map(|&t| open(&sim.near(), 1, t, clear(Law::ALaw)))
        .collect();
    let ramp: Vec<u8> = (0..160 * 40).map(|i| (i % 251) as u8).collect();
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); 3];
    for step in 0..40 {
        for (i, t) in tx.iter_mut().enumerate() {
            if step == 0 {
                t.write(&ramp[..160]).unwrap();
            }
            if step + 1 < 40 {
                t.write(&ramp[(step + 1) * 160..(step + 2) * 160]).unwrap();
            }
            read_all(rx[i].as_mut(), &mut got[i]);
        }
        if step == 10 {
            sim.impair(SpanId(1), End::Near, Impairment::Slip(SlipKind::Drop))
                .unwrap();
        }
        if step == 20 {
            sim.impair(SpanId(1), End::Near, Impairment::Slip(SlipKind::Repeat))
                .unwrap();
        }
        if step == 25 {
            sim.impair(SpanId(1), End::Near, Impairment::Slip(SlipKind::Repeat))
                .unwrap();
        }
        sim.advance(20).unwrap();
    }
    for g in &got {
        let start = g.iter().position(|&b| b == 0).unwrap();
        let s = &g[start..start + 160 * 35];
        let mut drops = 0;
        let mut repeats = 0;
        for w in s.windows(2) {
            let d = (w[1] as i32 - w[0] as i32).rem_euclid(251);
            match d {
                1 => {}
                2 => drops += 1,
                0 => repeats += 1,
                _ => panic!("unexpected step {w:?}"),
            }
        }
        assert_eq!((drops, repeats), (1, 2));
    }
    let st = sim.near().span_status(SpanId(1)).unwrap();
    assert_eq!(st.slips, Some(3));
    assert!(
        st.alarms.is_empty(),
        "a controlled slip keeps the frame: {st:?}"
    );
    assert_eq!(
        sim.rx_delay_frames(SpanId(1), End::Near).unwrap(),
        16 - 1 + 2
    );
    // The far end saw none.
    assert_eq!(sim.far().span_status(SpanId(1)).unwrap().slips, Some(0));
}

#[test]
fn slip_needs_room_in_the_delay() {
    let sim = Sim::builder().e1(1).delay_chunks(0).build();
    assert!(sim
        .impair(SpanId(1), End::Near, Impairment::Slip(SlipKind::Drop))
        .is_err());
    assert!(sim
        .impair(SpanId(1), End::Near, Impairment::Slip(SlipKind::Repeat))
        .is_ok());
    assert!(sim
        .impair(SpanId(1), End::Near, Impairment::Slip(SlipKind::Drop))
        .is_ok());
}

#[test]
fn bit_errors_follow_the_rate_and_the_seed() {
    let run = |seed: u64| {
        let sim = Sim::e1(1);
        let mut b = open(&sim.near(), 1, 1, clear(Law::ALaw));
        sim.impair(
            SpanId(1),
            End::Near,
            Impairment::BitErrors { rate: 1e-4, seed },
        )
        .unwrap();
        let mut got = Vec::new();
        for _ in 0..50 {
            sim.advance(20).unwrap();
            let _ = events(b.as_mut());
            read_all(b.as_mut(), &mut got);
        }
        let st = sim.near().span_status(SpanId(1)).unwrap();
        (st.bpv_count, got)
    };
    let (n1, g1) = run(5);
    let (n2, g2) = run(5);
    let (n3, _) = run(6);
    // 2.048 Mbit/s for one second at 1e-4: about 205 errored bits.
    assert!((150..260).contains(&n1), "{n1}");
    assert_eq!((n1, &g1), (n2, &g2));
    assert_ne!(n1, n3);
    assert!(
        g1.iter().any(|&b| b != 0xD5),
        "some errors land on timeslot 1"
    );
}

#[test]
fn scheduled_impairments_run_on_time() {
    let sim = Sim::e1(1);
    let t = sim.now_chunks();
    sim.schedule(
        t + 100,
        SpanId(1),
        End::Near,
        Impairment::LossOfSignal(true),
    )
    .unwrap();
    sim.schedule(
        t + 200,
        SpanId(1),
        End::Near,
        Impairment::LossOfSignal(false),
    )
    .unwrap();
    sim.advance(99).unwrap();
    assert!(alarms(&sim, End::Near).is_empty());
    sim.advance(2).unwrap();
    assert!(alarms(&sim, End::Near).contains(Alarms::RED));
    sim.advance(100).unwrap();
    assert!(alarms(&sim, End::Near).is_empty());
}

#[test]
fn heavy_bit_errors_lose_frame_alignment() {
    let mut e = setup();
    e.sim
        .impair(
            SpanId(1),
            End::Near,
            Impairment::BitErrors {
                rate: 0.05,
                seed: 3,
            },
        )
        .unwrap();
    let mut lost = false;
    for _ in 0..200 {
        e.sim.advance(1).unwrap();
        if alarms(&e.sim, End::Near) == Alarms::RED | Alarms::LFA {
            lost = true;
            break;
        }
    }
    assert!(lost, "errored FAS words never cost the alignment");
    let st = e.sim.near().span_status(SpanId(1)).unwrap();
    assert!(st.fas_count >= 3 && st.bpv_count > 0, "{st:?}");
    e.sim
        .impair(SpanId(1), End::Near, Impairment::NoBitErrors)
        .unwrap();
    e.sim.advance(10).unwrap();
    assert!(alarms(&e.sim, End::Near).is_empty());
    assert!(alarms(&e.sim, End::Far).is_empty());
    // Errored idle flags gave bad frames first (while the span was still in frame).
    let evs = events(e.near_d.as_mut());
    assert!(
        evs.contains(&Event::BadFcs) && evs.contains(&Event::Alarm),
        "{evs:?}"
    );
    // The alarm ended last (a garbled frame closing just after may still give BadFcs).
    let last_alarm = evs.iter().rposition(|e| *e == Event::Alarm);
    let last_clear = evs.iter().rposition(|e| *e == Event::NoAlarm);
    assert!(last_clear > last_alarm, "{evs:?}");
}

#[test]
fn alarm_integration_delays_declaring_and_clearing() {
    let sim = Sim::builder()
        .e1(1)
        .alarm_integration(
            std::time::Duration::from_millis(100),
            std::time::Duration::from_millis(200),
        )
        .build();
    let mut ch = open(&sim.near(), 1, 1, clear(Law::ALaw));
    sim.impair(SpanId(1), End::Near, Impairment::LossOfSignal(true))
        .unwrap();
    sim.advance(99).unwrap();
    assert!(alarms(&sim, End::Near).is_empty());
    assert!(events(ch.as_mut()).is_empty());
    sim.advance(1).unwrap();
    assert_eq!(alarms(&sim, End::Near), Alarms::RED | Alarms::LOS);
    assert_eq!(events(ch.as_mut()), vec![Event::Alarm]);
    // The near framer sends RAI from the first chunk of the outage; the far end receives
    // it a line delay later and reports YELLOW 100 ms after that.
    assert!(alarms(&sim, End::Far).is_empty());
    sim.advance(sim.delay_chunks() as u64 + 1).unwrap();
    assert_eq!(alarms(&sim, End::Far), Alarms::YELLOW);
    // A short return of the signal does not clear anything.
    sim.impair(SpanId(1), End::Near, Impairment::LossOfSignal(false))
        .unwrap();
    sim.advance(50).unwrap();
    assert_eq!(
        alarms(&sim, End::Near),
        Alarms::RED | Alarms::LOS | Alarms::RECOVER
    );
    sim.impair(SpanId(1), End::Near, Impairment::LossOfSignal(true))
        .unwrap();
    sim.advance(10).unwrap();
    assert_eq!(alarms(&sim, End::Near), Alarms::RED | Alarms::LOS);
    sim.impair(SpanId(1), End::Near, Impairment::LossOfSignal(false))
        .unwrap();
    sim.advance(199).unwrap();
    assert!(alarms(&sim, End::Near).contains(Alarms::RECOVER));
    assert!(events(ch.as_mut()).is_empty());
    sim.advance(1).unwrap();
    assert!(alarms(&sim, End::Near).is_empty());
    assert_eq!(events(ch.as_mut()), vec![Event::NoAlarm]);
}

#[test]
fn crc4_counts_errored_submultiframes() {
    let sim = Sim::e1(1);
    sim.advance(10).unwrap();
    // One flipped bit in a bearer: exactly one errored sub-multiframe.
    sim.impair(
        SpanId(1),
        End::Near,
        Impairment::FlipBits {
            timeslot: dahdi_driver::Timeslot(7),
            mask: 0x04,
        },
    )
    .unwrap();
    sim.advance(10).unwrap();
    assert_eq!(sim.near().span_status(SpanId(1)).unwrap().crc4_count, 1);
    // Random errors: about one SMF in five is hit at 1e-4 (2048 bits each).
    sim.impair(
        SpanId(1),
        End::Near,
        Impairment::BitErrors {
            rate: 1e-4,
            seed: 11,
        },
    )
    .unwrap();
    sim.advance(1000).unwrap();
    sim.impair(SpanId(1), End::Near, Impairment::NoBitErrors)
        .unwrap();
    sim.advance(10).unwrap();
    let st = sim.near().span_status(SpanId(1)).unwrap();
    assert!((120..260).contains(&st.crc4_count), "{st:?}");
    assert!(st.crc4_count <= st.bpv_count + 1);
    // The clean direction counted nothing.
    assert_eq!(sim.far().span_status(SpanId(1)).unwrap().crc4_count, 0);
}

#[test]
fn crc4_is_untouched_by_slips_and_off_without_multiframe() {
    let sim = Sim::builder().e1(1).delay_chunks(2).build();
    for kind in [SlipKind::Drop, SlipKind::Repeat, SlipKind::Repeat] {
        sim.advance(37).unwrap();
        sim.impair(SpanId(1), End::Near, Impairment::Slip(kind))
            .unwrap();
    }
    sim.advance(100).unwrap();
    let st = sim.near().span_status(SpanId(1)).unwrap();
    assert_eq!((st.slips, st.crc4_count), (Some(3), 0), "{st:?}");
    // A far end sending no CRC-4: the near end never finds the multiframe, so it counts
    // no errors even on a bad line.
    let sim = Sim::builder().e1(1).autostart(false).build();
    sim.near()
        .configure_span(SpanId(1), &SpanConfig::e1_pri(1))
        .unwrap();
    let cfg = SpanConfig {
        crc4: false,
        ..SpanConfig::e1_pri(0)
    };
    sim.far().configure_span(SpanId(1), &cfg).unwrap();
    sim.impair(
        SpanId(1),
        End::Near,
        Impairment::BitErrors {
            rate: 1e-4,
            seed: 1,
        },
    )
    .unwrap();
    sim.advance(500).unwrap();
    let st = sim.near().span_status(SpanId(1)).unwrap();
    assert_eq!(st.crc4_count, 0, "{st:?}");
    assert!(st.bpv_count > 0);
}

#[test]
fn impairments_stay_on_their_span() {
    let sim = Sim::e1(3);
    let mut chans: Vec<_> = (1..=3u16)
        .map(|s| {
            (
                open(&sim.near(), s, 16, ChannelMode::HdlcFcs),
                open(&sim.far(), s, 16, ChannelMode::HdlcFcs),
            )
        })
        .collect();
    sim.impair(SpanId(2), End::Near, Impairment::LossOfSignal(true))
        .unwrap();
    sim.impair(
        SpanId(3),
        End::Far,
        Impairment::BitErrors {
            rate: 1e-3,
            seed: 8,
        },
    )
    .unwrap();
    for (n, _) in chans.iter_mut() {
        n.write(b"probe").unwrap();
    }
    sim.advance(20).unwrap();
    for (i, (n, f)) in chans.iter_mut().enumerate() {
        let span = SpanId(i as u16 + 1);
        let (near_st, far_st) = (
            sim.near().span_status(span).unwrap(),
            sim.far().span_status(span).unwrap(),
        );
        let (got, evs) = read_frames(f.as_mut());
        match i {
            0 => {
                assert!(near_st.alarms.is_empty() && far_st.alarms.is_empty());
                assert_eq!((near_st.bpv_count, far_st.bpv_count), (0, 0));
                assert_eq!((got, evs), (vec![b"probe".to_vec()], vec![]));
                assert!(events(n.as_mut()).is_empty());
            }
            1 => {
                assert_eq!(near_st.alarms, Alarms::RED | Alarms::LOS);
                assert_eq!(far_st.alarms, Alarms::YELLOW);
                assert_eq!(evs.first(), Some(&Event::Alarm));
                assert_eq!(events(n.as_mut()), vec![Event::Alarm]);
            }
            _ => {
                assert!(far_st.bpv_count > 0 && near_st.bpv_count == 0);
                assert!(near_st.alarms.is_empty());
            }
        }
    }
}
