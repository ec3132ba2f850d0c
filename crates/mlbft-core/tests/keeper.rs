//! The vote keeper and the EpochChange tally against brute-force recounts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use mlbft_core::{
    EpochTally, EpochThreshold, VoteKeeper, VoteOutcome, exceeds_one_third, exceeds_two_thirds,
};
use primitives::U256;
use proptest::prelude::*;

fn stakes_strategy() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec(1u64..100, 1..9)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Invariant: each vote's outcome is exactly what a recount of the first vote per
    /// (epoch, voter) says, and a quorum is reported once per epoch, at the vote that
    /// first takes some value past 2/3 of the stake.
    #[test]
    fn keeper_matches_brute_force_recount(
        stakes in stakes_strategy(),
        ops in prop::collection::vec((0u64..3, 0u32..10, 0u8..3), 0..80),
    ) {
        let total: u64 = stakes.iter().sum();
        let mut keeper = VoteKeeper::new(stakes.iter().map(|&s| U256::from(s)).collect());
        let mut first: BTreeMap<(u64, u32), u8> = BTreeMap::new();
        let mut quorum: BTreeMap<u64, u8> = BTreeMap::new();
        for (epoch, voter, value) in ops {
            let got = keeper.add(epoch, voter, value);
            if voter as usize >= stakes.len() {
                prop_assert_eq!(got, VoteOutcome::NotAMember);
                continue;
            }
            let expected = match first.get(&(epoch, voter)) {
                Some(&v) if v == value => VoteOutcome::Duplicate,
                Some(&v) => VoteOutcome::Conflict { previous: v },
                None => {
                    first.insert((epoch, voter), value);
                    let recount: u64 = first
                        .iter()
                        .filter(|((e, _), v)| *e == epoch && **v == value)
                        .map(|((_, i), _)| stakes[*i as usize])
                        .sum();
                    if !quorum.contains_key(&epoch) && 3 * recount > 2 * total {
                        quorum.insert(epoch, value);
                        VoteOutcome::Quorum { value }
                    } else {
                        VoteOutcome::Counted
                    }
                }
            };
            prop_assert_eq!(got, expected);
        }
        for (epoch, value) in &quorum {
            prop_assert_eq!(keeper.quorum(*epoch), Some(value));
        }
    }

    /// Invariant: the tally reports `Join(t)` / `Enter(t)` exactly when the highest epoch
    /// asked for by more than 1/3 (explicit requests) / 2/3 (explicit or by voting) of the
    /// stake grows, and never twice for one level.
    #[test]
    fn epoch_tally_matches_brute_force(
        stakes in stakes_strategy(),
        ops in prop::collection::vec((0u32..9, 1u64..12, any::<bool>()), 0..60),
    ) {
        let n = stakes.len();
        let total = U256::from(stakes.iter().sum::<u64>());
        let mut tally = EpochTally::new(stakes.iter().map(|&s| U256::from(s)).collect(), 1);
        let mut explicit = vec![0u64; n];
        let mut any = vec![0u64; n];
        let (mut joined, mut entered) = (1u64, 1u64);
        let best = |asks: &[u64], pred: fn(U256, U256) -> bool| -> Option<u64> {
            (1..=12u64).rev().find(|&t| {
                let s: u64 = asks.iter().zip(&stakes).filter(|(a, _)| **a >= t).map(|(_, s)| *s).sum();
                pred(U256::from(s), total)
            })
        };
        for (voter, epoch, is_vote) in ops {
            let got = if is_vote { tally.add_implicit(voter, epoch) } else { tally.add(voter, epoch) };
            let i = voter as usize;
            if i < n {
                any[i] = any[i].max(epoch);
                if !is_vote {
                    explicit[i] = explicit[i].max(epoch);
                }
            }
            let mut expected = Vec::new();
            if let Some(j) = best(&explicit, exceeds_one_third).filter(|&j| j > joined) {
                joined = j;
                expected.push(EpochThreshold::Join(j));
            }
            if let Some(e) = best(&any, exceeds_two_thirds).filter(|&e| e > entered) {
                entered = e;
                expected.push(EpochThreshold::Enter(e));
            }
            prop_assert_eq!(got, expected);
        }
    }
}
