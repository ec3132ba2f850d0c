//! [`NodeService`]: the node's core logic as one sans-I/O [`Service`], composing
//!
//! * an `mlbft-core` [`Machine`] with a [`NodeContext`] (real BLS keys, the validator set
//!   and guardian set of the ledger's genesis, block payloads from the mempool),
//! * a `ledger` [`Ledger`] over the node's [`Storage`] (through [`Buffered`], so a
//!   settled block, its certificate and its state land in one `commit_block`),
//! * the [`Mempool`], fed by [`NodeService::submit_tx`] and the transaction topic,
//! * for guardian nodes, `bls-gossip`'s [`GossipMachine`] per checkpoint.
//!
//! Every node runs the consensus machine: validators with their key, guardians and other
//! nodes as observers that follow proposals and votes to settle blocks themselves (the
//! machine checks every signature, so an observer trusts no peer). The service is glue:
//! the protocol rules stay in the crates.
//!
//! # Wire
//!
//! * [`Topic::Consensus`]: `mlbft_core::Message` (RLP), the machine's broadcasts of
//!   proposals and epoch changes. Votes go to the validators as direct messages:
//!   observers settle blocks from the certificates that proposals carry (a block's CC
//!   rides in its child's proposal), two signature checks per block instead of one per
//!   validator.
//! * [`Topic::Guardians`]: `Message::Finality` with a guardian aggregate.
//! * [`Topic::Transactions`]: one Theta wire transaction.
//! * [`Topic::Blocks`]: unused so far (every node settles blocks itself); anything on it
//!   is rejected.
//! * Direct requests: a tag byte ([`FRAME_CONSENSUS`] or [`FRAME_GUARDIAN`]) and the
//!   message. The response to a `BlockRequest` is an RLP list of the messages the
//!   machine answers with; every other request gets an empty response.
//!
//! Every frame is decoded under explicit limits; gossip that does not decode, or whose
//! signatures or certificates are invalid, gets a rejecting [`NetOut::Verdict`] and
//! changes nothing. Refusals that honest peers cause (late votes, a stale epoch, a
//! duplicate transaction) are accepted, so their forwarders are not scored down.
//!
//! # Blocks
//!
//! A block's payload is an RLP list of at most [`NodeConfig::max_block_txs`] Theta wire
//! transactions. On `Event::Settled` every node executes the settled block: each
//! transaction that fails to decode or fails the ledger's checks is **skipped** (it
//! changes nothing; the same on every node, since execution is deterministic), a payload
//! that is not such a list executes as an empty block. The block, its certificate and the
//! state's trie batch are then written with one [`Storage::commit_block`]. On
//! `Event::Finalized` the ledger is told ([`Ledger::finalize`]) and the height is stored
//! as metadata.
//!
//! # Crash safety and restart
//!
//! Outputs are carried out in the machine's order and `Output::Persist` is written with
//! [`Storage::persist_consensus`] (durable when it returns) before any later output is
//! queued for the network. If that write fails the service halts: it sends nothing more
//! and reports the error in [`NodeService::fault`]. [`NodeService::open`] restarts a node
//! from its storage (ledger at the stored tip, machine restored from the persisted
//! state). A finality message for a checkpoint above the executed height (a restarted
//! or lagging node) is verified, held, and fed to the machine only once the ledger
//! reached that height: the machine would otherwise anchor on the finalized block and
//! never settle the blocks below it, which the ledger must execute.
//!
//! See `examples/simnet.rs` and `tests/simnet.rs` for whole networks on `netsim`, and
//! [`crate::localnet`] for the genesis and keys they use.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

use bls_gossip::{Bls, GossipMachine, GossipMessage, GuardianSet, Scheme};
use ledger::{ExecError, Genesis, Ledger, LedgerConfig, PruningPolicy, Transaction};
use mlbft_core::{
    Checkpoint, Context, Event, Guardians, Input, KeyBytes, Machine, Message, Output, PersistedState,
    StaticContext, ValidatorIndex, ValidatorSet,
};
use primitives::rlp::{Rlp, RlpStream};
use primitives::{Address, H256, Timestamp, U256, keccak256};

use crate::keys::NodeKeys;
use crate::mempool::{Mempool, MempoolConfig, MempoolError, TxMeta};
use crate::storage::{BlockRecord, Buffered, Storage, StorageError};
use crate::transport::{InboundId, NetIn, NetOut, PeerId, RequestId, Service, Topic};
use crate::tx::NodeTx;

/// Tag of a direct consensus message (then `mlbft_core::Message` bytes).
pub const FRAME_CONSENSUS: u8 = 0;
/// Tag of a direct guardian gossip message (then `bls_gossip::GossipMessage` bytes).
pub const FRAME_GUARDIAN: u8 = 1;
/// Largest transaction accepted from a peer or a client.
pub const MAX_TX_BYTES: usize = 64 * 1024;
/// Metadata key of the last finalized height (8 bytes, big-endian).
pub const META_FINALIZED: &str = "finalized_height";

/// `from` of inputs whose sender is not a validator (the machine only uses it as a hint
/// for whom to ask for missing blocks), and the reply address of a block request.
const NOT_A_VALIDATOR: ValidatorIndex = ValidatorIndex::MAX;
/// Guardian gossip instances kept at once.
const GUARDIAN_INSTANCES: usize = 4;

/// Tuning of a node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The consensus machine's configuration.
    pub consensus: mlbft_core::Config,
    /// The ledger's rules (its chain id is the chain's).
    pub ledger: LedgerConfig,
    /// Which states the ledger keeps.
    pub pruning: PruningPolicy,
    /// Mempool limits.
    pub mempool: MempoolConfig,
    /// Guardian gossip tuning.
    pub guardian_gossip: bls_gossip::Config,
    /// Most transactions per block.
    pub max_block_txs: usize,
}

impl NodeConfig {
    /// Defaults for a chain with the ledger rules `ledger`.
    pub fn new(ledger: LedgerConfig) -> Self {
        NodeConfig {
            consensus: mlbft_core::Config::default(),
            ledger,
            pruning: PruningPolicy::default(),
            mempool: MempoolConfig::default(),
            guardian_gossip: bls_gossip::Config { round_ms: 100, ..bls_gossip::Config::default() },
            max_block_txs: 2_000,
        }
    }
}

/// Who is who on the network: the peer of each validator index (the ledger's validator
/// set order) and of each guardian index (the guardian set order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Peers {
    /// Validator index → peer.
    pub validators: Vec<PeerId>,
    /// Guardian index → peer.
    pub guardians: Vec<PeerId>,
}

/// Why a node could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The storage failed; the node halted.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The ledger refused its genesis or a commit.
    #[error("ledger: {0}")]
    Ledger(#[from] ExecError),
    /// The consensus sets could not be built.
    #[error("consensus: {0}")]
    Consensus(#[from] mlbft_core::Error),
    /// The guardian machine refused its setup.
    #[error("guardians: {0}")]
    Guardians(#[from] bls_gossip::Error),
    /// A settled block is not held by the machine (cannot execute it).
    #[error("settled block {0:?} is unknown")]
    MissingBlock(H256),
    /// Settled heights skipped one (the ledger is at `at`, the block is `height`).
    #[error("settled block {height} does not follow the executed height {at}")]
    Gap {
        /// The settled height.
        height: u64,
        /// The ledger's height.
        at: u64,
    },
}

/// Why a submitted transaction was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TxError {
    /// It does not decode (as a Theta or an Ethereum transaction, see [`crate::tx`]).
    #[error("undecodable: {0}")]
    Decode(#[from] crate::tx::BodyError),
    /// Its shape or signatures are invalid, or it cannot execute on the settled state.
    #[error("refused: {0}")]
    Invalid(ExecError),
    /// The mempool refused it.
    #[error("mempool: {0}")]
    Mempool(#[from] MempoolError),
}

impl TxError {
    /// Whether a peer that forwarded it misbehaved (invalid bytes or signatures), as
    /// opposed to a refusal that honest gossip causes (already known, already settled).
    fn is_invalid(&self) -> bool {
        match self {
            TxError::Decode(_) => true,
            TxError::Invalid(e) => !matches!(
                e,
                ExecError::BadSequence { .. } | ExecError::InsufficientFunds { .. } | ExecError::Pool(_)
            ),
            TxError::Mempool(_) => false,
        }
    }
}

/// What a node observed, for tests, metrics and the simulation's summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Blocks executed (settled heights above genesis).
    pub blocks_executed: u64,
    /// Transactions executed.
    pub txs_executed: u64,
    /// Transactions of settled blocks that were skipped (failed their checks).
    pub txs_skipped: u64,
    /// Send transactions executed.
    pub transfers: u64,
    /// ServicePayment transactions executed.
    pub service_payments: u64,
    /// ReserveFund transactions executed.
    pub reserves: u64,
    /// Winning tickets redeemed (ticket broker Redeem transactions executed).
    pub tickets_redeemed: u64,
    /// Ticket broker deposits funded.
    pub ticket_funds: u64,
    /// Gossip messages rejected.
    pub gossip_rejected: u64,
    /// Gossip messages dropped unjudged because the node is halted.
    pub gossip_ignored: u64,
    /// Peer inputs the machine refused (benign or not).
    pub refused_inputs: u64,
    /// Misbehaviour reports of the machine.
    pub misbehaviour: u64,
    /// Finality conflicts (more than 1/3 Byzantine validator stake).
    pub finality_conflicts: u64,
    /// When each height was executed here.
    pub settled_at: BTreeMap<u64, Timestamp>,
    /// When each height became final here (a checkpoint finalizes its ancestors).
    pub finalized_at: BTreeMap<u64, Timestamp>,
    /// State root after each executed height.
    pub roots: BTreeMap<u64, H256>,
    /// Height of each executed transaction.
    pub tx_heights: BTreeMap<H256, u64>,
}

/// The payload side shared by the service and its consensus context: the mempool, the
/// bodies of its transactions and each sender's next sequence.
#[derive(Debug)]
struct Pool {
    mempool: Mempool,
    bodies: BTreeMap<H256, Vec<u8>>,
    /// Next sequence per sender in the executed state.
    next: BTreeMap<Address, u64>,
    /// Per height of a proposal seen (ours or a peer's) and not yet settled: each
    /// sender's next sequence after it, so the next proposal does not repeat its
    /// transactions.
    inflight: BTreeMap<u64, BTreeMap<Address, u64>>,
    max_txs: usize,
    max_bytes: usize,
}

impl Pool {
    fn next_for(&self, height: u64, sender: &Address) -> u64 {
        let base = self.next.get(sender).copied().unwrap_or(1);
        self.inflight.range(..height).filter_map(|(_, m)| m.get(sender).copied()).fold(base, u64::max)
    }

    fn build(&mut self, height: u64) -> Vec<u8> {
        let picked = self.mempool.select(self.max_txs, self.max_bytes, |a| self.next_for(height, a));
        let mut after = BTreeMap::new();
        let mut s = RlpStream::new_list(picked.len());
        for t in &picked {
            after.insert(t.sender, t.sequence + 1);
            s.append(&self.bodies.get(&t.hash).map_or(&[][..], Vec::as_slice));
        }
        self.inflight.insert(height, after);
        s.out().to_vec()
    }

    fn note_proposal(&mut self, height: u64, txs: &[NodeTx]) {
        let mut after = BTreeMap::new();
        for tx in txs {
            if let Some((sender, seq)) = tx.sequence() {
                let e = after.entry(sender).or_insert(0);
                *e = (*e).max(seq + 1);
            }
        }
        self.inflight.insert(height, after);
    }

    fn sync(&mut self) {
        let keep: BTreeSet<H256> = self.mempool_hashes();
        self.bodies.retain(|h, _| keep.contains(h));
    }

    fn mempool_hashes(&self) -> BTreeSet<H256> {
        self.bodies.keys().filter(|h| self.mempool.contains(h)).copied().collect()
    }
}

/// The account whose sequence a transaction uses, and that sequence.
pub fn sequence_of(tx: &Transaction) -> Option<(Address, u64)> {
    if let Transaction::ServicePayment(t) = tx {
        return Some((t.target.address, t.target.sequence));
    }
    let (role, _) = tx.signers().into_iter().next()?;
    tx.input(role).ok().map(|i| (i.address, i.sequence))
}

pub(crate) fn fee_of(tx: &Transaction) -> U256 {
    match tx {
        Transaction::Send(t) => t.fee.tfuel_wei,
        Transaction::ReserveFund(t) => t.fee.tfuel_wei,
        Transaction::ServicePayment(t) => t.fee.tfuel_wei,
        Transaction::ReleaseFund(t) => t.fee.tfuel_wei,
        _ => U256::zero(),
    }
}

/// Encodes transactions as a block payload: an RLP list of Theta wire transactions.
pub fn encode_payload(txs: &[Vec<u8>]) -> Vec<u8> {
    let mut s = RlpStream::new_list(txs.len());
    for t in txs {
        s.append(&t.as_slice());
    }
    s.out().to_vec()
}

/// Decodes a block payload into transaction byte strings: at most `max_txs`, each at
/// most [`MAX_TX_BYTES`], in the canonical encoding; `None` if it is not such a list.
pub fn decode_payload(payload: &[u8], max_txs: usize) -> Option<Vec<Vec<u8>>> {
    let r = Rlp::new(payload);
    let info = r.payload_info().ok()?;
    if info.header_len + info.value_len != payload.len() || !r.is_list() {
        return None;
    }
    let n = r.item_count().ok()?;
    if n > max_txs {
        return None;
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        // `at`, not `iter`: the iterator ends quietly at a malformed item.
        let item = r.at(i).ok()?;
        if !item.is_data() {
            return None;
        }
        let b = item.data().ok()?;
        if b.len() > MAX_TX_BYTES {
            return None;
        }
        out.push(b.to_vec());
    }
    // One encoding per payload: a proposer cannot make the same block in two forms.
    (encode_payload(&out) == payload).then_some(out)
}

/// The node's consensus [`Context`]: the genesis sets and our key (a
/// [`StaticContext`]), payloads from the mempool.
#[derive(Clone)]
pub struct NodeContext {
    inner: StaticContext<Bls>,
    pool: Rc<RefCell<Pool>>,
}

impl std::fmt::Debug for NodeContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeContext").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl Context for NodeContext {
    type Scheme = Bls;

    fn validator_set(&self) -> &Arc<ValidatorSet<Bls>> {
        self.inner.validator_set()
    }

    fn sign(&self, msg: &[u8]) -> Option<(ValidatorIndex, <Bls as Scheme>::Signature)> {
        self.inner.sign(msg)
    }

    fn me(&self) -> Option<ValidatorIndex> {
        self.inner.me()
    }

    fn payload(&mut self, height: u64) -> Vec<u8> {
        self.pool.borrow_mut().build(height)
    }

    fn verify_finality(&self, checkpoint: &Checkpoint, proof: &[u8]) -> Result<bool, mlbft_core::Error> {
        self.inner.verify_finality(checkpoint, proof)
    }
}

struct GuardianRole {
    index: usize,
    key: <Bls as Scheme>::SecretKey,
    set: Arc<GuardianSet<Bls>>,
    set_hash: [u8; 32],
    neighbours: Vec<usize>,
    instances: BTreeMap<u64, (Checkpoint, GossipMachine<Bls>)>,
    started: BTreeSet<u64>,
}

/// The hash that names a guardian set in checkpoint messages: keccak256 of its keys.
pub fn guardian_set_hash(set: &GuardianSet<Bls>) -> [u8; 32] {
    keccak256(set.keys().iter().flat_map(Bls::key_bytes).collect::<Vec<u8>>()).to_fixed_bytes()
}

/// A guardian's gossip neighbours: everyone in small sets, else `i ± 1, 2, 4` (a
/// connected graph of degree at most 6, the same on every node).
pub fn guardian_neighbours(index: usize, n: usize) -> Vec<usize> {
    if n <= 8 {
        return (0..n).filter(|&j| j != index).collect();
    }
    let mut out: BTreeSet<usize> = BTreeSet::new();
    for d in [1, 2, 4] {
        out.insert((index + d) % n);
        out.insert((index + n - d) % n);
    }
    out.remove(&index);
    out.into_iter().collect()
}

/// One node. See the module docs.
pub struct NodeService<S: Storage> {
    config: NodeConfig,
    peers: Peers,
    me_validator: Option<ValidatorIndex>,
    machine: Machine<NodeContext>,
    ledger: Ledger<Buffered<S>>,
    pool: Rc<RefCell<Pool>>,
    guardian: Option<GuardianRole>,
    limits: mlbft_core::Limits,
    out: VecDeque<NetOut>,
    next_request: u64,
    fetches: BTreeSet<RequestId>,
    reply: Option<Vec<Vec<u8>>>,
    pending_finalize: Option<u64>,
    /// A verified finality message for a checkpoint above the executed height, held
    /// until the ledger reaches it (see `on_gossip`).
    deferred_finality: Option<(u64, ValidatorIndex, Message<Bls>)>,
    stats: NodeStats,
    fault: Option<ServiceError>,
    rr: usize,
    now: Timestamp,
}

impl<S: Storage> std::fmt::Debug for NodeService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeService")
            .field("validator", &self.me_validator)
            .field("guardian", &self.guardian.as_ref().map(|g| g.index))
            .field("ledger", &self.ledger)
            .finish_non_exhaustive()
    }
}

impl<S: Storage> NodeService<S> {
    /// A node at genesis on `storage` (which must be empty), at time `now`. Its role
    /// follows from `keys`: a validator if its BLS key is in the genesis validator set, a
    /// guardian if it is in the guardian set, an observer otherwise.
    pub fn new(
        config: NodeConfig,
        genesis: &Genesis,
        keys: &NodeKeys,
        peers: Peers,
        storage: S,
        now: Timestamp,
    ) -> Result<Self, ServiceError> {
        let ledger =
            Ledger::from_genesis(Buffered::new(storage), config.ledger.clone(), genesis, config.pruning)?;
        let genesis_block = mlbft_core::Block::genesis();
        ledger.store().commit_block(BlockRecord {
            height: 0,
            hash: genesis_block.hash(),
            state_root: ledger.root(),
            bytes: genesis_block.encode(),
            certificate: None,
        })?;
        Self::assemble(config, keys, peers, ledger, None, now)
    }

    /// A node restarted from `storage`: the ledger reopened at the state of the stored
    /// tip block, the consensus machine restored from the last persisted state (so it
    /// never signs a vote or proposal that conflicts with one it sent before the crash).
    /// Blocks settled while it was down are fetched by the machine and executed from
    /// the stored tip on. A storage without blocks starts at `genesis` ([`Self::new`]).
    pub fn open(
        config: NodeConfig,
        genesis: &Genesis,
        keys: &NodeKeys,
        peers: Peers,
        storage: S,
        now: Timestamp,
    ) -> Result<Self, ServiceError> {
        let Some((_, tip)) = storage.block_range()? else {
            return Self::new(config, genesis, keys, peers, storage, now);
        };
        let record = storage.block(tip)?.ok_or(StorageError::NoSuchBlock { height: tip })?;
        let persisted = storage.consensus()?;
        let ledger =
            Ledger::open(Buffered::new(storage), config.ledger.clone(), record.state_root, config.pruning)?;
        let validators = ledger.validator_set()?.len();
        let state = persisted
            .map(|raw| decode_persisted(&raw, validators, config.consensus.max_payload))
            .transpose()?;
        Self::assemble(config, keys, peers, ledger, state, now)
    }

    fn assemble(
        config: NodeConfig,
        keys: &NodeKeys,
        peers: Peers,
        ledger: Ledger<Buffered<S>>,
        persisted: Option<PersistedState<Bls>>,
        now: Timestamp,
    ) -> Result<Self, ServiceError> {
        let set = Arc::new(ledger.validator_set()?);
        let my_pk = keys.bls.public_key();
        let me_validator =
            set.keys().iter().position(|k| *k == my_pk).and_then(|i| ValidatorIndex::try_from(i).ok());
        let mut inner = StaticContext::new(set.clone(), me_validator.map(|i| (i, keys.bls.clone())));
        let gset = ledger.guardian_set().ok().filter(|g| !g.is_empty()).map(Arc::new);
        let mut guardian = None;
        if let Some(g) = &gset {
            let set_hash = guardian_set_hash(g);
            inner = inner.with_guardians(Guardians { set: g.clone(), set_hash });
            if let Some(index) = g.keys().iter().position(|k| *k == my_pk) {
                guardian = Some(GuardianRole {
                    index,
                    key: keys.bls.clone(),
                    set: g.clone(),
                    set_hash,
                    neighbours: guardian_neighbours(index, g.len()),
                    instances: BTreeMap::new(),
                    started: BTreeSet::new(),
                });
            }
        }
        let overhead = 64 + 8 * config.max_block_txs;
        let pool = Rc::new(RefCell::new(Pool {
            mempool: Mempool::new(config.mempool),
            bodies: BTreeMap::new(),
            next: BTreeMap::new(),
            inflight: BTreeMap::new(),
            max_txs: config.max_block_txs,
            max_bytes: config.consensus.max_payload.saturating_sub(overhead),
        }));
        let ctx = NodeContext { inner, pool: pool.clone() };
        let seed = keccak256(my_pk.to_bytes()).to_fixed_bytes();
        let machine = match persisted {
            Some(state) => Machine::restore(config.consensus.clone(), ctx, state, now, seed)?,
            None => Machine::new(config.consensus.clone(), ctx, now, seed),
        };
        let limits = mlbft_core::Limits {
            validators: set.len(),
            max_payload: config.consensus.max_payload,
            max_message: config.consensus.max_payload + 64 * 1024,
        };
        Ok(NodeService {
            config,
            peers,
            me_validator,
            machine,
            ledger,
            pool,
            guardian,
            limits,
            out: VecDeque::new(),
            next_request: 0,
            fetches: BTreeSet::new(),
            reply: None,
            pending_finalize: None,
            deferred_finality: None,
            stats: NodeStats::default(),
            fault: None,
            rr: 0,
            now,
        })
    }

    /// Our validator index, if we are a validator.
    pub fn validator_index(&self) -> Option<ValidatorIndex> {
        self.me_validator
    }

    /// Our guardian index, if we are a guardian.
    pub fn guardian_index(&self) -> Option<usize> {
        self.guardian.as_ref().map(|g| g.index)
    }

    /// The ledger (state root, accounts, sets).
    pub fn ledger(&self) -> &Ledger<Buffered<S>> {
        &self.ledger
    }

    /// The consensus machine.
    pub fn machine(&self) -> &Machine<NodeContext> {
        &self.machine
    }

    /// What this node observed.
    pub fn stats(&self) -> &NodeStats {
        &self.stats
    }

    /// The error that halted the node, if any.
    pub fn fault(&self) -> Option<&ServiceError> {
        self.fault.as_ref()
    }

    /// Transactions waiting in the mempool.
    pub fn mempool_len(&self) -> usize {
        self.pool.borrow().mempool.len()
    }

    /// The highest executed height.
    pub fn height(&self) -> u64 {
        self.ledger.height()
    }

    /// The last finalized height the machine knows.
    pub fn finalized_height(&self) -> u64 {
        self.machine.finalized().height
    }

    /// The node's configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// Reads the node's storage (blocks, consensus state, metadata).
    pub fn with_storage<R>(&self, f: impl FnOnce(&S) -> R) -> R {
        self.ledger.store().with_base(f)
    }

    /// Submits a client's transaction (Theta wire bytes): checked against the executed
    /// state, added to the mempool and published on the transaction topic.
    pub fn submit_tx(&mut self, bytes: Vec<u8>) -> Result<H256, TxError> {
        let hash = self.admit(&bytes)?;
        if self.fault.is_none() {
            self.out.push_back(NetOut::Publish { topic: Topic::Transactions, data: bytes });
        }
        Ok(hash)
    }

    fn admit(&mut self, bytes: &[u8]) -> Result<H256, TxError> {
        let tx = NodeTx::decode(bytes, MAX_TX_BYTES)?;
        let chain = &self.config.ledger.chain_id;
        let Some((sender, sequence)) = tx.sequence() else {
            return Err(TxError::Invalid(ExecError::NoInputs));
        };
        // `check_tx` checks shape and signatures before the sequence, so a sequence error
        // means both passed (an Ethereum sender was recovered at decode).
        match tx.check(&self.ledger) {
            Ok(_) => {}
            // A later sequence of a sender with transactions waiting: the mempool keeps
            // each sender's queue contiguous; execution checks the rest in its block.
            Err(ExecError::BadSequence { expected, got, .. }) if got > expected => {}
            Err(e) => return Err(TxError::Invalid(e)),
        }
        let hash = tx.hash(chain).map_err(|e| TxError::Decode(e.into()))?;
        let next = self.ledger.account(&sender).map_err(TxError::Invalid)?.sequence + 1;
        let fee = tx.fee(self.config.ledger.send_min_fee(2));
        let meta = TxMeta { hash, sender, sequence, fee, size: bytes.len() };
        let mut pool = self.pool.borrow_mut();
        pool.next.insert(sender, next);
        let evicted = pool.mempool.insert(meta, next)?;
        for e in evicted {
            pool.bodies.remove(&e.hash);
        }
        pool.bodies.insert(hash, bytes.to_vec());
        Ok(hash)
    }

    fn validator_of(&self, peer: &PeerId) -> ValidatorIndex {
        self.peers
            .validators
            .iter()
            .position(|p| p == peer)
            .and_then(|i| ValidatorIndex::try_from(i).ok())
            .unwrap_or(NOT_A_VALIDATOR)
    }

    fn guardian_of(&self, peer: &PeerId) -> Option<usize> {
        self.peers.guardians.iter().position(|p| p == peer)
    }

    fn request(&mut self, to: PeerId, data: Vec<u8>) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        self.out.push_back(NetOut::Request { to, id, data });
        id
    }

    fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut f = Vec::with_capacity(body.len() + 1);
        f.push(tag);
        f.extend_from_slice(body);
        f
    }

    /// A validator peer other than us, round robin.
    fn any_validator(&mut self) -> Option<PeerId> {
        let n = self.peers.validators.len();
        for _ in 0..n {
            self.rr = (self.rr + 1) % n;
            if Some(self.rr) != self.me_validator.map(|m| m as usize) {
                return self.peers.validators.get(self.rr).cloned();
            }
        }
        None
    }

    /// Feeds the machine one peer message; returns whether the input was provably
    /// invalid (bad signature or certificate, malformed).
    fn feed(&mut self, from: ValidatorIndex, msg: Message<Bls>) -> bool {
        if let Message::Proposal(p) = &msg {
            let txs: Vec<NodeTx> = decode_payload(&p.block.payload, self.config.max_block_txs)
                .unwrap_or_default()
                .iter()
                .filter_map(|b| NodeTx::decode(b, MAX_TX_BYTES).ok())
                .collect();
            if p.block.height > self.ledger.height() {
                self.pool.borrow_mut().note_proposal(p.block.height, &txs);
            }
        }
        let result = self.machine.handle(self.now, Input::Message { from, msg });
        self.drain();
        match result {
            Ok(()) => false,
            Err(e) => {
                self.stats.refused_inputs += 1;
                matches!(
                    e,
                    mlbft_core::Error::BadSignature { .. }
                        | mlbft_core::Error::BadCertificate
                        | mlbft_core::Error::BitmapLength { .. }
                        | mlbft_core::Error::BadFinalityProof { .. }
                        | mlbft_core::Error::Malformed { .. }
                        | mlbft_core::Error::Scheme(_)
                )
            }
        }
    }

    fn drain(&mut self) {
        while let Some(o) = self.machine.poll_output() {
            if self.fault.is_some() {
                // Halted: nothing leaves the node any more.
                continue;
            }
            match o {
                Output::Persist(state) => {
                    let bytes = encode_persisted(&state);
                    if let Err(e) = self.ledger.store().with_base_mut(|s| s.persist_consensus(&bytes)) {
                        self.fault = Some(e.into());
                    }
                }
                Output::Broadcast(msg @ Message::Vote(_)) => {
                    // Votes go to the validators only: observers settle from the
                    // certificates that proposals carry (a block's CC rides in its
                    // child's proposal), and so check two signatures per block, not one
                    // per validator.
                    let frame = Self::frame(FRAME_CONSENSUS, &msg.encode());
                    let me = self.me_validator.map(|m| m as usize);
                    let to: Vec<PeerId> = (0..self.peers.validators.len())
                        .filter(|i| Some(*i) != me)
                        .map(|i| self.peers.validators[i].clone())
                        .collect();
                    for peer in to {
                        self.request(peer, frame.clone());
                    }
                }
                Output::Broadcast(msg) => {
                    self.out.push_back(NetOut::Publish { topic: Topic::Consensus, data: msg.encode() });
                }
                Output::Send { to, msg } => {
                    if to == NOT_A_VALIDATOR {
                        if let Some(r) = self.reply.as_mut() {
                            r.push(msg.encode());
                        }
                    } else if Some(to) != self.me_validator
                        && let Some(peer) = self.peers.validators.get(to as usize).cloned()
                    {
                        self.request(peer, Self::frame(FRAME_CONSENSUS, &msg.encode()));
                    }
                }
                Output::Request { to, hash } => {
                    let peer = to
                        .filter(|t| Some(*t) != self.me_validator)
                        .and_then(|t| self.peers.validators.get(t as usize).cloned())
                        .or_else(|| self.any_validator());
                    if let Some(peer) = peer {
                        let body = Message::<Bls>::BlockRequest { hash }.encode();
                        let id = self.request(peer, Self::frame(FRAME_CONSENSUS, &body));
                        self.fetches.insert(id);
                    }
                }
                Output::Event(ev) => self.on_event(ev),
                Output::Misbehaviour(_) => self.stats.misbehaviour += 1,
            }
        }
    }

    fn on_event(&mut self, ev: Event<Bls>) {
        match ev {
            Event::Settled { block } => {
                if let Err(e) = self.execute(block.hash) {
                    self.fault = Some(e);
                }
            }
            Event::Checkpoint { checkpoint, .. } => self.start_guardian(checkpoint),
            Event::Finalized { checkpoint } => {
                self.pending_finalize = Some(checkpoint.height);
                self.apply_finality();
            }
            Event::FinalityConflict { .. } => self.stats.finality_conflicts += 1,
            _ => {}
        }
    }

    /// Feeds the deferred finality message once the ledger executed its checkpoint.
    fn release_finality(&mut self) {
        if self.fault.is_some()
            || self.deferred_finality.as_ref().is_none_or(|(h, _, _)| *h > self.ledger.height())
        {
            return;
        }
        if let Some((_, v, msg)) = self.deferred_finality.take() {
            self.feed(v, msg);
        }
    }

    fn apply_finality(&mut self) {
        let Some(h) = self.pending_finalize else { return };
        if h > self.ledger.height() {
            return;
        }
        self.pending_finalize = None;
        if self.ledger.last_finalized().is_some_and(|l| l >= h) {
            return;
        }
        if let Err(e) = self.ledger.finalize(h) {
            self.fault = Some(e.into());
            return;
        }
        if let Err(e) = self.ledger.store().with_base_mut(|s| s.put_meta(META_FINALIZED, &h.to_be_bytes())) {
            self.fault = Some(e.into());
            return;
        }
        let from = self.stats.finalized_at.keys().next_back().map_or(1, |l| l + 1);
        for height in from..=h {
            self.stats.finalized_at.insert(height, self.now);
        }
    }

    /// Executes a settled block and commits it with its state in one transaction.
    fn execute(&mut self, hash: H256) -> Result<(), ServiceError> {
        let block = self.machine.block(&hash).cloned().ok_or(ServiceError::MissingBlock(hash))?;
        let at = self.ledger.height();
        if block.height <= at {
            return Ok(());
        }
        if block.height != at + 1 {
            return Err(ServiceError::Gap { height: block.height, at });
        }
        let bodies = decode_payload(&block.payload, self.config.max_block_txs).unwrap_or_default();
        self.ledger.begin_block(block.height)?;
        let mut senders = Vec::new();
        let mut executed = Vec::new();
        let mut skipped = Vec::new();
        for body in &bodies {
            let Ok(tx) = NodeTx::decode(body, MAX_TX_BYTES) else {
                self.stats.txs_skipped += 1;
                continue;
            };
            if let Some((s, _)) = tx.sequence() {
                senders.push(s);
            }
            let id = tx.hash(&self.config.ledger.chain_id).ok();
            match tx.apply(&mut self.ledger) {
                Ok(_) => {
                    match &tx {
                        t if t.is_transfer() => self.stats.transfers += 1,
                        NodeTx::Theta(t) => match **t {
                            Transaction::ServicePayment(_) => self.stats.service_payments += 1,
                            Transaction::ReserveFund(_) => self.stats.reserves += 1,
                            _ => {}
                        },
                        NodeTx::Ticket(t) => match t.op {
                            ledger::tickets::TicketOp::Redeem(_) => self.stats.tickets_redeemed += 1,
                            ledger::tickets::TicketOp::Fund { .. } => self.stats.ticket_funds += 1,
                            _ => {}
                        },
                        NodeTx::Eth(_) => {}
                    }
                    self.stats.txs_executed += 1;
                    executed.extend(id);
                }
                Err(_) => {
                    self.stats.txs_skipped += 1;
                    skipped.extend(id);
                }
            }
        }
        let outcome = match self.ledger.commit_block() {
            Ok(o) => o,
            Err(e) => {
                self.ledger.store().discard();
                return Err(e.into());
            }
        };
        let certificate = self.machine.certificate(&hash).map(|c| c.encode());
        self.ledger.store().commit_block(BlockRecord {
            height: block.height,
            hash,
            state_root: outcome.state_root,
            bytes: block.encode(),
            certificate,
        })?;
        self.stats.blocks_executed += 1;
        self.stats.settled_at.insert(block.height, self.now);
        self.stats.roots.insert(block.height, outcome.state_root);
        for id in executed {
            self.stats.tx_heights.insert(id, block.height);
        }
        // The mempool: drop what the block used up, and what failed in it.
        let mut nexts = BTreeMap::new();
        for s in &senders {
            nexts.insert(*s, self.ledger.account(s)?.sequence + 1);
        }
        {
            let mut pool = self.pool.borrow_mut();
            for (s, n) in &nexts {
                pool.next.insert(*s, *n);
            }
            pool.mempool.remove_committed(&senders, |a| nexts.get(a).copied().unwrap_or(1));
            for h in &skipped {
                pool.mempool.remove(h);
            }
            pool.inflight = pool.inflight.split_off(&(block.height + 1));
            pool.sync();
        }
        self.apply_finality();
        Ok(())
    }

    fn start_guardian(&mut self, checkpoint: Checkpoint) {
        let now = self.now;
        let Some(g) = self.guardian.as_mut() else { return };
        if !g.started.insert(checkpoint.height) {
            return;
        }
        let msg: Arc<[u8]> = mlbft_core::guardian_message(&checkpoint, &g.set_hash).into();
        let sig = Bls::sign(&g.key, &msg);
        let Ok(ctx) = bls_gossip::Context::new(
            checkpoint.height,
            g.set.clone(),
            msg,
            Some((g.index, sig)),
            g.neighbours.clone(),
        ) else {
            return;
        };
        let seed = keccak256([checkpoint.height.to_be_bytes(), (g.index as u64).to_be_bytes()].concat());
        let machine =
            GossipMachine::new(self.config.guardian_gossip.clone(), ctx, now, seed.to_fixed_bytes());
        g.instances.insert(checkpoint.height, (checkpoint, machine));
        while g.instances.len() > GUARDIAN_INSTANCES {
            g.instances.pop_first();
        }
        self.drain_guardian();
    }

    fn drain_guardian(&mut self) {
        let Some(g) = self.guardian.as_mut() else { return };
        let mut sends = Vec::new();
        let mut finals = Vec::new();
        for (height, (cp, m)) in g.instances.iter_mut() {
            while let Some(out) = m.poll_output() {
                match out {
                    bls_gossip::Output::Send { to, msg } => sends.push((to, msg.encode())),
                    bls_gossip::Output::Event(bls_gossip::Event::Finalized { aggregate, .. }) => {
                        finals.push((*cp, GossipMessage::new(*height, aggregate).encode()));
                    }
                    bls_gossip::Output::Misbehaviour(_) => {}
                }
            }
        }
        if self.fault.is_some() {
            return;
        }
        for (to, body) in sends {
            for t in to {
                if let Some(peer) = self.peers.guardians.get(t).cloned() {
                    self.request(peer, Self::frame(FRAME_GUARDIAN, &body));
                }
            }
        }
        for (checkpoint, proof) in finals {
            if checkpoint.height <= self.machine.finalized().height {
                continue;
            }
            let msg = Message::<Bls>::Finality { checkpoint, proof };
            let data = msg.encode();
            self.feed(NOT_A_VALIDATOR, msg);
            self.out.push_back(NetOut::Publish { topic: Topic::Guardians, data });
        }
    }

    fn on_gossip(&mut self, from: &PeerId, topic: Topic, data: &[u8]) -> bool {
        match topic {
            Topic::Consensus | Topic::Guardians => {
                let Ok(msg) = Message::<Bls>::decode(data, &self.limits) else { return false };
                let ok_kind = match topic {
                    Topic::Guardians => matches!(msg, Message::Finality { .. }),
                    _ => matches!(msg, Message::Proposal(_) | Message::Vote(_) | Message::EpochChange(_)),
                };
                if !ok_kind {
                    return false;
                }
                let v = self.validator_of(from);
                if let Message::Finality { checkpoint, proof } = &msg
                    && checkpoint.height > self.ledger.height()
                {
                    // A checkpoint above what this node executed (it restarted or lags):
                    // the machine would adopt it as its anchor and never settle the
                    // blocks below it, which the ledger must execute. Verify it now and
                    // hand it over once the ledger reaches it.
                    if !matches!(self.machine.context().verify_finality(checkpoint, proof), Ok(true)) {
                        self.stats.refused_inputs += 1;
                        return false;
                    }
                    let h = checkpoint.height;
                    if self.deferred_finality.as_ref().is_none_or(|(d, _, _)| *d < h) {
                        self.deferred_finality = Some((h, v, msg));
                    }
                    return true;
                }
                !self.feed(v, msg)
            }
            Topic::Transactions => match self.admit(data) {
                Ok(_) => true,
                Err(e) => !e.is_invalid(),
            },
            Topic::Blocks => false,
        }
    }

    fn on_request(&mut self, from: &PeerId, data: &[u8], id: InboundId) {
        let Some((&tag, body)) = data.split_first() else {
            self.penalize(from, "empty frame");
            self.out.push_back(NetOut::Respond { id, data: Vec::new() });
            return;
        };
        let mut response = Vec::new();
        match tag {
            FRAME_CONSENSUS => match Message::<Bls>::decode(body, &self.limits) {
                Ok(Message::BlockRequest { hash }) => {
                    self.reply = Some(Vec::new());
                    self.feed(NOT_A_VALIDATOR, Message::BlockRequest { hash });
                    let msgs = self.reply.take().unwrap_or_default();
                    let mut s = RlpStream::new_list(msgs.len());
                    for m in &msgs {
                        s.append(&m.as_slice());
                    }
                    response = s.out().to_vec();
                }
                Ok(msg) => {
                    let v = self.validator_of(from);
                    if self.feed(v, msg) {
                        self.penalize(from, "invalid consensus message");
                    }
                }
                Err(_) => self.penalize(from, "undecodable consensus frame"),
            },
            FRAME_GUARDIAN => self.on_guardian_frame(from, body),
            _ => self.penalize(from, "unknown frame tag"),
        }
        if self.fault.is_none() {
            self.out.push_back(NetOut::Respond { id, data: response });
        }
    }

    fn on_guardian_frame(&mut self, from: &PeerId, body: &[u8]) {
        let sender = self.guardian_of(from);
        let now = self.now;
        let Some(g) = self.guardian.as_mut() else { return };
        let Some(peer) = sender else { return };
        let Ok(msg) = GossipMessage::<Bls>::decode(body, g.set.len(), mlbft_core::MAX_FINALITY_PROOF) else {
            self.penalize(from, "undecodable guardian frame");
            return;
        };
        if let Some((_, m)) = g.instances.get_mut(&msg.instance()) {
            let _ = m.handle(now, bls_gossip::Input::Message { from: peer, msg });
        }
        self.drain_guardian();
    }

    fn on_response(&mut self, id: RequestId, data: &[u8]) {
        if !self.fetches.remove(&id) || data.is_empty() {
            return;
        }
        let r = Rlp::new(data);
        if !r.is_list() {
            return;
        }
        let msgs: Vec<Vec<u8>> = r.iter().filter_map(|i| i.data().ok().map(<[u8]>::to_vec)).collect();
        for m in msgs.iter().take(mlbft_core::CATCH_UP_ANCESTORS + 1) {
            if let Ok(msg) = Message::<Bls>::decode(m, &self.limits)
                && matches!(msg, Message::BlockResponse { .. } | Message::Proposal(_))
            {
                self.feed(NOT_A_VALIDATOR, msg);
            }
        }
    }

    fn penalize(&mut self, peer: &PeerId, reason: &str) {
        self.out.push_back(NetOut::Penalize { peer: peer.clone(), points: 25, reason: reason.into() });
    }

    fn on_timeout(&mut self) {
        let now = self.now;
        if self.machine.poll_timeout().is_some_and(|t| t <= now) {
            let _ = self.machine.handle(now, Input::Timeout);
            self.drain();
        }
        if let Some(g) = self.guardian.as_mut() {
            for (_, m) in g.instances.values_mut() {
                if m.poll_timeout().is_some_and(|t| t <= now) {
                    let _ = m.handle(now, bls_gossip::Input::Timeout);
                }
            }
            self.drain_guardian();
        }
    }
}

impl<S: Storage> Service for NodeService<S> {
    fn handle(&mut self, now: Timestamp, input: NetIn) {
        self.now = now;
        match input {
            NetIn::Start => self.drain(),
            NetIn::Timeout => self.on_timeout(),
            NetIn::Gossip { id, .. } if self.fault.is_some() => {
                // A halted node cannot judge gossip: it drops it without relaying and
                // without blaming the (honest) forwarder.
                self.stats.gossip_ignored += 1;
                self.out.push_back(NetOut::Ignore { id });
            }
            NetIn::Gossip { from, topic, data, id } => {
                let accept = self.on_gossip(&from, topic, &data);
                if !accept {
                    self.stats.gossip_rejected += 1;
                }
                self.out.push_back(NetOut::Verdict { id, accept });
            }
            NetIn::Request { from, data, id } => {
                if self.fault.is_none() {
                    self.on_request(&from, &data, id);
                }
            }
            NetIn::Response { id, result } => {
                if let Ok(data) = result {
                    self.on_response(id, &data);
                } else {
                    self.fetches.remove(&id);
                }
            }
            NetIn::Connected(_) | NetIn::Disconnected(_) => {}
        }
        self.release_finality();
    }

    fn poll_net(&mut self) -> Option<NetOut> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        if self.fault.is_some() {
            return None;
        }
        let g = self
            .guardian
            .as_ref()
            .and_then(|g| g.instances.values().filter_map(|(_, m)| m.poll_timeout()).min());
        match (self.machine.poll_timeout(), g) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The consensus state's storage encoding: RLP `[epoch, last_voted_epoch,
/// last_proposed_epoch, [lock height, epoch, hash], lock CC bytes (empty for genesis),
/// settled tip block, [finalized height, hash]]`.
pub fn encode_persisted(state: &PersistedState<Bls>) -> Vec<u8> {
    let mut s = RlpStream::new_list(7);
    s.append(&state.epoch);
    s.append(&state.last_voted_epoch);
    s.append(&state.last_proposed_epoch);
    s.begin_list(3);
    s.append(&state.lock.height);
    s.append(&state.lock.epoch);
    s.append(&state.lock.hash);
    let cc = state.lock_cc.as_ref().map(|c| c.encode()).unwrap_or_default();
    s.append(&cc.as_slice());
    s.append(&state.settled_tip.encode().as_slice());
    s.begin_list(2);
    s.append(&state.finalized.height);
    s.append(&state.finalized.hash);
    s.out().to_vec()
}

/// Decodes [`encode_persisted`]'s output for a set of `validators` members, with block
/// payloads of at most `max_payload` bytes; anything else is
/// [`StorageError::Corrupt`].
pub fn decode_persisted(
    bytes: &[u8],
    validators: usize,
    max_payload: usize,
) -> Result<PersistedState<Bls>, StorageError> {
    let corrupt = |reason: &'static str| StorageError::Corrupt { what: "consensus state", reason };
    let r = Rlp::new(bytes);
    let info = r.payload_info().map_err(|_| corrupt("not RLP"))?;
    if info.header_len + info.value_len != bytes.len() || !r.is_list() || r.item_count().ok() != Some(7) {
        return Err(corrupt("not a 7-item list"));
    }
    let int = |i: usize| r.val_at::<u64>(i).map_err(|_| corrupt("bad integer"));
    let lock = r.at(3).map_err(|_| corrupt("bad lock"))?;
    if lock.item_count().ok() != Some(3) {
        return Err(corrupt("bad lock"));
    }
    let lock = mlbft_core::BlockRef {
        height: lock.val_at(0).map_err(|_| corrupt("bad lock"))?,
        epoch: lock.val_at(1).map_err(|_| corrupt("bad lock"))?,
        hash: lock.val_at(2).map_err(|_| corrupt("bad lock"))?,
    };
    let cc: Vec<u8> = r.val_at(4).map_err(|_| corrupt("bad lock certificate"))?;
    let lock_cc = if cc.is_empty() {
        None
    } else {
        Some(
            mlbft_core::CommitCertificate::decode(&cc, validators, cc.len())
                .map_err(|_| corrupt("bad lock certificate"))?,
        )
    };
    let tip: Vec<u8> = r.val_at(5).map_err(|_| corrupt("bad settled tip"))?;
    let settled_tip = mlbft_core::Block::decode(&tip, max_payload).map_err(|_| corrupt("bad settled tip"))?;
    let fin = r.at(6).map_err(|_| corrupt("bad finalized checkpoint"))?;
    if fin.item_count().ok() != Some(2) {
        return Err(corrupt("bad finalized checkpoint"));
    }
    let finalized = Checkpoint {
        height: fin.val_at(0).map_err(|_| corrupt("bad finalized checkpoint"))?,
        hash: fin.val_at(1).map_err(|_| corrupt("bad finalized checkpoint"))?,
    };
    Ok(PersistedState {
        epoch: int(0)?,
        last_voted_epoch: int(1)?,
        last_proposed_epoch: int(2)?,
        lock,
        lock_cc,
        settled_tip,
        finalized,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_length_checked() {
        let txs = vec![vec![1u8, 2, 3], vec![4u8; 100]];
        let p = encode_payload(&txs);
        assert_eq!(decode_payload(&p, 2), Some(txs.clone()));
        assert_eq!(decode_payload(&p, 1), None, "too many transactions");
        let mut trailing = p.clone();
        trailing.push(0);
        assert_eq!(decode_payload(&trailing, 2), None);
        assert_eq!(decode_payload(&p[..p.len() - 1], 2), None);
        assert_eq!(decode_payload(b"junk", 2), None);
        let big = encode_payload(&[vec![0u8; MAX_TX_BYTES + 1]]);
        assert_eq!(decode_payload(&big, 2), None, "a transaction over the limit");
        assert_eq!(decode_payload(&encode_payload(&[]), 2), Some(Vec::new()));
        // A list whose item overruns it (found by the node_gossip fuzz target: it used to
        // decode as an empty block), and a non-minimal length prefix.
        assert_eq!(decode_payload(&[0xc3, 0x84, 1, 2], 2), None);
        assert_eq!(decode_payload(&[0xf8, 0x02, 0x81, 0x05], 2), None);
    }

    #[test]
    fn persisted_state_round_trips() {
        let genesis = mlbft_core::Block::genesis();
        let state = PersistedState::<Bls> {
            epoch: 9,
            last_voted_epoch: 8,
            last_proposed_epoch: 7,
            lock: genesis.reference(),
            lock_cc: None,
            settled_tip: mlbft_core::Block {
                height: 3,
                epoch: 4,
                parent: H256::repeat_byte(1),
                proposer: 2,
                payload: vec![5; 9],
            },
            finalized: Checkpoint { height: 0, hash: genesis.hash() },
        };
        let bytes = encode_persisted(&state);
        assert_eq!(decode_persisted(&bytes, 4, 1 << 20).unwrap(), state);
        assert!(decode_persisted(&bytes[..bytes.len() - 1], 4, 1 << 20).is_err());
        assert!(decode_persisted(&bytes, 4, 8).is_err(), "tip payload over the limit");
    }
}
