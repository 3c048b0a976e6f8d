//! Call establishment: Q.931 §5.1 (user side) and §5.2 (network side); channel selection
//! (§5.1.2, §5.2.3); overlap sending and receiving (§5.1.3, §5.2.4); call confirmation
//! (§5.2.5) and connection (§5.1.8, §5.2.7).

use std::time::Instant;

use tracing::debug;

use super::channels::ChannelState;
use super::interface::Interface;
use super::state::{Call, Stage};
use super::timers::Timer;
use super::{CallError, CallHandle, ChannelPref, Event, SetupRequest};
use crate::ie::{
    CalledPartyNumber, CauseValue, ChannelId, ChannelSelection, InfoElement, KeypadFacility,
    NotificationDescription, NotificationIndicator, NumberingPlan, ProgressDescription,
    ProgressIndicator, TypeOfNumber,
};
use crate::lapd::Role;
use crate::message::{Message, MessageType};
use crate::supplementary::name::NameOperation;

/// The channel a message names: (number, exclusive). `None` for "any" or no element.
pub(crate) fn indicated_channel(msg: &Message) -> Option<(u8, bool)> {
    let id = msg.channel_id()?;
    if id.selection != ChannelSelection::Indicated {
        return None;
    }
    let number = match id.channel_number() {
        Some(n) => n,
        None => *id.channels.as_ref()?.channel_numbers().first()?,
    };
    Some((number, id.exclusive))
}

/// `true` if any progress indicator of the message announces in-band information.
pub(crate) fn inband(msg: &Message) -> bool {
    msg.progress_indicators().any(|p| p.description.is_inband())
}

impl Interface {
    // ---- commands ---------------------------------------------------------------------

    /// Places a call: SETUP, T303 (§5.1.1 user side, §5.2.1 network side).
    pub fn setup(&mut self, now: Instant, req: SetupRequest) -> Result<CallHandle, CallError> {
        self.setup_with(now, req, Vec::new())
    }

    /// [`Interface::setup`] with more information elements in the SETUP (a redirecting
    /// number, Q.952 §4; a display…); they go in the order of Q.931 Table 4-3 like the
    /// others.
    pub fn setup_with(
        &mut self,
        now: Instant,
        req: SetupRequest,
        extra: Vec<InfoElement>,
    ) -> Result<CallHandle, CallError> {
        let handle = self.allocate_call_ref()?;
        let network = self.cfg.role == Role::Network;
        // §5.1.2 / §5.2.3.1: the user may name a channel or leave it to the network; the
        // network always names one.
        let (channel, exclusive) = match req.channel {
            ChannelPref::Exclusive(n) => match self.channels.get(n) {
                None => return Err(CallError::NoSuchChannel(n)),
                Some(ChannelState::Idle) => (Some(n), true),
                Some(_) => {
                    return Err(CallError::NoChannel(
                        CauseValue::RequestedChannelNotAvailable,
                    ))
                }
            },
            ChannelPref::Preferred(n) => match self.channels.get(n) {
                None => return Err(CallError::NoSuchChannel(n)),
                Some(ChannelState::Idle) => (Some(n), false),
                Some(_) if network => match self.channels.pick_idle() {
                    Some(c) => (Some(c), false),
                    None => return Err(CallError::NoChannel(CauseValue::NoCircuitAvailable)),
                },
                Some(_) => (None, false),
            },
            ChannelPref::Any if network => match self.channels.pick_idle() {
                Some(c) => (Some(c), true),
                None => return Err(CallError::NoChannel(CauseValue::NoCircuitAvailable)),
            },
            ChannelPref::Any => (None, false),
        };
        let cr = crate::message::CallRef::two_octet(
            handle.call_ref,
            crate::message::CallRefFlag::FromOriginator,
        );
        let mut msg = Message::setup(cr, req.bearer);
        if let Some(c) = channel {
            msg.insert(ChannelId::primary(c, exclusive).into());
        }
        if let Some(n) = req.calling {
            msg.insert(n.into());
        }
        if let Some(n) = req.called {
            msg.insert(n.into());
        }
        for ie in extra {
            msg.insert(ie);
        }
        if req.sending_complete && self.cfg.variant.sending_complete_in_setup {
            msg = msg.with_sending_complete();
        }
        let bytes = self.send_keep(now, &msg)?;
        let mut call = Call::new(handle);
        call.stage = Stage::Setup;
        call.channel = channel;
        call.exclusive = exclusive;
        call.channel_indicated = channel.is_some();
        call.setup = Some(bytes);
        call.start(Timer::T303, now + self.cfg.timers.t303);
        if let Some(c) = channel {
            self.channels.set(c, ChannelState::Busy(handle));
        }
        self.calls.insert(handle, call);
        Ok(handle)
    }

    /// More digits in overlap sending: INFORMATION with a called party number (and sending
    /// complete), §5.1.3; restarts T304 on the user side.
    pub fn information(
        &mut self,
        now: Instant,
        call: CallHandle,
        digits: &str,
        sending_complete: bool,
    ) -> Result<(), CallError> {
        let t304 = self.cfg.timers.t304;
        let user = self.cfg.role == Role::User;
        let c = self.call_mut(call)?;
        if c.stage == Stage::Null || c.stage == Stage::ReleaseSent {
            return Err(CallError::WrongState {
                command: "INFORMATION",
                stage: c.stage,
            });
        }
        if c.stage == Stage::Overlap && c.handle.ours && user {
            c.start(Timer::T304, now + t304);
        }
        let mut msg = Message::information(c.call_ref());
        if !digits.is_empty() {
            msg.insert(
                CalledPartyNumber::new(TypeOfNumber::Unknown, NumberingPlan::Isdn, digits).into(),
            );
        }
        if sending_complete {
            msg = msg.with_sending_complete();
        }
        self.send(now, &msg);
        Ok(())
    }

    /// Asks for more digits of an incoming call: SETUP ACKNOWLEDGE, T302 (§5.2.4 network
    /// side, overlap receiving on the user side).
    pub fn setup_acknowledge(&mut self, now: Instant, call: CallHandle) -> Result<(), CallError> {
        let t302 = self.cfg.timers.t302;
        let c = self.incoming(call, "SETUP ACKNOWLEDGE", &[Stage::Setup])?;
        c.stage = Stage::Overlap;
        c.t302 = Some(now + t302);
        let msg = Message::setup_acknowledge(c.call_ref(), first_channel(c));
        self.send(now, &msg);
        Ok(())
    }

    /// CALL PROCEEDING for an incoming call (§5.2.5.2).
    pub fn proceeding(&mut self, now: Instant, call: CallHandle) -> Result<(), CallError> {
        let c = self.incoming(call, "CALL PROCEEDING", &[Stage::Setup, Stage::Overlap])?;
        c.stage = Stage::Proceeding;
        c.t302 = None;
        let msg = Message::call_proceeding(c.call_ref(), first_channel(c));
        self.send(now, &msg);
        Ok(())
    }

    /// ALERTING for an incoming call (§5.2.5.3); `inband`: ring-back tone is sent in-band
    /// (progress indicator 8).
    pub fn alerting(
        &mut self,
        now: Instant,
        call: CallHandle,
        inband: bool,
    ) -> Result<(), CallError> {
        let location = self.location();
        let c = self.incoming(
            call,
            "ALERTING",
            &[Stage::Setup, Stage::Overlap, Stage::Proceeding],
        )?;
        c.stage = Stage::Delivered;
        c.t302 = None;
        let mut msg = Message::alerting(c.call_ref()).with_opt(first_channel(c));
        if inband {
            msg.insert(
                ProgressIndicator::new(location, ProgressDescription::InbandAvailable).into(),
            );
        }
        self.send(now, &msg);
        Ok(())
    }

    /// PROGRESS on a call being established (§5.1.6 / §5.2.6).
    pub fn progress(
        &mut self,
        now: Instant,
        call: CallHandle,
        description: ProgressDescription,
    ) -> Result<(), CallError> {
        let location = self.location();
        let c = self.call_mut(call)?;
        if !c.stage.is_establishing() {
            return Err(CallError::WrongState {
                command: "PROGRESS",
                stage: c.stage,
            });
        }
        let msg = Message::progress(c.call_ref(), ProgressIndicator::new(location, description));
        self.send(now, &msg);
        Ok(())
    }

    /// Answers an incoming call: CONNECT (§5.2.7). The user side waits for CONNECT
    /// ACKNOWLEDGE (U8, T313); the network side is active at once.
    pub fn connect(&mut self, now: Instant, call: CallHandle) -> Result<(), CallError> {
        self.connect_with(now, call, Vec::new())
    }

    /// As [`Interface::connect`], with more elements in the CONNECT (e.g. a Connected
    /// number for COLP, Q.951 §3).
    pub fn connect_with(
        &mut self,
        now: Instant,
        call: CallHandle,
        extra: Vec<InfoElement>,
    ) -> Result<(), CallError> {
        let user = self.cfg.role == Role::User;
        let t313 = self.cfg.timers.t313;
        let c = self.incoming(
            call,
            "CONNECT",
            &[
                Stage::Setup,
                Stage::Overlap,
                Stage::Proceeding,
                Stage::Delivered,
            ],
        )?;
        c.t302 = None;
        let mut msg = Message::connect(c.call_ref()).with_opt(first_channel(c));
        let channel = c.channel;
        if user {
            c.stage = Stage::ConnectRequest;
            c.start(Timer::T313, now + t313);
        } else {
            c.stage = Stage::Active;
            c.stop();
        }
        for ie in extra {
            msg.insert(ie);
        }
        self.send(now, &msg);
        if !user {
            self.events.push_back(Event::Connected { call, channel });
        }
        Ok(())
    }

    /// NOTIFY on an established or establishing call (§3.1.10, §5.9) with `description`
    /// in its Notification indicator (§4.5.22), e.g. remote hold / remote retrieval.
    pub fn notify(
        &mut self,
        now: Instant,
        call: CallHandle,
        description: NotificationDescription,
    ) -> Result<(), CallError> {
        self.notify_with(now, call, description, Vec::new())
    }

    /// As [`Interface::notify`], with more elements in the NOTIFY (e.g. a Redirection
    /// number with "call transferred, active", EN 300 369-1).
    pub fn notify_with(
        &mut self,
        now: Instant,
        call: CallHandle,
        description: NotificationDescription,
        extra: Vec<InfoElement>,
    ) -> Result<(), CallError> {
        let c = self.call_mut(call)?;
        if !(c.stage == Stage::Active || c.stage.is_establishing()) {
            return Err(CallError::WrongState {
                command: "NOTIFY",
                stage: c.stage,
            });
        }
        let mut msg = Message::notify(c.call_ref(), NotificationIndicator::new(description));
        for ie in extra {
            msg.insert(ie);
        }
        self.send(now, &msg);
        Ok(())
    }

    /// The call, checked to be an incoming one in one of `stages`.
    fn incoming(
        &mut self,
        call: CallHandle,
        command: &'static str,
        stages: &[Stage],
    ) -> Result<&mut Call, CallError> {
        let c = self.call_mut(call)?;
        if c.handle.ours || !stages.contains(&c.stage) {
            return Err(CallError::WrongState {
                command,
                stage: c.stage,
            });
        }
        Ok(c)
    }

    // ---- received SETUP -------------------------------------------------------------

    /// A SETUP for a new call reference (§5.1 incoming on the user side, §5.2.1 on the
    /// network side) that passed the §5.8 checks.
    pub(crate) fn incoming_setup(&mut self, now: Instant, call: CallHandle, msg: &Message) {
        let requested = indicated_channel(msg);
        let any = msg
            .channel_id()
            .is_none_or(|id| id.selection == ChannelSelection::Any);
        // §5.2.3.1 (network) / §5.1.2 read from the user side (network-offered channel).
        let channel = match requested {
            Some((n, exclusive)) => match self.channels.get(n) {
                Some(ChannelState::Idle) => Ok(n),
                // Glare (§5.2.3.1 / §5.1.2): the network's choice wins over our own
                // outgoing call still waiting for its first answer; that call gets a
                // channel from the network's answer.
                Some(ChannelState::Busy(other))
                    if self.cfg.role == Role::User
                        && other.ours
                        && self
                            .calls
                            .get(&other)
                            .is_some_and(|c| c.stage == Stage::Setup) =>
                {
                    if let Some(c) = self.calls.get_mut(&other) {
                        c.channel = None;
                        c.exclusive = false;
                    }
                    Ok(n)
                }
                _ if exclusive => Err(CauseValue::RequestedChannelNotAvailable),
                _ => self
                    .channels
                    .pick_idle()
                    .ok_or(CauseValue::NoCircuitAvailable),
            },
            None if any => self
                .channels
                .pick_idle()
                .ok_or(CauseValue::NoCircuitAvailable),
            // "No channel" (call waiting) is not offered on a PRI.
            None => Err(CauseValue::NoCircuitAvailable),
        };
        let channel = match channel {
            Ok(c) => c,
            Err(v) => {
                debug!(?v, "incoming SETUP refused: no channel");
                let cause = self.cause(v);
                let cr = crate::message::CallRef::two_octet(
                    call.call_ref,
                    crate::message::CallRefFlag::ToOriginator,
                );
                self.send(now, &Message::release_complete(cr, Some(cause)));
                return;
            }
        };
        let mut c = Call::new(call);
        c.stage = Stage::Setup;
        c.channel = Some(channel);
        c.exclusive = true;
        // The channel is repeated in the first answer (mandatory from the network,
        // §5.2.3.2; from the user when it differs from a preferred one, harmless otherwise).
        c.channel_indicated = false;
        self.channels.set(channel, ChannelState::Busy(call));
        self.calls.insert(call, c);
        let mut digits = None;
        let mut keypad = None;
        for ie in &msg.ies {
            match ie {
                InfoElement::CalledPartyNumber(n) => digits = Some(n.clone()),
                InfoElement::KeypadFacility(KeypadFacility { digits: d, .. })
                    if digits.is_none() =>
                {
                    keypad = Some(d.clone())
                }
                _ => {}
            }
        }
        let called = digits.or_else(|| {
            keypad.map(|d| CalledPartyNumber::new(TypeOfNumber::Unknown, NumberingPlan::Isdn, &d))
        });
        self.events.push_back(Event::IncomingSetup {
            call,
            called,
            calling: msg.calling_party_number().cloned(),
            bearer: msg.bearer_capability().cloned(),
            channel: Some(channel),
            sending_complete: msg.sending_complete(),
            redirecting: msg.redirecting_number().cloned(),
            name: super::name_in(&msg.ies, NameOperation::Calling),
            name_follows: msg.ies.iter().any(|ie| {
                matches!(ie, InfoElement::Facility(f) if crate::supplementary::name::information_following(f))
            }),
        });
    }

    // ---- answers to our SETUP ---------------------------------------------------------

    /// SETUP ACKNOWLEDGE, CALL PROCEEDING, ALERTING, CONNECT for our call (§5.1.3, §5.1.5,
    /// §5.1.7, §5.1.8; network side §5.2.5). Returns `false` if the message does not fit
    /// the state (§5.8.4).
    pub(crate) fn answer_to_setup(
        &mut self,
        now: Instant,
        call: CallHandle,
        msg: &Message,
    ) -> bool {
        let Some(c) = self.calls.get(&call) else {
            return false;
        };
        let allowed: &[Stage] = match msg.message_type {
            MessageType::SetupAcknowledge => &[Stage::Setup],
            MessageType::CallProceeding => &[Stage::Setup, Stage::Overlap],
            MessageType::Alerting => &[Stage::Setup, Stage::Overlap, Stage::Proceeding],
            MessageType::Connect => &[
                Stage::Setup,
                Stage::Overlap,
                Stage::Proceeding,
                Stage::Delivered,
            ],
            _ => &[],
        };
        if !c.handle.ours || !allowed.contains(&c.stage) {
            return false;
        }
        // §5.1.2: the channel the network indicates in its first answer.
        if let Some((n, _)) = indicated_channel(msg) {
            if c.channel != Some(n) {
                let acceptable = !(c.exclusive && c.channel.is_some())
                    && self.channels.get(n) == Some(ChannelState::Idle);
                if !acceptable {
                    // §5.1.2: the channel is not acceptable: clear with cause 6.
                    let cause = self.cause(CauseValue::ChannelUnacceptable);
                    self.start_release(now, call, Some(cause));
                    return true;
                }
                let old = c.channel;
                if let Some(o) = old {
                    self.channels.free(o, call);
                }
                self.channels.set(n, ChannelState::Busy(call));
                if let Some(c) = self.calls.get_mut(&call) {
                    c.channel = Some(n);
                }
            }
        }
        let timers = self.cfg.timers.clone();
        let user = self.cfg.role == Role::User;
        let ib = inband(msg);
        let Some(c) = self.calls.get_mut(&call) else {
            return true;
        };
        c.setup = None;
        let channel = c.channel;
        let event = match msg.message_type {
            MessageType::SetupAcknowledge => {
                c.stage = Stage::Overlap;
                if user {
                    c.start(Timer::T304, now + timers.t304);
                } else {
                    c.stop();
                }
                Event::SetupAcknowledged { call, channel }
            }
            MessageType::CallProceeding => {
                c.stage = Stage::Proceeding;
                c.start(Timer::T310, now + timers.t310);
                Event::Proceeding {
                    call,
                    channel,
                    inband: ib,
                }
            }
            MessageType::Alerting => {
                c.stage = Stage::Delivered;
                c.start(Timer::T301, now + timers.t301);
                Event::Alerting { call, inband: ib }
            }
            _ => {
                c.stage = Stage::Active;
                c.stop();
                let cr = c.call_ref();
                // §5.1.8 / §5.2.7: CONNECT ACKNOWLEDGE.
                self.send(now, &Message::connect_acknowledge(cr));
                if let Some(n) = msg.connected_number() {
                    self.events.push_back(Event::ConnectedNumber {
                        call,
                        number: n.clone(),
                    });
                }
                if let Some(name) = super::name_in(&msg.ies, NameOperation::Connected) {
                    self.events.push_back(Event::ConnectedName { call, name });
                }
                Event::Connected { call, channel }
            }
        };
        self.events.push_back(event);
        true
    }

    /// CONNECT ACKNOWLEDGE: the user side answering a call becomes active (§5.2.8).
    pub(crate) fn connect_acknowledge(&mut self, call: CallHandle) -> bool {
        let Some(c) = self.calls.get_mut(&call) else {
            return false;
        };
        match c.stage {
            Stage::ConnectRequest => {
                c.stage = Stage::Active;
                c.stop();
                let channel = c.channel;
                self.events.push_back(Event::Connected { call, channel });
                true
            }
            // The network side is already active; a CONNECT ACKNOWLEDGE from the user
            // there is optional and ignored.
            Stage::Active => true,
            _ => false,
        }
    }

    /// PROGRESS received (§5.1.6): reported; on the calling side it stops T310 (and T304).
    pub(crate) fn progress_received(&mut self, call: CallHandle, msg: &Message) -> bool {
        let Some(c) = self.calls.get_mut(&call) else {
            return false;
        };
        if !c.stage.is_establishing() && c.stage != Stage::Active {
            return false;
        }
        if matches!(c.timer, Some((Timer::T310 | Timer::T304, _))) {
            c.stop();
        }
        if let Some(p) = msg.progress_indicator() {
            self.events.push_back(Event::Progress {
                call,
                description: p.description,
                inband: inband(msg),
            });
        }
        true
    }

    /// INFORMATION received: more digits while overlap receiving (§5.2.4); elsewhere it
    /// carries nothing basic call uses.
    pub(crate) fn information_received(&mut self, now: Instant, call: CallHandle, msg: &Message) {
        let t302 = self.cfg.timers.t302;
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.handle.ours || !matches!(c.stage, Stage::Overlap | Stage::Setup) {
            return;
        }
        let complete = msg.sending_complete();
        let digits = msg
            .called_party_number()
            .map(|n| n.digits.clone())
            .or_else(|| msg.keypad_facility().map(|k| k.digits.clone()))
            .unwrap_or_default();
        if c.stage == Stage::Overlap {
            c.t302 = if complete { None } else { Some(now + t302) };
        }
        self.events.push_back(Event::MoreInfo {
            call,
            digits,
            sending_complete: complete,
            timed_out: false,
        });
    }
}

/// The channel for the first answer to an incoming SETUP (exclusive: the choice is made).
fn first_channel(c: &mut Call) -> Option<ChannelId> {
    if c.channel_indicated {
        return None;
    }
    c.channel_indicated = true;
    c.channel.map(|n| ChannelId::primary(n, true))
}
