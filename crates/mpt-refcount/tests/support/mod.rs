//! A store that fails on a chosen call, for all-or-nothing tests.
#![allow(dead_code)]

use std::borrow::Cow;
use std::cell::Cell;

use mpt_refcount::{Error, H256, MemoryStore, NodeStore, WriteBatch};

/// Wraps a [`MemoryStore`]; once armed with `fail_at(k)`, the k-th call (0-based) to any
/// store method from then on fails with [`Error::Store`], and later calls succeed again.
#[derive(Debug, Default, Clone)]
pub struct FailingStore {
    pub inner: MemoryStore,
    /// Calls left before the failing one; `None` when disarmed.
    countdown: Cell<Option<usize>>,
    /// Calls seen since the store was last armed.
    pub calls: Cell<usize>,
}

impl FailingStore {
    pub fn new(inner: MemoryStore) -> Self {
        FailingStore { inner, countdown: Cell::new(None), calls: Cell::new(0) }
    }

    /// The `k`-th call from now fails.
    pub fn fail_at(&self, k: usize) {
        self.countdown.set(Some(k));
        self.calls.set(0);
    }

    /// No call fails.
    pub fn disarm(&self) {
        self.countdown.set(None);
    }

    /// Whether the armed failure has not happened yet.
    pub fn armed(&self) -> bool {
        self.countdown.get().is_some()
    }

    fn tick(&self) -> Result<(), Error> {
        self.calls.set(self.calls.get() + 1);
        match self.countdown.get() {
            Some(0) => {
                self.countdown.set(None);
                Err(Error::Store { message: "injected failure".into() })
            }
            Some(n) => {
                self.countdown.set(Some(n - 1));
                Ok(())
            }
            None => Ok(()),
        }
    }
}

impl NodeStore for FailingStore {
    fn node(&self, hash: &H256) -> Result<Option<Vec<u8>>, Error> {
        self.tick()?;
        self.inner.node(hash)
    }
    fn node_ref(&self, hash: &H256) -> Result<Option<Cow<'_, [u8]>>, Error> {
        self.tick()?;
        self.inner.node_ref(hash)
    }
    fn refcount(&self, hash: &H256) -> Result<u32, Error> {
        self.tick()?;
        self.inner.refcount(hash)
    }
    fn root_count(&self, root: &H256) -> Result<u32, Error> {
        self.tick()?;
        self.inner.root_count(root)
    }
    fn roots(&self) -> Result<Vec<H256>, Error> {
        self.tick()?;
        self.inner.roots()
    }
    fn write(&mut self, batch: WriteBatch) -> Result<(), Error> {
        self.tick()?;
        self.inner.write(batch)
    }
}
