//! The aggregated-signature gossip machine (whitepaper section 5.2 "aggregated signature
//! gossip"; DESIGN.md sections 2 and 4.2).
//!
//! Round `k` is the tick at `start + k · round_ms`. At each tick the machine
//!
//! 1. takes the latest aggregate received from each peer since the last tick and keeps
//!    those that would add a signer it lacks (others are dropped unverified);
//! 2. batch-verifies them ([`Scheme::find_invalid`]: one batch, bisection on failure)
//!    with weights keyed by the machine's secret seed and the batch contents; each invalid
//!    one becomes [`Output::Misbehaviour`] (a peer-scoring report, not slashing evidence)
//!    and its sender is ignored from then on;
//! 3. rebuilds its aggregate greedily from its current aggregate and the verified ones:
//!    most new signers first, ties to fewer overlaps, skipping any piece that would take
//!    a multiplicity past [`Config::max_multiplicity`], then subtracts surplus copies of
//!    every individual signature it holds (its own and its neighbours' round-0 ones:
//!    `σ ← σ − (c_u − 1)·σ_u`), the multiplicities every neighbour repeats — so counts
//!    stay small; then verifies the result on its own (one weighted verification) and
//!    adopts it only if it verifies. If it does not (the batch passed pieces that do not
//!    add up), every new piece and every individual signature not yet checked alone is
//!    verified on its own, the bad ones are reported and dropped, and the rest merged —
//!    so the machine never holds, sends or finalizes an aggregate that fails
//!    verification;
//! 4. emits [`Event::Finalized`] once the distinct signers hold more than 2/3 of the
//!    stake (strict: `3·signed > 2·total`), at most once;
//! 5. sends its aggregate to every neighbour that needs it: not a neighbour whose last
//!    message already covered all our signers or showed a quorum, and an unchanged
//!    aggregate only every [`Config::resend_every`] rounds (loss repair).
//!
//! After finality it stops merging (unless [`Config::merge_after_finality`]) and keeps
//! ticking for [`Config::linger_rounds`] rounds; later, a message from a neighbour that
//! still lacks our signers wakes it for one more send, so late nodes finish too.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use primitives::{Machine, Timestamp};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use sha2::{Digest, Sha256};

use crate::Error;
use crate::guardians::GuardianSet;
use crate::message::{Aggregate, GossipMessage};
use crate::scheme::Scheme;
use crate::signers::{MAX_MULTIPLICITY, SignerVector};

/// Tuning of the gossip machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Round length in milliseconds (should exceed the typical one-way latency).
    pub round_ms: u64,
    /// Cap on any signer's multiplicity in our aggregate (at most [`MAX_MULTIPLICITY`]).
    pub max_multiplicity: u8,
    /// Rounds to keep ticking (and sending to neighbours that need it) after finality.
    pub linger_rounds: u32,
    /// Resend an unchanged aggregate to a neighbour that has not shown it has our signers
    /// after this many rounds.
    pub resend_every: u32,
    /// Keep merging new signers after finality.
    pub merge_after_finality: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            round_ms: 200,
            max_multiplicity: 64,
            linger_rounds: 2,
            resend_every: 2,
            merge_after_finality: false,
        }
    }
}

/// What a gossip instance is about: the guardian set, the message, who we are and whom
/// we talk to.
#[derive(Clone, Debug)]
pub struct Context<S: Scheme> {
    instance: u64,
    guardians: Arc<GuardianSet<S>>,
    message: Arc<[u8]>,
    me: Option<(usize, S::Signature)>,
    neighbours: Vec<usize>,
}

impl<S: Scheme> Context<S> {
    /// `me` is our guardian index and our signature over `message` (signed by the
    /// embedder, which holds the key; it is trusted, not re-verified), or `None` for an
    /// observer that only relays and learns finality. Neighbours are guardian indices
    /// (duplicates and `me` are dropped).
    pub fn new(
        instance: u64,
        guardians: Arc<GuardianSet<S>>,
        message: Arc<[u8]>,
        me: Option<(usize, S::Signature)>,
        neighbours: Vec<usize>,
    ) -> Result<Self, Error> {
        let len = guardians.len();
        if let Some((index, _)) = &me
            && *index >= len
        {
            return Err(Error::UnknownPeer { peer: *index, len });
        }
        let neighbours = clean_neighbours(neighbours, len, me.as_ref().map(|m| m.0))?;
        Ok(Context { instance, guardians, message, me, neighbours })
    }

    /// The guardian set.
    pub fn guardians(&self) -> &Arc<GuardianSet<S>> {
        &self.guardians
    }

    /// The signed message.
    pub fn message(&self) -> &[u8] {
        &self.message
    }
}

fn clean_neighbours(mut n: Vec<usize>, len: usize, me: Option<usize>) -> Result<Vec<usize>, Error> {
    if let Some(&peer) = n.iter().find(|&&p| p >= len) {
        return Err(Error::UnknownPeer { peer, len });
    }
    n.sort_unstable();
    n.dedup();
    n.retain(|&p| Some(p) != me);
    Ok(n)
}

/// Inputs from the host.
#[derive(Clone, Debug)]
pub enum Input<S: Scheme> {
    /// A decoded gossip message from guardian `from`.
    Message {
        /// Sender's guardian index.
        from: usize,
        /// The message.
        msg: GossipMessage<S>,
    },
    /// The time from [`GossipMachine::poll_timeout`] was reached.
    Timeout,
    /// Replace the neighbour list.
    SetNeighbours(Vec<usize>),
}

/// Outputs for the host.
#[derive(Clone, Debug, PartialEq)]
pub enum Output<S: Scheme> {
    /// Send `msg` to each of the guardians `to`.
    Send {
        /// Recipients (guardian indices, ascending).
        to: Vec<usize>,
        /// The message.
        msg: GossipMessage<S>,
    },
    /// Something happened.
    Event(Event<S>),
    /// An aggregate that does not verify arrived over the link from a peer: a reason to
    /// score that peer down or disconnect it, **not slashing evidence** (see
    /// [`Misbehaviour`]).
    Misbehaviour(Misbehaviour<S>),
}

/// Events.
#[derive(Clone, Debug, PartialEq)]
pub enum Event<S: Scheme> {
    /// Our verified aggregate's distinct signers hold more than 2/3 of the stake.
    Finalized {
        /// The round in which it happened.
        round: u32,
        /// The aggregate (valid by construction: built only from verified pieces).
        aggregate: Aggregate<S>,
    },
}

/// A local report: an aggregate that does not verify arrived over the link from guardian
/// `from`, and this machine ignores `from` for the rest of the instance.
///
/// **What it proves, and what it does not.** Anyone can re-check with
/// [`Aggregate::verify`] that `aggregate` is invalid. Nothing in it is signed by `from`:
/// gossip messages carry no sender signature, and an invalid aggregate is by definition
/// not a signature by anyone, so the report cannot show a third party that `from` sent
/// it — the reporter could have made it up, and a relay cannot be told apart from its
/// origin. Use it to score down, rate-limit or disconnect the peer on *this* link. It is
/// **not slashing evidence**: slash only on evidence that carries the offender's own
/// signatures (e.g. mlbft-core's two signed votes for different blocks in one epoch);
/// `bls-gossip` emits none.
#[derive(Clone, Debug, PartialEq)]
pub struct Misbehaviour<S: Scheme> {
    /// The peer whose link delivered the aggregate (not necessarily its author).
    pub from: usize,
    /// Our round when we found it.
    pub round: u32,
    /// The instance it claimed.
    pub instance: u64,
    /// The invalid aggregate.
    pub aggregate: Aggregate<S>,
}

/// Counters for experiments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Aggregates received.
    pub received: u64,
    /// Aggregates dropped because they added no signer.
    pub useless: u64,
    /// Aggregates that went through verification.
    pub verified: u64,
    /// Batch verifications started (one per tick with candidates).
    pub batches: u64,
    /// Invalid aggregates found.
    pub invalid: u64,
    /// Aggregates merged into ours.
    pub merged: u64,
    /// Merged aggregates that failed their own verification although every piece had
    /// passed the batch check (each one triggers the per-piece fallback). Non-zero means
    /// someone predicted the batch weights — a leaked or guessable seed — or a bug.
    pub merge_check_failures: u64,
}

#[derive(Clone, Debug, Default)]
struct PeerView {
    /// The peer's latest claimed signers (unverified; used only to decide whom to send to).
    claimed: Option<Arc<SignerVector>>,
    claims_quorum: bool,
    banned: bool,
    sent_version: Option<u64>,
    sent_round: u32,
}

/// An individual signature we hold.
#[derive(Clone, Debug)]
struct Known<S: Scheme> {
    sig: S::Signature,
    /// `−σ_u`, what normalization adds.
    neg: S::Signature,
    /// Verified on its own (or our own). An unconfirmed one passed a batch check and is
    /// only ever used inside an aggregate that is verified before adoption.
    confirmed: bool,
}

/// Domain of the batch-weight derivation.
const WEIGHT_DOMAIN: &[u8] = b"meshcast/bls-gossip/batch-weights/v1";

/// One guardian's gossip state for one checkpoint instance.
#[derive(Debug)]
pub struct GossipMachine<S: Scheme> {
    config: Config,
    ctx: Context<S>,
    /// The host's secret seed: keys the batch-verification weights.
    secret: [u8; 32],
    start: Timestamp,
    round: u32,
    next_tick: Option<Timestamp>,
    current: Option<Aggregate<S>>,
    current_msg: Option<GossipMessage<S>>,
    version: u64,
    finalized: Option<u32>,
    inbox: BTreeMap<usize, GossipMessage<S>>,
    /// Every guardian whose individual signature we hold (ours, and those neighbours sent
    /// alone): used to normalize their multiplicity to 1.
    known: BTreeMap<usize, Known<S>>,
    peers: BTreeMap<usize, PeerView>,
    outputs: VecDeque<Output<S>>,
    stats: Stats,
}

impl<S: Scheme> GossipMachine<S> {
    /// A machine that starts gossiping at `now` (its first tick, round 0, is due at
    /// `now`: it sends our own signature).
    ///
    /// **Security requirement:** `seed` must be 32 bytes from the host's CSPRNG (e.g. the
    /// OS: `getrandom`, `rand::rngs::OsRng`), secret, and fresh for each machine. It keys
    /// the batch-verification weights: each batch's weights are a keyed hash (SHA-256) of
    /// the seed, the instance, the round and the batch's contents, so a peer cannot know
    /// them before it has sent its piece. Peers that could predict the weights (a seed
    /// that is a constant, a counter, a guardian index, or derived from public data)
    /// could craft pieces whose errors cancel in the batch; the machine would still catch
    /// them with its check of every merged aggregate before adoption, but at the cost of
    /// one verification per piece. Tests and simulations may use fixed seeds: outputs
    /// depend only on `(seed, inputs)`.
    pub fn new(config: Config, ctx: Context<S>, now: Timestamp, seed: [u8; 32]) -> Self {
        let mut config = config;
        config.round_ms = config.round_ms.max(1);
        config.max_multiplicity = config.max_multiplicity.clamp(1, MAX_MULTIPLICITY);
        let n = ctx.guardians.len();
        let current = ctx.me.as_ref().and_then(|(i, sig)| {
            SignerVector::singleton(n, *i)
                .ok()
                .map(|v| Aggregate { signers: Arc::new(v), signature: sig.clone() })
        });
        let mut m = GossipMachine {
            config,
            secret: seed,
            start: now,
            round: 0,
            next_tick: Some(now),
            current: None,
            current_msg: None,
            version: 0,
            finalized: None,
            inbox: BTreeMap::new(),
            known: BTreeMap::new(),
            peers: BTreeMap::new(),
            outputs: VecDeque::new(),
            stats: Stats::default(),
            ctx,
        };
        if let Some((i, sig)) = &m.ctx.me
            && let Ok(neg) = S::negate(sig)
        {
            m.known.insert(*i, Known { sig: sig.clone(), neg, confirmed: true });
        }
        m.set_current(current);
        m
    }

    fn set_current(&mut self, agg: Option<Aggregate<S>>) {
        self.current_msg = agg.as_ref().map(|a| GossipMessage::new(self.ctx.instance, a.clone()));
        self.current = agg;
        self.version += 1;
    }

    /// Our current aggregate (verified pieces only).
    pub fn aggregate(&self) -> Option<&Aggregate<S>> {
        self.current.as_ref()
    }

    /// The round in which we finalized, if we have.
    pub fn finalized_round(&self) -> Option<u32> {
        self.finalized
    }

    /// The next round to run.
    pub fn round(&self) -> u32 {
        self.round
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The context.
    pub fn context(&self) -> &Context<S> {
        &self.ctx
    }

    /// Processes one input (DESIGN.md section 2). Errors leave the machine unchanged.
    pub fn handle(&mut self, now: Timestamp, input: Input<S>) -> Result<(), Error> {
        match input {
            Input::Message { from, msg } => self.on_message(now, from, msg),
            Input::Timeout => {
                if self.next_tick.is_some_and(|t| t <= now) {
                    self.tick();
                }
                Ok(())
            }
            Input::SetNeighbours(n) => {
                let n = clean_neighbours(n, self.ctx.guardians.len(), self.ctx.me.as_ref().map(|m| m.0))?;
                self.ctx.neighbours = n;
                Ok(())
            }
        }
    }

    fn on_message(&mut self, now: Timestamp, from: usize, msg: GossipMessage<S>) -> Result<(), Error> {
        let len = self.ctx.guardians.len();
        if from >= len || self.ctx.me.as_ref().is_some_and(|m| m.0 == from) {
            return Err(Error::UnknownPeer { peer: from, len });
        }
        if msg.instance() != self.ctx.instance {
            return Err(Error::WrongInstance { found: msg.instance(), expected: self.ctx.instance });
        }
        let signers = &msg.aggregate().signers;
        if signers.len() != len {
            return Err(Error::LengthMismatch { left: len, right: signers.len() });
        }
        self.stats.received += 1;
        let view = self.peers.entry(from).or_default();
        if view.banned {
            return Ok(());
        }
        view.claims_quorum = self.ctx.guardians.is_quorum(signers);
        view.claimed = Some(signers.clone());
        let needs_us =
            !view.claims_quorum && self.current.as_ref().is_some_and(|c| !signers.covers(&c.signers));
        self.inbox.insert(from, msg);
        if self.next_tick.is_none() && needs_us {
            // Woken after lingering: one more tick at the next round boundary.
            let elapsed = now.millis_since(self.start);
            let k = elapsed.div_ceil(self.config.round_ms);
            self.round = self.round.max(u32::try_from(k).unwrap_or(u32::MAX));
            self.next_tick = Some(self.start + u64::from(self.round).saturating_mul(self.config.round_ms));
        }
        Ok(())
    }

    fn tick(&mut self) {
        let round = self.round;
        let inbox = core::mem::take(&mut self.inbox);
        if self.finalized.is_none() || self.config.merge_after_finality {
            self.merge_round(round, inbox);
        } else {
            self.stats.useless += inbox.len() as u64;
        }
        if self.finalized.is_none()
            && let Some(agg) = &self.current
            && self.ctx.guardians.is_quorum(&agg.signers)
        {
            self.finalized = Some(round);
            self.outputs.push_back(Output::Event(Event::Finalized { round, aggregate: agg.clone() }));
        }
        self.send(round);
        self.round = round.saturating_add(1);
        let keep_ticking = match self.finalized {
            None => true,
            Some(f) => round < f.saturating_add(self.config.linger_rounds),
        };
        self.next_tick =
            keep_ticking.then(|| self.start + u64::from(self.round).saturating_mul(self.config.round_ms));
    }

    fn merge_round(&mut self, round: u32, inbox: BTreeMap<usize, GossipMessage<S>>) {
        let n = self.ctx.guardians.len();
        let empty = SignerVector::new(n);
        let base = self.current.as_ref().map_or(&empty, |c| &*c.signers);
        let mut candidates: Vec<(usize, Aggregate<S>)> = Vec::new();
        for (from, msg) in inbox {
            let agg = msg.aggregate();
            if base.gain(&agg.signers) > 0 {
                candidates.push((from, agg.clone()));
            } else {
                self.stats.useless += 1;
            }
        }
        if candidates.is_empty() {
            return;
        }
        self.stats.batches += 1;
        self.stats.verified += candidates.len() as u64;
        let mut rng = self.batch_rng(round, &candidates);
        let items: Vec<(&SignerVector, &S::Signature)> =
            candidates.iter().map(|(_, a)| (&*a.signers, &a.signature)).collect();
        let table = self.ctx.guardians.key_table();
        // Lengths were checked on arrival, so verification cannot fail with an error;
        // if it somehow does, treat the whole batch as unverified and merge nothing.
        let Ok(bad) = S::find_invalid(table, &self.ctx.message, &items, &mut rng) else {
            return;
        };
        drop(items);
        let removed: Vec<(usize, Aggregate<S>)> = bad.iter().rev().map(|&b| candidates.remove(b)).collect();
        for (from, aggregate) in removed.into_iter().rev() {
            self.report(round, from, aggregate);
        }
        for (from, a) in &candidates {
            if a.signers.distinct() == 1
                && a.signers.count(*from) == 1
                && !self.known.contains_key(from)
                && let Ok(neg) = S::negate(&a.signature)
            {
                self.known.insert(*from, Known { sig: a.signature.clone(), neg, confirmed: false });
            }
        }
        // Defence in depth: whatever the batch said, adopt (and so send or finalize) only
        // an aggregate that verifies on its own.
        let Some((agg, merged)) = self.assemble(&candidates) else { return };
        if self.verifies(&agg) {
            self.adopt(agg, merged);
            return;
        }
        // The batch passed pieces that do not add up: check each piece, and each
        // individual signature not yet checked alone, on its own; report and drop the bad.
        self.stats.merge_check_failures += 1;
        let mut good = Vec::with_capacity(candidates.len());
        for (from, a) in candidates {
            if self.verifies(&a) {
                if let Some(k) = self.known.get_mut(&from)
                    && a.signers.distinct() == 1
                    && a.signers.count(from) == 1
                    && k.sig == a.signature
                {
                    k.confirmed = true;
                }
                good.push((from, a));
            } else {
                // A bad singleton of the sender's own signature need not be checked a
                // second time as an unconfirmed individual signature below.
                if self.known.get(&from).is_some_and(|k| !k.confirmed && k.sig == a.signature) {
                    self.known.remove(&from);
                }
                self.report(round, from, a);
            }
        }
        let unconfirmed: Vec<usize> =
            self.known.iter().filter(|(_, k)| !k.confirmed).map(|(&u, _)| u).collect();
        for u in unconfirmed {
            let Some(k) = self.known.get(&u) else { continue };
            let Ok(single) = SignerVector::singleton(n, u) else { continue };
            let piece = Aggregate { signers: Arc::new(single), signature: k.sig.clone() };
            if self.verifies(&piece) {
                if let Some(k) = self.known.get_mut(&u) {
                    k.confirmed = true;
                }
            } else {
                self.known.remove(&u);
                good.retain(|(from, _)| *from != u);
                if !self.peers.get(&u).is_some_and(|v| v.banned) {
                    self.report(round, u, piece);
                }
            }
        }
        // Every input is now individually valid, so the sum verifies; checked anyway.
        if let Some((agg, merged)) = self.assemble(&good)
            && self.verifies(&agg)
        {
            self.adopt(agg, merged);
        }
    }

    /// The batch's weights: a ChaCha8 stream seeded with `SHA-256(domain ‖ secret seed ‖
    /// instance ‖ round ‖ batch number ‖ (sender, signer vector, signature)*)`, so they are
    /// unknown to anyone without the seed and change with every bit the senders chose.
    /// The digest is never revealed (it only seeds the stream), so SHA-256's length
    /// extension does not apply. Signer vectors enter as their support bitset and counts.
    fn batch_rng(&self, round: u32, candidates: &[(usize, Aggregate<S>)]) -> ChaCha8Rng {
        let mut h = Sha256::new();
        h.update((WEIGHT_DOMAIN.len() as u64).to_le_bytes());
        h.update(WEIGHT_DOMAIN);
        h.update(self.secret);
        h.update(self.ctx.instance.to_le_bytes());
        h.update(round.to_le_bytes());
        h.update(self.stats.batches.to_le_bytes());
        h.update((candidates.len() as u64).to_le_bytes());
        for (from, a) in candidates {
            h.update((*from as u64).to_le_bytes());
            h.update((a.signers.len() as u64).to_le_bytes());
            for w in a.signers.support() {
                h.update(w.to_le_bytes());
            }
            h.update(a.signers.counts());
            h.update(S::signature_to_bytes(&a.signature));
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(h.finalize().as_slice());
        ChaCha8Rng::from_seed(seed)
    }

    fn verifies(&self, agg: &Aggregate<S>) -> bool {
        agg.verify(self.ctx.guardians.keys(), &self.ctx.message).unwrap_or(false)
    }

    /// Reports an invalid aggregate from `from` and ignores the peer from then on.
    fn report(&mut self, round: u32, from: usize, aggregate: Aggregate<S>) {
        self.stats.invalid += 1;
        let view = self.peers.entry(from).or_default();
        view.banned = true;
        view.claimed = None;
        self.outputs.push_back(Output::Misbehaviour(Misbehaviour {
            from,
            round,
            instance: self.ctx.instance,
            aggregate,
        }));
    }

    fn adopt(&mut self, agg: Aggregate<S>, merged: u64) {
        self.stats.merged += merged;
        self.set_current(Some(agg));
    }

    /// Greedy rebuild from our current aggregate plus `pieces`, then normalization; the
    /// result and the number of pieces merged, if it has more signers than ours.
    fn assemble(&self, pieces: &[(usize, Aggregate<S>)]) -> Option<(Aggregate<S>, u64)> {
        if pieces.is_empty() {
            return None;
        }
        let n = self.ctx.guardians.len();
        let had = self.current.as_ref().map_or(0, |c| c.signers.distinct());
        let mut pieces: Vec<&Aggregate<S>> = pieces.iter().map(|(_, a)| a).collect();
        if let Some(c) = &self.current {
            pieces.push(c);
        }
        let cap = self.config.max_multiplicity;
        let mut acc = SignerVector::new(n);
        let mut sig: Option<S::Signature> = None;
        let mut used = vec![false; pieces.len()];
        let mut merged = 0u64;
        loop {
            let mut best: Option<(usize, usize, usize)> = None; // (gain, overlap, index)
            for (j, p) in pieces.iter().enumerate() {
                if used[j] {
                    continue;
                }
                let gain = acc.gain(&p.signers);
                if gain == 0 || acc.max_after_merge(&p.signers) > u32::from(cap) {
                    continue;
                }
                let overlap = acc.overlap(&p.signers);
                let better = match best {
                    None => true,
                    Some((g, o, _)) => gain > g || (gain == g && overlap < o),
                };
                if better {
                    best = Some((gain, overlap, j));
                }
            }
            let Some((_, _, j)) = best else { break };
            used[j] = true;
            if acc.merge_capped(&pieces[j].signers, cap).is_err() {
                continue;
            }
            sig = Some(match sig {
                None => pieces[j].signature.clone(),
                Some(s) => S::combine(&s, &pieces[j].signature),
            });
            merged += 1;
        }
        // Normalize: a guardian whose individual signature we know needs count 1 only;
        // subtract the surplus copies (σ ← σ − (c_u − 1)·σ_u). This keeps the heaviest
        // multiplicities — ours and our neighbours', which every neighbour's aggregate
        // repeats — at 1.
        if let Some(s) = sig.as_mut() {
            for (&u, k) in &self.known {
                let c = acc.count(u);
                if c > 1
                    && let Some(surplus) = S::scale(&k.neg, u32::from(c - 1))
                    && acc.set(u, 1).is_ok()
                {
                    *s = S::combine(s, &surplus);
                }
            }
        }
        let signature = sig?;
        (acc.distinct() > had).then(|| (Aggregate { signers: Arc::new(acc), signature }, merged))
    }

    fn send(&mut self, round: u32) {
        let (Some(cur), Some(msg)) = (&self.current, &self.current_msg) else { return };
        let mut to = Vec::new();
        for &j in &self.ctx.neighbours {
            let view = self.peers.entry(j).or_default();
            if view.banned || view.claims_quorum {
                continue;
            }
            if view.claimed.as_ref().is_some_and(|c| c.covers(&cur.signers)) {
                continue;
            }
            let fresh = view.sent_version != Some(self.version);
            let stale = round.saturating_sub(view.sent_round) >= self.config.resend_every;
            if fresh || stale {
                view.sent_version = Some(self.version);
                view.sent_round = round;
                to.push(j);
            }
        }
        if !to.is_empty() {
            self.outputs.push_back(Output::Send { to, msg: msg.clone() });
        }
    }

    /// The next pending output.
    pub fn poll_output(&mut self) -> Option<Output<S>> {
        self.outputs.pop_front()
    }

    /// When to call `handle(now, Input::Timeout)` next (`None`: only a message wakes us).
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.next_tick
    }
}

impl<S: Scheme> Machine for GossipMachine<S> {
    type Input = Input<S>;
    type Output = Output<S>;
    type Error = Error;

    fn handle(&mut self, now: Timestamp, input: Input<S>) -> Result<(), Error> {
        GossipMachine::handle(self, now, input)
    }

    fn poll_output(&mut self) -> Option<Output<S>> {
        GossipMachine::poll_output(self)
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        GossipMachine::poll_timeout(self)
    }
}
