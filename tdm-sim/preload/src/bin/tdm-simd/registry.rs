//! What DAHDI's core keeps about spans and channels, as `dahdi_cfg` sets it: DAHDI's
//! global span and channel numbering over the simulator's two ends, each span's line
//! configuration (`DAHDI_SPANCONFIG`), each channel's signalling, law and echo canceller
//! (`DAHDI_CHANCONFIG`, `DAHDI_ATTACH_ECHOCAN`), and the tone zones
//! (`DAHDI_LOADZONE`, `DAHDI_DEFAULTZONE`).
//!
//! Numbering: with N simulated spans, DAHDI spans 1..=N are the near ends and
//! N+1..=2N the far ends of the same cables; channels are numbered across spans in that
//! order, as DAHDI numbers them in registration order (E1: 31 per span, T1: 24).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use dahdi_driver::abi::{self, LineConfig, SigType, DAHDI_LAW_ALAW, DAHDI_LAW_MULAW};
use dahdi_driver::{SpanConfig, SpanId, SpanKind};
use tdm_sim::End;

/// One DAHDI span: one end of one simulated cable.
#[derive(Debug, Clone)]
pub struct SpanEntry {
    pub end: End,
    pub sim_span: SpanId,
    pub kind: SpanKind,
    /// Global number of the span's first channel.
    pub basechan: i32,
    /// `DAHDI_CONFIG_*` bits from the last `DAHDI_SPANCONFIG`.
    pub lineconfig: i32,
    pub lbo: i32,
    /// Timing priority (`sync` of `dahdi_lineconfig`).
    pub sync: i32,
    /// Whether `DAHDI_STARTUP` brought it up (and no `DAHDI_SHUTDOWN` since).
    pub running: bool,
}

impl SpanEntry {
    /// The simulator's configuration for what `DAHDI_SPANCONFIG` recorded, if the bits
    /// name a framing and a coding for this kind of span.
    pub fn sim_config(&self) -> Option<SpanConfig> {
        let bits = LineConfig::from_bits_retain(self.lineconfig as u32);
        let cfg = abi::span_config_from_bits(
            self.kind,
            bits,
            u8::try_from(self.lbo).ok()?,
            u8::try_from(self.sync).ok()?,
        )?;
        abi::line_config_bits(&cfg).ok()?;
        Some(cfg)
    }

    /// The line options such a span supports (`linecompat`).
    pub fn linecompat(&self) -> i32 {
        let bits = match self.kind {
            SpanKind::E1 => LineConfig::AMI | LineConfig::HDB3 | LineConfig::CCS | LineConfig::CRC4,
            SpanKind::T1 => LineConfig::AMI | LineConfig::B8ZS | LineConfig::D4 | LineConfig::ESF,
        };
        bits.bits() as i32
    }

    /// The law a channel of this span carries when told `DAHDI_LAW_DEFAULT`.
    pub fn default_law(&self) -> i32 {
        match self.kind {
            SpanKind::E1 => DAHDI_LAW_ALAW,
            SpanKind::T1 => DAHDI_LAW_MULAW,
        }
    }

    /// `desc` (at most 39 characters).
    pub fn description(&self) -> String {
        format!(
            "tdm-sim {:?} span {}, {} end",
            self.kind,
            self.sim_span.0,
            self.end.name()
        )
    }

    pub fn name(&self) -> String {
        format!("TDMSIM/{}/{}", self.end.name(), self.sim_span.0)
    }
}

/// One DAHDI channel.
#[derive(Debug, Clone)]
pub struct ChanEntry {
    /// DAHDI span number.
    pub span: i32,
    /// Position in the span (1-based), the simulator's timeslot.
    pub pos: u8,
    pub sig: SigType,
    /// `DAHDI_LAW_MULAW` or `DAHDI_LAW_ALAW`.
    pub law: i32,
    /// Echo canceller attached (empty: none).
    pub echocan: String,
    /// Whether a file has it open (`DAHDI_SPECIFY`).
    pub open: bool,
}

/// The echo cancellers DAHDI ships as modules (`dahdi_echocan_*`); attaching another
/// name fails as it does when no such module exists.
pub const ECHOCANS: &[&str] = &["MG2", "KB1", "SEC", "SEC2", "OSLEC", "JPAH", "HPEC"];

#[derive(Debug, Default)]
pub struct Registry {
    pub spans: Vec<SpanEntry>,
    pub chans: Vec<ChanEntry>,
    pub zones: BTreeMap<i32, String>,
    pub default_zone: Option<i32>,
}

impl Registry {
    pub fn new(kinds: &[SpanKind]) -> Self {
        let mut reg = Registry::default();
        let mut next = 1;
        for end in [End::Near, End::Far] {
            for (i, &kind) in kinds.iter().enumerate() {
                let d = reg.spans.len() as i32 + 1;
                reg.spans.push(SpanEntry {
                    end,
                    sim_span: SpanId(i as u16 + 1),
                    kind,
                    basechan: next,
                    lineconfig: 0,
                    lbo: 0,
                    sync: 0,
                    running: false,
                });
                for pos in 1..=kind.channels() {
                    reg.chans.push(ChanEntry {
                        span: d,
                        pos,
                        sig: SigType::NONE,
                        law: match kind {
                            SpanKind::E1 => DAHDI_LAW_ALAW,
                            SpanKind::T1 => DAHDI_LAW_MULAW,
                        },
                        echocan: String::new(),
                        open: false,
                    });
                }
                next += i32::from(kind.channels());
            }
        }
        reg
    }

    pub fn span(&self, d: i32) -> Option<&SpanEntry> {
        let i = usize::try_from(d.checked_sub(1)?).ok()?;
        self.spans.get(i)
    }

    pub fn span_mut(&mut self, d: i32) -> Option<&mut SpanEntry> {
        let i = usize::try_from(d.checked_sub(1)?).ok()?;
        self.spans.get_mut(i)
    }

    pub fn chan(&self, channo: i32) -> Option<&ChanEntry> {
        let i = usize::try_from(channo.checked_sub(1)?).ok()?;
        self.chans.get(i)
    }

    pub fn chan_mut(&mut self, channo: i32) -> Option<&mut ChanEntry> {
        let i = usize::try_from(channo.checked_sub(1)?).ok()?;
        self.chans.get_mut(i)
    }

    /// The DAHDI span number of one end of a simulated span.
    pub fn dahdi_span(&self, end: End, sim_span: SpanId) -> Option<i32> {
        self.spans
            .iter()
            .position(|s| s.end == end && s.sim_span == sim_span)
            .map(|i| i as i32 + 1)
    }

    /// Channels of span `d` with a signalling configured (`numchans`).
    pub fn configured_channels(&self, d: i32) -> i32 {
        self.chans
            .iter()
            .filter(|c| c.span == d && c.sig != SigType::NONE)
            .count() as i32
    }

    /// Marks the far ends as running PRI lines, the switch's side (what `--far-up` asks);
    /// returns their DAHDI numbers and configurations for the simulator.
    pub fn far_up(&mut self) -> Vec<(End, SpanId, SpanConfig)> {
        let mut out = Vec::new();
        for (i, s) in self.spans.iter_mut().enumerate() {
            if s.end != End::Far {
                continue;
            }
            let cfg = match s.kind {
                SpanKind::E1 => SpanConfig::e1_pri(0),
                SpanKind::T1 => SpanConfig::t1_pri(0),
            };
            s.lineconfig = abi::line_config_bits(&cfg)
                .map(|b| b.bits() as i32)
                .unwrap_or(0);
            s.sync = 0;
            s.running = true;
            let kind = s.kind;
            let d = i as i32 + 1;
            for c in self.chans.iter_mut().filter(|c| c.span == d) {
                c.sig = if c.pos == kind.dchannel().0 {
                    SigType::HDLCFCS
                } else {
                    SigType::CLEAR
                };
            }
            out.push((s.end, s.sim_span, cfg));
        }
        out
    }

    /// Pre-configures every span as a PRI (what `--started` asks): E1 CCS/HDB3/CRC-4 or
    /// T1 ESF/B8ZS, D-channel HDLC with FCS, bearers clear. The near ends take timing
    /// from their line (priority = span number), the far ends are masters (0).
    pub fn preconfigure_pri(&mut self) {
        let n = self.spans.len() / 2;
        for (i, s) in self.spans.iter_mut().enumerate() {
            let prio = if i < n { (i + 1) as u8 } else { 0 };
            let cfg = match s.kind {
                SpanKind::E1 => SpanConfig::e1_pri(prio),
                SpanKind::T1 => SpanConfig::t1_pri(prio),
            };
            s.lineconfig = abi::line_config_bits(&cfg)
                .map(|b| b.bits() as i32)
                .unwrap_or(0);
            s.sync = i32::from(prio);
            s.running = true;
        }
        let kinds: Vec<SpanKind> = self.spans.iter().map(|s| s.kind).collect();
        for c in &mut self.chans {
            let kind = kinds[(c.span - 1) as usize];
            c.sig = if c.pos == kind.dchannel().0 {
                SigType::HDLCFCS
            } else {
                SigType::CLEAR
            };
        }
    }

    /// The whole configuration as text, one item per line (the `config` control
    /// command).
    pub fn dump(&self, alarms: impl Fn(&SpanEntry) -> u32) -> String {
        let mut out = String::new();
        for (i, s) in self.spans.iter().enumerate() {
            let _ = writeln!(
                out,
                "span {} end={} sim={} kind={:?} basechan={} lineconfig=0x{:X} lbo={} sync={} running={} alarms=0x{:X}",
                i + 1,
                s.end.name(),
                s.sim_span.0,
                s.kind,
                s.basechan,
                s.lineconfig,
                s.lbo,
                s.sync,
                u8::from(s.running),
                alarms(s)
            );
        }
        for (i, c) in self.chans.iter().enumerate() {
            if c.sig == SigType::NONE && c.echocan.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "chan {} span={} pos={} sig=0x{:X} law={} echocan={} open={}",
                i + 1,
                c.span,
                c.pos,
                c.sig.0,
                c.law,
                if c.echocan.is_empty() {
                    "none"
                } else {
                    &c.echocan
                },
                u8::from(c.open)
            );
        }
        for (z, name) in &self.zones {
            let _ = writeln!(out, "zone {z} {name}");
        }
        if let Some(z) = self.default_zone {
            let _ = writeln!(out, "defaultzone {z}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_near_then_far() {
        let r = Registry::new(&[SpanKind::E1, SpanKind::E1]);
        assert_eq!(r.spans.len(), 4);
        assert_eq!(r.span(1).map(|s| (s.end, s.basechan)), Some((End::Near, 1)));
        assert_eq!(
            r.span(2).map(|s| (s.end, s.basechan)),
            Some((End::Near, 32))
        );
        assert_eq!(
            r.span(3).map(|s| (s.end, s.sim_span, s.basechan)),
            Some((End::Far, SpanId(1), 63))
        );
        assert_eq!(r.chan(47).map(|c| (c.span, c.pos)), Some((2, 16)));
        assert_eq!(r.chans.len(), 124);
        assert_eq!(r.dahdi_span(End::Far, SpanId(2)), Some(4));
        assert!(r.span(0).is_none() && r.span(5).is_none() && r.chan(125).is_none());
    }

    #[test]
    fn e1_pri_lineconfig_round_trips() {
        let mut r = Registry::new(&[SpanKind::E1]);
        r.preconfigure_pri();
        let s = r.span(1).cloned().unwrap();
        assert_eq!(s.lineconfig, 0x700);
        assert_eq!(s.sim_config(), Some(SpanConfig::e1_pri(1)));
        assert_eq!(r.chan(16).map(|c| c.sig), Some(SigType::HDLCFCS));
        assert_eq!(r.configured_channels(1), 31);
    }
}
