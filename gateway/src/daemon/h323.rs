//! The H.323 side's I/O shell: a TCP listener on the H.225.0 call-signalling port (1720 by
//! default, `[h323] listen`), one reader and one writer task per connection (call
//! signalling, or a separate H.245 channel), feeding the signalling task, which owns the
//! sans-IO [`H323Leg`] and the core (DESIGN.md: one task per H.323 connection).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::config::H323 as H323Config;
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
}

impl H323Side {
    /// Bind the call-signalling listener and start accepting.
    pub async fn start(
        config: &H323Config,
        law: Law,
        rtp_ports: (u16, u16),
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
        Ok((
            H323Side {
                leg: H323Leg::new(config, law, rtp_ports),
                tx,
                writers: HashMap::new(),
            },
            rx,
        ))
    }

    /// Something arrived from a connection task.
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
        }
        self.run_io();
    }

    /// Timers due, then the I/O the leg asks for. Returns the leg's next deadline.
    pub fn turn(&mut self, core: &mut Core, now: Instant) -> Option<Instant> {
        if self.leg.poll_timeout().is_some_and(|t| t <= now) {
            self.leg.handle_timeout(core, now);
        }
        self.run_io();
        self.leg.poll_timeout()
    }

    /// Carry out what the leg asked for.
    pub fn run_io(&mut self) {
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
