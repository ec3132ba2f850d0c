//! The genesis description (JSON) and the initial state it writes.
//!
//! ```json
//! {
//!   "chain_id": "privatenet",
//!   "accounts": [{"address": "0x…", "theta": "1000", "tfuel": "5000", "sequence": 0}],
//!   "validators": [{"holder": "0x…", "source": "0x…", "stake": "200000000000000000000000",
//!                   "bls_pubkey": "0x…48 bytes", "bls_pop": "0x…96 bytes"}],
//!   "guardians": [{"holder": "0x…", "source": "0x…", "stake": "…", "bls_pubkey": "0x…", "bls_pop": "0x…"}]
//! }
//! ```
//!
//! Amounts are decimal strings of wei; an account's `sequence` is optional (default 0). Genesis stakes are created as stake (they are not
//! taken from the source's balance); the source gets them back when it withdraws. Each
//! stake holder's BLS key must carry a valid proof of possession and be unique in its
//! pool; each stake must meet the pool's minimum; account addresses must be distinct.

use std::collections::BTreeSet;

use serde::Deserialize;

use primitives::{Address, U256};

use crate::config::LedgerConfig;
use crate::error::ExecError;
use crate::exec::check_bls;
use crate::state::Account;
use crate::state::{
    CHAIN_ID_KEY, HEIGHT_KEY, Stake, StakeHolder, Supply, Writes, account_key, bls_index_key, holder_key,
};
use crate::tx::{BLS_POP_LEN, BLS_PUBKEY_LEN, Coins, STAKE_FOR_GUARDIAN, STAKE_FOR_VALIDATOR};

/// Longest genesis document [`Genesis::from_json`] reads.
pub const MAX_GENESIS_BYTES: usize = 64 * 1024 * 1024;

/// An account at genesis.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    /// 0x-hex address.
    pub address: String,
    /// THETA wei, decimal.
    pub theta: String,
    /// TFUEL wei, decimal.
    pub tfuel: String,
    /// The account's last used sequence (default 0: its first transaction carries 1).
    /// A chain restarted from another's state carries its sequences over, so old signed
    /// transactions stay replays.
    #[serde(default)]
    pub sequence: u64,
}

/// A stake at genesis (validator or guardian).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisStake {
    /// The holder, 0x-hex.
    pub holder: String,
    /// Who owns the stake, 0x-hex.
    pub source: String,
    /// THETA wei, decimal.
    pub stake: String,
    /// The holder's BLS key, 0x-hex, 48 bytes.
    pub bls_pubkey: String,
    /// Its proof of possession, 0x-hex, 96 bytes.
    pub bls_pop: String,
}

/// A genesis description.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// The chain id.
    pub chain_id: String,
    /// Opening balances.
    #[serde(default)]
    pub accounts: Vec<GenesisAccount>,
    /// Validator stakes.
    #[serde(default)]
    pub validators: Vec<GenesisStake>,
    /// Guardian stakes.
    #[serde(default)]
    pub guardians: Vec<GenesisStake>,
}

fn gerr(s: impl Into<String>) -> ExecError {
    ExecError::Genesis(s.into())
}

fn parse_address(field: &str, s: &str) -> Result<Address, ExecError> {
    let b = primitives::codec::from_hex_array::<20>(s).map_err(|e| gerr(format!("{field}: {e}")))?;
    Ok(Address::from(b))
}

fn parse_amount(field: &str, s: &str) -> Result<U256, ExecError> {
    if s.is_empty() || s.len() > 78 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(gerr(format!("{field}: not a decimal amount: {s:?}")));
    }
    U256::from_dec_str(s).map_err(|e| gerr(format!("{field}: {e:?}")))
}

impl Genesis {
    /// Parses a genesis document of at most [`MAX_GENESIS_BYTES`].
    pub fn from_json(text: &str) -> Result<Self, ExecError> {
        if text.len() > MAX_GENESIS_BYTES {
            return Err(gerr(format!("{} bytes exceed the limit of {MAX_GENESIS_BYTES}", text.len())));
        }
        serde_json::from_str(text).map_err(|e| gerr(e.to_string()))
    }

    /// The writes of the initial state (height 0) and its supply, after every check.
    pub(crate) fn writes(&self, cfg: &LedgerConfig) -> Result<(Writes, Supply), ExecError> {
        if self.chain_id != cfg.chain_id {
            return Err(gerr(format!(
                "chain id {:?} differs from the configured {:?}",
                self.chain_id, cfg.chain_id
            )));
        }
        let mut w = Writes::new();
        let mut total = Coins::zero();
        let mut seen = BTreeSet::new();
        w.insert(CHAIN_ID_KEY.to_vec(), Some(self.chain_id.as_bytes().to_vec()));
        w.insert(HEIGHT_KEY.to_vec(), Some(0u64.to_be_bytes().to_vec()));
        for (i, a) in self.accounts.iter().enumerate() {
            let address = parse_address(&format!("accounts[{i}].address"), &a.address)?;
            if !seen.insert(address) {
                return Err(gerr(format!("accounts[{i}]: duplicate address {address:?}")));
            }
            let coins = Coins::new(
                parse_amount(&format!("accounts[{i}].theta"), &a.theta)?,
                parse_amount(&format!("accounts[{i}].tfuel"), &a.tfuel)?,
            );
            total = total.checked_add(&coins).ok_or(ExecError::Overflow { what: "genesis supply" })?;
            let acc = Account { sequence: a.sequence, coins };
            let v = acc.encode();
            if !v.is_empty() {
                w.insert(account_key(&address), Some(v));
            }
        }
        for (purpose, list, name, min) in [
            (STAKE_FOR_VALIDATOR, &self.validators, "validators", cfg.min_validator_stake),
            (STAKE_FOR_GUARDIAN, &self.guardians, "guardians", cfg.min_guardian_stake),
        ] {
            let mut holders: std::collections::BTreeMap<Address, StakeHolder> = Default::default();
            for (i, s) in list.iter().enumerate() {
                let f = |x: &str| format!("{name}[{i}].{x}");
                let holder = parse_address(&f("holder"), &s.holder)?;
                let source = parse_address(&f("source"), &s.source)?;
                let amount = parse_amount(&f("stake"), &s.stake)?;
                if amount < min {
                    return Err(ExecError::StakeBelowMinimum { amount, min });
                }
                let pk = primitives::codec::from_hex_array::<BLS_PUBKEY_LEN>(&s.bls_pubkey)
                    .map_err(|e| gerr(format!("{}: {e}", f("bls_pubkey"))))?;
                let pop = primitives::codec::from_hex_array::<BLS_POP_LEN>(&s.bls_pop)
                    .map_err(|e| gerr(format!("{}: {e}", f("bls_pop"))))?;
                total.theta_wei = total
                    .theta_wei
                    .checked_add(amount)
                    .ok_or(ExecError::Overflow { what: "genesis supply" })?;
                match holders.get_mut(&holder) {
                    Some(rec) => {
                        if rec.bls_pubkey != pk {
                            return Err(gerr(format!(
                                "{}: a second BLS key for {holder:?}",
                                f("bls_pubkey")
                            )));
                        }
                        match rec.stakes.iter_mut().find(|x| x.source == source) {
                            Some(x) => {
                                x.amount = x
                                    .amount
                                    .checked_add(amount)
                                    .ok_or(ExecError::Overflow { what: "genesis stake" })?
                            }
                            None => rec.stakes.push(Stake {
                                source,
                                amount,
                                withdrawn: false,
                                return_height: u64::MAX,
                            }),
                        }
                    }
                    None => {
                        check_bls(holder, &pk, &pop)?;
                        let index = bls_index_key(purpose, &pk);
                        if let Some(Some(owner)) = w.get(&index) {
                            return Err(ExecError::DuplicateBlsKey { owner: Address::from_slice(owner) });
                        }
                        w.insert(index, Some(holder.as_bytes().to_vec()));
                        holders.insert(
                            holder,
                            StakeHolder {
                                holder,
                                bls_pubkey: pk,
                                stakes: vec![Stake {
                                    source,
                                    amount,
                                    withdrawn: false,
                                    return_height: u64::MAX,
                                }],
                            },
                        );
                    }
                }
            }
            for (holder, rec) in holders {
                rec.total_stake()?;
                let key = holder_key(purpose, &holder).ok_or(ExecError::UnsupportedPurpose { purpose })?;
                w.insert(key, Some(rec.encode()));
            }
        }
        let supply = Supply { genesis: total, ..Supply::default() };
        w.insert(crate::state::SUPPLY_KEY.to_vec(), Some(supply.encode()));
        Ok((w, supply))
    }
}
