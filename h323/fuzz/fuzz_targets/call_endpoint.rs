//! The call endpoint, callee or caller, fed arbitrary bytes on both of its connections
//! with commands and time in between (`h323::harness::call_endpoint`, whose format the
//! seeds of `cargo run -p h323 --example fuzz_seeds` are written in): must never panic,
//! whatever the configuration.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    h323::harness::call_endpoint(data);
});
