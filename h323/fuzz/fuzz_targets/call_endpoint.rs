//! The call endpoint fed arbitrary bytes on both connections, with commands and timeouts
//! in between: must never panic, whatever the configuration.
#![no_main]

use std::time::{Duration, Instant};

use h323::call::{Call, CallConfig};
use h323::fast_start::MediaAddresses;
use h323::q931::ie::CauseValue;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let media = MediaAddresses {
        rtp: "127.0.0.1:5000".parse().unwrap(),
        rtcp: "127.0.0.1:5001".parse().unwrap(),
    };
    let mut cfg = CallConfig::new(media);
    cfg.fast_start = flags & 1 != 0;
    cfg.h245_tunneling = flags & 2 != 0;
    cfg.seed = Some(1);
    let t0 = Instant::now();
    let mut call = Call::incoming(cfg);
    if flags & 4 != 0 {
        call.h245_connected(t0);
    }
    // Chunks: a length octet, then that many bytes; the top bit of the length picks the
    // H.245 connection.
    let mut i = 0;
    let mut n = 0u64;
    while i < rest.len() {
        let len = (rest[i] & 0x7F) as usize;
        let h245 = rest[i] & 0x80 != 0;
        let chunk = &rest[i + 1..(i + 1 + len).min(rest.len())];
        i += 1 + len;
        n += 1;
        let now = t0 + Duration::from_millis(n * 100);
        if h245 {
            call.handle_h245_bytes(now, chunk);
        } else {
            call.handle_signalling_bytes(now, chunk);
        }
        match n % 5 {
            0 => call.alerting(now),
            1 => call.answer(now),
            2 => {
                let _ = call.send_digits(now, "5");
            }
            3 => call.handle_timeout(now + Duration::from_secs(20)),
            _ => {}
        }
        while call.poll_transmit().is_some() {}
        while call.poll_event().is_some() {}
    }
    call.release(t0 + Duration::from_secs(60), CauseValue::NormalCallClearing);
    while call.poll_transmit().is_some() {}
    while call.poll_event().is_some() {}
});
