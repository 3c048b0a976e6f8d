//! The signalling task: one tokio task owns the SIP endpoints, the D-channel interfaces and
//! drives the core (shared with the control socket through a mutex). Sans-IO objects in,
//! a thin loop around them: read → handle → poll all → write → sleep until the next
//! deadline (STYLE.md).
//!
//! Answered calls are bridged by the media engine (B-channel ↔ RTP, `media::engine`).
//! Simulated spans (`device = { kind = "sim" }`) run on an embedded tdm-sim in real time;
//! their far end is a small PSTN switch here (q931 network side) that answers every call
//! after ringing for a second. DAHDI spans are opened through `KernelDevice`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use dahdi_driver::{
    ChanError, Channel, ChannelId, ChannelMode, Device, Event as DahdiEvent, SpanKind,
};
use q931::call::{CallHandle as QCall, Event as QEvent, Interface, InterfaceConfig};
use q931::ie::Layer1Protocol;
use q931::lapd::Role;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::{lock, Shared};
use crate::config::{Config, Device as DeviceCfg, Signalling as Side, SipTransport};
use crate::core::{Action, CallId, Core, TrunkKind};
use crate::leg::isdn::IsdnLeg;
use crate::leg::sip::SipLeg;
use crate::media::engine::{ChannelConfig, ChannelKey, MediaEngine, MediaEvent};
use crate::media::Law;
use crate::rtp::PayloadType;
use crate::sip::transaction::Timers;
use crate::sip::transport::{Listen, Protocol, Target, Transport, TransportEvent};
use crate::sip::ua::{Endpoint, EndpointConfig};

/// How often D-channels are polled for frames (they are non-blocking).
const DCHANNEL_POLL: Duration = Duration::from_millis(2);

struct SipSide {
    leg: SipLeg,
    ep: Endpoint,
    transport: Transport,
}

struct Dchan {
    leg: IsdnLeg,
    chan: Box<dyn Channel>,
    /// The span's device and its number there, to open B-channels for the media engine.
    device: Box<dyn Device>,
    dev_span: dahdi_driver::SpanId,
    law: dahdi_driver::Law,
}

/// The simulated PSTN switch on a simulated span's far end.
struct Switch {
    span: u16,
    law: Layer1Protocol,
    iface: Interface,
    chan: Box<dyn Channel>,
    /// Calls to answer, and when.
    answer_at: Vec<(Instant, QCall)>,
    /// Calls it placed: cleared with cause 16 this long after they are answered.
    placed: Vec<QCall>,
    hangup_at: Vec<(Instant, QCall)>,
}

/// Everything the signalling task owns.
pub struct Signalling {
    shared: Arc<Shared>,
    sips: Vec<SipSide>,
    incoming: mpsc::Receiver<(usize, TransportEvent)>,
    dchans: Vec<Dchan>,
    switches: Vec<Switch>,
    /// The media threads (B-channel ↔ RTP), when a span could give them a clock.
    media: Option<MediaEngine>,
    bridges: HashMap<CallId, ChannelKey>,
    /// Keeps the simulator's clock running.
    _sim: Option<tdm_sim::Sim>,
}

fn iface_config(span: &crate::config::Span, role: Role) -> InterfaceConfig {
    match span.kind {
        SpanKind::T1 => InterfaceConfig::ni2_t1(role),
        _ => InterfaceConfig::euro_isdn_e1(role),
    }
}

fn layer1(law: dahdi_driver::Law) -> Layer1Protocol {
    match law {
        dahdi_driver::Law::MuLaw => Layer1Protocol::G711MuLaw,
        _ => Layer1Protocol::G711ALaw,
    }
}

impl Signalling {
    /// Open the spans' D-channels and bind the SIP trunks.
    pub async fn start(shared: Arc<Shared>, config: &Config) -> anyhow::Result<Signalling> {
        let now = Instant::now();
        // Simulated spans, in configuration order, are the simulator's spans 1, 2, ….
        let sim_spans: Vec<&crate::config::Span> = config
            .spans
            .iter()
            .filter(|s| s.device == DeviceCfg::Simulator)
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
        let mut media_tickers = Vec::new();
        for span in &config.spans {
            let role = match span.signalling {
                Side::PriCpe => Role::User,
                Side::PriNet => Role::Network,
            };
            let (near, far): (Box<dyn Device>, Option<Box<dyn Device>>) = match &span.device {
                DeviceCfg::Simulator => {
                    let Some(sim) = &sim else { continue };
                    (Box::new(sim.near()), Some(Box::new(sim.far())))
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
            let dch = ChannelId {
                span: dev_span,
                timeslot: span.dchannel,
            };
            let chan = near
                .open_channel(dch, ChannelMode::HdlcFcs)
                .with_context(|| format!("D-channel of span {}", span.id.0))?;
            let mut iface = Interface::new(iface_config(span, role));
            iface.start(now);
            if media_tickers.is_empty() {
                for _ in 0..config.general.media_threads.max(1) {
                    match near.ticker() {
                        Ok(t) => media_tickers.push(t),
                        Err(e) => warn!(error = %e, "no media clock from this device"),
                    }
                }
            }
            dchans.push(Dchan {
                leg: IsdnLeg::new(span.id, iface, layer1(span.law)),
                chan,
                device: near,
                dev_span,
                law: span.law,
            });
            if let Some(far) = far {
                let chan = far
                    .open_channel(dch, ChannelMode::HdlcFcs)
                    .with_context(|| format!("far D-channel of span {}", span.id.0))?;
                let other = match role {
                    Role::User => Role::Network,
                    Role::Network => Role::User,
                };
                let mut iface = Interface::new(iface_config(span, other));
                iface.start(now);
                switches.push(Switch {
                    span: span.id.0,
                    law: layer1(span.law),
                    iface,
                    chan,
                    answer_at: Vec::new(),
                    placed: Vec::new(),
                    hangup_at: Vec::new(),
                });
            }
            info!(span = span.id.0, ?role, "D-channel opened");
        }
        let (tx, incoming) = mpsc::channel(4096);
        let mut sips = Vec::new();
        for (i, t) in config.sip_trunks.iter().enumerate() {
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
                    anyhow::bail!(
                        "SIP trunk {}: TLS needs certificates, not configurable yet",
                        t.name
                    )
                }
            };
            let (transport, mut rx) = Transport::bind(listen)
                .await
                .with_context(|| format!("SIP trunk {} on {}", t.name, t.listen))?;
            let local: SocketAddr = transport.local_addr(protocol).unwrap_or(t.listen);
            let ep = Endpoint::new(EndpointConfig {
                advertise: vec![(protocol, local)],
                contact_user: "gatewayd".into(),
                user_agent: concat!("gatewayd/", env!("CARGO_PKG_VERSION")).into(),
                timers: Timers::default(),
            });
            let law = config
                .spans
                .first()
                .map_or(Law::ALaw, |s| crate::media::engine::law_of(s.law));
            let leg = SipLeg::new(
                &t.name,
                t.numbering.clone(),
                t.peers.clone(),
                protocol,
                local.ip(),
                law,
                (config.general.rtp_port_min, config.general.rtp_port_max),
            );
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(ev) = rx.recv().await {
                    if tx.send((i, ev)).await.is_err() {
                        break;
                    }
                }
            });
            info!(trunk = %t.name, addr = %local, "SIP trunk listening");
            sips.push(SipSide { leg, ep, transport });
        }
        let media = if media_tickers.is_empty() {
            None
        } else {
            Some(MediaEngine::start(media_tickers).context("media threads")?)
        };
        Ok(Signalling {
            shared,
            sips,
            incoming,
            dchans,
            switches,
            media,
            bridges: HashMap::new(),
            _sim: sim,
        })
    }

    /// Run forever.
    pub async fn run(mut self) {
        let mut out: Vec<(usize, Target, bytes::Bytes)> = Vec::new();
        loop {
            let now = Instant::now();
            let deadline = {
                let shared = self.shared.clone();
                let mut core = lock(&shared.core);
                self.turn(&mut core, now, &mut out)
            };
            for (i, target, bytes) in out.drain(..) {
                if let Err(e) = self.sips[i].transport.send(target, bytes).await {
                    debug!(error = %e, "SIP send failed");
                }
            }
            let wake = deadline
                .unwrap_or(now + DCHANNEL_POLL)
                .min(now + DCHANNEL_POLL);
            tokio::select! {
                ev = self.incoming.recv() => match ev {
                    Some((i, TransportEvent::Message(m))) => {
                        self.sips[i].ep.handle_incoming(Instant::now(), m);
                    }
                    Some((_, TransportEvent::Malformed(m))) => {
                        debug!(error = %m.error, "malformed SIP dropped");
                    }
                    Some((_, TransportEvent::Closed(t))) => debug!(?t, "SIP connection closed"),
                    None => {
                        warn!("SIP transports closed");
                        return;
                    }
                },
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
            }
        }
    }

    /// One turn of the loop: everything due and everything in flight. Returns the next
    /// deadline.
    fn turn(
        &mut self,
        core: &mut Core,
        now: Instant,
        out: &mut Vec<(usize, Target, bytes::Bytes)>,
    ) -> Option<Instant> {
        let mut buf = [0u8; 512];
        let mut alarms: Vec<(dahdi_driver::SpanId, bool)> = Vec::new();
        for d in &mut self.dchans {
            if d.leg.interface().poll_timeout().is_some_and(|t| t <= now) {
                d.leg.handle_timeout(core, now);
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
        let asked: Vec<(u16, String)> = std::mem::take(&mut *lock(&self.shared.sim_calls));
        for (span, number) in asked {
            match self.switches.iter_mut().find(|s| s.span == span) {
                Some(s) => s.call(now, &number),
                None => warn!(span, "simcall: no simulated switch on that span"),
            }
        }
        for s in &mut self.switches {
            if s.iface.poll_timeout().is_some_and(|t| t <= now) {
                s.iface.handle_timeout(now);
            }
            while let Some(n) = read_frame(s.chan.as_mut(), &mut buf) {
                s.iface.handle_frame(now, &buf[..n]);
            }
            s.run(now);
        }
        for side in &mut self.sips {
            if side.ep.poll_timeout().is_some_and(|t| t <= now) {
                side.ep.handle_timeout(now);
            }
        }
        // Media events: an RTP timeout clears the call (cause 41, temporary failure).
        if let Some(m) = &self.media {
            while let Ok(ev) = m.events().try_recv() {
                if let MediaEvent::RtpTimeout { key, .. } = ev {
                    if let Some((call, _)) = self.bridges.iter().find(|(_, k)| **k == key) {
                        warn!(%call, "RTP timeout");
                        core.hangup(now, *call, crate::core::cause::TEMPORARY_FAILURE);
                    }
                }
            }
        }
        // Events and actions until quiet.
        loop {
            let mut moved = false;
            for side in &mut self.sips {
                while let Some(ev) = side.ep.poll_event() {
                    moved = true;
                    side.leg.on_event(&mut side.ep, core, now, ev);
                }
            }
            while let Some(a) = core.poll_action() {
                moved = true;
                self.dispatch(core, now, a);
            }
            for d in &mut self.dchans {
                d.leg.drain(core, now);
            }
            if !moved {
                break;
            }
        }
        let mut next: Option<Instant> = None;
        let mut note = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        for d in &mut self.dchans {
            while let Some(f) = d.leg.interface().poll_transmit() {
                write_frame(d.chan.as_mut(), &f);
            }
            note(d.leg.interface().poll_timeout());
        }
        for s in &mut self.switches {
            while let Some(f) = s.iface.poll_transmit() {
                write_frame(s.chan.as_mut(), &f);
            }
            note(s.iface.poll_timeout());
            note(s.answer_at.iter().map(|(t, _)| *t).min());
            note(s.hangup_at.iter().map(|(t, _)| *t).min());
        }
        for (i, side) in self.sips.iter_mut().enumerate() {
            while let Some((target, bytes)) = side.ep.poll_transmit() {
                out.push((i, target, bytes));
            }
            note(side.ep.poll_timeout());
        }
        // Span status for ctl and metrics.
        let mut spans = lock(&self.shared.spans);
        let up: HashMap<u16, bool> = self
            .dchans
            .iter_mut()
            .map(|d| (d.leg.span().0, d.leg.interface().is_link_up()))
            .collect();
        for s in spans.iter_mut() {
            s.dchannel_up = up.get(&s.span).copied().unwrap_or(false);
        }
        next
    }

    fn dispatch(&mut self, core: &mut Core, now: Instant, a: Action) {
        match a {
            Action::Originate {
                leg,
                trunk,
                kind: TrunkKind::Sip,
                setup,
                ..
            } => match self.sips.iter_mut().find(|s| s.leg.trunk() == trunk) {
                Some(s) => s.leg.originate(&mut s.ep, core, now, leg, &setup),
                None => core.handle(
                    now,
                    leg,
                    crate::core::Message::Release(crate::core::Reason::Q850(
                        crate::core::cause::TEMPORARY_FAILURE,
                    )),
                ),
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
                    None => core.handle(
                        now,
                        leg,
                        crate::core::Message::Release(crate::core::Reason::Q850(
                            crate::core::cause::TEMPORARY_FAILURE,
                        )),
                    ),
                }
            }
            Action::Bridge {
                call,
                channel,
                rtp_leg,
                remote,
                law,
                telephone_event,
            } => self.bridge(call, channel, rtp_leg, remote, law, telephone_event),
            Action::Unbridge { call } => {
                if let (Some(m), Some(key)) = (&mut self.media, self.bridges.remove(&call)) {
                    if let Err(e) = m.remove_channel(key) {
                        debug!(error = %e, "media channel already gone");
                    }
                }
            }
            Action::Deliver { leg, msg, .. } => {
                if let Some(s) = self.sips.iter_mut().find(|s| s.leg.owns(leg)) {
                    s.leg.deliver(&mut s.ep, now, leg, msg);
                } else if let Some(d) = self.dchans.iter_mut().find(|d| d.leg.owns(leg)) {
                    d.leg.deliver(now, leg, msg);
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

    /// Hand an answered call's B-channel and RTP stream to the media engine.
    fn bridge(
        &mut self,
        call: CallId,
        channel: ChannelId,
        rtp_leg: crate::core::LegId,
        remote: SocketAddr,
        law: Law,
        telephone_event: Option<u8>,
    ) {
        let Some(media) = &mut self.media else {
            return;
        };
        let Some(port) = self.sips.iter().find_map(|s| s.leg.rtp_port(rtp_leg)) else {
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
        let socket = match std::net::UdpSocket::bind(("0.0.0.0", port)) {
            Ok(s) => s,
            Err(e) => {
                warn!(%call, port, error = %e, "RTP port not bound; call without media");
                return;
            }
        };
        let pt = match law {
            Law::ALaw => PayloadType::PCMA,
            Law::MuLaw => PayloadType::PCMU,
        };
        let cfg = ChannelConfig::voice(
            tdm,
            crate::media::engine::law_of(d.law),
            socket,
            remote,
            law,
            pt,
            telephone_event.and_then(PayloadType::new),
        );
        match media.add_channel(cfg) {
            Ok(key) => {
                info!(%call, %channel, %remote, "media bridged");
                self.bridges.insert(call, key);
            }
            Err(e) => warn!(%call, error = %e, "media engine refused the channel"),
        }
    }
}

impl Switch {
    /// Place a call to `number` towards the gateway (en bloc, any channel).
    fn call(&mut self, now: Instant, number: &str) {
        let req = q931::call::SetupRequest {
            called: Some(q931::ie::CalledPartyNumber::new(
                q931::ie::TypeOfNumber::Unknown,
                q931::ie::NumberingPlan::Unknown,
                number,
            )),
            calling: Some(q931::ie::CallingPartyNumber::new(
                q931::ie::TypeOfNumber::National,
                q931::ie::NumberingPlan::Isdn,
                "301234567",
            )),
            bearer: q931::ie::BearerCapability::speech(self.law),
            channel: q931::call::ChannelPref::Any,
            sending_complete: true,
        };
        match self.iface.setup(now, req) {
            Ok(c) => self.placed.push(c),
            Err(e) => warn!(error = %e, "simulated switch could not place the call"),
        }
    }

    /// The simulated switch: calls it placed are cleared (cause 16) a second after they
    /// are answered; every call it receives rings (ALERTING with in-band tones) and is
    /// answered a second later, except numbers `0999CC` (after any prefix the trunk group
    /// adds), which it clears with Q.850 cause `CC` after CALL PROCEEDING (`099917` busy,
    /// `099934` congestion, `099901` unallocated). Clearing is the interface's own.
    fn run(&mut self, now: Instant) {
        while let Some(ev) = self.iface.poll_event() {
            match ev {
                QEvent::IncomingSetup { call, called, .. } => {
                    let _ = self.iface.proceeding(now, call);
                    let digits = called.map(|c| c.digits).unwrap_or_default();
                    let refuse = digits
                        .rfind("0999")
                        .map(|i| &digits[i + 4..])
                        .filter(|cc| cc.len() == 2)
                        .and_then(|cc| cc.parse::<u8>().ok());
                    if let Some(cause) = refuse {
                        let _ = self
                            .iface
                            .disconnect(now, call, q931::ie::CauseValue::from(cause));
                        continue;
                    }
                    let _ = self.iface.alerting(now, call, true);
                    self.answer_at.push((now + Duration::from_secs(1), call));
                }
                QEvent::Connected { call, .. } if self.placed.contains(&call) => {
                    self.hangup_at.push((now + Duration::from_secs(1), call));
                }
                QEvent::Released { call, .. } | QEvent::Disconnecting { call, .. } => {
                    self.answer_at.retain(|(_, c)| *c != call);
                    self.hangup_at.retain(|(_, c)| *c != call);
                    self.placed.retain(|c| *c != call);
                }
                other => debug!(?other, "simulated switch"),
            }
        }
        let due: Vec<QCall> = self
            .answer_at
            .iter()
            .filter(|(t, _)| *t <= now)
            .map(|(_, c)| *c)
            .collect();
        self.answer_at.retain(|(t, _)| *t > now);
        for c in due {
            let _ = self.iface.connect(now, c);
        }
        let done: Vec<QCall> = self
            .hangup_at
            .iter()
            .filter(|(t, _)| *t <= now)
            .map(|(_, c)| *c)
            .collect();
        self.hangup_at.retain(|(t, _)| *t > now);
        for c in done {
            let _ = self
                .iface
                .disconnect(now, c, q931::ie::CauseValue::from(16));
        }
    }
}

/// One HDLC frame if one is waiting.
fn read_frame(chan: &mut dyn Channel, buf: &mut [u8]) -> Option<usize> {
    read_frame_events(chan, buf, &mut |_| {})
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
