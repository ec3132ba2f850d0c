//! [`Buffered`]: a [`Storage`] that a `Ledger` can own while the node still commits each
//! block and its state in one transaction.
//!
//! The ledger owns its `NodeStore` and writes a block's trie batches (and the retention
//! policy's prunes) through it as it commits. `Buffered` holds those writes in an overlay
//! (reads see them, as with [`super::Staged`]) until the node calls
//! [`Buffered::commit_block`], which folds them into the one [`WriteBatch`] that
//! [`Storage::commit_block`] writes together with the block record. Everything else
//! (consensus state, metadata, block reads) goes straight to the base store through
//! [`Buffered::with_base`] and [`Buffered::with_base_mut`]; interior mutability lets the
//! node reach the base through the ledger's shared `store()` borrow.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;

use mpt_refcount::{Error as TrieError, NodeStore, NodeWrite, WriteBatch};
use primitives::H256;

use super::{BlockRecord, Storage, StorageError};

type Pending = Option<(Vec<u8>, u32)>;

#[derive(Debug, Default)]
struct Overlay {
    nodes: BTreeMap<H256, Pending>,
    roots: BTreeMap<H256, u32>,
}

/// A write-buffering wrapper over a [`Storage`]. See the module docs.
#[derive(Debug)]
pub struct Buffered<S> {
    base: RefCell<S>,
    overlay: RefCell<Overlay>,
}

impl<S: Storage> Buffered<S> {
    /// Wraps `base` with an empty overlay.
    pub fn new(base: S) -> Self {
        Self { base: RefCell::new(base), overlay: RefCell::new(Overlay::default()) }
    }

    /// Reads the base store.
    pub fn with_base<R>(&self, f: impl FnOnce(&S) -> R) -> R {
        f(&self.base.borrow())
    }

    /// Writes the base store directly (consensus state, metadata, certificates).
    pub fn with_base_mut<R>(&self, f: impl FnOnce(&mut S) -> R) -> R {
        f(&mut self.base.borrow_mut())
    }

    /// Whether trie writes wait for a [`Buffered::commit_block`].
    pub fn has_pending(&self) -> bool {
        let o = self.overlay.borrow();
        !o.nodes.is_empty() || !o.roots.is_empty()
    }

    /// Drops the pending trie writes (after a failed ledger commit).
    pub fn discard(&self) {
        *self.overlay.borrow_mut() = Overlay::default();
    }

    /// Writes `block` and every pending trie write in one [`Storage::commit_block`]
    /// transaction. On an error nothing is written and the overlay is kept.
    pub fn commit_block(&self, block: BlockRecord) -> Result<(), StorageError> {
        let batch = {
            let o = self.overlay.borrow();
            let base = self.base.borrow();
            let mut batch = WriteBatch::default();
            for (hash, fin) in &o.nodes {
                let in_base = base.refcount(hash)? > 0;
                match (fin, in_base) {
                    (Some((_, rc)), true) => batch.nodes.push((*hash, NodeWrite::SetRefcount(*rc))),
                    (Some((bytes, refcount)), false) => batch
                        .nodes
                        .push((*hash, NodeWrite::Put { bytes: bytes.clone(), refcount: *refcount })),
                    (None, true) => batch.nodes.push((*hash, NodeWrite::Delete)),
                    (None, false) => {}
                }
            }
            batch.roots = o.roots.iter().map(|(r, c)| (*r, *c)).collect();
            batch
        };
        self.base.borrow_mut().commit_block(block, batch)?;
        self.discard();
        Ok(())
    }

    fn current(&self, hash: &H256) -> Result<Pending, TrieError> {
        if let Some(p) = self.overlay.borrow().nodes.get(hash) {
            return Ok(p.clone());
        }
        let base = self.base.borrow();
        match base.node(hash)? {
            Some(bytes) => Ok(Some((bytes, base.refcount(hash)?))),
            None => Ok(None),
        }
    }
}

impl<S: Storage> NodeStore for Buffered<S> {
    fn node(&self, hash: &H256) -> Result<Option<Vec<u8>>, TrieError> {
        Ok(self.current(hash)?.map(|(b, _)| b))
    }

    fn node_ref(&self, hash: &H256) -> Result<Option<Cow<'_, [u8]>>, TrieError> {
        Ok(self.node(hash)?.map(Cow::Owned))
    }

    fn refcount(&self, hash: &H256) -> Result<u32, TrieError> {
        if let Some(p) = self.overlay.borrow().nodes.get(hash) {
            return Ok(p.as_ref().map_or(0, |(_, rc)| *rc));
        }
        self.base.borrow().refcount(hash)
    }

    fn root_count(&self, root: &H256) -> Result<u32, TrieError> {
        if let Some(c) = self.overlay.borrow().roots.get(root) {
            return Ok(*c);
        }
        self.base.borrow().root_count(root)
    }

    fn roots(&self) -> Result<Vec<H256>, TrieError> {
        let mut all: BTreeMap<H256, u32> = self.base.borrow().roots()?.into_iter().map(|r| (r, 1)).collect();
        for (r, c) in &self.overlay.borrow().roots {
            all.insert(*r, *c);
        }
        Ok(all.into_iter().filter(|(_, c)| *c > 0).map(|(r, _)| r).collect())
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), TrieError> {
        // Validate the whole batch against the current view, then apply: a bad write
        // leaves the overlay as it was (the NodeStore atomicity contract).
        let mut updates: Vec<(H256, Pending)> = Vec::with_capacity(batch.nodes.len());
        for (hash, w) in batch.nodes {
            let fin = match w {
                NodeWrite::Put { refcount: 0, .. } | NodeWrite::SetRefcount(0) => {
                    return Err(TrieError::Inconsistent { hash, reason: "write of a zero refcount" });
                }
                NodeWrite::Put { bytes, refcount } => Some((bytes, refcount)),
                NodeWrite::SetRefcount(rc) => match self.current(&hash)? {
                    Some((bytes, _)) => Some((bytes, rc)),
                    None => return Err(TrieError::Inconsistent { hash, reason: "update of an absent node" }),
                },
                NodeWrite::Delete => match self.current(&hash)? {
                    Some(_) => None,
                    None => return Err(TrieError::Inconsistent { hash, reason: "update of an absent node" }),
                },
            };
            updates.push((hash, fin));
        }
        let o = self.overlay.get_mut();
        o.nodes.extend(updates);
        o.roots.extend(batch.roots);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    #[test]
    fn writes_wait_for_the_block_commit() {
        let mut b = Buffered::new(MemoryStorage::new());
        let h = H256::repeat_byte(7);
        let mut batch = WriteBatch::default();
        batch.nodes.push((h, NodeWrite::Put { bytes: vec![1, 2], refcount: 1 }));
        batch.roots.push((h, 1));
        b.write(batch).unwrap();
        assert_eq!(b.node(&h).unwrap(), Some(vec![1, 2]));
        assert_eq!(b.with_base(|s| s.node(&h).unwrap()), None, "not in the base yet");
        let rec = BlockRecord {
            height: 0,
            hash: H256::repeat_byte(1),
            state_root: h,
            bytes: vec![],
            certificate: None,
        };
        b.commit_block(rec).unwrap();
        assert!(!b.has_pending());
        assert_eq!(b.with_base(|s| s.node(&h).unwrap()), Some(vec![1, 2]));
        assert_eq!(b.with_base(|s| s.root_count(&h).unwrap()), 1);
    }
}
