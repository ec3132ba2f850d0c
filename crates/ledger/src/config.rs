//! Execution parameters. [`LedgerConfig::theta`] is Theta main net's current setting
//! (`ledger/types/const.go`, `core/validator.go`, `core/guardian.go`, `core/stake.go`,
//! `consensus/validator.go` after every fee and stake height gate has passed).

use primitives::{TOKEN, U256};

/// Theta's `MinimumTransactionFeeTFuelWeiJune2021`: 0.3 TFUEL.
pub const THETA_MIN_TX_FEE: u64 = 300_000_000_000_000_000;
/// Theta's `MaxAccountsAffectedPerTx`.
pub const THETA_MAX_ACCOUNTS_PER_TX: usize = 512;
/// Theta's `MaxValidatorCount`.
pub const THETA_MAX_VALIDATORS: usize = 31;
/// Payees per reserve ([`micropool::PoolConfig::max_payees`] of [`LedgerConfig::theta`]):
/// the most whose worst-case records fit one trie value.
pub const MAX_RESERVE_PAYEES: usize = 512;
/// Theta's `ReturnLockingPeriod` (blocks, about two days at 6 s).
pub const THETA_RETURN_LOCKING_PERIOD: u64 = 28_800;

/// What the executor enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerConfig {
    /// The chain id every signature covers.
    pub chain_id: String,
    /// Minimum fee of every transaction other than Send, in TFUEL wei.
    pub min_fee: U256,
    /// A Send's minimum fee is `max(2, accounts) · min_fee / 2` (Theta's
    /// `GetSendTxMinimumTransactionFeeTFuelWei`), accounts = inputs + outputs.
    pub max_accounts_per_tx: usize,
    /// Least THETA wei of one validator stake deposit (Theta: 200 000 THETA).
    pub min_validator_stake: U256,
    /// Least THETA wei of one guardian stake deposit (Theta: 1 000 THETA).
    pub min_guardian_stake: U256,
    /// Size of the validator set: the top candidates by stake (Theta: 31).
    pub max_validators: usize,
    /// Blocks between a withdrawal and the stake's return (Theta: 28 800; at least 1).
    pub return_locking_period: u64,
    /// The micropayment pool's rules. Pool transactions are Theta transactions, signed
    /// over [`LedgerConfig::chain_id`]; the pool's own `chain_id` is the one the
    /// off-chain cheques of overspend evidence (a Slash transaction) are signed for.
    pub pool: micropool::PoolConfig,
    /// Fraction of a double-signing validator's stake a Slash transaction takes, in
    /// basis points (default 10 000: all of it).
    pub double_sign_slash_bps: u32,
    /// Fraction of a double-signing slash paid to the reporting validator, in basis
    /// points (default 0: all burned, so an offender colluding with a reporter gains
    /// nothing).
    pub reporter_reward_bps: u32,
    /// Issuance and its split (the Coinbase's rewards).
    pub rewards: crate::rewards::RewardConfig,
    /// The chain id Ethereum transactions must be signed for (EIP-155 / EIP-1559):
    /// Theta's eth-rpc-adaptor ids, 361 for `mainnet`, 365 for `testnet`, 366 for
    /// `privatenet` and any other chain.
    pub eth_chain_id: u64,
    /// The ticket broker's rounds and periods ([`crate::tickets`]).
    pub tickets: crate::tickets::TicketConfig,
}

impl LedgerConfig {
    /// Theta main net's parameters on chain `chain_id`.
    pub fn theta(chain_id: impl Into<String>) -> Self {
        let chain_id = chain_id.into();
        let eth_chain_id = match chain_id.as_str() {
            "mainnet" => 361,
            "testnet" => 365,
            _ => 366,
        };
        LedgerConfig {
            eth_chain_id,
            chain_id,
            min_fee: U256::from(THETA_MIN_TX_FEE),
            max_accounts_per_tx: THETA_MAX_ACCOUNTS_PER_TX,
            min_validator_stake: TOKEN * U256::from(200_000u64),
            min_guardian_stake: TOKEN * U256::from(1_000u64),
            max_validators: THETA_MAX_VALIDATORS,
            return_locking_period: THETA_RETURN_LOCKING_PERIOD,
            // At most 512 payees per reserve: a record of 512 worst-case transfer records
            // (98 bytes each) and 64 resource ids stays under the trie's 63 KiB value
            // limit, so no settlement is ever refused for size (`ExecError::StateLimit`).
            pool: micropool::PoolConfig {
                min_fee: U256::from(THETA_MIN_TX_FEE),
                max_payees: MAX_RESERVE_PAYEES,
                ..Default::default()
            },
            double_sign_slash_bps: crate::rewards::BASIS_POINTS,
            reporter_reward_bps: 0,
            rewards: crate::rewards::RewardConfig::default(),
            tickets: crate::tickets::TicketConfig::default(),
        }
    }

    /// The rules a Slash transaction's evidence is verified under: the pool's rules for
    /// overspend, the two fractions above, and evidence at most
    /// `return_locking_period − 2` blocks old, so the offender's stake, even withdrawn,
    /// cannot have left yet: the committee of an offence at height `h` is read from the
    /// state of `h − 2` (mlbft-core's lag rule), so the offender's stake counted there
    /// and its earliest withdrawal is in block `h − 1`, returned at the start of block
    /// `h − 1 + return_locking_period`.
    pub fn slash_config(&self) -> crate::slashing::SlashConfig {
        crate::slashing::SlashConfig {
            pool: self.pool.clone(),
            double_sign_slash_bps: self.double_sign_slash_bps,
            reporter_reward_bps: self.reporter_reward_bps,
            max_evidence_age: self.return_locking_period.saturating_sub(mlbft_core::SET_CHANGE_LAG),
        }
    }

    /// The minimum fee of a Send touching `accounts` accounts.
    pub fn send_min_fee(&self, accounts: usize) -> U256 {
        let n = U256::from(accounts.max(2));
        self.min_fee.saturating_mul(n) / U256::from(2u64)
    }
}
