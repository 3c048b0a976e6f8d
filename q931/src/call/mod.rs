//! Q.931 basic call control (§5) on one primary rate D-channel, user side and network side,
//! sans-IO.
//!
//! [`Interface`] owns the Q.921 data link ([`crate::lapd::Link`]), every call by call
//! reference, the state of each B-channel and the RESTART procedure. Frames (LAPD, no FCS)
//! and time go in through [`Interface::handle_frame`] / [`Interface::handle_timeout`];
//! commands of the layer above (the gateway's ISDN leg) through [`Interface::setup`],
//! [`Interface::proceeding`], [`Interface::alerting`], [`Interface::connect`],
//! [`Interface::disconnect`], ...; frames to send, [`Event`]s and the next deadline come out
//! of [`Interface::poll_transmit`], [`Interface::poll_event`], [`Interface::poll_timeout`].
//!
//! The procedures, one module each:
//! - `establishment`: §5.1 (user side) and §5.2 (network side) call establishment, en-bloc
//!   and overlap sending, call confirmation, channel selection (§5.1.2 / §5.2.3).
//! - `clearing`: §5.3 call clearing, clear collision (§5.3.5).
//! - `status`: §5.8 error handling (with [`crate::validate`]), §5.8.3.2 unknown call
//!   references, §5.8.10 / §5.8.11 STATUS ENQUIRY and STATUS.
//! - `restart`: §5.5 RESTART of channels and of the interface; NI-2 SERVICE.
//! - `timers`: the §9 timers and their actions, T309 (§5.8.8 data link failure).
//! - `channels`: B-channel states of the span.
//! - `variant`: switch variants as data (ETSI EN 300 403 E1, NI-2 T1).
//!
//! A call between our user side and our network side, frames handed over in memory:
//!
//! ```
//! use std::time::Instant;
//! use q931::call::{ChannelPref, Event, Interface, InterfaceConfig, SetupRequest};
//! use q931::ie::{BearerCapability, CalledPartyNumber, CauseValue, Layer1Protocol,
//!                NumberingPlan, TypeOfNumber};
//! use q931::lapd::Role;
//!
//! fn shuttle(a: &mut Interface, b: &mut Interface, now: Instant) {
//!     loop {
//!         let mut moved = false;
//!         while let Some(f) = a.poll_transmit() { b.handle_frame(now, &f); moved = true; }
//!         while let Some(f) = b.poll_transmit() { a.handle_frame(now, &f); moved = true; }
//!         if !moved { break; }
//!     }
//! }
//!
//! let now = Instant::now();
//! let mut user = Interface::new(InterfaceConfig::euro_isdn_e1(Role::User));
//! let mut net = Interface::new(InterfaceConfig::euro_isdn_e1(Role::Network));
//! user.start(now);
//! shuttle(&mut user, &mut net, now);
//! let call = user.setup(now, SetupRequest {
//!     called: Some(CalledPartyNumber::new(TypeOfNumber::National, NumberingPlan::Isdn, "5551234")),
//!     calling: None,
//!     bearer: BearerCapability::speech(Layer1Protocol::G711ALaw),
//!     channel: ChannelPref::Any,
//!     sending_complete: true,
//! }).unwrap();
//! shuttle(&mut user, &mut net, now);
//! let offered = std::iter::from_fn(|| net.poll_event())
//!     .find_map(|e| match e { Event::IncomingSetup { call, .. } => Some(call), _ => None })
//!     .unwrap();
//! net.connect(now, offered).unwrap();
//! shuttle(&mut user, &mut net, now);
//! assert!(std::iter::from_fn(|| user.poll_event())
//!     .any(|e| matches!(e, Event::Connected { call: c, .. } if c == call)));
//! user.disconnect(now, call, CauseValue::NormalCallClearing).unwrap();
//! shuttle(&mut user, &mut net, now);
//! assert_eq!((user.call_count(), net.call_count()), (0, 0));
//! ```

mod calls;
mod channels;
mod clearing;
mod ect_inform;
mod establishment;
mod interface;
mod party_name;
mod restart;
mod state;
mod status;
mod timers;
mod transfer;
mod variant;

pub use channels::{ChannelState, ChannelTable};
pub use interface::{Interface, InterfaceConfig};
pub use party_name::{ia5_name, name_in, name_of, DISPLAY_TYPE_NAME, NAME_MAX};
pub use state::Stage;
pub use timers::{Timer, Timers};
pub use transfer::{
    TransferFailure, TransferMethod, RESPONSE_TIMEOUT as TRANSFER_RESPONSE_TIMEOUT,
};
pub use variant::{Span, SwitchType, Variant};

use crate::ie::{
    BearerCapability, CalledPartyNumber, CallingPartyNumber, Cause, CauseValue, ChangeStatus,
    ConnectedNumber, NotificationDescription, ProgressDescription, RedirectingNumber,
};

/// Identifies one call on an [`Interface`]: the call reference value and which side chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallHandle {
    /// The call reference value (15 bits on a PRI).
    pub call_ref: u16,
    /// `true` when this side allocated the call reference (it sent the SETUP).
    pub ours: bool,
}

/// Which B-channel an outgoing call asks for (Q.931 §5.1.2 / §5.2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelPref {
    /// Any channel: the user side leaves the choice to the network; the network side picks
    /// an idle one.
    Any,
    /// This channel if it is free, another one otherwise.
    Preferred(u8),
    /// This channel and no other (cause 44 if it is taken).
    Exclusive(u8),
}

/// An outgoing call, for [`Interface::setup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupRequest {
    /// Called party number; may be empty or partial for overlap sending.
    pub called: Option<CalledPartyNumber>,
    pub calling: Option<CallingPartyNumber>,
    pub bearer: BearerCapability,
    pub channel: ChannelPref,
    /// `true` for en-bloc sending (the number is complete, §5.1.1); `false` for overlap
    /// sending (more digits with [`Interface::information`] after SETUP ACKNOWLEDGE, §5.1.3).
    pub sending_complete: bool,
}

/// What the interface reports to the layer above.
// A SETUP's elements make `IncomingSetup` the largest by far; events are queued a few at
// a time and handed on once, so boxing it would only add an allocation per call.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The data link is up (DL-ESTABLISH confirm or indication).
    LinkUp,
    /// The data link is down (DL-RELEASE indication or confirm); active calls wait T309.
    LinkDown,
    /// A SETUP arrived and the call is offered (§5.1 / §5.2 incoming side); the channel was
    /// selected and is reserved for it. Answer with [`Interface::proceeding`],
    /// [`Interface::setup_acknowledge`] (overlap receiving), [`Interface::alerting`],
    /// [`Interface::connect`] or [`Interface::disconnect`].
    IncomingSetup {
        call: CallHandle,
        called: Option<CalledPartyNumber>,
        calling: Option<CallingPartyNumber>,
        bearer: Option<BearerCapability>,
        channel: Option<u8>,
        sending_complete: bool,
        /// The number the call was diverted from, with the reason (Q.952 §4).
        redirecting: Option<RedirectingNumber>,
        /// The caller's name, from a Facility `callingName` or the Display ([`name_in`]).
        name: Option<String>,
        /// The SETUP says the caller's name follows in a FACILITY (NI-2
        /// `InformationFollowing`): it comes as [`Event::CallingName`].
        name_follows: bool,
    },
    /// A FACILITY on a call named its caller (NI-2 name delivery after the SETUP):
    /// `None` when it withholds the name (presentation restricted, not available).
    CallingName {
        call: CallHandle,
        name: Option<String>,
    },
    /// More called-party digits in overlap receiving (INFORMATION, §5.1.3 / §5.2.4), or the
    /// end of dialling: `sending_complete` with `timed_out` set when T302 expired (§5.2.4).
    MoreInfo {
        call: CallHandle,
        digits: String,
        sending_complete: bool,
        timed_out: bool,
    },
    /// SETUP ACKNOWLEDGE arrived for our call: send more digits (§5.1.3).
    SetupAcknowledged {
        call: CallHandle,
        channel: Option<u8>,
    },
    /// CALL PROCEEDING arrived for our call (§5.1.5).
    Proceeding {
        call: CallHandle,
        channel: Option<u8>,
        inband: bool,
    },
    /// ALERTING arrived for our call (§5.1.7); `inband`: a progress indicator says tones or
    /// announcements are available in-band (early media).
    Alerting { call: CallHandle, inband: bool },
    /// PROGRESS arrived (§5.1.6).
    Progress {
        call: CallHandle,
        description: ProgressDescription,
        inband: bool,
    },
    /// The call is active: CONNECT arrived for our call, or (answering side) CONNECT
    /// ACKNOWLEDGE arrived / the network side sent its CONNECT.
    Connected {
        call: CallHandle,
        channel: Option<u8>,
    },
    /// NOTIFY arrived on an established call (§3.1.10, user notification §5.9): the
    /// description of its Notification indicator (§4.5.22), e.g. remote hold/retrieval.
    Notified {
        call: CallHandle,
        description: NotificationDescription,
        /// The NOTIFY's Redirection number (Q.952 §4.1.3), e.g. with "call transferred,
        /// active" (EN 300 369-1: whom the user is now connected to).
        redirection: Option<crate::ie::RedirectionNumber>,
    },
    /// The CONNECT answering our call carried a Connected number (connected line
    /// identification presentation, Q.951 §3 / ETSI EN 300 097); comes before `Connected`.
    ConnectedNumber {
        call: CallHandle,
        number: ConnectedNumber,
    },
    /// The CONNECT answering our call named the answering party (a Facility
    /// `connectedName` or a Display, [`name_in`]); comes before `Connected`.
    ConnectedName { call: CallHandle, name: String },
    /// DISCONNECT arrived (§5.3.3 / §5.3.4). With `inband` the network offers an in-band
    /// announcement and the RELEASE is left to [`Interface::release`]; otherwise the
    /// interface answers RELEASE by itself (unless configured not to).
    Disconnecting {
        call: CallHandle,
        cause: Cause,
        inband: bool,
    },
    /// The call is gone (call reference released, channel idle or in maintenance). The
    /// cause is the one received, or the one of a local clearing (timer expiry, link
    /// failure, restart).
    Released {
        call: CallHandle,
        cause: Option<Cause>,
    },
    /// The peer restarted these channels (RESTART, §5.5.2); calls on them were released.
    /// With [`InterfaceConfig::restart_confirm`] the channels wait in maintenance until
    /// [`Interface::restart_done`] reports them idle (within T317).
    RestartIndication { channels: Vec<u8> },
    /// T317 expired before the layer above reported these channels idle after a received
    /// RESTART (§5.5.2): maintenance is informed; the channels stay in maintenance (those
    /// already idle were acknowledged).
    RestartClearingExpired { channels: Vec<u8> },
    /// Our RESTART was acknowledged (§5.5.1): the channels are idle.
    RestartComplete { channels: Vec<u8> },
    /// Our RESTART got no acknowledgement after [`Timers::n316`] attempts (T316, §5.5.1):
    /// maintenance is informed; the channels are out of service until restarted again.
    RestartFailed { channels: Vec<u8> },
    /// The peer changed the service state of channels (NI-2 SERVICE).
    ServiceChange {
        channels: Vec<u8>,
        status: ChangeStatus,
    },
    /// Our SERVICE was acknowledged (NI-2).
    ServiceAcknowledged {
        channels: Vec<u8>,
        status: ChangeStatus,
    },
    /// The network accepted [`Interface::transfer`]: the remote parties of `a` and `b` are
    /// connected to each other; the network clears both calls from us (their
    /// `Disconnecting`/`Released` follow).
    TransferCompleted {
        a: CallHandle,
        b: CallHandle,
        method: TransferMethod,
    },
    /// [`Interface::transfer`] failed; the calls go on unless `reason` says one was
    /// cleared.
    TransferFailed {
        a: CallHandle,
        b: CallHandle,
        reason: TransferFailure,
    },
    /// The far end says this call's party is now connected to another one after a
    /// transfer (ETSI ECT `EctInform`, EN 300 369-1, in a Facility element): `status`
    /// active (answered) or alerting, and the new party's number if it sent one.
    TransferInformed {
        call: CallHandle,
        status: crate::supplementary::ect::EctStatus,
        redirection: Option<crate::supplementary::address::PresentedNumberUnscreened>,
    },
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("no such call {0:?}")]
    UnknownCall(CallHandle),
    #[error("{command} is not allowed in state {stage:?}")]
    WrongState { command: &'static str, stage: Stage },
    /// No B-channel can be given (cause 34), or the exclusive one is taken (cause 44).
    #[error("no B-channel: {0:?}")]
    NoChannel(CauseValue),
    #[error("channel {0} does not exist on this span")]
    NoSuchChannel(u8),
    #[error("all call reference values are in use")]
    NoCallReference,
    #[error("a RESTART is already outstanding")]
    RestartPending,
    #[error("no received RESTART is being cleared")]
    NoRestartInProgress,
    #[error("SERVICE messages are not used by this switch variant")]
    NoService,
    #[error("a transfer of this call is already in progress")]
    TransferPending,
    #[error(transparent)]
    Encode(#[from] crate::EncodeError),
    #[error(transparent)]
    Link(#[from] crate::lapd::LinkError),
}
