//! The sender (broadcaster) machine: one session per set of recipient params, nonces,
//! exact credit accounting, and refusal of params it should not accept
//! (go-livepeer `pm.sender`).

use std::collections::{BTreeMap, VecDeque};

use primitives::{Address, H256, Machine, SecretKey, Signer, Timestamp, U256};

use crate::Error;
use crate::codec::{TicketBatch, TicketSenderParams};
use crate::ev::ExpectedValue;
use crate::ticket::{Ticket, TicketParams};
use crate::validate::MAX_SENDER_NONCES;

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
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            max_ev: U256::from(3_000_000_000_000u64),
            deposit_multiplier: 1,
            max_nonces: MAX_SENDER_NONCES as u32,
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
    /// The sender's current deposit on the broker.
    Deposit(U256),
    /// Params received from a recipient: open a session (id = recipientRandHash).
    StartSession(TicketParams),
    /// Pay `amount` base units in the session: send as many tickets as needed so that
    /// the session's credit (EV sent minus amounts paid) stays non-negative.
    Pay {
        /// The session (recipientRandHash).
        session: H256,
        /// The cost to cover.
        amount: U256,
    },
    /// Forget a session.
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
    /// A session's params expired; it was closed.
    SessionExpired(H256),
}

/// What the sender asks of its host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SenderOutput {
    /// Send this batch to the session's recipient.
    Send {
        /// The session.
        session: H256,
        /// The signed tickets.
        batch: Box<TicketBatch>,
    },
    /// A report.
    Event(SenderEvent),
}

#[derive(Clone, Debug)]
struct Session {
    params: TicketParams,
    ticket_ev: ExpectedValue,
    next_nonce: u32,
    credit: ExpectedValue,
}

/// The sender machine (DESIGN.md section 2).
///
/// Invariant: after every [`SenderInput::Pay`], the exact EV of the tickets sent in a
/// session is at least the sum of the amounts paid in it, and exceeds it by less than
/// one ticket's EV.
#[derive(Debug)]
pub struct Sender<S: Signer = SecretKey> {
    config: SenderConfig,
    signer: S,
    address: Address,
    now: Timestamp,
    block: u64,
    deposit: U256,
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
            sessions: BTreeMap::new(),
            outputs: VecDeque::new(),
        }
    }

    /// The sender's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The credit of a session (EV sent minus amounts paid), if it exists.
    pub fn credit(&self, session: &H256) -> Option<ExpectedValue> {
        self.sessions.get(session).map(|s| s.credit)
    }

    /// Checks params as go-livepeer's `validateTicketParams` does: not expired, EV not
    /// above `max_ev`, face value not above `deposit / deposit_multiplier`, and a
    /// non-zero recipient and win probability.
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
        let ev = params.expected_value();
        if ev > ExpectedValue::from_amount(self.config.max_ev) {
            return Err(Error::EvTooHigh { ev_floor: ev.floor(), max: self.config.max_ev });
        }
        let max = self.deposit / U256::from(self.config.deposit_multiplier.max(1));
        if params.face_value > max {
            return Err(Error::FaceValueTooHigh { face_value: params.face_value, max });
        }
        Ok(())
    }

    fn start(&mut self, params: TicketParams) -> Result<(), Error> {
        self.check_params(&params)?;
        let session = params.recipient_rand_hash;
        let ticket_ev = params.expected_value();
        self.sessions
            .insert(session, Session { params, ticket_ev, next_nonce: 1, credit: ExpectedValue::ZERO });
        self.outputs.push_back(SenderOutput::Event(SenderEvent::SessionStarted { session, ticket_ev }));
        Ok(())
    }

    fn pay(&mut self, id: H256, amount: U256) -> Result<(), Error> {
        let session = self.sessions.get(&id).ok_or(Error::UnknownSession(id))?;
        if session.params.expiration_block <= self.block {
            return Err(Error::ParamsExpired {
                expiration_block: session.params.expiration_block,
                last_block: self.block,
            });
        }
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
        let expired: Vec<H256> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.params.expiration_block <= block)
            .map(|(k, _)| *k)
            .collect();
        for id in expired {
            self.sessions.remove(&id);
            self.outputs.push_back(SenderOutput::Event(SenderEvent::SessionExpired(id)));
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
            SenderInput::StartSession(p) => self.start(p),
            SenderInput::Pay { session, amount } => self.pay(session, amount),
            SenderInput::EndSession(id) => {
                self.sessions.remove(&id).map(|_| ()).ok_or(Error::UnknownSession(id))
            }
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
