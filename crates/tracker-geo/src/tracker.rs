//! The tracker: every live peer of every stream in a spatial index, kept alive by
//! heartbeats, answered by "which peers near me can serve this stream".
//!
//! Whitepaper v2.0, "Mesh streaming / Tracker server": the tracker "records the
//! geolocation of each viewer" and "selects a list of candidate peers that are
//! geographically close and have good connectivity"; the candidates are then tested by
//! the player client ([`crate::client`]).
//!
//! Data layout (see the crate docs for the invariants):
//! * two parallel arrays of peer records indexed by a `u32` slot: a 64-byte, cache-line
//!   aligned "hot" record with everything a query reads (id, last heartbeat, history,
//!   ISP, upload capacity, IP), and a 32-byte "cold" record (stream, location, expiry
//!   list links); a `HashMap` from [`PeerId`] to slot (SipHash: peer ids are chosen by
//!   untrusted peers);
//! * one [`SphereIndex`] (a bucketed k-d tree, [`crate::index`]) per stream over
//!   unit-sphere points, each entry 16 bytes (`[f32; 3]` + slot); the position is not
//!   stored again in the record (it is recomputed from the location on removal);
//! * an intrusive doubly linked list of slots in heartbeat order (least recently seen at
//!   the head). The time-to-live is one value for every peer and time only moves
//!   forward, so the list is also sorted by expiry deadline: a heartbeat moves a record
//!   to the tail in O(1), and [`Tracker::expire`] pops expired records from the head, in
//!   time proportional to the number expired.

use std::collections::BTreeMap;
#[allow(clippy::disallowed_types)] // only looked up by key; iteration order is never observed
use std::collections::HashMap;
use std::net::IpAddr;

use parity_scale_codec::{Decode, Encode};
use primitives::Timestamp;

use crate::Error;
use crate::geo::{GeoPoint, chord2_to_km};
use crate::index::{MAX_POINTS, SphereIndex};

/// A peer's identifier, chosen by the embedder (a node id, a session id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct PeerId(pub u64);

/// A live stream's identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct StreamId(pub u64);

/// An autonomous system number: the ISP a peer's address belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct Asn(pub u32);

/// What a peer declares when it joins.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PeerInfo {
    /// The peer.
    pub id: PeerId,
    /// The stream it watches (and can relay).
    pub stream: StreamId,
    /// Where it is.
    pub location: GeoPoint,
    /// Its public address, handed to viewers that pick it.
    pub ip: IpAddr,
    /// Its ISP.
    pub asn: Asn,
    /// Upload capacity it offers to the mesh, in kbit/s.
    pub upload_kbps: u32,
}

/// How a transfer from a peer went, as reported by the viewer that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Outcome {
    /// A segment arrived; the measured throughput in kbit/s.
    Success {
        /// Measured throughput (bytes · 8 / milliseconds).
        throughput_kbps: u32,
    },
    /// The peer refused, timed out or vanished.
    Failure,
}

/// The connectivity history the tracker keeps for each peer.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct History {
    /// Transfers reported.
    pub attempts: u32,
    /// Of which succeeded.
    pub successes: u32,
    /// Exponentially weighted moving average of measured throughput (kbit/s); 0 until a
    /// success is reported.
    pub throughput_kbps: f32,
}

impl History {
    /// Success rate with a Laplace prior: `(successes + 1) / (attempts + 2)`, so a new
    /// peer scores 0.5.
    pub fn success_rate(&self) -> f32 {
        (self.successes as f32 + 1.0) / (self.attempts as f32 + 2.0)
    }

    fn record(&mut self, outcome: Outcome) {
        self.attempts = self.attempts.saturating_add(1);
        if let Outcome::Success { throughput_kbps } = outcome {
            self.successes = self.successes.saturating_add(1);
            let t = throughput_kbps as f32;
            self.throughput_kbps =
                if self.throughput_kbps == 0.0 { t } else { 0.75 * self.throughput_kbps + 0.25 * t };
        }
    }
}

/// Weights of the ranking score (whitepaper: "same ISP preferred, past success rates").
///
/// `score = distance / (1 + km / distance_scale_km) + same_isp · [asn equal]
///        + success · success_rate + throughput · min(1, kbps / throughput_ref_kbps)`,
/// where `kbps` is the measured throughput, or the declared upload capacity until a
/// transfer has been reported. Higher is better.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RankWeights {
    /// Weight of nearness.
    pub distance: f32,
    /// Bonus for sharing the viewer's ISP.
    pub same_isp: f32,
    /// Weight of the past success rate.
    pub success: f32,
    /// Weight of (measured or declared) throughput.
    pub throughput: f32,
    /// Distance at which the nearness term halves, in km.
    pub distance_scale_km: f32,
    /// Throughput that earns the full throughput term, in kbit/s.
    pub throughput_ref_kbps: f32,
}

impl Default for RankWeights {
    fn default() -> Self {
        RankWeights {
            distance: 1.0,
            same_isp: 0.5,
            success: 1.0,
            throughput: 0.5,
            distance_scale_km: 500.0,
            throughput_ref_kbps: 4000.0,
        }
    }
}

/// Tracker settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackerConfig {
    /// A peer not heard from for this long is expired (ms).
    pub ttl_ms: u64,
    /// The ranked query looks at the `ceil(k · pool_factor)` nearest live peers and
    /// returns the `k` best scored among them (≥ 1; default 1.5).
    pub pool_factor: f32,
    /// Largest `k` a query may ask for.
    pub max_k: usize,
    /// Most peers held at once (at most 2^30 − 1; larger values are lowered).
    pub capacity: usize,
    /// Ranking weights.
    pub weights: RankWeights,
    /// Most expired peers one ranked query removes from the spatial index (≥ 1; default
    /// 64). A host that calls [`Tracker::expire`] late leaves expired peers in the
    /// index; a query skips them and evicts at most this many (the nearest it met), so
    /// its work stays bounded (see [`Tracker::query`]) and repeated queries clean the
    /// neighbourhood. Evicted peers stay registered until `expire` reports them.
    pub query_evictions: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            ttl_ms: 30_000,
            pool_factor: 1.5,
            max_k: 256,
            capacity: 1 << 30,
            weights: RankWeights::default(),
            query_evictions: 64,
        }
    }
}

/// A viewer's request for candidates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Query {
    /// The stream the viewer wants.
    pub stream: StreamId,
    /// Where the viewer is.
    pub location: GeoPoint,
    /// The viewer's ISP, if known (peers on the same ISP score higher).
    pub asn: Option<Asn>,
    /// How many candidates to return.
    pub k: usize,
    /// A peer never to return (the viewer itself).
    pub exclude: Option<PeerId>,
}

/// One ranked answer to a [`Query`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// The peer.
    pub id: PeerId,
    /// Where to reach it.
    pub ip: IpAddr,
    /// Its ISP.
    pub asn: Asn,
    /// Its declared upload capacity (kbit/s).
    pub upload_kbps: u32,
    /// Great-circle distance to the viewer (km).
    pub distance_km: f32,
    /// Its ranking score (higher is better).
    pub score: f32,
}

/// Cumulative work counters of the ranked query ([`Tracker::work`]), to check its bound
/// without timing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueryWork {
    /// Ranked queries answered.
    pub queries: u64,
    /// Spatial-index searches run (at most two per query).
    pub searches: u64,
    /// Index entries returned by those searches, each checked against its record.
    pub examined: u64,
    /// Expired peers removed from the spatial index by queries.
    pub evicted: u64,
}

impl QueryWork {
    /// The work done since `earlier` (a previous reading).
    pub fn since(&self, earlier: &QueryWork) -> QueryWork {
        QueryWork {
            queries: self.queries.saturating_sub(earlier.queries),
            searches: self.searches.saturating_sub(earlier.searches),
            examined: self.examined.saturating_sub(earlier.examined),
            evicted: self.evicted.saturating_sub(earlier.evicted),
        }
    }
}

/// A read-only view of one registered peer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PeerView {
    /// What it declared when it joined.
    pub info: PeerInfo,
    /// When it was last heard from.
    pub last_seen: Timestamp,
    /// Its connectivity history.
    pub history: History,
}

const NIL: u32 = u32::MAX;

/// The part of a peer's record a query reads: one 64-byte cache line, so ranking a
/// pooled candidate costs one cache miss.
#[derive(Clone, Copy, Debug)]
#[repr(align(64))]
struct Hot {
    id: PeerId,
    last_seen: Timestamp,
    history: History,
    asn: Asn,
    upload_kbps: u32,
    ip: IpAddr,
    /// Whether the peer is in its stream's spatial index (a query removes an expired
    /// peer from the index before `expire` reclaims the record).
    indexed: bool,
}

/// One stream: its spatial index and the number of registered peers (indexed or
/// lazily evicted, not yet reclaimed).
#[derive(Clone, Debug, Default)]
struct Stream {
    index: SphereIndex,
    registered: usize,
}

/// The rest of the record (32 bytes): only joins, heartbeats and removals touch it.
#[derive(Clone, Copy, Debug)]
struct Cold {
    stream: StreamId,
    location: GeoPoint,
    prev: u32,
    next: u32,
}

/// The geo-optimized tracker: a pure, synchronous data structure (DESIGN.md section 4.7).
///
/// Every mutating call takes `now`, which must never go backwards
/// ([`Error::TimeWentBackwards`]). A peer whose last heartbeat (or join) is `ttl_ms` or
/// more in the past is *expired*: no query returns it, a heartbeat for it fails with
/// [`Error::UnknownPeer`], and [`Tracker::expire`] reclaims it.
#[derive(Debug)]
pub struct Tracker {
    config: TrackerConfig,
    hot: Vec<Option<Hot>>,
    cold: Vec<Cold>,
    free: Vec<u32>,
    #[allow(clippy::disallowed_types)] // see the `use`
    by_id: HashMap<PeerId, u32>,
    streams: BTreeMap<StreamId, Stream>,
    head: u32,
    tail: u32,
    last_now: Timestamp,
    work: QueryWork,
    stale: Vec<(f32, u32)>,
}

impl Tracker {
    /// An empty tracker. Fails with [`Error::BadConfig`] on a zero TTL, a pool factor
    /// below 1 (or not finite) or a zero `max_k`. A capacity above
    /// [`crate::index::MAX_POINTS`] (2^30 − 1) is lowered to it, so no stream's index can
    /// ever be full.
    #[allow(clippy::disallowed_types)] // see the `use` of HashMap
    pub fn new(config: TrackerConfig) -> Result<Self, Error> {
        if config.ttl_ms == 0 {
            return Err(Error::BadConfig { field: "ttl_ms", value: "0".into() });
        }
        if !(config.pool_factor.is_finite() && config.pool_factor >= 1.0 && config.pool_factor <= 64.0) {
            return Err(Error::BadConfig { field: "pool_factor", value: config.pool_factor.to_string() });
        }
        if config.max_k == 0 {
            return Err(Error::BadConfig { field: "max_k", value: "0".into() });
        }
        if config.query_evictions == 0 {
            return Err(Error::BadConfig { field: "query_evictions", value: "0".into() });
        }
        let capacity = config.capacity.min(MAX_POINTS as usize);
        Ok(Tracker {
            config: TrackerConfig { capacity, ..config },
            hot: Vec::new(),
            cold: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::default(),
            streams: BTreeMap::new(),
            head: NIL,
            tail: NIL,
            last_now: Timestamp::ZERO,
            work: QueryWork::default(),
            stale: Vec::new(),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// Number of registered (not yet reclaimed) peers.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no peer is registered.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Number of registered peers watching `stream` (expired ones included until
    /// [`Tracker::expire`] reclaims them).
    pub fn stream_len(&self, stream: StreamId) -> usize {
        self.streams.get(&stream).map_or(0, |s| s.registered)
    }

    /// The ranked queries' cumulative work counters.
    pub fn work(&self) -> QueryWork {
        self.work
    }

    /// The record of `id`, if registered (it may be expired but not yet reclaimed; see
    /// [`Tracker::is_live`]).
    pub fn get(&self, id: PeerId) -> Option<PeerView> {
        let slot = *self.by_id.get(&id)?;
        let h = self.hot(slot)?;
        Some(PeerView { info: self.info(slot, h), last_seen: h.last_seen, history: h.history })
    }

    /// Whether `id` is registered and not expired at `now`.
    pub fn is_live(&self, now: Timestamp, id: PeerId) -> bool {
        self.by_id.get(&id).and_then(|&s| self.hot(s)).is_some_and(|h| self.alive(h, now))
    }

    /// Registers a peer (or replaces the registration of the same id, keeping its
    /// history) and counts as its first heartbeat.
    pub fn join(&mut self, now: Timestamp, info: PeerInfo) -> Result<(), Error> {
        self.advance(now)?;
        let mut history = History::default();
        if let Some(&old) = self.by_id.get(&info.id) {
            if let Some(h) = self.hot(old) {
                history = h.history;
            }
            self.remove_slot(old);
        } else if self.by_id.len() >= self.config.capacity {
            return Err(Error::Full { capacity: self.config.capacity });
        }
        let hot = Hot {
            id: info.id,
            last_seen: now,
            history,
            asn: info.asn,
            upload_kbps: info.upload_kbps,
            ip: info.ip,
            indexed: true,
        };
        let cold = Cold { stream: info.stream, location: info.location, prev: NIL, next: NIL };
        let slot = match self.free.pop() {
            Some(s) => {
                self.hot[s as usize] = Some(hot);
                self.cold[s as usize] = cold;
                s
            }
            None => {
                self.hot.push(Some(hot));
                self.cold.push(cold);
                (self.hot.len() - 1) as u32
            }
        };
        let stream = self.streams.entry(info.stream).or_default();
        if let Err(e) = stream.index.insert(info.location.to_unit(), slot) {
            // Unreachable: a GeoPoint is on the unit sphere and the capacity is at most
            // MAX_POINTS.
            if stream.registered == 0 {
                self.streams.remove(&info.stream);
            }
            self.hot[slot as usize] = None;
            self.free.push(slot);
            return Err(e);
        }
        stream.registered += 1;
        self.push_back(slot);
        self.by_id.insert(info.id, slot);
        Ok(())
    }

    /// Refreshes `id`'s liveness. Fails with [`Error::UnknownPeer`] if it is not
    /// registered, or if it had already expired (it is then reclaimed and must join
    /// again).
    pub fn heartbeat(&mut self, now: Timestamp, id: PeerId) -> Result<(), Error> {
        self.advance(now)?;
        let slot = *self.by_id.get(&id).ok_or(Error::UnknownPeer(id))?;
        let expired = self.hot(slot).is_none_or(|h| !self.alive(h, now));
        if expired {
            self.remove_slot(slot);
            return Err(Error::UnknownPeer(id));
        }
        self.unlink(slot);
        if let Some(h) = self.hot[slot as usize].as_mut() {
            h.last_seen = now;
        }
        self.push_back(slot);
        Ok(())
    }

    /// Removes `id` at its own request; returns what it had declared.
    pub fn leave(&mut self, id: PeerId) -> Result<PeerInfo, Error> {
        let slot = *self.by_id.get(&id).ok_or(Error::UnknownPeer(id))?;
        let info = self.hot(slot).map(|h| self.info(slot, h)).ok_or(Error::UnknownPeer(id))?;
        self.remove_slot(slot);
        Ok(info)
    }

    /// Records how a transfer from `id` went (reported by a viewer).
    pub fn report(&mut self, id: PeerId, outcome: Outcome) -> Result<(), Error> {
        let slot = *self.by_id.get(&id).ok_or(Error::UnknownPeer(id))?;
        let h = self.hot[slot as usize].as_mut().ok_or(Error::UnknownPeer(id))?;
        h.history.record(outcome);
        Ok(())
    }

    /// Reclaims every peer expired at `now`, appending their ids to `out` in expiry
    /// order; returns how many. Runs in time proportional to that number (each removal
    /// costs one index deletion).
    pub fn expire_into(&mut self, now: Timestamp, out: &mut Vec<PeerId>) -> Result<usize, Error> {
        self.advance(now)?;
        let mut n = 0;
        while self.head != NIL {
            let head = self.head;
            let Some(h) = self.hot(head) else { break };
            if self.alive(h, now) {
                break;
            }
            out.push(h.id);
            self.remove_slot(head);
            n += 1;
        }
        Ok(n)
    }

    /// [`Tracker::expire_into`] into a fresh vector.
    pub fn expire(&mut self, now: Timestamp) -> Result<Vec<PeerId>, Error> {
        let mut out = Vec::new();
        self.expire_into(now, &mut out)?;
        Ok(out)
    }

    /// When the next registered peer expires, if any (the host's timer for
    /// [`Tracker::expire`]).
    pub fn next_expiry(&self) -> Option<Timestamp> {
        self.hot(self.head).map(|h| h.last_seen + self.config.ttl_ms)
    }

    /// The `k` best candidates for a viewer: the `ceil(k · pool_factor)` nearest live
    /// peers of the stream by great-circle distance, ranked by [`RankWeights`], best
    /// first. Never returns an expired peer or `query.exclude`. Fails with
    /// [`Error::BadK`] unless `1 <= k <= max_k` (checked before anything is allocated)
    /// and with [`Error::TimeWentBackwards`] if `now` is earlier than a time already
    /// seen (a query may evict expired peers from the index, so it moves the clock).
    ///
    /// Bounded work: expired peers not yet reclaimed by [`Tracker::expire`] are skipped
    /// and at most [`TrackerConfig::query_evictions`] of them (the nearest met) are
    /// removed from the index. A query runs at most two index searches: the pool (plus
    /// one for the excluded viewer), and, only if expired peers crowd it, the pool plus
    /// the eviction budget. In a neighbourhood holding more expired peers than that, the
    /// answer may hold fewer than the `k` best live peers until repeated queries (or
    /// `expire`) have cleaned it; [`Tracker::work`] counts the work.
    pub fn query(&mut self, now: Timestamp, query: &Query) -> Result<Vec<Candidate>, Error> {
        let mut out = Vec::new();
        self.query_into(now, query, &mut out)?;
        Ok(out)
    }

    /// [`Tracker::query`] into a caller-owned buffer (cleared first).
    pub fn query_into(
        &mut self,
        now: Timestamp,
        query: &Query,
        out: &mut Vec<Candidate>,
    ) -> Result<(), Error> {
        out.clear();
        if query.k == 0 || query.k > self.config.max_k {
            return Err(Error::BadK { k: query.k, max: self.config.max_k });
        }
        self.advance(now)?;
        self.work.queries += 1;
        let pool = ((query.k as f32) * self.config.pool_factor).ceil() as usize;
        let mut near = Vec::new();
        self.live_nearest_bounded(
            query.stream,
            &query.location.to_unit(),
            pool,
            query.exclude,
            now,
            &mut near,
        )?;
        let w = &self.config.weights;
        let per_km = 1.0 / w.distance_scale_km.max(f32::MIN_POSITIVE);
        let per_kbps = 1.0 / w.throughput_ref_kbps.max(f32::MIN_POSITIVE);
        let mut scored: Vec<(f32, f32, u32)> = Vec::with_capacity(near.len());
        for &(d2, slot) in &near {
            let Some(h) = self.hot(slot) else { continue };
            let kbps = if h.history.throughput_kbps > 0.0 {
                h.history.throughput_kbps
            } else {
                h.upload_kbps as f32
            };
            let mut score = w.distance / (1.0 + approx_km(d2) * per_km)
                + w.success * h.history.success_rate()
                + w.throughput * (kbps * per_kbps).min(1.0);
            if query.asn == Some(h.asn) {
                score += w.same_isp;
            }
            scored.push((score, d2, slot));
        }
        let better = |a: &(f32, f32, u32), b: &(f32, f32, u32)| {
            b.0.total_cmp(&a.0).then(a.1.total_cmp(&b.1)).then_with(|| self.id_of(a.2).cmp(&self.id_of(b.2)))
        };
        if scored.len() > query.k {
            scored.select_nth_unstable_by(query.k - 1, better);
            scored.truncate(query.k);
        }
        scored.sort_unstable_by(better);
        out.reserve(scored.len());
        for (score, d2, slot) in scored {
            if let Some(h) = self.hot(slot) {
                out.push(Candidate {
                    id: h.id,
                    ip: h.ip,
                    asn: h.asn,
                    upload_kbps: h.upload_kbps,
                    distance_km: chord2_to_km(d2) as f32,
                    score,
                });
            }
        }
        Ok(())
    }

    /// The `k` nearest live peers of `stream` to `location` (unranked), nearest first,
    /// with their squared chord distances ([`crate::geo::chord2`]). Excludes `exclude`.
    /// Exact (the reference the property tests compare with): unlike
    /// [`Tracker::query`] it evicts nothing and widens its search until it has `k` live
    /// peers, so its cost grows with the expired peers not yet reclaimed.
    pub fn nearest(
        &self,
        now: Timestamp,
        stream: StreamId,
        location: GeoPoint,
        k: usize,
        exclude: Option<PeerId>,
    ) -> Vec<(PeerId, f32)> {
        let Some(s) = self.streams.get(&stream) else { return Vec::new() };
        let mut near = Vec::new();
        if self.live_nearest(&s.index, &location.to_unit(), k, exclude, now, &mut near).is_err() {
            // Unreachable: a GeoPoint maps to a valid index query.
            return Vec::new();
        }
        near.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        near.iter().map(|&(d2, slot)| (self.id_of(slot), d2)).collect()
    }

    /// Estimated heap bytes held: the two record arrays, the id map, the free list and
    /// the spatial indexes (buckets counted at their allocated capacity). Divide by
    /// [`Tracker::len`] for bytes per peer.
    pub fn memory_bytes(&self) -> usize {
        use core::mem::size_of;
        let slab = self.hot.capacity() * size_of::<Option<Hot>>()
            + self.cold.capacity() * size_of::<Cold>()
            + self.free.capacity() * size_of::<u32>();
        // hashbrown: one (key, value) bucket plus one control byte per bucket.
        let map = self.by_id.capacity() * (size_of::<(PeerId, u32)>() + 1);
        let indexes: usize = self.streams.values().map(|s| s.index.memory_bytes()).sum();
        slab + map
            + indexes
            + self.streams.len() * size_of::<(StreamId, Stream)>()
            + self.stale.capacity() * 8
    }

    /// The `want` live entries of `index` nearest to `q` (never `exclude`), in no
    /// particular order, as `(chord², slot)`. One index search unless expired or excluded peers
    /// crowd the neighbourhood; then the search widens (doubling) until `want` live
    /// peers are found or the index is exhausted. The liveness checks read the 64-byte
    /// records of the candidates in one pass after the search, so their cache misses
    /// overlap.
    fn live_nearest(
        &self,
        index: &SphereIndex,
        q: &[f32; 3],
        want: usize,
        exclude: Option<PeerId>,
        now: Timestamp,
        out: &mut Vec<(f32, u32)>,
    ) -> Result<(), Error> {
        let mut n = want.saturating_add(usize::from(exclude.is_some()));
        loop {
            index.nearest_unsorted_into(q, n, out)?;
            let exhausted = out.len() < n;
            out.retain(|&(_, slot)| {
                self.hot(slot).is_some_and(|h| Some(h.id) != exclude && self.alive(h, now))
            });
            if out.len() >= want || exhausted {
                keep_nearest(out, want);
                return Ok(());
            }
            n = n.saturating_mul(2);
        }
    }

    /// The ranked query's search: at most two index searches and at most
    /// `query_evictions` evictions (see [`Tracker::query`]). Expired entries met are
    /// removed from the index (the nearest first, up to the budget).
    fn live_nearest_bounded(
        &mut self,
        stream: StreamId,
        q: &[f32; 3],
        want: usize,
        exclude: Option<PeerId>,
        now: Timestamp,
        out: &mut Vec<(f32, u32)>,
    ) -> Result<(), Error> {
        out.clear();
        let Some(s) = self.streams.get(&stream) else { return Ok(()) };
        let base = want.saturating_add(usize::from(exclude.is_some()));
        let mut stale = core::mem::take(&mut self.stale);
        stale.clear();
        let mut n = base;
        for round in 0..2 {
            self.work.searches += 1;
            s.index.nearest_unsorted_into(q, n, out)?;
            self.work.examined += out.len() as u64;
            let exhausted = out.len() < n;
            stale.clear();
            out.retain(|&(d2, slot)| match self.hot(slot) {
                Some(h) if self.alive(h, now) => Some(h.id) != exclude,
                Some(_) => {
                    stale.push((d2, slot));
                    false
                }
                None => false,
            });
            if out.len() >= want || exhausted || round == 1 {
                break;
            }
            n = base.saturating_add(self.config.query_evictions);
        }
        let budget = self.config.query_evictions;
        if stale.len() > budget {
            stale.select_nth_unstable_by(budget - 1, |a, b| a.0.total_cmp(&b.0));
            stale.truncate(budget);
        }
        for &(_, slot) in &stale {
            self.unindex(slot);
        }
        self.work.evicted += stale.len() as u64;
        self.stale = stale;
        keep_nearest(out, want);
        Ok(())
    }

    /// Removes a registered peer from its stream's spatial index (it stays registered
    /// and in the expiry list until [`Tracker::expire`] reclaims it).
    fn unindex(&mut self, slot: u32) {
        let Some(h) = self.hot.get_mut(slot as usize).and_then(Option::as_mut) else { return };
        if !h.indexed {
            return;
        }
        h.indexed = false;
        let c = self.cold[slot as usize];
        if let Some(s) = self.streams.get_mut(&c.stream) {
            // Bounded: a whole-tree rebuild, if the evictions left the tree sparse, waits
            // for `expire`.
            s.index.remove_local(c.location.to_unit(), slot);
        }
    }

    fn info(&self, slot: u32, h: &Hot) -> PeerInfo {
        let c = &self.cold[slot as usize];
        PeerInfo {
            id: h.id,
            stream: c.stream,
            location: c.location,
            ip: h.ip,
            asn: h.asn,
            upload_kbps: h.upload_kbps,
        }
    }

    fn id_of(&self, slot: u32) -> PeerId {
        self.hot(slot).map_or(PeerId(u64::MAX), |h| h.id)
    }

    fn hot(&self, slot: u32) -> Option<&Hot> {
        self.hot.get(slot as usize).and_then(Option::as_ref)
    }

    fn alive(&self, h: &Hot, now: Timestamp) -> bool {
        now < h.last_seen + self.config.ttl_ms
    }

    fn advance(&mut self, now: Timestamp) -> Result<(), Error> {
        if now < self.last_now {
            return Err(Error::TimeWentBackwards { now, last: self.last_now });
        }
        self.last_now = now;
        Ok(())
    }

    fn remove_slot(&mut self, slot: u32) {
        self.unlink(slot);
        if let Some(h) = self.hot.get_mut(slot as usize).and_then(Option::take) {
            self.by_id.remove(&h.id);
            let c = self.cold[slot as usize];
            if let Some(s) = self.streams.get_mut(&c.stream) {
                if h.indexed {
                    s.index.remove(c.location.to_unit(), slot);
                } else {
                    // The whole-tree rebuild a query's lazy eviction deferred, if due.
                    s.index.rebuild_if_sparse();
                }
                s.registered = s.registered.saturating_sub(1);
                if s.registered == 0 {
                    self.streams.remove(&c.stream);
                }
            }
            self.free.push(slot);
        }
    }

    fn unlink(&mut self, slot: u32) {
        let Some(c) = self.cold.get(slot as usize) else { return };
        let (prev, next) = (c.prev, c.next);
        match self.cold.get_mut(prev as usize) {
            Some(p) => p.next = next,
            None => self.head = next,
        }
        match self.cold.get_mut(next as usize) {
            Some(n) => n.prev = prev,
            None => self.tail = prev,
        }
        let c = &mut self.cold[slot as usize];
        c.prev = NIL;
        c.next = NIL;
    }

    fn push_back(&mut self, slot: u32) {
        let tail = self.tail;
        if let Some(c) = self.cold.get_mut(slot as usize) {
            c.prev = tail;
            c.next = NIL;
        }
        match self.cold.get_mut(tail as usize) {
            Some(t) => t.next = slot,
            None => self.head = slot,
        }
        self.tail = slot;
    }
}

/// Keeps the `want` nearest of `out` (any order).
fn keep_nearest(out: &mut Vec<(f32, u32)>, want: usize) {
    // Usually at most one too many (the viewer was not among them): drop the farthest.
    while out.len() > want && out.len() <= want + 2 {
        let far = (0..out.len()).fold(0, |m, i| if out[i].0 > out[m].0 { i } else { m });
        out.swap_remove(far);
    }
    if out.len() > want {
        if want == 0 {
            out.clear();
        } else {
            out.select_nth_unstable_by(want - 1, |a, b| a.0.total_cmp(&b.0));
            out.truncate(want);
        }
    }
}

/// Great-circle km from a squared unit chord, in `f32` for the ranking score:
/// `2R·asin(c/2) ≈ R·c·(1 + c²/24 + 3c⁴/640)` for c ≤ 1 (≈ 6,700 km; within 0.1%), exact
/// beyond. Monotone in `c2`, so it never reorders peers. Candidates report the exact
/// distance.
#[inline]
fn approx_km(c2: f32) -> f32 {
    let c2 = c2.max(0.0);
    if c2 > 1.0 {
        return chord2_to_km(c2) as f32;
    }
    let c = c2.sqrt();
    (crate::geo::EARTH_RADIUS_KM as f32) * c * (1.0 + c2 * (1.0 / 24.0 + c2 * (3.0 / 640.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn info(id: u64, lat: f64, lon: f64) -> PeerInfo {
        PeerInfo {
            id: PeerId(id),
            stream: StreamId(1),
            location: GeoPoint::new(lat, lon).unwrap(),
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, id as u8)),
            asn: Asn(id as u32 % 2),
            upload_kbps: 2000,
        }
    }

    fn q(lat: f64, lon: f64, k: usize) -> Query {
        Query { stream: StreamId(1), location: GeoPoint::new(lat, lon).unwrap(), asn: None, k, exclude: None }
    }

    #[test]
    fn heartbeat_keeps_alive_and_expiry_pops_in_order() {
        let mut t = Tracker::new(TrackerConfig { ttl_ms: 100, ..Default::default() }).unwrap();
        t.join(Timestamp(0), info(1, 0.0, 0.0)).unwrap();
        t.join(Timestamp(10), info(2, 0.0, 1.0)).unwrap();
        t.join(Timestamp(20), info(3, 0.0, 2.0)).unwrap();
        t.heartbeat(Timestamp(50), PeerId(1)).unwrap();
        assert_eq!(t.next_expiry(), Some(Timestamp(110)));
        assert_eq!(t.expire(Timestamp(109)).unwrap(), vec![]);
        // At 120, peer 2 (seen at 10) and 3 (seen at 20) are gone; 1 (seen at 50) lives.
        assert_eq!(t.expire(Timestamp(120)).unwrap(), vec![PeerId(2), PeerId(3)]);
        assert_eq!(t.len(), 1);
        assert!(t.is_live(Timestamp(149), PeerId(1)));
        assert!(!t.is_live(Timestamp(150), PeerId(1)));
        // A late heartbeat does not revive an expired peer.
        assert_eq!(t.heartbeat(Timestamp(150), PeerId(1)), Err(Error::UnknownPeer(PeerId(1))));
        assert!(t.is_empty());
        assert_eq!(t.next_expiry(), None);
    }

    #[test]
    fn approximate_km_tracks_haversine() {
        for c in [0.0f32, 1e-4, 0.01, 0.1, 0.5, 1.0, 1.5, 2.0] {
            let exact = chord2_to_km(c * c) as f32;
            let approx = approx_km(c * c);
            assert!((approx - exact).abs() <= exact * 0.002 + 1e-3, "c={c}: {approx} vs {exact}");
        }
    }

    #[test]
    fn time_never_goes_backwards() {
        let mut t = Tracker::new(TrackerConfig::default()).unwrap();
        t.join(Timestamp(5), info(1, 0.0, 0.0)).unwrap();
        assert!(matches!(t.heartbeat(Timestamp(4), PeerId(1)), Err(Error::TimeWentBackwards { .. })));
    }

    #[test]
    fn query_ranks_same_isp_and_success_and_excludes_viewer() {
        let mut t = Tracker::new(TrackerConfig { pool_factor: 3.0, ..Default::default() }).unwrap();
        for i in 0..10 {
            t.join(Timestamp(0), info(i, 10.0, i as f64 * 0.01)).unwrap();
        }
        let near =
            t.nearest(Timestamp(1), StreamId(1), GeoPoint::new(10.0, 0.0).unwrap(), 3, Some(PeerId(0)));
        assert_eq!(near.iter().map(|x| x.0).collect::<Vec<_>>(), vec![PeerId(1), PeerId(2), PeerId(3)]);
        // Peer 9 is the farthest but has a perfect record and the viewer's ISP.
        for _ in 0..20 {
            t.report(PeerId(9), Outcome::Success { throughput_kbps: 8000 }).unwrap();
            t.report(PeerId(1), Outcome::Failure).unwrap();
        }
        let mut query = q(10.0, 0.0, 3);
        query.asn = Some(Asn(1));
        query.exclude = Some(PeerId(0));
        let got = t.query(Timestamp(1), &query).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].id, PeerId(9));
        // Then the same-ISP (odd) peers, nearest first; never the failing peer 1.
        assert_eq!(got.iter().map(|c| c.id.0).collect::<Vec<_>>(), vec![9, 3, 5]);
        assert!(got.iter().all(|c| c.id != PeerId(0) && c.id != PeerId(1)));
        assert!(got.windows(2).all(|w| w[0].score >= w[1].score));
        assert!(matches!(t.query(Timestamp(1), &q(0.0, 0.0, 0)), Err(Error::BadK { .. })));
    }

    #[test]
    fn rejoin_moves_the_peer_and_keeps_history() {
        let mut t = Tracker::new(TrackerConfig::default()).unwrap();
        t.join(Timestamp(0), info(1, 0.0, 0.0)).unwrap();
        t.report(PeerId(1), Outcome::Failure).unwrap();
        t.join(Timestamp(1), info(1, 45.0, 45.0)).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t.get(PeerId(1)).unwrap().history.attempts, 1);
        let near = t.nearest(Timestamp(1), StreamId(1), GeoPoint::new(45.0, 45.0).unwrap(), 1, None);
        assert!(near[0].1 < 1e-9);
        assert_eq!(t.leave(PeerId(1)).unwrap().id, PeerId(1));
        assert_eq!(t.stream_len(StreamId(1)), 0);
        assert_eq!(t.leave(PeerId(1)), Err(Error::UnknownPeer(PeerId(1))));
    }

    #[test]
    fn capacity_is_enforced_and_duplicates_coexist() {
        let mut t = Tracker::new(TrackerConfig { capacity: 3, ..Default::default() }).unwrap();
        for i in 0..3 {
            t.join(Timestamp(0), info(i, 1.0, 1.0)).unwrap(); // identical coordinates
        }
        assert_eq!(t.join(Timestamp(0), info(9, 1.0, 1.0)), Err(Error::Full { capacity: 3 }));
        assert_eq!(t.query(Timestamp(0), &q(1.0, 1.0, 5)).unwrap().len(), 3);
        assert!(t.memory_bytes() > 0);
    }
}
