//! A whole local network of [`NodeService`]s on `netsim`: validators and guardians of a
//! [`Localnet`], links of 30–70 ms, virtual time, a workload of signed transfers, and the
//! end-of-run checks (every node's state root equal at every height both executed,
//! balances equal). Used by `examples/simnet.rs` and `tests/simnet.rs`.
//!
//! ```no_run
//! use meshcast_node::simnet::{Simnet, SimnetConfig};
//! use meshcast_node::storage::MemoryStorage;
//!
//! let mut net = Simnet::new(SimnetConfig::default(), |_| Ok(MemoryStorage::new()))?;
//! net.run_for(5_000)?;
//! let report = net.report();
//! assert!(report.state_roots_agree);
//! # Ok::<(), meshcast_node::simnet::SimnetError>(())
//! ```

use std::collections::BTreeMap;

use netsim::{Latency, LinkConfig, Sim, SimConfig};
use primitives::{H256, Timestamp, U256};

use crate::localnet::Localnet;
use crate::service::{NodeConfig, NodeService, Peers, ServiceError};
use crate::storage::{Storage, StorageError};
use crate::transport::Limits;
use crate::transport::sim::{SimHost, sim_peer};

/// Parameters of a simulated network.
#[derive(Clone, Debug)]
pub struct SimnetConfig {
    /// Validators.
    pub validators: usize,
    /// Guardians.
    pub guardians: usize,
    /// Funded accounts of the workload.
    pub accounts: usize,
    /// Guardians finalize every `checkpoint_interval`-th block.
    pub checkpoint_interval: u64,
    /// Master seed (keys, links, workload).
    pub seed: u64,
    /// Transfers submitted per simulated second (spread over the validators).
    pub rate: u64,
    /// Most transactions per block.
    pub max_block_txs: usize,
    /// Link latency range, ms.
    pub latency_ms: (u64, u64),
    /// Also settle one micropayment on chain: a ReserveFund by an extra payer account,
    /// then a ServicePayment of it to an extra payee account.
    pub micropayment: bool,
}

impl Default for SimnetConfig {
    fn default() -> Self {
        SimnetConfig {
            validators: 4,
            guardians: 16,
            accounts: 100,
            checkpoint_interval: 10,
            seed: 1,
            rate: 100,
            max_block_txs: 1_000,
            latency_ms: (30, 70),
            micropayment: true,
        }
    }
}

/// Why a simulated network failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimnetError {
    /// A node could not be built.
    #[error("node: {0}")]
    Service(#[from] ServiceError),
    /// A storage could not be opened.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The genesis could not be built.
    #[error("genesis: {0}")]
    Genesis(#[from] ledger::ExecError),
    /// The simulator failed.
    #[error("simulator: {0}")]
    Sim(#[from] netsim::SimError),
}

/// What a run measured (the example's JSON line).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Lowest executed height over all nodes.
    pub blocks_settled: u64,
    /// Lowest finalized height over all nodes.
    pub blocks_finalized: u64,
    /// Transactions executed per simulated second (node 0), from the first submission to
    /// the last block that executed one.
    pub tps: f64,
    /// Median time from a transfer's submission to its block's execution (node 0).
    pub settle_ms_p50: u64,
    /// Median time from submission to finality (node 0).
    pub finalize_ms_p50: u64,
    /// Transfers and service payments executed (node 0).
    pub payments_settled: u64,
    /// Every node's state root equal at every height executed by both.
    pub state_roots_agree: bool,
    /// Every account's balance equal on every node.
    pub balances_agree: bool,
    /// Transfers submitted.
    pub submitted: u64,
    /// Nodes halted by an error.
    pub faults: usize,
    /// The micropayment (reserve, then service payment) executed on every node.
    pub micropayment_settled: bool,
    /// Simulated milliseconds.
    pub sim_ms: u64,
}

impl Report {
    /// One JSON object.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "blocks_settled": self.blocks_settled,
            "blocks_finalized": self.blocks_finalized,
            "tps": (self.tps * 10.0).round() / 10.0,
            "settle_ms_p50": self.settle_ms_p50,
            "finalize_ms_p50": self.finalize_ms_p50,
            "payments_settled": self.payments_settled,
            "state_roots_agree": self.state_roots_agree,
            "balances_agree": self.balances_agree,
            "submitted": self.submitted,
            "faults": self.faults,
            "micropayment_settled": self.micropayment_settled,
        })
        .to_string()
    }
}

type Host<S> = SimHost<NodeService<S>>;

/// A running simulated network. See the module docs.
pub struct Simnet<S: Storage> {
    cfg: SimnetConfig,
    net: Localnet,
    sim: Sim<Host<S>>,
    /// Next sequence of each workload account.
    seqs: Vec<u64>,
    rng: u64,
    /// Submission time of each transfer.
    submitted: BTreeMap<H256, Timestamp>,
    next_from: usize,
    carry: u64,
    /// The micropayment's progress: reserve hash, then payment hash.
    reserve: Option<H256>,
    payment: Option<H256>,
    node_cfg: NodeConfig,
    peers: Peers,
}

impl<S: Storage> std::fmt::Debug for Simnet<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simnet").field("cfg", &self.cfg).field("now", &self.sim.now()).finish_non_exhaustive()
    }
}

/// Workload tick (ms of simulated time between submissions).
const TICK_MS: u64 = 100;

impl<S: Storage> Simnet<S> {
    /// Builds the network; node `i` gets the storage `storage(i)`. Nodes `0..validators`
    /// are the validators (in set order), then the guardians.
    pub fn new(
        cfg: SimnetConfig,
        mut storage: impl FnMut(usize) -> Result<S, StorageError>,
    ) -> Result<Self, SimnetError> {
        let extra = if cfg.micropayment { 2 } else { 0 };
        let net = Localnet::new(cfg.validators, cfg.guardians, cfg.accounts + extra, cfg.seed)?;
        let n = cfg.validators + cfg.guardians;
        let peers = Peers {
            validators: (0..cfg.validators).map(sim_peer).collect(),
            guardians: (cfg.validators..n).map(sim_peer).collect(),
        };
        let mut node_cfg = NodeConfig::new(Localnet::ledger_config());
        node_cfg.consensus.checkpoint_interval = cfg.checkpoint_interval.max(1);
        node_cfg.max_block_txs = cfg.max_block_txs;
        let link = LinkConfig {
            latency: Latency::Uniform { min_ms: cfg.latency_ms.0, max_ms: cfg.latency_ms.1 },
            ..LinkConfig::default()
        };
        let mut sim = Sim::new(SimConfig { seed: cfg.seed, default_link: link, max_steps: u64::MAX });
        for i in 0..n {
            let keys =
                if i < cfg.validators { &net.validators[i] } else { &net.guardians[i - cfg.validators] };
            let service = NodeService::new(
                node_cfg.clone(),
                &net.genesis,
                keys,
                peers.clone(),
                storage(i)?,
                Timestamp::ZERO,
            )?;
            sim.add_node(SimHost::new(i, n, Limits::default(), service));
        }
        let seqs = vec![1; cfg.accounts];
        let rng = cfg.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        Ok(Simnet {
            cfg,
            net,
            sim,
            seqs,
            rng,
            submitted: BTreeMap::new(),
            next_from: 0,
            carry: 0,
            reserve: None,
            payment: None,
            node_cfg,
            peers,
        })
    }

    fn next_rand(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// The local network (keys, genesis).
    pub fn localnet(&self) -> &Localnet {
        &self.net
    }

    /// The simulator.
    pub fn sim(&self) -> &Sim<Host<S>> {
        &self.sim
    }

    /// The simulator, mutably (to inject inputs).
    pub fn sim_mut(&mut self) -> &mut Sim<Host<S>> {
        &mut self.sim
    }

    /// Node `i`'s service.
    pub fn node(&self, i: usize) -> &NodeService<S> {
        self.sim.node(i).service()
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.sim.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.sim.is_empty()
    }

    /// Submits one transfer of `tfuel_wei` from account `from` to account `to` at the
    /// validator `from % validators`; returns its hash when the mempool took it.
    pub fn submit_transfer(&mut self, from: usize, to: usize, tfuel_wei: U256) -> Option<H256> {
        let bytes = self.net.transfer(from, self.seqs[from], self.net.address(to), tfuel_wei);
        let v = from % self.cfg.validators.max(1);
        let hash = self.sim.node_mut(v).service_mut().submit_tx(bytes).ok()?;
        self.seqs[from] += 1;
        self.submitted.insert(hash, self.sim.now());
        Some(hash)
    }

    /// Runs `ms` simulated milliseconds with the workload on.
    pub fn run_for(&mut self, ms: u64) -> Result<(), SimnetError> {
        let end = self.sim.now() + ms;
        while self.sim.now() < end {
            if self.cfg.accounts >= 2 {
                self.carry += self.cfg.rate * TICK_MS;
                let batch = self.carry / 1000;
                self.carry %= 1000;
                for _ in 0..batch {
                    let from = self.next_from;
                    self.next_from = (self.next_from + 1) % self.cfg.accounts;
                    let mut to = (self.next_rand() % self.cfg.accounts as u64) as usize;
                    if to == from {
                        to = (to + 1) % self.cfg.accounts;
                    }
                    let amount = U256::from(1_000 + self.next_rand() % 1_000_000);
                    self.submit_transfer(from, to, amount);
                }
            }
            self.micropayment_step();
            let t = (self.sim.now() + TICK_MS).min(end);
            self.sim.run_until(t)?;
        }
        Ok(())
    }

    /// The micropayment workload: reserve first; pay once the reserve executed on the
    /// validator it goes to.
    fn micropayment_step(&mut self) {
        const RESOURCE: &str = "stream/simnet";
        if !self.cfg.micropayment || self.cfg.validators == 0 {
            return;
        }
        let (payer, payee) = (self.cfg.accounts, self.cfg.accounts + 1);
        let now = self.sim.now();
        match (self.reserve, self.payment) {
            (None, _) => {
                let deposit = primitives::TOKEN * U256::from(10u64);
                let bytes = self.net.reserve_fund(payer, 1, deposit, deposit * 2, 300, RESOURCE);
                if let Ok(h) = self.sim.node_mut(0).service_mut().submit_tx(bytes) {
                    self.reserve = Some(h);
                    self.submitted.insert(h, now);
                }
            }
            (Some(r), None) if self.node(0).stats().tx_heights.contains_key(&r) => {
                let amount = primitives::TOKEN * U256::from(3u64);
                let bytes = self.net.service_payment(payer, 1, payee, 1, amount, 1, RESOURCE);
                if let Ok(h) = self.sim.node_mut(0).service_mut().submit_tx(bytes) {
                    self.payment = Some(h);
                    self.submitted.insert(h, now);
                }
            }
            _ => {}
        }
    }

    /// Whether the micropayment's ServicePayment executed on every node.
    pub fn micropayment_settled(&self) -> bool {
        self.payment
            .is_some_and(|p| (0..self.len()).all(|i| self.node(i).stats().tx_heights.contains_key(&p)))
    }

    /// Crashes node `i` now and restarts it `down_ms` later from a copy of its storage
    /// as it was at the crash ([`NodeService::open`]).
    pub fn crash_and_restart(
        &mut self,
        i: usize,
        down_ms: u64,
        copy: impl FnOnce(&S) -> Result<S, StorageError>,
    ) -> Result<(), SimnetError> {
        let now = self.sim.now();
        self.sim.schedule_crash(i, now);
        self.sim.run_until(now)?;
        let storage = self.node(i).with_storage(copy)?;
        let back = now + down_ms;
        let keys = if i < self.cfg.validators {
            &self.net.validators[i]
        } else {
            &self.net.guardians[i - self.cfg.validators]
        };
        let service = NodeService::open(
            self.node_cfg.clone(),
            &self.net.genesis,
            keys,
            self.peers.clone(),
            storage,
            back,
        )?;
        let n = self.sim.len();
        self.sim.schedule_restart(i, back, SimHost::new(i, n, Limits::default(), service));
        Ok(())
    }

    /// Runs `ms` simulated milliseconds without new transactions (to let the network
    /// settle what waits).
    pub fn idle_for(&mut self, ms: u64) -> Result<(), SimnetError> {
        let end = self.sim.now() + ms;
        self.sim.run_until(end)?;
        Ok(())
    }

    /// Runs (idle) until `pred` holds or `max_ms` pass; returns whether it held.
    pub fn idle_until(
        &mut self,
        max_ms: u64,
        mut pred: impl FnMut(&Self) -> bool,
    ) -> Result<bool, SimnetError> {
        let end = self.sim.now() + max_ms;
        while self.sim.now() < end {
            if pred(self) {
                return Ok(true);
            }
            let t = (self.sim.now() + TICK_MS).min(end);
            self.sim.run_until(t)?;
        }
        Ok(pred(self))
    }

    /// Whether every node's state root is equal at every height both executed.
    pub fn state_roots_agree(&self) -> bool {
        let first = &self.node(0).stats().roots;
        (1..self.len()).all(|i| {
            let other = &self.node(i).stats().roots;
            other.iter().all(|(h, r)| first.get(h).is_none_or(|f| f == r))
        })
    }

    /// Whether every workload account's balance and sequence is equal on every node, in
    /// the state of the highest height every node executed.
    pub fn balances_agree(&self) -> bool {
        let Some(h) = (0..self.len()).map(|i| self.node(i).height()).min() else { return true };
        let at = |i: usize, a: usize| {
            let node = self.node(i);
            let root = node.ledger().root_at(h)?;
            node.ledger().account_at(root, &self.net.address(a)).ok()
        };
        (0..self.net.accounts.len()).all(|a| {
            let first = at(0, a);
            first.is_some() && (1..self.len()).all(|i| at(i, a) == first)
        })
    }

    /// The run's figures.
    pub fn report(&self) -> Report {
        let n0 = self.node(0).stats();
        let sim_ms = self.sim.now().as_millis();
        let mut settle = Vec::new();
        let mut fin = Vec::new();
        for (hash, at) in &self.submitted {
            if let Some(h) = n0.tx_heights.get(hash) {
                if let Some(t) = n0.settled_at.get(h) {
                    settle.push(t.millis_since(*at));
                }
                if let Some(t) = n0.finalized_at.get(h) {
                    fin.push(t.millis_since(*at));
                }
            }
        }
        // Throughput over the loaded span: first submission to the last block that
        // executed a transaction.
        let first = self.submitted.values().min().copied();
        let last = n0.tx_heights.values().max().and_then(|h| n0.settled_at.get(h)).copied();
        let span_ms = match (first, last) {
            (Some(f), Some(l)) => l.millis_since(f),
            _ => 0,
        };
        let p50 = |v: &mut Vec<u64>| {
            v.sort_unstable();
            v.get(v.len() / 2).copied().unwrap_or(0)
        };
        Report {
            blocks_settled: (0..self.len()).map(|i| self.node(i).height()).min().unwrap_or(0),
            blocks_finalized: (0..self.len())
                .map(|i| self.node(i).ledger().last_finalized().unwrap_or(0))
                .min()
                .unwrap_or(0),
            tps: if span_ms == 0 { 0.0 } else { n0.txs_executed as f64 * 1000.0 / span_ms as f64 },
            settle_ms_p50: p50(&mut settle),
            finalize_ms_p50: p50(&mut fin),
            payments_settled: n0.transfers + n0.service_payments,
            state_roots_agree: self.state_roots_agree(),
            balances_agree: self.balances_agree(),
            submitted: self.submitted.len() as u64,
            faults: (0..self.len()).filter(|&i| self.node(i).fault().is_some()).count(),
            micropayment_settled: self.micropayment_settled(),
            sim_ms,
        }
    }
}
