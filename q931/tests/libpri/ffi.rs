//! Hand-written declarations for the parts of libpri 1.6 (`/usr/include/libpri.h`, Debian
//! `libpri-dev`) the tests use, and the few libc calls the harness needs. Struct layouts
//! follow the header field by field for x86_64 (LP64); `libpri_abi.rs` compiles a C program
//! against the real header and compares every size and offset used here.

use std::ffi::{c_char, c_int, c_long};

// ---- libpri.h constants ------------------------------------------------------------------

pub const PRI_NETWORK: c_int = 1;
pub const PRI_CPE: c_int = 2;

pub const PRI_SWITCH_NI2: c_int = 1;
pub const PRI_SWITCH_EUROISDN_E1: c_int = 5;
pub const PRI_SWITCH_LUCENT5E: c_int = 3;

/// Change status values of `pri_maintenance_service` (libpri's SERVICE_CHANGE_STATUS_*).
pub const SERVICE_CHANGE_STATUS_INSERVICE: c_int = 0;
pub const SERVICE_CHANGE_STATUS_OUTOFSERVICE: c_int = 2;

pub const PRI_DEBUG_Q921_RAW: c_int = 1 << 0;
pub const PRI_DEBUG_Q921_DUMP: c_int = 1 << 1;
pub const PRI_DEBUG_Q921_STATE: c_int = 1 << 2;
pub const PRI_DEBUG_Q931_DUMP: c_int = 1 << 5;
pub const PRI_DEBUG_Q931_STATE: c_int = 1 << 6;

pub const PRI_EVENT_DCHAN_UP: c_int = 1;
pub const PRI_EVENT_DCHAN_DOWN: c_int = 2;
pub const PRI_EVENT_RESTART: c_int = 3;
pub const PRI_EVENT_CONFIG_ERR: c_int = 4;
pub const PRI_EVENT_RING: c_int = 5;
pub const PRI_EVENT_HANGUP: c_int = 6;
pub const PRI_EVENT_RINGING: c_int = 7;
pub const PRI_EVENT_ANSWER: c_int = 8;
pub const PRI_EVENT_HANGUP_ACK: c_int = 9;
pub const PRI_EVENT_RESTART_ACK: c_int = 10;
pub const PRI_EVENT_FACILITY: c_int = 11;
pub const PRI_EVENT_INFO_RECEIVED: c_int = 12;
pub const PRI_EVENT_PROCEEDING: c_int = 13;
pub const PRI_EVENT_SETUP_ACK: c_int = 14;
pub const PRI_EVENT_HANGUP_REQ: c_int = 15;
pub const PRI_EVENT_NOTIFY: c_int = 16;
pub const PRI_EVENT_PROGRESS: c_int = 17;
pub const PRI_EVENT_KEYPAD_DIGIT: c_int = 18;
pub const PRI_EVENT_SERVICE: c_int = 19;
pub const PRI_EVENT_SERVICE_ACK: c_int = 20;
pub const PRI_EVENT_CONNECT_ACK: c_int = 27;

pub const PRI_TRANS_CAP_SPEECH: c_int = 0x0;
pub const PRI_TRANS_CAP_DIGITAL: c_int = 0x08;
pub const PRI_TRANS_CAP_3_1K_AUDIO: c_int = 0x10;
pub const PRI_LAYER_1_ULAW: c_int = 0x22;
pub const PRI_LAYER_1_ALAW: c_int = 0x23;

pub const PRI_UNKNOWN: c_int = 0x0;
pub const PRI_NATIONAL_ISDN: c_int = 0x21;
pub const PRI_INTERNATIONAL_ISDN: c_int = 0x11;
pub const PRES_ALLOWED_USER_NUMBER_NOT_SCREENED: c_int = 0x00;

pub const PRI_CAUSE_NORMAL_CLEARING: c_int = 16;
pub const PRI_CAUSE_USER_BUSY: c_int = 17;

/// `enum PRI_TIMERS_AND_COUNTERS` positions.
pub const PRI_TIMER_N200: c_int = 0;
pub const PRI_TIMER_K: c_int = 3;
pub const PRI_TIMER_T200: c_int = 4;
pub const PRI_TIMER_T203: c_int = 7;
pub const PRI_TIMER_T303: c_int = 11;
pub const PRI_TIMER_T305: c_int = 13;
pub const PRI_TIMER_T308: c_int = 16;
pub const PRI_TIMER_T309: c_int = 17;
pub const PRI_TIMER_T310: c_int = 18;
pub const PRI_TIMER_T313: c_int = 19;
pub const PRI_TIMER_T316: c_int = 21;
pub const PRI_TIMER_N316: c_int = 53;

// ---- libpri.h structures -----------------------------------------------------------------

/// `struct pri` (opaque).
#[repr(C)]
pub struct Pri {
    _private: [u8; 0],
}

/// `q931_call` (opaque).
#[repr(C)]
pub struct Q931Call {
    _private: [u8; 0],
}

/// `struct pri_sr` (opaque).
#[repr(C)]
pub struct PriSr {
    _private: [u8; 0],
}

/// `struct pri_subcommand` (libpri.h): `cmd`, then a union of 824 octets aligned on 8
/// (sizes checked against the header by `libpri_abi.rs`).
#[repr(C)]
pub struct PriSubcommand {
    pub cmd: c_int,
    pub u: [u64; 103],
}

/// `struct pri_subcommand_transfer`: the union member for `PRI_SUBCMD_TRANSFER_CALL`.
#[repr(C)]
pub struct PriSubcmdTransfer {
    pub call_1: *mut Q931Call,
    pub call_2: *mut Q931Call,
    pub is_call_1_held: c_int,
    pub is_call_2_held: c_int,
    pub invoke_id: c_int,
}

pub const PRI_MAX_SUBCOMMANDS: usize = 8;
pub const PRI_SUBCMD_TRANSFER_CALL: c_int = 17;
/// Connected line information update (`struct pri_party_connected_line`: one `pri_party_id`).
pub const PRI_SUBCMD_CONNECTED_LINE: c_int = 2;
pub const PRI_DEBUG_APDU: c_int = 1 << 8;

/// `struct pri_subcommands`.
#[repr(C)]
pub struct PriSubcommands {
    pub counter_subcmd: c_int,
    pub subcmd: [PriSubcommand; PRI_MAX_SUBCOMMANDS],
}

/// `struct pri_event_facility`.
#[repr(C)]
pub struct PriEventFacility {
    pub e: c_int,
    pub callingname: [u8; 256],
    pub callingnum: [u8; 256],
    pub channel: c_int,
    pub cref: c_int,
    pub call: *mut Q931Call,
    pub callingpres: c_int,
    pub callingplan: c_int,
    pub subcmds: *mut PriSubcommands,
    pub subcall: *mut Q931Call,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct PriPartyName {
    pub valid: c_int,
    pub presentation: c_int,
    pub char_set: c_int,
    pub str_: [u8; 64],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct PriPartyNumber {
    pub valid: c_int,
    pub presentation: c_int,
    pub plan: c_int,
    pub str_: [u8; 64],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct PriPartySubaddress {
    pub valid: c_int,
    pub type_: c_int,
    pub odd_even_indicator: c_int,
    pub length: c_int,
    pub data: [u8; 32],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct PriPartyId {
    pub name: PriPartyName,
    pub number: PriPartyNumber,
    pub subaddress: PriPartySubaddress,
}

#[repr(C)]
pub struct PriEventGeneric {
    pub e: c_int,
}

#[repr(C)]
pub struct PriEventError {
    pub e: c_int,
    pub err: [u8; 256],
}

#[repr(C)]
pub struct PriEventRestart {
    pub e: c_int,
    pub channel: c_int,
}

/// `pri_event_ringing` and `pri_event_answer` (identical layouts).
#[repr(C)]
pub struct PriEventAnswer {
    pub e: c_int,
    pub channel: c_int,
    pub cref: c_int,
    pub progress: c_int,
    pub progressmask: c_int,
    pub call: *mut Q931Call,
    pub useruserinfo: [u8; 260],
    pub subcmds: *mut PriSubcommands,
}

#[repr(C)]
pub struct PriEventRing {
    pub e: c_int,
    pub channel: c_int,
    pub callingpres: c_int,
    pub callingplanani: c_int,
    pub callingplan: c_int,
    pub callingani: [u8; 256],
    pub callingnum: [u8; 256],
    pub callingname: [u8; 256],
    pub calledplan: c_int,
    pub ani2: c_int,
    pub callednum: [u8; 256],
    pub redirectingnum: [u8; 256],
    pub redirectingname: [u8; 256],
    pub redirectingreason: c_int,
    pub callingplanrdnis: c_int,
    pub useruserinfo: [u8; 260],
    pub flexible: c_int,
    pub cref: c_int,
    pub ctype: c_int,
    pub layer1: c_int,
    pub complete: c_int,
    pub call: *mut Q931Call,
    pub callingsubaddr: [u8; 256],
    pub progress: c_int,
    pub progressmask: c_int,
    pub origcalledname: [u8; 256],
    pub origcallednum: [u8; 256],
    pub callingplanorigcalled: c_int,
    pub origredirectingreason: c_int,
    pub reversecharge: c_int,
    pub subcmds: *mut PriSubcommands,
    pub calling: PriPartyId,
    pub called_subaddress: PriPartySubaddress,
    pub keypad_digits: [u8; 64],
}

#[repr(C)]
pub struct PriEventHangup {
    pub e: c_int,
    pub channel: c_int,
    pub cause: c_int,
    pub cref: c_int,
    pub call: *mut Q931Call,
    pub aoc_units: c_long,
    pub useruserinfo: [u8; 260],
    pub subcmds: *mut PriSubcommands,
    pub call_held: *mut Q931Call,
    pub call_active: *mut Q931Call,
}

/// `pri_event_proceeding`, used for PROCEEDING and PROGRESS.
#[repr(C)]
pub struct PriEventProceeding {
    pub e: c_int,
    pub channel: c_int,
    pub cref: c_int,
    pub progress: c_int,
    pub progressmask: c_int,
    pub cause: c_int,
    pub call: *mut Q931Call,
    pub subcmds: *mut PriSubcommands,
}

#[repr(C)]
pub struct PriEventSetupAck {
    pub e: c_int,
    pub channel: c_int,
    pub call: *mut Q931Call,
    pub subcmds: *mut PriSubcommands,
    pub progressmask: c_int,
}

#[repr(C)]
pub struct PriEventNotify {
    pub e: c_int,
    pub channel: c_int,
    pub info: c_int,
    pub subcmds: *mut PriSubcommands,
    pub call: *mut Q931Call,
}

#[repr(C)]
pub struct PriEventKeypadDigit {
    pub e: c_int,
    pub channel: c_int,
    pub call: *mut Q931Call,
    pub digits: [u8; 64],
    pub subcmds: *mut PriSubcommands,
}

/// `pri_event_service` and `pri_event_service_ack`.
#[repr(C)]
pub struct PriEventService {
    pub e: c_int,
    pub channel: c_int,
    pub changestatus: c_int,
}

/// `struct pri_event_connect_ack` (also the layout of hold / hold_ack / retrieve_ack).
#[repr(C)]
pub struct PriEventConnectAck {
    pub e: c_int,
    pub channel: c_int,
    pub call: *mut Q931Call,
    pub subcmds: *mut PriSubcommands,
}

/// `pri_event` is a union of the views above; libpri returns a pointer to its own storage,
/// read through the view matching `e`.
#[repr(C)]
pub struct PriEventRaw {
    pub e: c_int,
}

/// `struct timeval` on x86_64.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Timeval {
    pub tv_sec: i64,
    pub tv_usec: i64,
}

#[link(name = "pri")]
extern "C" {
    pub fn pri_new(fd: c_int, nodetype: c_int, switchtype: c_int) -> *mut Pri;
    pub fn pri_set_debug(pri: *mut Pri, debug: c_int);
    pub fn pri_set_message(f: Option<unsafe extern "C" fn(*mut Pri, *mut c_char)>);
    pub fn pri_set_error(f: Option<unsafe extern "C" fn(*mut Pri, *mut c_char)>);
    pub fn pri_check_event(pri: *mut Pri) -> *mut PriEventRaw;
    pub fn pri_schedule_next(pri: *mut Pri) -> *mut Timeval;
    pub fn pri_schedule_run(pri: *mut Pri) -> *mut PriEventRaw;
    pub fn pri_set_timer(pri: *mut Pri, timer: c_int, value: c_int) -> c_int;
    pub fn pri_get_timer(pri: *mut Pri, timer: c_int) -> c_int;
    pub fn pri_fd(pri: *mut Pri) -> c_int;
    pub fn pri_hangup_fix_enable(pri: *mut Pri, enable: c_int);
    pub fn pri_set_overlapdial(pri: *mut Pri, state: c_int);
    pub fn pri_set_inbanddisconnect(pri: *mut Pri, enable: u32);

    pub fn pri_new_call(pri: *mut Pri) -> *mut Q931Call;
    pub fn pri_destroycall(pri: *mut Pri, call: *mut Q931Call);
    pub fn pri_sr_new() -> *mut PriSr;
    pub fn pri_sr_free(sr: *mut PriSr);
    pub fn pri_sr_set_channel(
        sr: *mut PriSr,
        channel: c_int,
        exclusive: c_int,
        nonisdn: c_int,
    ) -> c_int;
    pub fn pri_sr_set_bearer(sr: *mut PriSr, transmode: c_int, userl1: c_int) -> c_int;
    pub fn pri_sr_set_called(
        sr: *mut PriSr,
        called: *mut c_char,
        calledplan: c_int,
        complete: c_int,
    ) -> c_int;
    pub fn pri_sr_set_caller(
        sr: *mut PriSr,
        caller: *mut c_char,
        callername: *mut c_char,
        callerplan: c_int,
        callerpres: c_int,
    ) -> c_int;
    pub fn pri_setup(pri: *mut Pri, call: *mut Q931Call, req: *mut PriSr) -> c_int;
    pub fn pri_acknowledge(
        pri: *mut Pri,
        call: *mut Q931Call,
        channel: c_int,
        info: c_int,
    ) -> c_int;
    pub fn pri_proceeding(pri: *mut Pri, call: *mut Q931Call, channel: c_int, info: c_int)
        -> c_int;
    pub fn pri_progress(pri: *mut Pri, call: *mut Q931Call, channel: c_int, info: c_int) -> c_int;
    pub fn pri_need_more_info(
        pri: *mut Pri,
        call: *mut Q931Call,
        channel: c_int,
        nonisdn: c_int,
    ) -> c_int;
    pub fn pri_information(pri: *mut Pri, call: *mut Q931Call, digit: c_char) -> c_int;
    pub fn pri_answer(pri: *mut Pri, call: *mut Q931Call, channel: c_int, nonisdn: c_int) -> c_int;
    pub fn pri_hangup(pri: *mut Pri, call: *mut Q931Call, cause: c_int) -> c_int;
    pub fn pri_reset(pri: *mut Pri, channel: c_int) -> c_int;
    pub fn pri_restart(pri: *mut Pri) -> c_int;
    pub fn pri_set_service_message_support(pri: *mut Pri, supportflag: c_int) -> c_int;
    pub fn pri_maintenance_service(
        pri: *mut Pri,
        span: c_int,
        channel: c_int,
        changestatus: c_int,
    ) -> c_int;
    pub fn pri_get_version() -> *const c_char;
    pub fn pri_transfer_enable(pri: *mut Pri, enable: c_int);
    pub fn pri_facility_enable(pri: *mut Pri);
    pub fn pri_display_options_send(pri: *mut Pri, flags: std::ffi::c_ulong);
    pub fn pri_connected_line_update(
        pri: *mut Pri,
        call: *mut Q931Call,
        connected: *const PriPartyId,
    ) -> c_int;
    pub fn pri_transfer_rsp(
        pri: *mut Pri,
        call: *mut Q931Call,
        invoke_id: c_int,
        is_successful: c_int,
    ) -> c_int;
    pub fn pri_channel_bridge(call1: *mut Q931Call, call2: *mut Q931Call) -> c_int;
}

// ---- libc --------------------------------------------------------------------------------

pub const AF_UNIX: c_int = 1;
pub const SOCK_SEQPACKET: c_int = 5;
pub const SOCK_NONBLOCK: c_int = 0o4000;
pub const SOCK_CLOEXEC: c_int = 0o2000000;
pub const POLLIN: i16 = 0x001;

#[repr(C)]
pub struct PollFd {
    pub fd: c_int,
    pub events: i16,
    pub revents: i16,
}

extern "C" {
    pub fn socketpair(domain: c_int, ty: c_int, protocol: c_int, sv: *mut c_int) -> c_int;
    pub fn poll(fds: *mut PollFd, nfds: u64, timeout: c_int) -> c_int;
}
