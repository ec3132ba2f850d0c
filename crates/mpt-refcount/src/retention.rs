//! Retention policy: keep the last N roots plus pinned roots, prune the rest.
//!
//! Theta's validators only ever need recent states plus finalized checkpoints (whitepaper,
//! "state pruning"); everything else can go. [`Retention`] tracks how many reasons each
//! root has to stay (a place in the window of the last N commits, or a pin) and prunes a
//! root when the last reason goes. Two commits with the same root share it: a policy
//! holds exactly one of the store's retentions of each root it retains (the store counts
//! owners, see [`crate::changeset`]), so another owner of the same root — a second policy
//! or trie on the same store — keeps its state when this policy prunes it.
//!
//! Order of operations (safe even for a store without atomic batches, see
//! [`crate::changeset`]): the new changeset is applied *before* anything is pruned, so
//! nodes shared between the old and the new state never reach zero in between.
//!
//! After a restart, rebuild the window and pins from the host's block index and call
//! [`Retention::recover`], which brings the store's retention counts to the policy's: one
//! for each root the policy retains, none for any other (for example a root whose prune
//! was interrupted by the crash, or whose apply landed twice).

use std::collections::{BTreeMap, VecDeque};

use primitives::{EMPTY_TRIE_ROOT, H256};

use crate::Error;
use crate::changeset::{Bookkeeper, ChangeSet, PruneStats};
use crate::store::NodeStore;

/// Keeps the last `keep_last` committed roots plus pinned roots.
#[derive(Debug, Clone)]
pub struct Retention {
    keep_last: usize,
    window: VecDeque<H256>,
    pins: BTreeMap<H256, u32>,
    /// Reasons each root is retained (window slots plus pins).
    reasons: BTreeMap<H256, u32>,
    /// Scratch buffers reused by every apply and prune.
    books: Bookkeeper,
}

impl Retention {
    /// A policy keeping the last `keep_last` roots (at least 1).
    pub fn new(keep_last: usize) -> Self {
        Retention {
            keep_last: keep_last.max(1),
            window: VecDeque::new(),
            pins: BTreeMap::new(),
            reasons: BTreeMap::new(),
            books: Bookkeeper::new(),
        }
    }

    /// Rebuilds a policy after a restart from the recent roots (oldest first) and the
    /// pinned roots, and prunes every root the store retains that the policy does not,
    /// and every extra retention of a root it does (the policy holds one per root).
    ///
    /// The policy must be the store's only owner of retained roots: the retentions of
    /// other owners are pruned too. Every root in `recent` (the last `keep_last`) and
    /// `pinned` other than the empty root must be retained by the store: otherwise
    /// nothing is pruned and the answer is [`Error::RootNotStored`] (the host's index
    /// names a state whose apply never landed; re-apply it or drop it from the index).
    pub fn recover<S: NodeStore + ?Sized>(
        store: &mut S,
        keep_last: usize,
        recent: &[H256],
        pinned: &[H256],
    ) -> Result<(Self, Vec<(H256, PruneStats)>), Error> {
        let mut r = Retention::new(keep_last);
        let skip = recent.len().saturating_sub(r.keep_last);
        for root in &recent[skip..] {
            r.window.push_back(*root);
            *r.reasons.entry(*root).or_insert(0) += 1;
        }
        for root in pinned {
            *r.pins.entry(*root).or_insert(0) += 1;
            *r.reasons.entry(*root).or_insert(0) += 1;
        }
        // Every root to keep must be there to keep, checked before anything is pruned.
        for root in r.reasons.keys() {
            if *root != EMPTY_TRIE_ROOT && store.root_count(root)? == 0 {
                return Err(Error::RootNotStored { root: *root });
            }
        }
        let mut pruned = Vec::new();
        for root in store.roots()? {
            let keep = u32::from(r.reasons.contains_key(&root));
            let mut owners = store.root_count(&root)?;
            while owners > keep {
                let stats = r.books.prune(store, root)?;
                owners = stats.retained;
                pruned.push((root, stats));
            }
        }
        Ok((r, pruned))
    }

    /// Applies `changes` (unless the policy already retains its root, whose one
    /// retention it then shares), records its root as the newest, and prunes the roots
    /// that leave the window and are not pinned. Returns what was pruned.
    ///
    /// If the apply fails nothing changed: pass `changes` to
    /// [`Trie::mark_unapplied`](crate::Trie::mark_unapplied) so the trie's next commit
    /// emits its nodes again ([`Retention::commit_trie`] does this itself). If a prune fails (a store error), the root it was pruning
    /// has already left the policy but is still retained by the store: nothing is lost,
    /// and [`Retention::recover`] prunes it on the next start.
    pub fn commit<S: NodeStore + ?Sized>(
        &mut self,
        store: &mut S,
        changes: &ChangeSet,
    ) -> Result<Vec<(H256, PruneStats)>, Error> {
        let root = changes.root();
        if !self.reasons.contains_key(&root) {
            self.books.apply(store, changes)?;
        }
        self.record(store, root)
    }

    /// Records the applied `root` as the newest and prunes what leaves the window.
    fn record<S: NodeStore + ?Sized>(
        &mut self,
        store: &mut S,
        root: H256,
    ) -> Result<Vec<(H256, PruneStats)>, Error> {
        self.window.push_back(root);
        *self.reasons.entry(root).or_insert(0) += 1;
        let mut pruned = Vec::new();
        while self.window.len() > self.keep_last {
            if let Some(old) = self.window.pop_front()
                && let Some(stats) = self.release(store, old)?
            {
                pruned.push((old, stats));
            }
        }
        Ok(pruned)
    }

    /// Commits `trie` and [`Retention::commit`]s the changeset, the safe default: if the
    /// apply fails, the trie is told ([`Trie::mark_unapplied`](crate::Trie::mark_unapplied))
    /// before the error is returned, so its next commit emits the lost nodes again. A
    /// failure while pruning (after the apply landed) is returned as is: the new root
    /// is stored and retained. Returns the new root and what was pruned.
    pub fn commit_trie<S: NodeStore + ?Sized>(
        &mut self,
        store: &mut S,
        trie: &mut crate::Trie,
    ) -> Result<(H256, Vec<(H256, PruneStats)>), Error> {
        let changes = trie.commit();
        let root = changes.root();
        if !self.reasons.contains_key(&root)
            && let Err(e) = self.books.apply(store, &changes)
        {
            trie.mark_unapplied(&changes);
            return Err(e);
        }
        Ok((root, self.record(store, root)?))
    }

    /// Pins a retained root (a finalized checkpoint) so it outlives the window. Pins
    /// nest: each `pin` needs one `unpin`.
    pub fn pin(&mut self, root: H256) -> Result<(), Error> {
        let reasons = self.reasons.get_mut(&root).ok_or(Error::NotRetained { root })?;
        *reasons += 1;
        *self.pins.entry(root).or_insert(0) += 1;
        Ok(())
    }

    /// Removes one pin of `root`; prunes it if nothing else retains it.
    pub fn unpin<S: NodeStore + ?Sized>(
        &mut self,
        store: &mut S,
        root: H256,
    ) -> Result<Option<PruneStats>, Error> {
        let pins = self.pins.get_mut(&root).ok_or(Error::NotRetained { root })?;
        *pins -= 1;
        if *pins == 0 {
            self.pins.remove(&root);
        }
        self.release(store, root)
    }

    /// The retained roots, in ascending order.
    pub fn retained(&self) -> impl Iterator<Item = &H256> {
        self.reasons.keys()
    }

    /// The window of recent roots, oldest first.
    pub fn recent(&self) -> impl Iterator<Item = &H256> {
        self.window.iter()
    }

    /// Whether `root` is retained.
    pub fn is_retained(&self, root: &H256) -> bool {
        self.reasons.contains_key(root)
    }

    fn release<S: NodeStore + ?Sized>(
        &mut self,
        store: &mut S,
        root: H256,
    ) -> Result<Option<PruneStats>, Error> {
        let Some(reasons) = self.reasons.get_mut(&root) else {
            return Ok(None);
        };
        *reasons -= 1;
        if *reasons > 0 {
            return Ok(None);
        }
        self.reasons.remove(&root);
        self.books.prune(store, root).map(Some)
    }
}
