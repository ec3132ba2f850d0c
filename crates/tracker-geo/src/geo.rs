//! Positions on the Earth and the distances the tracker orders peers by.
//!
//! Peers are indexed as points on the unit sphere in 3-D (`[x, y, z]`, `f32`). The
//! straight-line (chord) distance between two such points is a strictly increasing
//! function of the great-circle angle between them (`chord = 2 sin(θ/2)`), so the k
//! nearest by chord are exactly the k nearest by great-circle distance, with no seam at
//! the antimeridian and no distortion near the poles — unlike indexing raw
//! latitude/longitude.

use crate::Error;

/// Mean Earth radius in kilometres (IUGG).
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// A validated latitude/longitude pair in degrees (WGS-84 style, spherical model).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GeoPoint {
    lat: f64,
    lon: f64,
}

impl GeoPoint {
    /// A point at `lat` (−90..=90) and `lon` (−180..=180) degrees.
    ///
    /// Rejects non-finite or out-of-range values with [`Error::InvalidLocation`].
    pub fn new(lat: f64, lon: f64) -> Result<Self, Error> {
        if lat.is_finite()
            && lon.is_finite()
            && (-90.0..=90.0).contains(&lat)
            && (-180.0..=180.0).contains(&lon)
        {
            Ok(GeoPoint { lat, lon })
        } else {
            Err(Error::InvalidLocation { lat, lon })
        }
    }

    /// Latitude in degrees.
    pub fn lat(&self) -> f64 {
        self.lat
    }

    /// Longitude in degrees.
    pub fn lon(&self) -> f64 {
        self.lon
    }

    /// The point on the unit sphere, as indexed by the tracker.
    pub fn to_unit(&self) -> [f32; 3] {
        let (lat, lon) = (self.lat.to_radians(), self.lon.to_radians());
        let (sl, cl) = lat.sin_cos();
        let (so, co) = lon.sin_cos();
        [(cl * co) as f32, (cl * so) as f32, sl as f32]
    }

    /// Great-circle distance to `other` in kilometres (haversine).
    pub fn distance_km(&self, other: &GeoPoint) -> f64 {
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
    }
}

/// Squared chord distance between two unit-sphere points: the order the spatial index
/// uses. Computed exactly as the index computes it, so a brute-force model that calls
/// this function sorts peers identically.
#[inline]
pub fn chord2(a: &[f32; 3], b: &[f32; 3]) -> f32 {
    let dx = a[0] - b[0];
    let dy = a[1] - b[1];
    let dz = a[2] - b[2];
    dz * dz + (dy * dy + (dx * dx + 0.0))
}

/// Converts a squared chord distance on the unit sphere into great-circle kilometres.
pub fn chord2_to_km(c2: f32) -> f64 {
    let chord = f64::from(c2.max(0.0)).sqrt();
    2.0 * EARTH_RADIUS_KM * (chord / 2.0).min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_coordinates() {
        assert!(GeoPoint::new(91.0, 0.0).is_err());
        assert!(GeoPoint::new(0.0, -180.5).is_err());
        assert!(GeoPoint::new(f64::NAN, 0.0).is_err());
        assert!(GeoPoint::new(-90.0, 180.0).is_ok());
    }

    #[test]
    fn chord_agrees_with_haversine() {
        let paris = GeoPoint::new(48.8566, 2.3522).unwrap();
        let london = GeoPoint::new(51.5074, -0.1278).unwrap();
        let hav = paris.distance_km(&london);
        assert!((hav - 343.5).abs() < 2.0, "{hav}");
        let via_chord = chord2_to_km(chord2(&paris.to_unit(), &london.to_unit()));
        assert!((via_chord - hav).abs() < 1.0, "{via_chord} vs {hav}");
        // Across the antimeridian: 2 degrees of longitude at the equator.
        let a = GeoPoint::new(0.0, 179.0).unwrap();
        let b = GeoPoint::new(0.0, -179.0).unwrap();
        assert!((a.distance_km(&b) - 222.4).abs() < 1.0);
        assert!((chord2_to_km(chord2(&a.to_unit(), &b.to_unit())) - 222.4).abs() < 1.0);
    }
}
