//! The recipient (orchestrator) machine: quotes ticket params, receives ticket batches,
//! credits their exact EV, queues winners and asks the host to redeem them when that
//! pays (Livepeer Streamflow, "probabilistic micropayments"; go-livepeer `pm.recipient`).

use std::collections::{BTreeMap, VecDeque};

use primitives::{Address, H256, Machine, Timestamp, U256, keccak256_concat};

use crate::Error;
use crate::codec::TicketBatch;
use crate::ev::{ExpectedValue, win_prob_for_ev};
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
    /// Nonces accepted per recipientRand (go-livepeer: 600).
    pub max_sender_nonces: usize,
    /// Mirror of the broker's settlement rule: with `false` (all-or-nothing) a winner is
    /// redeemed only when the sender's float covers its whole face value.
    pub partial_payment: bool,
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
    /// A sender's max float for this recipient: deposit + claimable reserve, read from
    /// the broker ([`crate::Broker::max_float`]).
    SenderFunds {
        /// The sender.
        sender: Address,
        /// Its max float.
        max_float: U256,
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
    /// A redemption failed before confirming (not mined, reverted for lack of funds);
    /// the ticket goes back to the queue.
    RedeemFailed {
        /// The ticket hash.
        ticket_hash: H256,
    },
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
}

/// The recipient machine (DESIGN.md section 2). See the crate docs for the call order.
///
/// Invariants: a `(recipientRand, senderNonce)` pair is credited at most once; a batch
/// is accepted or refused whole (a refused batch leaves the machine unchanged); a
/// winner is asked to be redeemed only after its params expired, inside its validity
/// window, and when what it would pay exceeds the redemption cost.
#[derive(Debug)]
pub struct Recipient {
    config: RecipientConfig,
    keys: RecipientKeys,
    seed: [u8; 32],
    quotes: u64,
    now: Timestamp,
    block: u64,
    round: u64,
    round_block_hash: H256,
    gas_price: U256,
    max_float: BTreeMap<Address, U256>,
    pending_float: BTreeMap<Address, U256>,
    rands: BTreeMap<H256, RandRecord>,
    revealed: BTreeMap<H256, u64>,
    queue: BTreeMap<H256, Winner>,
    in_flight: BTreeMap<H256, Winner>,
    outputs: VecDeque<RecipientOutput>,
}

impl Recipient {
    /// A recipient with no chain state yet (block 0, round 0, gas price 0).
    pub fn new(config: RecipientConfig, keys: RecipientKeys, now: Timestamp, seed: [u8; 32]) -> Self {
        Recipient {
            config,
            keys,
            seed,
            quotes: 0,
            now,
            block: 0,
            round: 0,
            round_block_hash: H256::zero(),
            gas_price: U256::zero(),
            max_float: BTreeMap::new(),
            pending_float: BTreeMap::new(),
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

    /// The face value quoted to `sender`: `txCost × multiplier`, at least the EV, capped
    /// by the sender's max float (go-livepeer `recipient.faceValue`).
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

    fn available_float(&self, sender: &Address) -> U256 {
        let max = self.max_float.get(sender).copied().unwrap_or_default();
        max.saturating_sub(self.pending_float.get(sender).copied().unwrap_or_default())
    }

    fn next_seed(&mut self) -> H256 {
        self.quotes += 1;
        keccak256_concat([b"pm-tickets/seed".as_slice(), &self.seed, &self.quotes.to_be_bytes()])
    }

    fn quote(&mut self, sender: Address, price: Price) -> Result<(), Error> {
        if price.den.is_zero() {
            return Err(Error::ZeroPriceDenominator);
        }
        let face_value = self.face_value_for(&sender)?;
        let win_prob = win_prob_for_ev(face_value, self.config.ev)?;
        let expiration_block = self.block.saturating_add(self.config.params_expiration_blocks);
        let expiration_params = TicketExpirationParams {
            creation_round: self.round,
            creation_round_block_hash: self.round_block_hash,
        };
        let seed = self.next_seed();
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
        // Replay check against the ledger and within the batch itself.
        let mut ledger = self.rands.get(&rand).map(|r| r.nonces.clone()).unwrap_or_default();
        for sp in &batch.sender_params {
            ledger.record(sp.sender_nonce, self.config.max_sender_nonces)?;
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

    fn receive(&mut self, batch: TicketBatch) -> Result<(), Error> {
        let (rand, checked) = self.check_batch(&batch)?;
        let p = batch.params;
        let count = u32::try_from(batch.len()).map_err(|_| Error::Overflow)?;
        let ev = p.expected_value().checked_mul(u64::from(count))?;
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
            self.queue.insert(hash, Winner { ticket, expiration_block: p.expiration_block });
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
            let creation_round = w.ticket.ticket.expiration_params.creation_round;
            if creation_round.saturating_add(self.config.ticket_validity_period) <= self.round {
                self.queue.remove(&hash);
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
            // once it is revealed.
            if self.block < w.expiration_block {
                continue;
            }
            let sender = w.ticket.ticket.sender;
            let face = w.ticket.ticket.face_value;
            let available = self.available_float(&sender);
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
            let Some(w) = self.queue.remove(&hash) else { continue };
            let pending = self.pending_float.entry(sender).or_default();
            *pending = pending.saturating_add(face);
            // Submitting reveals the rand: refuse new tickets with it, forget its nonces.
            let rh = w.ticket.ticket.recipient_rand_hash;
            self.revealed.insert(rh, w.expiration_block);
            self.rands.remove(&w.ticket.recipient_rand);
            self.outputs.push_back(RecipientOutput::Redeem(w.ticket));
            self.in_flight.insert(hash, w);
        }
    }

    fn settle(&mut self, hash: H256, paid: Option<U256>) -> Result<(), Error> {
        let w = self.in_flight.remove(&hash).ok_or(Error::UnknownRedemption(hash))?;
        let sender = w.ticket.ticket.sender;
        if let Some(p) = self.pending_float.get_mut(&sender) {
            *p = p.saturating_sub(w.ticket.ticket.face_value);
        }
        match paid {
            Some(paid) => {
                self.outputs
                    .push_back(RecipientOutput::Event(RecipientEvent::Redeemed { ticket_hash: hash, paid }));
                Ok(())
            }
            None => {
                self.queue.insert(hash, w);
                self.redeem_ready();
                Ok(())
            }
        }
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
        // Once params expired no batch can use their rand again, so its nonce ledger
        // and revealed mark can go.
        self.rands.retain(|_, r| r.expiration_block > block);
        self.revealed.retain(|_, exp| *exp > block);
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
            RecipientInput::SenderFunds { sender, max_float } => {
                self.max_float.insert(sender, max_float);
                self.redeem_ready();
                Ok(())
            }
            RecipientInput::Quote { sender, price } => self.quote(sender, price),
            RecipientInput::Batch(batch) => self.receive(*batch),
            RecipientInput::Redeemed { ticket_hash, paid } => self.settle(ticket_hash, Some(paid)),
            RecipientInput::RedeemFailed { ticket_hash } => self.settle(ticket_hash, None),
        }
    }

    fn poll_output(&mut self) -> Option<RecipientOutput> {
        self.outputs.pop_front()
    }

    /// The recipient is driven by blocks ([`RecipientInput::Chain`]), not by time.
    fn poll_timeout(&self) -> Option<Timestamp> {
        None
    }
}
