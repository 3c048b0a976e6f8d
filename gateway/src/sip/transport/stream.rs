//! TCP and TLS connections (§18.3): framed by Content-Length with the sans-IO
//! [`StreamDecoder`], kept open and shared by requests and responses to the same peer.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::rustls;
use tracing::{debug, warn};

use super::{
    stamp_via, Connections, Incoming, Malformed, Protocol, Target, TransportError, TransportEvent,
};
use crate::sip::{StreamDecoder, StreamEvent};

/// TLS settings: our certificate for both directions; peers are trusted when their chain
/// ends in a certificate of our PEM file (a trunk is configured with its peer's CA there).
#[derive(Clone)]
pub(super) struct TlsConfig {
    acceptor: tokio_rustls::TlsAcceptor,
    connector: tokio_rustls::TlsConnector,
}

impl TlsConfig {
    pub(super) fn load(cert: &Path, key: &Path) -> Result<TlsConfig, TransportError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let err =
            |what: &str, e: &dyn std::fmt::Display| TransportError::Tls(format!("{what}: {e}"));
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .map_err(|e| err(&cert.display().to_string(), &e))?
            .collect::<Result<_, _>>()
            .map_err(|e| err(&cert.display().to_string(), &e))?;
        let key =
            PrivateKeyDer::from_pem_file(key).map_err(|e| err(&key.display().to_string(), &e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| err("TLS versions", &e))?
            .with_no_client_auth()
            .with_single_cert(certs.clone(), key)
            .map_err(|e| err("certificate/key", &e))?;
        let mut roots = rustls::RootCertStore::empty();
        for c in &certs {
            roots.add(c.clone()).map_err(|e| err("trust anchor", &e))?;
        }
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| err("TLS versions", &e))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsConfig {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
            connector: tokio_rustls::TlsConnector::from(Arc::new(client)),
        })
    }
}

/// Accept connections until the listener fails.
pub(super) async fn accept_loop(
    listener: TcpListener,
    local: SocketAddr,
    tls: Option<TlsConfig>,
    connections: Connections,
    events: mpsc::Sender<TransportEvent>,
) {
    let protocol = if tls.is_some() {
        Protocol::Tls
    } else {
        Protocol::Tcp
    };
    loop {
        let (stream, from) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                warn!(error = %e, ?protocol, "accept");
                continue;
            }
        };
        let target = Target {
            protocol,
            addr: from,
        };
        let (tls, connections, events) = (tls.clone(), connections.clone(), events.clone());
        tokio::spawn(async move {
            if let Err(e) =
                spawn_connection(stream, target, local, tls, true, connections, events).await
            {
                debug!(error = %e, ?target, "connection setup failed");
            }
        });
    }
}

/// Set up one connection (TLS handshake if asked), register it for reuse, start its reader
/// and writer tasks; returns the writer.
pub(super) async fn spawn_connection(
    stream: TcpStream,
    target: Target,
    local: SocketAddr,
    tls: Option<TlsConfig>,
    accepted: bool,
    connections: Connections,
    events: mpsc::Sender<TransportEvent>,
) -> std::io::Result<mpsc::UnboundedSender<Bytes>> {
    let _ = stream.set_nodelay(true);
    match tls {
        None => Ok(run(stream, target, local, connections, events)),
        Some(cfg) if accepted => {
            let s = cfg.acceptor.accept(stream).await?;
            Ok(run(s, target, local, connections, events))
        }
        Some(cfg) => {
            let name = rustls::pki_types::ServerName::IpAddress(target.addr.ip().into());
            let s = cfg.connector.connect(name, stream).await?;
            Ok(run(s, target, local, connections, events))
        }
    }
}

fn run<S>(
    stream: S,
    target: Target,
    local: SocketAddr,
    connections: Connections,
    events: mpsc::Sender<TransportEvent>,
) -> mpsc::UnboundedSender<Bytes>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    connections
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(target, tx.clone());
    tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if wr.write_all(&b).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let pong = tx.clone();
    let me = tx.clone();
    tokio::spawn(async move {
        let mut dec = StreamDecoder::new();
        let mut buf = vec![0u8; 16 * 1024];
        'read: loop {
            let n = match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            dec.handle_data(&buf[..n]);
            while let Some(ev) = dec.poll_event() {
                let out = match ev {
                    Ok(StreamEvent::Message(m)) => {
                        let message = if m.is_request() {
                            stamp_via(m, target.addr)
                        } else {
                            m
                        };
                        TransportEvent::Message(Incoming {
                            message,
                            source: target,
                            local,
                        })
                    }
                    Ok(StreamEvent::Invalid(error)) => TransportEvent::Malformed(Malformed {
                        bytes: Bytes::new(),
                        error,
                        source: target,
                    }),
                    // RFC 5626 §4.4.1: answer a CRLF CRLF ping with a CRLF pong.
                    Ok(StreamEvent::Ping) => {
                        let _ = pong.send(Bytes::from_static(b"\r\n"));
                        continue;
                    }
                    Ok(StreamEvent::Pong) => continue,
                    Err(e) => {
                        debug!(error = %e, ?target, "framing lost; closing");
                        break 'read;
                    }
                };
                if events.send(out).await.is_err() {
                    break 'read;
                }
            }
        }
        // Forget this connection (unless a newer one to the same peer replaced it).
        {
            let mut c = connections.lock().unwrap_or_else(|e| e.into_inner());
            if c.get(&target).is_some_and(|w| w.same_channel(&me)) {
                c.remove(&target);
            }
        }
        let _ = events.send(TransportEvent::Closed(target)).await;
    });
    tx
}
