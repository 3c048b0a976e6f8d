//! INVITE client transaction (RFC 3261 §17.1.1, Figure 5, as corrected by RFC 6026 §7.2).

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use super::timer::Backoff;
use super::{ack_for_non_2xx, ClientEvent, State, Timers};
use crate::sip::SipMessage;

/// An INVITE we sent, until its final response is settled.
#[derive(Debug)]
pub struct InviteClient {
    state: State,
    request: SipMessage,
    reliable: bool,
    timers: Timers,
    /// Timer A: retransmit the INVITE (unreliable transports only, §17.1.1.2).
    timer_a: Option<Backoff>,
    /// Timer B: give up waiting for any response.
    timer_b: Option<Instant>,
    /// Timer D (Completed) or Timer M (Accepted, RFC 6026): absorb retransmissions.
    timer_wait: Option<Instant>,
    ack: Option<Bytes>,
    transmits: VecDeque<Bytes>,
    events: VecDeque<ClientEvent>,
}

impl InviteClient {
    /// Start the transaction: the INVITE goes out at once (§17.1.1.2).
    pub fn new(now: Instant, request: SipMessage, reliable: bool, timers: Timers) -> Self {
        let mut tx = InviteClient {
            state: State::Calling,
            reliable,
            timers,
            timer_a: (!reliable).then(|| Backoff::new(now, timers.t1, None)),
            timer_b: Some(now + timers.t1x64()),
            timer_wait: None,
            ack: None,
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

    /// The INVITE this transaction carries (the TU builds CANCEL and 2xx ACKs from it).
    pub fn request(&self) -> &SipMessage {
        &self.request
    }

    /// A response matched to this transaction (§17.1.3).
    pub fn handle_response(&mut self, now: Instant, response: SipMessage) {
        let Some(status) = response.status() else {
            return;
        };
        let code = status.code();
        match self.state {
            State::Calling | State::Proceeding => {
                self.timer_a = None;
                if code < 200 {
                    self.state = State::Proceeding;
                    self.events.push_back(ClientEvent::Provisional(response));
                } else if code < 300 {
                    // RFC 6026 §7.2: Accepted, Timer M; the TU sends the ACK for a 2xx.
                    self.state = State::Accepted;
                    self.timer_b = None;
                    self.timer_wait = Some(now + self.timers.t1x64());
                    self.events.push_back(ClientEvent::Final(response));
                } else {
                    self.state = State::Completed;
                    self.timer_b = None;
                    let ack = ack_for_non_2xx(&self.request, &response);
                    self.transmits.push_back(ack.clone());
                    self.ack = Some(ack);
                    self.timer_wait = Some(now + self.timers.timer_d(self.reliable));
                    self.events.push_back(ClientEvent::Final(response));
                }
            }
            // Every 2xx goes up: a forked INVITE may be answered by several UASs, and each
            // needs its own ACK (RFC 6026 §8.4). Non-2xx here is dropped.
            State::Accepted if (200..300).contains(&code) => {
                self.events.push_back(ClientEvent::Final(response));
            }
            // A retransmitted final response: ACK again, tell nobody (§17.1.1.2).
            State::Completed if code >= 300 => {
                if let Some(ack) = &self.ack {
                    self.transmits.push_back(ack.clone());
                }
            }
            _ => {}
        }
    }

    /// Let time pass.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(a) = &mut self.timer_a {
            while a.at <= now && self.state == State::Calling {
                self.transmits.push_back(self.request.buffer().clone());
                a.next();
            }
        }
        if self.timer_b.is_some_and(|b| b <= now) {
            self.timer_b = None;
            self.timer_a = None;
            if matches!(self.state, State::Calling | State::Proceeding) {
                self.events.push_back(ClientEvent::Timeout);
                self.state = State::Terminated;
            }
        }
        if self.timer_wait.is_some_and(|d| d <= now) {
            self.timer_wait = None;
            self.state = State::Terminated;
        }
    }

    /// The transport could not send (§17.1.1.2: inform the TU, terminate).
    pub fn handle_transport_error(&mut self) {
        if self.state != State::Terminated {
            self.events.push_back(ClientEvent::TransportError);
            self.state = State::Terminated;
            self.timer_a = None;
            self.timer_b = None;
            self.timer_wait = None;
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// The next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.timer_a
                .filter(|_| self.state == State::Calling)
                .map(|a| a.at),
            self.timer_b,
            self.timer_wait,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether the transaction is over (the table may drop it once events are drained).
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }
}
