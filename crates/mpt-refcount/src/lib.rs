//! An Ethereum Merkle Patricia trie with reference-counted pruning (DESIGN.md §4.1).
//!
//! # Model
//!
//! * **Trie** ([`Trie`], [`SecureTrie`]): byte-for-byte the Ethereum MPT — hex-prefix
//!   paths, leaf / extension / branch nodes in RLP, nodes under 32 bytes inlined in their
//!   parent, keccak256 hashes, empty root
//!   `0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421`. The secure
//!   view keys by keccak256(key). Updates happen in memory; only what changed is hashed.
//! * **Store** ([`NodeStore`], [`MemoryStore`]): node bytes by hash, each with a
//!   reference count (stored parents + the times it is retained as a root), and the
//!   retained roots as a multiset: each root with its number of owners (two tries may
//!   commit the same root; each owner's `apply` and `prune` counts once). Writes arrive
//!   as one [`WriteBatch`] that the store applies atomically.
//! * **Changeset** ([`ChangeSet`]): what a commit created. [`apply`] stores new nodes and
//!   increments the existing nodes they reference; [`prune`] decrements a root and deletes
//!   recursively only what reaches zero — cost proportional to the nodes unique to that
//!   root and their surviving children, O(k log n) for k changed keys (not O(n); see
//!   `docs/mpt-refcount.md` for how the log n term shows). A [`Bookkeeper`] runs both
//!   with scratch buffers kept between calls.
//! * **Retention** ([`Retention`]): keep the last N roots plus pinned roots (finalized
//!   checkpoints), prune the rest.
//! * **Proofs** ([`verify_proof`], [`verify_secure_proof`], [`Trie::prove`]): inclusion
//!   and exclusion against a root; verification treats the proof as hostile.
//! * **State sync** ([`iter_from`], [`prove_range`], [`verify_range`], [`SyncImporter`],
//!   [`SnapshotWriter`], [`SnapshotReader`]): the leaves of a stored root in key order from
//!   any key; chunks of consecutive leaves with range proofs that they are exactly the
//!   trie's leaves in their key range; a bulk import that verifies every chunk against a
//!   trusted root and writes the whole trie in one atomic apply only once its rebuilt
//!   root matches, so a tampered stream leaves the store unchanged; and a bounded record
//!   format (header, chunks, end) with a limit-checked decoder. See [`range`],
//!   [`import`] and [`snapshot`].
//!
//! # Call order
//!
//! `insert`/`delete`/`get` (any number) → [`Trie::commit_to`] (commit and apply) or
//! [`Retention::commit_trie`] → later [`prune`] of roots no longer needed. Both mark a
//! changeset whose apply failed as unapplied themselves, so the trie's next commit
//! emits those nodes again. With the two-step [`Trie::commit`] → [`apply`] (or
//! [`Retention::commit`]), changesets of one trie are applied in commit order, and a
//! failed apply must be handed back with [`Trie::mark_unapplied`].
//!
//! # Bounds
//!
//! Keys are at most [`MAX_KEY_BYTES`] (64) bytes and values at most [`MAX_VALUE_BYTES`]
//! bytes; longer ones are [`Error::KeyTooLong`] / [`Error::ValueTooLarge`] and change
//! nothing. The value bound keeps every node the trie creates within
//! [`codec::MAX_NODE_BYTES`], the limit every reader enforces; the key bound keeps the
//! per-node recursion of updates, hashing, iteration and drop at most 129 levels deep.
//!
//! # Invariants (property-tested against a `BTreeMap` model)
//!
//! * Every retained root reads back exactly the map it was committed with.
//! * The store holds exactly the nodes reachable from retained roots, each with a count
//!   equal to its number of stored parents plus the number of times it is retained.
//! * `apply` and `prune` are counted: each apply of a root is one more owner, each prune
//!   releases one, and a root's nodes go only with its last owner. `prune` of a root not
//!   retained does nothing. With an atomic store an interrupted apply or prune changes
//!   nothing. No operation deletes a live node.
//! * Updates are all or nothing: `insert` or `delete` that returns an error (a bound, a
//!   store read that fails) leaves the trie unchanged; a refused `apply` or `prune`
//!   leaves the store unchanged.
//!
//! # Example
//!
//! ```
//! use mpt_refcount::{MemoryStore, Retention, Trie};
//!
//! let mut store = MemoryStore::new();
//! let mut policy = Retention::new(1); // keep only the latest state
//! let mut trie = Trie::new();
//!
//! trie.insert(&store, b"doe", b"reindeer")?;
//! trie.insert(&store, b"dog", b"puppy")?;
//! trie.insert(&store, b"dogglesworth", b"cat")?;
//! let first = trie.commit();
//! assert_eq!(
//!     format!("{:x}", first.root()),
//!     "8aad789dff2f538bca5d8ea56e8abe10f4c7ba3a5dea95fea4cd6e7c3a1168d3"
//! );
//! policy.commit(&mut store, &first)?;
//!
//! trie.insert(&store, b"dog", b"hound")?;
//! let second = trie.commit();
//! let pruned = policy.commit(&mut store, &second)?; // the first root goes
//! assert_eq!(pruned.len(), 1);
//!
//! let reopened = Trie::from_root(second.root());
//! assert_eq!(reopened.get(&store, b"dog")?, Some(b"hound".to_vec()));
//! assert_eq!(reopened.get(&store, b"doe")?, Some(b"reindeer".to_vec()));
//! # Ok::<(), mpt_refcount::Error>(())
//! ```
#![forbid(unsafe_code)]

mod builder;
pub mod changeset;
pub mod codec;
mod error;
mod hashmap;
pub mod import;
pub mod iter;
pub mod proof;
pub mod range;
pub mod retention;
mod secure;
pub mod snapshot;
pub mod store;
pub mod synthetic;
mod trie;

pub use changeset::{ApplyStats, Bookkeeper, ChangeSet, PruneStats, apply, prune};
pub use error::{Error, SyncError};
pub use import::{ChunkProgress, ImportStats, SyncImporter};
pub use iter::{LeafIter, iter_from, key_after};
pub use primitives::{EMPTY_TRIE_ROOT, H256};
pub use proof::{ProofLimits, generate_proof, verify_proof, verify_proof_with_limits, verify_secure_proof};
pub use range::{RangeChunk, RangeLimits, RangeOutcome, prove_range, verify_range, verify_range_with_limits};
pub use retention::Retention;
pub use secure::SecureTrie;
pub use snapshot::{
    Record, SNAPSHOT_VERSION, SnapshotLimits, SnapshotReader, SnapshotWriter, decode_record, encode_record,
};
pub use store::{MemoryStore, NodeStore, NodeWrite, WriteBatch};
pub use trie::{Hashing, KeyValue, MAX_KEY_BYTES, MAX_VALUE_BYTES, PARALLEL_THRESHOLD, Trie};
