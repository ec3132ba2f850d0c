//! The validator and guardian sets of a committed state.
//!
//! * **Validators** (Theta's `SelectTopStakeHoldersAsValidators`): candidates sorted by
//!   total stake, descending, ties broken by the holder's EIP-55 checksummed hex string,
//!   descending (Theta's `sortCandidates` compares `Holder.Hex()` strings); the first
//!   `max_validators` with non-zero stake form the set, ordered by holder address
//!   ascending (Theta's `ValidatorSet.AddValidator` sorts `ByID`). Stake is `U256`, as
//!   `mlbft_core::ValidatorSet` takes it.
//! * **Guardians** (Theta's `GuardianCandidatePool`): every guardian with non-zero stake,
//!   sorted by holder address. `bls_gossip::GuardianSet` counts stake in `u128`; stakes
//!   are stored as `U256` and converted at this boundary, refusing (not truncating) a
//!   stake above `u128::MAX` — THETA's whole supply (10^9 tokens = 10^27 wei) is far
//!   below 2^128 ≈ 3.4·10^38, so the refusal is unreachable on a Theta-like chain.

use std::ops::ControlFlow;

use bls_gossip::{Bls, GuardianSet};
use mlbft_core::ValidatorSet;
use mpt_refcount::NodeStore;
use primitives::{Address, H256, U256, keccak256};

use crate::config::LedgerConfig;
use crate::error::ExecError;
use crate::state::{GUARDIAN_PREFIX, StakeHolder, VALIDATOR_PREFIX, visit_prefix};

/// The EIP-55 checksummed hex form of an address (`0x` + mixed case), as Theta's
/// `common.Address.Hex` writes it.
pub fn checksum_hex(address: &Address) -> String {
    let lower: String = address.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let hash = keccak256(lower.as_bytes());
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, c) in lower.chars().enumerate() {
        let byte = hash.as_bytes()[i / 2];
        let nibble = if i % 2 == 0 { byte >> 4 } else { byte & 0x0f };
        if c.is_ascii_alphabetic() && nibble > 7 {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Every holder record under `prefix`, in key (holder address) order.
pub fn holders<S: NodeStore + ?Sized>(
    store: &S,
    root: H256,
    prefix: &[u8],
) -> Result<Vec<StakeHolder>, ExecError> {
    let mut out = Vec::new();
    let mut err = None;
    visit_prefix(store, root, prefix, |k, v| match StakeHolder::decode(k, v) {
        Ok(h) => {
            out.push(h);
            ControlFlow::Continue(())
        }
        Err(e) => {
            err = Some(e);
            ControlFlow::Break(())
        }
    })?;
    match err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// A validator of a set: holder, stake, BLS key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validator {
    /// The holder address.
    pub holder: Address,
    /// Its total stake (THETA wei).
    pub stake: U256,
    /// Its BLS key.
    pub bls_pubkey: [u8; 48],
}

/// Theta's candidate order: stake descending, then checksummed hex descending.
pub fn rank_candidates(candidates: &mut [(Address, U256, [u8; 48])]) {
    candidates.sort_by_cached_key(|c| (std::cmp::Reverse(c.1), std::cmp::Reverse(checksum_hex(&c.0))));
}

/// The validators of the committed state `root`, ordered by holder address.
pub fn validators<S: NodeStore + ?Sized>(
    store: &S,
    root: H256,
    cfg: &LedgerConfig,
) -> Result<Vec<Validator>, ExecError> {
    let mut candidates = Vec::new();
    for h in holders(store, root, VALIDATOR_PREFIX)? {
        let stake = h.total_stake()?;
        if !stake.is_zero() {
            candidates.push((h.holder, stake, h.bls_pubkey));
        }
    }
    rank_candidates(&mut candidates);
    candidates.truncate(cfg.max_validators);
    candidates.sort_by_key(|c| c.0);
    Ok(candidates
        .into_iter()
        .map(|(holder, stake, bls_pubkey)| Validator { holder, stake, bls_pubkey })
        .collect())
}

fn bls_key(holder: Address, bytes: &[u8]) -> Result<bls_gossip::bls::PublicKey, ExecError> {
    bls_gossip::bls::PublicKey::from_bytes(bytes)
        .map_err(|e| ExecError::CorruptState { key: format!("BLS key of {holder:?}"), reason: e.to_string() })
}

/// The validator set of the committed state `root` as mlbft-core takes it.
pub fn validator_set<S: NodeStore + ?Sized>(
    store: &S,
    root: H256,
    cfg: &LedgerConfig,
) -> Result<ValidatorSet<Bls>, ExecError> {
    Ok(committee(store, root, cfg)?.set)
}

/// The validator set of the state `root` with each member's account, index-aligned
/// (what slash verification needs).
pub fn committee<S: NodeStore + ?Sized>(
    store: &S,
    root: H256,
    cfg: &LedgerConfig,
) -> Result<crate::slashing::Committee, ExecError> {
    let vs = validators(store, root, cfg)?;
    let members = vs
        .iter()
        .map(|v| Ok((bls_key(v.holder, &v.bls_pubkey)?, v.stake)))
        .collect::<Result<Vec<_>, ExecError>>()?;
    let set = ValidatorSet::new(members).map_err(|e| ExecError::Set(e.to_string()))?;
    Ok(crate::slashing::Committee { set, addresses: vs.into_iter().map(|v| v.holder).collect() })
}

/// A guardian: holder, stake (`u128`, see the module docs), BLS key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guardian {
    /// The holder address.
    pub holder: Address,
    /// Its total stake (THETA wei).
    pub stake: u128,
    /// Its BLS key.
    pub bls_pubkey: [u8; 48],
}

/// The guardians of the committed state `root`, sorted by holder address.
pub fn guardians<S: NodeStore + ?Sized>(store: &S, root: H256) -> Result<Vec<Guardian>, ExecError> {
    let mut out = Vec::new();
    for h in holders(store, root, GUARDIAN_PREFIX)? {
        let stake = h.total_stake()?;
        if stake.is_zero() {
            continue;
        }
        if stake > U256::from(u128::MAX) {
            return Err(ExecError::Set(format!("stake of guardian {:?} exceeds u128", h.holder)));
        }
        out.push(Guardian { holder: h.holder, stake: stake.as_u128(), bls_pubkey: h.bls_pubkey });
    }
    Ok(out)
}

/// The guardian set of the committed state `root` as bls-gossip takes it.
pub fn guardian_set<S: NodeStore + ?Sized>(store: &S, root: H256) -> Result<GuardianSet<Bls>, ExecError> {
    let gs = guardians(store, root)?;
    let keys = gs.iter().map(|g| bls_key(g.holder, &g.bls_pubkey)).collect::<Result<Vec<_>, _>>()?;
    let stakes = gs.iter().map(|g| g.stake).collect();
    GuardianSet::new(keys, stakes).map_err(|e| ExecError::Set(e.to_string()))
}
