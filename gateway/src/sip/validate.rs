//! What a UAS checks before it processes a request (RFC 3261 §8.1.1, §8.2.1 - §8.2.3),
//! and the answer when a check fails.

use crate::sip::error::{ParseError, ParseErrorKind};
use crate::sip::header::{self, Accept, ProxyRequire, Require};
use crate::sip::message::{HeaderName, SipMessage};
use crate::sip::method::Method;
use crate::sip::status::StatusCode;

/// Check a parsed message the way RFC 3261 wants before anyone acts on it: the mandatory
/// headers (Via, From, To, Call-ID, CSeq; Max-Forwards is tolerated absent for RFC 2543
/// peers, RFC 4475 §3.4.1) each present once and well-formed, the CSeq method equal to the
/// request method (§8.1.1.5, RFC 4475 §3.1.2.16), and every other header this stack
/// understands well-formed when present.
pub fn validate(msg: &SipMessage) -> Result<(), ParseError> {
    validate_parts(msg).map(|_| ())
}

/// The headers every request is matched by, decoded once by the checks (RFC 3261 §8.1.1,
/// §17.2.3, §12.2.2) and handed on, so that the UAS does not decode them again.
#[derive(Debug, Clone)]
pub struct Common<'m> {
    /// The topmost Via (transaction key, response target).
    pub top_via: header::Via<'m>,
    /// The tag of To, if any (in-dialog or not, §12.2.2).
    pub to_tag: Option<&'m str>,
    /// The tag of From (the peer's, for a request).
    pub from_tag: Option<&'m str>,
    pub call_id: &'m str,
    pub cseq: header::CSeq<'m>,
}

/// [`validate`], returning the [`Common`] headers it decoded.
pub fn validate_parts(msg: &SipMessage) -> Result<Common<'_>, ParseError> {
    let top_via = msg
        .via()?
        .into_iter()
        .next()
        .ok_or_else(|| missing(msg, HeaderName::Via))?;
    let from_tag = msg.from()?.tag();
    let to_tag = msg.to()?.tag();
    let call_id = msg.call_id()?.0;
    let cseq = msg.cseq()?;
    if let Some(method) = msg.method() {
        if cseq.method != method {
            return Err(with_dir(
                msg,
                ParseError::new(ParseErrorKind::CSeqMethodMismatch, 0),
            ));
        }
    }
    msg.max_forwards()?;
    msg.contact()?;
    msg.content_type()?;
    msg.get::<header::Expires>()?;
    msg.get::<header::Date>()?;
    msg.get::<header::MinSe>()?;
    msg.get::<header::SessionExpires>()?;
    msg.get::<header::RSeq>()?;
    msg.get::<header::RAck>()?;
    msg.get::<header::RetryAfter>()?;
    msg.get::<header::Event>()?;
    msg.get::<header::SubscriptionState>()?;
    msg.get::<header::Privacy>()?;
    msg.get_all::<header::Route>()?;
    msg.get_all::<header::RecordRoute>()?;
    msg.get_all::<Require>()?;
    msg.get_all::<ProxyRequire>()?;
    msg.get_all::<header::Supported>()?;
    msg.get_all::<Accept>()?;
    msg.get_all::<header::PAssertedIdentity>()?;
    Ok(Common {
        top_via,
        to_tag,
        from_tag,
        call_id,
        cseq,
    })
}

fn missing(msg: &SipMessage, name: HeaderName) -> ParseError {
    with_dir(msg, ParseError::new(ParseErrorKind::Missing(name), 0))
}

fn with_dir(msg: &SipMessage, mut e: ParseError) -> ParseError {
    e.in_response = msg.is_response();
    e
}

/// What this UAS serves.
#[derive(Debug, Clone)]
pub struct UasPolicy<'p> {
    /// URI schemes accepted in the Request-URI (§8.2.2.1).
    pub schemes: &'p [&'p str],
    /// Option tags understood (§8.2.2.3).
    pub extensions: &'p [&'p str],
    /// Body types understood, as (type, subtype) (§8.2.3).
    pub content_types: &'p [(&'p str, &'p str)],
}

impl Default for UasPolicy<'static> {
    fn default() -> Self {
        UasPolicy {
            schemes: &["sip", "sips", "tel"],
            extensions: &["100rel", "timer", "replaces", "norefersub"],
            // SDP for sessions; DTMF relay in INFO (digits in overlap sending, DTMF after);
            // the NOTIFYs of a REFER's subscription (RFC 3515 §2.4.5).
            content_types: &[
                ("application", "sdp"),
                ("application", "dtmf-relay"),
                ("message", "sipfrag"),
            ],
        }
    }
}

/// A request the UAS refuses, with what the response must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The status to answer with.
    pub status: StatusCode,
    /// For 420: the option tags to list in Unsupported (§8.2.2.3).
    pub unsupported: Vec<String>,
    /// For 415: the types to list in Accept (§8.2.3).
    pub accept: Vec<String>,
    /// For 400 and the like: the parse error behind it.
    pub error: Option<ParseError>,
}

impl Rejection {
    fn status(status: StatusCode) -> Rejection {
        Rejection {
            status,
            unsupported: Vec::new(),
            accept: Vec::new(),
            error: None,
        }
    }
}

/// The UAS checks of RFC 3261 §8.2 on a parsed request, in the RFC's order:
/// well-formedness (400), Request-URI scheme (416), Require (420, not for ACK/CANCEL),
/// Content-Type of the body (415), and for INVITE an Accept that rules out an SDP answer
/// (406, RFC 4475 §3.3.15). `Ok` means the request may be processed.
pub fn check_request(msg: &SipMessage, policy: &UasPolicy<'_>) -> Result<(), Rejection> {
    if msg.method().is_none() {
        return Ok(());
    }
    check_request_parts(msg, policy).map(|_| ())
}

/// [`check_request`] of a request, returning the [`Common`] headers the checks decoded.
/// A response is refused with 400 (only requests are checked here).
pub fn check_request_parts<'m>(
    msg: &'m SipMessage,
    policy: &UasPolicy<'_>,
) -> Result<Common<'m>, Rejection> {
    let Some(method) = msg.method() else {
        return Err(Rejection::status(StatusCode::BAD_REQUEST));
    };
    let common = match validate_parts(msg) {
        Ok(c) => c,
        Err(e) => {
            let mut r = Rejection::status(e.response_status().unwrap_or(StatusCode::BAD_REQUEST));
            r.error = Some(e);
            return Err(r);
        }
    };
    // §8.2.2.1. The Request-URI was parsed with the start line, so its scheme is what
    // precedes the first colon (as `Uri::parse` splits it); no second parse is needed.
    let scheme_ok = match msg.request_uri_str().and_then(|u| u.split_once(':')) {
        Some((scheme, _)) => policy
            .schemes
            .iter()
            .any(|s| s.eq_ignore_ascii_case(scheme)),
        None => false,
    };
    if !scheme_ok {
        let mut r = Rejection::status(StatusCode::UNSUPPORTED_URI_SCHEME);
        r.error = Some(ParseError::new(ParseErrorKind::UnsupportedScheme, 0));
        return Err(r);
    }
    // §8.2.2.3
    if !matches!(method, Method::Ack | Method::Cancel) {
        let required: Vec<Require<'_>> = msg.get_all().unwrap_or_default();
        let unsupported: Vec<String> = required
            .iter()
            .filter(|t| {
                !policy
                    .extensions
                    .iter()
                    .any(|e| e.eq_ignore_ascii_case(t.0))
            })
            .map(|t| t.0.to_string())
            .collect();
        if !unsupported.is_empty() {
            let mut r = Rejection::status(StatusCode::BAD_EXTENSION);
            r.unsupported = unsupported;
            return Err(r);
        }
    }
    // §8.2.3
    if !msg.body().is_empty() {
        let ok = match msg.content_type() {
            Ok(Some(ct)) => policy.content_types.iter().any(|(t, s)| ct.is(t, s)),
            _ => false,
        };
        if !ok {
            let mut r = Rejection::status(StatusCode::UNSUPPORTED_MEDIA_TYPE);
            r.accept = policy
                .content_types
                .iter()
                .map(|(t, s)| format!("{t}/{s}"))
                .collect();
            return Err(r);
        }
    }
    // An INVITE's answer goes in an SDP body; an Accept excluding every type we can send
    // makes that impossible (RFC 3261 §21.4.7, RFC 4475 §3.3.15).
    if method == Method::Invite {
        let accept: Vec<Accept<'_>> = msg.get_all().unwrap_or_default();
        let has_accept = msg.header_fields(&HeaderName::Accept).next().is_some();
        if has_accept
            && !accept
                .iter()
                .any(|a| policy.content_types.iter().any(|(t, s)| a.0.covers(t, s)))
        {
            let mut r = Rejection::status(StatusCode::NOT_ACCEPTABLE);
            r.accept = policy
                .content_types
                .iter()
                .map(|(t, s)| format!("{t}/{s}"))
                .collect();
            return Err(r);
        }
    }
    Ok(common)
}
