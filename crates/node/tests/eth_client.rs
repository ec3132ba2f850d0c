//! Issue 16's client test: web3.py and eth-account (Ethereum libraries nobody here wrote)
//! drive a localnet of `meshcast run` processes over real sockets
//! (`tests/eth_client/web3_check.py`): chain id and block number, a dev account's
//! balance, a signed transfer to a fresh address, its receipt, the new balance read on
//! another node, a replayed and a malformed transaction refused with JSON-RPC errors.
//!
//! `bash scripts/dev.sh test` installs the two Python packages (pinned) under
//! `$HOME/.cache/meshcast/pyeth` and sets `MESHCAST_PYETH` to it and
//! `MESHCAST_REQUIRE_ETH_CLIENT=1`; then the test must pass. Without them (a plain
//! `cargo test` on a machine without the packages) it says so and returns.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use meshcast_node::launcher::{self, LocalnetOptions, status};
use serde_json::Value;

fn python_with_web3(path: &str) -> bool {
    Command::new("python3")
        .args(["-c", "import web3, eth_account"])
        .env("PYTHONPATH", path)
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn web3_py_drives_a_localnet() {
    let required = std::env::var("MESHCAST_REQUIRE_ETH_CLIENT").is_ok_and(|v| v == "1");
    let path = std::env::var("MESHCAST_PYETH").unwrap_or_default();
    if !python_with_web3(&path) {
        assert!(!required, "MESHCAST_REQUIRE_ETH_CLIENT=1 but web3/eth-account do not import from {path:?}");
        eprintln!("skipped: web3 and eth-account are not installed (bash scripts/dev.sh test installs them)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = 25_000 + (std::process::id() % 200) as u16 * 24;
    let opts = LocalnetOptions {
        validators: 4,
        guardians: 1,
        accounts: 4,
        seed: 8,
        duration_s: 0,
        rate: 0,
        checkpoint_interval: 5,
        block_ms: 200,
        base_port: Some(base),
        rpc_port: Some(base + 12),
        dir: Some(dir.path().to_owned()),
        exe: PathBuf::from(env!("CARGO_BIN_EXE_meshcast")),
        drain_s: 0,
        progress: false,
    };
    let mut net = launcher::start(&opts, dir.path()).unwrap();
    net.wait_ready(Duration::from_secs(60)).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/eth_client/web3_check.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(format!("http://{}", net.rpc[0]))
        .arg(format!("http://{}", net.rpc[1]))
        .env("PYTHONPATH", &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "web3 check failed:\n{stdout}\n{stderr}");
    let v: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
    assert_eq!(v["chain_id"], 366);
    assert!(v["refused"]["replay"].is_string() && v["refused"]["malformed"].is_string(), "{v}");
    assert!(status(net.rpc[1]).is_ok_and(|s| s.settled > 0));
    eprintln!("web3 check: {v}");
}
