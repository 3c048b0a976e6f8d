//! RAS (H.225.0 §7.7-§7.12, UDP port 1719): request builders for an endpoint/gateway
//! (GRQ, RRQ with lightweight keep-alive, URQ, ARQ, DRQ) and a summary of the replies.
//!
//! - [`client`]: the endpoint's RAS state machine (discovery, registration and
//!   keep-alive, admissions, retransmissions), sans-IO.
//! - [`gatekeeper`]: a minimal gatekeeper (RAS only), sans-IO, for tests.
//! - [`confirm`]: builders for confirms, rejects and the gatekeeper's own requests.
//! - [`timer`]: the default response timeouts and retry counts.
//!
//! The builders here are plain functions: the caller owns sequence numbers and timers.

pub mod client;
pub mod confirm;
pub mod gatekeeper;
pub mod timer;

use std::net::SocketAddrV4;

use h323_asn1::h225 as asn;
use h323_asn1::rasn;
use h323_asn1::rasn::types::BmpString;
use thiserror::Error;

use crate::h225::call_signal::{is_unknown_alternative, Endpoint, PROTOCOL_VERSION};
use crate::h225::ids::{
    aliases_from_asn, aliases_to_asn, protocol_identifier, socket_addr, transport_address,
};
use crate::h225::{Alias, BadAlias, Guid};

/// RAS listens on UDP 1719 (H.225.0 §7.1; 1718 is the discovery multicast port).
pub const RAS_PORT: u16 = 1719;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum RasError {
    #[error("RAS PER: {0}")]
    Per(String),
    #[error("RAS message with an unknown extension alternative: {0}")]
    UnknownAlternative(String),
    #[error(transparent)]
    Alias(#[from] BadAlias),
    #[error("identifier {0:?} is empty or longer than 128 characters")]
    BadIdentifier(String),
}

pub fn encode(msg: &asn::RasMessage) -> Result<Vec<u8>, RasError> {
    rasn::aper::encode(msg).map_err(|e| RasError::Per(e.to_string()))
}

pub fn decode(bytes: &[u8]) -> Result<asn::RasMessage, RasError> {
    rasn::aper::decode(bytes).map_err(|e| {
        if is_unknown_alternative(&e) {
            RasError::UnknownAlternative(e.to_string())
        } else {
            RasError::Per(e.to_string())
        }
    })
}

pub(crate) fn bmp(s: &str) -> Result<BmpString, RasError> {
    let n = s.encode_utf16().count();
    if n == 0 || n > 128 {
        return Err(RasError::BadIdentifier(s.to_string()));
    }
    let ucs2: Vec<u8> = s.encode_utf16().flat_map(u16::to_be_bytes).collect();
    BmpString::try_from(ucs2.as_slice()).map_err(|_| RasError::BadIdentifier(s.to_string()))
}

/// GatekeeperIdentifier ::= BMPString (SIZE (1..128)) (H.225.0 §7.6).
fn gk_id(id: &str) -> Result<asn::GatekeeperIdentifier, RasError> {
    bmp(id).map(asn::GatekeeperIdentifier)
}

/// EndpointIdentifier ::= BMPString (SIZE (1..128)) (H.225.0 §7.6), as the gatekeeper
/// assigned it in the RCF.
fn ep_id(id: &str) -> Result<asn::EndpointIdentifier, RasError> {
    bmp(id).map(asn::EndpointIdentifier)
}

/// The CallReferenceValue a RAS message names a call by (H.225.0 §7.11.1): the Q.931
/// call reference value of the call-signalling channel, without the Q.931 flag bit.
fn call_reference_value(call_ref: u16) -> asn::CallReferenceValue {
    asn::CallReferenceValue(call_ref & 0x7FFF)
}

/// What we are, for GRQ/RRQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registrant {
    pub endpoint: Endpoint,
    pub ras_address: SocketAddrV4,
    pub call_signal_address: SocketAddrV4,
    /// H.323-ID and/or E.164 aliases (a gateway's prefixes go in `prefixes`).
    pub aliases: Vec<Alias>,
    /// E.164 prefixes the gateway serves (GatewayInfo.protocol voice supportedPrefixes).
    pub prefixes: Vec<String>,
}

/// H.225.0 §7.8.1 GatekeeperRequest (discovery).
pub fn gatekeeper_request(
    seq: u16,
    r: &Registrant,
    gatekeeper_id: Option<&str>,
) -> Result<asn::RasMessage, RasError> {
    Ok(asn::RasMessage::gatekeeperRequest(Box::new(
        asn::GatekeeperRequest::new(
            asn::RequestSeqNum(seq),
            protocol_identifier(PROTOCOL_VERSION),
            None,
            transport_address(r.ras_address),
            endpoint_type(r)?,
            gatekeeper_id.map(gk_id).transpose()?,
            None,
            aliases_to_asn(&r.aliases)?,
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
            Some(false),
            None,
        ),
    )))
}

pub(crate) fn endpoint_type(r: &Registrant) -> Result<asn::EndpointType, RasError> {
    let mut t = r.endpoint.to_asn();
    if r.endpoint.gateway && !r.prefixes.is_empty() {
        let prefixes = r
            .prefixes
            .iter()
            .map(|p| {
                Alias::Dialled(p.clone())
                    .to_asn()
                    .map(|a| asn::SupportedPrefix::new(None, a))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let voice = asn::VoiceCaps::new(None, None, Some(prefixes));
        t.gateway = Some(asn::GatewayInfo::new(
            Some(vec![asn::SupportedProtocols::voice(voice)]),
            None,
        ));
    }
    Ok(t)
}

/// H.225.0 §7.9.1 RegistrationRequest. `keep_alive` makes it the lightweight
/// re-registration of §7.9.1 (keepAlive TRUE, endpointIdentifier and gatekeeperIdentifier
/// of the current registration, no aliases needed) sent before `time_to_live` runs out.
/// `discoveryComplete` is set when a gatekeeper identifier is given (see
/// [`registration_request_with`] to say it explicitly).
#[allow(clippy::too_many_arguments)]
pub fn registration_request(
    seq: u16,
    r: &Registrant,
    time_to_live: Option<u32>,
    keep_alive: bool,
    endpoint_id: Option<&str>,
    gatekeeper_id: Option<&str>,
) -> Result<asn::RasMessage, RasError> {
    registration_request_with(
        seq,
        r,
        &RrqOptions {
            time_to_live,
            keep_alive,
            endpoint_id,
            gatekeeper_id,
            discovery_complete: gatekeeper_id.is_some(),
        },
    )
}

/// The variable parts of an RRQ.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RrqOptions<'a> {
    /// Seconds we ask for (the gatekeeper's RCF decides).
    pub time_to_live: Option<u32>,
    /// Lightweight re-registration (H.225.0 §7.9.1 keepAlive).
    pub keep_alive: bool,
    pub endpoint_id: Option<&'a str>,
    pub gatekeeper_id: Option<&'a str>,
    /// `discoveryComplete`: TRUE when a GRQ/GCF exchange with this gatekeeper preceded.
    pub discovery_complete: bool,
}

/// H.225.0 §7.9.1 RegistrationRequest with every option spelled out.
pub fn registration_request_with(
    seq: u16,
    r: &Registrant,
    o: &RrqOptions<'_>,
) -> Result<asn::RasMessage, RasError> {
    let (time_to_live, keep_alive, endpoint_id, gatekeeper_id) =
        (o.time_to_live, o.keep_alive, o.endpoint_id, o.gatekeeper_id);
    Ok(asn::RasMessage::registrationRequest(Box::new(
        asn::RegistrationRequest::new(
            asn::RequestSeqNum(seq),
            protocol_identifier(PROTOCOL_VERSION),
            None,
            o.discovery_complete,
            vec![transport_address(r.call_signal_address)],
            vec![transport_address(r.ras_address)],
            endpoint_type(r)?,
            if keep_alive {
                None
            } else {
                aliases_to_asn(&r.aliases)?
            },
            gatekeeper_id.map(gk_id).transpose()?,
            r.endpoint.vendor(),
            None,
            time_to_live.map(asn::TimeToLive),
            None,
            None,
            None,
            Some(keep_alive),
            endpoint_id.map(ep_id).transpose()?,
            Some(false),
            Some(false),
            None,
            None,
            None,
            None,
            None,
            Some(false),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            Some(false),
            None,
            None,
            None,
        ),
    )))
}

/// H.225.0 §7.10.1 UnregistrationRequest.
pub fn unregistration_request(
    seq: u16,
    r: &Registrant,
    endpoint_id: Option<&str>,
    gatekeeper_id: Option<&str>,
) -> Result<asn::RasMessage, RasError> {
    unregistration(
        seq,
        vec![transport_address(r.call_signal_address)],
        aliases_to_asn(&r.aliases)?,
        endpoint_id,
        gatekeeper_id,
        None,
    )
}

/// H.225.0 §7.10.1 UnregistrationRequest from either side: the endpoint cancels its
/// own registration ([`unregistration_request`], no reason), or the gatekeeper cancels
/// one ([`confirm::gatekeeper_unregistration_request`], with a reason).
fn unregistration(
    seq: u16,
    call_signal_addresses: Vec<asn::TransportAddress>,
    aliases: Option<Vec<asn::AliasAddress>>,
    endpoint_id: Option<&str>,
    gatekeeper_id: Option<&str>,
    reason: Option<asn::UnregRequestReason>,
) -> Result<asn::RasMessage, RasError> {
    Ok(asn::RasMessage::unregistrationRequest(Box::new(
        asn::UnregistrationRequest::new(
            asn::RequestSeqNum(seq),
            call_signal_addresses,
            aliases,
            None,
            endpoint_id.map(ep_id).transpose()?,
            None,
            gatekeeper_id.map(gk_id).transpose()?,
            None,
            None,
            None,
            reason,
            None,
            None,
            None,
            None,
            None,
        ),
    )))
}

/// A call as RAS sees it (ARQ/DRQ).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RasCall {
    pub endpoint_id: String,
    pub call_ref: u16,
    pub call_id: Guid,
    pub conference_id: Guid,
    pub destination: Vec<Alias>,
    pub source: Vec<Alias>,
    pub dest_call_signal_address: Option<SocketAddrV4>,
    pub src_call_signal_address: Option<SocketAddrV4>,
    /// Both directions, in units of 100 bit/s (H.225.0 BandWidth): 1280 = 2 × 64 kbit/s.
    pub bandwidth: u32,
    pub answer_call: bool,
}

/// H.225.0 §7.11.1 AdmissionRequest (point-to-point, direct or routed as the GK says).
pub fn admission_request(seq: u16, c: &RasCall) -> Result<asn::RasMessage, RasError> {
    let src = aliases_to_asn(&c.source)?.unwrap_or_default();
    Ok(asn::RasMessage::admissionRequest(Box::new(
        asn::AdmissionRequest::new(
            asn::RequestSeqNum(seq),
            asn::CallType::pointToPoint(()),
            None,
            ep_id(&c.endpoint_id)?,
            aliases_to_asn(&c.destination)?,
            c.dest_call_signal_address.map(transport_address),
            None,
            src,
            c.src_call_signal_address.map(transport_address),
            asn::BandWidth(c.bandwidth),
            call_reference_value(c.call_ref),
            None,
            None,
            c.conference_id.conference_identifier(),
            false,
            c.answer_call,
            Some(false),
            Some(c.call_id.call_identifier()),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            Some(false),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            Some(false),
        ),
    )))
}

/// H.225.0 §7.12.1 DisengageRequest, `normalDrop`.
pub fn disengage_request(seq: u16, c: &RasCall) -> Result<asn::RasMessage, RasError> {
    disengage(
        seq,
        &c.endpoint_id,
        c.call_ref,
        c.call_id,
        c.conference_id,
        asn::DisengageReason::normalDrop(()),
        c.answer_call,
    )
}

/// H.225.0 §7.12.1 DisengageRequest from either side: the endpoint ends its call
/// ([`disengage_request`], `normalDrop`), or the gatekeeper ends one
/// ([`confirm::gatekeeper_disengage_request`], `forcedDrop`).
fn disengage(
    seq: u16,
    endpoint_id: &str,
    call_ref: u16,
    call_id: Guid,
    conference_id: Guid,
    reason: asn::DisengageReason,
    answered_call: bool,
) -> Result<asn::RasMessage, RasError> {
    Ok(asn::RasMessage::disengageRequest(Box::new(
        asn::DisengageRequest::new(
            asn::RequestSeqNum(seq),
            ep_id(endpoint_id)?,
            conference_id.conference_identifier(),
            call_reference_value(call_ref),
            reason,
            None,
            Some(call_id.call_identifier()),
            None,
            None,
            None,
            None,
            Some(answered_call),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ),
    )))
}

/// The RAS message name as in the module and in tshark (`gatekeeperRequest`, ...).
pub fn message_name(m: &asn::RasMessage) -> &'static str {
    use asn::RasMessage as R;
    match m {
        R::gatekeeperRequest(_) => "gatekeeperRequest",
        R::gatekeeperConfirm(_) => "gatekeeperConfirm",
        R::gatekeeperReject(_) => "gatekeeperReject",
        R::registrationRequest(_) => "registrationRequest",
        R::registrationConfirm(_) => "registrationConfirm",
        R::registrationReject(_) => "registrationReject",
        R::unregistrationRequest(_) => "unregistrationRequest",
        R::unregistrationConfirm(_) => "unregistrationConfirm",
        R::unregistrationReject(_) => "unregistrationReject",
        R::admissionRequest(_) => "admissionRequest",
        R::admissionConfirm(_) => "admissionConfirm",
        R::admissionReject(_) => "admissionReject",
        R::disengageRequest(_) => "disengageRequest",
        R::disengageConfirm(_) => "disengageConfirm",
        R::disengageReject(_) => "disengageReject",
        R::bandwidthRequest(_) => "bandwidthRequest",
        R::bandwidthConfirm(_) => "bandwidthConfirm",
        R::bandwidthReject(_) => "bandwidthReject",
        R::locationRequest(_) => "locationRequest",
        R::locationConfirm(_) => "locationConfirm",
        R::locationReject(_) => "locationReject",
        R::infoRequest(_) => "infoRequest",
        R::infoRequestResponse(_) => "infoRequestResponse",
        R::nonStandardMessage(_) => "nonStandardMessage",
        R::unknownMessageResponse(_) => "unknownMessageResponse",
        R::requestInProgress(_) => "requestInProgress",
        R::resourcesAvailableIndicate(_) => "resourcesAvailableIndicate",
        R::resourcesAvailableConfirm(_) => "resourcesAvailableConfirm",
        R::infoRequestAck(_) => "infoRequestAck",
        R::infoRequestNak(_) => "infoRequestNak",
        R::serviceControlIndication(_) => "serviceControlIndication",
        R::serviceControlResponse(_) => "serviceControlResponse",
        _ => "other",
    }
}

/// The request sequence number every RAS message carries (H.225.0 §7.7).
pub fn sequence_number(m: &asn::RasMessage) -> Option<u16> {
    use asn::RasMessage as R;
    Some(match m {
        R::gatekeeperRequest(x) => x.request_seq_num.0,
        R::gatekeeperConfirm(x) => x.request_seq_num.0,
        R::gatekeeperReject(x) => x.request_seq_num.0,
        R::registrationRequest(x) => x.request_seq_num.0,
        R::registrationConfirm(x) => x.request_seq_num.0,
        R::registrationReject(x) => x.request_seq_num.0,
        R::unregistrationRequest(x) => x.request_seq_num.0,
        R::unregistrationConfirm(x) => x.request_seq_num.0,
        R::unregistrationReject(x) => x.request_seq_num.0,
        R::admissionRequest(x) => x.request_seq_num.0,
        R::admissionConfirm(x) => x.request_seq_num.0,
        R::admissionReject(x) => x.request_seq_num.0,
        R::disengageRequest(x) => x.request_seq_num.0,
        R::disengageConfirm(x) => x.request_seq_num.0,
        R::disengageReject(x) => x.request_seq_num.0,
        R::bandwidthRequest(x) => x.request_seq_num.0,
        R::bandwidthConfirm(x) => x.request_seq_num.0,
        R::bandwidthReject(x) => x.request_seq_num.0,
        R::locationRequest(x) => x.request_seq_num.0,
        R::locationConfirm(x) => x.request_seq_num.0,
        R::locationReject(x) => x.request_seq_num.0,
        R::infoRequest(x) => x.request_seq_num.0,
        R::infoRequestResponse(x) => x.request_seq_num.0,
        R::nonStandardMessage(x) => x.request_seq_num.0,
        R::unknownMessageResponse(x) => x.request_seq_num.0,
        R::requestInProgress(x) => x.request_seq_num.0,
        R::resourcesAvailableIndicate(x) => x.request_seq_num.0,
        R::resourcesAvailableConfirm(x) => x.request_seq_num.0,
        R::infoRequestAck(x) => x.request_seq_num.0,
        R::infoRequestNak(x) => x.request_seq_num.0,
        R::serviceControlIndication(x) => x.request_seq_num.0,
        R::serviceControlResponse(x) => x.request_seq_num.0,
        _ => return None,
    })
}

pub(crate) fn bmp_string(b: &BmpString) -> String {
    String::from_utf16_lossy(&b.clone().into_vec())
}

/// What a gateway needs from the gatekeeper's replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RasReply {
    GatekeeperConfirm {
        seq: u16,
        gatekeeper_id: Option<String>,
        ras_address: Option<SocketAddrV4>,
    },
    RegistrationConfirm {
        seq: u16,
        endpoint_id: String,
        gatekeeper_id: Option<String>,
        time_to_live: Option<u32>,
        aliases: Vec<Alias>,
    },
    AdmissionConfirm {
        seq: u16,
        dest_call_signal_address: Option<SocketAddrV4>,
        bandwidth: u32,
        routed_by_gatekeeper: bool,
    },
    UnregistrationConfirm {
        seq: u16,
    },
    DisengageConfirm {
        seq: u16,
    },
    /// GRJ, RRJ, ARJ, URJ or DRJ, with the reason's ASN.1 name.
    Reject {
        seq: u16,
        message: &'static str,
    },
    /// Anything else (requests from the gatekeeper such as IRQ, URQ, DRQ).
    Other {
        seq: Option<u16>,
        message: &'static str,
    },
}

pub fn reply(m: &asn::RasMessage) -> RasReply {
    use asn::RasMessage as R;
    match m {
        R::gatekeeperConfirm(x) => RasReply::GatekeeperConfirm {
            seq: x.request_seq_num.0,
            gatekeeper_id: x.gatekeeper_identifier.as_ref().map(|g| bmp_string(&g.0)),
            ras_address: socket_addr(&x.ras_address),
        },
        R::registrationConfirm(x) => RasReply::RegistrationConfirm {
            seq: x.request_seq_num.0,
            endpoint_id: bmp_string(&x.endpoint_identifier.0),
            gatekeeper_id: x.gatekeeper_identifier.as_ref().map(|g| bmp_string(&g.0)),
            time_to_live: x.time_to_live.as_ref().map(|t| t.0),
            aliases: aliases_from_asn(x.terminal_alias.as_ref()),
        },
        R::admissionConfirm(x) => RasReply::AdmissionConfirm {
            seq: x.request_seq_num.0,
            dest_call_signal_address: socket_addr(&x.dest_call_signal_address),
            bandwidth: x.band_width.0,
            routed_by_gatekeeper: matches!(x.call_model, asn::CallModel::gatekeeperRouted(())),
        },
        R::unregistrationConfirm(x) => RasReply::UnregistrationConfirm {
            seq: x.request_seq_num.0,
        },
        R::disengageConfirm(x) => RasReply::DisengageConfirm {
            seq: x.request_seq_num.0,
        },
        R::gatekeeperReject(_)
        | R::registrationReject(_)
        | R::admissionReject(_)
        | R::unregistrationReject(_)
        | R::disengageReject(_) => RasReply::Reject {
            seq: sequence_number(m).unwrap_or(0),
            message: message_name(m),
        },
        _ => RasReply::Other {
            seq: sequence_number(m),
            message: message_name(m),
        },
    }
}
