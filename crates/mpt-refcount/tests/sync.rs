//! State sync: leaf iteration from a key, range proofs, verified bulk import and the
//! snapshot record stream. Given a trie in one store, when it is exported and imported
//! into another, then the other store holds exactly the same nodes with the same counts;
//! when the stream is tampered with, then the import fails with a typed error and the
//! store is exactly as before.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use mpt_refcount::synthetic::{account_key, account_value};
use mpt_refcount::{
    EMPTY_TRIE_ROOT, Error, H256, MemoryStore, NodeStore, RangeChunk, RangeLimits, Record, SnapshotLimits,
    SnapshotReader, SnapshotWriter, SyncError, SyncImporter, Trie, decode_record, encode_record, iter_from,
    key_after, prove_range, verify_range, verify_range_with_limits,
};
use proptest::prelude::*;

mod support;
use support::FailingStore;

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// A store holding exactly the trie of `map`, and its root.
fn build(map: &Map) -> (MemoryStore, H256) {
    let mut store = MemoryStore::new();
    let mut trie = Trie::new();
    for (k, v) in map {
        trie.insert(&store, k, v).unwrap();
    }
    let (root, _) = trie.commit_to(&mut store).unwrap();
    (store, root)
}

/// Counts, bytes and retained roots with their counts.
type State = (Vec<(H256, u32)>, Vec<Option<Vec<u8>>>, Vec<(H256, u32)>);

/// Everything a write can change in a `MemoryStore`.
fn state(s: &MemoryStore) -> State {
    let nodes = s.nodes();
    let bytes = nodes.iter().map(|(h, _)| s.node(h).unwrap()).collect();
    let roots = s.roots().unwrap().into_iter().map(|r| (r, s.root_count(&r).unwrap())).collect();
    (nodes, bytes, roots)
}

/// A store that already holds an unrelated trie, so "unchanged" is not "empty".
fn busy_store() -> MemoryStore {
    let map: Map = (0u8..20).map(|i| (vec![0xee, i], vec![i + 1; 33])).collect();
    build(&map).0
}

fn chunks_of(store: &MemoryStore, root: H256, n: usize) -> Vec<RangeChunk> {
    let mut importer = SyncImporter::new(root);
    let mut out = Vec::new();
    while let Some(start) = importer.next_start().map(<[u8]>::to_vec) {
        let chunk = prove_range(store, root, &start, n).unwrap();
        importer.import_chunk(&chunk).unwrap();
        out.push(chunk);
    }
    out
}

fn import(root: H256, chunks: &[RangeChunk], store: &mut MemoryStore) -> Result<(), SyncError> {
    let mut importer = SyncImporter::new(root);
    for c in chunks {
        importer.import_chunk(c)?;
    }
    importer.finish(store).map(|_| ())
}

/// Keys with long shared prefixes and keys that are prefixes of other keys.
fn prefix_map() -> Map {
    let mut m = Map::new();
    for k in [&b""[..], b"d", b"do", b"dog", b"doge", b"dogecoin", b"horse", b"\x00", b"\x00\x01", b"\xff"] {
        if !k.is_empty() {
            m.insert(k.to_vec(), [k, b"-value-padding-to-32-bytes-long"].concat());
        }
    }
    for i in 0u8..40 {
        m.insert(vec![b'd', b'o', i], vec![i + 1; 1 + usize::from(i % 5) * 10]);
    }
    m
}

// ---------------------------------------------------------------- iteration

#[test]
fn iteration_from_every_key_matches_the_sorted_map() {
    let map = prefix_map();
    let (store, root) = build(&map);
    let all: Vec<_> = iter_from(&store, root, b"").collect::<Result<_, _>>().unwrap();
    assert_eq!(all, map.clone().into_iter().collect::<Vec<_>>());
    // From each key, from just after it, and from keys between entries.
    let mut starts: Vec<Vec<u8>> = map.keys().cloned().collect();
    starts.extend(map.keys().map(|k| key_after(k)));
    starts.extend([vec![0xfe], vec![0xff, 0xff], vec![b'd', b'o', 0x7f], vec![b'c']]);
    for s in starts {
        let got: Vec<_> = iter_from(&store, root, &s).collect::<Result<_, _>>().unwrap();
        let want: Vec<_> = map.range(s.clone()..).map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(got, want, "from {s:02x?}");
    }
}

#[test]
fn iteration_of_the_empty_root_and_a_single_leaf() {
    let store = MemoryStore::new();
    assert_eq!(iter_from(&store, EMPTY_TRIE_ROOT, b"").count(), 0);
    let map: Map = [(b"only".to_vec(), b"one".to_vec())].into();
    let (store, root) = build(&map);
    let all: Vec<_> = iter_from(&store, root, b"").collect::<Result<_, _>>().unwrap();
    assert_eq!(all, vec![(b"only".to_vec(), b"one".to_vec())]);
    assert_eq!(iter_from(&store, root, b"onlz").count(), 0);
}

#[test]
fn iteration_reports_a_missing_node_and_a_malformed_node_then_stops() {
    let map: Map = (0u16..200).map(|i| (i.to_be_bytes().to_vec(), vec![1; 40])).collect();
    let (store, root) = build(&map);
    // Drop one leaf-level node from a copy of the store.
    let (victim, _) = store.nodes().into_iter().find(|(h, _)| *h != root).unwrap();
    let mut broken = MemoryStore::new();
    let nodes: Vec<_> = store
        .nodes()
        .into_iter()
        .filter(|(h, _)| *h != victim)
        .map(|(h, rc)| {
            (h, mpt_refcount::NodeWrite::Put { bytes: store.node(&h).unwrap().unwrap(), refcount: rc })
        })
        .collect();
    broken.write(mpt_refcount::WriteBatch { nodes, roots: vec![] }).unwrap();
    let results: Vec<_> = iter_from(&broken, root, b"").collect();
    assert_eq!(results.last(), Some(&Err(Error::MissingNode { hash: victim })));
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);

    // A root whose bytes are not a node.
    let mut bad = MemoryStore::new();
    let h = H256::repeat_byte(7);
    bad.write(mpt_refcount::WriteBatch {
        nodes: vec![(h, mpt_refcount::NodeWrite::Put { bytes: vec![0xc3, 0x80, 0x80, 0x80], refcount: 1 })],
        roots: vec![],
    })
    .unwrap();
    let results: Vec<_> = iter_from(&bad, h, b"").collect();
    assert!(matches!(results.as_slice(), [Err(Error::InvalidNode { .. })]), "{results:?}");
}

// ---------------------------------------------------------------- range proofs

#[test]
fn every_chunk_of_a_trie_verifies_and_only_the_last_ends_it() {
    for map in
        [prefix_map(), (0u16..500).map(|i| (account_key(u64::from(i)).to_vec(), vec![9; 70])).collect()]
    {
        let (store, root) = build(&map);
        for n in [1, 2, 7, 64, 1000] {
            let chunks = chunks_of(&store, root, n);
            let leaves: Vec<_> = chunks.iter().flat_map(|c| c.leaves.clone()).collect();
            assert_eq!(leaves, map.clone().into_iter().collect::<Vec<_>>());
            for (i, c) in chunks.iter().enumerate() {
                let more = verify_range(root, c).unwrap().more;
                assert_eq!(more, i + 1 < chunks.len(), "chunk {i} of {} (n = {n})", chunks.len());
            }
        }
    }
}

#[test]
fn range_proofs_of_the_empty_trie_and_a_single_leaf() {
    let store = MemoryStore::new();
    let empty = prove_range(&store, EMPTY_TRIE_ROOT, b"", 10).unwrap();
    assert!(empty.leaves.is_empty() && empty.proof.is_empty());
    assert!(!verify_range(EMPTY_TRIE_ROOT, &empty).unwrap().more);
    // A leaf claimed in the empty trie.
    let forged = RangeChunk { leaves: vec![(b"k".to_vec(), b"v".to_vec())], ..empty };
    assert!(matches!(verify_range(EMPTY_TRIE_ROOT, &forged), Err(SyncError::RootMismatch { .. })));

    let map: Map = [(b"single".to_vec(), vec![5; 40])].into();
    let (store, root) = build(&map);
    let chunk = prove_range(&store, root, b"", 10).unwrap();
    assert_eq!(chunk.leaves.len(), 1);
    assert!(!verify_range(root, &chunk).unwrap().more);
    // Starting after the leaf: no leaves, proven by the leaf's path.
    let after = prove_range(&store, root, b"sz", 10).unwrap();
    assert!(after.leaves.is_empty());
    assert!(!verify_range(root, &after).unwrap().more);
    // Starting before it with the leaf left out: refused.
    let hidden = RangeChunk { leaves: vec![], ..chunk.clone() };
    assert!(verify_range(root, &hidden).is_err());
    // An inline (under 32 bytes) single-leaf root.
    let map: Map = [(b"a".to_vec(), b"b".to_vec())].into();
    let (store, root) = build(&map);
    let chunk = prove_range(&store, root, b"", 10).unwrap();
    assert!(!verify_range(root, &chunk).unwrap().more);
}

#[test]
fn gaps_before_between_and_after_the_leaves() {
    let map: Map = (0u8..60).map(|i| (vec![i * 4, 1], vec![i + 1; 36])).collect();
    let (store, root) = build(&map);
    // Start keys that fall in gaps between leaves.
    for start in [vec![], vec![1], vec![9], vec![8, 1, 0], vec![100, 0], vec![237], vec![255, 255]] {
        let chunk = prove_range(&store, root, &start, 5).unwrap();
        let want: Vec<_> = map.range(start.clone()..).take(5).map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(chunk.leaves, want);
        let more = map.range(start.clone()..).nth(5).is_some();
        assert_eq!(verify_range(root, &chunk).unwrap().more, more, "{start:?}");
        // Hiding the first leaf behind the gap (starting later is fine, dropping it is not).
        if chunk.leaves.len() > 1 {
            let mut dropped = chunk.clone();
            dropped.leaves.remove(0);
            assert!(verify_range(root, &dropped).is_err(), "{start:?}");
        }
    }
}

#[test]
fn a_tampered_chunk_is_refused() {
    let map = prefix_map();
    let (store, root) = build(&map);
    let chunk = prove_range(&store, root, b"do", 12).unwrap();
    assert!(verify_range(root, &chunk).is_ok());
    let n = chunk.leaves.len();
    let mut cases: Vec<(&str, RangeChunk)> = Vec::new();
    for i in 0..n {
        let mut c = chunk.clone();
        c.leaves[i].1.push(0);
        cases.push(("value changed", c));
        if i + 1 < n {
            let mut c = chunk.clone();
            c.leaves.remove(i);
            cases.push(("leaf dropped", c));
        }
    }
    let mut c = chunk.clone();
    c.leaves.insert(1, (key_after(&chunk.leaves[0].0), b"extra".to_vec()));
    cases.push(("leaf added", c));
    let mut c = chunk.clone();
    c.leaves.swap(0, 1);
    cases.push(("reordered", c));
    let mut c = chunk.clone();
    c.leaves[0].1.clear();
    cases.push(("empty value", c));
    let mut c = chunk.clone();
    c.start = key_after(&chunk.leaves[0].0);
    cases.push(("start after the first leaf", c));
    for i in 0..chunk.proof.len() {
        let mut c = chunk.clone();
        c.proof.remove(i);
        cases.push(("proof node removed", c));
    }
    // A proof from another trie with the same leaves in the range.
    let mut other = map.clone();
    other.insert(b"zzz".to_vec(), vec![3; 40]);
    let (other_store, other_root) = build(&other);
    let mut c = prove_range(&other_store, other_root, b"do", 12).unwrap();
    assert_eq!(c.leaves, chunk.leaves);
    cases.push(("proof of another root", c.clone()));
    for (what, c) in cases {
        assert!(verify_range(root, &c).is_err(), "{what}: {c:?}");
    }
    // Nodes the two paths do not reach are ignored: the proof of both roots proves the
    // same statement about `root`.
    c.proof.extend(chunk.proof.clone());
    assert_eq!(verify_range(root, &c).unwrap(), verify_range(root, &chunk).unwrap());
    // A truncated chunk whose last leaf moved is a true statement about a shorter range:
    // it verifies and says more follows.
    let mut short = chunk.clone();
    short.leaves.pop();
    if let Ok(outcome) = verify_range(root, &short) {
        assert!(outcome.more);
    }
}

#[test]
fn range_limits_are_enforced() {
    let map = prefix_map();
    let (store, root) = build(&map);
    let chunk = prove_range(&store, root, b"", 30).unwrap();
    let tight = RangeLimits { max_leaves: 29, ..RangeLimits::default() };
    assert!(matches!(verify_range_with_limits(root, &chunk, &tight), Err(SyncError::OverLimit { .. })));
    let tight = RangeLimits { max_proof_nodes: 1, ..RangeLimits::default() };
    assert!(matches!(
        verify_range_with_limits(root, &chunk, &tight),
        Err(SyncError::Trie(Error::ProofTooLarge { .. }))
    ));
}

#[test]
fn the_deepest_trie_the_key_bound_allows_syncs_on_a_small_stack() {
    // Keys forking at every nibble of 64 bytes: 129 nodes on the deepest path, which the
    // range verifier walks recursively. 512 KiB is a quarter of a test thread's stack.
    let handle = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(|| {
            let mut map = Map::new();
            for nib in 0..2 * mpt_refcount::MAX_KEY_BYTES {
                let mut k = vec![0u8; mpt_refcount::MAX_KEY_BYTES];
                k[nib / 2] |= if nib % 2 == 0 { 0x10 } else { 0x01 };
                map.insert(k, vec![0x42; 40]);
            }
            map.insert(vec![0u8; mpt_refcount::MAX_KEY_BYTES], vec![0x42; 40]);
            let (source, root) = build(&map);
            for n in [1, 5, 1000] {
                let chunks = chunks_of(&source, root, n);
                let mut store = MemoryStore::new();
                import(root, &chunks, &mut store).unwrap();
                assert_eq!(state(&store), state(&source));
            }
        })
        .unwrap();
    handle.join().unwrap();
}

// ---------------------------------------------------------------- import

#[test]
fn import_of_ten_thousand_accounts_reproduces_the_store() {
    let map: Map = (0..10_000u64).map(|i| (account_key(i).to_vec(), account_value(i, 0))).collect();
    let (source, root) = build(&map);
    let records: Vec<Vec<u8>> =
        SnapshotWriter::new(&source, root, 512, 256 * 1024).unwrap().collect::<Result<_, _>>().unwrap();
    assert!(records.len() >= 2 + 10_000 / 512);
    let mut store = MemoryStore::new();
    let mut reader = SnapshotReader::new(root, SnapshotLimits::default());
    for r in &records {
        reader.push(r).unwrap();
    }
    let stats = reader.finish(&mut store).unwrap();
    assert_eq!((stats.root, stats.leaves), (root, 10_000));
    assert_eq!(state(&store), state(&source));
    assert_eq!(Trie::from_root(root).get(&store, &account_key(77)).unwrap(), Some(account_value(77, 0)));
}

#[test]
#[ignore = "10^6 accounts: about a minute in release, several in debug (cargo test --release -- --ignored)"]
fn import_of_a_million_accounts_reproduces_the_root() {
    let store = MemoryStore::new();
    let mut trie = Trie::new();
    for i in 0..1_000_000u64 {
        trie.insert(&store, &account_key(i), &account_value(i, 0)).unwrap();
    }
    let mut source = store;
    let (root, _) = trie.commit_to(&mut source).unwrap();
    drop(trie);
    let mut reader = SnapshotReader::new(root, SnapshotLimits::default());
    for r in SnapshotWriter::new(&source, root, 4096, 1 << 20).unwrap() {
        reader.push(&r.unwrap()).unwrap();
    }
    let mut store = MemoryStore::new();
    let stats = reader.finish(&mut store).unwrap();
    assert_eq!((stats.root, stats.leaves), (root, 1_000_000));
    assert_eq!(store.nodes(), source.nodes());
}

#[test]
fn import_into_a_busy_store_counts_shared_nodes_once_more() {
    let map = prefix_map();
    let (source, root) = build(&map);
    // The target store already holds the same trie: the import is a second owner.
    let mut store = build(&map).0;
    let chunks = chunks_of(&source, root, 9);
    import(root, &chunks, &mut store).unwrap();
    assert_eq!(store.root_count(&root).unwrap(), 2);
    mpt_refcount::prune(&mut store, root).unwrap();
    assert_eq!(state(&store), state(&source));
}

#[test]
fn a_tampered_stream_is_refused_and_leaves_the_store_unchanged() {
    let map = prefix_map();
    let (source, root) = build(&map);
    let chunks = chunks_of(&source, root, 8);
    assert!(chunks.len() >= 4);
    let mut store = busy_store();
    let before = state(&store);

    let mut changed = chunks.clone();
    changed[1].leaves[2].1[0] ^= 1;
    let mut dropped = chunks.clone();
    dropped.remove(1);
    let mut reordered = chunks.clone();
    reordered.swap(1, 2);
    let mut duplicated = chunks.clone();
    duplicated.insert(2, chunks[1].clone());
    let mut forged = chunks.clone();
    forged[2].proof[0][3] ^= 0x10;
    let mut truncated = chunks.clone();
    truncated.pop();
    let mut extra = chunks.clone();
    extra.push(chunks[0].clone());
    let mut empty_tail = chunks.clone();
    empty_tail.truncate(2);
    empty_tail.push(RangeChunk {
        start: chunks[2].start.clone(),
        leaves: vec![],
        proof: chunks[2].proof.clone(),
    });
    for (what, stream) in [
        ("changed", changed),
        ("dropped", dropped),
        ("reordered", reordered),
        ("duplicated", duplicated),
        ("forged proof", forged),
        ("truncated end", truncated),
        ("chunk after the end", extra),
        ("empty chunk claiming the end", empty_tail),
    ] {
        let err = import(root, &stream, &mut store).unwrap_err();
        assert_eq!(state(&store), before, "{what} ({err}) changed the store");
    }
    // The honest stream still imports.
    import(root, &chunks, &mut store).unwrap();
    assert_eq!(Trie::from_root(root).entries(&store).unwrap(), map.into_iter().collect::<Vec<_>>());
}

#[test]
fn a_store_failing_at_any_call_of_finish_is_left_unchanged() {
    let map = prefix_map();
    let (source, root) = build(&map);
    let chunks = chunks_of(&source, root, 8);
    let mut store = FailingStore::new(busy_store());
    let before = state(&store.inner);
    let mut k = 0;
    loop {
        let mut importer = SyncImporter::new(root);
        for c in &chunks {
            importer.import_chunk(c).unwrap();
        }
        store.fail_at(k);
        let result = importer.finish(&mut store);
        if !store.armed() {
            assert!(matches!(result, Err(SyncError::Trie(Error::Store { .. }))), "call {k}: {result:?}");
            assert_eq!(state(&store.inner), before, "call {k} left a partial import");
            k += 1;
            continue;
        }
        store.disarm();
        result.unwrap();
        break;
    }
    assert!(k > 10, "the apply made only {k} store calls");
    assert_eq!(Trie::from_root(root).entries(&store.inner).unwrap(), map.into_iter().collect::<Vec<_>>());
}

#[test]
fn an_export_from_a_store_failing_at_any_call_is_a_typed_error() {
    let map = prefix_map();
    let (source, root) = build(&map);
    let honest: Vec<Vec<u8>> =
        SnapshotWriter::new(&source, root, 8, 1 << 16).unwrap().collect::<Result<_, _>>().unwrap();
    let store = FailingStore::new(source);
    for k in 0..400 {
        store.fail_at(k);
        let records: Result<Vec<Vec<u8>>, SyncError> =
            SnapshotWriter::new(&store, root, 8, 1 << 16).and_then(|w| w.collect());
        if !store.armed() {
            assert!(matches!(records, Err(SyncError::Trie(Error::Store { .. }))), "call {k}");
        } else {
            store.disarm();
            assert_eq!(records.unwrap(), honest);
            return;
        }
    }
    panic!("the export made more than 400 store calls");
}

#[test]
fn the_importer_names_each_tampering() {
    let map = prefix_map();
    let (source, root) = build(&map);
    let chunks = chunks_of(&source, root, 8);
    let mut imp = SyncImporter::new(root);
    imp.import_chunk(&chunks[0]).unwrap();
    assert!(matches!(imp.import_chunk(&chunks[0]), Err(SyncError::UnexpectedStart { .. })));
    assert!(matches!(imp.import_chunk(&chunks[2]), Err(SyncError::UnexpectedStart { .. })));
    let mut bad = chunks[1].clone();
    bad.leaves[0].1.push(1);
    assert!(matches!(imp.import_chunk(&bad), Err(SyncError::RootMismatch { .. })));
    // A refused chunk changed nothing: the right one is still accepted.
    imp.import_chunk(&chunks[1]).unwrap();
    let mut store = MemoryStore::new();
    assert!(matches!(imp.finish(&mut store), Err(SyncError::Incomplete { .. })));
    assert!(store.is_empty());

    let mut imp = SyncImporter::new(root);
    for c in &chunks {
        imp.import_chunk(c).unwrap();
    }
    assert!(imp.is_complete());
    assert!(matches!(imp.import_chunk(&chunks[0]), Err(SyncError::AlreadyComplete)));
    // The wrong trusted root: the first chunk fails.
    let mut wrong = SyncImporter::new(H256::repeat_byte(1));
    assert!(matches!(wrong.import_chunk(&chunks[0]), Err(SyncError::Trie(Error::MissingProofNode { .. }))));
}

#[test]
fn the_empty_trie_imports_as_one_empty_chunk() {
    let source = MemoryStore::new();
    let records: Vec<_> = SnapshotWriter::new(&source, EMPTY_TRIE_ROOT, 10, 1024)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    assert_eq!(records.len(), 3);
    let mut reader = SnapshotReader::new(EMPTY_TRIE_ROOT, SnapshotLimits::default());
    for r in &records {
        reader.push(r).unwrap();
    }
    let mut store = MemoryStore::new();
    let stats = reader.finish(&mut store).unwrap();
    assert_eq!((stats.leaves, stats.chunks), (0, 1));
    assert!(store.is_empty());
}

// ---------------------------------------------------------------- records

#[test]
fn records_stay_within_their_limits_and_round_trip() {
    let map: Map = (0..2_000u64).map(|i| (account_key(i).to_vec(), account_value(i, 1))).collect();
    let (source, root) = build(&map);
    for (n, m) in [(1, 4096), (100, 4096), (10_000, 16 * 1024), (7, 1 << 20)] {
        let records: Vec<Vec<u8>> =
            SnapshotWriter::new(&source, root, n, m).unwrap().collect::<Result<_, _>>().unwrap();
        let limits = SnapshotLimits::default();
        let decoded: Vec<Record> = records.iter().map(|r| decode_record(r, &limits).unwrap()).collect();
        let Record::Header { root: r, leaves, chunks } = decoded[0] else { panic!("header first") };
        assert_eq!((r, leaves, chunks), (root, 2_000, decoded.len() as u64 - 2));
        assert!(matches!(decoded.last(), Some(Record::End { leaves: 2_000, .. })));
        for (bytes, rec) in records.iter().zip(&decoded) {
            assert!(bytes.len() <= m, "record of {} bytes over {m}", bytes.len());
            assert_eq!(&encode_record(rec), bytes);
            if let Record::Chunk(c) = rec {
                assert!(c.leaves.len() <= n && !c.leaves.is_empty());
            }
        }
    }
    // A limit too small for one leaf and its proof.
    assert!(matches!(
        SnapshotWriter::new(&source, root, 10, 300),
        Err(SyncError::RecordLimitTooSmall { .. })
    ));
}

#[test]
fn the_decoder_enforces_its_limits_and_the_canonical_form() {
    let map = prefix_map();
    let (source, root) = build(&map);
    let chunk = prove_range(&source, root, b"", 20).unwrap();
    let bytes = encode_record(&Record::Chunk(chunk.clone()));
    let limits = SnapshotLimits::default();
    assert_eq!(decode_record(&bytes, &limits).unwrap(), Record::Chunk(chunk));
    let small = SnapshotLimits { max_record_bytes: bytes.len() - 1, ..limits };
    assert!(matches!(decode_record(&bytes, &small), Err(SyncError::OverLimit { .. })));
    let few = SnapshotLimits { range: RangeLimits { max_leaves: 19, ..limits.range }, ..limits };
    assert!(matches!(decode_record(&bytes, &few), Err(SyncError::OverLimit { .. })));
    let mut v2 = bytes.clone();
    v2[0] = 2;
    assert!(matches!(decode_record(&v2, &limits), Err(SyncError::UnsupportedVersion { found: 2, .. })));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(decode_record(&trailing, &limits), Err(SyncError::BadRecord { .. })));
    assert!(matches!(decode_record(&bytes[..bytes.len() - 1], &limits), Err(SyncError::BadRecord { .. })));
    assert!(matches!(decode_record(&[1, 9], &limits), Err(SyncError::BadRecord { .. })));
    // A count far beyond the bytes left is refused before any allocation.
    let huge = [1u8, 1, 0, 0x03, 0xff, 0xff, 0xff, 0x00];
    assert!(decode_record(&huge, &limits).is_err());
    // A non-canonical compact length (1 written in two bytes).
    let noncanonical = [1u8, 1, 0b0000_0101, 0, 0, 0];
    assert!(matches!(decode_record(&noncanonical, &limits), Err(SyncError::BadRecord { .. })));
}

#[test]
fn the_reader_refuses_streams_out_of_shape() {
    let map = prefix_map();
    let (source, root) = build(&map);
    let records: Vec<Vec<u8>> =
        SnapshotWriter::new(&source, root, 8, 64 * 1024).unwrap().collect::<Result<_, _>>().unwrap();
    let limits = SnapshotLimits::default();
    let run = |stream: &[Vec<u8>], trusted: H256| -> Result<(), SyncError> {
        let mut reader = SnapshotReader::new(trusted, limits);
        for r in stream {
            reader.push(r)?;
        }
        let mut store = MemoryStore::new();
        let res = reader.finish(&mut store).map(|_| ());
        if res.is_err() {
            assert!(store.is_empty());
        }
        res
    };
    run(&records, root).unwrap();
    let n = records.len();
    assert!(matches!(run(&records[1..], root), Err(SyncError::UnexpectedRecord { .. })));
    assert!(matches!(run(&records[..n - 1], root), Err(SyncError::Incomplete { .. })));
    assert!(matches!(run(&records, H256::repeat_byte(3)), Err(SyncError::WrongSnapshotRoot { .. })));
    let mut no_last_chunk = records.clone();
    no_last_chunk.remove(n - 2);
    assert!(matches!(run(&no_last_chunk, root), Err(SyncError::CountMismatch { .. })));
    let mut twice = records.clone();
    twice.push(records[n - 1].clone());
    assert!(matches!(run(&twice, root), Err(SyncError::UnexpectedRecord { .. })));
    // A header announcing more than the limits allow.
    let header = encode_record(&Record::Header { root, leaves: u64::MAX, chunks: 1 });
    let mut reader = SnapshotReader::new(root, limits);
    assert!(matches!(reader.push(&header), Err(SyncError::OverLimit { .. })));
}

// ---------------------------------------------------------------- properties

fn arb_map() -> impl Strategy<Value = Map> {
    // Short keys over a small alphabet: long shared prefixes, prefix keys, inline nodes.
    let key = prop::collection::vec(prop::sample::select(vec![0u8, 1, 0x10, 0x11, 0xff]), 1..6);
    let value = prop::collection::vec(any::<u8>(), 1..48);
    prop::collection::btree_map(key, value, 0..120)
}

fn export(store: &MemoryStore, root: H256, n: usize, m: usize) -> Vec<Vec<u8>> {
    SnapshotWriter::new(store, root, n, m).unwrap().collect::<Result<_, _>>().unwrap()
}

fn read(root: H256, records: &[Vec<u8>], store: &mut MemoryStore) -> Result<(), SyncError> {
    let mut reader = SnapshotReader::new(root, SnapshotLimits::default());
    for r in records {
        reader.push(r)?;
    }
    reader.finish(store).map(|_| ())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any trie, cut into chunks of any size, imports to the same root, nodes and counts.
    #[test]
    fn export_then_import_reproduces_the_trie(map in arb_map(), n in 1usize..40, m in 2_000usize..20_000) {
        let (source, root) = build(&map);
        let records = export(&source, root, n, m);
        let mut store = MemoryStore::new();
        read(root, &records, &mut store).unwrap();
        prop_assert_eq!(state(&store), state(&source));
    }

    /// Any single-byte change of any record is refused (the encoding is canonical, so no
    /// change decodes to the same records), and the store is unchanged.
    #[test]
    fn a_corrupted_byte_is_refused_and_the_store_unchanged(
        map in arb_map(),
        n in 1usize..20,
        pick in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let (source, root) = build(&map);
        let mut records = export(&source, root, n, 1 << 20);
        let r = pick.index(records.len());
        let i = at.index(records[r].len());
        records[r][i] ^= flip;
        let mut store = busy_store();
        let before = state(&store);
        prop_assert!(read(root, &records, &mut store).is_err());
        prop_assert_eq!(state(&store), before);
    }

    /// Dropping, duplicating or swapping chunk records is refused; the store is unchanged.
    #[test]
    fn a_dropped_or_reordered_chunk_is_refused(
        map in arb_map(),
        n in 1usize..10,
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
        op in 0u8..3,
    ) {
        let (source, root) = build(&map);
        let mut records = export(&source, root, n, 1 << 20);
        let chunks = records.len() - 2;
        let (i, j) = (1 + a.index(chunks), 1 + b.index(chunks));
        match op {
            0 => { records.remove(i); }
            1 => { let c = records[i].clone(); records.insert(j, c); }
            _ => {
                prop_assume!(i != j);
                records.swap(i, j);
            }
        }
        let mut store = busy_store();
        let before = state(&store);
        prop_assert!(read(root, &records, &mut store).is_err());
        prop_assert_eq!(state(&store), before);
    }

    /// Iteration from any start key yields exactly the map's entries from that key.
    #[test]
    fn iteration_from_any_key_matches_the_map(
        map in arb_map(),
        start in prop::collection::vec(prop::sample::select(vec![0u8, 1, 0x10, 0x11, 0xff]), 0..7),
    ) {
        let (store, root) = build(&map);
        let got: Vec<_> = iter_from(&store, root, &start).collect::<Result<_, _>>().unwrap();
        let want: Vec<_> = map.range(start.clone()..).map(|(k, v)| (k.clone(), v.clone())).collect();
        prop_assert_eq!(got, want);
    }

    /// A chunk from any start key with any size verifies, holds exactly the map's leaves
    /// from that key, says truthfully whether more follow; without any one of its leaves
    /// but the last, or with any one value changed, it is refused.
    #[test]
    fn a_range_from_any_key_verifies_and_any_omission_is_refused(
        map in arb_map(),
        start in prop::collection::vec(prop::sample::select(vec![0u8, 1, 0x10, 0x11, 0xff]), 0..7),
        n in 1usize..30,
        pick in any::<prop::sample::Index>(),
    ) {
        let (store, root) = build(&map);
        let chunk = prove_range(&store, root, &start, n).unwrap();
        let want: Vec<_> = map.range(start.clone()..).take(n).map(|(k, v)| (k.clone(), v.clone())).collect();
        prop_assert_eq!(&chunk.leaves, &want);
        let more = map.range(start.clone()..).nth(n).is_some();
        prop_assert_eq!(verify_range(root, &chunk).unwrap().more, more && !want.is_empty());
        if chunk.leaves.len() > 1 {
            let i = pick.index(chunk.leaves.len() - 1);
            let mut dropped = chunk.clone();
            dropped.leaves.remove(i);
            prop_assert!(verify_range(root, &dropped).is_err());
        }
        if !chunk.leaves.is_empty() {
            let i = pick.index(chunk.leaves.len());
            let mut changed = chunk.clone();
            changed.leaves[i].1[0] ^= 0x80;
            prop_assert!(verify_range(root, &changed).is_err());
        }
    }
}
