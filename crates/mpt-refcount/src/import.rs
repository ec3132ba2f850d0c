//! Verified bulk import of a trie from range-proved chunks.
//!
//! A [`SyncImporter`] is created with the root to import (a root the host already
//! trusts, e.g. from a finalized checkpoint). It takes the chunks in key order, each
//! starting right after the previous one's last leaf ([`RangeChunk::next_start`]; the
//! first at the empty key), verifies each with [`verify_range_with_limits`] before using
//! it, and streams the leaves into a sorted trie builder that records every node. When a
//! chunk proves that no leaf follows it, the import is complete; [`SyncImporter::finish`]
//! checks that the rebuilt root is the target and only then writes: one
//! [`crate::apply`] of a [`ChangeSet`] of all the nodes, in one atomic batch, which
//! stores every node with its exact reference count and retains the root once.
//!
//! Nothing reaches the store before `finish`, and `finish` writes nothing unless it
//! succeeds, so a tampered stream — a chunk changed, dropped, reordered or duplicated, a
//! forged proof, a stream that stops early — is a typed [`SyncError`] and leaves the
//! store exactly as it was. A chunk that fails verification changes nothing in the
//! importer either: the host may fetch it again (from another peer) and go on.

use primitives::{EMPTY_TRIE_ROOT, H256};

use crate::SyncError;
use crate::builder::{Builder, Item};
use crate::changeset::{ApplyStats, ChangeSet};
use crate::codec::to_nibbles;
use crate::range::{RangeChunk, RangeLimits, RangeOutcome, verify_range_with_limits};
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
    Poisoned,
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
    builder: Builder,
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
            builder: Builder::recording(),
            leaves: 0,
            chunks: 0,
        }
    }

    /// The root being imported.
    pub fn target(&self) -> H256 {
        self.target
    }

    /// The start key of the chunk the importer needs next; `None` once complete (or
    /// after an internal failure).
    pub fn next_start(&self) -> Option<&[u8]> {
        match &self.phase {
            Phase::Expecting(k) => Some(k),
            _ => None,
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

    /// Nodes built so far (held in memory until [`SyncImporter::finish`]).
    pub fn nodes_built(&self) -> usize {
        self.builder.recorded()
    }

    /// Verifies `chunk` against the target root and takes in its leaves.
    ///
    /// The chunk must start at [`SyncImporter::next_start`]
    /// ([`SyncError::UnexpectedStart`] otherwise: a chunk dropped, reordered or
    /// duplicated) and verify ([`verify_range_with_limits`]). On any error the importer
    /// is unchanged and still expects the same chunk.
    pub fn import_chunk(&mut self, chunk: &RangeChunk) -> Result<ChunkProgress, SyncError> {
        let expected = match &self.phase {
            Phase::Expecting(k) => k,
            Phase::Complete => return Err(SyncError::AlreadyComplete),
            Phase::Poisoned => return Err(SyncError::Poisoned),
        };
        if chunk.start != *expected {
            return Err(SyncError::UnexpectedStart {
                expected: expected.clone(),
                found: chunk.start.clone(),
            });
        }
        let RangeOutcome { more } = verify_range_with_limits(self.target, chunk, &self.limits)?;
        if more && chunk.leaves.is_empty() {
            // A verified chunk without leaves ends the trie; `more` cannot be set.
            return Err(SyncError::RangeShape { reason: "an empty chunk that is not the last" });
        }
        let total_leaves = self
            .leaves
            .checked_add(chunk.leaves.len() as u64)
            .ok_or(SyncError::OverLimit { what: "leaves imported", value: u64::MAX, limit: u64::MAX })?;
        for (i, (k, v)) in chunk.leaves.iter().enumerate() {
            if let Err(e) = self.builder.push(Item::Leaf { path: to_nibbles(k), value: v.clone() }) {
                // Cannot happen after verification (the keys follow the previous chunk's
                // last leaf); refuse everything from here on rather than guess.
                self.phase = Phase::Poisoned;
                return Err(e.unwrap_or(SyncError::NotIncreasing { index: i }));
            }
        }
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

    /// Checks the rebuilt root against the target and writes the whole trie to `store`
    /// in one [`crate::apply`]: every node with its exact reference count, the root
    /// retained once more. Refused, writing nothing, if the import is not complete
    /// ([`SyncError::Incomplete`]), if the rebuilt root differs
    /// ([`SyncError::RootMismatch`]), or if the apply fails.
    pub fn finish<S: NodeStore + ?Sized>(self, store: &mut S) -> Result<ImportStats, SyncError> {
        match self.phase {
            Phase::Complete => {}
            Phase::Expecting(next_start) => return Err(SyncError::Incomplete { next_start }),
            Phase::Poisoned => return Err(SyncError::Poisoned),
        }
        let (root, nodes) = self.builder.finish()?;
        if root != self.target {
            return Err(SyncError::RootMismatch { expected: self.target, computed: root });
        }
        let changes = ChangeSet { root, nodes };
        let apply =
            if root == EMPTY_TRIE_ROOT { ApplyStats::default() } else { crate::apply(store, &changes)? };
        Ok(ImportStats { root, leaves: self.leaves, chunks: self.chunks, apply })
    }
}
