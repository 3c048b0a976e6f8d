//! Constructors for each message of Q.931 §3.1 (and the NI-2 SERVICE pair), carrying the
//! elements the message table makes mandatory. Optional elements are added with
//! [`Message::with`], which keeps the §4.5.1 ascending order.

use super::{CallRef, Message, MessageType, ProtocolDiscriminator};
use crate::ie::{
    BearerCapability, CallState, Cause, ChangeStatus, ChannelId, Facility, InfoElement,
    NotificationIndicator, ProgressIndicator, RestartIndicator,
};

impl Message {
    /// A Q.931 message (protocol discriminator 0x08) with no elements.
    pub fn new(call_ref: CallRef, message_type: MessageType) -> Self {
        Message {
            protocol_discriminator: ProtocolDiscriminator::Q931,
            call_ref,
            message_type,
            ies: Vec::with_capacity(8),
        }
    }

    /// SETUP, §3.1: bearer capability is mandatory.
    pub fn setup(call_ref: CallRef, bearer: BearerCapability) -> Self {
        Self::new(call_ref, MessageType::Setup).with(bearer)
    }

    /// SETUP ACKNOWLEDGE, §3.1 (channel identification: mandatory network to user).
    pub fn setup_acknowledge(call_ref: CallRef, channel: Option<ChannelId>) -> Self {
        Self::new(call_ref, MessageType::SetupAcknowledge).with_opt(channel)
    }

    /// CALL PROCEEDING, §3.1 (channel identification: mandatory in the network's first
    /// response to a SETUP).
    pub fn call_proceeding(call_ref: CallRef, channel: Option<ChannelId>) -> Self {
        Self::new(call_ref, MessageType::CallProceeding).with_opt(channel)
    }

    /// ALERTING, §3.1.
    pub fn alerting(call_ref: CallRef) -> Self {
        Self::new(call_ref, MessageType::Alerting)
    }

    /// PROGRESS, §3.1: progress indicator is mandatory.
    pub fn progress(call_ref: CallRef, progress: ProgressIndicator) -> Self {
        Self::new(call_ref, MessageType::Progress).with(progress)
    }

    /// CONNECT, §3.1.
    pub fn connect(call_ref: CallRef) -> Self {
        Self::new(call_ref, MessageType::Connect)
    }

    /// CONNECT ACKNOWLEDGE, §3.1.
    pub fn connect_acknowledge(call_ref: CallRef) -> Self {
        Self::new(call_ref, MessageType::ConnectAcknowledge)
    }

    /// DISCONNECT, §3.1: cause is mandatory.
    pub fn disconnect(call_ref: CallRef, cause: Cause) -> Self {
        Self::new(call_ref, MessageType::Disconnect).with(cause)
    }

    /// RELEASE, §3.1: cause is mandatory when it is the first clearing message.
    pub fn release(call_ref: CallRef, cause: Option<Cause>) -> Self {
        Self::new(call_ref, MessageType::Release).with_opt(cause)
    }

    /// RELEASE COMPLETE, §3.1: cause is mandatory when it is the first clearing message.
    pub fn release_complete(call_ref: CallRef, cause: Option<Cause>) -> Self {
        Self::new(call_ref, MessageType::ReleaseComplete).with_opt(cause)
    }

    /// INFORMATION, §3.1 (add keypad facility, called party number, sending complete).
    pub fn information(call_ref: CallRef) -> Self {
        Self::new(call_ref, MessageType::Information)
    }

    /// NOTIFY, §3.1: notification indicator is mandatory.
    pub fn notify(call_ref: CallRef, notification: NotificationIndicator) -> Self {
        Self::new(call_ref, MessageType::Notify).with(notification)
    }

    /// FACILITY, Q.932 §4.1: facility is mandatory.
    pub fn facility(call_ref: CallRef, facility: Facility) -> Self {
        Self::new(call_ref, MessageType::Facility).with(facility)
    }

    /// STATUS, §3.1: cause and call state are mandatory.
    pub fn status(call_ref: CallRef, cause: Cause, state: CallState) -> Self {
        Self::new(call_ref, MessageType::Status)
            .with(cause)
            .with(state)
    }

    /// STATUS ENQUIRY, §3.1.
    pub fn status_enquiry(call_ref: CallRef) -> Self {
        Self::new(call_ref, MessageType::StatusEnquiry)
    }

    /// RESTART, §3.4.1 (global call reference): restart indicator is mandatory, channel
    /// identification when the class is "indicated channels".
    pub fn restart(
        call_ref: CallRef,
        indicator: RestartIndicator,
        channel: Option<ChannelId>,
    ) -> Self {
        Self::new(call_ref, MessageType::Restart)
            .with_opt(channel)
            .with(indicator)
    }

    /// RESTART ACKNOWLEDGE, §3.4.2.
    pub fn restart_acknowledge(
        call_ref: CallRef,
        indicator: RestartIndicator,
        channel: Option<ChannelId>,
    ) -> Self {
        Self::new(call_ref, MessageType::RestartAcknowledge)
            .with_opt(channel)
            .with(indicator)
    }

    /// SERVICE (protocol discriminator 0x03; set `protocol_discriminator` to
    /// [`ProtocolDiscriminator::MAINTENANCE_NATIONAL`] for the national coding): change
    /// status and the channel.
    pub fn service(call_ref: CallRef, status: ChangeStatus, channel: Option<ChannelId>) -> Self {
        Message {
            protocol_discriminator: ProtocolDiscriminator::MAINTENANCE,
            ..Self::new(call_ref, MessageType::Service)
        }
        .with(status)
        .with_opt(channel)
    }

    /// SERVICE ACKNOWLEDGE (protocol discriminator 0x03, see [`Message::service`]).
    pub fn service_acknowledge(
        call_ref: CallRef,
        status: ChangeStatus,
        channel: Option<ChannelId>,
    ) -> Self {
        Message {
            protocol_discriminator: ProtocolDiscriminator::MAINTENANCE,
            ..Self::new(call_ref, MessageType::ServiceAcknowledge)
        }
        .with(status)
        .with_opt(channel)
    }

    /// Adds the element if `Some`.
    pub fn with_opt<T: Into<InfoElement>>(self, ie: Option<T>) -> Self {
        match ie {
            Some(ie) => self.with(ie),
            None => self,
        }
    }

    /// Adds a sending complete element (§4.5.27).
    pub fn with_sending_complete(mut self) -> Self {
        self.ies.push(InfoElement::SendingComplete);
        self
    }
}
