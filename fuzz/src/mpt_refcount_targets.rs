//! Harnesses for the decoders of untrusted bytes in `mpt-refcount`: trie nodes and
//! Merkle proofs.

use mpt_refcount::codec::{decode_node, for_each_child_hash};
use mpt_refcount::{MemoryStore, Trie, apply, verify_proof};
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
