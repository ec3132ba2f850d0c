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

/// Everything that can go wrong exporting, verifying or importing a state snapshot
/// ([`crate::range`], [`crate::import`], [`crate::snapshot`]).
///
/// A refused chunk or record is always one of these, never a panic, and never leaves
/// the store changed: the importer writes only in [`crate::SyncImporter::finish`], in
/// one atomic batch, after the whole trie has been rebuilt and its root checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// A trie, store or node error (a missing node while exporting, a malformed proof
    /// node, a store failure).
    #[error(transparent)]
    Trie(#[from] Error),
    /// The trie rebuilt from a chunk (or from the whole stream) does not hash to the
    /// expected root: a leaf was changed, added or omitted, or the proof is forged.
    #[error("rebuilt root {computed:?} differs from the expected root {expected:?}")]
    RootMismatch {
        /// The root the chunk or stream must have.
        expected: H256,
        /// The root it produced.
        computed: H256,
    },
    /// The leaves of a chunk, together with the subtries its proof leaves outside the
    /// range, do not form a trie: a leaf sits inside a subtrie the proof says is outside
    /// the range, or a proof subtrie would have to be merged with its neighbours.
    #[error("the chunk does not fit its proof: {reason}")]
    RangeShape {
        /// What did not fit.
        reason: &'static str,
    },
    /// Leaf `index` of a chunk is not after the previous one (keys must strictly
    /// increase, also across chunks).
    #[error("leaf {index} of the chunk is not after the one before it")]
    NotIncreasing {
        /// Index of the leaf in the chunk.
        index: usize,
    },
    /// The first leaf of a chunk is below the chunk's start key.
    #[error("the first leaf of the chunk is below its start key")]
    BeforeStart,
    /// Leaf `index` of a chunk has an empty value (a trie never stores one).
    #[error("leaf {index} of the chunk has an empty value")]
    EmptyValue {
        /// Index of the leaf in the chunk.
        index: usize,
    },
    /// A chunk, proof or record is over one of the caller's limits.
    #[error("{what} is {value}, over the limit of {limit}")]
    OverLimit {
        /// What was counted.
        what: &'static str,
        /// How much there was.
        value: u64,
        /// The limit.
        limit: u64,
    },
    /// A chunk does not start where the previous one ended: one was dropped, reordered
    /// or duplicated.
    #[error("chunk starts at {found:02x?}, expected {expected:02x?}")]
    UnexpectedStart {
        /// The start key the importer expects next.
        expected: Vec<u8>,
        /// The chunk's start key.
        found: Vec<u8>,
    },
    /// A chunk arrived after the chunk that ended the trie.
    #[error("the trie is already complete; no chunk may follow its last one")]
    AlreadyComplete,
    /// The import was finished before the chunk that ends the trie arrived (a
    /// truncated stream).
    #[error("the import is incomplete: the next chunk would start at {next_start:02x?}")]
    Incomplete {
        /// Where the next chunk would start.
        next_start: Vec<u8>,
    },
    /// A [`SnapshotReader`](crate::SnapshotReader) refused an earlier record for good (a
    /// record out of place, counts that disagree with the header, another root); it
    /// accepts nothing more.
    #[error("the snapshot stream failed earlier and is accepted no further")]
    Poisoned,
    /// The record size limit is too small for even one leaf and its proofs.
    #[error("a chunk with one leaf needs {needed} bytes, over the record limit of {limit}")]
    RecordLimitTooSmall {
        /// Bytes the smallest chunk needs.
        needed: usize,
        /// The limit.
        limit: usize,
    },
    /// A snapshot record is malformed.
    #[error("malformed snapshot record at byte {offset}: {reason}")]
    BadRecord {
        /// Offset in the record.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// A snapshot record has another format version.
    #[error("snapshot record version {found}, expected {expected}")]
    UnsupportedVersion {
        /// The version byte found.
        found: u8,
        /// The version this decoder reads.
        expected: u8,
    },
    /// A snapshot record arrived out of place (a chunk before the header, a second
    /// header, anything after the end record).
    #[error("unexpected {found} record: expected {expected}")]
    UnexpectedRecord {
        /// What the stream needed next.
        expected: &'static str,
        /// What arrived.
        found: &'static str,
    },
    /// The snapshot's header names another root than the one the importer trusts.
    #[error("snapshot of root {found:?}, expected {expected:?}")]
    WrongSnapshotRoot {
        /// The trusted root.
        expected: H256,
        /// The header's root.
        found: H256,
    },
    /// The stream's counts disagree with its header.
    #[error("{what}: the header says {header}, the stream has {found}")]
    CountMismatch {
        /// What was counted.
        what: &'static str,
        /// The header's count.
        header: u64,
        /// The count in the stream (so far).
        found: u64,
    },
}
