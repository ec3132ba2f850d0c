//! Synthetic peer populations for benchmarks, examples and research sweeps.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{Asn, Error, GeoPoint, PeerId, PeerInfo, StreamId, Tracker, TrackerConfig};

/// `n` points clustered around 300 random "cities" (±1.5° around each centre, latitudes
/// between −61.5° and 71.5°), deterministic in `seed`. Dense clusters are the hard case
/// for a nearest-neighbour index, so the tracker's benches and `query_latency` use this.
/// Another seed gives other cities: queries drawn that way come from places with no
/// peers nearby (the harder case); [`viewers_in_cities`] draws queries from the peers'
/// own cities.
///
/// ```
/// let a = tracker_geo::synthetic::clustered_population(100, 7);
/// assert_eq!(a.len(), 100);
/// assert_eq!(a, tracker_geo::synthetic::clustered_population(100, 7));
/// ```
pub fn clustered_population(n: usize, seed: u64) -> Vec<GeoPoint> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres = city_centres(&mut rng);
    around(&centres, n, &mut rng)
}

/// `n` viewers in the cities of `clustered_population(_, population_seed)` (the same 300
/// centres, ±1.5°), at positions drawn from `seed`: queries from where the peers are.
///
/// ```
/// use tracker_geo::synthetic::{clustered_population, viewers_in_cities};
/// let v = viewers_in_cities(50, 1, 9);
/// assert_eq!(v.len(), 50);
/// assert_ne!(v, clustered_population(50, 1));
/// ```
pub fn viewers_in_cities(n: usize, population_seed: u64, seed: u64) -> Vec<GeoPoint> {
    let centres = city_centres(&mut ChaCha8Rng::seed_from_u64(population_seed));
    around(&centres, n, &mut ChaCha8Rng::seed_from_u64(seed))
}

/// Synthetic peer number `i` of stream 0 at `location`: a distinct IPv4 address, one of
/// 40 ASNs and an upload capacity between 1 and 4.5 Mbit/s, all derived from `i`.
pub fn peer(i: usize, location: GeoPoint) -> PeerInfo {
    PeerInfo {
        id: PeerId(i as u64),
        stream: StreamId(0),
        location,
        // Truncation is fine: addresses only need to differ between nearby indices.
        ip: std::net::IpAddr::V4(std::net::Ipv4Addr::from(i as u32)),
        asn: Asn((i % 40) as u32),
        upload_kbps: 1000 + (i % 8) as u32 * 500,
    }
}

/// A tracker whose peers never expire, holding [`peer`]`(i, points[i])` for every point.
///
/// ```
/// let points = tracker_geo::synthetic::clustered_population(100, 7);
/// let t = tracker_geo::synthetic::populated_tracker(&points).unwrap();
/// assert_eq!(t.len(), 100);
/// ```
pub fn populated_tracker(points: &[GeoPoint]) -> Result<Tracker, Error> {
    let mut t = Tracker::new(TrackerConfig { ttl_ms: u64::MAX / 4, ..TrackerConfig::default() })?;
    for (i, p) in points.iter().enumerate() {
        t.join(primitives::Timestamp(0), peer(i, *p))?;
    }
    Ok(t)
}

fn city_centres(rng: &mut ChaCha8Rng) -> Vec<(f64, f64)> {
    (0..300).map(|_| (rng.random_range(-60.0..70.0), rng.random_range(-180.0..180.0))).collect()
}

fn around(centres: &[(f64, f64)], n: usize, rng: &mut ChaCha8Rng) -> Vec<GeoPoint> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let (lat, lon) = centres[rng.random_range(0..centres.len())];
        let lon = lon + rng.random_range(-1.5..1.5);
        let lon = if lon > 180.0 {
            lon - 360.0
        } else if lon < -180.0 {
            lon + 360.0
        } else {
            lon
        };
        // Always in range by construction; a point that were not would be skipped.
        if let Ok(p) = GeoPoint::new(lat + rng.random_range(-1.5..1.5), lon) {
            out.push(p);
        }
    }
    out
}
