//! H.225.0 call signalling (§7.3, §7.4) built on Q.931 framing.

pub mod call_signal;
pub mod ids;
pub mod release;
pub mod setup_per;

pub use call_signal::{
    BodyKind, CallSignal, CallSignalError, Endpoint, ResponseParams, SetupParams, UserInfo,
    PROTOCOL_VERSION,
};
pub use ids::{protocol_identifier, socket_addr, transport_address, Alias, BadAlias, Guid};
pub use release::ReleaseReason;
