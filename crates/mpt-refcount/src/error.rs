//! The one error type of this crate.

use primitives::H256;

/// Everything that can go wrong reading, writing, pruning or proving a trie.
///
/// Every variant says what was wrong and, where it applies, by how much. Bad input (a
/// malformed node, a hostile proof) is always one of these, never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A node the trie points to is not in the store (pruned, or a changeset was not
    /// applied). Nothing was changed.
    #[error("trie node {hash:?} is missing from the store")]
    MissingNode {
        /// The hash the trie points to.
        hash: H256,
    },
    /// A proof does not contain the node its path needs.
    #[error("proof lacks the node {hash:?} on the key's path")]
    MissingProofNode {
        /// The hash the path points to.
        hash: H256,
    },
    /// The bytes are not canonical RLP.
    #[error("invalid RLP at byte {offset}: {reason}")]
    InvalidRlp {
        /// Offset of the offending header inside the decoded buffer.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// The RLP is well formed but is not a canonical trie node.
    #[error("invalid trie node: {reason}")]
    InvalidNode {
        /// What was wrong.
        reason: &'static str,
    },
    /// A node is larger than the decoder's limit.
    #[error("node of {len} bytes exceeds the limit of {limit} bytes")]
    NodeTooLarge {
        /// Length of the node.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A proof has more nodes or bytes than the verifier's limit.
    #[error(
        "proof of {nodes} nodes / {bytes} bytes exceeds the limit of {max_nodes} nodes / {max_bytes} bytes"
    )]
    ProofTooLarge {
        /// Nodes in the proof.
        nodes: usize,
        /// Total bytes in the proof.
        bytes: usize,
        /// The node limit.
        max_nodes: usize,
        /// The byte limit.
        max_bytes: usize,
    },
    /// A value is longer than [`crate::MAX_VALUE_BYTES`], so a node holding it could
    /// exceed [`crate::codec::MAX_NODE_BYTES`]. Nothing was changed.
    #[error("value of {len} bytes exceeds the limit of {limit} bytes")]
    ValueTooLarge {
        /// Length of the value.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A key is longer than the limit ([`crate::MAX_KEY_BYTES`] for the trie, the
    /// verifier's [`crate::ProofLimits`] for proofs). Nothing was changed.
    #[error("key of {len} bytes exceeds the limit of {limit} bytes")]
    KeyTooLong {
        /// Length of the key.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A reference count would exceed `u32::MAX`.
    #[error("reference count of {hash:?} overflows")]
    RefcountOverflow {
        /// The node.
        hash: H256,
    },
    /// The store's bookkeeping disagrees with itself (a refcount of zero for a stored
    /// node, a root marker without its node). The operation was not applied.
    #[error("store inconsistency at {hash:?}: {reason}")]
    Inconsistent {
        /// The node.
        hash: H256,
        /// What was wrong.
        reason: &'static str,
    },
    /// The operation needs a committed trie, but `pending` updates are not committed.
    #[error("{pending} updates are not committed yet")]
    Uncommitted {
        /// Updates since the last commit.
        pending: usize,
    },
    /// The root is not retained by the policy (never committed, or already pruned).
    #[error("root {root:?} is not retained")]
    NotRetained {
        /// The root.
        root: H256,
    },
    /// [`Retention::recover`](crate::Retention::recover) was asked to keep a root the
    /// store does not retain (its apply never landed, or it was pruned): the state is
    /// not there to keep. Nothing was changed.
    #[error("root {root:?} is to be kept but the store does not retain it")]
    RootNotStored {
        /// The root.
        root: H256,
    },
    /// The backing store failed.
    #[error("node store failure: {message}")]
    Store {
        /// The store's own description.
        message: String,
    },
}
