//! The neutral call model (DESIGN.md): what every leg translates its protocol to and from.
//!
//! A SIP leg turns INVITE into [`Message::Setup`], 180 into [`Message::Alerting`] and so on;
//! an ISDN leg turns SETUP, ALERTING, … into the same messages. The core only ever sees these.

use std::fmt;
use std::net::SocketAddr;

use dahdi_driver::ChannelId;

use crate::media::Law;

use crate::config::{NumberingPlan, TypeOfNumber};

/// One call through the gateway: two legs (more, briefly, while failing over).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call-{}", self.0)
    }
}

/// One leg of a call: the part that speaks one protocol on one trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegId(pub u64);

impl fmt::Display for LegId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "leg-{}", self.0)
    }
}

/// A party number in neutral form: digits without prefixes, and what kind of number they
/// are (Q.931 §4.5.8 type of number; SIP `+` is international).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number {
    pub digits: String,
    pub ton: TypeOfNumber,
    /// The numbering plan, where it is not the one that goes with the type of number
    /// (Q.931 §4.5.8: E.164 unless the type is unknown): a trunk's `called_npi` /
    /// `calling_npi`, or the plan an ISDN number arrived with.
    pub plan: Option<NumberingPlan>,
    /// Presentation restricted (Q.931 §4.5.10 octet 3a; SIP `Privacy: id`, RFC 3325).
    pub restricted: bool,
    /// The party's name: the display-name of SIP From / P-Asserted-Identity (RFC 3261
    /// §20.20, RFC 3325 §9.1) ↔ the ISDN Display element (Q.931 §4.5.16). Presentation
    /// restricted withholds it with the number.
    pub name: Option<String>,
}

impl Number {
    /// A number of unknown type, presentation allowed.
    pub fn unknown(digits: &str) -> Number {
        Number {
            digits: digits.to_string(),
            ton: TypeOfNumber::Unknown,
            plan: None,
            restricted: false,
            name: None,
        }
    }
}

/// Information transfer capability of the call (Q.931 §4.5.5 octet 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Bearer {
    #[default]
    Speech,
    Audio3k1,
    /// 64 kbit/s unrestricted digital: data, no echo canceller, no transcoding.
    Unrestricted,
}

/// Where and how a leg's media flows: the RTP peer for an IP leg, the B-channel for a TDM
/// leg; the bridge joins the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Rtp {
        remote: SocketAddr,
        law: Law,
        /// RFC 4733 telephone-event payload type, if negotiated.
        telephone_event: Option<u8>,
    },
    Channel(ChannelId),
}

/// Why a call was redirected: the reasons Q.952 §4 (ISDN redirecting number, octet 3b),
/// RFC 5806 §4 (Diversion `reason`) and RFC 4458 §3.5 (History-Info `cause`) share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RedirectReason {
    #[default]
    Unknown,
    /// Call forwarding busy.
    Busy,
    /// Call forwarding no reply.
    NoReply,
    /// Call forwarding unconditional.
    Unconditional,
    /// Call deflection (during alerting or immediate).
    Deflection,
    /// The called party is out of order / not reachable.
    Unavailable,
}

/// A redirected call: who redirected it (the last diverting party) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirection {
    /// The redirecting number (its `restricted` flag: presentation restricted).
    pub from: Number,
    pub reason: RedirectReason,
    /// How many times the call was redirected so far (RFC 5806 `counter`; ISDN carries no
    /// count, so 1 from there).
    pub count: u8,
}

/// A new call, as a leg received it or as the core asks a leg to place it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    pub called: Number,
    pub calling: Option<Number>,
    pub bearer: Bearer,
    /// The media offer of the originating side.
    pub media: Option<Media>,
    /// The called number is complete (Q.931 Sending complete; always for SIP).
    pub complete: bool,
    /// The call was redirected (ISDN Redirecting number ↔ SIP Diversion / History-Info).
    pub redirecting: Option<Redirection>,
}

/// Why a leg ends: a Q.850 cause, a SIP status, or both (RFC 3326 Reason header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// An ISDN/H.323 clearing cause (Q.850).
    Q850(u8),
    /// A SIP final response (or a BYE/CANCEL, status 0) with the cause of its
    /// `Reason: Q.850;cause=N` header, if any.
    Sip { status: u16, q850: Option<u8> },
}

/// A clearing delivered to a leg: both forms, already mapped by the core's [`CauseMap`]
/// (RFC 3398) so each leg uses the one its protocol speaks.
///
/// [`CauseMap`]: crate::interwork::cause::CauseMap
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clearing {
    /// Q.850 cause for DISCONNECT/RELEASE and for the SIP Reason header.
    pub cause: u8,
    /// SIP status for a final response before answer.
    pub status: u16,
}

/// The neutral events, both directions (leg → core and core → leg).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Setup ↔ INVITE.
    Setup(Setup),
    /// Call Proceeding ↔ 100 Trying.
    Proceeding,
    /// Alerting ↔ 180 Ringing (183 with early media when `inband`).
    Alerting { inband: bool },
    /// Progress ↔ 183 Session Progress.
    Progress { inband: bool, media: Option<Media> },
    /// Connect ↔ 200 OK.
    Connect { media: Option<Media> },
    /// Release/Disconnect ↔ BYE, CANCEL, or a final error response.
    Release(Reason),
    /// More called digits (overlap receiving, Q.931 §5.2.4) before routing, DTMF after;
    /// `complete`: Sending complete arrived or the digit timer (T302) expired.
    Digits { digits: String, complete: bool },
    /// Other in-call information (SIP INFO body, Q.931 display), passed along as text.
    Info(String),
    /// The party behind this leg put the call on hold (SIP re-INVITE/UPDATE with
    /// `a=sendonly`/`a=inactive`/`c=0.0.0.0`, RFC 3264 §8.4 ↔ Q.931 NOTIFY "remote hold",
    /// §4.5.22).
    Hold,
    /// The party behind this leg took the call off hold (sendrecv again ↔ NOTIFY "remote
    /// retrieval").
    Resume,
    /// Who answered (connected line: Q.951 §3 Connected number ↔ P-Asserted-Identity of
    /// the 200 OK, RFC 3325); sent just before [`Message::Connect`].
    ConnectedLine(Number),
    /// The party behind this leg was transferred beyond it and is now connected to
    /// someone else (ETSI ECT `EctInform` from the switch, EN 300 369-1): that party's
    /// number. The other leg is told with [`Delivery::Transferred`].
    Transferred(Number),
    /// Where this leg's RTP peer receives, learnt after the Setup/Connect that would have
    /// carried it (H.245 OpenLogicalChannelAck of a call without fast start, H.323
    /// §8.1.7; a re-opened logical channel). Updates the call's bridge; not delivered to
    /// the other leg.
    Media(Media),
}

/// What the core hands a leg: like [`Message`], with releases already mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Proceeding,
    Alerting {
        inband: bool,
    },
    Progress {
        inband: bool,
        media: Option<Media>,
    },
    Connect {
        media: Option<Media>,
    },
    Release(Clearing),
    Digits(String),
    Info(String),
    /// More digits of the called number in overlap sending (Q.931 §5.1.3: INFORMATION),
    /// `complete`: Sending complete.
    Overlap {
        digits: String,
        complete: bool,
    },
    /// The other party put the call on hold / took it off hold ([`Message::Hold`]).
    Hold,
    Resume,
    /// The other party's connected line identity, before [`Delivery::Connect`].
    ConnectedLine(Number),
    /// After answer: this leg's party is now connected to another party, a transfer
    /// having replaced the one it talked to (connected line update: SIP UPDATE or
    /// re-INVITE with P-Asserted-Identity, RFC 3325 §9.1 / RFC 4916 §1; ISDN `EctInform`
    /// active with the redirection number, EN 300 369-1).
    Transferred(Number),
    /// How the transfer this leg asked for goes (RFC 3515 §2.4.4: the SIP leg sends it as
    /// a NOTIFY with a `message/sipfrag` body). After [`TransferStatus::Answered`] the
    /// core releases the leg; after [`TransferStatus::Failed`] the call stays as it was.
    TransferProgress(TransferStatus),
}

/// The progress of a transfer's new call, as reported to the party that asked for it
/// (RFC 3515 §2.4.5: the status line of the new call's responses, as `message/sipfrag`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferStatus {
    /// The target rings (180 Ringing / ALERTING).
    Ringing,
    /// Progress with early media (183 Session Progress / PROGRESS).
    Progress,
    /// The target answered (200 OK / CONNECT): the transfer is done.
    Answered,
    /// The new call failed with this clearing (the sipfrag carries its `status`); the
    /// original call goes on.
    Failed(Clearing),
}
