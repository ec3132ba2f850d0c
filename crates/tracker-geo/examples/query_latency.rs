//! Per-call latency percentiles of the ranked k = 20 query, the raw 20-NN query of the
//! tracker's spatial index alone ([`tracker_geo::index::SphereIndex`], the floor) over the
//! same points, and a heartbeat, plus memory per peer (the tracker's own
//! estimate and the resident-set growth measured from `/proc/self/status`).
//!
//! `cargo run --release -p tracker-geo --example query_latency [peers...]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)]

use std::hint::black_box;
use std::time::Instant;

use primitives::Timestamp;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tracker_geo::index::SphereIndex;
use tracker_geo::{Asn, PeerId, Query, StreamId};

const K: usize = 20;

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn percentiles(mut ns: Vec<u64>) -> (f64, f64, f64) {
    ns.sort_unstable();
    let at = |q: f64| ns[((ns.len() as f64 * q) as usize).min(ns.len() - 1)] as f64 / 1000.0;
    (at(0.5), at(0.99), at(0.999))
}

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|s| s.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![10_000, 100_000, 1_000_000] } else { sizes };
    println!("| peers | op | p50 µs | p99 µs | p99.9 µs |");
    println!("|---|---|---|---|---|");
    for n in sizes {
        let points = tracker_geo::synthetic::clustered_population(n, 1);
        let before = rss_bytes();
        let mut t = tracker_geo::synthetic::populated_tracker(&points).unwrap();
        let rss = rss_bytes().saturating_sub(before);
        let mut raw = SphereIndex::new();
        for (i, p) in points.iter().enumerate() {
            raw.insert(p.to_unit(), i as u32).unwrap();
        }
        let mut raw_out = Vec::with_capacity(K);
        let mut out = Vec::with_capacity(K);
        let sets = [
            ("viewers elsewhere", tracker_geo::synthetic::clustered_population(100_000, 2)),
            ("viewers in the peers' cities", tracker_geo::synthetic::viewers_in_cities(100_000, 1, 2)),
        ];
        for (name, qs) in sets {
            // Warm up, then time each call.
            for q in qs.iter().take(10_000) {
                let query =
                    Query { stream: StreamId(0), location: *q, asn: Some(Asn(3)), k: K, exclude: None };
                t.query_into(Timestamp(1), &query, &mut out).unwrap();
            }
            let mut ranked = Vec::with_capacity(qs.len());
            let mut floor = Vec::with_capacity(qs.len());
            for q in &qs {
                let query =
                    Query { stream: StreamId(0), location: *q, asn: Some(Asn(3)), k: K, exclude: None };
                let s = Instant::now();
                t.query_into(Timestamp(1), black_box(&query), &mut out).unwrap();
                ranked.push(s.elapsed().as_nanos() as u64);
                black_box(out.len());
                let p = q.to_unit();
                let s = Instant::now();
                raw.nearest_into(black_box(&p), K, &mut raw_out).unwrap();
                floor.push(s.elapsed().as_nanos() as u64);
                black_box(raw_out.len());
            }
            let (r50, r99, r999) = percentiles(ranked);
            let (f50, f99, f999) = percentiles(floor);
            println!("| {n} | {name}: ranked tracker query k=20 | {r50:.2} | {r99:.2} | {r999:.2} |");
            println!("| {n} | {name}: raw SphereIndex 20-NN (floor) | {f50:.2} | {f99:.2} | {f999:.2} |");
            println!("| {n} | {name}: ratio ranked/raw p50 = {:.2}x | | | |", r50 / f50);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut hb = Vec::with_capacity(100_000);
        for now in 2..100_002u64 {
            let id = PeerId(rng.random_range(0..n as u64));
            let s = Instant::now();
            t.heartbeat(Timestamp(now), black_box(id)).unwrap();
            hb.push(s.elapsed().as_nanos() as u64);
        }
        let (h50, h99, h999) = percentiles(hb);
        println!("| {n} | heartbeat | {h50:.2} | {h99:.2} | {h999:.2} |");
        println!(
            "| {n} | memory: estimate {:.0} B/peer, RSS growth {:.0} B/peer | | | |",
            t.memory_bytes() as f64 / n as f64,
            rss as f64 / n as f64
        );
    }
}
