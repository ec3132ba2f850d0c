//! The mesh-delivery scenario on `netsim`: one tracker, one CDN and many viewers of one
//! live stream, spread over cities and ISPs, with churn and limited upload.
//! Shared by `tests/mesh.rs` (small, default) and `examples/mesh_scenario.rs` (2,000
//! viewers, `--release`).
//!
//! Three presets ([`ScenarioConfig::fair`] is the default):
//! * **fair** — an ABR ladder of 6 / 4.5 / 3 Mbit/s renditions (each its own swarm),
//!   realistic upload classes (1–20 Mbit/s offered to the mesh), 4 s of live latency,
//!   1% message loss, 25% of viewers behind NAT (no inbound connections), arrivals over
//!   100 s, half the viewers leaving and a third of those coming back, latency that
//!   grows with distance (peer to peer and to the nearest of three CDN PoPs), and a CDN
//!   whose total egress is capped at half the audience's demand;
//! * **harsh** — the setting: one 3 Mbit/s rendition against the generous upload
//!   classes (mean 3.1 Mbit/s), 4 s of live latency, 25% NAT, 1% loss, 50% churn,
//!   arrivals over 100 s (uniform 15–90 ms links, uncapped CDN);
//! * **generous** — the scenario of rounds 1–2: 1 Mbit/s, 8 s of live latency, no loss,
//!   no NAT, 15% leave once, joins over 30 s, uncapped CDN.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;

use netsim::{
    Dest, Latency, LinkConfig, Node, NodeId, NodeInput, Outgoing, Sim, SimConfig, WireSize, derive_seed,
};
use primitives::Timestamp;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tracker_geo::client::available_at;
use tracker_geo::{
    Asn, Client, ClientConfig, ClientStats, Endpoint, GeoPoint, Input, Message, Output, PeerId, StreamId,
    Tracker, TrackerConfig, TrackerService, Viewer,
};

pub const TRACKER: NodeId = 0;
pub const CDN: NodeId = 1;

/// One-way propagation: 1 ms per 100 km (fibre at 2/3 c over a route about 1.5x the
/// great circle).
const KM_PER_MS: f64 = 100.0;

/// A message on the simulated wire.
#[derive(Clone, Debug)]
pub struct Wire(pub Message);

impl WireSize for Wire {
    fn wire_size(&self) -> usize {
        self.0.wire_size()
    }
}

/// What every node knows about every other (read-only, shared).
pub struct Topology {
    /// Location of each node (the tracker's and the CDN's are unused).
    pub location: Vec<GeoPoint>,
    /// Segment size of each viewer's rendition.
    pub segment_bytes: Vec<u32>,
    /// CDN points of presence.
    pub pops: Vec<GeoPoint>,
    /// Whether latency grows with distance.
    pub geo: bool,
}

impl Topology {
    fn peer_delay(&self, a: NodeId, b: NodeId) -> u64 {
        if !self.geo || a < 2 || b < 2 {
            return 0;
        }
        (self.location[a].distance_km(&self.location[b]) / KM_PER_MS) as u64
    }

    fn cdn_delay(&self, v: NodeId) -> u64 {
        if !self.geo || v < 2 {
            return 0;
        }
        let km = self.pops.iter().map(|p| p.distance_km(&self.location[v])).fold(f64::INFINITY, f64::min);
        (km / KM_PER_MS) as u64
    }
}

/// The CDN: serves any segment once it exists, at `kbps` per request, through an egress
/// of `capacity_kbps` in total (FIFO; requests queue when it is saturated).
pub struct Cdn {
    cfg: ClientConfig,
    topo: Rc<Topology>,
    kbps: u64,
    capacity_kbps: Option<u64>,
    egress_free_us: u64,
    queue: BTreeSet<(Timestamp, u64, NodeId, u64)>,
    seq: u64,
    out: Vec<Outgoing<Wire>>,
    pub bytes_served: u64,
    /// Largest wait for the egress seen (ms).
    pub max_queue_ms: u64,
}

/// The tracker server.
pub struct TrackerNode {
    service: TrackerService,
    out: Vec<Outgoing<Wire>>,
}

/// A viewer that joins at `join_at`, may leave (gracefully or silently) at `leave_at`
/// and may come back at `rejoin_at` as a fresh player.
pub struct ViewerNode {
    me: NodeId,
    topo: Rc<Topology>,
    cfg: ClientConfig,
    viewer: Viewer,
    seed: [u8; 32],
    join_at: Timestamp,
    leave_at: Option<(Timestamp, bool)>,
    rejoin_at: Option<(Timestamp, Option<(Timestamp, bool)>)>,
    /// Behind NAT: peers reach it only after it contacted them.
    nat: bool,
    contacted: BTreeSet<NodeId>,
    inbox: BTreeMap<(Timestamp, u64), (NodeId, Message)>,
    seq: u64,
    pub client: Option<Client>,
    /// Stats of earlier sessions (before a rejoin).
    pub past: Vec<ClientStats>,
    pub gone: bool,
    out: Vec<Outgoing<Wire>>,
}

pub enum MeshNode {
    Tracker(TrackerNode),
    Cdn(Cdn),
    Viewer(Box<ViewerNode>),
}

fn ip_of(id: NodeId) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000u32 + id as u32))
}

fn endpoint_to_dest(e: Endpoint) -> NodeId {
    match e {
        Endpoint::Tracker => TRACKER,
        Endpoint::Cdn => CDN,
        Endpoint::Peer(p) => p.0 as NodeId,
    }
}

impl ViewerNode {
    fn drain(&mut self) {
        if let Some(c) = self.client.as_mut() {
            while let Some(o) = c.poll_output() {
                if let Output::Send { to, msg } = o {
                    let to = endpoint_to_dest(to);
                    if to >= 2 {
                        self.contacted.insert(to);
                    }
                    self.out.push(Outgoing { to: Dest::To(to), msg: Wire(msg) });
                }
            }
        }
    }

    fn receive(&mut self, now: Timestamp, from: NodeId, msg: Message) {
        if self.gone || self.client.is_none() {
            return; // nobody listening (not joined yet, or between sessions)
        }
        if from >= 2 && self.nat && !self.contacted.contains(&from) {
            return; // NAT: no inbound connection
        }
        let delay =
            if from == CDN { self.topo.cdn_delay(self.me) } else { self.topo.peer_delay(from, self.me) };
        self.seq += 1;
        self.inbox.insert((now + delay, self.seq), (from, msg));
    }

    fn tick(&mut self, now: Timestamp) {
        if self.gone {
            return;
        }
        if self.client.is_none() {
            if now >= self.join_at {
                self.client = Some(Client::new(self.cfg, self.viewer, now, self.seed).unwrap());
                self.drain();
            } else {
                return;
            }
        }
        if let Some((at, graceful)) = self.leave_at
            && now >= at
        {
            if let Some(mut c) = self.client.take() {
                if graceful {
                    c.handle(now, Input::Leave).unwrap();
                    self.client = Some(c);
                    self.drain();
                    c = self.client.take().unwrap();
                }
                self.past.push(*c.stats());
            }
            self.inbox.clear();
            match self.rejoin_at.take() {
                Some((back, leave_again)) => {
                    self.join_at = back;
                    self.leave_at = leave_again;
                    self.seed[0] ^= 0x5a;
                }
                None => self.gone = true,
            }
            return;
        }
        let Some(c) = self.client.as_mut() else { return };
        while let Some(entry) = self.inbox.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (from, msg) = entry.remove();
            let from = match from {
                TRACKER => Endpoint::Tracker,
                CDN => Endpoint::Cdn,
                p => Endpoint::Peer(PeerId(p as u64)),
            };
            // Hostile or stale input is rejected without changing the client.
            let _ = c.handle(now, Input::Message { from, msg });
        }
        if c.poll_timeout().is_some_and(|t| t <= now) {
            let _ = c.handle(now, Input::Timeout);
        }
        self.drain();
    }
}

impl Node for MeshNode {
    type Msg = Wire;

    fn handle(&mut self, now: Timestamp, input: NodeInput<Wire>) {
        match self {
            MeshNode::Tracker(t) => match input {
                NodeInput::Message { from, msg } => {
                    if let Ok(Some(reply)) = t.service.handle(now, PeerId(from as u64), ip_of(from), msg.0) {
                        t.out.push(Outgoing { to: Dest::To(from), msg: Wire(reply) });
                    }
                }
                NodeInput::Timeout => {
                    t.service.expire(now).unwrap();
                }
                NodeInput::Start => {}
            },
            MeshNode::Cdn(c) => {
                if let NodeInput::Message { from, msg: Wire(Message::Request { segment }) } = input {
                    let bytes = c.topo.segment_bytes.get(from).copied().unwrap_or(c.cfg.segment_bytes);
                    let bits = u64::from(bytes) * 8;
                    let ready = available_at(&c.cfg, segment).max(now + c.topo.cdn_delay(from));
                    let mut done = ready + bits.div_ceil(c.kbps);
                    if let Some(cap) = c.capacity_kbps {
                        let start_us = (ready.as_millis() * 1000).max(c.egress_free_us);
                        c.max_queue_ms =
                            c.max_queue_ms.max((start_us / 1000).saturating_sub(ready.as_millis()));
                        c.egress_free_us = start_us + bits * 1000 / cap;
                        done = done.max(Timestamp(c.egress_free_us.div_ceil(1000)));
                    }
                    c.seq += 1;
                    c.queue.insert((done, c.seq, from, u64::from(bytes) << 40 | segment));
                }
                while let Some(&first) = c.queue.first() {
                    if first.0 > now {
                        break;
                    }
                    c.queue.pop_first();
                    let (bytes, segment) = ((first.3 >> 40) as u32, first.3 & ((1 << 40) - 1));
                    c.bytes_served += u64::from(bytes);
                    let data = Message::Data { segment, bytes };
                    c.out.push(Outgoing { to: Dest::To(first.2), msg: Wire(data) });
                }
            }
            MeshNode::Viewer(v) => {
                if let NodeInput::Message { from, msg } = input {
                    v.receive(now, from, msg.0);
                }
                v.tick(now);
            }
        }
    }

    fn poll_send(&mut self) -> Option<Outgoing<Wire>> {
        match self {
            MeshNode::Tracker(t) => t.out.pop(),
            MeshNode::Cdn(c) => c.out.pop(),
            MeshNode::Viewer(v) => {
                if v.out.is_empty() {
                    None
                } else {
                    Some(v.out.remove(0))
                }
            }
        }
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        match self {
            MeshNode::Tracker(t) => t.service.next_expiry(),
            MeshNode::Cdn(c) => c.queue.first().map(|f| f.0),
            MeshNode::Viewer(v) => {
                if v.gone {
                    return None;
                }
                let inbox = v.inbox.first_key_value().map(|(k, _)| k.0);
                let own = match &v.client {
                    None => Some(v.join_at),
                    Some(c) => {
                        let t = c.poll_timeout();
                        match v.leave_at {
                            Some((at, _)) => Some(t.map_or(at, |t| t.min(at))),
                            None => t,
                        }
                    }
                };
                match (own, inbox) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
        }
    }
}

/// Scenario knobs.
#[derive(Clone, Debug)]
pub struct ScenarioConfig {
    pub label: &'static str,
    pub seed: u64,
    pub viewers: usize,
    /// Simulated time.
    pub duration_ms: u64,
    /// Viewers join uniformly over this window (after the first 8 s of the stream).
    pub join_window_ms: u64,
    /// Share of viewers that leave before the end (half gracefully, half silently).
    pub churn: f64,
    /// Share of the leavers that come back later as a fresh player.
    pub rejoin: f64,
    /// The player configuration (stream and segment size are set per rendition).
    pub client: ClientConfig,
    /// The ABR ladder: (bitrate kbit/s, share of viewers); each rendition is its own
    /// stream, so its own swarm.
    pub ladder: Vec<(u32, f64)>,
    /// Upload capacity offered to the mesh: (kbit/s, share of viewers).
    pub upload: Vec<(u32, f64)>,
    /// Share of viewers behind NAT.
    pub nat: f64,
    /// Message loss on every link.
    pub loss: f64,
    /// Base link latency.
    pub link_ms: (u64, u64),
    /// Latency grows with distance (peer to peer, viewer to nearest CDN PoP).
    pub geo_latency: bool,
    /// CDN speed per request.
    pub cdn_kbps: u64,
    /// CDN total egress as a share of the audience's mean demand (None: uncapped).
    pub cdn_capacity_share: Option<f64>,
}

/// The generous upload classes of rounds 1–2 (mean 3.1 Mbit/s).
pub const GENEROUS_UPLOAD: [(u32, f64); 4] = [(500, 0.2), (2000, 0.4), (4000, 0.3), (10_000, 0.1)];
/// Upload offered to the mesh by residential lines (mean 7.0 Mbit/s): DSL and mobile,
/// cable, fibre.
pub const REALISTIC_UPLOAD: [(u32, f64); 5] =
    [(1000, 0.15), (2500, 0.25), (5000, 0.25), (10_000, 0.2), (20_000, 0.15)];

impl ScenarioConfig {
    /// The default: see the module docs.
    pub fn fair() -> Self {
        ScenarioConfig {
            label: "fair",
            seed: 1,
            viewers: 2000,
            duration_ms: 120_000,
            join_window_ms: 100_000,
            churn: 0.5,
            rejoin: 0.3,
            client: ClientConfig {
                stream_start: Timestamp::ZERO,
                start_behind: 4,
                ..ClientConfig::default()
            },
            ladder: vec![(6000, 0.3), (4500, 0.3), (3000, 0.4)],
            upload: REALISTIC_UPLOAD.to_vec(),
            nat: 0.25,
            loss: 0.01,
            link_ms: (5, 20),
            geo_latency: true,
            cdn_kbps: 25_000,
            cdn_capacity_share: Some(0.5),
        }
    }

    /// The harsh setting.
    pub fn harsh() -> Self {
        ScenarioConfig {
            label: "harsh",
            ladder: vec![(3000, 1.0)],
            upload: GENEROUS_UPLOAD.to_vec(),
            rejoin: 0.0,
            link_ms: (15, 90),
            geo_latency: false,
            cdn_kbps: 20_000,
            cdn_capacity_share: None,
            ..ScenarioConfig::fair()
        }
    }

    /// Rounds 1–2's scenario.
    pub fn generous() -> Self {
        ScenarioConfig {
            label: "generous",
            join_window_ms: 30_000,
            churn: 0.15,
            rejoin: 0.0,
            client: ClientConfig {
                stream_start: Timestamp::ZERO,
                start_behind: 8,
                ..ClientConfig::default()
            },
            ladder: vec![(1000, 1.0)],
            nat: 0.0,
            loss: 0.0,
            ..ScenarioConfig::harsh()
        }
    }

    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "fair" => Some(Self::fair()),
            "harsh" => Some(Self::harsh()),
            "generous" => Some(Self::generous()),
            _ => None,
        }
    }

    fn mean_bitrate_kbps(&self) -> f64 {
        self.ladder.iter().map(|(k, s)| f64::from(*k) * s).sum::<f64>()
            / self.ladder.iter().map(|x| x.1).sum::<f64>()
    }
}

impl Default for ScenarioConfig {
    fn default() -> Self {
        ScenarioConfig::fair()
    }
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct ScenarioReport {
    pub label: &'static str,
    pub viewers: usize,
    pub sessions: usize,
    pub started: usize,
    pub bytes_from_peers: u64,
    pub bytes_from_cdn: u64,
    pub cdn_bytes_served: u64,
    pub cdn_max_queue_ms: u64,
    /// Share of segment bytes viewers received from peers.
    pub offload: f64,
    pub rebuffering_ratio: f64,
    pub startup_mean_ms: f64,
    pub startup_p95_ms: u64,
    pub stalls: u64,
    pub peer_failures: u64,
    pub messages: u64,
    pub trace_hash: u64,
}

/// Cities (lat, lon) and the ISPs (ASNs) serving each.
const CITIES: [(f64, f64); 12] = [
    (40.71, -74.01),
    (34.05, -118.24),
    (41.88, -87.63),
    (51.51, -0.13),
    (48.86, 2.35),
    (52.52, 13.40),
    (35.68, 139.69),
    (37.57, 126.98),
    (1.35, 103.82),
    (-23.55, -46.63),
    (19.08, 72.88),
    (-33.87, 151.21),
];

/// CDN points of presence: Ashburn, Frankfurt, Singapore.
const POPS: [(f64, f64); 3] = [(39.04, -77.49), (50.11, 8.68), (1.35, 103.82)];

fn pick<T: Copy>(rng: &mut ChaCha8Rng, classes: &[(T, f64)]) -> (usize, T) {
    let mut x: f64 = rng.random::<f64>() * classes.iter().map(|c| c.1).sum::<f64>();
    for (i, (v, share)) in classes.iter().enumerate() {
        if x < *share {
            return (i, *v);
        }
        x -= share;
    }
    (classes.len() - 1, classes[classes.len() - 1].0)
}

pub fn build(cfg: &ScenarioConfig) -> Sim<MeshNode> {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x7261_636b);
    let link = LinkConfig {
        latency: Latency::Uniform { min_ms: cfg.link_ms.0, max_ms: cfg.link_ms.1 },
        loss: cfg.loss,
        ..LinkConfig::default()
    };
    let mut sim = Sim::new(SimConfig { seed: cfg.seed, default_link: link, max_steps: u64::MAX / 2 });
    // Draw every viewer first: the topology is shared by all nodes.
    struct Draw {
        viewer: Viewer,
        rendition: usize,
        nat: bool,
        join_at: Timestamp,
        leave_at: Option<(Timestamp, bool)>,
        rejoin_at: Option<(Timestamp, Option<(Timestamp, bool)>)>,
    }
    let first_id = 2;
    let mut draws = Vec::with_capacity(cfg.viewers);
    for i in 0..cfg.viewers {
        let id = first_id + i;
        let (city, (lat, lon)) = pick(&mut rng, &CITIES.map(|c| (c, 1.0)));
        let location =
            GeoPoint::new(lat + rng.random_range(-0.5..0.5), lon + rng.random_range(-0.5..0.5)).unwrap();
        let asn = Asn(city as u32 * 10 + rng.random_range(0..3));
        let (_, upload_kbps) = pick(&mut rng, &cfg.upload);
        let (rendition, _) = pick(&mut rng, &cfg.ladder);
        let nat = rng.random_bool(cfg.nat);
        let join_at = Timestamp(cfg.client.segment_ms * 8 + rng.random_range(0..cfg.join_window_ms.max(1)));
        let end = cfg.duration_ms;
        let leaves = (i as f64 / cfg.viewers as f64) < cfg.churn;
        let leave_at = leaves.then(|| {
            let at = join_at + rng.random_range(10_000..end.saturating_sub(join_at.as_millis()).max(10_001));
            (at, rng.random_bool(0.5))
        });
        let rejoin_at = match leave_at {
            Some((at, _)) if rng.random_bool(cfg.rejoin) && at.as_millis() + 5_000 < end => {
                Some((at + rng.random_range(2_000..20_000), None))
            }
            _ => None,
        };
        draws.push(Draw {
            viewer: Viewer { id: PeerId(id as u64), location, asn, upload_kbps },
            rendition,
            nat,
            join_at,
            leave_at,
            rejoin_at,
        });
    }
    let unused = GeoPoint::new(0.0, 0.0).unwrap();
    let seg_bytes = |kbps: u32| (u64::from(kbps) * cfg.client.segment_ms / 8).min(u64::from(u32::MAX)) as u32;
    let topo = Rc::new(Topology {
        location: [unused, unused].into_iter().chain(draws.iter().map(|d| d.viewer.location)).collect(),
        segment_bytes: [0, 0]
            .into_iter()
            .chain(draws.iter().map(|d| seg_bytes(cfg.ladder[d.rendition].0)))
            .collect(),
        pops: POPS.iter().map(|&(a, b)| GeoPoint::new(a, b).unwrap()).collect(),
        geo: cfg.geo_latency,
    });
    let tracker =
        Tracker::new(TrackerConfig { ttl_ms: 3 * cfg.client.heartbeat_ms, ..TrackerConfig::default() })
            .unwrap();
    sim.add_node(MeshNode::Tracker(TrackerNode {
        service: TrackerService::new(tracker, cfg.client.candidates_k.into()),
        out: Vec::new(),
    }));
    let demand_kbps = cfg.viewers as f64 * cfg.mean_bitrate_kbps();
    sim.add_node(MeshNode::Cdn(Cdn {
        cfg: cfg.client,
        topo: topo.clone(),
        kbps: cfg.cdn_kbps,
        capacity_kbps: cfg.cdn_capacity_share.map(|s| (demand_kbps * s).max(1.0) as u64),
        egress_free_us: 0,
        queue: BTreeSet::new(),
        seq: 0,
        out: Vec::new(),
        bytes_served: 0,
        max_queue_ms: 0,
    }));
    for d in draws {
        let id = sim.len();
        let client = ClientConfig {
            stream: StreamId(d.rendition as u64),
            segment_bytes: topo.segment_bytes[id],
            ..cfg.client
        };
        sim.add_node(MeshNode::Viewer(Box::new(ViewerNode {
            me: id,
            topo: topo.clone(),
            cfg: client,
            viewer: d.viewer,
            seed: derive_seed(cfg.seed, id),
            join_at: d.join_at,
            leave_at: d.leave_at,
            rejoin_at: d.rejoin_at,
            nat: d.nat,
            contacted: BTreeSet::new(),
            inbox: BTreeMap::new(),
            seq: 0,
            client: None,
            past: Vec::new(),
            gone: false,
            out: Vec::new(),
        })));
    }
    sim
}

pub fn run(cfg: &ScenarioConfig) -> ScenarioReport {
    let mut sim = build(cfg);
    sim.run_until(Timestamp(cfg.duration_ms)).unwrap_or_else(|e| panic!("scenario failed: {e}"));
    report(&sim, cfg)
}

pub fn report(sim: &Sim<MeshNode>, cfg: &ScenarioConfig) -> ScenarioReport {
    let mut total = ClientStats::default();
    let mut startups = Vec::new();
    let mut sessions = 0;
    let mut cdn_bytes_served = 0;
    let mut cdn_max_queue_ms = 0;
    for n in sim.nodes() {
        match n {
            MeshNode::Viewer(v) => {
                for s in v.past.iter().chain(v.client.as_ref().map(|c| c.stats())) {
                    sessions += 1;
                    total.bytes_from_peers += s.bytes_from_peers;
                    total.bytes_from_cdn += s.bytes_from_cdn;
                    total.played_ms += s.played_ms;
                    total.stall_ms += s.stall_ms;
                    total.stalls += s.stalls;
                    total.peer_failures += s.peer_failures;
                    if let Some(ms) = s.startup_ms {
                        startups.push(ms);
                    }
                }
            }
            MeshNode::Cdn(c) => {
                cdn_bytes_served = c.bytes_served;
                cdn_max_queue_ms = c.max_queue_ms;
            }
            MeshNode::Tracker(_) => {}
        }
    }
    startups.sort_unstable();
    let received = (total.bytes_from_peers + total.bytes_from_cdn).max(1);
    ScenarioReport {
        label: cfg.label,
        viewers: cfg.viewers,
        sessions,
        started: startups.len(),
        bytes_from_peers: total.bytes_from_peers,
        bytes_from_cdn: total.bytes_from_cdn,
        cdn_bytes_served,
        cdn_max_queue_ms,
        offload: total.bytes_from_peers as f64 / received as f64,
        rebuffering_ratio: total.rebuffering_ratio(),
        startup_mean_ms: startups.iter().sum::<u64>() as f64 / startups.len().max(1) as f64,
        startup_p95_ms: startups.get(startups.len() * 95 / 100).copied().unwrap_or(0),
        stalls: u64::from(total.stalls),
        peer_failures: u64::from(total.peer_failures),
        messages: sim.totals().nodes.msgs_sent,
        trace_hash: sim.trace_hash(),
    }
}
