//! SDP (RFC 4566 / RFC 8866) session descriptions and the offer/answer model (RFC 3264)
//! for G.711 voice, RFC 4733 telephone-events, hold/resume and T.38 m-lines.
//!
//! Parsing and serialising are done by the `sdp-types` crate, which keeps every m-line
//! (including `m=image … udptl t38`) and every attribute, known or not. On top of it,
//! [`description`] gives typed views (codecs, directions, addresses, ptime, `a=rtcp`) and
//! [`offer_answer`] runs the negotiation.

pub mod description;
#[doc(hidden)]
pub mod fuzzing;
pub mod offer_answer;

pub use description::{
    Codec, Direction, MediaKind, MediaSection, RtcpAttr, SdpError, SessionDescription,
    TelephoneEvents,
};
pub use offer_answer::{
    AudioStream, HoldChange, LocalCapabilities, Negotiated, OfferAnswer, OfferAnswerError,
};
