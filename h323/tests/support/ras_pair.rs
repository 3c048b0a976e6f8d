#![allow(dead_code)]
//! RAS clients and the gatekeeper double driven against each other in virtual time
//! (sans-IO): datagrams are shuttled between them, the clock jumps to the next deadline.

use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use h323::h225::{Alias, Endpoint};
use h323::ras::client::{
    ClientConfig, GatekeeperLocation, RasClient, RasEvent, Transmit, DISCOVERY_MULTICAST,
};
use h323::ras::gatekeeper::{Gatekeeper, GatekeeperConfig, GatekeeperEvent};
use h323::ras::{self, Registrant};

pub const GK: SocketAddrV4 = SocketAddrV4::new(std::net::Ipv4Addr::new(10, 0, 0, 9), 1719);

pub fn registrant(ip_last: u8, name: &str, prefixes: &[&str]) -> Registrant {
    let ip = std::net::Ipv4Addr::new(10, 0, 0, ip_last);
    Registrant {
        endpoint: Endpoint::default(),
        ras_address: SocketAddrV4::new(ip, 1719),
        call_signal_address: SocketAddrV4::new(ip, 1720),
        aliases: vec![Alias::H323Id(name.into())],
        prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
    }
}

pub fn client_config(r: Registrant, location: GatekeeperLocation) -> ClientConfig {
    let mut c = ClientConfig::new(r, location);
    c.time_to_live = Some(120);
    c.retry_after = Duration::from_secs(20);
    c
}

/// One datagram on the wire, as a test saw it.
#[derive(Debug, Clone)]
pub struct Wire {
    pub at: Duration,
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub payload: Vec<u8>,
    pub name: &'static str,
    pub seq: Option<u16>,
    /// Dropped instead of delivered.
    pub lost: bool,
}

pub struct Pair {
    pub start: Instant,
    pub now: Instant,
    pub gk: Gatekeeper,
    pub clients: Vec<RasClient>,
    pub client_events: Vec<Vec<(Duration, RasEvent)>>,
    pub gk_events: Vec<(Duration, GatekeeperEvent)>,
    pub wire: Vec<Wire>,
    /// Datagrams to the gatekeeper are lost while this is set.
    pub cut: bool,
}

impl Pair {
    pub fn new(gk: GatekeeperConfig, clients: Vec<ClientConfig>) -> Self {
        let start = Instant::now();
        let n = clients.len();
        Self {
            start,
            now: start,
            gk: Gatekeeper::new(gk),
            clients: clients.into_iter().map(RasClient::new).collect(),
            client_events: vec![Vec::new(); n],
            gk_events: Vec::new(),
            wire: Vec::new(),
            cut: false,
        }
    }

    pub fn gk_config() -> GatekeeperConfig {
        GatekeeperConfig::new("GK-TEST", GK)
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    pub fn start_all(&mut self) {
        for c in &mut self.clients {
            c.start(self.now).unwrap();
        }
        self.shuttle();
    }

    fn record(&mut self, src: SocketAddrV4, t: &Transmit, lost: bool) {
        let m = ras::decode(&t.payload).expect("we send decodable RAS");
        self.wire.push(Wire {
            at: self.now - self.start,
            src,
            dst: t.destination,
            payload: t.payload.clone(),
            name: ras::message_name(&m),
            seq: ras::sequence_number(&m),
            lost,
        });
    }

    /// Deliver everything queued, both ways, until nothing moves.
    pub fn shuttle(&mut self) {
        loop {
            let mut moved = false;
            for i in 0..self.clients.len() {
                let src = self.clients[i].config().registrant.ras_address;
                while let Some(t) = self.clients[i].poll_transmit() {
                    moved = true;
                    let to_gk = t.destination == GK || t.destination == DISCOVERY_MULTICAST;
                    let lost = self.cut || !to_gk;
                    self.record(src, &t, lost);
                    if !lost {
                        self.gk.handle_datagram(self.now, src, &t.payload);
                    }
                }
                while let Some(e) = self.clients[i].poll_event() {
                    self.client_events[i].push((self.now - self.start, e));
                }
            }
            while let Some(t) = self.gk.poll_transmit() {
                moved = true;
                self.record(GK, &t, false);
                if let Some(c) = self
                    .clients
                    .iter_mut()
                    .find(|c| c.config().registrant.ras_address == t.destination)
                {
                    c.handle_datagram(self.now, GK, &t.payload);
                }
            }
            while let Some(e) = self.gk.poll_event() {
                self.gk_events.push((self.now - self.start, e));
            }
            if !moved {
                break;
            }
        }
    }

    /// Run timers until `d` after the start.
    pub fn run_until(&mut self, d: Duration) {
        let end = self.start + d;
        loop {
            self.shuttle();
            let next = self
                .clients
                .iter()
                .filter_map(RasClient::poll_timeout)
                .chain(self.gk.poll_timeout())
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    for c in &mut self.clients {
                        c.handle_timeout(self.now);
                    }
                    self.gk.handle_timeout(self.now);
                }
                _ => break,
            }
        }
        self.now = self.now.max(end);
        self.shuttle();
    }

    pub fn run_for(&mut self, d: Duration) {
        let until = self.elapsed() + d;
        self.run_until(until);
    }

    pub fn events(&self, i: usize) -> Vec<RasEvent> {
        self.client_events[i]
            .iter()
            .map(|(_, e)| e.clone())
            .collect()
    }

    pub fn sent_by(&self, src: SocketAddrV4) -> Vec<&Wire> {
        self.wire.iter().filter(|w| w.src == src).collect()
    }
}
