//! RTCP (RFC 3550 §6): Sender Report, Receiver Report, Source Description and BYE,
//! read from and written into compound packets without allocation, and the figures a
//! support engineer reads from a report block (loss, jitter, round-trip time).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use thiserror::Error;

use super::packet::{Ssrc, RTP_VERSION};
use super::stats::ReportFigures;

/// RTCP packet types (RFC 3550 §12.1).
pub const PT_SR: u8 = 200;
pub const PT_RR: u8 = 201;
pub const PT_SDES: u8 = 202;
pub const PT_BYE: u8 = 203;
pub const PT_APP: u8 = 204;

/// SDES item types (RFC 3550 §12.2).
pub const SDES_END: u8 = 0;
pub const SDES_CNAME: u8 = 1;
pub const SDES_NAME: u8 = 2;
pub const SDES_TOOL: u8 = 6;

const REPORT_BLOCK_LEN: usize = 24;

/// A 64-bit NTP timestamp (RFC 3550 §4): seconds since 1900 in the high 32 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct NtpTime(pub u64);

impl NtpTime {
    /// Seconds from 1900-01-01 to 1970-01-01.
    const UNIX_OFFSET: u64 = 2_208_988_800;

    pub fn from_system_time(t: SystemTime) -> Self {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = d.as_secs() + Self::UNIX_OFFSET;
        let frac = ((d.subsec_nanos() as u64) << 32) / 1_000_000_000;
        NtpTime((secs << 32) | frac)
    }

    /// The middle 32 bits (RFC 3550 §6.4.1, LSR; units of 1/65536 s).
    pub fn middle32(self) -> u32 {
        (self.0 >> 16) as u32
    }
}

/// Errors reading or writing RTCP.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RtcpError {
    #[error("octet {offset}: {len} octets left, an RTCP header needs 4")]
    TooShort { offset: usize, len: usize },
    #[error("octet {offset}: version {version}, expected 2")]
    BadVersion { offset: usize, version: u8 },
    #[error("octet {offset}: length field says {words} words, beyond the datagram")]
    BadLength { offset: usize, words: usize },
    #[error("octet {offset}: packet type {pt} too short for its {count} entries")]
    Truncated { offset: usize, pt: u8, count: usize },
    #[error("octet {offset}: padding count {count} invalid")]
    BadPadding { offset: usize, count: usize },
    #[error("compound packet must start with SR or RR (RFC 3550 §6.1), found type {0}")]
    NotReportFirst(u8),
    #[error("buffer too small for the RTCP packet")]
    BufferTooSmall,
    #[error("{0} entries, at most 31 per packet")]
    TooMany(usize),
    #[error("SDES item of {0} octets, at most 255")]
    ItemTooLong(usize),
}

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: Ssrc,
    pub fraction_lost: u8,
    /// 24-bit signed.
    pub cumulative_lost: i32,
    pub extended_highest_seq: u32,
    /// Interarrival jitter, timestamp units.
    pub jitter: u32,
    pub last_sr: u32,
    /// 1/65536 s.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    pub fn from_figures(ssrc: Ssrc, f: &ReportFigures) -> Self {
        ReportBlock {
            ssrc,
            fraction_lost: f.fraction_lost,
            cumulative_lost: f.cumulative_lost,
            extended_highest_seq: f.extended_highest_seq,
            jitter: f.jitter,
            last_sr: f.last_sr,
            delay_since_last_sr: f.delay_since_last_sr,
        }
    }

    fn decode(b: &[u8]) -> Self {
        let w = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let lost24 = w(4) & 0x00FF_FFFF;
        // Sign-extend the 24-bit cumulative loss.
        let cumulative_lost = ((lost24 << 8) as i32) >> 8;
        ReportBlock {
            ssrc: Ssrc(w(0)),
            fraction_lost: b[4],
            cumulative_lost,
            extended_highest_seq: w(8),
            jitter: w(12),
            last_sr: w(16),
            delay_since_last_sr: w(20),
        }
    }

    fn encode(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.ssrc.0.to_be_bytes());
        let lost = (self.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32) & 0x00FF_FFFF;
        out[4..8].copy_from_slice(&(((self.fraction_lost as u32) << 24) | lost).to_be_bytes());
        out[8..12].copy_from_slice(&self.extended_highest_seq.to_be_bytes());
        out[12..16].copy_from_slice(&self.jitter.to_be_bytes());
        out[16..20].copy_from_slice(&self.last_sr.to_be_bytes());
        out[20..24].copy_from_slice(&self.delay_since_last_sr.to_be_bytes());
    }

    /// Round-trip time seen by the sender of the report (RFC 3550 §6.4.1, Figure 2):
    /// arrival − LSR − DLSR, with `arrival` the time this block arrived.
    pub fn round_trip_time(&self, arrival: NtpTime) -> Option<Duration> {
        if self.last_sr == 0 {
            return None;
        }
        let rtt = arrival
            .middle32()
            .wrapping_sub(self.last_sr)
            .wrapping_sub(self.delay_since_last_sr);
        if rtt > 0x8000_0000 {
            return None; // negative: clocks or values inconsistent.
        }
        Some(Duration::from_nanos(rtt as u64 * 1_000_000_000 / 65536))
    }

    /// The figures in human units.
    pub fn quality(&self, clock_rate: u32, arrival: Option<NtpTime>) -> ReceptionQuality {
        ReceptionQuality {
            fraction_lost_percent: self.fraction_lost as f64 * 100.0 / 256.0,
            cumulative_lost: self.cumulative_lost,
            jitter_ms: self.jitter as f64 * 1000.0 / clock_rate.max(1) as f64,
            round_trip: arrival.and_then(|a| self.round_trip_time(a)),
        }
    }
}

/// What a support engineer wants from a report block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReceptionQuality {
    pub fraction_lost_percent: f64,
    pub cumulative_lost: i32,
    pub jitter_ms: f64,
    pub round_trip: Option<Duration>,
}

impl fmt::Display for ReceptionQuality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "loss {:.1}% ({} packets total), jitter {:.1} ms",
            self.fraction_lost_percent, self.cumulative_lost, self.jitter_ms
        )?;
        match self.round_trip {
            Some(r) => write!(f, ", rtt {:.1} ms", r.as_secs_f64() * 1000.0),
            None => write!(f, ", rtt unknown"),
        }
    }
}

/// The sender info of an SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    pub ntp: NtpTime,
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
}

/// Report blocks inside a received SR/RR, decoded lazily.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlocks<'a>(&'a [u8]);

impl<'a> ReportBlocks<'a> {
    pub fn len(&self) -> usize {
        self.0.len() / REPORT_BLOCK_LEN
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = ReportBlock> + 'a {
        self.0
            .chunks_exact(REPORT_BLOCK_LEN)
            .map(ReportBlock::decode)
    }
}

/// One SDES item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesItem<'a> {
    pub kind: u8,
    pub text: &'a [u8],
}

/// One parsed RTCP packet of a compound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    SenderReport {
        ssrc: Ssrc,
        info: SenderInfo,
        reports: ReportBlocks<'a>,
    },
    ReceiverReport {
        ssrc: Ssrc,
        reports: ReportBlocks<'a>,
    },
    /// SDES chunks; iterate with [`sdes_items`].
    SourceDescription { count: u8, body: &'a [u8] },
    Goodbye {
        sources: &'a [u8],
        reason: Option<&'a [u8]>,
    },
    /// APP and any other type, kept raw.
    Other { pt: u8, count: u8, body: &'a [u8] },
}

impl<'a> RtcpPacket<'a> {
    /// SSRCs leaving, for BYE.
    pub fn bye_sources(sources: &'a [u8]) -> impl Iterator<Item = Ssrc> + 'a {
        sources
            .chunks_exact(4)
            .map(|c| Ssrc(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
    }
}

/// Iterate the (SSRC, item) pairs of an SDES body (RFC 3550 §6.5). Stops at the first
/// malformed chunk.
pub fn sdes_items(count: u8, body: &[u8]) -> impl Iterator<Item = (Ssrc, SdesItem<'_>)> + '_ {
    let mut off = 0usize;
    let mut chunks_left = count;
    let mut ssrc: Option<Ssrc> = None;
    std::iter::from_fn(move || loop {
        if ssrc.is_none() {
            if chunks_left == 0 || off + 4 > body.len() {
                return None;
            }
            ssrc = Some(Ssrc(u32::from_be_bytes([
                body[off],
                body[off + 1],
                body[off + 2],
                body[off + 3],
            ])));
            off += 4;
            chunks_left -= 1;
        }
        let kind = *body.get(off)?;
        if kind == SDES_END {
            // End of the chunk's items: skip to the next 32-bit boundary.
            off = (off + 4) & !3;
            ssrc = None;
            continue;
        }
        let len = *body.get(off + 1)? as usize;
        let text = body.get(off + 2..off + 2 + len)?;
        off += 2 + len;
        return Some((ssrc.unwrap_or(Ssrc(0)), SdesItem { kind, text }));
    })
}

/// Iterator over the packets of a compound RTCP datagram (RFC 3550 §6.1).
#[derive(Debug, Clone)]
pub struct RtcpCompound<'a> {
    buf: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> RtcpCompound<'a> {
    /// Start reading; checks the first packet is SR or RR (RFC 3550 §6.1).
    pub fn new(buf: &'a [u8]) -> Result<Self, RtcpError> {
        if buf.len() < 4 {
            return Err(RtcpError::TooShort {
                offset: 0,
                len: buf.len(),
            });
        }
        if buf[1] != PT_SR && buf[1] != PT_RR {
            return Err(RtcpError::NotReportFirst(buf[1]));
        }
        Ok(RtcpCompound {
            buf,
            offset: 0,
            failed: false,
        })
    }

    /// Read packets without the SR/RR-first rule (some peers send a lone BYE).
    pub fn lenient(buf: &'a [u8]) -> Self {
        RtcpCompound {
            buf,
            offset: 0,
            failed: false,
        }
    }

    fn parse_one(&mut self) -> Result<RtcpPacket<'a>, RtcpError> {
        let offset = self.offset;
        let rest = &self.buf[offset..];
        if rest.len() < 4 {
            return Err(RtcpError::TooShort {
                offset,
                len: rest.len(),
            });
        }
        let version = rest[0] >> 6;
        if version != RTP_VERSION {
            return Err(RtcpError::BadVersion { offset, version });
        }
        let padding = rest[0] & 0x20 != 0;
        let count = rest[0] & 0x1F;
        let pt = rest[1];
        let words = u16::from_be_bytes([rest[2], rest[3]]) as usize;
        let total = (words + 1) * 4;
        if total > rest.len() {
            return Err(RtcpError::BadLength { offset, words });
        }
        self.offset += total;
        let mut body = &rest[4..total];
        if padding {
            let pad = *body.last().unwrap_or(&0) as usize;
            if pad == 0 || pad > body.len() {
                return Err(RtcpError::BadPadding { offset, count: pad });
            }
            body = &body[..body.len() - pad];
        }
        let truncated = RtcpError::Truncated {
            offset,
            pt,
            count: count as usize,
        };
        let word = |b: &[u8], i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Ok(match pt {
            PT_SR => {
                let need = 24 + REPORT_BLOCK_LEN * count as usize;
                if body.len() < need {
                    return Err(truncated);
                }
                RtcpPacket::SenderReport {
                    ssrc: Ssrc(word(body, 0)),
                    info: SenderInfo {
                        ntp: NtpTime(((word(body, 4) as u64) << 32) | word(body, 8) as u64),
                        rtp_timestamp: word(body, 12),
                        packet_count: word(body, 16),
                        octet_count: word(body, 20),
                    },
                    reports: ReportBlocks(&body[24..need]),
                }
            }
            PT_RR => {
                let need = 4 + REPORT_BLOCK_LEN * count as usize;
                if body.len() < need {
                    return Err(truncated);
                }
                RtcpPacket::ReceiverReport {
                    ssrc: Ssrc(word(body, 0)),
                    reports: ReportBlocks(&body[4..need]),
                }
            }
            PT_SDES => RtcpPacket::SourceDescription { count, body },
            PT_BYE => {
                let n = 4 * count as usize;
                if body.len() < n {
                    return Err(truncated);
                }
                let reason = match body.get(n) {
                    Some(&len) => body.get(n + 1..n + 1 + len as usize),
                    None => None,
                };
                RtcpPacket::Goodbye {
                    sources: &body[..n],
                    reason,
                }
            }
            _ => RtcpPacket::Other { pt, count, body },
        })
    }
}

impl<'a> Iterator for RtcpCompound<'a> {
    type Item = Result<RtcpPacket<'a>, RtcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.offset >= self.buf.len() {
            return None;
        }
        let r = self.parse_one();
        if r.is_err() {
            self.failed = true;
        }
        Some(r)
    }
}

/// Writes a compound RTCP packet into a caller buffer.
#[derive(Debug)]
pub struct RtcpWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> RtcpWriter<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        RtcpWriter { buf, len: 0 }
    }

    fn reserve(&mut self, n: usize) -> Result<&mut [u8], RtcpError> {
        // The length field counts 32-bit words minus one in 16 bits (RFC 3550 §6.4.1).
        if n > 4 * (u16::MAX as usize + 1) || self.len + n > self.buf.len() {
            return Err(RtcpError::BufferTooSmall);
        }
        let s = &mut self.buf[self.len..self.len + n];
        self.len += n;
        Ok(s)
    }

    fn header(out: &mut [u8], count: u8, pt: u8, total: usize) {
        out[0] = (RTP_VERSION << 6) | count;
        out[1] = pt;
        out[2..4].copy_from_slice(&((total / 4 - 1) as u16).to_be_bytes());
    }

    /// Append a Sender Report (RFC 3550 §6.4.1).
    pub fn sender_report(
        &mut self,
        ssrc: Ssrc,
        info: &SenderInfo,
        reports: &[ReportBlock],
    ) -> Result<&mut Self, RtcpError> {
        if reports.len() > 31 {
            return Err(RtcpError::TooMany(reports.len()));
        }
        let total = 28 + REPORT_BLOCK_LEN * reports.len();
        let out = self.reserve(total)?;
        Self::header(out, reports.len() as u8, PT_SR, total);
        out[4..8].copy_from_slice(&ssrc.0.to_be_bytes());
        out[8..16].copy_from_slice(&info.ntp.0.to_be_bytes());
        out[16..20].copy_from_slice(&info.rtp_timestamp.to_be_bytes());
        out[20..24].copy_from_slice(&info.packet_count.to_be_bytes());
        out[24..28].copy_from_slice(&info.octet_count.to_be_bytes());
        for (i, r) in reports.iter().enumerate() {
            r.encode(&mut out[28 + i * REPORT_BLOCK_LEN..]);
        }
        Ok(self)
    }

    /// Append a Receiver Report (RFC 3550 §6.4.2).
    pub fn receiver_report(
        &mut self,
        ssrc: Ssrc,
        reports: &[ReportBlock],
    ) -> Result<&mut Self, RtcpError> {
        if reports.len() > 31 {
            return Err(RtcpError::TooMany(reports.len()));
        }
        let total = 8 + REPORT_BLOCK_LEN * reports.len();
        let out = self.reserve(total)?;
        Self::header(out, reports.len() as u8, PT_RR, total);
        out[4..8].copy_from_slice(&ssrc.0.to_be_bytes());
        for (i, r) in reports.iter().enumerate() {
            r.encode(&mut out[8 + i * REPORT_BLOCK_LEN..]);
        }
        Ok(self)
    }

    /// Append an SDES packet with one chunk carrying `items` (RFC 3550 §6.5); CNAME is
    /// required in every compound (§6.1).
    pub fn sdes(&mut self, ssrc: Ssrc, items: &[SdesItem<'_>]) -> Result<&mut Self, RtcpError> {
        let mut items_len = 0;
        for i in items {
            if i.text.len() > 255 {
                return Err(RtcpError::ItemTooLong(i.text.len()));
            }
            items_len += 2 + i.text.len();
        }
        // SSRC + items + at least one null octet, padded to 32 bits.
        let chunk = (4 + items_len + 1 + 3) & !3;
        let total = 4 + chunk;
        let out = self.reserve(total)?;
        Self::header(out, 1, PT_SDES, total);
        out[4..8].copy_from_slice(&ssrc.0.to_be_bytes());
        let mut o = 8;
        for i in items {
            out[o] = i.kind;
            out[o + 1] = i.text.len() as u8;
            out[o + 2..o + 2 + i.text.len()].copy_from_slice(i.text);
            o += 2 + i.text.len();
        }
        out[o..total].fill(0);
        Ok(self)
    }

    /// Append a BYE (RFC 3550 §6.6).
    pub fn bye(&mut self, sources: &[Ssrc], reason: Option<&[u8]>) -> Result<&mut Self, RtcpError> {
        if sources.len() > 31 {
            return Err(RtcpError::TooMany(sources.len()));
        }
        if let Some(r) = reason {
            if r.len() > 255 {
                return Err(RtcpError::ItemTooLong(r.len()));
            }
        }
        let reason_len = reason.map(|r| 1 + r.len()).unwrap_or(0);
        let total = (4 + 4 * sources.len() + reason_len + 3) & !3;
        let out = self.reserve(total)?;
        Self::header(out, sources.len() as u8, PT_BYE, total);
        let mut o = 4;
        for s in sources {
            out[o..o + 4].copy_from_slice(&s.0.to_be_bytes());
            o += 4;
        }
        if let Some(r) = reason {
            out[o] = r.len() as u8;
            out[o + 1..o + 1 + r.len()].copy_from_slice(r);
            o += 1 + r.len();
        }
        out[o..total].fill(0);
        Ok(self)
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Finish; returns the compound length.
    pub fn finish(self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_conversion() {
        let t = UNIX_EPOCH + Duration::from_millis(1500);
        let n = NtpTime::from_system_time(t);
        assert_eq!(n.0 >> 32, 2_208_988_801);
        assert_eq!(n.0 & 0xFFFF_FFFF, 0x8000_0000);
        assert_eq!(n.middle32(), ((2_208_988_801u64 << 16) as u32) | 0x8000);
    }

    #[test]
    fn rtt_from_lsr_dlsr_rfc3550_figure_2() {
        // RFC 3550 §6.4.1 Figure 2: A = 0xb710:8000 (46864.500 s), LSR = 0xb705:2000
        // (46853.125 s), DLSR = 0x0005:4000 (5.250 s) → RTT 6.125 s.
        let b = ReportBlock {
            ssrc: Ssrc(1),
            fraction_lost: 0,
            cumulative_lost: 0,
            extended_highest_seq: 0,
            jitter: 0,
            last_sr: 0xb705_2000,
            delay_since_last_sr: 0x0005_4000,
        };
        let arrival = NtpTime(0xb710_8000u64 << 16);
        assert_eq!(
            b.round_trip_time(arrival),
            Some(Duration::from_millis(6125))
        );
    }

    #[test]
    fn negative_cumulative_loss_round_trips() {
        let b = ReportBlock {
            ssrc: Ssrc(7),
            fraction_lost: 12,
            cumulative_lost: -3,
            extended_highest_seq: 70000,
            jitter: 40,
            last_sr: 0,
            delay_since_last_sr: 0,
        };
        let mut buf = [0u8; 64];
        let mut w = RtcpWriter::new(&mut buf);
        w.receiver_report(Ssrc(9), &[b]).unwrap();
        let n = w.finish();
        let mut c = RtcpCompound::new(&buf[..n]).unwrap();
        match c.next().unwrap().unwrap() {
            RtcpPacket::ReceiverReport { ssrc, reports } => {
                assert_eq!(ssrc, Ssrc(9));
                assert_eq!(reports.iter().next(), Some(b));
            }
            p => panic!("{p:?}"),
        }
        let q = b.quality(8000, None);
        assert_eq!(q.jitter_ms, 5.0);
        assert!((q.fraction_lost_percent - 4.6875).abs() < 1e-9);
        assert_eq!(
            q.to_string(),
            "loss 4.7% (-3 packets total), jitter 5.0 ms, rtt unknown"
        );
    }

    #[test]
    fn writer_refuses_what_does_not_fit() {
        let mut small = [0u8; 20];
        let mut w = RtcpWriter::new(&mut small);
        assert!(w.receiver_report(Ssrc(1), &[]).is_ok());
        let item = SdesItem {
            kind: SDES_CNAME,
            text: &[b'x'; 200],
        };
        assert_eq!(
            w.sdes(Ssrc(1), &[item]).unwrap_err(),
            RtcpError::BufferTooSmall
        );
        assert_eq!(w.len(), 8);
        let many = vec![item; 1400];
        let mut big = vec![0u8; 400_000];
        let mut w = RtcpWriter::new(&mut big);
        assert_eq!(
            w.sdes(Ssrc(1), &many).unwrap_err(),
            RtcpError::BufferTooSmall
        );
        let bye: Vec<Ssrc> = (0..32).map(Ssrc).collect();
        assert_eq!(w.bye(&bye, None).unwrap_err(), RtcpError::TooMany(32));
        assert!(w.is_empty());
    }
}
