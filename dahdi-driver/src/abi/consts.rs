//! Constants of the DAHDI userspace ABI (`dahdi/user.h`), as typed values where the
//! gateway uses them and as the header's plain numbers in [`CONSTANTS`] for the ABI test.

use bitflags::bitflags;

/// `ELAST`: the errno a channel `read`/`write` fails with while an event is queued.
pub const ELAST: i32 = 500;

/// `DAHDI_MAJOR`: the character device major number of `/dev/dahdi/*`.
pub const DAHDI_MAJOR: u32 = 196;
/// Samples per channel per DAHDI tick (`DAHDI_CHUNKSIZE` in `dahdi/kernel.h`): 8 samples
/// = 1 ms at 8 kHz.
pub const DAHDI_CHUNKSIZE: usize = 8;
pub const DAHDI_MAX_BLOCKSIZE: usize = 8192;
pub const DAHDI_DEFAULT_NUM_BUFS: usize = 2;
pub const DAHDI_MAX_NUM_BUFS: usize = 32;
pub const DAHDI_MAX_BUF_SPACE: usize = 32768;
pub const DAHDI_DEFAULT_BLOCKSIZE: usize = 1024;
pub const DAHDI_DEFAULT_MTU_MRU: usize = 2048;
/// Set by `dahdi_cfg` on `dahdi_params.channo` in `GET_PARAMS`: mask it off.
pub const DAHDI_GET_PARAMS_RETURN_MASTER: i32 = 0x4000_0000;
pub const DAHDI_TONE_ZONE_MAX: i32 = 128;
pub const DAHDI_TONE_ZONE_DEFAULT: i32 = -1;
pub const DAHDI_MAX_CADENCE: usize = 16;
pub const DAHDI_MAX_DTMF_BUF: usize = 256;
pub const DAHDI_MAX_EVENTSIZE: usize = 64;
pub const DAHDI_MAX_SPANS: usize = 128;
pub const DAHDI_MAX_CHANNELS: usize = 1024;
pub const DAHDI_MAX_CONF: usize = 1024;
pub const DAHDI_MAX_ECHOCANPARAMS: usize = 8;

pub const DAHDI_DIAL_OP_APPEND: i32 = 1;
pub const DAHDI_DIAL_OP_REPLACE: i32 = 2;
pub const DAHDI_DIAL_OP_CANCEL: i32 = 3;

bitflags! {
    /// `dahdi_lineconfig.lineconfig` / `dahdi_spaninfo.lineconfig`: `DAHDI_CONFIG_*`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct LineConfig: u32 {
        /// Bits 0-2: transmit level.
        const TXLEVEL = 7;
        /// T1 superframe (D4/SF).
        const D4 = 1 << 4;
        /// T1 extended superframe.
        const ESF = 1 << 5;
        /// AMI line coding (T1 or E1).
        const AMI = 1 << 6;
        /// T1 B8ZS line coding.
        const B8ZS = 1 << 7;
        /// E1 common channel signalling (ISDN) rather than CAS.
        const CCS = 1 << 8;
        /// E1 HDB3 line coding.
        const HDB3 = 1 << 9;
        /// E1 CRC-4 multiframe.
        const CRC4 = 1 << 10;
        /// BRI: NT mode.
        const NTTE = 1 << 11;
        /// BRI: termination resistor.
        const TERM = 1 << 12;
        const NOTOPEN = 1 << 16;
    }
}

/// A channel's signalling type (`dahdi_chanconfig.sigtype`, `dahdi_params.sigtype`):
/// `DAHDI_SIG_*`. The values nest (HDLCFCS includes HDLCRAW includes CLEAR), hence a
/// value type with [`SigType::includes`] rather than an enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SigType(pub u32);

impl SigType {
    pub const NONE: SigType = SigType(0);
    pub const FXSLS: SigType = SigType(1 | Self::FXS_BIT);
    pub const FXSGS: SigType = SigType((1 << 1) | Self::FXS_BIT);
    pub const FXSKS: SigType = SigType((1 << 2) | Self::FXS_BIT);
    pub const FXOLS: SigType = SigType((1 << 3) | Self::FXO_BIT);
    pub const FXOGS: SigType = SigType((1 << 4) | Self::FXO_BIT);
    pub const FXOKS: SigType = SigType((1 << 5) | Self::FXO_BIT);
    pub const EM: SigType = SigType(1 << 6);
    /// Clear channel: 64 kbit/s passed through untouched (`bchan=`).
    pub const CLEAR: SigType = SigType(1 << 7);
    /// HDLC framing without FCS checking.
    pub const HDLCRAW: SigType = SigType((1 << 8) | Self::CLEAR.0);
    /// HDLC with FCS computed and checked by DAHDI (`dchan=`).
    pub const HDLCFCS: SigType = SigType((1 << 9) | Self::HDLCRAW.0);
    pub const HDLCNET: SigType = SigType((1 << 10) | Self::HDLCFCS.0);
    pub const SLAVE: SigType = SigType(1 << 11);
    pub const SF: SigType = SigType(1 << 14);
    pub const CAS: SigType = SigType(1 << 15);
    pub const DACS: SigType = SigType(Self::DACS_BIT | Self::CLEAR.0);
    pub const EM_E1: SigType = SigType(1 << 17);
    pub const DACS_RBS: SigType = SigType((1 << 18) | Self::DACS_BIT);
    /// HDLC done by the card (`hardhdlc=`): frames still carry the 2 FCS bytes on read.
    pub const HARDHDLC: SigType = SigType((1 << 19) | Self::CLEAR.0);
    pub const MTP2: SigType = SigType((1 << 20) | Self::HDLCFCS.0);
    pub const BROKEN: SigType = SigType(1 << 31);

    const FXO_BIT: u32 = 1 << 12;
    const FXS_BIT: u32 = 1 << 13;
    const DACS_BIT: u32 = 1 << 16;

    /// Whether every bit of `other` is set in `self` (the header's
    /// `(sig & X) == X` idiom).
    pub const fn includes(self, other: SigType) -> bool {
        self.0 & other.0 == other.0
    }
    /// The value as the header's `int` field carries it.
    pub const fn raw(self) -> i32 {
        self.0 as i32
    }
    pub const fn from_raw(raw: i32) -> SigType {
        SigType(raw as u32)
    }
    /// Whether a channel with this signalling delivers HDLC frames with their FCS.
    pub const fn is_hdlc_fcs(self) -> bool {
        self.includes(SigType::HDLCFCS) || self.includes(SigType::HARDHDLC)
    }
}

/// `DAHDI_LAW_*`: companding law of a channel (`DAHDI_SETLAW`, `dahdi_params.curlaw`,
/// `dahdi_chanconfig.deflaw`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RawLaw {
    /// The span's default law (`DAHDI_LAW_DEFAULT`).
    Default,
    MuLaw,
    ALaw,
}

pub const DAHDI_LAW_DEFAULT: i32 = 0;
pub const DAHDI_LAW_MULAW: i32 = 1;
pub const DAHDI_LAW_ALAW: i32 = 2;

impl RawLaw {
    pub const fn raw(self) -> i32 {
        match self {
            RawLaw::Default => DAHDI_LAW_DEFAULT,
            RawLaw::MuLaw => DAHDI_LAW_MULAW,
            RawLaw::ALaw => DAHDI_LAW_ALAW,
        }
    }
    pub const fn from_raw(raw: i32) -> Option<RawLaw> {
        match raw {
            DAHDI_LAW_DEFAULT => Some(RawLaw::Default),
            DAHDI_LAW_MULAW => Some(RawLaw::MuLaw),
            DAHDI_LAW_ALAW => Some(RawLaw::ALaw),
            _ => None,
        }
    }
}

/// `DAHDI_POLICY_*`: when buffered audio starts to play (`dahdi_bufferinfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BufPolicy {
    /// Start immediately (`DAHDI_POLICY_IMMEDIATE`).
    Immediate,
    /// Start when all buffers are full (`DAHDI_POLICY_WHEN_FULL`).
    WhenFull,
    /// Start when half the buffers are full; transmit only (`DAHDI_POLICY_HALF_FULL`).
    HalfFull,
}

pub const DAHDI_POLICY_IMMEDIATE: i32 = 0;
pub const DAHDI_POLICY_WHEN_FULL: i32 = 1;
pub const DAHDI_POLICY_HALF_FULL: i32 = 2;

impl BufPolicy {
    pub const fn raw(self) -> i32 {
        match self {
            BufPolicy::Immediate => DAHDI_POLICY_IMMEDIATE,
            BufPolicy::WhenFull => DAHDI_POLICY_WHEN_FULL,
            BufPolicy::HalfFull => DAHDI_POLICY_HALF_FULL,
        }
    }
    pub const fn from_raw(raw: i32) -> Option<BufPolicy> {
        match raw {
            DAHDI_POLICY_IMMEDIATE => Some(BufPolicy::Immediate),
            DAHDI_POLICY_WHEN_FULL => Some(BufPolicy::WhenFull),
            DAHDI_POLICY_HALF_FULL => Some(BufPolicy::HalfFull),
            _ => None,
        }
    }
}

bitflags! {
    /// `DAHDI_FLUSH` argument: `DAHDI_FLUSH_*`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct FlushFlags: u32 {
        const READ = 1;
        const WRITE = 2;
        const BOTH = 3;
        const EVENT = 4;
        const ALL = 7;
    }
}

bitflags! {
    /// `DAHDI_IOMUX` argument and result: `DAHDI_IOMUX_*`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct IomuxFlags: u32 {
        const READ = 1;
        const WRITE = 2;
        const WRITEEMPTY = 4;
        const SIGEVENT = 8;
        const NOWAIT = 0x100;
    }
}

/// `DAHDI_MAINT_*` commands of `dahdi_maintinfo.command`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MaintCommand(pub i32);

impl MaintCommand {
    pub const NONE: MaintCommand = MaintCommand(0);
    pub const LOCALLOOP: MaintCommand = MaintCommand(1);
    pub const REMOTELOOP: MaintCommand = MaintCommand(2);
    pub const NETWORKLINELOOP: MaintCommand = MaintCommand(2);
    pub const LOOPUP: MaintCommand = MaintCommand(3);
    pub const LOOPDOWN: MaintCommand = MaintCommand(4);
    pub const FAS_DEFECT: MaintCommand = MaintCommand(6);
    pub const MULTI_DEFECT: MaintCommand = MaintCommand(7);
    pub const CRC_DEFECT: MaintCommand = MaintCommand(8);
    pub const CAS_DEFECT: MaintCommand = MaintCommand(9);
    pub const PRBS_DEFECT: MaintCommand = MaintCommand(10);
    pub const BIPOLAR_DEFECT: MaintCommand = MaintCommand(11);
    pub const PRBS: MaintCommand = MaintCommand(12);
    pub const NETWORKPAYLOADLOOP: MaintCommand = MaintCommand(13);
    /// `DAHDI_RESET_COUNTERS`.
    pub const RESET_COUNTERS: MaintCommand = MaintCommand(14);
    pub const ALARM_SIM: MaintCommand = MaintCommand(15);
}

// Alarm bits (`DAHDI_ALARM_*`); typed as `crate::Alarms`.
pub const DAHDI_ALARM_NONE: u32 = 0;
pub const DAHDI_ALARM_RECOVER: u32 = 1 << 0;
pub const DAHDI_ALARM_LOOPBACK: u32 = 1 << 1;
pub const DAHDI_ALARM_YELLOW: u32 = 1 << 2;
pub const DAHDI_ALARM_RED: u32 = 1 << 3;
pub const DAHDI_ALARM_BLUE: u32 = 1 << 4;
pub const DAHDI_ALARM_NOTOPEN: u32 = 1 << 5;
pub const DAHDI_ALARM_LOS: u32 = 1 << 8;
pub const DAHDI_ALARM_LFA: u32 = 1 << 9;
pub const DAHDI_ALARM_LMFA: u32 = 1 << 10;

// Event codes (`DAHDI_EVENT_*`), returned by `DAHDI_GETEVENT`; typed as `crate::Event`.
pub const DAHDI_EVENT_NONE: i32 = 0;
pub const DAHDI_EVENT_ONHOOK: i32 = 1;
pub const DAHDI_EVENT_RINGOFFHOOK: i32 = 2;
pub const DAHDI_EVENT_WINKFLASH: i32 = 3;
pub const DAHDI_EVENT_ALARM: i32 = 4;
pub const DAHDI_EVENT_NOALARM: i32 = 5;
pub const DAHDI_EVENT_ABORT: i32 = 6;
pub const DAHDI_EVENT_OVERRUN: i32 = 7;
pub const DAHDI_EVENT_BADFCS: i32 = 8;
pub const DAHDI_EVENT_DIALCOMPLETE: i32 = 9;
pub const DAHDI_EVENT_RINGERON: i32 = 10;
pub const DAHDI_EVENT_RINGEROFF: i32 = 11;
pub const DAHDI_EVENT_HOOKCOMPLETE: i32 = 12;
pub const DAHDI_EVENT_BITSCHANGED: i32 = 13;
pub const DAHDI_EVENT_PULSE_START: i32 = 14;
pub const DAHDI_EVENT_TIMER_EXPIRED: i32 = 15;
pub const DAHDI_EVENT_TIMER_PING: i32 = 16;
pub const DAHDI_EVENT_POLARITY: i32 = 17;
pub const DAHDI_EVENT_RINGBEGIN: i32 = 18;
pub const DAHDI_EVENT_EC_DISABLED: i32 = 19;
pub const DAHDI_EVENT_REMOVED: i32 = 20;
pub const DAHDI_EVENT_NEONMWI_ACTIVE: i32 = 21;
pub const DAHDI_EVENT_NEONMWI_INACTIVE: i32 = 22;
pub const DAHDI_EVENT_TX_CED_DETECTED: i32 = 23;
pub const DAHDI_EVENT_RX_CED_DETECTED: i32 = 24;
pub const DAHDI_EVENT_TX_CNG_DETECTED: i32 = 25;
pub const DAHDI_EVENT_RX_CNG_DETECTED: i32 = 26;
pub const DAHDI_EVENT_EC_NLP_DISABLED: i32 = 27;
pub const DAHDI_EVENT_EC_NLP_ENABLED: i32 = 28;
pub const DAHDI_EVENT_READ_OVERRUN: i32 = 29;
pub const DAHDI_EVENT_WRITE_UNDERRUN: i32 = 30;
pub const DAHDI_EVENT_PULSEDIGIT: i32 = 1 << 16;
pub const DAHDI_EVENT_DTMFDOWN: i32 = 1 << 17;
pub const DAHDI_EVENT_DTMFUP: i32 = 1 << 18;

/// Every constant above by its header name, widened to `i64`, for the ABI test.
pub const CONSTANTS: &[(&str, i64)] = &[
    ("ELAST", ELAST as i64),
    ("DAHDI_MAJOR", DAHDI_MAJOR as i64),
    ("DAHDI_MAX_BLOCKSIZE", DAHDI_MAX_BLOCKSIZE as i64),
    ("DAHDI_DEFAULT_NUM_BUFS", DAHDI_DEFAULT_NUM_BUFS as i64),
    ("DAHDI_MAX_NUM_BUFS", DAHDI_MAX_NUM_BUFS as i64),
    ("DAHDI_MAX_BUF_SPACE", DAHDI_MAX_BUF_SPACE as i64),
    ("DAHDI_DEFAULT_BLOCKSIZE", DAHDI_DEFAULT_BLOCKSIZE as i64),
    ("DAHDI_DEFAULT_MTU_MRU", DAHDI_DEFAULT_MTU_MRU as i64),
    (
        "DAHDI_GET_PARAMS_RETURN_MASTER",
        DAHDI_GET_PARAMS_RETURN_MASTER as i64,
    ),
    ("DAHDI_TONE_ZONE_MAX", DAHDI_TONE_ZONE_MAX as i64),
    ("DAHDI_TONE_ZONE_DEFAULT", DAHDI_TONE_ZONE_DEFAULT as i64),
    ("DAHDI_MAX_CADENCE", DAHDI_MAX_CADENCE as i64),
    ("DAHDI_MAX_DTMF_BUF", DAHDI_MAX_DTMF_BUF as i64),
    ("DAHDI_MAX_EVENTSIZE", DAHDI_MAX_EVENTSIZE as i64),
    ("DAHDI_MAX_SPANS", DAHDI_MAX_SPANS as i64),
    ("DAHDI_MAX_CHANNELS", DAHDI_MAX_CHANNELS as i64),
    ("DAHDI_MAX_CONF", DAHDI_MAX_CONF as i64),
    ("DAHDI_MAX_ECHOCANPARAMS", DAHDI_MAX_ECHOCANPARAMS as i64),
    ("DAHDI_DIAL_OP_APPEND", DAHDI_DIAL_OP_APPEND as i64),
    ("DAHDI_DIAL_OP_REPLACE", DAHDI_DIAL_OP_REPLACE as i64),
    ("DAHDI_DIAL_OP_CANCEL", DAHDI_DIAL_OP_CANCEL as i64),
    ("DAHDI_CONFIG_TXLEVEL", LineConfig::TXLEVEL.bits() as i64),
    ("DAHDI_CONFIG_D4", LineConfig::D4.bits() as i64),
    ("DAHDI_CONFIG_ESF", LineConfig::ESF.bits() as i64),
    ("DAHDI_CONFIG_AMI", LineConfig::AMI.bits() as i64),
    ("DAHDI_CONFIG_B8ZS", LineConfig::B8ZS.bits() as i64),
    ("DAHDI_CONFIG_CCS", LineConfig::CCS.bits() as i64),
    ("DAHDI_CONFIG_HDB3", LineConfig::HDB3.bits() as i64),
    ("DAHDI_CONFIG_CRC4", LineConfig::CRC4.bits() as i64),
    ("DAHDI_CONFIG_NTTE", LineConfig::NTTE.bits() as i64),
    ("DAHDI_CONFIG_TERM", LineConfig::TERM.bits() as i64),
    ("DAHDI_CONFIG_NOTOPEN", LineConfig::NOTOPEN.bits() as i64),
    ("DAHDI_SIG_NONE", SigType::NONE.0 as i64),
    ("DAHDI_SIG_FXSLS", SigType::FXSLS.0 as i64),
    ("DAHDI_SIG_FXSGS", SigType::FXSGS.0 as i64),
    ("DAHDI_SIG_FXSKS", SigType::FXSKS.0 as i64),
    ("DAHDI_SIG_FXOLS", SigType::FXOLS.0 as i64),
    ("DAHDI_SIG_FXOGS", SigType::FXOGS.0 as i64),
    ("DAHDI_SIG_FXOKS", SigType::FXOKS.0 as i64),
    ("DAHDI_SIG_EM", SigType::EM.0 as i64),
    ("DAHDI_SIG_CLEAR", SigType::CLEAR.0 as i64),
    ("DAHDI_SIG_HDLCRAW", SigType::HDLCRAW.0 as i64),
    ("DAHDI_SIG_HDLCFCS", SigType::HDLCFCS.0 as i64),
    ("DAHDI_SIG_HDLCNET", SigType::HDLCNET.0 as i64),
    ("DAHDI_SIG_SLAVE", SigType::SLAVE.0 as i64),
    ("DAHDI_SIG_SF", SigType::SF.0 as i64),
    ("DAHDI_SIG_CAS", SigType::CAS.0 as i64),
    ("DAHDI_SIG_DACS", SigType::DACS.0 as i64),
    ("DAHDI_SIG_EM_E1", SigType::EM_E1.0 as i64),
    ("DAHDI_SIG_DACS_RBS", SigType::DACS_RBS.0 as i64),
    ("DAHDI_SIG_HARDHDLC", SigType::HARDHDLC.0 as i64),
    ("DAHDI_SIG_MTP2", SigType::MTP2.0 as i64),
    ("(unsigned)DAHDI_SIG_BROKEN", SigType::BROKEN.0 as i64),
    ("DAHDI_LAW_DEFAULT", DAHDI_LAW_DEFAULT as i64),
    ("DAHDI_LAW_MULAW", DAHDI_LAW_MULAW as i64),
    ("DAHDI_LAW_ALAW", DAHDI_LAW_ALAW as i64),
    ("DAHDI_POLICY_IMMEDIATE", DAHDI_POLICY_IMMEDIATE as i64),
    ("DAHDI_POLICY_WHEN_FULL", DAHDI_POLICY_WHEN_FULL as i64),
    ("DAHDI_POLICY_HALF_FULL", DAHDI_POLICY_HALF_FULL as i64),
    ("DAHDI_FLUSH_READ", FlushFlags::READ.bits() as i64),
    ("DAHDI_FLUSH_WRITE", FlushFlags::WRITE.bits() as i64),
    ("DAHDI_FLUSH_BOTH", FlushFlags::BOTH.bits() as i64),
    ("DAHDI_FLUSH_EVENT", FlushFlags::EVENT.bits() as i64),
    ("DAHDI_FLUSH_ALL", FlushFlags::ALL.bits() as i64),
    ("DAHDI_IOMUX_READ", IomuxFlags::READ.bits() as i64),
    ("DAHDI_IOMUX_WRITE", IomuxFlags::WRITE.bits() as i64),
    (
        "DAHDI_IOMUX_WRITEEMPTY",
        IomuxFlags::WRITEEMPTY.bits() as i64,
    ),
    ("DAHDI_IOMUX_SIGEVENT", IomuxFlags::SIGEVENT.bits() as i64),
    ("DAHDI_IOMUX_NOWAIT", IomuxFlags::NOWAIT.bits() as i64),
    ("DAHDI_MAINT_NONE", MaintCommand::NONE.0 as i64),
    ("DAHDI_MAINT_LOCALLOOP", MaintCommand::LOCALLOOP.0 as i64),
    ("DAHDI_MAINT_REMOTELOOP", MaintCommand::REMOTELOOP.0 as i64),
    (
        "DAHDI_MAINT_NETWORKLINELOOP",
        MaintCommand::NETWORKLINELOOP.0 as i64,
    ),
    ("DAHDI_MAINT_LOOPUP", MaintCommand::LOOPUP.0 as i64),
    ("DAHDI_MAINT_LOOPDOWN", MaintCommand::LOOPDOWN.0 as i64),
    ("DAHDI_MAINT_FAS_DEFECT", MaintCommand::FAS_DEFECT.0 as i64),
    (
        "DAHDI_MAINT_MULTI_DEFECT",
        MaintCommand::MULTI_DEFECT.0 as i64,
    ),
    ("DAHDI_MAINT_CRC_DEFECT", MaintCommand::CRC_DEFECT.0 as i64),
    ("DAHDI_MAINT_CAS_DEFECT", MaintCommand::CAS_DEFECT.0 as i64),
    (
        "DAHDI_MAINT_PRBS_DEFECT",
        MaintCommand::PRBS_DEFECT.0 as i64,
    ),
    (
        "DAHDI_MAINT_BIPOLAR_DEFECT",
        MaintCommand::BIPOLAR_DEFECT.0 as i64,
    ),
    ("DAHDI_MAINT_PRBS", MaintCommand::PRBS.0 as i64),
    (
        "DAHDI_MAINT_NETWORKPAYLOADLOOP",
        MaintCommand::NETWORKPAYLOADLOOP.0 as i64,
    ),
    (
        "DAHDI_RESET_COUNTERS",
        MaintCommand::RESET_COUNTERS.0 as i64,
    ),
    ("DAHDI_MAINT_ALARM_SIM", MaintCommand::ALARM_SIM.0 as i64),
    ("DAHDI_ALARM_NONE", DAHDI_ALARM_NONE as i64),
    ("DAHDI_ALARM_RECOVER", DAHDI_ALARM_RECOVER as i64),
    ("DAHDI_ALARM_LOOPBACK", DAHDI_ALARM_LOOPBACK as i64),
    ("DAHDI_ALARM_YELLOW", DAHDI_ALARM_YELLOW as i64),
    ("DAHDI_ALARM_RED", DAHDI_ALARM_RED as i64),
    ("DAHDI_ALARM_BLUE", DAHDI_ALARM_BLUE as i64),
    ("DAHDI_ALARM_NOTOPEN", DAHDI_ALARM_NOTOPEN as i64),
    ("DAHDI_ALARM_LOS", DAHDI_ALARM_LOS as i64),
    ("DAHDI_ALARM_LFA", DAHDI_ALARM_LFA as i64),
    ("DAHDI_ALARM_LMFA", DAHDI_ALARM_LMFA as i64),
    ("DAHDI_EVENT_NONE", DAHDI_EVENT_NONE as i64),
    ("DAHDI_EVENT_ONHOOK", DAHDI_EVENT_ONHOOK as i64),
    ("DAHDI_EVENT_RINGOFFHOOK", DAHDI_EVENT_RINGOFFHOOK as i64),
    ("DAHDI_EVENT_WINKFLASH", DAHDI_EVENT_WINKFLASH as i64),
    ("DAHDI_EVENT_ALARM", DAHDI_EVENT_ALARM as i64),
    ("DAHDI_EVENT_NOALARM", DAHDI_EVENT_NOALARM as i64),
    ("DAHDI_EVENT_ABORT", DAHDI_EVENT_ABORT as i64),
    ("DAHDI_EVENT_OVERRUN", DAHDI_EVENT_OVERRUN as i64),
    ("DAHDI_EVENT_BADFCS", DAHDI_EVENT_BADFCS as i64),
    ("DAHDI_EVENT_DIALCOMPLETE", DAHDI_EVENT_DIALCOMPLETE as i64),
    ("DAHDI_EVENT_RINGERON", DAHDI_EVENT_RINGERON as i64),
    ("DAHDI_EVENT_RINGEROFF", DAHDI_EVENT_RINGEROFF as i64),
    ("DAHDI_EVENT_HOOKCOMPLETE", DAHDI_EVENT_HOOKCOMPLETE as i64),
    ("DAHDI_EVENT_BITSCHANGED", DAHDI_EVENT_BITSCHANGED as i64),
    ("DAHDI_EVENT_PULSE_START", DAHDI_EVENT_PULSE_START as i64),
    (
        "DAHDI_EVENT_TIMER_EXPIRED",
        DAHDI_EVENT_TIMER_EXPIRED as i64,
    ),
    ("DAHDI_EVENT_TIMER_PING", DAHDI_EVENT_TIMER_PING as i64),
    ("DAHDI_EVENT_POLARITY", DAHDI_EVENT_POLARITY as i64),
    ("DAHDI_EVENT_RINGBEGIN", DAHDI_EVENT_RINGBEGIN as i64),
    ("DAHDI_EVENT_EC_DISABLED", DAHDI_EVENT_EC_DISABLED as i64),
    ("DAHDI_EVENT_REMOVED", DAHDI_EVENT_REMOVED as i64),
    (
        "DAHDI_EVENT_NEONMWI_ACTIVE",
        DAHDI_EVENT_NEONMWI_ACTIVE as i64,
    ),
    (
        "DAHDI_EVENT_NEONMWI_INACTIVE",
        DAHDI_EVENT_NEONMWI_INACTIVE as i64,
    ),
    (
        "DAHDI_EVENT_TX_CED_DETECTED",
        DAHDI_EVENT_TX_CED_DETECTED as i64,
    ),
    (
        "DAHDI_EVENT_RX_CED_DETECTED",
        DAHDI_EVENT_RX_CED_DETECTED as i64,
    ),
    (
        "DAHDI_EVENT_TX_CNG_DETECTED",
        DAHDI_EVENT_TX_CNG_DETECTED as i64,
    ),
    (
        "DAHDI_EVENT_RX_CNG_DETECTED",
        DAHDI_EVENT_RX_CNG_DETECTED as i64,
    ),
    (
        "DAHDI_EVENT_EC_NLP_DISABLED",
        DAHDI_EVENT_EC_NLP_DISABLED as i64,
    ),
    (
        "DAHDI_EVENT_EC_NLP_ENABLED",
        DAHDI_EVENT_EC_NLP_ENABLED as i64,
    ),
    ("DAHDI_EVENT_READ_OVERRUN", DAHDI_EVENT_READ_OVERRUN as i64),
    (
        "DAHDI_EVENT_WRITE_UNDERRUN",
        DAHDI_EVENT_WRITE_UNDERRUN as i64,
    ),
    ("DAHDI_EVENT_PULSEDIGIT", DAHDI_EVENT_PULSEDIGIT as i64),
    ("DAHDI_EVENT_DTMFDOWN", DAHDI_EVENT_DTMFDOWN as i64),
    ("DAHDI_EVENT_DTMFUP", DAHDI_EVENT_DTMFUP as i64),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_notes_values() {
        assert_eq!(SigType::CLEAR.0, 0x80);
        assert_eq!(SigType::HDLCRAW.0, 0x180);
        assert_eq!(SigType::HDLCFCS.0, 0x380);
        assert_eq!(SigType::HARDHDLC.0, 0x80080);
        let e1 = LineConfig::CCS | LineConfig::HDB3 | LineConfig::CRC4;
        assert_eq!(e1.bits(), 0x700);
    }

    #[test]
    fn sig_nesting() {
        assert!(SigType::HDLCFCS.includes(SigType::HDLCRAW));
        assert!(SigType::HDLCFCS.includes(SigType::CLEAR));
        assert!(!SigType::CLEAR.includes(SigType::HDLCRAW));
        assert!(SigType::HARDHDLC.is_hdlc_fcs());
        assert!(SigType::MTP2.is_hdlc_fcs());
        assert!(!SigType::HDLCRAW.is_hdlc_fcs());
        assert_eq!(SigType::from_raw(SigType::BROKEN.raw()), SigType::BROKEN);
    }

    #[test]
    fn law_and_policy_round_trip() {
        for law in [RawLaw::Default, RawLaw::MuLaw, RawLaw::ALaw] {
            assert_eq!(RawLaw::from_raw(law.raw()), Some(law));
        }
        assert_eq!(RawLaw::from_raw(3), None);
        for p in [
            BufPolicy::Immediate,
            BufPolicy::WhenFull,
            BufPolicy::HalfFull,
        ] {
            assert_eq!(BufPolicy::from_raw(p.raw()), Some(p));
        }
        assert_eq!(BufPolicy::from_raw(-1), None);
    }
}
