//! The one error type of this crate.

use primitives::{Address, H256, U256};

/// Everything that can go wrong with a ticket, a batch, a session or a broker call.
///
/// Every invalid ticket maps to exactly one variant, and every variant says what was
/// wrong and by how much. Broker variants mirror the `require` messages of Livepeer's
/// `TicketBroker` contract (quoted in each variant's docs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- encoding ------------------------------------------------------------------
    /// An error from `primitives`: bytes that do not decode (RLP, SCALE, hex, a
    /// non-canonical signature), or a signature from which no key can be recovered.
    #[error(transparent)]
    Primitives(#[from] primitives::Error),
    /// A batch carries more tickets than the decoder's limit.
    #[error("batch carries {count} tickets, the limit is {limit}")]
    BatchTooLarge {
        /// Tickets in the batch.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A batch with no tickets.
    #[error("empty ticket batch")]
    EmptyBatch,
    /// `auxData` is not exactly 64 bytes ("invalid length for ticket auxData").
    #[error("auxData is {len} bytes, must be 64")]
    BadAuxDataLength {
        /// Length found.
        len: usize,
    },
    /// A price with a zero denominator.
    #[error("price denominator is zero")]
    ZeroPriceDenominator,

    // ---- ticket validity -------------------------------------------------------------
    /// The ticket names another recipient.
    #[error("ticket recipient {found:?}, expected {expected:?}")]
    WrongRecipient {
        /// The recipient in the ticket.
        found: Address,
        /// This recipient.
        expected: Address,
    },
    /// The ticket's recipient is the zero address ("ticket recipient is null address").
    #[error("ticket recipient is the zero address")]
    ZeroRecipient,
    /// The ticket's sender is the zero address ("ticket sender is null address").
    #[error("ticket sender is the zero address")]
    ZeroSender,
    /// `keccak256(recipientRand) != recipientRandHash`: the advertised parameters were
    /// altered, or the seed is not one this recipient issued.
    #[error("recipientRand does not match recipientRandHash {expected:?}")]
    RecipientRandMismatch {
        /// The hash in the ticket.
        expected: H256,
        /// The hash of the revealed or recomputed rand.
        computed: H256,
    },
    /// The signature does not recover to the ticket's sender
    /// ("invalid signature over ticket hash").
    #[error("ticket signed by {recovered:?}, sender is {sender:?}")]
    BadSignature {
        /// The ticket's sender.
        sender: Address,
        /// The address the signature recovers to.
        recovered: Address,
    },
    /// The ticket did not win ("ticket did not win").
    #[error("ticket did not win")]
    NotWinning,
    /// The same `(recipientRand, senderNonce)` was seen before.
    #[error("sender nonce {nonce} already used with this recipientRand")]
    NonceReplayed {
        /// The replayed nonce.
        nonce: u32,
    },
    /// Too many nonces for one recipientRand; the sender must ask for fresh params.
    #[error("{limit} nonces already used with this recipientRand")]
    TooManyNonces {
        /// The per-rand cap.
        limit: usize,
    },
    /// This recipientRand was already revealed on chain; no new tickets may use it.
    #[error("recipientRand for {rand_hash:?} was already revealed")]
    RandRevealed {
        /// The recipientRandHash of the revealed rand.
        rand_hash: H256,
    },
    /// The advertised params expired: `expirationBlock <= lastSeenBlock`.
    #[error("ticket params expired at block {expiration_block}, last seen block {last_block}")]
    ParamsExpired {
        /// The params' expiration block.
        expiration_block: u64,
        /// The last block seen.
        last_block: u64,
    },
    /// The offered params expire further ahead than the sender accepts
    /// ([`crate::SenderConfig::max_params_lifetime_blocks`]).
    #[error(
        "ticket params expire at block {expiration_block}, the sender accepts at most {max_expiration_block}"
    )]
    ParamsLifetimeTooLong {
        /// The params' expiration block.
        expiration_block: u64,
        /// Last block seen plus the sender's maximum lifetime.
        max_expiration_block: u64,
    },
    /// The offered params' expected value is above the sender's configured maximum.
    #[error("ticket expected value {ev_floor} exceeds the sender's maximum {max}")]
    EvTooHigh {
        /// floor(EV) of the offered params.
        ev_floor: U256,
        /// The sender's configured maximum.
        max: U256,
    },
    /// The face value is larger than the sender's deposit allows.
    #[error("face value {face_value} exceeds the maximum {max} allowed by the deposit")]
    FaceValueTooHigh {
        /// The offered face value.
        face_value: U256,
        /// deposit / depositMultiplier.
        max: U256,
    },
    /// Win probability zero: the ticket can never pay.
    #[error("win probability is zero")]
    ZeroWinProb,
    /// The sender's max float is below the EV the recipient requires
    /// (go-livepeer's "insufficient sender reserve").
    #[error("sender max float {max_float} is below the required EV {ev}")]
    InsufficientSenderReserve {
        /// The sender's max float for this recipient.
        max_float: U256,
        /// The recipient's required EV.
        ev: U256,
    },
    /// A target EV above the face value cannot be reached with any win probability.
    #[error("target EV {ev} exceeds face value {face_value}")]
    EvAboveFaceValue {
        /// The target EV.
        ev: U256,
        /// The face value.
        face_value: U256,
    },

    // ---- machines --------------------------------------------------------------------
    /// No session with this id (recipientRandHash).
    #[error("unknown session {0:?}")]
    UnknownSession(H256),
    /// The key the sender signs with is not the address the ticket names.
    #[error("signer is {signer:?}, ticket sender is {sender:?}")]
    SignerMismatch {
        /// The signer's address.
        signer: Address,
        /// The sender in the ticket.
        sender: Address,
    },
    /// Block numbers or rounds went backwards.
    #[error("chain moved backwards: block {got} after {last}")]
    ChainRegressed {
        /// The last block seen.
        last: u64,
        /// The block given now.
        got: u64,
    },
    /// No winning ticket with this hash is pending.
    #[error("no pending redemption for ticket {0:?}")]
    UnknownRedemption(H256),
    /// Amount arithmetic overflowed.
    #[error("amount overflow")]
    Overflow,
    /// The sender is unlocking: its withdraw round is at most one round away (or
    /// passed), so a ticket accepted now may be unredeemable by the time it is
    /// submitted (go-livepeer `ValidateSender`: "set to unlock soon").
    #[error("sender {sender:?} unlocks at round {withdraw_round} (current round {current_round})")]
    SenderUnlocking {
        /// The sender.
        sender: Address,
        /// Its withdraw round.
        withdraw_round: u64,
        /// The recipient's current round.
        current_round: u64,
    },
    /// A batch's worst case — every ticket winning, `tickets × faceValue` — is above what
    /// the recipient may still accept from the sender. Refused whichever tickets win, so
    /// the refusal tells the sender nothing about them; the sender pays in smaller
    /// batches.
    #[error(
        "{tickets} tickets of face value {face_value} exceed sender {sender:?}'s uncommitted float {available}"
    )]
    BatchExceedsFloat {
        /// The sender.
        sender: Address,
        /// Tickets in the batch.
        tickets: usize,
        /// Their face value.
        face_value: U256,
        /// What is left of the sender's float.
        available: U256,
    },
    /// A ticket's face value is above what the recipient may still accept from the
    /// sender: its max float less the face value of winners queued or being redeemed and
    /// of redemptions confirmed since the last funds report.
    #[error("face value {face_value} exceeds sender {sender:?}'s uncommitted float {available}")]
    FaceValueExceedsFloat {
        /// The sender.
        sender: Address,
        /// The ticket's face value.
        face_value: U256,
        /// What is left of the sender's float.
        available: U256,
    },
    /// The recipient has no funds report for this sender yet
    /// ([`crate::RecipientInput::SenderFunds`]).
    #[error("no funds report for sender {0:?}")]
    UnknownSenderFunds(Address),
    /// `StartSession` for a session id that is already known, with different params
    /// (a recipientRandHash names exactly one set of params).
    #[error("session {0:?} already exists with other params")]
    SessionParamsMismatch(H256),
    /// A saved sender state that is inconsistent (see [`crate::SenderState`]).
    #[error("invalid sender state: {reason}")]
    InvalidSenderState {
        /// What is wrong.
        reason: &'static str,
    },

    /// Params whose seed carries a boot generation this recipient does not accept: they
    /// were quoted by an earlier process whose nonce ledgers this one does not hold (it
    /// was restarted without [`crate::Recipient::restore`], or the generation's params
    /// were forgotten), so their tickets could be replays. The sender needs fresh params.
    #[error("params with seed {seed:?} were quoted before this recipient restarted")]
    QuotedBeforeRestart {
        /// The params' seed (its first 16 bytes are the generation).
        seed: H256,
    },
    /// A saved recipient state that is inconsistent or not this recipient's (see
    /// [`crate::RecipientState::validate`] and [`crate::Recipient::restore`]).
    #[error("invalid recipient state: {reason}")]
    InvalidRecipientState {
        /// What is wrong.
        reason: &'static str,
    },
    /// Accepting the input would grow a machine's state beyond what its saved state
    /// ([`crate::RecipientState`], [`crate::SenderState`]) may carry; refused so that the
    /// state always exports and restores.
    #[error("state full: at most {limit} {what}")]
    StateFull {
        /// Which collection.
        what: &'static str,
        /// Its cap.
        limit: usize,
    },

    // ---- broker ----------------------------------------------------------------------
    /// `creationRound` has no block hash ("ticket creationRound does not have a block hash").
    #[error("creation round {round} has no block hash")]
    UnknownCreationRound {
        /// The ticket's creation round.
        round: U256,
    },
    /// Block hash mismatch ("ticket creationRoundBlockHash invalid for creationRound").
    #[error("creationRoundBlockHash {found:?} invalid for round {round} (expected {expected:?})")]
    CreationRoundBlockHashMismatch {
        /// The ticket's creation round.
        round: u64,
        /// The hash in the ticket.
        found: H256,
        /// The hash recorded for that round.
        expected: H256,
    },
    /// `creationRound + ticketValidityPeriod <= currentRound` ("ticket is expired").
    #[error(
        "ticket from round {creation_round} expired (current round {current_round}, validity {validity_period})"
    )]
    TicketExpired {
        /// The ticket's creation round.
        creation_round: u64,
        /// The broker's current round.
        current_round: u64,
        /// The validity period in rounds.
        validity_period: u64,
    },
    /// The ticket hash is in the used-ticket set ("ticket is used").
    #[error("ticket {0:?} already redeemed")]
    TicketUsed(H256),
    /// The sender's unlock period has passed ("sender is unlocked"). Also the
    /// recipient's refusal of a batch from such a sender.
    #[error("sender {0:?} is unlocked")]
    SenderUnlocked(Address),
    /// "sender deposit and reserve are zero". Also the sender's own refusal to pay with
    /// no funds, and the recipient's refusal of a batch from a sender whose max float
    /// for it (deposit + claimable reserve share, less payments since) is zero.
    #[error("sender {0:?} has zero deposit and reserve")]
    NoFunds(Address),
    /// All-or-nothing settlement: deposit plus the recipient's claimable reserve do not
    /// cover the face value, so the redemption is refused and the ticket stays unused.
    #[error("ticket face value {face_value} exceeds available funds {available}")]
    InsufficientFunds {
        /// The ticket's face value.
        face_value: U256,
        /// deposit + claimable reserve for this recipient.
        available: U256,
    },
    /// "unlock already initiated". Also the sender's refusal to issue tickets while its
    /// own unlock is in progress.
    #[error("unlock already initiated (withdraw round {withdraw_round})")]
    UnlockInProgress {
        /// The round from which withdrawal is allowed.
        withdraw_round: u64,
    },
    /// "no unlock request in progress".
    #[error("no unlock request in progress")]
    NoUnlockInProgress,
    /// "account is locked": the unlock period has not elapsed.
    #[error("account locked until round {withdraw_round} (current {current_round})")]
    SenderLocked {
        /// The round from which withdrawal is allowed.
        withdraw_round: u64,
        /// The current round.
        current_round: u64,
    },
    /// "msg.value does not equal sum of deposit amount and reserve amount".
    #[error("value {value} does not equal deposit {deposit} + reserve {reserve}")]
    ValueSplitMismatch {
        /// The value sent.
        value: U256,
        /// Deposit part.
        deposit: U256,
        /// Reserve part.
        reserve: U256,
    },
    /// A round was started that is not after the current one.
    #[error("round {got} is not after the current round {current}")]
    RoundNotIncreasing {
        /// The current round.
        current: u64,
        /// The round given.
        got: u64,
    },
    /// **\[beyond\]** A broker whose unlock period is shorter than the ticket validity
    /// period would let a sender withdraw while its tickets are still redeemable (the
    /// recipient's winners then find the deposit gone). Refused at construction.
    #[error(
        "unlock period {unlock_period} is shorter than the ticket validity period {ticket_validity_period}"
    )]
    UnlockShorterThanValidity {
        /// The configured unlock period, rounds.
        unlock_period: u64,
        /// The configured ticket validity period, rounds.
        ticket_validity_period: u64,
    },
    /// A ticket validity period of zero rounds (no ticket could ever be redeemed).
    #[error("ticket validity period is zero")]
    ZeroValidityPeriod,
    /// The broker's store refused to take funds from an account that lacks them.
    #[error("account {account:?} holds {balance}, needs {needed}")]
    InsufficientBalance {
        /// The account debited.
        account: Address,
        /// Its balance.
        balance: U256,
        /// The amount asked for.
        needed: U256,
    },
    /// The broker's store holds less in escrow than a payout needs (the store and the
    /// broker disagree; never happens with a store only the broker moves).
    #[error("escrow holds {escrowed}, payout needs {needed}")]
    EscrowShort {
        /// Escrowed funds.
        escrowed: U256,
        /// The payout.
        needed: U256,
    },
}
