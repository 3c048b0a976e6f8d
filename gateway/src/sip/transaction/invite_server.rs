//! INVITE server transaction (RFC 3261 §17.2.1, Figure 7, as corrected by RFC 6026 §7.1).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::timer::Backoff;
use super::{ServerEvent, State, Timers};
use crate::sip::{Method, ResponseBuilder, SipMessage, StatusCode};

/// How long the TU may stay silent before the transaction sends 100 Trying (§17.2.1).
const TRYING_AFTER: Duration = Duration::from_millis(200);

/// An INVITE we received, until its final response is settled.
#[derive(Debug)]
pub struct InviteServer {
    state: State,
    request: SipMessage,
    reliable: bool,
    timers: Timers,
    /// The most recent response sent, resent on a retransmitted INVITE.
    last_response: Option<Bytes>,
    /// Send 100 Trying at this time unless the TU answered first.
    trying_at: Option<Instant>,
    /// Timer G: retransmit a non-2xx final response (unreliable only).
    timer_g: Option<Backoff>,
    /// Timer H: give up waiting for the ACK.
    timer_h: Option<Instant>,
    /// Timer I (Confirmed) or Timer L (Accepted, RFC 6026).
    timer_wait: Option<Instant>,
    transmits: VecDeque<Bytes>,
    events: VecDeque<ServerEvent>,
    acks: VecDeque<SipMessage>,
}

impl InviteServer {
    /// A new INVITE arrived (the table found no transaction for it).
    pub fn new(now: Instant, request: SipMessage, reliable: bool, timers: Timers) -> Self {
        InviteServer {
            state: State::Proceeding,
            request,
            reliable,
            timers,
            last_response: None,
            trying_at: Some(now + TRYING_AFTER),
            timer_g: None,
            timer_h: None,
            timer_wait: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            acks: VecDeque::new(),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn request(&self) -> &SipMessage {
        &self.request
    }

    /// The TU sends a response (`code` is its status code).
    pub fn respond(&mut self, now: Instant, response: Bytes, code: StatusCode) {
        let code = code.code();
        match self.state {
            State::Proceeding => {
                self.trying_at = None;
                if (200..300).contains(&code) {
                    // RFC 6026 §7.1: Accepted; 2xx retransmissions are the TU's job and a
                    // retransmitted INVITE is absorbed, so the 2xx is not kept here (the
                    // transaction lives 64*T1 more: what it holds, it holds that long).
                    self.transmits.push_back(response);
                    self.last_response = None;
                    self.state = State::Accepted;
                    self.timer_wait = Some(now + self.timers.t1x64());
                    return;
                }
                self.transmits.push_back(response.clone());
                self.last_response = Some(response);
                if code >= 300 {
                    self.state = State::Completed;
                    if !self.reliable {
                        self.timer_g =
                            Some(Backoff::new(now, self.timers.t1, Some(self.timers.t2)));
                    }
                    self.timer_h = Some(now + self.timers.t1x64());
                }
            }
            State::Accepted if (200..300).contains(&code) => {
                // The UAS core retransmitting its 2xx (§13.3.1.4), or a 2xx of another fork.
                self.transmits.push_back(response);
            }
            _ => {}
        }
    }

    /// A request matched to this transaction: a retransmitted INVITE, or an ACK.
    pub fn handle_request(&mut self, now: Instant, request: SipMessage) {
        let is_ack = request.method() == Some(Method::Ack);
        match (self.state, is_ack) {
            (State::Proceeding, false) => {
                if let Some(r) = &self.last_response {
                    self.transmits.push_back(r.clone());
                }
            }
            (State::Completed, false) => {
                if let Some(r) = &self.last_response {
                    self.transmits.push_back(r.clone());
                }
            }
            (State::Completed, true) => {
                self.state = State::Confirmed;
                self.timer_g = None;
                self.timer_h = None;
                self.timer_wait = Some(now + self.timers.t4_or_zero(self.reliable));
            }
            // RFC 6026 §7.1: an ACK matching in Accepted goes to the TU.
            (State::Accepted, true) => self.acks.push_back(request),
            // INVITE retransmissions in Accepted, and anything in Confirmed: absorbed.
            _ => {}
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.trying_at.is_some_and(|t| t <= now) {
            self.trying_at = None;
            if self.state == State::Proceeding && self.last_response.is_none() {
                let trying =
                    ResponseBuilder::from_request(&self.request, StatusCode::TRYING, None, None)
                        .build();
                self.transmits.push_back(trying.clone());
                self.last_response = Some(trying);
            }
        }
        if let Some(g) = &mut self.timer_g {
            while g.at <= now && self.state == State::Completed {
                if let Some(r) = &self.last_response {
                    self.transmits.push_back(r.clone());
                }
                g.next();
            }
        }
        if self.timer_h.is_some_and(|h| h <= now) {
            self.timer_h = None;
            self.timer_g = None;
            if self.state == State::Completed {
                self.events.push_back(ServerEvent::AckTimeout);
                self.state = State::Terminated;
            }
        }
        if self.timer_wait.is_some_and(|t| t <= now) {
            self.timer_wait = None;
            self.state = State::Terminated;
        }
    }

    pub fn handle_transport_error(&mut self) {
        if self.state != State::Terminated {
            self.events.push_back(ServerEvent::TransportError);
            self.state = State::Terminated;
            self.timer_g = None;
            self.timer_h = None;
            self.timer_wait = None;
            self.trying_at = None;
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// ACKs that matched in the Accepted state, for the TU (RFC 6026 §7.1).
    pub fn poll_ack(&mut self) -> Option<SipMessage> {
        self.acks.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.trying_at,
            self.timer_g
                .filter(|_| self.state == State::Completed)
                .map(|g| g.at),
            self.timer_h,
            self.timer_wait,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }
}
