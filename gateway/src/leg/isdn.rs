//! The ISDN leg: the calls of one PRI D-channel (a q931 [`Interface`]) translated to and
//! from the neutral model: SETUP ↔ Setup, CALL PROCEEDING ↔ Proceeding, ALERTING ↔
//! Alerting, PROGRESS ↔ Progress, CONNECT ↔ Connect, DISCONNECT/RELEASE ↔ Release (Q.850
//! cause), INFORMATION ↔ Digits (overlap receiving, Q.931 §5.2.4).

use q931::supplementary::name::NameOperation;
use std::time::{Duration, Instant};

use dahdi_driver::{ChannelId, SpanId, Timeslot};
use q931::call::{
    CallError, CallHandle, ChannelPref, Event, Interface, SetupRequest, TransferFailure,
    TransferMethod,
};
use q931::ie::{
    BearerCapability, CalledPartyNumber, CallingPartyNumber, CauseValue, ConnectedNumber,
    InfoElement, InfoTransferCapability, Layer1Protocol, NotificationDescription, NumberingPlan,
    Presentation, ProgressDescription, RedirectingNumber, Screening, TypeOfNumber as QTon,
};
use q931::supplementary::address::{PresentedNumberUnscreened, RosePartyNumber};
use q931::supplementary::ect::EctStatus;
use tracing::{debug, info, warn};

use crate::config::{NumberingPlan as Plan, TypeOfNumber};
use crate::core::{
    cause, Bearer, CallId, Core, Delivery, LegId, Media, Message, Number, Reason, Redirection,
    Setup,
};
use crate::id_map::HashMap;
use crate::interwork::redirect;

#[derive(Debug)]
struct IsdnCall {
    leg: LegId,
    channel: Option<ChannelId>,
    /// The far end placed the call (we received its SETUP).
    incoming: bool,
    /// The core has been told the call ended (or told us to end it).
    core_done: bool,
    /// Overlap sending (our SETUP went without Sending complete): digits waiting for the
    /// SETUP ACKNOWLEDGE, and whether the last of them completes the number.
    overlap: Option<OverlapDigits>,
    /// Who answered: on the other leg, for the Connected number and name of our CONNECT
    /// (COLP); on the switch's side of a call we placed, from its CONNECT until the core
    /// is told.
    connected: Option<Number>,
}

/// What a received SETUP brought, for [`IsdnLeg::incoming`].
struct Received {
    called: Option<CalledPartyNumber>,
    calling: Option<CallingPartyNumber>,
    bearer: Option<BearerCapability>,
    channel: Option<u8>,
    sending_complete: bool,
    redirecting: Option<RedirectingNumber>,
    /// The caller's name (the SETUP's Display, or NI-2's Facility `callingName`).
    name: Option<String>,
    /// The first answer (CALL PROCEEDING or SETUP ACKNOWLEDGE) went already.
    answered: bool,
    /// The core holds the B-channel for the call while it waits ([`Core::reserve`]).
    reservation: Option<CallId>,
}

/// Digits of an overlap-sending call held until the network acknowledged the SETUP
/// (Q.931 §5.1.3: the remainder goes in INFORMATION after SETUP ACKNOWLEDGE).
#[derive(Debug, Default)]
struct OverlapDigits {
    acknowledged: bool,
    pending: String,
    complete: bool,
}

/// The ISDN side of the gateway for one span's D-channel.
pub struct IsdnLeg {
    span: SpanId,
    law: Layer1Protocol,
    iface: Interface,
    by_handle: HashMap<CallHandle, IsdnCall>,
    by_leg: HashMap<LegId, CallHandle>,
    /// Results of [`IsdnLeg::transfer`], for [`IsdnLeg::poll_transfer`].
    transfers: Vec<TransferOutcome>,
    /// What the last [`IsdnLeg::audit`] found out of step (acted on if found again).
    suspects: Vec<Suspect>,
    /// SETUPs whose caller's name is to follow in a FACILITY (NI-2 `InformationFollowing`),
    /// held until it comes or [`NAME_WAIT`] has passed.
    held: HashMap<CallHandle, (Instant, Received)>,
}

/// How long a SETUP whose caller's name is to follow waits for it (NI-2 name delivery,
/// GR-1367: the network sends the FACILITY right after the SETUP; far below the switch's
/// T303 of 4 s, as the CALL PROCEEDING waits too).
pub const NAME_WAIT: Duration = Duration::from_millis(1000);

/// A disagreement between the core, this leg and its Q.931 stack, as [`IsdnLeg::audit`]
/// finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Suspect {
    /// The stack holds a call on this B-channel that the leg does not know: no core call
    /// will ever clear it.
    UnknownToLeg(CallHandle, u8),
    /// The leg keeps a call the stack no longer has: its end will never be reported.
    GoneFromStack(CallHandle),
    /// The core holds this B-channel for a call whose ISDN side is gone.
    NoIsdnCall(ChannelId, CallId),
}

/// What one [`IsdnLeg::audit`] put right.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuditFixes {
    /// B-channels restarted (RESTART, Q.931 §5.5): the stack held a call on them that no
    /// core call owned.
    pub restarted: Vec<ChannelId>,
    /// Core calls ended (cause 41): their ISDN side was gone, or the leg's record of it
    /// had no call in the stack.
    pub cleared: Vec<CallId>,
    /// Disagreements seen by this audit and not the one before (or kept for a RESTART
    /// under way): put right if the next audit still sees them.
    pub suspects: usize,
}

impl AuditFixes {
    pub fn is_empty(&self) -> bool {
        self.restarted.is_empty() && self.cleared.is_empty()
    }
}

/// How a transfer asked of the switch ([`IsdnLeg::transfer`]) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferOutcome {
    /// The two B-channels, as given.
    pub channels: (ChannelId, ChannelId),
    /// `Ok`: the switch joined the parties and clears both calls from us. `Err`: it
    /// refused (or did not answer); the calls are as they were unless one was cleared.
    pub result: Result<(), TransferFailure>,
}

fn ton_in(t: QTon) -> TypeOfNumber {
    match t {
        QTon::International => TypeOfNumber::International,
        QTon::National => TypeOfNumber::National,
        QTon::Subscriber => TypeOfNumber::Subscriber,
        _ => TypeOfNumber::Unknown,
    }
}

fn ton_out(t: TypeOfNumber) -> QTon {
    match t {
        TypeOfNumber::International => QTon::International,
        TypeOfNumber::National => QTon::National,
        TypeOfNumber::Subscriber => QTon::Subscriber,
        TypeOfNumber::Unknown => QTon::Unknown,
    }
}

/// Presentation indicator of a number (Q.931 §4.5.10 octet 3a).
fn presentation_of(n: &Number) -> Presentation {
    if n.restricted {
        Presentation::Restricted
    } else {
        Presentation::Allowed
    }
}

/// The numbering plan that goes with a type of number (Q.931 §4.5.8: E.164 unless unknown).
fn plan_for(t: TypeOfNumber) -> NumberingPlan {
    match t {
        TypeOfNumber::Unknown => NumberingPlan::Unknown,
        _ => NumberingPlan::Isdn,
    }
}

/// The numbering plan a number goes out with: its own (a trunk's `called_npi` /
/// `calling_npi`, or the plan it arrived with), else the one of its type.
fn plan_of(n: &Number) -> NumberingPlan {
    match n.plan {
        Some(p) => match p {
            Plan::Unknown => NumberingPlan::Unknown,
            Plan::Isdn => NumberingPlan::Isdn,
            Plan::Data => NumberingPlan::Data,
            Plan::Telex => NumberingPlan::Telex,
            Plan::National => NumberingPlan::National,
            Plan::Private => NumberingPlan::Private,
        },
        None => plan_for(n.ton),
    }
}

/// The plan of a received number, kept when it is not the one of its type (so that it
/// goes on as it came: a private number stays private).
fn plan_in(ton: QTon, plan: NumberingPlan) -> Option<Plan> {
    let p = match plan {
        NumberingPlan::Unknown => Plan::Unknown,
        NumberingPlan::Isdn => Plan::Isdn,
        NumberingPlan::Data => Plan::Data,
        NumberingPlan::Telex => Plan::Telex,
        NumberingPlan::National => Plan::National,
        NumberingPlan::Private => Plan::Private,
        // A reserved value: read as the plan of its type.
        _ => return None,
    };
    (plan != plan_for(ton_in(ton))).then_some(p)
}

/// A number as it arrived from the switch: its type, its plan where that is not the one
/// of its type, presentation restricted or not; no name (the Display is a message's).
fn number_in(ton: QTon, plan: NumberingPlan, digits: String, restricted: bool) -> Number {
    Number {
        plan: plan_in(ton, plan),
        digits,
        ton: ton_in(ton),
        restricted,
        name: None,
    }
}

/// Whether a received number's presentation indicator says restricted (Q.931 §4.5.10).
fn is_restricted<S>(presentation: Option<(Presentation, S)>) -> bool {
    matches!(presentation, Some((Presentation::Restricted, _)))
}

/// A number as ECT's redirection number (ETS 300 196-1 `PresentedNumberUnscreened`):
/// restricted presentation keeps the digits for the switch, which masks them (EN 300 369-1:
/// the network gives the served user `presentationRestricted`).
fn presented(n: &Number) -> PresentedNumberUnscreened {
    if n.digits.is_empty() {
        return PresentedNumberUnscreened::NotAvailable;
    }
    let number = RosePartyNumber {
        plan: plan_of(n),
        ton: ton_out(n.ton),
        digits: n.digits.clone(),
    };
    if n.restricted {
        PresentedNumberUnscreened::RestrictedNumber(number)
    } else {
        PresentedNumberUnscreened::Allowed(number)
    }
}

/// The number of an ECT redirection number, if it has digits.
fn from_presented(p: PresentedNumberUnscreened) -> Option<Number> {
    let (number, restricted) = match p {
        PresentedNumberUnscreened::Allowed(n) => (n, false),
        PresentedNumberUnscreened::RestrictedNumber(n) => (n, true),
        PresentedNumberUnscreened::Restricted | PresentedNumberUnscreened::NotAvailable => {
            return None
        }
    };
    (!number.digits.is_empty())
        .then(|| number_in(number.ton, number.plan, number.digits, restricted))
}

impl IsdnLeg {
    /// A leg over `iface`, the D-channel of `span`, whose bearers carry `law`.
    pub fn new(span: SpanId, iface: Interface, law: Layer1Protocol) -> IsdnLeg {
        IsdnLeg {
            span,
            law,
            iface,
            by_handle: HashMap::default(),
            by_leg: HashMap::default(),
            transfers: Vec::new(),
            suspects: Vec::new(),
            held: HashMap::default(),
        }
    }

    /// When [`IsdnLeg::handle_timeout`] is next due: the interface's timers, and the
    /// SETUPs waiting for their caller's name.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let held = self.held.values().map(|(t, _)| *t);
        self.iface.poll_timeout().into_iter().chain(held).min()
    }

    /// The call on B-channel `ts`.
    fn call_on(&self, ts: Timeslot) -> Option<CallHandle> {
        let ch = self.chan(ts.0);
        self.by_handle
            .iter()
            .find(|(_, c)| c.channel == Some(ch) && !c.core_done)
            .map(|(h, _)| *h)
    }

    /// Asks the switch to connect the parties of the calls on B-channels `a` and `b` of
    /// this span to each other and release both from the gateway (ETSI ECT / NI-2 2BCT,
    /// [`Interface::transfer`]). The outcome comes from [`IsdnLeg::poll_transfer`].
    pub fn transfer(
        &mut self,
        now: Instant,
        a: ChannelId,
        b: ChannelId,
        method: TransferMethod,
    ) -> Result<(), CallError> {
        let (Some(ha), Some(hb)) = (self.call_on(a.timeslot), self.call_on(b.timeslot)) else {
            return Err(CallError::NoSuchChannel(
                if self.call_on(a.timeslot).is_none() {
                    a.timeslot.0
                } else {
                    b.timeslot.0
                },
            ));
        };
        self.iface.transfer(now, ha, hb, method)
    }

    /// The next transfer outcome.
    pub fn poll_transfer(&mut self) -> Option<TransferOutcome> {
        (!self.transfers.is_empty()).then(|| self.transfers.remove(0))
    }

    fn transfer_outcome(
        &mut self,
        a: CallHandle,
        b: CallHandle,
        result: Result<(), TransferFailure>,
    ) {
        let ch = |h: CallHandle| {
            self.by_handle
                .get(&h)
                .and_then(|c| c.channel)
                .or_else(|| self.iface.channel(h).map(|t| self.chan(t)))
        };
        if let (Some(ca), Some(cb)) = (ch(a), ch(b)) {
            self.transfers.push(TransferOutcome {
                channels: (ca, cb),
                result,
            });
        } else {
            warn!(span = %self.span, ?a, ?b, ?result, "transfer outcome for calls no longer known");
        }
    }

    /// The Q.931 interface (frames in and out, timers).
    pub fn interface(&mut self) -> &mut Interface {
        &mut self.iface
    }

    /// The span of this D-channel.
    pub fn span(&self) -> SpanId {
        self.span
    }

    /// Compare the core's busy B-channels of this span, this leg's calls and the Q.931
    /// stack's calls, and put right what is out of step in two audits in a row (a
    /// disagreement seen once may be a call between two of its steps):
    /// - a stack call on a B-channel that the leg does not know is cleared by restarting
    ///   the channel (RESTART, Q.931 §5.5.1), which also returns it to idle at the switch;
    /// - a call the leg keeps but the stack no longer has, and a core call holding a
    ///   B-channel of this span without an ISDN call on it, are ended in the core with
    ///   cause 41 (temporary failure): the other leg is cleared, the CDR written and the
    ///   channel freed.
    ///
    /// The daemon runs it with the core's own audit ([`Core::audit`], a busy channel
    /// without any call).
    pub fn audit(&mut self, core: &mut Core, now: Instant) -> AuditFixes {
        let mut found = Vec::new();
        for (handle, _, channel) in self.iface.calls() {
            let known = self.by_handle.contains_key(&handle) || self.held.contains_key(&handle);
            if let (false, Some(ts)) = (known, channel) {
                found.push(Suspect::UnknownToLeg(handle, ts));
            }
        }
        for &handle in self.by_handle.keys() {
            if self.iface.stage(handle).is_none() {
                found.push(Suspect::GoneFromStack(handle));
            }
        }
        for (ch, call) in core.busy_calls() {
            if ch.span != self.span {
                continue;
            }
            let on_channel = self.by_handle.values().any(|c| {
                !c.core_done
                    && match c.channel {
                        Some(own) => own == ch,
                        // Not known yet (the network chooses): the call's own.
                        None => core.call_of(c.leg) == Some(call),
                    }
            });
            // Whatever the stack holds on the channel, no call of the leg will report
            // its end to the core (a stack call the leg does not know is restarted).
            if !on_channel {
                found.push(Suspect::NoIsdnCall(ch, call));
            }
        }
        let (again, first): (Vec<Suspect>, Vec<Suspect>) =
            found.into_iter().partition(|s| self.suspects.contains(s));
        self.suspects = first;
        let mut fixes = AuditFixes::default();
        let (mut restart, mut restarting) = (Vec::new(), Vec::new());
        for s in again {
            match s {
                Suspect::UnknownToLeg(handle, ts) => {
                    warn!(span = %self.span, channel = ts, ?handle, "audit: Q.931 call without a gateway call; restarting its channel");
                    restart.push(ts);
                    restarting.push(s);
                }
                Suspect::GoneFromStack(handle) => {
                    let Some(c) = self.by_handle.remove(&handle) else {
                        continue;
                    };
                    self.by_leg.remove(&c.leg);
                    if let (false, Some(call)) = (c.core_done, core.call_of(c.leg)) {
                        warn!(span = %self.span, %call, ?handle, "audit: ISDN call gone from the Q.931 stack; ending the call");
                        core.hangup(now, call, cause::TEMPORARY_FAILURE);
                        fixes.cleared.push(call);
                    }
                }
                Suspect::NoIsdnCall(ch, call) => {
                    warn!(channel = %ch, %call, "audit: B-channel held by a call without an ISDN call on it; ending the call");
                    if core.hangup(now, call, cause::TEMPORARY_FAILURE) {
                        fixes.cleared.push(call);
                    }
                }
            }
        }
        if !restart.is_empty() {
            restart.sort_unstable();
            restart.dedup();
            match self.iface.restart_channels(now, Some(restart.clone())) {
                Ok(()) => {
                    // In maintenance until the RESTART ACKNOWLEDGE: not to be hunted.
                    self.far_end_service(core, &restart);
                    fixes.restarted = restart.iter().map(|&ts| self.chan(ts)).collect();
                }
                Err(e) => {
                    // A restart under way: the next audit restarts them at once.
                    warn!(span = %self.span, error = %e, ?restart, "audit: RESTART not sent yet");
                    self.suspects.extend(restarting);
                }
            }
        }
        self.drain(core, now);
        fixes.suspects = self.suspects.len();
        fixes
    }

    /// Lose the record of the call `handle` without telling anyone (tests of
    /// [`IsdnLeg::audit`]: a leg out of step with its stack).
    #[cfg(test)]
    pub(crate) fn forget(&mut self, handle: CallHandle) {
        if let Some(c) = self.by_handle.remove(&handle) {
            self.by_leg.remove(&c.leg);
        }
    }

    /// Keep the record of the call `from` under `to`, a call the stack does not have
    /// (tests of [`IsdnLeg::audit`]).
    #[cfg(test)]
    pub(crate) fn rekey(&mut self, from: CallHandle, to: CallHandle) {
        if let Some(c) = self.by_handle.remove(&from) {
            self.by_leg.insert(c.leg, to);
            self.by_handle.insert(to, c);
        }
    }

    /// Whether `leg` is one of this D-channel's legs.
    pub fn owns(&self, leg: LegId) -> bool {
        self.by_leg.contains_key(&leg)
    }

    /// Calls known to the leg (until their call reference is released), SETUPs waiting
    /// for their caller's name included.
    pub fn call_count(&self) -> usize {
        self.by_handle.len() + self.held.len()
    }

    /// After a RESTART or a SERVICE about `channels` (channel numbers of this span): each
    /// is out of service at the far end for the core while our Q.931 stack holds it in
    /// maintenance or out of service (NI-2 SERVICE, an unanswered RESTART), so that the
    /// core never hunts a channel the stack would refuse.
    fn far_end_service(&self, core: &mut Core, channels: &[u8]) {
        for &c in channels {
            let out = matches!(
                self.iface.channels().get(c),
                Some(
                    q931::call::ChannelState::Maintenance | q931::call::ChannelState::OutOfService
                )
            );
            core.set_far_end_out(self.chan(c), out);
        }
    }

    fn chan(&self, ts: u8) -> ChannelId {
        ChannelId {
            span: self.span,
            timeslot: Timeslot(ts),
        }
    }

    /// Feed a D-channel frame, then hand the interface's events to the core.
    pub fn handle_frame(&mut self, core: &mut Core, now: Instant, frame: &[u8]) {
        self.iface.handle_frame(now, frame);
        self.drain(core, now);
    }

    /// Run the interface's timers, then hand its events to the core; SETUPs that waited
    /// [`NAME_WAIT`] for their caller's name go on without it.
    pub fn handle_timeout(&mut self, core: &mut Core, now: Instant) {
        self.iface.handle_timeout(now);
        self.drain(core, now);
        let due: Vec<CallHandle> = self
            .held
            .iter()
            .filter(|(_, (t, _))| *t <= now)
            .map(|(h, _)| *h)
            .collect();
        for call in due {
            if let Some((_, setup)) = self.held.remove(&call) {
                debug!(span = %self.span, ?call, "caller's name did not follow the SETUP");
                self.incoming(core, now, call, setup);
            }
        }
        self.drain(core, now);
    }

    /// Hand every pending interface event to the core.
    pub fn drain(&mut self, core: &mut Core, now: Instant) {
        while let Some(ev) = self.iface.poll_event() {
            // As on the SIP side: the lines logged for the event name the core's call.
            let leg = call_of(&ev)
                .and_then(|h| self.by_handle.get(&h))
                .map(|c| c.leg);
            let _span = leg
                .and_then(|leg| Some((core.call_of(leg)?, leg)))
                .map(|(call, leg)| {
                    tracing::info_span!("call", %call, %leg, span = %self.span).entered()
                });
            self.on_event(core, now, ev);
        }
    }

    fn tell_core(&mut self, core: &mut Core, now: Instant, call: CallHandle, msg: Message) {
        let Some(c) = self.by_handle.get_mut(&call) else {
            return;
        };
        if c.core_done {
            return;
        }
        if matches!(msg, Message::Release(_)) {
            c.core_done = true;
            self.by_leg.remove(&c.leg);
        }
        let leg = c.leg;
        core.handle(now, leg, msg);
    }

    fn on_event(&mut self, core: &mut Core, now: Instant, ev: Event) {
        match ev {
            Event::LinkUp => {
                info!(span = %self.span, "D-channel up");
                core.set_span_alarm(self.span, false);
            }
            Event::LinkDown => {
                warn!(span = %self.span, "D-channel down");
                core.set_span_alarm(self.span, true);
            }
            Event::IncomingSetup {
                call,
                called,
                calling,
                bearer,
                channel,
                sending_complete,
                redirecting,
                name,
                name_follows,
            } => {
                let setup = Received {
                    called,
                    calling,
                    bearer,
                    channel,
                    sending_complete,
                    redirecting,
                    name,
                    answered: false,
                    reservation: None,
                };
                if name_follows && setup.name.is_none() {
                    // NI-2 name delivery (GR-1367): the name comes in a FACILITY, which
                    // the network sends once the call is answered (libpri: on CALL
                    // PROCEEDING, SETUP ACKNOWLEDGE or ALERTING). The call waits for it,
                    // at most NAME_WAIT.
                    let mut setup = setup;
                    let en_bloc = self.en_bloc(setup.sending_complete);
                    setup.answered = self.first_answer(now, call, en_bloc);
                    // The channel is the call's from now on: not one to hunt for an
                    // outgoing call while the name is awaited.
                    setup.reservation = setup
                        .channel
                        .and_then(|ts| core.reserve(now, self.chan(ts)));
                    self.held.insert(call, (now + NAME_WAIT, setup));
                } else {
                    self.incoming(core, now, call, setup);
                }
            }
            Event::CallingName { call, name } => match self.held.remove(&call) {
                Some((_, mut setup)) => {
                    setup.name = name;
                    self.incoming(core, now, call, setup);
                }
                None => debug!(span = %self.span, ?call, "caller's name after the call began"),
            },
            Event::MoreInfo {
                call,
                digits,
                sending_complete,
                timed_out,
            } => self.tell_core(
                core,
                now,
                call,
                Message::Digits {
                    digits,
                    complete: sending_complete || timed_out,
                },
            ),
            Event::SetupAcknowledged { call, channel } => {
                // Q.931 §5.1.3: now the rest of the number goes in INFORMATION.
                self.note_channel(call, channel);
                let mut flush = None;
                if let Some(o) = self
                    .by_handle
                    .get_mut(&call)
                    .and_then(|c| c.overlap.as_mut())
                {
                    o.acknowledged = true;
                    if !o.pending.is_empty() || o.complete {
                        flush = Some((std::mem::take(&mut o.pending), o.complete));
                    }
                }
                if let Some((digits, complete)) = flush {
                    if let Err(e) = self.iface.information(now, call, &digits, complete) {
                        debug!(error = %e, "INFORMATION refused");
                    }
                }
                // The caller hears the network's dial tone (early media, 183 on SIP).
                let media = self
                    .by_handle
                    .get(&call)
                    .and_then(|c| c.channel)
                    .map(Media::Channel);
                self.tell_core(
                    core,
                    now,
                    call,
                    Message::Progress {
                        inband: false,
                        media,
                    },
                );
            }
            Event::Proceeding { call, channel, .. } => {
                self.note_channel(call, channel);
                self.tell_core(core, now, call, Message::Proceeding);
            }
            Event::Alerting { call, inband } => {
                self.tell_core(core, now, call, Message::Alerting { inband })
            }
            Event::Progress { call, inband, .. } => {
                let media = self
                    .by_handle
                    .get(&call)
                    .and_then(|c| c.channel)
                    .map(Media::Channel);
                self.tell_core(core, now, call, Message::Progress { inband, media });
            }
            Event::Connected { call, channel } => {
                self.note_channel(call, channel);
                let Some(c) = self.by_handle.get(&call) else {
                    return;
                };
                if !c.incoming {
                    let media = c.channel.map(Media::Channel);
                    let connected = self
                        .by_handle
                        .get_mut(&call)
                        .and_then(|c| c.connected.take());
                    if let Some(n) = connected {
                        self.tell_core(core, now, call, Message::ConnectedLine(n));
                    }
                    self.tell_core(core, now, call, Message::Connect { media });
                }
            }
            Event::Notified {
                call,
                description,
                redirection,
            } => {
                // Q.931 §4.5.22 notification description (ETSI codes for the call hold
                // supplementary service): the switch's party holds or retrieves the call;
                // EN 300 369-1 (the NOTIFY form of ECT): it was transferred, and the
                // Redirection number says to whom.
                let msg = match (description, redirection) {
                    (NotificationDescription::REMOTE_HOLD, _) => Message::Hold,
                    (NotificationDescription::REMOTE_RETRIEVAL, _) => Message::Resume,
                    (NotificationDescription::TRANSFER_ACTIVE, Some(r)) if !r.digits.is_empty() => {
                        Message::Transferred(number_in(
                            r.type_of_number,
                            r.numbering_plan,
                            r.digits,
                            is_restricted(r.presentation),
                        ))
                    }
                    (other, _) => {
                        debug!(span = %self.span, ?other, "NOTIFY not interworked");
                        return;
                    }
                };
                self.tell_core(core, now, call, msg);
            }
            Event::TransferInformed {
                call,
                status: EctStatus::Active,
                redirection,
            } => {
                // EN 300 369-1: the switch transferred its party; who ours talks to now.
                match redirection.and_then(from_presented) {
                    Some(n) => self.tell_core(core, now, call, Message::Transferred(n)),
                    None => debug!(span = %self.span, "EctInform without a number"),
                }
            }
            Event::ConnectedNumber { call, number } => {
                // COLP (Q.951 §3): who answered our call, told to the core with the
                // CONNECT's name (its Display, the next event) when `Connected` comes.
                let n = number_in(
                    number.type_of_number,
                    number.numbering_plan,
                    number.digits,
                    is_restricted(number.presentation),
                );
                if let Some(c) = self.by_handle.get_mut(&call) {
                    c.connected = Some(n);
                }
            }
            Event::ConnectedName { call, name } => {
                // The answering party's name; without a Connected number there is no
                // connected line to give it to.
                if let Some(n) = self
                    .by_handle
                    .get_mut(&call)
                    .and_then(|c| c.connected.as_mut())
                {
                    n.name = Some(name);
                }
            }
            Event::Disconnecting { call, cause, .. } => {
                // Q.931 §5.3.4: the interface answers with RELEASE by itself.
                let c = cause.value.value();
                self.tell_core(core, now, call, Message::Release(Reason::Q850(c)));
            }
            Event::Released { call, .. } if self.held.contains_key(&call) => {
                debug!(span = %self.span, ?call, "SETUP released while its name was awaited");
                if let Some(id) = self.held.remove(&call).and_then(|(_, s)| s.reservation) {
                    core.unreserve(now, id);
                }
            }
            Event::Released { call, cause } => {
                let c = cause.map_or(cause::NORMAL_CLEARING, |c| c.value.value());
                self.tell_core(core, now, call, Message::Release(Reason::Q850(c)));
                if let Some(c) = self.by_handle.remove(&call) {
                    self.by_leg.remove(&c.leg);
                }
            }
            Event::RestartIndication { channels } | Event::RestartComplete { channels } => {
                debug!(span = %self.span, ?channels, "channels restarted");
                self.far_end_service(core, &channels);
            }
            Event::RestartFailed { channels } => {
                warn!(span = %self.span, ?channels, "RESTART unanswered; channels stay out");
                self.far_end_service(core, &channels);
            }
            Event::ServiceChange { channels, status } => {
                // NI-2 SERVICE: the far end's maintenance takes channels out (hunting
                // skips them) and puts them back; without a channel, the whole span.
                info!(span = %self.span, ?channels, ?status, "far end changed the service state");
                if status.channel_preference && !channels.is_empty() {
                    self.far_end_service(core, &channels);
                } else {
                    // The whole interface (the stack reports it and keeps its channel
                    // table, as libpri does): every B-channel of the span, by the status.
                    let out = status.status != q931::ie::ServiceStatus::InService;
                    let all: Vec<ChannelId> = core
                        .channel_states()
                        .into_iter()
                        .filter(|(c, _)| c.span == self.span)
                        .map(|(c, _)| c)
                        .collect();
                    for c in all {
                        core.set_far_end_out(c, out);
                    }
                }
            }
            Event::TransferCompleted { a, b, method } => {
                info!(span = %self.span, ?a, ?b, ?method, "switch transferred the calls");
                self.transfer_outcome(a, b, Ok(()));
            }
            Event::TransferFailed { a, b, reason } => {
                warn!(span = %self.span, ?a, ?b, ?reason, "switch refused the transfer");
                self.transfer_outcome(a, b, Err(reason));
            }
            other => debug!(span = %self.span, ?other, "D-channel event"),
        }
    }

    fn note_channel(&mut self, call: CallHandle, channel: Option<u8>) {
        let id = channel.map(|t| self.chan(t));
        if let (Some(c), Some(id)) = (self.by_handle.get_mut(&call), id) {
            if c.channel.is_none() {
                c.channel = Some(id);
            }
        }
    }

    /// Whether a received SETUP is en bloc: it said Sending complete, or its variant's
    /// SETUPs do without one (NI-2: PRI calls are sent en bloc, and there is no overlap
    /// receiving: the SETUP holds the whole number).
    fn en_bloc(&self, sending_complete: bool) -> bool {
        sending_complete || !self.iface.config().variant.sending_complete_in_setup
    }

    /// Q.931 §5.2.4 / §5.2.5.1: CALL PROCEEDING for a SETUP en bloc, SETUP ACKNOWLEDGE
    /// for overlap receiving. Returns whether it went.
    fn first_answer(&mut self, now: Instant, call: CallHandle, en_bloc: bool) -> bool {
        let r = if en_bloc {
            self.iface.proceeding(now, call)
        } else {
            self.iface.setup_acknowledge(now, call)
        };
        if let Err(e) = &r {
            debug!(error = %e, "first answer to SETUP refused");
        }
        r.is_ok()
    }

    fn incoming(&mut self, core: &mut Core, now: Instant, call: CallHandle, setup: Received) {
        let Received {
            called,
            calling,
            bearer,
            channel,
            sending_complete,
            redirecting,
            name,
            answered,
            reservation,
        } = setup;
        let sending_complete = self.en_bloc(sending_complete);
        let chan = channel.map(|t| self.chan(t));
        let group = chan.and_then(|c| core.group_of(c)).map(str::to_string);
        let Some(group) = group else {
            // No trunk group takes calls on this channel.
            if let Some(id) = reservation {
                core.unreserve(now, id);
            }
            let _ = self
                .iface
                .disconnect(now, call, CauseValue::from(cause::CHANNEL_UNAVAILABLE));
            return;
        };
        let bearer = match bearer.map(|b| b.capability) {
            Some(InfoTransferCapability::UnrestrictedDigital) => Bearer::Unrestricted,
            Some(InfoTransferCapability::Audio3_1kHz) => Bearer::Audio3k1,
            _ => Bearer::Speech,
        };
        let calling_screening = calling.as_ref().and_then(|c| c.presentation.map(|p| p.1));
        let setup = Setup {
            called: called.map_or_else(
                || Number::unknown(""),
                |c| number_in(c.type_of_number, c.numbering_plan, c.digits, false),
            ),
            // The caller's name (Display, Q.931 §4.5.16) goes with its number.
            calling: calling.map(|c| Number {
                name,
                ..number_in(
                    c.type_of_number,
                    c.numbering_plan,
                    c.digits,
                    is_restricted(c.presentation),
                )
            }),
            bearer,
            media: chan.map(Media::Channel),
            complete: sending_complete,
            // Q.952 §4: the call was diverted.
            redirecting: redirecting.map(|r| Redirection {
                from: number_in(
                    r.type_of_number,
                    r.numbering_plan,
                    r.digits,
                    is_restricted(r.presentation),
                ),
                reason: redirect::reason_of_q952(r.reason),
                count: 1,
            }),
        };
        if !answered {
            self.first_answer(now, call, sending_complete);
        }
        // Q.931 §4.5.10 screening: a number the network provided or verified is one the
        // SIP side may assert (RFC 3325).
        let verified = matches!(
            calling_screening,
            Some(Screening::NetworkProvided | Screening::UserProvidedVerifiedPassed)
        );
        // The core's answers come out of its action queue, after this mapping exists.
        let (id, leg) = match reservation {
            Some(r) => core.incoming_reserved(now, r, &group, chan, setup),
            None => core.incoming(now, &group, chan, setup),
        };
        debug!(call = %id, %leg, span = %self.span, ?chan, cref = ?call, "ISDN leg: incoming SETUP");
        core.set_identity_verified(leg, verified);
        self.by_handle.insert(
            call,
            IsdnCall {
                leg,
                channel: chan,
                incoming: true,
                core_done: false,
                overlap: None,
                connected: None,
            },
        );
        self.by_leg.insert(leg, call);
    }

    /// Place an outgoing call on `channel` for the core.
    pub fn originate(
        &mut self,
        core: &mut Core,
        now: Instant,
        leg: LegId,
        channel: Option<ChannelId>,
        setup: &Setup,
    ) {
        let bearer = match setup.bearer {
            Bearer::Unrestricted => BearerCapability::unrestricted_digital(),
            Bearer::Audio3k1 => BearerCapability::audio_3_1khz(self.law),
            Bearer::Speech => BearerCapability::speech(self.law),
        };
        let called = CalledPartyNumber::new(
            ton_out(setup.called.ton),
            plan_of(&setup.called),
            &setup.called.digits,
        );
        // Q.931 §4.5.10: a caller id the incoming side verified (trusted P-Asserted-
        // Identity, RFC 3325) is "verified and passed", any other "not screened".
        let screening = if core.identity_verified(leg) {
            Screening::UserProvidedVerifiedPassed
        } else {
            Screening::UserProvidedNotScreened
        };
        let calling = setup.calling.as_ref().map(|n| {
            let mut c = CallingPartyNumber::new(ton_out(n.ton), plan_of(n), &n.digits);
            c.presentation = Some((presentation_of(n), screening));
            c
        });
        let req = SetupRequest {
            called: Some(called),
            calling,
            bearer,
            // The core seized this channel; the far end refuses it with cause 44 if it is
            // taken (glare) and the core hunts another (Q.931 §5.1.2).
            channel: channel.map_or(ChannelPref::Any, |c| ChannelPref::Exclusive(c.timeslot.0)),
            // §5.1.1 en bloc, or §5.1.3 overlap sending when the core says the number may
            // grow.
            sending_complete: setup.complete,
        };
        // Q.952 §4: the redirecting number and why the call was redirected; the caller's
        // name (Display, where this side may send one; NI-2's Facility callingName), unless
        // presentation is restricted.
        let name = match &setup.calling {
            Some(n) => self.name_ies(NameOperation::Calling, n),
            None => Vec::new(),
        };
        let extra: Vec<InfoElement> = setup
            .redirecting
            .iter()
            .map(|r| {
                RedirectingNumber::new(
                    ton_out(r.from.ton),
                    plan_of(&r.from),
                    &r.from.digits,
                    (
                        if r.from.restricted {
                            Presentation::Restricted
                        } else {
                            Presentation::Allowed
                        },
                        Screening::UserProvidedNotScreened,
                    ),
                    redirect::q952_reason(r.reason),
                )
                .into()
            })
            .chain(name)
            .collect();
        match self.iface.setup_with(now, req, extra) {
            Ok(call) => {
                debug!(call = ?core.call_of(leg), %leg, span = %self.span, ?channel, cref = ?call, "ISDN leg: SETUP sent");
                self.by_handle.insert(
                    call,
                    IsdnCall {
                        leg,
                        channel,
                        incoming: false,
                        core_done: false,
                        overlap: (!setup.complete).then(OverlapDigits::default),
                        connected: None,
                    },
                );
                self.by_leg.insert(leg, call);
            }
            Err(e) => {
                warn!(span = %self.span, error = %e, "SETUP refused locally");
                let c = if self.iface.is_link_up() {
                    cause::CHANNEL_UNAVAILABLE
                } else {
                    cause::TEMPORARY_FAILURE
                };
                core.handle(now, leg, Message::Release(Reason::Q850(c)));
            }
        }
    }

    /// The elements with `n`'s name where this side and variant send them
    /// (`Interface::name_ies`: a Display, Q.931 §4.5.16; NI-2's Facility callingName) and
    /// presentation is allowed.
    fn name_ies(&mut self, operation: NameOperation, n: &Number) -> Vec<InfoElement> {
        match (&n.name, n.restricted) {
            (Some(name), false) => self.iface.name_ies(operation, name),
            _ => Vec::new(),
        }
    }

    /// A message from the core for one of our legs.
    pub fn deliver(&mut self, now: Instant, leg: LegId, msg: Delivery) {
        let Some(&call) = self.by_leg.get(&leg) else {
            return;
        };
        let r = match msg {
            Delivery::Proceeding => Ok(()), // sent when the SETUP arrived
            Delivery::Alerting { inband } => self.iface.alerting(now, call, inband),
            Delivery::Progress { .. } => {
                self.iface
                    .progress(now, call, ProgressDescription::InbandAvailable)
            }
            Delivery::Connect { .. } => {
                // COLP (Q.951 §3): the Connected number of who answered on the other leg,
                // and its name (Display).
                let connected = self.by_handle.get(&call).and_then(|c| c.connected.clone());
                let name = match &connected {
                    Some(n) => self.name_ies(NameOperation::Connected, n),
                    None => Vec::new(),
                };
                let extra: Vec<InfoElement> = connected
                    .as_ref()
                    .map(|n| {
                        ConnectedNumber::new(ton_out(n.ton), plan_of(n), &n.digits)
                            .with_presentation(
                                presentation_of(n),
                                Screening::UserProvidedNotScreened,
                            )
                            .into()
                    })
                    .into_iter()
                    .chain(name)
                    .collect();
                self.iface.connect_with(now, call, extra)
            }
            Delivery::ConnectedLine(n) => {
                if let Some(c) = self.by_handle.get_mut(&call) {
                    c.connected = Some(n);
                }
                Ok(())
            }
            // EN 300 369-1: a transfer on the other side connected our party to `n`
            // (libpri reports it as a connected line update).
            Delivery::Transferred(n) => {
                self.iface
                    .ect_inform(now, call, EctStatus::Active, Some(presented(&n)))
            }
            // Q.931 §5.9 / §4.5.22: the other party holds or retrieves the call.
            Delivery::Hold => self
                .iface
                .notify(now, call, NotificationDescription::REMOTE_HOLD),
            Delivery::Resume => {
                self.iface
                    .notify(now, call, NotificationDescription::REMOTE_RETRIEVAL)
            }
            Delivery::Release(c) => {
                if let Some(ic) = self.by_handle.get_mut(&call) {
                    ic.core_done = true;
                }
                self.by_leg.remove(&leg);
                // Q.931 §5.3.2: clear with DISCONNECT (§5.3.2 e: RELEASE COMPLETE right
                // after an unanswered SETUP is the interface's business).
                self.iface.disconnect(now, call, CauseValue::from(c.cause))
            }
            Delivery::Overlap { digits, complete } => {
                match self
                    .by_handle
                    .get_mut(&call)
                    .and_then(|c| c.overlap.as_mut())
                {
                    // Q.931 §5.1.3: INFORMATION only after SETUP ACKNOWLEDGE.
                    Some(o) if !o.acknowledged => {
                        o.pending.push_str(&digits);
                        o.complete |= complete;
                        Ok(())
                    }
                    _ => self.iface.information(now, call, &digits, complete),
                }
            }
            // An ISDN leg never asks for a SIP transfer (REFER), so it has no progress
            // to hear of.
            Delivery::Digits(_) | Delivery::Info(_) | Delivery::TransferProgress(_) => Ok(()),
        };
        if let Err(e) = r {
            debug!(%leg, error = %e, "command refused by the interface");
        }
    }
}

/// The call a D-channel event is about, if any.
fn call_of(ev: &Event) -> Option<CallHandle> {
    match ev {
        Event::IncomingSetup { call, .. }
        | Event::MoreInfo { call, .. }
        | Event::SetupAcknowledged { call, .. }
        | Event::Proceeding { call, .. }
        | Event::Alerting { call, .. }
        | Event::Progress { call, .. }
        | Event::Connected { call, .. }
        | Event::Notified { call, .. }
        | Event::ConnectedNumber { call, .. }
        | Event::ConnectedName { call, .. }
        | Event::CallingName { call, .. }
        | Event::Disconnecting { call, .. }
        | Event::Released { call, .. }
        | Event::TransferInformed { call, .. } => Some(*call),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_received_plan_is_kept_only_when_it_is_not_the_one_of_its_type() {
        assert_eq!(plan_in(QTon::National, NumberingPlan::Isdn), None);
        assert_eq!(plan_in(QTon::Unknown, NumberingPlan::Unknown), None);
        assert_eq!(
            plan_in(QTon::Subscriber, NumberingPlan::Private),
            Some(Plan::Private)
        );
        assert_eq!(
            plan_in(QTon::Unknown, NumberingPlan::Isdn),
            Some(Plan::Isdn)
        );
        // It goes out as it came.
        let n = Number {
            plan: plan_in(QTon::Subscriber, NumberingPlan::Private),
            ..Number::unknown("4711")
        };
        assert_eq!(plan_of(&n), NumberingPlan::Private);
        assert_eq!(plan_of(&Number::unknown("4711")), NumberingPlan::Unknown);
    }
}
