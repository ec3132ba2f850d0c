//! The one error type of this crate.

use primitives::Address;

use crate::tx::TxType;

/// Everything that can go wrong when decoding, signing or checking a transaction.
///
/// Every variant says what was wrong and, where it applies, where and by how much.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is longer than the caller's limit; nothing was decoded.
    #[error("transaction of {len} bytes exceeds the limit of {limit} bytes")]
    TooLong {
        /// Length of the input.
        len: usize,
        /// The caller's limit.
        limit: usize,
    },
    /// The input is empty or ends inside the type prefix.
    #[error("input ends before the transaction type")]
    Empty,
    /// The type prefix is not one of Theta's twelve transaction types (0..=11).
    #[error("unknown transaction type {0}")]
    UnknownType(u64),
    /// The bytes are not valid RLP for the expected shape.
    #[error("invalid RLP in {field}: {reason}")]
    Rlp {
        /// The field being decoded (`"send.inputs[1].coins"` style path).
        field: String,
        /// What the RLP decoder reported.
        reason: String,
    },
    /// A list had the wrong number of items.
    #[error("{field}: expected a list of {expected} items, got {got}")]
    WrongItemCount {
        /// The field being decoded.
        field: String,
        /// Items Theta's struct has.
        expected: usize,
        /// Items found.
        got: usize,
    },
    /// A fixed-length byte string (address, BLS key) had the wrong length.
    #[error("{field}: expected {expected} bytes, got {got}")]
    BadLength {
        /// The field being decoded.
        field: String,
        /// Required length (a BLS field may also be empty).
        expected: usize,
        /// Length found.
        got: usize,
    },
    /// An integer does not fit its field (for example a purpose above 255).
    #[error("{field}: integer out of range")]
    IntegerOverflow {
        /// The field being decoded.
        field: String,
    },
    /// A string field is not UTF-8 (Theta's Go strings may hold any bytes; this crate
    /// accepts only UTF-8 resource and chain ids).
    #[error("{field}: not UTF-8")]
    NotUtf8 {
        /// The field being decoded.
        field: String,
    },
    /// A signature field is neither empty nor 65 canonical bytes `r ‖ s ‖ v` with
    /// `v ∈ {0, 1}` and low `s`.
    #[error("{field}: invalid signature: {reason}")]
    BadSignature {
        /// The field being decoded.
        field: String,
        /// Why it was refused.
        reason: String,
    },
    /// Bytes were left over after the transaction struct.
    #[error("{extra} trailing bytes after the transaction")]
    TrailingBytes {
        /// How many bytes were left.
        extra: usize,
    },
    /// The bytes decode, but are not the one canonical encoding of the value they decode
    /// to (a long-form length, a leading zero, a single byte wrapped in a string header).
    #[error("non-canonical encoding")]
    NonCanonical,
    /// The transaction type is decoded and encoded but not executed yet (SmartContract,
    /// until the EVM work lands).
    #[error("{tx_type:?} transactions are not supported yet")]
    Unsupported {
        /// The type refused.
        tx_type: TxType,
    },
    /// The requested signer role does not exist in this transaction.
    #[error("{tx_type:?} has no signer {role}")]
    NoSuchSigner {
        /// The transaction's type.
        tx_type: TxType,
        /// The role asked for.
        role: String,
    },
    /// A stake purpose other than validator (0), guardian (1) or elite edge node (2):
    /// Theta defines no sign bytes for it.
    #[error("invalid stake purpose {0}")]
    InvalidStakePurpose(u8),
    /// The signer's key does not belong to the input it was asked to sign.
    #[error("key of {key:?} cannot sign the input of {input:?}")]
    SignerMismatch {
        /// The address of the key offered.
        key: Address,
        /// The address of the input.
        input: Address,
    },
    /// A signature that is required is empty.
    #[error("missing signature for {address:?}")]
    MissingSignature {
        /// The input whose signature is empty.
        address: Address,
    },
    /// The signature recovers to a different address than the input's.
    #[error("signed by {recovered:?}, expected {expected:?}")]
    WrongSigner {
        /// The address the signature recovers to.
        recovered: Address,
        /// The input's address.
        expected: Address,
    },
    /// No public key could be recovered from the signature and digest.
    #[error("public key recovery failed")]
    RecoveryFailed,
    /// A `theta_tx` JSON document does not parse into the expected shape.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A field of a `theta_tx` JSON document has a bad value (not hex, not a decimal
    /// amount, wrong length…).
    #[error("JSON field {field}: {reason}")]
    JsonField {
        /// The field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl Error {
    pub(crate) fn rlp(field: &str, e: primitives::rlp::DecoderError) -> Self {
        Error::Rlp { field: field.to_owned(), reason: e.to_string() }
    }
}
