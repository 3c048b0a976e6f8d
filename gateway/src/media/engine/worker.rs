//! One media thread: its channels, grouped by the tick (mod 20) their 20 ms blocks
//! complete on, so each tick touches a twentieth of them.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use dahdi_driver::{ChanError, Ticker};

use super::channel::{MediaChannel, Outgoing, Phase};
use super::io::{self, Poller, RecvBatch, RECV_BATCH};
use super::stats::WorkerStats;
use super::{ChannelKey, Control, MediaEvent};
use crate::media::FRAME_SAMPLES;

/// Ticks per 20 ms packet.
const PHASES: usize = 20;
/// Silence written ahead of the first block: 5 ms of cushion in the B-channel's
/// transmit buffer, so a write on the tick the previous block ran out never underruns.
const TX_CUSHION: usize = 40;
/// At most this many blocks taken from one B-channel per tick (catching up after a
/// late tick; more means the channel was stalled and the rest is dropped by DAHDI).
const MAX_BLOCKS_PER_TICK: usize = 4;
/// Between ticks the RTP sockets are looked at this often, so that a datagram waits
/// about this long for its jitter buffer rather than up to a whole tick. (A DAHDI timer
/// rounds the wait up to its 1 ms tick, which makes this once per tick there.)
const RTP_POLL: Duration = Duration::from_micros(250);

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
    hunting: Vec<usize>,
    poller: Poller,
    recv: RecvBatch,
    out: Box<Outgoing>,
    tick: u64,
    shutdown: bool,
    /// B-channel ↔ B-channel hairpins, served every tick.
    hairpins: Vec<super::hairpin::Hairpin>,
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
        Ok(MediaWorker {
            control,
            events,
            stats,
            slots: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            groups: Default::default(),
            hunting: Vec::new(),
            poller: Poller::new(64)?,
            recv: RecvBatch::new(),
            out: Box::new(Outgoing::new()),
            tick: 0,
            shutdown: false,
            hairpins: Vec::new(),
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

    /// The thread body: pace on the ticker until [`Control::Shutdown`].
    pub fn run(mut self, mut ticker: Box<dyn Ticker>) {
        while !self.shutdown {
            let poll = if self.index.is_empty() {
                Duration::from_millis(20)
            } else {
                RTP_POLL
            };
            match ticker.wait(poll) {
                Ok(0) => {
                    let now = Instant::now();
                    self.drain_control(now);
                    self.receive_rtp(now);
                }
                Ok(n) => {
                    self.run_tick(Instant::now(), n);
                    self.stats.cpu_ns.store(io::thread_cpu_ns(), Relaxed);
                }
                Err(e) => {
                    tracing::error!(error = %e, "media thread: ticker failed");
                    std::thread::sleep(Duration::from_millis(1));
                    self.drain_control(Instant::now());
                }
            }
        }
        self.stats.cpu_ns.store(io::thread_cpu_ns(), Relaxed);
        tracing::debug!(channels = self.index.len(), "media thread stops");
    }

    /// `elapsed` ticks (1 ms) passed; `now` is the time of this tick. More than one
    /// means the thread woke up late: the missed phases are served now (their blocks
    /// waited in the B-channel buffers) and counted as late ticks.
    pub fn run_tick(&mut self, now: Instant, elapsed: u64) {
        let wake = Instant::now();
        self.drain_control(now);
        self.stats.ticks.fetch_add(elapsed, Relaxed);
        if elapsed > 1 {
            self.stats.late_ticks.fetch_add(elapsed - 1, Relaxed);
        }
        self.receive_rtp(now);
        for _ in 0..elapsed.min(PHASES as u64) {
            self.tick = self.tick.wrapping_add(1);
            let phase = (self.tick % PHASES as u64) as usize;
            self.serve_phase(now, wake, phase);
        }
        if elapsed > PHASES as u64 {
            self.tick = self.tick.wrapping_add(elapsed - PHASES as u64);
        }
        self.serve_hunting(now, wake);
        for h in &mut self.hairpins {
            h.serve();
        }
        let took = wake.elapsed().as_nanos() as u64;
        if took > self.stats.max_tick_ns.load(Relaxed) {
            self.stats.max_tick_ns.store(took, Relaxed);
        }
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
            Control::Hold(key, on) => {
                if let Some(ch) = self.channel_mut(key) {
                    ch.set_hold(on, now);
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
        if let Err(e) = cfg.socket.set_nonblocking(true) {
            let _ = self.events.send(MediaEvent::AddFailed {
                key,
                reason: format!("socket: {e}"),
            });
            return;
        }
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
        // Arrival stamps only feed the latency figures; without them audio still flows.
        let _ = io::enable_timestamps(ch.fd);
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        if let Err(e) = self.poller.add(ch.fd, idx as u64) {
            self.free.push(idx);
            let _ = self.events.send(MediaEvent::AddFailed {
                key,
                reason: format!("epoll: {e}"),
            });
            return;
        }
        self.poller.reserve(self.slots.len());
        self.slots[idx] = Some(Box::new(ch));
        self.index.insert(key, idx);
        self.hunting.push(idx);
        self.stats.channels.store(self.index.len() as u64, Relaxed);
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
        self.poller.remove(ch.fd);
        ch.disconnect();
        match ch.phase {
            Phase::Hunting => self.hunting.retain(|&i| i != idx),
            Phase::Locked(p) => self.groups[p as usize].retain(|&i| i != idx),
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

    /// One `epoll_wait` for all sockets, then `recvmmsg` on the readable ones.
    fn receive_rtp(&mut self, now: Instant) {
        let ready = match self.poller.poll_now() {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "media thread: epoll_wait");
                return;
            }
        };
        if ready == 0 {
            return;
        }
        let wall = io::realtime_ns();
        let events = &self.events;
        let mut emit = |e| {
            let _ = events.send(e);
        };
        let mut received = 0u64;
        for i in 0..ready {
            let idx = self.poller.token(i) as usize;
            let Some(Some(ch)) = self.slots.get_mut(idx) else {
                continue;
            };
            loop {
                let n = match self.recv.recv(ch.fd) {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::debug!(key = ?ch.key, error = %e, "RTP receive");
                        0
                    }
                };
                for j in 0..n {
                    if let Some(d) = self.recv.get(j) {
                        ch.rtp_in(now, d.data, d.from, &mut emit);
                        if let Some(at) = d.arrival_ns {
                            self.stats.rtp_to_jitter.record((wall - at).max(0) as u64);
                        }
                    }
                }
                received += n as u64;
                if n < RECV_BATCH {
                    break;
                }
            }
            ch.update_connection(now);
        }
        self.stats.packets_received.fetch_add(received, Relaxed);
    }

    fn serve_phase(&mut self, now: Instant, wake: Instant, phase: usize) {
        let mut i = 0;
        while i < self.groups[phase].len() {
            let idx = self.groups[phase][i];
            let got = self.serve_channel(now, wake, idx);
            if got == 0 {
                // The block was not there on its tick (a slip, or the channel was
                // flushed): find its phase again.
                self.groups[phase].swap_remove(i);
                if let Some(Some(ch)) = self.slots.get_mut(idx) {
                    ch.phase = Phase::Hunting;
                    ch.stats.phase_slips += 1;
                }
                self.hunting.push(idx);
            } else {
                i += 1;
            }
        }
    }

    fn serve_hunting(&mut self, now: Instant, wake: Instant) {
        let phase = (self.tick % PHASES as u64) as u8;
        let mut i = 0;
        while i < self.hunting.len() {
            let idx = self.hunting[i];
            if self.serve_channel(now, wake, idx) > 0 {
                self.hunting.swap_remove(i);
                if let Some(Some(ch)) = self.slots.get_mut(idx) {
                    ch.phase = Phase::Locked(phase);
                }
                self.groups[phase as usize].push(idx);
            } else {
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
                        let sent = if ch.connected {
                            io::send(ch.fd, pkt)
                        } else {
                            io::send_to(ch.fd, pkt, &ch.remote_raw)
                        };
                        match sent {
                            Ok(true) => {
                                ch.stats.packets_sent += 1;
                                stats.packets_sent.fetch_add(1, Relaxed);
                            }
                            Ok(false) => {
                                stats.send_errors.fetch_add(1, Relaxed);
                            }
                            Err(e) => {
                                stats.send_errors.fetch_add(1, Relaxed);
                                tracing::debug!(key = ?ch.key, error = %e, "RTP send");
                            }
                        }
                        stats.tdm_to_rtp.record(wake.elapsed().as_nanos() as u64);
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
        if ch.phase == Phase::Hunting && ch.stats.tdm_blocks_written == 0 {
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
            stats.jitter_to_tdm.record(wake.elapsed().as_nanos() as u64);
        }
        ch.check_timeout(now, &mut emit);
        ch.update_connection(now);
        got
    }
}

fn ch_silence(ch: &MediaChannel) -> u8 {
    ch.tdm_law().silence()
}
