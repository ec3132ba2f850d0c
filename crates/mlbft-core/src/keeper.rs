//! Stake-weighted tallies (malachite's vote keeper): votes per epoch and EpochChange
//! requests, with each threshold event emitted exactly once.
//!
//! Both tallies are pure bookkeeping over indices and stakes; signatures are checked by
//! the caller before anything is added, so the keeper can be tested (and fuzzed)
//! against a brute-force recount on its own.

use std::collections::BTreeMap;

use primitives::U256;

use crate::validators::{ValidatorIndex, exceeds_one_third, exceeds_two_thirds};

/// What adding one vote did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VoteOutcome<V> {
    /// A first vote by this voter in this epoch, below any new threshold.
    Counted,
    /// The same vote again: nothing changed.
    Duplicate,
    /// The voter already voted for `previous` in this epoch: the new vote is not counted
    /// (equivocation evidence).
    Conflict {
        /// The value of the vote counted first.
        previous: V,
    },
    /// This vote took `value` past 2/3 of the stake in `epoch`: emitted once per epoch
    /// (at most one value can reach it while more than 2/3 of the stake is honest).
    Quorum {
        /// The certified value.
        value: V,
    },
    /// The voter has no stake in the set: not counted.
    NotAMember,
}

#[derive(Clone, Debug)]
struct EpochVotes<V> {
    by_voter: BTreeMap<ValidatorIndex, V>,
    stake: BTreeMap<V, U256>,
    quorum: Option<V>,
}

impl<V> Default for EpochVotes<V> {
    fn default() -> Self {
        EpochVotes { by_voter: BTreeMap::new(), stake: BTreeMap::new(), quorum: None }
    }
}

/// Votes per epoch: one counted vote per voter per epoch, stake summed per value.
#[derive(Clone, Debug)]
pub struct VoteKeeper<V> {
    stakes: Vec<U256>,
    total: U256,
    epochs: BTreeMap<u64, EpochVotes<V>>,
}

impl<V: Ord + Clone> VoteKeeper<V> {
    /// A keeper for voters with `stakes` (by index).
    pub fn new(stakes: Vec<U256>) -> Self {
        let total = stakes.iter().fold(U256::zero(), |a, s| a.saturating_add(*s));
        VoteKeeper { stakes, total, epochs: BTreeMap::new() }
    }

    /// Adds `voter`'s vote for `value` in `epoch`.
    pub fn add(&mut self, epoch: u64, voter: ValidatorIndex, value: V) -> VoteOutcome<V> {
        let Some(&weight) = self.stakes.get(voter as usize) else { return VoteOutcome::NotAMember };
        if weight.is_zero() {
            return VoteOutcome::NotAMember;
        }
        let votes = self.epochs.entry(epoch).or_default();
        if let Some(previous) = votes.by_voter.get(&voter) {
            return if *previous == value {
                VoteOutcome::Duplicate
            } else {
                VoteOutcome::Conflict { previous: previous.clone() }
            };
        }
        votes.by_voter.insert(voter, value.clone());
        let stake = votes.stake.entry(value.clone()).or_default();
        *stake = stake.saturating_add(weight);
        if votes.quorum.is_none() && exceeds_two_thirds(*stake, self.total) {
            votes.quorum = Some(value.clone());
            return VoteOutcome::Quorum { value };
        }
        VoteOutcome::Counted
    }

    /// Stake counted for `value` in `epoch`.
    pub fn stake_for(&self, epoch: u64, value: &V) -> U256 {
        self.epochs.get(&epoch).and_then(|e| e.stake.get(value)).copied().unwrap_or_default()
    }

    /// The value that reached quorum in `epoch`, if any.
    pub fn quorum(&self, epoch: u64) -> Option<&V> {
        self.epochs.get(&epoch).and_then(|e| e.quorum.as_ref())
    }

    /// Voters (ascending) counted for `value` in `epoch`.
    pub fn voters_for(&self, epoch: u64, value: &V) -> Vec<ValidatorIndex> {
        self.epochs.get(&epoch).map_or_else(Vec::new, |e| {
            e.by_voter.iter().filter(|(_, v)| *v == value).map(|(i, _)| *i).collect()
        })
    }

    /// The distinct values voted for in `epoch` (ascending).
    pub fn values(&self, epoch: u64) -> Vec<V> {
        self.epochs.get(&epoch).map_or_else(Vec::new, |e| e.stake.keys().cloned().collect())
    }

    /// Forgets every epoch below `epoch` (bounded memory).
    pub fn prune_below(&mut self, epoch: u64) {
        self.epochs = self.epochs.split_off(&epoch);
    }

    /// Number of epochs tracked.
    pub fn epochs_tracked(&self) -> usize {
        self.epochs.len()
    }
}

/// An EpochChange threshold crossed (Algorithm 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochThreshold {
    /// More than 1/3 of the stake asks for epoch `.0` or later: join the request.
    Join(u64),
    /// More than 2/3 of the stake asks for epoch `.0` or later: enter it.
    Enter(u64),
}

/// EpochChange requests: each validator's highest requested epoch (one slot per
/// validator, so memory is bounded by the set size whatever epochs are claimed).
///
/// Two kinds of request are kept apart. An *explicit* request is a signed EpochChange
/// (sent on timeout): it counts for both thresholds. A vote in epoch `t` is an
/// *implicit* request for `t + 1` ("after voting", Algorithm 1): it counts towards
/// entering `t + 1` but not towards the 1/3 join rule, so validators whose proposal is
/// merely late are not dragged out of an epoch that is about to certify a block.
#[derive(Clone, Debug)]
pub struct EpochTally {
    stakes: Vec<U256>,
    total: U256,
    explicit: Vec<u64>,
    any: Vec<u64>,
    joined: u64,
    entered: u64,
    /// Stake whose explicit request is above `joined` (kept up to date per request, so
    /// the common request that moves nothing costs O(1)).
    explicit_above: U256,
    /// Stake whose request of any kind is above `entered`.
    any_above: U256,
}

impl EpochTally {
    /// A tally for voters with `stakes`; thresholds at or below `floor` are not emitted.
    pub fn new(stakes: Vec<U256>, floor: u64) -> Self {
        let total = stakes.iter().fold(U256::zero(), |a, s| a.saturating_add(*s));
        let n = stakes.len();
        EpochTally {
            stakes,
            total,
            explicit: vec![0; n],
            any: vec![0; n],
            joined: floor,
            entered: floor,
            explicit_above: U256::zero(),
            any_above: U256::zero(),
        }
    }

    /// Recomputes the running sums (after a level or the stakes changed).
    fn recount(&mut self) {
        self.explicit_above = stake_above(&self.explicit, &self.stakes, self.joined);
        self.any_above = stake_above(&self.any, &self.stakes, self.entered);
    }

    /// Replaces the stakes (same number of voters: a set change over one validator
    /// universe) and returns the thresholds the recorded requests now cross.
    pub fn restake(&mut self, stakes: Vec<U256>) -> Vec<EpochThreshold> {
        if stakes.len() != self.stakes.len() {
            return Vec::new();
        }
        self.total = stakes.iter().fold(U256::zero(), |a, s| a.saturating_add(*s));
        self.stakes = stakes;
        self.recount();
        self.thresholds()
    }

    /// Records a signed EpochChange by `voter` for `epoch`; returns the thresholds newly
    /// crossed (each level reported once, for the highest epoch it reaches, `Join` first).
    pub fn add(&mut self, voter: ValidatorIndex, epoch: u64) -> Vec<EpochThreshold> {
        let i = voter as usize;
        let (Some(e), Some(a)) = (self.explicit.get_mut(i), self.any.get_mut(i)) else { return Vec::new() };
        if epoch <= *e {
            return Vec::new();
        }
        let stake = self.stakes.get(i).copied().unwrap_or_default();
        if *e <= self.joined && epoch > self.joined {
            self.explicit_above = self.explicit_above.saturating_add(stake);
        }
        if *a <= self.entered && epoch > self.entered {
            self.any_above = self.any_above.saturating_add(stake);
        }
        *e = epoch;
        *a = (*a).max(epoch);
        self.thresholds()
    }

    /// Records that `voter` voted in `epoch − 1`, an implicit request for `epoch`.
    pub fn add_implicit(&mut self, voter: ValidatorIndex, epoch: u64) -> Vec<EpochThreshold> {
        let Some(a) = self.any.get_mut(voter as usize) else { return Vec::new() };
        if epoch <= *a {
            return Vec::new();
        }
        if *a <= self.entered && epoch > self.entered {
            let stake = self.stakes.get(voter as usize).copied().unwrap_or_default();
            self.any_above = self.any_above.saturating_add(stake);
        }
        *a = epoch;
        self.thresholds()
    }

    fn thresholds(&mut self) -> Vec<EpochThreshold> {
        let mut out = Vec::new();
        // O(1) pre-checks on the running sums: a level can only move if the stake asking
        // for more than its current epoch already passes it (the common case of late
        // votes skips the sort below).
        let join_moves = exceeds_one_third(self.explicit_above, self.total);
        let enter_moves = exceeds_two_thirds(self.any_above, self.total);
        if !join_moves && !enter_moves {
            return out;
        }
        let join = if join_moves {
            highest_with(&self.explicit, &self.stakes, self.total, exceeds_one_third)
        } else {
            None
        };
        if let Some(e) = join.filter(|&e| e > self.joined) {
            self.joined = e;
            out.push(EpochThreshold::Join(e));
        }
        let enter = if enter_moves {
            highest_with(&self.any, &self.stakes, self.total, exceeds_two_thirds)
        } else {
            None
        };
        if let Some(e) = enter.filter(|&e| e > self.entered) {
            self.entered = e;
            out.push(EpochThreshold::Enter(e));
        }
        if !out.is_empty() {
            self.recount();
        }
        out
    }

    /// The largest epoch `t` such that the validators asking (explicitly, or also by
    /// voting when `implicit`) for `t` or later pass `pred(stake, total)`.
    pub fn highest(&self, implicit: bool, pred: impl Fn(U256, U256) -> bool) -> Option<u64> {
        highest_with(if implicit { &self.any } else { &self.explicit }, &self.stakes, self.total, pred)
    }

    /// The highest epoch `voter` asked for explicitly.
    pub fn requested(&self, voter: ValidatorIndex) -> u64 {
        self.explicit.get(voter as usize).copied().unwrap_or(0)
    }

    /// Marks epochs up to `epoch` as already entered (after entering by another route).
    pub fn entered(&mut self, epoch: u64) {
        if epoch > self.entered || epoch > self.joined {
            self.entered = self.entered.max(epoch);
            self.joined = self.joined.max(epoch);
            self.recount();
        }
    }
}

/// Stake of the validators asking for more than `level`.
fn stake_above(asks: &[u64], stakes: &[U256], level: u64) -> U256 {
    asks.iter()
        .zip(stakes)
        .filter(|(a, _)| **a > level)
        .fold(U256::zero(), |acc, (_, s)| acc.saturating_add(*s))
}

fn highest_with(
    asks: &[u64],
    stakes: &[U256],
    total: U256,
    pred: impl Fn(U256, U256) -> bool,
) -> Option<u64> {
    let mut asks: Vec<(u64, U256)> =
        asks.iter().copied().zip(stakes.iter().copied()).filter(|(e, _)| *e > 0).collect();
    asks.sort_unstable_by_key(|a| core::cmp::Reverse(a.0));
    let mut acc = U256::zero();
    for (e, s) in asks {
        acc = acc.saturating_add(s);
        if pred(acc, total) {
            return Some(e);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_is_emitted_once_at_the_crossing_vote() {
        let mut k = VoteKeeper::new(vec![U256::one(); 4]);
        assert_eq!(k.add(1, 0, 'a'), VoteOutcome::Counted);
        assert_eq!(k.add(1, 0, 'a'), VoteOutcome::Duplicate);
        assert_eq!(k.add(1, 0, 'b'), VoteOutcome::Conflict { previous: 'a' });
        assert_eq!(k.add(1, 1, 'a'), VoteOutcome::Counted);
        assert_eq!(k.add(1, 2, 'a'), VoteOutcome::Quorum { value: 'a' });
        assert_eq!(k.add(1, 3, 'a'), VoteOutcome::Counted);
        assert_eq!(k.add(1, 9, 'a'), VoteOutcome::NotAMember);
        assert_eq!(k.stake_for(1, &'a'), U256::from(4));
        k.prune_below(2);
        assert_eq!(k.epochs_tracked(), 0);
    }

    #[test]
    fn restake_recounts_the_recorded_requests() {
        let mut t = EpochTally::new(vec![U256::one(); 4], 1);
        assert_eq!(t.add(0, 5), vec![]);
        assert_eq!(t.add(1, 5), vec![EpochThreshold::Join(5)]);
        // Same requests, new stakes: 0 and 1 now hold 10 of 12.
        assert_eq!(
            t.restake(vec![U256::from(5), U256::from(5), U256::one(), U256::one()]),
            vec![EpochThreshold::Enter(5)]
        );
        // A wrong length changes nothing.
        assert_eq!(t.restake(vec![U256::one(); 3]), vec![]);
        // Below the new level, a late request moves nothing; above it, the sums follow.
        assert_eq!(t.add_implicit(2, 5), vec![]);
        assert_eq!(t.add(2, 6), vec![]);
        assert_eq!(t.add(0, 6), vec![EpochThreshold::Join(6)]);
        assert_eq!(t.add(1, 6), vec![EpochThreshold::Enter(6)]);
    }

    #[test]
    fn epoch_thresholds_join_then_enter() {
        let mut t = EpochTally::new(vec![U256::one(); 4], 1);
        assert!(t.add(0, 2).is_empty());
        assert_eq!(t.add(1, 3), vec![EpochThreshold::Join(2)]);
        assert_eq!(t.add(2, 3), vec![EpochThreshold::Join(3), EpochThreshold::Enter(2)]);
        assert!(t.add(2, 3).is_empty());
        assert_eq!(t.add(0, 3), vec![EpochThreshold::Enter(3)]);
    }

    #[test]
    fn votes_count_for_entering_but_not_for_joining() {
        let mut t = EpochTally::new(vec![U256::one(); 4], 1);
        assert!(t.add_implicit(0, 2).is_empty());
        assert!(t.add_implicit(1, 2).is_empty(), "two votes of four must not drag the others along");
        assert_eq!(t.add_implicit(2, 2), vec![EpochThreshold::Enter(2)]);
        assert_eq!(t.add(3, 3), Vec::new());
        assert_eq!(t.add(0, 3), vec![EpochThreshold::Join(3)]);
    }
}
