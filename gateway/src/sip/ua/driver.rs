//! The I/O shell of an [`Endpoint`]: one tokio task reads the transport, feeds the
//! endpoint, hands its events to the application and writes what it wants sent.
//!
//! With an [`Inbox`] from [`Transport::bind_direct`] the task reads the UDP socket itself,
//! a batch of datagrams per system call, and sends everything one turn produced in batches
//! too; a receiver from [`Transport::bind`] works as well (every message then comes over
//! the channel).

use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::{Endpoint, UaEvent};
use crate::sip::transport::{Inbox, Target, Transport, TransportEvent, BATCH};

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
    incoming: impl Into<Inbox>,
    mut endpoint: Endpoint,
    mut app: A,
    mut wake: Option<mpsc::Receiver<()>>,
) -> Endpoint {
    let mut inbox: Inbox = incoming.into();
    let mut received: Vec<TransportEvent> = Vec::with_capacity(BATCH);
    let mut out: Vec<(Target, Bytes)> = Vec::with_capacity(BATCH);
    // One timer, moved rather than re-created each turn.
    let sleep = tokio::time::sleep_until(tokio::time::Instant::now());
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    // The endpoint's earliest deadline as of the end of the last turn (nothing moves it
    // between turns but time).
    let mut deadline = endpoint.poll_timeout();
    // The clock is read once per wake-up and serves the whole turn.
    let mut now = Instant::now();
    loop {
        if deadline.is_some_and(|t| t <= now) {
            endpoint.handle_timeout(now);
        }
        // Flush output and events first: commands issued by the app produce both.
        if !app.poll(&mut endpoint, now) {
            break;
        }
        let mut keep = true;
        while let Some(ev) = endpoint.poll_event() {
            keep &= app.on_event(&mut endpoint, now, ev);
        }
        while let Some(t) = endpoint.poll_transmit() {
            out.push(t);
        }
        transport.send_all(&mut out).await;
        if !keep {
            break;
        }
        deadline = endpoint.poll_timeout();
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
            biased;
            open = inbox.recv(&mut received) => {
                if !open {
                    warn!("transport closed");
                    break;
                }
                // Everything that was queued is served in this one turn.
                now = Instant::now();
                for ev in received.drain(..) {
                    match ev {
                        TransportEvent::Message(m) => endpoint.handle_incoming(now, m),
                        TransportEvent::Malformed(m) => debug!(error = %m.error, source = ?m.source, "malformed SIP dropped"),
                        TransportEvent::Closed(t) => debug!(?t, "connection closed"),
                    }
                }
            },
            _ = &mut sleep, if armed.is_some() => {
                armed = None;
                now = Instant::now();
            }
            _ = woken => now = Instant::now(),
        }
    }
    endpoint
}
