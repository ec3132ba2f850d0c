//! The discrete-event simulator.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};

use primitives::Timestamp;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::behaviour::Behaviour;
use crate::link::{Deliveries, LinkConfig};
use crate::stats::{NetStats, NodeStats};
use crate::{Dest, Node, NodeId, NodeInput, Outgoing, SimError, WireSize};

/// Configuration of one run.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Master seed: the only source of randomness of the run.
    pub seed: u64,
    /// Link model used where no per-link model was set.
    pub default_link: LinkConfig,
    /// Events processed before the run is declared a livelock.
    pub max_steps: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig { seed: 0, default_link: LinkConfig::default(), max_steps: 50_000_000 }
    }
}

impl SimConfig {
    /// The default configuration with the given seed.
    pub fn with_seed(seed: u64) -> Self {
        SimConfig { seed, ..SimConfig::default() }
    }
}

/// What a finished `run_*` call reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunSummary {
    /// Virtual time at the end of the call.
    pub now: Timestamp,
    /// Events processed by this call.
    pub steps: u64,
    /// Whether the run stopped because the predicate of `run_until_pred` held.
    pub predicate_met: bool,
}

/// One recorded event (see [`Sim::record_trace`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// When it happened.
    pub at: Timestamp,
    /// What happened.
    pub kind: TraceKind,
}

/// The kind of a [`TraceEvent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceKind {
    /// A node was started.
    Start {
        /// The node.
        node: NodeId,
    },
    /// A message was delivered.
    Deliver {
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
        /// Its wire size.
        bytes: usize,
    },
    /// A timeout fired.
    Timeout {
        /// The node.
        node: NodeId,
    },
    /// A node crashed.
    Crash {
        /// The node.
        node: NodeId,
    },
    /// A partition formed (`true`) or healed (`false`).
    Partition {
        /// Index of the partition in scheduling order.
        index: usize,
        /// Formed or healed.
        active: bool,
    },
}

enum EventKind<M> {
    Start(NodeId),
    Deliver {
        from: NodeId,
        to: NodeId,
        msg: M,
    },
    /// The delayed copy sent by a replaying node.
    Resend {
        from: NodeId,
        out: Outgoing<M>,
    },
    Timer {
        node: NodeId,
        generation: u64,
    },
    PartitionSet {
        index: usize,
        active: bool,
    },
    Crash(NodeId),
    Restart {
        node: NodeId,
        slot: usize,
    },
}

struct Scheduled<M> {
    at: u64,
    seq: u64,
    kind: EventKind<M>,
}

impl<M> PartialEq for Scheduled<M> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<M> Eq for Scheduled<M> {}
impl<M> PartialOrd for Scheduled<M> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<M> Ord for Scheduled<M> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

struct Slot {
    up: bool,
    /// Timer generation: a timer event fires only if it is the newest one armed.
    generation: u64,
    armed: Option<u64>,
    stats: NodeStats,
}

struct Partition {
    /// Group of each node; nodes not listed share the implicit group `u32::MAX`.
    group_of: Vec<u32>,
    active: bool,
}

type NodeInvariant<N> = Box<dyn FnMut(Timestamp, NodeId, &N) -> Result<(), String>>;
type GlobalInvariant<N> = Box<dyn FnMut(Timestamp, &[N]) -> Result<(), String>>;

/// A deterministic discrete-event network simulation of nodes of type `N`.
///
/// The virtual clock jumps from event to event; ties are broken by scheduling order, and
/// every random choice comes from one ChaCha8 stream seeded by [`SimConfig::seed`], so a
/// seed reproduces a run exactly (see [`Sim::trace_hash`]).
pub struct Sim<N: Node> {
    config: SimConfig,
    rng: ChaCha8Rng,
    nodes: Vec<N>,
    slots: Vec<Slot>,
    behaviours: Vec<Behaviour<N::Msg>>,
    links: BTreeMap<(NodeId, NodeId), LinkConfig>,
    partitions: Vec<Partition>,
    active_partitions: usize,
    restarts: Vec<Option<N>>,
    queue: BinaryHeap<Reverse<Scheduled<N::Msg>>>,
    seq: u64,
    now: u64,
    started: bool,
    steps: u64,
    trace_hash: u64,
    trace: Option<Vec<TraceEvent>>,
    node_invariants: Vec<(String, NodeInvariant<N>)>,
    global_invariants: Vec<(String, GlobalInvariant<N>)>,
    outbox: Vec<Outgoing<N::Msg>>,
    targets: Vec<NodeId>,
}

/// Derives the 32-byte seed of node `node` from the master seed, for machines that take
/// a seed in their constructor (DESIGN.md section 2).
pub fn derive_seed(master: u64, node: NodeId) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut x = master ^ (node as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for chunk in out.chunks_mut(8) {
        x = splitmix64(&mut x);
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    out
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn mix(h: u64, v: u64) -> u64 {
    (h ^ v).wrapping_mul(0x0100_0000_01b3).rotate_left(29) ^ (v >> 17)
}

impl<N: Node> Sim<N> {
    /// An empty simulation at time zero.
    pub fn new(config: SimConfig) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(config.seed);
        Sim {
            rng,
            nodes: Vec::new(),
            slots: Vec::new(),
            behaviours: Vec::new(),
            links: BTreeMap::new(),
            partitions: Vec::new(),
            active_partitions: 0,
            restarts: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            now: 0,
            started: false,
            steps: 0,
            trace_hash: 0xcbf2_9ce4_8422_2325 ^ config.seed,
            trace: None,
            node_invariants: Vec::new(),
            global_invariants: Vec::new(),
            outbox: Vec::new(),
            targets: Vec::new(),
            config,
        }
    }

    /// The master seed.
    pub fn seed(&self) -> u64 {
        self.config.seed
    }

    /// Adds a node and returns its id (ids are dense, in insertion order). A node added
    /// after the run started receives [`NodeInput::Start`] at the current time.
    pub fn add_node(&mut self, node: N) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(node);
        self.slots.push(Slot { up: true, generation: 0, armed: None, stats: NodeStats::default() });
        self.behaviours.push(Behaviour::Honest);
        for p in &mut self.partitions {
            p.group_of.push(u32::MAX);
        }
        if self.started {
            self.schedule(self.now, EventKind::Start(id));
        }
        id
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Sets the model of the directed link `from -> to`.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, link: LinkConfig) {
        self.links.insert((from, to), link);
    }

    /// Sets how node `id`'s outgoing messages are treated.
    pub fn set_behaviour(&mut self, id: NodeId, behaviour: Behaviour<N::Msg>) {
        if let Some(b) = self.behaviours.get_mut(id) {
            *b = behaviour;
        }
    }

    /// Splits the network into `groups` from `at` until `heal_at`. Nodes in no group form
    /// one more group. A message sent while the partition is active between nodes of
    /// different groups is dropped (messages already in flight still arrive).
    pub fn schedule_partition(&mut self, at: Timestamp, heal_at: Timestamp, groups: Vec<Vec<NodeId>>) {
        let mut group_of = vec![u32::MAX; self.nodes.len()];
        for (g, members) in groups.iter().enumerate() {
            for &n in members {
                if let Some(slot) = group_of.get_mut(n) {
                    *slot = g as u32;
                }
            }
        }
        let index = self.partitions.len();
        self.partitions.push(Partition { group_of, active: false });
        self.schedule(at.as_millis(), EventKind::PartitionSet { index, active: true });
        self.schedule(heal_at.as_millis(), EventKind::PartitionSet { index, active: false });
    }

    /// Crashes node `id` at `at`: from then on it receives nothing, its timers do not
    /// fire, and messages addressed to it are dropped.
    pub fn schedule_crash(&mut self, id: NodeId, at: Timestamp) {
        self.schedule(at.as_millis(), EventKind::Crash(id));
    }

    /// Restarts node `id` at `at` with the state `fresh` (a crash-recovery node would be
    /// rebuilt from its persisted state by the caller), then delivers
    /// [`NodeInput::Start`].
    pub fn schedule_restart(&mut self, id: NodeId, at: Timestamp, fresh: N) {
        let slot = self.restarts.len();
        self.restarts.push(Some(fresh));
        self.schedule(at.as_millis(), EventKind::Restart { node: id, slot });
    }

    /// Adds an invariant over all nodes, checked after every event. Return `Err` with a
    /// description to stop the run with [`SimError::InvariantViolated`].
    pub fn add_invariant(
        &mut self,
        name: &str,
        f: impl FnMut(Timestamp, &[N]) -> Result<(), String> + 'static,
    ) {
        self.global_invariants.push((name.to_owned(), Box::new(f)));
    }

    /// Adds an invariant over one node, checked on the node that just handled an event
    /// (cheaper than [`Sim::add_invariant`] for large networks).
    pub fn add_node_invariant(
        &mut self,
        name: &str,
        f: impl FnMut(Timestamp, NodeId, &N) -> Result<(), String> + 'static,
    ) {
        self.node_invariants.push((name.to_owned(), Box::new(f)));
    }

    /// Starts recording every event (memory grows with the run; for tests).
    pub fn record_trace(&mut self) {
        self.trace.get_or_insert_with(Vec::new);
    }

    /// The recorded events, if [`Sim::record_trace`] was called.
    pub fn trace(&self) -> &[TraceEvent] {
        self.trace.as_deref().unwrap_or(&[])
    }

    /// A running hash of every event processed (time, kind, endpoints, sizes): equal for
    /// equal seeds and inputs, different otherwise with overwhelming probability.
    pub fn trace_hash(&self) -> u64 {
        self.trace_hash
    }

    /// The current virtual time.
    pub fn now(&self) -> Timestamp {
        Timestamp(self.now)
    }

    /// All nodes, by id.
    pub fn nodes(&self) -> &[N] {
        &self.nodes
    }

    /// Node `id`. Panics on an unknown id, like slice indexing; see [`Sim::try_node`].
    #[allow(clippy::indexing_slicing)]
    pub fn node(&self, id: NodeId) -> &N {
        &self.nodes[id]
    }

    /// Node `id`, or an error naming the bad id.
    pub fn try_node(&self, id: NodeId) -> Result<&N, SimError> {
        self.nodes.get(id).ok_or(SimError::UnknownNode { id, nodes: self.nodes.len() })
    }

    /// Mutable access to node `id` (for test set-up between runs). Panics on an unknown id.
    #[allow(clippy::indexing_slicing)]
    pub fn node_mut(&mut self, id: NodeId) -> &mut N {
        &mut self.nodes[id]
    }

    /// Whether node `id` is up (not crashed).
    pub fn is_up(&self, id: NodeId) -> bool {
        self.slots.get(id).is_some_and(|s| s.up)
    }

    /// Traffic counters of node `id`. Panics on an unknown id.
    #[allow(clippy::indexing_slicing)]
    pub fn stats(&self, id: NodeId) -> &NodeStats {
        &self.slots[id].stats
    }

    /// Network-wide totals.
    pub fn totals(&self) -> NetStats {
        let mut nodes = NodeStats::default();
        for s in &self.slots {
            nodes += &s.stats;
        }
        NetStats { nodes, events: self.steps }
    }

    /// Runs every event up to and including `deadline`, then sets the clock to
    /// `deadline`. The first call delivers [`NodeInput::Start`] to every node at the
    /// current time.
    pub fn run_until(&mut self, deadline: Timestamp) -> Result<RunSummary, SimError> {
        self.run_until_pred(deadline, |_| false)
    }

    /// Like [`Sim::run_until`], but stops early once `done(nodes)` holds. The predicate is
    /// evaluated whenever the clock is about to advance (after all events of one instant)
    /// and at the end, so an O(n) predicate costs O(n) per distinct instant, not per event.
    pub fn run_until_pred(
        &mut self,
        deadline: Timestamp,
        mut done: impl FnMut(&[N]) -> bool,
    ) -> Result<RunSummary, SimError> {
        self.start();
        let deadline = deadline.as_millis();
        let first_step = self.steps;
        loop {
            let next_at = match self.queue.peek() {
                Some(Reverse(ev)) if ev.at <= deadline => ev.at,
                _ => break,
            };
            if next_at > self.now && done(&self.nodes) {
                return Ok(RunSummary {
                    now: Timestamp(self.now),
                    steps: self.steps - first_step,
                    predicate_met: true,
                });
            }
            self.step()?;
        }
        let predicate_met = done(&self.nodes);
        if !predicate_met {
            self.now = self.now.max(deadline);
        }
        Ok(RunSummary { now: Timestamp(self.now), steps: self.steps - first_step, predicate_met })
    }

    /// Processes the next event, if any. Returns `false` when the queue is empty.
    pub fn step(&mut self) -> Result<bool, SimError> {
        self.start();
        let Some(Reverse(ev)) = self.queue.pop() else { return Ok(false) };
        self.steps += 1;
        if self.steps > self.config.max_steps {
            return Err(SimError::StepLimit {
                seed: self.config.seed,
                steps: self.steps - 1,
                at: self.now(),
            });
        }
        self.now = self.now.max(ev.at);
        let touched = self.process(ev.kind);
        self.check_invariants(touched)?;
        Ok(true)
    }

    fn start(&mut self) {
        if self.started {
            return;
        }
        self.started = true;
        for id in 0..self.nodes.len() {
            self.schedule(self.now, EventKind::Start(id));
        }
    }

    fn schedule(&mut self, at: u64, kind: EventKind<N::Msg>) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled { at, seq: self.seq, kind }));
    }

    fn record(&mut self, kind: TraceKind) {
        let (tag, a, b, c) = match kind {
            TraceKind::Start { node } => (1, node, 0, 0),
            TraceKind::Deliver { from, to, bytes } => (2, from, to, bytes),
            TraceKind::Timeout { node } => (3, node, 0, 0),
            TraceKind::Crash { node } => (4, node, 0, 0),
            TraceKind::Partition { index, active } => (5, index, usize::from(active), 0),
        };
        let mut h = mix(self.trace_hash, self.now);
        h = mix(h, tag);
        h = mix(h, a as u64);
        h = mix(h, b as u64);
        self.trace_hash = mix(h, c as u64);
        if let Some(t) = &mut self.trace {
            t.push(TraceEvent { at: Timestamp(self.now), kind });
        }
    }

    /// Applies one event; returns the node that handled an input, if any.
    fn process(&mut self, kind: EventKind<N::Msg>) -> Option<NodeId> {
        match kind {
            EventKind::Start(id) => {
                if !self.slots.get(id)?.up {
                    return None;
                }
                self.record(TraceKind::Start { node: id });
                self.deliver_input(id, NodeInput::Start);
                Some(id)
            }
            EventKind::Deliver { from, to, msg } => {
                let slot = self.slots.get_mut(to)?;
                if !slot.up {
                    slot.stats.dropped_crashed += 1;
                    return None;
                }
                let bytes = msg.wire_size();
                slot.stats.msgs_received += 1;
                slot.stats.bytes_received += bytes as u64;
                self.record(TraceKind::Deliver { from, to, bytes });
                self.deliver_input(to, NodeInput::Message { from, msg });
                Some(to)
            }
            EventKind::Resend { from, out } => {
                // The replayed copy goes straight to the links: replaying it again would
                // turn one message into an endless stream.
                if self.slots.get(from)?.up {
                    self.send(from, out);
                }
                None
            }
            EventKind::Timer { node, generation } => {
                let slot = self.slots.get_mut(node)?;
                if !slot.up || slot.generation != generation {
                    return None;
                }
                slot.armed = None;
                // Fire only if the node still wants it now (it may have moved its timer).
                match self.nodes.get(node)?.poll_timeout() {
                    Some(t) if t.as_millis() <= self.now => {
                        if let Some(slot) = self.slots.get_mut(node) {
                            slot.stats.timeouts += 1;
                        }
                        self.record(TraceKind::Timeout { node });
                        self.deliver_input(node, NodeInput::Timeout);
                        Some(node)
                    }
                    _ => {
                        self.rearm(node);
                        None
                    }
                }
            }
            EventKind::PartitionSet { index, active } => {
                let p = self.partitions.get_mut(index)?;
                if p.active != active {
                    p.active = active;
                    if active {
                        self.active_partitions += 1;
                    } else {
                        self.active_partitions -= 1;
                    }
                }
                self.record(TraceKind::Partition { index, active });
                None
            }
            EventKind::Crash(id) => {
                let slot = self.slots.get_mut(id)?;
                slot.up = false;
                slot.armed = None;
                slot.generation += 1;
                self.record(TraceKind::Crash { node: id });
                None
            }
            EventKind::Restart { node, slot } => {
                let fresh = self.restarts.get_mut(slot)?.take()?;
                *self.nodes.get_mut(node)? = fresh;
                let s = self.slots.get_mut(node)?;
                s.up = true;
                s.armed = None;
                s.generation += 1;
                self.record(TraceKind::Start { node });
                self.deliver_input(node, NodeInput::Start);
                Some(node)
            }
        }
    }

    fn deliver_input(&mut self, id: NodeId, input: NodeInput<N::Msg>) {
        let now = Timestamp(self.now);
        let Some(node) = self.nodes.get_mut(id) else { return };
        node.handle(now, input);
        let mut outbox = std::mem::take(&mut self.outbox);
        while let Some(out) = node.poll_send() {
            outbox.push(out);
        }
        for out in outbox.drain(..) {
            self.route(id, out);
        }
        self.outbox = outbox;
        self.rearm(id);
    }

    fn rearm(&mut self, id: NodeId) {
        let want = self.nodes.get(id).and_then(|n| n.poll_timeout()).map(|t| t.as_millis().max(self.now));
        let Some(slot) = self.slots.get_mut(id) else { return };
        if slot.armed == want {
            return;
        }
        slot.generation += 1;
        slot.armed = want;
        if let Some(at) = want {
            let generation = slot.generation;
            self.schedule(at, EventKind::Timer { node: id, generation });
        }
    }

    /// Applies the sender's behaviour, then sends each resulting message over its links.
    fn route(&mut self, from: NodeId, out: Outgoing<N::Msg>) {
        let Some(slot) = self.behaviours.get_mut(from) else { return };
        if matches!(slot, Behaviour::Honest) {
            self.send(from, out);
            return;
        }
        // Take the behaviour out while it runs: it may need the RNG and the router.
        let mut behaviour = std::mem::take(slot);
        match &mut behaviour {
            Behaviour::Honest => self.send(from, out),
            Behaviour::Silent => {}
            Behaviour::Replay { delay_ms } => {
                let at = self.now.saturating_add(*delay_ms);
                self.schedule(at, EventKind::Resend { from, out: out.clone() });
                self.send(from, out);
            }
            Behaviour::Equivocate(forge) => {
                let forged = forge(&out.msg);
                self.expand(from, &out.to);
                let (even, odd): (Vec<NodeId>, Vec<NodeId>) = self.targets.iter().partition(|&&t| t % 2 == 0);
                self.send(from, Outgoing { to: Dest::Many(even), msg: out.msg });
                self.send(from, Outgoing { to: Dest::Many(odd), msg: forged });
            }
            Behaviour::Forge(f) => {
                for o in f(&mut self.rng, from, out) {
                    self.send(from, o);
                }
            }
        }
        if let Some(slot) = self.behaviours.get_mut(from) {
            *slot = behaviour;
        }
    }

    fn expand(&mut self, from: NodeId, dest: &Dest) {
        self.targets.clear();
        match dest {
            Dest::To(t) => self.targets.push(*t),
            Dest::Many(ts) => self.targets.extend_from_slice(ts),
            Dest::All => self.targets.extend((0..self.nodes.len()).filter(|&t| t != from)),
        }
        let n = self.nodes.len();
        self.targets.retain(|&t| t < n);
    }

    fn send(&mut self, from: NodeId, out: Outgoing<N::Msg>) {
        self.expand(from, &out.to);
        let targets = std::mem::take(&mut self.targets);
        let bytes = out.msg.wire_size() as u64;
        let last = targets.len().saturating_sub(1);
        let mut msg = Some(out.msg);
        for (i, &to) in targets.iter().enumerate() {
            // Move the message into the last copy instead of cloning it.
            let m = if i == last { msg.take() } else { msg.clone() };
            let Some(m) = m else { break };
            self.send_one(from, to, m, bytes);
        }
        self.targets = targets;
    }

    fn send_one(&mut self, from: NodeId, to: NodeId, msg: N::Msg, bytes: u64) {
        let partitioned = self.active_partitions > 0
            && self.partitions.iter().any(|p| {
                p.active
                    && p.group_of.get(from).copied().unwrap_or(u32::MAX)
                        != p.group_of.get(to).copied().unwrap_or(u32::MAX)
            });
        let fate = if partitioned {
            None
        } else if self.links.is_empty() {
            Some(self.config.default_link.deliveries(&mut self.rng))
        } else {
            let link = self.links.get(&(from, to)).unwrap_or(&self.config.default_link);
            Some(link.deliveries(&mut self.rng))
        };
        let now = self.now;
        let Some(slot) = self.slots.get_mut(from) else { return };
        slot.stats.msgs_sent += 1;
        slot.stats.bytes_sent += bytes;
        match fate {
            None => slot.stats.dropped_partition += 1,
            Some(Deliveries::Lost) => slot.stats.dropped_loss += 1,
            Some(Deliveries::Once(d)) => {
                self.schedule(now.saturating_add(d), EventKind::Deliver { from, to, msg });
            }
            Some(Deliveries::Twice(d1, d2)) => {
                slot.stats.duplicated += 1;
                self.schedule(now.saturating_add(d1), EventKind::Deliver { from, to, msg: msg.clone() });
                self.schedule(now.saturating_add(d2), EventKind::Deliver { from, to, msg });
            }
        }
    }

    fn check_invariants(&mut self, touched: Option<NodeId>) -> Result<(), SimError> {
        let now = Timestamp(self.now);
        if let Some(id) = touched
            && let Some(node) = self.nodes.get(id)
        {
            for (name, f) in &mut self.node_invariants {
                if let Err(message) = f(now, id, node) {
                    return Err(SimError::InvariantViolated {
                        seed: self.config.seed,
                        at: now,
                        name: name.clone(),
                        message,
                    });
                }
            }
        }
        for (name, f) in &mut self.global_invariants {
            if let Err(message) = f(now, &self.nodes) {
                return Err(SimError::InvariantViolated {
                    seed: self.config.seed,
                    at: now,
                    name: name.clone(),
                    message,
                });
            }
        }
        Ok(())
    }
}
