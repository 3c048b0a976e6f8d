//! The daemon's runtime: the signalling task (SIP trunks, D-channels, the core), the
//! control socket, the metrics endpoint, SIGHUP reload and the periodic channel audit.
//!
//! Simulated spans get the simulator's PSTN switch on their far end (`sim`): it answers,
//! plays a tone, records what the gateway sends, and can call in.

pub mod h323;
mod ipmedia;
pub mod limits;
pub mod signalling;
pub mod sim;
mod span_reload;

pub use span_reload::ReloadError;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tracing::{info, warn};

use crate::cdr::{CdrDurability, CdrWriter};
use crate::config::Config;
use crate::core::Core;
use crate::ctl::{self, Command};
use crate::metrics::{Metrics, SpanStatus};

/// The configuration used when `gatewayd run` is given no file.
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

/// Where the configuration comes from.
#[derive(Debug, Clone)]
pub enum Source {
    File(PathBuf),
    Embedded,
}

impl Source {
    /// Read and check the configuration.
    pub fn load(&self) -> Result<Config, crate::config::ConfigError> {
        self.load_text().map(|(c, _, _)| c)
    }

    /// Read and check the configuration; also its text and file name (for the reload's
    /// span check to name lines).
    pub fn load_text(&self) -> Result<(Config, String, String), crate::config::ConfigError> {
        match self {
            Source::File(p) => {
                let file = p.display().to_string();
                let text =
                    std::fs::read_to_string(p).map_err(|e| crate::config::ConfigError::Read {
                        file: file.clone(),
                        source: e,
                    })?;
                Ok((Config::from_str(&text, &file)?, text, file))
            }
            Source::Embedded => {
                let file = "<embedded default>".to_string();
                let c = Config::from_str(DEFAULT_CONFIG, &file)?;
                Ok((c, DEFAULT_CONFIG.to_string(), file))
            }
        }
    }
}

/// State shared by the daemon's tasks.
pub struct Shared {
    pub source: Source,
    pub core: Mutex<Core>,
    pub metrics: Mutex<Metrics>,
    pub spans: Mutex<Vec<SpanStatus>>,
    /// The simulated PSTN switches of simulated spans, once started.
    pub sim: std::sync::OnceLock<sim::SimSwitches>,
    /// A reloaded configuration for the signalling task to apply to its SIP trunks.
    pub sip_reload: Mutex<Option<Config>>,
    /// The spans of the configuration in force (the last one loaded or reloaded).
    pub running_spans: Mutex<Vec<crate::config::Span>>,
    /// How many CDRs the core's writer holds unsynced: the signalling task holds its
    /// output while any are (group commit, `signalling`).
    pub cdrs: CdrDurability,
}

impl Shared {
    /// Re-read the configuration and apply it, keeping calls in progress. A change that
    /// cannot apply live (a running span's settings, a removed span with calls) refuses
    /// the whole reload and nothing is applied (`span_reload`).
    pub fn reload(&self) -> Result<(), ReloadError> {
        let (config, text, file) = self.source.load_text()?;
        let mut core = lock(&self.core);
        let mut running = lock(&self.running_spans);
        let busy = core.busy_channels();
        span_reload::check(&running, &config.spans, &text, &file, |span| {
            let mut calls: Vec<u64> = busy
                .iter()
                .filter(|c| c.span == span)
                .filter_map(|c| match core.channel_state(*c) {
                    Some(crate::trunk::ChannelState::Busy { call, .. }) => Some(call),
                    _ => None,
                })
                .collect();
            calls.sort_unstable();
            calls.dedup();
            calls.len()
        })?;
        core.reload(&config);
        // Spans removed (idle, checked above) take no new calls.
        for gone in running
            .iter()
            .filter(|o| !config.spans.iter().any(|n| n.id == o.id))
        {
            core.set_span_alarm(gone.id, true);
            info!(span = gone.id.0, "span removed by reload: out of service");
        }
        *running = config.spans.clone();
        // The running spans keep their status; added ones start with the D-channel down.
        let mut spans = lock(&self.spans);
        let fresh = span_status(&config);
        *spans = fresh
            .into_iter()
            .map(|f| {
                spans
                    .iter()
                    .find(|s| s.span == f.span)
                    .map(|s| SpanStatus {
                        clock_priority: f.clock_priority,
                        ..s.clone()
                    })
                    .unwrap_or(f)
            })
            .collect();
        info!(calls = core.call_count(), "configuration reloaded");
        *lock(&self.sip_reload) = Some(config);
        Ok(())
    }

    /// Answer one control command line.
    pub fn control(&self, line: &str) -> String {
        let cmd = match Command::parse(line) {
            Ok(c) => c,
            Err(e) => return format!("error: {e}\n"),
        };
        match &cmd {
            Command::SimCall { span, number, hold } => {
                let Some(sim) = self.sim.get() else {
                    return "error: no simulated span\n".into();
                };
                return match sim.call(span.0, number, hold.unwrap_or(sim::DEFAULT_HOLD)) {
                    Ok(id) => {
                        info!(
                            span = span.0,
                            number,
                            sim_call = id.0,
                            "simulated switch calls"
                        );
                        "ok\n".into()
                    }
                    Err(e) => format!("error: {e}\n"),
                };
            }
            Command::ShowSimCalls => {
                return match self.sim.get() {
                    Some(sim) => sim.show_calls(),
                    None => "error: no simulated span\n".into(),
                };
            }
            _ => {}
        }
        if cmd == Command::Audit {
            return "error: the audit is run by the signalling task (`gatewayd ctl audit`)\n"
                .into();
        }
        if cmd == Command::Reload {
            return match self.reload() {
                Ok(()) => "ok\n".into(),
                Err(e) => format!("error: {e}\n"),
            };
        }
        let spans = lock(&self.spans).clone();
        let mut core = lock(&self.core);
        let answer = ctl::execute(&cmd, &mut core, &spans, Instant::now()).unwrap_or_default();
        core.flush_cdrs();
        answer
    }

    /// The metrics text, refreshed.
    pub fn scrape(&self) -> String {
        let spans = lock(&self.spans).clone();
        let core = lock(&self.core);
        let mut m = lock(&self.metrics);
        m.update(&core, &spans);
        m.render()
    }
}

/// `ctl audit`: ask the signalling task to audit now and wait for its report.
async fn audit(
    tx: &tokio::sync::mpsc::UnboundedSender<tokio::sync::oneshot::Sender<String>>,
) -> String {
    let (reply, report) = tokio::sync::oneshot::channel();
    if tx.send(reply).is_err() {
        return "error: the signalling task is not running\n".into();
    }
    match tokio::time::timeout(std::time::Duration::from_secs(5), report).await {
        Ok(Ok(r)) => r,
        _ => "error: the signalling task did not answer\n".into(),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Span status as known before any device reports: no D-channel task runs yet, so the
/// D-channel is reported down.
fn span_status(config: &Config) -> Vec<SpanStatus> {
    config
        .spans
        .iter()
        .map(|s| SpanStatus {
            span: s.id.0,
            alarm: false,
            dchannel_up: false,
            slips: None,
            clock_priority: match s.device {
                crate::config::Device::Dahdi { .. } => None,
                _ => Some(s.clock_priority),
            },
            sync_source: false,
        })
        .collect()
}

/// How long a stopping daemon waits for the registrars' answers to its removals and
/// the gatekeeper's UCF (one URQ retransmission is 3 s in H.225.0's table, and UDP's
/// first SIP retransmissions come within 1.5 s; a service manager's stop timeout is
/// short).
const LEAVE_WAIT: Duration = Duration::from_secs(2);

/// [`run`] on a tokio runtime of its own (for `gatewayd run` and for tests that host the
/// daemon in a thread).
pub fn run_blocking(source: Source) -> anyhow::Result<()> {
    tokio::runtime::Runtime::new()?.block_on(run(source))
}

/// Start everything and run until SIGINT/SIGTERM.
pub async fn run(source: Source) -> anyhow::Result<()> {
    let config = source.load()?;
    // Batched: synced at most every few milliseconds, and before anything that depends
    // on a record leaves the daemon (cdr.rs, `signalling`: group commit).
    let cdr = CdrWriter::open(Path::new(&config.general.cdr_file))
        .with_context(|| format!("CDR file {}", config.general.cdr_file))?
        .batched();
    let cdrs = cdr.durability();
    let last_call = cdr.last_call_number();
    let now = Instant::now();
    let mut core = Core::new(&config, Box::new(cdr), now);
    if let Some(n) = last_call {
        core.continue_after(n);
    }
    let shared = Arc::new(Shared {
        source,
        core: Mutex::new(core),
        metrics: Mutex::new(Metrics::new()),
        spans: Mutex::new(span_status(&config)),
        sim: std::sync::OnceLock::new(),
        sip_reload: Mutex::new(None),
        running_spans: Mutex::new(config.spans.clone()),
        cdrs,
    });
    let sig = signalling::Signalling::start(shared.clone(), &config).await?;
    let h323_tx = sig.h323_sender();
    let sip_stop = sig.stop_sender();
    let audit_tx = sig.audit_sender();
    // The signalling task owns every leg and the core's clock: if it ends (a panic),
    // no call can be set up or cleared, so the daemon ends too, with an error, for its
    // supervisor to restart it, rather than run on with ctl and metrics answering.
    let mut signalling = tokio::spawn(sig.run());
    let sock = PathBuf::from(&config.general.control_socket);
    let listener =
        ctl::socket::bind(&sock).with_context(|| format!("control socket {}", sock.display()))?;
    info!(socket = %sock.display(), "control socket");
    let s = shared.clone();
    tokio::spawn(ctl::socket::serve(listener, move |line| {
        let s = s.clone();
        let audit_tx = audit_tx.clone();
        async move {
            match Command::parse(&line) {
                // The ISDN legs are the signalling task's: it runs the audit and answers.
                Ok(Command::Audit) => audit(&audit_tx).await,
                _ => s.control(&line),
            }
        }
    }));
    if !config.general.metrics_listen.is_empty() {
        let l = TcpListener::bind(&config.general.metrics_listen)
            .await
            .with_context(|| format!("metrics on {}", config.general.metrics_listen))?;
        info!(addr = %config.general.metrics_listen, "metrics endpoint");
        tokio::spawn(serve_metrics(l, shared.clone()));
    }
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    info!("gatewayd running");
    loop {
        tokio::select! {
            _ = hup.recv() => {
                if let Err(e) = shared.reload() {
                    warn!(error = %e, "reload refused, keeping the running configuration");
                }
            }
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            ended = &mut signalling => {
                let why = match ended {
                    Err(e) if e.is_panic() => "it panicked",
                    _ => "it stopped",
                };
                tracing::error!("signalling task ended ({why}); gatewayd stops");
                // The records written so far reach the disk, as on a normal stop (the
                // core's lock survives a panic that held it).
                lock(&shared.core).flush_cdrs();
                let _ = std::fs::remove_file(&sock);
                anyhow::bail!("the signalling task ended: {why}");
            }
        }
    }
    // Leave before going, both sides at once, each answered or given up within
    // LEAVE_WAIT: the SIP trunks' registrations removed (REGISTER with expires 0, RFC
    // 3261 §10.2.2), the gatekeeper left (URQ, H.225.0 §7.6).
    let (sip_done, sip_left) = tokio::sync::oneshot::channel();
    let sip_left = async {
        if sip_stop.send(sip_done).is_ok() {
            let _ = tokio::time::timeout(LEAVE_WAIT, sip_left).await;
        }
    };
    let h323_left = async {
        if let Some(tx) = h323_tx {
            let (done, wait) = tokio::sync::oneshot::channel();
            if tx.send(h323::H323Input::Shutdown(done)).is_ok() {
                let _ = tokio::time::timeout(LEAVE_WAIT, wait).await;
            }
        }
    };
    tokio::join!(sip_left, h323_left);
    lock(&shared.core).flush_cdrs();
    let _ = std::fs::remove_file(&sock);
    info!("gatewayd stopped");
    Ok(())
}

/// A minimal HTTP/1.1 responder for Prometheus: every GET gets the metrics text.
async fn serve_metrics(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let mut stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                ctl::socket::pause_after_accept_error("metrics endpoint", e).await;
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            let mut got = Vec::new();
            // Read the request head (we need nothing from it), within a few seconds: a
            // client that sends nothing does not hold its connection for ever.
            let head = async {
                while !got.windows(4).any(|w| w == b"\r\n\r\n") && got.len() < 16384 {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
            };
            if tokio::time::timeout(Duration::from_secs(5), head)
                .await
                .is_err()
            {
                return;
            }
            let body = shared.scrape();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/openmetrics-text; version=1.0.0; \
                 charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let c = Source::Embedded.load().unwrap();
        assert_eq!(c.spans.len(), 1);
        assert_eq!(c.trunk_groups[0].members[0].channels.len(), 30);
    }

    #[test]
    fn control_commands_through_shared_state() {
        let config = Source::Embedded.load().unwrap();
        struct Null;
        impl crate::core::CdrSink for Null {
            fn write(&mut self, _: &crate::cdr::Cdr) -> Result<(), crate::cdr::CdrError> {
                Ok(())
            }
        }
        let shared = Shared {
            source: Source::Embedded,
            core: Mutex::new(Core::new(&config, Box::new(Null), Instant::now())),
            metrics: Mutex::new(Metrics::new()),
            spans: Mutex::new(span_status(&config)),
            sim: std::sync::OnceLock::new(),
            sip_reload: Mutex::new(None),
            running_spans: Mutex::new(config.spans.clone()),
            cdrs: CdrDurability::default(),
        };
        assert_eq!(shared.control("channel 1:3 out"), "ok\n");
        assert!(shared
            .control("show channels")
            .contains("1:3 out-of-service maintenance"));
        assert!(shared.control("show trunk-groups").contains("pstn 29 0 1"));
        assert_eq!(shared.control("reload"), "ok\n");
        // Reload keeps channel states.
        assert!(shared.control("show trunk-groups").contains("pstn 29 0 1"));
        assert!(shared.control("hangup 99").starts_with("error"));
        assert!(shared.scrape().contains("gatewayd_channels"));
    }
}
