//! What the market sells: job kinds, capabilities with their unit price, and the
//! verification policy that goes with each kind.
//!
//! The market is generic over the job kind. Transcoding is the first kind with real
//! verification (fault-based, through `transcode-verify`); [`JobKind::Compute`] names any
//! other workload (an AI model, a render job) by an opaque id and is priced per unit of work,
//! so nothing in the registry, negotiation or selection assumes video.

use parity_scale_codec::{Decode, Encode};
use primitives::U256;

/// Where a transcoding capability runs. GPU and CPU work is priced separately because
/// their costs differ by an order of magnitude.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub enum Hardware {
    /// Software encoding (libx264).
    Cpu,
    /// Hardware encoding (NVENC or another GPU encoder).
    Gpu,
}

/// A kind of job an orchestrator can be paid for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub enum JobKind {
    /// H.264 transcoding into one profile of the ladder, named as go-livepeer names it
    /// (`"P720p30fps16x9"`, …); the unit of work is one output pixel.
    Transcode {
        /// The output profile's name.
        profile: String,
        /// Where the encode runs.
        hardware: Hardware,
    },
    /// Generic compute: a model or workload identified by an opaque id, priced per unit
    /// of work as the workload defines it (an inference, a frame rendered, …).
    Compute {
        /// The workload id, e.g. `"sha256-chain/v1"` or a model hash.
        workload: String,
    },
}

impl JobKind {
    /// A short stable name for logs and metrics: `transcode` or `compute`.
    pub fn family(&self) -> &'static str {
        match self {
            JobKind::Transcode { .. } => "transcode",
            JobKind::Compute { .. } => "compute",
        }
    }

    /// `family/name` (`transcode/P720p30fps16x9/gpu`, `compute/sha256-chain/v1`): how
    /// protocol errors name a kind.
    pub fn label(&self) -> String {
        match self {
            JobKind::Transcode { profile, hardware } => {
                let hw = match hardware {
                    Hardware::Cpu => "cpu",
                    Hardware::Gpu => "gpu",
                };
                format!("transcode/{profile}/{hw}")
            }
            JobKind::Compute { workload } => format!("compute/{workload}"),
        }
    }

    /// The name inside the kind (profile or workload id), for length checks on decode.
    pub fn name(&self) -> &str {
        match self {
            JobKind::Transcode { profile, .. } => profile,
            JobKind::Compute { workload } => workload,
        }
    }
}

/// How a buyer checks the work of one job kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub enum VerificationPolicy {
    /// No check: only for trusted parties (an orchestrator's own transcoders).
    Trusted,
    /// Sample one job in `rate` with a secret the worker cannot predict and check it
    /// (perceptual checks for transcoding, re-execution for deterministic compute).
    Sampled {
        /// One in `rate` jobs is checked; `1` checks every job. Never zero.
        rate: u32,
    },
}

impl VerificationPolicy {
    /// Whether the policy is well-formed (a sampled rate is at least 1).
    pub fn is_valid(&self) -> bool {
        !matches!(self, VerificationPolicy::Sampled { rate: 0 })
    }
}

/// One thing an orchestrator offers: a job kind at a unit price, with the verification
/// policy buyers apply to it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct Capability {
    /// What is sold.
    pub kind: JobKind,
    /// Price in wei per unit of work (per output pixel for transcoding).
    pub price_per_unit: U256,
    /// How buyers verify it.
    pub verification: VerificationPolicy,
}

impl Capability {
    /// The price of `units` units of work, or `None` if it overflows `U256`.
    pub fn price_of(&self, units: u64) -> Option<U256> {
        self.price_per_unit.checked_mul(U256::from(units))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_of_multiplies_and_reports_overflow() {
        let cap = Capability {
            kind: JobKind::Compute { workload: "w".into() },
            price_per_unit: U256::from(3u8),
            verification: VerificationPolicy::Sampled { rate: 10 },
        };
        assert_eq!(cap.price_of(7), Some(U256::from(21u8)));
        let huge = Capability { price_per_unit: U256::MAX, ..cap };
        assert_eq!(huge.price_of(2), None);
        assert_eq!(huge.price_of(1), Some(U256::MAX));
    }

    #[test]
    fn sampled_rate_zero_is_invalid() {
        assert!(!VerificationPolicy::Sampled { rate: 0 }.is_valid());
        assert!(VerificationPolicy::Sampled { rate: 1 }.is_valid());
        assert!(VerificationPolicy::Trusted.is_valid());
    }

    #[test]
    fn families() {
        let t = JobKind::Transcode { profile: "P720p30fps16x9".into(), hardware: Hardware::Gpu };
        assert_eq!(t.family(), "transcode");
        assert_eq!(JobKind::Compute { workload: "x".into() }.family(), "compute");
    }
}
