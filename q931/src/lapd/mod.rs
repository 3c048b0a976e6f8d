//! Q.921 LAPD, the data link layer of the ISDN D-channel (ITU-T Q.921), for PRI.
//!
//! - [`Frame`], [`Address`], [`Control`]: the frame codec (§3), frames as the HDLC layer
//!   hands them over (no flags, no FCS; [`fcs`] for transports that carry it).
//! - [`Link`]: the multiple-frame data link entity (§5, Annex B) for SAPI 0 / TEI 0 on either
//!   side of the interface ([`Role`]), sans-IO: bytes and time in, bytes and events out.
//!
//! ```
//! use std::time::Instant;
//! use q931::lapd::{Link, LinkConfig, LinkEvent, Role};
//!
//! let now = Instant::now();
//! let mut user = Link::new(LinkConfig::pri(Role::User));
//! let mut network = Link::new(LinkConfig::pri(Role::Network));
//! user.establish(now);
//! while let Some(frame) = user.poll_transmit() {
//!     network.handle_frame(now, &frame); // SABME
//! }
//! while let Some(frame) = network.poll_transmit() {
//!     user.handle_frame(now, &frame); // UA
//! }
//! assert_eq!(user.poll_event(), Some(LinkEvent::EstablishConfirm));
//! assert_eq!(network.poll_event(), Some(LinkEvent::EstablishIndication));
//! ```

pub mod address;
pub mod control;
pub mod fcs;
pub mod frame;
pub mod link;
pub mod mdl_error;
pub mod pcap;

#[cfg(test)]
mod tests;

pub use address::{Address, Role, Sapi, Tei};
pub use control::{Control, SeqNo, Supervisory, Unnumbered};
pub use frame::{Frame, FrameError};
pub use link::{Link, LinkConfig, LinkError, LinkEvent, LinkState, LinkStats, I_QUEUE_LIMIT};
pub use mdl_error::MdlError;
