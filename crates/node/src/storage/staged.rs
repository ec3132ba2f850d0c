//! [`Staged`]: an overlay that collects a trie's writes into one batch, so a block's
//! state and the block itself land in one transaction.
//!
//! The trie's [`mpt_refcount::apply`], [`mpt_refcount::prune`] and
//! [`mpt_refcount::Retention`] write through [`NodeStore::write`], one batch per call,
//! and read counts between calls. `Staged` answers reads from its pending writes first
//! and the base store second, so a sequence of calls (an apply, then the prunes the
//! retention policy asks for) sees its own effects; [`Staged::into_batch`] then folds
//! them into the single [`WriteBatch`] that [`super::Storage::commit_block`] writes.

use std::borrow::Cow;

use mpt_refcount::{Error as TrieError, NodeStore, WriteBatch};
use primitives::H256;

use super::overlay::Overlay;

/// A write overlay over a base store. See the module docs.
#[derive(Debug)]
pub struct Staged<'a, S: NodeStore + ?Sized> {
    base: &'a S,
    overlay: Overlay,
}

impl<'a, S: NodeStore + ?Sized> Staged<'a, S> {
    /// An overlay with no pending writes.
    pub fn new(base: &'a S) -> Self {
        Self { base, overlay: Overlay::default() }
    }

    /// The pending writes as one batch against the base store.
    pub fn into_batch(self) -> Result<WriteBatch, TrieError> {
        self.overlay.batch(self.base)
    }
}

impl<S: NodeStore + ?Sized> NodeStore for Staged<'_, S> {
    fn node(&self, hash: &H256) -> Result<Option<Vec<u8>>, TrieError> {
        Ok(self.overlay.current(self.base, hash)?.map(|(b, _)| b.into_owned()))
    }

    fn node_ref(&self, hash: &H256) -> Result<Option<Cow<'_, [u8]>>, TrieError> {
        Ok(self.overlay.current(self.base, hash)?.map(|(b, _)| b))
    }

    fn refcount(&self, hash: &H256) -> Result<u32, TrieError> {
        Ok(self.overlay.current(self.base, hash)?.map_or(0, |(_, rc)| rc))
    }

    fn root_count(&self, root: &H256) -> Result<u32, TrieError> {
        self.overlay.root_count(self.base, root)
    }

    fn roots(&self) -> Result<Vec<H256>, TrieError> {
        self.overlay.roots(self.base)
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), TrieError> {
        self.overlay.write(self.base, batch)
    }
}
