//! Fast start (H.323 §8.1.7 "Fast connect procedure"): the caller proposes
//! OpenLogicalChannel structures in Setup's `fastStart`; the callee picks one transmit
//! and one receive channel and returns them, with its own media addresses, in a response
//! up to Connect. Only G.711 (A-law, µ-law) at n ms per packet is handled here.

use std::net::SocketAddrV4;

use h323_asn1::h245 as asn;
use h323_asn1::rasn;
use h323_asn1::rasn::types::OctetString;

/// RTP session 1 is audio (H.245 §7.2.2, H2250LogicalChannelParameters.sessionID).
pub const AUDIO_SESSION: u8 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum G711 {
    ALaw,
    MuLaw,
}

impl G711 {
    /// H.245 AudioCapability with `frames` = milliseconds of audio per packet (for G.711
    /// the "frame" is one 8-sample millisecond, H.245 §7.2.2.5).
    pub fn capability(self, frames: u16) -> asn::AudioCapability {
        match self {
            G711::ALaw => asn::AudioCapability::g711Alaw64k(frames),
            G711::MuLaw => asn::AudioCapability::g711Ulaw64k(frames),
        }
    }

    pub fn from_capability(c: &asn::AudioCapability) -> Option<(Self, u16)> {
        match c {
            asn::AudioCapability::g711Alaw64k(f) => Some((G711::ALaw, *f)),
            asn::AudioCapability::g711Ulaw64k(f) => Some((G711::MuLaw, *f)),
            _ => None,
        }
    }

    /// RTP static payload type (RFC 3551): PCMA 8, PCMU 0.
    pub fn payload_type(self) -> u8 {
        match self {
            G711::ALaw => 8,
            G711::MuLaw => 0,
        }
    }
}

/// Our RTP and RTCP addresses for the audio session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaAddresses {
    pub rtp: SocketAddrV4,
    pub rtcp: SocketAddrV4,
}

pub(crate) fn h245_address(a: SocketAddrV4) -> asn::TransportAddress {
    asn::TransportAddress::unicastAddress(asn::UnicastAddress::iPAddress(
        asn::UnicastAddressIPAddress::new(OctetString::from(a.ip().octets().to_vec()), a.port()),
    ))
}

pub(crate) fn socket_of(t: &asn::TransportAddress) -> Option<SocketAddrV4> {
    match t {
        asn::TransportAddress::unicastAddress(asn::UnicastAddress::iPAddress(a))
            if a.network.len() == 4 =>
        {
            let n = &a.network;
            Some(SocketAddrV4::new(
                [n[0], n[1], n[2], n[3]].into(),
                a.tsap_identifier,
            ))
        }
        _ => None,
    }
}

fn h2250(
    media: Option<SocketAddrV4>,
    control: Option<SocketAddrV4>,
) -> asn::H2250LogicalChannelParameters {
    asn::H2250LogicalChannelParameters::new(
        None,
        AUDIO_SESSION,
        None,
        media.map(h245_address),
        None,
        control.map(h245_address),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    )
}

type FwdMux = asn::OpenLogicalChannelForwardLogicalChannelParametersMultiplexParameters;
type RevMux = asn::OpenLogicalChannelReverseLogicalChannelParametersMultiplexParameters;

/// A transmit proposal: we send `codec` to the peer; the peer fills in `mediaChannel`
/// (where it wants our RTP) when it accepts (H.323 §8.1.7.1).
pub fn transmit_proposal(
    channel: u16,
    codec: G711,
    frames: u16,
    local: MediaAddresses,
) -> asn::OpenLogicalChannel {
    asn::OpenLogicalChannel::new(
        asn::LogicalChannelNumber(channel),
        asn::OpenLogicalChannelForwardLogicalChannelParameters::new(
            None,
            asn::DataType::audioData(codec.capability(frames)),
            FwdMux::h2250LogicalChannelParameters(Box::new(h2250(None, Some(local.rtcp)))),
            None,
            None,
        ),
        None,
        None,
        None,
        None,
    )
}

/// A receive proposal: the peer may send `codec` to our `local.rtp` (H.323 §8.1.7.1:
/// forward dataType nullData, multiplexParameters none; reverse parameters describe the
/// channel).
pub fn receive_proposal(
    channel: u16,
    codec: G711,
    frames: u16,
    local: MediaAddresses,
) -> asn::OpenLogicalChannel {
    asn::OpenLogicalChannel::new(
        asn::LogicalChannelNumber(channel),
        asn::OpenLogicalChannelForwardLogicalChannelParameters::new(
            None,
            asn::DataType::nullData(()),
            FwdMux::none(()),
            None,
            None,
        ),
        Some(asn::OpenLogicalChannelReverseLogicalChannelParameters::new(
            asn::DataType::audioData(codec.capability(frames)),
            Some(RevMux::h2250LogicalChannelParameters(Box::new(h2250(
                Some(local.rtp),
                Some(local.rtcp),
            )))),
            None,
            None,
        )),
        None,
        None,
        None,
    )
}

/// The caller's proposals, in preference order: for each codec a transmit then a
/// receive proposal (G.711 A-law and µ-law give four OpenLogicalChannels).
pub fn proposals(
    codecs: &[G711],
    frames: u16,
    local: MediaAddresses,
) -> Vec<asn::OpenLogicalChannel> {
    let mut out = Vec::with_capacity(codecs.len() * 2);
    for (i, c) in codecs.iter().enumerate() {
        let n = (i as u16) * 2 + 1;
        out.push(transmit_proposal(n, *c, frames, local));
        out.push(receive_proposal(n + 1, *c, frames, local));
    }
    out
}

/// Encodes OpenLogicalChannels for a `fastStart` element list.
pub fn encode_all(
    olcs: &[asn::OpenLogicalChannel],
) -> Result<Vec<Vec<u8>>, rasn::error::EncodeError> {
    olcs.iter().map(rasn::aper::encode).collect()
}

/// One fast-start element, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Proposal {
    /// The sender transmits `codec` (forward channel); `rtcp` is its RTCP address,
    /// `rtp` is filled in when this is an answer.
    Transmit {
        olc: Box<asn::OpenLogicalChannel>,
        codec: G711,
        frames: u16,
        rtp: Option<SocketAddrV4>,
        rtcp: Option<SocketAddrV4>,
    },
    /// The sender receives `codec` on `rtp` (reverse channel).
    Receive {
        olc: Box<asn::OpenLogicalChannel>,
        codec: G711,
        frames: u16,
        rtp: Option<SocketAddrV4>,
        rtcp: Option<SocketAddrV4>,
    },
    /// Another codec or media type, or an element we could not decode.
    Other,
}

pub fn classify(element: &[u8]) -> Proposal {
    let Ok(olc) = rasn::aper::decode::<asn::OpenLogicalChannel>(element) else {
        return Proposal::Other;
    };
    let fwd = &olc.forward_logical_channel_parameters;
    if let asn::DataType::audioData(a) = &fwd.data_type {
        let Some((codec, frames)) = G711::from_capability(a) else {
            return Proposal::Other;
        };
        let (rtp, rtcp) = match &fwd.multiplex_parameters {
            FwdMux::h2250LogicalChannelParameters(p) => (
                p.media_channel.as_ref().and_then(socket_of),
                p.media_control_channel.as_ref().and_then(socket_of),
            ),
            _ => (None, None),
        };
        return Proposal::Transmit {
            olc: Box::new(olc),
            codec,
            frames,
            rtp,
            rtcp,
        };
    }
    let reverse = olc
        .reverse_logical_channel_parameters
        .as_ref()
        .and_then(|rev| {
            let asn::DataType::audioData(a) = &rev.data_type else {
                return None;
            };
            let (codec, frames) = G711::from_capability(a)?;
            let (rtp, rtcp) = match &rev.multiplex_parameters {
                Some(RevMux::h2250LogicalChannelParameters(p)) => (
                    p.media_channel.as_ref().and_then(socket_of),
                    p.media_control_channel.as_ref().and_then(socket_of),
                ),
                _ => (None, None),
            };
            Some((codec, frames, rtp, rtcp))
        });
    match reverse {
        Some((codec, frames, rtp, rtcp)) => Proposal::Receive {
            olc: Box::new(olc),
            codec,
            frames,
            rtp,
            rtcp,
        },
        None => Proposal::Other,
    }
}

/// The media both sides agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub codec: G711,
    /// Milliseconds per packet.
    pub frames: u16,
    /// Where to send our RTP and RTCP.
    pub remote_rtp: SocketAddrV4,
    pub remote_rtcp: Option<SocketAddrV4>,
}

/// The callee's choice: what to put in the response's `fastStart`, and the media.
#[derive(Debug, Clone, PartialEq)]
pub struct FastStartAnswer {
    pub negotiated: Negotiated,
    /// Encoded OpenLogicalChannels for the response's `fastStart`.
    pub elements: Vec<Vec<u8>>,
}

/// Callee side (H.323 §8.1.7.1): takes the first G.711 codec, in the caller's order, for
/// which the caller offered both a transmit and a receive channel and that we `accept`;
/// returns `None` when nothing fits (answer with `fastConnectRefused` or plain H.245).
pub fn select(
    elements: &[OctetString],
    accept: &[G711],
    local: MediaAddresses,
) -> Option<FastStartAnswer> {
    let classified: Vec<Proposal> = elements.iter().map(|e| classify(e)).collect();
    for p in &classified {
        let Proposal::Transmit {
            olc: tx,
            codec,
            frames,
            ..
        } = p
        else {
            continue;
        };
        if !accept.contains(codec) {
            continue;
        }
        // The caller's receive channel for the same codec tells us where to send.
        let rx = classified.iter().find_map(|q| match q {
            Proposal::Receive {
                olc,
                codec: c,
                rtp: Some(rtp),
                rtcp,
                ..
            } if c == codec => Some((olc, *rtp, *rtcp)),
            _ => None,
        });
        let Some((rx_olc, remote_rtp, remote_rtcp)) = rx else {
            continue;
        };
        // Caller→us: add where we receive (mediaChannel) and our RTCP.
        let mut tx_answer = (**tx).clone();
        if let FwdMux::h2250LogicalChannelParameters(p) = &mut tx_answer
            .forward_logical_channel_parameters
            .multiplex_parameters
        {
            p.media_channel = Some(h245_address(local.rtp));
            p.media_control_channel = Some(h245_address(local.rtcp));
        }
        // Us→caller: the caller's receive proposal as offered (it holds the caller's
        // RTP and RTCP addresses).
        let rx_answer = (**rx_olc).clone();
        let elements = match encode_all(&[tx_answer, rx_answer]) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "fast start answer does not encode");
                return None;
            }
        };
        return Some(FastStartAnswer {
            negotiated: Negotiated {
                codec: *codec,
                frames: *frames,
                remote_rtp,
                remote_rtcp,
            },
            elements,
        });
    }
    None
}

/// Caller side: reads the callee's answer (`fastStart` of Call Proceeding ... Connect).
/// The accepted transmit channel carries the callee's `mediaChannel`.
pub fn accepted(elements: &[OctetString]) -> Option<Negotiated> {
    elements.iter().find_map(|e| match classify(e) {
        Proposal::Transmit {
            codec,
            frames,
            rtp: Some(rtp),
            rtcp,
            ..
        } => Some(Negotiated {
            codec,
            frames,
            remote_rtp: rtp,
            remote_rtcp: rtcp,
        }),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(last: u8, port: u16) -> MediaAddresses {
        MediaAddresses {
            rtp: SocketAddrV4::new([10, 0, 0, last].into(), port),
            rtcp: SocketAddrV4::new([10, 0, 0, last].into(), port + 1),
        }
    }

    #[test]
    fn caller_and_callee_agree() {
        let caller = addrs(1, 5000);
        let callee = addrs(2, 6000);
        let offer = encode_all(&proposals(&[G711::ALaw, G711::MuLaw], 20, caller)).unwrap();
        assert_eq!(offer.len(), 4);
        let offer: Vec<OctetString> = offer.into_iter().map(OctetString::from).collect();
        // The callee only speaks µ-law: it skips the A-law pair.
        let answer = select(&offer, &[G711::MuLaw], callee).unwrap();
        assert_eq!(answer.negotiated.codec, G711::MuLaw);
        assert_eq!(answer.negotiated.frames, 20);
        assert_eq!(answer.negotiated.remote_rtp, caller.rtp);
        assert_eq!(answer.negotiated.remote_rtcp, Some(caller.rtcp));
        let back: Vec<OctetString> = answer.elements.into_iter().map(OctetString::from).collect();
        let seen = accepted(&back).unwrap();
        assert_eq!(seen.codec, G711::MuLaw);
        assert_eq!(seen.remote_rtp, callee.rtp);
        assert_eq!(seen.remote_rtcp, Some(callee.rtcp));
    }

    #[test]
    fn nothing_acceptable() {
        let offer = encode_all(&proposals(&[G711::ALaw], 20, addrs(1, 5000))).unwrap();
        let offer: Vec<OctetString> = offer.into_iter().map(OctetString::from).collect();
        assert!(select(&offer, &[G711::MuLaw], addrs(2, 6000)).is_none());
        assert!(select(
            &[OctetString::from(vec![0xFF, 0x00])],
            &[G711::ALaw],
            addrs(2, 6000)
        )
        .is_none());
    }
}
