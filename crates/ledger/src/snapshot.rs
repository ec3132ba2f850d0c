//! State sync of a ledger (issue 17, "State sync"): a snapshot of one retained state —
//! typically a finalized checkpoint's — as a stream of bounded records, and its import into
//! an empty store, trusting nothing before it is verified.
//!
//! # Records
//!
//! ```text
//! record 0:  version = 1 ‖ SCALE(chain_id: Vec<u8> (≤ 64 bytes), height: u64, root: [u8; 32])
//! record 1…: the mpt-refcount snapshot of `root` (header, range-proved chunks, end)
//! ```
//!
//! The ledger header names what the snapshot is of; the rest is
//! [`mpt_refcount::SnapshotWriter`]'s stream, every chunk of which carries a range proof
//! against the root. [`SnapshotImport`] takes the **trusted checkpoint** (chain id,
//! height, state root — from a finalized checkpoint the importer trusts) and refuses a
//! header that names anything else, then verifies every chunk against the root, and only
//! on [`SnapshotImport::finish`] writes the state (one atomic apply) and opens a
//! [`Ledger`] on it, checking that the state's own chain id and height agree. A tampered,
//! dropped, reordered or truncated record is a typed error and leaves the store empty.
//!
//! Not here: proofs of the validator- and guardian-set changes from genesis to the
//! checkpoint. They need block headers that bind a state root to a certified block, which
//! belong to the node's block format, not the ledger's; the trusted checkpoint stands in
//! for them.
//!
//! ```
//! use ledger::snapshot::{SnapshotImport, TrustedCheckpoint, export};
//! use ledger::{Genesis, Ledger, LedgerConfig, PruningPolicy};
//! use mpt_refcount::{MemoryStore, SnapshotLimits};
//!
//! let genesis = Genesis::from_json(r#"{"chain_id":"privatenet","accounts":[
//!     {"address":"0x2e833968e5bb786ae419c4d13189fb081cc43bab","theta":"5","tfuel":"7"}]}"#)?;
//! let config = LedgerConfig::theta("privatenet");
//! let policy = PruningPolicy { keep_last: 4 };
//! let source = Ledger::from_genesis(MemoryStore::new(), config.clone(), &genesis, policy)?;
//!
//! let records = export(&source, 0, 1_000, 1 << 20)?.collect::<Result<Vec<_>, _>>()?;
//! let trusted = TrustedCheckpoint { chain_id: "privatenet".into(), height: 0, root: source.root() };
//! let mut import = SnapshotImport::new(trusted, SnapshotLimits::default());
//! for r in &records {
//!     import.push(r)?;
//! }
//! let copy = import.finish(MemoryStore::new(), config, policy)?;
//! assert_eq!(copy.root(), source.root());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use mpt_refcount::{NodeStore, SnapshotLimits, SnapshotReader, SnapshotWriter, SyncError};
use parity_scale_codec::{Decode, Encode};
use primitives::H256;

use crate::config::LedgerConfig;
use crate::error::ExecError;
use crate::ledger::{Ledger, PruningPolicy};

/// The ledger header's format version.
pub const LEDGER_SNAPSHOT_VERSION: u8 = 1;

/// Longest chain id a header may carry.
pub const MAX_CHAIN_ID_BYTES: usize = 64;

/// Longest ledger header record: version, a compact length, the chain id, height, root.
pub const MAX_HEADER_BYTES: usize = 1 + 2 + MAX_CHAIN_ID_BYTES + 8 + 32;

/// What a snapshot is of, as its first record states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// The chain.
    pub chain_id: String,
    /// The height of the state.
    pub height: u64,
    /// The state root.
    pub root: H256,
}

/// The checkpoint an importer trusts (from a finalized checkpoint it verified, or its
/// operator): the snapshot must be of exactly this state.
pub type TrustedCheckpoint = SnapshotHeader;

/// Why a snapshot was not exported or not imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The ledger header record is malformed.
    #[error("ledger snapshot header: {0}")]
    BadHeader(String),
    /// The header names another state than the trusted checkpoint.
    #[error("the snapshot is of {found:?}, not the trusted {trusted:?}")]
    WrongCheckpoint {
        /// What the importer trusts.
        trusted: Box<SnapshotHeader>,
        /// What the header names.
        found: Box<SnapshotHeader>,
    },
    /// The state's own chain id or height disagree with the header.
    #[error("the imported state is of chain {chain_id:?} at height {height}, not the checkpoint's")]
    StateMismatch {
        /// The state's chain id.
        chain_id: String,
        /// The state's height.
        height: u64,
    },
    /// The state of `height` is not retained by the exporting ledger.
    #[error("no retained state at height {height}")]
    NotRetained {
        /// The height asked for.
        height: u64,
    },
    /// A trie record was refused (see [`SyncError`]): tampered, out of order, truncated.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// Opening the ledger on the imported state failed.
    #[error(transparent)]
    Exec(#[from] ExecError),
}

impl SnapshotHeader {
    /// The header record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![LEDGER_SNAPSHOT_VERSION];
        (self.chain_id.as_bytes(), self.height, self.root.to_fixed_bytes()).encode_to(&mut out);
        out
    }

    /// Decodes untrusted header bytes: the version, a chain id of at most
    /// [`MAX_CHAIN_ID_BYTES`] UTF-8 bytes, the height and the root, nothing trailing,
    /// canonical only. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<Self, SnapshotError> {
        let bad = |s: &str| SnapshotError::BadHeader(s.into());
        if bytes.len() > MAX_HEADER_BYTES {
            return Err(bad("too long"));
        }
        let (&version, mut rest) = bytes.split_first().ok_or_else(|| bad("empty"))?;
        if version != LEDGER_SNAPSHOT_VERSION {
            return Err(SnapshotError::BadHeader(format!(
                "version {version}, expected {LEDGER_SNAPSHOT_VERSION}"
            )));
        }
        // The length is bounded by the record limit checked above before anything is read.
        let chain: Vec<u8> = Decode::decode(&mut rest).map_err(|_| bad("chain id"))?;
        if chain.len() > MAX_CHAIN_ID_BYTES {
            return Err(bad("chain id too long"));
        }
        let chain_id = String::from_utf8(chain).map_err(|_| bad("chain id not UTF-8"))?;
        let height = u64::decode(&mut rest).map_err(|_| bad("height"))?;
        let root = <[u8; 32]>::decode(&mut rest).map_err(|_| bad("root"))?;
        if !rest.is_empty() {
            return Err(bad("trailing bytes"));
        }
        let header = SnapshotHeader { chain_id, height, root: H256(root) };
        if header.encode() != bytes {
            return Err(bad("non-canonical"));
        }
        Ok(header)
    }
}

/// The records of the retained state at `height` (see the [module docs](self)): the
/// ledger header, then trie chunks of at most `max_leaves` leaves and `max_bytes` bytes.
/// Keep both within the importer's [`SnapshotLimits`].
pub fn export<S: NodeStore>(
    ledger: &Ledger<S>,
    height: u64,
    max_leaves: usize,
    max_bytes: usize,
) -> Result<impl Iterator<Item = Result<Vec<u8>, SnapshotError>> + '_, SnapshotError> {
    let root = ledger.root_at(height).ok_or(SnapshotError::NotRetained { height })?;
    let header = SnapshotHeader { chain_id: ledger.config().chain_id.clone(), height, root }.encode();
    let trie = SnapshotWriter::new(ledger.store(), root, max_leaves, max_bytes)?;
    Ok(std::iter::once(Ok(header)).chain(trie.map(|r| r.map_err(SnapshotError::from))))
}

/// Imports a snapshot of a trusted checkpoint (see the [module docs](self)).
#[derive(Debug)]
pub struct SnapshotImport {
    trusted: TrustedCheckpoint,
    reader: SnapshotReader,
    header_seen: bool,
    failed: bool,
}

impl SnapshotImport {
    /// An import of `trusted`'s state, with `limits` on the trie records.
    pub fn new(trusted: TrustedCheckpoint, limits: SnapshotLimits) -> Self {
        let reader = SnapshotReader::new(trusted.root, limits);
        SnapshotImport { trusted, reader, header_seen: false, failed: false }
    }

    /// Leaves verified so far (for progress).
    pub fn leaves(&self) -> u64 {
        self.reader.importer().leaves()
    }

    /// Takes the next record. The first must be the ledger header of the trusted
    /// checkpoint; a wrong header fails the import for good, as does a trie record out of
    /// place (a chunk that does not verify can be fetched again, see
    /// [`SnapshotReader::push`]).
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        if self.failed {
            return Err(SnapshotError::Sync(SyncError::Poisoned));
        }
        if !self.header_seen {
            let header = SnapshotHeader::decode(bytes).inspect_err(|_| self.failed = true)?;
            if header != self.trusted {
                self.failed = true;
                return Err(SnapshotError::WrongCheckpoint {
                    trusted: Box::new(self.trusted.clone()),
                    found: Box::new(header),
                });
            }
            self.header_seen = true;
            return Ok(());
        }
        Ok(self.reader.push(bytes)?)
    }

    /// After the last record: writes the verified state into `store` in one apply and
    /// returns its root. Before the end record, or after a failure, nothing is written.
    pub fn write<S: NodeStore + ?Sized>(self, store: &mut S) -> Result<H256, SnapshotError> {
        if self.failed {
            return Err(SnapshotError::Sync(SyncError::Poisoned));
        }
        if !self.header_seen {
            return Err(SnapshotError::Sync(SyncError::Incomplete { next_start: Vec::new() }));
        }
        Ok(self.reader.finish(store)?.root)
    }

    /// [`SnapshotImport::write`] into `store` (empty before), then a [`Ledger`] opened on
    /// the state with `config`, whose chain id, and the state's height, must be the
    /// checkpoint's.
    pub fn finish<S: NodeStore>(
        self,
        mut store: S,
        config: LedgerConfig,
        policy: PruningPolicy,
    ) -> Result<Ledger<S>, SnapshotError> {
        let (chain_id, height) = (self.trusted.chain_id.clone(), self.trusted.height);
        if config.chain_id != chain_id {
            return Err(SnapshotError::StateMismatch { chain_id: config.chain_id, height });
        }
        let root = self.write(&mut store)?;
        let ledger = Ledger::open(store, config, root, policy)?;
        if ledger.height() != height {
            return Err(SnapshotError::StateMismatch {
                chain_id: ledger.config().chain_id.clone(),
                height: ledger.height(),
            });
        }
        Ok(ledger)
    }
}
