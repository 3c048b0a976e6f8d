//! The conformance suite against a small in-memory cable (a test double written here,
//! far simpler than tdm-sim: whole HDLC frames instead of bits, no framing), to show
//! that the suite passes a device pair with DAHDI's semantics and fails one that
//! corrupts audio, crosses timeslots, leaves the FCS on frames, drops events or never
//! signals its fd.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dahdi_driver::conformance::{self, Limits, Link};
use dahdi_driver::{
    Alarms, ChanError, Channel, ChannelId, ChannelMode, Device, DeviceError, Event, Law,
    SpanConfig, SpanId, SpanKind, SpanStatus, Ticker,
};

#[derive(Debug, Default, Clone, Copy)]
struct Faults {
    /// Flip one bit of the n-th byte carried on timeslot 5, near → far.
    flip_byte: Option<usize>,
    /// Deliver timeslots 1 and 2 crossed.
    cross_1_2: bool,
    /// Hand HDLC frames to readers with 2 FCS bytes left on.
    keep_fcs: bool,
    /// Never queue alarm events.
    no_events: bool,
    /// Never make channel fds readable.
    mute_fd: bool,
    /// Send a counting pattern instead of the idle code when a channel has nothing.
    noisy_idle: bool,
}

/// The pollable fd of a channel: an in-band byte for POLLIN, an out-of-band byte for
/// POLLPRI (AF_UNIX MSG_OOB).
struct Signal {
    reader: UnixStream,
    writer: UnixStream,
    state: (bool, bool),
}

impl Signal {
    fn new() -> Self {
        let (reader, writer) = UnixStream::pair().unwrap();
        reader.set_nonblocking(true).unwrap();
        Signal {
            reader,
            writer,
            state: (false, false),
        }
    }
    fn sync(&mut self, readable: bool, pri: bool) {
        if self.state == (readable, pri) {
            return;
        }
        if self.state.1 {
            let mut b = [0u8; 1];
            // SAFETY: one-byte buffer on our own socket.
            unsafe {
                libc::recv(
                    self.reader.as_raw_fd(),
                    b.as_mut_ptr().cast(),
                    1,
                    libc::MSG_OOB | libc::MSG_DONTWAIT,
                )
            };
        }
        let mut sink = [0u8; 64];
        while self.reader.read(&mut sink).is_ok_and(|n| n > 0) {}
        if readable || pri {
            self.writer.write_all(&[1]).unwrap();
        }
        if pri {
            // SAFETY: one-byte buffer on our own socket.
            unsafe {
                libc::send(
                    self.writer.as_raw_fd(),
                    [2u8].as_ptr().cast(),
                    1,
                    libc::MSG_OOB,
                )
            };
        }
        self.state = (readable, pri);
    }
}

struct Chan {
    mode: ChannelMode,
    tx: VecDeque<u8>,
    rx: VecDeque<u8>,
    tx_frames: VecDeque<Vec<u8>>,
    rx_frames: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    signal: Signal,
}

impl Chan {
    fn readable(&self) -> bool {
        match self.mode {
            ChannelMode::Clear { blocksize, .. } => self.rx.len() >= blocksize,
            ChannelMode::HdlcFcs => !self.rx_frames.is_empty(),
        }
    }
}

#[derive(Default)]
struct EndState {
    config: Option<SpanConfig>,
    alarms: Alarms,
    chans: HashMap<u8, Chan>,
}

struct Cable {
    kind: SpanKind,
    ends: [EndState; 2],
    /// Per direction (from end i) and timeslot: bytes on the wire, `delay` chunks long.
    lines: [HashMap<u8, VecDeque<u8>>; 2],
    frames: [VecDeque<(u64, u8, Vec<u8>)>; 2],
    now: u64,
    delay_chunks: u64,
    carried_ts5: usize,
    faults: Faults,
}

const SPAN: SpanId = SpanId(1);

impl Cable {
    fn new(kind: SpanKind, delay_chunks: u64, faults: Faults) -> Arc<Mutex<Cable>> {
        let idle = idle(kind.default_law());
        let line = || {
            (1..=kind.channels())
                .map(|ts| (ts, VecDeque::from(vec![idle; 8 * delay_chunks as usize])))
                .collect()
        };
        let mut ends: [EndState; 2] = Default::default();
        for e in &mut ends {
            e.alarms = Alarms::NOTOPEN;
        }
        Arc::new(Mutex::new(Cable {
            kind,
            ends,
            lines: [line(), line()],
            frames: [VecDeque::new(), VecDeque::new()],
            now: 0,
            delay_chunks,
            carried_ts5: 0,
            faults,
        }))
    }

    /// One 1 ms chunk (8 frames) in both directions.
    fn tick(&mut self) {
        self.now += 1;
        let idle = idle(self.kind.default_law());
        for from in 0..2 {
            let to = 1 - from;
            for ts in 1..=self.kind.channels() {
                let mut chunk = [idle; 8];
                if self.faults.noisy_idle {
                    for (i, b) in chunk.iter_mut().enumerate() {
                        *b = (self.now as u8).wrapping_mul(8).wrapping_add(i as u8);
                    }
                }
                if self.ends[from].config.is_some() {
                    if let Some(ch) = self.ends[from].chans.get_mut(&ts) {
                        if let ChannelMode::Clear { .. } = ch.mode {
                            for b in chunk.iter_mut() {
                                match ch.tx.pop_front() {
                                    Some(x) => *b = x,
                                    None => break,
                                }
                            }
                        }
                    }
                }
                let line = self.lines[from].get_mut(&ts).unwrap();
                line.extend(chunk);
                let mut out: Vec<u8> = line.drain(..8).collect();
                if from == 0 && ts == 5 {
                    if let Some(n) = self.faults.flip_byte {
                        if (self.carried_ts5..self.carried_ts5 + 8).contains(&n) {
                            out[n - self.carried_ts5] ^= 0x10;
                        }
                    }
                    self.carried_ts5 += 8;
                }
                let dest_ts = match (self.faults.cross_1_2, ts) {
                    (true, 1) => 2,
                    (true, 2) => 1,
                    _ => ts,
                };
                if self.ends[to].config.is_some() && self.ends[from].config.is_some() {
                    if let Some(ch) = self.ends[to].chans.get_mut(&dest_ts) {
                        if let ChannelMode::Clear { .. } = ch.mode {
                            ch.rx.extend(out);
                        }
                    }
                }
            }
            // HDLC: one frame per chunk leaves, arriving `delay` chunks later.
            let d = self.kind.dchannel().0;
            if self.ends[from].config.is_some() {
                if let Some(ch) = self.ends[from].chans.get_mut(&d) {
                    if let Some(f) = ch.tx_frames.pop_front() {
                        self.frames[from].push_back((self.now + self.delay_chunks, d, f));
                    }
                }
            }
            while self.frames[from]
                .front()
                .is_some_and(|(due, _, _)| *due <= self.now)
            {
                let (_, ts, mut f) = self.frames[from].pop_front().unwrap();
                if self.faults.keep_fcs {
                    f.extend([0x12, 0x34]);
                }
                if self.ends[to].config.is_some() {
                    if let Some(ch) = self.ends[to].chans.get_mut(&ts) {
                        if ch.mode == ChannelMode::HdlcFcs {
                            ch.rx_frames.push_back(f);
                        }
                    }
                }
            }
        }
        self.update_alarms();
        self.sync_signals();
    }

    fn update_alarms(&mut self) {
        for end in 0..2 {
            let other_up = self.ends[1 - end].config.is_some();
            let e = &mut self.ends[end];
            let new = match (e.config.is_some(), other_up) {
                (false, _) => Alarms::NOTOPEN,
                (true, false) => Alarms::RED | Alarms::LOS,
                (true, true) => Alarms::empty(),
            };
            if new.is_empty() != e.alarms.is_empty() && !self.faults.no_events {
                let ev = if new.is_empty() {
                    Event::NoAlarm
                } else {
                    Event::Alarm
                };
                for ch in e.chans.values_mut() {
                    ch.events.push_back(ev);
                }
            }
            e.alarms = new;
        }
    }

    fn sync_signals(&mut self) {
        let mute = self.faults.mute_fd;
        for e in &mut self.ends {
            for ch in e.chans.values_mut() {
                let r = !mute && (ch.readable() || !ch.events.is_empty());
                let p = !mute && !ch.events.is_empty();
                ch.signal.sync(r, p);
            }
        }
    }
}

fn idle(law: Law) -> u8 {
    match law {
        Law::ALaw => 0xD5,
        Law::MuLaw => 0xFF,
    }
}

struct LoopEnd {
    cable: Arc<Mutex<Cable>>,
    end: usize,
}

impl Device for LoopEnd {
    fn spans(&self) -> Result<Vec<SpanId>, DeviceError> {
        Ok(vec![SPAN])
    }
    fn span_status(&self, span: SpanId) -> Result<SpanStatus, DeviceError> {
        if span != SPAN {
            return Err(DeviceError::NoSuchSpan(span));
        }
        let c = self.cable.lock().unwrap();
        let e = &c.ends[self.end];
        Ok(SpanStatus {
            span,
            name: format!("LOOP/{}", self.end),
            description: "conformance test cable".into(),
            kind: c.kind,
            configured: e.config.clone(),
            alarms: e.alarms,
            slips: None,
            bpv_count: 0,
            crc4_count: 0,
            fas_count: 0,
            is_sync_source: false,
            channels: c.kind.channels(),
        })
    }
    fn configure_span(&self, span: SpanId, config: &SpanConfig) -> Result<(), DeviceError> {
        if span != SPAN {
            return Err(DeviceError::NoSuchSpan(span));
        }
        let mut c = self.cable.lock().unwrap();
        c.ends[self.end].config = Some(config.clone());
        Ok(())
    }
    fn shutdown_span(&self, span: SpanId) -> Result<(), DeviceError> {
        if span != SPAN {
            return Err(DeviceError::NoSuchSpan(span));
        }
        self.cable.lock().unwrap().ends[self.end].config = None;
        Ok(())
    }
    fn open_channel(
        &self,
        channel: ChannelId,
        mode: ChannelMode,
    ) -> Result<Box<dyn Channel>, DeviceError> {
        let mut c = self.cable.lock().unwrap();
        if channel.span != SPAN || channel.timeslot.0 == 0 || channel.timeslot.0 > c.kind.channels()
        {
            return Err(DeviceError::NoSuchChannel(channel));
        }
        let chans = &mut c.ends[self.end].chans;
        if chans.contains_key(&channel.timeslot.0) {
            return Err(DeviceError::Busy(channel));
        }
        let signal = Signal::new();
        let fd = signal.reader.as_raw_fd();
        chans.insert(
            channel.timeslot.0,
            Chan {
                mode,
                tx: VecDeque::new(),
                rx: VecDeque::new(),
                tx_frames: VecDeque::new(),
                rx_frames: VecDeque::new(),
                events: VecDeque::new(),
                signal,
            },
        );
        Ok(Box::new(LoopChan {
            cable: self.cable.clone(),
            end: self.end,
            id: channel,
            fd,
        }))
    }
    fn ticker(&self) -> Result<Box<dyn Ticker>, DeviceError> {
        let last = self.cable.lock().unwrap().now;
        Ok(Box::new(LoopTicker {
            cable: self.cable.clone(),
            last,
        }))
    }
}

/// Counts the cable's chunks (virtual time: `wait` never sleeps).
struct LoopTicker {
    cable: Arc<Mutex<Cable>>,
    last: u64,
}

impl Ticker for LoopTicker {
    fn wait(&mut self, _timeout: Duration) -> Result<u64, DeviceError> {
        let now = self.cable.lock().unwrap().now;
        let n = now - self.last;
        self.last = now;
        Ok(n)
    }
}

struct LoopChan {
    cable: Arc<Mutex<Cable>>,
    end: usize,
    id: ChannelId,
    fd: RawFd,
}

impl LoopChan {
    fn with<R>(&self, f: impl FnOnce(&mut Chan) -> R) -> R {
        let mut c = self.cable.lock().unwrap();
        let r = f(c.ends[self.end].chans.get_mut(&self.id.timeslot.0).unwrap());
        c.sync_signals();
        r
    }
}

impl Drop for LoopChan {
    fn drop(&mut self) {
        if let Ok(mut c) = self.cable.lock() {
            c.ends[self.end].chans.remove(&self.id.timeslot.0);
        }
    }
}

impl Channel for LoopChan {
    fn id(&self) -> ChannelId {
        self.id
    }
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ChanError> {
        self.with(|ch| {
            if !ch.events.is_empty() {
                return Err(ChanError::EventPending);
            }
            match ch.mode {
                ChannelMode::Clear { blocksize, .. } => {
                    if ch.rx.len() < blocksize {
                        return Err(ChanError::WouldBlock);
                    }
                    let block: Vec<u8> = ch.rx.drain(..blocksize).collect();
                    let n = block.len().min(buf.len());
                    buf[..n].copy_from_slice(&block[..n]);
                    Ok(n)
                }
                ChannelMode::HdlcFcs => {
                    let f = ch.rx_frames.pop_front().ok_or(ChanError::WouldBlock)?;
                    if f.len() > buf.len() {
                        return Err(ChanError::TooLarge(f.len()));
                    }
                    buf[..f.len()].copy_from_slice(&f);
                    Ok(f.len())
                }
            }
        })
    }
    fn write(&mut self, buf: &[u8]) -> Result<usize, ChanError> {
        self.with(|ch| {
            if !ch.events.is_empty() {
                return Err(ChanError::EventPending);
            }
            match ch.mode {
                ChannelMode::Clear { blocksize, .. } => {
                    if ch.tx.len() >= 4 * blocksize {
                        return Err(ChanError::WouldBlock);
                    }
                    let n = buf.len().min(blocksize);
                    ch.tx.extend(&buf[..n]);
                    Ok(n)
                }
                ChannelMode::HdlcFcs => {
                    if ch.tx_frames.len() >= 8 {
                        return Err(ChanError::WouldBlock);
                    }
                    ch.tx_frames.push_back(buf.to_vec());
                    Ok(buf.len())
                }
            }
        })
    }
    fn get_event(&mut self) -> Result<Option<Event>, ChanError> {
        Ok(self.with(|ch| ch.events.pop_front()))
    }
    fn set_law(&mut self, law: Law) -> Result<(), ChanError> {
        self.with(|ch| match &mut ch.mode {
            ChannelMode::Clear { law: l, .. } => {
                *l = law;
                Ok(())
            }
            ChannelMode::HdlcFcs => Err(ChanError::Io(std::io::Error::other("HDLC channel"))),
        })
    }
    fn flush(&mut self) -> Result<(), ChanError> {
        self.with(|ch| {
            ch.tx.clear();
            ch.rx.clear();
            ch.tx_frames.clear();
            ch.rx_frames.clear();
        });
        Ok(())
    }
    fn raw_fd(&self) -> RawFd {
        self.fd
    }
}

fn run(kind: SpanKind, delay_chunks: u64, faults: Faults) -> Result<conformance::Report, String> {
    let cable = Cable::new(kind, delay_chunks, faults);
    let near = LoopEnd {
        cable: cable.clone(),
        end: 0,
    };
    let far = LoopEnd {
        cable: cable.clone(),
        end: 1,
    };
    let config = match kind {
        SpanKind::E1 => SpanConfig::e1_pri(1),
        SpanKind::T1 => SpanConfig::t1_pri(1),
    };
    let link = Link {
        near: &near,
        near_span: SPAN,
        far: &far,
        far_span: SPAN,
        config,
    };
    let mut advance = |d: Duration| {
        let mut c = cable.lock().unwrap();
        for _ in 0..d.as_millis() {
            c.tick();
        }
    };
    conformance::run_all(&link, &Limits::default(), &mut advance).map_err(|e| e.to_string())
}

#[test]
fn a_correct_e1_cable_passes_and_reports_its_delay() {
    let report = run(SpanKind::E1, 3, Faults::default()).unwrap();
    assert_eq!(report.audio.timeslots, 30);
    assert_eq!(report.ticks_in_50ms, 50);
    // 3 chunks of line delay = 24 samples each way, on every timeslot.
    assert_eq!(report.audio.delay_near_to_far, 24);
    assert_eq!(report.audio.delay_far_to_near, 24);
    assert_eq!(report.audio.idle_codes, [0xD5]);
    assert_eq!(report.hdlc.frames_per_direction, 11);
    assert!(report.alarm.alarms_during_outage.contains(Alarms::RED));
}

#[test]
fn a_correct_t1_cable_passes() {
    let report = run(SpanKind::T1, 1, Faults::default()).unwrap();
    assert_eq!(report.audio.timeslots, 23);
    assert_eq!(report.audio.delay_near_to_far, 8);
}

#[test]
fn one_flipped_bit_fails_the_audio_check() {
    let err = run(
        SpanKind::E1,
        2,
        Faults {
            flip_byte: Some(16 + 8 + 1000),
            ..Faults::default()
        },
    )
    .unwrap_err();
    assert!(err.starts_with("bchannel_audio"), "{err}");
    assert!(err.contains("ts 5 near→far"), "{err}");
    assert!(err.contains("first difference at byte"), "{err}");
}

#[test]
fn crossed_timeslots_fail_the_audio_check() {
    let err = run(
        SpanKind::E1,
        2,
        Faults {
            cross_1_2: true,
            ..Faults::default()
        },
    )
    .unwrap_err();
    assert!(err.starts_with("bchannel_audio"), "{err}");
    assert!(
        err.contains("ts 1 near→far") && err.contains("header never seen"),
        "{err}"
    );
}

#[test]
fn frames_with_their_fcs_left_on_fail_the_hdlc_check() {
    let err = run(
        SpanKind::E1,
        2,
        Faults {
            keep_fcs: true,
            ..Faults::default()
        },
    )
    .unwrap_err();
    assert!(err.starts_with("hdlc_frames"), "{err}");
    assert!(err.contains("frame 0 differs"), "{err}");
}

#[test]
fn missing_alarm_events_fail_the_alarm_check() {
    let err = run(
        SpanKind::E1,
        2,
        Faults {
            no_events: true,
            ..Faults::default()
        },
    )
    .unwrap_err();
    assert!(err.starts_with("alarm_events"), "{err}");
    assert!(err.contains("no Alarm event"), "{err}");
}

#[test]
fn an_fd_that_never_signals_fails_the_audio_check() {
    let err = run(
        SpanKind::E1,
        2,
        Faults {
            mute_fd: true,
            ..Faults::default()
        },
    )
    .unwrap_err();
    assert!(err.contains("raw_fd did not poll readable"), "{err}");
}

#[test]
fn data_before_the_sequence_fails_the_audio_check() {
    let err = run(
        SpanKind::E1,
        2,
        Faults {
            noisy_idle: true,
            ..Faults::default()
        },
    )
    .unwrap_err();
    assert!(err.starts_with("bchannel_audio"), "{err}");
    assert!(err.contains("are not idle"), "{err}");
}
