//! Shared build script of every tk_matrix crate (crates/t*/Cargo.toml).
//!
//! TOKIO_VERSION: the tokio version the crate's Cargo.lock resolved (each
//! crate pins one with `=`), so the binary reports what it really links.
//! TK_MANGLING: "v0" when built with `-C symbol-mangling-version=v0`, else
//! "legacy".
use std::env;
use std::fs;
use std::path::Path;

fn main() {
    let dir = env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let lock = Path::new(&dir).join("Cargo.lock");
    let text = fs::read_to_string(&lock).expect("reading Cargo.lock");
    let mut version = None;
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if l.trim() == "name = \"tokio\"" {
            let v = lines.next().unwrap_or("");
            version = v.trim().strip_prefix("version = \"").and_then(|v| v.strip_suffix('"'));
            break;
        }
    }
    let version = version.expect("no tokio package in Cargo.lock");
    println!("cargo:rustc-env=TOKIO_VERSION={version}");

    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let v0 = flags.split('\x1f').any(|f| f.contains("symbol-mangling-version=v0"));
    println!("cargo:rustc-env=TK_MANGLING={}", if v0 { "v0" } else { "legacy" });
    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
}
