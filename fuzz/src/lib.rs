//! Fuzz harness bodies for every decoder of untrusted bytes in the workspace.
//!
//! Each body is a plain `fn(&[u8])` that must never panic, whatever the input: it decodes,
//! and where decoding succeeds it checks that re-encoding round-trips. The libFuzzer
//! targets in `fuzz_targets/` are one-liners calling these bodies
//! (`cargo fuzz run --features libfuzzer <target>`), and `tests/smoke.rs` runs the same
//! bodies over seeded random and mutated inputs under `cargo test`.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

pub mod bls_gossip_targets;
pub mod ledger_eth_targets;
pub mod ledger_targets;
pub mod micropool_targets;
pub mod mlbft_targets;
pub mod mpt_refcount_targets;
pub mod node_targets;
pub mod orchestration_targets;
pub mod pm_tickets_targets;
pub mod primitives_targets;
pub mod tracker_geo_targets;
pub mod transcode_verify_targets;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Runs `body` over the `seeds` themselves, then `iterations` inputs made by mutating
/// them (bit flips, truncation, extension, splices) or drawn at random, from a fixed RNG
/// `seed`, so a failure is reproducible. Returns the number of inputs tried.
pub fn smoke(body: fn(&[u8]), seeds: &[Vec<u8>], iterations: usize, seed: u64) -> usize {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for s in seeds {
        body(s);
    }
    for _ in 0..iterations {
        let input = mutate(&mut rng, seeds);
        body(&input);
    }
    seeds.len() + iterations
}

fn mutate(rng: &mut ChaCha8Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    if seeds.is_empty() || rng.random_ratio(1, 8) {
        let len = rng.random_range(0..256);
        return (0..len).map(|_| rng.random()).collect();
    }
    let mut v = seeds[rng.random_range(0..seeds.len())].clone();
    for _ in 0..rng.random_range(1..4) {
        match rng.random_range(0..5) {
            0 if !v.is_empty() => {
                let i = rng.random_range(0..v.len());
                v[i] ^= 1 << rng.random_range(0..8);
            }
            1 if !v.is_empty() => {
                let i = rng.random_range(0..v.len());
                v[i] = rng.random();
            }
            2 => {
                let keep = rng.random_range(0..=v.len());
                v.truncate(keep);
            }
            3 => {
                let extra = rng.random_range(1..16);
                v.extend((0..extra).map(|_| rng.random::<u8>()));
            }
            _ => {
                let other = &seeds[rng.random_range(0..seeds.len())];
                let cut = rng.random_range(0..=v.len());
                let from = rng.random_range(0..=other.len());
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
        }
    }
    v
}
