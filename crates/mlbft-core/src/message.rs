//! What validators exchange, and its RLP wire codec with explicit size limits.

use bls_gossip::{Scheme, SignerVector, WIRE_SIGNATURE_LEN};
use primitives::H256;
use primitives::rlp::{Rlp, RlpStream};

use crate::Error;
use crate::certificate::{CommitCertificate, bounded_rlp};
use crate::types::{
    Block, BlockRef, Checkpoint, epoch_change_message, expect_list, proposal_message, vote_message,
};
use crate::validators::{ValidatorIndex, ValidatorSet};

/// Verifies one signature by validator `index` over `msg`.
pub(crate) fn verify_single<S: Scheme>(
    set: &ValidatorSet<S>,
    index: ValidatorIndex,
    msg: &[u8],
    sig: &S::Signature,
    what: &'static str,
) -> Result<(), Error> {
    let key = set.key(index)?;
    // One key, count one: the same check as over the whole set, without a vector of
    // the set's size per message.
    let v = SignerVector::singleton(1, 0)?;
    if S::verify_aggregate(core::slice::from_ref(key), msg, &v, sig)? {
        Ok(())
    } else {
        Err(Error::BadSignature { what, signer: index })
    }
}

/// A block proposal: the block, the commit certificate of its parent (absent only when
/// the parent is genesis), signed by the epoch's proposer.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal<S: Scheme> {
    /// The proposed block (`block.proposer` signed it).
    pub block: Block,
    /// The CC of `block.parent`.
    pub parent_cc: Option<CommitCertificate<S>>,
    /// Proposer's signature over [`proposal_message`] of the block reference.
    pub signature: S::Signature,
}

impl<S: Scheme> Proposal<S> {
    /// Checks the proposer's signature.
    pub fn verify_signature(&self, set: &ValidatorSet<S>) -> Result<(), Error> {
        let msg = proposal_message(&self.block.reference());
        verify_single(set, self.block.proposer, &msg, &self.signature, "proposal")
    }
}

/// A vote for a block in its epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct Vote<S: Scheme> {
    /// The block voted for (its epoch is the vote's epoch).
    pub block: BlockRef,
    /// The voter.
    pub voter: ValidatorIndex,
    /// Signature over [`vote_message`].
    pub signature: S::Signature,
}

impl<S: Scheme> Vote<S> {
    /// Checks the voter's signature.
    pub fn verify_signature(&self, set: &ValidatorSet<S>) -> Result<(), Error> {
        verify_single(set, self.voter, &vote_message(&self.block), &self.signature, "vote")
    }
}

/// A request to move to `epoch` (Algorithm 1), carrying the sender's highest commit
/// certificate so the next proposer can extend it.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochChange<S: Scheme> {
    /// The epoch asked for.
    pub epoch: u64,
    /// Who asks.
    pub voter: ValidatorIndex,
    /// The sender's highest CC (self-certifying, so not covered by the signature).
    pub high_cc: Option<CommitCertificate<S>>,
    /// Signature over [`epoch_change_message`].
    pub signature: S::Signature,
}

impl<S: Scheme> EpochChange<S> {
    /// Checks the sender's signature.
    pub fn verify_signature(&self, set: &ValidatorSet<S>) -> Result<(), Error> {
        verify_single(set, self.voter, &epoch_change_message(self.epoch), &self.signature, "epoch change")
    }
}

/// A validator-to-validator message.
#[derive(Clone, Debug, PartialEq)]
pub enum Message<S: Scheme> {
    /// A proposal.
    Proposal(Proposal<S>),
    /// A vote.
    Vote(Vote<S>),
    /// An EpochChange request.
    EpochChange(EpochChange<S>),
    /// Catch-up: please send the block with this hash and its CC.
    BlockRequest {
        /// The block wanted.
        hash: H256,
    },
    /// Catch-up answer: a block and the CC that certifies it.
    BlockResponse {
        /// The block.
        block: Block,
        /// Its certificate.
        cc: CommitCertificate<S>,
    },
    /// A guardian finality proof for a checkpoint (relayed from the guardians).
    Finality {
        /// The checkpoint.
        checkpoint: Checkpoint,
        /// The proof, in the embedder's encoding (see [`crate::Context::verify_finality`]).
        proof: Vec<u8>,
    },
}

/// Limits for decoding untrusted messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Validators in the set (every certificate's bitmap must cover exactly this many).
    pub validators: usize,
    /// Largest block payload.
    pub max_payload: usize,
    /// Largest encoded message.
    pub max_message: usize,
}

const TAG_PROPOSAL: u8 = 0;
const TAG_VOTE: u8 = 1;
const TAG_EPOCH_CHANGE: u8 = 2;
const TAG_BLOCK_REQUEST: u8 = 3;
const TAG_BLOCK_RESPONSE: u8 = 4;
const TAG_FINALITY: u8 = 5;

fn append_sig<S: Scheme>(s: &mut RlpStream, sig: &S::Signature) {
    s.append(&S::signature_to_bytes(sig).as_slice());
}

pub(crate) fn decode_sig<S: Scheme>(r: &Rlp<'_>, index: usize) -> Result<S::Signature, Error> {
    let bytes: Vec<u8> = r.val_at(index)?;
    if bytes.len() != WIRE_SIGNATURE_LEN {
        return Err(Error::Malformed { what: "signature", reason: format!("{} bytes", bytes.len()) });
    }
    Ok(S::signature_from_bytes(&bytes)?)
}

fn append_opt_cc<S: Scheme>(s: &mut RlpStream, cc: &Option<CommitCertificate<S>>) {
    match cc {
        None => {
            s.begin_list(0);
        }
        Some(cc) => {
            s.begin_list(1);
            cc.rlp_append(s);
        }
    }
}

fn decode_opt_cc<S: Scheme>(r: &Rlp<'_>, members: usize) -> Result<Option<CommitCertificate<S>>, Error> {
    if !r.is_list() {
        return Err(Error::Malformed { what: "optional certificate", reason: "not a list".into() });
    }
    match r.item_count()? {
        0 => Ok(None),
        1 => Ok(Some(CommitCertificate::rlp_decode(&r.at(0)?, members)?)),
        n => Err(Error::Malformed { what: "optional certificate", reason: format!("{n} items") }),
    }
}

impl<S: Scheme> Message<S> {
    /// The RLP wire form: `[tag, fields...]`.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = RlpStream::new();
        match self {
            Message::Proposal(p) => {
                s.begin_list(4);
                s.append(&TAG_PROPOSAL);
                p.block.rlp_append(&mut s);
                append_opt_cc(&mut s, &p.parent_cc);
                append_sig::<S>(&mut s, &p.signature);
            }
            Message::Vote(v) => {
                s.begin_list(4);
                s.append(&TAG_VOTE);
                v.block.rlp_append(&mut s);
                s.append(&v.voter);
                append_sig::<S>(&mut s, &v.signature);
            }
            Message::EpochChange(ec) => {
                s.begin_list(5);
                s.append(&TAG_EPOCH_CHANGE);
                s.append(&ec.epoch);
                s.append(&ec.voter);
                append_opt_cc(&mut s, &ec.high_cc);
                append_sig::<S>(&mut s, &ec.signature);
            }
            Message::BlockRequest { hash } => {
                s.begin_list(2);
                s.append(&TAG_BLOCK_REQUEST);
                s.append(hash);
            }
            Message::BlockResponse { block, cc } => {
                s.begin_list(3);
                s.append(&TAG_BLOCK_RESPONSE);
                block.rlp_append(&mut s);
                cc.rlp_append(&mut s);
            }
            Message::Finality { checkpoint, proof } => {
                s.begin_list(4);
                s.append(&TAG_FINALITY);
                s.append(&checkpoint.height);
                s.append(&checkpoint.hash);
                s.append(proof);
            }
        }
        s.out().to_vec()
    }

    /// Decodes untrusted bytes under `limits`. Signatures are parsed, not verified.
    pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Self, Error> {
        let r = bounded_rlp(bytes, limits.max_message)?;
        if !r.is_list() || r.item_count()? == 0 {
            return Err(Error::Malformed { what: "message", reason: "not a tagged list".into() });
        }
        let tag: u8 = r.val_at(0)?;
        let n = limits.validators;
        let want = match tag {
            TAG_PROPOSAL | TAG_VOTE | TAG_FINALITY => 4,
            TAG_EPOCH_CHANGE => 5,
            TAG_BLOCK_REQUEST => 2,
            TAG_BLOCK_RESPONSE => 3,
            other => {
                return Err(Error::Malformed { what: "message", reason: format!("unknown tag {other}") });
            }
        };
        expect_list(&r, want, "message")?;
        Ok(match tag {
            TAG_PROPOSAL => Message::Proposal(Proposal {
                block: Block::rlp_decode(&r.at(1)?, limits.max_payload)?,
                parent_cc: decode_opt_cc(&r.at(2)?, n)?,
                signature: decode_sig::<S>(&r, 3)?,
            }),
            TAG_VOTE => Message::Vote(Vote {
                block: BlockRef::rlp_decode(&r.at(1)?)?,
                voter: r.val_at(2)?,
                signature: decode_sig::<S>(&r, 3)?,
            }),
            TAG_EPOCH_CHANGE => Message::EpochChange(EpochChange {
                epoch: r.val_at(1)?,
                voter: r.val_at(2)?,
                high_cc: decode_opt_cc(&r.at(3)?, n)?,
                signature: decode_sig::<S>(&r, 4)?,
            }),
            TAG_BLOCK_REQUEST => Message::BlockRequest { hash: r.val_at(1)? },
            TAG_BLOCK_RESPONSE => Message::BlockResponse {
                block: Block::rlp_decode(&r.at(1)?, limits.max_payload)?,
                cc: CommitCertificate::rlp_decode(&r.at(2)?, n)?,
            },
            _ => Message::Finality {
                checkpoint: Checkpoint { height: r.val_at(1)?, hash: r.val_at(2)? },
                proof: r.val_at(3)?,
            },
        })
    }
}
