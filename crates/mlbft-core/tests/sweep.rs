//! netsim sweeps: Byzantine validators, loss, reordering, partitions that heal,
//! crash–restart from persisted state and guardians running the real `bls-gossip`
//! machine. Safety is checked after every simulated event (the harness's invariant).
//!
//! The default run covers m ∈ {4, 7, 20} with f = ⌊(m−1)/3⌋ over a few seeds; the
//! `#[ignore]` tests cover m = 100 and 1,000 seeds per configuration
//! (`cargo test --release -p mlbft-core --test sweep -- --ignored`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bls_gossip::{Bls, FakeScheme};
use mlbft_core::sim::{RunOutcome, SetChangeKind, Summary, SweepConfig, run};

fn sweep(cfg: &SweepConfig, seeds: std::ops::Range<u64>) -> Vec<RunOutcome> {
    seeds.map(|s| run::<FakeScheme>(cfg, s).unwrap()).collect()
}

fn assert_safe_and_live(cfg: &SweepConfig, runs: &[RunOutcome]) {
    for r in runs {
        assert_eq!(r.violation, None, "seed {} of {cfg:?}", r.seed);
        assert!(!r.liveness_failure, "liveness failure, seed {} of {cfg:?}", r.seed);
        assert_eq!(r.invalid_evidence, 0, "seed {}", r.seed);
        assert!(r.settled >= cfg.checkpoint_interval, "seed {} settled only {}", r.seed, r.settled);
        assert!(r.finalized >= cfg.checkpoint_interval, "seed {} finalized only {}", r.seed, r.finalized);
    }
}

fn config(m: usize, guardians: usize, loss: f64) -> SweepConfig {
    let mut cfg = SweepConfig::new(m, (m - 1) / 3, guardians, loss);
    cfg.checkpoint_interval = 20;
    cfg
}

#[test]
fn sweep_m4_f1() {
    let cfg = config(4, 8, 0.01);
    let runs = sweep(&cfg, 0..8);
    assert_safe_and_live(&cfg, &runs);
    assert!(runs.iter().any(|r| r.evidence > 0), "the Byzantine validator's equivocation is reported");
}

#[test]
fn sweep_m7_f2() {
    let cfg = config(7, 16, 0.01);
    let runs = sweep(&cfg, 0..6);
    assert_safe_and_live(&cfg, &runs);
}

#[test]
fn sweep_m20_f6() {
    let cfg = config(20, 8, 0.0);
    let runs = sweep(&cfg, 0..2);
    assert_safe_and_live(&cfg, &runs);
}

/// Runs `kinds` mid-run (decided at heights 6, 16, 26) over `seeds`: zero violations and
/// liveness failures, and above the last hand-over only members of the last set propose.
fn sweep_with_changes(m: usize, guardians: usize, kinds: &[SetChangeKind], seeds: std::ops::Range<u64>) {
    let mut cfg = config(m, guardians, 0.01);
    cfg.set_changes = kinds.to_vec();
    let runs = sweep(&cfg, seeds);
    assert_safe_and_live(&cfg, &runs);
    for r in &runs {
        assert!(
            r.late_proposers.is_subset(&r.final_members),
            "seed {}: proposers {:?} outside the last set {:?}",
            r.seed,
            r.late_proposers,
            r.final_members
        );
        assert!(!r.late_proposers.is_empty(), "seed {}: nothing settled after the last change", r.seed);
    }
    if kinds.iter().any(|k| *k != SetChangeKind::Reweight) {
        assert!(
            runs.iter().any(|r| r.late_proposers.iter().any(|&p| p >= m)),
            "a validator that joined proposes a settled block"
        );
    }
}

#[test]
fn sweep_set_change_swap_m4() {
    // The leaving validator is the Byzantine one (it keeps voting after its removal) and
    // the newcomer equivocates.
    sweep_with_changes(4, 8, &[SetChangeKind::Swap], 0..7);
}

#[test]
fn set_change_sweep_is_deterministic() {
    let mut cfg = config(4, 8, 0.01);
    cfg.set_changes = SetChangeKind::CYCLE.to_vec();
    let a = run::<FakeScheme>(&cfg, 3).unwrap();
    let b = run::<FakeScheme>(&cfg, 3).unwrap();
    assert_eq!(a, b);
    assert!(a.evidence > 0, "the equivocating newcomer or the genesis Byzantine is reported");
}

#[test]
fn sweep_set_change_reweight_m4() {
    sweep_with_changes(4, 8, &[SetChangeKind::Reweight], 0..7);
}

#[test]
fn sweep_set_change_grow_4_to_7() {
    sweep_with_changes(4, 8, &[SetChangeKind::Grow], 0..7);
}

#[test]
fn sweep_three_set_changes_m7() {
    sweep_with_changes(7, 8, &SetChangeKind::CYCLE, 0..3);
}

/// The checker has teeth: with Byzantine stake above 1/3 the split-brain strategy (two
/// honest halves cut apart, the Byzantine validators playing honest in both) makes two
/// honest validators settle different blocks, and the sweep reports it.
#[test]
fn checker_has_teeth_above_one_third() {
    for (m, f) in [(4, 2), (7, 3)] {
        let cfg = SweepConfig { checkpoint_interval: 20, ..SweepConfig::new(m, f, 4, 0.0) };
        assert!(cfg.split_brain());
        let runs = sweep(&cfg, 0..4);
        let s = Summary::of(&runs);
        assert_eq!(s.violations, runs.len(), "m={m} f={f}: {runs:?}");
    }
    // At the bound the same harness finds nothing (the control).
    let cfg = SweepConfig { checkpoint_interval: 20, ..SweepConfig::new(7, 2, 4, 0.0) };
    assert!(!cfg.split_brain());
    assert_eq!(Summary::of(&sweep(&cfg, 0..2)).violations, 0);
}

/// Same seed and inputs: identical outcome and trace hash; another seed differs.
#[test]
fn sweep_is_deterministic() {
    let cfg = config(4, 4, 0.02);
    let a = run::<FakeScheme>(&cfg, 11).unwrap();
    let b = run::<FakeScheme>(&cfg, 11).unwrap();
    assert_eq!(a, b);
    let c = run::<FakeScheme>(&cfg, 12).unwrap();
    assert_ne!(a.trace_hash, c.trace_hash);
}

/// A small run with real BLS12-381 end to end (votes, CCs, guardian aggregates).
#[test]
fn small_run_with_real_bls() {
    let mut cfg = SweepConfig::new(4, 1, 4, 0.0);
    cfg.checkpoint_interval = 5;
    cfg.partitions = false;
    cfg.tail_ms = Some(2500);
    let r = run::<Bls>(&cfg, 3).unwrap();
    assert_eq!(r.violation, None);
    assert!(r.finalized >= 5, "{r:?}");
}

/// The seeds of the 1,000-seed sweeps at 1 % loss with 50 guardians (the example's
/// settings) that used to miss the two-epoch liveness window: m = 4 seed 729 (the next
/// proposer asked for locks before its peers' CC formed and got no answer) and seed 793
/// (the next proposer had seen the equivocator's other proposal first and threw away the
/// certified one), m = 7 seed 608.
#[test]
fn former_liveness_misses_at_one_percent_loss() {
    for (m, f, seed) in [(4, 1, 729), (4, 1, 793), (7, 2, 608)] {
        let cfg = SweepConfig::new(m, f, 50, 0.01);
        let r = run::<FakeScheme>(&cfg, seed).unwrap();
        assert_eq!(r.violation, None, "m={m} seed {seed}");
        assert!(!r.liveness_failure, "liveness failure, m={m} seed {seed}");
        assert!(r.finalized >= cfg.checkpoint_interval, "m={m} seed {seed}: {r:?}");
    }
}

fn big(cfg: &SweepConfig, seeds: std::ops::Range<u64>) {
    let runs = sweep(cfg, seeds);
    let s = Summary::of(&runs);
    println!("{cfg:?}: {}", s.to_json());
    assert_eq!(s.violations, 0);
    assert_eq!(s.liveness_failures, 0);
}

#[test]
#[ignore = "long: 200 seeds per kind of set change (run with --release); fails today: rare liveness misses (m = 4 grow seed 91, m = 7 cycle seed 129; docs/mlbft.md)"]
fn sweep_set_changes_two_hundred_seeds() {
    for kinds in [
        &[SetChangeKind::Swap][..],
        &[SetChangeKind::Reweight],
        &[SetChangeKind::Grow],
        &SetChangeKind::CYCLE,
    ] {
        sweep_with_changes(4, 8, kinds, 0..200);
        sweep_with_changes(7, 16, kinds, 0..200);
    }
}

#[test]
#[ignore = "heavy: 1,000 seeds; run with --release -- --ignored"]
fn sweep_m4_f1_thousand_seeds() {
    big(&SweepConfig::new(4, 1, 50, 0.01), 0..1000);
}

#[test]
#[ignore = "heavy: 1,000 seeds; run with --release -- --ignored"]
fn sweep_m7_f2_thousand_seeds() {
    big(&SweepConfig::new(7, 2, 50, 0.01), 0..1000);
}

#[test]
#[ignore = "heavy: 1,000 seeds; run with --release -- --ignored"]
fn sweep_m20_f6_thousand_seeds() {
    big(&SweepConfig::new(20, 6, 50, 0.01), 0..1000);
}

#[test]
#[ignore = "heavy: m = 100, 1,000 seeds; run with --release -- --ignored"]
fn sweep_m100_f33_thousand_seeds() {
    let mut cfg = SweepConfig::new(100, 33, 50, 0.0);
    cfg.checkpoint_interval = 20;
    big(&cfg, 0..1000);
}
