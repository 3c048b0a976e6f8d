//! The media engine: dedicated threads (not tokio) that own the TDM tick and bridge each
//! B-channel to its RTP stream (DESIGN.md "Threads and time").
//!
//! Each media thread paces itself on the device's [`Ticker`] (1 ms, the line clock) and,
//! every tick, for the channels whose 20 ms block completed on that tick:
//! B-channel read → echo canceller → in-band DTMF detector → (A↔µ if the SIP side
//! negotiated the other law) → one 20 ms RTP packet out; and jitter buffer → RFC 4733
//! tone generator → B-channel write. Between ticks the thread sleeps until the next tick
//! that has work or a datagram — in `io_uring_enter` where its RTP receives are armed in
//! the ring (Linux ≥ 6.1: a multishot `recvmsg` per socket, so the enters that submit a
//! tick's sends also take the datagrams), else in `epoll_wait` on its sockets, whose
//! readable ones are then read (io_uring: all in one submission; else `recvmmsg` each) —
//! straight into the jitter buffers; a tick's sends go out in batches through io_uring
//! where the kernel runs it (see `io::PacketIo`). No allocation, lock or system call per
//! sample.
//!
//! Signalling talks to media threads over crossbeam channels ([`Control`] in,
//! [`MediaEvent`] out); a media thread never waits on anything signalling holds.

mod channel;
pub mod hairpin;
pub mod io;
mod lateness;
pub mod relay;
mod stats;
mod uring;
mod worker;

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use dahdi_driver::{Channel, Ticker};

use crate::media::Law;
use crate::rtp::{JitterStats, PayloadType};

pub use hairpin::{HairpinConfig, HairpinStats};
pub use stats::{EngineStats, LatencyHistogram, WorkerStats};
pub use worker::MediaWorker;

/// Names one bridged channel for the life of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelKey(pub u32);

/// How DTMF crosses between the B-channel and RTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfMode {
    /// RFC 4733: in-band digits from the B-channel become telephone-event packets (their
    /// audio is suppressed once detected), received events are played as tones.
    Rfc4733,
    /// Digits stay in the audio; detected digits are still reported to signalling
    /// (for SIP INFO or logs).
    InbandReport,
    /// Digits go by signalling (H.323: H.245 UserInputIndication, H.323 §10.5): digits
    /// heard on the B-channel are reported and their audio is replaced by silence once
    /// detected, and no telephone-event is sent, so the peer gets each key once; received
    /// telephone-events (a peer that announced RFC 2833) are still played as tones.
    Signalling,
    /// No DTMF processing (data and fax calls).
    Off,
}

/// Where a digit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigitSource {
    /// Heard on the B-channel.
    Tdm,
    /// RFC 4733 telephone-event from the SIP side.
    Rfc4733,
}

/// Everything a media thread needs to bridge one B-channel.
pub struct ChannelConfig {
    /// The B-channel, opened in clear mode with a 160-byte block
    /// (`ChannelMode::Clear { blocksize: 160, law }`).
    pub tdm: Box<dyn Channel>,
    /// The law on the line (E1: A-law, T1: µ-law).
    pub tdm_law: Law,
    /// Our RTP socket, bound. The engine never blocks on it (every send and receive
    /// carries `MSG_DONTWAIT` or goes through io_uring), whether it is non-blocking or not.
    pub socket: UdpSocket,
    /// Where to send RTP (from the SDP).
    pub remote: SocketAddr,
    /// The law negotiated on the SIP side.
    pub sip_law: Law,
    /// Its payload type (0 or 8, or what the offer said).
    pub payload_type: PayloadType,
    /// The negotiated telephone-event payload type, if any.
    pub event_payload_type: Option<PayloadType>,
    pub dtmf: DtmfMode,
    /// Echo canceller on the TDM side: on for voice, off for data/fax.
    pub echo_cancel: bool,
    /// Report [`MediaEvent::RtpTimeout`] after this long without a packet.
    pub rtp_timeout: Option<Duration>,
    /// Follow the source of the peer's packets (RFC 4961 style latching) after three
    /// valid packets from one address.
    pub symmetric_rtp: bool,
}

impl ChannelConfig {
    /// Voice defaults: RFC 4733 DTMF if an event payload type was negotiated, echo
    /// canceller on, 30 s RTP timeout, symmetric RTP.
    #[allow(clippy::too_many_arguments)]
    pub fn voice(
        tdm: Box<dyn Channel>,
        tdm_law: Law,
        socket: UdpSocket,
        remote: SocketAddr,
        sip_law: Law,
        payload_type: PayloadType,
        event_payload_type: Option<PayloadType>,
    ) -> Self {
        ChannelConfig {
            tdm,
            tdm_law,
            socket,
            remote,
            sip_law,
            payload_type,
            event_payload_type,
            dtmf: if event_payload_type.is_some() {
                DtmfMode::Rfc4733
            } else {
                DtmfMode::InbandReport
            },
            echo_cancel: true,
            rtp_timeout: Some(Duration::from_secs(30)),
            symmetric_rtp: true,
        }
    }
}

/// Commands from signalling to a media thread.
pub enum Control {
    Add(ChannelKey, Box<ChannelConfig>),
    /// A re-INVITE moved the far end.
    SetRemote(ChannelKey, SocketAddr),
    /// A re-INVITE changed the SIP side's codec: its law, payload type and
    /// telephone-event payload type (`MediaChannel::set_codec`).
    SetCodec(ChannelKey, Law, PayloadType, Option<PayloadType>),
    /// Hold: stop sending RTP (keep receiving, the RTP timeout pauses); `false` resumes.
    Hold(ChannelKey, bool),
    /// Watch the channel's RTP with this timeout from now on (`None`: not at all).
    RtpTimeout(ChannelKey, Option<Duration>),
    /// The SIP side holds the call (RFC 3264 §8.4): as [`Control::Hold`], and the
    /// B-channel gets silence or music on hold instead of the RTP audio.
    HoldWithMedia(ChannelKey, bool, crate::media::tone::HoldSound),
    /// Play a DTMF digit on the B-channel for the given time (a SIP INFO digit the core
    /// received).
    PlayDigit(ChannelKey, char, Duration),
    /// Ask for a [`MediaEvent::Stats`].
    QueryStats(ChannelKey),
    /// Join two B-channels to each other, no RTP ([`hairpin`]).
    AddHairpin(ChannelKey, Box<HairpinConfig>),
    /// Stop bridging; [`MediaEvent::Removed`] gives the channel and socket back (for a
    /// hairpin, [`MediaEvent::HairpinRemoved`] gives both channels).
    Remove(ChannelKey),
    /// End the thread.
    Shutdown,
}

/// Per-call figures.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ChannelStats {
    pub packets_sent: u64,
    pub packets_received: u64,
    /// Packets not for us (unknown payload type, unparsable).
    pub packets_ignored: u64,
    pub tdm_blocks_read: u64,
    pub tdm_blocks_written: u64,
    /// A block was due on the phase tick but not there: the engine re-locked its phase.
    pub phase_slips: u64,
    pub digits_detected: u64,
    pub digits_played: u64,
    /// Times a 2100 Hz answer tone (modem, fax) turned the echo canceller off (G.165).
    pub echo_disabled: u64,
    /// RFC 3550 cumulative loss and interarrival jitter (ms).
    pub lost: i32,
    pub jitter_ms: f64,
    pub jitter_buffer: JitterStats,
}

/// What media threads report to signalling.
pub enum MediaEvent {
    /// No RTP for the configured time: the core clears the call (cause 41 or 102, its
    /// choice).
    RtpTimeout {
        key: ChannelKey,
        silent_for: Duration,
    },
    /// RTP flows again after a timeout was reported.
    RtpResumed { key: ChannelKey },
    /// A digit began.
    Digit {
        key: ChannelKey,
        digit: char,
        source: DigitSource,
    },
    /// A digit ended, with its duration.
    DigitEnd {
        key: ChannelKey,
        digit: char,
        source: DigitSource,
        duration: Duration,
    },
    /// The B-channel reported an event (alarm, …).
    Tdm {
        key: ChannelKey,
        event: dahdi_driver::Event,
    },
    /// The far end moved (symmetric RTP latched on a new source).
    RemoteLatched { key: ChannelKey, remote: SocketAddr },
    Stats {
        key: ChannelKey,
        stats: ChannelStats,
    },
    /// Removed: the B-channel and the socket are handed back with the final figures.
    Removed {
        key: ChannelKey,
        tdm: Box<dyn Channel>,
        socket: UdpSocket,
        stats: ChannelStats,
    },
    /// A channel could not be added (DSP setup or socket registration failed).
    AddFailed { key: ChannelKey, reason: String },
    /// A hairpin was removed: its two B-channels are handed back with its figures.
    HairpinRemoved {
        key: ChannelKey,
        a: Box<dyn Channel>,
        b: Box<dyn Channel>,
        stats: HairpinStats,
    },
}

impl std::fmt::Debug for MediaEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MediaEvent::RtpTimeout { key, silent_for } => {
                write!(f, "RtpTimeout({key:?}, {silent_for:?})")
            }
            MediaEvent::RtpResumed { key } => write!(f, "RtpResumed({key:?})"),
            MediaEvent::Digit { key, digit, source } => {
                write!(f, "Digit({key:?}, {digit:?}, {source:?})")
            }
            MediaEvent::DigitEnd {
                key,
                digit,
                source,
                duration,
            } => write!(f, "DigitEnd({key:?}, {digit:?}, {source:?}, {duration:?})"),
            MediaEvent::Tdm { key, event } => write!(f, "Tdm({key:?}, {event:?})"),
            MediaEvent::RemoteLatched { key, remote } => {
                write!(f, "RemoteLatched({key:?}, {remote})")
            }
            MediaEvent::Stats { key, stats } => write!(f, "Stats({key:?}, {stats:?})"),
            MediaEvent::Removed { key, stats, .. } => write!(f, "Removed({key:?}, {stats:?})"),
            MediaEvent::AddFailed { key, reason } => write!(f, "AddFailed({key:?}, {reason})"),
            MediaEvent::HairpinRemoved { key, stats, .. } => {
                write!(f, "HairpinRemoved({key:?}, {stats:?})")
            }
        }
    }
}

/// Errors starting the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no ticker given: the engine needs at least one media thread")]
    NoThreads,
    #[error("media thread: {0}")]
    Io(#[from] std::io::Error),
    #[error("unknown channel {0:?}")]
    UnknownChannel(ChannelKey),
    #[error("media thread {0} has stopped")]
    ThreadGone(usize),
}

struct WorkerHandle {
    control: Sender<Control>,
    /// Wakes the thread from its sleep on the sockets after a control message.
    waker: Arc<io::Waker>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<WorkerStats>,
    channels: usize,
}

/// How the media threads run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineOptions {
    /// `SCHED_FIFO` priority of the media threads where the host allows it (default
    /// [`tdm_sim::rt::MEDIA_PRIORITY`], just below the simulator's clock): they own the
    /// TDM tick, so on a busy host ordinary scheduling would make them late. They sleep
    /// between ticks, so signalling is not starved. Where it is refused a warning says so
    /// and they run at normal priority. `None`: normal priority.
    pub fifo_priority: Option<i32>,
    /// How the threads move packets: [`io::IoMode::Auto`] (the default) uses io_uring
    /// where the kernel runs it, plain system calls otherwise; each thread logs which.
    pub io: io::IoMode,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            fifo_priority: Some(tdm_sim::rt::MEDIA_PRIORITY),
            io: io::IoMode::Auto,
        }
    }
}

/// The media threads and the way to reach them. Owned by the signalling side.
pub struct MediaEngine {
    workers: Vec<WorkerHandle>,
    events: Receiver<MediaEvent>,
    placement: HashMap<ChannelKey, usize>,
    next_key: u32,
}

impl MediaEngine {
    /// One media thread per ticker (take them from the device: `device.ticker()`), with
    /// the default [`EngineOptions`] (`SCHED_FIFO` where permitted).
    pub fn start(tickers: Vec<Box<dyn Ticker>>) -> Result<Self, EngineError> {
        Self::start_with(tickers, EngineOptions::default())
    }

    /// As [`MediaEngine::start`], with the given options.
    pub fn start_with(
        tickers: Vec<Box<dyn Ticker>>,
        options: EngineOptions,
    ) -> Result<Self, EngineError> {
        if tickers.is_empty() {
            return Err(EngineError::NoThreads);
        }
        let (ev_tx, ev_rx) = crossbeam_channel::unbounded();
        let mut workers = Vec::new();
        for (i, ticker) in tickers.into_iter().enumerate() {
            let (tx, rx) = crossbeam_channel::unbounded();
            let stats = WorkerStats::new();
            let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
            let (events, shared) = (ev_tx.clone(), stats.clone());
            // The worker is built on its own thread: the spandsp state of its channels
            // never crosses threads.
            let thread = std::thread::Builder::new()
                .name(format!("media-{i}"))
                .spawn(
                    move || match MediaWorker::with_io(rx, events, shared, options.io) {
                        Ok(worker) => {
                            tracing::info!(
                                thread = i,
                                io = worker.stats().snapshot().packet_io(),
                                "media thread: packet I/O"
                            );
                            if let Some(prio) = options.fifo_priority {
                                let fifo = tdm_sim::rt::enter_fifo(&format!("media-{i}"), prio);
                                worker
                                    .stats()
                                    .fifo
                                    .store(fifo, std::sync::atomic::Ordering::Relaxed);
                            }
                            let _ = ready_tx.send(Ok(worker.waker()));
                            worker.run(ticker);
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    },
                )?;
            let waker = ready_rx.recv().map_err(|_| EngineError::ThreadGone(i))??;
            workers.push(WorkerHandle {
                control: tx,
                waker,
                thread: Some(thread),
                stats,
                channels: 0,
            });
        }
        Ok(MediaEngine {
            workers,
            events: ev_rx,
            placement: HashMap::new(),
            next_key: 1,
        })
    }

    /// Bridge a channel on the least loaded media thread.
    pub fn add_channel(&mut self, cfg: ChannelConfig) -> Result<ChannelKey, EngineError> {
        self.place(|key| Control::Add(key, Box::new(cfg)))
    }

    /// Join two B-channels on the least loaded media thread (B-channel ↔ B-channel,
    /// no RTP); stop it with [`MediaEngine::remove_channel`].
    pub fn add_hairpin(&mut self, cfg: HairpinConfig) -> Result<ChannelKey, EngineError> {
        self.place(|key| Control::AddHairpin(key, Box::new(cfg)))
    }

    /// Give the next key to what `add` builds and send it to the least loaded media thread.
    fn place(
        &mut self,
        add: impl FnOnce(ChannelKey) -> Control,
    ) -> Result<ChannelKey, EngineError> {
        let key = ChannelKey(self.next_key);
        self.next_key = self.next_key.wrapping_add(1).max(1);
        let (idx, w) = self
            .workers
            .iter_mut()
            .enumerate()
            .min_by_key(|(_, w)| w.channels)
            .ok_or(EngineError::NoThreads)?;
        w.control
            .send(add(key))
            .map_err(|_| EngineError::ThreadGone(idx))?;
        w.waker.wake();
        w.channels += 1;
        self.placement.insert(key, idx);
        Ok(key)
    }

    fn send(&self, key: ChannelKey, c: Control) -> Result<(), EngineError> {
        let idx = *self
            .placement
            .get(&key)
            .ok_or(EngineError::UnknownChannel(key))?;
        let w = &self.workers[idx];
        w.control
            .send(c)
            .map_err(|_| EngineError::ThreadGone(idx))?;
        w.waker.wake();
        Ok(())
    }

    pub fn set_remote(&self, key: ChannelKey, remote: SocketAddr) -> Result<(), EngineError> {
        self.send(key, Control::SetRemote(key, remote))
    }

    /// The SIP side's codec changed mid-call (see [`Control::SetCodec`]).
    pub fn set_codec(
        &self,
        key: ChannelKey,
        law: Law,
        payload_type: PayloadType,
        event_payload_type: Option<PayloadType>,
    ) -> Result<(), EngineError> {
        self.send(
            key,
            Control::SetCodec(key, law, payload_type, event_payload_type),
        )
    }

    pub fn hold(&self, key: ChannelKey, on: bool) -> Result<(), EngineError> {
        self.send(key, Control::Hold(key, on))
    }

    /// Watch channel `key`'s RTP with `timeout` from now on ([`MediaEvent::RtpTimeout`]
    /// after that long without a packet; `None`: not at all).
    pub fn set_rtp_timeout(
        &self,
        key: ChannelKey,
        timeout: Option<Duration>,
    ) -> Result<(), EngineError> {
        self.send(key, Control::RtpTimeout(key, timeout))
    }

    /// The SIP side holds (`on`) or resumes the call: no RTP out, and the B-channel hears
    /// `sound` (silence, the melody or the configured file) until resumed.
    pub fn hold_with_media(
        &self,
        key: ChannelKey,
        on: bool,
        sound: crate::media::tone::HoldSound,
    ) -> Result<(), EngineError> {
        self.send(key, Control::HoldWithMedia(key, on, sound))
    }

    pub fn play_digit(
        &self,
        key: ChannelKey,
        digit: char,
        duration: Duration,
    ) -> Result<(), EngineError> {
        self.send(key, Control::PlayDigit(key, digit, duration))
    }

    pub fn query_stats(&self, key: ChannelKey) -> Result<(), EngineError> {
        self.send(key, Control::QueryStats(key))
    }

    /// Stop bridging; the channel comes back in [`MediaEvent::Removed`].
    pub fn remove_channel(&mut self, key: ChannelKey) -> Result<(), EngineError> {
        self.send(key, Control::Remove(key))?;
        if let Some(idx) = self.placement.remove(&key) {
            self.workers[idx].channels = self.workers[idx].channels.saturating_sub(1);
        }
        Ok(())
    }

    /// Events from every media thread; poll with `try_recv` or select on it.
    pub fn events(&self) -> &Receiver<MediaEvent> {
        &self.events
    }

    /// Counters of each media thread.
    pub fn stats(&self) -> Vec<EngineStats> {
        self.workers.iter().map(|w| w.stats.snapshot()).collect()
    }

    /// Start a measurement window: clear every thread's latency histograms and maximum.
    pub fn reset_window(&self) {
        for w in &self.workers {
            w.stats.reset_window();
        }
    }

    /// Stop the threads and wait for them.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        for w in &self.workers {
            let _ = w.control.send(Control::Shutdown);
            w.waker.wake();
        }
        for w in &mut self.workers {
            if let Some(t) = w.thread.take() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for MediaEngine {
    fn drop(&mut self) {
        self.stop();
    }
}
