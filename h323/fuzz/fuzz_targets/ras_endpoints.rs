//! The RAS client and the gatekeeper double, talking to each other, fed arbitrary
//! datagrams and commands in every registration state the input leads them to
//! (`h323::harness::ras_endpoints`): must never panic, and whatever they send must be
//! decodable RAS.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    h323::harness::ras_endpoints(data);
});
