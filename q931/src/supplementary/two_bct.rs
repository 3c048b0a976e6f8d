//! NI-2 Two B-channel Transfer (Telcordia GR-2865-CORE; the ANSI T1 operation
//! `InitiateTransfer`, `{iso(1) member-body(2) usa(840) ansi-t1(10005) operations(0) 8}`,
//! the coding libpri uses for NI-2, 4ESS and 5ESS).
//!
//! The user, with two calls on the interface, sends a FACILITY on one of them invoking
//! `InitiateTransfer` with the call reference of the other; the switch connects the two
//! remote parties and clears both calls from the user (DISCONNECT), or rejects the invoke
//! (Return Error / Reject) leaving the calls as they were.
//!
//! ```text
//! InitiateTransfer ARGUMENT SEQUENCE { callReference INTEGER }
//! ```
//!
//! The call reference is the 16-bit value with its flag as the sender of the FACILITY
//! writes it in its own messages of that call (0 for a call it originated, 0x8000
//! otherwise: libpri sends `cr ^ Q931_CALL_REFERENCE_FLAG`, its internal form flipped).

use super::ber::{self, Oid, Reader, Tag};
use super::rose::{Code, Component, InvokeId};

/// `{1 2 840 10005 0}`.
pub const ANSI_T1_OPERATIONS: [u32; 5] = [1, 2, 840, 10005, 0];

/// The operation value of `InitiateTransfer`.
pub fn initiate_transfer_code() -> Code {
    Code::Global(Oid::child(&ANSI_T1_OPERATIONS, 8))
}

/// The other call of a transfer as the invoke names it: its call reference value and
/// whether the sender originated it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransferCallRef {
    pub value: u16,
    /// The sender of the invoke allocated the call reference (it sent the SETUP).
    pub sender_originated: bool,
}

impl TransferCallRef {
    /// The INTEGER value: the call reference with its flag bit as the sender sends it.
    pub fn wire(self) -> u16 {
        (self.value & 0x7FFF) | if self.sender_originated { 0 } else { 0x8000 }
    }

    pub fn from_wire(v: u16) -> TransferCallRef {
        TransferCallRef {
            value: v & 0x7FFF,
            sender_originated: v & 0x8000 == 0,
        }
    }
}

/// `InitiateTransfer` invoke naming `other`.
pub fn initiate_transfer(invoke_id: InvokeId, other: TransferCallRef) -> Component {
    let mut arg = Vec::with_capacity(8);
    ber::encode_constructed(Tag::SEQUENCE, &mut arg, |s| {
        ber::encode_integer(Tag::INTEGER, i64::from(other.wire()), s)
    });
    Component::Invoke {
        invoke_id,
        linked_id: None,
        operation: initiate_transfer_code(),
        argument: Some(arg),
    }
}

/// The call reference an `InitiateTransfer` invoke names.
pub fn transfer_call_ref(c: &Component) -> Option<TransferCallRef> {
    let Component::Invoke {
        operation,
        argument: Some(a),
        ..
    } = c
    else {
        return None;
    };
    if *operation != initiate_transfer_code() {
        return None;
    }
    let mut r = Reader::new(a);
    let seq = r.expect(Tag::SEQUENCE, "InitiateTransfer argument").ok()?;
    let mut s = Reader::inner(&seq);
    let cr = s.expect(Tag::INTEGER, "callReference").ok()?;
    let v = ber::decode_integer("callReference", cr.value).ok()?;
    u16::try_from(v).ok().map(TransferCallRef::from_wire)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supplementary::FacilityApdus;

    /// Known answer: libpri's `enc_ni2_initiate_transfer` for a call it received with call
    /// reference 3 (libpri's internal cr 0x0003 flipped to 0x8003).
    #[test]
    fn initiate_transfer_known_answer() {
        let c = initiate_transfer(
            InvokeId(1),
            TransferCallRef {
                value: 3,
                sender_originated: false,
            },
        );
        let mut out = Vec::new();
        FacilityApdus::rose(vec![c.clone()]).encode(&mut out);
        assert_eq!(
            out,
            [
                0x91, 0xA1, 0x13, 0x02, 0x01, 0x01, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x15, 0x00,
                0x08, 0x30, 0x05, 0x02, 0x03, 0x00, 0x80, 0x03
            ]
        );
        let f = FacilityApdus::decode(&out).unwrap();
        assert_eq!(
            transfer_call_ref(&f.components[0]),
            Some(TransferCallRef {
                value: 3,
                sender_originated: false
            })
        );
    }
}
