//! "Never panics on any byte string", checked on stable Rust in the normal test suite:
//! random byte strings, and systematic mutations (bit flips, truncations, insertions) of
//! real messages, through decode, validation and re-encode. A decoded message must re-encode,
//! and what it re-encodes to must decode to the same message (typed elements drop spare
//! bits, so the bytes may differ there; unknown and invalid elements are kept raw, and the
//! canonical captures of codec_messages.rs re-encode byte for byte).
//! The cargo-fuzz target in q931/fuzz does the same with coverage guidance.

use q931::message::{Dialect, Direction, Message};
use q931::validate::check;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn exercise(bytes: &[u8]) {
    for dialect in [Dialect::Isdn, Dialect::H225] {
        if let Ok(m) = Message::decode_with(bytes, dialect) {
            let _ = check(&m, Direction::UserToNetwork).handling(q931::ie::Location::User);
            let _ = check(&m, Direction::NetworkToUser);
            let _ = format!("{m:?}");
            let mut out = Vec::new();
            m.encode_with(&mut out, dialect)
                .expect("a decoded message re-encodes");
            let again = Message::decode_with(&out, dialect).expect("re-encoded message decodes");
            assert_eq!(again, m, "{bytes:02X?} -> {out:02X?} ({dialect:?})");
            let mut out2 = Vec::new();
            again.encode_with(&mut out2, dialect).expect("re-encodes");
            assert_eq!(out2, out);
        }
    }
}

const SEEDS: &[&str] = &[
    "08 02 00 32 05 04 03 80 90 A3 18 03 A9 83 85 1E 02 81 88 6C 09 21 80 32 32 32 32 32 30 35 70 08 A1 31 31 31 31 31 30 35 A1",
    "08 01 0c 05 04 03 80 90 a3 18 01 83 6c 07 01 80 32 39 38 32 31 6d 03 80 50 30 70 0c 81 30 33 30 35 36 33 33 33 33 38 38 7c 03 80 90 a3 7d 02 91 81",
    "08 02 00 01 05 04 03 80 90 A3 9E 28 03 41 42 43 70 02 81 31 95 01 02 AA BB 7F 01 00",
    "08 02 80 01 7D 08 02 80 9E 14 01 0A",
    "08 02 00 00 46 18 03 A9 83 81 79 01 80",
    "03 02 00 01 0F 01 01 C2 18 04 E9 81 83 81",
    "08 02 00 01 05 04 08 88 98 86 21 48 BB C2 E6 7E 03 05 01 02",
    "08 02 00 01 45 08 04 02 80 E0 18 29 06 1A 0B 1A 14 29 05 1C 03 91 A1 00 27 02 C0 00",
];

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn every_short_byte_string_is_handled() {
    // All strings of up to 2 octets, and all 3-octet strings starting with 0x08.
    exercise(&[]);
    for a in 0..=255u8 {
        exercise(&[a]);
        for b in 0..=255u8 {
            exercise(&[a, b]);
            exercise(&[0x08, a, b]);
        }
    }
}

#[test]
fn random_byte_strings_are_handled() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut buf = Vec::new();
    for _ in 0..200_000 {
        buf.clear();
        let len = rng.below(64);
        buf.extend((0..len).map(|_| rng.next() as u8));
        // Make most of them look like Q.931 so the element walk is reached.
        if len > 3 && rng.below(4) != 0 {
            buf[0] = 0x08;
            buf[1] = rng.below(3) as u8;
        }
        exercise(&buf);
    }
}

#[test]
fn mutated_real_messages_are_handled() {
    let mut rng = Rng(42);
    for seed in SEEDS {
        let base = hex(seed);
        exercise(&base);
        // Every single bit flip and every truncation.
        for i in 0..base.len() {
            for bit in 0..8 {
                let mut m = base.clone();
                m[i] ^= 1 << bit;
                exercise(&m);
            }
            exercise(&base[..i]);
        }
        // Random multi-point mutations.
        for _ in 0..20_000 {
            let mut m = base.clone();
            for _ in 0..1 + rng.below(4) {
                match rng.below(3) {
                    0 if !m.is_empty() => {
                        let i = rng.below(m.len());
                        m[i] = rng.next() as u8;
                    }
                    1 => {
                        let i = rng.below(m.len() + 1);
                        m.insert(i, rng.next() as u8);
                    }
                    _ if !m.is_empty() => {
                        let i = rng.below(m.len());
                        m.remove(i);
                    }
                    _ => {}
                }
            }
            exercise(&m);
        }
    }
}
