//! Secrets: random tokens, the API key and signing key files, and constant-time comparison.

use std::io::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::EdgeError;

/// The file in the data directory that holds the generated API key.
pub const API_KEY_FILE: &str = "api-key";

/// `len` random bytes from the operating system.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    // The OS random source does not fail on the platforms the edge runs on; if it ever did, a
    // zeroed token would be guessable, so stop rather than carry on.
    if getrandom::fill(&mut bytes).is_err() {
        panic!("the operating system's random source failed");
    }
    bytes
}

/// A fresh capability token: 256 random bits, base64url.
pub fn new_token() -> String {
    onsite_core::b64::encode(&random_bytes(32))
}

/// SHA-256 of bytes.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The nonce a session's measurements must carry: derived from the digest of its candidate
/// capability, so every edge sharing the store computes the same one and it reveals nothing of
/// the capability (16 bytes of SHA-256, base64url).
pub fn measurement_nonce(candidate_token_sha256: &[u8; 32]) -> String {
    let digest = Sha256::new()
        .chain_update(b"onsite measurement nonce\0")
        .chain_update(candidate_token_sha256)
        .finalize();
    onsite_core::b64::encode(&digest[..16])
}

/// Compares two digests in time that does not depend on where they differ.
pub fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Reads the API key file, creating it with a fresh key (mode 0600) on first start.
pub fn load_or_create_api_key(path: &Path) -> Result<String, EdgeError> {
    let text = load_or_create(path, || format!("{}\n", new_token()))?;
    let key = text.trim().to_owned();
    if key.len() < 16 {
        return Err(EdgeError::Secret {
            path: path.into(),
            why: "API key is shorter than 16 characters".into(),
        });
    }
    Ok(key)
}

/// Reads a secret file, creating it with `fresh()` (mode 0600) when it does not exist.
pub(crate) fn load_or_create(
    path: &Path,
    fresh: impl FnOnce() -> String,
) -> Result<String, EdgeError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let text = fresh();
            write_private(path, &text)?;
            Ok(text)
        }
        Err(error) => Err(EdgeError::Secret { path: path.into(), why: error.to_string() }),
    }
}

/// Replaces a secret file atomically: a private temporary file, synced, then renamed over it.
pub(crate) fn replace(path: &Path, text: &str) -> Result<(), EdgeError> {
    let temporary = path.with_extension("tmp");
    let _ = std::fs::remove_file(&temporary);
    write_private(&temporary, text)?;
    std::fs::rename(&temporary, path)
        .map_err(|e| EdgeError::Secret { path: path.into(), why: e.to_string() })
}

fn write_private(path: &Path, text: &str) -> Result<(), EdgeError> {
    let io_error =
        |source: std::io::Error| EdgeError::Secret { path: path.into(), why: source.to_string() };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io_error)?;
    file.write_all(text.as_bytes()).map_err(io_error)?;
    file.sync_all().map_err(io_error)
}
