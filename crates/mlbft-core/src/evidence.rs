//! Evidence of equivocation (DESIGN.md section 4.3): two signed proposals, or two votes
//! for different blocks, by one validator in one epoch. The evidence verifies on its own
//! against a validator set, so the ledger's slash rule can call [`Evidence::verify`].

use bls_gossip::Scheme;
use primitives::rlp::{Rlp, RlpStream};

use crate::Error;
use crate::certificate::bounded_rlp;
use crate::message::{decode_sig, verify_single};
use crate::types::{BlockRef, expect_list, proposal_message, vote_message};
use crate::validators::{ValidatorIndex, ValidatorSet};

/// Largest encoded evidence (two statements: references and 96-byte signatures).
pub const MAX_EVIDENCE_LEN: usize = 512;

/// Which kind of statement was signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StatementKind {
    /// A proposal of `block` ([`proposal_message`]).
    Proposal,
    /// A vote for `block` ([`vote_message`]).
    Vote,
}

impl StatementKind {
    fn tag(self) -> u8 {
        match self {
            StatementKind::Proposal => 0,
            StatementKind::Vote => 1,
        }
    }
}

/// One signed statement about a block.
#[derive(Clone, Debug, PartialEq)]
pub struct SignedStatement<S: Scheme> {
    /// Proposal or vote.
    pub kind: StatementKind,
    /// Signer.
    pub signer: ValidatorIndex,
    /// The block (its epoch is the statement's epoch).
    pub block: BlockRef,
    /// The signature.
    pub signature: S::Signature,
}

impl<S: Scheme> SignedStatement<S> {
    /// The signed bytes.
    pub fn message(&self) -> Vec<u8> {
        match self.kind {
            StatementKind::Proposal => proposal_message(&self.block),
            StatementKind::Vote => vote_message(&self.block),
        }
    }

    /// Checks the signature against `set`.
    pub fn verify(&self, set: &ValidatorSet<S>) -> Result<(), Error> {
        let what = match self.kind {
            StatementKind::Proposal => "proposal",
            StatementKind::Vote => "vote",
        };
        verify_single(set, self.signer, &self.message(), &self.signature, what)
    }

    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(4);
        s.append(&self.kind.tag());
        s.append(&self.signer);
        self.block.rlp_append(s);
        s.append(&S::signature_to_bytes(&self.signature).as_slice());
    }

    fn rlp_decode(r: &Rlp<'_>) -> Result<Self, Error> {
        expect_list(r, 4, "statement")?;
        let kind = match r.val_at::<u8>(0)? {
            0 => StatementKind::Proposal,
            1 => StatementKind::Vote,
            t => return Err(Error::Malformed { what: "statement", reason: format!("kind {t}") }),
        };
        Ok(SignedStatement {
            kind,
            signer: r.val_at(1)?,
            block: BlockRef::rlp_decode(&r.at(2)?)?,
            signature: decode_sig::<S>(r, 3)?,
        })
    }
}

/// Two conflicting statements by one validator in one epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct Evidence<S: Scheme> {
    /// The statement seen first.
    pub first: SignedStatement<S>,
    /// The conflicting one.
    pub second: SignedStatement<S>,
}

impl<S: Scheme> Evidence<S> {
    /// Pairs two statements, checking their shape (not their signatures).
    pub fn new(first: SignedStatement<S>, second: SignedStatement<S>) -> Result<Self, Error> {
        let e = Evidence { first, second };
        e.check_shape()?;
        Ok(e)
    }

    /// The accused validator.
    pub fn offender(&self) -> ValidatorIndex {
        self.first.signer
    }

    /// The epoch of the offence.
    pub fn epoch(&self) -> u64 {
        self.first.block.epoch
    }

    fn check_shape(&self) -> Result<(), Error> {
        let (a, b) = (&self.first, &self.second);
        if a.kind != b.kind {
            return Err(Error::InvalidEvidence { reason: "statements of different kinds" });
        }
        if a.signer != b.signer {
            return Err(Error::InvalidEvidence { reason: "different signers" });
        }
        if a.block.epoch != b.block.epoch {
            return Err(Error::InvalidEvidence { reason: "different epochs" });
        }
        if a.block == b.block {
            return Err(Error::InvalidEvidence { reason: "the same block twice" });
        }
        Ok(())
    }

    /// Whether this proves misbehaviour by a member of `set`: same kind, signer and
    /// epoch, different blocks, both signatures valid.
    pub fn verify(&self, set: &ValidatorSet<S>) -> Result<(), Error> {
        self.check_shape()?;
        self.first.verify(set)?;
        self.second.verify(set)
    }

    /// RLP `[first, second]`, each `[kind, signer, [height, epoch, hash], signature]`.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = RlpStream::new_list(2);
        self.first.rlp_append(&mut s);
        self.second.rlp_append(&mut s);
        s.out().to_vec()
    }

    /// Decodes untrusted bytes (at most `min(limit, MAX_EVIDENCE_LEN)`), checking the
    /// shape; call [`Evidence::verify`] for the signatures.
    pub fn decode(bytes: &[u8], limit: usize) -> Result<Self, Error> {
        let r = bounded_rlp(bytes, limit.min(MAX_EVIDENCE_LEN))?;
        expect_list(&r, 2, "evidence")?;
        Evidence::new(SignedStatement::rlp_decode(&r.at(0)?)?, SignedStatement::rlp_decode(&r.at(1)?)?)
    }
}
