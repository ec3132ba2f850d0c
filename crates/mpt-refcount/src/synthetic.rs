//! Synthetic account states, shared by the benches and the `prune_scaling` example so
//! that their figures describe the same workload.
//!
//! Account `i` lives under `keccak256(i)` (32-byte keys, like the secure state trie) with
//! a 72-byte record that changes with the update round. [`Updates`] draws the accounts
//! a round touches, deterministically from a seed.
//!
//! ```
//! use mpt_refcount::synthetic::{Updates, account_key, account_value};
//! use mpt_refcount::{MemoryStore, Trie};
//!
//! let store = MemoryStore::new();
//! let mut trie = Trie::new();
//! for i in 0..100 {
//!     trie.insert(&store, &account_key(i), &account_value(i, 0))?;
//! }
//! let mut updates = Updates::new(7, 100);
//! for _ in 0..10 {
//!     let i = updates.next_account();
//!     assert!(i < 100);
//!     trie.insert(&store, &account_key(i), &account_value(i, 1))?;
//! }
//! assert_eq!(trie.entries(&store)?.len(), 100);
//! # Ok::<(), mpt_refcount::Error>(())
//! ```

use primitives::keccak256;

/// The key of account `i`: `keccak256(i as big-endian u64)`.
pub fn account_key(i: u64) -> [u8; 32] {
    keccak256(i.to_be_bytes()).0
}

/// The 72-byte record of account `i` after update round `round`.
pub fn account_value(i: u64, round: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(72);
    v.extend_from_slice(&round.to_be_bytes());
    v.extend_from_slice(keccak256(i.to_le_bytes()).as_bytes());
    v.extend_from_slice(keccak256((i ^ round).to_le_bytes()).as_bytes());
    v
}

/// A deterministic stream of account indices below `n` (xorshift64).
#[derive(Debug, Clone)]
pub struct Updates {
    state: u64,
    n: u64,
}

impl Updates {
    /// A stream over accounts `0..n` (`n` of 0 is treated as 1), seeded by `seed`.
    pub fn new(seed: u64, n: u64) -> Self {
        // Xorshift never leaves zero; any other seed works.
        Updates { state: seed.max(1), n: n.max(1) }
    }

    /// The next account to update.
    pub fn next_account(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state % self.n
    }
}
