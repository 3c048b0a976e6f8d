//! Character classes and a small cursor for the RFC 3261 §25.1 grammar.
//!
//! Header values handed to the cursor may contain line folds (`CRLF 1*WSP`); the message
//! splitter has already checked every CR/LF inside a value is such a fold, so here CR and LF
//! simply count as linear white space (`LWS`).

macro_rules! class_table {
    ($f:ident) => {{
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = $f(i as u8);
            i += 1;
        }
        t
    }};
}

static TOKEN: [bool; 256] = class_table!(token_class);
static WORD: [bool; 256] = class_table!(word_class);
static GEN_VALUE: [bool; 256] = class_table!(gen_value_class);

const fn gen_value_class(c: u8) -> bool {
    token_class(c) || matches!(c, b':' | b'[' | b']')
}

/// `token` characters: `alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"`.
#[inline]
pub fn is_token(c: u8) -> bool {
    TOKEN[usize::from(c)]
}

/// `word` characters (Call-ID): token plus `( ) < > : \ " / [ ] ? { }`.
#[inline]
pub fn is_word(c: u8) -> bool {
    WORD[usize::from(c)]
}

const fn token_class(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

const fn word_class(c: u8) -> bool {
    token_class(c)
        || matches!(
            c,
            b'(' | b')'
                | b'<'
                | b'>'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'{'
                | b'}'
        )
}

/// Linear white space inside a header value (SP, HTAB and the CR LF of a fold).
#[inline]
pub const fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Position of the first `b` in `s` (a plain loop: the strings here are short).
#[inline]
pub fn find_byte(s: &str, b: u8) -> Option<usize> {
    s.bytes().position(|c| c == b)
}

/// Trim LWS on both sides.
pub fn trim_ws(s: &str) -> &str {
    s.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r' || c == '\n')
}

/// A grammar error inside one header value; the message layer adds header name and offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxError {
    /// What is wrong.
    pub reason: &'static str,
    /// Offset inside the value.
    pub at: usize,
}

/// Result of a grammar rule.
pub type SResult<T> = Result<T, SyntaxError>;

/// A cursor over one header value (or a part of it), used by [`crate::sip::header::ListHeader`]
/// implementations.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Move back to a position returned by [`Cursor::pos`].
    pub fn set_pos(&mut self, pos: usize) {
        self.pos = pos.min(self.s.len());
    }

    pub fn err<T>(&self, reason: &'static str) -> SResult<T> {
        Err(SyntaxError {
            reason,
            at: self.pos,
        })
    }

    pub fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    pub fn slice(&self, from: usize, to: usize) -> &'a str {
        &self.s[from..to]
    }

    /// Skip LWS; returns whether any was skipped.
    pub fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        let b = self.s.as_bytes();
        while self.pos < b.len() && is_ws(b[self.pos]) {
            self.pos += 1;
        }
        self.pos != start
    }

    /// Consume `c` if it is next.
    pub fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// `SWS c SWS`: separators such as SEMI, COMMA, EQUAL, SLASH (RFC 3261 §25.1).
    pub fn eat_sep(&mut self, c: u8) -> bool {
        let save = self.pos;
        self.skip_ws();
        if self.eat(c) {
            self.skip_ws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    /// Consume octets while `f` holds.
    #[inline]
    pub fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        let rest = self.s.as_bytes().get(start..).unwrap_or_default();
        let n = rest.iter().position(|&c| !f(c)).unwrap_or(rest.len());
        self.pos = start + n;
        // Stops only at ASCII octets or the end, so the slice is on char boundaries.
        self.s.get(start..self.pos).unwrap_or("")
    }

    /// Consume octets up to (not including) the next `stop`, or to the end.
    #[inline]
    pub fn take_until(&mut self, stop: u8) -> &'a str {
        let start = self.pos;
        let rest = self.s.as_bytes().get(start..).unwrap_or_default();
        self.pos = start + memchr::memchr(stop, rest).unwrap_or(rest.len());
        // `stop` is ASCII in every use, so the slice ends on a char boundary.
        self.s.get(start..self.pos).unwrap_or("")
    }

    /// A non-empty `token`.
    pub fn token(&mut self) -> SResult<&'a str> {
        let t = self.take_while(is_token);
        if t.is_empty() {
            self.err("token expected")
        } else {
            Ok(t)
        }
    }

    /// `quoted-string`: returns the content between the quotes, escapes left in place.
    pub fn quoted_string(&mut self) -> SResult<&'a str> {
        if !self.eat(b'"') {
            return self.err("'\"' expected");
        }
        let b = self.s.as_bytes();
        let start = self.pos;
        while self.pos < b.len() {
            match b[self.pos] {
                b'"' => {
                    let inner = &self.s[start..self.pos];
                    self.pos += 1;
                    return Ok(inner);
                }
                // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                b'\\' => match b.get(self.pos + 1) {
                    Some(&c) if c <= 0x7f && c != b'\r' && c != b'\n' => self.pos += 2,
                    _ => return self.err("bad quoted-pair"),
                },
                _ => self.pos += 1,
            }
        }
        self.err("unterminated quoted-string")
    }

    /// A parameter value: `token / host / quoted-string` (RFC 3261 `gen-value`).
    /// Quoted values are returned with their quotes so that they can be told apart.
    pub fn gen_value(&mut self) -> SResult<&'a str> {
        if self.peek() == Some(b'"') {
            let start = self.pos;
            self.quoted_string()?;
            return Ok(&self.s[start..self.pos]);
        }
        let v = self.take_while(|c| GEN_VALUE[usize::from(c)]);
        if v.is_empty() {
            self.err("parameter value expected")
        } else {
            Ok(v)
        }
    }

    /// `comment = LPAREN *(ctext / quoted-pair / comment) RPAREN`; returns the inside.
    pub fn comment(&mut self) -> SResult<&'a str> {
        if !self.eat(b'(') {
            return self.err("'(' expected");
        }
        let b = self.s.as_bytes();
        let start = self.pos;
        let mut depth = 1usize;
        while self.pos < b.len() {
            match b[self.pos] {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        let inner = &self.s[start..self.pos];
                        self.pos += 1;
                        return Ok(inner);
                    }
                }
                b'\\' => self.pos += 1,
                _ => {}
            }
            self.pos += 1;
        }
        self.pos = b.len();
        self.err("unterminated comment")
    }

    /// Expect the end of the value (after optional LWS).
    pub fn expect_end(&mut self) -> SResult<()> {
        self.skip_ws();
        if self.at_end() {
            Ok(())
        } else {
            self.err("unexpected characters")
        }
    }
}

/// Undo the quoted-pair escapes of a quoted-string's content.
pub fn unquote(inner: &str) -> std::borrow::Cow<'_, str> {
    if !inner.contains('\\') {
        return std::borrow::Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Parse a decimal number of at most `max` without sign; `None` on overflow or non-digits.
pub fn parse_u64(s: &str, max: u64) -> Option<u64> {
    parse_u64_octets(s.as_bytes(), max)
}

/// [`parse_u64`] on octets (any non-digit, so any non-ASCII octet, gives `None`).
pub fn parse_u64_octets(s: &[u8], max: u64) -> Option<u64> {
    if s.is_empty() || !s.iter().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in s {
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
        if v > max {
            return None;
        }
    }
    Some(v)
}

/// Parse `delta-seconds`, saturating at 2^32-1 as RFC 3261 §20.19/§20.33 allow.
pub fn parse_delta_seconds(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(parse_u64(s, u64::from(u32::MAX)).map_or(u32::MAX, |v| v as u32))
}
