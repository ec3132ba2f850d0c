//! The node on real sockets: `meshcast localnet` spawns every node as its own `meshcast
//! run` process on loopback (libp2p between them, JSON-RPC to them), and a validator
//! killed with SIGKILL restarts from its redb store and catches up, across checkpoints
//! that finalized while it was down.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use meshcast_node::launcher::{self, LocalnetOptions, rpc, spawn_node, status};
use serde_json::{Value, json};

/// Ports below the ephemeral range (32768 on Linux), so an outgoing connection cannot
/// take one between the launcher choosing it and the node binding it; spread by process
/// id and test so concurrent runs rarely meet. `slot` 0 or 1: 12 p2p and 12 RPC ports.
fn base_port(slot: u16) -> u16 {
    20_000 + (std::process::id() % 250) as u16 * 48 + slot * 24
}

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_meshcast"))
}

#[test]
fn localnet_settles_and_finalizes_with_equal_roots() {
    let t = Instant::now();
    let out = Command::new(exe())
        .args(["localnet", "--validators", "4", "--guardians", "2", "--duration", "8", "--drain", "40"])
        .args(["--rate", "20", "--checkpoint-interval", "5", "--block-ms", "200", "--json"])
        .args(["--base-port", &base_port(0).to_string(), "--rpc-port", &(base_port(0) + 12).to_string()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_else(|| panic!("no output; stderr:\n{stderr}"));
    let s: Value = serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {last}\n{stderr}"));
    assert!(out.status.success(), "{s}\n{stderr}");
    assert!(s["blocks_settled"].as_u64().unwrap() >= 5, "{s}");
    assert!(s["blocks_finalized"].as_u64().unwrap() >= 5, "a checkpoint finalized: {s}");
    assert_eq!(s["state_roots_agree"], json!(true), "{s}");
    assert!(s["payments_settled"].as_u64().unwrap() > 0, "{s}");
    // A viewer's pool: three caching peers each settle two cumulative cheques on chain.
    assert_eq!(s["micropayments_settled"], json!(6), "{s}");
    for k in ["tps", "settle_ms_p50", "finalize_ms_p50", "tickets_won", "tickets_redeemed"] {
        assert!(s.get(k).is_some(), "{k} in {s}");
    }
    // A broadcaster pays two orchestrators with tickets (one in four wins) every 500 ms;
    // winners are redeemed on the chain's ticket broker (counted by validator 0's
    // executed redemptions).
    let (sent, won, redeemed) = (
        s["tickets_sent"].as_u64().unwrap(),
        s["tickets_won"].as_u64().unwrap(),
        s["tickets_redeemed"].as_u64().unwrap(),
    );
    assert!(sent >= 10, "{s}");
    assert!(won >= 1 && won < sent, "{s}");
    assert!(redeemed >= 1 && redeemed <= won, "{s}");
    eprintln!("localnet test: {:.1}s, {s}", t.elapsed().as_secs_f64());
}

fn wait_until(secs: u64, mut pred: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if pred() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    pred()
}

#[test]
fn a_killed_validator_restarts_from_its_store_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let opts = LocalnetOptions {
        validators: 4,
        guardians: 1,
        accounts: 4,
        seed: 3,
        duration_s: 0,
        rate: 0,
        // Checkpoints finalize while the validator is down: it restarts below them.
        checkpoint_interval: 5,
        block_ms: 200,
        base_port: Some(base_port(1)),
        rpc_port: Some(base_port(1) + 12),
        dir: Some(dir.path().to_owned()),
        exe: exe(),
        drain_s: 0,
        progress: false,
    };
    let mut net = launcher::start(&opts, dir.path()).unwrap();
    net.wait_ready(Duration::from_secs(60)).unwrap();
    let v = 3;
    assert!(wait_until(60, || status(net.rpc[v]).is_ok_and(|s| s.settled >= 8)), "validator {v} settles");
    net.children.0[v].kill().unwrap(); // SIGKILL
    net.children.0[v].wait().unwrap();
    // Roots the killed node had settled, as the others report them.
    let before = status(net.rpc[0]).unwrap().settled;
    let roots: Vec<Value> =
        (1..=8).map(|h| rpc(net.rpc[0], "meshcast_stateRoot", json!([h])).unwrap()).collect();
    // The other three (3 of 4 validators) keep settling.
    assert!(wait_until(60, || status(net.rpc[0]).is_ok_and(|s| s.settled >= before + 10)), "3 of 4 go on");
    net.children.0[v] = spawn_node(&exe(), &net.dirs[v]).unwrap();
    let target = status(net.rpc[0]).unwrap().settled;
    net.wait_ready(Duration::from_secs(30)).unwrap();
    let reopened = status(net.rpc[v]).unwrap().settled;
    assert!(reopened >= 8, "reopened at its stored tip {reopened}, not at genesis");
    assert!(
        wait_until(90, || status(net.rpc[v]).is_ok_and(|s| s.settled >= target)),
        "the restarted validator catches up to {target}"
    );
    for (i, r) in roots.iter().enumerate() {
        let h = i as u64 + 1;
        assert_eq!(&rpc(net.rpc[v], "meshcast_stateRoot", json!([h])).unwrap(), r, "height {h} unchanged");
    }
    let st = rpc(net.rpc[v], "meshcast_status", json!([])).unwrap();
    assert_eq!(st["fault"], Value::Null, "{st}");
    // It also follows finality again, with the others' state.
    let f = status(net.rpc[0]).unwrap().finalized;
    assert!(f > before, "a checkpoint above the crash finalized: {f}");
    assert!(
        wait_until(60, || status(net.rpc[v]).is_ok_and(|s| s.finalized >= f)),
        "restarted node finalizes {f}"
    );
    assert_eq!(
        rpc(net.rpc[v], "meshcast_stateRoot", json!([f])).unwrap(),
        rpc(net.rpc[0], "meshcast_stateRoot", json!([f])).unwrap()
    );
    net.check_alive().unwrap();
}
