//! The crate's one error type.

use thiserror::Error;

/// Everything that can go wrong in `bls-gossip`. Bad input is always one of these, never a
/// panic; a rejected input leaves every value and machine unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// Input key material for `KeyGen` must be at least 32 bytes (IETF BLS section 2.3).
    #[error("input key material is {len} bytes; KeyGen needs at least 32")]
    ShortKeyMaterial {
        /// Bytes supplied.
        len: usize,
    },
    /// A secret key of zero is not a key.
    #[error("secret key is zero")]
    ZeroSecret,
    /// A secret key not below the group order `r`, or of the wrong length.
    #[error("secret key is not a canonical scalar below the group order")]
    InvalidSecret,
    /// A byte string had the wrong length.
    #[error("expected {expected} bytes, got {got}")]
    BadLength {
        /// Required length.
        expected: usize,
        /// Supplied length.
        got: usize,
    },
    /// A compressed point did not decode (bad flags, x not on the curve, not canonical).
    #[error("{what}: not a valid compressed point")]
    BadPoint {
        /// Which kind of point (`public key`, `signature`).
        what: &'static str,
    },
    /// A point lies on the curve but outside the prime-order subgroup.
    #[error("{what}: point is not in the prime-order subgroup")]
    NotInSubgroup {
        /// Which kind of point.
        what: &'static str,
    },
    /// The identity (point at infinity) is never a valid public key.
    #[error("public key is the identity point")]
    IdentityKey,
    /// A proof of possession did not verify for its key.
    #[error("proof of possession does not verify")]
    InvalidPossession,
    /// Aggregating needs at least one input (IETF BLS section 2.8).
    #[error("nothing to aggregate")]
    EmptyAggregate,
    /// Weights and keys had different lengths, or a signer index was out of range.
    #[error("signer index {index} out of range for {len} guardians")]
    SignerOutOfRange {
        /// The offending index.
        index: usize,
        /// Number of guardians.
        len: usize,
    },
    /// Two signer vectors over different guardian-set sizes were combined.
    #[error("signer vectors of different lengths: {left} and {right}")]
    LengthMismatch {
        /// Length of the receiving vector.
        left: usize,
        /// Length of the other vector.
        right: usize,
    },
    /// A merge would take a signer's multiplicity past the bound; the vector is unchanged.
    #[error("multiplicity of signer {index} would reach {would_be}, above the bound {max}")]
    MultiplicityOverflow {
        /// The signer whose count would overflow.
        index: usize,
        /// What the count would have become.
        would_be: u32,
        /// The bound ([`crate::MAX_MULTIPLICITY`] or a configured cap).
        max: u32,
    },
    /// An encoding was longer than the caller's limit.
    #[error("encoding is {len} bytes, limit {limit}")]
    TooLong {
        /// Bytes supplied.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// An encoding ended early.
    #[error("encoding truncated while reading {what}")]
    Truncated {
        /// What was being read.
        what: &'static str,
    },
    /// An encoding was well-formed but not the canonical one, or malformed in a field.
    #[error("malformed encoding: {reason}")]
    Malformed {
        /// What was wrong.
        reason: &'static str,
    },
    /// The encoding carried another version byte.
    #[error("unsupported encoding version {found}, expected {expected}")]
    UnsupportedVersion {
        /// Version found.
        found: u8,
        /// Version supported.
        expected: u8,
    },
    /// The guardian set is empty, has mismatched keys/stakes, zero total stake or a total
    /// stake too large for the strict 2/3 check (`3 * total` must fit in `u128`).
    #[error("invalid guardian set: {reason}")]
    InvalidGuardianSet {
        /// What was wrong.
        reason: &'static str,
    },
    /// One public key appears at two guardian indices (a key counts once: duplicates would
    /// let one holder's signature count as several guardians').
    #[error("guardians {first} and {second} have the same public key")]
    DuplicateKey {
        /// The lower index.
        first: usize,
        /// The higher index holding the same key.
        second: usize,
    },
    /// A gossip message for another checkpoint instance reached this machine.
    #[error("message for instance {found}, this machine gossips instance {expected}")]
    WrongInstance {
        /// Instance in the message.
        found: u64,
        /// This machine's instance.
        expected: u64,
    },
    /// A neighbour or sender index that is not a guardian.
    #[error("peer {peer} is not one of the {len} guardians")]
    UnknownPeer {
        /// The peer index.
        peer: usize,
        /// Number of guardians.
        len: usize,
    },
}
