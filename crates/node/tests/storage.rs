//! The two `Storage` implementations against each other and against the trait's rules:
//! the same random history of blocks (each a trie commit through `Staged` plus the
//! retention policy's prunes) leaves both with identical trie nodes, roots and blocks; a
//! redb store reopened from its file holds exactly what was committed; a bad batch, an
//! out-of-order block or a duplicate hash changes nothing.

#![allow(clippy::unwrap_used)]

use meshcast_node::storage::{BlockRecord, MemoryStorage, RedbStorage, Staged, Storage, StorageError};
use mpt_refcount::{NodeStore, NodeWrite, Retention, Trie, WriteBatch};
use primitives::H256;
use proptest::prelude::*;

fn record(height: u64, root: H256) -> BlockRecord {
    BlockRecord {
        height,
        hash: H256::from_low_u64_be(height.wrapping_mul(0x9e37_79b9) ^ 0xabcd),
        state_root: root,
        bytes: height.to_be_bytes().to_vec(),
        certificate: height.is_multiple_of(2).then(|| vec![height as u8; 3]),
    }
}

/// Runs `blocks` (each a list of (key, Some(value) | None)) through `store`: every block
/// is one `commit_block` of the trie's changes and the prunes of a keep-2 policy.
fn run<S: Storage>(store: &mut S, blocks: &[Vec<(u8, Option<u8>)>]) -> Vec<H256> {
    let mut trie = Trie::new();
    let mut policy = Retention::new(2);
    let mut roots = Vec::new();
    for (i, ops) in blocks.iter().enumerate() {
        for (k, v) in ops {
            let key = [*k, k.wrapping_mul(7)];
            match v {
                Some(v) => trie.insert(&*store, &key, &[*v; 40]).unwrap(),
                None => {
                    trie.delete(&*store, &key).unwrap();
                }
            }
        }
        let mut staged = Staged::new(&*store);
        let (root, _) = policy.commit_trie(&mut staged, &mut trie).unwrap();
        let batch = staged.into_batch().unwrap();
        store.commit_block(record(i as u64 + 1, root), batch).unwrap();
        roots.push(root);
    }
    roots
}

fn trie_view<S: NodeStore>(store: &S, roots: &[H256]) -> Vec<(H256, u32, u32)> {
    let mut retained = store.roots().unwrap();
    retained.sort();
    let mut out: Vec<(H256, u32, u32)> =
        retained.iter().map(|r| (*r, store.root_count(r).unwrap(), store.refcount(r).unwrap())).collect();
    for r in roots {
        out.push((*r, store.root_count(r).unwrap(), store.refcount(r).unwrap()));
    }
    out
}

fn ops() -> impl Strategy<Value = Vec<Vec<(u8, Option<u8>)>>> {
    prop::collection::vec(
        prop::collection::vec((0u8..24, prop::option::weighted(0.8, any::<u8>())), 1..8),
        1..10,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn memory_and_redb_agree_and_redb_survives_reopen(blocks in ops()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.redb");
        let mut mem = MemoryStorage::new();
        let mut db = RedbStorage::open(&path).unwrap();
        let roots_mem = run(&mut mem, &blocks);
        let roots_db = run(&mut db, &blocks);
        prop_assert_eq!(&roots_mem, &roots_db);
        let view = trie_view(&mem, &roots_mem);
        prop_assert_eq!(&view, &trie_view(&db, &roots_mem));
        // Every stored node of the memory store is in redb with the same count and bytes.
        for (hash, rc) in mem.trie().nodes() {
            prop_assert_eq!(db.refcount(&hash).unwrap(), rc);
            prop_assert_eq!(db.node(&hash).unwrap(), mem.node(&hash).unwrap());
        }
        // The retained states read back in full from redb.
        let last = *roots_mem.last().unwrap();
        let t = Trie::from_root(last);
        for k in 0u8..24 {
            let key = [k, k.wrapping_mul(7)];
            prop_assert_eq!(t.get(&mem, &key).unwrap(), t.get(&db, &key).unwrap());
        }
        drop(db);
        let db = RedbStorage::open(&path).unwrap();
        prop_assert_eq!(&view, &trie_view(&db, &roots_mem));
        for h in 1..=blocks.len() as u64 {
            prop_assert_eq!(db.block(h).unwrap(), mem.block(h).unwrap());
            prop_assert_eq!(db.height_of(&record(h, H256::zero()).hash).unwrap(), Some(h));
        }
        prop_assert_eq!(db.block_range().unwrap(), Some((1, blocks.len() as u64)));
    }
}

/// Every rule of the trait, run against one implementation.
fn rules<S: Storage>(store: &mut S) {
    let r1 = record(1, H256::repeat_byte(1));
    store.commit_block(r1.clone(), WriteBatch::default()).unwrap();
    // Out of order: a gap and a repeat.
    assert!(matches!(
        store.commit_block(record(3, H256::zero()), WriteBatch::default()),
        Err(StorageError::OutOfOrder { height: 3, tip: Some(1) })
    ));
    assert!(matches!(
        store.commit_block(record(1, H256::zero()), WriteBatch::default()),
        Err(StorageError::OutOfOrder { .. })
    ));
    // Duplicate hash at the next height.
    let dup = BlockRecord { height: 2, ..r1.clone() };
    assert!(matches!(
        store.commit_block(dup, WriteBatch::default()),
        Err(StorageError::DuplicateHash { height: 1, .. })
    ));
    // A bad trie batch (an update of an absent node after a valid put) lands nothing:
    // neither the block nor the valid put before the bad write.
    let good = H256::repeat_byte(0x11);
    let bad = WriteBatch {
        nodes: vec![
            (good, NodeWrite::Put { bytes: vec![0xc0], refcount: 1 }),
            (H256::repeat_byte(0x22), NodeWrite::SetRefcount(3)),
        ],
        roots: vec![(good, 1)],
    };
    assert!(matches!(store.commit_block(record(2, good), bad), Err(StorageError::Trie(_))));
    assert_eq!(store.block(2).unwrap(), None);
    assert_eq!(store.refcount(&good).unwrap(), 0);
    assert_eq!(store.root_count(&good).unwrap(), 0);
    assert_eq!(store.block_range().unwrap(), Some((1, 1)));
    // Zero refcounts are refused too.
    let zero =
        WriteBatch { nodes: vec![(good, NodeWrite::Put { bytes: vec![0xc0], refcount: 0 })], roots: vec![] };
    assert!(store.commit_block(record(2, good), zero).is_err());
    // Certificates attach to stored blocks only.
    assert!(matches!(store.put_certificate(9, vec![1]), Err(StorageError::NoSuchBlock { height: 9 })));
    store.put_certificate(1, vec![7, 7]).unwrap();
    assert_eq!(store.block(1).unwrap().unwrap().certificate, Some(vec![7, 7]));
    // History pruning.
    for h in 2..=5 {
        store.commit_block(record(h, H256::repeat_byte(h as u8)), WriteBatch::default()).unwrap();
    }
    assert_eq!(store.prune_blocks_below(3).unwrap(), 2);
    assert_eq!(store.block_range().unwrap(), Some((3, 5)));
    assert_eq!(store.block(2).unwrap(), None);
    assert_eq!(store.height_of(&r1.hash).unwrap(), None);
    assert_eq!(store.prune_blocks_below(3).unwrap(), 0);
    // Consensus state and metadata.
    assert_eq!(store.consensus().unwrap(), None);
    store.persist_consensus(b"state-1").unwrap();
    store.persist_consensus(b"state-2").unwrap();
    assert_eq!(store.consensus().unwrap(), Some(b"state-2".to_vec()));
    store.put_meta("finalized", &5u64.to_be_bytes()).unwrap();
    assert_eq!(store.meta("finalized").unwrap(), Some(5u64.to_be_bytes().to_vec()));
    assert_eq!(store.meta("absent").unwrap(), None);
}

#[test]
fn memory_storage_keeps_every_rule() {
    rules(&mut MemoryStorage::new());
}

#[test]
fn redb_storage_keeps_every_rule_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.redb");
    let mut db = RedbStorage::open(&path).unwrap();
    rules(&mut db);
    drop(db);
    let db = RedbStorage::open(&path).unwrap();
    assert_eq!(db.consensus().unwrap(), Some(b"state-2".to_vec()));
    assert_eq!(db.block_range().unwrap(), Some((3, 5)));
    assert_eq!(db.block(1).unwrap(), None);
    assert_eq!(db.block(5).unwrap(), Some(record(5, H256::repeat_byte(5))));
}

#[test]
fn redb_reserved_meta_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = RedbStorage::open(dir.path().join("n.redb")).unwrap();
    assert!(db.put_meta("\0consensus", b"forged").is_err());
    assert_eq!(db.consensus().unwrap(), None);
}

#[test]
fn staged_overlay_is_atomic_and_folds_into_one_batch() {
    let mut mem = MemoryStorage::new();
    let mut trie = Trie::new();
    trie.insert(&mem, b"alpha", &[1; 40]).unwrap();
    trie.insert(&mem, b"beta", &[2; 40]).unwrap();
    let (root1, _) = trie.commit_to(&mut mem).unwrap();
    // Second state through the overlay: the base is untouched until the batch lands.
    trie.insert(&mem, b"alpha", &[3; 40]).unwrap();
    let mut staged = Staged::new(&mem);
    let (mut policy, _) = Retention::recover(&mut staged, 1, &[root1], &[]).unwrap();
    let (root2, pruned) = policy.commit_trie(&mut staged, &mut trie).unwrap();
    assert_ne!(root1, root2);
    assert_eq!(staged.root_count(&root2).unwrap(), 1);
    // A bad batch on the overlay changes nothing in it.
    let before = staged.refcount(&root2).unwrap();
    let bad = WriteBatch { nodes: vec![(H256::repeat_byte(9), NodeWrite::Delete)], roots: vec![] };
    assert!(staged.write(bad).is_err());
    assert_eq!(staged.refcount(&root2).unwrap(), before);
    assert_eq!(mem.root_count(&root2).unwrap(), 0, "base untouched while staged");
    let batch = staged.into_batch().unwrap();
    mem.commit_block(record(1, root2), batch).unwrap();
    assert_eq!(mem.root_count(&root2).unwrap(), 1);
    let t = Trie::from_root(root2);
    assert_eq!(t.get(&mem, b"alpha").unwrap(), Some(vec![3; 40]));
    assert_eq!(t.get(&mem, b"beta").unwrap(), Some(vec![2; 40]));
    assert_eq!(pruned.len(), 1, "the keep-1 policy prunes the first state");
    assert_eq!(mem.root_count(&root1).unwrap(), 0, "the pruned root left with the same batch");
    assert_eq!(Trie::from_root(root1).get(&mem, b"alpha").ok().flatten(), None);
}
