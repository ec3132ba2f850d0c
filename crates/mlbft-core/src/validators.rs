//! The validator committee: keys and `U256` stakes by index, the strict 2/3 and 1/3
//! thresholds in one place, and the stake-weighted proposer draw (whitepaper, "Multi-Level
//! BFT", Algorithm 1; DESIGN.md section 4.3).

use bls_gossip::{Bls, Scheme};
use primitives::rlp::RlpStream;
use primitives::{H256, U256, keccak256};

use crate::Error;

/// Index of a validator in its set.
pub type ValidatorIndex = u32;

/// `3·part > 2·total` (strict two thirds), exact for every `U256` input: the products are
/// taken in 512 bits, so nothing can overflow.
///
/// ```
/// use mlbft_core::exceeds_two_thirds;
/// use primitives::U256;
/// assert!(!exceeds_two_thirds(U256::from(2), U256::from(3)));
/// assert!(exceeds_two_thirds(U256::from(3), U256::from(4)));
/// assert!(exceeds_two_thirds(U256::MAX, U256::MAX));
/// ```
pub fn exceeds_two_thirds(part: U256, total: U256) -> bool {
    part.full_mul(U256::from(3)) > total.full_mul(U256::from(2))
}

/// `3·part > total` (strictly more than one third), exact for every `U256` input.
pub fn exceeds_one_third(part: U256, total: U256) -> bool {
    part.full_mul(U256::from(3)) > total.full_mul(U256::one())
}

/// Public-key bytes for hashing a set (the [`Scheme`] trait has no key encoding).
pub trait KeyBytes: Scheme {
    /// A canonical byte string for `pk`.
    fn key_bytes(pk: &Self::PublicKey) -> Vec<u8>;
}

impl KeyBytes for Bls {
    fn key_bytes(pk: &Self::PublicKey) -> Vec<u8> {
        pk.to_bytes().to_vec()
    }
}

#[cfg(feature = "fake-crypto")]
impl KeyBytes for bls_gossip::FakeScheme {
    /// The fake key's `Debug` form: deterministic, and independent of the fake scheme's
    /// internal representation.
    fn key_bytes(pk: &Self::PublicKey) -> Vec<u8> {
        format!("{pk:?}").into_bytes()
    }
}

/// Validators by index: PoP-checked keys (checked once, when staked) and stakes.
#[derive(Clone, Debug)]
pub struct ValidatorSet<S: Scheme> {
    keys: Vec<S::PublicKey>,
    stakes: Vec<U256>,
    total: U256,
    hash: H256,
}

impl<S: KeyBytes> ValidatorSet<S> {
    /// A set from `(key, stake)` pairs. Fails when empty, larger than `u32::MAX`, when the
    /// total stake is zero, or when it overflows `U256`.
    ///
    /// An entry with zero stake is a validator *absent* from this set that keeps its
    /// index: a set change ([`crate::SetSchedule`]) restakes one fixed list of keys (the
    /// validator universe), so index `i` names the same validator in every set of a
    /// schedule and certificates' bitmaps keep one length.
    pub fn new(members: Vec<(S::PublicKey, U256)>) -> Result<Self, Error> {
        if members.is_empty() {
            return Err(Error::InvalidValidatorSet { reason: "no validators" });
        }
        if u32::try_from(members.len()).is_err() {
            return Err(Error::InvalidValidatorSet { reason: "more than u32::MAX validators" });
        }
        let total = members
            .iter()
            .try_fold(U256::zero(), |acc, (_, s)| acc.checked_add(*s))
            .ok_or(Error::StakeOverflow)?;
        if total.is_zero() {
            return Err(Error::InvalidValidatorSet { reason: "zero total stake" });
        }
        let mut rlp = RlpStream::new_list(members.len());
        for (pk, stake) in &members {
            rlp.begin_list(2);
            rlp.append(&S::key_bytes(pk));
            rlp.append(stake);
        }
        let hash = keccak256(rlp.out());
        let (keys, stakes) = members.into_iter().unzip();
        Ok(ValidatorSet { keys, stakes, total, hash })
    }

    /// `keys.len()` validators with stake 1 each.
    pub fn equal_stake(keys: Vec<S::PublicKey>) -> Result<Self, Error> {
        Self::new(keys.into_iter().map(|k| (k, U256::one())).collect())
    }
}

impl<S: Scheme> ValidatorSet<S> {
    /// Number of entries (members and zero-stake absentees: the universe size).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a set has at least one validator.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Keys by index.
    pub fn keys(&self) -> &[S::PublicKey] {
        &self.keys
    }

    /// Key of validator `index`.
    pub fn key(&self, index: ValidatorIndex) -> Result<&S::PublicKey, Error> {
        self.keys.get(index as usize).ok_or(Error::UnknownValidator { index, len: self.keys.len() })
    }

    /// Stake of validator `index` (zero when out of range).
    pub fn stake(&self, index: ValidatorIndex) -> U256 {
        self.stakes.get(index as usize).copied().unwrap_or_default()
    }

    /// Total stake.
    pub fn total_stake(&self) -> U256 {
        self.total
    }

    /// keccak256 of `RLP([[key, stake], ...])`: identifies the set (proposer seed,
    /// checkpoint messages).
    pub fn hash(&self) -> H256 {
        self.hash
    }

    /// Whether `index` is a member: in range and with non-zero stake.
    pub fn contains(&self, index: ValidatorIndex) -> bool {
        self.stakes.get(index as usize).is_some_and(|s| !s.is_zero())
    }

    /// Whether `other` lists the same keys by index (the same validator universe), as a
    /// set change requires.
    pub fn same_universe(&self, other: &ValidatorSet<S>) -> bool {
        self.keys == other.keys
    }

    /// `3·stake(signers) > 2·total`. Indices out of range and duplicates count zero.
    pub fn is_quorum(&self, signers: impl IntoIterator<Item = ValidatorIndex>) -> bool {
        exceeds_two_thirds(self.stake_of(signers), self.total)
    }

    /// Sum of the stakes of the distinct valid indices in `signers` (cannot overflow: a
    /// subset of a set whose total fits).
    pub fn stake_of(&self, signers: impl IntoIterator<Item = ValidatorIndex>) -> U256 {
        let mut seen = vec![false; self.keys.len()];
        let mut sum = U256::zero();
        for i in signers {
            if let Some(s) = seen.get_mut(i as usize)
                && !*s
            {
                *s = true;
                sum = sum.saturating_add(self.stake(i));
            }
        }
        sum
    }

    /// The proposer of `epoch` (Algorithm 1): a stake-weighted draw seeded by
    /// `keccak256(RLP([epoch, set hash]))`, reduced modulo the total stake and located
    /// in the cumulative stakes. Deterministic from `(epoch, set)`; a validator's chance
    /// is its stake share (the modulo bias is below `total / 2^256`).
    pub fn proposer(&self, epoch: u64) -> ValidatorIndex {
        let mut rlp = RlpStream::new_list(2);
        rlp.append(&epoch);
        rlp.append(&self.hash);
        let seed = U256::from_big_endian(keccak256(rlp.out()).as_bytes());
        let mut ticket = seed % self.total;
        for (i, s) in self.stakes.iter().enumerate() {
            if ticket < *s {
                return i as ValidatorIndex;
            }
            ticket -= *s;
        }
        // Unreachable: ticket < total = Σ stakes.
        (self.stakes.len() - 1) as ValidatorIndex
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bls_gossip::FakeScheme;

    fn set_with(stakes: &[u64]) -> ValidatorSet<FakeScheme> {
        let members = stakes
            .iter()
            .enumerate()
            .map(|(i, &s)| (FakeScheme::keypair(&[i as u8 + 1; 32]).unwrap().1, U256::from(s)))
            .collect();
        ValidatorSet::new(members).unwrap()
    }

    fn set(stakes: &[u64]) -> ValidatorSet<FakeScheme> {
        let members = stakes
            .iter()
            .enumerate()
            .map(|(i, &s)| (FakeScheme::keypair(&[i as u8 + 1; 32]).unwrap().1, U256::from(s)))
            .collect();
        ValidatorSet::new(members).unwrap()
    }

    #[test]
    fn thresholds_match_small_integer_arithmetic() {
        for total in 1u64..50 {
            for part in 0..=total {
                assert_eq!(exceeds_two_thirds(part.into(), total.into()), 3 * part > 2 * total);
                assert_eq!(exceeds_one_third(part.into(), total.into()), 3 * part > total);
            }
        }
        // No overflow at the top of the range.
        assert!(!exceeds_two_thirds(U256::MAX / 3 * 2, U256::MAX));
        assert!(exceeds_one_third(U256::MAX / 2, U256::MAX));
    }

    #[test]
    fn set_rejects_bad_input() {
        assert!(matches!(ValidatorSet::<FakeScheme>::new(vec![]), Err(Error::InvalidValidatorSet { .. })));
        let k = FakeScheme::keypair(&[1; 32]).unwrap().1;
        assert!(matches!(
            ValidatorSet::<FakeScheme>::new(vec![(k, U256::MAX), (k, U256::one())]),
            Err(Error::StakeOverflow)
        ));
        assert!(matches!(
            ValidatorSet::<FakeScheme>::new(vec![(k, U256::zero())]),
            Err(Error::InvalidValidatorSet { .. })
        ));
    }

    #[test]
    fn zero_stake_entries_are_absent_members_that_keep_their_index() {
        let s = set_with(&[1, 0, 1, 1]);
        assert_eq!(s.len(), 4);
        assert_eq!(s.total_stake(), U256::from(3));
        let table = [(0, true), (1, false), (2, true), (3, true), (4, false)];
        for (i, member) in table {
            assert_eq!(s.contains(i), member, "index {i}");
        }
        // The absentee never proposes and adds nothing to a quorum.
        assert!((0..500).all(|e| s.proposer(e) != 1));
        assert!(!s.is_quorum([1, 2, 3]));
        assert!(s.is_quorum([0, 2, 3]));
        assert!(s.same_universe(&set_with(&[5, 5, 5, 5])));
        assert!(!s.same_universe(&set_with(&[1, 1, 1])));
    }

    #[test]
    fn quorum_counts_distinct_members_only() {
        let s = set(&[1, 1, 1, 1]);
        assert!(!s.is_quorum([0, 1, 1, 1, 9]));
        assert!(s.is_quorum([0, 1, 2]));
    }

    #[test]
    fn proposer_is_deterministic_and_stake_weighted() {
        let s = set(&[1, 1, 8]);
        assert_eq!(s.proposer(5), s.proposer(5));
        let heavy = (0..3000).filter(|&e| s.proposer(e) == 2).count();
        // Expected 2400 of 3000; allow a wide margin.
        assert!((2250..2550).contains(&heavy), "{heavy}");
        let light = set(&[1, 1, 1, 1]);
        for v in 0..4 {
            let n = (0..4000).filter(|&e| light.proposer(e) == v).count();
            assert!((850..1150).contains(&n), "validator {v}: {n}");
        }
    }
}
