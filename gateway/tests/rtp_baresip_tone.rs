//! Real G.711 RTP with a real SIP user agent nobody here wrote: baresip (Debian package
//! `baresip-core`) calls this test, which answers with our SDP engine, then receives
//! baresip's 1 kHz sine through our RTP parser, receiver statistics and jitter buffer
//! and detects the tone; at the same time it sends a 697 Hz tone back with our RTP
//! sender, which baresip's `sndfile` module records and we detect in the WAV file.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::baresip_support::{Baresip, Setup};

use gateway::media::{tone_present, Law, ToneGenerator};
use gateway::rtp::{
    FrameKind, JitterBuffer, JitterBufferConfig, PayloadType, ReceiverStats, RtpPacket, RtpSender,
};
use gateway::sdp::{LocalCapabilities, OfferAnswer, SessionDescription};

fn header<'a>(msg: &'a str, name: &str) -> Vec<&'a str> {
    msg.split("\r\n")
        .take_while(|l| !l.is_empty())
        .filter(|l| {
            l.split_once(':')
                .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        })
        .collect()
}

#[test]
fn baresip_tone_is_detected_and_ours_reaches_baresip() {
    let sip = UdpSocket::bind("127.0.0.1:0").unwrap();
    let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = sip.local_addr().unwrap();
    // INVITE in, 200 OK with our answer out.
    let (mut phone, invite, from) = Baresip::dial(
        &Setup {
            name: "tone",
            config: "audio_player aufile,/dev/null\n\
                     audio_source ausine,1000\n\
                     ausrc_srate 48000\nausrc_channels 2\n\
                     snd_path {dir}\n\
                     module g711.so\nmodule ausine.so\nmodule aufile.so\nmodule account.so\n\
                     module sndfile.so\n\
                     module_app menu.so\n",
            user: "gwtest",
            account: "regint=0;audio_codecs=PCMA,PCMU",
            run_secs: 10,
        },
        &sip,
        "4001",
    );
    let mut buf = [0u8; 65535];
    let body_at = invite.find("\r\n\r\n").unwrap() + 4;
    let offer = SessionDescription::parse(&invite.as_bytes()[body_at..]).unwrap();
    let local_rtp = rtp.local_addr().unwrap();
    let mut oa = OfferAnswer::new(
        LocalCapabilities::for_span_law(local_rtp.ip(), Law::ALaw),
        local_rtp.port(),
    );
    let (answer, neg, _) = oa.handle_offer(&offer).unwrap();
    let audio = neg.audio.unwrap();
    assert_eq!(audio.law, Law::ALaw);
    let peer_rtp: SocketAddr = audio.remote.unwrap();
    let body = String::from_utf8(answer.to_bytes()).unwrap();
    let mut resp = String::from("SIP/2.0 200 OK\r\n");
    for v in header(&invite, "Via") {
        resp.push_str(v);
        resp.push_str("\r\n");
    }
    for h in ["From", "Call-ID", "CSeq"] {
        resp.push_str(header(&invite, h)[0]);
        resp.push_str("\r\n");
    }
    resp.push_str(&format!("{};tag=gw1\r\n", header(&invite, "To")[0]));
    resp.push_str(&format!(
        "Contact: <sip:gw@{target}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    sip.send_to(resp.as_bytes(), from).unwrap();

    // Media both ways for 2 s on a 20 ms clock; the sockets must not block the clock.
    sip.set_read_timeout(Some(Duration::from_millis(1)))
        .unwrap();
    rtp.set_read_timeout(Some(Duration::from_millis(1)))
        .unwrap();
    let t0 = Instant::now();
    let mut tx = RtpSender::new_random(PayloadType::PCMA);
    let mut tone = ToneGenerator::new(697.0, -10.0);
    let mut jb = JitterBuffer::new(t0, JitterBufferConfig::new(Law::ALaw));
    let mut stats: Option<ReceiverStats> = None;
    let mut heard = Vec::new();
    let mut frame = [0u8; 160];
    let mut pkt = [0u8; 400];
    let mut tick = 0u32;
    let mut wrong_pt = 0;
    while t0.elapsed() < Duration::from_secs(2) {
        // Answer retransmitted INVITEs until the ACK comes.
        if let Ok((n, from)) = sip.recv_from(&mut buf[..]) {
            if buf[..n].starts_with(b"INVITE ") {
                sip.send_to(resp.as_bytes(), from).unwrap();
            }
        }
        while let Ok(n) = rtp.recv(&mut buf) {
            let now = Instant::now();
            let Ok(p) = RtpPacket::parse(&buf[..n]) else {
                continue;
            };
            if p.payload_type != PayloadType::PCMA {
                wrong_pt += 1;
                continue;
            }
            if std::env::var("GW_DEBUG_RTP").is_ok() {
                eprintln!(
                    "{:?} seq {} ts {} len {} m {}",
                    now - t0,
                    p.sequence.0,
                    p.timestamp,
                    p.payload.len(),
                    p.marker
                );
            }
            stats
                .get_or_insert_with(|| ReceiverStats::new(now, p.ssrc, p.sequence, 8000))
                .handle_packet(now, p.sequence, p.timestamp, true);
            jb.push(now, &p);
        }
        loop {
            let due = t0 + Duration::from_millis(20 * tick as u64);
            if Instant::now() < due {
                break;
            }
            tick += 1;
            if jb.pop(due, &mut frame) == FrameKind::Audio {
                heard.extend_from_slice(&frame);
            }
            tone.fill(Law::ALaw, &mut frame);
            let n = tx.write_audio(due, &frame, 160, &mut pkt).unwrap();
            rtp.send_to(&pkt[..n], peer_rtp).unwrap();
        }
    }
    assert_eq!(wrong_pt, 0);
    let stats = stats.expect("no RTP from baresip");
    assert!(stats.received() > 50, "received {}", stats.received());
    assert!(
        heard.len() >= 160 * 50,
        "only {} audio bytes played: {:?}, received {}",
        heard.len(),
        jb.stats(),
        stats.received()
    );
    let last = &heard[heard.len() - 160 * 50..];
    let d = tone_present(last, Law::ALaw, 1000.0);
    assert!(d.present, "baresip's 1 kHz tone not detected: {d:?}");
    assert!(!tone_present(last, Law::ALaw, 697.0).present);

    // Hang up (kill), then look at what baresip recorded from us.
    phone.stop();
    let (samples, rate, channels) = Baresip::decoded_recording(&phone.dir);
    assert!(
        samples.len() > rate as usize * channels / 2,
        "recording too short"
    );
    // Down to mono 8 kHz for the detector.
    let step = (rate as usize / 8000) * channels;
    let mono: Vec<i16> = samples.iter().step_by(step.max(1)).copied().collect();
    let tail = &mono[mono.len().saturating_sub(8000)..];
    let d = gateway::media::tone::detect_linear(tail, 697.0);
    assert!(
        d.present,
        "our 697 Hz tone not detected in baresip's recording: {d:?}"
    );
}
