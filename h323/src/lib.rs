//! H.323 as sans-IO state machines: H.225.0 call signalling over TPKT, RAS, fast start, H.245.
//!
//! - [`tpkt`]: RFC 1006 framing on TCP (port 1720 and H.245 connections).
//! - [`h225`]: H.225.0 call-signalling messages (Setup ... Status): crate `q931`'s message
//!   codec ([`q931::Dialect::H225`]) with `H323-UserInformation` in the User-user IE.
//! - [`fast_start`]: OpenLogicalChannel proposals for G.711 and their selection.
//! - [`h245_tunnel`]: the H.245 message codec (tunnelled in `h245Control` or in TPKT).
//! - [`h245`]: the minimal H.245 session (TCS, MSD, OLC/CLC, UII, EndSession).
//! - [`call`]: the H.323 call endpoint (caller and callee) built on all of the above.
//! - [`ras`]: RAS requests (GRQ, RRQ with keep-alive, URQ, ARQ, DRQ) and replies.
//! - [`harness`]: byte-string drivers of the call endpoint and of RAS for the fuzz
//!   targets and the no-panic tests.
//!
//! The ASN.1 types themselves are in crate `h323-asn1` (re-exported as [`asn1`]).

pub mod call;
pub mod fast_start;
pub mod h225;
pub mod h245;
pub mod h245_tunnel;
pub mod harness;
pub mod ras;
pub mod tpkt;

pub use h323_asn1 as asn1;
pub use q931;
