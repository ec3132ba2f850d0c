//! Settlement proofs: what the validators hand the guardians with a checkpoint, so a
//! guardian can check for itself that the checkpoint is settled before signing it
//! (whitepaper "Multi-Level BFT": guardians finalize settled checkpoints).

use bls_gossip::Scheme;
use primitives::rlp::RlpStream;

use crate::Error;
use crate::certificate::{CommitCertificate, bounded_rlp};
use crate::types::{BlockHeader, Checkpoint, expect_list};
use crate::validators::ValidatorSet;

/// Most headers a settlement proof may carry.
pub const MAX_PROOF_HEADERS: usize = 4096;

/// Proof that `headers[0]` is settled: headers linked by parent hash up to a block `B`
/// (`headers[n-2]`) and its child `C` (`headers[n-1]`, next height and next epoch), with
/// the commit certificates of `B` and `C`.
#[derive(Clone, Debug, PartialEq)]
pub struct SettlementProof<S: Scheme> {
    /// Ascending by height, each the parent of the next; at least two.
    pub headers: Vec<BlockHeader>,
    /// CC of `headers[n-2]`.
    pub cc_settled: CommitCertificate<S>,
    /// CC of `headers[n-1]`.
    pub cc_child: CommitCertificate<S>,
}

impl<S: Scheme> SettlementProof<S> {
    /// Checks the links, the consecutive heights and epochs of the last two headers and
    /// both certificates against `set`; returns the settled block `headers[0]`.
    pub fn verify(&self, set: &ValidatorSet<S>) -> Result<Checkpoint, Error> {
        self.verify_by(|_| Some(set))
    }

    /// [`SettlementProof::verify`] across validator-set changes: each certificate is
    /// checked against `set_for(its block's height)`, the set in force there (a joint
    /// certificate of an open hand-over carries that set's quorum too).
    pub fn verify_by<'a>(
        &self,
        set_for: impl Fn(u64) -> Option<&'a ValidatorSet<S>>,
    ) -> Result<Checkpoint, Error>
    where
        S: 'a,
    {
        let n = self.headers.len();
        if !(2..=MAX_PROOF_HEADERS).contains(&n) {
            return Err(Error::InvalidEvidence { reason: "settlement proof needs 2..=4096 headers" });
        }
        let refs: Vec<_> = self.headers.iter().map(BlockHeader::reference).collect();
        for w in 0..n - 1 {
            let (a, b) = (&self.headers[w], &self.headers[w + 1]);
            if b.parent != refs[w].hash || b.height != a.height.saturating_add(1) || b.epoch <= a.epoch {
                return Err(Error::InvalidBlock { hash: refs[w + 1].hash, reason: "broken parent link" });
            }
        }
        let (settled, child) = (refs[n - 2], refs[n - 1]);
        if child.epoch != settled.epoch.saturating_add(1) {
            return Err(Error::InvalidBlock { hash: child.hash, reason: "child not in the next epoch" });
        }
        if self.cc_settled.block != settled || self.cc_child.block != child {
            return Err(Error::InvalidBlock { hash: settled.hash, reason: "certificates name other blocks" });
        }
        for cc in [&self.cc_settled, &self.cc_child] {
            let height = cc.block.height;
            cc.verify(set_for(height).ok_or(Error::UnknownSetForHeight { height })?)?;
        }
        Ok(Checkpoint { height: refs[0].height, hash: refs[0].hash })
    }

    /// RLP `[[header...], cc_settled, cc_child]`.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = RlpStream::new_list(3);
        s.begin_list(self.headers.len());
        for h in &self.headers {
            h.rlp_append(&mut s);
        }
        self.cc_settled.rlp_append(&mut s);
        self.cc_child.rlp_append(&mut s);
        s.out().to_vec()
    }

    /// Decodes untrusted bytes (at most `limit`) for a set of `members` validators.
    pub fn decode(bytes: &[u8], members: usize, limit: usize) -> Result<Self, Error> {
        let r = bounded_rlp(bytes, limit)?;
        expect_list(&r, 3, "settlement proof")?;
        let hs = r.at(0)?;
        let count = hs.item_count()?;
        if count > MAX_PROOF_HEADERS {
            return Err(Error::TooLong { len: count, limit: MAX_PROOF_HEADERS });
        }
        let headers = hs.iter().map(|h| BlockHeader::rlp_decode(&h)).collect::<Result<Vec<_>, _>>()?;
        Ok(SettlementProof {
            headers,
            cc_settled: CommitCertificate::rlp_decode(&r.at(1)?, members)?,
            cc_child: CommitCertificate::rlp_decode(&r.at(2)?, members)?,
        })
    }
}

/// The message guardians sign for `checkpoint`: `bls_gossip::checkpoint_message(height,
/// hash, guardian_set_hash)`.
pub fn guardian_message(checkpoint: &Checkpoint, guardian_set_hash: &[u8; 32]) -> Vec<u8> {
    bls_gossip::checkpoint_message(checkpoint.height, checkpoint.hash.as_fixed_bytes(), guardian_set_hash)
}
