//! The trie: in-memory nodes over a [`NodeStore`], loaded lazily, hashed lazily.
//!
//! Nodes on the path of an update are loaded from the store into memory and marked
//! dirty; everything else stays a 32-byte hash reference. Each in-memory node caches its
//! reference (its hash, or its inline encoding when under 32 bytes) and a `new` flag;
//! hashing visits only nodes whose cache was cleared, and [`Trie::commit`] emits only
//! nodes not yet handed out in a changeset. Committed nodes stay in memory as a cache
//! (drop it with [`Trie::unload`]).

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use primitives::{EMPTY_TRIE_ROOT, H256, keccak256};

use crate::Error;
use crate::changeset::{ApplyStats, ChangeSet};
use crate::codec::{
    self, ChildRef, DecodedNode, bytes_len, decode_node, hp_string_len, list_len, nibble, put_hp,
    put_list_header, put_string,
};
use crate::store::NodeStore;

/// An owned `(key, value)` pair.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// The longest key [`Trie`] accepts, in bytes; longer keys are [`Error::KeyTooLong`].
///
/// Updates, hashing, iteration and dropping a trie recurse once per node on a key's path,
/// and a path has at most one node per nibble plus one: with 64-byte keys that is at most
/// 129 levels, about 320 KiB of stack in an unoptimized build (measured on the deepest
/// such trie) and much less optimized. Secure tries use 32-byte keys;
/// [`ProofLimits`](crate::ProofLimits) verifies keys up to the same 64 bytes.
pub const MAX_KEY_BYTES: usize = 64;

/// The longest value [`Trie::insert`] accepts, in bytes; longer values are
/// [`Error::ValueTooLarge`].
///
/// The largest node that can hold a value is a branch with sixteen hashed children
/// (534 bytes of framing with a 3-byte value header), so with this bound every node the
/// trie creates stays within [`codec::MAX_NODE_BYTES`], the limit [`crate::apply`] and
/// every reader enforce.
pub const MAX_VALUE_BYTES: usize = codec::MAX_NODE_BYTES - 1024;

// The largest node: a branch of sixteen 33-byte references and a value of the maximum
// size, each under a 3-byte header (lengths up to 65,535); a leaf of a maximal key (a
// 65-byte hex-prefix path) is smaller.
const _: () = assert!(3 + 16 * 33 + 3 + MAX_VALUE_BYTES <= codec::MAX_NODE_BYTES);
const _: () = assert!(3 + 2 + (MAX_KEY_BYTES + 1) + 3 + MAX_VALUE_BYTES <= codec::MAX_NODE_BYTES);

fn check_key(key: &[u8]) -> Result<(), Error> {
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::KeyTooLong { len: key.len(), limit: MAX_KEY_BYTES });
    }
    Ok(())
}

/// The reference a parent holds to a child: its hash, or its whole encoding if shorter
/// than 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeRef {
    Hash(H256),
    Inline { len: u8, bytes: [u8; 31] },
}

impl NodeRef {
    fn from_encoding(enc: &[u8]) -> NodeRef {
        if enc.len() < 32 {
            let mut bytes = [0u8; 31];
            bytes[..enc.len()].copy_from_slice(enc);
            NodeRef::Inline { len: enc.len() as u8, bytes }
        } else {
            NodeRef::Hash(keccak256(enc))
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            NodeRef::Hash(_) => 33,
            NodeRef::Inline { len, .. } => usize::from(*len),
        }
    }

    fn put(&self, out: &mut Vec<u8>) {
        match self {
            NodeRef::Hash(h) => {
                out.push(0xa0);
                out.extend_from_slice(h.as_bytes());
            }
            NodeRef::Inline { len, bytes } => out.extend_from_slice(&bytes[..usize::from(*len)]),
        }
    }
}

/// A child slot.
#[derive(Debug, Clone, Default)]
pub(crate) enum Child {
    #[default]
    Empty,
    /// In the store, not loaded.
    Hash(H256),
    /// In memory.
    Node(Box<MemNode>),
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Leaf { path: Vec<u8>, value: Vec<u8> },
    Extension { path: Vec<u8>, child: Child },
    Branch { children: Box<[Child; 16]>, value: Option<Vec<u8>> },
}

#[derive(Debug, Clone)]
pub(crate) struct MemNode {
    node: Node,
    /// The node's reference, when known (cleared on every change).
    cache: Option<NodeRef>,
    /// Not yet handed out in a changeset. Invariant: a node with `new == false` has only
    /// descendants with `new == false`.
    new: bool,
}

impl MemNode {
    fn fresh(node: Node) -> Box<MemNode> {
        Box::new(MemNode { node, cache: None, new: true })
    }

    fn touch(&mut self) {
        self.cache = None;
        self.new = true;
    }

    /// Converts a decoded node (from the store or an inline slot) into memory.
    fn from_decoded(d: &DecodedNode<'_>, cache: NodeRef) -> Result<Box<MemNode>, Error> {
        let node = match d {
            DecodedNode::Leaf { path, value } => Node::Leaf { path: path.to_vec(), value: value.to_vec() },
            DecodedNode::Extension { path, child } => {
                Node::Extension { path: path.to_vec(), child: child_from(child)? }
            }
            DecodedNode::Branch { children, value } => {
                let mut out: Box<[Child; 16]> = Box::default();
                for (slot, c) in out.iter_mut().zip(children.iter()) {
                    *slot = child_from(c)?;
                }
                Node::Branch { children: out, value: value.map(<[u8]>::to_vec) }
            }
        };
        Ok(Box::new(MemNode { node, cache: Some(cache), new: false }))
    }
}

fn child_from(c: &ChildRef<'_>) -> Result<Child, Error> {
    Ok(match c {
        ChildRef::Empty => Child::Empty,
        ChildRef::Hash(h) => Child::Hash(*h),
        ChildRef::Inline(raw) => {
            Child::Node(MemNode::from_decoded(&decode_node(raw)?, NodeRef::from_encoding(raw))?)
        }
    })
}

fn load<'s, S: NodeStore + ?Sized>(store: &'s S, hash: &H256) -> Result<std::borrow::Cow<'s, [u8]>, Error> {
    store.node_ref(hash)?.ok_or(Error::MissingNode { hash: *hash })
}

/// Reads and decodes a stored node. Kept out of the recursive walks so that its
/// temporaries (a decoded branch is some 400 bytes) are not part of every level's frame.
#[inline(never)]
fn load_node<S: NodeStore + ?Sized>(store: &S, hash: &H256) -> Result<Box<MemNode>, Error> {
    let bytes = load(store, hash)?;
    MemNode::from_decoded(&decode_node(&bytes)?, NodeRef::Hash(*hash))
}

/// Turns a `Child::Hash` into an in-memory node.
fn resolve<S: NodeStore + ?Sized>(store: &S, child: &mut Child) -> Result<(), Error> {
    if let Child::Hash(h) = child {
        *child = Child::Node(load_node(store, h)?);
    }
    Ok(())
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn leaf(path: &[u8], value: Vec<u8>) -> Child {
    Child::Node(MemNode::fresh(Node::Leaf { path: path.to_vec(), value }))
}

/// Completes the split of a leaf or extension whose path shares `common` nibbles with
/// `path`: places `value` in the new branch (as its value, or as a leaf below it), and
/// hangs the branch below an extension over the shared prefix, if there is one.
fn finish_split(
    path: &[u8],
    common: usize,
    mut children: Box<[Child; 16]>,
    mut branch_value: Option<Vec<u8>>,
    value: Vec<u8>,
) -> Child {
    if common == path.len() {
        branch_value = Some(value);
    } else {
        children[usize::from(path[common])] = leaf(&path[common + 1..], value);
    }
    let branch = MemNode::fresh(Node::Branch { children, value: branch_value });
    if common > 0 {
        Child::Node(MemNode::fresh(Node::Extension {
            path: path[..common].to_vec(),
            child: Child::Node(branch),
        }))
    } else {
        Child::Node(branch)
    }
}

/// Prepends `nibbles` to the path of `node` (a leaf or an extension), or wraps it in an
/// extension (a branch). Used when a branch or extension collapses.
fn prefix_with(nibbles: &[u8], mut node: Box<MemNode>) -> Child {
    match &mut node.node {
        Node::Leaf { path, .. } | Node::Extension { path, .. } => {
            let mut p = nibbles.to_vec();
            p.extend_from_slice(path);
            *path = p;
            node.touch();
            Child::Node(node)
        }
        Node::Branch { .. } => {
            Child::Node(MemNode::fresh(Node::Extension { path: nibbles.to_vec(), child: Child::Node(node) }))
        }
    }
}

/// Inserts `value` at the nibble path `path`. Returns whether anything changed.
fn insert_at<S: NodeStore + ?Sized>(
    store: &S,
    slot: &mut Child,
    path: &[u8],
    value: Vec<u8>,
) -> Result<bool, Error> {
    resolve(store, slot)?;
    let Child::Node(mem) = slot else {
        *slot = leaf(path, value);
        return Ok(true);
    };
    let changed = match &mut mem.node {
        Node::Leaf { path: lp, value: lv } => {
            let common = common_prefix(lp, path);
            if common == lp.len() && common == path.len() {
                if *lv == value {
                    return Ok(false);
                }
                *lv = value;
                true
            } else {
                let old_path = std::mem::take(lp);
                let old_value = std::mem::take(lv);
                let mut children: Box<[Child; 16]> = Box::default();
                let mut branch_value = None;
                if common == old_path.len() {
                    branch_value = Some(old_value);
                } else {
                    children[usize::from(old_path[common])] = leaf(&old_path[common + 1..], old_value);
                }
                *slot = finish_split(path, common, children, branch_value, value);
                return Ok(true);
            }
        }
        Node::Extension { path: ep, child } => {
            let common = common_prefix(ep, path);
            if common == ep.len() {
                insert_at(store, child, &path[common..], value)?
            } else {
                let old_path = std::mem::take(ep);
                let old_child = std::mem::take(child);
                let mut children: Box<[Child; 16]> = Box::default();
                let branch_value = None;
                let rest = &old_path[common + 1..];
                children[usize::from(old_path[common])] = if rest.is_empty() {
                    old_child
                } else {
                    Child::Node(MemNode::fresh(Node::Extension { path: rest.to_vec(), child: old_child }))
                };
                *slot = finish_split(path, common, children, branch_value, value);
                return Ok(true);
            }
        }
        Node::Branch { children, value: bv } => {
            if let Some((&first, rest)) = path.split_first() {
                insert_at(store, &mut children[usize::from(first)], rest, value)?
            } else if bv.as_deref() == Some(value.as_slice()) {
                false
            } else {
                *bv = Some(value);
                true
            }
        }
    };
    if changed {
        mem.touch();
    }
    Ok(changed)
}

/// Removes the key at `path`. Returns whether anything changed.
fn delete_at<S: NodeStore + ?Sized>(store: &S, slot: &mut Child, path: &[u8]) -> Result<bool, Error> {
    resolve(store, slot)?;
    let Child::Node(mem) = slot else {
        return Ok(false);
    };
    match &mut mem.node {
        Node::Leaf { path: lp, .. } => {
            if lp.as_slice() != path {
                return Ok(false);
            }
            *slot = Child::Empty;
            Ok(true)
        }
        Node::Extension { path: ep, child } => {
            if !path.starts_with(ep) || !delete_at(store, child, &path[ep.len()..])? {
                return Ok(false);
            }
            match std::mem::take(child) {
                Child::Empty => *slot = Child::Empty,
                Child::Hash(h) => {
                    // delete_at resolved it; unreachable in practice, keep it correct anyway
                    *child = Child::Hash(h);
                    mem.touch();
                }
                Child::Node(node) => {
                    if matches!(node.node, Node::Branch { .. }) {
                        *child = Child::Node(node);
                        mem.touch();
                    } else {
                        let ep = std::mem::take(ep);
                        *slot = prefix_with(&ep, node);
                    }
                }
            }
            Ok(true)
        }
        Node::Branch { children, value } => {
            // Read before changing anything: a branch of two items (children and value)
            // collapses into the other item when the deletion below empties this path,
            // and merging needs that item in memory. Reading it after the change below
            // could fail and leave a half-done deletion (a lost sibling).
            let on_path = match path.first() {
                Some(&n) => {
                    if matches!(children[usize::from(n)], Child::Empty) {
                        return Ok(false);
                    }
                    Some(usize::from(n))
                }
                None if value.is_none() => return Ok(false),
                None => None,
            };
            let items =
                children.iter().filter(|c| !matches!(c, Child::Empty)).count() + usize::from(value.is_some());
            if items == 2
                && let Some(other) =
                    (0..16).find(|&i| Some(i) != on_path && !matches!(children[i], Child::Empty))
            {
                resolve(store, &mut children[other])?;
            }
            let changed = match path.split_first() {
                Some((&first, rest)) => delete_at(store, &mut children[usize::from(first)], rest)?,
                None => value.take().is_some(),
            };
            if !changed {
                return Ok(false);
            }
            let mut occupied = children.iter().enumerate().filter(|(_, c)| !matches!(c, Child::Empty));
            let only = match (occupied.next(), occupied.next()) {
                (None, _) => None,
                (Some((i, _)), None) => Some(i),
                _ => {
                    mem.touch();
                    return Ok(true);
                }
            };
            match (only, value.take()) {
                (None, Some(v)) => *slot = leaf(&[], v),
                (None, None) => *slot = Child::Empty,
                (Some(i), None) => {
                    let mut c = std::mem::take(&mut children[i]);
                    resolve(store, &mut c)?;
                    if let Child::Node(node) = c {
                        *slot = prefix_with(&[i as u8], node);
                    }
                }
                (Some(_), Some(v)) => {
                    *value = Some(v);
                    mem.touch();
                }
            }
            Ok(true)
        }
    }
}

/// Marks as new every in-memory node whose hash is in `hashes`, and every ancestor of a
/// new node (keeping the invariant that a node not new has no new descendant). Returns
/// whether `mem` is new afterwards.
fn remark(mem: &mut MemNode, hashes: &BTreeSet<H256>) -> bool {
    let mut below = false;
    match &mut mem.node {
        Node::Leaf { .. } => {}
        Node::Extension { child, .. } => {
            if let Child::Node(c) = child {
                below |= remark(c, hashes);
            }
        }
        Node::Branch { children, .. } => {
            for c in children.iter_mut() {
                if let Child::Node(c) = c {
                    below |= remark(c, hashes);
                }
            }
        }
    }
    if below || matches!(mem.cache, Some(NodeRef::Hash(h)) if hashes.contains(&h)) {
        mem.new = true;
    }
    mem.new
}

/// Where hashing puts the nodes it encodes (a changeset under construction), if anywhere.
type Sink = Vec<(H256, Vec<u8>)>;

/// Encodes `mem` (whose children's references are known) into `buf`.
fn encode_into(mem: &MemNode, buf: &mut Vec<u8>) {
    buf.clear();
    let child_ref = |c: &Child| -> Option<NodeRef> {
        match c {
            Child::Empty => None,
            Child::Hash(h) => Some(NodeRef::Hash(*h)),
            Child::Node(n) => n.cache,
        }
    };
    match &mem.node {
        Node::Leaf { path, value } => {
            let payload = hp_string_len(path, true) + bytes_len(value);
            put_list_header(buf, payload);
            put_hp(buf, path, true);
            put_string(buf, value);
        }
        Node::Extension { path, child } => {
            let r = child_ref(child);
            let payload = hp_string_len(path, false) + r.map_or(1, |r| r.encoded_len());
            put_list_header(buf, payload);
            put_hp(buf, path, false);
            match r {
                Some(r) => r.put(buf),
                None => buf.push(0x80),
            }
        }
        Node::Branch { children, value } => {
            let mut refs = [None; 16];
            let mut payload = value.as_ref().map_or(1, |v| bytes_len(v));
            for (r, c) in refs.iter_mut().zip(children.iter()) {
                *r = child_ref(c);
                payload += r.map_or(1, |r| r.encoded_len());
            }
            buf.reserve(list_len(payload));
            put_list_header(buf, payload);
            for r in refs {
                match r {
                    Some(r) => r.put(buf),
                    None => buf.push(0x80),
                }
            }
            match value {
                Some(v) => put_string(buf, v),
                None => buf.push(0x80),
            }
        }
    }
}

/// Computes the reference of `mem`, hashing only nodes whose cache is empty. With a
/// sink, also emits every `new` hashed node and clears `new`.
#[cfg_attr(not(feature = "parallel"), allow(clippy::only_used_in_recursion))]
fn finalize(
    mem: &mut MemNode,
    buf: &mut Vec<u8>,
    mut sink: Option<&mut Sink>,
    depth: usize,
    parallel: bool,
) -> NodeRef {
    if let Some(r) = mem.cache
        && (sink.is_none() || !mem.new)
    {
        return r;
    }
    match &mut mem.node {
        Node::Leaf { .. } => {}
        Node::Extension { child, .. } => {
            if let Child::Node(c) = child {
                finalize(c, buf, sink.as_deref_mut(), depth + 1, parallel);
            }
        }
        Node::Branch { children, .. } => {
            #[cfg(feature = "parallel")]
            if parallel && depth < PARALLEL_DEPTH {
                finalize_children_parallel(children, sink.as_deref_mut(), depth);
            } else {
                for c in children.iter_mut() {
                    if let Child::Node(c) = c {
                        finalize(c, buf, sink.as_deref_mut(), depth + 1, parallel);
                    }
                }
            }
            #[cfg(not(feature = "parallel"))]
            for c in children.iter_mut() {
                if let Child::Node(c) = c {
                    finalize(c, buf, sink.as_deref_mut(), depth + 1, parallel);
                }
            }
        }
    }
    encode_into(mem, buf);
    let r = match mem.cache {
        Some(r) => r,
        None => NodeRef::from_encoding(buf),
    };
    mem.cache = Some(r);
    if let Some(sink) = sink {
        if let NodeRef::Hash(h) = r {
            sink.push((h, buf.clone()));
        }
        mem.new = false;
    }
    r
}

/// Levels of branches below the root whose children are hashed in parallel.
#[cfg(feature = "parallel")]
const PARALLEL_DEPTH: usize = 2;

#[cfg(feature = "parallel")]
fn finalize_children_parallel(children: &mut [Child; 16], sink: Option<&mut Sink>, depth: usize) {
    use rayon::prelude::*;
    let collect = sink.is_some();
    let parts: Vec<Sink> = children
        .par_iter_mut()
        .map(|c| {
            let mut local = Sink::new();
            if let Child::Node(c) = c {
                let mut buf = Vec::with_capacity(600);
                finalize(c, &mut buf, if collect { Some(&mut local) } else { None }, depth + 1, true);
            }
            local
        })
        .collect();
    if let Some(sink) = sink {
        for p in parts {
            sink.extend(p);
        }
    }
}

/// Updates below which a commit is hashed on one thread even with `parallel`.
pub const PARALLEL_THRESHOLD: usize = 4096;

/// How a commit hashes dirty nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Hashing {
    /// Parallel (rayon) when the `parallel` feature is on and at least
    /// [`PARALLEL_THRESHOLD`] updates are pending; sequential otherwise.
    #[default]
    Auto,
    /// One thread.
    Sequential,
    /// rayon over the top two branch levels (sequential without the `parallel` feature).
    Parallel,
}

/// An Ethereum Merkle Patricia trie over a [`NodeStore`].
///
/// Reads and updates take the store as an argument, so one store can back many tries and
/// the trie never holds a borrow of it. Updates stay in memory until [`Trie::commit`],
/// which returns a [`ChangeSet`] to [`apply`](crate::apply).
///
/// An empty value is the same as no value: `insert(k, [])` deletes `k` (as in Ethereum).
#[derive(Debug, Clone, Default)]
pub struct Trie {
    root: Child,
    pending: usize,
}

impl Trie {
    /// An empty trie (root [`EMPTY_TRIE_ROOT`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// The trie whose root is `root`, read lazily from the store.
    pub fn from_root(root: H256) -> Self {
        let root = if root == EMPTY_TRIE_ROOT { Child::Empty } else { Child::Hash(root) };
        Trie { root, pending: 0 }
    }

    /// Updates since the last commit.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// The value under `key`.
    ///
    /// A key longer than [`MAX_KEY_BYTES`] is [`Error::KeyTooLong`].
    pub fn get<S: NodeStore + ?Sized>(&self, store: &S, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        check_key(key)?;
        let total = key.len() * 2;
        let mut at = 0;
        let mut cur = &self.root;
        loop {
            match cur {
                Child::Empty => return Ok(None),
                Child::Hash(h) => return get_stored(store, *h, key, at),
                Child::Node(mem) => match &mem.node {
                    Node::Leaf { path, value } => {
                        let hit = total - at == path.len()
                            && path.iter().enumerate().all(|(i, &n)| n == nibble(key, at + i));
                        return Ok(hit.then(|| value.clone()));
                    }
                    Node::Extension { path, child } => {
                        if total - at < path.len()
                            || !path.iter().enumerate().all(|(i, &n)| n == nibble(key, at + i))
                        {
                            return Ok(None);
                        }
                        at += path.len();
                        cur = child;
                    }
                    Node::Branch { children, value } => {
                        if at == total {
                            return Ok(value.clone());
                        }
                        cur = &children[usize::from(nibble(key, at))];
                        at += 1;
                    }
                },
            }
        }
    }

    /// Sets `key` to `value`; an empty `value` deletes the key.
    ///
    /// All or nothing: on any error (a key longer than [`MAX_KEY_BYTES`], a value longer
    /// than [`MAX_VALUE_BYTES`], a store read that fails) the trie is unchanged.
    pub fn insert<S: NodeStore + ?Sized>(
        &mut self,
        store: &S,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), Error> {
        check_key(key)?;
        if value.is_empty() {
            return self.delete(store, key).map(|_| ());
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(Error::ValueTooLarge { len: value.len(), limit: MAX_VALUE_BYTES });
        }
        // Every store read happens on the way down, before the first change on the way up.
        let path = codec::to_nibbles(key);
        if insert_at(store, &mut self.root, &path, value.to_vec())? {
            self.pending += 1;
        }
        Ok(())
    }

    /// Removes `key`. Returns whether it was present.
    ///
    /// All or nothing: on any error (a key longer than [`MAX_KEY_BYTES`], a store read
    /// that fails, including the read of the sibling a collapsing branch merges with) the
    /// trie is unchanged.
    pub fn delete<S: NodeStore + ?Sized>(&mut self, store: &S, key: &[u8]) -> Result<bool, Error> {
        check_key(key)?;
        let path = codec::to_nibbles(key);
        let removed = delete_at(store, &mut self.root, &path)?;
        if removed {
            self.pending += 1;
        }
        Ok(removed)
    }

    fn root_ref(&mut self, sink: Option<&mut Sink>, hashing: Hashing) -> Option<NodeRef> {
        let parallel = match hashing {
            Hashing::Auto => cfg!(feature = "parallel") && self.pending >= PARALLEL_THRESHOLD,
            Hashing::Sequential => false,
            Hashing::Parallel => cfg!(feature = "parallel"),
        };
        match &mut self.root {
            Child::Empty => None,
            Child::Hash(h) => Some(NodeRef::Hash(*h)),
            Child::Node(mem) => {
                let mut buf = Vec::with_capacity(600);
                Some(finalize(mem, &mut buf, sink, 0, parallel))
            }
        }
    }

    /// The root hash, hashing only what changed since it was last computed.
    pub fn root_hash(&mut self) -> H256 {
        self.root_hash_with(Hashing::Auto)
    }

    /// [`Trie::root_hash`] with an explicit [`Hashing`] strategy.
    pub fn root_hash_with(&mut self, hashing: Hashing) -> H256 {
        match self.root_ref(None, hashing) {
            None => EMPTY_TRIE_ROOT,
            Some(NodeRef::Hash(h)) => h,
            Some(r @ NodeRef::Inline { .. }) => {
                let mut buf = Vec::with_capacity(32);
                r.put(&mut buf);
                keccak256(&buf)
            }
        }
    }

    /// Hashes every change and returns the new nodes as a [`ChangeSet`] for
    /// [`apply`](crate::apply). The trie keeps its nodes in memory, now clean, and counts
    /// them as handed out: if the changeset is not applied, tell the trie with
    /// [`Trie::mark_unapplied`]. A commit with no change since the last one is empty.
    pub fn commit(&mut self) -> ChangeSet {
        self.commit_with(Hashing::Auto)
    }

    /// [`Trie::commit`] with an explicit [`Hashing`] strategy.
    pub fn commit_with(&mut self, hashing: Hashing) -> ChangeSet {
        let mut nodes = Sink::new();
        // An inline root is not emitted by hashing (it has no hash reference); it is
        // stored under its hash when it is new, and only then.
        let root_new = matches!(&self.root, Child::Node(mem) if mem.new);
        let r = self.root_ref(Some(&mut nodes), hashing);
        self.pending = 0;
        let root = match r {
            None => EMPTY_TRIE_ROOT,
            Some(NodeRef::Hash(h)) => h,
            Some(r @ NodeRef::Inline { .. }) => {
                // The root is stored under its hash even when it is shorter than 32 bytes.
                let mut buf = Vec::with_capacity(32);
                r.put(&mut buf);
                let h = keccak256(&buf);
                if root_new {
                    nodes.push((h, buf));
                }
                h
            }
        };
        ChangeSet { root, nodes }
    }

    /// Commits and applies the changeset to `store` in one step, the safe default: if
    /// the apply fails (a store error, or a refused node), the trie marks the changeset
    /// unapplied itself ([`Trie::mark_unapplied`]), so a later `commit_to` emits its nodes
    /// again; nothing reached the store (the batch is atomic). Returns the new root and
    /// what the apply did. Each successful call is one retention of the root (prune it
    /// once to release it).
    ///
    /// ```
    /// use mpt_refcount::{MemoryStore, Trie};
    ///
    /// let mut store = MemoryStore::new();
    /// let mut trie = Trie::new();
    /// trie.insert(&store, b"a", &[1; 40])?;
    /// let (root, _) = trie.commit_to(&mut store)?;
    /// assert_eq!(Trie::from_root(root).get(&store, b"a")?, Some(vec![1; 40]));
    /// # Ok::<(), mpt_refcount::Error>(())
    /// ```
    pub fn commit_to<S: NodeStore + ?Sized>(&mut self, store: &mut S) -> Result<(H256, ApplyStats), Error> {
        let changes = self.commit();
        match crate::apply(store, &changes) {
            Ok(stats) => Ok((changes.root(), stats)),
            Err(e) => {
                self.mark_unapplied(&changes);
                Err(e)
            }
        }
    }

    /// Tells the trie that `changes`, one of its commits, was not applied (the apply was
    /// refused or failed), so the next commit emits its nodes again.
    ///
    /// [`Trie::commit`] marks the nodes it hands out as stored; without this call a
    /// changeset that never reached the store would leave later changesets pointing at
    /// nodes nobody stores, refused with [`Error::MissingNode`] forever. Call it right
    /// after the failed apply, once per failed changeset, in any order, also after
    /// further updates. It walks the nodes held in memory (cost proportional to them),
    /// and the trie then counts as having at least one pending update. Passing a
    /// changeset that was applied is harmless: its nodes are emitted again and `apply`
    /// finds them stored.
    ///
    /// ```
    /// use mpt_refcount::{MemoryStore, Trie, apply};
    ///
    /// let mut store = MemoryStore::new();
    /// let mut trie = Trie::new();
    /// trie.insert(&store, b"a", &[1; 40])?;
    /// let lost = trie.commit(); // say the write of this changeset failed
    /// trie.mark_unapplied(&lost);
    /// trie.insert(&store, b"b", &[2; 40])?;
    /// let changes = trie.commit(); // holds the nodes of both commits
    /// apply(&mut store, &changes)?;
    /// assert_eq!(Trie::from_root(changes.root()).get(&store, b"a")?, Some(vec![1; 40]));
    /// # Ok::<(), mpt_refcount::Error>(())
    /// ```
    pub fn mark_unapplied(&mut self, changes: &ChangeSet) {
        let hashes: BTreeSet<H256> = changes.nodes.iter().map(|(h, _)| *h).collect();
        if hashes.is_empty() {
            return;
        }
        let Child::Node(root) = &mut self.root else {
            return;
        };
        let mut any = remark(root, &hashes);
        // An inline root is stored under the hash of its encoding.
        if let Some(r @ NodeRef::Inline { .. }) = root.cache {
            let mut buf = Vec::with_capacity(32);
            r.put(&mut buf);
            if hashes.contains(&keccak256(&buf)) {
                root.new = true;
                any = true;
            }
        }
        if any {
            self.pending = self.pending.max(1);
        }
    }

    /// Drops the in-memory node cache of a committed trie, keeping only its root hash.
    pub fn unload(&mut self) -> Result<(), Error> {
        if self.pending > 0 {
            return Err(Error::Uncommitted { pending: self.pending });
        }
        let root = self.root_hash();
        *self = Trie::from_root(root);
        Ok(())
    }

    /// Calls `f` with every `(key, value)` in ascending key order until it breaks.
    ///
    /// A path with an odd number of nibbles cannot come from byte keys and is reported
    /// as [`Error::InvalidNode`].
    pub fn visit<S: NodeStore + ?Sized>(
        &self,
        store: &S,
        mut f: impl FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        let mut path = Vec::with_capacity(64);
        visit_child(store, &self.root, &mut path, &mut f).map(|_| ())
    }

    /// Every `(key, value)` in ascending key order.
    pub fn entries<S: NodeStore + ?Sized>(&self, store: &S) -> Result<Vec<KeyValue>, Error> {
        let mut out = Vec::new();
        self.visit(store, |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            ControlFlow::Continue(())
        })?;
        Ok(out)
    }

    /// A Merkle proof for `key` against the committed root: the encodings of the stored
    /// nodes on its path, root first. It proves the value, or the key's absence.
    ///
    /// The trie must be committed and its changeset applied.
    pub fn prove<S: NodeStore + ?Sized>(&mut self, store: &S, key: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
        if self.pending > 0 {
            return Err(Error::Uncommitted { pending: self.pending });
        }
        crate::proof::generate_proof(store, self.root_hash(), key)
    }
}

fn visit_child<S: NodeStore + ?Sized>(
    store: &S,
    child: &Child,
    path: &mut Vec<u8>,
    f: &mut impl FnMut(&[u8], &[u8]) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, Error> {
    // Every node consumes at least one nibble, so this bounds the recursion even over a
    // store written by someone else.
    if path.len() > 2 * MAX_KEY_BYTES {
        return Err(Error::KeyTooLong { len: path.len().div_ceil(2), limit: MAX_KEY_BYTES });
    }
    match child {
        Child::Empty => Ok(ControlFlow::Continue(())),
        Child::Hash(h) => {
            let mem = load_node(store, h)?;
            visit_node(store, &mem, path, f)
        }
        Child::Node(mem) => visit_node(store, mem, path, f),
    }
}

fn emit(
    path: &[u8],
    value: &[u8],
    f: &mut impl FnMut(&[u8], &[u8]) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, Error> {
    if path.len() % 2 == 1 {
        return Err(Error::InvalidNode { reason: "a value at an odd number of nibbles" });
    }
    let key: Vec<u8> = path.chunks_exact(2).map(|p| (p[0] << 4) | p[1]).collect();
    Ok(f(&key, value))
}

fn visit_node<S: NodeStore + ?Sized>(
    store: &S,
    mem: &MemNode,
    path: &mut Vec<u8>,
    f: &mut impl FnMut(&[u8], &[u8]) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, Error> {
    let base = path.len();
    let flow = match &mem.node {
        Node::Leaf { path: p, value } => {
            path.extend_from_slice(p);
            emit(path, value, f)?
        }
        Node::Extension { path: p, child } => {
            path.extend_from_slice(p);
            visit_child(store, child, path, f)?
        }
        Node::Branch { children, value } => {
            let mut flow = match value {
                Some(v) => emit(path, v, f)?,
                None => ControlFlow::Continue(()),
            };
            for (i, c) in children.iter().enumerate() {
                if flow.is_break() {
                    break;
                }
                path.push(i as u8);
                flow = visit_child(store, c, path, f)?;
                path.truncate(base);
            }
            flow
        }
    };
    path.truncate(base);
    Ok(flow)
}

/// Looks `key` up from nibble `at` in the stored node `hash`, without loading anything
/// into memory.
fn get_stored<S: NodeStore + ?Sized>(
    store: &S,
    hash: H256,
    key: &[u8],
    at: usize,
) -> Result<Option<Vec<u8>>, Error> {
    crate::proof::walk(key, at, hash, |h| load(store, h), |_| {})
}
