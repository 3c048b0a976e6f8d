//! Restart indicator, Q.931 §4.5.25 (identifier 0x79).
//!
//! ```text
//! octet 3   ext=1 | spare (4) | class (3)
//! ```

use super::{IeCodec, IeId, Octets};
use crate::error::IeError;

/// Restart class, octet 3 bits 1–3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RestartClass {
    /// 000: indicated channels (a channel identification element is present).
    IndicatedChannels,
    /// 110: single interface.
    SingleInterface,
    /// 111: all interfaces.
    AllInterfaces,
}

/// Restart indicator, Q.931 §4.5.25.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RestartIndicator {
    pub class: RestartClass,
}

impl RestartIndicator {
    pub const fn new(class: RestartClass) -> Self {
        RestartIndicator { class }
    }
}

impl IeCodec for RestartIndicator {
    const ID: IeId = IeId::RESTART_INDICATOR;

    fn decode(contents: &[u8]) -> Result<Self, IeError> {
        let mut o = Octets::new(contents);
        let o3 = o.next("3", "class")?;
        let class = match o3 & 0x07 {
            0 => RestartClass::IndicatedChannels,
            6 => RestartClass::SingleInterface,
            7 => RestartClass::AllInterfaces,
            _ => {
                return Err(IeError::InvalidValue {
                    octet: "3",
                    field: "class",
                    value: o3,
                })
            }
        };
        if o3 & 0x80 == 0 {
            return Err(IeError::InvalidValue {
                octet: "3",
                field: "extension bit",
                value: o3,
            });
        }
        o.finish("3")?;
        Ok(RestartIndicator { class })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(
            0x80 | match self.class {
                RestartClass::IndicatedChannels => 0,
                RestartClass::SingleInterface => 6,
                RestartClass::AllInterfaces => 7,
            },
        );
    }
}
