//! The device trait: spans and channels of an E1/T1 card, as the gateway sees them.
//!
//! Two implementations exist: the real `/dev/dahdi` one in this crate and the simulator's
//! in `tdm-sim`. The semantics follow DAHDI's (`dahdi-base.c`): channels are opened
//! non-blocking, a B-channel delivers clear 64 kbit/s audio in blocks, a D-channel delivers
//! one HDLC frame per read with the FCS already checked and stripped, and an event queued
//! on a channel (alarm, bad FCS, abort) makes reads fail with [`ChanError::EventPending`]
//! until it is fetched with [`Channel::get_event`].

use std::fmt;
use std::os::fd::RawFd;
use std::time::Duration;

use bitflags::bitflags;

/// A span number, 1-based as in DAHDI (`span=1,...` in `system.conf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpanId(pub u16);

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "span {}", self.0)
    }
}

/// A timeslot within a span, 1-based as DAHDI numbers channels within a span:
/// E1 1..=31 (TS16 normally the D-channel; TS0 carries framing and is never a channel),
/// T1 1..=24 (24 normally the D-channel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timeslot(pub u8);

/// One channel: a timeslot on a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelId {
    pub span: SpanId,
    pub timeslot: Timeslot,
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.span.0, self.timeslot.0)
    }
}

/// The kind of trunk a span carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpanKind {
    /// 2.048 Mbit/s, 32 timeslots (G.704): TS0 framing, TS16 signalling, 30 bearers.
    E1,
    /// 1.544 Mbit/s, 24 timeslots (T1.403): for PRI, timeslot 24 is the D-channel.
    T1,
}

impl SpanKind {
    /// Channels DAHDI exposes for such a span (E1: 31, TS0 excluded; T1: 24).
    pub fn channels(self) -> u8 {
        match self {
            SpanKind::E1 => 31,
            SpanKind::T1 => 24,
        }
    }
    /// The conventional PRI D-channel timeslot.
    pub fn dchannel(self) -> Timeslot {
        match self {
            SpanKind::E1 => Timeslot(16),
            SpanKind::T1 => Timeslot(24),
        }
    }
    /// The companding law carried on voice channels by convention.
    pub fn default_law(self) -> Law {
        match self {
            SpanKind::E1 => Law::ALaw,
            SpanKind::T1 => Law::MuLaw,
        }
    }
}

/// G.711 companding law of a channel (`DAHDI_SETLAW`): the workspace's one `Law` type.
pub use g711::Law;

/// Line coding of a span (`system.conf`: `hdb3`, `ami`, `b8zs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineCoding {
    Hdb3,
    Ami,
    B8zs,
}

/// Framing of a span (`system.conf`: `ccs`/`cas` for E1, `esf`/`d4` for T1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    Ccs,
    Cas,
    Esf,
    D4,
}

/// How a span is configured (`DAHDI_SPANCONFIG`, one `span=` line of `system.conf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanConfig {
    pub kind: SpanKind,
    pub framing: Framing,
    pub coding: LineCoding,
    /// E1 CRC-4 multiframe (G.704 §2.3.3); ignored on T1.
    pub crc4: bool,
    /// Timing priority: 0 never takes the clock from this span, 1 is the preferred master.
    pub timing_priority: u8,
    /// Line build-out (`lbo`), 0 = 0 dB.
    pub lbo: u8,
}

impl SpanConfig {
    /// The usual E1 PRI line: CCS, HDB3, CRC-4.
    pub fn e1_pri(timing_priority: u8) -> Self {
        SpanConfig {
            kind: SpanKind::E1,
            framing: Framing::Ccs,
            coding: LineCoding::Hdb3,
            crc4: true,
            timing_priority,
            lbo: 0,
        }
    }
    /// The usual T1 PRI line: ESF, B8ZS.
    pub fn t1_pri(timing_priority: u8) -> Self {
        SpanConfig {
            kind: SpanKind::T1,
            framing: Framing::Esf,
            coding: LineCoding::B8zs,
            crc4: false,
            timing_priority,
            lbo: 0,
        }
    }
}

bitflags! {
    /// Span alarms, with DAHDI's bit values (`DAHDI_ALARM_*` in `dahdi/user.h`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct Alarms: u32 {
        /// Recovering from an alarm (the alarm condition cleared, not yet stable).
        const RECOVER = 1 << 0;
        const LOOPBACK = 1 << 1;
        /// Yellow: the far end reports it lost our signal (RAI).
        const YELLOW = 1 << 2;
        /// Red: loss of signal or of frame alignment here.
        const RED = 1 << 3;
        /// Blue: AIS (all ones) received.
        const BLUE = 1 << 4;
        /// The span is not configured/started.
        const NOTOPEN = 1 << 5;
        /// Loss of signal (detail of RED).
        const LOS = 1 << 8;
        /// Loss of frame alignment (detail of RED).
        const LFA = 1 << 9;
        /// Loss of multiframe alignment.
        const LMFA = 1 << 10;
    }
}

/// What the device reports about a span (`DAHDI_SPANSTAT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanStatus {
    pub span: SpanId,
    pub name: String,
    pub description: String,
    pub kind: SpanKind,
    pub configured: Option<SpanConfig>,
    pub alarms: Alarms,
    /// Frame slips counted since the span started (controlled slips, G.822); `None` when
    /// the device does not count them (DAHDI's span statistics have no slip counter).
    pub slips: Option<u32>,
    /// Bipolar violations / CRC errors counted since start.
    pub bpv_count: u32,
    pub crc4_count: u32,
    pub fas_count: u32,
    /// Whether this span currently provides the device's timing.
    pub is_sync_source: bool,
    /// Total channels of the span (E1 31, T1 24).
    pub channels: u8,
}

/// Channel events, with DAHDI's numbers (`DAHDI_EVENT_*` in `dahdi/user.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// The span went into alarm (`DAHDI_EVENT_ALARM`, 4).
    Alarm,
    /// The span's alarms cleared (`DAHDI_EVENT_NOALARM`, 5).
    NoAlarm,
    /// An HDLC frame was aborted by the sender (`DAHDI_EVENT_ABORT`, 6).
    Abort,
    /// HDLC receive overrun (`DAHDI_EVENT_OVERRUN`, 7).
    Overrun,
    /// An HDLC frame arrived with a bad FCS and was dropped (`DAHDI_EVENT_BADFCS`, 8).
    BadFcs,
    /// The channel's read buffers overflowed: audio was lost (`DAHDI_EVENT_READ_OVERRUN`, 29).
    ReadOverrun,
    /// The channel ran out of audio to send (`DAHDI_EVENT_WRITE_UNDERRUN`, 30).
    WriteUnderrun,
    /// Any other DAHDI event number, kept as received.
    Other(u32),
}

impl Event {
    /// DAHDI's numeric value of this event.
    pub fn code(self) -> u32 {
        match self {
            Event::Alarm => 4,
            Event::NoAlarm => 5,
            Event::Abort => 6,
            Event::Overrun => 7,
            Event::BadFcs => 8,
            Event::ReadOverrun => 29,
            Event::WriteUnderrun => 30,
            Event::Other(n) => n,
        }
    }
    /// The event for a DAHDI event number.
    pub fn from_code(code: u32) -> Self {
        match code {
            4 => Event::Alarm,
            5 => Event::NoAlarm,
            6 => Event::Abort,
            7 => Event::Overrun,
            8 => Event::BadFcs,
            29 => Event::ReadOverrun,
            30 => Event::WriteUnderrun,
            n => Event::Other(n),
        }
    }
}

/// How a channel is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelMode {
    /// Clear 64 kbit/s channel, audio in blocks of `blocksize` bytes (DAHDI default 160
    /// = 20 ms). `law` is what the timeslot carries.
    Clear { blocksize: usize, law: Law },
    /// HDLC with FCS: one frame per read, FCS checked and stripped (`DAHDI_SIG_HDLCFCS`).
    HdlcFcs,
}

/// Errors of the device layer.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("no such span: {0}")]
    NoSuchSpan(SpanId),
    #[error("no such channel: {0}")]
    NoSuchChannel(ChannelId),
    #[error("channel {0} is already open")]
    Busy(ChannelId),
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("{op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// Errors of channel I/O, shaped as DAHDI reports them.
#[derive(Debug, thiserror::Error)]
pub enum ChanError {
    /// Nothing to read yet / no room to write yet (`EAGAIN`).
    #[error("would block")]
    WouldBlock,
    /// An event is queued on the channel (DAHDI's `ELAST`): fetch it with
    /// [`Channel::get_event`] before reading on.
    #[error("event pending")]
    EventPending,
    /// The frame or block handed to `write` is too large for the channel.
    #[error("frame of {0} bytes is too large")]
    TooLarge(usize),
    #[error("channel I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// One open channel. Reads and writes never block: they return
/// [`ChanError::WouldBlock`], and [`Channel::raw_fd`] becomes readable (or `POLLPRI` for an
/// event) when there is more to do, so the channel can be driven by `poll(2)`, epoll or
/// tokio's `AsyncFd`.
pub trait Channel: Send {
    /// Which channel this is.
    fn id(&self) -> ChannelId;
    /// Clear channel: read up to `buf.len()` bytes of audio (at most one block).
    /// HDLC channel: read one whole frame, FCS stripped; returns its length.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ChanError>;
    /// Clear channel: queue audio bytes for transmission.
    /// HDLC channel: queue one whole frame (without FCS; the device appends it).
    fn write(&mut self, buf: &[u8]) -> Result<usize, ChanError>;
    /// Fetch the next queued event, if any (`DAHDI_GETEVENT`).
    fn get_event(&mut self) -> Result<Option<Event>, ChanError>;
    /// Change the companding law (`DAHDI_SETLAW`); clear channels only.
    fn set_law(&mut self, law: Law) -> Result<(), ChanError>;
    /// Drop what is queued in either direction (`DAHDI_FLUSH`).
    fn flush(&mut self) -> Result<(), ChanError>;
    /// A file descriptor that polls readable when `read` may succeed and with `POLLPRI`
    /// when an event is queued.
    fn raw_fd(&self) -> RawFd;
    /// A hint that `read` and `write` come soon: bring what they touch towards the CPU's
    /// caches (a media thread serving a hundred channels a tick calls it a few channels
    /// ahead of the one it serves). Nothing by default.
    fn prefetch(&self) {}
}

/// A source of the device's 1 ms tick (`/dev/dahdi/timer`, or the simulator clock).
/// Media threads pace themselves on it so that they follow the line clock, not the host's.
pub trait Ticker: Send {
    /// Block until at least one more tick elapsed, at most `timeout`; returns how many ticks
    /// elapsed since the previous call (0 on timeout).
    fn wait(&mut self, timeout: Duration) -> Result<u64, DeviceError>;

    /// How long ago the clock posted the tick `back` ticks before the newest one the last
    /// [`Ticker::wait`] reported (`back` 0: that newest one), when the clock keeps such
    /// times: a thread handed several ticks at once learns whether it woke up late, or the
    /// clock posted them late and together. `None` when the clock does not say (the
    /// DAHDI timer posts from the span's interrupt and keeps no times).
    fn posted_ago(&self, back: u64) -> Option<Duration> {
        let _ = back;
        None
    }
}

/// An E1/T1 device: a set of spans and their channels.
pub trait Device: Send + Sync {
    /// The spans this device has, in order.
    fn spans(&self) -> Result<Vec<SpanId>, DeviceError>;
    /// Status and alarms of one span (`DAHDI_SPANSTAT`).
    fn span_status(&self, span: SpanId) -> Result<SpanStatus, DeviceError>;
    /// Configure a span's line and bring it up (`DAHDI_SPANCONFIG` then `DAHDI_STARTUP`).
    fn configure_span(&self, span: SpanId, config: &SpanConfig) -> Result<(), DeviceError>;
    /// Take a span down (`DAHDI_SHUTDOWN`).
    fn shutdown_span(&self, span: SpanId) -> Result<(), DeviceError>;
    /// Open a channel in the given mode (`/dev/dahdi/channel` + `DAHDI_SPECIFY`, then
    /// `DAHDI_CHANCONFIG`/`DAHDI_SET_BLOCKSIZE`/`DAHDI_SETLAW` as the mode needs).
    fn open_channel(
        &self,
        channel: ChannelId,
        mode: ChannelMode,
    ) -> Result<Box<dyn Channel>, DeviceError>;
    /// A ticker following this device's clock.
    fn ticker(&self) -> Result<Box<dyn Ticker>, DeviceError>;
}
