//! A local meshcast network on `netsim`: validators and guardians running the node's
//! [`NodeService`](meshcast_node::service::NodeService), each on its own redb database
//! in a temporary directory, a workload of signed transfers between many accounts, and
//! the end-of-run checks (state roots equal at every height on every node, balances
//! equal). Virtual time; links of 30–70 ms.
//!
//! ```text
//! cargo run --release -p meshcast-node --example simnet -- [--validators 4] [--guardians 16]
//!     [--accounts 100] [--duration SECS] [--checkpoint-interval T] [--seed S] [--rate TX/S] [--json]
//! ```
//!
//! Progress goes to stderr; with `--json` the last stdout line is one JSON object:
//! `blocks_settled, blocks_finalized, tps, settle_ms_p50, finalize_ms_p50,
//! payments_settled, state_roots_agree` (and `balances_agree`, `submitted`, `faults`).
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::disallowed_methods)]

use std::process::ExitCode;
use std::time::Instant;

use meshcast_node::simnet::{Simnet, SimnetConfig};
use meshcast_node::storage::{MemoryStorage, RedbStorage, Storage};

struct Args {
    cfg: SimnetConfig,
    duration_s: u64,
    json: bool,
    memory: bool,
}

fn parse() -> Result<Args, String> {
    let mut cfg = SimnetConfig::default();
    let mut duration_s = 10;
    let mut json = false;
    let mut memory = false;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> Result<u64, String> {
            it.next().and_then(|v| v.parse().ok()).ok_or_else(|| format!("{name} needs a number"))
        };
        match a.as_str() {
            "--validators" => cfg.validators = num("--validators")? as usize,
            "--guardians" => cfg.guardians = num("--guardians")? as usize,
            "--accounts" => cfg.accounts = num("--accounts")? as usize,
            "--duration" => duration_s = num("--duration")?,
            "--checkpoint-interval" => cfg.checkpoint_interval = num("--checkpoint-interval")?,
            "--seed" => cfg.seed = num("--seed")?,
            "--rate" => cfg.rate = num("--rate")?,
            "--json" => json = true,
            "--memory" => memory = true,
            "-h" | "--help" => {
                return Err(
                    "usage: simnet [--validators N] [--guardians N] [--accounts N] [--duration SECS] \
                            [--checkpoint-interval T] [--seed S] [--rate TX/S] [--memory] [--json]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if cfg.validators == 0 {
        return Err("--validators must be at least 1".into());
    }
    Ok(Args { cfg, duration_s, json, memory })
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("temporary directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let cfg = args.cfg.clone();
    if args.memory {
        match Simnet::new(cfg, |_| Ok(MemoryStorage::new())) {
            Ok(net) => drive(net, &args, started),
            Err(e) => {
                eprintln!("building the network: {e}");
                ExitCode::FAILURE
            }
        }
    } else {
        match Simnet::new(cfg, |i| RedbStorage::open(dir.path().join(format!("node-{i}.redb")))) {
            Ok(net) => drive(net, &args, started),
            Err(e) => {
                eprintln!("building the network: {e}");
                ExitCode::FAILURE
            }
        }
    }
}

fn drive<S: Storage>(mut net: Simnet<S>, args: &Args, started: Instant) -> ExitCode {
    let cfg = args.cfg.clone();
    eprintln!(
        "simnet: {} validators, {} guardians, {} accounts, {} tx/s for {} s (virtual), checkpoint every {} blocks, seed {}",
        cfg.validators,
        cfg.guardians,
        cfg.accounts,
        cfg.rate,
        args.duration_s,
        cfg.checkpoint_interval,
        cfg.seed
    );
    let step_ms = 2_000;
    let mut left = args.duration_s * 1000;
    while left > 0 {
        let ms = left.min(step_ms);
        if let Err(e) = net.run_for(ms) {
            eprintln!("simulation failed: {e}");
            return ExitCode::FAILURE;
        }
        left -= ms;
        let r = net.report();
        eprintln!(
            "  t={:>5.1}s settled {:>4} finalized {:>4} executed txs {:>6} mempool(v0) {:>5}",
            r.sim_ms as f64 / 1000.0,
            r.blocks_settled,
            r.blocks_finalized,
            net.node(0).stats().txs_executed,
            net.node(0).mempool_len()
        );
    }
    // Let what waits settle, then compare every node.
    let tail = 4_000;
    if let Err(e) = net.idle_for(tail) {
        eprintln!("simulation failed: {e}");
        return ExitCode::FAILURE;
    }
    let r = net.report();
    eprintln!(
        "done in {:.1} s wall: {} blocks settled, {} finalized, {} of {} transfers executed, {:.1} tx/s, \
         settle p50 {} ms, finality p50 {} ms, state roots agree: {}, balances agree: {}, halted nodes: {}",
        started.elapsed().as_secs_f64(),
        r.blocks_settled,
        r.blocks_finalized,
        r.payments_settled,
        r.submitted,
        r.tps,
        r.settle_ms_p50,
        r.finalize_ms_p50,
        r.state_roots_agree,
        r.balances_agree,
        r.faults
    );
    if args.json {
        println!("{}", r.to_json());
    }
    if r.state_roots_agree && r.balances_agree && r.faults == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
