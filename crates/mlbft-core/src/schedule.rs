//! Validator-set changes decided by the ledger, with Theta's lag rule.
//!
//! A block at height `h` carries the commit certificate of its parent (`h - 1`), whose own
//! proposal carried the certificate of `h - 2`. So `HCC(HCC(B))` — the block certified by
//! the CC that `B`'s parent carries — is the block at `h - 2`, and when `B` is proposed that
//! block and its child both have CCs: it is settled. A change decided (executed) in the
//! block at height `d` therefore takes effect at height `d + SET_CHANGE_LAG`
//! ([`SET_CHANGE_LAG`] = 2): every honest validator that validates a block at that height
//! has settled `d` and reads the same set from it.

use std::collections::BTreeMap;
use std::sync::Arc;

use bls_gossip::Scheme;

use crate::Error;
use crate::certificate::CommitCertificate;
use crate::types::Context;
use crate::validators::{ValidatorIndex, ValidatorSet};

/// Heights between the block that decides a set change and the first block the new set
/// validates (`HCC(HCC(B))`: two certificates deep).
pub const SET_CHANGE_LAG: u64 = 2;

/// The validator set for every height: a genesis set and the ledger's changes, each keyed
/// by the height it takes effect (decided height + [`SET_CHANGE_LAG`]).
#[derive(Clone, Debug)]
pub struct SetSchedule<S: Scheme> {
    genesis: Arc<ValidatorSet<S>>,
    /// Effective height → set.
    changes: BTreeMap<u64, Arc<ValidatorSet<S>>>,
    last_decided: Option<u64>,
}

impl<S: Scheme> SetSchedule<S> {
    /// One set for every height until a change is decided.
    pub fn new(genesis: Arc<ValidatorSet<S>>) -> Self {
        SetSchedule { genesis, changes: BTreeMap::new(), last_decided: None }
    }

    /// The first height a change decided at `decided_at` applies to.
    pub fn effective_height(decided_at: u64) -> Result<u64, Error> {
        decided_at.checked_add(SET_CHANGE_LAG).ok_or(Error::SetChangeHeight { decided_at, last: None })
    }

    /// Records that the block at height `decided_at` decided `set`. Changes must be
    /// reported in strictly increasing height order (one per block at most), and must
    /// restake the genesis set's validator universe: the same keys by index, a validator
    /// that leaves at zero stake, one that joins listed (at zero stake) from genesis on
    /// ([`ValidatorSet::same_universe`]).
    pub fn decide(&mut self, decided_at: u64, set: Arc<ValidatorSet<S>>) -> Result<u64, Error> {
        if self.last_decided.is_some_and(|last| decided_at <= last) {
            return Err(Error::SetChangeHeight { decided_at, last: self.last_decided });
        }
        if !set.same_universe(&self.genesis) {
            return Err(Error::IncompatibleSetChange { decided_at });
        }
        let effective = Self::effective_height(decided_at)?;
        self.changes.insert(effective, set);
        self.last_decided = Some(decided_at);
        Ok(effective)
    }

    /// The set that validates blocks at `height`.
    pub fn set_for(&self, height: u64) -> &Arc<ValidatorSet<S>> {
        self.changes.range(..=height).next_back().map_or(&self.genesis, |(_, s)| s)
    }

    /// The first height of the set in force at `height`: the effective height of the
    /// last change at or below it, `0` for the genesis set.
    pub fn since(&self, height: u64) -> u64 {
        self.changes.range(..=height).next_back().map_or(0, |(h, _)| *h)
    }

    /// The genesis set.
    pub fn genesis(&self) -> &Arc<ValidatorSet<S>> {
        &self.genesis
    }

    /// Changes as `(effective height, set)`, in height order.
    pub fn changes(&self) -> impl Iterator<Item = (u64, &Arc<ValidatorSet<S>>)> {
        self.changes.iter().map(|(h, s)| (*h, s))
    }
}

/// Most validator sets one block's certificate can be checked against (the set in force
/// and the sets of still-open hand-overs below it); deeper chains of open hand-overs are
/// refused with [`Error::UnknownSetForHeight`] until the chain below settles.
pub const MAX_QUORUM_SETS: usize = 8;

/// Who must certify a block at one height: more than 2/3 of the stake of *every* set in
/// [`BlockQuorum::sets`] (docs/mlbft.md, "Validator-set changes").
///
/// The first set is the one in force at the height (its proposer proposes there). A
/// hand-over from the previous set to it is *open* at the change's first height `N`
/// always, and above `N` while the block at `N − 1` is not settled here; while it is
/// open, the previous set must certify too (a *joint* certificate), so that a block is
/// only ever certified by a set that also certifies its neighbours: the old set retires
/// only once its last block is settled.
#[derive(Clone, Debug)]
pub struct BlockQuorum<S: Scheme> {
    sets: Vec<Arc<ValidatorSet<S>>>,
}

impl<S: Scheme> BlockQuorum<S> {
    /// The quorum for blocks at `height` under `ctx`'s schedule, for a validator whose
    /// settled tip is at `settled`. `Err(UnknownSetForHeight)` when the context cannot
    /// tell a set that is needed.
    pub fn for_height<C: Context<Scheme = S>>(ctx: &C, settled: u64, height: u64) -> Result<Self, Error> {
        let unknown = |height| Error::UnknownSetForHeight { height };
        let mut sets = vec![ctx.validator_set_for(height).ok_or(unknown(height))?];
        let mut below = height;
        loop {
            let since = ctx.set_since(below).ok_or(unknown(below))?;
            if since == 0 || since > below {
                break;
            }
            // Open: `height` is the change's first height, or its last old block
            // (`since − 1`) is not settled here.
            if since != height && settled.saturating_add(1) >= since {
                break;
            }
            let previous = ctx.validator_set_for(since - 1).ok_or(unknown(since - 1))?;
            if !sets.iter().any(|s| s.hash() == previous.hash()) {
                if sets.len() == MAX_QUORUM_SETS {
                    return Err(unknown(since - 1));
                }
                sets.push(previous);
            }
            below = since - 1;
        }
        Ok(BlockQuorum { sets })
    }

    /// One set (no hand-over).
    pub fn single(set: Arc<ValidatorSet<S>>) -> Self {
        BlockQuorum { sets: vec![set] }
    }

    /// The set in force at the height: it picks the proposer.
    pub fn set(&self) -> &Arc<ValidatorSet<S>> {
        &self.sets[0]
    }

    /// Every set that must certify (the set in force first).
    pub fn sets(&self) -> &[Arc<ValidatorSet<S>>] {
        &self.sets
    }

    /// Whether more than one set must certify (an open hand-over).
    pub fn is_joint(&self) -> bool {
        self.sets.len() > 1
    }

    /// Whether `index` has stake in some set that must certify (its vote counts).
    pub fn is_member(&self, index: ValidatorIndex) -> bool {
        self.sets.iter().any(|s| s.contains(index))
    }

    /// Whether `signers` hold more than 2/3 of the stake of every set.
    pub fn is_quorum(&self, signers: &[ValidatorIndex]) -> bool {
        self.sets.iter().all(|s| s.is_quorum(signers.iter().copied()))
    }

    /// Verifies `cc`: quorum in every set, then one aggregate check (the sets of one
    /// schedule share their keys by index).
    pub fn verify(&self, cc: &CommitCertificate<S>) -> Result<(), Error> {
        for s in &self.sets[1..] {
            let signed = s.stake_of(cc.signers());
            if !crate::exceeds_two_thirds(signed, s.total_stake()) {
                return Err(Error::NoQuorum {
                    signed: signed.to_string(),
                    total: s.total_stake().to_string(),
                });
            }
        }
        cc.verify(&self.sets[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bls_gossip::FakeScheme;
    use primitives::U256;

    /// A set over the universe of keys 1..=6 with the members in `seeds` at stake 1.
    fn set(seeds: &[u8]) -> Arc<ValidatorSet<FakeScheme>> {
        let members = (1..=6u8)
            .map(|i| {
                let stake = if seeds.contains(&i) { U256::one() } else { U256::zero() };
                (FakeScheme::keypair(&[i; 32]).unwrap().1, stake)
            })
            .collect();
        Arc::new(ValidatorSet::new(members).unwrap())
    }

    #[test]
    fn change_takes_effect_two_heights_after_it_is_decided() {
        let old = set(&[1, 2, 3, 4]);
        let new = set(&[1, 2, 3, 5]);
        let newer = set(&[2, 3, 5, 6]);
        let mut s = SetSchedule::new(old.clone());
        assert_eq!(s.decide(10, new.clone()), Ok(12));
        assert_eq!(s.decide(20, newer.clone()), Ok(22));
        // (height, expected set hash)
        let table = [
            (0, old.hash()),
            (10, old.hash()),
            (11, old.hash()),
            (12, new.hash()),
            (21, new.hash()),
            (22, newer.hash()),
            (u64::MAX, newer.hash()),
        ];
        for (h, want) in table {
            assert_eq!(s.set_for(h).hash(), want, "height {h}");
        }
        assert_eq!(s.changes().map(|(h, _)| h).collect::<Vec<_>>(), vec![12, 22]);
        let since = [(0, 0), (11, 0), (12, 12), (21, 12), (22, 22), (u64::MAX, 22)];
        for (h, want) in since {
            assert_eq!(s.since(h), want, "height {h}");
        }
    }

    #[test]
    fn a_change_must_restake_the_genesis_universe() {
        let old = set(&[1, 2, 3, 4]);
        let mut s = SetSchedule::new(old.clone());
        let members = (11..=16u8).map(|i| (FakeScheme::keypair(&[i; 32]).unwrap().1, U256::one())).collect();
        let foreign = Arc::new(ValidatorSet::new(members).unwrap());
        assert_eq!(s.decide(3, foreign), Err(Error::IncompatibleSetChange { decided_at: 3 }));
        let shorter = Arc::new(ValidatorSet::<FakeScheme>::equal_stake(old.keys()[..4].to_vec()).unwrap());
        assert_eq!(s.decide(3, shorter), Err(Error::IncompatibleSetChange { decided_at: 3 }));
        assert_eq!(s.changes().count(), 0);
        assert_eq!(s.decide(3, set(&[1, 2, 3, 5])), Ok(5));
    }

    #[test]
    fn out_of_order_or_overflowing_changes_are_refused_and_change_nothing() {
        let old = set(&[1, 2, 3, 4]);
        let mut s = SetSchedule::new(old.clone());
        s.decide(5, set(&[1, 2, 3, 5])).unwrap();
        for bad in [5, 4, 0] {
            assert_eq!(
                s.decide(bad, set(&[3, 4, 5, 6])),
                Err(Error::SetChangeHeight { decided_at: bad, last: Some(5) })
            );
        }
        assert_eq!(
            s.decide(u64::MAX, set(&[3, 4, 5, 6])),
            Err(Error::SetChangeHeight { decided_at: u64::MAX, last: None })
        );
        assert_eq!(s.changes().count(), 1);
        assert_eq!(s.set_for(6).hash(), old.hash());
        assert_ne!(s.set_for(7).hash(), old.hash());
    }

    #[test]
    fn static_context_reports_one_set_unless_told_of_a_change() {
        use crate::{Context, StaticContext};
        let old = set(&[1, 2, 3, 4]);
        let ctx = StaticContext::new(old.clone(), None);
        for h in [0, 1, 2, 1_000, u64::MAX] {
            assert_eq!(ctx.validator_set_for(h).map(|s| s.hash()), Some(old.hash()));
        }
        let new = set(&[1, 2, 3, 5]);
        let ctx = ctx.with_set_change(3, new.clone()).unwrap();
        assert_eq!(ctx.validator_set().hash(), old.hash());
        assert_eq!(ctx.validator_set_for(4).map(|s| s.hash()), Some(old.hash()));
        assert_eq!(ctx.validator_set_for(5).map(|s| s.hash()), Some(new.hash()));
        assert!(ctx.clone().with_set_change(3, old.clone()).is_err());
    }
}
