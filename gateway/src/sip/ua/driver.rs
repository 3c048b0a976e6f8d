//! The I/O shell of an [`Endpoint`]: one tokio task reads the transport, feeds the
//! endpoint, hands its events to the application and writes what it wants sent.

use std::time::Instant;

use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::{Endpoint, UaEvent};
use crate::sip::transport::{Transport, TransportEvent};

/// What the driver does with the endpoint's events: the application (the call layer,
/// or a test) acts on them with the endpoint's commands. Returning `false` stops the loop.
pub trait Application {
    fn on_event(&mut self, endpoint: &mut Endpoint, now: Instant, event: UaEvent) -> bool;

    /// Called once per loop turn: a place to act on commands from elsewhere.
    fn poll(&mut self, _endpoint: &mut Endpoint, _now: Instant) -> bool {
        true
    }
}

impl<F: FnMut(&mut Endpoint, Instant, UaEvent) -> bool> Application for F {
    fn on_event(&mut self, endpoint: &mut Endpoint, now: Instant, event: UaEvent) -> bool {
        self(endpoint, now, event)
    }
}

/// Run until the transport closes or the application says stop. `wake` lets other tasks
/// nudge the loop so that `Application::poll` runs promptly.
pub async fn run<A: Application>(
    transport: Transport,
    mut incoming: mpsc::Receiver<TransportEvent>,
    mut endpoint: Endpoint,
    mut app: A,
    mut wake: Option<mpsc::Receiver<()>>,
) -> Endpoint {
    // One timer, moved rather than re-created each turn.
    let sleep = tokio::time::sleep_until(tokio::time::Instant::now());
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    loop {
        // Flush output and events first: commands issued by the app produce both.
        let now = Instant::now();
        if !app.poll(&mut endpoint, now) {
            break;
        }
        let mut keep = true;
        while let Some(ev) = endpoint.poll_event() {
            keep &= app.on_event(&mut endpoint, now, ev);
        }
        while let Some((target, bytes)) = endpoint.poll_transmit() {
            if let Err(e) = transport.send(target, bytes).await {
                debug!(error = %e, "send failed");
            }
        }
        if !keep {
            break;
        }
        let deadline = endpoint.poll_timeout();
        if deadline != armed {
            if let Some(d) = deadline {
                sleep.as_mut().reset(tokio::time::Instant::from_std(d));
            }
            armed = deadline;
        }
        let woken = async {
            match wake.as_mut() {
                Some(w) => w.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            ev = incoming.recv() => {
                let Some(ev) = ev else {
                    warn!("transport closed");
                    break;
                };
                // Take everything already queued before answering: under load one turn
                // of the loop serves many messages.
                let mut next = Some(ev);
                while let Some(ev) = next {
                    match ev {
                        TransportEvent::Message(m) => endpoint.handle_incoming(Instant::now(), m),
                        TransportEvent::Malformed(m) => debug!(error = %m.error, source = ?m.source, "malformed SIP dropped"),
                        TransportEvent::Closed(t) => debug!(?t, "connection closed"),
                    }
                    next = incoming.try_recv().ok();
                }
            },
            _ = &mut sleep, if armed.is_some() => {
                armed = None;
                endpoint.handle_timeout(Instant::now());
            }
            _ = woken => {}
        }
    }
    endpoint
}
