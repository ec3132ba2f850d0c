//! Leaf iteration of a stored root in key order, resumable from any key.
//!
//! [`iter_from`] walks the stored nodes of a root with an explicit stack: it holds only
//! the nodes on the path to the current leaf (at most 130 for the key bound), never the
//! trie, and decodes each node once. Subtries whose keys all sort below the start key
//! are skipped without being read, so resuming from a key costs one path.
//!
//! ```
//! use mpt_refcount::{MemoryStore, Trie, iter_from};
//!
//! let mut store = MemoryStore::new();
//! let mut trie = Trie::new();
//! for k in [&b"dog"[..], b"do", b"horse", b"doge"] {
//!     trie.insert(&store, k, b"v")?;
//! }
//! let (root, _) = trie.commit_to(&mut store)?;
//! let keys: Vec<Vec<u8>> = iter_from(&store, root, b"dog")
//!     .map(|r| r.map(|(k, _)| k))
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(keys, [&b"dog"[..], b"doge", b"horse"]);
//! # Ok::<(), mpt_refcount::Error>(())
//! ```

use std::borrow::Cow;
use std::cmp::Ordering;

use primitives::{EMPTY_TRIE_ROOT, H256};

use crate::Error;
use crate::codec::{ChildRef, DecodedNode, decode_node, to_nibbles};
use crate::store::NodeStore;
use crate::trie::{KeyValue, MAX_KEY_BYTES};

/// A child slot of an open branch: an inline child is a range of the branch's bytes.
#[derive(Debug, Clone, Copy, Default)]
enum Slot {
    #[default]
    Empty,
    Hash(H256),
    Inline(usize, usize),
}

/// Where `inner` (a sub-slice of `outer`) starts in `outer`.
fn offset(outer: &[u8], inner: &[u8]) -> usize {
    inner.as_ptr() as usize - outer.as_ptr() as usize
}

/// A node to read: stored under a hash, or inline (copied out of its parent).
enum Source {
    Hash(H256),
    Inline(Vec<u8>),
}

// Frames live in one `Vec` of at most 130 (one per node on a path); boxing the branch
// would allocate once per branch visited instead.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum State {
    /// A branch: `next` 0 means the value is still to be visited, `1..=16` the next
    /// child slot plus one. The value is a range of the node's bytes.
    Branch { children: [Slot; 16], value: Option<(usize, usize)>, next: u8 },
    /// A leaf or an extension, already handled: popped on the next step.
    Done,
}

#[derive(Debug)]
struct Frame<'s> {
    /// The node's encoding, borrowed from the store where it lends it.
    bytes: Cow<'s, [u8]>,
    /// Stored under its hash (on the proof of the current leaf), not inline.
    stored: bool,
    /// Length of the nibble path to restore when the frame is popped.
    restore: usize,
    state: State,
}

/// Iterator over the `(key, value)` leaves of a stored root in ascending key order,
/// from [`iter_from`].
///
/// Yields `Err` for a node missing from the store ([`Error::MissingNode`]), a malformed
/// node (`InvalidNode`, `InvalidRlp`, `NodeTooLarge`), a value at an odd number of nibbles
/// (`InvalidNode`) or a path deeper than the key bound (`KeyTooLong`), and then ends.
#[derive(Debug)]
pub struct LeafIter<'s, S: NodeStore + ?Sized> {
    store: &'s S,
    stack: Vec<Frame<'s>>,
    /// Nibble path of the node on top of the stack.
    path: Vec<u8>,
    /// Nibbles of the start key; cleared once a key at or after it has been yielded.
    start: Vec<u8>,
    /// The root, until the first call reads it.
    root: Option<H256>,
    done: bool,
}

/// The leaves of `root` in ascending key order, starting at the first key `>= start`.
///
/// To resume after a key `k`, start from `k` followed by a zero byte (the smallest key
/// after `k`; see [`key_after`]). The empty root yields nothing.
pub fn iter_from<'s, S: NodeStore + ?Sized>(store: &'s S, root: H256, start: &[u8]) -> LeafIter<'s, S> {
    LeafIter {
        store,
        stack: Vec::new(),
        path: Vec::with_capacity(64),
        start: to_nibbles(start),
        root: (root != EMPTY_TRIE_ROOT).then_some(root),
        done: false,
    }
}

/// The smallest key after `key`: `key` followed by a zero byte.
pub fn key_after(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.extend_from_slice(key);
    k.push(0);
    k
}

/// Compares a nibble prefix with the start key on their common length: `Less` means
/// every key under `prefix` sorts below `start`.
fn prefix_vs_start(prefix: &[u8], start: &[u8]) -> Ordering {
    let m = prefix.len().min(start.len());
    prefix[..m].cmp(&start[..m])
}

fn nibbles_to_key(path: &[u8]) -> Result<Vec<u8>, Error> {
    if path.len() % 2 == 1 {
        return Err(Error::InvalidNode { reason: "a value at an odd number of nibbles" });
    }
    Ok(path.chunks_exact(2).map(|p| (p[0] << 4) | p[1]).collect())
}

impl<'s, S: NodeStore + ?Sized> LeafIter<'s, S> {
    /// The encoded size of the stored nodes on the path of the leaf last yielded (its
    /// Merkle proof), each counted with `per_node` bytes of framing.
    pub(crate) fn path_proof_size(&self, per_node: impl Fn(usize) -> usize) -> usize {
        self.stack.iter().filter(|f| f.stored).map(|f| per_node(f.bytes.len()) + f.bytes.len()).sum()
    }

    /// Whether the current path (a key, as nibbles) is at or after the start key; clears the start key once
    /// it is passed (later keys are larger).
    fn admits(&mut self) -> bool {
        if self.start.is_empty() {
            return true;
        }
        if self.path >= self.start {
            self.start.clear();
            true
        } else {
            false
        }
    }

    /// Reads the node `src` (the child at the current path) and pushes its frame;
    /// returns a leaf to yield if the node is a leaf at or after the start key.
    fn enter(&mut self, src: Source, restore: usize) -> Result<Option<KeyValue>, Error> {
        let mut src = src;
        let mut restore = restore;
        loop {
            if self.path.len() > 2 * MAX_KEY_BYTES {
                return Err(Error::KeyTooLong { len: self.path.len().div_ceil(2), limit: MAX_KEY_BYTES });
            }
            let (bytes, stored): (Cow<'s, [u8]>, bool) = match src {
                Source::Hash(h) => (self.store.node_ref(&h)?.ok_or(Error::MissingNode { hash: h })?, true),
                Source::Inline(raw) => (Cow::Owned(raw), false),
            };
            let next = match decode_node(&bytes)? {
                DecodedNode::Leaf { path, value } => {
                    for i in 0..path.len() {
                        self.path.push(path.at(i));
                    }
                    let hit = if self.admits() {
                        Some((nibbles_to_key(&self.path)?, value.to_vec()))
                    } else {
                        None
                    };
                    self.stack.push(Frame { bytes, stored, restore, state: State::Done });
                    return Ok(hit);
                }
                DecodedNode::Extension { path, child } => {
                    for i in 0..path.len() {
                        self.path.push(path.at(i));
                    }
                    let child = match child {
                        ChildRef::Hash(h) => Source::Hash(h),
                        ChildRef::Inline(raw) => Source::Inline(raw.to_vec()),
                        ChildRef::Empty => {
                            return Err(Error::InvalidNode { reason: "empty extension child" });
                        }
                    };
                    let skip = !self.start.is_empty() && prefix_vs_start(&self.path, &self.start).is_lt();
                    let depth = self.path.len();
                    self.stack.push(Frame { bytes, stored, restore, state: State::Done });
                    if skip {
                        return Ok(None);
                    }
                    restore = depth;
                    child
                }
                DecodedNode::Branch { children, value } => {
                    let mut slots = [Slot::Empty; 16];
                    for (s, c) in slots.iter_mut().zip(children.iter()) {
                        *s = match c {
                            ChildRef::Empty => Slot::Empty,
                            ChildRef::Hash(h) => Slot::Hash(*h),
                            ChildRef::Inline(raw) => {
                                let at = offset(&bytes, raw);
                                Slot::Inline(at, at + raw.len())
                            }
                        };
                    }
                    let value = value.map(|v| {
                        let at = offset(&bytes, v);
                        (at, at + v.len())
                    });
                    let state = State::Branch { children: slots, value, next: 0 };
                    self.stack.push(Frame { bytes, stored, restore, state });
                    return Ok(None);
                }
            };
            src = next;
        }
    }

    fn step(&mut self) -> Result<Option<KeyValue>, Error> {
        if let Some(root) = self.root.take()
            && let Some(hit) = self.enter(Source::Hash(root), 0)?
        {
            return Ok(Some(hit));
        }
        loop {
            let Some(top) = self.stack.last_mut() else { return Ok(None) };
            let restore = top.restore;
            match &mut top.state {
                State::Done => {
                    self.stack.pop();
                    self.path.truncate(restore);
                }
                State::Branch { children, value, next } => {
                    if *next == 0 {
                        *next = 1;
                        if let Some((a, b)) = value.take() {
                            let v = top.bytes[a..b].to_vec();
                            if self.admits() {
                                return Ok(Some((nibbles_to_key(&self.path)?, v)));
                            }
                        }
                        continue;
                    }
                    if *next > 16 {
                        top.state = State::Done;
                        continue;
                    }
                    let i = *next - 1;
                    *next += 1;
                    let child = match children[usize::from(i)] {
                        Slot::Empty => continue,
                        Slot::Hash(h) => Source::Hash(h),
                        Slot::Inline(a, b) => Source::Inline(top.bytes[a..b].to_vec()),
                    };
                    let base = self.path.len();
                    self.path.push(i);
                    if !self.start.is_empty() && prefix_vs_start(&self.path, &self.start).is_lt() {
                        self.path.truncate(base);
                        continue;
                    }
                    if let Some(hit) = self.enter(child, base)? {
                        return Ok(Some(hit));
                    }
                }
            }
        }
    }
}

impl<S: NodeStore + ?Sized> Iterator for LeafIter<'_, S> {
    type Item = Result<KeyValue, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(kv)) => Some(Ok(kv)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
