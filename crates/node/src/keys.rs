//! The node's key file: its secp256k1 account key (transactions, votes' identity) and its
//! BLS key (commit certificates, guardian aggregates), in one JSON file readable by its
//! owner only.
//!
//! * [`NodeKeys::generate`] draws both keys from the operating system's CSPRNG.
//! * [`NodeKeys::save`] creates the file with mode `0600` and refuses to overwrite one
//!   that exists (`create_new`): a key is never silently replaced.
//! * [`NodeKeys::load`] refuses a file that its group or others can read or write
//!   ([`KeyError::Permissions`]), like `ssh` does, and checks both keys are valid.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use primitives::{Address, SecretKey};
use rand::TryRngCore;
use rand::rngs::OsRng;

/// Why a key file could not be created or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is readable or writable by its group or others.
    #[error("key file {path} has mode {mode:o}; it must be readable by its owner only (chmod 600)")]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file's contents are not a key file.
    #[error("key file {path}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The operating system's random source failed.
    #[error("OS random source: {0}")]
    Random(String),
}

/// A node's keys.
pub struct NodeKeys {
    /// The secp256k1 account key.
    pub account: SecretKey,
    /// The BLS12-381 key.
    pub bls: bls_gossip::bls::SecretKey,
}

impl std::fmt::Debug for NodeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKeys").field("address", &self.account.address()).finish_non_exhaustive()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileJson {
    address: String,
    secp256k1: String,
    bls: String,
}

fn malformed(path: &Path, reason: impl std::fmt::Display) -> KeyError {
    KeyError::Malformed { path: path.to_owned(), reason: reason.to_string() }
}

impl NodeKeys {
    /// Fresh keys from the OS CSPRNG.
    pub fn generate() -> Result<Self, KeyError> {
        let mut rng = OsRng;
        loop {
            let mut sk = [0u8; 32];
            rng.try_fill_bytes(&mut sk).map_err(|e| KeyError::Random(e.to_string()))?;
            // A uniform 32-byte string is a valid secp256k1 scalar except with
            // probability about 2^-128; draw again in that case.
            let Ok(account) = SecretKey::from_bytes(sk) else { continue };
            let mut ikm = [0u8; 32];
            rng.try_fill_bytes(&mut ikm).map_err(|e| KeyError::Random(e.to_string()))?;
            let bls =
                bls_gossip::bls::SecretKey::key_gen(&ikm).map_err(|e| KeyError::Random(e.to_string()))?;
            return Ok(Self { account, bls });
        }
    }

    /// The account address.
    pub fn address(&self) -> Address {
        self.account.address()
    }

    /// Writes the keys to a new file at `path` with mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        let json = KeyFileJson {
            address: format!("{:#x}", self.address()),
            secp256k1: format!("0x{}", hex::encode(self.account.to_bytes())),
            bls: format!("0x{}", hex::encode(self.bls.to_bytes())),
        };
        let body = serde_json::to_vec_pretty(&json).map_err(|e| malformed(path, e))?;
        let io = |source| KeyError::Io { path: path.to_owned(), source };
        let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io)?;
        f.write_all(&body).map_err(io)?;
        f.write_all(b"\n").map_err(io)?;
        f.sync_all().map_err(io)
    }

    /// Reads keys from `path`, refusing a file others can read.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io { path: path.to_owned(), source };
        let meta = std::fs::metadata(path).map_err(io)?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions { path: path.to_owned(), mode });
        }
        if meta.len() > 4096 {
            return Err(malformed(path, "larger than a key file"));
        }
        let body = std::fs::read(path).map_err(io)?;
        let json: KeyFileJson = serde_json::from_slice(&body).map_err(|e| malformed(path, e))?;
        let hex32 = |what: &str, s: &str| -> Result<[u8; 32], KeyError> {
            let raw = hex::decode(s.strip_prefix("0x").unwrap_or(s))
                .map_err(|e| malformed(path, format!("{what}: {e}")))?;
            raw.try_into().map_err(|_| malformed(path, format!("{what}: not 32 bytes")))
        };
        let account = SecretKey::from_bytes(hex32("secp256k1", &json.secp256k1)?)
            .map_err(|e| malformed(path, format!("secp256k1: {e}")))?;
        let bls = bls_gossip::bls::SecretKey::from_bytes(&hex32("bls", &json.bls)?)
            .map_err(|e| malformed(path, format!("bls: {e}")))?;
        let keys = Self { account, bls };
        if format!("{:#x}", keys.address()) != json.address.to_ascii_lowercase() {
            return Err(malformed(path, "address does not match the secp256k1 key"));
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_round_trip_with_owner_only_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        let keys = NodeKeys::generate().unwrap();
        keys.save(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let back = NodeKeys::load(&path).unwrap();
        assert_eq!(back.address(), keys.address());
        assert_eq!(back.bls.to_bytes(), keys.bls.to_bytes());
        // Never overwritten.
        assert!(matches!(NodeKeys::generate().unwrap().save(&path), Err(KeyError::Io { .. })));
        assert_eq!(NodeKeys::load(&path).unwrap().address(), keys.address());
    }

    #[test]
    fn readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        NodeKeys::generate().unwrap().save(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(NodeKeys::load(&path), Err(KeyError::Permissions { mode: 0o644, .. })));
    }

    #[test]
    fn damaged_files_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let keys = NodeKeys::generate().unwrap();
        let good = dir.path().join("good.key");
        keys.save(&good).unwrap();
        let body = std::fs::read_to_string(&good).unwrap();
        let cases = [
            "not json".to_owned(),
            body.replace("\"address\": \"0x", "\"address\": \"0x00"),
            body.replace("\"bls\": \"0x", "\"bls\": \"0xzz"),
            r#"{"address":"0x00","secp256k1":"0x00","bls":"0x00"}"#.to_owned(),
            body.replace('}', ", \"extra\": 1}"),
        ];
        for (i, c) in cases.iter().enumerate() {
            let p = dir.path().join(format!("bad{i}.key"));
            let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&p).unwrap();
            f.write_all(c.as_bytes()).unwrap();
            assert!(matches!(NodeKeys::load(&p), Err(KeyError::Malformed { .. })), "case {i}: {c}");
        }
    }
}
