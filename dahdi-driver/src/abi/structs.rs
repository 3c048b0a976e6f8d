//! The argument structs of DAHDI's ioctls, laid out exactly as in `dahdi/user.h`.
//!
//! Field names are the header's, so `offset_of!(DahdiSpaninfo, alarms)` reads like
//! `offsetof(struct dahdi_spaninfo, alarms)`; `tests/abi_header.rs` compares both.
//! All are plain old data: `Default` gives the all-zero value the kernel expects
//! for unused fields.

use libc::{c_char, c_int, c_long, c_uchar, c_ushort, c_void};

use super::consts::{DAHDI_MAX_CADENCE, DAHDI_MAX_DTMF_BUF};

/// `struct dahdi_params` (`DAHDI_GET_PARAMS`, `DAHDI_SET_PARAMS`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DahdiParams {
    /// Channel number; on `GET_PARAMS` 0 means the fd's own channel. `dahdi_cfg`
    /// sets [`DAHDI_GET_PARAMS_RETURN_MASTER`](super::consts::DAHDI_GET_PARAMS_RETURN_MASTER).
    pub channo: c_int,
    pub spanno: c_int,
    pub chanpos: c_int,
    pub sigtype: c_int,
    pub sigcap: c_int,
    pub rxisoffhook: c_int,
    pub rxbits: c_int,
    pub txbits: c_int,
    pub txhooksig: c_int,
    pub rxhooksig: c_int,
    pub curlaw: c_int,
    pub idlebits: c_int,
    pub name: [c_char; 40],
    pub prewinktime: c_int,
    pub preflashtime: c_int,
    pub winktime: c_int,
    pub flashtime: c_int,
    pub starttime: c_int,
    pub rxwinktime: c_int,
    pub rxflashtime: c_int,
    pub debouncetime: c_int,
    pub pulsebreaktime: c_int,
    pub pulsemaketime: c_int,
    pub pulseaftertime: c_int,
    pub chan_alarms: u32,
}

/// `struct dahdi_spaninfo` (`DAHDI_SPANSTAT`), `__attribute__((packed))`: 314 bytes.
#[repr(C, packed)]
#[derive(Debug, Clone, Copy)]
pub struct DahdiSpaninfo {
    pub spanno: c_int,
    pub name: [c_char; 20],
    pub desc: [c_char; 40],
    pub alarms: c_int,
    pub txlevel: c_int,
    pub rxlevel: c_int,
    pub bpvcount: c_int,
    pub crc4count: c_int,
    pub ebitcount: c_int,
    pub fascount: c_int,
    pub fecount: u32,
    pub cvcount: u32,
    pub becount: u32,
    pub prbs: u32,
    pub errsec: u32,
    pub irqmisses: c_int,
    /// Span number of the current timing source, 0 when free-running.
    pub syncsrc: c_int,
    pub numchans: c_int,
    pub totalchans: c_int,
    pub totalspans: c_int,
    pub lbo: c_int,
    pub lineconfig: c_int,
    pub lboname: [c_char; 40],
    pub location: [c_char; 40],
    pub manufacturer: [c_char; 40],
    pub devicetype: [c_char; 40],
    pub irq: c_int,
    pub linecompat: c_int,
    /// "E1", "T1", "J1", "BRI", "FXS", "FXO", ...
    pub spantype: [c_char; 6],
}

/// `struct dahdi_spaninfo_v1` (`DAHDI_SPANSTAT_V1`, the older layout, not packed).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DahdiSpaninfoV1 {
    pub spanno: c_int,
    pub name: [c_char; 20],
    pub desc: [c_char; 40],
    pub alarms: c_int,
    pub txlevel: c_int,
    pub rxlevel: c_int,
    pub bpvcount: c_int,
    pub crc4count: c_int,
    pub ebitcount: c_int,
    pub fascount: c_int,
    pub irqmisses: c_int,
    pub syncsrc: c_int,
    pub numchans: c_int,
    pub totalchans: c_int,
    pub totalspans: c_int,
    pub lbo: c_int,
    pub lineconfig: c_int,
    pub lboname: [c_char; 40],
    pub location: [c_char; 40],
    pub manufacturer: [c_char; 40],
    pub devicetype: [c_char; 40],
    pub irq: c_int,
    pub linecompat: c_int,
    pub spantype: [c_char; 6],
}

/// `struct dahdi_maintinfo` (`DAHDI_MAINT`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct DahdiMaintinfo {
    pub spanno: c_int,
    /// One of `DAHDI_MAINT_*` / `DAHDI_RESET_COUNTERS`.
    pub command: c_int,
}

/// `struct dahdi_confinfo` (`DAHDI_GETCONF`, `DAHDI_SETCONF`, `DAHDI_CONFLINK`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct DahdiConfinfo {
    pub chan: c_int,
    pub confno: c_int,
    pub confmode: c_int,
}

/// `struct dahdi_gains` (`DAHDI_GETGAINS`, `DAHDI_SETGAINS`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DahdiGains {
    pub chan: c_int,
    pub rxgain: [c_uchar; 256],
    pub txgain: [c_uchar; 256],
}

/// `struct dahdi_lineconfig` (`DAHDI_SPANCONFIG`, one `span=` line of `system.conf`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct DahdiLineconfig {
    pub span: c_int,
    pub name: [c_char; 20],
    pub lbo: c_int,
    /// `DAHDI_CONFIG_*` bits.
    pub lineconfig: c_int,
    /// Timing priority: 0 never a clock source, 1 the first choice.
    pub sync: c_int,
}

/// `struct dahdi_chanconfig` (`DAHDI_CHANCONFIG`, one channel of `system.conf`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DahdiChanconfig {
    pub chan: c_int,
    pub name: [c_char; 40],
    /// `DAHDI_SIG_*`.
    pub sigtype: c_int,
    /// `DAHDI_LAW_*`.
    pub deflaw: c_int,
    pub master: c_int,
    pub idlebits: c_int,
    pub netdev_name: [c_char; 16],
}

/// `struct dahdi_tone_def` (follows a [`DahdiToneDefHeader`] in `DAHDI_LOADZONE`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct DahdiToneDef {
    pub tone: c_int,
    pub next: c_int,
    pub samples: c_int,
    pub shift: c_int,
    pub fac1: c_int,
    pub init_v2_1: c_int,
    pub init_v3_1: c_int,
    pub fac2: c_int,
    pub init_v2_2: c_int,
    pub init_v3_2: c_int,
    pub modulate: c_int,
}

/// `struct dahdi_tone_def_header` (`DAHDI_LOADZONE`); `count` [`DahdiToneDef`]s follow
/// it in memory (the header's flexible array member `tones[0]`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DahdiToneDefHeader {
    pub count: c_int,
    pub zone: c_int,
    pub ringcadence: [c_int; DAHDI_MAX_CADENCE],
    pub name: [c_char; 40],
}

/// `struct dahdi_bufferinfo` (`DAHDI_GET_BUFINFO`, `DAHDI_SET_BUFINFO`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct DahdiBufferinfo {
    /// `DAHDI_POLICY_*`.
    pub txbufpolicy: c_int,
    pub rxbufpolicy: c_int,
    pub numbufs: c_int,
    pub bufsize: c_int,
    pub readbufs: c_int,
    pub writebufs: c_int,
}

/// `struct dahdi_dialparams` (`DAHDI_GET_DIALPARAMS`, `DAHDI_SET_DIALPARAMS`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct DahdiDialparams {
    pub mfv1_tonelen: c_int,
    pub dtmf_tonelen: c_int,
    pub mfr2_tonelen: c_int,
    pub reserved: [c_int; 3],
}

/// `struct dahdi_dialoperation` (`DAHDI_DIAL`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DahdiDialoperation {
    pub op: c_int,
    pub dialstr: [c_char; DAHDI_MAX_DTMF_BUF],
}

/// `struct dahdi_echocanparam`: one named echo canceller parameter.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct DahdiEchocanparam {
    pub name: [c_char; 16],
    pub value: i32,
}

/// `struct dahdi_echocanparams` (`DAHDI_ECHOCANCEL_PARAMS`); `param_count`
/// [`DahdiEchocanparam`]s follow it in memory.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct DahdiEchocanparams {
    /// 8 taps per millisecond.
    pub tap_length: u32,
    pub param_count: u32,
}

/// `struct dahdi_ring_cadence` (`DAHDI_SETCADENCE`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct DahdiRingCadence {
    pub ringcadence: [c_int; DAHDI_MAX_CADENCE],
}

/// `struct dahdi_indirect_data` (`DAHDI_INDIRECT`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DahdiIndirectData {
    pub chan: c_int,
    pub op: c_int,
    pub data: *mut c_void,
}

/// `struct dahdi_versioninfo` (`DAHDI_GETVERSION`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DahdiVersioninfo {
    pub version: [c_char; 80],
    pub echo_canceller: [c_char; 80],
}

/// `struct dahdi_attach_echocan` (`DAHDI_ATTACH_ECHOCAN`, `echocanceller=` lines).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct DahdiAttachEchocan {
    pub chan: c_int,
    pub echocan: [c_char; 16],
}

/// `struct dahdi_dynamic_span` (`DAHDI_DYNAMIC_CREATE`, `DAHDI_DYNAMIC_DESTROY`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DahdiDynamicSpan {
    pub driver: [c_char; 20],
    pub addr: [c_char; 40],
    pub numchans: c_int,
    pub timing: c_int,
    pub spanno: c_int,
}

/// `struct dahdi_hwgain` (`DAHDI_SET_HWGAIN`). The header's `__u32 tx:1` bit-field is
/// the low bit of `flags` (x86/ARM little-endian bit-field allocation).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct DahdiHwgain {
    /// Gain in dB × 10.
    pub newgain: i32,
    /// Bit 0: `tx` (0 = receive, 1 = transmit).
    pub flags: u32,
}

/// `struct dahdi_vmwi_info` (`DAHDI_VMWI_CONFIG`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct DahdiVmwiInfo {
    pub vmwi_type: libc::c_uint,
}

/// `struct dahdi_radio_stat` (`DAHDI_RADIO_GETSTAT`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct DahdiRadioStat {
    pub ctcode_rx: c_ushort,
    pub ctclass: c_ushort,
    pub ctcode_tx: c_ushort,
    pub radstat: c_uchar,
}

/// `struct dahdi_radio_param` (`DAHDI_RADIO_GETPARAM`, `DAHDI_RADIO_SETPARAM`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DahdiRadioParam {
    pub radpar: c_ushort,
    pub index: c_ushort,
    pub data: c_int,
    pub data2: c_int,
    pub buf: [c_uchar; 128],
}

/// `struct dahdi_sfconfig` (`DAHDI_SFCONFIG`); its `long`s make it 88 bytes on LP64.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DahdiSfconfig {
    pub chan: c_int,
    pub name: [c_char; 40],
    pub rxp1: c_long,
    pub rxp2: c_long,
    pub rxp3: c_long,
    pub txtone: c_int,
    pub tx_v2: c_int,
    pub tx_v3: c_int,
    pub toneflag: c_int,
}

macro_rules! zeroed_default {
    ($($t:ty),* $(,)?) => {$(
        impl Default for $t {
            fn default() -> Self {
                // SAFETY: plain old data made of integers and integer arrays (and, for
                // none of these, pointers): the all-zero bit pattern is a valid value.
                unsafe { std::mem::zeroed() }
            }
        }
    )*};
}
zeroed_default!(
    DahdiParams,
    DahdiSpaninfo,
    DahdiSpaninfoV1,
    DahdiGains,
    DahdiChanconfig,
    DahdiToneDefHeader,
    DahdiDialoperation,
    DahdiVersioninfo,
    DahdiDynamicSpan,
    DahdiRadioParam,
    DahdiSfconfig,
);

impl Default for DahdiIndirectData {
    fn default() -> Self {
        DahdiIndirectData {
            chan: 0,
            op: 0,
            data: std::ptr::null_mut(),
        }
    }
}

/// Reads a NUL-terminated C string out of a fixed `char` array (lossy UTF-8; stops at
/// the array's end if no NUL is present, as the kernel may fill it completely).
pub fn c_chars_to_string(chars: &[c_char]) -> String {
    let bytes: Vec<u8> = chars
        .iter()
        .map(|&c| c as u8)
        .take_while(|&b| b != 0)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Writes `s` into a fixed `char` array, NUL-terminated and truncated to fit (like
/// `dahdi_copy_string`); the rest of the array is zeroed.
pub fn string_to_c_chars(s: &str, out: &mut [c_char]) {
    out.fill(0);
    let room = out.len().saturating_sub(1);
    for (dst, &b) in out.iter_mut().zip(s.as_bytes().iter().take(room)) {
        *dst = b as c_char;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn field_notes_sizes() {
        assert_eq!(size_of::<DahdiSpaninfo>(), 314);
        assert_eq!(size_of::<DahdiParams>(), 136);
        assert_eq!(size_of::<DahdiLineconfig>(), 36);
        assert_eq!(size_of::<DahdiChanconfig>(), 76);
        assert_eq!(offset_of!(DahdiSpaninfo, spantype), 308);
    }

    #[test]
    fn c_strings_round_trip_and_truncate() {
        let mut name = [0 as c_char; 6];
        string_to_c_chars("E1", &mut name);
        assert_eq!(c_chars_to_string(&name), "E1");
        string_to_c_chars("TOOLONGNAME", &mut name);
        assert_eq!(c_chars_to_string(&name), "TOOLO");
        assert_eq!(name[5], 0);
        // A completely filled array (no NUL) still reads.
        let full = [b'A' as c_char; 4];
        assert_eq!(c_chars_to_string(&full), "AAAA");
    }
}
