//! Fuzzes the Q.931 message decoder (both dialects), the §5.8 validation and the encoder.
//! Invariants: no panic; a decoded message re-encodes; what it re-encodes to decodes to the
//! same message and re-encodes to the same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use q931::ie::Location;
use q931::message::{Dialect, Direction, Message};
use q931::validate::check;

fuzz_target!(|data: &[u8]| {
    for dialect in [Dialect::Isdn, Dialect::H225] {
        let Ok(m) = Message::decode_with(data, dialect) else {
            continue;
        };
        for dir in [Direction::UserToNetwork, Direction::NetworkToUser] {
            let _ = check(&m, dir).handling(Location::User);
        }
        let mut out = Vec::new();
        m.encode_with(&mut out, dialect)
            .expect("a decoded message re-encodes");
        let again = Message::decode_with(&out, dialect).expect("re-encoded message decodes");
        assert_eq!(again, m);
        let mut out2 = Vec::new();
        again.encode_with(&mut out2, dialect).expect("re-encodes");
        assert_eq!(out2, out);
    }
});
