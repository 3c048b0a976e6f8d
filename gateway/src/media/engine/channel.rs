//! One bridged B-channel: its RTP sender and receiver state, jitter buffer, DSP, and the
//! two per-frame paths (TDM → RTP, RTP → TDM). Called by the worker; no I/O of its own
//! except through the buffers the worker hands in, and the `connect` of its socket once
//! symmetric RTP has latched (see [`MediaChannel::update_connection`]).

use std::mem::size_of;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use dahdi_driver::Channel;

use super::io::{self, RawAddr};
use super::{ChannelConfig, ChannelKey, ChannelStats, DigitSource, DtmfMode, MediaEvent};
use crate::media::dsp::dtmf::{digit_of_event, event_of_digit};
use crate::media::dsp::{
    DspError, DtmfDetector, DtmfGenerator, DtmfTransition, LineEchoCanceller, ToneDisabler,
    ToneVerdict,
};
use crate::media::transcode::transcode_frame;
use crate::media::{Law, FRAME_SAMPLES};
use crate::rtp::{
    DigitEvent, FrameKind, JitterBuffer, JitterBufferConfig, PayloadType, ReceiverStats, RtpPacket,
    RtpSender, SymmetricLatch, TelephoneEvent, TelephoneEventReceiver, TelephoneEventSender,
};

/// A prefetch hint for the cache lines of `len` bytes at `p` (it reads nothing and
/// cannot fault, whatever the address).
#[inline(always)]
pub(crate) fn prefetch_span(p: *const u8, len: usize) {
    let mut off = 0;
    while off < len {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch hint: no memory is read, an invalid address is ignored.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                p.wrapping_add(off) as *const i8,
            );
        }
        off += 64;
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Largest RTP packet we build: 12-byte header + 160 bytes.
pub const MAX_PACKET: usize = 12 + FRAME_SAMPLES;

/// Valid packets from one source before symmetric RTP follows it.
const LATCH_PACKETS: u32 = 3;

/// A connected socket hears only its peer; after this long without a packet it is
/// disconnected again, so that a peer whose NAT binding moved (RFC 4961 latching, same
/// SSRC from a new port) is heard and followed.
const CONNECTED_SILENCE: Duration = Duration::from_millis(200);

/// When a channel's 20 ms block is read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not known yet: try every tick until a block comes.
    Hunting,
    /// Blocks complete on ticks `t` with `t % 20 == phase`.
    Locked(u8),
    /// Just added: its B-channel is flushed on the next tick of this phase (the emptiest
    /// when it came), so that its blocks complete on that phase from then on.
    Arriving(u8),
}

/// The packets one frame produced (audio, or up to three RFC 4733 end packets and an
/// update), written into fixed buffers.
pub struct Outgoing {
    pub bufs: [[u8; MAX_PACKET]; 4],
    pub lens: [usize; 4],
    pub count: usize,
}

impl Outgoing {
    pub fn new() -> Self {
        Outgoing {
            bufs: [[0; MAX_PACKET]; 4],
            lens: [0; 4],
            count: 0,
        }
    }

    fn slot(&mut self) -> Option<&mut [u8; MAX_PACKET]> {
        self.bufs.get_mut(self.count)
    }
}

pub struct MediaChannel {
    pub key: ChannelKey,
    pub tdm: Box<dyn Channel>,
    pub socket: UdpSocket,
    pub fd: RawFd,
    pub phase: Phase,
    /// While hunting: a tick's read found no block since the last one that did, so the
    /// next block to come completes on that tick (its true phase).
    pub hunt_quiet: bool,
    /// Ticks spent hunting since the channel last locked.
    pub hunt_ticks: u32,
    /// Phase slips with no block served in between (a second one: hunt instead).
    pub slips_in_a_row: u8,
    /// Sockets read at the tick: the number of the serve that last read this one (read
    /// once per serve, also when the phase lists were reordered meanwhile).
    pub read_serve: u64,
    /// Sockets read at the tick, arrival stamped: when (`CLOCK_REALTIME` ns) its last
    /// block was served, for the rtp → jitter buffer latency figure.
    pub served_at_ns: i64,
    /// Sockets read at the tick: the arrival (`CLOCK_REALTIME` ns) of the last datagram
    /// read from its socket, 0 before the first (see `worker::may_have_more`).
    pub last_arrival_ns: i64,
    /// Sockets read at the tick: the RTP sequence number of the last datagram read.
    pub last_seq: u16,
    tdm_law: Law,
    sip_law: Law,
    remote: SocketAddr,
    pub remote_raw: RawAddr,
    /// The socket is connected to `remote` (sends use `send`).
    pub connected: bool,
    /// The last valid packet came from `remote` (only then is connecting safe).
    heard_remote: bool,
    latch: Option<SymmetricLatch>,
    payload_type: PayloadType,
    event_pt: Option<PayloadType>,
    dtmf_mode: DtmfMode,
    rtp: RtpSender,
    ev_tx: TelephoneEventSender,
    ev_rx: TelephoneEventReceiver,
    jitter: JitterBuffer,
    rx_stats: Option<ReceiverStats>,
    detector: Option<DtmfDetector>,
    generator: Option<DtmfGenerator>,
    /// Blocks still to play of a digit played for a set duration (SIP INFO, H.245
    /// UserInputIndication); `None` while a digit follows RFC 4733 events. Counted in
    /// blocks written to the line, not in wall-clock time: a media thread that runs late
    /// and catches up writes several blocks at one `now`, and the tone must still last
    /// its duration on the line (Q.24: at least 40 ms).
    generator_blocks: Option<u32>,
    detected_since: Option<(u8, Instant)>,
    echo: Option<LineEchoCanceller>,
    /// Turns the canceller off for a modem's or fax's answer tone, and on again after
    /// the data (G.165 §4); fed only while there is a canceller (never disabled else).
    tone_disabler: ToneDisabler,
    /// What we wrote to the line last (linear), the echo canceller's reference.
    echo_ref: [i16; FRAME_SAMPLES],
    pub hold: bool,
    /// While the SIP side holds: what the B-channel hears instead of the RTP audio
    /// (`None`: silence).
    hold_media: Option<Option<crate::media::tone::MusicOnHold>>,
    last_rx: Instant,
    rtp_timeout: Option<Duration>,
    timed_out: bool,
    pub stats: ChannelStats,
}

impl MediaChannel {
    /// Build on the media thread (spandsp state is not `Send`).
    pub fn new(key: ChannelKey, cfg: ChannelConfig, now: Instant) -> Result<Self, DspError> {
        let ChannelConfig {
            tdm,
            tdm_law,
            socket,
            remote,
            sip_law,
            payload_type,
            event_payload_type,
            dtmf,
            echo_cancel,
            rtp_timeout,
            symmetric_rtp,
        } = cfg;
        let detector = match dtmf {
            DtmfMode::Off => None,
            _ => Some(DtmfDetector::new()?),
        };
        let generator = match dtmf {
            DtmfMode::Off => None,
            _ => Some(DtmfGenerator::new()?),
        };
        let echo = if echo_cancel {
            Some(LineEchoCanceller::new(
                crate::media::dsp::echo::DEFAULT_TAPS,
            ))
        } else {
            None
        };
        let fd = socket.as_raw_fd();
        Ok(MediaChannel {
            key,
            tdm,
            socket,
            fd,
            phase: Phase::Hunting,
            hunt_quiet: false,
            hunt_ticks: 0,
            slips_in_a_row: 0,
            read_serve: 0,
            served_at_ns: 0,
            last_arrival_ns: 0,
            last_seq: 0,
            tdm_law,
            sip_law,
            remote,
            remote_raw: RawAddr::new(remote),
            connected: false,
            heard_remote: false,
            latch: symmetric_rtp.then(|| SymmetricLatch::new(remote, LATCH_PACKETS)),
            payload_type,
            event_pt: event_payload_type,
            dtmf_mode: dtmf,
            rtp: RtpSender::new_random(payload_type),
            ev_tx: TelephoneEventSender::new(event_payload_type.unwrap_or(PayloadType::PCMU)),
            ev_rx: TelephoneEventReceiver::new(),
            jitter: JitterBuffer::new(now, JitterBufferConfig::new(sip_law)),
            rx_stats: None,
            detector,
            generator,
            generator_blocks: None,
            detected_since: None,
            tone_disabler: ToneDisabler::new(),
            echo,
            echo_ref: [0; FRAME_SAMPLES],
            hold: false,
            hold_media: None,
            last_rx: now,
            rtp_timeout,
            timed_out: false,
            stats: ChannelStats::default(),
        })
    }

    pub fn tdm_law(&self) -> Law {
        self.tdm_law
    }

    /// Prefetch, first stage (a few channels ahead of the one served): this channel's
    /// own state. With 2,000 channels each is served once per 20 ms and is cold by
    /// then; the loads of a serve depend on each other (channel → B-channel handle →
    /// its shared ring), so each waits for the one before unless brought in ahead.
    pub fn prefetch_state(&self) {
        prefetch_span(self as *const Self as *const u8, size_of::<Self>());
    }

    /// Prefetch, second stage (its state is in the cache): the B-channel handle and
    /// where the jitter buffer's next frame is.
    pub fn prefetch_buffers(&self) {
        let handle: *const dyn dahdi_driver::Channel = &*self.tdm;
        prefetch_span(handle as *const u8, 64);
        for (p, len) in self.jitter.next_pop_spans() {
            prefetch_span(p, len);
        }
    }

    /// Prefetch ahead of a datagram for this channel (its state is in the cache):
    /// where the jitter buffer stores next.
    pub fn prefetch_receive(&self) {
        for (p, len) in self.jitter.next_push_spans() {
            prefetch_span(p, len);
        }
    }

    /// Prefetch, last stage (the handle is in the cache): what the B-channel read
    /// touches first.
    pub fn prefetch_tdm(&self) {
        self.tdm.prefetch();
    }

    /// The far end named a new RTP address (a re-INVITE, UPDATE or the answer in an
    /// ACK). The same address again (a change of codec only) leaves the socket and the
    /// symmetric-RTP latch as they are.
    pub fn set_remote(&mut self, remote: SocketAddr) {
        if remote == self.remote {
            return;
        }
        self.disconnect();
        self.remote = remote;
        self.remote_raw = RawAddr::new(remote);
        if let Some(l) = &mut self.latch {
            l.reset(remote);
        }
    }

    /// The SIP side's codec changed (a re-INVITE or UPDATE, or the answer in an ACK;
    /// RFC 3264 §8.3.2): the law and payload type of the packets we send and accept, and
    /// the telephone-event type. The RTP stream goes on with the same SSRC, sequence
    /// numbers and timestamps (RFC 3550 §5.1 lets a stream's payload type change). With
    /// a new law the jitter buffer starts again empty: what it held was in the old one.
    /// Digits follow the event type as at the start: RFC 4733 with one, in-band without.
    pub fn set_codec(
        &mut self,
        law: Law,
        payload_type: PayloadType,
        event_pt: Option<PayloadType>,
        now: Instant,
    ) {
        if law != self.sip_law || payload_type != self.payload_type {
            self.jitter = JitterBuffer::new(now, JitterBufferConfig::new(law));
        }
        self.sip_law = law;
        self.payload_type = payload_type;
        self.rtp.set_payload_type(payload_type);
        if event_pt != self.event_pt {
            self.ev_tx = TelephoneEventSender::new(event_pt.unwrap_or(PayloadType::PCMU));
            self.event_pt = event_pt;
        }
        if matches!(self.dtmf_mode, DtmfMode::Rfc4733 | DtmfMode::InbandReport) {
            self.dtmf_mode = if event_pt.is_some() {
                DtmfMode::Rfc4733
            } else {
                DtmfMode::InbandReport
            };
        }
    }

    pub fn set_hold(&mut self, on: bool, now: Instant) {
        if self.hold && !on {
            // Resuming: the RTP timeout starts afresh.
            self.last_rx = now;
        }
        if on && !self.hold {
            self.rtp.pause(0);
        }
        self.hold = on;
    }

    /// Replace the RTP audio towards the B-channel while held with `sound`; `None`: the
    /// RTP audio again.
    pub fn set_hold_media(&mut self, sound: Option<crate::media::tone::HoldSound>) {
        use crate::media::tone::{HoldSound, MusicOnHold};
        self.hold_media = sound.map(|s| match s {
            HoldSound::Silence => None,
            HoldSound::Melody => Some(MusicOnHold::new()),
            HoldSound::File(samples) => Some(MusicOnHold::from_file(samples)),
        });
    }

    /// Play `digit` on the B-channel for `duration` (SIP INFO, H.245
    /// UserInputIndication), rounded up to whole 20 ms blocks, two at least (Q.24).
    pub fn play_digit(&mut self, _now: Instant, digit: char, duration: Duration) {
        let Some(event) = event_of_digit(digit) else {
            return;
        };
        if let Some(g) = &mut self.generator {
            if g.start(event).is_ok() {
                let block_ms = (FRAME_SAMPLES as u128 * 1000 / 8000).max(1);
                let blocks = duration.as_millis().div_ceil(block_ms).max(2);
                self.generator_blocks = Some(u32::try_from(blocks).unwrap_or(u32::MAX));
                self.stats.digits_played += 1;
            }
        }
    }

    pub fn snapshot_stats(&mut self, now: Instant) -> ChannelStats {
        let mut s = self.stats;
        if let Some(r) = &mut self.rx_stats {
            let f = r.report(now);
            s.lost = f.cumulative_lost;
            s.jitter_ms = r.jitter_duration().as_secs_f64() * 1000.0;
        }
        s.jitter_buffer = self.jitter.stats();
        s
    }

    /// One 20 ms block read from the B-channel: make what goes to RTP in `out`.
    pub fn tdm_frame(
        &mut self,
        now: Instant,
        block: &mut [u8; FRAME_SAMPLES],
        out: &mut Outgoing,
        events: &mut impl FnMut(MediaEvent),
    ) {
        self.stats.tdm_blocks_read += 1;
        out.count = 0;
        let needs_linear = self.echo.is_some() || self.detector.is_some();
        if needs_linear {
            let mut linear = [0i16; FRAME_SAMPLES];
            if let Some(ec) = &mut self.echo {
                self.tdm_law.decode_block(block, &mut linear);
                let disabler = &mut self.tone_disabler;
                match disabler.process(&linear, &self.echo_ref) {
                    Some(ToneVerdict::Disable) => self.stats.echo_disabled += 1,
                    // The echo path learnt before the data is stale: learn it again.
                    Some(ToneVerdict::Enable) => ec.reset(),
                    None => {}
                }
                if !disabler.is_disabled() {
                    ec.process(&self.echo_ref, &mut linear);
                    self.tdm_law.encode_block(&linear, block);
                }
            }
            let data = self.tone_disabler.is_disabled();
            if data && self.ev_tx.is_active() {
                // A modem or fax answered: what follows must pass untouched, so no digit
                // is heard in it (as on a 3.1 kHz call), and none already playing as
                // events goes on replacing it.
                self.ev_tx.stop(now);
            }
            if let (Some(d), false) = (&mut self.detector, data) {
                // Without the echo canceller the block is still in codes: the detector
                // decodes it only when its energy gate lets it through.
                let transition = if self.echo.is_some() {
                    d.process(&linear)
                } else {
                    d.process_coded(self.tdm_law, block)
                };
                match transition {
                    Some(DtmfTransition::Start(ev)) => {
                        self.stats.digits_detected += 1;
                        self.detected_since = Some((ev, now));
                        if let Some(c) = digit_of_event(ev) {
                            events(MediaEvent::Digit {
                                key: self.key,
                                digit: c,
                                source: DigitSource::Tdm,
                            });
                        }
                        if self.dtmf_mode == DtmfMode::Rfc4733
                            && self.event_pt.is_some()
                            && !self.hold
                        {
                            // RFC 4733 §2.5.1.1: the event starts now; audio stops.
                            let _ = self.ev_tx.start(now, TelephoneEvent(ev), 10, &self.rtp);
                        }
                    }
                    Some(DtmfTransition::End(ev)) => {
                        let since = self.detected_since.take().map(|s| s.1).unwrap_or(now);
                        if let Some(c) = digit_of_event(ev) {
                            events(MediaEvent::DigitEnd {
                                key: self.key,
                                digit: c,
                                source: DigitSource::Tdm,
                                duration: now.saturating_duration_since(since),
                            });
                        }
                        if self.ev_tx.is_active() {
                            self.ev_tx.stop(now);
                        }
                    }
                    None => {}
                }
                if self.dtmf_mode == DtmfMode::Signalling && d.current().is_some() {
                    // The key goes by signalling: not in the audio as well.
                    block.fill(self.tdm_law.silence());
                }
            }
        }
        if self.hold {
            self.rtp.pause(FRAME_SAMPLES as u32);
            return;
        }
        if self.ev_tx.is_active() {
            // RFC 4733 §2.6: the digit goes as events, not as audio; the audio clock
            // moves on. Updates every 50 ms, then the end packets.
            while out.count < out.bufs.len() {
                let Some(buf) = out.slot() else { break };
                match self.ev_tx.poll_transmit(now, &mut self.rtp, buf) {
                    Ok(Some(n)) => {
                        out.lens[out.count] = n;
                        out.count += 1;
                    }
                    _ => break,
                }
            }
            self.rtp.pause(FRAME_SAMPLES as u32);
            return;
        }
        if self.sip_law != self.tdm_law {
            transcode_frame(self.tdm_law, self.sip_law, block);
        }
        if let Some(buf) = out.slot() {
            if let Ok(n) = self
                .rtp
                .write_audio(now, &block[..], FRAME_SAMPLES as u32, buf)
            {
                out.lens[out.count] = n;
                out.count += 1;
            }
        }
    }

    /// A datagram arrived on our socket.
    pub fn rtp_in(
        &mut self,
        now: Instant,
        data: &[u8],
        from: Option<SocketAddr>,
        events: &mut impl FnMut(MediaEvent),
    ) {
        let Ok(pkt) = RtpPacket::parse(data) else {
            // RTCP (RFC 5761 muxed) or garbage: not audio.
            self.stats.packets_ignored += 1;
            return;
        };
        let is_audio = pkt.payload_type == self.payload_type;
        let is_event = Some(pkt.payload_type) == self.event_pt;
        if !is_audio && !is_event {
            self.stats.packets_ignored += 1;
            return;
        }
        self.stats.packets_received += 1;
        self.last_rx = now;
        if self.timed_out {
            self.timed_out = false;
            events(MediaEvent::RtpResumed { key: self.key });
        }
        if let (Some(latch), Some(src)) = (&mut self.latch, from) {
            if let Some(new) = latch.handle_packet(src, pkt.ssrc, true) {
                self.remote = new;
                self.remote_raw = RawAddr::new(new);
                if self.connected {
                    // A datagram queued before the connect latched elsewhere.
                    if let Err(e) = io::disconnect(self.fd) {
                        tracing::warn!(key = ?self.key, error = %e, "RTP socket disconnect");
                    }
                    self.connected = false;
                }
                events(MediaEvent::RemoteLatched {
                    key: self.key,
                    remote: new,
                });
            }
        }
        self.heard_remote = from == Some(self.remote);
        ReceiverStats::track(
            &mut self.rx_stats,
            now,
            pkt.ssrc,
            pkt.sequence,
            pkt.timestamp,
            is_audio,
        );
        if is_audio {
            self.jitter.push(now, &pkt);
        } else if self
            .ev_rx
            .handle_packet(now, pkt.timestamp, pkt.payload)
            .is_ok()
        {
            self.digit_events(events);
        }
    }

    fn digit_events(&mut self, events: &mut impl FnMut(MediaEvent)) {
        while let Some(e) = self.ev_rx.poll_event() {
            match e {
                DigitEvent::Start { event } => {
                    let Some(c) = digit_of_event(event.0) else {
                        continue;
                    };
                    events(MediaEvent::Digit {
                        key: self.key,
                        digit: c,
                        source: DigitSource::Rfc4733,
                    });
                    if matches!(self.dtmf_mode, DtmfMode::Rfc4733 | DtmfMode::Signalling) {
                        if let Some(g) = &mut self.generator {
                            if g.start(event.0).is_ok() {
                                self.stats.digits_played += 1;
                                self.generator_blocks = None;
                            }
                        }
                    }
                }
                DigitEvent::End { event, duration } => {
                    let Some(c) = digit_of_event(event.0) else {
                        continue;
                    };
                    events(MediaEvent::DigitEnd {
                        key: self.key,
                        digit: c,
                        source: DigitSource::Rfc4733,
                        duration: Duration::from_micros(duration as u64 * 125),
                    });
                    if let Some(g) = &mut self.generator {
                        if g.playing() == Some(event.0) && self.generator_blocks.is_none() {
                            g.stop();
                        }
                    }
                }
            }
        }
    }

    /// The next 20 ms block for the B-channel.
    pub fn tdm_out(
        &mut self,
        now: Instant,
        block: &mut [u8; FRAME_SAMPLES],
        events: &mut impl FnMut(MediaEvent),
    ) -> FrameKind {
        // An RFC 4733 event whose end never came ends on the receiver's timeout.
        if self.ev_rx.poll_timeout().is_some_and(|t| now >= t) {
            self.ev_rx.handle_timeout(now);
            self.digit_events(events);
        }
        let kind = self.jitter.pop(now, block);
        if self.sip_law != self.tdm_law {
            transcode_frame(self.sip_law, self.tdm_law, block);
        }
        match &mut self.hold_media {
            Some(Some(moh)) => {
                let mut linear = [0i16; FRAME_SAMPLES];
                moh.fill_linear(&mut linear);
                self.tdm_law.encode_block(&linear, block);
            }
            Some(None) => block.fill(self.tdm_law.silence()),
            None => {}
        }
        if let Some(left) = self.generator_blocks {
            if left == 0 {
                if let Some(g) = &mut self.generator {
                    g.stop();
                }
                self.generator_blocks = None;
            } else {
                self.generator_blocks = Some(left - 1);
            }
        }
        let mut linear = [0i16; FRAME_SAMPLES];
        let tone = match &mut self.generator {
            Some(g) => g.fill(&mut linear),
            None => false,
        };
        if tone {
            self.tdm_law.encode_block(&linear, block);
        } else if self.echo.is_some() {
            self.tdm_law.decode_block(block, &mut linear);
        }
        if self.echo.is_some() {
            self.echo_ref = linear;
        }
        kind
    }

    /// Keep the socket connected to the peer while symmetric RTP is latched and packets
    /// flow: each send is then one `send` on the route the kernel looked up once, with
    /// no address to copy and check. Disconnected when the peer has
    /// been silent for [`CONNECTED_SILENCE`] (a NAT rebinding sends from a port the
    /// connected socket would not hear), on a new SDP address, and on a latch move.
    /// Without symmetric RTP the socket is never connected: the peer may send from
    /// anywhere.
    pub fn update_connection(&mut self, now: Instant) {
        if self.connected {
            if now.saturating_duration_since(self.last_rx) >= CONNECTED_SILENCE {
                self.disconnect();
            }
            return;
        }
        let latched = self.latch.as_ref().is_some_and(|l| l.is_latched());
        if latched
            && self.heard_remote
            && now.saturating_duration_since(self.last_rx) < CONNECTED_SILENCE
            && io::connect(self.fd, &self.remote_raw).is_ok()
        {
            self.connected = true;
        }
    }

    /// Will [`MediaChannel::update_connection`] disconnect the socket now?
    pub fn disconnect_due(&self, now: Instant) -> bool {
        self.connected && now.saturating_duration_since(self.last_rx) >= CONNECTED_SILENCE
    }

    /// Dissolve the socket's association (also done before the socket is handed back).
    pub fn disconnect(&mut self) {
        if self.connected {
            if let Err(e) = io::disconnect(self.fd) {
                tracing::warn!(key = ?self.key, error = %e, "RTP socket disconnect");
            }
            self.connected = false;
        }
    }

    /// Watch the RTP with `timeout` from `now` on (`None`: not at all): set at the answer
    /// of a call bridged earlier for early media.
    pub fn set_rtp_timeout(&mut self, timeout: Option<Duration>, now: Instant) {
        self.rtp_timeout = timeout;
        self.last_rx = self.last_rx.max(now);
        self.timed_out = false;
    }

    /// The RTP timeout, checked once per 20 ms.
    pub fn check_timeout(&mut self, now: Instant, events: &mut impl FnMut(MediaEvent)) {
        let Some(limit) = self.rtp_timeout else {
            return;
        };
        if self.hold || self.timed_out {
            return;
        }
        let silent = now.saturating_duration_since(self.last_rx);
        if silent >= limit {
            self.timed_out = true;
            events(MediaEvent::RtpTimeout {
                key: self.key,
                silent_for: silent,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::ToneGenerator;
    use dahdi_driver::{ChannelId, ChannelMode, Device, SpanId, Timeslot};

    const EVENT_PT: u8 = 101;

    fn channel(dtmf: DtmfMode, now: Instant) -> MediaChannel {
        channel_with(dtmf, now, false)
    }

    fn channel_with(dtmf: DtmfMode, now: Instant, echo_cancel: bool) -> MediaChannel {
        let sim = tdm_sim::Sim::e1(1);
        let tdm = sim
            .near()
            .open_channel(
                ChannelId {
                    span: SpanId(1),
                    timeslot: Timeslot(1),
                },
                ChannelMode::Clear {
                    blocksize: FRAME_SAMPLES,
                    law: Law::ALaw,
                },
            )
            .unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let remote = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let cfg = ChannelConfig {
            tdm,
            tdm_law: Law::ALaw,
            socket,
            remote,
            sip_law: Law::ALaw,
            payload_type: PayloadType::PCMA,
            event_payload_type: PayloadType::new(EVENT_PT),
            dtmf,
            echo_cancel,
            rtp_timeout: None,
            symmetric_rtp: false,
        };
        MediaChannel::new(ChannelKey(1), cfg, now).unwrap()
    }

    /// Blocks of `n` written to the line that carry a tone (not silence).
    fn tone_blocks(ch: &mut MediaChannel, times: impl Iterator<Item = Instant>) -> usize {
        let mut n = 0;
        for t in times {
            let mut block = [0u8; FRAME_SAMPLES];
            ch.tdm_out(t, &mut block, &mut |_| {});
            if block.iter().any(|&c| c != Law::ALaw.silence()) {
                n += 1;
            }
        }
        n
    }

    /// A modem answering from the line (V.25 ANS with phase reversals every 450 ms) turns
    /// the echo canceller off: from then on the line's blocks go to RTP as they came,
    /// until both ways have been quiet for 250 ms (G.165 §4).
    #[test]
    fn a_modems_answer_tone_turns_the_echo_canceller_off_until_the_line_is_quiet() {
        let t0 = Instant::now();
        let mut ch = channel_with(DtmfMode::Rfc4733, t0, true);
        let amp = 0.25 * 32767.0;
        let mut n = 0usize;
        let mut out = Outgoing::new();
        let mut passed = Vec::new();
        let mut digits = 0;
        for frame in 0..75 {
            let now = t0 + Duration::from_millis(20 * frame);
            // What we send to the line: speech-like, whose echo the canceller would
            // work on (and whose absence it would otherwise fill with its estimate).
            let mut sent = [0u8; FRAME_SAMPLES];
            for (i, c) in sent.iter_mut().enumerate() {
                let t = (frame as usize * FRAME_SAMPLES + i) as f64 / 8000.0;
                *c = Law::ALaw
                    .encode((3000.0 * (2.0 * std::f64::consts::PI * 400.0 * t).sin()) as i16);
            }
            ch.echo_ref = std::array::from_fn(|i| Law::ALaw.decode(sent[i]));
            let mut block = [0u8; FRAME_SAMPLES];
            for c in block.iter_mut() {
                let t = n as f64 / 8000.0;
                let x = if frame < 50 {
                    let sign = if (n / 3600) % 2 == 0 { 1.0 } else { -1.0 };
                    sign * amp * (2.0 * std::f64::consts::PI * 2100.0 * t).sin()
                } else {
                    // Then data that happens to hold a DTMF 5 (770 + 1336 Hz) for
                    // 200 ms: not a digit on a line a modem holds.
                    let f = |hz: f64| (2.0 * std::f64::consts::PI * hz * t).sin();
                    0.4 * amp * (f(770.0) + f(1336.0))
                };
                *c = Law::ALaw.encode(x as i16);
                n += 1;
            }
            let before = block;
            ch.tdm_frame(now, &mut block, &mut out, &mut |e| {
                if matches!(e, MediaEvent::Digit { .. }) {
                    digits += 1;
                }
            });
            let off = ch.tone_disabler.is_disabled();
            passed.push((off, block == before));
        }
        assert_eq!(ch.stats.echo_disabled, 1);
        // Off in the frame of the first reversal (450 ms: frame 22), and from then on
        // the line's blocks pass as they came.
        let off_from = passed.iter().position(|&(off, _)| off).expect("turned off");
        assert!((22..=23).contains(&off_from), "off from frame {off_from}");
        assert_eq!(digits, 0, "no digit heard in the data");
        assert!(
            passed[off_from..].iter().all(|&p| p == (true, true)),
            "{passed:?}"
        );
        // Quiet both ways: back after 250 ms.
        ch.echo_ref = [0; FRAME_SAMPLES];
        for frame in 0..13 {
            let mut block = [Law::ALaw.silence(); FRAME_SAMPLES];
            ch.tdm_frame(
                t0 + Duration::from_millis(1500 + 20 * frame),
                &mut block,
                &mut out,
                &mut |_| {},
            );
        }
        assert!(!ch.tone_disabler.is_disabled());
    }

    #[test]
    fn a_timed_digit_lasts_its_blocks_on_the_line_however_late_they_are_written() {
        let t0 = Instant::now();
        // A media thread catching up writes ten blocks at one instant: 100 ms of tone
        // is still five blocks, then silence.
        let mut ch = channel(DtmfMode::InbandReport, t0);
        ch.play_digit(t0, '5', Duration::from_millis(100));
        assert_eq!(tone_blocks(&mut ch, std::iter::repeat_n(t0, 10)), 5);
        // One running late by 60 ms a block: still five.
        let mut ch = channel(DtmfMode::InbandReport, t0);
        ch.play_digit(t0, '#', Duration::from_millis(100));
        let late = (0..10).map(|i| t0 + Duration::from_millis(60 * i));
        assert_eq!(tone_blocks(&mut ch, late), 5);
        // Shorter than Q.24's 40 ms: two blocks all the same.
        let mut ch = channel(DtmfMode::InbandReport, t0);
        ch.play_digit(t0, '1', Duration::from_millis(10));
        assert_eq!(tone_blocks(&mut ch, std::iter::repeat_n(t0, 10)), 2);
    }

    /// Feed 300 ms of digit 5 (Q.23: 770 + 1336 Hz) from the line, then 200 ms of
    /// silence; returns the RTP packets' payload types, whether any audio packet sent
    /// during the digit (after its detection) still carried sound, and the digits
    /// reported.
    fn digit_from_the_line(dtmf: DtmfMode) -> (Vec<u8>, bool, Vec<char>) {
        let t0 = Instant::now();
        let mut ch = channel(dtmf, t0);
        let mut low = ToneGenerator::new(770.0, -10.0);
        let mut high = ToneGenerator::new(1336.0, -8.0);
        let mut out = Outgoing::new();
        let (mut pts, mut loud_after_detect, mut digits) = (Vec::new(), false, Vec::new());
        for i in 0..25u64 {
            let now = t0 + Duration::from_millis(20 * i);
            let mut block = [Law::ALaw.silence(); FRAME_SAMPLES];
            if i < 15 {
                let (mut a, mut b) = ([0i16; FRAME_SAMPLES], [0i16; FRAME_SAMPLES]);
                low.fill_linear(&mut a);
                high.fill_linear(&mut b);
                let sum: Vec<i16> = a.iter().zip(b).map(|(x, y)| x.saturating_add(y)).collect();
                Law::ALaw.encode_block(sum.as_slice(), &mut block);
            }
            let mut heard = Vec::new();
            ch.tdm_frame(now, &mut block, &mut out, &mut |e| {
                if let MediaEvent::Digit { digit, .. } = e {
                    heard.push(digit);
                }
            });
            digits.extend(heard);
            for k in 0..out.count {
                let pkt = RtpPacket::parse(&out.bufs[k][..out.lens[k]]).unwrap();
                pts.push(pkt.payload_type.get());
                let detected = !digits.is_empty();
                if detected
                    && i < 15
                    && pkt.payload_type == PayloadType::PCMA
                    && pkt.payload.iter().any(|&c| c != Law::ALaw.silence())
                {
                    loud_after_detect = true;
                }
            }
        }
        (pts, loud_after_detect, digits)
    }

    #[test]
    fn signalling_mode_reports_a_line_digit_once_and_keeps_it_out_of_the_rtp() {
        // H.323 (digits as UserInputIndication): reported, no telephone-event sent,
        // and the tone is not in the audio once detected.
        let (pts, loud, digits) = digit_from_the_line(DtmfMode::Signalling);
        assert_eq!(digits, vec!['5']);
        assert!(!pts.contains(&EVENT_PT), "{pts:?}");
        assert!(!loud, "the digit's audio went out after its detection");
        // RFC 4733 (SIP with telephone-event): the digit goes as events.
        let (pts, _, digits) = digit_from_the_line(DtmfMode::Rfc4733);
        assert_eq!(digits, vec!['5']);
        assert!(pts.contains(&EVENT_PT), "{pts:?}");
        // In-band only: reported, and the audio carries it.
        let (pts, loud, digits) = digit_from_the_line(DtmfMode::InbandReport);
        assert_eq!(digits, vec!['5']);
        assert!(!pts.contains(&EVENT_PT), "{pts:?}");
        assert!(loud, "in-band mode keeps the digit in the audio");
    }

    /// An RTP packet of `pt` carrying `payload`, sequence `seq`, SSRC 7.
    fn packet(pt: PayloadType, seq: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0x80, pt.get(), (seq >> 8) as u8, seq as u8];
        v.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        v.extend_from_slice(&7u32.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn a_codec_change_mid_call_switches_what_is_sent_and_accepted_in_one_stream() {
        let t0 = Instant::now();
        let mut ch = channel(DtmfMode::Rfc4733, t0);
        let mut tone = ToneGenerator::new(1004.0, -10.0);
        let mut send = |ch: &mut MediaChannel, i: u64| {
            let mut block = [0u8; FRAME_SAMPLES];
            let mut lin = [0i16; FRAME_SAMPLES];
            tone.fill_linear(&mut lin);
            Law::ALaw.encode_block(&lin, &mut block);
            let line = block;
            let mut out = Outgoing::new();
            ch.tdm_frame(
                t0 + Duration::from_millis(20 * i),
                &mut block,
                &mut out,
                &mut |_| {},
            );
            assert_eq!(out.count, 1);
            let bytes = out.bufs[0][..out.lens[0]].to_vec();
            (line, bytes)
        };
        let (line, first) = send(&mut ch, 0);
        let p = RtpPacket::parse(&first).unwrap();
        assert_eq!(p.payload_type, PayloadType::PCMA);
        assert_eq!(p.payload, &line[..], "A-law on both sides: passed through");
        let (ssrc, seq) = (p.ssrc, p.sequence.0);

        // RFC 3264 §8.3.2: the peer's new offer has PCMU only, without telephone-event.
        ch.set_codec(Law::MuLaw, PayloadType::PCMU, None, t0);
        assert_eq!(
            (ch.sip_law, ch.payload_type),
            (Law::MuLaw, PayloadType::PCMU)
        );
        assert_eq!(ch.dtmf_mode, DtmfMode::InbandReport);
        let (line, second) = send(&mut ch, 1);
        let p = RtpPacket::parse(&second).unwrap();
        assert_eq!(p.payload_type, PayloadType::PCMU);
        let mut want = line;
        transcode_frame(Law::ALaw, Law::MuLaw, &mut want);
        assert_eq!(p.payload, &want[..], "the line's A-law is sent as µ-law");
        // The same stream goes on (RFC 3550 §5.1).
        assert_eq!(p.ssrc, ssrc);
        assert_eq!(p.sequence.0, seq.wrapping_add(1));

        // What arrives in the old payload type is no longer taken; the new one is.
        let ignored = ch.stats.packets_ignored;
        ch.rtp_in(
            t0,
            &packet(PayloadType::PCMA, 1, &[0xD5; 160]),
            None,
            &mut |_| {},
        );
        assert_eq!(ch.stats.packets_ignored, ignored + 1);
        let received = ch.stats.packets_received;
        ch.rtp_in(
            t0,
            &packet(PayloadType::PCMU, 2, &[0xFF; 160]),
            None,
            &mut |_| {},
        );
        assert_eq!(ch.stats.packets_ignored, ignored + 1);
        assert_eq!(ch.stats.packets_received, received + 1);

        // And back, with telephone-event again: RFC 4733 digits.
        ch.set_codec(Law::ALaw, PayloadType::PCMA, PayloadType::new(EVENT_PT), t0);
        assert_eq!(ch.dtmf_mode, DtmfMode::Rfc4733);
        let (_, third) = send(&mut ch, 2);
        assert_eq!(
            RtpPacket::parse(&third).unwrap().payload_type,
            PayloadType::PCMA
        );
    }
}
