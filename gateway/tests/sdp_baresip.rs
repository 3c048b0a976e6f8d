//! A real SIP user agent's SDP offer: baresip (Debian package `baresip-core`) dials a
//! UDP socket of this test; the INVITE's SDP goes through our offer/answer engine.

use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gateway::media::Law;
use gateway::sdp::{Direction, LocalCapabilities, OfferAnswer, SessionDescription};

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn baresip_offer_is_answered_with_pcma_and_telephone_event() {
    let dir = std::env::temp_dir().join(format!("gw-baresip-sdp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let target = sock.local_addr().unwrap();
    let listen = free_udp_port();
    std::fs::write(
        dir.join("config"),
        format!(
            "sip_listen 127.0.0.1:{listen}\n\
             audio_player aufile,/dev/null\n\
             audio_source ausine,1000\n\
             module_path /usr/lib/baresip/modules\n\
             module g711.so\nmodule ausine.so\nmodule aufile.so\nmodule account.so\n\
             module_app menu.so\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("accounts"),
        format!("<sip:gwtest@127.0.0.1:{listen}>;regint=0\n"),
    )
    .unwrap();
    let mut child = Command::new("baresip")
        .arg("-f")
        .arg(&dir)
        .args(["-e", &format!("/dial sip:4001@{target}"), "-t", "6"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("baresip must be installed (Debian package baresip-core)");
    let deadline = Instant::now() + Duration::from_secs(8);
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
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let invite = invite.expect("baresip sent no INVITE");
    let at = invite
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("INVITE has a body");
    let body = &invite[at + 4..];
    let offer = SessionDescription::parse(body).expect("baresip SDP parses");
    let audio = &offer.media()[0];
    assert!(audio.codec("PCMU").is_some() && audio.codec("PCMA").is_some());
    assert_eq!(audio.direction, Direction::SendRecv);

    let mut oa = OfferAnswer::new(
        LocalCapabilities::for_span_law("127.0.0.1".parse().unwrap(), Law::ALaw),
        40000,
    );
    let (answer, neg, _) = oa.handle_offer(&offer).unwrap();
    let a = neg.audio.unwrap();
    // baresip lists PCMU first; an E1 gateway still prefers PCMA (no transcoding).
    assert_eq!(a.law, Law::ALaw);
    assert_eq!(a.remote.unwrap().port(), audio.port);
    let (te_pt, events) = a.telephone_event.expect("baresip offers telephone-event");
    assert_eq!(Some(te_pt.get()), audio.telephone_event().map(|t| t.0));
    assert!(events.contains(0) && events.contains(15));
    let text = String::from_utf8(answer.to_bytes()).unwrap();
    assert!(
        text.contains(&format!("m=audio 40000 RTP/AVP 8 {}\r\n", te_pt.get())),
        "{text}"
    );
}
