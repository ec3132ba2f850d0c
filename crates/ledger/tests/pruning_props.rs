//! Property test of the pruning policy: after any sequence of blocks and finalizations,
//! the store keeps the last N states, every finalized checkpoint and every state at or
//! above the last finalized height — each readable — and no node of any other state.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod exec_common;

use std::collections::{BTreeMap, BTreeSet};

use exec_common::*;
use ledger::*;
use mpt_refcount::{H256, MemoryStore, NodeStore};
use proptest::prelude::*;

fn reachable(store: &MemoryStore, roots: &[H256]) -> BTreeSet<H256> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<H256> = roots.to_vec();
    while let Some(h) = stack.pop() {
        if !seen.insert(h) {
            continue;
        }
        let bytes = store.node(&h).unwrap().unwrap_or_else(|| panic!("retained node {h:?} missing"));
        mpt_refcount::codec::for_each_child_hash(&bytes, |c| stack.push(c)).unwrap();
    }
    seen
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn retained_states_are_exactly_the_policys(steps in prop::collection::vec(prop_oneof![3 => Just(None), 1 => (0..4u64).prop_map(Some)], 1..24)) {
        let keep = 3;
        let g = Genesis::from_json(&genesis_json(3, 1_000_000, 1_000_000, &[1], &[2])).unwrap();
        let mut l = Ledger::from_genesis(MemoryStore::new(), config(), &g, PruningPolicy { keep_last: keep }).unwrap();
        let mut roots = BTreeMap::from([(0u64, l.root())]);
        let mut checkpoints = BTreeSet::new();
        let mut seq = 0;
        for step in steps {
            match step {
                None => {
                    // Account 1 sends one transfer per block.
                    seq += 1;
                    let h = l.height() + 1;
                    let out = l.execute_block(h, &[send(1, seq, 2, tfuel(1), 100)]).unwrap();
                    roots.insert(h, out.state_root);
                }
                Some(back) => {
                    let target = l.height().saturating_sub(back);
                    let ok = l.last_finalized().is_none_or(|f| target >= f);
                    let r = l.finalize(target);
                    prop_assert_eq!(r.is_ok(), ok, "finalize {}: {:?}", target, r);
                    if ok {
                        checkpoints.insert(target);
                    }
                }
            }
            let top = l.height();
            let last_final = l.last_finalized().unwrap_or(0);
            let mut must: BTreeSet<H256> = BTreeSet::new();
            for (h, r) in &roots {
                let in_window = *h + keep as u64 > top;
                if in_window || checkpoints.contains(h) || *h >= last_final {
                    must.insert(*r);
                    prop_assert_eq!(l.root_at(*h), Some(*r), "height {} must be kept", h);
                    prop_assert_eq!(l.account_at(*r, &addr(2)).is_ok(), true);
                } else {
                    prop_assert_eq!(l.root_at(*h), None, "height {} must be pruned", h);
                }
            }
            let retained: BTreeSet<H256> = l.retained_roots().into_iter().collect();
            prop_assert_eq!(&retained, &must);
            let live = reachable(l.store(), &retained.iter().copied().collect::<Vec<_>>());
            let stored: BTreeSet<H256> = l.store().nodes().into_iter().map(|(h, _)| h).collect();
            prop_assert_eq!(stored, live, "the store holds exactly the retained states' nodes");
        }
    }
}
