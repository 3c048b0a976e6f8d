//! cargo-fuzz target for the SDP parser and offer/answer: any bytes in, no panic, and
//! every SDP we generate parses again. Run from `gateway/`:
//! `cargo +nightly fuzz run sdp -- -max_total_time=60`

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    gateway::sdp::fuzzing::exercise(data);
});
