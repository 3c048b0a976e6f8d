//! One call as the endpoint tracks it.

use super::TxRef;
use crate::sip::dialog::Dialog;
use crate::sip::transaction::{ServerKey, Uas2xxRetransmitter};
use crate::sip::transport::Target;
use crate::sip::SipMessage;

/// Identifies a call to the call layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallHandle(pub(super) u64);

impl CallHandle {
    /// A number for logs and CDRs.
    pub fn id(self) -> u64 {
        self.0
    }
}

/// Whether we sent the INVITE (UAC) or received it (UAS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallRole {
    Uac,
    Uas,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CallState {
    /// UAC: INVITE sent, no final response yet.
    Calling,
    /// UAS: INVITE received, not answered yet.
    Ringing,
    /// UAS: 2xx sent, waiting for the ACK.
    Answered,
    /// Both: the dialog is up.
    Confirmed,
    /// BYE or CANCEL sent, waiting for its answer.
    Ending,
    /// Over (final error sent, BYE or CANCEL received).
    Ended,
}

/// A call to place.
#[derive(Debug, Clone)]
pub struct OutgoingCall {
    pub request_uri: String,
    /// From, without tag (`"Alice" <sip:alice@example.net>`).
    pub from: String,
    /// To (`<sip:0301234@pbx.example.net>`).
    pub to: String,
    /// Where the INVITE goes.
    pub target: Target,
    pub sdp: Option<bytes::Bytes>,
    /// More header fields (P-Asserted-Identity, Privacy, Diversion...).
    pub headers: Vec<(String, String)>,
}

pub(super) struct Call {
    pub role: CallRole,
    pub state: CallState,
    pub invite: SipMessage,
    pub local_tag: String,
    pub dialog: Option<Dialog>,
    /// Where the peer is (its INVITE's source, or where we sent ours).
    pub target: Target,
    pub invite_key: Option<TxRef>,
    /// A 2xx (or reliable 18x) we retransmit until ACK (or PRACK).
    pub retransmit: Option<Uas2xxRetransmitter>,
    /// UAC: hang up asked before any provisional (§9.1: CANCEL waits for one).
    pub pending_cancel: bool,
    /// UAC: the `Reason` header value our CANCEL carries (RFC 3326 §2: the cause of a
    /// call given up by the other side of a gateway).
    pub cancel_reason: Option<String>,
    pub provisional_seen: bool,
    /// UAS: a re-INVITE being answered.
    pub reinvite: Option<ServerKey>,
    /// UAS: the caller supports or requires 100rel.
    pub peer_100rel: bool,
    /// UAS: RSeq of the reliable provisional awaiting PRACK.
    pub prack_pending: Option<u32>,
    /// UAC: what was asked, to send the INVITE again with credentials (§22.2).
    pub out: Option<OutgoingCall>,
    /// UAC: challenges answered (one retry per call).
    pub auth_tries: u8,
    /// RFC 4028 session timer, once negotiated.
    pub session: Option<super::session::SessionState>,
    /// UAC: the last ACK sent for a 2xx, sent again unchanged for each retransmission of
    /// that 2xx.
    pub last_ack: Option<SentAck>,
}

/// An ACK for a 2xx (RFC 3261 §13.2.2.4): a transaction of its own that the UAC core, not a
/// transaction, answers each retransmitted 2xx with. Sending the same octets again (not a
/// new ACK with a new branch) lets the UAS, and anything in between, see a retransmission.
pub(super) struct SentAck {
    /// CSeq number of the INVITE (or re-INVITE) acknowledged.
    pub cseq: u32,
    /// The dialog the 2xx confirmed (a 2xx from another fork gets an ACK of its own).
    pub dialog: crate::sip::dialog::DialogId,
    pub target: crate::sip::transport::Target,
    pub bytes: bytes::Bytes,
}
