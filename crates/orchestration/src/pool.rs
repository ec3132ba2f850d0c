//! Transcoder pools: an orchestrator dispatches work to its own (trusted) transcoders and
//! to public ones, and verifies the public ones' results at a configured rate through
//! `transcode-verify`'s [`Verdict`]; a caught transcoder is dropped from the pool and not
//! paid for the caught segment or anything after (Livepeer Streamflow, "orchestrator and
//! transcoder split"; DESIGN.md section 4.6).
//!
//! Call order: [`Pool::add`] transcoders → per segment [`Pool::assign`] (which transcoder,
//! and whether its result must be verified) → the host runs the work, and for a verified
//! assignment runs `transcode-verify` → [`Pool::complete`] with the verdict (or
//! [`Pool::fail`] when the transcoder did not answer).
//!
//! Sampling is keyed by a secret from the pool's seed, so a public transcoder cannot tell
//! which of its segments are checked.

use std::collections::BTreeMap;

use primitives::{H256, U256, keccak256_concat};
use transcode_verify::{Evidence, Verdict};

/// Whether a transcoder's work is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trust {
    /// The orchestrator's own: never checked.
    Trusted,
    /// A public transcoder: sampled 1 in [`PoolConfig::public_verify_rate`].
    Public,
}

/// Pool settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// One public result in this many is verified (at least 1: every result).
    pub public_verify_rate: u32,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig { public_verify_rate: 4 }
    }
}

/// Typed pool errors.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// No transcoder with free capacity.
    #[error("no transcoder available ({dropped} dropped, {busy} busy)")]
    NoTranscoder {
        /// Transcoders dropped for faults.
        dropped: usize,
        /// Transcoders at capacity.
        busy: usize,
    },
    /// A transcoder id added twice.
    #[error("transcoder {id} already in the pool")]
    Duplicate {
        /// The id.
        id: u64,
    },
    /// A job id assigned twice.
    #[error("job {job} already assigned")]
    JobInUse {
        /// The job.
        job: u64,
    },
    /// A job the pool never assigned (or already completed).
    #[error("unknown job {job}")]
    UnknownJob {
        /// The job.
        job: u64,
    },
    /// The assignment must be verified and no verdict was given.
    #[error("job {job} needs a verdict")]
    VerdictRequired {
        /// The job.
        job: u64,
    },
    /// An amount overflowed.
    #[error("amount overflow")]
    Overflow,
}

/// Where a job goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// The job id (the caller's).
    pub job: u64,
    /// The transcoder chosen.
    pub transcoder: u64,
    /// Whether the result must be verified before it is used and paid.
    pub verify: bool,
}

/// What a completed job settled to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// The result is used; the transcoder is owed `amount`.
    Paid {
        /// The transcoder.
        transcoder: u64,
        /// What it is owed for the job.
        amount: U256,
    },
    /// The result failed verification: not used, not paid, the transcoder dropped. The
    /// evidence can back a claim against it.
    Caught {
        /// The transcoder.
        transcoder: u64,
        /// The verifier's evidence.
        evidence: Box<Evidence>,
    },
    /// The transcoder was dropped while the job was out: its result is not used or paid.
    Discarded {
        /// The transcoder.
        transcoder: u64,
    },
}

#[derive(Clone, Debug)]
struct Member {
    trust: Trust,
    capacity: u32,
    load: u32,
    price_per_unit: U256,
    dropped: bool,
    owed: U256,
    jobs_done: u64,
}

#[derive(Clone, Copy, Debug)]
struct Out {
    transcoder: u64,
    units: u64,
    verify: bool,
}

/// A transcoder pool.
///
/// Invariants: a dropped transcoder is never assigned again and is owed nothing for any
/// job completed after it was caught; a job is settled once; a public transcoder's job is
/// paid only after a passing verdict when it was sampled.
#[derive(Clone, Debug)]
pub struct Pool {
    config: PoolConfig,
    secret: H256,
    members: BTreeMap<u64, Member>,
    out: BTreeMap<u64, Out>,
}

impl Pool {
    /// An empty pool; `seed` keys the secret sampling.
    pub fn new(config: PoolConfig, seed: [u8; 32]) -> Self {
        Pool {
            config,
            secret: keccak256_concat([b"meshcast/orchestration/pool".as_slice(), seed.as_slice()]),
            members: BTreeMap::new(),
            out: BTreeMap::new(),
        }
    }

    /// Adds a transcoder that takes `capacity` jobs at once and is paid `price_per_unit`
    /// per unit of work.
    pub fn add(
        &mut self,
        id: u64,
        trust: Trust,
        capacity: u32,
        price_per_unit: U256,
    ) -> Result<(), PoolError> {
        if self.members.contains_key(&id) {
            return Err(PoolError::Duplicate { id });
        }
        self.members.insert(
            id,
            Member {
                trust,
                capacity,
                load: 0,
                price_per_unit,
                dropped: false,
                owed: U256::zero(),
                jobs_done: 0,
            },
        );
        Ok(())
    }

    /// Whether transcoder `id` was dropped.
    pub fn is_dropped(&self, id: u64) -> bool {
        self.members.get(&id).is_some_and(|m| m.dropped)
    }

    /// What transcoder `id` is owed in all.
    pub fn owed(&self, id: u64) -> U256 {
        self.members.get(&id).map_or(U256::zero(), |m| m.owed)
    }

    /// Jobs transcoder `id` was paid for.
    pub fn jobs_done(&self, id: u64) -> u64 {
        self.members.get(&id).map_or(0, |m| m.jobs_done)
    }

    fn sampled(&self, job: u64) -> bool {
        let h = keccak256_concat([self.secret.as_bytes(), job.to_be_bytes().as_slice()]);
        let mut v = [0u8; 8];
        v.copy_from_slice(&h.as_bytes()[..8]);
        u64::from_be_bytes(v) % u64::from(self.config.public_verify_rate.max(1)) == 0
    }

    /// Assigns job `job` of `units` units: the trusted transcoder with the lowest load,
    /// else the public one with the lowest load (ties by id). A public transcoder's job is
    /// marked for verification on a secret 1-in-rate sample.
    pub fn assign(&mut self, job: u64, units: u64) -> Result<Assignment, PoolError> {
        if self.out.contains_key(&job) {
            return Err(PoolError::JobInUse { job });
        }
        let pick = self
            .members
            .iter()
            .filter(|(_, m)| !m.dropped && m.load < m.capacity)
            .min_by_key(|(id, m)| (m.trust, m.load, **id))
            .map(|(id, m)| (*id, m.trust));
        let Some((transcoder, trust)) = pick else {
            let dropped = self.members.values().filter(|m| m.dropped).count();
            let busy = self.members.values().filter(|m| !m.dropped && m.load >= m.capacity).count();
            return Err(PoolError::NoTranscoder { dropped, busy });
        };
        let verify = trust == Trust::Public && self.sampled(job);
        if let Some(m) = self.members.get_mut(&transcoder) {
            m.load += 1;
        }
        self.out.insert(job, Out { transcoder, units, verify });
        Ok(Assignment { job, transcoder, verify })
    }

    /// Settles job `job` with the verdict on its result (`None` when the assignment was
    /// not marked for verification). A fault drops the transcoder, unpaid.
    pub fn complete(&mut self, job: u64, verdict: Option<&Verdict>) -> Result<Settlement, PoolError> {
        let o = *self.out.get(&job).ok_or(PoolError::UnknownJob { job })?;
        if o.verify && verdict.is_none() {
            return Err(PoolError::VerdictRequired { job });
        }
        let m = self.members.get_mut(&o.transcoder).ok_or(PoolError::UnknownJob { job })?;
        let amount = m.price_per_unit.checked_mul(U256::from(o.units)).ok_or(PoolError::Overflow)?;
        self.out.remove(&job);
        m.load = m.load.saturating_sub(1);
        if m.dropped {
            return Ok(Settlement::Discarded { transcoder: o.transcoder });
        }
        if let Some(Verdict::Fault(evidence)) = verdict {
            m.dropped = true;
            return Ok(Settlement::Caught { transcoder: o.transcoder, evidence: evidence.clone() });
        }
        m.owed = m.owed.checked_add(amount).ok_or(PoolError::Overflow)?;
        m.jobs_done += 1;
        Ok(Settlement::Paid { transcoder: o.transcoder, amount })
    }

    /// The transcoder did not deliver job `job`: it frees the slot, nothing is owed.
    pub fn fail(&mut self, job: u64) -> Result<u64, PoolError> {
        let o = self.out.remove(&job).ok_or(PoolError::UnknownJob { job })?;
        if let Some(m) = self.members.get_mut(&o.transcoder) {
            m.load = m.load.saturating_sub(1);
        }
        Ok(o.transcoder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use transcode_verify::{
        ClaimPrice, Fps, Profile, RenditionClaim, RenditionFacts, SecretKey, SegmentExpectation,
        TranscodeClaim, Verifier, VerifierConfig,
    };

    /// A real verdict from transcode-verify's cheap checks: honest, or with the rendition
    /// delivered at the wrong resolution.
    fn verdict(honest: bool) -> Verdict {
        let key = SecretKey::from_bytes([3; 32]).unwrap();
        let price = ClaimPrice { price_per_unit: U256::one(), pixels_per_unit: U256::one() };
        let width = if honest { 640 } else { 480 };
        let claim = TranscodeClaim::signed(
            [1; 32],
            1,
            [2; 32],
            price,
            vec![RenditionClaim {
                profile: Profile::P360P30.name.into(),
                width,
                height: 360,
                frames: 60,
                pixels: 60 * u64::from(width) * 360,
                hash: [4; 32],
            }],
            &key,
        );
        let expect = SegmentExpectation {
            profiles: vec![Profile::P360P30],
            source_width: 1280,
            source_height: 720,
            source_duration_us: 2_000_000,
            source_hash: [2; 32],
            orchestrator: key.address(),
            price,
        };
        let facts = RenditionFacts {
            width,
            height: 360,
            frames: 60,
            duration_us: 2_000_000,
            fps: Some(Fps::whole(30)),
            hash: [4; 32],
        };
        let v = Verifier::new(VerifierConfig::default(), [9; 32]);
        let cheap = v.cheap(&expect, &claim, &[facts]);
        v.verdict(&claim, cheap, false, vec![])
    }

    #[test]
    fn trusted_first_then_least_loaded_public() {
        let mut p = Pool::new(PoolConfig { public_verify_rate: 1 }, [0; 32]);
        p.add(1, Trust::Public, 2, U256::one()).unwrap();
        p.add(2, Trust::Trusted, 1, U256::one()).unwrap();
        p.add(3, Trust::Public, 2, U256::one()).unwrap();
        assert_eq!(p.add(3, Trust::Public, 2, U256::one()), Err(PoolError::Duplicate { id: 3 }));
        let a = p.assign(10, 5).unwrap();
        assert_eq!((a.transcoder, a.verify), (2, false), "trusted, never verified");
        assert_eq!(p.assign(11, 5).unwrap().transcoder, 1);
        assert_eq!(p.assign(12, 5).unwrap().transcoder, 3);
        assert!(p.assign(13, 5).unwrap().verify, "rate 1: every public job is verified");
        assert_eq!(p.assign(13, 5), Err(PoolError::JobInUse { job: 13 }));
        assert_eq!(p.assign(14, 5).unwrap().transcoder, 3);
        assert_eq!(p.assign(15, 5), Err(PoolError::NoTranscoder { dropped: 0, busy: 3 }));
        assert_eq!(p.complete(10, None), Ok(Settlement::Paid { transcoder: 2, amount: U256::from(5u8) }));
        assert_eq!(p.complete(11, None), Err(PoolError::VerdictRequired { job: 11 }));
        assert_eq!(p.fail(11), Ok(1));
        assert_eq!(p.owed(1), U256::zero());
    }

    #[test]
    fn a_caught_public_transcoder_is_dropped_and_not_paid() {
        let mut p = Pool::new(PoolConfig { public_verify_rate: 1 }, [0; 32]);
        p.add(1, Trust::Public, 4, U256::from(2u8)).unwrap();
        p.add(2, Trust::Public, 4, U256::from(2u8)).unwrap();
        let a = p.assign(1, 10).unwrap();
        let b = p.assign(2, 10).unwrap();
        let c = p.assign(3, 10).unwrap();
        assert_eq!((a.transcoder, b.transcoder, c.transcoder), (1, 2, 1));
        assert_eq!(
            p.complete(1, Some(&verdict(true))),
            Ok(Settlement::Paid { transcoder: 1, amount: U256::from(20u8) })
        );
        match p.complete(3, Some(&verdict(false))).unwrap() {
            Settlement::Caught { transcoder: 1, evidence } => {
                assert!(
                    evidence.faults.iter().any(|f| matches!(f, transcode_verify::Fault::Resolution { .. }))
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(p.is_dropped(1));
        assert_eq!(p.owed(1), U256::from(20u8), "paid only for the job before it was caught");
        // Never assigned again.
        for job in 10..13 {
            assert_eq!(p.assign(job, 1).unwrap().transcoder, 2);
        }
        assert_eq!(
            p.complete(2, Some(&verdict(true))),
            Ok(Settlement::Paid { transcoder: 2, amount: U256::from(20u8) })
        );
        assert_eq!(p.complete(99, None), Err(PoolError::UnknownJob { job: 99 }));
    }

    #[test]
    fn jobs_out_when_caught_are_discarded_unpaid() {
        let mut p = Pool::new(PoolConfig { public_verify_rate: 1 }, [0; 32]);
        p.add(1, Trust::Public, 4, U256::one()).unwrap();
        p.assign(1, 10).unwrap();
        p.assign(2, 10).unwrap();
        assert!(matches!(p.complete(1, Some(&verdict(false))), Ok(Settlement::Caught { .. })));
        assert_eq!(p.complete(2, Some(&verdict(true))), Ok(Settlement::Discarded { transcoder: 1 }));
        assert_eq!(p.owed(1), U256::zero());
        assert_eq!(p.assign(3, 1), Err(PoolError::NoTranscoder { dropped: 1, busy: 0 }));
    }

    #[test]
    fn public_sampling_is_near_the_rate_and_secret() {
        let count = |seed: u8| {
            let mut p = Pool::new(PoolConfig { public_verify_rate: 4 }, [seed; 32]);
            p.add(1, Trust::Public, u32::MAX, U256::one()).unwrap();
            (0..4_000u64).map(|j| p.assign(j, 1).unwrap().verify).collect::<Vec<_>>()
        };
        let (a, b) = (count(1), count(2));
        let n = a.iter().filter(|v| **v).count();
        assert!((850..1_150).contains(&n), "{n}");
        assert_ne!(a, b, "another secret samples other jobs");
    }
}
