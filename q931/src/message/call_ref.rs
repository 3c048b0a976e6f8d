//! Call reference, Q.931 §4.3.
//!
//! ```text
//! octet 1   0 0 0 0 | length of call reference value (4)
//! octet 2   flag | call reference value (high bits)
//! octet 3   call reference value (low bits)        (2-octet form: PRI, H.225.0)
//! ```
//! Length 0 is the dummy call reference (§4.3, used by Q.932 procedures); value 0 with a
//! length of 1 or 2 is the global call reference (RESTART, RESTART ACKNOWLEDGE, STATUS).

use crate::error::{DecodeError, EncodeError};

/// The call reference flag, octet 2 bit 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallRefFlag {
    /// 0: the message is sent from the side that originated the call reference.
    FromOriginator,
    /// 1: the message is sent to the side that originated the call reference.
    ToOriginator,
}

impl CallRefFlag {
    /// The other value: replies carry the opposite flag.
    pub const fn flipped(self) -> Self {
        match self {
            CallRefFlag::FromOriginator => CallRefFlag::ToOriginator,
            CallRefFlag::ToOriginator => CallRefFlag::FromOriginator,
        }
    }
}

/// A call reference, Q.931 §4.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallRef {
    /// Length of the value in octets: 0 (dummy), 1 (basic rate) or 2 (primary rate, H.225.0).
    pub length: u8,
    pub flag: CallRefFlag,
    /// The value: 7 bits for length 1, 15 bits for length 2.
    pub value: u16,
}

impl CallRef {
    /// A 2-octet call reference (primary rate, H.225.0).
    pub const fn two_octet(value: u16, flag: CallRefFlag) -> Self {
        CallRef {
            length: 2,
            flag,
            value: value & 0x7FFF,
        }
    }

    /// A 1-octet call reference (basic rate).
    pub const fn one_octet(value: u8, flag: CallRefFlag) -> Self {
        CallRef {
            length: 1,
            flag,
            value: (value & 0x7F) as u16,
        }
    }

    /// The global call reference (value 0) of the given length (1 or 2).
    pub const fn global(length: u8, flag: CallRefFlag) -> Self {
        CallRef {
            length,
            flag,
            value: 0,
        }
    }

    /// The dummy call reference (length 0).
    pub const fn dummy() -> Self {
        CallRef {
            length: 0,
            flag: CallRefFlag::FromOriginator,
            value: 0,
        }
    }

    pub const fn is_dummy(&self) -> bool {
        self.length == 0
    }

    /// Value 0 with a non-zero length, §4.3.
    pub const fn is_global(&self) -> bool {
        self.length != 0 && self.value == 0
    }

    /// The same reference as seen in a reply (flag flipped).
    pub const fn reply(self) -> Self {
        CallRef {
            flag: self.flag.flipped(),
            ..self
        }
    }

    /// Reads the call reference starting at `buf[0]` (message octet 2); returns it and the
    /// number of octets used.
    pub fn decode(buf: &[u8]) -> Result<(CallRef, usize), DecodeError> {
        let Some(&l) = buf.first() else {
            return Err(DecodeError::TooShort { len: 1, needed: 3 });
        };
        if l & 0xF0 != 0 {
            return Err(DecodeError::CallRefSpareBits(l));
        }
        let length = l & 0x0F;
        if length > 2 {
            return Err(DecodeError::CallRefLength(length));
        }
        let used = 1 + length as usize;
        let Some(v) = buf.get(1..used) else {
            return Err(DecodeError::TooShort {
                len: buf.len() + 1,
                needed: used + 2,
            });
        };
        let cr = match *v {
            [] => CallRef::dummy(),
            [a] => CallRef {
                length,
                flag: flag_of(a),
                value: (a & 0x7F) as u16,
            },
            [a, b] => CallRef {
                length,
                flag: flag_of(a),
                value: ((a & 0x7F) as u16) << 8 | b as u16,
            },
            _ => return Err(DecodeError::CallRefLength(length)),
        };
        Ok((cr, used))
    }

    /// Appends the call reference (length octet and value).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let f = match self.flag {
            CallRefFlag::FromOriginator => 0,
            CallRefFlag::ToOriginator => 0x80,
        };
        match self.length {
            0 => out.push(0),
            1 if self.value <= 0x7F => out.extend_from_slice(&[1, f | self.value as u8]),
            2 if self.value <= 0x7FFF => {
                out.extend_from_slice(&[2, f | (self.value >> 8) as u8, self.value as u8])
            }
            _ => {
                return Err(EncodeError::CallRefValue {
                    value: self.value,
                    len: self.length,
                })
            }
        }
        Ok(())
    }
}

fn flag_of(octet: u8) -> CallRefFlag {
    if octet & 0x80 != 0 {
        CallRefFlag::ToOriginator
    } else {
        CallRefFlag::FromOriginator
    }
}
