//! The RAS client and the gatekeeper double over real UDP sockets on loopback, in real
//! time with short timers: discovery and registration, keep-alive re-registrations
//! within a 2 s TTL, a gatekeeper restart survived, ARQ/DRQ around a call, URQ.

use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use h323::h225::{Alias, Endpoint, Guid};
use h323::ras::client::{
    Admission, ClientConfig, Failure, GatekeeperLocation, RasClient, RasEvent,
};
use h323::ras::gatekeeper::{Gatekeeper, GatekeeperConfig, GatekeeperEvent};
use h323::ras::timer::RasTimers;
use h323::ras::Registrant;

fn v4(a: SocketAddr) -> SocketAddrV4 {
    match a {
        SocketAddr::V4(a) => a,
        SocketAddr::V6(_) => panic!("IPv4 loopback expected"),
    }
}

/// The gatekeeper double on a UDP socket, in its own thread.
struct UdpGatekeeper {
    addr: SocketAddrV4,
    gk: Arc<Mutex<Gatekeeper>>,
    events: Arc<Mutex<Vec<GatekeeperEvent>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl UdpGatekeeper {
    fn start(ttl: u32, routes: Vec<(Alias, SocketAddrV4)>) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = v4(socket.local_addr().unwrap());
        let mut config = GatekeeperConfig::new("GK-LOOP", addr);
        config.time_to_live = Some(ttl);
        config.routes = routes;
        let gk = Arc::new(Mutex::new(Gatekeeper::new(config)));
        let events = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (gk, events, stop) = (gk.clone(), events.clone(), stop.clone());
            std::thread::spawn(move || {
                socket
                    .set_read_timeout(Some(Duration::from_millis(20)))
                    .unwrap();
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::Relaxed) {
                    let got = socket.recv_from(&mut buf);
                    let mut g = gk.lock().unwrap();
                    let now = Instant::now();
                    if let Ok((n, SocketAddr::V4(from))) = got {
                        g.handle_datagram(now, from, &buf[..n]);
                    }
                    g.handle_timeout(now);
                    while let Some(t) = g.poll_transmit() {
                        socket.send_to(&t.payload, t.destination).unwrap();
                    }
                    let mut ev = events.lock().unwrap();
                    while let Some(e) = g.poll_event() {
                        ev.push(e);
                    }
                }
            })
        };
        Self {
            addr,
            gk,
            events,
            stop,
            thread: Some(thread),
        }
    }

    fn events(&self) -> Vec<GatekeeperEvent> {
        self.events.lock().unwrap().clone()
    }
}

impl Drop for UdpGatekeeper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The client on its own UDP socket, driven from the test thread.
struct UdpClient {
    socket: UdpSocket,
    client: RasClient,
    events: Vec<RasEvent>,
}

impl UdpClient {
    /// Run until `done` says so on a new event, or `limit` passes. Returns whether
    /// `done` was met.
    fn drive(&mut self, limit: Duration, mut done: impl FnMut(&RasEvent) -> bool) -> bool {
        let end = Instant::now() + limit;
        let mut buf = [0u8; 2048];
        loop {
            while let Some(t) = self.client.poll_transmit() {
                self.socket.send_to(&t.payload, t.destination).unwrap();
            }
            let mut met = false;
            while let Some(e) = self.client.poll_event() {
                met |= done(&e);
                self.events.push(e);
            }
            let now = Instant::now();
            if met {
                return true;
            }
            if now >= end {
                return false;
            }
            let wake = self.client.poll_timeout().unwrap_or(end).min(end);
            let wait = wake
                .saturating_duration_since(now)
                .max(Duration::from_millis(1));
            self.socket.set_read_timeout(Some(wait)).unwrap();
            if let Ok((n, SocketAddr::V4(from))) = self.socket.recv_from(&mut buf) {
                self.client.handle_datagram(Instant::now(), from, &buf[..n]);
            }
            self.client.handle_timeout(Instant::now());
        }
    }
}

#[test]
fn registration_keep_alive_restart_and_a_call_over_loopback() {
    let callee: SocketAddrV4 = "127.0.0.1:41720".parse().unwrap();
    let gk = UdpGatekeeper::start(2, vec![(Alias::Dialled("4940555".into()), callee)]);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let ras_address = v4(socket.local_addr().unwrap());
    let registrant = Registrant {
        endpoint: Endpoint::default(),
        ras_address,
        call_signal_address: "127.0.0.1:1720".parse().unwrap(),
        aliases: vec![Alias::H323Id("gw-loop".into())],
        prefixes: vec!["4930".into()],
    };
    let mut config = ClientConfig::new(registrant, GatekeeperLocation::Discover(gk.addr));
    config.time_to_live = Some(2);
    config.timers = RasTimers::uniform(Duration::from_millis(300), 2);
    config.retry_after = Duration::from_millis(500);
    let mut c = UdpClient {
        socket,
        client: RasClient::new(config),
        events: Vec::new(),
    };
    c.client.start(Instant::now()).unwrap();

    // Discovery and registration.
    assert!(c.drive(Duration::from_secs(3), |e| matches!(
        e,
        RasEvent::Registered { .. }
    )));
    assert_eq!(
        c.events[0],
        RasEvent::GatekeeperFound {
            address: gk.addr,
            gatekeeper_id: Some("GK-LOOP".into())
        }
    );
    assert_eq!(c.client.endpoint_id(), Some("EP-0001"));
    assert_eq!(c.client.time_to_live(), Some(Duration::from_secs(2)));
    {
        let g = gk.gk.lock().unwrap();
        let r = g
            .registration("EP-0001")
            .expect("registered at the gatekeeper");
        assert_eq!(r.prefixes, vec!["4930".to_string()]);
        assert_eq!(r.ras_address, ras_address);
    }

    // Keep-alives every second (half the 2 s TTL) for 3.5 s: the registration never
    // expires at the gatekeeper.
    c.drive(Duration::from_millis(3500), |_| false);
    let keep_alives = c
        .events
        .iter()
        .filter(|e| matches!(e, RasEvent::KeepAlive { .. }))
        .count();
    assert!((3..=4).contains(&keep_alives), "{:?}", c.events);
    let ev = gk.events();
    assert!(
        !ev.iter()
            .any(|e| matches!(e, GatekeeperEvent::Expired { .. })),
        "{ev:?}"
    );
    assert!(
        gk.gk
            .lock()
            .unwrap()
            .registration("EP-0001")
            .unwrap()
            .keep_alives
            >= 3
    );

    // The gatekeeper restarts and forgets us: the next keep-alive is rejected and a full
    // registration follows, with a new endpoint identifier.
    gk.gk.lock().unwrap().restart();
    let n = c.events.len();
    assert!(c.drive(Duration::from_secs(3), |e| matches!(
        e,
        RasEvent::Registered { .. }
    )));
    assert_eq!(
        c.events[n],
        RasEvent::RegistrationLost {
            reason: Failure::Rejected("fullRegistrationRequired".into())
        }
    );
    assert_eq!(c.client.endpoint_id(), Some("EP-0002"));
    assert!(gk.gk.lock().unwrap().registration("EP-0002").is_some());
    // ... and is kept alive again.
    let n = c.events.len();
    assert!(c.drive(Duration::from_secs(2), |e| matches!(
        e,
        RasEvent::KeepAlive { .. }
    )));
    assert_eq!(c.events.len(), n + 1);

    // A call: ARQ gets the callee's address from the gatekeeper's alias table; DRQ.
    let call_id = Guid([0x42; 16]);
    c.client
        .admit(
            Instant::now(),
            Admission {
                call_ref: 7,
                call_id,
                conference_id: Guid([0x43; 16]),
                destination: vec![Alias::Dialled("4940555".into())],
                dest_call_signal_address: None,
                source: vec![],
                bandwidth: 1280,
                answer_call: false,
            },
        )
        .unwrap();
    assert!(c.drive(Duration::from_secs(2), |e| matches!(
        e,
        RasEvent::AdmissionConfirmed { .. }
    )));
    assert_eq!(
        c.events.last(),
        Some(&RasEvent::AdmissionConfirmed {
            call_id,
            dest_call_signal_address: Some(callee),
            bandwidth: 1280,
            routed_by_gatekeeper: false,
        })
    );
    assert_eq!(gk.gk.lock().unwrap().calls().len(), 1);
    c.client.disengage(Instant::now(), call_id).unwrap();
    assert!(c.drive(Duration::from_secs(2), |e| matches!(
        e,
        RasEvent::Disengaged { .. }
    )));
    assert_eq!(
        c.events.last(),
        Some(&RasEvent::Disengaged {
            call_id,
            confirmed: true
        })
    );
    assert!(gk.gk.lock().unwrap().calls().is_empty());

    // Shutdown: URQ/UCF.
    c.client.unregister(Instant::now()).unwrap();
    assert!(c.drive(Duration::from_secs(2), |e| matches!(
        e,
        RasEvent::Unregistered { .. }
    )));
    assert_eq!(
        c.events.last(),
        Some(&RasEvent::Unregistered { confirmed: true })
    );
    assert!(gk.gk.lock().unwrap().registrations().is_empty());
    let ev = gk.events();
    assert!(
        !ev.iter()
            .any(|e| matches!(e, GatekeeperEvent::Expired { .. })),
        "{ev:?}"
    );
}
