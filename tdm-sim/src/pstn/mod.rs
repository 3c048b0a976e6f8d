//! A PSTN switch emulator for the far end of simulated spans.
//!
//! [`Switch`] takes the far end's [`dahdi_driver::Device`] (`sim.far()`) and plays the
//! public network: the network side of Q.931 (ETSI EN 300 403 on E1, NI-2 on T1, both over
//! Q.921 LAPD) on each span's D-channel, a [`NumberPlan`] deciding what happens to each
//! called number ([`Behaviour`]: answer and play a tone, busy, unallocated, congestion, no
//! answer, early media), calls toward the gateway ([`Switch::call`]) and clearing from the
//! switch side ([`Switch::hangup`]). On every B-channel in use it plays its tone and records
//! what the gateway sends, so a test can ask "did 1 kHz arrive?" ([`CallReport::heard`]).
//!
//! Two ways to run it:
//! - sans-IO style in virtual time: [`Switch::poll`]`(now)` after each `sim.advance(..)`;
//! - on its own thread in real time: [`Switch::spawn`] paces itself on the device's
//!   ticker (the simulator's clock) and is driven through a [`SwitchHandle`].
//!
//! ```
//! use std::time::{Duration, Instant};
//! use tdm_sim::pstn::{Behaviour, NumberPlan, Switch, SwitchConfig};
//! use tdm_sim::Sim;
//!
//! let sim = Sim::builder().e1(1).build();
//! let plan = NumberPlan::new(Behaviour::Busy)
//!     .prefix("555", Behaviour::Answer { after_ms: 2000, tone_hz: 1000.0 });
//! let t0 = Instant::now();
//! let mut switch = Switch::new(sim.far(), SwitchConfig { plan, ..Default::default() }, t0)
//!     .unwrap();
//! for ms in 1..=100 {
//!     sim.advance(1).unwrap();
//!     switch.poll(t0 + Duration::from_millis(ms));
//! }
//! // Nobody at the near end yet: the data link cannot come up.
//! assert!(!switch.is_link_up(dahdi_driver::SpanId(1)));
//! ```

mod media;
mod plan;
mod report;
mod runner;
mod switch;

pub use media::{dual_tone_ms, tone_ms, ToneSource};
pub use plan::{Behaviour, NumberPlan, Pattern};
pub use report::{CallId, CallReport, Direction, SwitchEvent};
pub use runner::SwitchHandle;
pub use switch::{Switch, SwitchConfig};

use dahdi_driver::{DeviceError, SpanId};

/// Errors of the switch's API.
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error("Q.931: {0}")]
    Call(#[from] q931::call::CallError),
    #[error("no such span: {0}")]
    NoSuchSpan(SpanId),
    #[error("no such call: {}", .0 .0)]
    NoSuchCall(CallId),
    #[error("the D-channel data link is down")]
    LinkDown,
    #[error("cannot start the switch thread: {0}")]
    Thread(std::io::Error),
}
