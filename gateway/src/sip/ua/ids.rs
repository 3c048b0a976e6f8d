//! Tags, branches and Call-IDs: unique and hard to guess (RFC 3261 §19.3 asks for at least
//! 32 bits of randomness in tags; §8.1.1.7 for unique branches with the magic cookie).

use std::fmt::Write as _;

/// A small xorshift generator seeded from the OS, enough for identifiers (not for keys).
#[derive(Debug, Clone)]
pub struct IdGen {
    state: u64,
    counter: u64,
}

impl Default for IdGen {
    fn default() -> Self {
        Self::new()
    }
}

impl IdGen {
    pub fn new() -> Self {
        let mut seed = [0u8; 8];
        // Without OS randomness fall back to the clock: identifiers stay unique (counter).
        if getrandom::fill(&mut seed).is_err() {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0x9E37_79B9_7F4A_7C15);
            seed = t.to_le_bytes();
        }
        IdGen {
            state: u64::from_le_bytes(seed) | 1,
            counter: 0,
        }
    }

    fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        self.counter += 1;
        x
    }

    /// 32 random bits (RSeq start).
    pub fn seed32(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }

    /// A From/To tag: 16 lowercase hex digits (see [`IdGen::tag_value`]).
    pub fn tag(&mut self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let v = self.next();
        (0..16)
            .map(|i| char::from(HEX[((v >> (60 - 4 * i)) & 0xf) as usize]))
            .collect()
    }

    /// The number behind a tag made by [`IdGen::tag`]: `None` for any other string, so
    /// that two tags are equal exactly when their values are (tables of our own tags are
    /// keyed by it without keeping the string).
    pub fn tag_value(tag: &str) -> Option<u64> {
        let b = tag.as_bytes();
        if b.len() != 16 || !b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        u64::from_str_radix(tag, 16).ok()
    }

    /// A Via branch with the RFC 3261 magic cookie and a counter (never repeats).
    pub fn branch(&mut self) -> String {
        let r = self.next();
        let mut s = String::with_capacity(32);
        let _ = write!(s, "z9hG4bK{:x}{:012x}", self.counter, r & 0xffff_ffff_ffff);
        s
    }

    /// The local part of a Call-ID.
    pub fn call_id(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!("{a:016x}{b:08x}")
    }
}

#[cfg(test)]
mod tests {
    use super::IdGen;

    #[test]
    fn tags_are_16_hex_digits_and_their_values_round_trip() {
        let mut g = IdGen::new();
        for _ in 0..1000 {
            let t = g.tag();
            assert_eq!(t.len(), 16);
            let v = IdGen::tag_value(&t).expect("our own tag");
            assert_eq!(format!("{v:016x}"), t);
        }
        assert_eq!(IdGen::tag_value("+123456789abcdef"), None);
        assert_eq!(IdGen::tag_value("0123456789ABCDEF"), None);
        assert_eq!(IdGen::tag_value("peer1"), None);
        assert_eq!(IdGen::tag_value(""), None);
    }
}
