//! The sender (broadcaster) machine: one session per set of recipient params, nonces,
//! exact credit accounting, refusal of params it should not accept, and a saved state
//! for restarts (go-livepeer `pm.sender`).

use std::collections::{BTreeMap, VecDeque};

use parity_scale_codec::{Decode, Encode};
use primitives::codec::{decode_frame, encode_frame};
use primitives::{Address, H256, Machine, SecretKey, Signer, Timestamp, U256};

use crate::Error;
use crate::codec::{TicketBatch, TicketSenderParams};
use crate::ev::ExpectedValue;
use crate::ticket::{Ticket, TicketParams};
use crate::validate::MAX_SENDER_NONCES;

/// Version byte of [`SenderState`] frames.
pub const SENDER_STATE_VERSION: u8 = 1;
/// Most sessions (active or ended) a [`SenderState`] frame may carry.
pub const MAX_SAVED_SESSIONS: usize = 4_096;
/// Largest encoded [`SenderState`] accepted: a fixed header and [`MAX_SAVED_SESSIONS`]
/// sessions of at most 512 bytes each.
pub const MAX_SENDER_STATE_BYTES: usize = 256 + MAX_SAVED_SESSIONS * 512;

/// Default [`SenderConfig::max_params_lifetime_blocks`]: 1,000 blocks, 200 times the
/// recipient's default params lifetime.
pub const DEFAULT_MAX_PARAMS_LIFETIME_BLOCKS: u64 = 1_000;

/// Sender settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderConfig {
    /// Refuse params whose ticket EV is above this (go-livepeer `maxEV`).
    pub max_ev: U256,
    /// Refuse face values above `deposit / deposit_multiplier` (go-livepeer
    /// `depositMultiplier`): a winner must not be able to take more than that share.
    pub deposit_multiplier: u64,
    /// Nonces one session may use before the sender needs fresh params (the
    /// recipient's per-rand cap).
    pub max_nonces: u32,
    /// Refuse params that expire more than this many blocks after the last block seen
    /// ([`Error::ParamsLifetimeTooLong`]). A session is kept until its params expire
    /// (to continue its nonces), so without a bound a recipient could make the sender
    /// hold sessions forever and fill its saved state ([`MAX_SAVED_SESSIONS`]).
    pub max_params_lifetime_blocks: u64,
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            max_ev: U256::from(3_000_000_000_000u64),
            deposit_multiplier: 1,
            max_nonces: MAX_SENDER_NONCES as u32,
            max_params_lifetime_blocks: DEFAULT_MAX_PARAMS_LIFETIME_BLOCKS,
        }
    }
}

/// What the host feeds the sender.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SenderInput {
    /// The latest block number (never decreases).
    Chain {
        /// Latest block.
        block: u64,
    },
    /// The sender's current deposit on the broker (reserve and unlock state unchanged).
    Deposit(U256),
    /// The sender's whole broker account, as read from the chain after any change
    /// (`Broker::sender` and `Broker::reserve`): every later ticket is checked against
    /// it.
    Funds {
        /// Deposit.
        deposit: U256,
        /// Reserve.
        reserve: U256,
        /// Withdraw round of an unlock in progress; 0 when none. While it is non-zero
        /// the sender issues no tickets (they could become unredeemable).
        withdraw_round: u64,
    },
    /// Params received from a recipient: open a session (id = recipientRandHash).
    /// Starting a session that is already known (open, or ended but with params not yet
    /// expired) resumes it: its nonce sequence and credit continue, so no nonce is ever
    /// reused under one recipientRand.
    StartSession(TicketParams),
    /// Pay `amount` base units in the session: send as many tickets as needed so that
    /// the session's credit (EV sent minus amounts paid) stays non-negative. The params
    /// and the funds are re-checked first ([`Sender::check_params`]).
    Pay {
        /// The session (recipientRandHash).
        session: H256,
        /// The cost to cover.
        amount: U256,
    },
    /// Close a session. Its nonce sequence is kept until its params expire, so starting
    /// it again continues the sequence.
    EndSession(H256),
}

/// What the sender reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SenderEvent {
    /// A session was opened.
    SessionStarted {
        /// Its id.
        session: H256,
        /// The EV of one ticket.
        ticket_ev: ExpectedValue,
    },
    /// A known session was started again; its nonces continue from `next_nonce`.
    SessionResumed {
        /// Its id.
        session: H256,
        /// The nonce the next ticket will carry.
        next_nonce: u32,
    },
    /// A session's params expired; it was closed.
    SessionExpired(H256),
}

/// What the sender asks of its host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SenderOutput {
    /// Send this batch to the session's recipient. A host that persists the sender
    /// ([`Sender::export_state`]) saves the state before it sends the batch.
    Send {
        /// The session.
        session: H256,
        /// The signed tickets.
        batch: Box<TicketBatch>,
    },
    /// A report.
    Event(SenderEvent),
}

/// One session in a [`SenderState`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SessionState {
    /// The recipient's params; the session id is `params.recipient_rand_hash`.
    pub params: TicketParams,
    /// The nonce the next ticket will carry (at least 1).
    pub next_nonce: u32,
    /// EV sent minus amounts paid.
    pub credit: ExpectedValue,
    /// Ended with [`SenderInput::EndSession`] (kept only to continue its nonces).
    pub ended: bool,
}

/// Everything a [`Sender`] needs to continue after a restart: chain and funds view and
/// every session whose params have not expired, with its next nonce and credit.
///
/// Persist it ([`SenderState::encode`]) after each `handle` that produced a
/// [`SenderOutput::Send`] and before sending that batch; [`Sender::restore`] then never
/// reuses a nonce the recipient has seen.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SenderState {
    /// The sender's address; [`Sender::restore`] refuses another signer.
    pub sender: Address,
    /// Last block seen.
    pub block: u64,
    /// Deposit last reported.
    pub deposit: U256,
    /// Reserve last reported.
    pub reserve: U256,
    /// Withdraw round last reported (0: no unlock).
    pub withdraw_round: u64,
    /// Sessions, in id order.
    pub sessions: Vec<SessionState>,
}

impl SenderState {
    /// The versioned SCALE frame.
    pub fn encode(&self) -> Vec<u8> {
        encode_frame(SENDER_STATE_VERSION, self)
    }

    /// Decodes a frame (at most [`MAX_SENDER_STATE_BYTES`]) and checks it
    /// ([`SenderState::validate`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let state: SenderState = decode_frame(bytes, SENDER_STATE_VERSION, MAX_SENDER_STATE_BYTES)?;
        state.validate()?;
        Ok(state)
    }

    /// Checks what a restore relies on: a non-zero sender, at most
    /// [`MAX_SAVED_SESSIONS`] sessions with strictly increasing ids (so no duplicate),
    /// every `next_nonce ≥ 1`, and every credit below one ticket's EV (a sender never
    /// holds more: a larger credit would let it pay without sending tickets).
    pub fn validate(&self) -> Result<(), Error> {
        if self.sessions.len() > MAX_SAVED_SESSIONS {
            return Err(Error::InvalidSenderState { reason: "too many sessions" });
        }
        if self.sender.is_zero() {
            return Err(Error::InvalidSenderState { reason: "zero sender" });
        }
        let mut last: Option<H256> = None;
        for s in &self.sessions {
            let id = s.params.recipient_rand_hash;
            if last.is_some_and(|l| l >= id) {
                return Err(Error::InvalidSenderState { reason: "session ids not strictly increasing" });
            }
            if s.next_nonce == 0 {
                return Err(Error::InvalidSenderState { reason: "next nonce is zero" });
            }
            if !s.credit.is_zero() && s.credit >= s.params.expected_value() {
                return Err(Error::InvalidSenderState { reason: "credit of a whole ticket or more" });
            }
            last = Some(id);
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
struct Session {
    params: TicketParams,
    ticket_ev: ExpectedValue,
    next_nonce: u32,
    credit: ExpectedValue,
    ended: bool,
}

/// The sender machine (DESIGN.md section 2).
///
/// Invariants: after every [`SenderInput::Pay`], the exact EV of the tickets sent in a
/// session is at least the sum of the amounts paid in it, and exceeds it by less than
/// one ticket's EV; a nonce is never used twice under one recipientRandHash, across
/// `EndSession`/`StartSession` and across [`Sender::export_state`]/[`Sender::restore`];
/// every ticket is issued only after its params and the sender's latest funds passed
/// [`Sender::check_params`].
#[derive(Debug)]
pub struct Sender<S: Signer = SecretKey> {
    config: SenderConfig,
    signer: S,
    address: Address,
    now: Timestamp,
    block: u64,
    deposit: U256,
    reserve: U256,
    withdraw_round: u64,
    sessions: BTreeMap<H256, Session>,
    outputs: VecDeque<SenderOutput>,
}

impl<S: Signer> Sender<S> {
    /// A sender with no deposit yet. Its nonces are deterministic, so `seed` is unused
    /// today; it is part of the machine shape for future randomized choices.
    pub fn new(config: SenderConfig, signer: S, now: Timestamp, seed: [u8; 32]) -> Self {
        let _ = seed;
        let address = signer.address();
        Sender {
            config,
            signer,
            address,
            now,
            block: 0,
            deposit: U256::zero(),
            reserve: U256::zero(),
            withdraw_round: 0,
            sessions: BTreeMap::new(),
            outputs: VecDeque::new(),
        }
    }

    /// A sender continuing from a saved state. The signer must be the state's sender
    /// ([`Error::SignerMismatch`]); the state must pass [`SenderState::validate`].
    pub fn restore(
        config: SenderConfig,
        signer: S,
        now: Timestamp,
        seed: [u8; 32],
        state: SenderState,
    ) -> Result<Self, Error> {
        state.validate()?;
        let mut s = Sender::new(config, signer, now, seed);
        if s.address != state.sender {
            return Err(Error::SignerMismatch { signer: s.address, sender: state.sender });
        }
        s.block = state.block;
        s.deposit = state.deposit;
        s.reserve = state.reserve;
        s.withdraw_round = state.withdraw_round;
        for st in state.sessions {
            s.sessions.insert(
                st.params.recipient_rand_hash,
                Session {
                    params: st.params,
                    ticket_ev: st.params.expected_value(),
                    next_nonce: st.next_nonce,
                    credit: st.credit,
                    ended: st.ended,
                },
            );
        }
        Ok(s)
    }

    /// Everything needed to [`Sender::restore`] this sender (pending outputs are not
    /// part of it: drain them first).
    pub fn export_state(&self) -> SenderState {
        SenderState {
            sender: self.address,
            block: self.block,
            deposit: self.deposit,
            reserve: self.reserve,
            withdraw_round: self.withdraw_round,
            sessions: self
                .sessions
                .values()
                .map(|s| SessionState {
                    params: s.params,
                    next_nonce: s.next_nonce,
                    credit: s.credit,
                    ended: s.ended,
                })
                .collect(),
        }
    }

    /// The sender's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The credit of an open session (EV sent minus amounts paid), if it exists.
    pub fn credit(&self, session: &H256) -> Option<ExpectedValue> {
        self.sessions.get(session).filter(|s| !s.ended).map(|s| s.credit)
    }

    /// The nonce the next ticket of a known session (open or ended) will carry.
    pub fn next_nonce(&self, session: &H256) -> Option<u32> {
        self.sessions.get(session).map(|s| s.next_nonce)
    }

    /// Checks params against the current chain and funds view, as go-livepeer's
    /// `validateTicketParams` does, and more: non-zero recipient and win probability,
    /// not expired, expiring within `max_params_lifetime_blocks`, EV not above `max_ev`, funds not zero ([`Error::NoFunds`]), no
    /// unlock in progress ([`Error::UnlockInProgress`]), and face value not above
    /// `deposit / deposit_multiplier`. Run at `StartSession` and again before every
    /// payment, so a deposit drop, an unlock or a new block takes effect on the next
    /// ticket.
    pub fn check_params(&self, params: &TicketParams) -> Result<(), Error> {
        if params.recipient.is_zero() {
            return Err(Error::ZeroRecipient);
        }
        if params.win_prob.is_zero() {
            return Err(Error::ZeroWinProb);
        }
        if params.expiration_block <= self.block {
            return Err(Error::ParamsExpired {
                expiration_block: params.expiration_block,
                last_block: self.block,
            });
        }
        let latest = self.block.saturating_add(self.config.max_params_lifetime_blocks);
        if params.expiration_block > latest {
            return Err(Error::ParamsLifetimeTooLong {
                expiration_block: params.expiration_block,
                max_expiration_block: latest,
            });
        }
        let ev = params.expected_value();
        if ev > ExpectedValue::from_amount(self.config.max_ev) {
            return Err(Error::EvTooHigh { ev_floor: ev.floor(), max: self.config.max_ev });
        }
        if self.deposit.is_zero() && self.reserve.is_zero() {
            return Err(Error::NoFunds(self.address));
        }
        if self.withdraw_round != 0 {
            return Err(Error::UnlockInProgress { withdraw_round: self.withdraw_round });
        }
        let max = self.deposit / U256::from(self.config.deposit_multiplier.max(1));
        if params.face_value > max {
            return Err(Error::FaceValueTooHigh { face_value: params.face_value, max });
        }
        Ok(())
    }

    fn start(&mut self, params: TicketParams) -> Result<(), Error> {
        let id = params.recipient_rand_hash;
        if let Some(existing) = self.sessions.get(&id) {
            if existing.params != params {
                return Err(Error::SessionParamsMismatch(id));
            }
            self.check_params(&params)?;
            let next_nonce = existing.next_nonce;
            if let Some(s) = self.sessions.get_mut(&id) {
                s.ended = false;
            }
            self.outputs
                .push_back(SenderOutput::Event(SenderEvent::SessionResumed { session: id, next_nonce }));
            return Ok(());
        }
        self.check_params(&params)?;
        // Every known session goes into the saved state, which must stay restorable.
        if self.sessions.len() >= MAX_SAVED_SESSIONS {
            return Err(Error::StateFull { what: "sessions", limit: MAX_SAVED_SESSIONS });
        }
        let ticket_ev = params.expected_value();
        self.sessions.insert(
            id,
            Session { params, ticket_ev, next_nonce: 1, credit: ExpectedValue::ZERO, ended: false },
        );
        self.outputs.push_back(SenderOutput::Event(SenderEvent::SessionStarted { session: id, ticket_ev }));
        Ok(())
    }

    fn pay(&mut self, id: H256, amount: U256) -> Result<(), Error> {
        let session = self.sessions.get(&id).filter(|s| !s.ended).ok_or(Error::UnknownSession(id))?;
        self.check_params(&session.params)?;
        let cost = ExpectedValue::from_amount(amount);
        let shortfall = cost.checked_sub(session.credit).unwrap_or(ExpectedValue::ZERO);
        let needed = session.ticket_ev.tickets_for(shortfall).ok_or(Error::ZeroWinProb)?;
        let used = u64::from(session.next_nonce.saturating_sub(1));
        // Nonces stay within u32: the last one used is at most u32::MAX.
        let budget = u64::from(self.config.max_nonces.min(u32::MAX - 1)).saturating_sub(used);
        let count = u64::try_from(needed)
            .ok()
            .filter(|n| *n <= budget)
            .ok_or(Error::TooManyNonces { limit: self.config.max_nonces as usize })?;
        let sent = session.ticket_ev.checked_mul(count)?;
        let credit = session.credit.checked_add(sent)?.checked_sub(cost).ok_or(Error::Overflow)?;
        let first = session.next_nonce;
        let params = session.params;
        let sender_params = (0..count as u32)
            .map(|i| {
                let nonce = first + i;
                let ticket = Ticket::new(&params, self.address, nonce);
                TicketSenderParams {
                    sender_nonce: nonce,
                    sig: self.signer.sign_digest(&ticket.sign_digest()),
                }
            })
            .collect::<Vec<_>>();
        if let Some(s) = self.sessions.get_mut(&id) {
            s.credit = credit;
            s.next_nonce = first + count as u32;
        }
        if !sender_params.is_empty() {
            let batch = Box::new(TicketBatch { params, sender: self.address, sender_params });
            self.outputs.push_back(SenderOutput::Send { session: id, batch });
        }
        Ok(())
    }

    fn chain(&mut self, block: u64) -> Result<(), Error> {
        if block < self.block {
            return Err(Error::ChainRegressed { last: self.block, got: block });
        }
        self.block = block;
        let expired: Vec<(H256, bool)> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.params.expiration_block <= block)
            .map(|(k, s)| (*k, s.ended))
            .collect();
        for (id, ended) in expired {
            // Expired params can never be used again (the sender refuses them and so
            // does the recipient), so the nonce sequence can go.
            self.sessions.remove(&id);
            if !ended {
                self.outputs.push_back(SenderOutput::Event(SenderEvent::SessionExpired(id)));
            }
        }
        Ok(())
    }
}

impl<S: Signer> Machine for Sender<S> {
    type Input = SenderInput;
    type Output = SenderOutput;
    type Error = Error;

    fn handle(&mut self, now: Timestamp, input: SenderInput) -> Result<(), Error> {
        self.now = self.now.max(now);
        match input {
            SenderInput::Chain { block } => self.chain(block),
            SenderInput::Deposit(d) => {
                self.deposit = d;
                Ok(())
            }
            SenderInput::Funds { deposit, reserve, withdraw_round } => {
                self.deposit = deposit;
                self.reserve = reserve;
                self.withdraw_round = withdraw_round;
                Ok(())
            }
            SenderInput::StartSession(p) => self.start(p),
            SenderInput::Pay { session, amount } => self.pay(session, amount),
            SenderInput::EndSession(id) => match self.sessions.get_mut(&id).filter(|s| !s.ended) {
                Some(s) => {
                    s.ended = true;
                    Ok(())
                }
                None => Err(Error::UnknownSession(id)),
            },
        }
    }

    fn poll_output(&mut self) -> Option<SenderOutput> {
        self.outputs.pop_front()
    }

    /// The sender is driven by blocks ([`SenderInput::Chain`]), not by time.
    fn poll_timeout(&self) -> Option<Timestamp> {
        None
    }
}
