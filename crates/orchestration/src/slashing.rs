//! Fault-based slashing (Streamflow, "verification" and "slashing"; Livepeer's
//! `BondingManager.slashTranscoder` reached through verified faults): proof that an
//! orchestrator signed wrong work slashes a fraction of everything bonded to it (own and
//! delegated stake, pending stake and its unbonding locks, pro rata), pays the reporting
//! broadcaster a bonus share of the slashed amount and burns the rest. A fault is
//! slashed once; a second report of the same segment or job is refused.
//!
//! The slasher re-derives every fault itself; it never trusts the reporter's list:
//!
//! * **Transcoding** ([`FaultProof::Transcode`]): the orchestrator's signed
//!   [`TranscodeClaim`] (inside `transcode-verify`'s [`Evidence`]), the source segment and
//!   the delivered renditions. The claim's signature must recover to the orchestrator; the
//!   source must hash to the claim's `source_hash` and each rendition to its signed hash,
//!   so the bytes are the ones the orchestrator vouched for. Container facts come from the
//!   embedder's [`FaultJudge::probe`] (this crate does no parsing), then
//!   `transcode_verify::cheap_checks` runs on them. Perceptual faults, which need decoded
//!   frames, are confirmed by [`FaultJudge::confirm_perceptual`].
//! * **Generic compute** ([`FaultProof::Compute`]): a signed [`ComputeClaim`] and the job
//!   input; the input must hash to the claim's `input_hash`, and
//!   [`FaultJudge::reexecute`] must yield an output other than the signed one.

use std::collections::{BTreeMap, BTreeSet};

use primitives::{Address, H256, Signature, U256, keccak256, keccak256_concat};
use transcode_verify::{
    Evidence, Profile, RenditionFacts, SegmentExpectation, TranscodeClaim, cheap_checks, rendition_hash,
};

use crate::registry::PPM;
use crate::staking::{Slashed, Staking, StakingError};

/// Slashing parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlashingConfig {
    /// Fraction of the orchestrator's bonded stake slashed per fault, ppm (1..=PPM).
    pub fraction_ppm: u32,
    /// Fraction of the slashed amount paid to the reporter, ppm (0..=PPM); the rest burns.
    pub reporter_bonus_ppm: u32,
    /// Largest proof accepted: source plus renditions (or the compute input), bytes.
    pub max_proof_bytes: usize,
    /// Most renditions in a transcode proof.
    pub max_renditions: usize,
}

impl Default for SlashingConfig {
    fn default() -> Self {
        SlashingConfig {
            fraction_ppm: 100_000,
            reporter_bonus_ppm: 500_000,
            max_proof_bytes: 64 << 20,
            max_renditions: 16,
        }
    }
}

/// A compute result as the orchestrator signs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComputeClaim {
    /// The job's id (unique per job; one slash per job).
    pub job_id: H256,
    /// The workload id (`JobKind::Compute::workload`).
    pub workload: String,
    /// keccak256 of the input.
    pub input_hash: H256,
    /// keccak256 of the output the orchestrator returned.
    pub output_hash: H256,
    /// The orchestrator's signature over [`ComputeClaim::digest`].
    pub signature: Signature,
}

impl ComputeClaim {
    /// keccak256(domain ‖ job id ‖ len(workload) ‖ workload ‖ input hash ‖ output hash).
    pub fn digest(job_id: &H256, workload: &str, input_hash: &H256, output_hash: &H256) -> H256 {
        let len = (workload.len() as u64).to_be_bytes();
        keccak256_concat([
            b"meshcast/compute-claim/v1".as_slice(),
            job_id.as_bytes(),
            &len,
            workload.as_bytes(),
            input_hash.as_bytes(),
            output_hash.as_bytes(),
        ])
    }

    /// Signs a claim with the orchestrator's key.
    pub fn sign(
        key: &primitives::SecretKey,
        job_id: H256,
        workload: String,
        input_hash: H256,
        output_hash: H256,
    ) -> Self {
        let signature = key.sign_prehash(&Self::digest(&job_id, &workload, &input_hash, &output_hash));
        ComputeClaim { job_id, workload, input_hash, output_hash, signature }
    }
}

/// What a reporter submits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultProof {
    /// A transcoding fault: the verifier's evidence (with the signed claim), the source
    /// segment and the renditions delivered, in claim order.
    Transcode {
        /// `transcode-verify` evidence.
        evidence: Box<Evidence>,
        /// The source segment bytes.
        source: Vec<u8>,
        /// The rendition bytes.
        renditions: Vec<Vec<u8>>,
    },
    /// A generic compute job whose re-execution differs from the signed output.
    Compute {
        /// The signed claim.
        claim: ComputeClaim,
        /// The job input.
        input: Vec<u8>,
    },
}

/// The embedder's checks that need parsing or execution.
pub trait FaultJudge {
    /// Container facts of a segment (source or rendition): width, height, frames,
    /// duration, declared fps. `hash` is ignored (the slasher hashes the bytes itself).
    /// `None` if the bytes do not parse.
    fn probe(&self, bytes: &[u8]) -> Option<RenditionFacts>;
    /// Re-derives perceptual faults from the decoded frames; true if at least one of
    /// `evidence.faults` is confirmed.
    fn confirm_perceptual(&self, evidence: &Evidence, source: &[u8], renditions: &[Vec<u8>]) -> bool;
    /// Re-executes a deterministic workload; `None` if the workload is unknown.
    fn reexecute(&self, workload: &str, input: &[u8]) -> Option<H256>;
}

/// Why a report was refused. A refused report changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SlashError {
    /// The configuration is unusable.
    #[error("bad slashing configuration")]
    BadConfig,
    /// The proof is over the size limits.
    #[error("proof of {bytes} bytes / {renditions} renditions over the limits")]
    TooLarge {
        /// Bytes.
        bytes: usize,
        /// Renditions.
        renditions: usize,
    },
    /// The claim's signature is malformed or not the orchestrator's.
    #[error("claim not signed by {orchestrator:?}")]
    NotSigned {
        /// The accused.
        orchestrator: Address,
    },
    /// The source does not hash to the claim's source hash.
    #[error("the source is not the one claimed")]
    SourceNotClaimed,
    /// The compute input does not hash to the claim's input hash.
    #[error("the input is not the one claimed")]
    InputNotClaimed,
    /// A rendition does not hash to its signed hash.
    #[error("rendition {index} is not the one signed")]
    RenditionNotSigned {
        /// Its index.
        index: usize,
    },
    /// Renditions supplied differ in number from the claim.
    #[error("{supplied} renditions for a claim of {claimed}")]
    RenditionCount {
        /// In the claim.
        claimed: usize,
        /// Supplied.
        supplied: usize,
    },
    /// The claim names a profile this build does not know.
    #[error("unknown profile {0:?}")]
    UnknownProfile(String),
    /// The judge could not parse a segment.
    #[error("segment {index} does not parse (usize::MAX = source)")]
    Unparsable {
        /// Rendition index, or `usize::MAX` for the source.
        index: usize,
    },
    /// The judge does not know the workload.
    #[error("unknown workload {0:?}")]
    UnknownWorkload(String),
    /// Re-derivation found no fault: the work was right.
    #[error("no fault re-derived")]
    NoFault,
    /// This fault was already slashed.
    #[error("fault {0:?} already reported")]
    AlreadyReported(H256),
    /// The staking state refused the slash.
    #[error(transparent)]
    Staking(#[from] StakingError),
}

/// What a verified report did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlashOutcome {
    /// The fault's id (one slash per id).
    pub fault_id: H256,
    /// Taken from the pool.
    pub slashed: Slashed,
    /// Paid to the reporter.
    pub bonus: U256,
    /// Burned.
    pub burned: U256,
}

/// The slasher: verifies reports, applies them to [`Staking`], keeps the reported set,
/// the reporters' bonuses and the burned total.
#[derive(Clone, Debug)]
pub struct Slasher {
    config: SlashingConfig,
    reported: BTreeSet<H256>,
    bonuses: BTreeMap<Address, U256>,
    burned: U256,
}

impl Slasher {
    /// A slasher; refuses fractions outside their ranges.
    pub fn new(config: SlashingConfig) -> Result<Self, SlashError> {
        if config.fraction_ppm == 0 || config.fraction_ppm > PPM || config.reporter_bonus_ppm > PPM {
            return Err(SlashError::BadConfig);
        }
        Ok(Slasher { config, reported: BTreeSet::new(), bonuses: BTreeMap::new(), burned: U256::zero() })
    }

    /// Bonuses paid to `reporter` so far.
    pub fn bonus_of(&self, reporter: &Address) -> U256 {
        self.bonuses.get(reporter).copied().unwrap_or_default()
    }

    /// Everything burned so far.
    pub fn burned(&self) -> U256 {
        self.burned
    }

    /// Whether a fault id was slashed.
    pub fn is_reported(&self, fault_id: &H256) -> bool {
        self.reported.contains(fault_id)
    }

    /// The id of a transcode fault: one per (orchestrator, stream, sequence).
    pub fn transcode_fault_id(orchestrator: &Address, claim: &TranscodeClaim) -> H256 {
        keccak256_concat([
            b"transcode".as_slice(),
            orchestrator.as_bytes(),
            &claim.stream_id,
            &claim.sequence.to_be_bytes(),
        ])
    }

    /// The id of a compute fault: one per (orchestrator, job).
    pub fn compute_fault_id(orchestrator: &Address, claim: &ComputeClaim) -> H256 {
        keccak256_concat([b"compute".as_slice(), orchestrator.as_bytes(), claim.job_id.as_bytes()])
    }

    /// Verifies `proof` against `orchestrator` without applying it; returns the fault id.
    pub fn verify(
        &self,
        orchestrator: &Address,
        proof: &FaultProof,
        judge: &dyn FaultJudge,
    ) -> Result<H256, SlashError> {
        match proof {
            FaultProof::Transcode { evidence, source, renditions } => {
                let claim = &evidence.claim;
                let bytes = renditions.iter().fold(source.len(), |a, r| a.saturating_add(r.len()));
                if bytes > self.config.max_proof_bytes || renditions.len() > self.config.max_renditions {
                    return Err(SlashError::TooLarge { bytes, renditions: renditions.len() });
                }
                if claim.orchestrator != *orchestrator || claim.verify_signature().is_err() {
                    return Err(SlashError::NotSigned { orchestrator: *orchestrator });
                }
                let source_hash = rendition_hash(source);
                if source_hash != claim.source_hash {
                    return Err(SlashError::SourceNotClaimed);
                }
                if renditions.len() != claim.renditions.len() {
                    return Err(SlashError::RenditionCount {
                        claimed: claim.renditions.len(),
                        supplied: renditions.len(),
                    });
                }
                let mut profiles = Vec::with_capacity(claim.renditions.len());
                let mut observed = Vec::with_capacity(renditions.len());
                for (index, (c, bytes)) in claim.renditions.iter().zip(renditions).enumerate() {
                    let hash = rendition_hash(bytes);
                    if hash != c.hash {
                        return Err(SlashError::RenditionNotSigned { index });
                    }
                    profiles.push(
                        Profile::by_name(&c.profile)
                            .ok_or_else(|| SlashError::UnknownProfile(c.profile.clone()))?,
                    );
                    let facts = judge.probe(bytes).ok_or(SlashError::Unparsable { index })?;
                    observed.push(RenditionFacts { hash, ..facts });
                }
                let src = judge.probe(source).ok_or(SlashError::Unparsable { index: usize::MAX })?;
                let expect = SegmentExpectation {
                    profiles,
                    source_width: src.width,
                    source_height: src.height,
                    source_duration_us: src.duration_us,
                    source_hash,
                    orchestrator: *orchestrator,
                    // The price is between broadcaster and orchestrator; the slasher judges
                    // the work, so the signed price is taken as agreed.
                    price: claim.price,
                };
                let faults = cheap_checks(&expect, claim, &observed);
                let perceptual = || {
                    evidence.faults.iter().any(|f| !f.is_cheap())
                        && judge.confirm_perceptual(evidence, source, renditions)
                };
                if faults.is_empty() && !perceptual() {
                    return Err(SlashError::NoFault);
                }
                Ok(Self::transcode_fault_id(orchestrator, claim))
            }
            FaultProof::Compute { claim, input } => {
                if input.len() > self.config.max_proof_bytes {
                    return Err(SlashError::TooLarge { bytes: input.len(), renditions: 0 });
                }
                let digest = ComputeClaim::digest(
                    &claim.job_id,
                    &claim.workload,
                    &claim.input_hash,
                    &claim.output_hash,
                );
                if claim.signature.verify(&digest, *orchestrator).is_err() {
                    return Err(SlashError::NotSigned { orchestrator: *orchestrator });
                }
                if keccak256(input) != claim.input_hash {
                    return Err(SlashError::InputNotClaimed);
                }
                let output = judge
                    .reexecute(&claim.workload, input)
                    .ok_or_else(|| SlashError::UnknownWorkload(claim.workload.clone()))?;
                if output == claim.output_hash {
                    return Err(SlashError::NoFault);
                }
                Ok(Self::compute_fault_id(orchestrator, claim))
            }
        }
    }

    /// Verifies `proof` and, if it holds and was not reported before, slashes
    /// `fraction_ppm` of everything bonded to `orchestrator`, pays `reporter` the bonus
    /// share (floored) and burns the rest.
    pub fn report(
        &mut self,
        staking: &mut Staking,
        orchestrator: Address,
        reporter: Address,
        proof: &FaultProof,
        judge: &dyn FaultJudge,
    ) -> Result<SlashOutcome, SlashError> {
        let fault_id = self.verify(&orchestrator, proof, judge)?;
        if self.reported.contains(&fault_id) {
            return Err(SlashError::AlreadyReported(fault_id));
        }
        let before = self.bonus_of(&reporter);
        let slashed = staking.slash(orchestrator, self.config.fraction_ppm)?;
        let total = slashed.total();
        // bonus ≤ total, so neither sum can overflow past what staking already held.
        let bonus =
            total.full_mul(U256::from(self.config.reporter_bonus_ppm)) / primitive_types::U512::from(PPM);
        let bonus = U256::try_from(bonus).unwrap_or(total);
        let burned = total - bonus;
        self.bonuses.insert(reporter, before.saturating_add(bonus));
        self.burned = self.burned.saturating_add(burned);
        self.reported.insert(fault_id);
        Ok(SlashOutcome { fault_id, slashed, bonus, burned })
    }
}
