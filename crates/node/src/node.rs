//! The node as a process: a node directory written by [`init`] (genesis, key file, node
//! configuration) and [`run`], which opens the node's redb store, drives its
//! [`NodeService`] on [`P2pTransport`] and serves the JSON-RPC methods of [`rpc_call`]
//! with `/metrics` until SIGTERM or ctrl-c (`meshcast init`, `meshcast run`).
//!
//! The glue is thin: [`NodeHost`] wraps the service to count peers, export metrics and,
//! when a block interval is configured, hold consensus messages for half of it before
//! they leave (a pacing delay like a link's latency, so a loopback network does not spin
//! its CPUs on back-to-back blocks; consensus rules are untouched).
//!
//! # A node directory
//!
//! * `node.json`: [`NodeFile`] (role, listen addresses, peers, tuning),
//! * `node.key`: the [`NodeKeys`] file (mode 0600); the libp2p identity is derived from
//!   its account key ([`p2p_keypair`]), so peer ids are known at `init`,
//! * `store.redb`: the node's storage, created by the first `run`,
//! * the genesis file, named by `node.json` (`../genesis.json` after `init`).

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use ledger::Genesis;
use primitives::{Address, H256, Timestamp, keccak256};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::keys::NodeKeys;
use crate::localnet::Localnet;
use crate::metrics::Metrics;
use crate::rpc::Server;
use crate::rpc::jsonrpc::{Handler, RpcError, param};
use crate::service::{FRAME_CONSENSUS, NodeConfig, NodeService, Peers};
use crate::storage::{RedbStorage, Storage};
use crate::transport::p2p::{self, Injected, P2pConfig, P2pTransport};
use crate::transport::{NetIn, NetOut, PeerId, Service, Topic};

/// Why a node directory could not be written or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A configuration or genesis file is malformed, or the arguments are inconsistent.
    #[error("{0}")]
    Config(String),
    /// The key file.
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyError),
    /// The genesis or the ledger.
    #[error("ledger: {0}")]
    Ledger(#[from] ledger::ExecError),
    /// The storage.
    #[error("storage: {0}")]
    Storage(#[from] crate::storage::StorageError),
    /// The service could not start.
    #[error("node: {0}")]
    Service(#[from] crate::service::ServiceError),
    /// The network.
    #[error("p2p: {0}")]
    P2p(#[from] p2p::P2pError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> NodeError + '_ {
    move |source| NodeError::Io { path: path.to_owned(), source }
}

/// A node's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A validator (proposes and votes).
    Validator,
    /// A guardian (finalizes checkpoints).
    Guardian,
}

/// `node.json`: everything `meshcast run` needs besides the key file and the genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    /// The node's role.
    pub role: Role,
    /// Its index in the validator or guardian set.
    pub index: usize,
    /// The genesis file, relative to the node directory.
    pub genesis: PathBuf,
    /// The p2p listen address (TCP).
    pub p2p_listen: SocketAddr,
    /// The JSON-RPC (and `/metrics`) listen address.
    pub rpc_listen: SocketAddr,
    /// This node's libp2p peer id.
    pub peer_id: String,
    /// Multiaddresses (with `/p2p/<id>`) of the peers to dial.
    pub peers: Vec<String>,
    /// Peer id of each validator, in validator-set order.
    pub validator_peers: Vec<String>,
    /// Peer id of each guardian, in guardian-set order.
    pub guardian_peers: Vec<String>,
    /// Guardians finalize every `checkpoint_interval`-th block.
    pub checkpoint_interval: u64,
    /// Target block interval in ms (0: as fast as consensus goes). Consensus messages
    /// are held for half of it before they leave.
    pub block_ms: u64,
    /// Most transactions per block.
    pub max_block_txs: usize,
}

/// What `meshcast init` writes.
#[derive(Clone, Debug)]
pub struct InitOptions {
    /// Validators.
    pub validators: usize,
    /// Guardians.
    pub guardians: usize,
    /// Funded accounts.
    pub accounts: usize,
    /// Seed of every key.
    pub seed: u64,
    /// Checkpoint interval.
    pub checkpoint_interval: u64,
    /// Block interval target, ms.
    pub block_ms: u64,
    /// p2p port of each node (validators first, then guardians).
    pub p2p_ports: Vec<u16>,
    /// RPC port of each node.
    pub rpc_ports: Vec<u16>,
}

/// The genesis file name `init` writes at the top of its directory.
pub const GENESIS_FILE: &str = "genesis.json";

/// Directory name of node `i` (validators `v0…`, then guardians `g0…`).
pub fn node_dir_name(i: usize, validators: usize) -> String {
    if i < validators { format!("v{i}") } else { format!("g{}", i - validators) }
}

/// The node's libp2p identity, derived from its account key (so `init` knows every
/// peer id, and the key file stays the node's only secret).
pub fn p2p_keypair(keys: &NodeKeys) -> Result<libp2p::identity::Keypair, NodeError> {
    let secret = keccak256([&b"meshcast/p2p-identity"[..], &keys.account.to_bytes()].concat());
    libp2p::identity::Keypair::ed25519_from_bytes(secret.to_fixed_bytes())
        .map_err(|e| NodeError::Config(format!("p2p identity: {e}")))
}

fn genesis_json(g: &Genesis) -> Value {
    let stakes = |v: &[ledger::GenesisStake]| -> Vec<Value> {
        v.iter()
            .map(|s| {
                json!({"holder": s.holder, "source": s.source, "stake": s.stake,
                       "bls_pubkey": s.bls_pubkey, "bls_pop": s.bls_pop})
            })
            .collect()
    };
    json!({
        "chain_id": g.chain_id,
        "accounts": g.accounts.iter().map(|a| json!({
            "address": a.address, "theta": a.theta, "tfuel": a.tfuel, "sequence": a.sequence,
        })).collect::<Vec<_>>(),
        "validators": stakes(&g.validators),
        "guardians": stakes(&g.guardians),
    })
}

fn write_json(path: &Path, v: &impl Serialize) -> Result<(), NodeError> {
    let mut body = serde_json::to_vec_pretty(v).map_err(|e| NodeError::Config(e.to_string()))?;
    body.push(b'\n');
    std::fs::write(path, body).map_err(io_err(path))
}

/// Writes `genesis.json` and one node directory per node under `dir` (which must not
/// hold a genesis yet), deterministically from `opts.seed`. Returns the node
/// directories, validators first.
pub fn init(dir: &Path, opts: &InitOptions) -> Result<Vec<PathBuf>, NodeError> {
    let n = opts.validators + opts.guardians;
    // A single validator recurses without bound in the consensus machine (it proposes,
    // votes and settles inside one call, again and again); 3f+1 with f ≥ 1 is what is
    // tested.
    if opts.validators < 4 {
        return Err(NodeError::Config(format!("{} validators: at least 4 are needed", opts.validators)));
    }
    if opts.p2p_ports.len() != n || opts.rpc_ports.len() != n {
        return Err(NodeError::Config(format!("{n} nodes need {n} p2p and RPC ports")));
    }
    let net = Localnet::new(opts.validators, opts.guardians, opts.accounts, opts.seed)?;
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let gpath = dir.join(GENESIS_FILE);
    if gpath.exists() {
        return Err(NodeError::Config(format!("{} exists; init never overwrites", gpath.display())));
    }
    let keys: Vec<&NodeKeys> = net.validators.iter().chain(net.guardians.iter()).collect();
    let ids = keys
        .iter()
        .map(|k| p2p_keypair(k).map(|kp| kp.public().to_peer_id().to_base58()))
        .collect::<Result<Vec<_>, _>>()?;
    let addr = |i: usize| format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", opts.p2p_ports[i], ids[i]);
    write_json(&gpath, &genesis_json(&net.genesis))?;
    let mut dirs = Vec::with_capacity(n);
    for (i, k) in keys.iter().enumerate() {
        let nd = dir.join(node_dir_name(i, opts.validators));
        std::fs::create_dir_all(&nd).map_err(io_err(&nd))?;
        k.save(&nd.join("node.key"))?;
        let (role, index) =
            if i < opts.validators { (Role::Validator, i) } else { (Role::Guardian, i - opts.validators) };
        let file = NodeFile {
            role,
            index,
            genesis: PathBuf::from("..").join(GENESIS_FILE),
            p2p_listen: SocketAddr::from(([127, 0, 0, 1], opts.p2p_ports[i])),
            rpc_listen: SocketAddr::from(([127, 0, 0, 1], opts.rpc_ports[i])),
            peer_id: ids[i].clone(),
            peers: (0..n).filter(|&j| j != i).map(addr).collect(),
            validator_peers: ids[..opts.validators].to_vec(),
            guardian_peers: ids[opts.validators..].to_vec(),
            checkpoint_interval: opts.checkpoint_interval.max(1),
            block_ms: opts.block_ms,
            max_block_txs: 2_000,
        };
        write_json(&nd.join("node.json"), &file)?;
        dirs.push(nd);
    }
    // The account keys are public (derived from the seed); a workload driver re-derives
    // them with the seed written here.
    write_json(
        &dir.join("localnet.json"),
        &json!({"seed": opts.seed, "validators": opts.validators, "guardians": opts.guardians,
                "accounts": opts.accounts}),
    )?;
    Ok(dirs)
}

/// Reads a node directory's `node.json`.
pub fn read_node_file(dir: &Path) -> Result<NodeFile, NodeError> {
    let path = dir.join("node.json");
    let body = std::fs::read(&path).map_err(io_err(&path))?;
    serde_json::from_slice(&body).map_err(|e| NodeError::Config(format!("{}: {e}", path.display())))
}

/// The service's node configuration from a [`NodeFile`].
pub fn node_config(file: &NodeFile) -> NodeConfig {
    let mut cfg = NodeConfig::new(Localnet::ledger_config());
    cfg.consensus.checkpoint_interval = file.checkpoint_interval.max(1);
    cfg.max_block_txs = file.max_block_txs;
    cfg
}

/// A [`NodeService`] as a process runs it: counts connected peers, updates the
/// [`Metrics`], and holds consensus messages for `delay_ms` before they leave.
pub struct NodeHost<S: Storage> {
    /// The service.
    pub service: NodeService<S>,
    delay_ms: u64,
    held: VecDeque<(Timestamp, NetOut)>,
    ready: VecDeque<NetOut>,
    peers: BTreeSet<PeerId>,
    metrics: Arc<Metrics>,
    txs_seen: u64,
    now: Timestamp,
}

impl<S: Storage> std::fmt::Debug for NodeHost<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeHost").field("service", &self.service).finish_non_exhaustive()
    }
}

impl<S: Storage> NodeHost<S> {
    /// Wraps `service`; consensus messages wait `delay_ms` before they leave.
    pub fn new(service: NodeService<S>, delay_ms: u64, metrics: Arc<Metrics>) -> Self {
        Self {
            service,
            delay_ms,
            held: VecDeque::new(),
            ready: VecDeque::new(),
            peers: BTreeSet::new(),
            metrics,
            txs_seen: 0,
            now: Timestamp::ZERO,
        }
    }

    /// Connected peers.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    fn paced(out: &NetOut) -> bool {
        match out {
            NetOut::Publish { topic: Topic::Consensus, .. } => true,
            NetOut::Request { data, .. } => data.first() == Some(&FRAME_CONSENSUS),
            _ => false,
        }
    }

    fn collect(&mut self) {
        while let Some(o) = self.service.poll_net() {
            if self.delay_ms > 0 && Self::paced(&o) {
                self.held.push_back((self.now + self.delay_ms, o));
            } else {
                self.ready.push_back(o);
            }
        }
        while self.held.front().is_some_and(|(t, _)| *t <= self.now) {
            if let Some((_, o)) = self.held.pop_front() {
                self.ready.push_back(o);
            }
        }
    }

    fn update_metrics(&mut self) {
        let s = &self.service;
        let m = &self.metrics;
        m.settled_height.set(s.height());
        m.finalized_height.set(s.ledger().last_finalized().unwrap_or(0));
        m.mempool_size.set(s.mempool_len() as u64);
        m.peers.set(self.peers.len() as u64);
        m.epoch.set(s.machine().epoch());
        let txs = s.stats().txs_executed;
        if txs > self.txs_seen {
            m.txs_executed.inc_by(txs - self.txs_seen);
            self.txs_seen = txs;
        }
    }
}

impl<S: Storage> Service for NodeHost<S> {
    fn handle(&mut self, now: Timestamp, input: NetIn) {
        self.now = now;
        match &input {
            NetIn::Connected(p) => {
                self.peers.insert(p.clone());
            }
            NetIn::Disconnected(p) => {
                self.peers.remove(p);
            }
            _ => {}
        }
        // A timeout may be ours (held messages due); pass it on only when the service's
        // own timer is due.
        let fire = !matches!(input, NetIn::Timeout) || self.service.poll_timeout().is_some_and(|t| t <= now);
        if fire {
            self.service.handle(now, input);
        }
        self.collect();
        self.update_metrics();
    }

    fn poll_net(&mut self) -> Option<NetOut> {
        if self.ready.is_empty() {
            // Commands queued outside `handle` (a client's transaction).
            self.collect();
        }
        self.ready.pop_front()
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        let held = self.held.front().map(|(t, _)| *t);
        match (self.service.poll_timeout(), held) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// A parsed JSON-RPC call of the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// `meshcast_submitTx [hex]`.
    SubmitTx(Vec<u8>),
    /// `meshcast_status []`.
    Status,
    /// `meshcast_account [address]`.
    Account(Address),
    /// `meshcast_stateRoot [height]`.
    StateRoot(u64),
    /// `meshcast_tx [hash]`: the height that executed a transaction (since this process
    /// started), or null.
    Tx(H256),
    /// `meshcast_ticketRound []`: the ticket broker's round at the settled height and its
    /// recorded block hash (what a ticket's expiration params name), with the broker's
    /// periods.
    TicketRound,
    /// `meshcast_ticketSender [address]`: a sender's ticket broker deposit and withdraw
    /// round.
    TicketSender(Address),
    /// `eth_chainId []` (hex), `net_version []` (decimal string): the ledger's Ethereum
    /// chain id (361 / 365 / 366, Theta's eth-rpc-adaptor ids).
    EthChainId {
        /// `net_version`'s decimal form.
        decimal: bool,
    },
    /// `web3_clientVersion []`.
    ClientVersion,
    /// `eth_blockNumber []`: the settled height.
    BlockNumber,
    /// `eth_syncing []`: false (the node follows by block fetches, not a sync phase).
    Syncing,
    /// `eth_gasPrice []`: the wei per gas at which a 21,000-gas transfer covers the
    /// ledger's fee.
    GasPrice,
    /// `eth_estimateGas [call]`: 21,000 for a transfer (no contracts yet).
    EstimateGas,
    /// `eth_getBalance [address, block]`: TFUEL wei.
    Balance(Address, BlockTag),
    /// `eth_getTransactionCount [address, block]`: the next Ethereum nonce (the account's
    /// Theta sequence: nonce n is sequence n + 1).
    TransactionCount(Address, BlockTag),
    /// `eth_sendRawTransaction [hex]`: a signed EIP-155 or EIP-1559 transfer; its
    /// Ethereum hash.
    SendRaw(Vec<u8>),
    /// `eth_getTransactionReceipt [hash]`: once executed on this node (since its process
    /// started), a receipt; else null.
    Receipt(H256),
    /// `eth_getBlockByNumber [tag | hex, full]`: a stored block, or null.
    BlockByNumber(BlockTag, bool),
    /// `eth_getBlockByHash [hash, full]`: a stored block, or null.
    BlockByHash(H256, bool),
    /// `eth_getTransactionByHash [hash]`: a transaction executed on this node (since its
    /// process started), or null.
    TransactionByHash(H256),
}

/// The block an `eth_` state query reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockTag {
    /// `latest`, `pending`, `safe` (or no tag): the settled state.
    Settled,
    /// `finalized`: the last checkpoint guardians finalized.
    Finalized,
    /// A hex height (`earliest` is 0) whose state is retained.
    Height(u64),
}

/// The gas of a plain transfer, as Ethereum counts it.
pub const TRANSFER_GAS: u64 = 21_000;

fn address_param(params: &Value, i: usize) -> Result<Address, RpcError> {
    let b = hex_param(params, i, "address")?;
    let a: [u8; 20] =
        b.try_into().map_err(|_| RpcError::invalid_params("address: expected 20 bytes".to_string()))?;
    Ok(Address::from(a))
}

fn hash_param(params: &Value, i: usize) -> Result<H256, RpcError> {
    let b = hex_param(params, i, "hash")?;
    let a: [u8; 32] =
        b.try_into().map_err(|_| RpcError::invalid_params("hash: expected 32 bytes".to_string()))?;
    Ok(H256::from(a))
}

fn full_param(params: &Value, i: usize) -> Result<bool, RpcError> {
    match params.as_array().and_then(|a| a.get(i)) {
        None => Ok(false),
        Some(v) => v.as_bool().ok_or_else(|| RpcError::invalid_params("full: expected a boolean")),
    }
}

fn block_param(params: &Value, i: usize) -> Result<BlockTag, RpcError> {
    let Some(v) = params.as_array().and_then(|a| a.get(i)) else { return Ok(BlockTag::Settled) };
    let s = v.as_str().ok_or_else(|| RpcError::invalid_params("block: expected a tag or a hex height"))?;
    match s {
        "latest" | "pending" | "safe" => Ok(BlockTag::Settled),
        "finalized" => Ok(BlockTag::Finalized),
        "earliest" => Ok(BlockTag::Height(0)),
        h => {
            let digits = h.strip_prefix("0x").ok_or_else(|| {
                RpcError::invalid_params(format!("block: {h:?} is neither a tag nor a hex height"))
            })?;
            u64::from_str_radix(digits, 16)
                .map(BlockTag::Height)
                .map_err(|e| RpcError::invalid_params(format!("block: {h:?}: {e}")))
        }
    }
}

fn hex_param(params: &Value, i: usize, name: &str) -> Result<Vec<u8>, RpcError> {
    let s = param(params, i, name)?
        .as_str()
        .ok_or_else(|| RpcError::invalid_params(format!("{name}: expected a hex string")))?;
    hex::decode(s.strip_prefix("0x").unwrap_or(s))
        .map_err(|e| RpcError::invalid_params(format!("{name}: not hex: {e}")))
}

/// Parses a call; bad parameters are `-32602`, unknown methods `-32601`.
pub fn parse_call(method: &str, params: &Value) -> Result<Call, RpcError> {
    match method {
        "meshcast_submitTx" => {
            let bytes = hex_param(params, 0, "tx")?;
            if bytes.is_empty() || bytes.len() > crate::service::MAX_TX_BYTES {
                return Err(RpcError::invalid_params(format!(
                    "tx: {} bytes (1 to {} allowed)",
                    bytes.len(),
                    crate::service::MAX_TX_BYTES
                )));
            }
            Ok(Call::SubmitTx(bytes))
        }
        "meshcast_status" => Ok(Call::Status),
        "meshcast_ticketRound" => Ok(Call::TicketRound),
        "meshcast_ticketSender" => Ok(Call::TicketSender(address_param(params, 0)?)),
        "meshcast_account" => {
            let b = hex_param(params, 0, "address")?;
            let a: [u8; 20] = b
                .try_into()
                .map_err(|_| RpcError::invalid_params("address: expected 20 bytes".to_string()))?;
            Ok(Call::Account(Address::from(a)))
        }
        "meshcast_stateRoot" => {
            let h = param(params, 0, "height")?
                .as_u64()
                .ok_or_else(|| RpcError::invalid_params("height: expected a non-negative integer"))?;
            Ok(Call::StateRoot(h))
        }
        "meshcast_tx" => {
            let b = hex_param(params, 0, "hash")?;
            let a: [u8; 32] =
                b.try_into().map_err(|_| RpcError::invalid_params("hash: expected 32 bytes".to_string()))?;
            Ok(Call::Tx(H256::from(a)))
        }
        "eth_chainId" => Ok(Call::EthChainId { decimal: false }),
        "net_version" => Ok(Call::EthChainId { decimal: true }),
        "web3_clientVersion" => Ok(Call::ClientVersion),
        "eth_blockNumber" => Ok(Call::BlockNumber),
        "eth_syncing" => Ok(Call::Syncing),
        "eth_gasPrice" => Ok(Call::GasPrice),
        "eth_estimateGas" => {
            let call = param(params, 0, "call")?;
            let has_data = call
                .get("data")
                .or_else(|| call.get("input"))
                .and_then(Value::as_str)
                .is_some_and(|d| !d.is_empty() && d != "0x");
            if has_data {
                return Err(RpcError::invalid_params("call data: contracts are not supported yet"));
            }
            Ok(Call::EstimateGas)
        }
        "eth_getBalance" => Ok(Call::Balance(address_param(params, 0)?, block_param(params, 1)?)),
        "eth_getTransactionCount" => {
            Ok(Call::TransactionCount(address_param(params, 0)?, block_param(params, 1)?))
        }
        "eth_sendRawTransaction" => {
            let raw = hex_param(params, 0, "tx")?;
            if raw.is_empty() || raw.len() >= crate::service::MAX_TX_BYTES {
                return Err(RpcError::invalid_params(format!("tx: {} bytes", raw.len())));
            }
            Ok(Call::SendRaw(raw))
        }
        "eth_getTransactionReceipt" => Ok(Call::Receipt(hash_param(params, 0)?)),
        "eth_getTransactionByHash" => Ok(Call::TransactionByHash(hash_param(params, 0)?)),
        "eth_getBlockByNumber" => {
            if params.as_array().is_none_or(|a| a.is_empty()) {
                return Err(RpcError::invalid_params("block: missing"));
            }
            Ok(Call::BlockByNumber(block_param(params, 0)?, full_param(params, 1)?))
        }
        "eth_getBlockByHash" => Ok(Call::BlockByHash(hash_param(params, 0)?, full_param(params, 1)?)),
        m => Err(RpcError::method_not_found(m)),
    }
}

/// The wei per gas at which a 21,000-gas transfer covers the ledger's transfer fee
/// (rounded up).
fn gas_price(config: &ledger::LedgerConfig) -> primitives::U256 {
    let gas = primitives::U256::from(TRANSFER_GAS);
    (config.send_min_fee(2) + gas - 1) / gas
}

fn hex_u256(v: primitives::U256) -> String {
    format!("{v:#x}")
}

/// The transactions of a stored block: `(hash, decoded)` in payload order.
fn block_txs<S: Storage>(
    svc: &crate::service::NodeService<S>,
    record: &crate::storage::BlockRecord,
) -> (mlbft_core::Block, Vec<(H256, crate::tx::NodeTx)>) {
    let cfg = svc.config();
    let Ok(block) = mlbft_core::Block::decode(&record.bytes, cfg.consensus.max_payload) else {
        return (mlbft_core::Block::genesis(), Vec::new());
    };
    let txs = crate::service::decode_payload(&block.payload, cfg.max_block_txs)
        .unwrap_or_default()
        .iter()
        .filter_map(|b| crate::tx::NodeTx::decode(b, crate::service::MAX_TX_BYTES).ok())
        .filter_map(|t| t.hash(&cfg.ledger.chain_id).ok().map(|h| (h, t)))
        .collect();
    (block, txs)
}

/// A transaction as Ethereum clients read it (Theta transactions with the fields they
/// share: sender, nonce = sequence − 1).
fn tx_json(hash: H256, tx: &crate::tx::NodeTx, at: Option<(u64, H256, usize)>) -> Value {
    let mut v = match tx {
        crate::tx::NodeTx::Eth(t) => json!({
            "hash": hex0x(hash.as_bytes()),
            "from": format!("{:#x}", t.from),
            "to": t.to.map(|a| format!("{a:#x}")),
            "nonce": format!("{:#x}", t.nonce),
            "value": hex_u256(t.value),
            "gas": format!("{:#x}", t.gas),
            "gasPrice": hex_u256(t.max_fee_per_gas),
            "input": hex0x(&t.data),
            "chainId": t.chain_id.map(|c| format!("{c:#x}")),
            "type": match t.kind { ledger::eth::EthTxKind::Eip1559 => "0x2", _ => "0x0" },
        }),
        crate::tx::NodeTx::Theta(_) | crate::tx::NodeTx::Ticket(_) => {
            let (from, seq) = tx.sequence().unwrap_or_default();
            json!({
                "hash": hex0x(hash.as_bytes()),
                "from": format!("{from:#x}"),
                "nonce": format!("{:#x}", seq.saturating_sub(1)),
                "input": "0x",
                "theta": true,
            })
        }
    };
    if let (Some((height, block, index)), Some(o)) = (at, v.as_object_mut()) {
        o.insert("blockNumber".into(), json!(format!("{height:#x}")));
        o.insert("blockHash".into(), json!(hex0x(block.as_bytes())));
        o.insert("transactionIndex".into(), json!(format!("{index:#x}")));
    }
    v
}

/// A stored block as Ethereum clients read it. Blocks carry no timestamp (consensus
/// time is logical): `timestamp` is 0.
fn block_json<S: Storage>(
    svc: &crate::service::NodeService<S>,
    record: &crate::storage::BlockRecord,
    full: bool,
) -> Value {
    let (block, txs) = block_txs(svc, record);
    let transactions: Vec<Value> = txs
        .iter()
        .enumerate()
        .map(|(i, (h, t))| {
            if full {
                tx_json(*h, t, Some((record.height, record.hash, i)))
            } else {
                json!(hex0x(h.as_bytes()))
            }
        })
        .collect();
    json!({
        "number": format!("{:#x}", record.height),
        "hash": hex0x(record.hash.as_bytes()),
        "parentHash": hex0x(block.parent.as_bytes()),
        "stateRoot": hex0x(record.state_root.as_bytes()),
        "timestamp": "0x0",
        "gasUsed": format!("{:#x}", TRANSFER_GAS * txs.len() as u64),
        "transactions": transactions,
    })
}

/// The account `a` at `tag` on the node.
fn account_at<S: Storage>(
    svc: &crate::service::NodeService<S>,
    a: &Address,
    tag: BlockTag,
) -> Result<ledger::Account, RpcError> {
    let ledger = svc.ledger();
    let root = match tag {
        BlockTag::Settled => return ledger.account(a).map_err(|e| RpcError::internal(e.to_string())),
        BlockTag::Finalized => ledger.last_finalized().unwrap_or(0),
        BlockTag::Height(h) => h,
    };
    let r = ledger
        .root_at(root)
        .ok_or_else(|| RpcError::server(ERR_NOT_FOUND, format!("no state retained for height {root}")))?;
    ledger.account_at(r, a).map_err(|e| RpcError::internal(e.to_string()))
}

/// JSON-RPC application error: a refused transaction.
pub const ERR_TX_REFUSED: i64 = -32000;
/// JSON-RPC application error: the state asked for is not held.
pub const ERR_NOT_FOUND: i64 = -32001;

fn hex0x(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

/// Runs a parsed call on the node.
pub fn execute<S: Storage>(host: &mut NodeHost<S>, call: Call) -> Result<Value, RpcError> {
    let svc = &mut host.service;
    match call {
        Call::SubmitTx(bytes) => match svc.submit_tx(bytes) {
            Ok(h) => Ok(json!(hex0x(h.as_bytes()))),
            Err(e) => Err(RpcError::server(ERR_TX_REFUSED, e.to_string())),
        },
        Call::Status => Ok(json!({
            "settled_height": svc.height(),
            "finalized_height": svc.ledger().last_finalized().unwrap_or(0),
            "epoch": svc.machine().epoch(),
            "peers": host.peers.len(),
            "mempool_size": svc.mempool_len(),
            "state_root": hex0x(svc.ledger().root().as_bytes()),
            "txs_executed": svc.stats().txs_executed,
            "transfers": svc.stats().transfers,
            "service_payments": svc.stats().service_payments,
            "tickets_redeemed": svc.stats().tickets_redeemed,
            "ticket_funds": svc.stats().ticket_funds,
            "validator": svc.validator_index(),
            "guardian": svc.guardian_index(),
            "fault": svc.fault().map(|f| f.to_string()),
        })),
        Call::TicketRound => {
            let (round, hash) = svc.ledger().ticket_round().map_err(|e| RpcError::internal(e.to_string()))?;
            let t = svc.ledger().config().tickets;
            Ok(json!({
                "round": round,
                "block_hash": hash.map(|h| hex0x(h.as_bytes())),
                "settled_height": svc.height(),
                "round_blocks": t.round_blocks,
                "ticket_validity_rounds": t.ticket_validity_rounds,
                "unlock_rounds": t.unlock_rounds,
            }))
        }
        Call::TicketSender(a) => {
            let s = svc.ledger().ticket_sender(&a).map_err(|e| RpcError::internal(e.to_string()))?;
            Ok(json!({ "deposit": s.deposit.to_string(), "withdraw_round": s.withdraw_round }))
        }
        Call::Account(a) => {
            let acc = svc.ledger().account(&a).map_err(|e| RpcError::internal(e.to_string()))?;
            Ok(json!({
                "sequence": acc.sequence,
                "theta": acc.coins.theta_wei.to_string(),
                "tfuel": acc.coins.tfuel_wei.to_string(),
            }))
        }
        Call::StateRoot(h) => {
            // The retained state's root, else the root the stored block records.
            let root = svc
                .ledger()
                .root_at(h)
                .or_else(|| svc.stats().roots.get(&h).copied())
                .or_else(|| svc.with_storage(|s| s.block(h).ok().flatten().map(|b| b.state_root)));
            match root {
                Some(r) => Ok(json!(hex0x(r.as_bytes()))),
                None => {
                    Err(RpcError::server(ERR_NOT_FOUND, format!("no state root retained for height {h}")))
                }
            }
        }
        Call::Tx(hash) => Ok(json!({"height": svc.stats().tx_heights.get(&hash)})),
        Call::EthChainId { decimal } => {
            let id = svc.ledger().config().eth_chain_id;
            Ok(if decimal { json!(id.to_string()) } else { json!(format!("{id:#x}")) })
        }
        Call::ClientVersion => Ok(json!(concat!("meshcast/v", env!("CARGO_PKG_VERSION")))),
        Call::BlockNumber => Ok(json!(format!("{:#x}", svc.height()))),
        Call::Syncing => Ok(json!(false)),
        Call::GasPrice => Ok(json!(hex_u256(gas_price(svc.ledger().config())))),
        Call::EstimateGas => Ok(json!(format!("{TRANSFER_GAS:#x}"))),
        Call::Balance(a, tag) => Ok(json!(hex_u256(account_at(svc, &a, tag)?.coins.tfuel_wei))),
        Call::TransactionCount(a, tag) => Ok(json!(format!("{:#x}", account_at(svc, &a, tag)?.sequence))),
        Call::SendRaw(raw) => match svc.submit_tx(crate::tx::NodeTx::eth_body(&raw)) {
            Ok(h) => Ok(json!(hex0x(h.as_bytes()))),
            Err(e) => Err(RpcError::server(ERR_TX_REFUSED, e.to_string())),
        },
        Call::Receipt(hash) => {
            let Some(height) = svc.stats().tx_heights.get(&hash).copied() else { return Ok(Value::Null) };
            let block = svc.with_storage(|s| s.block(height).ok().flatten().map(|b| b.hash));
            Ok(json!({
                "transactionHash": hex0x(hash.as_bytes()),
                "blockNumber": format!("{height:#x}"),
                "blockHash": block.map(|b| hex0x(b.as_bytes())),
                "status": "0x1",
                "gasUsed": format!("{TRANSFER_GAS:#x}"),
                "cumulativeGasUsed": format!("{TRANSFER_GAS:#x}"),
                "effectiveGasPrice": hex_u256(gas_price(svc.ledger().config())),
                "logs": [],
            }))
        }
        Call::BlockByNumber(tag, full) => {
            let height = match tag {
                BlockTag::Settled => svc.height(),
                BlockTag::Finalized => svc.ledger().last_finalized().unwrap_or(0),
                BlockTag::Height(h) => h,
            };
            let record =
                svc.with_storage(|s| s.block(height)).map_err(|e| RpcError::internal(e.to_string()))?;
            Ok(record.map_or(Value::Null, |r| block_json(svc, &r, full)))
        }
        Call::BlockByHash(hash, full) => {
            let record = svc
                .with_storage(|s| s.height_of(&hash).and_then(|h| h.map_or(Ok(None), |h| s.block(h))))
                .map_err(|e| RpcError::internal(e.to_string()))?;
            Ok(record.map_or(Value::Null, |r| block_json(svc, &r, full)))
        }
        Call::TransactionByHash(hash) => {
            let Some(height) = svc.stats().tx_heights.get(&hash).copied() else { return Ok(Value::Null) };
            let Some(record) = svc.with_storage(|s| s.block(height).ok().flatten()) else {
                return Ok(Value::Null);
            };
            let (_, txs) = block_txs(svc, &record);
            Ok(txs
                .iter()
                .enumerate()
                .find(|(_, (h, _))| *h == hash)
                .map_or(Value::Null, |(i, (h, t))| tx_json(*h, t, Some((height, record.hash, i)))))
        }
    }
}

/// Answers calls of the node by handing them to its event loop and waiting for the
/// answer (the handler runs on a blocking thread, see [`crate::rpc`]).
pub struct NodeRpc<S: Storage + 'static> {
    inject: mpsc::Sender<Injected<NodeHost<S>>>,
}

impl<S: Storage + 'static> NodeRpc<S> {
    /// Calls reach the event loop through `inject`.
    pub fn new(inject: mpsc::Sender<Injected<NodeHost<S>>>) -> Self {
        Self { inject }
    }
}

/// Parses and runs one call through `inject` (blocking).
pub fn rpc_call<S: Storage + 'static>(
    inject: &mpsc::Sender<Injected<NodeHost<S>>>,
    method: &str,
    params: &Value,
) -> Result<Value, RpcError> {
    let call = parse_call(method, params)?;
    let (tx, rx) = oneshot::channel();
    let f: Injected<NodeHost<S>> = Box::new(move |host, _now| {
        let _ = tx.send(execute(host, call));
    });
    inject.blocking_send(f).map_err(|_| RpcError::internal("the node is stopping"))?;
    rx.blocking_recv().map_err(|_| RpcError::internal("the node is stopping"))?
}

impl<S: Storage + 'static> Handler for NodeRpc<S> {
    fn call(&self, method: &str, params: &Value) -> Result<Value, RpcError> {
        rpc_call(&self.inject, method, params)
    }
}

/// Runs the node of directory `dir` until SIGTERM or ctrl-c (`meshcast run`).
pub fn run(dir: &Path) -> Result<(), NodeError> {
    let file = read_node_file(dir)?;
    let gpath = dir.join(&file.genesis);
    let gtext = std::fs::read_to_string(&gpath).map_err(io_err(&gpath))?;
    let genesis = Genesis::from_json(&gtext)?;
    let keys = NodeKeys::load(&dir.join("node.key"))?;
    let keypair = p2p_keypair(&keys)?;
    let peers = Peers {
        validators: file.validator_peers.iter().map(|p| PeerId(p.clone())).collect(),
        guardians: file.guardian_peers.iter().map(|p| PeerId(p.clone())).collect(),
    };
    let store = RedbStorage::open(dir.join("store.redb"))?;
    let restarted = store.block_range()?.is_some();
    let service = NodeService::open(node_config(&file), &genesis, &keys, peers, store, Timestamp::ZERO)?;
    tracing::info!(
        role = ?file.role,
        index = file.index,
        height = service.height(),
        restarted,
        p2p = %file.p2p_listen,
        rpc = %file.rpc_listen,
        "node starting"
    );
    let metrics = Arc::new(Metrics::new());
    let mut host = NodeHost::new(service, file.block_ms / 2, metrics.clone());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(io_err(dir))?;
    rt.block_on(async move {
        let mut pcfg = P2pConfig::loopback(&genesis.chain_id);
        pcfg.listen = vec![
            format!("/ip4/{}/tcp/{}", file.p2p_listen.ip(), file.p2p_listen.port())
                .parse()
                .map_err(|e| NodeError::Config(format!("p2p_listen: {e}")))?,
        ];
        pcfg.peers = file
            .peers
            .iter()
            .map(|p| p.parse().map_err(|e| NodeError::Config(format!("peer {p}: {e}"))))
            .collect::<Result<_, _>>()?;
        let mut transport = P2pTransport::start_with(pcfg, keypair).await?;
        let (inject_tx, mut inject_rx) = mpsc::channel(1_024);
        let server = Server::start(file.rpc_listen, NodeRpc::new(inject_tx), metrics)
            .await
            .map_err(|source| NodeError::Io { path: PathBuf::from(file.rpc_listen.to_string()), source })?;
        tracing::info!(peer_id = %transport.local_peer(), rpc = %server.addr, "node running");
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(io_err(dir))?;
        let epoch = Instant::now();
        tokio::select! {
            () = p2p::run(&mut host, &mut transport, epoch, &mut inject_rx) => {
                tracing::warn!("network stopped");
            }
            _ = tokio::signal::ctrl_c() => tracing::info!("ctrl-c: stopping"),
            _ = term.recv() => tracing::info!("SIGTERM: stopping"),
        }
        if let Some(f) = host.service.fault() {
            tracing::error!(error = %f, "node halted on a fault");
        }
        tracing::info!(height = host.service.height(), "node stopped");
        drop(server);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;
    use primitives::U256;

    fn host() -> (Localnet, NodeHost<MemoryStorage>) {
        let net = Localnet::new(4, 0, 2, 5).unwrap();
        let svc = NodeService::new(
            NodeConfig::new(Localnet::ledger_config()),
            &net.genesis,
            &net.validators[0],
            Peers::default(),
            MemoryStorage::new(),
            Timestamp::ZERO,
        )
        .unwrap();
        (net, NodeHost::new(svc, 0, Arc::new(Metrics::new())))
    }

    #[test]
    fn bad_params_are_typed_errors() {
        let code = |m: &str, p: Value| parse_call(m, &p).unwrap_err().code;
        assert_eq!(code("meshcast_submitTx", json!([])), -32602);
        assert_eq!(code("meshcast_submitTx", json!([5])), -32602);
        assert_eq!(code("meshcast_submitTx", json!(["0xzz"])), -32602);
        assert_eq!(code("meshcast_submitTx", json!(["0x"])), -32602);
        assert_eq!(code("meshcast_account", json!(["0x1234"])), -32602);
        assert_eq!(code("meshcast_account", json!([])), -32602);
        assert_eq!(code("meshcast_stateRoot", json!(["ten"])), -32602);
        assert_eq!(code("meshcast_stateRoot", json!([-1])), -32602);
        assert_eq!(code("meshcast_tx", json!(["0x00"])), -32602);
        assert_eq!(code("meshcast_nope", json!([])), -32601);
        assert_eq!(code("meshcast_ticketSender", json!([])), -32602);
        assert_eq!(code("meshcast_ticketSender", json!(["0x12"])), -32602);
        assert_eq!(code("eth_sendTransaction", json!([])), -32601, "no node-held keys");
        assert_eq!(code("eth_sendRawTransaction", json!([])), -32602);
        assert_eq!(code("eth_sendRawTransaction", json!(["0x"])), -32602);
        assert_eq!(code("eth_getTransactionReceipt", json!(["0x00"])), -32602);
        assert_eq!(code("eth_getBlockByNumber", json!([])), -32602);
        assert_eq!(code("eth_getBlockByNumber", json!(["latest", "yes"])), -32602);
        assert_eq!(code("eth_getBlockByHash", json!(["0x12", false])), -32602);
        assert_eq!(
            parse_call("eth_getBlockByNumber", &json!(["0x2", true])).unwrap(),
            Call::BlockByNumber(BlockTag::Height(2), true)
        );
        assert_eq!(code("eth_getBalance", json!(["0x12"])), -32602);
        assert_eq!(code("eth_getBalance", json!([format!("0x{}", "ab".repeat(20)), "newest"])), -32602);
        assert_eq!(code("eth_getBalance", json!([format!("0x{}", "ab".repeat(20)), "0xzz"])), -32602);
        assert_eq!(code("eth_estimateGas", json!([{"to": "0x00", "data": "0xa9059cbb"}])), -32602);
        assert_eq!(
            parse_call("eth_getTransactionCount", &json!([format!("0x{}", "ab".repeat(20)), "finalized"]))
                .unwrap(),
            Call::TransactionCount(Address::repeat_byte(0xab), BlockTag::Finalized)
        );
        assert_eq!(
            parse_call("eth_getBalance", &json!([format!("0x{}", "ab".repeat(20)), "0x1f"])).unwrap(),
            Call::Balance(Address::repeat_byte(0xab), BlockTag::Height(31))
        );
        assert_eq!(parse_call("meshcast_stateRoot", &json!([3])).unwrap(), Call::StateRoot(3));
        assert_eq!(parse_call("meshcast_status", &json!([])).unwrap(), Call::Status);
    }

    #[test]
    fn ethereum_reads_answer_as_wallets_expect() {
        let (net, mut h) = host();
        let id = h.service.ledger().config().eth_chain_id;
        assert_eq!(execute(&mut h, Call::EthChainId { decimal: false }).unwrap(), json!(format!("{id:#x}")));
        assert_eq!(execute(&mut h, Call::EthChainId { decimal: true }).unwrap(), json!(id.to_string()));
        assert_eq!(execute(&mut h, Call::BlockNumber).unwrap(), json!("0x0"));
        assert_eq!(execute(&mut h, Call::Syncing).unwrap(), json!(false));
        assert_eq!(execute(&mut h, Call::EstimateGas).unwrap(), json!("0x5208"));
        // A 21,000-gas transfer at the quoted price covers the ledger's transfer fee.
        let price = execute(&mut h, Call::GasPrice).unwrap();
        let price =
            primitives::U256::from_str_radix(price.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
        let fee = h.service.ledger().config().send_min_fee(2);
        assert!(price * primitives::U256::from(TRANSFER_GAS) >= fee);
        assert!((price - 1) * primitives::U256::from(TRANSFER_GAS) < fee);
        let acc = h.service.ledger().account(&net.address(0)).unwrap();
        for tag in [BlockTag::Settled, BlockTag::Finalized, BlockTag::Height(0)] {
            let b = execute(&mut h, Call::Balance(net.address(0), tag)).unwrap();
            assert_eq!(b, json!(format!("{:#x}", acc.coins.tfuel_wei)), "{tag:?}");
            let n = execute(&mut h, Call::TransactionCount(net.address(0), tag)).unwrap();
            assert_eq!(n, json!("0x0"), "a fresh account's next nonce is 0");
        }
        let e = execute(&mut h, Call::Balance(net.address(0), BlockTag::Height(99))).unwrap_err();
        assert_eq!(e.code, ERR_NOT_FOUND);
        // Undecodable raw bytes are refused with the reason; an unknown hash has no receipt.
        let e = execute(&mut h, Call::SendRaw(vec![0x02, 0x01])).unwrap_err();
        assert_eq!(e.code, ERR_TX_REFUSED);
        assert_eq!(execute(&mut h, Call::Receipt(H256::repeat_byte(1))).unwrap(), Value::Null);
        assert_eq!(execute(&mut h, Call::TransactionByHash(H256::repeat_byte(1))).unwrap(), Value::Null);
        // The genesis block, by number and by hash; an unknown one is null.
        let g = execute(&mut h, Call::BlockByNumber(BlockTag::Height(0), true)).unwrap();
        assert_eq!(g["number"], json!("0x0"));
        assert_eq!(g["transactions"], json!([]));
        assert_eq!(g["stateRoot"], json!(hex0x(h.service.ledger().root().as_bytes())));
        let hash = mlbft_core::Block::genesis().hash();
        assert_eq!(g["hash"], json!(hex0x(hash.as_bytes())));
        assert_eq!(execute(&mut h, Call::BlockByHash(hash, false)).unwrap(), g);
        assert_eq!(
            execute(&mut h, Call::BlockByNumber(BlockTag::Settled, false)).unwrap()["number"],
            json!("0x0")
        );
        assert_eq!(execute(&mut h, Call::BlockByNumber(BlockTag::Height(99), false)).unwrap(), Value::Null);
        assert_eq!(execute(&mut h, Call::BlockByHash(H256::repeat_byte(7), false)).unwrap(), Value::Null);
    }

    #[test]
    fn calls_answer_from_the_node() {
        let (net, mut h) = host();
        let s = execute(&mut h, Call::Status).unwrap();
        assert_eq!(s["settled_height"], json!(0));
        assert_eq!(s["validator"], json!(0));
        let a = execute(&mut h, Call::Account(net.address(0))).unwrap();
        assert_eq!(a["sequence"], json!(0));
        assert_eq!(
            a["tfuel"],
            json!((primitives::TOKEN * U256::from(crate::localnet::ACCOUNT_TOKENS)).to_string())
        );
        assert!(execute(&mut h, Call::StateRoot(0)).unwrap().as_str().unwrap().starts_with("0x"));
        assert_eq!(execute(&mut h, Call::StateRoot(99)).unwrap_err().code, ERR_NOT_FOUND);
        let tx = net.transfer(0, 1, net.address(1), U256::from(5u64));
        let hash = execute(&mut h, Call::SubmitTx(tx.clone())).unwrap();
        assert_eq!(hash.as_str().unwrap().len(), 66);
        assert_eq!(execute(&mut h, Call::Status).unwrap()["mempool_size"], json!(1));
        // A wrong sequence and garbage bytes are refused with the application code.
        let stale = net.transfer(0, 0, net.address(1), U256::from(5u64));
        assert_eq!(execute(&mut h, Call::SubmitTx(stale)).unwrap_err().code, ERR_TX_REFUSED);
        assert_eq!(execute(&mut h, Call::SubmitTx(vec![1, 2, 3])).unwrap_err().code, ERR_TX_REFUSED);
        // The submission left a publish behind for the network.
        assert!(matches!(h.poll_net(), Some(NetOut::Publish { topic: Topic::Transactions, .. })));
    }

    #[test]
    fn init_writes_node_directories() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = InitOptions {
            validators: 1,
            guardians: 1,
            accounts: 3,
            seed: 9,
            checkpoint_interval: 5,
            block_ms: 100,
            p2p_ports: vec![40001, 40002],
            rpc_ports: vec![41001, 41002],
        };
        assert!(init(dir.path(), &opts).is_err(), "too few validators");
        opts.validators = 4;
        assert!(init(dir.path(), &opts).is_err(), "a port per node");
        opts.p2p_ports = (40001..40006).collect();
        opts.rpc_ports = (41001..41006).collect();
        let dirs = init(dir.path(), &opts).unwrap();
        assert_eq!(dirs.len(), 5);
        let g = read_node_file(&dirs[4]).unwrap();
        assert_eq!(g.role, Role::Guardian);
        assert_eq!(g.peers.len(), 4);
        assert_eq!(g.rpc_listen.port(), 41005);
        let keys = NodeKeys::load(&dirs[0].join("node.key")).unwrap();
        assert_eq!(p2p_keypair(&keys).unwrap().public().to_peer_id().to_base58(), g.validator_peers[0]);
        let text = std::fs::read_to_string(dir.path().join(GENESIS_FILE)).unwrap();
        assert_eq!(Genesis::from_json(&text).unwrap(), Localnet::new(4, 1, 3, 9).unwrap().genesis);
        assert!(init(dir.path(), &opts).is_err(), "init never overwrites");
    }
}
