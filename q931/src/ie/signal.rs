//! Signal, Q.931 §4.5.28 (identifier 0x34).
//!
//! ```text
//! octet 3   signal value
//! ```

use super::{IeCodec, IeId, Octets};
use crate::error::IeError;

/// Signal value, octet 3 (Q.931 Table 4-31).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalValue(pub u8);

impl SignalValue {
    pub const DIAL_TONE_ON: Self = Self(0x00);
    pub const RING_BACK_TONE_ON: Self = Self(0x01);
    pub const INTERCEPT_TONE_ON: Self = Self(0x02);
    pub const NETWORK_CONGESTION_TONE_ON: Self = Self(0x03);
    pub const BUSY_TONE_ON: Self = Self(0x04);
    pub const CONFIRM_TONE_ON: Self = Self(0x05);
    pub const ANSWER_TONE_ON: Self = Self(0x06);
    pub const CALL_WAITING_TONE_ON: Self = Self(0x07);
    pub const OFF_HOOK_WARNING_TONE_ON: Self = Self(0x08);
    pub const PREEMPTION_TONE_ON: Self = Self(0x09);
    pub const TONES_OFF: Self = Self(0x3F);
    /// Alerting on, pattern 0 (0x40) .. pattern 7 (0x47).
    pub const ALERTING_ON_PATTERN_0: Self = Self(0x40);
    pub const ALERTING_OFF: Self = Self(0x4F);

    /// `true` for the values Q.931 Table 4-31 defines.
    pub const fn is_defined(self) -> bool {
        matches!(self.0, 0x00..=0x09 | 0x3F | 0x40..=0x47 | 0x4F)
    }
}

/// Signal, Q.931 §4.5.28.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signal {
    pub value: SignalValue,
}

impl Signal {
    pub const fn new(value: SignalValue) -> Self {
        Signal { value }
    }
}

impl IeCodec for Signal {
    const ID: IeId = IeId::SIGNAL;

    fn decode(contents: &[u8]) -> Result<Self, IeError> {
        let mut o = Octets::new(contents);
        let v = o.next("3", "signal value")?;
        o.finish("3")?;
        let value = SignalValue(v);
        if !value.is_defined() {
            return Err(IeError::InvalidValue {
                octet: "3",
                field: "signal value",
                value: v,
            });
        }
        Ok(Signal { value })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.value.0);
    }
}
