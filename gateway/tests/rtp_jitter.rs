//! The adaptive jitter buffer driven in virtual time: 20 ms pops against packets that
//! arrive reordered, duplicated, lost, late, with other ptimes, new SSRCs and timestamp
//! jumps.

use std::time::{Duration, Instant};

use gateway::media::Law;
use gateway::rtp::{
    FrameKind, JitterBuffer, JitterBufferConfig, PayloadType, PushOutcome, RtpHeader, RtpPacket,
    SeqNo, Ssrc,
};

/// Sample n of the test stream: the index of the 20 ms frame it belongs to, so that each
/// aligned output frame is constant and consecutive frames count up.
fn sample(n: u32) -> u8 {
    ((n / 160) % 200) as u8
}

struct Pkt {
    arrival_ms: u64,
    seq: u16,
    ts: u32,
    ssrc: u32,
    marker: bool,
    payload: Vec<u8>,
}

fn stream(ptime_ms: u32, packets: u32, ts0: u32, ssrc: u32) -> Vec<Pkt> {
    let spp = ptime_ms * 8;
    (0..packets)
        .map(|i| {
            let start = i * spp;
            Pkt {
                arrival_ms: (i * ptime_ms) as u64,
                seq: i as u16,
                ts: ts0.wrapping_add(start),
                ssrc,
                marker: i == 0,
                payload: (start..start + spp).map(sample).collect(),
            }
        })
        .collect()
}

struct Run {
    frames: Vec<(FrameKind, [u8; 160])>,
    outcomes: Vec<PushOutcome>,
    jb: JitterBuffer,
}

/// Drive: at every 20 ms tick deliver the packets that arrived by then, then pop.
fn run(mut pkts: Vec<Pkt>, ticks: u64, cfg: JitterBufferConfig) -> Run {
    let t0 = Instant::now();
    pkts.sort_by_key(|p| p.arrival_ms);
    let mut jb = JitterBuffer::new(t0, cfg);
    let mut frames = vec![];
    let mut outcomes = vec![];
    let mut it = pkts.into_iter().peekable();
    let mut buf = [0u8; 1500];
    for k in 0..ticks {
        let now_ms = k * 20;
        while let Some(p) = it.peek() {
            if p.arrival_ms > now_ms {
                break;
            }
            let p = it.next().unwrap();
            let mut h = RtpHeader::new(PayloadType::PCMA, SeqNo(p.seq), p.ts, Ssrc(p.ssrc));
            h.marker = p.marker;
            let n = h.write(&p.payload, 0, &mut buf).unwrap();
            let pkt = RtpPacket::parse(&buf[..n]).unwrap();
            outcomes.push(jb.push(t0 + Duration::from_millis(p.arrival_ms), &pkt));
        }
        let mut out = [0u8; 160];
        let kind = jb.pop(t0 + Duration::from_millis(now_ms), &mut out);
        frames.push((kind, out));
    }
    Run {
        frames,
        outcomes,
        jb,
    }
}

/// The audio frames must be constant and count up by one, without gaps.
fn assert_contiguous(frames: &[(FrameKind, [u8; 160])]) -> usize {
    let audio: Vec<&[u8; 160]> = frames
        .iter()
        .filter(|(k, _)| *k == FrameKind::Audio)
        .map(|(_, f)| f)
        .collect();
    for (i, f) in audio.iter().enumerate() {
        assert!(
            f.iter().all(|b| *b == f[0]),
            "frame {i} not aligned: {:?}",
            &f[..8]
        );
        if i > 0 {
            assert_eq!(
                f[0],
                audio[i - 1][0].wrapping_add(1) % 200,
                "gap after frame {i}"
            );
        }
    }
    audio.len()
}

#[test]
fn in_order_stream_plays_after_the_initial_delay_without_loss() {
    // A fixed 40 ms delay (no adaptation to the perfect network).
    let mut cfg = JitterBufferConfig::new(Law::ALaw);
    cfg.min_delay = 320;
    let r = run(stream(20, 100, 1000, 1), 110, cfg);
    // 40 ms initial delay: two silence frames first.
    assert_eq!(r.frames[0].0, FrameKind::Silence);
    assert_eq!(r.frames[1].0, FrameKind::Silence);
    assert_eq!(r.frames[2].0, FrameKind::Audio);
    assert_eq!(r.frames[2].1[0], 0);
    assert_eq!(assert_contiguous(&r.frames), 100);
    let s = r.jb.stats();
    assert_eq!((s.lost_frames, s.late, s.duplicates), (0, 0, 0));
    assert!(r.outcomes.iter().skip(1).all(|o| *o == PushOutcome::Stored));
    // After the stream ends: silence, not loss.
    assert_eq!(r.frames.last().unwrap().0, FrameKind::Silence);
    assert_eq!(r.frames.last().unwrap().1, [Law::ALaw.silence(); 160]);
}

#[test]
fn reordered_and_duplicated_packets() {
    let mut p = stream(20, 60, 0, 7);
    // Swap neighbours 10/11, 20/21 (arrival times swapped: 11 comes first).
    for i in [10usize, 20] {
        let a = p[i].arrival_ms;
        p[i].arrival_ms = p[i + 1].arrival_ms;
        p[i + 1].arrival_ms = a;
    }
    // Duplicate 30 and 40.
    for i in [30usize, 40] {
        let d = Pkt {
            arrival_ms: p[i].arrival_ms + 5,
            seq: p[i].seq,
            ts: p[i].ts,
            ssrc: 7,
            marker: false,
            payload: p[i].payload.clone(),
        };
        p.push(d);
    }
    let r = run(p, 70, JitterBufferConfig::new(Law::ALaw));
    assert_eq!(assert_contiguous(&r.frames), 60);
    assert_eq!(r.jb.stats().duplicates, 2);
    assert_eq!(r.jb.stats().lost_frames, 0);
    assert_eq!(
        r.outcomes
            .iter()
            .filter(|o| **o == PushOutcome::Duplicate)
            .count(),
        2
    );
}

#[test]
fn a_lost_packet_is_concealed_once_and_counted() {
    let mut p = stream(20, 50, 0, 7);
    p.remove(20);
    let r = run(p, 60, JitterBufferConfig::new(Law::ALaw));
    let concealed: Vec<usize> = r
        .frames
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| *k == FrameKind::Concealed)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(concealed.len(), 1);
    let i = concealed[0];
    // The previous frame is repeated.
    assert_eq!(r.frames[i].1, r.frames[i - 1].1);
    assert_eq!(r.frames[i + 1].1[0], 21);
    assert_eq!(r.jb.stats().lost_frames, 1);
}

#[test]
fn other_ptimes_are_rechunked_to_20ms() {
    for ptime in [10u32, 30, 40] {
        let n = 1200 / ptime; // 1.2 s of audio
        let r = run(
            stream(ptime, n, 5000, 3),
            80,
            JitterBufferConfig::new(Law::MuLaw),
        );
        assert_eq!(assert_contiguous(&r.frames), 60, "ptime {ptime}");
        assert_eq!(r.jb.stats().lost_frames, 0, "ptime {ptime}");
    }
}

#[test]
fn ssrc_change_restarts_the_buffer() {
    let mut p = stream(20, 30, 0, 1);
    let mut q = stream(20, 30, 9_999_999, 2);
    for x in &mut q {
        x.arrival_ms += 600;
        // The new source continues the sample pattern at frame 100.
        x.payload = x.payload.iter().map(|b| (b + 100) % 200).collect();
    }
    p.extend(q);
    let r = run(p, 70, JitterBufferConfig::new(Law::ALaw));
    assert_eq!(r.jb.stats().ssrc_changes, 1);
    assert!(r.outcomes.contains(&PushOutcome::Restarted));
    let audio: Vec<u8> = r
        .frames
        .iter()
        .filter(|(k, _)| *k == FrameKind::Audio)
        .map(|(_, f)| f[0])
        .collect();
    assert_eq!(audio.len(), 60);
    assert_eq!(audio[29], 29);
    assert_eq!(audio[30], 100);
}

#[test]
fn timestamp_jump_resyncs_and_wraparound_is_seamless() {
    // Start just below 2^32: the wrap must not disturb playout.
    let mut p = stream(20, 40, u32::MAX - 160 * 10 + 1, 9);
    // Then the sender jumps 10 s ahead without changing SSRC (and without a marker).
    let mut q = stream(20, 20, 80_000 * 2, 9);
    for (i, x) in q.iter_mut().enumerate() {
        x.arrival_ms += 800;
        x.seq = 40 + i as u16;
        x.marker = false;
        x.payload = x.payload.iter().map(|b| (b + 40) % 200).collect();
    }
    p.extend(q);
    let r = run(p, 64, JitterBufferConfig::new(Law::ALaw));
    assert_eq!(r.jb.stats().resyncs, 1);
    assert_eq!(assert_contiguous(&r.frames), 60);
}

#[test]
fn late_packets_grow_the_delay_and_calm_shrinks_it_within_bounds() {
    let mut cfg = JitterBufferConfig::new(Law::ALaw);
    cfg.initial_delay = 160;
    cfg.min_delay = 160;
    cfg.max_delay = 800;
    let mut p = stream(20, 1000, 0, 4);
    // Packets 100..400: every 4th arrives 70 ms late (bursty network).
    for x in p.iter_mut().take(400).skip(100) {
        if x.seq % 4 == 0 {
            x.arrival_ms += 70;
        }
    }
    let r = run(p, 1010, cfg);
    let s = r.jb.stats();
    assert!(s.late > 0, "{s:?}");
    assert!(s.stretched_frames > 0, "{s:?}");
    assert!(
        s.dropped_frames > 0,
        "calm period must shrink the delay: {s:?}"
    );
    assert!(r.jb.target_delay() >= 160 && r.jb.target_delay() <= 800);
    // Once grown, late packets stop: the last 150 late-prone packets are all on time.
    let late_outcomes = r
        .outcomes
        .iter()
        .filter(|o| **o == PushOutcome::Late)
        .count() as u64;
    assert_eq!(late_outcomes, s.late);
    assert!(s.late < 20, "delay should adapt quickly: {s:?}");
    // After the calm period, the delay is back near the minimum.
    assert!(r.jb.target_delay() <= 320, "target {}", r.jb.target_delay());
}

#[test]
fn talkspurt_marker_reanchors_after_silence() {
    // Two talkspurts 2 s apart (silence suppressed): the second starts with a marker.
    let mut p = stream(20, 20, 0, 5);
    let mut q = stream(20, 20, 16_000 + 20 * 160, 5);
    for (i, x) in q.iter_mut().enumerate() {
        x.arrival_ms += 2400;
        x.seq = 20 + i as u16;
        x.payload = x.payload.iter().map(|b| (b + 20) % 200).collect();
    }
    p.extend(q);
    let mut cfg = JitterBufferConfig::new(Law::ALaw);
    cfg.min_delay = 320;
    let r = run(p, 160, cfg);
    assert_eq!(assert_contiguous(&r.frames), 40);
    // Between talkspurts only silence, and no loss counted.
    assert_eq!(r.jb.stats().lost_frames, 0);
    // The second talkspurt plays 40 ms (the target) after its first packet arrived.
    let first_of_second = r
        .frames
        .iter()
        .position(|(k, f)| *k == FrameKind::Audio && f[0] == 20)
        .unwrap();
    assert_eq!(first_of_second, 2400 / 20 + 2);
}
