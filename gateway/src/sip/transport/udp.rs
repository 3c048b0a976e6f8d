//! UDP: one datagram, one message (§18.3); the body is the rest of the datagram.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::{stamp_via, Incoming, Malformed, Protocol, Target, TransportEvent};
use crate::sip::SipMessage;

/// Receive datagrams until the core goes away.
pub(super) async fn receive_loop(
    sock: Arc<UdpSocket>,
    local: SocketAddr,
    events: mpsc::Sender<TransportEvent>,
) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                // ICMP port unreachable shows up here on Linux; it is not fatal.
                debug!(error = %e, "udp receive");
                continue;
            }
        };
        let data = &buf[..n];
        // RFC 5626 §4.4.1 / common practice: bare CRLF keep-alives on UDP are ignored.
        if data
            .iter()
            .all(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t' | 0))
        {
            continue;
        }
        let source = Target {
            protocol: Protocol::Udp,
            addr: from,
        };
        let bytes = Bytes::copy_from_slice(data);
        let ev = match SipMessage::parse(bytes.clone()) {
            Ok(m) => {
                let message = if m.is_request() {
                    stamp_via(m, from)
                } else {
                    m
                };
                TransportEvent::Message(Incoming {
                    message,
                    source,
                    local,
                })
            }
            Err(error) => TransportEvent::Malformed(Malformed {
                bytes,
                error,
                source,
            }),
        };
        if events.send(ev).await.is_err() {
            warn!("SIP core gone; UDP receiver stops");
            return;
        }
    }
}
