//! Q.931 §5.5 restart procedures (RESTART / RESTART ACKNOWLEDGE on the global call
//! reference, T316 and T317) and the NI-2 SERVICE / SERVICE ACKNOWLEDGE maintenance messages.
//!
//! Sending (§5.5.1): the channels wait in maintenance while RESTART is repeated at each T316
//! expiry, [`super::Timers::n316`] RESTARTs in all; then maintenance is informed
//! ([`Event::RestartFailed`]) and the channels are out of service until restarted again.
//!
//! Receiving (§5.5.2): the call references on the channels go to Null at once. With
//! [`super::InterfaceConfig::restart_confirm`] the layer above takes part in the internal
//! clearing (media, B-channel resources): the channels wait in maintenance until it reports
//! them idle ([`Interface::restart_done`]), T317 supervising; RESTART ACKNOWLEDGE follows
//! when all are idle. At T317 expiry maintenance is informed
//! ([`Event::RestartClearingExpired`]) and, per the note to §5.5.2, the channels already
//! idle are acknowledged.

use std::time::Instant;

use tracing::{debug, warn};

use super::channels::ChannelState;
use super::interface::Interface;
use super::{CallError, CallHandle, Event};
use crate::ie::{
    CallState, CallStateValue, CauseValue, ChangeStatus, ChannelId, RestartClass, RestartIndicator,
    ServiceStatus,
};
use crate::lapd::Role;
use crate::message::{CallRef, CallRefFlag, Message, MessageType};
use crate::validate::{self, Handling};

/// Our outstanding RESTART (the global call reference in the Restart request state).
#[derive(Debug, Clone)]
pub(crate) struct PendingRestart {
    /// `None`: the whole interface.
    pub channels: Option<Vec<u8>>,
    /// T316.
    pub deadline: Instant,
    /// RESTART messages sent so far.
    pub sent: u8,
    pub message: Vec<u8>,
}

/// A received RESTART whose internal clearing is under way (the Restart state, T317).
#[derive(Debug, Clone)]
pub(crate) struct ReceivedRestart {
    /// The call reference of the answer.
    pub call_ref: CallRef,
    pub indicator: RestartIndicator,
    /// The channel identification as received, repeated in the acknowledgement.
    pub channel_id: Option<ChannelId>,
    /// The restarted channels.
    pub channels: Vec<u8>,
    /// Those the layer above has not yet reported idle.
    pub pending: Vec<u8>,
    /// T317.
    pub deadline: Instant,
}

impl Interface {
    /// Restarts `channels` (or, with `None`, the whole interface): calls on them are
    /// released at once, the channels wait in maintenance, RESTART goes out with T316
    /// (§5.5.1). [`Event::RestartComplete`] follows the RESTART ACKNOWLEDGE,
    /// [`Event::RestartFailed`] the last unanswered attempt. A RESTART the data link
    /// refuses (its I queue full, the link being released) is logged and counts as
    /// sent: T316 repeats it.
    pub fn restart_channels(
        &mut self,
        now: Instant,
        channels: Option<Vec<u8>>,
    ) -> Result<(), CallError> {
        if self.restart.is_some() {
            return Err(CallError::RestartPending);
        }
        if let Some(list) = &channels {
            if let Some(&bad) = list.iter().find(|&&c| self.channels.get(c).is_none()) {
                return Err(CallError::NoSuchChannel(bad));
            }
        }
        // Encoded before anything changes, so that an error leaves the channels as they were.
        let msg = restart_message(Message::restart, channels.as_deref(), self.cfg.variant.span);
        let mut message = Vec::new();
        msg.encode(&mut message)?;
        let affected = channels.clone().unwrap_or_else(|| self.channels.numbers());
        self.clear_channels(&affected);
        for &c in &affected {
            self.channels.set(c, ChannelState::Maintenance);
        }
        debug!(role = ?self.cfg.role, "tx {msg}");
        // A RESTART the data link refuses, whatever the reason (its I queue full while the
        // peer stays busy, Q.921 §5.6.5; the link being released), is one the peer did
        // not answer: T316 sends it again and after N316 attempts maintenance is told
        // (§5.5.1). Failing here instead would leave the channels in maintenance with no
        // procedure left to bring them back.
        self.send_raw(now, &message);
        self.restart = Some(PendingRestart {
            channels,
            deadline: now + self.cfg.timers.t316,
            sent: 1,
            message,
        });
        Ok(())
    }

    /// The layer above has finished its part of the clearing of `channels` after a
    /// received RESTART ([`Event::RestartIndication`], with
    /// [`super::InterfaceConfig::restart_confirm`]): they are idle again, and once every
    /// restarted channel is, RESTART ACKNOWLEDGE goes out and T317 stops (§5.5.2).
    /// After T317 expiry the procedure is over: the peer's next RESTART starts another one.
    pub fn restart_done(&mut self, now: Instant, channels: &[u8]) -> Result<(), CallError> {
        let Some(r) = self.restart_in.as_mut() else {
            return Err(CallError::NoRestartInProgress);
        };
        let done: Vec<u8> = channels
            .iter()
            .copied()
            .filter(|c| r.pending.contains(c))
            .collect();
        r.pending.retain(|c| !done.contains(c));
        let finished = r.pending.is_empty();
        for c in done {
            self.channel_restarted(c);
        }
        if finished {
            if let Some(r) = self.restart_in.take() {
                let ack = Message::restart_acknowledge(r.call_ref, r.indicator, r.channel_id);
                self.send(now, &ack);
            }
        }
        Ok(())
    }

    /// Channels a received RESTART still holds in maintenance (waiting for
    /// [`Interface::restart_done`]).
    pub fn restart_pending_channels(&self) -> &[u8] {
        self.restart_in.as_ref().map_or(&[], |r| &r.pending)
    }

    /// A restarted channel is idle again, unless out of service (NI-2) or held by the
    /// other restart procedure in progress (§5.5 note 2: free only when all are done).
    fn channel_restarted(&mut self, c: u8) {
        let ours_pending = self.restart.as_ref().is_some_and(|r| match &r.channels {
            Some(list) => list.contains(&c),
            None => true,
        });
        let theirs_pending = self
            .restart_in
            .as_ref()
            .is_some_and(|r| r.pending.contains(&c));
        if ours_pending || theirs_pending {
            return;
        }
        if !matches!(self.channels.get(c), Some(ChannelState::OutOfService)) {
            self.channels.set(c, ChannelState::Idle);
        }
    }

    /// The earliest deadline of the restart procedures (T316, T317).
    pub(crate) fn restart_deadline(&self) -> Option<Instant> {
        [
            self.restart.as_ref().map(|r| r.deadline),
            self.restart_in.as_ref().map(|r| r.deadline),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs T316 and T317 if due.
    pub(crate) fn restart_timeouts(&mut self, now: Instant) {
        if self.restart.as_ref().is_some_and(|r| r.deadline <= now) {
            self.t316_timeout(now);
        }
        if self.restart_in.as_ref().is_some_and(|r| r.deadline <= now) {
            self.t317_timeout(now);
        }
    }

    /// T316 expired (§5.5.1): RESTART again, or, after the last attempt, inform maintenance
    /// and leave the channels out of service.
    fn t316_timeout(&mut self, now: Instant) {
        let (t316, n316) = (self.cfg.timers.t316, self.cfg.timers.n316);
        let Some(r) = self.restart.as_mut() else {
            return;
        };
        if r.sent < n316 {
            r.sent += 1;
            r.deadline = now + t316;
            let m = r.message.clone();
            self.send_raw(now, &m);
        } else if let Some(r) = self.restart.take() {
            warn!(attempts = r.sent, "RESTART not acknowledged");
            let channels = r.channels.unwrap_or_else(|| self.channels.numbers());
            for &c in &channels {
                if self.channels.get(c) == Some(ChannelState::Maintenance) {
                    self.channels.set(c, ChannelState::OutOfService);
                }
            }
            self.events.push_back(Event::RestartFailed { channels });
            self.restart_queued(now);
        }
    }

    /// T317 expired (§5.5.2): inform maintenance; acknowledge the channels already idle,
    /// if any (note to §5.5.2); the others stay in maintenance.
    fn t317_timeout(&mut self, now: Instant) {
        let Some(r) = self.restart_in.take() else {
            return;
        };
        warn!(channels = ?r.pending, "internal clearing after RESTART not done within T317");
        let idle: Vec<u8> = r
            .channels
            .iter()
            .copied()
            .filter(|c| !r.pending.contains(c))
            .collect();
        if !idle.is_empty() {
            let ack = Message::restart_acknowledge(
                r.call_ref,
                RestartIndicator::new(RestartClass::IndicatedChannels),
                Some(channel_list(&idle, self.cfg.variant.span)),
            );
            self.send(now, &ack);
        }
        self.events.push_back(Event::RestartClearingExpired {
            channels: r.pending,
        });
    }

    /// Releases every call on `channels` (internal clearing, cause 41 as seen by the
    /// layer above).
    fn clear_channels(&mut self, channels: &[u8]) {
        let calls: Vec<CallHandle> = channels
            .iter()
            .filter_map(|&c| match self.channels.get(c) {
                Some(ChannelState::Busy(h)) => Some(h),
                _ => None,
            })
            .collect();
        for h in calls {
            let cause = self.cause(CauseValue::TemporaryFailure);
            self.release_call(h, Some(cause));
        }
    }

    /// A message on the global call reference (§5.5, §5.8.3.2).
    pub(crate) fn handle_global(&mut self, now: Instant, msg: &Message) {
        let direction = match self.cfg.role {
            Role::User => crate::message::Direction::NetworkToUser,
            Role::Network => crate::message::Direction::UserToNetwork,
        };
        let handling = validate::check(msg, direction).handling(self.location());
        let reply_cr = msg.call_ref.reply();
        match handling {
            Handling::Process | Handling::ProcessAndReport(_) => {}
            Handling::Ignore | Handling::UnknownMessageType(_) => return,
            Handling::GlobalCallRefStatus(c) | Handling::Status(c) => {
                let state = CallState::new(CallStateValue::Null);
                self.send(now, &Message::status(reply_cr, c, state));
                return;
            }
            Handling::RejectSetup(_) | Handling::ClearAsNormal(_) => return,
        }
        match msg.message_type {
            MessageType::Restart => self.restart_received(now, msg),
            MessageType::RestartAcknowledge => self.restart_acknowledged(now, msg),
            _ => debug!("global call reference: {msg} ignored"),
        }
    }

    /// §5.5.2: RESTART received: call references on the channels to Null, then RESTART
    /// ACKNOWLEDGE with the same restart indicator and channels, at once or when the layer
    /// above has cleared them too (T317).
    fn restart_received(&mut self, now: Instant, msg: &Message) {
        let Some(ri) = msg.restart_indicator().copied() else {
            return;
        };
        let channels = match ri.class {
            RestartClass::IndicatedChannels => match msg.channel_id() {
                Some(id) => id
                    .channels
                    .as_ref()
                    .map(|l| l.channel_numbers())
                    .unwrap_or_default(),
                None => Vec::new(),
            },
            RestartClass::SingleInterface | RestartClass::AllInterfaces => self.channels.numbers(),
        };
        let unknown = channels.iter().any(|&c| self.channels.get(c).is_none());
        if unknown {
            // §5.5.2: a channel that does not exist: STATUS, cause 82.
            let c = self.cause(CauseValue::ChannelDoesNotExist);
            let state = CallState::new(CallStateValue::Null);
            self.send(now, &Message::status(msg.call_ref.reply(), c, state));
            return;
        }
        self.clear_channels(&channels);
        self.events.push_back(Event::RestartIndication {
            channels: channels.clone(),
        });
        if !self.cfg.restart_confirm || channels.is_empty() {
            for &c in &channels {
                self.channel_restarted(c);
            }
            let ack =
                Message::restart_acknowledge(msg.call_ref.reply(), ri, msg.channel_id().cloned());
            self.send(now, &ack);
            return;
        }
        for &c in &channels {
            if !matches!(self.channels.get(c), Some(ChannelState::OutOfService)) {
                self.channels.set(c, ChannelState::Maintenance);
            }
        }
        // A repeated RESTART (the peer's T316) while the clearing is under way: one
        // procedure, answered for the latest message, T317 from now.
        let mut pending = channels.clone();
        if let Some(old) = self.restart_in.take() {
            pending.extend(old.pending.iter().filter(|c| !channels.contains(c)));
        }
        self.restart_in = Some(ReceivedRestart {
            call_ref: msg.call_ref.reply(),
            indicator: ri,
            channel_id: msg.channel_id().cloned(),
            channels,
            pending,
            deadline: now + self.cfg.timers.t317,
        });
    }

    /// §5.5.1: RESTART ACKNOWLEDGE for our RESTART. One naming other channels than the
    /// RESTART did is discarded.
    fn restart_acknowledged(&mut self, now: Instant, msg: &Message) {
        let Some(r) = self.restart.as_ref() else {
            debug!("RESTART ACKNOWLEDGE with no RESTART outstanding");
            return;
        };
        let acked = msg
            .channel_id()
            .and_then(|id| id.channels.as_ref())
            .map(|l| l.channel_numbers());
        let indicated = msg
            .restart_indicator()
            .is_some_and(|ri| ri.class == RestartClass::IndicatedChannels);
        let same = match (&r.channels, &acked) {
            (Some(ours), Some(acked)) => {
                let (mut a, mut b) = (ours.clone(), acked.clone());
                a.sort_unstable();
                b.sort_unstable();
                a == b
            }
            (Some(_), None) => indicated,
            (None, _) => !indicated,
        };
        if !same {
            debug!(ours = ?r.channels, ?acked, "RESTART ACKNOWLEDGE for other channels discarded");
            return;
        }
        let Some(r) = self.restart.take() else {
            return;
        };
        let channels = r.channels.unwrap_or_else(|| self.channels.numbers());
        for &c in &channels {
            if self.channels.get(c) == Some(ChannelState::Maintenance) {
                self.channel_restarted(c);
            }
        }
        self.events.push_back(Event::RestartComplete { channels });
        self.restart_queued(now);
    }

    /// Starts the RESTART of the channels that waited for the previous one.
    fn restart_queued(&mut self, now: Instant) {
        if self.restart.is_some() || self.restart_queue.is_empty() {
            return;
        }
        let mut channels = std::mem::take(&mut self.restart_queue);
        channels.sort_unstable();
        channels.dedup();
        channels.retain(|&c| self.channels.get(c) == Some(ChannelState::Maintenance));
        if !channels.is_empty() {
            if let Err(e) = self.restart_channels(now, Some(channels)) {
                warn!(%e, "queued RESTART not sent");
            }
        }
    }

    // ---- NI-2 maintenance ---------------------------------------------------------------

    /// Sends SERVICE for `channels` (NI-2): the new status applies to them once
    /// acknowledged; taking a channel out of service releases its call.
    pub fn service(
        &mut self,
        now: Instant,
        channels: &[u8],
        status: ServiceStatus,
    ) -> Result<(), CallError> {
        if !self.cfg.variant.service_messages {
            return Err(CallError::NoService);
        }
        if let Some(&bad) = channels.iter().find(|&&c| self.channels.get(c).is_none()) {
            return Err(CallError::NoSuchChannel(bad));
        }
        let change = ChangeStatus {
            channel_preference: true,
            status,
        };
        let id = channel_list(channels, self.cfg.variant.span);
        let msg = Message {
            protocol_discriminator: self.cfg.variant.service_discriminator,
            ..Message::service(
                CallRef::global(2, CallRefFlag::FromOriginator),
                change,
                Some(id),
            )
        };
        self.send(now, &msg);
        Ok(())
    }

    /// NI-2 SERVICE / SERVICE ACKNOWLEDGE.
    pub(crate) fn handle_service(&mut self, now: Instant, msg: &Message) {
        let Some(change) = msg.change_status().copied() else {
            return;
        };
        let channels = match msg.channel_id() {
            Some(id) if change.channel_preference => id
                .channels
                .as_ref()
                .map(|l| l.channel_numbers())
                .unwrap_or_default(),
            _ => self.channels.numbers(),
        };
        let channels: Vec<u8> = channels
            .into_iter()
            .filter(|&c| self.channels.get(c).is_some())
            .collect();
        match msg.message_type {
            MessageType::Service => {
                self.apply_service(&channels, change.status);
                // Answered in the coding it came in (0x03 or 0x43).
                let ack = Message {
                    protocol_discriminator: msg.protocol_discriminator,
                    ..Message::service_acknowledge(
                        msg.call_ref.reply(),
                        change,
                        msg.channel_id().cloned(),
                    )
                };
                self.send(now, &ack);
                self.events.push_back(Event::ServiceChange {
                    channels,
                    status: change,
                });
            }
            MessageType::ServiceAcknowledge => {
                self.apply_service(&channels, change.status);
                self.events.push_back(Event::ServiceAcknowledged {
                    channels,
                    status: change,
                });
            }
            _ => {}
        }
    }

    fn apply_service(&mut self, channels: &[u8], status: ServiceStatus) {
        let state = match status {
            ServiceStatus::InService => ChannelState::Idle,
            ServiceStatus::Maintenance => ChannelState::Maintenance,
            ServiceStatus::OutOfService | ServiceStatus::Other(_) => ChannelState::OutOfService,
        };
        if state != ChannelState::Idle {
            self.clear_channels(channels);
        }
        for &c in channels {
            match (self.channels.get(c), state) {
                // Back in service: only channels not carrying a call.
                (Some(ChannelState::Busy(_)), ChannelState::Idle) => {}
                _ => self.channels.set(c, state),
            }
        }
    }
}

/// RESTART / RESTART ACKNOWLEDGE for `channels` (one channel by number, several as a
/// slot map) or the whole interface.
fn restart_message(
    build: fn(CallRef, RestartIndicator, Option<ChannelId>) -> Message,
    channels: Option<&[u8]>,
    span: super::Span,
) -> Message {
    let cr = CallRef::global(2, CallRefFlag::FromOriginator);
    match channels {
        Some(list) => build(
            cr,
            RestartIndicator::new(RestartClass::IndicatedChannels),
            Some(channel_list(list, span)),
        ),
        None => build(
            cr,
            RestartIndicator::new(RestartClass::SingleInterface),
            None,
        ),
    }
}

fn channel_list(channels: &[u8], span: super::Span) -> ChannelId {
    match channels {
        [one] => ChannelId::primary(*one, true),
        many => ChannelId::primary_slot_map(many, span.slot_map(), true),
    }
}
