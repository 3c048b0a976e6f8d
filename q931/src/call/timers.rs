//! The call control timers of Q.931 §9.1 (Table 9-1 network side, Table 9-2 user side) and
//! what their expiry does. The expiry actions are carried out by
//! [`super::Interface::handle_timeout`]. T302 and T322 run in slots of their own beside the
//! per-call [`Timer`]; T316 and T317 belong to the global call reference (§5.5).

use std::time::Duration;

/// A per-call timer (one runs at a time for a call).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// ALERTING received → CONNECT (3 min); expiry clears the call.
    T301,
    /// Overlap receiving: SETUP ACKNOWLEDGE sent / INFORMATION received → end of dialling.
    T302,
    /// SETUP sent → first answer; first expiry retransmits SETUP, the second clears.
    T303,
    /// Overlap sending (user side): SETUP ACKNOWLEDGE received / INFORMATION sent → next
    /// answer; expiry clears with DISCONNECT cause 102.
    T304,
    /// DISCONNECT sent → RELEASE or DISCONNECT; expiry sends RELEASE.
    T305,
    /// RELEASE sent → RELEASE (COMPLETE); first expiry retransmits, the second releases
    /// the call reference and puts the channel in maintenance.
    T308,
    /// Data link lost with the call active (§5.8.8): link back → the call continues;
    /// expiry clears it.
    T309,
    /// CALL PROCEEDING received → ALERTING, CONNECT, DISCONNECT or PROGRESS; expiry clears.
    T310,
    /// CONNECT sent (user side) → CONNECT ACKNOWLEDGE; expiry clears.
    T313,
}

/// Timer values (Q.931 §9.1 defaults; ETSI EN 300 403 agrees).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timers {
    pub t301: Duration,
    pub t302: Duration,
    pub t303: Duration,
    pub t304: Duration,
    pub t305: Duration,
    pub t308: Duration,
    pub t309: Duration,
    pub t310: Duration,
    pub t313: Duration,
    /// RESTART sent → RESTART ACKNOWLEDGE (§5.5.1); expiry sends RESTART again, up to
    /// [`Timers::n316`] RESTARTs in all.
    pub t316: Duration,
    /// RESTART received → internal clearing done and RESTART ACKNOWLEDGE sent (§5.5.2).
    /// Runs while the layer above clears the channels
    /// ([`super::InterfaceConfig::restart_confirm`]); expiry informs maintenance
    /// ([`super::Event::RestartClearingExpired`]).
    pub t317: Duration,
    /// STATUS ENQUIRY sent → STATUS (§5.8.10); expiry sends STATUS ENQUIRY again, up to
    /// [`Timers::n322`] in all.
    pub t322: Duration,
    /// RESTART messages sent for one restart before giving up and informing maintenance
    /// (§5.5.1: "a default limit of two" consecutive unsuccessful attempts; libpri's N316
    /// counts the same way).
    pub n316: u8,
    /// STATUS ENQUIRY messages sent for one enquiry before clearing the call (§5.8.10 leaves
    /// the number and the final action to the implementation).
    pub n322: u8,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t301: Duration::from_secs(180),
            t302: Duration::from_secs(15),
            t303: Duration::from_secs(4),
            t304: Duration::from_secs(20),
            t305: Duration::from_secs(30),
            t308: Duration::from_secs(4),
            t309: Duration::from_secs(90),
            t310: Duration::from_secs(30),
            t313: Duration::from_secs(4),
            t316: Duration::from_secs(120),
            t317: Duration::from_secs(90),
            t322: Duration::from_secs(4),
            n316: 2,
            n322: 3,
        }
    }
}

impl Timers {
    /// The value of a per-call timer.
    pub fn value(&self, timer: Timer) -> Duration {
        match timer {
            Timer::T301 => self.t301,
            Timer::T302 => self.t302,
            Timer::T303 => self.t303,
            Timer::T304 => self.t304,
            Timer::T305 => self.t305,
            Timer::T308 => self.t308,
            Timer::T309 => self.t309,
            Timer::T310 => self.t310,
            Timer::T313 => self.t313,
        }
    }
}
