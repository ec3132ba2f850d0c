//! Issue 19, tracker and client defects: each reproduced through the public API.
//!
//! * a huge `k` must be `BadK`, not an allocation panic;
//! * the spatial index must refuse points whose distances overflow `f32`, and a
//!   non-finite query must be an error, not an empty answer;
//! * `Data` nobody asked for is neither offload nor a held segment;
//! * a query near many expired-but-unreclaimed peers does bounded work.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr};

use primitives::Timestamp;
use tracker_geo::index::{MAX_COORD, SphereIndex};
use tracker_geo::protocol::WireCandidate;
use tracker_geo::{
    Asn, Client, ClientConfig, Endpoint, Error, Event, GeoPoint, Input, Message, Output, PeerId, PeerInfo,
    Query, Source, StreamId, Tracker, TrackerConfig, Viewer,
};

fn peer(id: u64, lat: f64, lon: f64) -> PeerInfo {
    PeerInfo {
        id: PeerId(id),
        stream: StreamId(0),
        location: GeoPoint::new(lat, lon).unwrap(),
        ip: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + id as u32)),
        asn: Asn(1),
        upload_kbps: 4000,
    }
}

fn query(lat: f64, lon: f64, k: usize) -> Query {
    Query { stream: StreamId(0), location: GeoPoint::new(lat, lon).unwrap(), asn: None, k, exclude: None }
}

// ----- Tracker::query with a huge k -----

#[test]
fn huge_k_is_bad_k_not_an_allocation_panic() {
    let mut t = Tracker::new(TrackerConfig::default()).unwrap();
    t.join(Timestamp(0), peer(1, 0.0, 0.0)).unwrap();
    for k in [usize::MAX, usize::MAX / 2, 1 << 40, 257] {
        assert_eq!(t.query(Timestamp(1), &query(0.0, 0.0, k)), Err(Error::BadK { k, max: 256 }));
    }
    assert_eq!(t.query(Timestamp(1), &query(0.0, 0.0, 0)), Err(Error::BadK { k: 0, max: 256 }));
    assert_eq!(t.query(Timestamp(1), &query(0.0, 0.0, 256)).unwrap().len(), 1);
}

// ----- SphereIndex: overflowing points, non-finite queries -----

#[test]
fn index_refuses_points_whose_distances_would_overflow() {
    let mut ix = SphereIndex::new();
    // Finite, but its squared distance to anything overflows f32 to infinity: it would
    // be stored and then never returned.
    for p in [[1e30f32, 0.0, 0.0], [0.0, -3e19, 0.0], [0.0, 0.0, f32::MAX]] {
        assert!(matches!(ix.insert(p, 7), Err(Error::PointOutOfRange { .. })), "{p:?}");
    }
    assert!(ix.is_empty());
    // The largest accepted coordinates: every distance among accepted points (and
    // accepted queries) stays finite, so an accepted point is always found.
    let far = [MAX_COORD, -MAX_COORD, MAX_COORD];
    ix.insert(far, 1).unwrap();
    ix.insert([-MAX_COORD, MAX_COORD, -MAX_COORD], 2).unwrap();
    ix.insert([0.0, 0.0, 1.0], 3).unwrap();
    let mut out = Vec::new();
    ix.nearest_into(&[-MAX_COORD, MAX_COORD, -MAX_COORD], 3, &mut out).unwrap();
    assert_eq!(out.iter().map(|x| x.1).collect::<Vec<_>>(), [2, 3, 1]);
    assert!(out.iter().all(|x| x.0.is_finite()));
    ix.nearest_into(&[0.0, 0.0, 1.0], 3, &mut out).unwrap();
    assert_eq!(out.len(), 3, "every accepted point is reachable: {out:?}");
    assert!(ix.remove(far, 1));
}

#[test]
fn index_answers_a_bad_query_with_an_error_not_an_empty_list() {
    let mut ix = SphereIndex::new();
    ix.insert(GeoPoint::new(10.0, 10.0).unwrap().to_unit(), 1).unwrap();
    let mut out = vec![(0.0, 99)];
    for q in [[f32::NAN, 0.0, 0.0], [0.0, f32::INFINITY, 0.0], [0.0, 0.0, f32::NEG_INFINITY]] {
        assert_eq!(ix.nearest_into(&q, 1, &mut out), Err(Error::NonFinitePoint));
        assert!(out.is_empty(), "the output is cleared on error");
        assert_eq!(ix.nearest_unsorted_into(&q, 1, &mut out), Err(Error::NonFinitePoint));
    }
    assert!(matches!(ix.nearest_into(&[1e30, 0.0, 0.0], 1, &mut out), Err(Error::PointOutOfRange { .. })));
    ix.nearest_into(&[1.0, 0.0, 0.0], 1, &mut out).unwrap();
    assert_eq!(out.len(), 1);
}

// ----- Client: unsolicited Data -----

const SEG: u32 = 125_000;

fn cfg() -> ClientConfig {
    ClientConfig {
        stream: StreamId(1),
        stream_start: Timestamp(0),
        start_behind: 6,
        ..ClientConfig::default()
    }
}

fn me() -> Viewer {
    Viewer { id: PeerId(1), location: GeoPoint::new(48.0, 2.0).unwrap(), asn: Asn(7), upload_kbps: 4000 }
}

fn drain(c: &mut Client) -> Vec<Output> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

fn data(c: &mut Client, now: u64, from: Endpoint, segment: u64, bytes: u32) -> Result<Vec<Output>, Error> {
    c.handle(Timestamp(now), Input::Message { from, msg: Message::Data { segment, bytes } })?;
    Ok(drain(c))
}

#[test]
fn unsolicited_data_is_neither_offload_nor_held() {
    let mut c = Client::new(cfg(), me(), Timestamp(20_000), [1; 32]).unwrap();
    drain(&mut c);
    // A stranger (never a candidate, never asked) pushes a segment claiming 4.29 GB.
    let stranger = Endpoint::Peer(PeerId(666));
    let got = data(&mut c, 20_010, stranger, 17, u32::MAX);
    assert!(matches!(got, Err(Error::UnexpectedMessage { kind: "Data", .. })), "{got:?}");
    assert_eq!(c.stats().bytes_from_peers, 0, "no credit for unsolicited bytes");
    assert!(!c.has_segment(17), "an unsolicited segment is not stored as held");
    // Even a proper neighbour may not push a segment it was not asked for.
    c.handle(
        Timestamp(20_020),
        Input::Message {
            from: Endpoint::Tracker,
            msg: Message::Peers {
                candidates: vec![WireCandidate {
                    id: PeerId(5),
                    ip: [0; 16],
                    asn: Asn(7),
                    upload_kbps: 4000,
                    distance_km: 1,
                }],
            },
        },
    )
    .unwrap();
    c.handle(
        Timestamp(20_030),
        Input::Message {
            from: Endpoint::Peer(PeerId(5)),
            msg: Message::HelloAck { accepted: true, newest: None },
        },
    )
    .unwrap();
    drain(&mut c);
    assert!(data(&mut c, 20_040, Endpoint::Peer(PeerId(5)), 18, SEG).is_err());
    assert_eq!(c.stats().bytes_from_peers, 0);
    assert!(!c.has_segment(18));
    // A solicited segment from the wrong source is not credited to that source either.
    assert!(data(&mut c, 20_060, stranger, 14, SEG).is_err());
    assert_eq!(c.stats().bytes_from_peers, 0);
    // A solicited segment claiming a size other than the stream's is refused, and the
    // request stays outstanding.
    assert!(matches!(data(&mut c, 20_070, Endpoint::Cdn, 14, u32::MAX), Err(Error::OutOfRange { .. })));
    assert_eq!(c.stats().bytes_from_cdn, 0);
    // The real answer is accepted.
    let out = data(&mut c, 20_080, Endpoint::Cdn, 14, SEG).unwrap();
    assert!(out.contains(&Output::Event(Event::Fetched { segment: 14, source: Source::Cdn })));
    assert_eq!(c.stats().bytes_from_cdn, u64::from(SEG));
    // The CDN is the origin: what it pushes unasked is stored, and counted against the
    // offload (CDN bytes), never for it.
    data(&mut c, 20_090, Endpoint::Cdn, 19, SEG).unwrap();
    assert!(c.has_segment(19));
    assert_eq!(c.stats().bytes_from_cdn, 2 * u64::from(SEG));
    assert_eq!(c.stats().bytes_from_peers, 0);
}

#[test]
fn a_late_answer_to_a_timed_out_request_is_still_accepted_once() {
    // The neighbour is slow, not hostile: its segment arrives after the request timed
    // out. It was asked for, so it counts (once); a second copy is refused.
    let mut c = Client::new(cfg(), me(), Timestamp(20_000), [1; 32]).unwrap();
    drain(&mut c);
    let five = Endpoint::Peer(PeerId(5));
    let cand = WireCandidate { id: PeerId(5), ip: [0; 16], asn: Asn(7), upload_kbps: 4000, distance_km: 1 };
    let m = |c: &mut Client, now: u64, from: Endpoint, msg: Message| {
        c.handle(Timestamp(now), Input::Message { from, msg }).unwrap();
        drain(c)
    };
    m(&mut c, 20_050, Endpoint::Tracker, Message::Peers { candidates: vec![cand] });
    m(&mut c, 20_100, five, Message::HelloAck { accepted: true, newest: None });
    for s in 14..=19 {
        data(&mut c, 20_200, Endpoint::Cdn, s, SEG).ok();
    }
    let out = m(&mut c, 21_100, five, Message::Have { segment: 20 });
    assert!(out.contains(&Output::Send { to: five, msg: Message::Request { segment: 20 } }));
    // Let the request time out (3 s at most).
    let mut now = Timestamp(21_100);
    while c.stats().peer_failures == 0 {
        now = c.poll_timeout().unwrap().max(now);
        c.handle(now, Input::Timeout).unwrap();
        drain(&mut c);
    }
    let late = now.as_millis() + 10;
    assert!(!c.has_segment(20), "nobody else answered (the CDN is silent in this test)");
    data(&mut c, late, five, 20, SEG).unwrap();
    assert!(c.has_segment(20));
    assert_eq!(c.stats().bytes_from_peers, u64::from(SEG));
    assert!(data(&mut c, late + 1, five, 20, SEG).is_err(), "a second copy was never asked for");
    assert!(c.stats().bytes_from_peers <= u64::from(SEG));
}

// ----- Tracker::query near many expired peers the host has not reclaimed -----

#[test]
fn query_work_is_bounded_when_expiry_is_delayed() {
    let ttl = 1000;
    let mut t = Tracker::new(TrackerConfig { ttl_ms: ttl, ..Default::default() }).unwrap();
    // 20,000 peers around Paris at t = 0; the host never calls expire().
    let stale = 20_000u64;
    for i in 0..stale {
        let (a, b) = ((i % 141) as f64 * 0.001, (i / 141) as f64 * 0.001);
        t.join(Timestamp(0), peer(i, 48.8 + a, 2.3 + b)).unwrap();
    }
    // 40 live peers a little farther out (they joined at 900 and stay alive until 1900).
    for i in 0..40u64 {
        t.join(Timestamp(900), peer(stale + i, 49.5 + i as f64 * 0.01, 2.3)).unwrap();
    }
    let k = 20;
    let pool = (k as f32 * t.config().pool_factor).ceil() as u64;
    let budget = t.config().query_evictions as u64;
    let now = Timestamp(1500);
    let before = t.work();
    let got = t.query(now, &query(48.85, 2.35, k)).unwrap();
    let w = t.work().since(&before);
    assert_eq!(w.queries, 1);
    // At most two index searches: the pool (+1 for the excluded viewer), then the pool
    // plus the eviction budget. Before the fix the search doubled until it had looked
    // at all 20,000 stale peers.
    assert!(w.examined <= 2 * (pool + 1) + budget, "examined {} entries", w.examined);
    assert!(w.evicted <= budget, "evicted {}", w.evicted);
    assert!(w.evicted > 0, "stale peers seen by a query leave the index");
    assert!(got.iter().all(|c| c.id.0 >= stale), "never an expired peer");
    // Every query does bounded work and makes progress: after enough queries in the
    // neighbourhood, the answer is the full k nearest live peers again.
    let mut queries = 1;
    loop {
        let before = t.work();
        let got = t.query(now, &query(48.85, 2.35, k)).unwrap();
        let w = t.work().since(&before);
        assert!(w.examined <= 2 * (pool + 1) + budget && w.evicted <= budget, "{w:?}");
        assert!(got.iter().all(|c| c.id.0 >= stale));
        queries += 1;
        if got.len() == k {
            break;
        }
        assert!(queries <= stale / budget + 2, "no progress after {queries} queries");
    }
    let ranked: Vec<PeerId> =
        t.query(now, &query(48.85, 2.35, k)).unwrap().into_iter().map(|c| c.id).collect();
    let nearest: Vec<PeerId> = t
        .nearest(now, StreamId(0), GeoPoint::new(48.85, 2.35).unwrap(), k, None)
        .into_iter()
        .map(|x| x.0)
        .collect();
    let (mut a, mut b) = (ranked.clone(), nearest);
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b);
    // Nothing is lost: the lazily evicted peers are still registered, and expire()
    // reports every stale peer exactly once, in expiry order.
    assert_eq!(t.len() as u64, stale + 40);
    assert_eq!(t.stream_len(StreamId(0)) as u64, stale + 40);
    let gone = t.expire(now).unwrap();
    assert_eq!(gone, (0..stale).map(PeerId).collect::<Vec<_>>());
    assert_eq!(t.len(), 40);
    // A stale peer's heartbeat is refused and it may join again.
    assert_eq!(t.heartbeat(now, PeerId(3)), Err(Error::UnknownPeer(PeerId(3))));
    t.join(now, peer(3, 48.85, 2.35)).unwrap();
    assert_eq!(t.query(now, &query(48.85, 2.35, 1)).unwrap()[0].id, PeerId(3));
}

#[test]
fn lazily_evicted_peers_expire_in_order_with_the_rest() {
    // Peers evicted from the index by a query keep their place in the expiry order.
    let mut t = Tracker::new(TrackerConfig { ttl_ms: 100, ..Default::default() }).unwrap();
    t.join(Timestamp(0), peer(1, 0.0, 0.0)).unwrap();
    t.join(Timestamp(10), peer(2, 50.0, 50.0)).unwrap();
    t.join(Timestamp(20), peer(3, 0.0, 0.1)).unwrap();
    t.join(Timestamp(120), peer(4, 0.0, 0.2)).unwrap();
    // At 130, 1, 2 and 3 are expired; the query near (0, 0) evicts 1 and 3.
    let got = t.query(Timestamp(130), &query(0.0, 0.0, 3)).unwrap();
    assert_eq!(got.iter().map(|c| c.id).collect::<Vec<_>>(), [PeerId(4)]);
    assert_eq!(t.len(), 4);
    assert!(t.get(PeerId(1)).is_some());
    assert_eq!(t.next_expiry(), Some(Timestamp(100)));
    assert_eq!(t.expire(Timestamp(150)).unwrap(), [PeerId(1), PeerId(2), PeerId(3)]);
    assert_eq!(t.len(), 1);
}
