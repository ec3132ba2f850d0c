//! The executor: a state over a [`NodeStore`], block execution, and the pruning policy.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use bls_gossip::{Bls, GuardianSet};
use mlbft_core::{Checkpoint, ValidatorSet};
use mpt_refcount::{NodeStore, Retention, Trie};
use primitives::{Address, H256, U256};

use crate::config::LedgerConfig;
use crate::error::ExecError;
use crate::exec::{self, Committees, ReturnedStake, Sigs, TxReceipt};
use crate::genesis::Genesis;
use crate::rewards::{BlockRewards, CheckpointGuardians, RewardInput, VerifiedAggregate};
use crate::sets::{self, Guardian, Validator};
use crate::slashing::{Committee, MAX_SLASH_PROOF_LEN, SlashEvidence};
use crate::state::{
    Account, CHAIN_ID_KEY, HEIGHT_KEY, STAKE_RETURN_PREFIX, Supply, View, Writes, visit_prefix,
};
use crate::tx::{Coins, Transaction};

/// Which states the store keeps (issue 17, "history pruning").
///
/// * the last `keep_last` states (at least 1);
/// * every finalized checkpoint passed to [`Ledger::finalize`], forever;
/// * every state at or above the last finalized height: a state is pinned when it is
///   committed and released only once a later checkpoint is finalized and it has left
///   the window. So nothing at or above the last finalized height is ever pruned, and
///   an unfinalized fork point stays readable until finality passes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruningPolicy {
    /// How many recent states to keep.
    pub keep_last: usize,
}

impl Default for PruningPolicy {
    fn default() -> Self {
        PruningPolicy { keep_last: 128 }
    }
}

/// What a block did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockOutcome {
    /// The block's height.
    pub height: u64,
    /// The state root after the block (goes in the header).
    pub state_root: H256,
    /// One receipt per transaction, in order.
    pub receipts: Vec<TxReceipt>,
    /// Stakes returned at the start of the block.
    pub returned_stakes: Vec<ReturnedStake>,
    /// Fees burned by the block.
    pub fees_burned: Coins,
    /// Burned by slashes in the block.
    pub slashed: Coins,
    /// Roots pruned by the commit.
    pub pruned: Vec<H256>,
}

#[derive(Clone)]
struct OpenBlock {
    height: u64,
    writes: Writes,
    receipts: Vec<TxReceipt>,
    returned: Vec<ReturnedStake>,
    context: Option<BlockContext>,
}

/// What executing a block needs beyond its transactions: the consensus facts its Coinbase
/// is checked against. A block executed without one ([`Ledger::execute_block`]) refuses
/// a Coinbase ([`ExecError::NoBlockContext`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockContext {
    /// The block's proposer: only it may carry the Coinbase.
    pub proposer: Address,
    /// Hash of the previous block (the guardian lottery's per-block input).
    pub previous_block_hash: H256,
    /// The last finalized checkpoint and the guardian aggregate the chain recorded for
    /// it, or `None` before the first checkpoint (validators alone are rewarded).
    pub finality: Option<Finality>,
}

/// A finalized checkpoint as the chain recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finality {
    /// The checkpoint (height and block hash).
    pub checkpoint: Checkpoint,
    /// The guardian set hash the guardians signed with the checkpoint.
    pub set_hash: [u8; 32],
    /// The aggregate (a `bls_gossip::GossipMessage` encoding) that finalized it.
    pub aggregate: Vec<u8>,
}

/// The ledger: its store, the committed state, an optional open block, and the
/// retention of older states.
///
/// Call order: [`Ledger::from_genesis`] (or [`Ledger::open`]), then per block either
/// [`Ledger::execute_block`] (all or nothing), or [`Ledger::begin_block`] →
/// [`Ledger::apply_tx`]… → [`Ledger::commit_block`] (or [`Ledger::abort_block`]);
/// [`Ledger::finalize`] when a checkpoint is finalized. [`Ledger::check_tx`] answers a
/// mempool at any time and changes nothing.
///
/// A clone (with a cloned store) is an independent ledger: useful to try a block, or in
/// benchmarks.
#[derive(Clone)]
pub struct Ledger<S: NodeStore> {
    store: S,
    config: LedgerConfig,
    trie: Trie,
    root: H256,
    height: u64,
    block: Option<OpenBlock>,
    retention: Retention,
    /// States committed at or above the last finalized height, pinned until finality
    /// passes them.
    unfinalized: BTreeMap<u64, H256>,
    /// Finalized checkpoints, pinned.
    checkpoints: BTreeMap<u64, H256>,
    roots: BTreeMap<u64, H256>,
    /// The last checkpoint aggregate verified for a Coinbase (verified once per
    /// checkpoint, reused for every block until the next).
    verified: Option<VerifiedAggregate>,
}

impl<S: NodeStore> std::fmt::Debug for Ledger<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("root", &self.root)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

fn read_height<S: NodeStore + ?Sized>(store: &S, trie: &Trie) -> Result<u64, ExecError> {
    let v = trie
        .get(store, HEIGHT_KEY)?
        .ok_or_else(|| ExecError::CorruptState { key: "ls/height".into(), reason: "absent".into() })?;
    let b = <[u8; 8]>::try_from(v.as_slice())
        .map_err(|_| ExecError::CorruptState { key: "ls/height".into(), reason: "not 8 bytes".into() })?;
    Ok(u64::from_be_bytes(b))
}

impl<S: NodeStore> Ledger<S> {
    /// Writes the genesis state into `store` and opens it at height 0.
    pub fn from_genesis(
        mut store: S,
        config: LedgerConfig,
        genesis: &Genesis,
        policy: PruningPolicy,
    ) -> Result<Self, ExecError> {
        let (writes, _) = genesis.writes(&config)?;
        let mut trie = Trie::new();
        for (k, v) in &writes {
            if let Some(v) = v {
                trie.insert(&store, k, v)?;
            }
        }
        let mut retention = Retention::new(policy.keep_last);
        let (root, _) = retention.commit_trie(&mut store, &mut trie)?;
        retention.pin(root)?;
        let mut ledger = Ledger {
            store,
            config,
            trie,
            root,
            height: 0,
            block: None,
            retention,
            unfinalized: BTreeMap::new(),
            checkpoints: BTreeMap::new(),
            roots: BTreeMap::new(),
            verified: None,
        };
        ledger.unfinalized.insert(0, root);
        ledger.roots.insert(0, root);
        Ok(ledger)
    }

    /// Opens the committed state `root` in `store` (which must retain it), as the only
    /// owner of the store's retained roots: [`Retention::recover`] prunes every other
    /// root. The state's chain id must be `config.chain_id`.
    ///
    /// The pruning bookkeeping (window, finalized checkpoints, unfinalized states) is not
    /// persisted: the reopened ledger keeps `root` and what it commits from then on; the
    /// host calls [`Ledger::finalize`] again as checkpoints finalize.
    pub fn open(
        mut store: S,
        config: LedgerConfig,
        root: H256,
        policy: PruningPolicy,
    ) -> Result<Self, ExecError> {
        let (mut retention, _) = Retention::recover(&mut store, policy.keep_last, &[root], &[])?;
        retention.pin(root)?;
        let trie = Trie::from_root(root);
        let chain = trie.get(&store, CHAIN_ID_KEY)?.unwrap_or_default();
        if chain != config.chain_id.as_bytes() {
            return Err(ExecError::Genesis(format!(
                "state is of chain {:?}, not {:?}",
                String::from_utf8_lossy(&chain),
                config.chain_id
            )));
        }
        let height = read_height(&store, &trie)?;
        let mut unfinalized = BTreeMap::new();
        unfinalized.insert(height, root);
        let mut roots = BTreeMap::new();
        roots.insert(height, root);
        Ok(Ledger {
            store,
            config,
            trie,
            root,
            height,
            block: None,
            retention,
            unfinalized,
            checkpoints: BTreeMap::new(),
            roots,
            verified: None,
        })
    }

    /// The committed state root.
    pub fn root(&self) -> H256 {
        self.root
    }

    /// The height of the committed state (0 at genesis).
    pub fn height(&self) -> u64 {
        self.height
    }

    /// The configuration.
    pub fn config(&self) -> &LedgerConfig {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Gives the store back.
    pub fn into_store(self) -> S {
        self.store
    }

    /// The retained root of `height`, if that state is still kept.
    pub fn root_at(&self, height: u64) -> Option<H256> {
        self.roots.get(&height).copied().filter(|r| self.retention.is_retained(r))
    }

    /// Every retained root, ascending.
    pub fn retained_roots(&self) -> Vec<H256> {
        self.retention.retained().copied().collect()
    }

    fn empty_writes() -> &'static Writes {
        static EMPTY: Writes = Writes::new();
        &EMPTY
    }

    fn view(&self) -> View<'_, S> {
        let writes = self.block.as_ref().map_or(Self::empty_writes(), |b| &b.writes);
        View::new(&self.store, &self.trie, writes)
    }

    /// The account of `address` in the committed state plus the open block's writes.
    pub fn account(&self, address: &Address) -> Result<Account, ExecError> {
        self.view().account(address)
    }

    /// The account of `address` in the committed state `root` (a retained one).
    pub fn account_at(&self, root: H256, address: &Address) -> Result<Account, ExecError> {
        let trie = Trie::from_root(root);
        View::new(&self.store, &trie, Self::empty_writes()).account(address)
    }

    /// The supply record of the committed state plus the open block's writes.
    pub fn supply(&self) -> Result<Supply, ExecError> {
        self.view().supply()
    }

    fn next_height(&self) -> u64 {
        self.block.as_ref().map_or(self.height.saturating_add(1), |b| b.height)
    }

    /// What a mempool asks: would `tx` execute now (signatures, sequence, fee, balance,
    /// and every other rule) on top of the committed state and the open block? Changes
    /// nothing.
    ///
    /// With no block open, it checks against the start of the next block (the committed
    /// state plus the stakes returned at `height + 1`).
    pub fn check_tx(&self, tx: &Transaction) -> Result<TxReceipt, ExecError> {
        let committees = self.slash_committees(self.next_height(), tx)?;
        self.dry_run(|view, height| exec::apply(view, &self.config, height, tx, Sigs::Check, &committees))
    }

    /// Runs `rule` for the next transaction without keeping anything: over the open
    /// block, or, with none open, over the start of the next block.
    fn dry_run(
        &self,
        rule: impl FnOnce(&mut View<'_, S>, u64) -> Result<TxReceipt, ExecError>,
    ) -> Result<TxReceipt, ExecError> {
        let height = self.next_height();
        match &self.block {
            Some(_) => rule(&mut self.view(), height),
            None => {
                let (writes, _) = self.block_start(height)?;
                rule(&mut View::new(&self.store, &self.trie, &writes), height)
            }
        }
    }

    /// Opens block `height` (above the committed height) and returns the stakes due by
    /// then, the block's first changes.
    pub fn begin_block(&mut self, height: u64) -> Result<&[ReturnedStake], ExecError> {
        self.begin_block_in(height, None)
    }

    /// [`Ledger::begin_block`] with the block's consensus context, so the block may carry
    /// a Coinbase.
    pub fn begin_block_in(
        &mut self,
        height: u64,
        context: Option<BlockContext>,
    ) -> Result<&[ReturnedStake], ExecError> {
        if self.block.is_some() {
            return Err(ExecError::BlockInProgress);
        }
        if height <= self.height {
            return Err(ExecError::HeightNotIncreasing { last: self.height, got: height });
        }
        let (writes, returned) = self.block_start(height)?;
        let block = self.block.insert(OpenBlock { height, writes, receipts: Vec::new(), returned, context });
        Ok(&block.returned)
    }

    /// The writes that open block `height`: due stake returns and the height.
    fn block_start(&self, height: u64) -> Result<(Writes, Vec<ReturnedStake>), ExecError> {
        let mut due = Vec::new();
        let mut err = None;
        visit_prefix(&self.store, self.root, STAKE_RETURN_PREFIX, |k, _| {
            let p = STAKE_RETURN_PREFIX.len();
            match k.get(p..p + 8).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                Some(b) if u64::from_be_bytes(b) <= height => {
                    due.push(k.to_vec());
                    ControlFlow::Continue(())
                }
                Some(_) => ControlFlow::Break(()),
                None => {
                    err = Some(ExecError::CorruptState {
                        key: String::from_utf8_lossy(k).into_owned(),
                        reason: "stake return key".into(),
                    });
                    ControlFlow::Break(())
                }
            }
        })?;
        if let Some(e) = err {
            return Err(e);
        }
        let empty = Writes::new();
        let mut view = View::new(&self.store, &self.trie, &empty);
        let mut returned = Vec::with_capacity(due.len());
        for key in due {
            returned.push(exec::return_stake(&mut view, &key)?);
        }
        view.put(HEIGHT_KEY.to_vec(), height.to_be_bytes().to_vec());
        crate::tickets::begin_block(&mut view, &self.store, self.root, &self.config.tickets, height)?;
        Ok((view.into_writes(), returned))
    }

    /// Applies `tx` to the open block: atomic, an error changes nothing.
    pub fn apply_tx(&mut self, tx: &Transaction) -> Result<&TxReceipt, ExecError> {
        self.apply_checked(tx, Sigs::Check)
    }

    fn apply_checked(&mut self, tx: &Transaction, sigs: Sigs) -> Result<&TxReceipt, ExecError> {
        let height = self.block.as_ref().ok_or(ExecError::NoBlockInProgress)?.height;
        if let Transaction::Coinbase(t) = tx {
            return self.apply_coinbase(t, sigs);
        }
        let committees = self.slash_committees(height, tx)?;
        self.in_block(|view, config| exec::apply(view, config, height, tx, sigs, &committees))
    }

    /// Runs one transaction's rule over the open block's state; keeps its writes and
    /// receipt only if it succeeds.
    fn in_block(
        &mut self,
        rule: impl FnOnce(&mut View<'_, S>, &LedgerConfig) -> Result<TxReceipt, ExecError>,
    ) -> Result<&TxReceipt, ExecError> {
        let block = self.block.as_mut().ok_or(ExecError::NoBlockInProgress)?;
        let mut view = View::new(&self.store, &self.trie, &block.writes);
        let receipt = rule(&mut view, &self.config)?;
        let writes = view.into_writes();
        block.writes.extend(writes);
        block.receipts.push(receipt);
        block.receipts.last().ok_or(ExecError::NoBlockInProgress)
    }

    /// Applies an Ethereum transfer to the open block (atomic; see
    /// [`crate::eth`] for the mapping): the sender was recovered when the raw bytes were
    /// decoded ([`crate::eth::EthTransaction::decode`]).
    pub fn apply_eth(&mut self, tx: &crate::eth::EthTransaction) -> Result<&TxReceipt, ExecError> {
        self.in_block(|view, config| exec::eth_transfer(view, config, tx))
    }

    /// What a mempool asks of an Ethereum transfer ([`Ledger::check_tx`]'s twin): would it
    /// execute now? Changes nothing.
    pub fn check_eth(&self, tx: &crate::eth::EthTransaction) -> Result<TxReceipt, ExecError> {
        self.dry_run(|view, _| exec::eth_transfer(view, &self.config, tx))
    }

    /// Applies a ticket broker transaction to the open block (atomic; see
    /// [`crate::tickets`]).
    pub fn apply_ticket(&mut self, tx: &crate::tickets::TicketTx) -> Result<&TxReceipt, ExecError> {
        let height = self.block.as_ref().ok_or(ExecError::NoBlockInProgress)?.height;
        self.in_block(|view, config| crate::tickets::apply(view, config, height, tx))
    }

    /// What a mempool asks of a ticket transaction: would it execute now? Changes
    /// nothing.
    pub fn check_ticket(&self, tx: &crate::tickets::TicketTx) -> Result<TxReceipt, ExecError> {
        self.dry_run(|view, height| crate::tickets::apply(view, &self.config, height, tx))
    }

    /// A sender's ticket broker account in the committed state plus the open block's
    /// writes.
    pub fn ticket_sender(&self, sender: &Address) -> Result<crate::tickets::TicketSender, ExecError> {
        crate::tickets::sender(&self.view(), sender)
    }

    /// The ticket broker's round at the committed height and its recorded block hash
    /// (what a recipient puts in its tickets' expiration params); `None` before the
    /// round's first block.
    pub fn ticket_round(&self) -> Result<(u64, Option<H256>), ExecError> {
        let round = self.config.tickets.round_of(self.height);
        Ok((round, crate::tickets::round_hash(&self.view(), round)?))
    }

    /// Drops the open block and everything it wrote.
    pub fn abort_block(&mut self) {
        self.block = None;
    }

    /// Commits the open block through the trie, its changeset and the retention policy,
    /// and returns its outcome. On an error nothing changed (the block is dropped).
    pub fn commit_block(&mut self) -> Result<BlockOutcome, ExecError> {
        let block = self.block.take().ok_or(ExecError::NoBlockInProgress)?;
        match self.commit_writes(&block.writes) {
            Ok((root, pruned)) => {
                self.root = root;
                self.height = block.height;
                self.roots.insert(block.height, root);
                let roots = &mut self.roots;
                let retention = &self.retention;
                roots.retain(|_, r| retention.is_retained(r));
                let mut fees = Coins::zero();
                let mut slashed = Coins::zero();
                for r in &block.receipts {
                    fees = fees.checked_add(&r.fee).ok_or(ExecError::Overflow { what: "block fees" })?;
                    slashed = slashed
                        .checked_add(&r.slashed)
                        .ok_or(ExecError::Overflow { what: "block slashes" })?;
                }
                Ok(BlockOutcome {
                    height: block.height,
                    state_root: root,
                    receipts: block.receipts,
                    returned_stakes: block.returned,
                    fees_burned: fees,
                    slashed,
                    pruned,
                })
            }
            Err(e) => {
                self.trie = Trie::from_root(self.root);
                Err(e)
            }
        }
    }

    fn commit_writes(&mut self, writes: &Writes) -> Result<(H256, Vec<H256>), ExecError> {
        for (k, v) in writes {
            match v {
                Some(v) => self.trie.insert(&self.store, k, v)?,
                None => {
                    self.trie.delete(&self.store, k)?;
                }
            }
        }
        let (root, pruned) = self.retention.commit_trie(&mut self.store, &mut self.trie)?;
        // Every new state is at or above the last finalized height: keep it until a
        // later finalized checkpoint passes it.
        self.retention.pin(root)?;
        let height = writes
            .get(HEIGHT_KEY)
            .and_then(|v| v.as_ref())
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(self.height);
        self.unfinalized.insert(height, root);
        Ok((root, pruned.into_iter().map(|(r, _)| r).collect()))
    }

    /// Executes a block: returns due stakes, applies `txs` in order, commits. All or
    /// nothing: if any transaction fails, the error names it ([`ExecError::InBlock`])
    /// and the state is unchanged. The same block on the same state gives the same root.
    ///
    /// With the `parallel` feature the transactions' signatures are recovered on rayon's
    /// pool first; the rules then run in order on one thread.
    pub fn execute_block(&mut self, height: u64, txs: &[Transaction]) -> Result<BlockOutcome, ExecError> {
        self.execute_block_in(height, None, txs)
    }

    /// [`Ledger::execute_block`] with the block's consensus context: the block may then
    /// start with the proposer's Coinbase ([`Ledger::block_rewards`] gives its outputs).
    pub fn execute_block_in(
        &mut self,
        height: u64,
        context: Option<BlockContext>,
        txs: &[Transaction],
    ) -> Result<BlockOutcome, ExecError> {
        if self.block.is_some() {
            return Err(ExecError::BlockInProgress);
        }
        let checks = verify_batch(&self.config, txs);
        self.begin_block_in(height, context)?;
        for (index, (tx, check)) in txs.iter().zip(checks).enumerate() {
            let result = match check {
                Ok(()) => self.apply_checked(tx, Sigs::Checked).map(|_| ()),
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                self.abort_block();
                return Err(ExecError::InBlock { index, error: Box::new(e) });
            }
        }
        self.commit_block()
    }

    /// Records that the committed state of `height` is a finalized checkpoint: it is
    /// pinned for good, and the states below it that were kept only because they were
    /// not yet finalized are released (pruned unless in the recent window).
    pub fn finalize(&mut self, height: u64) -> Result<Vec<H256>, ExecError> {
        if height > self.height {
            return Err(ExecError::Pruning(format!("height {height} is not committed (at {})", self.height)));
        }
        let last = self.checkpoints.keys().next_back().copied();
        if last.is_some_and(|l| height < l) {
            return Err(ExecError::Pruning(format!("height {height} is below the last finalized {last:?}")));
        }
        let root = *self
            .unfinalized
            .get(&height)
            .ok_or_else(|| ExecError::Pruning(format!("no retained state at height {height}")))?;
        if !self.checkpoints.contains_key(&height) {
            self.retention.pin(root)?;
            self.checkpoints.insert(height, root);
        }
        let below: Vec<(u64, H256)> = self.unfinalized.range(..height).map(|(h, r)| (*h, *r)).collect();
        let mut pruned = Vec::new();
        for (h, r) in below {
            self.unfinalized.remove(&h);
            if self.retention.unpin(&mut self.store, r)?.is_some() {
                pruned.push(r);
            }
        }
        let retention = &self.retention;
        self.roots.retain(|_, r| retention.is_retained(r));
        Ok(pruned)
    }

    /// The last finalized checkpoint height.
    pub fn last_finalized(&self) -> Option<u64> {
        self.checkpoints.keys().next_back().copied()
    }

    /// The validators of the committed state (top `max_validators` by stake, Theta's
    /// tie-break), ordered by holder address.
    pub fn validators(&self) -> Result<Vec<Validator>, ExecError> {
        sets::validators(&self.store, self.root, &self.config)
    }

    /// The committed state's validator set as `mlbft-core` takes it.
    pub fn validator_set(&self) -> Result<ValidatorSet<Bls>, ExecError> {
        sets::validator_set(&self.store, self.root, &self.config)
    }

    /// The rewards of block `height` under `context`: what its Coinbase must credit
    /// (`BlockRewards::outputs`). Validators of the block's committee share their pool
    /// by stake; the guardians of the finalized checkpoint's state who signed its
    /// aggregate enter the lottery (the aggregate is verified here, once per
    /// checkpoint). The supply is the TFUEL supply of the committed state (with no block
    /// open) or of the open block so far.
    pub fn block_rewards(&mut self, height: u64, context: &BlockContext) -> Result<BlockRewards, ExecError> {
        let committee = self.committee_at(height)?.ok_or(ExecError::UnknownState { height })?;
        let validators: Vec<(Address, U256)> = committee
            .addresses
            .iter()
            .zip(0u32..)
            .map(|(a, i)| (*a, committee.set.stake(i)))
            .filter(|(_, s)| !s.is_zero())
            .collect();
        let supply =
            self.view().supply()?.expected_total().ok_or(ExecError::Overflow { what: "supply" })?.tfuel_wei;
        let rewards = &self.config.rewards;
        let Some(f) = &context.finality else {
            let input = RewardInput {
                height,
                supply,
                previous_block_hash: context.previous_block_hash,
                validators: &validators,
                guardians: None,
            };
            return crate::rewards::block_rewards(rewards, &input).map_err(ExecError::Reward);
        };
        let root = self
            .root_at(f.checkpoint.height)
            .ok_or(ExecError::UnknownState { height: f.checkpoint.height })?;
        let set = sets::guardian_set(&self.store, root)?;
        let recipients: Vec<Address> =
            sets::guardians(&self.store, root)?.into_iter().map(|g| g.holder).collect();
        let view = CheckpointGuardians {
            checkpoint: f.checkpoint,
            set: &set,
            set_hash: f.set_hash,
            recipients: &recipients,
            aggregate: &f.aggregate,
        };
        let input = RewardInput {
            height,
            supply,
            previous_block_hash: context.previous_block_hash,
            validators: &validators,
            guardians: Some(view),
        };
        let cached =
            self.verified.as_ref().and_then(|v| crate::rewards::block_rewards_with(rewards, &input, v).ok());
        let out = match cached {
            Some(r) => r,
            None => {
                let verified =
                    crate::rewards::verify_checkpoint_aggregate(&view).map_err(ExecError::Reward)?;
                let out = crate::rewards::block_rewards_with(rewards, &input, &verified)
                    .map_err(ExecError::Reward)?;
                self.verified = Some(verified);
                out
            }
        };
        self.distribute_guardian_rewards(out, &recipients)
    }

    /// Applies StakeRewardDistribution rules to the lottery winners' credits (Theta's
    /// `handleSplit`): a winner whose holder set a rule pays `floor(reward · bps /
    /// 10 000)` of its guardian reward to the rule's beneficiary. Validator rewards are
    /// not split (Theta: "not allowed for validators for now").
    fn distribute_guardian_rewards(
        &self,
        mut out: BlockRewards,
        recipients: &[Address],
    ) -> Result<BlockRewards, ExecError> {
        let n = u64::try_from(out.winners.len()).map_err(|_| ExecError::Overflow { what: "winners" })?;
        if n == 0 {
            return Ok(out);
        }
        let each = out.guardian_pool / U256::from(n);
        let view = self.view();
        let mut credits: BTreeMap<Address, U256> = out.credits.iter().copied().collect();
        for &i in &out.winners {
            let Some(holder) = recipients.get(i) else { continue };
            let Some(rule) = exec::reward_distribution_of(&view, holder)? else { continue };
            let split =
                crate::rewards::mul_div(each, U256::from(rule.split_basis_point), U256::from(10_000u64))
                    .ok_or(ExecError::Overflow { what: "reward split" })?;
            if split.is_zero() || rule.beneficiary == *holder {
                continue;
            }
            let own = credits.entry(*holder).or_default();
            *own = own.checked_sub(split).ok_or(ExecError::Overflow { what: "reward split" })?;
            let b = credits.entry(rule.beneficiary).or_default();
            *b = b.checked_add(split).ok_or(ExecError::Overflow { what: "reward split" })?;
        }
        out.credits = credits.into_iter().filter(|(_, v)| !v.is_zero()).collect();
        Ok(out)
    }

    /// A Coinbase in the open block: the block has a context, the Coinbase is its first
    /// transaction, carried by the block's proposer (signature checked), and credits
    /// exactly [`Ledger::block_rewards`]; the credits are minted (`Supply::issued`).
    fn apply_coinbase(&mut self, tx: &crate::tx::CoinbaseTx, sigs: Sigs) -> Result<&TxReceipt, ExecError> {
        let block = self.block.as_ref().ok_or(ExecError::NoBlockInProgress)?;
        let context = block.context.clone().ok_or(ExecError::NoBlockContext)?;
        if !block.receipts.is_empty() {
            return Err(ExecError::CoinbaseNotFirst);
        }
        if tx.proposer.address != context.proposer {
            return Err(ExecError::NotProposer { found: tx.proposer.address, proposer: context.proposer });
        }
        let height = block.height;
        let as_tx = Transaction::Coinbase(tx.clone());
        if sigs == Sigs::Check {
            exec::verify_signatures(&self.config.chain_id, &as_tx)?;
        }
        let expected = self.block_rewards(height, &context)?;
        crate::rewards::verify_coinbase(&expected, tx).map_err(ExecError::Reward)?;
        self.in_block(|view, _| exec::mint(view, &expected))
    }

    /// The committee that validated blocks at `height` under `mlbft-core`'s lag rule
    /// (the set for a block is read from the state two heights below it,
    /// [`mlbft_core::SET_CHANGE_LAG`]): the validator set of the committed state at
    /// `height − 2` (genesis for heights 0–2) with each member's account. `None` when
    /// that state is not committed or no longer retained: evidence about blocks older
    /// than the pruning window cannot be checked and is refused.
    pub fn committee_at(&self, height: u64) -> Result<Option<Committee>, ExecError> {
        let Some(root) = self.root_at(height.saturating_sub(mlbft_core::SET_CHANGE_LAG)) else {
            return Ok(None);
        };
        sets::committee(&self.store, root, &self.config).map(Some)
    }

    /// The committees a Slash transaction in block `height` is checked against: the
    /// block's own (its proposer must be a member) and those of the heights its
    /// double-signing evidence names. Nothing for other transactions, or for evidence
    /// that does not decode (verification then reports why).
    fn slash_committees(&self, height: u64, tx: &Transaction) -> Result<Committees, ExecError> {
        let mut out = Committees::new();
        let Transaction::Slash(t) = tx else { return Ok(out) };
        let mut heights = vec![height];
        if let Ok(SlashEvidence::DoubleSign(e)) = SlashEvidence::decode(&t.slash_proof, MAX_SLASH_PROOF_LEN) {
            heights
                .extend([e.first.block.height, e.second.block.height].into_iter().filter(|h| *h <= height));
        }
        for h in heights {
            if let std::collections::btree_map::Entry::Vacant(slot) = out.entry(h)
                && let Some(c) = self.committee_at(h)?
            {
                slot.insert(c);
            }
        }
        Ok(out)
    }

    /// The guardians of the committed state, sorted by holder address.
    pub fn guardians(&self) -> Result<Vec<Guardian>, ExecError> {
        sets::guardians(&self.store, self.root)
    }

    /// The committed state's guardian set as `bls-gossip` takes it.
    pub fn guardian_set(&self) -> Result<GuardianSet<Bls>, ExecError> {
        sets::guardian_set(&self.store, self.root)
    }
}

/// The cheap shape checks ([`check_shape`](crate::check_shape)) and the signatures of a
/// block's transactions, one result per transaction; on rayon's pool with the `parallel`
/// feature.
pub fn verify_batch(config: &LedgerConfig, txs: &[Transaction]) -> Vec<Result<(), ExecError>> {
    let one = |tx: &Transaction| {
        exec::check_shape(config, tx).and_then(|()| exec::verify_signatures(&config.chain_id, tx))
    };
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        txs.par_iter().map(one).collect()
    }
    #[cfg(not(feature = "parallel"))]
    {
        txs.iter().map(one).collect()
    }
}
