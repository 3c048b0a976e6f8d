//! DTMF between SIP (RFC 4733 telephone-events) and in-band Q.23 tones on an E1 through
//! the real daemon process: the rig of `common` (`gatewayd run` on a simulated E1
//! through `libdahdi_sim.so`, libpri as the switch in `pri-switch`), SIPp as the IP-PBX
//! offering `telephone-event/8000`, and the test's own RTP endpoint, which sends and
//! receives the events. The engine's own conversion is tested in process
//! (`gateway/tests/media_dtmf.rs`); this file checks it end to end with an independent
//! DTMF receiver and sender on the far side of the span (pri-switch's Goertzel receiver
//! and Q.23 generator, `gateway_tests::audio`).

mod common;

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{kv, uac_answered, uac_in_dialog, Line, Rig, Shared, SIP_TONE};
use gateway_tests::audio::{Law, ToneGen};

static RIG: Shared = Shared::new();
static RIG_T1: Shared = Shared::new();

fn rig() -> MutexGuard<'static, Rig> {
    RIG.lock(|| Rig::start("dtmf-sip", Line::E1, ROUTES))
}

/// A T1 (NI-2, µ-law: PCMU and the detector on µ-law samples).
fn rig_t1() -> MutexGuard<'static, Rig> {
    RIG_T1.lock(|| Rig::start("dtmf-sip-t1", Line::T1, ROUTES))
}

const ROUTES: &str = r#"
[[trunk_group]]
name = "pstn"
members = [{ span = 1 }]
hunting = "ascending"

[[route]]
pattern = "_0X."
from = ["pbx"]
to = ["pstn"]
"#;

/// RTP payload type of telephone-event in the PBX's offer.
const EVENT_PT: u8 = 101;

/// What the RTP endpoint saw.
#[derive(Debug, Default)]
struct Report {
    /// Keys received as RFC 4733 events (one per event: its first packet), in order.
    keys: String,
    /// telephone-event packets received, and those with the E bit.
    event_packets: u64,
    end_packets: u64,
    audio_packets: u64,
    /// Keys sent as events.
    sent_keys: String,
}

/// RFC 4733 §3.2: event codes 0–15 of the DTMF keys.
const KEYS: &[u8; 16] = b"0123456789*#ABCD";

/// The PBX's RTP: 1800 Hz in PCMA every 20 ms to whoever sends to it (symmetric RTP);
/// `send_keys` as RFC 4733 events from `after` past the first packet received, each
/// 100 ms long (six packets with growing duration, then three with the E bit, RFC 4733
/// §2.5.1.3–2.5.1.4) and 100 ms of audio between keys; every telephone-event received
/// is decoded.
struct EventPeer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Report>>,
}

impl EventPeer {
    fn start(law: Law, send_keys: &'static str, after: Duration) -> EventPeer {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = sock.local_addr().unwrap().port();
        sock.set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut rep = Report::default();
            let mut tone = ToneGen::new(SIP_TONE);
            let mut buf = [0u8; 2048];
            let mut peer: Option<SocketAddr> = None;
            let mut first_rx: Option<Instant> = None;
            let mut next_send = Instant::now();
            let (mut seq, mut ts, ssrc) = (1u16, 0u32, 0x7e1e_0001u32);
            // Event timestamps already counted (one key per event).
            let mut seen: BTreeSet<u32> = BTreeSet::new();
            // Sending: key index, packet index within its 200 ms period (10 packets).
            let mut key_slot: usize = 0;
            let keys: Vec<u8> = send_keys
                .bytes()
                .filter_map(|k| KEYS.iter().position(|&c| c == k).map(|i| i as u8))
                .collect();
            let mut event_ts = 0u32;
            while !s.load(Ordering::Relaxed) {
                if let Ok((n, from)) = sock.recv_from(&mut buf) {
                    if n >= 12 && buf[0] >> 6 == 2 {
                        peer.get_or_insert(from);
                        first_rx.get_or_insert_with(Instant::now);
                        let pt = buf[1] & 0x7F;
                        let start = 12 + 4 * usize::from(buf[0] & 0x0F);
                        if pt == EVENT_PT && n >= start + 4 {
                            rep.event_packets += 1;
                            let p = &buf[start..start + 4];
                            if p[1] & 0x80 != 0 {
                                rep.end_packets += 1;
                            }
                            let ets = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
                            if seen.insert(ets) {
                                if let Some(&k) = KEYS.get(usize::from(p[0])) {
                                    rep.keys.push(k as char);
                                }
                            }
                        } else if pt == law.rtp_payload_type() {
                            rep.audio_packets += 1;
                        }
                    }
                }
                let (Some(peer), Some(t0)) = (peer, first_rx) else {
                    continue;
                };
                let now = Instant::now();
                while next_send <= now {
                    let mut pkt = [0u8; 12 + 160];
                    let k = key_slot / 10;
                    let slot = key_slot % 10;
                    let sending = now >= t0 + after && k < keys.len();
                    let len = if sending && slot < 8 {
                        // Slots 0–4: the key on (duration 160 … 800); 5–7: the end,
                        // sent three times with the final duration (800).
                        if slot == 0 {
                            event_ts = ts;
                        }
                        let duration = (160 * (slot.min(4) as u32 + 1)) as u16;
                        pkt[1] = EVENT_PT | if slot == 0 { 0x80 } else { 0 };
                        pkt[4..8].copy_from_slice(&event_ts.to_be_bytes());
                        pkt[12] = keys[k];
                        pkt[13] = if slot >= 5 { 0x80 } else { 0 } | 10;
                        pkt[14..16].copy_from_slice(&duration.to_be_bytes());
                        if slot == 0 {
                            rep.sent_keys.push(KEYS[usize::from(keys[k])] as char);
                        }
                        16
                    } else {
                        pkt[1] = law.rtp_payload_type();
                        pkt[4..8].copy_from_slice(&ts.to_be_bytes());
                        tone.fill(law, &mut pkt[12..]);
                        12 + 160
                    };
                    if sending {
                        key_slot += 1;
                    }
                    pkt[0] = 0x80;
                    pkt[2..4].copy_from_slice(&seq.to_be_bytes());
                    pkt[8..12].copy_from_slice(&ssrc.to_be_bytes());
                    let _ = sock.send_to(&pkt[..len], peer);
                    seq = seq.wrapping_add(1);
                    ts = ts.wrapping_add(160);
                    next_send = if next_send + Duration::from_millis(100) < now {
                        now + Duration::from_millis(20)
                    } else {
                        next_send + Duration::from_millis(20)
                    };
                }
            }
            rep
        });
        EventPeer {
            port,
            stop,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> Report {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

/// SIPp's INVITE offers PCMA and telephone-event 0–15 (RFC 4733 §7.1.1).
fn uac_with_events(law: Law, rtp_port: u16, hold_ms: u64) -> String {
    let xml = uac_answered(law, rtp_port, hold_ms);
    let pt = law.rtp_payload_type();
    let with_events = xml
        .replace(
            &format!("RTP/AVP {pt}\n"),
            &format!("RTP/AVP {pt} {EVENT_PT}\n"),
        )
        .replace(
            "a=ptime:20",
            &format!(
                "a=rtpmap:{EVENT_PT} telephone-event/8000\n      a=fmtp:{EVENT_PT} 0-15\n      a=ptime:20"
            ),
        );
    assert_ne!(with_events, xml, "the offer names telephone-event");
    with_events
}

/// A SIP call (SDP with telephone-event) to the E1, answered by libpri. The PBX's RTP
/// sends 1592 as RFC 4733 events; pri-switch must hear exactly those keys in band on the
/// B-channel. The switch keys 3690#D in band; the PBX must receive exactly those keys as
/// telephone-events (each once, each ended with the E bit).
#[test]
fn rfc4733_events_become_inband_dtmf_on_the_e1_and_inband_dtmf_becomes_events() {
    rfc4733_both_ways(rig());
}

/// The same on a T1 (PCMU, µ-law B-channel).
#[test]
fn rfc4733_events_become_inband_dtmf_on_a_t1_and_back() {
    rfc4733_both_ways(rig_t1());
}

fn rfc4733_both_ways(mut rig: MutexGuard<'static, Rig>) {
    let law = rig.line.law();
    let mark = rig.switch.mark();
    let cdr0 = rig.cdrs().len();
    let rtp = EventPeer::start(law, "1592", Duration::from_millis(800));
    let sipp = rig.sipp_spawn("dtmf", &uac_with_events(law, rtp.port, 4000), "0301234");
    let id = rig.switch.answered_id(mark);
    std::thread::sleep(Duration::from_millis(500));
    rig.switch.send(&format!("dtmf {id} 3690#D"));
    let run = sipp.finish();
    let rep = rtp.stop();
    assert!(run.ok, "SIPp failed:\n{}", run.trace);
    let m = rig.switch.media_of(mark, &id);
    let keys = rig.switch.keys_heard(mark);
    eprintln!("pri-switch {m}\n{}\nRTP endpoint {rep:?}", keys.join("\n"));
    assert_eq!(rep.sent_keys, "1592");
    assert_eq!(
        kv(&m, "digits"),
        Some("1592"),
        "the switch heard the PBX's RFC 4733 events as in-band DTMF: {m}\n{}",
        keys.join("\n")
    );
    assert_eq!(
        rep.keys, "3690#D",
        "the PBX got the switch's in-band keys as RFC 4733 events: {rep:?}"
    );
    assert!(
        rep.end_packets >= 6,
        "each event was ended with the E bit: {rep:?}"
    );
    assert!(rep.audio_packets > 100, "audio went on: {rep:?}");
    rig.assert_clean(cdr0, 1);
}

/// SIPp sends INFO with `application/dtmf-relay` (`Signal=…`, `Duration=100`) three
/// times during a call to the E1 (its offer without telephone-event): the gateway plays
/// each key in band for its 100 ms (counted in blocks on the line) and pri-switch hears
/// exactly `7*0`, each key 80–120 ms long.
#[test]
fn sip_info_dtmf_relay_is_played_in_band_on_the_e1() {
    let rig = rig();
    let law = rig.line.law();
    let mark = rig.switch.mark();
    let cdr0 = rig.cdrs().len();
    let rtp = common::RtpPeer::start(law, SIP_TONE, vec![]);
    // RFC 2976 INFO with the `application/dtmf-relay` body most PBXs send; its 200.
    let info = |cseq: u32, key: char| {
        format!(
            "{}\n  <recv response=\"200\"/>\n  <pause milliseconds=\"300\"/>",
            uac_in_dialog(
                "INFO",
                cseq,
                "",
                Some((
                    "application/dtmf-relay",
                    &format!("Signal={key}\n      Duration=100")
                ))
            )
        )
    };
    let hold = 3000;
    let xml = uac_answered(law, rtp.port, hold);
    let pause = format!("<pause milliseconds=\"{hold}\"/>");
    assert!(xml.contains(&pause) && xml.contains("CSeq: 2 BYE"));
    let xml = xml
        .replace(
            &pause,
            &format!(
                "<pause milliseconds=\"800\"/>\n  {}\n  {}\n  {}\n  <pause milliseconds=\"1000\"/>",
                info(2, '7'),
                info(3, '*'),
                info(4, '0')
            ),
        )
        .replace("CSeq: 2 BYE", "CSeq: 5 BYE");
    let run = rig.sipp("info", &xml, "0301234");
    let rep = rtp.stop();
    assert!(run.ok, "SIPp (INFO answered 200) failed:\n{}", run.trace);
    let ring = rig
        .switch
        .wait(mark, Duration::from_secs(15), |l| l.starts_with("ring "));
    let id = kv(&ring, "id").unwrap().to_string();
    let m = rig.switch.media_of(mark, &id);
    let keys = rig.switch.keys_heard(mark);
    eprintln!("pri-switch {m}\n{}\nRTP endpoint {rep:?}", keys.join("\n"));
    assert_eq!(
        kv(&m, "digits"),
        Some("7*0"),
        "the switch heard the INFO digits in band: {m}\n{}",
        keys.join("\n")
    );
    for k in &keys {
        let ms: u32 = kv(k, "ms").unwrap().parse().unwrap();
        assert!((80..=120).contains(&ms), "a 100 ms key: {k}");
    }
    rig.assert_clean(cdr0, 1);
}
