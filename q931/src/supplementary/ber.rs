//! The subset of ASN.1 BER (ITU-T X.690) that Q.932 supplementary service APDUs use:
//! identifier octets (§8.1.2), definite lengths (§8.1.3), INTEGER (§8.3), NULL (§8.8),
//! OBJECT IDENTIFIER (§8.19) and constructed values. Decoding never panics; every
//! problem is a [`BerError`] naming the offset.

/// What is wrong with BER-encoded octets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BerError {
    #[error("offset {offset}: {what} missing (end of data)")]
    Truncated { offset: usize, what: &'static str },
    /// X.690 §8.1.3.6: the indefinite form is not used by Q.932 APDUs here.
    #[error("offset {offset}: indefinite length not supported")]
    IndefiniteLength { offset: usize },
    #[error("offset {offset}: length of {len} octets exceeds the {available} left")]
    Length {
        offset: usize,
        len: usize,
        available: usize,
    },
    #[error("offset {offset}: tag number too large")]
    TagTooLarge { offset: usize },
    #[error("offset {offset}: expected {expected}, found tag {found:#04x}")]
    UnexpectedTag {
        offset: usize,
        expected: &'static str,
        found: u32,
    },
    #[error("{what}: integer of {len} octets does not fit")]
    IntegerTooLong { what: &'static str, len: usize },
    #[error("{what}: empty integer")]
    EmptyInteger { what: &'static str },
    #[error("object identifier: bad subidentifier")]
    BadOid,
    #[error("{what}: unexpected octets after the last element")]
    Trailing { what: &'static str },
}

/// Tag class, X.690 §8.1.2.2 (bits 8–7 of the identifier octet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Universal,
    Application,
    Context,
    Private,
}

/// An identifier: class, primitive/constructed and tag number (X.690 §8.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tag {
    pub class: Class,
    pub constructed: bool,
    pub number: u32,
}

impl Tag {
    pub const INTEGER: Tag = Tag::universal(2, false);
    pub const NULL: Tag = Tag::universal(5, false);
    pub const OID: Tag = Tag::universal(6, false);
    pub const ENUMERATED: Tag = Tag::universal(10, false);
    pub const SEQUENCE: Tag = Tag::universal(16, true);

    pub const fn universal(number: u32, constructed: bool) -> Tag {
        Tag {
            class: Class::Universal,
            constructed,
            number,
        }
    }

    pub const fn context(number: u32, constructed: bool) -> Tag {
        Tag {
            class: Class::Context,
            constructed,
            number,
        }
    }

    /// The identifier octet for tag numbers below 31 (all ROSE needs), or the first
    /// octet of the high-tag-number form.
    pub fn first_octet(self) -> u8 {
        let class = match self.class {
            Class::Universal => 0x00,
            Class::Application => 0x40,
            Class::Context => 0x80,
            Class::Private => 0xC0,
        };
        let pc = if self.constructed { 0x20 } else { 0 };
        class
            | pc
            | if self.number < 31 {
                self.number as u8
            } else {
                0x1F
            }
    }

    /// The tag as one number for messages: the identifier octet for low numbers.
    pub fn code(self) -> u32 {
        if self.number < 31 {
            u32::from(self.first_octet())
        } else {
            0x1F_0000 | self.number
        }
    }

    pub fn encode(self, out: &mut Vec<u8>) {
        out.push(self.first_octet());
        if self.number >= 31 {
            // §8.1.2.4.2: base 128, bit 8 set on all but the last octet.
            let mut n = self.number;
            let mut tmp = [0u8; 5];
            let mut i = tmp.len();
            loop {
                i -= 1;
                tmp[i] = (n & 0x7F) as u8 | if i == tmp.len() - 1 { 0 } else { 0x80 };
                n >>= 7;
                if n == 0 {
                    break;
                }
            }
            out.extend_from_slice(&tmp[i..]);
        }
    }
}

/// One decoded element: its tag, contents and the whole encoding (identifier, length and
/// contents) as it was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: Tag,
    pub value: &'a [u8],
    pub raw: &'a [u8],
    /// Offset of the contents in the outermost buffer.
    pub offset: usize,
}

/// Reads elements one after another from a buffer, tracking the offset for errors.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// Offset of `data[0]` in the outermost buffer (for messages).
    base: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader {
            data,
            pos: 0,
            base: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The offset of the next element in the outermost buffer.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// The tag of the next element without consuming it.
    pub fn peek_tag(&self) -> Option<Tag> {
        let mut r = self.clone();
        r.read_tag().ok()
    }

    fn byte(&mut self, what: &'static str) -> Result<u8, BerError> {
        let b = *self.data.get(self.pos).ok_or(BerError::Truncated {
            offset: self.offset(),
            what,
        })?;
        self.pos += 1;
        Ok(b)
    }

    fn read_tag(&mut self) -> Result<Tag, BerError> {
        let first = self.byte("identifier octet")?;
        let class = match first >> 6 {
            0 => Class::Universal,
            1 => Class::Application,
            2 => Class::Context,
            _ => Class::Private,
        };
        let constructed = first & 0x20 != 0;
        let mut number = u32::from(first & 0x1F);
        if number == 0x1F {
            number = 0;
            for i in 0.. {
                let b = self.byte("tag number")?;
                if i == 4 {
                    return Err(BerError::TagTooLarge {
                        offset: self.offset(),
                    });
                }
                number = (number << 7) | u32::from(b & 0x7F);
                if b & 0x80 == 0 {
                    break;
                }
            }
        }
        Ok(Tag {
            class,
            constructed,
            number,
        })
    }

    /// The next element.
    pub fn read(&mut self) -> Result<Tlv<'a>, BerError> {
        let start = self.pos;
        let tag = self.read_tag()?;
        let first = self.byte("length")?;
        let len = if first < 0x80 {
            usize::from(first)
        } else if first == 0x80 {
            return Err(BerError::IndefiniteLength {
                offset: self.offset() - 1,
            });
        } else {
            let n = usize::from(first & 0x7F);
            if n > 3 {
                return Err(BerError::Length {
                    offset: self.offset() - 1,
                    len: usize::MAX,
                    available: self.data.len() - self.pos,
                });
            }
            let mut len = 0usize;
            for _ in 0..n {
                len = (len << 8) | usize::from(self.byte("length")?);
            }
            len
        };
        let available = self.data.len() - self.pos;
        if len > available {
            return Err(BerError::Length {
                offset: self.offset(),
                len,
                available,
            });
        }
        let value = &self.data[self.pos..self.pos + len];
        let offset = self.offset();
        self.pos += len;
        Ok(Tlv {
            tag,
            value,
            raw: &self.data[start..self.pos],
            offset,
        })
    }

    /// The next element, which must carry `tag`.
    pub fn expect(&mut self, tag: Tag, expected: &'static str) -> Result<Tlv<'a>, BerError> {
        let offset = self.offset();
        let t = self.read()?;
        if t.tag != tag {
            return Err(BerError::UnexpectedTag {
                offset,
                expected,
                found: t.tag.code(),
            });
        }
        Ok(t)
    }

    /// A reader over the contents of a constructed element read from this one.
    pub fn inner(tlv: &Tlv<'a>) -> Reader<'a> {
        Reader {
            data: tlv.value,
            pos: 0,
            base: tlv.offset,
        }
    }

    /// Fails unless everything was read.
    pub fn finish(&self, what: &'static str) -> Result<(), BerError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(BerError::Trailing { what })
        }
    }
}

/// X.690 §8.1.3: definite length, short form below 128, long form otherwise.
pub fn encode_length(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else if len <= 0xFF {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
}

/// An element with the given contents.
pub fn encode_tlv(tag: Tag, value: &[u8], out: &mut Vec<u8>) {
    tag.encode(out);
    encode_length(value.len(), out);
    out.extend_from_slice(value);
}

/// A constructed element whose contents `body` writes.
pub fn encode_constructed(tag: Tag, out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::with_capacity(32);
    body(&mut inner);
    encode_tlv(tag, &inner, out);
}

/// X.690 §8.3: the contents octets of an INTEGER, two's complement, fewest octets.
pub fn integer_contents(v: i64) -> ([u8; 8], usize) {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        // A leading octet is redundant when it only repeats the sign of the next one.
        if (b == 0x00 && next & 0x80 == 0) || (b == 0xFF && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    let mut out = [0u8; 8];
    let n = 8 - start;
    out[..n].copy_from_slice(&bytes[start..]);
    (out, n)
}

/// An INTEGER (or another integer-valued type under `tag`: ENUMERATED, an implicit tag).
pub fn encode_integer(tag: Tag, v: i64, out: &mut Vec<u8>) {
    let (b, n) = integer_contents(v);
    encode_tlv(tag, &b[..n], out);
}

/// The value of INTEGER contents of at most 4 octets (every integer of the APDUs here).
pub fn decode_integer(what: &'static str, contents: &[u8]) -> Result<i32, BerError> {
    if contents.is_empty() {
        return Err(BerError::EmptyInteger { what });
    }
    if contents.len() > 4 {
        return Err(BerError::IntegerTooLong {
            what,
            len: contents.len(),
        });
    }
    let mut v: i32 = if contents[0] & 0x80 != 0 { -1 } else { 0 };
    for &b in contents {
        v = (v << 8) | i32::from(b);
    }
    Ok(v)
}

/// An OBJECT IDENTIFIER value as its arcs (X.690 §8.19), e.g. `{0 4 0 369 1 4}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Oid(pub Vec<u32>);

impl Oid {
    pub fn new(arcs: &[u32]) -> Oid {
        Oid(arcs.to_vec())
    }

    /// `prefix` followed by `last`.
    pub fn child(prefix: &[u32], last: u32) -> Oid {
        let mut v = prefix.to_vec();
        v.push(last);
        Oid(v)
    }

    /// The last arc when the value starts with `prefix` and has one arc more.
    pub fn under(&self, prefix: &[u32]) -> Option<u32> {
        (self.0.len() == prefix.len() + 1 && self.0.starts_with(prefix))
            .then(|| self.0[prefix.len()])
    }

    /// The contents octets (§8.19.2–§8.19.4: the first two arcs share a subidentifier).
    pub fn contents(&self, out: &mut Vec<u8>) {
        let mut subs = Vec::with_capacity(self.0.len());
        match self.0.as_slice() {
            [] => {}
            [a] => subs.push(a.saturating_mul(40)),
            [a, b, rest @ ..] => {
                subs.push(a.saturating_mul(40).saturating_add(*b));
                subs.extend_from_slice(rest);
            }
        }
        for s in subs {
            let mut tmp = [0u8; 5];
            let mut i = tmp.len();
            let mut n = s;
            loop {
                i -= 1;
                tmp[i] = (n & 0x7F) as u8 | if i == tmp.len() - 1 { 0 } else { 0x80 };
                n >>= 7;
                if n == 0 {
                    break;
                }
            }
            out.extend_from_slice(&tmp[i..]);
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut c = Vec::with_capacity(8);
        self.contents(&mut c);
        encode_tlv(Tag::OID, &c, out);
    }

    pub fn decode(contents: &[u8]) -> Result<Oid, BerError> {
        let mut subs = Vec::with_capacity(8);
        let mut v: u32 = 0;
        let mut len = 0;
        for &b in contents {
            if len == 0 && b == 0x80 {
                // §8.19.2: no leading 0x80 octet.
                return Err(BerError::BadOid);
            }
            len += 1;
            if len > 5 {
                return Err(BerError::BadOid);
            }
            v = (v << 7) | u32::from(b & 0x7F);
            if b & 0x80 == 0 {
                subs.push(v);
                v = 0;
                len = 0;
            }
        }
        if len != 0 || subs.is_empty() {
            return Err(BerError::BadOid);
        }
        let first = subs[0];
        let (a, b) = match first {
            0..=39 => (0, first),
            40..=79 => (1, first - 40),
            _ => (2, first - 80),
        };
        let mut arcs = vec![a, b];
        arcs.extend_from_slice(&subs[1..]);
        Ok(Oid(arcs))
    }
}

impl std::fmt::Display for Oid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("{")?;
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{a}")?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_use_the_fewest_octets() {
        for (v, want) in [
            (0i64, &[0x00][..]),
            (127, &[0x7F]),
            (128, &[0x00, 0x80]),
            (-1, &[0xFF]),
            (-128, &[0x80]),
            (-129, &[0xFF, 0x7F]),
            (0x1234, &[0x12, 0x34]),
        ] {
            let (b, n) = integer_contents(v);
            assert_eq!(&b[..n], want, "{v}");
            assert_eq!(i64::from(decode_integer("x", want).unwrap()), v);
        }
    }

    #[test]
    fn oid_known_answers() {
        // ETSI ECT operations {ccitt(0) identified-organization(4) etsi(0) 369 1}, arc 4.
        let o = Oid::new(&[0, 4, 0, 369, 1, 4]);
        let mut out = Vec::new();
        o.encode(&mut out);
        assert_eq!(out, [0x06, 0x06, 0x04, 0x00, 0x82, 0x71, 0x01, 0x04]);
        assert_eq!(Oid::decode(&out[2..]).unwrap(), o);
        // ANSI T1 operations {iso(1) member-body(2) usa(840) ansi-t1(10005) 0}, arc 8.
        let o = Oid::new(&[1, 2, 840, 10005, 0, 8]);
        out.clear();
        o.encode(&mut out);
        assert_eq!(out, [0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x15, 0x00, 0x08]);
        assert_eq!(Oid::decode(&out[2..]).unwrap(), o);
        assert!(Oid::decode(&[0x80, 0x01]).is_err());
        assert!(Oid::decode(&[0x81]).is_err());
    }

    #[test]
    fn long_lengths_and_tags() {
        let mut out = Vec::new();
        encode_tlv(Tag::context(40, true), &[0u8; 200], &mut out);
        assert_eq!(&out[..4], &[0xBF, 0x28, 0x81, 200]);
        let mut r = Reader::new(&out);
        let t = r.read().unwrap();
        assert_eq!(t.tag, Tag::context(40, true));
        assert_eq!(t.value.len(), 200);
        assert!(r.finish("x").is_ok());
        assert!(Reader::new(&[0x30, 0x80]).read().is_err());
        assert!(Reader::new(&[0x30, 0x05, 0x00]).read().is_err());
        assert!(Reader::new(&[0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
            .read()
            .is_err());
    }
}
