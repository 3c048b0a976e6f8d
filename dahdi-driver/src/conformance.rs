//! A driver-layer conformance suite that any pair of [`Device`]s joined by one span
//! (the two ends of a "cable") must pass: the simulator's in-process backend, and the
//! real `/dev/dahdi` backend (on cards looped back to each other, or under the
//! `LD_PRELOAD` simulator bridge).
//!
//! Each check is a plain function taking a [`Link`] and a closure that lets time pass
//! (`advance`): virtual time for the simulator, `std::thread::sleep` for real hardware.
//! Checks return a small report or a [`ConformanceError`] naming the check and what
//! differed. They use nothing but the [`Device`] and [`Channel`] traits (and `poll(2)`
//! on [`Channel::raw_fd`]), so line impairments stay the simulator's business; the one
//! alarm check here uses a span shutdown at the far end, which any cable shows as loss
//! of signal at the near end.
//!
//! What is checked, following DAHDI's semantics (`dahdi-base.c`):
//! - [`bring_up`] / [`check_span_status`]: both ends configure and leave alarm, and report
//!   their kind, channel count and line configuration back.
//! - [`check_channel_exclusive`]: a channel opens once (`EBUSY` as [`DeviceError::Busy`]),
//!   a fresh channel has no event queued, and it reopens once closed.
//! - [`check_bchannel_audio`]: every bearer at once, both directions: a G.711 1 kHz tone
//!   plus all 256 codes, with a per-timeslot header so crossed timeslots show, is read at
//!   the other end bit-exact after a fixed delay of idle samples (at most two idle codes,
//!   no data); the fd polls readable.
//! - [`check_hdlc_frames`]: D-channel frames with stuffing-heavy payloads (runs of 0xFF,
//!   0x7E, 0x7D, five-ones patterns straddling octets, a maximal Q.921 frame) arrive
//!   whole, in order, once, FCS stripped, both directions, with no event on a clean line.
//! - [`check_ticker`]: the device's ticker counts the 1 ms chunks that passed.
//! - [`check_alarm_events`]: shutting the far end down makes near-end reads fail with
//!   [`ChanError::EventPending`], the fd polls `POLLPRI`, [`Channel::get_event`] yields
//!   [`Event::Alarm`] and the span reports red; starting it again yields
//!   [`Event::NoAlarm`] and clears the alarm.

use std::fmt::Write as _;
use std::os::fd::RawFd;
use std::time::Duration;

use thiserror::Error;

use crate::device::{
    Alarms, ChanError, Channel, ChannelId, ChannelMode, Device, DeviceError, Event, Law,
    SpanConfig, SpanId, SpanKind, Timeslot,
};

/// A check that failed, and how.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{check}: {detail}")]
pub struct ConformanceError {
    pub check: &'static str,
    pub detail: String,
}

fn fail(check: &'static str, detail: impl Into<String>) -> ConformanceError {
    ConformanceError {
        check,
        detail: detail.into(),
    }
}

/// The two ends of one span and how both are configured.
#[derive(Clone)]
pub struct Link<'a> {
    pub near: &'a dyn Device,
    pub near_span: SpanId,
    pub far: &'a dyn Device,
    pub far_span: SpanId,
    /// The line configuration applied at both ends (the far end gets timing priority 0
    /// if `config` has one, so that exactly one end would be a clock master).
    pub config: SpanConfig,
}

impl<'a> Link<'a> {
    fn far_config(&self) -> SpanConfig {
        SpanConfig {
            timing_priority: 0,
            ..self.config.clone()
        }
    }
    fn end(&self, which: End) -> (&'a dyn Device, SpanId) {
        match which {
            End::Near => (self.near, self.near_span),
            End::Far => (self.far, self.far_span),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Near,
    Far,
}

/// How long checks step and wait, in the devices' time.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time passed per step of a check.
    pub step: Duration,
    /// Longest a check waits for something to happen (alarms to clear, data to arrive).
    pub budget: Duration,
    /// Longest one-way delay, in samples, accepted for B-channel audio.
    pub max_delay_samples: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            step: Duration::from_millis(10),
            // Real framers take a few seconds to declare and clear alarms (DAHDI's
            // alarm debounce is 2.5 s on common cards).
            budget: Duration::from_secs(10),
            max_delay_samples: 8000,
        }
    }
}

/// What [`run_all`] measured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub bring_up: Duration,
    /// Ticks the near end's ticker counted over 50 ms.
    pub ticks_in_50ms: u64,
    pub audio: AudioReport,
    pub hdlc: HdlcReport,
    pub alarm: AlarmReport,
}

/// What [`check_bchannel_audio`] measured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AudioReport {
    pub timeslots: usize,
    /// Bytes compared bit-exact per timeslot and direction.
    pub bytes_per_direction: usize,
    /// Idle samples before the sent sequence, near → far (same on every timeslot).
    pub delay_near_to_far: usize,
    /// Idle samples before the sent sequence, far → near.
    pub delay_far_to_near: usize,
    /// The byte values seen before the sequences arrived (the line's and the channels'
    /// idle codes: DAHDI sends 0xFF on an idle clear channel, `DAHDI_LIN2X(0)` (A-law
    /// 0xD5, µ-law 0xFF) on an idle audio channel).
    pub idle_codes: Vec<u8>,
    /// Events read (and tolerated: buffer overruns/underruns) during the exchange.
    pub events: Vec<Event>,
}

/// What [`check_hdlc_frames`] exchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HdlcReport {
    pub frames_per_direction: usize,
    pub bytes_per_direction: usize,
    /// How long (device time) until the last frame arrived.
    pub elapsed: Duration,
}

/// What [`check_alarm_events`] saw at the near end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlarmReport {
    pub alarms_during_outage: Alarms,
    pub time_to_alarm: Duration,
    pub time_to_clear: Duration,
}

/// The bearer timeslots of a PRI span: E1 1-15 and 17-31, T1 1-23.
pub fn bearer_timeslots(kind: SpanKind) -> Vec<Timeslot> {
    let d = kind.dchannel();
    (1..=kind.channels())
        .map(Timeslot)
        .filter(|&ts| ts != d)
        .collect()
}

/// Runs every check in order: bring-up, span status, channel exclusivity, audio on
/// every bearer, HDLC frames on the D-channel, then the alarm check (which takes the far
/// end down and up again).
pub fn run_all(
    link: &Link<'_>,
    limits: &Limits,
    advance: &mut dyn FnMut(Duration),
) -> Result<Report, ConformanceError> {
    let bring_up = bring_up(link, limits, advance)?;
    check_span_status(link)?;
    check_channel_exclusive(link)?;
    let ticks_in_50ms = check_ticker(link.near, advance)?;
    let audio = check_bchannel_audio(link, &bearer_timeslots(link.config.kind), limits, advance)?;
    let hdlc = check_hdlc_frames(link, limits, advance)?;
    let alarm = check_alarm_events(link, limits, advance)?;
    Ok(Report {
        bring_up,
        ticks_in_50ms,
        audio,
        hdlc,
        alarm,
    })
}

const SERIOUS: Alarms = Alarms::RED
    .union(Alarms::BLUE)
    .union(Alarms::YELLOW)
    .union(Alarms::NOTOPEN)
    .union(Alarms::LOS)
    .union(Alarms::LFA);

fn dev_err(
    check: &'static str,
    what: &'static str,
) -> impl FnOnce(DeviceError) -> ConformanceError {
    move |e| fail(check, format!("{what}: {e}"))
}

/// Configures both ends and lets time pass until neither reports an alarm; returns how
/// long that took.
pub fn bring_up(
    link: &Link<'_>,
    limits: &Limits,
    advance: &mut dyn FnMut(Duration),
) -> Result<Duration, ConformanceError> {
    const CHECK: &str = "bring_up";
    link.near
        .configure_span(link.near_span, &link.config)
        .map_err(dev_err(CHECK, "configure near span"))?;
    link.far
        .configure_span(link.far_span, &link.far_config())
        .map_err(dev_err(CHECK, "configure far span"))?;
    let mut waited = Duration::ZERO;
    loop {
        let near = alarms_of(link, End::Near, CHECK)?;
        let far = alarms_of(link, End::Far, CHECK)?;
        if !near.intersects(SERIOUS) && !far.intersects(SERIOUS) {
            return Ok(waited);
        }
        if waited >= limits.budget {
            return Err(fail(
                CHECK,
                format!("still in alarm after {waited:?}: near {near:?}, far {far:?}"),
            ));
        }
        advance(limits.step);
        waited += limits.step;
    }
}

fn alarms_of(link: &Link<'_>, end: End, check: &'static str) -> Result<Alarms, ConformanceError> {
    let (dev, span) = link.end(end);
    dev.span_status(span)
        .map(|s| s.alarms)
        .map_err(|e| fail(check, format!("{end:?} span_status: {e}")))
}

/// Both ends list their span and report it as configured: kind, channel count, line
/// configuration (framing, coding, CRC-4), no alarm.
pub fn check_span_status(link: &Link<'_>) -> Result<(), ConformanceError> {
    const CHECK: &str = "span_status";
    for (end, cfg) in [
        (End::Near, link.config.clone()),
        (End::Far, link.far_config()),
    ] {
        let (dev, span) = link.end(end);
        let spans = dev
            .spans()
            .map_err(|e| fail(CHECK, format!("{end:?} spans(): {e}")))?;
        if !spans.contains(&span) {
            return Err(fail(
                CHECK,
                format!("{end:?} spans() {spans:?} lacks {span}"),
            ));
        }
        let st = dev
            .span_status(span)
            .map_err(|e| fail(CHECK, format!("{end:?} span_status: {e}")))?;
        let mut problems = String::new();
        if st.span != span {
            let _ = write!(problems, " reports {} for {span};", st.span);
        }
        if st.kind != cfg.kind {
            let _ = write!(problems, " kind {:?}, configured {:?};", st.kind, cfg.kind);
        }
        if st.channels != cfg.kind.channels() {
            let _ = write!(
                problems,
                " {} channels, a {:?} span has {};",
                st.channels,
                cfg.kind,
                cfg.kind.channels()
            );
        }
        match &st.configured {
            None => problems.push_str(" reports no configuration;"),
            Some(c) => {
                if (c.kind, c.framing, c.coding, c.crc4)
                    != (cfg.kind, cfg.framing, cfg.coding, cfg.crc4)
                {
                    let _ = write!(problems, " reports line {c:?}, configured {cfg:?};");
                }
            }
        }
        if st.alarms.intersects(SERIOUS) {
            let _ = write!(problems, " in alarm {:?};", st.alarms);
        }
        if !problems.is_empty() {
            return Err(fail(CHECK, format!("{end:?} {span}:{problems}")));
        }
    }
    Ok(())
}

/// A channel opens once at a time, starts with no event queued, and opens again after
/// it is closed.
pub fn check_channel_exclusive(link: &Link<'_>) -> Result<(), ConformanceError> {
    const CHECK: &str = "channel_exclusive";
    let id = ChannelId {
        span: link.near_span,
        timeslot: Timeslot(1),
    };
    let mode = clear_mode(link.config.kind);
    let mut first = link
        .near
        .open_channel(id, mode)
        .map_err(|e| fail(CHECK, format!("open {id}: {e}")))?;
    if first.id() != id {
        return Err(fail(
            CHECK,
            format!("opened {id}, channel says {}", first.id()),
        ));
    }
    match first.get_event() {
        Ok(None) => {}
        Ok(Some(ev)) => return Err(fail(CHECK, format!("fresh {id} has event {ev:?} queued"))),
        Err(e) => return Err(fail(CHECK, format!("get_event on fresh {id}: {e}"))),
    }
    match link.near.open_channel(id, mode) {
        Err(DeviceError::Busy(busy)) if busy == id => {}
        Err(e) => {
            return Err(fail(
                CHECK,
                format!("second open of {id}: {e}, expected Busy"),
            ))
        }
        Ok(_) => return Err(fail(CHECK, format!("{id} opened twice"))),
    }
    drop(first);
    link.near
        .open_channel(id, mode)
        .map(drop)
        .map_err(|e| fail(CHECK, format!("reopen of {id} after close: {e}")))
}

/// The device's ticker counts the chunks (1 ms each) that pass: 50 ms of time give
/// 50 ticks (45 to 75 are accepted, for real clocks and sleeps), the next call without
/// time passing gives almost none. Returns the count.
pub fn check_ticker(
    device: &dyn Device,
    advance: &mut dyn FnMut(Duration),
) -> Result<u64, ConformanceError> {
    const CHECK: &str = "ticker";
    let mut ticker = device
        .ticker()
        .map_err(|e| fail(CHECK, format!("ticker(): {e}")))?;
    // Start counting from now.
    ticker
        .wait(Duration::ZERO)
        .map_err(|e| fail(CHECK, format!("wait: {e}")))?;
    advance(Duration::from_millis(50));
    let n = ticker
        .wait(Duration::ZERO)
        .map_err(|e| fail(CHECK, format!("wait: {e}")))?;
    if !(45..=75).contains(&n) {
        return Err(fail(CHECK, format!("{n} ticks counted over 50 ms")));
    }
    let again = ticker
        .wait(Duration::ZERO)
        .map_err(|e| fail(CHECK, format!("wait: {e}")))?;
    if again > 5 {
        return Err(fail(
            CHECK,
            format!("{again} more ticks right after counting {n}"),
        ));
    }
    Ok(n)
}

fn clear_mode(kind: SpanKind) -> ChannelMode {
    ChannelMode::Clear {
        blocksize: 160,
        law: kind.default_law(),
    }
}

/// A 1 kHz sine at 8 kHz, amplitude 8000 (about −12 dBm0), `samples` long, encoded.
pub fn tone_1khz(law: Law, samples: usize) -> Vec<u8> {
    (0..samples)
        .map(|n| {
            let phase = 2.0 * std::f64::consts::PI * 1000.0 * n as f64 / 8000.0;
            law.encode((8000.0 * phase.sin()).round() as i16)
        })
        .collect()
}

/// The test sequence of one timeslot and direction: an 8-byte header naming the
/// timeslot and direction, 400 ms of 1 kHz tone, then every code 0..=255 once.
fn audio_sequence(law: Law, ts: Timeslot, dir: End) -> Vec<u8> {
    let d = if dir == End::Near { 0x0F } else { 0xF0 };
    let mut s = vec![0x5A, ts.0, d, !ts.0, 0xA5, ts.0 ^ d, 0x3C, 0xC3];
    s.extend(tone_1khz(law, 3200));
    s.extend(0..=255u8);
    s
}

/// Where `sent` starts in `received`, if it is there whole within `max_delay`.
fn find_sequence(received: &[u8], sent: &[u8], max_delay: usize) -> Option<usize> {
    if received.len() < sent.len() {
        return None;
    }
    let last = (received.len() - sent.len()).min(max_delay);
    (0..=last).find(|&d| received[d..d + sent.len()] == *sent)
}

fn poll_now(fd: RawFd) -> i16 {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN | libc::POLLPRI,
        revents: 0,
    };
    // SAFETY: one valid pollfd; zero timeout.
    let rc = unsafe { libc::poll(&mut pfd, 1, 0) };
    if rc > 0 {
        pfd.revents
    } else {
        0
    }
}

/// One direction of audio on one timeslot: what was sent, how far, what arrived.
struct Flow {
    sent: Vec<u8>,
    sent_upto: usize,
    received: Vec<u8>,
    found: Option<usize>,
    /// The last read found nothing: the next data must make the fd poll readable.
    rx_waiting: bool,
    wakeups: usize,
    missed_wakeups: usize,
}

impl Flow {
    fn new(sent: Vec<u8>) -> Self {
        Flow {
            sent,
            sent_upto: 0,
            received: Vec::new(),
            found: None,
            rx_waiting: false,
            wakeups: 0,
            missed_wakeups: 0,
        }
    }
}

/// One timeslot: its channel at each end and both directions.
struct Slot {
    ts: Timeslot,
    near: Box<dyn Channel>,
    far: Box<dyn Channel>,
    to_far: Flow,
    to_near: Flow,
}

/// Tolerated on B-channels: buffer conditions, which a test loop on a loaded machine
/// may cause, unlike anything about the line.
fn buffer_event(ev: Event) -> bool {
    matches!(ev, Event::ReadOverrun | Event::WriteUnderrun)
}

fn drain_events(
    ch: &mut dyn Channel,
    check: &'static str,
    tolerate: fn(Event) -> bool,
    seen: &mut Vec<Event>,
) -> Result<(), ConformanceError> {
    // DAHDI queues at most DAHDI_MAX_EVENTSIZE (64) events.
    for _ in 0..64 {
        match ch.get_event() {
            Ok(None) => return Ok(()),
            Ok(Some(ev)) if tolerate(ev) => seen.push(ev),
            Ok(Some(ev)) => {
                return Err(fail(
                    check,
                    format!("unexpected event {ev:?} on {}", ch.id()),
                ))
            }
            Err(e) => return Err(fail(check, format!("get_event on {}: {e}", ch.id()))),
        }
    }
    Err(fail(
        check,
        format!("event queue of {} never empties", ch.id()),
    ))
}

/// Every timeslot in `timeslots` carries, in both directions at once, its own sequence
/// (header, 1 kHz tone in the span's law, all 256 codes), read back bit-exact at the
/// other end after the same delay on every timeslot. Reading B-channels goes block by
/// block (blocksize 160), and a channel's fd must poll readable when data arrived after
/// a read found none.
pub fn check_bchannel_audio(
    link: &Link<'_>,
    timeslots: &[Timeslot],
    limits: &Limits,
    advance: &mut dyn FnMut(Duration),
) -> Result<AudioReport, ConformanceError> {
    const CHECK: &str = "bchannel_audio";
    let law = link.config.kind.default_law();
    let mode = clear_mode(link.config.kind);
    if timeslots.is_empty() {
        return Err(fail(CHECK, "no timeslot to check"));
    }
    let mut slots = Vec::new();
    for &ts in timeslots {
        let near_id = ChannelId {
            span: link.near_span,
            timeslot: ts,
        };
        let far_id = ChannelId {
            span: link.far_span,
            timeslot: ts,
        };
        let near = link
            .near
            .open_channel(near_id, mode)
            .map_err(|e| fail(CHECK, format!("open {near_id}: {e}")))?;
        let far = link
            .far
            .open_channel(far_id, mode)
            .map_err(|e| fail(CHECK, format!("open far {far_id}: {e}")))?;
        slots.push(Slot {
            ts,
            near,
            far,
            to_far: Flow::new(audio_sequence(law, ts, End::Near)),
            to_near: Flow::new(audio_sequence(law, ts, End::Far)),
        });
    }

    let mut events = Vec::new();
    let mut buf = [0u8; 160];
    let mut elapsed = Duration::ZERO;
    loop {
        // Transmit as much as each channel takes.
        for s in slots.iter_mut() {
            push_audio(&mut *s.near, &mut s.to_far, CHECK, &mut events)?;
            push_audio(&mut *s.far, &mut s.to_near, CHECK, &mut events)?;
        }
        advance(limits.step);
        elapsed += limits.step;
        // Receive what arrived.
        let mut done = true;
        let mut hopeless = false;
        for s in slots.iter_mut() {
            pull_audio(&mut *s.far, &mut s.to_far, &mut buf, CHECK, &mut events)?;
            pull_audio(&mut *s.near, &mut s.to_near, &mut buf, CHECK, &mut events)?;
            for flow in [&mut s.to_far, &mut s.to_near] {
                if flow.found.is_none() {
                    flow.found =
                        find_sequence(&flow.received, &flow.sent, limits.max_delay_samples);
                }
                done &= flow.found.is_some();
                // Past the longest accepted delay it can no longer show up.
                hopeless |= flow.found.is_none()
                    && flow.received.len() >= limits.max_delay_samples + flow.sent.len();
            }
        }
        if done {
            break;
        }
        if hopeless || elapsed >= limits.budget {
            let mut missing = String::new();
            for s in &slots {
                for (dir, flow) in [("near→far", &s.to_far), ("far→near", &s.to_near)] {
                    if flow.found.is_none() {
                        let _ = write!(
                            missing,
                            "\n  ts {} {dir}: received {} bytes, sent {}; {}",
                            s.ts.0,
                            flow.received.len(),
                            flow.sent.len(),
                            describe_mismatch(&flow.received, &flow.sent, limits.max_delay_samples)
                        );
                    }
                }
            }
            return Err(fail(
                CHECK,
                format!("sequence not received bit-exact within {elapsed:?}:{missing}"),
            ));
        }
    }

    // The delay is a property of the line: the same on every timeslot.
    let d_nf = slots[0].to_far.found.unwrap_or(0);
    let d_fn = slots[0].to_near.found.unwrap_or(0);
    let (mut wakeups, mut missed) = (0, 0);
    let mut idle_codes: Vec<u8> = Vec::new();
    for s in &slots {
        // Before the sequence only idle codes: one value per channel state (not yet
        // open at the sender, open but with nothing to send), never data.
        for (dir, flow) in [("near→far", &s.to_far), ("far→near", &s.to_near)] {
            let d = flow.found.unwrap_or(0).min(flow.received.len());
            let mut distinct: Vec<u8> = Vec::new();
            for &b in &flow.received[..d] {
                if !distinct.contains(&b) {
                    distinct.push(b);
                }
            }
            if distinct.len() > 2 {
                return Err(fail(
                    CHECK,
                    format!(
                        "ts {} {dir}: the {d} bytes before the sequence are not idle: {:02X?}",
                        s.ts.0,
                        &flow.received[..d.min(32)]
                    ),
                ));
            }
            for b in distinct {
                if !idle_codes.contains(&b) {
                    idle_codes.push(b);
                }
            }
        }
    }
    for s in &slots {
        if s.to_far.found != Some(d_nf) || s.to_near.found != Some(d_fn) {
            return Err(fail(
                CHECK,
                format!(
                    "ts {}: delay {:?}/{:?} samples, ts {}: {d_nf}/{d_fn}",
                    s.ts.0, s.to_far.found, s.to_near.found, slots[0].ts.0
                ),
            ));
        }
        wakeups += s.to_far.wakeups + s.to_near.wakeups;
        missed += s.to_far.missed_wakeups + s.to_near.missed_wakeups;
    }
    // A real device may deliver a block between the poll and the read (a race of
    // microseconds, rare); a backend whose fd does not signal misses every time.
    if missed > wakeups / 10 + 1 {
        return Err(fail(
            CHECK,
            format!(
                "raw_fd did not poll readable in {missed} of {wakeups} cases where data \
                 had arrived after a read found none"
            ),
        ));
    }
    Ok(AudioReport {
        timeslots: slots.len(),
        bytes_per_direction: slots[0].to_far.sent.len(),
        delay_near_to_far: d_nf,
        delay_far_to_near: d_fn,
        idle_codes,
        events,
    })
}

fn describe_mismatch(received: &[u8], sent: &[u8], max_delay: usize) -> String {
    // Where the header shows up, and the first differing byte after it.
    let header = &sent[..8.min(sent.len())];
    match received
        .windows(header.len())
        .take(max_delay + 1)
        .position(|w| w == header)
    {
        None => "header never seen".into(),
        Some(d) => {
            let first_diff = received[d..].iter().zip(sent).position(|(a, b)| a != b);
            match first_diff {
                Some(i) => format!(
                    "header at {d}, first difference at byte {i}: got 0x{:02X}, sent 0x{:02X}",
                    received[d + i],
                    sent[i]
                ),
                None => format!(
                    "header at {d}, {} bytes match, the rest is missing",
                    received.len() - d
                ),
            }
        }
    }
}

fn push_audio(
    ch: &mut dyn Channel,
    flow: &mut Flow,
    check: &'static str,
    events: &mut Vec<Event>,
) -> Result<(), ConformanceError> {
    while flow.sent_upto < flow.sent.len() {
        let end = (flow.sent_upto + 160).min(flow.sent.len());
        match ch.write(&flow.sent[flow.sent_upto..end]) {
            Ok(0) => break,
            Ok(n) => flow.sent_upto += n,
            Err(ChanError::WouldBlock) => break,
            Err(ChanError::EventPending) => drain_events(ch, check, buffer_event, events)?,
            Err(e) => return Err(fail(check, format!("write on {}: {e}", ch.id()))),
        }
    }
    Ok(())
}

fn pull_audio(
    ch: &mut dyn Channel,
    flow: &mut Flow,
    buf: &mut [u8],
    check: &'static str,
    events: &mut Vec<Event>,
) -> Result<(), ConformanceError> {
    let polled = if flow.rx_waiting {
        poll_now(ch.raw_fd())
    } else {
        0
    };
    let mut first = true;
    loop {
        match ch.read(buf) {
            Ok(n) => {
                if first && flow.rx_waiting {
                    flow.wakeups += 1;
                    if polled & libc::POLLIN == 0 {
                        flow.missed_wakeups += 1;
                    }
                }
                flow.rx_waiting = false;
                flow.received.extend_from_slice(&buf[..n]);
                if n == 0 {
                    return Ok(());
                }
            }
            Err(ChanError::WouldBlock) => {
                flow.rx_waiting = true;
                return Ok(());
            }
            Err(ChanError::EventPending) => drain_events(ch, check, buffer_event, events)?,
            Err(e) => return Err(fail(check, format!("read on {}: {e}", ch.id()))),
        }
        first = false;
    }
}

/// Frames that exercise HDLC transparency (ISO/IEC 13239 §4.3.1 zero-bit insertion;
/// Q.921 §2.6): runs of flags, escapes and ones, five-ones patterns straddling octet
/// boundaries, all octet values, and a maximal Q.921 frame (address, control and
/// N201 = 260 octets of information, Q.921 §5.9.3).
pub fn stuffing_frames() -> Vec<Vec<u8>> {
    let mut frames = vec![
        vec![0x00, 0x01, 0x7F],
        vec![0xFF; 3],
        vec![0xFF; 64],
        vec![0x7E; 64],
        vec![0x7D; 64],
        [0x7E, 0x7D].repeat(40),
        [0x1F, 0x3E, 0x7C, 0xF8].repeat(20),
        [0xF8, 0x1F].repeat(33),
        (0..=255u8).collect(),
    ];
    // Pseudo-random filler (a fixed LCG) for a maximal frame.
    let mut x: u32 = 0x1234_5678;
    let max: Vec<u8> = (0..264)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect();
    frames.push(max);
    frames.push(vec![0x02, 0x01, 0x7E, 0x7E, 0x7E, 0xFF, 0x7D]);
    frames
}

/// HDLC frames on the D-channel, both directions at once: every frame of
/// [`stuffing_frames`] arrives whole, in order, exactly once, with the FCS stripped,
/// and no event (bad FCS, abort) shows on a clean line.
pub fn check_hdlc_frames(
    link: &Link<'_>,
    limits: &Limits,
    advance: &mut dyn FnMut(Duration),
) -> Result<HdlcReport, ConformanceError> {
    const CHECK: &str = "hdlc_frames";
    let ts = link.config.kind.dchannel();
    let near_id = ChannelId {
        span: link.near_span,
        timeslot: ts,
    };
    let far_id = ChannelId {
        span: link.far_span,
        timeslot: ts,
    };
    let mut near = link
        .near
        .open_channel(near_id, ChannelMode::HdlcFcs)
        .map_err(|e| fail(CHECK, format!("open {near_id}: {e}")))?;
    let mut far = link
        .far
        .open_channel(far_id, ChannelMode::HdlcFcs)
        .map_err(|e| fail(CHECK, format!("open far {far_id}: {e}")))?;

    let frames = stuffing_frames();
    let back: Vec<Vec<u8>> = frames.iter().rev().cloned().collect();
    let (mut to_far, mut to_near) = (0usize, 0usize);
    let (mut at_far, mut at_near): (Vec<Vec<u8>>, Vec<Vec<u8>>) = (Vec::new(), Vec::new());
    let mut buf = vec![0u8; 2048];
    let mut elapsed = Duration::ZERO;
    let no_event = |_: Event| false;
    let mut seen = Vec::new();
    loop {
        // Keep a few frames in flight each way.
        for _ in 0..2 {
            send_frame(&mut *near, &frames, &mut to_far, CHECK, &mut seen)?;
            send_frame(&mut *far, &back, &mut to_near, CHECK, &mut seen)?;
        }
        advance(limits.step);
        elapsed += limits.step;
        recv_frames(&mut *far, &mut at_far, &mut buf, CHECK, no_event, &mut seen)?;
        recv_frames(
            &mut *near,
            &mut at_near,
            &mut buf,
            CHECK,
            no_event,
            &mut seen,
        )?;
        for (dir, got, want) in [
            ("near→far", &at_far, &frames),
            ("far→near", &at_near, &back),
        ] {
            if got.len() > want.len() {
                return Err(fail(
                    CHECK,
                    format!("{dir}: {} frames for {} sent", got.len(), want.len()),
                ));
            }
            for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
                if g != w {
                    return Err(fail(
                        CHECK,
                        format!(
                            "{dir}: frame {i} differs: got {} bytes {:02X?}…, sent {} bytes {:02X?}…",
                            g.len(),
                            &g[..g.len().min(12)],
                            w.len(),
                            &w[..w.len().min(12)]
                        ),
                    ));
                }
            }
        }
        if at_far.len() == frames.len() && at_near.len() == back.len() {
            // Nothing extra trails: give the line a moment and look again.
            advance(limits.step * 5);
            recv_frames(&mut *far, &mut at_far, &mut buf, CHECK, no_event, &mut seen)?;
            recv_frames(
                &mut *near,
                &mut at_near,
                &mut buf,
                CHECK,
                no_event,
                &mut seen,
            )?;
            if at_far.len() != frames.len() || at_near.len() != back.len() {
                return Err(fail(CHECK, "extra frames arrived after the last one sent"));
            }
            return Ok(HdlcReport {
                frames_per_direction: frames.len(),
                bytes_per_direction: frames.iter().map(Vec::len).sum(),
                elapsed,
            });
        }
        if elapsed >= limits.budget {
            return Err(fail(
                CHECK,
                format!(
                    "after {elapsed:?}: near→far {}/{} frames (sent {to_far}), far→near {}/{} (sent {to_near})",
                    at_far.len(),
                    frames.len(),
                    at_near.len(),
                    back.len()
                ),
            ));
        }
    }
}

fn send_frame(
    ch: &mut dyn Channel,
    frames: &[Vec<u8>],
    next: &mut usize,
    check: &'static str,
    seen: &mut Vec<Event>,
) -> Result<(), ConformanceError> {
    let Some(frame) = frames.get(*next) else {
        return Ok(());
    };
    match ch.write(frame) {
        Ok(n) if n == frame.len() => *next += 1,
        Ok(n) => {
            return Err(fail(
                check,
                format!("HDLC write of {} bytes took {n}", frame.len()),
            ))
        }
        Err(ChanError::WouldBlock) => {}
        Err(ChanError::EventPending) => drain_events(ch, check, |_| false, seen)?,
        Err(e) => return Err(fail(check, format!("write on {}: {e}", ch.id()))),
    }
    Ok(())
}

fn recv_frames(
    ch: &mut dyn Channel,
    got: &mut Vec<Vec<u8>>,
    buf: &mut [u8],
    check: &'static str,
    tolerate: fn(Event) -> bool,
    seen: &mut Vec<Event>,
) -> Result<(), ConformanceError> {
    loop {
        match ch.read(buf) {
            Ok(n) => got.push(buf[..n].to_vec()),
            Err(ChanError::WouldBlock) => return Ok(()),
            Err(ChanError::EventPending) => drain_events(ch, check, tolerate, seen)?,
            Err(e) => return Err(fail(check, format!("read on {}: {e}", ch.id()))),
        }
    }
}

/// Shutting the far end down is loss of signal at the near end: the near D-channel's
/// reads fail with [`ChanError::EventPending`], its fd polls `POLLPRI`, `get_event`
/// yields [`Event::Alarm`] (then `None`), and the near span reports red (or another
/// loss-of-signal alarm). Starting the far end again yields [`Event::NoAlarm`] and
/// clears the near span's alarm. The far end is left configured.
pub fn check_alarm_events(
    link: &Link<'_>,
    limits: &Limits,
    advance: &mut dyn FnMut(Duration),
) -> Result<AlarmReport, ConformanceError> {
    const CHECK: &str = "alarm_events";
    let id = ChannelId {
        span: link.near_span,
        timeslot: link.config.kind.dchannel(),
    };
    let mut ch = link
        .near
        .open_channel(id, ChannelMode::HdlcFcs)
        .map_err(|e| fail(CHECK, format!("open {id}: {e}")))?;
    let mut buf = vec![0u8; 2048];

    link.far
        .shutdown_span(link.far_span)
        .map_err(dev_err(CHECK, "shut down far span"))?;
    let time_to_alarm = wait_for_event(&mut *ch, Event::Alarm, &mut buf, limits, advance, CHECK)?;
    let alarms = alarms_of(link, End::Near, CHECK)?;
    let loss = Alarms::RED | Alarms::BLUE | Alarms::LOS | Alarms::LFA;
    if !alarms.intersects(loss) {
        let _ = link.far.configure_span(link.far_span, &link.far_config());
        return Err(fail(
            CHECK,
            format!("after Alarm the near span reports {alarms:?}, no loss of signal"),
        ));
    }

    link.far
        .configure_span(link.far_span, &link.far_config())
        .map_err(dev_err(CHECK, "restart far span"))?;
    let time_to_clear = wait_for_event(&mut *ch, Event::NoAlarm, &mut buf, limits, advance, CHECK)?;
    let after = alarms_of(link, End::Near, CHECK)?;
    if after.intersects(SERIOUS) {
        return Err(fail(
            CHECK,
            format!("after NoAlarm the near span still reports {after:?}"),
        ));
    }
    Ok(AlarmReport {
        alarms_during_outage: alarms,
        time_to_alarm,
        time_to_clear,
    })
}

/// Steps time until a read reports [`ChanError::EventPending`], then checks `POLLPRI`
/// and fetches events until `want` (anything else but buffer events is an error), and
/// that the queue then reads empty and reads no longer report a pending event.
fn wait_for_event(
    ch: &mut dyn Channel,
    want: Event,
    buf: &mut [u8],
    limits: &Limits,
    advance: &mut dyn FnMut(Duration),
    check: &'static str,
) -> Result<Duration, ConformanceError> {
    let mut elapsed = Duration::ZERO;
    loop {
        match ch.read(buf) {
            // Frames may still trickle in or the line may deliver junk: keep reading.
            Ok(_) => continue,
            Err(ChanError::WouldBlock) => {}
            Err(ChanError::EventPending) => {
                if poll_now(ch.raw_fd()) & libc::POLLPRI == 0 {
                    return Err(fail(
                        check,
                        format!(
                            "{:?} pending on {} but its fd does not poll POLLPRI",
                            want,
                            ch.id()
                        ),
                    ));
                }
                let mut got = Vec::new();
                loop {
                    match ch.get_event() {
                        Ok(Some(ev)) => got.push(ev),
                        Ok(None) => break,
                        Err(e) => return Err(fail(check, format!("get_event: {e}"))),
                    }
                    if got.len() > 64 {
                        return Err(fail(check, "event queue never empties"));
                    }
                }
                if got.is_empty() {
                    return Err(fail(
                        check,
                        "read reported EventPending, get_event had none",
                    ));
                }
                if let Some(bad) = got.iter().find(|&&e| {
                    e != want
                        && !buffer_event(e)
                        && !matches!(e, Event::Abort | Event::BadFcs | Event::Overrun)
                }) {
                    return Err(fail(
                        check,
                        format!("expected {want:?}, got {bad:?} (all: {got:?})"),
                    ));
                }
                if got.contains(&want) {
                    if let Err(ChanError::EventPending) = ch.read(buf) {
                        return Err(fail(
                            check,
                            "reads still report EventPending with the queue empty",
                        ));
                    }
                    return Ok(elapsed);
                }
            }
            Err(e) => return Err(fail(check, format!("read on {}: {e}", ch.id()))),
        }
        if elapsed >= limits.budget {
            return Err(fail(check, format!("no {want:?} event within {elapsed:?}")));
        }
        advance(limits.step);
        elapsed += limits.step;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tone_is_periodic_and_not_idle() {
        let t = tone_1khz(Law::ALaw, 16);
        assert_eq!(t[..8], t[8..]);
        assert_eq!(t[0], 0xD5);
        assert!(t.iter().filter(|&&b| b != 0xD5).count() >= 6);
    }

    #[test]
    fn sequence_search() {
        let sent = audio_sequence(Law::ALaw, Timeslot(1), End::Near);
        let mut rx = vec![0xD5; 24];
        rx.extend(&sent);
        assert_eq!(find_sequence(&rx, &sent, 100), Some(24));
        assert_eq!(find_sequence(&rx, &sent, 10), None);
        rx[24 + 500] ^= 1;
        assert_eq!(find_sequence(&rx, &sent, 100), None);
        assert!(describe_mismatch(&rx, &sent, 100).contains("byte 500"));
        // Each timeslot and direction is distinguishable.
        assert_ne!(sent, audio_sequence(Law::ALaw, Timeslot(2), End::Near));
        assert_ne!(sent, audio_sequence(Law::ALaw, Timeslot(1), End::Far));
    }

    #[test]
    fn bearers() {
        let e1 = bearer_timeslots(SpanKind::E1);
        assert_eq!(e1.len(), 30);
        assert!(!e1.contains(&Timeslot(16)));
        assert_eq!(bearer_timeslots(SpanKind::T1).len(), 23);
    }

    #[test]
    fn frames_are_stuffing_heavy() {
        let f = stuffing_frames();
        assert!(f.iter().any(|x| x.iter().all(|&b| b == 0x7E)));
        assert!(f.iter().any(|x| x.iter().all(|&b| b == 0x7D)));
        assert!(f.iter().any(|x| x.iter().all(|&b| b == 0xFF)));
        assert!(f.iter().any(|x| x.len() == 264));
        assert!(f.iter().all(|x| x.len() >= 3));
    }
}
