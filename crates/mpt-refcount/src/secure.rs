//! The secure view: the same trie, keyed by keccak256 of the key (Ethereum's state and
//! storage tries).

use std::ops::ControlFlow;

use primitives::{H256, keccak256};

use crate::Error;
use crate::changeset::ChangeSet;
use crate::store::NodeStore;
use crate::trie::{Hashing, Trie};

/// A [`Trie`] whose keys are hashed with keccak256 before use.
///
/// Keys are spread uniformly, so paths stay short (about log16 n) whatever the key
/// distribution. Iteration yields the hashed keys (the trie does not keep preimages).
#[derive(Debug, Clone, Default)]
pub struct SecureTrie {
    inner: Trie,
}

impl SecureTrie {
    /// An empty secure trie.
    pub fn new() -> Self {
        Self::default()
    }

    /// The secure trie whose root is `root`, read lazily from the store.
    pub fn from_root(root: H256) -> Self {
        SecureTrie { inner: Trie::from_root(root) }
    }

    /// The underlying trie (keys are the keccak256 of the caller's keys).
    pub fn inner(&self) -> &Trie {
        &self.inner
    }

    /// The value under `key`.
    pub fn get<S: NodeStore + ?Sized>(&self, store: &S, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        self.inner.get(store, keccak256(key).as_bytes())
    }

    /// Sets `key` to `value`; an empty `value` deletes the key.
    pub fn insert<S: NodeStore + ?Sized>(
        &mut self,
        store: &S,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), Error> {
        self.inner.insert(store, keccak256(key).as_bytes(), value)
    }

    /// Removes `key`. Returns whether it was present.
    pub fn delete<S: NodeStore + ?Sized>(&mut self, store: &S, key: &[u8]) -> Result<bool, Error> {
        self.inner.delete(store, keccak256(key).as_bytes())
    }

    /// The root hash.
    pub fn root_hash(&mut self) -> H256 {
        self.inner.root_hash()
    }

    /// Commits; see [`Trie::commit`].
    pub fn commit(&mut self) -> ChangeSet {
        self.inner.commit()
    }

    /// Commits with an explicit hashing strategy; see [`Trie::commit_with`].
    pub fn commit_with(&mut self, hashing: Hashing) -> ChangeSet {
        self.inner.commit_with(hashing)
    }

    /// Commits and applies, marking the changeset unapplied if the apply fails; see
    /// [`Trie::commit_to`].
    pub fn commit_to<S: NodeStore + ?Sized>(
        &mut self,
        store: &mut S,
    ) -> Result<(H256, crate::ApplyStats), Error> {
        self.inner.commit_to(store)
    }

    /// Marks a changeset that was not applied; see [`Trie::mark_unapplied`].
    pub fn mark_unapplied(&mut self, changes: &ChangeSet) {
        self.inner.mark_unapplied(changes)
    }

    /// A proof for `key`, to check with [`verify_secure_proof`](crate::verify_secure_proof).
    pub fn prove<S: NodeStore + ?Sized>(&mut self, store: &S, key: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
        self.inner.prove(store, keccak256(key).as_bytes())
    }

    /// Calls `f` with every `(keccak256(key), value)` in ascending hashed-key order.
    pub fn visit<S: NodeStore + ?Sized>(
        &self,
        store: &S,
        f: impl FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        self.inner.visit(store, f)
    }
}
