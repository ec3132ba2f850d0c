//! Regression tests for the adversarial review of issue 18 (items 17–21): each test
//! reproduced its defect through the public API before the fix.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)]

mod support;

use std::collections::BTreeMap;

use mpt_refcount::codec::MAX_NODE_BYTES;
use mpt_refcount::{
    EMPTY_TRIE_ROOT, Error, H256, MAX_KEY_BYTES, MAX_VALUE_BYTES, MemoryStore, NodeStore, ProofLimits,
    Retention, SecureTrie, Trie, WriteBatch, apply, prune, verify_proof, verify_proof_with_limits,
    verify_secure_proof,
};
use support::FailingStore;

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// Counts, bytes and retained roots with their counts: everything a store can change.
type Snapshot = (Vec<(H256, u32)>, Vec<Vec<u8>>, Vec<(H256, u32)>);

fn snapshot(store: &MemoryStore) -> Snapshot {
    let nodes = store.nodes();
    let bytes = nodes.iter().map(|(h, _)| store.node(h).unwrap().unwrap()).collect();
    let roots = store.roots().unwrap().into_iter().map(|r| (r, store.root_count(&r).unwrap())).collect();
    (nodes, bytes, roots)
}

fn entries(trie: &Trie, store: &impl NodeStore) -> Map {
    trie.entries(store).unwrap().into_iter().collect()
}

// ---- item 17: an oversized value must not poison the trie ---------------------------

#[test]
fn an_oversized_value_is_refused_at_insert_and_changes_nothing() {
    let mut store = MemoryStore::new();
    let mut trie = Trie::new();
    trie.insert(&store, b"a", &[1; 40]).unwrap();
    trie.insert(&store, b"b", &[2; 40]).unwrap();
    let before = trie.clone().commit().root();
    // 64 KiB: a leaf holding it would exceed the node limit `apply` enforces.
    let big = vec![3u8; 64 * 1024];
    assert_eq!(
        trie.insert(&store, b"c", &big),
        Err(Error::ValueTooLarge { len: big.len(), limit: MAX_VALUE_BYTES })
    );
    assert_eq!(trie.pending(), 2, "the refused insert is not counted");
    let cs = trie.commit();
    assert_eq!(cs.root(), before);
    apply(&mut store, &cs).unwrap();
    assert_eq!(entries(&Trie::from_root(cs.root()), &store).len(), 2);
}

#[test]
fn the_largest_value_fits_in_every_node_that_can_hold_it() {
    // A branch with sixteen hashed children and the largest value: the biggest node the
    // trie can make. `apply` decodes it under MAX_NODE_BYTES.
    let mut store = MemoryStore::new();
    let mut trie = Trie::new();
    let max = vec![0x5a; MAX_VALUE_BYTES];
    trie.insert(&store, &[0x10], &max).unwrap();
    for n in 0..16u8 {
        trie.insert(&store, &[0x10, n << 4], &[n | 1; 40]).unwrap();
    }
    trie.insert(&store, &[0x20; MAX_KEY_BYTES], &max).unwrap();
    let cs = trie.commit();
    assert!(cs.nodes().iter().all(|(_, b)| b.len() <= MAX_NODE_BYTES));
    assert!(cs.nodes().iter().any(|(_, b)| b.len() > MAX_VALUE_BYTES + 16 * 33));
    apply(&mut store, &cs).unwrap();
    let back = Trie::from_root(cs.root());
    assert_eq!(back.get(&store, &[0x10]).unwrap(), Some(max.clone()));
    assert_eq!(back.get(&store, &[0x20; MAX_KEY_BYTES]).unwrap(), Some(max));
}

#[test]
fn a_refused_apply_leaves_the_trie_usable() {
    let mut base_store = FailingStore::new(MemoryStore::new());
    let (mut base, model) = forty_keys(&base_store);
    apply(&mut base_store, &base.commit()).unwrap();

    // Fail the apply of the next changeset at every store call in turn.
    let mut failures = 0;
    for k in 0.. {
        let mut store = base_store.clone();
        let mut trie = base.clone();
        trie.insert(&store, &[1, 1], &[0xee; 40]).unwrap();
        trie.insert(&store, &[0x77], b"new small").unwrap();
        let lost = trie.commit();
        let before = snapshot(&store.inner);
        store.fail_at(k);
        if apply(&mut store, &lost).is_ok() {
            assert!(store.armed(), "the apply made fewer than {k} calls");
            break;
        }
        failures += 1;
        assert_eq!(snapshot(&store.inner), before, "a refused apply writes nothing (k = {k})");

        // Without telling the trie, the next changeset points at the lost nodes.
        let mut unaware = trie.clone();
        unaware.insert(&store, &[2, 2], &[0xdd; 40]).unwrap();
        assert!(matches!(apply(&mut store, &unaware.commit()), Err(Error::MissingNode { .. })));
        assert_eq!(snapshot(&store.inner), before);

        // Told, the trie re-emits them, also after further updates.
        trie.mark_unapplied(&lost);
        assert!(trie.pending() > 0, "unapplied work counts as pending");
        assert!(matches!(trie.unload(), Err(Error::Uncommitted { .. })), "unload would lose it");
        trie.insert(&store, &[2, 2], &[0xdd; 40]).unwrap();
        let cs = trie.commit();
        apply(&mut store, &cs).unwrap();
        let want = with(&model, &[(&[1, 1], &[0xee; 40]), (&[0x77], b"new small"), (&[2, 2], &[0xdd; 40])]);
        assert_eq!(entries(&Trie::from_root(cs.root()), &store), want, "k = {k}");
        // The trie's cache and the store agree: one more commit changes nothing.
        assert!(trie.commit().is_empty());
    }
    assert!(failures >= 3, "every call of the apply was failed once ({failures})");
}

#[test]
fn mark_unapplied_works_in_any_order_for_several_lost_changesets() {
    let mut store = MemoryStore::new();
    let mut trie = SecureTrie::new();
    for i in 0..30u32 {
        trie.insert(&store, &i.to_be_bytes(), &[7; 50]).unwrap();
    }
    apply(&mut store, &trie.commit()).unwrap();
    trie.insert(&store, &1u32.to_be_bytes(), &[8; 50]).unwrap();
    let first = trie.commit();
    trie.insert(&store, &2u32.to_be_bytes(), &[9; 50]).unwrap();
    let second = trie.commit();
    // Neither was applied; report them oldest first (the order that needs the whole walk).
    trie.mark_unapplied(&first);
    trie.mark_unapplied(&second);
    let cs = trie.commit();
    apply(&mut store, &cs).unwrap();
    let back = SecureTrie::from_root(cs.root());
    assert_eq!(back.get(&store, &1u32.to_be_bytes()).unwrap(), Some(vec![8; 50]));
    assert_eq!(back.get(&store, &2u32.to_be_bytes()).unwrap(), Some(vec![9; 50]));
    assert_eq!(back.get(&store, &3u32.to_be_bytes()).unwrap(), Some(vec![7; 50]));
}

// ---- item 18: a failed store read leaves the trie unchanged -------------------------

/// A stored trie whose deletions collapse branches into stored siblings of every kind
/// (leaf, extension, branch) and whose insertions split stored nodes.
fn stored_fixture() -> (MemoryStore, H256, Map) {
    let mut store = MemoryStore::new();
    let mut trie = Trie::new();
    let mut model = Map::new();
    let keys: Vec<Vec<u8>> = vec![
        vec![0x10],
        vec![0x20],
        vec![0x21, 0x00],
        vec![0x21, 0x01],
        vec![0x30, 0x00, 0x00],
        vec![0x30, 0x00, 0x01],
        vec![0x30, 0x10],
        vec![0x40],
        vec![0x40, 0x01],
        vec![0x50, 0x00, 0x00, 0x00],
        vec![0x50, 0x00, 0x00, 0x01],
        vec![0x60],
        vec![0x60, 0x00, 0x10],
        vec![0x60, 0x00, 0x20],
    ];
    for (i, k) in keys.into_iter().enumerate() {
        // Long values: every node is stored under its hash.
        let v = vec![i as u8 + 1; 40];
        trie.insert(&store, &k, &v).unwrap();
        model.insert(k, v);
    }
    let cs = trie.commit();
    apply(&mut store, &cs).unwrap();
    (store, cs.root(), model)
}

#[derive(Debug, Clone)]
enum Mutation {
    Insert(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

fn mutations(model: &Map) -> Vec<Mutation> {
    let mut out: Vec<Mutation> = model.keys().cloned().map(Mutation::Delete).collect();
    for k in [vec![0x10, 0x00], vec![0x22], vec![0x30, 0x00], vec![0x50, 0x00], vec![0x99], vec![0x60, 0x00]]
    {
        out.push(Mutation::Insert(k.clone(), vec![0xaa; 40]));
        out.push(Mutation::Insert(k, vec![0xab]));
        out.push(Mutation::Delete(vec![0x60, 0x00, 0x30]));
    }
    out
}

#[test]
fn a_store_failure_at_any_call_leaves_insert_and_delete_undone() {
    let (mut store, root, model) = stored_fixture();
    let mut total_failures = 0;
    let all = mutations(&model);
    for m in &all {
        // Two starting points: a trie read lazily from the store, and one whose path
        // nodes are partly in memory already.
        for warm in [false, true] {
            let mut failures = 0;
            for k in 0.. {
                let mut trie = Trie::from_root(root);
                if warm {
                    trie.insert(&store, &[0x21, 0x00], &[0x0c; 40]).unwrap();
                }
                let mut want_before = model.clone();
                if warm {
                    want_before.insert(vec![0x21, 0x00], vec![0x0c; 40]);
                }
                let root_before = trie.root_hash();
                let pending = trie.pending();
                let failing = FailingStore::new(store.clone());
                failing.fail_at(k);
                let result = match m {
                    Mutation::Insert(key, v) => trie.insert(&failing, key, v).map(|_| ()),
                    Mutation::Delete(key) => trie.delete(&failing, key).map(|_| ()),
                };
                if result.is_ok() {
                    assert!(failing.armed(), "{m:?}: fewer than {k} calls");
                    break;
                }
                failures += 1;
                assert!(matches!(result, Err(Error::Store { .. })), "{m:?} k={k}: {result:?}");
                // Nothing changed: contents, root, pending count.
                assert_eq!(entries(&trie, &store), want_before, "{m:?} (warm {warm}) failing at call {k}");
                assert_eq!(trie.root_hash(), root_before, "{m:?} k={k}");
                assert_eq!(trie.pending(), pending);
                // And the same operation, retried, works and commits what the model says.
                let mut want = want_before.clone();
                match m {
                    Mutation::Insert(key, v) => {
                        trie.insert(&store, key, v).unwrap();
                        want.insert(key.clone(), v.clone());
                    }
                    Mutation::Delete(key) => {
                        trie.delete(&store, key).unwrap();
                        want.remove(key);
                    }
                }
                let cs = trie.commit();
                apply(&mut store, &cs).unwrap();
                assert_eq!(entries(&Trie::from_root(cs.root()), &store), want, "{m:?} k={k}");
                prune(&mut store, cs.root()).unwrap();
            }
            total_failures += failures;
        }
    }
    assert!(total_failures > 2 * all.len(), "{total_failures} injected failures");
    assert_eq!(store.nodes(), stored_fixture().0.nodes(), "the retries left nothing behind");
}

#[test]
fn deleting_next_to_an_unreadable_sibling_is_a_typed_error_not_a_lost_key() {
    // The defect: the sibling a collapsing branch merges with was read after the key was
    // removed; a read error then dropped the sibling from the trie.
    let (store, root, model) = stored_fixture();
    let mut trie = Trie::from_root(root);
    let failing = FailingStore::new(store.clone());
    // Resolve the path to [0x21, 0x00] first, so the only read left is the sibling.
    assert_eq!(trie.get(&store, &[0x21, 0x01]).unwrap(), Some(vec![4; 40]));
    trie.insert(&store, &[0x21, 0x00], &[3; 40]).unwrap(); // no change, nodes now in memory
    let calls = {
        let probe = FailingStore::new(store.clone());
        trie.clone().delete(&probe, &[0x21, 0x00]).unwrap();
        probe.calls.get()
    };
    assert!(calls >= 1);
    failing.fail_at(calls - 1);
    assert!(matches!(trie.delete(&failing, &[0x21, 0x00]), Err(Error::Store { .. })));
    assert_eq!(entries(&trie, &store), model, "the sibling [0x21, 0x01] is still there");
}

// ---- item 19: retained roots are counted --------------------------------------------

#[test]
fn two_owners_of_one_root_each_need_their_prune() {
    let mut store = MemoryStore::new();
    let mut a = Trie::new();
    let mut b = Trie::new();
    for t in [&mut a, &mut b] {
        for i in 0..20u8 {
            t.insert(&store, &[i], &[i; 40]).unwrap();
        }
    }
    let ca = a.commit();
    let cb = b.commit();
    assert_eq!(ca.root(), cb.root());
    let first = apply(&mut store, &ca).unwrap();
    assert_eq!((first.already_retained, first.retained), (false, 1));
    let nodes = store.len();
    let second = apply(&mut store, &cb).unwrap();
    assert_eq!((second.already_retained, second.retained, second.inserted), (true, 2, 0));
    assert_eq!(store.len(), nodes, "stored once");
    assert_eq!(store.root_count(&ca.root()).unwrap(), 2);
    assert_eq!(store.refcount(&ca.root()).unwrap(), 2);

    // The first owner's prune leaves the second owner's state whole.
    let p = prune(&mut store, ca.root()).unwrap();
    assert_eq!((p.deleted, p.retained), (0, 1));
    assert_eq!(store.len(), nodes);
    assert_eq!(Trie::from_root(cb.root()).entries(&store).unwrap().len(), 20);
    // The second prune frees it; a third does nothing.
    let p = prune(&mut store, cb.root()).unwrap();
    assert_eq!((p.deleted, p.retained), (nodes, 0));
    assert!(store.is_empty());
    assert!(prune(&mut store, cb.root()).unwrap().not_retained);
}

#[test]
fn two_policies_sharing_a_store_and_a_root_keep_each_others_state() {
    let mut store = MemoryStore::new();
    let mut p1 = Retention::new(1);
    let mut p2 = Retention::new(1);
    let mut t1 = SecureTrie::new();
    let mut t2 = SecureTrie::new();
    // An identical storage trie in both, then the first moves on.
    for t in [&mut t1, &mut t2] {
        t.insert(&store, b"slot", &[1; 40]).unwrap();
    }
    let c1 = t1.commit();
    let c2 = t2.commit();
    p1.commit(&mut store, &c1).unwrap();
    p2.commit(&mut store, &c2).unwrap();
    // A no-change commit: the policy shares its one retention of the root.
    p2.commit(&mut store, &t2.commit()).unwrap();
    assert_eq!(store.root_count(&c1.root()).unwrap(), 2);
    t1.insert(&store, b"slot", &[2; 40]).unwrap();
    let pruned = p1.commit(&mut store, &t1.commit()).unwrap();
    assert_eq!(pruned.len(), 1);
    assert_eq!(SecureTrie::from_root(c2.root()).get(&store, b"slot").unwrap(), Some(vec![1; 40]));
    // Recovery by the second policy alone keeps one retention of its root.
    let (_, pruned) = Retention::recover(&mut store, 1, &[c2.root()], &[]).unwrap();
    assert_eq!(pruned.len(), 1, "the first policy's root, which this policy does not know");
    assert_eq!(store.roots().unwrap(), vec![c2.root()]);
    assert_eq!(store.root_count(&c2.root()).unwrap(), 1);
}

#[test]
fn recover_drops_an_apply_that_landed_twice() {
    let mut store = MemoryStore::new();
    let mut trie = Trie::new();
    trie.insert(&store, b"k", &[1; 40]).unwrap();
    let cs = trie.commit();
    apply(&mut store, &cs).unwrap();
    apply(&mut store, &cs).unwrap(); // replayed after a crash: two retentions
    let (policy, pruned) = Retention::recover(&mut store, 4, &[cs.root()], &[]).unwrap();
    assert_eq!(pruned.len(), 1);
    assert!(policy.is_retained(&cs.root()));
    assert_eq!(store.root_count(&cs.root()).unwrap(), 1);
    assert_eq!(store.refcount(&cs.root()).unwrap(), 1);
}

#[test]
fn a_write_batch_sets_retention_counts() {
    let mut store = MemoryStore::new();
    let h = H256::repeat_byte(7);
    store
        .write(WriteBatch {
            nodes: vec![(h, mpt_refcount::NodeWrite::Put { bytes: vec![0xc2, 0x20, 0x01], refcount: 3 })],
            roots: vec![(h, 3)],
        })
        .unwrap();
    assert_eq!(store.root_count(&h).unwrap(), 3);
    assert!(store.is_root(&h).unwrap());
    store.write(WriteBatch { nodes: vec![], roots: vec![(h, 0)] }).unwrap();
    assert!(!store.is_root(&h).unwrap());
    assert!(store.roots().unwrap().is_empty());
}

// ---- item 20: keys are bounded, recursion stays shallow ----------------------------

#[test]
fn a_key_over_the_bound_is_a_typed_error_and_changes_nothing() {
    let store = MemoryStore::new();
    let mut trie = Trie::new();
    trie.insert(&store, b"k", &[1; 40]).unwrap();
    let root = trie.root_hash();
    let long = vec![0u8; MAX_KEY_BYTES + 1];
    let err = Err(Error::KeyTooLong { len: MAX_KEY_BYTES + 1, limit: MAX_KEY_BYTES });
    assert_eq!(trie.insert(&store, &long, b"v"), err);
    assert_eq!(trie.insert(&store, &long, b""), err);
    assert_eq!(trie.delete(&store, &long), err.clone().map(|()| false));
    assert_eq!(trie.get(&store, &long), err.map(|()| None));
    assert_eq!(trie.pending(), 1);
    assert_eq!(trie.root_hash(), root);
    let huge = vec![0u8; 10_000];
    assert!(matches!(trie.insert(&store, &huge, b"v"), Err(Error::KeyTooLong { len: 10_000, .. })));
}

/// The deepest trie the bound allows: keys of MAX_KEY_BYTES that fork at every nibble,
/// so the path of the last key passes a branch per nibble.
fn deepest_keys() -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    for nib in 0..2 * MAX_KEY_BYTES {
        let mut k = vec![0u8; MAX_KEY_BYTES];
        k[nib / 2] |= if nib % 2 == 0 { 0x10 } else { 0x01 };
        keys.push(k);
    }
    keys.push(vec![0u8; MAX_KEY_BYTES]);
    keys
}

#[test]
fn the_deepest_trie_the_key_bound_allows_runs_on_a_small_stack() {
    // Insert, hash, commit, apply, iterate, delete, prune and drop, on a 512 KiB stack (a
    // quarter of a test thread's default). Unoptimized frames are the large ones: this
    // debug build needs about 320 KiB here (measured), the 10,000-byte keys the bound now
    // refuses overflowed 8 MiB.
    let handle = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(|| {
            let mut store = MemoryStore::new();
            let mut trie = Trie::new();
            let keys = deepest_keys();
            for k in &keys {
                trie.insert(&store, k, &[0x42; 40]).unwrap();
            }
            let cs = trie.commit();
            assert!(cs.len() > 2 * MAX_KEY_BYTES, "{} nodes", cs.len());
            apply(&mut store, &cs).unwrap();
            let reopened = Trie::from_root(cs.root());
            assert_eq!(reopened.entries(&store).unwrap().len(), keys.len());
            let mut t = Trie::from_root(cs.root());
            for k in keys.iter().rev() {
                assert!(t.delete(&store, k).unwrap());
            }
            assert_eq!(t.root_hash(), EMPTY_TRIE_ROOT);
            prune(&mut store, cs.root()).unwrap();
            assert!(store.is_empty());
            drop(trie);
        })
        .unwrap();
    handle.join().unwrap();
}

// ---- item 21: a commit with no change is empty --------------------------------------

#[test]
fn a_no_change_commit_of_an_inline_root_is_empty() {
    let mut store = MemoryStore::new();
    let mut trie = Trie::new();
    trie.insert(&store, b"a", b"x").unwrap();
    let cs = trie.commit();
    assert_eq!(cs.len(), 1, "the small root, stored under its hash");
    assert!(cs.nodes()[0].1.len() < 32);
    apply(&mut store, &cs).unwrap();
    let again = trie.commit();
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(again.root(), cs.root());
    // A change back and forth makes the root new again: it is emitted again.
    trie.insert(&store, b"a", b"y").unwrap();
    trie.insert(&store, b"a", b"x").unwrap();
    let back = trie.commit();
    assert_eq!(back.root(), cs.root());
    assert_eq!(back.len(), 1);
    // A small root read from the store commits nothing either.
    let mut reopened = Trie::from_root(cs.root());
    assert_eq!(reopened.get(&store, b"a").unwrap(), Some(b"x".to_vec()));
    assert!(reopened.commit().is_empty());
    // And a failed apply of an inline root is re-emitted once marked.
    trie.insert(&store, b"a", b"z").unwrap();
    let lost = trie.commit();
    assert_eq!(lost.len(), 1);
    assert!(trie.commit().is_empty());
    trie.mark_unapplied(&lost);
    let redo = trie.commit();
    assert_eq!(redo, lost);
}

// ---- review: Retention::recover and the safe commit path --------------------------

#[test]
fn recover_refuses_to_keep_a_root_the_store_does_not_hold_and_changes_nothing() {
    // Given a store that holds root A only: the host's block index also names B, whose
    // apply never landed (the crash came between writing the index and the apply).
    let mut store = MemoryStore::new();
    let mut trie = Trie::new();
    trie.insert(&store, b"a", &[1; 40]).unwrap();
    let a = trie.commit();
    apply(&mut store, &a).unwrap();
    trie.insert(&store, b"b", &[2; 40]).unwrap();
    let b = trie.commit();
    // A leftover extra retention of A, which recover would normally prune.
    apply(&mut store, &a).unwrap();
    let before = snapshot(&store);
    // When the policy is rebuilt with B in its window (or pinned), then recovery is a
    // typed error naming B and nothing was pruned: a policy believing it keeps a state
    // nobody stores would fail only later, on a read, with MissingNode.
    let r = Retention::recover(&mut store, 4, &[a.root(), b.root()], &[]);
    assert_eq!(r.err(), Some(Error::RootNotStored { root: b.root() }));
    let r = Retention::recover(&mut store, 4, &[a.root()], &[b.root()]);
    assert_eq!(r.err(), Some(Error::RootNotStored { root: b.root() }));
    assert_eq!(snapshot(&store), before);
    // The empty root needs no storage; naming A and the empty root recovers.
    let (policy, pruned) = Retention::recover(&mut store, 4, &[EMPTY_TRIE_ROOT, a.root()], &[]).unwrap();
    assert_eq!(pruned.len(), 1);
    assert!(policy.is_retained(&a.root()) && policy.is_retained(&EMPTY_TRIE_ROOT));
    assert_eq!(store.root_count(&a.root()).unwrap(), 1);
}

/// A trie of forty keys `[i, i] → [i; 40]`, not committed, and its model.
fn forty_keys(store: &impl NodeStore) -> (Trie, Map) {
    let mut trie = Trie::new();
    let mut model = Map::new();
    for i in 0..40u8 {
        trie.insert(store, &[i, i], &[i; 40]).unwrap();
        model.insert(vec![i, i], vec![i; 40]);
    }
    (trie, model)
}

/// `model` with `entries` inserted.
fn with(model: &Map, entries: &[(&[u8], &[u8])]) -> Map {
    let mut m = model.clone();
    m.extend(entries.iter().map(|(k, v)| (k.to_vec(), v.to_vec())));
    m
}

#[test]
fn commit_to_marks_a_failed_apply_itself_at_every_failing_call() {
    let mut base_store = FailingStore::new(MemoryStore::new());
    let (mut base, model) = forty_keys(&base_store);
    base.commit_to(&mut base_store).unwrap();
    let mut failures = 0;
    for k in 0.. {
        let mut store = base_store.clone();
        let mut trie = base.clone();
        trie.insert(&store, &[1, 1], &[0xee; 40]).unwrap();
        trie.insert(&store, &[0x77], b"new small").unwrap();
        let before = snapshot(&store.inner);
        store.fail_at(k);
        if trie.commit_to(&mut store).is_ok() {
            assert!(store.armed(), "the apply made fewer than {k} calls");
            break;
        }
        failures += 1;
        assert_eq!(snapshot(&store.inner), before, "a failed commit_to writes nothing (k = {k})");
        // No mark_unapplied by the caller: the next commit_to stores everything.
        trie.insert(&store, &[2, 2], &[0xdd; 40]).unwrap();
        let (root, _) = trie.commit_to(&mut store).unwrap();
        let want = with(&model, &[(&[1, 1], &[0xee; 40]), (&[0x77], b"new small"), (&[2, 2], &[0xdd; 40])]);
        assert_eq!(entries(&Trie::from_root(root), &store), want, "k = {k}");
        // Two retentions (base and new root): pruning both leaves the store empty.
        prune(&mut store, base.clone().root_hash()).unwrap();
        prune(&mut store, root).unwrap();
        assert!(store.inner.is_empty(), "k = {k}: no node leaked or double counted");
    }
    assert!(failures >= 3, "every call of the apply was failed once ({failures})");
}

#[test]
fn retention_commit_trie_marks_a_failed_apply_itself_at_every_failing_call() {
    let mut base_store = FailingStore::new(MemoryStore::new());
    let mut base_policy = Retention::new(1);
    let (mut base, model) = forty_keys(&base_store);
    base_policy.commit_trie(&mut base_store, &mut base).unwrap();
    let mut apply_failures = 0;
    for k in 0.. {
        let mut store = base_store.clone();
        let mut policy = base_policy.clone();
        let mut trie = base.clone();
        trie.insert(&store, &[1, 1], &[0xee; 40]).unwrap();
        let before = snapshot(&store.inner);
        store.fail_at(k);
        match policy.commit_trie(&mut store, &mut trie) {
            Ok(_) => {
                assert!(store.armed(), "commit_trie made fewer than {k} calls");
                break;
            }
            Err(_) if snapshot(&store.inner) == before => apply_failures += 1,
            // The prune of the old root failed after the apply landed: the new root is
            // kept; recovery prunes the old one.
            Err(_) => {
                assert!(policy.is_retained(&trie.root_hash()));
                let recent: Vec<H256> = policy.recent().copied().collect();
                Retention::recover(&mut store, 1, &recent, &[]).unwrap();
                assert_eq!(store.inner.roots().unwrap(), vec![trie.root_hash()]);
                continue;
            }
        }
        assert!(trie.pending() > 0, "k = {k}: the trie was told its changeset was lost");
        // The caller does nothing but commit again.
        trie.insert(&store, &[2, 2], &[0xdd; 40]).unwrap();
        let (root, _) = policy.commit_trie(&mut store, &mut trie).unwrap();
        let want = with(&model, &[(&[1, 1], &[0xee; 40]), (&[2, 2], &[0xdd; 40])]);
        assert_eq!(entries(&Trie::from_root(root), &store), want, "k = {k}");
        assert_eq!(store.inner.roots().unwrap(), vec![root], "k = {k}: the window holds one root");
    }
    assert!(apply_failures >= 3, "every call of the apply was failed once ({apply_failures})");
}

#[test]
fn mark_unapplied_misused_twice_or_for_an_applied_changeset_keeps_counts_exact() {
    let mut store = MemoryStore::new();
    let mut trie = Trie::new();
    for i in 0..30u8 {
        trie.insert(&store, &[i, 7], &[i; 40]).unwrap();
    }
    let first = trie.commit();
    apply(&mut store, &first).unwrap();
    // Misuse: the applied changeset is handed back, twice.
    trie.mark_unapplied(&first);
    trie.mark_unapplied(&first);
    trie.insert(&store, &[3, 7], &[0xaa; 40]).unwrap();
    let second = trie.commit();
    assert!(second.len() > 2, "the applied nodes are emitted again");
    apply(&mut store, &second).unwrap();
    assert_eq!(Trie::from_root(second.root()).get(&store, &[3, 7]).unwrap(), Some(vec![0xaa; 40]));
    assert_eq!(Trie::from_root(first.root()).get(&store, &[3, 7]).unwrap(), Some(vec![3; 40]));
    // Prune the first root while the re-emitted nodes are still in flight for a third
    // commit: they are stored anew where the prune deleted them.
    trie.mark_unapplied(&second);
    trie.insert(&store, &[4, 7], &[0xbb; 40]).unwrap();
    let third = trie.commit();
    prune(&mut store, first.root()).unwrap();
    apply(&mut store, &third).unwrap();
    prune(&mut store, second.root()).unwrap();
    let t = Trie::from_root(third.root());
    assert_eq!(t.entries(&store).unwrap().len(), 30);
    prune(&mut store, third.root()).unwrap();
    assert!(store.is_empty(), "every count went back to zero: none was counted twice");
}

// ---- review: the key/value bounds through proofs ------------------------------------

/// A plain trie whose keys are prefixes of each other (`k[..1]`, `k[..2]`, …), each with
/// a value of the largest size: every node on the path to the longest key is a branch
/// that holds a value of ~63 KiB.
fn prefix_keys_with_largest_values(depth: usize) -> (MemoryStore, Trie, Vec<u8>) {
    let mut store = MemoryStore::new();
    let mut trie = Trie::new();
    let key: Vec<u8> = (1..=depth as u8).collect();
    for len in 1..=depth {
        trie.insert(&store, &key[..len], &vec![len as u8; MAX_VALUE_BYTES]).unwrap();
    }
    trie.commit_to(&mut store).unwrap();
    (store, trie, key)
}

#[test]
fn every_proof_the_trie_generates_verifies_within_the_limits_it_documents() {
    // Five prefix keys: a proof of about 5 × 63 KiB, over the default 256 KiB.
    let (store, mut trie, key) = prefix_keys_with_largest_values(5);
    let root = trie.root_hash();
    let proof = trie.prove(&store, &key).unwrap();
    let bytes: usize = proof.iter().map(Vec::len).sum();
    assert!(bytes > 256 * 1024, "{bytes}");
    // The default limits are for hostile input and documented as such: refused, typed.
    assert!(matches!(verify_proof(root, &key, &proof), Err(Error::ProofTooLarge { .. })));
    // The limits that cover every trie the key and value bounds allow accept it.
    let any = ProofLimits::any_trie();
    assert_eq!(verify_proof_with_limits(root, &key, &proof, &any).unwrap(), Some(vec![5; MAX_VALUE_BYTES]));
    // A deeper one (every node on the path a branch of ~63 KiB) fits them too; the whole
    // 64-key depth takes a few seconds in a debug build: see the ignored variant.
    let (store, mut trie, key) = prefix_keys_with_largest_values(12);
    let root = trie.root_hash();
    let proof = trie.prove(&store, &key).unwrap();
    assert_eq!(verify_proof_with_limits(root, &key, &proof, &any).unwrap(), Some(vec![12; MAX_VALUE_BYTES]));
}

#[test]
#[ignore = "a few seconds in a debug build"]
fn the_deepest_proof_of_largest_values_fits_the_any_trie_limits() {
    let (store, mut trie, key) = prefix_keys_with_largest_values(MAX_KEY_BYTES);
    let root = trie.root_hash();
    let proof = trie.prove(&store, &key).unwrap();
    let any = ProofLimits::any_trie();
    assert!(proof.len() <= any.max_nodes && proof.iter().map(Vec::len).sum::<usize>() <= any.max_bytes);
    assert_eq!(
        verify_proof_with_limits(root, &key, &proof, &any).unwrap(),
        Some(vec![MAX_KEY_BYTES as u8; MAX_VALUE_BYTES])
    );
}

#[test]
fn every_secure_trie_proof_fits_the_default_limits() {
    // A secure trie's keys are 32-byte hashes, never prefixes of each other: one value per
    // path. The worst case: the largest value, under a deep path.
    let mut store = MemoryStore::new();
    let mut trie = SecureTrie::new();
    for i in 0..400u32 {
        trie.insert(&store, &i.to_be_bytes(), &[7; 40]).unwrap();
    }
    trie.insert(&store, b"big", &vec![9; MAX_VALUE_BYTES]).unwrap();
    trie.commit_to(&mut store).unwrap();
    let root = trie.root_hash();
    let proof = trie.prove(&store, b"big").unwrap();
    assert_eq!(verify_secure_proof(root, b"big", &proof).unwrap(), Some(vec![9; MAX_VALUE_BYTES]));
    assert_eq!(verify_secure_proof(root, b"absent", &trie.prove(&store, b"absent").unwrap()).unwrap(), None);
}
