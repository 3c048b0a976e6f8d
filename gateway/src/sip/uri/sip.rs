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
            return match s.parse::<Ipv4Addr>() {
                Ok(a) => Ok(Host::Ipv4(a)),
                Err(_) => err("bad IPv4 address"),
            };
        }
        if bare_v6 && colon {
            return match s.parse::<Ipv6Addr>() {
                Ok(a) => Ok(Host::Ipv6(a)),
                Err(_) => err("bad IPv6 address"),
            };
        }
        // hostname = *( domainlabel "." ) toplabel [ "." ]; '_' tolerated as seen in the field.
        if name_ok {
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
        // userinfo ends at the first '@': no '@' may appear unescaped in user or password.
        let (user, password, hp_start) = match crate::sip::scan::find_byte(full, b'@') {
            Some(at) => {
                let ui = &full[..at];
                let (u, p) = match crate::sip::scan::find_byte(ui, b':') {
                    Some(c) => (&ui[..c], Some(&ui[c + 1..])),
                    None => (ui, None),
                };
                if u.is_empty() || !all_in(u, &USER) {
                    return e("bad user part", 0);
                }
                if let Some(p) = p {
                    if !all_in(p, &PASSWORD) {
                        return e("bad password", u.len() + 1);
                    }
                }
                (Some(u), p, at + 1)
            }
            None => (None, None, 0),
        };
        let after = &full[hp_start..];
        // hostport ends at the first ';' or '?' (an IPv6 reference contains neither).
        let hp_end = after
            .bytes()
            .position(|c| c == b';' || c == b'?')
            .unwrap_or(after.len());
        let (host, port) = match parse_hostport(&after[..hp_end]) {
            Ok(v) => v,
            Err(se) => return e(se.reason, hp_start + se.at),
        };
        let mut pos = hp_start + hp_end;
        let b = full.as_bytes();
        let params_start = (pos + 1).min(b.len());
        while pos < b.len() && b[pos] == b';' {
            let start = pos + 1;
            let mut end = start;
            while end < b.len() && b[end] != b';' && b[end] != b'?' {
                end += 1;
            }
            let p = &full[start..end];
            let (name, value) = match crate::sip::scan::find_byte(p, b'=') {
                Some(i) => (&p[..i], Some(&p[i + 1..])),
                None => (p, None),
            };
            if name.is_empty()
                || !all_in(name, &PARAM)
                || value.is_some_and(|v| v.is_empty() || !all_in(v, &PARAM))
            {
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
