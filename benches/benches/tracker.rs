//! tracker-geo: the ranked k = 20 candidate query at 10^4, 10^5 and 10^6 peers, side by
//! side with the raw 20-nearest query of the tracker's own spatial index alone
//! (`SphereIndex`, the floor), the raw 20-nearest queries of `kiddo` 6 (mutable k-d tree)
//! and `rstar` (R*-tree) over the same points (the crates it was chosen over), and a
//! brute-force scan (the naive baseline); a heartbeat refresh; a join+leave.
//! p50/p99 latencies and memory per peer come from
//! `cargo run --release -p tracker-geo --example query_latency`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use primitives::Timestamp;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::num::NonZero;

use kiddo::{MutableKdTree, SquaredEuclidean};
use rstar::RTree;
use tracker_geo::geo::chord2;
use tracker_geo::index::SphereIndex;
use tracker_geo::{Asn, GeoPoint, PeerId, PeerInfo, Query, StreamId, Tracker};

const K: usize = 20;

fn build(points: &[GeoPoint]) -> Tracker {
    tracker_geo::synthetic::populated_tracker(points).unwrap()
}

fn queries(seed: u64) -> Vec<GeoPoint> {
    tracker_geo::synthetic::clustered_population(1024, seed)
}

fn query(c: &mut Criterion) {
    let mut group = c.benchmark_group("tracker_query_k20");
    group.sample_size(30);
    for n in [10_000usize, 100_000, 1_000_000] {
        let points = tracker_geo::synthetic::clustered_population(n, 1);
        let mut tracker = build(&points);
        let raw: RTree<[f32; 3]> = points.iter().fold(RTree::new(), |mut t, p| {
            t.insert(p.to_unit());
            t
        });
        let flat: Vec<[f32; 3]> = points.iter().map(GeoPoint::to_unit).collect();
        let mut own = SphereIndex::new();
        for (j, p) in flat.iter().enumerate() {
            own.insert(*p, j as u32).unwrap();
        }
        // kiddo's mutable tree refuses a bucket of points sharing one value on the split
        // axis; this synthetic population has none (random f64 coordinates).
        let mut kd: MutableKdTree<f32, 3> = MutableKdTree::default();
        for (j, p) in flat.iter().enumerate() {
            kd.add(p, j as u32).unwrap();
        }
        let qs = queries(2);
        let mut out = Vec::with_capacity(K);
        let mut i = 0usize;
        group.bench_with_input(BenchmarkId::new("ranked_tracker", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) % qs.len();
                let q =
                    Query { stream: StreamId(0), location: qs[i], asn: Some(Asn(3)), k: K, exclude: None };
                tracker.query_into(Timestamp(1), black_box(&q), &mut out).unwrap();
                black_box(out.len())
            })
        });
        let mut i = 0usize;
        let mut near = Vec::with_capacity(K);
        group.bench_with_input(BenchmarkId::new("sphere_index_raw_nn", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) % qs.len();
                own.nearest_into(black_box(&qs[i].to_unit()), K, &mut near).unwrap();
                black_box(near.len())
            })
        });
        let mut i = 0usize;
        let k = NonZero::new(K).unwrap();
        group.bench_with_input(BenchmarkId::new("kiddo_raw_nn", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) % qs.len();
                black_box(
                    kd.query(black_box(&qs[i].to_unit()))
                        .nearest_n::<SquaredEuclidean<f32>>(k)
                        .execute()
                        .len(),
                )
            })
        });
        let mut i = 0usize;
        group.bench_with_input(BenchmarkId::new("rstar_raw_nn", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) % qs.len();
                black_box(raw.nearest_neighbor_iter(black_box(qs[i].to_unit())).take(K).count())
            })
        });
        let mut i = 0usize;
        let mut scratch: Vec<(f32, u32)> = Vec::with_capacity(n);
        group.bench_with_input(BenchmarkId::new("brute_force_scan", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) % qs.len();
                let q = qs[i].to_unit();
                scratch.clear();
                scratch.extend(flat.iter().enumerate().map(|(j, p)| (chord2(p, &q), j as u32)));
                scratch.select_nth_unstable_by(K - 1, |a, b| a.0.total_cmp(&b.0));
                scratch.truncate(K);
                scratch.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
                black_box(scratch[0])
            })
        });
    }
    group.finish();
}

fn maintenance(c: &mut Criterion) {
    let mut group = c.benchmark_group("tracker_maintenance");
    for n in [10_000usize, 100_000, 1_000_000] {
        let points = tracker_geo::synthetic::clustered_population(n, 1);
        let mut tracker = build(&points);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut now = 1u64;
        group.bench_with_input(BenchmarkId::new("heartbeat", n), &n, |b, _| {
            b.iter(|| {
                now += 1;
                let id = PeerId(rng.random_range(0..n as u64));
                tracker.heartbeat(Timestamp(now), black_box(id)).unwrap();
            })
        });
        let extra = tracker_geo::synthetic::clustered_population(1024, 9);
        let mut j = 0usize;
        group.bench_with_input(BenchmarkId::new("join_then_leave", n), &n, |b, _| {
            b.iter(|| {
                now += 1;
                j = (j + 1) % extra.len();
                let info = PeerInfo {
                    id: PeerId(u64::MAX - 1),
                    stream: StreamId(0),
                    location: extra[j],
                    ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                    asn: Asn(1),
                    upload_kbps: 1000,
                };
                tracker.join(Timestamp(now), info).unwrap();
                tracker.leave(PeerId(u64::MAX - 1)).unwrap();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, query, maintenance);
criterion_main!(benches);
