//! A media worker bridged to a simulated B-channel in virtual time, with a UDP socket
//! playing the SIP side's RTP endpoint.
#![allow(dead_code)]

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use dahdi_driver::{Channel, ChannelId, ChannelMode, Device, SpanId, Timeslot};
use gateway::media::engine::io::IoMode;
use gateway::media::engine::{
    ChannelConfig, ChannelKey, Control, DtmfMode, MediaEvent, MediaWorker, WorkerStats,
};
use gateway::media::{Law, FRAME_SAMPLES};
use gateway::rtp::{PayloadType, RtpPacket};
use tdm_sim::Sim;

pub const KEY: ChannelKey = ChannelKey(7);
pub const EVENT_PT: u8 = 101;

pub struct Options {
    pub tdm_law: Law,
    pub sip_law: Law,
    pub dtmf: DtmfMode,
    pub echo_cancel: bool,
    pub rtp_timeout: Option<Duration>,
    pub symmetric_rtp: bool,
    /// The worker's packet I/O (default: io_uring where the kernel runs it).
    pub io: IoMode,
}

impl Options {
    pub fn e1() -> Self {
        Options {
            tdm_law: Law::ALaw,
            sip_law: Law::ALaw,
            dtmf: DtmfMode::Rfc4733,
            echo_cancel: false,
            rtp_timeout: None,
            symmetric_rtp: false,
            io: IoMode::Auto,
        }
    }
}

pub struct Harness {
    pub sim: Sim,
    pub worker: MediaWorker,
    pub control: Sender<Control>,
    pub events: Receiver<MediaEvent>,
    /// The far end of the B-channel (the switch side).
    pub far: Box<dyn Channel>,
    /// The SIP side's RTP endpoint.
    pub peer: UdpSocket,
    /// Our RTP socket's address.
    pub local: std::net::SocketAddr,
    pub t0: Instant,
    pub ms: u64,
    pub tdm_law: Law,
    pub sip_law: Law,
}

impl Harness {
    pub fn new(o: Options) -> Self {
        let sim = match o.tdm_law {
            Law::ALaw => Sim::builder().e1(1).build(),
            Law::MuLaw => Sim::builder().t1(1).build(),
        };
        let ts = ChannelId {
            span: SpanId(1),
            timeslot: Timeslot(1),
        };
        let mode = ChannelMode::Clear {
            blocksize: FRAME_SAMPLES,
            law: o.tdm_law,
        };
        let near = sim.near().open_channel(ts, mode).unwrap();
        let far = sim.far().open_channel(ts, mode).unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let local = socket.local_addr().unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_nonblocking(true).unwrap();
        let (ctl_tx, ctl_rx) = crossbeam_channel::unbounded();
        let (ev_tx, ev_rx) = crossbeam_channel::unbounded();
        let worker = MediaWorker::with_io(ctl_rx, ev_tx, WorkerStats::new(), o.io).unwrap();
        let cfg = ChannelConfig {
            tdm: near,
            tdm_law: o.tdm_law,
            socket,
            remote: peer.local_addr().unwrap(),
            sip_law: o.sip_law,
            payload_type: PayloadType::new(o.sip_law.rtp_payload_type()).unwrap(),
            event_payload_type: PayloadType::new(EVENT_PT),
            dtmf: o.dtmf,
            echo_cancel: o.echo_cancel,
            rtp_timeout: o.rtp_timeout,
            symmetric_rtp: o.symmetric_rtp,
        };
        ctl_tx.send(Control::Add(KEY, Box::new(cfg))).unwrap();
        Harness {
            sim,
            worker,
            control: ctl_tx,
            events: ev_rx,
            far,
            peer,
            local,
            t0: Instant::now(),
            ms: 0,
            tdm_law: o.tdm_law,
            sip_law: o.sip_law,
        }
    }

    pub fn now(&self) -> Instant {
        self.t0 + Duration::from_millis(self.ms)
    }

    /// One millisecond: the line moves a chunk, then the media thread's tick runs.
    pub fn step(&mut self) {
        self.sim.advance(1).unwrap();
        self.ms += 1;
        let now = self.now();
        self.worker.run_tick(now, 1);
    }

    /// Receive every datagram the SIP side got so far.
    pub fn peer_packets(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 1500];
        while let Ok((n, _)) = self.peer.recv_from(&mut buf) {
            out.push(buf[..n].to_vec());
        }
        out
    }

    pub fn peer_send(&self, pkt: &[u8]) {
        self.peer.send_to(pkt, self.local).unwrap();
    }

    /// Read what arrived at the far end of the B-channel.
    pub fn far_read(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut block = [0u8; FRAME_SAMPLES];
        while let Ok(n) = self.far.read(&mut block) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&block[..n]);
        }
        out
    }

    pub fn drain_events(&self) -> Vec<MediaEvent> {
        self.events.try_iter().collect()
    }
}

/// Parsed audio packets (payload type `pt`) with sequence, timestamp and payload.
pub fn audio_of(packets: &[Vec<u8>], pt: u8) -> Vec<(u16, u32, Vec<u8>)> {
    packets
        .iter()
        .filter_map(|p| RtpPacket::parse(p).ok())
        .filter(|p| p.payload_type.get() == pt)
        .map(|p| (p.sequence.0, p.timestamp, p.payload.to_vec()))
        .collect()
}
