//! Livepeer probabilistic micropayments, byte-compatible with the deployed
//! `TicketBroker` (DESIGN.md section 4.5; Livepeer Streamflow proposal, "probabilistic
//! micropayments"; go-livepeer `pm`).
//!
//! # Model
//!
//! A sender (broadcaster) pays a recipient (orchestrator) per segment with lottery
//! tickets. A ticket has a large face value and a small win probability; its exact
//! expected value ([`ExpectedValue`], `faceValue · winProb / (2^256 − 1)`) is the
//! payment. Only winners go on chain, where the [`Broker`] pays them from the sender's
//! deposit and reserve.
//!
//! * [`Ticket`]: hash = keccak256 of the 232-byte `abi.encodePacked` layout
//!   ([`Ticket::packed`]); the sender signs its EIP-191 digest (`v ∈ {27, 28}`, low-S).
//! * Win test ([`is_winning`]): `uint256(keccak256(sig ‖ recipientRand)) < winProb`.
//! * [`Recipient`] quotes [`TicketParams`] whose `recipientRandHash` commits to a
//!   stateless rand, HMAC-SHA256 over a fresh seed and every advertised field
//!   ([`validate::recipient_rand`]), so a sender cannot alter them. The seed starts
//!   with the process's boot generation ([`Recipient::generation`]), so a recipient
//!   accepts only params quoted by itself or by an earlier process whose
//!   [`RecipientState`] it was restored from.
//! * [`Sender`] checks params and its funds before every payment, keeps a session per
//!   recipientRandHash, numbers tickets (never reusing a nonce across session restarts
//!   or, through [`SenderState`], process restarts) and sends `ceil(shortfall / EV)`
//!   tickets per payment.
//! * [`Broker`] models the contract: funding, unlock/withdraw, used tickets, validity
//!   window, reserve split over the active set, all-or-nothing settlement by default.
//!   It moves balances through a [`BrokerStore`] (the embedder's ledger, or the
//!   in-memory [`MemoryStore`]) and refuses an unlock period shorter than the ticket
//!   validity period, so tickets stay redeemable until the deposit can leave.
//!
//! # Call order
//!
//! 1. Host feeds both machines chain state (`Chain` inputs), the recipient the gas price
//!    and the sender's funds (`SenderFunds`: [`Broker::max_float`] and the withdraw
//!    round), the sender its own account (`Funds`); again whenever they change.
//! 2. Recipient `Quote` → `Params`; the sender `StartSession(params)`.
//! 3. Per segment the sender `Pay { amount }` → `Send { batch }`; the recipient
//!    `Batch(batch)` → `Credited`, and `Won` for winners.
//! 4. Once params expire and funds cover it, the recipient emits `Redeem(ticket)`; the
//!    host calls the broker and answers `Redeemed` / `RedeemFailed { reason }`. A
//!    failure is retried after a backoff: the host arms a timer at
//!    [`primitives::Machine::poll_timeout`] and feeds `RecipientInput::Timeout`; after
//!    `max_redeem_attempts` (or a reason that cannot change) the ticket is reported
//!    `RecipientEvent::Lost`.
//! 5. A host that persists the sender saves [`Sender::export_state`] after each
//!    payment, before sending the batch, and restarts with [`Sender::restore`].
//! 6. A host that persists the recipient (it must, or winners are lost on a crash)
//!    drains the outputs after each `handle`, saves [`Recipient::export_state`], and only
//!    then acts on them (acknowledges the batch, submits redemptions); it restarts with
//!    [`Recipient::restore`] and a fresh seed. A recipient restarted blank (a new seed,
//!    no state) refuses params quoted before the restart ([`Error::QuotedBeforeRestart`]),
//!    so it never credits a replay; it has lost its queued winners, though.
//!
//! # Invariants
//!
//! * A ticket hash is redeemed at most once; an unlocked sender's tickets are refused;
//!   funds are conserved ([`Broker::total_accounted`] = [`Broker::total_funded`]).
//! * A `(recipientRand, nonce)` pair is credited at most once (at most 600 per rand),
//!   across recipient restarts too: restored, the ledgers come back; blank, the old
//!   generations' params are refused. The sender never reuses one, so a restart never
//!   yields a batch refused as replay.
//! * The recipient credits a batch only from a reported, not unlocking sender whose
//!   uncommitted float (max float − confirmed payments since the report − winners
//!   queued or in flight) covers the batch's worst case (every ticket winning), inside
//!   the creation round's validity window; so the face value of a sender's winners
//!   queued or in flight is within its max float when a batch is accepted, and the
//!   float in flight never exceeds the max float less confirmed payments.
//! * Saved states ([`SenderState`], [`RecipientState`]) are size-limited SCALE frames;
//!   the machines refuse inputs that would outgrow them ([`Error::StateFull`]), so an
//!   exported state always decodes.
//! * A sender's EV sent covers what it paid, by less than one ticket's EV of excess.
//!
//! # Example
//!
//! ```
//! use pm_tickets::*;
//! use primitives::{Machine, SecretKey, Timestamp, U256, H256};
//!
//! let key = SecretKey::from_bytes([1; 32])?;
//! let keys = RecipientKeys { address: SecretKey::from_bytes([2; 32])?.address(), secret: [9; 32] };
//! let config = RecipientConfig { ev: U256::from(1_000u64), ..RecipientConfig::default() };
//! let mut orch = Recipient::new(config.clone(), keys, Timestamp::ZERO, [0; 32]);
//! let mut bcast = Sender::new(SenderConfig::default(), key.clone(), Timestamp::ZERO, [0; 32]);
//! let now = Timestamp::ZERO;
//!
//! orch.handle(now, RecipientInput::Chain { block: 10, round: 1, round_block_hash: H256::repeat_byte(1) })?;
//! orch.handle(now, RecipientInput::GasPrice(U256::from(1u64)))?;
//! let max_float = U256::from(10u64).pow(18.into());
//! orch.handle(now, RecipientInput::SenderFunds { sender: key.address(), max_float, withdraw_round: 0 })?;
//! orch.handle(now, RecipientInput::Quote { sender: key.address(), price: Price::new(1.into(), 1.into())? })?;
//! let Some(RecipientOutput::Params { params, .. }) = orch.poll_output() else { unreachable!() };
//!
//! bcast.handle(now, SenderInput::Chain { block: 10 })?;
//! bcast.handle(now, SenderInput::Funds { deposit: max_float, reserve: U256::zero(), withdraw_round: 0 })?;
//! bcast.handle(now, SenderInput::StartSession(params))?;
//! bcast.handle(now, SenderInput::Pay { session: params.recipient_rand_hash, amount: U256::from(2_500u64) })?;
//! let batch = std::iter::from_fn(|| bcast.poll_output())
//!     .find_map(|o| match o { SenderOutput::Send { batch, .. } => Some(batch), _ => None })
//!     .unwrap();
//! assert_eq!(batch.len(), 3); // ceil(2500 / 1000)
//!
//! // Over the wire as a SCALE frame, then into the recipient.
//! orch.handle(now, RecipientInput::Batch(Box::new(TicketBatch::decode(&batch.encode())?)))?;
//! let credited = std::iter::from_fn(|| orch.poll_output()).find_map(|o| match o {
//!     RecipientOutput::Event(RecipientEvent::Credited { ev, .. }) => Some(ev),
//!     _ => None,
//! });
//! assert!(credited.unwrap().covers(U256::from(2_500u64)));
//!
//! // The recipient process restarts from its saved state: the replay is refused.
//! let saved = orch.export_state().encode();
//! let keys = RecipientKeys { address: orch.address(), secret: [9; 32] };
//! let mut orch = Recipient::restore(config, keys.clone(), now, [1; 32], RecipientState::decode(&saved)?)?;
//! assert_eq!(
//!     orch.handle(now, RecipientInput::Batch(batch.clone())),
//!     Err(Error::NonceReplayed { nonce: 1 })
//! );
//! // Restarted without it, the recipient refuses every params quoted before.
//! let mut blank = Recipient::new(RecipientConfig::default(), keys, now, [2; 32]);
//! blank.handle(now, RecipientInput::Chain { block: 10, round: 1, round_block_hash: H256::repeat_byte(1) })?;
//! assert_eq!(
//!     blank.handle(now, RecipientInput::Batch(batch.clone())),
//!     Err(Error::QuotedBeforeRestart { seed: params.seed })
//! );
//!
//! // The sender process restarts from its saved state and continues the nonces.
//! let saved = bcast.export_state().encode();
//! let bcast = Sender::restore(SenderConfig::default(), key, now, [0; 32], SenderState::decode(&saved)?)?;
//! assert_eq!(bcast.next_nonce(&params.recipient_rand_hash), Some(4));
//! # Ok::<(), pm_tickets::Error>(())
//! ```
#![forbid(unsafe_code)]

mod broker;
pub mod codec;
mod error;
mod ev;
mod recipient;
mod recipient_state;
mod sender;
mod store;
mod ticket;
pub mod validate;

pub use broker::{Broker, BrokerConfig, SenderAccount, Settlement};
pub use codec::{TicketBatch, TicketSenderParams};
pub use error::Error;
pub use ev::{ExpectedValue, win_prob_for_ev};
pub use primitives::Signer;
pub use recipient::{
    Recipient, RecipientConfig, RecipientEvent, RecipientInput, RecipientKeys, RecipientOutput,
};
pub use recipient_state::{
    Generation, MAX_RECIPIENT_STATE_BYTES, MAX_SAVED_GENERATIONS, MAX_SAVED_RANDS, MAX_SAVED_ROUNDS,
    MAX_SAVED_SENDERS, MAX_SAVED_WINNERS, RECIPIENT_STATE_VERSION, RecipientState, SavedFunds,
    SavedGeneration, SavedRand, SavedRevealed, SavedWinner, generation_of,
};
pub use sender::{
    DEFAULT_MAX_PARAMS_LIFETIME_BLOCKS, MAX_SAVED_SESSIONS, MAX_SENDER_STATE_BYTES, SENDER_STATE_VERSION,
    Sender, SenderConfig, SenderEvent, SenderInput, SenderOutput, SenderState, SessionState,
};
pub use store::{BrokerStore, MemoryStore};
pub use ticket::{
    AUX_DATA_LEN, MAX_WIN_PROB, PACKED_LEN, Price, SignedTicket, Ticket, TicketExpirationParams,
    TicketParams, is_winning, rand_hash, signed_digest, win_hash,
};
