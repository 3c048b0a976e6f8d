//! Seeded random and mutated datagrams through every RTP/RTCP reader and the receive
//! path (statistics, jitter buffer, RFC 4733 receiver, symmetric latch, RTCP session):
//! nothing may panic, whatever arrives on a media port.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use gateway::media::Law;
use gateway::rtp::rtcp::{sdes_items, SdesItem, SDES_CNAME};
use gateway::rtp::{
    is_rtcp, JitterBuffer, JitterBufferConfig, NtpTime, PayloadType, RandomStart, ReceiverStats,
    ReportBlock, RtcpCompound, RtcpPacket, RtcpSession, RtcpWriter, RtpHeader, RtpPacket,
    RtpSender, SenderInfo, SeqNo, Ssrc, SymmetricLatch, TelephoneEventReceiver,
};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let mut out = vec![];
    let mut buf = [0u8; 400];
    let ext = [9u8; 8];
    let csrc = [Ssrc(3), Ssrc(4)];
    let mut h = RtpHeader::new(PayloadType::PCMA, SeqNo(7), 1234, Ssrc(42));
    let n = h.write(&[0xD5; 160], 0, &mut buf).unwrap();
    out.push(buf[..n].to_vec());
    h.csrc = &csrc;
    h.extension = Some(gateway::rtp::HeaderExtension {
        profile: 0xBEDE,
        data: &ext,
    });
    let n = h.write(&[0x55; 80], 8, &mut buf).unwrap();
    out.push(buf[..n].to_vec());
    let ev = RtpHeader::new(PayloadType::new(101).unwrap(), SeqNo(8), 1234, Ssrc(42));
    let n = ev.write(&[5, 0x8A, 3, 0x20], 0, &mut buf).unwrap();
    out.push(buf[..n].to_vec());
    let block = ReportBlock {
        ssrc: Ssrc(1),
        fraction_lost: 3,
        cumulative_lost: -2,
        extended_highest_seq: 99,
        jitter: 7,
        last_sr: 5,
        delay_since_last_sr: 6,
    };
    let info = SenderInfo {
        ntp: NtpTime(1 << 40),
        rtp_timestamp: 1,
        packet_count: 2,
        octet_count: 3,
    };
    let mut w = RtcpWriter::new(&mut buf);
    w.sender_report(Ssrc(42), &info, &[block, block])
        .unwrap()
        .sdes(
            Ssrc(42),
            &[SdesItem {
                kind: SDES_CNAME,
                text: b"x@y",
            }],
        )
        .unwrap()
        .bye(&[Ssrc(42), Ssrc(43)], Some(b"bye"))
        .unwrap();
    let n = w.finish();
    out.push(buf[..n].to_vec());
    out
}

#[test]
fn random_and_mutated_datagrams_never_panic() {
    let mut rng = Rng(0xDA7A_2026);
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(t0, JitterBufferConfig::new(Law::ALaw));
    let mut stats: Option<ReceiverStats> = None;
    let mut events = TelephoneEventReceiver::new();
    let mut latch = SymmetricLatch::new("192.0.2.9:4000".parse().unwrap(), 2);
    let mut rtcp = RtcpSession::new(t0, SystemTime::now(), "gw@test");
    let tx = RtpSender::new(PayloadType::PCMA, RandomStart::new());
    let seeds = seeds();
    let mut frame = [0u8; 160];
    let mut parsed = 0;
    let mut rtcp_parsed = 0;
    for i in 0..60_000u64 {
        let now = t0 + Duration::from_millis(i);
        let mut d = if rng.below(4) == 0 {
            (0..rng.below(300)).map(|_| rng.next() as u8).collect()
        } else {
            seeds[rng.below(seeds.len())].clone()
        };
        for _ in 0..rng.below(4) {
            if d.is_empty() {
                break;
            }
            let at = rng.below(d.len());
            match rng.below(3) {
                0 => d[at] ^= 1 << rng.below(8),
                1 => d[at] = rng.next() as u8,
                _ => d.truncate(at),
            }
        }
        if is_rtcp(&d) {
            for p in RtcpCompound::lenient(&d) {
                let Ok(p) = p else { break };
                rtcp_parsed += 1;
                match p {
                    RtcpPacket::SourceDescription { count, body } => {
                        let _ = sdes_items(count, body).count();
                    }
                    RtcpPacket::SenderReport { reports, .. }
                    | RtcpPacket::ReceiverReport { reports, .. } => {
                        for b in reports.iter() {
                            let _ = b.quality(8000, Some(NtpTime(i << 30)));
                        }
                    }
                    RtcpPacket::Goodbye { sources, .. } => {
                        let _ = RtcpPacket::bye_sources(sources).count();
                    }
                    RtcpPacket::Other { .. } => {}
                }
            }
            let _ = rtcp.handle_rtcp(now, &d, tx.ssrc(), stats.as_mut());
            continue;
        }
        if let Ok(p) = RtpPacket::parse(&d) {
            parsed += 1;
            let src: SocketAddr = if rng.below(2) == 0 {
                "198.51.100.1:5000".parse().unwrap()
            } else {
                "198.51.100.2:5002".parse().unwrap()
            };
            let _ = latch.handle_packet(src, p.ssrc, true);
            stats
                .get_or_insert_with(|| ReceiverStats::new(now, p.ssrc, p.sequence, 8000))
                .handle_packet(now, p.sequence, p.timestamp, true);
            if p.payload_type.get() == 101 {
                let _ = events.handle_packet(now, p.timestamp, p.payload);
                while events.poll_event().is_some() {}
            } else {
                jb.push(now, &p);
            }
            let _ = p.csrcs().count();
        }
        if i % 20 == 0 {
            jb.pop(now, &mut frame);
            events.handle_timeout(now);
            if let Some(s) = stats.as_mut() {
                let _ = s.report(now);
            }
        }
    }
    assert!(parsed > 20_000, "{parsed}");
    assert!(rtcp_parsed > 1_000, "{rtcp_parsed}");
    assert!(jb.depth() >= 0);
}

#[test]
fn oversized_payloads_are_refused_by_the_jitter_buffer() {
    let t0 = Instant::now();
    let mut jb = JitterBuffer::new(t0, JitterBufferConfig::new(Law::MuLaw));
    let mut buf = vec![0u8; 9000];
    let h = RtpHeader::new(PayloadType::PCMU, SeqNo(1), 0, Ssrc(1));
    let n = h.write(&[0x11; 8000], 0, &mut buf).unwrap();
    let p = RtpPacket::parse(&buf[..n]).unwrap();
    assert_eq!(jb.push(t0, &p), gateway::rtp::PushOutcome::Oversized);
    assert_eq!(jb.stats().oversized, 1);
}
