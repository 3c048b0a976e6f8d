//! The h323 crate's integration tests, one binary (`cargo test -p h323 --test all`).
//!
//! Each file beside this one is a module; run one with a filter on its name, e.g.
//! `cargo test -p h323 --test all call_loopback::`. One binary rather than one per file:
//! each links the whole H.225.0 PER codec (over 100 MB in a debug build), so a binary per
//! file filled CI's disk and spent minutes linking.

// Helpers shared by the test modules.
#[path = "support/ras_pair.rs"]
mod ras_pair;
mod support;

// The tests.
mod call_loopback;
mod call_never_panics;
mod fuzz_harness;
mod known_answer;
mod ras_client;
mod ras_tshark;
mod ras_udp;
mod readme;
mod round_trip;
mod setup_per;
mod tshark;
