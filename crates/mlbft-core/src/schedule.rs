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
use crate::validators::ValidatorSet;

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
    /// reported in strictly increasing height order (one per block at most).
    pub fn decide(&mut self, decided_at: u64, set: Arc<ValidatorSet<S>>) -> Result<u64, Error> {
        if self.last_decided.is_some_and(|last| decided_at <= last) {
            return Err(Error::SetChangeHeight { decided_at, last: self.last_decided });
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

    /// The genesis set.
    pub fn genesis(&self) -> &Arc<ValidatorSet<S>> {
        &self.genesis
    }

    /// Changes as `(effective height, set)`, in height order.
    pub fn changes(&self) -> impl Iterator<Item = (u64, &Arc<ValidatorSet<S>>)> {
        self.changes.iter().map(|(h, s)| (*h, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bls_gossip::FakeScheme;
    use primitives::U256;

    fn set(seeds: &[u8]) -> Arc<ValidatorSet<FakeScheme>> {
        let members =
            seeds.iter().map(|&i| (FakeScheme::keypair(&[i; 32]).unwrap().1, U256::one())).collect();
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
    }

    #[test]
    fn out_of_order_or_overflowing_changes_are_refused_and_change_nothing() {
        let old = set(&[1, 2, 3, 4]);
        let mut s = SetSchedule::new(old.clone());
        s.decide(5, set(&[1, 2, 3, 5])).unwrap();
        for bad in [5, 4, 0] {
            assert_eq!(
                s.decide(bad, set(&[7, 8, 9, 10])),
                Err(Error::SetChangeHeight { decided_at: bad, last: Some(5) })
            );
        }
        assert_eq!(
            s.decide(u64::MAX, set(&[7, 8, 9, 10])),
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
