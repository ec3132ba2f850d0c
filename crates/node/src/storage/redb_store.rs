//! [`RedbStorage`]: the embedded default, one [redb](https://docs.rs/redb) database file
//! per node.
//!
//! redb is a pure-Rust, ACID, copy-on-write B-tree store with one writer and many
//! readers: exactly the node's access pattern (the node loop writes; RPC threads read),
//! it builds in seconds (rocksdb takes 18 minutes cold on two cores), and every commit
//! is durable (`Durability::Immediate`, an fsync) when it returns, which the ordering
//! rules of [`Storage`] rely on.
//!
//! Tables: `trie_nodes` (hash → u32 BE refcount ‖ node bytes), `trie_roots` (hash →
//! retention count), `blocks` (height → [`BlockRecord`] encoding), `block_hashes` (hash
//! → height), `meta` (name → bytes; the consensus state lives under a reserved name).

use std::borrow::Cow;
use std::path::Path;

use mpt_refcount::{Error as TrieError, NodeStore, NodeWrite, WriteBatch};
use primitives::H256;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::{BlockRecord, MAX_BLOCK_BYTES, Storage, StorageError, check_commit};

const NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("trie_nodes");
const ROOTS: TableDefinition<&[u8], u32> = TableDefinition::new("trie_roots");
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const HASHES: TableDefinition<&[u8], u64> = TableDefinition::new("block_hashes");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// The metadata name the consensus state is stored under (user keys cannot collide:
/// [`Storage::put_meta`] refuses names starting with `\0`).
const CONSENSUS_KEY: &str = "\0consensus";

/// A [`Storage`] in one redb database file.
pub struct RedbStorage {
    db: Database,
}

impl std::fmt::Debug for RedbStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStorage").finish_non_exhaustive()
    }
}

fn db_err(e: impl Into<redb::Error>) -> StorageError {
    StorageError::Database(e.into().to_string())
}

fn trie_err(e: impl Into<redb::Error>) -> TrieError {
    TrieError::Store { message: e.into().to_string() }
}

fn corrupt_node() -> TrieError {
    TrieError::Store { message: "corrupt trie node record (shorter than its refcount)".into() }
}

/// Splits a stored node record into its refcount and bytes.
fn split_node(raw: &[u8]) -> Result<(u32, &[u8]), TrieError> {
    if raw.len() < 4 {
        return Err(corrupt_node());
    }
    let (rc, bytes) = raw.split_at(4);
    let mut b = [0u8; 4];
    b.copy_from_slice(rc);
    Ok((u32::from_be_bytes(b), bytes))
}

fn node_record(refcount: u32, bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + bytes.len());
    v.extend_from_slice(&refcount.to_be_bytes());
    v.extend_from_slice(bytes);
    v
}

impl RedbStorage {
    /// Opens the database at `path`, creating it (and its tables) if it does not exist.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StorageError> {
        let db = Database::create(path.as_ref()).map_err(db_err)?;
        let txn = db.begin_write().map_err(db_err)?;
        {
            txn.open_table(NODES).map_err(db_err)?;
            txn.open_table(ROOTS).map_err(db_err)?;
            txn.open_table(BLOCKS).map_err(db_err)?;
            txn.open_table(HASHES).map_err(db_err)?;
            txn.open_table(META).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)?;
        Ok(Self { db })
    }

    /// Writes a trie batch inside `txn`. On error the caller drops the transaction,
    /// which aborts it: nothing of the batch (or of anything else in `txn`) lands.
    fn write_batch(txn: &redb::WriteTransaction, batch: &WriteBatch) -> Result<(), TrieError> {
        let mut nodes = txn.open_table(NODES).map_err(trie_err)?;
        for (hash, w) in &batch.nodes {
            let key = hash.as_bytes();
            match w {
                NodeWrite::Put { refcount: 0, .. } | NodeWrite::SetRefcount(0) => {
                    return Err(TrieError::Inconsistent { hash: *hash, reason: "write of a zero refcount" });
                }
                NodeWrite::Put { bytes, refcount } => {
                    nodes.insert(key, node_record(*refcount, bytes).as_slice()).map_err(trie_err)?;
                }
                NodeWrite::SetRefcount(rc) => {
                    let updated = match nodes.get(key).map_err(trie_err)? {
                        Some(old) => {
                            let (_, bytes) = split_node(old.value())?;
                            node_record(*rc, bytes)
                        }
                        None => {
                            return Err(TrieError::Inconsistent {
                                hash: *hash,
                                reason: "update of an absent node",
                            });
                        }
                    };
                    nodes.insert(key, updated.as_slice()).map_err(trie_err)?;
                }
                NodeWrite::Delete => {
                    if nodes.remove(key).map_err(trie_err)?.is_none() {
                        return Err(TrieError::Inconsistent {
                            hash: *hash,
                            reason: "update of an absent node",
                        });
                    }
                }
            }
        }
        let mut roots = txn.open_table(ROOTS).map_err(trie_err)?;
        for (root, count) in &batch.roots {
            if *count == 0 {
                roots.remove(root.as_bytes()).map_err(trie_err)?;
            } else {
                roots.insert(root.as_bytes(), *count).map_err(trie_err)?;
            }
        }
        Ok(())
    }

    fn read_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(META).map_err(db_err)?;
        Ok(table.get(key).map_err(db_err)?.map(|v| v.value().to_vec()))
    }

    fn write_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        if value.len() > MAX_BLOCK_BYTES {
            return Err(StorageError::TooLarge {
                what: "metadata value",
                len: value.len(),
                limit: MAX_BLOCK_BYTES,
            });
        }
        let txn = self.db.begin_write().map_err(db_err)?;
        txn.open_table(META).map_err(db_err)?.insert(key, value).map_err(db_err)?;
        txn.commit().map_err(db_err)
    }
}

impl NodeStore for RedbStorage {
    fn node(&self, hash: &H256) -> Result<Option<Vec<u8>>, TrieError> {
        let txn = self.db.begin_read().map_err(trie_err)?;
        let table = txn.open_table(NODES).map_err(trie_err)?;
        match table.get(hash.as_bytes()).map_err(trie_err)? {
            Some(v) => Ok(Some(split_node(v.value())?.1.to_vec())),
            None => Ok(None),
        }
    }

    fn node_ref(&self, hash: &H256) -> Result<Option<Cow<'_, [u8]>>, TrieError> {
        Ok(self.node(hash)?.map(Cow::Owned))
    }

    fn refcount(&self, hash: &H256) -> Result<u32, TrieError> {
        let txn = self.db.begin_read().map_err(trie_err)?;
        let table = txn.open_table(NODES).map_err(trie_err)?;
        match table.get(hash.as_bytes()).map_err(trie_err)? {
            Some(v) => Ok(split_node(v.value())?.0),
            None => Ok(0),
        }
    }

    fn root_count(&self, root: &H256) -> Result<u32, TrieError> {
        let txn = self.db.begin_read().map_err(trie_err)?;
        let table = txn.open_table(ROOTS).map_err(trie_err)?;
        Ok(table.get(root.as_bytes()).map_err(trie_err)?.map_or(0, |v| v.value()))
    }

    fn roots(&self) -> Result<Vec<H256>, TrieError> {
        let txn = self.db.begin_read().map_err(trie_err)?;
        let table = txn.open_table(ROOTS).map_err(trie_err)?;
        let mut out = Vec::with_capacity(usize::try_from(table.len().map_err(trie_err)?).unwrap_or(0));
        for entry in table.iter().map_err(trie_err)? {
            let (k, _) = entry.map_err(trie_err)?;
            let k = k.value();
            if k.len() != 32 {
                return Err(TrieError::Store { message: "corrupt root key".into() });
            }
            out.push(H256::from_slice(k));
        }
        Ok(out)
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), TrieError> {
        let txn = self.db.begin_write().map_err(trie_err)?;
        Self::write_batch(&txn, &batch)?;
        txn.commit().map_err(trie_err)
    }
}

impl Storage for RedbStorage {
    fn commit_block(&mut self, block: BlockRecord, trie: WriteBatch) -> Result<(), StorageError> {
        check_commit(&block, self.block_range()?, self.height_of(&block.hash)?)?;
        let txn = self.db.begin_write().map_err(db_err)?;
        Self::write_batch(&txn, &trie)?;
        {
            let mut blocks = txn.open_table(BLOCKS).map_err(db_err)?;
            blocks.insert(block.height, block.encode().as_slice()).map_err(db_err)?;
            let mut hashes = txn.open_table(HASHES).map_err(db_err)?;
            hashes.insert(block.hash.as_bytes(), block.height).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)
    }

    fn put_certificate(&mut self, height: u64, certificate: Vec<u8>) -> Result<(), StorageError> {
        let mut block = self.block(height)?.ok_or(StorageError::NoSuchBlock { height })?;
        let len = block.bytes.len() + certificate.len();
        if len > MAX_BLOCK_BYTES {
            return Err(StorageError::TooLarge { what: "block record", len, limit: MAX_BLOCK_BYTES });
        }
        block.certificate = Some(certificate);
        let txn = self.db.begin_write().map_err(db_err)?;
        txn.open_table(BLOCKS).map_err(db_err)?.insert(height, block.encode().as_slice()).map_err(db_err)?;
        txn.commit().map_err(db_err)
    }

    fn block(&self, height: u64) -> Result<Option<BlockRecord>, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(BLOCKS).map_err(db_err)?;
        match table.get(height).map_err(db_err)? {
            Some(v) => Ok(Some(BlockRecord::decode(height, v.value())?)),
            None => Ok(None),
        }
    }

    fn height_of(&self, hash: &H256) -> Result<Option<u64>, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(HASHES).map_err(db_err)?;
        Ok(table.get(hash.as_bytes()).map_err(db_err)?.map(|v| v.value()))
    }

    fn block_range(&self) -> Result<Option<(u64, u64)>, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(BLOCKS).map_err(db_err)?;
        let lo = table.first().map_err(db_err)?.map(|(k, _)| k.value());
        let hi = table.last().map_err(db_err)?.map(|(k, _)| k.value());
        Ok(lo.zip(hi))
    }

    fn prune_blocks_below(&mut self, height: u64) -> Result<u64, StorageError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let mut removed = 0u64;
        {
            let mut blocks = txn.open_table(BLOCKS).map_err(db_err)?;
            let mut hashes = txn.open_table(HASHES).map_err(db_err)?;
            let doomed: Vec<(u64, H256)> = {
                let mut v = Vec::new();
                for entry in blocks.range(..height).map_err(db_err)? {
                    let (k, val) = entry.map_err(db_err)?;
                    let rec = BlockRecord::decode(k.value(), val.value())?;
                    v.push((rec.height, rec.hash));
                }
                v
            };
            for (h, hash) in doomed {
                blocks.remove(h).map_err(db_err)?;
                hashes.remove(hash.as_bytes()).map_err(db_err)?;
                removed += 1;
            }
        }
        txn.commit().map_err(db_err)?;
        Ok(removed)
    }

    fn persist_consensus(&mut self, state: &[u8]) -> Result<(), StorageError> {
        self.write_meta(CONSENSUS_KEY, state)
    }

    fn consensus(&self) -> Result<Option<Vec<u8>>, StorageError> {
        self.read_meta(CONSENSUS_KEY)
    }

    fn put_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        if key.starts_with('\0') {
            return Err(StorageError::Corrupt {
                what: "metadata key",
                reason: "names starting with NUL are reserved",
            });
        }
        self.write_meta(key, value)
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.read_meta(key)
    }
}
