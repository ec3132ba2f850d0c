//! orchestration: the cost of one delegator's reward-and-fee claim with 10, 1,000 and
//! 100,000 delegators in the pool and 1 or 1,000 rounds elapsed since its last claim,
//! against a naive per-round recomputation (Livepeer's pre-LIP-36 `claimEarnings` loop,
//! one step per round since the last claim) measured in the same run. The cumulative
//! factors make the claim flat in both; the naive claim grows with the rounds.
//!
//! `cargo bench -p meshcast-benches --bench orchestration_claims -- --warm-up-time 1 --measurement-time 3 --sample-size 20`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use orchestration::job::{Capability, Hardware, JobKind, VerificationPolicy};
use orchestration::registry::{Registry, RegistryConfig, Rounds, ServiceRecord};
use orchestration::staking::{Staking, StakingConfig};
use primitives::{Address, U256};

const ROUNDS: Rounds = Rounds { length: 10, lock_blocks: 1 };

fn orch() -> Address {
    Address::from_low_u64_be(1)
}

fn delegator(i: usize) -> Address {
    Address::from_low_u64_be(1_000 + i as u64)
}

/// A pool with `n` delegators bonded in round 1, then `rounds` rounds of reward + fees.
fn world(n: usize, rounds: u64) -> Staking {
    let mut reg = Registry::new(RegistryConfig { rounds: ROUNDS, ..RegistryConfig::default() }).unwrap();
    reg.register(
        ServiceRecord {
            orchestrator: orch(),
            service_uri: "https://o.example".into(),
            capabilities: vec![Capability {
                kind: JobKind::Transcode { profile: "P720P30".into(), hardware: Hardware::Gpu },
                price_per_unit: U256::one(),
                verification: VerificationPolicy::Sampled { rate: 10 },
            }],
            regions: vec![],
            reward_cut: 100_000,
            fee_share: 500_000,
        },
        0,
    )
    .unwrap();
    let mut st = Staking::new(StakingConfig { rounds: ROUNDS, ..StakingConfig::default() }).unwrap();
    st.initialize_round(10, &reg).unwrap();
    let e18 = U256::exp10(18);
    st.bond(orch(), orch(), e18 * 1_000).unwrap();
    for i in 0..n {
        st.bond(delegator(i), orch(), e18 * (1 + i as u64 % 97)).unwrap();
    }
    for r in 2..=rounds + 1 {
        st.initialize_round(r * ROUNDS.length, &reg).unwrap();
        st.reward(orch()).unwrap();
        st.credit_fees(orch(), e18 / 10, r).unwrap();
    }
    st
}

/// The naive baseline: per-round pool records and a claim that walks every round since
/// the delegator's last claim (stake compounds by each round's reward share, fees accrue
/// by each round's fee share).
struct Naive {
    /// Per round: (total earning stake, delegators' reward, delegators' fees).
    rounds: Vec<(U256, U256, U256)>,
}

impl Naive {
    fn new(n: usize, rounds: u64) -> Self {
        let e18 = U256::exp10(18);
        let mut total =
            e18 * 1_000 + (0..n).map(|i| e18 * (1 + i as u64 % 97)).fold(U256::zero(), |a, b| a + b);
        let mut v = Vec::new();
        for _ in 0..rounds {
            let reward = e18 * 900; // the delegators' share of a round's mint
            v.push((total, reward, e18 / 20));
            total += reward;
        }
        Naive { rounds: v }
    }

    fn claim(&self, mut stake: U256, from: usize) -> (U256, U256) {
        let mut fees = U256::zero();
        for (total, reward, fee) in &self.rounds[from..] {
            let r = reward.full_mul(stake) / primitive_types::U512::from(*total);
            let f = fee.full_mul(stake) / primitive_types::U512::from(*total);
            stake += U256::try_from(r).unwrap();
            fees += U256::try_from(f).unwrap();
        }
        (stake, fees)
    }
}

/// Mean time of `f` over `iters` calls.
fn mean(iters: u32, f: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed().as_secs_f64() / f64::from(iters)
}

fn claims(c: &mut Criterion) {
    let mut g = c.benchmark_group("orchestration_claim");
    let worlds: Vec<(u64, usize, Staking)> =
        [1u64, 1_000].iter().flat_map(|&r| [10usize, 1_000, 100_000].map(|n| (r, n, world(n, r)))).collect();
    for (rounds, n, base) in &worlds {
        let (rounds, n) = (*rounds, *n);
        // The claim's valuation (what `claim` computes before storing it): read-only, so
        // every iteration values a delegator that has not claimed since round 1.
        let mut i = 0usize;
        g.bench_with_input(BenchmarkId::new(format!("position_rounds_{rounds}"), n), &n, |b, &n| {
            b.iter(|| {
                i = (i + 1) % n;
                black_box(base.position(&delegator(i)).unwrap())
            })
        });
        // The whole claim (valuation + storing the settled record). Each iteration
        // claims a delegator that has not claimed since round 1; when all have, a fresh
        // copy of the state is taken outside the timing.
        let mut st = base.clone();
        let mut next = 0usize;
        g.bench_with_input(BenchmarkId::new(format!("claim_rounds_{rounds}"), n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    if next == n {
                        st = base.clone();
                        next = 0;
                    }
                    let d = delegator(next);
                    next += 1;
                    let start = Instant::now();
                    black_box(st.claim(black_box(d)).unwrap());
                    spent += start.elapsed();
                }
                spent
            })
        });
    }
    for &rounds in &[1u64, 1_000] {
        let naive = Naive::new(10, rounds);
        let stake = U256::exp10(18) * 5;
        g.bench_with_input(BenchmarkId::new("naive_per_round", rounds), &rounds, |b, _| {
            b.iter(|| black_box(naive.claim(black_box(stake), 0)))
        });
    }
    g.finish();

    // Ratios, measured interleaved (A, B, A, B, …) so machine load hits all alike.
    let naive1 = Naive::new(10, 1);
    let naive1000 = Naive::new(10, 1_000);
    let mut sums = vec![0f64; worlds.len() + 2];
    for _ in 0..5 {
        for (k, (_, n, w)) in worlds.iter().enumerate() {
            let mut i = 0usize;
            sums[k] += mean(20_000, &mut || {
                i = (i + 1) % n;
                black_box(w.position(&delegator(i)).unwrap());
            });
        }
        let k = worlds.len();
        sums[k] += mean(20_000, &mut || {
            black_box(naive1.claim(U256::exp10(18), 0));
        });
        sums[k + 1] += mean(200, &mut || {
            black_box(naive1000.claim(U256::exp10(18), 0));
        });
    }
    let t: Vec<f64> = sums.iter().map(|s| s / 5.0 * 1e6).collect();
    for (k, (rounds, n, _)) in worlds.iter().enumerate() {
        println!("claim valuation, {n} delegators, {rounds} rounds elapsed: {:.3} µs", t[k]);
    }
    let k = worlds.len();
    println!("naive per-round claim, 1 round: {:.3} µs; 1,000 rounds: {:.1} µs", t[k], t[k + 1]);
    println!(
        "ratio 100,000 / 10 delegators: {:.2} (1 round), {:.2} (1,000 rounds); 1,000 / 1 rounds elapsed: cumulative {:.2} (10 delegators), naive {:.0}; naive / cumulative at 1,000 rounds: {:.0}",
        t[2] / t[0],
        t[5] / t[3],
        t[3] / t[0],
        t[k + 1] / t[k],
        t[k + 1] / t[3],
    );
}

criterion_group!(benches, claims);
criterion_main!(benches);
