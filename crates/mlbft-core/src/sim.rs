//! The netsim harness (feature `netsim`): validators (honest, equivocating, double
//! voting, silent, or split-brain), crash–restart from persisted state, partitions that
//! heal, and guardians running the real `bls-gossip` machine for checkpoint finality.
//! Safety is checked after every simulated event.
//!
//! Used by the tests and by `examples/safety_sweep.rs`.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

use bls_gossip::{GossipMachine, GossipMessage, GuardianSet, Scheme};
use netsim::{
    Behaviour, Dest, Latency, LinkConfig, Node, NodeId, NodeInput, Outgoing, Sim, SimConfig, SimError,
    WireSize,
};
use primitives::{H256, Timestamp, U256, keccak256};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

use crate::checkpoint::guardian_message;
use crate::context::{Guardians, StaticContext};
use crate::machine::{Config, Event, Input, Machine, Output, PersistedState};
use crate::message::{Message, Vote};
use crate::schedule::SetSchedule;
use crate::types::{BlockRef, Checkpoint, vote_message};
use crate::validators::{KeyBytes, ValidatorIndex, ValidatorSet};
use crate::{Error, SettlementProof};

/// What travels in the simulated network.
#[derive(Clone, Debug)]
pub enum SimMsg<S: Scheme> {
    /// Validator consensus traffic (and guardian finality proofs to validators).
    Consensus(Message<S>),
    /// Between the two worlds of split-brain Byzantine validators.
    Twin {
        /// Which world (0 or 1).
        world: u8,
        /// The message.
        msg: Message<S>,
    },
    /// A validator hands a settled checkpoint to a guardian.
    Checkpoint {
        /// The checkpoint.
        checkpoint: Checkpoint,
        /// Its settlement proof.
        proof: SettlementProof<S>,
    },
    /// Guardian gossip.
    Gossip(GossipMessage<S>),
}

impl<S: Scheme> WireSize for SimMsg<S> {
    fn wire_size(&self) -> usize {
        match self {
            SimMsg::Consensus(m) | SimMsg::Twin { msg: m, .. } => m.encode().len(),
            SimMsg::Checkpoint { proof, .. } => proof.encode().len() + 48,
            SimMsg::Gossip(g) => g.encoded_len(),
        }
    }
}

/// Everything observed across a run, shared by all nodes (honest ones report).
#[derive(Debug, Default)]
pub struct Checker {
    /// The settled block per height (first honest report).
    pub settled: BTreeMap<u64, H256>,
    /// The first safety violation.
    pub violation: Option<String>,
    /// Finalized checkpoints (first honest report).
    pub finalized: BTreeMap<u64, H256>,
    /// When each block was first proposed.
    pub proposed_at: BTreeMap<H256, Timestamp>,
    /// When each block was first settled by an honest validator.
    pub first_settled_at: BTreeMap<H256, Timestamp>,
    /// `(time, height)` each time the highest honestly settled height grew.
    pub settle_times: Vec<(Timestamp, u64)>,
    /// When an honest validator first entered each epoch.
    pub epochs_entered: BTreeMap<u64, Timestamp>,
    /// Evidence reports by honest validators that verified.
    pub evidence: u64,
    /// Evidence reports that did not verify (must stay zero).
    pub invalid_evidence: u64,
    /// Finality conflicts seen by honest validators.
    pub finality_conflicts: u64,
    /// Who proposed each block (first report).
    pub proposer_of: BTreeMap<H256, NodeId>,
}

impl Checker {
    fn settle(&mut self, node: NodeId, block: BlockRef, now: Timestamp) {
        match self.settled.get(&block.height) {
            Some(h) if *h != block.hash => {
                if self.violation.is_none() {
                    self.violation = Some(format!(
                        "validator {node} settled {:?} at height {} where {:?} was settled",
                        block.hash, block.height, h
                    ));
                }
            }
            Some(_) => {}
            None => {
                self.settled.insert(block.height, block.hash);
            }
        }
        self.first_settled_at.entry(block.hash).or_insert(now);
        if self.settle_times.last().is_none_or(|(_, h)| block.height > *h) {
            self.settle_times.push((now, block.height));
        }
    }

    fn finalize(&mut self, node: NodeId, cp: Checkpoint) {
        match self.finalized.get(&cp.height) {
            Some(h) if *h != cp.hash => {
                if self.violation.is_none() {
                    self.violation =
                        Some(format!("validator {node} finalized a conflicting checkpoint at {}", cp.height));
                }
            }
            _ => {
                self.finalized.insert(cp.height, cp.hash);
            }
        }
    }

    /// Highest settled height at or before `t`.
    pub fn settled_height_at(&self, t: Timestamp) -> u64 {
        self.settle_times.iter().take_while(|(at, _)| *at <= t).last().map_or(0, |(_, h)| *h)
    }
}

/// What a validator node does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Follows the protocol.
    Honest,
    /// Sends nothing.
    Silent,
    /// Proposes one block to even validators and another to odd ones.
    Equivocator,
    /// Proposes two blocks and votes for both, to everyone.
    DoubleVoter,
    /// Runs two honest worlds with one key: world 0 talks to `groups[0]`, world 1 to
    /// `groups[1]` (plus the other Byzantine validators' matching worlds).
    SplitBrain {
        /// The honest validators of each world.
        groups: [Vec<NodeId>; 2],
        /// The other Byzantine validators.
        allies: Vec<NodeId>,
    },
    /// A validator removed by a set change that keeps voting: runs the protocol, and also
    /// signs a vote for every proposal it sees at a height whose set gives it no stake.
    Removed,
}

/// A validator-set change the sweep applies mid-run (decided at heights 6, 16, 26, …;
/// effective two heights later).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetChangeKind {
    /// One member leaves and a new one joins. A Byzantine member leaves when there is one
    /// (it keeps voting after its removal, [`Role::Removed`]) and the newcomer is then an
    /// equivocating proposer, so each set keeps the same Byzantine count.
    Swap,
    /// Same members, new stakes: honest members get stake 1–4, Byzantine ones keep 1.
    Reweight,
    /// Three validators join (4 → 7 for m = 4); one of them equivocates when the larger
    /// set's bound allows one more Byzantine member.
    Grow,
}

impl SetChangeKind {
    /// The kinds in the order `--set-changes N` cycles through them.
    pub const CYCLE: [SetChangeKind; 3] = [SetChangeKind::Swap, SetChangeKind::Reweight, SetChangeKind::Grow];

    /// Validators this change adds to the universe.
    fn joins(self) -> usize {
        match self {
            SetChangeKind::Swap => 1,
            SetChangeKind::Reweight => 0,
            SetChangeKind::Grow => 3,
        }
    }
}

/// Height of the block deciding the `k`-th set change of a sweep run.
pub fn set_change_height(k: usize) -> u64 {
    6 + 10 * k as u64
}

type Ctx<S> = StaticContext<S>;
type Disk<S> = Rc<RefCell<BTreeMap<NodeId, PersistedState<S>>>>;

fn payload_world0(proposer: ValidatorIndex, height: u64) -> Vec<u8> {
    let mut p = height.to_be_bytes().to_vec();
    p.extend_from_slice(&proposer.to_be_bytes());
    p
}

fn payload_world1(proposer: ValidatorIndex, height: u64) -> Vec<u8> {
    let mut p = payload_world0(proposer, height);
    p.extend_from_slice(b"twin");
    p
}

/// A validator as a netsim node.
pub struct ValidatorNode<S: Scheme + KeyBytes> {
    id: NodeId,
    validators: usize,
    guardians: Vec<NodeId>,
    role: Role,
    config: Config,
    ctx: [Ctx<S>; 2],
    machines: Vec<Machine<Ctx<S>>>,
    disk: Disk<S>,
    checker: Rc<RefCell<Checker>>,
    out: VecDeque<Outgoing<SimMsg<S>>>,
    rng: u64,
    /// Inputs the machine refused (hostile or late input).
    pub rejected: u64,
}

impl<S: Scheme + KeyBytes> ValidatorNode<S> {
    fn honest(&self) -> bool {
        self.role == Role::Honest
    }

    fn worlds(&self) -> usize {
        match self.role {
            Role::Honest | Role::Silent | Role::Removed => 1,
            _ => 2,
        }
    }

    fn start(&mut self, now: Timestamp) {
        let seed = [self.id as u8; 32];
        self.machines.clear();
        let stored = if self.honest() { self.disk.borrow().get(&self.id).cloned() } else { None };
        for w in 0..self.worlds() {
            let ctx = self.ctx[w].clone();
            let m = match &stored {
                Some(state) => Machine::restore(self.config.clone(), ctx, state.clone(), now, seed)
                    .unwrap_or_else(|_| Machine::new(self.config.clone(), self.ctx[w].clone(), now, seed)),
                None => Machine::new(self.config.clone(), ctx, now, seed),
            };
            self.machines.push(m);
        }
    }

    fn next_rand(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn others(&self) -> Vec<NodeId> {
        (0..self.validators).filter(|&v| v != self.id).collect()
    }

    fn send(&mut self, world: usize, to: Vec<NodeId>, msg: Message<S>) {
        if to.is_empty() {
            return;
        }
        match &self.role {
            Role::SplitBrain { groups, allies } => {
                let group: Vec<NodeId> = to.iter().copied().filter(|t| groups[world].contains(t)).collect();
                let twins: Vec<NodeId> = to.iter().copied().filter(|t| allies.contains(t)).collect();
                if !group.is_empty() {
                    self.out
                        .push_back(Outgoing { to: Dest::Many(group), msg: SimMsg::Consensus(msg.clone()) });
                }
                if !twins.is_empty() {
                    self.out.push_back(Outgoing {
                        to: Dest::Many(twins),
                        msg: SimMsg::Twin { world: world as u8, msg },
                    });
                }
            }
            _ => self.out.push_back(Outgoing { to: Dest::Many(to), msg: SimMsg::Consensus(msg) }),
        }
    }

    fn drain(&mut self, now: Timestamp) {
        for w in 0..self.machines.len() {
            while let Some(out) = self.machines[w].poll_output() {
                self.route(now, w, out);
            }
        }
    }

    fn route(&mut self, now: Timestamp, world: usize, out: Output<S>) {
        let honest = self.honest();
        match out {
            Output::Persist(state) => {
                if honest {
                    self.disk.borrow_mut().insert(self.id, state);
                }
            }
            Output::Broadcast(msg) => {
                let mut to = self.others();
                match (&self.role, &msg) {
                    (Role::Equivocator, Message::Proposal(_)) => {
                        to.retain(|t| t % 2 == world);
                        if world == 1 && self.id != 0 && !to.contains(&0) {
                            // One honest witness of both proposals (evidence).
                            to.push(0);
                        }
                    }
                    (Role::Equivocator, _) if world == 1 => return,
                    _ => {}
                }
                self.send(world, to, msg);
            }
            Output::Send { to, msg } => self.send(world, vec![to as NodeId], msg),
            Output::Request { to, hash } => {
                let mut peers: Vec<NodeId> = to.map(|t| t as NodeId).into_iter().collect();
                let others = self.others();
                for _ in 0..2 {
                    if others.is_empty() {
                        break;
                    }
                    let pick = others[(self.next_rand() % others.len() as u64) as usize];
                    if !peers.contains(&pick) {
                        peers.push(pick);
                    }
                }
                self.send(world, peers, Message::BlockRequest { hash });
            }
            Output::Event(ev) => self.event(now, ev),
            Output::Misbehaviour(ev) => {
                if honest {
                    let mut c = self.checker.borrow_mut();
                    match ev.verify(self.ctx[0].validator_set_ref()) {
                        Ok(()) => c.evidence += 1,
                        Err(_) => c.invalid_evidence += 1,
                    }
                }
            }
        }
    }

    fn event(&mut self, now: Timestamp, ev: Event<S>) {
        if let Event::Proposed { block } = &ev {
            let mut c = self.checker.borrow_mut();
            c.proposed_at.entry(block.hash).or_insert(now);
            c.proposer_of.entry(block.hash).or_insert(self.id);
        }
        if !self.honest() {
            return;
        }
        match ev {
            Event::Settled { block } => self.checker.borrow_mut().settle(self.id, block, now),
            Event::EnteredEpoch { epoch } => {
                self.checker.borrow_mut().epochs_entered.entry(epoch).or_insert(now);
            }
            Event::Checkpoint { checkpoint, proof } if !self.guardians.is_empty() => {
                self.out.push_back(Outgoing {
                    to: Dest::Many(self.guardians.clone()),
                    msg: SimMsg::Checkpoint { checkpoint, proof },
                });
            }
            Event::Finalized { checkpoint } => self.checker.borrow_mut().finalize(self.id, checkpoint),
            Event::FinalityConflict { .. } => self.checker.borrow_mut().finality_conflicts += 1,
            _ => {}
        }
    }

    /// [`Role::Removed`]: a signed vote for `block` where our stake is gone.
    fn vote_anyway(&mut self, block: BlockRef) {
        use crate::types::Context;
        let me = self.id as ValidatorIndex;
        let member = self.ctx[0].validator_set_for(block.height).is_some_and(|s| s.contains(me));
        if member {
            return;
        }
        if let Some((voter, signature)) = self.ctx[0].sign(&vote_message(&block)) {
            let others = self.others();
            self.send(0, others, Message::Vote(Vote { block, voter, signature }));
        }
    }

    /// The node's machines (one, or two for twin roles).
    pub fn machines(&self) -> &[Machine<Ctx<S>>] {
        &self.machines
    }
}

impl<S: Scheme> StaticContext<S> {
    fn validator_set_ref(&self) -> &ValidatorSet<S>
    where
        S: KeyBytes,
    {
        use crate::types::Context;
        self.validator_set()
    }
}

/// A guardian as a netsim node: one `bls-gossip` machine per checkpoint it verified.
pub struct GuardianNode<S: Scheme + KeyBytes> {
    index: usize,
    offset: NodeId,
    validators: usize,
    key: S::SecretKey,
    set: Arc<GuardianSet<S>>,
    set_hash: [u8; 32],
    schedule: SetSchedule<S>,
    neighbours: Vec<usize>,
    config: bls_gossip::Config,
    instances: BTreeMap<u64, (Checkpoint, GossipMachine<S>)>,
    finalized: BTreeSet<u64>,
    out: VecDeque<Outgoing<SimMsg<S>>>,
    seed: [u8; 32],
    /// Checkpoint proofs that did not verify.
    pub rejected: u64,
}

impl<S: Scheme + KeyBytes> GuardianNode<S> {
    fn on_checkpoint(&mut self, now: Timestamp, checkpoint: Checkpoint, proof: &SettlementProof<S>) {
        if self.instances.contains_key(&checkpoint.height) || self.finalized.contains(&checkpoint.height) {
            return;
        }
        let schedule = &self.schedule;
        match proof.verify_by(|h| Some(schedule.set_for(h).as_ref())) {
            Ok(cp) if cp == checkpoint => {}
            _ => {
                self.rejected += 1;
                return;
            }
        }
        let msg: Arc<[u8]> = guardian_message(&checkpoint, &self.set_hash).into();
        let sig = S::sign(&self.key, &msg);
        let Ok(ctx) = bls_gossip::Context::new(
            checkpoint.height,
            self.set.clone(),
            msg,
            Some((self.index, sig)),
            self.neighbours.clone(),
        ) else {
            return;
        };
        let machine = GossipMachine::new(self.config.clone(), ctx, now, self.seed);
        self.instances.insert(checkpoint.height, (checkpoint, machine));
        // Keep the few most recent instances only.
        while self.instances.len() > 4 {
            self.instances.pop_first();
        }
        self.drain(now);
    }

    fn drain(&mut self, _now: Timestamp) {
        let mut finals = Vec::new();
        for (height, (cp, m)) in self.instances.iter_mut() {
            while let Some(out) = m.poll_output() {
                match out {
                    bls_gossip::Output::Send { to, msg } => {
                        let to: Vec<NodeId> = to.into_iter().map(|g| g + self.offset).collect();
                        self.out.push_back(Outgoing { to: Dest::Many(to), msg: SimMsg::Gossip(msg) });
                    }
                    bls_gossip::Output::Event(bls_gossip::Event::Finalized { aggregate, .. }) => {
                        finals.push((*height, *cp, aggregate));
                    }
                    bls_gossip::Output::Misbehaviour(_) => {}
                }
            }
        }
        for (height, checkpoint, aggregate) in finals {
            if self.finalized.insert(height) {
                let proof = GossipMessage::new(height, aggregate).encode();
                self.out.push_back(Outgoing {
                    to: Dest::Many((0..self.validators).collect()),
                    msg: SimMsg::Consensus(Message::Finality { checkpoint, proof }),
                });
            }
        }
    }
}

/// A node of the simulated network.
pub enum SimNode<S: Scheme + KeyBytes> {
    /// A validator.
    Validator(Box<ValidatorNode<S>>),
    /// A guardian.
    Guardian(Box<GuardianNode<S>>),
}

impl<S: Scheme + KeyBytes> Node for SimNode<S> {
    type Msg = SimMsg<S>;

    fn handle(&mut self, now: Timestamp, input: NodeInput<SimMsg<S>>) {
        match self {
            SimNode::Validator(v) => {
                match input {
                    NodeInput::Start => v.start(now),
                    NodeInput::Timeout => {
                        for m in &mut v.machines {
                            if m.poll_timeout().is_some_and(|t| t <= now) {
                                let _ = m.handle(now, Input::Timeout);
                            }
                        }
                    }
                    NodeInput::Message { from, msg } => {
                        let (worlds, msg): (Vec<usize>, Message<S>) = match (msg, &v.role) {
                            (SimMsg::Consensus(msg), Role::SplitBrain { groups, .. }) => {
                                let w: Vec<usize> = (0..2).filter(|&w| groups[w].contains(&from)).collect();
                                (if w.is_empty() { vec![0, 1] } else { w }, msg)
                            }
                            (SimMsg::Consensus(msg), _) => ((0..v.machines.len()).collect(), msg),
                            (SimMsg::Twin { world, msg }, Role::SplitBrain { .. }) => {
                                (vec![usize::from(world.min(1))], msg)
                            }
                            _ => (Vec::new(), Message::BlockRequest { hash: H256::zero() }),
                        };
                        let sender = u32::try_from(from).unwrap_or(u32::MAX);
                        for w in worlds {
                            if let Some(m) = v.machines.get_mut(w)
                                && m.handle(now, Input::Message { from: sender, msg: msg.clone() }).is_err()
                            {
                                v.rejected += 1;
                            }
                        }
                        if v.role == Role::Removed
                            && let Message::Proposal(p) = &msg
                        {
                            v.vote_anyway(p.block.reference());
                        }
                    }
                }
                v.drain(now);
            }
            SimNode::Guardian(g) => {
                match input {
                    NodeInput::Start => {}
                    NodeInput::Timeout => {
                        for (_, m) in g.instances.values_mut() {
                            if m.poll_timeout().is_some_and(|t| t <= now) {
                                let _ = m.handle(now, bls_gossip::Input::Timeout);
                            }
                        }
                    }
                    NodeInput::Message { from, msg } => match msg {
                        SimMsg::Checkpoint { checkpoint, proof } => g.on_checkpoint(now, checkpoint, &proof),
                        SimMsg::Gossip(msg) => {
                            if let Some(peer) = from.checked_sub(g.offset)
                                && let Some((_, m)) = g.instances.get_mut(&msg.instance())
                            {
                                let _ = m.handle(now, bls_gossip::Input::Message { from: peer, msg });
                            }
                        }
                        _ => {}
                    },
                }
                g.drain(now);
            }
        }
    }

    fn poll_send(&mut self) -> Option<Outgoing<SimMsg<S>>> {
        match self {
            SimNode::Validator(v) => v.out.pop_front(),
            SimNode::Guardian(g) => g.out.pop_front(),
        }
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        match self {
            SimNode::Validator(v) => v.machines.iter().filter_map(|m| m.poll_timeout()).min(),
            SimNode::Guardian(g) => g.instances.values().filter_map(|(_, m)| m.poll_timeout()).min(),
        }
    }
}

/// Parameters of one sweep configuration.
#[derive(Clone, Debug)]
pub struct SweepConfig {
    /// Validators (equal stake).
    pub validators: usize,
    /// Byzantine validators. Above `⌊(m−1)/3⌋` the split-brain strategy is used.
    pub byzantine: usize,
    /// Guardians.
    pub guardians: usize,
    /// Loss probability on every link.
    pub loss: f64,
    /// Checkpoint interval T.
    pub checkpoint_interval: u64,
    /// Simulated time after the last fault heals (default: enough for T blocks).
    pub tail_ms: Option<u64>,
    /// Machine configuration (epoch timeout etc.).
    pub config: Config,
    /// Partitions that heal.
    pub partitions: bool,
    /// One honest validator crashes and restarts from its persisted state.
    pub crashes: bool,
    /// Latency, jitter, reordering and duplication on (off: constant 50 ms links).
    pub faults: bool,
    /// Validator-set changes applied mid-run, in order (none by default; not with the
    /// split-brain strategy).
    pub set_changes: Vec<SetChangeKind>,
}

impl SweepConfig {
    /// Defaults for `m` validators, `f` Byzantine, `g` guardians, loss `p`.
    pub fn new(validators: usize, byzantine: usize, guardians: usize, loss: f64) -> Self {
        SweepConfig {
            validators,
            byzantine,
            guardians,
            loss,
            checkpoint_interval: 100,
            tail_ms: None,
            config: Config { epoch_timeout_ms: 600, ..Config::default() },
            partitions: true,
            crashes: true,
            faults: true,
            set_changes: Vec::new(),
        }
    }

    /// Whether the split-brain strategy is selected (`f > ⌊(m−1)/3⌋`).
    pub fn split_brain(&self) -> bool {
        self.byzantine > self.validators.saturating_sub(1) / 3
    }
}

/// What one run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOutcome {
    /// The seed.
    pub seed: u64,
    /// The first safety violation.
    pub violation: Option<String>,
    /// No new block settled within the two-epoch window after healing.
    pub liveness_failure: bool,
    /// Highest settled height.
    pub settled: u64,
    /// Highest finalized checkpoint height.
    pub finalized: u64,
    /// Proposal-to-settled latencies, in mean message delays.
    pub settle_delays: Vec<f64>,
    /// Verified evidence reports.
    pub evidence: u64,
    /// Evidence reports that failed verification.
    pub invalid_evidence: u64,
    /// The simulator's trace hash.
    pub trace_hash: u64,
    /// When the last fault healed.
    pub healed_at: Timestamp,
    /// Proposers of the settled blocks above the last set change's hand-over (its
    /// effective height + 1); empty without set changes.
    pub late_proposers: BTreeSet<NodeId>,
    /// Members of the last set of the schedule.
    pub final_members: BTreeSet<NodeId>,
}

fn below(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    if n == 0 { 0 } else { ((u128::from(rng.next_u64()) * u128::from(n)) >> 64) as u64 }
}

/// Key pairs by member index.
pub type KeyPairs<S> = Vec<(<S as Scheme>::SecretKey, <S as Scheme>::PublicKey)>;

/// Keys of `n` members from deterministic key material tagged `tag`.
pub fn keys<S: Scheme>(n: usize, tag: &[u8]) -> Result<KeyPairs<S>, Error> {
    (0..n)
        .map(|i| {
            let mut ikm = [0u8; 32];
            ikm[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let t = tag.len().min(24);
            ikm[8..8 + t].copy_from_slice(&tag[..t]);
            Ok(S::keypair(&ikm)?)
        })
        .collect()
}

/// Runs one seed of `cfg`.
pub fn run<S: Scheme + KeyBytes>(cfg: &SweepConfig, seed: u64) -> Result<RunOutcome, Error> {
    let m = cfg.validators;
    let f = cfg.byzantine.min(m);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6d6c_6266_745f_7377);
    let split = cfg.split_brain() && f > 0;
    let changes: &[SetChangeKind] = if split { &[] } else { &cfg.set_changes };
    // The validator universe: the m genesis members, then everyone a change adds (listed
    // at zero stake until their change).
    let universe = m + changes.iter().map(|c| c.joins()).sum::<usize>();
    let vkeys = keys::<S>(universe, b"validator")?;
    let with_stakes = |stakes: &[u64]| -> Result<Arc<ValidatorSet<S>>, Error> {
        let members = vkeys.iter().zip(stakes).map(|(k, s)| (k.1.clone(), U256::from(*s))).collect();
        Ok(Arc::new(ValidatorSet::<S>::new(members)?))
    };
    let mut stakes: Vec<u64> = (0..universe).map(|i| u64::from(i < m)).collect();
    let set = with_stakes(&stakes)?;
    let gkeys = keys::<S>(cfg.guardians, b"guardian")?;
    let guardians = if cfg.guardians > 0 {
        let gset = Arc::new(GuardianSet::<S>::equal_stake(gkeys.iter().map(|k| k.1.clone()).collect())?);
        let hash = keccak256(gkeys.iter().flat_map(|k| S::key_bytes(&k.1)).collect::<Vec<u8>>());
        Some(Guardians { set: gset, set_hash: hash.to_fixed_bytes() })
    } else {
        None
    };

    // Byzantine validators: a seeded choice of f indices.
    let mut ids: Vec<NodeId> = (0..m).collect();
    for i in (1..ids.len()).rev() {
        let j = below(&mut rng, i as u64 + 1) as usize;
        ids.swap(i, j);
    }
    let byz: BTreeSet<NodeId> = ids[..f].iter().copied().collect();
    let honest: Vec<NodeId> = (0..m).filter(|v| !byz.contains(v)).collect();
    let groups: [Vec<NodeId>; 2] = {
        let half = honest.len() / 2;
        [honest[..half].to_vec(), honest[half..].to_vec()]
    };
    let offset = below(&mut rng, 3) as usize;
    let mut roles: BTreeMap<NodeId, Role> = byz
        .iter()
        .enumerate()
        .map(|(k, &v)| {
            let role = if split {
                Role::SplitBrain {
                    groups: groups.clone(),
                    allies: byz.iter().copied().filter(|&b| b != v).collect(),
                }
            } else {
                [Role::Equivocator, Role::DoubleVoter, Role::Silent][(k + offset) % 3].clone()
            };
            (v, role)
        })
        .collect();

    // The set changes, decided at `set_change_height(k)`, drawn from their own stream so
    // that a seed's faults (crash, partition) are the same with and without changes.
    let mut crng = ChaCha8Rng::seed_from_u64(seed ^ 0x7365_745f_6368_616e);
    let mut byz = byz;
    let mut schedule = SetSchedule::new(set.clone());
    let mut next_new = m;
    for (k, kind) in changes.iter().enumerate() {
        let members: Vec<NodeId> = (0..universe).filter(|&i| stakes[i] > 0).collect();
        let byz_in: Vec<NodeId> = members.iter().copied().filter(|i| byz.contains(i)).collect();
        match kind {
            SetChangeKind::Swap => {
                let honest_in: Vec<NodeId> = members.iter().copied().filter(|i| !byz.contains(i)).collect();
                let out = match byz_in.first() {
                    Some(&b) => b,
                    None => honest_in[below(&mut crng, honest_in.len() as u64) as usize],
                };
                let joining = next_new;
                next_new += 1;
                stakes[out] = 0;
                stakes[joining] = 1;
                if byz.contains(&out) {
                    roles.insert(out, Role::Removed);
                    byz.insert(joining);
                    roles.insert(joining, Role::Equivocator);
                }
            }
            SetChangeKind::Reweight => {
                for &i in &members {
                    stakes[i] = if byz.contains(&i) { 1 } else { 1 + below(&mut crng, 4) };
                }
            }
            SetChangeKind::Grow => {
                for _ in 0..3 {
                    stakes[next_new] = 1;
                    next_new += 1;
                }
                // The bound ⌊(n + 3 − 1)/3⌋ of the grown set is ⌈n/3⌉.
                if byz_in.len() < members.len().div_ceil(3) {
                    byz.insert(next_new - 1);
                    roles.insert(next_new - 1, Role::Equivocator);
                }
            }
        }
        schedule.decide(set_change_height(k), with_stakes(&stakes)?)?;
    }
    let byz = byz;

    let mut config = cfg.config.clone();
    config.checkpoint_interval = cfg.checkpoint_interval;
    let link = if cfg.faults {
        LinkConfig {
            latency: Latency::Uniform { min_ms: 30, max_ms: 70 },
            jitter_ms: 10,
            loss: cfg.loss,
            duplicate: 0.01,
            reorder: 0.05,
            reorder_delay_ms: 100,
        }
    } else {
        LinkConfig { loss: cfg.loss, ..LinkConfig::constant(50) }
    };
    let mean_delay = link.latency.mean_ms() + link.jitter_ms as f64 / 2.0;
    let mut sim: Sim<SimNode<S>> = Sim::new(SimConfig { seed, default_link: link, max_steps: 200_000_000 });
    let checker = Rc::new(RefCell::new(Checker::default()));
    let disk: Disk<S> = Rc::new(RefCell::new(BTreeMap::new()));
    let guardian_ids: Vec<NodeId> = (universe..universe + cfg.guardians).collect();

    let make_validator = |v: NodeId, role: Role| -> SimNode<S> {
        let key = vkeys[v].0.clone();
        let mut c0 = StaticContext::with_schedule(schedule.clone(), Some((v as u32, key.clone())))
            .with_payload(payload_world0);
        let mut c1 = StaticContext::with_schedule(schedule.clone(), Some((v as u32, key)))
            .with_payload(payload_world1);
        if let Some(g) = &guardians {
            c0 = c0.with_guardians(g.clone());
            c1 = c1.with_guardians(g.clone());
        }
        SimNode::Validator(Box::new(ValidatorNode {
            id: v,
            validators: universe,
            guardians: guardian_ids.clone(),
            role,
            config: config.clone(),
            ctx: [c0, c1],
            machines: Vec::new(),
            disk: disk.clone(),
            checker: checker.clone(),
            out: VecDeque::new(),
            rng: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (v as u64 + 1),
            rejected: 0,
        }))
    };
    for v in 0..universe {
        let role = roles.get(&v).cloned().unwrap_or(Role::Honest);
        let silent = role == Role::Silent;
        let id = sim.add_node(make_validator(v, role));
        if silent {
            sim.set_behaviour(id, Behaviour::Silent);
        }
    }
    if let Some(g) = &guardians {
        let n = cfg.guardians;
        let degree = if n <= 8 { n - 1 } else { 6 };
        let graph = if degree == n - 1 {
            (0..n).map(|i| (0..n).filter(|&j| j != i).collect()).collect()
        } else {
            bls_gossip::sim::random_regular_graph(n, degree, seed)?
        };
        let gossip = bls_gossip::Config { round_ms: 100, ..bls_gossip::Config::default() };
        for (i, k) in gkeys.iter().enumerate() {
            sim.add_node(SimNode::Guardian(Box::new(GuardianNode {
                index: i,
                offset: universe,
                validators: universe,
                key: k.0.clone(),
                set: g.set.clone(),
                set_hash: g.set_hash,
                schedule: schedule.clone(),
                neighbours: graph[i].clone(),
                config: gossip.clone(),
                instances: BTreeMap::new(),
                finalized: BTreeSet::new(),
                out: VecDeque::new(),
                seed: netsim::derive_seed(seed, m + i),
                rejected: 0,
            })));
        }
    }

    // Faults: a crash–restart of one honest validator, then a partition that heals.
    let mut healed = Timestamp::ZERO;
    if cfg.crashes && !split && honest.len() > 1 {
        let victim = honest[below(&mut rng, honest.len() as u64) as usize];
        let at = Timestamp::from_millis(500 + below(&mut rng, 1000));
        let back = at + 500 + below(&mut rng, 1000);
        sim.schedule_crash(victim, at);
        sim.schedule_restart(victim, back, make_validator(victim, Role::Honest));
        healed = healed.max(back);
    }
    if cfg.partitions && !split {
        let at = Timestamp::from_millis(1500 + below(&mut rng, 1000));
        let heal = at + 1000 + below(&mut rng, 1500);
        let mut side: Vec<NodeId> = (0..universe).filter(|_| rng.next_u64() & 1 == 1).collect();
        if side.is_empty() {
            side.push(0);
        }
        let other: Vec<NodeId> =
            (0..universe).filter(|v| !side.contains(v)).chain(guardian_ids.iter().copied()).collect();
        sim.schedule_partition(at, heal, vec![side, other]);
        healed = healed.max(heal);
    }
    if split {
        // The two honest groups cannot reach each other; the Byzantine validators reach both.
        let cut = LinkConfig { loss: 1.0, ..LinkConfig::default() };
        for &a in &groups[0] {
            for &b in &groups[1] {
                sim.set_link(a, b, cut.clone());
                sim.set_link(b, a, cut.clone());
            }
        }
    }
    let tail = cfg.tail_ms.unwrap_or(5000 + cfg.checkpoint_interval.saturating_mul(250));
    let end = healed + tail;
    {
        let c = checker.clone();
        sim.add_invariant("safety", move |_, _| c.borrow().violation.clone().map_or(Ok(()), Err));
    }
    let mut result = sim.run_until(end);
    if result.is_ok() && !split && guardians.is_some() {
        // Cover at least one finalized checkpoint (bounded extension).
        let c = checker.clone();
        let cap = end + tail.saturating_mul(3);
        result = sim.run_until_pred(cap, move |_| !c.borrow().finalized.is_empty());
    }
    let end = sim.now();
    let c = checker.borrow();
    let violation = match result {
        Ok(_) => c.violation.clone(),
        Err(SimError::InvariantViolated { .. }) => c.violation.clone(),
        Err(e) => Some(format!("simulation error: {e}")),
    };
    let liveness_failure =
        violation.is_none() && !split && liveness_failed(&c, &schedule, &byz, healed, end, mean_delay);
    let settle_delays = c
        .first_settled_at
        .iter()
        .filter_map(|(h, at)| c.proposed_at.get(h).map(|p| (at.millis_since(*p)) as f64 / mean_delay))
        .collect();
    let last_change = schedule.changes().last().map(|(h, _)| h);
    let late_proposers = last_change.map_or_else(BTreeSet::new, |eff| {
        c.settled.range(eff.saturating_add(1)..).filter_map(|(_, h)| c.proposer_of.get(h).copied()).collect()
    });
    let last_set = schedule.set_for(u64::MAX);
    let final_members = (0..universe).filter(|&i| last_set.contains(i as ValidatorIndex)).collect();
    Ok(RunOutcome {
        seed,
        late_proposers,
        final_members,
        violation,
        liveness_failure,
        settled: c.settled.keys().next_back().copied().unwrap_or(0),
        finalized: c.finalized.keys().next_back().copied().unwrap_or(0),
        settle_delays,
        evidence: c.evidence,
        invalid_evidence: c.invalid_evidence,
        trace_hash: sim.trace_hash(),
        healed_at: healed,
    })
}

/// The liveness rule of the sweep: after the network heals (time `healed`, in epoch
/// `E0`), take the first two consecutive epochs `e, e+1` with honest proposers, `e ≥
/// E0 + 2` (one epoch to resynchronize). A new block must settle before an honest
/// validator enters `e + 2` (plus two message delays), or by the end of the run if no
/// honest validator gets there.
fn liveness_failed<S: Scheme>(
    c: &Checker,
    schedule: &SetSchedule<S>,
    byz: &BTreeSet<NodeId>,
    healed: Timestamp,
    end: Timestamp,
    mean_delay: f64,
) -> bool {
    let base = c.settled_height_at(healed);
    let e0 = c.epochs_entered.iter().filter(|(_, at)| **at <= healed).map(|(e, _)| *e).max().unwrap_or(1);
    // With set changes an epoch's proposer depends on the height proposed: count an epoch
    // as honest-led only if its proposer is honest in every set of the schedule.
    let honest = |e: u64| {
        std::iter::once(schedule.genesis())
            .chain(schedule.changes().map(|(_, s)| s))
            .all(|set| !byz.contains(&(set.proposer(e) as NodeId)))
    };
    let mut e = e0 + 2;
    while !(honest(e) && honest(e + 1)) {
        e += 1;
    }
    let deadline = c.epochs_entered.get(&(e + 2)).map_or(end, |at| *at + (2.0 * mean_delay) as u64).min(end);
    !c.settle_times.iter().any(|(at, h)| *h > base && *at <= deadline)
}

/// Aggregate figures over many runs (the sweep's JSON line).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Runs.
    pub runs: usize,
    /// Runs with a safety violation.
    pub violations: usize,
    /// Runs with a liveness failure.
    pub liveness_failures: usize,
    /// Smallest highest-settled height over runs.
    pub settled_min: u64,
    /// Median highest-settled height.
    pub settled_median: u64,
    /// Smallest highest-finalized height over runs.
    pub finalized_min: u64,
    /// Median proposal-to-settled latency, in message delays, over all blocks of all runs.
    pub settle_delays_p50: f64,
}

impl Summary {
    /// Summarizes `runs`.
    pub fn of(runs: &[RunOutcome]) -> Summary {
        let mut settled: Vec<u64> = runs.iter().map(|r| r.settled).collect();
        settled.sort_unstable();
        let mut delays: Vec<f64> = runs.iter().flat_map(|r| r.settle_delays.iter().copied()).collect();
        delays.sort_by(f64::total_cmp);
        Summary {
            runs: runs.len(),
            violations: runs.iter().filter(|r| r.violation.is_some()).count(),
            liveness_failures: runs.iter().filter(|r| r.liveness_failure).count(),
            settled_min: settled.first().copied().unwrap_or(0),
            settled_median: settled.get(settled.len() / 2).copied().unwrap_or(0),
            finalized_min: runs.iter().map(|r| r.finalized).min().unwrap_or(0),
            settle_delays_p50: delays.get(delays.len() / 2).copied().unwrap_or(0.0),
        }
    }

    /// The JSON object the sweep prints last.
    pub fn to_json(&self) -> String {
        format!(
            "{{\"runs\":{},\"violations\":{},\"liveness_failures\":{},\"settled_min\":{},\"settled_median\":{},\"finalized_min\":{},\"settle_delays_p50\":{:.2}}}",
            self.runs,
            self.violations,
            self.liveness_failures,
            self.settled_min,
            self.settled_median,
            self.finalized_min,
            self.settle_delays_p50
        )
    }
}
