//! Blocks, block references, the signed statements and the [`Context`] trait.

use std::sync::Arc;

use bls_gossip::{Scheme, namespaced};
use primitives::rlp::{Rlp, RlpStream};
use primitives::{H256, keccak256};

use crate::Error;
use crate::validators::{KeyBytes, ValidatorIndex, ValidatorSet};

/// Namespace of proposal signatures (DESIGN.md section 3: one domain per message kind).
pub const PROPOSAL_DOMAIN: &[u8] = b"meshcast/mlbft-proposal/v1";
/// Namespace of vote signatures; a commit certificate aggregates these.
pub const VOTE_DOMAIN: &[u8] = b"meshcast/mlbft-vote/v1";
/// Namespace of EpochChange signatures.
pub const EPOCH_CHANGE_DOMAIN: &[u8] = b"meshcast/mlbft-epoch-change/v1";

/// A block: the unit the validators settle.
///
/// The hash is `keccak256(RLP([height, epoch, parent, proposer, keccak256(payload)]))`
/// (the hash of its [`BlockHeader`]). The epoch is part of the block, so a block can be
/// certified in one epoch only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// Height (genesis is 0; a child is its parent's height + 1).
    pub height: u64,
    /// Epoch in which it was proposed (genesis is 0; a child's epoch exceeds its parent's).
    pub epoch: u64,
    /// Parent hash.
    pub parent: H256,
    /// Proposer's index.
    pub proposer: ValidatorIndex,
    /// Opaque payload (transactions), bounded by [`crate::Config::max_payload`].
    pub payload: Vec<u8>,
}

impl Block {
    /// The genesis block (height 0, epoch 0): certified, settled and finalized by
    /// definition.
    pub fn genesis() -> Block {
        Block {
            height: 0,
            epoch: 0,
            parent: H256::zero(),
            proposer: 0,
            payload: b"meshcast-genesis".to_vec(),
        }
    }

    /// The block hash: the hash of its header.
    pub fn hash(&self) -> H256 {
        self.header().hash()
    }

    /// The header (the payload replaced by its keccak256).
    pub fn header(&self) -> BlockHeader {
        BlockHeader {
            height: self.height,
            epoch: self.epoch,
            parent: self.parent,
            proposer: self.proposer,
            payload_hash: keccak256(&self.payload),
        }
    }

    /// A reference to this block.
    pub fn reference(&self) -> BlockRef {
        BlockRef { height: self.height, epoch: self.epoch, hash: self.hash() }
    }

    /// The block's RLP form `[height, epoch, parent, proposer, payload]`, as proposals and
    /// block responses carry it (for embedders that store blocks).
    pub fn encode(&self) -> Vec<u8> {
        let mut s = RlpStream::new();
        self.rlp_append(&mut s);
        s.out().to_vec()
    }

    /// Decodes [`Block::encode`]'s output from untrusted bytes: a payload of at most
    /// `max_payload` bytes, no trailing bytes.
    pub fn decode(bytes: &[u8], max_payload: usize) -> Result<Block, Error> {
        let r = crate::certificate::bounded_rlp(bytes, max_payload.saturating_add(128))?;
        Block::rlp_decode(&r, max_payload)
    }

    pub(crate) fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(5);
        s.append(&self.height);
        s.append(&self.epoch);
        s.append(&self.parent);
        s.append(&self.proposer);
        s.append(&self.payload);
    }

    pub(crate) fn rlp_decode(r: &Rlp<'_>, max_payload: usize) -> Result<Block, Error> {
        expect_list(r, 5, "block")?;
        let payload: Vec<u8> = r.val_at(4)?;
        if payload.len() > max_payload {
            return Err(Error::PayloadTooLarge { len: payload.len(), limit: max_payload });
        }
        Ok(Block {
            height: r.val_at(0)?,
            epoch: r.val_at(1)?,
            parent: r.val_at(2)?,
            proposer: r.val_at(3)?,
            payload,
        })
    }
}

/// A block without its payload (the payload's hash instead): enough to check parent
/// links in a settlement proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// Height.
    pub height: u64,
    /// Epoch.
    pub epoch: u64,
    /// Parent hash.
    pub parent: H256,
    /// Proposer.
    pub proposer: ValidatorIndex,
    /// keccak256 of the payload.
    pub payload_hash: H256,
}

impl BlockHeader {
    /// `keccak256(RLP([height, epoch, parent, proposer, payload_hash]))`.
    pub fn hash(&self) -> H256 {
        let mut s = RlpStream::new();
        self.rlp_append(&mut s);
        keccak256(s.out())
    }

    /// A reference to the block.
    pub fn reference(&self) -> BlockRef {
        BlockRef { height: self.height, epoch: self.epoch, hash: self.hash() }
    }

    pub(crate) fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(5);
        s.append(&self.height);
        s.append(&self.epoch);
        s.append(&self.parent);
        s.append(&self.proposer);
        s.append(&self.payload_hash);
    }

    pub(crate) fn rlp_decode(r: &Rlp<'_>) -> Result<BlockHeader, Error> {
        expect_list(r, 5, "block header")?;
        Ok(BlockHeader {
            height: r.val_at(0)?,
            epoch: r.val_at(1)?,
            parent: r.val_at(2)?,
            proposer: r.val_at(3)?,
            payload_hash: r.val_at(4)?,
        })
    }
}

/// `(height, epoch, hash)` of a block: what votes and certificates name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockRef {
    /// Height.
    pub height: u64,
    /// Epoch.
    pub epoch: u64,
    /// Hash.
    pub hash: H256,
}

impl BlockRef {
    pub(crate) fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(3);
        s.append(&self.height);
        s.append(&self.epoch);
        s.append(&self.hash);
    }

    pub(crate) fn rlp_decode(r: &Rlp<'_>) -> Result<BlockRef, Error> {
        expect_list(r, 3, "block reference")?;
        Ok(BlockRef { height: r.val_at(0)?, epoch: r.val_at(1)?, hash: r.val_at(2)? })
    }

    fn payload(&self) -> Vec<u8> {
        let mut s = RlpStream::new();
        self.rlp_append(&mut s);
        s.out().to_vec()
    }
}

/// Bytes a validator signs to vote for `block` (and that a commit certificate
/// aggregates): `namespaced(VOTE_DOMAIN, RLP([height, epoch, hash]))`.
pub fn vote_message(block: &BlockRef) -> Vec<u8> {
    namespaced(VOTE_DOMAIN, &block.payload())
}

/// Bytes a proposer signs for a proposal of `block`:
/// `namespaced(PROPOSAL_DOMAIN, RLP([height, epoch, hash]))`.
pub fn proposal_message(block: &BlockRef) -> Vec<u8> {
    namespaced(PROPOSAL_DOMAIN, &block.payload())
}

/// Bytes a validator signs to ask for `epoch`: `namespaced(EPOCH_CHANGE_DOMAIN,
/// RLP(epoch))`.
pub fn epoch_change_message(epoch: u64) -> Vec<u8> {
    namespaced(EPOCH_CHANGE_DOMAIN, &primitives::rlp::encode(&epoch))
}

/// A guardian checkpoint: the settled block at a multiple of the checkpoint interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Checkpoint {
    /// Height (a multiple of [`crate::Config::checkpoint_interval`]).
    pub height: u64,
    /// Block hash.
    pub hash: H256,
}

/// What the machine needs from its embedder (malachite's `Context`): the signature
/// scheme, the validator set, this validator's signing key, block payloads and guardian
/// finality verification.
pub trait Context {
    /// The signature scheme of votes, proposals and certificates.
    type Scheme: Scheme + KeyBytes;

    /// The validator set in force at genesis (and at every height when the set never
    /// changes).
    fn validator_set(&self) -> &Arc<ValidatorSet<Self::Scheme>>;

    /// The set that validates blocks at `height` (their proposal, votes and CC), as the
    /// ledger decided it under the lag rule of [`crate::SetSchedule`]: a change decided in
    /// the block at height `d` applies from `d + SET_CHANGE_LAG`. `None` when the ledger
    /// cannot tell yet. The default is [`Context::validator_set`] at every height.
    fn validator_set_for(&self, height: u64) -> Option<Arc<ValidatorSet<Self::Scheme>>> {
        let _ = height;
        Some(self.validator_set().clone())
    }

    /// The first height of the set that [`Context::validator_set_for`] gives at `height`:
    /// the effective height of the last change at or below `height`, `0` while the
    /// genesis set is in force; `None` when the ledger cannot tell yet. An embedder that
    /// overrides `validator_set_for` must override this too (the default, `0`, matches
    /// the default `validator_set_for`). The machine uses it to find open hand-overs
    /// ([`crate::BlockQuorum`]).
    fn set_since(&self, height: u64) -> Option<u64> {
        let _ = height;
        Some(0)
    }

    /// Our index (in the validator universe, the same in every set of the schedule) and
    /// the signature of `msg` by our key, or `None` for an observer.
    fn sign(&self, msg: &[u8]) -> Option<(ValidatorIndex, <Self::Scheme as Scheme>::Signature)>;

    /// Our index in the validator universe, if we hold a key of it (we vote and propose
    /// only at heights whose sets give us stake).
    fn me(&self) -> Option<ValidatorIndex>;

    /// The payload of the block we propose at `height` (transactions from the mempool).
    fn payload(&mut self, height: u64) -> Vec<u8>;

    /// Whether `proof` (a guardian aggregate, in the embedder's encoding) finalizes
    /// `checkpoint` under the guardian set in force: valid *and* signed by more than 2/3
    /// of guardian stake.
    fn verify_finality(&self, checkpoint: &Checkpoint, proof: &[u8]) -> Result<bool, Error>;
}

pub(crate) fn expect_list(r: &Rlp<'_>, items: usize, what: &'static str) -> Result<(), Error> {
    if !r.is_list() {
        return Err(Error::Malformed { what, reason: "not a list".into() });
    }
    let n = r.item_count()?;
    if n != items {
        return Err(Error::Malformed { what, reason: format!("{n} items, expected {items}") });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_encoding_round_trips_under_its_limit() {
        let b =
            Block { height: 3, epoch: 5, parent: H256::repeat_byte(1), proposer: 2, payload: vec![9; 40] };
        let bytes = b.encode();
        assert_eq!(Block::decode(&bytes, 40).unwrap(), b);
        assert!(Block::decode(&bytes, 39).is_err(), "payload over the limit");
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(Block::decode(&trailing, 40).is_err());
        assert!(Block::decode(&bytes[..bytes.len() - 1], 40).is_err());
    }
}
