//! Range proofs: a chunk of consecutive leaves and the proof that it is exactly the
//! trie's leaves in its key range (Ethereum snap sync's account ranges; go-ethereum's
//! `trie.VerifyRangeProof` answers the same question).
//!
//! A [`RangeChunk`] holds a start key, the leaves `[first ..= last]` (the first at or
//! after `start`) and a proof: the stored nodes on the path of `start` and on the path of
//! `last`, root first. [`verify_range`] walks both paths through the proof. Everything
//! the paths fork off to the left of `start` or to the right of `last` is outside the
//! range, and the proof gives it either in full (a leaf or branch value on a path) or as
//! the reference of a whole subtrie. The verifier then rebuilds the trie from those
//! outside pieces and the chunk's leaves, with a streaming sorted builder: whatever lies
//! inside the range comes from the chunk alone. The chunk is accepted only if the rebuilt root is
//! the expected root, so (keccak256 being collision resistant) the chunk's leaves are
//! exactly the trie's leaves in `[start, last]`: none omitted, none added, none changed.
//! Whether leaves follow `last` is read off the proof (a subtrie or leaf to the right of
//! the `last` path).
//!
//! A chunk with no leaves claims that no leaf is at or after `start`; its proof is the
//! path of `start` alone. The empty trie has one empty chunk with an empty proof.

use std::collections::BTreeMap;

use primitives::{EMPTY_TRIE_ROOT, H256, keccak256};

use crate::builder::{Builder, Item, Nodes};
use crate::codec::{ChildRef, DecodedNode, decode_node, to_nibbles};
use crate::iter::{LeafIter, iter_from, key_after};
use crate::proof::generate_proof;
use crate::store::NodeStore;
use crate::trie::{KeyValue, MAX_KEY_BYTES, MAX_VALUE_BYTES};
use crate::{Error, SyncError};

/// A chunk of consecutive leaves starting at a requested key, with its range proof.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeChunk {
    /// The requested start key (the empty key for the first chunk). The first leaf is
    /// the first key of the trie at or after it.
    pub start: Vec<u8>,
    /// The leaves, in strictly increasing key order.
    pub leaves: Vec<KeyValue>,
    /// The stored nodes on the paths of `start` and of the last leaf, root first, each
    /// node once.
    pub proof: Vec<Vec<u8>>,
}

impl RangeChunk {
    /// Where the chunk after this one starts: right after its last leaf. `None` for a
    /// chunk without leaves (it ends the trie).
    pub fn next_start(&self) -> Option<Vec<u8>> {
        self.leaves.last().map(|(k, _)| key_after(k))
    }
}

/// What a verified chunk says about the rest of the trie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeOutcome {
    /// Leaves exist after the chunk's last leaf (`false`: the chunk ends the trie).
    pub more: bool,
}

/// Size limits for [`verify_range_with_limits`]: a chunk is hostile input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeLimits {
    /// Most leaves in a chunk.
    pub max_leaves: usize,
    /// Most proof nodes (two paths of at most 130 stored nodes).
    pub max_proof_nodes: usize,
    /// Most proof bytes, all nodes together.
    pub max_proof_bytes: usize,
}

impl Default for RangeLimits {
    /// 65,536 leaves, 260 proof nodes (two paths), 512 KiB of proof: every range proof
    /// of a [`SecureTrie`](crate::SecureTrie) fits (twice [`crate::ProofLimits`]'s
    /// default per path).
    fn default() -> Self {
        RangeLimits { max_leaves: 1 << 16, max_proof_nodes: 260, max_proof_bytes: 512 * 1024 }
    }
}

/// Verifies `chunk` against `root` with the default [`RangeLimits`].
///
/// `Ok` means the chunk's leaves are exactly the leaves of `root` from `chunk.start` to
/// its last leaf (to the end of the trie for a chunk without leaves), and says whether
/// more follow. Every failure is a typed [`SyncError`]: the rebuilt root differs
/// ([`SyncError::RootMismatch`]), a node the paths need is not in the proof
/// (`MissingProofNode`), the leaves are out of order, below the start or over the limits.
///
/// ```
/// use mpt_refcount::{MemoryStore, Trie, prove_range, verify_range};
///
/// let mut store = MemoryStore::new();
/// let mut trie = Trie::new();
/// for i in 0u8..50 {
///     trie.insert(&store, &[i, i], &[i + 1; 40])?;
/// }
/// let (root, _) = trie.commit_to(&mut store)?;
/// let chunk = prove_range(&store, root, &[10], 5)?;
/// assert_eq!(chunk.leaves.first().map(|(k, _)| k.clone()), Some(vec![10, 10]));
/// assert!(verify_range(root, &chunk)?.more);
///
/// let mut dropped = chunk.clone();
/// dropped.leaves.remove(2); // omit a leaf in the middle
/// assert!(verify_range(root, &dropped).is_err());
/// # Ok::<(), mpt_refcount::SyncError>(())
/// ```
pub fn verify_range(root: H256, chunk: &RangeChunk) -> Result<RangeOutcome, SyncError> {
    verify_range_with_limits(root, chunk, &RangeLimits::default())
}

fn over(what: &'static str, value: usize, limit: usize) -> SyncError {
    SyncError::OverLimit { what, value: value as u64, limit: limit as u64 }
}

/// Checks the shape of a chunk's leaves: counts, key and value bounds, order, and that
/// the first is not below the start key.
pub(crate) fn check_leaves(chunk: &RangeChunk, limits: &RangeLimits) -> Result<(), SyncError> {
    if chunk.leaves.len() > limits.max_leaves {
        return Err(over("leaves in the chunk", chunk.leaves.len(), limits.max_leaves));
    }
    if chunk.start.len() > MAX_KEY_BYTES + 1 {
        return Err(over("start key bytes", chunk.start.len(), MAX_KEY_BYTES + 1));
    }
    for (i, (k, v)) in chunk.leaves.iter().enumerate() {
        if k.len() > MAX_KEY_BYTES {
            return Err(Error::KeyTooLong { len: k.len(), limit: MAX_KEY_BYTES }.into());
        }
        if v.is_empty() {
            return Err(SyncError::EmptyValue { index: i });
        }
        if v.len() > MAX_VALUE_BYTES {
            return Err(Error::ValueTooLarge { len: v.len(), limit: MAX_VALUE_BYTES }.into());
        }
        if i > 0 && chunk.leaves[i - 1].0 >= *k {
            return Err(SyncError::NotIncreasing { index: i });
        }
    }
    if let Some((first, _)) = chunk.leaves.first()
        && *first < chunk.start
    {
        return Err(SyncError::BeforeStart);
    }
    Ok(())
}

/// [`verify_range`] with explicit limits.
pub fn verify_range_with_limits(
    root: H256,
    chunk: &RangeChunk,
    limits: &RangeLimits,
) -> Result<RangeOutcome, SyncError> {
    verify_and_rebuild(root, chunk, limits, false).map(|(outcome, _)| outcome)
}

/// [`verify_range_with_limits`], also returning (with `record`) every node the check
/// rebuilt: once the root matched, these are nodes of the real trie, namely every node
/// whose subtrie holds a leaf of the chunk (the root included, under its hash even when
/// it is shorter than 32 bytes), children before parents.
pub(crate) fn verify_and_rebuild(
    root: H256,
    chunk: &RangeChunk,
    limits: &RangeLimits,
    record: bool,
) -> Result<(RangeOutcome, Nodes), SyncError> {
    check_leaves(chunk, limits)?;
    let bytes: usize = chunk.proof.iter().map(Vec::len).sum();
    if chunk.proof.len() > limits.max_proof_nodes || bytes > limits.max_proof_bytes {
        return Err(Error::ProofTooLarge {
            nodes: chunk.proof.len(),
            bytes,
            max_nodes: limits.max_proof_nodes,
            max_bytes: limits.max_proof_bytes,
        }
        .into());
    }
    if root == EMPTY_TRIE_ROOT {
        if chunk.leaves.is_empty() {
            return Ok((RangeOutcome { more: false }, Nodes::new()));
        }
        return Err(SyncError::RootMismatch { expected: root, computed: rebuild_plain(&chunk.leaves)? });
    }
    let mut walk = Walk {
        proof: chunk.proof.iter().map(|n| (keccak256(n), n.as_slice())).collect(),
        lo: to_nibbles(&chunk.start),
        hi: chunk.leaves.last().map(|(k, _)| to_nibbles(k)),
        below: Vec::new(),
        above: Vec::new(),
    };
    let root_bytes = walk.lookup(&root)?;
    let mut reference = Vec::with_capacity(33);
    reference.push(0xa0);
    reference.extend_from_slice(root.as_bytes());
    walk.run(root_bytes, reference)?;

    let mut builder = if record { Builder::recording() } else { Builder::root_only() };
    let order = |e: Option<SyncError>, index: usize| e.unwrap_or(SyncError::NotIncreasing { index });
    let more = !walk.above.is_empty();
    for item in walk.below.drain(..) {
        builder.push(item).map_err(|e| order(e, 0))?;
    }
    for (i, (k, v)) in chunk.leaves.iter().enumerate() {
        builder.push(Item::Leaf { path: to_nibbles(k), value: v.clone() }).map_err(|e| order(e, i))?;
    }
    let last = chunk.leaves.len().saturating_sub(1);
    for item in walk.above.drain(..) {
        builder.push(item).map_err(|e| order(e, last))?;
    }
    let (computed, nodes) = builder.finish()?;
    if computed != root {
        return Err(SyncError::RootMismatch { expected: root, computed });
    }
    Ok((RangeOutcome { more }, nodes))
}

/// The root of plain leaves (for the error of a non-empty chunk of the empty trie).
fn rebuild_plain(leaves: &[KeyValue]) -> Result<H256, SyncError> {
    let mut b = Builder::root_only();
    for (i, (k, v)) in leaves.iter().enumerate() {
        b.push(Item::Leaf { path: to_nibbles(k), value: v.clone() })
            .map_err(|e| e.unwrap_or(SyncError::NotIncreasing { index: i }))?;
    }
    Ok(b.finish()?.0)
}

/// The walk of the two boundary paths through a proof.
struct Walk<'p> {
    proof: BTreeMap<H256, &'p [u8]>,
    /// The start key, as nibbles.
    lo: Vec<u8>,
    /// The last leaf's key, as nibbles (`None`: the range runs to the end).
    hi: Option<Vec<u8>>,
    /// Pieces of the trie below the start key, in key order.
    below: Vec<Item>,
    /// Pieces of the trie after the last leaf, in key order.
    above: Vec<Item>,
}

/// Where a subtrie at a path stands against one bound.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    /// Every key of the subtrie is on the outside of the bound.
    Out,
    /// The bound runs through the subtrie.
    On,
    /// Every key of the subtrie is on the inside of the bound.
    In,
}

/// Against the start bound: a subtrie at `path` is `Out` if all its keys are below
/// `lo`, `On` if `path` is a prefix of `lo`, `In` otherwise.
fn side_lo(path: &[u8], lo: &[u8]) -> Side {
    let m = path.len().min(lo.len());
    match path[..m].cmp(&lo[..m]) {
        std::cmp::Ordering::Less => Side::Out,
        std::cmp::Ordering::Greater => Side::In,
        std::cmp::Ordering::Equal if path.len() <= lo.len() => Side::On,
        // `lo` ends inside the path: every key of the subtrie extends `lo`, so is larger.
        std::cmp::Ordering::Equal => Side::In,
    }
}

/// Against the last-leaf bound: `Out` if all keys of the subtrie at `path` are after
/// `hi`, `On` if `path` is a prefix of `hi`, `In` otherwise.
fn side_hi(path: &[u8], hi: &[u8]) -> Side {
    let m = path.len().min(hi.len());
    match path[..m].cmp(&hi[..m]) {
        std::cmp::Ordering::Greater => Side::Out,
        std::cmp::Ordering::Less => Side::In,
        std::cmp::Ordering::Equal if path.len() <= hi.len() => Side::On,
        std::cmp::Ordering::Equal => Side::Out,
    }
}

impl<'p> Walk<'p> {
    fn lookup(&self, h: &H256) -> Result<&'p [u8], SyncError> {
        self.proof.get(h).copied().ok_or(Error::MissingProofNode { hash: *h }.into())
    }

    /// Sides of the subtrie at `path`, given the sides of its parent.
    fn sides(&self, path: &[u8], lo_on: bool, hi_on: bool) -> (Side, Side) {
        let lo = if lo_on { side_lo(path, &self.lo) } else { Side::In };
        let hi = match (&self.hi, hi_on) {
            (Some(hi), true) => side_hi(path, hi),
            _ => Side::In,
        };
        (lo, hi)
    }

    /// Walks the two paths from the root, without recursion. Pieces below the start go
    /// to `below` in key order: they all come from nodes on the start's path, each node's
    /// pieces before those of the nodes under it. Pieces after the last leaf come from
    /// nodes on its path, and there a deeper node's pieces come *before* a shallower
    /// one's (they sit left of the shallower node's right-hand siblings): they are
    /// gathered per node and put in order at the end.
    fn run(&mut self, root_bytes: &'p [u8], root_reference: Vec<u8>) -> Result<(), SyncError> {
        let hi_on = self.hi.is_some();
        let mut work: Vec<Visit<'p>> = vec![Visit {
            bytes: root_bytes,
            reference: root_reference,
            prefix: Vec::new(),
            lo_on: true,
            hi_on,
        }];
        let mut above_groups: Vec<Vec<Item>> = Vec::new();
        while let Some(Visit { bytes, reference, mut prefix, lo_on, hi_on }) = work.pop() {
            if prefix.len() > 2 * (MAX_KEY_BYTES + 1) {
                return Err(Error::KeyTooLong { len: prefix.len().div_ceil(2), limit: MAX_KEY_BYTES }.into());
            }
            let mut above = Vec::new();
            match decode_node(bytes)? {
                DecodedNode::Leaf { path, value } => {
                    for i in 0..path.len() {
                        prefix.push(path.at(i));
                    }
                    // A leaf is a single key: compare it with the bounds themselves.
                    let is_lo = lo_on && prefix < self.lo;
                    let is_hi = matches!((&self.hi, hi_on), (Some(h), true) if prefix > *h);
                    if is_lo {
                        self.below.push(Item::Leaf { path: prefix, value: value.to_vec() });
                    } else if is_hi {
                        above.push(Item::Leaf { path: prefix, value: value.to_vec() });
                    }
                }
                DecodedNode::Extension { path, child } => {
                    let mut full = prefix.clone();
                    for i in 0..path.len() {
                        full.push(path.at(i));
                    }
                    let (lo, hi) = self.sides(&full, lo_on, hi_on);
                    if lo == Side::Out {
                        self.below.push(Item::Stub { path: prefix, reference });
                    } else if hi == Side::Out {
                        above.push(Item::Stub { path: prefix, reference });
                    } else if lo == Side::On || hi == Side::On {
                        work.push(self.visit(child, full, lo == Side::On, hi == Side::On)?);
                    }
                }
                DecodedNode::Branch { children, value } => {
                    // The key ending here is a prefix of every bound that is on.
                    if let Some(v) = value
                        && lo_on
                        && prefix.len() < self.lo.len()
                    {
                        self.below.push(Item::Leaf { path: prefix.clone(), value: v.to_vec() });
                    }
                    for (i, c) in children.iter().enumerate() {
                        if matches!(c, ChildRef::Empty) {
                            continue;
                        }
                        let mut path = prefix.clone();
                        path.push(i as u8);
                        let (lo, hi) = self.sides(&path, lo_on, hi_on);
                        if lo == Side::Out {
                            self.below.push(Item::Stub { path, reference: child_reference(c) });
                        } else if hi == Side::Out {
                            above.push(Item::Stub { path, reference: child_reference(c) });
                        } else if lo == Side::On || hi == Side::On {
                            work.push(self.visit(*c, path, lo == Side::On, hi == Side::On)?);
                        }
                    }
                }
            }
            if !above.is_empty() {
                above_groups.push(above);
            }
        }
        self.above = above_groups.into_iter().rev().flatten().collect();
        Ok(())
    }

    /// The visit of child `c` at `prefix`.
    fn visit(
        &self,
        c: ChildRef<'p>,
        prefix: Vec<u8>,
        lo_on: bool,
        hi_on: bool,
    ) -> Result<Visit<'p>, SyncError> {
        let reference = child_reference(&c);
        let bytes = match c {
            ChildRef::Empty => return Err(Error::InvalidNode { reason: "empty extension child" }.into()),
            ChildRef::Hash(h) => self.lookup(&h)?,
            ChildRef::Inline(raw) => raw,
        };
        Ok(Visit { bytes, reference, prefix, lo_on, hi_on })
    }
}

/// A node to visit in [`Walk::run`]: its bytes, the reference its parent holds, its
/// path, and which bounds run through it.
struct Visit<'p> {
    bytes: &'p [u8],
    reference: Vec<u8>,
    prefix: Vec<u8>,
    lo_on: bool,
    hi_on: bool,
}

fn child_reference(c: &ChildRef<'_>) -> Vec<u8> {
    match c {
        ChildRef::Empty => Vec::new(),
        ChildRef::Hash(h) => {
            let mut r = Vec::with_capacity(33);
            r.push(0xa0);
            r.extend_from_slice(h.as_bytes());
            r
        }
        ChildRef::Inline(raw) => raw.to_vec(),
    }
}

/// The chunk of at most `max_leaves` leaves of `root` starting at `start`, with its
/// range proof. A `start` after the last leaf gives a chunk without leaves (proving
/// that none follows).
pub fn prove_range<S: NodeStore + ?Sized>(
    store: &S,
    root: H256,
    start: &[u8],
    max_leaves: usize,
) -> Result<RangeChunk, SyncError> {
    let mut cursor = ChunkCursor::new(store, root, start.to_vec());
    cursor
        .next_chunk(max_leaves.max(1), usize::MAX, |_| 0)?
        .ok_or(SyncError::RangeShape { reason: "the first chunk of a cursor is always produced" })
}

/// Cuts the leaves of a root into consecutive chunks with their proofs.
pub(crate) struct ChunkCursor<'s, S: NodeStore + ?Sized> {
    store: &'s S,
    root: H256,
    iter: LeafIter<'s, S>,
    /// A leaf read but not yet placed in a chunk, with its path's proof size.
    lookahead: Option<(KeyValue, usize)>,
    next_start: Vec<u8>,
    /// No chunk produced yet (the first is produced even without leaves).
    first: bool,
    exhausted: bool,
}

/// Bytes of a SCALE compact length prefix for `n` (1, 2, 4 or 5).
pub(crate) fn compact_len(n: usize) -> usize {
    match n {
        0..=0x3f => 1,
        0x40..=0x3fff => 2,
        0x4000..=0x3fff_ffff => 4,
        _ => 5,
    }
}

impl<'s, S: NodeStore + ?Sized> ChunkCursor<'s, S> {
    pub(crate) fn new(store: &'s S, root: H256, start: Vec<u8>) -> Self {
        ChunkCursor {
            store,
            root,
            iter: iter_from(store, root, &start),
            lookahead: None,
            next_start: start,
            first: true,
            exhausted: false,
        }
    }

    fn next_leaf(
        &mut self,
        framing: &impl Fn(usize) -> usize,
    ) -> Result<Option<(KeyValue, usize)>, SyncError> {
        if let Some(l) = self.lookahead.take() {
            return Ok(Some(l));
        }
        if self.exhausted {
            return Ok(None);
        }
        match self.iter.next() {
            None => {
                self.exhausted = true;
                Ok(None)
            }
            Some(r) => {
                let kv = r?;
                let proof = self.iter.path_proof_size(framing);
                Ok(Some((kv, proof)))
            }
        }
    }

    /// The next chunk of at most `max_leaves` leaves whose encoded size, as estimated
    /// from above by `fixed + leaves + both proofs` with `framing(len)` bytes per item,
    /// stays within `max_bytes`. `None` after the last chunk.
    pub(crate) fn next_chunk(
        &mut self,
        max_leaves: usize,
        max_bytes: usize,
        framing: impl Fn(usize) -> usize,
    ) -> Result<Option<RangeChunk>, SyncError> {
        let start = self.next_start.clone();
        let start_proof = generate_proof(self.store, self.root, &start)?;
        let fixed = 16 + framing(start.len()) + start.len();
        let start_bytes: usize = start_proof.iter().map(|n| framing(n.len()) + n.len()).sum();
        let mut leaves: Vec<KeyValue> = Vec::new();
        let mut leaf_bytes = 0usize;
        while leaves.len() < max_leaves {
            let Some(((k, v), path_bytes)) = self.next_leaf(&framing)? else { break };
            let this = framing(k.len()) + k.len() + framing(v.len()) + v.len();
            let size = fixed + start_bytes + leaf_bytes + this + path_bytes;
            if size > max_bytes {
                if leaves.is_empty() {
                    return Err(SyncError::RecordLimitTooSmall { needed: size, limit: max_bytes });
                }
                self.lookahead = Some(((k, v), path_bytes));
                break;
            }
            leaf_bytes += this;
            leaves.push((k, v));
        }
        if leaves.is_empty() && !self.first {
            return Ok(None);
        }
        self.first = false;
        let mut proof = start_proof;
        if let Some((last, _)) = leaves.last() {
            for n in generate_proof(self.store, self.root, last)? {
                if !proof.contains(&n) {
                    proof.push(n);
                }
            }
            self.next_start = key_after(last);
        }
        Ok(Some(RangeChunk { start, leaves, proof }))
    }
}
