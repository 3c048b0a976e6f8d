//! `received` and `rport` (RFC 3261 §18.2.1, RFC 3581 §4) and where responses go
//! (§18.2.2, RFC 3581 §4).

use std::net::{IpAddr, SocketAddr};

use crate::sip::header::Via;
use crate::sip::transaction::split_list;
use crate::sip::{HeaderName, Host, SipMessage};

use super::{Protocol, Target};

/// Note on the top Via where a request really came from: `received` when the sent-by host
/// is not the source address (§18.2.1), and the source port in an empty `rport` (RFC 3581
/// §4, which also makes `received` mandatory then). Returns the message unchanged when there
/// is nothing to add.
pub fn stamp_via(msg: SipMessage, source: SocketAddr) -> SipMessage {
    let Ok(via) = msg.top_via() else { return msg };
    let host_is_source = match via.host {
        Host::Ipv4(a) => IpAddr::V4(a) == source.ip(),
        Host::Ipv6(a) => IpAddr::V6(a) == source.ip(),
        Host::Domain(_) => false,
    };
    let wants_rport = matches!(via.rport(), Some(None));
    if host_is_source && !wants_rport {
        return msg;
    }
    let Some(field) = msg.header_fields(&HeaderName::Via).next() else {
        return msg;
    };
    let Some(top) = split_list(field.value).first().copied() else {
        return msg;
    };
    // Where the top element sits in the buffer.
    let start = field.offset + (top.as_ptr() as usize - field.value.as_ptr() as usize);
    let end = start + top.len();
    let mut elem = String::from_utf8_lossy(top).into_owned();
    if wants_rport {
        // Drop the empty `;rport` (it comes back with the port filled in).
        elem = remove_param(&elem, "rport");
    }
    if !host_is_source || wants_rport {
        elem = remove_param(&elem, "received");
        let ip = match source.ip() {
            IpAddr::V4(a) => a.to_string(),
            IpAddr::V6(a) => a.to_string(),
        };
        elem.push_str(";received=");
        elem.push_str(&ip);
    }
    if wants_rport {
        elem.push_str(";rport=");
        elem.push_str(&source.port().to_string());
    }
    let buf = msg.as_bytes();
    let mut out = Vec::with_capacity(buf.len() + 40);
    out.extend_from_slice(&buf[..start]);
    out.extend_from_slice(elem.as_bytes());
    out.extend_from_slice(&buf[end..]);
    SipMessage::parse(out).unwrap_or(msg)
}

/// Remove `;name` or `;name=value` (case-insensitive) from a Via element.
fn remove_param(elem: &str, name: &str) -> String {
    let mut parts = elem.split(';');
    let mut out = parts.next().unwrap_or_default().to_string();
    for p in parts {
        let pname = p.split('=').next().unwrap_or_default().trim();
        if !pname.eq_ignore_ascii_case(name) {
            out.push(';');
            out.push_str(p);
        }
    }
    out
}

/// Where a response to a request that came over `protocol` goes when there is no
/// connection to reuse (§18.2.2): `received` (or sent-by) host and `rport` (or sent-by)
/// port. `None` when the sent-by is a domain name and no `received` is there.
pub fn response_target(response: &SipMessage, protocol: Protocol) -> Option<Target> {
    response_target_of_via(&response.top_via().ok()?, protocol)
}

/// [`response_target`] from a top Via the caller has already decoded.
pub fn response_target_of_via(via: &Via<'_>, protocol: Protocol) -> Option<Target> {
    let ip: IpAddr = match via.received() {
        Some(Ok(ip)) => ip,
        _ => match via.host {
            Host::Ipv4(a) => IpAddr::V4(a),
            Host::Ipv6(a) => IpAddr::V6(a),
            Host::Domain(_) => return None,
        },
    };
    let default_port = if protocol == Protocol::Tls {
        5061
    } else {
        5060
    };
    let port = match via.rport() {
        Some(Some(p)) => p,
        _ => via.port.unwrap_or(default_port),
    };
    Some(Target {
        protocol,
        addr: SocketAddr::new(ip, port),
    })
}
