//! Merkle proofs of inclusion and exclusion (EIP-1186 style: the encodings of the stored
//! nodes on the key's path, root first).
//!
//! A proof is hostile input. [`verify_proof`] bounds its size ([`ProofLimits`]), decodes
//! every node strictly, follows only nodes whose keccak256 is referenced by the path, and
//! returns a typed [`Error`] for anything malformed. The walk consumes at least one
//! nibble per hashed node, so its work is bounded by the key length.

use primitives::{EMPTY_TRIE_ROOT, H256, keccak256};

use crate::Error;
use crate::codec::{ChildRef, DecodedNode, decode_node, nibble};
use crate::store::NodeStore;

/// Size limits for [`verify_proof_with_limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofLimits {
    /// Most nodes in a proof.
    pub max_nodes: usize,
    /// Most bytes, all nodes together.
    pub max_bytes: usize,
    /// Longest key.
    pub max_key_bytes: usize,
}

impl Default for ProofLimits {
    /// 130 nodes (a 64-byte key's path is at most 129 hashed nodes), 256 KiB, 64-byte keys.
    ///
    /// Every proof of a [`SecureTrie`](crate::SecureTrie) fits (its keys are 32-byte
    /// hashes, none a prefix of another, so a path holds one value: at most
    /// [`MAX_VALUE_BYTES`](crate::MAX_VALUE_BYTES) plus about 40 KiB of branches), and so
    /// does every proof of a plain [`Trie`](crate::Trie) whose path to the key holds at
    /// most two values of the largest size. A plain trie whose keys are prefixes of
    /// each other can hold a large value at every byte of a path: such a proof can exceed
    /// 256 KiB and is refused ([`Error::ProofTooLarge`]); verify it with
    /// [`ProofLimits::any_trie`].
    fn default() -> Self {
        ProofLimits { max_nodes: 130, max_bytes: 256 * 1024, max_key_bytes: crate::MAX_KEY_BYTES }
    }
}

impl ProofLimits {
    /// Limits that accept every proof [`Trie::prove`](crate::Trie::prove) can produce
    /// under the crate's key and value bounds: 130 nodes of at most
    /// [`MAX_NODE_BYTES`](crate::codec::MAX_NODE_BYTES) each (8.1 MiB in all), 64-byte
    /// keys. Verification work stays linear in the bytes (one keccak256 per node).
    pub fn any_trie() -> Self {
        let max_nodes = 130;
        ProofLimits {
            max_nodes,
            max_bytes: max_nodes * crate::codec::MAX_NODE_BYTES,
            max_key_bytes: crate::MAX_KEY_BYTES,
        }
    }
}

/// Walks `key` from nibble `at` starting at the stored node `hash`, fetching stored nodes
/// with `load` and showing each fetched encoding to `visit`.
pub(crate) fn walk<B: std::ops::Deref<Target = [u8]>>(
    key: &[u8],
    mut at: usize,
    hash: H256,
    mut load: impl FnMut(&H256) -> Result<B, Error>,
    mut visit: impl FnMut(&[u8]),
) -> Result<Option<Vec<u8>>, Error> {
    let total = key.len() * 2;
    let mut bytes = load(&hash)?;
    loop {
        visit(&bytes);
        let next = {
            let mut cur: &[u8] = &bytes;
            loop {
                match decode_node(cur)? {
                    DecodedNode::Leaf { path, value } => {
                        return Ok(path.matches_rest(key, at).then(|| value.to_vec()));
                    }
                    DecodedNode::Extension { path, child } => {
                        if !path.is_prefix_of(key, at) {
                            return Ok(None);
                        }
                        at += path.len();
                        match child {
                            ChildRef::Hash(h) => break h,
                            ChildRef::Inline(raw) => cur = raw,
                            ChildRef::Empty => {
                                return Err(Error::InvalidNode { reason: "empty extension child" });
                            }
                        }
                    }
                    DecodedNode::Branch { children, value } => {
                        if at == total {
                            return Ok(value.map(<[u8]>::to_vec));
                        }
                        let c = children[usize::from(nibble(key, at))];
                        at += 1;
                        match c {
                            ChildRef::Empty => return Ok(None),
                            ChildRef::Hash(h) => break h,
                            ChildRef::Inline(raw) => cur = raw,
                        }
                    }
                }
            }
        };
        bytes = load(&next)?;
    }
}

/// A proof for `key` against `root`, read from the store: the stored nodes on the key's
/// path, root first. Proves the value if present, its absence otherwise.
pub fn generate_proof<S: NodeStore + ?Sized>(
    store: &S,
    root: H256,
    key: &[u8],
) -> Result<Vec<Vec<u8>>, Error> {
    if root == EMPTY_TRIE_ROOT {
        return Ok(Vec::new());
    }
    let mut proof = Vec::new();
    walk(
        key,
        0,
        root,
        |h| store.node_ref(h)?.ok_or(Error::MissingNode { hash: *h }),
        |b| proof.push(b.to_vec()),
    )?;
    Ok(proof)
}

/// Verifies a proof with the default [`ProofLimits`]: `Ok(Some(value))` proves `key`
/// maps to `value` under `root`, `Ok(None)` proves `key` is absent, `Err` means the proof
/// proves nothing.
///
/// ```
/// use mpt_refcount::{MemoryStore, Trie, apply, verify_proof};
/// let mut store = MemoryStore::new();
/// let mut trie = Trie::new();
/// trie.insert(&store, b"dog", b"puppy")?;
/// trie.insert(&store, b"doge", b"coin")?;
/// let changes = trie.commit();
/// apply(&mut store, &changes)?;
///
/// let proof = trie.prove(&store, b"dog")?;
/// assert_eq!(verify_proof(changes.root(), b"dog", &proof)?, Some(b"puppy".to_vec()));
/// let proof = trie.prove(&store, b"cat")?;
/// assert_eq!(verify_proof(changes.root(), b"cat", &proof)?, None);
/// # Ok::<(), mpt_refcount::Error>(())
/// ```
pub fn verify_proof(root: H256, key: &[u8], proof: &[Vec<u8>]) -> Result<Option<Vec<u8>>, Error> {
    verify_proof_with_limits(root, key, proof, &ProofLimits::default())
}

/// [`verify_proof`] for a secure (keccak-keyed) trie: hashes `key` first.
pub fn verify_secure_proof(root: H256, key: &[u8], proof: &[Vec<u8>]) -> Result<Option<Vec<u8>>, Error> {
    verify_proof(root, keccak256(key).as_bytes(), proof)
}

/// [`verify_proof`] with explicit limits.
pub fn verify_proof_with_limits(
    root: H256,
    key: &[u8],
    proof: &[Vec<u8>],
    limits: &ProofLimits,
) -> Result<Option<Vec<u8>>, Error> {
    if key.len() > limits.max_key_bytes {
        return Err(Error::KeyTooLong { len: key.len(), limit: limits.max_key_bytes });
    }
    let bytes: usize = proof.iter().map(Vec::len).sum();
    if proof.len() > limits.max_nodes || bytes > limits.max_bytes {
        return Err(Error::ProofTooLarge {
            nodes: proof.len(),
            bytes,
            max_nodes: limits.max_nodes,
            max_bytes: limits.max_bytes,
        });
    }
    if root == EMPTY_TRIE_ROOT {
        return Ok(None);
    }
    let hashes: Vec<H256> = proof.iter().map(keccak256).collect();
    walk(
        key,
        0,
        root,
        |h| {
            let i = hashes.iter().position(|x| x == h).ok_or(Error::MissingProofNode { hash: *h })?;
            Ok(proof[i].clone())
        },
        |_| {},
    )
}
