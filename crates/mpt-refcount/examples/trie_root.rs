//! Prints the Ethereum MPT root of a JSON object of hex keys and values.
//!
//! ```text
//! cargo run --release -p mpt-refcount --example trie_root -- FILE [--secure]
//! ```
//!
//! `FILE` holds `{"0x…key": "0x…value", …}`; with `--secure` keys are hashed with keccak256
//! first (Ethereum's state trie). Prints `0x` + 64 hex digits and nothing else on stdout;
//! errors go to stderr with a non-zero exit status.
#![allow(clippy::disallowed_methods)]

use std::process::ExitCode;

use mpt_refcount::{MemoryStore, SecureTrie, Trie};
use primitives::codec::from_hex;

fn run() -> Result<String, String> {
    let mut file = None;
    let mut secure = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--secure" => secure = true,
            _ if file.is_none() => file = Some(arg),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    let file = file.ok_or("usage: trie_root FILE [--secure]")?;
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{file}: {e}"))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{file}: {e}"))?;
    let object = json.as_object().ok_or("the file must hold a JSON object")?;
    let store = MemoryStore::new();
    let mut plain = Trie::new();
    let mut hashed = SecureTrie::new();
    for (k, v) in object {
        let key = from_hex(k).map_err(|e| format!("key {k:?}: {e}"))?;
        let value = v.as_str().ok_or_else(|| format!("value of {k:?} is not a string"))?;
        let value = from_hex(value).map_err(|e| format!("value of {k:?}: {e}"))?;
        let result =
            if secure { hashed.insert(&store, &key, &value) } else { plain.insert(&store, &key, &value) };
        result.map_err(|e| e.to_string())?;
    }
    let root = if secure { hashed.root_hash() } else { plain.root_hash() };
    Ok(format!("{root:#x}"))
}

fn main() -> ExitCode {
    match run() {
        Ok(root) => {
            println!("{root}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("trie_root: {e}");
            ExitCode::FAILURE
        }
    }
}
