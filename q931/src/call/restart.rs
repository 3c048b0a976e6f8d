//! Q.931 §5.5 restart procedures (RESTART / RESTART ACKNOWLEDGE on the global call
//! reference, T316) and the NI-2 SERVICE / SERVICE ACKNOWLEDGE maintenance messages.

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

/// Our outstanding RESTART.
#[derive(Debug, Clone)]
pub(crate) struct PendingRestart {
    /// `None`: the whole interface.
    pub channels: Option<Vec<u8>>,
    pub deadline: Instant,
    pub retries_left: u8,
    pub message: Vec<u8>,
}

impl Interface {
    /// Restarts `channels` (or, with `None`, the whole interface): calls on them are
    /// released at once, the channels wait in maintenance, RESTART goes out with T316
    /// (§5.5.1). [`Event::RestartComplete`] follows the RESTART ACKNOWLEDGE.
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
        let affected = channels.clone().unwrap_or_else(|| self.channels.numbers());
        self.clear_channels(&affected);
        for &c in &affected {
            self.channels.set(c, ChannelState::Maintenance);
        }
        let msg = restart_message(Message::restart, channels.as_deref(), self.cfg.variant.span);
        let message = self.send_keep(now, &msg)?;
        self.restart = Some(PendingRestart {
            channels,
            deadline: now + self.cfg.timers.t316,
            retries_left: self.cfg.variant.restart_retries,
            message,
        });
        Ok(())
    }

    /// T316 expired (§5.5.1): RESTART again, or give up and leave the channels in
    /// maintenance.
    pub(crate) fn restart_timeout(&mut self, now: Instant) {
        let t316 = self.cfg.timers.t316;
        let Some(r) = self.restart.as_mut() else {
            return;
        };
        if r.retries_left > 0 {
            r.retries_left -= 1;
            r.deadline = now + t316;
            let m = r.message.clone();
            self.send_raw(now, &m);
        } else if let Some(r) = self.restart.take() {
            warn!("RESTART not acknowledged");
            let channels = r.channels.unwrap_or_else(|| self.channels.numbers());
            self.events.push_back(Event::RestartFailed { channels });
            self.restart_queued(now);
        }
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
            MessageType::RestartAcknowledge => self.restart_acknowledged(now),
            _ => debug!("global call reference: {msg} ignored"),
        }
    }

    /// §5.5.2: RESTART received: release the calls on the channels, answer RESTART
    /// ACKNOWLEDGE with the same restart indicator and channels.
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
        for &c in &channels {
            if !matches!(self.channels.get(c), Some(ChannelState::OutOfService)) {
                self.channels.set(c, ChannelState::Idle);
            }
        }
        let ack = Message::restart_acknowledge(msg.call_ref.reply(), ri, msg.channel_id().cloned());
        self.send(now, &ack);
        self.events.push_back(Event::RestartIndication { channels });
    }

    /// §5.5.1: RESTART ACKNOWLEDGE for our RESTART.
    fn restart_acknowledged(&mut self, now: Instant) {
        let Some(r) = self.restart.take() else {
            debug!("RESTART ACKNOWLEDGE with no RESTART outstanding");
            return;
        };
        let channels = r.channels.unwrap_or_else(|| self.channels.numbers());
        for &c in &channels {
            if self.channels.get(c) == Some(ChannelState::Maintenance) {
                self.channels.set(c, ChannelState::Idle);
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
        let msg = Message::service(
            CallRef::global(2, CallRefFlag::FromOriginator),
            change,
            Some(id),
        );
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
                let ack = Message::service_acknowledge(
                    msg.call_ref.reply(),
                    change,
                    msg.channel_id().cloned(),
                );
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
