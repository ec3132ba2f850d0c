//! mpt-refcount against the well-known Rust MPT crates, in the same process:
//!
//! * `mpt_commit_1000_updates`: 1,000 random updates of existing accounts, then the new
//!   root — ours (update + commit + apply into the refcounted store) against `eth_trie`
//!   (update + `root_hash`, which commits into its memory DB), on 10^4 and 10^5 accounts
//!   (10^6 with `MPT_BENCH_1M=1`).
//! * `mpt_prune_1000_updates`: pruning the previous root after such a commit (throughput
//!   is per changed key; apply and prune go through one `Bookkeeper` kept across rounds),
//!   against the mark phase of a mark-and-sweep collector (the naive
//!   baseline, O(n)).
//! * `mpt_root_fresh`: the root of N fresh keys (10^5; set `MPT_BENCH_FRESH_N=1000000`),
//!   hashed sequentially and with rayon, and alloy-trie's `HashBuilder` over the same
//!   sorted leaves.
//! * Store overhead per live node is printed once (not a timing).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use eth_trie::{EthTrie, MemoryDB, Trie as _};
use mpt_refcount::synthetic::{Updates, account_key, account_value};
use mpt_refcount::{Bookkeeper, Hashing, MemoryStore, Trie};

const UPDATES: usize = 1_000;

fn sizes() -> Vec<u64> {
    let mut s = vec![10_000, 100_000];
    if std::env::var("MPT_BENCH_1M").is_ok() {
        s.push(1_000_000);
    }
    s
}

struct Ours {
    trie: Trie,
    store: MemoryStore,
    /// Kept across rounds, as a node that commits every block keeps one.
    books: Bookkeeper,
    root: primitives::H256,
    pruned: PruneTotals,
}

/// What the prunes of all rounds touched.
#[derive(Default)]
struct PruneTotals {
    rounds: usize,
    deleted: usize,
    decremented: usize,
}

fn build_ours(n: u64) -> Ours {
    let mut store = MemoryStore::new();
    let mut trie = Trie::new();
    for i in 0..n {
        trie.insert(&store, &account_key(i), &account_value(i, 0)).unwrap();
    }
    let cs = trie.commit();
    let mut books = Bookkeeper::new();
    books.apply(&mut store, &cs).unwrap();
    Ours { trie, store, books, root: cs.root(), pruned: PruneTotals::default() }
}

fn build_eth(n: u64) -> EthTrie<MemoryDB> {
    let mut t = EthTrie::new(Arc::new(MemoryDB::new(true)));
    for i in 0..n {
        t.insert(&account_key(i), &account_value(i, 0)).unwrap();
    }
    t.root_hash().unwrap();
    t
}

/// One round of updates + commit + apply on ours; returns (commit time, prune time) and
/// adds the prune's node counts to `o.pruned`.
fn ours_round(o: &mut Ours, rng: &mut Updates, round: u64) -> (Duration, Duration) {
    let start = Instant::now();
    for _ in 0..UPDATES {
        let i = rng.next_account();
        o.trie.insert(&o.store, &account_key(i), &account_value(i, round)).unwrap();
    }
    let cs = o.trie.commit();
    o.books.apply(&mut o.store, &cs).unwrap();
    let commit = start.elapsed();
    let start = Instant::now();
    let stats = o.books.prune(&mut o.store, o.root).unwrap();
    let pruned = start.elapsed();
    o.pruned.rounds += 1;
    o.pruned.deleted += stats.deleted;
    o.pruned.decremented += stats.decremented;
    o.root = cs.root();
    (commit, pruned)
}

/// `iters` rounds; total (commit, prune) time.
fn rounds(o: &mut Ours, rng: &mut Updates, round: &mut u64, iters: u64) -> (Duration, Duration) {
    let mut total = (Duration::ZERO, Duration::ZERO);
    for _ in 0..iters {
        *round += 1;
        let (c, p) = ours_round(o, rng, *round);
        total.0 += c;
        total.1 += p;
    }
    total
}

fn commit_and_prune(c: &mut Criterion) {
    for n in sizes() {
        let mut ours = build_ours(n);
        let mut eth = build_eth(n);
        assert_eq!(ours.root.as_bytes(), eth.root_hash().unwrap().as_slice(), "same state, same root");
        let mut round = 1u64;
        let mut rng = Updates::new(0x1234_5678 ^ n, n);

        let mut group = c.benchmark_group("mpt_commit_1000_updates");
        group.sample_size(10);
        group.throughput(Throughput::Elements(UPDATES as u64));
        group.bench_function(BenchmarkId::new("mpt-refcount", n), |b| {
            b.iter_custom(|iters| rounds(&mut ours, &mut rng, &mut round, iters).0)
        });
        group.bench_function(BenchmarkId::new("eth_trie", n), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    round += 1;
                    for _ in 0..UPDATES {
                        let i = rng.next_account();
                        eth.insert(&account_key(i), &account_value(i, round)).unwrap();
                    }
                    black_box(eth.root_hash().unwrap());
                }
                start.elapsed()
            })
        });
        group.finish();

        let mut group = c.benchmark_group("mpt_prune_1000_updates");
        group.sample_size(10);
        group.throughput(Throughput::Elements(UPDATES as u64));
        group.bench_function(BenchmarkId::new("mpt-refcount", n), |b| {
            b.iter_custom(|iters| rounds(&mut ours, &mut rng, &mut round, iters).1)
        });
        // The naive alternative to refcounts: mark-and-sweep from the live root. Its mark
        // phase alone visits every live node, O(n), whatever k is.
        group.bench_function(BenchmarkId::new("mark_sweep_gc_baseline", n), |b| {
            b.iter(|| black_box(reachable_nodes(&ours.store, ours.root)))
        });
        group.finish();
        // The store holds exactly one state: no leak across all the rounds.
        let reachable = reachable_nodes(&ours.store, ours.root);
        println!(
            "mpt-refcount n={n}: {} stored nodes after {round} rounds, {reachable} reachable from the one retained root",
            ours.store.len()
        );
        assert_eq!(ours.store.len(), reachable);
        let keys = (ours.pruned.rounds * UPDATES) as f64;
        println!(
            "mpt-refcount n={n}: prune touched, per changed key, {:.2} deleted + {:.2} decremented nodes",
            ours.pruned.deleted as f64 / keys,
            ours.pruned.decremented as f64 / keys
        );
    }
}

fn reachable_nodes(store: &MemoryStore, root: primitives::H256) -> usize {
    use mpt_refcount::NodeStore;
    let mut seen = std::collections::BTreeSet::new();
    let mut stack = vec![root];
    while let Some(h) = stack.pop() {
        if seen.insert(h) {
            let bytes = store.node(&h).unwrap().unwrap();
            mpt_refcount::codec::decode_node(&bytes).unwrap().for_each_hash(|c| stack.push(c));
        }
    }
    seen.len()
}

fn overhead(_c: &mut Criterion) {
    let o = build_ours(100_000);
    let nodes = o.store.len();
    let payload = o.store.payload_bytes();
    let rc = MemoryStore::REFCOUNT_BYTES_PER_NODE;
    // MemoryStore entry: 32-byte key + boxed-slice header (16) + u32 count padded to 8.
    let entry = 32 + 16 + 8;
    println!(
        "store overhead, 10^5 accounts: {nodes} live nodes, {:.1} payload bytes/node; refcount bookkeeping {rc} B/node \
         ({} B with alignment in MemoryStore's entry) + 36 B per retained root (hash + u32 retention count); whole entry {entry} B/node + payload",
        payload as f64 / nodes as f64,
        8
    );
}

fn root_fresh(c: &mut Criterion) {
    let n: u64 = std::env::var("MPT_BENCH_FRESH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let store = MemoryStore::new();
    let build = || {
        let mut t = Trie::new();
        for i in 0..n {
            t.insert(&store, &account_key(i), &account_value(i, 0)).unwrap();
        }
        t
    };
    let mut sorted: Vec<([u8; 32], Vec<u8>)> =
        (0..n).map(|i| (account_key(i), account_value(i, 0))).collect();
    sorted.sort_unstable_by_key(|e| e.0);
    let mut group = c.benchmark_group("mpt_root_fresh");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n));
    for (name, hashing) in [("sequential", Hashing::Sequential), ("parallel", Hashing::Parallel)] {
        group.bench_function(BenchmarkId::new(name, n), |b| {
            b.iter_batched_ref(build, |t| black_box(t.root_hash_with(hashing)), BatchSize::PerIteration)
        });
    }
    group.bench_function(BenchmarkId::new("alloy_hash_builder", n), |b| {
        b.iter(|| {
            let mut hb = alloy_trie::HashBuilder::default();
            for (k, v) in &sorted {
                hb.add_leaf(alloy_trie::Nibbles::unpack(k), v);
            }
            black_box(hb.root())
        })
    });
    group.bench_function(BenchmarkId::new("insert_and_hash_sequential", n), |b| {
        b.iter(|| black_box(build().root_hash_with(Hashing::Sequential)))
    });
    group.finish();
}

criterion_group!(benches, overhead, commit_and_prune, root_fresh);
criterion_main!(benches);
