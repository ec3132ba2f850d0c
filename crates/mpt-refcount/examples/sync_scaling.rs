//! State sync cost per account as the state grows.
//!
//! For each state size n (default 10^4, 10^5, 10^6 accounts; pass sizes as arguments to
//! change them), builds a committed state of `synthetic` accounts, then times, once each:
//!
//! * **export**: `SnapshotWriter` producing every record (chunks of `--leaves` leaves,
//!   default 4,096, records of at most 1 MiB), including its counting pass;
//! * **import**: `SnapshotReader` decoding and verifying every record and
//!   `finish` writing the trie into an empty `MemoryStore`;
//! * **baseline**: decoding the same records and `insert`ing every leaf into a `Trie`,
//!   then `commit_to` an empty store and a root check (no proof verified);
//!
//! and prints a markdown table (ms, and µs per account), with the snapshot's size.
//!
//! ```text
//! cargo run --release -p mpt-refcount --example sync_scaling [-- N ...] [--leaves L]
//! ```
#![allow(clippy::disallowed_methods, clippy::print_stdout)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use mpt_refcount::synthetic::{account_key, account_value};
use mpt_refcount::{
    MemoryStore, Record, SnapshotLimits, SnapshotReader, SnapshotWriter, SyncError, Trie, decode_record,
};

struct Row {
    n: u64,
    records: usize,
    bytes: usize,
    export: Duration,
    import: Duration,
    baseline: Duration,
}

fn run(n: u64, leaves: usize) -> Result<Row, SyncError> {
    let mut source = MemoryStore::new();
    let mut trie = Trie::new();
    for i in 0..n {
        trie.insert(&source, &account_key(i), &account_value(i, 0))?;
    }
    let (root, _) = trie.commit_to(&mut source)?;
    drop(trie);

    let t = Instant::now();
    let records: Vec<Vec<u8>> =
        SnapshotWriter::new(&source, root, leaves, 1 << 20)?.collect::<Result<_, _>>()?;
    let export = t.elapsed();

    let t = Instant::now();
    let mut reader = SnapshotReader::new(root, SnapshotLimits::default());
    for r in &records {
        reader.push(r)?;
    }
    let mut imported = MemoryStore::new();
    reader.finish(&mut imported)?;
    let import = t.elapsed();
    if imported.nodes() != source.nodes() {
        return Err(SyncError::RangeShape { reason: "imported store differs from the source" });
    }
    drop(imported);

    let t = Instant::now();
    let limits = SnapshotLimits::default();
    let mut plain = MemoryStore::new();
    let mut trie = Trie::new();
    for r in &records {
        if let Record::Chunk(c) = decode_record(r, &limits)? {
            for (k, v) in &c.leaves {
                trie.insert(&plain, k, v)?;
            }
        }
    }
    let (got, _) = trie.commit_to(&mut plain)?;
    let baseline = t.elapsed();
    if got != root {
        return Err(SyncError::RootMismatch { expected: root, computed: got });
    }
    Ok(Row { n, records: records.len(), bytes: records.iter().map(Vec::len).sum(), export, import, baseline })
}

fn main() -> ExitCode {
    let mut sizes = Vec::new();
    let mut leaves = 4096;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--leaves" {
            match args.next().and_then(|v| v.parse().ok()) {
                Some(l) => leaves = l,
                None => {
                    eprintln!("--leaves needs a number");
                    return ExitCode::FAILURE;
                }
            }
        } else if let Ok(n) = a.parse() {
            sizes.push(n);
        } else {
            eprintln!("usage: sync_scaling [N ...] [--leaves L]");
            return ExitCode::FAILURE;
        }
    }
    if sizes.is_empty() {
        sizes = vec![10_000, 100_000, 1_000_000];
    }
    println!(
        "| accounts | records | bytes / account | export ms | µs / acct | import ms | µs / acct | baseline ms | µs / acct | import / baseline |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for n in sizes {
        match run(n, leaves) {
            Ok(r) => {
                let per = |d: Duration| d.as_secs_f64() * 1e6 / r.n as f64;
                println!(
                    "| {} | {} | {:.1} | {:.1} | {:.2} | {:.1} | {:.2} | {:.1} | {:.2} | {:.2}x |",
                    r.n,
                    r.records,
                    r.bytes as f64 / r.n as f64,
                    r.export.as_secs_f64() * 1e3,
                    per(r.export),
                    r.import.as_secs_f64() * 1e3,
                    per(r.import),
                    r.baseline.as_secs_f64() * 1e3,
                    per(r.baseline),
                    r.import.as_secs_f64() / r.baseline.as_secs_f64(),
                );
            }
            Err(e) => {
                eprintln!("n = {n}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
