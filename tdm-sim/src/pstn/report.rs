//! What the switch tells its user: events as they happen and one report per call.

use std::time::Instant;

use dahdi_driver::{Law, SpanId};
use q931::ie::{Cause, CauseValue};

use super::media;
use super::plan::Behaviour;

/// A call seen by the switch, numbered from 0 in the order the calls began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u32);

/// Which way a call goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The gateway called the switch (a SETUP arrived).
    FromGateway,
    /// The switch called the gateway ([`super::Switch::call`]).
    ToGateway,
}

/// What happened, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum SwitchEvent {
    /// The D-channel's data link came up on a span.
    LinkUp {
        span: SpanId,
    },
    LinkDown {
        span: SpanId,
    },
    /// The gateway offered a call; the plan chose `behaviour`.
    Offered {
        call: CallId,
        called: String,
        behaviour: Behaviour,
    },
    /// The gateway is proceeding with a call the switch placed.
    Proceeding {
        call: CallId,
    },
    /// The gateway alerts the called user.
    Alerting {
        call: CallId,
    },
    /// The call is active (either direction).
    Connected {
        call: CallId,
    },
    /// The call is gone; `cause` as the Q.931 interface reports it.
    Cleared {
        call: CallId,
        cause: Option<Cause>,
    },
}

/// Everything the switch knows about one call.
#[derive(Debug, Clone)]
pub struct CallReport {
    pub id: CallId,
    pub span: SpanId,
    pub direction: Direction,
    pub called: String,
    pub calling: String,
    /// The B-channel (Q.931 channel number).
    pub channel: Option<u8>,
    /// The plan's choice, for calls from the gateway.
    pub behaviour: Option<Behaviour>,
    /// The cause the switch cleared with, when it cleared first.
    pub cause_sent: Option<CauseValue>,
    /// The cause in the gateway's DISCONNECT / RELEASE / RELEASE COMPLETE.
    pub cause_received: Option<Cause>,
    /// The cause of the final clearing as the interface reported it.
    pub cleared_cause: Option<Cause>,
    pub started_at: Instant,
    pub alerting_at: Option<Instant>,
    pub connected_at: Option<Instant>,
    pub cleared_at: Option<Instant>,
    /// The law of the B-channel.
    pub law: Law,
    /// What the switch received on the B-channel while it had it open (capped at
    /// `SwitchConfig::record_limit` samples).
    pub received: Vec<u8>,
    /// Samples the switch sent on the B-channel.
    pub samples_sent: u64,
}

impl CallReport {
    /// Milliseconds of the received audio carrying a tone of `freq` Hz (Goertzel over
    /// 100 ms windows, see [`media::tone_ms`]).
    pub fn tone_ms(&self, freq: f64) -> u64 {
        media::tone_ms(self.law, &self.received, freq)
    }

    /// Whether at least `min_ms` of a `freq` Hz tone was received.
    pub fn heard(&self, freq: f64, min_ms: u64) -> bool {
        self.tone_ms(freq) >= min_ms.max(1)
    }

    /// Whether the call is over.
    pub fn is_cleared(&self) -> bool {
        self.cleared_at.is_some()
    }

    /// The cause value the call ended with: the switch's when it cleared first, else the
    /// gateway's, else the interface's (a timer or link failure).
    pub fn final_cause(&self) -> Option<CauseValue> {
        self.cause_sent
            .or(self.cause_received.as_ref().map(|c| c.value))
            .or(self.cleared_cause.as_ref().map(|c| c.value))
    }
}
