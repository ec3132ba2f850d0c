//! Model-based properties against a `BTreeMap`: random sequences of insert, delete,
//! commit, prune, reopen and replays. After every step:
//!
//! * every retained root reads back exactly its map (point reads and ordered iteration);
//! * the store holds exactly the nodes reachable from retained roots, each with a count
//!   equal to its stored parents plus one if it is a retained root (no leak, no premature
//!   delete);
//! * proofs verify for present keys and prove absence for absent keys.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use mpt_refcount::codec::decode_node;
use mpt_refcount::{
    Bookkeeper, ChangeSet, EMPTY_TRIE_ROOT, Error, H256, MemoryStore, NodeStore, Retention, SecureTrie, Trie,
    apply, prune, verify_proof, verify_secure_proof,
};
use proptest::prelude::*;

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Debug, Clone)]
enum Op {
    Insert(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Commit,
    /// Prune the i-th retained root (never the trie's base).
    Prune(usize),
    /// Reopen the trie at the i-th retained root, dropping uncommitted changes.
    Reopen(usize),
    /// Apply the last changeset again and prune an already pruned root again.
    Replay,
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    // A small alphabet so that keys share prefixes, collide, and end inside branches.
    prop::collection::vec(prop::sample::select(vec![0x00u8, 0x01, 0x10, 0x11, 0xab, 0xff]), 0..4)
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    // Short values give inlined nodes, long ones hashed nodes.
    prop_oneof![prop::collection::vec(any::<u8>(), 1..4), prop::collection::vec(any::<u8>(), 28..60)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (key(), value()).prop_map(|(k, v)| Op::Insert(k, v)),
        2 => key().prop_map(Op::Delete),
        3 => Just(Op::Commit),
        2 => any::<usize>().prop_map(Op::Prune),
        1 => any::<usize>().prop_map(Op::Reopen),
        1 => Just(Op::Replay),
    ]
}

/// Every stored node reachable from `roots`, with the count it must have.
fn expected_counts(store: &MemoryStore, roots: &BTreeSet<H256>) -> Vec<(H256, u32)> {
    let mut counts: BTreeMap<H256, u32> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut stack: Vec<H256> = roots.iter().copied().collect();
    for r in roots {
        *counts.entry(*r).or_insert(0) += 1;
    }
    while let Some(h) = stack.pop() {
        if !seen.insert(h) {
            continue;
        }
        let bytes = store.node(&h).unwrap().unwrap_or_else(|| panic!("reachable node {h:?} was deleted"));
        decode_node(&bytes).unwrap().for_each_hash(|c| {
            *counts.entry(c).or_insert(0) += 1;
            stack.push(c);
        });
    }
    counts.into_iter().collect()
}

fn check_store(store: &MemoryStore, retained: &BTreeMap<H256, Map>) {
    let roots: BTreeSet<H256> = retained.keys().copied().filter(|r| *r != EMPTY_TRIE_ROOT).collect();
    assert_eq!(store.roots().unwrap().into_iter().collect::<BTreeSet<_>>(), roots, "retained root set");
    assert_eq!(store.nodes(), expected_counts(store, &roots), "exactly the reachable nodes, exact counts");
}

fn check_reads(store: &MemoryStore, root: H256, map: &Map, probes: &[Vec<u8>]) {
    let trie = Trie::from_root(root);
    assert_eq!(trie.entries(store).unwrap(), map.clone().into_iter().collect::<Vec<_>>(), "iteration");
    for k in probes.iter().chain(map.keys()) {
        assert_eq!(trie.get(store, k).unwrap(), map.get(k).cloned(), "get {k:?}");
        let proof = mpt_refcount::generate_proof(store, root, k).unwrap();
        assert_eq!(verify_proof(root, k, &proof).unwrap(), map.get(k).cloned(), "proof for {k:?}");
    }
}

fn run(ops: Vec<Op>) {
    let mut store = MemoryStore::new();
    let mut trie = Trie::new();
    let mut current = Map::new();
    let mut base = EMPTY_TRIE_ROOT;
    let mut retained: BTreeMap<H256, Map> = BTreeMap::new();
    retained.insert(EMPTY_TRIE_ROOT, Map::new());
    let mut last: Option<ChangeSet> = None;
    let mut pruned: Vec<H256> = Vec::new();
    // Commits and prunes share one bookkeeper (its buffers carry over between calls);
    // replays and the final cleanup go through the free functions.
    let mut books = Bookkeeper::new();
    let probes: Vec<Vec<u8>> = vec![vec![], vec![0x00], vec![0x01, 0x10], vec![0xab, 0xab, 0xab], vec![0x42]];

    for op in ops {
        match op {
            Op::Insert(k, v) => {
                trie.insert(&store, &k, &v).unwrap();
                current.insert(k, v);
            }
            Op::Delete(k) => {
                let was = trie.delete(&store, &k).unwrap();
                assert_eq!(was, current.remove(&k).is_some());
            }
            Op::Commit => {
                let cs = trie.commit();
                books.apply(&mut store, &cs).unwrap();
                base = cs.root();
                retained.insert(base, current.clone());
                last = Some(cs);
            }
            Op::Prune(i) => {
                let candidates: Vec<H256> = retained.keys().copied().filter(|r| *r != base).collect();
                if !candidates.is_empty() {
                    let r = candidates[i % candidates.len()];
                    books.prune(&mut store, r).unwrap();
                    retained.remove(&r);
                    pruned.push(r);
                }
            }
            Op::Reopen(i) => {
                let roots: Vec<H256> = retained.keys().copied().collect();
                let r = roots[i % roots.len()];
                trie = Trie::from_root(r);
                current = retained[&r].clone();
                base = r;
            }
            Op::Replay => {
                let before = store.nodes();
                if let Some(cs) = &last
                    && retained.contains_key(&cs.root())
                {
                    assert!(apply(&mut store, cs).unwrap().already_retained);
                }
                if let Some(r) = pruned.last()
                    && !retained.contains_key(r)
                {
                    assert!(prune(&mut store, *r).unwrap().not_retained);
                }
                assert_eq!(store.nodes(), before, "replays change nothing");
            }
        }
        assert_eq!(trie.get(&store, &[0xab]).unwrap(), current.get(&vec![0xab]).cloned());
        check_store(&store, &retained);
    }
    // The working trie reads its own uncommitted state.
    for k in probes.iter().chain(current.keys()) {
        assert_eq!(trie.get(&store, k).unwrap(), current.get(k).cloned());
    }
    for (root, map) in &retained {
        check_reads(&store, *root, map, &probes);
    }
    // Pruning everything leaves an empty store.
    for root in retained.keys().copied().collect::<Vec<_>>() {
        prune(&mut store, root).unwrap();
    }
    assert!(store.is_empty(), "no leak: {} nodes left", store.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn retained_roots_read_back_and_store_holds_exactly_the_reachable_nodes(ops in prop::collection::vec(op(), 1..60)) {
        run(ops);
    }

    /// Retention keeps the last N roots plus pins; the store always holds exactly them.
    #[test]
    fn retention_keeps_last_n_plus_pinned(
        keep in 1usize..4,
        steps in prop::collection::vec((prop::collection::vec((key(), value()), 0..6), any::<bool>(), any::<bool>()), 1..16),
    ) {
        let mut store = MemoryStore::new();
        let mut policy = Retention::new(keep);
        let mut trie = SecureTrie::new();
        let mut current = Map::new();
        let mut history: Vec<(H256, Map)> = Vec::new();
        let mut pins: Vec<H256> = Vec::new();
        for (writes, pin, unpin) in steps {
            for (k, v) in writes {
                trie.insert(&store, &k, &v).unwrap();
                current.insert(k, v);
            }
            let cs = trie.commit();
            policy.commit(&mut store, &cs).unwrap();
            history.push((cs.root(), current.clone()));
            if pin {
                policy.pin(cs.root()).unwrap();
                pins.push(cs.root());
            }
            if unpin && !pins.is_empty() {
                let r = pins.remove(0);
                policy.unpin(&mut store, r).unwrap();
            }
            let mut want: BTreeMap<H256, Map> = history.iter().rev().take(keep).cloned().collect();
            for p in &pins {
                let map = history.iter().find(|(r, _)| r == p).unwrap().1.clone();
                want.insert(*p, map);
            }
            assert_eq!(policy.retained().copied().collect::<BTreeSet<_>>(), want.keys().copied().collect::<BTreeSet<_>>());
            want.remove(&EMPTY_TRIE_ROOT);
            check_store(&store, &want);
            for (root, map) in &want {
                let t = SecureTrie::from_root(*root);
                for (k, v) in map {
                    prop_assert_eq!(t.get(&store, k).unwrap(), Some(v.clone()));
                    let proof = SecureTrie::from_root(*root).prove(&store, k).unwrap();
                    prop_assert_eq!(verify_secure_proof(*root, k, &proof).unwrap(), Some(v.clone()));
                }
            }
        }
    }
}

#[test]
fn apply_refuses_dangling_references_and_writes_nothing() {
    let mut store = MemoryStore::new();
    let mut trie = Trie::new();
    for i in 0..50u8 {
        trie.insert(&store, &[i, i], &[i; 40]).unwrap();
    }
    let first = trie.commit();
    trie.insert(&store, &[1, 1], &[9; 40]).unwrap();
    let second = trie.commit();
    // The second changeset points at nodes of the first, which was never applied.
    assert!(matches!(apply(&mut store, &second), Err(Error::MissingNode { .. })));
    assert!(store.is_empty());
    apply(&mut store, &first).unwrap();
    apply(&mut store, &second).unwrap();
    let nodes = store.len();
    prune(&mut store, first.root()).unwrap();
    assert!(store.len() < nodes);
    assert_eq!(Trie::from_root(second.root()).get(&store, &[1, 1]).unwrap(), Some(vec![9; 40]));
    // Reading a pruned root fails with a typed error instead of returning wrong data.
    assert!(matches!(Trie::from_root(first.root()).get(&store, &[1, 1]), Err(Error::MissingNode { .. })));
}

#[test]
fn prune_cost_is_proportional_to_the_nodes_unique_to_the_root() {
    let mut store = MemoryStore::new();
    let mut trie = SecureTrie::new();
    for i in 0..2000u32 {
        trie.insert(&store, &i.to_be_bytes(), &[7; 70]).unwrap();
    }
    let old = trie.commit();
    apply(&mut store, &old).unwrap();
    trie.insert(&store, &5u32.to_be_bytes(), &[8; 70]).unwrap();
    let new = trie.commit();
    let applied = apply(&mut store, &new).unwrap();
    let stats = prune(&mut store, old.root()).unwrap();
    // One changed key: the old path (root .. leaf) goes, siblings are only decremented.
    assert_eq!(stats.deleted, new.len());
    assert_eq!(applied.inserted, new.len());
    assert!(stats.deleted <= 5, "deleted {}", stats.deleted);
    assert!(stats.decremented <= 16 * stats.deleted);
}
