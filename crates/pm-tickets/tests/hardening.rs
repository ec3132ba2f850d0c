//! Issue 18, items 6–8: each defect of the adversarial review reproduced through the
//! public API (each test failed before its fix), then the fixed behaviour pinned.
//!
//! * 6 — the recipient's float after redemptions, retry backoff, lost tickets;
//! * 7 — re-validation of params and funds by the sender before every payment, and of
//!   the sender's funds, unlock state and the creation round by the recipient on every
//!   batch;
//! * 8 — session restarts and sender restarts from saved state never replay a nonce.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use pm_tickets::*;
use primitives::{Address, H256, Machine, SecretKey, Timestamp, U256};

const T0: Timestamp = Timestamp::from_secs(1_000);

fn round_hash(r: u64) -> H256 {
    primitives::keccak256(r.to_be_bytes())
}

fn price() -> Price {
    Price::new(1.into(), 1.into()).unwrap()
}

/// A sender with a 1,000,000 deposit and a recipient (EV 1000, gas price 0 so face =
/// EV and every ticket wins) at block 100, round 1, that knows the sender's float.
struct Pair {
    key: SecretKey,
    sender: Sender,
    recipient: Recipient,
}

impl Pair {
    fn new(float: u64, cfg: impl FnOnce(&mut RecipientConfig)) -> Pair {
        let key = SecretKey::from_bytes([0x11; 32]).unwrap();
        let orch = SecretKey::from_bytes([0x22; 32]).unwrap().address();
        let mut config = RecipientConfig {
            ev: 1_000.into(),
            redeem_gas: 1,
            tx_cost_multiplier: 100,
            ..RecipientConfig::default()
        };
        cfg(&mut config);
        let mut recipient =
            Recipient::new(config, RecipientKeys { address: orch, secret: [7; 32] }, T0, [1; 32]);
        recipient
            .handle(T0, RecipientInput::Chain { block: 100, round: 1, round_block_hash: round_hash(1) })
            .unwrap();
        let mut sender = Sender::new(
            SenderConfig { max_ev: 1_000_000.into(), ..SenderConfig::default() },
            key.clone(),
            T0,
            [2; 32],
        );
        sender.handle(T0, SenderInput::Chain { block: 100 }).unwrap();
        sender
            .handle(
                T0,
                SenderInput::Funds { deposit: 1_000_000.into(), reserve: 0.into(), withdraw_round: 0 },
            )
            .unwrap();
        let mut p = Pair { key, sender, recipient };
        p.funds(float, 0);
        p
    }

    fn funds(&mut self, max_float: u64, withdraw_round: u64) {
        let sender = self.key.address();
        self.recipient
            .handle(T0, RecipientInput::SenderFunds { sender, max_float: max_float.into(), withdraw_round })
            .unwrap();
    }

    fn quote(&mut self) -> TicketParams {
        self.recipient
            .handle(T0, RecipientInput::Quote { sender: self.key.address(), price: price() })
            .unwrap();
        match self.recipient.poll_output() {
            Some(RecipientOutput::Params { params, .. }) => params,
            other => panic!("expected params, got {other:?}"),
        }
    }

    fn session(&mut self) -> TicketParams {
        let p = self.quote();
        self.sender.handle(T0, SenderInput::StartSession(p)).unwrap();
        drain(&mut self.sender);
        p
    }

    fn pay(&mut self, session: H256, amount: u64) -> TicketBatch {
        self.sender.handle(T0, SenderInput::Pay { session, amount: amount.into() }).unwrap();
        drain(&mut self.sender)
            .into_iter()
            .find_map(|o| match o {
                SenderOutput::Send { batch, .. } => Some(*batch),
                _ => None,
            })
            .expect("a batch")
    }

    fn deliver(&mut self, batch: &TicketBatch) -> Result<Vec<RecipientOutput>, Error> {
        self.recipient.handle(T0, RecipientInput::Batch(Box::new(batch.clone())))?;
        Ok(drain(&mut self.recipient))
    }

    fn pay_deliver(&mut self, session: H256, amount: u64) -> Result<Vec<RecipientOutput>, Error> {
        let batch = self.pay(session, amount);
        self.deliver(&batch)
    }

    /// Moves the recipient past the params' expiration; returns the redemption requests.
    fn expire(&mut self, params: &TicketParams, round: u64) -> Vec<SignedTicket> {
        self.recipient
            .handle(
                T0,
                RecipientInput::Chain {
                    block: params.expiration_block,
                    round,
                    round_block_hash: round_hash(round),
                },
            )
            .unwrap();
        redeems(drain(&mut self.recipient))
    }
}

fn drain<M: Machine>(m: &mut M) -> Vec<M::Output> {
    std::iter::from_fn(|| m.poll_output()).collect()
}

fn redeems(out: Vec<RecipientOutput>) -> Vec<SignedTicket> {
    out.into_iter()
        .filter_map(|o| match o {
            RecipientOutput::Redeem(st) => Some(st),
            _ => None,
        })
        .collect()
}

// ---- item 6: float after redemptions, retries, lost tickets ----------------------------

/// Before the fix, `Redeemed` released the pending float and the recipient kept the
/// old max float: it went on quoting and accepting face values the sender's reserve no
/// longer covered.
#[test]
fn a_confirmed_redemption_reduces_the_float_until_the_next_report() {
    let mut p = Pair::new(1_000, |_| {});
    let s = p.key.address();
    let params = p.session();
    assert_eq!(params.face_value, U256::from(1_000));
    let out = p.pay_deliver(params.recipient_rand_hash, 1_000).unwrap();
    assert!(out.iter().any(|o| matches!(o, RecipientOutput::Event(RecipientEvent::Won { .. }))));
    assert_eq!(p.recipient.queued_float(&s), U256::from(1_000), "a queued winner holds its face value");
    assert_eq!(p.recipient.available_float(&s), U256::zero());
    let st = p.expire(&params, 1);
    assert_eq!(st.len(), 1);
    assert_eq!(p.recipient.in_flight_float(&s), U256::from(1_000));
    p.recipient
        .handle(T0, RecipientInput::Redeemed { ticket_hash: st[0].ticket.hash(), paid: 1_000.into() })
        .unwrap();
    assert_eq!(p.recipient.in_flight_float(&s), U256::zero());
    assert_eq!(p.recipient.max_float(&s), U256::zero(), "the payment came out of the float");
    drain(&mut p.recipient);
    assert_eq!(
        p.recipient.handle(T0, RecipientInput::Quote { sender: s, price: price() }),
        Err(Error::InsufficientSenderReserve { max_float: 0.into(), ev: 1_000.into() })
    );
    // A fresh report (the sender topped up) restores it.
    p.funds(3_000, 0);
    assert_eq!(p.quote().face_value, U256::from(1_000));
}

/// Queued and in-flight winners are claims on the float: a batch whose face value the
/// rest of the float cannot cover is refused, whatever its tickets turn out to be.
#[test]
fn pending_winners_reduce_what_the_recipient_accepts() {
    let mut p = Pair::new(1_500, |_| {});
    let s = p.key.address();
    let params = p.session();
    p.pay_deliver(params.recipient_rand_hash, 1_000).unwrap();
    assert_eq!(p.recipient.available_float(&s), U256::from(500));
    let second = p.pay(params.recipient_rand_hash, 1_000);
    assert_eq!(
        p.deliver(&second),
        Err(Error::FaceValueExceedsFloat { sender: s, face_value: 1_000.into(), available: 500.into() })
    );
    assert!(drain(&mut p.recipient).is_empty(), "a refused batch leaves no trace");
    // Two winners of 1000 against a float of 1500: only one is ever in flight.
    p.funds(2_500, 0);
    p.deliver(&second).unwrap();
    p.funds(1_500, 0);
    assert_eq!(p.expire(&params, 1).len(), 1);
    assert_eq!(p.recipient.in_flight(), 1);
    assert_eq!(p.recipient.queued(), 1);
    assert!(p.recipient.in_flight_float(&s) <= p.recipient.max_float(&s));
}

/// Before the fix, `RedeemFailed` put the ticket back and re-emitted the same `Redeem`
/// at once, every time, without limit.
#[test]
fn a_failed_redemption_backs_off_then_is_reported_lost() {
    let mut p = Pair::new(10_000, |c| {
        c.redeem_retry_base_ms = 1_000;
        c.redeem_retry_max_ms = 1_500;
        c.max_redeem_attempts = 3;
    });
    let s = p.key.address();
    let params = p.session();
    p.pay_deliver(params.recipient_rand_hash, 1_000).unwrap();
    let hash = p.expire(&params, 1)[0].ticket.hash();
    assert_eq!(p.recipient.poll_timeout(), None, "nothing to wake up for");
    let mut now = T0;
    for (attempt, wait) in [(1u32, 1_000u64), (2, 1_500)] {
        p.recipient.handle(now, RecipientInput::RedeemFailed { ticket_hash: hash, reason: None }).unwrap();
        assert!(redeems(drain(&mut p.recipient)).is_empty(), "attempt {attempt}: re-emitted at once");
        assert_eq!(p.recipient.poll_timeout(), Some(now + wait), "attempt {attempt}: backoff");
        assert_eq!(p.recipient.in_flight_float(&s), U256::zero());
        p.recipient.handle(now + (wait - 1), RecipientInput::Timeout).unwrap();
        assert!(redeems(drain(&mut p.recipient)).is_empty(), "attempt {attempt}: retried early");
        now = now + wait;
        p.recipient.handle(now, RecipientInput::Timeout).unwrap();
        let again = redeems(drain(&mut p.recipient));
        assert_eq!(again.len(), 1, "attempt {attempt}: retried once the backoff elapsed");
        assert_eq!(again[0].ticket.hash(), hash);
    }
    p.recipient.handle(now, RecipientInput::RedeemFailed { ticket_hash: hash, reason: None }).unwrap();
    let out = drain(&mut p.recipient);
    assert_eq!(
        out,
        vec![RecipientOutput::Event(RecipientEvent::Lost {
            ticket_hash: hash,
            face_value: 1_000.into(),
            attempts: 3,
            reason: None
        })]
    );
    assert_eq!((p.recipient.queued(), p.recipient.in_flight(), p.recipient.poll_timeout()), (0, 0, None));
    assert_eq!(p.recipient.available_float(&s), U256::from(10_000), "a lost ticket holds no float");
    assert_eq!(
        p.recipient.handle(now, RecipientInput::RedeemFailed { ticket_hash: hash, reason: None }),
        Err(Error::UnknownRedemption(hash))
    );
}

#[test]
fn a_permanent_redeem_failure_is_lost_at_once_and_a_retryable_one_is_not() {
    let mut p = Pair::new(10_000, |_| {});
    let params = p.session();
    p.pay_deliver(params.recipient_rand_hash, 2_000).unwrap();
    let st = p.expire(&params, 1);
    assert_eq!(st.len(), 2);
    let (a, b) = (st[0].ticket.hash(), st[1].ticket.hash());
    let used = Error::TicketUsed(a);
    p.recipient
        .handle(T0, RecipientInput::RedeemFailed { ticket_hash: a, reason: Some(used.clone()) })
        .unwrap();
    assert_eq!(
        drain(&mut p.recipient),
        vec![RecipientOutput::Event(RecipientEvent::Lost {
            ticket_hash: a,
            face_value: 1_000.into(),
            attempts: 1,
            reason: Some(used)
        })]
    );
    let short = Error::InsufficientFunds { face_value: 1_000.into(), available: 10.into() };
    p.recipient.handle(T0, RecipientInput::RedeemFailed { ticket_hash: b, reason: Some(short) }).unwrap();
    assert!(drain(&mut p.recipient).is_empty());
    assert_eq!(p.recipient.queued(), 1, "lack of funds is retried later");
    assert_eq!(p.recipient.poll_timeout(), Some(T0 + 30_000));
}

// ---- item 7: re-validation ------------------------------------------------------------

/// Before the fix the recipient credited batches from senders whose deposit was gone
/// or who were unlocking: only quotes looked at the float.
#[test]
fn the_recipient_checks_the_senders_funds_and_unlock_state_on_every_batch() {
    let mut p = Pair::new(1_000_000, |_| {});
    let s = p.key.address();
    let params = p.session();
    let batch = p.pay(params.recipient_rand_hash, 1_000);
    let cases: [(u64, u64, Error); 4] = [
        (0, 0, Error::NoFunds(s)),
        (1_000_000, 2, Error::SenderUnlocking { sender: s, withdraw_round: 2, current_round: 1 }),
        (1_000_000, 1, Error::SenderUnlocked(s)),
        (999, 0, Error::FaceValueExceedsFloat { sender: s, face_value: 1_000.into(), available: 999.into() }),
    ];
    for (float, withdraw_round, expected) in cases {
        p.funds(float, withdraw_round);
        assert_eq!(p.deliver(&batch), Err(expected));
        assert!(drain(&mut p.recipient).is_empty());
    }
    // An unlock two rounds away still leaves time to redeem: accepted.
    p.funds(1_000_000, 3);
    assert!(p.deliver(&batch).is_ok());
    // A sender the recipient has no report for.
    let mut fresh = Pair::new(1_000_000, |_| {});
    let params = fresh.session();
    let batch = fresh.pay(params.recipient_rand_hash, 1_000);
    let mut r = Recipient::new(
        RecipientConfig { ev: 1_000.into(), redeem_gas: 1, ..RecipientConfig::default() },
        RecipientKeys { address: params.recipient, secret: [7; 32] },
        T0,
        [1; 32],
    );
    r.handle(T0, RecipientInput::Chain { block: 100, round: 1, round_block_hash: round_hash(1) }).unwrap();
    assert_eq!(r.handle(T0, RecipientInput::Batch(Box::new(batch))), Err(Error::UnknownSenderFunds(s)));
}

/// Before the fix a ticket whose creation round had left the validity window was
/// credited (its winners then dropped unpaid).
#[test]
fn the_recipient_checks_the_creation_round_on_every_batch() {
    let mut p = Pair::new(1_000_000, |c| c.params_expiration_blocks = 50);
    let params = p.session();
    // Round 2: still inside the window (1 + 2 > 2); round 3: expired.
    p.recipient
        .handle(T0, RecipientInput::Chain { block: 101, round: 2, round_block_hash: round_hash(2) })
        .unwrap();
    let late = p.pay(params.recipient_rand_hash, 1_000);
    p.recipient
        .handle(T0, RecipientInput::Chain { block: 102, round: 3, round_block_hash: round_hash(3) })
        .unwrap();
    assert_eq!(
        p.deliver(&late),
        Err(Error::TicketExpired { creation_round: 1, current_round: 3, validity_period: 2 })
    );
    // The round re-initialized with another block hash: old tickets no longer match.
    let mut q = Pair::new(1_000_000, |_| {});
    let params = q.session();
    let b = q.pay(params.recipient_rand_hash, 1_000);
    q.recipient
        .handle(T0, RecipientInput::Chain { block: 101, round: 1, round_block_hash: H256::repeat_byte(0xee) })
        .unwrap();
    assert_eq!(
        q.deliver(&b),
        Err(Error::CreationRoundBlockHashMismatch {
            round: 1,
            found: round_hash(1),
            expected: H256::repeat_byte(0xee)
        })
    );
    // No round known yet: the recipient does not quote.
    let mut r = Recipient::new(
        RecipientConfig::default(),
        RecipientKeys { address: Address::repeat_byte(5), secret: [7; 32] },
        T0,
        [1; 32],
    );
    assert_eq!(
        r.handle(T0, RecipientInput::Quote { sender: p.key.address(), price: price() }),
        Err(Error::UnknownCreationRound { round: 0.into() })
    );
}

/// Before the fix `Pay` checked only the params' expiration: a deposit drop, an empty
/// account or an unlock after `StartSession` did not stop new tickets.
#[test]
fn the_sender_rechecks_params_and_funds_before_every_payment() {
    let mut p = Pair::new(1_000_000, |_| {});
    let params = p.session();
    let id = params.recipient_rand_hash;
    let me = p.key.address();
    let cases: [(u64, u64, u64, Error); 4] = [
        (999, 0, 0, Error::FaceValueTooHigh { face_value: 1_000.into(), max: 999.into() }),
        (0, 5_000, 0, Error::FaceValueTooHigh { face_value: 1_000.into(), max: 0.into() }),
        (0, 0, 0, Error::NoFunds(me)),
        (1_000_000, 0, 4, Error::UnlockInProgress { withdraw_round: 4 }),
    ];
    for (deposit, reserve, withdraw_round, expected) in cases {
        p.sender
            .handle(
                T0,
                SenderInput::Funds { deposit: deposit.into(), reserve: reserve.into(), withdraw_round },
            )
            .unwrap();
        assert_eq!(
            p.sender.handle(T0, SenderInput::Pay { session: id, amount: 1_000.into() }),
            Err(expected)
        );
        assert!(drain(&mut p.sender).is_empty(), "no ticket after a refused payment");
        assert_eq!(p.sender.next_nonce(&id), Some(1), "a refused payment uses no nonce");
    }
    // Deposit restored: payments resume where they stopped.
    p.sender
        .handle(T0, SenderInput::Funds { deposit: 1_000_000.into(), reserve: 0.into(), withdraw_round: 0 })
        .unwrap();
    let batch = p.pay(id, 1_000);
    assert_eq!(batch.sender_params[0].sender_nonce, 1);
    p.deliver(&batch).unwrap();
    // One block before the params expire, payments still go out.
    p.sender.handle(T0, SenderInput::Chain { block: params.expiration_block - 1 }).unwrap();
    assert!(p.sender.handle(T0, SenderInput::Pay { session: id, amount: 1_000.into() }).is_ok());
}

/// A winner of a sender that became unlocked is not submitted (the broker would
/// revert); funding again relocks the sender and the winner goes out.
#[test]
fn an_unlocked_senders_winner_waits_for_it_to_relock() {
    let mut p = Pair::new(1_000_000, |_| {});
    let params = p.session();
    p.pay_deliver(params.recipient_rand_hash, 1_000).unwrap();
    p.funds(1_000_000, 1);
    assert!(p.expire(&params, 1).is_empty());
    assert_eq!(p.recipient.queued(), 1);
    p.funds(1_000_000, 0);
    assert_eq!(redeems(drain(&mut p.recipient)).len(), 1);
}

// ---- item 8: restarts -----------------------------------------------------------------

/// Before the fix `StartSession` with known params reset the nonce to 1, and the
/// recipient refused the next batch as a replay.
#[test]
fn restarting_a_session_continues_its_nonces() {
    let mut p = Pair::new(1_000_000, |_| {});
    let params = p.session();
    let id = params.recipient_rand_hash;
    p.pay_deliver(id, 2_000).unwrap();
    p.sender.handle(T0, SenderInput::StartSession(params)).unwrap();
    assert_eq!(
        drain(&mut p.sender),
        vec![SenderOutput::Event(SenderEvent::SessionResumed { session: id, next_nonce: 3 })]
    );
    let b = p.pay(id, 1_000);
    assert_eq!(b.sender_params[0].sender_nonce, 3);
    p.deliver(&b).unwrap();
    // Ended, then started again: still continues.
    p.sender.handle(T0, SenderInput::EndSession(id)).unwrap();
    assert_eq!(
        p.sender.handle(T0, SenderInput::Pay { session: id, amount: 1.into() }),
        Err(Error::UnknownSession(id))
    );
    p.sender.handle(T0, SenderInput::StartSession(params)).unwrap();
    p.pay_deliver(id, 1_000).unwrap();
    // The same id with other params is refused.
    let other = TicketParams { face_value: params.face_value + 1, ..params };
    assert_eq!(p.sender.handle(T0, SenderInput::StartSession(other)), Err(Error::SessionParamsMismatch(id)));
}

/// The sender process itself restarts: its saved state (a versioned SCALE frame)
/// restores every session, and the next batch continues the nonce sequence.
#[test]
fn a_sender_restored_from_saved_state_never_replays() {
    let mut p = Pair::new(1_000_000, |_| {});
    let a = p.session();
    let b = p.session();
    p.pay_deliver(a.recipient_rand_hash, 3_000).unwrap();
    p.pay_deliver(b.recipient_rand_hash, 1_000).unwrap();
    p.sender.handle(T0, SenderInput::EndSession(b.recipient_rand_hash)).unwrap();
    let saved = p.sender.export_state().encode();
    let state = SenderState::decode(&saved).unwrap();
    assert_eq!(state, p.sender.export_state());
    assert_eq!(state.sessions.len(), 2);
    p.sender = Sender::restore(
        SenderConfig { max_ev: 1_000_000.into(), ..SenderConfig::default() },
        p.key.clone(),
        T0,
        [3; 32],
        state.clone(),
    )
    .unwrap();
    assert_eq!(p.sender.next_nonce(&a.recipient_rand_hash), Some(4));
    p.pay_deliver(a.recipient_rand_hash, 1_000).unwrap();
    p.sender.handle(T0, SenderInput::StartSession(b)).unwrap();
    p.pay_deliver(b.recipient_rand_hash, 1_000).unwrap();
    // Another key cannot take the state over.
    let other = SecretKey::from_bytes([0x33; 32]).unwrap();
    assert_eq!(
        Sender::restore(SenderConfig::default(), other.clone(), T0, [0; 32], state.clone()).unwrap_err(),
        Error::SignerMismatch { signer: other.address(), sender: p.key.address() }
    );
    // Hostile or damaged frames are typed errors.
    let mut extra = saved.clone();
    extra.push(0);
    assert!(matches!(
        SenderState::decode(&extra),
        Err(Error::Primitives(primitives::Error::TrailingBytes { .. }))
    ));
    assert!(SenderState::decode(&saved[..saved.len() - 1]).is_err());
    let mut zero_nonce = state.clone();
    zero_nonce.sessions[0].next_nonce = 0;
    assert!(matches!(SenderState::decode(&zero_nonce.encode()), Err(Error::InvalidSenderState { .. })));
    let mut dup = state.clone();
    dup.sessions[1] = dup.sessions[0];
    assert!(matches!(SenderState::decode(&dup.encode()), Err(Error::InvalidSenderState { .. })));
    assert!(matches!(
        Sender::restore(SenderConfig::default(), p.key.clone(), T0, [0; 32], dup),
        Err(Error::InvalidSenderState { .. })
    ));
}
