//! One media thread: its channels, grouped by the tick (mod 20) their 20 ms blocks
//! complete on, so each tick touches a twentieth of them.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use dahdi_driver::{ChanError, Ticker};

use super::channel::{MediaChannel, Outgoing, Phase};
use super::io::{self, IoBackend, IoMode, PacketIo, Poller, PrefetchStage, Waker};
use super::lateness::Lateness;
use super::stats::WorkerStats;
use super::{ChannelKey, Control, MediaEvent};
use crate::media::FRAME_SAMPLES;

/// Ticks per 20 ms packet.
const PHASES: usize = 20;
/// A hunting channel locks on a block read by a late serve (which may have completed
/// on any of the ticks it covers) only after this many ticks of hunting: until then it
/// waits for a block read on time, so late ticks do not pile channels onto one phase.
const HUNT_LIMIT: u32 = 60;
/// Queued sends handed to the kernel together within a tick (io_uring).
const SEND_BATCH: usize = 32;
/// Sockets read at the tick: channels whose sockets are read in one submission (with
/// the sends queued by the channels served before them), right before they are served.
const READ_CHUNK: usize = SEND_BATCH;
/// Silence written ahead of the first block: 5 ms of cushion in the B-channel's
/// transmit buffer, so a write on the tick the previous block ran out never underruns.
const TX_CUSHION: usize = 40;
/// At most this many blocks taken from one B-channel per tick (catching up after a
/// late tick; more means the channel was stalled and the rest is dropped by DAHDI).
const MAX_BLOCKS_PER_TICK: usize = 4;
/// One tick of the line clock (DAHDI's 8 samples).
const TICK: Duration = Duration::from_millis(1);
/// While datagrams keep arriving between ticks, the sockets are looked at no more often
/// than this: a burst of arrivals costs at most one wake-up per quarter tick, and a
/// datagram waits at most about this long for its jitter buffer.
const RTP_POLL: Duration = Duration::from_micros(250);
/// The thread sleeps on its sockets until this long after the tick it waits for is
/// predicted, then finds the tick already counted (one wake-up per tick, no futex wait).
const WAKE_AFTER: Duration = Duration::from_micros(30);
/// Closer to the tick than this, it waits on the ticker itself.
const MIN_SOCKET_SLEEP: Duration = Duration::from_micros(60);
/// One tick in this many is waited for on the ticker itself (the sockets' sleep ends
/// [`CHECK_GUARD`] before it), measuring again when ticks come.
const CHECK_EVERY: u64 = 64;
const CHECK_GUARD: Duration = Duration::from_micros(200);
/// Every this many checks the measured phase replaces the prediction even when it is
/// later (a line clock slower than the host's).
const RESET_EVERY: u64 = 16;
/// A measured tick this much later than predicted replaces the prediction at once (a
/// stall, or a clock that jumped).
const RESET_LATE: Duration = Duration::from_micros(300);
/// With nothing to serve (no channel, no hairpin) the thread sleeps this long at most;
/// a control message wakes it at once.
const IDLE_WAIT: Duration = Duration::from_millis(100);
/// How many channels ahead of the one served each prefetch stage is taken (see
/// [`MediaWorker::prefetch_ahead`]); `None`: the B-channel's shared ring, after its
/// handle came in with the buffers.
const SERVE_AHEAD: [(Option<PrefetchStage>, usize); 4] = [
    (Some(PrefetchStage::Slot), 8),
    (Some(PrefetchStage::State), 6),
    (Some(PrefetchStage::Buffers), 4),
    (None, 2),
];
/// One RTP socket in this many (by slot) has its datagrams' arrival stamped by the
/// kernel, for the rtp → jitter buffer latency figure (see [`MediaWorker::add`]).
const STAMP_EVERY: usize = 16;
/// The epoll token of the control [`Waker`](io::Waker).
const CONTROL_TOKEN: u64 = u64::MAX;

/// Channels whose sockets are due for reading at the tick: a range of a phase's list or
/// of the hunting list.
enum Due {
    Phase(usize, std::ops::Range<usize>),
    Hunting(std::ops::Range<usize>),
}

/// One packet interval of ours (20 ms): at the tick a socket normally holds the one
/// datagram that arrived since the channel's last serve, this long ago.
const PACKET_NS: i64 = 20_000_000;
/// An RTP header and 20 ms of G.711: a shorter datagram is a shorter packet (10 ms
/// ptime, two per interval) or an RFC 4733 event, which may come with others.
const FULL_PACKET: usize = 12 + 160;

/// The sequence number of an RTP datagram (RFC 3550 §5.1), if it is one.
fn rtp_seq(data: &[u8]) -> Option<u16> {
    match data {
        [b0, _, s0, s1, ..] if data.len() >= 12 && b0 >> 6 == 2 => {
            Some(u16::from_be_bytes([*s0, *s1]))
        }
        _ => None,
    }
}

/// Sockets read at the tick: whether the socket a datagram was just read from may hold
/// more, so that it is read again (until empty) rather than left to the next tick. In
/// steady state it holds the one datagram of the interval, which arrived after the last
/// read (`last_ns`, 0 for none) about one interval after its predecessor and carries the
/// sequence number after the last read's; a second receive would only come back empty.
/// More may wait behind it when it has waited longer than an interval (we fell behind),
/// when it came after a gap of over an interval and a half (a burst after a network stall
/// starts so), when it is short, when it is not `in_sequence` (a duplicate, a reordering,
/// a loss, or no RTP: the times alone do not show these), or when its arrival is not
/// known. A datagram left queued without any of these is read at the next tick, which
/// then finds it over an interval old and drains the socket; its frame was not due
/// before then.
fn may_have_more(
    wall_ns: i64,
    arrival_ns: Option<i64>,
    last_ns: i64,
    len: usize,
    in_sequence: bool,
) -> bool {
    let Some(at) = arrival_ns else {
        return true;
    };
    !in_sequence
        || last_ns == 0
        || wall_ns - at > PACKET_NS
        || at - last_ns > PACKET_NS + PACKET_NS / 2
        || len < FULL_PACKET
}

/// A media thread's state. [`MediaEngine`](super::MediaEngine) runs it on its own
/// thread; tests drive [`MediaWorker::run_tick`] directly in virtual time.
pub struct MediaWorker {
    control: Receiver<Control>,
    events: Sender<MediaEvent>,
    stats: Arc<WorkerStats>,
    slots: Vec<Option<Box<MediaChannel>>>,
    free: Vec<usize>,
    index: HashMap<ChannelKey, usize>,
    groups: [Vec<usize>; PHASES],
    /// Channels added, waiting for the tick of their phase to be flushed and locked.
    arriving: [Vec<usize>; PHASES],
    hunting: Vec<usize>,
    poller: Poller,
    waker: Arc<Waker>,
    pio: PacketIo,
    /// Slots of the sockets being read (reused).
    touched: Vec<u32>,
    /// Owners of queued sends that failed when flushed (reused).
    failed_sends: Vec<u32>,
    out: Box<Outgoing>,
    tick: u64,
    /// How long the last tick's work took (wall).
    last_took: Duration,
    shutdown: bool,
    /// B-channel ↔ B-channel hairpins, served every tick.
    hairpins: Vec<super::hairpin::Hairpin>,
    /// Serves (phase or hunting list) so far: a channel read in this one is not read
    /// again in it (see [`MediaChannel::read_serve`]).
    serve_no: u64,
    /// The wall-clock time (`CLOCK_REALTIME` ns) of this tick's wake-up.
    wake_ns: i64,
}

impl MediaWorker {
    pub fn new(control: Receiver<Control>, events: Sender<MediaEvent>) -> std::io::Result<Self> {
        Self::with_stats(control, events, WorkerStats::new())
    }

    /// As [`MediaWorker::new`], publishing its counters into `stats`.
    pub fn with_stats(
        control: Receiver<Control>,
        events: Sender<MediaEvent>,
        stats: Arc<WorkerStats>,
    ) -> std::io::Result<Self> {
        Self::with_io(control, events, stats, IoMode::Auto)
    }

    /// As [`MediaWorker::with_stats`], with packet I/O by `io` (io_uring when the
    /// kernel runs it, or plain system calls).
    pub fn with_io(
        control: Receiver<Control>,
        events: Sender<MediaEvent>,
        stats: Arc<WorkerStats>,
        io: IoMode,
    ) -> std::io::Result<Self> {
        let mut pio = PacketIo::new(io);
        let mut poller = Poller::new(64)?;
        let waker = Arc::new(Waker::new()?);
        poller.add(waker.fd(), CONTROL_TOKEN)?;
        if pio.armed() {
            // The control eventfd is watched in the ring too: the thread sleeps in one
            // io_uring_enter, not in epoll_wait.
            if let Err(e) = pio.arm_control(waker.fd()) {
                tracing::warn!(error = %e, "media thread: io_uring control poll; receives by readiness");
                pio = PacketIo::new(IoMode::UringReadiness);
            }
        }
        stats
            .uring
            .store(pio.backend() == IoBackend::Uring, Relaxed);
        stats.uring_armed.store(pio.armed(), Relaxed);
        stats.reads_at_tick.store(pio.reads_at_tick(), Relaxed);
        Ok(MediaWorker {
            control,
            events,
            stats,
            slots: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            groups: Default::default(),
            arriving: Default::default(),
            hunting: Vec::new(),
            poller,
            waker,
            pio,
            touched: Vec::new(),
            failed_sends: Vec::new(),
            out: Box::new(Outgoing::new()),
            tick: 0,
            last_took: Duration::ZERO,
            shutdown: false,
            hairpins: Vec::new(),
            serve_no: 0,
            wake_ns: 0,
        })
    }

    pub fn stats(&self) -> Arc<WorkerStats> {
        self.stats.clone()
    }

    pub fn channel_count(&self) -> usize {
        self.index.len()
    }

    pub fn is_shut_down(&self) -> bool {
        self.shutdown
    }

    /// Wakes this worker's thread when it sleeps on its sockets: call
    /// [`Waker::wake`] after sending it a [`Control`] (the [`MediaEngine`](super::MediaEngine)
    /// does). Without it a control message waits for the next tick that has work.
    pub fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    /// The thread body until [`Control::Shutdown`]. The thread sleeps in one
    /// `epoll_wait` on its RTP sockets and its control [`Waker`] until the next tick
    /// that has work (the tick of a channel's 20 ms block, every tick while a channel
    /// hunts for its phase or a hairpin runs), predicted from the ticks seen so far;
    /// a datagram or a control message wakes it before. While datagrams keep coming
    /// between ticks the sockets are looked at most every `RTP_POLL`. With a handful
    /// of calls that is a few wake-ups per 20 ms instead of one every 250 µs.
    pub fn run(mut self, mut ticker: Box<dyn Ticker>) {
        let mut clock = TickClock::default();
        // Ticks after the last one served that the thread means to wake for (`None`:
        // nothing to serve); more than that when it is served is a late wake-up.
        let mut plan = Some(1);
        let mut last_look: Option<Instant> = None;
        while !self.shutdown {
            match ticker.wait(Duration::ZERO) {
                Ok(0) => {}
                Ok(n) => {
                    let now = Instant::now();
                    let late = Lateness::at(&*ticker, n, plan, TICK);
                    clock.observe(now, n, false);
                    self.serve_ticks(now, n, late);
                    plan = self.ticks_until_due();
                    continue;
                }
                Err(e) => {
                    self.ticker_failed(e);
                    continue;
                }
            }
            plan = self.ticks_until_due();
            let now = Instant::now();
            let mut sleep = match plan {
                None => Sleep::Sockets(IDLE_WAIT),
                Some(k) => match clock.predict(k) {
                    None => Sleep::Ticker(TICK * 2),
                    Some(at) => {
                        let wake = if clock.check_due(k) {
                            at.checked_sub(CHECK_GUARD).unwrap_or(at)
                        } else {
                            at + WAKE_AFTER
                        };
                        if wake <= now + MIN_SOCKET_SLEEP {
                            Sleep::Ticker(TICK * 2)
                        } else {
                            Sleep::Sockets(wake - now)
                        }
                    }
                },
            };
            if let (Sleep::Sockets(d), Some(t)) = (sleep, last_look) {
                let quiet_until = t + RTP_POLL;
                if quiet_until > now + MIN_SOCKET_SLEEP {
                    sleep = Sleep::Ticker((quiet_until - now).min(d));
                }
            }
            match sleep {
                Sleep::Ticker(timeout) => match ticker.wait(timeout) {
                    Ok(0) => {}
                    Ok(n) => {
                        let now = Instant::now();
                        let late = Lateness::at(&*ticker, n, plan, TICK);
                        clock.observe(now, n, true);
                        self.serve_ticks(now, n, late);
                        plan = self.ticks_until_due();
                    }
                    Err(e) => self.ticker_failed(e),
                },
                Sleep::Sockets(timeout) => {
                    // Past the next tick: a control message must wake the thread.
                    let long = timeout > TICK + WAKE_AFTER;
                    if long {
                        self.waker.arm();
                        if !self.control.is_empty() {
                            self.waker.disarm();
                            self.drain_control(now);
                            continue;
                        }
                    }
                    if self.pio.armed() {
                        let r = self.pio.wait(timeout);
                        if long {
                            self.waker.disarm();
                        }
                        if let Err(e) = r {
                            tracing::warn!(error = %e, "media thread: io_uring wait");
                            std::thread::sleep(TICK);
                        }
                        let now = Instant::now();
                        if self.receive_armed(now, false) > 0 {
                            last_look = Some(now);
                        }
                        continue;
                    }
                    let r = self.poller.wait(timeout);
                    if long {
                        self.waker.disarm();
                    }
                    match r {
                        Ok(0) => {}
                        Ok(_) => {
                            let now = Instant::now();
                            if self.take_ready(now) > 0 {
                                last_look = Some(now);
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "media thread: epoll_wait");
                            std::thread::sleep(TICK);
                        }
                    }
                }
            }
        }
        self.stats.cpu_ns.store(io::thread_cpu_ns(), Relaxed);
        tracing::debug!(channels = self.index.len(), "media thread stops");
    }

    fn ticker_failed(&mut self, e: dahdi_driver::DeviceError) {
        tracing::error!(error = %e, "media thread: ticker failed");
        std::thread::sleep(TICK);
        self.drain_control(Instant::now());
    }

    /// How many ticks after the last one served the next one with work comes: 1 while
    /// a channel hunts for its phase or a hairpin runs (they are served every tick),
    /// else the first phase that has channels; `None` with nothing to serve.
    fn ticks_until_due(&self) -> Option<u64> {
        if !self.hunting.is_empty() || !self.hairpins.is_empty() {
            return Some(1);
        }
        (1..=PHASES as u64).find(|k| {
            let p = ((self.tick + k) % PHASES as u64) as usize;
            !self.groups[p].is_empty() || !self.arriving[p].is_empty()
        })
    }

    /// `elapsed` ticks (1 ms) passed; `now` is the time of this tick. More than one
    /// means the thread woke up late: the missed phases are served now (their blocks
    /// waited in the B-channel buffers) and counted as late ticks.
    pub fn run_tick(&mut self, now: Instant, elapsed: u64) {
        self.serve_ticks(now, elapsed, Lateness::of(elapsed, Some(1), TICK, |_| None));
    }

    /// As [`MediaWorker::run_tick`], with the ticks beyond the thread's plan told apart
    /// by whose they are ([`Lateness`]): only the thread's own count as late ticks.
    fn serve_ticks(&mut self, now: Instant, elapsed: u64, late: Lateness) {
        let wake = Instant::now();
        if self.pio.reads_at_tick() {
            self.wake_ns = io::realtime_ns();
        }
        self.drain_control(now);
        self.stats.ticks.fetch_add(elapsed, Relaxed);
        if late.own > 0 {
            self.stats.late_ticks.fetch_add(late.own, Relaxed);
            if self.last_took > TICK {
                self.stats.late_after_overrun.fetch_add(late.own, Relaxed);
            }
        }
        if late.clock > 0 {
            self.stats.late_clock_ticks.fetch_add(late.clock, Relaxed);
        }
        // The phase of the tick that is now. Its arriving channels are flushed first,
        // at the wake-up, so that their blocks complete on this very tick from now on:
        // flushed after a late serve's catch-up work (many milliseconds after a stall)
        // they would complete that much later, slip, and all hunt onto one phase.
        // Only on the tick that is now: a flush on a missed phase's behalf would set the
        // channel's phase to this tick instead.
        let current = (elapsed <= PHASES as u64)
            .then(|| (self.tick.wrapping_add(elapsed) % PHASES as u64) as usize);
        if let Some(phase) = current {
            self.flush_arriving(phase);
        }
        self.receive_rtp(now);
        let serves = elapsed.min(PHASES as u64);
        for _ in 0..serves {
            self.tick = self.tick.wrapping_add(1);
            let phase = (self.tick % PHASES as u64) as usize;
            self.serve_phase(now, wake, phase);
        }
        if let Some(phase) = current {
            self.lock_arriving(phase);
        }
        if elapsed > PHASES as u64 {
            self.tick = self.tick.wrapping_add(elapsed - PHASES as u64);
        }
        self.serve_hunting(now, wake, elapsed == 1);
        for h in &mut self.hairpins {
            h.serve();
        }
        self.flush_sends(wake);
        self.last_took = wake.elapsed();
        let took = self.last_took.as_nanos() as u64;
        if took > self.stats.max_tick_ns.load(Relaxed) {
            self.stats.max_tick_ns.store(took, Relaxed);
        }
        let cpu = io::thread_cpu_ns();
        if self.last_took > TICK {
            // How much of an overrun was work: the CPU time since the end of the last
            // tick (the sleep between costs microseconds) against the tick's wall time.
            // Little CPU means the thread was not running: preempted, or its vCPU stalled.
            let before = self.stats.cpu_ns.load(Relaxed);
            self.stats.overrun_ticks.fetch_add(1, Relaxed);
            self.stats.overrun_wall_ns.fetch_add(took, Relaxed);
            self.stats
                .overrun_cpu_ns
                .fetch_add(cpu.saturating_sub(before).min(took), Relaxed);
        }
        self.stats.cpu_ns.store(cpu, Relaxed);
    }

    /// Within a tick: once [`SEND_BATCH`] sends are queued, hand them to the kernel, so
    /// that a packet waits for a few others rather than for the whole tick's work, and
    /// read the datagrams that arrived meanwhile (control messages wait: the phase
    /// lists must not change under the loop serving them).
    fn flush_batch(&mut self, now: Instant, wake: Instant) {
        if self.pio.pending() < SEND_BATCH {
            return;
        }
        self.flush_sends(wake);
        if self.pio.reads_at_tick() {
            // Sockets are read at their tick, not between.
            return;
        }
        if self.pio.armed() {
            // The flush's io_uring_enter took the datagrams that had arrived.
            self.hand_on_armed(now, false);
            return;
        }
        if let Ok(n) = self.poller.poll_now() {
            if n > 0 {
                self.read_ready(now);
            }
        }
    }

    /// Hand the tick's queued sends to the kernel (io_uring: one submission) and take
    /// back the per-channel count of those that failed.
    fn flush_sends(&mut self, wake: Instant) {
        self.pio
            .flush(on_sent(&self.stats, &mut self.failed_sends, wake));
        self.take_back_failed_sends();
    }

    /// Sends counted when queued that failed when flushed are taken back per channel.
    fn take_back_failed_sends(&mut self) {
        for owner in self.failed_sends.drain(..) {
            if let Some(Some(ch)) = self.slots.get_mut(owner as usize) {
                ch.stats.packets_sent = ch.stats.packets_sent.saturating_sub(1);
            }
        }
    }

    /// Armed receives: control messages when the control eventfd fired, the datagrams
    /// the ring took into the jitter buffers (after one `io_uring_enter` when `enter`).
    /// Returns how many datagrams.
    fn receive_armed(&mut self, now: Instant, enter: bool) -> usize {
        let (n, control) = self.hand_on_armed(now, enter);
        if control {
            self.waker.reset();
            self.drain_control(now);
        }
        n
    }

    /// The datagrams armed receives took, into their channels; control messages are
    /// left for later (the phase lists may be being walked). Returns (datagrams,
    /// whether the control eventfd fired).
    fn hand_on_armed(&mut self, now: Instant, enter: bool) -> (usize, bool) {
        let wall = io::realtime_ns();
        let events = &self.events;
        let mut emit = |e| {
            let _ = events.send(e);
        };
        let slots = &mut self.slots;
        let stats = &self.stats;
        let touched = &mut self.touched;
        touched.clear();
        let (received, control) = self.pio.receive_armed_ahead(enter, |owner, d| {
            let d = match d {
                io::Incoming::Datagram(d) => d,
                io::Incoming::Ahead(stage) => {
                    // Its datagram comes soon: the channel towards the cache.
                    prefetch_channel(slots, owner as usize, Some(stage), false);
                    return;
                }
            };
            if let Some(Some(ch)) = slots.get_mut(owner as usize) {
                ch.rtp_in(now, d.data, d.from, &mut emit);
                if let Some(at) = d.arrival_ns {
                    stats.rtp_to_jitter.record((wall - at).max(0) as u64);
                }
                if touched.last() != Some(&owner) {
                    touched.push(owner);
                }
            }
        });
        self.finish_reads(now, received);
        (received, control)
    }

    fn drain_control(&mut self, now: Instant) {
        while let Ok(c) = self.control.try_recv() {
            self.handle_control(now, c);
        }
    }

    fn handle_control(&mut self, now: Instant, c: Control) {
        match c {
            Control::Add(key, cfg) => self.add(now, key, *cfg),
            Control::SetRemote(key, addr) => {
                if let Some(ch) = self.channel_mut(key) {
                    ch.set_remote(addr);
                }
            }
            Control::SetCodec(key, law, pt, event_pt) => {
                if let Some(ch) = self.channel_mut(key) {
                    ch.set_codec(law, pt, event_pt, now);
                }
            }
            Control::Hold(key, on) => {
                if let Some(ch) = self.channel_mut(key) {
                    ch.set_hold(on, now);
                }
            }
            Control::RtpTimeout(key, timeout) => {
                if let Some(ch) = self.channel_mut(key) {
                    ch.set_rtp_timeout(timeout, now);
                }
            }
            Control::HoldWithMedia(key, on, sound) => {
                if let Some(ch) = self.channel_mut(key) {
                    ch.set_hold(on, now);
                    ch.set_hold_media(on.then_some(sound));
                }
            }
            Control::PlayDigit(key, digit, duration) => {
                if let Some(ch) = self.channel_mut(key) {
                    ch.play_digit(now, digit, duration);
                }
            }
            Control::QueryStats(key) => {
                if let Some(ch) = self.channel_mut(key) {
                    let stats = ch.snapshot_stats(now);
                    let _ = self.events.send(MediaEvent::Stats { key, stats });
                }
            }
            Control::AddHairpin(key, cfg) => {
                self.hairpins.push(super::hairpin::Hairpin::new(key, *cfg));
            }
            Control::Remove(key) => self.remove(now, key),
            Control::Shutdown => {
                let keys: Vec<ChannelKey> = self.index.keys().copied().collect();
                for k in keys {
                    self.remove(now, k);
                }
                let pins: Vec<ChannelKey> = self.hairpins.iter().map(|h| h.key).collect();
                for k in pins {
                    self.remove(now, k);
                }
                self.shutdown = true;
            }
        }
    }

    fn channel_mut(&mut self, key: ChannelKey) -> Option<&mut MediaChannel> {
        let idx = *self.index.get(&key)?;
        self.slots.get_mut(idx)?.as_deref_mut()
    }

    fn add(&mut self, now: Instant, key: ChannelKey, cfg: super::ChannelConfig) {
        // The socket is not switched to O_NONBLOCK (an `ioctl` per call): every send and
        // receive of the engine carries MSG_DONTWAIT or goes through io_uring, which
        // never blocks the thread, so a blocking socket is served the same.
        let ch = match MediaChannel::new(key, cfg, now) {
            Ok(ch) => ch,
            Err(e) => {
                let _ = self.events.send(MediaEvent::AddFailed {
                    key,
                    reason: e.to_string(),
                });
                return;
            }
        };
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        // Arrival stamps only feed the rtp → jitter buffer latency figure (the jitter
        // buffer and the receiver statistics take the time the datagram was handed on,
        // `now`); without them audio still flows. Each stamp costs the kernel a
        // timestamp control message per datagram (`__sock_recv_timestamp`, `put_cmsg`:
        // ≈ 2.5 % of the media thread at 2,000 channels), so one socket in
        // [`STAMP_EVERY`] is stamped: its datagrams wait in the kernel exactly as the
        // others' do (same ring, same `io_uring_enter`), so the sample's percentiles
        // are the whole's.
        // Read at the tick, every datagram is stamped: the read no longer tells when it
        // arrived, and the jitter buffer and the receiver statistics (RFC 3550 A.8
        // interarrival jitter, RTCP and metrics) need that.
        if self.pio.reads_at_tick() || idx % STAMP_EVERY == 0 {
            let _ = io::enable_timestamps(ch.fd);
        }
        // A slot of the ring's file table, whichever way it is read (see `uring.rs`);
        // given up in `remove` before the socket is handed back.
        let _ = self.pio.register(ch.fd, idx as u32);
        let watched = if self.pio.reads_at_tick() {
            // Not watched: read at its tick.
            Ok(())
        } else if self.pio.armed() {
            self.pio
                .arm(ch.fd, idx as u32)
                .map_err(|e| format!("io_uring: {e}"))
        } else {
            self.poller
                .add(ch.fd, idx as u64)
                .map_err(|e| format!("epoll: {e}"))
        };
        if let Err(reason) = watched {
            self.release_socket(idx);
            self.free.push(idx);
            let _ = self.events.send(MediaEvent::AddFailed { key, reason });
            return;
        }
        self.poller.reserve(self.slots.len());
        // The emptiest phase: the B-channel is flushed on its next tick, so that its
        // blocks complete there and the work spreads evenly over the 20 ticks (channels
        // added together would otherwise share the phase of whenever they were opened
        // or first read).
        let phase = self.emptiest_phase();
        let mut ch = ch;
        ch.phase = Phase::Arriving(phase as u8);
        self.slots[idx] = Some(Box::new(ch));
        self.index.insert(key, idx);
        self.arriving[phase].push(idx);
        self.stats.channels.store(self.index.len() as u64, Relaxed);
    }

    /// [`PacketIo::release`] for the channel in slot `idx`, its queued sends' failures
    /// counted as every flush's are.
    fn release_socket(&mut self, idx: usize) {
        let (stats, failed) = (&self.stats, &mut self.failed_sends);
        self.pio.release(idx as u32, |owner, r| {
            if !count_sent(stats, r, 0) {
                failed.push(owner);
            }
        });
        self.take_back_failed_sends();
    }

    fn remove(&mut self, now: Instant, key: ChannelKey) {
        if let Some(i) = self.hairpins.iter().position(|h| h.key == key) {
            let h = self.hairpins.swap_remove(i);
            let stats = h.stats;
            let (a, b) = h.into_channels();
            let _ = self
                .events
                .send(MediaEvent::HairpinRemoved { key, a, b, stats });
            return;
        }
        let Some(idx) = self.index.remove(&key) else {
            return;
        };
        let Some(mut ch) = self.slots[idx].take() else {
            return;
        };
        // Its sends go, an armed receive is cancelled and awaited, and it leaves the
        // ring's file table: the kernel keeps no reference to the socket handed back
        // below (nor sends from a socket a new channel on this slot registers).
        self.release_socket(idx);
        if !self.pio.armed() && !self.pio.reads_at_tick() {
            self.poller.remove(ch.fd);
        }
        ch.disconnect();
        match ch.phase {
            Phase::Hunting => self.hunting.retain(|&i| i != idx),
            Phase::Locked(p) => {
                self.groups[p as usize].retain(|&i| i != idx);
                // Flushed at the start of a tick and not yet moved (see
                // `flush_arriving`).
                self.arriving[p as usize].retain(|&i| i != idx);
            }
            Phase::Arriving(p) => self.arriving[p as usize].retain(|&i| i != idx),
        }
        self.free.push(idx);
        self.stats.channels.store(self.index.len() as u64, Relaxed);
        let stats = ch.snapshot_stats(now);
        let ch = *ch;
        let _ = self.events.send(MediaEvent::Removed {
            key,
            tdm: ch.tdm,
            socket: ch.socket,
            stats,
        });
    }

    /// One `epoll_wait` for all sockets, then `recvmmsg` on the readable ones (armed
    /// receives: one `io_uring_enter`, and the datagrams it took).
    fn receive_rtp(&mut self, now: Instant) {
        if self.pio.reads_at_tick() {
            // Read per channel as its block is served (`read_at_tick`).
            return;
        }
        if self.pio.armed() {
            self.receive_armed(now, true);
            return;
        }
        match self.poller.poll_now() {
            Ok(0) => {}
            Ok(_) => {
                self.take_ready(now);
            }
            Err(e) => tracing::warn!(error = %e, "media thread: epoll_wait"),
        }
    }

    /// Serve what the last `epoll_wait` found ready: control messages when the waker
    /// fired, `recvmmsg` on the readable sockets. Returns how many sockets were ready.
    fn take_ready(&mut self, now: Instant) -> usize {
        let ready = self.poller.ready();
        if (0..ready).any(|i| self.poller.token(i) == CONTROL_TOKEN) {
            self.waker.reset();
            self.drain_control(now);
        }
        self.read_ready(now)
    }

    /// `recvmmsg` (or one io_uring submission) on the sockets the last `epoll_wait`
    /// found readable; control messages are left for later. Returns how many sockets.
    fn read_ready(&mut self, now: Instant) -> usize {
        let ready = self.poller.ready();
        self.touched.clear();
        for i in 0..ready {
            let token = self.poller.token(i);
            if token == CONTROL_TOKEN {
                continue;
            }
            let Some(Some(ch)) = self.slots.get(token as usize) else {
                continue;
            };
            self.pio.mark_ready(ch.fd, token as u32);
            self.touched.push(token as u32);
        }
        if self.touched.is_empty() {
            return 0;
        }
        let wall = io::realtime_ns();
        let events = &self.events;
        let mut emit = |e| {
            let _ = events.send(e);
        };
        let slots = &mut self.slots;
        let stats = &self.stats;
        let failed = &mut self.failed_sends;
        let received = self.pio.receive(
            false,
            |owner, d| {
                if let Some(Some(ch)) = slots.get_mut(owner as usize) {
                    ch.rtp_in(now, d.data, d.from, &mut emit);
                    if let Some(at) = d.arrival_ns {
                        stats.rtp_to_jitter.record((wall - at).max(0) as u64);
                    }
                }
                // Readable again if more is queued: the next wait says so.
                false
            },
            // Sends are flushed before (`flush_batch`); any left go with the reads.
            |owner, r| {
                if !count_sent(stats, r, 0) {
                    failed.push(owner);
                }
            },
        );
        self.finish_reads(now, received);
        self.touched.len()
    }

    /// After reads: sends that failed are taken back from their channels' counts, the
    /// channels that received (`touched`) see whether their peer moved (symmetric RTP)
    /// or came back, and the datagrams are counted.
    fn finish_reads(&mut self, now: Instant, received: usize) {
        self.take_back_failed_sends();
        for &idx in &self.touched {
            if let Some(Some(ch)) = self.slots.get_mut(idx as usize) {
                ch.update_connection(now);
            }
        }
        self.stats
            .packets_received
            .fetch_add(received as u64, Relaxed);
    }

    fn read_in_this_serve(&self, idx: usize) -> bool {
        matches!(self.slots.get(idx), Some(Some(ch)) if ch.read_serve == self.serve_no)
    }

    /// Sockets read at the tick: a sampled channel (one in [`STAMP_EVERY`], as for the
    /// arrival stamps of the other modes) notes when its block was served, for the
    /// rtp → jitter buffer figure of its next datagrams.
    fn note_served(&mut self, idx: usize) {
        if self.pio.reads_at_tick() && idx % STAMP_EVERY == 0 {
            if let Some(Some(ch)) = self.slots.get_mut(idx) {
                ch.served_at_ns = io::realtime_ns();
            }
        }
    }

    /// Sockets read at the tick: read the RTP sockets of the channels in `due` not yet
    /// read in this serve, each until it is empty, in one submission with the queued
    /// sends, right before their blocks are served. A datagram that arrived before
    /// this tick could not have been played earlier (frames leave the jitter buffer only
    /// on the channel's tick), so it loses nothing by waiting in its socket.
    fn read_at_tick(&mut self, now: Instant, wake: Instant, due: Due) {
        let serve = self.serve_no;
        let list = match &due {
            Due::Phase(p, r) => self.groups[*p].get(r.clone()),
            Due::Hunting(r) => self.hunting.get(r.clone()),
        };
        let mut any = false;
        for &idx in list.into_iter().flatten() {
            let Some(Some(ch)) = self.slots.get_mut(idx) else {
                continue;
            };
            if ch.read_serve == serve {
                continue;
            }
            ch.read_serve = serve;
            self.pio.mark_ready(ch.fd, idx as u32);
            any = true;
        }
        if !any {
            return;
        }
        let wall = io::realtime_ns();
        let wake_ns = self.wake_ns;
        let events = &self.events;
        let mut emit = |e| {
            let _ = events.send(e);
        };
        let slots = &mut self.slots;
        let stats = &self.stats;
        let sent = on_sent(stats, &mut self.failed_sends, wake);
        let touched = &mut self.touched;
        touched.clear();
        let received = self.pio.receive(
            true,
            |owner, d| {
                let Some(Some(ch)) = slots.get_mut(owner as usize) else {
                    return false;
                };
                let seq = rtp_seq(d.data);
                let more = may_have_more(
                    wall,
                    d.arrival_ns,
                    ch.last_arrival_ns,
                    d.data.len(),
                    seq == Some(ch.last_seq.wrapping_add(1)),
                );
                ch.last_arrival_ns = d.arrival_ns.unwrap_or(0);
                ch.last_seq = seq.unwrap_or(ch.last_seq);
                // The jitter buffer and the receiver statistics get the datagram's
                // arrival, not this read's time (RFC 3550 A.8 jitter): the tick's time
                // moved by how long before (or after) the tick's wake-up it came.
                let arrived = d.arrival_ns.map_or(now, |a| {
                    let d = a - wake_ns;
                    if d >= 0 {
                        now + Duration::from_nanos(d as u64)
                    } else {
                        now.checked_sub(Duration::from_nanos(d.unsigned_abs()))
                            .unwrap_or(now)
                    }
                });
                ch.rtp_in(arrived, d.data, d.from, &mut emit);
                if let (Some(a), true) = (d.arrival_ns, owner as usize % STAMP_EVERY == 0) {
                    // What the engine added: from the moment reading it could first
                    // matter (this tick's wake-up, or its arrival during the tick) to
                    // now; a datagram that arrived before the channel's last block was
                    // served but was not read for it counts from its arrival.
                    let from = if a <= ch.served_at_ns {
                        a
                    } else {
                        a.max(wake_ns)
                    };
                    stats.rtp_to_jitter.record((wall - from).max(0) as u64);
                }
                if touched.last() != Some(&owner) {
                    touched.push(owner);
                }
                more
            },
            sent,
        );
        self.finish_reads(now, received);
    }

    fn serve_phase(&mut self, now: Instant, wake: Instant, phase: usize) {
        self.serve_no += 1;
        let mut read_upto = 0;
        let mut i = 0;
        while i < self.groups[phase].len() {
            self.prefetch_ahead(phase, i);
            let idx = self.groups[phase][i];
            // The next chunk, or a channel a slip moved here from further on.
            if self.pio.reads_at_tick() && (i >= read_upto || !self.read_in_this_serve(idx)) {
                read_upto = (i + READ_CHUNK).min(self.groups[phase].len());
                self.read_at_tick(now, wake, Due::Phase(phase, i..read_upto));
            }
            let got = self.serve_channel(now, wake, idx);
            self.note_served(idx);
            self.flush_batch(now, wake);
            if got == 0 {
                // The block was not there on its tick (a slip: the line or the thread
                // stalled and its buffers overflowed, which restarts its blocks at the
                // next read). Place it again on the emptiest phase, as when it was
                // added — many channels slip together after a stall and would
                // otherwise crowd one tick; if that does not hold either, hunt.
                self.groups[phase].swap_remove(i);
                let emptiest = self.emptiest_phase();
                if let Some(Some(ch)) = self.slots.get_mut(idx) {
                    ch.stats.phase_slips += 1;
                    ch.slips_in_a_row = ch.slips_in_a_row.saturating_add(1);
                    if ch.slips_in_a_row <= 1 {
                        ch.phase = Phase::Arriving(emptiest as u8);
                        self.arriving[emptiest].push(idx);
                    } else {
                        ch.phase = Phase::Hunting;
                        // This read was empty: the next block shows the phase.
                        ch.hunt_quiet = true;
                        self.hunting.push(idx);
                    }
                }
            } else {
                if let Some(Some(ch)) = self.slots.get_mut(idx) {
                    ch.slips_in_a_row = 0;
                }
                i += 1;
            }
        }
    }

    /// Prefetch the channels served after the `i`th of `phase`, in stages (see
    /// [`MediaChannel::prefetch_state`]) a few channel-serves apart, so that each
    /// stage's loads find what the stage before brought in. Hints only: a channel that
    /// moved meanwhile is merely not prefetched.
    fn prefetch_ahead(&self, phase: usize, i: usize) {
        let group = &self.groups[phase];
        for (stage, distance) in SERVE_AHEAD {
            // The first channels of the phase get the stages they are already past.
            let from = if i == 0 { 0 } else { distance };
            let to = (i + distance + 1).min(group.len());
            for &idx in group.get(i + from..to).into_iter().flatten() {
                prefetch_channel(&self.slots, idx, stage, true);
            }
        }
    }

    /// The phase with the fewest channels (locked or waiting for it).
    fn emptiest_phase(&self) -> usize {
        (0..PHASES)
            .min_by_key(|&p| self.groups[p].len() + self.arriving[p].len())
            .unwrap_or(0)
    }

    /// Flush the B-channels waiting for this phase, at the start of its tick: their
    /// next block completes 20 ticks from now (a flush restarts the block being
    /// filled, `DAHDI_FLUSH`). They stay in the arriving list, marked flushed
    /// (`Locked`), until [`MediaWorker::lock_arriving`] at the end of the tick.
    fn flush_arriving(&mut self, phase: usize) {
        for &idx in &self.arriving[phase] {
            let Some(Some(ch)) = self.slots.get_mut(idx) else {
                continue;
            };
            if let Err(e) = ch.tdm.flush() {
                tracing::debug!(key = ?ch.key, error = %e, "B-channel flush");
            }
            ch.phase = Phase::Locked(phase as u8);
        }
    }

    /// Lock the B-channels waiting for this phase on it, flushing those not flushed
    /// at the start of the tick (they slipped during it). If a block does not come
    /// 20 ticks later, the phase slips and the channel is placed again.
    fn lock_arriving(&mut self, phase: usize) {
        if self.arriving[phase].is_empty() {
            return;
        }
        let mut arriving = std::mem::take(&mut self.arriving[phase]);
        for &idx in &arriving {
            let Some(Some(ch)) = self.slots.get_mut(idx) else {
                continue;
            };
            if ch.phase != Phase::Locked(phase as u8) {
                if let Err(e) = ch.tdm.flush() {
                    tracing::debug!(key = ?ch.key, error = %e, "B-channel flush");
                }
            }
            ch.phase = Phase::Locked(phase as u8);
            self.groups[phase].push(idx);
        }
        arriving.clear();
        self.arriving[phase] = arriving;
        let largest = self.groups.iter().map(Vec::len).max().unwrap_or(0);
        self.stats.largest_phase.store(largest as u64, Relaxed);
    }

    /// `precise`: this serve covers one tick only (the thread was on time), so a block
    /// read now completed on this very tick.
    fn serve_hunting(&mut self, now: Instant, wake: Instant, precise: bool) {
        let phase = (self.tick % PHASES as u64) as u8;
        self.serve_no += 1;
        let mut read_upto = 0;
        let mut i = 0;
        while i < self.hunting.len() {
            let idx = self.hunting[i];
            if self.pio.reads_at_tick() && (i >= read_upto || !self.read_in_this_serve(idx)) {
                read_upto = (i + READ_CHUNK).min(self.hunting.len());
                self.read_at_tick(now, wake, Due::Hunting(i..read_upto));
            }
            let got = self.serve_channel(now, wake, idx);
            self.note_served(idx);
            self.flush_batch(now, wake);
            let Some(Some(ch)) = self.slots.get_mut(idx) else {
                self.hunting.swap_remove(i);
                continue;
            };
            // Lock on a block that came after an empty read, read on time: it completed
            // on this tick. A first read may find blocks that waited (the channel was
            // opened earlier, or the thread was late); locking there would read every
            // block late by that much and pile channels added together onto one tick.
            ch.hunt_ticks = ch.hunt_ticks.saturating_add(1);
            if got > 0 && ch.hunt_quiet && (precise || ch.hunt_ticks >= HUNT_LIMIT) {
                ch.hunt_ticks = 0;
                self.hunting.swap_remove(i);
                // Its own phase unless that one is already full: channels whose blocks
                // restarted together after a stall all find the same phase, and locked
                // there they would crowd one tick (166–200 channels where 100 is a
                // fair share, in bench-media after long stalls) for the rest of their
                // calls. Those go to the emptiest phase instead, flushed there.
                let fair = self.index.len().div_ceil(PHASES);
                let p = phase as usize;
                if self.groups[p].len() + self.arriving[p].len() < fair {
                    ch.phase = Phase::Locked(phase);
                    self.groups[p].push(idx);
                    let largest = self.groups.iter().map(Vec::len).max().unwrap_or(0);
                    self.stats.largest_phase.store(largest as u64, Relaxed);
                } else {
                    let emptiest = self.emptiest_phase();
                    if let Some(Some(ch)) = self.slots.get_mut(idx) {
                        ch.phase = Phase::Arriving(emptiest as u8);
                    }
                    self.arriving[emptiest].push(idx);
                }
            } else {
                ch.hunt_quiet = got == 0;
                i += 1;
            }
        }
    }

    /// Move one channel's blocks both ways; returns how many blocks were read.
    fn serve_channel(&mut self, now: Instant, wake: Instant, idx: usize) -> usize {
        let Some(Some(ch)) = self.slots.get_mut(idx) else {
            return 0;
        };
        let events = &self.events;
        let mut emit = |e| {
            let _ = events.send(e);
        };
        let stats = &self.stats;
        let pio = &mut self.pio;
        let failed = &mut self.failed_sends;
        let out = &mut *self.out;
        let mut got = 0;
        let mut block = [0u8; FRAME_SAMPLES];
        let mut attempts = 0;
        while got < MAX_BLOCKS_PER_TICK && attempts < MAX_BLOCKS_PER_TICK + 2 {
            attempts += 1;
            match ch.tdm.read(&mut block) {
                Ok(0) => break,
                Ok(n) => {
                    if n < FRAME_SAMPLES {
                        block[n..].fill(ch_silence(ch));
                    }
                    got += 1;
                    ch.tdm_frame(now, &mut block, out, &mut emit);
                    for p in 0..out.count {
                        let pkt = &out.bufs[p][..out.lens[p]];
                        let to = (!ch.connected).then_some(&ch.remote_raw);
                        let mut latency = None;
                        let flushed = |owner: u32, r: std::io::Result<bool>| {
                            let ns =
                                *latency.get_or_insert_with(|| wake.elapsed().as_nanos() as u64);
                            if !count_sent(stats, r, ns) {
                                failed.push(owner);
                            }
                        };
                        match pio.send(ch.fd, pkt, to, idx as u32, flushed) {
                            io::Sent::Now(r) => {
                                if count_sent(stats, r, wake.elapsed().as_nanos() as u64) {
                                    ch.stats.packets_sent += 1;
                                }
                            }
                            // Counted as sent now; taken back if the flush fails it.
                            io::Sent::Queued => ch.stats.packets_sent += 1,
                        }
                    }
                }
                Err(ChanError::WouldBlock) => break,
                Err(ChanError::EventPending) => {
                    if let Ok(Some(event)) = ch.tdm.get_event() {
                        emit(MediaEvent::Tdm { key: ch.key, event });
                    }
                }
                Err(e) => {
                    tracing::debug!(key = ?ch.key, error = %e, "B-channel read");
                    break;
                }
            }
        }
        if got == 0 {
            return 0;
        }
        if ch.stats.tdm_blocks_written == 0 {
            let cushion = [ch_silence(ch); TX_CUSHION];
            let _ = ch.tdm.write(&cushion);
        }
        for _ in 0..got {
            ch.tdm_out(now, &mut block, &mut emit);
            let mut tries = 0;
            loop {
                tries += 1;
                match ch.tdm.write(&block) {
                    Ok(_) => {
                        ch.stats.tdm_blocks_written += 1;
                        break;
                    }
                    Err(ChanError::EventPending) if tries < 3 => {
                        if let Ok(Some(event)) = ch.tdm.get_event() {
                            emit(MediaEvent::Tdm { key: ch.key, event });
                        }
                    }
                    Err(_) => break,
                }
            }
            // Sampled as the arrival stamps are (one channel in STAMP_EVERY, spread
            // over every position in the tick's order): a clock read per block is not
            // free either.
            if idx % STAMP_EVERY == 0 {
                stats.jitter_to_tdm.record(wake.elapsed().as_nanos() as u64);
            }
        }
        ch.check_timeout(now, &mut emit);
        if pio.pending() > 0 && ch.disconnect_due(now) {
            // A queued `send` without address must reach the kernel while the socket
            // is still connected.
            let mut latency = None;
            pio.flush(|owner, r| {
                let ns = *latency.get_or_insert_with(|| wake.elapsed().as_nanos() as u64);
                if !count_sent(stats, r, ns) {
                    failed.push(owner);
                }
            });
        }
        ch.update_connection(now);
        got
    }
}

/// One prefetch stage of the channel in slot `idx` (`None`: the B-channel read's
/// shared ring): [`PrefetchStage::Slot`] the slot itself (no load), `State` the
/// channel's state (loads the slot), `Buffers` the B-channel handle and the jitter
/// buffer's next frame for a serve (`serve`), or where its next datagram is stored.
fn prefetch_channel(
    slots: &[Option<Box<MediaChannel>>],
    idx: usize,
    stage: Option<PrefetchStage>,
    serve: bool,
) {
    if stage == Some(PrefetchStage::Slot) {
        if let Some(s) = slots.get(idx) {
            super::channel::prefetch_span(s as *const _ as *const u8, 1);
        }
        return;
    }
    let Some(Some(ch)) = slots.get(idx) else {
        return;
    };
    match stage {
        Some(PrefetchStage::Slot) => {}
        Some(PrefetchStage::State) => ch.prefetch_state(),
        Some(PrefetchStage::Buffers) if serve => ch.prefetch_buffers(),
        Some(PrefetchStage::Buffers) => ch.prefetch_receive(),
        None => ch.prefetch_tdm(),
    }
}

/// Count one send's result (now, or when a queue of them was flushed) and its latency
/// from the tick's wake-up to its system call's return; `true` when it went.
/// The results of a flush of queued sends: each counted ([`count_sent`]) with the tdm →
/// rtp latency taken once, at the first result (from the tick's wake-up `wake`), and the
/// owners of those that failed noted in `failed`.
fn on_sent<'a>(
    stats: &'a WorkerStats,
    failed: &'a mut Vec<u32>,
    wake: Instant,
) -> impl FnMut(u32, std::io::Result<bool>) + 'a {
    let mut latency = None;
    move |owner, r| {
        let ns = *latency.get_or_insert_with(|| wake.elapsed().as_nanos() as u64);
        if !count_sent(stats, r, ns) {
            failed.push(owner);
        }
    }
}

fn count_sent(stats: &WorkerStats, r: std::io::Result<bool>, latency_ns: u64) -> bool {
    stats.tdm_to_rtp.record(latency_ns);
    match r {
        Ok(true) => {
            stats.packets_sent.fetch_add(1, Relaxed);
            true
        }
        Ok(false) => {
            stats.send_errors.fetch_add(1, Relaxed);
            false
        }
        Err(e) => {
            stats.send_errors.fetch_add(1, Relaxed);
            tracing::debug!(error = %e, "RTP send");
            false
        }
    }
}

fn ch_silence(ch: &MediaChannel) -> u8 {
    ch.tdm_law().silence()
}

/// How the run loop sleeps next.
#[derive(Clone, Copy)]
enum Sleep {
    /// On the ticker (its futex or DAHDI timer), at most this long.
    Ticker(Duration),
    /// In `epoll_wait` on the sockets and the control waker, at most this long.
    Sockets(Duration),
}

/// When the ticks come, learnt from the ticks seen: tick `t` (counted from the thread's
/// start) is predicted at `anchor.0 + (t - anchor.1)` ms. A tick seen earlier than
/// predicted moves the prediction there (a wake-up is never early, so the earliest
/// sighting is the nearest to the clock); one seen by waiting on the ticker itself much
/// later than predicted, or at every [`RESET_EVERY`]th check, replaces it.
#[derive(Default)]
struct TickClock {
    seen: u64,
    anchor: Option<(Instant, u64)>,
    next_check: u64,
    checks: u64,
}

impl TickClock {
    fn at(&self, tick: u64) -> Option<Instant> {
        let (at, t) = self.anchor?;
        Some(at + TICK * (tick.saturating_sub(t)).min(u32::MAX as u64) as u32)
    }

    /// When the tick `k` after the last one seen is due.
    fn predict(&self, k: u64) -> Option<Instant> {
        self.at(self.seen + k)
    }

    /// Is the tick `k` after the last one seen to be waited for on the ticker?
    fn check_due(&self, k: u64) -> bool {
        self.seen + k >= self.next_check
    }

    /// `n` more ticks were seen at `now`; `waited`: by waiting on the ticker itself,
    /// so `now` is close to the tick.
    fn observe(&mut self, now: Instant, n: u64, waited: bool) {
        self.seen += n;
        let predicted = self.at(self.seen);
        let mut take = predicted.is_none_or(|p| now < p);
        if waited {
            if predicted.is_some_and(|p| now > p + RESET_LATE) {
                take = true;
            }
            if self.seen >= self.next_check {
                self.checks += 1;
                self.next_check = self.seen + CHECK_EVERY;
                if self.checks % RESET_EVERY == 0 {
                    take = true;
                }
            }
        }
        if take {
            self.anchor = Some((now, self.seen));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At the tick a socket is read again only when it may hold more than the datagram
    /// just read: not in steady state, but behind, after a gap, for short packets, out
    /// of sequence, and when a time is unknown.
    #[test]
    fn a_socket_is_read_again_only_when_it_may_have_more() {
        const MS: i64 = 1_000_000;
        let wall = 1_000 * MS;
        let full = FULL_PACKET;
        // (arrived ms ago, the socket's previous arrival ms ago (None: none), length,
        // in sequence, read again?)
        let cases = [
            // Steady state: 20 ms after the one before; with jitter, 28 ms after.
            (7, Some(27), full, true, false),
            (19, Some(47), full, true, false),
            // Waited more than an interval: we are behind, more may be queued.
            (21, Some(41), full, true, true),
            // After a gap (a burst after a stall starts so).
            (2, Some(60), full, true, true),
            // 10 ms packets, RFC 4733 events.
            (2, Some(22), 12 + 80, true, true),
            (2, Some(22), 16, true, true),
            // A duplicate, a reordering or a loss in steady timing.
            (7, Some(27), full, false, true),
            // The first datagram of the socket.
            (2, None, full, true, true),
        ];
        for (ago, prev, len, in_sequence, want) in cases {
            let last = prev.map_or(0, |p: i64| wall - p * MS);
            assert_eq!(
                may_have_more(wall, Some(wall - ago * MS), last, len, in_sequence),
                want,
                "{ago} ms ago, previous {prev:?} ms ago, {len} octets, in sequence {in_sequence}"
            );
        }
        // No arrival stamp.
        assert!(may_have_more(wall, None, wall - 22 * MS, full, true));
    }

    #[test]
    fn rtp_sequence_numbers_are_read_from_version_2_headers_only() {
        let mut p = [0u8; 172];
        p[0] = 0x80;
        p[2..4].copy_from_slice(&4711u16.to_be_bytes());
        assert_eq!(rtp_seq(&p), Some(4711));
        assert_eq!(rtp_seq(&p[..11]), None);
        p[0] = 0x40;
        assert_eq!(rtp_seq(&p), None);
    }

    /// Sixty channels whose blocks all restarted on one tick (a stall overflowed their
    /// buffers) and that hunt for their phase (they slipped twice) all find the same
    /// one; they must not all lock there: those beyond a fair share go to the emptiest
    /// phases, and every channel still carries one packet per 20 ms.
    #[test]
    fn hunting_channels_that_find_one_phase_are_spread() {
        use crate::media::Law;
        use crate::rtp::PayloadType;
        use dahdi_driver::{ChannelId, ChannelMode, Device, SpanId, Timeslot};
        let sim = tdm_sim::Sim::builder().e1(2).build();
        let (ctl_tx, ctl_rx) = crossbeam_channel::unbounded();
        let (ev_tx, _ev_rx) = crossbeam_channel::unbounded();
        let mut worker = MediaWorker::new(ctl_rx, ev_tx).unwrap();
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_nonblocking(true).unwrap();
        let mut key = 0;
        for span in 1..=2u16 {
            for ts in (1..=31u8).filter(|&t| t != 16) {
                let id = ChannelId {
                    span: SpanId(span),
                    timeslot: Timeslot(ts),
                };
                let mode = ChannelMode::Clear {
                    blocksize: FRAME_SAMPLES,
                    law: Law::ALaw,
                };
                let cfg = super::super::ChannelConfig::voice(
                    sim.near().open_channel(id, mode).unwrap(),
                    Law::ALaw,
                    std::net::UdpSocket::bind("127.0.0.1:0").unwrap(),
                    peer.local_addr().unwrap(),
                    Law::ALaw,
                    PayloadType::PCMA,
                    PayloadType::new(101),
                );
                key += 1;
                ctl_tx
                    .send(Control::Add(ChannelKey(key), Box::new(cfg)))
                    .unwrap();
            }
        }
        let t0 = Instant::now();
        let mut ms = 0u64;
        let mut count = |ticks: u64, worker: &mut MediaWorker| {
            let mut n = 0;
            let mut buf = [0u8; 1500];
            for _ in 0..ticks {
                sim.advance(1).unwrap();
                ms += 1;
                worker.run_tick(t0 + Duration::from_millis(ms), 1);
                while peer.recv_from(&mut buf).is_ok() {
                    n += 1;
                }
            }
            n
        };
        count(40, &mut worker);
        assert_eq!(worker.stats().snapshot().largest_phase, 3);
        // Overflow every B-channel's buffers and drain them on one tick: their blocks
        // restart together. Then every channel hunts, as after a second slip.
        sim.advance(200).unwrap();
        for g in 0..PHASES {
            for idx in std::mem::take(&mut worker.groups[g]) {
                worker.serve_channel(t0, t0, idx);
                let ch = worker.slots[idx].as_mut().unwrap();
                ch.phase = Phase::Hunting;
                ch.hunt_quiet = false;
                worker.hunting.push(idx);
            }
        }
        worker.flush_sends(t0);
        count(60, &mut worker);
        assert!(worker.hunting.is_empty());
        let largest = worker.groups.iter().map(Vec::len).max().unwrap();
        assert!(largest <= 3, "{largest} channels on one phase");
        assert_eq!(count(400, &mut worker), 60 * 20);
    }

    #[test]
    fn tick_clock_predicts_from_the_earliest_sighting() {
        let t0 = Instant::now();
        let mut c = TickClock::default();
        assert_eq!(c.predict(1), None, "nothing seen yet");
        // Tick 1 seen 50 µs after it came (t0 + 1 ms), by waiting on the ticker.
        c.observe(t0 + TICK + Duration::from_micros(50), 1, true);
        assert_eq!(
            c.predict(3),
            Some(t0 + TICK * 4 + Duration::from_micros(50))
        );
        // Tick 2 seen 10 µs after it came: the prediction moves earlier.
        c.observe(t0 + TICK * 2 + Duration::from_micros(10), 1, false);
        assert_eq!(
            c.predict(1),
            Some(t0 + TICK * 3 + Duration::from_micros(10))
        );
        // Tick 3 seen late (a wake-up after a packet): the prediction stays.
        c.observe(t0 + TICK * 3 + Duration::from_micros(200), 1, false);
        assert_eq!(
            c.predict(1),
            Some(t0 + TICK * 4 + Duration::from_micros(10))
        );
        // Ticks 4..=8 seen at once, much later, waiting on the ticker: a stall, taken.
        c.observe(t0 + TICK * 8 + Duration::from_micros(900), 5, true);
        assert_eq!(
            c.predict(1),
            Some(t0 + TICK * 9 + Duration::from_micros(900))
        );
    }

    #[test]
    fn tick_clock_checks_on_the_ticker_and_follows_a_slower_clock() {
        let t0 = Instant::now();
        let mut c = TickClock::default();
        c.observe(t0 + TICK, 1, true);
        assert!(!c.check_due(1), "the first tick waited for was a check");
        assert!(c.check_due(CHECK_EVERY));
        // A line clock 0.2 µs per tick slower than the host's: each check
        // sees its tick later than predicted (but under RESET_LATE); every RESET_EVERY
        // checks the prediction follows.
        let mut seen = 1u64;
        let mut follows = 0;
        for _ in 0..RESET_EVERY * 2 {
            let k = CHECK_EVERY;
            seen += k;
            let actual = t0 + TICK * seen as u32 + Duration::from_nanos(seen * 200);
            let before = c.predict(k).unwrap();
            c.observe(actual, k, true);
            if c.predict(0) == Some(actual) && before < actual {
                follows += 1;
            }
        }
        assert_eq!(follows, 2, "taken once per RESET_EVERY checks");
    }
}
