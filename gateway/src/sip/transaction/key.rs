//! Matching messages to transactions (RFC 3261 §17.1.3 and §17.2.3).

use std::sync::Arc;

use crate::sip::header::Via;
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
        let method = match cseq.method {
            Method::Ack => method_key(Method::Invite),
            m => method_key(m),
        };
        if via.has_rfc3261_branch() {
            let branch = Arc::from(via.branch().ok_or(KeyError::NoBranch)?);
            use std::fmt::Write as _;
            let mut sent_by = String::with_capacity(32);
            let _ = write!(sent_by, "{}", via.host);
            if let Some(p) = via.port {
                let _ = write!(sent_by, ":{p}");
            }
            sent_by.make_ascii_lowercase();
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
