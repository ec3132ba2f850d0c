//! bls-gossip: weighted aggregate verification over 1,000 guardians, batch verification
//! of 20 aggregates against verifying them one by one (the baseline, same run), bisection
//! for one bad aggregate, and the signer-vector codec.
//!
//! `cargo bench -p meshcast-benches --bench bls -- --warm-up-time 1 --measurement-time 3`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use bls_gossip::SignerVector;
use bls_gossip::bls::{
    KeyTable, PublicKey, SecretKey, Signature, batch_verify, batch_verify_with, fast_aggregate_verify,
    find_invalid, verify_weighted,
};
use criterion::{Criterion, criterion_group, criterion_main};
use meshcast_benches::paired;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

const N: usize = 1000;
const MSG: &[u8] = b"checkpoint 1000";

struct Fixture {
    keys: Vec<PublicKey>,
    aggregates: Vec<(SignerVector, Signature)>,
    /// Aggregate of all 1,000 signatures (multiplicity 1 each).
    all: Signature,
}

/// 1,000 guardians and 20 aggregates, each over ~2/3 of them with multiplicities 1..=3
/// (the shape gossip produces).
fn fixture() -> Fixture {
    let sks: Vec<SecretKey> = (0..N)
        .map(|i| {
            let mut ikm = [9u8; 32];
            ikm[..8].copy_from_slice(&(i as u64).to_le_bytes());
            SecretKey::key_gen(&ikm).unwrap()
        })
        .collect();
    let keys: Vec<PublicKey> = sks.iter().map(SecretKey::public_key).collect();
    let sigs: Vec<Signature> = sks.iter().map(|s| s.sign(MSG)).collect();
    let aggregates = (0..20)
        .map(|j| {
            let counts: Vec<u8> = (0..N).map(|u| [0u8, 1, 1, 2, 1, 3][(u * 7 + j * 13) % 6]).collect();
            let mut sig: Option<Signature> = None;
            for (u, &c) in counts.iter().enumerate() {
                for _ in 0..c {
                    sig = Some(sig.map_or(sigs[u], |s| s.combine(&sigs[u])));
                }
            }
            (SignerVector::from_counts(&counts), sig.unwrap())
        })
        .collect();
    let all = bls_gossip::bls::aggregate_signatures(&sigs).unwrap();
    Fixture { keys, aggregates, all }
}

fn bench(c: &mut Criterion) {
    let f = fixture();
    let items: Vec<(&SignerVector, &Signature)> = f.aggregates.iter().map(|(v, s)| (v, s)).collect();
    let mut g = c.benchmark_group("bls");
    g.sample_size(10);

    // One weighted aggregate over 1,000 guardians, and the unweighted baseline
    // (FastAggregateVerify: plain key sum + two pairings).
    let ones = SignerVector::from_counts(&[1u8; N]);
    g.bench_function("verify_weighted_1000", |b| {
        b.iter(|| assert!(verify_weighted(&f.keys, MSG, black_box(items[0].0), items[0].1).unwrap()))
    });
    g.bench_function("fast_aggregate_verify_1000_baseline", |b| {
        b.iter(|| assert!(fast_aggregate_verify(&f.keys, MSG, black_box(&f.all))))
    });
    g.bench_function("verify_weighted_1000_all_ones", |b| {
        b.iter(|| assert!(verify_weighted(&f.keys, MSG, black_box(&ones), &f.all).unwrap()))
    });

    // 20 aggregates: one by one (baseline) vs one batch.
    g.bench_function("one_by_one_20x1000", |b| {
        b.iter(|| {
            for (v, s) in &items {
                assert!(verify_weighted(&f.keys, MSG, v, s).unwrap());
            }
        })
    });
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    // The guardian set's key table is built once per set (outside the timed loop; its
    // construction is timed separately below).
    let table = KeyTable::new(f.keys.clone());
    g.bench_function("batch_20x1000", |b| {
        b.iter(|| assert!(batch_verify_with(&table, MSG, black_box(&items), &mut rng).unwrap()))
    });
    g.bench_function("batch_20x1000_no_table", |b| {
        b.iter(|| assert!(batch_verify(&f.keys, MSG, black_box(&items), &mut rng).unwrap()))
    });

    // One bad aggregate among 20, named by bisection.
    let mut bad = items.clone();
    bad[13] = (items[13].0, items[12].1);
    g.bench_function("find_one_bad_of_20x1000", |b| {
        b.iter(|| assert_eq!(find_invalid(&table, MSG, black_box(&bad), &mut rng).unwrap(), vec![13]))
    });
    // Load-robust ratios: alternating blocks of one-by-one and batch verification.
    let one_by_one = || {
        for (v, s) in &items {
            assert!(verify_weighted(&f.keys, MSG, v, s).unwrap());
        }
    };
    let with_table = paired(
        15,
        2,
        |_| one_by_one(),
        |_| assert!(batch_verify_with(&table, MSG, &items, &mut rng).unwrap()),
    );
    let without =
        paired(15, 2, |_| one_by_one(), |_| assert!(batch_verify(&f.keys, MSG, &items, &mut rng).unwrap()));
    println!("paired/batch_20x1000_speedup_over_one_by_one           {with_table:.2}");
    println!("paired/batch_20x1000_no_table_speedup_over_one_by_one  {without:.2}");
    g.bench_function("key_table_build_1000", |b| b.iter(|| black_box(KeyTable::new(f.keys.clone()))));
    g.finish();

    let mut g = c.benchmark_group("signer_vector");
    let v = &f.aggregates[0].0;
    let bytes = v.encode();
    g.bench_function("encode_1000", |b| b.iter(|| black_box(v.encode())));
    g.bench_function("decode_1000", |b| {
        b.iter(|| black_box(SignerVector::decode(black_box(&bytes), N, 4096).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
