//! The signalling task: one tokio task owns the SIP endpoints, the D-channel interfaces and
//! drives the core (shared with the control socket through a mutex). Sans-IO objects in,
//! a thin loop around them: read → handle → poll all → write → sleep until the next
//! deadline (STYLE.md).
//!
//! Answered calls are bridged by the media engine (B-channel ↔ RTP, `media::engine`).
//! Simulated spans (`device = { kind = "sim" }`) run on an embedded tdm-sim in real time;
//! their far end is the simulator's PSTN switch emulator (`super::sim`), with the number
//! plan of the span's device section. DAHDI spans are opened through `KernelDevice`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use dahdi_driver::{
    ChanError, Channel, ChannelId, ChannelMode, Device, Event as DahdiEvent, SpanKind,
};
use q931::call::{Interface, InterfaceConfig};
use q931::ie::Layer1Protocol;
use q931::lapd::Role;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::{lock, Shared};
use crate::config::{Config, Device as DeviceCfg, Signalling as Side, SipTransport, SwitchType};
use crate::core::{Action, CallId, Core, Delivery, Media, Message, TrunkKind};
use crate::id_map::HashMap;
use crate::leg::isdn::IsdnLeg;
use crate::leg::sip::SipLeg;
use crate::media::engine::relay::Codec;
use crate::media::engine::{ChannelConfig, ChannelKey, DtmfMode, MediaEngine, MediaEvent};
use crate::media::Law;
use crate::rtp::PayloadType;
use crate::rtp::RtpPortPool;
use crate::sip::transaction::Timers;
use crate::sip::transport::{Inbox, Listen, Protocol, Target, Transport, TransportEvent, BATCH};
use crate::sip::ua::{
    resolve, Endpoint, EndpointConfig, RegHandle, RegistrationSpec, SipStats, UaEvent,
};
use crate::trunk::security::{Screen, TrunkGuard};
use cdr_commit::Commit;

/// How often D-channels are polled for frames (they are non-blocking).
const DCHANNEL_POLL: Duration = Duration::from_millis(2);
/// The user part of the SIP trunks' Contact URIs (and so of the registered binding).
const CONTACT_USER: &str = "gatewayd";
/// How often the spans' device status (slips, timing source) is read.
const SPAN_POLL: Duration = Duration::from_secs(1);

/// The shortest time between two reads of every D-channel: a turn woken by SIP sooner
/// after the last read leaves them (a frame takes 5 ms at 64 kbit/s; the 2 ms poll bounds
/// the wait as before).
const DCHANNEL_READ_GAP: Duration = Duration::from_millis(1);

/// Group commit of CDRs (`cdr_commit`): the shortest time between two syncs of the CDR
/// file. A turn that ended calls holds its output (and every later turn's) until the next
/// sync, at most this long after the previous one; a call ending after a quiet spell is
/// synced at once.
const CDR_SYNC_INTERVAL: Duration = Duration::from_millis(10);

/// Group commit of CDRs: this many unsynced records are synced at once, interval or not.
const CDR_SYNC_BATCH: u64 = 512;

struct SipSide {
    leg: SipLeg,
    ep: Endpoint,
    transport: Transport,
    /// Allow-list and rate limit in front of the endpoint (`trunk::security`).
    guard: TrunkGuard,
    /// What the listener was opened with: a reload keeps the side when this is unchanged.
    key: (SipTransport, SocketAddr, Option<crate::config::TlsFiles>),
    /// The endpoint's counts as last handed to the metrics.
    published: SipStats,
    /// The trunk's registration (`register`) and what it was made from.
    registration: Option<(RegHandle, crate::config::SipRegister)>,
    /// The daemon stops: the registration being removed, until its registrar answers.
    leaving: Option<RegHandle>,
}

impl SipSide {
    /// A REGISTER of registration `handle` had its outcome: a removal the stopping daemon
    /// waited for is over.
    fn registration_ended(&mut self, handle: RegHandle) {
        if self.leaving == Some(handle) {
            self.leaving = None;
        }
    }
}

/// Give the trunk's endpoint `t`'s credentials (they answer the peer's and a registrar's
/// 401/407 challenges, RFC 3261 §22.2) and bring its registration to `t.register`: a
/// registration no longer configured, or changed, is removed (REGISTER with expires 0,
/// §10.2.2) and the new one made. At start, and for a trunk a reload keeps or removes.
fn apply_auth(
    ep: &mut Endpoint,
    registration: &mut Option<(RegHandle, crate::config::SipRegister)>,
    t: &crate::config::SipTrunk,
    protocol: Protocol,
) {
    ep.clear_credentials();
    if let Some(a) = &t.auth {
        ep.add_credentials(a.realm.as_deref(), &a.username, &a.password);
    }
    set_registration(ep, registration, t.register.as_ref(), &t.name, protocol);
}

/// Bring the endpoint's registration to `want` (see [`apply_auth`]).
fn set_registration(
    ep: &mut Endpoint,
    registration: &mut Option<(RegHandle, crate::config::SipRegister)>,
    want: Option<&crate::config::SipRegister>,
    trunk: &str,
    protocol: Protocol,
) {
    if registration.as_ref().map(|(_, r)| r) == want {
        return;
    }
    let now = Instant::now();
    if let Some((h, r)) = registration.take() {
        info!(trunk, registrar = %r.registrar, aor = %r.aor, "unregistering");
        ep.unregister(now, h);
    }
    let Some(r) = want else { return };
    // check-config made sure the registrar names an address.
    let Some(target) = resolve(&r.registrar, protocol) else {
        warn!(trunk, registrar = %r.registrar, "registrar not an address: not registering");
        return;
    };
    info!(trunk, registrar = %r.registrar, aor = %r.aor, "registering");
    let h = ep.register(
        now,
        RegistrationSpec {
            registrar: r.registrar.clone(),
            aor: r.aor.clone(),
            target,
            expires: r.expires,
        },
    );
    *registration = Some((h, r.clone()));
}

/// Bind a SIP trunk's listener and build its endpoint, leg and guard; what arrives is read
/// from its [`Inbox`] by the signalling task itself (UDP datagrams straight from the
/// socket: no task and no channel in between).
async fn open_sip(
    t: &crate::config::SipTrunk,
    law: Law,
    rtp_ports: (u16, u16),
    pool: &RtpPortPool,
) -> anyhow::Result<(SipSide, SipInbox)> {
    let mut listen = Listen::default();
    let protocol = match t.transport {
        SipTransport::Udp => {
            listen.udp = Some(t.listen);
            Protocol::Udp
        }
        SipTransport::Tcp => {
            listen.tcp = Some(t.listen);
            Protocol::Tcp
        }
        SipTransport::Tls => {
            let Some(files) = &t.tls else {
                anyhow::bail!(
                    "SIP trunk {}: TLS needs tls_certificate and tls_key",
                    t.name
                )
            };
            listen.tls = Some((t.listen, files.certificate.clone(), files.key.clone()));
            Protocol::Tls
        }
    };
    let (transport, inbox) = Transport::bind_direct(listen)
        .await
        .with_context(|| format!("SIP trunk {} on {}", t.name, t.listen))?;
    let local: SocketAddr = transport.local_addr(protocol).unwrap_or(t.listen);
    let user_agent = concat!("gatewayd/", env!("CARGO_PKG_VERSION"));
    let mut ep = Endpoint::new(EndpointConfig {
        advertise: vec![(protocol, local)],
        contact_user: CONTACT_USER.into(),
        user_agent: user_agent.into(),
        timers: Timers::default(),
    });
    let mut registration = None;
    apply_auth(&mut ep, &mut registration, t, protocol);
    let guard = TrunkGuard::new(t, user_agent);
    let leg = SipLeg::new(
        &t.name,
        t.numbering.clone(),
        t.peers.clone(),
        protocol,
        local.ip(),
        law,
        rtp_ports,
    )
    .with_redirecting(t.redirecting)
    .with_sips(t.sips)
    .with_trust_identity(t.trust_identity)
    .with_contact_user(CONTACT_USER)
    .with_port_pool(pool.clone());
    info!(trunk = %t.name, addr = %local, "SIP trunk listening");
    let side = SipSide {
        leg,
        ep,
        transport,
        guard,
        key: (t.transport, t.listen, t.tls.clone()),
        published: SipStats::default(),
        registration,
        leaving: None,
    };
    let inbox = SipInbox {
        inbox,
        events: Vec::with_capacity(BATCH),
        open: true,
    };
    Ok((side, inbox))
}

/// What a SIP trunk receives, read by the signalling task (`Transport::bind_direct`).
struct SipInbox {
    inbox: Inbox,
    /// What the last wake-up took from it.
    events: Vec<TransportEvent>,
    /// `false` once nothing can arrive any more.
    open: bool,
}

/// Wait until a SIP trunk received something: its index, with the events in its
/// [`SipInbox::events`]. Never ready without an open trunk. Cancel-safe: an inbox only
/// takes datagrams once it is ready, and the first ready one ends the wait.
async fn recv_sip(inboxes: &mut [SipInbox]) -> usize {
    // One poll over all inboxes: no future per trunk to allocate at every wait.
    std::future::poll_fn(|cx| {
        for (i, s) in inboxes.iter_mut().enumerate() {
            if !s.open {
                continue;
            }
            if let std::task::Poll::Ready(open) = s.inbox.poll_recv(cx, &mut s.events) {
                s.open = open;
                return std::task::Poll::Ready(i);
            }
        }
        std::task::Poll::Pending
    })
    .await
}

mod cdr_commit;
mod join;

struct Dchan {
    leg: IsdnLeg,
    /// How this span's calls are joined when a transfer leaves both parties on it (its
    /// trunk group's `transfer`).
    transfer: crate::config::TransferMode,
    chan: Box<dyn Channel>,
    /// The span's device and its number there, to open B-channels for the media engine.
    device: Box<dyn Device>,
    dev_span: dahdi_driver::SpanId,
    law: dahdi_driver::Law,
    /// The interface's next deadline as of the end of the last turn (nothing touches the
    /// interface between turns): the next turn's timer check needs no walk of its calls.
    deadline: Option<Instant>,
}

/// What [`Action::Bridge`] asks for.
#[derive(Debug, Clone, Copy)]
struct BridgeArgs {
    channel: ChannelId,
    rtp_leg: crate::core::LegId,
    remote: SocketAddr,
    law: Law,
    telephone_event: Option<u8>,
    bearer: crate::core::Bearer,
    answered: bool,
}

/// What [`Action::Relay`] asks for.
#[derive(Debug, Clone, Copy)]
struct RelayArgs {
    a: crate::core::LegId,
    a_media: Media,
    b: crate::core::LegId,
    b_media: Media,
}

/// Everything the signalling task owns.
pub struct Signalling {
    shared: Arc<Shared>,
    sips: Vec<SipSide>,
    /// What each SIP trunk receives, by trunk (as `sips`).
    inboxes: Vec<SipInbox>,
    law: Law,
    rtp_ports: (u16, u16),
    /// RTP ports of all SIP trunks.
    rtp_pool: RtpPortPool,
    dchans: Vec<Dchan>,
    /// The media threads (B-channel ↔ RTP), when a span could give them a clock.
    media: Option<MediaEngine>,
    bridges: HashMap<CallId, ChannelKey>,
    /// RTP relayed between IP legs, DTMF across legs (`super::ipmedia`).
    ip_media: super::ipmedia::IpMedia,
    /// Media channels being removed (`Unbridge`) whose B-channel and socket the media
    /// thread has not handed back yet, by key, with their call.
    unbridging: HashMap<ChannelKey, CallId>,
    /// The RTP port and leg of each media-engine channel: its socket, handed back by
    /// [`MediaEvent::Removed`], is kept in the pool for a next call.
    rtp_sockets: HashMap<ChannelKey, (u16, crate::core::LegId)>,
    /// A new bridge of a call whose old one is still being removed (a transfer moved the
    /// call to another leg): made when the old one's [`MediaEvent::Removed`] frees the
    /// B-channel.
    pending_bridges: HashMap<CallId, BridgeArgs>,
    /// A new relay of a call whose old relay or bridge still holds one of its legs' RTP
    /// ports (a transfer kept that leg): made once the port is free.
    pending_relays: HashMap<CallId, RelayArgs>,
    /// Calls whose two B-channels are joined (`Action::Hairpin`), see `join`.
    joins: join::Joins,
    /// The H.323 peers' calls (`super::h323`), when configured.
    h323: Option<super::h323::H323Side>,
    h323_rx: Option<mpsc::UnboundedReceiver<super::h323::H323Input>>,
    /// Asks to leave before the daemon stops ([`Signalling::leave`]).
    stop_tx: mpsc::UnboundedSender<oneshot::Sender<()>>,
    stop_rx: Option<mpsc::UnboundedReceiver<oneshot::Sender<()>>>,
    /// `ctl audit`: each request is answered with the audit's report.
    audit_tx: mpsc::UnboundedSender<oneshot::Sender<String>>,
    audit_rx: Option<mpsc::UnboundedReceiver<oneshot::Sender<String>>>,
    /// Who waits for the registrations to be removed.
    stopping: Option<oneshot::Sender<()>>,
    /// Which data links were up at the last turn (per D-channel), to refresh the span
    /// status only on a change.
    links_up: Vec<bool>,
    /// Keeps the simulator's clock running (dropped after the switches).
    _sim: Option<tdm_sim::Sim>,
    /// The simulators of simulated spans added by reloads, one each, by gateway span.
    added_sims: Vec<(dahdi_driver::SpanId, tdm_sim::Sim)>,
    /// `[general] moh_file`, played instead of the generated melody (`hold_media = "moh"`).
    moh: Option<crate::media::moh_file::MohFile>,
    /// `[general] rtp_timeout`: silence on an answered call's RTP before it is cleared.
    rtp_timeout: Option<Duration>,
    /// When to sync the CDR file and release the output held until then.
    cdr_commit: cdr_commit::GroupCommit,
    /// A D-channel frame on its way out (kept: no allocation per frame).
    frame: Vec<u8>,
    /// When the D-channels were last read ([`DCHANNEL_READ_GAP`]).
    dchans_read: Option<Instant>,
    /// When the spans' device status (slips, timing source) is read next.
    next_span_poll: Instant,
    /// When the ISDN legs are audited next ([`IsdnLeg::audit`]).
    next_audit: Instant,
}

/// The span's Q.931 interface: the configured switch type's variant on the span's line
/// (channel numbering and interface type follow the line: E1 or T1).
fn iface_config(span: &crate::config::Span, role: Role) -> InterfaceConfig {
    let mut cfg = match span.switchtype {
        SwitchType::Ni2 => InterfaceConfig::ni2_t1(role),
        // Only EuroISDN and NI-2 pass the configuration's checks.
        _ => InterfaceConfig::euro_isdn_e1(role),
    };
    cfg.variant.span = match span.kind {
        SpanKind::T1 => q931::call::Span::T1,
        _ => q931::call::Span::E1,
    };
    cfg
}

fn layer1(law: dahdi_driver::Law) -> Layer1Protocol {
    match law {
        dahdi_driver::Law::MuLaw => Layer1Protocol::G711MuLaw,
        _ => Layer1Protocol::G711ALaw,
    }
}

/// The span's line as the configuration says (`type`, `framing`, `coding`, `crc4`,
/// `clock_priority`).
fn line_config(span: &crate::config::Span) -> dahdi_driver::SpanConfig {
    dahdi_driver::SpanConfig {
        kind: span.kind,
        framing: span.framing,
        coding: span.coding,
        crc4: span.crc4 && span.kind == SpanKind::E1,
        timing_priority: span.clock_priority,
        lbo: 0,
    }
}

/// What differs between the line settings of the configuration and those a DAHDI span
/// runs with (set by `dahdi_cfg` from `system.conf`), as `name: ours vs the device's`.
fn line_mismatch(
    ours: &dahdi_driver::SpanConfig,
    device: &dahdi_driver::SpanConfig,
) -> Vec<String> {
    let mut v = Vec::new();
    if ours.kind != device.kind {
        v.push(format!("type: {:?} vs {:?}", ours.kind, device.kind));
    }
    if ours.framing != device.framing {
        v.push(format!(
            "framing: {:?} vs {:?}",
            ours.framing, device.framing
        ));
    }
    if ours.coding != device.coding {
        v.push(format!("coding: {:?} vs {:?}", ours.coding, device.coding));
    }
    if ours.kind == SpanKind::E1 && ours.crc4 != device.crc4 {
        v.push(format!("crc4: {} vs {}", ours.crc4, device.crc4));
    }
    v
}

/// Bring the span's line to its configuration. A simulated span is configured as the
/// file says (framing, coding, CRC-4, clock priority), and its far end, the simulated
/// switch, alike but as the clock master (priority 0 there). A DAHDI span's line belongs
/// to `dahdi_cfg` (`system.conf`), as with Asterisk: gatewayd does not reconfigure a span
/// other programs may use, but says where the two disagree.
fn set_up_line(
    span: &crate::config::Span,
    near: &dyn Device,
    far_sim: Option<&dyn Device>,
    dev_span: dahdi_driver::SpanId,
) {
    let ours = line_config(span);
    match (&span.device, far_sim) {
        (DeviceCfg::Simulator(_), Some(far)) => {
            let master = dahdi_driver::SpanConfig {
                timing_priority: 0,
                ..ours.clone()
            };
            for (end, dev, cfg) in [("near", near, &ours), ("far", far, &master)] {
                if let Err(e) = dev.configure_span(dev_span, cfg) {
                    warn!(span = span.id.0, end, error = %e, "simulated line not configured");
                }
            }
        }
        _ => match near.span_status(dev_span) {
            Ok(st) => match st.configured {
                Some(device) => {
                    let diff = line_mismatch(&ours, &device);
                    if !diff.is_empty() {
                        warn!(
                            span = span.id.0,
                            dahdi_span = dev_span.0,
                            differences = %diff.join(", "),
                            "the DAHDI span runs with other line settings than the configuration's (gatewayd's vs the device's; dahdi_cfg sets them)"
                        );
                    }
                }
                None => warn!(
                    span = span.id.0,
                    dahdi_span = dev_span.0,
                    "DAHDI span not configured (run dahdi_cfg)"
                ),
            },
            Err(e) => warn!(span = span.id.0, error = %e, "DAHDI span status"),
        },
    }
}

/// Open `span`'s D-channel on `near` (the span is `dev_span` there) and start its Q.921/
/// Q.931 stack: at start-up and for a span added by a reload.
fn open_dchan(
    span: &crate::config::Span,
    config: &Config,
    near: Box<dyn Device>,
    dev_span: dahdi_driver::SpanId,
    now: Instant,
) -> anyhow::Result<Dchan> {
    let role = match span.signalling {
        Side::PriCpe => Role::User,
        Side::PriNet => Role::Network,
    };
    let dch = ChannelId {
        span: dev_span,
        timeslot: span.dchannel,
    };
    let chan = near
        .open_channel(dch, ChannelMode::HdlcFcs)
        .with_context(|| format!("D-channel of span {}", span.id.0))?;
    let mut cfg = iface_config(span, role);
    // Q.931 §5.2.4: T302, the digit timer of overlap receiving, is the file's
    // `[general] overlap_timeout`.
    cfg.timers.t302 = Duration::from_secs(u64::from(config.general.overlap_timeout.max(1)));
    let mut iface = Interface::new(cfg);
    iface.start(now);
    let deadline = iface.poll_timeout();
    // The first trunk group with this span that names a D-channel transfer.
    let transfer = config
        .trunk_groups
        .iter()
        .filter(|g| g.members.iter().any(|m| m.span == span.id))
        .map(|g| g.transfer)
        .find(|t| *t != crate::config::TransferMode::Hairpin)
        .unwrap_or_default();
    info!(span = span.id.0, ?role, "D-channel opened");
    Ok(Dchan {
        transfer,
        leg: IsdnLeg::new(span.id, iface, layer1(span.law)),
        chan,
        device: near,
        dev_span,
        law: span.law,
        deadline,
    })
}

impl Signalling {
    /// Open the spans' D-channels and bind the SIP trunks.
    pub async fn start(shared: Arc<Shared>, config: &Config) -> anyhow::Result<Signalling> {
        let now = Instant::now();
        // Simulated spans, in configuration order, are the simulator's spans 1, 2, ….
        let sim_spans: Vec<&crate::config::Span> = config
            .spans
            .iter()
            .filter(|s| matches!(s.device, DeviceCfg::Simulator(_)))
            .collect();
        let sim = if sim_spans.is_empty() {
            None
        } else {
            let mut b = tdm_sim::Sim::builder().clock(tdm_sim::ClockMode::RealTime);
            for s in &sim_spans {
                b = match s.kind {
                    SpanKind::T1 => b.t1(1),
                    _ => b.e1(1),
                };
            }
            Some(b.build())
        };
        let mut dchans = Vec::new();
        let mut switches = Vec::new();
        let mut far_dev = None;
        let mut media_tickers = Vec::new();
        for span in &config.spans {
            let role = match span.signalling {
                Side::PriCpe => Role::User,
                Side::PriNet => Role::Network,
            };
            let (near, far): (Box<dyn Device>, Option<&crate::config::SimSwitch>) =
                match &span.device {
                    DeviceCfg::Simulator(sw) => {
                        let Some(sim) = &sim else { continue };
                        far_dev.get_or_insert_with(|| sim.far());
                        (Box::new(sim.near()), Some(sw))
                    }
                    DeviceCfg::Dahdi { path, .. } => (
                        Box::new(
                            dahdi_driver::kernel::KernelDevice::open(std::path::Path::new(path))
                                .with_context(|| format!("DAHDI device {path}"))?,
                        ),
                        None,
                    ),
                };
            let sim_id = sim_spans
                .iter()
                .position(|s| s.id == span.id)
                .map(|i| dahdi_driver::SpanId(i as u16 + 1));
            let dev_span = match (&span.device, sim_id) {
                (DeviceCfg::Dahdi { span, .. }, _) => dahdi_driver::SpanId(*span),
                (_, Some(id)) => id,
                _ => continue,
            };
            let far_sim = match (&span.device, &sim) {
                (DeviceCfg::Simulator(_), Some(sim)) => Some(sim.far()),
                _ => None,
            };
            set_up_line(
                span,
                near.as_ref(),
                far_sim.as_ref().map(|f| f as &dyn Device),
                dev_span,
            );
            let d = open_dchan(span, config, near, dev_span, now)?;
            if media_tickers.is_empty() {
                for _ in 0..config.general.media_threads.max(1) {
                    match d.device.ticker() {
                        Ok(t) => media_tickers.push(t),
                        Err(e) => warn!(error = %e, "no media clock from this device"),
                    }
                }
            }
            dchans.push(d);
            if let Some(sw) = far {
                if role == Role::Network {
                    // The simulator's switch is the network side only.
                    warn!(
                        span = span.id.0,
                        "simulated span with pri_net: no simulated switch on its far end"
                    );
                } else {
                    switches.push((span.id.0, dev_span, sw.clone()));
                }
            }
        }
        let mut sips = Vec::new();
        let mut inboxes = Vec::new();
        let law = config.spans.first().map_or(Law::ALaw, |s| s.law);
        let rtp_ports = (config.general.rtp_port_min, config.general.rtp_port_max);
        let rtp_pool = RtpPortPool::starting_anywhere(rtp_ports);
        for t in &config.sip_trunks {
            let (side, inbox) = open_sip(t, law, rtp_ports, &rtp_pool).await?;
            sips.push(side);
            inboxes.push(inbox);
        }
        let sim_switches = match (&far_dev, switches.is_empty()) {
            (Some(far), false) => {
                let ticker = far.ticker().context("simulator clock for the switch")?;
                Some(
                    super::sim::SimSwitches::start(far, &switches, ticker, now)
                        .context("simulated PSTN switch")?,
                )
            }
            _ => None,
        };
        if let Some(s) = sim_switches {
            if shared.sim.set(s).is_err() {
                warn!("simulated switches already running");
            }
        }
        let (h323, h323_rx) = match &config.h323 {
            Some(h) => {
                let law = config.spans.first().map_or(Law::ALaw, |s| s.law);
                let (side, rx) = super::h323::H323Side::start(h, law, rtp_pool.clone()).await?;
                (Some(side), Some(rx))
            }
            None => (None, None),
        };
        let media = if media_tickers.is_empty() {
            None
        } else {
            Some(MediaEngine::start(media_tickers).context("media threads")?)
        };
        // Two B-channels of ours can be joined (`Action::Hairpin`): by the switch
        // (ECT/2BCT) or by the media engine.
        lock(&shared.core).set_hairpin(media.is_some());
        let (stop_tx, stop_rx) = mpsc::unbounded_channel();
        let (audit_tx, audit_rx) = mpsc::unbounded_channel();
        Ok(Signalling {
            shared,
            sips,
            inboxes,
            law,
            rtp_ports,
            rtp_pool,
            dchans,
            media,
            bridges: HashMap::default(),
            ip_media: Default::default(),
            unbridging: HashMap::default(),
            rtp_sockets: HashMap::default(),
            pending_bridges: HashMap::default(),
            pending_relays: HashMap::default(),
            joins: join::Joins::default(),
            h323,
            h323_rx,
            stop_tx,
            stop_rx: Some(stop_rx),
            audit_tx,
            audit_rx: Some(audit_rx),
            stopping: None,
            links_up: Vec::new(),
            _sim: sim,
            added_sims: Vec::new(),
            moh: config.moh.clone(),
            rtp_timeout: config.general.rtp_timeout(),
            cdr_commit: cdr_commit::GroupCommit::new(CDR_SYNC_INTERVAL, CDR_SYNC_BATCH),
            frame: Vec::with_capacity(512),
            dchans_read: None,
            next_span_poll: now,
            next_audit: now + crate::core::AUDIT_INTERVAL,
        })
    }

    /// Apply a reloaded configuration's spans (`Shared::reload` has refused any change to a
    /// running span and the removal of one that carries calls). A span added is opened as
    /// at start: a simulated span gets a simulator of its own with the simulated switch on
    /// its far end, a DAHDI span its device; its D-channel joins the set, and its channels
    /// (out of service since the core's reload) come into service when its data link is up
    /// (`IsdnLeg`, `LinkUp`). A span removed (idle) has its D-channel closed.
    fn reload_spans(&mut self, config: &Config) {
        let before = self.dchans.len();
        self.dchans
            .retain(|d| config.spans.iter().any(|s| s.id == d.leg.span()));
        if let Some(switches) = self.shared.sim.get() {
            switches.retain(|n| config.spans.iter().any(|s| s.id.0 == n));
        }
        self.added_sims
            .retain(|(id, _)| config.spans.iter().any(|s| s.id == *id));
        if self.dchans.len() != before {
            info!(
                closed = before - self.dchans.len(),
                "spans removed by reload: D-channels closed"
            );
            // Link states are per position: recompute them all.
            self.links_up.clear();
        }
        let now = Instant::now();
        for span in &config.spans {
            if self.dchans.iter().any(|d| d.leg.span() == span.id) {
                continue;
            }
            if let Err(e) = self.add_span(span, config, now) {
                warn!(span = span.id.0, error = %format!("{e:#}"), "span added by reload not opened");
            }
        }
    }

    /// Open a span added by a reload (see [`Self::reload_spans`]).
    fn add_span(
        &mut self,
        span: &crate::config::Span,
        config: &Config,
        now: Instant,
    ) -> anyhow::Result<()> {
        match &span.device {
            DeviceCfg::Simulator(sw) => {
                let sim = tdm_sim::Sim::builder().clock(tdm_sim::ClockMode::RealTime);
                let sim = match span.kind {
                    SpanKind::T1 => sim.t1(1),
                    _ => sim.e1(1),
                }
                .build();
                let dev_span = dahdi_driver::SpanId(1);
                set_up_line(span, &sim.near(), Some(&sim.far()), dev_span);
                let d = open_dchan(span, config, Box::new(sim.near()), dev_span, now)?;
                if span.signalling == Side::PriNet {
                    warn!(
                        span = span.id.0,
                        "simulated span with pri_net: no simulated switch on its far end"
                    );
                } else {
                    let far = sim.far();
                    let switch = (span.id.0, dev_span, sw.clone());
                    match self.shared.sim.get() {
                        Some(switches) => switches.add(&far, &switch, now)?,
                        None => {
                            let ticker = far.ticker().context("simulator clock for the switch")?;
                            let started = super::sim::SimSwitches::start(
                                &far,
                                std::slice::from_ref(&switch),
                                ticker,
                                now,
                            )?;
                            if self.shared.sim.set(started).is_err() {
                                warn!("simulated switches already running");
                            }
                        }
                    }
                }
                self.dchans.push(d);
                self.added_sims.push((span.id, sim));
            }
            DeviceCfg::Dahdi { span: n, path } => {
                let near = dahdi_driver::kernel::KernelDevice::open(std::path::Path::new(path))
                    .with_context(|| format!("DAHDI device {path}"))?;
                let d = open_dchan(span, config, Box::new(near), dahdi_driver::SpanId(*n), now)?;
                self.dchans.push(d);
            }
        }
        if self.media.is_none() {
            warn!(span = span.id.0, "no media threads (none started at start-up): calls on this span carry no audio until a restart");
        }
        info!(span = span.id.0, "span added by reload");
        Ok(())
    }

    /// Apply a reloaded configuration's SIP trunks without touching calls in progress: a
    /// trunk whose listener is unchanged is reconfigured in place (name, peers, numbering,
    /// headers, allow-list, rate); a new listener is bound; a trunk no longer configured
    /// keeps serving its calls in progress and refuses new ones (503) — its port is freed
    /// at the next restart, or taken up again if a later reload brings it back.
    async fn reload_sip(&mut self, config: &Config) {
        let mut kept = vec![false; self.sips.len()];
        for t in &config.sip_trunks {
            let key = (t.transport, t.listen, t.tls.clone());
            if let Some(i) = self.sips.iter().position(|s| s.key == key) {
                let side = &mut self.sips[i];
                side.leg.reconfigure(t);
                side.guard.reload(t);
                let protocol = side.leg.protocol();
                apply_auth(&mut side.ep, &mut side.registration, t, protocol);
                kept[i] = true;
                continue;
            }
            match open_sip(t, self.law, self.rtp_ports, &self.rtp_pool).await {
                Ok((side, inbox)) => {
                    info!(trunk = %t.name, "SIP trunk added by reload");
                    self.sips.push(side);
                    self.inboxes.push(inbox);
                    kept.push(true);
                }
                Err(e) => warn!(trunk = %t.name, error = %e, "SIP trunk not added"),
            }
        }
        for (side, kept) in self.sips.iter_mut().zip(kept) {
            if !kept && !side.guard.is_closing() {
                side.guard.close();
                let trunk = side.leg.trunk().to_string();
                let protocol = side.leg.protocol();
                set_registration(&mut side.ep, &mut side.registration, None, &trunk, protocol);
                info!(
                    trunk = %side.leg.trunk(),
                    calls = side.leg.call_count(),
                    "SIP trunk removed by reload; its calls in progress go on"
                );
            }
        }
    }

    /// A channel that asks this task to audit the spans now (`ctl audit`): the sender
    /// given is answered with the report (`Signalling::audit`).
    pub fn audit_sender(&self) -> mpsc::UnboundedSender<oneshot::Sender<String>> {
        self.audit_tx.clone()
    }

    /// A channel that asks this task to leave before the daemon stops: the registrations
    /// are removed, and the sender given is answered once their registrars answered.
    pub fn stop_sender(&self) -> mpsc::UnboundedSender<oneshot::Sender<()>> {
        self.stop_tx.clone()
    }

    /// The daemon stops (RFC 3261 §10.2.2): each trunk's registration is removed with a
    /// REGISTER of expires 0; `done` is answered once every registrar answered it (or it
    /// failed), at once when no trunk registers.
    fn leave(&mut self, done: oneshot::Sender<()>) {
        for side in &mut self.sips {
            let handle = side.registration.as_ref().map(|(h, _)| *h);
            let trunk = side.leg.trunk().to_string();
            let protocol = side.leg.protocol();
            set_registration(&mut side.ep, &mut side.registration, None, &trunk, protocol);
            side.leaving = handle;
        }
        self.stopping = Some(done);
        self.check_left();
    }

    fn check_left(&mut self) {
        if self.sips.iter().all(|s| s.leaving.is_none()) {
            if let Some(done) = self.stopping.take() {
                let _ = done.send(());
            }
        }
    }

    /// The H.323 side's input channel, when H.323 is configured (for the shutdown's URQ).
    pub fn h323_sender(&self) -> Option<mpsc::UnboundedSender<super::h323::H323Input>> {
        self.h323.as_ref().map(|h| h.sender())
    }

    /// Reads each span's status from its device (`DAHDI_SPANSTAT`): the frame slips and
    /// whether the device times from it, for `ctl show spans` and the metrics. Alarms
    /// come as channel events, at once (`turn`).
    fn poll_span_status(&mut self) {
        let mut read = Vec::with_capacity(self.dchans.len());
        for d in &self.dchans {
            match d.device.span_status(d.dev_span) {
                Ok(st) => read.push((d.leg.span().0, st)),
                Err(e) => debug!(span = d.leg.span().0, error = %e, "span status"),
            }
        }
        let mut spans = lock(&self.shared.spans);
        for (span, st) in read {
            if let Some(s) = spans.iter_mut().find(|s| s.span == span) {
                let slips = st.slips.map(u64::from);
                if slips > s.slips && s.slips.is_some() {
                    warn!(span, slips, "frame slips");
                }
                s.slips = slips;
                s.sync_source = st.is_sync_source;
            }
        }
    }

    /// Hands each SIP endpoint's counts since the last time to the metrics (a lock of
    /// the metrics only in turns that counted something).
    fn publish_sip_stats(&mut self) {
        let mut metrics = None;
        for side in &mut self.sips {
            let now = *side.ep.stats();
            if now != side.published {
                let delta = now.since(&side.published);
                metrics
                    .get_or_insert_with(|| lock(&self.shared.metrics))
                    .sip_add(side.leg.trunk(), &delta);
                side.published = now;
            }
        }
    }

    /// Run forever.
    pub async fn run(mut self) {
        let mut out: Vec<(usize, Target, bytes::Bytes)> = Vec::new();
        let mut batches: Vec<Vec<(Target, bytes::Bytes)>> = Vec::new();
        let mut h323_rx = self.h323_rx.take();
        let mut stop_rx = self.stop_rx.take();
        let mut audit_rx = self.audit_rx.take();
        loop {
            let reloaded = lock(&self.shared.sip_reload).take();
            if let Some(config) = reloaded {
                self.reload_spans(&config);
                self.reload_sip(&config).await;
                self.moh = config.moh.clone();
                self.rtp_timeout = config.general.rtp_timeout();
            }
            let now = Instant::now();
            let deadline = {
                let shared = self.shared.clone();
                let mut core = lock(&shared.core);
                self.turn(&mut core, now, &mut out)
            };
            self.publish_sip_stats();
            if now >= self.next_span_poll {
                self.poll_span_status();
                self.next_span_poll = now + SPAN_POLL;
            }
            // The turn's messages, one batch per trunk: a single `sendmmsg` for its UDP
            // datagrams (each trunk's messages keep their order).
            batches.resize_with(self.sips.len(), Vec::new);
            for (i, target, bytes) in out.drain(..) {
                batches[i].push((target, bytes));
            }
            for (side, batch) in self.sips.iter().zip(batches.iter_mut()) {
                if !batch.is_empty() {
                    side.transport.send_all(batch).await;
                }
            }
            let wake = deadline
                .unwrap_or(now + DCHANNEL_POLL)
                .min(now + DCHANNEL_POLL);
            tokio::select! {
                i = recv_sip(&mut self.inboxes) => {
                    // Everything that arrived meanwhile goes into the same turn.
                    let now = Instant::now();
                    let mut events = std::mem::take(&mut self.inboxes[i].events);
                    for ev in events.drain(..) {
                        self.on_transport(now, (i, ev), &mut out);
                    }
                    self.inboxes[i].events = events;
                    if !self.inboxes[i].open {
                        warn!(trunk = %self.sips[i].leg.trunk(), "SIP transport closed");
                    }
                }
                Some(ev) = recv_from(&mut h323_rx) => {
                    if let Some(h) = &mut self.h323 {
                        let shared = self.shared.clone();
                        let mut core = lock(&shared.core);
                        let now = Instant::now();
                        h.input(&mut core, now, ev);
                        // What arrived meanwhile goes into the same turn (bounded, so
                        // that the other inputs get their turn under a flood).
                        if let Some(rx) = &mut h323_rx {
                            for _ in 0..H323_BATCH {
                                let Ok(ev) = rx.try_recv() else { break };
                                h.input(&mut core, now, ev);
                            }
                        }
                    }
                }
                Some(done) = recv_from(&mut stop_rx) => self.leave(done),
                Some(reply) = recv_from(&mut audit_rx) => {
                    let shared = self.shared.clone();
                    let mut core = lock(&shared.core);
                    let report = self.audit(&mut core, Instant::now());
                    core.flush_cdrs();
                    let _ = reply.send(report);
                }
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
            }
        }
    }

    /// One message from a SIP transport, through the trunk's guard (a stateless reply of
    /// the guard goes out with the turn's messages).
    fn on_transport(
        &mut self,
        now: Instant,
        ev: (usize, TransportEvent),
        out: &mut Vec<(usize, Target, bytes::Bytes)>,
    ) {
        match ev {
            (i, TransportEvent::Message(m)) => {
                let side = &mut self.sips[i];
                match side.guard.screen(now, &m) {
                    Screen::Pass => return side.ep.handle_incoming(now, m),
                    Screen::Reply(target, bytes) => out.push((i, target, bytes)),
                    Screen::Drop => {}
                }
                // Turned away: the guard's totals go to the metrics.
                lock(&self.shared.metrics).guard(side.leg.trunk(), side.guard.stats());
            }
            (_, TransportEvent::Malformed(m)) => {
                debug!(error = %m.error, "malformed SIP dropped")
            }
            (_, TransportEvent::Closed(t)) => debug!(?t, "SIP connection closed"),
        }
    }

    /// Audit every span's ISDN leg against the core and its Q.931 stack
    /// ([`IsdnLeg::audit`]) and the core's B-channels busy without a call
    /// ([`Core::audit`]): every [`AUDIT_INTERVAL`](crate::core::AUDIT_INTERVAL), or at
    /// once for `ctl audit` (which counts as one of the two audits in a row that a leg's
    /// fix waits for). Returns the report `ctl audit` prints: a line per span, then the
    /// freed channels.
    fn audit(&mut self, core: &mut Core, now: Instant) -> String {
        self.next_audit = now + crate::core::AUDIT_INTERVAL;
        let mut report = String::new();
        for d in &mut self.dchans {
            let fixes = d.leg.audit(core, now);
            if !fixes.is_empty() {
                warn!(span = %d.leg.span(), restarted = fixes.restarted.len(), cleared = fixes.cleared.len(), "audit put the span's calls in step");
                let metrics = lock(&self.shared.metrics);
                metrics.audit_fixed("restarted", fixes.restarted.len());
                metrics.audit_fixed("cleared", fixes.cleared.len());
            }
            report.push_str(&audit_line(d.leg.span(), &fixes));
        }
        let stuck = core.audit(now);
        if !stuck.is_empty() {
            warn!(count = stuck.len(), "audit freed stuck channels");
            lock(&self.shared.metrics).audit_fixed("freed", stuck.len());
        }
        let freed: Vec<String> = stuck.iter().map(|&c| ctl_channel(c)).collect();
        report.push_str(&format!(
            "channels freed: {}\n",
            if freed.is_empty() {
                "none".to_string()
            } else {
                freed.join(", ")
            }
        ));
        report
    }

    /// One turn of the loop: everything due and everything in flight. Returns the next
    /// deadline.
    fn turn(
        &mut self,
        core: &mut Core,
        now: Instant,
        out: &mut Vec<(usize, Target, bytes::Bytes)>,
    ) -> Option<Instant> {
        if now >= self.next_audit {
            self.audit(core, now);
        }
        let mut buf = [0u8; 512];
        let mut alarms: Vec<(dahdi_driver::SpanId, bool)> = Vec::new();
        let read = self
            .dchans_read
            .is_none_or(|t| now >= t + DCHANNEL_READ_GAP);
        if read {
            self.dchans_read = Some(now);
        }
        for d in &mut self.dchans {
            if d.deadline.is_some_and(|t| t <= now) {
                d.leg.handle_timeout(core, now);
            }
            if !read {
                continue;
            }
            let span = d.leg.span();
            let mut on_event = |ev: DahdiEvent| match ev {
                DahdiEvent::Alarm => alarms.push((span, true)),
                DahdiEvent::NoAlarm => alarms.push((span, false)),
                _ => {}
            };
            while let Some(n) = read_frame_events(d.chan.as_mut(), &mut buf, &mut on_event) {
                d.leg.handle_frame(core, now, &buf[..n]);
            }
        }
        for (span, on) in alarms {
            self.span_alarm(core, now, span, on);
        }
        for side in &mut self.sips {
            if side.ep.poll_timeout().is_some_and(|t| t <= now) {
                side.ep.handle_timeout(now);
            }
        }
        let mut h323_next = None;
        if let Some(h) = &mut self.h323 {
            h323_next = h.turn(core, now);
        }
        // The core's own timers (overlap sending's inter-digit timer).
        if core.poll_timeout().is_some_and(|t| t <= now) {
            core.handle_timeout(now);
        }
        // Media events: an RTP timeout clears the call (cause 41, temporary failure).
        let mut heard = Vec::new();
        let events: Vec<MediaEvent> = match &self.media {
            Some(m) => std::iter::from_fn(|| m.events().try_recv().ok()).collect(),
            None => Vec::new(),
        };
        for ev in events {
            let h323 = self.h323.as_ref();
            heard.extend(self.ip_media.engine_digit(
                &ev,
                |leg| h323.is_some_and(|h| h.leg.owns(leg)),
                |leg| core.other_leg(leg),
            ));
            match ev {
                MediaEvent::RtpTimeout { key, .. } => {
                    if let Some((call, _)) = self.bridges.iter().find(|(_, k)| **k == key) {
                        warn!(%call, "RTP timeout");
                        core.hangup(now, *call, crate::core::cause::TEMPORARY_FAILURE);
                    }
                }
                MediaEvent::Removed {
                    key,
                    tdm,
                    socket,
                    stats,
                } => {
                    lock(&self.shared.metrics).rtp_stream_ended(&stats);
                    // The B-channel and the RTP port are free again: a bridge waiting
                    // for them is made now. The socket is kept bound for a next call
                    // unless its leg still has the port (a transfer kept that leg: it is
                    // bound again below); otherwise it is closed.
                    drop(tdm);
                    match self.rtp_sockets.remove(&key) {
                        Some((port, leg)) if self.rtp_port(leg) != Some(port) => {
                            self.rtp_pool.give_back(port, socket)
                        }
                        _ => drop(socket),
                    }
                    let call = self.unbridging.remove(&key);
                    if let Some(c) = call {
                        self.make_pending(c);
                        self.join_channel_freed(core, now, c);
                    }
                }
                MediaEvent::HairpinRemoved { key, stats, .. } => {
                    info!(?key, ?stats, "hairpin removed");
                }
                _ => {}
            }
        }
        let relayed = self.ip_media.poll_relay();
        if !relayed.ended.is_empty() {
            let metrics = lock(&self.shared.metrics);
            for stats in &relayed.ended {
                metrics.rtp_relay_ended(stats);
            }
        }
        for call in relayed.freed {
            self.make_pending(call);
        }
        for call in relayed.timeouts {
            core.hangup(now, call, crate::core::cause::TEMPORARY_FAILURE);
        }
        let relay_digits = relayed.digits;
        // Digits heard in the media (in-band on a B-channel, RFC 4733 the other leg cannot
        // take as events) go to the other leg through the core (H.245 UserInputIndication,
        // SIP INFO).
        for d in heard.into_iter().chain(relay_digits) {
            debug!(call = %d.call, leg = %d.leg, digit = %d.digit, "digit from the media");
            core.handle(
                now,
                d.leg,
                Message::Digits {
                    digits: d.digit.to_string(),
                    complete: false,
                },
            );
        }
        // Events and actions until quiet.
        loop {
            let mut moved = false;
            for i in 0..self.sips.len() {
                while let Some(ev) = self.sips[i].ep.poll_event() {
                    moved = true;
                    let elsewhere = match &ev {
                        UaEvent::IncomingCall { invite, source, .. } => {
                            self.replaced_elsewhere(i, invite, source.addr.ip())
                        }
                        _ => None,
                    };
                    let side = &mut self.sips[i];
                    match (ev, elsewhere) {
                        // The trunk's own registration (`register`): the endpoint
                        // refreshes it; the outcome is for the log, and for a stop
                        // that waits for the registration's removal.
                        (UaEvent::Registered { handle, expires }, _) => {
                            info!(trunk = %side.leg.trunk(), expires, "registered");
                            side.registration_ended(handle);
                        }
                        (UaEvent::RegistrationFailed { handle, status }, _) => {
                            warn!(trunk = %side.leg.trunk(), status, "registration refused");
                            side.registration_ended(handle);
                        }
                        (UaEvent::IncomingCall { call, invite, .. }, Some(e)) => side
                            .leg
                            .incoming_replacing(&mut side.ep, core, now, call, &invite, e),
                        (ev, _) => side.leg.on_event(&mut side.ep, core, now, ev),
                    }
                }
            }
            while let Some(a) = core.poll_action() {
                moved = true;
                self.dispatch(core, now, a);
            }
            for d in &mut self.dchans {
                d.leg.drain(core, now);
            }
            self.transfer_outcomes(core, now);
            if !moved {
                break;
            }
        }
        self.check_left();
        // Group commit (cdr.rs, DAEMON.md "CDRs"): nothing this turn or an earlier one
        // produced leaves the daemon while a CDR written so far is not durable. Until the
        // next sync the SIP messages, Q.931 frames and H.323 output stay queued in their
        // endpoints, in order.
        let mut next: Option<Instant> = None;
        let mut note = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        let release = match self.commit_cdrs(core) {
            Commit::Hold(until) => {
                note(Some(until));
                false
            }
            Commit::Release | Commit::Sync => true,
        };
        note(core.poll_timeout());
        note(self.ip_media.run_tones(now, self.media.as_ref()));
        if let Some(h) = &mut self.h323 {
            if release {
                h.run_io();
            }
            note(h.leg.poll_timeout().or(h323_next));
        }
        for d in &mut self.dchans {
            if release {
                while d.leg.interface().poll_transmit_into(&mut self.frame) {
                    write_frame(d.chan.as_mut(), &self.frame);
                }
            }
            d.deadline = d.leg.poll_timeout();
            note(d.deadline);
        }
        for (i, side) in self.sips.iter_mut().enumerate() {
            if release {
                while let Some((target, bytes)) = side.ep.poll_transmit() {
                    out.push((i, target, bytes));
                }
            }
            note(side.ep.poll_timeout());
        }
        // Span status for ctl and metrics, when a data link changed.
        let mut changed = self.links_up.len() != self.dchans.len();
        self.links_up.resize(self.dchans.len(), false);
        for (d, was) in self.dchans.iter_mut().zip(self.links_up.iter_mut()) {
            let up = d.leg.interface().is_link_up();
            changed |= up != *was;
            *was = up;
        }
        if changed {
            let mut spans = lock(&self.shared.spans);
            for s in spans.iter_mut() {
                s.dchannel_up = self
                    .dchans
                    .iter()
                    .zip(&self.links_up)
                    .any(|(d, up)| d.leg.span().0 == s.span && *up);
            }
        }
        next
    }

    /// Group commit of CDRs (`cdr_commit`): whether the output queued so far may go, after
    /// syncing the CDR file if that is due. A sync that fails is counted and logged by the
    /// core and its records stay queued for the next one; the output goes all the same
    /// (the switch keeps switching on a full disk, as before group commit).
    fn commit_cdrs(&mut self, core: &mut Core) -> Commit {
        let now = Instant::now();
        let commit = self.cdr_commit.decide(self.shared.cdrs.unsynced(), now);
        if commit == Commit::Sync {
            core.flush_cdrs();
            self.cdr_commit.synced(now);
        }
        commit
    }

    fn dispatch(&mut self, core: &mut Core, now: Instant, a: Action) {
        match a {
            Action::Originate {
                leg,
                trunk,
                kind: TrunkKind::Sip,
                setup,
                referred_by,
                replaces,
                ..
            } => match self
                .sips
                .iter_mut()
                .find(|s| !s.guard.is_closing() && s.leg.trunk() == trunk)
            {
                Some(s) => {
                    // A call from a `media = "direct"` H.323 peer: our offer names the
                    // peer's RTP address.
                    let through = core.other_leg(leg).is_some_and(|o| {
                        self.h323
                            .as_ref()
                            .is_some_and(|h| h.leg.passes_media_through(o))
                    });
                    let address = match setup.media {
                        Some(Media::Rtp { remote, .. }) if through => Some(remote),
                        _ => None,
                    };
                    s.leg.originate_with(
                        &mut s.ep,
                        core,
                        now,
                        leg,
                        &setup,
                        crate::leg::sip::Referral {
                            referred_by: referred_by.as_deref(),
                            replaces: replaces.as_deref(),
                        },
                        address,
                    )
                }
                None => no_leg_for(core, now, leg),
            },
            Action::Originate {
                leg,
                trunk,
                kind: TrunkKind::H323,
                setup,
                ..
            } => match &mut self.h323 {
                Some(h) => h.leg.originate(core, now, leg, &trunk, &setup),
                None => no_leg_for(core, now, leg),
            },
            Action::Originate {
                leg,
                channel,
                setup,
                ..
            } => {
                let span = channel.map(|c| c.span);
                match self.dchans.iter_mut().find(|d| Some(d.leg.span()) == span) {
                    Some(d) => d.leg.originate(core, now, leg, channel, &setup),
                    None => no_leg_for(core, now, leg),
                }
            }
            Action::Bridge {
                call,
                channel,
                rtp_leg,
                remote,
                law,
                telephone_event,
                bearer,
                answered,
            } => {
                let args = BridgeArgs {
                    channel,
                    rtp_leg,
                    remote,
                    law,
                    telephone_event,
                    bearer,
                    answered,
                };
                if self.ports_held(call) {
                    // The call's previous bridge still holds the B-channel, or its
                    // previous relay the RTP port of the leg that stays.
                    self.pending_bridges.insert(call, args);
                } else {
                    self.bridge(call, args);
                }
            }
            Action::Hairpin { call, a, b } => self.join_isdn(core, now, call, a, b),
            Action::Relay {
                call,
                a,
                a_media,
                b,
                b_media,
            } => {
                let args = RelayArgs {
                    a,
                    a_media,
                    b,
                    b_media,
                };
                if self.ports_held(call) {
                    // A transfer kept one of the legs: its port is still held by the
                    // call's previous relay or bridge.
                    self.pending_relays.insert(call, args);
                } else {
                    self.relay(call, args);
                }
            }
            Action::MediaChanged { call, leg, media } => {
                let Media::Rtp {
                    remote,
                    law,
                    telephone_event,
                } = media
                else {
                    return;
                };
                let codec = Codec {
                    law,
                    payload_type: PayloadType::g711(law),
                    event_payload_type: telephone_event.and_then(PayloadType::new),
                };
                if self.ip_media.set_media(call, leg, remote, codec) {
                    info!(%call, %remote, ?law, "relayed RTP peer moved or changed codec");
                } else if let (Some(m), Some(key)) = (&self.media, self.bridges.get(&call)) {
                    info!(%call, %remote, ?law, "bridged RTP peer moved or changed codec");
                    let set = m.set_remote(*key, remote).and_then(|()| {
                        m.set_codec(*key, law, codec.payload_type, codec.event_payload_type)
                    });
                    if let Err(e) = set {
                        debug!(error = %e, "media channel gone");
                    }
                }
            }
            Action::HoldMedia { call, held, media } => {
                if let (Some(m), Some(key)) = (&self.media, self.bridges.get(&call)) {
                    use crate::media::tone::HoldSound;
                    let sound = match (media, &self.moh) {
                        (crate::config::HoldMedia::Silence, _) => HoldSound::Silence,
                        (crate::config::HoldMedia::Moh, Some(f)) => {
                            HoldSound::File(f.samples.clone())
                        }
                        (crate::config::HoldMedia::Moh, None) => HoldSound::Melody,
                    };
                    if let Err(e) = m.hold_with_media(*key, held, sound) {
                        debug!(error = %e, "media channel gone");
                    }
                }
            }
            Action::Unbridge { call } => {
                self.ip_media.unrelay(call);
                self.join_ended(call);
                self.pending_bridges.remove(&call);
                self.pending_relays.remove(&call);
                if let (Some(m), Some(key)) = (&mut self.media, self.bridges.remove(&call)) {
                    match m.remove_channel(key) {
                        Ok(()) => {
                            self.unbridging.insert(key, call);
                        }
                        Err(e) => debug!(error = %e, "media channel already gone"),
                    }
                }
            }
            Action::Answered { call } => {
                if let Some(args) = self.pending_bridges.get_mut(&call) {
                    args.answered = true;
                } else if let (Some(&key), Some(media)) = (self.bridges.get(&call), &mut self.media)
                {
                    if let Err(e) = media.set_rtp_timeout(key, self.rtp_timeout) {
                        warn!(%call, error = %e, "RTP timeout not armed");
                    }
                }
            }
            Action::Merged { from, into } => {
                // The joined call's bridge, relay or hairpin waits for what the merged
                // call's old bridge or relay still holds, as for its own.
                for c in self.unbridging.values_mut().filter(|c| **c == from) {
                    *c = into;
                }
                self.ip_media.merged(from, into);
            }
            Action::Deliver { call, leg, msg } => {
                if let Some(s) = self.sips.iter_mut().find(|s| s.leg.owns(leg)) {
                    match &msg {
                        // `media = "direct"`: the H.323 peer's RTP address goes into our
                        // SDP answer, so the SIP UA sends straight to it.
                        Delivery::Connect {
                            media: Some(Media::Rtp { remote, law, .. }),
                        }
                        | Delivery::Progress {
                            media: Some(Media::Rtp { remote, law, .. }),
                            ..
                        } => {
                            let direct = core.other_leg(leg).is_some_and(|o| {
                                self.h323
                                    .as_ref()
                                    .is_some_and(|h| h.leg.owns(o) && h.leg.rtp_port(o).is_none())
                            });
                            if direct && s.leg.answer_with_address(leg, *remote, *law) {
                                debug!(%call, %remote, "SIP answer names the H.323 peer's RTP");
                            }
                        }
                        // RFC 4733 in a relayed call's RTP rather than SIP INFO.
                        Delivery::Digits(d) if self.ip_media.relay_digits(call, leg, d) => return,
                        _ => {}
                    }
                    s.leg.deliver(&mut s.ep, now, leg, msg);
                } else if let Some(d) = self.dchans.iter_mut().find(|d| d.leg.owns(leg)) {
                    // Digits for the PSTN party: DTMF tones on its B-channel.
                    if let Delivery::Digits(digits) = &msg {
                        if let Some(key) = self.ip_media.channel_of(call) {
                            self.ip_media.play_inband(now, key, digits);
                        }
                    }
                    d.leg.deliver(now, leg, msg);
                } else if let Some(h) = self.h323.as_mut().filter(|h| h.leg.owns(leg)) {
                    h.leg.deliver(core, now, leg, msg);
                }
            }
        }
    }
}

impl Signalling {
    /// A line alarm on a span (`DAHDI_EVENT_ALARM`/`NOALARM` on its D-channel: LOS, AIS,
    /// red/yellow). Layer 1 is gone, so its B-channels carry nothing: they go out of
    /// service and the span's calls are cleared at once with cause 27, destination out of
    /// order (what Q.931 §5.8.8 gives calls whose data link does not come back), rather
    /// than waiting for LAPD to notice and for T309. When the alarm clears they are back
    /// in service if the D-channel is up (otherwise when it comes up: `LinkUp`).
    fn span_alarm(&mut self, core: &mut Core, now: Instant, span: dahdi_driver::SpanId, on: bool) {
        const DESTINATION_OUT_OF_ORDER: u8 = 27;
        let link_up = self
            .dchans
            .iter_mut()
            .find(|d| d.leg.span() == span)
            .is_some_and(|d| d.leg.interface().is_link_up());
        if on {
            warn!(%span, "span alarm: channels out of service, calls cleared");
            core.set_span_alarm(span, true);
            let calls: Vec<CallId> = core
                .calls()
                .into_iter()
                .filter(|c| c.channels.iter().any(|ch| ch.span == span))
                .map(|c| c.id)
                .collect();
            for call in calls {
                core.hangup(now, call, DESTINATION_OUT_OF_ORDER);
            }
        } else {
            info!(%span, link_up, "span alarm cleared");
            if link_up {
                core.set_span_alarm(span, false);
            }
        }
        if let Some(s) = lock(&self.shared.spans)
            .iter_mut()
            .find(|s| s.span == span.0)
        {
            s.alarm = on;
        }
    }

    /// RFC 3891 across trunks: an INVITE on trunk `i` whose `Replaces` names no dialog of
    /// that trunk but one of another SIP trunk of ours: that dialog's leg if the other
    /// trunk's allow-list takes the INVITE's `source` (its own security rules: the
    /// replacing party could have called it there), else 403 (RFC 3891 §6). `None` when
    /// the INVITE has no `Replaces` or trunk `i` answers it itself.
    fn replaced_elsewhere(
        &self,
        i: usize,
        invite: &crate::sip::SipMessage,
        source: std::net::IpAddr,
    ) -> Option<Result<crate::core::LegId, u16>> {
        let r = invite.get::<crate::sip::header::Replaces>().ok()??;
        let own = &self.sips[i];
        if own.leg.dialog_to_replace(&own.ep, &r) != Err(481) {
            return None;
        }
        self.sips.iter().enumerate().find_map(|(j, s)| {
            if j == i {
                return None;
            }
            match s.leg.dialog_to_replace(&s.ep, &r) {
                Err(481) => None,
                Ok(_) if !s.guard.allows(source) => {
                    warn!(
                        trunk = s.leg.trunk(),
                        %source,
                        "Replaces from a source the dialog's trunk does not allow"
                    );
                    Some(Err(403))
                }
                found => Some(found),
            }
        })
    }

    /// Whether the call's previous bridge or relay still holds a B-channel or an RTP port
    /// that a new bridge or relay of the call needs (after a transfer).
    fn ports_held(&self, call: CallId) -> bool {
        self.unbridging.values().any(|c| *c == call) || self.ip_media.unrelaying(call)
    }

    /// The call's previous bridge or relay let go of its B-channel or ports: its bridge or
    /// relay waiting for them is made, once nothing of the call is held any more.
    fn make_pending(&mut self, call: CallId) {
        if self.ports_held(call) {
            return;
        }
        if let Some(b) = self.pending_bridges.remove(&call) {
            self.bridge(call, b);
        }
        if let Some(r) = self.pending_relays.remove(&call) {
            self.relay(call, r);
        }
    }

    /// A SIP or H.323 leg's RTP port, while it has one.
    fn rtp_port(&self, leg: crate::core::LegId) -> Option<u16> {
        self.sips
            .iter()
            .find_map(|s| s.leg.rtp_port(leg))
            .or_else(|| self.h323.as_ref().and_then(|h| h.leg.rtp_port(leg)))
    }

    /// Relay the RTP of a call between two IP legs when both anchor their media (a port
    /// of their own); nothing when one passes its media through.
    fn relay(&mut self, call: CallId, args: RelayArgs) {
        let RelayArgs {
            a,
            a_media,
            b,
            b_media,
        } = args;
        let port = |leg| self.rtp_port(leg);
        let through = |leg| {
            self.h323
                .as_ref()
                .is_some_and(|h| h.leg.passes_media_through(leg))
        };
        match (port(a), port(b)) {
            _ if through(a) || through(b) => {
                debug!(%call, "media passed through: nothing to relay")
            }
            (Some(pa), Some(pb)) => {
                self.ip_media
                    .relay(call, (a, a_media), (b, b_media), (pa, pb), &self.rtp_pool)
            }
            _ => debug!(%call, "media passed through: nothing to relay"),
        }
    }

    /// Hand an answered call's B-channel and RTP stream to the media engine.
    fn bridge(&mut self, call: CallId, args: BridgeArgs) {
        let BridgeArgs {
            channel,
            rtp_leg,
            remote,
            law,
            telephone_event,
            bearer,
            answered,
        } = args;
        let Some(port) = self.rtp_port(rtp_leg) else {
            return;
        };
        let Some(media) = &mut self.media else {
            return;
        };
        let Some(d) = self.dchans.iter().find(|d| d.leg.span() == channel.span) else {
            return;
        };
        let tdm = match d.device.open_channel(
            ChannelId {
                span: d.dev_span,
                timeslot: channel.timeslot,
            },
            ChannelMode::Clear {
                blocksize: 160,
                law: d.law,
            },
        ) {
            Ok(c) => c,
            Err(e) => {
                warn!(%call, error = %e, "B-channel not opened; call without media");
                return;
            }
        };
        // The socket an ended call handed back on this port (`RtpPortPool::give_back`),
        // emptied of its stale datagrams, or a new one.
        let socket = match self.rtp_pool.bind(port) {
            Ok(s) => s,
            Err(e) => {
                warn!(%call, port, error = %e, "RTP port not bound; call without media");
                return;
            }
        };
        let mut cfg = ChannelConfig::voice(
            tdm,
            d.law,
            socket,
            remote,
            law,
            PayloadType::g711(law),
            telephone_event.and_then(PayloadType::new),
        );
        if self.h323.as_ref().is_some_and(|h| h.leg.owns(rtp_leg)) {
            // The H.323 leg sends digits as UserInputIndication: not as RFC 2833 events
            // (or tones) in the RTP too.
            cfg.dtmf = DtmfMode::Signalling;
        }
        // The echo canceller serves speech: a 3.1 kHz audio call (fax, modem) or a data
        // call needs the signal untouched (its own echo control, V.8/T.30 tones that an
        // adapting filter would distort), as DAHDI turns it off on such bearers.
        let speech = bearer == crate::core::Bearer::Speech;
        cfg.echo_cancel = speech;
        if !speech {
            // Nor DTMF detection: fax and modem tones, or data, are no digits.
            cfg.dtmf = DtmfMode::Off;
        }
        // An early-media bridge may hear no RTP until the answer (RFC 3960): the timeout
        // starts with the answer (`Action::Answered`).
        cfg.rtp_timeout = if answered { self.rtp_timeout } else { None };
        match media.add_channel(cfg) {
            Ok(key) => {
                debug!(%call, %channel, %remote, "media bridged");
                self.bridges.insert(call, key);
                self.rtp_sockets.insert(key, (port, rtp_leg));
                self.ip_media.bridged(key, call, rtp_leg);
            }
            Err(e) => warn!(%call, error = %e, "media engine refused the channel"),
        }
    }
}

/// The next H.323 connection event; never ready without H.323.
/// H.323 connection events handled in one turn at most.
const H323_BATCH: usize = 256;

/// The next message of a channel the task may not have (H.323 unconfigured; taken out
/// while the loop runs): none ever without one.
async fn recv_from<T>(rx: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// One HDLC frame if one is waiting; channel events met on the way go to `on_event`.
fn read_frame_events(
    chan: &mut dyn Channel,
    buf: &mut [u8],
    on_event: &mut dyn FnMut(DahdiEvent),
) -> Option<usize> {
    loop {
        match chan.read(buf) {
            Ok(n) => return Some(n),
            Err(ChanError::EventPending) => match chan.get_event() {
                Ok(Some(ev)) => {
                    debug!(channel = %chan.id(), ?ev, "D-channel event");
                    on_event(ev);
                }
                _ => return None,
            },
            Err(ChanError::WouldBlock) => return None,
            Err(e) => {
                debug!(channel = %chan.id(), error = %e, "D-channel read");
                return None;
            }
        }
    }
}

fn write_frame(chan: &mut dyn Channel, frame: &[u8]) {
    for _ in 0..2 {
        match chan.write(frame) {
            Ok(_) => return,
            Err(ChanError::EventPending) => {
                let _ = chan.get_event();
            }
            Err(e) => {
                warn!(channel = %chan.id(), error = %e, "D-channel frame lost");
                return;
            }
        }
    }
}

/// A call the core sent to a leg the daemon does not run (no SIP or H.323 side
/// configured, or no D-channel on the span) goes back to the core released with cause 41,
/// temporary failure (Q.850).
fn no_leg_for(core: &mut Core, now: Instant, leg: crate::core::LegId) {
    core.handle(
        now,
        leg,
        Message::Release(crate::core::Reason::Q850(
            crate::core::cause::TEMPORARY_FAILURE,
        )),
    );
}

/// A channel as `ctl` names it (`channel S:T out`).
fn ctl_channel(c: dahdi_driver::ChannelId) -> String {
    format!("{}:{}", c.span.0, c.timeslot.0)
}

/// One span's line of the `ctl audit` report.
fn audit_line(span: dahdi_driver::SpanId, fixes: &crate::leg::isdn::AuditFixes) -> String {
    let mut parts = Vec::new();
    if !fixes.restarted.is_empty() {
        let chans: Vec<String> = fixes.restarted.iter().map(|&c| ctl_channel(c)).collect();
        parts.push(format!("restarted {}", chans.join(" ")));
    }
    if !fixes.cleared.is_empty() {
        let calls: Vec<String> = fixes.cleared.iter().map(|c| c.to_string()).collect();
        parts.push(format!("cleared {} (cause 41)", calls.join(" ")));
    }
    if fixes.suspects > 0 {
        parts.push(format!(
            "{} out of step (put right if the next audit still finds it)",
            fixes.suspects
        ));
    }
    if parts.is_empty() {
        parts.push("in step".to_string());
    }
    format!("span {}: {}\n", span.0, parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dahdi_driver::{Framing, LineCoding, SpanConfig};

    #[test]
    fn an_audit_line_says_what_was_put_right_and_what_waits() {
        use crate::leg::isdn::AuditFixes;
        let span = dahdi_driver::SpanId(2);
        assert_eq!(
            audit_line(span, &AuditFixes::default()),
            "span 2: in step\n"
        );
        let fixes = AuditFixes {
            restarted: vec![dahdi_driver::ChannelId {
                span,
                timeslot: dahdi_driver::Timeslot(5),
            }],
            cleared: vec![crate::core::CallId(7)],
            suspects: 1,
        };
        assert_eq!(
            audit_line(span, &fixes),
            "span 2: restarted 2:5; cleared call-7 (cause 41); 1 out of step (put right if \
             the next audit still finds it)\n"
        );
    }

    #[test]
    fn line_mismatch_names_each_setting_that_differs() {
        let ours = SpanConfig::e1_pri(1);
        assert!(line_mismatch(&ours, &ours).is_empty());
        let device = SpanConfig {
            crc4: !ours.crc4,
            coding: LineCoding::Ami,
            // Not compared: DAHDI does not report the timing priority back.
            timing_priority: 7,
            ..ours.clone()
        };
        let diff = line_mismatch(&ours, &device);
        assert_eq!(diff.len(), 2, "{diff:?}");
        assert!(diff[0].starts_with("coding: Hdb3 vs Ami"), "{diff:?}");
        assert!(diff[1].starts_with("crc4: "), "{diff:?}");
        let t1 = SpanConfig {
            kind: SpanKind::T1,
            framing: Framing::Esf,
            coding: LineCoding::B8zs,
            ..ours.clone()
        };
        assert_eq!(line_mismatch(&ours, &t1).len(), 3);
    }
}
