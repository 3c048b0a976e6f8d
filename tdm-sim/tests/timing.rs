//! Timing source selection (DAHDI: the best-priority span not in alarm) and the clocks.

mod common;

use std::time::{Duration, Instant};

use dahdi_driver::{Device, SpanConfig, SpanId};
use tdm_sim::{ClockMode, End, Impairment, Sim, SimError};

fn sources(sim: &Sim, end: End) -> Vec<u16> {
    let dev = sim.device(end);
    dev.spans()
        .unwrap()
        .into_iter()
        .filter(|&s| dev.span_status(s).unwrap().is_sync_source)
        .map(|s| s.0)
        .collect()
}

#[test]
fn best_priority_span_not_in_alarm_gives_timing() {
    let sim = Sim::builder()
        .e1(4)
        .timing_priorities(End::Near, vec![2, 1, 0, 3])
        .build();
    sim.advance(2).unwrap();
    assert_eq!(sources(&sim, End::Near), vec![2]);
    assert_eq!(sim.near().sync_source(), Some(SpanId(2)));
    // The far end (the switch) is the master: priority 0 everywhere, free-running.
    assert_eq!(sources(&sim, End::Far), Vec::<u16>::new());

    let los = |span: u16, on: bool| {
        sim.impair(SpanId(span), End::Near, Impairment::LossOfSignal(on))
            .unwrap();
        sim.advance(2).unwrap();
    };
    los(2, true);
    assert_eq!(sources(&sim, End::Near), vec![1]);
    los(1, true);
    // Span 3 has priority 0: never a source.
    assert_eq!(sources(&sim, End::Near), vec![4]);
    sim.impair(SpanId(4), End::Near, Impairment::Ais(true))
        .unwrap();
    sim.advance(2).unwrap();
    // All down: free-running, no span is the source.
    assert_eq!(sources(&sim, End::Near), Vec::<u16>::new());
    assert_eq!(sim.near().sync_source(), None);
    // Yellow alarm (far end has trouble with our signal) does not stop a span giving timing.
    los(1, false);
    sim.impair(SpanId(1), End::Far, Impairment::LossOfSignal(true))
        .unwrap();
    sim.advance(5).unwrap();
    assert!(sim
        .near()
        .span_status(SpanId(1))
        .unwrap()
        .alarms
        .contains(dahdi_driver::Alarms::YELLOW));
    assert_eq!(sources(&sim, End::Near), vec![1]);
    los(2, false);
    assert_eq!(sources(&sim, End::Near), vec![2]);
    // Reconfiguring priorities moves the source; a shut span is no source.
    sim.near()
        .configure_span(SpanId(4), &SpanConfig::e1_pri(1))
        .unwrap();
    sim.impair(SpanId(4), End::Near, Impairment::Ais(false))
        .unwrap();
    sim.advance(2).unwrap();
    // A tie goes to the lower span number.
    assert_eq!(sources(&sim, End::Near), vec![2]);
    sim.near()
        .configure_span(SpanId(2), &SpanConfig::e1_pri(5))
        .unwrap();
    assert_eq!(sources(&sim, End::Near), vec![4]);
    sim.near().shutdown_span(SpanId(4)).unwrap();
    assert_eq!(sources(&sim, End::Near), vec![1]);
}

#[test]
fn virtual_ticker_counts_chunks() {
    let sim = Sim::e1(1);
    let mut t = sim.near().ticker().unwrap();
    assert_eq!(t.wait(Duration::from_millis(1)).unwrap(), 0);
    sim.advance(7).unwrap();
    assert_eq!(t.wait(Duration::from_millis(1)).unwrap(), 7);
    assert_eq!(sim.now_chunks(), 7);
}

#[test]
fn ticker_says_when_each_tick_was_posted() {
    let sim = Sim::e1(1);
    let mut t = sim.near().ticker().unwrap();
    // Nothing posted yet: no time to tell.
    assert_eq!(t.posted_ago(0), None);
    sim.advance(3).unwrap();
    let gap = Duration::from_millis(30);
    std::thread::sleep(gap);
    sim.advance(2).unwrap();
    assert_eq!(t.wait(Duration::ZERO).unwrap(), 5);
    // Ticks 4 and 5 came together just now; ticks 1 to 3 at least `gap` before them.
    for back in 0..2 {
        let ago = t.posted_ago(back).unwrap();
        assert!(ago < gap, "tick {back} back: {ago:?} ago");
    }
    for back in 2..5 {
        let ago = t.posted_ago(back).unwrap();
        assert!(ago >= gap, "tick {back} back: {ago:?} ago");
    }
    // Before the first tick, and beyond the ticks kept: unknown, never a wrong time.
    assert_eq!(t.posted_ago(5), None);
    sim.advance(200).unwrap();
    t.wait(Duration::ZERO).unwrap();
    assert!(t.posted_ago(63).is_some());
    assert_eq!(t.posted_ago(64), None);
}

#[test]
fn real_time_clock_keeps_time() {
    let sim = Sim::builder().e1(2).clock(ClockMode::RealTime).build();
    assert!(matches!(sim.advance(1), Err(SimError::RealTimeClock)));
    let mut ticker = sim.near().ticker().unwrap();
    // Each reading of the clock is bracketed by two readings of the chunk count, so that
    // this thread being preempted in between cannot pass for drift.
    ticker.wait(Duration::ZERO).unwrap();
    let c0a = sim.now_chunks();
    let start = Instant::now();
    let c0b = sim.now_chunks();
    let mut seen = 0u64;
    while start.elapsed() < Duration::from_millis(1500) {
        seen += ticker.wait(Duration::from_millis(100)).unwrap();
    }
    let c1a = sim.now_chunks();
    let elapsed_ms = start.elapsed().as_millis() as i64;
    let c1b = sim.now_chunks();
    seen += ticker.wait(Duration::ZERO).unwrap();
    let c1c = sim.now_chunks();
    let st = sim.clock_stats();
    eprintln!("real-time: {st:?}");
    // Absolute deadlines: the chunk count follows the monotonic clock within a couple of
    // chunks plus how late the clock thread was woken (a loaded machine), never drifting.
    let slack = 3 + st.max_lateness.as_millis() as i64;
    let (lo, hi) = ((c1a - c0b) as i64, (c1b - c0a) as i64);
    assert!(
        elapsed_ms >= lo - slack && elapsed_ms <= hi + slack,
        "{lo}..{hi} chunks in {elapsed_ms} ms, {st:?}"
    );
    // The ticker saw every chunk since it was reset, once.
    assert!(
        seen as i64 >= lo - 1 && seen as i64 <= (c1c - c0a) as i64 + 1,
        "ticker {seen} vs {lo}..{}",
        c1c - c0a
    );
}
