//! Non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8).

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use super::{ServerEvent, State, Timers};
use crate::sip::{SipMessage, StatusCode};

/// A non-INVITE request we received, until Timer J lets it go.
#[derive(Debug)]
pub struct NonInviteServer {
    state: State,
    request: SipMessage,
    reliable: bool,
    timers: Timers,
    last_response: Option<Bytes>,
    /// Timer J: absorb request retransmissions in Completed.
    timer_j: Option<Instant>,
    transmits: VecDeque<Bytes>,
    events: VecDeque<ServerEvent>,
}

impl NonInviteServer {
    pub fn new(_now: Instant, request: SipMessage, reliable: bool, timers: Timers) -> Self {
        NonInviteServer {
            state: State::Trying,
            request,
            reliable,
            timers,
            last_response: None,
            timer_j: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn request(&self) -> &SipMessage {
        &self.request
    }

    /// The last response sent (resent to retransmissions of the request).
    pub fn last_response(&self) -> Option<&Bytes> {
        self.last_response.as_ref()
    }

    /// Whether the request came over a reliable transport (Timer J is then zero).
    pub fn is_reliable(&self) -> bool {
        self.reliable
    }

    /// The TU sends a response.
    pub fn respond(&mut self, now: Instant, response: Bytes, code: StatusCode) {
        if !matches!(self.state, State::Trying | State::Proceeding) {
            return;
        }
        self.transmits.push_back(response.clone());
        self.last_response = Some(response);
        if code.code() < 200 {
            self.state = State::Proceeding;
        } else {
            self.state = State::Completed;
            self.timer_j = Some(now + self.timers.timer_j(self.reliable));
        }
    }

    /// A retransmission of the request (§17.2.2): resend the last response, if any.
    pub fn handle_request(&mut self, _now: Instant, _request: SipMessage) {
        if matches!(self.state, State::Proceeding | State::Completed) {
            if let Some(r) = &self.last_response {
                self.transmits.push_back(r.clone());
            }
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timer_j.is_some_and(|j| j <= now) {
            self.timer_j = None;
            self.state = State::Terminated;
        }
    }

    pub fn handle_transport_error(&mut self) {
        if self.state != State::Terminated {
            self.events.push_back(ServerEvent::TransportError);
            self.state = State::Terminated;
            self.timer_j = None;
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer_j
    }

    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }
}
