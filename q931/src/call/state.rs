//! Call states (Q.931 §2.1 user side, §2.2 network side) and the per-call record.

use std::time::Instant;

use super::timers::Timer;
use super::CallHandle;
use crate::ie::{CallStateValue, Cause};
use crate::lapd::Role;
use crate::message::{CallRef, CallRefFlag};

/// Where a call is, independent of the side: the Q.931 state number follows from the stage,
/// the side (user/network) and who sent the SETUP ([`Stage::state_value`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// U0 / N0.
    Null,
    /// SETUP sent (U1 / N6) or received (U6 / N1).
    Setup,
    /// Overlap: SETUP ACKNOWLEDGE received (U2 / N25) or sent (U25 / N2).
    Overlap,
    /// CALL PROCEEDING received (U3 / N9) or sent (U9 / N3).
    Proceeding,
    /// ALERTING received (U4 / N7) or sent (U7 / N4).
    Delivered,
    /// U8 Connect request: the user side sent CONNECT and awaits CONNECT ACKNOWLEDGE.
    ConnectRequest,
    /// U10 / N10 Active.
    Active,
    /// We sent DISCONNECT: U11 Disconnect request / N12 Disconnect indication.
    DisconnectSent,
    /// We received DISCONNECT: U12 Disconnect indication / N11 Disconnect request.
    DisconnectReceived,
    /// U19 / N19 Release request: we sent RELEASE.
    ReleaseSent,
}

impl Stage {
    /// The Q.931 call state (§4.5.7) for the Call state element, as seen by `side` for a
    /// call whose SETUP `side` sent (`outgoing`) or received. State numbers are those of the
    /// user-side view in both tables: N1 is the network having received a user's SETUP.
    pub fn state_value(self, side: Role, outgoing: bool) -> CallStateValue {
        let user_originated = outgoing == (side == Role::User);
        use CallStateValue as V;
        match self {
            Stage::Null => V::Null,
            Stage::Setup if user_originated => V::CallInitiated,
            Stage::Setup => V::CallPresent,
            Stage::Overlap if user_originated => V::OverlapSending,
            Stage::Overlap => V::OverlapReceiving,
            Stage::Proceeding if user_originated => V::OutgoingCallProceeding,
            Stage::Proceeding => V::IncomingCallProceeding,
            Stage::Delivered if user_originated => V::CallDelivered,
            Stage::Delivered => V::CallReceived,
            Stage::ConnectRequest => V::ConnectRequest,
            Stage::Active => V::Active,
            Stage::DisconnectSent if side == Role::User => V::DisconnectRequest,
            Stage::DisconnectSent => V::DisconnectIndication,
            Stage::DisconnectReceived if side == Role::User => V::DisconnectIndication,
            Stage::DisconnectReceived => V::DisconnectRequest,
            Stage::ReleaseSent => V::ReleaseRequest,
        }
    }

    /// Before the call is answered (call establishment).
    pub const fn is_establishing(self) -> bool {
        matches!(
            self,
            Stage::Setup
                | Stage::Overlap
                | Stage::Proceeding
                | Stage::Delivered
                | Stage::ConnectRequest
        )
    }
}

/// One call.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub handle: CallHandle,
    pub stage: Stage,
    /// The B-channel reserved or in use.
    pub channel: Option<u8>,
    /// The channel was asked for exclusively (our SETUP) or granted exclusively.
    pub exclusive: bool,
    /// The channel has been indicated to the peer (incoming calls: in the first answer).
    pub channel_indicated: bool,
    pub timer: Option<(Timer, Instant)>,
    /// Expiries so far of the running timer (T303, T308).
    pub expiries: u8,
    /// T302 while overlap receiving (runs beside no other timer of ours).
    pub t302: Option<Instant>,
    /// T322 while a STATUS ENQUIRY awaits its STATUS (§5.8.10); runs beside the others.
    pub t322: Option<Instant>,
    /// STATUS ENQUIRY messages sent for the running enquiry.
    pub enquiries: u8,
    /// The call state a STATUS with cause 97 reported while T322 runs (§5.8.10: acted on
    /// at T322 expiry if no better answer comes).
    pub status_97: Option<CallStateValue>,
    /// Our SETUP as sent, for the T303 retransmission.
    pub setup: Option<Vec<u8>>,
    /// The cause of our first clearing message (repeated in RELEASE after T305, §5.3.4).
    pub clear_cause: Option<Cause>,
    /// The cause the peer gave when it started clearing.
    pub peer_cause: Option<Cause>,
}

impl Call {
    pub fn new(handle: CallHandle) -> Call {
        Call {
            handle,
            stage: Stage::Null,
            channel: None,
            exclusive: false,
            channel_indicated: false,
            timer: None,
            expiries: 0,
            t302: None,
            t322: None,
            enquiries: 0,
            status_97: None,
            setup: None,
            clear_cause: None,
            peer_cause: None,
        }
    }

    /// The call reference as we put it in messages: flag 0 if we allocated it (§4.3).
    pub fn call_ref(&self) -> CallRef {
        let flag = if self.handle.ours {
            CallRefFlag::FromOriginator
        } else {
            CallRefFlag::ToOriginator
        };
        CallRef::two_octet(self.handle.call_ref, flag)
    }

    pub fn start(&mut self, timer: Timer, at: Instant) {
        if self.timer.map(|(t, _)| t) != Some(timer) {
            self.expiries = 0;
        }
        self.timer = Some((timer, at));
    }

    pub fn stop(&mut self) {
        self.timer = None;
        self.expiries = 0;
    }

    /// Stops T322 and forgets the enquiry.
    pub fn stop_t322(&mut self) {
        self.t322 = None;
        self.enquiries = 0;
        self.status_97 = None;
    }

    /// The earliest deadline of this call.
    pub fn deadline(&self) -> Option<Instant> {
        [self.timer.map(|(_, t)| t), self.t302, self.t322]
            .into_iter()
            .flatten()
            .min()
    }
}
