//! Demo of the PSTN switch emulator: one simulated span in real time, the switch
//! (`tdm_sim::pstn::Switch`, default number plan) on its far end on its own thread, and on
//! the near end our Q.931 user side standing in for the gateway. The near end calls an
//! answering number, a busy one, an unallocated one, a congested one, one that never
//! answers and one with early media; then the switch calls the near end. One line per
//! call: signalling, causes, and the tones each side heard.
//!
//! `cargo run -p tdm-sim --bin pstn-switch [-- --t1]`

use std::time::{Duration, Instant};

use dahdi_driver::{
    ChanError, Channel, ChannelId, ChannelMode, Device, Law, SpanId, Ticker, Timeslot,
};
use q931::call::{CallHandle, ChannelPref, Event, Interface, InterfaceConfig, SetupRequest};
use q931::ie::{
    BearerCapability, CalledPartyNumber, CallingPartyNumber, CauseValue, Layer1Protocol,
    NumberingPlan as Npi, TypeOfNumber,
};
use q931::lapd::Role;
use tdm_sim::pstn::{
    dual_tone_ms, tone_ms, Behaviour, CallId, NumberPlan, Switch, SwitchConfig, SwitchHandle,
    ToneSource,
};
use tdm_sim::{ClockMode, Sim, SimDevice};

const SPAN: SpanId = SpanId(1);
const NEAR_HZ: f64 = 700.0;
const BLOCK: usize = 160;

/// The near end: our user-side Q.931 on the D-channel and one B-channel with a tone.
struct Near {
    dev: SimDevice,
    law: Law,
    iface: Interface,
    d: Box<dyn Channel>,
    b: Option<(Box<dyn Channel>, ToneSource)>,
    tx: [u8; BLOCK],
    written: usize,
    rx: Vec<u8>,
    events: Vec<Event>,
    ticker: Box<dyn Ticker>,
}

impl Near {
    fn poll(&mut self) {
        let now = Instant::now();
        let mut buf = [0u8; 512];
        loop {
            match self.d.read(&mut buf) {
                Ok(n) => self.iface.handle_frame(now, &buf[..n]),
                Err(ChanError::EventPending) => {
                    let _ = self.d.get_event();
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
                | Event::IncomingSetup {
                    channel: Some(c), ..
                }
                | Event::Connected {
                    channel: Some(c), ..
                } if self.b.is_none() => {
                    let id = ChannelId {
                        span: SPAN,
                        timeslot: Timeslot(*c),
                    };
                    let mode = ChannelMode::Clear {
                        blocksize: BLOCK,
                        law: self.law,
                    };
                    match self.dev.open_channel(id, mode) {
                        Ok(ch) => {
                            self.b = Some((ch, ToneSource::continuous(self.law, NEAR_HZ, -10.0)));
                            self.written = BLOCK;
                        }
                        Err(e) => eprintln!("near: cannot open B-channel {id}: {e}"),
                    }
                }
                Event::Released { .. } => self.b = None,
                _ => {}
            }
            self.events.push(ev);
        }
        while let Some(f) = self.iface.poll_transmit() {
            if let Err(e) = self.d.write(&f) {
                eprintln!("near: D-channel write: {e}");
            }
        }
        if let Some((ch, src)) = self.b.as_mut() {
            let mut block = [0u8; BLOCK];
            while let Ok(n) = ch.read(&mut block) {
                self.rx.extend_from_slice(&block[..n]);
            }
            loop {
                if self.written == BLOCK {
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

    /// Polls on every tick until `done` or `max`; true when done.
    fn run_until(&mut self, max: Duration, done: impl Fn(&Near) -> bool) -> bool {
        let end = Instant::now() + max;
        while Instant::now() < end {
            if done(self) {
                return true;
            }
            let _ = self.ticker.wait(Duration::from_millis(20));
            self.poll();
        }
        done(self)
    }

    fn run(&mut self, d: Duration) {
        self.run_until(d, |_| false);
    }

    fn setup(&mut self, called: &str) -> Option<CallHandle> {
        let l1 = match self.law {
            Law::ALaw => Layer1Protocol::G711ALaw,
            Law::MuLaw => Layer1Protocol::G711MuLaw,
        };
        let req = SetupRequest {
            called: Some(CalledPartyNumber::new(
                TypeOfNumber::Unknown,
                Npi::Isdn,
                called,
            )),
            calling: Some(CallingPartyNumber::new(
                TypeOfNumber::Unknown,
                Npi::Isdn,
                "2001",
            )),
            bearer: BearerCapability::speech(l1),
            channel: ChannelPref::Any,
            sending_complete: true,
        };
        match self.iface.setup(Instant::now(), req) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("near: SETUP refused: {e}");
                None
            }
        }
    }

    fn released(&self, call: CallHandle) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, Event::Released { call: c, .. } if *c == call))
    }

    fn connected(&self, call: CallHandle) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, Event::Connected { call: c, .. } if *c == call))
    }

    fn cause(&self, call: CallHandle) -> String {
        self.events
            .iter()
            .find_map(|e| match e {
                Event::Disconnecting { call: c, cause, .. } if *c == call => Some(cause.value),
                Event::Released {
                    call: c,
                    cause: Some(cause),
                } if *c == call => Some(cause.value),
                _ => None,
            })
            .map(|v| format!("cause {} ({})", v.value(), v.name()))
            .unwrap_or_else(|| "no cause".into())
    }

    fn hangup(&mut self, call: CallHandle) {
        if let Err(e) = self
            .iface
            .disconnect(Instant::now(), call, CauseValue::NormalCallClearing)
        {
            eprintln!("near: DISCONNECT refused: {e}");
        }
    }
}

fn summary(near: &Near, sw: &SwitchHandle, id: CallId, law: Law, listen: &[f64]) {
    let Some(r) = sw.report(id) else {
        println!("  (the switch has no report for call {})", id.0);
        return;
    };
    let answer = match r.connected_at {
        Some(t) => format!("answered after {} ms", (t - r.started_at).as_millis()),
        None => "not answered".into(),
    };
    let mut heard: Vec<String> = listen
        .iter()
        .map(|&f| format!("{f} Hz {} ms", tone_ms(law, &near.rx, f)))
        .collect();
    if law == Law::MuLaw {
        let ms = dual_tone_ms(law, &near.rx, 440.0, 480.0);
        heard.insert(0, format!("ringback 440+480 Hz {ms} ms"));
    }
    println!(
        "  switch: {:?} {} -> {} on B{}, {answer}, {:?}, final {}, switch heard {NEAR_HZ} Hz for {} ms",
        r.direction,
        r.calling,
        r.called,
        r.channel.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
        r.behaviour,
        r.final_cause()
            .map(|v| format!("cause {}", v.value()))
            .unwrap_or_else(|| "-".into()),
        r.tone_ms(NEAR_HZ),
    );
    println!("  near end heard: {}", heard.join(", "));
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let t1 = std::env::args().any(|a| a == "--t1");
    let sim = if t1 {
        Sim::builder().t1(1)
    } else {
        Sim::builder().e1(1)
    }
    .clock(ClockMode::RealTime)
    .build();
    let (law, icfg, dslot) = if t1 {
        (Law::MuLaw, InterfaceConfig::ni2_t1(Role::User), 24)
    } else {
        (Law::ALaw, InterfaceConfig::euro_isdn_e1(Role::User), 16)
    };
    let plan = NumberPlan::default().exact("1900", Behaviour::NoAnswer { timeout_ms: 2000 });
    let far = sim.far();
    let ticker = far.ticker()?;
    let switch = Switch::new(
        far,
        SwitchConfig {
            plan,
            ..Default::default()
        },
        Instant::now(),
    )?;
    let sw = switch.spawn(ticker)?;

    let dev = sim.near();
    let d = dev.open_channel(
        ChannelId {
            span: SPAN,
            timeslot: Timeslot(dslot),
        },
        ChannelMode::HdlcFcs,
    )?;
    let mut iface = Interface::new(icfg);
    iface.start(Instant::now());
    let mut near = Near {
        ticker: dev.ticker()?,
        dev,
        law,
        iface,
        d,
        b: None,
        tx: [0; BLOCK],
        written: BLOCK,
        rx: Vec::new(),
        events: Vec::new(),
    };
    println!(
        "{} span, switch on the far end ({}), our user side on the near end",
        if t1 { "T1" } else { "E1" },
        if t1 { "NI-2" } else { "EuroISDN" }
    );
    if !near.run_until(Duration::from_secs(5), |n| {
        n.iface.is_link_up() && sw.is_link_up(SPAN)
    }) {
        return Err("the data link did not come up".into());
    }
    println!("D-channel data link up");

    let listen: &[f64] = if t1 {
        &[1000.0, 800.0]
    } else {
        &[425.0, 1000.0, 800.0]
    };
    let script: [(&str, &str, Duration); 6] = [
        ("5551234", "answers after 1 s", Duration::from_secs(3)),
        ("1700", "busy", Duration::ZERO),
        ("0800", "unallocated", Duration::ZERO),
        ("3400", "congestion", Duration::ZERO),
        ("1900", "no answer, 2 s timeout", Duration::ZERO),
        ("8000", "early media", Duration::from_millis(1500)),
    ];
    for (i, (number, what, hold)) in script.into_iter().enumerate() {
        println!("call {number} ({what}):");
        near.rx.clear();
        let Some(call) = near.setup(number) else {
            continue;
        };
        if hold > Duration::ZERO {
            near.run(hold);
            near.hangup(call);
        }
        if !near.run_until(Duration::from_secs(10), |n| n.released(call)) {
            println!("  not cleared after 10 s");
        }
        println!(
            "  near end: {}, {}",
            if near.connected(call) {
                "connected"
            } else {
                "not connected"
            },
            near.cause(call)
        );
        summary(&near, &sw, CallId(i as u32), law, listen);
    }

    println!("the switch calls the near end (4000 from 5550000):");
    near.rx.clear();
    let id = sw.call("4000", "5550000")?;
    let offered = near.run_until(Duration::from_secs(2), |n| {
        n.events
            .iter()
            .any(|e| matches!(e, Event::IncomingSetup { .. }))
    });
    let call = near.events.iter().rev().find_map(|e| match e {
        Event::IncomingSetup { call, .. } => Some(*call),
        _ => None,
    });
    match (offered, call) {
        (true, Some(call)) => {
            let now = Instant::now();
            near.iface.alerting(now, call, false)?;
            near.run(Duration::from_millis(500));
            near.iface.connect(Instant::now(), call)?;
            near.run(Duration::from_secs(2));
            sw.hangup(id, CauseValue::NormalCallClearing)?;
            near.run_until(Duration::from_secs(5), |n| n.released(call));
            println!("  near end: {}", near.cause(call));
            summary(&near, &sw, id, law, &[1000.0]);
        }
        _ => println!("  no SETUP arrived"),
    }
    Ok(())
}
