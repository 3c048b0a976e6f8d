//! Transfers that leave both remaining parties on the same E1 ("trombone"), end to end
//! through the real daemon process: SIPp as the IP-PBX places a call to a PSTN party
//! (libpri, `pri-switch`), then blind-transfers it (REFER) to a second PSTN number on the
//! same span. The gateway places the second call on the E1, and when it is
//! answered joins the two ISDN calls:
//!
//! - trunk group `transfer = "ect"`: ETSI Explicit Call Transfer on the D-channel
//!   (EN 300 369-1: FACILITY EctLinkIdRequest on the first call, libpri's LinkId result,
//!   FACILITY ExplicitEctExecute on the second); libpri reports the transfer
//!   (`PRI_SUBCMD_TRANSFER_CALL` naming both calls), confirms it in the DISCONNECT of the
//!   second call and clears both; the switch then connects its two parties (each hears
//!   the other's tone). The gateway keeps no B-channel, every part of the call has its
//!   CDR.
//! - `transfer = "hairpin"`: no FACILITY on the D-channel; the gateway joins the two
//!   B-channels itself, no RTP: party 1's tone is heard by party 2 and back, and the
//!   second party never hears the SIP side's tone. Cleared by the PSTN, nothing stays
//!   busy.

mod common;

use std::sync::MutexGuard;
use std::time::Duration;

use common::{
    heard_ms, kv, pstn_e1_transfer, q931_after, uac_refer, Line, Rig, RtpPeer, Shared, CALLED,
    CHANNEL, DISPOSITION, ISDN_CAUSE, PARTY2_TONE, SIP_TONE, SWITCH_TONE,
};

/// The CDR's transfer column (after the disposition).
const TRANSFER: usize = DISPOSITION + 1;

fn groups(transfer: &str) -> String {
    pstn_e1_transfer(transfer)
        + r#"
[[route]]
pattern = "_2XX"
to = ["pbx"]
"#
}

/// One rig at a time: three rigs in parallel on a loaded 2-core host starve the
/// switches' 20 ms media loops (the tone checks then fail for want of CPU, not audio).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

static ECT: Shared = Shared::new();
static HAIRPIN: Shared = Shared::new();
static TWO_BCT: Shared = Shared::new();

fn ect_rig() -> MutexGuard<'static, Rig> {
    ECT.lock(|| Rig::start("transfer-ect", Line::E1, &groups("ect")))
}

/// A T1 (NI-2) span whose group asks for 2BCT; libpri 1.6 as the NI-2 network does not
/// act on a received InitiateTransfer, so the gateway falls back to its hairpin.
fn two_bct_rig() -> MutexGuard<'static, Rig> {
    TWO_BCT.lock(|| {
        Rig::start(
            "transfer-2bct",
            Line::T1,
            &groups("2bct").replace("1-15,17-31", "1-23"),
        )
    })
}

fn hairpin_rig() -> MutexGuard<'static, Rig> {
    HAIRPIN.lock(|| Rig::start("transfer-hairpin", Line::E1, &groups("hairpin")))
}

#[test]
fn ect_on_the_d_channel_releases_the_gateway_and_libpri_joins_the_parties() {
    let _one = serial();
    let mut rig = ect_rig();
    let law = rig.line.law();
    let cdr0 = rig.cdrs().len();
    let mark = rig.switch.mark();
    let rtp = RtpPeer::start(law, SIP_TONE, vec![SWITCH_TONE, SIP_TONE]);
    let sipp = rig.sipp_spawn(
        "refer-ect",
        &uac_refer(law, rtp.port, 1500, "0302222"),
        "0301111",
    );
    let (id1, ch1, id2, ch2) = rig
        .switch
        .two_rings(mark, "0301111", "0302222", PARTY2_TONE);
    assert_ne!(ch1, ch2);

    // libpri's view: the gateway's ExplicitEctExecute arrived on call 2 naming call 1,
    // both calls were cleared from the gateway by the switch, and the parties, now
    // connected inside the switch, hear each other.
    let joined = rig
        .switch
        .assert_ect_joined(mark, &id1, &id2, Duration::from_secs(10));
    assert_eq!(kv(&joined, "id"), Some(id2.as_str()));

    let run = sipp.finish();
    let _ = rtp.stop();
    assert!(run.ok, "SIPp transfer failed:\n{}", run.trace);
    assert!(run.trace.contains("NOTIFY"), "no NOTIFY:\n{}", run.trace);
    assert!(
        run.trace.contains("SIP/2.0 200 OK") && run.trace.contains("message/sipfrag"),
        "{}",
        run.trace
    );

    // On the D-channel, as libpri logged it: our two FACILITY messages, its FACILITY
    // with the LinkId, then the DISCONNECTs (the result in the second call's).
    let q = q931_after(&rig, mark);
    let pos = |m: &str, from: usize| q.iter().skip(from).position(|l| l == m).map(|p| p + from);
    let f1 = pos("rx FACILITY", 0).unwrap_or_else(|| panic!("no FACILITY from us: {q:?}"));
    let r = pos("tx FACILITY", f1).unwrap_or_else(|| panic!("no LinkId result: {q:?}"));
    let f2 = pos("rx FACILITY", r).unwrap_or_else(|| panic!("no ExplicitEctExecute: {q:?}"));
    assert!(pos("tx DISCONNECT", f2).is_some(), "{q:?}");
    // libpri decoded the APDUs itself (PRI_DEBUG_APDU in pri-switch's log).
    let log = rig.log_text("pri-switch.log");
    assert!(
        log.contains("ExplicitEctExecute") && log.contains("EctLinkIdRequest"),
        "libpri's APDU decode does not name the ECT operations"
    );
    let gw = rig.log_text("gatewayd.log");
    assert!(
        gw.contains("switch transferred the calls"),
        "gatewayd did not see the result"
    );
    assert!(
        !gw.contains("hairpinned in the gateway"),
        "ECT must not fall back"
    );

    // Nothing busy; the part with the transferor and the part after the transfer both
    // have a record, the second ended by the network's clearing (cause 16).
    let cdrs = rig.assert_clean(cdr0, 2);
    assert_eq!(cdrs[0][DISPOSITION], "TRANSFERRED", "{cdrs:?}");
    assert_eq!(cdrs[0][CHANNEL], ch1.to_string(), "{cdrs:?}");
    assert_eq!(cdrs[1][CALLED], "0302222", "{cdrs:?}");
    assert_eq!(cdrs[1][ISDN_CAUSE], "16", "{cdrs:?}");
    assert_eq!(cdrs[1][TRANSFER], "blind from call-1; ect", "{cdrs:?}");
}

#[test]
fn hairpin_joins_the_b_channels_without_rtp_and_the_pstn_clears_it() {
    let _one = serial();
    let mut rig = hairpin_rig();
    let law = rig.line.law();
    let cdr0 = rig.cdrs().len();
    let mark = rig.switch.mark();
    let rtp = RtpPeer::start(law, SIP_TONE, vec![SWITCH_TONE, SIP_TONE]);
    let sipp = rig.sipp_spawn(
        "refer-hp",
        &uac_refer(law, rtp.port, 1500, "0304444"),
        "0303333",
    );
    let (id1, ch1, id2, ch2) = rig
        .switch
        .two_rings(mark, "0303333", "0304444", PARTY2_TONE);
    let run = sipp.finish();
    let rep = rtp.stop();
    assert!(run.ok, "SIPp transfer failed:\n{}", run.trace);
    assert!(
        rep.heard_ms(SWITCH_TONE) > 0,
        "party 1 was heard over RTP before"
    );

    // The two B-channels stay busy for the one call, joined in the gateway.
    rig.wait_busy_channels(2);
    // The parties talk through the hairpin, both ways, then party 1 hangs up.
    let (m1, m2) = rig.switch.assert_hairpin_talk(mark, &id1, &id2, &id1);
    assert_eq!(kv(&m1, "channel"), Some(ch1.to_string().as_str()));
    assert_eq!(kv(&m2, "channel"), Some(ch2.to_string().as_str()));
    // Party 2 was never bridged to RTP: the SIP side's tone never reached it.
    assert_eq!(heard_ms(&m2, "heard", SIP_TONE), 0, "party 2: {m2}");

    // No transfer service on the D-channel: the one FACILITY is the gateway's EctInform
    // telling party 1 its new partner (identity_libpri.rs), no ECT invoke.
    let q = q931_after(&rig, mark);
    assert!(
        q.iter().filter(|l| l.ends_with("FACILITY")).count() <= 1,
        "{q:?}"
    );
    let log = rig.log_text("pri-switch.log");
    assert!(
        !log.contains("EctLinkIdRequest"),
        "ECT invoked on a hairpin"
    );
    let gw = rig.log_text("gatewayd.log");
    assert!(
        gw.contains("hairpinned in the gateway"),
        "no hairpin in gatewayd's log"
    );

    let cdrs = rig.assert_clean(cdr0, 2);
    assert_eq!(cdrs[0][DISPOSITION], "TRANSFERRED", "{cdrs:?}");
    assert_eq!(cdrs[1][CALLED], "0304444", "{cdrs:?}");
    assert!(cdrs[1][TRANSFER].ends_with("; hairpin"), "{cdrs:?}");
    assert_eq!(cdrs[1][ISDN_CAUSE], "16", "{cdrs:?}");
}

#[test]
fn two_bct_invoked_on_t1_and_unanswered_falls_back_to_the_hairpin() {
    let _one = serial();
    let mut rig = two_bct_rig();
    let law = rig.line.law();
    let cdr0 = rig.cdrs().len();
    let mark = rig.switch.mark();
    let rtp = RtpPeer::start(law, SIP_TONE, vec![SWITCH_TONE, SIP_TONE]);
    let sipp = rig.sipp_spawn(
        "refer-2bct",
        &uac_refer(law, rtp.port, 1000, "0305252"),
        "0305151",
    );
    let (id1, _, id2, _) = rig
        .switch
        .two_rings(mark, "0305151", "0305252", PARTY2_TONE);
    let run = sipp.finish();
    let _ = rtp.stop();
    assert!(run.ok, "SIPp transfer failed:\n{}", run.trace);
    // Our InitiateTransfer went out in a FACILITY on the D-channel, and libpri decoded it.
    // It is not the first FACILITY: the EctInform telling party 1 its new partner
    // (identity_libpri.rs) goes out when the hairpin is made, just before the invoke.
    rig.wait_log(
        "pri-switch.log",
        "InitiateTransfer",
        Duration::from_secs(10),
        "libpri did not decode our 2BCT invoke",
    );
    // No answer from this switch: after the response timer the gateway hairpins.
    let gw = rig.wait_log(
        "gatewayd.log",
        "hairpinned in the gateway",
        Duration::from_secs(10),
        "no hairpin after the 2BCT",
    );
    assert!(
        gw.contains("switch refused the transfer"),
        "no refusal logged"
    );
    // Both ways through the hairpin; party 2 hangs up.
    rig.switch.assert_hairpin_talk(mark, &id1, &id2, &id2);
    let cdrs = rig.assert_clean(cdr0, 2);
    assert_eq!(cdrs[1][CALLED], "0305252", "{cdrs:?}");
    assert!(cdrs[1][TRANSFER].ends_with("; 2bct; hairpin"), "{cdrs:?}");
}
