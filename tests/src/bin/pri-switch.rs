//! `pri-switch`: a PSTN switch for end-to-end tests, built on Debian's libpri (network
//! side) and run under `LD_PRELOAD=libdahdi_sim.so` on the far ends of `tdm-simd`'s
//! simulated spans, exactly as a DAHDI application runs on a card.
//!
//! ```text
//! pri-switch --span 3:e1 [--span 4:t1] [--tone 1004] [--detect 1800,2100] [--answer-ms 300]
//!            [--early-tone 425] [--transfer on|off]
//! ```
//!
//! Each `--span DAHDI_SPAN:e1|t1` gets one libpri controller (`pri_new` on the span's
//! D-channel, `PRI_NETWORK`, EuroISDN E1 or NI-2 T1).
//!
//! Number plan for calls it receives (the called number as it arrives):
//! - ending in `0999CC`: CALL PROCEEDING, then cleared with Q.850 cause `CC` (17 busy,
//!   01 unallocated, 34 congestion, …);
//! - containing `0888`: CALL PROCEEDING and ALERTING, never answered;
//! - containing `0666`: CALL PROCEEDING and ALERTING with progress indicator "in-band
//!   information now available" (ringback in band), never answered;
//!
//! - containing `0555`: CALL PROCEEDING, PROGRESS with progress indicator 8, the early
//!   tone (`--early-tone`, an announcement) on the B-channel, CONNECT after 2 s;
//! - containing `0444`: the same with ALERTING (and progress indicator 8) instead of
//!   PROGRESS: ringback played in band, then CONNECT after 2 s.
//!
//! Otherwise ALERTING carries no progress indicator (no in-band ringback): 180 on SIP.
//! - containing `0777`: CALL PROCEEDING, ALERTING, CONNECT after 2 s;
//! - anything else: CALL PROCEEDING, ALERTING, CONNECT after `--answer-ms`.
//!
//! On an answered call (either direction) it opens the B-channel, plays `--tone` Hz and
//! listens for the `--detect` frequencies (Goertzel, 20 ms blocks). A call it places has
//! its B-channel open from the SETUP on (silent until answered), so that what it hears
//! before CONNECT (early media) is measured too, apart from what it hears after. On
//! every open B-channel it also listens for in-band DTMF (ITU-T Q.23 pairs, Q.24 timing:
//! `gateway_tests::audio::DtmfDetect`, Goertzel, independent of the gateway's spandsp).
//!
//! Call transfer (ETSI Explicit Call Transfer, EN 300 369-1) is accepted on EuroISDN
//! spans as a switch does (`pri_transfer_enable`; `--transfer off` refuses it): libpri
//! answers the gateway's `EctLinkIdRequest` and reports its `ExplicitEctExecute` as
//! `PRI_SUBCMD_TRANSFER_CALL`; the switch confirms (`pri_transfer_rsp`, the Return Result
//! goes in the DISCONNECT of the call it arrived on), clears both calls from the gateway
//! with cause 16, and joins the two parties inside the switch: each one's tone goes to
//! the other for one second (no B-channel to the gateway any more), then both hang up.
//!
//! Commands, one per line on standard input:
//! - `call SPAN CALLED [CHANNEL] [name=NAME]`: SETUP towards the gateway (channel
//!   preferred, default the lowest free), from caller NAME (`_` for a space) if given;
//! - `hangup ID CAUSE`: clear call `ID` with `CAUSE`;
//! - `tone ID HZ`: call `ID`'s party plays `HZ` from now on (instead of `--tone`);
//! - `colp ID NUMBER`: call `ID`'s party was transferred to NUMBER
//!   (`pri_connected_line_update`: on an active EuroISDN call, ECT's `EctInform`);
//! - `dtmf ID KEYS [ON_MS OFF_MS]`: call `ID`'s party keys `KEYS` in band (Q.23 pairs,
//!   each `ON_MS` on and `OFF_MS` off, default 100/100), then its tone again;
//! - `detect HZ,…`: listen for these frequencies too;
//! - `facility on`: every span sends supplementary services in Facility elements
//!   (`pri_facility_enable`; on NI-2 the caller's name: `InformationFollowing` in the
//!   SETUP, the `callingName` in a FACILITY once the gateway answers);
//! - `display off|on`: no Display element goes (`PRI_DISPLAY_OPTION_BLOCK`), or libpri's
//!   default again;
//! - `quit`.
//!
//! Reports, one line each on standard output, `word key=value …`:
//! `up span=S`, `down span=S`, `alarm span=S event=E`,
//! `q931 span=S dir=rx|tx msg=NAME` (every Q.931 message libpri sends or receives),
//! `ring id=N span=S channel=C called=X calling=Y layer1=L name=NAME|none` (the caller's
//! name libpri read, `_` for a space),
//! `placed id=N span=S channel=C called=X`, `proceeding|ringing|answer id=N channel=C`
//! (`answer` of a call the switch placed adds `connected=X pres=R`, the CONNECT's
//! Connected number, when libpri reports one),
//! `disconnect id=N cause=C` (DISCONNECT received), `hangup id=N cause=C`,
//! `media id=N channel=C sent_ms=T heard=HZ:MS,… early=HZ:MS,… digits=KEYS|none` (at the
//! end of a call whose B-channel was open: `heard` after answer, `early` before),
//! `dtmf id=N digit=K ms=T answered=0|1` (an in-band key heard, when it ends),
//! `dtmf-play id=N keys=KEYS …`, `detect hz=…`,
//! `released id=N`, `error …`,
//! `transfer span=S id=N with=M invoke=I held=H,H` (the gateway's ECT, libpri's
//! `PRI_SUBCMD_TRANSFER_CALL`: `id` is the call it arrived on, `with` the other),
//! `joined id=N with=M heard=HZ:MS,… with_heard=HZ:MS,…` (the transferred parties'
//! conversation inside the switch, at its end),
//! `connected id=N number=X plan=P pres=R` (libpri's `PRI_SUBCMD_CONNECTED_LINE`: whom
//! the gateway says party `N` is now connected to, after a transfer),
//! `colp id=N number=X` (a `colp` command was sent).

#[path = "../../../q931/tests/libpri/mod.rs"]
#[allow(dead_code, unused_imports, clippy::all)]
mod libpri;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::{c_char, CStr};
use std::fs::OpenOptions;
use std::io::{BufRead, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use dahdi_driver::kernel::KernelDevice;
use dahdi_driver::{ChanError, Channel, ChannelId, ChannelMode, Device, SpanId, Timeslot};
use gateway_tests::audio::{detect, DtmfDetect, DtmfGen, Law, ToneGen};
use libpri::{CallParams, CallRef, LibPri, Node, PriEvent, Switch};

/// libpri encodes a channel as `chanpos | span << 8 | PRI_EXPLICIT`; the position is the
/// low octet.
fn chanpos(raw: i32) -> u8 {
    (raw & 0xFF) as u8
}

const BLOCK: usize = 160;
/// Blocks written ahead on a B-channel when it opens (then one per block read).
const WRITE_AHEAD: usize = 5;

struct SpanCtx {
    dahdi: u16,
    law: Law,
    dchannel: u8,
    bearers: u8,
    pri: LibPri,
}

struct Media {
    chan: Box<dyn Channel>,
    /// The party's voice once the call is answered.
    tone: ToneGen,
    /// Before answer: an in-band tone or announcement (early media), else silence.
    early_tone: Option<ToneGen>,
    /// CONNECT went or came: `tone` plays and what is heard counts in `heard`.
    answered: bool,
    /// DTMF keys being played in band instead of the tone (`dtmf` command).
    dtmf_out: Option<DtmfGen>,
    dtmf_in: DtmfDetect,
    /// Keys heard in band, in order.
    digits: String,
    sent_blocks: u64,
    /// Tones heard after answer (Hz → 20 ms blocks), and before it.
    heard: BTreeMap<u32, u64>,
    early: BTreeMap<u32, u64>,
}

struct Call {
    id: u32,
    span: usize,
    call: CallRef,
    channel_raw: i32,
    answer_at: Option<Instant>,
    media: Option<Media>,
    /// The party's tone, when not `--tone`.
    tone_hz: Option<f64>,
}

/// One party of a call the switch took over by a transfer: its voice (tone) and ears.
struct Party {
    id: u32,
    tone: ToneGen,
    heard: BTreeMap<u32, u64>,
}

/// Two parties the switch connected to each other (ECT), talking for a while.
struct Joined {
    law: Law,
    a: Party,
    b: Party,
    next_block: Instant,
    blocks: u32,
}

/// How long joined parties talk before they hang up (20 ms blocks).
const JOINED_BLOCKS: u32 = 50;

struct Switchboard {
    dev: KernelDevice,
    spans: Vec<SpanCtx>,
    calls: Vec<Call>,
    next_id: u32,
    tone_hz: f64,
    detect_hz: Vec<f64>,
    answer_after: Duration,
    /// What a call answered late with in-band information plays before CONNECT.
    early_tone_hz: f64,
    joined: Vec<Joined>,
}

fn say(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

macro_rules! say {
    ($($t:tt)*) => { say(format_args!($($t)*)) };
}

thread_local! {
    /// libpri's debug text not yet split into lines. Everything runs on one thread and
    /// the text is collected after each libpri call, so it belongs to the span just used.
    static PRI_TEXT: RefCell<String> = const { RefCell::new(String::new()) };
    /// libpri logs a sent message's header after "DL-DATA request", then the whole
    /// message: the first "Message Type" line after it is not reported.
    static AFTER_DL_DATA: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// libpri's message callback: Q.931 dumps become `q931` reports, everything goes to stderr.
unsafe extern "C" fn on_pri_message(_pri: *mut libpri::ffi::Pri, text: *mut c_char) {
    if text.is_null() {
        return;
    }
    // SAFETY: libpri hands a NUL-terminated string valid for the call.
    let t = unsafe { CStr::from_ptr(text) }.to_string_lossy();
    PRI_TEXT.with(|b| b.borrow_mut().push_str(&t));
}

/// Turn libpri's buffered debug text (of DAHDI span `span`) into reports.
///
/// All of the text goes to stderr (`pri-switch.log`) before any report made from it: a
/// test that sees `q931 … msg=FACILITY` and then reads the log must find the ROSE
/// operation libpri decoded from that FACILITY, which libpri prints after the message
/// type line.
fn flush_pri_text(span: u16) {
    let text: String = PRI_TEXT.with(|b| {
        let mut b = b.borrow_mut();
        let cut = b.rfind('\n').map_or(0, |i| i + 1);
        b.drain(..cut).collect()
    });
    if text.is_empty() {
        return;
    }
    let mut log = String::with_capacity(text.len() + 16 * text.lines().count());
    let mut reports = Vec::new();
    for line in text.lines() {
        log.push_str(&format!("libpri[{span}]: {line}\n"));
        if line.contains("DL-DATA request") {
            AFTER_DL_DATA.with(|f| f.set(true));
            continue;
        }
        // q931.c: `"%c Message Type: %s (%d)"`, '>' sent, '<' received.
        if let Some((head, rest)) = line.split_once("Message Type: ") {
            if AFTER_DL_DATA.with(|f| f.replace(false)) {
                continue;
            }
            let dir = if head.trim_start().starts_with('>') {
                "tx"
            } else {
                "rx"
            };
            let name = rest.rsplit_once(" (").map_or(rest, |(n, _)| n);
            reports.push(format!(
                "q931 span={span} dir={dir} msg={}",
                name.replace(' ', "_")
            ));
        }
    }
    {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(log.as_bytes());
        let _ = err.flush();
    }
    for r in reports {
        say!("{r}");
    }
}

impl Switchboard {
    fn call_by_ref(&mut self, span: usize, call: Option<CallRef>) -> Option<usize> {
        let call = call?;
        self.calls
            .iter()
            .position(|c| c.span == span && c.call == call)
    }

    fn busy_channels(&self, span: usize) -> Vec<u8> {
        self.calls
            .iter()
            .filter(|c| c.span == span)
            .map(|c| chanpos(c.channel_raw))
            .collect()
    }

    fn on_event(&mut self, span: usize, ev: PriEvent) {
        let s = &self.spans[span];
        let sp = s.dahdi;
        match ev {
            PriEvent::DchanUp => say!("up span={sp}"),
            PriEvent::DchanDown => say!("down span={sp}"),
            PriEvent::Ring(r) => {
                let Some(call) = r.call else { return };
                let id = self.next_id;
                self.next_id += 1;
                let ch = chanpos(r.channel);
                say!(
                    "ring id={id} span={sp} channel={ch} called={} calling={} layer1={} name={}",
                    r.called_number,
                    r.calling_number,
                    r.layer1,
                    if r.calling_name.is_empty() {
                        "none".to_string()
                    } else {
                        r.calling_name.replace(' ', "_")
                    }
                );
                let pri = &mut self.spans[span].pri;
                let _ = pri.proceeding(call, r.channel, false);
                let d = r.called_number.as_str();
                let refuse = d
                    .rfind("0999")
                    .map(|i| &d[i + 4..])
                    .filter(|c| c.len() == 2)
                    .and_then(|c| c.parse::<i32>().ok());
                let mut answer_at = None;
                let mut early = false;
                if let Some(cause) = refuse {
                    if pri.hangup(call, cause).is_err() {
                        say!("error hangup id={id}");
                    }
                } else if d.contains("0888") {
                    let _ = pri.alerting(call, r.channel, false);
                } else if d.contains("0666") {
                    // Ringback played in band: ALERTING with progress indicator 8.
                    let _ = pri.alerting(call, r.channel, true);
                } else if d.contains("0555") || d.contains("0444") {
                    // Early media: PROGRESS (0555) or ALERTING (0444) with progress
                    // indicator 8 (Q.931 §4.5.23, "in-band information now available"),
                    // the early tone on the B-channel, CONNECT after 2 s.
                    let sent = if d.contains("0555") {
                        pri.progress(call, r.channel, true)
                    } else {
                        pri.alerting(call, r.channel, true)
                    };
                    if sent.is_err() {
                        say!("error early media id={id}");
                    }
                    early = true;
                    answer_at = Some(Instant::now() + Duration::from_secs(2));
                } else {
                    let _ = pri.alerting(call, r.channel, false);
                    let after = if d.contains("0777") {
                        Duration::from_secs(2)
                    } else {
                        self.answer_after
                    };
                    answer_at = Some(Instant::now() + after);
                }
                self.calls.push(Call {
                    id,
                    span,
                    call,
                    channel_raw: r.channel,
                    answer_at,
                    media: None,
                    tone_hz: None,
                });
                if early {
                    let i = self.calls.len() - 1;
                    self.open_media(i, false, Some(self.early_tone_hz));
                }
            }
            PriEvent::Proceeding(p) => {
                if let Some(i) = self.call_by_ref(span, p.call) {
                    if p.channel > 0 {
                        self.calls[i].channel_raw = p.channel;
                    }
                    say!(
                        "proceeding id={} channel={}",
                        self.calls[i].id,
                        chanpos(self.calls[i].channel_raw)
                    );
                }
            }
            PriEvent::Ringing(a) => {
                if let Some(i) = self.call_by_ref(span, a.call) {
                    say!(
                        "ringing id={} channel={}",
                        self.calls[i].id,
                        chanpos(self.calls[i].channel_raw)
                    );
                }
            }
            PriEvent::Answer(a) => {
                if let Some(i) = self.call_by_ref(span, a.call) {
                    if a.channel > 0 {
                        self.calls[i].channel_raw = a.channel;
                    }
                    // COLP: the CONNECT's Connected number, as libpri read it.
                    let connected = a
                        .connected
                        .first()
                        .map(|l| format!(" connected={} pres={:#04x}", l.number, l.presentation))
                        .unwrap_or_default();
                    say!(
                        "answer id={} channel={}{connected}",
                        self.calls[i].id,
                        chanpos(self.calls[i].channel_raw)
                    );
                    self.start_media(i);
                }
            }
            PriEvent::HangupReq(h) => {
                // A DISCONNECT arrived: answer it (libpri sends RELEASE).
                if let Some(i) = self.call_by_ref(span, h.call) {
                    say!("disconnect id={} cause={}", self.calls[i].id, h.cause);
                    let c = self.calls[i].call;
                    let _ = self.spans[span].pri.hangup(c, h.cause);
                    flush_pri_text(sp);
                }
            }
            PriEvent::Hangup(h) => {
                if let Some(i) = self.call_by_ref(span, h.call) {
                    say!("hangup id={} cause={}", self.calls[i].id, h.cause);
                    let c = self.calls.remove(i);
                    // Completes the release (and frees the call in libpri); its
                    // RELEASE COMPLETE is reported before the call's end.
                    let _ = self.spans[span].pri.hangup(c.call, h.cause);
                    flush_pri_text(sp);
                    Self::end_media(c);
                }
            }
            PriEvent::HangupAck(h) => {
                // RELEASE COMPLETE after our RELEASE: libpri already freed the call.
                if let Some(i) = self.call_by_ref(span, h.call) {
                    say!("hangup id={} cause={}", self.calls[i].id, h.cause);
                    Self::end_media(self.calls.remove(i));
                }
            }
            PriEvent::Facility {
                call,
                transfers,
                connected,
            } => {
                // libpri's connected line update (ECT EctInform from the gateway).
                for l in connected {
                    let id = self.call_by_ref(span, call).map_or(0, |i| self.calls[i].id);
                    say!(
                        "connected id={id} number={} plan={:#04x} pres={:#04x}",
                        if l.number.is_empty() { "-" } else { &l.number },
                        l.plan,
                        l.presentation
                    );
                }
                for t in transfers {
                    self.transfer(span, t);
                }
            }
            PriEvent::Restart { channel } => say!("restart span={sp} channel={channel}"),
            PriEvent::ConfigErr { message } => say!("error span={sp} config {message}"),
            _ => {}
        }
    }

    /// The gateway asked for an explicit call transfer (ETSI ECT): confirm it, clear both
    /// calls from the gateway and connect the two parties inside the switch.
    fn transfer(&mut self, span: usize, t: libpri::TransferRequest) {
        let sp = self.spans[span].dahdi;
        let (Some(i1), Some(i2)) = (
            self.call_by_ref(span, t.call_1),
            self.call_by_ref(span, t.call_2),
        ) else {
            say!("error span={sp} transfer of unknown calls");
            if let Some(c1) = t.call_1 {
                let _ = self.spans[span].pri.transfer_rsp(c1, t.invoke_id, false);
            }
            return;
        };
        let (id1, id2) = (self.calls[i1].id, self.calls[i2].id);
        say!(
            "transfer span={sp} id={id1} with={id2} invoke={} held={},{}",
            t.invoke_id,
            u8::from(t.call_1_held),
            u8::from(t.call_2_held)
        );
        let (c1, c2) = (self.calls[i1].call, self.calls[i2].call);
        let pri = &mut self.spans[span].pri;
        // Success: the Return Result rides on call 1's DISCONNECT (libpri's
        // pri_transfer_rsp), then the other call is cleared too.
        if pri.transfer_rsp(c1, t.invoke_id, true).is_err() {
            say!("error span={sp} pri_transfer_rsp");
        }
        let _ = pri.hangup(c1, 16);
        let _ = pri.hangup(c2, 16);
        flush_pri_text(sp);
        let law = self.spans[span].law;
        let party = |c: &mut Call, default_hz: f64| {
            // The B-channel to the gateway is no longer the party's line.
            let m = c.media.take();
            Party {
                id: c.id,
                tone: m.map_or_else(|| ToneGen::new(c.tone_hz.unwrap_or(default_hz)), |m| m.tone),
                heard: BTreeMap::new(),
            }
        };
        let a = party(&mut self.calls[i1], self.tone_hz);
        let b = party(&mut self.calls[i2], self.tone_hz);
        self.joined.push(Joined {
            law,
            a,
            b,
            next_block: Instant::now(),
            blocks: 0,
        });
    }

    /// Transferred parties talk: each 20 ms block of one's tone reaches the other's ears.
    fn pump_joined(&mut self, now: Instant) {
        let detect_hz = self.detect_hz.clone();
        let mut out = [0u8; BLOCK];
        for j in &mut self.joined {
            while j.next_block <= now && j.blocks < JOINED_BLOCKS {
                for a_speaks in [true, false] {
                    let (from, to) = if a_speaks {
                        (&mut j.a, &mut j.b)
                    } else {
                        (&mut j.b, &mut j.a)
                    };
                    from.tone.fill(j.law, &mut out);
                    if let Some(hz) = detect(j.law, &out, &detect_hz) {
                        *to.heard.entry(hz as u32).or_default() += 1;
                    }
                }
                j.blocks += 1;
                j.next_block += Duration::from_millis(20);
            }
        }
        let heard = |m: &BTreeMap<u32, u64>| {
            let v: Vec<String> = m.iter().map(|(hz, n)| format!("{hz}:{}", n * 20)).collect();
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(",")
            }
        };
        self.joined.retain(|j| {
            if j.blocks < JOINED_BLOCKS {
                return true;
            }
            say!(
                "joined id={} with={} heard={} with_heard={}",
                j.a.id,
                j.b.id,
                heard(&j.a.heard),
                heard(&j.b.heard)
            );
            false
        });
    }

    /// The call is answered: its party's tone plays and what is heard counts as after
    /// answer (the B-channel is opened now unless it already was, for early media).
    fn start_media(&mut self, i: usize) {
        match self.calls[i].media.as_mut() {
            Some(m) => m.answered = true,
            None => self.open_media(i, true, None),
        }
    }

    /// Open call `i`'s B-channel: answered, or before answer with `early_hz` playing
    /// (`None`: silence, a caller waiting).
    fn open_media(&mut self, i: usize, answered: bool, early_hz: Option<f64>) {
        let c = &self.calls[i];
        let s = &self.spans[c.span];
        let id = ChannelId {
            span: SpanId(s.dahdi),
            timeslot: Timeslot(chanpos(c.channel_raw)),
        };
        let law = match s.law {
            Law::ALaw => dahdi_driver::Law::ALaw,
            Law::MuLaw => dahdi_driver::Law::MuLaw,
        };
        match self.dev.open_channel(
            id,
            ChannelMode::Clear {
                blocksize: BLOCK,
                law,
            },
        ) {
            Ok(chan) => {
                let mut m = Media {
                    chan,
                    tone: ToneGen::new(c.tone_hz.unwrap_or(self.tone_hz)),
                    early_tone: early_hz.map(ToneGen::new),
                    answered,
                    dtmf_out: None,
                    dtmf_in: DtmfDetect::new(),
                    digits: String::new(),
                    sent_blocks: 0,
                    heard: BTreeMap::new(),
                    early: BTreeMap::new(),
                };
                // Blocks ahead so the line never runs dry between reads: a write
                // underrun puts idle code on the line, and 20 ms of it inside a DTMF
                // tone is a pause to any receiver (Q.24 bridges 10 ms at most). Five
                // (100 ms) ride out the preemptions a loaded host gives even a
                // SCHED_FIFO thread below the gateway's and the simulator's.
                for _ in 0..WRITE_AHEAD {
                    send_block(&mut m, s.law);
                }
                self.calls[i].media = Some(m);
            }
            Err(e) => say!("error id={} open B-channel {id}: {e}", c.id),
        }
    }

    fn end_media(c: Call) {
        let ch = chanpos(c.channel_raw);
        if let Some(m) = c.media {
            let list = |map: &BTreeMap<u32, u64>| {
                let v: Vec<String> = map
                    .iter()
                    .map(|(hz, blocks)| format!("{hz}:{}", blocks * 20))
                    .collect();
                if v.is_empty() {
                    "none".to_string()
                } else {
                    v.join(",")
                }
            };
            say!(
                "media id={} channel={ch} sent_ms={} heard={} early={} digits={}",
                c.id,
                m.sent_blocks * 20,
                list(&m.heard),
                list(&m.early),
                if m.digits.is_empty() {
                    "none"
                } else {
                    &m.digits
                }
            );
        }
        say!("released id={}", c.id);
    }

    fn command(&mut self, line: &str) -> bool {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["quit"] => return false,
            ["facility", "on"] => {
                for s in &mut self.spans {
                    s.pri.facility_enable();
                }
                say!("facility on");
            }
            ["display", state @ ("on" | "off")] => {
                for s in &mut self.spans {
                    if *state == "off" {
                        s.pri.display_send_block();
                    } else {
                        s.pri.display_send_default();
                    }
                }
                say!("display {state}");
            }
            ["call", span, called, rest @ ..] => {
                let Some(si) = span
                    .parse::<u16>()
                    .ok()
                    .and_then(|n| self.spans.iter().position(|s| s.dahdi == n))
                else {
                    say!("error no span {span}");
                    return true;
                };
                let busy = self.busy_channels(si);
                let s = &mut self.spans[si];
                // `name=A_B`: the caller's name, "A B" (libpri's Display, NI-2 Facility).
                let name = rest
                    .iter()
                    .find_map(|t| t.strip_prefix("name="))
                    .map(|n| n.replace('_', " "))
                    .unwrap_or_default();
                let channel = match rest.iter().find_map(|c| c.parse::<u8>().ok()) {
                    Some(c) => c,
                    None => match (1..=s.bearers)
                        .filter(|c| *c != s.dchannel)
                        .find(|c| !busy.contains(c))
                    {
                        Some(c) => c,
                        None => {
                            say!("error no free channel on span {span}");
                            return true;
                        }
                    },
                };
                let Some(call) = s.pri.new_call() else {
                    say!("error pri_new_call");
                    return true;
                };
                let params = CallParams {
                    channel: i32::from(channel),
                    exclusive: true,
                    called,
                    called_plan: libpri::ffi::PRI_UNKNOWN,
                    calling: "301234567",
                    calling_plan: libpri::ffi::PRI_NATIONAL_ISDN,
                    calling_name: &name,
                    complete: true,
                    bearer: libpri::ffi::PRI_TRANS_CAP_SPEECH,
                    layer1: match s.law {
                        Law::ALaw => libpri::ffi::PRI_LAYER_1_ALAW,
                        Law::MuLaw => libpri::ffi::PRI_LAYER_1_ULAW,
                    },
                };
                let placed = s.pri.call(call, &params);
                flush_pri_text(s.dahdi);
                if let Err(e) = placed {
                    say!("error {}", e.0);
                    return true;
                }
                let id = self.next_id;
                self.next_id += 1;
                say!(
                    "placed id={id} span={} channel={channel} called={called}",
                    s.dahdi
                );
                self.calls.push(Call {
                    id,
                    span: si,
                    call,
                    channel_raw: i32::from(channel),
                    answer_at: None,
                    media: None,
                    tone_hz: None,
                });
                // The caller listens from the start (early media, Q.931 §5.1.7 / §5.1.8
                // progress indicator 8): silent until answered.
                let i = self.calls.len() - 1;
                self.open_media(i, false, None);
            }
            ["tone", id, hz] => {
                let (Ok(id), Ok(hz)) = (id.parse::<u32>(), hz.parse::<f64>()) else {
                    say!("error usage: tone ID HZ");
                    return true;
                };
                match self.calls.iter_mut().find(|c| c.id == id) {
                    Some(c) => {
                        c.tone_hz = Some(hz);
                        if let Some(m) = c.media.as_mut() {
                            m.tone = ToneGen::new(hz);
                        }
                        say!("tone id={id} hz={hz}");
                    }
                    None => say!("error no call {id}"),
                }
            }
            ["dtmf", id, keys, timing @ ..] => {
                let ms = |k: usize, default: u32| {
                    timing
                        .get(k)
                        .and_then(|v| v.parse::<u32>().ok())
                        .unwrap_or(default)
                };
                let (on, off) = (ms(0, 100), ms(1, 100));
                let Ok(id) = id.parse::<u32>() else {
                    say!("error usage: dtmf ID KEYS [ON_MS OFF_MS]");
                    return true;
                };
                match self
                    .calls
                    .iter_mut()
                    .find(|c| c.id == id)
                    .and_then(|c| c.media.as_mut())
                {
                    Some(m) => {
                        m.dtmf_out = Some(DtmfGen::new(keys, on, off));
                        say!("dtmf-play id={id} keys={keys} on_ms={on} off_ms={off}");
                    }
                    None => say!("error no B-channel open for call {id}"),
                }
            }
            ["detect", list] => {
                for hz in parse_list(list) {
                    if !self.detect_hz.contains(&hz) {
                        self.detect_hz.push(hz);
                    }
                }
                say!("detect hz={list}");
            }
            ["hangup", id, cause] => {
                let (Ok(id), Ok(cause)) = (id.parse::<u32>(), cause.parse::<i32>()) else {
                    say!("error usage: hangup ID CAUSE");
                    return true;
                };
                match self.calls.iter().find(|c| c.id == id) {
                    Some(c) => {
                        let (span, call) = (c.span, c.call);
                        let done = self.spans[span].pri.hangup(call, cause);
                        flush_pri_text(self.spans[span].dahdi);
                        if done.is_err() {
                            say!("error hangup id={id}");
                        }
                    }
                    None => say!("error no call {id}"),
                }
            }
            ["colp", id, number] => {
                let Ok(id) = id.parse::<u32>() else {
                    say!("error usage: colp ID NUMBER");
                    return true;
                };
                match self.calls.iter().find(|c| c.id == id) {
                    Some(c) => {
                        let (span, call) = (c.span, c.call);
                        // Type of number and plan unknown; presentation allowed.
                        let done = self.spans[span].pri.connected_line_update(
                            call,
                            number,
                            libpri::ffi::PRI_UNKNOWN,
                            0,
                        );
                        flush_pri_text(self.spans[span].dahdi);
                        match done {
                            Ok(()) => say!("colp id={id} number={number}"),
                            Err(e) => say!("error colp id={id} {}", e.0),
                        }
                    }
                    None => say!("error no call {id}"),
                }
            }
            [] => {}
            _ => say!("error unknown command: {line}"),
        }
        true
    }

    /// Move audio on every answered call: one tone block out per block in.
    fn pump_media(&mut self, i: usize) {
        let law = self.spans[self.calls[i].span].law;
        let detect_hz = self.detect_hz.clone();
        let id = self.calls[i].id;
        let Some(m) = self.calls[i].media.as_mut() else {
            return;
        };
        let mut buf = [0u8; BLOCK];
        loop {
            match m.chan.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if let Some(hz) = detect(law, &buf[..n], &detect_hz) {
                        let map = if m.answered {
                            &mut m.heard
                        } else {
                            &mut m.early
                        };
                        *map.entry(hz as u32).or_default() += 1;
                    }
                    for k in m.dtmf_in.feed(law, &buf[..n]) {
                        m.digits.push(k.key);
                        say!(
                            "dtmf id={id} digit={} ms={} answered={}",
                            k.key,
                            k.ms,
                            u8::from(m.answered)
                        );
                    }
                    send_block(m, law);
                }
                Err(ChanError::EventPending) => {
                    if let Ok(Some(ev)) = m.chan.get_event() {
                        eprintln!("B-channel event {ev:?}");
                    }
                }
                Err(_) => return,
            }
        }
    }
}

fn send_block(m: &mut Media, law: Law) {
    let mut out = [0u8; BLOCK];
    if let Some(g) = m.dtmf_out.as_mut().filter(|g| !g.done()) {
        g.fill(law, &mut out);
    } else if m.answered {
        m.dtmf_out = None;
        m.tone.fill(law, &mut out);
    } else if let Some(t) = m.early_tone.as_mut() {
        t.fill(law, &mut out);
    } else {
        out.fill(law.encode(0));
    }
    if m.chan.write(&out).is_ok() {
        m.sent_blocks += 1;
    }
}

fn parse_list(s: &str) -> Vec<f64> {
    s.split(',').filter_map(|f| f.trim().parse().ok()).collect()
}

fn main() {
    let mut span_args = Vec::new();
    let mut tone_hz = 1004.0;
    let mut detect_hz = vec![1800.0];
    let mut answer_ms = 300u64;
    let mut transfer = true;
    let mut early_tone_hz = 425.0;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--span" => span_args.push(v),
            "--tone" => tone_hz = v.parse().expect("--tone HZ"),
            "--detect" => detect_hz = parse_list(&v),
            "--answer-ms" => answer_ms = v.parse().expect("--answer-ms MS"),
            "--transfer" => transfer = v != "off",
            "--early-tone" => early_tone_hz = v.parse().expect("--early-tone HZ"),
            _ => {
                eprintln!("usage: pri-switch --span N:e1|t1 … [--tone HZ] [--detect HZ,…] [--answer-ms MS] [--transfer on|off] [--early-tone HZ]");
                std::process::exit(2);
            }
        }
    }
    let dev = KernelDevice::open("/dev/dahdi").expect("/dev/dahdi (run under libdahdi_sim.so)");
    let mut spans = Vec::new();
    for s in &span_args {
        let (n, kind) = s.split_once(':').expect("--span N:e1|t1");
        let dahdi: u16 = n.parse().expect("span number");
        let (law, dchannel, bearers, switch) = match kind {
            "t1" => (Law::MuLaw, 24u8, 24u8, Switch::Ni2),
            _ => (Law::ALaw, 16u8, 31u8, Switch::EuroIsdnE1),
        };
        let channo = dev
            .channel_number(ChannelId {
                span: SpanId(dahdi),
                timeslot: Timeslot(dchannel),
            })
            .expect("D-channel number");
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/dahdi/channel")
            .expect("open /dev/dahdi/channel");
        let mut c = channo;
        // SAFETY: DAHDI_SPECIFY takes a pointer to the channel number.
        let rc = unsafe {
            libc::ioctl(
                f.as_raw_fd(),
                dahdi_driver::abi::DAHDI_SPECIFY.0 as libc::Ioctl,
                &mut c,
            )
        };
        assert_eq!(
            rc,
            0,
            "DAHDI_SPECIFY {channo}: {}",
            std::io::Error::last_os_error()
        );
        let mut pri = LibPri::new(OwnedFd::from(f), Node::Network, switch);
        pri.hangup_fix_enable(true);
        pri.transfer_enable(transfer);
        pri.set_debug(libpri::ffi::PRI_DEBUG_Q931_DUMP | libpri::ffi::PRI_DEBUG_APDU);
        spans.push(SpanCtx {
            dahdi,
            law,
            dchannel,
            bearers,
            pri,
        });
    }
    // After LibPri::new, which installs its own: every controller's text comes here.
    // SAFETY: a plain function pointer kept for the life of the process.
    unsafe {
        libpri::ffi::pri_set_message(Some(on_pri_message));
        libpri::ffi::pri_set_error(Some(on_pri_message));
    }
    // The switch's B-channel loop must keep up with the line as the gateway's media
    // threads (SCHED_FIFO, `tdm_sim::rt::MEDIA_PRIORITY`) do: on a loaded host a normal
    // thread misses blocks (read overruns drop audio, write underruns put idle code on
    // the line), which cuts a DTMF tone in two. Just below the gateway's priority; the
    // loop sleeps in poll(). Without the privilege it runs as before.
    if let Err(e) = tdm_sim::rt::set_fifo(tdm_sim::rt::MEDIA_PRIORITY - 1) {
        eprintln!("pri-switch: SCHED_FIFO not permitted ({e}); normal priority");
    }
    let mut sb = Switchboard {
        dev,
        spans,
        calls: Vec::new(),
        next_id: 1,
        tone_hz,
        detect_hz,
        answer_after: Duration::from_millis(answer_ms),
        early_tone_hz,
        joined: Vec::new(),
    };

    // Standard input on a thread of its own (commands are rare), handed over a pipe-free
    // channel; the loop polls with a short timeout.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
        let _ = tx.send("quit".into());
    });

    loop {
        while let Ok(line) = rx.try_recv() {
            if !sb.command(&line) {
                return;
            }
        }
        // Calls due for CONNECT.
        let now = Instant::now();
        for i in 0..sb.calls.len() {
            if sb.calls[i].answer_at.is_some_and(|t| t <= now) {
                sb.calls[i].answer_at = None;
                let (span, call, ch) =
                    (sb.calls[i].span, sb.calls[i].call, sb.calls[i].channel_raw);
                let answered = sb.spans[span].pri.answer(call, ch);
                flush_pri_text(sb.spans[span].dahdi);
                if answered.is_ok() {
                    say!("answer id={} channel={}", sb.calls[i].id, chanpos(ch));
                    sb.start_media(i);
                }
            }
        }
        // Wait for the D-channels, the B-channels, libpri's timers, or 10 ms.
        let mut wait = Duration::from_millis(10);
        for s in &sb.spans {
            if let Some(d) = s.pri.schedule_next() {
                wait = wait.min(d);
            }
        }
        if !sb.joined.is_empty() {
            wait = wait.min(Duration::from_millis(20));
        }
        if let Some(t) = sb.calls.iter().filter_map(|c| c.answer_at).min() {
            wait = wait.min(t.saturating_duration_since(now));
        }
        let mut fds: Vec<libc::pollfd> = sb
            .spans
            .iter()
            .map(|s| libc::pollfd {
                fd: s.pri.fd(),
                events: libc::POLLIN | libc::POLLPRI,
                revents: 0,
            })
            .collect();
        for m in sb.calls.iter().filter_map(|c| c.media.as_ref()) {
            let fd = m.chan.raw_fd();
            fds.push(libc::pollfd {
                fd,
                events: libc::POLLIN | libc::POLLPRI,
                revents: 0,
            });
        }
        let ms = wait.as_micros().div_ceil(1000) as i32;
        // SAFETY: fds is a valid array of pollfd.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        let revents: Vec<i16> = fds.iter().map(|f| f.revents).collect();
        for (si, rev) in revents.into_iter().enumerate().take(sb.spans.len()) {
            if rev & libc::POLLPRI != 0 {
                let mut ev: libc::c_int = 0;
                // SAFETY: DAHDI_GETEVENT writes one int.
                let rc = unsafe {
                    libc::ioctl(
                        sb.spans[si].pri.fd(),
                        dahdi_driver::abi::DAHDI_GETEVENT.0 as libc::Ioctl,
                        &mut ev,
                    )
                };
                if rc == 0 && ev != 0 {
                    let e = dahdi_driver::Event::from_code(ev as u32);
                    say!("alarm span={} event={e:?}", sb.spans[si].dahdi);
                }
            }
            if rev & libc::POLLIN != 0 {
                if let Some(e) = sb.spans[si].pri.check_event() {
                    flush_pri_text(sb.spans[si].dahdi);
                    sb.on_event(si, e);
                }
            }
            for _ in 0..32 {
                if sb.spans[si].pri.schedule_next() != Some(Duration::ZERO) {
                    break;
                }
                let e = sb.spans[si].pri.schedule_run();
                flush_pri_text(sb.spans[si].dahdi);
                match e {
                    Some(e) => sb.on_event(si, e),
                    None => continue,
                }
            }
            flush_pri_text(sb.spans[si].dahdi);
        }
        sb.pump_joined(Instant::now());
        // Media of calls still present (an event above may have ended some).
        for i in 0..sb.calls.len() {
            if sb.calls[i].media.is_some() {
                sb.pump_media(i);
            }
        }
    }
}
