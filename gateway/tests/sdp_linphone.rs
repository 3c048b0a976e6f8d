//! A second real SIP user agent's SDP offer: linphone-cli 5.1 (`linphonec`, Debian
//! package `linphone-cli`) dials a UDP socket of this test. Its offer is a hard one for
//! a G.711 gateway: Opus and Speex first, static PCMU/PCMA/G.729 without `a=rtpmap`,
//! three telephone-event formats at 48, 16 and 8 kHz, RTCP-XR and feedback attributes.

use std::io::Write;
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gateway::media::Law;
use gateway::sdp::{LocalCapabilities, OfferAnswer, SessionDescription};

#[test]
fn linphone_offer_is_answered_with_the_8khz_telephone_event() {
    let home = std::env::temp_dir().join(format!("gw-linphone-sdp-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let rc = home.join("rc");
    std::fs::write(&rc, "[sip]\nuse_ipv6=0\n[video]\nenabled=0\n").unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let target = sock.local_addr().unwrap();
    let sip_port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new("linphonec")
        .arg("-c")
        .arg(&rc)
        .env("HOME", &home)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("linphonec must be installed (Debian package linphone-cli)");
    let mut stdin = child.stdin.take().unwrap();
    // linphonec only opens its UDP transport when told the port.
    std::thread::sleep(Duration::from_millis(1500));
    let _ = writeln!(stdin, "ports sip {sip_port}");
    let _ = writeln!(stdin, "call sip:4001@{target}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut invite = None;
    let mut buf = [0u8; 65535];
    while Instant::now() < deadline {
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            if buf.starts_with(b"INVITE ") {
                invite = Some(buf[..n].to_vec());
                break;
            }
        }
    }
    let _ = writeln!(stdin, "quit");
    drop(stdin);
    std::thread::sleep(Duration::from_millis(200));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&home);
    let invite = invite.expect("linphonec sent no INVITE");
    let at = invite
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("INVITE has a body");
    let offer = SessionDescription::parse(&invite[at + 4..]).expect("linphone SDP parses");
    let m = &offer.media()[0];
    // Static payload types are known without rtpmap (RFC 3551 Table 4).
    assert_eq!(m.codec("PCMU").unwrap().payload_type, 0);
    assert_eq!(m.codec("PCMA").unwrap().payload_type, 8);
    assert!(m.codec("G729").is_some());
    let (te_pt, _) = m.telephone_event().expect("telephone-event/8000 offered");

    for (law, pt) in [(Law::ALaw, 8u8), (Law::MuLaw, 0u8)] {
        let mut oa = OfferAnswer::new(
            LocalCapabilities::for_span_law("127.0.0.1".parse().unwrap(), law),
            40000,
        );
        let (answer, neg, _) = oa.handle_offer(&offer).unwrap();
        let a = neg.audio.unwrap();
        assert_eq!(a.law, law);
        let (pt_ev, events) = a.telephone_event.unwrap();
        // The 8 kHz telephone-event, not the 48 or 16 kHz ones listed before it.
        assert_eq!(pt_ev.get(), te_pt);
        assert_eq!(events.to_string(), "0-15");
        let text = String::from_utf8(answer.to_bytes()).unwrap();
        assert!(
            text.contains(&format!("m=audio 40000 RTP/AVP {pt} {te_pt}\r\n")),
            "{text}"
        );
        assert!(text.contains(&format!("a=rtpmap:{te_pt} telephone-event/8000\r\n")));
    }
}
