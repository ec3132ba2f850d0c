//! Verified bulk import of a trie from range-proved chunks.
//!
//! A [`SyncImporter`] is created with the root to import (a root the host already
//! trusts, e.g. from a finalized checkpoint). It takes the chunks in key order, each
//! starting right after the previous one's last leaf ([`RangeChunk::next_start`]; the
//! first at the empty key), and verifies each with
//! [`verify_range_with_limits`](crate::verify_range_with_limits): the check rebuilds, from the chunk's leaves and the subtries its proof leaves outside the
//! range, a trie that must hash to the target root. Once it does, every node it rebuilt
//! is a node of the target trie, and the importer keeps them (every node whose subtrie
//! holds a leaf of the chunk: the chunks together cover every node, and a node on a
//! chunk boundary is kept once per chunk). When a chunk proves that no leaf follows it,
//! the import is complete; [`SyncImporter::finish`] then writes: one [`crate::apply`] of
//! a [`ChangeSet`] of all the kept nodes, in one atomic batch, which walks the trie from
//! the target root (a node missing would be [`crate::Error::MissingNode`], writing
//! nothing), stores every node once with its exact reference count and retains the root
//! once.
//!
//! Nothing reaches the store before `finish`, and `finish` writes nothing unless it
//! succeeds, so a tampered stream — a chunk changed, dropped, reordered or duplicated, a
//! forged proof, a stream that stops early — is a typed [`SyncError`] and leaves the
//! store exactly as it was. A chunk that fails verification changes nothing in the
//! importer either: the host may fetch it again (from another peer) and go on.

use primitives::{EMPTY_TRIE_ROOT, H256};

use crate::SyncError;
use crate::builder::Nodes;
use crate::changeset::{ApplyStats, ChangeSet};
use crate::range::{RangeChunk, RangeLimits, RangeOutcome, verify_and_rebuild};
use crate::store::NodeStore;

/// What [`SyncImporter::import_chunk`] accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkProgress {
    /// Leaves in the chunk.
    pub leaves: usize,
    /// Leaves imported so far, this chunk included.
    pub total_leaves: u64,
    /// Chunks imported so far, this one included.
    pub chunks: u64,
    /// Whether this chunk ended the trie (the import can be finished).
    pub complete: bool,
}

/// What [`SyncImporter::finish`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportStats {
    /// The imported root (the target).
    pub root: H256,
    /// Leaves imported.
    pub leaves: u64,
    /// Chunks imported.
    pub chunks: u64,
    /// What the one apply did (nodes stored, existing nodes counted once more).
    pub apply: ApplyStats,
}

#[derive(Debug)]
enum Phase {
    /// Expecting the chunk starting at this key.
    Expecting(Vec<u8>),
    Complete,
}

/// Imports the trie of a trusted root from range-proved chunks (see the
/// [module docs](self)).
///
/// ```
/// use mpt_refcount::{MemoryStore, NodeStore, SyncImporter, Trie, prove_range};
///
/// // The exporting side.
/// let mut source = MemoryStore::new();
/// let mut trie = Trie::new();
/// for i in 0u16..300 {
///     trie.insert(&source, &i.to_be_bytes(), &[7; 40])?;
/// }
/// let (root, _) = trie.commit_to(&mut source)?;
///
/// // The importing side trusts `root` and nothing else.
/// let mut store = MemoryStore::new();
/// let mut importer = SyncImporter::new(root);
/// while let Some(start) = importer.next_start().map(<[u8]>::to_vec) {
///     let chunk = prove_range(&source, root, &start, 64)?; // over the network
///     importer.import_chunk(&chunk)?;
/// }
/// let stats = importer.finish(&mut store)?;
/// assert_eq!((stats.root, stats.leaves, stats.chunks), (root, 300, 5));
/// assert_eq!(store.nodes(), source.nodes()); // same nodes, same counts
/// # Ok::<(), mpt_refcount::SyncError>(())
/// ```
#[derive(Debug)]
pub struct SyncImporter {
    target: H256,
    limits: RangeLimits,
    phase: Phase,
    /// The nodes of the verified chunks' rebuilds.
    nodes: Nodes,
    leaves: u64,
    chunks: u64,
}

impl SyncImporter {
    /// An importer of `target` with the default [`RangeLimits`] per chunk.
    pub fn new(target: H256) -> Self {
        Self::with_limits(target, RangeLimits::default())
    }

    /// An importer of `target` with explicit limits per chunk.
    pub fn with_limits(target: H256, limits: RangeLimits) -> Self {
        SyncImporter {
            target,
            limits,
            phase: Phase::Expecting(Vec::new()),
            nodes: Nodes::new(),
            leaves: 0,
            chunks: 0,
        }
    }

    /// The root being imported.
    pub fn target(&self) -> H256 {
        self.target
    }

    /// The start key of the chunk the importer needs next; `None` once complete.
    pub fn next_start(&self) -> Option<&[u8]> {
        match &self.phase {
            Phase::Expecting(k) => Some(k),
            Phase::Complete => None,
        }
    }

    /// Whether the chunk ending the trie has been imported.
    pub fn is_complete(&self) -> bool {
        matches!(self.phase, Phase::Complete)
    }

    /// Leaves imported so far.
    pub fn leaves(&self) -> u64 {
        self.leaves
    }

    /// Chunks imported so far.
    pub fn chunks(&self) -> u64 {
        self.chunks
    }

    /// Nodes kept so far, boundary nodes once per chunk (held in memory until
    /// [`SyncImporter::finish`]).
    pub fn nodes_built(&self) -> usize {
        self.nodes.len()
    }

    /// Verifies `chunk` against the target root and takes in its leaves.
    ///
    /// The chunk must start at [`SyncImporter::next_start`]
    /// ([`SyncError::UnexpectedStart`] otherwise: a chunk dropped, reordered or
    /// duplicated) and verify
    /// ([`verify_range_with_limits`](crate::verify_range_with_limits)). On any error the
    /// importer is unchanged and still expects the same chunk.
    pub fn import_chunk(&mut self, chunk: &RangeChunk) -> Result<ChunkProgress, SyncError> {
        let expected = match &self.phase {
            Phase::Expecting(k) => k,
            Phase::Complete => return Err(SyncError::AlreadyComplete),
        };
        if chunk.start != *expected {
            return Err(SyncError::UnexpectedStart {
                expected: expected.clone(),
                found: chunk.start.clone(),
            });
        }
        let (RangeOutcome { more }, nodes) = verify_and_rebuild(self.target, chunk, &self.limits, true)?;
        if more && chunk.leaves.is_empty() {
            // A verified chunk without leaves ends the trie; `more` cannot be set.
            return Err(SyncError::RangeShape { reason: "an empty chunk that is not the last" });
        }
        let total_leaves = self
            .leaves
            .checked_add(chunk.leaves.len() as u64)
            .ok_or(SyncError::OverLimit { what: "leaves imported", value: u64::MAX, limit: u64::MAX })?;
        self.nodes.extend(nodes);
        self.leaves = total_leaves;
        self.chunks += 1;
        self.phase = match chunk.next_start() {
            Some(next) if more => Phase::Expecting(next),
            _ => Phase::Complete,
        };
        Ok(ChunkProgress {
            leaves: chunk.leaves.len(),
            total_leaves,
            chunks: self.chunks,
            complete: self.is_complete(),
        })
    }

    /// Writes the whole trie to `store` in one [`crate::apply`]: every node with its
    /// exact reference count, the root retained once more. Refused, writing nothing, if
    /// the import is not complete ([`SyncError::Incomplete`]) or if the apply fails
    /// (a store error; [`crate::Error::MissingNode`] if the kept nodes did not cover the
    /// trie, which verified chunks always do).
    pub fn finish<S: NodeStore + ?Sized>(self, store: &mut S) -> Result<ImportStats, SyncError> {
        if let Phase::Expecting(next_start) = self.phase {
            return Err(SyncError::Incomplete { next_start });
        }
        let root = self.target;
        let changes = ChangeSet { root, nodes: self.nodes };
        let apply =
            if root == EMPTY_TRIE_ROOT { ApplyStats::default() } else { crate::apply(store, &changes)? };
        Ok(ImportStats { root, leaves: self.leaves, chunks: self.chunks, apply })
    }
}
