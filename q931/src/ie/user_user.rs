//! User-user, Q.931 §4.5.30 (identifier 0x7E).
//!
//! ```text
//! octet 3   protocol discriminator
//! octet 4.. user information
//! ```
//! In H.225.0 call signalling the protocol discriminator is 0x05 (X.208/X.209 coded user
//! information) and the element's length field is two octets (H.225.0 §7.2.2); see
//! [`crate::message::Dialect::H225`].

use super::{IeCodec, IeId, Octets};
use crate::error::IeError;

/// The user-user protocol discriminator, octet 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UuProtocol(pub u8);

impl UuProtocol {
    /// 0x00: user-specific protocol.
    pub const USER_SPECIFIC: UuProtocol = UuProtocol(0x00);
    /// 0x01: OSI high layer protocols.
    pub const OSI_HIGH_LAYER: UuProtocol = UuProtocol(0x01);
    /// 0x02: X.244.
    pub const X244: UuProtocol = UuProtocol(0x02);
    /// 0x04: IA5 characters.
    pub const IA5: UuProtocol = UuProtocol(0x04);
    /// 0x05: X.208 and X.209 coded user information (H.225.0).
    pub const X208_X209: UuProtocol = UuProtocol(0x05);
    /// 0x07: V.120 rate adaption.
    pub const V120: UuProtocol = UuProtocol(0x07);
    /// 0x08: Q.931 user-network call control messages.
    pub const Q931: UuProtocol = UuProtocol(0x08);
}

/// User-user, Q.931 §4.5.30.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserUser {
    pub protocol: UuProtocol,
    pub data: Vec<u8>,
}

impl UserUser {
    pub fn new(protocol: UuProtocol, data: &[u8]) -> Self {
        UserUser {
            protocol,
            data: data.to_vec(),
        }
    }
}

impl IeCodec for UserUser {
    const ID: IeId = IeId::USER_USER;

    fn decode(contents: &[u8]) -> Result<Self, IeError> {
        let mut o = Octets::new(contents);
        let pd = o.next("3", "protocol discriminator")?;
        Ok(UserUser {
            protocol: UuProtocol(pd),
            data: o.rest().to_vec(),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.protocol.0);
        out.extend_from_slice(&self.data);
    }
}
