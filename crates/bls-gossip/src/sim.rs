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
    /// Coordinated pairs (consecutive Byzantine guardians by index) whose errors cancel:
    /// the first adds a junk point `X` to every aggregate it sends, the second subtracts
    /// it. Each piece is invalid, their sum is valid, and a batch passes them only if
    /// it weighs both alike (an unpaired last one just adds `X`).
    Cancelling,
    /// Inflated multiplicities, coordinated: the first of each pair claims its own
    /// signature once more than its aggregate carries; the second carries that missing
    /// copy of the first's signature without claiming it (an unpaired last one only
    /// inflates).
    Inflated,
    /// Batch weights predicted from known seeds: the adversary knows every machine's
    /// seed as [`machine_seed`] computes it without a secret (`derive_seed(seed, i)`) and
    /// predicts that a victim's first batch — its neighbours' round-0 signatures, in
    /// index order — is weighted by the first draws of `ChaCha8Rng::from_seed(seed)`
    /// (the derivation before issue 18). For each honest guardian `v`, its Byzantine
    /// neighbours pair up (ascending) and send `v` aggregates off by `r_b·X` and
    /// `−r_a·X`, which cancel under those weights.
    PredictedWeights,
}

impl Byzantine {
    /// Every behaviour, for sweeps and property tests.
    pub const ALL: [Byzantine; 6] = [
        Byzantine::Silent,
        Byzantine::Invalid,
        Byzantine::Forged,
        Byzantine::Cancelling,
        Byzantine::Inflated,
        Byzantine::PredictedWeights,
    ];
}

impl core::str::FromStr for Byzantine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "silent" => Ok(Byzantine::Silent),
            "invalid" => Ok(Byzantine::Invalid),
            "forged" => Ok(Byzantine::Forged),
            "cancelling" => Ok(Byzantine::Cancelling),
            "inflated" => Ok(Byzantine::Inflated),
            "predicted" => Ok(Byzantine::PredictedWeights),
            _ => Err(format!(
                "unknown Byzantine behaviour {s:?} (silent, invalid, forged, cancelling, inflated, predicted)"
            )),
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
    /// Secret mixed into every machine seed ([`machine_seed`]). `None`: seeds follow from
    /// `seed` alone — reproducible, and *predictable*, which is what the
    /// [`Byzantine::PredictedWeights`] adversary exploits. Deployments must use secret
    /// seeds (see [`GossipMachine::new`]); the `sweep` example takes this from the OS.
    pub machine_secret: Option<[u8; 32]>,
}

/// The seed of guardian `i`'s machine in a run with master seed `seed`:
/// `netsim::derive_seed(seed, i)`, hashed with `secret` (SHA-256) when there is one.
pub fn machine_seed(seed: u64, i: usize, secret: Option<&[u8; 32]>) -> [u8; 32] {
    let base = derive_seed(seed, i);
    match secret {
        None => base,
        Some(secret) => {
            use sha2::{Digest, Sha256};
            let mut h = Sha256::new();
            h.update(b"meshcast/bls-gossip/sim-machine-seed/v1");
            h.update(secret);
            h.update(base);
            let mut out = [0u8; 32];
            out.copy_from_slice(h.finalize().as_slice());
            out
        }
    }
}

/// What an adversary knows about the run: the graph, who is Byzantine, and the machine
/// seeds it believes honest guardians use.
#[derive(Clone, Debug)]
pub struct Knowledge {
    /// Adjacency lists (sorted).
    pub graph: Vec<Vec<usize>>,
    /// Which guardians are Byzantine.
    pub byzantine: Vec<bool>,
    /// The seed each machine is believed to use (`machine_seed(seed, i, None)`).
    pub believed_seeds: Vec<[u8; 32]>,
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
    for (i, neighbours) in graph.iter().enumerate() {
        let ctx = Context::new(
            INSTANCE,
            setup.guardians.clone(),
            setup.message.clone(),
            Some((i, setup.signatures[i].clone())),
            neighbours.clone(),
        )?;
        let seed = machine_seed(e.seed, i, e.machine_secret.as_ref());
        let machine = GossipMachine::new(e.config.clone(), ctx, Timestamp::ZERO, seed);
        sim.add_node(SimNode::new(machine));
    }
    let knowledge = Knowledge {
        believed_seeds: (0..n).map(|i| machine_seed(e.seed, i, None)).collect(),
        graph,
        byzantine: byzantine.clone(),
    };
    for i in (0..n).filter(|&i| byzantine[i]) {
        sim.set_behaviour(i, behaviour(e.byzantine, setup, i, &knowledge));
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

/// `k·p` by double-and-add over [`Scheme::combine`] (`None` for `k = 0`).
fn times<S: Scheme>(p: &S::Signature, k: u64) -> Option<S::Signature> {
    let mut acc: Option<S::Signature> = None;
    for bit in (0..64).rev() {
        acc = acc.map(|a| S::combine(&a, &a));
        if k >> bit & 1 == 1 {
            acc = Some(acc.map_or_else(|| p.clone(), |a| S::combine(&a, p)));
        }
    }
    acc
}

/// The first `count` weights a batch would draw from `ChaCha8Rng::from_seed(seed)` (the
/// next non-zero `u64` each, as `bls::batch_verify` draws them).
fn predicted_weights(seed: [u8; 32], count: usize) -> Vec<u64> {
    let mut rng = ChaCha8Rng::from_seed(seed);
    (0..count)
        .map(|_| {
            loop {
                let r = rng.next_u64();
                if r != 0 {
                    break r;
                }
            }
        })
        .collect()
}

/// `agg` with `offset` added to its signature (unchanged for `None`).
fn shifted<S: Scheme>(agg: &Aggregate<S>, offset: Option<&S::Signature>) -> Aggregate<S> {
    match offset {
        None => agg.clone(),
        Some(x) => Aggregate { signers: agg.signers.clone(), signature: S::combine(&agg.signature, x) },
    }
}

/// A forger that rewrites every outgoing aggregate with `f`.
fn rewrite<S: Scheme>(
    mut f: impl FnMut(&Aggregate<S>) -> Aggregate<S> + 'static,
) -> Behaviour<GossipMessage<S>> {
    Behaviour::Forge(Box::new(move |_rng, _id, out: Outgoing<GossipMessage<S>>| {
        let agg = f(out.msg.aggregate());
        vec![Outgoing { to: out.to, msg: GossipMessage::new(out.msg.instance(), agg) }]
    }))
}

/// The netsim behaviour for a Byzantine guardian `me`, given what the adversary knows.
pub fn behaviour<S: Scheme>(
    kind: Byzantine,
    setup: &Setup<S>,
    me: usize,
    knows: &Knowledge,
) -> Behaviour<GossipMessage<S>> {
    let n = setup.guardians.len();
    let junk = setup.junk.clone();
    // Rank of `me` among the Byzantine guardians, and whether it has a partner.
    let byz: Vec<usize> = (0..n).filter(|&i| knows.byzantine.get(i).copied().unwrap_or(false)).collect();
    let rank = byz.iter().position(|&i| i == me).unwrap_or(0);
    let first_of_pair = rank % 2 == 0;
    let partner = if first_of_pair { byz.get(rank + 1).copied() } else { byz.get(rank - 1).copied() };
    match kind {
        Byzantine::Silent => Behaviour::Silent,
        Byzantine::Invalid => rewrite(move |agg: &Aggregate<S>| shifted(agg, Some(&junk))),
        Byzantine::Forged => {
            let all = Arc::new(SignerVector::from_counts(&vec![1u8; n]));
            let own = setup.signatures[me].clone();
            rewrite(move |_: &Aggregate<S>| Aggregate { signers: all.clone(), signature: own.clone() })
        }
        Byzantine::Cancelling => {
            let offset = if first_of_pair || partner.is_none() { Some(junk) } else { S::negate(&junk).ok() };
            rewrite(move |agg: &Aggregate<S>| shifted(agg, offset.as_ref()))
        }
        Byzantine::Inflated => {
            if first_of_pair {
                // Claim one more copy of our own signature than we carry.
                rewrite(move |agg: &Aggregate<S>| {
                    let mut signers = (*agg.signers).clone();
                    let c = signers.count(me);
                    if c < u8::MAX && signers.set(me, c + 1).is_ok() {
                        Aggregate { signers: Arc::new(signers), signature: agg.signature.clone() }
                    } else {
                        agg.clone()
                    }
                })
            } else {
                // Carry the partner's missing copy without claiming it.
                let extra = partner.map(|p| setup.signatures[p].clone());
                rewrite(move |agg: &Aggregate<S>| shifted(agg, extra.as_ref()))
            }
        }
        Byzantine::PredictedWeights => {
            // Per honest neighbour v: the offset that cancels our partner's under v's
            // predicted first-batch weights.
            let mut offsets: Vec<(usize, S::Signature)> = Vec::new();
            for &v in knows.graph.get(me).map_or(&[][..], |g| g.as_slice()) {
                if knows.byzantine.get(v).copied().unwrap_or(true) {
                    continue;
                }
                let nbrs = knows.graph.get(v).map_or(&[][..], |g| g.as_slice());
                let bad: Vec<usize> = nbrs
                    .iter()
                    .copied()
                    .filter(|&u| knows.byzantine.get(u).copied().unwrap_or(false))
                    .collect();
                let Some(k) = bad.iter().position(|&u| u == me) else { continue };
                let (a, b) = match k % 2 {
                    0 => match bad.get(k + 1) {
                        Some(&b) => (me, b),
                        None => continue,
                    },
                    _ => (bad[k - 1], me),
                };
                let (Some(pa), Some(pb)) =
                    (nbrs.iter().position(|&u| u == a), nbrs.iter().position(|&u| u == b))
                else {
                    continue;
                };
                let Some(&seed) = knows.believed_seeds.get(v) else { continue };
                let r = predicted_weights(seed, pa.max(pb) + 1);
                let offset = if me == a {
                    times::<S>(&junk, r[pb])
                } else {
                    times::<S>(&junk, r[pa]).and_then(|x| S::negate(&x).ok())
                };
                if let Some(x) = offset {
                    offsets.push((v, x));
                }
            }
            Behaviour::Forge(Box::new(move |_rng, _id, out: Outgoing<GossipMessage<S>>| {
                let to: Vec<usize> = match out.to {
                    Dest::To(v) => vec![v],
                    Dest::Many(v) => v,
                    Dest::All => (0..n).filter(|&v| v != me).collect(),
                };
                let instance = out.msg.instance();
                let mut plain = Vec::new();
                let mut sends = Vec::new();
                for v in to {
                    match offsets.iter().find(|(u, _)| *u == v) {
                        Some((_, x)) => sends.push(Outgoing {
                            to: Dest::To(v),
                            msg: GossipMessage::new(instance, shifted(out.msg.aggregate(), Some(x))),
                        }),
                        None => plain.push(v),
                    }
                }
                if !plain.is_empty() {
                    sends.push(Outgoing { to: Dest::Many(plain), msg: out.msg.clone() });
                }
                sends
            }))
        }
    }
}
