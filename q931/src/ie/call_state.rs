//! Call state, Q.931 §4.5.7 (identifier 0x14).
//!
//! ```text
//! octet 3   coding standard (2) | call state value (6)       (no extension bit)
//! ```
//! For the global call reference the values are REST 0 (0), REST 1 (61), REST 2 (62).

use super::{CodingStandard, IeCodec, IeId, Octets};
use crate::error::IeError;

/// Call state value, octet 3 bits 1–6 (Q.931 §2.1 / §2.2 states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallStateValue {
    /// 0: U0/N0 Null.
    Null,
    /// 1: U1/N1 Call initiated.
    CallInitiated,
    /// 2: U2/N2 Overlap sending.
    OverlapSending,
    /// 3: U3/N3 Outgoing call proceeding.
    OutgoingCallProceeding,
    /// 4: U4/N4 Call delivered.
    CallDelivered,
    /// 6: U6/N6 Call present.
    CallPresent,
    /// 7: U7/N7 Call received.
    CallReceived,
    /// 8: U8/N8 Connect request.
    ConnectRequest,
    /// 9: U9/N9 Incoming call proceeding.
    IncomingCallProceeding,
    /// 10: U10/N10 Active.
    Active,
    /// 11: U11/N11 Disconnect request.
    DisconnectRequest,
    /// 12: U12/N12 Disconnect indication.
    DisconnectIndication,
    /// 15: U15/N15 Suspend request.
    SuspendRequest,
    /// 17: U17/N17 Resume request.
    ResumeRequest,
    /// 19: U19/N19 Release request.
    ReleaseRequest,
    /// 22: N22 Call abort.
    CallAbort,
    /// 25: U25/N25 Overlap receiving.
    OverlapReceiving,
    /// 61: REST 1 Restart request (global call reference).
    Restart1,
    /// 62: REST 2 Restart (global call reference).
    Restart2,
    /// A value not defined by Q.931, kept as received.
    Other(u8),
}

impl CallStateValue {
    pub const fn from_u8(b: u8) -> Self {
        match b & 0x3F {
            0 => Self::Null,
            1 => Self::CallInitiated,
            2 => Self::OverlapSending,
            3 => Self::OutgoingCallProceeding,
            4 => Self::CallDelivered,
            6 => Self::CallPresent,
            7 => Self::CallReceived,
            8 => Self::ConnectRequest,
            9 => Self::IncomingCallProceeding,
            10 => Self::Active,
            11 => Self::DisconnectRequest,
            12 => Self::DisconnectIndication,
            15 => Self::SuspendRequest,
            17 => Self::ResumeRequest,
            19 => Self::ReleaseRequest,
            22 => Self::CallAbort,
            25 => Self::OverlapReceiving,
            61 => Self::Restart1,
            62 => Self::Restart2,
            o => Self::Other(o),
        }
    }
    pub const fn value(self) -> u8 {
        match self {
            Self::Null => 0,
            Self::CallInitiated => 1,
            Self::OverlapSending => 2,
            Self::OutgoingCallProceeding => 3,
            Self::CallDelivered => 4,
            Self::CallPresent => 6,
            Self::CallReceived => 7,
            Self::ConnectRequest => 8,
            Self::IncomingCallProceeding => 9,
            Self::Active => 10,
            Self::DisconnectRequest => 11,
            Self::DisconnectIndication => 12,
            Self::SuspendRequest => 15,
            Self::ResumeRequest => 17,
            Self::ReleaseRequest => 19,
            Self::CallAbort => 22,
            Self::OverlapReceiving => 25,
            Self::Restart1 => 61,
            Self::Restart2 => 62,
            Self::Other(o) => o & 0x3F,
        }
    }
}

/// Call state, Q.931 §4.5.7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallState {
    pub coding_standard: CodingStandard,
    pub value: CallStateValue,
}

impl CallState {
    pub const fn new(value: CallStateValue) -> Self {
        CallState {
            coding_standard: CodingStandard::ItuT,
            value,
        }
    }
}

impl IeCodec for CallState {
    const ID: IeId = IeId::CALL_STATE;

    fn decode(contents: &[u8]) -> Result<Self, IeError> {
        let mut o = Octets::new(contents);
        let o3 = o.next("3", "call state value")?;
        o.finish("3")?;
        Ok(CallState {
            coding_standard: CodingStandard::from_bits(o3 >> 6),
            value: CallStateValue::from_u8(o3),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.coding_standard.bits() << 6 | self.value.value());
    }
}
