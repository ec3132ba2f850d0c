//! Simulation support (feature `netsim`): the [`netsim::Node`] adapter for
//! [`GossipMachine`], random regular graphs, Byzantine behaviours and a one-run
//! experiment with the figures the issue asks for (rounds to finality, message sizes,
//! bytes per guardian, safety).

use std::sync::Arc;

use netsim::{Behaviour, Dest, LinkConfig, Node, NodeInput, Outgoing, Sim, SimConfig, WireSize, derive_seed};
use primitives::Timestamp;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

use crate::machine::{Config, Context, Event, GossipMachine, Input, Output};
use crate::message::{Aggregate, GossipMessage};
use crate::scheme::Scheme;
use crate::signers::SignerVector;
use crate::{Error, GuardianSet};

impl<S: Scheme> WireSize for GossipMessage<S> {
    fn wire_size(&self) -> usize {
        self.encoded_len()
    }
}

/// A uniform draw below `n` (Lemire's multiply-shift; `n > 0`).
fn below(rng: &mut impl RngCore, n: usize) -> usize {
    ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize
}

/// A uniformly drawn simple `d`-regular graph on `n` vertices (pairing model with the
/// Steger–Wormald refinement: stubs are paired at random avoiding loops and multi-edges,
/// restarting on a dead end). Adjacency lists are sorted. Needs `n·d` even and `d < n`.
pub fn random_regular_graph(n: usize, d: usize, seed: u64) -> Result<Vec<Vec<usize>>, Error> {
    if d >= n || !(n * d).is_multiple_of(2) {
        return Err(Error::InvalidGuardianSet { reason: "a d-regular graph needs d < n and n·d even" });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    'restart: loop {
        let mut adj: Vec<Vec<usize>> = vec![Vec::with_capacity(d); n];
        let mut stubs: Vec<usize> = (0..n).flat_map(|v| core::iter::repeat_n(v, d)).collect();
        while !stubs.is_empty() {
            let mut tries = 0;
            loop {
                let i = below(&mut rng, stubs.len());
                let j = below(&mut rng, stubs.len());
                let (a, b) = (stubs[i], stubs[j]);
                if i != j && a != b && !adj[a].contains(&b) {
                    adj[a].push(b);
                    adj[b].push(a);
                    let (hi, lo) = if i > j { (i, j) } else { (j, i) };
                    stubs.swap_remove(hi);
                    stubs.swap_remove(lo);
                    break;
                }
                tries += 1;
                if tries > 200 {
                    continue 'restart;
                }
            }
        }
        for a in &mut adj {
            a.sort_unstable();
        }
        return Ok(adj);
    }
}

/// A gossip machine as a netsim node, recording what experiments measure.
pub struct SimNode<S: Scheme> {
    machine: GossipMachine<S>,
    /// Round in which this node finalized.
    pub finalized_round: Option<u32>,
    /// Virtual time at which it finalized.
    pub finalized_at: Option<Timestamp>,
    /// The finalized aggregate.
    pub finalized: Option<Aggregate<S>>,
    /// Misbehaviour reports emitted (sender indices).
    pub accused: Vec<usize>,
    /// Size in bytes of every message this node sent, one entry per recipient.
    pub sent_sizes: Vec<u32>,
    /// Inputs the machine rejected.
    pub rejected: u64,
    sends: std::collections::VecDeque<Outgoing<GossipMessage<S>>>,
}

impl<S: Scheme> SimNode<S> {
    /// Wraps a machine.
    pub fn new(machine: GossipMachine<S>) -> Self {
        SimNode {
            machine,
            finalized_round: None,
            finalized_at: None,
            finalized: None,
            accused: Vec::new(),
            sent_sizes: Vec::new(),
            rejected: 0,
            sends: Default::default(),
        }
    }

    /// The wrapped machine.
    pub fn machine(&self) -> &GossipMachine<S> {
        &self.machine
    }

    fn drain(&mut self, now: Timestamp) {
        while let Some(out) = self.machine.poll_output() {
            match out {
                Output::Send { to, msg } => {
                    let size = u32::try_from(msg.encoded_len()).unwrap_or(u32::MAX);
                    self.sent_sizes.extend(core::iter::repeat_n(size, to.len()));
                    self.sends.push_back(Outgoing { to: Dest::Many(to), msg });
                }
                Output::Event(Event::Finalized { round, aggregate }) => {
                    self.finalized_round = Some(round);
                    self.finalized_at = Some(now);
                    self.finalized = Some(aggregate);
                }
                Output::Misbehaviour(m) => self.accused.push(m.from),
            }
        }
    }
}

impl<S: Scheme> Node for SimNode<S> {
    type Msg = GossipMessage<S>;

    fn handle(&mut self, now: Timestamp, input: NodeInput<Self::Msg>) {
        let input = match input {
            NodeInput::Start | NodeInput::Timeout => Input::Timeout,
            NodeInput::Message { from, msg } => Input::Message { from, msg },
        };
        if self.machine.handle(now, input).is_err() {
            self.rejected += 1;
        }
        self.drain(now);
    }

    fn poll_send(&mut self) -> Option<Outgoing<Self::Msg>> {
        self.sends.pop_front()
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        self.machine.poll_timeout()
    }
}

/// What Byzantine guardians do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Byzantine {
    /// Send nothing.
    Silent,
    /// Send their real signer vector with a signature that does not match it.
    Invalid,
    /// Claim every guardian as a signer, carrying only their own signature.
    Forged,
}

impl core::str::FromStr for Byzantine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "silent" => Ok(Byzantine::Silent),
            "invalid" => Ok(Byzantine::Invalid),
            "forged" => Ok(Byzantine::Forged),
            _ => Err(format!("unknown Byzantine behaviour {s:?} (silent, invalid, forged)")),
        }
    }
}

/// Keys, stakes and every guardian's signature over one message: built once, shared by
/// all runs over `n` guardians.
pub struct Setup<S: Scheme> {
    /// The guardian set (equal stake).
    pub guardians: Arc<GuardianSet<S>>,
    /// The checkpoint message.
    pub message: Arc<[u8]>,
    /// Each guardian's signature over `message`.
    pub signatures: Vec<S::Signature>,
    /// A valid signature over a *different* message (Byzantine junk).
    pub junk: S::Signature,
}

impl<S: Scheme> Setup<S> {
    /// `n` guardians with keys from deterministic key material, signing `message`.
    pub fn new(n: usize, message: &[u8]) -> Result<Self, Error> {
        let mut keys = Vec::with_capacity(n);
        let mut signatures = Vec::with_capacity(n);
        let mut junk = None;
        for i in 0..n {
            let mut ikm = [0u8; 32];
            ikm[..8].copy_from_slice(&(i as u64).to_le_bytes());
            ikm[8..16].copy_from_slice(b"guardian");
            let (sk, pk) = S::keypair(&ikm)?;
            signatures.push(S::sign(&sk, message));
            if junk.is_none() {
                junk = Some(S::sign(&sk, b"not the checkpoint"));
            }
            keys.push(pk);
        }
        let junk = junk.ok_or(Error::InvalidGuardianSet { reason: "no guardians" })?;
        Ok(Setup {
            guardians: Arc::new(GuardianSet::equal_stake(keys)?),
            message: message.into(),
            signatures,
            junk,
        })
    }
}

/// One experiment's parameters.
#[derive(Clone, Debug)]
pub struct Experiment {
    /// Graph degree.
    pub degree: usize,
    /// Fraction of guardians that are Byzantine (the lowest-numbered after a shuffle).
    pub byzantine_fraction: f64,
    /// What they do.
    pub byzantine: Byzantine,
    /// Message loss probability on every link.
    pub loss: f64,
    /// Latency on every link.
    pub latency: netsim::Latency,
    /// Gossip configuration.
    pub config: Config,
    /// Master seed (graph, Byzantine choice, links, machine seeds).
    pub seed: u64,
    /// Rounds to simulate at most.
    pub max_rounds: u32,
    /// Re-verify every `Finalized` aggregate and its quorum (costs one verification per
    /// node with real BLS).
    pub check_safety: bool,
}

/// What one run measured.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Honest guardians.
    pub honest: usize,
    /// Honest guardians that finalized.
    pub finalized: usize,
    /// Largest finalization round over honest guardians (None if some did not finalize).
    pub max_round: Option<u32>,
    /// Mean finalization round over those that finalized.
    pub mean_round: f64,
    /// Every message size sent by honest guardians, per recipient, sorted.
    pub sizes: Vec<u32>,
    /// Total bytes sent by honest guardians divided by their number.
    pub bytes_per_guardian: f64,
    /// Messages sent per honest guardian.
    pub msgs_per_guardian: f64,
    /// Misbehaviour reports by honest guardians (all against Byzantine senders).
    pub accusations: usize,
    /// Honest guardians accused (must be 0).
    pub false_accusations: usize,
    /// Safety violations found by `check_safety` (must be 0).
    pub safety_violations: usize,
    /// Largest multiplicity in any finalized aggregate.
    pub max_multiplicity: u8,
}

impl Outcome {
    /// The median message size (bytes).
    pub fn median_size(&self) -> u32 {
        self.sizes.get(self.sizes.len() / 2).copied().unwrap_or(0)
    }
}

/// Runs one experiment on `setup`'s guardians.
pub fn run<S: Scheme>(setup: &Setup<S>, e: &Experiment) -> Result<Outcome, Error> {
    let n = setup.guardians.len();
    let graph = random_regular_graph(n, e.degree, e.seed)?;
    let mut rng = ChaCha8Rng::seed_from_u64(e.seed ^ 0x6279_7a61_6e74_696e);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, below(&mut rng, i + 1));
    }
    let n_byz = ((n as f64) * e.byzantine_fraction).floor() as usize;
    let mut byzantine = vec![false; n];
    for &i in &order[..n_byz] {
        byzantine[i] = true;
    }
    let link = LinkConfig { latency: e.latency.clone(), loss: e.loss, ..LinkConfig::default() };
    let mut sim: Sim<SimNode<S>> =
        Sim::new(SimConfig { seed: e.seed, default_link: link, max_steps: u64::MAX });
    const INSTANCE: u64 = 1;
    for (i, neighbours) in graph.into_iter().enumerate() {
        let ctx = Context::new(
            INSTANCE,
            setup.guardians.clone(),
            setup.message.clone(),
            Some((i, setup.signatures[i].clone())),
            neighbours,
        )?;
        let machine = GossipMachine::new(e.config.clone(), ctx, Timestamp::ZERO, derive_seed(e.seed, i));
        sim.add_node(SimNode::new(machine));
    }
    for i in (0..n).filter(|&i| byzantine[i]) {
        sim.set_behaviour(i, behaviour(e.byzantine, n, setup, i));
    }
    let round_ms = e.config.round_ms;
    let deadline = Timestamp::from_millis(u64::from(e.max_rounds) * round_ms);
    let honest_done = |nodes: &[SimNode<S>]| {
        nodes.iter().enumerate().all(|(i, nd)| byzantine[i] || nd.finalized_round.is_some())
    };
    let summary = sim
        .run_until_pred(deadline, honest_done)
        .map_err(|_| Error::Malformed { reason: "simulation step limit" })?;
    // Let lingering sends drain so bytes per guardian cover the whole instance.
    let tail = summary.now + (u64::from(e.config.linger_rounds) + 2) * round_ms;
    sim.run_until(tail).map_err(|_| Error::Malformed { reason: "simulation step limit" })?;

    let mut out = Outcome::default();
    let mut round_sum = 0u64;
    let mut max_round = Some(0u32);
    let mut bytes = 0u64;
    let mut msgs = 0u64;
    for (i, node) in sim.nodes().iter().enumerate() {
        for &a in &node.accused {
            out.accusations += 1;
            if !byzantine[a] {
                out.false_accusations += 1;
            }
        }
        if byzantine[i] {
            continue;
        }
        out.honest += 1;
        bytes += sim.stats(i).bytes_sent;
        msgs += sim.stats(i).msgs_sent;
        out.sizes.extend_from_slice(&node.sent_sizes);
        match node.finalized_round {
            Some(r) => {
                out.finalized += 1;
                round_sum += u64::from(r);
                max_round = max_round.map(|m| m.max(r));
            }
            None => max_round = None,
        }
        if let Some(agg) = &node.finalized {
            out.max_multiplicity = out.max_multiplicity.max(agg.signers.max_count());
            if e.check_safety
                && !(agg.verify(setup.guardians.keys(), &setup.message)?
                    && setup.guardians.is_quorum(&agg.signers))
            {
                out.safety_violations += 1;
            }
        }
    }
    out.max_round = max_round;
    out.mean_round = if out.finalized > 0 { round_sum as f64 / out.finalized as f64 } else { f64::NAN };
    out.bytes_per_guardian = bytes as f64 / out.honest.max(1) as f64;
    out.msgs_per_guardian = msgs as f64 / out.honest.max(1) as f64;
    out.sizes.sort_unstable();
    Ok(out)
}

/// The netsim behaviour for a Byzantine guardian `me`.
pub fn behaviour<S: Scheme>(
    kind: Byzantine,
    n: usize,
    setup: &Setup<S>,
    me: usize,
) -> Behaviour<GossipMessage<S>> {
    match kind {
        Byzantine::Silent => Behaviour::Silent,
        Byzantine::Invalid => {
            let junk = setup.junk.clone();
            Behaviour::Forge(Box::new(move |_rng, _id, out: Outgoing<GossipMessage<S>>| {
                let agg = out.msg.aggregate();
                let bad =
                    Aggregate { signers: agg.signers.clone(), signature: S::combine(&agg.signature, &junk) };
                vec![Outgoing { to: out.to, msg: GossipMessage::new(out.msg.instance(), bad) }]
            }))
        }
        Byzantine::Forged => {
            let all = Arc::new(SignerVector::from_counts(&vec![1u8; n]));
            let own = setup.signatures[me].clone();
            Behaviour::Forge(Box::new(move |_rng, _id, out: Outgoing<GossipMessage<S>>| {
                let forged = Aggregate { signers: all.clone(), signature: own.clone() };
                vec![Outgoing { to: out.to, msg: GossipMessage::new(out.msg.instance(), forged) }]
            }))
        }
    }
}
