//! Drivers that turn an arbitrary byte string into a run of our endpoints, shared by the
//! cargo-fuzz targets (`fuzz/fuzz_targets/{call_endpoint,ras_endpoints}.rs`) and the
//! no-panic tests of the normal test suite (`tests/fuzz_harness.rs`), so that a crash
//! found by the fuzzer replays as a plain `cargo test`, and so that the seeds the fuzzer
//! starts from (real calls and a real RAS session, [`call_seeds`], [`ras_seeds`]) are
//! written in the very format the drivers read.
//!
//! A driver panics only when the code under test panics, or when an invariant it checks
//! fails (everything the RAS client or gatekeeper sends must decode as RAS).

use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use crate::call::{Call, CallConfig, Channel, Event, PlaceCall};
use crate::fast_start::MediaAddresses;
use crate::h225::{Alias, Endpoint, Guid};
use crate::q931::ie::CauseValue;
use crate::ras::client::{Admission, ClientConfig, GatekeeperLocation, RasClient};
use crate::ras::gatekeeper::{Gatekeeper, GatekeeperConfig};
use crate::ras::{self, Registrant};

/// Time steps a record can advance the clock by (3 bits of its header).
const STEPS_MS: [u64; 8] = [0, 10, 100, 1_000, 5_000, 15_000, 60_000, 200_000];

/// Configuration octet of a [`call_endpoint`] input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallFlags {
    /// Offer (caller) / accept (callee) fast start.
    pub fast_start: bool,
    pub h245_tunneling: bool,
    /// Tell the endpoint its H.245 connection is up before anything else.
    pub h245_connected: bool,
    /// Play the caller ([`Call::place`] with [`place_call`]) instead of the callee.
    pub caller: bool,
    /// Listen for a separate H.245 connection (`h245Address`).
    pub h245_listen: bool,
}

impl CallFlags {
    fn from_octet(b: u8) -> Self {
        Self {
            fast_start: b & 1 != 0,
            h245_tunneling: b & 2 != 0,
            h245_connected: b & 4 != 0,
            caller: b & 8 != 0,
            h245_listen: b & 16 != 0,
        }
    }

    fn octet(self) -> u8 {
        u8::from(self.fast_start)
            | u8::from(self.h245_tunneling) << 1
            | u8::from(self.h245_connected) << 2
            | u8::from(self.caller) << 3
            | u8::from(self.h245_listen) << 4
    }
}

/// A command given to the endpoint after a record's bytes (4 bits of its header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallCommand {
    None,
    Proceeding,
    Alerting,
    Progress,
    Answer,
    SendDigits,
    /// Jump the clock to `poll_timeout()` and call `handle_timeout`.
    Timeout,
    H245Connected,
    H245Closed,
    SignallingClosed,
    Release,
    ReleaseBusy,
}

impl CallCommand {
    const ALL: [CallCommand; 12] = [
        Self::None,
        Self::Proceeding,
        Self::Alerting,
        Self::Progress,
        Self::Answer,
        Self::SendDigits,
        Self::Timeout,
        Self::H245Connected,
        Self::H245Closed,
        Self::SignallingClosed,
        Self::Release,
        Self::ReleaseBusy,
    ];

    fn from_bits(b: u8) -> Self {
        Self::ALL.get(usize::from(b)).copied().unwrap_or(Self::None)
    }

    fn bits(self) -> u8 {
        Self::ALL.iter().position(|c| *c == self).unwrap_or(0) as u8
    }
}

/// One record of a [`call_endpoint`] input: bytes arriving on one connection (possibly
/// none), then a command, after the clock advanced by `STEPS_MS[step]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub channel: Channel,
    pub bytes: Vec<u8>,
    pub command: CallCommand,
    /// Index into the time steps (0..8): 0, 10 ms, 100 ms, 1 s, 5 s, 15 s, 60 s, 200 s.
    pub step: u8,
}

/// The caller's call in [`call_endpoint`] (fixed, so that recorded answers match it).
pub fn place_call() -> PlaceCall {
    PlaceCall {
        call_ref: 9,
        call_id: Guid([3; 16]),
        conference_id: Guid([4; 16]),
        source_aliases: vec![Alias::H323Id("a".into())],
        destination_aliases: vec![Alias::Dialled("12".into())],
        calling_number: Some("1".into()),
        called_number: Some("12".into()),
        display: Some("x".into()),
        source_signal_address: None,
        dest_signal_address: None,
    }
}

fn call_config(flags: CallFlags, port: u16) -> CallConfig {
    let media = MediaAddresses {
        rtp: SocketAddrV4::new([127, 0, 0, 1].into(), port),
        rtcp: SocketAddrV4::new([127, 0, 0, 1].into(), port + 1),
    };
    let mut cfg = CallConfig::new(media);
    cfg.fast_start = flags.fast_start;
    cfg.h245_tunneling = flags.h245_tunneling;
    cfg.h245_listen = flags
        .h245_listen
        .then(|| SocketAddrV4::new([127, 0, 0, 1].into(), port + 10));
    cfg.seed = Some(1);
    cfg
}

/// Writes a [`call_endpoint`] input: the flags octet, then per record a header octet
/// (bit 7: H.245 connection, bits 6-4: time step, bits 3-0: command), a length octet
/// and the bytes (a record longer than 255 octets is split; the command goes with the
/// last part).
pub fn call_input(flags: CallFlags, records: &[CallRecord]) -> Vec<u8> {
    let mut out = vec![flags.octet()];
    for r in records {
        let parts: Vec<&[u8]> = if r.bytes.is_empty() {
            vec![&[][..]]
        } else {
            r.bytes.chunks(255).collect()
        };
        let last = parts.len() - 1;
        for (i, part) in parts.into_iter().enumerate() {
            let command = if i == last {
                r.command
            } else {
                CallCommand::None
            };
            let step = if i == 0 { r.step & 7 } else { 0 };
            let h245 = u8::from(r.channel == Channel::H245) << 7;
            out.push(h245 | step << 4 | command.bits());
            out.push(part.len() as u8);
            out.extend_from_slice(part);
        }
    }
    out
}

/// Runs one H.323 call endpoint (callee, or caller per the flags) on an arbitrary input
/// in [`call_input`]'s format: bytes on both of its connections, commands and time in
/// between, then a release. Returns how many events it reported (so that tests can tell
/// that an input did real work).
pub fn call_endpoint(data: &[u8]) -> usize {
    let Some((&flags, mut rest)) = data.split_first() else {
        return 0;
    };
    let flags = CallFlags::from_octet(flags);
    let t0 = Instant::now();
    let mut now = t0;
    let cfg = call_config(flags, if flags.caller { 5000 } else { 6000 });
    let mut call = if flags.caller {
        Call::place(now, cfg, place_call())
    } else {
        Call::incoming(cfg)
    };
    if flags.h245_connected {
        call.h245_connected(now);
    }
    let mut events = 0;
    while let [header, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (bytes, next) = tail.split_at(n);
        rest = next;
        now += Duration::from_millis(STEPS_MS[usize::from(header >> 4 & 7)]);
        if !bytes.is_empty() {
            if header & 0x80 != 0 {
                call.handle_h245_bytes(now, bytes);
            } else {
                call.handle_signalling_bytes(now, bytes);
            }
        }
        match CallCommand::from_bits(header & 0x0F) {
            CallCommand::None => {}
            CallCommand::Proceeding => call.proceeding(now),
            CallCommand::Alerting => call.alerting(now),
            CallCommand::Progress => call.progress(now),
            CallCommand::Answer => call.answer(now),
            CallCommand::SendDigits => {
                let _ = call.send_digits(now, "1#");
            }
            CallCommand::Timeout => {
                if let Some(t) = call.poll_timeout() {
                    now = now.max(t);
                }
                call.handle_timeout(now);
            }
            CallCommand::H245Connected => call.h245_connected(now),
            CallCommand::H245Closed => call.h245_closed(now),
            CallCommand::SignallingClosed => call.signalling_closed(now),
            CallCommand::Release => call.release(now, CauseValue::NormalCallClearing),
            CallCommand::ReleaseBusy => call.release(now, CauseValue::UserBusy),
        }
        while call.poll_transmit().is_some() {}
        while call.poll_event().is_some() {
            events += 1;
        }
    }
    now += Duration::from_secs(1);
    call.release(now, CauseValue::NormalCallClearing);
    for _ in 0..8 {
        let Some(t) = call.poll_timeout() else { break };
        now = now.max(t);
        call.handle_timeout(now);
    }
    while call.poll_transmit().is_some() {}
    while call.poll_event().is_some() {
        events += 1;
    }
    events
}

/// The configurations of the three recorded calls: fast start with tunnelling; no fast
/// start, H.245 tunnelled; no fast start, H.245 on a separate connection that the callee
/// listens for.
fn seed_flags(kind: u8) -> (CallFlags, CallFlags) {
    let caller = CallFlags {
        fast_start: kind == 0,
        h245_tunneling: kind != 2,
        caller: true,
        ..CallFlags::default()
    };
    let callee = CallFlags {
        fast_start: true,
        h245_tunneling: kind != 2,
        h245_listen: kind == 2,
        ..CallFlags::default()
    };
    (caller, callee)
}

/// Two of our endpoints complete a call of the given kind (see `seed_flags`) in memory;
/// returns, for the caller and for the callee, everything that reached it, in order,
/// as [`CallRecord`]s (the commands we gave it included).
fn record_call(kind: u8) -> (Vec<CallRecord>, Vec<CallRecord>) {
    let now = Instant::now();
    let (fa, fb) = seed_flags(kind);
    let mut a = Call::place(now, call_config(fa, 5000), place_call());
    let mut b = Call::incoming(call_config(fb, 6000));
    let (mut ra, mut rb) = (Vec::new(), Vec::new());
    let cmd = |command| CallRecord {
        channel: Channel::Signalling,
        bytes: Vec::new(),
        command,
        step: 0,
    };
    let mut released = false;
    let mut h245_up = false;
    for _ in 0..100 {
        if a.is_released() && b.is_released() {
            break;
        }
        let moved = deliver(now, &mut a, &mut b, &mut rb) | deliver(now, &mut b, &mut a, &mut ra);
        let mut connect = false;
        while let Some(e) = b.poll_event() {
            match e {
                Event::Setup(_) => {
                    b.alerting(now);
                    b.answer(now);
                    rb.push(cmd(CallCommand::Alerting));
                    rb.push(cmd(CallCommand::Answer));
                }
                Event::H245Connect(_) => connect = true,
                _ => {}
            }
        }
        while let Some(e) = a.poll_event() {
            match e {
                Event::H245Connect(_) => connect = true,
                Event::Media(_) | Event::Connected { media: Some(_) } if !released => {
                    let _ = a.send_digits(now, "1#");
                    ra.push(cmd(CallCommand::SendDigits));
                }
                _ => {}
            }
        }
        // The separate H.245 connection: whoever was told to connects, the other accepts.
        if connect && !h245_up {
            h245_up = true;
            a.h245_connected(now);
            b.h245_connected(now);
            ra.push(cmd(CallCommand::H245Connected));
            rb.push(cmd(CallCommand::H245Connected));
        }
        if !moved && !connect && !released && a.media().is_some() {
            released = true;
            a.release(now, CauseValue::NormalCallClearing);
            ra.push(cmd(CallCommand::Release));
        }
    }
    (ra, rb)
}

/// Hands what `from` sends to `to`, logging it as `to`'s input; true if anything moved.
fn deliver(now: Instant, from: &mut Call, to: &mut Call, log: &mut Vec<CallRecord>) -> bool {
    let mut moved = false;
    while let Some(t) = from.poll_transmit() {
        moved = true;
        match t.channel {
            Channel::Signalling => to.handle_signalling_bytes(now, &t.bytes),
            Channel::H245 => to.handle_h245_bytes(now, &t.bytes),
        }
        log.push(CallRecord {
            channel: t.channel,
            bytes: t.bytes,
            command: CallCommand::None,
            step: 0,
        });
    }
    moved
}

/// The records of the three calls of [`call_seeds`], per side, named `<kind>-<side>`.
pub fn call_seed_records() -> Vec<(String, CallFlags, Vec<CallRecord>)> {
    let mut seeds = Vec::new();
    for (kind, name) in [(0, "fast-start"), (1, "tunnelled"), (2, "separate-h245")] {
        let (fa, fb) = seed_flags(kind);
        let (ra, rb) = record_call(kind);
        seeds.push((format!("{name}-caller"), fa, ra));
        seeds.push((format!("{name}-callee"), fb, rb));
    }
    seeds
}

/// Seed inputs for [`call_endpoint`]: the caller's and the callee's side of three real
/// calls (fast start; no fast start with H.245 tunnelled; no fast start with H.245 on a
/// connection of its own), named `<kind>-<side>`.
pub fn call_seeds() -> Vec<(String, Vec<u8>)> {
    call_seed_records()
        .into_iter()
        .map(|(name, flags, records)| (name, call_input(flags, &records)))
        .collect()
}

const GK_ADDR: SocketAddrV4 = SocketAddrV4::new(std::net::Ipv4Addr::new(10, 0, 0, 9), 1719);
const EP_ADDR: SocketAddrV4 = SocketAddrV4::new(std::net::Ipv4Addr::new(10, 0, 0, 1), 1719);
const STRANGER: SocketAddrV4 = SocketAddrV4::new(std::net::Ipv4Addr::new(10, 0, 0, 66), 1719);

/// Where a [`ras_endpoints`] record's datagram goes (bits 1-0 of its header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RasTarget {
    /// To the client, from the gatekeeper's address.
    Client,
    /// To the gatekeeper, from the client's address.
    Gatekeeper,
    Both,
    /// To the client, from another host.
    ClientFromStranger,
}

/// A command after a [`ras_endpoints`] record's datagram (bits 5-2 of its header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RasCommand {
    None,
    Admit,
    AnswerCall,
    Disengage,
    Unregister,
    GatekeeperRestart,
    GatekeeperUnregister,
    GatekeeperInfoRequest,
    GatekeeperBandwidth,
    GatekeeperDisengage,
    GatekeeperSilence,
    /// Both ends: jump the clock to the earlier `poll_timeout()` and handle it.
    Timeout,
}

impl RasCommand {
    const ALL: [RasCommand; 12] = [
        Self::None,
        Self::Admit,
        Self::AnswerCall,
        Self::Disengage,
        Self::Unregister,
        Self::GatekeeperRestart,
        Self::GatekeeperUnregister,
        Self::GatekeeperInfoRequest,
        Self::GatekeeperBandwidth,
        Self::GatekeeperDisengage,
        Self::GatekeeperSilence,
        Self::Timeout,
    ];

    fn from_bits(b: u8) -> Self {
        Self::ALL.get(usize::from(b)).copied().unwrap_or(Self::None)
    }

    fn bits(self) -> u8 {
        Self::ALL.iter().position(|c| *c == self).unwrap_or(0) as u8
    }
}

/// One record of a [`ras_endpoints`] input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RasRecord {
    pub target: RasTarget,
    pub datagram: Vec<u8>,
    pub command: RasCommand,
    /// 0: no time passes; 1: 1 s; 2: 10 s; 3: 100 s.
    pub step: u8,
}

const RAS_STEPS_MS: [u64; 4] = [0, 1_000, 10_000, 100_000];

/// Writes a [`ras_endpoints`] input: per record a header octet (bits 7-6: time step,
/// bits 5-2: command, bits 1-0: target), a 2-octet big-endian length and the datagram.
pub fn ras_input(records: &[RasRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        let target = match r.target {
            RasTarget::Client => 0,
            RasTarget::Gatekeeper => 1,
            RasTarget::Both => 2,
            RasTarget::ClientFromStranger => 3,
        };
        out.push((r.step & 3) << 6 | r.command.bits() << 2 | target);
        let len = r.datagram.len().min(usize::from(u16::MAX));
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend_from_slice(&r.datagram[..len]);
    }
    out
}

fn registrant() -> Registrant {
    Registrant {
        endpoint: Endpoint::default(),
        ras_address: EP_ADDR,
        call_signal_address: SocketAddrV4::new(*EP_ADDR.ip(), 1720),
        aliases: vec![Alias::H323Id("gw".into())],
        prefixes: vec!["49".into()],
    }
}

fn admission(answer_call: bool) -> Admission {
    Admission {
        call_ref: 7,
        call_id: Guid([7; 16]),
        conference_id: Guid([8; 16]),
        destination: vec![Alias::Dialled("4930".into())],
        dest_call_signal_address: None,
        source: Vec::new(),
        bandwidth: 1280,
        answer_call,
    }
}

/// Our RAS client and gatekeeper double, talking to each other, fed with arbitrary
/// datagrams and commands in [`ras_input`]'s format. Panics if either sends something
/// that does not decode as RAS. Returns the number of events they reported.
pub fn ras_endpoints(data: &[u8]) -> usize {
    let t0 = Instant::now();
    let mut now = t0;
    let mut c = RasClient::new(ClientConfig::new(
        registrant(),
        GatekeeperLocation::Configured(GK_ADDR),
    ));
    let mut g = Gatekeeper::new(GatekeeperConfig::new("GK", GK_ADDR));
    let _ = c.start(now);
    let mut silent = false;
    let mut events = exchange(now, &mut c, &mut g);
    let mut rest = data;
    while let [header, hi, lo, tail @ ..] = rest {
        let n = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (d, next) = tail.split_at(n);
        rest = next;
        now += Duration::from_millis(RAS_STEPS_MS[usize::from(header >> 6)]);
        match header & 3 {
            0 => c.handle_datagram(now, GK_ADDR, d),
            1 => g.handle_datagram(now, EP_ADDR, d),
            2 => {
                c.handle_datagram(now, GK_ADDR, d);
                g.handle_datagram(now, EP_ADDR, d);
            }
            _ => c.handle_datagram(now, STRANGER, d),
        }
        let ep = c.endpoint_id().unwrap_or("EP-0001").to_string();
        match RasCommand::from_bits(header >> 2 & 0x0F) {
            RasCommand::None => {}
            RasCommand::Admit => {
                let _ = c.admit(now, admission(false));
            }
            RasCommand::AnswerCall => {
                let _ = c.admit(now, admission(true));
            }
            RasCommand::Disengage => {
                let _ = c.disengage(now, Guid([7; 16]));
            }
            RasCommand::Unregister => {
                let _ = c.unregister(now);
            }
            RasCommand::GatekeeperRestart => g.restart(),
            RasCommand::GatekeeperUnregister => {
                let _ = g.unregister(&ep);
            }
            RasCommand::GatekeeperInfoRequest => {
                let _ = g.info_request(&ep, 7);
            }
            RasCommand::GatekeeperBandwidth => {
                let _ = g.bandwidth_request(&ep, Guid([7; 16]), 640);
            }
            RasCommand::GatekeeperDisengage => {
                let _ = g.disengage(&ep, Guid([7; 16]));
            }
            RasCommand::GatekeeperSilence => {
                silent = !silent;
                g.set_silent(silent);
            }
            RasCommand::Timeout => {
                if let Some(t) = [c.poll_timeout(), g.poll_timeout()]
                    .into_iter()
                    .flatten()
                    .min()
                {
                    now = now.max(t);
                }
            }
        }
        c.handle_timeout(now);
        g.handle_timeout(now);
        events += exchange(now, &mut c, &mut g);
    }
    events
}

/// Delivers what each end sends to the other until nothing moves (bounded), checking
/// that it decodes.
fn exchange(now: Instant, c: &mut RasClient, g: &mut Gatekeeper) -> usize {
    let mut events = 0;
    for _ in 0..16 {
        let mut moved = false;
        while let Some(t) = c.poll_transmit() {
            moved = true;
            assert!(
                ras::decode(&t.payload).is_ok(),
                "the client sent undecodable RAS: {:02x?}",
                t.payload
            );
            g.handle_datagram(now, EP_ADDR, &t.payload);
        }
        while let Some(t) = g.poll_transmit() {
            moved = true;
            assert!(
                ras::decode(&t.payload).is_ok(),
                "the gatekeeper sent undecodable RAS: {:02x?}",
                t.payload
            );
            c.handle_datagram(now, GK_ADDR, &t.payload);
        }
        while c.poll_event().is_some() {
            events += 1;
        }
        while g.poll_event().is_some() {
            events += 1;
        }
        if !moved {
            break;
        }
    }
    events
}

/// One step of the recorded RAS session.
type SessionStep<'a> = &'a dyn Fn(Instant, &mut RasClient, &mut Gatekeeper);

/// Seed inputs for [`ras_endpoints`]: what our client and gatekeeper double said to each
/// other in a session (registration, keep-alive, admission, the gatekeeper's requests,
/// disengage, unregistration), each datagram addressed to its receiver, and the same
/// session's datagrams sent to both ends.
pub fn ras_seeds() -> Vec<(String, Vec<u8>)> {
    let mut now = Instant::now();
    let mut c = RasClient::new(ClientConfig::new(
        registrant(),
        GatekeeperLocation::Configured(GK_ADDR),
    ));
    let mut g = Gatekeeper::new(GatekeeperConfig::new("GK", GK_ADDR));
    let _ = c.start(now);
    let mut records = Vec::new();
    let pump = |now: Instant, c: &mut RasClient, g: &mut Gatekeeper, records: &mut Vec<_>| {
        for _ in 0..16 {
            let mut moved = false;
            while let Some(t) = c.poll_transmit() {
                moved = true;
                g.handle_datagram(now, EP_ADDR, &t.payload);
                records.push(RasRecord {
                    target: RasTarget::Gatekeeper,
                    datagram: t.payload,
                    command: RasCommand::None,
                    step: 0,
                });
            }
            while let Some(t) = g.poll_transmit() {
                moved = true;
                c.handle_datagram(now, GK_ADDR, &t.payload);
                records.push(RasRecord {
                    target: RasTarget::Client,
                    datagram: t.payload,
                    command: RasCommand::None,
                    step: 0,
                });
            }
            while c.poll_event().is_some() {}
            while g.poll_event().is_some() {}
            if !moved {
                break;
            }
        }
    };
    pump(now, &mut c, &mut g, &mut records);
    let ep = c.endpoint_id().unwrap_or("EP-0001").to_string();
    let steps: [SessionStep; 7] = [
        &|now, c, _| {
            if let Some(t) = c.poll_timeout() {
                c.handle_timeout(now.max(t));
            }
        },
        &|now, c, _| {
            let _ = c.admit(now, admission(false));
        },
        &|_, _, g| {
            let _ = g.info_request(&ep, 7);
        },
        &|_, _, g| {
            let _ = g.bandwidth_request(&ep, Guid([7; 16]), 640);
        },
        &|now, c, _| {
            let _ = c.disengage(now, Guid([7; 16]));
        },
        &|_, _, g| {
            let _ = g.unregister(&ep);
        },
        &|now, c, _| {
            let _ = c.unregister(now);
        },
    ];
    for step in steps {
        now += Duration::from_secs(1);
        step(now, &mut c, &mut g);
        pump(now, &mut c, &mut g, &mut records);
    }
    let both: Vec<RasRecord> = records
        .iter()
        .map(|r| RasRecord {
            target: RasTarget::Both,
            ..r.clone()
        })
        .collect();
    vec![
        ("session".into(), ras_input(&records)),
        ("session-both".into(), ras_input(&both)),
    ]
}
