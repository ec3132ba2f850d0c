//! Behaviour of the public API beyond the vectors: hashing strategies, deletion by empty
//! value, cache unloading, inline roots, hostile proofs, recovery after a restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use mpt_refcount::{
    EMPTY_TRIE_ROOT, Error, Hashing, MemoryStore, NodeStore, ProofLimits, Retention, Trie, apply, prune,
    verify_proof, verify_proof_with_limits, verify_secure_proof,
};
use primitives::keccak256;

fn filled(n: u32) -> (MemoryStore, Trie) {
    let store = MemoryStore::new();
    let mut t = Trie::new();
    for i in 0..n {
        t.insert(&store, keccak256(i.to_be_bytes()).as_bytes(), &[i as u8 | 1; 40]).unwrap();
    }
    (store, t)
}

#[test]
fn parallel_and_sequential_hashing_agree() {
    let (_, mut a) = filled(5000);
    let (_, mut b) = filled(5000);
    let seq = a.commit_with(Hashing::Sequential);
    let par = b.commit_with(Hashing::Parallel);
    assert_eq!(seq.root(), par.root());
    let set = |cs: &mpt_refcount::ChangeSet| cs.nodes().iter().map(|(h, _)| *h).collect::<BTreeSet<_>>();
    assert_eq!(set(&seq), set(&par));
    assert_eq!(seq.len(), par.len());
}

#[test]
fn root_hash_then_commit_emits_every_new_node() {
    let (mut store, mut t) = filled(300);
    let root = t.root_hash();
    let cs = t.commit();
    assert_eq!(cs.root(), root);
    apply(&mut store, &cs).unwrap();
    let (_, mut fresh) = filled(300);
    assert_eq!(fresh.commit().len(), cs.len());
    // A second commit with no change creates nothing and keeps the root.
    let again = t.commit();
    assert!(again.is_empty());
    assert_eq!(again.root(), root);
}

#[test]
fn empty_value_deletes() {
    let store = MemoryStore::new();
    let mut t = Trie::new();
    t.insert(&store, b"k", b"v").unwrap();
    t.insert(&store, b"k", b"").unwrap();
    assert_eq!(t.get(&store, b"k").unwrap(), None);
    assert_eq!(t.root_hash(), EMPTY_TRIE_ROOT);
    assert!(!t.delete(&store, b"k").unwrap());
}

#[test]
fn unload_keeps_reading_from_the_store() {
    let (mut store, mut t) = filled(200);
    assert!(matches!(t.unload(), Err(Error::Uncommitted { pending: 200 })));
    let cs = t.commit();
    apply(&mut store, &cs).unwrap();
    t.unload().unwrap();
    let k = keccak256(7u32.to_be_bytes());
    assert_eq!(t.get(&store, k.as_bytes()).unwrap(), Some(vec![7; 40]));
    t.insert(&store, k.as_bytes(), b"new").unwrap();
    let cs2 = t.commit();
    apply(&mut store, &cs2).unwrap();
    prune(&mut store, cs.root()).unwrap();
    assert_eq!(Trie::from_root(cs2.root()).entries(&store).unwrap().len(), 200);
}

#[test]
fn a_small_root_is_stored_under_its_hash() {
    let mut store = MemoryStore::new();
    let mut t = Trie::new();
    t.insert(&store, b"a", b"x").unwrap();
    let cs = t.commit();
    assert_eq!(cs.len(), 1);
    assert!(cs.nodes()[0].1.len() < 32);
    apply(&mut store, &cs).unwrap();
    assert_eq!(store.len(), 1);
    assert_eq!(Trie::from_root(cs.root()).get(&store, b"a").unwrap(), Some(b"x".to_vec()));
    prune(&mut store, cs.root()).unwrap();
    assert!(store.is_empty());
}

#[test]
fn same_root_twice_is_stored_once_and_counted_twice() {
    let mut store = MemoryStore::new();
    let (_, mut a) = filled(100);
    let (_, mut b) = filled(100);
    let ca = a.commit();
    let cb = b.commit();
    assert_eq!(ca.root(), cb.root());
    apply(&mut store, &ca).unwrap();
    let n = store.len();
    let stats = apply(&mut store, &cb).unwrap();
    assert!(stats.already_retained);
    assert_eq!((stats.inserted, stats.incremented, stats.retained), (0, 1, 2));
    assert_eq!(store.len(), n);
    // Retained roots are a multiset: two owners, two counts (issue 18 item 19).
    assert_eq!(store.refcount(&ca.root()).unwrap(), 2);
    assert_eq!(store.root_count(&ca.root()).unwrap(), 2);
    prune(&mut store, ca.root()).unwrap();
    assert_eq!(store.len(), n);
    prune(&mut store, cb.root()).unwrap();
    assert!(store.is_empty());
}

#[test]
fn hostile_proofs_are_typed_errors() {
    let (mut store, mut t) = filled(500);
    let cs = t.commit();
    apply(&mut store, &cs).unwrap();
    let k = keccak256(3u32.to_be_bytes());
    let proof = t.prove(&store, k.as_bytes()).unwrap();
    assert_eq!(verify_proof(cs.root(), k.as_bytes(), &proof).unwrap(), Some(vec![3; 40]));

    // Any flipped byte breaks the hash chain or the encoding.
    for i in 0..proof.len() {
        let mut bad = proof.clone();
        let j = bad[i].len() / 2;
        bad[i][j] ^= 0x40;
        assert!(verify_proof(cs.root(), k.as_bytes(), &bad).is_err(), "node {i}");
    }
    // A node missing from the path.
    let short = &proof[..proof.len() - 1];
    assert!(matches!(verify_proof(cs.root(), k.as_bytes(), short), Err(Error::MissingProofNode { .. })));
    // The wrong root.
    assert!(matches!(
        verify_proof(keccak256(b"x"), k.as_bytes(), &proof),
        Err(Error::MissingProofNode { .. })
    ));
    // Size limits.
    let limits = ProofLimits { max_nodes: 1, ..ProofLimits::default() };
    assert!(matches!(
        verify_proof_with_limits(cs.root(), k.as_bytes(), &proof, &limits),
        Err(Error::ProofTooLarge { .. })
    ));
    assert!(matches!(
        verify_proof(cs.root(), &[0u8; 65], &proof),
        Err(Error::KeyTooLong { len: 65, limit: 64 })
    ));
    let huge = vec![vec![0u8; 300 * 1024]];
    assert!(matches!(verify_proof(cs.root(), k.as_bytes(), &huge), Err(Error::ProofTooLarge { .. })));
    // Garbage.
    let junk = vec![vec![0xf8, 0xff, 0x00]];
    assert!(verify_proof(keccak256(&junk[0]), b"k", &junk).is_err());
}

#[test]
fn exclusion_proofs_for_every_way_a_key_can_be_absent() {
    let mut store = MemoryStore::new();
    let mut t = Trie::new();
    for k in [&b"dog"[..], b"doge", b"horse", b"do"] {
        t.insert(&store, k, &[0x55; 33]).unwrap();
    }
    let cs = t.commit();
    apply(&mut store, &cs).unwrap();
    // empty branch slot, diverging leaf, key ending inside an extension, longer key
    for absent in [&b"cat"[..], b"dogs", b"d", b"horsey", b"", b"hors"] {
        let proof = t.prove(&store, absent).unwrap();
        assert_eq!(verify_proof(cs.root(), absent, &proof).unwrap(), None, "{absent:?}");
    }
    assert_eq!(verify_proof(EMPTY_TRIE_ROOT, b"any", &[]).unwrap(), None);
    // A plain proof never proves the hashed key present.
    assert!(!matches!(
        verify_secure_proof(cs.root(), b"dog", &t.prove(&store, b"dog").unwrap()),
        Ok(Some(_))
    ));
}

#[test]
fn recover_prunes_roots_the_policy_does_not_know() {
    let mut store = MemoryStore::new();
    let mut t = Trie::new();
    let mut roots = Vec::new();
    for i in 0..4u8 {
        t.insert(&store, &[i; 3], &[i; 50]).unwrap();
        let cs = t.commit();
        apply(&mut store, &cs).unwrap(); // a crash left all four retained
        roots.push(cs.root());
    }
    let (policy, pruned) = Retention::recover(&mut store, 2, &roots, &[roots[0]]).unwrap();
    assert_eq!(pruned.len(), 1);
    assert_eq!(pruned[0].0, roots[1]);
    assert_eq!(policy.retained().count(), 3);
    let kept: BTreeSet<_> = store.roots().unwrap().into_iter().collect();
    assert_eq!(kept, [roots[0], roots[2], roots[3]].into_iter().collect());
    assert_eq!(Trie::from_root(roots[0]).get(&store, &[0; 3]).unwrap(), Some(vec![0; 50]));
    assert!(matches!(Retention::new(1).pin(roots[1]), Err(Error::NotRetained { .. })));
}
