//! The `meshcast` binary's command line, run as a process.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use meshcast_node::keys::NodeKeys;

#[test]
fn keygen_writes_a_loadable_key_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.key");
    let out =
        Command::new(env!("CARGO_BIN_EXE_meshcast")).args(["keygen", "--out"]).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys = NodeKeys::load(&path).unwrap();
    assert_eq!(json["address"], format!("{:#x}", keys.address()));
    assert_eq!(json["bls_pubkey"], format!("0x{}", hex::encode(keys.bls.public_key().to_bytes())));
    let again =
        Command::new(env!("CARGO_BIN_EXE_meshcast")).args(["keygen", "--out"]).arg(&path).output().unwrap();
    assert!(!again.status.success(), "an existing key file is never overwritten");
    assert!(String::from_utf8_lossy(&again.stderr).contains("key file"));
    assert_eq!(NodeKeys::load(&path).unwrap().address(), keys.address());
}
