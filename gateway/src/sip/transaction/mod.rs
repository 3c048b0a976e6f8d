//! SIP transactions (RFC 3261 §17, with the RFC 6026 corrections) as sans-IO state
//! machines: messages and time in, messages to send and events for the TU out.
//!
//! Each transaction has the STYLE.md shape: `handle_*` for what arrived (a message, a
//! timeout, a transport error, the TU's response), `poll_transmit`, `poll_event` and
//! `poll_timeout` for what must happen next. Nothing here owns a socket or a clock; the
//! transport task feeds them. [`table::TransactionTable`] matches incoming messages to
//! transactions (§17.1.3, §17.2.3) across shards, so no single lock serialises a busy
//! gateway.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use gateway::sip::SipMessage;
//! use gateway::sip::transaction::{NonInviteClient, ClientEvent, Timers};
//!
//! let req = SipMessage::parse(&b"OPTIONS sip:gw@192.0.2.1 SIP/2.0\r\n\
//! Via: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n\
//! To: <sip:gw@192.0.2.1>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\
//! Content-Length: 0\r\n\r\n"[..]).unwrap();
//! let t0 = Instant::now();
//! let mut tx = NonInviteClient::new(t0, req, false, Timers::default());
//! assert!(tx.poll_transmit().is_some());                     // sent at once
//! assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_millis(500))); // Timer E = T1
//! tx.handle_timeout(t0 + Duration::from_secs(32));           // Timer F = 64*T1
//! assert!(matches!(tx.poll_event(), Some(ClientEvent::Timeout)));
//! ```

mod ack;
mod invite_client;
mod invite_server;
mod key;
mod non_invite_client;
mod non_invite_server;
pub mod table;
mod timer;
mod uas_2xx;

pub use ack::ack_for_non_2xx;
pub(crate) use ack::split_list;
pub use invite_client::InviteClient;
pub use invite_server::InviteServer;
pub use key::{ClientKey, KeyError, ServerKey};
pub use non_invite_client::NonInviteClient;
pub use non_invite_server::NonInviteServer;
pub use timer::Timers;
pub use uas_2xx::Uas2xxRetransmitter;

use crate::sip::SipMessage;

/// What a client transaction tells its TU.
#[derive(Debug, Clone)]
pub enum ClientEvent {
    /// A 1xx response.
    Provisional(SipMessage),
    /// A final response (the first; for INVITE every 2xx, as RFC 6026 §8.4 wants them all
    /// passed up so the TU can ACK each forked 2xx).
    Final(SipMessage),
    /// Timer B or F fired: no final response came (the TU acts as on a 408).
    Timeout,
    /// The transport failed to send (§17.1.4: the TU acts as on a 503).
    TransportError,
}

/// What a server transaction tells its TU.
#[derive(Debug, Clone)]
pub enum ServerEvent {
    /// Timer H fired: the ACK for our final non-2xx response never came (§17.2.1).
    AckTimeout,
    /// The transport failed to send a response (§17.2.4).
    TransportError,
}

/// The state names of §17, for logs and `ctl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Calling,
    Trying,
    Proceeding,
    /// RFC 6026 §7.1: after a 2xx, absorbing retransmissions.
    Accepted,
    Completed,
    Confirmed,
    Terminated,
}

#[cfg(test)]
mod tests;
