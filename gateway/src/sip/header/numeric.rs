//! Numeric headers: CSeq (RFC 3261 §20.16), Max-Forwards (§20.22), Content-Length (§20.14),
//! Expires (§20.19), Retry-After (§20.33), Min-SE / Session-Expires (RFC 4028 §4, §5),
//! RSeq / RAck (RFC 3262 §7).

use super::Header;
use crate::sip::message::HeaderName;
use crate::sip::method::Method;
use crate::sip::param::{parse_header_params, Params};
use crate::sip::scan::{is_token, parse_delta_seconds, parse_u64, trim_ws, Cursor, SResult};

/// CSeq: sequence number (< 2^31, RFC 3261 §8.1.1.5) and method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// The sequence number.
    pub seq: u32,
    /// The method.
    pub method: Method<'a>,
}

fn seq_and_method<'a>(c: &mut Cursor<'a>) -> SResult<(u32, Method<'a>)> {
    let digits = c.take_while(|b| b.is_ascii_digit());
    let Some(seq) = parse_u64(digits, (1 << 31) - 1) else {
        return c.err("sequence number must be below 2^31");
    };
    if !c.skip_ws() {
        return c.err("LWS expected before method");
    }
    let method = c.take_while(is_token);
    if method.is_empty() {
        return c.err("method expected");
    }
    Ok((seq as u32, Method::from_token(method)))
}

impl<'a> Header<'a> for CSeq<'a> {
    const NAME: HeaderName = HeaderName::CSeq;
    fn parse(value: &'a str) -> SResult<Self> {
        let mut c = Cursor::new(value);
        c.skip_ws();
        let (seq, method) = seq_and_method(&mut c)?;
        c.expect_end()?;
        Ok(CSeq { seq, method })
    }
}

fn single_number(value: &str, max: u64, what: &'static str) -> SResult<u64> {
    let v = trim_ws(value);
    parse_u64(v, max).ok_or(crate::sip::scan::SyntaxError {
        reason: what,
        at: 0,
    })
}

/// Max-Forwards (0..=255).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxForwards(pub u8);

impl<'a> Header<'a> for MaxForwards {
    const NAME: HeaderName = HeaderName::MaxForwards;
    fn parse(value: &'a str) -> SResult<Self> {
        single_number(value, 255, "Max-Forwards must be 0..=255").map(|v| MaxForwards(v as u8))
    }
}

/// Content-Length in octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentLength(pub u32);

impl<'a> Header<'a> for ContentLength {
    const NAME: HeaderName = HeaderName::ContentLength;
    fn parse(value: &'a str) -> SResult<Self> {
        single_number(value, u64::from(u32::MAX), "bad Content-Length")
            .map(|v| ContentLength(v as u32))
    }
}

/// Expires in seconds (saturating at 2^32-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expires(pub u32);

impl<'a> Header<'a> for Expires {
    const NAME: HeaderName = HeaderName::Expires;
    fn parse(value: &'a str) -> SResult<Self> {
        parse_delta_seconds(trim_ws(value))
            .map(Expires)
            .ok_or(crate::sip::scan::SyntaxError {
                reason: "bad delta-seconds",
                at: 0,
            })
    }
}

/// Min-Expires in seconds (RFC 3261 §20.23): the shortest binding a registrar accepts,
/// given with 423 Interval Too Brief.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinExpires(pub u32);

impl<'a> Header<'a> for MinExpires {
    const NAME: HeaderName = HeaderName::MinExpires;
    fn parse(value: &'a str) -> SResult<Self> {
        Expires::parse(value).map(|e| MinExpires(e.0))
    }
}

/// Retry-After: `delta-seconds [ comment ] *( SEMI retry-param )`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryAfter<'a> {
    /// Seconds.
    pub seconds: u32,
    /// The comment, parentheses removed.
    pub comment: Option<&'a str>,
    /// Parameters (`duration`, ...).
    pub params: Params<'a>,
}

impl<'a> Header<'a> for RetryAfter<'a> {
    const NAME: HeaderName = HeaderName::RetryAfter;
    fn parse(value: &'a str) -> SResult<Self> {
        let mut c = Cursor::new(value);
        c.skip_ws();
        let digits = c.take_while(|b| b.is_ascii_digit());
        // Overlarge values are errors here: RFC 4475 §3.1.2.5 expects a response carrying
        // one to be dropped.
        let Some(seconds) = parse_u64(digits, u64::from(u32::MAX)) else {
            return c.err("bad delta-seconds");
        };
        c.skip_ws();
        let comment = if c.peek() == Some(b'(') {
            let inner = c.comment()?;
            c.skip_ws();
            Some(inner)
        } else {
            None
        };
        let params = parse_header_params(&mut c)?;
        c.expect_end()?;
        Ok(RetryAfter {
            seconds: seconds as u32,
            comment,
            params,
        })
    }
}

/// Who refreshes a session (RFC 4028 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    /// The UAC.
    Uac,
    /// The UAS.
    Uas,
}

/// Session-Expires: `delta-seconds *( SEMI se-params )` (RFC 4028 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionExpires<'a> {
    /// Interval in seconds.
    pub seconds: u32,
    /// `refresher=` if given.
    pub refresher: Option<Refresher>,
    /// All parameters.
    pub params: Params<'a>,
}

fn seconds_with_params<'a>(value: &'a str) -> SResult<(u32, Params<'a>)> {
    let mut c = Cursor::new(value);
    c.skip_ws();
    let digits = c.take_while(|b| b.is_ascii_digit());
    let Some(s) = parse_delta_seconds(digits) else {
        return c.err("bad delta-seconds");
    };
    let params = parse_header_params(&mut c)?;
    c.expect_end()?;
    Ok((s, params))
}

impl<'a> Header<'a> for SessionExpires<'a> {
    const NAME: HeaderName = HeaderName::SessionExpires;
    fn parse(value: &'a str) -> SResult<Self> {
        let (seconds, params) = seconds_with_params(value)?;
        let refresher = match params.value("refresher") {
            None => None,
            Some(v) if v.eq_ignore_ascii_case("uac") => Some(Refresher::Uac),
            Some(v) if v.eq_ignore_ascii_case("uas") => Some(Refresher::Uas),
            Some(_) => {
                return Err(crate::sip::scan::SyntaxError {
                    reason: "refresher must be uac or uas",
                    at: 0,
                })
            }
        };
        Ok(SessionExpires {
            seconds,
            refresher,
            params,
        })
    }
}

/// Min-SE: `delta-seconds *( SEMI generic-param )` (RFC 4028 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinSe<'a> {
    /// Seconds.
    pub seconds: u32,
    /// Parameters.
    pub params: Params<'a>,
}

impl<'a> Header<'a> for MinSe<'a> {
    const NAME: HeaderName = HeaderName::MinSe;
    fn parse(value: &'a str) -> SResult<Self> {
        let (seconds, params) = seconds_with_params(value)?;
        Ok(MinSe { seconds, params })
    }
}

/// RSeq: `1*DIGIT`, 1..2^31-1 (RFC 3262 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RSeq(pub u32);

impl<'a> Header<'a> for RSeq {
    const NAME: HeaderName = HeaderName::RSeq;
    fn parse(value: &'a str) -> SResult<Self> {
        let v = single_number(value, (1 << 31) - 1, "RSeq must be 1..2^31-1")?;
        if v == 0 {
            return Err(crate::sip::scan::SyntaxError {
                reason: "RSeq must be 1..2^31-1",
                at: 0,
            });
        }
        Ok(RSeq(v as u32))
    }
}

/// RAck: `response-num LWS CSeq-num LWS Method` (RFC 3262 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RAck<'a> {
    /// The RSeq being acknowledged.
    pub rseq: u32,
    /// The CSeq number of the request the response belongs to.
    pub cseq: u32,
    /// The method of that request.
    pub method: Method<'a>,
}

impl<'a> Header<'a> for RAck<'a> {
    const NAME: HeaderName = HeaderName::RAck;
    fn parse(value: &'a str) -> SResult<Self> {
        let mut c = Cursor::new(value);
        c.skip_ws();
        let digits = c.take_while(|b| b.is_ascii_digit());
        let Some(rseq) = parse_u64(digits, (1 << 31) - 1) else {
            return c.err("bad response-num");
        };
        if !c.skip_ws() {
            return c.err("LWS expected");
        }
        let (cseq, method) = seq_and_method(&mut c)?;
        c.expect_end()?;
        Ok(RAck {
            rseq: rseq as u32,
            cseq,
            method,
        })
    }
}
