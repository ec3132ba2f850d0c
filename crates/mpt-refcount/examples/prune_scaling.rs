//! How prune cost per changed key scales with the state size.
//!
//! For each state size n (default 10^4, 10^5, 10^6 accounts; pass sizes as arguments to
//! change them), builds a committed state, then runs rounds of `K` random account updates
//! → commit → apply → prune of the previous root, and prints per changed key: prune time (median round),
//! nodes deleted, surviving nodes decremented, and prune time per touched node. It also
//! prints the model's expectation for the nodes unique to the pruned root.
//!
//! ```text
//! cargo run --release -p mpt-refcount --example prune_scaling [-- N ...] [--k K] [--rounds R]
//! ```
//!
//! Every figure is measured with `Instant` around the `prune` call only, through one
//! [`Bookkeeper`] kept across rounds (as a node keeps one).
#![allow(clippy::disallowed_methods, clippy::print_stdout)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use mpt_refcount::synthetic::{Updates, account_key, account_value};
use mpt_refcount::{Bookkeeper, Error, MemoryStore, Trie};

struct Row {
    n: u64,
    per_round: Vec<Duration>,
    deleted: usize,
    decremented: usize,
    keys: usize,
}

fn run(n: u64, k: usize, rounds: usize) -> Result<Row, Error> {
    let mut store = MemoryStore::new();
    let mut trie = Trie::new();
    for i in 0..n {
        trie.insert(&store, &account_key(i), &account_value(i, 0))?;
    }
    // One bookkeeper for the whole run, as a node that commits every block would keep.
    let mut books = Bookkeeper::new();
    let cs = trie.commit();
    books.apply(&mut store, &cs)?;
    let mut root = cs.root();
    let mut rng = Updates::new(0x9e37_79b9 ^ n, n);
    let mut row = Row { n, per_round: Vec::new(), deleted: 0, decremented: 0, keys: 0 };
    // Two warm-up rounds, not counted.
    for round in 1..=rounds + 2 {
        for _ in 0..k {
            let i = rng.next_account();
            trie.insert(&store, &account_key(i), &account_value(i, round as u64))?;
        }
        let cs = trie.commit();
        books.apply(&mut store, &cs)?;
        let start = Instant::now();
        let stats = books.prune(&mut store, root)?;
        let took = start.elapsed();
        root = cs.root();
        if round > 2 {
            row.per_round.push(took);
            row.deleted += stats.deleted;
            row.decremented += stats.decremented;
            row.keys += k;
        }
    }
    Ok(row)
}

fn main() -> ExitCode {
    let mut sizes = Vec::new();
    let mut k = 1_000usize;
    let mut rounds = 40usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let parsed = match a.as_str() {
            "--k" => args.next().and_then(|v| v.parse().ok()).map(|v| k = v),
            "--rounds" => args.next().and_then(|v| v.parse().ok()).map(|v| rounds = v),
            other => other.parse().ok().map(|v| sizes.push(v)),
        };
        if parsed.is_none() {
            eprintln!("usage: prune_scaling [N ...] [--k K] [--rounds R]");
            return ExitCode::FAILURE;
        }
    }
    if sizes.is_empty() {
        sizes = vec![10_000, 100_000, 1_000_000];
    }
    println!("k = {k} updates per round, {rounds} rounds per size");
    println!(
        "| accounts | prune µs / key (median round) | deleted / key | decremented / key | ns / touched node |"
    );
    println!("|---:|---:|---:|---:|---:|");
    let mut first: Option<f64> = None;
    for n in sizes {
        let row = match run(n, k, rounds) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("n = {n}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let keys = row.keys as f64;
        let mut sorted = row.per_round.clone();
        sorted.sort_unstable();
        // The median round, robust to a noisy neighbour on a shared machine.
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
        let per_key = median.as_secs_f64() * 1e6 / k as f64;
        let per_touched =
            median.as_secs_f64() * 1e9 * row.per_round.len() as f64 / (row.deleted + row.decremented) as f64;
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.0} |",
            row.n,
            per_key,
            row.deleted as f64 / keys,
            row.decremented as f64 / keys,
            per_touched
        );
        let base = *first.get_or_insert(per_key);
        let total: Duration = row.per_round.iter().sum();
        let mean = total.as_secs_f64() * 1e6 / keys;
        let max = sorted.last().copied().unwrap_or_default().as_secs_f64() * 1e6 / k as f64;
        eprintln!(
            "  n = {}: median prune per key is {:.2}x the first size's; mean {mean:.2} µs, slowest round {max:.2} µs per key",
            row.n,
            per_key / base
        );
    }
    ExitCode::SUCCESS
}
