//! Non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6).

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use super::timer::Backoff;
use super::{ClientEvent, State, Timers};
use crate::sip::SipMessage;

/// A BYE, CANCEL, OPTIONS, REGISTER, INFO, PRACK, UPDATE, REFER or NOTIFY we sent.
#[derive(Debug)]
pub struct NonInviteClient {
    state: State,
    request: SipMessage,
    reliable: bool,
    timers: Timers,
    /// Timer E: retransmit (unreliable only), doubling from T1 to T2 (§17.1.2.2).
    timer_e: Option<Backoff>,
    /// Timer F: give up.
    timer_f: Option<Instant>,
    /// Timer K: absorb response retransmissions in Completed.
    timer_k: Option<Instant>,
    transmits: VecDeque<Bytes>,
    events: VecDeque<ClientEvent>,
}

impl NonInviteClient {
    /// Start the transaction: the request goes out at once.
    pub fn new(now: Instant, request: SipMessage, reliable: bool, timers: Timers) -> Self {
        let mut tx = NonInviteClient {
            state: State::Trying,
            reliable,
            timers,
            timer_e: (!reliable).then(|| Backoff::new(now, timers.t1, Some(timers.t2))),
            timer_f: Some(now + timers.t1x64()),
            timer_k: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            request,
        };
        tx.transmits.push_back(tx.request.buffer().clone());
        tx
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn request(&self) -> &SipMessage {
        &self.request
    }

    pub fn handle_response(&mut self, now: Instant, response: SipMessage) {
        let Some(status) = response.status() else {
            return;
        };
        match self.state {
            State::Trying | State::Proceeding => {
                if status.code() < 200 {
                    if self.state == State::Trying {
                        self.state = State::Proceeding;
                        // §17.1.2.2: in Proceeding, Timer E fires every T2.
                        if let Some(e) = &mut self.timer_e {
                            e.fixed(now, self.timers.t2);
                        }
                    }
                    self.events.push_back(ClientEvent::Provisional(response));
                } else {
                    self.state = State::Completed;
                    self.timer_e = None;
                    self.timer_f = None;
                    self.timer_k = Some(now + self.timers.t4_or_zero(self.reliable));
                    self.events.push_back(ClientEvent::Final(response));
                }
            }
            // Completed: retransmissions are absorbed.
            _ => {}
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(e) = &mut self.timer_e {
            while e.at <= now && matches!(self.state, State::Trying | State::Proceeding) {
                self.transmits.push_back(self.request.buffer().clone());
                if self.state == State::Proceeding {
                    e.fixed(e.at, self.timers.t2);
                } else {
                    e.next();
                }
            }
        }
        if self.timer_f.is_some_and(|f| f <= now) {
            self.timer_f = None;
            self.timer_e = None;
            self.events.push_back(ClientEvent::Timeout);
            self.state = State::Terminated;
        }
        if self.timer_k.is_some_and(|k| k <= now) {
            self.timer_k = None;
            self.state = State::Terminated;
        }
    }

    pub fn handle_transport_error(&mut self) {
        if self.state != State::Terminated {
            self.events.push_back(ClientEvent::TransportError);
            self.state = State::Terminated;
            self.timer_e = None;
            self.timer_f = None;
            self.timer_k = None;
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.timer_e.map(|e| e.at), self.timer_f, self.timer_k]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }
}
