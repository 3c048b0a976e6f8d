//! H.225.0 call-signalling messages (H.225.0 §7.3/§7.4): a Q.931 message whose User-user
//! IE carries an aligned-PER `H323-UserInformation`.

use std::net::SocketAddrV4;

use h323_asn1::h225 as asn;
use h323_asn1::rasn;
use h323_asn1::rasn::types::OctetString;
use thiserror::Error;

use super::ids::{
    aliases_from_asn, aliases_to_asn, protocol_identifier, protocol_version, socket_addr,
    transport_address, Alias, BadAlias, Guid,
};
use super::release::ReleaseReason;
use q931::ie::{
    BearerCapability, CallState, CallStateValue, CalledPartyNumber, CallingPartyNumber, Cause,
    CauseValue, Display, InfoElement, Layer1Protocol, Location, NumberingPlan, ProgressDescription,
    ProgressIndicator, TypeOfNumber, UserUser, UuProtocol,
};
use q931::{CallRef, CallRefFlag, Dialect, Message, MessageType};

/// The H.225.0 version we announce in `protocolIdentifier` (the module we compile is v7).
pub const PROTOCOL_VERSION: u32 = 7;

/// Which `h323-message-body` alternative a message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyKind {
    Setup,
    CallProceeding,
    Connect,
    Alerting,
    Information,
    ReleaseComplete,
    Facility,
    Progress,
    Empty,
    Status,
    StatusInquiry,
    SetupAcknowledge,
    Notify,
    /// An alternative this crate's module version knows but does not name here.
    Other,
}

impl BodyKind {
    fn of(body: &asn::H323UUPDUH323MessageBody) -> Self {
        use asn::H323UUPDUH323MessageBody as B;
        match body {
            B::setup(_) => Self::Setup,
            B::callProceeding(_) => Self::CallProceeding,
            B::connect(_) => Self::Connect,
            B::alerting(_) => Self::Alerting,
            B::information(_) => Self::Information,
            B::releaseComplete(_) => Self::ReleaseComplete,
            B::facility(_) => Self::Facility,
            B::progress(_) => Self::Progress,
            B::empty(()) => Self::Empty,
            B::status(_) => Self::Status,
            B::statusInquiry(_) => Self::StatusInquiry,
            B::setupAcknowledge(_) => Self::SetupAcknowledge,
            B::notify(_) => Self::Notify,
            _ => Self::Other,
        }
    }

    /// The name tshark and the ASN.1 module use (`h225.h323_message_body`).
    pub fn asn1_name(self) -> &'static str {
        match self {
            Self::Setup => "setup",
            Self::CallProceeding => "callProceeding",
            Self::Connect => "connect",
            Self::Alerting => "alerting",
            Self::Information => "information",
            Self::ReleaseComplete => "releaseComplete",
            Self::Facility => "facility",
            Self::Progress => "progress",
            Self::Empty => "empty",
            Self::Status => "status",
            Self::StatusInquiry => "statusInquiry",
            Self::SetupAcknowledge => "setupAcknowledge",
            Self::Notify => "notify",
            Self::Other => "other",
        }
    }
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum CallSignalError {
    #[error("Q.931 framing: {0}")]
    Frame(#[from] q931::DecodeError),
    #[error("Q.931 encoding: {0}")]
    Encode(#[from] q931::EncodeError),
    #[error("octet 0: protocol discriminator {0:#04x}, H.225.0 uses 0x08 (Q.931)")]
    ProtocolDiscriminator(u8),
    #[error("octet 1: call reference length {0}, H.225.0 §7.2.2.2 uses 2")]
    CallReferenceLength(u8),
    #[error("no User-user IE: H.225.0 §7.3 requires one in every message")]
    MissingUserUser,
    #[error("User-user IE: {0}")]
    UserUserInvalid(q931::IeError),
    #[error("User-user protocol discriminator {0:#04x}, expected 0x05 (X.208/X.209)")]
    UserUserProtocol(u8),
    #[error("H323-UserInformation: {0}")]
    Per(String),
    #[error(transparent)]
    Alias(#[from] BadAlias),
}

/// The User-user payload of a received message.
#[derive(Debug, Clone, PartialEq)]
pub enum UserInfo {
    Decoded(Box<asn::H323UserInformation>),
    /// It uses a CHOICE alternative added by a later version of H.225.0 than ours
    /// (X.691 §23 extension): kept as received so it can be relayed, and reported.
    Unknown {
        raw: Vec<u8>,
        /// The PER decoder's account of where the unknown alternative sits.
        detail: String,
    },
}

/// One H.225.0 call-signalling message.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSignal {
    /// The Q.931 part (crate `q931`'s codec, [`Dialect::H225`]) without its User-user IE.
    pub frame: Message,
    pub user_info: UserInfo,
}

/// True when a rasn decode error is "CHOICE index not found" somewhere inside (the peer
/// used an extension alternative we do not know), as opposed to malformed bytes.
pub(crate) fn is_unknown_alternative(e: &rasn::error::DecodeError) -> bool {
    use rasn::error::DecodeErrorKind as K;
    let mut kind = &*e.kind;
    loop {
        match kind {
            K::ChoiceIndexNotFound { .. } => return true,
            K::FieldError { nested, .. } => kind = &*nested.kind,
            _ => return false,
        }
    }
}

impl CallSignal {
    pub fn decode(buf: &[u8]) -> Result<Self, CallSignalError> {
        let mut frame = Message::decode_with(buf, Dialect::H225)?;
        if frame.protocol_discriminator != q931::ProtocolDiscriminator::Q931 {
            return Err(CallSignalError::ProtocolDiscriminator(
                frame.protocol_discriminator.0,
            ));
        }
        // H.225.0 §7.2.2.2: the call reference value is always 2 octets.
        if frame.call_ref.length != 2 {
            return Err(CallSignalError::CallReferenceLength(frame.call_ref.length));
        }
        let pos = frame
            .ies
            .iter()
            .position(|ie| match ie {
                InfoElement::UserUser(_) => true,
                // The 2-octet length makes a malformed User-user IE run past the end.
                InfoElement::Invalid(r) => r.id == q931::ie::IeId::USER_USER.0,
                _ => false,
            })
            .ok_or(CallSignalError::MissingUserUser)?;
        let uu = match frame.ies.remove(pos) {
            InfoElement::UserUser(uu) => uu,
            InfoElement::Invalid(r) => return Err(CallSignalError::UserUserInvalid(r.error)),
            _ => return Err(CallSignalError::MissingUserUser),
        };
        if uu.protocol != UuProtocol::X208_X209 {
            return Err(CallSignalError::UserUserProtocol(uu.protocol.0));
        }
        let data = uu.data;
        // A Setup through the hand-written codec (same value as rasn's, see
        // `setup_per`), anything else through rasn.
        if let Some(uu) = super::setup_per::decode(&data) {
            return Ok(Self {
                frame,
                user_info: UserInfo::Decoded(Box::new(uu)),
            });
        }
        let user_info = match rasn::aper::decode::<asn::H323UserInformation>(&data) {
            Ok(uu) => UserInfo::Decoded(Box::new(uu)),
            Err(e) if is_unknown_alternative(&e) => {
                tracing::debug!(error = %e, "H.225.0 message with an unknown extension alternative");
                UserInfo::Unknown {
                    raw: data,
                    detail: e.to_string(),
                }
            }
            Err(e) => return Err(CallSignalError::Per(e.to_string())),
        };
        Ok(Self { frame, user_info })
    }

    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), CallSignalError> {
        // Q.931 §4.5.1 order: the User-user IE (0x7E) after the other codeset 0 elements
        // and before any shift. Usually it is simply the last element: append it after
        // the encoded frame (H.225.0 §7.2.2: 2-octet length), encoding the PER value in
        // place, without copying the frame or the value.
        let last = self.frame.ies.iter().all(|ie| {
            !matches!(ie, InfoElement::Shift(_))
                && (ie.is_single_octet() || ie.id() < q931::ie::IeId::USER_USER)
        });
        if last {
            let start = out.len();
            self.frame.encode_with(out, Dialect::H225)?;
            let ie = out.len();
            out.extend_from_slice(&[q931::ie::IeId::USER_USER.0, 0, 0, UuProtocol::X208_X209.0]);
            if let Err(e) = self.append_user_info(out) {
                out.truncate(start);
                return Err(e);
            }
            // The length counts the protocol discriminator and the data.
            let n = out.len() - ie - 3;
            let Ok(len) = u16::try_from(n) else {
                out.truncate(start);
                return Err(CallSignalError::Encode(q931::EncodeError::IeTooLong {
                    id: q931::ie::IeId::USER_USER.0,
                    len: n,
                }));
            };
            out[ie + 1..ie + 3].copy_from_slice(&len.to_be_bytes());
            return Ok(());
        }
        let mut data = Vec::new();
        self.append_user_info(&mut data)?;
        let mut frame = self.frame.clone();
        frame.insert(InfoElement::UserUser(UserUser {
            protocol: UuProtocol::X208_X209,
            data,
        }));
        frame.encode_with(out, Dialect::H225)?;
        Ok(())
    }

    /// Appends the aligned-PER H323-UserInformation (a Setup through the hand-written
    /// codec, which gives rasn's octets, see `setup_per`; anything else through rasn).
    fn append_user_info(&self, out: &mut Vec<u8>) -> Result<(), CallSignalError> {
        match &self.user_info {
            UserInfo::Decoded(uu) => {
                if super::setup_per::encode(uu, out).is_none() {
                    let data = rasn::aper::encode(uu.as_ref())
                        .map_err(|e| CallSignalError::Per(e.to_string()))?;
                    out.extend_from_slice(&data);
                }
            }
            UserInfo::Unknown { raw, .. } => out.extend_from_slice(raw),
        }
        Ok(())
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, CallSignalError> {
        let mut out = Vec::with_capacity(256);
        self.encode(&mut out)?;
        Ok(out)
    }

    pub fn uu(&self) -> Option<&asn::H323UserInformation> {
        match &self.user_info {
            UserInfo::Decoded(uu) => Some(uu),
            UserInfo::Unknown { .. } => None,
        }
    }

    pub fn uu_mut(&mut self) -> Option<&mut asn::H323UserInformation> {
        match &mut self.user_info {
            UserInfo::Decoded(uu) => Some(uu),
            UserInfo::Unknown { .. } => None,
        }
    }

    fn pdu(&self) -> Option<&asn::H323UUPDU> {
        self.uu().map(|uu| &uu.h323_uu_pdu)
    }

    pub fn body(&self) -> Option<&asn::H323UUPDUH323MessageBody> {
        self.pdu().map(|p| &p.h323_message_body)
    }

    pub fn kind(&self) -> Option<BodyKind> {
        self.body().map(BodyKind::of)
    }

    pub fn message_type(&self) -> MessageType {
        self.frame.message_type
    }

    pub fn call_ref(&self) -> CallRef {
        self.frame.call_ref
    }

    /// The Display IE's text (Q.931 §4.5.16).
    pub fn display(&self) -> Option<&str> {
        self.frame.display().map(|d| d.text.as_str())
    }

    /// Whether a Progress indicator IE says in-band information is available (Q.931
    /// §4.5.23, descriptions 1 and 8): the sender's media carry tones or announcements.
    pub fn inband_available(&self) -> bool {
        self.frame
            .progress_indicators()
            .any(|p| p.description.is_inband())
    }

    /// The Called party number IE's digits (Q.931 §4.5.8).
    pub fn called_number(&self) -> Option<&str> {
        self.frame.called_party_number().map(|n| n.digits.as_str())
    }

    /// The Calling party number IE's digits (Q.931 §4.5.10).
    pub fn calling_number(&self) -> Option<&str> {
        self.frame.calling_party_number().map(|n| n.digits.as_str())
    }

    /// The Calling party number IE says presentation restricted (Q.931 §4.5.10 octet 3a):
    /// neither the number nor the caller's name is to be shown.
    pub fn calling_restricted(&self) -> bool {
        self.frame.calling_party_number().is_some_and(|n| {
            matches!(
                n.presentation,
                Some((q931::ie::Presentation::Restricted, _))
            )
        })
    }

    /// `protocolIdentifier`'s version (v1..v7...) where the body has one.
    pub fn protocol_version(&self) -> Option<u32> {
        use asn::H323UUPDUH323MessageBody as B;
        let id = match self.body()? {
            B::setup(m) => &m.protocol_identifier,
            B::callProceeding(m) => &m.protocol_identifier,
            B::connect(m) => &m.protocol_identifier,
            B::alerting(m) => &m.protocol_identifier,
            B::information(m) => &m.protocol_identifier,
            B::releaseComplete(m) => &m.protocol_identifier,
            B::facility(m) => &m.protocol_identifier,
            B::progress(m) => &m.protocol_identifier,
            B::status(m) => &m.protocol_identifier,
            B::statusInquiry(m) => &m.protocol_identifier,
            B::setupAcknowledge(m) => &m.protocol_identifier,
            B::notify(m) => &m.protocol_identifier,
            _ => return None,
        };
        protocol_version(id)
    }

    pub fn call_identifier(&self) -> Option<Guid> {
        use asn::H323UUPDUH323MessageBody as B;
        let id = match self.body()? {
            B::setup(m) => m.call_identifier.as_ref(),
            B::callProceeding(m) => m.call_identifier.as_ref(),
            B::connect(m) => m.call_identifier.as_ref(),
            B::alerting(m) => m.call_identifier.as_ref(),
            B::information(m) => m.call_identifier.as_ref(),
            B::releaseComplete(m) => m.call_identifier.as_ref(),
            B::facility(m) => m.call_identifier.as_ref(),
            B::progress(m) => Some(&m.call_identifier),
            B::status(m) => Some(&m.call_identifier),
            B::statusInquiry(m) => Some(&m.call_identifier),
            B::setupAcknowledge(m) => Some(&m.call_identifier),
            B::notify(m) => Some(&m.call_identifier),
            _ => None,
        }?;
        Some(Guid::from_asn(&id.guid))
    }

    pub fn conference_id(&self) -> Option<Guid> {
        use asn::H323UUPDUH323MessageBody as B;
        match self.body()? {
            B::setup(m) => Some(Guid::from_asn(&m.conference_id.0)),
            B::connect(m) => Some(Guid::from_asn(&m.conference_id.0)),
            B::facility(m) => m.conference_id.as_ref().map(|c| Guid::from_asn(&c.0)),
            _ => None,
        }
    }

    pub fn source_aliases(&self) -> Vec<Alias> {
        match self.body() {
            Some(asn::H323UUPDUH323MessageBody::setup(s)) => {
                aliases_from_asn(s.source_address.as_ref())
            }
            _ => Vec::new(),
        }
    }

    pub fn destination_aliases(&self) -> Vec<Alias> {
        match self.body() {
            Some(asn::H323UUPDUH323MessageBody::setup(s)) => {
                aliases_from_asn(s.destination_address.as_ref())
            }
            _ => Vec::new(),
        }
    }

    /// The `fastStart` elements: each an aligned-PER OpenLogicalChannel.
    pub fn fast_start(&self) -> &[OctetString] {
        use asn::H323UUPDUH323MessageBody as B;
        let fs = match self.body() {
            Some(B::setup(m)) => m.fast_start.as_ref(),
            Some(B::callProceeding(m)) => m.fast_start.as_ref(),
            Some(B::connect(m)) => m.fast_start.as_ref(),
            Some(B::alerting(m)) => m.fast_start.as_ref(),
            Some(B::information(m)) => m.fast_start.as_ref(),
            Some(B::facility(m)) => m.fast_start.as_ref(),
            Some(B::progress(m)) => m.fast_start.as_ref(),
            _ => None,
        };
        fs.map(Vec::as_slice).unwrap_or(&[])
    }

    /// `fastConnectRefused` is present.
    pub fn fast_connect_refused(&self) -> bool {
        use asn::H323UUPDUH323MessageBody as B;
        match self.body() {
            Some(B::callProceeding(m)) => m.fast_connect_refused.is_some(),
            Some(B::connect(m)) => m.fast_connect_refused.is_some(),
            Some(B::alerting(m)) => m.fast_connect_refused.is_some(),
            Some(B::information(m)) => m.fast_connect_refused.is_some(),
            Some(B::facility(m)) => m.fast_connect_refused.is_some(),
            Some(B::progress(m)) => m.fast_connect_refused.is_some(),
            _ => false,
        }
    }

    /// `h245Address`, where the peer listens for a separate H.245 connection.
    pub fn h245_address(&self) -> Option<SocketAddrV4> {
        use asn::H323UUPDUH323MessageBody as B;
        let a = match self.body()? {
            B::setup(m) => m.h245_address.as_ref(),
            B::callProceeding(m) => m.h245_address.as_ref(),
            B::connect(m) => m.h245_address.as_ref(),
            B::alerting(m) => m.h245_address.as_ref(),
            B::facility(m) => m.h245_address.as_ref(),
            B::progress(m) => m.h245_address.as_ref(),
            _ => None,
        }?;
        socket_addr(a)
    }

    /// `h245Tunnelling` (absent from v1/v2/v3 peers: `None`).
    pub fn h245_tunneling(&self) -> Option<bool> {
        self.pdu().and_then(|p| p.h245_tunnelling)
    }

    /// The tunnelled H.245 messages (`h245Control`), each an aligned-PER
    /// MultimediaSystemControlMessage; see [`crate::h245_tunnel`].
    pub fn h245_control(&self) -> &[OctetString] {
        self.pdu()
            .and_then(|p| p.h245_control.as_ref())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn release_reason(&self) -> Option<ReleaseReason> {
        match self.body()? {
            asn::H323UUPDUH323MessageBody::releaseComplete(r) => {
                r.reason.as_ref().and_then(ReleaseReason::from_asn)
            }
            _ => None,
        }
    }

    /// The Q.850 cause of a Release Complete: the Cause IE if present, else the reason
    /// mapped by H.225.0 Table 5, else 16 (normal call clearing).
    pub fn release_cause(&self) -> CauseValue {
        if let Some(c) = self.frame.cause() {
            return c.value;
        }
        self.release_reason()
            .map(ReleaseReason::to_q850)
            .unwrap_or(CauseValue::NormalCallClearing)
    }
}

/// Our own endpoint description (H.225.0 §7.6 EndpointType with VendorIdentifier).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// T.35 country code, extension and manufacturer code (H.221 non-standard).
    pub t35_country_code: u8,
    pub t35_extension: u8,
    pub manufacturer_code: u16,
    pub product_id: String,
    pub version_id: String,
    /// Present ourselves as a gateway (true) or a terminal.
    pub gateway: bool,
}

impl Default for Endpoint {
    fn default() -> Self {
        Self {
            t35_country_code: 0xB5, // United States, as most vendors use
            t35_extension: 0,
            manufacturer_code: 0,
            product_id: "rust-gatewayd".into(),
            version_id: env!("CARGO_PKG_VERSION").into(),
            gateway: true,
        }
    }
}

impl Endpoint {
    /// H.225.0 §7.6 VendorIdentifier.
    pub fn vendor(&self) -> asn::VendorIdentifier {
        asn::VendorIdentifier::new(
            asn::H221NonStandard::new(
                self.t35_country_code,
                self.t35_extension,
                self.manufacturer_code,
            ),
            Some(OctetString::from(truncate(&self.product_id, 256))),
            Some(OctetString::from(truncate(&self.version_id, 256))),
            None,
        )
    }

    pub fn to_asn(&self) -> asn::EndpointType {
        asn::EndpointType::new(
            None,
            Some(self.vendor()),
            None,
            self.gateway.then_some(asn::GatewayInfo::new(None, None)),
            None,
            (!self.gateway).then_some(asn::TerminalInfo::new(None)),
            false,
            false,
            None,
            None,
        )
    }
}

fn truncate(s: &str, max: usize) -> Vec<u8> {
    let b = s.as_bytes();
    let n = b.len().clamp(1, max);
    if b.is_empty() {
        vec![0]
    } else {
        b[..n].to_vec()
    }
}

/// What a Setup carries (H.225.0 §7.3.10 / Setup-UUIE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupParams {
    pub call_ref: u16,
    pub call_id: Guid,
    pub conference_id: Guid,
    pub endpoint: Endpoint,
    pub source_aliases: Vec<Alias>,
    pub destination_aliases: Vec<Alias>,
    pub source_signal_address: Option<SocketAddrV4>,
    pub dest_signal_address: Option<SocketAddrV4>,
    /// Encoded OpenLogicalChannel proposals (see [`crate::fast_start`]).
    pub fast_start: Vec<Vec<u8>>,
    pub h245_address: Option<SocketAddrV4>,
    pub h245_tunneling: bool,
    /// Encoded H.245 messages to tunnel (see [`crate::h245_tunnel`]).
    pub h245_control: Vec<Vec<u8>>,
    /// Q.931 Called/Calling party number IEs (E.164 digits) and Display IE.
    pub called_number: Option<String>,
    pub calling_number: Option<String>,
    pub display: Option<String>,
    /// Bearer capability: G.711 A-law (true) or µ-law speech.
    pub bearer_a_law: bool,
}

/// What a response (Call Proceeding, Alerting, Progress, Connect) carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseParams {
    /// The call reference value of the call (the flag is set: we answer the originator).
    pub call_ref: u16,
    pub call_id: Guid,
    /// Connect only (mandatory there).
    pub conference_id: Guid,
    pub endpoint: Endpoint,
    /// Accepted OpenLogicalChannels (see [`crate::fast_start::FastStartAnswer`]).
    pub fast_start: Vec<Vec<u8>>,
    pub fast_connect_refused: bool,
    pub h245_address: Option<SocketAddrV4>,
    pub h245_tunneling: bool,
    pub h245_control: Vec<Vec<u8>>,
    pub display: Option<String>,
}

fn octets(v: &[Vec<u8>]) -> Option<Vec<OctetString>> {
    if v.is_empty() {
        None
    } else {
        Some(v.iter().map(|b| OctetString::from(b.clone())).collect())
    }
}

fn pdu(
    body: asn::H323UUPDUH323MessageBody,
    h245_tunneling: bool,
    h245_control: &[Vec<u8>],
) -> asn::H323UserInformation {
    asn::H323UserInformation::new(
        asn::H323UUPDU::new(
            body,
            None,
            None,
            Some(h245_tunneling),
            octets(h245_control),
            None,
            None,
            None,
            None,
            None,
            None,
        ),
        None,
    )
}

fn signal(frame: Message, uu: asn::H323UserInformation) -> CallSignal {
    CallSignal {
        frame,
        user_info: UserInfo::Decoded(Box::new(uu)),
    }
}

impl CallSignal {
    /// H.225.0 §7.3.10 Setup.
    pub fn setup(p: &SetupParams) -> Result<Self, CallSignalError> {
        let body = asn::SetupUUIE::new(
            protocol_identifier(PROTOCOL_VERSION),
            p.h245_address.map(transport_address),
            aliases_to_asn(&p.source_aliases)?,
            p.endpoint.to_asn(),
            aliases_to_asn(&p.destination_aliases)?,
            p.dest_signal_address.map(transport_address),
            None,
            None,
            false,
            p.conference_id.conference_identifier(),
            asn::SetupUUIEConferenceGoal::create(()),
            None,
            asn::CallType::pointToPoint(()),
            p.source_signal_address.map(transport_address),
            None,
            Some(p.call_id.call_identifier()),
            None,
            None,
            None,
            octets(&p.fast_start),
            Some(false),
            Some(false),
            None,
            Some(false),
            Some(false),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        );
        // Q.931 §4.5.5: speech, 64 kbit/s, G.711 of the given law.
        let law = if p.bearer_a_law {
            Layer1Protocol::G711ALaw
        } else {
            Layer1Protocol::G711MuLaw
        };
        let frame = Message::setup(
            CallRef::two_octet(p.call_ref, CallRefFlag::FromOriginator),
            BearerCapability::speech(law),
        )
        .with_opt(p.display.as_deref().map(Display::new))
        .with_opt(
            p.calling_number
                .as_deref()
                .map(|n| CallingPartyNumber::new(TypeOfNumber::Unknown, NumberingPlan::Isdn, n)),
        )
        .with_opt(
            p.called_number
                .as_deref()
                .map(|n| CalledPartyNumber::new(TypeOfNumber::Unknown, NumberingPlan::Isdn, n)),
        );
        Ok(signal(
            frame,
            pdu(
                asn::H323UUPDUH323MessageBody::setup(Box::new(body)),
                p.h245_tunneling,
                &p.h245_control,
            ),
        ))
    }

    fn response_frame(p: &ResponseParams, t: MessageType) -> Message {
        Message::new(CallRef::two_octet(p.call_ref, CallRefFlag::ToOriginator), t)
            .with_opt(p.display.as_deref().map(Display::new))
    }

    /// A response to the originator (Call Proceeding, Alerting, Progress, Connect:
    /// H.225.0 §7.3.2, §7.3.1, §7.3.8, §7.3.3): `frame` and a UU-PDU with `body` and the
    /// H.245 tunnelling flag and tunnelled messages of `p`.
    fn response(p: &ResponseParams, frame: Message, body: asn::H323UUPDUH323MessageBody) -> Self {
        signal(frame, pdu(body, p.h245_tunneling, &p.h245_control))
    }

    /// H.225.0 §7.3.2 Call Proceeding.
    pub fn call_proceeding(p: &ResponseParams) -> Self {
        let body = asn::CallProceedingUUIE::new(
            protocol_identifier(PROTOCOL_VERSION),
            p.endpoint.to_asn(),
            p.h245_address.map(transport_address),
            Some(p.call_id.call_identifier()),
            None,
            None,
            None,
            octets(&p.fast_start),
            Some(false),
            Some(false),
            p.fast_connect_refused.then_some(()),
            None,
        );
        Self::response(
            p,
            Self::response_frame(p, MessageType::CallProceeding),
            asn::H323UUPDUH323MessageBody::callProceeding(Box::new(body)),
        )
    }

    /// H.225.0 §7.3.1 Alerting.
    pub fn alerting(p: &ResponseParams) -> Self {
        let body = asn::AlertingUUIE::new(
            protocol_identifier(PROTOCOL_VERSION),
            p.endpoint.to_asn(),
            p.h245_address.map(transport_address),
            Some(p.call_id.call_identifier()),
            None,
            None,
            None,
            octets(&p.fast_start),
            Some(false),
            Some(false),
            None,
            None,
            None,
            p.fast_connect_refused.then_some(()),
            None,
            None,
            None,
            None,
        );
        Self::response(
            p,
            Self::response_frame(p, MessageType::Alerting),
            asn::H323UUPDUH323MessageBody::alerting(Box::new(body)),
        )
    }

    /// H.225.0 §7.3.8 Progress, with a Progress indicator IE "in-band information or an
    /// appropriate pattern is now available" (Q.931 §4.5.23, description 8).
    pub fn progress(p: &ResponseParams) -> Self {
        let body = asn::ProgressUUIE::new(
            protocol_identifier(PROTOCOL_VERSION),
            p.endpoint.to_asn(),
            p.h245_address.map(transport_address),
            p.call_id.call_identifier(),
            None,
            None,
            None,
            octets(&p.fast_start),
            Some(false),
            Some(false),
            p.fast_connect_refused.then_some(()),
        );
        let frame = Self::response_frame(p, MessageType::Progress).with(ProgressIndicator::new(
            Location::PrivateLocal,
            ProgressDescription::InbandAvailable,
        ));
        Self::response(
            p,
            frame,
            asn::H323UUPDUH323MessageBody::progress(Box::new(body)),
        )
    }

    /// H.225.0 §7.3.3 Connect.
    pub fn connect(p: &ResponseParams) -> Self {
        let body = asn::ConnectUUIE::new(
            protocol_identifier(PROTOCOL_VERSION),
            p.h245_address.map(transport_address),
            p.endpoint.to_asn(),
            p.conference_id.conference_identifier(),
            Some(p.call_id.call_identifier()),
            None,
            None,
            None,
            octets(&p.fast_start),
            Some(false),
            Some(false),
            None,
            None,
            None,
            None,
            p.fast_connect_refused.then_some(()),
            None,
            None,
            None,
            None,
        );
        Self::response(
            p,
            Self::response_frame(p, MessageType::Connect),
            asn::H323UUPDUH323MessageBody::connect(Box::new(body)),
        )
    }

    /// H.225.0 §7.3.9 Release Complete, with the Q.931 Cause IE and/or the H.225.0 reason.
    /// With only a cause, the reason is set where Table 5 maps the cause to one reason.
    pub fn release_complete(
        call_ref: CallRef,
        call_id: Guid,
        reason: Option<ReleaseReason>,
        cause: Option<CauseValue>,
        h245_tunneling: bool,
    ) -> Self {
        Self::release_complete_with_h245(call_ref, call_id, reason, cause, h245_tunneling, &[])
    }

    /// [`CallSignal::release_complete`] carrying tunnelled H.245 messages (H.323 §8.5:
    /// the EndSessionCommand may travel in the Release Complete).
    pub fn release_complete_with_h245(
        call_ref: CallRef,
        call_id: Guid,
        reason: Option<ReleaseReason>,
        cause: Option<CauseValue>,
        h245_tunneling: bool,
        h245_control: &[Vec<u8>],
    ) -> Self {
        let reason = reason.or_else(|| cause.and_then(ReleaseReason::from_q850));
        let body = asn::ReleaseCompleteUUIE::new(
            protocol_identifier(PROTOCOL_VERSION),
            reason.and_then(ReleaseReason::to_asn),
            Some(call_id.call_identifier()),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        );
        let frame =
            Message::release_complete(call_ref, cause.map(|c| Cause::new(c, Location::User)));
        signal(
            frame,
            pdu(
                asn::H323UUPDUH323MessageBody::releaseComplete(Box::new(body)),
                h245_tunneling,
                h245_control,
            ),
        )
    }

    /// H.225.0 §7.4.1 Facility. With `reason` `None` the body is `empty` (H.225.0 §7.4.1:
    /// a Facility that only carries tunnelled H.245 messages).
    pub fn facility(
        call_ref: CallRef,
        call_id: Guid,
        reason: Option<asn::FacilityReason>,
        h245_address: Option<SocketAddrV4>,
        h245_control: &[Vec<u8>],
    ) -> Self {
        let body = match reason {
            None => asn::H323UUPDUH323MessageBody::empty(()),
            Some(reason) => {
                asn::H323UUPDUH323MessageBody::facility(Box::new(asn::FacilityUUIE::new(
                    protocol_identifier(PROTOCOL_VERSION),
                    None,
                    None,
                    None,
                    reason,
                    Some(call_id.call_identifier()),
                    None,
                    None,
                    None,
                    None,
                    None,
                    h245_address.map(transport_address),
                    None,
                    Some(false),
                    Some(false),
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                )))
            }
        };
        signal(
            Message::new(call_ref, MessageType::Facility),
            pdu(body, true, h245_control),
        )
    }

    /// H.225.0 §7.3.6 Information (overlap digits in a Called party number IE, or a
    /// carrier for tunnelled H.245).
    pub fn information(
        call_ref: CallRef,
        call_id: Guid,
        digits: Option<&str>,
        h245_control: &[Vec<u8>],
    ) -> Self {
        let body = asn::InformationUUIE::new(
            protocol_identifier(PROTOCOL_VERSION),
            Some(call_id.call_identifier()),
            None,
            None,
            None,
            None,
            None,
        );
        let frame =
            Message::information(call_ref)
                .with_opt(digits.map(|d| {
                    CalledPartyNumber::new(TypeOfNumber::Unknown, NumberingPlan::Isdn, d)
                }));
        signal(
            frame,
            pdu(
                asn::H323UUPDUH323MessageBody::information(Box::new(body)),
                true,
                h245_control,
            ),
        )
    }

    /// H.225.0 §7.3.11 Status, answering a Status Enquiry or reporting an error: the
    /// Cause IE and the Call state IE (Q.931 §4.5.7, e.g. 10 active) are mandatory.
    pub fn status(
        call_ref: CallRef,
        call_id: Guid,
        cause: CauseValue,
        call_state: CallStateValue,
    ) -> Self {
        let body = asn::StatusUUIE::new(
            protocol_identifier(PROTOCOL_VERSION),
            call_id.call_identifier(),
            None,
            None,
        );
        let frame = Message::status(
            call_ref,
            Cause::new(cause, Location::User),
            CallState::new(call_state),
        );
        signal(
            frame,
            pdu(asn::H323UUPDUH323MessageBody::status(body), true, &[]),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Setup whose Calling party number says presentation restricted is read as such
    /// after a round trip through the wire form; one without says allowed.
    #[test]
    fn a_restricted_calling_number_is_read_back() {
        let params = SetupParams {
            call_ref: 7,
            call_id: Guid([1; 16]),
            conference_id: Guid([2; 16]),
            endpoint: Endpoint::default(),
            source_aliases: vec![Alias::Dialled("2001".into())],
            destination_aliases: vec![Alias::Dialled("5001".into())],
            source_signal_address: None,
            dest_signal_address: None,
            fast_start: Vec::new(),
            h245_address: None,
            h245_tunneling: false,
            h245_control: Vec::new(),
            called_number: Some("5001".into()),
            calling_number: Some("2001".into()),
            display: Some("Eve".into()),
            bearer_a_law: true,
        };
        let plain = CallSignal::setup(&params).unwrap();
        let back = CallSignal::decode(&plain.to_bytes().unwrap()).unwrap();
        assert_eq!(
            (
                back.calling_number(),
                back.calling_restricted(),
                back.display()
            ),
            (Some("2001"), false, Some("Eve"))
        );
        let mut restricted = plain;
        restricted
            .frame
            .ies
            .retain(|ie| !matches!(ie, q931::ie::InfoElement::CallingPartyNumber(_)));
        restricted.frame.insert(
            CallingPartyNumber::new(TypeOfNumber::Unknown, NumberingPlan::Isdn, "2001")
                .with_presentation(
                    q931::ie::Presentation::Restricted,
                    q931::ie::Screening::UserProvidedNotScreened,
                )
                .into(),
        );
        let back = CallSignal::decode(&restricted.to_bytes().unwrap()).unwrap();
        assert_eq!(
            (back.calling_number(), back.calling_restricted()),
            (Some("2001"), true)
        );
    }
}
