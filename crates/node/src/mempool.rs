//! The mempool: transactions waiting for a block, with size limits, per-account sequence
//! order and fee priority.
//!
//! The pool does not judge transactions itself: the caller checks a transaction against
//! the latest settled state (signature, sequence not yet used, fee, balance — the
//! ledger's `check_tx`) and inserts its [`TxMeta`]. The pool keeps, per sender, the
//! transactions by sequence number, and builds a block by repeatedly taking the
//! highest-fee transaction among each sender's next executable one, so a block never
//! holds a sender's sequence `s + 1` without `s`.
//!
//! Limits: at most [`MempoolConfig::max_txs`] transactions and
//! [`MempoolConfig::max_bytes`] bytes in all, and [`MempoolConfig::max_per_sender`] per
//! sender. A full pool evicts its lowest-fee transaction that is last in its sender's
//! queue (never a gap-maker) for a new one paying more, and refuses it otherwise. A
//! transaction with the sequence of a waiting one replaces it only when it pays at least
//! [`MempoolConfig::replace_bump_percent`] more.

use std::collections::{BTreeMap, BTreeSet};

use primitives::{Address, H256, U256};

/// What the pool needs to know about a checked transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxMeta {
    /// Transaction hash (identity in the pool).
    pub hash: H256,
    /// The account whose sequence it uses.
    pub sender: Address,
    /// Its sequence number.
    pub sequence: u64,
    /// The fee it pays (TFUEL wei); the priority.
    pub fee: U256,
    /// Its encoded size in bytes.
    pub size: usize,
}

/// Pool limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MempoolConfig {
    /// Most transactions held.
    pub max_txs: usize,
    /// Most bytes held (sum of [`TxMeta::size`]).
    pub max_bytes: usize,
    /// Most transactions held per sender.
    pub max_per_sender: usize,
    /// Largest single transaction.
    pub max_tx_bytes: usize,
    /// How much more (percent) a replacement must pay than the transaction it replaces.
    pub replace_bump_percent: u32,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        Self {
            max_txs: 50_000,
            max_bytes: 64 << 20,
            max_per_sender: 256,
            max_tx_bytes: 128 << 10,
            replace_bump_percent: 10,
        }
    }
}

/// Why the pool refused a transaction.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MempoolError {
    /// The same transaction is already waiting.
    #[error("transaction {0:?} is already in the pool")]
    Duplicate(H256),
    /// Its sequence is below the sender's next one: already used.
    #[error("sequence {sequence} already used (next is {next})")]
    StaleSequence {
        /// The transaction's sequence.
        sequence: u64,
        /// The sender's next sequence.
        next: u64,
    },
    /// Its sequence is too far ahead of the sender's next one.
    #[error("sequence {sequence} too far ahead of the next {next}")]
    SequenceGap {
        /// The transaction's sequence.
        sequence: u64,
        /// The sender's next sequence.
        next: u64,
    },
    /// A transaction with this sequence waits and the new one does not pay enough more.
    #[error("replacement must pay at least {required} (pays {offered})")]
    ReplacementUnderpriced {
        /// The least fee that would replace.
        required: U256,
        /// The fee offered.
        offered: U256,
    },
    /// The sender already has the most transactions waiting.
    #[error("sender has {0} transactions waiting, the limit")]
    SenderFull(usize),
    /// The transaction is larger than the pool accepts.
    #[error("transaction of {size} bytes over the limit {limit}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The pool is full and the transaction does not pay more than what it would evict.
    #[error("mempool full")]
    Full,
}

/// The pool. See the module docs.
#[derive(Clone, Debug, Default)]
pub struct Mempool {
    config: MempoolConfig,
    by_sender: BTreeMap<Address, BTreeMap<u64, TxMeta>>,
    by_hash: BTreeMap<H256, (Address, u64)>,
    /// (fee, hash) of every transaction that is last in its sender's queue: the eviction
    /// candidates (evicting one never leaves a gap).
    tails: BTreeSet<(U256, H256)>,
    bytes: usize,
}

impl Mempool {
    /// An empty pool.
    pub fn new(config: MempoolConfig) -> Self {
        Self { config, ..Self::default() }
    }

    /// Transactions waiting.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// Bytes waiting.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether `hash` waits.
    pub fn contains(&self, hash: &H256) -> bool {
        self.by_hash.contains_key(hash)
    }

    fn tail_of(&self, sender: &Address) -> Option<&TxMeta> {
        self.by_sender.get(sender).and_then(|q| q.values().next_back())
    }

    fn remove_entry(&mut self, sender: Address, sequence: u64) -> Option<TxMeta> {
        let was_tail = self.tail_of(&sender).map(|t| t.sequence) == Some(sequence);
        let q = self.by_sender.get_mut(&sender)?;
        let tx = q.remove(&sequence)?;
        if q.is_empty() {
            self.by_sender.remove(&sender);
        }
        self.by_hash.remove(&tx.hash);
        self.bytes -= tx.size;
        if was_tail {
            self.tails.remove(&(tx.fee, tx.hash));
            if let Some(t) = self.tail_of(&sender) {
                let key = (t.fee, t.hash);
                self.tails.insert(key);
            }
        }
        Some(tx)
    }

    fn insert_entry(&mut self, tx: TxMeta) {
        if let Some(t) = self.tail_of(&tx.sender)
            && t.sequence < tx.sequence
        {
            let key = (t.fee, t.hash);
            self.tails.remove(&key);
        }
        let becomes_tail = self.tail_of(&tx.sender).is_none_or(|t| t.sequence < tx.sequence);
        if becomes_tail {
            self.tails.insert((tx.fee, tx.hash));
        }
        self.bytes += tx.size;
        self.by_hash.insert(tx.hash, (tx.sender, tx.sequence));
        self.by_sender.entry(tx.sender).or_default().insert(tx.sequence, tx);
    }

    /// Inserts a checked transaction; `next_sequence` is the sender's next sequence in
    /// the latest settled state. Returns the transactions it evicted or replaced.
    pub fn insert(&mut self, tx: TxMeta, next_sequence: u64) -> Result<Vec<TxMeta>, MempoolError> {
        if tx.size > self.config.max_tx_bytes {
            return Err(MempoolError::TooLarge { size: tx.size, limit: self.config.max_tx_bytes });
        }
        if self.by_hash.contains_key(&tx.hash) {
            return Err(MempoolError::Duplicate(tx.hash));
        }
        if tx.sequence < next_sequence {
            return Err(MempoolError::StaleSequence { sequence: tx.sequence, next: next_sequence });
        }
        let queue = self.by_sender.get(&tx.sender);
        let waiting = queue.map_or(0, BTreeMap::len);
        // Sequences must be contiguous from `next_sequence`: the new one may fill the
        // slot right after the sender's queue (or replace a waiting one).
        let first_free = queue
            .map(|q| {
                let mut s = next_sequence;
                while q.contains_key(&s) {
                    s += 1;
                }
                s
            })
            .unwrap_or(next_sequence);
        if tx.sequence > first_free {
            return Err(MempoolError::SequenceGap { sequence: tx.sequence, next: first_free });
        }
        let mut removed = Vec::new();
        if let Some(old) = queue.and_then(|q| q.get(&tx.sequence)) {
            let bump =
                old.fee.saturating_mul(U256::from(self.config.replace_bump_percent)) / U256::from(100u8);
            let required = old.fee.saturating_add(bump.max(U256::one()));
            if tx.fee < required {
                return Err(MempoolError::ReplacementUnderpriced { required, offered: tx.fee });
            }
            let (sender, seq) = (old.sender, old.sequence);
            removed.extend(self.remove_entry(sender, seq));
        } else if waiting >= self.config.max_per_sender {
            return Err(MempoolError::SenderFull(waiting));
        }
        // Make room, evicting the cheapest tails while the newcomer pays more.
        while self.by_hash.len() + 1 > self.config.max_txs || self.bytes + tx.size > self.config.max_bytes {
            // Never the newcomer's own sender: evicting its tail would leave a gap.
            let candidate =
                self.tails.iter().find(|(_, h)| self.by_hash.get(h).is_some_and(|(s, _)| *s != tx.sender));
            let Some(&(fee, hash)) = candidate else {
                for r in removed.drain(..) {
                    self.insert_entry(r);
                }
                return Err(MempoolError::Full);
            };
            if fee >= tx.fee {
                // Put back what a replacement removed: a refusal changes nothing.
                for r in removed.drain(..) {
                    self.insert_entry(r);
                }
                return Err(MempoolError::Full);
            }
            if let Some(&(s, q)) = self.by_hash.get(&hash) {
                removed.extend(self.remove_entry(s, q));
            }
        }
        self.insert_entry(tx);
        Ok(removed)
    }

    /// Picks up to `max_txs` transactions / `max_bytes` bytes for a block: highest fee
    /// first among each sender's next executable transaction (`next_sequence` gives
    /// each sender's next sequence in the state the block builds on). The pool is not
    /// changed; call [`Mempool::remove_committed`] once the block settles.
    pub fn select(
        &self,
        max_txs: usize,
        max_bytes: usize,
        mut next_sequence: impl FnMut(&Address) -> u64,
    ) -> Vec<TxMeta> {
        // Heads of each sender's executable run, ordered by (fee, reverse hash) for a
        // deterministic tie-break.
        let mut heads: BTreeSet<(U256, std::cmp::Reverse<H256>, Address, u64)> = BTreeSet::new();
        for (sender, q) in &self.by_sender {
            let next = next_sequence(sender);
            if let Some(tx) = q.get(&next) {
                heads.insert((tx.fee, std::cmp::Reverse(tx.hash), *sender, next));
            }
        }
        let mut out = Vec::new();
        let mut bytes = 0usize;
        while out.len() < max_txs {
            let Some(head) = heads.pop_last() else { break };
            let (_, _, sender, seq) = head;
            let Some(tx) = self.by_sender.get(&sender).and_then(|q| q.get(&seq)) else { continue };
            if bytes + tx.size > max_bytes {
                // This sender's run stops here; others may still fit.
                continue;
            }
            bytes += tx.size;
            out.push(tx.clone());
            if let Some(n) = self.by_sender.get(&sender).and_then(|q| q.get(&(seq + 1))) {
                heads.insert((n.fee, std::cmp::Reverse(n.hash), sender, seq + 1));
            }
        }
        out
    }

    /// Drops everything a settled block made stale: for each sender, every waiting
    /// transaction with a sequence below `next_sequence(sender)`. Returns how many.
    pub fn remove_committed(
        &mut self,
        senders: &[Address],
        mut next_sequence: impl FnMut(&Address) -> u64,
    ) -> usize {
        let mut n = 0;
        for sender in senders {
            let next = next_sequence(sender);
            let stale: Vec<u64> = self
                .by_sender
                .get(sender)
                .map(|q| q.range(..next).map(|(s, _)| *s).collect())
                .unwrap_or_default();
            for s in stale {
                if self.remove_entry(*sender, s).is_some() {
                    n += 1;
                }
            }
        }
        n
    }

    /// Removes one transaction (it failed a re-check). Transactions of the same sender
    /// after it can no longer execute and are removed too. Returns them all.
    pub fn remove(&mut self, hash: &H256) -> Vec<TxMeta> {
        let Some(&(sender, seq)) = self.by_hash.get(hash) else { return Vec::new() };
        let later: Vec<u64> = self
            .by_sender
            .get(&sender)
            .map(|q| q.range(seq..).map(|(s, _)| *s).collect())
            .unwrap_or_default();
        later.into_iter().rev().filter_map(|s| self.remove_entry(sender, s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tx(sender: u8, sequence: u64, fee: u64) -> TxMeta {
        let mut h = [0u8; 32];
        h[0] = sender;
        h[1..9].copy_from_slice(&sequence.to_be_bytes());
        h[9..17].copy_from_slice(&fee.to_be_bytes());
        TxMeta {
            hash: H256(h),
            sender: Address::repeat_byte(sender),
            sequence,
            fee: U256::from(fee),
            size: 100,
        }
    }

    #[test]
    fn sequences_must_be_contiguous_and_fresh() {
        let mut p = Mempool::new(MempoolConfig::default());
        assert_eq!(p.insert(tx(1, 3, 10), 5), Err(MempoolError::StaleSequence { sequence: 3, next: 5 }));
        assert_eq!(p.insert(tx(1, 6, 10), 5), Err(MempoolError::SequenceGap { sequence: 6, next: 5 }));
        p.insert(tx(1, 5, 10), 5).unwrap();
        p.insert(tx(1, 6, 10), 5).unwrap();
        assert_eq!(p.insert(tx(1, 6, 10), 5), Err(MempoolError::Duplicate(tx(1, 6, 10).hash)));
        assert_eq!(p.insert(tx(1, 8, 10), 5), Err(MempoolError::SequenceGap { sequence: 8, next: 7 }));
        assert_eq!(p.len(), 2);
        assert_eq!(p.bytes(), 200);
    }

    #[test]
    fn replacement_needs_the_bump() {
        let mut p = Mempool::new(MempoolConfig::default());
        p.insert(tx(1, 0, 100), 0).unwrap();
        assert!(matches!(p.insert(tx(1, 0, 109), 0), Err(MempoolError::ReplacementUnderpriced { .. })));
        let gone = p.insert(tx(1, 0, 110), 0).unwrap();
        assert_eq!(gone, vec![tx(1, 0, 100)]);
        assert_eq!(p.len(), 1);
        assert!(p.contains(&tx(1, 0, 110).hash));
    }

    #[test]
    fn a_full_pool_evicts_the_cheapest_tail_of_another_sender_or_refuses() {
        let cfg = MempoolConfig { max_txs: 3, ..MempoolConfig::default() };
        let mut p = Mempool::new(cfg);
        p.insert(tx(1, 0, 50), 0).unwrap();
        p.insert(tx(1, 1, 5), 0).unwrap();
        p.insert(tx(2, 0, 20), 0).unwrap();
        // Sender 1's own tail (fee 5) is the cheapest but is never evicted for its own
        // next sequence (that would leave a gap): sender 2's tail (fee 20) goes.
        assert_eq!(p.insert(tx(1, 2, 100), 0).unwrap(), vec![tx(2, 0, 20)]);
        // The only other sender's tail pays 100: a newcomer paying 10 is refused and
        // nothing changes.
        assert_eq!(p.insert(tx(3, 0, 10), 0), Err(MempoolError::Full));
        assert_eq!(p.len(), 3);
        // Paying more than that tail evicts it.
        assert_eq!(p.insert(tx(3, 0, 200), 0).unwrap(), vec![tx(1, 2, 100)]);
        assert!(p.contains(&tx(1, 1, 5).hash));
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn select_orders_by_fee_within_sequence_order() {
        let mut p = Mempool::new(MempoolConfig::default());
        p.insert(tx(1, 0, 1), 0).unwrap();
        p.insert(tx(1, 1, 100), 0).unwrap();
        p.insert(tx(2, 0, 50), 0).unwrap();
        let got: Vec<(u8, u64)> =
            p.select(10, usize::MAX, |_| 0).iter().map(|t| (t.sender.0[0], t.sequence)).collect();
        assert_eq!(got, vec![(2, 0), (1, 0), (1, 1)]);
        assert_eq!(p.select(2, usize::MAX, |_| 0).len(), 2);
        assert_eq!(p.select(10, 250, |_| 0).len(), 2, "byte limit");
        // After sender 1's seq 0 settles, its seq 1 (fee 100) leads.
        let got = p.select(1, usize::MAX, |a| if a.0[0] == 1 { 1 } else { 0 });
        assert_eq!(got, vec![tx(1, 1, 100)]);
        assert_eq!(p.remove_committed(&[Address::repeat_byte(1)], |_| 1), 1);
        assert_eq!(p.len(), 2);
        assert_eq!(p.remove(&tx(1, 1, 100).hash), vec![tx(1, 1, 100)]);
        assert_eq!(p.len(), 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Any sequence of inserts and commits keeps the limits, per-sender contiguity,
        /// the byte count and the eviction set exact, and `select` yields each sender's
        /// run in order.
        #[test]
        fn invariants_hold(ops in prop::collection::vec((0u8..5, 0u64..6, 1u64..200, any::<bool>()), 1..120)) {
            let cfg = MempoolConfig { max_txs: 8, max_per_sender: 4, ..MempoolConfig::default() };
            let mut p = Mempool::new(cfg);
            let mut next: BTreeMap<Address, u64> = BTreeMap::new();
            for (s, seq, fee, commit) in ops {
                let a = Address::repeat_byte(s);
                let n = *next.get(&a).unwrap_or(&0);
                if commit {
                    let picked = p.select(3, usize::MAX, |x| *next.get(x).unwrap_or(&0));
                    for t in &picked {
                        let e = next.entry(t.sender).or_insert(0);
                        prop_assert_eq!(*e, t.sequence, "select respects sequence order");
                        *e += 1;
                    }
                    let senders: Vec<Address> = picked.iter().map(|t| t.sender).collect();
                    p.remove_committed(&senders, |x| *next.get(x).unwrap_or(&0));
                } else {
                    let _ = p.insert(tx(s, n + seq, fee), n);
                }
                prop_assert!(p.len() <= cfg.max_txs);
                let mut bytes = 0;
                let mut tails = BTreeSet::new();
                for (sender, q) in &p.by_sender {
                    prop_assert!(!q.is_empty());
                    prop_assert!(q.len() <= cfg.max_per_sender);
                    let first = *q.keys().next().unwrap();
                    prop_assert_eq!(first, *next.get(sender).unwrap_or(&0), "queue starts at the next sequence");
                    for (i, (k, t)) in q.iter().enumerate() {
                        prop_assert_eq!(*k, first + i as u64, "no gaps");
                        bytes += t.size;
                    }
                    let last = q.values().next_back().unwrap();
                    tails.insert((last.fee, last.hash));
                }
                prop_assert_eq!(bytes, p.bytes());
                prop_assert_eq!(&tails, &p.tails);
                prop_assert_eq!(p.by_hash.len(), p.by_sender.values().map(BTreeMap::len).sum::<usize>());
            }
        }
    }
}
