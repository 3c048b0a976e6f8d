//! Capability exchange (H.245 §8.3, the CESE of Annex C.3): our TerminalCapabilitySet
//! (G.711 A-law/µ-law at n ms, RFC 2833 telephone-event, user input), the peer's set read
//! into what a gateway needs, and the Ack/Reject/Release messages.

use h323_asn1::h245 as asn;
use h323_asn1::rasn::types::{GeneralString, ObjectIdentifier, SetOf};

use crate::fast_start::G711;

/// H.245 protocol identifier `{itu-t(0) recommendation(0) h(8) 245 version(0) 15}`: the
/// module compiled into `h323-asn1` is H.245 v15.
pub fn protocol_identifier() -> ObjectIdentifier {
    ObjectIdentifier::new_unchecked(vec![0, 0, 8, 245, 0, 15].into())
}

/// The RFC 4733 events we receive: DTMF 0-9, *, #, A-D and flash (H.245 §7.2.2.x
/// AudioTelephonyEventCapability.audioTelephoneEvent, RFC 4733 §2.5.1 notation).
pub const TELEPHONE_EVENTS: &str = "0-16";

/// What we can receive, announced in our TerminalCapabilitySet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCapabilities {
    /// In preference order.
    pub codecs: Vec<G711>,
    /// Most milliseconds of G.711 per packet we accept (and the packetisation we send).
    pub frames: u16,
    /// RTP payload type (96..=127) on which we receive RFC 2833 telephone-events; `None`
    /// does not announce them.
    pub telephone_event: Option<u8>,
}

impl Default for LocalCapabilities {
    fn default() -> Self {
        Self {
            codecs: vec![G711::ALaw, G711::MuLaw],
            frames: 20,
            telephone_event: Some(101),
        }
    }
}

/// Capability table entry numbers we use (H.245 §7.2.2: any 1..65535, unique per set).
const FIRST_AUDIO_ENTRY: u16 = 1;
const TELEPHONE_EVENT_ENTRY: u16 = 10;
const UII_ALPHANUMERIC_ENTRY: u16 = 11;
const UII_DTMF_ENTRY: u16 = 12;

/// H.245 §6.2.8.1 TerminalCapabilitySet with sequence number `seq`.
pub fn terminal_capability_set(
    seq: u8,
    local: &LocalCapabilities,
) -> asn::MultimediaSystemControlMessage {
    let mut table = Vec::new();
    let mut audio_alternatives = Vec::new();
    for (i, codec) in local.codecs.iter().enumerate() {
        let n = FIRST_AUDIO_ENTRY + i as u16;
        table.push(asn::CapabilityTableEntry::new(
            asn::CapabilityTableEntryNumber(n),
            Some(asn::Capability::receiveAudioCapability(
                codec.capability(local.frames),
            )),
        ));
        audio_alternatives.push(asn::CapabilityTableEntryNumber(n));
    }
    let mut simultaneous = Vec::new();
    if !audio_alternatives.is_empty() {
        simultaneous.push(asn::AlternativeCapabilitySet(audio_alternatives));
    }
    if let Some(pt) = local.telephone_event {
        if let Ok(events) = GeneralString::from_bytes(TELEPHONE_EVENTS.as_bytes()) {
            table.push(asn::CapabilityTableEntry::new(
                asn::CapabilityTableEntryNumber(TELEPHONE_EVENT_ENTRY),
                Some(asn::Capability::receiveRTPAudioTelephonyEventCapability(
                    asn::AudioTelephonyEventCapability::new(pt.clamp(96, 127), events),
                )),
            ));
            simultaneous.push(asn::AlternativeCapabilitySet(vec![
                asn::CapabilityTableEntryNumber(TELEPHONE_EVENT_ENTRY),
            ]));
        }
    }
    // H.245 §7.2.2.x: user input we understand, as alphanumeric strings and as signals.
    table.push(asn::CapabilityTableEntry::new(
        asn::CapabilityTableEntryNumber(UII_ALPHANUMERIC_ENTRY),
        Some(asn::Capability::receiveUserInputCapability(
            asn::UserInputCapability::basicString(()),
        )),
    ));
    table.push(asn::CapabilityTableEntry::new(
        asn::CapabilityTableEntryNumber(UII_DTMF_ENTRY),
        Some(asn::Capability::receiveUserInputCapability(
            asn::UserInputCapability::dtmf(()),
        )),
    ));
    simultaneous.push(asn::AlternativeCapabilitySet(vec![
        asn::CapabilityTableEntryNumber(UII_ALPHANUMERIC_ENTRY),
        asn::CapabilityTableEntryNumber(UII_DTMF_ENTRY),
    ]));
    let descriptor = asn::CapabilityDescriptor::new(
        asn::CapabilityDescriptorNumber(0),
        Some(SetOf::from_vec(simultaneous)),
    );
    asn::MultimediaSystemControlMessage::request(asn::RequestMessage::terminalCapabilitySet(
        Box::new(asn::TerminalCapabilitySet::new(
            asn::SequenceNumber(seq),
            protocol_identifier(),
            Some(asn::MultiplexCapability::h2250Capability(Box::new(
                h2250_capability(),
            ))),
            Some(SetOf::from_vec(table)),
            Some(SetOf::from_vec(vec![descriptor])),
            None,
        )),
    ))
}

/// H.245 §7.2.2.x H2250Capability for a point-to-point audio gateway (no multipoint, no
/// MC), as H.323 §6.2.8 asks every TerminalCapabilitySet to carry.
fn h2250_capability() -> asn::H2250Capability {
    let no_multipoint = || asn::MultipointCapability::new(false, false, vec![]);
    asn::H2250Capability::new(
        60,
        no_multipoint(),
        no_multipoint(),
        no_multipoint(),
        asn::H2250CapabilityMcCapability::new(false, false),
        false,
        asn::MediaPacketizationCapability::new(false, None),
        None,
        None,
        None,
        None,
    )
}

/// What the peer's TerminalCapabilitySet says about audio and DTMF.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RemoteCapabilities {
    /// G.711 codecs the peer receives, in its table order, with its most ms per packet.
    pub audio: Vec<(G711, u16)>,
    /// RTP payload type on which the peer receives RFC 2833 telephone-events.
    pub telephone_event: Option<u8>,
    /// The peer understands UserInputIndication alphanumeric (basicString/iA5/general).
    pub user_input_alphanumeric: bool,
    /// The peer understands UserInputIndication signal (dtmf).
    pub user_input_dtmf: bool,
    /// The set has no capability table: H.245 §8.3 "empty capability set" (the peer
    /// closes its receive side, e.g. a third-party pause).
    pub empty: bool,
}

impl RemoteCapabilities {
    pub fn from_tcs(tcs: &asn::TerminalCapabilitySet) -> Self {
        let mut out = Self {
            empty: tcs.capability_table.is_none(),
            ..Self::default()
        };
        for entry in tcs.capability_table.iter().flat_map(|t| t.iter()) {
            let Some(cap) = &entry.capability else {
                continue;
            };
            match cap {
                asn::Capability::receiveAudioCapability(a)
                | asn::Capability::receiveAndTransmitAudioCapability(a) => {
                    if let Some(g) = G711::from_capability(a) {
                        if !out.audio.iter().any(|(c, _)| *c == g.0) {
                            out.audio.push(g);
                        }
                    }
                }
                asn::Capability::receiveRTPAudioTelephonyEventCapability(t) => {
                    out.telephone_event = Some(t.dynamic_rtppayload_type);
                }
                asn::Capability::receiveUserInputCapability(u)
                | asn::Capability::receiveAndTransmitUserInputCapability(u) => match u {
                    asn::UserInputCapability::basicString(())
                    | asn::UserInputCapability::iA5String(())
                    | asn::UserInputCapability::generalString(()) => {
                        out.user_input_alphanumeric = true
                    }
                    asn::UserInputCapability::dtmf(()) => out.user_input_dtmf = true,
                    _ => {}
                },
                _ => {}
            }
        }
        out
    }

    /// The codec we transmit: the first in the peer's order that we also have, at the
    /// smaller of the two packetisations.
    pub fn choose(&self, local: &LocalCapabilities) -> Option<(G711, u16)> {
        self.audio
            .iter()
            .find(|(c, _)| local.codecs.contains(c))
            .map(|(c, f)| (*c, (*f).min(local.frames).max(1)))
    }
}

/// H.245 TerminalCapabilitySetAck.
pub fn ack(seq: u8) -> asn::MultimediaSystemControlMessage {
    asn::MultimediaSystemControlMessage::response(asn::ResponseMessage::terminalCapabilitySetAck(
        asn::TerminalCapabilitySetAck::new(asn::SequenceNumber(seq), None),
    ))
}

/// H.245 TerminalCapabilitySetReject, cause unspecified.
pub fn reject(seq: u8) -> asn::MultimediaSystemControlMessage {
    asn::MultimediaSystemControlMessage::response(
        asn::ResponseMessage::terminalCapabilitySetReject(asn::TerminalCapabilitySetReject::new(
            asn::SequenceNumber(seq),
            asn::TerminalCapabilitySetRejectCause::unspecified(()),
            None,
        )),
    )
}

/// H.245 TerminalCapabilitySetRelease (sent when T101 expires, H.245 §C.3.2).
pub fn release() -> asn::MultimediaSystemControlMessage {
    asn::MultimediaSystemControlMessage::indication(
        asn::IndicationMessage::terminalCapabilitySetRelease(
            asn::TerminalCapabilitySetRelease::new(None),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_set_reads_back() {
        let local = LocalCapabilities::default();
        let msg = terminal_capability_set(1, &local);
        let bytes = crate::h245_tunnel::encode(&msg).unwrap();
        let back = crate::h245_tunnel::decode(&bytes).unwrap();
        let asn::MultimediaSystemControlMessage::request(
            asn::RequestMessage::terminalCapabilitySet(tcs),
        ) = back
        else {
            panic!("not a TCS");
        };
        let remote = RemoteCapabilities::from_tcs(&tcs);
        assert_eq!(remote.audio, vec![(G711::ALaw, 20), (G711::MuLaw, 20)]);
        assert_eq!(remote.telephone_event, Some(101));
        assert!(remote.user_input_alphanumeric && remote.user_input_dtmf);
        assert!(!remote.empty);
        let mu_only = LocalCapabilities {
            codecs: vec![G711::MuLaw],
            frames: 30,
            telephone_event: None,
        };
        assert_eq!(remote.choose(&mu_only), Some((G711::MuLaw, 20)));
        let none = LocalCapabilities {
            codecs: vec![],
            ..mu_only
        };
        assert_eq!(remote.choose(&none), None);
    }
}
