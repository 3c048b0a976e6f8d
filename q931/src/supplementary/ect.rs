//! ETSI Explicit Call Transfer, EN 300 369-1 (ASN.1 module
//! `Explicit-Call-Transfer-Operations-and-Errors {ccitt identified-organization etsi(0) 369
//! operations-and-errors(1)}`, clause 9/Annex), with the general errors of ETS 300 196-1
//! (`General-Errors {ccitt identified-organization etsi(0) 196 general-errors(2)}`).
//!
//! The explicit procedure (EN 300 369-1 §9.2.2.1, the one for a user with two calls that
//! are not on hold, as a PRI gateway has): on call A, invoke `EctLinkIdRequest`; the
//! network returns a `LinkId`; on call B, invoke `ExplicitEctExecute(LinkId)`. The
//! network answers with a Return Result (libpri puts it in the DISCONNECT of call B) and
//! clears both calls from the served user, joining the remote parties; or a Return Error
//! (the calls stay as they were).
//!
//! ```text
//! ectExecute          localValue 6                         (implicit: the held call)
//! explicitEctExecute  globalValue {ect-operations 1}  ARGUMENT LinkId
//! requestSubaddress   globalValue {ect-operations 2}
//! subaddressTransfer  globalValue {ect-operations 3}  ARGUMENT PartySubaddress
//! ectLinkIdRequest    globalValue {ect-operations 4}  RESULT LinkId
//! ectInform           globalValue {ect-operations 5}  ARGUMENT SEQUENCE { ENUMERATED
//!                                                       { alerting(0), active(1) }, … }
//! ectLoopTest         globalValue {ect-operations 6}
//! linkIdNotAssignedByNetwork  ERROR globalValue {ect-operations 21}
//! LinkId ::= INTEGER (-32768..32767)
//! ```

use super::address::PresentedNumberUnscreened;
use super::ber::{self, BerError, Oid, Reader, Tag};
use super::rose::{Code, Component, InvokeId};

/// `{ccitt(0) identified-organization(4) etsi(0) 369 operations-and-errors(1)}`.
pub const ECT_OPERATIONS: [u32; 5] = [0, 4, 0, 369, 1];

/// The operations of EN 300 369-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EctOperation {
    EctExecute,
    ExplicitEctExecute,
    RequestSubaddress,
    SubaddressTransfer,
    EctLinkIdRequest,
    EctInform,
    EctLoopTest,
}

impl EctOperation {
    pub fn code(self) -> Code {
        let arc = match self {
            EctOperation::EctExecute => return Code::Local(6),
            EctOperation::ExplicitEctExecute => 1,
            EctOperation::RequestSubaddress => 2,
            EctOperation::SubaddressTransfer => 3,
            EctOperation::EctLinkIdRequest => 4,
            EctOperation::EctInform => 5,
            EctOperation::EctLoopTest => 6,
        };
        Code::Global(Oid::child(&ECT_OPERATIONS, arc))
    }

    pub fn from_code(code: &Code) -> Option<EctOperation> {
        match code {
            Code::Local(6) => Some(EctOperation::EctExecute),
            Code::Local(_) => None,
            Code::Global(o) => match o.under(&ECT_OPERATIONS)? {
                1 => Some(EctOperation::ExplicitEctExecute),
                2 => Some(EctOperation::RequestSubaddress),
                3 => Some(EctOperation::SubaddressTransfer),
                4 => Some(EctOperation::EctLinkIdRequest),
                5 => Some(EctOperation::EctInform),
                6 => Some(EctOperation::EctLoopTest),
                _ => None,
            },
        }
    }
}

/// The network's identifier of a call for the explicit transfer (EN 300 369-1 `LinkId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkId(pub i16);

impl LinkId {
    fn encode(self, out: &mut Vec<u8>) {
        ber::encode_integer(Tag::INTEGER, i64::from(self.0), out);
    }

    /// From a result or argument element (BER with its tag).
    pub fn decode(element: &[u8]) -> Option<LinkId> {
        let mut r = Reader::new(element);
        let t = r.expect(Tag::INTEGER, "LinkId").ok()?;
        r.finish("LinkId").ok()?;
        let v = ber::decode_integer("LinkId", t.value).ok()?;
        i16::try_from(v).ok().map(LinkId)
    }
}

/// `EctLinkIdRequest` invoke (no argument), sent on the first call.
pub fn link_id_request(invoke_id: InvokeId) -> Component {
    Component::Invoke {
        invoke_id,
        linked_id: None,
        operation: EctOperation::EctLinkIdRequest.code(),
        argument: None,
    }
}

/// The network's answer to [`link_id_request`].
pub fn link_id_result(invoke_id: InvokeId, link_id: LinkId) -> Component {
    let mut arg = Vec::with_capacity(4);
    link_id.encode(&mut arg);
    Component::ReturnResult {
        invoke_id,
        result: Some((EctOperation::EctLinkIdRequest.code(), Some(arg))),
    }
}

/// `ExplicitEctExecute(LinkId)` invoke, sent on the second call.
pub fn explicit_ect_execute(invoke_id: InvokeId, link_id: LinkId) -> Component {
    let mut arg = Vec::with_capacity(4);
    link_id.encode(&mut arg);
    Component::Invoke {
        invoke_id,
        linked_id: None,
        operation: EctOperation::ExplicitEctExecute.code(),
        argument: Some(arg),
    }
}

/// `EctExecute` invoke (implicit transfer, sent on the held call).
pub fn ect_execute(invoke_id: InvokeId) -> Component {
    Component::Invoke {
        invoke_id,
        linked_id: None,
        operation: EctOperation::EctExecute.code(),
        argument: None,
    }
}

/// The `LinkId` of an `ExplicitEctExecute` invoke or an `EctLinkIdRequest` result.
pub fn link_id_of(c: &Component) -> Option<LinkId> {
    match c {
        Component::Invoke {
            operation,
            argument: Some(a),
            ..
        } if EctOperation::from_code(operation) == Some(EctOperation::ExplicitEctExecute) => {
            LinkId::decode(a)
        }
        Component::ReturnResult {
            result: Some((op, Some(r))),
            ..
        } if EctOperation::from_code(op) == Some(EctOperation::EctLinkIdRequest) => {
            LinkId::decode(r)
        }
        _ => None,
    }
}

/// `EctInform` status (EN 300 369-1): the transferred-to party rings or has answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EctStatus {
    Alerting,
    Active,
}

/// `EctInform` argument (EN 300 369-1): tells a party of a transferred call that it is
/// now connected to another party (`redirection`: that party's number, if presentable).
/// libpri reports a received one as a connected line update (`PRI_SUBCMD_CONNECTED_LINE`)
/// and sends one itself for `pri_connected_line_update` on an active PRI call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EctInform {
    pub status: EctStatus,
    pub redirection: Option<PresentedNumberUnscreened>,
}

impl EctInform {
    /// `SEQUENCE { ENUMERATED { alerting(0), active(1) }, PresentedNumberUnscreened
    /// OPTIONAL }`.
    fn encode(&self, out: &mut Vec<u8>) {
        ber::encode_constructed(Tag::SEQUENCE, out, |o| {
            let status = match self.status {
                EctStatus::Alerting => 0,
                EctStatus::Active => 1,
            };
            ber::encode_integer(Tag::ENUMERATED, status, o);
            if let Some(r) = &self.redirection {
                r.encode(o);
            }
        });
    }

    /// From an argument element (BER with its tag).
    pub fn decode(element: &[u8]) -> Result<EctInform, BerError> {
        let mut r = Reader::new(element);
        let seq = r.expect(Tag::SEQUENCE, "EctInform")?;
        r.finish("EctInform")?;
        let mut inner = Reader::inner(&seq);
        let status = inner.expect(Tag::ENUMERATED, "EctInform status")?;
        let status = match ber::decode_integer("EctInform status", status.value)? {
            0 => EctStatus::Alerting,
            _ => EctStatus::Active,
        };
        let redirection = if inner.is_empty() {
            None
        } else {
            Some(PresentedNumberUnscreened::decode(&mut inner)?)
        };
        inner.finish("EctInform")?;
        Ok(EctInform {
            status,
            redirection,
        })
    }

    /// The invoke carrying this argument.
    pub fn invoke(&self, invoke_id: InvokeId) -> Component {
        let mut arg = Vec::with_capacity(24);
        self.encode(&mut arg);
        Component::Invoke {
            invoke_id,
            linked_id: None,
            operation: EctOperation::EctInform.code(),
            argument: Some(arg),
        }
    }

    /// The argument of an `EctInform` invoke; `None` for any other component or an
    /// argument that does not decode.
    pub fn of(c: &Component) -> Option<EctInform> {
        match c {
            Component::Invoke {
                operation,
                argument: Some(a),
                ..
            } if EctOperation::from_code(operation) == Some(EctOperation::EctInform) => {
                EctInform::decode(a).ok()
            }
            _ => None,
        }
    }
}

/// The errors an ECT invoke can meet: ETS 300 196-1 general errors (local values) and
/// EN 300 369-1's own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EctError {
    NotSubscribed,
    NotAvailable,
    NotImplemented,
    InvalidServedUserNr,
    InvalidCallState,
    BasicServiceNotProvided,
    NotIncomingCall,
    SupplementaryServiceInteractionNotAllowed,
    ResourceUnavailable,
    LinkIdNotAssignedByNetwork,
    Other(Code),
}

impl EctError {
    pub fn from_code(code: &Code) -> EctError {
        match code {
            Code::Local(0) => EctError::NotSubscribed,
            Code::Local(3) => EctError::NotAvailable,
            Code::Local(4) => EctError::NotImplemented,
            Code::Local(6) => EctError::InvalidServedUserNr,
            Code::Local(7) => EctError::InvalidCallState,
            Code::Local(8) => EctError::BasicServiceNotProvided,
            Code::Local(9) => EctError::NotIncomingCall,
            Code::Local(10) => EctError::SupplementaryServiceInteractionNotAllowed,
            Code::Local(11) => EctError::ResourceUnavailable,
            Code::Global(o) if o.under(&ECT_OPERATIONS) == Some(21) => {
                EctError::LinkIdNotAssignedByNetwork
            }
            other => EctError::Other(other.clone()),
        }
    }

    pub fn code(&self) -> Code {
        match self {
            EctError::NotSubscribed => Code::Local(0),
            EctError::NotAvailable => Code::Local(3),
            EctError::NotImplemented => Code::Local(4),
            EctError::InvalidServedUserNr => Code::Local(6),
            EctError::InvalidCallState => Code::Local(7),
            EctError::BasicServiceNotProvided => Code::Local(8),
            EctError::NotIncomingCall => Code::Local(9),
            EctError::SupplementaryServiceInteractionNotAllowed => Code::Local(10),
            EctError::ResourceUnavailable => Code::Local(11),
            EctError::LinkIdNotAssignedByNetwork => Code::Global(Oid::child(&ECT_OPERATIONS, 21)),
            EctError::Other(c) => c.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supplementary::FacilityApdus;

    fn facility(c: Component) -> Vec<u8> {
        let mut out = Vec::new();
        FacilityApdus::rose(vec![c]).encode(&mut out);
        out
    }

    /// Known answers: the octets libpri 1.6 (`enc_etsi_ect_link_id_req`,
    /// `enc_etsi_ect_explicit_execute`, `enc_etsi_ect_link_id_rsp`) puts in the Facility
    /// element for the same values; `libpri_transfer.rs` checks them on the wire.
    #[test]
    fn ect_known_answers() {
        assert_eq!(
            facility(link_id_request(InvokeId(5))),
            [0x91, 0xA1, 0x0B, 0x02, 0x01, 0x05, 0x06, 0x06, 0x04, 0x00, 0x82, 0x71, 0x01, 0x04]
        );
        assert_eq!(
            facility(explicit_ect_execute(InvokeId(6), LinkId(7))),
            [
                0x91, 0xA1, 0x0E, 0x02, 0x01, 0x06, 0x06, 0x06, 0x04, 0x00, 0x82, 0x71, 0x01, 0x01,
                0x02, 0x01, 0x07
            ]
        );
        let result = [
            0x91, 0xA2, 0x10, 0x02, 0x01, 0x05, 0x30, 0x0B, 0x06, 0x06, 0x04, 0x00, 0x82, 0x71,
            0x01, 0x04, 0x02, 0x01, 0x07,
        ];
        assert_eq!(facility(link_id_result(InvokeId(5), LinkId(7))), result);
        let f = FacilityApdus::decode(&result).unwrap();
        assert_eq!(link_id_of(&f.components[0]), Some(LinkId(7)));
        assert_eq!(
            facility(ect_execute(InvokeId(1))),
            [0x91, 0xA1, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x06]
        );
    }

    #[test]
    fn ect_inform_round_trips_through_a_facility() {
        use crate::ie::number::{NumberingPlan, TypeOfNumber};
        use crate::supplementary::address::RosePartyNumber;
        let inform = EctInform {
            status: EctStatus::Active,
            redirection: Some(PresentedNumberUnscreened::Allowed(RosePartyNumber {
                plan: NumberingPlan::Unknown,
                ton: TypeOfNumber::Unknown,
                digits: "2000".to_string(),
            })),
        };
        let bytes = facility(inform.invoke(InvokeId(3)));
        // invoke { id 3, {ect-operations 5}, SEQUENCE { ENUMERATED 1, [0] { [0] "2000" } } }
        assert_eq!(
            &bytes[bytes.len() - 13..],
            [0x30, 0x0B, 0x0A, 0x01, 0x01, 0xA0, 0x06, 0x80, 0x04, b'2', b'0', b'0', b'0']
        );
        let f = FacilityApdus::decode(&bytes).unwrap();
        assert_eq!(EctInform::of(&f.components[0]), Some(inform));
        assert_eq!(EctInform::of(&link_id_request(InvokeId(1))), None);
        let alerting = EctInform {
            status: EctStatus::Alerting,
            redirection: None,
        };
        let f = FacilityApdus::decode(&facility(alerting.invoke(InvokeId(4)))).unwrap();
        assert_eq!(EctInform::of(&f.components[0]), Some(alerting));
        assert!(EctInform::decode(&[0x30, 0x03, 0x0A, 0x01]).is_err());
    }

    #[test]
    fn operations_and_errors_map_both_ways() {
        for op in [
            EctOperation::EctExecute,
            EctOperation::ExplicitEctExecute,
            EctOperation::RequestSubaddress,
            EctOperation::SubaddressTransfer,
            EctOperation::EctLinkIdRequest,
            EctOperation::EctInform,
            EctOperation::EctLoopTest,
        ] {
            assert_eq!(EctOperation::from_code(&op.code()), Some(op));
        }
        for e in [
            EctError::NotSubscribed,
            EctError::NotAvailable,
            EctError::InvalidCallState,
            EctError::ResourceUnavailable,
            EctError::LinkIdNotAssignedByNetwork,
        ] {
            assert_eq!(EctError::from_code(&e.code()), e);
        }
        assert_eq!(LinkId::decode(&[0x02, 0x03, 0x01, 0x00, 0x00]), None);
        assert_eq!(
            LinkId::decode(&[0x02, 0x02, 0x80, 0x00]),
            Some(LinkId(-32768))
        );
    }
}
