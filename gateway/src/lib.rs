//! The media gateway core: SIP user agent, neutral call model, interworking, trunk groups,
//! media bridge.

pub mod media;
pub mod rtp;
pub mod sdp;
pub mod sip;
