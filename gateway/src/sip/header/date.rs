//! Date (RFC 3261 §20.17): `rfc1123-date`, which must be in GMT.

use super::Header;
use crate::sip::message::HeaderName;
use crate::sip::scan::{parse_u64, trim_ws, SResult, SyntaxError};

/// A Date value: `wkday "," SP date1 SP time SP "GMT"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    /// Year.
    pub year: u16,
    /// Month 1..=12.
    pub month: u8,
    /// Day 1..=31.
    pub day: u8,
    /// Hour.
    pub hour: u8,
    /// Minute.
    pub minute: u8,
    /// Second.
    pub second: u8,
}

const WKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl<'a> Header<'a> for Date {
    const NAME: HeaderName = HeaderName::Date;
    fn parse(value: &'a str) -> SResult<Self> {
        let bad = |reason| SyntaxError { reason, at: 0 };
        let v = trim_ws(value);
        let (wk, rest) = v.split_once(", ").ok_or(bad("weekday expected"))?;
        if !WKDAYS.contains(&wk) {
            return Err(bad("bad weekday"));
        }
        let parts: Vec<&str> = rest.split(' ').collect();
        let [day, mon, year, time, zone] = parts[..] else {
            return Err(bad("bad rfc1123-date"));
        };
        if zone != "GMT" {
            return Err(bad("time zone must be GMT"));
        }
        let num = |s: &str, len: usize, max: u64| {
            if s.len() == len {
                parse_u64(s, max)
            } else {
                None
            }
        };
        let day = num(day, 2, 31).filter(|&d| d >= 1).ok_or(bad("bad day"))? as u8;
        let month = MONTHS
            .iter()
            .position(|m| *m == mon)
            .ok_or(bad("bad month"))? as u8
            + 1;
        let year = num(year, 4, 9999).ok_or(bad("bad year"))? as u16;
        let t: Vec<&str> = time.split(':').collect();
        let [h, m, s] = t[..] else {
            return Err(bad("bad time"));
        };
        Ok(Date {
            year,
            month,
            day,
            hour: num(h, 2, 23).ok_or(bad("bad hour"))? as u8,
            minute: num(m, 2, 59).ok_or(bad("bad minute"))? as u8,
            second: num(s, 2, 60).ok_or(bad("bad second"))? as u8,
        })
    }
}
