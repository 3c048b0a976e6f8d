//! What the transfer tests through gatewayd share (`transfer_h323.rs`,
//! `transfer_sip.rs`): an RTP endpoint playing a tone and keeping what it hears, SIPp
//! scenario pieces, the dialog a SIPp party writes for the one that replaces it, and the
//! records.

#![allow(dead_code)]

use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gateway::media::{tone_present, ulaw_to_alaw, Law, ToneGenerator};
use gateway::rtp::{PayloadType, RtpHeader, RtpPacket, SeqNo, Ssrc};

use crate::daemon_support::{Daemon, DISPOSITION};
use crate::sipp_scenario::{head, Uac};

/// CDR columns (`gateway::cdr::HEADER`).
pub const CALL_ID: usize = 0;
pub const IN_TRUNK: usize = 8;
pub const OUT_TRUNK: usize = 9;
pub const TRANSFER: usize = DISPOSITION + 1;

/// The tone the simulated switch plays (its default `tone_hz`).
pub const SWITCH_TONE: f64 = 1004.0;

/// An RTP endpoint in a thread: a tone in 20 ms A-law packets to its target (set, or the
/// source of the first packet received), everything received kept as A-law.
pub struct RtpEnd {
    pub addr: SocketAddrV4,
    state: Arc<Mutex<(Option<SocketAddr>, Vec<u8>)>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RtpEnd {
    pub fn start(tone_hz: f64) -> RtpEnd {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let addr = match socket.local_addr().unwrap() {
            SocketAddr::V4(a) => a,
            other => panic!("{other}"),
        };
        let state = Arc::new(Mutex::new((None, Vec::new())));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut tone = ToneGenerator::new(tone_hz, -10.0);
            let (mut seq, mut ts) = (1u16, 0u32);
            let ssrc = Ssrc(0x7e57_0000 ^ tone_hz as u32);
            let mut next = Instant::now();
            let mut buf = [0u8; 1500];
            while !sp.load(Ordering::Relaxed) {
                while let Ok((n, from)) = socket.recv_from(&mut buf) {
                    let Ok(p) = RtpPacket::parse(&buf[..n]) else {
                        continue;
                    };
                    let mut s = st.lock().unwrap();
                    s.0.get_or_insert(from);
                    match p.payload_type.get() {
                        8 => s.1.extend_from_slice(p.payload),
                        0 => s.1.extend(p.payload.iter().map(|&b| ulaw_to_alaw(b))),
                        _ => {}
                    }
                }
                let now = Instant::now();
                if now >= next {
                    next += Duration::from_millis(20);
                    let target = st.lock().unwrap().0;
                    if let Some(to) = target {
                        let mut frame = [0u8; 160];
                        tone.fill(Law::ALaw, &mut frame);
                        let mut out = [0u8; 200];
                        let h = RtpHeader::new(PayloadType::PCMA, SeqNo(seq), ts, ssrc);
                        let n = h.write(&frame, 0, &mut out).unwrap();
                        let _ = socket.send_to(&out[..n], to);
                        seq = seq.wrapping_add(1);
                        ts = ts.wrapping_add(160);
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        RtpEnd {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    pub fn set_target(&self, to: SocketAddr) {
        self.state.lock().unwrap().0 = Some(to);
    }

    /// 20 ms blocks received in which `hz` is the tone.
    pub fn heard(&self, hz: f64) -> usize {
        self.state
            .lock()
            .unwrap()
            .1
            .chunks_exact(160)
            .filter(|b| tone_present(b, Law::ALaw, hz).present)
            .count()
    }

    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

/// The scenario named `name` with `body` (its elements).
pub fn scenario(name: &str, body: &str) -> String {
    format!("{}{body}\n</scenario>\n", head(name))
}

pub fn sdp(rtp: SocketAddrV4) -> String {
    format!(
        "v=0\n      o=t 1 1 IN IP4 127.0.0.1\n      s=-\n      c=IN IP4 127.0.0.1\n      t=0 0\n      \
         m=audio {} RTP/AVP 8\n      a=rtpmap:8 PCMA/8000\n      a=ptime:20",
        rtp.port()
    )
}

/// SIPp ringing for the INVITE just received: 180 with To tag `to_tag` (the tag of the
/// early dialog, RFC 3261 §12.1.1) and SIPp's Contact.
pub fn ringing(to_tag: &str) -> String {
    format!(
        r#"  <send>
    <![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag={to_tag}
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port]>
      Content-Length: 0
    ]]>
  </send>"#
    )
}

/// SIPp answering the INVITE just received: 200 OK with To tag `to_tag` and an SDP with
/// media at `rtp`, retransmitted until the ACK.
pub fn ok_with_sdp(to_tag: &str, rtp: SocketAddrV4) -> String {
    format!(
        r#"  <send retrans="500">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag={to_tag}
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

      {}
    ]]>
  </send>"#,
        sdp(rtp)
    )
}

pub const OK_TO_REQUEST: &str = r#"  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>"#;

/// SIPp action writing the dialog's Call-ID, the gateway's tag (`$gwtag`) and the
/// party's own tag (`own_tag`) to `dialog.txt`, for the party that replaces it.
pub fn write_dialog(own_tag: &str) -> String {
    format!(
        r#"  <nop>
    <action>
      <exec command="echo 'callid=[call_id] gwtag=[$gwtag] atag={own_tag}' > dialog.txt"/>
    </action>
  </nop>"#
    )
}

/// The start of the scenario of C, the party that takes a call over with an INVITE
/// whose `Replaces` (RFC 3891 §6.1) names the dialog [`write_dialog`] wrote: the dialog's
/// Call-ID and tags come as SIPp globals, set by [`read_dialog`]'s `-set` arguments.
pub const REPLACING_GLOBALS: &str = r#"  <Global variables="callid,gwtag,atag"/>"#;

/// The `Replaces` header line of C's INVITE (RFC 3891 §6.1), from [`REPLACING_GLOBALS`].
pub const REPLACES: &str = "Replaces: [$callid];to-tag=[$gwtag];from-tag=[$atag]";

/// C, phone 205 with From tag `tag`, calling `callee` to take over the dialog
/// [`REPLACES`] names.
pub fn party_c(tag: &str, callee: &str) -> Uac {
    Uac::phone("205", tag, callee)
}

/// C's BYE `talk_ms` after the call began and the 200 it gets.
pub fn c_hangs_up(c: &Uac, talk_ms: u64) -> String {
    format!(
        "  <pause milliseconds=\"{talk_ms}\"/>\n{}  <recv response=\"200\"/>",
        c.in_dialog("BYE", 2).send_retrans()
    )
}

/// Wait for `dialog.txt` in the daemon's directory: SIPp's `-set` arguments for the
/// replacing party's `callid`, `gwtag` and `atag`.
pub fn read_dialog(d: &Daemon) -> Vec<String> {
    let dialog = d.dir.join("dialog.txt");
    let t0 = Instant::now();
    let text = loop {
        match std::fs::read_to_string(&dialog) {
            Ok(t) if t.ends_with('\n') => break t,
            _ => {}
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "no dialog.txt");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut set = Vec::new();
    for kv in text.split_whitespace() {
        let (k, v) = kv.split_once('=').unwrap();
        set.extend(["-set".to_string(), k.to_string(), v.to_string()]);
    }
    assert_eq!(set.len(), 9, "{text}");
    set
}

/// SIPp running scenario `sf` once on `port` (a second trunk's peer, as UAS).
pub fn spawn_sipp(d: &Daemon, port: u16, sf: &str) -> std::process::Child {
    std::process::Command::new("sipp")
        .args([
            "-sf",
            sf,
            "-m",
            "1",
            "-p",
            &port.to_string(),
            "-i",
            "127.0.0.1",
        ])
        .args(["-timeout", "30", "-timeout_error", "-nostdin"])
        .current_dir(&d.dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("sipp (Debian package sip-tester) runs")
}

/// The records written from `from` on, once `n` are there.
pub fn records(d: &Daemon, from: usize, n: usize) -> Vec<Vec<String>> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let all = d.cdrs();
        if all.len() >= from + n || Instant::now() > deadline {
            return all[from.min(all.len())..].to_vec();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
