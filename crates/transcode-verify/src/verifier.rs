//! The verifier: sampling policy, cheap checks and perceptual checks combined into a
//! verdict.

use crate::checks::{RenditionFacts, SegmentExpectation, cheap_checks};
use crate::claim::TranscodeClaim;
use crate::error::Error;
use crate::frame::Frame;
use crate::perceptual::{PerceptualReport, Thresholds, perceptual_check};
use crate::policy::SamplingPolicy;
use crate::verdict::{Evidence, Verdict};

/// Verifier settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VerifierConfig {
    /// Sample 1 in `rate` segments for the perceptual checks.
    pub rate: u32,
    /// Frames per rendition for PSNR/SSIM.
    pub frames_per_check: usize,
    /// Renditions checked perceptually per sampled segment (chosen secretly).
    pub renditions_per_sample: usize,
    /// Detector thresholds.
    pub thresholds: Thresholds,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        Self { rate: 10, frames_per_check: 8, renditions_per_sample: 1, thresholds: Thresholds::default() }
    }
}

/// A broadcaster-side verifier holding the secret sampling seed.
#[derive(Clone, Debug)]
pub struct Verifier {
    config: VerifierConfig,
    policy: SamplingPolicy,
}

impl Verifier {
    /// A verifier with a secret seed the orchestrator must not learn.
    pub fn new(config: VerifierConfig, secret: [u8; 32]) -> Self {
        Self { policy: SamplingPolicy::new(config.rate, secret), config }
    }

    /// The configuration.
    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// Step 1, every segment: the cheap checks.
    pub fn cheap(
        &self,
        expect: &SegmentExpectation,
        claim: &TranscodeClaim,
        observed: &[RenditionFacts],
    ) -> Vec<crate::Fault> {
        cheap_checks(expect, claim, observed)
    }

    /// Step 2: whether this segment gets the perceptual checks (secret, 1 in `rate`).
    pub fn is_sampled(&self, claim: &TranscodeClaim) -> bool {
        self.policy.is_sampled(&claim.segment_id())
    }

    /// Step 2b: which renditions of a sampled segment get the perceptual checks (secret).
    pub fn renditions_to_check(&self, claim: &TranscodeClaim) -> Vec<usize> {
        let n = claim.renditions.len();
        self.policy.renditions(&claim.segment_id(), n, self.config.renditions_per_sample.max(1))
    }

    /// Step 3, sampled segments: compare rendition `index` with the local reference
    /// (uncompressed) and, if given, the verifier's own encode of the same profile.
    pub fn perceptual(
        &self,
        claim: &TranscodeClaim,
        index: u32,
        reference: &[Frame],
        local: Option<&[Frame]>,
        rendition: &[Frame],
    ) -> Result<PerceptualReport, Error> {
        let n = reference.len().min(rendition.len());
        let sampled = self.policy.frames(&claim.segment_id(), index, n, self.config.frames_per_check);
        perceptual_check(index, reference, local, rendition, &sampled, &self.config.thresholds)
    }

    /// Step 4: the verdict from the cheap faults and the perceptual reports (empty when
    /// the segment was not sampled).
    pub fn verdict(
        &self,
        claim: &TranscodeClaim,
        cheap: Vec<crate::Fault>,
        sampled: bool,
        reports: Vec<(u32, PerceptualReport)>,
    ) -> Verdict {
        let mut faults = cheap;
        let mut metrics = Vec::new();
        for (i, r) in reports {
            faults.extend(r.faults);
            metrics.push((i, r.metrics));
        }
        if !faults.is_empty() {
            return Verdict::Fault(Box::new(Evidence { claim: claim.clone(), faults, metrics }));
        }
        if sampled { Verdict::Passed { metrics } } else { Verdict::PassedCheap }
    }
}
