//! A software E1/T1 TDM simulator implementing the `dahdi-driver` device trait.
//!
//! A [`Sim`] holds spans; each span is a cable between two ends, the near end (the
//! gateway's) and the far end (the switch's), and each end is a [`dahdi_driver::Device`]
//! ([`Sim::near`], [`Sim::far`]). What one end writes into a timeslot the other reads,
//! sample for sample, [`Sim::delay_chunks`] chunks later.
//!
//! - Clocked like DAHDI: 8 kHz, in 1 ms chunks of 8 samples per timeslot; in virtual time
//!   ([`Sim::advance`]) or real time ([`ClockMode::RealTime`]).
//! - E1 (G.704): TS0 carries the frame alignment and the remote alarm bit, TS16 the
//!   D-channel; T1: 24 channels, D-channel on 24.
//! - The D-channel carries HDLC bit by bit ([`hdlc`]): flags, zero-bit insertion, FCS,
//!   aborts; a corrupted bit is an FCS error at the receiver.
//! - Impairments ([`Impairment`]): loss of signal, AIS, slips, bit errors, D-channel cut,
//!   HDLC aborts. Alarms and the timing source surface through the device trait as DAHDI
//!   reports them.
//!
//! ```
//! use dahdi_driver::{ChanError, ChannelId, ChannelMode, Device, Event, Law, SpanId, Timeslot};
//! use tdm_sim::{End, Impairment, Sim};
//!
//! let sim = Sim::builder().e1(1).build(); // virtual time, 1 ms line delay
//! let (near, far) = (sim.near(), sim.far());
//! let ts = |n| ChannelId { span: SpanId(1), timeslot: Timeslot(n) };
//! let clear = ChannelMode::Clear { blocksize: 160, law: Law::ALaw };
//!
//! // Audio: a block written at one end is read at the other after 8 idle samples.
//! let mut a = near.open_channel(ts(1), clear).unwrap();
//! let mut b = far.open_channel(ts(1), clear).unwrap();
//! a.write(&[0x2A; 160]).unwrap();
//! sim.advance(21).unwrap();
//! let mut buf = [0u8; 160];
//! assert_eq!(b.read(&mut buf).unwrap(), 160);
//! assert_eq!(&buf[..8], &[0xD5; 8]);
//! assert_eq!(&buf[8..], &[0x2A; 152]);
//!
//! // The D-channel: one frame per read, FCS added by the sender, checked and stripped.
//! let mut d_near = near.open_channel(ts(16), ChannelMode::HdlcFcs).unwrap();
//! let mut d_far = far.open_channel(ts(16), ChannelMode::HdlcFcs).unwrap();
//! d_near.write(&[0x00, 0x01, 0x7F]).unwrap();
//! sim.advance(3).unwrap();
//! assert_eq!(d_far.read(&mut buf).unwrap(), 3);
//!
//! // Loss of signal at the near end: an Alarm event on its channels, RED there.
//! sim.impair(SpanId(1), End::Near, Impairment::LossOfSignal(true)).unwrap();
//! sim.advance(1).unwrap();
//! assert!(matches!(d_near.read(&mut buf), Err(ChanError::EventPending)));
//! assert_eq!(d_near.get_event().unwrap(), Some(Event::Alarm));
//! assert!(near.span_status(SpanId(1)).unwrap().alarms.contains(dahdi_driver::Alarms::RED));
//! ```

pub mod cable;
pub mod channel;
pub mod crc4;
pub mod framing;
pub mod hdlc;
mod notify;
pub mod prng;
pub mod pstn;
pub mod rt;
pub mod sim;
mod sync;
pub mod tone;
pub mod wake_probe;

use dahdi_driver::{SpanId, Timeslot};

pub use channel::{ChannelStats, SimChannel};
pub use sim::{ClockMode, ClockStats, Sim, SimBuilder, SimDevice};

/// One end of a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum End {
    /// The gateway's end.
    Near,
    /// The far switch's end.
    Far,
}

impl End {
    pub(crate) fn index(self) -> usize {
        match self {
            End::Near => 0,
            End::Far => 1,
        }
    }

    /// The other end of the cable.
    pub fn other(self) -> End {
        match self {
            End::Near => End::Far,
            End::Far => End::Near,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            End::Near => "near",
            End::Far => "far",
        }
    }
}

/// A controlled slip (G.822): the receive slip buffer drops or repeats one frame, that is
/// one sample of every timeslot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlipKind {
    Drop,
    Repeat,
}

/// Something done to a span, from a test or a script.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Impairment {
    /// The receiver at the given end loses the signal (RED there, YELLOW at the other end).
    LossOfSignal(bool),
    /// The receiver at the given end gets AIS, unframed all ones (BLUE there, YELLOW at the
    /// other end).
    Ais(bool),
    /// One controlled slip at the given end's receiver.
    Slip(SlipKind),
    /// Independent bit errors at `rate` in what the given end receives, from a seeded PRNG.
    BitErrors { rate: f64, seed: u64 },
    /// No more bit errors.
    NoBitErrors,
    /// XOR `mask` into the next octet the given end receives in `timeslot` (0 = E1 TS0).
    FlipBits { timeslot: Timeslot, mask: u8 },
    /// The D-channel timeslot carries all ones both ways (the span itself stays up).
    DChannelCut(bool),
    /// The given end's D-channel transmitter aborts the frame it is sending.
    AbortDChannelFrame,
}

/// Errors of the simulator's own API.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("no such span: {0}")]
    NoSuchSpan(SpanId),
    #[error("no such timeslot: {}", .0 .0)]
    NoSuchTimeslot(Timeslot),
    #[error("the clock runs in real time; advance() is for virtual time")]
    RealTimeClock,
    #[error("the line delay cannot absorb this slip")]
    SlipOutOfRange,
    #[error("bit error rate {0} is not in (0, 1)")]
    InvalidRate(f64),
}
