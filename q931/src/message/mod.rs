//! Q.931 messages, §4: protocol discriminator, call reference, message type and the
//! information elements in the order received.
//!
//! Decoding never fails because of an information element: elements with bad contents
//! are kept as [`InfoElement::Invalid`] and unknown ones as [`InfoElement::Unknown`], so
//! that [`crate::validate`] can apply the §5.8 error procedures and a relay can forward
//! exactly what it received. Only the errors that make §5.8.1–§5.8.3.1 ignore the whole
//! message are returned as [`DecodeError`].

mod builders;
pub mod call_ref;
pub mod mandatory;
pub mod message_type;

pub use call_ref::{CallRef, CallRefFlag};
pub use mandatory::{mandatory_ies, Direction};
pub use message_type::MessageType;

use crate::codeset::{Codeset, CodesetTracker, Shift};
use crate::error::{DecodeError, EncodeError};
use crate::ie::UuProtocol;
use crate::ie::{
    BearerCapability, CallState, CalledPartyNumber, CallingPartyNumber, Cause, ChangeStatus,
    ChannelId, ConnectedNumber, DateTime, Display, Facility, HighLayerCompatibility, IeId,
    InfoElement, InvalidIe, KeypadFacility, LowLayerCompatibility, NotificationIndicator,
    ProgressIndicator, RawIe, RedirectingNumber, RedirectionNumber, RestartIndicator, Signal,
    Subaddress, UserUser,
};

/// Protocol discriminator, Q.931 §4.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProtocolDiscriminator(pub u8);

impl ProtocolDiscriminator {
    /// 0x08: Q.931/I.451 user-network call control messages (also H.225.0).
    pub const Q931: Self = Self(0x08);
    /// 0x03: AT&T (4ESS/5ESS) maintenance messages: SERVICE 0x0F, SERVICE ACKNOWLEDGE 0x07.
    pub const MAINTENANCE: Self = Self(0x03);
    /// 0x43: national (NI-2) maintenance messages, whose message types are the mirror of
    /// 0x03's: SERVICE 0x07, SERVICE ACKNOWLEDGE 0x0F (libpri 1.6 sends and reads them so
    /// for its NI-2 switch type).
    pub const MAINTENANCE_NATIONAL: Self = Self(0x43);

    /// `true` for the NI-2 maintenance discriminators.
    pub const fn is_maintenance(self) -> bool {
        self.0 == 0x03 || self.0 == 0x43
    }

    /// The discriminators this decoder accepts (§5.8.1: others are ignored).
    pub const fn is_supported(self) -> bool {
        self.0 == 0x08 || self.is_maintenance()
    }
}

/// Framing variant of the element encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Dialect {
    /// ISDN D-channel: every variable-length element has a 1-octet length.
    #[default]
    Isdn,
    /// H.225.0 call signalling: the user-user element (0x7E) carrying X.208/X.209 coded
    /// user information (protocol discriminator 0x05, as H.225.0 always sends) has a 2-octet
    /// length (H.225.0 §7.2.2); every other element a 1-octet length. (Wireshark applies the
    /// same rule to Q.931 over TPKT.)
    H225,
}

/// A Q.931 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub protocol_discriminator: ProtocolDiscriminator,
    pub call_ref: CallRef,
    pub message_type: MessageType,
    /// Every element in the order received (shifts included).
    pub ies: Vec<InfoElement>,
}

macro_rules! accessor {
    ($(#[$m:meta])* $name:ident, $variant:ident, $t:ty) => {
        $(#[$m])*
        pub fn $name(&self) -> Option<&$t> {
            self.ies.iter().find_map(|ie| match ie {
                InfoElement::$variant(v) => Some(v),
                _ => None,
            })
        }
    };
}

impl Message {
    /// Decodes an ISDN (D-channel) message.
    pub fn decode(buf: &[u8]) -> Result<Message, DecodeError> {
        Self::decode_with(buf, Dialect::Isdn)
    }

    /// Decodes into `self`, reusing its element vector's allocation (for hot paths that
    /// decode message after message). On error `self` is left empty of elements.
    pub fn decode_into(&mut self, buf: &[u8], dialect: Dialect) -> Result<(), DecodeError> {
        self.ies.clear();
        let (pd, call_ref, message_type, body) = decode_header(buf)?;
        self.protocol_discriminator = pd;
        self.call_ref = call_ref;
        self.message_type = message_type;
        decode_ies(body, dialect, &mut self.ies);
        Ok(())
    }

    /// Decodes a message in the given dialect.
    pub fn decode_with(buf: &[u8], dialect: Dialect) -> Result<Message, DecodeError> {
        let (pd, call_ref, message_type, body) = decode_header(buf)?;
        let mut ies = Vec::with_capacity(8);
        decode_ies(body, dialect, &mut ies);
        Ok(Message {
            protocol_discriminator: pd,
            call_ref,
            message_type,
            ies,
        })
    }

    /// Encodes an ISDN (D-channel) message, appending to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.encode_with(out, Dialect::Isdn)
    }

    /// Encodes into a new buffer.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(64);
        self.encode(&mut out)?;
        Ok(out)
    }

    /// Encodes in the given dialect, appending to `out`. On error `out` is left as it was.
    pub fn encode_with(&self, out: &mut Vec<u8>, dialect: Dialect) -> Result<(), EncodeError> {
        let start = out.len();
        let r = self.encode_inner(out, dialect);
        if r.is_err() {
            out.truncate(start);
        }
        r
    }

    fn encode_inner(&self, out: &mut Vec<u8>, dialect: Dialect) -> Result<(), EncodeError> {
        out.reserve(64);
        out.push(self.protocol_discriminator.0);
        self.call_ref.encode(out)?;
        out.push(self.message_type.octet_in(self.protocol_discriminator));
        for ie in &self.ies {
            match ie {
                InfoElement::Invalid(r) => out.extend_from_slice(&r.raw),
                InfoElement::Shift(s) => out.push(s.to_octet()),
                InfoElement::SendingComplete => out.push(IeId::SENDING_COMPLETE.0),
                InfoElement::MoreData => out.push(IeId::MORE_DATA.0),
                InfoElement::CongestionLevel(l) => out.push(0xB0 | (l & 0x0F)),
                InfoElement::RepeatIndicator(r) => out.push(0xD0 | (r & 0x0F)),
                InfoElement::Unknown(r) if r.id & 0x80 != 0 => out.push(r.id),
                ie => {
                    let id = ie.id().0;
                    out.push(id);
                    let wide = dialect == Dialect::H225
                        && id == IeId::USER_USER.0
                        && ie.codeset() == Codeset::Q931
                        && uu_protocol(ie) == Some(UuProtocol::X208_X209.0);
                    let len_pos = out.len();
                    out.push(0);
                    if wide {
                        out.push(0);
                    }
                    let body = out.len();
                    ie.encode_contents(out);
                    let len = out.len() - body;
                    if wide && len <= 0xFFFF {
                        out[len_pos] = (len >> 8) as u8;
                        out[len_pos + 1] = len as u8;
                    } else if !wide && len <= 0xFF {
                        out[len_pos] = len as u8;
                    } else {
                        return Err(EncodeError::IeTooLong { id, len });
                    }
                }
            }
        }
        Ok(())
    }

    /// Adds an element in its place: a variable-length codeset 0 element goes before the
    /// first codeset 0 element with a higher identifier (§4.5.1: ascending order) and
    /// before any shift; anything else goes at the end.
    pub fn with(mut self, ie: impl Into<InfoElement>) -> Self {
        self.insert(ie.into());
        self
    }

    /// See [`Message::with`].
    pub fn insert(&mut self, ie: InfoElement) {
        if ie.codeset() != Codeset::Q931 || ie.is_single_octet() {
            self.ies.push(ie);
            return;
        }
        let id = ie.id();
        let pos = self
            .ies
            .iter()
            .position(|e| {
                matches!(e, InfoElement::Shift(_))
                    || (!e.is_single_octet() && e.codeset() == Codeset::Q931 && e.id() > id)
            })
            .unwrap_or(self.ies.len());
        self.ies.insert(pos, ie);
    }

    /// Adds an element of another codeset at the end, preceded by a non-locking shift
    /// (§4.5.3). `raw.codeset` says which codeset.
    pub fn push_in_codeset(&mut self, raw: RawIe) {
        if raw.codeset != Codeset::Q931 {
            self.ies
                .push(InfoElement::Shift(Shift::non_locking(raw.codeset)));
        }
        self.ies.push(InfoElement::Unknown(raw));
    }

    accessor!(
        /// The first bearer capability (§4.5.5).
        bearer_capability, BearerCapability, BearerCapability);
    accessor!(
        /// The first cause (§4.5.12).
        cause, Cause, Cause);
    accessor!(call_state, CallState, CallState);
    accessor!(channel_id, ChannelId, ChannelId);
    accessor!(
        /// The first facility element (the name `facility` is the FACILITY builder).
        facility_ie, Facility, Facility);
    accessor!(
        /// The first progress indicator; see [`Message::progress_indicators`].
        progress_indicator, ProgressIndicator, ProgressIndicator);
    accessor!(
        notification_indicator,
        NotificationIndicator,
        NotificationIndicator
    );
    accessor!(display, Display, Display);
    accessor!(date_time, DateTime, DateTime);
    accessor!(keypad_facility, KeypadFacility, KeypadFacility);
    accessor!(signal, Signal, Signal);
    accessor!(change_status, ChangeStatus, ChangeStatus);
    accessor!(connected_number, ConnectedNumber, ConnectedNumber);
    accessor!(redirection_number, RedirectionNumber, RedirectionNumber);
    accessor!(connected_subaddress, ConnectedSubaddress, Subaddress);
    accessor!(calling_party_number, CallingPartyNumber, CallingPartyNumber);
    accessor!(calling_party_subaddress, CallingPartySubaddress, Subaddress);
    accessor!(called_party_number, CalledPartyNumber, CalledPartyNumber);
    accessor!(called_party_subaddress, CalledPartySubaddress, Subaddress);
    accessor!(redirecting_number, RedirectingNumber, RedirectingNumber);
    accessor!(restart_indicator, RestartIndicator, RestartIndicator);
    accessor!(
        low_layer_compatibility,
        LowLayerCompatibility,
        LowLayerCompatibility
    );
    accessor!(
        high_layer_compatibility,
        HighLayerCompatibility,
        HighLayerCompatibility
    );
    accessor!(user_user, UserUser, UserUser);

    /// Every cause element (RELEASE may carry two, §5.3).
    pub fn causes(&self) -> impl Iterator<Item = &Cause> {
        self.ies.iter().filter_map(|ie| match ie {
            InfoElement::Cause(v) => Some(v),
            _ => None,
        })
    }

    /// Every progress indicator (up to two may appear, §4.5.23).
    pub fn progress_indicators(&self) -> impl Iterator<Item = &ProgressIndicator> {
        self.ies.iter().filter_map(|ie| match ie {
            InfoElement::ProgressIndicator(v) => Some(v),
            _ => None,
        })
    }

    /// `true` if a sending complete element (§4.5.27) is present.
    pub fn sending_complete(&self) -> bool {
        self.ies
            .iter()
            .any(|ie| matches!(ie, InfoElement::SendingComplete))
    }

    /// The elements kept raw because this crate does not know them or they are in another
    /// codeset.
    pub fn unknown_ies(&self) -> impl Iterator<Item = &RawIe> {
        self.ies.iter().filter_map(|ie| match ie {
            InfoElement::Unknown(r) => Some(r),
            _ => None,
        })
    }

    /// The elements whose contents failed to decode.
    pub fn invalid_ies(&self) -> impl Iterator<Item = &InvalidIe> {
        self.ies.iter().filter_map(|ie| match ie {
            InfoElement::Invalid(r) => Some(r),
            _ => None,
        })
    }
}

/// One line for logs: message type, call reference, and the main elements.
impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let flag = match self.call_ref.flag {
            CallRefFlag::FromOriginator => 0,
            CallRefFlag::ToOriginator => 1,
        };
        write!(f, "{}", self.message_type)?;
        if self.call_ref.is_dummy() {
            write!(f, " cr=dummy")?;
        } else {
            write!(f, " cr={:#x}/{flag}", self.call_ref.value)?;
        }
        for ie in &self.ies {
            match ie {
                InfoElement::ChannelId(c) => match c.channel_number() {
                    Some(n) => write!(f, " ch={n}{}", if c.exclusive { "!" } else { "?" })?,
                    None => write!(f, " ch={:?}", c.selection)?,
                },
                InfoElement::CalledPartyNumber(n) => write!(f, " called={}", n.digits)?,
                InfoElement::CallingPartyNumber(n) => write!(f, " calling={}", n.digits)?,
                InfoElement::ConnectedNumber(n) => write!(f, " connected={}", n.digits)?,
                InfoElement::Cause(c) => write!(f, " cause={}", c.value.value())?,
                InfoElement::ProgressIndicator(p) => write!(f, " pi={}", p.description.value())?,
                InfoElement::CallState(s) => write!(f, " state={}", s.value.value())?,
                InfoElement::SendingComplete => write!(f, " complete")?,
                InfoElement::KeypadFacility(k) => write!(f, " keypad={}", k.digits)?,
                InfoElement::Invalid(r) => write!(f, " invalid({:#04x})", r.id)?,
                InfoElement::Unknown(r) => {
                    write!(f, " unknown({}:{:#04x})", r.codeset.value(), r.id)?
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Protocol discriminator, call reference and message type (§4.2–§4.4); the rest is the
/// elements.
fn decode_header(
    buf: &[u8],
) -> Result<(ProtocolDiscriminator, CallRef, MessageType, &[u8]), DecodeError> {
    // §5.8.2: protocol discriminator, call reference length octet and message type at
    // the least.
    if buf.len() < 3 {
        return Err(DecodeError::TooShort {
            len: buf.len(),
            needed: 3,
        });
    }
    let pd = ProtocolDiscriminator(buf[0]);
    if !pd.is_supported() {
        return Err(DecodeError::ProtocolDiscriminator(buf[0]));
    }
    let (call_ref, used) = CallRef::decode(&buf[1..])?;
    let mt_pos = 1 + used;
    let Some(&mt) = buf.get(mt_pos) else {
        return Err(DecodeError::TooShort {
            len: buf.len(),
            needed: mt_pos + 1,
        });
    };
    let message_type = MessageType::from_octet(pd, mt);
    Ok((pd, call_ref, message_type, &buf[mt_pos + 1..]))
}

/// The protocol discriminator of a user-user element (typed or raw).
fn uu_protocol(ie: &InfoElement) -> Option<u8> {
    match ie {
        InfoElement::UserUser(u) => Some(u.protocol.0),
        InfoElement::Unknown(r) => r.contents.first().copied(),
        _ => None,
    }
}

/// Walks the elements after the message type, tracking shifts (§4.5.2/§4.5.3).
fn decode_ies(buf: &[u8], dialect: Dialect, ies: &mut Vec<InfoElement>) {
    let mut codesets = CodesetTracker::default();
    let mut pos = 0;
    while let Some(&b) = buf.get(pos) {
        if b & 0x80 != 0 {
            // §4.5.1: single-octet element.
            match Shift::from_octet(b) {
                Some(shift) => {
                    codesets.shift(shift);
                    ies.push(InfoElement::Shift(shift));
                }
                None => {
                    ies.push(InfoElement::decode_single_octet(b, codesets.current()));
                    codesets.element_done();
                }
            }
            pos += 1;
            continue;
        }
        let codeset = codesets.current();
        codesets.element_done();
        // H.225.0 §7.2.2: a 2-octet length for the user-user element carrying X.208/X.209
        // coded user information (protocol discriminator 0x05, after the 2 length octets).
        let wide = dialect == Dialect::H225
            && codeset == Codeset::Q931
            && b == IeId::USER_USER.0
            && buf.get(pos + 3) == Some(&UuProtocol::X208_X209.0);
        let header = if wide { 3 } else { 2 };
        let len = match (buf.get(pos + 1), buf.get(pos + 2)) {
            (Some(&hi), Some(&lo)) if wide => Some((hi as usize) << 8 | lo as usize),
            (Some(&l), _) if !wide => Some(l as usize),
            _ => None,
        };
        let end = len.map(|l| pos + header + l);
        match end {
            Some(end) if end <= buf.len() => {
                let raw = &buf[pos..end];
                let contents = &raw[header..];
                let ie = if codeset == Codeset::Q931 {
                    InfoElement::decode_codeset0(b, contents, raw)
                } else {
                    InfoElement::Unknown(RawIe {
                        codeset,
                        id: b,
                        contents: contents.to_vec(),
                    })
                };
                ies.push(ie);
                pos = end;
            }
            _ => {
                // The element runs past the end of the message: keep what is there.
                let raw = &buf[pos..];
                ies.push(InfoElement::Invalid(InvalidIe {
                    codeset,
                    id: b,
                    raw: raw.to_vec(),
                    error: crate::error::IeError::Truncated {
                        declared: len.unwrap_or(0),
                        available: raw.len().saturating_sub(header),
                    },
                }));
                break;
            }
        }
    }
}
