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

use mpt_refcount::{Error as TrieError, NodeStore, WriteBatch};
use primitives::H256;

use super::overlay::Overlay;
use super::{BlockRecord, Storage, StorageError};

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
        !self.overlay.borrow().is_empty()
    }

    /// Drops the pending trie writes (after a failed ledger commit).
    pub fn discard(&self) {
        *self.overlay.borrow_mut() = Overlay::default();
    }

    /// Writes `block` and every pending trie write in one [`Storage::commit_block`]
    /// transaction. On an error nothing is written and the overlay is kept.
    pub fn commit_block(&self, block: BlockRecord) -> Result<(), StorageError> {
        let batch = self.overlay.borrow().batch(&*self.base.borrow())?;
        self.base.borrow_mut().commit_block(block, batch)?;
        self.discard();
        Ok(())
    }
}

impl<S: Storage> NodeStore for Buffered<S> {
    fn node(&self, hash: &H256) -> Result<Option<Vec<u8>>, TrieError> {
        let (overlay, base) = (self.overlay.borrow(), self.base.borrow());
        Ok(overlay.current(&*base, hash)?.map(|(b, _)| b.into_owned()))
    }

    fn node_ref(&self, hash: &H256) -> Result<Option<Cow<'_, [u8]>>, TrieError> {
        // The base sits behind a RefCell: the bytes cannot outlive its borrow.
        Ok(self.node(hash)?.map(Cow::Owned))
    }

    fn refcount(&self, hash: &H256) -> Result<u32, TrieError> {
        let (overlay, base) = (self.overlay.borrow(), self.base.borrow());
        Ok(overlay.current(&*base, hash)?.map_or(0, |(_, rc)| rc))
    }

    fn root_count(&self, root: &H256) -> Result<u32, TrieError> {
        self.overlay.borrow().root_count(&*self.base.borrow(), root)
    }

    fn roots(&self) -> Result<Vec<H256>, TrieError> {
        self.overlay.borrow().roots(&*self.base.borrow())
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), TrieError> {
        self.overlay.get_mut().write(self.base.get_mut(), batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;
    use mpt_refcount::NodeWrite;

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
