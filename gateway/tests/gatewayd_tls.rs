//! SIP over TLS trunks (`transport = "tls"`, rustls) through gatewayd, with OpenSSL's
//! `s_client` / `s_server` as the peer (Debian's SIPp is built without TLS): a call from
//! the PBX over TLS is answered by the simulated switch and cleared with BYE; a call from
//! the switch goes out to the PBX over TLS with a `sips:` Request-URI.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::daemon_support::{free_tcp_port, Daemon, Options, DISPOSITION};

/// A self-signed certificate for 127.0.0.1 in `dir`: (certificate, key) paths.
fn certificate(dir: &std::path::Path) -> (String, String) {
    std::fs::create_dir_all(dir).unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    (cert.display().to_string(), key.display().to_string())
}

/// The lines an OpenSSL process prints, as they come.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(l) = line else { break };
            if tx.send(l.trim_end().to_string()).is_err() {
                break;
            }
        }
    });
    rx
}

/// The header block of the next SIP message whose start line begins with `start`.
fn next_message(rx: &mpsc::Receiver<String>, start: &str) -> Vec<String> {
    let mut block: Option<Vec<String>> = None;
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(15))
            .unwrap_or_else(|_| panic!("no `{start}` arrived"));
        match &mut block {
            None if line.starts_with(start) => block = Some(vec![line]),
            None => {}
            Some(b) if line.is_empty() => return std::mem::take(b),
            Some(b) => b.push(line),
        }
    }
}

fn header<'a>(block: &'a [String], name: &str) -> &'a str {
    block
        .iter()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
        .unwrap_or_else(|| panic!("no {name} in {block:#?}"))
}

fn send(stdin: &mut ChildStdin, text: &str) {
    stdin
        .write_all(text.replace('\n', "\r\n").as_bytes())
        .unwrap();
    stdin.flush().unwrap();
}

#[test]
fn openssl_client_calls_over_tls_answered_by_the_switch() {
    let sip_port = free_tcp_port();
    let dir = std::env::temp_dir().join(format!("gatewayd-tls-in-cert-{}", std::process::id()));
    let (cert, key) = certificate(&dir);
    let trunk = format!("transport = \"tls\"\ntls_certificate = \"{cert}\"\ntls_key = \"{key}\"");
    let d = Daemon::start(
        "tls-in",
        Options {
            sip_trunk: &trunk,
            sip_port: Some(sip_port),
            ..Options::default()
        },
    );
    // OpenSSL checks our certificate against the one it was given.
    let mut client = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{sip_port}"),
            "-quiet",
            "-verify_return_error",
            "-CAfile",
            &cert,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl runs");
    let rx = lines_of(&mut client);
    let mut stdin = client.stdin.take().unwrap();
    let sdp = "v=0\no=pbx 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n\
               m=audio 40000 RTP/AVP 8\na=rtpmap:8 PCMA/8000\n";
    let target = format!("sip:0301234@127.0.0.1:{sip_port};transport=tls");
    let common = "From: <sip:pbx@127.0.0.1>;tag=tls1\nCall-ID: tls-call-1@127.0.0.1\n\
                  Max-Forwards: 70\n";
    send(
        &mut stdin,
        &format!(
            "INVITE {target} SIP/2.0\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKtls1\n\
             {common}To: <sip:0301234@127.0.0.1>\nCSeq: 1 INVITE\n\
             Contact: <sip:pbx@127.0.0.1:5999;transport=tls>\n\
             Content-Type: application/sdp\nContent-Length: {}\n\n{sdp}",
            sdp.replace('\n', "\r\n").len()
        ),
    );
    // ALERTING with in-band tones: 183 with SDP.
    let ringing = next_message(&rx, "SIP/2.0 18");
    assert!(header(&ringing, "Via").starts_with("SIP/2.0/TLS"));
    let ok = next_message(&rx, "SIP/2.0 200");
    let to = header(&ok, "To").to_string();
    assert!(header(&ok, "Contact").contains("transport=tls"), "{ok:#?}");
    send(
        &mut stdin,
        &format!(
            "ACK {target} SIP/2.0\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKtls2\n\
             {common}To: {to}\nCSeq: 1 ACK\nContent-Length: 0\n\n"
        ),
    );
    std::thread::sleep(Duration::from_millis(500));
    send(
        &mut stdin,
        &format!(
            "BYE {target} SIP/2.0\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKtls3\n\
             {common}To: {to}\nCSeq: 2 BYE\nContent-Length: 0\n\n"
        ),
    );
    let bye_ok = next_message(&rx, "SIP/2.0 200");
    assert_eq!(header(&bye_ok, "CSeq"), "2 BYE");
    let _ = client.kill();
    let _ = client.wait();
    d.assert_no_busy_channel();
    let cdrs = d.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED");
}

#[test]
fn switch_call_goes_to_the_pbx_over_tls_with_a_sips_uri() {
    let pbx_port = free_tcp_port();
    let dir = std::env::temp_dir().join(format!("gatewayd-tls-out-cert-{}", std::process::id()));
    let (cert, key) = certificate(&dir);
    let trunk = format!(
        "transport = \"tls\"\ntls_certificate = \"{cert}\"\ntls_key = \"{key}\"\nsips = true"
    );
    let d = Daemon::start(
        "tls-out",
        Options {
            sip_trunk: &trunk,
            sip_port: Some(free_tcp_port()),
            pbx_port: Some(pbx_port),
            ..Options::default()
        },
    );
    let mut server = Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            &format!("127.0.0.1:{pbx_port}"),
            "-cert",
            &cert,
            "-key",
            &key,
            "-quiet",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl runs");
    let rx = lines_of(&mut server);
    // The call must not race OpenSSL's start (slow on a loaded machine): wait until it
    // accepts connections. The probe's plain TCP connection fails its handshake and
    // s_server goes back to accepting.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", pbx_port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "openssl s_server did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(d.ctl("simcall 1 201"), "ok\n");
    // rustls verified OpenSSL's certificate (the trunk's own) and sent the INVITE.
    let invite = next_message(&rx, "INVITE sips:201@127.0.0.1");
    assert!(
        header(&invite, "Via").starts_with("SIP/2.0/TLS"),
        "{invite:#?}"
    );
    assert!(
        header(&invite, "To").starts_with("<sips:201@"),
        "{invite:#?}"
    );
    // The PBX is busy: 486 back over the TLS connection, which the gateway ACKs; the
    // switch's call is cleared with cause 17.
    let mut stdin = server.stdin.take().unwrap();
    let tag = ";tag=busy1";
    send(
        &mut stdin,
        &format!(
            "SIP/2.0 486 Busy Here\nVia: {}\nFrom: {}\nTo: {}{tag}\nCall-ID: {}\nCSeq: {}\n\
             Content-Length: 0\n\n",
            header(&invite, "Via"),
            header(&invite, "From"),
            header(&invite, "To"),
            header(&invite, "Call-ID"),
            header(&invite, "CSeq"),
        ),
    );
    let ack = next_message(&rx, "ACK sips:201@127.0.0.1");
    assert!(header(&ack, "To").ends_with(tag), "{ack:#?}");
    d.assert_no_busy_channel();
    let _ = server.kill();
    let _ = server.wait();
    let cdrs = d.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0][DISPOSITION], "BUSY");
}
