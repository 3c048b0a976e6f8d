//! The Q.931 framing H.225.0 uses for call signalling (H.225.0 §7.2, Q.931 §4):
//! protocol discriminator, a 2-octet call reference, the message type and the information
//! elements, among them the User-user IE (0x7E) that carries H323-UserInformation.
//!
//! Deliberately minimal: the IEs H.225.0 call signalling needs are typed, every other IE
//! is kept raw so that it is relayed unchanged.

use thiserror::Error;

/// Q.931 §4.2: protocol discriminator for Q.931/I.451 user-network call control.
pub const PROTOCOL_DISCRIMINATOR: u8 = 0x08;
/// H.225.0 §7.2.2.x: User-user IE protocol discriminator "X.208 and X.209 coded user
/// information" used for H323-UserInformation.
pub const UU_PROTOCOL_H323: u8 = 0x05;

/// Q.931 §4.3 call reference as H.225.0 uses it: always 2 octets (H.225.0 §7.2.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallReference {
    /// 15-bit value.
    pub value: u16,
    /// The flag (Q.931 §4.3): `false` from the side that allocated the call reference,
    /// `true` in messages sent towards it.
    pub to_originator: bool,
}

impl CallReference {
    pub fn new(value: u16, to_originator: bool) -> Self {
        Self {
            value: value & 0x7FFF,
            to_originator,
        }
    }
}

/// Q.931 §4.4 message types used by H.225.0 (Table 4 of H.225.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    Alerting,
    CallProceeding,
    Progress,
    Setup,
    SetupAcknowledge,
    Connect,
    ConnectAcknowledge,
    ReleaseComplete,
    Facility,
    Notify,
    StatusEnquiry,
    Status,
    Information,
    Other(u8),
}

impl MessageType {
    pub fn from_u8(v: u8) -> Self {
        match v {
            0x01 => Self::Alerting,
            0x02 => Self::CallProceeding,
            0x03 => Self::Progress,
            0x05 => Self::Setup,
            0x0D => Self::SetupAcknowledge,
            0x07 => Self::Connect,
            0x0F => Self::ConnectAcknowledge,
            0x5A => Self::ReleaseComplete,
            0x62 => Self::Facility,
            0x6E => Self::Notify,
            0x75 => Self::StatusEnquiry,
            0x7D => Self::Status,
            0x7B => Self::Information,
            other => Self::Other(other),
        }
    }

    pub fn to_u8(self) -> u8 {
        match self {
            Self::Alerting => 0x01,
            Self::CallProceeding => 0x02,
            Self::Progress => 0x03,
            Self::Setup => 0x05,
            Self::SetupAcknowledge => 0x0D,
            Self::Connect => 0x07,
            Self::ConnectAcknowledge => 0x0F,
            Self::ReleaseComplete => 0x5A,
            Self::Facility => 0x62,
            Self::Notify => 0x6E,
            Self::StatusEnquiry => 0x75,
            Self::Status => 0x7D,
            Self::Information => 0x7B,
            Self::Other(v) => v,
        }
    }
}

/// Q.850 cause value (7 bits), e.g. 16 normal call clearing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Q850Cause(pub u8);

impl Q850Cause {
    pub const NORMAL_CLEARING: Self = Self(16);
    pub const USER_BUSY: Self = Self(17);
    pub const NORMAL_UNSPECIFIED: Self = Self(31);
}

/// Q.931 §4.5.12 Cause IE (coding standard ITU-T).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// Octet 3 bits 4-1 (0 user, 1 private network serving the local user, ...).
    pub location: u8,
    pub value: Q850Cause,
    /// Octets 5 and following (diagnostics), kept as received.
    pub diagnostics: Vec<u8>,
}

/// Q.931 §4.5.7/§4.5.10 Called/Calling party number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyNumber {
    /// Octet 3 bits 7-5 (0 unknown, 1 international, 2 national, 4 subscriber).
    pub type_of_number: u8,
    /// Octet 3 bits 4-1 (1 ISDN/telephony E.164, 9 private).
    pub numbering_plan: u8,
    /// Calling party only, octet 3a: presentation (bits 7-6) and screening (bits 2-1).
    pub presentation_screening: Option<u8>,
    /// IA5 digits.
    pub digits: String,
}

impl PartyNumber {
    /// An E.164 number of unknown type, as H.323 endpoints usually send.
    pub fn e164(digits: &str) -> Self {
        Self {
            type_of_number: 0,
            numbering_plan: 1,
            presentation_screening: None,
            digits: digits.to_string(),
        }
    }
}

/// Information element identifiers (Q.931 §4.5, Table 4-3).
pub mod ie_id {
    pub const BEARER_CAPABILITY: u8 = 0x04;
    pub const CAUSE: u8 = 0x08;
    pub const CALL_STATE: u8 = 0x14;
    pub const PROGRESS_INDICATOR: u8 = 0x1E;
    pub const DISPLAY: u8 = 0x28;
    pub const KEYPAD_FACILITY: u8 = 0x2C;
    pub const CALLING_PARTY_NUMBER: u8 = 0x6C;
    pub const CALLED_PARTY_NUMBER: u8 = 0x70;
    pub const USER_USER: u8 = 0x7E;
    pub const SENDING_COMPLETE: u8 = 0xA1;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ie {
    /// Q.931 §4.5.5, contents (octets 3...) kept as coded.
    BearerCapability(Vec<u8>),
    Cause(Cause),
    /// Q.931 §4.5.16, IA5 characters.
    Display(String),
    CalledPartyNumber(PartyNumber),
    CallingPartyNumber(PartyNumber),
    /// Q.931 §4.5.30 with H.225.0's 2-octet length: protocol discriminator and data.
    UserUser {
        protocol: u8,
        data: Vec<u8>,
    },
    /// Single-octet IE (Q.931 §4.5.1, bit 8 set), e.g. Sending complete.
    Single(u8),
    /// Any other variable-length IE, kept raw.
    Other {
        id: u8,
        data: Vec<u8>,
    },
}

impl Ie {
    /// G.711 speech, 64 kbit/s circuit mode (Q.931 §4.5.5): ITU-T coding, speech,
    /// 64 kbit/s, user information layer 1 = the given law (2 µ-law, 3 A-law).
    pub fn bearer_speech(a_law: bool) -> Self {
        Self::BearerCapability(vec![0x80, 0x90, if a_law { 0xA3 } else { 0xA2 }])
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FrameError {
    #[error("Q.931 message shorter than its header ({0} octets)")]
    Truncated(usize),
    #[error("octet 0: protocol discriminator {0:#04x}, expected 0x08")]
    ProtocolDiscriminator(u8),
    #[error("octet 1: call reference length {0}, H.225.0 uses 2")]
    CallReferenceLength(u8),
    #[error("octet {offset}: information element {id:#04x} runs past the end")]
    IeTruncated { offset: usize, id: u8 },
    #[error("octet {offset}: information element {id:#04x} malformed: {what}")]
    IeMalformed {
        offset: usize,
        id: u8,
        what: &'static str,
    },
    #[error("information element {id:#04x} too long to encode ({len} octets)")]
    IeTooLong { id: u8, len: usize },
}

/// One Q.931 message as used by H.225.0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Q931Frame {
    pub call_ref: CallReference,
    pub message_type: MessageType,
    /// In the order received / to be sent (Q.931 §4.5.1 requires ascending codeset-0
    /// identifiers; [`Q931Frame::encode`] sorts them).
    pub ies: Vec<Ie>,
}

impl Q931Frame {
    pub fn new(call_ref: CallReference, message_type: MessageType) -> Self {
        Self {
            call_ref,
            message_type,
            ies: Vec::new(),
        }
    }

    pub fn decode(buf: &[u8]) -> Result<Self, FrameError> {
        if buf.len() < 2 {
            return Err(FrameError::Truncated(buf.len()));
        }
        if buf[0] != PROTOCOL_DISCRIMINATOR {
            return Err(FrameError::ProtocolDiscriminator(buf[0]));
        }
        let crl = buf[1] & 0x0F;
        if crl != 2 {
            return Err(FrameError::CallReferenceLength(crl));
        }
        if buf.len() < 5 {
            return Err(FrameError::Truncated(buf.len()));
        }
        let call_ref = CallReference {
            value: u16::from_be_bytes([buf[2] & 0x7F, buf[3]]),
            to_originator: buf[2] & 0x80 != 0,
        };
        let message_type = MessageType::from_u8(buf[4] & 0x7F);
        let mut ies = Vec::new();
        let mut i = 5;
        while i < buf.len() {
            let id = buf[i];
            if id & 0x80 != 0 {
                ies.push(Ie::Single(id));
                i += 1;
                continue;
            }
            let (len, hdr) = if id == ie_id::USER_USER {
                // H.225.0 §7.2.2.x: the User-user IE length is 2 octets.
                if i + 3 > buf.len() {
                    return Err(FrameError::IeTruncated { offset: i, id });
                }
                (u16::from_be_bytes([buf[i + 1], buf[i + 2]]) as usize, 3)
            } else {
                if i + 2 > buf.len() {
                    return Err(FrameError::IeTruncated { offset: i, id });
                }
                (buf[i + 1] as usize, 2)
            };
            let body_start = i + hdr;
            let end = body_start + len;
            if end > buf.len() {
                return Err(FrameError::IeTruncated { offset: i, id });
            }
            ies.push(decode_ie(id, &buf[body_start..end], i)?);
            i = end;
        }
        Ok(Self {
            call_ref,
            message_type,
            ies,
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), FrameError> {
        out.push(PROTOCOL_DISCRIMINATOR);
        out.push(2);
        let cr = self.call_ref.value & 0x7FFF;
        out.push(((cr >> 8) as u8) | if self.call_ref.to_originator { 0x80 } else { 0 });
        out.push(cr as u8);
        out.push(self.message_type.to_u8());
        // Q.931 §4.5.1: IEs of codeset 0 in ascending order of identifier.
        let mut order: Vec<&Ie> = self.ies.iter().collect();
        order.sort_by_key(|ie| ie_order(ie));
        for ie in order {
            encode_ie(ie, out)?;
        }
        Ok(())
    }

    pub fn user_user(&self) -> Option<(u8, &[u8])> {
        self.ies.iter().find_map(|ie| match ie {
            Ie::UserUser { protocol, data } => Some((*protocol, data.as_slice())),
            _ => None,
        })
    }

    pub fn cause(&self) -> Option<&Cause> {
        self.ies.iter().find_map(|ie| match ie {
            Ie::Cause(c) => Some(c),
            _ => None,
        })
    }

    pub fn display(&self) -> Option<&str> {
        self.ies.iter().find_map(|ie| match ie {
            Ie::Display(d) => Some(d.as_str()),
            _ => None,
        })
    }

    pub fn called(&self) -> Option<&PartyNumber> {
        self.ies.iter().find_map(|ie| match ie {
            Ie::CalledPartyNumber(n) => Some(n),
            _ => None,
        })
    }

    pub fn calling(&self) -> Option<&PartyNumber> {
        self.ies.iter().find_map(|ie| match ie {
            Ie::CallingPartyNumber(n) => Some(n),
            _ => None,
        })
    }
}

fn ie_order(ie: &Ie) -> u8 {
    match ie {
        // Single-octet IEs of type 1 (bits 7-5) sort by their high nibble; Sending
        // complete (0xA1) comes first in practice as Q.931 lists it.
        Ie::Single(v) => *v & 0x7F,
        Ie::BearerCapability(_) => ie_id::BEARER_CAPABILITY,
        Ie::Cause(_) => ie_id::CAUSE,
        Ie::Display(_) => ie_id::DISPLAY,
        Ie::CallingPartyNumber(_) => ie_id::CALLING_PARTY_NUMBER,
        Ie::CalledPartyNumber(_) => ie_id::CALLED_PARTY_NUMBER,
        Ie::UserUser { .. } => ie_id::USER_USER,
        Ie::Other { id, .. } => *id,
    }
}

fn decode_ie(id: u8, b: &[u8], offset: usize) -> Result<Ie, FrameError> {
    let malformed = |what| FrameError::IeMalformed { offset, id, what };
    Ok(match id {
        ie_id::BEARER_CAPABILITY => Ie::BearerCapability(b.to_vec()),
        ie_id::CAUSE => {
            // Q.931 §4.5.12: octet 3 (coding, location), optional 3a, octet 4 cause.
            if b.len() < 2 {
                return Err(malformed("cause shorter than 2 octets"));
            }
            let location = b[0] & 0x0F;
            let mut j = 1;
            if b[0] & 0x80 == 0 {
                j += 1; // octet 3a (recommendation)
            }
            let value = *b.get(j).ok_or_else(|| malformed("cause value missing"))? & 0x7F;
            Ie::Cause(Cause {
                location,
                value: Q850Cause(value),
                diagnostics: b[j + 1..].to_vec(),
            })
        }
        ie_id::DISPLAY => Ie::Display(b.iter().map(|&c| (c & 0x7F) as char).collect()),
        ie_id::CALLED_PARTY_NUMBER | ie_id::CALLING_PARTY_NUMBER => {
            let first = *b.first().ok_or_else(|| malformed("empty party number"))?;
            let mut j = 1;
            let mut presentation_screening = None;
            if first & 0x80 == 0 {
                let ps = *b.get(1).ok_or_else(|| malformed("octet 3a missing"))?;
                presentation_screening = Some(ps & 0x7F);
                j = 2;
            }
            let number = PartyNumber {
                type_of_number: (first >> 4) & 0x07,
                numbering_plan: first & 0x0F,
                presentation_screening,
                digits: b[j..].iter().map(|&c| (c & 0x7F) as char).collect(),
            };
            if id == ie_id::CALLED_PARTY_NUMBER {
                Ie::CalledPartyNumber(number)
            } else {
                Ie::CallingPartyNumber(number)
            }
        }
        ie_id::USER_USER => {
            let (&protocol, data) = b
                .split_first()
                .ok_or_else(|| malformed("user-user without protocol discriminator"))?;
            Ie::UserUser {
                protocol,
                data: data.to_vec(),
            }
        }
        _ => Ie::Other {
            id,
            data: b.to_vec(),
        },
    })
}

fn push_ie(id: u8, body: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
    let len = u8::try_from(body.len()).map_err(|_| FrameError::IeTooLong {
        id,
        len: body.len(),
    })?;
    out.push(id);
    out.push(len);
    out.extend_from_slice(body);
    Ok(())
}

fn encode_ie(ie: &Ie, out: &mut Vec<u8>) -> Result<(), FrameError> {
    match ie {
        Ie::Single(v) => out.push(*v | 0x80),
        Ie::BearerCapability(b) => push_ie(ie_id::BEARER_CAPABILITY, b, out)?,
        Ie::Cause(c) => {
            let mut body = vec![0x80 | (c.location & 0x0F), 0x80 | (c.value.0 & 0x7F)];
            body.extend_from_slice(&c.diagnostics);
            push_ie(ie_id::CAUSE, &body, out)?;
        }
        Ie::Display(d) => {
            let body: Vec<u8> = d
                .chars()
                .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
                .collect();
            push_ie(ie_id::DISPLAY, &body, out)?;
        }
        Ie::CalledPartyNumber(n) | Ie::CallingPartyNumber(n) => {
            let id = if matches!(ie, Ie::CalledPartyNumber(_)) {
                ie_id::CALLED_PARTY_NUMBER
            } else {
                ie_id::CALLING_PARTY_NUMBER
            };
            let octet3 = ((n.type_of_number & 0x07) << 4) | (n.numbering_plan & 0x0F);
            let mut body = Vec::with_capacity(n.digits.len() + 2);
            match n.presentation_screening {
                Some(ps) => {
                    body.push(octet3);
                    body.push(0x80 | ps);
                }
                None => body.push(0x80 | octet3),
            }
            body.extend(
                n.digits
                    .chars()
                    .map(|c| if c.is_ascii() { c as u8 } else { b'?' }),
            );
            push_ie(id, &body, out)?;
        }
        Ie::UserUser { protocol, data } => {
            let len = data.len() + 1;
            let len16 = u16::try_from(len).map_err(|_| FrameError::IeTooLong {
                id: ie_id::USER_USER,
                len,
            })?;
            out.push(ie_id::USER_USER);
            out.extend_from_slice(&len16.to_be_bytes());
            out.push(*protocol);
            out.extend_from_slice(data);
        }
        Ie::Other { id, data } => push_ie(*id, data, out)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_setup_frame() {
        let mut f = Q931Frame::new(CallReference::new(0x1234, false), MessageType::Setup);
        f.ies.push(Ie::UserUser {
            protocol: UU_PROTOCOL_H323,
            data: vec![1, 2, 3],
        });
        f.ies.push(Ie::bearer_speech(true));
        f.ies.push(Ie::Display("Alice".into()));
        f.ies
            .push(Ie::CalledPartyNumber(PartyNumber::e164("4930123")));
        let mut cn = PartyNumber::e164("100");
        cn.presentation_screening = Some(0x03);
        f.ies.push(Ie::CallingPartyNumber(cn));
        f.ies.push(Ie::Cause(Cause {
            location: 1,
            value: Q850Cause(16),
            diagnostics: vec![],
        }));
        let mut out = Vec::new();
        f.encode(&mut out).unwrap();
        assert_eq!(&out[..5], &[0x08, 0x02, 0x12, 0x34, 0x05]);
        let back = Q931Frame::decode(&out).unwrap();
        assert_eq!(back.ies.len(), 6);
        assert_eq!(back.display(), Some("Alice"));
        assert_eq!(back.called().unwrap().digits, "4930123");
        assert_eq!(back.calling().unwrap().presentation_screening, Some(3));
        assert_eq!(back.cause().unwrap().value, Q850Cause(16));
        assert_eq!(back.user_user(), Some((5, &[1u8, 2, 3][..])));
        // encoded in ascending IE order
        let mut again = Vec::new();
        back.encode(&mut again).unwrap();
        assert_eq!(out, again);
    }

    #[test]
    fn truncated_ie_reports_offset() {
        let bytes = [0x08, 0x02, 0x00, 0x01, 0x05, 0x04, 0x03, 0x80];
        assert_eq!(
            Q931Frame::decode(&bytes),
            Err(FrameError::IeTruncated { offset: 5, id: 4 })
        );
        let bytes = [0x08, 0x02, 0x00, 0x01, 0x05, 0x7E, 0x00];
        assert!(Q931Frame::decode(&bytes).is_err());
    }

    #[test]
    fn call_reference_flag() {
        let bytes = [0x08, 0x02, 0x80, 0x07, 0x5A];
        let f = Q931Frame::decode(&bytes).unwrap();
        assert_eq!(f.call_ref, CallReference::new(7, true));
        assert_eq!(f.message_type, MessageType::ReleaseComplete);
    }
}
