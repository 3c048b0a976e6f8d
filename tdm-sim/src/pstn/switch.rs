//! The switch: Q.931 network side on the far end's D-channels, the number plan, the
//! B-channel media, and the reports.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use dahdi_driver::{
    ChanError, Channel, ChannelId, ChannelMode, Device, Event as ChanEvent, Law, SpanConfig,
    SpanId, SpanKind, Timeslot,
};
use q931::call::{CallHandle, ChannelPref, Event, Interface, InterfaceConfig, SetupRequest};
use q931::ie::{
    BearerCapability, CalledPartyNumber, CallingPartyNumber, CauseValue, Layer1Protocol,
    NumberingPlan as Npi, ProgressDescription, TypeOfNumber,
};
use q931::lapd::Role;
use tracing::{debug, info, warn};

use super::media::ToneSource;
use super::plan::{Behaviour, NumberPlan};
use super::report::{CallId, CallReport, Direction, SwitchEvent};
use super::SwitchError;

/// How a [`Switch`] is set up.
#[derive(Debug, Clone)]
pub struct SwitchConfig {
    /// The spans of the far device the switch serves; empty = all of them.
    pub spans: Vec<SpanId>,
    pub plan: NumberPlan,
    /// B-channel block size in samples (DAHDI default 160 = 20 ms).
    pub blocksize: usize,
    /// Level of the tones the switch plays after answer (dBm0).
    pub tone_dbm0: f64,
    /// The tone the switch plays on calls it placed, once the gateway answers.
    pub outgoing_tone_hz: f64,
    /// At most this many received samples are kept per call (default 60 s).
    pub record_limit: usize,
}

impl Default for SwitchConfig {
    fn default() -> Self {
        SwitchConfig {
            spans: Vec::new(),
            plan: NumberPlan::default(),
            blocksize: 160,
            tone_dbm0: -10.0,
            outgoing_tone_hz: 1000.0,
            record_limit: 8000 * 60,
        }
    }
}

/// One span's D-channel and its network-side Q.931 interface.
struct SpanSide {
    span: SpanId,
    kind: SpanKind,
    law: Law,
    iface: Interface,
    dchan: Box<dyn Channel>,
    /// Frames the HDLC transmit queue had no room for yet.
    backlog: VecDeque<Vec<u8>>,
    link_up: bool,
}

/// A step the switch itself schedules for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// `Behaviour::Answer`: send CONNECT.
    Answer,
    /// `Behaviour::NoAnswer`: give up with cause 19.
    NoAnswerTimeout,
}

/// The switch's B-channel of a call.
struct Media {
    chan: Box<dyn Channel>,
    source: ToneSource,
    /// The block being written and how much of it went out; the tone stays continuous
    /// whatever the channel takes at a time.
    block: Vec<u8>,
    written: usize,
}

struct LiveCall {
    id: CallId,
    span: usize,
    handle: CallHandle,
    step: Option<(Instant, Step)>,
    /// The tone to play once the call is connected.
    tone_hz: f64,
    media: Option<Media>,
}

/// A PSTN switch on the far end of simulated spans (see the [module docs](super)).
pub struct Switch {
    cfg: SwitchConfig,
    device: Box<dyn Device>,
    spans: Vec<SpanSide>,
    live: Vec<LiveCall>,
    by_handle: HashMap<(usize, CallHandle), CallId>,
    reports: Vec<CallReport>,
    events: VecDeque<SwitchEvent>,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Switch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Switch")
            .field(
                "spans",
                &self.spans.iter().map(|s| s.span).collect::<Vec<_>>(),
            )
            .field("live_calls", &self.live.len())
            .field("calls", &self.reports.len())
            .finish()
    }
}

impl Switch {
    /// Takes the far end `device` (e.g. `sim.far()`): opens the D-channel of each span
    /// (configuring the span as an E1/T1 PRI if nobody did) and starts the data links.
    pub fn new(
        device: impl Device + 'static,
        cfg: SwitchConfig,
        now: Instant,
    ) -> Result<Self, SwitchError> {
        let device: Box<dyn Device> = Box::new(device);
        let ids = if cfg.spans.is_empty() {
            device.spans()?
        } else {
            cfg.spans.clone()
        };
        let mut spans = Vec::new();
        for span in ids {
            let status = device.span_status(span)?;
            if status.configured.is_none() {
                let conf = match status.kind {
                    SpanKind::E1 => SpanConfig::e1_pri(0),
                    SpanKind::T1 => SpanConfig::t1_pri(0),
                };
                device.configure_span(span, &conf)?;
            }
            let dchan = device.open_channel(
                ChannelId {
                    span,
                    timeslot: status.kind.dchannel(),
                },
                ChannelMode::HdlcFcs,
            )?;
            // ETSI EN 300 403 on E1, NI-2 on T1, as the network side.
            let mut iface = Interface::new(match status.kind {
                SpanKind::E1 => InterfaceConfig::euro_isdn_e1(Role::Network),
                SpanKind::T1 => InterfaceConfig::ni2_t1(Role::Network),
            });
            iface.start(now);
            info!(%span, kind = ?status.kind, "pstn switch: D-channel open");
            spans.push(SpanSide {
                span,
                kind: status.kind,
                law: status.kind.default_law(),
                iface,
                dchan,
                backlog: VecDeque::new(),
                link_up: false,
            });
        }
        Ok(Switch {
            cfg,
            device,
            spans,
            live: Vec::new(),
            by_handle: HashMap::new(),
            reports: Vec::new(),
            events: VecDeque::new(),
            buf: vec![0u8; 4096],
        })
    }

    /// The spans served.
    pub fn spans(&self) -> Vec<SpanId> {
        self.spans.iter().map(|s| s.span).collect()
    }

    /// Whether the D-channel data link of `span` is up.
    pub fn is_link_up(&self, span: SpanId) -> bool {
        self.spans.iter().any(|s| s.span == span && s.link_up)
    }

    pub fn plan(&self) -> &NumberPlan {
        &self.cfg.plan
    }

    /// Replaces the number plan (for calls offered from now on).
    pub fn set_plan(&mut self, plan: NumberPlan) {
        self.cfg.plan = plan;
    }

    /// The report of one call.
    pub fn report(&self, call: CallId) -> Option<&CallReport> {
        self.reports.get(call.0 as usize)
    }

    /// Every call so far, in order.
    pub fn reports(&self) -> &[CallReport] {
        &self.reports
    }

    /// Calls not cleared yet.
    pub fn live_calls(&self) -> usize {
        self.live.len()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<SwitchEvent> {
        self.events.pop_front()
    }

    /// The next deadline of the signalling (Q.931/Q.921 timers and the plan's delays).
    /// While a call has a B-channel the switch must also be polled at least every block
    /// time (`blocksize / 8` ms) to keep the audio flowing.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let ifaces = self.spans.iter().filter_map(|s| s.iface.poll_timeout());
        let steps = self.live.iter().filter_map(|c| c.step.map(|(t, _)| t));
        ifaces.chain(steps).min()
    }

    /// Places a call toward the gateway on the first span whose link is up: SETUP with
    /// an idle B-channel chosen by the switch (Q.931 §5.2.3.1, exclusive on a PRI).
    pub fn call(
        &mut self,
        now: Instant,
        called: &str,
        calling: &str,
    ) -> Result<CallId, SwitchError> {
        let span = self
            .spans
            .iter()
            .find(|s| s.link_up)
            .map(|s| s.span)
            .ok_or(SwitchError::LinkDown)?;
        self.call_on(now, span, called, calling)
    }

    /// Places a call toward the gateway on `span`.
    pub fn call_on(
        &mut self,
        now: Instant,
        span: SpanId,
        called: &str,
        calling: &str,
    ) -> Result<CallId, SwitchError> {
        let si = self.span_index(span)?;
        let s = &mut self.spans[si];
        if !s.link_up {
            return Err(SwitchError::LinkDown);
        }
        let l1 = match s.law {
            Law::ALaw => Layer1Protocol::G711ALaw,
            Law::MuLaw => Layer1Protocol::G711MuLaw,
        };
        let handle = s.iface.setup(
            now,
            SetupRequest {
                called: Some(CalledPartyNumber::new(
                    TypeOfNumber::Unknown,
                    Npi::Isdn,
                    called,
                )),
                calling: (!calling.is_empty())
                    .then(|| CallingPartyNumber::new(TypeOfNumber::Unknown, Npi::Isdn, calling)),
                bearer: BearerCapability::speech(l1),
                channel: ChannelPref::Any,
                sending_complete: true,
            },
        )?;
        let channel = s.iface.channel(handle);
        let law = s.law;
        let id = self.new_call(
            now,
            si,
            handle,
            Direction::ToGateway,
            called,
            calling,
            channel,
            law,
        );
        let tone = self.cfg.outgoing_tone_hz;
        if let Some(c) = self.live.iter_mut().find(|c| c.id == id) {
            c.tone_hz = tone;
        }
        info!(call = id.0, %span, called, calling, ?channel, "pstn switch: SETUP to the gateway");
        self.flush_dchannels();
        Ok(id)
    }

    /// Clears a call from the switch side with `cause` (DISCONNECT, or RELEASE COMPLETE for
    /// a call still being offered, Q.931 §5.3.2).
    pub fn hangup(
        &mut self,
        now: Instant,
        call: CallId,
        cause: CauseValue,
    ) -> Result<(), SwitchError> {
        let (si, handle) = self
            .live
            .iter()
            .find(|c| c.id == call)
            .map(|c| (c.span, c.handle))
            .ok_or(SwitchError::NoSuchCall(call))?;
        self.spans[si].iface.disconnect(now, handle, cause)?;
        if let Some(r) = self.reports.get_mut(call.0 as usize) {
            r.cause_sent = Some(cause);
        }
        if let Some(c) = self.live_mut(call) {
            c.step = None;
        }
        self.drain_interface_events(now);
        self.flush_dchannels();
        Ok(())
    }

    /// Does everything due at `now`: reads the D-channels, runs the timers, answers by the
    /// plan, moves the audio of every B-channel in use (records what arrives, keeps the
    /// transmit buffers full), and writes what the interfaces have to send.
    pub fn poll(&mut self, now: Instant) {
        self.read_dchannels(now);
        for s in &mut self.spans {
            if s.iface.poll_timeout().is_some_and(|t| t <= now) {
                s.iface.handle_timeout(now);
            }
        }
        self.drain_interface_events(now);
        self.run_steps(now);
        self.drain_interface_events(now);
        self.flush_dchannels();
        self.move_audio();
    }

    fn span_index(&self, span: SpanId) -> Result<usize, SwitchError> {
        self.spans
            .iter()
            .position(|s| s.span == span)
            .ok_or(SwitchError::NoSuchSpan(span))
    }

    fn live_mut(&mut self, id: CallId) -> Option<&mut LiveCall> {
        self.live.iter_mut().find(|c| c.id == id)
    }

    #[allow(clippy::too_many_arguments)]
    fn new_call(
        &mut self,
        now: Instant,
        span: usize,
        handle: CallHandle,
        direction: Direction,
        called: &str,
        calling: &str,
        channel: Option<u8>,
        law: Law,
    ) -> CallId {
        let id = CallId(self.reports.len() as u32);
        self.reports.push(CallReport {
            id,
            span: self.spans[span].span,
            direction,
            called: called.to_owned(),
            calling: calling.to_owned(),
            channel,
            behaviour: None,
            cause_sent: None,
            cause_received: None,
            cleared_cause: None,
            started_at: now,
            alerting_at: None,
            connected_at: None,
            cleared_at: None,
            law,
            received: Vec::new(),
            samples_sent: 0,
        });
        self.live.push(LiveCall {
            id,
            span,
            handle,
            step: None,
            tone_hz: 0.0,
            media: None,
        });
        self.by_handle.insert((span, handle), id);
        id
    }

    fn read_dchannels(&mut self, now: Instant) {
        for s in &mut self.spans {
            loop {
                match s.dchan.read(&mut self.buf) {
                    Ok(n) => s.iface.handle_frame(now, &self.buf[..n]),
                    Err(ChanError::WouldBlock) => break,
                    Err(ChanError::EventPending) => match s.dchan.get_event() {
                        Ok(Some(ev)) => log_channel_event(s.span, ev),
                        Ok(None) => break,
                        Err(e) => {
                            warn!(span = %s.span, "pstn switch: D-channel event: {e}");
                            break;
                        }
                    },
                    Err(e) => {
                        warn!(span = %s.span, "pstn switch: D-channel read: {e}");
                        break;
                    }
                }
            }
        }
    }

    fn flush_dchannels(&mut self) {
        for s in &mut self.spans {
            while let Some(f) = s.iface.poll_transmit() {
                s.backlog.push_back(f);
            }
            while let Some(f) = s.backlog.front() {
                match s.dchan.write(f) {
                    Ok(_) => {
                        s.backlog.pop_front();
                    }
                    Err(ChanError::WouldBlock) => break,
                    Err(ChanError::EventPending) => match s.dchan.get_event() {
                        Ok(Some(ev)) => log_channel_event(s.span, ev),
                        _ => break,
                    },
                    Err(e) => {
                        // A frame the channel refuses outright is lost; LAPD
                        // retransmission (T200) covers it.
                        warn!(span = %s.span, "pstn switch: D-channel write: {e}");
                        s.backlog.pop_front();
                    }
                }
            }
        }
    }

    fn drain_interface_events(&mut self, now: Instant) {
        for si in 0..self.spans.len() {
            while let Some(ev) = self.spans[si].iface.poll_event() {
                self.on_event(now, si, ev);
            }
        }
    }

    fn on_event(&mut self, now: Instant, si: usize, ev: Event) {
        let span = self.spans[si].span;
        debug!(%span, ?ev, "pstn switch: Q.931 event");
        match ev {
            Event::LinkUp => {
                self.spans[si].link_up = true;
                self.events.push_back(SwitchEvent::LinkUp { span });
            }
            Event::LinkDown => {
                self.spans[si].link_up = false;
                self.events.push_back(SwitchEvent::LinkDown { span });
            }
            Event::IncomingSetup {
                call,
                called,
                calling,
                channel,
                ..
            } => {
                let called = called.map(|c| c.digits).unwrap_or_default();
                let calling = calling.map(|c| c.digits).unwrap_or_default();
                let law = self.spans[si].law;
                let id = self.new_call(
                    now,
                    si,
                    call,
                    Direction::FromGateway,
                    &called,
                    &calling,
                    channel,
                    law,
                );
                let behaviour = self.cfg.plan.lookup(&called);
                self.reports[id.0 as usize].behaviour = Some(behaviour);
                info!(call = id.0, %span, called, calling, ?channel, ?behaviour, "pstn switch: call offered");
                self.events.push_back(SwitchEvent::Offered {
                    call: id,
                    called,
                    behaviour,
                });
                if let Err(e) = self.offer(now, si, id, call, channel, behaviour) {
                    warn!(call = id.0, "pstn switch: {e}");
                }
            }
            Event::Proceeding { call, .. } | Event::SetupAcknowledged { call, .. } => {
                if let Some(&id) = self.by_handle.get(&(si, call)) {
                    self.events.push_back(SwitchEvent::Proceeding { call: id });
                }
            }
            Event::Alerting { call, .. } => {
                if let Some(&id) = self.by_handle.get(&(si, call)) {
                    self.reports[id.0 as usize].alerting_at.get_or_insert(now);
                    self.events.push_back(SwitchEvent::Alerting { call: id });
                }
            }
            Event::Progress { .. } | Event::MoreInfo { .. } => {}
            Event::Connected { call, channel } => {
                if let Some(&id) = self.by_handle.get(&(si, call)) {
                    let r = &mut self.reports[id.0 as usize];
                    if channel.is_some() {
                        r.channel = channel;
                    }
                    if r.connected_at.is_none() {
                        r.connected_at = Some(now);
                        self.events.push_back(SwitchEvent::Connected { call: id });
                    }
                    // Calls the switch placed get their tone when the gateway answers.
                    if let Some(ch) = self.reports[id.0 as usize].channel {
                        let needs_media = self.live.iter().any(|c| c.id == id && c.media.is_none());
                        if needs_media {
                            let tone = self
                                .live
                                .iter()
                                .find(|c| c.id == id)
                                .map(|c| c.tone_hz)
                                .unwrap_or(0.0);
                            let src = ToneSource::continuous(
                                self.spans[si].law,
                                tone,
                                self.cfg.tone_dbm0,
                            );
                            self.open_media(id, si, ch, src);
                        }
                    }
                }
            }
            Event::Disconnecting { call, cause, .. } => {
                if let Some(&id) = self.by_handle.get(&(si, call)) {
                    let r = &mut self.reports[id.0 as usize];
                    if r.cause_sent.is_none() {
                        r.cause_received.get_or_insert(cause);
                    }
                }
            }
            Event::Released { call, cause } => {
                if let Some(id) = self.by_handle.remove(&(si, call)) {
                    let r = &mut self.reports[id.0 as usize];
                    r.cleared_at = Some(now);
                    if r.cause_sent.is_none() && r.cause_received.is_none() {
                        r.cause_received = cause.clone();
                    }
                    r.cleared_cause = cause.clone();
                    info!(call = id.0, cause = ?cause.as_ref().map(|c| c.value), "pstn switch: call cleared");
                    self.live.retain(|c| c.id != id);
                    self.events
                        .push_back(SwitchEvent::Cleared { call: id, cause });
                }
            }
            Event::RestartIndication { channels }
            | Event::RestartComplete { channels }
            | Event::RestartFailed { channels }
            | Event::RestartClearingExpired { channels } => {
                debug!(%span, ?channels, "pstn switch: restart");
            }
            Event::ServiceChange { .. }
            | Event::ServiceAcknowledged { .. }
            | Event::Notified { .. }
            | Event::ConnectedNumber { .. }
            | Event::ConnectedName { .. }
            | Event::CallingName { .. }
            // Only the side that invokes a transfer hears of it; this switch never does.
            | Event::TransferCompleted { .. }
            | Event::TransferFailed { .. }
            | Event::TransferInformed { .. } => {}
        }
    }

    /// The plan's opening moves for an offered call (Q.931 §5.2.5: CALL PROCEEDING,
    /// ALERTING, CONNECT, or clearing).
    fn offer(
        &mut self,
        now: Instant,
        si: usize,
        id: CallId,
        handle: CallHandle,
        channel: Option<u8>,
        behaviour: Behaviour,
    ) -> Result<(), SwitchError> {
        let law = self.spans[si].law;
        let kind = self.spans[si].kind;
        let iface = &mut self.spans[si].iface;
        let mut set_step = None;
        let mut media = None;
        let mut tone = 0.0;
        let mut cause = None;
        match behaviour {
            Behaviour::Answer { after_ms, tone_hz } => {
                iface.proceeding(now, handle)?;
                iface.alerting(now, handle, true)?;
                set_step = Some((now + Duration::from_millis(after_ms), Step::Answer));
                media = Some(ToneSource::ringback(law, kind));
                tone = tone_hz;
            }
            Behaviour::NoAnswer { timeout_ms } => {
                iface.proceeding(now, handle)?;
                iface.alerting(now, handle, true)?;
                set_step = Some((
                    now + Duration::from_millis(timeout_ms),
                    Step::NoAnswerTimeout,
                ));
                media = Some(ToneSource::ringback(law, kind));
            }
            Behaviour::EarlyMedia { tone_hz } => {
                iface.proceeding(now, handle)?;
                iface.progress(now, handle, ProgressDescription::InbandAvailable)?;
                media = Some(ToneSource::continuous(law, tone_hz, self.cfg.tone_dbm0));
            }
            Behaviour::Busy => {
                iface.proceeding(now, handle)?;
                cause = Some(CauseValue::UserBusy);
            }
            Behaviour::Unallocated => cause = Some(CauseValue::UnallocatedNumber),
            Behaviour::Congestion => cause = Some(CauseValue::NoCircuitAvailable),
        }
        if let Some(cause) = cause {
            self.reports[id.0 as usize].cause_sent = Some(cause);
            self.spans[si].iface.disconnect(now, handle, cause)?;
        }
        if let Some(c) = self.live_mut(id) {
            c.step = set_step;
            c.tone_hz = tone;
        }
        if let (Some(src), Some(ch)) = (media, channel) {
            self.open_media(id, si, ch, src);
        }
        Ok(())
    }

    fn run_steps(&mut self, now: Instant) {
        let due: Vec<(CallId, Step)> = self
            .live
            .iter_mut()
            .filter_map(|c| match c.step {
                Some((t, s)) if t <= now => {
                    c.step = None;
                    Some((c.id, s))
                }
                _ => None,
            })
            .collect();
        for (id, step) in due {
            let Some((si, handle, tone)) = self
                .live
                .iter()
                .find(|c| c.id == id)
                .map(|c| (c.span, c.handle, c.tone_hz))
            else {
                continue;
            };
            match step {
                Step::Answer => {
                    if let Err(e) = self.spans[si].iface.connect(now, handle) {
                        warn!(call = id.0, "pstn switch: CONNECT: {e}");
                        continue;
                    }
                    let src = ToneSource::continuous(self.spans[si].law, tone, self.cfg.tone_dbm0);
                    if let Some(m) = self.live_mut(id).and_then(|c| c.media.as_mut()) {
                        m.source = src;
                    }
                    info!(call = id.0, "pstn switch: answered");
                }
                Step::NoAnswerTimeout => {
                    info!(
                        call = id.0,
                        "pstn switch: no answer, clearing with cause 19"
                    );
                    self.reports[id.0 as usize].cause_sent = Some(CauseValue::NoAnswer);
                    if let Err(e) =
                        self.spans[si]
                            .iface
                            .disconnect(now, handle, CauseValue::NoAnswer)
                    {
                        warn!(call = id.0, "pstn switch: DISCONNECT: {e}");
                    }
                }
            }
        }
    }

    fn open_media(&mut self, id: CallId, si: usize, channel: u8, source: ToneSource) {
        let span = self.spans[si].span;
        let law = self.spans[si].law;
        let chan_id = ChannelId {
            span,
            timeslot: Timeslot(channel),
        };
        match self.device.open_channel(
            chan_id,
            ChannelMode::Clear {
                blocksize: self.cfg.blocksize,
                law,
            },
        ) {
            Ok(chan) => {
                let blocksize = self.cfg.blocksize;
                if let Some(c) = self.live_mut(id) {
                    c.media = Some(Media {
                        chan,
                        source,
                        block: vec![0u8; blocksize],
                        written: blocksize,
                    });
                }
            }
            Err(e) => warn!(call = id.0, %chan_id, "pstn switch: B-channel: {e}"),
        }
    }

    fn move_audio(&mut self) {
        let limit = self.cfg.record_limit;
        for c in &mut self.live {
            let Some(m) = c.media.as_mut() else { continue };
            let r = &mut self.reports[c.id.0 as usize];
            loop {
                match m.chan.read(&mut self.buf) {
                    Ok(n) => {
                        let room = limit.saturating_sub(r.received.len());
                        r.received.extend_from_slice(&self.buf[..n.min(room)]);
                    }
                    Err(ChanError::EventPending) => {
                        if !matches!(m.chan.get_event(), Ok(Some(_))) {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            loop {
                if m.written == m.block.len() {
                    m.source.fill(&mut m.block);
                    m.written = 0;
                }
                // A write may take part of the block (as much as the buffers have room
                // for); the rest goes next time.
                match m.chan.write(&m.block[m.written..]) {
                    Ok(n) => {
                        r.samples_sent += n as u64;
                        m.written += n;
                    }
                    Err(ChanError::EventPending) => {
                        if !matches!(m.chan.get_event(), Ok(Some(_))) {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        }
    }
}

fn log_channel_event(span: SpanId, ev: ChanEvent) {
    match ev {
        ChanEvent::Alarm | ChanEvent::NoAlarm => info!(%span, ?ev, "pstn switch: span"),
        _ => debug!(%span, ?ev, "pstn switch: D-channel"),
    }
}
