//! Changesets, and the two operations that move reference counts: [`apply`] and
//! [`prune`].
//!
//! # Reference counts
//!
//! The count of a stored node is the number of stored nodes that reference it by hash
//! (a branch holding the same child twice counts twice) plus the number of times it is
//! retained as a root. Whitepaper §6.1 ("state pruning"): each node counts its parents;
//! deleting a root decrements, and a node is removed, recursively, only when its count
//! reaches zero.
//!
//! * [`apply`] walks the changeset from its root: a node already in the store gets
//!   `+1` and the walk stops there (its subtree is already counted); a new node is
//!   stored with count 1 and the walk continues into the nodes it references. Identical
//!   subtrees are therefore stored once, and the existing nodes a commit points to get
//!   exactly one increment per new parent. The root's retention count goes up by one.
//! * [`prune`] is the mirror image: `-1` on the root, and only a node that reaches zero
//!   is deleted and has its children decremented. The root's retention count goes down
//!   by one. Its cost is the number of nodes unique
//!   to the pruned root plus their children: O(k log n) for k keys changed between that
//!   root and the next retained one. The log n is visible: each level a path gains adds
//!   one deletion and up to 15 decrements per changed key.
//!
//! # Retained roots are counted
//!
//! Two owners may commit the same root (two tries over one store, or two accounts whose
//! storage tries hold the same entries). Each owner's `apply` retains the root once more
//! and each owner's `prune` releases it once; the state goes only when the last owner
//! prunes. So `apply` and `prune` are *counted*, not idempotent: applying a changeset a
//! second time is a second owner, and must be pruned a second time.
//!
//! # Crash safety
//!
//! The store changes the retention count of the root in the same atomic [`WriteBatch`]
//! as the node counts, so with an atomic `write` an interrupted apply or prune leaves the
//! store exactly as it was, or entirely done. After a crash the owner must know which
//! before repeating the operation: [`NodeStore::root_count`] tells, and
//! [`crate::Retention::recover`] reconciles the store's counts with the policy's roots.
//! `prune` of a root that is not retained at all does nothing. Neither operation ever
//! deletes a node reachable from another retained root: such a node has a count of at
//! least one for each of its retained parents and retentions. Both refuse (with an
//! error, writing nothing) to create a dangling reference, to decrement below zero, or
//! to overflow a count.

use std::collections::hash_map::Entry;

use primitives::{EMPTY_TRIE_ROOT, H256};

use crate::Error;
use crate::codec::{decode_node, for_each_child_hash};
use crate::store::{NodeStore, NodeWrite, WriteBatch};

// Scratch maps keyed by node hash; iteration order is never observed (the batch is
// written as a whole), so a hash map is fine and faster.
type Scratch<V> = crate::hashmap::NodeMap<V>;

/// The nodes a commit created, and the root they hang from.
///
/// Produced by [`Trie::commit`](crate::Trie::commit); hand it to [`apply`]. Changesets of
/// one trie must be applied in commit order (a later commit references nodes of an
/// earlier one); applying one whose references are missing fails with
/// [`Error::MissingNode`] and writes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSet {
    pub(crate) root: H256,
    pub(crate) nodes: Vec<(H256, Vec<u8>)>,
}

impl ChangeSet {
    /// The state root this changeset produces.
    pub fn root(&self) -> H256 {
        self.root
    }

    /// The new nodes, as `(keccak256(bytes), bytes)`, children before parents.
    pub fn nodes(&self) -> &[(H256, Vec<u8>)] {
        &self.nodes
    }

    /// Number of new nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the commit created no node. A commit with no change since the last one is
    /// always empty, whether its root is hashed, inline (stored under its hash when new)
    /// or empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// What an [`apply`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyStats {
    /// Nodes stored for the first time.
    pub inserted: usize,
    /// Existing nodes whose count went up.
    pub incremented: usize,
    /// The root was already retained (by another owner, or by an earlier apply of the
    /// same changeset): only its counts went up.
    pub already_retained: bool,
    /// The root's retention count after the apply (0 for the empty root, which is never
    /// stored).
    pub retained: u32,
}

/// What a [`prune`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneStats {
    /// Nodes deleted (their count reached zero).
    pub deleted: usize,
    /// Nodes whose count went down but stayed positive.
    pub decremented: usize,
    /// The root was not retained: nothing was done.
    pub not_retained: bool,
    /// The root's retention count after the prune (other owners still retaining it).
    pub retained: u32,
}

/// Stores a changeset and retains its root once more, in one atomic write.
///
/// Counted: each apply is one more owner of the root (see the [module docs](self)); a
/// root already retained gets its counts raised and nothing else is written. A caller
/// that applies and prunes every block can keep a [`Bookkeeper`] instead, to reuse its
/// buffers.
pub fn apply<S: NodeStore + ?Sized>(store: &mut S, changes: &ChangeSet) -> Result<ApplyStats, Error> {
    Bookkeeper::new().apply(store, changes)
}

/// Releases one retention of `root`: decrements it and deletes, recursively, exactly the
/// nodes whose count reaches zero, in one atomic write. Nothing is deleted while another
/// owner still retains the root.
///
/// If `root` is not retained nothing happens. A caller that prunes every block can keep
/// a [`Bookkeeper`] instead, to reuse its buffers.
pub fn prune<S: NodeStore + ?Sized>(store: &mut S, root: H256) -> Result<PruneStats, Error> {
    Bookkeeper::new().prune(store, root)
}

/// [`apply`] and [`prune`] with scratch buffers kept between calls.
///
/// Both operations work out every count in memory before the one atomic write, in hash
/// maps that grow to the number of nodes touched (about 30,000 for 1,000 changed keys on
/// a state of 10^6 accounts). Regrowing them on every call costs up to a tenth of a
/// prune; a `Bookkeeper` keeps them (cleared, not shrunk) for the next call. Results are
/// identical to the free functions'. [`crate::Retention`] holds one.
///
/// ```
/// use mpt_refcount::{Bookkeeper, MemoryStore, Trie};
///
/// let mut store = MemoryStore::new();
/// let mut books = Bookkeeper::new();
/// let mut trie = Trie::new();
/// trie.insert(&store, b"key", b"one")?;
/// let first = trie.commit();
/// books.apply(&mut store, &first)?;
/// trie.insert(&store, b"key", b"two")?;
/// let second = trie.commit();
/// books.apply(&mut store, &second)?;
/// let stats = books.prune(&mut store, first.root())?;
/// assert_eq!(stats.deleted, 1);
/// assert_eq!(store.len(), 1);
/// # Ok::<(), mpt_refcount::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Bookkeeper {
    /// `apply`: new node hash -> its index in the changeset.
    index: Scratch<usize>,
    /// `apply`: hash -> (index of new bytes, or None for an existing node; final count).
    added: Scratch<(Option<usize>, u32)>,
    /// `prune`: hash -> final count.
    removed: Scratch<u32>,
    stack: Vec<H256>,
}

impl Bookkeeper {
    /// Empty buffers; they grow on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// [`apply`], reusing this bookkeeper's buffers.
    pub fn apply<S: NodeStore + ?Sized>(
        &mut self,
        store: &mut S,
        changes: &ChangeSet,
    ) -> Result<ApplyStats, Error> {
        let root = changes.root;
        if root == EMPTY_TRIE_ROOT {
            return Ok(ApplyStats { already_retained: true, ..ApplyStats::default() });
        }
        let owners = store.root_count(&root)?;
        let retained = owners.checked_add(1).ok_or(Error::RefcountOverflow { hash: root })?;
        let Bookkeeper { index, added: touched, stack, .. } = self;
        index.clear();
        index.extend(changes.nodes.iter().enumerate().map(|(i, (h, _))| (*h, i)));
        touched.clear();
        touched.reserve(changes.nodes.len() * 2);
        stack.clear();
        stack.push(root);
        while let Some(h) = stack.pop() {
            if let Some((_, rc)) = touched.get_mut(&h) {
                *rc = rc.checked_add(1).ok_or(Error::RefcountOverflow { hash: h })?;
                continue;
            }
            let rc = store.refcount(&h)?;
            if rc > 0 {
                let rc = rc.checked_add(1).ok_or(Error::RefcountOverflow { hash: h })?;
                touched.insert(h, (None, rc));
                continue;
            }
            let &i = index.get(&h).ok_or(Error::MissingNode { hash: h })?;
            decode_node(&changes.nodes[i].1)?.for_each_hash(|c| stack.push(c));
            touched.insert(h, (Some(i), 1));
        }
        let mut stats = ApplyStats { already_retained: owners > 0, retained, ..ApplyStats::default() };
        let mut batch =
            WriteBatch { nodes: Vec::with_capacity(touched.len()), roots: vec![(root, retained)] };
        for (h, (new, rc)) in touched.drain() {
            let write = match new {
                Some(i) => {
                    stats.inserted += 1;
                    NodeWrite::Put { bytes: changes.nodes[i].1.clone(), refcount: rc }
                }
                None => {
                    stats.incremented += 1;
                    NodeWrite::SetRefcount(rc)
                }
            };
            batch.nodes.push((h, write));
        }
        store.write(batch)?;
        Ok(stats)
    }

    /// [`prune`], reusing this bookkeeper's buffers.
    pub fn prune<S: NodeStore + ?Sized>(&mut self, store: &mut S, root: H256) -> Result<PruneStats, Error> {
        if root == EMPTY_TRIE_ROOT {
            return Ok(PruneStats { not_retained: true, ..PruneStats::default() });
        }
        let owners = store.root_count(&root)?;
        let Some(retained) = owners.checked_sub(1) else {
            return Ok(PruneStats { not_retained: true, ..PruneStats::default() });
        };
        let Bookkeeper { removed: touched, stack, .. } = self;
        touched.clear();
        stack.clear();
        stack.push(root);
        while let Some(h) = stack.pop() {
            let slot = match touched.entry(h) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(store.refcount(&h)?),
            };
            *slot =
                slot.checked_sub(1).ok_or(Error::Inconsistent { hash: h, reason: "refcount below zero" })?;
            if *slot == 0 {
                let bytes = store
                    .node_ref(&h)?
                    .ok_or(Error::Inconsistent { hash: h, reason: "counted node without bytes" })?;
                for_each_child_hash(&bytes, |c| stack.push(c))?;
            }
        }
        let mut stats = PruneStats { retained, ..PruneStats::default() };
        let mut batch =
            WriteBatch { nodes: Vec::with_capacity(touched.len()), roots: vec![(root, retained)] };
        for (h, rc) in touched.drain() {
            if rc == 0 {
                stats.deleted += 1;
                batch.nodes.push((h, NodeWrite::Delete));
            } else {
                stats.decremented += 1;
                batch.nodes.push((h, NodeWrite::SetRefcount(rc)));
            }
        }
        store.write(batch)?;
        Ok(stats)
    }
}
