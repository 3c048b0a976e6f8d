//! Via (RFC 3261 §20.42, §18.2.1; `rport` RFC 3581; IPv6 per RFC 5118).

use super::ListHeader;
use crate::sip::message::HeaderName;
use crate::sip::param::{parse_header_params_noting, Param, Params};
use crate::sip::scan::{parse_u64, Cursor, SResult, SyntaxError};
use crate::sip::uri::Host;
use std::net::IpAddr;

/// The RFC 3261 branch magic cookie (§8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// The transport of a Via (`transport = "UDP" / "TCP" / "TLS" / "SCTP" / other-transport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport<'a> {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// SCTP.
    Sctp,
    /// WebSocket (RFC 7118).
    Ws,
    /// Secure WebSocket (RFC 7118).
    Wss,
    /// Any other token, as written.
    Other(&'a str),
}

impl<'a> Transport<'a> {
    fn from_token(t: &'a str) -> Self {
        if t.eq_ignore_ascii_case("UDP") {
            Transport::Udp
        } else if t.eq_ignore_ascii_case("TCP") {
            Transport::Tcp
        } else if t.eq_ignore_ascii_case("TLS") {
            Transport::Tls
        } else if t.eq_ignore_ascii_case("SCTP") {
            Transport::Sctp
        } else if t.eq_ignore_ascii_case("WS") {
            Transport::Ws
        } else if t.eq_ignore_ascii_case("WSS") {
            Transport::Wss
        } else {
            Transport::Other(t)
        }
    }

    /// The token as sent.
    pub fn as_str(&self) -> &'a str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
            Transport::Other(t) => t,
        }
    }
}

/// One via-parm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via<'a> {
    /// `protocol-name` (normally `SIP`).
    pub protocol: &'a str,
    /// `protocol-version` (normally `2.0`).
    pub version: &'a str,
    /// Transport.
    pub transport: Transport<'a>,
    /// `sent-by` host.
    pub host: Host<'a>,
    /// `sent-by` port.
    pub port: Option<u16>,
    /// All via-params in wire order.
    pub params: Params<'a>,
}

impl<'a> Via<'a> {
    /// `;branch=`.
    pub fn branch(&self) -> Option<&'a str> {
        self.params.value("branch")
    }

    /// Whether the branch is an RFC 3261 transaction id (§17.2.3): the magic cookie followed
    /// by at least one more character (a bare cookie is no id, RFC 4475 §3.2.1).
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch()
            .is_some_and(|b| b.starts_with(MAGIC_COOKIE) && b.len() > MAGIC_COOKIE.len())
    }

    /// `;received=`: IPv4 or IPv6 (bracketed or not, RFC 5118 §4.5).
    pub fn received(&self) -> Option<Result<IpAddr, SyntaxError>> {
        received_addr(self.params.get("received"))
    }

    /// `;rport` (RFC 3581): `None` absent, `Some(None)` without value, `Some(Some(port))`.
    pub fn rport(&self) -> Option<Option<u16>> {
        let p = self.params.get("rport")?;
        Some(p.value.and_then(|v| parse_u64(v, 65535).map(|n| n as u16)))
    }

    /// `;maddr=`.
    pub fn maddr(&self) -> Option<&'a str> {
        self.params.value("maddr")
    }

    /// `;ttl=` (0..=255).
    pub fn ttl(&self) -> Option<u8> {
        self.params
            .value("ttl")
            .and_then(|v| parse_u64(v, 255))
            .map(|v| v as u8)
    }
}

/// The address of a `received` parameter (`None` when absent or without value).
fn received_addr(p: Option<Param<'_>>) -> Option<Result<IpAddr, SyntaxError>> {
    let v = p?.value?;
    Some(
        Host::parse(v, true)
            .ok()
            .and_then(|h| h.ip())
            .ok_or(SyntaxError {
                reason: "bad received parameter",
                at: 0,
            }),
    )
}

impl<'a> ListHeader<'a> for Via<'a> {
    const NAME: HeaderName = HeaderName::Via;
    fn parse_item(c: &mut Cursor<'a>) -> SResult<Self> {
        // sent-protocol = protocol-name SLASH protocol-version SLASH transport
        let protocol = c.token()?;
        if !c.eat_sep(b'/') {
            return c.err("'/' expected");
        }
        let version = c.token()?;
        if !c.eat_sep(b'/') {
            return c.err("'/' expected");
        }
        let transport = Transport::from_token(c.token()?);
        if !c.skip_ws() {
            return c.err("LWS expected before sent-by");
        }
        // sent-by = host [ COLON port ]
        let start = c.pos();
        let host_raw = if c.peek() == Some(b'[') {
            c.take_while(|b| b != b']');
            if !c.eat(b']') {
                return c.err("']' expected");
            }
            c.slice(start, c.pos())
        } else {
            c.take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        };
        let host = Host::parse(host_raw, false).map_err(|e| SyntaxError {
            reason: e.reason,
            at: start,
        })?;
        let port = if c.eat_sep(b':') {
            let p = c.take_while(|b| b.is_ascii_digit());
            match parse_u64(p, 65535) {
                Some(v) => Some(v as u16),
                None => return c.err("bad port"),
            }
        } else {
            None
        };
        // The one parameter checked here is noted while the list is validated.
        let (params, received) = parse_header_params_noting(c, "received")?;
        if let Some(Err(e)) = received_addr(received) {
            return Err(e);
        }
        Ok(Via {
            protocol,
            version,
            transport,
            host,
            port,
            params,
        })
    }
}
