//! Model-based properties of sender, recipient and broker driven together by a host
//! that restarts sessions and the sender process, changes the sender's deposit,
//! reserve and unlock state, advances blocks, rounds and time, and lets redemptions
//! confirm, revert or vanish.
//!
//! The host reports every funds change to both machines except redemptions, which the
//! recipient must account for itself. After every step:
//!
//! * the EV credited equals the model (the EV of every batch the recipient accepted);
//! * no batch is ever refused as a replay (`NonceReplayed`, `TooManyNonces`);
//! * the recipient's view of the sender's max float equals the broker's;
//! * whenever the recipient submits, the face value in flight for the sender is
//!   within that max float (deposit + this recipient's reserve share);
//! * no ticket is submitted again once confirmed, lost or dropped, nor twice at once,
//!   nor more than `max_redeem_attempts` times, nor before the backoff after a failure,
//!   and the broker never sees a used ticket from it;
//! * the fees the broker paid equal the sum of `Redeemed` amounts; funds are conserved;
//! * after every accepted batch, the face value of the sender's winners queued or in
//!   flight is within the recipient's max float for it;
//! * the recipient process restarts too, from its saved [`RecipientState`] or blank, and
//!   the host replays earlier batches: a `(recipientRandHash, nonce)` is never credited
//!   twice, and every winner is queued, in flight (exactly the host's pending
//!   redemptions), confirmed, lost or dropped — none vanishes, except those a blank
//!   restart forgot.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};

use pm_tickets::*;
use primitives::{Address, H256, Machine, SecretKey, Timestamp, U256};
use proptest::prelude::*;

const MAX_ROUND: u64 = 8;

fn round_hash(r: u64) -> H256 {
    primitives::keccak256(r.to_be_bytes())
}

#[derive(Clone, Debug)]
enum Op {
    Quote,
    Pay(usize, u64),
    Resume(usize),
    End(usize),
    RestartSender,
    Fund(u64, u64),
    Unlock,
    CancelUnlock,
    Withdraw,
    Blocks(u64),
    NextRound,
    /// Settle every pending redemption: bit i of the mask confirms the i-th on the
    /// broker (which may still revert it), a clear bit reports it not mined.
    Settle(u8),
    Tick(u64),
    /// The recipient process restarts from its exported state.
    RestartRecipient,
    /// The recipient process restarts without its state.
    RestartRecipientBlank,
    /// The host (or an attacker) delivers an earlier batch again.
    Replay(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Quote),
        // Mostly batches the float covers even if every ticket wins (a few tickets of
        // face 10,000), sometimes larger ones.
        6 => (0..4usize, 0..4_000u64).prop_map(|(i, a)| Op::Pay(i, a)),
        2 => (0..4usize, 0..30_000u64).prop_map(|(i, a)| Op::Pay(i, a)),
        1 => (0..4usize).prop_map(Op::Resume),
        1 => (0..4usize).prop_map(Op::End),
        2 => Just(Op::RestartSender),
        2 => (0..40_000u64, 0..40_000u64).prop_map(|(d, r)| Op::Fund(d, r)),
        1 => Just(Op::Unlock),
        1 => Just(Op::CancelUnlock),
        1 => Just(Op::Withdraw),
        5 => (1..6u64).prop_map(Op::Blocks),
        1 => Just(Op::NextRound),
        4 => any::<u8>().prop_map(Op::Settle),
        2 => (0..5_000u64).prop_map(Op::Tick),
        2 => Just(Op::RestartRecipient),
        1 => Just(Op::RestartRecipientBlank),
        2 => (0..8usize).prop_map(Op::Replay),
    ]
}

struct Host {
    key: SecretKey,
    sender_config: SenderConfig,
    sender: Sender,
    recipient: Recipient,
    broker: Broker,
    block: u64,
    round: u64,
    now: Timestamp,
    sessions: Vec<TicketParams>,
    pending: Vec<SignedTicket>,
    credited_model: ExpectedValue,
    credited_events: ExpectedValue,
    confirmed: BTreeSet<H256>,
    closed: BTreeSet<H256>,
    redeemed_paid: U256,
    submissions: BTreeMap<H256, u32>,
    last_failure: BTreeMap<H256, Timestamp>,
    recipient_config: RecipientConfig,
    recipient_keys: RecipientKeys,
    boots: u8,
    blank_restarts: u32,
    delivered: Vec<TicketBatch>,
    credited_pairs: BTreeSet<(H256, u32)>,
    won: BTreeSet<H256>,
    forgotten: BTreeSet<H256>,
}

impl Host {
    fn new(deposit: u64, reserve: u64, partial: bool) -> Host {
        let key = SecretKey::from_bytes([0x51; 32]).unwrap();
        let orch = SecretKey::from_bytes([0x52; 32]).unwrap().address();
        let recipient_config = RecipientConfig {
            ev: 1_000.into(),
            redeem_gas: 1,
            tx_cost_multiplier: 100,
            partial_payment: partial,
            redeem_retry_base_ms: 1_000,
            redeem_retry_max_ms: 4_000,
            max_redeem_attempts: 3,
            ..RecipientConfig::default()
        };
        let recipient_keys = RecipientKeys { address: orch, secret: [3; 32] };
        let recipient =
            Recipient::new(recipient_config.clone(), recipient_keys.clone(), Timestamp::ZERO, [4; 32]);
        let sender_config = SenderConfig { max_ev: 1_000_000.into(), ..SenderConfig::default() };
        let sender = Sender::new(sender_config.clone(), key.clone(), Timestamp::ZERO, [5; 32]);
        let settlement = if partial { Settlement::Partial } else { Settlement::AllOrNothing };
        // The unlock period is the validity period: the shortest the broker accepts.
        let mut broker =
            Broker::new(BrokerConfig { unlock_period: 2, ticket_validity_period: 2, settlement }).unwrap();
        broker.store_mut().mint(key.address(), U256::from(u64::MAX)).unwrap();
        broker.initialize_round(1, round_hash(1), [orch]).unwrap();
        broker
            .fund_deposit_and_reserve(
                key.address(),
                (deposit + reserve).into(),
                deposit.into(),
                reserve.into(),
            )
            .unwrap();
        let mut h = Host {
            key,
            sender_config,
            sender,
            recipient,
            broker,
            block: 100,
            round: 1,
            now: Timestamp::ZERO,
            sessions: Vec::new(),
            pending: Vec::new(),
            credited_model: ExpectedValue::ZERO,
            credited_events: ExpectedValue::ZERO,
            confirmed: BTreeSet::new(),
            closed: BTreeSet::new(),
            redeemed_paid: U256::zero(),
            submissions: BTreeMap::new(),
            last_failure: BTreeMap::new(),
            recipient_config,
            recipient_keys,
            boots: 4,
            blank_restarts: 0,
            delivered: Vec::new(),
            credited_pairs: BTreeSet::new(),
            won: BTreeSet::new(),
            forgotten: BTreeSet::new(),
        };
        h.recipient.handle(h.now, RecipientInput::GasPrice(100.into())).unwrap();
        h.sync();
        h
    }

    fn s(&self) -> Address {
        self.key.address()
    }

    fn r(&self) -> Address {
        self.recipient.address()
    }

    /// Reports chain state and the sender's funds to both machines.
    fn sync(&mut self) {
        let (s, r) = (self.s(), self.r());
        let acct = self.broker.sender(&s);
        let now = self.now;
        self.recipient
            .handle(
                now,
                RecipientInput::Chain {
                    block: self.block,
                    round: self.round,
                    round_block_hash: round_hash(self.round),
                },
            )
            .unwrap();
        self.recipient
            .handle(
                now,
                RecipientInput::SenderFunds {
                    sender: s,
                    max_float: self.broker.max_float(&s, &r),
                    withdraw_round: acct.withdraw_round,
                },
            )
            .unwrap();
        self.sender.handle(now, SenderInput::Chain { block: self.block }).unwrap();
        self.sender
            .handle(
                now,
                SenderInput::Funds {
                    deposit: acct.deposit,
                    reserve: self.broker.reserve(&s),
                    withdraw_round: acct.withdraw_round,
                },
            )
            .unwrap();
    }

    fn deliver(&mut self, batch: TicketBatch, replay: bool) -> Result<(), TestCaseError> {
        let ev = batch.params.expected_value().checked_mul(batch.len() as u64).unwrap();
        let pairs: Vec<(H256, u32)> = batch
            .sender_params
            .iter()
            .map(|sp| (batch.params.recipient_rand_hash, sp.sender_nonce))
            .collect();
        if !replay {
            self.delivered.push(batch.clone());
            if self.delivered.len() > 8 {
                self.delivered.remove(0);
            }
        }
        match self.recipient.handle(self.now, RecipientInput::Batch(Box::new(batch))) {
            Ok(()) => {
                // A replay may be credited only if every earlier delivery of it was refused.
                for pair in pairs {
                    prop_assert!(self.credited_pairs.insert(pair), "{pair:?} credited twice");
                }
                // Whichever tickets won, their face value fits in the float.
                let s = self.s();
                let pending = self.recipient.queued_float(&s) + self.recipient.in_flight_float(&s);
                prop_assert!(
                    pending <= self.recipient.max_float(&s),
                    "pending face value {pending} above the max float {}",
                    self.recipient.max_float(&s)
                );
                self.credited_model = self.credited_model.checked_add(ev).unwrap()
            }
            Err(e) => {
                let replay_refusal = matches!(
                    e,
                    Error::NonceReplayed { .. } | Error::RandRevealed { .. } | Error::ParamsExpired { .. }
                );
                prop_assert!(
                    matches!(
                        e,
                        Error::NoFunds(_)
                            | Error::SenderUnlocking { .. }
                            | Error::SenderUnlocked(_)
                            | Error::FaceValueExceedsFloat { .. }
                            | Error::BatchExceedsFloat { .. }
                            | Error::TicketExpired { .. }
                    ) || (replay && replay_refusal)
                        || (self.blank_restarts > 0 && matches!(e, Error::QuotedBeforeRestart { .. })),
                    "batch refused with {e:?} (replay: {replay})"
                );
                prop_assert!(self.recipient.poll_output().is_none(), "a refused batch left output");
            }
        }
        Ok(())
    }

    /// Drains the recipient, checking what it asks for.
    fn drain_recipient(&mut self) -> Result<(), TestCaseError> {
        let mut submitted = false;
        while let Some(o) = self.recipient.poll_output() {
            match o {
                RecipientOutput::Redeem(st) => {
                    let h = st.ticket.hash();
                    prop_assert!(!self.confirmed.contains(&h), "confirmed ticket submitted again");
                    prop_assert!(!self.closed.contains(&h), "lost or dropped ticket submitted again");
                    prop_assert!(
                        self.pending.iter().all(|p| p.ticket.hash() != h),
                        "submitted twice at once"
                    );
                    let n = self.submissions.entry(h).or_default();
                    *n += 1;
                    prop_assert!(*n <= 3, "submitted more than max_redeem_attempts times");
                    if let Some(t) = self.last_failure.get(&h) {
                        prop_assert!(self.now >= *t + 1_000, "retried before the backoff");
                    }
                    self.pending.push(st);
                    submitted = true;
                }
                RecipientOutput::Event(RecipientEvent::Credited { ev, .. }) => {
                    self.credited_events = self.credited_events.checked_add(ev).unwrap();
                }
                RecipientOutput::Event(RecipientEvent::Redeemed { ticket_hash, paid }) => {
                    prop_assert!(self.confirmed.insert(ticket_hash));
                    self.redeemed_paid += paid;
                }
                RecipientOutput::Event(
                    RecipientEvent::Lost { ticket_hash, .. } | RecipientEvent::Dropped { ticket_hash, .. },
                ) => {
                    prop_assert!(self.closed.insert(ticket_hash));
                }
                RecipientOutput::Event(RecipientEvent::Won { ticket_hash, .. }) => {
                    prop_assert!(self.won.insert(ticket_hash), "a winner reported twice");
                }
                RecipientOutput::Params { .. } => {}
            }
        }
        let s = self.s();
        if submitted {
            prop_assert!(
                self.recipient.in_flight_float(&s) <= self.recipient.max_float(&s),
                "in flight {} above the max float {}",
                self.recipient.in_flight_float(&s),
                self.recipient.max_float(&s)
            );
        }
        Ok(())
    }

    fn step(&mut self, op: Op) -> Result<(), TestCaseError> {
        let now = self.now;
        let s = self.s();
        match op {
            Op::Quote => {
                let price = Price::new(1.into(), 1.into()).unwrap();
                if self.recipient.handle(now, RecipientInput::Quote { sender: s, price }).is_ok() {
                    let Some(RecipientOutput::Params { params, .. }) = self.recipient.poll_output() else {
                        panic!("a quote yields params")
                    };
                    if self.sender.handle(now, SenderInput::StartSession(params)).is_ok() {
                        self.sessions.push(params);
                    }
                }
            }
            Op::Pay(i, amount) => {
                if let Some(p) = self.sessions.get(i % self.sessions.len().max(1)).copied() {
                    let pay = SenderInput::Pay { session: p.recipient_rand_hash, amount: amount.into() };
                    if self.sender.handle(now, pay).is_ok() {
                        let batches: Vec<TicketBatch> = std::iter::from_fn(|| self.sender.poll_output())
                            .filter_map(|o| match o {
                                SenderOutput::Send { batch, .. } => Some(*batch),
                                _ => None,
                            })
                            .collect();
                        for b in batches {
                            self.deliver(b, false)?;
                        }
                    }
                }
            }
            Op::Resume(i) => {
                if let Some(p) = self.sessions.get(i % self.sessions.len().max(1)).copied() {
                    let _ = self.sender.handle(now, SenderInput::StartSession(p));
                }
            }
            Op::End(i) => {
                if let Some(p) = self.sessions.get(i % self.sessions.len().max(1)).copied() {
                    let _ = self.sender.handle(now, SenderInput::EndSession(p.recipient_rand_hash));
                }
            }
            Op::RestartSender => {
                let frame = self.sender.export_state().encode();
                let state = SenderState::decode(&frame).unwrap();
                self.sender =
                    Sender::restore(self.sender_config.clone(), self.key.clone(), now, [6; 32], state)
                        .unwrap();
            }
            Op::Fund(d, r) => {
                self.broker.fund_deposit_and_reserve(s, (d + r).into(), d.into(), r.into()).unwrap();
                self.sync();
            }
            Op::Unlock => {
                let _ = self.broker.unlock(s);
                self.sync();
            }
            Op::CancelUnlock => {
                let _ = self.broker.cancel_unlock(s);
                self.sync();
            }
            Op::Withdraw => {
                let _ = self.broker.withdraw(s);
                self.sync();
            }
            Op::Blocks(n) => {
                self.block += n;
                self.sync();
            }
            Op::NextRound => {
                if self.round < MAX_ROUND {
                    self.round += 1;
                    let orch = self.r();
                    self.broker.initialize_round(self.round, round_hash(self.round), [orch]).unwrap();
                    self.sync();
                }
            }
            Op::Settle(mask) => {
                // Answers are fed one by one; each may release float and submit more,
                // which the next drain collects.
                let pending = std::mem::take(&mut self.pending);
                for (i, st) in pending.into_iter().enumerate() {
                    let h = st.ticket.hash();
                    self.last_failure.insert(h, now);
                    let input = if mask & (1 << (i % 8)) != 0 {
                        match self.broker.redeem_winning_ticket(&st) {
                            Ok(paid) => RecipientInput::Redeemed { ticket_hash: h, paid },
                            Err(e) => {
                                prop_assert!(
                                    !matches!(e, Error::TicketUsed(_)),
                                    "a used ticket was submitted"
                                );
                                RecipientInput::RedeemFailed { ticket_hash: h, reason: Some(e) }
                            }
                        }
                    } else {
                        RecipientInput::RedeemFailed { ticket_hash: h, reason: None }
                    };
                    self.recipient.handle(now, input).unwrap();
                    self.drain_recipient()?;
                }
            }
            Op::Tick(ms) => {
                self.now = self.now + ms;
                self.recipient.handle(self.now, RecipientInput::Timeout).unwrap();
            }
            Op::RestartRecipient => {
                // Outputs were drained after the last step, as the contract asks.
                let frame = self.recipient.export_state().encode();
                prop_assert!(frame.len() <= MAX_RECIPIENT_STATE_BYTES);
                let state = RecipientState::decode(&frame).unwrap();
                self.boots += 1;
                self.recipient = Recipient::restore(
                    self.recipient_config.clone(),
                    self.recipient_keys.clone(),
                    now,
                    [self.boots; 32],
                    state,
                )
                .unwrap();
            }
            Op::RestartRecipientBlank => {
                // Everything it held is forgotten: queued winners and the redemptions in
                // flight (the host drops their answers).
                let held: BTreeSet<H256> = self
                    .won
                    .iter()
                    .filter(|h| !self.confirmed.contains(h) && !self.closed.contains(h))
                    .copied()
                    .collect();
                self.forgotten.extend(held);
                self.pending.clear();
                self.boots += 1;
                self.blank_restarts += 1;
                self.recipient = Recipient::new(
                    self.recipient_config.clone(),
                    self.recipient_keys.clone(),
                    now,
                    [self.boots; 32],
                );
                self.recipient.handle(now, RecipientInput::GasPrice(100.into())).unwrap();
                self.sync();
            }
            Op::Replay(i) => {
                if !self.delivered.is_empty() {
                    let b = self.delivered[i % self.delivered.len()].clone();
                    self.deliver(b, true)?;
                }
            }
        }
        self.drain_recipient()?;
        while self.sender.poll_output().is_some() {}
        prop_assert_eq!(self.credited_events, self.credited_model, "credited EV differs from the model");
        // No winner vanishes: each is held, answered or forgotten by a blank restart.
        let mut held: Vec<H256> =
            self.recipient.in_flight_tickets().iter().map(|t| t.ticket.hash()).collect();
        held.sort();
        let mut pending: Vec<H256> = self.pending.iter().map(|t| t.ticket.hash()).collect();
        pending.sort();
        prop_assert_eq!(&held, &pending, "in flight differs from the host's pending redemptions");
        let settled = self
            .won
            .iter()
            .filter(|h| self.confirmed.contains(h) || self.closed.contains(h) || self.forgotten.contains(h))
            .count();
        prop_assert_eq!(
            self.won.len(),
            settled + self.recipient.queued() + self.recipient.in_flight(),
            "a winner was lost"
        );
        let r = self.r();
        prop_assert_eq!(self.recipient.max_float(&s), self.broker.max_float(&s, &r), "float view");
        prop_assert_eq!(self.broker.fees(&r), self.redeemed_paid, "fees vs Redeemed");
        prop_assert_eq!(self.broker.total_accounted(), Some(self.broker.total_funded()), "conservation");
        prop_assert_eq!(Some(self.broker.store().escrowed()), self.broker.total_escrowed(), "escrow");
        prop_assert_eq!(self.broker.store().balance(&r), self.redeemed_paid, "recipient's account");
        Ok(())
    }
}

fn run(deposit: u64, reserve: u64, partial: bool, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut h = Host::new(deposit, reserve, partial);
    h.step(Op::Quote)?;
    for op in ops {
        h.step(op)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn all_or_nothing_machines_match_the_model(
        deposit in prop_oneof![1 => Just(0u64), 6 => 5_000..60_000u64],
        reserve in 0..40_000u64,
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        run(deposit, reserve, false, ops)?;
    }

    #[test]
    fn partial_machines_match_the_model(
        deposit in prop_oneof![1 => Just(0u64), 6 => 5_000..60_000u64],
        reserve in 0..40_000u64,
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        run(deposit, reserve, true, ops)?;
    }
}
