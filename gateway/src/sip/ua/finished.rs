//! Server transactions that have sent their final response and only wait out their timer:
//! Timer L of an INVITE in Accepted (RFC 6026 §7.1) and Timer J of a non-INVITE in
//! Completed over UDP (RFC 3261 §17.2.2). Both last 64·T1 and both only absorb
//! retransmitted requests, so all that is kept of one is a small record: where responses
//! go, the final response to resend (non-INVITE), and the call an ACK belongs to (INVITE).
//! The request, the transaction's queues and a heap deadline are not kept; at a few
//! thousand calls a second that is tens of megabytes less to hold for half a minute.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use super::call::CallHandle;
use super::HashMap;
use crate::sip::transaction::ServerKey;
use crate::sip::transport::Target;

/// What is left of a finished server transaction.
#[derive(Debug, Clone)]
pub(super) struct Finished {
    /// Resent to every retransmission of the request (§17.2.2: the non-INVITE's final
    /// response); `None` for an accepted INVITE, whose retransmissions are absorbed
    /// (RFC 6026 §7.1: the UAS core retransmits the 2xx itself).
    pub response: Option<Bytes>,
    /// Where responses go (§18.2.2).
    pub reply: Target,
    /// The call of an accepted INVITE: an ACK matching the transaction goes to it
    /// (RFC 6026 §7.1).
    pub call: Option<CallHandle>,
}

/// The finished transactions, with their deadlines in the order they were set. Every
/// deadline is 64·T1 after the final response, so that order is also the order they fall
/// due: expiry looks at the front only.
#[derive(Default)]
pub(super) struct FinishedTable {
    records: HashMap<ServerKey, (Instant, Finished)>,
    queue: VecDeque<(Instant, ServerKey)>,
}

impl FinishedTable {
    /// Keep `record` under `key` until `until`.
    pub fn insert(&mut self, key: ServerKey, record: Finished, until: Instant) {
        self.queue.push_back((until, key.clone()));
        self.records.insert(key, (until, record));
    }

    pub fn get(&self, key: &ServerKey) -> Option<&Finished> {
        self.records.get(key).map(|(_, r)| r)
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// The earliest deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.queue.front().map(|(t, _)| *t)
    }

    /// Drop every record whose timer has fired (the transaction is Terminated).
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((until, _)) = self.queue.front() {
            if *until > now {
                break;
            }
            let Some((until, key)) = self.queue.pop_front() else {
                break;
            };
            // A record replaced under the same key keeps its own, later deadline.
            if self.records.get(&key).is_some_and(|(t, _)| *t == until) {
                self.records.remove(&key);
            }
        }
    }
}
