//! B-channel ↔ B-channel hairpin: two TDM channels joined inside the gateway, no RTP.
//!
//! When a transfer leaves both remaining parties on the PSTN side and the switch cannot
//! take the call back (no ECT / 2BCT), the gateway connects the two B-channels itself:
//! every tick, what each channel received goes out on the other, through the G.711
//! A↔µ table when one span is E1 (A-law) and the other T1 (µ-law). Nothing else
//! touches the audio: no echo canceller (each party's own network handles its echo, as
//! on a switch's own connection), no DTMF detection, no jitter buffer (both channels run
//! on the same line clock).
//!
//! A few milliseconds of silence are written to each channel first, so that a block
//! read on the tick the other channel ran dry never leaves a gap.

use dahdi_driver::{ChanError, Channel};

use super::ChannelKey;
use crate::media::transcode::transcode;
use crate::media::{Law, FRAME_SAMPLES};

/// Silence queued ahead on each channel (5 ms, like the RTP bridge's cushion).
const CUSHION: usize = 40;
/// At most this many blocks moved per direction per tick (catching up after a late
/// tick; more means the channel stalled, and DAHDI dropped the rest).
const MAX_BLOCKS: usize = 4;

/// The two channels of a hairpin, opened in clear mode (any block size up to
/// [`FRAME_SAMPLES`]).
pub struct HairpinConfig {
    pub a: Box<dyn Channel>,
    /// The law on `a`'s line.
    pub a_law: Law,
    pub b: Box<dyn Channel>,
    pub b_law: Law,
}

/// What a hairpin moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HairpinStats {
    /// Octets (samples) from `a` to `b`.
    pub a_to_b: u64,
    /// Octets (samples) from `b` to `a`.
    pub b_to_a: u64,
    /// Writes refused (the other channel's buffer was full): samples lost.
    pub dropped: u64,
    /// Events the channels reported (alarms); the signalling side sees them on the
    /// D-channel too.
    pub events: u64,
}

/// A live hairpin in a media thread.
pub struct Hairpin {
    pub key: ChannelKey,
    pub(super) cfg: HairpinConfig,
    pub stats: HairpinStats,
}

impl Hairpin {
    pub fn new(key: ChannelKey, mut cfg: HairpinConfig) -> Hairpin {
        let sa = [cfg.a_law.silence(); CUSHION];
        let sb = [cfg.b_law.silence(); CUSHION];
        let _ = cfg.a.write(&sa);
        let _ = cfg.b.write(&sb);
        Hairpin {
            key,
            cfg,
            stats: HairpinStats::default(),
        }
    }

    /// Moves whatever each channel received to the other. Called every tick; no
    /// allocation.
    pub fn serve(&mut self) {
        let c = &mut self.cfg;
        let (ab, d1, e1) = pump(c.a.as_mut(), c.a_law, c.b.as_mut(), c.b_law);
        let (ba, d2, e2) = pump(c.b.as_mut(), c.b_law, c.a.as_mut(), c.a_law);
        self.stats.a_to_b += ab;
        self.stats.b_to_a += ba;
        self.stats.dropped += d1 + d2;
        self.stats.events += e1 + e2;
    }

    /// The two channels back (when the hairpin is removed).
    pub fn into_channels(self) -> (Box<dyn Channel>, Box<dyn Channel>) {
        (self.cfg.a, self.cfg.b)
    }
}

/// One direction: returns (octets moved, octets dropped, events seen).
fn pump(
    from: &mut dyn Channel,
    from_law: Law,
    to: &mut dyn Channel,
    to_law: Law,
) -> (u64, u64, u64) {
    let mut block = [0u8; FRAME_SAMPLES];
    let mut out = [0u8; FRAME_SAMPLES];
    let (mut moved, mut dropped, mut events) = (0, 0, 0);
    for _ in 0..MAX_BLOCKS {
        match from.read(&mut block) {
            Ok(0) => break,
            Ok(n) => {
                let n = transcode(from_law, to_law, &block[..n], &mut out);
                match to.write(&out[..n]) {
                    Ok(w) => {
                        moved += w as u64;
                        dropped += (n - w.min(n)) as u64;
                    }
                    Err(ChanError::EventPending) => {
                        events += 1;
                        let _ = to.get_event();
                        dropped += n as u64;
                    }
                    Err(_) => dropped += n as u64,
                }
            }
            Err(ChanError::EventPending) => {
                events += 1;
                let _ = from.get_event();
            }
            Err(_) => break,
        }
    }
    (moved, dropped, events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dahdi_driver::{ChannelId, ChannelMode, Device, SpanId, Timeslot};
    use tdm_sim::Sim;

    fn open(dev: &dyn Device, span: u16, ts: u8, law: Law) -> Box<dyn Channel> {
        dev.open_channel(
            ChannelId {
                span: SpanId(span),
                timeslot: Timeslot(ts),
            },
            ChannelMode::Clear {
                blocksize: FRAME_SAMPLES,
                law,
            },
        )
        .unwrap()
    }

    /// A pattern sent by the far end of one channel arrives at the far end of the other,
    /// both ways; between an E1 and a T1 span it goes through the A↔µ table.
    fn hairpin_carries(a_law: Law, b_law: Law) {
        let sim = Sim::builder().e1(1).t1(1).build();
        let span_of = |l: Law| if l == Law::ALaw { 1 } else { 2 };
        let (sa, sb) = (span_of(a_law), span_of(b_law));
        let (ta, tb) = if sa == sb { (1, 2) } else { (1, 1) };
        let mut far_a = open(&sim.far(), sa, ta, a_law);
        let mut far_b = open(&sim.far(), sb, tb, b_law);
        let mut h = Hairpin::new(
            ChannelKey(1),
            HairpinConfig {
                a: open(&sim.near(), sa, ta, a_law),
                a_law,
                b: open(&sim.near(), sb, tb, b_law),
                b_law,
            },
        );
        let pattern_a: Vec<u8> = (0..FRAME_SAMPLES)
            .map(|i| (i as u8).wrapping_mul(3) | 1)
            .collect();
        let pattern_b: Vec<u8> = (0..FRAME_SAMPLES).map(|i| 0x80 | i as u8).collect();
        let (mut got_b, mut got_a) = (Vec::new(), Vec::new());
        let mut buf = [0u8; FRAME_SAMPLES];
        for ms in 0..200 {
            if ms % 20 == 0 {
                let _ = far_a.write(&pattern_a);
                let _ = far_b.write(&pattern_b);
            }
            sim.advance(1).unwrap();
            h.serve();
            while let Ok(n) = far_b.read(&mut buf) {
                if n == 0 {
                    break;
                }
                got_b.extend_from_slice(&buf[..n]);
            }
            while let Ok(n) = far_a.read(&mut buf) {
                if n == 0 {
                    break;
                }
                got_a.extend_from_slice(&buf[..n]);
            }
        }
        let mut want_b = vec![0u8; FRAME_SAMPLES];
        transcode(a_law, b_law, &pattern_a, &mut want_b);
        let mut want_a = vec![0u8; FRAME_SAMPLES];
        transcode(b_law, a_law, &pattern_b, &mut want_a);
        let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
        assert!(
            contains(&got_b, &want_b),
            "a→b pattern not heard ({} octets)",
            got_b.len()
        );
        assert!(
            contains(&got_a, &want_a),
            "b→a pattern not heard ({} octets)",
            got_a.len()
        );
        assert!(h.stats.a_to_b >= 8 * FRAME_SAMPLES as u64, "{:?}", h.stats);
        assert!(h.stats.b_to_a >= 8 * FRAME_SAMPLES as u64, "{:?}", h.stats);
        assert_eq!(h.stats.dropped, 0);
    }

    #[test]
    fn hairpin_same_span_passes_samples_untouched() {
        hairpin_carries(Law::ALaw, Law::ALaw);
    }

    #[test]
    fn hairpin_e1_to_t1_converts_the_law() {
        hairpin_carries(Law::ALaw, Law::MuLaw);
    }
}
