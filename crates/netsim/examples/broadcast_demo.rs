//! A toy broadcast protocol on 1,000 simulated nodes, with message loss and a partition
//! that heals: eager push to a few neighbours plus push-pull anti-entropy.
//!
//! ```text
//! cargo run --release -p netsim --example broadcast_demo -- [--nodes N] [--seed S] [--loss P]
//! ```
//!
//! Prints how many nodes received each broadcast and how fast, the traffic per node, and
//! the simulator's own speed. The same seed prints the same figures (except wall time).
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::time::Instant;

use netsim::{Dest, Latency, LinkConfig, Node, NodeId, NodeInput, Outgoing, Sim, SimConfig, WireSize};
use primitives::Timestamp;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const PAYLOAD: usize = 256;
const BROADCASTS: u32 = 20;
const FANOUT: usize = 6;

#[derive(Clone, Debug)]
enum Msg {
    /// A broadcast payload, numbered by the origin, with its birth time.
    Data { seq: u32, born: u64 },
    /// Anti-entropy: "here is what I have" (bit i = broadcast i).
    Digest { have: u64 },
}

impl WireSize for Msg {
    fn wire_size(&self) -> usize {
        match self {
            Msg::Data { .. } => 12 + PAYLOAD,
            Msg::Digest { .. } => 8,
        }
    }
}

struct Gossip {
    neighbours: Vec<NodeId>,
    origin: bool,
    next_broadcast: u32,
    have: BTreeMap<u32, (u64, u64)>, // seq -> (born, first received)
    next_origin: Option<Timestamp>,
    next_sync: Timestamp,
    rng: ChaCha8Rng,
    out: Vec<Outgoing<Msg>>,
}

impl Gossip {
    fn mask(&self) -> u64 {
        self.have.keys().fold(0u64, |m, &s| m | (1 << s))
    }

    fn accept(&mut self, now: Timestamp, seq: u32, born: u64) {
        if self.have.contains_key(&seq) {
            return;
        }
        self.have.insert(seq, (born, now.as_millis()));
        let peers: Vec<NodeId> = self.neighbours.choose_multiple(&mut self.rng, FANOUT).copied().collect();
        self.out.push(Outgoing { to: Dest::Many(peers), msg: Msg::Data { seq, born } });
    }
}

impl Node for Gossip {
    type Msg = Msg;

    fn handle(&mut self, now: Timestamp, input: NodeInput<Msg>) {
        match input {
            NodeInput::Start => {
                self.next_sync = now + self.rng.random_range(100..300);
                if self.origin {
                    self.next_origin = Some(now + 100);
                }
            }
            NodeInput::Timeout => {
                if self.next_origin.is_some_and(|t| t <= now) {
                    let seq = self.next_broadcast;
                    self.next_broadcast += 1;
                    self.accept(now, seq, now.as_millis());
                    self.next_origin = (self.next_broadcast < BROADCASTS).then(|| now + 100);
                }
                if self.next_sync <= now {
                    if let Some(&peer) = self.neighbours.choose(&mut self.rng) {
                        self.out
                            .push(Outgoing { to: Dest::To(peer), msg: Msg::Digest { have: self.mask() } });
                    }
                    self.next_sync = now + 200;
                }
            }
            NodeInput::Message { from, msg } => match msg {
                Msg::Data { seq, born } => self.accept(now, seq, born),
                Msg::Digest { have } => {
                    for (&seq, &(born, _)) in &self.have {
                        if have & (1 << seq) == 0 {
                            self.out.push(Outgoing { to: Dest::To(from), msg: Msg::Data { seq, born } });
                        }
                    }
                }
            },
        }
    }

    fn poll_send(&mut self) -> Option<Outgoing<Msg>> {
        self.out.pop()
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        Some(self.next_origin.map_or(self.next_sync, |o| o.min(self.next_sync)))
    }
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = arg(&args, "--nodes", 1000);
    let seed: u64 = arg(&args, "--seed", 1);
    let loss: f64 = arg(&args, "--loss", 0.05);

    let link = LinkConfig {
        latency: Latency::Normal { mean_ms: 40.0, std_ms: 15.0 },
        jitter_ms: 10,
        loss,
        duplicate: 0.01,
        reorder: 0.02,
        reorder_delay_ms: 50,
    };
    let mut sim = Sim::new(SimConfig { seed, default_link: link, max_steps: 100_000_000 });
    let mut topo = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    for id in 0..n {
        let mut neighbours: Vec<NodeId> =
            (0..12).map(|_| topo.random_range(0..n)).filter(|&p| p != id).collect();
        neighbours.sort_unstable();
        neighbours.dedup();
        sim.add_node(Gossip {
            neighbours,
            origin: id == 0,
            next_broadcast: 0,
            have: BTreeMap::new(),
            next_origin: None,
            next_sync: Timestamp::ZERO,
            rng: ChaCha8Rng::from_seed(netsim::derive_seed(seed, id)),
            out: Vec::new(),
        });
    }
    // The far half of the network is cut off from 0.5 s to 1.5 s.
    sim.schedule_partition(Timestamp(500), Timestamp(1500), vec![(0..n / 2).collect()]);

    let wall = Instant::now();
    let summary = sim.run_until(Timestamp::from_secs(5)).expect("simulation failed");
    let elapsed = wall.elapsed();

    println!(
        "netsim broadcast demo: {n} nodes, seed {seed}, loss {loss}, partition 0.5 s - 1.5 s, {BROADCASTS} broadcasts"
    );
    println!("{:>5} {:>9} {:>9} {:>9} {:>9}", "seq", "reached", "p50 ms", "p99 ms", "max ms");
    let mut all_delays = Vec::new();
    for seq in 0..BROADCASTS {
        let mut d: Vec<u64> =
            sim.nodes().iter().filter_map(|g| g.have.get(&seq)).map(|&(born, at)| at - born).collect();
        d.sort_unstable();
        println!(
            "{seq:>5} {:>8.1}% {:>9} {:>9} {:>9}",
            100.0 * d.len() as f64 / n as f64,
            percentile(&d, 0.5),
            percentile(&d, 0.99),
            d.last().copied().unwrap_or(0)
        );
        all_delays.extend(d);
    }
    all_delays.sort_unstable();
    let t = sim.totals();
    let delivered = all_delays.len() as f64 / (n as f64 * BROADCASTS as f64);
    println!(
        "delivered {:.2}% of (node, broadcast) pairs; latency p50 {} ms, p99 {} ms",
        100.0 * delivered,
        percentile(&all_delays, 0.5),
        percentile(&all_delays, 0.99)
    );
    println!(
        "traffic: {:.1} msgs and {:.1} KB sent per node; {} lost, {} cut by the partition, {} duplicated",
        t.nodes.msgs_sent as f64 / n as f64,
        t.nodes.bytes_sent as f64 / n as f64 / 1024.0,
        t.nodes.dropped_loss,
        t.nodes.dropped_partition,
        t.nodes.duplicated
    );
    println!(
        "simulator: {} events in {:.3} s wall ({:.2} M events/s); trace hash {:016x}",
        summary.steps,
        elapsed.as_secs_f64(),
        summary.steps as f64 / elapsed.as_secs_f64() / 1e6,
        sim.trace_hash()
    );
}
