//! The engine's own media thread, paced by the simulator's real-time clock: audio both
//! ways for a second, then the channel comes back on removal.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use dahdi_driver::{ChannelId, ChannelMode, Device, SpanId, Timeslot};
use gateway::media::engine::{ChannelConfig, MediaEngine, MediaEvent};
use gateway::media::{tone_present, Law, ToneGenerator, FRAME_SAMPLES};
use gateway::rtp::{PayloadType, RtpPacket, RtpSender};
use tdm_sim::{ClockMode, Sim};

#[test]
fn media_thread_bridges_in_real_time() {
    let sim = Sim::builder().e1(1).clock(ClockMode::RealTime).build();
    let ts = ChannelId {
        span: SpanId(1),
        timeslot: Timeslot(5),
    };
    let mode = ChannelMode::Clear {
        blocksize: FRAME_SAMPLES,
        law: dahdi_driver::Law::ALaw,
    };
    let near = sim.near().open_channel(ts, mode).unwrap();
    let mut far = sim.far().open_channel(ts, mode).unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let local = socket.local_addr().unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_nonblocking(true).unwrap();
    let mut engine = MediaEngine::start(vec![sim.near().ticker().unwrap()]).unwrap();
    let mut cfg = ChannelConfig::voice(
        near,
        Law::ALaw,
        socket,
        peer.local_addr().unwrap(),
        Law::ALaw,
        PayloadType::PCMA,
        PayloadType::new(101),
    );
    cfg.echo_cancel = false;
    let key = engine.add_channel(cfg).unwrap();

    let mut rtp = RtpSender::new_random(PayloadType::PCMA);
    let mut to_tdm = ToneGenerator::new(600.0, -10.0);
    let mut to_rtp = ToneGenerator::new(1000.0, -10.0);
    let start = Instant::now();
    let mut heard = Vec::new();
    let mut got = Vec::new();
    let mut buf = [0u8; 1500];
    let mut block = [0u8; FRAME_SAMPLES];
    for tick in 1..=60u32 {
        let mut payload = [0u8; FRAME_SAMPLES];
        to_tdm.fill(Law::ALaw, &mut payload);
        let n = rtp
            .write_audio(Instant::now(), &payload, FRAME_SAMPLES as u32, &mut buf)
            .unwrap();
        peer.send_to(&buf[..n], local).unwrap();
        to_rtp.fill(Law::ALaw, &mut block);
        let _ = far.write(&block);
        while let Ok(n) = far.read(&mut block) {
            heard.extend_from_slice(&block[..n]);
        }
        while let Ok((n, _)) = peer.recv_from(&mut buf) {
            got.push(buf[..n].to_vec());
        }
        let next = start + Duration::from_millis(20 * tick as u64);
        if let Some(d) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
    }
    let audio: Vec<Vec<u8>> = got
        .iter()
        .filter_map(|p| RtpPacket::parse(p).ok())
        .filter(|p| p.payload_type == PayloadType::PCMA)
        .map(|p| p.payload.to_vec())
        .collect();
    assert!(audio.len() >= 40, "{} packets", audio.len());
    let toned = audio
        .iter()
        .filter(|p| tone_present(p, Law::ALaw, 1000.0).present)
        .count();
    assert!(toned >= audio.len() - 8, "{toned} of {}", audio.len());
    let blocks = heard
        .chunks(FRAME_SAMPLES)
        .filter(|b| tone_present(b, Law::ALaw, 600.0).present)
        .count();
    assert!(blocks >= 40, "{blocks} blocks of the tone at the far end");
    engine.remove_channel(key).unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut removed = false;
    while let Ok(e) = engine.events().recv_deadline(deadline) {
        if matches!(e, MediaEvent::Removed { key: k, .. } if k == key) {
            removed = true;
            break;
        }
    }
    assert!(removed);
    let stats = engine.stats();
    assert!(stats[0].ticks >= 1000, "{stats:?}");
    engine.shutdown();
}
