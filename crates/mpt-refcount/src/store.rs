//! The node store: a small synchronous trait and an in-memory implementation.
//!
//! A store holds, per node hash, the node's bytes and its **reference count**: the
//! number of stored nodes that reference it by hash (with multiplicity) plus one if it
//! is a **retained root**. It also holds the set of retained roots, which is what makes
//! applying a changeset and pruning a root idempotent (see [`crate::changeset`]).
//!
//! The trie never writes piecemeal: [`crate::apply`] and [`crate::prune`] read through
//! the store, compute the final state of every touched node, and hand the store one
//! [`WriteBatch`]. A persistent store makes crash safety a matter of writing that batch
//! in one transaction (for redb: one `begin_write` … `commit`; for a log-structured
//! store: one atomic write batch). Either all of it lands or none of it does.

use std::collections::BTreeSet;

use primitives::H256;

use crate::Error;

/// The final state of one node after a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeWrite {
    /// Store a node that was absent, with its reference count.
    Put {
        /// The node's RLP encoding.
        bytes: Vec<u8>,
        /// Its reference count (at least 1).
        refcount: u32,
    },
    /// Change the reference count of a node that stays (at least 1).
    SetRefcount(u32),
    /// Remove the node (its count reached zero).
    Delete,
}

/// Everything one apply or prune changes, to be written atomically.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    /// Node writes, at most one per hash.
    pub nodes: Vec<(H256, NodeWrite)>,
    /// Roots that become retained.
    pub add_roots: Vec<H256>,
    /// Roots that stop being retained.
    pub remove_roots: Vec<H256>,
}

impl WriteBatch {
    /// Whether the batch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.add_roots.is_empty() && self.remove_roots.is_empty()
    }
}

/// Where trie nodes live. Small and object safe (`&dyn NodeStore` works).
///
/// Implementations must make [`NodeStore::write`] atomic: after a crash either the
/// whole batch is visible or none of it.
pub trait NodeStore {
    /// The bytes of the node stored under `hash`, if any.
    fn node(&self, hash: &H256) -> Result<Option<Vec<u8>>, Error>;
    /// The reference count of `hash` (zero when absent).
    fn refcount(&self, hash: &H256) -> Result<u32, Error>;
    /// Whether `root` is a retained root.
    fn is_root(&self, root: &H256) -> Result<bool, Error>;
    /// Every retained root (for recovery after a restart).
    fn roots(&self) -> Result<Vec<H256>, Error>;
    /// Applies a batch atomically.
    fn write(&mut self, batch: WriteBatch) -> Result<(), Error>;
}

impl<S: NodeStore + ?Sized> NodeStore for &mut S {
    fn node(&self, hash: &H256) -> Result<Option<Vec<u8>>, Error> {
        (**self).node(hash)
    }
    fn refcount(&self, hash: &H256) -> Result<u32, Error> {
        (**self).refcount(hash)
    }
    fn is_root(&self, root: &H256) -> Result<bool, Error> {
        (**self).is_root(root)
    }
    fn roots(&self) -> Result<Vec<H256>, Error> {
        (**self).roots()
    }
    fn write(&mut self, batch: WriteBatch) -> Result<(), Error> {
        (**self).write(batch)
    }
}

/// One stored node: its bytes and reference count.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    bytes: Vec<u8>,
    refcount: u32,
}

// Keyed by uniformly distributed hashes; iteration order is never observed (`nodes()`
// sorts), so a hash map is safe here and much faster than a BTreeMap at 10^6 nodes.
type NodeMap = crate::hashmap::NodeMap<Entry>;

/// An in-memory [`NodeStore`]: a hash map of `(bytes, refcount)` plus the root set.
///
/// Bookkeeping per live node: the 4-byte refcount (the 32-byte key and the bytes are
/// needed by any store).
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    nodes: NodeMap,
    roots: BTreeSet<H256>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of stored nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node is stored.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every stored node as `(hash, refcount)`, sorted by hash.
    pub fn nodes(&self) -> Vec<(H256, u32)> {
        let mut v: Vec<(H256, u32)> = self.nodes.iter().map(|(h, e)| (*h, e.refcount)).collect();
        v.sort_unstable();
        v
    }

    /// Total bytes of node encodings stored.
    pub fn payload_bytes(&self) -> usize {
        self.nodes.values().map(|e| e.bytes.len()).sum()
    }

    /// Bytes of reference-count bookkeeping per live node (the `u32` count).
    pub const REFCOUNT_BYTES_PER_NODE: usize = size_of::<u32>();
}

impl NodeStore for MemoryStore {
    fn node(&self, hash: &H256) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.nodes.get(hash).map(|e| e.bytes.clone()))
    }

    fn refcount(&self, hash: &H256) -> Result<u32, Error> {
        Ok(self.nodes.get(hash).map_or(0, |e| e.refcount))
    }

    fn is_root(&self, root: &H256) -> Result<bool, Error> {
        Ok(self.roots.contains(root))
    }

    fn roots(&self) -> Result<Vec<H256>, Error> {
        Ok(self.roots.iter().copied().collect())
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), Error> {
        // Validate first so that a bad batch changes nothing (atomicity).
        for (hash, w) in &batch.nodes {
            match w {
                NodeWrite::Put { refcount: 0, .. } | NodeWrite::SetRefcount(0) => {
                    return Err(Error::Inconsistent { hash: *hash, reason: "write of a zero refcount" });
                }
                NodeWrite::SetRefcount(_) | NodeWrite::Delete if !self.nodes.contains_key(hash) => {
                    return Err(Error::Inconsistent { hash: *hash, reason: "update of an absent node" });
                }
                _ => {}
            }
        }
        self.nodes.reserve(batch.nodes.len());
        for (hash, w) in batch.nodes {
            match w {
                NodeWrite::Put { bytes, refcount } => {
                    self.nodes.insert(hash, Entry { bytes, refcount });
                }
                NodeWrite::SetRefcount(rc) => {
                    if let Some(e) = self.nodes.get_mut(&hash) {
                        e.refcount = rc;
                    }
                }
                NodeWrite::Delete => {
                    self.nodes.remove(&hash);
                }
            }
        }
        for r in batch.remove_roots {
            self.roots.remove(&r);
        }
        self.roots.extend(batch.add_roots);
        Ok(())
    }
}
