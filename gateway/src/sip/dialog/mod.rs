//! SIP dialogs (RFC 3261 §12): the state two user agents share for the length of a call,
//! with reliable provisional responses (RFC 3262) and session timers (RFC 4028).
//!
//! A [`Dialog`] is pure data plus rules: it builds in-dialog requests (route set, remote
//! target, CSeq, tags), checks and absorbs in-dialog requests, and follows target refreshes.
//! Transactions carry the requests it builds; the call core owns the dialog.

mod session_timer;

pub use session_timer::{negotiate_uas, SessionTimer, TimerAction};

use bytes::Bytes;

use crate::sip::header::CSeq;
use crate::sip::transaction::split_list;
use crate::sip::{HeaderName, Method, RequestBuilder, SipMessage, Uri};

/// Identifies a dialog (§12): Call-ID and the two tags, seen from our side.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
}

/// Early (after a 1xx with a To tag) or confirmed (after a 2xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    Early,
    Confirmed,
    Terminated,
}

/// Why a message cannot create or continue a dialog.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DialogError {
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("the response has no To tag, so it creates no dialog")]
    NoRemoteTag,
    /// §12.2.2: a CSeq lower than the last one seen: answer 500.
    #[error("CSeq {got} is lower than {last}")]
    CSeqOutOfOrder { got: u32, last: u32 },
    #[error("the message belongs to another dialog")]
    WrongDialog,
}

/// One dialog.
#[derive(Debug, Clone)]
pub struct Dialog {
    id: DialogId,
    state: DialogState,
    local_seq: u32,
    remote_seq: Option<u32>,
    /// Our From/To field value, with our tag.
    local: String,
    /// The peer's From/To field value, with its tag.
    remote: String,
    /// Where in-dialog requests go (the peer's Contact URI).
    remote_target: String,
    /// Route set, in the order our requests carry it.
    route_set: Vec<String>,
    /// Our Contact URI.
    local_contact: String,
    secure: bool,
    /// RFC 3262: the last RSeq we sent (UAS) or accepted (UAC).
    rseq_local: u32,
    rseq_remote: Option<u32>,
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

fn contact_uri(msg: &SipMessage) -> Option<String> {
    match msg.contact().ok()? {
        crate::sip::header::ContactValue::Addresses(a) => a.first().map(|c| c.uri.to_string()),
        crate::sip::header::ContactValue::Star => None,
    }
}

fn record_route(msg: &SipMessage) -> Vec<String> {
    msg.header_fields(&HeaderName::RecordRoute)
        .flat_map(|h| split_list(h.value).into_iter().map(text))
        .collect()
}

impl Dialog {
    /// The UAC side: our INVITE and a 1xx (with To tag) or 2xx to it (§12.1.2).
    pub fn uac(invite: &SipMessage, response: &SipMessage) -> Result<Dialog, DialogError> {
        let to = response.to().map_err(|_| DialogError::Malformed("To"))?;
        let remote_tag = to.tag().ok_or(DialogError::NoRemoteTag)?.to_string();
        let from = invite.from().map_err(|_| DialogError::Malformed("From"))?;
        let local_tag = from
            .tag()
            .ok_or(DialogError::Malformed("From tag"))?
            .to_string();
        let call_id = invite
            .call_id()
            .map_err(|_| DialogError::Malformed("Call-ID"))?
            .0
            .to_string();
        let cseq = invite
            .cseq()
            .map_err(|_| DialogError::Malformed("CSeq"))?
            .seq;
        let status = response.status().map(|s| s.code()).unwrap_or(0);
        let mut route_set = record_route(response);
        route_set.reverse();
        let request_uri = invite.request_uri_str().unwrap_or_default().to_string();
        Ok(Dialog {
            id: DialogId {
                call_id,
                local_tag,
                remote_tag,
            },
            state: if (200..300).contains(&status) {
                DialogState::Confirmed
            } else {
                DialogState::Early
            },
            local_seq: cseq,
            remote_seq: None,
            local: text(invite.header_value(&HeaderName::From).unwrap_or_default()),
            remote: text(response.header_value(&HeaderName::To).unwrap_or_default()),
            remote_target: contact_uri(response).unwrap_or(request_uri.clone()),
            route_set,
            local_contact: contact_uri(invite).unwrap_or_default(),
            secure: request_uri.starts_with("sips:"),
            rseq_local: 0,
            rseq_remote: None,
        })
    }

    /// The UAS side: an INVITE we answer with a To tag of ours (§12.1.1). The dialog is
    /// early until [`Dialog::confirm`] (when we send the 2xx).
    pub fn uas(
        invite: &SipMessage,
        local_tag: &str,
        local_contact: &str,
    ) -> Result<Dialog, DialogError> {
        let from = invite.from().map_err(|_| DialogError::Malformed("From"))?;
        let remote_tag = from.tag().unwrap_or_default().to_string();
        let call_id = invite
            .call_id()
            .map_err(|_| DialogError::Malformed("Call-ID"))?
            .0
            .to_string();
        let cseq = invite
            .cseq()
            .map_err(|_| DialogError::Malformed("CSeq"))?
            .seq;
        let request_uri = invite.request_uri_str().unwrap_or_default();
        let mut local = text(invite.header_value(&HeaderName::To).unwrap_or_default());
        let has_tag = invite.to_tag().is_some();
        if !has_tag {
            local.push_str(";tag=");
            local.push_str(local_tag);
        }
        Ok(Dialog {
            id: DialogId {
                call_id,
                local_tag: local_tag.to_string(),
                remote_tag,
            },
            state: DialogState::Early,
            // §12.1.1: our CSeq space starts empty; pick a fresh start for our requests.
            local_seq: 0,
            remote_seq: Some(cseq),
            local,
            remote: text(invite.header_value(&HeaderName::From).unwrap_or_default()),
            remote_target: contact_uri(invite).ok_or(DialogError::Malformed("Contact"))?,
            route_set: record_route(invite),
            local_contact: local_contact.to_string(),
            secure: request_uri.starts_with("sips:"),
            rseq_local: 0,
            rseq_remote: None,
        })
    }

    pub fn id(&self) -> &DialogId {
        &self.id
    }

    pub fn state(&self) -> DialogState {
        self.state
    }

    /// The peer's From (UAS) or To (UAC) field value, with its tag (§12.1.1, §12.1.2).
    pub fn remote(&self) -> &str {
        &self.remote
    }

    pub fn remote_target(&self) -> &str {
        &self.remote_target
    }

    pub fn route_set(&self) -> &[String] {
        &self.route_set
    }

    /// Whether the dialog was created over `sips:` (§12.1.1): its requests must stay on TLS.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    pub fn local_seq(&self) -> u32 {
        self.local_seq
    }

    /// Our side sent or received the 2xx.
    pub fn confirm(&mut self) {
        if self.state == DialogState::Early {
            self.state = DialogState::Confirmed;
        }
    }

    /// BYE sent or received, or the INVITE failed.
    pub fn terminate(&mut self) {
        self.state = DialogState::Terminated;
    }

    /// The UAC got the 2xx that confirms an early dialog: the route set and remote target
    /// are taken again from it (§12.1.2, §13.2.2.4).
    pub fn confirm_with(&mut self, response: &SipMessage) {
        let mut rr = record_route(response);
        rr.reverse();
        if !rr.is_empty() || self.state == DialogState::Early {
            self.route_set = rr;
        }
        if let Some(c) = contact_uri(response) {
            self.remote_target = c;
        }
        self.remote = text(response.header_value(&HeaderName::To).unwrap_or_default());
        self.confirm();
    }

    /// Whether `msg` (request or response) belongs to this dialog.
    pub fn matches(&self, msg: &SipMessage) -> bool {
        let Ok(call_id) = msg.call_id() else {
            return false;
        };
        if call_id.0 != self.id.call_id {
            return false;
        }
        let (Ok(from), Ok(to)) = (msg.from(), msg.to()) else {
            return false;
        };
        let (ours, theirs) = if msg.is_request() {
            (to.tag(), from.tag())
        } else {
            (from.tag(), to.tag())
        };
        ours == Some(self.id.local_tag.as_str()) && theirs.unwrap_or_default() == self.id.remote_tag
    }

    /// An in-dialog request arrived (§12.2.2): checks its CSeq, follows a target refresh
    /// (re-INVITE, UPDATE: §12.2.2 last paragraph; RFC 3311 §5.2).
    pub fn handle_request(&mut self, request: &SipMessage) -> Result<(), DialogError> {
        if !self.matches(request) {
            return Err(DialogError::WrongDialog);
        }
        let cseq = request.cseq().map_err(|_| DialogError::Malformed("CSeq"))?;
        self.absorb(request, &cseq)
    }

    /// [`Dialog::handle_request`] for a request whose Call-ID and To tag the caller has
    /// already matched to this dialog (its table of dialogs), with the From tag and CSeq it
    /// has already decoded: only the peer's tag is compared here.
    pub fn handle_matched_request(
        &mut self,
        request: &SipMessage,
        remote_tag: Option<&str>,
        cseq: &CSeq<'_>,
    ) -> Result<(), DialogError> {
        if remote_tag.unwrap_or_default() != self.id.remote_tag {
            return Err(DialogError::WrongDialog);
        }
        self.absorb(request, cseq)
    }

    /// §12.2.2 for a request of this dialog: CSeq order, target refresh, BYE.
    fn absorb(&mut self, request: &SipMessage, cseq: &CSeq<'_>) -> Result<(), DialogError> {
        // ACK and CANCEL carry the INVITE's number: they neither advance nor break order.
        if !matches!(cseq.method, Method::Ack | Method::Cancel) {
            if let Some(last) = self.remote_seq {
                if cseq.seq < last || (cseq.seq == last && cseq.method != Method::Invite) {
                    return Err(DialogError::CSeqOutOfOrder {
                        got: cseq.seq,
                        last,
                    });
                }
            }
            self.remote_seq = Some(cseq.seq);
        }
        if matches!(cseq.method, Method::Invite | Method::Update) {
            if let Some(c) = contact_uri(request) {
                self.remote_target = c;
            }
        }
        if cseq.method == Method::Bye {
            self.state = DialogState::Terminated;
        }
        Ok(())
    }

    /// A 2xx to our re-INVITE or UPDATE refreshes the target (§12.2.1.2).
    pub fn handle_refresh_response(&mut self, response: &SipMessage) {
        if let Some(c) = contact_uri(response) {
            self.remote_target = c;
        }
    }

    /// Start an in-dialog request (§12.2.1.1). `via` is the top Via value the transport
    /// gives it (with a fresh branch). The CSeq advances, except for ACK and CANCEL, which
    /// use `cseq_of_invite`.
    pub fn request(
        &mut self,
        method: Method<'_>,
        via: &str,
        cseq_of_invite: Option<u32>,
    ) -> RequestBuilder {
        let seq = match method {
            Method::Ack | Method::Cancel => cseq_of_invite.unwrap_or(self.local_seq),
            _ => {
                self.local_seq += 1;
                self.local_seq
            }
        };
        // Loose routing (lr) keeps the remote target as Request-URI; a strict router first
        // in the route set gets the Request-URI and the target goes last (§12.2.1.1).
        let first_is_strict = self.route_set.first().is_some_and(|r| !is_loose(r));
        let (ruri, routes): (String, Vec<String>) = if first_is_strict {
            let mut rest: Vec<String> = self.route_set[1..].to_vec();
            rest.push(format!("<{}>", self.remote_target));
            (uri_of(&self.route_set[0]), rest)
        } else {
            (self.remote_target.clone(), self.route_set.clone())
        };
        let mut b = RequestBuilder::new(method, &ruri)
            .header("Via", via)
            .header("Max-Forwards", "70");
        for r in &routes {
            b.push_header("Route", r);
        }
        b.push_header("From", &self.local);
        b.push_header("To", &self.remote);
        b.push_header("Call-ID", &self.id.call_id);
        b.push_header("CSeq", format!("{seq} {}", method.as_str()));
        if matches!(
            method,
            Method::Invite | Method::Update | Method::Subscribe | Method::Refer | Method::Notify
        ) && !self.local_contact.is_empty()
        {
            b.push_header("Contact", format!("<{}>", self.local_contact));
        }
        b
    }

    /// The ACK for a 2xx to our INVITE with CSeq `invite_cseq` (§13.2.2.4): a request of
    /// its own, with a new branch, through the route set.
    pub fn ack(&mut self, via: &str, invite_cseq: u32) -> Bytes {
        self.request(Method::Ack, via, Some(invite_cseq)).build()
    }

    /// RFC 3262 §3 (UAS): the RSeq for the next reliable provisional response; the first
    /// is random in 1..2**31 as the RFC asks, from the caller's `seed`.
    pub fn next_rseq(&mut self, seed: u32) -> u32 {
        self.rseq_local = if self.rseq_local == 0 {
            (seed % 0x7fff_ffff).max(1)
        } else {
            self.rseq_local + 1
        };
        self.rseq_local
    }

    /// RFC 3262 §4 (UAC): a reliable provisional response with `rseq` arrived. Returns
    /// whether it is new (so it must be PRACKed and passed up) — retransmissions and
    /// out-of-order ones are not.
    pub fn accept_rseq(&mut self, rseq: u32) -> bool {
        match self.rseq_remote {
            Some(last) if rseq != last.wrapping_add(1) => false,
            _ => {
                self.rseq_remote = Some(rseq);
                true
            }
        }
    }
}

/// Whether a Route/Record-Route entry is a loose router (`;lr` in its URI, §19.1.1).
fn is_loose(entry: &str) -> bool {
    let uri = uri_of(entry);
    match Uri::parse(&uri) {
        Ok(Uri::Sip(u)) => u.is_loose_route(),
        _ => true,
    }
}

/// The URI inside `<...>` of a name-addr, or the whole entry.
fn uri_of(entry: &str) -> String {
    match (entry.find('<'), entry.rfind('>')) {
        (Some(a), Some(b)) if a < b => entry[a + 1..b].to_string(),
        _ => entry.to_string(),
    }
}

#[cfg(test)]
mod tests;
