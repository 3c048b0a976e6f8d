//! Transfers of PSTN calls through the real daemon process on a simulated E1, with libpri
//! as the switch and SIPp as the PBX's phones:
//!
//! - blind transfer (RFC 3515): libpri calls 201 (SIPp A), A REFERs the call to 301 (SIPp
//!   B on a second SIP trunk), the gateway INVITEs B with A's `Referred-By` (RFC 3892),
//!   NOTIFYs A `100`, `180`, `200` (`message/sipfrag`) and BYEs A; libpri's call and its
//!   B-channel go on with B: tones both ways after the transfer, one SETUP, no clearing
//!   until the switch hangs up;
//! - a transfer to a busy target (486): NOTIFY `486`, the original call goes on (tones),
//!   and a REFER without `Refer-To` first gets 400;
//! - attended transfer (RFC 3891): C sends an INVITE with `Replaces` naming the gateway's
//!   dialog with A: C is answered, A gets BYE, libpri sees nothing but the call going on,
//!   tones both ways with C;
//! - bad input: REFER outside a dialog (403), REFER for an unknown dialog (481), INVITE
//!   with `Replaces` naming no dialog (481).
//!
//! Afterwards: no busy B-channel, no call left, and the records of each part of each call
//! with the transfer in the CDR's `transfer` column.

mod common;

use std::sync::{MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use common::{
    assert_q931_in_order, free_udp_port, heard_ms, kv, pstn_e1_group, q931_after, scenario,
    uas_reject, Line, Rig, RtpPeer, Shared, CALLED, DISPOSITION, OK_LAST, SIP_TONE, SWITCH_TONE,
    TRANSFER_TONE,
};
use gateway_tests::audio::Law;

/// CDR columns (`gateway::cdr::HEADER`).
const CALL_ID: usize = 0;
const TRANSFER: usize = 17;

/// The second SIP trunk (`pbx2`): where transfers to `3XX` go, and the port its phone
/// (SIPp B) listens on.
struct Ports {
    pbx2: u16,
    phone_b: u16,
}

fn ports() -> &'static Ports {
    static P: OnceLock<Ports> = OnceLock::new();
    P.get_or_init(|| Ports {
        pbx2: free_udp_port(),
        phone_b: free_udp_port(),
    })
}

fn config() -> String {
    let p = ports();
    pstn_e1_group("")
        + &format!(
            r#"
[[sip_trunk]]
name = "pbx2"
listen = "127.0.0.1:{}"
peers = ["127.0.0.1:{}"]

[[route]]
pattern = "_2XX"
from = ["pstn"]
to = ["pbx"]

[[route]]
pattern = "_3XX"
from = ["pstn"]
to = ["pbx2"]

[[route]]
pattern = "_0X."
to = ["pstn"]
"#,
            p.pbx2, p.phone_b
        )
}

static RIG: Shared = Shared::new();

fn rig() -> MutexGuard<'static, Rig> {
    RIG.lock(|| Rig::start("transfer", Line::E1, &config()))
}

// ---------------------------------------------------------------------------------------
// Scenarios.

/// The phones' SDP: PCMA (the E1's law) at `rtp_port`.
fn sdp(rtp_port: u16) -> String {
    common::sdp(Law::ALaw, rtp_port)
}

/// A phone answering the gateway's INVITE (media at `rtp_port`, our tag `atag<n>`),
/// keeping the gateway's Contact (`$gwuri`), From (`$gwfrom`) and tag (`$gwtag`) for
/// requests of its own in the dialog. `check` is an action run on the INVITE.
fn answer(rtp_port: u16, check: &str) -> String {
    format!(
        r#"<recv request="INVITE" crlf="true">
    <action>
      <ereg regexp="sip:[^>;\r\n]*" search_in="hdr" header="Contact:" assign_to="gwuri"/>
      <ereg regexp="[^\r\n]*" search_in="hdr" header="From:" assign_to="gwfrom"/>
      <ereg regexp=";tag=([^;>\r\n]*)" search_in="hdr" header="From:" assign_to="gwtagall,gwtag"/>
      {check}
    </action>
  </recv>
  <send>
    <![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=atag[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port]>
      Content-Length: 0
    ]]>
  </send>
  <pause milliseconds="200"/>
  <send retrans="500">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=atag[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

      {}
    ]]>
  </send>
  <recv request="ACK" crlf="true"/>"#,
        sdp(rtp_port)
    )
}

/// A request of the answering phone in its dialog with the gateway.
fn in_dialog(method: &str, cseq: u32, extra: &str) -> String {
    format!(
        r#"<send retrans="500">
    <![CDATA[
      {method} [$gwuri] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:201@[local_ip]:[local_port]>;tag=atag[call_number]
      To:[$gwfrom]
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Contact: <sip:201@[local_ip]:[local_port]>
      Max-Forwards: 70{extra}
      Content-Length: 0
    ]]>
  </send>"#
    )
}

/// Receive a NOTIFY of the REFER subscription whose sipfrag is `status` (SIPp fails the
/// call otherwise) and answer it.
fn notify(status: u16, var: &str) -> String {
    format!(
        r#"<recv request="NOTIFY">
    <action>
      <ereg regexp="Event: *refer" search_in="msg" check_it="true" assign_to="{var}e"/>
      <ereg regexp="message/sipfrag" search_in="msg" check_it="true" assign_to="{var}t"/>
      <ereg regexp="SIP/2.0 {status} " search_in="msg" check_it="true" assign_to="{var}"/>
    </action>
  </recv>
  {OK_LAST}"#
    )
}

/// Variables a scenario only checks (SIPp wants every assigned variable used).
fn reference(vars: &[&str]) -> String {
    format!("<Reference variables=\"{}\"/>", vars.join(","))
}

/// A: answers, lets the tones run, REFERs to 301, sees NOTIFY 100, 180, 200, is BYE'd.
fn referrer_blind(rtp_port: u16) -> String {
    scenario(
        "blind transferor",
        &format!(
            "{}\n  <pause milliseconds=\"1500\"/>\n  {}\n  <recv response=\"202\"/>\n  {}\n  {}\n  {}\n  \
             <recv request=\"BYE\"/>\n  {OK_LAST}\n  <timewait milliseconds=\"500\"/>\n  {}",
            answer(rtp_port, ""),
            in_dialog(
                "REFER",
                2,
                "\n      Refer-To: <sip:301@127.0.0.1>\n      Referred-By: <sip:201@[local_ip]:[local_port]>"
            ),
            notify(100, "n1"),
            notify(180, "n2"),
            notify(200, "n3"),
            reference(&["gwtagall", "gwtag", "n1", "n1e", "n1t", "n2", "n2e", "n2t", "n3", "n3e", "n3t"]),
        ),
    )
}

/// A: answers, sends a REFER without Refer-To (400), then one to `to`, which fails:
/// NOTIFY 100 and `status`; the call goes on until A hangs up.
fn referrer_failing(rtp_port: u16, to: &str, status: u16) -> String {
    scenario(
        "transfer to a busy target",
        &format!(
            "{}\n  <pause milliseconds=\"1000\"/>\n  {}\n  <recv response=\"400\"/>\n  {}\n  <recv response=\"202\"/>\n  \
             {}\n  {}\n  <pause milliseconds=\"2500\"/>\n  {}\n  <recv response=\"200\"/>\n  {}",
            answer(rtp_port, ""),
            in_dialog("REFER", 2, ""),
            in_dialog(
                "REFER",
                3,
                &format!("\n      Refer-To: <sip:{to}@127.0.0.1>")
            ),
            notify(100, "n1"),
            notify(status, "n2"),
            in_dialog("BYE", 4, ""),
            reference(&["gwtagall", "gwtag", "n1", "n1e", "n1t", "n2", "n2e", "n2t"]),
        ),
    )
}

/// B: the transfer target. Checks the INVITE carries A's Referred-By, rings 300 ms,
/// answers (media at `rtp_port`), is BYE'd when the switch hangs up.
fn target(rtp_port: u16) -> String {
    let check = r#"<ereg regexp="sip:201@" search_in="hdr" header="Referred-By:" check_it="true" assign_to="rb"/>"#;
    scenario(
        "transfer target",
        &format!(
            "{}\n  <recv request=\"BYE\"/>\n  {OK_LAST}\n  <timewait milliseconds=\"500\"/>\n  {}",
            answer(rtp_port, check).replace(
                "<pause milliseconds=\"200\"/>",
                "<pause milliseconds=\"300\"/>"
            ),
            reference(&["gwuri", "gwfrom", "gwtagall", "gwtag", "rb"]),
        ),
    )
}

/// A in the attended transfer: answers, writes the dialog's Call-ID and tags to
/// `dialog.txt` (for C), and is BYE'd when C replaces it.
fn replaced(rtp_port: u16) -> String {
    scenario(
        "replaced",
        &format!(
            "{}\n  <nop>\n    <action>\n      <exec command=\"echo 'callid=[call_id] gwtag=[$gwtag] atag=atag[call_number]' > dialog.txt\"/>\n    </action>\n  </nop>\n  \
             <recv request=\"BYE\"/>\n  {OK_LAST}\n  <timewait milliseconds=\"500\"/>\n  {}",
            answer(rtp_port, ""),
            reference(&["gwuri", "gwfrom", "gwtagall"]),
        ),
    )
}

/// Phone C's (205) INVITE to 201 with `Replaces: {replaces}` (RFC 3891 §6.1: the
/// dialog it names is to be replaced; with `require`, also `Require: replaces`), CSeq
/// `cseq`, media at `rtp_port`.
fn invite_replacing(cseq: u32, replaces: &str, require: bool, rtp_port: u16) -> String {
    let require = if require {
        "\n      Require: replaces"
    } else {
        ""
    };
    format!(
        r#"<send retrans="500">
    <![CDATA[
      INVITE sip:201@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:205@[local_ip]:[local_port]>;tag={C_TAG}
      To: <sip:201@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: {cseq} INVITE
      Contact: <sip:205@[local_ip]:[local_port]>
      Replaces: {replaces}{require}
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      {}
    ]]>
  </send>"#,
        sdp(rtp_port)
    )
}

/// Phone C's From tag (C also sends the bad requests of [`bad_input`]).
const C_TAG: &str = "ctag[call_number]";

/// A request of phone C in its dialog (the gateway's To tag): `method` with CSeq `cseq`
/// on branch `branch` (SIPp's `[branch]` for a new transaction, `[branch-N]` for the ACK
/// of a final error, which belongs to the INVITE's, RFC 3261 §17.1.1.3).
fn c_in_dialog(method: &str, cseq: u32, branch: &str) -> String {
    format!(
        r#"<send>
    <![CDATA[
      {method} sip:201@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={branch}
      From: <sip:205@[local_ip]:[local_port]>;tag={C_TAG}
      To: <sip:201@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>"#
    )
}

/// C: INVITE with `Replaces` (the dialog given with `-set callid/gwtag/atag`), 200, ACK,
/// talks for `hold_ms`, BYE.
fn replacing(rtp_port: u16, hold_ms: u64) -> String {
    scenario(
        "replacing",
        &format!(
            r#"<Global variables="callid,gwtag,atag"/>
  {}
  <recv response="100" optional="true"/>
  <recv response="200"/>
  {}
  <pause milliseconds="{hold_ms}"/>
  {}
  <recv response="200"/>"#,
            invite_replacing(
                1,
                "[$callid];to-tag=[$gwtag];from-tag=[$atag]",
                true,
                rtp_port
            ),
            c_in_dialog("ACK", 1, "[branch]"),
            c_in_dialog("BYE", 2, "[branch]").replacen("<send>", "<send retrans=\"500\">", 1),
        ),
    )
}

/// Bad input, as a UAC: REFER outside any dialog (403), REFER naming an unknown dialog
/// (481), INVITE with `Replaces` naming no dialog (481, then ACK).
fn bad_input() -> String {
    let refer = |cseq: u32, to_tag: &str| {
        format!(
            r#"<send retrans="500">
    <![CDATA[
      REFER sip:201@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:205@[local_ip]:[local_port]>;tag={C_TAG}
      To: <sip:201@[remote_ip]:[remote_port]>{to_tag}
      Call-ID: [call_id]
      CSeq: {cseq} REFER
      Contact: <sip:205@[local_ip]:[local_port]>
      Refer-To: <sip:301@127.0.0.1>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>"#
        )
    };
    scenario(
        "bad transfer requests",
        &format!(
            r#"{}
  <recv response="403"/>
  {}
  <recv response="481"/>
  {}
  <recv response="100" optional="true"/>
  <recv response="481"/>
  {}"#,
            refer(1, ""),
            refer(2, ";tag=no-such-dialog"),
            invite_replacing(
                3,
                "no-such-call@127.0.0.1;to-tag=nope;from-tag=none",
                false,
                9
            ),
            c_in_dialog("ACK", 3, "[branch-3]"),
        ),
    )
}

// ---------------------------------------------------------------------------------------
// Helpers.

/// The sipfrag status lines of the NOTIFYs in a SIPp message trace, in order
/// (retransmissions counted once).
fn sipfrags(trace: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut in_notify = false;
    for line in trace.lines() {
        let l = line.trim();
        if l.starts_with("NOTIFY ") {
            in_notify = true;
        } else if in_notify && l.starts_with("SIP/2.0 ") {
            if out.last().map(String::as_str) != Some(l) {
                out.push(l.to_string());
            }
            in_notify = false;
        } else if l.starts_with("----") {
            in_notify = false;
        }
    }
    out
}

/// Milliseconds of `hz` in a pri-switch `media` line's `heard=HZ:MS,…`.
fn heard(media: &str, hz: f64) -> u64 {
    heard_ms(media, "heard", hz)
}

/// What libpri's Q.931 exchange for one call must be when the gateway never re-placed
/// nor cleared it: the switch's SETUP answered once, cleared by `cleared_by`.
fn one_call_q931(rig: &Rig, mark: usize, switch_clears: bool) {
    let clearing: &[&str] = if switch_clears {
        &["tx DISCONNECT", "rx RELEASE", "tx RELEASE_COMPLETE"]
    } else {
        &["rx DISCONNECT", "tx RELEASE", "rx RELEASE_COMPLETE"]
    };
    let want: Vec<&str> = [
        "tx SETUP",
        "rx CALL_PROCEEDING",
        "rx ALERTING",
        "rx CONNECT",
    ]
    .into_iter()
    .chain(clearing.iter().copied())
    .collect();
    assert_q931_in_order(rig, mark, &want);
    // No other call and no other clearing (CONNECT ACKNOWLEDGE and the like may come
    // between).
    let calls_and_clearings = |m: &&str| {
        matches!(
            m.split_whitespace().nth(1),
            Some("SETUP" | "DISCONNECT" | "RELEASE" | "RELEASE_COMPLETE")
        )
    };
    let seen = q931_after(rig, mark);
    let seen: Vec<&str> = seen
        .iter()
        .map(String::as_str)
        .filter(calls_and_clearings)
        .collect();
    let want: Vec<&str> = want.into_iter().filter(calls_and_clearings).collect();
    assert_eq!(
        seen, want,
        "libpri saw one call, never re-placed nor cleared before the end"
    );
}

// ---------------------------------------------------------------------------------------
// Tests.

#[test]
fn blind_transfer_of_a_pstn_call_notifies_100_180_200_and_keeps_the_b_channel() {
    let mut rig = rig();
    let cdr0 = rig.cdrs().len();
    let rtp_a = RtpPeer::start(rig.line.law(), SIP_TONE, vec![SWITCH_TONE]);
    let rtp_b = RtpPeer::start(rig.line.law(), TRANSFER_TONE, vec![SWITCH_TONE]);
    let b = rig.sipp_spawn_on("target", &target(rtp_b.port), "s", ports().phone_b);
    let a = rig.sipp_spawn("blind", &referrer_blind(rtp_a.port), "s");
    std::thread::sleep(Duration::from_millis(300));
    let mark = rig.switch.mark();
    let (id, _) = rig.switch_calls(mark, "201");
    // A talks 1.5 s, transfers; B rings 300 ms and answers: let B and the switch talk.
    let run_a = a.finish();
    assert!(run_a.ok, "SIPp A (REFER, NOTIFYs, BYE):\n{}", run_a.trace);
    let t_transfer = Instant::now();
    std::thread::sleep(Duration::from_millis(2500));
    rig.switch.send(&format!("hangup {id} 16"));
    let media = rig.switch.media_of(mark, &id);
    let run_b = b.finish();
    let rep_a = rtp_a.stop();
    let rep_b = rtp_b.stop();
    eprintln!("transfer done {:?} before the end", t_transfer.elapsed());
    assert!(
        run_b.ok,
        "SIPp B (INVITE with Referred-By, answer, BYE):\n{}",
        run_b.trace
    );
    assert_eq!(
        sipfrags(&run_a.trace),
        [
            "SIP/2.0 100 Trying",
            "SIP/2.0 180 Ringing",
            "SIP/2.0 200 OK"
        ],
        "{}",
        run_a.trace
    );
    assert!(
        run_b.trace.contains("Referred-By: <sip:201@"),
        "{}",
        run_b.trace
    );
    one_call_q931(&rig, mark, true);
    // Both directions after the transfer: the switch heard B's tone, B heard the switch.
    assert!(heard(&media, TRANSFER_TONE) >= 1000, "switch: {media}");
    assert!(
        rep_b.heard_ms(SWITCH_TONE) >= 1000,
        "B heard the switch: {rep_b:?}"
    );
    // And A before it, both ways.
    assert!(heard(&media, SIP_TONE) >= 500, "switch: {media}");
    assert!(rep_a.heard_ms(SWITCH_TONE) >= 500, "A: {rep_a:?}");
    let cdrs = rig.assert_clean(cdr0, 2);
    let first = &cdrs[0];
    let call = first[CALL_ID].clone();
    assert_eq!(first[DISPOSITION], "TRANSFERRED", "{cdrs:?}");
    assert_eq!(first[CALLED], "201");
    assert_eq!(first[TRANSFER], format!("blind to 301 as {call}.1"));
    let second = &cdrs[1];
    assert_eq!(second[CALL_ID], format!("{call}.1"));
    assert_eq!(second[DISPOSITION], "ANSWERED", "{cdrs:?}");
    assert_eq!(second[CALLED], "301");
    assert_eq!(second[TRANSFER], format!("blind from {call}"));
}

#[test]
fn transfer_to_a_busy_target_notifies_486_and_the_call_goes_on() {
    let mut rig = rig();
    let cdr0 = rig.cdrs().len();
    let rtp_a = RtpPeer::start(rig.line.law(), SIP_TONE, vec![SWITCH_TONE]);
    let b = rig.sipp_spawn_on("busy", &uas_reject(486), "s", ports().phone_b);
    let a = rig.sipp_spawn("failing", &referrer_failing(rtp_a.port, "302", 486), "s");
    std::thread::sleep(Duration::from_millis(300));
    let mark = rig.switch.mark();
    let (id, _) = rig.switch_calls(mark, "201");
    let run_a = a.finish();
    let media = rig.switch.media_of(mark, &id);
    let run_b = b.finish();
    let rep_a = rtp_a.stop();
    assert!(
        run_a.ok,
        "SIPp A (400, 202, NOTIFY 100/486, BYE):\n{}",
        run_a.trace
    );
    assert!(run_b.ok, "SIPp B (486):\n{}", run_b.trace);
    assert_eq!(
        sipfrags(&run_a.trace),
        ["SIP/2.0 100 Trying", "SIP/2.0 486 Busy Here"],
        "{}",
        run_a.trace
    );
    // The call went on after the failed transfer (2.5 s more), cleared by A's BYE only.
    one_call_q931(&rig, mark, false);
    assert!(heard(&media, SIP_TONE) >= 2500, "switch: {media}");
    assert!(rep_a.heard_ms(SWITCH_TONE) >= 2500, "A: {rep_a:?}");
    let cdrs = rig.assert_clean(cdr0, 2);
    let (attempt, call) = (&cdrs[0], &cdrs[1]);
    assert_eq!(attempt[DISPOSITION], "BUSY", "{cdrs:?}");
    assert_eq!(attempt[CALLED], "302");
    assert_eq!(
        attempt[TRANSFER],
        format!("blind attempt from {}", call[CALL_ID])
    );
    assert_eq!(attempt[CALL_ID], format!("{}.1", call[CALL_ID]));
    assert_eq!(call[DISPOSITION], "ANSWERED");
    assert_eq!(call[TRANSFER], "");
}

#[test]
fn attended_transfer_replaces_the_leg_and_libpri_sees_nothing_but_the_call() {
    let mut rig = rig();
    let cdr0 = rig.cdrs().len();
    let dialog = rig.dir.join("dialog.txt");
    let _ = std::fs::remove_file(&dialog);
    let rtp_a = RtpPeer::start(rig.line.law(), SIP_TONE, vec![SWITCH_TONE]);
    let rtp_c = RtpPeer::start(rig.line.law(), TRANSFER_TONE, vec![SWITCH_TONE]);
    let a = rig.sipp_spawn("replaced", &replaced(rtp_a.port), "s");
    std::thread::sleep(Duration::from_millis(300));
    let mark = rig.switch.mark();
    let (id, _) = rig.switch_calls(mark, "201");
    let t0 = Instant::now();
    let text = loop {
        // One write by `echo`; read it once it is complete.
        match std::fs::read_to_string(&dialog) {
            Ok(t) if t.ends_with('\n') => break t,
            _ => {}
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "A wrote no dialog.txt"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_millis(1000));
    let set: Vec<String> = ["callid", "gwtag", "atag"]
        .iter()
        .flat_map(|k| {
            let v = kv(text.trim(), k).unwrap_or_else(|| panic!("{k} in {text}"));
            ["-set".to_string(), k.to_string(), v.to_string()]
        })
        .collect();
    let c = rig.sipp_spawn_with(
        "replacing",
        &replacing(rtp_c.port, 2500),
        "201",
        common::free_udp_port(),
        &set,
    );
    let run_c = c.finish();
    let run_a = a.finish();
    let media = rig.switch.media_of(mark, &id);
    let rep_a = rtp_a.stop();
    let rep_c = rtp_c.stop();
    assert!(
        run_c.ok,
        "SIPp C (INVITE with Replaces, 200, BYE):\n{}",
        run_c.trace
    );
    assert!(run_a.ok, "SIPp A (answer, BYE'd):\n{}", run_a.trace);
    // libpri: one SETUP, no clearing until C's BYE, the same B-channel all along.
    one_call_q931(&rig, mark, false);
    assert!(
        heard(&media, TRANSFER_TONE) >= 1500,
        "switch heard C: {media}"
    );
    assert!(
        rep_c.heard_ms(SWITCH_TONE) >= 1500,
        "C heard the switch: {rep_c:?}"
    );
    assert!(heard(&media, SIP_TONE) >= 500, "switch heard A: {media}");
    assert!(rep_a.heard_ms(SWITCH_TONE) >= 500, "A: {rep_a:?}");
    let cdrs = rig.assert_clean(cdr0, 2);
    let call = cdrs[0][CALL_ID].clone();
    assert_eq!(cdrs[0][DISPOSITION], "TRANSFERRED", "{cdrs:?}");
    assert_eq!(cdrs[0][TRANSFER], format!("attended as {call}.1"));
    assert_eq!(cdrs[1][CALL_ID], format!("{call}.1"));
    assert_eq!(cdrs[1][DISPOSITION], "ANSWERED");
    assert_eq!(cdrs[1][CALLED], "205");
    assert_eq!(cdrs[1][TRANSFER], format!("attended from {call}"));
}

#[test]
fn refer_outside_a_dialog_is_403_unknown_dialogs_are_481() {
    let rig = rig();
    let cdr0 = rig.cdrs().len();
    let run = rig.sipp("bad", &bad_input(), "201");
    assert!(run.ok, "SIPp (403, 481, 481):\n{}", run.trace);
    rig.assert_clean(cdr0, 0);
}

#[test]
fn transfer_to_a_busy_pstn_number_notifies_486_and_the_call_goes_on() {
    // A transfer back to the PSTN (both remaining parties on ISDN: the daemon joins the
    // B-channels, see transfer_libpri_e1.rs) whose new call the switch refuses busy.
    let mut rig = rig();
    let cdr0 = rig.cdrs().len();
    let rtp_a = RtpPeer::start(rig.line.law(), SIP_TONE, vec![SWITCH_TONE]);
    let a = rig.sipp_spawn(
        "to-pstn",
        &referrer_failing(rtp_a.port, "03099917", 486),
        "s",
    );
    std::thread::sleep(Duration::from_millis(300));
    let mark = rig.switch.mark();
    let (id, _) = rig.switch_calls(mark, "201");
    let run_a = a.finish();
    rig.switch.media_of(mark, &id);
    rtp_a.stop();
    assert!(
        run_a.ok,
        "SIPp A (400, 202, NOTIFY 100/486, BYE):\n{}",
        run_a.trace
    );
    assert_eq!(
        sipfrags(&run_a.trace),
        ["SIP/2.0 100 Trying", "SIP/2.0 486 Busy Here"],
        "{}",
        run_a.trace
    );
    // The switch got the transfer's SETUP and refused it busy; its first call went on
    // until A hung up.
    let ring = rig.switch.wait(mark, Duration::from_secs(15), |l| {
        l.starts_with("ring ") && kv(l, "called") == Some("03099917")
    });
    let id2 = kv(&ring, "id").unwrap().to_string();
    rig.switch.released(mark, &id2);
    let cdrs = rig.assert_clean(cdr0, 2);
    assert_eq!(cdrs[0][DISPOSITION], "BUSY", "{cdrs:?}");
    assert_eq!(cdrs[0][CALLED], "03099917");
    assert_eq!(cdrs[1][DISPOSITION], "ANSWERED");
}
