//! Harnesses for the decoders of untrusted bytes in `mpt-refcount`: trie nodes, Merkle
//! proofs and state-sync snapshot records.

use mpt_refcount::codec::{decode_node, for_each_child_hash};
use mpt_refcount::{
    MemoryStore, Record, SnapshotLimits, SnapshotReader, SnapshotWriter, SyncImporter, Trie, apply,
    decode_record, encode_record, verify_proof, verify_range,
};
use primitives::keccak256;

/// One trie node: a strict decode must re-encode to the same bytes (canonical form), and
/// the fast child scanner that `prune` uses must never panic and must report exactly the
/// strict decoder's child hashes on every node the decoder accepts.
pub fn node(data: &[u8]) {
    let mut fast = Vec::new();
    let scanned = for_each_child_hash(data, |h| fast.push(h));
    if let Ok(node) = decode_node(data) {
        assert_eq!(node.encode(), data, "accepted nodes are canonical");
        let mut strict = Vec::new();
        node.for_each_hash(|h| strict.push(h));
        assert!(scanned.is_ok(), "the scanner accepts what the decoder accepts");
        assert_eq!(fast, strict, "the scanner finds the decoder's child hashes");
    }
}

/// A proof from untrusted bytes. Layout: one byte key length `n`, `n` key bytes, then
/// nodes, each a 2-byte big-endian length and that many bytes. The root is the keccak256
/// of the first node, so the verifier walks into the fuzzed nodes rather than stopping at
/// a missing root.
pub fn proof(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else { return };
    let n = usize::from(n % 80);
    if rest.len() < n {
        return;
    }
    let (key, mut rest) = rest.split_at(n);
    let mut nodes = Vec::new();
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let take = len.min(rest.len() - 2);
        nodes.push(rest[2..2 + take].to_vec());
        rest = &rest[2 + take..];
    }
    let root = nodes.first().map_or(primitives::EMPTY_TRIE_ROOT, keccak256);
    if let Ok(Some(value)) = verify_proof(root, key, &nodes) {
        assert!(!value.is_empty(), "a proven value is never empty");
    }
    let _ = mpt_refcount::verify_secure_proof(root, key, &nodes);
}

fn encode_proof(key: &[u8], nodes: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![key.len() as u8];
    out.extend_from_slice(key);
    for n in nodes {
        out.extend_from_slice(&(n.len() as u16).to_be_bytes());
        out.extend_from_slice(n);
    }
    out
}

/// Seeds: real nodes and real proofs from a small trie.
pub fn seeds() -> Vec<Vec<u8>> {
    let mut store = MemoryStore::new();
    let mut trie = Trie::new();
    let keys: [&[u8]; 6] = [b"do", b"dog", b"doge", b"horse", b"\x00\x01", b"\x00\x01\x02"];
    for (i, k) in keys.iter().enumerate() {
        let value = vec![i as u8 + 1; 1 + i * 9];
        trie.insert(&store, k, &value).expect("in-memory insert");
    }
    let changes = trie.commit();
    apply(&mut store, &changes).expect("apply");
    let mut seeds: Vec<Vec<u8>> = changes.nodes().iter().map(|(_, b)| b.clone()).collect();
    for k in keys.iter().copied().chain([&b"cat"[..], b"d"]) {
        let p = trie.prove(&store, k).expect("prove");
        seeds.push(encode_proof(k, &p));
    }
    seeds
}

/// One snapshot record from untrusted bytes: the decoder with its default limits never
/// panics and accepts only canonical records (an accepted record re-encodes to the same
/// bytes). A decoded chunk is then verified against the keccak256 of its first proof node
/// (the root of a real proof), so the range verifier walks the fuzzed nodes, and fed to an
/// importer and to a reader after a header of that root; none of them may panic, and a
/// chunk the verifier accepts is accepted by the importer when it starts at the empty key.
pub fn snapshot_record(data: &[u8]) {
    let limits = SnapshotLimits::default();
    let Ok(record) = decode_record(data, &limits) else { return };
    assert_eq!(encode_record(&record), data, "accepted records are canonical");
    let Record::Chunk(chunk) = record else { return };
    let root = chunk.proof.first().map_or(primitives::EMPTY_TRIE_ROOT, keccak256);
    let verified = verify_range(root, &chunk);
    let mut importer = SyncImporter::new(root);
    let imported = importer.import_chunk(&chunk);
    if chunk.start.is_empty() {
        assert_eq!(verified.is_ok(), imported.is_ok(), "the importer verifies like verify_range");
    }
    if let Ok(outcome) = verified
        && !outcome.more
        && imported.is_ok()
    {
        let mut store = MemoryStore::new();
        if let Ok(stats) = importer.finish(&mut store) {
            assert_eq!(stats.root, root);
        }
    }
    let mut reader = SnapshotReader::new(root, limits);
    let header = encode_record(&Record::Header { root, leaves: chunk.leaves.len() as u64, chunks: 1 });
    if reader.push(&header).is_ok() {
        let _ = reader.push(data);
    }
}

/// Seeds for [`snapshot_record`]: the records of real snapshots of a small trie with
/// prefix keys, in chunks of several sizes.
pub fn snapshot_seeds() -> Vec<Vec<u8>> {
    let mut store = MemoryStore::new();
    let mut trie = Trie::new();
    let keys: [&[u8]; 8] = [b"do", b"dog", b"doge", b"horse", b"\x00\x01", b"\x00\x01\x02", b"\xff", b"z"];
    for (i, k) in keys.iter().enumerate() {
        let value = vec![i as u8 + 1; 1 + i * 7];
        trie.insert(&store, k, &value).expect("in-memory insert");
    }
    let (root, _) = trie.commit_to(&mut store).expect("apply");
    let mut seeds = Vec::new();
    for n in [1, 3, 100] {
        for r in SnapshotWriter::new(&store, root, n, 64 * 1024).expect("writer") {
            seeds.push(r.expect("record"));
        }
    }
    seeds
}
