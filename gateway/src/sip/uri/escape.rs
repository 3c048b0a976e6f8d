//! `escaped = "%" HEXDIG HEXDIG` (RFC 3261 §25.1, RFC 3986 §2.1).

use std::borrow::Cow;

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decode `%HH` escapes. The result is octets: `%00` and non-UTF-8 sequences are legal
/// (RFC 4475 §3.1.1.4). `None` when a `%` is not followed by two hex digits.
pub fn unescape(s: &str) -> Option<Cow<'_, [u8]>> {
    if !s.contains('%') {
        return Some(Cow::Borrowed(s.as_bytes()));
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = hex(*b.get(i + 1)?)?;
            let l = hex(*b.get(i + 2)?)?;
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(Cow::Owned(out))
}

/// Whether every `%` in `s` starts a valid escape.
pub(crate) fn escapes_valid(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            match (
                b.get(i + 1).and_then(|&c| hex(c)),
                b.get(i + 2).and_then(|&c| hex(c)),
            ) {
                (Some(_), Some(_)) => i += 3,
                _ => return false,
            }
        } else {
            i += 1;
        }
    }
    true
}
