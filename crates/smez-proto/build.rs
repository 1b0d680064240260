//! Compiles `proto/` with protox (pure Rust), so building needs no system `protoc`.

use std::path::{Path, PathBuf};

/// Messages whose fields hold token or payload plaintext.
const SECRET_MESSAGES: [&str; 7] = [
    ".smez.vault.v1.SealRequest",
    ".smez.vault.v1.OpenResponse",
    ".smez.vault.v1.PutCredentialRequest",
    ".smez.vault.v1.AccessToken",
    ".smez.vault.v1.RefreshToken",
    ".smez.vault.v1.PutPendingTransferRequest",
    ".smez.vault.v1.PendingTransfer",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // At run time, not `env!`: the compiled script is shared by every
    // checkout building into one target folder, each with its own protos.
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto");
    let files = proto_files(&proto_root)?;
    // Our own rerun-if-changed lines: tonic-prost-build would otherwise rebuild
    // needlessly. Relative to this package (cargo reads them so): two
    // checkouts sharing one target folder then each see their own changes.
    let package_root = manifest_dir.join("../..");
    let relative = |path: &Path| Path::new("../..").join(path.strip_prefix(&package_root).unwrap_or(path));
    println!("cargo:rerun-if-changed={}", relative(&proto_root).display());
    for file in &files {
        println!("cargo:rerun-if-changed={}", relative(file).display());
    }

    let descriptors = protox::compile(&files, [&proto_root])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("smez_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure()
        .emit_rerun_if_changed(false)
        // Messages that carry secrets get a redacting Debug (src/redact.rs).
        .skip_debug(SECRET_MESSAGES)
        // Upload and download chunks pass through without a copy.
        .bytes(".smez.media.v1")
        .compile_fds(descriptors)?;
    Ok(())
}

/// Every `.proto` under `root`, sorted so the generated code is stable.
fn proto_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "proto") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}
