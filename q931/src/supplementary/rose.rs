//! Remote operations (ROSE) components as Q.932 carries them in the Facility element
//! (Q.932 §8.2.2 and Annex D, after ITU-T X.219 / X.229): Invoke, Return Result, Return
//! Error and Reject, each a context-tagged SEQUENCE.
//!
//! ```text
//! Invoke       ::= [1] IMPLICIT SEQUENCE { invokeId INTEGER, linkedId [0] IMPLICIT INTEGER OPTIONAL,
//!                                          operation OPERATION, argument ANY OPTIONAL }
//! ReturnResult ::= [2] IMPLICIT SEQUENCE { invokeId INTEGER,
//!                                          SEQUENCE { operation OPERATION, result ANY } OPTIONAL }
//! ReturnError  ::= [3] IMPLICIT SEQUENCE { invokeId INTEGER, error ERROR, parameter ANY OPTIONAL }
//! Reject       ::= [4] IMPLICIT SEQUENCE { invokeId CHOICE { INTEGER, NULL },
//!                                          problem CHOICE { [0] General, [1] Invoke,
//!                                                           [2] ReturnResult, [3] ReturnError } }
//! OPERATION / ERROR values: localValue INTEGER | globalValue OBJECT IDENTIFIER
//! ```
//!
//! Arguments, results and error parameters are kept as their BER encoding (the whole
//! element, tag included): the service modules ([`super::ect`], [`super::two_bct`]) give
//! them types.

use super::ber::{self, BerError, Oid, Reader, Tag};

/// An operation or error value (X.219 §7 / X.880): local integer or global OID.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Code {
    Local(i32),
    Global(Oid),
}

impl Code {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Code::Local(v) => ber::encode_integer(Tag::INTEGER, i64::from(*v), out),
            Code::Global(o) => o.encode(out),
        }
    }

    fn decode(r: &mut Reader<'_>, what: &'static str) -> Result<Code, BerError> {
        let offset = r.offset();
        let t = r.read()?;
        match t.tag {
            Tag::INTEGER => Ok(Code::Local(ber::decode_integer(what, t.value)?)),
            Tag::OID => Ok(Code::Global(Oid::decode(t.value)?)),
            _ => Err(BerError::UnexpectedTag {
                offset,
                expected: what,
                found: t.tag.code(),
            }),
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Code::Local(v) => write!(f, "{v}"),
            Code::Global(o) => write!(f, "{o}"),
        }
    }
}

/// The invoke identifier that correlates a result, error or reject with its invoke
/// (Q.932 §8.2.2.1: an INTEGER, unique among the invokes outstanding on the interface).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InvokeId(pub i32);

impl std::fmt::Display for InvokeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A Reject's problem (X.219 §9 / Q.932 Annex D).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// Tag \[0\]: unrecognizedComponent(0), mistypedComponent(1), badlyStructuredComponent(2).
    General(i32),
    /// Tag \[1\]: duplicateInvocation(0), unrecognizedOperation(1), mistypedArgument(2), …
    Invoke(i32),
    /// Tag \[2\]: unrecognizedInvocation(0), resultResponseUnexpected(1), mistypedResult(2).
    ReturnResult(i32),
    /// Tag \[3\]: unrecognizedInvocation(0), errorResponseUnexpected(1), unrecognizedError(2),
    /// unexpectedError(3), mistypedParameter(4).
    ReturnError(i32),
}

/// One ROSE component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Component {
    Invoke {
        invoke_id: InvokeId,
        linked_id: Option<InvokeId>,
        operation: Code,
        /// The argument element, BER with its tag.
        argument: Option<Vec<u8>>,
    },
    ReturnResult {
        invoke_id: InvokeId,
        /// The operation and its result element (BER with its tag, if any).
        result: Option<(Code, Option<Vec<u8>>)>,
    },
    ReturnError {
        invoke_id: InvokeId,
        error: Code,
        parameter: Option<Vec<u8>>,
    },
    Reject {
        /// `None`: the NULL choice (the invoke id could not be read).
        invoke_id: Option<InvokeId>,
        problem: Problem,
    },
}

const INVOKE: Tag = Tag::context(1, true);
const RETURN_RESULT: Tag = Tag::context(2, true);
const RETURN_ERROR: Tag = Tag::context(3, true);
const REJECT: Tag = Tag::context(4, true);
const LINKED_ID: Tag = Tag::context(0, false);

impl Component {
    /// The invoke identifier this component carries.
    pub fn invoke_id(&self) -> Option<InvokeId> {
        match self {
            Component::Invoke { invoke_id, .. }
            | Component::ReturnResult { invoke_id, .. }
            | Component::ReturnError { invoke_id, .. } => Some(*invoke_id),
            Component::Reject { invoke_id, .. } => *invoke_id,
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Component::Invoke {
                invoke_id,
                linked_id,
                operation,
                argument,
            } => ber::encode_constructed(INVOKE, out, |b| {
                ber::encode_integer(Tag::INTEGER, i64::from(invoke_id.0), b);
                if let Some(l) = linked_id {
                    ber::encode_integer(LINKED_ID, i64::from(l.0), b);
                }
                operation.encode(b);
                if let Some(a) = argument {
                    b.extend_from_slice(a);
                }
            }),
            Component::ReturnResult { invoke_id, result } => {
                ber::encode_constructed(RETURN_RESULT, out, |b| {
                    ber::encode_integer(Tag::INTEGER, i64::from(invoke_id.0), b);
                    if let Some((op, res)) = result {
                        ber::encode_constructed(Tag::SEQUENCE, b, |s| {
                            op.encode(s);
                            if let Some(r) = res {
                                s.extend_from_slice(r);
                            }
                        });
                    }
                })
            }
            Component::ReturnError {
                invoke_id,
                error,
                parameter,
            } => ber::encode_constructed(RETURN_ERROR, out, |b| {
                ber::encode_integer(Tag::INTEGER, i64::from(invoke_id.0), b);
                error.encode(b);
                if let Some(p) = parameter {
                    b.extend_from_slice(p);
                }
            }),
            Component::Reject { invoke_id, problem } => ber::encode_constructed(REJECT, out, |b| {
                match invoke_id {
                    Some(id) => ber::encode_integer(Tag::INTEGER, i64::from(id.0), b),
                    None => ber::encode_tlv(Tag::NULL, &[], b),
                }
                let (n, v) = match problem {
                    Problem::General(v) => (0, v),
                    Problem::Invoke(v) => (1, v),
                    Problem::ReturnResult(v) => (2, v),
                    Problem::ReturnError(v) => (3, v),
                };
                ber::encode_integer(Tag::context(n, false), i64::from(*v), b);
            }),
        }
    }

    /// Decodes the next component from `r`.
    pub fn decode(r: &mut Reader<'_>) -> Result<Component, BerError> {
        let offset = r.offset();
        let t = r.read()?;
        let mut c = Reader::inner(&t);
        let comp = match t.tag {
            INVOKE => {
                let id = c.expect(Tag::INTEGER, "invokeId")?;
                let invoke_id = InvokeId(ber::decode_integer("invokeId", id.value)?);
                let linked_id = if c.peek_tag() == Some(LINKED_ID) {
                    let l = c.read()?;
                    Some(InvokeId(ber::decode_integer("linkedId", l.value)?))
                } else {
                    None
                };
                let operation = Code::decode(&mut c, "operation value")?;
                let argument = if c.is_empty() {
                    None
                } else {
                    Some(c.read()?.raw.to_vec())
                };
                c.finish("invoke")?;
                Component::Invoke {
                    invoke_id,
                    linked_id,
                    operation,
                    argument,
                }
            }
            RETURN_RESULT => {
                let id = c.expect(Tag::INTEGER, "invokeId")?;
                let invoke_id = InvokeId(ber::decode_integer("invokeId", id.value)?);
                let result = if c.is_empty() {
                    None
                } else {
                    let seq = c.expect(Tag::SEQUENCE, "result SEQUENCE")?;
                    let mut s = Reader::inner(&seq);
                    let op = Code::decode(&mut s, "operation value")?;
                    let res = if s.is_empty() {
                        None
                    } else {
                        Some(s.read()?.raw.to_vec())
                    };
                    s.finish("result")?;
                    Some((op, res))
                };
                c.finish("return result")?;
                Component::ReturnResult { invoke_id, result }
            }
            RETURN_ERROR => {
                let id = c.expect(Tag::INTEGER, "invokeId")?;
                let invoke_id = InvokeId(ber::decode_integer("invokeId", id.value)?);
                let error = Code::decode(&mut c, "error value")?;
                let parameter = if c.is_empty() {
                    None
                } else {
                    Some(c.read()?.raw.to_vec())
                };
                c.finish("return error")?;
                Component::ReturnError {
                    invoke_id,
                    error,
                    parameter,
                }
            }
            REJECT => {
                let at = c.offset();
                let id = c.read()?;
                let invoke_id = match id.tag {
                    Tag::INTEGER => Some(InvokeId(ber::decode_integer("invokeId", id.value)?)),
                    Tag::NULL => None,
                    other => {
                        return Err(BerError::UnexpectedTag {
                            offset: at,
                            expected: "invokeId or NULL",
                            found: other.code(),
                        })
                    }
                };
                let at = c.offset();
                let p = c.read()?;
                let v = ber::decode_integer("problem", p.value)?;
                let problem = match (p.tag.class, p.tag.number) {
                    (ber::Class::Context, 0) => Problem::General(v),
                    (ber::Class::Context, 1) => Problem::Invoke(v),
                    (ber::Class::Context, 2) => Problem::ReturnResult(v),
                    (ber::Class::Context, 3) => Problem::ReturnError(v),
                    _ => {
                        return Err(BerError::UnexpectedTag {
                            offset: at,
                            expected: "problem [0]..[3]",
                            found: p.tag.code(),
                        })
                    }
                };
                c.finish("reject")?;
                Component::Reject { invoke_id, problem }
            }
            other => {
                return Err(BerError::UnexpectedTag {
                    offset,
                    expected: "ROSE component [1]..[4]",
                    found: other.code(),
                })
            }
        };
        Ok(comp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bytes: &[u8]) -> Component {
        let mut r = Reader::new(bytes);
        let c = Component::decode(&mut r).unwrap();
        assert!(r.is_empty());
        let mut out = Vec::new();
        c.encode(&mut out);
        assert_eq!(out, bytes, "{c:?}");
        c
    }

    #[test]
    fn components_known_answers() {
        // Invoke id 1, local operation 6 (ETSI EctExecute), no argument.
        let c = round_trip(&[0xA1, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x06]);
        assert_eq!(c.invoke_id(), Some(InvokeId(1)));
        // Return result without operation (libpri's rose_result_ok_encode).
        round_trip(&[0xA2, 0x03, 0x02, 0x01, 0x05]);
        // Return error, local error 3 (notAvailable).
        let c = round_trip(&[0xA3, 0x06, 0x02, 0x01, 0x07, 0x02, 0x01, 0x03]);
        assert!(matches!(
            c,
            Component::ReturnError {
                error: Code::Local(3),
                ..
            }
        ));
        // Reject, invoke problem 1 (unrecognizedOperation).
        let c = round_trip(&[0xA4, 0x06, 0x02, 0x01, 0x09, 0x81, 0x01, 0x01]);
        assert_eq!(
            c,
            Component::Reject {
                invoke_id: Some(InvokeId(9)),
                problem: Problem::Invoke(1)
            }
        );
        // Reject with the NULL invoke id.
        round_trip(&[0xA4, 0x05, 0x05, 0x00, 0x80, 0x01, 0x00]);
        // Invoke with a linked id.
        round_trip(&[
            0xA1, 0x09, 0x02, 0x01, 0x02, 0x80, 0x01, 0x01, 0x02, 0x01, 0x06,
        ]);
    }

    #[test]
    fn bad_components_are_errors() {
        for bad in [
            &[0xA5, 0x00][..],
            &[0xA1, 0x03, 0x02, 0x01, 0x01],
            &[0xA1, 0x02, 0x04, 0x00],
            &[0xA4, 0x03, 0x02, 0x01, 0x01],
            &[0xA2, 0x05, 0x02, 0x01, 0x01, 0x30, 0x00],
            &[
                0xA1, 0x09, 0x02, 0x01, 0x01, 0x02, 0x01, 0x06, 0x05, 0x00, 0x05,
            ],
        ] {
            assert!(
                Component::decode(&mut Reader::new(bad)).is_err(),
                "{bad:02x?}"
            );
        }
    }
}
