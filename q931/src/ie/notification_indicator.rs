//! Notification indicator, Q.931 §4.5.22 (identifier 0x27).
//!
//! ```text
//! octet 3   ext | notification description (7)
//! octet 4.. further octets (e.g. ETSI: an ASN.1 encoded component after 0x40
//!           "discriminator for extension to ASN.1 encoded component"), kept raw
//! ```

use super::{IeCodec, IeId, Octets};
use crate::error::IeError;

/// Notification description, octet 3 bits 1–7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NotificationDescription(pub u8);

impl NotificationDescription {
    /// 0x00
    pub const USER_SUSPENDED: Self = Self(0x00);
    /// 0x01
    pub const USER_RESUMED: Self = Self(0x01);
    /// 0x02
    pub const BEARER_SERVICE_CHANGE: Self = Self(0x02);
    /// 0x40: discriminator for extension to ASN.1 encoded component (ETSI).
    pub const ASN1_EXTENSION: Self = Self(0x40);
    /// 0x69: call transferred, alerting (ETSI EN 300 369-1).
    pub const TRANSFER_ALERTING: Self = Self(0x69);
    /// 0x6A: call transferred, active (ETSI EN 300 369-1).
    pub const TRANSFER_ACTIVE: Self = Self(0x6A);
    /// 0x71: call is a waiting call (ETSI).
    pub const CALL_IS_WAITING: Self = Self(0x71);
    /// 0x79: remote hold (ETSI).
    pub const REMOTE_HOLD: Self = Self(0x79);
    /// 0x7A: remote retrieval (ETSI).
    pub const REMOTE_RETRIEVAL: Self = Self(0x7A);
}

/// Notification indicator, Q.931 §4.5.22.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NotificationIndicator {
    pub description: NotificationDescription,
    /// Octet 3 bit 8 as received (1 = last octet). Kept so that re-encoding is exact.
    pub last: bool,
    /// Octets after octet 3.
    pub rest: Vec<u8>,
}

impl NotificationIndicator {
    pub fn new(description: NotificationDescription) -> Self {
        NotificationIndicator {
            description,
            last: true,
            rest: Vec::new(),
        }
    }
}

impl IeCodec for NotificationIndicator {
    const ID: IeId = IeId::NOTIFICATION_INDICATOR;

    fn decode(contents: &[u8]) -> Result<Self, IeError> {
        let mut o = Octets::new(contents);
        let o3 = o.next("3", "notification description")?;
        Ok(NotificationIndicator {
            description: NotificationDescription(o3 & 0x7F),
            last: o3 & 0x80 != 0,
            rest: o.rest().to_vec(),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(if self.last { 0x80 } else { 0 } | (self.description.0 & 0x7F));
        out.extend_from_slice(&self.rest);
    }
}
