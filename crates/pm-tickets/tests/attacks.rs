//! A second adversarial review of the machines (a cheating sender, a griefing
//! recipient, a corrupted store): each defect reproduced through the public API first
//! (each test failed before its fix), then the fixed behaviour pinned.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use pm_tickets::*;
use primitives::{Address, H256, Machine, SecretKey, Timestamp, U256};

const T0: Timestamp = Timestamp::from_secs(1_000);

fn round_hash(r: u64) -> H256 {
    primitives::keccak256(r.to_be_bytes())
}

fn drain<M: Machine>(m: &mut M) -> Vec<M::Output> {
    std::iter::from_fn(|| m.poll_output()).collect()
}

/// A recipient at block 100, round 1, with EV 1000 and gas price 0: face = EV, every
/// ticket wins. The sender's max float is `float`.
fn recipient(sender: Address, float: u64) -> Recipient {
    let config = RecipientConfig { ev: 1_000.into(), redeem_gas: 1, ..RecipientConfig::default() };
    let keys = RecipientKeys { address: Address::repeat_byte(0x22), secret: [7; 32] };
    let mut r = Recipient::new(config, keys, T0, [1; 32]);
    r.handle(T0, RecipientInput::Chain { block: 100, round: 1, round_block_hash: round_hash(1) }).unwrap();
    r.handle(T0, RecipientInput::SenderFunds { sender, max_float: float.into(), withdraw_round: 0 }).unwrap();
    r
}

fn quote(r: &mut Recipient, sender: Address) -> TicketParams {
    let price = Price::new(1.into(), 1.into()).unwrap();
    r.handle(T0, RecipientInput::Quote { sender, price }).unwrap();
    match r.poll_output() {
        Some(RecipientOutput::Params { params, .. }) => params,
        other => panic!("expected params, got {other:?}"),
    }
}

fn batch(params: &TicketParams, key: &SecretKey, nonces: std::ops::RangeInclusive<u32>) -> TicketBatch {
    let sender_params = nonces
        .map(|n| TicketSenderParams {
            sender_nonce: n,
            sig: Ticket::new(params, key.address(), n).sign(key).unwrap(),
        })
        .collect();
    TicketBatch { params: *params, sender: key.address(), sender_params }
}

/// A cheating sender whose float covers one face value sent one big batch: the
/// recipient credited all of it although the sender could pay only one winner (here
/// every ticket wins, so 5 winners of 1000 against a float of 3000).
#[test]
fn a_batch_whose_winners_the_float_could_not_pay_is_refused_whole() {
    let key = SecretKey::from_bytes([0x11; 32]).unwrap();
    let mut r = recipient(key.address(), 3_000);
    let p = quote(&mut r, key.address());
    assert_eq!(p.face_value, U256::from(1_000u64));
    assert_eq!(
        r.handle(T0, RecipientInput::Batch(Box::new(batch(&p, &key, 1..=5)))),
        Err(Error::BatchExceedsFloat {
            sender: key.address(),
            tickets: 5,
            face_value: 1_000.into(),
            available: 3_000.into()
        })
    );
    assert!(drain(&mut r).is_empty() && r.queued() == 0, "a refused batch changes nothing");
    // What the float covers in the worst case is credited; the winners then hold it all.
    r.handle(T0, RecipientInput::Batch(Box::new(batch(&p, &key, 1..=3)))).unwrap();
    drain(&mut r);
    assert_eq!(r.queued_float(&key.address()), U256::from(3_000u64));
    assert!(r.queued_float(&key.address()) <= r.max_float(&key.address()));
    assert_eq!(
        r.handle(T0, RecipientInput::Batch(Box::new(batch(&p, &key, 4..=4)))),
        Err(Error::FaceValueExceedsFloat {
            sender: key.address(),
            face_value: 1_000.into(),
            available: 0.into()
        })
    );
}

/// A griefing recipient (or many) handing out params made the sender hold more
/// sessions than a `SenderState` may carry: its export no longer decoded, so the sender
/// could not be restored.
#[test]
fn the_sender_refuses_more_sessions_than_its_saved_state_can_carry() {
    let key = SecretKey::from_bytes([0x11; 32]).unwrap();
    let mut s = Sender::new(SenderConfig::default(), key, T0, [0; 32]);
    s.handle(T0, SenderInput::Chain { block: 10 }).unwrap();
    s.handle(T0, SenderInput::Funds { deposit: U256::MAX / 2, reserve: 0.into(), withdraw_round: 0 })
        .unwrap();
    let params = |i: u64| TicketParams {
        recipient: Address::repeat_byte(0x22),
        face_value: 1_000.into(),
        win_prob: U256::MAX / 1_000,
        recipient_rand_hash: primitives::keccak256(i.to_be_bytes()),
        seed: H256::zero(),
        expiration_block: 10 + DEFAULT_MAX_PARAMS_LIFETIME_BLOCKS,
        price: Price::new(1.into(), 1.into()).unwrap(),
        expiration_params: TicketExpirationParams::default(),
    };
    for i in 0..MAX_SAVED_SESSIONS as u64 {
        s.handle(T0, SenderInput::StartSession(params(i))).unwrap();
    }
    assert_eq!(
        s.handle(T0, SenderInput::StartSession(params(u64::MAX))),
        Err(Error::StateFull { what: "sessions", limit: MAX_SAVED_SESSIONS })
    );
    // Known sessions still resume, and the state still restores.
    s.handle(T0, SenderInput::StartSession(params(7))).unwrap();
    let frame = s.export_state().encode();
    assert!(frame.len() <= MAX_SENDER_STATE_BYTES);
    assert_eq!(SenderState::decode(&frame).unwrap().sessions.len(), MAX_SAVED_SESSIONS);
}

/// A corrupted sender store with a credit of a whole ticket or more would let the
/// sender "pay" without sending tickets.
#[test]
fn a_saved_sender_credit_of_a_whole_ticket_is_refused() {
    let key = SecretKey::from_bytes([0x11; 32]).unwrap();
    let mut r = recipient(key.address(), 1_000_000);
    let p = quote(&mut r, key.address());
    let mut s = Sender::new(SenderConfig::default(), key.clone(), T0, [0; 32]);
    s.handle(T0, SenderInput::Chain { block: 100 }).unwrap();
    s.handle(T0, SenderInput::Funds { deposit: 1_000_000.into(), reserve: 0.into(), withdraw_round: 0 })
        .unwrap();
    s.handle(T0, SenderInput::StartSession(p)).unwrap();
    s.handle(T0, SenderInput::Pay { session: p.recipient_rand_hash, amount: 1_500.into() }).unwrap();
    let mut state = s.export_state();
    assert_eq!(state.sessions[0].credit.floor(), U256::from(500u64));
    SenderState::decode(&state.encode()).unwrap();
    state.sessions[0].credit = p.expected_value();
    let reason = Error::InvalidSenderState { reason: "credit of a whole ticket or more" };
    assert_eq!(SenderState::decode(&state.encode()), Err(reason.clone()));
    assert_eq!(Sender::restore(SenderConfig::default(), key, T0, [0; 32], state).map(|_| ()), Err(reason));
}

/// A griefing recipient quoting params that never expire made the sender keep their
/// session (and its nonce sequence) forever; enough of them and the sender could start
/// no session at all.
#[test]
fn the_sender_refuses_params_that_expire_too_far_ahead() {
    let key = SecretKey::from_bytes([0x11; 32]).unwrap();
    let mut r = recipient(key.address(), 1_000_000);
    let honest = quote(&mut r, key.address());
    let mut s = Sender::new(SenderConfig::default(), key, T0, [0; 32]);
    s.handle(T0, SenderInput::Chain { block: 100 }).unwrap();
    s.handle(T0, SenderInput::Funds { deposit: 1_000_000.into(), reserve: 0.into(), withdraw_round: 0 })
        .unwrap();
    let greedy = TicketParams { expiration_block: u64::MAX, ..honest };
    let limit = Err(Error::ParamsLifetimeTooLong {
        expiration_block: u64::MAX,
        max_expiration_block: 100 + DEFAULT_MAX_PARAMS_LIFETIME_BLOCKS,
    });
    assert_eq!(s.handle(T0, SenderInput::StartSession(greedy)), limit);
    assert_eq!(s.export_state().sessions.len(), 0);
    let edge = TicketParams {
        expiration_block: 100 + DEFAULT_MAX_PARAMS_LIFETIME_BLOCKS,
        recipient_rand_hash: H256::repeat_byte(9),
        ..honest
    };
    s.handle(T0, SenderInput::StartSession(edge)).unwrap();
    s.handle(T0, SenderInput::StartSession(honest)).unwrap();
}

/// A griefer asking quotes from many fresh addresses makes the host report funds for
/// each: once the recipient's table is full, the report of the sender idle the longest
/// without pending winners is forgotten, so new honest senders are still served and no
/// winner's sender is forgotten.
#[test]
fn a_full_funds_table_forgets_the_longest_idle_sender_without_winners() {
    let key = SecretKey::from_bytes([0x11; 32]).unwrap();
    let a = key.address();
    let mut r = recipient(a, 1_000_000);
    let p = quote(&mut r, a);
    r.handle(T0, RecipientInput::Batch(Box::new(batch(&p, &key, 1..=1)))).unwrap();
    drain(&mut r);
    assert_eq!(r.queued(), 1);
    let report =
        |s: Address| RecipientInput::SenderFunds { sender: s, max_float: 5.into(), withdraw_round: 0 };
    let addr = |i: usize| Address::from_low_u64_be(i as u64 + 1);
    for i in 0..MAX_SAVED_SENDERS - 1 {
        r.handle(T0, report(addr(i))).unwrap();
    }
    r.handle(T0, RecipientInput::Chain { block: 101, round: 1, round_block_hash: round_hash(1) }).unwrap();
    r.handle(T0, report(addr(0))).unwrap(); // active again: now the newest
    drain(&mut r);
    // The table is full: a new sender's report forgets the oldest idle one, addr(1).
    let newcomer = Address::repeat_byte(0xee);
    r.handle(T0, report(newcomer)).unwrap();
    let state = r.export_state();
    assert_eq!(state.funds.len(), MAX_SAVED_SENDERS);
    assert!(state.funds.iter().all(|f| f.sender != addr(1)));
    for kept in [a, addr(0), addr(2), newcomer] {
        assert!(state.funds.iter().any(|f| f.sender == kept), "{kept:?} forgotten");
    }
    assert_eq!(r.max_float(&a), U256::from(1_000_000u64), "the sender with a winner is kept");
    // A forgotten sender is refused until the host reports it again.
    assert!(r.max_float(&addr(1)).is_zero());
}
