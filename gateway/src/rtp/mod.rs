//! RTP and RTCP (RFC 3550) for G.711 media: packets, the sending half of a session,
//! receiver statistics, an adaptive jitter buffer, RFC 4733 telephone events, RTCP
//! reports and symmetric-RTP latching. Everything is sans-IO: bytes and `Instant`s in,
//! bytes and events out; packets are read from and written into caller buffers.

pub mod jitter;
pub mod packet;
pub mod port_pool;
pub mod rtcp;
pub mod rtcp_session;
pub mod sender;
pub mod stats;
pub mod symmetric;
pub mod telephone_event;

pub use port_pool::{PortHold, RtpPortPool};

pub use jitter::{FrameKind, JitterBuffer, JitterBufferConfig, JitterStats, PushOutcome};
pub use packet::{
    is_rtcp, HeaderExtension, PayloadType, RtpError, RtpHeader, RtpPacket, SeqNo, Ssrc,
};
pub use rtcp::{
    NtpTime, ReceptionQuality, ReportBlock, RtcpCompound, RtcpPacket, RtcpWriter, SenderInfo,
};
pub use rtcp_session::{RtcpSession, RtcpSummary};
pub use sender::{RandomStart, RtpSender, CLOCK_RATE};
pub use stats::{ReceiverStats, ReportFigures, SeqVerdict};
pub use symmetric::SymmetricLatch;
pub use telephone_event::{
    DigitEvent, EventPayload, TelephoneEvent, TelephoneEventReceiver, TelephoneEventSender,
};
