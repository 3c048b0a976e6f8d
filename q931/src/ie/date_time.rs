//! Date/time, Q.931 §4.5.15 (identifier 0x29).
//!
//! ```text
//! octet 3 year (last two digits, binary)   octet 6 hour   (optional)
//! octet 4 month                            octet 7 minute (optional)
//! octet 5 day                              octet 8 second (optional)
//! ```

use super::{IeCodec, IeId, Octets};
use crate::error::IeError;

/// Date/time, Q.931 §4.5.15.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    /// Two-digit year, 0–99.
    pub year: u8,
    /// 1–12.
    pub month: u8,
    /// 1–31.
    pub day: u8,
    /// 0–23 (octet 6).
    pub hour: Option<u8>,
    /// 0–59 (octet 7, only with the hour).
    pub minute: Option<u8>,
    /// 0–59 (octet 8, only with the minute).
    pub second: Option<u8>,
}

fn ranged(
    o: &mut Octets<'_>,
    octet: &'static str,
    field: &'static str,
    lo: u8,
    hi: u8,
) -> Result<u8, IeError> {
    let v = o.next(octet, field)?;
    if v < lo || v > hi {
        return Err(IeError::InvalidValue {
            octet,
            field,
            value: v,
        });
    }
    Ok(v)
}

impl IeCodec for DateTime {
    const ID: IeId = IeId::DATE_TIME;

    fn decode(contents: &[u8]) -> Result<Self, IeError> {
        let mut o = Octets::new(contents);
        let year = ranged(&mut o, "3", "year", 0, 99)?;
        let month = ranged(&mut o, "4", "month", 1, 12)?;
        let day = ranged(&mut o, "5", "day", 1, 31)?;
        let hour = if o.is_empty() {
            None
        } else {
            Some(ranged(&mut o, "6", "hour", 0, 23)?)
        };
        let minute = if o.is_empty() {
            None
        } else {
            Some(ranged(&mut o, "7", "minute", 0, 59)?)
        };
        let second = if o.is_empty() {
            None
        } else {
            Some(ranged(&mut o, "8", "second", 0, 59)?)
        };
        o.finish("8")?;
        Ok(DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.year, self.month, self.day]);
        if let Some(h) = self.hour {
            out.push(h);
            if let Some(m) = self.minute {
                out.push(m);
                if let Some(s) = self.second {
                    out.push(s);
                }
            }
        }
    }
}
