//! The small account store the pool rules run over.
//!
//! The ledger implements [`PoolStore`] on its state trie; tests and simulations use
//! [`MemoryStore`]. The rules read everything they need first and write only once every
//! check has passed, so a failed transaction leaves the store untouched.

use std::collections::BTreeMap;

use primitives::{Address, U256};

use crate::record::ReservedFund;

/// Balances, reserve records and the per-source reserve sequence.
pub trait PoolStore {
    /// Spendable balance of `who` (zero for an unknown account).
    fn balance(&self, who: &Address) -> U256;
    /// Sets the spendable balance of `who`.
    fn set_balance(&mut self, who: &Address, amount: U256);
    /// The reserve `(source, reserve_seq)`, if it exists.
    fn reserve(&self, source: &Address, reserve_seq: u64) -> Option<ReservedFund>;
    /// Inserts or replaces a reserve record (keyed by its `source` and `reserve_seq`).
    fn put_reserve(&mut self, fund: ReservedFund);
    /// Deletes a reserve record.
    fn remove_reserve(&mut self, source: &Address, reserve_seq: u64);
    /// Highest reserve sequence `source` ever used (0 if none).
    fn last_reserve_seq(&self, source: &Address) -> u64;
    /// Records the highest reserve sequence of `source`.
    fn set_last_reserve_seq(&mut self, source: &Address, reserve_seq: u64);
}

/// An in-memory [`PoolStore`] for tests, examples and simulations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStore {
    /// Balances by account.
    pub balances: BTreeMap<Address, U256>,
    /// Reserves by `(source, reserve_seq)`.
    pub reserves: BTreeMap<(Address, u64), ReservedFund>,
    /// Highest reserve sequence by source.
    pub last_seq: BTreeMap<Address, u64>,
}

impl MemoryStore {
    /// A store with the given opening balances.
    pub fn with_balances(balances: impl IntoIterator<Item = (Address, U256)>) -> Self {
        MemoryStore { balances: balances.into_iter().collect(), ..Self::default() }
    }

    /// Sum of all balances plus all funds locked in reserves (saturating; for
    /// conservation checks).
    pub fn total_supply(&self) -> U256 {
        let balances = self.balances.values().fold(U256::zero(), |a, b| a.saturating_add(*b));
        self.reserves.values().fold(balances, |a, r| a.saturating_add(r.locked()))
    }
}

impl PoolStore for MemoryStore {
    fn balance(&self, who: &Address) -> U256 {
        self.balances.get(who).copied().unwrap_or_default()
    }
    fn set_balance(&mut self, who: &Address, amount: U256) {
        self.balances.insert(*who, amount);
    }
    fn reserve(&self, source: &Address, reserve_seq: u64) -> Option<ReservedFund> {
        self.reserves.get(&(*source, reserve_seq)).cloned()
    }
    fn put_reserve(&mut self, fund: ReservedFund) {
        self.reserves.insert((fund.source, fund.reserve_seq), fund);
    }
    fn remove_reserve(&mut self, source: &Address, reserve_seq: u64) {
        self.reserves.remove(&(*source, reserve_seq));
    }
    fn last_reserve_seq(&self, source: &Address) -> u64 {
        self.last_seq.get(source).copied().unwrap_or(0)
    }
    fn set_last_reserve_seq(&mut self, source: &Address, reserve_seq: u64) {
        self.last_seq.insert(*source, reserve_seq);
    }
}
