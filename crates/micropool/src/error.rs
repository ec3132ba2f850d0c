//! The one error type of this crate.

use primitives::{Address, H256, U256};

/// Who was expected to have signed a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The pool's owner (the viewer): signs reserves and cheques.
    Source,
    /// The payee (the caching peer): countersigns a cheque to settle it.
    Target,
    /// Whoever submits a release or an overspend report.
    Submitter,
}

/// A Merkle proof did not check out (reported by a [`StateProofVerifier`]).
///
/// [`StateProofVerifier`]: crate::StateProofVerifier
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state proof rejected: {reason}")]
pub struct ProofError {
    /// What the verifier objected to.
    pub reason: String,
}

/// Everything that can go wrong in the pool rules, the codecs and the payment machines.
///
/// Every variant says what was wrong and, where it applies, by how much.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Untrusted bytes did not decode.
    #[error("cannot decode {what}: {source}")]
    Decode {
        /// The kind of value being decoded.
        what: &'static str,
        /// The codec's complaint.
        source: primitives::Error,
    },
    /// A list in untrusted input holds more items than allowed.
    #[error("{what} holds {count} items, more than the limit of {max}")]
    TooMany {
        /// The list.
        what: &'static str,
        /// Items found.
        count: usize,
        /// Items allowed.
        max: usize,
    },
    /// A signature does not recover, or recovers to someone else.
    #[error("{role:?} signature: expected {expected:?}, recovered {recovered:?}")]
    WrongSigner {
        /// Whose signature it should be.
        role: Role,
        /// The expected signer.
        expected: Address,
        /// The recovered signer, `None` when recovery failed.
        recovered: Option<Address>,
    },
    /// A reserve with no deposit.
    #[error("the deposit must be positive")]
    ZeroDeposit,
    /// Whitepaper rule: the collateral must strictly exceed the deposit.
    #[error("collateral {collateral} must exceed the deposit {deposit}")]
    CollateralNotAboveDeposit {
        /// The deposit.
        deposit: U256,
        /// The collateral offered.
        collateral: U256,
    },
    /// The reserve duration is outside the configured bounds.
    #[error("duration {duration} blocks outside [{min}, {max}]")]
    DurationOutOfRange {
        /// Requested duration in blocks.
        duration: u64,
        /// Shortest allowed.
        min: u64,
        /// Longest allowed.
        max: u64,
    },
    /// A reserve must name at least one resource.
    #[error("a reserve must name at least one resource")]
    NoResourceIds,
    /// A resource id appears twice in one reserve.
    #[error("resource id {resource_id:?} listed twice")]
    DuplicateResourceId {
        /// The repeated id.
        resource_id: H256,
    },
    /// The transaction fee is below the configured minimum.
    #[error("fee {fee} below the minimum {min}")]
    FeeTooLow {
        /// Fee offered.
        fee: U256,
        /// Minimum fee.
        min: U256,
    },
    /// An account cannot pay what a transaction needs.
    #[error("{who:?} needs {needed} but holds {available}")]
    InsufficientBalance {
        /// The account.
        who: Address,
        /// Amount needed.
        needed: U256,
        /// Amount held.
        available: U256,
    },
    /// Reserve sequence numbers of a source must strictly increase (replay protection).
    #[error("reserve sequence {got} of {source_addr:?} is not above the last one, {last}")]
    ReserveSeqNotIncreasing {
        /// The source.
        source_addr: Address,
        /// Highest sequence used so far.
        last: u64,
        /// Sequence offered.
        got: u64,
    },
    /// No reserve under this `(source, reserve_seq)`.
    #[error("no reserve {reserve_seq} of {source_addr:?}")]
    ReserveNotFound {
        /// The source.
        source_addr: Address,
        /// The reserve sequence.
        reserve_seq: u64,
    },
    /// Payments settle only up to the reserve's end height.
    #[error("reserve ended at height {end_height}, now {height}")]
    ReserveExpired {
        /// Last height at which payments settle.
        end_height: u64,
        /// Current height.
        height: u64,
    },
    /// A reserve is released only after its end height plus the freeze period.
    #[error("reserve releasable from height {releasable_at}, now {height}")]
    ReleaseTooEarly {
        /// First height at which release is allowed.
        releasable_at: u64,
        /// Current height.
        height: u64,
    },
    /// The cheque names a resource the reserve does not cover.
    #[error("resource {resource_id:?} is not covered by the reserve")]
    UnknownResource {
        /// The resource named by the cheque.
        resource_id: H256,
    },
    /// Payment sequence numbers strictly increase per (reserve, payee): only the newest
    /// cheque settles.
    #[error("payment sequence {got} to {target:?} is not above the settled {last}")]
    StalePaymentSeq {
        /// The payee.
        target: Address,
        /// Last settled sequence.
        last: u64,
        /// Sequence offered.
        got: u64,
    },
    /// Cheques are cumulative: a newer one cannot promise less than was already settled
    /// (or, off-chain, than the newest kept cheque).
    #[error("cumulative amount {amount} to {target:?} is below the {previous} already promised")]
    CumulativeAmountDecreased {
        /// The payee.
        target: Address,
        /// Amount already settled or held.
        previous: U256,
        /// Amount of the new cheque.
        amount: U256,
    },
    /// A settlement must increase what the payee was promised: a zero cheque, or one
    /// repeating the settled amount, pays nothing and would only consume state.
    #[error("settlement to {target:?} of cumulative {amount} pays nothing")]
    NothingToSettle {
        /// The payee.
        target: Address,
        /// The cheque's cumulative amount.
        amount: U256,
    },
    /// A payee's first settlement must promise at least the reserve's slot unit
    /// (`ceil(deposit / max_payees)`), so dust cannot take the payee slots.
    #[error("first settlement of {amount} is below the slot unit {slot_unit}")]
    BelowSlotUnit {
        /// The cheque's cumulative amount.
        amount: U256,
        /// The reserve's slot unit.
        slot_unit: U256,
    },
    /// A cheque whose target is its own source: the source would pay (and, as the payee
    /// proving an overspend, reward) itself.
    #[error("{source_addr:?} cannot settle a cheque to itself")]
    SelfPayment {
        /// The source.
        source_addr: Address,
    },
    /// The source cannot report its own overspend (it would recover the penalty).
    #[error("{source_addr:?} cannot report its own overspend")]
    ReporterIsSource {
        /// The source.
        source_addr: Address,
    },
    /// A [`Verified`](crate::Verified) payment was checked for another chain.
    #[error("payment verified for chain {verified_for}, settled on chain {chain_id}")]
    ChainMismatch {
        /// The chain id the signatures were checked for.
        verified_for: u64,
        /// The chain id of the rules applying it.
        chain_id: u64,
    },
    /// The reserve already has as many distinct payees as its record may hold.
    #[error("reserve already pays {max} distinct payees")]
    TooManyPayees {
        /// The record's slot limit ([`ReservedFund::slot_limit`](crate::ReservedFund::slot_limit)).
        max: usize,
    },
    /// Nothing is left in the deposit and the overspend was already slashed.
    #[error("deposit exhausted: {shortfall} of the cheque cannot be paid")]
    DepositExhausted {
        /// What the cheque asked beyond the deposit.
        shortfall: U256,
    },
    /// The reserve was already slashed; a second report has nothing to take.
    #[error("reserve {reserve_seq} of {source_addr:?} is already slashed")]
    AlreadySlashed {
        /// The source.
        source_addr: Address,
        /// The reserve sequence.
        reserve_seq: u64,
    },
    /// Overspend evidence whose cheques do not add up to more than the deposit.
    #[error("evidence totals {total}, not above the deposit {deposit}")]
    NoOverspend {
        /// What the evidence (with settled amounts) proves was signed.
        total: U256,
        /// The deposit.
        deposit: U256,
    },
    /// Overspend evidence must consist of cheques of one reserve.
    #[error(
        "evidence mixes reserves: expected ({expected_source:?}, {expected_seq}), found ({found_source:?}, {found_seq})"
    )]
    EvidenceMixesReserves {
        /// Source of the first cheque.
        expected_source: Address,
        /// Reserve of the first cheque.
        expected_seq: u64,
        /// Source of the offending cheque.
        found_source: Address,
        /// Reserve of the offending cheque.
        found_seq: u64,
    },
    /// Overspend evidence with no cheque in it.
    #[error("overspend evidence holds no cheque")]
    EmptyEvidence,
    /// Checked arithmetic on amounts overflowed.
    #[error("amount overflow in {what}")]
    Overflow {
        /// The computation.
        what: &'static str,
    },
    /// Payer machine: this payment would make the signed total exceed the deposit.
    #[error("signing {price} more would bring the signed total {signed} above the deposit {deposit}")]
    WouldExceedDeposit {
        /// Total signed so far, over all payees.
        signed: U256,
        /// The new payment.
        price: U256,
        /// The deposit.
        deposit: U256,
    },
    /// Payer machine: a saved state whose total does not match its per-peer amounts.
    #[error("saved payer state signs {signed} in total but its peers add up to {sum}")]
    InconsistentPayerState {
        /// The saved total.
        signed: U256,
        /// The sum of the saved per-peer cumulative amounts.
        sum: U256,
    },
    /// Payer machine: a saved state of another reserve (chain id, source or reserve
    /// sequence differ from the resumed payer's).
    #[error(
        "saved payer state is for chain {saved_chain_id}, source {saved_source:?}, reserve {saved_reserve_seq}; \
         the payer is for chain {chain_id}, source {source_addr:?}, reserve {reserve_seq}"
    )]
    PayerStateOfAnotherReserve {
        /// The saved state's chain id.
        saved_chain_id: u64,
        /// The saved state's source.
        saved_source: Address,
        /// The saved state's reserve sequence.
        saved_reserve_seq: u64,
        /// The resumed payer's chain id.
        chain_id: u64,
        /// The resumed payer's signer address.
        source_addr: Address,
        /// The resumed payer's reserve sequence.
        reserve_seq: u64,
    },
    /// Payee machine: the host reported a settlement the payee never submitted.
    #[error("no submitted settlement with payment sequence {payment_seq} (newest {newest})")]
    UnknownSettlement {
        /// The reported sequence.
        payment_seq: u64,
        /// The newest sequence the payee holds.
        newest: u64,
    },
    /// Payer machine: the reserve has expired, no more cheques.
    #[error("the reserve expired at {expired_at}")]
    PayerExpired {
        /// When it expired.
        expired_at: primitives::Timestamp,
    },
    /// Payee machine: a cheque arrived before the pool was checked at handshake.
    #[error("no verified pool for ({source_addr:?}, {reserve_seq}); handshake first")]
    NoVerifiedPool {
        /// The cheque's source.
        source_addr: Address,
        /// The cheque's reserve.
        reserve_seq: u64,
    },
    /// Payee machine: the state proof did not check out.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// Payee machine: the state proves the reserve does not exist.
    #[error("the state at {state_root:?} holds no reserve {reserve_seq} of {source_addr:?}")]
    PoolAbsent {
        /// The state root the proof was checked against.
        state_root: H256,
        /// The source.
        source_addr: Address,
        /// The reserve sequence.
        reserve_seq: u64,
    },
    /// Payee machine: the proven record is not the reserve that was asked for.
    #[error("the proven record is for a different reserve")]
    RecordMismatch,
    /// Payee machine: the pool has less deposit left than the payee requires to serve.
    #[error("pool has {remaining} left, payee requires {required}")]
    InsufficientRemaining {
        /// Remaining deposit.
        remaining: U256,
        /// What the payee requires.
        required: U256,
    },
    /// Payee machine: the cheque is addressed to someone else.
    #[error("cheque pays {target:?}, not this payee {me:?}")]
    WrongTarget {
        /// The cheque's target.
        target: Address,
        /// This payee.
        me: Address,
    },
    /// Payee machine: accepting the cheque would leave more unpaid than the payee risks.
    #[error("unsettled {unsettled} would exceed the limit {limit}")]
    ExposureExceeded {
        /// Unsettled amount the cheque would leave.
        unsettled: U256,
        /// Maximum the payee risks: the lower of its credit limit and the remaining deposit.
        limit: U256,
    },
}

impl Error {
    pub(crate) fn decode(what: &'static str) -> impl Fn(primitives::Error) -> Error {
        move |source| Error::Decode { what, source }
    }
}
