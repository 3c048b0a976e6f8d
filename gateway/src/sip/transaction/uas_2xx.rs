//! The UAS core's retransmission of a 2xx to INVITE until the ACK arrives
//! (RFC 3261 §13.3.1.4): the transaction layer does not do it, because the ACK for a 2xx is
//! end to end and never matches the INVITE transaction.

use std::time::Instant;

use bytes::Bytes;

use super::timer::Backoff;
use super::Timers;

/// Retransmits one 2xx: T1, doubling up to T2, for unreliable and reliable transports alike
/// (§13.3.1.4: on reliable ones the retransmissions are harmless and cover a proxy that
/// forwards over UDP), until [`Uas2xxRetransmitter::handle_ack`] or 64*T1.
#[derive(Debug)]
pub struct Uas2xxRetransmitter {
    response: Bytes,
    timer: Option<Backoff>,
    give_up: Instant,
    pending: Option<Bytes>,
    timed_out: bool,
}

impl Uas2xxRetransmitter {
    /// The 2xx has just been sent (by the transaction); retransmissions start at T1.
    pub fn new(now: Instant, response: Bytes, timers: Timers) -> Self {
        Uas2xxRetransmitter {
            response,
            timer: Some(Backoff::new(now, timers.t1, Some(timers.t2))),
            give_up: now + timers.t1x64(),
            pending: None,
            timed_out: false,
        }
    }

    /// The ACK arrived: stop.
    pub fn handle_ack(&mut self) {
        self.timer = None;
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(t) = &mut self.timer else { return };
        if now >= self.give_up {
            // §13.3.1.4: no ACK within 64*T1: the session must be torn down with a BYE.
            self.timer = None;
            self.timed_out = true;
            return;
        }
        if t.at <= now {
            self.pending = Some(self.response.clone());
            while t.at <= now {
                t.next();
            }
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.pending.take()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer.map(|t| t.at.min(self.give_up))
    }

    /// Whether 64*T1 passed without an ACK (the TU then sends BYE).
    pub fn ack_timed_out(&self) -> bool {
        self.timed_out
    }

    /// Whether it is done (acknowledged or given up).
    pub fn is_done(&self) -> bool {
        self.timer.is_none()
    }
}
