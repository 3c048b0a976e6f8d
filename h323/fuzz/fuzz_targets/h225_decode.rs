//! Q.931 framing + H.225.0 aligned-PER decoding of a call-signalling message, then
//! everything a receiver does with it: re-encode, fast-start classification, tunnelled
//! H.245. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sig) = h323::h225::CallSignal::decode(data) {
        let _ = sig.to_bytes();
        let _ = sig.kind();
        let _ = sig.call_identifier();
        let _ = sig.source_aliases();
        for e in sig.fast_start() {
            let _ = h323::fast_start::classify(e);
        }
        let _ = h323::h245_tunnel::decode_all(sig.h245_control());
    }
    let mut tpkt = h323::tpkt::TpktDecoder::new();
    tpkt.handle_bytes(data);
    while let Ok(Some(_)) = tpkt.poll_packet() {}
});
