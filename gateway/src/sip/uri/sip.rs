//! SIP and SIPS URIs (RFC 3261 §19.1.1, §25.1; IPv6 references per RFC 5118).

use super::escape::{escapes_valid, unescape};
use crate::sip::param::{Param, Params};
use crate::sip::scan::{SResult, SyntaxError};
use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `host = hostname / IPv4address / IPv6reference`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Host<'a> {
    /// A domain name, as written (compare case-insensitively).
    Domain(&'a str),
    /// A dotted-quad address.
    Ipv4(Ipv4Addr),
    /// An `[IPv6]` reference (brackets removed).
    Ipv6(Ipv6Addr),
}

impl<'a> Host<'a> {
    /// Parse a host; IPv6 must be bracketed unless `bare_v6` (Via `received`, RFC 5118 §4.5).
    pub fn parse(s: &'a str, bare_v6: bool) -> SResult<Host<'a>> {
        let err = |reason| Err(SyntaxError { reason, at: 0 });
        if let Some(inner) = s.strip_prefix('[') {
            let Some(inner) = inner.strip_suffix(']') else {
                return err("unterminated IPv6 reference");
            };
            return match inner.parse::<Ipv6Addr>() {
                Ok(a) => Ok(Host::Ipv6(a)),
                Err(_) => err("bad IPv6 address"),
            };
        }
        if s.is_empty() {
            return err("empty host");
        }
        // One pass: classify as dotted-quad candidate, bare IPv6 candidate or hostname.
        let b = s.as_bytes();
        let (mut all, mut any, mut dot_dot, mut prev) = (HOST_ANY, 0u8, 0u8, 0u8);
        for &c in b {
            let k = HOST_CLASS[usize::from(c)];
            all &= k;
            any |= k;
            dot_dot |= prev & k;
            prev = k & HOST_DOT;
        }
        if all & HOST_DIGIT_DOT != 0 {
            return match parse_ipv4(b) {
                Some(a) => Ok(Host::Ipv4(a)),
                None => err("bad IPv4 address"),
            };
        }
        if bare_v6 && any & HOST_COLON != 0 {
            return match s.parse::<Ipv6Addr>() {
                Ok(a) => Ok(Host::Ipv6(a)),
                Err(_) => err("bad IPv6 address"),
            };
        }
        // hostname = *( domainlabel "." ) toplabel [ "." ]; '_' tolerated as seen in the field.
        if all & HOST_NAME != 0 && dot_dot == 0 && b[0] != b'.' && b[0] != b'-' {
            Ok(Host::Domain(s))
        } else {
            err("bad hostname")
        }
    }

    /// The address, when the host is a literal one.
    pub fn ip(&self) -> Option<IpAddr> {
        match *self {
            Host::Ipv4(a) => Some(IpAddr::V4(a)),
            Host::Ipv6(a) => Some(IpAddr::V6(a)),
            Host::Domain(_) => None,
        }
    }
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => a.fmt(f),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Host octet classes (bit set): digit or '.'; hostname octet (alphanumeric, '-', '.', '_');
/// '.'; ':'.
const HOST_DIGIT_DOT: u8 = 1;
const HOST_NAME: u8 = 2;
const HOST_DOT: u8 = 4;
const HOST_COLON: u8 = 8;
const HOST_ANY: u8 = HOST_DIGIT_DOT | HOST_NAME | HOST_DOT | HOST_COLON;

static HOST_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let mut k = 0;
        if c.is_ascii_digit() || c == b'.' {
            k |= HOST_DIGIT_DOT;
        }
        if c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_' {
            k |= HOST_NAME;
        }
        if c == b'.' {
            k |= HOST_DOT;
        }
        if c == b':' {
            k |= HOST_COLON;
        }
        t[i] = k;
        i += 1;
    }
    t
};

/// `IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT` (RFC 3261 §25.1), each
/// part at most 255 and without a leading zero: exactly what `Ipv4Addr::from_str` accepts.
pub(crate) fn parse_ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (n, octet) in octets.iter_mut().enumerate() {
        if n > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut v: u32 = 0;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() || i - start == 3 {
                break;
            }
            v = v * 10 + u32::from(c - b'0');
            i += 1;
        }
        let len = i - start;
        if len == 0 || (len > 1 && b[start] == b'0') || v > 255 {
            return None;
        }
        *octet = v as u8;
    }
    (i == b.len()).then(|| Ipv4Addr::from(octets))
}

/// Split `host[:port]` where host may be an IPv6 reference.
pub(crate) fn parse_hostport<'a>(s: &'a str) -> SResult<(Host<'a>, Option<u16>)> {
    let (host, port) = if s.starts_with('[') {
        match crate::sip::scan::find_byte(s, b']') {
            Some(end) => {
                let after = &s[end + 1..];
                if after.is_empty() {
                    (s, None)
                } else if let Some(p) = after.strip_prefix(':') {
                    (&s[..end + 1], Some(p))
                } else {
                    return Err(SyntaxError {
                        reason: "junk after IPv6 reference",
                        at: end + 1,
                    });
                }
            }
            None => {
                return Err(SyntaxError {
                    reason: "unterminated IPv6 reference",
                    at: 0,
                })
            }
        }
    } else {
        match crate::sip::scan::find_byte(s, b':') {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        }
    };
    let host = Host::parse(host, false)?;
    let port = match port {
        None => None,
        Some(p) => match crate::sip::scan::parse_u64(p, u64::from(u16::MAX)) {
            Some(v) => Some(v as u16),
            None => {
                return Err(SyntaxError {
                    reason: "bad port",
                    at: host_len(s),
                })
            }
        },
    };
    Ok((host, port))
}

fn host_len(s: &str) -> usize {
    crate::sip::scan::find_byte(s, b':').unwrap_or(s.len())
}

const fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

const fn table(kind: u8) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = match kind {
            0 => is_user_char_class(c),
            1 => is_password_char_class(c),
            2 => is_param_char_class(c),
            _ => is_header_char_class(c),
        };
        i += 1;
    }
    t
}

static USER: [bool; 256] = table(0);
static PASSWORD: [bool; 256] = table(1);
static PARAM: [bool; 256] = table(2);
static HEADER: [bool; 256] = table(3);

/// Every octet is in `class` and every '%' starts a valid escape (one pass; the escape check
/// only runs when a '%' was seen).
#[inline]
fn all_in(s: &str, class: &[bool; 256]) -> bool {
    let mut pct = false;
    for &c in s.as_bytes() {
        if !class[usize::from(c)] {
            return false;
        }
        pct |= c == b'%';
    }
    !pct || escapes_valid(s)
}

/// The end of the run of `class` octets in `b` from `from`, and whether it holds a '%'.
#[inline]
fn span_in(b: &[u8], from: usize, class: &[bool; 256]) -> (usize, bool) {
    let mut pct = false;
    let mut i = from;
    while let Some(&c) = b.get(i) {
        if !class[usize::from(c)] {
            break;
        }
        pct |= c == b'%';
        i += 1;
    }
    (i, pct)
}

/// `userinfo = ( user / telephone-subscriber ) [ ":" password ] "@"`, split at the first '@'
/// of `full` (which has one) and the first ':' before it: user, password and the offset of
/// the host part, or the offset of the bad part (0 for the user).
fn userinfo(full: &str) -> Result<(Option<&str>, Option<&str>, usize), usize> {
    let at = crate::sip::scan::find_byte(full, b'@').unwrap_or(full.len());
    let ui = &full[..at];
    let (u, p) = match crate::sip::scan::find_byte(ui, b':') {
        Some(c) => (&ui[..c], Some(&ui[c + 1..])),
        None => (ui, None),
    };
    if u.is_empty() || !all_in(u, &USER) {
        return Err(0);
    }
    if let Some(p) = p {
        if !all_in(p, &PASSWORD) {
            return Err(u.len() + 1);
        }
    }
    Ok((Some(u), p, at + 1))
}

const fn is_user_char_class(c: u8) -> bool {
    is_unreserved(c)
        || c == b'%'
        || matches!(c, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/')
}

const fn is_password_char_class(c: u8) -> bool {
    is_unreserved(c) || c == b'%' || matches!(c, b'&' | b'=' | b'+' | b'$' | b',')
}

const fn is_param_char_class(c: u8) -> bool {
    is_unreserved(c) || c == b'%' || matches!(c, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
}

const fn is_header_char_class(c: u8) -> bool {
    is_unreserved(c) || c == b'%' || matches!(c, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$')
}

/// A `sip:` or `sips:` URI, borrowed from the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri<'a> {
    /// The whole URI as written, scheme included.
    pub raw: &'a str,
    /// `sips:`.
    pub secure: bool,
    /// The user part, still escaped.
    pub user: Option<&'a str>,
    /// The password, still escaped (deprecated, RFC 3261 §19.1.1).
    pub password: Option<&'a str>,
    /// Host.
    pub host: Host<'a>,
    /// Port.
    pub port: Option<u16>,
    /// `uri-parameters`, still escaped.
    pub params: Params<'a>,
    /// `headers` (`?name=value&…`), still escaped.
    pub headers: Vec<(&'a str, &'a str)>,
}

impl<'a> SipUri<'a> {
    /// Parse a complete `sip:`/`sips:` URI.
    pub fn parse(s: &'a str) -> SResult<SipUri<'a>> {
        match super::Uri::parse(s)? {
            super::Uri::Sip(u) => Ok(u),
            _ => Err(SyntaxError {
                reason: "not a SIP URI",
                at: 0,
            }),
        }
    }

    pub(super) fn parse_after_scheme(rest: &'a str, secure: bool, base: usize) -> SResult<Self> {
        let full = rest;
        let e = |reason, at: usize| {
            Err(SyntaxError {
                reason,
                at: base + at,
            })
        };
        let b = full.as_bytes();
        // userinfo ends at the first '@': no '@' may appear unescaped in user or password.
        // Most URIs have a user part without password: one pass over the USER octets ('@'
        // and ':' are none) ends at that '@'. Otherwise the general split below.
        let (k, pct) = span_in(b, 0, &USER);
        let (user, password, hp_start) = if b.get(k) == Some(&b'@') {
            if k == 0 || (pct && !escapes_valid(&full[..k])) {
                return e("bad user part", 0);
            }
            (Some(&full[..k]), None, k + 1)
        } else if memchr::memchr(b'@', &b[k..]).is_none() {
            (None, None, 0)
        } else {
            userinfo(full).map_err(|at| SyntaxError {
                reason: if at == 0 {
                    "bad user part"
                } else {
                    "bad password"
                },
                at: base + at,
            })?
        };
        let after = &full[hp_start..];
        // hostport ends at the first ';' or '?' (an IPv6 reference contains neither).
        let hp_end = memchr::memchr2(b';', b'?', after.as_bytes()).unwrap_or(after.len());
        let (host, port) = match parse_hostport(&after[..hp_end]) {
            Ok(v) => v,
            Err(se) => return e(se.reason, hp_start + se.at),
        };
        let mut pos = hp_start + hp_end;
        let params_start = (pos + 1).min(b.len());
        while pos < b.len() && b[pos] == b';' {
            // uri-parameter = pname [ "=" pvalue ], both non-empty paramchar runs ('=', ';'
            // and '?' are no paramchar), ending at ';', '?' or the end.
            let start = pos + 1;
            let (name_end, mut pct) = span_in(b, start, &PARAM);
            let mut ok = name_end > start;
            let mut end = name_end;
            if b.get(end) == Some(&b'=') {
                let (value_end, value_pct) = span_in(b, end + 1, &PARAM);
                ok &= value_end > end + 1;
                pct |= value_pct;
                end = value_end;
            }
            ok &= end == b.len() || b[end] == b';' || b[end] == b'?';
            // An escape never spans the '=' ('=' is no hex digit), so the name and the value
            // can be checked as one.
            if !ok || (pct && !escapes_valid(&full[start..end])) {
                return e("bad URI parameter", start);
            }
            pos = end;
        }
        let params = if pos > params_start {
            Params::uri(&full[params_start..pos])
        } else {
            Params::default()
        };
        let mut headers = Vec::new();
        if pos < b.len() && b[pos] == b'?' {
            for h in full[pos + 1..].split('&') {
                let (n, v) = h.split_once('=').unwrap_or((h, ""));
                if n.is_empty() || !all_in(n, &HEADER) || !all_in(v, &HEADER) {
                    return e("bad URI header", pos + 1);
                }
                headers.push((n, v));
            }
            pos = b.len();
        }
        if pos != b.len() {
            return e("junk in SIP URI", pos);
        }
        Ok(SipUri {
            raw: full,
            secure,
            user,
            password,
            host,
            port,
            params,
            headers,
        })
    }

    /// The user part with escapes decoded (octets: `%00` is legal, RFC 4475 §3.1.1.4).
    pub fn user_unescaped(&self) -> Option<Cow<'a, [u8]>> {
        self.user.and_then(unescape)
    }

    /// A URI parameter by name (case-insensitive).
    pub fn param(&self, name: &str) -> Option<Param<'a>> {
        self.params.get(name)
    }

    /// `;lr` (RFC 3261 §19.1.1).
    pub fn is_loose_route(&self) -> bool {
        self.params.has("lr")
    }

    /// `;transport=` value.
    pub fn transport(&self) -> Option<&'a str> {
        self.params.value("transport")
    }

    /// `;user=phone` (RFC 3261 §19.1.6).
    pub fn is_user_phone(&self) -> bool {
        self.params
            .value("user")
            .is_some_and(|v| v.eq_ignore_ascii_case("phone"))
    }
}

impl fmt::Display for SipUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        f.write_str(self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic octet strings over the alphabet a host parser branches on.
    fn strings(alphabet: &[u8], count: usize, max_len: usize) -> Vec<Vec<u8>> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        (0..count)
            .map(|_| {
                let len = (next() % (max_len as u64 + 1)) as usize;
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn dotted_quad_parser_agrees_with_std() {
        let mut cases = strings(b"0123456789.", 200_000, 17);
        cases.extend(strings(b"0125.", 100_000, 16));
        for s in [
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "1.2.3.04",
            "01.2.3.4",
            "1.2.3.4.",
            ".1.2.3.4",
            "1..2.3",
            "1.2.3",
            "1.2.3.4.5",
            "1234.1.1.1",
            "198.51.100.7",
            "",
        ] {
            cases.push(s.as_bytes().to_vec());
        }
        for b in &cases {
            let s = std::str::from_utf8(b).unwrap();
            assert_eq!(parse_ipv4(b), s.parse::<Ipv4Addr>().ok(), "{s:?}");
        }
    }

    /// The host classification as it was written before the class table: the table must
    /// give the same answer for every string.
    fn host_reference(s: &str, bare_v6: bool) -> Result<Host<'_>, &'static str> {
        if let Some(inner) = s.strip_prefix('[') {
            let Some(inner) = inner.strip_suffix(']') else {
                return Err("unterminated IPv6 reference");
            };
            return inner
                .parse::<Ipv6Addr>()
                .map(Host::Ipv6)
                .map_err(|_| "bad IPv6 address");
        }
        if s.is_empty() {
            return Err("empty host");
        }
        let b = s.as_bytes();
        let mut digits_dots = true;
        let mut colon = false;
        let mut name_ok = b[0] != b'.' && b[0] != b'-';
        let mut prev_dot = false;
        for &c in b {
            let dot = c == b'.';
            digits_dots &= c.is_ascii_digit() || dot;
            colon |= c == b':';
            name_ok &= (c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
                && !(dot && prev_dot);
            prev_dot = dot;
        }
        if digits_dots {
            return s
                .parse::<Ipv4Addr>()
                .map(Host::Ipv4)
                .map_err(|_| "bad IPv4 address");
        }
        if bare_v6 && colon {
            return s
                .parse::<Ipv6Addr>()
                .map(Host::Ipv6)
                .map_err(|_| "bad IPv6 address");
        }
        if name_ok {
            Ok(Host::Domain(s))
        } else {
            Err("bad hostname")
        }
    }

    #[test]
    fn host_classification_agrees_with_reference() {
        let mut cases = strings(b"019.-_:aZ[]% ", 200_000, 12);
        cases.extend(strings(b"12.", 50_000, 16));
        for s in [
            "gw.example.net",
            "a..b",
            "-a",
            ".a",
            "a.",
            "[::1]",
            "::1",
            "1.2.3.4",
        ] {
            cases.push(s.as_bytes().to_vec());
        }
        for b in &cases {
            let s = std::str::from_utf8(b).unwrap();
            for bare_v6 in [false, true] {
                assert_eq!(
                    Host::parse(s, bare_v6).map_err(|e| e.reason),
                    host_reference(s, bare_v6),
                    "{s:?} bare_v6={bare_v6}"
                );
            }
        }
    }
}
