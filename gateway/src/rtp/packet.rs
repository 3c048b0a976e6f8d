//! RTP data packets (RFC 3550 §5.1): parse from and write into caller buffers, no
//! allocation per packet.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! |                           timestamp                           |
//! |           synchronization source (SSRC) identifier            |
//! |            contributing source (CSRC) identifiers             |
//! +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//! ```

use thiserror::Error;

/// RTP version carried in every packet (RFC 3550 §5.1, V).
pub const RTP_VERSION: u8 = 2;
/// Length of the fixed header (RFC 3550 §5.1).
pub const HEADER_LEN: usize = 12;

/// Synchronization source identifier (RFC 3550 §5.1, §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ssrc(pub u32);

/// RTP payload type, 7 bits (RFC 3550 §5.1, PT; RFC 3551 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PayloadType(u8);

impl PayloadType {
    /// PCMU, G.711 µ-law (RFC 3551 Table 4).
    pub const PCMU: PayloadType = PayloadType(0);
    /// PCMA, G.711 A-law (RFC 3551 Table 4).
    pub const PCMA: PayloadType = PayloadType(8);
    /// Comfort noise (RFC 3389).
    pub const CN: PayloadType = PayloadType(13);

    /// The static payload type of G.711 in `law` (RFC 3551 Table 4: PCMU 0, PCMA 8).
    pub const fn g711(law: crate::media::Law) -> Self {
        PayloadType(law.rtp_payload_type())
    }

    /// A payload type; `None` above 127.
    pub const fn new(pt: u8) -> Option<Self> {
        if pt < 128 {
            Some(PayloadType(pt))
        } else {
            None
        }
    }

    /// The 7-bit value.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// Dynamic range 96..=127 (RFC 3551 §3).
    pub const fn is_dynamic(self) -> bool {
        self.0 >= 96
    }
}

/// RTP sequence number (RFC 3550 §5.1), compared modulo 2^16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeqNo(pub u16);

impl SeqNo {
    /// The next sequence number, wrapping.
    pub const fn next(self) -> SeqNo {
        SeqNo(self.0.wrapping_add(1))
    }

    /// Signed distance `self - other` in the 16-bit circle.
    pub const fn diff(self, other: SeqNo) -> i16 {
        self.0.wrapping_sub(other.0) as i16
    }
}

/// Errors while reading or writing an RTP packet.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RtpError {
    #[error("packet of {0} octets is shorter than the 12-octet RTP header")]
    TooShort(usize),
    #[error("octet 0: version {0}, expected 2")]
    BadVersion(u8),
    #[error("octet 0: CC={count} CSRC entries overrun a packet of {len} octets")]
    CsrcOverrun { count: usize, len: usize },
    #[error("octet {offset}: header extension overruns the packet")]
    ExtensionOverrun { offset: usize },
    #[error("last octet: padding count {count} exceeds the {available} octets after the header")]
    BadPadding { count: usize, available: usize },
    #[error("buffer of {have} octets, {need} needed")]
    BufferTooSmall { need: usize, have: usize },
    #[error("{0} CSRC identifiers, at most 15")]
    TooManyCsrc(usize),
    #[error("header extension of {0} octets is not a multiple of 4")]
    ExtensionNotAligned(usize),
}

/// A header extension (RFC 3550 §5.3.1): a 16-bit profile-defined value and the data,
/// a multiple of 4 octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderExtension<'a> {
    pub profile: u16,
    pub data: &'a [u8],
}

/// A parsed RTP packet borrowing the received buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    pub marker: bool,
    pub payload_type: PayloadType,
    pub sequence: SeqNo,
    pub timestamp: u32,
    pub ssrc: Ssrc,
    csrc: &'a [u8],
    pub extension: Option<HeaderExtension<'a>>,
    pub payload: &'a [u8],
    /// Padding octets at the end (including the count octet), 0 if P was clear.
    pub padding: u8,
}

impl<'a> RtpPacket<'a> {
    /// Parse a packet (RFC 3550 §5.1, §5.3.1). Never panics.
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        if buf.len() < HEADER_LEN {
            return Err(RtpError::TooShort(buf.len()));
        }
        let version = buf[0] >> 6;
        if version != RTP_VERSION {
            return Err(RtpError::BadVersion(version));
        }
        let has_padding = buf[0] & 0x20 != 0;
        let has_extension = buf[0] & 0x10 != 0;
        let cc = (buf[0] & 0x0F) as usize;
        let mut offset = HEADER_LEN + 4 * cc;
        if offset > buf.len() {
            return Err(RtpError::CsrcOverrun {
                count: cc,
                len: buf.len(),
            });
        }
        let csrc = &buf[HEADER_LEN..offset];
        let extension = if has_extension {
            if offset + 4 > buf.len() {
                return Err(RtpError::ExtensionOverrun { offset });
            }
            let profile = u16::from_be_bytes([buf[offset], buf[offset + 1]]);
            let words = u16::from_be_bytes([buf[offset + 2], buf[offset + 3]]) as usize;
            let start = offset + 4;
            let end = start + 4 * words;
            if end > buf.len() {
                return Err(RtpError::ExtensionOverrun { offset });
            }
            offset = end;
            Some(HeaderExtension {
                profile,
                data: &buf[start..end],
            })
        } else {
            None
        };
        let mut end = buf.len();
        let mut padding = 0u8;
        if has_padding {
            // RFC 3550 §5.1, P: the last octet counts the padding, itself included.
            let count = buf[buf.len() - 1] as usize;
            let available = buf.len() - offset;
            if count == 0 || count > available {
                return Err(RtpError::BadPadding { count, available });
            }
            end -= count;
            padding = count as u8;
        }
        Ok(RtpPacket {
            marker: buf[1] & 0x80 != 0,
            payload_type: PayloadType(buf[1] & 0x7F),
            sequence: SeqNo(u16::from_be_bytes([buf[2], buf[3]])),
            timestamp: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
            ssrc: Ssrc(u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]])),
            csrc,
            extension,
            payload: &buf[offset..end],
            padding,
        })
    }

    /// The contributing sources (RFC 3550 §5.1, CSRC list).
    pub fn csrcs(&self) -> impl Iterator<Item = Ssrc> + 'a {
        self.csrc
            .chunks_exact(4)
            .map(|c| Ssrc(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
    }

    /// Number of CSRC entries.
    pub fn csrc_count(&self) -> usize {
        self.csrc.len() / 4
    }
}

/// The fields of a packet to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader<'a> {
    pub marker: bool,
    pub payload_type: PayloadType,
    pub sequence: SeqNo,
    pub timestamp: u32,
    pub ssrc: Ssrc,
    pub csrc: &'a [Ssrc],
    pub extension: Option<HeaderExtension<'a>>,
}

impl<'a> RtpHeader<'a> {
    /// A header with no CSRC and no extension.
    pub fn new(payload_type: PayloadType, sequence: SeqNo, timestamp: u32, ssrc: Ssrc) -> Self {
        RtpHeader {
            marker: false,
            payload_type,
            sequence,
            timestamp,
            ssrc,
            csrc: &[],
            extension: None,
        }
    }

    /// Octets of header this writes.
    pub fn len(&self) -> usize {
        HEADER_LEN + 4 * self.csrc.len() + self.extension.map(|e| 4 + e.data.len()).unwrap_or(0)
    }

    /// Always false: a header has at least 12 octets.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Write header, `payload` and `padding` octets of padding (0 for none; otherwise the
    /// count includes the final count octet, RFC 3550 §5.1) into `out`. Returns the
    /// packet length.
    pub fn write(&self, payload: &[u8], padding: u8, out: &mut [u8]) -> Result<usize, RtpError> {
        if self.csrc.len() > 15 {
            return Err(RtpError::TooManyCsrc(self.csrc.len()));
        }
        if let Some(e) = self.extension {
            if e.data.len() % 4 != 0 || e.data.len() / 4 > u16::MAX as usize {
                return Err(RtpError::ExtensionNotAligned(e.data.len()));
            }
        }
        let hlen = self.len();
        let need = hlen + payload.len() + padding as usize;
        if out.len() < need {
            return Err(RtpError::BufferTooSmall {
                need,
                have: out.len(),
            });
        }
        out[0] = (RTP_VERSION << 6)
            | if padding > 0 { 0x20 } else { 0 }
            | if self.extension.is_some() { 0x10 } else { 0 }
            | self.csrc.len() as u8;
        out[1] = if self.marker { 0x80 } else { 0 } | self.payload_type.0;
        out[2..4].copy_from_slice(&self.sequence.0.to_be_bytes());
        out[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.ssrc.0.to_be_bytes());
        let mut o = HEADER_LEN;
        for c in self.csrc {
            out[o..o + 4].copy_from_slice(&c.0.to_be_bytes());
            o += 4;
        }
        if let Some(e) = self.extension {
            out[o..o + 2].copy_from_slice(&e.profile.to_be_bytes());
            out[o + 2..o + 4].copy_from_slice(&((e.data.len() / 4) as u16).to_be_bytes());
            out[o + 4..o + 4 + e.data.len()].copy_from_slice(e.data);
            o += 4 + e.data.len();
        }
        out[o..o + payload.len()].copy_from_slice(payload);
        o += payload.len();
        if padding > 0 {
            out[o..o + padding as usize - 1].fill(0);
            o += padding as usize;
            out[o - 1] = padding;
        }
        Ok(o)
    }
}

/// Whether a datagram on a multiplexed RTP/RTCP port is RTCP (RFC 5761 §4: the second
/// octet, as RTCP packet type, falls in 192..=223, i.e. RTP PT 64..=95 with marker set).
pub fn is_rtcp(buf: &[u8]) -> bool {
    buf.len() >= 2 && buf[0] >> 6 == RTP_VERSION && (192..=223).contains(&buf[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g711_payload_types_are_the_static_ones() {
        use crate::media::Law;
        assert_eq!(PayloadType::g711(Law::ALaw), PayloadType::PCMA);
        assert_eq!(PayloadType::g711(Law::MuLaw), PayloadType::PCMU);
    }

    #[test]
    fn round_trip_with_everything() {
        let csrc = [Ssrc(1), Ssrc(0xDEADBEEF)];
        let ext = [1u8, 2, 3, 4, 5, 6, 7, 8];
        let mut h = RtpHeader::new(PayloadType::PCMA, SeqNo(65535), 0xFFFF_FF00, Ssrc(42));
        h.marker = true;
        h.csrc = &csrc;
        h.extension = Some(HeaderExtension {
            profile: 0xBEDE,
            data: &ext,
        });
        let mut buf = [0u8; 256];
        let n = h.write(&[0xD5; 160], 4, &mut buf).unwrap();
        assert_eq!(n, 12 + 8 + 12 + 160 + 4);
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        assert!(p.marker);
        assert_eq!(p.payload_type, PayloadType::PCMA);
        assert_eq!(p.sequence, SeqNo(65535));
        assert_eq!(p.timestamp, 0xFFFF_FF00);
        assert_eq!(p.ssrc, Ssrc(42));
        assert_eq!(p.csrcs().collect::<Vec<_>>(), csrc);
        assert_eq!(p.extension.unwrap().data, &ext);
        assert_eq!(p.payload.len(), 160);
        assert_eq!(p.padding, 4);
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(RtpPacket::parse(&[0x80; 11]), Err(RtpError::TooShort(11)));
        let mut b = [0u8; 12];
        b[0] = 0x40;
        assert_eq!(RtpPacket::parse(&b), Err(RtpError::BadVersion(1)));
        b[0] = 0x81;
        assert!(matches!(
            RtpPacket::parse(&b),
            Err(RtpError::CsrcOverrun { .. })
        ));
        b[0] = 0x90;
        assert!(matches!(
            RtpPacket::parse(&b),
            Err(RtpError::ExtensionOverrun { .. })
        ));
        let mut p = [0u8; 14];
        p[0] = 0xA0;
        p[13] = 3;
        assert!(matches!(
            RtpPacket::parse(&p),
            Err(RtpError::BadPadding { .. })
        ));
        p[13] = 0;
        assert!(matches!(
            RtpPacket::parse(&p),
            Err(RtpError::BadPadding { .. })
        ));
        let mut small = [0u8; 20];
        let h = RtpHeader::new(PayloadType::PCMU, SeqNo(1), 0, Ssrc(1));
        assert!(matches!(
            h.write(&[0; 160], 0, &mut small),
            Err(RtpError::BufferTooSmall { .. })
        ));
    }

    #[test]
    fn parse_never_panics_on_short_prefixes() {
        let mut h = RtpHeader::new(PayloadType::PCMU, SeqNo(1), 0, Ssrc(1));
        let ext = [0u8; 4];
        h.extension = Some(HeaderExtension {
            profile: 1,
            data: &ext,
        });
        let mut buf = [0u8; 64];
        let n = h.write(&[1, 2, 3], 2, &mut buf).unwrap();
        for i in 0..=n {
            let _ = RtpPacket::parse(&buf[..i]);
        }
        for b in 0..=255u8 {
            let mut x = buf;
            x[0] = b;
            let _ = RtpPacket::parse(&x[..n]);
        }
    }

    #[test]
    fn rtcp_demux() {
        assert!(is_rtcp(&[0x81, 200, 0, 6]));
        assert!(is_rtcp(&[0x81, 203, 0, 1]));
        assert!(!is_rtcp(&[0x80, 0x08, 0, 1]));
        assert!(!is_rtcp(&[0x80, 0x88]));
    }
}
