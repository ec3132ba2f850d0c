//! The node store: a small synchronous trait and an in-memory implementation.
//!
//! A store holds, per node hash, the node's bytes and its **reference count**: the
//! number of stored nodes that reference it by hash (with multiplicity) plus the number
//! of times it is retained as a root. It also holds the **retained roots as a
//! multiset**: each root with the number of owners retaining it (two tries, or two
//! accounts' storage tries, may commit the same root; each owner's [`crate::apply`]
//! counts once and each [`crate::prune`] releases once, see [`crate::changeset`]).
//!
//! The trie never writes piecemeal: [`crate::apply`] and [`crate::prune`] read through
//! the store, compute the final state of every touched node, and hand the store one
//! [`WriteBatch`]. A persistent store makes crash safety a matter of writing that batch
//! in one transaction (for redb: one `begin_write` … `commit`; for a log-structured
//! store: one atomic write batch). Either all of it lands or none of it does.

use std::borrow::Cow;
use std::collections::BTreeMap;

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
    /// Retention counts, at most one per root: the root's number of owners after the
    /// batch (`0`: no longer retained).
    pub roots: Vec<(H256, u32)>,
}

impl WriteBatch {
    /// Whether the batch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.roots.is_empty()
    }
}

/// Where trie nodes live. Small and object safe (`&dyn NodeStore` works).
///
/// # Contract for implementations
///
/// The reference counting is correct only if every store keeps these (the
/// [`MemoryStore`] does, and the crate's tests check them through it):
///
/// * **Atomic writes.** [`NodeStore::write`] applies the whole batch or none of it:
///   after a crash, and also when it returns `Err` (a failed write must not leave part
///   of a batch behind: [`crate::apply`] and [`crate::prune`] report the error and the
///   caller retries or marks the changeset unapplied on the assumption that nothing
///   changed). The node writes and the retention counts in [`WriteBatch::roots`] land
///   together.
/// * **Faithful reads.** [`NodeStore::node`] / [`NodeStore::node_ref`] return exactly
///   the bytes last written under that hash, and `None` once it is deleted. Reads are
///   not re-hashed: a store that can corrupt data (a disk) must check integrity itself.
/// * **Counts.** [`NodeStore::refcount`] is `0` exactly when the node is absent and
///   otherwise the last count written; [`NodeStore::root_count`] is the last retention
///   count written (`0` when none); [`NodeStore::roots`] lists each root whose count is
///   above zero, once.
/// * **Read errors are errors.** A read that fails returns `Err`, never `Ok(None)` or
///   `Ok(0)`: "absent" is an answer the bookkeeping acts on (it stores a node anew, or
///   treats a root as not retained).
/// * **One writer.** Apply and prune read counts and then write a batch computed from
///   them; two of them running at once on one store would lose updates. Serialize them
///   (reads of stored nodes may run concurrently with each other).
pub trait NodeStore {
    /// The bytes of the node stored under `hash`, if any.
    fn node(&self, hash: &H256) -> Result<Option<Vec<u8>>, Error>;
    /// The bytes of the node stored under `hash`, borrowed where the store can lend them.
    ///
    /// The default copies through [`NodeStore::node`]; a store that holds nodes in memory
    /// overrides it to skip the copy (the trie reads and [`crate::prune`] go through here).
    fn node_ref(&self, hash: &H256) -> Result<Option<Cow<'_, [u8]>>, Error> {
        Ok(self.node(hash)?.map(Cow::Owned))
    }
    /// The reference count of `hash` (zero when absent).
    fn refcount(&self, hash: &H256) -> Result<u32, Error>;
    /// How many times `root` is retained (zero when it is not a retained root).
    fn root_count(&self, root: &H256) -> Result<u32, Error>;
    /// Whether `root` is retained at least once.
    fn is_root(&self, root: &H256) -> Result<bool, Error> {
        Ok(self.root_count(root)? > 0)
    }
    /// Every retained root, once each (for recovery after a restart).
    fn roots(&self) -> Result<Vec<H256>, Error>;
    /// Applies a batch atomically.
    fn write(&mut self, batch: WriteBatch) -> Result<(), Error>;
}

impl<S: NodeStore + ?Sized> NodeStore for &mut S {
    fn node(&self, hash: &H256) -> Result<Option<Vec<u8>>, Error> {
        (**self).node(hash)
    }
    fn node_ref(&self, hash: &H256) -> Result<Option<Cow<'_, [u8]>>, Error> {
        (**self).node_ref(hash)
    }
    fn refcount(&self, hash: &H256) -> Result<u32, Error> {
        (**self).refcount(hash)
    }
    fn root_count(&self, root: &H256) -> Result<u32, Error> {
        (**self).root_count(root)
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
    bytes: Box<[u8]>,
    refcount: u32,
}

/// How to roll back one write of a failed batch.
#[derive(Debug)]
enum Undo {
    /// The write stored a node that was absent.
    Remove,
    /// The write replaced or removed this entry.
    Restore(Entry),
    /// The write changed the count from this value.
    Count(u32),
}

// Keyed by uniformly distributed hashes; iteration order is never observed (`nodes()`
// sorts), so a hash map is safe here and much faster than a BTreeMap at 10^6 nodes.
type NodeMap = crate::hashmap::NodeMap<Entry>;

/// An in-memory [`NodeStore`]: a hash map of `(bytes, refcount)` plus the retained roots
/// with their counts.
///
/// Bookkeeping per live node: the 4-byte refcount (the 32-byte key and the bytes are
/// needed by any store).
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    nodes: NodeMap,
    roots: BTreeMap<H256, u32>,
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

    /// Rolls back the writes recorded in `undo`, newest first.
    fn undo(&mut self, undo: Vec<(H256, Undo)>) {
        for (hash, old) in undo.into_iter().rev() {
            match old {
                Undo::Remove => {
                    self.nodes.remove(&hash);
                }
                Undo::Restore(entry) => {
                    self.nodes.insert(hash, entry);
                }
                Undo::Count(rc) => {
                    if let Some(e) = self.nodes.get_mut(&hash) {
                        e.refcount = rc;
                    }
                }
            }
        }
    }

    /// Bytes of reference-count bookkeeping per live node (the `u32` count).
    pub const REFCOUNT_BYTES_PER_NODE: usize = size_of::<u32>();
}

impl NodeStore for MemoryStore {
    fn node(&self, hash: &H256) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.nodes.get(hash).map(|e| e.bytes.to_vec()))
    }

    fn node_ref(&self, hash: &H256) -> Result<Option<Cow<'_, [u8]>>, Error> {
        Ok(self.nodes.get(hash).map(|e| Cow::Borrowed(&*e.bytes)))
    }

    fn refcount(&self, hash: &H256) -> Result<u32, Error> {
        Ok(self.nodes.get(hash).map_or(0, |e| e.refcount))
    }

    fn root_count(&self, root: &H256) -> Result<u32, Error> {
        Ok(self.roots.get(root).copied().unwrap_or(0))
    }

    fn roots(&self) -> Result<Vec<H256>, Error> {
        Ok(self.roots.keys().copied().collect())
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), Error> {
        // One lookup per write; a bad write undoes the ones before it (atomicity). The
        // undo log holds each touched hash's previous entry (moved, not copied).
        // Reserve room for the new nodes only: a prune's batch adds none, and reserving
        // for it could make the table rehash all its entries in the middle of a prune.
        let puts = batch.nodes.iter().filter(|(_, w)| matches!(w, NodeWrite::Put { .. })).count();
        self.nodes.reserve(puts);
        let mut undo: Vec<(H256, Undo)> = Vec::with_capacity(batch.nodes.len());
        let mut failure = None;
        for (hash, w) in batch.nodes {
            let old = match w {
                NodeWrite::Put { refcount: 0, .. } | NodeWrite::SetRefcount(0) => {
                    failure = Some(Error::Inconsistent { hash, reason: "write of a zero refcount" });
                    break;
                }
                NodeWrite::Put { bytes, refcount } => {
                    match self.nodes.insert(hash, Entry { bytes: bytes.into_boxed_slice(), refcount }) {
                        Some(old) => Undo::Restore(old),
                        None => Undo::Remove,
                    }
                }
                NodeWrite::SetRefcount(rc) => match self.nodes.get_mut(&hash) {
                    Some(e) => Undo::Count(std::mem::replace(&mut e.refcount, rc)),
                    None => {
                        failure = Some(Error::Inconsistent { hash, reason: "update of an absent node" });
                        break;
                    }
                },
                NodeWrite::Delete => match self.nodes.remove(&hash) {
                    Some(e) => Undo::Restore(e),
                    None => {
                        failure = Some(Error::Inconsistent { hash, reason: "update of an absent node" });
                        break;
                    }
                },
            };
            undo.push((hash, old));
        }
        if let Some(err) = failure {
            self.undo(undo);
            return Err(err);
        }
        for (r, count) in batch.roots {
            if count == 0 {
                self.roots.remove(&r);
            } else {
                self.roots.insert(r, count);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(i: u8) -> H256 {
        H256::repeat_byte(i)
    }

    fn put(bytes: &[u8], refcount: u32) -> NodeWrite {
        NodeWrite::Put { bytes: bytes.to_vec(), refcount }
    }

    /// A store with nodes 1 (count 2) and 2 (count 1) and root 1.
    fn seeded() -> MemoryStore {
        let mut s = MemoryStore::new();
        s.write(WriteBatch {
            nodes: vec![(h(1), put(b"one", 2)), (h(2), put(b"two", 1))],
            roots: vec![(h(1), 1)],
        })
        .unwrap();
        s
    }

    /// Counts, bytes and roots: everything a write can change.
    type Snapshot = (Vec<(H256, u32)>, Vec<Option<Vec<u8>>>, Vec<H256>);

    fn snapshot(s: &MemoryStore) -> Snapshot {
        let nodes = s.nodes();
        let bytes = nodes.iter().map(|(k, _)| s.node(k).unwrap()).collect();
        (nodes, bytes, s.roots().unwrap())
    }

    #[test]
    fn a_failing_batch_rolls_back_every_earlier_write() {
        // Each batch does every kind of write (a new node, a replaced node, a count
        // change, a delete) and then fails, in the last position, in each possible way.
        let failures = [
            (h(9), NodeWrite::SetRefcount(3)),
            (h(9), NodeWrite::Delete),
            (h(9), put(b"zero", 0)),
            (h(1), NodeWrite::SetRefcount(0)),
        ];
        for failure in failures {
            let mut s = seeded();
            let before = snapshot(&s);
            let batch = WriteBatch {
                nodes: vec![
                    (h(3), put(b"three", 1)),
                    (h(1), NodeWrite::SetRefcount(5)),
                    (h(2), NodeWrite::Delete),
                    (h(3), NodeWrite::SetRefcount(4)),
                    (h(2), put(b"two again", 7)),
                    failure.clone(),
                ],
                roots: vec![(h(3), 1), (h(1), 0)],
            };
            assert!(matches!(s.write(batch), Err(Error::Inconsistent { .. })), "{failure:?}");
            assert_eq!(snapshot(&s), before, "{failure:?} left the store changed");
        }
    }

    #[test]
    fn a_good_batch_lands_whole() {
        let mut s = seeded();
        s.write(WriteBatch {
            nodes: vec![
                (h(3), put(b"three", 1)),
                (h(1), NodeWrite::SetRefcount(5)),
                (h(2), NodeWrite::Delete),
            ],
            roots: vec![(h(3), 2), (h(1), 0)],
        })
        .unwrap();
        assert_eq!(s.nodes(), vec![(h(1), 5), (h(3), 1)]);
        assert_eq!(s.root_count(&h(3)).unwrap(), 2);
        assert_eq!(s.root_count(&h(1)).unwrap(), 0);
        assert_eq!(s.node_ref(&h(3)).unwrap().as_deref(), Some(&b"three"[..]));
        assert_eq!(s.node(&h(2)).unwrap(), None);
        assert_eq!(s.roots().unwrap(), vec![h(3)]);
        assert_eq!(s.payload_bytes(), 3 + 5);
    }
}
