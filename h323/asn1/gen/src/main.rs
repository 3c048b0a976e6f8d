//! Regenerates `h323/asn1/src/{h235,h225,h245}.rs` from the ITU-T modules in `h323/asn1/asn1/`.
//!
//! Run from anywhere: `cargo run --manifest-path h323/asn1/gen/Cargo.toml --release`.
//!
//! Each module is compiled on its own (rasn-compiler silently drops same-named types when
//! several modules are compiled together). Cross-module imports resolve through `super::`.
//! After generation a post-processing pass applies the fixes listed in `postprocess`.

use std::path::{Path, PathBuf};

use rasn_compiler::prelude::*;

mod postprocess;

fn main() {
    let asn1_crate = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("gen/ lives inside h323/asn1/")
        .to_path_buf();
    let modules = asn1_crate.join("asn1");
    let out = asn1_crate.join("src");

    let h235 = strip_comments(&read(&modules.join("H235-SECURITY-MESSAGES.asn")));
    let h225 = strip_comments(&read(&modules.join("H323-MESSAGES.asn")));
    let h245 = strip_comments(&read(&modules.join("MULTIMEDIA-SYSTEM-CONTROL.asn")));

    let h225 = paste_h235_parameterized_types(&h225, &h235);

    generate(
        &h235,
        &out.join("h235.rs"),
        "H.235.0 H235-SECURITY-MESSAGES",
    );
    generate(&h225, &out.join("h225.rs"), "H.225.0 H323-MESSAGES");
    generate(
        &h245,
        &out.join("h245.rs"),
        "H.245 MULTIMEDIA-SYSTEM-CONTROL",
    );
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Replaces every ASN.1 comment (X.680 §12.6: from `--` to the next `--` or the end of the
/// line) with a space. rasn-compiler's lexer trips over comments glued to
/// tokens, as in H.235's `SEQUENCE-- General purpose/application specific token-- {`.
fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    for line in src.lines() {
        let mut rest = line;
        let mut in_comment = false;
        loop {
            match rest.find("--") {
                Some(i) => {
                    if !in_comment {
                        out.push_str(&rest[..i]);
                    }
                    out.push(' ');
                    in_comment = !in_comment;
                    rest = &rest[i + 2..];
                }
                None => {
                    if !in_comment {
                        out.push_str(rest);
                    }
                    break;
                }
            }
        }
        out.push('\n');
    }
    glue_parameterized_references(&out)
}

/// Collapses every run of white space inside a definition to one space; definitions stay
/// separated by blank lines (so that the compiler's error positions still help).
fn join_lines(src: &str) -> String {
    src.split("\n\n")
        .map(|block| block.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|block| !block.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// `ENCRYPTED\n    {EncodedGeneralToken}` → `ENCRYPTED{EncodedGeneralToken}`: rasn-compiler
/// only recognises a parameterized type reference when the `{` follows the name directly.
fn glue_parameterized_references(src: &str) -> String {
    let mut out = src.to_string();
    for name in ["SIGNED", "ENCRYPTED", "HASHED"] {
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(i) = rest.find(name) {
            result.push_str(&rest[..i + name.len()]);
            rest = &rest[i + name.len()..];
            let trimmed = rest.trim_start();
            if trimmed.starts_with('{') && trimmed.len() != rest.len() {
                rest = trimmed;
            }
        }
        result.push_str(rest);
        out = result;
    }
    out
}

/// H.225.0 imports the parameterized types `SIGNED{}`, `ENCRYPTED{}` and `HASHED{}` from
/// H.235; rasn-compiler expands parameterized types only when their definition is in the
/// same compilation, so the definitions are copied into H323-MESSAGES together with the
/// `Params` type they use (which must be local for the expansion to resolve); `IV8` and
/// `IV16`, used by `Params`, are imported in their place.
fn paste_h235_parameterized_types(h225: &str, h235: &str) -> String {
    let mut definitions =
        String::from("\n-- Pasted from H235-SECURITY-MESSAGES by h323-asn1-gen\n\n");
    for name in ["SIGNED{", "ENCRYPTED{", "HASHED{", "Params ::="] {
        let start = h235
            .find(&format!("\n{name}"))
            .unwrap_or_else(|| panic!("{name} not found in H.235"))
            + 1;
        let end = start
            + h235[start..]
                .find("\n\n")
                .unwrap_or_else(|| panic!("end of {name} not found"));
        definitions.push_str(&h235[start..end]);
        definitions.push_str("\n\n");
    }
    let import = "SIGNED{}, ENCRYPTED{}, HASHED{}, ChallengeString";
    assert!(h225.contains(import), "H.225 import list changed");
    let h225 = h225.replacen(import, "IV8, IV16, ChallengeString", 1);
    // The import list ends at the first ';' after IMPORTS.
    let imports = h225.find("IMPORTS").expect("IMPORTS");
    let end = imports + h225[imports..].find(';').expect("end of IMPORTS") + 1;
    format!("{}\n{}{}", &h225[..end], definitions, &h225[end..])
}

fn generate(source: &str, out: &Path, what: &str) {
    // rasn-compiler's lexer rejects some keyword pairs split across lines
    // (`OBJECT\n IDENTIFIER`, as laid out in H.235): ASN.1 has no significant line breaks
    // once comments are gone, so every module is joined into one line per definition.
    let source = &join_lines(source);
    if let Some(dir) = std::env::var_os("H323_ASN1_GEN_DUMP") {
        let file = Path::new(&dir).join(out.with_extension("asn").file_name().expect("file name"));
        std::fs::write(&file, source).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
    let config = RasnConfig {
        type_annotations: vec![String::from(
            "#[derive(AsnType, Debug, Clone, Decode, Encode, PartialEq, Eq, Hash)]",
        )],
        ..RasnConfig::default()
    };
    let result = Compiler::<RasnBackend, _>::new_with_config(config)
        .add_asn_literal(source)
        .compile_to_string()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    // rasn-compiler lays its output out with rustfmt, found through the `CARGO` or
    // `CARGO_HOME` variables that `cargo run` sets; unformatted, the line-based
    // post-processing would match nothing.
    assert!(
        result.generated.contains("\n    pub struct "),
        "{what}: rasn-compiler's output is not formatted (no rustfmt found): run the \
         generator with `cargo run`"
    );
    for warning in &result.warnings {
        eprintln!("{what}: warning: {warning}");
    }
    let code = postprocess::apply(&result.generated, what);
    std::fs::write(out, code).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    // The post-processing changes line lengths: leave the file as `cargo fmt` wants it.
    let status = std::process::Command::new("rustfmt")
        .args(["--edition", "2021"])
        .arg(out)
        .status()
        .unwrap_or_else(|e| panic!("rustfmt: {e}"));
    assert!(status.success(), "rustfmt failed on {}", out.display());
    eprintln!("wrote {}", PathBuf::from(out).display());
}
