//! The RAS client and the gatekeeper double fed with arbitrary datagrams, in every
//! registration state the input leads them to: must never panic, and whatever they send
//! must be decodable RAS.
#![no_main]

use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use h323::h225::{Alias, Endpoint};
use h323::ras::client::{ClientConfig, GatekeeperLocation, RasClient};
use h323::ras::gatekeeper::{Gatekeeper, GatekeeperConfig};
use h323::ras::{self, Registrant};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let gk_addr: SocketAddrV4 = "10.0.0.9:1719".parse().unwrap();
    let r = Registrant {
        endpoint: Endpoint::default(),
        ras_address: "10.0.0.1:1719".parse().unwrap(),
        call_signal_address: "10.0.0.1:1720".parse().unwrap(),
        aliases: vec![Alias::H323Id("gw".into())],
        prefixes: vec!["49".into()],
    };
    let t0 = Instant::now();
    let mut c = RasClient::new(ClientConfig::new(r, GatekeeperLocation::Configured(gk_addr)));
    let mut g = Gatekeeper::new(GatekeeperConfig::new("GK", gk_addr));
    let _ = c.start(t0);
    // The input split at 0xFF into datagrams; each goes to both ends, time advances.
    for (i, d) in data.split(|&b| b == 0xFF).enumerate() {
        let now = t0 + Duration::from_millis(700 * i as u64);
        c.handle_datagram(now, gk_addr, d);
        g.handle_datagram(now, "10.0.0.1:1719".parse().unwrap(), d);
        c.handle_timeout(now);
        while let Some(t) = c.poll_transmit() {
            assert!(ras::decode(&t.payload).is_ok());
            g.handle_datagram(now, "10.0.0.1:1719".parse().unwrap(), &t.payload);
        }
        while let Some(t) = g.poll_transmit() {
            assert!(ras::decode(&t.payload).is_ok());
            c.handle_datagram(now, gk_addr, &t.payload);
        }
        while c.poll_event().is_some() {}
        while g.poll_event().is_some() {}
    }
});
