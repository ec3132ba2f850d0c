//! A hash map keyed by node hashes, with a hasher that mixes 8 bytes of the key instead of
//! running SipHash over all 32.
//!
//! Node hashes are keccak256 outputs, uniformly distributed, so a cheap mix of their first
//! 8 bytes spreads them as well as SipHash would, at a fraction of the cost (the store and
//! the apply/prune scratch maps do tens of lookups per changed key). Iteration order of
//! these maps is never observed by the trie's results.

use std::hash::{BuildHasherDefault, Hasher};

/// Hasher for keys that are already uniform hashes.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct NodeHasher(u64);

impl Hasher for NodeHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut word = [0u8; 8];
        let n = bytes.len().min(8);
        word[..n].copy_from_slice(&bytes[..n]);
        // Multiply by an odd constant (Fibonacci hashing) so that every bit of the word
        // reaches the high bits the table uses.
        self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

// Allowed: keyed by uniformly distributed node hashes; order never observed (see above).
#[allow(clippy::disallowed_types)]
pub(crate) type NodeMap<V> = std::collections::HashMap<primitives::H256, V, BuildHasherDefault<NodeHasher>>;
