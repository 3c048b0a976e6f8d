//! Conversions between the header's raw values and the typed ones of [`crate::device`].

use thiserror::Error;

use super::consts::*;
use super::structs::*;
use crate::device::{
    Alarms, Event, Framing, Law, LineCoding, SpanConfig, SpanId, SpanKind, SpanStatus,
};

/// A typed value that has no DAHDI encoding, or a raw value with no typed meaning.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConvertError {
    #[error("{kind:?} span cannot use {what}")]
    LineMismatch { kind: SpanKind, what: &'static str },
    #[error("span number {0} out of range")]
    SpanNumber(i32),
    #[error("cannot tell the span type from spantype {spantype:?} and {totalchans} channels")]
    UnknownSpanType { spantype: String, totalchans: i32 },
}

impl From<Law> for RawLaw {
    fn from(law: Law) -> RawLaw {
        match law {
            Law::ALaw => RawLaw::ALaw,
            Law::MuLaw => RawLaw::MuLaw,
        }
    }
}

impl RawLaw {
    /// The law this resolves to on a span of `kind` (`DAHDI_LAW_DEFAULT` follows the span:
    /// A-law on E1, µ-law on T1).
    pub fn resolve(self, kind: SpanKind) -> Law {
        match self {
            RawLaw::ALaw => Law::ALaw,
            RawLaw::MuLaw => Law::MuLaw,
            RawLaw::Default => kind.default_law(),
        }
    }
}

/// `DAHDI_CONFIG_*` bits for a span configuration, checking that framing and coding
/// belong to the span's kind (E1: CCS/CAS with HDB3/AMI, optional CRC-4; T1: ESF/D4
/// with B8ZS/AMI).
pub fn line_config_bits(config: &SpanConfig) -> Result<LineConfig, ConvertError> {
    let mismatch = |what| ConvertError::LineMismatch {
        kind: config.kind,
        what,
    };
    let mut bits = LineConfig::empty();
    match config.kind {
        SpanKind::E1 => {
            match config.framing {
                Framing::Ccs => bits |= LineConfig::CCS,
                Framing::Cas => {}
                Framing::Esf => return Err(mismatch("ESF framing")),
                Framing::D4 => return Err(mismatch("D4 framing")),
            }
            match config.coding {
                LineCoding::Hdb3 => bits |= LineConfig::HDB3,
                LineCoding::Ami => bits |= LineConfig::AMI,
                LineCoding::B8zs => return Err(mismatch("B8ZS coding")),
            }
            if config.crc4 {
                bits |= LineConfig::CRC4;
            }
        }
        SpanKind::T1 => {
            match config.framing {
                Framing::Esf => bits |= LineConfig::ESF,
                Framing::D4 => bits |= LineConfig::D4,
                Framing::Ccs => return Err(mismatch("CCS framing")),
                Framing::Cas => return Err(mismatch("CAS framing")),
            }
            match config.coding {
                LineCoding::B8zs => bits |= LineConfig::B8ZS,
                LineCoding::Ami => bits |= LineConfig::AMI,
                LineCoding::Hdb3 => return Err(mismatch("HDB3 coding")),
            }
            if config.crc4 {
                return Err(mismatch("CRC-4"));
            }
        }
    }
    Ok(bits)
}

/// The span configuration a `lineconfig` value describes, if it names a framing for
/// the span's kind (a span never configured has none). DAHDI does not report a span's
/// timing priority back, so the caller supplies it.
pub fn span_config_from_bits(
    kind: SpanKind,
    bits: LineConfig,
    lbo: u8,
    timing_priority: u8,
) -> Option<SpanConfig> {
    let (framing, coding, crc4) = match kind {
        SpanKind::E1 => {
            let framing = if bits.contains(LineConfig::CCS) {
                Framing::Ccs
            } else {
                Framing::Cas
            };
            let coding = if bits.contains(LineConfig::HDB3) {
                LineCoding::Hdb3
            } else if bits.contains(LineConfig::AMI) {
                LineCoding::Ami
            } else {
                return None;
            };
            (framing, coding, bits.contains(LineConfig::CRC4))
        }
        SpanKind::T1 => {
            let framing = if bits.contains(LineConfig::ESF) {
                Framing::Esf
            } else if bits.contains(LineConfig::D4) {
                Framing::D4
            } else {
                return None;
            };
            let coding = if bits.contains(LineConfig::B8ZS) {
                LineCoding::B8zs
            } else if bits.contains(LineConfig::AMI) {
                LineCoding::Ami
            } else {
                return None;
            };
            (framing, coding, false)
        }
    };
    Some(SpanConfig {
        kind,
        framing,
        coding,
        crc4,
        timing_priority,
        lbo,
    })
}

impl DahdiLineconfig {
    /// The `DAHDI_SPANCONFIG` argument for one span.
    pub fn new(span: SpanId, config: &SpanConfig) -> Result<Self, ConvertError> {
        Ok(DahdiLineconfig {
            span: i32::from(span.0),
            name: [0; 20],
            lbo: i32::from(config.lbo),
            lineconfig: line_config_bits(config)?.bits() as i32,
            sync: i32::from(config.timing_priority),
        })
    }
}

impl DahdiChanconfig {
    /// The `DAHDI_CHANCONFIG` argument giving channel `channo` a signalling type.
    pub fn new(channo: i32, sigtype: SigType, deflaw: RawLaw) -> Self {
        DahdiChanconfig {
            chan: channo,
            sigtype: sigtype.raw(),
            deflaw: deflaw.raw(),
            ..Default::default()
        }
    }
}

/// A span's kind from `dahdi_spaninfo.spantype` ("E1", "T1", "J1"), falling back on its
/// channel count (31 or 24) when a driver leaves the type empty.
pub fn span_kind(spantype: &str, totalchans: i32) -> Result<SpanKind, ConvertError> {
    match spantype {
        "E1" => Ok(SpanKind::E1),
        "T1" | "J1" => Ok(SpanKind::T1),
        _ => match totalchans {
            31 => Ok(SpanKind::E1),
            24 => Ok(SpanKind::T1),
            _ => Err(ConvertError::UnknownSpanType {
                spantype: spantype.to_owned(),
                totalchans,
            }),
        },
    }
}

/// Alarm bits as DAHDI reports them; unknown bits are kept.
pub fn alarms_from_raw(raw: i32) -> Alarms {
    Alarms::from_bits_retain(raw as u32)
}

/// The event for a `DAHDI_GETEVENT` result; `None` for `DAHDI_EVENT_NONE`.
pub fn event_from_raw(raw: i32) -> Option<Event> {
    if raw == DAHDI_EVENT_NONE {
        None
    } else {
        Some(Event::from_code(raw as u32))
    }
}

impl DahdiSpaninfo {
    /// The `DAHDI_SPANSTAT` argument asking about span `span`.
    pub fn query(span: SpanId) -> Self {
        DahdiSpaninfo {
            spanno: i32::from(span.0),
            ..Default::default()
        }
    }

    /// The span's status as the device trait reports it. `timing_priority` is what this
    /// process configured (DAHDI does not report it back); slips are not counted by
    /// DAHDI's span statistics: `None`.
    pub fn to_status(&self, timing_priority: u8) -> Result<SpanStatus, ConvertError> {
        let spanno = self.spanno;
        let totalchans = self.totalchans;
        let span = u16::try_from(spanno).map_err(|_| ConvertError::SpanNumber(spanno))?;
        let kind = span_kind(&c_chars_to_string(&self.spantype), totalchans)?;
        let alarms = alarms_from_raw(self.alarms);
        let lineconfig = LineConfig::from_bits_retain(self.lineconfig as u32);
        let lbo = u8::try_from(self.lbo).unwrap_or(0);
        let configured = span_config_from_bits(kind, lineconfig, lbo, timing_priority);
        let count = |v: i32| u32::try_from(v).unwrap_or(0);
        Ok(SpanStatus {
            span: SpanId(span),
            name: c_chars_to_string(&self.name),
            description: c_chars_to_string(&self.desc),
            kind,
            configured,
            alarms,
            slips: None,
            bpv_count: count(self.bpvcount),
            crc4_count: count(self.crc4count),
            fas_count: count(self.fascount),
            is_sync_source: self.syncsrc != 0 && self.syncsrc == spanno,
            channels: u8::try_from(totalchans).unwrap_or(0),
        })
    }
}

impl DahdiParams {
    /// The `DAHDI_GET_PARAMS` argument asking about channel `channo` (0: the fd's own).
    pub fn query(channo: i32) -> Self {
        DahdiParams {
            channo,
            ..Default::default()
        }
    }
    /// The channel number with [`DAHDI_GET_PARAMS_RETURN_MASTER`] masked off.
    pub fn channel_number(&self) -> i32 {
        self.channo & !DAHDI_GET_PARAMS_RETURN_MASTER
    }
    pub fn sig(&self) -> SigType {
        SigType::from_raw(self.sigtype)
    }
}

impl DahdiBufferinfo {
    /// `numbufs` buffers of `bufsize` bytes, transmit starting as `policy` says (DAHDI
    /// ignores the receive policy and always delivers immediately).
    pub fn new(policy: BufPolicy, numbufs: usize, bufsize: usize) -> Self {
        DahdiBufferinfo {
            txbufpolicy: policy.raw(),
            rxbufpolicy: BufPolicy::Immediate.raw(),
            numbufs: numbufs as i32,
            bufsize: bufsize as i32,
            readbufs: 0,
            writebufs: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e1_pri_is_0x700() {
        let bits = line_config_bits(&SpanConfig::e1_pri(1)).unwrap();
        assert_eq!(bits.bits(), 0x700);
        let lc = DahdiLineconfig::new(SpanId(2), &SpanConfig::e1_pri(1)).unwrap();
        assert_eq!((lc.span, lc.lineconfig, lc.sync, lc.lbo), (2, 0x700, 1, 0));
    }

    #[test]
    fn t1_pri_is_esf_b8zs() {
        let bits = line_config_bits(&SpanConfig::t1_pri(0)).unwrap();
        assert_eq!(bits, LineConfig::ESF | LineConfig::B8ZS);
    }

    #[test]
    fn mismatched_lines_are_refused() {
        let mut c = SpanConfig::e1_pri(1);
        c.coding = LineCoding::B8zs;
        assert!(line_config_bits(&c).is_err());
        let mut c = SpanConfig::t1_pri(1);
        c.crc4 = true;
        assert!(line_config_bits(&c).is_err());
        let mut c = SpanConfig::t1_pri(1);
        c.framing = Framing::Ccs;
        assert!(line_config_bits(&c).is_err());
    }

    #[test]
    fn line_config_round_trips() {
        let configs = [
            SpanConfig::e1_pri(1),
            SpanConfig::t1_pri(2),
            SpanConfig {
                kind: SpanKind::E1,
                framing: Framing::Cas,
                coding: LineCoding::Ami,
                crc4: false,
                timing_priority: 0,
                lbo: 0,
            },
            SpanConfig {
                kind: SpanKind::T1,
                framing: Framing::D4,
                coding: LineCoding::Ami,
                crc4: false,
                timing_priority: 3,
                lbo: 2,
            },
        ];
        for c in configs {
            let bits = line_config_bits(&c).unwrap();
            let back = span_config_from_bits(c.kind, bits, c.lbo, c.timing_priority);
            assert_eq!(back, Some(c));
        }
        assert_eq!(
            span_config_from_bits(SpanKind::T1, LineConfig::empty(), 0, 0),
            None
        );
    }

    #[test]
    fn spaninfo_to_status() {
        let mut si = DahdiSpaninfo::query(SpanId(1));
        string_to_c_chars("TE2/0/1", &mut si.name);
        string_to_c_chars("T2XXP (PCI) Card 0 Span 1", &mut si.desc);
        string_to_c_chars("E1", &mut si.spantype);
        si.alarms = (DAHDI_ALARM_RED | DAHDI_ALARM_LOS) as i32;
        si.lineconfig = 0x700;
        si.totalchans = 31;
        si.syncsrc = 1;
        si.bpvcount = 7;
        si.crc4count = -1;
        let st = si.to_status(1).unwrap();
        assert_eq!(st.span, SpanId(1));
        assert_eq!(st.name, "TE2/0/1");
        assert_eq!(st.kind, SpanKind::E1);
        assert_eq!(st.configured, Some(SpanConfig::e1_pri(1)));
        assert_eq!(st.alarms, Alarms::RED | Alarms::LOS);
        assert!(st.is_sync_source);
        assert_eq!(st.channels, 31);
        assert_eq!(st.bpv_count, 7);
        assert_eq!(st.crc4_count, 0);

        let mut bad = DahdiSpaninfo::query(SpanId(1));
        bad.totalchans = 4;
        string_to_c_chars("FXS", &mut bad.spantype);
        assert!(bad.to_status(0).is_err());
        bad.spanno = -3;
        assert_eq!(bad.to_status(0), Err(ConvertError::SpanNumber(-3)));
    }

    #[test]
    fn params_mask_return_master() {
        let p = DahdiParams::query(16 | DAHDI_GET_PARAMS_RETURN_MASTER);
        assert_eq!(p.channel_number(), 16);
    }

    #[test]
    fn events_and_laws() {
        assert_eq!(event_from_raw(DAHDI_EVENT_NONE), None);
        assert_eq!(event_from_raw(DAHDI_EVENT_BADFCS), Some(Event::BadFcs));
        assert_eq!(event_from_raw(DAHDI_EVENT_ALARM), Some(Event::Alarm));
        assert_eq!(event_from_raw(17), Some(Event::Other(17)));
        assert_eq!(RawLaw::from(Law::ALaw).raw(), DAHDI_LAW_ALAW);
        assert_eq!(RawLaw::Default.resolve(SpanKind::T1), Law::MuLaw);
        assert_eq!(alarms_from_raw(0x1 << 12).bits(), 1 << 12);
    }
}
