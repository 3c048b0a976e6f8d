//! The media engine between a simulated E1/T1 B-channel (tdm-sim, virtual time) and RTP
//! over loopback UDP: tones both ways, A↔µ conversion, jitter, RTP timeout.

use std::time::Duration;

use crate::media_support::{audio_of, Harness, Options, KEY};
use gateway::media::engine::io::IoMode;
use gateway::media::engine::{Control, MediaEvent};
use gateway::media::transcode::alaw_to_ulaw;
use gateway::media::{tone_present, Law, ToneGenerator, FRAME_SAMPLES};
use gateway::rtp::{PayloadType, RtpSender};

/// The far end keeps its transmit buffer fed with `gen`'s tone, one block per 20 ms.
fn far_feed(h: &mut Harness, gen: &mut ToneGenerator) {
    if h.ms % 20 == 0 {
        let mut block = [0u8; FRAME_SAMPLES];
        gen.fill(h.tdm_law, &mut block);
        h.far.write(&block).unwrap();
    }
}

#[test]
fn tone_from_the_e1_far_end_comes_out_as_pcma_packets() {
    tone_from_the_e1_far_end(IoMode::Auto);
}

/// The same through plain system calls (the path where io_uring is not available).
#[test]
fn tone_from_the_e1_far_end_by_system_calls() {
    tone_from_the_e1_far_end(IoMode::Syscalls);
}

fn tone_from_the_e1_far_end(io: IoMode) {
    let mut h = Harness::new(Options {
        echo_cancel: true,
        io,
        ..Options::e1()
    });
    let uring = h
        .worker
        .stats()
        .uring
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(io == IoMode::Auto || !uring, "system calls asked for");
    eprintln!(
        "packet I/O: {}",
        if uring { "io_uring" } else { "system calls" }
    );
    let mut gen = ToneGenerator::new(1000.0, -10.0);
    for _ in 0..1000 {
        far_feed(&mut h, &mut gen);
        h.step();
    }
    let pkts = audio_of(&h.peer_packets(), 8);
    // One packet per 20 ms after the phase is found.
    assert!((47..=50).contains(&pkts.len()), "{} packets", pkts.len());
    for w in pkts.windows(2) {
        assert_eq!(w[1].0, w[0].0.wrapping_add(1), "sequence");
        assert_eq!(w[1].1, w[0].1.wrapping_add(160), "timestamp");
    }
    for (_, _, payload) in &pkts {
        assert_eq!(payload.len(), 160);
    }
    // After the line delay and the echo canceller's start, every packet is the tone.
    let detected = pkts[3..]
        .iter()
        .filter(|p| tone_present(&p.2, Law::ALaw, 1000.0).present)
        .count();
    assert_eq!(detected, pkts.len() - 3);
    assert!(!tone_present(&pkts[10].2, Law::ALaw, 600.0).present);
}

/// Send `gen`'s tone as 20 ms RTP packets from the SIP side.
fn peer_feed(h: &mut Harness, rtp: &mut RtpSender, gen: &mut ToneGenerator) {
    if h.ms % 20 == 0 {
        let mut payload = [0u8; FRAME_SAMPLES];
        gen.fill(h.sip_law, &mut payload);
        let mut buf = [0u8; 200];
        let n = rtp
            .write_audio(h.now(), &payload, FRAME_SAMPLES as u32, &mut buf)
            .unwrap();
        h.peer_send(&buf[..n]);
    }
}

/// With symmetric RTP the socket is connected to the latched peer (sends without an
/// address); a connected socket hears nobody else, so when the peer's NAT moves it to a
/// new port the engine hears nothing until, after 200 ms of silence, it disconnects; then
/// the latch follows the same SSRC to the new port as before (3 packets) and our packets
/// go there.
#[test]
fn symmetric_rtp_connects_yet_follows_a_nat_rebinding() {
    symmetric_rtp_follows_a_rebinding(IoMode::Auto);
}

#[test]
fn symmetric_rtp_follows_a_rebinding_by_system_calls() {
    symmetric_rtp_follows_a_rebinding(IoMode::Syscalls);
}

fn symmetric_rtp_follows_a_rebinding(io: IoMode) {
    let mut h = Harness::new(Options {
        symmetric_rtp: true,
        io,
        ..Options::e1()
    });
    let mut rtp = RtpSender::new_random(PayloadType::PCMA);
    let mut gen = ToneGenerator::new(600.0, -10.0);
    let mut far_gen = ToneGenerator::new(1000.0, -10.0);
    for _ in 0..300 {
        far_feed(&mut h, &mut far_gen);
        peer_feed(&mut h, &mut rtp, &mut gen);
        h.step();
    }
    assert!(audio_of(&h.peer_packets(), 8).len() >= 10);
    let moved = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    moved.set_nonblocking(true).unwrap();
    let new_addr = moved.local_addr().unwrap();
    let mut latched_after = None;
    for i in 0..1000u64 {
        far_feed(&mut h, &mut far_gen);
        if h.ms % 20 == 0 {
            let mut payload = [0u8; FRAME_SAMPLES];
            gen.fill(h.sip_law, &mut payload);
            let mut buf = [0u8; 200];
            let n = rtp
                .write_audio(h.now(), &payload, FRAME_SAMPLES as u32, &mut buf)
                .unwrap();
            moved.send_to(&buf[..n], h.local).unwrap();
        }
        h.step();
        let moved_now = h
            .drain_events()
            .iter()
            .any(|e| matches!(e, MediaEvent::RemoteLatched { remote, .. } if *remote == new_addr));
        if moved_now && latched_after.is_none() {
            latched_after = Some(i);
        }
    }
    let after = latched_after.expect("the latch followed the new port");
    // Not before the 200 ms of silence (the connected socket dropped the new port's
    // packets), and soon after it.
    assert!((200..400).contains(&after), "latched after {after} ms");
    let mut got = 0;
    let mut buf = [0u8; 1500];
    while moved.recv_from(&mut buf).is_ok() {
        got += 1;
    }
    assert!(got >= 20, "{got} packets at the new port");
}

#[test]
fn pcma_tone_from_rtp_reaches_the_far_end_of_the_b_channel() {
    let mut h = Harness::new(Options::e1());
    let mut rtp = RtpSender::new_random(PayloadType::PCMA);
    let mut gen = ToneGenerator::new(600.0, -10.0);
    let mut heard = Vec::new();
    for _ in 0..1000 {
        peer_feed(&mut h, &mut rtp, &mut gen);
        h.step();
        heard.extend(h.far_read());
    }
    // The jitter buffer's start delay and the line delay first, then the tone.
    assert!(heard.len() >= 900 * 8, "{} samples", heard.len());
    let tail = &heard[heard.len() - 800 * 8..];
    for block in tail.chunks(160) {
        let d = tone_present(block, Law::ALaw, 600.0);
        assert!(d.present, "{d:?}");
    }
}

#[test]
fn e1_with_a_pcmu_sip_side_converts_both_ways() {
    let mut h = Harness::new(Options {
        sip_law: Law::MuLaw,
        ..Options::e1()
    });
    let mut tdm_gen = ToneGenerator::new(1000.0, -10.0);
    let mut rtp = RtpSender::new_random(PayloadType::PCMU);
    let mut sip_gen = ToneGenerator::new(600.0, -10.0);
    let mut written = Vec::new();
    let mut heard = Vec::new();
    for _ in 0..1000 {
        if h.ms % 20 == 0 {
            let mut block = [0u8; FRAME_SAMPLES];
            tdm_gen.fill(Law::ALaw, &mut block);
            h.far.write(&block).unwrap();
            written.extend_from_slice(&block);
        }
        peer_feed(&mut h, &mut rtp, &mut sip_gen);
        h.step();
        heard.extend(h.far_read());
    }
    // TDM → SIP: PCMU packets (PT 0) that are exactly G.711 Table 4 of what the far end
    // wrote (the echo canceller is off here).
    let pkts = audio_of(&h.peer_packets(), 0);
    assert!(pkts.len() >= 45);
    let sent: Vec<u8> = pkts[2..].iter().flat_map(|p| p.2.clone()).collect();
    let expect: Vec<u8> = written.iter().map(|&a| alaw_to_ulaw(a)).collect();
    let at = expect
        .windows(160)
        .position(|w| w == &sent[..160])
        .expect("the first packet's samples are in what was written");
    assert_eq!(&sent[..], &expect[at..at + sent.len()]);
    for p in &pkts[2..] {
        assert!(tone_present(&p.2, Law::MuLaw, 1000.0).present);
    }
    // SIP → TDM: the µ-law tone arrives as A-law at the far end.
    let tail = &heard[heard.len() - 800 * 8..];
    for block in tail.chunks(160) {
        assert!(tone_present(block, Law::ALaw, 600.0).present);
    }
}

#[test]
fn t1_passes_pcmu_through() {
    let mut h = Harness::new(Options {
        tdm_law: Law::MuLaw,
        sip_law: Law::MuLaw,
        ..Options::e1()
    });
    let mut gen = ToneGenerator::new(1000.0, -10.0);
    let mut written = Vec::new();
    for _ in 0..400 {
        if h.ms % 20 == 0 {
            let mut block = [0u8; FRAME_SAMPLES];
            gen.fill(Law::MuLaw, &mut block);
            h.far.write(&block).unwrap();
            written.extend_from_slice(&block);
        }
        h.step();
    }
    let pkts = audio_of(&h.peer_packets(), 0);
    let sent: Vec<u8> = pkts[2..].iter().flat_map(|p| p.2.clone()).collect();
    let at = written
        .windows(160)
        .position(|w| w == &sent[..160])
        .unwrap();
    assert_eq!(&sent[..], &written[at..at + sent.len()]);
}

#[test]
fn reordered_duplicated_and_late_packets_are_absorbed() {
    let mut h = Harness::new(Options::e1());
    let mut rtp = RtpSender::new_random(PayloadType::PCMA);
    let mut gen = ToneGenerator::new(600.0, -10.0);
    // Build 100 packets of a continuous tone, then deliver them with impairments.
    let mut packets = Vec::new();
    for i in 0..100u64 {
        let mut payload = [0u8; FRAME_SAMPLES];
        gen.fill(Law::ALaw, &mut payload);
        let mut buf = [0u8; 200];
        let n = rtp
            .write_audio(h.now(), &payload, FRAME_SAMPLES as u32, &mut buf)
            .unwrap();
        packets.push((i, buf[..n].to_vec()));
    }
    // Schedule: each packet at 20 ms × i, with packets 10k+3 and 10k+4 swapped,
    // every 7th sent twice, and every 13th held back 30 ms (behind its successor).
    let mut schedule: Vec<(u64, Vec<u8>)> = Vec::new();
    for (i, p) in &packets {
        let mut at = 20 * i + 5;
        if i % 10 == 3 {
            at += 25;
        }
        if i % 13 == 0 && *i > 0 {
            at += 30;
        }
        schedule.push((at, p.clone()));
        if i % 7 == 0 {
            schedule.push((at + 3, p.clone()));
        }
    }
    schedule.sort_by_key(|s| s.0);
    let mut heard = Vec::new();
    let mut next = 0;
    for _ in 0..2300 {
        while next < schedule.len() && schedule[next].0 <= h.ms {
            h.peer_send(&schedule[next].1);
            next += 1;
        }
        h.step();
        heard.extend(h.far_read());
    }
    // Every block between the start and the end of the stream carries the tone:
    // reordering and late packets were absorbed by the buffer (which may have grown).
    let blocks: Vec<bool> = heard
        .chunks(160)
        .map(|b| tone_present(b, Law::ALaw, 600.0).present)
        .collect();
    let first = blocks.iter().position(|&b| b).unwrap();
    let last = blocks.iter().rposition(|&b| b).unwrap();
    let gaps = blocks[first..=last].iter().filter(|&&b| !b).count();
    assert!(gaps <= 2, "{gaps} blocks without the tone: {blocks:?}");
    assert!(last - first >= 95, "{} blocks of tone", last - first);
    h.control.send(Control::QueryStats(KEY)).unwrap();
    h.step();
    let stats = h
        .drain_events()
        .into_iter()
        .find_map(|e| match e {
            MediaEvent::Stats { stats, .. } => Some(stats),
            _ => None,
        })
        .unwrap();
    assert_eq!(stats.packets_received, 115);
    assert!(stats.jitter_buffer.duplicates >= 14, "{stats:?}");
}

/// A channel bridged without an RTP timeout (early media, before the answer) reports
/// none however long it hears nothing; armed at the answer (`Control::RtpTimeout`), it
/// counts from then.
#[test]
fn rtp_timeout_armed_at_the_answer_counts_from_then() {
    let mut h = Harness::new(Options {
        rtp_timeout: None,
        ..Options::e1()
    });
    for _ in 0..3000 {
        h.step();
    }
    assert!(h.drain_events().is_empty(), "no timeout before it is armed");
    let armed = h.ms;
    h.control
        .send(Control::RtpTimeout(KEY, Some(Duration::from_secs(1))))
        .unwrap();
    let mut at = None;
    for _ in 0..2000 {
        h.step();
        for e in h.drain_events() {
            if let MediaEvent::RtpTimeout { key, .. } = e {
                assert_eq!(key, KEY);
                at.get_or_insert(h.ms);
            }
        }
    }
    let at = at.expect("timeout reported once armed");
    assert!(
        (armed + 980..=armed + 1040).contains(&at),
        "at {at}, armed at {armed}"
    );
}

#[test]
fn rtp_timeout_is_reported_once_and_resumes() {
    let mut h = Harness::new(Options {
        rtp_timeout: Some(Duration::from_secs(2)),
        ..Options::e1()
    });
    let mut rtp = RtpSender::new_random(PayloadType::PCMA);
    let mut gen = ToneGenerator::new(600.0, -10.0);
    for _ in 0..500 {
        peer_feed(&mut h, &mut rtp, &mut gen);
        h.step();
    }
    assert!(h.drain_events().is_empty());
    // Silence from the SIP side: at 2 s (within 20 ms) the timeout comes, once.
    let stop = h.ms;
    let mut timeout_at = None;
    for _ in 0..4000 {
        h.step();
        for e in h.drain_events() {
            if let MediaEvent::RtpTimeout { key, silent_for } = e {
                assert_eq!(key, KEY);
                assert!(timeout_at.is_none(), "reported twice");
                assert!(silent_for >= Duration::from_secs(2));
                timeout_at = Some(h.ms);
            }
        }
    }
    let at = timeout_at.expect("timeout reported");
    assert!(
        (stop + 1980..=stop + 2040).contains(&at),
        "at {at}, stop {stop}"
    );
    // Packets again: resumed.
    for _ in 0..40 {
        peer_feed(&mut h, &mut rtp, &mut gen);
        h.step();
    }
    assert!(h
        .drain_events()
        .iter()
        .any(|e| matches!(e, MediaEvent::RtpResumed { key } if *key == KEY)));
}

#[test]
fn hold_stops_sending_and_remove_returns_the_channel() {
    let mut h = Harness::new(Options::e1());
    for _ in 0..200 {
        h.step();
    }
    assert!(!h.peer_packets().is_empty());
    h.control.send(Control::Hold(KEY, true)).unwrap();
    for _ in 0..200 {
        h.step();
    }
    assert!(h.peer_packets().is_empty(), "nothing sent on hold");
    h.control.send(Control::Hold(KEY, false)).unwrap();
    for _ in 0..100 {
        h.step();
    }
    let pkts = gateway::rtp::RtpPacket::parse(&h.peer_packets()[0])
        .map(|p| p.marker)
        .unwrap();
    assert!(pkts, "the first packet after hold starts a talkspurt");
    h.control.send(Control::Remove(KEY)).unwrap();
    h.step();
    let removed = h
        .drain_events()
        .into_iter()
        .any(|e| matches!(e, MediaEvent::Removed { key, .. } if key == KEY));
    assert!(removed);
    assert_eq!(h.worker.channel_count(), 0);
}

/// Sixty channels opened and added on the same millisecond (their blocks would all
/// complete on one tick) are spread over the 20 phases, three per tick, and every one
/// carries its packets: one per 20 ms, none lost to a phase slip. After a stall that
/// realigns them all, they are spread again.
#[test]
fn channels_added_together_are_spread_over_the_phases() {
    use dahdi_driver::{ChannelId, ChannelMode, Device, SpanId, Timeslot};
    use gateway::media::engine::{ChannelConfig, ChannelKey, MediaWorker};
    let sim = tdm_sim::Sim::builder().e1(2).build();
    let (ctl_tx, ctl_rx) = crossbeam_channel::unbounded();
    let (ev_tx, _ev_rx) = crossbeam_channel::unbounded();
    let mut worker = MediaWorker::new(ctl_rx, ev_tx).unwrap();
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_nonblocking(true).unwrap();
    let mut key = 0;
    for span in 1..=2u16 {
        for ts in (1..=31u8).filter(|&t| t != 16) {
            let id = ChannelId {
                span: SpanId(span),
                timeslot: Timeslot(ts),
            };
            let mode = ChannelMode::Clear {
                blocksize: FRAME_SAMPLES,
                law: Law::ALaw,
            };
            let tdm = sim.near().open_channel(id, mode).unwrap();
            let cfg = ChannelConfig::voice(
                tdm,
                Law::ALaw,
                std::net::UdpSocket::bind("127.0.0.1:0").unwrap(),
                peer.local_addr().unwrap(),
                Law::ALaw,
                PayloadType::PCMA,
                PayloadType::new(101),
            );
            key += 1;
            ctl_tx
                .send(Control::Add(ChannelKey(key), Box::new(cfg)))
                .unwrap();
        }
    }
    let t0 = std::time::Instant::now();
    let ms = std::cell::Cell::new(0u64);
    let count = |ticks: u64, worker: &mut MediaWorker| {
        let mut n = 0;
        let mut buf = [0u8; 1500];
        for _ in 0..ticks {
            sim.advance(1).unwrap();
            ms.set(ms.get() + 1);
            worker.run_tick(t0 + Duration::from_millis(ms.get()), 1);
            // Drained every tick: the peer's socket buffer holds only so many.
            while peer.recv_from(&mut buf).is_ok() {
                n += 1;
            }
        }
        n
    };
    // Within 40 ms each channel has waited for its phase (≤ 20 ms) and its first block.
    count(40, &mut worker);
    let stats = worker.stats().snapshot();
    assert_eq!(stats.channels, 60);
    assert_eq!(stats.largest_phase, 3, "60 channels over 20 phases");
    // From then on: 60 packets per 20 ms.
    let n = count(400, &mut worker);
    assert_eq!(n, 60 * 20, "{n} packets in 400 ms");
    assert_eq!(worker.stats().snapshot().late_ticks, 0);
    // A 200 ms stall: every B-channel's buffers overflow and its blocks restart at the
    // read after it, the same tick for all. They slip and are spread again.
    sim.advance(200).unwrap();
    ms.set(ms.get() + 200);
    worker.run_tick(t0 + Duration::from_millis(ms.get()), 200);
    count(60, &mut worker);
    assert_eq!(worker.stats().snapshot().largest_phase, 3);
    let n = count(400, &mut worker);
    assert_eq!(n, 60 * 20, "{n} packets in 400 ms after the stall");
}
