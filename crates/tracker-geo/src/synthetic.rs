//! Synthetic peer populations for benchmarks, examples and research sweeps.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::GeoPoint;

/// `n` points clustered around 300 random "cities" (±1.5° around each centre, latitudes
/// between −61.5° and 71.5°), deterministic in `seed`. Dense clusters are the hard case
/// for a nearest-neighbour index, so the tracker's benches and `query_latency` use this.
///
/// ```
/// let a = tracker_geo::synthetic::clustered_population(100, 7);
/// assert_eq!(a.len(), 100);
/// assert_eq!(a, tracker_geo::synthetic::clustered_population(100, 7));
/// ```
pub fn clustered_population(n: usize, seed: u64) -> Vec<GeoPoint> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<(f64, f64)> =
        (0..300).map(|_| (rng.random_range(-60.0..70.0), rng.random_range(-180.0..180.0))).collect();
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
