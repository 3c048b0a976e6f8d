//! Builders for the RAS messages that answer a request (confirms, rejects, RIP, XRS), for
//! the gatekeeper's own requests to an endpoint (URQ, DRQ, IRQ, BRQ), and for the
//! endpoint's answers to those (UCF, DCF, IRR, BCF). H.225.0 RAS (§7.7 onwards).

use std::net::SocketAddrV4;

use h323_asn1::h225 as asn;
use h323_asn1::rasn::types::OctetString;

use super::{
    call_reference_value, disengage, endpoint_type, ep_id, gk_id, unregistration, RasError,
    Registrant,
};
use crate::h225::call_signal::PROTOCOL_VERSION;
use crate::h225::ids::{aliases_to_asn, protocol_identifier, transport_address};
use crate::h225::{Alias, Guid};

fn seq(n: u16) -> asn::RequestSeqNum {
    asn::RequestSeqNum(n)
}

/// CallModel (H.225.0 §7.11.2 ACF, and IRR perCallInfo): whether the call-signalling
/// channel runs through the gatekeeper or straight to the other endpoint.
fn call_model(routed_by_gatekeeper: bool) -> asn::CallModel {
    if routed_by_gatekeeper {
        asn::CallModel::gatekeeperRouted(())
    } else {
        asn::CallModel::direct(())
    }
}

/// The `callSignalAddress` list of an RCF or a gatekeeper's URQ (H.225.0 §7.9.2, §7.10.1).
fn transport_addresses(addresses: &[SocketAddrV4]) -> Vec<asn::TransportAddress> {
    addresses.iter().copied().map(transport_address).collect()
}

/// H.225.0 §7.8.2 GatekeeperConfirm.
pub fn gatekeeper_confirm(
    n: u16,
    gatekeeper_id: &str,
    ras_address: SocketAddrV4,
) -> Result<asn::RasMessage, RasError> {
    Ok(asn::RasMessage::gatekeeperConfirm(Box::new(
        asn::GatekeeperConfirm::new(
            seq(n),
            protocol_identifier(PROTOCOL_VERSION),
            None,
            Some(gk_id(gatekeeper_id)?),
            transport_address(ras_address),
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
        ),
    )))
}

/// H.225.0 §7.8.3 GatekeeperReject.
pub fn gatekeeper_reject(
    n: u16,
    gatekeeper_id: Option<&str>,
    reason: asn::GatekeeperRejectReason,
) -> Result<asn::RasMessage, RasError> {
    Ok(asn::RasMessage::gatekeeperReject(Box::new(
        asn::GatekeeperReject::new(
            seq(n),
            protocol_identifier(PROTOCOL_VERSION),
            None,
            gatekeeper_id.map(gk_id).transpose()?,
            reason,
            None,
            None,
            None,
            None,
            None,
            None,
        ),
    )))
}

/// What an RCF grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration<'a> {
    pub call_signal_addresses: &'a [SocketAddrV4],
    pub aliases: &'a [Alias],
    pub gatekeeper_id: &'a str,
    pub endpoint_id: &'a str,
    /// Seconds (H.225.0 §7.9.2 timeToLive); `None`: the registration does not expire.
    pub time_to_live: Option<u32>,
}

/// H.225.0 §7.9.2 RegistrationConfirm.
pub fn registration_confirm(n: u16, r: &Registration<'_>) -> Result<asn::RasMessage, RasError> {
    Ok(asn::RasMessage::registrationConfirm(Box::new(
        asn::RegistrationConfirm::new(
            seq(n),
            protocol_identifier(PROTOCOL_VERSION),
            None,
            transport_addresses(r.call_signal_addresses),
            aliases_to_asn(r.aliases)?,
            Some(gk_id(r.gatekeeper_id)?),
            ep_id(r.endpoint_id)?,
            None,
            r.time_to_live.map(asn::TimeToLive),
            None,
            None,
            None,
            Some(false),
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
            None,
            None,
            None,
            None,
        ),
    )))
}

/// H.225.0 §7.9.3 RegistrationReject.
pub fn registration_reject(
    n: u16,
    gatekeeper_id: Option<&str>,
    reason: asn::RegistrationRejectReason,
) -> Result<asn::RasMessage, RasError> {
    Ok(asn::RasMessage::registrationReject(Box::new(
        asn::RegistrationReject::new(
            seq(n),
            protocol_identifier(PROTOCOL_VERSION),
            None,
            reason,
            gatekeeper_id.map(gk_id).transpose()?,
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

/// H.225.0 §7.10.1 UnregistrationRequest sent by a gatekeeper (with a reason).
pub fn gatekeeper_unregistration_request(
    n: u16,
    call_signal_addresses: &[SocketAddrV4],
    endpoint_id: &str,
    gatekeeper_id: &str,
    reason: asn::UnregRequestReason,
) -> Result<asn::RasMessage, RasError> {
    unregistration(
        n,
        transport_addresses(call_signal_addresses),
        None,
        Some(endpoint_id),
        Some(gatekeeper_id),
        Some(reason),
    )
}

/// H.225.0 §7.10.2 UnregistrationConfirm.
pub fn unregistration_confirm(n: u16) -> asn::RasMessage {
    asn::RasMessage::unregistrationConfirm(Box::new(asn::UnregistrationConfirm::new(
        seq(n),
        None,
        None,
        None,
        None,
        None,
        None,
    )))
}

/// H.225.0 §7.10.3 UnregistrationReject.
pub fn unregistration_reject(n: u16, reason: asn::UnregRejectReason) -> asn::RasMessage {
    asn::RasMessage::unregistrationReject(Box::new(asn::UnregistrationReject::new(
        seq(n),
        reason,
        None,
        None,
        None,
        None,
        None,
        None,
    )))
}

fn no_uuies() -> asn::UUIEsRequested {
    asn::UUIEsRequested::new(
        false,
        false,
        false,
        false,
        false,
        false,
        false,
        false,
        false,
        Some(false),
        Some(false),
        Some(false),
        Some(false),
    )
}

/// H.225.0 §7.11.2 AdmissionConfirm.
pub fn admission_confirm(
    n: u16,
    bandwidth: u32,
    routed_by_gatekeeper: bool,
    dest_call_signal_address: SocketAddrV4,
) -> asn::RasMessage {
    asn::RasMessage::admissionConfirm(Box::new(asn::AdmissionConfirm::new(
        seq(n),
        asn::BandWidth(bandwidth),
        call_model(routed_by_gatekeeper),
        transport_address(dest_call_signal_address),
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
        Some(false),
        Some(no_uuies()),
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
    )))
}

/// H.225.0 §7.11.3 AdmissionReject.
pub fn admission_reject(n: u16, reason: asn::AdmissionRejectReason) -> asn::RasMessage {
    asn::RasMessage::admissionReject(Box::new(asn::AdmissionReject::new(
        seq(n),
        reason,
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
    )))
}

/// H.225.0 §7.12.1 DisengageRequest sent by a gatekeeper (`forcedDrop`).
pub fn gatekeeper_disengage_request(
    n: u16,
    endpoint_id: &str,
    call_ref: u16,
    call_id: Guid,
    conference_id: Guid,
) -> Result<asn::RasMessage, RasError> {
    disengage(
        n,
        endpoint_id,
        call_ref,
        call_id,
        conference_id,
        asn::DisengageReason::forcedDrop(()),
        false,
    )
}

/// H.225.0 §7.12.2 DisengageConfirm.
pub fn disengage_confirm(n: u16) -> asn::RasMessage {
    asn::RasMessage::disengageConfirm(Box::new(asn::DisengageConfirm::new(
        seq(n),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    )))
}

/// H.225.0 §7.12.3 DisengageReject.
pub fn disengage_reject(n: u16, reason: asn::DisengageRejectReason) -> asn::RasMessage {
    asn::RasMessage::disengageReject(Box::new(asn::DisengageReject::new(
        seq(n),
        reason,
        None,
        None,
        None,
        None,
        None,
        None,
    )))
}

/// H.225.0 BandwidthRequest (BRQ) from the gatekeeper (it changes a call's bandwidth).
pub fn gatekeeper_bandwidth_request(
    n: u16,
    endpoint_id: &str,
    call_ref: u16,
    call_id: Guid,
    conference_id: Guid,
    bandwidth: u32,
) -> Result<asn::RasMessage, RasError> {
    Ok(asn::RasMessage::bandwidthRequest(Box::new(
        asn::BandwidthRequest::new(
            seq(n),
            ep_id(endpoint_id)?,
            conference_id.conference_identifier(),
            call_reference_value(call_ref),
            None,
            asn::BandWidth(bandwidth),
            None,
            Some(call_id.call_identifier()),
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
        ),
    )))
}

/// H.225.0 BandwidthConfirm (BCF).
pub fn bandwidth_confirm(n: u16, bandwidth: u32) -> asn::RasMessage {
    asn::RasMessage::bandwidthConfirm(Box::new(asn::BandwidthConfirm::new(
        seq(n),
        asn::BandWidth(bandwidth),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    )))
}

/// H.225.0 BandwidthReject (BRJ).
pub fn bandwidth_reject(
    n: u16,
    reason: asn::BandRejectReason,
    allowed_bandwidth: u32,
) -> asn::RasMessage {
    asn::RasMessage::bandwidthReject(Box::new(asn::BandwidthReject::new(
        seq(n),
        reason,
        asn::BandWidth(allowed_bandwidth),
        None,
        None,
        None,
        None,
        None,
        None,
    )))
}

/// H.225.0 InfoRequest (IRQ): `call_ref` 0 asks about every call of the endpoint.
pub fn info_request(
    n: u16,
    call_ref: u16,
    call_id: Option<Guid>,
    reply_address: Option<SocketAddrV4>,
) -> asn::RasMessage {
    asn::RasMessage::infoRequest(Box::new(asn::InfoRequest::new(
        seq(n),
        call_reference_value(call_ref),
        None,
        reply_address.map(transport_address),
        call_id.map(Guid::call_identifier),
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
    )))
}

/// One call in an IRR (H.225.0 InfoRequestResponse.perCallInfo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo {
    pub call_ref: u16,
    pub call_id: Guid,
    pub conference_id: Guid,
    /// We placed the call (`originator`).
    pub originator: bool,
    pub bandwidth: u32,
    pub routed_by_gatekeeper: bool,
}

/// H.225.0 InfoRequestResponse (IRR) (solicited, no response needed).
pub fn info_request_response(
    n: u16,
    r: &Registrant,
    endpoint_id: &str,
    calls: &[CallInfo],
) -> Result<asn::RasMessage, RasError> {
    let per_call: Vec<_> = calls
        .iter()
        .map(|c| {
            asn::AnonymousInfoRequestResponsePerCallInfo::new(
                None,
                call_reference_value(c.call_ref),
                c.conference_id.conference_identifier(),
                Some(c.originator),
                None,
                None,
                None,
                asn::TransportChannelInfo::new(None, None),
                asn::TransportChannelInfo::new(
                    Some(transport_address(r.call_signal_address)),
                    None,
                ),
                asn::CallType::pointToPoint(()),
                asn::BandWidth(c.bandwidth),
                call_model(c.routed_by_gatekeeper),
                Some(c.call_id.call_identifier()),
                None,
                None,
                None,
                None,
                None,
                None,
                None,
            )
        })
        .collect();
    Ok(asn::RasMessage::infoRequestResponse(Box::new(
        asn::InfoRequestResponse::new(
            None,
            seq(n),
            endpoint_type(r)?,
            ep_id(endpoint_id)?,
            transport_address(r.ras_address),
            vec![transport_address(r.call_signal_address)],
            aliases_to_asn(&r.aliases)?,
            (!per_call.is_empty()).then_some(asn::InfoRequestResponsePerCallInfo(per_call)),
            None,
            None,
            None,
            Some(false),
            None,
            Some(asn::InfoRequestResponseStatus::complete(())),
            Some(false),
            None,
        ),
    )))
}

/// H.225.0 RequestInProgress (RIP): "answer coming, wait `delay_ms` more".
pub fn request_in_progress(n: u16, delay_ms: u16) -> asn::RasMessage {
    asn::RasMessage::requestInProgress(Box::new(asn::RequestInProgress::new(
        seq(n),
        None,
        None,
        None,
        None,
        delay_ms.max(1),
    )))
}

/// H.225.0 UnknownMessageResponse (XRS) to a request we do not handle.
pub fn unknown_message_response(n: u16, not_understood: &[u8]) -> asn::RasMessage {
    asn::RasMessage::unknownMessageResponse(asn::UnknownMessageResponse::new(
        seq(n),
        None,
        None,
        None,
        Some(OctetString::from(not_understood.to_vec())),
    ))
}
