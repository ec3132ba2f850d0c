//! What a node keeps: the state trie's nodes with their reference counts, settled
//! blocks with their certificates, the consensus machine's persisted state, and small
//! metadata (genesis, finalized height).
//!
//! [`Storage`] is the one trait the node loop writes through; it extends
//! [`mpt_refcount::NodeStore`] so the ledger's trie reads and prunes go straight to it.
//! Two implementations ship: [`MemoryStorage`] (tests, simulations) and [`RedbStorage`]
//! (the embedded default: one redb database file per node).
//!
//! # Crash-safe ordering
//!
//! * [`Storage::commit_block`] writes a block, its certificate and the trie batch of its
//!   state in **one transaction**: after a crash either the block and its state are both
//!   there or neither is.
//! * [`Storage::persist_consensus`] is **durable when it returns**. The node calls it for
//!   every `Persist` output of the consensus machine and only then sends the vote or
//!   proposal that follows it, so a restarted validator never signs a message that
//!   conflicts with one it already sent.
//! * Every write either lands whole or returns an error and changes nothing (a bad trie
//!   batch aborts the whole transaction), as [`mpt_refcount::NodeStore`]'s contract asks.

mod buffered;
mod memory;
mod overlay;
mod redb_store;
mod staged;

pub use buffered::Buffered;
pub use memory::MemoryStorage;
pub use redb_store::RedbStorage;
pub use staged::Staged;

use mpt_refcount::{NodeStore, WriteBatch};
use primitives::H256;

/// A settled block as the node stores it: the consensus crate's encoding of the block
/// (opaque here), its hash and state root, and the certificate that settled it once
/// known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockRecord {
    /// Block height.
    pub height: u64,
    /// Block hash (as the consensus crate computes it).
    pub hash: H256,
    /// Root of the state after executing the block.
    pub state_root: H256,
    /// The encoded block.
    pub bytes: Vec<u8>,
    /// The encoded commit certificate, if the block is certified yet.
    pub certificate: Option<Vec<u8>>,
}

impl BlockRecord {
    /// The record's storage encoding: hash ‖ state root ‖ u32 BE length ‖ block bytes ‖
    /// certificate flag ‖ (u32 BE length ‖ certificate bytes). Lengths are checked against
    /// [`MAX_BLOCK_BYTES`] before anything is encoded.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let cert = self.certificate.as_deref();
        let mut out = Vec::with_capacity(64 + 9 + self.bytes.len() + cert.map_or(0, <[u8]>::len));
        out.extend_from_slice(self.hash.as_bytes());
        out.extend_from_slice(self.state_root.as_bytes());
        push_len(&mut out, self.bytes.len());
        out.extend_from_slice(&self.bytes);
        match cert {
            Some(c) => {
                out.push(1);
                push_len(&mut out, c.len());
                out.extend_from_slice(c);
            }
            None => out.push(0),
        }
        out
    }

    /// Decodes [`BlockRecord::encode`]'s output for `height`; anything but an exact
    /// encoding is [`StorageError::Corrupt`].
    pub(crate) fn decode(height: u64, raw: &[u8]) -> Result<Self, StorageError> {
        let corrupt = |reason: &'static str| StorageError::Corrupt { what: "block record", reason };
        let mut rest = raw;
        let mut take = |n: usize| -> Result<&[u8], StorageError> {
            if rest.len() < n {
                return Err(corrupt("truncated"));
            }
            let (head, tail) = rest.split_at(n);
            rest = tail;
            Ok(head)
        };
        let hash = H256::from_slice(take(32)?);
        let state_root = H256::from_slice(take(32)?);
        let len = read_len(take(4)?)?;
        let bytes = take(len)?.to_vec();
        let certificate = match take(1)?[0] {
            0 => None,
            1 => {
                let len = read_len(take(4)?)?;
                Some(take(len)?.to_vec())
            }
            _ => return Err(corrupt("bad certificate flag")),
        };
        if !rest.is_empty() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(Self { height, hash, state_root, bytes, certificate })
    }
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    // Callers bound every length by MAX_BLOCK_BYTES (64 MiB), far below u32::MAX.
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
}

fn read_len(raw: &[u8]) -> Result<usize, StorageError> {
    let mut len = [0u8; 4];
    len.copy_from_slice(raw);
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_BLOCK_BYTES {
        return Err(StorageError::Corrupt { what: "block record", reason: "length above the limit" });
    }
    Ok(len)
}

/// Why a storage operation failed. Nothing was changed when one is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The backing database failed (I/O, corruption it detected, a full disk).
    #[error("database: {0}")]
    Database(String),
    /// A stored value does not decode: the file was damaged or written by something else.
    #[error("corrupt {what}: {reason}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The trie batch of a block commit broke the node store's rules (the trie's own
    /// typed error).
    #[error("trie batch rejected: {0}")]
    Trie(#[from] mpt_refcount::Error),
    /// A block was committed out of order: the store holds blocks `..=tip` and the next
    /// one must be `tip + 1` (or any height into an empty store, for state sync).
    #[error("block {height} does not follow the stored tip {tip:?}")]
    OutOfOrder {
        /// Height of the rejected block.
        height: u64,
        /// The stored tip.
        tip: Option<u64>,
    },
    /// A block with this hash is already stored at another height.
    #[error("block hash {hash:?} already stored at height {height}")]
    DuplicateHash {
        /// The hash.
        hash: H256,
        /// Where it is stored.
        height: u64,
    },
    /// A certificate was attached to a block the store does not hold.
    #[error("no block at height {height}")]
    NoSuchBlock {
        /// The height asked for.
        height: u64,
    },
    /// A block or value is larger than the store accepts.
    #[error("{what} of {len} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        len: usize,
        /// The limit.
        limit: usize,
    },
}

/// Largest block record (block plus certificate) the stores accept: 64 MiB.
pub const MAX_BLOCK_BYTES: usize = 64 << 20;

/// The node's storage: a [`NodeStore`] for the state trie, plus blocks, certificates,
/// the consensus machine's persisted state and metadata. See the module docs for the
/// ordering guarantees every implementation keeps.
pub trait Storage: NodeStore + Send {
    /// Stores a settled block and the trie batch of its state in one transaction. The
    /// block must be the next after the stored tip (any height into a store without
    /// blocks, which is how a node that state-synced starts).
    fn commit_block(&mut self, block: BlockRecord, trie: WriteBatch) -> Result<(), StorageError>;
    /// Attaches (or replaces) the certificate of a stored block.
    fn put_certificate(&mut self, height: u64, certificate: Vec<u8>) -> Result<(), StorageError>;
    /// The block stored at `height`.
    fn block(&self, height: u64) -> Result<Option<BlockRecord>, StorageError>;
    /// The height of the stored block with this hash.
    fn height_of(&self, hash: &H256) -> Result<Option<u64>, StorageError>;
    /// Lowest and highest stored block heights (`None` when no block is stored).
    fn block_range(&self) -> Result<Option<(u64, u64)>, StorageError>;
    /// Deletes the stored blocks below `height` (history pruning). Returns how many.
    fn prune_blocks_below(&mut self, height: u64) -> Result<u64, StorageError>;
    /// Replaces the consensus machine's persisted state; durable when it returns.
    fn persist_consensus(&mut self, state: &[u8]) -> Result<(), StorageError>;
    /// The last persisted consensus state.
    fn consensus(&self) -> Result<Option<Vec<u8>>, StorageError>;
    /// Stores a metadata value (genesis hash, finalized height, …); durable when it returns.
    fn put_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StorageError>;
    /// A metadata value.
    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError>;
}

/// Checks the order rule of [`Storage::commit_block`] and the size limit.
pub(crate) fn check_commit(
    block: &BlockRecord,
    range: Option<(u64, u64)>,
    existing: Option<u64>,
) -> Result<(), StorageError> {
    let len = block.bytes.len() + block.certificate.as_ref().map_or(0, Vec::len);
    if len > MAX_BLOCK_BYTES {
        return Err(StorageError::TooLarge { what: "block record", len, limit: MAX_BLOCK_BYTES });
    }
    if let Some((_, tip)) = range
        && tip.checked_add(1) != Some(block.height)
    {
        return Err(StorageError::OutOfOrder { height: block.height, tip: Some(tip) });
    }
    if let Some(height) = existing {
        return Err(StorageError::DuplicateHash { hash: block.hash, height });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_record_round_trips_and_rejects_damage() {
        let rec = BlockRecord {
            height: 9,
            hash: H256::repeat_byte(1),
            state_root: H256::repeat_byte(2),
            bytes: vec![5, 6, 7],
            certificate: Some(vec![8, 9]),
        };
        let raw = rec.encode();
        assert_eq!(BlockRecord::decode(9, &raw).unwrap(), rec);
        let bare = BlockRecord { certificate: None, ..rec.clone() };
        assert_eq!(BlockRecord::decode(9, &bare.encode()).unwrap(), bare);
        for cut in 0..raw.len() {
            assert!(BlockRecord::decode(9, &raw[..cut]).is_err(), "truncated at {cut}");
        }
        let mut trailing = bare.encode();
        trailing.push(0);
        assert!(BlockRecord::decode(9, &trailing).is_err());
        let mut flag = bare.encode();
        *flag.last_mut().unwrap() = 7;
        assert!(BlockRecord::decode(9, &flag).is_err());
    }
}
