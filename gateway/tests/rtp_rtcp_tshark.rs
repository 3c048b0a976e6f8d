//! RTP, RFC 4733 events and compound RTCP that we write, checked two ways: parsed back
//! by our code, and decoded independently by tshark (Wireshark 4.0, Debian package
//! `tshark`) from a pcap file, with no malformed packet allowed.

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gateway::media::{tone_present, Law, ToneGenerator};
use gateway::rtp::rtcp::{sdes_items, SdesItem, SDES_CNAME, SDES_TOOL};
use gateway::rtp::{
    NtpTime, PayloadType, RandomStart, ReceiverStats, ReportBlock, RtcpCompound, RtcpPacket,
    RtcpWriter, RtpPacket, RtpSender, SenderInfo, SeqNo, Ssrc, TelephoneEvent,
    TelephoneEventSender,
};

const RTP_PORT: u16 = 30000;

/// A pcap file (LINKTYPE_ETHERNET) of UDP/IPv4 datagrams 192.0.2.1 → 192.0.2.2.
struct Pcap(Vec<u8>);

impl Pcap {
    fn new() -> Self {
        let mut v = Vec::new();
        v.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        v.extend_from_slice(&0i32.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&1u32.to_le_bytes());
        Pcap(v)
    }

    fn udp(&mut self, t_us: u64, sport: u16, dport: u16, payload: &[u8]) {
        let mut f = Vec::new();
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
        let total = 20 + 8 + payload.len();
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        ip[8] = 64;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&[192, 0, 2, 1]);
        ip[16..20].copy_from_slice(&[192, 0, 2, 2]);
        let mut sum = 0u32;
        for c in ip.chunks(2) {
            sum += u16::from_be_bytes([c[0], c[1]]) as u32;
        }
        while sum > 0xFFFF {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        f.extend_from_slice(&ip);
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(payload);
        self.0
            .extend_from_slice(&((t_us / 1_000_000) as u32).to_le_bytes());
        self.0
            .extend_from_slice(&((t_us % 1_000_000) as u32).to_le_bytes());
        self.0.extend_from_slice(&(f.len() as u32).to_le_bytes());
        self.0.extend_from_slice(&(f.len() as u32).to_le_bytes());
        self.0.extend_from_slice(&f);
    }
}

fn tshark(pcap: &std::path::Path, fields: &[&str], filter: Option<&str>) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n")
        .arg("-r")
        .arg(pcap)
        .args(["-d", &format!("udp.port=={RTP_PORT},rtp")])
        .args(["-d", &format!("udp.port=={},rtcp", RTP_PORT + 1)])
        .args(["-o", "rtpevent.event_payload_type_value:101"])
        .args(["-T", "fields", "-E", "separator=|"]);
    if let Some(f) = filter {
        cmd.args(["-Y", f]);
    }
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd
        .output()
        .expect("tshark must be installed (Debian package tshark)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

#[test]
fn tshark_decodes_our_rtp_events_and_rtcp_without_malformed_packets() {
    let t0 = Instant::now();
    let mut rtp = RtpSender::new(
        PayloadType::PCMA,
        RandomStart {
            ssrc: Ssrc(0x1234_5678),
            sequence: SeqNo(65530),
            timestamp: 4_294_960_000,
        },
    );
    let mut pcap = Pcap::new();
    let mut tone = ToneGenerator::new(1004.0, -10.0);
    let mut buf = [0u8; 1500];
    let mut frame = [0u8; 160];
    let mut received_audio = Vec::new();
    let mut stats: Option<ReceiverStats> = None;
    // 1 s of tone, 20 ms packets.
    for i in 0..50u64 {
        let now = t0 + Duration::from_millis(20 * i);
        tone.fill(Law::ALaw, &mut frame);
        let n = rtp.write_audio(now, &frame, 160, &mut buf).unwrap();
        pcap.udp(20_000 * i, 40000, RTP_PORT, &buf[..n]);
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        received_audio.extend_from_slice(p.payload);
        stats
            .get_or_insert_with(|| ReceiverStats::new(now, p.ssrc, p.sequence, 8000))
            .handle_packet(now, p.sequence, p.timestamp, true);
    }
    assert!(tone_present(&received_audio, Law::ALaw, 1004.0).present);
    // A digit '7' for 100 ms.
    let mut ev = TelephoneEventSender::new(PayloadType::new(101).unwrap());
    let start = t0 + Duration::from_millis(1000);
    ev.start(start, TelephoneEvent(7), 10, &rtp).unwrap();
    let mut events = 0;
    for ms in (0..=100u64).step_by(10) {
        let now = start + Duration::from_millis(ms);
        if ms == 100 {
            ev.stop(now);
        }
        while let Some(n) = ev.poll_transmit(now, &mut rtp, &mut buf).unwrap() {
            pcap.udp(1_000_000 + ms * 1000 + events, 40000, RTP_PORT, &buf[..n]);
            events += 1;
        }
    }
    assert_eq!(events, 5); // start, update at 50 ms, 3 end packets
                           // Compound RTCP: SR with one report block + SDES (CNAME, TOOL) + BYE.
    let mut st = stats.unwrap();
    let figures = st.report(t0 + Duration::from_millis(1100));
    let block = ReportBlock::from_figures(Ssrc(0xAABB_CCDD), &figures);
    let counts = rtp.sender_counts(t0 + Duration::from_millis(1100));
    let ntp = NtpTime::from_system_time(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let info = SenderInfo {
        ntp,
        rtp_timestamp: counts.rtp_timestamp,
        packet_count: counts.packet_count,
        octet_count: counts.octet_count,
    };
    let mut rtcp = [0u8; 512];
    let mut w = RtcpWriter::new(&mut rtcp);
    w.sender_report(rtp.ssrc(), &info, &[block])
        .unwrap()
        .sdes(
            rtp.ssrc(),
            &[
                SdesItem {
                    kind: SDES_CNAME,
                    text: b"gw@192.0.2.1",
                },
                SdesItem {
                    kind: SDES_TOOL,
                    text: b"gatewayd",
                },
            ],
        )
        .unwrap()
        .bye(&[rtp.ssrc()], Some(b"call cleared"))
        .unwrap();
    let n = w.finish();
    pcap.udp(1_200_000, 40001, RTP_PORT + 1, &rtcp[..n]);

    // Our own parser first.
    let pkts: Vec<RtcpPacket> = RtcpCompound::new(&rtcp[..n])
        .unwrap()
        .map(|p| p.unwrap())
        .collect();
    assert_eq!(pkts.len(), 3);
    match pkts[0] {
        RtcpPacket::SenderReport {
            ssrc,
            info: i,
            reports,
        } => {
            assert_eq!(ssrc, Ssrc(0x1234_5678));
            assert_eq!(i, info);
            assert_eq!(reports.iter().next().unwrap(), block);
        }
        p => panic!("{p:?}"),
    }
    match pkts[1] {
        RtcpPacket::SourceDescription { count, body } => {
            let items: Vec<_> = sdes_items(count, body).collect();
            assert_eq!(items.len(), 2);
            assert_eq!(items[0].1.text, b"gw@192.0.2.1");
        }
        p => panic!("{p:?}"),
    }
    match pkts[2] {
        RtcpPacket::Goodbye { sources, reason } => {
            assert_eq!(
                RtcpPacket::bye_sources(sources).collect::<Vec<_>>(),
                [Ssrc(0x1234_5678)]
            );
            assert_eq!(reason, Some(&b"call cleared"[..]));
        }
        p => panic!("{p:?}"),
    }

    let dir = std::env::temp_dir().join(format!(
        "gw-rtp-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rtp.pcap");
    std::fs::write(&file, &pcap.0).unwrap();

    let malformed = tshark(
        &file,
        &["frame.number"],
        Some("_ws.malformed || _ws.expert.severity >= 6291456"),
    );
    assert!(malformed.is_empty(), "tshark flags frames: {malformed:?}");

    let rows = tshark(
        &file,
        &[
            "rtp.seq",
            "rtp.timestamp",
            "rtp.ssrc",
            "rtp.p_type",
            "rtp.marker",
        ],
        Some("rtp"),
    );
    assert_eq!(rows.len(), 55);
    assert_eq!(rows[0], ["65530", "4294960000", "0x12345678", "8", "1"]);
    assert_eq!(rows[6], ["0", "4294960960", "0x12345678", "8", "0"]);
    assert_eq!(
        rows[49][1],
        ((4_294_960_000u64 + 49 * 160) % (1 << 32)).to_string()
    );

    let ev_rows = tshark(
        &file,
        &[
            "rtpevent.event_id",
            "rtpevent.end_of_event",
            "rtpevent.volume",
            "rtpevent.duration",
            "rtp.marker",
        ],
        Some("rtpevent"),
    );
    assert_eq!(ev_rows.len(), 5);
    assert_eq!(ev_rows[0][0], "7");
    assert_eq!(ev_rows[0][4], "1");
    assert_eq!(ev_rows[4][1], "1");
    assert_eq!(ev_rows[4][3], "800");

    let rtcp_rows = tshark(
        &file,
        &[
            "rtcp.pt",
            "rtcp.senderssrc",
            "rtcp.sender.packetcount",
            "rtcp.ssrc.cum_nr",
            "rtcp.ssrc.jitter",
            "rtcp.sdes.text",
        ],
        Some("rtcp"),
    );
    assert_eq!(rtcp_rows.len(), 1);
    let r = &rtcp_rows[0];
    assert_eq!(r[0], "200,202,203");
    assert_eq!(r[1], "0x12345678");
    assert_eq!(r[2], "55");
    assert_eq!(r[3], figures.cumulative_lost.to_string());
    assert_eq!(r[4], figures.jitter.to_string());
    // tshark lists the BYE reason with the SDES texts.
    assert_eq!(r[5], "gw@192.0.2.1,gatewayd,call cleared");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn receiver_report_figures_for_a_support_engineer() {
    let t0 = Instant::now();
    let mut st = ReceiverStats::new(t0, Ssrc(5), SeqNo(0), 8000);
    // 100 packets, 10 lost, every other arrival 4 ms late. Packet 0 is the probation
    // packet of RFC 3550 A.1 and not counted: 99 expected, 89 received.
    for q in 0..100u16 {
        if q % 10 == 5 {
            continue;
        }
        let late = if q % 2 == 1 { 4 } else { 0 };
        st.handle_packet(
            t0 + Duration::from_millis(20 * q as u64 + late),
            SeqNo(q),
            q as u32 * 160,
            true,
        );
    }
    // The peer's SR (sent at its NTP time T) reaches us 30 ms later; our RR leaves 250 ms
    // after that and reaches the peer 30 ms later, at T + 310 ms:
    // RTT = A − LSR − DLSR = 310 − 250 = 60 ms (RFC 3550 §6.4.1).
    let sr_sent = NtpTime((3_900_000_000u64) << 32);
    st.handle_sender_report(t0 + Duration::from_millis(1030), sr_sent.0);
    let f = st.report(t0 + Duration::from_millis(1280));
    let block = ReportBlock::from_figures(Ssrc(5), &f);
    let mut buf = [0u8; 64];
    let mut w = RtcpWriter::new(&mut buf);
    w.receiver_report(Ssrc(9), &[block]).unwrap();
    let n = w.finish();
    let got = match RtcpCompound::new(&buf[..n])
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
    {
        RtcpPacket::ReceiverReport { reports, .. } => reports.iter().next().unwrap(),
        p => panic!("{p:?}"),
    };
    let arrival = NtpTime(sr_sent.0 + (((1310u64 - 1000) << 32) / 1000));
    let q = got.quality(8000, Some(arrival));
    assert_eq!(q.cumulative_lost, 10);
    assert_eq!(got.fraction_lost, (10 * 256 / 99) as u8);
    assert!((q.fraction_lost_percent - 9.77).abs() < 0.01, "{q}");
    assert!(q.jitter_ms > 3.0 && q.jitter_ms < 4.5, "{q}");
    let rtt = q.round_trip.unwrap().as_secs_f64() * 1000.0;
    assert!((rtt - 60.0).abs() < 0.1, "{q}");
    assert!(q
        .to_string()
        .starts_with("loss 9.8% (10 packets total), jitter "));
}
