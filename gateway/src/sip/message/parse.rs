//! Splitting a message into start line, header fields and body (RFC 3261 §7, §7.3.1, §7.5,
//! §18.3, §25.1). One pass over the header section; nothing is copied.

use super::{HeaderName, RawHeader, SipMessage, Span, StartLine};
use crate::sip::error::{ParseError, ParseErrorKind};
use crate::sip::scan::{is_token, parse_u64_octets};
use crate::sip::status::StatusCode;
use crate::sip::uri::Uri;
use bytes::Bytes;

/// The largest message accepted (octets); larger ones get 513 (RFC 3261 §21.5.14).
pub const MAX_MESSAGE_SIZE: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    Datagram,
    Stream,
}

pub(crate) struct Head {
    pub(crate) start: StartLine,
    pub(crate) headers: std::sync::Arc<[RawHeader]>,
    pub(crate) content_length: Option<u32>,
    /// Offset of the first body octet (just past CRLF CRLF).
    pub(crate) body_start: usize,
    pub(crate) is_response: bool,
    /// Every octet of every header value is ASCII (so each value is UTF-8 as it stands).
    pub(crate) ascii_values: bool,
}

fn incomplete(buf: &[u8]) -> ParseError {
    ParseError::new(ParseErrorKind::Incomplete, buf.len())
}

/// Position of the first CR or LF in `s`, and whether every octet before it is ASCII.
///
/// Sixteen octets at a time with SSE2 (part of every x86_64): one signed compare flags the
/// octets below 0x0E, which are CR, LF, a few other controls, and, being negative as `i8`,
/// every octet from 0x80; only flagged octets are looked at one by one.
#[cfg(target_arch = "x86_64")]
#[inline]
fn find_line_break(s: &[u8]) -> (Option<usize>, bool) {
    use std::arch::x86_64::{
        __m128i, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    #[inline(always)]
    fn flagged(s: &[u8], at: usize) -> u32 {
        let chunk = &s[at..at + 16];
        // SAFETY: `chunk` is 16 in-bounds octets (the slice above checked it) and an
        // unaligned load reads exactly those; SSE2 is in the x86_64 baseline.
        unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
            _mm_movemask_epi8(_mm_cmplt_epi8(v, _mm_set1_epi8(0x0E))) as u32
        }
    }
    let mut ascii = true;
    let mut i = 0;
    while i + 16 <= s.len() {
        let mut m = flagged(s, i);
        while m != 0 {
            let at = i + m.trailing_zeros() as usize;
            let c = s[at];
            if c == b'\r' || c == b'\n' {
                return (Some(at), ascii);
            }
            ascii &= c.is_ascii();
            m &= m - 1;
        }
        i += 16;
    }
    if i < s.len() && s.len() >= 16 {
        // The last, partial chunk: load the final 16 octets and drop those already seen.
        let base = s.len() - 16;
        let mut m = flagged(s, base) & (u32::MAX << (i - base));
        while m != 0 {
            let at = base + m.trailing_zeros() as usize;
            let c = s[at];
            if c == b'\r' || c == b'\n' {
                return (Some(at), ascii);
            }
            ascii &= c.is_ascii();
            m &= m - 1;
        }
        return (None, ascii);
    }
    find_line_break_scalar(&s[i..], i, ascii)
}

/// A known header name right before a ':' within the 16 octets at `pos`: the colon's offset
/// and the name's id. `None` sends the caller to the octet-by-octet scan (extension names,
/// white space before the colon, long names, the end of the buffer near).
///
/// Without the token scan this is still exact: no octet before the colon is below 0x0E or
/// above 0x7F (checked), and for such octets the folded comparison of
/// [`HeaderName::lookup_token_id`] only matches letters and '-' (the one other octet that
/// folds onto a known name's octet is CR, 0x0D), so a match is a token.
#[cfg(target_arch = "x86_64")]
#[inline]
fn known_name(buf: &[u8], pos: usize) -> Option<(usize, u8)> {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let chunk = buf.get(pos..pos + 16)?;
    // SAFETY: `chunk` is 16 in-bounds octets and an unaligned load reads exactly those;
    // SSE2 is in the x86_64 baseline.
    let (colons, low) = unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        (
            _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b':' as i8))) as u32,
            _mm_movemask_epi8(_mm_cmplt_epi8(v, _mm_set1_epi8(0x0E))) as u32,
        )
    };
    if colons == 0 {
        return None;
    }
    let len = colons.trailing_zeros() as usize;
    if len == 0 || low & ((1u32 << len) - 1) != 0 || is_wsp(chunk[len - 1]) {
        return None;
    }
    let id = HeaderName::lookup_token_id(&chunk[..len]);
    (id != super::header_name::EXTENSION).then_some((pos + len, id))
}

/// Portable form: always the octet-by-octet scan.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn known_name(_buf: &[u8], _pos: usize) -> Option<(usize, u8)> {
    None
}

/// Portable form of `find_line_break`.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn find_line_break(s: &[u8]) -> (Option<usize>, bool) {
    find_line_break_scalar(s, 0, true)
}

/// `find_line_break` one octet at a time on `s`, which starts at offset `base`.
fn find_line_break_scalar(s: &[u8], base: usize, mut ascii: bool) -> (Option<usize>, bool) {
    for (k, &c) in s.iter().enumerate() {
        if c == b'\r' || c == b'\n' {
            return (Some(base + k), ascii);
        }
        ascii &= c.is_ascii();
    }
    (None, ascii)
}

/// The line starting at `from` ends at the returned offset (its CR); a bare CR or LF is an
/// error (RFC 3261 §7: lines end in CRLF); `None` when the buffer ends first. Also says
/// whether the line is ASCII.
#[inline]
fn line_end(buf: &[u8], from: usize) -> Result<(Option<usize>, bool), ParseError> {
    let (found, ascii) = find_line_break(&buf[from..]);
    match found {
        None => Ok((None, ascii)),
        Some(i) => {
            let at = from + i;
            if buf[at] == b'\n' {
                return Err(ParseError::new(ParseErrorKind::HeaderLine, at));
            }
            match buf.get(at + 1) {
                None => Ok((None, ascii)),
                Some(b'\n') => Ok((Some(at), ascii)),
                Some(_) => Err(ParseError::new(ParseErrorKind::HeaderLine, at)),
            }
        }
    }
}

/// Find the next CRLF at or after `from`; a bare CR or LF is an error (RFC 3261 §7: lines
/// end in CRLF).
#[inline]
fn find_crlf(buf: &[u8], from: usize) -> Result<Option<usize>, ParseError> {
    line_end(buf, from).map(|(end, _)| end)
}

#[inline]
fn is_wsp(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// Parse the start line and header section of `buf`.
pub(crate) fn parse_head(buf: &[u8]) -> Result<Head, ParseError> {
    let mut pos = 0;
    // RFC 3261 §7.5: ignore CRLFs before the start line.
    while buf[pos..].starts_with(b"\r\n") {
        pos += 2;
    }
    let is_response = buf[pos..].starts_with(b"SIP/");
    parse_head_from(buf, pos).map_err(|mut e| {
        e.in_response = is_response;
        e
    })
}

thread_local! {
    /// Where a message's header fields are collected before they are frozen into the
    /// message's shared table (one allocation per message, of the exact size).
    static SCRATCH: std::cell::RefCell<Vec<RawHeader>> =
        std::cell::RefCell::new(Vec::with_capacity(32));
}

fn parse_head_from(buf: &[u8], pos: usize) -> Result<Head, ParseError> {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut headers) => {
            headers.clear();
            parse_head_into(buf, pos, &mut headers)
        }
        // Only reachable if parsing re-entered itself on this thread; stay correct anyway.
        Err(_) => parse_head_into(buf, pos, &mut Vec::with_capacity(16)),
    })
}

/// The error for a header line at `pos` that is not `header-name HCOLON value`: the line's
/// own framing error (bare CR/LF, end of buffer) comes first, as the line is framed before
/// it is split.
#[cold]
fn bad_header_line(buf: &[u8], pos: usize) -> ParseError {
    match find_crlf(buf, pos) {
        Err(e) => e,
        Ok(None) => incomplete(buf),
        Ok(Some(_)) => ParseError::new(ParseErrorKind::HeaderLine, pos),
    }
}

fn parse_head_into(
    buf: &[u8],
    mut pos: usize,
    headers: &mut Vec<RawHeader>,
) -> Result<Head, ParseError> {
    let line_end0 = find_crlf(buf, pos)?.ok_or_else(|| incomplete(buf))?;
    let start = parse_start_line(buf, pos, line_end0)?;
    let is_response = matches!(start, StartLine::Response { .. });
    pos = line_end0 + 2;
    let mut ascii_values = true;
    loop {
        let Some(&first) = buf.get(pos) else {
            return Err(incomplete(buf));
        };
        if is_token(first) {
            // header-name HCOLON value: HCOLON = *( SP / HTAB ) ":" SWS (§7.3.1, §25.1).
            let (name_end, colon, id) = match known_name(buf, pos) {
                Some((colon, id)) => (colon, colon, id),
                None => {
                    let mut name_end = pos + 1;
                    while name_end < buf.len() && is_token(buf[name_end]) {
                        name_end += 1;
                    }
                    let mut colon = name_end;
                    while colon < buf.len() && is_wsp(buf[colon]) {
                        colon += 1;
                    }
                    if buf.get(colon) != Some(&b':') {
                        return Err(bad_header_line(buf, pos));
                    }
                    (
                        name_end,
                        colon,
                        HeaderName::lookup_token_id(&buf[pos..name_end]),
                    )
                }
            };
            let mut vs = colon + 1;
            while vs < buf.len() && is_wsp(buf[vs]) {
                vs += 1;
            }
            let (end, ascii) = line_end(buf, vs)?;
            let end = end.ok_or_else(|| incomplete(buf))?;
            ascii_values &= ascii;
            let mut ve = end.max(vs);
            while ve > vs && is_wsp(buf[ve - 1]) {
                ve -= 1;
            }
            headers.push(RawHeader {
                name: Span::new(pos, name_end),
                value: Span::new(vs, ve),
                id,
            });
            pos = end + 2;
            continue;
        }
        let (end, ascii) = line_end(buf, pos)?;
        let le = end.ok_or_else(|| incomplete(buf))?;
        if le == pos {
            pos += 2;
            break;
        }
        let line = &buf[pos..le];
        if !is_wsp(line[0]) {
            return Err(ParseError::new(ParseErrorKind::HeaderLine, pos));
        }
        ascii_values &= ascii;
        // A fold: LWS = [*WSP CRLF] 1*WSP continues the previous value (§7.3.1).
        let Some(last) = headers.last_mut() else {
            return Err(ParseError::new(ParseErrorKind::HeaderLine, pos));
        };
        let first = line.iter().position(|&c| !is_wsp(c));
        if let Some(first) = first {
            let last_non_ws = line.iter().rposition(|&c| !is_wsp(c)).unwrap_or(first);
            if last.value.is_empty() {
                last.value.start = (pos + first) as u32;
            }
            last.value.end = (pos + last_non_ws + 1) as u32;
        }
        pos = le + 2;
    }
    // Content-Length (§20.14): one value, 1*DIGIT. Two fields are an error even when equal
    // (RFC 4475 §3.3.10).
    let mut content_length = None;
    for h in headers.iter() {
        if Some(h.id) == HeaderName::ContentLength.id() {
            if content_length.is_some() {
                return Err(ParseError::new(
                    ParseErrorKind::Duplicate(HeaderName::ContentLength),
                    h.name.start as usize,
                ));
            }
            let v = &buf[h.value.range()];
            let n = parse_u64_octets(v, MAX_MESSAGE_SIZE as u64).ok_or_else(|| {
                ParseError::header(
                    HeaderName::ContentLength,
                    if v.first() == Some(&b'-') {
                        "negative Content-Length"
                    } else {
                        "Content-Length must be 1*DIGIT"
                    },
                    h.value.start as usize,
                )
            })?;
            content_length = Some(n as u32);
        }
    }
    Ok(Head {
        start,
        headers: std::sync::Arc::from(&headers[..]),
        content_length,
        body_start: pos,
        is_response,
        ascii_values,
    })
}

/// `SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT` (case-insensitive "SIP"): 505 when
/// well-formed but not 2.0 (RFC 3261 §8.2.1 ... §21.5.6), 400 when malformed.
fn check_version(v: &[u8], at: usize) -> Result<(), ParseError> {
    if v.len() >= 4 && v[..4].eq_ignore_ascii_case(b"SIP/") {
        let rest = &v[4..];
        if let Some(dot) = rest.iter().position(|&c| c == b'.') {
            let (maj, min) = (&rest[..dot], &rest[dot + 1..]);
            let digits = |s: &[u8]| !s.is_empty() && s.iter().all(|c| c.is_ascii_digit());
            if digits(maj) && digits(min) {
                return if maj == b"2" && min == b"0" {
                    Ok(())
                } else {
                    Err(ParseError::new(ParseErrorKind::Version, at))
                };
            }
        }
    }
    Err(ParseError::new(
        ParseErrorKind::StartLine("malformed SIP-Version"),
        at,
    ))
}

fn parse_start_line(buf: &[u8], start: usize, end: usize) -> Result<StartLine, ParseError> {
    let Ok(line_str) = std::str::from_utf8(&buf[start..end]) else {
        return Err(ParseError::new(
            ParseErrorKind::StartLine("not UTF-8"),
            start,
        ));
    };
    let line = line_str.as_bytes();
    if line.starts_with(b"SIP/") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF
        let sp = memchr::memchr(b' ', line).ok_or_else(|| {
            ParseError::new(
                ParseErrorKind::StartLine("SP expected after SIP-Version"),
                start,
            )
        })?;
        check_version(&line[..sp], start)?;
        let rest = &line[sp + 1..];
        let code_end = rest.iter().position(|&c| c == b' ').unwrap_or(rest.len());
        let code = &rest[..code_end];
        if code.len() != 3 || !code.iter().all(|c| c.is_ascii_digit()) {
            return Err(ParseError::new(
                ParseErrorKind::StartLine("Status-Code must be 3DIGIT"),
                start + sp + 1,
            ));
        }
        let n = u16::from(code[0] - b'0') * 100
            + u16::from(code[1] - b'0') * 10
            + u16::from(code[2] - b'0');
        let code = StatusCode::new(n).ok_or_else(|| {
            ParseError::new(
                ParseErrorKind::StartLine("Status-Code out of range"),
                start + sp + 1,
            )
        })?;
        let reason_start = (start + sp + 1 + code_end + 1).min(end);
        Ok(StartLine::Response {
            code,
            reason: Span::new(reason_start, end),
        })
    } else {
        // Request-Line = Method SP Request-URI SP SIP-Version CRLF: exactly two SPs
        // (RFC 4475 §3.1.2.8 - §3.1.2.10).
        let sp1 = memchr::memchr(b' ', line).ok_or_else(|| {
            ParseError::new(ParseErrorKind::StartLine("SP expected after Method"), start)
        })?;
        let method = &line[..sp1];
        if method.is_empty() || !method.iter().all(|&c| is_token(c)) {
            return Err(ParseError::new(
                ParseErrorKind::StartLine("Method must be a token"),
                start,
            ));
        }
        let rest = &line[sp1 + 1..];
        let sp2 = memchr::memchr(b' ', rest).ok_or_else(|| {
            ParseError::new(
                ParseErrorKind::StartLine("SP expected after Request-URI"),
                start + sp1 + 1,
            )
        })?;
        let uri = &rest[..sp2];
        let version = &rest[sp2 + 1..];
        let version_at = start + sp1 + 1 + sp2 + 1;
        if version.contains(&b' ') || version.contains(&b'\t') {
            return Err(ParseError::new(
                ParseErrorKind::StartLine("extra SP in Request-Line"),
                version_at,
            ));
        }
        let uri_at = start + sp1 + 1;
        if uri.is_empty() {
            return Err(ParseError::new(
                ParseErrorKind::StartLine("extra SP in Request-Line"),
                uri_at,
            ));
        }
        check_version(version, version_at)?;
        // The line is UTF-8 and the URI is delimited by ASCII SPs (so on char boundaries).
        let uri_str = line_str.get(sp1 + 1..sp1 + 1 + sp2).unwrap_or("");
        match Uri::parse(uri_str) {
            Ok(Uri::Sip(u)) if !u.headers.is_empty() => {
                // Headers are not allowed in a Request-URI (RFC 3261 §19.1.1 table 1,
                // RFC 4475 §3.1.2.11).
                return Err(ParseError::new(
                    ParseErrorKind::RequestUri("headers not allowed in Request-URI"),
                    uri_at,
                ));
            }
            Ok(_) => {}
            Err(e) => {
                return Err(ParseError::new(
                    ParseErrorKind::RequestUri(e.reason),
                    uri_at + e.at,
                ))
            }
        }
        Ok(StartLine::Request {
            method: Span::new(start, start + sp1),
            uri: Span::new(uri_at, uri_at + uri.len()),
        })
    }
}

pub(crate) fn parse_message(buf: Bytes, framing: Framing) -> Result<SipMessage, ParseError> {
    if buf.len() > MAX_MESSAGE_SIZE {
        return Err(ParseError::new(ParseErrorKind::TooLarge, MAX_MESSAGE_SIZE));
    }
    let head = parse_head(&buf)?;
    let available = buf.len() - head.body_start;
    let body_len = match (head.content_length, framing) {
        (Some(cl), _) if cl as usize > available => {
            let mut e = ParseError::new(ParseErrorKind::BodyTooShort, buf.len());
            e.in_response = head.is_response;
            return Err(e);
        }
        (Some(cl), Framing::Datagram) => cl as usize,
        (Some(cl), Framing::Stream) if cl as usize == available => cl as usize,
        (Some(_), Framing::Stream) => {
            let mut e = ParseError::new(ParseErrorKind::HeaderLine, head.body_start);
            e.in_response = head.is_response;
            return Err(e);
        }
        (None, Framing::Datagram) => available,
        (None, Framing::Stream) => {
            let mut e = ParseError::new(ParseErrorKind::MissingContentLength, head.body_start);
            e.in_response = head.is_response;
            return Err(e);
        }
    };
    Ok(SipMessage {
        start: head.start,
        headers: head.headers,
        body: Span::new(head.body_start, head.body_start + body_len),
        content_length: head.content_length,
        ascii_values: head.ascii_values,
        buf,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whenever the 16-octet shortcut names a header, the octet-by-octet scan finds the same
    /// name end and id: for every known spelling in several cases, and for each of them with
    /// one octet replaced by octets that fold like letters or '-' (CR, '\x0d' | 0x20 = '-'),
    /// controls, white space, non-ASCII and token punctuation.
    #[test]
    fn known_name_shortcut_agrees_with_token_scan() {
        let slow = |buf: &[u8]| -> Option<(usize, u8)> {
            let mut end = 0;
            while end < buf.len() && is_token(buf[end]) {
                end += 1;
            }
            (end > 0 && buf.get(end) == Some(&b':'))
                .then(|| (end, HeaderName::lookup_token_id(&buf[..end])))
        };
        let names = [
            "Via",
            "v",
            "From",
            "To",
            "Call-ID",
            "CSeq",
            "Contact",
            "Max-Forwards",
            "Content-Length",
            "Content-Type",
            "Session-Expires",
            "Min-SE",
            "Allow",
            "Supported",
            "User-Agent",
            "WWW-Authenticate",
            "X-Custom",
            "P-Asserted-Identity",
        ];
        let mut hits = 0;
        for name in names {
            for spelled in [
                name.to_string(),
                name.to_ascii_lowercase(),
                name.to_ascii_uppercase(),
            ] {
                let line = format!("{spelled}: value goes on for a while\r\n\r\n");
                let b = line.as_bytes();
                for at in 0..spelled.len() {
                    for c in [
                        b'\r', b'\n', b'-', b'\t', b' ', 0x0b, 0x80, 0xc0, b'_', b'.', b'@',
                    ] {
                        for v in [b.to_vec(), {
                            let mut m = b.to_vec();
                            m[at] = c;
                            m
                        }] {
                            if let Some(fast) = known_name(&v, 0) {
                                hits += 1;
                                assert_eq!(
                                    Some(fast),
                                    slow(&v),
                                    "{:?}",
                                    String::from_utf8_lossy(&v)
                                );
                            }
                        }
                    }
                }
            }
        }
        // The shortcut is taken for the short known names (on x86_64).
        assert!(cfg!(not(target_arch = "x86_64")) || hits > 1000, "{hits}");
    }

    /// The chunked search gives the scalar answer (break position and ASCII-ness before it)
    /// for every length around the chunk size, every break position and kind, and octets
    /// that the signed compare flags without being breaks (tab, other controls, 0x80+).
    #[test]
    fn chunked_line_break_search_agrees_with_scalar() {
        let fillers: &[u8] = b"a \t\x0b\x0d\x0a\x80\xff\x0e\x7f:";
        let mut x: u64 = 0x0123_4567_89AB_CDEF;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for len in 0..80 {
            for _ in 0..400 {
                let mut s: Vec<u8> = (0..len)
                    .map(|_| {
                        if next() % 4 == 0 {
                            fillers[(next() % fillers.len() as u64) as usize]
                        } else {
                            b'x'
                        }
                    })
                    .collect();
                // Often no break at all, so that the whole slice and the tail are searched.
                if next() % 3 == 0 {
                    for c in s.iter_mut() {
                        if *c == b'\r' || *c == b'\n' {
                            *c = b'y';
                        }
                    }
                }
                assert_eq!(
                    find_line_break(&s),
                    find_line_break_scalar(&s, 0, true),
                    "{s:?}"
                );
            }
        }
    }
}
