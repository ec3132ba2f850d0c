//! Pool parameters (whitepaper v2.0 micropayment pool; Theta's `ReservedFundFreezePeriodDuration`).

use primitives::U256;

/// Where slashed funds go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlashDestination {
    /// Destroyed: total supply shrinks by the slashed amount.
    Burn,
    /// Paid to whoever proved the overspend (the payee whose settlement revealed it, or
    /// the submitter of overspend evidence).
    ///
    /// Beware: a payer colluding with a payee can report itself and recover the penalty,
    /// so only [`SlashDestination::Burn`] keeps the net return of cheating negative
    /// against collusion (see `docs/micropool.md`).
    Reporter,
}

/// The rules' parameters. [`PoolConfig::default`] is Theta's main-net setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Chain id mixed into every signed digest, so signatures do not replay across chains.
    pub chain_id: u64,
    /// Shortest reserve duration in blocks (Theta: 300).
    pub min_duration: u64,
    /// Longest reserve duration in blocks (Theta: 43 200).
    pub max_duration: u64,
    /// Blocks after the end height before a reserve may be released (Theta: 5).
    pub freeze_period: u64,
    /// Most resource ids one reserve may name.
    pub max_resource_ids: usize,
    /// Most distinct payees one reserve record may hold.
    pub max_payees: usize,
    /// Most cheques one overspend report may carry.
    pub max_evidence: usize,
    /// Minimum fee of every pool transaction.
    pub min_fee: U256,
    /// Where slashed funds go.
    pub slash_to: SlashDestination,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            chain_id: 1,
            min_duration: 300,
            max_duration: 43_200,
            freeze_period: 5,
            max_resource_ids: 64,
            max_payees: 1024,
            max_evidence: 64,
            min_fee: U256::zero(),
            slash_to: SlashDestination::Burn,
        }
    }
}
