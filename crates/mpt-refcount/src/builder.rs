//! A streaming trie builder over sorted items: leaves, and opaque subtries ("stubs")
//! known only by their reference.
//!
//! Items arrive in strictly increasing path order. The builder keeps one open branch per
//! fork on the path of the last item (at most one per nibble) and closes a branch as soon
//! as an item arrives that is no longer below it, so its memory is bounded by the key
//! length, not by the number of leaves. The result is the canonical Ethereum trie of the
//! items: byte for byte what [`crate::Trie`] commits for the same leaves.
//!
//! A stub is a subtrie hanging from a branch slot (its path ends with the slot's nibble),
//! or the whole trie (an empty path). The builder never looks inside it: a stub that
//! would have to merge with its surroundings (the only item under a branch that would
//! collapse) is refused with [`SyncError::RangeShape`]. In a range proof that never
//! happens for honest input, because the branch holding a stub has at least one other
//! entry, and that entry is an item too.

use primitives::{EMPTY_TRIE_ROOT, H256, keccak256};

use crate::SyncError;
use crate::codec::{bytes_len, hp_string_len, list_len, put_hp, put_list_header, put_string};

/// The nodes a build created, stored under their hashes, children before parents.
pub(crate) type Nodes = Vec<(H256, Vec<u8>)>;

/// One item for the builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// A leaf: its full key as nibbles and its (non-empty) value.
    Leaf { path: Vec<u8>, value: Vec<u8> },
    /// An opaque subtrie at `path` (nibbles), as its parent holds it: `0xa0 ‖ hash` or
    /// an inline encoding.
    Stub { path: Vec<u8>, reference: Vec<u8> },
}

impl Item {
    fn path(&self) -> &[u8] {
        match self {
            Item::Leaf { path, .. } | Item::Stub { path, .. } => path,
        }
    }
}

/// What waits for its parent: an item, or a closed branch at the end of `path`.
#[derive(Debug)]
enum Pending {
    Item(Item),
    Branch { path: Vec<u8>, reference: Vec<u8> },
}

#[derive(Debug)]
struct Open {
    /// The nibble path to the branch (its depth is `path.len()`).
    path: Vec<u8>,
    /// Child references; empty for an empty slot.
    children: [Vec<u8>; 16],
    value: Option<Vec<u8>>,
}

fn shape(reason: &'static str) -> SyncError {
    SyncError::RangeShape { reason }
}

/// The reference a parent holds to a node encoded as `enc`; a hashed node is recorded.
fn reference(enc: Vec<u8>, sink: &mut Option<Nodes>) -> Vec<u8> {
    if enc.len() < 32 {
        return enc;
    }
    let h = keccak256(&enc);
    if let Some(nodes) = sink {
        nodes.push((h, enc));
    }
    let mut r = Vec::with_capacity(33);
    r.push(0xa0);
    r.extend_from_slice(h.as_bytes());
    r
}

fn leaf_encoding(path: &[u8], value: &[u8]) -> Vec<u8> {
    let payload = hp_string_len(path, true) + bytes_len(value);
    let mut out = Vec::with_capacity(list_len(payload));
    put_list_header(&mut out, payload);
    put_hp(&mut out, path, true);
    put_string(&mut out, value);
    out
}

fn extension_encoding(path: &[u8], child: &[u8]) -> Vec<u8> {
    let payload = hp_string_len(path, false) + child.len();
    let mut out = Vec::with_capacity(list_len(payload));
    put_list_header(&mut out, payload);
    put_hp(&mut out, path, false);
    out.extend_from_slice(child);
    out
}

fn branch_encoding(children: &[Vec<u8>; 16], value: Option<&[u8]>) -> Vec<u8> {
    let payload = children.iter().map(|c| c.len().max(1)).sum::<usize>() + value.map_or(1, bytes_len);
    let mut out = Vec::with_capacity(list_len(payload));
    put_list_header(&mut out, payload);
    for c in children {
        if c.is_empty() {
            out.push(0x80);
        } else {
            out.extend_from_slice(c);
        }
    }
    match value {
        Some(v) => put_string(&mut out, v),
        None => out.push(0x80),
    }
    out
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Hangs `pend` in the open branch `open`.
fn attach(sink: &mut Option<Nodes>, open: &mut Open, pend: Pending) -> Result<(), SyncError> {
    let d = open.path.len();
    let (slot, child) = match pend {
        Pending::Item(Item::Leaf { path, value }) => {
            if path.len() == d {
                if open.value.replace(value).is_some() {
                    return Err(shape("two values at one branch"));
                }
                return Ok(());
            }
            (path[d], reference(leaf_encoding(&path[d + 1..], &value), sink))
        }
        Pending::Item(Item::Stub { path, reference: r }) => {
            if path.len() != d + 1 {
                return Err(shape("a subtrie outside the range would merge with its neighbours"));
            }
            (path[d], r)
        }
        Pending::Branch { path, reference: r } => {
            if path.len() == d + 1 {
                (path[d], r)
            } else {
                (path[d], reference(extension_encoding(&path[d + 1..], &r), sink))
            }
        }
    };
    let cell = &mut open.children[usize::from(slot)];
    if !cell.is_empty() {
        return Err(shape("two children in one branch slot"));
    }
    *cell = child;
    Ok(())
}

fn close(sink: &mut Option<Nodes>, open: Open) -> Pending {
    let enc = branch_encoding(&open.children, open.value.as_deref());
    Pending::Branch { path: open.path, reference: reference(enc, sink) }
}

/// The streaming builder. `push` items in strictly increasing path order, then `finish`.
#[derive(Debug, Default)]
pub(crate) struct Builder {
    stack: Vec<Open>,
    pending: Option<Pending>,
    sink: Option<Nodes>,
}

impl Builder {
    /// A builder that only computes the root.
    pub(crate) fn root_only() -> Self {
        Builder::default()
    }

    /// A builder that also records every node it hashes.
    pub(crate) fn recording() -> Self {
        Builder { sink: Some(Vec::new()), ..Builder::default() }
    }

    /// Adds the next item. `Err(None)` means it is not after the previous item.
    pub(crate) fn push(&mut self, item: Item) -> Result<(), Option<SyncError>> {
        let Some(prev) = self.pending.take() else {
            self.pending = Some(Pending::Item(item));
            return Ok(());
        };
        let Pending::Item(prev) = prev else {
            // A closed branch is pending only inside `push` and `finish`.
            return Err(Some(shape("builder state")));
        };
        let (pp, xp) = (prev.path(), item.path());
        let c = common_prefix(pp, xp);
        if c == xp.len() || (c < pp.len() && pp[c] > xp[c]) {
            self.pending = Some(Pending::Item(prev));
            return Err(None);
        }
        if c == pp.len() && matches!(prev, Item::Stub { .. }) {
            return Err(Some(shape("an item inside a subtrie outside the range")));
        }
        let fork = pp[..c].to_vec();
        let mut pend = Pending::Item(prev);
        while self.stack.last().is_some_and(|top| top.path.len() > c) {
            let Some(mut top) = self.stack.pop() else { break };
            attach(&mut self.sink, &mut top, pend).map_err(Some)?;
            pend = close(&mut self.sink, top);
        }
        match self.stack.last_mut() {
            Some(top) if top.path.len() == c => attach(&mut self.sink, top, pend).map_err(Some)?,
            _ => {
                let mut open = Open { path: fork, children: Default::default(), value: None };
                attach(&mut self.sink, &mut open, pend).map_err(Some)?;
                self.stack.push(open);
            }
        }
        self.pending = Some(Pending::Item(item));
        Ok(())
    }

    /// The root of everything pushed, and the recorded nodes (the root node is recorded
    /// under its hash even when it is shorter than 32 bytes; a stub root is not).
    pub(crate) fn finish(mut self) -> Result<(H256, Nodes), SyncError> {
        let Some(mut pend) = self.pending.take() else {
            return Ok((EMPTY_TRIE_ROOT, self.sink.unwrap_or_default()));
        };
        while let Some(mut top) = self.stack.pop() {
            attach(&mut self.sink, &mut top, pend)?;
            pend = close(&mut self.sink, top);
        }
        let root_enc = match pend {
            Pending::Item(Item::Leaf { path, value }) => leaf_encoding(&path, &value),
            Pending::Item(Item::Stub { path, reference }) => {
                if !path.is_empty() {
                    return Err(shape("a lone subtrie below the root"));
                }
                let root = match reference.split_first() {
                    Some((0xa0, h)) if h.len() == 32 => H256::from_slice(h),
                    _ => keccak256(&reference),
                };
                return Ok((root, self.sink.unwrap_or_default()));
            }
            Pending::Branch { path, reference } => {
                if path.is_empty() {
                    match reference.split_first() {
                        Some((0xa0, h)) if h.len() == 32 => {
                            return Ok((H256::from_slice(h), self.sink.unwrap_or_default()));
                        }
                        _ => reference,
                    }
                } else {
                    extension_encoding(&path, &reference)
                }
            }
        };
        let root = keccak256(&root_enc);
        let recording = self.sink.is_some();
        let mut nodes = self.sink.unwrap_or_default();
        if recording {
            nodes.push((root, root_enc));
        }
        Ok((root, nodes))
    }
}
