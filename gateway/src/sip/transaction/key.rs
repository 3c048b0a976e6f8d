//! Matching messages to transactions (RFC 3261 §17.1.3 and §17.2.3).

use std::sync::Arc;

use crate::sip::header::{CSeq, Via};
use crate::sip::uri::Host;
use crate::sip::{Method, ParseError, SipMessage};

/// Why a message has no transaction key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no usable Via/CSeq: {0}")]
    Parse(#[from] ParseError),
    #[error("the top Via has no branch")]
    NoBranch,
}

/// The method part of a key: ACK and CANCEL are folded as §17.2.3 says by the caller.
/// Keys are cloned into timer and owner tables, so their parts are shared, not copied;
/// the methods of a call are shared by every key (no allocation per message).
fn method_key(m: Method<'_>) -> Arc<str> {
    use std::sync::LazyLock;
    static INVITE: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("INVITE"));
    static ACK: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("ACK"));
    static BYE: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("BYE"));
    static CANCEL: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("CANCEL"));
    static PRACK: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("PRACK"));
    static OPTIONS: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("OPTIONS"));
    match m {
        Method::Invite => INVITE.clone(),
        Method::Ack => ACK.clone(),
        Method::Bye => BYE.clone(),
        Method::Cancel => CANCEL.clone(),
        Method::Prack => PRACK.clone(),
        Method::Options => OPTIONS.clone(),
        other => Arc::from(other.as_str()),
    }
}

/// The sent-by of a Via as key text: host (lower case) and port, as `Display` of the host
/// writes them, without the formatting machinery for the common IPv4 case.
fn sent_by_text(via: &Via<'_>) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(32);
    match via.host {
        Host::Ipv4(a) => {
            for (i, o) in a.octets().iter().enumerate() {
                if i > 0 {
                    s.push('.');
                }
                push_decimal(&mut s, u32::from(*o));
            }
        }
        Host::Domain(d) => {
            s.push_str(d);
            s.make_ascii_lowercase();
        }
        Host::Ipv6(_) => {
            let _ = write!(s, "{}", via.host);
            s.make_ascii_lowercase();
        }
    }
    if let Some(p) = via.port {
        s.push(':');
        push_decimal(&mut s, u32::from(p));
    }
    s
}

fn push_decimal(s: &mut String, n: u32) {
    if n >= 10 {
        push_decimal(s, n / 10);
    }
    s.push(char::from(b'0' + (n % 10) as u8));
}

/// A client transaction's key: the branch we put in the top Via and the CSeq method
/// (§17.1.3: a CANCEL shares the INVITE's branch, so the method tells them apart).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey {
    pub branch: Arc<str>,
    pub method: Arc<str>,
}

impl ClientKey {
    /// The key of a request we send or of a response we receive.
    pub fn of(msg: &SipMessage) -> Result<ClientKey, KeyError> {
        let via = msg.top_via()?;
        let branch = Arc::from(via.branch().ok_or(KeyError::NoBranch)?);
        let cseq = msg.cseq()?;
        Ok(ClientKey {
            branch,
            method: method_key(cseq.method),
        })
    }
}

/// A server transaction's key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServerKey {
    /// RFC 3261 branch (`z9hG4bK…`): branch + sent-by + method, ACK counted as INVITE
    /// (§17.2.3).
    Rfc3261 {
        branch: Arc<str>,
        sent_by: Arc<str>,
        method: Arc<str>,
    },
    /// RFC 2543 peers (no magic cookie): Request-URI, From tag, Call-ID, CSeq number, top
    /// Via and method, with ACK counted as INVITE (§17.2.3, last paragraphs).
    Rfc2543 {
        request_uri: Arc<str>,
        from_tag: Arc<str>,
        call_id: Arc<str>,
        cseq: u32,
        via: Arc<str>,
        method: Arc<str>,
    },
}

impl ServerKey {
    /// The key of a request received. `as_invite` folds ACK into INVITE so that an ACK for
    /// a non-2xx response finds its INVITE transaction; CANCEL keeps its own method (it is
    /// its own transaction; the TU finds the INVITE with [`ServerKey::with_method`]).
    pub fn of(msg: &SipMessage) -> Result<ServerKey, KeyError> {
        let via = msg.top_via()?;
        ServerKey::of_with_via(msg, &via)
    }

    /// [`ServerKey::of`] with the request's top Via already decoded by the caller (which
    /// needs it for the response target as well), so that it is decoded once.
    pub fn of_with_via(msg: &SipMessage, via: &Via<'_>) -> Result<ServerKey, KeyError> {
        let cseq = msg.cseq()?;
        ServerKey::of_parts(msg, via, &cseq)
    }

    /// [`ServerKey::of`] with the request's top Via and CSeq already decoded by the caller.
    pub fn of_parts(
        msg: &SipMessage,
        via: &Via<'_>,
        cseq: &CSeq<'_>,
    ) -> Result<ServerKey, KeyError> {
        let method = match cseq.method {
            Method::Ack => method_key(Method::Invite),
            m => method_key(m),
        };
        if via.has_rfc3261_branch() {
            let branch = Arc::from(via.branch().ok_or(KeyError::NoBranch)?);
            let sent_by = sent_by_text(via);
            return Ok(ServerKey::Rfc3261 {
                branch,
                sent_by: Arc::from(sent_by),
                method,
            });
        }
        let from = msg.from()?;
        Ok(ServerKey::Rfc2543 {
            request_uri: Arc::from(msg.request_uri_str().unwrap_or_default()),
            from_tag: Arc::from(from.tag().unwrap_or_default()),
            call_id: Arc::from(msg.call_id()?.0),
            cseq: cseq.seq,
            via: Arc::from(format!("{}:{:?}", via.host, via.port)),
            method,
        })
    }

    /// The same key for another method: a CANCEL's key turned into the key of the INVITE it
    /// cancels (§9.2).
    pub fn with_method(&self, m: &str) -> ServerKey {
        let mut k = self.clone();
        match &mut k {
            ServerKey::Rfc3261 { method, .. } | ServerKey::Rfc2543 { method, .. } => {
                *method = Arc::from(m)
            }
        }
        k
    }
}
