//! [`MemoryStorage`]: everything in memory, for tests and simulations.

use std::borrow::Cow;
use std::collections::BTreeMap;

use mpt_refcount::{Error as TrieError, MemoryStore, NodeStore, WriteBatch};
use primitives::H256;

use super::{BlockRecord, Storage, StorageError, check_commit};

/// An in-memory [`Storage`]: an [`mpt_refcount::MemoryStore`] for the trie and ordered
/// maps for the rest. Nothing survives the process; every rule of the trait holds.
#[derive(Clone, Debug, Default)]
pub struct MemoryStorage {
    trie: MemoryStore,
    blocks: BTreeMap<u64, BlockRecord>,
    by_hash: BTreeMap<H256, u64>,
    consensus: Option<Vec<u8>>,
    meta: BTreeMap<String, Vec<u8>>,
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The trie node store (for inspection in tests).
    pub fn trie(&self) -> &MemoryStore {
        &self.trie
    }
}

impl NodeStore for MemoryStorage {
    fn node(&self, hash: &H256) -> Result<Option<Vec<u8>>, TrieError> {
        self.trie.node(hash)
    }
    fn node_ref(&self, hash: &H256) -> Result<Option<Cow<'_, [u8]>>, TrieError> {
        self.trie.node_ref(hash)
    }
    fn refcount(&self, hash: &H256) -> Result<u32, TrieError> {
        self.trie.refcount(hash)
    }
    fn root_count(&self, root: &H256) -> Result<u32, TrieError> {
        self.trie.root_count(root)
    }
    fn roots(&self) -> Result<Vec<H256>, TrieError> {
        self.trie.roots()
    }
    fn write(&mut self, batch: WriteBatch) -> Result<(), TrieError> {
        self.trie.write(batch)
    }
}

impl Storage for MemoryStorage {
    fn commit_block(&mut self, block: BlockRecord, trie: WriteBatch) -> Result<(), StorageError> {
        check_commit(&block, self.block_range()?, self.by_hash.get(&block.hash).copied())?;
        // The trie write is atomic on its own; the maps below cannot fail, so the block
        // lands with its state or (on a trie error) neither does.
        self.trie.write(trie)?;
        self.by_hash.insert(block.hash, block.height);
        self.blocks.insert(block.height, block);
        Ok(())
    }

    fn put_certificate(&mut self, height: u64, certificate: Vec<u8>) -> Result<(), StorageError> {
        let block = self.blocks.get_mut(&height).ok_or(StorageError::NoSuchBlock { height })?;
        let len = block.bytes.len() + certificate.len();
        if len > super::MAX_BLOCK_BYTES {
            return Err(StorageError::TooLarge { what: "block record", len, limit: super::MAX_BLOCK_BYTES });
        }
        block.certificate = Some(certificate);
        Ok(())
    }

    fn block(&self, height: u64) -> Result<Option<BlockRecord>, StorageError> {
        Ok(self.blocks.get(&height).cloned())
    }

    fn height_of(&self, hash: &H256) -> Result<Option<u64>, StorageError> {
        Ok(self.by_hash.get(hash).copied())
    }

    fn block_range(&self) -> Result<Option<(u64, u64)>, StorageError> {
        Ok(self
            .blocks
            .first_key_value()
            .map(|(&lo, _)| lo)
            .zip(self.blocks.last_key_value().map(|(&hi, _)| hi)))
    }

    fn prune_blocks_below(&mut self, height: u64) -> Result<u64, StorageError> {
        let keep = self.blocks.split_off(&height);
        let gone = std::mem::replace(&mut self.blocks, keep);
        for rec in gone.values() {
            self.by_hash.remove(&rec.hash);
        }
        Ok(gone.len() as u64)
    }

    fn persist_consensus(&mut self, state: &[u8]) -> Result<(), StorageError> {
        self.consensus = Some(state.to_vec());
        Ok(())
    }

    fn consensus(&self) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.consensus.clone())
    }

    fn put_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        self.meta.insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.meta.get(key).cloned())
    }
}
