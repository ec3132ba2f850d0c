//! The mesh-delivery scenario on `netsim`: one tracker, one CDN edge and many viewers of
//! one live stream, spread over cities and ISPs, with churn and limited upload.
//! Shared by `tests/mesh.rs` (small, default) and `examples/mesh_scenario.rs` (2,000
//! viewers, `--release`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use netsim::{
    Dest, Latency, LinkConfig, Node, NodeId, NodeInput, Outgoing, Sim, SimConfig, WireSize, derive_seed,
};
use primitives::Timestamp;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tracker_geo::client::available_at;
use tracker_geo::{
    Asn, Client, ClientConfig, ClientStats, Endpoint, GeoPoint, Input, Message, Output, PeerId, Tracker,
    TrackerConfig, TrackerService, Viewer,
};

pub const TRACKER: NodeId = 0;
pub const CDN: NodeId = 1;

/// A message on the simulated wire.
#[derive(Clone, Debug)]
pub struct Wire(pub Message);

impl WireSize for Wire {
    fn wire_size(&self) -> usize {
        self.0.wire_size()
    }
}

/// The CDN edge: serves any segment once it exists, at `kbps` per request.
pub struct Cdn {
    cfg: ClientConfig,
    kbps: u64,
    queue: BTreeSet<(Timestamp, u64, NodeId, u64)>,
    seq: u64,
    out: Vec<Outgoing<Wire>>,
    pub bytes_served: u64,
}

/// The tracker server.
pub struct TrackerNode {
    service: TrackerService,
    out: Vec<Outgoing<Wire>>,
}

/// A viewer that joins at `join_at` and leaves (gracefully or silently) at `leave_at`.
pub struct ViewerNode {
    cfg: ClientConfig,
    viewer: Viewer,
    seed: [u8; 32],
    join_at: Timestamp,
    leave_at: Option<(Timestamp, bool)>,
    pub client: Option<Client>,
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
                    self.out.push(Outgoing { to: Dest::To(endpoint_to_dest(to)), msg: Wire(msg) });
                }
            }
        }
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
                    let ready = available_at(&c.cfg, segment).max(now);
                    let ms = (u64::from(c.cfg.segment_bytes) * 8).div_ceil(c.kbps);
                    c.seq += 1;
                    c.queue.insert((ready + ms, c.seq, from, segment));
                }
                while let Some(&first) = c.queue.first() {
                    if first.0 > now {
                        break;
                    }
                    c.queue.pop_first();
                    c.bytes_served += u64::from(c.cfg.segment_bytes);
                    let data = Message::Data { segment: first.3, bytes: c.cfg.segment_bytes };
                    c.out.push(Outgoing { to: Dest::To(first.2), msg: Wire(data) });
                }
            }
            MeshNode::Viewer(v) => {
                if v.gone {
                    return;
                }
                if v.client.is_none() {
                    if now >= v.join_at {
                        v.client = Some(Client::new(v.cfg, v.viewer, now, v.seed).unwrap());
                    }
                } else if let Some((at, graceful)) = v.leave_at
                    && now >= at
                {
                    if graceful && let Some(c) = v.client.as_mut() {
                        c.handle(now, Input::Leave).unwrap();
                        v.drain();
                    }
                    v.gone = true;
                    return;
                } else if let Some(c) = v.client.as_mut() {
                    let input = match input {
                        NodeInput::Message { from, msg } => {
                            let from = match from {
                                TRACKER => Endpoint::Tracker,
                                CDN => Endpoint::Cdn,
                                p => Endpoint::Peer(PeerId(p as u64)),
                            };
                            Input::Message { from, msg: msg.0 }
                        }
                        _ => Input::Timeout,
                    };
                    // Hostile or stale input is rejected without changing the client.
                    let _ = c.handle(now, input);
                }
                v.drain();
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
                match &v.client {
                    None => Some(v.join_at),
                    Some(c) => {
                        let t = c.poll_timeout();
                        match v.leave_at {
                            Some((at, _)) => Some(t.map_or(at, |t| t.min(at))),
                            None => t,
                        }
                    }
                }
            }
        }
    }
}

/// Scenario knobs.
#[derive(Clone, Debug)]
pub struct ScenarioConfig {
    pub seed: u64,
    pub viewers: usize,
    /// Simulated time.
    pub duration_ms: u64,
    /// Viewers join uniformly over this window.
    pub join_window_ms: u64,
    /// Share of viewers that leave before the end (half gracefully, half silently).
    pub churn: f64,
    pub client: ClientConfig,
    pub cdn_kbps: u64,
}

impl Default for ScenarioConfig {
    fn default() -> Self {
        ScenarioConfig {
            seed: 1,
            viewers: 2000,
            duration_ms: 120_000,
            join_window_ms: 30_000,
            churn: 0.15,
            client: ClientConfig { stream_start: Timestamp::ZERO, ..ClientConfig::default() },
            cdn_kbps: 20_000,
        }
    }
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct ScenarioReport {
    pub viewers: usize,
    pub started: usize,
    pub bytes_from_peers: u64,
    pub bytes_from_cdn: u64,
    pub cdn_bytes_served: u64,
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

/// Upload capacity classes (kbit/s) and their shares: many peers can upload less than
/// the 1 Mbit/s stream.
const UPLOAD: [(u32, f64); 4] = [(500, 0.2), (2000, 0.4), (4000, 0.3), (10_000, 0.1)];

pub fn build(cfg: &ScenarioConfig) -> Sim<MeshNode> {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x7261_636b);
    let link = LinkConfig { latency: Latency::Uniform { min_ms: 15, max_ms: 90 }, ..LinkConfig::default() };
    let mut sim = Sim::new(SimConfig { seed: cfg.seed, default_link: link, ..SimConfig::default() });
    let tracker =
        Tracker::new(TrackerConfig { ttl_ms: 3 * cfg.client.heartbeat_ms, ..TrackerConfig::default() })
            .unwrap();
    sim.add_node(MeshNode::Tracker(TrackerNode {
        service: TrackerService::new(tracker, cfg.client.candidates_k.into()),
        out: Vec::new(),
    }));
    sim.add_node(MeshNode::Cdn(Cdn {
        cfg: cfg.client,
        kbps: cfg.cdn_kbps,
        queue: BTreeSet::new(),
        seq: 0,
        out: Vec::new(),
        bytes_served: 0,
    }));
    for i in 0..cfg.viewers {
        let id = sim.len();
        let (lat, lon) = CITIES[rng.random_range(0..CITIES.len())];
        let city = CITIES.iter().position(|c| *c == (lat, lon)).unwrap() as u32;
        let location =
            GeoPoint::new(lat + rng.random_range(-0.5..0.5), lon + rng.random_range(-0.5..0.5)).unwrap();
        let asn = Asn(city * 10 + rng.random_range(0..3));
        let mut x: f64 = rng.random();
        let mut upload_kbps = UPLOAD[UPLOAD.len() - 1].0;
        for (kbps, share) in UPLOAD {
            if x < share {
                upload_kbps = kbps;
                break;
            }
            x -= share;
        }
        let join_at = Timestamp(cfg.client.segment_ms * 8 + rng.random_range(0..cfg.join_window_ms.max(1)));
        let leave_at = (i as f64 / cfg.viewers as f64) < cfg.churn;
        let leave_at = leave_at.then(|| {
            let at = join_at
                + rng.random_range(10_000..cfg.duration_ms.saturating_sub(join_at.as_millis()).max(10_001));
            (at, rng.random_bool(0.5))
        });
        sim.add_node(MeshNode::Viewer(Box::new(ViewerNode {
            cfg: cfg.client,
            viewer: Viewer { id: PeerId(id as u64), location, asn, upload_kbps },
            seed: derive_seed(cfg.seed, id),
            join_at,
            leave_at,
            client: None,
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
    let mut cdn_bytes_served = 0;
    for n in sim.nodes() {
        match n {
            MeshNode::Viewer(v) => {
                if let Some(c) = &v.client {
                    let s = c.stats();
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
            MeshNode::Cdn(c) => cdn_bytes_served = c.bytes_served,
            MeshNode::Tracker(_) => {}
        }
    }
    startups.sort_unstable();
    let received = (total.bytes_from_peers + total.bytes_from_cdn).max(1);
    ScenarioReport {
        viewers: cfg.viewers,
        started: startups.len(),
        bytes_from_peers: total.bytes_from_peers,
        bytes_from_cdn: total.bytes_from_cdn,
        cdn_bytes_served,
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
