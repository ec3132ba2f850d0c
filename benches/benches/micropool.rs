//! micropool: cheque verification and settlement throughput against the bare secp256k1
//! recovery they are built on (measured in the same run), and batch verification on
//! rayon pools of 1 and 2 threads (feature `parallel`).
//!
//! On a loaded machine criterion's separate groups drift apart; `paired_ratios` also
//! interleaves the operation with its baseline in short alternating blocks and prints
//! the median per-block rate ratio, which load drift cancels out of.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use meshcast_benches::paired;
use micropool::{
    Cheque, MemoryStore, PoolConfig, ReserveFund, ServicePayment, SignedCheque, Verified,
    placeholder_signature, reserve_fund, resource_id, settle, settle_verified, verify_batch,
};
use primitives::{H256, SecretKey, Signature, U256};

fn key(b: u8) -> SecretKey {
    SecretKey::from_bytes([b; 32]).unwrap()
}

fn cheque(src: &SecretKey, target: &SecretKey, amount: u64, seq: u64) -> SignedCheque {
    Cheque {
        source: src.address(),
        reserve_seq: 1,
        target: target.address(),
        resource_id: resource_id("stream/42"),
        amount: U256::from(amount),
        payment_seq: seq,
    }
    .sign(src, 1)
}

struct Fixture {
    cfg: PoolConfig,
    store: MemoryStore,
}

fn fixture() -> Fixture {
    let viewer = key(1);
    let cfg = PoolConfig::default();
    let mut store = MemoryStore::with_balances([(viewer.address(), U256::from(1_000_000u64))]);
    let reserve = ReserveFund {
        source: viewer.address(),
        reserve_seq: 1,
        resource_ids: vec![resource_id("stream/42")],
        deposit: U256::from(100_000u64),
        collateral: U256::from(100_001u64),
        duration: 300,
        fee: U256::zero(),
        signature: placeholder_signature(),
    }
    .signed(&viewer, 1);
    reserve_fund(&mut store, &cfg, 1, &reserve).unwrap();
    for i in 0..100u8 {
        let p = key(100 + i);
        settle(
            &mut store,
            &cfg,
            2,
            &ServicePayment::countersign(cheque(&viewer, &p, 100, 1), U256::zero(), &p, 1),
        )
        .unwrap();
    }
    Fixture { cfg, store }
}

/// `n` settlements paying one payee newer and newer cheques (pre-signed); the first one
/// covers the reserve's slot unit (98 for this deposit).
fn payment_stream(n: u64) -> Vec<ServicePayment> {
    let (viewer, peer) = (key(1), key(2));
    (1..=n)
        .map(|k| ServicePayment::countersign(cheque(&viewer, &peer, 100 + k, k), U256::zero(), &peer, 1))
        .collect()
}

/// The two `(signature, digest)` pairs a settlement checks, for the bare-recovery baseline.
///
/// The baseline recovers these same distinct signatures: recovering one signature over and
/// over flatters it, because libsecp256k1's multiplication tables are then always hot in
/// cache (it measured ~10% faster than recovering distinct signatures).
fn signature_checks(txs: &[ServicePayment]) -> Vec<[(Signature, H256); 2]> {
    txs.iter()
        .map(|t| {
            [(t.cheque.signature, t.cheque.cheque.signing_hash(1)), (t.target_signature, t.signing_hash(1))]
        })
        .collect()
}

fn recover(check: &(Signature, H256)) {
    black_box(black_box(&check.0).recover(black_box(&check.1)).unwrap());
}

fn paired_ratios(_: &mut Criterion) {
    let f = fixture();
    let (rounds, n) = (41, 200);
    let txs = payment_stream((rounds * n) as u64);
    let checks = signature_checks(&txs);
    let encoded: Vec<Vec<u8>> = txs.iter().map(|t| t.cheque.encode()).collect();
    let recover1 = |i: usize| recover(&checks[i][0]);
    let recover2 = |i: usize| checks[i].iter().for_each(recover);
    let verify = paired(rounds, n, recover1, |i| black_box(&txs[i].cheque).verify(1).unwrap());
    let decode_verify = paired(rounds, n, recover1, |i| {
        SignedCheque::decode(black_box(&encoded[i])).unwrap().verify(1).unwrap();
    });
    // Settlements on one store, each a newer cheque of the same payee.
    let mut store = f.store.clone();
    let mut next = txs.iter();
    let settle_vs_two = paired(rounds, n, recover2, |_| {
        settle(&mut store, &f.cfg, 3, black_box(next.next().unwrap())).unwrap();
    });
    // The rules alone, on payments whose signatures were checked beforehand.
    let verified: Vec<Verified<ServicePayment>> =
        txs.iter().map(|t| Verified::payment(t.clone(), 1).unwrap()).collect();
    let mut store = f.store.clone();
    let mut next = verified.iter();
    let rules_only = paired(rounds, n, recover2, |_| {
        settle_verified(&mut store, &f.cfg, 3, black_box(next.next().unwrap())).unwrap();
    });
    let pv = paired(rounds, n, recover2, |i| black_box(&txs[i]).verify(1).unwrap());
    // The flattering baseline, for comparison: one signature recovered over and over.
    let same = paired(rounds, n, recover1, |_| recover(&checks[0][0]));
    println!("paired/cheque_verify_rate_over_recover_rate          {verify:.3}");
    println!("paired/cheque_decode_verify_rate_over_recover_rate   {decode_verify:.3}");
    println!("paired/payment_verify_rate_over_2_recover_rate       {pv:.3}");
    println!("paired/settle_verified_rate_over_2_recover_rate      {rules_only:.3}");
    println!("paired/settle_rate_over_2_recover_rate               {settle_vs_two:.3}");
    println!("paired/repeated_recover_rate_over_distinct_recover   {same:.3}");
}

fn verification(c: &mut Criterion) {
    let txs = payment_stream(4000);
    let checks = signature_checks(&txs);

    let mut g = c.benchmark_group("micropool_verify");
    g.throughput(Throughput::Elements(1));
    g.bench_function("bare_secp256k1_recover", |b| {
        b.iter_custom(|iters| stream(iters, checks.len(), |i| recover(&checks[i][0])))
    });
    g.bench_function("cheque_verify", |b| {
        b.iter_custom(|iters| stream(iters, txs.len(), |i| black_box(&txs[i].cheque).verify(1).unwrap()))
    });
    g.finish();

    // Settlement: both signatures (source's cheque, payee's countersignature), the
    // record lookup, the rules and the writes, on a store with one reserve and 100 payees,
    // over a stream of distinct settlements as a node processes them in a block.
    let Fixture { cfg, store, .. } = fixture();
    let mut g = c.benchmark_group("micropool_settle");
    g.throughput(Throughput::Elements(1));
    g.bench_function("bare_secp256k1_recover_x2", |b| {
        b.iter_custom(|iters| stream(iters, checks.len(), |i| checks[i].iter().for_each(recover)))
    });
    g.bench_function("settle", |b| {
        b.iter_custom(|iters| {
            // Each pass over the pre-signed stream starts on a fresh copy (untimed).
            let mut total = Duration::ZERO;
            let mut left = iters as usize;
            while left > 0 {
                let m = left.min(txs.len());
                let mut s = store.clone();
                let start = Instant::now();
                for tx in &txs[..m] {
                    settle(&mut s, &cfg, 3, black_box(tx)).unwrap();
                }
                total += start.elapsed();
                left -= m;
            }
            total
        })
    });
    g.finish();
}

/// Times `iters` calls of `op(i)`, `i` cycling through `0..len`.
fn stream(iters: u64, len: usize, mut op: impl FnMut(usize)) -> Duration {
    let start = Instant::now();
    for k in 0..iters as usize {
        op(k % len);
    }
    start.elapsed()
}

fn batch(c: &mut Criterion) {
    let viewer = key(1);
    let cheques: Vec<SignedCheque> = (0..256u64).map(|i| cheque(&viewer, &key(2), i + 1, i + 1)).collect();
    let mut g = c.benchmark_group("micropool_batch_verify_256");
    g.throughput(Throughput::Elements(cheques.len() as u64));
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        g.bench_function(format!("rayon_{threads}_threads"), |b| {
            b.iter(|| pool.install(|| verify_batch(black_box(&cheques), 1)))
        });
    }
    g.finish();
}

criterion_group!(benches, paired_ratios, verification, batch);
criterion_main!(benches);
