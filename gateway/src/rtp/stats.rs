//! Receiver statistics of one source (RFC 3550 §6.4.1, appendix A.1, A.3, A.8):
//! sequence validation with probation, extended highest sequence number, cumulative and
//! fractional loss, interarrival jitter, and the LSR/DLSR needed for round-trip time.

use std::time::{Duration, Instant};

use super::packet::{SeqNo, Ssrc};

const RTP_SEQ_MOD: u32 = 1 << 16;

/// RFC 3550 A.1 constants.
const MAX_DROPOUT: u32 = 3000;
const MAX_MISORDER: u32 = 100;
const MIN_SEQUENTIAL: u32 = 2;

/// `d` in units of a `rate` Hz clock, rounded down: whole seconds times the rate plus
/// the fraction's units, in 64-bit arithmetic (the same value as
/// `d.as_nanos() * rate / 10^9`, without a 128-bit division per packet).
pub(crate) fn duration_units(d: Duration, rate: u32) -> u64 {
    d.as_secs()
        .wrapping_mul(rate as u64)
        .wrapping_add(d.subsec_nanos() as u64 * rate as u64 / 1_000_000_000)
}

/// What the sequence check made of a packet (RFC 3550 A.1 `update_seq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqVerdict {
    /// In sequence or a tolerable jump/reorder: count it.
    Valid,
    /// The source is still on probation (not enough packets in sequence yet).
    Probation,
    /// A very large jump; one more in sequence with it restarts the source.
    BadJump,
    /// The jump was confirmed by the next packet: the source restarted, stats reset.
    Restarted,
}

/// The figures of a reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportFigures {
    /// Fraction lost since the last report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative number of packets lost, 24-bit signed (duplicates can make it negative).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub extended_highest_seq: u32,
    /// Interarrival jitter, timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR from this source (0 if none).
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 s (0 if none).
    pub delay_since_last_sr: u32,
}

/// Receive statistics for one SSRC.
#[derive(Debug, Clone)]
pub struct ReceiverStats {
    ssrc: Ssrc,
    clock_rate: u32,
    epoch: Instant,
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    transit: Option<i64>,
    /// Jitter ×16 (RFC 3550 A.8, integer form).
    jitter_q4: u32,
    last_sr: Option<(u32, Instant)>,
}

impl ReceiverStats {
    /// Start tracking `ssrc` whose first packet carries `seq` (RFC 3550 A.1: the source
    /// is put on probation for MIN_SEQUENTIAL packets).
    pub fn new(now: Instant, ssrc: Ssrc, seq: SeqNo, clock_rate: u32) -> Self {
        let mut s = ReceiverStats {
            ssrc,
            clock_rate,
            epoch: now,
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: 0,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter_q4: 0,
            last_sr: None,
        };
        s.init_seq(seq.0);
        s.max_seq = seq.0.wrapping_sub(1);
        s
    }

    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// Account for a packet of `ssrc` in the figures kept in `slot`: a first packet, or
    /// one from a new SSRC (a new stream, RFC 3550 §8.2), starts them again, on the 8 kHz
    /// clock of G.711 and telephone-events. As
    /// [`ReceiverStats::handle_packet`] otherwise.
    pub fn track(
        slot: &mut Option<ReceiverStats>,
        now: Instant,
        ssrc: Ssrc,
        seq: SeqNo,
        timestamp: u32,
        jitter_sample: bool,
    ) {
        match slot {
            Some(r) if r.ssrc == ssrc => {
                r.handle_packet(now, seq, timestamp, jitter_sample);
            }
            _ => *slot = Some(ReceiverStats::new(now, ssrc, seq, super::CLOCK_RATE)),
        }
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = seq as u32;
        self.max_seq = seq;
        self.bad_seq = RTP_SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// RFC 3550 A.1 `update_seq`.
    fn update_seq(&mut self, seq: u16) -> SeqVerdict {
        let udelta = seq.wrapping_sub(self.max_seq) as u32;
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received = self.received.wrapping_add(1);
                    return SeqVerdict::Valid;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return SeqVerdict::Probation;
        } else if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(RTP_SEQ_MOD);
            }
            self.max_seq = seq;
        } else if udelta <= RTP_SEQ_MOD - MAX_MISORDER {
            if seq as u32 == self.bad_seq {
                self.init_seq(seq);
                self.received = self.received.wrapping_add(1);
                self.transit = None;
                return SeqVerdict::Restarted;
            }
            self.bad_seq = (seq as u32 + 1) & (RTP_SEQ_MOD - 1);
            return SeqVerdict::BadJump;
        }
        // else: duplicate or reordered packet, counted.
        self.received = self.received.wrapping_add(1);
        SeqVerdict::Valid
    }

    /// Account for one received packet. `jitter_sample` is false for packets whose
    /// timestamp is not their sampling instant (RFC 4733 event updates repeat the
    /// event's start timestamp), which would inflate the jitter.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        seq: SeqNo,
        timestamp: u32,
        jitter_sample: bool,
    ) -> SeqVerdict {
        let v = self.update_seq(seq.0);
        if jitter_sample && matches!(v, SeqVerdict::Valid | SeqVerdict::Restarted) {
            // RFC 3550 A.8: transit = arrival - timestamp in timestamp units.
            let arrival = self.arrival_units(now);
            let transit = arrival as i64 - timestamp as i64;
            if let Some(last) = self.transit {
                // Both are modulo 2^32: take the difference in the 32-bit circle.
                let d = ((transit - last) as i32).unsigned_abs();
                // jitter += (|d| - jitter) / 16, kept ×16. In 64 bits, and held at the
                // top: a peer whose timestamps leap by 2^28 per packet drives it towards
                // 16 × 2^28, past what 32 bits hold (A.8's own code wraps there).
                let j = u64::from(self.jitter_q4);
                let j = j + u64::from(d) - ((j + 8) >> 4);
                self.jitter_q4 = u32::try_from(j).unwrap_or(u32::MAX);
            }
            self.transit = Some(transit);
        }
        v
    }

    fn arrival_units(&self, now: Instant) -> u32 {
        duration_units(now.saturating_duration_since(self.epoch), self.clock_rate) as u32
    }

    /// A Sender Report from this source arrived: remember LSR (RFC 3550 §6.4.1).
    pub fn handle_sender_report(&mut self, now: Instant, ntp_timestamp: u64) {
        self.last_sr = Some(((ntp_timestamp >> 16) as u32, now));
    }

    /// Extended highest sequence number received (RFC 3550 A.1: cycles + max_seq).
    pub fn extended_highest_seq(&self) -> u32 {
        self.cycles.wrapping_add(self.max_seq as u32)
    }

    /// Packets expected so far (RFC 3550 A.3).
    pub fn expected(&self) -> u32 {
        self.extended_highest_seq()
            .wrapping_sub(self.base_seq)
            .wrapping_add(1)
    }

    /// Packets received and counted.
    pub fn received(&self) -> u32 {
        self.received
    }

    /// Cumulative lost, clamped to 24-bit signed (RFC 3550 A.3).
    pub fn cumulative_lost(&self) -> i32 {
        if self.probation > 0 {
            return 0;
        }
        let lost = self.expected() as i64 - self.received as i64;
        lost.clamp(-0x80_0000, 0x7F_FFFF) as i32
    }

    /// Interarrival jitter in timestamp units (RFC 3550 A.8).
    pub fn jitter(&self) -> u32 {
        self.jitter_q4 >> 4
    }

    /// Interarrival jitter as a duration.
    pub fn jitter_duration(&self) -> Duration {
        Duration::from_nanos(self.jitter() as u64 * 1_000_000_000 / self.clock_rate.max(1) as u64)
    }

    /// The figures for a report block at `now`; starts a new interval for the fraction
    /// lost (RFC 3550 A.3).
    pub fn report(&mut self, now: Instant) -> ReportFigures {
        let expected = self.expected();
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 || self.probation > 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, at)) => {
                let d = now.saturating_duration_since(at);
                (lsr, (d.as_nanos() * 65536 / 1_000_000_000) as u32)
            }
            None => (0, 0),
        };
        ReportFigures {
            fraction_lost,
            cumulative_lost: self.cumulative_lost(),
            extended_highest_seq: self.extended_highest_seq(),
            jitter: self.jitter(),
            last_sr,
            delay_since_last_sr,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_units_match_the_128_bit_formula() {
        for ns in [
            0u64,
            1,
            124_999,
            125_000,
            999_999_999,
            1_000_000_000,
            3_600_123_456_789,
        ] {
            for rate in [8000u32, 16000, 48000, 90000] {
                let d = Duration::from_nanos(ns);
                let want = (d.as_nanos() * rate as u128 / 1_000_000_000) as u64;
                assert_eq!(duration_units(d, rate), want, "{ns} ns at {rate} Hz");
            }
        }
        let long = Duration::new(10_000_000_000, 999_999_999);
        assert_eq!(
            duration_units(long, 8000),
            (long.as_nanos() * 8000 / 1_000_000_000) as u64
        );
    }

    fn feed(s: &mut ReceiverStats, t0: Instant, seqs: &[u16]) {
        for &q in seqs {
            let ts = (q as u32).wrapping_mul(160);
            s.handle_packet(
                t0 + Duration::from_millis(20 * q as u64),
                SeqNo(q),
                ts,
                true,
            );
        }
    }

    #[test]
    fn probation_then_counting_and_loss() {
        let t0 = Instant::now();
        let mut s = ReceiverStats::new(t0, Ssrc(1), SeqNo(10), 8000);
        assert_eq!(
            s.handle_packet(t0, SeqNo(10), 1600, true),
            SeqVerdict::Probation
        );
        assert_eq!(
            s.handle_packet(t0, SeqNo(11), 1760, true),
            SeqVerdict::Valid
        );
        // 12..=30 with 15 and 20 missing.
        let seqs: Vec<u16> = (12..=30).filter(|q| *q != 15 && *q != 20).collect();
        feed(&mut s, t0, &seqs);
        assert_eq!(s.extended_highest_seq(), 30);
        assert_eq!(s.expected(), 20); // 11..=30
        assert_eq!(s.cumulative_lost(), 2);
        let r = s.report(t0);
        assert_eq!(r.fraction_lost, (2 * 256 / 20) as u8);
        // Next interval without loss.
        feed(&mut s, t0, &[31, 32, 33]);
        assert_eq!(s.report(t0).fraction_lost, 0);
        // A late 15 arrives: cumulative loss goes down.
        feed(&mut s, t0, &[15]);
        assert_eq!(s.cumulative_lost(), 1);
    }

    #[test]
    fn sequence_wrap_counts_a_cycle() {
        let t0 = Instant::now();
        let mut s = ReceiverStats::new(t0, Ssrc(1), SeqNo(65530), 8000);
        feed(
            &mut s,
            t0,
            &[65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 2],
        );
        assert_eq!(s.extended_highest_seq(), 65536 + 2);
        assert_eq!(s.cumulative_lost(), 0);
        assert_eq!(s.received(), 8);
    }

    #[test]
    fn large_jump_restarts_after_confirmation() {
        let t0 = Instant::now();
        let mut s = ReceiverStats::new(t0, Ssrc(1), SeqNo(100), 8000);
        feed(&mut s, t0, &[100, 101, 102]);
        assert_eq!(
            s.handle_packet(t0, SeqNo(30000), 0, true),
            SeqVerdict::BadJump
        );
        assert_eq!(
            s.handle_packet(t0, SeqNo(30001), 160, true),
            SeqVerdict::Restarted
        );
        assert_eq!(s.extended_highest_seq(), 30001);
        assert_eq!(s.cumulative_lost(), 0);
    }

    #[test]
    fn steady_arrivals_have_no_jitter_and_alternating_delay_has_some() {
        let t0 = Instant::now();
        let mut s = ReceiverStats::new(t0, Ssrc(1), SeqNo(0), 8000);
        feed(&mut s, t0, &(0..100).collect::<Vec<_>>());
        assert_eq!(s.jitter(), 0);
        // Every other packet 10 ms late: |D| = 80 units each time; jitter converges to 80.
        let mut s = ReceiverStats::new(t0, Ssrc(1), SeqNo(0), 8000);
        for q in 0..400u16 {
            let late = if q % 2 == 1 { 10 } else { 0 };
            let at = t0 + Duration::from_millis(20 * q as u64 + late);
            s.handle_packet(at, SeqNo(q), q as u32 * 160, true);
        }
        assert!((78..=80).contains(&s.jitter()), "{}", s.jitter());
        assert!((9..=10).contains(&s.jitter_duration().as_millis()));
    }

    /// Timestamps chosen by the peer to leap by 2^28 units per packet: the jitter is as
    /// large as it gets, never an overflow (a panic in debug builds) nor wrapped to a
    /// small figure.
    #[test]
    fn leaping_timestamps_hold_the_jitter_at_its_largest() {
        let t0 = Instant::now();
        let mut s = ReceiverStats::new(t0, Ssrc(1), SeqNo(0), 8000);
        let mut peak = 0;
        for q in 0..2000u16 {
            let at = t0 + Duration::from_millis(20 * q as u64 + (q % 3) as u64);
            let ts = (q as u32).wrapping_mul((1 << 28) + 160);
            s.handle_packet(at, SeqNo(q), ts, true);
            peak = peak.max(s.jitter());
            assert!(s.jitter() >= peak / 2, "fell from {peak} to {}", s.jitter());
        }
        assert!(s.jitter() > 1 << 27, "{}", s.jitter());
    }

    #[test]
    fn lsr_and_dlsr() {
        let t0 = Instant::now();
        let mut s = ReceiverStats::new(t0, Ssrc(1), SeqNo(0), 8000);
        s.handle_sender_report(t0, 0x0123_4567_89AB_CDEF);
        let r = s.report(t0 + Duration::from_millis(500));
        assert_eq!(r.last_sr, 0x4567_89AB);
        assert_eq!(r.delay_since_last_sr, 32768);
    }
}
