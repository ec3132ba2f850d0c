//! Per-call latency percentiles of the ranked k = 20 query, the raw 20-NN query of the
//! tracker's spatial index alone ([`tracker_geo::index::SphereIndex`], the floor) over the
//! same points, and a heartbeat, plus memory per peer (the tracker's own
//! estimate and the resident-set growth measured from `/proc/self/status`).
//!
//! Then the delayed-expiry case (issue 19): the host has not called `expire()` and
//! 100,000 expired peers still crowd ten spots (10,000 each within ±0.05°) where the
//! viewers are. The ranked query skips them
//! and evicts at most `query_evictions` per call; `nearest` (the exact, unbounded
//! search the ranked query used before) is timed alongside for comparison.
//!
//! `cargo run --release -p tracker-geo --example query_latency [peers...]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)]

use std::hint::black_box;
use std::time::Instant;

use primitives::Timestamp;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tracker_geo::index::SphereIndex;
use tracker_geo::{Asn, PeerId, Query, StreamId, Tracker, TrackerConfig};

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
        delayed_expiry(n, &points);
    }
}

/// `n` live peers plus 100,000 expired ones in the viewers' cities, `expire()` never
/// called: per-call latency of the ranked query, and of the exact unbounded search.
fn delayed_expiry(n: usize, points: &[tracker_geo::GeoPoint]) {
    const STALE: usize = 100_000;
    let mut t = Tracker::new(TrackerConfig { ttl_ms: 1000, ..TrackerConfig::default() }).unwrap();
    let spots = tracker_geo::synthetic::viewers_in_cities(10, 1, 7);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut near_spot = |i: usize| {
        let c = spots[i % spots.len()];
        tracker_geo::GeoPoint::new(
            (c.lat() + rng.random_range(-0.05..0.05)).clamp(-90.0, 90.0),
            (c.lon() + rng.random_range(-0.05..0.05)).clamp(-180.0, 180.0),
        )
        .unwrap()
    };
    for i in 0..STALE {
        t.join(Timestamp(0), tracker_geo::synthetic::peer(n + i, near_spot(i))).unwrap();
    }
    for (i, p) in points.iter().enumerate() {
        t.join(Timestamp(500), tracker_geo::synthetic::peer(i, *p)).unwrap();
    }
    let qs: Vec<tracker_geo::GeoPoint> = (0..100_000).map(&mut near_spot).collect();
    let now = Timestamp(1200);
    // The exact search first (it evicts nothing), over the first 2,000 viewers.
    let mut exact = Vec::new();
    for q in qs.iter().take(2000) {
        let s = Instant::now();
        black_box(t.nearest(now, StreamId(0), *q, 30, None).len());
        exact.push(s.elapsed().as_nanos() as u64);
    }
    let mut ranked = Vec::with_capacity(qs.len());
    let mut out = Vec::with_capacity(K);
    let mut short = 0usize;
    let before = t.work();
    for q in &qs {
        let query = Query { stream: StreamId(0), location: *q, asn: Some(Asn(3)), k: K, exclude: None };
        let s = Instant::now();
        t.query_into(now, black_box(&query), &mut out).unwrap();
        ranked.push(s.elapsed().as_nanos() as u64);
        short += usize::from(out.len() < K);
    }
    let w = t.work().since(&before);
    let max = ranked.iter().max().copied().unwrap_or(0) as f64 / 1000.0;
    let first: Vec<u64> = ranked[..2000].to_vec();
    let (e50, e99, e999) = percentiles(exact);
    let (f50, f99, f999) = percentiles(first);
    let (r50, r99, r999) = percentiles(ranked);
    println!(
        "| {n} + {STALE} expired | exact nearest k=30 (the old query's search), first 2,000 | {e50:.2} | {e99:.2} | {e999:.2} |"
    );
    println!("| {n} + {STALE} expired | ranked query k=20, first 2,000 | {f50:.2} | {f99:.2} | {f999:.2} |");
    println!(
        "| {n} + {STALE} expired | ranked query k=20, all 100,000 (max {max:.1} µs) | {r50:.2} | {r99:.2} | {r999:.2} |"
    );
    println!(
        "| {n} + {STALE} expired | per query: {:.1} entries examined, {:.2} searches, {:.2} evictions; {short} answers short of k | | | |",
        w.examined as f64 / w.queries as f64,
        w.searches as f64 / w.queries as f64,
        w.evicted as f64 / w.queries as f64,
    );
    let gone = t.expire(now).unwrap();
    assert_eq!(gone.len(), STALE, "every expired peer is still reported by expire()");
}
