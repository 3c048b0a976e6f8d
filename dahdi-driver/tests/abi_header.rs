//! ABI equality with Debian's real DAHDI header.
//!
//! Compiles (with `cc` from `PATH`) a C program that includes `<dahdi/user.h>` (package
//! `dahdi-source`) and prints every ioctl request number, struct size, field offset and
//! constant this crate defines, then compares each with the Rust side. A missing header
//! or compiler is a test failure, not a skip: CI must notice a missing package.
//!
//! `DAHDI_INCLUDE_DIR` may name an extra include directory (`-I`).

use std::fmt::Write as _;
use std::mem::{offset_of, size_of};
use std::path::PathBuf;
use std::process::Command;

use dahdi_driver::abi::{self, *};

/// One fact to check: a C expression and the value the Rust side has for it.
struct Fact {
    c_expr: String,
    rust: i128,
}

fn fact(c_expr: impl Into<String>, rust: i128) -> Fact {
    Fact {
        c_expr: c_expr.into(),
        rust,
    }
}

/// `sizeof` plus the offset of every listed field, for one struct.
macro_rules! layout {
    ($facts:ident, $rust:ty, $c:literal, [$($field:ident),* $(,)?]) => {
        $facts.push(fact(concat!("sizeof(struct ", $c, ")"), size_of::<$rust>() as i128));
        $(
            $facts.push(fact(
                concat!("offsetof(struct ", $c, ", ", stringify!($field), ")"),
                offset_of!($rust, $field) as i128,
            ));
        )*
    };
}

fn facts() -> Vec<Fact> {
    let mut f = Vec::new();
    for (name, req) in abi::REQUESTS {
        f.push(fact(*name, i128::from(req.0)));
    }
    for (name, value) in abi::CONSTANTS {
        f.push(fact(*name, i128::from(*value)));
    }
    f.push(fact("DAHDI_CODE", i128::from(DAHDI_CODE)));
    layout!(
        f,
        DahdiParams,
        "dahdi_params",
        [
            channo,
            spanno,
            chanpos,
            sigtype,
            sigcap,
            rxisoffhook,
            rxbits,
            txbits,
            txhooksig,
            rxhooksig,
            curlaw,
            idlebits,
            name,
            prewinktime,
            preflashtime,
            winktime,
            flashtime,
            starttime,
            rxwinktime,
            rxflashtime,
            debouncetime,
            pulsebreaktime,
            pulsemaketime,
            pulseaftertime,
            chan_alarms,
        ]
    );
    layout!(
        f,
        DahdiSpaninfo,
        "dahdi_spaninfo",
        [
            spanno,
            name,
            desc,
            alarms,
            txlevel,
            rxlevel,
            bpvcount,
            crc4count,
            ebitcount,
            fascount,
            fecount,
            cvcount,
            becount,
            prbs,
            errsec,
            irqmisses,
            syncsrc,
            numchans,
            totalchans,
            totalspans,
            lbo,
            lineconfig,
            lboname,
            location,
            manufacturer,
            devicetype,
            irq,
            linecompat,
            spantype,
        ]
    );
    layout!(
        f,
        DahdiSpaninfoV1,
        "dahdi_spaninfo_v1",
        [
            spanno,
            name,
            desc,
            alarms,
            txlevel,
            rxlevel,
            bpvcount,
            crc4count,
            ebitcount,
            fascount,
            irqmisses,
            syncsrc,
            numchans,
            totalchans,
            totalspans,
            lbo,
            lineconfig,
            lboname,
            location,
            manufacturer,
            devicetype,
            irq,
            linecompat,
            spantype,
        ]
    );
    layout!(f, DahdiMaintinfo, "dahdi_maintinfo", [spanno, command]);
    layout!(f, DahdiConfinfo, "dahdi_confinfo", [chan, confno, confmode]);
    layout!(f, DahdiGains, "dahdi_gains", [chan, rxgain, txgain]);
    layout!(
        f,
        DahdiLineconfig,
        "dahdi_lineconfig",
        [span, name, lbo, lineconfig, sync]
    );
    layout!(
        f,
        DahdiChanconfig,
        "dahdi_chanconfig",
        [chan, name, sigtype, deflaw, master, idlebits, netdev_name,]
    );
    layout!(
        f,
        DahdiToneDef,
        "dahdi_tone_def",
        [
            tone, next, samples, shift, fac1, init_v2_1, init_v3_1, fac2, init_v2_2, init_v3_2,
            modulate,
        ]
    );
    layout!(
        f,
        DahdiToneDefHeader,
        "dahdi_tone_def_header",
        [count, zone, ringcadence, name]
    );
    f.push(fact(
        "offsetof(struct dahdi_tone_def_header, tones)",
        size_of::<DahdiToneDefHeader>() as i128,
    ));
    layout!(
        f,
        DahdiBufferinfo,
        "dahdi_bufferinfo",
        [
            txbufpolicy,
            rxbufpolicy,
            numbufs,
            bufsize,
            readbufs,
            writebufs,
        ]
    );
    layout!(
        f,
        DahdiDialparams,
        "dahdi_dialparams",
        [mfv1_tonelen, dtmf_tonelen, mfr2_tonelen, reserved,]
    );
    layout!(f, DahdiDialoperation, "dahdi_dialoperation", [op, dialstr]);
    layout!(f, DahdiEchocanparam, "dahdi_echocanparam", [name, value]);
    layout!(
        f,
        DahdiEchocanparams,
        "dahdi_echocanparams",
        [tap_length, param_count]
    );
    f.push(fact(
        "offsetof(struct dahdi_echocanparams, params)",
        size_of::<DahdiEchocanparams>() as i128,
    ));
    layout!(f, DahdiRingCadence, "dahdi_ring_cadence", [ringcadence]);
    layout!(
        f,
        DahdiIndirectData,
        "dahdi_indirect_data",
        [chan, op, data]
    );
    layout!(
        f,
        DahdiVersioninfo,
        "dahdi_versioninfo",
        [version, echo_canceller]
    );
    layout!(
        f,
        DahdiAttachEchocan,
        "dahdi_attach_echocan",
        [chan, echocan]
    );
    layout!(
        f,
        DahdiDynamicSpan,
        "dahdi_dynamic_span",
        [driver, addr, numchans, timing, spanno,]
    );
    layout!(f, DahdiHwgain, "dahdi_hwgain", [newgain]);
    layout!(f, DahdiVmwiInfo, "dahdi_vmwi_info", [vmwi_type]);
    layout!(
        f,
        DahdiRadioStat,
        "dahdi_radio_stat",
        [ctcode_rx, ctclass, ctcode_tx, radstat]
    );
    layout!(
        f,
        DahdiRadioParam,
        "dahdi_radio_param",
        [radpar, index, data, data2, buf]
    );
    layout!(
        f,
        DahdiSfconfig,
        "dahdi_sfconfig",
        [chan, name, rxp1, rxp2, rxp3, txtone, tx_v2, tx_v3, toneflag,]
    );
    f
}

fn c_program(facts: &[Fact]) -> String {
    let mut src = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include <dahdi/user.h>\n\nint main(void) {\n",
    );
    for (i, fact) in facts.iter().enumerate() {
        // Request numbers are unsigned long; everything else fits long long.
        writeln!(
            src,
            "    printf(\"%d %lld\\n\", {i}, (long long)({}));",
            fact.c_expr
        )
        .unwrap();
    }
    src.push_str("    return 0;\n}\n");
    src
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "dahdi-abi-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

#[test]
fn abi_matches_debian_dahdi_user_h() {
    let facts = facts();
    let dir = temp_dir();
    let src = dir.join("abi.c");
    let exe = dir.join("abi");
    std::fs::write(&src, c_program(&facts)).expect("write C source");

    let mut cc = Command::new("cc");
    cc.arg("-std=gnu11").arg("-o").arg(&exe).arg(&src);
    if let Some(inc) = std::env::var_os("DAHDI_INCLUDE_DIR") {
        cc.arg("-I").arg(inc);
    }
    let out = cc.output().unwrap_or_else(|e| {
        panic!("cannot run `cc` ({e}): a C compiler is needed for the DAHDI ABI test")
    });
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let hint = if stderr.contains("dahdi/user.h") {
            "\n\n*** <dahdi/user.h> not found: install the Debian package `dahdi-source` \
             (apt-get install -y dahdi-source), or set DAHDI_INCLUDE_DIR. ***\n"
        } else {
            ""
        };
        panic!("compiling the DAHDI ABI probe failed:{hint}\n{stderr}");
    }

    let run = Command::new(&exe).output().expect("run ABI probe");
    assert!(run.status.success(), "ABI probe exited with {}", run.status);
    let stdout = String::from_utf8(run.stdout).expect("probe prints ASCII");
    let _ = std::fs::remove_dir_all(&dir);

    let mut seen = vec![None; facts.len()];
    for line in stdout.lines() {
        let (idx, value) = line.split_once(' ').expect("`index value` lines");
        let idx: usize = idx.parse().expect("index");
        let value: i64 = value.parse().expect("value");
        seen[idx] = Some(value);
    }

    // A request number is an unsigned long in C; compare it as 32 bits.
    let mut mismatches = Vec::new();
    for (fact, c) in facts.iter().zip(&seen) {
        let c = c.unwrap_or_else(|| panic!("probe printed nothing for {}", fact.c_expr));
        let c_val = if fact.c_expr.starts_with("DAHDI_")
            && abi::REQUESTS.iter().any(|(n, _)| *n == fact.c_expr)
        {
            i128::from(c as u32)
        } else {
            i128::from(c)
        };
        if c_val != fact.rust {
            mismatches.push(format!(
                "{}: header {} (0x{:X}), crate {} (0x{:X})",
                fact.c_expr, c_val, c_val, fact.rust, fact.rust
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} ABI facts differ from <dahdi/user.h>:\n  {}",
        mismatches.len(),
        facts.len(),
        mismatches.join("\n  ")
    );
    eprintln!("{} ABI facts equal to <dahdi/user.h>", facts.len());
}

#[test]
fn field_notes_facts_hold() {
    // FIELD-NOTES.md, independent of the compiled probe.
    assert_eq!(DAHDI_SPANSTAT.0, 0xC13A_DA0A);
    assert_eq!(size_of::<DahdiSpaninfo>(), 314);
    assert_eq!(DAHDI_SPECIFY.0, 0x4004_DA26);
    assert_eq!(DAHDI_GET_PARAMS.0, 0xC088_DA05);
    assert_eq!(size_of::<DahdiParams>(), 136);
    assert_eq!(DAHDI_SPANCONFIG.0, 0x4024_DA12);
    assert_eq!(DAHDI_CHANCONFIG.0, 0x404C_DA13);
}
