//! The RTCP side of one RTP stream, sans-IO (RFC 3550 §6): when to send, what to send,
//! and what the peer's reports say. It complements the per-packet pieces (`RtpSender`,
//! `ReceiverStats`) that a media channel already owns and passes in.
//!
//! - Timing (§6.2, §6.3.1): the first report after half the interval, then every
//!   T × U(0.5, 1.5) / (e − 3/2) with T = 5 s, the minimum for a two-party call.
//! - Content (§6.1, §6.4): SR if we sent RTP, else RR; one report block for the source we
//!   receive; SDES CNAME; BYE on request.
//! - Reception: SR timestamps are handed to the receiver statistics (for LSR/DLSR), and
//!   report blocks about our SSRC become loss/jitter/RTT figures.

use std::time::{Duration, Instant, SystemTime};

use super::packet::Ssrc;
use super::rtcp::{
    NtpTime, ReceptionQuality, ReportBlock, RtcpCompound, RtcpError, RtcpPacket, RtcpWriter,
    SdesItem, SenderInfo, SDES_CNAME,
};
use super::sender::{RtpSender, CLOCK_RATE};
use super::stats::ReceiverStats;

/// RFC 3550 §6.2 minimum interval.
pub const RTCP_MIN_INTERVAL: Duration = Duration::from_secs(5);

/// What a received compound RTCP packet told us.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RtcpSummary {
    /// The peer's view of our stream, if the packet carried a block about our SSRC.
    pub our_stream: Option<ReceptionQuality>,
    /// The peer's SSRC from an SR/RR.
    pub peer: Option<Ssrc>,
    /// A BYE was in the packet.
    pub bye: bool,
}

/// RTCP timing and reports for one stream.
#[derive(Debug, Clone)]
pub struct RtcpSession {
    epoch: Instant,
    epoch_ntp: NtpTime,
    cname: String,
    next: Instant,
    rng: u64,
    last_peer_report: Option<ReceptionQuality>,
}

impl RtcpSession {
    /// `now` and `wall` are the same moment on the monotonic and on the wall clock (the
    /// wall clock only feeds NTP timestamps). `cname` per RFC 3550 §6.5.1, e.g.
    /// `gatewayd@192.0.2.1`; at most 255 octets are sent.
    pub fn new(now: Instant, wall: SystemTime, cname: impl Into<String>) -> Self {
        let seed = super::sender::RandomStart::new();
        let mut s = RtcpSession {
            epoch: now,
            epoch_ntp: NtpTime::from_system_time(wall),
            cname: cname.into(),
            next: now,
            rng: ((seed.timestamp as u64) << 32) | seed.ssrc.0 as u64 | 1,
            last_peer_report: None,
        };
        s.next = now + s.interval() / 2;
        s
    }

    /// NTP time of `now`, from the wall-clock reading taken at creation.
    pub fn ntp_at(&self, now: Instant) -> NtpTime {
        let d = now.saturating_duration_since(self.epoch);
        let units = (d.as_nanos() << 32) / 1_000_000_000;
        NtpTime(self.epoch_ntp.0.wrapping_add(units as u64))
    }

    fn random_unit(&mut self) -> f64 {
        // xorshift64
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }

    /// RFC 3550 §6.3.1 randomised interval.
    fn interval(&mut self) -> Duration {
        let factor = (0.5 + self.random_unit()) / (std::f64::consts::E - 1.5);
        RTCP_MIN_INTERVAL.mul_f64(factor)
    }

    /// When the next report is due.
    pub fn poll_timeout(&self) -> Instant {
        self.next
    }

    /// Whether a report is due at `now`.
    pub fn is_due(&self, now: Instant) -> bool {
        now >= self.next
    }

    /// The last figures the peer reported about our stream.
    pub fn last_peer_report(&self) -> Option<ReceptionQuality> {
        self.last_peer_report
    }

    /// Write the compound report due at `now` into `out` and schedule the next one.
    /// `stats` is the receive side of the stream, if anything was received; `bye` adds a
    /// BYE (call end, RFC 3550 §6.6).
    pub fn write_report(
        &mut self,
        now: Instant,
        sender: &RtpSender,
        stats: Option<&mut ReceiverStats>,
        bye: bool,
        out: &mut [u8],
    ) -> Result<usize, RtcpError> {
        self.next = now + self.interval();
        let ssrc = sender.ssrc();
        let block = stats.map(|s| ReportBlock::from_figures(s.ssrc(), &s.report(now)));
        let blocks: &[ReportBlock] = match &block {
            Some(b) => std::slice::from_ref(b),
            None => &[],
        };
        let cname = self.cname.as_bytes();
        let cname = &cname[..cname.len().min(255)];
        let mut w = RtcpWriter::new(out);
        if sender.has_sent() {
            let c = sender.sender_counts(now);
            let info = SenderInfo {
                ntp: self.ntp_at(now),
                rtp_timestamp: c.rtp_timestamp,
                packet_count: c.packet_count,
                octet_count: c.octet_count,
            };
            w.sender_report(ssrc, &info, blocks)?;
        } else {
            w.receiver_report(ssrc, blocks)?;
        }
        w.sdes(
            ssrc,
            &[SdesItem {
                kind: SDES_CNAME,
                text: cname,
            }],
        )?;
        if bye {
            w.bye(&[ssrc], None)?;
        }
        Ok(w.finish())
    }

    /// A compound RTCP packet arrived. `our_ssrc` is the SSRC we send with; `stats` the
    /// receive statistics of the peer's stream (to record its SR for LSR/DLSR).
    pub fn handle_rtcp(
        &mut self,
        now: Instant,
        bytes: &[u8],
        our_ssrc: Ssrc,
        mut stats: Option<&mut ReceiverStats>,
    ) -> Result<RtcpSummary, RtcpError> {
        let arrival = self.ntp_at(now);
        let mut summary = RtcpSummary::default();
        for p in RtcpCompound::new(bytes)? {
            let blocks = match p? {
                RtcpPacket::SenderReport {
                    ssrc,
                    info,
                    reports,
                } => {
                    summary.peer = Some(ssrc);
                    if let Some(s) = stats.as_deref_mut().filter(|s| s.ssrc() == ssrc) {
                        s.handle_sender_report(now, info.ntp.0);
                    }
                    Some(reports)
                }
                RtcpPacket::ReceiverReport { ssrc, reports } => {
                    summary.peer = Some(ssrc);
                    Some(reports)
                }
                RtcpPacket::Goodbye { .. } => {
                    summary.bye = true;
                    None
                }
                _ => None,
            };
            if let Some(b) = blocks.and_then(|r| r.iter().find(|b| b.ssrc == our_ssrc)) {
                let q = b.quality(CLOCK_RATE, Some(arrival));
                summary.our_stream = Some(q);
                self.last_peer_report = Some(q);
            }
        }
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::packet::{PayloadType, SeqNo};
    use crate::rtp::sender::RandomStart;

    fn sender(ssrc: u32) -> RtpSender {
        RtpSender::new(
            PayloadType::PCMA,
            RandomStart {
                ssrc: Ssrc(ssrc),
                sequence: SeqNo(0),
                timestamp: 0,
            },
        )
    }

    #[test]
    fn intervals_follow_rfc3550_bounds() {
        let t0 = Instant::now();
        let mut r = RtcpSession::new(t0, SystemTime::now(), "a@b");
        let first = r.poll_timeout() - t0;
        // Half of 5 s × [0.5, 1.5] / 1.21828.
        assert!(first >= Duration::from_millis(1026) && first <= Duration::from_millis(3079));
        let mut t = t0;
        for _ in 0..200 {
            t = r.poll_timeout();
            let tx = sender(1);
            let mut buf = [0u8; 200];
            r.write_report(t, &tx, None, false, &mut buf).unwrap();
            let gap = r.poll_timeout() - t;
            assert!(gap >= Duration::from_millis(2052) && gap <= Duration::from_millis(6157));
        }
        // Mean gap ≈ 5 s / 1.21828 ≈ 4.1 s.
        let mean = (t - t0).as_secs_f64() / 200.0;
        assert!((mean - 4.1).abs() < 0.3, "{mean}");
    }

    #[test]
    fn two_ends_exchange_reports_and_see_loss_and_rtt() {
        let t0 = Instant::now();
        let wall = SystemTime::now();
        let mut a = RtcpSession::new(t0, wall, "a@gw");
        let mut b = RtcpSession::new(t0, wall, "b@pbx");
        let mut a_tx = sender(0xA);
        let mut a_rx: Option<ReceiverStats> = None;
        let mut b_rx: Option<ReceiverStats> = None;
        let mut pkt = [0u8; 200];
        // A sends 100 packets to B over 2 s; B loses 5.
        for i in 0..100u64 {
            let now = t0 + Duration::from_millis(20 * i);
            let n = a_tx.write_audio(now, &[0xD5; 160], 160, &mut pkt).unwrap();
            if i % 20 == 7 {
                continue;
            }
            let p = crate::rtp::RtpPacket::parse(&pkt[..n]).unwrap();
            b_rx.get_or_insert_with(|| ReceiverStats::new(now, p.ssrc, p.sequence, 8000))
                .handle_packet(now, p.sequence, p.timestamp, true);
        }
        let b_tx = sender(0xB);
        let mut buf = [0u8; 300];
        // A's SR at 2.0 s reaches B 15 ms later; B's RR leaves 100 ms after that and
        // reaches A 15 ms later: RTT 30 ms.
        let t_sr = t0 + Duration::from_millis(2000);
        let n = a
            .write_report(t_sr, &a_tx, a_rx.as_mut(), false, &mut buf)
            .unwrap();
        let s = b
            .handle_rtcp(
                t_sr + Duration::from_millis(15),
                &buf[..n],
                Ssrc(0xB),
                b_rx.as_mut(),
            )
            .unwrap();
        assert_eq!(s.peer, Some(Ssrc(0xA)));
        let t_rr = t_sr + Duration::from_millis(115);
        let n = b
            .write_report(t_rr, &b_tx, b_rx.as_mut(), true, &mut buf)
            .unwrap();
        let s = a
            .handle_rtcp(t_rr + Duration::from_millis(15), &buf[..n], Ssrc(0xA), None)
            .unwrap();
        assert!(s.bye);
        let q = s.our_stream.unwrap();
        assert_eq!(q.cumulative_lost, 5);
        let rtt = q.round_trip.unwrap().as_secs_f64() * 1000.0;
        assert!((rtt - 30.0).abs() < 0.5, "{rtt}");
        assert_eq!(a.last_peer_report(), Some(q));
        // B had sent nothing: its packet was an RR.
        let first = RtcpCompound::new(&buf[..n])
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        assert!(matches!(first, RtcpPacket::ReceiverReport { .. }));
    }
}
