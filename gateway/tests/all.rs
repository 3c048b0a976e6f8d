//! The gateway crate's integration tests, one binary (`cargo test -p gateway --test all`).
//!
//! Each file beside this one is a module; run one with a filter on its name, e.g.
//! `cargo test -p gateway --test all gatewayd_h323_media::`. One binary rather than one
//! per file: every test binary links the whole gateway (tokio, rustls, the H.225.0 PER
//! codec) at 100–170 MB in a debug build, so thirty of them filled CI's disk and spent
//! minutes linking. Tests of all the files share the `port_support` counter, so no two
//! tests running side by side pick the same port.
//!
//! `rtp_no_alloc` stays a binary of its own: it installs a counting global allocator.

// Helpers shared by the test modules.
mod baresip_support;
mod daemon_support;
mod h323_support;
mod media_support;
mod port_support;
mod sipp_scenario;
mod transfer_support;

// The tests, one module per feature.
mod attended_refer_sip;
mod baresip_rtp;
mod examples_interwork;
mod gatewayd_audit;
mod gatewayd_crash;
mod gatewayd_h323;
mod gatewayd_h323_clearing;
mod gatewayd_h323_media;
mod gatewayd_h323_ras;
mod gatewayd_h323_wire;
mod gatewayd_reload;
mod gatewayd_rtp_ports;
mod gatewayd_sip_trunk;
mod gatewayd_spans;
mod gatewayd_tls;
mod gatewayd_trunk_security;
mod media_bridge;
mod media_dtmf;
mod media_engine_threads;
mod rtp_baresip_tone;
mod rtp_jitter;
mod rtp_random_no_panic;
mod rtp_rtcp_tshark;
mod rtp_telephone_event;
mod sdp_baresip;
mod sdp_linphone;
mod sdp_offer_answer;
mod sdp_random_no_panic;
mod sdp_rate;
mod sip_parse;
mod sip_torture;
mod sipp_interop;
mod sipp_overlap;
mod transfer_h323;
mod transfer_sip;
