//! Errors of the negotiation machines: protocol errors a peer is told about (they travel
//! in [`crate::negotiation::Message::Refused`]) and the machines' own input errors.

use parity_scale_codec::{Decode, Encode};
use primitives::U256;

/// Why an orchestrator refused a job request or a segment. Sent to the broadcaster in
/// [`crate::negotiation::Message::Refused`], so it is SCALE-encodable; every variant
/// says what was wrong and by how much.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The sender's deposit and reserve (its max float for this orchestrator) do not
    /// cover what the orchestrator must be able to redeem: the credit it extends plus
    /// the worst case of the tickets in flight.
    #[error("sender's max float {max_float} is below the {required} required")]
    LowDeposit {
        /// The sender's max float as last reported by the chain.
        max_float: U256,
        /// What the orchestrator requires.
        required: U256,
    },
    /// The sender is unlocking its deposit: tickets could become unredeemable.
    #[error("sender is unlocking its deposit (withdraw round {withdraw_round})")]
    SenderUnlocking {
        /// The round the funds unlock.
        withdraw_round: u64,
    },
    /// The segment names another price than the orchestrator's current one.
    #[error(
        "price changed: segment states {stated_per_unit}/{stated_units}, current {current_per_unit}/{current_units}"
    )]
    PriceChanged {
        /// Price per unit the segment states.
        stated_per_unit: U256,
        /// Units the stated price is for.
        stated_units: U256,
        /// The orchestrator's current price per unit.
        current_per_unit: U256,
        /// Units the current price is for.
        current_units: U256,
    },
    /// The broadcaster's maximum price is below the orchestrator's price.
    #[error("price {price_per_unit}/{units} above the broadcaster's maximum {max_per_unit}/{max_units}")]
    PriceTooHigh {
        /// The orchestrator's price per unit.
        price_per_unit: U256,
        /// Units it is for.
        units: U256,
        /// The broadcaster's maximum per unit.
        max_per_unit: U256,
        /// Units the maximum is for.
        max_units: U256,
    },
    /// The segment's format (job kind) is not the one the session was opened for.
    #[error("segment format mismatch: session is for {expected}, segment is {found}")]
    SegmentFormatMismatch {
        /// The session's job family and name.
        expected: String,
        /// The segment's.
        found: String,
    },
    /// The orchestrator does not sell this job kind.
    #[error("job kind {kind} not offered")]
    Unsupported {
        /// The job family and name asked for.
        kind: String,
    },
    /// Every session slot is taken.
    #[error("capacity full: {sessions} of {capacity} sessions in use")]
    CapacityFull {
        /// Sessions open.
        sessions: u32,
        /// Sessions the orchestrator serves at most.
        capacity: u32,
    },
    /// The session token is past its expiry.
    #[error("session token expired at {expired_at_ms} ms (now {now_ms} ms)")]
    TokenExpired {
        /// Expiry, host milliseconds.
        expired_at_ms: u64,
        /// The orchestrator's clock.
        now_ms: u64,
    },
    /// The session token is unknown (never issued, or forged).
    #[error("unknown session token")]
    UnknownToken,
    /// The broadcaster owes more than the credit the orchestrator extends.
    #[error("unpaid {unpaid} exceeds the credit limit {limit}")]
    PaymentRequired {
        /// Delivered work not yet paid.
        unpaid: U256,
        /// The orchestrator's credit limit.
        limit: U256,
    },
    /// The segment's units are zero or beyond the orchestrator's limit.
    #[error("segment of {units} units outside 1..={limit}")]
    BadUnits {
        /// Units stated.
        units: u64,
        /// Most units accepted per segment.
        limit: u64,
    },
    /// A ticket batch was refused by the payment machine.
    #[error("payment refused: {reason}")]
    PaymentRefused {
        /// The pm-tickets error, as text.
        reason: String,
    },
    /// The work itself failed on the orchestrator.
    #[error("work failed: {reason}")]
    WorkFailed {
        /// Why.
        reason: String,
    },
}

/// Errors of the negotiation machines' `handle`. A refused input leaves the machine as
/// it was.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A wire message could not be decoded.
    #[error("decode: {0}")]
    Decode(#[from] primitives::Error),
    /// A message failed a semantic check after decoding.
    #[error("invalid message: {reason}")]
    InvalidMessage {
        /// What was wrong.
        reason: &'static str,
    },
    /// The payment machine refused an input.
    #[error("payment: {0}")]
    Payment(#[from] pm_tickets::Error),
    /// An amount overflowed `U256`.
    #[error("amount overflow computing {what}")]
    Overflow {
        /// The amount being computed.
        what: &'static str,
    },
    /// A message or answer from a peer the machine has no state for.
    #[error("unknown peer {peer}")]
    UnknownPeer {
        /// The peer.
        peer: u64,
    },
    /// An answer to a request the machine never made (or already answered).
    #[error("unknown request {id}")]
    UnknownRequest {
        /// The request id.
        id: u64,
    },
    /// A segment sequence number that was already submitted.
    #[error("segment {seq} already submitted")]
    DuplicateSegment {
        /// The sequence number.
        seq: u64,
    },
    /// A segment submitted before any orchestrator was discovered.
    #[error("no candidates: discover orchestrators first")]
    NoCandidates,
    /// The configuration is unusable.
    #[error("invalid config: {reason}")]
    InvalidConfig {
        /// What was wrong.
        reason: &'static str,
    },
    /// An orchestrator refused a message (the protocol error it would send back).
    #[error("refused: {0}")]
    Refused(Box<ProtocolError>),
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::Refused(Box::new(e))
    }
}
