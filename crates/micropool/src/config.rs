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
    /// The source itself is never the reporter: a report it signs and a settlement of a
    /// cheque to itself are refused ([`Error::ReporterIsSource`](crate::Error::ReporterIsSource),
    /// [`Error::SelfPayment`](crate::Error::SelfPayment)). Beware: a payer colluding with
    /// another address can still report through it and recover the penalty, so only
    /// [`SlashDestination::Burn`] keeps the net return of cheating negative against
    /// collusion (see `docs/micropool.md`).
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
    /// Most distinct payees one reserve record may hold. It also sets the reserve's
    /// [`slot_unit`](PoolConfig::slot_unit): a payee's first settlement must promise at
    /// least `ceil(deposit / max_payees)`, so the slots cannot run out before the deposit
    /// is promised in full.
    pub max_payees: usize,
    /// Most cheques one overspend report may carry.
    pub max_evidence: usize,
    /// Minimum fee of every pool transaction.
    pub min_fee: U256,
    /// Where slashed funds go.
    pub slash_to: SlashDestination,
}

impl PoolConfig {
    /// The least cumulative amount a payee's first settlement must carry to take one of
    /// the reserve's `max_payees` slots: `ceil(deposit / max_payees)` (at least 1).
    ///
    /// Every slot holds at least this much promised, so `max_payees` slots hold at least
    /// the whole deposit: a source that never promises more than its deposit cannot fill
    /// them before every payee it paid has one (see [`settle`](crate::settle)).
    pub fn slot_unit(&self, deposit: U256) -> U256 {
        let slots = U256::from(self.max_payees.max(1));
        let (q, r) = deposit.div_mod(slots);
        let unit = if r.is_zero() { q } else { q.saturating_add(U256::one()) };
        unit.max(U256::one())
    }
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
