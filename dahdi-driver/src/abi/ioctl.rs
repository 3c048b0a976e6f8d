//! ioctl request numbers of the DAHDI userspace ABI (`dahdi/user.h`).
//!
//! Every number is built the way `<linux/ioctl.h>` builds it (`_IO`, `_IOR`, `_IOW`,
//! `_IOWR`) from DAHDI's ioctl code `0xDA` ([`DAHDI_CODE`]), the command number and the
//! size of the argument type, so a change of a struct's size shows up in the number
//! too. `tests/abi_header.rs` checks each against the C header.

use std::mem::size_of;

use super::structs::*;

/// `DAHDI_CODE`: the ioctl "type" byte of every DAHDI request.
pub const DAHDI_CODE: u8 = 0xDA;

// <asm-generic/ioctl.h>: nr in bits 0..8, type in 8..16, size in 16..30, direction in
// 30..32 on x86, ARM, arm64, RISC-V, s390, LoongArch; PowerPC, MIPS and SPARC use a
// 13-bit size and a 3-bit direction field with other direction values.
#[cfg(not(any(
    target_arch = "powerpc",
    target_arch = "powerpc64",
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "sparc",
    target_arch = "sparc64"
)))]
mod dir {
    pub const NONE: u32 = 0;
    pub const WRITE: u32 = 1;
    pub const READ: u32 = 2;
    pub const SIZE_BITS: u32 = 14;
}
#[cfg(any(
    target_arch = "powerpc",
    target_arch = "powerpc64",
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "sparc",
    target_arch = "sparc64"
))]
mod dir {
    pub const NONE: u32 = 1;
    pub const WRITE: u32 = 4;
    pub const READ: u32 = 2;
    pub const SIZE_BITS: u32 = 13;
}

/// An ioctl request number (`unsigned long` in the kernel, an `int`-sized value in
/// practice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Request(pub u32);

impl Request {
    /// The command number (`_IOC_NR`).
    pub const fn nr(self) -> u8 {
        (self.0 & 0xFF) as u8
    }
    /// The ioctl type byte (`_IOC_TYPE`), [`DAHDI_CODE`] for DAHDI's own requests.
    pub const fn kind(self) -> u8 {
        ((self.0 >> 8) & 0xFF) as u8
    }
    /// The argument size (`_IOC_SIZE`).
    pub const fn size(self) -> usize {
        ((self.0 >> 16) & ((1 << dir::SIZE_BITS) - 1)) as usize
    }
    /// Whether userspace passes data in (`_IOC_WRITE`).
    pub const fn writes(self) -> bool {
        (self.0 >> (16 + dir::SIZE_BITS)) & dir::WRITE != 0
    }
    /// Whether the kernel passes data out (`_IOC_READ`).
    pub const fn reads(self) -> bool {
        (self.0 >> (16 + dir::SIZE_BITS)) & dir::READ != 0
    }
}

/// `_IOC(dir, type, nr, size)`.
const fn ioc(direction: u32, kind: u8, nr: u8, size: usize) -> Request {
    // A size that does not fit the field is a bug in this table; fail the build.
    assert!(size < (1 << dir::SIZE_BITS));
    Request(
        (direction << (16 + dir::SIZE_BITS))
            | ((size as u32) << 16)
            | ((kind as u32) << 8)
            | nr as u32,
    )
}
/// `_IO(type, nr)`.
pub const fn io(kind: u8, nr: u8) -> Request {
    ioc(dir::NONE, kind, nr, 0)
}
/// `_IOR(type, nr, T)`.
pub const fn ior<T>(kind: u8, nr: u8) -> Request {
    ioc(dir::READ, kind, nr, size_of::<T>())
}
/// `_IOW(type, nr, T)`.
pub const fn iow<T>(kind: u8, nr: u8) -> Request {
    ioc(dir::WRITE, kind, nr, size_of::<T>())
}
/// `_IOWR(type, nr, T)`.
pub const fn iowr<T>(kind: u8, nr: u8) -> Request {
    ioc(dir::READ | dir::WRITE, kind, nr, size_of::<T>())
}

type Int = libc::c_int;

pub const DAHDI_GET_BLOCKSIZE: Request = ior::<Int>(DAHDI_CODE, 1);
pub const DAHDI_SET_BLOCKSIZE: Request = iow::<Int>(DAHDI_CODE, 1);
pub const DAHDI_FLUSH: Request = iow::<Int>(DAHDI_CODE, 3);
pub const DAHDI_SYNC: Request = io(DAHDI_CODE, 4);
pub const DAHDI_GET_PARAMS_V1: Request = ior::<DahdiParams>(DAHDI_CODE, 5);
pub const DAHDI_GET_PARAMS: Request = iowr::<DahdiParams>(DAHDI_CODE, 5);
pub const DAHDI_SET_PARAMS: Request = iow::<DahdiParams>(DAHDI_CODE, 5);
pub const DAHDI_HOOK: Request = iow::<Int>(DAHDI_CODE, 7);
pub const DAHDI_GETEVENT: Request = ior::<Int>(DAHDI_CODE, 8);
pub const DAHDI_IOMUX: Request = iowr::<Int>(DAHDI_CODE, 9);
pub const DAHDI_SPANSTAT: Request = iowr::<DahdiSpaninfo>(DAHDI_CODE, 10);
pub const DAHDI_SPANSTAT_V1: Request = iowr::<DahdiSpaninfoV1>(DAHDI_CODE, 10);
pub const DAHDI_MAINT: Request = iow::<DahdiMaintinfo>(DAHDI_CODE, 11);
pub const DAHDI_GETCONF_V1: Request = ior::<DahdiConfinfo>(DAHDI_CODE, 12);
pub const DAHDI_GETCONF: Request = iowr::<DahdiConfinfo>(DAHDI_CODE, 12);
pub const DAHDI_SETCONF_V1: Request = iow::<DahdiConfinfo>(DAHDI_CODE, 12);
pub const DAHDI_SETCONF: Request = iowr::<DahdiConfinfo>(DAHDI_CODE, 13);
pub const DAHDI_CONFLINK: Request = iow::<DahdiConfinfo>(DAHDI_CODE, 14);
pub const DAHDI_CONFDIAG_V1: Request = ior::<Int>(DAHDI_CODE, 15);
pub const DAHDI_CONFDIAG: Request = iow::<Int>(DAHDI_CODE, 15);
pub const DAHDI_GETGAINS_V1: Request = ior::<DahdiGains>(DAHDI_CODE, 16);
pub const DAHDI_GETGAINS: Request = iowr::<DahdiGains>(DAHDI_CODE, 16);
pub const DAHDI_SETGAINS: Request = iow::<DahdiGains>(DAHDI_CODE, 16);
pub const DAHDI_SPANCONFIG: Request = iow::<DahdiLineconfig>(DAHDI_CODE, 18);
pub const DAHDI_CHANCONFIG: Request = iow::<DahdiChanconfig>(DAHDI_CODE, 19);
pub const DAHDI_CONFMUTE: Request = iow::<Int>(DAHDI_CODE, 20);
pub const DAHDI_SENDTONE: Request = iow::<Int>(DAHDI_CODE, 21);
pub const DAHDI_GETTONEZONE: Request = ior::<Int>(DAHDI_CODE, 22);
pub const DAHDI_SETTONEZONE: Request = iow::<Int>(DAHDI_CODE, 22);
pub const DAHDI_DEFAULTZONE: Request = iow::<Int>(DAHDI_CODE, 24);
pub const DAHDI_LOADZONE: Request = iow::<DahdiToneDefHeader>(DAHDI_CODE, 25);
pub const DAHDI_FREEZONE: Request = iow::<Int>(DAHDI_CODE, 26);
pub const DAHDI_GET_BUFINFO: Request = ior::<DahdiBufferinfo>(DAHDI_CODE, 27);
pub const DAHDI_SET_BUFINFO: Request = iow::<DahdiBufferinfo>(DAHDI_CODE, 27);
pub const DAHDI_GET_DIALPARAMS: Request = ior::<DahdiDialparams>(DAHDI_CODE, 29);
pub const DAHDI_SET_DIALPARAMS: Request = iow::<DahdiDialparams>(DAHDI_CODE, 29);
pub const DAHDI_DIAL: Request = iow::<DahdiDialoperation>(DAHDI_CODE, 31);
pub const DAHDI_AUDIOMODE: Request = iow::<Int>(DAHDI_CODE, 32);
pub const DAHDI_ECHOCANCEL: Request = iow::<Int>(DAHDI_CODE, 33);
pub const DAHDI_ECHOCANCEL_PARAMS: Request = iow::<DahdiEchocanparams>(DAHDI_CODE, 33);
pub const DAHDI_CHANNO: Request = ior::<Int>(DAHDI_CODE, 34);
pub const DAHDI_DIALING: Request = ior::<Int>(DAHDI_CODE, 35);
pub const DAHDI_HDLCRAWMODE: Request = iow::<Int>(DAHDI_CODE, 36);
pub const DAHDI_HDLCFCSMODE: Request = iow::<Int>(DAHDI_CODE, 37);
pub const DAHDI_SPECIFY: Request = iow::<Int>(DAHDI_CODE, 38);
pub const DAHDI_SETLAW: Request = iow::<Int>(DAHDI_CODE, 39);
pub const DAHDI_SETLINEAR: Request = iow::<Int>(DAHDI_CODE, 40);
pub const DAHDI_HDLCPPP: Request = iow::<Int>(DAHDI_CODE, 41);
pub const DAHDI_SETCADENCE: Request = iow::<DahdiRingCadence>(DAHDI_CODE, 42);
pub const DAHDI_GETRXBITS: Request = ior::<Int>(DAHDI_CODE, 43);
pub const DAHDI_SETTXBITS: Request = iow::<Int>(DAHDI_CODE, 43);
pub const DAHDI_CHANDIAG_V1: Request = ior::<Int>(DAHDI_CODE, 44);
pub const DAHDI_CHANDIAG: Request = iow::<Int>(DAHDI_CODE, 44);
pub const DAHDI_SFCONFIG: Request = iow::<DahdiSfconfig>(DAHDI_CODE, 46);
pub const DAHDI_TIMERCONFIG: Request = iow::<Int>(DAHDI_CODE, 47);
pub const DAHDI_TIMERACK: Request = iow::<Int>(DAHDI_CODE, 48);
pub const DAHDI_GETCONFMUTE: Request = ior::<Int>(DAHDI_CODE, 49);
pub const DAHDI_ECHOTRAIN: Request = iow::<Int>(DAHDI_CODE, 50);
pub const DAHDI_TIMERPING: Request = io(DAHDI_CODE, 52);
pub const DAHDI_TIMERPONG: Request = io(DAHDI_CODE, 53);
pub const DAHDI_GETSIGFREEZE: Request = ior::<Int>(DAHDI_CODE, 54);
pub const DAHDI_SETSIGFREEZE: Request = iow::<Int>(DAHDI_CODE, 54);
pub const DAHDI_INDIRECT: Request = iowr::<DahdiIndirectData>(DAHDI_CODE, 56);
pub const DAHDI_GETVERSION: Request = ior::<DahdiVersioninfo>(DAHDI_CODE, 57);
pub const DAHDI_LOOPBACK: Request = iow::<Int>(DAHDI_CODE, 58);
pub const DAHDI_ATTACH_ECHOCAN: Request = iow::<DahdiAttachEchocan>(DAHDI_CODE, 59);
pub const DAHDI_DYNAMIC_CREATE: Request = iowr::<DahdiDynamicSpan>(DAHDI_CODE, 80);
pub const DAHDI_DYNAMIC_DESTROY: Request = iow::<DahdiDynamicSpan>(DAHDI_CODE, 81);
pub const DAHDI_SET_HWGAIN: Request = iow::<DahdiHwgain>(DAHDI_CODE, 86);
pub const DAHDI_TONEDETECT: Request = iow::<Int>(DAHDI_CODE, 91);
pub const DAHDI_SETPOLARITY: Request = iow::<Int>(DAHDI_CODE, 92);
pub const DAHDI_VMWI: Request = iowr::<Int>(DAHDI_CODE, 94);
pub const DAHDI_VMWI_CONFIG: Request = iow::<DahdiVmwiInfo>(DAHDI_CODE, 95);
pub const DAHDI_STARTUP: Request = iow::<Int>(DAHDI_CODE, 99);
pub const DAHDI_SHUTDOWN: Request = iow::<Int>(DAHDI_CODE, 100);
pub const DAHDI_HDLC_RATE: Request = iow::<Int>(DAHDI_CODE, 101);
pub const DAHDI_ECHOCANCEL_FAX_MODE: Request = iow::<Int>(DAHDI_CODE, 102);
pub const DAHDI_BUFFER_EVENTS: Request = iow::<Int>(DAHDI_CODE, 105);
/// Shares number 57 with [`DAHDI_GETVERSION`]; only radio channel drivers answer it.
pub const DAHDI_RADIO_GETSTAT: Request = ior::<DahdiRadioStat>(DAHDI_CODE, 57);
/// Shares number 58 with [`DAHDI_LOOPBACK`] (different size, so a different request).
pub const DAHDI_RADIO_GETPARAM: Request = ior::<DahdiRadioParam>(DAHDI_CODE, 58);
pub const DAHDI_RADIO_SETPARAM: Request = iow::<DahdiRadioParam>(DAHDI_CODE, 58);

/// Every request defined here with its header name, for tables, logs and the ABI test.
pub const REQUESTS: &[(&str, Request)] = &[
    ("DAHDI_GET_BLOCKSIZE", DAHDI_GET_BLOCKSIZE),
    ("DAHDI_SET_BLOCKSIZE", DAHDI_SET_BLOCKSIZE),
    ("DAHDI_FLUSH", DAHDI_FLUSH),
    ("DAHDI_SYNC", DAHDI_SYNC),
    ("DAHDI_GET_PARAMS_V1", DAHDI_GET_PARAMS_V1),
    ("DAHDI_GET_PARAMS", DAHDI_GET_PARAMS),
    ("DAHDI_SET_PARAMS", DAHDI_SET_PARAMS),
    ("DAHDI_HOOK", DAHDI_HOOK),
    ("DAHDI_GETEVENT", DAHDI_GETEVENT),
    ("DAHDI_IOMUX", DAHDI_IOMUX),
    ("DAHDI_SPANSTAT", DAHDI_SPANSTAT),
    ("DAHDI_SPANSTAT_V1", DAHDI_SPANSTAT_V1),
    ("DAHDI_MAINT", DAHDI_MAINT),
    ("DAHDI_GETCONF_V1", DAHDI_GETCONF_V1),
    ("DAHDI_GETCONF", DAHDI_GETCONF),
    ("DAHDI_SETCONF_V1", DAHDI_SETCONF_V1),
    ("DAHDI_SETCONF", DAHDI_SETCONF),
    ("DAHDI_CONFLINK", DAHDI_CONFLINK),
    ("DAHDI_CONFDIAG_V1", DAHDI_CONFDIAG_V1),
    ("DAHDI_CONFDIAG", DAHDI_CONFDIAG),
    ("DAHDI_GETGAINS_V1", DAHDI_GETGAINS_V1),
    ("DAHDI_GETGAINS", DAHDI_GETGAINS),
    ("DAHDI_SETGAINS", DAHDI_SETGAINS),
    ("DAHDI_SPANCONFIG", DAHDI_SPANCONFIG),
    ("DAHDI_CHANCONFIG", DAHDI_CHANCONFIG),
    ("DAHDI_CONFMUTE", DAHDI_CONFMUTE),
    ("DAHDI_SENDTONE", DAHDI_SENDTONE),
    ("DAHDI_GETTONEZONE", DAHDI_GETTONEZONE),
    ("DAHDI_SETTONEZONE", DAHDI_SETTONEZONE),
    ("DAHDI_DEFAULTZONE", DAHDI_DEFAULTZONE),
    ("DAHDI_LOADZONE", DAHDI_LOADZONE),
    ("DAHDI_FREEZONE", DAHDI_FREEZONE),
    ("DAHDI_GET_BUFINFO", DAHDI_GET_BUFINFO),
    ("DAHDI_SET_BUFINFO", DAHDI_SET_BUFINFO),
    ("DAHDI_GET_DIALPARAMS", DAHDI_GET_DIALPARAMS),
    ("DAHDI_SET_DIALPARAMS", DAHDI_SET_DIALPARAMS),
    ("DAHDI_DIAL", DAHDI_DIAL),
    ("DAHDI_AUDIOMODE", DAHDI_AUDIOMODE),
    ("DAHDI_ECHOCANCEL", DAHDI_ECHOCANCEL),
    ("DAHDI_ECHOCANCEL_PARAMS", DAHDI_ECHOCANCEL_PARAMS),
    ("DAHDI_CHANNO", DAHDI_CHANNO),
    ("DAHDI_DIALING", DAHDI_DIALING),
    ("DAHDI_HDLCRAWMODE", DAHDI_HDLCRAWMODE),
    ("DAHDI_HDLCFCSMODE", DAHDI_HDLCFCSMODE),
    ("DAHDI_SPECIFY", DAHDI_SPECIFY),
    ("DAHDI_SETLAW", DAHDI_SETLAW),
    ("DAHDI_SETLINEAR", DAHDI_SETLINEAR),
    ("DAHDI_HDLCPPP", DAHDI_HDLCPPP),
    ("DAHDI_SETCADENCE", DAHDI_SETCADENCE),
    ("DAHDI_GETRXBITS", DAHDI_GETRXBITS),
    ("DAHDI_SETTXBITS", DAHDI_SETTXBITS),
    ("DAHDI_CHANDIAG_V1", DAHDI_CHANDIAG_V1),
    ("DAHDI_CHANDIAG", DAHDI_CHANDIAG),
    ("DAHDI_SFCONFIG", DAHDI_SFCONFIG),
    ("DAHDI_TIMERCONFIG", DAHDI_TIMERCONFIG),
    ("DAHDI_TIMERACK", DAHDI_TIMERACK),
    ("DAHDI_GETCONFMUTE", DAHDI_GETCONFMUTE),
    ("DAHDI_ECHOTRAIN", DAHDI_ECHOTRAIN),
    ("DAHDI_TIMERPING", DAHDI_TIMERPING),
    ("DAHDI_TIMERPONG", DAHDI_TIMERPONG),
    ("DAHDI_GETSIGFREEZE", DAHDI_GETSIGFREEZE),
    ("DAHDI_SETSIGFREEZE", DAHDI_SETSIGFREEZE),
    ("DAHDI_INDIRECT", DAHDI_INDIRECT),
    ("DAHDI_GETVERSION", DAHDI_GETVERSION),
    ("DAHDI_LOOPBACK", DAHDI_LOOPBACK),
    ("DAHDI_ATTACH_ECHOCAN", DAHDI_ATTACH_ECHOCAN),
    ("DAHDI_DYNAMIC_CREATE", DAHDI_DYNAMIC_CREATE),
    ("DAHDI_DYNAMIC_DESTROY", DAHDI_DYNAMIC_DESTROY),
    ("DAHDI_SET_HWGAIN", DAHDI_SET_HWGAIN),
    ("DAHDI_TONEDETECT", DAHDI_TONEDETECT),
    ("DAHDI_SETPOLARITY", DAHDI_SETPOLARITY),
    ("DAHDI_VMWI", DAHDI_VMWI),
    ("DAHDI_VMWI_CONFIG", DAHDI_VMWI_CONFIG),
    ("DAHDI_STARTUP", DAHDI_STARTUP),
    ("DAHDI_SHUTDOWN", DAHDI_SHUTDOWN),
    ("DAHDI_HDLC_RATE", DAHDI_HDLC_RATE),
    ("DAHDI_ECHOCANCEL_FAX_MODE", DAHDI_ECHOCANCEL_FAX_MODE),
    ("DAHDI_BUFFER_EVENTS", DAHDI_BUFFER_EVENTS),
    ("DAHDI_RADIO_GETSTAT", DAHDI_RADIO_GETSTAT),
    ("DAHDI_RADIO_GETPARAM", DAHDI_RADIO_GETPARAM),
    ("DAHDI_RADIO_SETPARAM", DAHDI_RADIO_SETPARAM),
];

/// The header name of a request number, if it is one of DAHDI's (for logs and for a
/// preload shim dispatching on requests). Where two names share a number the first
/// in [`REQUESTS`] is returned.
pub fn name_of(request: u32) -> Option<&'static str> {
    REQUESTS
        .iter()
        .find(|(_, r)| r.0 == request)
        .map(|(name, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_notes_numbers() {
        // FIELD-NOTES.md, checked against Debian's user.h on x86_64.
        assert_eq!(DAHDI_SPECIFY.0, 0x4004_DA26);
        assert_eq!(DAHDI_SPANSTAT.0, 0xC13A_DA0A);
        assert_eq!(DAHDI_GET_PARAMS.0, 0xC088_DA05);
        assert_eq!(DAHDI_SPANCONFIG.0, 0x4024_DA12);
        assert_eq!(DAHDI_CHANCONFIG.0, 0x404C_DA13);
    }

    #[test]
    fn request_fields_decode() {
        let r = DAHDI_SPANSTAT;
        assert_eq!(r.nr(), 10);
        assert_eq!(r.kind(), DAHDI_CODE);
        assert_eq!(r.size(), 314);
        assert!(r.reads() && r.writes());
        assert!(DAHDI_SPECIFY.writes() && !DAHDI_SPECIFY.reads());
        assert!(DAHDI_GETEVENT.reads() && !DAHDI_GETEVENT.writes());
        assert_eq!(DAHDI_TIMERPING.size(), 0);
        assert!(!DAHDI_TIMERPING.reads() && !DAHDI_TIMERPING.writes());
    }

    #[test]
    fn every_request_dahdi_tools_make_is_known() {
        // Immediate ioctl operands in Debian's dahdi-tools 3.1.0 binaries and
        // libtonezone (`objdump -d /usr/sbin/dahdi_cfg | grep 0x....da..`, likewise
        // dahdi_scan, dahdi_maint, libtonezone.so.2.0): what a preload shim must serve.
        let seen = [
            0x4004_DA18u32, // dahdi_cfg
            0x4004_DA26,
            0x4004_DA63,
            0x4004_DA64,
            0x4004_DA65,
            0x4014_DA3B,
            0x4024_DA12,
            0x4048_DA51,
            0x404C_DA13,
            0x408C_DA3A,
            0x808C_DA3A,
            0x80A0_DA39,
            0xC048_DA50,
            0xC088_DA05,
            0xC13A_DA0A, // dahdi_scan, dahdi_maint
            0x4008_DA0B,
            0x4004_DA15, // libtonezone
            0x4004_DA16,
            0x8004_DA16,
            0x4004_DA1A,
            0x4070_DA19,
        ];
        for r in seen {
            assert!(name_of(r).is_some(), "0x{r:08X} has no name");
        }
        assert_eq!(name_of(0x4014_DA3B), Some("DAHDI_ATTACH_ECHOCAN"));
        assert_eq!(name_of(0x4070_DA19), Some("DAHDI_LOADZONE"));
        assert_eq!(name_of(0x80A0_DA39), Some("DAHDI_GETVERSION"));
    }

    #[test]
    fn names_resolve() {
        assert_eq!(name_of(0xC13A_DA0A), Some("DAHDI_SPANSTAT"));
        assert_eq!(name_of(0x1234), None);
        // SET_BLOCKSIZE and GET_BLOCKSIZE share nr 1 but differ in direction.
        assert_ne!(DAHDI_SET_BLOCKSIZE, DAHDI_GET_BLOCKSIZE);
    }
}
