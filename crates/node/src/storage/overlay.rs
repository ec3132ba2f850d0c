//! The write overlay shared by [`super::Staged`] (borrows its base) and
//! [`super::Buffered`] (owns it): pending node and root writes over a base
//! [`NodeStore`], reads that see them, all-or-nothing batch writes, and the fold of
//! everything pending into one [`WriteBatch`] against the base.

use std::borrow::Cow;
use std::collections::BTreeMap;

use mpt_refcount::{Error as TrieError, NodeStore, NodeWrite, WriteBatch};
use primitives::H256;

/// The final state of one touched node: `Some((bytes, refcount))`, or `None` if deleted.
type Pending = Option<(Vec<u8>, u32)>;

/// A node as the overlay sees it: its bytes (borrowed where possible) and its count.
pub(super) type View<'a> = Option<(Cow<'a, [u8]>, u32)>;

/// Pending writes over a base store.
#[derive(Debug, Default)]
pub(super) struct Overlay {
    /// Final state of each touched node.
    nodes: BTreeMap<H256, Pending>,
    /// Final retention count of each touched root.
    roots: BTreeMap<H256, u32>,
}

impl Overlay {
    /// Whether anything is pending.
    pub(super) fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.roots.is_empty()
    }

    /// The node as the overlay over `base` sees it.
    pub(super) fn current<'a, B: NodeStore + ?Sized>(
        &'a self,
        base: &'a B,
        hash: &H256,
    ) -> Result<View<'a>, TrieError> {
        match self.nodes.get(hash) {
            Some(Some((bytes, rc))) => Ok(Some((Cow::Borrowed(bytes.as_slice()), *rc))),
            Some(None) => Ok(None),
            None => match base.node_ref(hash)? {
                Some(bytes) => Ok(Some((bytes, base.refcount(hash)?))),
                None => Ok(None),
            },
        }
    }

    /// A root's retention count over `base`.
    pub(super) fn root_count<B: NodeStore + ?Sized>(&self, base: &B, root: &H256) -> Result<u32, TrieError> {
        match self.roots.get(root) {
            Some(c) => Ok(*c),
            None => base.root_count(root),
        }
    }

    /// Every retained root over `base`.
    pub(super) fn roots<B: NodeStore + ?Sized>(&self, base: &B) -> Result<Vec<H256>, TrieError> {
        let mut all: BTreeMap<H256, u32> = base.roots()?.into_iter().map(|r| (r, 1)).collect();
        for (r, c) in &self.roots {
            all.insert(*r, *c);
        }
        Ok(all.into_iter().filter(|(_, c)| *c > 0).map(|(r, _)| r).collect())
    }

    /// Takes `batch` in: the whole batch is validated against the current view first,
    /// then applied, so a bad write leaves the overlay as it was (the `NodeStore`
    /// atomicity contract).
    pub(super) fn write<B: NodeStore + ?Sized>(
        &mut self,
        base: &B,
        batch: WriteBatch,
    ) -> Result<(), TrieError> {
        let mut updates: Vec<(H256, Pending)> = Vec::with_capacity(batch.nodes.len());
        for (hash, w) in batch.nodes {
            let absent = TrieError::Inconsistent { hash, reason: "update of an absent node" };
            let fin = match w {
                NodeWrite::Put { refcount: 0, .. } | NodeWrite::SetRefcount(0) => {
                    return Err(TrieError::Inconsistent { hash, reason: "write of a zero refcount" });
                }
                NodeWrite::Put { bytes, refcount } => Some((bytes, refcount)),
                NodeWrite::SetRefcount(rc) => match self.current(base, &hash)? {
                    Some((bytes, _)) => Some((bytes.into_owned(), rc)),
                    None => return Err(absent),
                },
                NodeWrite::Delete => match self.current(base, &hash)? {
                    Some(_) => None,
                    None => return Err(absent),
                },
            };
            updates.push((hash, fin));
        }
        self.nodes.extend(updates);
        self.roots.extend(batch.roots);
        Ok(())
    }

    /// Everything pending as one batch against `base`.
    pub(super) fn batch<B: NodeStore + ?Sized>(&self, base: &B) -> Result<WriteBatch, TrieError> {
        let mut batch = WriteBatch::default();
        for (hash, fin) in &self.nodes {
            let in_base = base.refcount(hash)? > 0;
            match (fin, in_base) {
                (Some((_, rc)), true) => batch.nodes.push((*hash, NodeWrite::SetRefcount(*rc))),
                (Some((bytes, refcount)), false) => {
                    batch.nodes.push((*hash, NodeWrite::Put { bytes: bytes.clone(), refcount: *refcount }))
                }
                (None, true) => batch.nodes.push((*hash, NodeWrite::Delete)),
                (None, false) => {}
            }
        }
        batch.roots = self.roots.iter().map(|(r, c)| (*r, *c)).collect();
        Ok(batch)
    }
}
