//! The node encoding of the Ethereum Merkle Patricia trie (Yellow Paper appendix D).
//!
//! * A path is a sequence of nibbles (half-bytes, high nibble first), written with the
//!   **hex-prefix** encoding: a flag nibble (`2` for a leaf, `+1` when the length is odd)
//!   and, for an even length, a zero padding nibble.
//! * A node is an RLP list: a **leaf** `[hp(path, leaf), value]`, an **extension**
//!   `[hp(path, ext), child]` or a **branch** `[child_0, …, child_15, value]`.
//! * A child whose own encoding is shorter than 32 bytes is **inlined** (its RLP list
//!   sits in the parent); otherwise the parent holds its keccak256 as a 32-byte string.
//!
//! [`decode_node`] is strict and zero-copy: it accepts only canonical RLP and canonical
//! nodes, so `decode_node(b)?.encode() == b` for every accepted `b` (the fuzz target
//! checks it). Every failure is a typed [`Error`].

use primitives::H256;

use crate::Error;

/// The largest node [`decode_node`] accepts. A branch with sixteen hash children is 532
/// bytes plus its value; values in the ledger are account records of ~100 bytes. The
/// limit keeps a hostile node from costing more than a bounded amount of work.
pub const MAX_NODE_BYTES: usize = 64 * 1024;

/// One RLP item: whether it is a list, its payload, and its whole encoding.
#[derive(Clone, Copy)]
struct Item<'a> {
    list: bool,
    payload: &'a [u8],
    raw: &'a [u8],
}

fn rlp_err(offset: usize, reason: &'static str) -> Error {
    Error::InvalidRlp { offset, reason }
}

/// Reads one canonical RLP item at `pos`; returns it and the position after it.
fn read_item(buf: &[u8], pos: usize) -> Result<(Item<'_>, usize), Error> {
    let first = *buf.get(pos).ok_or_else(|| rlp_err(pos, "unexpected end"))?;
    let (list, header, len) = match first {
        0x00..=0x7f => {
            let raw = &buf[pos..pos + 1];
            return Ok((Item { list: false, payload: raw, raw }, pos + 1));
        }
        0x80..=0xb7 => (false, 1, usize::from(first - 0x80)),
        0xc0..=0xf7 => (true, 1, usize::from(first - 0xc0)),
        _ => {
            let (list, len_of_len) = if first < 0xc0 { (false, first - 0xb7) } else { (true, first - 0xf7) };
            let len_of_len = usize::from(len_of_len);
            if len_of_len > 4 {
                return Err(rlp_err(pos, "length of length too large"));
            }
            let bytes =
                buf.get(pos + 1..pos + 1 + len_of_len).ok_or_else(|| rlp_err(pos, "truncated length"))?;
            if bytes[0] == 0 {
                return Err(rlp_err(pos, "length with leading zero"));
            }
            let len = bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            if len < 56 {
                return Err(rlp_err(pos, "long form for a short payload"));
            }
            (list, 1 + len_of_len, len)
        }
    };
    let start = pos + header;
    let end = start.checked_add(len).ok_or_else(|| rlp_err(pos, "length overflows"))?;
    let payload = buf.get(start..end).ok_or_else(|| rlp_err(pos, "payload runs past the end"))?;
    if !list && len == 1 && payload[0] < 0x80 {
        return Err(rlp_err(pos, "single byte below 0x80 must encode itself"));
    }
    Ok((Item { list, payload, raw: &buf[pos..end] }, end))
}

/// Length of the RLP encoding of the string `s`.
#[inline]
pub(crate) fn bytes_len(s: &[u8]) -> usize {
    match s {
        [b] if *b < 0x80 => 1,
        _ => header_len(s.len()) + s.len(),
    }
}

/// Length of the RLP encoding of a string of `len` bytes whose first byte is `first`.
#[inline]
pub(crate) fn string_len(len: usize, first: u8) -> usize {
    if len == 1 && first < 0x80 { 1 } else { header_len(len) + len }
}

#[inline]
fn header_len(payload: usize) -> usize {
    if payload < 56 { 1 } else { 1 + be_len(payload) }
}

#[inline]
fn be_len(n: usize) -> usize {
    (usize::BITS as usize - n.leading_zeros() as usize).div_ceil(8)
}

fn put_header(out: &mut Vec<u8>, payload: usize, short: u8, long: u8) {
    if payload < 56 {
        out.push(short + payload as u8);
    } else {
        let n = be_len(payload);
        out.push(long + n as u8);
        out.extend_from_slice(&payload.to_be_bytes()[size_of::<usize>() - n..]);
    }
}

/// Writes `s` as an RLP string.
#[inline]
pub(crate) fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() == 1 && s[0] < 0x80 {
        out.push(s[0]);
    } else {
        put_header(out, s.len(), 0x80, 0xb7);
        out.extend_from_slice(s);
    }
}

/// Writes an RLP list header for a payload of `payload` bytes.
#[inline]
pub(crate) fn put_list_header(out: &mut Vec<u8>, payload: usize) {
    put_header(out, payload, 0xc0, 0xf7);
}

/// Length of a list with a payload of `payload` bytes.
#[inline]
pub(crate) fn list_len(payload: usize) -> usize {
    header_len(payload) + payload
}

/// Length of the RLP string holding the hex-prefix encoding of `nibbles` nibbles.
#[inline]
pub(crate) fn hp_string_len(nibbles: &[u8], leaf: bool) -> usize {
    let hp_len = nibbles.len() / 2 + 1;
    let first = hp_first(nibbles, leaf);
    string_len(hp_len, first)
}

#[inline]
fn hp_first(nibbles: &[u8], leaf: bool) -> u8 {
    let flag = if leaf { 2 } else { 0 };
    if nibbles.len() % 2 == 1 { ((flag + 1) << 4) | nibbles[0] } else { flag << 4 }
}

/// Writes the hex-prefix encoding of `nibbles` as an RLP string.
pub(crate) fn put_hp(out: &mut Vec<u8>, nibbles: &[u8], leaf: bool) {
    let hp_len = nibbles.len() / 2 + 1;
    let first = hp_first(nibbles, leaf);
    if hp_len == 1 && first < 0x80 {
        out.push(first);
        return;
    }
    put_header(out, hp_len, 0x80, 0xb7);
    out.push(first);
    let rest = if nibbles.len() % 2 == 1 { &nibbles[1..] } else { nibbles };
    for pair in rest.chunks_exact(2) {
        out.push((pair[0] << 4) | pair[1]);
    }
}

/// The nibble at index `i` of `key` (high nibble first).
#[inline]
pub(crate) fn nibble(key: &[u8], i: usize) -> u8 {
    let b = key[i / 2];
    if i.is_multiple_of(2) { b >> 4 } else { b & 0x0f }
}

/// The nibbles of `key`, high nibble first.
pub fn to_nibbles(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() * 2);
    for &b in key {
        out.push(b >> 4);
        out.push(b & 0x0f);
    }
    out
}

/// A hex-prefix encoded path borrowed from a node: the nibbles without copying them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path<'a> {
    hp: &'a [u8],
}

impl<'a> Path<'a> {
    /// The number of nibbles.
    pub fn len(&self) -> usize {
        let odd = (self.hp[0] >> 4) & 1 == 1;
        (self.hp.len() - 1) * 2 + usize::from(odd)
    }

    /// Whether the path has no nibbles.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The nibble at `i` (`i < len()`).
    pub fn at(&self, i: usize) -> u8 {
        let odd = (self.hp[0] >> 4) & 1 == 1;
        // Index into the hp bytes as nibbles: the first nibble is the flag; an odd path
        // starts at nibble 1, an even one at nibble 2 (after the zero pad).
        nibble(self.hp, i + if odd { 1 } else { 2 })
    }

    /// The nibbles, one per byte.
    pub fn to_vec(&self) -> Vec<u8> {
        (0..self.len()).map(|i| self.at(i)).collect()
    }

    /// Whether the path equals the nibbles of `key` from nibble `from` to the end.
    pub(crate) fn matches_rest(&self, key: &[u8], from: usize) -> bool {
        let n = self.len();
        key.len() * 2 == from + n && (0..n).all(|i| self.at(i) == nibble(key, from + i))
    }

    /// Whether the nibbles of `key` starting at `from` begin with this path.
    pub(crate) fn is_prefix_of(&self, key: &[u8], from: usize) -> bool {
        let n = self.len();
        key.len() * 2 >= from + n && (0..n).all(|i| self.at(i) == nibble(key, from + i))
    }

    /// The hex-prefix bytes.
    pub fn hex_prefix(&self) -> &'a [u8] {
        self.hp
    }
}

/// A child slot of a decoded node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildRef<'a> {
    /// No child (branch slots only).
    Empty,
    /// A child stored under its keccak256.
    Hash(H256),
    /// A child under 32 bytes, inlined: its whole RLP encoding.
    Inline(&'a [u8]),
}

/// A decoded trie node borrowing from its encoding.
// Zero-copy and short-lived (stack only): the branch's inline array is the point.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodedNode<'a> {
    /// The end of a key: the rest of its path and its (non-empty) value.
    Leaf {
        /// Remaining path.
        path: Path<'a>,
        /// The value.
        value: &'a [u8],
    },
    /// A shared, non-empty path segment followed by one child.
    Extension {
        /// The shared segment.
        path: Path<'a>,
        /// The child (never empty).
        child: ChildRef<'a>,
    },
    /// A 16-way fork on the next nibble, with the value of a key ending here.
    Branch {
        /// One slot per nibble value.
        children: [ChildRef<'a>; 16],
        /// The value of the key ending at this branch.
        value: Option<&'a [u8]>,
    },
}

fn node_err(reason: &'static str) -> Error {
    Error::InvalidNode { reason }
}

fn decode_child(item: Item<'_>, allow_empty: bool) -> Result<ChildRef<'_>, Error> {
    if item.list {
        if item.raw.len() >= 32 {
            return Err(node_err("inlined child of 32 bytes or more"));
        }
        // Validate the inline node itself, so that walking it later cannot fail.
        decode_node(item.raw)?;
        return Ok(ChildRef::Inline(item.raw));
    }
    match item.payload.len() {
        0 if allow_empty => Ok(ChildRef::Empty),
        32 => Ok(ChildRef::Hash(H256::from_slice(item.payload))),
        _ => Err(node_err("child reference is neither a 32-byte hash nor an inline node")),
    }
}

fn decode_path(item: Item<'_>) -> Result<(Path<'_>, bool), Error> {
    if item.list {
        return Err(node_err("path is a list"));
    }
    let hp = item.payload;
    let first = *hp.first().ok_or_else(|| node_err("empty hex-prefix path"))?;
    let flag = first >> 4;
    if flag > 3 {
        return Err(node_err("hex-prefix flag above 3"));
    }
    if flag & 1 == 0 && first & 0x0f != 0 {
        return Err(node_err("non-zero hex-prefix padding"));
    }
    Ok((Path { hp }, flag & 2 == 2))
}

/// Checks a node's size limit and outer list; returns the list's payload and the offset
/// of the payload in `bytes`.
fn node_payload(bytes: &[u8]) -> Result<(&[u8], usize), Error> {
    if bytes.len() > MAX_NODE_BYTES {
        return Err(Error::NodeTooLarge { len: bytes.len(), limit: MAX_NODE_BYTES });
    }
    let (outer, end) = read_item(bytes, 0)?;
    if end != bytes.len() {
        return Err(rlp_err(end, "trailing bytes after the node"));
    }
    if !outer.list {
        return Err(node_err("a node is a list"));
    }
    Ok((outer.payload, outer.raw.len() - outer.payload.len()))
}

/// [`read_item`] on a node's payload, with error offsets counted from the node's start.
fn read_child_item(payload: &[u8], pos: usize, base: usize) -> Result<(Item<'_>, usize), Error> {
    read_item(payload, pos).map_err(|e| match e {
        Error::InvalidRlp { offset, reason } => Error::InvalidRlp { offset: offset + base, reason },
        other => other,
    })
}

/// Decodes one trie node, strictly (canonical RLP, canonical node, at most
/// [`MAX_NODE_BYTES`]). Zero-copy: the result borrows from `bytes`.
pub fn decode_node(bytes: &[u8]) -> Result<DecodedNode<'_>, Error> {
    let (payload, base) = node_payload(bytes)?;
    let mut items: [Option<Item<'_>>; 17] = [None; 17];
    let mut count = 0;
    let mut pos = 0;
    while pos < payload.len() {
        if count == 17 {
            return Err(node_err("a node has 2 or 17 items"));
        }
        let (item, next) = read_child_item(payload, pos, base)?;
        items[count] = Some(item);
        count += 1;
        pos = next;
    }
    match (count, items) {
        (2, [Some(p), Some(second), ..]) => {
            let (path, leaf) = decode_path(p)?;
            if leaf {
                if second.list || second.payload.is_empty() {
                    return Err(node_err("a leaf value is a non-empty string"));
                }
                Ok(DecodedNode::Leaf { path, value: second.payload })
            } else {
                if path.is_empty() {
                    return Err(node_err("an extension has a non-empty path"));
                }
                Ok(DecodedNode::Extension { path, child: decode_child(second, false)? })
            }
        }
        (17, items) => {
            let mut children = [ChildRef::Empty; 16];
            for (slot, item) in children.iter_mut().zip(items.iter()) {
                let item = item.ok_or_else(|| node_err("missing branch item"))?;
                *slot = decode_child(item, true)?;
            }
            let v = items[16].ok_or_else(|| node_err("missing branch value"))?;
            if v.list {
                return Err(node_err("a branch value is a string"));
            }
            let value = if v.payload.is_empty() { None } else { Some(v.payload) };
            Ok(DecodedNode::Branch { children, value })
        }
        _ => Err(node_err("a node has 2 or 17 items")),
    }
}

/// Calls `f` with every child of the node `bytes` that is stored under a hash, with
/// multiplicity, in slot order: the same calls as `decode_node(bytes)?.for_each_hash(f)`
/// on every input [`decode_node`] accepts, at a fraction of its cost.
///
/// It checks only what it reads (RLP item boundaries, the node's item count, the path
/// flag that tells a leaf from an extension), not the canonical form of every item nor
/// inline children. [`crate::prune`] uses it on nodes that [`crate::apply`] validated in
/// full when it stored them. Malformed input is a typed error, never a panic; on error,
/// `f` may already have been called for some of the hashes.
pub fn for_each_child_hash(bytes: &[u8], mut f: impl FnMut(H256)) -> Result<(), Error> {
    let (payload, base) = node_payload(bytes)?;
    let hash_of =
        |item: &Item<'_>| (!item.list && item.payload.len() == 32).then(|| H256::from_slice(item.payload));
    let (first, pos) = read_child_item(payload, 0, base)?;
    let (second, mut pos) = read_child_item(payload, pos, base)?;
    if pos == payload.len() {
        // A leaf or an extension: only an extension's child is a reference.
        let (_, leaf) = decode_path(first)?;
        if !leaf && let Some(h) = hash_of(&second) {
            f(h);
        }
        return Ok(());
    }
    // A branch: sixteen children, then the value.
    for item in [first, second] {
        if let Some(h) = hash_of(&item) {
            f(h);
        }
    }
    let mut count = 2;
    while pos < payload.len() {
        let (item, next) = read_child_item(payload, pos, base)?;
        count += 1;
        if count > 17 {
            return Err(node_err("a node has 2 or 17 items"));
        }
        if count <= 16
            && let Some(h) = hash_of(&item)
        {
            f(h);
        }
        pos = next;
    }
    if count != 17 {
        return Err(node_err("a node has 2 or 17 items"));
    }
    Ok(())
}

fn child_len(c: &ChildRef<'_>) -> usize {
    match c {
        ChildRef::Empty => 1,
        ChildRef::Hash(_) => 33,
        ChildRef::Inline(raw) => raw.len(),
    }
}

fn put_child(out: &mut Vec<u8>, c: &ChildRef<'_>) {
    match c {
        ChildRef::Empty => out.push(0x80),
        ChildRef::Hash(h) => {
            out.push(0xa0);
            out.extend_from_slice(h.as_bytes());
        }
        ChildRef::Inline(raw) => out.extend_from_slice(raw),
    }
}

impl DecodedNode<'_> {
    /// The canonical encoding of this node (equal to the bytes it was decoded from).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            DecodedNode::Leaf { path, value } => {
                let payload = bytes_len(path.hp) + bytes_len(value);
                put_list_header(&mut out, payload);
                put_string(&mut out, path.hp);
                put_string(&mut out, value);
            }
            DecodedNode::Extension { path, child } => {
                let payload = bytes_len(path.hp) + child_len(child);
                put_list_header(&mut out, payload);
                put_string(&mut out, path.hp);
                put_child(&mut out, child);
            }
            DecodedNode::Branch { children, value } => {
                let value_len = value.map_or(1, bytes_len);
                let payload = children.iter().map(child_len).sum::<usize>() + value_len;
                put_list_header(&mut out, payload);
                for c in children {
                    put_child(&mut out, c);
                }
                match value {
                    Some(v) => put_string(&mut out, v),
                    None => out.push(0x80),
                }
            }
        }
        out
    }

    /// Calls `f` for every child stored under a hash, with multiplicity, in slot order.
    /// Inline children never hold a hash (a hash takes 33 bytes, an inline node fewer than
    /// 32), so these are exactly the store references of the node.
    pub fn for_each_hash(&self, mut f: impl FnMut(H256)) {
        match self {
            DecodedNode::Leaf { .. } => {}
            DecodedNode::Extension { child, .. } => {
                if let ChildRef::Hash(h) = child {
                    f(*h)
                }
            }
            DecodedNode::Branch { children, .. } => {
                for c in children {
                    if let ChildRef::Hash(h) = c {
                        f(*h)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(nibbles: &[u8], leaf: bool) -> Vec<u8> {
        let mut out = Vec::new();
        put_hp(&mut out, nibbles, leaf);
        // strip the RLP header to compare with the Yellow Paper examples
        let (item, _) = read_item(&out, 0).unwrap();
        item.payload.to_vec()
    }

    fn strict_hashes(bytes: &[u8]) -> Result<Vec<H256>, Error> {
        let mut v = Vec::new();
        decode_node(bytes)?.for_each_hash(|h| v.push(h));
        Ok(v)
    }

    fn fast_hashes(bytes: &[u8]) -> Result<Vec<H256>, Error> {
        let mut v = Vec::new();
        for_each_child_hash(bytes, |h| v.push(h))?;
        Ok(v)
    }

    fn branch(children: &[ChildRef<'_>; 16], value: Option<&[u8]>) -> Vec<u8> {
        DecodedNode::Branch { children: *children, value }.encode()
    }

    #[test]
    fn child_scan_matches_the_strict_decoder() {
        let a = H256::repeat_byte(0xaa);
        let b = H256::repeat_byte(0xbb);
        let inline = DecodedNode::Leaf { path: Path { hp: &[0x31] }, value: b"v" }.encode();
        let mut children = [ChildRef::Empty; 16];
        children[0] = ChildRef::Hash(a);
        children[5] = ChildRef::Inline(&inline);
        children[9] = ChildRef::Hash(b);
        children[15] = ChildRef::Hash(a);
        // A 32-byte branch value and a 32-byte leaf value look like hashes but are not.
        let value32 = [0x5au8; 32];
        let nodes = vec![
            branch(&children, None),
            branch(&children, Some(&value32)),
            DecodedNode::Leaf { path: Path { hp: &[0x20, 0x12] }, value: &value32 }.encode(),
            DecodedNode::Extension { path: Path { hp: &[0x00, 0x12] }, child: ChildRef::Hash(b) }.encode(),
            DecodedNode::Extension { path: Path { hp: &[0x1a] }, child: ChildRef::Inline(&inline) }.encode(),
            inline.clone(),
        ];
        for n in &nodes {
            assert_eq!(fast_hashes(n).unwrap(), strict_hashes(n).unwrap());
        }
        assert_eq!(fast_hashes(&nodes[0]).unwrap(), vec![a, b, a]);
        assert_eq!(fast_hashes(&nodes[1]).unwrap(), vec![a, b, a]);
        assert!(fast_hashes(&nodes[2]).unwrap().is_empty());
        assert_eq!(fast_hashes(&nodes[3]).unwrap(), vec![b]);
    }

    #[test]
    fn child_scan_rejects_malformed_nodes() {
        let three = [0xc3, 0x80, 0x80, 0x80]; // a list of three empty strings
        let eighteen: Vec<u8> = std::iter::once(0xd2).chain(std::iter::repeat_n(0x80, 18)).collect();
        let bad_flag = [0xc2, 0x40, 0x80]; // hex-prefix flag 4
        for bad in
            [&[][..], &[0x80], &three, &eighteen, &bad_flag, &[0xc2, 0x80], &[0xc1, 0x80, 0x00], &[0xf9]]
        {
            assert!(fast_hashes(bad).is_err(), "{bad:02x?}");
        }
        let huge = vec![0u8; MAX_NODE_BYTES + 1];
        assert!(matches!(fast_hashes(&huge), Err(Error::NodeTooLarge { .. })));
    }

    #[test]
    fn hex_prefix_matches_the_yellow_paper() {
        assert_eq!(hp(&[1, 2, 3, 4, 5], false), vec![0x11, 0x23, 0x45]);
        assert_eq!(hp(&[0, 1, 2, 3, 4, 5], false), vec![0x00, 0x01, 0x23, 0x45]);
        assert_eq!(hp(&[0, 0x0f, 1, 0x0c, 0x0b, 8], true), vec![0x20, 0x0f, 0x1c, 0xb8]);
        assert_eq!(hp(&[0x0f, 1, 0x0c, 0x0b, 8], true), vec![0x3f, 0x1c, 0xb8]);
        assert_eq!(hp(&[], true), vec![0x20]);
        assert_eq!(hp(&[], false), vec![0x00]);
    }

    #[test]
    fn path_reads_back_its_nibbles() {
        for len in 0..9usize {
            let nib: Vec<u8> = (0..len).map(|i| ((i * 7 + len) & 0x0f) as u8).collect();
            for leaf in [true, false] {
                let mut out = Vec::new();
                put_hp(&mut out, &nib, leaf);
                assert_eq!(out.len(), hp_string_len(&nib, leaf));
                let (item, _) = read_item(&out, 0).unwrap();
                let (path, is_leaf) = decode_path(item).unwrap();
                assert_eq!(is_leaf, leaf);
                assert_eq!(path.to_vec(), nib);
            }
        }
    }

    #[test]
    fn rejects_non_canonical_rlp() {
        // single byte 0x05 written as a one-byte string
        assert!(matches!(read_item(&[0x81, 0x05], 0), Err(Error::InvalidRlp { .. })));
        // long form for a 3-byte string
        assert!(matches!(read_item(&[0xb8, 0x03, 1, 2, 3], 0), Err(Error::InvalidRlp { .. })));
        // leading zero in the length
        assert!(matches!(read_item(&[0xb9, 0x00, 0x40], 0), Err(Error::InvalidRlp { .. })));
        // runs past the end
        assert!(matches!(read_item(&[0x83, 1], 0), Err(Error::InvalidRlp { .. })));
    }

    #[test]
    fn rejects_bad_nodes() {
        // flag nibble 4
        assert!(matches!(decode_node(&[0xc2, 0x40, 0x01]), Err(Error::InvalidNode { .. })));
        // even path with a non-zero pad
        assert!(matches!(decode_node(&[0xc4, 0x82, 0x0a, 0x12, 0x01]), Err(Error::InvalidNode { .. })));
        // three items
        assert!(matches!(decode_node(&[0xc3, 0x20, 0x01, 0x02]), Err(Error::InvalidNode { .. })));
        // leaf with an empty value
        assert!(matches!(decode_node(&[0xc2, 0x20, 0x80]), Err(Error::InvalidNode { .. })));
        // extension with an empty path
        assert!(matches!(decode_node(&[0xc2, 0x00, 0x80]), Err(Error::InvalidNode { .. })));
        // not a list
        assert!(matches!(decode_node(&[0x80]), Err(Error::InvalidNode { .. })));
        // trailing bytes
        assert!(matches!(decode_node(&[0xc2, 0x20, 0x01, 0x00]), Err(Error::InvalidRlp { .. })));
        let big = vec![0u8; MAX_NODE_BYTES + 1];
        assert!(matches!(decode_node(&big), Err(Error::NodeTooLarge { .. })));
    }

    #[test]
    fn leaf_round_trips() {
        let node = [0xc5, 0x82, 0x20, 0x0f, 0x81, 0x99];
        let decoded = decode_node(&node).unwrap();
        assert!(matches!(decoded, DecodedNode::Leaf { value: [0x99], .. }));
        assert_eq!(decoded.encode(), node);
    }
}
