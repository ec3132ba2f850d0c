//! The recipient (orchestrator) machine: quotes ticket params, receives ticket batches,
//! credits their exact EV, queues winners and asks the host to redeem them when that
//! pays (Livepeer Streamflow, "probabilistic micropayments"; go-livepeer `pm.recipient`).

use std::collections::{BTreeMap, VecDeque};

use primitives::{Address, H256, Machine, Timestamp, U256, keccak256_concat};

use crate::Error;
use crate::codec::TicketBatch;
use crate::ev::{ExpectedValue, win_prob_for_ev};
use crate::recipient_state::{
    Generation, MAX_SAVED_GENERATIONS, MAX_SAVED_RANDS, MAX_SAVED_ROUNDS, MAX_SAVED_SENDERS,
    MAX_SAVED_WINNERS, RecipientState, SavedFunds, SavedGeneration, SavedRand, SavedRevealed, SavedWinner,
    generation_of, secret_id,
};
use crate::ticket::{Price, SignedTicket, TicketExpirationParams, TicketParams, is_winning, rand_hash};
#[cfg(not(feature = "parallel"))]
use crate::validate::verify_signatures;
use crate::validate::{MAX_SENDER_NONCES, NonceLedger, RandInput, recipient_rand};

/// What the recipient holds that no one else may see.
#[derive(Clone, PartialEq, Eq)]
pub struct RecipientKeys {
    /// The address tickets must name.
    pub address: Address,
    /// The HMAC key of every recipientRand. Never leaves the machine.
    pub secret: [u8; 32],
}

impl core::fmt::Debug for RecipientKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "RecipientKeys({:?})", self.address)
    }
}

/// Recipient settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipientConfig {
    /// Required EV per ticket, base units.
    pub ev: U256,
    /// Gas one redemption costs (go-livepeer `RedeemGas`).
    pub redeem_gas: u64,
    /// Face value = redemption cost × this (go-livepeer `TxCostMultiplier`).
    pub tx_cost_multiplier: u64,
    /// Params expire this many blocks after the quote's block (go-livepeer: 5).
    pub params_expiration_blocks: u64,
    /// The broker's `ticketValidityPeriod` in rounds.
    pub ticket_validity_period: u64,
    /// Nonces accepted per recipientRand (go-livepeer: 600). Values above
    /// [`MAX_SENDER_NONCES`] act as 600, so a [`RecipientState`] always stays within
    /// its size limit.
    pub max_sender_nonces: usize,
    /// Mirror of the broker's settlement rule: with `false` (all-or-nothing) a winner is
    /// redeemed only when the sender's float covers its whole face value.
    pub partial_payment: bool,
    /// Wait after the first failed redemption, in milliseconds of the host's logical
    /// time; it doubles after each further failure.
    pub redeem_retry_base_ms: u64,
    /// Longest wait between two attempts, in milliseconds.
    pub redeem_retry_max_ms: u64,
    /// Submissions of one winner before it is reported [`RecipientEvent::Lost`].
    pub max_redeem_attempts: u32,
}

impl Default for RecipientConfig {
    fn default() -> Self {
        RecipientConfig {
            ev: U256::from(1_000_000_000_000u64),
            redeem_gas: 350_000,
            tx_cost_multiplier: 100,
            params_expiration_blocks: 5,
            ticket_validity_period: 2,
            max_sender_nonces: MAX_SENDER_NONCES,
            partial_payment: false,
            redeem_retry_base_ms: 30_000,
            redeem_retry_max_ms: 960_000,
            max_redeem_attempts: 5,
        }
    }
}

/// What the host feeds the recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecipientInput {
    /// A new block: its number, the current (initialized) round and that round's block
    /// hash. Block numbers never decrease.
    Chain {
        /// Latest block number.
        block: u64,
        /// Current round.
        round: u64,
        /// Block hash the current round was initialized with.
        round_block_hash: H256,
    },
    /// The current gas price, base units per gas.
    GasPrice(U256),
    /// A sender's funds as the broker sees them now. Send it whenever the sender's
    /// deposit, reserve or unlock state changes on chain and each round; it replaces
    /// the previous report. It must be read after every redemption already answered
    /// with [`RecipientInput::Redeemed`] (the recipient subtracts confirmed payments
    /// from the last report itself, so reading later is safe, reading earlier is not).
    /// Batches from a sender without a report are refused.
    SenderFunds {
        /// The sender.
        sender: Address,
        /// Its max float for this recipient: deposit + claimable reserve share
        /// ([`crate::Broker::max_float`]).
        max_float: U256,
        /// Its withdraw round ([`crate::SenderAccount::withdraw_round`]); 0 when no
        /// unlock is in progress.
        withdraw_round: u64,
    },
    /// A sender asks for ticket params at `price`.
    Quote {
        /// The asking sender.
        sender: Address,
        /// The price agreed for the work.
        price: Price,
    },
    /// A batch of tickets arrived.
    Batch(Box<TicketBatch>),
    /// A redemption requested with [`RecipientOutput::Redeem`] confirmed; `paid` is what
    /// the broker transferred.
    Redeemed {
        /// The ticket hash.
        ticket_hash: H256,
        /// Amount received.
        paid: U256,
    },
    /// A redemption failed before confirming. `reason` is the broker's error when the
    /// transaction reverted (`None`: not mined, dropped, unknown). A reason that can
    /// never succeed later (the ticket is used, expired, invalid) reports the ticket
    /// [`RecipientEvent::Lost`] at once; otherwise it is retried after a backoff
    /// (`redeem_retry_base_ms`, doubling, at most `redeem_retry_max_ms`; see
    /// [`Machine::poll_timeout`]) up to `max_redeem_attempts` submissions.
    RedeemFailed {
        /// The ticket hash.
        ticket_hash: H256,
        /// Why it failed, if known.
        reason: Option<Error>,
    },
    /// The time from [`Machine::poll_timeout`] was reached: retry redemptions whose
    /// backoff elapsed.
    Timeout,
}

/// Things the recipient reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecipientEvent {
    /// A batch was accepted; the sender is credited with its exact EV.
    Credited {
        /// The paying sender.
        sender: Address,
        /// The session (recipientRandHash).
        session: H256,
        /// Tickets in the batch.
        tickets: u32,
        /// Their total exact EV.
        ev: ExpectedValue,
    },
    /// A winning ticket was queued for redemption.
    Won {
        /// The ticket hash.
        ticket_hash: H256,
        /// Its face value.
        face_value: U256,
    },
    /// A redemption confirmed.
    Redeemed {
        /// The ticket hash.
        ticket_hash: H256,
        /// Amount received.
        paid: U256,
    },
    /// A queued winner can no longer be redeemed (its validity window closed).
    Dropped {
        /// The ticket hash.
        ticket_hash: H256,
        /// Why.
        reason: Error,
    },
    /// A submitted winner failed for good: the broker gave a reason that cannot change,
    /// or `attempts` reached `max_redeem_attempts`. It is not submitted again.
    Lost {
        /// The ticket hash.
        ticket_hash: H256,
        /// Its face value.
        face_value: U256,
        /// Submissions made.
        attempts: u32,
        /// The last failure's reason, if the host gave one.
        reason: Option<Error>,
    },
}

/// What the recipient asks of its host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecipientOutput {
    /// Send these params to `sender`.
    Params {
        /// The sender that asked.
        sender: Address,
        /// The quote.
        params: TicketParams,
    },
    /// Submit `redeemWinningTicket(ticket)`; answer with
    /// [`RecipientInput::Redeemed`] or [`RecipientInput::RedeemFailed`].
    Redeem(SignedTicket),
    /// A report.
    Event(RecipientEvent),
}

#[derive(Clone, Debug)]
struct RandRecord {
    nonces: NonceLedger,
    expiration_block: u64,
}

#[derive(Clone, Debug)]
struct Winner {
    ticket: SignedTicket,
    expiration_block: u64,
    /// Failed submissions so far.
    attempts: u32,
    /// Not submitted before this time (backoff after a failure).
    retry_at: Timestamp,
    /// While in flight: what the broker is expected to pay (the face value, or less in
    /// partial mode); held against the sender's float.
    expected: U256,
}

/// A sender's funds as last reported, less confirmed payments since.
#[derive(Clone, Copy, Debug, Default)]
struct Funds {
    max_float: U256,
    withdraw_round: u64,
    /// Block of the last report or accepted batch (which idle sender to forget first).
    last_active: u64,
}

/// Whether a broker error on redemption can never turn into success by waiting.
fn is_permanent_redeem_failure(e: &Error) -> bool {
    matches!(
        e,
        Error::TicketUsed(_)
            | Error::TicketExpired { .. }
            | Error::NotWinning
            | Error::BadSignature { .. }
            | Error::RecipientRandMismatch { .. }
            | Error::UnknownCreationRound { .. }
            | Error::CreationRoundBlockHashMismatch { .. }
            | Error::ZeroRecipient
            | Error::ZeroSender
            | Error::Primitives(_)
    )
}

/// The recipient machine (DESIGN.md section 2). See the crate docs for the call order.
///
/// Invariants: a `(recipientRand, senderNonce)` pair is credited at most once; a batch
/// is accepted or refused whole (a refused batch leaves the machine unchanged); a batch
/// is credited only from a sender with a funds report, not unlocking, whose
/// uncommitted float covers `tickets × faceValue` (every ticket winning), only inside
/// its creation round's validity window, and only on params of this process's boot
/// generation or of one restored from a [`RecipientState`]; a winner is asked to be
/// redeemed only after its params expired, inside its validity window, while its
/// sender is locked, and when what it would pay exceeds the redemption cost; the face value in flight for a sender never exceeds
/// its reported max float less the payments confirmed since; a ticket is never
/// submitted again after `Redeemed`, and at most `max_redeem_attempts` times.
#[derive(Debug)]
pub struct Recipient {
    config: RecipientConfig,
    keys: RecipientKeys,
    seed: [u8; 32],
    quotes: u64,
    /// This process's boot generation: the first 16 bytes of every seed it quotes.
    generation: Generation,
    /// Generations whose params are accepted, with the latest expiration block quoted
    /// under each (this one's once it quoted, and those restored from state).
    generations: BTreeMap<Generation, u64>,
    now: Timestamp,
    block: u64,
    round: u64,
    round_block_hash: H256,
    gas_price: U256,
    round_hashes: BTreeMap<u64, H256>,
    funds: BTreeMap<Address, Funds>,
    in_flight_float: BTreeMap<Address, U256>,
    queued_float: BTreeMap<Address, U256>,
    rands: BTreeMap<H256, RandRecord>,
    revealed: BTreeMap<H256, u64>,
    queue: BTreeMap<H256, Winner>,
    in_flight: BTreeMap<H256, Winner>,
    outputs: VecDeque<RecipientOutput>,
}

impl Recipient {
    /// A recipient with no chain state yet (block 0, round 0, gas price 0).
    ///
    /// **`seed` must differ at every process start** (e.g. 32 bytes from the OS RNG at
    /// boot). It determines this process's boot generation ([`Recipient::generation`]),
    /// which every quote seed carries and the recipientRand HMAC covers; a recipient
    /// accepts only params of its own generation and of those restored with
    /// [`Recipient::restore`]. So a recipient restarted without its saved state refuses
    /// tickets on params it quoted before the restart ([`Error::QuotedBeforeRestart`])
    /// instead of crediting them again under empty nonce ledgers.
    pub fn new(config: RecipientConfig, keys: RecipientKeys, now: Timestamp, seed: [u8; 32]) -> Self {
        Self::boot(config, keys, now, seed, 0)
    }

    fn boot(
        config: RecipientConfig,
        keys: RecipientKeys,
        now: Timestamp,
        seed: [u8; 32],
        quotes: u64,
    ) -> Self {
        let g = keccak256_concat([
            b"pm-tickets/generation".as_slice(),
            &seed,
            &now.as_millis().to_be_bytes(),
            &quotes.to_be_bytes(),
        ]);
        Recipient {
            config,
            keys,
            seed,
            quotes,
            generation: generation_of(&g),
            generations: BTreeMap::new(),
            now,
            block: 0,
            round: 0,
            round_block_hash: H256::zero(),
            gas_price: U256::zero(),
            round_hashes: BTreeMap::new(),
            funds: BTreeMap::new(),
            in_flight_float: BTreeMap::new(),
            queued_float: BTreeMap::new(),
            rands: BTreeMap::new(),
            revealed: BTreeMap::new(),
            queue: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            outputs: VecDeque::new(),
        }
    }

    /// This recipient's address.
    pub fn address(&self) -> Address {
        self.keys.address
    }

    /// This process's boot generation: the first 16 bytes of the seed of every params
    /// it quotes ([`crate::generation_of`]).
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// Everything [`Recipient::restore`] needs: generations still accepted, nonce
    /// ledgers, revealed rands, winners queued and in flight, funds, chain view and the
    /// quote counter. Pending outputs are not part of it: drain them first.
    ///
    /// **Crash-safety contract.** After every `handle` that returned `Ok` (at the least
    /// every one that produced [`RecipientEvent::Credited`], [`RecipientOutput::Redeem`],
    /// [`RecipientEvent::Redeemed`], [`RecipientEvent::Lost`] or
    /// [`RecipientEvent::Dropped`]), the host drains the outputs, exports and durably
    /// saves the state, and only then acts on the outputs (acknowledges the batch or
    /// does the work it pays for, submits redemptions). Restored from the last saved
    /// state, a recipient never credits a `(recipientRand, nonce)` twice and still holds
    /// every winner it reported. Restore only the latest save: an older one reopens the
    /// nonces credited after it. The state holds the recipientRands: keep it as secret
    /// as the HMAC key.
    pub fn export_state(&self) -> RecipientState {
        let winner = |w: &Winner, in_flight: bool| SavedWinner {
            ticket: w.ticket,
            expiration_block: w.expiration_block,
            attempts: w.attempts,
            retry_at_ms: w.retry_at.as_millis(),
            in_flight: in_flight.then_some(w.expected),
        };
        let mut winners: Vec<(H256, SavedWinner)> = self
            .queue
            .iter()
            .map(|(h, w)| (*h, winner(w, false)))
            .chain(self.in_flight.iter().map(|(h, w)| (*h, winner(w, true))))
            .collect();
        winners.sort_by_key(|(h, _)| *h);
        RecipientState {
            recipient: self.keys.address,
            secret_id: secret_id(&self.keys.secret),
            quotes: self.quotes,
            generations: self
                .generations
                .iter()
                .map(|(id, e)| SavedGeneration { id: *id, last_expiration_block: *e })
                .collect(),
            block: self.block,
            round: self.round,
            round_block_hash: self.round_block_hash,
            gas_price: self.gas_price,
            round_hashes: self.round_hashes.iter().map(|(r, h)| (*r, *h)).collect(),
            funds: self
                .funds
                .iter()
                .map(|(s, f)| SavedFunds {
                    sender: *s,
                    max_float: f.max_float,
                    withdraw_round: f.withdraw_round,
                    last_active: f.last_active,
                })
                .collect(),
            rands: self
                .rands
                .iter()
                .map(|(rand, r)| SavedRand {
                    rand: *rand,
                    expiration_block: r.expiration_block,
                    nonces: r.nonces.iter().collect(),
                })
                .collect(),
            revealed: self
                .revealed
                .iter()
                .map(|(h, e)| SavedRevealed { rand_hash: *h, expiration_block: *e })
                .collect(),
            winners: winners.into_iter().map(|(_, w)| w).collect(),
        }
    }

    /// A recipient continuing from a saved state ([`Recipient::export_state`]) in a new
    /// process. `seed` must be fresh, as for [`Recipient::new`]: the process gets a new
    /// generation and keeps accepting the saved generations' params until they expire.
    ///
    /// Refused ([`Error::InvalidRecipientState`]): a state that fails
    /// [`RecipientState::validate`], of another recipient address or HMAC secret, or
    /// with a winner whose signature does not recover to its sender. Winners that were
    /// in flight stay in flight: the host answers each (see
    /// [`Recipient::in_flight_tickets`]) with `Redeemed` or `RedeemFailed` from its own
    /// transaction records, `RedeemFailed { reason: None }` when it never submitted it
    /// (it is then retried after the backoff). Backoffs end at most
    /// `redeem_retry_max_ms` after `now`, in case the host's logical clock restarted.
    pub fn restore(
        config: RecipientConfig,
        keys: RecipientKeys,
        now: Timestamp,
        seed: [u8; 32],
        state: RecipientState,
    ) -> Result<Self, Error> {
        state.validate()?;
        if state.recipient != keys.address {
            return Err(Error::InvalidRecipientState { reason: "state of another recipient address" });
        }
        if state.secret_id != secret_id(&keys.secret) {
            return Err(Error::InvalidRecipientState { reason: "state made under another secret" });
        }
        let mut r = Self::boot(config, keys, now, seed, state.quotes);
        r.block = state.block;
        r.round = state.round;
        r.round_block_hash = state.round_block_hash;
        r.gas_price = state.gas_price;
        r.round_hashes = state.round_hashes.into_iter().collect();
        r.generations = state.generations.iter().map(|g| (g.id, g.last_expiration_block)).collect();
        // Room for this process's own generation: forgetting the one expiring first only
        // refuses its remaining params, it never credits anything.
        while r.generations.len() >= MAX_SAVED_GENERATIONS {
            let Some(first) = r.generations.iter().min_by_key(|(_, e)| **e).map(|(g, _)| *g) else { break };
            r.generations.remove(&first);
        }
        r.funds = state
            .funds
            .iter()
            .map(|f| {
                let funds = Funds {
                    max_float: f.max_float,
                    withdraw_round: f.withdraw_round,
                    last_active: f.last_active,
                };
                (f.sender, funds)
            })
            .collect();
        for sr in state.rands {
            let mut nonces = NonceLedger::new();
            for n in sr.nonces {
                nonces.record(n, usize::MAX)?;
            }
            r.rands.insert(sr.rand, RandRecord { nonces, expiration_block: sr.expiration_block });
        }
        r.revealed = state.revealed.iter().map(|v| (v.rand_hash, v.expiration_block)).collect();
        let latest_retry = now.saturating_add_millis(r.config.redeem_retry_max_ms);
        for sw in state.winners {
            let hash = sw.ticket.ticket.verify_signature(&sw.ticket.sig).map_err(|_| {
                Error::InvalidRecipientState { reason: "winner's signature is not its sender's" }
            })?;
            let sender = sw.ticket.ticket.sender;
            let w = Winner {
                ticket: sw.ticket,
                expiration_block: sw.expiration_block,
                attempts: sw.attempts,
                retry_at: Timestamp::from_millis(sw.retry_at_ms).min(latest_retry),
                expected: sw.in_flight.unwrap_or_default(),
            };
            match sw.in_flight {
                Some(expected) => {
                    Self::add_float(&mut r.in_flight_float, sender, expected);
                    r.in_flight.insert(hash, w);
                }
                None => {
                    Self::add_float(&mut r.queued_float, sender, w.ticket.ticket.face_value);
                    r.queue.insert(hash, w);
                }
            }
        }
        Ok(r)
    }

    /// Winners submitted and awaiting an answer, e.g. for a host that reconciles them
    /// with its transaction records after [`Recipient::restore`].
    pub fn in_flight_tickets(&self) -> Vec<SignedTicket> {
        self.in_flight.values().map(|w| w.ticket).collect()
    }

    /// Makes room for a new sender's funds report: forgets the report of the sender
    /// inactive the longest (no report or accepted batch since the earliest block) that
    /// has no winner queued or in flight. Its batches are refused
    /// ([`Error::UnknownSenderFunds`]) until the host reports it again, so this never
    /// credits anything; the report of a sender with winners is never forgotten
    /// ([`Error::StateFull`] when every sender has some).
    fn forget_idle_sender(&mut self) -> Result<(), Error> {
        let idle = self
            .funds
            .iter()
            .filter(|(s, _)| !self.queued_float.contains_key(*s) && !self.in_flight_float.contains_key(*s))
            .min_by_key(|(s, f)| (f.last_active, **s))
            .map(|(s, _)| *s)
            .ok_or(Error::StateFull { what: "senders", limit: MAX_SAVED_SENDERS })?;
        self.funds.remove(&idle);
        Ok(())
    }

    fn nonce_cap(&self) -> usize {
        self.config.max_sender_nonces.min(MAX_SENDER_NONCES)
    }

    /// Redemption cost: `redeemGas × gasPrice`.
    pub fn tx_cost(&self) -> Result<U256, Error> {
        self.gas_price.checked_mul(U256::from(self.config.redeem_gas)).ok_or(Error::Overflow)
    }

    /// Winners waiting to be redeemed (not yet submitted).
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Winners submitted and awaiting confirmation.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// What the recipient may still accept from `sender`: its reported max float, less
    /// payments confirmed since that report, less the face value of its winners queued
    /// or in flight (zero without a report).
    pub fn available_float(&self, sender: &Address) -> U256 {
        self.max_float(sender)
            .saturating_sub(self.in_flight_float(sender))
            .saturating_sub(self.queued_float(sender))
    }

    /// The sender's reported max float less the payments confirmed since.
    pub fn max_float(&self, sender: &Address) -> U256 {
        self.funds.get(sender).map(|f| f.max_float).unwrap_or_default()
    }

    /// What redemptions in flight for `sender` are expected to pay.
    pub fn in_flight_float(&self, sender: &Address) -> U256 {
        self.in_flight_float.get(sender).copied().unwrap_or_default()
    }

    /// Face value of `sender`'s winners waiting to be submitted.
    pub fn queued_float(&self, sender: &Address) -> U256 {
        self.queued_float.get(sender).copied().unwrap_or_default()
    }

    /// The face value quoted to `sender`: `txCost × multiplier`, at least the EV, capped
    /// by what the recipient may still accept from it ([`Recipient::available_float`];
    /// go-livepeer `recipient.faceValue`).
    pub fn face_value_for(&self, sender: &Address) -> Result<U256, Error> {
        let ev = self.config.ev;
        let mut face =
            self.tx_cost()?.checked_mul(U256::from(self.config.tx_cost_multiplier)).ok_or(Error::Overflow)?;
        if face < ev {
            face = ev;
        }
        let max_float = self.available_float(sender);
        if face > max_float {
            if max_float < ev {
                return Err(Error::InsufficientSenderReserve { max_float, ev });
            }
            face = max_float;
        }
        Ok(face)
    }

    fn add_float(map: &mut BTreeMap<Address, U256>, sender: Address, amount: U256) {
        let v = map.entry(sender).or_default();
        // Bounded by funded amounts, which are U256 sums checked by the broker.
        *v = v.saturating_add(amount);
    }

    fn sub_float(map: &mut BTreeMap<Address, U256>, sender: &Address, amount: U256) {
        if let Some(v) = map.get_mut(sender) {
            *v = v.saturating_sub(amount);
            if v.is_zero() {
                map.remove(sender);
            }
        }
    }

    /// `generation (16 bytes) ‖ keccak256("pm-tickets/seed" ‖ boot seed ‖ counter)[..16]`.
    fn next_seed(&mut self) -> H256 {
        self.quotes = self.quotes.saturating_add(1);
        let h = keccak256_concat([b"pm-tickets/seed".as_slice(), &self.seed, &self.quotes.to_be_bytes()]);
        let mut seed = [0u8; 32];
        seed[..16].copy_from_slice(&self.generation);
        seed[16..].copy_from_slice(&h.as_bytes()[..16]);
        H256(seed)
    }

    fn quote(&mut self, sender: Address, price: Price) -> Result<(), Error> {
        if price.den.is_zero() {
            return Err(Error::ZeroPriceDenominator);
        }
        // Params must name an initialized round, or no ticket made with them can be
        // credited or redeemed.
        if self.round_block_hash.is_zero() {
            return Err(Error::UnknownCreationRound { round: U256::from(self.round) });
        }
        let face_value = self.face_value_for(&sender)?;
        let win_prob = win_prob_for_ev(face_value, self.config.ev)?;
        let expiration_block = self.block.saturating_add(self.config.params_expiration_blocks);
        let expiration_params = TicketExpirationParams {
            creation_round: self.round,
            creation_round_block_hash: self.round_block_hash,
        };
        let seed = self.next_seed();
        let last = self.generations.entry(self.generation).or_default();
        *last = (*last).max(expiration_block);
        let rand = recipient_rand(
            &self.keys.secret,
            &RandInput {
                seed: &seed,
                sender: &sender,
                face_value: &face_value,
                win_prob: &win_prob,
                expiration_block,
                price: &price,
                expiration_params: &expiration_params,
            },
        );
        let params = TicketParams {
            recipient: self.keys.address,
            face_value,
            win_prob,
            recipient_rand_hash: rand_hash(&rand),
            seed,
            expiration_block,
            price,
            expiration_params,
        };
        self.outputs.push_back(RecipientOutput::Params { sender, params });
        Ok(())
    }

    /// Checks a whole batch without changing state; returns the rand and, per ticket,
    /// its hash and whether it won.
    fn check_batch(&self, batch: &TicketBatch) -> Result<(H256, Vec<(H256, bool)>), Error> {
        let p = &batch.params;
        if batch.is_empty() {
            return Err(Error::EmptyBatch);
        }
        if p.recipient != self.keys.address {
            return Err(Error::WrongRecipient { found: p.recipient, expected: self.keys.address });
        }
        if batch.sender.is_zero() {
            return Err(Error::ZeroSender);
        }
        let rand = recipient_rand(
            &self.keys.secret,
            &RandInput {
                seed: &p.seed,
                sender: &batch.sender,
                face_value: &p.face_value,
                win_prob: &p.win_prob,
                expiration_block: p.expiration_block,
                price: &p.price,
                expiration_params: &p.expiration_params,
            },
        );
        let computed = rand_hash(&rand);
        if computed != p.recipient_rand_hash {
            return Err(Error::RecipientRandMismatch { expected: p.recipient_rand_hash, computed });
        }
        if self.revealed.contains_key(&p.recipient_rand_hash) {
            return Err(Error::RandRevealed { rand_hash: p.recipient_rand_hash });
        }
        if p.expiration_block <= self.block {
            return Err(Error::ParamsExpired {
                expiration_block: p.expiration_block,
                last_block: self.block,
            });
        }
        // The seed is authentic (the HMAC covers it): its generation says which process
        // quoted it. Params of a process whose nonce ledgers this one does not hold
        // could be replays.
        let generation = generation_of(&p.seed);
        if generation != self.generation
            && self.generations.get(&generation).is_none_or(|last| p.expiration_block > *last)
        {
            return Err(Error::QuotedBeforeRestart { seed: p.seed });
        }
        self.check_creation_round(&p.expiration_params)?;
        self.check_sender_funds(&batch.sender, p.face_value, batch.len())?;
        // Replay check against the ledger and within the batch itself.
        let known = self.rands.get(&rand);
        if known.is_none() && self.rands.len().saturating_add(self.revealed.len()) >= MAX_SAVED_RANDS {
            return Err(Error::StateFull { what: "recipientRand ledgers", limit: MAX_SAVED_RANDS });
        }
        // Whether or not its tickets win, so a refusal tells the sender nothing about them.
        if self.queue.len().saturating_add(self.in_flight.len()).saturating_add(batch.len())
            > MAX_SAVED_WINNERS
        {
            return Err(Error::StateFull { what: "winners", limit: MAX_SAVED_WINNERS });
        }
        let mut ledger = known.map(|r| r.nonces.clone()).unwrap_or_default();
        for sp in &batch.sender_params {
            ledger.record(sp.sender_nonce, self.nonce_cap())?;
        }
        let tickets: Vec<_> = batch.tickets().collect();
        let mut out = Vec::with_capacity(tickets.len());
        #[cfg(feature = "parallel")]
        let verified = crate::validate::par_verify_signatures(&tickets);
        #[cfg(not(feature = "parallel"))]
        let verified = verify_signatures(&tickets);
        for (result, (_, sig)) in verified.into_iter().zip(&tickets) {
            out.push((result?, is_winning(sig, &rand, p.win_prob)));
        }
        Ok((rand, out))
    }

    /// The broker's creation-round rules, checked on receipt:
    /// `creationRound + ticketValidityPeriod > currentRound`, and the round is known
    /// with this block hash.
    fn check_creation_round(&self, ep: &TicketExpirationParams) -> Result<(), Error> {
        // The window first: hashes of rounds outside it are no longer kept.
        if ep.creation_round.saturating_add(self.config.ticket_validity_period) <= self.round {
            return Err(Error::TicketExpired {
                creation_round: ep.creation_round,
                current_round: self.round,
                validity_period: self.config.ticket_validity_period,
            });
        }
        crate::validate::check_creation_round_hash(&self.round_hashes, ep)?;
        Ok(())
    }

    /// The sender's funds, checked on every batch: a report exists, the float is not
    /// zero, no unlock completes before the next round (go-livepeer `ValidateSender`),
    /// and the uncommitted float covers the batch's worst case, every ticket winning.
    /// The check does not depend on which tickets of this batch win, so a refusal tells
    /// the sender nothing about them (it cannot probe for winners and withhold them),
    /// and whatever wins, the winners' face value fits in the float: the recipient never
    /// credits tickets whose winners the sender could not pay.
    fn check_sender_funds(&self, sender: &Address, face_value: U256, tickets: usize) -> Result<(), Error> {
        let funds = self.funds.get(sender).ok_or(Error::UnknownSenderFunds(*sender))?;
        if funds.max_float.is_zero() {
            return Err(Error::NoFunds(*sender));
        }
        let w = funds.withdraw_round;
        if w != 0 && w <= self.round.saturating_add(1) {
            if self.round >= w {
                return Err(Error::SenderUnlocked(*sender));
            }
            return Err(Error::SenderUnlocking {
                sender: *sender,
                withdraw_round: w,
                current_round: self.round,
            });
        }
        let available = self.available_float(sender);
        if face_value > available {
            return Err(Error::FaceValueExceedsFloat { sender: *sender, face_value, available });
        }
        let worst = face_value.checked_mul(U256::from(tickets)).unwrap_or(U256::MAX);
        if worst > available {
            return Err(Error::BatchExceedsFloat { sender: *sender, tickets, face_value, available });
        }
        Ok(())
    }

    fn receive(&mut self, batch: TicketBatch) -> Result<(), Error> {
        let (rand, checked) = self.check_batch(&batch)?;
        let p = batch.params;
        let count = u32::try_from(batch.len()).map_err(|_| Error::Overflow)?;
        let ev = p.expected_value().checked_mul(u64::from(count))?;
        let block = self.block;
        if let Some(f) = self.funds.get_mut(&batch.sender) {
            f.last_active = block;
        }
        let record = self.rands.entry(rand).or_insert_with(|| RandRecord {
            nonces: NonceLedger::new(),
            expiration_block: p.expiration_block,
        });
        for sp in &batch.sender_params {
            // Checked in `check_batch`; cannot fail here.
            let _ = record.nonces.record(sp.sender_nonce, usize::MAX);
        }
        self.outputs.push_back(RecipientOutput::Event(RecipientEvent::Credited {
            sender: batch.sender,
            session: p.recipient_rand_hash,
            tickets: count,
            ev,
        }));
        for ((hash, wins), sp) in checked.into_iter().zip(&batch.sender_params) {
            if !wins {
                continue;
            }
            let ticket = SignedTicket {
                ticket: crate::Ticket::new(&p, batch.sender, sp.sender_nonce),
                sig: sp.sig,
                recipient_rand: rand,
            };
            // Nonces are fresh, so the hash is new: the queue gains exactly this face.
            self.queue.insert(
                hash,
                Winner {
                    ticket,
                    expiration_block: p.expiration_block,
                    attempts: 0,
                    retry_at: Timestamp::ZERO,
                    expected: U256::zero(),
                },
            );
            Self::add_float(&mut self.queued_float, batch.sender, p.face_value);
            self.outputs.push_back(RecipientOutput::Event(RecipientEvent::Won {
                ticket_hash: hash,
                face_value: p.face_value,
            }));
        }
        self.redeem_ready();
        Ok(())
    }

    /// Moves queued winners that are ready into redemption requests, and drops those
    /// whose validity window closed.
    fn redeem_ready(&mut self) {
        // An overflowing cost is a cost no ticket covers.
        let tx_cost = self.tx_cost().unwrap_or(U256::MAX);
        let hashes: Vec<H256> = self.queue.keys().copied().collect();
        for hash in hashes {
            let Some(w) = self.queue.get(&hash) else { continue };
            let sender = w.ticket.ticket.sender;
            let face = w.ticket.ticket.face_value;
            let creation_round = w.ticket.ticket.expiration_params.creation_round;
            if creation_round.saturating_add(self.config.ticket_validity_period) <= self.round {
                self.queue.remove(&hash);
                Self::sub_float(&mut self.queued_float, &sender, face);
                self.outputs.push_back(RecipientOutput::Event(RecipientEvent::Dropped {
                    ticket_hash: hash,
                    reason: Error::TicketExpired {
                        creation_round,
                        current_round: self.round,
                        validity_period: self.config.ticket_validity_period,
                    },
                }));
                continue;
            }
            // Redeem only after the params expired: no new tickets can use the rand
            // once it is revealed. And not before a failed attempt's backoff elapsed.
            if self.block < w.expiration_block || self.now < w.retry_at {
                continue;
            }
            let funds = self.funds.get(&sender).copied().unwrap_or_default();
            // An unlocked sender's tickets revert; funding again relocks it, so wait.
            if funds.withdraw_round != 0 && self.round >= funds.withdraw_round {
                continue;
            }
            // What this submission may take: the float less what is already in flight.
            let available = funds.max_float.saturating_sub(self.in_flight_float(&sender));
            let payable = if self.config.partial_payment {
                face.min(available)
            } else if available >= face {
                face
            } else {
                U256::zero()
            };
            if payable <= tx_cost || payable.is_zero() {
                continue;
            }
            let Some(mut w) = self.queue.remove(&hash) else { continue };
            Self::sub_float(&mut self.queued_float, &sender, face);
            Self::add_float(&mut self.in_flight_float, sender, payable);
            w.expected = payable;
            // Submitting reveals the rand: refuse new tickets with it, forget its nonces.
            let rh = w.ticket.ticket.recipient_rand_hash;
            self.revealed.insert(rh, w.expiration_block);
            self.rands.remove(&w.ticket.recipient_rand);
            self.outputs.push_back(RecipientOutput::Redeem(w.ticket));
            self.in_flight.insert(hash, w);
        }
    }

    fn backoff_ms(&self, attempts: u32) -> u64 {
        let base = self.config.redeem_retry_base_ms;
        let factor = 1u64.checked_shl(attempts.saturating_sub(1)).unwrap_or(u64::MAX);
        base.saturating_mul(factor).min(self.config.redeem_retry_max_ms)
    }

    fn settle(&mut self, hash: H256, outcome: Result<U256, Option<Error>>) -> Result<(), Error> {
        let mut w = self.in_flight.remove(&hash).ok_or(Error::UnknownRedemption(hash))?;
        let sender = w.ticket.ticket.sender;
        let face = w.ticket.ticket.face_value;
        Self::sub_float(&mut self.in_flight_float, &sender, w.expected);
        w.expected = U256::zero();
        match outcome {
            Ok(paid) => {
                // The broker paid from this sender's deposit and reserve share: that
                // much less float until the next funds report.
                if let Some(f) = self.funds.get_mut(&sender) {
                    f.max_float = f.max_float.saturating_sub(paid);
                }
                self.outputs
                    .push_back(RecipientOutput::Event(RecipientEvent::Redeemed { ticket_hash: hash, paid }));
            }
            Err(reason) => {
                w.attempts = w.attempts.saturating_add(1);
                let permanent = reason.as_ref().is_some_and(is_permanent_redeem_failure);
                if permanent || w.attempts >= self.config.max_redeem_attempts {
                    self.outputs.push_back(RecipientOutput::Event(RecipientEvent::Lost {
                        ticket_hash: hash,
                        face_value: face,
                        attempts: w.attempts,
                        reason,
                    }));
                } else {
                    w.retry_at = self.now.saturating_add_millis(self.backoff_ms(w.attempts));
                    Self::add_float(&mut self.queued_float, sender, face);
                    self.queue.insert(hash, w);
                }
            }
        }
        self.redeem_ready();
        Ok(())
    }

    fn chain(&mut self, block: u64, round: u64, round_block_hash: H256) -> Result<(), Error> {
        if block < self.block {
            return Err(Error::ChainRegressed { last: self.block, got: block });
        }
        if round < self.round {
            return Err(Error::RoundNotIncreasing { current: self.round, got: round });
        }
        self.block = block;
        self.round = round;
        self.round_block_hash = round_block_hash;
        self.round_hashes.insert(round, round_block_hash);
        // Rounds whose tickets are expired are no longer needed to check a batch.
        let validity = self.config.ticket_validity_period;
        self.round_hashes.retain(|r, _| r.saturating_add(validity) > round);
        while self.round_hashes.len() > MAX_SAVED_ROUNDS {
            // Forgetting the oldest round only refuses its tickets as unknown.
            self.round_hashes.pop_first();
        }
        // Once params expired no batch can use their rand again, so its nonce ledger
        // and revealed mark can go.
        self.rands.retain(|_, r| r.expiration_block > block);
        self.revealed.retain(|_, exp| *exp > block);
        self.generations.retain(|_, last| *last > block);
        self.redeem_ready();
        Ok(())
    }
}

impl Machine for Recipient {
    type Input = RecipientInput;
    type Output = RecipientOutput;
    type Error = Error;

    fn handle(&mut self, now: Timestamp, input: RecipientInput) -> Result<(), Error> {
        self.now = self.now.max(now);
        match input {
            RecipientInput::Chain { block, round, round_block_hash } => {
                self.chain(block, round, round_block_hash)
            }
            RecipientInput::GasPrice(price) => {
                self.gas_price = price;
                self.redeem_ready();
                Ok(())
            }
            RecipientInput::SenderFunds { sender, max_float, withdraw_round } => {
                if !self.funds.contains_key(&sender) && self.funds.len() >= MAX_SAVED_SENDERS {
                    self.forget_idle_sender()?;
                }
                self.funds.insert(sender, Funds { max_float, withdraw_round, last_active: self.block });
                self.redeem_ready();
                Ok(())
            }
            RecipientInput::Quote { sender, price } => self.quote(sender, price),
            RecipientInput::Batch(batch) => self.receive(*batch),
            RecipientInput::Redeemed { ticket_hash, paid } => self.settle(ticket_hash, Ok(paid)),
            RecipientInput::RedeemFailed { ticket_hash, reason } => self.settle(ticket_hash, Err(reason)),
            RecipientInput::Timeout => {
                self.redeem_ready();
                Ok(())
            }
        }
    }

    fn poll_output(&mut self) -> Option<RecipientOutput> {
        self.outputs.pop_front()
    }

    /// The earliest time a queued winner's retry backoff ends, if any is waiting for
    /// one; everything else is driven by [`RecipientInput::Chain`] and the other inputs.
    fn poll_timeout(&self) -> Option<Timestamp> {
        self.queue.values().map(|w| w.retry_at).filter(|t| *t > self.now).min()
    }
}
