//! The H.323 side's I/O shell: a TCP listener on the H.225.0 call-signalling port (1720 by
//! default, `[h323] listen`), one reader and one writer task per connection (call
//! signalling, or a separate H.245 channel), feeding the signalling task, which owns the
//! sans-IO [`H323Leg`] and the core (DESIGN.md: one task per H.323 connection). With a
//! `[gatekeeper]`, a UDP socket for RAS whose datagrams go to the leg's `RasClient`.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use h323::h225::{Alias, Endpoint};
use h323::ras::client::{ClientConfig, GatekeeperLocation as RasLocation, RasClient};
use h323::ras::Registrant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::config::{GatekeeperLocation, H323 as H323Config};
use crate::core::Core;
use crate::leg::h323::{ConnId, H323Io, H323Leg};
use crate::media::Law;

/// How long an outgoing call-signalling or H.245 connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the connection tasks report to the signalling task.
#[derive(Debug)]
pub enum H323Input {
    /// The listener accepted a connection.
    Accepted(TcpStream, SocketAddr),
    /// An outgoing connection is open.
    Connected(ConnId),
    Bytes(ConnId, Vec<u8>),
    /// A connection closed, failed, or could not be opened.
    Closed(ConnId),
    /// A RAS datagram.
    Ras(SocketAddrV4, Vec<u8>),
    /// The daemon stops: unregister from the gatekeeper (URQ), then answer on the channel
    /// once the UCF came (or the URQ was given up, or there was no registration).
    Shutdown(oneshot::Sender<()>),
}

enum Write {
    Bytes(Vec<u8>),
    Close,
}

/// The H.323 leg with its connections.
pub struct H323Side {
    pub leg: H323Leg,
    tx: mpsc::UnboundedSender<H323Input>,
    writers: HashMap<ConnId, mpsc::UnboundedSender<Write>>,
    ras: Option<Arc<UdpSocket>>,
    /// Who waits for the URQ to finish.
    shutdown: Option<oneshot::Sender<()>>,
}

impl H323Side {
    /// Bind the call-signalling listener and start accepting.
    pub async fn start(
        config: &H323Config,
        law: Law,
        rtp_ports: crate::rtp::RtpPortPool,
    ) -> anyhow::Result<(H323Side, mpsc::UnboundedReceiver<H323Input>)> {
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("H.323 call signalling on {}", config.listen))?;
        info!(addr = %config.listen, "H.323 listening");
        let (tx, rx) = mpsc::unbounded_channel();
        let accept_tx = tx.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        if accept_tx.send(H323Input::Accepted(stream, peer)).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        warn!(error = %e, "H.323 accept");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        let mut leg = H323Leg::new(config, law, rtp_ports);
        let mut ras = None;
        if let Some(gk) = &config.gatekeeper {
            let socket = UdpSocket::bind(gk.ras_listen)
                .await
                .with_context(|| format!("RAS socket on {}", gk.ras_listen))?;
            let bound = match socket.local_addr()? {
                SocketAddr::V4(a) => a,
                SocketAddr::V6(a) => anyhow::bail!("RAS socket bound to IPv6 {a}"),
            };
            // Our address as the gatekeeper sees it: the bound one, else the one the
            // route to the gatekeeper leaves from (a connected UDP socket sends nothing).
            let ip = match (bound.ip(), gk.location) {
                (ip, _) if !ip.is_unspecified() => *ip,
                (_, GatekeeperLocation::Address(a)) => std::net::UdpSocket::bind("0.0.0.0:0")
                    .and_then(|s| s.connect(a).and_then(|()| s.local_addr()))
                    .ok()
                    .and_then(|l| match l {
                        SocketAddr::V4(l) => Some(*l.ip()),
                        SocketAddr::V6(_) => None,
                    })
                    .unwrap_or(Ipv4Addr::LOCALHOST),
                _ => match config.listen.ip() {
                    std::net::IpAddr::V4(ip) if !ip.is_unspecified() => ip,
                    _ => Ipv4Addr::LOCALHOST,
                },
            };
            let registrant = Registrant {
                endpoint: Endpoint::default(),
                ras_address: SocketAddrV4::new(ip, bound.port()),
                call_signal_address: SocketAddrV4::new(ip, config.listen.port()),
                aliases: gk
                    .aliases
                    .iter()
                    .map(|a| Alias::H323Id(a.clone()))
                    .collect(),
                prefixes: gk.prefixes.clone(),
            };
            let location = match gk.location {
                GatekeeperLocation::Address(a) => RasLocation::Configured(a),
                GatekeeperLocation::Discovery => RasLocation::Multicast,
            };
            let mut cfg = ClientConfig::new(registrant, location);
            cfg.time_to_live = Some(gk.ttl);
            let mut client = RasClient::new(cfg);
            client
                .start(Instant::now())
                .map_err(|e| anyhow::anyhow!("RAS: {e}"))?;
            leg.set_ras(client);
            let socket = Arc::new(socket);
            let rx_socket = socket.clone();
            let ras_tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                loop {
                    match rx_socket.recv_from(&mut buf).await {
                        Ok((n, SocketAddr::V4(from))) => {
                            if ras_tx
                                .send(H323Input::Ras(from, buf[..n].to_vec()))
                                .is_err()
                            {
                                return;
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            debug!(error = %e, "RAS receive");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            });
            info!(ras = %SocketAddrV4::new(ip, bound.port()), "H.323 RAS started");
            ras = Some(socket);
        }
        Ok((
            H323Side {
                leg,
                tx,
                writers: HashMap::new(),
                ras,
                shutdown: None,
            },
            rx,
        ))
    }

    /// Something arrived from a connection task. What the leg sends in answer goes at the
    /// end of the signalling turn that follows ([`Self::run_io`]), after the CDRs it may
    /// depend on are durable.
    pub fn input(&mut self, core: &mut Core, now: Instant, ev: H323Input) {
        match ev {
            H323Input::Accepted(stream, peer) => {
                let _ = stream.set_nodelay(true);
                match self.leg.accepted(peer) {
                    Some(conn) => {
                        let (read, write) = stream.into_split();
                        let (wtx, wrx) = mpsc::unbounded_channel();
                        self.writers.insert(conn, wtx);
                        tokio::spawn(reader(conn, read, self.tx.clone()));
                        tokio::spawn(writer(write, wrx));
                    }
                    None => drop(stream),
                }
            }
            H323Input::Connected(conn) => self.leg.connected(core, now, conn),
            H323Input::Bytes(conn, bytes) => self.leg.handle_bytes(core, now, conn, &bytes),
            H323Input::Closed(conn) => {
                self.writers.remove(&conn);
                self.leg.closed(core, now, conn);
            }
            H323Input::Ras(from, bytes) => self.leg.handle_ras(core, now, from, &bytes),
            H323Input::Shutdown(done) => {
                self.leg.unregister(core, now);
                self.shutdown = Some(done);
            }
        }
        self.check_shutdown();
    }

    /// A sender of this side's input channel (the daemon's shutdown uses it).
    pub fn sender(&self) -> mpsc::UnboundedSender<H323Input> {
        self.tx.clone()
    }

    fn check_shutdown(&mut self) {
        if self.shutdown.is_some() && !self.leg.is_unregistering() {
            if let Some(done) = self.shutdown.take() {
                let _ = done.send(());
            }
        }
    }

    /// Timers due. Returns the leg's next deadline. The I/O the leg asks for is carried
    /// out at the end of the turn ([`Self::run_io`]), once the CDRs are durable.
    pub fn turn(&mut self, core: &mut Core, now: Instant) -> Option<Instant> {
        if self.leg.poll_timeout().is_some_and(|t| t <= now) {
            self.leg.handle_timeout(core, now);
        }
        self.check_shutdown();
        self.leg.poll_timeout()
    }

    /// Carry out what the leg asked for (the signalling task calls it when the output it
    /// holds may go: CDR group commit).
    pub fn run_io(&mut self) {
        self.run_io_queued();
        self.check_shutdown();
    }

    fn run_io_queued(&mut self) {
        while let Some(io) = self.leg.poll_io() {
            match io {
                H323Io::Connect { conn, addr } => {
                    let (wtx, wrx) = mpsc::unbounded_channel();
                    self.writers.insert(conn, wtx);
                    let tx = self.tx.clone();
                    tokio::spawn(async move {
                        let stream =
                            tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await;
                        match stream {
                            Ok(Ok(s)) => {
                                let _ = s.set_nodelay(true);
                                let (read, write) = s.into_split();
                                if tx.send(H323Input::Connected(conn)).is_err() {
                                    return;
                                }
                                tokio::spawn(reader(conn, read, tx));
                                writer(write, wrx).await;
                            }
                            Ok(Err(e)) => {
                                debug!(%addr, error = %e, "H.323 connect failed");
                                let _ = tx.send(H323Input::Closed(conn));
                            }
                            Err(_) => {
                                debug!(%addr, "H.323 connect timed out");
                                let _ = tx.send(H323Input::Closed(conn));
                            }
                        }
                    });
                }
                H323Io::Send { conn, bytes } => {
                    if let Some(w) = self.writers.get(&conn) {
                        let _ = w.send(Write::Bytes(bytes));
                    }
                }
                H323Io::Close { conn } => {
                    if let Some(w) = self.writers.remove(&conn) {
                        let _ = w.send(Write::Close);
                    }
                }
                H323Io::Ras { to, bytes } => {
                    if let Some(s) = &self.ras {
                        // One small datagram: a full socket buffer loses it, and RAS
                        // retransmits (H.225.0 §7.9).
                        if let Err(e) = s.try_send_to(&bytes, SocketAddr::V4(to)) {
                            debug!(%to, error = %e, "RAS send");
                        }
                    }
                }
            }
        }
    }
}

async fn reader(
    conn: ConnId,
    mut read: tokio::net::tcp::OwnedReadHalf,
    tx: mpsc::UnboundedSender<H323Input>,
) {
    let mut buf = vec![0u8; 4096];
    loop {
        match read.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = tx.send(H323Input::Closed(conn));
                return;
            }
            Ok(n) => {
                if tx.send(H323Input::Bytes(conn, buf[..n].to_vec())).is_err() {
                    return;
                }
            }
        }
    }
}

async fn writer(
    mut write: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Write>,
) {
    while let Some(w) = rx.recv().await {
        match w {
            Write::Bytes(b) => {
                if write.write_all(&b).await.is_err() {
                    return;
                }
            }
            Write::Close => {
                let _ = write.shutdown().await;
                return;
            }
        }
    }
}
