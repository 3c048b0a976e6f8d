//! The PSTN switch emulator against our own Q.931 user side on the near end, over the
//! simulated span: D-channel frames through the HDLC timeslot, audio through a B-channel
//! timeslot, all through the `dahdi_driver::Device` trait, in virtual time.

use std::time::{Duration, Instant};

use dahdi_driver::{ChanError, Channel, ChannelId, ChannelMode, Device, Law, SpanId, Timeslot};
use q931::call::{CallHandle, ChannelPref, Event, Interface, InterfaceConfig, SetupRequest};
use q931::ie::{
    BearerCapability, CalledPartyNumber, CallingPartyNumber, CauseValue, Layer1Protocol,
    NumberingPlan, TypeOfNumber,
};
use q931::lapd::Role;
use tdm_sim::pstn::{
    dual_tone_ms, tone_ms, Behaviour, CallId, Direction, NumberPlan, Switch, SwitchConfig,
    SwitchEvent, ToneSource,
};
use tdm_sim::{ClockMode, Sim, SimDevice};

const SPAN: SpanId = SpanId(1);
/// The tone the near end (standing in for the gateway) sends.
const NEAR_HZ: f64 = 700.0;

/// The gateway's side: our Q.931 user side on the near D-channel and one B-channel.
struct Near {
    span: SpanId,
    dev: SimDevice,
    law: Law,
    iface: Interface,
    d: Box<dyn Channel>,
    b: Option<(Box<dyn Channel>, ToneSource)>,
    rx: Vec<u8>,
    tx: [u8; 160],
    written: usize,
    events: Vec<Event>,
}

impl Near {
    fn new(sim: &Sim, t1: bool, now: Instant) -> Near {
        Near::on(sim, SPAN, t1, now)
    }

    fn on(sim: &Sim, span: SpanId, t1: bool, now: Instant) -> Near {
        let dev = sim.near();
        let (cfg, dslot, law) = if t1 {
            (InterfaceConfig::ni2_t1(Role::User), 24, Law::MuLaw)
        } else {
            (InterfaceConfig::euro_isdn_e1(Role::User), 16, Law::ALaw)
        };
        let d = dev
            .open_channel(
                ChannelId {
                    span,
                    timeslot: Timeslot(dslot),
                },
                ChannelMode::HdlcFcs,
            )
            .unwrap();
        let mut iface = Interface::new(cfg);
        iface.start(now);
        Near {
            span,
            dev,
            law,
            iface,
            d,
            b: None,
            rx: Vec::new(),
            tx: [0; 160],
            written: 160,
            events: Vec::new(),
        }
    }

    fn open_b(&mut self, channel: u8) {
        if self.b.is_some() {
            return;
        }
        let ch = self
            .dev
            .open_channel(
                ChannelId {
                    span: self.span,
                    timeslot: Timeslot(channel),
                },
                ChannelMode::Clear {
                    blocksize: 160,
                    law: self.law,
                },
            )
            .unwrap();
        self.b = Some((ch, ToneSource::continuous(self.law, NEAR_HZ, -10.0)));
        self.written = self.tx.len();
    }

    fn poll(&mut self, now: Instant) {
        let mut buf = [0u8; 512];
        loop {
            match self.d.read(&mut buf) {
                Ok(n) => self.iface.handle_frame(now, &buf[..n]),
                Err(ChanError::EventPending) => {
                    self.d.get_event().unwrap();
                }
                Err(_) => break,
            }
        }
        if self.iface.poll_timeout().is_some_and(|t| t <= now) {
            self.iface.handle_timeout(now);
        }
        while let Some(ev) = self.iface.poll_event() {
            match &ev {
                Event::Proceeding {
                    channel: Some(c), ..
                }
                | Event::Connected {
                    channel: Some(c), ..
                }
                | Event::IncomingSetup {
                    channel: Some(c), ..
                } => self.open_b(*c),
                Event::Released { .. } => self.b = None,
                _ => {}
            }
            self.events.push(ev);
        }
        while let Some(f) = self.iface.poll_transmit() {
            self.d.write(&f).unwrap();
        }
        if let Some((ch, src)) = self.b.as_mut() {
            let mut block = [0u8; 160];
            while let Ok(n) = ch.read(&mut block) {
                self.rx.extend_from_slice(&block[..n]);
            }
            // Keep the transmit buffers full; a block refused now goes out next time, so
            // the tone stays continuous.
            loop {
                if self.written == self.tx.len() {
                    src.fill(&mut self.tx);
                    self.written = 0;
                }
                match ch.write(&self.tx[self.written..]) {
                    Ok(n) => self.written += n,
                    Err(_) => break,
                }
            }
        }
    }

    fn setup(&mut self, now: Instant, called: &str) -> CallHandle {
        let l1 = match self.law {
            Law::ALaw => Layer1Protocol::G711ALaw,
            Law::MuLaw => Layer1Protocol::G711MuLaw,
        };
        self.iface
            .setup(
                now,
                SetupRequest {
                    called: Some(CalledPartyNumber::new(
                        TypeOfNumber::Unknown,
                        NumberingPlan::Isdn,
                        called,
                    )),
                    calling: Some(CallingPartyNumber::new(
                        TypeOfNumber::Unknown,
                        NumberingPlan::Isdn,
                        "2001",
                    )),
                    bearer: BearerCapability::speech(l1),
                    channel: ChannelPref::Any,
                    sending_complete: true,
                },
            )
            .unwrap()
    }

    /// The cause of the first DISCONNECT, else of the release, of `call`.
    fn clearing_cause(&self, call: CallHandle) -> Option<CauseValue> {
        self.events.iter().find_map(|e| match e {
            Event::Disconnecting { call: c, cause, .. } if *c == call => Some(cause.value),
            Event::Released {
                call: c,
                cause: Some(cause),
            } if *c == call => Some(cause.value),
            _ => None,
        })
    }

    fn released(&self, call: CallHandle) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, Event::Released { call: c, .. } if *c == call))
    }
}

/// The span, the switch on its far end and the near end, in virtual time.
struct Bench {
    sim: Sim,
    switch: Switch,
    near: Near,
    t0: Instant,
    ms: u64,
    switch_events: Vec<SwitchEvent>,
}

impl Bench {
    fn new(plan: NumberPlan, t1: bool) -> Bench {
        let sim = if t1 {
            Sim::builder().t1(1).build()
        } else {
            Sim::builder().e1(1).build()
        };
        let t0 = Instant::now();
        let switch = Switch::new(
            sim.far(),
            SwitchConfig {
                plan,
                ..Default::default()
            },
            t0,
        )
        .unwrap();
        let near = Near::new(&sim, t1, t0);
        let mut b = Bench {
            sim,
            switch,
            near,
            t0,
            ms: 0,
            switch_events: Vec::new(),
        };
        b.run_until(2000, |b| {
            b.switch.is_link_up(SPAN) && b.near.iface.is_link_up()
        });
        b
    }

    fn now(&self) -> Instant {
        self.t0 + Duration::from_millis(self.ms)
    }

    fn step(&mut self) {
        self.sim.advance(1).unwrap();
        self.ms += 1;
        let now = self.now();
        self.switch.poll(now);
        self.near.poll(now);
        while let Some(e) = self.switch.poll_event() {
            self.switch_events.push(e);
        }
    }

    fn run(&mut self, ms: u64) {
        for _ in 0..ms {
            self.step();
        }
    }

    /// Runs until `done`, at most `max_ms`; returns the milliseconds it took.
    fn run_until(&mut self, max_ms: u64, done: impl Fn(&Bench) -> bool) -> u64 {
        let start = self.ms;
        while !done(self) {
            assert!(self.ms - start < max_ms, "condition not met in {max_ms} ms");
            self.step();
        }
        self.ms - start
    }
}

fn answer_plan() -> NumberPlan {
    NumberPlan::new(Behaviour::Unallocated)
        .prefix(
            "555",
            Behaviour::Answer {
                after_ms: 500,
                tone_hz: 1000.0,
            },
        )
        .exact("17", Behaviour::Busy)
        .exact("34", Behaviour::Congestion)
        .exact("19", Behaviour::NoAnswer { timeout_ms: 3000 })
        .exact("8", Behaviour::EarlyMedia { tone_hz: 800.0 })
}

fn answered_call_carries_tones_both_ways(t1: bool) {
    let mut b = Bench::new(answer_plan(), t1);
    let now = b.now();
    let call = b.near.setup(now, "5551234");
    b.run_until(2000, |b| {
        b.near
            .events
            .iter()
            .any(|e| matches!(e, Event::Connected { call: c, .. } if *c == call))
    });
    assert!(b
        .near
        .events
        .iter()
        .any(|e| matches!(e, Event::Alerting { call: c, inband: true } if *c == call)));
    b.run(2000);

    let id = CallId(0);
    let r = b.switch.report(id).unwrap().clone();
    assert_eq!(r.direction, Direction::FromGateway);
    assert_eq!((r.called.as_str(), r.calling.as_str()), ("5551234", "2001"));
    assert_eq!(r.channel, b.near.iface.channel(call));
    let ring = r.connected_at.unwrap() - r.started_at;
    assert!(
        ring >= Duration::from_millis(500) && ring < Duration::from_millis(520),
        "{ring:?}"
    );
    // The switch heard the near end's tone, the near end the switch's (and ringback
    // before the answer: 425 Hz on E1; 440 + 480 Hz on T1).
    assert!(
        r.heard(NEAR_HZ, 1500),
        "switch heard {} ms",
        r.tone_ms(NEAR_HZ)
    );
    assert_eq!(r.tone_ms(1000.0), 0);
    let law = b.near.law;
    assert!(tone_ms(law, &b.near.rx, 1000.0) >= 1500);
    assert_eq!(tone_ms(law, &b.near.rx, NEAR_HZ), 0);
    let ringback = if t1 {
        dual_tone_ms(law, &b.near.rx, 440.0, 480.0)
    } else {
        tone_ms(law, &b.near.rx, 425.0)
    };
    assert!(ringback >= 300, "ringback {ringback} ms");

    let now = b.now();
    b.near
        .iface
        .disconnect(now, call, CauseValue::NormalCallClearing)
        .unwrap();
    b.run_until(500, |b| b.switch.report(id).unwrap().is_cleared());
    let r = b.switch.report(id).unwrap();
    assert_eq!(
        r.cause_received.as_ref().map(|c| c.value),
        Some(CauseValue::NormalCallClearing)
    );
    assert_eq!(r.cause_sent, None);
    assert_eq!(b.switch.live_calls(), 0);
    b.run_until(500, |b| b.near.released(call));
}

#[test]
fn e1_answered_call_carries_tones_both_ways() {
    answered_call_carries_tones_both_ways(false);
}

#[test]
fn t1_ni2_answered_call_carries_tones_both_ways() {
    answered_call_carries_tones_both_ways(true);
}

#[test]
fn e1_busy_unallocated_and_congestion_give_their_causes() {
    busy_unallocated_and_congestion_give_their_causes(false);
}

#[test]
fn t1_ni2_busy_unallocated_and_congestion_give_their_causes() {
    busy_unallocated_and_congestion_give_their_causes(true);
}

fn busy_unallocated_and_congestion_give_their_causes(t1: bool) {
    let mut b = Bench::new(answer_plan(), t1);
    for (number, cause) in [
        ("17", CauseValue::UserBusy),
        ("0800", CauseValue::UnallocatedNumber),
        ("34", CauseValue::NoCircuitAvailable),
    ] {
        let now = b.now();
        let call = b.near.setup(now, number);
        b.run_until(500, |b| b.near.released(call));
        assert_eq!(b.near.clearing_cause(call), Some(cause), "{number}");
        let r = b.switch.reports().last().unwrap();
        assert_eq!(r.called, number);
        assert_eq!(r.cause_sent, Some(cause));
        assert!(r.is_cleared() && r.connected_at.is_none());
    }
    assert_eq!(
        [17, 1, 34],
        [0, 1, 2].map(|i| b
            .switch
            .report(CallId(i))
            .unwrap()
            .final_cause()
            .unwrap()
            .value())
    );
    // No channel left busy on either side.
    assert_eq!(b.near.iface.call_count(), 0);
    assert_eq!(b.switch.live_calls(), 0);
}

#[test]
fn no_answer_clears_with_cause_19_after_the_timeout() {
    let mut b = Bench::new(answer_plan(), false);
    let now = b.now();
    let call = b.near.setup(now, "19");
    let took = b.run_until(5000, |b| b.near.clearing_cause(call).is_some());
    assert_eq!(b.near.clearing_cause(call), Some(CauseValue::NoAnswer));
    assert!((3000..3050).contains(&took), "{took} ms");
    assert!(b
        .near
        .events
        .iter()
        .any(|e| matches!(e, Event::Alerting { call: c, .. } if *c == call)));
    b.run_until(500, |b| b.near.released(call));
    let r = b.switch.report(CallId(0)).unwrap();
    assert_eq!(r.cause_sent, Some(CauseValue::NoAnswer));
    assert!(r.connected_at.is_none());
    // Ringback, 1 s on / 4 s off, for the first second.
    assert!(tone_ms(Law::ALaw, &b.near.rx, 425.0) >= 800);
}

#[test]
fn caller_giving_up_on_no_answer_is_recorded() {
    let mut b = Bench::new(answer_plan(), false);
    let now = b.now();
    let call = b.near.setup(now, "19");
    b.run(1000);
    let now = b.now();
    b.near
        .iface
        .disconnect(now, call, CauseValue::NormalCallClearing)
        .unwrap();
    b.run_until(500, |b| b.switch.report(CallId(0)).unwrap().is_cleared());
    let r = b.switch.report(CallId(0)).unwrap();
    assert_eq!(r.cause_sent, None);
    assert_eq!(r.final_cause(), Some(CauseValue::NormalCallClearing));
    // The timeout does not fire afterwards.
    b.run(3000);
    assert_eq!(b.switch.reports().len(), 1);
    assert!(!b
        .near
        .events
        .iter()
        .any(|e| matches!(e, Event::Disconnecting { .. })));
}

#[test]
fn early_media_plays_before_any_answer() {
    let mut b = Bench::new(answer_plan(), false);
    let now = b.now();
    let call = b.near.setup(now, "8");
    b.run(1500);
    assert!(b.near.events.iter().any(|e| matches!(
        e,
        Event::Progress { call: c, inband: true, .. } if *c == call
    )));
    assert!(!b
        .near
        .events
        .iter()
        .any(|e| matches!(e, Event::Connected { .. })));
    assert!(tone_ms(Law::ALaw, &b.near.rx, 800.0) >= 1000);
    let now = b.now();
    b.near
        .iface
        .disconnect(now, call, CauseValue::NormalCallClearing)
        .unwrap();
    b.run_until(500, |b| b.near.released(call));
}

#[test]
fn switch_calls_the_gateway_and_hangs_up() {
    let mut b = Bench::new(answer_plan(), false);
    let now = b.now();
    let id = b.switch.call(now, "4000", "5550000").unwrap();
    b.run_until(500, |b| {
        b.near
            .events
            .iter()
            .any(|e| matches!(e, Event::IncomingSetup { .. }))
    });
    let (call, called, calling, channel) = b
        .near
        .events
        .iter()
        .find_map(|e| match e {
            Event::IncomingSetup {
                call,
                called,
                calling,
                channel,
                ..
            } => Some((
                *call,
                called.as_ref().unwrap().digits.clone(),
                calling.as_ref().unwrap().digits.clone(),
                *channel,
            )),
            _ => None,
        })
        .unwrap();
    assert_eq!((called.as_str(), calling.as_str()), ("4000", "5550000"));
    assert!(channel.is_some());
    let now = b.now();
    b.near.iface.proceeding(now, call).unwrap();
    b.near.iface.alerting(now, call, false).unwrap();
    b.run(300);
    let now = b.now();
    b.near.iface.connect(now, call).unwrap();
    b.run(1500);
    let kinds: Vec<_> = b
        .switch_events
        .iter()
        .filter_map(|e| match e {
            SwitchEvent::Proceeding { call } if *call == id => Some("proceeding"),
            SwitchEvent::Alerting { call } if *call == id => Some("alerting"),
            SwitchEvent::Connected { call } if *call == id => Some("connected"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["proceeding", "alerting", "connected"]);
    let r = b.switch.report(id).unwrap();
    assert_eq!(r.direction, Direction::ToGateway);
    assert_eq!(r.channel, channel);
    assert!(r.heard(NEAR_HZ, 1000), "{} ms", r.tone_ms(NEAR_HZ));
    assert!(tone_ms(Law::ALaw, &b.near.rx, 1000.0) >= 1000);

    let now = b.now();
    b.switch
        .hangup(now, id, CauseValue::NormalCallClearing)
        .unwrap();
    b.run_until(500, |b| b.near.released(call));
    assert_eq!(
        b.near.clearing_cause(call),
        Some(CauseValue::NormalCallClearing)
    );
    b.run_until(500, |b| b.switch.report(id).unwrap().is_cleared());
    assert_eq!(
        b.switch.report(id).unwrap().cause_sent,
        Some(CauseValue::NormalCallClearing)
    );
    assert!(b
        .switch_events
        .iter()
        .any(|e| matches!(e, SwitchEvent::Cleared { call, .. } if *call == id)));
}

#[test]
fn switch_refuses_to_call_while_the_link_is_down() {
    let sim = Sim::builder().e1(1).build();
    let now = Instant::now();
    let mut sw = Switch::new(sim.far(), SwitchConfig::default(), now).unwrap();
    assert!(matches!(
        sw.call(now, "1", "2"),
        Err(tdm_sim::pstn::SwitchError::LinkDown)
    ));
}

/// The real-time runner: the switch on its own thread, paced by the simulator's clock;
/// the near end polled by this thread against the wall clock.
#[test]
fn spawned_switch_answers_in_real_time() {
    let sim = Sim::builder().e1(1).clock(ClockMode::RealTime).build();
    let now = Instant::now();
    let far = sim.far();
    let ticker = far.ticker().unwrap();
    let switch = Switch::new(
        far,
        SwitchConfig {
            plan: NumberPlan::new(Behaviour::Answer {
                after_ms: 200,
                tone_hz: 1000.0,
            }),
            ..Default::default()
        },
        now,
    )
    .unwrap();
    let mut handle = switch.spawn(ticker).unwrap();
    let mut near = Near::new(&sim, false, now);
    let mut ticker = sim.near().ticker().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut call = None;
    let mut connected_at = None;
    while Instant::now() < deadline {
        ticker.wait(Duration::from_millis(20)).unwrap();
        let now = Instant::now();
        near.poll(now);
        if call.is_none() && near.iface.is_link_up() && handle.is_link_up(SPAN) {
            call = Some(near.setup(now, "5551234"));
        }
        if connected_at.is_none()
            && near
                .events
                .iter()
                .any(|e| matches!(e, Event::Connected { .. }))
        {
            connected_at = Some(now);
        }
        if connected_at.is_some_and(|t| now - t > Duration::from_millis(1500)) {
            break;
        }
    }
    assert!(connected_at.is_some(), "no answer in real time");
    let r = handle.report(CallId(0)).unwrap();
    assert!(
        r.heard(NEAR_HZ, 800),
        "switch heard {} ms",
        r.tone_ms(NEAR_HZ)
    );
    assert!(tone_ms(Law::ALaw, &near.rx, 1000.0) >= 800);
    handle
        .hangup(CallId(0), CauseValue::NormalCallClearing)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && !near.released(call.unwrap()) {
        ticker.wait(Duration::from_millis(20)).unwrap();
        near.poll(Instant::now());
    }
    assert!(near.released(call.unwrap()));
    handle.stop();
    assert!(handle
        .events()
        .iter()
        .any(|e| matches!(e, SwitchEvent::Cleared { .. })));
}

#[test]
fn two_spans_each_with_its_own_d_channel() {
    let sim = Sim::builder().e1(2).build();
    let t0 = Instant::now();
    let mut sw = Switch::new(
        sim.far(),
        SwitchConfig {
            plan: answer_plan(),
            ..Default::default()
        },
        t0,
    )
    .unwrap();
    assert_eq!(sw.spans(), [SpanId(1), SpanId(2)]);
    let mut nears = [
        Near::on(&sim, SpanId(1), false, t0),
        Near::on(&sim, SpanId(2), false, t0),
    ];
    let mut ms = 0;
    let mut step = |sw: &mut Switch, nears: &mut [Near; 2], n: u64| {
        for _ in 0..n {
            sim.advance(1).unwrap();
            ms += 1;
            let now = t0 + Duration::from_millis(ms);
            sw.poll(now);
            nears.iter_mut().for_each(|x| x.poll(now));
        }
        t0 + Duration::from_millis(ms)
    };
    let now = step(&mut sw, &mut nears, 500);
    assert!(sw.is_link_up(SpanId(1)) && sw.is_link_up(SpanId(2)));
    // The gateway calls on span 2; the switch calls the gateway on span 1.
    let out = nears[1].setup(now, "5550002");
    let inc = sw.call_on(now, SpanId(1), "4001", "5550001").unwrap();
    let now = step(&mut sw, &mut nears, 100);
    let offered = nears[0]
        .events
        .iter()
        .find_map(|e| match e {
            Event::IncomingSetup { call, .. } => Some(*call),
            _ => None,
        })
        .unwrap();
    nears[0].iface.connect(now, offered).unwrap();
    step(&mut sw, &mut nears, 1500);
    let from_gw = sw
        .reports()
        .iter()
        .find(|r| r.direction == Direction::FromGateway)
        .unwrap();
    assert_eq!(from_gw.span, SpanId(2));
    assert!(from_gw.connected_at.is_some());
    assert!(from_gw.heard(NEAR_HZ, 1000));
    assert!(tone_ms(Law::ALaw, &nears[1].rx, 1000.0) >= 800);
    let to_gw = sw.report(inc).unwrap();
    assert_eq!(to_gw.span, SpanId(1));
    assert!(to_gw.heard(NEAR_HZ, 1000));
    assert!(tone_ms(Law::ALaw, &nears[0].rx, 1000.0) >= 1000);
    // One call on each span, nothing leaked across.
    assert_eq!(sw.reports().len(), 2);
    assert_eq!(nears[0].iface.call_count(), 1);
    assert_eq!(nears[1].iface.call_count(), 1);
    assert_eq!(nears[1].iface.channel(out), from_gw.channel);
}

#[test]
fn d_channel_cut_takes_the_link_down_and_it_comes_back() {
    let mut b = Bench::new(answer_plan(), false);
    b.sim
        .impair(
            SPAN,
            tdm_sim::End::Near,
            tdm_sim::Impairment::DChannelCut(true),
        )
        .unwrap();
    b.run_until(60_000, |b| !b.switch.is_link_up(SPAN));
    assert!(b
        .switch_events
        .contains(&SwitchEvent::LinkDown { span: SPAN }));
    let now = b.now();
    assert!(b.switch.call(now, "1", "2").is_err());
    b.sim
        .impair(
            SPAN,
            tdm_sim::End::Near,
            tdm_sim::Impairment::DChannelCut(false),
        )
        .unwrap();
    b.run_until(60_000, |b| {
        b.switch.is_link_up(SPAN) && b.near.iface.is_link_up()
    });
    // And calls work again.
    let now = b.now();
    let call = b.near.setup(now, "17");
    b.run_until(1000, |b| b.near.released(call));
    assert_eq!(b.near.clearing_cause(call), Some(CauseValue::UserBusy));
}
