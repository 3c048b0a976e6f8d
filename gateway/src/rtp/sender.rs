//! The sending half of an RTP session (RFC 3550 §5.1, §6.4.1 sender info), sans-IO.
//!
//! The media thread hands over G.711 frames as the TDM clock produces them; the
//! sender stamps them with its SSRC, sequence number and a timestamp that advances by
//! the number of samples (8 kHz clock for G.711, RFC 3551 §4.5.14), sets the marker on
//! the first packet of a talkspurt (RFC 3551 §4.1) and writes the packet into a caller
//! buffer. Telephone events (RFC 4733) share the sequence space through
//! [`RtpSender::write_other`].

use std::time::Instant;

use super::packet::{PayloadType, RtpError, RtpHeader, SeqNo, Ssrc};

/// RTP timestamp units per second for G.711 and telephone-event (RFC 3551 §4.5.14).
pub const CLOCK_RATE: u32 = 8000;

/// Random values for a new source: RFC 3550 §5.1 wants the initial sequence number and
/// timestamp, and §8 the SSRC, to be random.
#[derive(Debug, Clone, Copy)]
pub struct RandomStart {
    pub ssrc: Ssrc,
    pub sequence: SeqNo,
    pub timestamp: u32,
}

impl RandomStart {
    /// Draw from the operating system's random source. Falls back to a hash of the
    /// current time and a per-process random key if that source fails.
    ///
    /// The bytes come from a per-thread buffer that one `getrandom` call fills for
    /// [`STARTS_PER_FILL`] sources: every call sets up an RTP source, and a system call
    /// per source was one of the media thread's per-call costs. The values are as random
    /// as before (the same source, read in larger pieces), and no two threads share them.
    pub fn new() -> Self {
        let mut b = [0u8; START_BYTES];
        if !take_random(&mut b) {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0),
            );
            let x = h.finish().to_le_bytes();
            b[..8].copy_from_slice(&x);
            b[8] = x[3] ^ x[6];
            b[9] = x[1] ^ x[7];
        }
        RandomStart {
            ssrc: Ssrc(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            sequence: SeqNo(u16::from_le_bytes([b[4], b[5]])),
            timestamp: u32::from_le_bytes([b[6], b[7], b[8], b[9]]),
        }
    }
}

/// Random bytes per source: SSRC (4), sequence number (2), timestamp (4).
const START_BYTES: usize = 10;

/// Sources drawn from one fill of the per-thread random buffer.
pub const STARTS_PER_FILL: usize = 256;

thread_local! {
    /// Unused random bytes of this thread (`.1` of them are taken); each is handed out
    /// once and zeroed.
    static RANDOM: std::cell::RefCell<([u8; START_BYTES * STARTS_PER_FILL], usize)> =
        const { std::cell::RefCell::new(([0; START_BYTES * STARTS_PER_FILL], START_BYTES * STARTS_PER_FILL)) };
}

/// Fill `out` with bytes from the operating system's random source, through this
/// thread's buffer; false if the source failed.
fn take_random(out: &mut [u8; START_BYTES]) -> bool {
    RANDOM.with(|r| {
        let mut r = r.borrow_mut();
        let (buf, used) = &mut *r;
        if *used + START_BYTES > buf.len() {
            if getrandom::fill(buf).is_err() {
                return false;
            }
            *used = 0;
        }
        let piece = &mut buf[*used..*used + START_BYTES];
        out.copy_from_slice(piece);
        piece.fill(0);
        *used += START_BYTES;
        true
    })
}

impl Default for RandomStart {
    fn default() -> Self {
        Self::new()
    }
}

/// The sender info block of a Sender Report (RFC 3550 §6.4.1): what this source has sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderCounts {
    /// RTP timestamp corresponding to "now".
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
}

/// The sending half of an RTP session.
#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: Ssrc,
    payload_type: PayloadType,
    sequence: SeqNo,
    next_timestamp: u32,
    in_talkspurt: bool,
    packet_count: u32,
    octet_count: u32,
    /// Instant and RTP timestamp of the last audio packet, to extrapolate for SRs.
    last_audio: Option<(Instant, u32)>,
}

impl RtpSender {
    /// A sender with explicit starting values (tests and replays).
    pub fn new(payload_type: PayloadType, start: RandomStart) -> Self {
        RtpSender {
            ssrc: start.ssrc,
            payload_type,
            sequence: start.sequence,
            next_timestamp: start.timestamp,
            in_talkspurt: false,
            packet_count: 0,
            octet_count: 0,
            last_audio: None,
        }
    }

    /// A sender with random SSRC, sequence number and timestamp.
    pub fn new_random(payload_type: PayloadType) -> Self {
        Self::new(payload_type, RandomStart::new())
    }

    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    pub fn payload_type(&self) -> PayloadType {
        self.payload_type
    }

    /// Change the audio payload type (after a re-negotiation).
    pub fn set_payload_type(&mut self, pt: PayloadType) {
        self.payload_type = pt;
    }

    /// The timestamp the next audio packet will carry.
    pub fn next_timestamp(&self) -> u32 {
        self.next_timestamp
    }

    /// The sequence number the next packet will carry.
    pub fn next_sequence(&self) -> SeqNo {
        self.sequence
    }

    /// Write one audio packet of `samples` samples (for G.711, `payload.len()`) into
    /// `out`; returns its length. The first packet after [`RtpSender::pause`] or at the
    /// start carries the marker bit (RFC 3551 §4.1).
    pub fn write_audio(
        &mut self,
        now: Instant,
        payload: &[u8],
        samples: u32,
        out: &mut [u8],
    ) -> Result<usize, RtpError> {
        let mut h = RtpHeader::new(
            self.payload_type,
            self.sequence,
            self.next_timestamp,
            self.ssrc,
        );
        h.marker = !self.in_talkspurt;
        let n = h.write(payload, 0, out)?;
        self.in_talkspurt = true;
        self.last_audio = Some((now, self.next_timestamp));
        self.next_timestamp = self.next_timestamp.wrapping_add(samples);
        self.advance(payload.len());
        Ok(n)
    }

    /// Nothing is sent for `samples` samples (silence suppression or a gap): the
    /// timestamp moves on and the next audio packet starts a talkspurt.
    pub fn pause(&mut self, samples: u32) {
        self.next_timestamp = self.next_timestamp.wrapping_add(samples);
        self.in_talkspurt = false;
    }

    /// Write a non-audio packet (e.g. an RFC 4733 event) in this source's sequence space
    /// with the given payload type, marker and timestamp.
    pub fn write_other(
        &mut self,
        payload_type: PayloadType,
        marker: bool,
        timestamp: u32,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, RtpError> {
        let mut h = RtpHeader::new(payload_type, self.sequence, timestamp, self.ssrc);
        h.marker = marker;
        let n = h.write(payload, 0, out)?;
        self.advance(payload.len());
        Ok(n)
    }

    fn advance(&mut self, payload_len: usize) {
        self.sequence = self.sequence.next();
        self.packet_count = self.packet_count.wrapping_add(1);
        self.octet_count = self.octet_count.wrapping_add(payload_len as u32);
    }

    /// Counts for a Sender Report at `now` (RFC 3550 §6.4.1): the RTP timestamp is
    /// extrapolated from the last audio packet at the 8 kHz clock.
    pub fn sender_counts(&self, now: Instant) -> SenderCounts {
        let rtp_timestamp = match self.last_audio {
            Some((t, ts)) => {
                let elapsed = now.saturating_duration_since(t);
                let units = (elapsed.as_nanos() * CLOCK_RATE as u128 / 1_000_000_000) as u32;
                ts.wrapping_add(units)
            }
            None => self.next_timestamp,
        };
        SenderCounts {
            rtp_timestamp,
            packet_count: self.packet_count,
            octet_count: self.octet_count,
        }
    }

    /// Whether anything was sent (RFC 3550 §6.4: send SR rather than RR).
    pub fn has_sent(&self) -> bool {
        self.packet_count > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::packet::RtpPacket;
    use std::time::Duration;

    #[test]
    fn twenty_ms_packets_advance_by_160_with_marker_on_talkspurts() {
        let start = RandomStart {
            ssrc: Ssrc(0x1122_3344),
            sequence: SeqNo(65534),
            timestamp: u32::MAX - 100,
        };
        let mut s = RtpSender::new(PayloadType::PCMA, start);
        let t0 = Instant::now();
        let mut buf = [0u8; 200];
        let mut seen = vec![];
        for i in 0..3 {
            let n = s
                .write_audio(
                    t0 + Duration::from_millis(20 * i),
                    &[0xD5; 160],
                    160,
                    &mut buf,
                )
                .unwrap();
            assert_eq!(n, 172);
            let p = RtpPacket::parse(&buf[..n]).unwrap();
            seen.push((p.sequence.0, p.timestamp, p.marker));
        }
        s.pause(320);
        let n = s.write_audio(t0, &[0xD5; 160], 160, &mut buf).unwrap();
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        seen.push((p.sequence.0, p.timestamp, p.marker));
        assert_eq!(
            seen,
            vec![
                (65534, u32::MAX - 100, true),
                (65535, 59, false),
                (0, 219, false),
                (1, 219 + 160 + 320, true),
            ]
        );
        assert_eq!(s.sender_counts(t0).packet_count, 4);
        assert_eq!(s.sender_counts(t0).octet_count, 640);
    }

    #[test]
    fn sender_report_timestamp_is_extrapolated() {
        let mut s = RtpSender::new(
            PayloadType::PCMU,
            RandomStart {
                ssrc: Ssrc(1),
                sequence: SeqNo(0),
                timestamp: 1000,
            },
        );
        let t0 = Instant::now();
        let mut buf = [0u8; 200];
        s.write_audio(t0, &[0xFF; 160], 160, &mut buf).unwrap();
        let c = s.sender_counts(t0 + Duration::from_millis(50));
        assert_eq!(c.rtp_timestamp, 1000 + 400);
    }

    #[test]
    fn random_starts_differ() {
        let a = RandomStart::new();
        let b = RandomStart::new();
        assert!(a.ssrc != b.ssrc || a.timestamp != b.timestamp);
    }

    #[test]
    fn random_starts_stay_distinct_across_refills_of_the_buffer() {
        // Two and a bit fills: a refill must not repeat the buffer or hand out the
        // zeroed bytes of used starts.
        let n = 2 * STARTS_PER_FILL + 3;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..n {
            let s = RandomStart::new();
            assert!(seen.insert((s.ssrc.0, s.sequence.0, s.timestamp)));
        }
        assert_eq!(seen.len(), n);
        assert!(!seen.contains(&(0, 0, 0)));
    }
}
