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

    /// A From/To tag.
    pub fn tag(&mut self) -> String {
        format!("{:016x}", self.next())
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
