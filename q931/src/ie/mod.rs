//! Information elements, Q.931 §4.5.
//!
//! Each element type lives in a module named after it and implements [`IeCodec`]:
//! `decode(contents)` reads the octets after the length octet (octet 3 onwards) and
//! `encode(&self, out)` appends exactly those octets. The identifier and length octets are
//! written by the message encoder ([`crate::message::Message::encode`]), which also checks
//! that the contents fit the length field.
//!
//! [`InfoElement`] is one element of a message as it appeared: a typed element, a shift, a
//! single-octet element, an element this crate does not know (kept raw with its codeset) or
//! a known element whose contents are invalid (kept raw with the error).

pub mod bearer_capability;
pub mod call_state;
pub mod called_party_number;
pub mod cause;
pub mod change_status;
pub mod channel_id;
pub mod date_time;
pub mod display;
pub mod facility;
pub mod high_layer_compat;
pub mod keypad_facility;
pub mod low_layer_compat;
pub mod notification_indicator;
pub mod number;
pub mod party_number;
pub mod progress_indicator;
pub mod redirecting_number;
pub mod restart_indicator;
pub mod signal;
pub mod subaddress;
pub mod user_user;

pub use bearer_capability::{
    BearerCapability, InfoTransferCapability, InfoTransferRate, Layer1Protocol, LayerInfo,
    TransferMode,
};
pub use call_state::{CallState, CallStateValue};
pub use called_party_number::CalledPartyNumber;
pub use cause::{Cause, CauseValue, Location, MAX_DIAGNOSTICS};
pub use change_status::{ChangeStatus, ServiceStatus};
pub use channel_id::{
    ChannelId, ChannelList, ChannelSelection, ChannelType, InterfaceType, SlotMapKind,
};
pub use date_time::DateTime;
pub use display::Display;
pub use facility::Facility;
pub use high_layer_compat::HighLayerCompatibility;
pub use keypad_facility::KeypadFacility;
pub use low_layer_compat::LowLayerCompatibility;
pub use notification_indicator::{NotificationDescription, NotificationIndicator};
pub use number::{NumberingPlan, Presentation, RedirectionReason, Screening, TypeOfNumber};
pub use party_number::{CallingPartyNumber, ConnectedNumber, PartyNumber, RedirectionNumber};
pub use progress_indicator::{ProgressDescription, ProgressIndicator};
pub use redirecting_number::RedirectingNumber;
pub use restart_indicator::{RestartClass, RestartIndicator};
pub use signal::{Signal, SignalValue};
pub use subaddress::{Subaddress, SubaddressType};
pub use user_user::{UserUser, UuProtocol};

use crate::codeset::{Codeset, Shift};
use crate::error::IeError;
use std::fmt;

/// The coding standard field found in many elements (2 bits), Q.931 §4.5.5 octet 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodingStandard {
    /// 00: ITU-T standardized coding.
    ItuT,
    /// 01: ISO/IEC standard.
    IsoIec,
    /// 10: national standard.
    National,
    /// 11: standard defined for the network (public or private) present on the network side.
    Network,
}

impl CodingStandard {
    /// From the two bits (already shifted down to bits 1–2).
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 0x03 {
            0 => CodingStandard::ItuT,
            1 => CodingStandard::IsoIec,
            2 => CodingStandard::National,
            _ => CodingStandard::Network,
        }
    }

    /// The two bits, in bits 1–2.
    pub const fn bits(self) -> u8 {
        match self {
            CodingStandard::ItuT => 0,
            CodingStandard::IsoIec => 1,
            CodingStandard::National => 2,
            CodingStandard::Network => 3,
        }
    }
}

/// An information element identifier in codeset 0, Q.931 §4.5, Table 4-3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IeId(pub u8);

impl IeId {
    pub const SEGMENTED_MESSAGE: IeId = IeId(0x00);
    /// NI-2 maintenance (SERVICE), ANSI T1.607 / Bellcore.
    pub const CHANGE_STATUS: IeId = IeId(0x01);
    pub const BEARER_CAPABILITY: IeId = IeId(0x04);
    pub const CAUSE: IeId = IeId(0x08);
    pub const CALL_IDENTITY: IeId = IeId(0x10);
    pub const CALL_STATE: IeId = IeId(0x14);
    pub const CHANNEL_ID: IeId = IeId(0x18);
    pub const FACILITY: IeId = IeId(0x1C);
    pub const PROGRESS_INDICATOR: IeId = IeId(0x1E);
    pub const NETWORK_SPECIFIC_FACILITIES: IeId = IeId(0x20);
    pub const NOTIFICATION_INDICATOR: IeId = IeId(0x27);
    pub const DISPLAY: IeId = IeId(0x28);
    pub const DATE_TIME: IeId = IeId(0x29);
    pub const KEYPAD_FACILITY: IeId = IeId(0x2C);
    pub const SIGNAL: IeId = IeId(0x34);
    pub const INFORMATION_RATE: IeId = IeId(0x40);
    pub const CLOSED_USER_GROUP: IeId = IeId(0x47);
    pub const CONNECTED_NUMBER: IeId = IeId(0x4C);
    pub const CONNECTED_SUBADDRESS: IeId = IeId(0x4D);
    pub const CALLING_PARTY_NUMBER: IeId = IeId(0x6C);
    pub const CALLING_PARTY_SUBADDRESS: IeId = IeId(0x6D);
    pub const CALLED_PARTY_NUMBER: IeId = IeId(0x70);
    pub const CALLED_PARTY_SUBADDRESS: IeId = IeId(0x71);
    pub const REDIRECTING_NUMBER: IeId = IeId(0x74);
    pub const REDIRECTION_NUMBER: IeId = IeId(0x76);
    pub const TRANSIT_NETWORK_SELECTION: IeId = IeId(0x78);
    pub const RESTART_INDICATOR: IeId = IeId(0x79);
    pub const LOW_LAYER_COMPATIBILITY: IeId = IeId(0x7C);
    pub const HIGH_LAYER_COMPATIBILITY: IeId = IeId(0x7D);
    pub const USER_USER: IeId = IeId(0x7E);
    pub const ESCAPE_FOR_EXTENSION: IeId = IeId(0x7F);
    /// Single-octet elements, §4.5.1 (full octet).
    pub const MORE_DATA: IeId = IeId(0xA0);
    pub const SENDING_COMPLETE: IeId = IeId(0xA1);
    pub const CONGESTION_LEVEL: IeId = IeId(0xB0);
    pub const REPEAT_INDICATOR: IeId = IeId(0xD0);

    /// `true` for single-octet elements (bit 8 set), §4.5.1.
    pub const fn is_single_octet(self) -> bool {
        self.0 & 0x80 != 0
    }

    /// Q.931 §4.5.1 / §5.8.7.1: variable-length identifiers with bits 5–8 equal to 0000
    /// are "comprehension required": if not recognised they count as a missing mandatory
    /// element (cause 96) rather than as unrecognised (cause 99).
    pub const fn comprehension_required(self) -> bool {
        self.0 & 0xF0 == 0
    }

    /// Elements of codeset 0 this crate recognises (decodes as types, or knows and carries
    /// raw), so that §5.8.7.1 does not apply to them.
    pub const fn is_recognised(self) -> bool {
        matches!(
            self.0,
            0x01 | 0x04
                | 0x08
                | 0x10
                | 0x14
                | 0x18
                | 0x1C
                | 0x1E
                | 0x20
                | 0x27
                | 0x28
                | 0x29
                | 0x2C
                | 0x34
                | 0x4C
                | 0x4D
                | 0x6C
                | 0x6D
                | 0x70
                | 0x71
                | 0x74
                | 0x76
                | 0x78
                | 0x79
                | 0x7C
                | 0x7D
                | 0x7E
        ) || self.is_single_octet()
    }

    /// The element's name in Q.931 Table 4-3, or `None`.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x00 => "Segmented message",
            0x01 => "Change status",
            0x04 => "Bearer capability",
            0x08 => "Cause",
            0x10 => "Call identity",
            0x14 => "Call state",
            0x18 => "Channel identification",
            0x1C => "Facility",
            0x1E => "Progress indicator",
            0x20 => "Network-specific facilities",
            0x27 => "Notification indicator",
            0x28 => "Display",
            0x29 => "Date/time",
            0x2C => "Keypad facility",
            0x34 => "Signal",
            0x40 => "Information rate",
            0x47 => "Closed user group",
            0x4C => "Connected number",
            0x4D => "Connected subaddress",
            0x6C => "Calling party number",
            0x6D => "Calling party subaddress",
            0x70 => "Called party number",
            0x71 => "Called party subaddress",
            0x74 => "Redirecting number",
            0x76 => "Redirection number",
            0x78 => "Transit network selection",
            0x79 => "Restart indicator",
            0x7C => "Low layer compatibility",
            0x7D => "High layer compatibility",
            0x7E => "User-user",
            0x7F => "Escape for extension",
            0xA0 => "More data",
            0xA1 => "Sending complete",
            _ => match self.0 & 0xF0 {
                0x90 => "Shift",
                0xB0 => "Congestion level",
                0xD0 => "Repeat indicator",
                _ => return None,
            },
        })
    }
}

impl fmt::Display for IeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} ({:#04x})", self.0),
            None => write!(f, "element {:#04x}", self.0),
        }
    }
}

/// Decoding and encoding of one element's contents (octet 3 onwards).
pub trait IeCodec: Sized {
    /// The identifier in codeset 0.
    const ID: IeId;
    /// Reads the contents (the octets after the length octet).
    fn decode(contents: &[u8]) -> Result<Self, IeError>;
    /// Appends the contents (the octets after the length octet).
    fn encode(&self, out: &mut Vec<u8>);
}

/// An element kept as octets: unknown to this crate, or in a codeset other than 0.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawIe {
    /// The codeset the element was in.
    pub codeset: Codeset,
    /// The identifier octet. With bit 8 set this is a single-octet element and
    /// `contents` is empty.
    pub id: u8,
    /// The contents (octet 3 onwards).
    pub contents: Vec<u8>,
}

/// A known element whose contents failed to decode (§5.8.6.2 / §5.8.7.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidIe {
    /// The codeset the element was in.
    pub codeset: Codeset,
    /// The identifier octet.
    pub id: u8,
    /// The element exactly as received, identifier and length octets included (for a
    /// truncated element: everything up to the end of the message).
    pub raw: Vec<u8>,
    /// What is wrong.
    pub error: IeError,
}

/// One element of a message, in the order received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InfoElement {
    /// Locking or non-locking shift, §4.5.2/§4.5.3.
    Shift(Shift),
    /// §4.5.27, single octet 0xA1.
    SendingComplete,
    /// §4.5.20, single octet 0xA0.
    MoreData,
    /// §4.5.14, single octet 1011 xxxx (the level in the low 4 bits).
    CongestionLevel(u8),
    /// §4.5.24, single octet 1101 xxxx (the indication in the low 4 bits).
    RepeatIndicator(u8),
    BearerCapability(BearerCapability),
    Cause(Cause),
    CallState(CallState),
    ChannelId(ChannelId),
    Facility(Facility),
    ProgressIndicator(ProgressIndicator),
    NotificationIndicator(NotificationIndicator),
    Display(Display),
    DateTime(DateTime),
    KeypadFacility(KeypadFacility),
    Signal(Signal),
    ChangeStatus(ChangeStatus),
    ConnectedNumber(ConnectedNumber),
    ConnectedSubaddress(Subaddress),
    CallingPartyNumber(CallingPartyNumber),
    CallingPartySubaddress(Subaddress),
    CalledPartyNumber(CalledPartyNumber),
    CalledPartySubaddress(Subaddress),
    RedirectingNumber(RedirectingNumber),
    RedirectionNumber(RedirectionNumber),
    RestartIndicator(RestartIndicator),
    LowLayerCompatibility(LowLayerCompatibility),
    HighLayerCompatibility(HighLayerCompatibility),
    UserUser(UserUser),
    /// Unknown, or in a codeset other than 0: kept as received.
    Unknown(RawIe),
    /// Known but with invalid contents: kept as received, with the error.
    Invalid(InvalidIe),
}

impl InfoElement {
    /// The codeset of the element (shifts report the codeset they shift to).
    pub fn codeset(&self) -> Codeset {
        match self {
            InfoElement::Shift(s) => s.codeset,
            InfoElement::Unknown(r) => r.codeset,
            InfoElement::Invalid(r) => r.codeset,
            _ => Codeset::Q931,
        }
    }

    /// The identifier octet (for single-octet elements, the whole octet).
    pub fn id(&self) -> IeId {
        IeId(match self {
            InfoElement::Shift(s) => s.to_octet(),
            InfoElement::SendingComplete => 0xA1,
            InfoElement::MoreData => 0xA0,
            InfoElement::CongestionLevel(l) => 0xB0 | (l & 0x0F),
            InfoElement::RepeatIndicator(r) => 0xD0 | (r & 0x0F),
            InfoElement::BearerCapability(_) => BearerCapability::ID.0,
            InfoElement::Cause(_) => Cause::ID.0,
            InfoElement::CallState(_) => CallState::ID.0,
            InfoElement::ChannelId(_) => ChannelId::ID.0,
            InfoElement::Facility(_) => Facility::ID.0,
            InfoElement::ProgressIndicator(_) => ProgressIndicator::ID.0,
            InfoElement::NotificationIndicator(_) => NotificationIndicator::ID.0,
            InfoElement::Display(_) => Display::ID.0,
            InfoElement::DateTime(_) => DateTime::ID.0,
            InfoElement::KeypadFacility(_) => KeypadFacility::ID.0,
            InfoElement::Signal(_) => Signal::ID.0,
            InfoElement::ChangeStatus(_) => ChangeStatus::ID.0,
            InfoElement::ConnectedNumber(_) => ConnectedNumber::ID.0,
            InfoElement::ConnectedSubaddress(_) => IeId::CONNECTED_SUBADDRESS.0,
            InfoElement::CallingPartyNumber(_) => CallingPartyNumber::ID.0,
            InfoElement::CallingPartySubaddress(_) => IeId::CALLING_PARTY_SUBADDRESS.0,
            InfoElement::CalledPartyNumber(_) => CalledPartyNumber::ID.0,
            InfoElement::CalledPartySubaddress(_) => IeId::CALLED_PARTY_SUBADDRESS.0,
            InfoElement::RedirectingNumber(_) => RedirectingNumber::ID.0,
            InfoElement::RedirectionNumber(_) => RedirectionNumber::ID.0,
            InfoElement::RestartIndicator(_) => RestartIndicator::ID.0,
            InfoElement::LowLayerCompatibility(_) => LowLayerCompatibility::ID.0,
            InfoElement::HighLayerCompatibility(_) => HighLayerCompatibility::ID.0,
            InfoElement::UserUser(_) => UserUser::ID.0,
            InfoElement::Unknown(r) => r.id,
            InfoElement::Invalid(r) => r.id,
        })
    }

    /// `true` for single-octet elements (shift, sending complete, ...), §4.5.1.
    pub fn is_single_octet(&self) -> bool {
        self.id().is_single_octet()
    }

    /// Decodes the contents of a variable-length element of codeset 0 with identifier `id`
    /// into its type; unknown identifiers give [`InfoElement::Unknown`]. `raw` is the whole
    /// element as received, kept if the contents are invalid.
    pub(crate) fn decode_codeset0(id: u8, contents: &[u8], raw: &[u8]) -> InfoElement {
        fn typed<T: IeCodec>(
            contents: &[u8],
            raw: &[u8],
            wrap: fn(T) -> InfoElement,
        ) -> InfoElement {
            match T::decode(contents) {
                Ok(v) => wrap(v),
                Err(error) => InfoElement::Invalid(InvalidIe {
                    codeset: Codeset::Q931,
                    id: T::ID.0,
                    raw: raw.to_vec(),
                    error,
                }),
            }
        }
        fn sub(
            contents: &[u8],
            raw: &[u8],
            id: u8,
            wrap: fn(Subaddress) -> InfoElement,
        ) -> InfoElement {
            match Subaddress::decode(contents) {
                Ok(v) => wrap(v),
                Err(error) => InfoElement::Invalid(InvalidIe {
                    codeset: Codeset::Q931,
                    id,
                    raw: raw.to_vec(),
                    error,
                }),
            }
        }
        match IeId(id) {
            IeId::BEARER_CAPABILITY => typed(contents, raw, InfoElement::BearerCapability),
            IeId::CAUSE => typed(contents, raw, InfoElement::Cause),
            IeId::CALL_STATE => typed(contents, raw, InfoElement::CallState),
            IeId::CHANNEL_ID => typed(contents, raw, InfoElement::ChannelId),
            IeId::FACILITY => typed(contents, raw, InfoElement::Facility),
            IeId::PROGRESS_INDICATOR => typed(contents, raw, InfoElement::ProgressIndicator),
            IeId::NOTIFICATION_INDICATOR => {
                typed(contents, raw, InfoElement::NotificationIndicator)
            }
            IeId::DISPLAY => typed(contents, raw, InfoElement::Display),
            IeId::DATE_TIME => typed(contents, raw, InfoElement::DateTime),
            IeId::KEYPAD_FACILITY => typed(contents, raw, InfoElement::KeypadFacility),
            IeId::SIGNAL => typed(contents, raw, InfoElement::Signal),
            IeId::CHANGE_STATUS => typed(contents, raw, InfoElement::ChangeStatus),
            IeId::CONNECTED_NUMBER => typed(contents, raw, InfoElement::ConnectedNumber),
            IeId::CONNECTED_SUBADDRESS => sub(contents, raw, id, InfoElement::ConnectedSubaddress),
            IeId::CALLING_PARTY_NUMBER => typed(contents, raw, InfoElement::CallingPartyNumber),
            IeId::CALLING_PARTY_SUBADDRESS => {
                sub(contents, raw, id, InfoElement::CallingPartySubaddress)
            }
            IeId::CALLED_PARTY_NUMBER => typed(contents, raw, InfoElement::CalledPartyNumber),
            IeId::CALLED_PARTY_SUBADDRESS => {
                sub(contents, raw, id, InfoElement::CalledPartySubaddress)
            }
            IeId::REDIRECTING_NUMBER => typed(contents, raw, InfoElement::RedirectingNumber),
            IeId::REDIRECTION_NUMBER => typed(contents, raw, InfoElement::RedirectionNumber),
            IeId::RESTART_INDICATOR => typed(contents, raw, InfoElement::RestartIndicator),
            IeId::LOW_LAYER_COMPATIBILITY => {
                typed(contents, raw, InfoElement::LowLayerCompatibility)
            }
            IeId::HIGH_LAYER_COMPATIBILITY => {
                typed(contents, raw, InfoElement::HighLayerCompatibility)
            }
            IeId::USER_USER => typed(contents, raw, InfoElement::UserUser),
            _ => InfoElement::Unknown(RawIe {
                codeset: Codeset::Q931,
                id,
                contents: contents.to_vec(),
            }),
        }
    }

    /// Decodes a single-octet element of codeset 0, §4.5.1 (shifts are handled by the
    /// message decoder).
    pub(crate) fn decode_single_octet(octet: u8, codeset: Codeset) -> InfoElement {
        if codeset == Codeset::Q931 {
            match octet {
                0xA0 => return InfoElement::MoreData,
                0xA1 => return InfoElement::SendingComplete,
                o if o & 0xF0 == 0xB0 => return InfoElement::CongestionLevel(o & 0x0F),
                o if o & 0xF0 == 0xD0 => return InfoElement::RepeatIndicator(o & 0x0F),
                _ => {}
            }
        }
        InfoElement::Unknown(RawIe {
            codeset,
            id: octet,
            contents: Vec::new(),
        })
    }

    /// Appends the contents of a variable-length element (octet 3 onwards). Does nothing for
    /// single-octet elements and for [`InfoElement::Invalid`] (which is written raw).
    pub(crate) fn encode_contents(&self, out: &mut Vec<u8>) {
        match self {
            InfoElement::Shift(_)
            | InfoElement::SendingComplete
            | InfoElement::MoreData
            | InfoElement::CongestionLevel(_)
            | InfoElement::RepeatIndicator(_)
            | InfoElement::Invalid(_) => {}
            InfoElement::BearerCapability(v) => v.encode(out),
            InfoElement::Cause(v) => v.encode(out),
            InfoElement::CallState(v) => v.encode(out),
            InfoElement::ChannelId(v) => v.encode(out),
            InfoElement::Facility(v) => v.encode(out),
            InfoElement::ProgressIndicator(v) => v.encode(out),
            InfoElement::NotificationIndicator(v) => v.encode(out),
            InfoElement::Display(v) => v.encode(out),
            InfoElement::DateTime(v) => v.encode(out),
            InfoElement::KeypadFacility(v) => v.encode(out),
            InfoElement::Signal(v) => v.encode(out),
            InfoElement::ChangeStatus(v) => v.encode(out),
            InfoElement::ConnectedNumber(v) => v.encode(out),
            InfoElement::ConnectedSubaddress(v)
            | InfoElement::CallingPartySubaddress(v)
            | InfoElement::CalledPartySubaddress(v) => v.encode(out),
            InfoElement::CallingPartyNumber(v) => v.encode(out),
            InfoElement::CalledPartyNumber(v) => v.encode(out),
            InfoElement::RedirectingNumber(v) => v.encode(out),
            InfoElement::RedirectionNumber(v) => v.encode(out),
            InfoElement::RestartIndicator(v) => v.encode(out),
            InfoElement::LowLayerCompatibility(v) => v.encode(out),
            InfoElement::HighLayerCompatibility(v) => v.encode(out),
            InfoElement::UserUser(v) => v.encode(out),
            InfoElement::Unknown(r) => out.extend_from_slice(&r.contents),
        }
    }
}

macro_rules! impl_from_ie {
    ($($t:ident),* $(,)?) => {
        $(impl From<$t> for InfoElement {
            fn from(v: $t) -> Self {
                InfoElement::$t(v)
            }
        })*
    };
}
impl_from_ie!(
    BearerCapability,
    Cause,
    CallState,
    ChannelId,
    Facility,
    ProgressIndicator,
    NotificationIndicator,
    Display,
    DateTime,
    KeypadFacility,
    Signal,
    ChangeStatus,
    ConnectedNumber,
    CallingPartyNumber,
    CalledPartyNumber,
    RedirectingNumber,
    RedirectionNumber,
    RestartIndicator,
    LowLayerCompatibility,
    HighLayerCompatibility,
    UserUser,
);

impl From<Shift> for InfoElement {
    fn from(v: Shift) -> Self {
        InfoElement::Shift(v)
    }
}

impl From<RawIe> for InfoElement {
    fn from(v: RawIe) -> Self {
        InfoElement::Unknown(v)
    }
}

/// A cursor over an element's contents that reports which octet is missing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Octets<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Octets<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Octets { buf, pos: 0 }
    }

    /// The next octet, or `IeError::Missing` naming it.
    pub(crate) fn next(&mut self, octet: &'static str, field: &'static str) -> Result<u8, IeError> {
        match self.buf.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(IeError::Missing { octet, field }),
        }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// The remaining octets, consuming them.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let r = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        r
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Fails with `TrailingOctets` if anything is left.
    pub(crate) fn finish(&self, after: &'static str) -> Result<(), IeError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(IeError::TrailingOctets { after })
        }
    }

    /// Octets up to and including the next one with bit 8 (extension) set: the rest of an
    /// extended octet group such as 5a..5d. Fails if the group is not terminated.
    pub(crate) fn ext_group(&mut self, octet: &'static str) -> Result<&'a [u8], IeError> {
        let start = self.pos;
        loop {
            let b = self.next(octet, "extension octet")?;
            if b & 0x80 != 0 {
                return Ok(&self.buf[start..self.pos]);
            }
        }
    }
}

/// Checks that every octet is IA5 (bit 8 = 0), Q.931 §4.5.8 / §4.5.16, and turns them into
/// a `String`.
pub(crate) fn ia5_string(
    bytes: &[u8],
    octet: &'static str,
    field: &'static str,
) -> Result<String, IeError> {
    if !bytes.is_ascii() {
        let b = bytes
            .iter()
            .copied()
            .find(|b| *b & 0x80 != 0)
            .unwrap_or(0xFF);
        return Err(IeError::InvalidValue {
            octet,
            field,
            value: b,
        });
    }
    // Every octet is ASCII, hence this is valid UTF-8.
    String::from_utf8(bytes.to_vec()).map_err(|_| IeError::InvalidValue {
        octet,
        field,
        value: 0xFF,
    })
}

/// Puts bit 8 (extension: last octet of the group) on `octet` when `last`.
pub(crate) const fn ext(octet: u8, last: bool) -> u8 {
    if last {
        octet | 0x80
    } else {
        octet & 0x7F
    }
}
