//! Safety sweep: one netsim network per seed with Byzantine validators (equivocating
//! proposers, double voters, silent nodes — or, above the `⌊(m−1)/3⌋` bound, a
//! split-brain attack), loss, reordering, a partition that heals, a crash–restart from
//! persisted state, and guardians running the real `bls-gossip` machine (fake crypto).
//! Safety is checked after every event. The last line is one JSON object.
//!
//! ```text
//! cargo run --release -p mlbft-core --example safety_sweep -- \
//!     --validators 7 --byzantine 2 --guardians 50 --seeds 0..200 --loss 0.02 --json
//! ```
//!
//! Other flags: `--interval T` (checkpoint interval, default 100), `--tail-ms MS`
//! (simulated time after the last fault heals), `--no-faults` (constant 50 ms links, no
//! partition, no crash: the latency figure of docs/benchmarks.md), `--real-bls` (real
//! BLS12-381 instead of the fake scheme; slow), `--verbose` (one line per run),
//! `--set-changes N` (N validator-set changes mid-run, cycling swap one validator /
//! reweight stakes / grow by three, decided at heights 6, 16, 26, …; the summary line
//! is the same JSON object).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::process::ExitCode;
use std::time::Instant;

use bls_gossip::{Bls, FakeScheme};
use mlbft_core::sim::{RunOutcome, SetChangeKind, Summary, SweepConfig, run};

struct Args {
    cfg: SweepConfig,
    seeds: std::ops::Range<u64>,
    json: bool,
    verbose: bool,
    real_bls: bool,
}

fn parse() -> Result<Args, String> {
    let mut cfg = SweepConfig::new(7, 2, 50, 0.0);
    let mut seeds = 0..10;
    let mut json = false;
    let mut verbose = false;
    let mut real_bls = false;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--validators" => cfg.validators = value()?.parse().map_err(|e| format!("--validators: {e}"))?,
            "--byzantine" => cfg.byzantine = value()?.parse().map_err(|e| format!("--byzantine: {e}"))?,
            "--guardians" => cfg.guardians = value()?.parse().map_err(|e| format!("--guardians: {e}"))?,
            "--loss" => cfg.loss = value()?.parse().map_err(|e| format!("--loss: {e}"))?,
            "--interval" => {
                cfg.checkpoint_interval = value()?.parse().map_err(|e| format!("--interval: {e}"))?
            }
            "--tail-ms" => cfg.tail_ms = Some(value()?.parse().map_err(|e| format!("--tail-ms: {e}"))?),
            "--seeds" => {
                let v = value()?;
                let (a, b) = v.split_once("..").ok_or("--seeds takes A..B")?;
                seeds = a.parse().map_err(|e| format!("--seeds: {e}"))?
                    ..b.parse().map_err(|e| format!("--seeds: {e}"))?;
            }
            "--no-faults" => {
                cfg.faults = false;
                cfg.partitions = false;
                cfg.crashes = false;
            }
            "--set-changes" => {
                let n: usize = value()?.parse().map_err(|e| format!("--set-changes: {e}"))?;
                cfg.set_changes =
                    (0..n).map(|k| SetChangeKind::CYCLE[k % SetChangeKind::CYCLE.len()]).collect();
            }
            "--real-bls" => real_bls = true,
            "--json" => json = true,
            "--verbose" => verbose = true,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if cfg.validators == 0 || cfg.byzantine > cfg.validators {
        return Err("need 1 ≤ validators and byzantine ≤ validators".into());
    }
    if !(0.0..1.0).contains(&cfg.loss) {
        return Err("--loss must be in [0, 1)".into());
    }
    Ok(Args { cfg, seeds, json, verbose, real_bls })
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("safety_sweep: {e}");
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    let mut runs: Vec<RunOutcome> = Vec::new();
    for seed in args.seeds.clone() {
        let outcome =
            if args.real_bls { run::<Bls>(&args.cfg, seed) } else { run::<FakeScheme>(&args.cfg, seed) };
        match outcome {
            Ok(r) => {
                if args.verbose || r.violation.is_some() || r.liveness_failure {
                    eprintln!(
                        "seed {seed}: settled {} finalized {} evidence {} violation {:?} liveness_failure {}",
                        r.settled, r.finalized, r.evidence, r.violation, r.liveness_failure
                    );
                }
                runs.push(r);
            }
            Err(e) => {
                eprintln!("seed {seed}: setup failed: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let summary = Summary::of(&runs);
    if !args.cfg.set_changes.is_empty() {
        eprintln!("set changes: {:?}", args.cfg.set_changes);
    }
    if !args.json {
        println!(
            "m={} f={} guardians={} loss={} seeds={:?} split_brain={} in {:.1}s",
            args.cfg.validators,
            args.cfg.byzantine,
            args.cfg.guardians,
            args.cfg.loss,
            args.seeds,
            args.cfg.split_brain(),
            start.elapsed().as_secs_f64()
        );
    } else {
        eprintln!("elapsed {:.1}s", start.elapsed().as_secs_f64());
    }
    println!("{}", summary.to_json());
    ExitCode::SUCCESS
}
