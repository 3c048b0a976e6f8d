//! The simulator: its spans, its clock, and the two devices (near and far end).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use dahdi_driver::{
    Alarms, Channel, ChannelId, ChannelMode, Device, DeviceError, SpanConfig, SpanId, SpanKind,
    SpanStatus, Ticker,
};

use crate::cable::{Cable, Debounce};
use crate::channel::{BufferConfig, ChanState, ChannelStats, SimChannel};
use crate::prng::BitErrors;
use crate::sync::{now_ns, PiGuard, PiMutex, TickSignal};
use crate::{End, Impairment, SimError};

/// DAHDI's largest block (`DAHDI_MAX_BLOCKSIZE`).
const MAX_BLOCKSIZE: usize = 8192;

/// How the simulator's 8 kHz clock advances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockMode {
    /// Only when [`Sim::advance`] is called: deterministic, for tests.
    Virtual,
    /// A clock thread ticks every millisecond against the monotonic clock (absolute
    /// deadlines, so no drift), counting chunks that were late.
    RealTime,
}

/// Clock figures of a simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockStats {
    /// Chunks (1 ms) run since the start.
    pub chunks: u64,
    /// Real time: chunks completed later than the tolerance after their deadline.
    pub late_chunks: u64,
    /// Real time: the worst lateness seen.
    pub max_lateness: Duration,
    /// Real time: the longest the clock thread woke up after its deadline.
    pub max_wake_latency: Duration,
    /// Real time: the longest one chunk took to run on every span.
    pub max_tick: Duration,
    /// Real time: whether the clock thread runs with `SCHED_FIFO`.
    pub fifo: bool,
}

/// Builds a [`Sim`].
#[derive(Debug, Clone)]
pub struct SimBuilder {
    spans: Vec<SpanKind>,
    delay_chunks: usize,
    numbufs: usize,
    hdlc_queue: usize,
    max_frame: usize,
    buffer_events: bool,
    autostart: bool,
    priorities: [Option<Vec<u8>>; 2],
    mode: ClockMode,
    late_tolerance: Duration,
    fifo_priority: Option<i32>,
    debounce: Debounce,
}

impl Default for SimBuilder {
    fn default() -> Self {
        SimBuilder {
            spans: Vec::new(),
            delay_chunks: 1,
            numbufs: 4,
            hdlc_queue: 32,
            max_frame: crate::hdlc::DEFAULT_MAX_FRAME,
            buffer_events: false,
            autostart: true,
            priorities: [None, None],
            mode: ClockMode::Virtual,
            late_tolerance: Duration::from_millis(1),
            fifo_priority: Some(crate::rt::CLOCK_PRIORITY),
            debounce: Debounce::default(),
        }
    }
}

impl SimBuilder {
    /// Adds `n` E1 spans.
    pub fn e1(mut self, n: usize) -> Self {
        self.spans.extend(std::iter::repeat_n(SpanKind::E1, n));
        self
    }
    /// Adds `n` T1 spans.
    pub fn t1(mut self, n: usize) -> Self {
        self.spans.extend(std::iter::repeat_n(SpanKind::T1, n));
        self
    }
    /// Line delay in chunks, each direction (default 1).
    pub fn delay_chunks(mut self, d: usize) -> Self {
        self.delay_chunks = d;
        self
    }
    /// Clear-channel buffers per direction (default 4, as chan_dahdi's `buffers=4`).
    pub fn numbufs(mut self, n: usize) -> Self {
        self.numbufs = n.max(1);
        self
    }
    /// HDLC frames queued per direction (default 32).
    pub fn hdlc_queue(mut self, n: usize) -> Self {
        self.hdlc_queue = n.max(1);
        self
    }
    /// Queue `ReadOverrun`/`WriteUnderrun` events, as `DAHDI_BUFFER_EVENTS` does (default
    /// off, as in DAHDI).
    pub fn buffer_events(mut self, on: bool) -> Self {
        self.buffer_events = on;
        self
    }
    /// Whether spans start configured (default true: E1/T1 PRI lines; the near end takes
    /// timing from span 1, 2, …; the far end, the switch, is the clock master with
    /// priority 0 everywhere). When false both ends start NOTOPEN until configured.
    pub fn autostart(mut self, on: bool) -> Self {
        self.autostart = on;
        self
    }
    /// Timing priorities used by autostart for one end, per span.
    pub fn timing_priorities(mut self, end: End, prio: Vec<u8>) -> Self {
        self.priorities[end.index()] = Some(prio);
        self
    }
    /// Clock mode (default virtual).
    pub fn clock(mut self, mode: ClockMode) -> Self {
        self.mode = mode;
        self
    }
    /// Real time: how late a chunk may complete after its deadline before it counts as late
    /// (default 1 ms, one chunk of slack as a double-buffered card has).
    pub fn late_tolerance(mut self, d: Duration) -> Self {
        self.late_tolerance = d;
        self
    }
    /// Alarm integration: a line defect must last `declare` before the span reports it,
    /// and be gone for `clear` before the alarm clears (the span shows `RECOVER` in
    /// between). Default zero: reported in the chunk it is seen. Real framers take a few
    /// seconds (2.5 s on DAHDI's common cards).
    pub fn alarm_integration(mut self, declare: Duration, clear: Duration) -> Self {
        let ms = |d: Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
        self.debounce = Debounce {
            declare: ms(declare),
            clear: ms(clear),
        };
        self
    }
    /// Real time: run the clock thread with `SCHED_FIFO` at this priority when allowed
    /// (default [`crate::rt::CLOCK_PRIORITY`], as a card's interrupt preempts ordinary
    /// work; where it is refused a warning says so and the clock runs at normal
    /// priority); `None` keeps the creating process's normal priority.
    pub fn fifo_priority(mut self, prio: Option<i32>) -> Self {
        self.fifo_priority = prio;
        self
    }

    pub fn build(self) -> Sim {
        let cables = self
            .spans
            .iter()
            .enumerate()
            .map(|(i, &kind)| {
                let cfg = |end: usize| -> Option<SpanConfig> {
                    if !self.autostart {
                        return None;
                    }
                    let prio = match &self.priorities[end] {
                        Some(p) => p.get(i).copied().unwrap_or(0),
                        None if end == 0 => u8::try_from(i + 1).unwrap_or(u8::MAX),
                        None => 0,
                    };
                    Some(match kind {
                        SpanKind::E1 => SpanConfig::e1_pri(prio),
                        SpanKind::T1 => SpanConfig::t1_pri(prio),
                    })
                };
                PiMutex::new(Cable::new(
                    kind,
                    [cfg(0), cfg(1)],
                    self.delay_chunks,
                    self.debounce,
                ))
            })
            .collect();
        let shared = Arc::new(Shared {
            cables,
            kinds: self.spans.clone(),
            ticks: TickSignal::new(),
            advance_lock: Mutex::new(()),
            schedule: Mutex::new(Vec::new()),
            has_schedule: AtomicBool::new(false),
            buffers: BufferConfig {
                numbufs: self.numbufs,
                hdlc_queue: self.hdlc_queue,
                max_frame: self.max_frame,
                buffer_events: self.buffer_events,
            },
            delay_chunks: self.delay_chunks,
            mode: self.mode,
            late: AtomicU64::new(0),
            max_late_ns: AtomicU64::new(0),
            max_wake_ns: AtomicU64::new(0),
            max_tick_ns: AtomicU64::new(0),
            fifo: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        });
        let clock = match self.mode {
            ClockMode::Virtual => None,
            ClockMode::RealTime => {
                let s = shared.clone();
                let tol = self.late_tolerance;
                let prio = self.fifo_priority;
                Some(
                    std::thread::Builder::new()
                        .name("tdm-sim-clock".into())
                        .spawn(move || run_clock(s, tol, prio))
                        .ok(),
                )
                .flatten()
            }
        };
        Sim { shared, clock }
    }
}

struct Scheduled {
    at: u64,
    span: SpanId,
    end: End,
    what: Impairment,
}

pub(crate) struct Shared {
    cables: Box<[PiMutex<Cable>]>,
    kinds: Vec<SpanKind>,
    ticks: TickSignal,
    advance_lock: Mutex<()>,
    schedule: Mutex<Vec<Scheduled>>,
    has_schedule: AtomicBool,
    buffers: BufferConfig,
    delay_chunks: usize,
    mode: ClockMode,
    late: AtomicU64,
    max_late_ns: AtomicU64,
    max_wake_ns: AtomicU64,
    max_tick_ns: AtomicU64,
    fifo: AtomicBool,
    stop: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn lock_cable(&self, i: usize) -> PiGuard<'_, Cable> {
        self.cables[i].lock()
    }

    fn cable_index(&self, span: SpanId) -> Option<usize> {
        let i = (span.0 as usize).checked_sub(1)?;
        (i < self.cables.len()).then_some(i)
    }

    /// Runs one chunk on every span. A span whose lock a user holds (an HDLC read or
    /// write, an event, a status query: B-channel audio takes no lock) is not waited
    /// for at once: the other spans run first, and by then it is usually free.
    fn tick(&self) {
        if self.has_schedule.load(Ordering::Relaxed) {
            self.run_schedule();
        }
        let mut busy = [0usize; 16];
        let mut nbusy = 0;
        for (i, c) in self.cables.iter().enumerate() {
            match c.try_lock() {
                Some(mut g) => g.tick(),
                None if nbusy < busy.len() => {
                    busy[nbusy] = i;
                    nbusy += 1;
                }
                None => c.lock().tick(),
            }
        }
        for &i in &busy[..nbusy] {
            self.cables[i].lock().tick();
        }
        self.ticks.tick();
    }

    fn run_schedule(&self) {
        let now = self.ticks.now();
        let due: Vec<Scheduled> = {
            let mut s = lock(&self.schedule);
            let (due, rest): (Vec<_>, Vec<_>) = s.drain(..).partition(|x| x.at <= now);
            *s = rest;
            self.has_schedule.store(!s.is_empty(), Ordering::Relaxed);
            due
        };
        for d in due {
            if let Err(e) = self.impair(d.span, d.end, d.what) {
                tracing::warn!(error = %e, "scheduled impairment failed");
            }
        }
    }

    fn impair(&self, span: SpanId, end: End, what: Impairment) -> Result<(), SimError> {
        let i = self.cable_index(span).ok_or(SimError::NoSuchSpan(span))?;
        let mut c = self.lock_cable(i);
        let e = end.index();
        match what {
            Impairment::LossOfSignal(on) => c.ends[e].rx.los = on,
            Impairment::Ais(on) => c.ends[e].rx.ais = on,
            Impairment::Slip(kind) => {
                if !c.slip(e, kind) {
                    return Err(SimError::SlipOutOfRange);
                }
            }
            Impairment::BitErrors { rate, seed } => {
                if !(rate > 0.0 && rate < 1.0) {
                    return Err(SimError::InvalidRate(rate));
                }
                c.ends[e].rx.bit_errors = Some(BitErrors::new(rate, seed));
            }
            Impairment::NoBitErrors => c.ends[e].rx.bit_errors = None,
            Impairment::FlipBits { timeslot, mask } => {
                if timeslot.0 as usize >= crate::cable::TS {
                    return Err(SimError::NoSuchTimeslot(timeslot));
                }
                c.ends[e].rx.flips.push((timeslot.0, mask));
            }
            Impairment::DChannelCut(on) => c.dchannel_cut = on,
            Impairment::AbortDChannelFrame => c.abort_tx[e] = true,
        }
        Ok(())
    }

    fn sync_source(&self, end: usize) -> Option<SpanId> {
        let mut best: Option<(u8, usize)> = None;
        for (i, c) in self.cables.iter().enumerate() {
            let c = c.lock();
            let e = &c.ends[end];
            let Some(cfg) = &e.config else { continue };
            // A span whose receiver is in red or blue alarm cannot give timing; yellow only
            // says the far end has trouble with our signal, ours is fine (as wct4xxp).
            if cfg.timing_priority == 0
                || e.alarms
                    .intersects(Alarms::RED | Alarms::BLUE | Alarms::NOTOPEN)
            {
                continue;
            }
            if best.is_none_or(|(p, _)| cfg.timing_priority < p) {
                best = Some((cfg.timing_priority, i));
            }
        }
        best.map(|(_, i)| SpanId(i as u16 + 1))
    }
}

pub(crate) fn sleep_until_ns(deadline: u64) {
    let ts = libc::timespec {
        tv_sec: (deadline / 1_000_000_000) as libc::time_t,
        tv_nsec: (deadline % 1_000_000_000) as libc::c_long,
    };
    loop {
        // SAFETY: absolute sleep on the monotonic clock with a valid timespec.
        let rc = unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &ts,
                std::ptr::null_mut(),
            )
        };
        if rc != libc::EINTR {
            break;
        }
    }
}

/// The real-time clock: chunk `k` is due at `start + (k + 1)` ms, an absolute deadline, so
/// a late wake-up is caught up and never accumulates as drift.
fn run_clock(shared: Arc<Shared>, tolerance: Duration, fifo: Option<i32>) {
    if let Some(prio) = fifo {
        if crate::rt::enter_fifo("tdm-sim-clock", prio) {
            shared.fifo.store(true, Ordering::Relaxed);
        }
    }
    let tol = tolerance.as_nanos() as u64;
    let start = now_ns();
    let mut k: u64 = 0;
    while !shared.stop.load(Ordering::Relaxed) {
        sleep_until_ns(start + (k + 1) * 1_000_000);
        let now = now_ns();
        shared.max_wake_ns.fetch_max(
            now.saturating_sub(start + (k + 1) * 1_000_000),
            Ordering::Relaxed,
        );
        while start + (k + 1) * 1_000_000 <= now {
            let deadline = start + (k + 1) * 1_000_000;
            let t0 = now_ns();
            shared.tick();
            k += 1;
            let done = now_ns();
            shared.max_tick_ns.fetch_max(done - t0, Ordering::Relaxed);
            let late = done.saturating_sub(deadline);
            if late > tol {
                shared.late.fetch_add(1, Ordering::Relaxed);
            }
            shared.max_late_ns.fetch_max(late, Ordering::Relaxed);
        }
    }
}

/// A simulator of E1/T1 spans: each span a cable between a near end (the gateway's) and a
/// far end (the switch's), each end seen as a [`Device`].
pub struct Sim {
    shared: Arc<Shared>,
    clock: Option<JoinHandle<()>>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.clock.take() {
            let _ = h.join();
        }
    }
}

impl Sim {
    pub fn builder() -> SimBuilder {
        SimBuilder::default()
    }

    /// `n` E1 spans in virtual time, default settings.
    pub fn e1(n: usize) -> Sim {
        Sim::builder().e1(n).build()
    }

    /// The device of one end.
    pub fn device(&self, end: End) -> SimDevice {
        SimDevice {
            shared: self.shared.clone(),
            end,
        }
    }

    /// The gateway's end.
    pub fn near(&self) -> SimDevice {
        self.device(End::Near)
    }

    /// The far switch's end.
    pub fn far(&self) -> SimDevice {
        self.device(End::Far)
    }

    /// Number of spans.
    pub fn span_count(&self) -> usize {
        self.shared.cables.len()
    }

    /// The line delay, in chunks, each direction.
    pub fn delay_chunks(&self) -> usize {
        self.shared.delay_chunks
    }

    /// The delay, in frames (125 µs), of what `end` receives on `span` now: the nominal
    /// delay give or take the slips so far.
    pub fn rx_delay_frames(&self, span: SpanId, end: End) -> Result<usize, SimError> {
        let i = self
            .shared
            .cable_index(span)
            .ok_or(SimError::NoSuchSpan(span))?;
        Ok(self.shared.lock_cable(i).rx_lag_frames(end.index()))
    }

    /// Virtual time: runs `chunks` chunks (milliseconds) on every span.
    pub fn advance(&self, chunks: u64) -> Result<(), SimError> {
        if self.shared.mode != ClockMode::Virtual {
            return Err(SimError::RealTimeClock);
        }
        let _g = lock(&self.shared.advance_lock);
        for _ in 0..chunks {
            self.shared.tick();
        }
        Ok(())
    }

    /// Chunks run since the start.
    pub fn now_chunks(&self) -> u64 {
        self.shared.ticks.now()
    }

    /// Applies an impairment now. `end` is the receiving end for line impairments (loss of
    /// signal, AIS, slips, bit errors), the sending end for an HDLC abort; a D-channel cut
    /// takes both directions.
    pub fn impair(&self, span: SpanId, end: End, what: Impairment) -> Result<(), SimError> {
        self.shared.impair(span, end, what)
    }

    /// Applies an impairment when the clock reaches chunk `at` (before that chunk runs).
    pub fn schedule(
        &self,
        at: u64,
        span: SpanId,
        end: End,
        what: Impairment,
    ) -> Result<(), SimError> {
        self.shared
            .cable_index(span)
            .ok_or(SimError::NoSuchSpan(span))?;
        let mut s = lock(&self.shared.schedule);
        s.push(Scheduled {
            at,
            span,
            end,
            what,
        });
        self.shared.has_schedule.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Counters of an open channel.
    pub fn channel_stats(&self, end: End, channel: ChannelId) -> Option<ChannelStats> {
        let i = self.shared.cable_index(channel.span)?;
        let c = self.shared.lock_cable(i);
        c.ends[end.index()]
            .slots
            .get(channel.timeslot.0 as usize)?
            .as_ref()
            .map(|ch| *ch.stats)
    }

    /// The clock's figures.
    pub fn clock_stats(&self) -> ClockStats {
        ClockStats {
            chunks: self.shared.ticks.now(),
            late_chunks: self.shared.late.load(Ordering::Relaxed),
            max_lateness: Duration::from_nanos(self.shared.max_late_ns.load(Ordering::Relaxed)),
            max_wake_latency: Duration::from_nanos(self.shared.max_wake_ns.load(Ordering::Relaxed)),
            max_tick: Duration::from_nanos(self.shared.max_tick_ns.load(Ordering::Relaxed)),
            fifo: self.shared.fifo.load(Ordering::Relaxed),
        }
    }
}

/// One end of every span, as a DAHDI-like device.
#[derive(Clone)]
pub struct SimDevice {
    shared: Arc<Shared>,
    end: End,
}

impl SimDevice {
    /// Which end this is.
    pub fn end(&self) -> End {
        self.end
    }

    /// The span giving this end its timing, or `None` when free-running.
    pub fn sync_source(&self) -> Option<SpanId> {
        self.shared.sync_source(self.end.index())
    }

    fn index(&self, span: SpanId) -> Result<usize, DeviceError> {
        self.shared
            .cable_index(span)
            .ok_or(DeviceError::NoSuchSpan(span))
    }
}

impl Device for SimDevice {
    fn spans(&self) -> Result<Vec<SpanId>, DeviceError> {
        Ok((1..=self.shared.cables.len())
            .map(|i| SpanId(i as u16))
            .collect())
    }

    fn span_status(&self, span: SpanId) -> Result<SpanStatus, DeviceError> {
        let i = self.index(span)?;
        let sync = self.sync_source();
        let c = self.shared.lock_cable(i);
        let e = &c.ends[self.end.index()];
        let kind = self.shared.kinds[i];
        Ok(SpanStatus {
            span,
            name: format!("TDMSIM/{}/{}", self.end.name(), span.0),
            description: format!(
                "tdm-sim {kind:?} span {} ({} end), delay {} ms",
                span.0,
                self.end.name(),
                self.shared.delay_chunks
            ),
            kind,
            configured: e.config.clone(),
            alarms: e.alarms,
            slips: Some(e.slips),
            bpv_count: e.bpv,
            crc4_count: e.crc4_errors(),
            fas_count: e.fas_errors(),
            is_sync_source: sync == Some(span),
            channels: kind.channels(),
        })
    }

    fn configure_span(&self, span: SpanId, config: &SpanConfig) -> Result<(), DeviceError> {
        let i = self.index(span)?;
        let kind = self.shared.kinds[i];
        if config.kind != kind {
            return Err(DeviceError::InvalidConfig(format!(
                "{span} is a {kind:?} span, not {:?}",
                config.kind
            )));
        }
        self.shared.lock_cable(i).ends[self.end.index()].start(config.clone());
        Ok(())
    }

    fn shutdown_span(&self, span: SpanId) -> Result<(), DeviceError> {
        let i = self.index(span)?;
        self.shared.lock_cable(i).ends[self.end.index()].stop();
        Ok(())
    }

    fn open_channel(
        &self,
        channel: ChannelId,
        mode: ChannelMode,
    ) -> Result<Box<dyn Channel>, DeviceError> {
        let i = self.index(channel.span)?;
        let kind = self.shared.kinds[i];
        let ts = channel.timeslot.0;
        if ts == 0 || ts > kind.channels() {
            return Err(DeviceError::NoSuchChannel(channel));
        }
        let mut state = match mode {
            ChannelMode::Clear { blocksize, law } => {
                if blocksize == 0 || blocksize > MAX_BLOCKSIZE {
                    return Err(DeviceError::InvalidConfig(format!(
                        "blocksize {blocksize} outside 1..={MAX_BLOCKSIZE}"
                    )));
                }
                ChanState::clear(blocksize, law, self.shared.buffers)
            }
            ChannelMode::HdlcFcs => ChanState::hdlc(self.shared.buffers),
        };
        let mut c = self.shared.lock_cable(i);
        let end = &mut c.ends[self.end.index()];
        let slot = &mut end.slots[ts as usize];
        if slot.is_some() {
            return Err(DeviceError::Busy(channel));
        }
        state.in_alarm = !end.alarms.is_empty();
        let chan = state.shared.clone();
        *slot = Some(state);
        drop(c);
        Ok(Box::new(SimChannel {
            shared: self.shared.clone(),
            cable: i,
            end: self.end.index(),
            id: channel,
            fd: Cell::new(-1),
            chan,
            idle_at: None,
        }))
    }

    fn ticker(&self) -> Result<Box<dyn Ticker>, DeviceError> {
        Ok(Box::new(SimTicker {
            last: self.shared.ticks.now(),
            shared: self.shared.clone(),
        }))
    }
}

/// Follows the simulator's clock.
struct SimTicker {
    shared: Arc<Shared>,
    last: u64,
}

impl Ticker for SimTicker {
    fn wait(&mut self, timeout: Duration) -> Result<u64, DeviceError> {
        let now = self.shared.ticks.wait_past(self.last, timeout);
        let n = now - self.last;
        self.last = now;
        Ok(n)
    }

    fn posted_ago(&self, back: u64) -> Option<Duration> {
        let at = self.shared.ticks.posted_ns(self.last.checked_sub(back)?)?;
        Some(Duration::from_nanos(now_ns().saturating_sub(at)))
    }
}
