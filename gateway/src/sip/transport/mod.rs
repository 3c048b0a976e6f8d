//! SIP transports (RFC 3261 §18): UDP, TCP and TLS, with connection reuse, `received` and
//! `rport` (RFC 3581), and stream framing by Content-Length.
//!
//! This is the thin I/O shell around the sans-IO message, transaction and dialog layers:
//! sockets in tokio tasks, every received message handed to the core over one channel as an
//! [`Incoming`], every message to send given to [`Transport::send`] with its [`Target`].

mod stream;
mod udp;
mod via;

pub use udp::{UdpReceiver, BATCH};
pub use via::{response_target, response_target_of_via, stamp_via};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::sip::SipMessage;

/// A transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Udp,
    Tcp,
    Tls,
}

impl Protocol {
    /// Reliable transports get no retransmissions (§17.1.1.2) and zero Timers D, I, J, K.
    pub fn is_reliable(self) -> bool {
        !matches!(self, Protocol::Udp)
    }

    /// The Via transport token (§18.1, §20.42).
    pub fn via_token(self) -> &'static str {
        match self {
            Protocol::Udp => "UDP",
            Protocol::Tcp => "TCP",
            Protocol::Tls => "TLS",
        }
    }
}

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target {
    pub protocol: Protocol,
    pub addr: SocketAddr,
}

/// A message from the network.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub message: SipMessage,
    /// The packet's or connection's source.
    pub source: Target,
    /// Our address it arrived on.
    pub local: SocketAddr,
}

/// A message that was framed but does not parse: the core may answer it with
/// `error.response_status()` if it was a request (RFC 3261 §16.3 / RFC 4475 practice).
#[derive(Debug, Clone)]
pub struct Malformed {
    pub bytes: Bytes,
    pub error: crate::sip::ParseError,
    pub source: Target,
}

/// What the transport hands to the core.
#[derive(Debug, Clone)]
pub enum TransportEvent {
    Message(Incoming),
    Malformed(Malformed),
    /// A stream connection closed (its transactions fail with a transport error, §18.4).
    Closed(Target),
}

/// Errors sending or binding.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("send to {target:?}: {source}")]
    Send {
        target: Target,
        #[source]
        source: std::io::Error,
    },
    #[error("no {0:?} listener is configured")]
    NoListener(Protocol),
    #[error("TLS: {0}")]
    Tls(String),
}

/// Writers of the open stream connections, by peer, so that requests and responses reuse
/// them (§18.1.1, §18.2.2).
type Connections = Arc<Mutex<HashMap<Target, mpsc::UnboundedSender<Bytes>>>>;

/// A running set of SIP listeners.
#[derive(Clone)]
pub struct Transport {
    udp: Option<Arc<UdpSocket>>,
    udp_local: Option<SocketAddr>,
    tcp_local: Option<SocketAddr>,
    tls: Option<(SocketAddr, stream::TlsConfig)>,
    connections: Connections,
    events: mpsc::Sender<TransportEvent>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("udp", &self.udp_local)
            .field("tcp", &self.tcp_local)
            .field("tls", &self.tls.as_ref().map(|t| t.0))
            .finish()
    }
}

/// What to listen on.
#[derive(Debug, Clone, Default)]
pub struct Listen {
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    /// TLS address with PEM certificate chain and private key files.
    pub tls: Option<(SocketAddr, std::path::PathBuf, std::path::PathBuf)>,
}

/// What a transport bound with [`Transport::bind_direct`] receives: UDP datagrams read by
/// the owner's own loop, stream messages over a channel from the connection tasks.
#[derive(Debug)]
pub struct Inbox {
    pub udp: Option<UdpReceiver>,
    pub events: mpsc::Receiver<TransportEvent>,
    events_open: bool,
}

impl From<mpsc::Receiver<TransportEvent>> for Inbox {
    /// Everything over the channel (a transport from [`Transport::bind`]).
    fn from(events: mpsc::Receiver<TransportEvent>) -> Self {
        Inbox {
            udp: None,
            events,
            events_open: true,
        }
    }
}

impl Inbox {
    /// Wait for something to arrive, then append everything already queued to `out`.
    /// `false` once nothing can arrive any more.
    pub async fn recv(&mut self, out: &mut Vec<TransportEvent>) -> bool {
        std::future::poll_fn(|cx| self.poll_recv(cx, out)).await
    }

    /// [`Inbox::recv`] as a poll (no future to allocate: an owner waiting on several
    /// inboxes polls each in turn). Stream events first, then UDP datagrams.
    pub fn poll_recv(
        &mut self,
        cx: &mut std::task::Context<'_>,
        out: &mut Vec<TransportEvent>,
    ) -> std::task::Poll<bool> {
        use std::task::Poll;
        if self.events_open {
            match self.events.poll_recv(cx) {
                Poll::Ready(Some(ev)) => {
                    out.push(ev);
                    while let Ok(ev) = self.events.try_recv() {
                        out.push(ev);
                    }
                    return Poll::Ready(true);
                }
                Poll::Ready(None) => {
                    self.events_open = false;
                    return Poll::Ready(self.udp.is_some());
                }
                Poll::Pending => {}
            }
        }
        match self.udp.as_mut() {
            Some(udp) => udp.poll_recv(cx, out).map(|()| true),
            None if self.events_open => Poll::Pending,
            None => Poll::Ready(false),
        }
    }
}

/// Bind a TCP listener on `addr` and start accepting connections on it (TLS over them
/// with `tls`, RFC 3261 §26.2.1); returns the bound address.
async fn listen_stream(
    addr: SocketAddr,
    tls: Option<stream::TlsConfig>,
    connections: &Connections,
    events: &mpsc::Sender<TransportEvent>,
) -> Result<SocketAddr, TransportError> {
    let l = TcpListener::bind(addr)
        .await
        .map_err(|e| TransportError::Bind { addr, source: e })?;
    let local = l
        .local_addr()
        .map_err(|e| TransportError::Bind { addr, source: e })?;
    tokio::spawn(stream::accept_loop(
        l,
        local,
        tls,
        connections.clone(),
        events.clone(),
    ));
    Ok(local)
}

impl Transport {
    /// Bind the listeners and start their tasks; received messages arrive on the returned
    /// channel. Must run inside a tokio runtime.
    pub async fn bind(
        listen: Listen,
    ) -> Result<(Transport, mpsc::Receiver<TransportEvent>), TransportError> {
        let (t, inbox) = Self::bind_direct(listen).await?;
        if let Some(udp) = inbox.udp {
            tokio::spawn(udp::receive_loop(udp, t.events.clone()));
        }
        Ok((t, inbox.events))
    }

    /// Bind the listeners and start the stream tasks, but leave UDP datagrams on the socket
    /// for the caller's loop to take ([`Inbox::recv`]): no task and no channel between the
    /// socket and the endpoint. Must run inside a tokio runtime.
    pub async fn bind_direct(listen: Listen) -> Result<(Transport, Inbox), TransportError> {
        let (tx, rx) = mpsc::channel(4096);
        let mut udp_rx = None;
        let connections: Connections = Arc::default();
        let mut t = Transport {
            udp: None,
            udp_local: None,
            tcp_local: None,
            tls: None,
            connections: connections.clone(),
            events: tx.clone(),
        };
        if let Some(addr) = listen.udp {
            let sock = UdpSocket::bind(addr)
                .await
                .map_err(|e| TransportError::Bind { addr, source: e })?;
            let local = sock
                .local_addr()
                .map_err(|e| TransportError::Bind { addr, source: e })?;
            match udp::enlarge_receive_buffer(&sock) {
                Ok((_, true)) => {}
                Ok((bytes, false)) => warn!(
                    %local,
                    bytes,
                    wanted = 2 * udp::RECEIVE_BUFFER,
                    "SIP UDP receive buffer smaller than wanted: raise net.core.rmem_max \
                     (sysctl), or run with CAP_NET_ADMIN; bursts may be dropped"
                ),
                Err(e) => warn!(%local, error = %e, "SIP UDP receive buffer not enlarged"),
            }
            let sock = Arc::new(sock);
            udp_rx = Some(UdpReceiver::new(sock.clone(), local));
            t.udp = Some(sock);
            t.udp_local = Some(local);
        }
        if let Some(addr) = listen.tcp {
            t.tcp_local = Some(listen_stream(addr, None, &connections, &tx).await?);
        }
        if let Some((addr, cert, key)) = listen.tls {
            let cfg = stream::TlsConfig::load(&cert, &key)?;
            let local = listen_stream(addr, Some(cfg.clone()), &connections, &tx).await?;
            t.tls = Some((local, cfg));
        }
        Ok((
            t,
            Inbox {
                udp: udp_rx,
                events: rx,
                events_open: true,
            },
        ))
    }

    /// Our bound address for a protocol (to write Via and Contact).
    pub fn local_addr(&self, protocol: Protocol) -> Option<SocketAddr> {
        match protocol {
            Protocol::Udp => self.udp_local,
            Protocol::Tcp => self.tcp_local,
            Protocol::Tls => self.tls.as_ref().map(|t| t.0),
        }
    }

    /// Send one message: a datagram, or on the stream connection to `target` (opened when
    /// there is none yet, and kept for reuse).
    pub async fn send(&self, target: Target, bytes: Bytes) -> Result<(), TransportError> {
        match target.protocol {
            Protocol::Udp => {
                let sock = self
                    .udp
                    .as_ref()
                    .ok_or(TransportError::NoListener(Protocol::Udp))?;
                sock.send_to(&bytes, target.addr)
                    .await
                    .map_err(|e| TransportError::Send { target, source: e })?;
                Ok(())
            }
            Protocol::Tcp | Protocol::Tls => {
                let existing = self
                    .connections
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&target)
                    .cloned();
                if let Some(w) = existing {
                    if w.send(bytes.clone()).is_ok() {
                        return Ok(());
                    }
                    debug!(?target, "stale connection, reconnecting");
                }
                let stream = TcpStream::connect(target.addr)
                    .await
                    .map_err(|e| TransportError::Send { target, source: e })?;
                let local = stream
                    .local_addr()
                    .map_err(|e| TransportError::Send { target, source: e })?;
                let tls = match target.protocol {
                    Protocol::Tls => Some(
                        self.tls
                            .as_ref()
                            .map(|t| t.1.clone())
                            .ok_or(TransportError::NoListener(Protocol::Tls))?,
                    ),
                    _ => None,
                };
                let w = stream::spawn_connection(
                    stream,
                    target,
                    local,
                    tls,
                    false,
                    self.connections.clone(),
                    self.events.clone(),
                )
                .await
                .map_err(|e| TransportError::Send { target, source: e })?;
                w.send(bytes).map_err(|_| TransportError::Send {
                    target,
                    source: std::io::Error::from(std::io::ErrorKind::BrokenPipe),
                })?;
                Ok(())
            }
        }
    }

    /// Send several messages and empty `out`: consecutive UDP datagrams go out in batches
    /// (`sendmmsg`), stream messages one by one as [`Transport::send`] does. Failures are
    /// logged (UDP gives no delivery guarantee anyway; streams report closure as events).
    pub async fn send_all(&self, out: &mut Vec<(Target, Bytes)>) {
        let mut i = 0;
        while i < out.len() {
            if out[i].0.protocol == Protocol::Udp {
                let end = out[i..]
                    .iter()
                    .position(|(t, _)| t.protocol != Protocol::Udp)
                    .map_or(out.len(), |p| i + p);
                match &self.udp {
                    Some(sock) => udp::send_batch(sock, &out[i..end]).await,
                    None => debug!("no UDP listener: {} datagrams dropped", end - i),
                }
                i = end;
            } else {
                let (target, bytes) = out[i].clone();
                if let Err(e) = self.send(target, bytes).await {
                    debug!(error = %e, "send failed");
                }
                i += 1;
            }
        }
        out.clear();
    }

    /// How many stream connections are open.
    pub fn connection_count(&self) -> usize {
        self.connections
            .lock()
            .map(|c| c.len())
            .unwrap_or_else(|e| {
                warn!("connection table poisoned");
                e.into_inner().len()
            })
    }
}

#[cfg(test)]
mod tests;
