//! Compiles one ASN.1 file and prints warnings or the error (for trying module edits).
use rasn_compiler::prelude::*;
fn main() {
    let path = std::env::args().nth(1).expect("usage: check FILE.asn");
    let src = std::fs::read_to_string(&path).expect("read");
    match Compiler::<RasnBackend, _>::new()
        .add_asn_literal(src)
        .compile_to_string()
    {
        Ok(r) => {
            for w in r.warnings {
                println!("warning: {w}");
            }
            println!("ok: {} bytes", r.generated.len());
        }
        Err(e) => println!("error: {e}"),
    }
}
