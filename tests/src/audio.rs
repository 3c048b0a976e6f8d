//! Test audio: a sine tone generator and a Goertzel tone detector, on the workspace's
//! G.711. Shared by `pri-switch` (on the B-channel) and the tests (on RTP), so both ends
//! measure tones the same way.

use std::f64::consts::PI;

/// Companding law of a G.711 stream: the workspace's `g711` crate, so the tests decode
/// exactly what the gateway and the simulator encode.
pub use g711::Law;

/// A continuous sine tone, 8 kHz, written block by block without phase jumps.
#[derive(Debug, Clone)]
pub struct ToneGen {
    step: f64,
    phase: f64,
    amplitude: f64,
}

impl ToneGen {
    /// `hz` at about -10 dBm0 (amplitude 10,000 of 32,767).
    pub fn new(hz: f64) -> ToneGen {
        ToneGen {
            step: 2.0 * PI * hz / 8000.0,
            phase: 0.0,
            amplitude: 10_000.0,
        }
    }

    /// Fill `out` with G.711 codes of the next samples.
    pub fn fill(&mut self, law: Law, out: &mut [u8]) {
        for o in out {
            let s = (self.phase.sin() * self.amplitude) as i16;
            *o = law.encode(s);
            self.phase += self.step;
            if self.phase > 2.0 * PI {
                self.phase -= 2.0 * PI;
            }
        }
    }
}

/// Goertzel power of `hz` in `samples` (8 kHz), normalised so that a pure tone of
/// amplitude A gives about A²/4 · N².
fn goertzel(samples: &[f64], hz: f64) -> f64 {
    let coeff = 2.0 * (2.0 * PI * hz / 8000.0).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in samples {
        let s = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// Which of `candidates` (Hz) a block of G.711 audio carries, if any: the block must be
/// louder than about -40 dBm0 and one candidate must hold most of its energy.
pub fn detect(law: Law, block: &[u8], candidates: &[f64]) -> Option<f64> {
    if block.is_empty() {
        return None;
    }
    let samples: Vec<f64> = block.iter().map(|&c| f64::from(law.decode(c))).collect();
    let n = samples.len() as f64;
    let energy: f64 = samples.iter().map(|x| x * x).sum();
    // Mean square above 100² (about -50 dB below full scale).
    if energy / n < 10_000.0 {
        return None;
    }
    // For a pure tone, Goertzel power ≈ energy · N / 2.
    candidates
        .iter()
        .map(|&hz| (hz, goertzel(&samples, hz) * 2.0 / (energy * n)))
        .filter(|&(_, share)| share > 0.5)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(hz, _)| hz)
}

/// ITU-T Q.23 Table 1: the low-group (row) and high-group (column) frequencies.
const DTMF_LOW: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
const DTMF_HIGH: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
/// Q.23 Table 1 by row and column.
const DTMF_KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// The Q.23 frequency pair (low, high) of a DTMF key (`0`–`9`, `*`, `#`, `A`–`D`).
pub fn dtmf_pair(key: char) -> Option<(f64, f64)> {
    let key = key.to_ascii_uppercase();
    DTMF_KEYS.iter().enumerate().find_map(|(r, row)| {
        row.iter()
            .position(|&k| k == key)
            .map(|c| (DTMF_LOW[r], DTMF_HIGH[c]))
    })
}

/// Plays a string of DTMF keys in band: each key's Q.23 pair (low group about −10 dBm0,
/// high group 2 dB louder, as a telephone sends) for `on`, then silence for `off`; Q.24
/// asks a receiver to accept tones and pauses of 40 ms and more.
#[derive(Debug, Clone)]
pub struct DtmfGen {
    keys: Vec<char>,
    /// Samples into the sequence.
    pos: usize,
    on: usize,
    off: usize,
}

impl DtmfGen {
    /// `keys` that are not DTMF keys are skipped. `on_ms`/`off_ms`: tone and pause.
    pub fn new(keys: &str, on_ms: u32, off_ms: u32) -> DtmfGen {
        DtmfGen {
            keys: keys.chars().filter(|&k| dtmf_pair(k).is_some()).collect(),
            pos: 0,
            on: on_ms as usize * 8,
            off: off_ms as usize * 8,
        }
    }

    /// Whether every key has been played (with its pause).
    pub fn done(&self) -> bool {
        self.pos >= self.keys.len() * (self.on + self.off)
    }

    /// Fill `out` with the next samples as G.711 codes (silence once done).
    pub fn fill(&mut self, law: Law, out: &mut [u8]) {
        let period = self.on + self.off;
        for o in out {
            let k = self.pos / period.max(1);
            let t = self.pos % period.max(1);
            let s = match self.keys.get(k).and_then(|&c| dtmf_pair(c)) {
                Some((lo, hi)) if t < self.on => {
                    let t = t as f64 / 8000.0;
                    7_000.0 * (2.0 * PI * lo * t).sin() + 8_800.0 * (2.0 * PI * hi * t).sin()
                }
                _ => 0.0,
            };
            *o = law.encode(s as i16);
            if !self.done() {
                self.pos += 1;
            }
        }
    }
}

/// Which DTMF key one 20 ms window carries, if any: loud enough (as [`detect`]), the
/// strongest low-group and high-group frequencies each holding a real part of the energy
/// and together most of it, each far above the others of its group, and the twist within
/// Q.24's 8 dB (normal) / 4 dB (reverse).
fn dtmf_block(samples: &[f64]) -> Option<char> {
    let n = samples.len() as f64;
    let energy: f64 = samples.iter().map(|x| x * x).sum();
    if n == 0.0 || energy / n < 10_000.0 {
        return None;
    }
    let share = |hz: f64| goertzel(samples, hz) * 2.0 / (energy * n);
    let best = |group: &[f64; 4]| {
        let s: Vec<f64> = group.iter().map(|&f| share(f)).collect();
        let (i, &top) = s
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .expect("four");
        let second = s
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, &v)| v)
            .fold(0.0, f64::max);
        (i, top, second)
    };
    let (r, lo, lo2) = best(&DTMF_LOW);
    let (c, hi, hi2) = best(&DTMF_HIGH);
    let twist_ok = hi <= lo * 10f64.powf(0.4) && lo <= hi * 10f64.powf(0.8);
    (lo > 0.1 && hi > 0.1 && lo + hi > 0.7 && lo2 < lo / 10.0 && hi2 < hi / 10.0 && twist_ok)
        .then(|| DTMF_KEYS[r][c])
}

/// A DTMF key the detector heard, with how long it lasted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfKey {
    pub key: char,
    pub ms: u32,
}

/// In-band DTMF receiver (Goertzel on 20 ms windows every 10 ms, independent of the
/// gateway's spandsp detector): a key counts once it fills three windows in a row, which
/// a Q.24 tone of 40 ms does wherever it starts and a 20 ms one never does. It ends at
/// the third window in a row without it. A window with more than about a third of
/// silence fails, so a Q.24 pause of 40 ms spoils at least four windows wherever it
/// falls, while a 10 ms interruption, which Q.24 asks a receiver to bridge (signal
/// interruption tolerance; a TDM slip on a loaded line gives one), spoils at most two.
/// Audio arrives in any slices; windows are cut here.
#[derive(Debug, Clone, Default)]
pub struct DtmfDetect {
    window: Vec<f64>,
    /// Samples since the last window was evaluated.
    fresh: usize,
    /// The key being heard: how many windows it filled (a bridged gap included), and
    /// how many of the last windows missed it.
    run: Option<Run>,
}

#[derive(Debug, Clone, Copy)]
struct Run {
    key: char,
    windows: u32,
    missed: u32,
}

const DTMF_WINDOW: usize = 160;
const DTMF_HOP: usize = 80;

impl DtmfDetect {
    pub fn new() -> DtmfDetect {
        DtmfDetect::default()
    }

    /// Feed G.711 codes; returns the keys that ended in them (`ms`: about how long each
    /// lasted, to 10 ms).
    pub fn feed(&mut self, law: Law, codes: &[u8]) -> Vec<DtmfKey> {
        let mut ended = Vec::new();
        for &c in codes {
            if self.window.len() == DTMF_WINDOW {
                self.window.remove(0);
            }
            self.window.push(f64::from(law.decode(c)));
            self.fresh += 1;
            if self.window.len() < DTMF_WINDOW || self.fresh < DTMF_HOP {
                continue;
            }
            self.fresh = 0;
            let now = dtmf_block(&self.window);
            match (&mut self.run, now) {
                (Some(r), Some(k)) if r.key == k => {
                    r.windows += 1 + r.missed;
                    r.missed = 0;
                }
                (Some(r), None) if r.missed < 2 => r.missed += 1,
                (prev, now) => {
                    if let Some(r) = prev {
                        if r.windows >= 3 {
                            ended.push(DtmfKey {
                                key: r.key,
                                ms: (r.windows + 1) * 10,
                            });
                        }
                    }
                    self.run = now.map(|key| Run {
                        key,
                        windows: 1,
                        missed: 0,
                    });
                }
            }
        }
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g711_round_trips_within_a_segment_step() {
        for law in [Law::ALaw, Law::MuLaw] {
            for s in (-32000i32..32000).step_by(97) {
                let back = i32::from(law.decode(law.encode(s as i16)));
                let tol = (s.abs() / 16).max(16);
                assert!((back - s).abs() <= tol, "{law:?} {s} -> {back}");
            }
        }
        // Known codes: A-law silence 0xD5, µ-law silence 0xFF.
        assert_eq!(Law::ALaw.encode(0), 0xD5);
        assert_eq!(Law::MuLaw.encode(0), 0xFF);
    }

    #[test]
    fn detector_finds_the_tone_sent_and_not_another() {
        for law in [Law::ALaw, Law::MuLaw] {
            let mut g = ToneGen::new(1004.0);
            let mut block = [0u8; 160];
            g.fill(law, &mut block);
            assert_eq!(detect(law, &block, &[1004.0, 1800.0]), Some(1004.0));
            assert_eq!(detect(law, &block, &[1800.0]), None);
            let silence = [law.encode(0); 160];
            assert_eq!(detect(law, &silence, &[1004.0, 1800.0]), None);
        }
    }

    #[test]
    fn every_dtmf_key_played_is_detected_once_in_order_and_a_tone_is_not_a_key() {
        let keys = "0123456789*#ABCD";
        for law in [Law::ALaw, Law::MuLaw] {
            // Q.24's shortest tone and pause (40 ms), started off the block boundary.
            for (on, off, lead) in [(100, 100, 0usize), (40, 40, 73)] {
                let mut g = DtmfGen::new(keys, on, off);
                let mut d = DtmfDetect::new();
                let mut heard = String::new();
                let mut out = vec![law.encode(0); lead];
                d.feed(law, &out);
                out = vec![0u8; 37];
                while !g.done() {
                    g.fill(law, &mut out);
                    heard.extend(d.feed(law, &out).iter().map(|k| k.key));
                }
                out = vec![law.encode(0); 400];
                heard.extend(d.feed(law, &out).iter().map(|k| k.key));
                assert_eq!(heard, keys, "{law:?} on {on} ms off {off} ms");
            }
            let mut t = ToneGen::new(1004.0);
            let mut d = DtmfDetect::new();
            let mut block = [0u8; 160];
            for _ in 0..50 {
                t.fill(law, &mut block);
                assert_eq!(d.feed(law, &block), vec![]);
            }
            // The same key again after a Q.24 pause of 40 ms is a second key.
            for lead in [0usize, 40, 79] {
                let mut g = DtmfGen::new("5555", 40, 40);
                let mut d = DtmfDetect::new();
                let mut heard: String = d
                    .feed(law, &vec![law.encode(0); lead])
                    .iter()
                    .map(|k| k.key)
                    .collect();
                let mut out = vec![0u8; 160 * 30];
                g.fill(law, &mut out);
                heard.extend(d.feed(law, &out).iter().map(|k| k.key));
                assert_eq!(heard, "5555", "lead {lead}");
            }
            // A key broken by a short interruption (10 ms of idle code, wherever it
            // falls) is heard once, with its whole length.
            for cut in [0usize, 30, 80, 115, 400] {
                let mut g = DtmfGen::new("7", 100, 100);
                let mut d = DtmfDetect::new();
                let mut line = vec![0u8; 1600];
                g.fill(law, &mut line);
                line[320 + cut..400 + cut].fill(law.encode(0));
                let heard = d.feed(law, &line);
                assert_eq!(heard.len(), 1, "cut at {cut}: {heard:?}");
                assert_eq!(heard[0].key, '7');
                assert!((90..=120).contains(&heard[0].ms), "cut at {cut}: {heard:?}");
            }
            // A key too short for Q.24 (20 ms) is not taken, wherever it starts.
            for lead in [0usize, 40, 79] {
                let mut g = DtmfGen::new("5", 20, 100);
                let mut d = DtmfDetect::new();
                d.feed(law, &vec![law.encode(0); lead]);
                let mut out = [0u8; 160];
                let mut heard = Vec::new();
                for _ in 0..10 {
                    g.fill(law, &mut out);
                    heard.extend(d.feed(law, &out));
                }
                assert_eq!(heard, vec![], "lead {lead}");
            }
        }
    }
}
