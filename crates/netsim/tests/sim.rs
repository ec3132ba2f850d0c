//! Behaviour of the simulator through its public API: determinism, link statistics,
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! partitions, crashes, Byzantine behaviours, invariants and the step limit.

use std::collections::BTreeMap;

use netsim::{
    Behaviour, Dest, Latency, LinkConfig, Node, NodeInput, Outgoing, Sim, SimConfig, SimError, WireSize,
};
use primitives::Timestamp;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Ping {
    seq: u64,
    sent_at: u64,
    forged: bool,
}

impl WireSize for Ping {
    fn wire_size(&self) -> usize {
        17
    }
}

/// A scriptable probe: sends `sends_left` pings to `to`, one every `interval` ms, and
/// optionally echoes what it receives back to the sender.
#[derive(Default)]
struct Probe {
    sends_left: u64,
    interval: u64,
    to: Option<Dest>,
    echo: bool,
    seq: u64,
    next: Option<Timestamp>,
    starts: u32,
    received: Vec<(Timestamp, usize, Ping)>,
    out: Vec<Outgoing<Ping>>,
}

impl Probe {
    fn sender(to: Dest, count: u64, interval: u64) -> Self {
        Probe { sends_left: count, interval, to: Some(to), ..Probe::default() }
    }
}

impl Node for Probe {
    type Msg = Ping;
    fn handle(&mut self, now: Timestamp, input: NodeInput<Ping>) {
        match input {
            NodeInput::Start => {
                self.starts += 1;
                if self.sends_left > 0 {
                    self.next = Some(now);
                }
            }
            NodeInput::Timeout => {
                if let Some(to) = self.to.clone() {
                    self.seq += 1;
                    self.out.push(Outgoing {
                        to,
                        msg: Ping { seq: self.seq, sent_at: now.as_millis(), forged: false },
                    });
                    self.sends_left -= 1;
                }
                self.next = (self.sends_left > 0).then(|| now + self.interval);
            }
            NodeInput::Message { from, msg } => {
                if self.echo {
                    self.out.push(Outgoing { to: Dest::To(from), msg: msg.clone() });
                }
                self.received.push((now, from, msg));
            }
        }
    }
    fn poll_send(&mut self) -> Option<Outgoing<Ping>> {
        self.out.pop()
    }
    fn poll_timeout(&self) -> Option<Timestamp> {
        self.next
    }
}

fn faulty_link() -> LinkConfig {
    LinkConfig {
        latency: Latency::Normal { mean_ms: 40.0, std_ms: 10.0 },
        jitter_ms: 5,
        loss: 0.1,
        duplicate: 0.05,
        reorder: 0.1,
        reorder_delay_ms: 50,
    }
}

/// A small all-to-all run on faulty links.
fn mesh_run(seed: u64) -> (u64, Vec<netsim::TraceEvent>) {
    let mut sim = Sim::new(SimConfig { seed, default_link: faulty_link(), max_steps: 1_000_000 });
    for _ in 0..8 {
        sim.add_node(Probe::sender(Dest::All, 20, 7));
    }
    sim.record_trace();
    sim.run_until(Timestamp::from_secs(5)).unwrap();
    (sim.trace_hash(), sim.trace().to_vec())
}

#[test]
fn same_seed_same_trace_different_seed_different_trace() {
    let (h1, t1) = mesh_run(11);
    let (h2, t2) = mesh_run(11);
    assert_eq!(h1, h2);
    assert_eq!(t1, t2);
    assert!(t1.len() > 1000, "the run must actually do something: {} events", t1.len());
    let (h3, t3) = mesh_run(12);
    assert_ne!(h1, h3);
    assert_ne!(t1, t3);
}

/// Sends `n` pings over one link and returns the receiver's log.
fn one_link(link: LinkConfig, n: u64, seed: u64) -> (Sim<Probe>, Vec<(Timestamp, usize, Ping)>) {
    let mut sim = Sim::new(SimConfig { seed, default_link: link, max_steps: 10_000_000 });
    sim.add_node(Probe::sender(Dest::To(1), n, 1));
    sim.add_node(Probe::default());
    sim.run_until(Timestamp::from_secs(n / 1000 + 100)).unwrap();
    let log = sim.node(1).received.clone();
    (sim, log)
}

fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

fn delays(log: &[(Timestamp, usize, Ping)]) -> Vec<f64> {
    log.iter().map(|(at, _, p)| (at.as_millis() - p.sent_at) as f64).collect()
}

#[test]
fn loss_and_duplication_match_configuration() {
    let n = 20_000u64;
    let link = LinkConfig { loss: 0.2, duplicate: 0.1, ..LinkConfig::constant(10) };
    let (sim, log) = one_link(link, n, 3);
    let mut copies: BTreeMap<u64, u32> = BTreeMap::new();
    for (_, _, p) in &log {
        *copies.entry(p.seq).or_default() += 1;
    }
    let delivered = copies.len() as f64;
    let dups = copies.values().filter(|&&c| c == 2).count() as f64;
    assert!(copies.values().all(|&c| c <= 2));
    // Binomial tolerances: 5 standard deviations.
    let p_arrive = 0.8;
    let sd = (n as f64 * p_arrive * (1.0 - p_arrive)).sqrt();
    assert!((delivered - n as f64 * p_arrive).abs() < 5.0 * sd, "delivered {delivered}");
    let sd_dup = (delivered * 0.1 * 0.9).sqrt();
    assert!((dups - delivered * 0.1).abs() < 5.0 * sd_dup, "duplicated {dups}");
    let s = sim.stats(0);
    assert_eq!(s.msgs_sent, n);
    assert_eq!(s.dropped_loss as f64 + delivered, n as f64);
    assert_eq!(s.duplicated as f64, dups);
    assert_eq!(sim.stats(1).msgs_received as usize, log.len());
    assert_eq!(sim.stats(1).bytes_received, 17 * log.len() as u64);
}

#[test]
fn latency_distributions_match_configuration() {
    let n = 10_000;
    // Uniform [20, 80]: mean 50, sd 60/sqrt(12) ≈ 17.3, support respected.
    let (_, log) = one_link(
        LinkConfig { latency: Latency::Uniform { min_ms: 20, max_ms: 80 }, ..LinkConfig::default() },
        n,
        5,
    );
    let d = delays(&log);
    let (m, s) = mean_std(&d);
    assert!(d.iter().all(|&x| (20.0..=80.0).contains(&x)));
    assert!((m - 50.0).abs() < 1.0, "uniform mean {m}");
    assert!((s - 17.32).abs() < 1.0, "uniform sd {s}");

    // Normal(100, 15).
    let (_, log) = one_link(
        LinkConfig { latency: Latency::Normal { mean_ms: 100.0, std_ms: 15.0 }, ..LinkConfig::default() },
        n,
        6,
    );
    let (m, s) = mean_std(&delays(&log));
    assert!((m - 100.0).abs() < 1.0, "normal mean {m}");
    assert!((s - 15.0).abs() < 1.0, "normal sd {s}");

    // Exponential(mean 30): mean ≈ sd ≈ 30.
    let (_, log) = one_link(
        LinkConfig { latency: Latency::Exponential { mean_ms: 30.0 }, ..LinkConfig::default() },
        n,
        7,
    );
    let (m, s) = mean_std(&delays(&log));
    assert!((m - 30.0).abs() < 1.5, "exponential mean {m}");
    assert!((s - 30.0).abs() < 2.0, "exponential sd {s}");

    // Constant 25 + jitter U[0, 10]: mean 30, within [25, 35].
    let (_, log) = one_link(LinkConfig { jitter_ms: 10, ..LinkConfig::constant(25) }, n, 8);
    let d = delays(&log);
    let (m, _) = mean_std(&d);
    assert!(d.iter().all(|&x| (25.0..=35.0).contains(&x)));
    assert!((m - 30.0).abs() < 0.5, "jitter mean {m}");
}

#[test]
fn reordering_lets_later_messages_overtake() {
    let n = 5_000;
    let link = LinkConfig { reorder: 0.2, reorder_delay_ms: 30, ..LinkConfig::constant(10) };
    let (_, log) = one_link(link, n, 9);
    assert_eq!(log.len() as u64, n, "reordering loses nothing");
    let inversions = log.windows(2).filter(|w| w[1].2.seq < w[0].2.seq).count();
    assert!(inversions > 100, "expected reordering, saw {inversions} inversions");
    let (_, in_order) = one_link(LinkConfig::constant(10), n, 9);
    assert!(in_order.windows(2).all(|w| w[0].2.seq < w[1].2.seq));
}

#[test]
fn per_link_override() {
    let mut sim = Sim::new(SimConfig::with_seed(1));
    sim.add_node(Probe::sender(Dest::Many(vec![1, 2]), 1, 1));
    sim.add_node(Probe::default());
    sim.add_node(Probe::default());
    sim.set_link(0, 2, LinkConfig::constant(500));
    sim.run_until(Timestamp::from_secs(1)).unwrap();
    assert_eq!(sim.node(1).received[0].0, Timestamp(50));
    assert_eq!(sim.node(2).received[0].0, Timestamp(500));
}

#[test]
fn partition_drops_cross_traffic_until_healed() {
    let mut sim =
        Sim::new(SimConfig { seed: 2, default_link: LinkConfig::constant(5), max_steps: 1_000_000 });
    sim.add_node(Probe::sender(Dest::Many(vec![1, 2]), 100, 10)); // sends at 0, 10, ..., 990
    sim.add_node(Probe::default());
    sim.add_node(Probe::default());
    sim.schedule_partition(Timestamp(200), Timestamp(500), vec![vec![0, 1]]); // node 2 is alone
    sim.run_until(Timestamp::from_secs(2)).unwrap();
    let same_side = &sim.node(1).received;
    let other_side = &sim.node(2).received;
    assert_eq!(same_side.len(), 100);
    assert!(other_side.iter().all(|(_, _, p)| p.sent_at < 200 || p.sent_at >= 500));
    assert_eq!(other_side.len(), 100 - 30);
    assert_eq!(sim.stats(0).dropped_partition, 30);
}

#[test]
fn crash_and_restart() {
    let mut sim =
        Sim::new(SimConfig { seed: 4, default_link: LinkConfig::constant(5), max_steps: 1_000_000 });
    sim.add_node(Probe::sender(Dest::To(1), 100, 10));
    sim.add_node(Probe::default());
    sim.schedule_crash(1, Timestamp(300));
    sim.schedule_restart(1, Timestamp(600), Probe::default());
    sim.run_until(Timestamp(400)).unwrap();
    assert!(!sim.is_up(1));
    sim.run_until(Timestamp::from_secs(2)).unwrap();
    assert!(sim.is_up(1));
    let after = &sim.node(1).received;
    // The fresh node only saw messages delivered after the restart.
    assert!(after.iter().all(|(at, _, _)| at.as_millis() >= 600));
    assert_eq!(sim.node(1).starts, 1);
    // Sent at 300..=590 arrive while it is down.
    assert_eq!(sim.stats(1).dropped_crashed, 30);
}

#[test]
fn silent_node_sends_nothing() {
    let mut sim = Sim::new(SimConfig::with_seed(5));
    sim.add_node(Probe::sender(Dest::All, 10, 1));
    sim.add_node(Probe::default());
    sim.set_behaviour(0, Behaviour::Silent);
    sim.run_until(Timestamp::from_secs(1)).unwrap();
    assert!(sim.node(1).received.is_empty());
    assert_eq!(sim.stats(0).msgs_sent, 0);
}

#[test]
fn equivocation_splits_the_network_in_two() {
    let mut sim = Sim::new(SimConfig::with_seed(6));
    sim.add_node(Probe::sender(Dest::All, 1, 1));
    for _ in 0..6 {
        sim.add_node(Probe::default());
    }
    sim.set_behaviour(0, Behaviour::Equivocate(Box::new(|p: &Ping| Ping { forged: true, ..p.clone() })));
    sim.run_until(Timestamp::from_secs(1)).unwrap();
    for id in 1..7 {
        let got = &sim.node(id).received;
        assert_eq!(got.len(), 1, "node {id}");
        assert_eq!(got[0].2.forged, id % 2 == 1, "node {id}");
    }
}

#[test]
fn replay_sends_everything_twice() {
    let mut sim = Sim::new(SimConfig::with_seed(7));
    sim.add_node(Probe::sender(Dest::To(1), 3, 10));
    sim.add_node(Probe::default());
    sim.set_behaviour(0, Behaviour::Replay { delay_ms: 1000 });
    sim.run_until(Timestamp::from_secs(5)).unwrap();
    let seqs: Vec<u64> = sim.node(1).received.iter().map(|r| r.2.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 1, 2, 3]);
    assert_eq!(sim.node(1).received[3].0, Timestamp(1050));
}

#[test]
fn forger_hook_rewrites_traffic() {
    let mut sim = Sim::new(SimConfig::with_seed(8));
    sim.add_node(Probe::sender(Dest::To(1), 2, 10));
    sim.add_node(Probe::default());
    sim.add_node(Probe::default());
    sim.set_behaviour(
        0,
        Behaviour::Forge(Box::new(|_rng, _me, out: Outgoing<Ping>| {
            vec![out.clone(), Outgoing { to: Dest::To(2), msg: Ping { forged: true, ..out.msg } }]
        })),
    );
    sim.run_until(Timestamp::from_secs(1)).unwrap();
    assert_eq!(sim.node(1).received.len(), 2);
    assert!(sim.node(2).received.iter().all(|r| r.2.forged));
    assert_eq!(sim.node(2).received.len(), 2);
}

#[test]
fn invariant_violation_names_the_seed() {
    let mut sim = Sim::new(SimConfig::with_seed(4242));
    sim.add_node(Probe::sender(Dest::To(1), 10, 10));
    sim.add_node(Probe::default());
    sim.add_invariant("at most 3 deliveries", |_, nodes: &[Probe]| {
        if nodes[1].received.len() > 3 {
            Err(format!("{} delivered", nodes[1].received.len()))
        } else {
            Ok(())
        }
    });
    let err = sim.run_until(Timestamp::from_secs(1)).unwrap_err();
    assert!(matches!(err, SimError::InvariantViolated { seed: 4242, .. }));
    assert!(err.to_string().contains("seed 4242"), "{err}");
    assert_eq!(sim.now(), Timestamp(80)); // the 4th ping, sent at 30, arrives at 80
}

#[test]
fn node_invariant_runs_on_the_touched_node() {
    let mut sim = Sim::new(SimConfig::with_seed(1));
    sim.add_node(Probe::sender(Dest::To(1), 5, 10));
    sim.add_node(Probe::default());
    sim.add_node_invariant("node 0 receives nothing", |_, id, n: &Probe| {
        if id == 0 && !n.received.is_empty() { Err("received".into()) } else { Ok(()) }
    });
    sim.run_until(Timestamp::from_secs(1)).unwrap();
}

#[test]
fn step_limit_reports_livelock() {
    let mut sim = Sim::new(SimConfig { seed: 99, default_link: LinkConfig::constant(0), max_steps: 10_000 });
    sim.add_node(Probe { echo: true, ..Probe::sender(Dest::To(1), 1, 1) });
    sim.add_node(Probe { echo: true, ..Probe::default() });
    let err = sim.run_until(Timestamp::from_secs(1)).unwrap_err();
    assert!(matches!(err, SimError::StepLimit { seed: 99, steps: 10_000, .. }), "{err}");
    assert_eq!(sim.now(), Timestamp(0), "zero-latency ping-pong never advances the clock");
}

#[test]
fn run_until_pred_stops_early_and_clock_reaches_deadline_otherwise() {
    let mut sim = Sim::new(SimConfig::with_seed(1));
    sim.add_node(Probe::sender(Dest::To(1), 100, 10));
    sim.add_node(Probe::default());
    let s = sim.run_until_pred(Timestamp::from_secs(10), |n| n[1].received.len() >= 5).unwrap();
    assert!(s.predicate_met);
    assert_eq!(sim.node(1).received.len(), 5);
    assert_eq!(s.now, Timestamp(90));
    let s = sim.run_until(Timestamp::from_secs(10)).unwrap();
    assert!(!s.predicate_met);
    assert_eq!(s.now, Timestamp::from_secs(10));
    assert_eq!(sim.node(1).received.len(), 100);
    assert_eq!(sim.totals().nodes.msgs_sent, 100);
}

#[test]
fn derived_seeds_are_distinct_and_stable() {
    let a = netsim::derive_seed(1, 0);
    assert_eq!(a, netsim::derive_seed(1, 0));
    assert_ne!(a, netsim::derive_seed(1, 1));
    assert_ne!(a, netsim::derive_seed(2, 0));
}
