//! H.245 messages carried in H.225.0 (`h245Control`, H.225.0 §7.6 / H.323 §8.2.1
//! "H.245 tunnelling"): each element is one aligned-PER MultimediaSystemControlMessage.
//! The same encoding is used on a separate H.245 TCP connection (inside TPKT).

use h323_asn1::h245 as asn;
use h323_asn1::rasn;
use thiserror::Error;

use crate::h225::call_signal::is_unknown_alternative;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum H245Error {
    #[error("H.245 PER: {0}")]
    Per(String),
    /// A message type (CHOICE alternative) from a later H.245 version: only this message
    /// is lost; H.245 §8 says to answer it with FunctionNotSupported.
    #[error("H.245 message with an unknown extension alternative: {detail}")]
    UnknownAlternative { raw: Vec<u8>, detail: String },
}

pub fn encode(msg: &asn::MultimediaSystemControlMessage) -> Result<Vec<u8>, H245Error> {
    rasn::aper::encode(msg).map_err(|e| H245Error::Per(e.to_string()))
}

pub fn decode(bytes: &[u8]) -> Result<asn::MultimediaSystemControlMessage, H245Error> {
    rasn::aper::decode(bytes).map_err(|e| {
        if is_unknown_alternative(&e) {
            H245Error::UnknownAlternative {
                raw: bytes.to_vec(),
                detail: e.to_string(),
            }
        } else {
            H245Error::Per(e.to_string())
        }
    })
}

/// The message's ASN.1 alternative name, as tshark shows it (e.g. `masterSlaveDetermination`).
pub fn message_name(msg: &asn::MultimediaSystemControlMessage) -> &'static str {
    use asn::MultimediaSystemControlMessage as M;
    match msg {
        M::request(r) => match r {
            asn::RequestMessage::nonStandard(_) => "nonStandard",
            asn::RequestMessage::masterSlaveDetermination(_) => "masterSlaveDetermination",
            asn::RequestMessage::terminalCapabilitySet(_) => "terminalCapabilitySet",
            asn::RequestMessage::openLogicalChannel(_) => "openLogicalChannel",
            asn::RequestMessage::closeLogicalChannel(_) => "closeLogicalChannel",
            asn::RequestMessage::requestChannelClose(_) => "requestChannelClose",
            asn::RequestMessage::roundTripDelayRequest(_) => "roundTripDelayRequest",
            _ => "request",
        },
        M::response(r) => match r {
            asn::ResponseMessage::masterSlaveDeterminationAck(_) => "masterSlaveDeterminationAck",
            asn::ResponseMessage::masterSlaveDeterminationReject(_) => {
                "masterSlaveDeterminationReject"
            }
            asn::ResponseMessage::terminalCapabilitySetAck(_) => "terminalCapabilitySetAck",
            asn::ResponseMessage::terminalCapabilitySetReject(_) => "terminalCapabilitySetReject",
            asn::ResponseMessage::openLogicalChannelAck(_) => "openLogicalChannelAck",
            asn::ResponseMessage::openLogicalChannelReject(_) => "openLogicalChannelReject",
            asn::ResponseMessage::closeLogicalChannelAck(_) => "closeLogicalChannelAck",
            asn::ResponseMessage::requestChannelCloseAck(_) => "requestChannelCloseAck",
            asn::ResponseMessage::roundTripDelayResponse(_) => "roundTripDelayResponse",
            _ => "response",
        },
        M::command(c) => match c {
            asn::CommandMessage::endSessionCommand(_) => "endSessionCommand",
            asn::CommandMessage::sendTerminalCapabilitySet(_) => "sendTerminalCapabilitySet",
            asn::CommandMessage::flowControlCommand(_) => "flowControlCommand",
            asn::CommandMessage::miscellaneousCommand(_) => "miscellaneousCommand",
            _ => "command",
        },
        M::indication(i) => match i {
            asn::IndicationMessage::userInput(_) => "userInput",
            asn::IndicationMessage::functionNotUnderstood(_) => "functionNotUnderstood",
            asn::IndicationMessage::masterSlaveDeterminationRelease(_) => {
                "masterSlaveDeterminationRelease"
            }
            asn::IndicationMessage::terminalCapabilitySetRelease(_) => {
                "terminalCapabilitySetRelease"
            }
            asn::IndicationMessage::openLogicalChannelConfirm(_) => "openLogicalChannelConfirm",
            _ => "indication",
        },
        _ => "unknown",
    }
}

/// H.245 §8.2 MasterSlaveDetermination; `terminal_type` per H.323 Table 1 (a gateway
/// without MC is 60), `random` 0..2^24.
pub fn master_slave_determination(
    terminal_type: u8,
    random: u32,
) -> asn::MultimediaSystemControlMessage {
    asn::MultimediaSystemControlMessage::request(asn::RequestMessage::masterSlaveDetermination(
        asn::MasterSlaveDetermination::new(terminal_type, random & 0x00FF_FFFF),
    ))
}

/// H.245 §8.2 MasterSlaveDeterminationAck telling the peer which role it has.
pub fn master_slave_determination_ack(peer_is_master: bool) -> asn::MultimediaSystemControlMessage {
    let decision = if peer_is_master {
        asn::MasterSlaveDeterminationAckDecision::master(())
    } else {
        asn::MasterSlaveDeterminationAckDecision::slave(())
    };
    asn::MultimediaSystemControlMessage::response(
        asn::ResponseMessage::masterSlaveDeterminationAck(asn::MasterSlaveDeterminationAck::new(
            decision,
        )),
    )
}

/// H.245 EndSessionCommand `disconnect`.
pub fn end_session() -> asn::MultimediaSystemControlMessage {
    asn::MultimediaSystemControlMessage::command(asn::CommandMessage::endSessionCommand(
        asn::EndSessionCommand::disconnect(()),
    ))
}

/// Decodes every tunnelled message of an H.225.0 message; a bad one does not spoil the
/// others.
pub fn decode_all(
    h245_control: &[h323_asn1::rasn::types::OctetString],
) -> Vec<Result<asn::MultimediaSystemControlMessage, H245Error>> {
    h245_control.iter().map(|b| decode(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msd_round_trip() {
        let m = master_slave_determination(60, 0x123456);
        let b = encode(&m).unwrap();
        assert_eq!(decode(&b).unwrap(), m);
        assert_eq!(message_name(&m), "masterSlaveDetermination");
    }

    #[test]
    fn unknown_request_alternative_is_reported_not_fatal() {
        // request CHOICE with the extension bit set and an index (30) no version defines:
        // bits 0 (root) 00 (request) 1 (extended) 0 011110 (index 30), padding, then an
        // open type of one octet.
        let bytes = [0x13, 0xC0, 0x01, 0x00];
        match decode(&bytes) {
            Err(H245Error::UnknownAlternative { raw, .. }) => assert_eq!(raw, bytes),
            other => panic!("expected UnknownAlternative, got {other:?}"),
        }
    }
}
