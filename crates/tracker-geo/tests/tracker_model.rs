//! Model-based properties of the tracker: after any sequence of joins, heartbeats,
//! leaves, expiries and clock advances, its k-nearest answer equals a brute-force scan
//! over a plain map, and no query ever returns an expired peer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use primitives::Timestamp;
use proptest::prelude::*;
use tracker_geo::geo::chord2;
use tracker_geo::{
    Asn, Error, GeoPoint, PeerId, PeerInfo, Query, RankWeights, StreamId, Tracker, TrackerConfig,
};

const TTL: u64 = 100;

#[derive(Clone, Debug)]
enum Op {
    Join { id: u64, stream: u64, lat: i32, lon: i32 },
    Heartbeat { id: u64 },
    Leave { id: u64 },
    Expire,
    Advance { ms: u64 },
    Query { stream: u64, lat: i32, lon: i32, k: usize, exclude: Option<u64> },
}

/// Coordinates on a coarse grid (15° steps) so identical points, the poles and the
/// antimeridian (both ±180) all occur.
fn point(lat: i32, lon: i32) -> GeoPoint {
    GeoPoint::new(f64::from(lat) * 15.0, f64::from(lon) * 15.0).unwrap()
}

/// Operations over `ids` peer ids; `join_weight` and `max_advance` (ms per clock step)
/// set how crowded the streams get.
fn op(ids: u64, join_weight: u32, max_advance: u64) -> impl Strategy<Value = Op> {
    prop_oneof![
        join_weight => (0..ids, 0u64..2, -6i32..=6, -12i32..=12).prop_map(|(id, stream, lat, lon)| Op::Join { id, stream, lat, lon }),
        3 => (0..ids).prop_map(|id| Op::Heartbeat { id }),
        1 => (0..ids).prop_map(|id| Op::Leave { id }),
        1 => Just(Op::Expire),
        2 => (0..max_advance).prop_map(|ms| Op::Advance { ms }),
        3 => (0u64..2, -6i32..=6, -12i32..=12, 1usize..40, proptest::option::of(0..ids))
            .prop_map(|(stream, lat, lon, k, exclude)| Op::Query { stream, lat, lon, k, exclude }),
    ]
}

#[derive(Clone, Copy)]
struct ModelPeer {
    stream: u64,
    p: [f32; 3],
    last_seen: u64,
}

fn info(id: u64, stream: u64, lat: i32, lon: i32) -> PeerInfo {
    PeerInfo {
        id: PeerId(id),
        stream: StreamId(stream),
        location: point(lat, lon),
        ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, id as u8)),
        asn: Asn((id % 3) as u32),
        upload_kbps: 1000 + 100 * id as u32,
    }
}

fn alive(m: &ModelPeer, now: u64) -> bool {
    now < m.last_seen + TTL
}

/// The k smallest squared chord distances among live peers of `stream`, brute force.
fn model_nearest(
    model: &BTreeMap<u64, ModelPeer>,
    now: u64,
    stream: u64,
    q: [f32; 3],
    k: usize,
    exclude: Option<u64>,
) -> Vec<f32> {
    let mut d: Vec<f32> = model
        .iter()
        .filter(|(id, m)| m.stream == stream && alive(m, now) && Some(**id) != exclude)
        .map(|(_, m)| chord2(&m.p, &q))
        .collect();
    d.sort_by(f32::total_cmp);
    d.truncate(k);
    d
}

fn check(ops: Vec<Op>, weights: RankWeights) -> Result<(), TestCaseError> {
    let config = TrackerConfig { ttl_ms: TTL, weights, ..Default::default() };
    let mut t = Tracker::new(config).unwrap();
    let mut model: BTreeMap<u64, ModelPeer> = BTreeMap::new();
    let mut now = 0u64;
    for op in ops {
        let ts = Timestamp(now);
        match op {
            Op::Join { id, stream, lat, lon } => {
                t.join(ts, info(id, stream, lat, lon)).unwrap();
                model.insert(id, ModelPeer { stream, p: point(lat, lon).to_unit(), last_seen: now });
            }
            Op::Heartbeat { id } => {
                let got = t.heartbeat(ts, PeerId(id));
                match model.get_mut(&id) {
                    Some(m) if alive(m, now) => {
                        prop_assert_eq!(got, Ok(()));
                        m.last_seen = now;
                    }
                    Some(_) => {
                        prop_assert_eq!(got, Err(Error::UnknownPeer(PeerId(id))));
                        model.remove(&id);
                    }
                    None => prop_assert_eq!(got, Err(Error::UnknownPeer(PeerId(id)))),
                }
            }
            Op::Leave { id } => {
                let got = t.leave(PeerId(id)).map(|i| i.id);
                let want = model.remove(&id).map(|_| PeerId(id)).ok_or(Error::UnknownPeer(PeerId(id)));
                prop_assert_eq!(got, want);
            }
            Op::Expire => {
                let mut got: Vec<u64> = t.expire(ts).unwrap().into_iter().map(|p| p.0).collect();
                let mut want: Vec<u64> =
                    model.iter().filter(|(_, m)| !alive(m, now)).map(|(id, _)| *id).collect();
                model.retain(|_, m| alive(m, now));
                got.sort_unstable();
                want.sort_unstable();
                prop_assert_eq!(got, want);
            }
            Op::Advance { ms } => now += ms,
            Op::Query { stream, lat, lon, k, exclude } => {
                let loc = point(lat, lon);
                let q = loc.to_unit();
                let want = model_nearest(&model, now, stream, q, k, exclude);
                let near = t.nearest(ts, StreamId(stream), loc, k, exclude.map(PeerId));
                // Same k nearest (distances compared exactly; ties may pick either peer).
                prop_assert_eq!(near.iter().map(|x| x.1).collect::<Vec<_>>(), want.clone());
                for (id, d) in &near {
                    let m = model.get(&id.0).expect("returned peer is registered");
                    prop_assert!(alive(m, now), "expired peer {:?} returned", id);
                    prop_assert_eq!(m.stream, stream);
                    prop_assert_eq!(chord2(&m.p, &q), *d);
                    prop_assert!(Some(id.0) != exclude);
                }
                let ranked = t
                    .query(
                        ts,
                        &Query {
                            stream: StreamId(stream),
                            location: loc,
                            asn: Some(Asn(1)),
                            k,
                            exclude: exclude.map(PeerId),
                        },
                    )
                    .unwrap();
                prop_assert_eq!(ranked.len(), want.len());
                for c in &ranked {
                    let m = model.get(&c.id.0).expect("ranked peer is registered");
                    prop_assert!(alive(m, now), "expired peer {:?} ranked", c.id);
                    prop_assert_eq!(m.stream, stream);
                    prop_assert!(Some(c.id.0) != exclude);
                }
                prop_assert!(ranked.windows(2).all(|w| w[0].score >= w[1].score));
                if weights.success == 0.0 && weights.same_isp == 0.0 && weights.throughput == 0.0 {
                    // Distance-only ranking is the k-nearest answer itself.
                    let mut got: Vec<f32> = ranked.iter().map(|c| chord2(&model[&c.id.0].p, &q)).collect();
                    got.sort_by(f32::total_cmp);
                    prop_assert_eq!(got, want);
                }
            }
        }
        prop_assert_eq!(t.len(), model.len());
        let next = model.values().map(|m| m.last_seen + TTL).min().map(Timestamp);
        prop_assert_eq!(t.next_expiry(), next);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn index_equals_brute_force_model(ops in proptest::collection::vec(op(24, 4, 60), 1..120)) {
        check(ops, RankWeights::default())?;
    }

    #[test]
    fn distance_only_ranking_is_k_nearest(ops in proptest::collection::vec(op(24, 4, 60), 1..120)) {
        let w = RankWeights { same_isp: 0.0, success: 0.0, throughput: 0.0, ..RankWeights::default() };
        check(ops, w)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Hundreds of peers per stream on a coarse grid (many identical points): the index
    /// splits, collapses and rebuilds buckets, and still equals the model.
    #[test]
    fn crowded_index_equals_brute_force_model(ops in proptest::collection::vec(op(1200, 40, 4), 500..1000)) {
        check(ops, RankWeights::default())?;
    }
}

#[test]
fn expiry_work_is_proportional_to_the_number_expired() {
    // 10 000 live peers, 3 stale ones: expire touches exactly the 3 at the head.
    let mut t = Tracker::new(TrackerConfig { ttl_ms: 1000, ..Default::default() }).unwrap();
    for id in 0..3 {
        t.join(Timestamp(0), info(id, 0, 0, 0)).unwrap();
    }
    for id in 3..10_003 {
        t.join(Timestamp(500), info(id, 0, (id % 12) as i32 - 6, (id % 24) as i32 - 12)).unwrap();
    }
    let gone = t.expire(Timestamp(1000)).unwrap();
    assert_eq!(gone, vec![PeerId(0), PeerId(1), PeerId(2)]);
    assert_eq!(t.len(), 10_000);
    assert_eq!(t.next_expiry(), Some(Timestamp(1500)));
}

#[test]
fn crowded_strategy_really_splits_buckets() {
    // Guards the crowded property above: its sequences fill a stream past one bucket.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let ops = proptest::collection::vec(op(1200, 40, 4), 600..601).new_tree(&mut runner).unwrap().current();
    let mut t = Tracker::new(TrackerConfig { ttl_ms: TTL, ..Default::default() }).unwrap();
    let mut now = 0;
    let mut most = 0;
    for op in ops {
        match op {
            Op::Join { id, stream, lat, lon } => t.join(Timestamp(now), info(id, stream, lat, lon)).unwrap(),
            Op::Advance { ms } => now += ms,
            _ => {}
        }
        most = most.max(t.stream_len(StreamId(0)));
    }
    assert!(most > 2 * tracker_geo::index::BUCKET, "only {most} peers in stream 0");
}
