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
use std::collections::BTreeMap;

use mpt_refcount::{Error as TrieError, NodeStore, NodeWrite, WriteBatch};
use primitives::H256;

/// The final state of one touched node: `Some((bytes, refcount))`, or `None` if deleted.
type Pending = Option<(Vec<u8>, u32)>;

/// A node as the overlay sees it: its bytes (borrowed where possible) and its count.
type View<'a> = Option<(Cow<'a, [u8]>, u32)>;

/// A write overlay over a base store. See the module docs.
#[derive(Debug)]
pub struct Staged<'a, S: NodeStore + ?Sized> {
    base: &'a S,
    /// Final state of each touched node: `Some((bytes, refcount))` or `None` (deleted).
    nodes: BTreeMap<H256, Pending>,
    /// Final retention count of each touched root.
    roots: BTreeMap<H256, u32>,
}

impl<'a, S: NodeStore + ?Sized> Staged<'a, S> {
    /// An overlay with no pending writes.
    pub fn new(base: &'a S) -> Self {
        Self { base, nodes: BTreeMap::new(), roots: BTreeMap::new() }
    }

    fn current(&self, hash: &H256) -> Result<View<'_>, TrieError> {
        match self.nodes.get(hash) {
            Some(Some((bytes, rc))) => Ok(Some((Cow::Borrowed(bytes.as_slice()), *rc))),
            Some(None) => Ok(None),
            None => match self.base.node_ref(hash)? {
                Some(bytes) => Ok(Some((bytes, self.base.refcount(hash)?))),
                None => Ok(None),
            },
        }
    }

    /// The pending writes as one batch against the base store.
    pub fn into_batch(self) -> Result<WriteBatch, TrieError> {
        let mut batch = WriteBatch::default();
        for (hash, fin) in self.nodes {
            let in_base = self.base.refcount(&hash)? > 0;
            match (fin, in_base) {
                (Some((_, rc)), true) => batch.nodes.push((hash, NodeWrite::SetRefcount(rc))),
                (Some((bytes, refcount)), false) => {
                    batch.nodes.push((hash, NodeWrite::Put { bytes, refcount }))
                }
                (None, true) => batch.nodes.push((hash, NodeWrite::Delete)),
                (None, false) => {}
            }
        }
        batch.roots = self.roots.into_iter().collect();
        Ok(batch)
    }
}

impl<S: NodeStore + ?Sized> NodeStore for Staged<'_, S> {
    fn node(&self, hash: &H256) -> Result<Option<Vec<u8>>, TrieError> {
        Ok(self.current(hash)?.map(|(b, _)| b.into_owned()))
    }

    fn node_ref(&self, hash: &H256) -> Result<Option<Cow<'_, [u8]>>, TrieError> {
        Ok(self.current(hash)?.map(|(b, _)| b))
    }

    fn refcount(&self, hash: &H256) -> Result<u32, TrieError> {
        Ok(self.current(hash)?.map_or(0, |(_, rc)| rc))
    }

    fn root_count(&self, root: &H256) -> Result<u32, TrieError> {
        match self.roots.get(root) {
            Some(c) => Ok(*c),
            None => self.base.root_count(root),
        }
    }

    fn roots(&self) -> Result<Vec<H256>, TrieError> {
        let mut all: BTreeMap<H256, u32> = self.base.roots()?.into_iter().map(|r| (r, 1)).collect();
        for (r, c) in &self.roots {
            all.insert(*r, *c);
        }
        Ok(all.into_iter().filter(|(_, c)| *c > 0).map(|(r, _)| r).collect())
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), TrieError> {
        // Validate the whole batch against the current view first, then apply: a bad
        // write leaves the overlay as it was (the NodeStore atomicity contract).
        let mut updates: Vec<(H256, Pending)> = Vec::with_capacity(batch.nodes.len());
        for (hash, w) in batch.nodes {
            let fin = match w {
                NodeWrite::Put { refcount: 0, .. } | NodeWrite::SetRefcount(0) => {
                    return Err(TrieError::Inconsistent { hash, reason: "write of a zero refcount" });
                }
                NodeWrite::Put { bytes, refcount } => Some((bytes, refcount)),
                NodeWrite::SetRefcount(rc) => match self.current(&hash)? {
                    Some((bytes, _)) => Some((bytes.into_owned(), rc)),
                    None => return Err(TrieError::Inconsistent { hash, reason: "update of an absent node" }),
                },
                NodeWrite::Delete => match self.current(&hash)? {
                    Some(_) => None,
                    None => return Err(TrieError::Inconsistent { hash, reason: "update of an absent node" }),
                },
            };
            updates.push((hash, fin));
        }
        self.nodes.extend(updates);
        self.roots.extend(batch.roots);
        Ok(())
    }
}
