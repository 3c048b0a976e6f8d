//! The media gateway core: SIP user agent, neutral call model, interworking, trunk groups,
//! media bridge.

pub mod cdr;
pub mod config;
pub mod core;
pub mod ctl;
pub mod daemon;
pub mod id_map;
pub mod import_dahdi;
pub mod interwork;
pub mod leg;
pub mod media;
pub mod metrics;
pub mod route;
pub mod rtp;
pub mod sdp;
pub mod sip;
pub mod trunk;
