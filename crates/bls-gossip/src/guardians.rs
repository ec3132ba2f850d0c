//! The guardian set: public keys by index and their stakes, and the strict 2/3 rule.

use crate::Error;
use crate::bls::{ProofOfPossession, PublicKey};
use crate::scheme::{Bls, Scheme};
use crate::signers::SignerVector;

/// Guardians by index: keys (proof of possession already checked, DESIGN.md section 3)
/// and stakes. Stake is `u128` base units (an embedder converts from `U256`; 2^128 base
/// units is 3.4·10^20 whole tokens at 18 decimals).
#[derive(Clone, Debug)]
pub struct GuardianSet<S: Scheme> {
    /// The keys, with the scheme's batch-verification precomputation.
    table: S::KeyTable,
    stakes: Vec<u128>,
    total: u128,
}

impl<S: Scheme> GuardianSet<S> {
    /// A set from keys the caller has already PoP-checked (once, when each key was
    /// staked) and their stakes. Fails when empty, lengths differ, total stake is zero,
    /// `3 · total` would overflow `u128`, or one key appears at two indices
    /// ([`Error::DuplicateKey`]: otherwise one holder's signature would count once per
    /// copy, and a single key listed at enough indices would reach a quorum alone).
    pub fn new(keys: Vec<S::PublicKey>, stakes: Vec<u128>) -> Result<Self, Error> {
        if keys.is_empty() {
            return Err(Error::InvalidGuardianSet { reason: "no guardians" });
        }
        if keys.len() != stakes.len() {
            return Err(Error::InvalidGuardianSet { reason: "keys and stakes differ in length" });
        }
        let total = stakes
            .iter()
            .try_fold(0u128, |acc, &s| acc.checked_add(s))
            .filter(|t| t.checked_mul(3).is_some())
            .ok_or(Error::InvalidGuardianSet { reason: "total stake too large" })?;
        if total == 0 {
            return Err(Error::InvalidGuardianSet { reason: "zero total stake" });
        }
        if let Some((first, second)) = find_duplicate::<S>(&keys) {
            return Err(Error::DuplicateKey { first, second });
        }
        Ok(GuardianSet { table: S::key_table(keys), stakes, total })
    }

    /// A set of `keys.len()` guardians with stake 1 each.
    pub fn equal_stake(keys: Vec<S::PublicKey>) -> Result<Self, Error> {
        let stakes = vec![1; keys.len()];
        Self::new(keys, stakes)
    }

    /// Number of guardians.
    pub fn len(&self) -> usize {
        self.stakes.len()
    }

    /// Always false (a set has at least one guardian).
    pub fn is_empty(&self) -> bool {
        self.stakes.is_empty()
    }

    /// Keys by index.
    pub fn keys(&self) -> &[S::PublicKey] {
        S::table_keys(&self.table)
    }

    /// The keys with the scheme's batch-verification precomputation.
    pub fn key_table(&self) -> &S::KeyTable {
        &self.table
    }

    /// Stake of guardian `index` (0 if out of range).
    pub fn stake(&self, index: usize) -> u128 {
        self.stakes.get(index).copied().unwrap_or(0)
    }

    /// Total stake.
    pub fn total_stake(&self) -> u128 {
        self.total
    }

    /// Stake of the distinct signers of `signers` (multiplicities do not count).
    pub fn signed_stake(&self, signers: &SignerVector) -> u128 {
        signers.iter().map(|(i, _)| self.stake(i)).sum()
    }

    /// The strict 2/3 rule (DESIGN.md section 4.2): `3 · signed > 2 · total`.
    pub fn is_quorum(&self, signers: &SignerVector) -> bool {
        exceeds_two_thirds(self.signed_stake(signers), self.total)
    }
}

/// The first pair of indices `(first, second)`, `first < second`, holding equal keys
/// (smallest `second`, then smallest `first`).
fn find_duplicate<S: Scheme>(keys: &[S::PublicKey]) -> Option<(usize, usize)> {
    let bytes: Option<Vec<Vec<u8>>> = keys.iter().map(S::public_key_bytes).collect();
    match bytes {
        Some(bytes) => {
            let mut seen = std::collections::BTreeMap::new();
            for (i, b) in bytes.iter().enumerate() {
                if let Some(&first) = seen.get(b.as_slice()) {
                    return Some((first, i));
                }
                seen.insert(b.as_slice(), i);
            }
            None
        }
        None => (1..keys.len()).find_map(|j| keys[..j].iter().position(|k| *k == keys[j]).map(|i| (i, j))),
    }
}

/// The strict 2/3 rule `3 · part > 2 · total`, computed exactly for every pair of `u128`
/// values (no product is formed, so nothing overflows): `part ≥ total` passes iff
/// `part > 0`; otherwise it passes iff `part > 2 · (total − part)`.
pub fn exceeds_two_thirds(part: u128, total: u128) -> bool {
    if part >= total {
        return part > 0;
    }
    // 3p > 2t  ⟺  p > 2(t − p); if 2(t − p) overflows it exceeds every u128, so p is below it.
    (total - part).checked_mul(2).is_some_and(|d| part > d)
}

impl GuardianSet<Bls> {
    /// A set whose keys are checked here against their proofs of possession.
    pub fn with_proofs(members: &[(PublicKey, ProofOfPossession, u128)]) -> Result<Self, Error> {
        for (pk, pop, _) in members {
            pk.verify_possession(pop)?;
        }
        Self::new(members.iter().map(|m| m.0).collect(), members.iter().map(|m| m.2).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_two_thirds() {
        assert!(!exceeds_two_thirds(2, 3));
        assert!(exceeds_two_thirds(3, 4));
        assert!(!exceeds_two_thirds(666, 1000));
        assert!(exceeds_two_thirds(667, 1000));
        for total in 1u128..60 {
            for part in 0..=total {
                assert_eq!(exceeds_two_thirds(part, total), 3 * part > 2 * total);
            }
        }
    }
}
