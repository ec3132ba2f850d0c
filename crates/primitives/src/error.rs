//! The one error type of this crate.

/// Everything that can go wrong when decoding or checking primitive values.
///
/// Every variant says what was wrong and, where it applies, by how much.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is longer than the caller's limit; nothing was decoded.
    #[error("input of {len} bytes exceeds the limit of {limit} bytes")]
    TooLong {
        /// Length of the input.
        len: usize,
        /// The caller's limit.
        limit: usize,
    },
    /// The bytes are not valid RLP for the expected type.
    #[cfg(feature = "eth")]
    #[error("invalid RLP: {0}")]
    Rlp(rlp::DecoderError),
    /// The bytes are not valid SCALE for the expected type.
    #[error("invalid SCALE encoding: {0}")]
    Scale(String),
    /// Bytes were left over after a complete value.
    #[error("{extra} trailing bytes after a complete value")]
    TrailingBytes {
        /// How many bytes were left.
        extra: usize,
    },
    /// A versioned frame carries a version this code does not read.
    #[error("unsupported encoding version {found} (expected {expected})")]
    UnsupportedVersion {
        /// The version byte found.
        found: u8,
        /// The version this decoder reads.
        expected: u8,
    },
    /// A fixed-size value had the wrong length.
    #[error("expected {expected} bytes, got {got}")]
    BadLength {
        /// Required length.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// Not valid hexadecimal.
    #[error("invalid hex: {0}")]
    Hex(String),
    /// A signature's `v` byte is not 27 or 28 (or 0/1 where the lenient parser is used).
    #[error("invalid recovery byte v = {0}")]
    BadRecoveryByte(u8),
    /// A signature's `s` lies in the upper half of the curve order (malleable form).
    #[error("signature s value is not in the lower half of the curve order")]
    HighS,
    /// `r` or `s` is zero or not below the curve order.
    #[error("signature scalar out of range")]
    BadSignatureScalar,
    /// No public key could be recovered from the signature and digest.
    #[error("public key recovery failed")]
    RecoveryFailed,
    /// The secret key is zero or not below the curve order.
    #[error("invalid secret key")]
    BadSecretKey,
    /// The recovered signer is not the expected address.
    #[cfg(feature = "eth")]
    #[error("signed by {recovered:?}, expected {expected:?}")]
    WrongSigner {
        /// The address the signature recovers to.
        recovered: crate::Address,
        /// The address that should have signed.
        expected: crate::Address,
    },
}

#[cfg(feature = "eth")]
impl From<rlp::DecoderError> for Error {
    fn from(e: rlp::DecoderError) -> Self {
        Error::Rlp(e)
    }
}

impl From<parity_scale_codec::Error> for Error {
    fn from(e: parity_scale_codec::Error) -> Self {
        Error::Scale(e.to_string())
    }
}
