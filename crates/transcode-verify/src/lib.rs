//! # transcode-verify
//!
//! Fault-based verification of transcoded video segments (Livepeer Streamflow,
//! "Transcoder verification"; DESIGN.md section 4.8). Pure: no FFmpeg, no I/O, no clock.
//! The embedder decodes video (gpu-encode does) and hands this crate planes and facts.
//!
//! ## Model
//! An orchestrator transcodes each source segment into a ladder of [`Profile`]s and signs
//! a [`TranscodeClaim`] over the rendition hashes, naming its address and the agreed price,
//! with a recoverable secp256k1 signature through [`Signer`]. The broadcaster's [`Verifier`]
//! 1. runs the **cheap checks** on every segment ([`cheap_checks`]): signature (it must
//!    recover to the orchestrator hired), agreed price, source
//!    hash, rendition count, hash of each delivered rendition, resolution against the
//!    profile's aspect-preserving fit, frame count, duration, frame rate, pixel count;
//! 2. samples **1 in `rate`** segments with a secret seed ([`SamplingPolicy`]: a keyed
//!    keccak of the segment id), so the orchestrator cannot tell which segments matter;
//! 3. on sampled segments, compares each decoded rendition with its **local reference**
//!    (the source scaled and rate-converted as the profile asks) and the verifier's own
//!    **local encode** of the profile (which calibrates the thresholds to the content) with
//!    [`perceptual_check`]: PSNR, SSIM, chroma PSNR and outlier blocks on secretly
//!    sampled frames, and black-frame, frozen-frame and temporal-alignment detectors on
//!    every frame;
//! 4. returns a [`Verdict`]; a fault carries [`Evidence`] (the signed claim, the faults,
//!    the metrics), encodable for an on-chain fault claim.
//!
//! ## Invariants
//! - Thresholds accept an honest encoder different from the verifier's (other preset,
//!   rate control or hardware encoder): they bound quality against the uncompressed
//!   reference, not bit-exactness.
//! - Sampling is a pure function of (secret, segment id): reproducible by the verifier,
//!   unpredictable to the orchestrator.
//! - Decoders of untrusted bytes ([`TranscodeClaim::from_bytes`],
//!   [`Evidence::from_bytes`]) take a size limit and return typed errors.
//!
//! ## Example
//! ```
//! use transcode_verify::{Frame, Thresholds, perceptual_check, metrics};
//!
//! // A moving gradient as the reference, an honest copy and a blacked-out copy.
//! let frames: Vec<Frame> = (0..10)
//!     .map(|t| {
//!         let mut f = Frame::solid(64, 48, t * 40_000, [128, 128, 128]);
//!         for (i, v) in f.y.data.iter_mut().enumerate() {
//!             *v = ((i % 64) * 3 + (i / 64) + t as usize * 7) as u8;
//!         }
//!         f
//!     })
//!     .collect();
//! let honest = frames.clone();
//! let black: Vec<Frame> = frames.iter().map(|f| Frame::solid(64, 48, f.pts_us, [16, 128, 128])).collect();
//!
//! assert_eq!(metrics::psnr_y(&frames, &honest)?, f64::INFINITY);
//! let t = Thresholds::default();
//! assert!(perceptual_check(0, &frames, None, &honest, &[2, 5], &t)?.faults.is_empty());
//! assert!(!perceptual_check(0, &frames, None, &black, &[2, 5], &t)?.faults.is_empty());
//! # Ok::<(), transcode_verify::Error>(())
//! ```
#![forbid(unsafe_code)]

mod checks;
mod claim;
mod error;
mod frame;
pub mod metrics;
mod perceptual;
mod policy;
mod profile;
mod verdict;
mod verifier;

pub use checks::{RenditionFacts, SegmentExpectation, cheap_checks};
pub use claim::{CLAIM_DOMAIN, CODEC_VERSION, ClaimPrice, RenditionClaim, TranscodeClaim, rendition_hash};
pub use error::Error;
pub use frame::{Frame, Plane};
pub use perceptual::{FrameFeatures, FrameMetrics, PerceptualReport, Thresholds, perceptual_check};
pub use policy::SamplingPolicy;
/// The signing types a claim uses, re-exported so embedders need no direct `primitives`
/// dependency to build or check one.
pub use primitives::{Address, H256, SecretKey, Signature, Signer, U256};
pub use profile::{Fps, Profile};
pub use verdict::{Evidence, Fault, Verdict};
pub use verifier::{Verifier, VerifierConfig};
