//! The hand-written libpri declarations of `libpri/ffi.rs` against the real header: a C
//! program built at test time with the system C compiler prints `sizeof`/`offsetof` of every
//! field the harness reads, and they must equal the Rust layout.

mod libpri;

use std::mem::{offset_of, size_of};
use std::process::Command;

use libpri::ffi::*;
use libpri::LibPri;

macro_rules! layout {
    ($($c:literal => $rust:expr),* $(,)?) => {
        vec![$(($c, $rust)),*]
    };
}

#[test]
fn libpri_struct_layouts_match_header() {
    let checks: Vec<(&str, usize)> = layout![
        "sizeof(struct pri_party_name)" => size_of::<PriPartyName>(),
        "sizeof(struct pri_party_number)" => size_of::<PriPartyNumber>(),
        "sizeof(struct pri_party_subaddress)" => size_of::<PriPartySubaddress>(),
        "sizeof(struct pri_party_id)" => size_of::<PriPartyId>(),
        "sizeof(pri_event_error)" => size_of::<PriEventError>(),
        "sizeof(pri_event_restart)" => size_of::<PriEventRestart>(),
        "sizeof(pri_event_answer)" => size_of::<PriEventAnswer>(),
        "sizeof(pri_event_ringing)" => size_of::<PriEventAnswer>(),
        "offsetof(pri_event_answer, call)" => offset_of!(PriEventAnswer, call),
        "offsetof(pri_event_ringing, call)" => offset_of!(PriEventAnswer, call),
        "offsetof(pri_event_answer, progressmask)" => offset_of!(PriEventAnswer, progressmask),
        "offsetof(pri_event_answer, subcmds)" => offset_of!(PriEventAnswer, subcmds),
        "sizeof(pri_event_ring)" => size_of::<PriEventRing>(),
        "offsetof(pri_event_ring, channel)" => offset_of!(PriEventRing, channel),
        "offsetof(pri_event_ring, callingpres)" => offset_of!(PriEventRing, callingpres),
        "offsetof(pri_event_ring, callingplan)" => offset_of!(PriEventRing, callingplan),
        "offsetof(pri_event_ring, callingnum)" => offset_of!(PriEventRing, callingnum),
        "offsetof(pri_event_ring, callingname)" => offset_of!(PriEventRing, callingname),
        "offsetof(pri_event_ring, calledplan)" => offset_of!(PriEventRing, calledplan),
        "offsetof(pri_event_ring, callednum)" => offset_of!(PriEventRing, callednum),
        "offsetof(pri_event_ring, useruserinfo)" => offset_of!(PriEventRing, useruserinfo),
        "offsetof(pri_event_ring, flexible)" => offset_of!(PriEventRing, flexible),
        "offsetof(pri_event_ring, cref)" => offset_of!(PriEventRing, cref),
        "offsetof(pri_event_ring, ctype)" => offset_of!(PriEventRing, ctype),
        "offsetof(pri_event_ring, layer1)" => offset_of!(PriEventRing, layer1),
        "offsetof(pri_event_ring, complete)" => offset_of!(PriEventRing, complete),
        "offsetof(pri_event_ring, call)" => offset_of!(PriEventRing, call),
        "offsetof(pri_event_ring, progressmask)" => offset_of!(PriEventRing, progressmask),
        "offsetof(pri_event_ring, subcmds)" => offset_of!(PriEventRing, subcmds),
        "offsetof(pri_event_ring, calling)" => offset_of!(PriEventRing, calling),
        "offsetof(pri_event_ring, called_subaddress)" => offset_of!(PriEventRing, called_subaddress),
        "offsetof(pri_event_ring, keypad_digits)" => offset_of!(PriEventRing, keypad_digits),
        "sizeof(struct pri_subcommand)" => size_of::<PriSubcommand>(),
        "offsetof(struct pri_subcommand, u)" => offset_of!(PriSubcommand, u),
        "sizeof(struct pri_subcommands)" => size_of::<PriSubcommands>(),
        "offsetof(struct pri_subcommands, subcmd)" => offset_of!(PriSubcommands, subcmd),
        "sizeof(struct pri_subcmd_transfer)" => size_of::<PriSubcmdTransfer>(),
        "offsetof(struct pri_subcmd_transfer, invoke_id)" => offset_of!(PriSubcmdTransfer, invoke_id),
        "sizeof(struct pri_event_facility)" => size_of::<PriEventFacility>(),
        "offsetof(struct pri_event_facility, call)" => offset_of!(PriEventFacility, call),
        "offsetof(struct pri_event_facility, subcmds)" => offset_of!(PriEventFacility, subcmds),
        "PRI_SUBCMD_TRANSFER_CALL" => PRI_SUBCMD_TRANSFER_CALL as usize,
        "PRI_MAX_SUBCOMMANDS" => PRI_MAX_SUBCOMMANDS,
        "PRI_DEBUG_APDU" => PRI_DEBUG_APDU as usize,
        "sizeof(pri_event_hangup)" => size_of::<PriEventHangup>(),
        "offsetof(pri_event_hangup, cause)" => offset_of!(PriEventHangup, cause),
        "offsetof(pri_event_hangup, cref)" => offset_of!(PriEventHangup, cref),
        "offsetof(pri_event_hangup, call)" => offset_of!(PriEventHangup, call),
        "offsetof(pri_event_hangup, aoc_units)" => offset_of!(PriEventHangup, aoc_units),
        "offsetof(pri_event_hangup, subcmds)" => offset_of!(PriEventHangup, subcmds),
        "offsetof(pri_event_hangup, call_active)" => offset_of!(PriEventHangup, call_active),
        "sizeof(pri_event_proceeding)" => size_of::<PriEventProceeding>(),
        "offsetof(pri_event_proceeding, cause)" => offset_of!(PriEventProceeding, cause),
        "offsetof(pri_event_proceeding, call)" => offset_of!(PriEventProceeding, call),
        "sizeof(pri_event_setup_ack)" => size_of::<PriEventSetupAck>(),
        "offsetof(pri_event_setup_ack, call)" => offset_of!(PriEventSetupAck, call),
        "offsetof(pri_event_setup_ack, progressmask)" => offset_of!(PriEventSetupAck, progressmask),
        "sizeof(pri_event_notify)" => size_of::<PriEventNotify>(),
        "offsetof(pri_event_notify, info)" => offset_of!(PriEventNotify, info),
        "offsetof(pri_event_notify, call)" => offset_of!(PriEventNotify, call),
        "sizeof(pri_event_keypad_digit)" => size_of::<PriEventKeypadDigit>(),
        "offsetof(pri_event_keypad_digit, call)" => offset_of!(PriEventKeypadDigit, call),
        "offsetof(pri_event_keypad_digit, digits)" => offset_of!(PriEventKeypadDigit, digits),
        "sizeof(pri_event_service)" => size_of::<PriEventService>(),
        "sizeof(struct pri_event_connect_ack)" => size_of::<PriEventConnectAck>(),
        "offsetof(struct pri_event_connect_ack, call)" => offset_of!(PriEventConnectAck, call),
        "offsetof(pri_event, ring.call)" => offset_of!(PriEventRing, call),
        "offsetof(pri_event, hangup.cause)" => offset_of!(PriEventHangup, cause),
        "sizeof(struct timeval)" => size_of::<Timeval>(),
        "offsetof(struct timeval, tv_usec)" => offset_of!(Timeval, tv_usec),
        "sizeof(struct pollfd)" => size_of::<PollFd>(),
        "offsetof(struct pollfd, revents)" => offset_of!(PollFd, revents),
        "PRI_EVENT_CONNECT_ACK" => PRI_EVENT_CONNECT_ACK as usize,
        "PRI_EVENT_KEYPAD_DIGIT" => PRI_EVENT_KEYPAD_DIGIT as usize,
        "PRI_TIMER_T203" => PRI_TIMER_T203 as usize,
        "PRI_TIMER_T313" => PRI_TIMER_T313 as usize,
        "PRI_TIMER_T309" => PRI_TIMER_T309 as usize,
        "PRI_TIMER_T310" => PRI_TIMER_T310 as usize,
        "PRI_TIMER_T316" => PRI_TIMER_T316 as usize,
        "PRI_TIMER_N316" => PRI_TIMER_N316 as usize,
        "PRI_SWITCH_NI2" => PRI_SWITCH_NI2 as usize,
        "PRI_SWITCH_LUCENT5E" => PRI_SWITCH_LUCENT5E as usize,
        "PRI_SWITCH_EUROISDN_E1" => PRI_SWITCH_EUROISDN_E1 as usize,
        "SOCK_SEQPACKET" => SOCK_SEQPACKET as usize,
        "SOCK_NONBLOCK" => SOCK_NONBLOCK as usize,
        "SOCK_CLOEXEC" => SOCK_CLOEXEC as usize,
    ];
    let mut c = String::from(
        "#include <stddef.h>\n#include <stdio.h>\n#include <sys/time.h>\n#include <poll.h>\n\
         #include <sys/socket.h>\n#include <libpri.h>\nint main(void) {\n",
    );
    for (expr, _) in &checks {
        c.push_str(&format!("  printf(\"%lu\\n\", (unsigned long)({expr}));\n"));
    }
    c.push_str("  return 0;\n}\n");
    let dir = std::env::temp_dir().join(format!("libpri-abi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("layout.c");
    let exe = dir.join("layout");
    std::fs::write(&src, c).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .status()
        .expect("a C compiler (cc) is needed to check the libpri ABI");
    assert!(status.success(), "compiling {}", src.display());
    let out = Command::new(&exe).output().unwrap();
    assert!(out.status.success());
    let values: Vec<usize> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(values.len(), checks.len());
    let mismatches: Vec<String> = checks
        .iter()
        .zip(&values)
        .filter(|((_, rust), c)| rust != *c)
        .map(|((expr, rust), c)| format!("{expr}: C {c}, Rust {rust}"))
        .collect();
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn libpri_version_is_1_6() {
    assert!(
        LibPri::version().starts_with("1.6"),
        "{}",
        LibPri::version()
    );
}
