//! The far end of simulated spans: the simulator's PSTN switch emulator
//! (`tdm_sim::pstn::Switch`, Q.931 network side), one per simulated span with the number
//! plan of its `device` section (`config/sim.rs`), all driven by one thread paced by the
//! simulator's clock. It rings, answers, plays its tone on the B-channel, records what the
//! gateway sends, places calls (`gatewayd ctl simcall`), and tells what it heard
//! (`gatewayd ctl show sim-calls`, and a log line per cleared call).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dahdi_driver::{Law, SpanId};
use q931::ie::CauseValue;
use tdm_sim::pstn::{
    Behaviour, CallId, CallReport, Direction, NumberPlan, Switch, SwitchConfig, SwitchEvent,
};
use tracing::{info, warn};

use crate::config::{SimBehaviour, SimPattern, SimSwitch};

/// The calling number of calls the switch places.
const SWITCH_CALLING: &str = "301234567";
/// How long the switch keeps a call it placed once the gateway answered, unless told.
pub const DEFAULT_HOLD: Duration = Duration::from_secs(1);
/// Tone level the switch plays (dBm0).
const TONE_DBM0: f64 = -10.0;

/// One span's switch.
struct SpanSwitch {
    /// The gateway's span id (`[[span]] id`).
    span: u16,
    /// The simulator's span number of it.
    sim_span: SpanId,
    switch: Switch,
    /// Calls the switch placed: clear them this long after the gateway answers.
    hold: HashMap<CallId, Duration>,
    hangup_at: Vec<(Instant, CallId)>,
}

struct Inner {
    spans: Vec<SpanSwitch>,
}

/// The simulated switches of all simulated spans, on their thread.
pub struct SimSwitches {
    inner: Arc<Mutex<Inner>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Errors of [`SimSwitches`].
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("span {0} is not a simulated span")]
    NoSuchSpan(u16),
    #[error(transparent)]
    Switch(#[from] tdm_sim::pstn::SwitchError),
    #[error("cannot start the switch thread: {0}")]
    Thread(std::io::Error),
}

fn plan(cfg: &SimSwitch) -> NumberPlan {
    fn behaviour(b: SimBehaviour) -> Behaviour {
        match b {
            SimBehaviour::Answer { after_ms, tone_hz } => Behaviour::Answer {
                after_ms,
                tone_hz: tone_hz as f64,
            },
            SimBehaviour::Busy => Behaviour::Busy,
            SimBehaviour::Unallocated => Behaviour::Unallocated,
            SimBehaviour::Congestion => Behaviour::Congestion,
            SimBehaviour::NoAnswer { after_ms } => Behaviour::NoAnswer {
                timeout_ms: after_ms,
            },
            SimBehaviour::EarlyMedia { tone_hz } => Behaviour::EarlyMedia {
                tone_hz: tone_hz as f64,
            },
        }
    }
    cfg.rules.iter().fold(
        NumberPlan::new(behaviour(cfg.default)),
        |p, (pat, b)| match pat {
            SimPattern::Exact(d) => p.exact(d, behaviour(*b)),
            SimPattern::Prefix(d) => p.prefix(d, behaviour(*b)),
        },
    )
}

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The switch of one simulated span on the far `device`.
fn span_switch(
    device: &tdm_sim::SimDevice,
    (span, sim_span, cfg): &(u16, SpanId, SimSwitch),
    now: Instant,
) -> Result<SpanSwitch, SimError> {
    let sc = SwitchConfig {
        spans: vec![*sim_span],
        plan: plan(cfg),
        blocksize: 160,
        tone_dbm0: TONE_DBM0,
        outgoing_tone_hz: cfg.tone_hz as f64,
        record_limit: (cfg.record_ms * 8) as usize,
    };
    Ok(SpanSwitch {
        span: *span,
        sim_span: *sim_span,
        switch: Switch::new(device.clone(), sc, now)?,
        hold: HashMap::new(),
        hangup_at: Vec::new(),
    })
}

impl SimSwitches {
    /// One switch per `(gateway span, simulator span, its config)` on the far `device`,
    /// polled after every tick of `ticker` (the simulator's clock).
    pub fn start(
        device: &tdm_sim::SimDevice,
        spans: &[(u16, SpanId, SimSwitch)],
        mut ticker: Box<dyn dahdi_driver::Ticker>,
        now: Instant,
    ) -> Result<SimSwitches, SimError> {
        let out = spans
            .iter()
            .map(|s| span_switch(device, s, now))
            .collect::<Result<Vec<_>, _>>()?;
        let inner = Arc::new(Mutex::new(Inner { spans: out }));
        let stop = Arc::new(AtomicBool::new(false));
        let (inn, st) = (inner.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("sim-switch".into())
            .spawn(move || {
                while !st.load(Ordering::Relaxed) {
                    if let Err(e) = ticker.wait(Duration::from_millis(20)) {
                        warn!("simulated switch: ticker: {e}");
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    lock(&inn).poll(Instant::now());
                }
            })
            .map_err(SimError::Thread)?;
        Ok(SimSwitches {
            inner,
            stop,
            thread: Some(thread),
        })
    }

    /// Add the switch of a span added by a reload: `(gateway span, simulator span, its
    /// config)` on the far `device` of that span's own simulator (polled with the others).
    pub fn add(
        &self,
        device: &tdm_sim::SimDevice,
        span: &(u16, SpanId, SimSwitch),
        now: Instant,
    ) -> Result<(), SimError> {
        let s = span_switch(device, span, now)?;
        let mut inner = lock(&self.inner);
        inner.spans.retain(|o| o.span != s.span);
        inner.spans.push(s);
        Ok(())
    }

    /// Stop the switches of spans that a reload removed (all but `kept`).
    pub fn retain(&self, kept: impl Fn(u16) -> bool) {
        lock(&self.inner).spans.retain(|s| kept(s.span));
    }

    /// The switch of span `span` calls `number` on it; the call is cleared with cause 16
    /// `hold` after the gateway answers.
    pub fn call(&self, span: u16, number: &str, hold: Duration) -> Result<CallId, SimError> {
        let mut inner = lock(&self.inner);
        let s = inner
            .spans
            .iter_mut()
            .find(|s| s.span == span)
            .ok_or(SimError::NoSuchSpan(span))?;
        let id = s
            .switch
            .call_on(Instant::now(), s.sim_span, number, SWITCH_CALLING)?;
        s.hold.insert(id, hold);
        Ok(id)
    }

    /// `gatewayd ctl show sim-calls`: every call each switch saw, with the tones it heard.
    pub fn show_calls(&self) -> String {
        let inner = lock(&self.inner);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "span call direction called calling channel state cause sent_ms heard"
        );
        for s in &inner.spans {
            for r in s.switch.reports() {
                let _ = writeln!(out, "{} {}", s.span, report_line(r));
            }
        }
        out
    }

    /// How many ms of a `freq` Hz tone the switch of `span` heard on `call`.
    pub fn heard(&self, span: u16, call: u32, freq: f64) -> Option<u64> {
        let inner = lock(&self.inner);
        let s = inner.spans.iter().find(|s| s.span == span)?;
        s.switch.report(CallId(call)).map(|r| r.tone_ms(freq))
    }

    /// Whether the data link of every switch is up.
    pub fn all_links_up(&self) -> bool {
        let inner = lock(&self.inner);
        inner.spans.iter().all(|s| s.switch.is_link_up(s.sim_span))
    }
}

impl Drop for SimSwitches {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Inner {
    fn poll(&mut self, now: Instant) {
        for s in &mut self.spans {
            s.switch.poll(now);
            while let Some(ev) = s.switch.poll_event() {
                s.on_event(now, ev);
            }
            let due: Vec<CallId> = s
                .hangup_at
                .iter()
                .filter(|(t, _)| *t <= now)
                .map(|(_, c)| *c)
                .collect();
            if !due.is_empty() {
                s.hangup_at.retain(|(t, _)| *t > now);
                for c in due {
                    // Normal call clearing (Q.850 cause 16) from the switch side.
                    if let Err(e) = s.switch.hangup(now, c, CauseValue::from(16)) {
                        warn!(span = s.span, call = c.0, "simulated switch: {e}");
                    }
                }
            }
        }
    }
}

impl SpanSwitch {
    fn on_event(&mut self, now: Instant, ev: SwitchEvent) {
        match ev {
            SwitchEvent::LinkUp { .. } => info!(span = self.span, "simulated switch: link up"),
            SwitchEvent::LinkDown { .. } => {
                info!(span = self.span, "simulated switch: link down")
            }
            SwitchEvent::Offered {
                call,
                called,
                behaviour,
            } => info!(
                span = self.span,
                call = call.0,
                called,
                ?behaviour,
                "simulated switch: call offered"
            ),
            SwitchEvent::Connected { call } => {
                info!(
                    span = self.span,
                    call = call.0,
                    "simulated switch: connected"
                );
                if let Some(hold) = self.hold.remove(&call) {
                    self.hangup_at.push((now + hold, call));
                }
            }
            SwitchEvent::Cleared { call, .. } => {
                self.hold.remove(&call);
                self.hangup_at.retain(|(_, c)| *c != call);
                if let Some(r) = self.switch.report(call) {
                    let heard = tones(r.law, &r.received);
                    info!(
                        span = self.span,
                        call = call.0,
                        cause = ?r.final_cause().map(|c| c.value()),
                        heard = %heard_text(&heard),
                        "simulated switch: call cleared"
                    );
                }
            }
            SwitchEvent::Proceeding { .. } | SwitchEvent::Alerting { .. } => {}
        }
    }
}

fn report_line(r: &CallReport) -> String {
    let state = if r.is_cleared() {
        "cleared"
    } else if r.connected_at.is_some() {
        "connected"
    } else if r.alerting_at.is_some() {
        "alerting"
    } else {
        "setup"
    };
    format!(
        "{} {} {} {} {} {} {} {} {}",
        r.id.0,
        match r.direction {
            Direction::FromGateway => "from-gateway",
            Direction::ToGateway => "to-gateway",
        },
        or_dash(&r.called),
        or_dash(&r.calling),
        r.channel.map_or("-".into(), |c| c.to_string()),
        state,
        r.final_cause()
            .map_or("-".into(), |c| c.value().to_string()),
        r.samples_sent / 8,
        heard_text(&tones(r.law, &r.received)),
    )
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() {
        "-"
    } else {
        s
    }
}

/// `1800Hz/2900ms,425Hz/1000ms`, or `-`.
pub fn heard_text(tones: &[(u32, u64)]) -> String {
    if tones.is_empty() {
        return "-".into();
    }
    tones
        .iter()
        .map(|(f, ms)| format!("{f}Hz/{ms}ms"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The tones in `audio` and how long each lasted, longest first: each 100 ms window is
/// read by counting zero crossings (a first guess of the frequency), then refined with
/// the Goertzel detector of `tdm_sim::tone` over ±15 Hz in 1 Hz steps; a window counts when
/// its power is at least half at that frequency and above -40 dBm0 (as
/// `tdm_sim::pstn::tone_ms`). Windows within 5 Hz of each other are one tone.
pub fn tones(law: Law, audio: &[u8]) -> Vec<(u32, u64)> {
    // 100 ms: a 10 Hz Goertzel bin, as `tdm_sim::pstn::tone_ms`.
    const WINDOW: usize = 800;
    let mut found: Vec<(u32, u64)> = Vec::new();
    for w in audio.chunks_exact(WINDOW) {
        let mut crossings = 0u32;
        let mut prev = law.decode(w[0]) >= 0;
        for &b in &w[1..] {
            let pos = law.decode(b) >= 0;
            crossings += u32::from(pos != prev);
            prev = pos;
        }
        // Two crossings per period over WINDOW / 8000 s.
        let guess = crossings as f64 * 8000.0 / (2.0 * WINDOW as f64);
        let candidates: Vec<f64> = (-15..=15)
            .map(|d| guess.round() + d as f64)
            .filter(|f| *f > 0.0)
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let r = tdm_sim::tone::measure(law, w, &candidates);
        if r.purity < 0.5 || r.level_dbm0 < -40.0 {
            continue;
        }
        let f = r.freq as u32;
        let ms = WINDOW as u64 / 8;
        match found.iter_mut().find(|(g, _)| g.abs_diff(f) <= 5) {
            Some(e) => e.1 += ms,
            None => found.push((f, ms)),
        }
    }
    found.sort_by_key(|t| std::cmp::Reverse(t.1));
    found
}

/// [`tones`] of a WAV recording (16-bit PCM, any channel count, a rate that is a multiple
/// of 8 kHz; the first channel is read), e.g. what a SIP phone recorded from a call.
pub fn wav_tones(wav: &[u8]) -> Result<Vec<(u32, u64)>, String> {
    if wav.len() < 12 || &wav[0..4] != b"RIFF" || &wav[8..12] != b"WAVE" {
        return Err("not a RIFF/WAVE file".into());
    }
    let (mut fmt, mut data) = (None, None);
    let mut at = 12;
    while at + 8 <= wav.len() {
        let id = &wav[at..at + 4];
        let len = u32::from_le_bytes([wav[at + 4], wav[at + 5], wav[at + 6], wav[at + 7]]) as usize;
        let body = &wav[at + 8..(at + 8 + len).min(wav.len())];
        match id {
            b"fmt " => fmt = Some(body),
            b"data" => data = Some(body),
            _ => {}
        }
        // Chunks are padded to an even length (RIFF).
        at += 8 + len + (len & 1);
    }
    let fmt = fmt.filter(|f| f.len() >= 16).ok_or("no fmt chunk")?;
    let data = data.ok_or("no data chunk")?;
    let u16_at = |i: usize| u16::from_le_bytes([fmt[i], fmt[i + 1]]);
    let (format, channels, bits) = (u16_at(0), u16_at(2) as usize, u16_at(14));
    let rate = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
    if format != 1 || bits != 16 || channels == 0 {
        return Err(format!(
            "only 16-bit PCM is read (format {format}, {bits} bits, {channels} channels)"
        ));
    }
    if rate == 0 || rate % 8000 != 0 {
        return Err(format!("sample rate {rate} Hz is not a multiple of 8 kHz"));
    }
    let step = (rate / 8000) as usize * channels;
    let alaw: Vec<u8> = data
        .chunks_exact(2)
        .step_by(step)
        .map(|c| Law::ALaw.encode(i16::from_le_bytes([c[0], c[1]])))
        .collect();
    Ok(tones(Law::ALaw, &alaw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dahdi_driver::{ChanError, Channel, ChannelId, ChannelMode, Device, Timeslot};
    use q931::call::{ChannelPref, Event, Interface, InterfaceConfig, SetupRequest};
    use q931::ie::TypeOfNumber;
    use q931::ie::{BearerCapability, CalledPartyNumber, Layer1Protocol, NumberingPlan};
    use q931::lapd::Role;
    use tdm_sim::pstn::ToneSource;

    /// The gateway's side in these tests: a Q.931 user side on the near D-channel.
    struct User {
        iface: Interface,
        dchan: Box<dyn Channel>,
    }

    impl User {
        /// Moves frames both ways and returns the events, for `ms` milliseconds.
        fn run(&mut self, ms: u64) -> Vec<Event> {
            let mut events = Vec::new();
            let mut buf = [0u8; 512];
            let end = Instant::now() + Duration::from_millis(ms);
            while Instant::now() < end {
                let now = Instant::now();
                loop {
                    match self.dchan.read(&mut buf) {
                        Ok(n) => self.iface.handle_frame(now, &buf[..n]),
                        Err(ChanError::EventPending) => {
                            let _ = self.dchan.get_event();
                        }
                        Err(_) => break,
                    }
                }
                if self.iface.poll_timeout().is_some_and(|t| t <= now) {
                    self.iface.handle_timeout(now);
                }
                while let Some(f) = self.iface.poll_transmit() {
                    let _ = self.dchan.write(&f);
                }
                events.extend(std::iter::from_fn(|| self.iface.poll_event()));
                std::thread::sleep(Duration::from_millis(2));
            }
            events
        }
    }

    fn released(events: &[Event]) -> Option<u8> {
        events.iter().find_map(|e| match e {
            Event::Disconnecting { cause, .. } => Some(cause.value.value()),
            Event::Released { cause, .. } => cause.as_ref().map(|c| c.value.value()),
            _ => None,
        })
    }

    #[test]
    fn switches_follow_their_plan_play_their_tone_and_clear_placed_calls_after_the_hold() {
        let sim = tdm_sim::Sim::builder()
            .clock(tdm_sim::ClockMode::RealTime)
            .e1(1)
            .build();
        let near = sim.near();
        let far = sim.far();
        let cfg = crate::config::Config::from_str(
            "[[span]]\nid = 7\ntype = \"e1\"\nsignalling = \"pri_cpe\"\n[span.device]\n\
             kind = \"sim\"\nanswer_after_ms = 0\ntone_hz = 1500\n",
            "t.toml",
        )
        .unwrap();
        let crate::config::Device::Simulator(sw) = &cfg.spans[0].device else {
            panic!("sim device")
        };
        let switches = SimSwitches::start(
            &far,
            &[(7, SpanId(1), sw.clone())],
            far.ticker().unwrap(),
            Instant::now(),
        )
        .unwrap();
        let mut iface = Interface::new(InterfaceConfig::euro_isdn_e1(Role::User));
        iface.start(Instant::now());
        let dchan = near
            .open_channel(
                ChannelId {
                    span: SpanId(1),
                    timeslot: Timeslot(16),
                },
                ChannelMode::HdlcFcs,
            )
            .unwrap();
        let mut user = User { iface, dchan };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !(user.iface.is_link_up() && switches.all_links_up()) {
            assert!(Instant::now() < deadline, "data link did not come up");
            user.run(10);
        }
        let setup = |number: &str| SetupRequest {
            called: Some(CalledPartyNumber::new(
                TypeOfNumber::Unknown,
                NumberingPlan::Isdn,
                number,
            )),
            calling: None,
            bearer: BearerCapability::speech(Layer1Protocol::G711ALaw),
            channel: ChannelPref::Any,
            sending_complete: true,
        };

        // The built-in busy number: cause 17.
        user.iface.setup(Instant::now(), setup("099917")).unwrap();
        assert_eq!(released(&user.run(300)), Some(17));

        // Any other number answers at once; the switch plays 1500 Hz and hears ours.
        let call = user.iface.setup(Instant::now(), setup("301234")).unwrap();
        let ev = user.run(200);
        assert!(
            ev.iter().any(|e| matches!(e, Event::Connected { .. })),
            "{ev:?}"
        );
        let ts = user.iface.channel(call).expect("B-channel");
        let mut b = near
            .open_channel(
                ChannelId {
                    span: SpanId(1),
                    timeslot: Timeslot(ts),
                },
                ChannelMode::Clear {
                    blocksize: 160,
                    law: Law::ALaw,
                },
            )
            .unwrap();
        let mut ours = ToneSource::continuous(Law::ALaw, 1800.0, -10.0);
        let (mut heard, mut block, mut buf) = (Vec::new(), [0u8; 160], [0u8; 1024]);
        let end = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < end {
            while let Ok(n) = b.read(&mut buf) {
                heard.extend_from_slice(&buf[..n]);
            }
            ours.fill(&mut block);
            let _ = b.write(&block);
            user.run(18);
        }
        let t = tones(Law::ALaw, &heard);
        assert!(
            t.first()
                .is_some_and(|(f, ms)| f.abs_diff(1500) <= 2 && *ms >= 800),
            "{t:?}"
        );
        let shown = switches.show_calls();
        assert!(shown.contains("7 1 from-gateway 301234"), "{shown}");
        assert!(shown.contains("1800Hz/"), "{shown}");
        assert!(switches.heard(7, 1, 1800.0).unwrap() >= 800);
        user.iface
            .disconnect(Instant::now(), call, CauseValue::from(16))
            .unwrap();
        user.run(200);

        // A call the switch places is cleared with cause 16 after its hold.
        assert!(matches!(
            switches.call(8, "201", DEFAULT_HOLD),
            Err(SimError::NoSuchSpan(8))
        ));
        switches.call(7, "201", Duration::from_millis(300)).unwrap();
        let ev = user.run(200);
        let offered = ev
            .iter()
            .find_map(|e| match e {
                Event::IncomingSetup { call, .. } => Some(*call),
                _ => None,
            })
            .expect("SETUP from the switch");
        user.iface.connect(Instant::now(), offered).unwrap();
        let ev = user.run(800);
        assert_eq!(released(&ev), Some(16), "{ev:?}");
    }

    #[test]
    fn tones_names_the_frequencies_and_their_durations() {
        let mut a = vec![0u8; 8 * 2000];
        ToneSource::continuous(Law::ALaw, 1800.0, -10.0).fill(&mut a);
        let mut b = vec![0u8; 8 * 500];
        ToneSource::continuous(Law::ALaw, 1004.0, -20.0).fill(&mut b);
        a.extend_from_slice(&b);
        a.extend_from_slice(&[0xD5; 8000]);
        let t = tones(Law::ALaw, &a);
        assert_eq!(t.len(), 2, "{t:?}");
        assert!(t[0].0.abs_diff(1800) <= 2 && t[0].1 == 2000, "{t:?}");
        assert!(t[1].0.abs_diff(1004) <= 2 && t[1].1 == 500, "{t:?}");
        assert_eq!(heard_text(&[]), "-");
        let mut m = vec![0u8; 8000];
        ToneSource::continuous(Law::MuLaw, 425.0, -10.0).fill(&mut m);
        assert_eq!(tones(Law::MuLaw, &m).len(), 1);
    }

    #[test]
    fn wav_tones_reads_a_stereo_48k_recording() {
        let (rate, secs) = (48_000u32, 1);
        let mut pcm = Vec::new();
        for i in 0..rate * secs {
            let v =
                (8000.0 * (std::f64::consts::TAU * 1004.0 * i as f64 / rate as f64).sin()) as i16;
            pcm.extend_from_slice(&v.to_le_bytes());
            pcm.extend_from_slice(&0i16.to_le_bytes());
        }
        let mut wav = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        wav.extend_from_slice(&16u32.to_le_bytes());
        for v in [1u16, 2] {
            wav.extend_from_slice(&v.to_le_bytes());
        }
        wav.extend_from_slice(&rate.to_le_bytes());
        wav.extend_from_slice(&(rate * 4).to_le_bytes());
        for v in [4u16, 16] {
            wav.extend_from_slice(&v.to_le_bytes());
        }
        wav.extend_from_slice(b"data");
        wav.extend_from_slice(&(pcm.len() as u32).to_le_bytes());
        wav.extend_from_slice(&pcm);
        let t = wav_tones(&wav).unwrap();
        assert_eq!(t.len(), 1, "{t:?}");
        assert!(t[0].0.abs_diff(1004) <= 2 && t[0].1 == 1000, "{t:?}");
        assert!(wav_tones(b"RIFF").is_err());
    }
}
