//! Errors of the verification library.

/// Invalid inputs to the verification routines (never a verdict: a failed check is a
/// [`crate::Verdict`], not an error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A frame rate with a zero numerator or denominator.
    #[error("invalid frame rate {num}/{den}")]
    InvalidFps {
        /// Numerator.
        num: u32,
        /// Denominator.
        den: u32,
    },
    /// A zero-sized picture.
    #[error("invalid dimensions {width}x{height}")]
    InvalidDimensions {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
    /// A plane whose buffer does not match its size.
    #[error("plane {width}x{height} with {len} samples")]
    PlaneSize {
        /// Width.
        width: usize,
        /// Height.
        height: usize,
        /// Buffer length.
        len: usize,
    },
    /// Chroma planes of the wrong size for 4:2:0.
    #[error("chroma {width}x{height} does not match luma {luma_width}x{luma_height}")]
    ChromaSize {
        /// Chroma width.
        width: usize,
        /// Chroma height.
        height: usize,
        /// Luma width.
        luma_width: usize,
        /// Luma height.
        luma_height: usize,
    },
    /// Two pictures compared with different sizes.
    #[error("size mismatch: {a_width}x{a_height} vs {b_width}x{b_height}")]
    SizeMismatch {
        /// First width.
        a_width: usize,
        /// First height.
        a_height: usize,
        /// Second width.
        b_width: usize,
        /// Second height.
        b_height: usize,
    },
    /// Nothing to compare.
    #[error("no frames to compare")]
    NoFrames,
    /// An encoded claim or evidence could not be decoded.
    #[error("decode: {reason}")]
    Decode {
        /// What was wrong.
        reason: String,
    },
    /// An encoding longer than the caller's limit.
    #[error("encoding of {len} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// Length.
        len: usize,
        /// Limit.
        limit: usize,
    },
    /// An encoding with an unknown version byte.
    #[error("unknown version {found}, expected {expected}")]
    Version {
        /// Found.
        found: u8,
        /// Expected.
        expected: u8,
    },
    /// A claim's signature does not recover to the orchestrator it names.
    #[error("claim signed by {found:?}, expected {expected:?}")]
    ClaimSigner {
        /// The address the claim names.
        expected: primitives::Address,
        /// The address the signature recovers to (`None`: it recovers to none).
        found: Option<primitives::Address>,
    },
}
