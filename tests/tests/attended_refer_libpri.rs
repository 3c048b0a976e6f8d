//! The attended transfer most common at a PSTN gateway, end to end through the real
//! daemon process with libpri (`pri-switch`) as the switch: phone A (SIPp) calls PSTN
//! party B through the gateway (call 1), then PSTN party C (call 2, a second dialog of
//! the same SIPp call), then sends REFER in call 1's dialog with
//! `Refer-To: <sip:C@gw?Replaces=<call 2's dialog>>` (RFC 3515, RFC 3891 §7.1, RFC 5589
//! §7). The dialog named is one the gateway holds itself, so the gateway joins B and C
//! (`Core::refer_join`): A gets NOTIFY `100 Trying` then `200 OK` (subscription
//! terminated) on call 1 and BYE on both dialogs; B and C, both on the E1, are joined as
//! for any trombone:
//!
//! - trunk group `transfer = "ect"`: ETSI Explicit Call Transfer on the D-channel; libpri
//!   reports the transfer naming both calls, clears them from the gateway and connects
//!   its two parties itself (each hears the other's tone);
//! - `transfer = "hairpin"`: the gateway joins the two B-channels in its media engine,
//!   no RTP: each party hears the other's tone until the PSTN clears; each is told its
//!   new partner (FACILITY `EctInform`, libpri's connected line update).
//!
//! Afterwards no B-channel is busy and each part has its CDR with the transfer.
//!
//! SIPp keeps both dialogs in one scenario: the second one's Call-ID is
//! `two///<call-id>`, which SIPp matches to the same scenario call (the part after
//! `///`); `-cid_str %u-%p` keeps `@` out of the Call-ID, so the escaped `Replaces` in
//! the Refer-To is plain.

mod common;

use std::sync::MutexGuard;
use std::time::Duration;

use common::{
    kv, pstn_e1_transfer, q931_after, sdp, Line, Rig, RtpPeer, Shared, CALLED, CHANNEL,
    DISPOSITION, OK_LAST, PARTY2_TONE, SIP_TONE, SWITCH_TONE,
};
use gateway_tests::audio::Law;

/// The CDR's transfer column (after the disposition).
const TRANSFER: usize = DISPOSITION + 1;
/// The CDR's calling number column.
const CALLING: usize = CALLED - 1;

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

static ECT: Shared = Shared::new();
static HAIRPIN: Shared = Shared::new();

/// A's side: call 1 to `[service]` (`b`), call 2 to `c`, talk `talk_ms`, REFER call 1
/// to C replacing call 2, then the NOTIFYs and the two BYEs in whatever order they come.
/// One of A's calls: INVITE to `number` (From tag `tag`, Call-ID prefixed with
/// `call_id_prefix`, media at `rtp_port`), the 200 whose To tag goes to `tag{n}`, ACK.
fn answered_leg(number: &str, tag: &str, call_id_prefix: &str, rtp_port: u16, n: u8) -> String {
    let sdp = sdp(Law::ALaw, rtp_port);
    format!(
        r#"<send retrans="500">
    <![CDATA[
      INVITE sip:{number}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: pbx <sip:2001@[local_ip]:[local_port]>;tag={tag}[call_number]
      To: <sip:{number}@[remote_ip]:[remote_port]>
      Call-ID: {call_id_prefix}[call_id]
      CSeq: 1 INVITE
      Contact: sip:2001@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      {sdp}
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200">
    <action>
      <ereg regexp="tag=([^;> ]*)" search_in="hdr" header="To:" assign_to="junk{n},tag{n}"/>
    </action>
  </recv>
  <send>
    <![CDATA[
      ACK sip:{number}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: pbx <sip:2001@[local_ip]:[local_port]>;tag={tag}[call_number]
      To: <sip:{number}@[remote_ip]:[remote_port]>;tag=[$tag{n}]
      Call-ID: {call_id_prefix}[call_id]
      CSeq: 1 ACK
      Contact: sip:2001@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>"#
    )
}

fn uac_two_calls_and_refer(b: &str, c: &str, port1: u16, port2: u16, talk_ms: u64) -> String {
    let ok = OK_LAST;
    let (ok1, ok4) = (
        ok.replacen("<send>", "<send next=\"1\">", 1),
        ok.replacen("<send>", "<send next=\"4\">", 1),
    );
    let leg1 = answered_leg(b, "one", "", port1, 1);
    let leg2 = answered_leg(c, "two", "two///", port2, 2);
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="attended transfer by REFER with Replaces">
  {leg1}
  {leg2}
  <Reference variables="junk1,junk2"/>
  <pause milliseconds="{talk_ms}"/>
  <send retrans="500">
    <![CDATA[
      REFER sip:{b}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: pbx <sip:2001@[local_ip]:[local_port]>;tag=one[call_number]
      To: <sip:{b}@[remote_ip]:[remote_port]>;tag=[$tag1]
      Call-ID: [call_id]
      CSeq: 2 REFER
      Contact: sip:2001@[local_ip]:[local_port]
      Refer-To: <sip:{c}@[remote_ip]:[remote_port]?Replaces=two%2F%2F%2F[call_id]%3Bto-tag%3D[$tag2]%3Bfrom-tag%3Dtwo[call_number]>
      Referred-By: <sip:2001@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="202"/>
  <label id="1"/>
  <recv request="NOTIFY" optional="true" next="2"/>
  <recv request="BYE" next="3"/>
  <label id="2"/>
  {ok1}
  <label id="3"/>
  {ok}
  <label id="4"/>
  <recv request="NOTIFY" optional="true" next="5"/>
  <recv request="BYE" next="6"/>
  <label id="5"/>
  {ok4}
  <label id="6"/>
  {ok}
  <pause milliseconds="300"/>
</scenario>
"#
    )
}

/// The sipfrag status lines of the NOTIFYs SIPp received, in order, with their
/// `Subscription-State`.
fn notifies(trace: &str) -> Vec<(String, String)> {
    trace
        .split("message received")
        .filter_map(|m| {
            let m = m
                .split_once("\n\n")
                .map_or(m, |(_, rest)| rest)
                .trim_start();
            if !m.starts_with("NOTIFY ") {
                return None;
            }
            let state = m
                .lines()
                .find_map(|l| l.strip_prefix("Subscription-State:"))
                .unwrap_or("")
                .trim()
                .to_string();
            let frag = m
                .lines()
                .find(|l| l.starts_with("SIP/2.0 "))
                .unwrap_or("")
                .trim()
                .to_string();
            Some((frag, state))
        })
        .collect()
}

fn cid() -> Vec<String> {
    vec!["-cid_str".to_string(), "%u-%p".to_string()]
}

/// The SIPp run's NOTIFYs: `100 Trying` (active) then `200 OK` (terminated), on call 1.
fn assert_notifies(trace: &str) {
    let n = notifies(trace);
    assert_eq!(n.len(), 2, "NOTIFYs: {n:?}\n{trace}");
    assert_eq!(n[0].0, "SIP/2.0 100 Trying", "{n:?}");
    assert!(n[0].1.starts_with("active"), "{n:?}");
    assert_eq!(n[1].0, "SIP/2.0 200 OK", "{n:?}");
    assert!(n[1].1.starts_with("terminated"), "{n:?}");
}

#[test]
fn refer_replacing_our_own_dialog_joins_the_pstn_parties_by_ect() {
    let _one = serial();
    let mut rig = ECT.lock(|| Rig::start("attended-refer-ect", Line::E1, &pstn_e1_transfer("ect")));
    let law = rig.line.law();
    let cdr0 = rig.cdrs().len();
    let mark = rig.switch.mark();
    let rtp1 = RtpPeer::start(law, SIP_TONE, vec![SWITCH_TONE]);
    let rtp2 = RtpPeer::start(law, SIP_TONE, vec![PARTY2_TONE]);
    let (b, c) = ("0301111", "0302222");
    let port = rig.pbx_port;
    let sipp = rig.sipp_spawn_with(
        "attended-ect",
        &uac_two_calls_and_refer(b, c, rtp1.port, rtp2.port, 1500),
        b,
        port,
        &cid(),
    );
    let (id1, ch1, id2, ch2) = rig.switch.two_rings(mark, b, c, PARTY2_TONE);
    assert_ne!(ch1, ch2);

    // libpri's view: ExplicitEctExecute on call 2 naming call 1, neither held; B and C
    // joined in the switch hear each other.
    rig.switch
        .assert_ect_joined(mark, &id1, &id2, Duration::from_secs(15));

    let run = sipp.finish();
    let (r1, r2) = (rtp1.stop(), rtp2.stop());
    assert!(run.ok, "SIPp failed:\n{}", run.trace);
    assert_notifies(&run.trace);
    assert!(r1.heard_ms(SWITCH_TONE) > 0, "B was heard on call 1");
    assert!(r2.heard_ms(PARTY2_TONE) > 0, "C was heard on call 2");

    let q = q931_after(&rig, mark);
    assert!(q.iter().any(|l| l == "rx FACILITY"), "{q:?}");
    let gw = rig.log_text("gatewayd.log");
    assert!(gw.contains("attended transfer: calls joined"), "no join");
    assert!(
        !gw.contains("hairpinned in the gateway"),
        "ECT must not fall back"
    );

    // Call 1's and call 2's parts with A, then B ↔ C until the switch took it over.
    let cdrs = rig.assert_clean(cdr0, 3);
    assert_eq!(cdrs[0][DISPOSITION], "TRANSFERRED", "{cdrs:?}");
    assert_eq!(cdrs[0][CALLED], b, "{cdrs:?}");
    assert_eq!(cdrs[0][CHANNEL], ch1.to_string(), "{cdrs:?}");
    assert_eq!(
        cdrs[0][TRANSFER], "attended join with call-2 as call-1.1",
        "{cdrs:?}"
    );
    assert_eq!(cdrs[1][DISPOSITION], "TRANSFERRED", "{cdrs:?}");
    assert_eq!(cdrs[1][CALLED], c, "{cdrs:?}");
    assert_eq!(cdrs[1][CHANNEL], ch2.to_string(), "{cdrs:?}");
    assert_eq!(
        cdrs[1][TRANSFER], "attended join with call-1 as call-1.1",
        "{cdrs:?}"
    );
    assert_eq!(cdrs[2][CALLING], b, "{cdrs:?}");
    assert_eq!(cdrs[2][CALLED], c, "{cdrs:?}");
    assert_eq!(cdrs[2][DISPOSITION], "ANSWERED", "{cdrs:?}");
    assert_eq!(
        cdrs[2][TRANSFER], "attended join of call-1 and call-2; ect",
        "{cdrs:?}"
    );
}

#[test]
fn refer_replacing_our_own_dialog_hairpins_the_b_channels() {
    let _one = serial();
    let mut rig = HAIRPIN.lock(|| {
        Rig::start(
            "attended-refer-hairpin",
            Line::E1,
            &pstn_e1_transfer("hairpin"),
        )
    });
    let law = rig.line.law();
    let cdr0 = rig.cdrs().len();
    let mark = rig.switch.mark();
    let rtp1 = RtpPeer::start(law, SIP_TONE, vec![SWITCH_TONE]);
    let rtp2 = RtpPeer::start(law, SIP_TONE, vec![PARTY2_TONE]);
    let (b, c) = ("0303333", "0304444");
    let port = rig.pbx_port;
    let sipp = rig.sipp_spawn_with(
        "attended-hp",
        &uac_two_calls_and_refer(b, c, rtp1.port, rtp2.port, 1500),
        b,
        port,
        &cid(),
    );
    let (id1, ch1, id2, ch2) = rig.switch.two_rings(mark, b, c, PARTY2_TONE);
    let run = sipp.finish();
    let _ = (rtp1.stop(), rtp2.stop());
    assert!(run.ok, "SIPp failed:\n{}", run.trace);
    assert_notifies(&run.trace);

    // One call left with both B-channels, joined in the gateway.
    rig.wait_busy_channels(2);
    let calls = rig.ctl("show calls");
    assert_eq!(calls.trim().lines().count(), 1, "{calls}");
    // B and C talk through the hairpin, both ways, then B hangs up.
    let (m1, m2) = rig.switch.assert_hairpin_talk(mark, &id1, &id2, &id1);
    assert_eq!(kv(&m1, "channel"), Some(ch1.to_string().as_str()));
    assert_eq!(kv(&m2, "channel"), Some(ch2.to_string().as_str()));

    // No transfer service on the D-channel: the two FACILITYs are the gateway's
    // EctInform telling each party its new partner (libpri: connected line updates).
    let q = q931_after(&rig, mark);
    assert_eq!(
        q.iter().filter(|l| l.ends_with("FACILITY")).count(),
        2,
        "{q:?}"
    );
    let log = rig.log_text("pri-switch.log");
    assert!(
        !log.contains("EctLinkIdRequest"),
        "ECT invoked on a hairpin"
    );
    for (id, partner) in [(&id1, c), (&id2, b)] {
        let l = rig.switch.wait(mark, Duration::from_secs(15), |l| {
            l.starts_with("connected ") && kv(l, "id") == Some(id)
        });
        assert_eq!(kv(&l, "number"), Some(partner), "{l}");
    }
    let gw = rig.log_text("gatewayd.log");
    assert!(gw.contains("hairpinned in the gateway"), "no hairpin");

    let cdrs = rig.assert_clean(cdr0, 3);
    assert_eq!(cdrs[0][DISPOSITION], "TRANSFERRED", "{cdrs:?}");
    assert_eq!(cdrs[1][DISPOSITION], "TRANSFERRED", "{cdrs:?}");
    assert_eq!(cdrs[2][CALLED], c, "{cdrs:?}");
    assert_eq!(
        cdrs[2][TRANSFER], "attended join of call-1 and call-2; hairpin",
        "{cdrs:?}"
    );
}
