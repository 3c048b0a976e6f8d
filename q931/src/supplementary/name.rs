//! Name identification: the name operations of ISO/IEC 13868 (ECMA-164, `Name-Operations
//! {iso(1) standard(0) pss1-name(13868) name-operations(0)}`), which National ISDN uses
//! for calling name delivery on a PRI (Telcordia GR-1367: `callingName` in a Facility
//! element of the SETUP, with the networking extensions' interpretation APDU).
//!
//! ```text
//! callingName   OPERATION ARGUMENT Name  ::= localValue 0
//! calledName    OPERATION ARGUMENT Name  ::= localValue 1
//! connectedName OPERATION ARGUMENT Name  ::= localValue 2
//! busyName      OPERATION ARGUMENT Name  ::= localValue 3
//! Name ::= CHOICE {
//!   namePresentationAllowedSimple      [0] IMPLICIT NameData,
//!   namePresentationAllowedExtended    [1] IMPLICIT NameSet,
//!   namePresentationRestrictedSimple   [2] IMPLICIT NameData,
//!   namePresentationRestrictedExtended [3] IMPLICIT NameSet,
//!   nameNotAvailable                   [4] IMPLICIT NULL,
//!   namePresentationRestrictedNull     [7] IMPLICIT NULL }
//! NameData ::= OCTET STRING (SIZE (1..50))        -- ISO 8859-1 unless NameSet says
//! NameSet  ::= SEQUENCE { nameData NameData, characterSet CharacterSet OPTIONAL }
//! ```
//!
//! A National ISDN network that has the name only later says so in the SETUP
//! (`InformationFollowing`, ANSI T1 operation {1 2 840 10005 0 4}, argument an INTEGER)
//! and sends the `callingName` in a FACILITY after it ([`information_following`]).

use super::apdu::{FacilityApdus, ProtocolProfile};
use super::ber::{self, BerError, Oid, Reader, Tag};
use super::rose::{Code, Component, InvokeId};
use crate::ie::Facility;

/// Which party a name operation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameOperation {
    Calling,
    Called,
    Connected,
    Busy,
}

impl NameOperation {
    pub fn code(self) -> Code {
        Code::Local(match self {
            NameOperation::Calling => 0,
            NameOperation::Called => 1,
            NameOperation::Connected => 2,
            NameOperation::Busy => 3,
        })
    }

    pub fn from_code(code: &Code) -> Option<NameOperation> {
        match code {
            Code::Local(0) => Some(NameOperation::Calling),
            Code::Local(1) => Some(NameOperation::Called),
            Code::Local(2) => Some(NameOperation::Connected),
            Code::Local(3) => Some(NameOperation::Busy),
            _ => None,
        }
    }
}

/// A party's name and whether it may be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartyName {
    Allowed(String),
    /// Presentation restricted, with the name if the sender gave it.
    Restricted(Option<String>),
    NotAvailable,
}

impl PartyName {
    /// The name, if it may be shown.
    pub fn presentable(&self) -> Option<&str> {
        match self {
            PartyName::Allowed(n) => Some(n),
            _ => None,
        }
    }
}

const ALLOWED_SIMPLE: Tag = Tag::context(0, false);
const ALLOWED_EXTENDED: Tag = Tag::context(1, true);
const RESTRICTED_SIMPLE: Tag = Tag::context(2, false);
const RESTRICTED_EXTENDED: Tag = Tag::context(3, true);
const NOT_AVAILABLE: Tag = Tag::context(4, false);
const RESTRICTED_NULL: Tag = Tag::context(7, false);
const OCTET_STRING: Tag = Tag::universal(4, false);
/// The interpretation APDU of the networking extensions (Q.932 §8.2.3.3, `[11] IMPLICIT
/// ENUMERATED`): 0, discard any unrecognized invoke PDU.
const INTERPRETATION: Tag = Tag::context(11, false);
/// NameData's largest size.
const NAME_DATA_MAX: usize = 50;

/// ISO 8859-1 octets as text (each octet is the code point of the same value).
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Text as ISO 8859-1 octets: characters beyond it become `?`; at most 50.
fn to_latin1(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .take(NAME_DATA_MAX)
        .collect()
}

impl PartyName {
    /// The BER of a `Name` (the invoke's argument).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            PartyName::Allowed(n) => ber::encode_tlv(ALLOWED_SIMPLE, &to_latin1(n), out),
            PartyName::Restricted(Some(n)) => {
                ber::encode_tlv(RESTRICTED_SIMPLE, &to_latin1(n), out)
            }
            PartyName::Restricted(None) => ber::encode_tlv(RESTRICTED_NULL, &[], out),
            PartyName::NotAvailable => ber::encode_tlv(NOT_AVAILABLE, &[], out),
        }
    }

    /// Reads a `Name` (an invoke's argument element).
    pub fn decode(argument: &[u8]) -> Result<PartyName, BerError> {
        let mut r = Reader::new(argument);
        let offset = r.offset();
        let t = r.read()?;
        let data = |t: &ber::Tlv<'_>| -> Result<String, BerError> {
            if t.tag.constructed {
                // NameSet: the NameData first (the character set, if any, is left: the
                // names met are ISO 8859-1).
                let mut inner = Reader::inner(t);
                let d = inner.expect(OCTET_STRING, "NameSet.nameData")?;
                Ok(latin1(d.value))
            } else {
                Ok(latin1(t.value))
            }
        };
        match t.tag {
            ALLOWED_SIMPLE | ALLOWED_EXTENDED => Ok(PartyName::Allowed(data(&t)?)),
            RESTRICTED_SIMPLE | RESTRICTED_EXTENDED => Ok(PartyName::Restricted(Some(data(&t)?))),
            RESTRICTED_NULL => Ok(PartyName::Restricted(None)),
            NOT_AVAILABLE => Ok(PartyName::NotAvailable),
            other => Err(BerError::UnexpectedTag {
                offset,
                expected: "Name",
                found: other.code(),
            }),
        }
    }
}

/// The invoke of `operation` naming `name`.
pub fn invoke(operation: NameOperation, name: &PartyName, invoke_id: InvokeId) -> Component {
    let mut argument = Vec::with_capacity(8 + NAME_DATA_MAX);
    name.encode(&mut argument);
    Component::Invoke {
        invoke_id,
        linked_id: None,
        operation: operation.code(),
        argument: Some(argument),
    }
}

/// The Facility element NI-2 carries a name in (GR-1367): the networking extensions'
/// profile with the interpretation "discard any unrecognized invoke PDU", then the
/// invoke.
pub fn ni2_facility(operation: NameOperation, name: &PartyName, invoke_id: InvokeId) -> Facility {
    let mut interpretation = Vec::with_capacity(3);
    ber::encode_tlv(INTERPRETATION, &[0], &mut interpretation);
    FacilityApdus {
        profile: ProtocolProfile::NetworkingExtensions,
        octet_3a: None,
        extensions: vec![interpretation],
        components: vec![invoke(operation, name, invoke_id)],
    }
    .to_facility()
}

/// `{iso(1) member-body(2) usa(840) ansi-t1(10005) operations(0)}`: NI-2's operations.
pub const ANSI_T1_OPERATIONS: [u32; 5] = [1, 2, 840, 10005, 0];
/// `InformationFollowing` among them.
const INFORMATION_FOLLOWING: u32 = 4;

/// Whether a Facility element invokes NI-2's `InformationFollowing`: the name comes in a
/// FACILITY after this message.
pub fn information_following(facility: &Facility) -> bool {
    FacilityApdus::from_facility(facility).is_ok_and(|apdus| {
        apdus.components.iter().any(|c| {
            matches!(c, Component::Invoke { operation: Code::Global(o), .. }
                if o.under(&ANSI_T1_OPERATIONS) == Some(INFORMATION_FOLLOWING))
        })
    })
}

/// The Facility element of a SETUP whose name is to follow: `InformationFollowing`
/// (argument 0), networking extensions with the interpretation APDU, as GR-1367 networks
/// and libpri send it.
pub fn information_following_facility(invoke_id: InvokeId) -> Facility {
    let mut interpretation = Vec::with_capacity(3);
    ber::encode_tlv(INTERPRETATION, &[0], &mut interpretation);
    let mut argument = Vec::with_capacity(3);
    ber::encode_integer(Tag::INTEGER, 0, &mut argument);
    FacilityApdus {
        profile: ProtocolProfile::NetworkingExtensions,
        octet_3a: None,
        extensions: vec![interpretation],
        components: vec![Component::Invoke {
            invoke_id,
            linked_id: None,
            operation: Code::Global(Oid::child(&ANSI_T1_OPERATIONS, INFORMATION_FOLLOWING)),
            argument: Some(argument),
        }],
    }
    .to_facility()
}

/// The names the invokes of a Facility element carry (Q.SIG, NI-2 or plain ROSE alike);
/// elements and arguments that do not read as names are passed over.
pub fn names_in(facility: &Facility) -> Vec<(NameOperation, PartyName)> {
    let Ok(apdus) = FacilityApdus::from_facility(facility) else {
        return Vec::new();
    };
    apdus
        .components
        .iter()
        .filter_map(|c| match c {
            Component::Invoke {
                operation,
                argument: Some(a),
                ..
            } => Some((
                NameOperation::from_code(operation)?,
                PartyName::decode(a).ok()?,
            )),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ni2_calling_name_is_the_networking_extensions_form() {
        let f = ni2_facility(
            NameOperation::Calling,
            &PartyName::Allowed("Alice".into()),
            InvokeId(1),
        );
        // 0x9F: ext | networking extensions; [11] interpretation 0; invoke { id 1,
        // local 0 (callingName), [0] "Alice" }.
        assert_eq!(
            f.contents,
            [
                0x9F, 0x8B, 0x01, 0x00, 0xA1, 0x0D, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x80, 0x05,
                b'A', b'l', b'i', b'c', b'e'
            ]
        );
        assert_eq!(
            names_in(&f),
            vec![(NameOperation::Calling, PartyName::Allowed("Alice".into()))]
        );
    }

    #[test]
    fn a_qsig_style_name_without_extensions_and_every_presentation_is_read() {
        // Plain ROSE (the tshark test's callingName): 0x91, invoke {1, 0, [0] "Alice"}.
        let f = Facility::new(&[
            0x91, 0xA1, 0x0D, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x80, 0x05, b'A', b'l', b'i',
            b'c', b'e',
        ]);
        assert_eq!(
            names_in(&f),
            vec![(NameOperation::Calling, PartyName::Allowed("Alice".into()))]
        );
        for name in [
            PartyName::Restricted(Some("Bob".into())),
            PartyName::Restricted(None),
            PartyName::NotAvailable,
        ] {
            let f = ni2_facility(NameOperation::Connected, &name, InvokeId(7));
            assert_eq!(names_in(&f), vec![(NameOperation::Connected, name.clone())]);
            assert_eq!(name.presentable(), None);
        }
        // NameSet: nameData then a character set.
        let mut set = Vec::new();
        ber::encode_constructed(ALLOWED_EXTENDED, &mut set, |o| {
            ber::encode_tlv(OCTET_STRING, b"Caf\xe9", o);
            ber::encode_integer(Tag::INTEGER, 1, o);
        });
        assert_eq!(
            PartyName::decode(&set),
            Ok(PartyName::Allowed("Café".into()))
        );
    }

    #[test]
    fn names_are_latin1_and_at_most_50_octets() {
        let mut out = Vec::new();
        PartyName::Allowed(format!("Zoë {}", "x".repeat(60))).encode(&mut out);
        assert_eq!(&out[..2], &[0x80, 50]);
        assert_eq!(out[4], 0xEB, "ë in ISO 8859-1");
        let mut out = Vec::new();
        PartyName::Allowed("日本".into()).encode(&mut out);
        assert_eq!(out, [0x80, 2, b'?', b'?']);
    }

    #[test]
    fn information_following_is_told_apart_from_a_name() {
        let f = information_following_facility(InvokeId(4));
        assert!(information_following(&f));
        assert!(names_in(&f).is_empty());
        let name = ni2_facility(
            NameOperation::Calling,
            &PartyName::Allowed("x".into()),
            InvokeId(5),
        );
        assert!(!information_following(&name));
        assert!(!information_following(&Facility::new(&[0x9F, 0xFF])));
    }

    #[test]
    fn other_operations_and_garbage_are_passed_over() {
        assert!(names_in(&Facility::new(&[])).is_empty());
        assert!(names_in(&Facility::new(&[0x91, 0xA1, 0xFF])).is_empty());
        // An invoke of local 9 and a callingName whose argument is not a Name.
        let f = FacilityApdus::rose(vec![
            Component::Invoke {
                invoke_id: InvokeId(1),
                linked_id: None,
                operation: Code::Local(9),
                argument: Some(vec![0x80, 1, b'x']),
            },
            Component::Invoke {
                invoke_id: InvokeId(2),
                linked_id: None,
                operation: Code::Local(0),
                argument: Some(vec![0x02, 1, 5]),
            },
        ])
        .to_facility();
        assert!(names_in(&f).is_empty());
    }
}
