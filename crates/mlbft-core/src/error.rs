//! The one error type of the crate.

use primitives::H256;

/// Why an input, a decode or a verification was refused. A refused input leaves the
/// machine unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A validator set must have at least one member with non-zero total stake.
    #[error("invalid validator set: {reason}")]
    InvalidValidatorSet {
        /// What is wrong.
        reason: &'static str,
    },
    /// A validator-set change reported at a height not after the last one reported, or so
    /// high that its effective height overflows.
    #[error("set change decided at height {decided_at} refused (last change decided at {last:?})")]
    SetChangeHeight {
        /// The height the change was reported for.
        decided_at: u64,
        /// The last change's deciding height (`None` when the refusal is an overflow).
        last: Option<u64>,
    },
    /// No validator set is known for a height (the ledger has not decided it here yet).
    #[error("no validator set known for height {height}")]
    UnknownSetForHeight {
        /// The height asked for.
        height: u64,
    },
    /// A set change that does not restake the schedule's validator universe (the same
    /// keys by index, absentees at zero stake).
    #[error("set change decided at height {decided_at} lists other keys than the validator universe")]
    IncompatibleSetChange {
        /// The height the change was reported for.
        decided_at: u64,
    },
    /// Total stake does not fit the overflow-safe threshold arithmetic.
    #[error("stake overflow summing the validator set")]
    StakeOverflow,
    /// A message names a validator index outside the set.
    #[error("unknown validator {index} (set has {len})")]
    UnknownValidator {
        /// The index claimed.
        index: u32,
        /// Set size.
        len: usize,
    },
    /// A signature does not verify.
    #[error("bad signature on {what} from validator {signer}")]
    BadSignature {
        /// Which message kind.
        what: &'static str,
        /// The claimed signer.
        signer: u32,
    },
    /// A certificate's aggregate does not verify.
    #[error("commit certificate does not verify")]
    BadCertificate,
    /// A certificate's signers hold at most 2/3 of the stake.
    #[error("certificate signers hold {signed} of {total} stake, not more than 2/3")]
    NoQuorum {
        /// Stake of the signers (decimal).
        signed: String,
        /// Total stake (decimal).
        total: String,
    },
    /// The signer bitmap does not match the set size.
    #[error("signer bitmap covers {got} validators, set has {expected}")]
    BitmapLength {
        /// Set size.
        expected: usize,
        /// Bits in the bitmap (bytes × 8) or the bit index found.
        got: usize,
    },
    /// A message for an epoch too far ahead of ours to buffer.
    #[error("epoch {epoch} is too far ahead of our epoch {current} (window {window})")]
    FarFutureEpoch {
        /// Claimed epoch.
        epoch: u64,
        /// Our epoch.
        current: u64,
        /// How far ahead we buffer.
        window: u64,
    },
    /// A message for an epoch we no longer track.
    #[error("epoch {epoch} is older than the oldest epoch we track ({oldest})")]
    StaleEpoch {
        /// Claimed epoch.
        epoch: u64,
        /// Oldest tracked epoch.
        oldest: u64,
    },
    /// A proposal by someone other than the epoch's proposer.
    #[error("validator {signer} is not the proposer of epoch {epoch} (expected {expected})")]
    WrongProposer {
        /// Epoch.
        epoch: u64,
        /// Who signed.
        signer: u32,
        /// Who should have.
        expected: u32,
    },
    /// A block's fields are inconsistent with its parent or its certificate.
    #[error("invalid block {hash:?}: {reason}")]
    InvalidBlock {
        /// The block hash.
        hash: H256,
        /// What is wrong.
        reason: &'static str,
    },
    /// A payload larger than the configured limit.
    #[error("payload of {len} bytes exceeds the limit of {limit}")]
    PayloadTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A block conflicts with the finalized checkpoint.
    #[error("block {hash:?} conflicts with finalized checkpoint at height {height}")]
    ConflictsWithFinalized {
        /// The block.
        hash: H256,
        /// Height of the finalized checkpoint.
        height: u64,
    },
    /// A guardian finality proof does not verify.
    #[error("guardian finality proof for height {height} does not verify")]
    BadFinalityProof {
        /// The checkpoint height.
        height: u64,
    },
    /// Evidence that does not prove misbehaviour.
    #[error("invalid evidence: {reason}")]
    InvalidEvidence {
        /// What is wrong.
        reason: &'static str,
    },
    /// Bytes longer than the decoder's limit.
    #[error("{len} bytes exceed the limit of {limit}")]
    TooLong {
        /// Length.
        len: usize,
        /// Limit.
        limit: usize,
    },
    /// Bytes that are not a valid encoding.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// An error from the signature layer.
    #[error("signature scheme: {0}")]
    Scheme(#[from] bls_gossip::Error),
    /// A persisted state that cannot be restored.
    #[error("invalid persisted state: {reason}")]
    InvalidPersistedState {
        /// What is wrong.
        reason: &'static str,
    },
}

impl From<primitives::Error> for Error {
    fn from(e: primitives::Error) -> Self {
        match e {
            primitives::Error::TooLong { len, limit } => Error::TooLong { len, limit },
            other => Error::Malformed { what: "rlp", reason: other.to_string() },
        }
    }
}

impl From<primitives::rlp::DecoderError> for Error {
    fn from(e: primitives::rlp::DecoderError) -> Self {
        Error::Malformed { what: "rlp", reason: e.to_string() }
    }
}
