//! Frame alignment and line defects: what a span's receiver concludes from the bits.
//!
//! E1 (G.704 §2.3.2, Table 4a/4b): timeslot 0 alternates the frame alignment signal
//! `Si 0 0 1 1 0 1 1` with the non-FAS word `Si 1 A Sa4..Sa8`, where `A` is the remote
//! alarm indication (RAI). Frame alignment is lost after three consecutive errored FAS
//! words and regained after FAS, NFAS (bit 2 = 1), FAS in consecutive frames (G.706 §4.1).
//!
//! T1 framing bits are not octets of a timeslot; the simulator carries "framed" and "RAI"
//! (the ESF yellow alarm) beside each frame instead.
//!
//! Defects (G.775): loss of signal when no pulses arrive; AIS when the signal is all ones
//! and unframed; then the DAHDI alarm bits follow (`RED`+`LOS`, `BLUE`, `RED`+`LFA`,
//! `YELLOW`).

use dahdi_driver::Alarms;

/// FAS word without the Si bit (G.704 Table 4a).
pub const FAS: u8 = 0x1B;
/// Mask of the FAS bits (bits 2..8).
pub const FAS_MASK: u8 = 0x7F;
/// NFAS bit 2, always one (G.704 Table 4b).
pub const NFAS_BIT2: u8 = 0x40;
/// NFAS bit 3: the A bit, remote alarm indication.
pub const NFAS_A: u8 = 0x20;

/// Timeslot 0 of E1 frame number `frame` (even frames carry the FAS). Si and the Sa bits
/// are ones here; with CRC-4 the Si bits are then set by [`crate::crc4::Crc4Tx`].
#[inline]
pub fn e1_ts0(frame: u64, rai: bool) -> u8 {
    if frame % 2 == 0 {
        0x80 | FAS
    } else {
        0x80 | NFAS_BIT2 | if rai { NFAS_A } else { 0 } | 0x1F
    }
}

/// What a receiver sees on its line during one chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineCondition {
    /// No pulses: loss of signal.
    Los,
    /// Alarm indication signal: unframed all ones.
    Ais,
    /// Signal present but no frame alignment.
    Lfa,
    /// In frame; `rai` when the far end signals a remote alarm.
    InFrame { rai: bool },
}

impl LineCondition {
    /// The DAHDI alarm bits for this condition.
    pub fn alarms(self) -> Alarms {
        match self {
            LineCondition::Los => Alarms::RED | Alarms::LOS,
            LineCondition::Ais => Alarms::BLUE,
            LineCondition::Lfa => Alarms::RED | Alarms::LFA,
            LineCondition::InFrame { rai: true } => Alarms::YELLOW,
            LineCondition::InFrame { rai: false } => Alarms::empty(),
        }
    }

    /// Whether our transmitter must send RAI back (G.704 §2.3.2: on LOS, LFA and AIS).
    pub fn sends_rai(self) -> bool {
        !matches!(self, LineCondition::InFrame { .. })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Search {
    Hunt,
    SawFas,
    SawNfas,
}

/// The E1 frame aligner of one receiver (G.706 §4.1).
#[derive(Debug, Clone)]
pub struct E1Aligner {
    aligned: bool,
    /// Whether the next frame should carry the FAS.
    expect_fas: bool,
    bad_fas_run: u8,
    search: Search,
    rai: bool,
    /// Errored FAS words counted while aligned.
    pub fas_errors: u32,
}

impl E1Aligner {
    /// An aligner already in frame (a span that came up before the simulation started).
    pub fn in_frame() -> Self {
        E1Aligner {
            aligned: true,
            expect_fas: true,
            bad_fas_run: 0,
            search: Search::Hunt,
            rai: false,
            fas_errors: 0,
        }
    }

    /// An aligner searching for the frame.
    pub fn hunting() -> Self {
        E1Aligner {
            aligned: false,
            ..Self::in_frame()
        }
    }

    /// A frame was dropped or repeated by the slip buffer: the FAS/NFAS alternation of the
    /// frames that follow flips.
    pub fn slipped(&mut self) {
        self.expect_fas = !self.expect_fas;
    }

    /// The signal was lost: the frame must be found again.
    pub fn lost(&mut self) {
        self.aligned = false;
        self.search = Search::Hunt;
        self.rai = false;
    }

    /// Processes the timeslot-0 octets of consecutive frames.
    pub fn push(&mut self, ts0: &[u8]) {
        for &o in ts0 {
            if self.aligned {
                if self.expect_fas {
                    if o & FAS_MASK == FAS {
                        self.bad_fas_run = 0;
                    } else {
                        self.fas_errors += 1;
                        self.bad_fas_run += 1;
                        if self.bad_fas_run >= 3 {
                            self.aligned = false;
                            self.search = Search::Hunt;
                            self.rai = false;
                        }
                    }
                } else {
                    self.rai = o & NFAS_A != 0;
                }
                self.expect_fas = !self.expect_fas;
            } else {
                let is_fas = o & FAS_MASK == FAS;
                self.search = match self.search {
                    Search::Hunt if is_fas => Search::SawFas,
                    Search::Hunt => Search::Hunt,
                    Search::SawFas if o & NFAS_BIT2 != 0 => {
                        self.rai = o & NFAS_A != 0;
                        Search::SawNfas
                    }
                    Search::SawFas if is_fas => Search::SawFas,
                    Search::SawFas => Search::Hunt,
                    Search::SawNfas if is_fas => {
                        self.aligned = true;
                        self.bad_fas_run = 0;
                        self.expect_fas = false;
                        Search::Hunt
                    }
                    Search::SawNfas => Search::Hunt,
                };
            }
        }
    }

    pub fn aligned(&self) -> bool {
        self.aligned
    }

    pub fn rai(&self) -> bool {
        self.aligned && self.rai
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_and_reads_rai() {
        let mut a = E1Aligner::hunting();
        let frames: Vec<u8> = (0..8).map(|f| e1_ts0(f, true)).collect();
        a.push(&frames);
        assert!(a.aligned());
        assert!(a.rai());
        let frames: Vec<u8> = (8..16).map(|f| e1_ts0(f, false)).collect();
        a.push(&frames);
        assert!(!a.rai());
    }

    #[test]
    fn three_bad_fas_lose_alignment() {
        let mut a = E1Aligner::in_frame();
        a.push(&[0x00; 6]);
        assert!(!a.aligned());
        assert_eq!(a.fas_errors, 3);
    }
}
