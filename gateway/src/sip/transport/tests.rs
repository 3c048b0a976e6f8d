use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::time::timeout;

use super::*;

const OPTIONS: &str = "OPTIONS sip:gw@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bKt1;rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:gw@127.0.0.1>\r\n\
Call-ID: t1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

fn lo() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn next_message(rx: &mut mpsc::Receiver<TransportEvent>) -> Incoming {
    loop {
        match timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("no message in 5 s")
        {
            Some(TransportEvent::Message(m)) => return m,
            Some(_) => continue,
            None => panic!("transport closed"),
        }
    }
}

#[test]
fn stamp_via_adds_received_and_rport() {
    let m = SipMessage::parse(OPTIONS.as_bytes().to_vec()).unwrap();
    let src: SocketAddr = "198.51.100.7:40000".parse().unwrap();
    let s = stamp_via(m, src);
    let via = s.top_via().unwrap();
    assert_eq!(via.received().unwrap().unwrap().to_string(), "198.51.100.7");
    assert_eq!(via.rport(), Some(Some(40000)));
    assert_eq!(
        response_target(&s, Protocol::Udp).unwrap().addr,
        src,
        "responses go back to the NAT binding"
    );
    // Sent-by equal to the source and no rport: nothing to add.
    let plain = OPTIONS
        .replace(";rport", "")
        .replace("192.0.2.2", "198.51.100.7");
    let m = SipMessage::parse(plain.as_bytes().to_vec()).unwrap();
    let s = stamp_via(m.clone(), "198.51.100.7:5060".parse().unwrap());
    assert_eq!(s, m);
    assert_eq!(
        response_target(&s, Protocol::Udp).unwrap().addr.port(),
        5060
    );
}

#[tokio::test]
async fn udp_round_trip_with_rport() {
    let (a, _arx) = Transport::bind(Listen {
        udp: Some(lo()),
        ..Default::default()
    })
    .await
    .unwrap();
    let (b, mut brx) = Transport::bind(Listen {
        udp: Some(lo()),
        ..Default::default()
    })
    .await
    .unwrap();
    let to = Target {
        protocol: Protocol::Udp,
        addr: b.local_addr(Protocol::Udp).unwrap(),
    };
    a.send(to, Bytes::from_static(OPTIONS.as_bytes()))
        .await
        .unwrap();
    let got = next_message(&mut brx).await;
    assert_eq!(got.source.addr, a.local_addr(Protocol::Udp).unwrap());
    assert_eq!(
        got.message.top_via().unwrap().rport(),
        Some(Some(got.source.addr.port()))
    );
}

/// The SIP UDP socket asks for a receive buffer far above the kernel's default (208 KiB),
/// so that a burst arriving while the signalling task stalls waits in it rather than being
/// dropped (`udp::RECEIVE_BUFFER`). Granted in full with `SO_RCVBUFFORCE` (root or
/// `CAP_NET_ADMIN`), capped at `net.core.rmem_max` otherwise; the kernel reports double.
#[tokio::test]
async fn udp_socket_gets_a_large_receive_buffer() {
    let (t, _rx) = Transport::bind(Listen {
        udp: Some(lo()),
        ..Default::default()
    })
    .await
    .unwrap();
    let got = udp::receive_buffer(t.udp.as_deref().unwrap()).unwrap();
    let rmem_max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let floor = 2 * udp::RECEIVE_BUFFER.min(rmem_max);
    assert!(
        got >= floor,
        "SO_RCVBUF {got}, want at least {floor} (rmem_max {rmem_max})"
    );
}

#[tokio::test]
async fn tcp_connection_is_reused_both_ways() {
    let (a, mut arx) = Transport::bind(Listen {
        tcp: Some(lo()),
        ..Default::default()
    })
    .await
    .unwrap();
    let (b, mut brx) = Transport::bind(Listen {
        tcp: Some(lo()),
        ..Default::default()
    })
    .await
    .unwrap();
    let to_b = Target {
        protocol: Protocol::Tcp,
        addr: b.local_addr(Protocol::Tcp).unwrap(),
    };
    let tcp_opts = OPTIONS.replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    a.send(to_b, Bytes::from(tcp_opts.clone())).await.unwrap();
    let got = next_message(&mut brx).await;
    // B answers on the connection the request came in on.
    b.send(got.source, Bytes::from(tcp_opts.replace("t1", "t2")))
        .await
        .unwrap();
    let back = next_message(&mut arx).await;
    assert_eq!(back.message.call_id().unwrap().0, "t2");
    assert_eq!(a.connection_count(), 1);
    assert_eq!(b.connection_count(), 1, "no second connection");
    // A second request from A rides the same connection.
    a.send(to_b, Bytes::from(tcp_opts.replace("t1", "t3")))
        .await
        .unwrap();
    let third = next_message(&mut brx).await;
    assert_eq!(third.source, got.source);
}

#[tokio::test]
async fn tcp_message_split_across_segments_arrives_whole() {
    let (b, mut brx) = Transport::bind(Listen {
        tcp: Some(lo()),
        ..Default::default()
    })
    .await
    .unwrap();
    let body = "v=0\r\no=- 1 1 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\n";
    let invite = format!(
        "INVITE sip:1@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.2;branch=z9hG4bKs\r\n\
Max-Forwards: 70\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:1@h>\r\nCall-ID: split\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:a@192.0.2.2;transport=tcp>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s = TcpStream::connect(b.local_addr(Protocol::Tcp).unwrap())
        .await
        .unwrap();
    s.set_nodelay(true).unwrap();
    // Content-Length in one segment, the blank line in the next, the body in a third.
    let cut1 = invite.find("Content-Length").unwrap() + 18;
    let cut2 = invite.find("\r\n\r\n").unwrap() + 3;
    for part in [&invite[..cut1], &invite[cut1..cut2], &invite[cut2..]] {
        s.write_all(part.as_bytes()).await.unwrap();
        s.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = next_message(&mut brx).await;
    assert_eq!(got.message.body(), body.as_bytes());
    assert_eq!(got.message.call_id().unwrap().0, "split");
}

#[tokio::test]
async fn tls_round_trip_with_self_signed_certificate() {
    let dir = std::env::temp_dir().join(format!("sip-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    let listen = || Listen {
        tls: Some((lo(), cert.clone(), key.clone())),
        ..Default::default()
    };
    let (a, _arx) = Transport::bind(listen()).await.unwrap();
    let (b, mut brx) = Transport::bind(listen()).await.unwrap();
    let to_b = Target {
        protocol: Protocol::Tls,
        addr: b.local_addr(Protocol::Tls).unwrap(),
    };
    a.send(
        to_b,
        Bytes::from(OPTIONS.replace("SIP/2.0/UDP", "SIP/2.0/TLS")),
    )
    .await
    .unwrap();
    let got = next_message(&mut brx).await;
    assert_eq!(got.source.protocol, Protocol::Tls);
    assert_eq!(got.message.call_id().unwrap().0, "t1");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Many datagrams at once (more than one `recvmmsg` batch), sent with `send_all` (more
/// than one `sendmmsg` batch), arrive whole and in order through the owner-read inbox;
/// CRLF keep-alives are skipped and a malformed datagram is reported, not dropped.
#[tokio::test]
async fn direct_inbox_takes_batches_in_order() {
    let (a, _arx) = Transport::bind(Listen {
        udp: Some(lo()),
        ..Default::default()
    })
    .await
    .unwrap();
    let (b, mut inbox) = Transport::bind_direct(Listen {
        udp: Some(lo()),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(inbox.udp.is_some(), "UDP is left to the owner");
    let to_b = Target {
        protocol: Protocol::Udp,
        addr: b.local_addr(Protocol::Udp).unwrap(),
    };
    let n = 3 * BATCH + 5;
    let mut out: Vec<(Target, Bytes)> = (0..n)
        .map(|i| (to_b, Bytes::from(OPTIONS.replace("t1", &format!("c{i}")))))
        .collect();
    out.insert(7, (to_b, Bytes::from_static(b"\r\n\r\n")));
    out.push((to_b, Bytes::from_static(b"NOT SIP AT ALL\r\n\r\n")));
    a.send_all(&mut out).await;
    assert!(out.is_empty(), "send_all empties its queue");
    let mut got = Vec::new();
    while got.len() < n + 1 {
        timeout(Duration::from_secs(5), inbox.recv(&mut got))
            .await
            .expect("datagrams in 5 s");
    }
    assert_eq!(got.len(), n + 1, "the keep-alive is not an event");
    for (i, ev) in got.iter().take(n).enumerate() {
        let TransportEvent::Message(m) = ev else {
            panic!("event {i} is not a message: {ev:?}");
        };
        assert_eq!(m.message.call_id().unwrap().0, format!("c{i}"));
        assert_eq!(m.source.addr, a.local_addr(Protocol::Udp).unwrap());
        assert_eq!(m.local, b.local_addr(Protocol::Udp).unwrap());
    }
    assert!(matches!(got[n], TransportEvent::Malformed(_)));
}

/// A datagram to an address the socket cannot reach is skipped; the ones after it go.
#[tokio::test]
async fn send_all_skips_what_the_kernel_refuses() {
    let (a, _arx) = Transport::bind(Listen {
        udp: Some(lo()),
        ..Default::default()
    })
    .await
    .unwrap();
    let (b, mut brx) = Transport::bind(Listen {
        udp: Some(lo()),
        ..Default::default()
    })
    .await
    .unwrap();
    let to_b = Target {
        protocol: Protocol::Udp,
        addr: b.local_addr(Protocol::Udp).unwrap(),
    };
    // An IPv6 destination from an IPv4 socket: EAFNOSUPPORT or the like.
    let nowhere = Target {
        protocol: Protocol::Udp,
        addr: "[2001:db8::1]:5060".parse().unwrap(),
    };
    let mut out = vec![
        (nowhere, Bytes::from_static(OPTIONS.as_bytes())),
        (to_b, Bytes::from(OPTIONS.replace("t1", "after"))),
    ];
    a.send_all(&mut out).await;
    let got = next_message(&mut brx).await;
    assert_eq!(got.message.call_id().unwrap().0, "after");
}
