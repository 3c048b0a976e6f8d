//! The ACK a client INVITE transaction sends for a non-2xx final response
//! (RFC 3261 §17.1.1.3).

use bytes::Bytes;

use crate::sip::{HeaderName, Method, RequestBuilder, SipMessage};

/// The elements of a comma-separated header value (§7.3.1), commas inside quoted strings
/// and angle brackets skipped, each trimmed.
pub(crate) fn split_list(v: &[u8]) -> Vec<&[u8]> {
    let (mut quoted, mut angle, mut escaped) = (false, false, false);
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &c) in v.iter().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b'<' if !quoted => angle = true,
            b'>' if !quoted => angle = false,
            b',' if !quoted && !angle => {
                out.push(trim(&v[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(trim(&v[start..]));
    out.retain(|e| !e.is_empty());
    out
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &v[start..end]
}

/// Build the ACK for `response` (a 300-699) to `invite`: same Request-URI, Call-ID, From
/// and CSeq number, the INVITE's top Via only (so the ACK matches the transaction), the
/// response's To (with the tag it added), and the INVITE's Route header fields (§17.1.1.3).
pub fn ack_for_non_2xx(invite: &SipMessage, response: &SipMessage) -> Bytes {
    let uri = invite.request_uri_str().unwrap_or_default();
    let mut b = RequestBuilder::new(Method::Ack, uri);
    if let Some(v) = invite.header_value(&HeaderName::Via) {
        if let Some(top) = split_list(v).first() {
            b.push_header("Via", top);
        }
    }
    if let Some(v) = invite.header_value(&HeaderName::MaxForwards) {
        b.push_header("Max-Forwards", v);
    }
    for h in invite.header_fields(&HeaderName::Route) {
        b.push_header("Route", h.value);
    }
    if let Some(v) = invite.header_value(&HeaderName::From) {
        b.push_header("From", v);
    }
    if let Some(v) = response.header_value(&HeaderName::To) {
        b.push_header("To", v);
    }
    if let Some(v) = invite.header_value(&HeaderName::CallId) {
        b.push_header("Call-ID", v);
    }
    let seq = invite.cseq().map(|c| c.seq).unwrap_or(0);
    b.push_header("CSeq", format!("{seq} ACK"));
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_list_skips_quoted_commas() {
        assert_eq!(
            split_list(b" SIP/2.0/UDP a;branch=x , SIP/2.0/UDP b"),
            [&b"SIP/2.0/UDP a;branch=x"[..], b"SIP/2.0/UDP b"]
        );
        assert_eq!(
            split_list(b"\"a,b\" <sip:x>, <sip:y,z>"),
            [&b"\"a,b\" <sip:x>"[..], b"<sip:y,z>"]
        );
    }
}
