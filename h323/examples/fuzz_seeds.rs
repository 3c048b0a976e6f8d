//! Writes the seed corpora of the fuzz targets (real calls and a real RAS session, in the
//! input formats of `h323::harness`, and the calls' H.225.0 messages for `h225_decode`):
//!
//! ```sh
//! cargo run -p h323 --example fuzz_seeds -- h323/fuzz/corpus
//! ```

use std::path::PathBuf;

use h323::call::Channel;
use h323::harness;

fn main() -> std::io::Result<()> {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "h323/fuzz/corpus".into()),
    );
    let mut written = 0;
    let mut write = |target: &str, name: &str, bytes: &[u8]| -> std::io::Result<()> {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(name), bytes)?;
        written += 1;
        Ok(())
    };
    for (name, input) in harness::call_seeds() {
        write("call_endpoint", &name, &input)?;
    }
    for (name, input) in harness::ras_seeds() {
        write("ras_endpoints", &name, &input)?;
    }
    // Every H.225.0 message of the calls, without its TPKT header, for h225_decode.
    for (name, _, records) in harness::call_seed_records() {
        for (i, r) in records.iter().enumerate() {
            if r.channel == Channel::Signalling && r.bytes.len() > 4 {
                write("h225_decode", &format!("{name}-{i}"), &r.bytes[4..])?;
            }
        }
    }
    println!("{written} seeds written under {}", root.display());
    Ok(())
}
