//! Redirected calls: the ISDN Redirecting number (Q.952 §4, with its reason) ↔ the SIP
//! `Diversion` header (RFC 5806) and `History-Info` (RFC 7044, with the RFC 4458 `cause`
//! URI parameter).
//!
//! ```text
//! Redirecting number: 0301111, reason "call forwarding busy" (Q.952 octet 3b = 0001)
//!   Diversion: <sip:+49301111@gw>;reason=user-busy;counter=1;privacy=off
//!   History-Info: <sip:+49301111@gw?Reason=SIP%3Bcause%3D486>;index=1,
//!                 <sip:+49302222@pbx;cause=486>;index=1.1;mp=1
//! ```
//!
//! Which header a SIP trunk sends is its `redirecting` key ([`RedirectHeaders`]); on
//! receipt both are understood (History-Info first when the trunk is set to it, Diversion
//! otherwise).

use serde::Deserialize;

use crate::core::{RedirectReason, Redirection};
use crate::sip::SipMessage;

/// Which headers carry redirection on a SIP trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RedirectHeaders {
    /// `Diversion` (RFC 5806), what most carriers and PBXs use.
    #[default]
    Diversion,
    /// `History-Info` (RFC 7044).
    HistoryInfo,
    /// Both.
    Both,
    /// Neither (redirection is not signalled towards this trunk).
    None,
}

impl RedirectHeaders {
    fn diversion(self) -> bool {
        matches!(self, RedirectHeaders::Diversion | RedirectHeaders::Both)
    }
    fn history_info(self) -> bool {
        matches!(self, RedirectHeaders::HistoryInfo | RedirectHeaders::Both)
    }
}

/// RFC 5806 §4 `diversion-reason` token of a reason.
pub fn diversion_reason(r: RedirectReason) -> &'static str {
    match r {
        RedirectReason::Unknown => "unknown",
        RedirectReason::Busy => "user-busy",
        RedirectReason::NoReply => "no-answer",
        RedirectReason::Unconditional => "unconditional",
        RedirectReason::Deflection => "deflection",
        RedirectReason::Unavailable => "out-of-service",
    }
}

fn reason_of_diversion(token: &str) -> RedirectReason {
    match token.to_ascii_lowercase().as_str() {
        "user-busy" => RedirectReason::Busy,
        "no-answer" => RedirectReason::NoReply,
        "unconditional" | "time-of-day" | "do-not-disturb" | "follow-me" | "away" => {
            RedirectReason::Unconditional
        }
        "deflection" => RedirectReason::Deflection,
        "out-of-service" | "unavailable" => RedirectReason::Unavailable,
        _ => RedirectReason::Unknown,
    }
}

/// RFC 4458 §3.5 cause-param (a SIP status) of a reason, as History-Info carries it.
pub fn history_cause(r: RedirectReason) -> u16 {
    match r {
        RedirectReason::Unknown => 404,
        RedirectReason::Busy => 486,
        RedirectReason::NoReply => 408,
        RedirectReason::Unconditional => 302,
        // Deflection during alerting; 480 is deflection with immediate response.
        RedirectReason::Deflection => 487,
        // Mobile subscriber not reachable.
        RedirectReason::Unavailable => 503,
    }
}

fn reason_of_cause(cause: u16) -> RedirectReason {
    match cause {
        486 => RedirectReason::Busy,
        408 => RedirectReason::NoReply,
        302 => RedirectReason::Unconditional,
        480 | 487 => RedirectReason::Deflection,
        503 => RedirectReason::Unavailable,
        _ => RedirectReason::Unknown,
    }
}

/// The Q.952 reason for redirection of a neutral reason.
pub fn q952_reason(r: RedirectReason) -> q931::ie::RedirectionReason {
    use q931::ie::RedirectionReason as Q;
    match r {
        RedirectReason::Unknown => Q::Unknown,
        RedirectReason::Busy => Q::ForwardingBusy,
        RedirectReason::NoReply => Q::ForwardingNoReply,
        RedirectReason::Unconditional => Q::ForwardingUnconditional,
        RedirectReason::Deflection => Q::Deflection,
        RedirectReason::Unavailable => Q::DteOutOfOrder,
    }
}

/// The neutral reason of a Q.952 reason for redirection (forwarding by the called DTE is
/// the called party's own unconditional forwarding).
pub fn reason_of_q952(r: Option<q931::ie::RedirectionReason>) -> RedirectReason {
    use q931::ie::RedirectionReason as Q;
    match r {
        Some(Q::ForwardingBusy) => RedirectReason::Busy,
        Some(Q::ForwardingNoReply) => RedirectReason::NoReply,
        Some(Q::ForwardingUnconditional | Q::ForwardingByDte) => RedirectReason::Unconditional,
        Some(Q::Deflection) => RedirectReason::Deflection,
        Some(Q::DteOutOfOrder) => RedirectReason::Unavailable,
        _ => RedirectReason::Unknown,
    }
}

/// The headers announcing `r` on an INVITE: `redirecting_user` and `called_user` are the
/// user parts (already in the trunk's number format), `host` the host part of the URIs.
pub fn headers_for(
    mode: RedirectHeaders,
    r: &Redirection,
    redirecting_user: &str,
    called_user: &str,
    host: &str,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if mode.diversion() {
        // RFC 5806 §4: name-addr, reason, counter, privacy.
        out.push((
            "Diversion".to_string(),
            format!(
                "<sip:{redirecting_user}@{host}>;reason={};counter={};privacy={}",
                diversion_reason(r.reason),
                r.count.max(1),
                if r.from.restricted { "full" } else { "off" }
            ),
        ));
    }
    if mode.history_info() {
        // RFC 7044 §4.3.3.1: the entry of the diverting party with the Reason of the
        // retargeting escaped in its URI, then the new target, mapped (`mp`) from it, with
        // the RFC 4458 cause. A restricted number asks for Privacy: history (§10.1).
        let cause = history_cause(r.reason);
        let privacy = if r.from.restricted {
            "Privacy=history&"
        } else {
            ""
        };
        out.push((
            "History-Info".to_string(),
            format!(
                "<sip:{redirecting_user}@{host}?{privacy}Reason=SIP%3Bcause%3D{cause}>;index=1,\
                 <sip:{called_user}@{host};cause={cause}>;index=1.1;mp=1"
            ),
        ));
    }
    out
}

/// What an incoming INVITE says about redirection: the redirecting party's user part, the
/// reason, the count and whether its presentation is restricted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub user: String,
    pub reason: RedirectReason,
    pub count: u8,
    pub restricted: bool,
}

/// Read redirection from a request: History-Info first when `mode` says so, Diversion
/// otherwise, the other header when the preferred one is absent.
pub fn received(msg: &SipMessage, mode: RedirectHeaders) -> Option<Received> {
    let values = |name: &str| -> Vec<String> {
        msg.headers()
            .filter(|h| h.name.eq_ignore_ascii_case(name.as_bytes()))
            .filter_map(|h| h.value_str())
            .flat_map(split_list)
            .collect()
    };
    let div = || from_diversion(&values("Diversion"));
    let hi = || from_history_info(&values("History-Info"));
    if mode == RedirectHeaders::HistoryInfo {
        hi().or_else(div)
    } else {
        div().or_else(hi)
    }
}

/// RFC 5806 §4: the topmost Diversion entry is the most recent diversion; `counter` counts
/// diversions per entry.
fn from_diversion(entries: &[String]) -> Option<Received> {
    let first = entries.first()?;
    let (uri, params) = split_entry(first)?;
    let user = uri_user(uri)?;
    let mut reason = RedirectReason::Unknown;
    let mut restricted = false;
    let mut count: u32 = 0;
    for p in params {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        let v = v.trim().trim_matches('"');
        match k.trim().to_ascii_lowercase().as_str() {
            "reason" => reason = reason_of_diversion(v),
            "privacy" => restricted = matches!(v.to_ascii_lowercase().as_str(), "full" | "name"),
            _ => {}
        }
    }
    for e in entries {
        let c = split_entry(e)
            .and_then(|(_, ps)| {
                ps.iter().find_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    k.trim()
                        .eq_ignore_ascii_case("counter")
                        .then(|| v.trim().parse::<u32>().ok())
                        .flatten()
                })
            })
            .unwrap_or(1);
        count = count.saturating_add(c);
    }
    Some(Received {
        user,
        reason,
        count: u8::try_from(count.max(1)).unwrap_or(u8::MAX),
        restricted,
    })
}

/// RFC 7044: the last entry that carries an RFC 4458 `cause` was reached by redirection;
/// the entry before it (its parent) is the redirecting party.
fn from_history_info(entries: &[String]) -> Option<Received> {
    let parsed: Vec<(&str, Vec<&str>)> = entries.iter().filter_map(|e| split_entry(e)).collect();
    let cause_of = |uri: &str| -> Option<u16> {
        let base = uri.split('?').next().unwrap_or(uri);
        base.split(';').skip(1).find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("cause")
                .then(|| v.trim().parse().ok())
                .flatten()
        })
    };
    let redirected: Vec<usize> = parsed
        .iter()
        .enumerate()
        .filter(|(_, (uri, _))| cause_of(uri).is_some())
        .map(|(i, _)| i)
        .collect();
    let &last = redirected.last()?;
    if last == 0 {
        return None;
    }
    let cause = cause_of(parsed[last].0)?;
    let (from_uri, _) = &parsed[last - 1];
    let user = uri_user(from_uri)?;
    let restricted = from_uri
        .split_once('?')
        .is_some_and(|(_, h)| h.to_ascii_lowercase().contains("privacy=history"));
    Some(Received {
        user,
        reason: reason_of_cause(cause),
        count: u8::try_from(redirected.len()).unwrap_or(u8::MAX),
        restricted,
    })
}

/// Split a header value list at commas outside `<>` and quotes.
fn split_list(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut angle, mut quote, mut start) = (false, false, 0);
    for (i, c) in v.char_indices() {
        match c {
            '"' if !angle => quote = !quote,
            '<' if !quote => angle = true,
            '>' if !quote => angle = false,
            ',' if !angle && !quote => {
                out.push(v[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(v[start..].trim().to_string());
    out.retain(|s| !s.is_empty());
    out
}

/// `"name" <uri>;p1;p2` → (uri, [p1, p2]).
fn split_entry(e: &str) -> Option<(&str, Vec<&str>)> {
    let open = e.find('<')?;
    let close = open + e[open..].find('>')?;
    let uri = &e[open + 1..close];
    let params = e[close + 1..]
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    Some((uri, params))
}

/// The user part of a `sip:`/`sips:` URI, or the number of a `tel:` URI.
fn uri_user(uri: &str) -> Option<String> {
    let uri = uri.trim();
    let rest =
        if let Some(r) = strip_prefix_ci(uri, "sips:").or_else(|| strip_prefix_ci(uri, "sip:")) {
            let at = r.find('@')?;
            &r[..at]
        } else {
            let r = strip_prefix_ci(uri, "tel:")?;
            r.split([';', '?']).next().unwrap_or(r)
        };
    let user = rest.split(';').next().unwrap_or(rest);
    (!user.is_empty()).then(|| user.to_string())
}

fn strip_prefix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    // `get`: the header is UTF-8 from the peer, and its first octets may end inside a
    // character (`sip:ü…` against "sips:").
    s.get(..p.len())
        .filter(|head| head.eq_ignore_ascii_case(p))
        .map(|_| &s[p.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Number;

    fn invite(headers: &str) -> SipMessage {
        let text = format!(
            "INVITE sip:302222@gw SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
             From: <sip:a@x>;tag=1\r\nTo: <sip:302222@gw>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\
             {headers}Content-Length: 0\r\n\r\n"
        );
        SipMessage::parse(bytes::Bytes::from(text)).unwrap()
    }

    fn busy(restricted: bool) -> Redirection {
        Redirection {
            from: Number {
                restricted,
                ..Number::unknown("301111")
            },
            reason: RedirectReason::Busy,
            count: 1,
        }
    }

    #[test]
    fn diversion_out_and_back() {
        let h = headers_for(
            RedirectHeaders::Diversion,
            &busy(false),
            "301111",
            "302222",
            "gw",
        );
        assert_eq!(
            h,
            vec![(
                "Diversion".to_string(),
                "<sip:301111@gw>;reason=user-busy;counter=1;privacy=off".to_string()
            )]
        );
        let m = invite(&format!("Diversion: {}\r\n", h[0].1));
        assert_eq!(
            received(&m, RedirectHeaders::Diversion),
            Some(Received {
                user: "301111".into(),
                reason: RedirectReason::Busy,
                count: 1,
                restricted: false
            })
        );
    }

    /// Header values are UTF-8 from the peer: a URI whose first octets end inside a
    /// character is read, not a panic of the signalling task.
    #[test]
    fn non_ascii_uris_are_read_whole() {
        for uri in ["sip:ü@example.com", "€€€", "sï", "tél:1", "sip:€@x"] {
            let expected = uri
                .strip_prefix("sip:")
                .map(|u| u.split('@').next().unwrap().to_string());
            let m = invite(&format!("Diversion: <{uri}>;reason=user-busy\r\n"));
            let r = received(&m, RedirectHeaders::Diversion);
            assert_eq!(r.map(|r| r.user), expected, "Diversion: {uri}");
            let m = invite(&format!(
                "History-Info: <{uri}>;index=1, <sip:302222@gw;cause=486>;index=1.1\r\n"
            ));
            let r = received(&m, RedirectHeaders::HistoryInfo);
            assert_eq!(r.map(|r| r.user), expected, "History-Info: {uri}");
        }
    }

    #[test]
    fn history_info_out_and_back() {
        let h = headers_for(
            RedirectHeaders::HistoryInfo,
            &busy(true),
            "+49301111",
            "+49302222",
            "gw",
        );
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].0, "History-Info");
        assert!(h[0].1.contains(";cause=486>;index=1.1;mp=1"), "{}", h[0].1);
        let m = invite(&format!("History-Info: {}\r\n", h[0].1));
        let r = received(&m, RedirectHeaders::HistoryInfo).unwrap();
        assert_eq!(r.user, "+49301111");
        assert_eq!(r.reason, RedirectReason::Busy);
        assert!(r.restricted);
    }

    #[test]
    fn several_diversions_count_and_the_newest_wins() {
        // RFC 5806 §4 example shape: two entries, the top one most recent.
        let m = invite(
            "Diversion: <sip:3333@gw>;reason=no-answer;counter=1,\r\n <tel:+4930111>;reason=unconditional;counter=2\r\n",
        );
        let r = received(&m, RedirectHeaders::Diversion).unwrap();
        assert_eq!(
            (r.user.as_str(), r.reason, r.count),
            ("3333", RedirectReason::NoReply, 3)
        );
    }

    #[test]
    fn history_info_from_a_proxy_chain() {
        // RFC 7044 style: the first entry is the original target, the second reached by
        // retargeting with cause 302 (unconditional), then a proxy hop without cause.
        let m = invite(
            "History-Info: <sip:alice@example.com>;index=1\r\n\
             History-Info: <sip:bob@example.com;cause=302>;index=1.1;mp=1,<sip:bob@192.0.2.7>;index=1.1.1;rc=1.1\r\n",
        );
        let r = received(&m, RedirectHeaders::HistoryInfo).unwrap();
        assert_eq!(
            (r.user.as_str(), r.reason),
            ("alice", RedirectReason::Unconditional)
        );
        // Without any cause there is no redirection.
        let m = invite("History-Info: <sip:alice@example.com>;index=1\r\n");
        assert_eq!(received(&m, RedirectHeaders::Both), None);
    }

    #[test]
    fn q952_reasons_round_trip() {
        for r in [
            RedirectReason::Unknown,
            RedirectReason::Busy,
            RedirectReason::NoReply,
            RedirectReason::Unconditional,
            RedirectReason::Deflection,
            RedirectReason::Unavailable,
        ] {
            assert_eq!(reason_of_q952(Some(q952_reason(r))), r);
            assert_eq!(reason_of_diversion(diversion_reason(r)), r);
            assert_eq!(reason_of_cause(history_cause(r)), r);
        }
    }
}
