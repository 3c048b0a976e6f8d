//! The README's call-endpoint example is the doc test of `h323::call` (which `cargo test
//! --doc` compiles and runs): this keeps the two texts identical.

fn rust_block(text: &str) -> String {
    let start = text.find("```rust\n").expect("a ```rust block") + "```rust\n".len();
    let len = text[start..].find("```").expect("its end");
    text[start..start + len].trim_end().to_string()
}

#[test]
fn readme_example_is_the_call_doc_test() {
    let readme = include_str!("../README.md");
    let module = include_str!("../src/call/mod.rs");
    let doc: String = module
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(rust_block(readme), rust_block(&doc));
}
