//! Real G.711 audio between our user agent and baresip (Debian `baresip-core`), a SIP phone
//! nobody here wrote. Our UAC calls baresip (auto-answer), negotiates PCMA with our SDP
//! offer/answer code, sends a 1 kHz tone over RTP for three seconds while receiving
//! baresip's 600 Hz sine, then hangs up. Checked: the tone we sent arrived at baresip
//! (its `sndfile` module records what it decoded), and the tone it sent arrived here.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use gateway::media::tone::detect_linear;
use gateway::media::{Law, ToneGenerator, FRAME_SAMPLES};
use gateway::rtp::{RtpPacket, RtpSender};
use gateway::sdp::{Direction, LocalCapabilities, OfferAnswer, SessionDescription};
use gateway::sip::transaction::Timers;
use gateway::sip::transport::{Listen, Protocol, Target, Transport, TransportEvent};
use gateway::sip::ua::{Endpoint, EndpointConfig, OutgoingCall, UaEvent};

use crate::baresip_support::{Baresip, Setup};

const OUR_TONE: f64 = 1000.0;
const THEIR_TONE: f64 = 600.0;

fn start_baresip() -> Baresip {
    let rtp = 30_000 + (std::process::id() % 1000) as u16 * 20;
    // ausine only runs at 48 kHz stereo; baresip resamples to 8 kHz mono for G.711.
    let config = format!(
        "poll_method epoll\naudio_player aubridge,x\n\
         audio_source ausine,{THEIR_TONE}\naudio_alert aubridge,x\nausrc_srate 48000\nausrc_channels 2\n\
         module g711.so\nmodule ausine.so\nmodule aubridge.so\n\
         module sndfile.so\nmodule_app account.so\nmodule_app menu.so\nsnd_path {{dir}}\n\
         rtp_ports {rtp}-{}\n",
        rtp + 19
    );
    Baresip::start(&Setup {
        name: "rtp",
        config: &config,
        user: "phone",
        account: "regint=0;answermode=auto",
        run_secs: 20,
    })
}

#[test]
fn baresip_and_our_ua_exchange_tones_over_pcma() {
    let phone = start_baresip();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let received = rt.block_on(async {
        let (transport, mut incoming) = Transport::bind(Listen {
            udp: Some("127.0.0.1:0".parse().unwrap()),
            ..Default::default()
        })
        .await
        .unwrap();
        let sip_addr = transport.local_addr(Protocol::Udp).unwrap();
        let rtp_sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let rtp_port = rtp_sock.local_addr().unwrap().port();
        let mut oa = OfferAnswer::new(
            LocalCapabilities::for_span_law(IpAddr::from([127, 0, 0, 1]), Law::ALaw),
            rtp_port,
        );
        let offer = oa.create_offer(Direction::SendRecv);
        let mut ep = Endpoint::new(EndpointConfig {
            advertise: vec![(Protocol::Udp, sip_addr)],
            contact_user: "gw".into(),
            user_agent: "gatewayd-test".into(),
            timers: Timers::default(),
        });
        let target = Target {
            protocol: Protocol::Udp,
            addr: SocketAddr::from(([127, 0, 0, 1], phone.port)),
        };
        let call = ep.invite(
            Instant::now(),
            OutgoingCall {
                request_uri: format!("sip:phone@127.0.0.1:{}", phone.port),
                from: "<sip:gw@127.0.0.1>".into(),
                to: format!("<sip:phone@127.0.0.1:{}>", phone.port),
                target,
                sdp: Some(bytes::Bytes::from(offer.to_bytes())),
                headers: vec![],
            },
        );
        // Signalling until answered.
        let deadline = Instant::now() + Duration::from_secs(10);
        let answer = loop {
            while let Some((t, b)) = ep.poll_transmit() {
                transport.send(t, b).await.unwrap();
            }
            let mut answered = None;
            while let Some(ev) = ep.poll_event() {
                match ev {
                    UaEvent::Answered { response, .. } => answered = Some(response),
                    UaEvent::Rejected { status, .. } => {
                        panic!("baresip rejected the call: {status}")
                    }
                    _ => {}
                }
            }
            if let Some(a) = answered {
                break a;
            }
            assert!(Instant::now() < deadline, "no answer from baresip");
            if let Ok(Some(TransportEvent::Message(m))) =
                tokio::time::timeout(Duration::from_millis(100), incoming.recv()).await
            {
                ep.handle_incoming(Instant::now(), m);
            }
            ep.handle_timeout(Instant::now());
        };
        while let Some((t, b)) = ep.poll_transmit() {
            transport.send(t, b).await.unwrap();
        }
        let answer = SessionDescription::parse(answer.body()).expect("SDP answer");
        let (neg, _) = oa.handle_answer(&answer).expect("negotiated");
        let audio = neg.audio.expect("audio stream");
        assert_eq!(audio.law, Law::ALaw, "PCMA negotiated");
        let remote = audio.remote.expect("baresip's RTP address");

        // Three seconds of media both ways, paced at 20 ms.
        let mut sender = RtpSender::new_random(audio.payload_type);
        let mut tone = ToneGenerator::new(OUR_TONE, -10.0);
        let mut payload = [0u8; FRAME_SAMPLES];
        let mut packet = [0u8; 1500];
        let mut got: Vec<i16> = Vec::new();
        let mut inbuf = [0u8; 2048];
        let start = tokio::time::Instant::now();
        for i in 0..150u32 {
            tone.fill(Law::ALaw, &mut payload);
            let n = sender
                .write_audio(Instant::now(), &payload, FRAME_SAMPLES as u32, &mut packet)
                .unwrap();
            rtp_sock.send_to(&packet[..n], remote).await.unwrap();
            let next = start + Duration::from_millis(20 * u64::from(i + 1));
            while let Ok(Ok((n, _))) =
                tokio::time::timeout_at(next, rtp_sock.recv_from(&mut inbuf)).await
            {
                if let Ok(p) = RtpPacket::parse(&inbuf[..n]) {
                    if p.payload_type == audio.payload_type {
                        got.extend(p.payload.iter().map(|&b| Law::ALaw.decode(b)));
                    }
                }
            }
        }
        ep.hangup(Instant::now(), call, Some("Q.850;cause=16"));
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end {
            while let Some((t, b)) = ep.poll_transmit() {
                transport.send(t, b).await.unwrap();
            }
            if ep.call_count() == 0 {
                break;
            }
            if let Ok(Some(TransportEvent::Message(m))) =
                tokio::time::timeout(Duration::from_millis(100), incoming.recv()).await
            {
                ep.handle_incoming(Instant::now(), m);
            }
        }
        assert_eq!(ep.call_count(), 0, "BYE answered");
        got
    });
    // What we heard from baresip: its 600 Hz sine, not our own 1 kHz.
    assert!(
        received.len() >= 8000 * 2,
        "only {} samples from baresip",
        received.len()
    );
    let tail = &received[received.len() - 8000..];
    let theirs = detect_linear(tail, THEIR_TONE);
    assert!(
        theirs.present,
        "baresip's {THEIR_TONE} Hz not found: {theirs:?}"
    );
    assert!(!detect_linear(tail, OUR_TONE).present);
    // What baresip heard from us, as its sndfile module recorded it.
    std::thread::sleep(Duration::from_millis(500));
    let (heard, _, _) = Baresip::decoded_recording(&phone.dir);
    assert!(
        heard.len() >= 8000 * 2,
        "baresip decoded only {} samples",
        heard.len()
    );
    let mid = &heard[heard.len() / 2 - 4000..heard.len() / 2 + 4000];
    let ours = detect_linear(mid, OUR_TONE);
    assert!(
        ours.present,
        "our {OUR_TONE} Hz tone not found in baresip's recording: {ours:?}"
    );
    assert!(!detect_linear(mid, THEIR_TONE).present);
}
