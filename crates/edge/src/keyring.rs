//! The signing keyring: Ed25519 keys in a JSON file (mode 0600) in the data directory.
//!
//! The newest key signs. `onsite keys rotate` adds a key and retires the one before it; a retired
//! key stays in the published JWK set until every token it signed has expired, so tokens issued
//! before a rotation keep verifying. The running edge notices a rotation by the file's
//! modification time, so rotating needs no restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use onsite_core::b64;
use onsite_core::jws::{Jwks, Signer};
use serde::{Deserialize, Serialize};

use crate::EdgeError;

/// The keyring file in the data directory.
pub const KEYRING_FILE: &str = "signing-keys.json";

/// One key as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredKey {
    /// The Ed25519 seed (private key), hexadecimal.
    pub seed_hex: String,
    pub created_at_s: u64,
    /// When a newer key took over; `None` for the signing key.
    pub retired_at_s: Option<u64>,
}

/// The keyring file's contents.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keyring {
    pub keys: Vec<StoredKey>,
}

/// A key's public facts, for `onsite keys list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub kid: String,
    pub created_at_s: u64,
    pub retired_at_s: Option<u64>,
}

impl Keyring {
    /// Reads the keyring, creating it with one fresh key on first start.
    pub fn load_or_create(path: &Path, now_s: u64) -> Result<Keyring, EdgeError> {
        let fresh = || Keyring { keys: vec![new_key(now_s)] };
        let text = crate::secrets::load_or_create(path, || {
            serde_json::to_string_pretty(&fresh()).unwrap_or_default()
        })?;
        let keyring: Keyring = serde_json::from_str(&text).map_err(|e| EdgeError::Secret {
            path: path.into(),
            why: format!("not a keyring: {e}"),
        })?;
        if keyring.keys.is_empty() {
            return Err(EdgeError::Secret {
                path: path.into(),
                why: "the keyring holds no key".into(),
            });
        }
        keyring.signers().map_err(|why| EdgeError::Secret { path: path.into(), why })?;
        Ok(keyring)
    }

    /// Retires the signing key and adds a new one; writes the file atomically.
    pub fn rotate(path: &Path, now_s: u64) -> Result<KeyInfo, EdgeError> {
        let mut keyring = Keyring::load_or_create(path, now_s)?;
        for key in &mut keyring.keys {
            key.retired_at_s.get_or_insert(now_s);
        }
        keyring.keys.push(new_key(now_s));
        let text = serde_json::to_string_pretty(&keyring).unwrap_or_default();
        crate::secrets::replace(path, &text)?;
        keyring.info().pop().ok_or_else(|| EdgeError::Secret {
            path: path.into(),
            why: "the keyring holds no key".into(),
        })
    }

    fn signers(&self) -> Result<Vec<Signer>, String> {
        self.keys
            .iter()
            .map(|key| {
                b64::unhex(&key.seed_hex)
                    .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                    .map(|seed| Signer::from_seed(&seed))
                    .ok_or_else(|| "a seed is not 64 hexadecimal digits".to_owned())
            })
            .collect()
    }

    /// Each key's thumbprint and dates, oldest first.
    pub fn info(&self) -> Vec<KeyInfo> {
        let signers = self.signers().unwrap_or_default();
        self.keys
            .iter()
            .zip(signers)
            .map(|(key, signer)| KeyInfo {
                kid: signer.kid().to_owned(),
                created_at_s: key.created_at_s,
                retired_at_s: key.retired_at_s,
            })
            .collect()
    }
}

fn new_key(now_s: u64) -> StoredKey {
    StoredKey {
        seed_hex: b64::hex(&crate::secrets::random_bytes(32)),
        created_at_s: now_s,
        retired_at_s: None,
    }
}

/// The keyring as the running edge uses it.
pub(crate) struct Loaded {
    modified: Option<SystemTime>,
    /// The key that signs: the newest.
    pub(crate) signer: Arc<Signer>,
    /// Every key whose tokens may still be valid, as a JWK set.
    pub(crate) jwks: Arc<Jwks>,
}

/// Hands out the current signer and JWK set, reloading the file after a rotation.
pub(crate) struct KeyStore {
    path: PathBuf,
    token_ttl_s: u64,
    loaded: Mutex<Arc<Loaded>>,
}

impl KeyStore {
    pub(crate) fn open(path: PathBuf, token_ttl_s: u64) -> Result<KeyStore, EdgeError> {
        let loaded = load(&path, token_ttl_s, crate::clock::now_s())?;
        Ok(KeyStore { path, token_ttl_s, loaded: Mutex::new(Arc::new(loaded)) })
    }

    /// The current keys; a file that changed is read again, and a file that became unreadable
    /// is logged while the keys already loaded stay in use.
    pub(crate) fn current(&self) -> Arc<Loaded> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let modified = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        if modified != loaded.modified {
            match load(&self.path, self.token_ttl_s, crate::clock::now_s()) {
                Ok(fresh) => *loaded = Arc::new(fresh),
                Err(error) => {
                    tracing::error!(%error, "keyring changed but cannot be read; keeping the loaded keys")
                }
            }
        }
        loaded.clone()
    }
}

fn load(path: &Path, token_ttl_s: u64, now_s: u64) -> Result<Loaded, EdgeError> {
    let keyring = Keyring::load_or_create(path, now_s)?;
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let signers = keyring.signers().map_err(|why| EdgeError::Secret { path: path.into(), why })?;
    let mut jwks = Jwks::default();
    let mut newest = None;
    for (key, signer) in keyring.keys.iter().zip(signers) {
        // A retired key is published until the last token it could have signed expires.
        let published =
            key.retired_at_s.is_none_or(|retired| retired.saturating_add(token_ttl_s) > now_s);
        if published {
            jwks.keys.push(signer.jwk());
        }
        newest = Some(signer);
    }
    let signer = newest.ok_or_else(|| EdgeError::Secret {
        path: path.into(),
        why: "the keyring holds no key".into(),
    })?;
    Ok(Loaded { modified, signer: Arc::new(signer), jwks: Arc::new(jwks) })
}
