//! Unidirectional audio logical channels (H.245 §8.4, the LCSE of Annex C.5):
//! OpenLogicalChannel for the forward audio channel with its H.225.0 parameters
//! (H2250LogicalChannelParameters: session 1, our RTCP address), the Ack carrying the
//! receiver's media channel addresses, Reject, CloseLogicalChannel and its Ack.

use std::net::SocketAddrV4;

use h323_asn1::h245 as asn;

use crate::fast_start::{
    h245_address, socket_of, transmit_proposal, MediaAddresses, AUDIO_SESSION, G711,
};

type FwdMux = asn::OpenLogicalChannelForwardLogicalChannelParametersMultiplexParameters;

/// H.245 §6.2.8.x OpenLogicalChannel: we transmit `codec` on forward channel `channel`;
/// the receiver answers with where it wants the RTP (H.225.0 §6.2.x: the
/// `mediaChannel` of the Ack) and we give our RTCP address. It is the very
/// OpenLogicalChannel a fast-start transmit proposal carries (H.323 §8.1.7.1), sent here
/// on its own in an H.245 request.
pub fn open(
    channel: u16,
    codec: G711,
    frames: u16,
    local: MediaAddresses,
) -> asn::MultimediaSystemControlMessage {
    let olc = transmit_proposal(channel, codec, frames, local);
    asn::MultimediaSystemControlMessage::request(asn::RequestMessage::openLogicalChannel(Box::new(
        olc,
    )))
}

/// What an incoming OpenLogicalChannel asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer {
    /// A forward G.711 audio channel: the peer sends `codec` to us; `rtcp` is its RTCP.
    Audio {
        channel: u16,
        codec: G711,
        frames: u16,
        rtcp: Option<SocketAddrV4>,
    },
    /// Anything else: refused with the cause given.
    Unsupported { channel: u16, cause: RejectCause },
}

/// The OpenLogicalChannelReject causes we send or report (H.245 §6.2.8.x).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectCause {
    Unspecified,
    UnsuitableReverseParameters,
    DataTypeNotSupported,
    DataTypeNotAvailable,
    Other,
}

impl RejectCause {
    fn to_asn(self) -> asn::OpenLogicalChannelRejectCause {
        use asn::OpenLogicalChannelRejectCause as C;
        match self {
            RejectCause::UnsuitableReverseParameters => C::unsuitableReverseParameters(()),
            RejectCause::DataTypeNotSupported => C::dataTypeNotSupported(()),
            RejectCause::DataTypeNotAvailable => C::dataTypeNotAvailable(()),
            RejectCause::Unspecified | RejectCause::Other => C::unspecified(()),
        }
    }

    fn from_asn(c: &asn::OpenLogicalChannelRejectCause) -> Self {
        use asn::OpenLogicalChannelRejectCause as C;
        match c {
            C::unspecified(()) => RejectCause::Unspecified,
            C::unsuitableReverseParameters(()) => RejectCause::UnsuitableReverseParameters,
            C::dataTypeNotSupported(()) => RejectCause::DataTypeNotSupported,
            C::dataTypeNotAvailable(()) => RejectCause::DataTypeNotAvailable,
            _ => RejectCause::Other,
        }
    }
}

/// Reads an incoming OpenLogicalChannel: `accept` are the codecs we receive.
pub fn classify_offer(olc: &asn::OpenLogicalChannel, accept: &[G711]) -> Offer {
    let channel = olc.forward_logical_channel_number.0;
    if olc.reverse_logical_channel_parameters.is_some() {
        // A bidirectional channel: audio over RTP is opened one way at a time (H.323
        // §8.4.x); refuse it.
        return Offer::Unsupported {
            channel,
            cause: RejectCause::UnsuitableReverseParameters,
        };
    }
    let fwd = &olc.forward_logical_channel_parameters;
    let asn::DataType::audioData(audio) = &fwd.data_type else {
        return Offer::Unsupported {
            channel,
            cause: RejectCause::DataTypeNotSupported,
        };
    };
    match G711::from_capability(audio) {
        Some((codec, frames)) if accept.contains(&codec) => {
            let rtcp = match &fwd.multiplex_parameters {
                FwdMux::h2250LogicalChannelParameters(p) => {
                    p.media_control_channel.as_ref().and_then(socket_of)
                }
                _ => None,
            };
            Offer::Audio {
                channel,
                codec,
                frames,
                rtcp,
            }
        }
        _ => Offer::Unsupported {
            channel,
            cause: RejectCause::DataTypeNotSupported,
        },
    }
}

/// OpenLogicalChannelAck with our RTP and RTCP addresses (H.225.0 §6.2.x
/// H2250LogicalChannelAckParameters).
pub fn ack(channel: u16, local: MediaAddresses) -> asn::MultimediaSystemControlMessage {
    let params = asn::H2250LogicalChannelAckParameters::new(
        None,
        Some(AUDIO_SESSION),
        Some(h245_address(local.rtp)),
        Some(h245_address(local.rtcp)),
        None,
        None,
        None,
    );
    asn::MultimediaSystemControlMessage::response(asn::ResponseMessage::openLogicalChannelAck(
        Box::new(asn::OpenLogicalChannelAck::new(
            asn::LogicalChannelNumber(channel),
            None,
            None,
            Some(
                asn::OpenLogicalChannelAckForwardMultiplexAckParameters::h2250LogicalChannelAckParameters(
                    Box::new(params),
                ),
            ),
            None,
            None,
        )),
    ))
}

/// The media addresses of an OpenLogicalChannelAck: (RTP, RTCP).
pub fn ack_addresses(
    ack: &asn::OpenLogicalChannelAck,
) -> (Option<SocketAddrV4>, Option<SocketAddrV4>) {
    match &ack.forward_multiplex_ack_parameters {
        Some(
            asn::OpenLogicalChannelAckForwardMultiplexAckParameters::h2250LogicalChannelAckParameters(
                p,
            ),
        ) => (
            p.media_channel.as_ref().and_then(socket_of),
            p.media_control_channel.as_ref().and_then(socket_of),
        ),
        _ => (None, None),
    }
}

pub fn reject(channel: u16, cause: RejectCause) -> asn::MultimediaSystemControlMessage {
    asn::MultimediaSystemControlMessage::response(asn::ResponseMessage::openLogicalChannelReject(
        asn::OpenLogicalChannelReject::new(
            asn::LogicalChannelNumber(channel),
            cause.to_asn(),
            None,
        ),
    ))
}

pub fn reject_cause(r: &asn::OpenLogicalChannelReject) -> RejectCause {
    RejectCause::from_asn(&r.cause)
}

/// CloseLogicalChannel; `by_lcse` when the entity closes it itself (T103 expiry).
pub fn close(channel: u16, by_lcse: bool) -> asn::MultimediaSystemControlMessage {
    let source = if by_lcse {
        asn::CloseLogicalChannelSource::lcse(())
    } else {
        asn::CloseLogicalChannelSource::user(())
    };
    asn::MultimediaSystemControlMessage::request(asn::RequestMessage::closeLogicalChannel(
        asn::CloseLogicalChannel::new(asn::LogicalChannelNumber(channel), source, None),
    ))
}

pub fn close_ack(channel: u16) -> asn::MultimediaSystemControlMessage {
    asn::MultimediaSystemControlMessage::response(asn::ResponseMessage::closeLogicalChannelAck(
        asn::CloseLogicalChannelAck::new(asn::LogicalChannelNumber(channel)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media(port: u16) -> MediaAddresses {
        MediaAddresses {
            rtp: SocketAddrV4::new([127, 0, 0, 1].into(), port),
            rtcp: SocketAddrV4::new([127, 0, 0, 1].into(), port + 1),
        }
    }

    #[test]
    fn open_classify_ack() {
        let asn::MultimediaSystemControlMessage::request(asn::RequestMessage::openLogicalChannel(
            olc,
        )) = open(3, G711::MuLaw, 20, media(5000))
        else {
            panic!()
        };
        assert_eq!(
            classify_offer(&olc, &[G711::MuLaw]),
            Offer::Audio {
                channel: 3,
                codec: G711::MuLaw,
                frames: 20,
                rtcp: Some(media(5000).rtcp)
            }
        );
        assert_eq!(
            classify_offer(&olc, &[G711::ALaw]),
            Offer::Unsupported {
                channel: 3,
                cause: RejectCause::DataTypeNotSupported
            }
        );
        let asn::MultimediaSystemControlMessage::response(
            asn::ResponseMessage::openLogicalChannelAck(a),
        ) = ack(3, media(6000))
        else {
            panic!()
        };
        assert_eq!(
            ack_addresses(&a),
            (Some(media(6000).rtp), Some(media(6000).rtcp))
        );
    }
}
