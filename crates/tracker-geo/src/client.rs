//! The intelligent player client: a sans-I/O machine (DESIGN.md section 2) that joins the
//! mesh through the tracker, tests and keeps the best neighbours, and schedules live
//! segments from peers or the CDN.
//!
//! Whitepaper v2.0, "Mesh streaming / Intelligent player client": the client "pings the
//! candidates for speed and availability", keeps the best as neighbours, and "pulls the
//! stream from peers as long as the local buffer is above a threshold, and from the CDN
//! otherwise".
//!
//! # Segment policy
//! For each missing segment from the playhead to the live edge, in order, with at most
//! `max_inflight` requests outstanding, the segment's *slack* is the media time left
//! before playback needs it (0 while stalled or before startup):
//! 1. slack ≥ `buffer_threshold_ms` and a neighbour that announced the segment has
//!    upload room and is expected to deliver before `slack − cdn_guard_ms` → request it
//!    from the neighbour expected to deliver soonest (segment bits over its measured,
//!    declared or assumed throughput, times one plus its requests in flight, plus its
//!    round trip; a little seeded jitter spreads load);
//! 2. slack < `buffer_threshold_ms` → request it from the CDN;
//! 3. otherwise wait for a neighbour to announce it, but no longer than a per-segment
//!    random *patience* in `0..=cdn_patience_ms` after the segment appeared at the CDN
//!    (and at least `join_grace_ms` after joining): then fetch it from the CDN and
//!    announce it. The patience is capped by what the live latency leaves
//!    (`(start_behind − 1) · segment_ms`). Viewers whose upload is below the stream bitrate
//!    always wait the full patience; the others draw it in `0..=patience · min(1, r ·
//!    seed_bias)`, `r` the share of their tracker candidates that declared a larger upload,
//!    so the strongest uploaders of each neighbourhood seed it first and everyone else
//!    pulls from them.
//!
//! A CDN request unanswered after `max(cdn_timeout_ms, 2 × mean CDN response)` is sent
//! again (loss). A `Data` from a peer is taken only if that peer was asked for that
//! segment, and only at the stream's segment size.
//!
//! A peer request that is not answered before `min(request_timeout_ms, slack −
//! cdn_guard_ms)` is a failure (reported to the tracker) and the segment is rescheduled,
//! by then usually from the CDN.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use primitives::{Machine, Timestamp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::Error;
use crate::geo::GeoPoint;
use crate::protocol::{Endpoint, MAX_REPORTS, Message, Report, WireCandidate, location_e6};
use crate::tracker::{Asn, Outcome, PeerId, StreamId};

/// Player settings. Times in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClientConfig {
    /// The live stream watched.
    pub stream: StreamId,
    /// When segment 0 started; segment `s` is complete at the CDN at
    /// `stream_start + (s + 1) · segment_ms`.
    pub stream_start: Timestamp,
    /// Media duration of one segment.
    pub segment_ms: u64,
    /// Bytes of one segment.
    pub segment_bytes: u32,
    /// How many segments behind the live edge playback starts (the live latency, ≥ 1).
    pub start_behind: u64,
    /// Contiguous segments buffered before playback starts (≥ 1, ≤ `start_behind`).
    pub startup_segments: u64,
    /// Below this much buffered media, segments come from the CDN.
    pub buffer_threshold_ms: u64,
    /// Most segment requests outstanding at once.
    pub max_inflight: usize,
    /// Most requests outstanding to one neighbour.
    pub max_inflight_per_peer: u32,
    /// Neighbours this client seeks.
    pub max_neighbours: usize,
    /// Extra inbound neighbours accepted beyond `max_neighbours`, so newcomers find room.
    pub inbound_extra: usize,
    /// Candidates asked of the tracker.
    pub candidates_k: u16,
    /// Heartbeat period.
    pub heartbeat_ms: u64,
    /// Candidate refresh period.
    pub refresh_ms: u64,
    /// Speed/availability test (ping) and neighbour refinement period.
    pub test_ms: u64,
    /// A neighbour silent this long is dropped.
    pub neighbour_timeout_ms: u64,
    /// Longest wait for a requested segment.
    pub request_timeout_ms: u64,
    /// A peer request is abandoned this long before the segment is needed.
    pub cdn_guard_ms: u64,
    /// A CDN request is retried after `max(cdn_timeout_ms, 2 × the mean CDN response
    /// time)` (at most `request_timeout_ms`): with loss, a request or a segment can
    /// vanish, and waiting the full request timeout would stall a short live latency.
    pub cdn_timeout_ms: u64,
    /// Seeding by upload: a viewer that can upload the bitrate and whose declared upload
    /// is exceeded by a share `r` of its tracker candidates draws its patience in
    /// `0..=cdn_patience_ms · min(1, r · seed_bias)`: the strongest of a neighbourhood
    /// fetches a fresh segment from the CDN at once, the top `1 / seed_bias` earlier than
    /// the rest, so the seeds are the viewers that can forward it (0: no seeding bias,
    /// every viewer waits the full patience; default 3).
    pub seed_bias: f32,
    /// Longest random wait for a neighbour to announce a fresh segment before taking it
    /// from the CDN (capped at `(start_behind − 1) · segment_ms`, what the live latency
    /// leaves).
    pub cdn_patience_ms: u64,
    /// After joining, segments that appeared before the neighbours could announce them
    /// wait at least this long for an announcement before going to the CDN.
    pub join_grace_ms: u64,
    /// Uploads are refused once this much upload work is queued.
    pub max_upload_backlog_ms: u64,
    /// Segments kept behind the playhead for serving neighbours.
    pub keep_segments: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            stream: StreamId(0),
            stream_start: Timestamp::ZERO,
            segment_ms: 1000,
            segment_bytes: 125_000,
            start_behind: 8,
            startup_segments: 2,
            buffer_threshold_ms: 1500,
            max_inflight: 4,
            max_inflight_per_peer: 2,
            max_neighbours: 10,
            inbound_extra: 10,
            candidates_k: 24,
            heartbeat_ms: 5000,
            refresh_ms: 15_000,
            test_ms: 2000,
            neighbour_timeout_ms: 6000,
            request_timeout_ms: 3000,
            cdn_guard_ms: 600,
            cdn_timeout_ms: 1000,
            seed_bias: 3.0,
            cdn_patience_ms: 5000,
            join_grace_ms: 1500,
            max_upload_backlog_ms: 1000,
            keep_segments: 12,
        }
    }
}

impl ClientConfig {
    /// Checks the values that the policy relies on.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field: &'static str, value: u64| Err(Error::BadConfig { field, value: value.to_string() });
        if self.segment_ms == 0 {
            return bad("segment_ms", 0);
        }
        if self.start_behind == 0 {
            return bad("start_behind", 0);
        }
        if self.startup_segments == 0 || self.startup_segments > self.start_behind {
            return bad("startup_segments", self.startup_segments);
        }
        if self.max_inflight == 0 {
            return bad("max_inflight", 0);
        }
        if self.max_inflight_per_peer == 0 {
            return bad("max_inflight_per_peer", 0);
        }
        for (field, v) in [
            ("heartbeat_ms", self.heartbeat_ms),
            ("refresh_ms", self.refresh_ms),
            ("test_ms", self.test_ms),
            ("request_timeout_ms", self.request_timeout_ms),
            ("cdn_timeout_ms", self.cdn_timeout_ms),
        ] {
            if v == 0 {
                return bad(field, v);
            }
        }
        if !(self.seed_bias.is_finite() && (0.0..=8.0).contains(&self.seed_bias)) {
            return Err(Error::BadConfig { field: "seed_bias", value: self.seed_bias.to_string() });
        }
        if self.candidates_k == 0 || usize::from(self.candidates_k) > crate::protocol::MAX_CANDIDATES {
            return bad("candidates_k", u64::from(self.candidates_k));
        }
        Ok(())
    }
}

/// Who this client is: the machine's context (DESIGN.md section 2).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Viewer {
    /// Its id (what the tracker and peers call it).
    pub id: PeerId,
    /// Where it is.
    pub location: GeoPoint,
    /// Its ISP.
    pub asn: Asn,
    /// Upload capacity it offers, kbit/s (0: leech only).
    pub upload_kbps: u32,
}

/// What the host feeds in.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// A message arrived.
    Message {
        /// From whom.
        from: Endpoint,
        /// What.
        msg: Message,
    },
    /// The time returned by [`Client::poll_timeout`] has come.
    Timeout,
    /// The user closes the player: say goodbye and stop.
    Leave,
}

/// Where a segment came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// A neighbour.
    Peer(PeerId),
    /// The CDN.
    Cdn,
}

impl Source {
    fn endpoint(self) -> Endpoint {
        match self {
            Source::Peer(p) => Endpoint::Peer(p),
            Source::Cdn => Endpoint::Cdn,
        }
    }
}

/// What the client reports to its host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Playback began, this long after the client was created.
    PlaybackStarted {
        /// Startup delay.
        startup_ms: u64,
    },
    /// Playback stopped: `segment` is missing.
    Stalled {
        /// The missing segment.
        segment: u64,
    },
    /// Playback resumed after a stall of `stall_ms`.
    Resumed {
        /// Length of the stall.
        stall_ms: u64,
    },
    /// A segment arrived.
    Fetched {
        /// The segment.
        segment: u64,
        /// From where.
        source: Source,
    },
    /// A neighbour was added.
    NeighbourAdded(PeerId),
    /// A neighbour was dropped (silent, refined away, or said bye).
    NeighbourDropped(PeerId),
}

/// What the client asks the host to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Send `msg` to `to`.
    Send {
        /// The destination.
        to: Endpoint,
        /// The message.
        msg: Message,
    },
    /// Something happened.
    Event(Event),
}

/// Counters for offload, quality of experience and upload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Bytes of new segments received from peers: only segments this client asked that
    /// peer for and did not hold yet (a copy of a held segment saves the CDN nothing and
    /// counts in `duplicate_bytes` only).
    pub bytes_from_peers: u64,
    /// Segment bytes received from the CDN (copies of held segments included: the CDN
    /// served them).
    pub bytes_from_cdn: u64,
    /// Bytes of segments received that were already held.
    pub duplicate_bytes: u64,
    /// Segment bytes uploaded to neighbours.
    pub bytes_uploaded: u64,
    /// Time from creation to the first played frame, once playing.
    pub startup_ms: Option<u64>,
    /// Media time played.
    pub played_ms: u64,
    /// Time spent stalled after startup (rebuffering).
    pub stall_ms: u64,
    /// Number of stalls.
    pub stalls: u32,
    /// Peer requests that failed (timed out or refused).
    pub peer_failures: u32,
}

impl ClientStats {
    /// Stalled time over (played + stalled) time.
    pub fn rebuffering_ratio(&self) -> f64 {
        let total = self.played_ms + self.stall_ms;
        if total == 0 { 0.0 } else { self.stall_ms as f64 / total as f64 }
    }
}

#[derive(Clone, Debug)]
struct Neighbour {
    haves: BTreeSet<u64>,
    prior_kbps: u32,
    tput_kbps: f32,
    rtt_ms: Option<u64>,
    inflight: u32,
    successes: u32,
    failures: u32,
    last_heard: Timestamp,
    added_at: Timestamp,
    busy_until: Timestamp,
    ping: Option<(u64, Timestamp)>,
}

impl Neighbour {
    fn est_kbps(&self) -> f32 {
        if self.tput_kbps > 0.0 { self.tput_kbps } else { self.prior_kbps as f32 }
    }
    fn quality(&self) -> f32 {
        (self.successes as f32 + 1.0) / ((self.successes + self.failures) as f32 + 2.0)
            * self.est_kbps().max(1.0)
    }
}

#[derive(Clone, Copy, Debug)]
struct Inflight {
    source: Source,
    sent_at: Timestamp,
    deadline: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Play {
    /// Buffering before the first frame.
    Startup,
    /// Playing `seg` until `ends`.
    Playing { seg: u64, ends: Timestamp },
    /// Waiting for `seg` since `since`.
    Stalled { seg: u64, since: Timestamp },
}

/// The player client machine. See the module docs for the policy.
#[derive(Debug)]
pub struct Client {
    cfg: ClientConfig,
    me: Viewer,
    rng: ChaCha8Rng,
    created: Timestamp,
    last_now: Timestamp,
    left: bool,
    out: VecDeque<Output>,
    next_heartbeat: Timestamp,
    next_refresh: Timestamp,
    next_test: Timestamp,
    reports: Vec<Report>,
    candidates: Vec<WireCandidate>,
    tried: BTreeSet<PeerId>,
    pending_hello: BTreeMap<PeerId, Timestamp>,
    neighbours: BTreeMap<PeerId, Neighbour>,
    nonce: u64,
    have: BTreeSet<u64>,
    inflight: BTreeMap<u64, Inflight>,
    /// Peer requests that timed out or were abandoned: a late answer to one of them is
    /// still accepted (once).
    late: BTreeSet<(u64, PeerId)>,
    patience: BTreeMap<u64, Timestamp>,
    first: u64,
    play: Play,
    fetch_wake: Option<Timestamp>,
    upload_free_at: Timestamp,
    uploads: VecDeque<(Timestamp, PeerId, u64)>,
    stats: ClientStats,
    /// Mean CDN response time (EWMA), once one was measured.
    cdn_response_ms: Option<f32>,
}

impl Client {
    /// A client joining at `now`: it sends `Join` to the tracker at once (the tracker
    /// answers with candidates) and starts `start_behind` segments behind the live edge.
    pub fn new(config: ClientConfig, viewer: Viewer, now: Timestamp, seed: [u8; 32]) -> Result<Self, Error> {
        config.validate()?;
        let live = live_edge(&config, now);
        let first = live.map_or(0, |e| (e + 1).saturating_sub(config.start_behind));
        let (lat_e6, lon_e6) = location_e6(&viewer.location);
        let mut c = Client {
            cfg: config,
            me: viewer,
            rng: ChaCha8Rng::from_seed(seed),
            created: now,
            last_now: now,
            left: false,
            out: VecDeque::new(),
            next_heartbeat: now + config.heartbeat_ms,
            next_refresh: now + config.refresh_ms,
            next_test: now + config.test_ms,
            reports: Vec::new(),
            candidates: Vec::new(),
            tried: BTreeSet::new(),
            pending_hello: BTreeMap::new(),
            neighbours: BTreeMap::new(),
            nonce: 0,
            have: BTreeSet::new(),
            inflight: BTreeMap::new(),
            late: BTreeSet::new(),
            patience: BTreeMap::new(),
            first,
            play: Play::Startup,
            fetch_wake: None,
            upload_free_at: now,
            uploads: VecDeque::new(),
            stats: ClientStats::default(),
            cdn_response_ms: None,
        };
        c.send(
            Endpoint::Tracker,
            Message::Join {
                stream: config.stream,
                lat_e6,
                lon_e6,
                asn: viewer.asn,
                upload_kbps: viewer.upload_kbps,
            },
        );
        c.step(now);
        Ok(c)
    }

    /// Processes one input at `now`.
    pub fn handle(&mut self, now: Timestamp, input: Input) -> Result<(), Error> {
        if now < self.last_now {
            return Err(Error::TimeWentBackwards { now, last: self.last_now });
        }
        if self.left {
            return Ok(());
        }
        match input {
            Input::Timeout => {}
            Input::Leave => {
                self.leave();
                self.last_now = now;
                return Ok(());
            }
            Input::Message { from, msg } => {
                msg.validate()?;
                match from {
                    Endpoint::Tracker => self.on_tracker(msg)?,
                    Endpoint::Cdn => self.on_cdn(now, msg)?,
                    Endpoint::Peer(p) => self.on_peer(now, p, msg)?,
                }
            }
        }
        self.last_now = now;
        self.step(now);
        Ok(())
    }

    /// The next output, in deterministic order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When the client next needs a [`Input::Timeout`].
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if self.left {
            return None;
        }
        let mut t = self.next_heartbeat.min(self.next_refresh).min(self.next_test);
        if let Some(&(at, _, _)) = self.uploads.front() {
            t = t.min(at);
        }
        if let Some(d) = self.inflight.values().map(|f| f.deadline).min() {
            t = t.min(d);
        }
        if let Play::Playing { ends, .. } = self.play {
            t = t.min(ends);
        }
        if let Some(w) = self.fetch_wake {
            t = t.min(w);
        }
        Some(t)
    }

    /// Counters so far.
    pub fn stats(&self) -> &ClientStats {
        &self.stats
    }

    /// This client's identity.
    pub fn viewer(&self) -> &Viewer {
        &self.me
    }

    /// Current neighbours, in id order.
    pub fn neighbours(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.neighbours.keys().copied()
    }

    /// Whether the client has left.
    pub fn has_left(&self) -> bool {
        self.left
    }

    /// Whether the segment is held.
    pub fn has_segment(&self, segment: u64) -> bool {
        self.have.contains(&segment)
    }

    /// Buffered media ahead of the playhead at `now`, in ms (0 before startup).
    pub fn buffer_ms(&self, now: Timestamp) -> u64 {
        match self.play {
            Play::Playing { seg, ends } => {
                ends.millis_since(now) + self.contiguous_from(seg + 1) * self.cfg.segment_ms
            }
            _ => 0,
        }
    }

    // ----- inputs -----

    fn on_tracker(&mut self, msg: Message) -> Result<(), Error> {
        match msg {
            Message::Peers { candidates } => {
                self.candidates = candidates.into_iter().filter(|c| c.id != self.me.id).collect();
                // A fresh list: candidates tried long ago may be tried again.
                self.tried.retain(|p| self.neighbours.contains_key(p) || self.pending_hello.contains_key(p));
                self.fill_neighbours();
                Ok(())
            }
            Message::Expired => {
                let (lat_e6, lon_e6) = location_e6(&self.me.location);
                let join = Message::Join {
                    stream: self.cfg.stream,
                    lat_e6,
                    lon_e6,
                    asn: self.me.asn,
                    upload_kbps: self.me.upload_kbps,
                };
                self.send(Endpoint::Tracker, join);
                Ok(())
            }
            other => Err(Error::UnexpectedMessage { kind: other.kind(), from: "tracker".into() }),
        }
    }

    fn on_cdn(&mut self, now: Timestamp, msg: Message) -> Result<(), Error> {
        match msg {
            Message::Data { segment, bytes } => {
                self.check_data(Source::Cdn, segment, bytes)?;
                self.on_data(now, Source::Cdn, segment, bytes);
                Ok(())
            }
            other => Err(Error::UnexpectedMessage { kind: other.kind(), from: "cdn".into() }),
        }
    }

    fn on_peer(&mut self, now: Timestamp, p: PeerId, msg: Message) -> Result<(), Error> {
        // Refuse before anything changes.
        match &msg {
            Message::Data { segment, bytes } => self.check_data(Source::Peer(p), *segment, *bytes)?,
            Message::Join { .. }
            | Message::Heartbeat { .. }
            | Message::GetPeers { .. }
            | Message::Leave
            | Message::Peers { .. }
            | Message::Expired => {
                return Err(Error::UnexpectedMessage { kind: msg.kind(), from: format!("{p:?}") });
            }
            _ => {}
        }
        if let Some(n) = self.neighbours.get_mut(&p) {
            n.last_heard = now;
        }
        match msg {
            Message::Hello { .. } => {
                let room = self.neighbours.len() < self.cfg.max_neighbours + self.cfg.inbound_extra;
                let accepted = room || self.neighbours.contains_key(&p);
                let newest = self.have.last().copied();
                self.send(Endpoint::Peer(p), Message::HelloAck { accepted, newest });
                if accepted {
                    self.add_neighbour(now, p, 0);
                }
            }
            Message::HelloAck { accepted, .. } => {
                let asked = self.pending_hello.remove(&p).is_some();
                if accepted
                    && asked
                    && self.neighbours.len() < self.cfg.max_neighbours + self.cfg.inbound_extra
                {
                    let prior = self.candidates.iter().find(|c| c.id == p).map_or(0, |c| c.upload_kbps);
                    self.add_neighbour(now, p, prior);
                } else if accepted && !self.neighbours.contains_key(&p) {
                    self.send(Endpoint::Peer(p), Message::Bye);
                }
            }
            Message::Ping { nonce } => {
                let newest = self.have.last().copied();
                self.send(Endpoint::Peer(p), Message::Pong { nonce, newest });
            }
            Message::Pong { nonce, .. } => {
                if let Some(n) = self.neighbours.get_mut(&p)
                    && let Some((sent_nonce, sent_at)) = n.ping
                    && sent_nonce == nonce
                {
                    n.rtt_ms = Some(now.millis_since(sent_at));
                    n.ping = None;
                }
            }
            Message::Have { segment } => {
                let floor = self.playhead().saturating_sub(self.cfg.keep_segments);
                if let Some(n) = self.neighbours.get_mut(&p)
                    && segment >= floor
                {
                    n.haves.insert(segment);
                }
            }
            Message::Request { segment } => self.on_request(now, p, segment),
            Message::Data { segment, bytes } => self.on_data(now, Source::Peer(p), segment, bytes),
            Message::Busy { segment } => {
                if self.inflight.get(&segment).is_some_and(|f| f.source == Source::Peer(p)) {
                    self.inflight.remove(&segment);
                    if let Some(n) = self.neighbours.get_mut(&p) {
                        n.inflight = n.inflight.saturating_sub(1);
                        n.busy_until = now + self.cfg.segment_ms / 2;
                        n.haves.remove(&segment);
                    }
                }
            }
            Message::Bye => self.drop_neighbour(p, false),
            // Refused before the match.
            other => return Err(Error::UnexpectedMessage { kind: other.kind(), from: format!("{p:?}") }),
        }
        Ok(())
    }

    fn on_request(&mut self, now: Timestamp, p: PeerId, segment: u64) {
        let backlog = self.upload_free_at.millis_since(now);
        if !self.have.contains(&segment)
            || self.me.upload_kbps == 0
            || backlog > self.cfg.max_upload_backlog_ms
        {
            self.send(Endpoint::Peer(p), Message::Busy { segment });
            return;
        }
        // kbit/s = bits per ms.
        let ms = (u64::from(self.cfg.segment_bytes) * 8).div_ceil(u64::from(self.me.upload_kbps));
        let done = self.upload_free_at.max(now) + ms;
        self.upload_free_at = done;
        self.uploads.push_back((done, p, segment));
    }

    /// Whether a `Data` may be taken: a peer's only if this client asked that peer for
    /// the segment (outstanding, or timed out and not yet answered); the CDN's always
    /// (the origin: what it pushes counts against the offload, never for it). Either
    /// way the payload must be the stream's segment size.
    fn check_data(&self, source: Source, segment: u64, bytes: u32) -> Result<(), Error> {
        let asked = self.inflight.get(&segment).is_some_and(|f| f.source == source);
        let solicited = match source {
            Source::Cdn => true,
            Source::Peer(p) => asked || self.late.contains(&(segment, p)),
        };
        if !solicited {
            let from = match source {
                Source::Peer(p) => format!("{p:?}"),
                Source::Cdn => "cdn".into(),
            };
            return Err(Error::UnexpectedMessage { kind: "Data", from });
        }
        if bytes != self.cfg.segment_bytes {
            return Err(Error::OutOfRange { field: "bytes", value: u64::from(bytes) });
        }
        Ok(())
    }

    /// Takes a `Data` accepted by [`Client::check_data`].
    fn on_data(&mut self, now: Timestamp, source: Source, segment: u64, bytes: u32) {
        if let Source::Peer(p) = source {
            self.late.remove(&(segment, p));
        }
        let expected = self.inflight.get(&segment).is_some_and(|f| f.source == source);
        if expected
            && source == Source::Cdn
            && let Some(f) = self.inflight.get(&segment)
        {
            let ms = now.millis_since(f.sent_at) as f32;
            self.cdn_response_ms = Some(self.cdn_response_ms.map_or(ms, |m| 0.8 * m + 0.2 * ms));
        }
        if expected
            && let Some(f) = self.inflight.remove(&segment)
            && let Source::Peer(p) = source
        {
            {
                let elapsed = now.millis_since(f.sent_at).max(1);
                let kbps = (u64::from(bytes) * 8 / elapsed).min(u64::from(u32::MAX)) as u32;
                if let Some(n) = self.neighbours.get_mut(&p) {
                    n.inflight = n.inflight.saturating_sub(1);
                    n.successes = n.successes.saturating_add(1);
                    n.tput_kbps =
                        if n.tput_kbps == 0.0 { kbps as f32 } else { 0.7 * n.tput_kbps + 0.3 * kbps as f32 };
                }
                self.report(p, Outcome::Success { throughput_kbps: kbps });
            }
        }
        let fresh = self.have.insert(segment);
        match source {
            Source::Peer(_) if fresh => self.stats.bytes_from_peers += u64::from(bytes),
            Source::Peer(_) => {}
            Source::Cdn => self.stats.bytes_from_cdn += u64::from(bytes),
        }
        if !fresh {
            self.stats.duplicate_bytes += u64::from(bytes);
            return;
        }
        self.out.push_back(Output::Event(Event::Fetched { segment, source }));
        if segment >= self.playhead() {
            let peers: Vec<PeerId> = self.neighbours.keys().copied().collect();
            for n in peers {
                if Source::Peer(n) != source {
                    self.send(Endpoint::Peer(n), Message::Have { segment });
                }
            }
        }
    }

    fn leave(&mut self) {
        self.send(Endpoint::Tracker, Message::Leave);
        let peers: Vec<PeerId> = self.neighbours.keys().copied().collect();
        for p in peers {
            self.send(Endpoint::Peer(p), Message::Bye);
        }
        self.left = true;
        self.neighbours.clear();
        self.inflight.clear();
        self.uploads.clear();
    }

    // ----- the periodic work -----

    fn step(&mut self, now: Timestamp) {
        if now >= self.next_heartbeat {
            let n = self.reports.len().min(MAX_REPORTS);
            let reports: Vec<Report> = self.reports.drain(..n).collect();
            self.send(Endpoint::Tracker, Message::Heartbeat { reports });
            self.next_heartbeat = now + self.cfg.heartbeat_ms;
        }
        if now >= self.next_refresh {
            self.send(Endpoint::Tracker, Message::GetPeers { k: self.cfg.candidates_k });
            self.next_refresh = now + self.cfg.refresh_ms;
        }
        if now >= self.next_test {
            self.test_neighbours(now);
            self.next_test = now + self.cfg.test_ms;
        }
        while let Some(&(at, p, segment)) = self.uploads.front() {
            if at > now {
                break;
            }
            self.uploads.pop_front();
            self.stats.bytes_uploaded += u64::from(self.cfg.segment_bytes);
            self.send(Endpoint::Peer(p), Message::Data { segment, bytes: self.cfg.segment_bytes });
        }
        let late: Vec<u64> =
            self.inflight.iter().filter(|(_, f)| f.deadline <= now).map(|(s, _)| *s).collect();
        for s in late {
            if let Some(f) = self.inflight.remove(&s)
                && let Source::Peer(p) = f.source
            {
                self.late.insert((s, p));
                self.stats.peer_failures += 1;
                if let Some(n) = self.neighbours.get_mut(&p) {
                    n.inflight = n.inflight.saturating_sub(1);
                    n.failures = n.failures.saturating_add(1);
                    n.haves.remove(&s);
                }
                self.report(p, Outcome::Failure);
            }
        }
        self.advance_playback(now);
        self.schedule_fetches(now);
        self.prune();
    }

    /// Speed/availability tests: drop silent neighbours, ping the rest, refine the set.
    fn test_neighbours(&mut self, now: Timestamp) {
        let silent: Vec<PeerId> = self
            .neighbours
            .iter()
            .filter(|(_, n)| now.millis_since(n.last_heard) >= self.cfg.neighbour_timeout_ms)
            .map(|(p, _)| *p)
            .collect();
        for p in silent {
            self.report(p, Outcome::Failure);
            self.drop_neighbour(p, true);
        }
        self.pending_hello.retain(|_, at| now.millis_since(*at) < self.cfg.request_timeout_ms);
        let peers: Vec<PeerId> = self.neighbours.keys().copied().collect();
        for p in peers {
            self.nonce = self.nonce.wrapping_add(1);
            let nonce = self.nonce;
            if let Some(n) = self.neighbours.get_mut(&p) {
                n.ping = Some((nonce, now));
            }
            self.send(Endpoint::Peer(p), Message::Ping { nonce });
        }
        // Refinement: with a full set and fresh candidates in hand, drop the weakest
        // neighbour that has had time to prove itself if it is far behind the best.
        let untried = self
            .candidates
            .iter()
            .any(|c| !self.tried.contains(&c.id) && !self.neighbours.contains_key(&c.id));
        if self.neighbours.len() >= self.cfg.max_neighbours && untried {
            let min_age = 3 * self.cfg.test_ms;
            let best = self.neighbours.values().map(Neighbour::quality).fold(0.0f32, f32::max);
            let worst = self
                .neighbours
                .iter()
                .filter(|(_, n)| now.millis_since(n.added_at) >= min_age)
                .min_by(|a, b| a.1.quality().total_cmp(&b.1.quality()).then(a.0.cmp(b.0)))
                .map(|(p, n)| (*p, n.quality()));
            if let Some((p, q)) = worst
                && q < 0.5 * best
            {
                self.drop_neighbour(p, true);
            }
        }
        self.fill_neighbours();
    }

    fn fill_neighbours(&mut self) {
        let want = self.cfg.max_neighbours.saturating_sub(self.neighbours.len() + self.pending_hello.len());
        let picks: Vec<PeerId> = self
            .candidates
            .iter()
            .filter(|c| !self.tried.contains(&c.id) && !self.neighbours.contains_key(&c.id))
            .take(want)
            .map(|c| c.id)
            .collect();
        for p in picks {
            self.tried.insert(p);
            self.pending_hello.insert(p, self.last_now);
            let newest = self.have.last().copied();
            self.send(Endpoint::Peer(p), Message::Hello { newest });
        }
    }

    fn add_neighbour(&mut self, now: Timestamp, p: PeerId, prior_kbps: u32) {
        if p == self.me.id || self.neighbours.contains_key(&p) {
            return;
        }
        self.tried.insert(p);
        self.neighbours.insert(
            p,
            Neighbour {
                haves: BTreeSet::new(),
                prior_kbps,
                tput_kbps: 0.0,
                rtt_ms: None,
                inflight: 0,
                successes: 0,
                failures: 0,
                last_heard: now,
                added_at: now,
                busy_until: now,
                ping: None,
            },
        );
        self.out.push_back(Output::Event(Event::NeighbourAdded(p)));
        // Tell the new neighbour what we hold.
        let floor = self.playhead();
        let held: Vec<u64> = self.have.range(floor..).copied().collect();
        for segment in held {
            self.send(Endpoint::Peer(p), Message::Have { segment });
        }
    }

    fn drop_neighbour(&mut self, p: PeerId, say_bye: bool) {
        if self.neighbours.remove(&p).is_none() {
            return;
        }
        if say_bye {
            self.send(Endpoint::Peer(p), Message::Bye);
        }
        let abandoned: Vec<u64> =
            self.inflight.iter().filter(|(_, f)| f.source == Source::Peer(p)).map(|(s, _)| *s).collect();
        for s in abandoned {
            self.inflight.remove(&s);
            self.late.insert((s, p));
        }
        self.uploads.retain(|u| u.1 != p);
        self.out.push_back(Output::Event(Event::NeighbourDropped(p)));
    }

    // ----- playback and scheduling -----

    fn playhead(&self) -> u64 {
        match self.play {
            Play::Startup => self.first,
            Play::Playing { seg, .. } | Play::Stalled { seg, .. } => seg,
        }
    }

    fn contiguous_from(&self, from: u64) -> u64 {
        let mut n = 0;
        for s in self.have.range(from..) {
            if *s != from + n {
                break;
            }
            n += 1;
        }
        n
    }

    fn advance_playback(&mut self, now: Timestamp) {
        loop {
            match self.play {
                Play::Startup => {
                    if self.contiguous_from(self.first) >= self.cfg.startup_segments {
                        let startup_ms = now.millis_since(self.created);
                        self.stats.startup_ms = Some(startup_ms);
                        self.out.push_back(Output::Event(Event::PlaybackStarted { startup_ms }));
                        self.play = Play::Playing { seg: self.first, ends: now + self.cfg.segment_ms };
                    } else {
                        return;
                    }
                }
                Play::Playing { seg, ends } => {
                    if now < ends {
                        return;
                    }
                    self.stats.played_ms += self.cfg.segment_ms;
                    let next = seg + 1;
                    if self.have.contains(&next) {
                        self.play = Play::Playing { seg: next, ends: ends + self.cfg.segment_ms };
                    } else {
                        self.stats.stalls += 1;
                        self.out.push_back(Output::Event(Event::Stalled { segment: next }));
                        self.play = Play::Stalled { seg: next, since: ends };
                    }
                }
                Play::Stalled { seg, since } => {
                    if !self.have.contains(&seg) {
                        return;
                    }
                    let stall_ms = now.millis_since(since);
                    self.stats.stall_ms += stall_ms;
                    self.out.push_back(Output::Event(Event::Resumed { stall_ms }));
                    self.play = Play::Playing { seg, ends: now + self.cfg.segment_ms };
                }
            }
        }
    }

    /// Media time before playback needs `s` (0 if it is needed now or already late).
    fn slack(&self, now: Timestamp, s: u64) -> u64 {
        let seg_ms = self.cfg.segment_ms;
        match self.play {
            Play::Startup => {
                let after_start = s.saturating_sub(self.first + self.cfg.startup_segments - 1);
                after_start * seg_ms
            }
            Play::Playing { seg, ends } => {
                if s <= seg {
                    0
                } else {
                    ends.millis_since(now) + (s - seg - 1) * seg_ms
                }
            }
            Play::Stalled { seg, .. } => s.saturating_sub(seg) * seg_ms,
        }
    }

    fn schedule_fetches(&mut self, now: Timestamp) {
        self.fetch_wake = None;
        let Some(edge) = live_edge(&self.cfg, now) else {
            self.fetch_wake = Some(available_at(&self.cfg, 0));
            return;
        };
        let mut wake = available_at(&self.cfg, edge + 1);
        let from = match self.play {
            Play::Playing { seg, .. } => seg + 1,
            _ => self.playhead(),
        };
        let mut s = from;
        while s <= edge && self.inflight.len() < self.cfg.max_inflight {
            if self.have.contains(&s) || self.inflight.contains_key(&s) {
                s += 1;
                continue;
            }
            let slack = self.slack(now, s);
            if slack >= self.cfg.buffer_threshold_ms {
                if let Some(p) = self.best_neighbour_for(now, s, slack) {
                    let deadline = now
                        + self.cfg.request_timeout_ms.min(slack.saturating_sub(self.cfg.cdn_guard_ms)).max(1);
                    self.request(now, s, Source::Peer(p), deadline);
                } else {
                    let patience = self.patience_for(s);
                    if now >= patience {
                        let deadline = now + self.cdn_timeout();
                        self.request(now, s, Source::Cdn, deadline);
                    } else {
                        let urgent_at = now + (slack - self.cfg.buffer_threshold_ms + 1);
                        wake = wake.min(patience).min(urgent_at);
                    }
                }
            } else {
                let deadline = now + self.cdn_timeout();
                self.request(now, s, Source::Cdn, deadline);
            }
            s += 1;
        }
        self.fetch_wake = Some(wake);
    }

    /// How long a CDN request may take before it is sent again.
    fn cdn_timeout(&self) -> u64 {
        let mean = self.cdn_response_ms.map_or(0, |m| (2.0 * m) as u64);
        self.cfg.cdn_timeout_ms.max(mean).min(self.cfg.request_timeout_ms)
    }

    fn patience_for(&mut self, s: u64) -> Timestamp {
        if let Some(t) = self.patience.get(&s) {
            return *t;
        }
        // A viewer that cannot upload one segment per segment time would be a poor seed
        // for its neighbourhood: it waits the full patience.
        let bitrate_kbps = (u64::from(self.cfg.segment_bytes) * 8).div_ceil(self.cfg.segment_ms);
        // Never longer than the live latency leaves: a segment appears at the CDN about
        // `start_behind − 1` segments before playback needs it.
        let patience = self
            .cfg
            .cdn_patience_ms
            .min(self.cfg.start_behind.saturating_sub(1).saturating_mul(self.cfg.segment_ms));
        let wait = if u64::from(self.me.upload_kbps) < bitrate_kbps {
            patience
        } else {
            // Rank by declared upload among the tracker's candidates: 0 for the strongest
            // of the neighbourhood, 1 for the weakest (or when no candidate is known).
            let stronger = self.candidates.iter().filter(|c| c.upload_kbps > self.me.upload_kbps).count();
            let rank =
                if self.candidates.is_empty() { 1.0 } else { stronger as f32 / self.candidates.len() as f32 };
            let share = if self.cfg.seed_bias > 0.0 { (rank * self.cfg.seed_bias).min(1.0) } else { 1.0 };
            let top = (patience as f32 * share) as u64;
            self.rng.random_range(0..=top)
        };
        let fresh = available_at(&self.cfg, s) + wait;
        let t = fresh.max(self.created + self.cfg.join_grace_ms);
        self.patience.insert(s, t);
        t
    }

    /// The neighbour expected to deliver `s` soonest among those that announced it and
    /// have room, if it can deliver before the CDN guard: expected time = segment bits
    /// over its measured (else declared, else the stream's) throughput, times one plus
    /// its requests in flight, plus its round trip. A neighbour that cannot make it in
    /// time (a weak uploader, a queue already long) is not asked. ±25% seeded jitter
    /// spreads the load among similar neighbours.
    fn best_neighbour_for(&mut self, now: Timestamp, s: u64, slack: u64) -> Option<PeerId> {
        let cap = self.cfg.max_inflight_per_peer;
        let bits = u64::from(self.cfg.segment_bytes) as f32 * 8.0;
        let bitrate = bits / self.cfg.segment_ms.max(1) as f32;
        let budget = slack.saturating_sub(self.cfg.cdn_guard_ms) as f32;
        let eligible: Vec<(PeerId, f32)> = self
            .neighbours
            .iter()
            .filter(|(_, n)| n.haves.contains(&s) && n.inflight < cap && n.busy_until <= now)
            .map(|(p, n)| {
                let kbps = if n.tput_kbps > 0.0 || n.prior_kbps > 0 { n.est_kbps() } else { bitrate };
                let ms = bits / kbps.max(1.0) * (1.0 + n.inflight as f32) + n.rtt_ms.unwrap_or(100) as f32;
                (*p, ms)
            })
            .filter(|&(_, ms)| ms <= budget)
            .collect();
        let mut best: Option<(f32, PeerId)> = None;
        for (p, ms) in eligible {
            let score = ms * self.rng.random_range(0.75f32..1.25);
            if best.is_none_or(|(b, _)| score < b) {
                best = Some((score, p));
            }
        }
        best.map(|(_, p)| p)
    }

    fn request(&mut self, now: Timestamp, s: u64, source: Source, deadline: Timestamp) {
        if let Source::Peer(p) = source
            && let Some(n) = self.neighbours.get_mut(&p)
        {
            n.inflight += 1;
        }
        self.inflight.insert(s, Inflight { source, sent_at: now, deadline });
        self.send(source.endpoint(), Message::Request { segment: s });
    }

    fn report(&mut self, peer: PeerId, outcome: Outcome) {
        if self.reports.len() < 4 * MAX_REPORTS {
            self.reports.push(Report { peer, outcome });
        }
    }

    fn prune(&mut self) {
        let floor = self.playhead().saturating_sub(self.cfg.keep_segments);
        if self.have.first().is_some_and(|s| *s < floor) {
            self.have = self.have.split_off(&floor);
        }
        if self.patience.first_key_value().is_some_and(|(s, _)| *s < floor) {
            self.patience = self.patience.split_off(&floor);
        }
        if self.late.first().is_some_and(|(s, _)| *s < floor) {
            self.late = self.late.split_off(&(floor, PeerId(0)));
        }
        for n in self.neighbours.values_mut() {
            if n.haves.first().is_some_and(|s| *s < floor) {
                n.haves = n.haves.split_off(&floor);
            }
        }
    }

    fn send(&mut self, to: Endpoint, msg: Message) {
        self.out.push_back(Output::Send { to, msg });
    }
}

/// The newest segment complete at the CDN at `now`, if any.
pub fn live_edge(cfg: &ClientConfig, now: Timestamp) -> Option<u64> {
    let since = now.millis_since(cfg.stream_start);
    (since / cfg.segment_ms.max(1)).checked_sub(1).filter(|_| now >= cfg.stream_start)
}

/// When segment `s` is complete at the CDN.
pub fn available_at(cfg: &ClientConfig, s: u64) -> Timestamp {
    cfg.stream_start + s.saturating_add(1).saturating_mul(cfg.segment_ms)
}

impl Machine for Client {
    type Input = Input;
    type Output = Output;
    type Error = Error;

    fn handle(&mut self, now: Timestamp, input: Input) -> Result<(), Error> {
        Client::handle(self, now, input)
    }

    fn poll_output(&mut self) -> Option<Output> {
        Client::poll_output(self)
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        Client::poll_timeout(self)
    }
}
