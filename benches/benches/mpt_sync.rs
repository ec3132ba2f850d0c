//! State sync of `mpt-refcount` against the unverified way of doing the same, in the
//! same process, on N synthetic accounts (`mpt_refcount::synthetic`, 32-byte keys, 72-byte
//! values; N = 10^5, or `MPT_SYNC_BENCH_N`):
//!
//! * `mpt_sync_export`: `SnapshotWriter` (a counting pass for the header, then every
//!   chunk of 4,096 leaves with its two proof paths, encoded) against the baseline
//!   `Trie::entries` (the leaves alone, no proofs, no encoding).
//! * `mpt_sync_import`: `SnapshotReader` + `SyncImporter` (decode, verify every chunk's
//!   range proof, rebuild, one apply into an empty store) against the baseline: decode
//!   the same records, `insert` every leaf into a `Trie`, `commit_to` an empty store and
//!   compare the root (no proof is checked).
//!
//! 10^6 accounts: `cargo run --release -p mpt-refcount --example sync_scaling`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mpt_refcount::synthetic::{account_key, account_value};
use mpt_refcount::{
    H256, MemoryStore, Record, SnapshotLimits, SnapshotReader, SnapshotWriter, Trie, decode_record,
};

const CHUNK_LEAVES: usize = 4096;
const RECORD_BYTES: usize = 1 << 20;

fn n() -> u64 {
    std::env::var("MPT_SYNC_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000)
}

fn source(n: u64) -> (MemoryStore, H256) {
    let mut store = MemoryStore::new();
    let mut trie = Trie::new();
    for i in 0..n {
        trie.insert(&store, &account_key(i), &account_value(i, 0)).unwrap();
    }
    let (root, _) = trie.commit_to(&mut store).unwrap();
    (store, root)
}

fn export(store: &MemoryStore, root: H256) -> Vec<Vec<u8>> {
    SnapshotWriter::new(store, root, CHUNK_LEAVES, RECORD_BYTES).unwrap().collect::<Result<_, _>>().unwrap()
}

fn verified_import(root: H256, records: &[Vec<u8>]) -> MemoryStore {
    let mut reader = SnapshotReader::new(root, SnapshotLimits::default());
    for r in records {
        reader.push(r).unwrap();
    }
    let mut store = MemoryStore::new();
    reader.finish(&mut store).unwrap();
    store
}

fn insert_import(root: H256, records: &[Vec<u8>]) -> MemoryStore {
    let limits = SnapshotLimits::default();
    let mut store = MemoryStore::new();
    let mut trie = Trie::new();
    for r in records {
        if let Record::Chunk(c) = decode_record(r, &limits).unwrap() {
            for (k, v) in &c.leaves {
                trie.insert(&store, k, v).unwrap();
            }
        }
    }
    let (got, _) = trie.commit_to(&mut store).unwrap();
    assert_eq!(got, root);
    store
}

fn sync(c: &mut Criterion) {
    let n = n();
    let (store, root) = source(n);
    let records = export(&store, root);
    let bytes: usize = records.iter().map(Vec::len).sum();
    println!(
        "mpt_sync: {n} accounts, {} records, {bytes} bytes ({:.1} bytes per account)",
        records.len(),
        bytes as f64 / n as f64
    );
    assert_eq!(verified_import(root, &records).nodes(), store.nodes());

    let mut group = c.benchmark_group("mpt_sync_export");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n));
    group.bench_function(BenchmarkId::new("snapshot_writer", n), |b| {
        b.iter(|| black_box(export(&store, root)))
    });
    group.bench_function(BenchmarkId::new("baseline_entries", n), |b| {
        b.iter(|| black_box(Trie::from_root(root).entries(&store).unwrap()))
    });
    group.finish();

    let mut group = c.benchmark_group("mpt_sync_import");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n));
    group.bench_function(BenchmarkId::new("verified_import", n), |b| {
        b.iter(|| black_box(verified_import(root, &records)))
    });
    group.bench_function(BenchmarkId::new("baseline_insert_then_root", n), |b| {
        b.iter(|| black_box(insert_import(root, &records)))
    });
    group.finish();
}

criterion_group!(benches, sync);
criterion_main!(benches);
