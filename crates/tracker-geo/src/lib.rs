//! Theta's geo-optimized mesh delivery (whitepaper v2.0, "Mesh streaming"): a tracker
//! that answers "which peers near me can serve this stream", and the player client
//! that tests those peers, keeps the best as neighbours and pulls live segments from
//! them while its buffer is healthy, falling back to the CDN when it is not. The goal
//! is the whitepaper's "offload up to 80% of CDN bandwidth without sacrificing quality".
//!
//! # Model
//!
//! * [`Tracker`] — a pure data structure (DESIGN.md section 4.7). Peers
//!   [`join`](Tracker::join) with id, stream, latitude/longitude, IP, ASN (ISP) and
//!   upload capacity; [`heartbeat`](Tracker::heartbeat) keeps them alive; peers silent for
//!   `ttl_ms` are expired: never returned by a query, and reclaimed by
//!   [`expire`](Tracker::expire) in time proportional to the number expired (an
//!   intrusive list in heartbeat order, which with one TTL is also expiry order);
//!   [`leave`](Tracker::leave) removes at once. [`query`](Tracker::query) takes the
//!   nearest live peers of the stream by great-circle distance from a per-stream
//!   [`index::SphereIndex`] (a bucketed k-d tree over unit-sphere points, [`geo`]) and ranks them by connectivity history (same ISP,
//!   success rate, measured throughput) with configurable [`RankWeights`].
//! * [`TrackerService`] — the tracker's side of the wire protocol ([`Message`]).
//! * [`Client`] — the player client, a sans-I/O [`primitives::Machine`]
//!   (`new(config, viewer, now, seed)` / `handle` / `poll_output` / `poll_timeout`).
//!   Its segment policy is documented in [`client`].
//!
//! # Why a purpose-built index, not `rstar` or `kiddo`
//!
//! The index must answer small-`k` nearest queries over up to 10^6 points per stream
//! while peers join, heartbeat and expire continuously, and must accept any number of
//! peers at one position (thousands of viewers geolocated to a city centre).
//! [`index::SphereIndex`] is a bucketed k-d tree with a tight bounding box per child,
//! inline 64-entry buckets, a max-heap k-nearest search and scapegoat rebuilds (see
//! [`index`]). Measured side by side in one process (`benches/benches/tracker.rs`,
//! figures in `docs/benchmarks.md`), its raw 20-NN query over 10^6 clustered points
//! takes 5.2 µs against 10.8 µs for `rstar`'s R*-tree (whose nearest-neighbour iterator
//! pays a binary heap per step over 48-byte node enums) and 69 µs for `kiddo` 6's
//! mutable tree built by the same insertions: kiddo is the fastest at 10^4 points, but
//! its mutable tree does not rebalance under churn, and it refuses an insertion
//! (`UnsplittableBucket`) once a bucket fills with points sharing one value on the split
//! axis — every peer of a city at one latitude shares `z`.
//!
//! # Invariants
//!
//! * A query never returns an expired peer, a peer of another stream, or the excluded
//!   viewer; its unranked core ([`Tracker::nearest`]) equals a brute-force k-nearest
//!   scan (property-tested in `tests/tracker_model.rs`).
//! * A ranked query does bounded work even when the host calls `expire` late: at most two
//!   index searches and [`TrackerConfig::query_evictions`] lazy evictions of expired peers
//!   from the index (they stay registered until `expire` reports them);
//!   [`Tracker::work`] counts it (`tests/defects.rs`).
//! * Time only moves forward: every mutating call (queries included) with an earlier
//!   `now` is rejected.
//! * The client's outputs depend only on its seed and its inputs.
//!
//! # Example
//!
//! ```
//! use std::net::{IpAddr, Ipv4Addr};
//! use primitives::Timestamp;
//! use tracker_geo::{Asn, GeoPoint, PeerId, PeerInfo, Query, StreamId, Tracker, TrackerConfig};
//!
//! let mut tracker = Tracker::new(TrackerConfig { ttl_ms: 30_000, ..Default::default() })?;
//! let cities = [(48.86, 2.35), (51.51, -0.13), (40.71, -74.01), (52.52, 13.40)];
//! for (i, (lat, lon)) in cities.into_iter().enumerate() {
//!     tracker.join(Timestamp::from_secs(1), PeerInfo {
//!         id: PeerId(i as u64),
//!         stream: StreamId(7),
//!         location: GeoPoint::new(lat, lon)?,
//!         ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, i as u8)),
//!         asn: Asn(3215),
//!         upload_kbps: 4_000,
//!     })?;
//! }
//! // A viewer in Brussels: Paris and London are the two best candidates.
//! let query = Query {
//!     stream: StreamId(7),
//!     location: GeoPoint::new(50.85, 4.35)?,
//!     asn: Some(Asn(3215)),
//!     k: 2,
//!     exclude: None,
//! };
//! let best = tracker.query(Timestamp::from_secs(2), &query)?;
//! assert_eq!(best.iter().map(|c| c.id).collect::<Vec<_>>(), [PeerId(0), PeerId(1)]);
//!
//! // Nobody heartbeats: after the TTL everyone is gone.
//! assert_eq!(tracker.expire(Timestamp::from_secs(31))?.len(), 4);
//! assert!(tracker.query(Timestamp::from_secs(31), &query)?.is_empty());
//! # Ok::<(), tracker_geo::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod client;
mod error;
pub mod geo;
pub mod index;
pub mod protocol;
mod service;
pub mod synthetic;
mod tracker;

pub use client::{Client, ClientConfig, ClientStats, Event, Input, Output, Source, Viewer};
pub use error::Error;
pub use geo::GeoPoint;
pub use protocol::{Endpoint, Message};
pub use service::TrackerService;
pub use tracker::{
    Asn, Candidate, History, Outcome, PeerId, PeerInfo, PeerView, Query, QueryWork, RankWeights, StreamId,
    Tracker, TrackerConfig,
};
