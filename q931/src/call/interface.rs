//! One D-channel: the data link, the calls by call reference, the B-channels, RESTART.

use std::collections::VecDeque;
use std::time::Instant;

use tracing::{debug, trace, warn};

use super::channels::{ChannelState, ChannelTable};
use super::restart::{PendingRestart, ReceivedRestart};
use super::state::{Call, Stage};
use super::timers::{Timer, Timers};
use super::variant::Variant;
use super::{CallError, CallHandle, Event};
use crate::ie::{CallState, CallStateValue, Cause, CauseValue, Location};
use crate::lapd::{Link, LinkConfig, LinkEvent, Role};
use crate::message::{CallRef, CallRefFlag, Dialect, Message, MessageType, ProtocolDiscriminator};

/// How an [`Interface`] is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceConfig {
    /// User side (the gateway facing a public switch) or network side.
    pub role: Role,
    pub variant: Variant,
    pub timers: Timers,
    /// The data link; its role must be `role`.
    pub link: LinkConfig,
    /// Answer a DISCONNECT without in-band information with RELEASE at once (§5.3.4.1).
    /// When `false` the layer above calls [`Interface::release`].
    pub auto_release: bool,
    /// The layer above takes part in the internal clearing after a received RESTART
    /// (§5.5.2): the channels stay in maintenance until it calls
    /// [`Interface::restart_done`], and RESTART ACKNOWLEDGE waits for that, T317
    /// supervising. When `false` (the default) the interface acknowledges at once, its own
    /// clearing of the call references being all there is.
    pub restart_confirm: bool,
}

impl InterfaceConfig {
    /// ETSI EuroISDN on an E1 span.
    pub fn euro_isdn_e1(role: Role) -> InterfaceConfig {
        InterfaceConfig {
            role,
            variant: Variant::euro_isdn_e1(),
            timers: Timers::default(),
            link: LinkConfig::pri(role),
            auto_release: true,
            restart_confirm: false,
        }
    }

    /// NI-2 on a T1 span.
    pub fn ni2_t1(role: Role) -> InterfaceConfig {
        InterfaceConfig {
            variant: Variant::ni2_t1(),
            ..Self::euro_isdn_e1(role)
        }
    }
}

/// Q.931 call control on one primary rate D-channel (see the [module docs](super)).
#[derive(Debug)]
pub struct Interface {
    pub(crate) cfg: InterfaceConfig,
    pub(crate) link: Link,
    pub(crate) link_up: bool,
    pub(crate) calls: super::calls::Calls,
    pub(crate) channels: ChannelTable,
    pub(crate) events: VecDeque<Event>,
    pub(crate) restart: Option<PendingRestart>,
    /// A received RESTART waiting for the layer above (T317).
    pub(crate) restart_in: Option<ReceivedRestart>,
    /// Channels left in maintenance while a RESTART was outstanding: restarted next.
    pub(crate) restart_queue: Vec<u8>,
    /// The last call reference value we allocated.
    next_call_ref: u16,
    /// The link's count of discarded I frames when last looked at.
    seen_i_discarded: u64,
    /// Encoding buffer, reused.
    tx: Vec<u8>,
    /// Decoded message, reused (taken while a message is handled).
    rx: Option<Message>,
    /// Transfers in progress (`transfer`).
    pub(crate) transfers: Vec<super::transfer::PendingTransfer>,
    /// The last ROSE invoke id we used.
    pub(crate) next_invoke: u16,
}

impl Interface {
    pub fn new(cfg: InterfaceConfig) -> Interface {
        let mut link_cfg = cfg.link.clone();
        link_cfg.role = cfg.role;
        Interface {
            link: Link::new(link_cfg),
            link_up: false,
            calls: Default::default(),
            channels: ChannelTable::new(cfg.variant.span),
            events: VecDeque::new(),
            restart: None,
            restart_in: None,
            restart_queue: Vec::new(),
            next_call_ref: 0,
            seen_i_discarded: 0,
            tx: Vec::with_capacity(128),
            rx: Some(Message::new(CallRef::dummy(), MessageType::Setup)),
            transfers: Vec::new(),
            next_invoke: 0,
            cfg,
        }
    }

    pub fn config(&self) -> &InterfaceConfig {
        &self.cfg
    }

    /// The Display element carrying a party's `name` in a SETUP or CONNECT this side
    /// sends, where the variant lets this side send one ([`Variant::name_display`]).
    pub fn name_display(&self, name: &str) -> Option<crate::ie::Display> {
        self.cfg.variant.name_display(self.cfg.role, name)
    }

    pub fn role(&self) -> Role {
        self.cfg.role
    }

    /// The data link (for its state and counters).
    pub fn link(&self) -> &Link {
        &self.link
    }

    pub fn is_link_up(&self) -> bool {
        self.link_up
    }

    /// The B-channels and their states.
    pub fn channels(&self) -> &ChannelTable {
        &self.channels
    }

    /// Number of calls (call references in use).
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// Every call: handle, stage and B-channel.
    pub fn calls(&self) -> impl Iterator<Item = (CallHandle, Stage, Option<u8>)> + '_ {
        self.calls.values().map(|c| (c.handle, c.stage, c.channel))
    }

    /// The stage of a call, `None` once it is released.
    pub fn stage(&self, call: CallHandle) -> Option<Stage> {
        self.calls.get(&call).map(|c| c.stage)
    }

    /// The Q.931 state of a call (U/N numbering, §2).
    pub fn call_state(&self, call: CallHandle) -> Option<CallStateValue> {
        self.calls
            .get(&call)
            .map(|c| c.stage.state_value(self.cfg.role, c.handle.ours))
    }

    /// The B-channel of a call.
    pub fn channel(&self, call: CallHandle) -> Option<u8> {
        self.calls.get(&call).and_then(|c| c.channel)
    }

    /// Brings the data link up (DL-ESTABLISH request). The link also comes up when the
    /// peer establishes it or when a message is to be sent.
    pub fn start(&mut self, now: Instant) {
        self.link.establish(now);
    }

    // ---- I/O --------------------------------------------------------------------------

    /// A LAPD frame from the D-channel (no flags, no FCS).
    pub fn handle_frame(&mut self, now: Instant, bytes: &[u8]) {
        self.link.handle_frame(now, bytes);
        self.drain_link(now);
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.link.poll_timeout().is_some_and(|t| t <= now) {
            self.link.handle_timeout(now);
            self.drain_link(now);
        }
        let due: Vec<CallHandle> = self
            .calls
            .values()
            .filter(|c| c.deadline().is_some_and(|t| t <= now))
            .map(|c| c.handle)
            .collect();
        for h in due {
            self.call_timeout(now, h);
        }
        self.restart_timeouts(now);
        self.transfer_timeouts(now);
        self.drain_link(now);
    }

    /// The next frame to send (no FCS).
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.link.poll_transmit()
    }

    /// Like [`Interface::poll_transmit`], into `out` (cleared first), without allocating.
    pub fn poll_transmit_into(&mut self, out: &mut Vec<u8>) -> bool {
        self.link.poll_transmit_into(out)
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest deadline at which [`Interface::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let calls = self.calls.deadline();
        [
            self.link.poll_timeout(),
            calls,
            self.restart_deadline(),
            self.transfer_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ---- data link indications ----------------------------------------------------------

    fn drain_link(&mut self, now: Instant) {
        while let Some(e) = self.link.poll_event() {
            match e {
                LinkEvent::EstablishConfirm | LinkEvent::EstablishIndication => {
                    self.link_established(now)
                }
                LinkEvent::ReleaseIndication | LinkEvent::ReleaseConfirm => self.link_lost(now),
                LinkEvent::Data(bytes) => {
                    self.handle_message(now, &bytes);
                    self.link.recycle(bytes);
                }
                LinkEvent::UnitData(bytes) => {
                    trace!(len = bytes.len(), "UI frame ignored (point-to-point PRI)");
                }
                LinkEvent::MdlError(e) => debug!(?e, "MDL-ERROR"),
            }
        }
    }

    /// Q.931 §5.8.8: the data link is back; active calls waiting on T309 continue and
    /// their state is audited with STATUS ENQUIRY.
    fn link_established(&mut self, now: Instant) {
        if !self.link_up {
            self.link_up = true;
            self.events.push_back(Event::LinkUp);
        }
        let waiting: Vec<CallHandle> = self
            .calls
            .values()
            .filter(|c| matches!(c.timer, Some((Timer::T309, _))))
            .map(|c| c.handle)
            .collect();
        for h in waiting {
            if let Some(c) = self.calls.get_mut(&h) {
                c.stop();
                self.start_status_enquiry(now, h);
            }
        }
        let discarded = self.link.stats().i_discarded;
        if discarded > self.seen_i_discarded {
            self.seen_i_discarded = discarded;
            self.resend_lost_setups(now);
        }
    }

    /// The data link was reset (§5.8.9, DL-ESTABLISH indication) and our unacknowledged I
    /// frames went with it (Q.921 §5.5.3). A SETUP still unanswered (T303 running) may
    /// have been one of them: it is sent again at once, as T303's first expiry would do
    /// (§5.1.1, §5.2.1), instead of leaving the call silent for up to T303. This is what
    /// happens at start-up against a peer whose first SABME was lost (libpri, say): our
    /// SABME is answered with UA, our link is up and a SETUP goes out, but the peer still
    /// awaits the UA to its own SABME, ignores the SETUP, and on its T200 sends SABME
    /// again, which resets our link. The call keeps its T303 count (the retransmission
    /// is not an expiry), so a SETUP the peer did receive is answered, at worst, twice
    /// as on a T303 expiry.
    fn resend_lost_setups(&mut self, now: Instant) {
        let t303 = self.cfg.timers.t303;
        let lost: Vec<(CallHandle, Vec<u8>)> = self
            .calls
            .values_mut()
            .filter(|c| matches!(c.timer, Some((Timer::T303, _))))
            .filter_map(|c| {
                c.timer = Some((Timer::T303, now + t303));
                Some((c.handle, c.setup.clone()?))
            })
            .collect();
        for (h, setup) in lost {
            debug!(call = ?h, "data link reset: SETUP sent again");
            self.send_raw(now, &setup);
        }
    }

    /// Q.931 §5.8.8: the data link failed. Active calls start T309; the others are cleared
    /// internally (cause 41, temporary failure).
    fn link_lost(&mut self, now: Instant) {
        if self.link_up {
            self.link_up = false;
            self.events.push_back(Event::LinkDown);
        }
        let handles: Vec<CallHandle> = self.calls.keys().copied().collect();
        let t309 = self.cfg.timers.t309;
        for h in handles {
            let Some(c) = self.calls.get_mut(&h) else {
                continue;
            };
            if c.stage == Stage::Active {
                // An enquiry in flight is moot: the link's return starts a new one.
                c.stop_t322();
                if !matches!(c.timer, Some((Timer::T309, _))) {
                    c.start(Timer::T309, now + t309);
                }
            } else {
                let cause = self.cause(CauseValue::TemporaryFailure);
                self.release_call(h, Some(cause));
            }
        }
    }

    // ---- received messages ----------------------------------------------------------

    fn handle_message(&mut self, now: Instant, bytes: &[u8]) {
        let mut msg = self
            .rx
            .take()
            .unwrap_or_else(|| Message::new(CallRef::dummy(), MessageType::Setup));
        match msg.decode_into(bytes, Dialect::Isdn) {
            Ok(()) => {
                debug!(role = ?self.cfg.role, "rx {msg}");
                self.dispatch(now, &msg);
            }
            // §5.8.1–§5.8.3.1: ignored.
            Err(e) => debug!(%e, "message ignored"),
        }
        self.rx = Some(msg);
    }

    fn dispatch(&mut self, now: Instant, msg: &Message) {
        if msg.protocol_discriminator.is_maintenance() {
            if self.cfg.variant.service_messages && msg.call_ref.is_global() {
                self.handle_service(now, msg);
            }
            return;
        }
        if msg.protocol_discriminator != ProtocolDiscriminator::Q931 || msg.call_ref.is_dummy() {
            return;
        }
        if msg.call_ref.is_global() {
            self.handle_global(now, msg);
            return;
        }
        self.handle_call_message(now, msg);
    }

    // ---- helpers ----------------------------------------------------------------------

    /// Our own cause location: "user" on the user side, "public network serving the local
    /// user" on the network side (Q.850 §2.2.3).
    pub(crate) fn location(&self) -> Location {
        match self.cfg.role {
            Role::User => Location::User,
            Role::Network => Location::PublicLocal,
        }
    }

    pub(crate) fn cause(&self, value: CauseValue) -> Cause {
        Cause::new(value, self.location())
    }

    /// Encodes and queues a message on the data link; problems are logged (the procedures
    /// go on as if the peer had not answered, which the timers cover).
    pub(crate) fn send(&mut self, now: Instant, msg: &Message) {
        self.tx.clear();
        if let Err(e) = msg.encode(&mut self.tx) {
            warn!(%e, "message not encoded: {msg}");
            return;
        }
        debug!(role = ?self.cfg.role, "tx {msg}");
        if let Err(e) = self.link.send_i(now, &self.tx) {
            warn!(%e, "message not sent: {msg}");
        }
    }

    /// Sends already encoded bytes (a SETUP retransmission).
    pub(crate) fn send_raw(&mut self, now: Instant, bytes: &[u8]) {
        if let Err(e) = self.link.send_i(now, bytes) {
            warn!(%e, "message not sent");
        }
    }

    /// Like [`Interface::send`], returning the encoded bytes.
    pub(crate) fn send_keep(&mut self, now: Instant, msg: &Message) -> Result<Vec<u8>, CallError> {
        self.tx.clear();
        msg.encode(&mut self.tx)?;
        debug!(role = ?self.cfg.role, "tx {msg}");
        self.link.send_i(now, &self.tx)?;
        Ok(self.tx.clone())
    }

    /// STATUS for a call (§5.8.10): `cause` and our current state.
    pub(crate) fn send_status(&mut self, now: Instant, call: CallHandle, cause: Cause) {
        let (cr, state) = match self.calls.get(&call) {
            Some(c) => (
                c.call_ref(),
                c.stage.state_value(self.cfg.role, c.handle.ours),
            ),
            None => (
                CallRef::two_octet(
                    call.call_ref,
                    if call.ours {
                        CallRefFlag::FromOriginator
                    } else {
                        CallRefFlag::ToOriginator
                    },
                ),
                CallStateValue::Null,
            ),
        };
        self.send(now, &Message::status(cr, cause, CallState::new(state)));
    }

    pub(crate) fn call_mut(&mut self, call: CallHandle) -> Result<&mut Call, CallError> {
        self.calls
            .get_mut(&call)
            .ok_or(CallError::UnknownCall(call))
    }

    /// Allocates a call reference value not in use (§4.3: chosen by the originating side,
    /// unique on the interface among its own).
    pub(crate) fn allocate_call_ref(&mut self) -> Result<CallHandle, CallError> {
        for _ in 0..0x7FFF {
            self.next_call_ref = if self.next_call_ref >= 0x7FFF {
                1
            } else {
                self.next_call_ref + 1
            };
            let h = CallHandle {
                call_ref: self.next_call_ref,
                ours: true,
            };
            if !self.calls.contains_key(&h) {
                return Ok(h);
            }
        }
        Err(CallError::NoCallReference)
    }

    /// Releases the call reference and its channel, reporting [`Event::Released`].
    pub(crate) fn release_call(&mut self, call: CallHandle, cause: Option<Cause>) {
        if let Some(c) = self.calls.remove(&call) {
            if let Some(ch) = c.channel {
                self.channels.free(ch, call);
            }
            self.events.push_back(Event::Released { call, cause });
            if !self.transfers.is_empty() {
                self.transfer_call_released(call);
            }
        }
    }

    /// Puts the call's channel in maintenance and releases the call (T308 second expiry,
    /// §5.3.4.3 / §5.3.3.3); the channel returns with a RESTART.
    pub(crate) fn release_call_to_maintenance(
        &mut self,
        now: Instant,
        call: CallHandle,
        cause: Option<Cause>,
    ) {
        let channel = self.calls.get(&call).and_then(|c| c.channel);
        self.release_call(call, cause);
        if let Some(ch) = channel {
            if self.channels.is_idle(ch) {
                self.channels.set(ch, ChannelState::Maintenance);
                if self.restart.is_none() {
                    if let Err(e) = self.restart_channels(now, Some(vec![ch])) {
                        warn!(%e, channel = ch, "channel left in maintenance");
                    }
                } else {
                    self.restart_queue.push(ch);
                }
            }
        }
    }
}
