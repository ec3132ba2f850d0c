//! The per-validator state machine (DESIGN.md section 2 shape; the rules are written
//! down, with the safety argument, in `docs/mlbft.md`).
//!
//! Rules, in the paper's terms (whitepaper "Multi-Level BFT", Algorithm 1):
//!
//! * **Epochs.** A validator asks for epoch `t+1` (signed EpochChange carrying its
//!   highest CC) when its epoch times out; a vote in epoch `t` counts as asking for
//!   `t+1` ("after voting"); it joins a request that more than 1/3 of the stake makes,
//!   and enters the highest epoch that more than 2/3 of the stake asks for.
//! * **Proposer.** [`ValidatorSet::proposer`]: stake-weighted, keccak-seeded from
//!   `(epoch, set)`. It proposes once per epoch, extending the block with the
//!   highest-epoch CC it knows (its *lock*), and carries that CC.
//! * **Vote rule.** Vote at most once per epoch, only in the current epoch, only for the
//!   epoch proposer's block whose parent CC is valid, whose parent's epoch is at least
//!   the lock's epoch, and which extends both the settled tip and the finalized
//!   checkpoint.
//! * **Lock.** The highest-epoch CC seen anywhere (proposals, votes, EpochChange).
//! * **Settlement.** `B` is settled when `B` and its child `C` both have CCs and `C` is
//!   in epoch `B.epoch + 1` (two consecutive CCs); its ancestors settle with it.
//! * **Crash safety.** [`Output::Persist`] precedes every vote and proposal.
//! * **Set changes.** Every block is checked against its height's [`BlockQuorum`]: the
//!   set in force there (which draws the proposer), jointly with the previous set at a
//!   change's first height and while the old set's last block is not settled here.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use bls_gossip::Scheme;
use primitives::{H256, Machine as MachineTrait, Timestamp};

use crate::Error;
use crate::certificate::{Certificate, CommitCertificate};
use crate::checkpoint::SettlementProof;
use crate::evidence::{Evidence, SignedStatement, StatementKind};
use crate::keeper::{EpochTally, EpochThreshold, VoteKeeper, VoteOutcome};
use crate::message::{EpochChange, Message, Proposal, Vote};
use crate::schedule::BlockQuorum;
use crate::types::{
    Block, BlockHeader, BlockRef, Checkpoint, Context, epoch_change_message, proposal_message, vote_message,
};
use crate::validators::{ValidatorIndex, ValidatorSet};

/// Certified ancestors sent along with a block response when the schedule has set
/// changes (catch-up across a hand-over).
pub const CATCH_UP_ANCESTORS: usize = 8;

/// Most provisional certificates held (see [`Machine::quorum_for`]).
pub const MAX_PROVISIONAL: usize = 64;

/// Tuning of the machine. Timeouts are logical milliseconds; the host maps them to its
/// clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Epoch timeout (first attempt; doubles on each consecutive timeout of one epoch).
    pub epoch_timeout_ms: u64,
    /// Cap of the doubled timeout.
    pub max_epoch_timeout_ms: u64,
    /// Guardians finalize every `checkpoint_interval`-th block (whitepaper: T = 100).
    pub checkpoint_interval: u64,
    /// Largest block payload accepted or proposed.
    pub max_payload: usize,
    /// Proposals and votes up to this many epochs ahead are buffered; later ones are
    /// refused with [`Error::FarFutureEpoch`].
    pub future_epochs: u64,
    /// Votes and proposals this many epochs back are still tallied.
    pub past_epochs: u64,
    /// Most outstanding block requests.
    pub max_requests: usize,
    /// When the previous epoch certified nothing we know of, the proposer waits this long
    /// for the EpochChanges (carrying the senders' highest CCs) that everyone sends on
    /// entering such an epoch, so it extends the highest lock instead of a stale one.
    pub propose_wait_ms: u64,
    /// Loss repair inside an epoch: while an epoch has not moved on, every
    /// `retransmit_ms` a validator repeats its proposal and its vote of the epoch, and —
    /// while the epoch's proposal has not arrived — sends its vote of the previous epoch
    /// to the epoch's proposer (who may lack it and so the CC it must extend). Only
    /// already-signed messages are repeated, so safety is untouched. `0` disables it
    /// (then only the epoch timeout repeats them).
    pub retransmit_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            epoch_timeout_ms: 1000,
            max_epoch_timeout_ms: 8000,
            checkpoint_interval: 100,
            max_payload: 1 << 20,
            future_epochs: 64,
            past_epochs: 8,
            max_requests: 256,
            propose_wait_ms: 150,
            retransmit_ms: 300,
        }
    }
}

/// The state that must survive a crash, emitted before every vote and proposal. A
/// validator restarted from it ([`Machine::restore`]) never signs a second, conflicting
/// vote or proposal.
#[derive(Clone, Debug, PartialEq)]
pub struct PersistedState<S: Scheme> {
    /// Current epoch.
    pub epoch: u64,
    /// Highest epoch we voted in.
    pub last_voted_epoch: u64,
    /// Highest epoch we proposed in.
    pub last_proposed_epoch: u64,
    /// The lock (highest-epoch CC) and its certificate (`None` for genesis).
    pub lock: BlockRef,
    /// The lock's CC.
    pub lock_cc: Option<CommitCertificate<S>>,
    /// The highest settled block (restart anchor).
    pub settled_tip: Block,
    /// The last finalized checkpoint.
    pub finalized: Checkpoint,
}

/// Inputs from the host.
#[derive(Clone, Debug, PartialEq)]
pub enum Input<S: Scheme> {
    /// A message from validator `from` (the transport's authenticated peer; message
    /// signatures are checked regardless).
    Message {
        /// The peer.
        from: ValidatorIndex,
        /// The message.
        msg: Message<S>,
    },
    /// [`Machine::poll_timeout`] was reached.
    Timeout,
}

/// What happened (for the host, the ledger and tests).
#[derive(Clone, Debug, PartialEq)]
pub enum Event<S: Scheme> {
    /// We entered `epoch`.
    EnteredEpoch {
        /// The epoch.
        epoch: u64,
    },
    /// We proposed `block`.
    Proposed {
        /// The block.
        block: BlockRef,
    },
    /// We voted for `block`.
    Voted {
        /// The block.
        block: BlockRef,
    },
    /// We learned a CC for `block`.
    Certified {
        /// The block.
        block: BlockRef,
    },
    /// `block` is settled (events come in height order, ancestors first).
    Settled {
        /// The block.
        block: BlockRef,
    },
    /// A settled checkpoint for the guardians to finalize, with the proof they check.
    Checkpoint {
        /// The checkpoint.
        checkpoint: Checkpoint,
        /// Proof that it is settled.
        proof: SettlementProof<S>,
    },
    /// The guardians finalized `checkpoint` and all its ancestors.
    Finalized {
        /// The checkpoint.
        checkpoint: Checkpoint,
    },
    /// A finalized checkpoint conflicts with what we had settled (a validator-level
    /// safety failure: more than 1/3 Byzantine stake). Our settled chain was cut back to
    /// the checkpoint, the restart point.
    FinalityConflict {
        /// The finalized checkpoint.
        checkpoint: Checkpoint,
        /// What we had settled at that height.
        ours: H256,
    },
}

/// Outputs for the host, in the order they must be carried out.
#[derive(Clone, Debug, PartialEq)]
pub enum Output<S: Scheme> {
    /// Store durably *before* carrying out any later output.
    Persist(PersistedState<S>),
    /// Send to every other validator.
    Broadcast(Message<S>),
    /// Send to one validator.
    Send {
        /// Recipient.
        to: ValidatorIndex,
        /// Message.
        msg: Message<S>,
    },
    /// Catch-up: fetch the block `hash` with its CC (from `to`, or any peer when
    /// `None`) and feed the answer back as [`Message::BlockResponse`].
    Request {
        /// Preferred peer.
        to: Option<ValidatorIndex>,
        /// The block wanted.
        hash: H256,
    },
    /// Something happened.
    Event(Event<S>),
    /// Provable equivocation.
    Misbehaviour(Evidence<S>),
}

enum Walk {
    Yes,
    No,
    Missing(H256),
}

/// One validator's (or observer's) consensus state.
pub struct Machine<C: Context> {
    config: Config,
    ctx: C,
    set: Arc<ValidatorSet<C::Scheme>>,
    me: Option<ValidatorIndex>,
    genesis: Block,
    genesis_hash: H256,
    epoch: u64,
    last_voted_epoch: u64,
    last_proposed_epoch: u64,
    lock: BlockRef,
    finalized: Checkpoint,
    settled_tip: BlockRef,
    settled: BTreeMap<u64, H256>,
    blocks: BTreeMap<H256, Block>,
    children: BTreeMap<H256, BTreeSet<H256>>,
    ccs: BTreeMap<H256, CommitCertificate<C::Scheme>>,
    proposals: BTreeMap<u64, (Proposal<C::Scheme>, ValidatorIndex)>,
    votes: VoteKeeper<BlockRef>,
    vote_sigs: BTreeMap<(u64, ValidatorIndex), Vote<C::Scheme>>,
    my_vote: Option<Vote<C::Scheme>>,
    my_proposal: Option<Proposal<C::Scheme>>,
    epoch_tally: EpochTally,
    ec_sent: u64,
    accused: BTreeSet<(u64, ValidatorIndex, StatementKind)>,
    requested: BTreeMap<H256, Timestamp>,
    pending_settle: Option<(H256, H256)>,
    deadline: Timestamp,
    /// While the proposer waits for the others' highest CCs (see `propose_wait_ms`).
    propose_at: Option<Timestamp>,
    /// Set while [`Machine::propose`] runs: a proposer whose own vote is a quorum (one
    /// validator, or one holding more than 2/3 of the stake) certifies its block and
    /// enters the next epoch inside that call; its next proposal then waits for a
    /// timeout instead of recursing (epoch after epoch on one stack).
    proposing: bool,
    /// The next loss-repair tick of this epoch (see `retransmit_ms`).
    retransmit_at: Timestamp,
    /// The lock epoch that the proposer of `epoch` reported in its `EpochChange(epoch)`
    /// (the highest such epoch seen, at or above ours): `(epoch, their lock epoch)`. Kept
    /// so that a CC we learn only after its request arrived still reaches it.
    proposer_report: Option<(u64, u64, ValidatorIndex)>,
    /// Whether the context reports no set change at all: the keeper then tallies with the
    /// genesis stakes and its quorum event is the CC (the fast path). Otherwise the keeper
    /// only keeps one vote per validator per epoch and quorums are checked per block
    /// against its [`BlockQuorum`].
    fast_tally: bool,
    /// The set whose stakes count EpochChange requests (the one in force above our lock).
    epoch_set: Arc<ValidatorSet<C::Scheme>>,
    /// The last quorum computed: `(height, settled height, quorum)`.
    quorum_cache: Option<(u64, u64, BlockQuorum<C::Scheme>)>,
    /// CCs signed by the set in force but not yet acceptable here (a hand-over still open
    /// in our view), by height; re-checked when our settled tip moves. At most
    /// [`MAX_PROVISIONAL`].
    provisional: BTreeMap<(u64, H256), CommitCertificate<C::Scheme>>,
    /// The latest proposal refused only because its parent CC was provisional, replayed
    /// when the hand-over closes here.
    held_proposal: Option<(ValidatorIndex, Proposal<C::Scheme>)>,
    rechecking: bool,
    timeouts: u32,
    outputs: VecDeque<Output<C::Scheme>>,
}

impl<C: Context> core::fmt::Debug for Machine<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Machine")
            .field("me", &self.me)
            .field("epoch", &self.epoch)
            .field("lock", &self.lock)
            .field("settled_tip", &self.settled_tip)
            .field("finalized", &self.finalized)
            .finish_non_exhaustive()
    }
}

type Sig<C> = <<C as Context>::Scheme as Scheme>::Signature;

impl<C: Context> Machine<C> {
    /// A machine at genesis, entering epoch 1 at `now`. `seed` is accepted for the
    /// workspace's machine shape; the protocol draws no randomness.
    pub fn new(config: Config, ctx: C, now: Timestamp, seed: [u8; 32]) -> Self {
        let _ = seed;
        let genesis = Block::genesis();
        let state = PersistedState {
            epoch: 0,
            last_voted_epoch: 0,
            last_proposed_epoch: 0,
            lock: genesis.reference(),
            lock_cc: None,
            settled_tip: genesis.clone(),
            finalized: Checkpoint { height: 0, hash: genesis.hash() },
        };
        let mut m = Self::build(config, ctx, state, now);
        m.enter_epoch(now, 1);
        m
    }

    /// A machine restarted from the last [`Output::Persist`] it emitted. Checks the
    /// state's certificates against the context's validator set.
    pub fn restore(
        config: Config,
        ctx: C,
        state: PersistedState<C::Scheme>,
        now: Timestamp,
        seed: [u8; 32],
    ) -> Result<Self, Error> {
        let _ = seed;
        match &state.lock_cc {
            Some(cc) if cc.block == state.lock => {
                BlockQuorum::for_height(&ctx, state.settled_tip.height, cc.block.height)?.verify(cc)?
            }
            None if state.lock == Block::genesis().reference() => {}
            _ => {
                return Err(Error::InvalidPersistedState {
                    reason: "lock certificate does not match the lock",
                });
            }
        }
        if state.finalized.height > state.settled_tip.height {
            return Err(Error::InvalidPersistedState { reason: "finalized above the settled tip" });
        }
        let epoch = state.epoch.max(1);
        let mut m = Self::build(config, ctx, state, now);
        m.enter_epoch(now, epoch);
        Ok(m)
    }

    fn build(config: Config, ctx: C, state: PersistedState<C::Scheme>, now: Timestamp) -> Self {
        let retransmit_ms = config.retransmit_ms;
        let set = ctx.validator_set().clone();
        let me = ctx.me().filter(|&i| (i as usize) < set.len());
        let genesis = Block::genesis();
        let genesis_hash = genesis.hash();
        let fast_tally = ctx.set_since(u64::MAX) == Some(0);
        let tally_stakes: Vec<_> = if fast_tally {
            (0..set.len() as u32).map(|i| set.stake(i)).collect()
        } else {
            vec![primitives::U256::one(); set.len()]
        };
        let epoch_set =
            ctx.validator_set_for(state.lock.height.saturating_add(1)).unwrap_or_else(|| set.clone());
        let epoch_stakes: Vec<_> = (0..set.len() as u32).map(|i| epoch_set.stake(i)).collect();
        let mut m = Machine {
            votes: VoteKeeper::new(tally_stakes),
            epoch_tally: EpochTally::new(epoch_stakes, state.epoch),
            fast_tally,
            epoch_set,
            quorum_cache: None,
            provisional: BTreeMap::new(),
            held_proposal: None,
            rechecking: false,
            config,
            ctx,
            set,
            me,
            genesis_hash,
            epoch: state.epoch,
            last_voted_epoch: state.last_voted_epoch,
            last_proposed_epoch: state.last_proposed_epoch,
            lock: state.lock,
            finalized: state.finalized,
            settled_tip: state.settled_tip.reference(),
            settled: BTreeMap::new(),
            blocks: BTreeMap::new(),
            children: BTreeMap::new(),
            ccs: BTreeMap::new(),
            proposals: BTreeMap::new(),
            vote_sigs: BTreeMap::new(),
            my_vote: None,
            my_proposal: None,
            ec_sent: state.epoch,
            accused: BTreeSet::new(),
            requested: BTreeMap::new(),
            pending_settle: None,
            deadline: now,
            propose_at: None,
            proposing: false,
            retransmit_at: now + retransmit_ms,
            proposer_report: None,
            timeouts: 0,
            outputs: VecDeque::new(),
            genesis: genesis.clone(),
        };
        m.settled.insert(0, genesis_hash);
        m.settled.insert(m.finalized.height, m.finalized.hash);
        m.settled.insert(m.settled_tip.height, m.settled_tip.hash);
        m.store_block(genesis);
        m.store_block(state.settled_tip);
        if let Some(cc) = state.lock_cc {
            m.ccs.insert(cc.block.hash, cc);
        }
        m
    }

    /// Current epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The highest settled block.
    pub fn settled_tip(&self) -> BlockRef {
        self.settled_tip
    }

    /// The settled block at `height`, if known.
    pub fn settled_at(&self, height: u64) -> Option<H256> {
        self.settled.get(&height).copied()
    }

    /// The last finalized checkpoint.
    pub fn finalized(&self) -> Checkpoint {
        self.finalized
    }

    /// The lock: the highest-epoch CC'd block we know.
    pub fn lock(&self) -> BlockRef {
        self.lock
    }

    /// Highest epoch we voted in.
    pub fn last_voted_epoch(&self) -> u64 {
        self.last_voted_epoch
    }

    /// The genesis validator set (its keys are the universe's, shared by every set of
    /// the schedule).
    pub fn validator_set(&self) -> &Arc<ValidatorSet<C::Scheme>> {
        &self.set
    }

    /// Our index if the set in force at `height` gives us stake (we then propose there
    /// when drawn); `None` for an observer or a validator absent from that set, which only
    /// follows blocks at that height. During an open hand-over we also vote where the
    /// previous set gives us stake ([`Machine::quorum_for`]).
    pub fn me_for(&self, height: u64) -> Option<ValidatorIndex> {
        let me = self.me?;
        self.ctx.validator_set_for(height).filter(|s| s.contains(me)).map(|_| me)
    }

    /// The quorum that must certify a block at `height` in our current view (the set in
    /// force, plus the previous set while its hand-over is open).
    pub fn quorum_for(&self, height: u64) -> Result<BlockQuorum<C::Scheme>, Error> {
        BlockQuorum::for_height(&self.ctx, self.settled_tip.height, height)
    }

    /// [`Machine::quorum_for`], memoized for the last height asked.
    fn quorum(&mut self, height: u64) -> Result<BlockQuorum<C::Scheme>, Error> {
        let settled = self.settled_tip.height;
        if let Some((h, s, q)) = &self.quorum_cache
            && *h == height
            && *s == settled
        {
            return Ok(q.clone());
        }
        let q = self.quorum_for(height)?;
        self.quorum_cache = Some((height, settled, q.clone()));
        Ok(q)
    }

    /// The proposer of `epoch` for a block at `height`: drawn from the set in force there.
    fn proposer_at(&self, height: u64, epoch: u64) -> Option<ValidatorIndex> {
        self.ctx.validator_set_for(height).map(|s| s.proposer(epoch))
    }

    /// The height we would propose or vote at next: above our lock.
    fn frontier(&self) -> u64 {
        self.lock.height.saturating_add(1)
    }

    /// The proposer of the current epoch at our frontier.
    fn current_proposer(&self) -> Option<ValidatorIndex> {
        self.proposer_at(self.frontier(), self.epoch)
    }

    /// The context.
    pub fn context(&self) -> &C {
        &self.ctx
    }

    /// A known block by hash.
    pub fn block(&self, hash: &H256) -> Option<&Block> {
        self.blocks.get(hash)
    }

    /// The CC of a block, if known.
    pub fn certificate(&self, hash: &H256) -> Option<&CommitCertificate<C::Scheme>> {
        self.ccs.get(hash)
    }

    /// Number of blocks held (for memory-bound tests).
    pub fn blocks_held(&self) -> usize {
        self.blocks.len()
    }

    /// Number of buffered proposals (bounded by the epoch window).
    pub fn proposals_held(&self) -> usize {
        self.proposals.len()
    }

    /// The state that [`Output::Persist`] would carry now.
    pub fn persisted_state(&self) -> PersistedState<C::Scheme> {
        PersistedState {
            epoch: self.epoch,
            last_voted_epoch: self.last_voted_epoch,
            last_proposed_epoch: self.last_proposed_epoch,
            lock: self.lock,
            lock_cc: self.ccs.get(&self.lock.hash).cloned(),
            settled_tip: self
                .blocks
                .get(&self.settled_tip.hash)
                .cloned()
                .unwrap_or_else(|| self.genesis.clone()),
            finalized: self.finalized,
        }
    }

    /// Processes one input. An `Err` means the input was refused and changed nothing.
    pub fn handle(&mut self, now: Timestamp, input: Input<C::Scheme>) -> Result<(), Error> {
        match input {
            Input::Timeout => {
                self.on_timeout(now);
                Ok(())
            }
            Input::Message { from, msg } => match msg {
                Message::Proposal(p) => self.on_proposal(now, from, p),
                Message::Vote(v) => self.on_vote(now, v),
                Message::EpochChange(ec) => self.on_epoch_change(now, ec),
                Message::BlockRequest { hash } => {
                    self.on_block_request(from, hash);
                    Ok(())
                }
                Message::BlockResponse { block, cc } => self.on_block_response(now, from, block, cc),
                Message::Finality { checkpoint, proof } => self.on_finality(now, checkpoint, &proof),
            },
        }
    }

    /// The next output, in order.
    pub fn poll_output(&mut self) -> Option<Output<C::Scheme>> {
        self.outputs.pop_front()
    }

    /// When to call `handle(now, Input::Timeout)`.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let mut next = self.deadline;
        if let Some(t) = self.propose_at.filter(|t| *t < next && self.proposal_pending()) {
            next = t;
        }
        if self.retransmit_at < next && self.retransmit_pending() {
            next = self.retransmit_at;
        }
        Some(next)
    }

    /// Whether the loss-repair tick has anything to repeat.
    fn retransmit_pending(&self) -> bool {
        self.config.retransmit_ms > 0 && !self.retransmissions().is_empty()
    }

    /// What the loss-repair tick repeats now (docs of `Config::retransmit_ms`).
    fn retransmissions(&self) -> Vec<Output<C::Scheme>> {
        let mut out = Vec::new();
        if let Some(p) = self.my_proposal.as_ref().filter(|p| p.block.epoch == self.epoch) {
            out.push(Output::Broadcast(Message::Proposal(p.clone())));
        }
        if let Some(v) = &self.my_vote {
            if v.block.epoch == self.epoch {
                out.push(Output::Broadcast(Message::Vote(v.clone())));
            } else if v.block.epoch.saturating_add(1) == self.epoch
                && !self.proposals.contains_key(&self.epoch)
                && let Some(to) = self.current_proposer()
                && Some(to) != self.me
            {
                out.push(Output::Send { to, msg: Message::Vote(v.clone()) });
            }
        }
        out
    }

    fn proposal_pending(&self) -> bool {
        self.me.is_some_and(|me| self.current_proposer() == Some(me)) && self.last_proposed_epoch < self.epoch
    }

    // ---------------------------------------------------------------- epochs

    fn timeout_ms(&self) -> u64 {
        let base = self.config.epoch_timeout_ms.max(1);
        base.checked_shl(self.timeouts.min(32))
            .unwrap_or(u64::MAX)
            .min(self.config.max_epoch_timeout_ms.max(base))
    }

    fn on_timeout(&mut self, now: Timestamp) {
        if self.propose_at.is_some_and(|t| now >= t) {
            self.propose_at = None;
            self.maybe_propose(now);
        }
        if now < self.deadline {
            if now >= self.retransmit_at && self.config.retransmit_ms > 0 {
                self.retransmit_at = now + self.config.retransmit_ms;
                let repeat = self.retransmissions();
                self.outputs.extend(repeat);
            }
            return;
        }
        self.retransmit_at = now + self.config.retransmit_ms;
        self.timeouts = self.timeouts.saturating_add(1);
        self.deadline = now + self.timeout_ms();
        // Loss repair: repeat what we said in this epoch, then ask to move on.
        if let Some(p) = self.my_proposal.clone().filter(|p| p.block.epoch == self.epoch) {
            self.outputs.push_back(Output::Broadcast(Message::Proposal(p)));
        }
        if let Some(v) = self.my_vote.clone().filter(|v| v.block.epoch == self.epoch) {
            self.outputs.push_back(Output::Broadcast(Message::Vote(v)));
        }
        self.send_epoch_change(now, self.epoch.saturating_add(1));
        self.maybe_propose(now);
    }

    fn send_epoch_change(&mut self, now: Timestamp, epoch: u64) {
        let Some((me, signature)) = self.ctx.sign(&epoch_change_message(epoch)) else { return };
        self.ec_sent = self.ec_sent.max(epoch);
        let ec = EpochChange { epoch, voter: me, high_cc: self.ccs.get(&self.lock.hash).cloned(), signature };
        self.outputs.push_back(Output::Broadcast(Message::EpochChange(ec)));
        self.count_epoch_request(now, me, epoch);
    }

    fn count_epoch_request(&mut self, now: Timestamp, voter: ValidatorIndex, epoch: u64) {
        let thresholds = self.epoch_tally.add(voter, epoch);
        self.apply_thresholds(now, thresholds);
    }

    fn count_vote_request(&mut self, now: Timestamp, voter: ValidatorIndex, epoch: u64) {
        let thresholds = self.epoch_tally.add_implicit(voter, epoch);
        self.apply_thresholds(now, thresholds);
    }

    fn apply_thresholds(&mut self, now: Timestamp, thresholds: Vec<EpochThreshold>) {
        for t in thresholds {
            match t {
                EpochThreshold::Join(e) if e > self.ec_sent && e > self.epoch => {
                    self.send_epoch_change(now, e)
                }
                EpochThreshold::Enter(e) if e > self.epoch => self.enter_epoch(now, e),
                _ => {}
            }
        }
    }

    fn enter_epoch(&mut self, now: Timestamp, epoch: u64) {
        self.epoch = epoch;
        self.epoch_tally.entered(epoch);
        self.timeouts = 0;
        self.deadline = now + self.timeout_ms();
        self.retransmit_at = now + self.config.retransmit_ms;
        self.outputs.push_back(Output::Event(Event::EnteredEpoch { epoch }));
        if self.lock.epoch.saturating_add(1) < epoch {
            // The last epoch certified nothing we know of: tell the proposer our highest
            // CC (an EpochChange for the epoch we are in), and if we propose, wait for
            // the others' first.
            self.propose_at = Some(now + self.config.propose_wait_ms);
            self.send_epoch_change(now, epoch);
        } else {
            self.propose_at = None;
        }
        let oldest = epoch.saturating_sub(self.config.past_epochs);
        self.votes.prune_below(oldest);
        self.vote_sigs = self.vote_sigs.split_off(&(oldest, 0));
        self.proposals = self.proposals.split_off(&oldest);
        self.accused = self.accused.split_off(&(oldest, 0, StatementKind::Proposal));
        self.answer_proposer();
        self.maybe_propose(now);
        self.try_vote(now);
    }

    /// Proposes in the current epoch if we are its proposer, have not proposed yet, and
    /// hold the block we extend (otherwise it is fetched first, so voters can check the
    /// ancestry of what we propose).
    fn maybe_propose(&mut self, now: Timestamp) {
        let epoch = self.epoch;
        if self.me.is_none_or(|me| self.current_proposer() != Some(me)) || self.last_proposed_epoch >= epoch {
            return;
        }
        if self.propose_at.is_some() && self.lock.epoch.saturating_add(1) < epoch {
            return;
        }
        if !self.blocks.contains_key(&self.lock.hash) {
            self.request(now, self.lock.hash, None);
            return;
        }
        if self.proposing {
            // Our own vote certified our last block (see `proposing`): propose from the
            // next timeout, `propose_wait_ms` later, which also paces a lone validator.
            self.propose_at = Some(now + self.config.propose_wait_ms);
            return;
        }
        self.proposing = true;
        self.propose(now, epoch);
        self.proposing = false;
    }

    fn check_window(&self, epoch: u64) -> Result<(), Error> {
        let oldest = self.epoch.saturating_sub(self.config.past_epochs).max(1);
        if epoch < oldest {
            return Err(Error::StaleEpoch { epoch, oldest });
        }
        if epoch > self.epoch.saturating_add(self.config.future_epochs) {
            return Err(Error::FarFutureEpoch {
                epoch,
                current: self.epoch,
                window: self.config.future_epochs,
            });
        }
        Ok(())
    }

    fn persist(&mut self) {
        let state = self.persisted_state();
        self.outputs.push_back(Output::Persist(state));
    }

    // ---------------------------------------------------------------- proposals

    fn propose(&mut self, now: Timestamp, epoch: u64) {
        let Some(me) = self.me else { return };
        let parent = self.lock;
        let height = parent.height.saturating_add(1);
        if self.quorum(height).is_err() || self.me_for(height) != Some(me) {
            return;
        }
        let mut payload = self.ctx.payload(height);
        if payload.len() > self.config.max_payload {
            payload.clear();
        }
        let block = Block { height, epoch, parent: parent.hash, proposer: me, payload };
        let parent_cc =
            if parent.hash == self.genesis_hash { None } else { self.ccs.get(&parent.hash).cloned() };
        if parent.hash != self.genesis_hash && parent_cc.is_none() {
            return;
        }
        let Some((_, signature)) = self.ctx.sign(&proposal_message(&block.reference())) else { return };
        self.last_proposed_epoch = epoch;
        self.persist();
        let proposal = Proposal { block: block.clone(), parent_cc, signature };
        self.my_proposal = Some(proposal.clone());
        self.outputs.push_back(Output::Broadcast(Message::Proposal(proposal.clone())));
        self.outputs.push_back(Output::Event(Event::Proposed { block: block.reference() }));
        self.proposals.insert(epoch, (proposal, me));
        self.store_block(block);
        self.try_vote(now);
    }

    fn on_proposal(
        &mut self,
        now: Timestamp,
        from: ValidatorIndex,
        p: Proposal<C::Scheme>,
    ) -> Result<(), Error> {
        let b = &p.block;
        let e = b.epoch;
        self.check_window(e)?;
        let quorum = self.quorum(b.height)?;
        if b.payload.len() > self.config.max_payload {
            return Err(Error::PayloadTooLarge { len: b.payload.len(), limit: self.config.max_payload });
        }
        let expected = quorum.set().proposer(e);
        if b.proposer != expected {
            return Err(Error::WrongProposer { epoch: e, signer: b.proposer, expected });
        }
        let r = b.reference();
        if let Some((prev, _)) = self.proposals.get(&e)
            && prev.block.hash() == r.hash
        {
            return Ok(());
        }
        p.verify_signature(&self.set)?;
        if let Some((prev, _)) = self.proposals.get(&e) {
            // Another proposal of this epoch: by the same proposer it is equivocation; by
            // another (the proposer drawn for another height, across a set change) it is
            // not, but it is still not the one we vote for in this epoch.
            let same_proposer = prev.block.proposer == b.proposer;
            let first = SignedStatement {
                kind: StatementKind::Proposal,
                signer: prev.block.proposer,
                block: prev.block.reference(),
                signature: prev.signature.clone(),
            };
            let second = SignedStatement {
                kind: StatementKind::Proposal,
                signer: b.proposer,
                block: r,
                signature: p.signature.clone(),
            };
            if same_proposer {
                self.accuse(first, second);
            }
            // We never vote for the second proposal, but if it is the block a CC names (or
            // one we asked for because others voted for it), it is the block the chain
            // continues from: keep it, or the epoch that extends it is lost to us (and, if
            // we propose that epoch, to everyone).
            if self.ccs.contains_key(&r.hash) || self.requested.contains_key(&r.hash) {
                self.check_parent(&p)?;
                let parent_cc = p.parent_cc.clone();
                self.store_block(p.block.clone());
                if let Some(cc) = parent_cc {
                    self.on_cc(now, cc, Some(from));
                }
                self.check_settlement(now, r.hash);
                if let Some((s, c)) = self.pending_settle {
                    self.settle(now, s, c);
                }
                self.maybe_propose(now);
            }
            return Ok(());
        }
        if let Err(err) = self.check_parent(&p) {
            if let Some(cc) = p.parent_cc.clone()
                && !matches!(self.accept_cc(&cc), Err(_) | Ok(true))
            {
                // Our view still needs the previous set's signatures: keep the CC and the
                // proposal for when it closes, and fetch the chain below.
                let below = cc.block.hash;
                self.hold_provisional(cc);
                if self.held_proposal.as_ref().is_none_or(|(_, h)| h.block.epoch <= e) {
                    self.held_proposal = Some((from, p));
                }
                self.walk_down(now, below, Some(from));
            }
            return Err(err);
        }
        let parent_cc = p.parent_cc.clone();
        let block = p.block.clone();
        self.proposals.insert(e, (p, from));
        self.store_block(block);
        if let Some(cc) = parent_cc {
            self.on_cc(now, cc, Some(from));
        }
        self.check_settlement(now, r.hash);
        if let Some((s, c)) = self.pending_settle {
            self.settle(now, s, c);
        }
        self.maybe_propose(now);
        self.try_vote(now);
        Ok(())
    }

    fn check_parent(&mut self, p: &Proposal<C::Scheme>) -> Result<(), Error> {
        let b = &p.block;
        let hash = b.hash();
        if b.epoch == 0 || b.height == 0 {
            return Err(Error::InvalidBlock { hash, reason: "epoch and height start at 1" });
        }
        if b.parent == self.genesis_hash {
            if b.height != 1 || p.parent_cc.is_some() {
                return Err(Error::InvalidBlock {
                    hash,
                    reason: "child of genesis must be height 1 without CC",
                });
            }
            return Ok(());
        }
        let cc = p.parent_cc.as_ref().ok_or(Error::InvalidBlock { hash, reason: "missing parent CC" })?;
        if cc.block.hash != b.parent
            || cc.block.height.checked_add(1) != Some(b.height)
            || cc.block.epoch >= b.epoch
        {
            return Err(Error::InvalidBlock { hash, reason: "parent CC does not match the block" });
        }
        if !self.ccs.contains_key(&cc.block.hash) {
            self.quorum(cc.block.height)?.verify(cc)?;
        }
        Ok(())
    }

    /// The vote rule (docs/mlbft.md, "Voting").
    fn try_vote(&mut self, now: Timestamp) {
        let e = self.epoch;
        if self.me.is_none() || self.last_voted_epoch >= e {
            return;
        }
        let Some((p, from)) = self.proposals.get(&e) else { return };
        let (block, from) = (p.block.clone(), *from);
        let parent_epoch = p.parent_cc.as_ref().map_or(0, |cc| cc.block.epoch);
        match (self.me, self.quorum(block.height)) {
            (Some(me), Ok(q)) if q.is_member(me) => {}
            _ => return,
        }
        if parent_epoch < self.lock.epoch {
            return;
        }
        let settled = self.settled_tip;
        let finalized = BlockRef { height: self.finalized.height, epoch: 0, hash: self.finalized.hash };
        for target in [settled, finalized] {
            match self.extends(block.parent, &target) {
                Walk::Yes => {}
                Walk::No => return,
                Walk::Missing(h) => {
                    self.request(now, h, Some(from));
                    return;
                }
            }
        }
        let r = block.reference();
        let Some((me, signature)) = self.ctx.sign(&vote_message(&r)) else { return };
        self.last_voted_epoch = e;
        self.persist();
        let vote = Vote { block: r, voter: me, signature };
        self.my_vote = Some(vote.clone());
        self.outputs.push_back(Output::Broadcast(Message::Vote(vote.clone())));
        self.outputs.push_back(Output::Event(Event::Voted { block: r }));
        self.count_vote(now, vote);
    }

    /// Whether the chain ending at `from` contains `target`.
    fn extends(&self, from: H256, target: &BlockRef) -> Walk {
        let target_settled = self.settled.get(&target.height) == Some(&target.hash);
        let mut cur = from;
        loop {
            if cur == target.hash {
                return Walk::Yes;
            }
            let Some(b) = self.blocks.get(&cur) else { return Walk::Missing(cur) };
            if b.height <= target.height {
                return Walk::No;
            }
            if target_settled && self.settled.get(&b.height) == Some(&cur) {
                return Walk::Yes;
            }
            cur = b.parent;
        }
    }

    // ---------------------------------------------------------------- votes

    fn on_vote(&mut self, now: Timestamp, v: Vote<C::Scheme>) -> Result<(), Error> {
        let e = v.block.epoch;
        self.check_window(e)?;
        let member = if self.fast_tally {
            // No set change anywhere: the genesis set is the quorum at every height the
            // context knows (no per-vote quorum to build on the hot path).
            let height = v.block.height;
            if self.ctx.validator_set_for(height).is_none() {
                return Err(Error::UnknownSetForHeight { height });
            }
            self.set.contains(v.voter)
        } else {
            self.quorum(v.block.height)?.is_member(v.voter)
        };
        if !member {
            return Err(Error::UnknownValidator { index: v.voter, len: self.set.len() });
        }
        if let Some(prev) = self.vote_sigs.get(&(e, v.voter))
            && prev.block == v.block
        {
            return Ok(());
        }
        v.verify_signature(&self.set)?;
        self.count_vote(now, v);
        Ok(())
    }

    fn count_vote(&mut self, now: Timestamp, v: Vote<C::Scheme>) {
        let e = v.block.epoch;
        match self.votes.add(e, v.voter, v.block) {
            VoteOutcome::Conflict { .. } => {
                if let Some(prev) = self.vote_sigs.get(&(e, v.voter)) {
                    let first = SignedStatement {
                        kind: StatementKind::Vote,
                        signer: prev.voter,
                        block: prev.block,
                        signature: prev.signature.clone(),
                    };
                    let second = SignedStatement {
                        kind: StatementKind::Vote,
                        signer: v.voter,
                        block: v.block,
                        signature: v.signature,
                    };
                    self.accuse(first, second);
                }
            }
            VoteOutcome::Duplicate | VoteOutcome::NotAMember => {}
            VoteOutcome::Counted | VoteOutcome::Quorum { .. } if !self.fast_tally => {
                if e == self.epoch
                    && !self.proposals.contains_key(&e)
                    && !self.blocks.contains_key(&v.block.hash)
                {
                    self.request(now, v.block.hash, Some(v.voter));
                }
                self.vote_sigs.insert((e, v.voter), v.clone());
                self.check_quorum(now, e, v.block, Some(v.voter));
                self.count_vote_request(now, v.voter, e.saturating_add(1));
            }
            VoteOutcome::Counted => {
                if e == self.epoch
                    && !self.proposals.contains_key(&e)
                    && !self.blocks.contains_key(&v.block.hash)
                {
                    // Others vote for a proposal we have not seen: fetch it from a voter.
                    self.request(now, v.block.hash, Some(v.voter));
                }
                self.vote_sigs.insert((e, v.voter), v.clone());
                self.count_vote_request(now, v.voter, e.saturating_add(1));
            }
            VoteOutcome::Quorum { value } => {
                self.vote_sigs.insert((e, v.voter), v.clone());
                let sigs: Vec<(usize, Sig<C>)> = self
                    .votes
                    .voters_for(e, &value)
                    .into_iter()
                    .filter_map(|i| self.vote_sigs.get(&(e, i)).map(|s| (i as usize, s.signature.clone())))
                    .collect();
                if let Ok(cert) = Certificate::aggregate(self.set.len(), &sigs) {
                    self.on_cc(now, CommitCertificate { block: value, cert }, Some(v.voter));
                }
                self.count_vote_request(now, v.voter, e.saturating_add(1));
            }
        }
    }

    /// Forms the CC of `value` in epoch `e` if its voters are a quorum of its block's
    /// [`BlockQuorum`] (the per-block check used whenever the schedule has changes).
    fn check_quorum(&mut self, now: Timestamp, e: u64, value: BlockRef, hint: Option<ValidatorIndex>) {
        if self.ccs.contains_key(&value.hash) {
            return;
        }
        let Ok(q) = self.quorum(value.height) else { return };
        let voters: Vec<ValidatorIndex> =
            self.votes.voters_for(e, &value).into_iter().filter(|&i| q.is_member(i)).collect();
        if !q.is_quorum(&voters) {
            return;
        }
        let sigs: Vec<(usize, Sig<C>)> = voters
            .iter()
            .filter_map(|&i| self.vote_sigs.get(&(e, i)).map(|s| (i as usize, s.signature.clone())))
            .collect();
        if let Ok(cert) = Certificate::aggregate(self.set.len(), &sigs) {
            self.on_cc(now, CommitCertificate { block: value, cert }, hint);
        }
    }

    /// After our settled tip moved, a hand-over may have closed, so fewer sets must
    /// certify: re-check the tallies of the epochs still tracked.
    fn recheck_quorums(&mut self, now: Timestamp) {
        if self.fast_tally || self.rechecking {
            return;
        }
        self.rechecking = true;
        let from = self.epoch.saturating_sub(self.config.past_epochs);
        for e in from..=self.epoch {
            for value in self.votes.values(e) {
                self.check_quorum(now, e, value, None);
            }
        }
        // Provisional CCs that our view now accepts, lowest first.
        let held = std::mem::take(&mut self.provisional);
        for (key, cc) in held {
            if self.ccs.contains_key(&cc.block.hash) {
                continue;
            }
            match self.accept_cc(&cc) {
                Ok(true) => {
                    let hash = cc.block.hash;
                    self.on_cc(now, cc, None);
                    self.check_settlement(now, hash);
                }
                Ok(false) => {
                    self.provisional.insert(key, cc);
                }
                Err(_) => {}
            }
        }
        if let Some((s, c)) = self.pending_settle {
            self.settle(now, s, c);
        }
        self.rechecking = false;
        if let Some((from, p)) = self.held_proposal.take() {
            let _ = self.on_proposal(now, from, p);
        }
    }

    /// Keeps a CC that only the set in force signed (bounded; the lowest heights go
    /// first when full, as the highest are the ones the chain continues from).
    fn hold_provisional(&mut self, cc: CommitCertificate<C::Scheme>) {
        self.provisional.insert((cc.block.height, cc.block.hash), cc);
        while self.provisional.len() > MAX_PROVISIONAL {
            self.provisional.pop_first();
        }
    }

    fn accuse(&mut self, first: SignedStatement<C::Scheme>, second: SignedStatement<C::Scheme>) {
        let key = (first.block.epoch, first.signer, first.kind);
        if self.accused.contains(&key) {
            return;
        }
        if let Ok(ev) = Evidence::new(first, second) {
            self.accused.insert(key);
            self.outputs.push_back(Output::Misbehaviour(ev));
        }
    }

    // ---------------------------------------------------------------- certificates and settlement

    /// Records a verified (or self-aggregated) CC.
    fn on_cc(&mut self, now: Timestamp, cc: CommitCertificate<C::Scheme>, hint: Option<ValidatorIndex>) {
        let r = cc.block;
        if self.ccs.contains_key(&r.hash) {
            return;
        }
        self.ccs.insert(r.hash, cc);
        if r.epoch > self.lock.epoch {
            self.lock = r;
            self.refresh_epoch_set(now);
        }
        self.outputs.push_back(Output::Event(Event::Certified { block: r }));
        if self.proposal_pending() && r.epoch.saturating_add(1) == self.epoch {
            self.propose_at = None;
            self.maybe_propose(now);
        }
        if self.blocks.contains_key(&r.hash) {
            self.check_settlement(now, r.hash);
        } else if r.height > self.settled_tip.height {
            self.request(now, r.hash, hint);
        }
        // A CC of epoch `t` shows that more than 2/3 of the stake voted in `t`, i.e. asked
        // for `t + 1` (Algorithm 1's "after voting"): enter it.
        if r.epoch >= self.epoch && r.epoch < u64::MAX {
            self.enter_epoch(now, r.epoch + 1);
        }
        self.answer_proposer();
    }

    /// EpochChange requests are counted with the stakes of the set in force above our
    /// lock (the height the next proposal extends to).
    fn refresh_epoch_set(&mut self, now: Timestamp) {
        let Some(set) = self.ctx.validator_set_for(self.frontier()) else { return };
        if set.hash() == self.epoch_set.hash() {
            return;
        }
        let stakes = (0..self.set.len() as u32).map(|i| set.stake(i)).collect();
        self.epoch_set = set;
        let thresholds = self.epoch_tally.restake(stakes);
        self.apply_thresholds(now, thresholds);
    }

    fn store_block(&mut self, block: Block) {
        let hash = block.hash();
        if self.blocks.contains_key(&hash) {
            return;
        }
        self.children.entry(block.parent).or_default().insert(hash);
        self.blocks.insert(hash, block);
        self.requested.remove(&hash);
    }

    /// Settles what the CCs around `hash` allow (two consecutive CCs, parent–child).
    fn check_settlement(&mut self, now: Timestamp, hash: H256) {
        let Some(b) = self.blocks.get(&hash) else { return };
        if !self.ccs.contains_key(&hash) {
            return;
        }
        let (parent, epoch, height) = (b.parent, b.epoch, b.height);
        if let Some(pb) = self.blocks.get(&parent)
            && self.ccs.contains_key(&parent)
            && pb.epoch.checked_add(1) == Some(epoch)
            && pb.height.checked_add(1) == Some(height)
        {
            self.settle(now, parent, hash);
        }
        let kids: Vec<H256> =
            self.children.get(&hash).map(|c| c.iter().copied().collect()).unwrap_or_default();
        for kid in kids {
            if let Some(k) = self.blocks.get(&kid)
                && self.ccs.contains_key(&kid)
                && epoch.checked_add(1) == Some(k.epoch)
            {
                self.settle(now, hash, kid);
            }
        }
    }

    fn settle(&mut self, now: Timestamp, hash: H256, child: H256) {
        let Some(b) = self.blocks.get(&hash) else { return };
        if b.height <= self.settled_tip.height {
            return;
        }
        let mut chain = Vec::new();
        let mut cur = hash;
        while cur != self.settled_tip.hash {
            let Some(blk) = self.blocks.get(&cur) else {
                let height = b.height;
                let higher = self
                    .pending_settle
                    .and_then(|(p, _)| self.blocks.get(&p))
                    .is_none_or(|pb| pb.height < height);
                if higher {
                    self.pending_settle = Some((hash, child));
                }
                self.request(now, cur, None);
                return;
            };
            if blk.height <= self.settled_tip.height {
                // Conflicts with what we settled: never followed (docs/mlbft.md).
                return;
            }
            chain.push((cur, blk.reference()));
            cur = blk.parent;
        }
        chain.reverse();
        let height = b.height;
        if self.pending_settle.and_then(|(p, _)| self.blocks.get(&p)).is_none_or(|pb| pb.height <= height) {
            self.pending_settle = None;
        }
        let interval = self.config.checkpoint_interval.max(1);
        let recheck = !chain.is_empty();
        for (h, r) in &chain {
            self.settled.insert(r.height, *h);
            self.settled_tip = *r;
            self.outputs.push_back(Output::Event(Event::Settled { block: *r }));
            if r.height % interval == 0
                && let Some(proof) = self.settlement_proof(*h, hash, child)
            {
                let checkpoint = Checkpoint { height: r.height, hash: *h };
                self.outputs.push_back(Output::Event(Event::Checkpoint { checkpoint, proof }));
            }
        }
        if recheck {
            self.recheck_quorums(now);
        }
    }

    fn settlement_proof(&self, from: H256, settled: H256, child: H256) -> Option<SettlementProof<C::Scheme>> {
        let mut headers: Vec<BlockHeader> = Vec::new();
        let mut cur = child;
        loop {
            let b = self.blocks.get(&cur)?;
            headers.push(b.header());
            if cur == from {
                break;
            }
            cur = b.parent;
        }
        headers.reverse();
        Some(SettlementProof {
            headers,
            cc_settled: self.ccs.get(&settled)?.clone(),
            cc_child: self.ccs.get(&child)?.clone(),
        })
    }

    // ---------------------------------------------------------------- epoch change, catch-up, finality

    fn on_epoch_change(&mut self, now: Timestamp, ec: EpochChange<C::Scheme>) -> Result<(), Error> {
        // Any key of the validator universe: only the stake of the set that counts
        // requests moves epochs, but the highest CC a request carries is self-certifying,
        // and across a switch it often comes from a validator that has stake only on the
        // other side of it (a joining or retiring one).
        if (ec.voter as usize) >= self.set.len() {
            return Err(Error::UnknownValidator { index: ec.voter, len: self.set.len() });
        }
        let new_cc = ec.high_cc.as_ref().filter(|cc| {
            !self.ccs.contains_key(&cc.block.hash)
                && !self.provisional.contains_key(&(cc.block.height, cc.block.hash))
        });
        if ec.epoch <= self.epoch_tally.requested(ec.voter) && new_cc.is_none() {
            return Ok(());
        }
        ec.verify_signature(&self.set)?;
        let mut accepted_cc = ec.high_cc.clone().filter(|cc| self.ccs.contains_key(&cc.block.hash));
        if let Some(cc) = new_cc.cloned() {
            if self.accept_cc(&cc)? {
                accepted_cc = Some(cc);
            } else {
                // Signed by the set in force only, while its hand-over is open here: the
                // request still counts; the CC waits until we settle the blocks below.
                let below = cc.block.hash;
                self.hold_provisional(cc);
                self.walk_down(now, below, Some(ec.voter));
            }
        }
        let their_lock = ec.high_cc.as_ref().map_or(0, |cc| cc.block.epoch);
        let their_height = ec.high_cc.as_ref().map_or(0, |cc| cc.block.height).saturating_add(1);
        // The proposer of an epoch we are in or will enter reports its lock while it waits
        // for the others' (rule 2): remember it, so that it gets our highest CC if ours is
        // newer — now, or when we enter its epoch or learn a newer CC later (its request
        // can arrive before our own CC forms).
        if ec.epoch >= self.epoch
            && ec.epoch <= self.epoch.saturating_add(self.config.future_epochs)
            && self.proposer_at(their_height, ec.epoch) == Some(ec.voter)
            && self.proposer_report.is_none_or(|(e, _, _)| ec.epoch >= e)
        {
            let known = self.proposer_report.filter(|(e, _, _)| *e == ec.epoch).map_or(0, |(_, l, _)| l);
            self.proposer_report = Some((ec.epoch, their_lock.max(known), ec.voter));
        }
        if let Some(cc) = accepted_cc {
            self.on_cc(now, cc, Some(ec.voter));
        }
        self.count_epoch_request(now, ec.voter, ec.epoch);
        self.answer_proposer();
        Ok(())
    }

    /// Sends our highest CC to the proposer of our epoch if it reported an older lock
    /// (once per lock we learn).
    fn answer_proposer(&mut self) {
        let Some((epoch, their_lock, to)) = self.proposer_report else { return };
        if epoch != self.epoch || their_lock >= self.lock.epoch {
            return;
        }
        if Some(to) == self.me {
            return;
        }
        let Some(cc) = self.ccs.get(&self.lock.hash).cloned() else { return };
        let Some((me, signature)) = self.ctx.sign(&epoch_change_message(epoch)) else { return };
        self.proposer_report = Some((epoch, self.lock.epoch, to));
        let reply = EpochChange { epoch, voter: me, high_cc: Some(cc), signature };
        self.outputs.push_back(Output::Send { to, msg: Message::EpochChange(reply) });
    }

    fn on_block_request(&mut self, from: ValidatorIndex, hash: H256) {
        let Some(block) = self.blocks.get(&hash) else { return };
        let msg = match self.ccs.get(&hash) {
            Some(cc) => Message::BlockResponse { block: block.clone(), cc: cc.clone() },
            // Not certified here yet: the signed proposal carries the block just as well.
            None => match self.proposals.get(&block.epoch) {
                Some((p, _)) if p.block.hash() == hash => Message::Proposal(p.clone()),
                _ => return,
            },
        };
        self.outputs.push_back(Output::Send { to: from, msg });
        if self.fast_tally {
            return;
        }
        // With set changes, a requester that slept through a hand-over walks down to the
        // old set's last block: send the certified ancestors too (child first, so each
        // arrives as the parent of a block it holds), one round trip instead of one per
        // block.
        let mut cur = hash;
        for _ in 0..CATCH_UP_ANCESTORS {
            let Some(parent) = self.blocks.get(&cur).map(|b| b.parent) else { return };
            let (Some(b), Some(cc)) = (self.blocks.get(&parent), self.ccs.get(&parent)) else { return };
            let msg = Message::BlockResponse { block: b.clone(), cc: cc.clone() };
            self.outputs.push_back(Output::Send { to: from, msg });
            cur = parent;
        }
    }

    fn request(&mut self, now: Timestamp, hash: H256, to: Option<ValidatorIndex>) {
        if self.blocks.contains_key(&hash) {
            return;
        }
        if let Some(at) = self.requested.get(&hash)
            && now.millis_since(*at) < self.config.epoch_timeout_ms
        {
            return;
        }
        if self.requested.len() >= self.config.max_requests && !self.requested.contains_key(&hash) {
            // Forget requests that went unanswered for several timeouts, then retry.
            let stale = self.config.epoch_timeout_ms.saturating_mul(4);
            self.requested.retain(|_, at| now.millis_since(*at) < stale);
            if self.requested.len() >= self.config.max_requests {
                return;
            }
        }
        self.requested.insert(hash, now);
        self.outputs.push_back(Output::Request { to: to.filter(|&t| Some(t) != self.me), hash });
    }

    fn on_block_response(
        &mut self,
        now: Timestamp,
        from: ValidatorIndex,
        block: Block,
        cc: CommitCertificate<C::Scheme>,
    ) -> Result<(), Error> {
        let hash = block.hash();
        if block.payload.len() > self.config.max_payload {
            return Err(Error::PayloadTooLarge { len: block.payload.len(), limit: self.config.max_payload });
        }
        if cc.block != block.reference() {
            return Err(Error::InvalidBlock { hash, reason: "certificate names another block" });
        }
        if self.blocks.contains_key(&hash) {
            if !self.ccs.contains_key(&hash) {
                // A block we hold uncertified (a provisional CC): this CC may do.
                if self.accept_cc(&cc)? {
                    self.on_cc(now, cc, Some(from));
                    self.check_settlement(now, hash);
                    if let Some((s, c)) = self.pending_settle {
                        self.settle(now, s, c);
                    }
                } else {
                    self.hold_provisional(cc);
                }
            }
            return Ok(());
        }
        // Requested, or (with set changes) the parent of a block we hold above our settled
        // tip: the ancestors a responder sends along (`CATCH_UP_ANCESTORS`).
        let wanted = self.requested.contains_key(&hash)
            || (!self.fast_tally
                && block.height > self.settled_tip.height
                && self.children.contains_key(&hash));
        if !wanted {
            return Err(Error::InvalidBlock { hash, reason: "not requested" });
        }
        let certified = self.ccs.contains_key(&hash) || self.accept_cc(&cc)?;
        let parent = block.parent;
        let height = block.height;
        self.store_block(block);
        if !certified {
            // Certified by the set in force alone while the hand-over is still open here:
            // keep the block (it was requested) and its CC provisionally, and walk down to
            // the blocks that close the hand-over.
            self.hold_provisional(cc);
            self.walk_down(now, parent, Some(from));
            return Ok(());
        }
        self.on_cc(now, cc, Some(from));
        self.check_settlement(now, hash);
        // Walk further down if the chain below is still missing.
        if height > self.settled_tip.height.saturating_add(1) && !self.blocks.contains_key(&parent) {
            self.request(now, parent, Some(from));
        }
        if let Some((s, c)) = self.pending_settle {
            self.settle(now, s, c);
        }
        self.maybe_propose(now);
        self.try_vote(now);
        Ok(())
    }

    /// Checks a CC against its block's quorum. `Ok(false)`: signed by more than 2/3 of
    /// the set in force but not (yet) by the previous set of a hand-over that is open in
    /// our view; we must settle the blocks below before we can count it.
    fn accept_cc(&mut self, cc: &CommitCertificate<C::Scheme>) -> Result<bool, Error> {
        let q = self.quorum(cc.block.height)?;
        match q.verify(cc) {
            Ok(()) => Ok(true),
            Err(_) if q.is_joint() && cc.verify(q.set()).is_ok() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Requests the first block missing below `from` (down to our settled tip).
    fn walk_down(&mut self, now: Timestamp, from: H256, to: Option<ValidatorIndex>) {
        let mut cur = from;
        while let Some(b) = self.blocks.get(&cur) {
            if b.height <= self.settled_tip.height.saturating_add(1) {
                return;
            }
            cur = b.parent;
        }
        self.request(now, cur, to);
    }

    fn on_finality(&mut self, now: Timestamp, checkpoint: Checkpoint, proof: &[u8]) -> Result<(), Error> {
        if checkpoint.height <= self.finalized.height {
            return Ok(());
        }
        if !self.ctx.verify_finality(&checkpoint, proof)? {
            return Err(Error::BadFinalityProof { height: checkpoint.height });
        }
        self.finalized = checkpoint;
        self.outputs.push_back(Output::Event(Event::Finalized { checkpoint }));
        match self.settled.get(&checkpoint.height) {
            Some(ours) if *ours != checkpoint.hash => {
                let ours = *ours;
                self.outputs.push_back(Output::Event(Event::FinalityConflict { checkpoint, ours }));
                self.settled.split_off(&checkpoint.height);
                self.settled.insert(checkpoint.height, checkpoint.hash);
                let epoch = self.blocks.get(&checkpoint.hash).map_or(0, |b| b.epoch);
                self.settled_tip = BlockRef { height: checkpoint.height, epoch, hash: checkpoint.hash };
            }
            Some(_) => {}
            None => {
                // Finalized beyond what we settled: adopt it as the anchor once we hold
                // the block (fetched now if missing).
                if checkpoint.height > self.settled_tip.height {
                    match self.blocks.get(&checkpoint.hash) {
                        Some(b) => {
                            self.settled.insert(checkpoint.height, checkpoint.hash);
                            self.settled_tip = b.reference();
                        }
                        None => self.request(now, checkpoint.hash, None),
                    }
                }
            }
        }
        Ok(())
    }
}

impl<C: Context> MachineTrait for Machine<C> {
    type Input = Input<C::Scheme>;
    type Output = Output<C::Scheme>;
    type Error = Error;

    fn handle(&mut self, now: Timestamp, input: Self::Input) -> Result<(), Error> {
        Machine::handle(self, now, input)
    }

    fn poll_output(&mut self) -> Option<Self::Output> {
        Machine::poll_output(self)
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        Machine::poll_timeout(self)
    }
}
