//! Faults, evidence and verdicts.

use parity_scale_codec::{Decode, Encode};

use primitives::Address;

use crate::claim::{ClaimPrice, TranscodeClaim, decode_versioned, encode_versioned};
use crate::error::Error;
use crate::perceptual::FrameMetrics;

/// One provable problem with a transcoded segment.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[non_exhaustive]
pub enum Fault {
    /// The claim's signature does not recover to the orchestrator it names.
    BadSignature,
    /// The claim names another orchestrator than the one the segment was sent to.
    WrongOrchestrator {
        /// The orchestrator hired.
        expected: Address,
        /// The one the claim names.
        claimed: Address,
    },
    /// The claim states another price than the one agreed.
    PriceMismatch {
        /// The price agreed.
        expected: ClaimPrice,
        /// The price claimed.
        claimed: ClaimPrice,
    },
    /// The claim names another source segment.
    SourceMismatch,
    /// Wrong number of renditions (claimed or delivered).
    RenditionCount {
        /// Profiles in the job.
        expected: u32,
        /// Renditions in the claim.
        claimed: u32,
        /// Renditions delivered.
        found: u32,
    },
    /// Delivered bytes do not hash to the signed hash.
    HashMismatch {
        /// Rendition index.
        rendition: u32,
    },
    /// The claim names another profile.
    WrongProfile {
        /// Rendition index.
        rendition: u32,
    },
    /// Resolution differs from the profile's aspect-preserving fit.
    Resolution {
        /// Rendition index.
        rendition: u32,
        /// Expected (w, h).
        expected: (u32, u32),
        /// Found (w, h).
        found: (u32, u32),
    },
    /// Frame count off by more than one.
    FrameCount {
        /// Rendition index.
        rendition: u32,
        /// Expected frames.
        expected: u64,
        /// Found frames.
        found: u64,
    },
    /// Duration differs from the source by more than a frame.
    Duration {
        /// Rendition index.
        rendition: u32,
        /// Expected, microseconds.
        expected_us: u64,
        /// Found, microseconds.
        found_us: u64,
    },
    /// Declared frame rate differs from the profile.
    FrameRate {
        /// Rendition index.
        rendition: u32,
        /// Expected (num, den).
        expected: (u32, u32),
        /// Found (num, den).
        found: (u32, u32),
    },
    /// The claimed pixel count differs from frames·w·h of the delivered rendition.
    PixelCount {
        /// Rendition index.
        rendition: u32,
        /// Claimed.
        claimed: u64,
        /// Computed from the rendition.
        computed: u64,
    },
    /// A black frame where the source is not black.
    BlackFrame {
        /// Rendition index.
        rendition: u32,
        /// First such frame.
        frame: u32,
    },
    /// A frame repeating its predecessor while the source moves.
    FrozenFrame {
        /// Rendition index.
        rendition: u32,
        /// First such frame.
        frame: u32,
    },
    /// Frames match the source better at another time offset (shifted or dropped frames).
    Misaligned {
        /// Rendition index.
        rendition: u32,
        /// First misaligned frame.
        frame: u32,
        /// Its best offset in frames.
        offset: i32,
        /// Misaligned frames in the segment.
        frames: u32,
    },
    /// Luma PSNR or SSIM below threshold on a sampled frame.
    LowQuality {
        /// Rendition index.
        rendition: u32,
        /// The frame's metrics.
        metrics: FrameMetrics,
    },
    /// Chroma PSNR below threshold (colour changed).
    ColourShift {
        /// Rendition index.
        rendition: u32,
        /// The frame's metrics.
        metrics: FrameMetrics,
    },
    /// A region far worse than the rest of the frame (overlay, watermark, patch).
    LocalDistortion {
        /// Rendition index.
        rendition: u32,
        /// The frame's metrics.
        metrics: FrameMetrics,
    },
    /// The rendition lacks the fine detail (the top of the spectrum) that the local
    /// encode keeps on the checked frames: encoded at a lower resolution and scaled up,
    /// or blurred.
    FineDetailLoss {
        /// Rendition index.
        rendition: u32,
        /// First checked frame that lacks it.
        frame: u32,
        /// Median over the checked frames of the rendition's fine detail relative to
        /// what the rule asks for, × 10000 (below 10000 fails).
        score_e4: u32,
    },
}

impl Fault {
    /// Whether a third party can check this fault from the claim and rendition bytes
    /// alone (no source needed): signature, count, hash, resolution, frames, pixels.
    pub fn is_cheap(&self) -> bool {
        !matches!(
            self,
            Fault::BlackFrame { .. }
                | Fault::FrozenFrame { .. }
                | Fault::Misaligned { .. }
                | Fault::LowQuality { .. }
                | Fault::ColourShift { .. }
                | Fault::LocalDistortion { .. }
                | Fault::FineDetailLoss { .. }
        )
    }
}

/// Evidence for a fault claim: the orchestrator's signed claim, the faults, and the
/// sampled frames' metrics. A judge re-derives the faults from the claim, the source
/// and the renditions whose hashes the claim signs.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Evidence {
    /// The signed claim.
    pub claim: TranscodeClaim,
    /// Every fault found.
    pub faults: Vec<Fault>,
    /// Metrics of the sampled frames, per rendition checked.
    pub metrics: Vec<(u32, Vec<FrameMetrics>)>,
}

impl Evidence {
    /// Versioned SCALE encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode_versioned(self)
    }

    /// Decodes evidence from untrusted bytes of at most `limit` bytes.
    pub fn from_bytes(bytes: &[u8], limit: usize) -> Result<Self, Error> {
        decode_versioned(bytes, limit)
    }
}

/// The outcome of verifying one segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Cheap checks passed and the segment was not sampled.
    PassedCheap,
    /// Cheap and perceptual checks passed.
    Passed {
        /// Metrics of the sampled frames.
        metrics: Vec<(u32, Vec<FrameMetrics>)>,
    },
    /// A fault was found.
    Fault(Box<Evidence>),
}

impl Verdict {
    /// Whether the segment failed.
    pub fn is_fault(&self) -> bool {
        matches!(self, Verdict::Fault(_))
    }
}
