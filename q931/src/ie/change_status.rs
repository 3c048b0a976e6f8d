//! Change status, ANSI T1.607 / Telcordia NI-2 maintenance (identifier 0x01 in codeset 0),
//! carried by SERVICE and SERVICE ACKNOWLEDGE (protocol discriminator 0x03).
//!
//! ```text
//! octet 3   ext=1 | preference | spare (3) | new status (3)
//! ```

use super::{IeCodec, IeId, Octets};
use crate::error::IeError;

/// New status, octet 3 bits 1–3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceStatus {
    /// 000
    InService,
    /// 001
    Maintenance,
    /// 010
    OutOfService,
    Other(u8),
}

/// Change status (NI-2 maintenance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChangeStatus {
    /// Octet 3 bit 7: `true` = the channel(s) of the channel identification element,
    /// `false` = the whole interface.
    pub channel_preference: bool,
    pub status: ServiceStatus,
}

impl IeCodec for ChangeStatus {
    const ID: IeId = IeId::CHANGE_STATUS;

    fn decode(contents: &[u8]) -> Result<Self, IeError> {
        let mut o = Octets::new(contents);
        let o3 = o.next("3", "new status")?;
        o.finish("3")?;
        Ok(ChangeStatus {
            channel_preference: o3 & 0x40 != 0,
            status: match o3 & 0x07 {
                0 => ServiceStatus::InService,
                1 => ServiceStatus::Maintenance,
                2 => ServiceStatus::OutOfService,
                s => ServiceStatus::Other(s),
            },
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(
            0x80 | if self.channel_preference { 0x40 } else { 0 }
                | match self.status {
                    ServiceStatus::InService => 0,
                    ServiceStatus::Maintenance => 1,
                    ServiceStatus::OutOfService => 2,
                    ServiceStatus::Other(s) => s & 0x07,
                },
        );
    }
}
