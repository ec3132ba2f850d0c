//! orchestration: selecting one orchestrator among 1,000 with the multiplicative score
//! (two passes, no allocation) against the naive baseline (score every candidate into a
//! vector and sort it), measured in the same run. Aim: below 50 µs. Figures in
//! `docs/orchestration.md` ("Selection").
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use orchestration::selection::{Candidate, SelectionConfig, Selector, select_naive};
use primitives::U256;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn candidates(n: usize) -> Vec<Candidate> {
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    (0..n)
        .map(|i| Candidate {
            id: i as u64,
            price: rng.random_range(1_000.0..3_000.0),
            latency_ms: rng.random_range(10..2_500),
            stake: U256::from(rng.random_range(1u64..50_000)) * U256::exp10(18),
            successes: rng.random_range(0..100),
            failures: rng.random_range(0..5),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let s = Selector::new(SelectionConfig::default());
    for n in [100usize, 1_000] {
        let cands = candidates(n);
        assert_eq!(s.select(&cands, None), select_naive(&s, &cands));
        let mut g = c.benchmark_group(format!("orchestration_select/{n}"));
        g.bench_function("multiplicative", |b| {
            b.iter(|| s.select(black_box(&cands), black_box(Some(n / 2))))
        });
        g.bench_function("naive_score_all_and_sort", |b| b.iter(|| select_naive(&s, black_box(&cands))));
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
