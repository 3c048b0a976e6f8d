//! Demo: two E1 spans in real time, driven only through the `dahdi_driver` traits.
//!
//! 1. The near end plays tones on some bearers; the far end measures level and frequency.
//! 2. Both ends exchange HDLC frames on the D-channel (TS16).
//! 3. A loss of signal hits the near end of span 1: alarms and events at both ends, the
//!    timing source moves to span 2; then the signal returns and everything clears.
//!
//! `cargo run --release -p tdm-sim --bin tdm-sim-demo`

use std::time::{Duration, Instant};

use dahdi_driver::{ChanError, Channel, ChannelId, ChannelMode, Device, Law, SpanId, Timeslot};
use tdm_sim::tone::{measure, ToneGen};
use tdm_sim::{ClockMode, End, Impairment, Sim, SimDevice};

const BLOCK: usize = 160;
const CANDIDATES: [f64; 6] = [350.0, 440.0, 697.0, 1000.0, 1336.0, 2000.0];

fn id(span: u16, ts: u8) -> ChannelId {
    ChannelId {
        span: SpanId(span),
        timeslot: Timeslot(ts),
    }
}

fn clear() -> ChannelMode {
    ChannelMode::Clear {
        blocksize: BLOCK,
        law: Law::ALaw,
    }
}

struct TonePath {
    span: u16,
    ts: u8,
    freq: f64,
    dbm0: f64,
    gen: ToneGen,
    tx: Box<dyn Channel>,
    rx: Box<dyn Channel>,
    heard: Vec<u8>,
}

struct DPair {
    span: u16,
    near: Box<dyn Channel>,
    far: Box<dyn Channel>,
}

fn alarms_line(dev: &SimDevice, span: u16) -> String {
    match dev.span_status(SpanId(span)) {
        Ok(st) => format!(
            "{:<4} span {span}: alarms {:<16} sync source {:<5} slips {} bpv {} crc4 errors {}",
            dev.end().name(),
            if st.alarms.is_empty() {
                "none".to_string()
            } else {
                format!("{:?}", st.alarms)
                    .trim_start_matches("Alarms(")
                    .trim_end_matches(')')
                    .to_string()
            },
            st.is_sync_source,
            st.slips.unwrap_or(0),
            st.bpv_count,
            st.crc4_count
        ),
        Err(e) => format!("span {span}: {e}"),
    }
}

/// Reads everything a channel has; events are printed.
fn drain(ch: &mut dyn Channel, who: &str, out: &mut Vec<u8>, frames: bool) {
    let mut buf = [0u8; 2048];
    loop {
        match ch.read(&mut buf) {
            Ok(n) => {
                if frames {
                    println!("  {who} ← frame of {n} bytes: {:02x?}", &buf[..n]);
                } else {
                    out.extend_from_slice(&buf[..n]);
                }
            }
            Err(ChanError::WouldBlock) => return,
            Err(ChanError::EventPending) => match ch.get_event() {
                Ok(Some(ev)) => println!("  {who} event on {}: {ev:?}", ch.id()),
                Ok(None) => {}
                Err(e) => {
                    println!("  {who}: get_event failed: {e}");
                    return;
                }
            },
            Err(e) => {
                println!("  {who}: read failed: {e}");
                return;
            }
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Sim::builder()
        .e1(2)
        .delay_chunks(2)
        .clock(ClockMode::RealTime)
        .fifo_priority(Some(10))
        .build();
    let (near, far) = (sim.near(), sim.far());
    println!(
        "tdm-sim demo: 2 E1 spans (CCS, HDB3, CRC-4), real-time 8 kHz clock in 1 ms chunks, line delay {} ms each way",
        sim.delay_chunks()
    );
    println!(
        "near end = the gateway (timing priorities 1, 2); far end = the switch (clock master)"
    );
    for span in 1..=2 {
        println!("  {}", alarms_line(&near, span));
        println!("  {}", alarms_line(&far, span));
    }

    let plan = [
        (1u16, 1u8, 1000.0, -10.0),
        (1, 2, 440.0, -16.0),
        (1, 30, 2000.0, -6.0),
        (2, 5, 697.0, -20.0),
    ];
    let mut tones = Vec::new();
    for &(span, ts, freq, dbm0) in &plan {
        tones.push(TonePath {
            span,
            ts,
            freq,
            dbm0,
            gen: ToneGen::new(Law::ALaw, freq, dbm0),
            tx: near.open_channel(id(span, ts), clear())?,
            rx: far.open_channel(id(span, ts), clear())?,
            heard: Vec::new(),
        });
    }
    let mut dpairs = Vec::new();
    for span in 1..=2 {
        dpairs.push(DPair {
            span,
            near: near.open_channel(id(span, 16), ChannelMode::HdlcFcs)?,
            far: far.open_channel(id(span, 16), ChannelMode::HdlcFcs)?,
        });
    }

    let mut ticker = near.ticker()?;
    let start = Instant::now();
    let mut since = 0u64;
    let mut block = [0u8; BLOCK];
    let mut phase = 0;
    let mut unused = Vec::new();
    println!("\n[1] tones, near → far, on 4 bearers (1 s of audio each)");
    for t in tones.iter_mut() {
        for _ in 0..2 {
            t.gen.fill(&mut block);
            t.tx.write(&block)?;
        }
    }
    loop {
        since += ticker.wait(Duration::from_millis(100))?;
        let at = start.elapsed();
        if since >= 20 {
            since -= 20;
            for t in tones.iter_mut() {
                t.gen.fill(&mut block);
                // An event (alarm) blocks writes until fetched, as DAHDI's ELAST does.
                for _ in 0..2 {
                    match t.tx.write(&block) {
                        Ok(_) | Err(ChanError::WouldBlock) => break,
                        Err(ChanError::EventPending) => {
                            while let Ok(Some(ev)) = t.tx.get_event() {
                                if phase != 3 {
                                    println!("  near event on {}: {ev:?}", t.tx.id());
                                }
                            }
                        }
                        Err(e) => {
                            println!("  write {}: {e}", t.tx.id());
                            break;
                        }
                    }
                }
                let quiet = phase == 3;
                let mut got = Vec::new();
                if quiet {
                    // Alarm phase: events are printed from the D-channels only.
                    let mut buf = [0u8; 2048];
                    loop {
                        match t.rx.read(&mut buf) {
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                            Err(ChanError::EventPending) => {
                                let _ = t.rx.get_event();
                            }
                            Err(_) => break,
                        }
                    }
                } else {
                    drain(t.rx.as_mut(), "far", &mut got, false);
                }
                t.heard.extend_from_slice(&got);
            }
            for d in dpairs.iter_mut() {
                drain(
                    d.near.as_mut(),
                    &format!("near span {}", d.span),
                    &mut unused,
                    true,
                );
                drain(
                    d.far.as_mut(),
                    &format!("far  span {}", d.span),
                    &mut unused,
                    true,
                );
            }
        }
        if phase == 0 && at >= Duration::from_millis(1300) {
            for t in &tones {
                // The last second heard: skip the first blocks (line delay, idle code).
                let tail = &t.heard[t.heard.len().saturating_sub(8000)..];
                let r = measure(Law::ALaw, tail, &CANDIDATES);
                println!(
                    "  span {} TS{:<2} sent {:>6.1} Hz at {:>5.1} dBm0 → far end hears {:>6.1} Hz at {:>5.1} dBm0 (purity {:.3})",
                    t.span, t.ts, t.freq, t.dbm0, r.freq, r.level_dbm0, r.purity
                );
            }
            println!("\n[2] HDLC frames on the D-channel (TS16), FCS added and checked by the simulated line");
            let sabme = [0x00u8, 0x01, 0x7F];
            let ua = [0x00u8, 0x01, 0x73];
            let info: Vec<u8> = [
                0x00u8, 0x01, 0x00, 0x00, 0x08, 0x02, 0x00, 0x01, 0x05, 0x7E, 0x7D, 0xFF,
            ]
            .to_vec();
            for d in dpairs.iter_mut() {
                println!("  near span {} → frame {:02x?}", d.span, sabme);
                d.near.write(&sabme)?;
                println!("  far  span {} → frame {:02x?}", d.span, ua);
                d.far.write(&ua)?;
                println!("  near span {} → frame {:02x?}", d.span, info);
                d.near.write(&info)?;
            }
            phase = 1;
        }
        if phase == 1 && at >= Duration::from_millis(2500) {
            println!("\n[3] loss of signal at the near end of span 1");
            sim.impair(SpanId(1), End::Near, Impairment::LossOfSignal(true))?;
            phase = 2;
        }
        if phase == 2 && at >= Duration::from_millis(2600) {
            for span in 1..=2 {
                println!("  {}", alarms_line(&near, span));
                println!("  {}", alarms_line(&far, span));
            }
            println!("  near timing source: {:?}", near.sync_source());
            phase = 3;
        }
        if phase == 3 && at >= Duration::from_millis(7000) {
            println!("\n[4] signal restored");
            sim.impair(SpanId(1), End::Near, Impairment::LossOfSignal(false))?;
            phase = 4;
        }
        if phase == 4 && at >= Duration::from_millis(7100) {
            for span in 1..=2 {
                println!("  {}", alarms_line(&near, span));
                println!("  {}", alarms_line(&far, span));
            }
            println!("  near timing source: {:?}", near.sync_source());
            let d = &mut dpairs[0];
            let msg = b"\x02\x01\x00\x00\x08\x01\x81\x45\x08\x02\x80\x90";
            println!("  far  span 1 → frame {:02x?}", msg);
            d.far.write(msg)?;
            phase = 5;
        }
        if phase == 5 && at >= Duration::from_millis(8000) {
            for t in &tones {
                let tail = &t.heard[t.heard.len().saturating_sub(4000)..];
                let r = measure(Law::ALaw, tail, &CANDIDATES);
                println!(
                    "  span {} TS{:<2} after the outage: {:>6.1} Hz at {:>5.1} dBm0",
                    t.span, t.ts, r.freq, r.level_dbm0
                );
            }
            phase = 6;
        }
        if phase == 6 && at >= Duration::from_millis(10_000) {
            break;
        }
    }
    let st = sim.clock_stats();
    println!(
        "\nclock: {} chunks in {:.2} s, {} late (worst {:?}, worst wake-up {:?})",
        st.chunks,
        start.elapsed().as_secs_f64(),
        st.late_chunks,
        st.max_lateness,
        st.max_wake_latency
    );
    for d in &dpairs {
        for (end, e) in [("near", End::Near), ("far", End::Far)] {
            if let Some(s) = sim.channel_stats(e, id(d.span, 16)) {
                println!(
                    "  {end:<4} span {} D-channel: {} frames sent, {} received, {} bad FCS, {} aborts",
                    d.span, s.frames_sent, s.frames_received, s.bad_fcs, s.aborts
                );
            }
        }
    }
    Ok(())
}
