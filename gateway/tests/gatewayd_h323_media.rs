//! Media of H.323 legs through gatewayd (issue #7, the media part): audio each way and
//! DTMF across the legs, checked by what each far end hears.
//!
//! The daemon is the real `gatewayd` process (`daemon_support`) with a simulated E1 whose far end is the
//! simulated switch (it answers with a 1004 Hz tone and reports the tones it heard); the
//! H.323 peer is our own `h323::call` endpoint on real TCP with an RTP endpoint that plays
//! a 700 Hz tone; SIPp (Debian `sip-tester`) plays the SIP UA's signalling and the test's
//! RTP endpoint its media (a 1400 Hz tone, RFC 4733 events). Every tone is detected by
//! Goertzel (`gateway::media::tone_present`) in what the other end received.

use std::net::{SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::daemon_support::{free_tcp_port, Daemon, Options};
use crate::h323_support::{accept_before, flush, pump, RINGING_180};
use crate::sipp_scenario::{ack_2xx, bye, head, invite, pbx_in_dialog};
use gateway::media::{tone_present, ulaw_to_alaw, Law, ToneGenerator};
use gateway::rtp::{EventPayload, PayloadType, RtpHeader, RtpPacket, SeqNo, Ssrc, TelephoneEvent};
use h323::call::{Call, CallConfig, DtmfMode, Event, PlaceCall};
use h323::fast_start::MediaAddresses;
use h323::h225::{Alias, Guid};
use h323::q931::ie::CauseValue;

/// The tone the H.323 peer plays.
const H323_TONE: f64 = 700.0;
/// The tone the SIP UA plays.
const SIP_TONE: f64 = 1400.0;
/// The tone the simulated switch plays (its default `tone_hz`).
const SWITCH_TONE: f64 = 1004.0;
/// RFC 4733 payload type of the SIP UA.
const SIP_EVENT_PT: u8 = 101;

#[derive(Default)]
struct EndState {
    /// Where to send (given, or the source of the first packet received).
    target: Option<SocketAddr>,
    first_from: Option<SocketAddr>,
    /// Received audio as A-law.
    audio: Vec<u8>,
    /// When each received audio packet (20 ms, 160 bytes) arrived.
    arrived: Vec<Instant>,
    /// When the call was answered (the peer's Connect sent or received).
    connected_at: Option<Instant>,
    /// Received telephone-events: (event, end).
    events: Vec<(u8, bool)>,
    /// Audio packets received as PCMU (0) and as PCMA (8).
    pcmu: usize,
    pcma: usize,
    /// A digit to send as RFC 4733 events.
    digit: Option<char>,
}

/// An RTP endpoint in a thread: a tone in 20 ms A-law packets to its target, everything
/// received kept.
struct RtpEnd {
    addr: SocketAddrV4,
    state: Arc<Mutex<EndState>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RtpEnd {
    fn start(tone_hz: f64) -> RtpEnd {
        Self::start_in(tone_hz, Law::ALaw)
    }

    /// As [`RtpEnd::start`], its tone sent in `law` (PCMA or PCMU).
    fn start_in(tone_hz: f64, law: Law) -> RtpEnd {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let addr = match socket.local_addr().unwrap() {
            SocketAddr::V4(a) => a,
            other => panic!("{other}"),
        };
        let state = Arc::new(Mutex::new(EndState::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut tone = ToneGenerator::new(tone_hz, -10.0);
            let mut seq = 1000u16;
            let mut ts = 80_000u32;
            let ssrc = Ssrc(0x5151_0000 ^ tone_hz as u32);
            let mut next = Instant::now();
            let mut buf = [0u8; 1500];
            // Telephone-event being sent: (event, its timestamp, packets sent).
            let mut sending: Option<(u8, u32, u32)> = None;
            while !sp.load(Ordering::Relaxed) {
                while let Ok((n, from)) = socket.recv_from(&mut buf) {
                    let Ok(p) = RtpPacket::parse(&buf[..n]) else {
                        continue;
                    };
                    let mut s = st.lock().unwrap();
                    s.first_from.get_or_insert(from);
                    if s.target.is_none() {
                        s.target = Some(from);
                    }
                    let pt = p.payload_type.get();
                    if pt == 8 || pt == 0 {
                        let at = Instant::now();
                        s.arrived
                            .extend(std::iter::repeat_n(at, p.payload.len().div_ceil(160)));
                    }
                    match pt {
                        8 => {
                            s.pcma += 1;
                            s.audio.extend_from_slice(p.payload)
                        }
                        0 => {
                            s.pcmu += 1;
                            s.audio.extend(p.payload.iter().map(|&b| ulaw_to_alaw(b)))
                        }
                        _ => {
                            if let Ok(e) = EventPayload::decode(p.payload) {
                                s.events.push((e.event.0, e.end));
                            }
                        }
                    }
                }
                let now = Instant::now();
                if now >= next {
                    next += Duration::from_millis(20);
                    let (target, digit) = {
                        let mut s = st.lock().unwrap();
                        (s.target, s.digit.take())
                    };
                    if let (Some(d), None) = (digit, sending) {
                        let ev = TelephoneEvent::from_char(d).unwrap().0;
                        sending = Some((ev, ts, 0));
                    }
                    if let Some(to) = target {
                        let mut out = [0u8; 300];
                        let n = match &mut sending {
                            // RFC 4733: 100 ms of updates, then three end packets.
                            Some((ev, ets, k)) => {
                                *k += 1;
                                let end = *k > 5;
                                let payload = EventPayload {
                                    event: TelephoneEvent(*ev),
                                    end,
                                    volume: 10,
                                    duration: (160 * (*k).min(5)) as u16,
                                }
                                .encode();
                                let mut h = RtpHeader::new(
                                    PayloadType::new(SIP_EVENT_PT).unwrap(),
                                    SeqNo(seq),
                                    *ets,
                                    ssrc,
                                );
                                h.marker = *k == 1;
                                let n = h.write(&payload, 0, &mut out).unwrap();
                                if *k >= 8 {
                                    sending = None;
                                }
                                n
                            }
                            None => {
                                let mut frame = [0u8; 160];
                                tone.fill(law, &mut frame);
                                let h =
                                    RtpHeader::new(PayloadType::g711(law), SeqNo(seq), ts, ssrc);
                                h.write(&frame, 0, &mut out).unwrap()
                            }
                        };
                        seq = seq.wrapping_add(1);
                        ts = ts.wrapping_add(160);
                        let _ = socket.send_to(&out[..n], to);
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        RtpEnd {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    fn set_target(&self, to: SocketAddr) {
        self.state.lock().unwrap().target = Some(to);
    }

    fn send_digit(&self, d: char) {
        self.state.lock().unwrap().digit = Some(d);
    }

    /// 20 ms blocks received in which `hz` is the tone.
    fn heard(&self, hz: f64) -> usize {
        self.state
            .lock()
            .unwrap()
            .audio
            .chunks_exact(160)
            .filter(|b| tone_present(b, Law::ALaw, hz).present)
            .count()
    }

    /// 20 ms blocks with the tone `hz` that arrived before `t`.
    fn heard_before(&self, hz: f64, t: Instant) -> usize {
        let s = self.state.lock().unwrap();
        s.audio
            .chunks_exact(160)
            .zip(&s.arrived)
            .filter(|(b, at)| **at < t && tone_present(b, Law::ALaw, hz).present)
            .count()
    }

    fn mark_connected(&self, t: Instant) {
        self.state.lock().unwrap().connected_at.get_or_insert(t);
    }

    fn connected_at(&self) -> Option<Instant> {
        self.state.lock().unwrap().connected_at
    }

    fn events(&self) -> Vec<(u8, bool)> {
        self.state.lock().unwrap().events.clone()
    }

    /// Audio packets received as (PCMU, PCMA).
    fn laws_received(&self) -> (usize, usize) {
        let s = self.state.lock().unwrap();
        (s.pcmu, s.pcma)
    }

    fn first_from(&self) -> Option<SocketAddr> {
        self.state.lock().unwrap().first_from
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

/// The SIP UA's endpoint and the H.323 peer's each heard the other's tone (at least a
/// second of 20 ms packets).
fn assert_tones_each_way(sip_rtp: &RtpEnd, peer_rtp: &RtpEnd) {
    let (peer_heard, sip_heard) = (peer_rtp.heard(SIP_TONE), sip_rtp.heard(H323_TONE));
    assert!(peer_heard >= 50, "the peer heard the UA: {peer_heard}");
    assert!(sip_heard >= 50, "the UA heard the peer: {sip_heard}");
}

/// As [`assert_tones_each_way`], with the media going straight between the two (the UA's
/// first packet came from the peer's own address: no relay in between).
fn assert_direct_tones_each_way(sip_rtp: &RtpEnd, peer_rtp: &RtpEnd) {
    assert_eq!(
        sip_rtp.first_from(),
        Some(SocketAddr::V4(peer_rtp.addr)),
        "no relay"
    );
    assert_tones_each_way(sip_rtp, peer_rtp);
}

fn media_of(addr: SocketAddrV4) -> MediaAddresses {
    MediaAddresses {
        rtp: addr,
        rtcp: SocketAddrV4::new(*addr.ip(), addr.port() + 1),
    }
}

/// What the H.323 peer does during a call once it is connected.
#[derive(Clone, Copy, Default)]
struct Script {
    /// Answering: Progress (in-band information, the fast start answer in it) instead of
    /// Alerting, and Connect this long after it (early media).
    early: Option<Duration>,
    /// Answering: Connect right after Call Proceeding (before H.245 could open a channel).
    at_once: bool,
    /// With `early`: Alerting with progress indicator 8 instead of Progress.
    inband_alerting: bool,
    /// Send this digit (UserInputIndication) this long after the media flow.
    digit: Option<(char, Duration)>,
    /// Release (cause 16) this long after connect; `None`: wait for the gateway.
    release_after: Option<Duration>,
}

/// Drive one connected H.323 call: RTP to where the media go, the script, until released.
fn run_call(
    mut call: Call,
    mut stream: TcpStream,
    end: &RtpEnd,
    script: Script,
    answer: bool,
) -> Vec<Event> {
    let deadline = Instant::now() + Duration::from_secs(25);
    let mut log = Vec::new();
    let mut seen = 0;
    let mut alert_at = None;
    let mut connect_at = None;
    let mut answered_at: Option<Instant> = None;
    let mut media_at: Option<Instant> = None;
    let mut digit_sent = false;
    let mut released = false;
    while Instant::now() < deadline {
        let now = Instant::now();
        let open = pump(&mut call, &mut stream, now, &mut log);
        for ev in &log[seen..] {
            match ev {
                Event::Setup(_) if answer => {
                    call.proceeding(now);
                    if script.at_once {
                        call.answer(now);
                    } else {
                        alert_at = Some(now + Duration::from_millis(200));
                    }
                }
                Event::Connected { media } => {
                    answered_at.get_or_insert(now);
                    end.mark_connected(now);
                    if let Some(m) = media {
                        end.set_target(SocketAddr::V4(m.remote_rtp));
                        media_at.get_or_insert(now);
                    }
                }
                Event::Media(m) => {
                    end.set_target(SocketAddr::V4(m.remote_rtp));
                    media_at.get_or_insert(now);
                }
                _ => {}
            }
        }
        seen = log.len();
        // Alerting 200 ms after the Setup, Connect 200 ms after that.
        if alert_at.is_some_and(|t| t <= now) {
            alert_at = None;
            match script.early {
                Some(d) => {
                    if script.inband_alerting {
                        call.alerting_inband(now);
                    } else {
                        call.progress(now);
                    }
                    connect_at = Some(now + d);
                }
                None => {
                    call.alerting(now);
                    connect_at = Some(now + Duration::from_millis(200));
                }
            }
        }
        if connect_at.is_some_and(|t| t <= now) {
            connect_at = None;
            call.answer(now);
        }
        if let (Some((d, after)), Some(t)) = (script.digit, media_at) {
            if !digit_sent && now >= t + after {
                call.send_digits(now, &d.to_string());
                digit_sent = true;
            }
        }
        if let (Some(after), Some(t)) = (script.release_after, answered_at) {
            if !released && now >= t + after {
                call.release(now, CauseValue::NormalCallClearing);
                released = true;
            }
        }
        flush(&mut call, &mut stream);
        if log.iter().any(|e| matches!(e, Event::Released { .. })) || !open {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    while let Some(ev) = call.poll_event() {
        log.push(ev);
    }
    log
}

/// The H.323 peer answering the next call on `listener`.
fn answer(
    listener: TcpListener,
    end: Arc<RtpEnd>,
    fast_start: bool,
    script: Script,
) -> JoinHandle<Vec<Event>> {
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(25);
        let stream = accept_before(
            &listener,
            deadline,
            Duration::from_millis(10),
            "no H.323 call from gatewayd",
        );
        let mut cfg = CallConfig::new(media_of(end.addr));
        cfg.fast_start = fast_start;
        // Our digits as UserInputIndication even where RFC 2833 was negotiated.
        cfg.dtmf = DtmfMode::UserInput;
        run_call(Call::incoming(cfg), stream, &end, script, true)
    })
}

/// The H.323 peer calling `called` at the gateway.
fn place(
    h323_port: u16,
    called: &str,
    end: &RtpEnd,
    fast_start: bool,
    script: Script,
) -> Vec<Event> {
    let stream = TcpStream::connect(("127.0.0.1", h323_port)).unwrap();
    stream.set_nonblocking(true).unwrap();
    let mut cfg = CallConfig::new(media_of(end.addr));
    cfg.fast_start = fast_start;
    let call = Call::place(
        Instant::now(),
        cfg,
        PlaceCall {
            call_ref: 9,
            call_id: Guid([9; 16]),
            conference_id: Guid([10; 16]),
            source_aliases: vec![Alias::Dialled("2001".into())],
            destination_aliases: vec![Alias::Dialled(called.into())],
            calling_number: Some("2001".into()),
            called_number: Some(called.into()),
            display: None,
            source_signal_address: None,
            dest_signal_address: None,
        },
    );
    run_call(call, stream, end, script, false)
}

fn digits(log: &[Event]) -> String {
    log.iter()
        .filter_map(|e| match e {
            Event::Digits(d) => Some(d.as_str()),
            _ => None,
        })
        .collect()
}

/// SIPp calls `[service]` with an SDP offer naming `rtp` (PCMA, PCMU, telephone-event
/// 101), keeps the call `hold_ms` and hangs up; `check_200` is a regexp the 200's body
/// must match.
fn uac(rtp: SocketAddrV4, hold_ms: u64, check_200: &str) -> String {
    format!(
        r#"{call}  <pause milliseconds="{hold_ms}"/>
{bye}  <recv response="200"/>
  <Reference variables="1"/>
</scenario>
"#,
        call = uac_call(rtp, check_200),
        bye = bye(2),
    )
}

/// The start of [`uac`]'s scenario: the INVITE, its responses and the ACK.
fn uac_call(rtp: SocketAddrV4, check_200: &str) -> String {
    let port = rtp.port();
    format!(
        r#"{}{}  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true">
    <action>
      <ereg regexp="{check_200}" search_in="body" check_it="true" assign_to="1"/>
    </action>
  </recv>
{}"#,
        head("SIP to H.323 media"),
        invite(&port.to_string(), &[8, 0, 101]),
        ack_2xx()
    )
}

/// SIPp calls `[service]` offering PCMA, PCMU and telephone-event from `first`; after
/// `move_ms` a re-INVITE moves its media to `second`, PCMU only and no telephone-event
/// (the 200 must answer PCMU); it hangs up `hold_ms` later.
fn uac_moving(first: SocketAddrV4, second: SocketAddrV4, move_ms: u64, hold_ms: u64) -> String {
    let port = second.port();
    let offer = format!(
        "v=0\no=user1 53655765 2353687638 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n\
         m=audio {port} RTP/AVP 0\na=rtpmap:0 PCMU/8000\n"
    );
    format!(
        r#"{call}  <pause milliseconds="{move_ms}"/>
{reinvite}  <recv response="100" optional="true"/>
  <recv response="200">
    <action>
      <ereg regexp="m=audio [0-9]+ RTP/AVP 0" search_in="body" check_it="true" assign_to="2"/>
    </action>
  </recv>
{ack}  <pause milliseconds="{hold_ms}"/>
{bye}  <recv response="200"/>
  <Reference variables="1,2"/>
</scenario>
"#,
        call = uac_call(first, "RTP/AVP 8"),
        reinvite = pbx_in_dialog("INVITE", 2).sdp(&offer).send_retrans(),
        ack = pbx_in_dialog("ACK", 2).send(),
        bye = bye(3),
    )
}

/// SIPp as the PBX answering one call with an SDP naming `rtp`, until the BYE; the
/// INVITE's body must match `check_invite`.
fn uas(rtp: SocketAddrV4, check_invite: &str) -> String {
    let port = rtp.port();
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="H.323 to SIP media">
  <recv request="INVITE">
    <action>
      <ereg regexp="{check_invite}" search_in="body" check_it="true" assign_to="1"/>
    </action>
  </recv>
{RINGING_180}
  <send retrans="500">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP4 127.0.0.1
      s=-
      c=IN IP4 127.0.0.1
      t=0 0
      m=audio {port} RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16

    ]]>
  </send>
  <recv request="ACK"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <Reference variables="1"/>
</scenario>
"#
    )
}

struct Rig {
    daemon: Daemon,
    h323_port: u16,
    relay_fs: TcpListener,
    relay_nofs: TcpListener,
    direct_fs: TcpListener,
    direct_nofs: TcpListener,
}

fn start(name: &str) -> Rig {
    start_with(name, "127.0.0.1", "127.0.0.3")
}

/// As [`start`], with the addresses of `ep-fs` and `ep-direct` (an incoming H.323
/// connection belongs to the peer with its source address: 127.0.0.1 here).
fn start_with(name: &str, fs_ip: &str, direct_ip: &str) -> Rig {
    // The daemon's logs with `RUST_LOG=gateway=debug … -- --nocapture`.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let h323_port = free_tcp_port();
    let relay_fs = TcpListener::bind((fs_ip, 0)).unwrap();
    let relay_nofs = TcpListener::bind("127.0.0.2:0").unwrap();
    let direct_fs = TcpListener::bind((direct_ip, 0)).unwrap();
    let direct_nofs = TcpListener::bind("127.0.0.4:0").unwrap();
    let port = |l: &TcpListener| l.local_addr().unwrap().port();
    let tail = format!(
        r#"
[h323]
listen = "127.0.0.1:{h323_port}"

[[h323_peer]]
name = "ep-fs"
address = "{fs_ip}:{fs}"
fast_start = true

[[h323_peer]]
name = "ep-nofs"
address = "127.0.0.2:{nofs}"
fast_start = false
media = "relay"

[[h323_peer]]
name = "ep-direct"
address = "{direct_ip}:{direct}"
media = "direct"

[[h323_peer]]
name = "ep-direct-h245"
address = "127.0.0.4:{direct_nofs}"
fast_start = false
media = "direct"

[[route]]
pattern = "5005"
from = ["pbx"]
to = ["ep-direct-h245"]

[[route]]
pattern = "5001"
from = ["pbx"]
to = ["ep-fs"]

[[route]]
pattern = "5002"
from = ["pbx"]
to = ["ep-nofs"]

[[route]]
pattern = "5003"
from = ["pbx"]
to = ["ep-direct"]

[[route]]
pattern = "_0X."
from = ["ep-fs"]
to = ["pstn"]

[[route]]
pattern = "_2XX"
from = ["ep-fs", "ep-direct"]
to = ["pbx"]

[[route]]
pattern = "5001"
from = ["pstn"]
to = ["ep-fs"]
"#,
        fs = port(&relay_fs),
        nofs = port(&relay_nofs),
        direct = port(&direct_fs),
        direct_nofs = port(&direct_nofs),
    );
    let daemon = Daemon::start(
        name,
        Options {
            tail: &tail,
            ..Options::default()
        },
    );
    Rig {
        daemon,
        h323_port,
        relay_fs,
        relay_nofs,
        direct_fs,
        direct_nofs,
    }
}

/// The tones heard by the switch on its calls: `show sim-calls`, last column.
fn switch_heard(d: &Daemon) -> String {
    d.ctl("show sim-calls")
}

/// SIP → H.323 through the relay, with fast start and without: the SIP UA's tone reaches
/// the peer, the peer's tone the UA, the peer's UserInputIndication `5` arrives as RFC
/// 4733 event 5 at the UA, and the UA's RFC 4733 `7` as a UserInputIndication (fast
/// start) or as RFC 2833 events (H.245, where the peer announced it takes them).
#[test]
fn sip_to_h323_relayed_tone_each_way_and_dtmf() {
    let r = start("h323m-relay");
    let d = &r.daemon;
    for (called, listener, fast_start) in [
        ("5001", r.relay_fs.try_clone().unwrap(), true),
        ("5002", r.relay_nofs.try_clone().unwrap(), false),
    ] {
        let peer_rtp = Arc::new(RtpEnd::start(H323_TONE));
        let sip_rtp = RtpEnd::start(SIP_TONE);
        let peer = answer(
            listener,
            peer_rtp.clone(),
            fast_start,
            Script {
                early: None,
                at_once: false,
                inband_alerting: false,
                digit: Some(('5', Duration::from_millis(800))),
                release_after: None,
            },
        );
        // The UA sends its RFC 4733 `7` once the call's audio flows.
        let sf = d.scenario(
            &format!("uac_{called}.xml"),
            &uac(sip_rtp.addr, 3000, "m=audio"),
        );
        let mut sipp = d
            .sipp_command(
                "127.0.0.1",
                d.pbx_port,
                &["-sf", &sf, "-s", called, "-m", "1"],
            )
            .spawn()
            .unwrap();
        let t = Instant::now();
        while sip_rtp.first_from().is_none() && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(1200));
        sip_rtp.send_digit('7');
        let ok = sipp.wait().unwrap().success();
        let log = peer.join().unwrap();
        assert!(ok, "SIPp call to {called}; peer saw {log:?}");
        let Some(Event::Setup(setup)) = log.first() else {
            panic!("{log:?}")
        };
        assert_eq!(setup.fast_start_offer.is_empty(), !fast_start, "{setup:?}");
        // Anchored: the UA's packets come from the gateway, not from the peer's socket.
        let from = sip_rtp.first_from().expect("RTP reached the SIP UA");
        assert_ne!(from, SocketAddr::V4(peer_rtp.addr));
        let (to_peer, to_ua) = (peer_rtp.heard(SIP_TONE), sip_rtp.heard(H323_TONE));
        assert!(
            to_peer >= 50,
            "{called}: SIP tone blocks at the H.323 peer: {to_peer}"
        );
        assert!(
            to_ua >= 50,
            "{called}: H.323 tone blocks at the SIP UA: {to_ua}"
        );
        // DTMF: UserInputIndication 5 → RFC 4733 event 5 (with its end packets).
        let ev = sip_rtp.events();
        assert!(
            ev.contains(&(5, false)) && ev.contains(&(5, true)),
            "{called}: {ev:?}"
        );
        if fast_start {
            // RFC 4733 7 → UserInputIndication 7 (fast start negotiates no events).
            assert_eq!(digits(&log), "7", "{called}: {log:?}");
        } else {
            // The peer announced receiveRTPAudioTelephonyEventCapability in H.245: the
            // UA's 7 reaches it as RFC 2833 events in its RTP.
            let ev = peer_rtp.events();
            assert!(
                ev.contains(&(7, false)) && ev.contains(&(7, true)),
                "{called}: {ev:?}"
            );
            assert_eq!(digits(&log), "", "not twice: {log:?}");
        }
        sip_rtp.stop();
        Arc::try_unwrap(peer_rtp).ok().unwrap().stop();
    }
    d.assert_no_busy_channel();
    // Both relayed calls' RTP is in the metrics: two streams each (one per leg), the
    // packets each way, and each stream's RFC 3550 jitter and loss.
    let streams = "gatewayd_rtp_streams_total";
    let t = Instant::now();
    while d.metric(streams) < 4.0 && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(d.metric(streams), 4.0);
    let received = d.metric("gatewayd_rtp_packets_received_total");
    let sent = d.metric("gatewayd_rtp_packets_sent_total");
    // Over 3 s of each call, 50 packets a second each way.
    assert!(received >= 4.0 * 100.0, "received {received}");
    assert!(sent >= 4.0 * 100.0, "sent {sent}");
    assert_eq!(d.metric("gatewayd_rtp_jitter_seconds_count"), 4.0);
    assert!(d.metric("gatewayd_rtp_packets_lost_total") <= received * 0.02);
}

/// SIP → H.323 through the relay, then a re-INVITE moves the SIP side to another port
/// and to µ-law (the H.323 side stays A-law): the relay sends to the new port in PCMU
/// only, takes the new endpoint's PCMU as its audio, and transcodes both ways. The new
/// endpoint sends only after being sent to, so latching cannot explain what it hears.
#[test]
fn sip_to_h323_relay_follows_a_reinvite_to_another_port_and_law() {
    /// The tone of the SIP UA's second endpoint.
    const MOVED_TONE: f64 = 1800.0;
    let r = start("h323m-move");
    let d = &r.daemon;
    let peer_rtp = Arc::new(RtpEnd::start(H323_TONE));
    let first = RtpEnd::start(SIP_TONE);
    let second = RtpEnd::start_in(MOVED_TONE, Law::MuLaw);
    let peer = answer(
        r.relay_fs.try_clone().unwrap(),
        peer_rtp.clone(),
        true,
        Script::default(),
    );
    let sf = d.scenario(
        "uac_moving.xml",
        &uac_moving(first.addr, second.addr, 2000, 2500),
    );
    let ok = d
        .sipp_command(
            "127.0.0.1",
            d.pbx_port,
            &["-sf", &sf, "-s", "5001", "-m", "1"],
        )
        .status()
        .unwrap()
        .success();
    let log = peer.join().unwrap();
    assert!(ok, "SIPp call with a re-INVITE; peer saw {log:?}");
    // Before the move: A-law both ways through the relay.
    assert!(
        first.heard(H323_TONE) >= 25,
        "first endpoint heard the peer"
    );
    let (first_u, first_a) = first.laws_received();
    assert!(
        first_a >= 25 && first_u == 0,
        "first endpoint got PCMA: {first_u}/{first_a}"
    );
    // After it: the relay sent the second endpoint PCMU only, with the peer's tone in it.
    let (second_u, second_a) = second.laws_received();
    assert!(
        second_u >= 50 && second_a == 0,
        "second endpoint got PCMU only: {second_u} PCMU, {second_a} PCMA"
    );
    let heard = second.heard(H323_TONE);
    assert!(
        heard >= 50,
        "second endpoint heard the peer: {heard} blocks"
    );
    // And the second endpoint's µ-law reached the A-law peer.
    let moved = peer_rtp.heard(MOVED_TONE);
    assert!(moved >= 50, "the peer heard the moved UA: {moved} blocks");
    first.stop();
    second.stop();
    Arc::try_unwrap(peer_rtp).ok().unwrap().stop();
    d.assert_no_busy_channel();
}

/// `media = "direct"`: the fast start offer carries the UA's RTP address, the 200 OK's SDP
/// the peer's; the tones go straight between the two.
#[test]
fn sip_to_h323_direct_media() {
    let r = start("h323m-direct");
    let d = &r.daemon;
    let peer_rtp = Arc::new(RtpEnd::start(H323_TONE));
    let sip_rtp = RtpEnd::start(SIP_TONE);
    let peer = answer(
        r.direct_fs.try_clone().unwrap(),
        peer_rtp.clone(),
        true,
        Script {
            early: None,
            at_once: false,
            inband_alerting: false,
            digit: None,
            release_after: None,
        },
    );
    let check = format!("c=IN IP4 127.0.0.1.*m=audio {} ", peer_rtp.addr.port());
    let sf = d.scenario("uac_direct.xml", &uac(sip_rtp.addr, 2500, &check));
    let ok = d.sipp(&["-sf", &sf, "-s", "5003", "-m", "1"]);
    let log = peer.join().unwrap();
    assert!(
        ok,
        "SIPp: the 200's SDP names the peer's RTP port; peer saw {log:?}"
    );
    let m = log
        .iter()
        .find_map(|e| match e {
            Event::Connected { media } => *media,
            _ => None,
        })
        .expect("fast start");
    assert_eq!(
        m.remote_rtp, sip_rtp.addr,
        "the UA's address passed through"
    );
    assert_direct_tones_each_way(&sip_rtp, &peer_rtp);
    sip_rtp.stop();
    Arc::try_unwrap(peer_rtp).ok().unwrap().stop();
    d.assert_no_busy_channel();
}

/// `media = "direct"` with a peer without fast start that answers at once (Connect before
/// H.245 opened anything): the H.245 OpenLogicalChannel carries the UA's RTP address, and
/// the 200 OK waits for the peer's OpenLogicalChannelAck so that its SDP names the peer's
/// RTP address; the tones go straight between the two.
#[test]
fn sip_to_h323_direct_media_without_fast_start() {
    let r = start("h323m-direct-h245");
    let d = &r.daemon;
    let peer_rtp = Arc::new(RtpEnd::start(H323_TONE));
    let sip_rtp = RtpEnd::start(SIP_TONE);
    let peer = answer(
        r.direct_nofs.try_clone().unwrap(),
        peer_rtp.clone(),
        false,
        Script {
            at_once: true,
            inband_alerting: false,
            ..Script::default()
        },
    );
    let check = format!("c=IN IP4 127.0.0.1.*m=audio {} ", peer_rtp.addr.port());
    let sf = d.scenario("uac_direct_h245.xml", &uac(sip_rtp.addr, 2500, &check));
    let ok = d.sipp(&["-sf", &sf, "-s", "5005", "-m", "1"]);
    let log = peer.join().unwrap();
    assert!(
        ok,
        "SIPp: the 200's SDP names the peer's RTP port; peer saw {log:?}"
    );
    let Some(Event::Setup(setup)) = log.first() else {
        panic!("{log:?}")
    };
    assert!(setup.fast_start_offer.is_empty(), "{setup:?}");
    let m = log
        .iter()
        .find_map(|e| match e {
            Event::Media(m) => Some(*m),
            _ => None,
        })
        .expect("H.245 opened the gateway's channel");
    assert_eq!(
        m.remote_rtp, sip_rtp.addr,
        "the OpenLogicalChannel carries the UA's address"
    );
    assert_direct_tones_each_way(&sip_rtp, &peer_rtp);
    sip_rtp.stop();
    Arc::try_unwrap(peer_rtp).ok().unwrap().stop();
    d.assert_no_busy_channel();
}

/// H.323 → SIP through the relay: the peer calls 201 (routed to the SIP trunk), SIPp
/// answers with an SDP naming the test's UA endpoint; tones each way.
#[test]
fn h323_to_sip_relayed_tone_each_way() {
    let r = start("h323m-tosip");
    let d = &r.daemon;
    let sip_rtp = RtpEnd::start(SIP_TONE);
    let sf = d.scenario("uas.xml", &uas(sip_rtp.addr, "m=audio"));
    let mut sipp = d.sipp_uas(&["-sf", &sf, "-m", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    let peer_rtp = RtpEnd::start(H323_TONE);
    let log = place(
        r.h323_port,
        "201",
        &peer_rtp,
        true,
        Script {
            early: None,
            at_once: false,
            inband_alerting: false,
            digit: None,
            release_after: Some(Duration::from_millis(2500)),
        },
    );
    assert!(
        sipp.wait().unwrap().success(),
        "SIPp answered and got the BYE: {log:?}"
    );
    assert!(
        log.iter().any(|e| matches!(e, Event::Connected { .. })),
        "{log:?}"
    );
    assert_tones_each_way(&sip_rtp, &peer_rtp);
    sip_rtp.stop();
    peer_rtp.stop();
    d.assert_no_busy_channel();
}

/// H.323 → SIP from a `media = "direct"` peer: the INVITE's SDP names the peer's RTP
/// address, the fast start answer (held back until the 200 OK) the UA's; the tones go
/// straight between the two.
#[test]
fn h323_to_sip_direct_media() {
    let r = start_with("h323m-tosip-direct", "127.0.0.3", "127.0.0.1");
    let d = &r.daemon;
    let sip_rtp = RtpEnd::start(SIP_TONE);
    let peer_rtp = RtpEnd::start(H323_TONE);
    let check = format!("c=IN IP4 127.0.0.1.*m=audio {} ", peer_rtp.addr.port());
    let sf = d.scenario("uas_direct.xml", &uas(sip_rtp.addr, &check));
    let mut sipp = d.sipp_uas(&["-sf", &sf, "-m", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    let log = place(
        r.h323_port,
        "201",
        &peer_rtp,
        true,
        Script {
            early: None,
            at_once: false,
            inband_alerting: false,
            digit: None,
            release_after: Some(Duration::from_millis(2500)),
        },
    );
    assert!(
        sipp.wait().unwrap().success(),
        "SIPp: the INVITE's SDP names the peer's RTP port: {log:?}"
    );
    let m = log
        .iter()
        .find_map(|e| match e {
            Event::Connected { media } => *media,
            _ => None,
        })
        .expect("fast start answered by Connect");
    assert_eq!(
        m.remote_rtp, sip_rtp.addr,
        "the UA's address passed through"
    );
    assert_direct_tones_each_way(&sip_rtp, &peer_rtp);
    sip_rtp.stop();
    peer_rtp.stop();
    d.assert_no_busy_channel();
}

/// H.323 → E1, with fast start and without (H.245 after Connect): the switch hears the
/// peer's tone, the peer hears the switch's.
#[test]
fn h323_to_e1_tone_each_way_with_and_without_fast_start() {
    let r = start("h323m-e1");
    let d = &r.daemon;
    for fast_start in [true, false] {
        let peer_rtp = RtpEnd::start(H323_TONE);
        let log = place(
            r.h323_port,
            "0301234",
            &peer_rtp,
            fast_start,
            Script {
                early: None,
                at_once: false,
                inband_alerting: false,
                digit: None,
                release_after: Some(Duration::from_millis(3000)),
            },
        );
        assert!(
            log.iter().any(|e| matches!(e, Event::Connected { .. })),
            "fast_start {fast_start}: {log:?}"
        );
        let heard = peer_rtp.heard(SWITCH_TONE);
        assert!(
            heard >= 50,
            "fast_start {fast_start}: switch tone blocks {heard}"
        );
        peer_rtp.stop();
    }
    let sim = switch_heard(d);
    let calls: Vec<&str> = sim.lines().filter(|l| l.contains("from-gateway")).collect();
    assert_eq!(calls.len(), 2, "{sim}");
    for c in calls {
        assert!(
            c.contains("700Hz/"),
            "the switch heard the peer's tone: {c}"
        );
    }
    d.assert_no_busy_channel();
}

/// PSTN → H.323: the switch calls 5001; tones each way.
#[test]
fn pstn_to_h323_tone_each_way() {
    let r = start("h323m-pstn");
    let d = &r.daemon;
    let peer_rtp = Arc::new(RtpEnd::start(H323_TONE));
    let peer = answer(
        r.relay_fs.try_clone().unwrap(),
        peer_rtp.clone(),
        true,
        Script {
            early: None,
            at_once: false,
            inband_alerting: false,
            digit: None,
            release_after: None,
        },
    );
    assert_eq!(d.ctl("simcall 1 5001 3000"), "ok\n");
    let log = peer.join().unwrap();
    assert!(
        log.iter().any(|e| matches!(e, Event::Connected { .. })),
        "{log:?}"
    );
    let heard = peer_rtp.heard(SWITCH_TONE);
    assert!(heard >= 50, "switch tone blocks at the peer: {heard}");
    let sim = switch_heard(d);
    let call = sim
        .lines()
        .find(|l| l.contains("to-gateway"))
        .unwrap_or_else(|| panic!("{sim}"));
    assert!(
        call.contains("700Hz/"),
        "the switch heard the peer's tone: {call}"
    );
    Arc::try_unwrap(peer_rtp).ok().unwrap().stop();
    d.assert_no_busy_channel();
}

/// SIPp calls `[service]` (SDP naming `rtp`) and requires a 183 whose SDP matches
/// `check_183` before the 200; keeps the call `hold_ms`, then BYE.
fn uac_early(rtp: SocketAddrV4, hold_ms: u64, check_183: &str) -> String {
    uac(rtp, hold_ms, "m=audio")
        .replace(
            r#"  <recv response="180" optional="true"/>"#,
            &format!(
                r#"  <recv response="183">
    <action>
      <ereg regexp="{check_183}" search_in="body" check_it="true" assign_to="2"/>
    </action>
  </recv>
  <recv response="180" optional="true"/>"#
            ),
        )
        .replace(
            r#"<Reference variables="1"/>"#,
            r#"<Reference variables="1,2"/>"#,
        )
}

/// SIPp as the PBX: `status` (183 or 180) with an SDP naming `rtp`, `early_ms` of early
/// media, then 200 (the same SDP), until the BYE.
fn uas_early(rtp: SocketAddrV4, early_ms: u64, status: &str) -> String {
    let sdp = format!(
        "v=0
      o=user1 53655765 2353687637 IN IP4 127.0.0.1
      s=-
      c=IN IP4 127.0.0.1
      t=0 0
      m=audio {} RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16
",
        rtp.port()
    );
    let early = format!(
        r#"  <send>
    <![CDATA[
      SIP/2.0 {status}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      {sdp}
    ]]>
  </send>
  <pause milliseconds="{early_ms}"/>
"#
    );
    // In place of the 180.
    let s = uas(rtp, "m=audio");
    let from = s.find("  <send>").expect("the 180's send");
    let to = s.find("  <send retrans=\"500\">").expect("the 200's send");
    format!("{}{early}{}", &s[..from], &s[to..])
}

/// Early media SIP → H.323: the peer answers the fast start in a Progress (in-band
/// information, Q.931 progress description 8), then in an Alerting with progress
/// indicator 8, and plays its tone 1.5 s before its Connect: SIPp gets 183 with SDP
/// before the 200 (no 180), and the SIP UA hears the peer's tone before the peer answered.
#[test]
fn sip_to_h323_early_media_before_connect() {
    let r = start("h323m-early-in");
    let d = &r.daemon;
    for (i, inband_alerting) in [false, true].into_iter().enumerate() {
        let peer_rtp = Arc::new(RtpEnd::start(H323_TONE));
        let sip_rtp = RtpEnd::start(SIP_TONE);
        let peer = answer(
            r.relay_fs.try_clone().unwrap(),
            peer_rtp.clone(),
            true,
            Script {
                early: Some(Duration::from_millis(1500)),
                inband_alerting,
                ..Script::default()
            },
        );
        let sf = d.scenario(
            &format!("uac_early{i}.xml"),
            &uac_early(sip_rtp.addr, 1000, "m=audio"),
        );
        let ok = d.sipp(&["-sf", &sf, "-s", "5001", "-m", "1", "-trace_err"]);
        let log = peer.join().unwrap();
        assert!(
            ok,
            "alerting {inband_alerting}: SIPp: 183 with SDP, then 200; peer saw {log:?}"
        );
        let kinds = crate::h323_support::kinds(&log);
        assert_eq!(
            kinds,
            ["setup", "connected", "released"],
            "the peer answered after its Progress/Alerting: {log:?}"
        );
        let answered = peer_rtp.connected_at().expect("the peer answered");
        let early = sip_rtp.heard_before(H323_TONE, answered);
        assert!(
            early >= 25,
            "alerting {inband_alerting}: H.323 tone blocks at the SIP UA before Connect: \
             {early} (in all {})",
            sip_rtp.heard(H323_TONE)
        );
        sip_rtp.stop();
        Arc::try_unwrap(peer_rtp).ok().unwrap().stop();
        let cdrs = d.cdrs();
        assert_eq!(cdrs.len(), i + 1, "{cdrs:?}");
        assert_eq!(
            cdrs[i][crate::daemon_support::DISPOSITION],
            "ANSWERED",
            "{cdrs:?}"
        );
    }
    d.assert_no_busy_channel();
}

/// Early media H.323 → SIP: SIPp answers 183 with SDP (then, second call, 180 with SDP)
/// and 1.5 s later 200; the test's UA plays its tone meanwhile: the H.323 caller gets
/// Progress (Alerting with progress indicator 8) with the fast start answer and hears the
/// tone before its Connect.
#[test]
fn h323_to_sip_early_media_before_connect() {
    let r = start("h323m-early-out");
    let d = &r.daemon;
    for (i, (status, kind)) in [
        ("183 Session Progress", "progress"),
        ("180 Ringing", "alerting"),
    ]
    .into_iter()
    .enumerate()
    {
        let sip_rtp = RtpEnd::start(SIP_TONE);
        let sf = d.scenario(
            &format!("uas_early{i}.xml"),
            &uas_early(sip_rtp.addr, 1500, status),
        );
        let mut sipp = d.sipp_uas(&["-sf", &sf, "-m", "1", "-trace_err"]);
        std::thread::sleep(Duration::from_millis(300));
        let peer_rtp = RtpEnd::start(H323_TONE);
        let log = place(
            r.h323_port,
            "201",
            &peer_rtp,
            true,
            Script {
                release_after: Some(Duration::from_millis(1000)),
                ..Script::default()
            },
        );
        assert!(
            sipp.wait().unwrap().success(),
            "{status}: SIPp: early response, 200 and the BYE: {log:?}"
        );
        let kinds = crate::h323_support::kinds(&log);
        assert_eq!(kinds, [kind, "connected", "released"], "{log:?}");
        let answered = peer_rtp.connected_at().expect("connected");
        let early = peer_rtp.heard_before(SIP_TONE, answered);
        assert!(
            early >= 25,
            "{status}: SIP tone blocks at the H.323 caller before Connect: {early} (in all {})",
            peer_rtp.heard(SIP_TONE)
        );
        sip_rtp.stop();
        peer_rtp.stop();
        let cdrs = d.cdrs();
        assert_eq!(cdrs.len(), i + 1, "{cdrs:?}");
        assert_eq!(
            cdrs[i][crate::daemon_support::DISPOSITION],
            "ANSWERED",
            "{cdrs:?}"
        );
    }
    d.assert_no_busy_channel();
}
