//! Recipient restarts never credit a replay, with or without saved state.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use pm_tickets::*;
use primitives::{H256, Machine, SecretKey, Timestamp, U256};

const T0: Timestamp = Timestamp::from_secs(1_000);

fn round_hash(r: u64) -> H256 {
    primitives::keccak256(r.to_be_bytes())
}

fn keys() -> RecipientKeys {
    RecipientKeys { address: SecretKey::from_bytes([0x22; 32]).unwrap().address(), secret: [7; 32] }
}

fn config() -> RecipientConfig {
    RecipientConfig { ev: 1_000.into(), redeem_gas: 1, tx_cost_multiplier: 100, ..RecipientConfig::default() }
}

fn drain<M: Machine>(m: &mut M) -> Vec<M::Output> {
    std::iter::from_fn(|| m.poll_output()).collect()
}

fn credited(out: &[RecipientOutput]) -> usize {
    out.iter().filter(|o| matches!(o, RecipientOutput::Event(RecipientEvent::Credited { .. }))).count()
}

/// Feeds a (re)started recipient the chain and the sender's funds, as a host does.
fn boot(r: &mut Recipient, sender: &SecretKey) {
    r.handle(T0, RecipientInput::Chain { block: 100, round: 1, round_block_hash: round_hash(1) }).unwrap();
    r.handle(
        T0,
        RecipientInput::SenderFunds {
            sender: sender.address(),
            max_float: 1_000_000.into(),
            withdraw_round: 0,
        },
    )
    .unwrap();
    drain(r);
}

/// A recipient that quoted and credited one 3-ticket batch; gas price 0, so face = EV
/// and every ticket wins.
fn credited_once() -> (SecretKey, Recipient, TicketBatch) {
    let key = SecretKey::from_bytes([0x11; 32]).unwrap();
    let mut r = Recipient::new(config(), keys(), T0, [1; 32]);
    boot(&mut r, &key);
    let price = Price::new(1.into(), 1.into()).unwrap();
    r.handle(T0, RecipientInput::Quote { sender: key.address(), price }).unwrap();
    let Some(RecipientOutput::Params { params, .. }) = r.poll_output() else { panic!("params") };
    let mut s = Sender::new(
        SenderConfig { max_ev: 1_000_000.into(), ..SenderConfig::default() },
        key.clone(),
        T0,
        [2; 32],
    );
    s.handle(T0, SenderInput::Chain { block: 100 }).unwrap();
    s.handle(T0, SenderInput::Funds { deposit: 1_000_000.into(), reserve: 0.into(), withdraw_round: 0 })
        .unwrap();
    s.handle(T0, SenderInput::StartSession(params)).unwrap();
    s.handle(T0, SenderInput::Pay { session: params.recipient_rand_hash, amount: 3_000.into() }).unwrap();
    let batch = drain(&mut s)
        .into_iter()
        .find_map(|o| match o {
            SenderOutput::Send { batch, .. } => Some(*batch),
            _ => None,
        })
        .unwrap();
    r.handle(T0, RecipientInput::Batch(Box::new(batch.clone()))).unwrap();
    let out = drain(&mut r);
    assert_eq!(credited(&out), 1);
    assert_eq!(r.queued(), 3, "every ticket wins");
    (key, r, batch)
}

/// The defect: a recipient restarted with the same secret (and a fresh boot seed, as the
/// machine shape asks) but without its nonce ledgers credited the same batch again.
#[test]
fn a_recipient_restarted_without_state_refuses_params_quoted_before_the_restart() {
    let (key, _old, batch) = credited_once();
    let mut restarted = Recipient::new(config(), keys(), T0, [9; 32]);
    boot(&mut restarted, &key);
    let replay = restarted.handle(T0, RecipientInput::Batch(Box::new(batch.clone())));
    let out = drain(&mut restarted);
    assert_eq!(credited(&out), 0, "replay after restart credited twice");
    assert_eq!(replay, Err(Error::QuotedBeforeRestart { seed: batch.params.seed }));
    assert_eq!(restarted.queued(), 0);
}

fn restored(r: &Recipient, seed: [u8; 32]) -> Recipient {
    let frame = r.export_state().encode();
    assert!(frame.len() <= MAX_RECIPIENT_STATE_BYTES);
    let state = RecipientState::decode(&frame).unwrap();
    assert_eq!(state, r.export_state(), "the frame round-trips");
    Recipient::restore(config(), keys(), T0, seed, state).unwrap()
}

fn more(batch: &TicketBatch, key: &SecretKey, nonces: std::ops::RangeInclusive<u32>) -> TicketBatch {
    let sender_params = nonces
        .map(|n| TicketSenderParams {
            sender_nonce: n,
            sig: Ticket::new(&batch.params, key.address(), n).sign(key).unwrap(),
        })
        .collect();
    TicketBatch { sender_params, ..batch.clone() }
}

#[test]
fn a_restored_recipient_refuses_the_replay_and_keeps_its_winners() {
    let (key, old, batch) = credited_once();
    let mut r = restored(&old, [9; 32]);
    assert_ne!(r.generation(), old.generation());
    assert_eq!(r.queued(), 3, "no winner lost");
    assert_eq!(r.available_float(&key.address()), old.available_float(&key.address()));
    // The replay, whole or in part, is refused.
    assert_eq!(
        r.handle(T0, RecipientInput::Batch(Box::new(batch.clone()))),
        Err(Error::NonceReplayed { nonce: 1 })
    );
    assert_eq!(
        r.handle(T0, RecipientInput::Batch(Box::new(more(&batch, &key, 3..=4)))),
        Err(Error::NonceReplayed { nonce: 3 })
    );
    assert!(drain(&mut r).is_empty());
    // New nonces on the old params are credited: the sender's session continues.
    r.handle(T0, RecipientInput::Batch(Box::new(more(&batch, &key, 4..=5)))).unwrap();
    assert_eq!(credited(&drain(&mut r)), 1);
    // Once the params expire, every winner is submitted exactly once.
    r.handle(
        T0,
        RecipientInput::Chain {
            block: batch.params.expiration_block,
            round: 1,
            round_block_hash: round_hash(1),
        },
    )
    .unwrap();
    let redeems: Vec<_> =
        drain(&mut r).into_iter().filter(|o| matches!(o, RecipientOutput::Redeem(_))).collect();
    assert_eq!(redeems.len(), 5);
    assert!(r.export_state().generations.is_empty(), "expired generations are forgotten");
}

#[test]
fn restores_chain_through_several_restarts_and_new_params_work() {
    let (key, old, batch) = credited_once();
    let mut r1 = restored(&old, [9; 32]);
    // The second process quotes too.
    let price = Price::new(1.into(), 1.into()).unwrap();
    r1.handle(T0, RecipientInput::Quote { sender: key.address(), price }).unwrap();
    let Some(RecipientOutput::Params { params, .. }) = r1.poll_output() else { panic!("params") };
    assert_eq!(generation_of(&params.seed), r1.generation());
    assert_ne!(params.seed, batch.params.seed);
    let fresh = more(&TicketBatch { params, ..batch.clone() }, &key, 1..=2);
    r1.handle(T0, RecipientInput::Batch(Box::new(fresh.clone()))).unwrap();
    drain(&mut r1);
    // A third process, restored from the second's state, holds both generations.
    let mut r2 = restored(&r1, [10; 32]);
    assert_eq!(r2.export_state().generations.len(), 2);
    for b in [&batch, &fresh] {
        assert_eq!(
            r2.handle(T0, RecipientInput::Batch(Box::new(b.clone()))),
            Err(Error::NonceReplayed { nonce: 1 })
        );
    }
    assert_eq!(r2.queued(), 5);
    // A process restarted without state refuses both.
    let mut r3 = Recipient::new(config(), keys(), T0, [11; 32]);
    boot(&mut r3, &key);
    for b in [&batch, &fresh] {
        assert_eq!(
            r3.handle(T0, RecipientInput::Batch(Box::new(more(b, &key, 50..=50)))),
            Err(Error::QuotedBeforeRestart { seed: b.params.seed })
        );
    }
}

#[test]
fn in_flight_redemptions_stay_in_flight_across_a_restore() {
    let (_key, mut old, batch) = credited_once();
    old.handle(
        T0,
        RecipientInput::Chain {
            block: batch.params.expiration_block,
            round: 1,
            round_block_hash: round_hash(1),
        },
    )
    .unwrap();
    let submitted: Vec<SignedTicket> = drain(&mut old)
        .into_iter()
        .filter_map(|o| match o {
            RecipientOutput::Redeem(st) => Some(st),
            _ => None,
        })
        .collect();
    assert_eq!(submitted.len(), 3);
    let mut r = restored(&old, [9; 32]);
    let mut in_flight = r.in_flight_tickets();
    in_flight.sort_by_key(|t| t.ticket.hash());
    let mut expected = submitted.clone();
    expected.sort_by_key(|t| t.ticket.hash());
    assert_eq!(in_flight, expected);
    // The host answers from its records: one confirmed, one never sent, one reverted.
    let [a, b, c] = [0, 1, 2].map(|i| submitted[i].ticket.hash());
    r.handle(T0, RecipientInput::Redeemed { ticket_hash: a, paid: 1_000.into() }).unwrap();
    r.handle(T0, RecipientInput::RedeemFailed { ticket_hash: b, reason: None }).unwrap();
    r.handle(T0, RecipientInput::RedeemFailed { ticket_hash: c, reason: Some(Error::TicketUsed(c)) })
        .unwrap();
    let out = drain(&mut r);
    assert!(
        out.contains(&RecipientOutput::Event(RecipientEvent::Redeemed {
            ticket_hash: a,
            paid: 1_000.into()
        }))
    );
    assert!(out.iter().any(
        |o| matches!(o, RecipientOutput::Event(RecipientEvent::Lost { ticket_hash, .. }) if *ticket_hash == c)
    ));
    assert_eq!((r.queued(), r.in_flight()), (1, 0), "the unsent one waits for its backoff");
    assert_eq!(
        r.handle(T0, RecipientInput::Redeemed { ticket_hash: a, paid: 1.into() }),
        Err(Error::UnknownRedemption(a))
    );
    let retry = r.poll_timeout().unwrap();
    assert!(retry <= T0.saturating_add_millis(config().redeem_retry_max_ms));
    r.handle(retry, RecipientInput::Timeout).unwrap();
    assert!(matches!(drain(&mut r).as_slice(), [RecipientOutput::Redeem(st)] if st.ticket.hash() == b));
}

#[test]
fn a_restore_clamps_backoffs_when_the_hosts_clock_restarted() {
    let (_key, mut old, batch) = credited_once();
    let late = Timestamp::from_secs(1_000_000);
    old.handle(
        late,
        RecipientInput::Chain {
            block: batch.params.expiration_block,
            round: 1,
            round_block_hash: round_hash(1),
        },
    )
    .unwrap();
    let hash = drain(&mut old)
        .into_iter()
        .find_map(|o| match o {
            RecipientOutput::Redeem(st) => Some(st.ticket.hash()),
            _ => None,
        })
        .unwrap();
    old.handle(late, RecipientInput::RedeemFailed { ticket_hash: hash, reason: None }).unwrap();
    // Restored at T0 (far before `late`): the wait is at most the longest backoff, not
    // until the old clock's `late + 30 s`.
    let r = restored(&old, [9; 32]);
    assert_eq!(r.poll_timeout(), Some(T0.saturating_add_millis(config().redeem_retry_max_ms)));
    // Restored on the same clock, the backoff is kept as it was.
    let r = Recipient::restore(config(), keys(), late, [9; 32], old.export_state()).unwrap();
    assert_eq!(r.poll_timeout(), Some(late.saturating_add_millis(config().redeem_retry_base_ms)));
}

#[test]
fn hostile_or_foreign_states_are_refused() {
    let (key, old, _batch) = credited_once();
    let good = old.export_state();
    let frame = good.encode();
    let restore = |s: RecipientState| Recipient::restore(config(), keys(), T0, [9; 32], s).map(|_| ());
    let reason = |r: Result<(), Error>| match r {
        Err(Error::InvalidRecipientState { reason }) => reason,
        other => panic!("expected InvalidRecipientState, got {other:?}"),
    };
    // Framing.
    let mut trailing = frame.clone();
    trailing.push(0);
    assert!(matches!(
        RecipientState::decode(&trailing),
        Err(Error::Primitives(primitives::Error::TrailingBytes { extra: 1 }))
    ));
    let mut version = frame.clone();
    version[0] = 2;
    assert!(matches!(
        RecipientState::decode(&version),
        Err(Error::Primitives(primitives::Error::UnsupportedVersion { .. }))
    ));
    assert!(RecipientState::decode(&frame[..frame.len() - 1]).is_err());
    let huge = vec![RECIPIENT_STATE_VERSION; MAX_RECIPIENT_STATE_BYTES + 1];
    assert!(matches!(
        RecipientState::decode(&huge),
        Err(Error::Primitives(primitives::Error::TooLong { .. }))
    ));
    // Another recipient or secret.
    let other = RecipientKeys { address: key.address(), secret: [7; 32] };
    assert!(matches!(
        Recipient::restore(config(), other, T0, [9; 32], good.clone()),
        Err(Error::InvalidRecipientState { .. })
    ));
    let other_secret = RecipientKeys { secret: [8; 32], ..keys() };
    assert_eq!(
        Recipient::restore(config(), other_secret, T0, [9; 32], good.clone()).map(|_| ()),
        Err(Error::InvalidRecipientState { reason: "state made under another secret" })
    );
    // Inconsistent contents, each refused by decode and restore alike.
    let mut dup_nonce = good.clone();
    dup_nonce.rands[0].nonces = vec![2, 2];
    let mut unsorted = good.clone();
    unsorted.rands[0].nonces = vec![3, 1];
    let mut too_many = good.clone();
    too_many.rands[0].nonces = (1..=601).collect();
    let mut dup_winner = good.clone();
    dup_winner.winners.push(dup_winner.winners[2]);
    let mut bad_rand = good.clone();
    bad_rand.winners[0].ticket.recipient_rand = H256::repeat_byte(1);
    let mut greedy = good.clone();
    greedy.winners[0].in_flight = Some(greedy.winners[0].ticket.ticket.face_value + 1);
    let mut foreign = good.clone();
    foreign.winners[0].ticket.ticket.recipient = key.address();
    let mut zero = good.clone();
    zero.recipient = primitives::Address::zero();
    for (s, why) in [
        (dup_nonce, "nonces not strictly increasing"),
        (unsorted, "nonces not strictly increasing"),
        (too_many, "too many nonces for one rand"),
        (dup_winner, "winners not strictly increasing"),
        (bad_rand, "winner's rand does not match its hash"),
        (greedy, "winner expects more than its face value"),
        (foreign, "winner for another recipient"),
        (zero, "zero recipient"),
    ] {
        assert_eq!(RecipientState::decode(&s.encode()), Err(Error::InvalidRecipientState { reason: why }));
        assert_eq!(reason(restore(s)), why);
    }
    // A winner whose signature was altered (a forged ticket slipped into storage).
    let mut forged = good.clone();
    forged.winners[0].ticket.ticket.face_value *= 2;
    forged.winners.sort_by_key(|w| w.ticket.ticket.hash());
    assert_eq!(reason(restore(forged)), "winner's signature is not its sender's");
    restore(good).unwrap();
}

#[test]
fn the_rand_ledger_cap_is_enforced_so_the_state_always_exports() {
    // Low win probability: face value far above the EV, so few winners.
    let key = SecretKey::from_bytes([0x11; 32]).unwrap();
    let cfg = RecipientConfig { max_sender_nonces: 10_000, ..config() };
    let mut r = Recipient::new(cfg.clone(), keys(), T0, [1; 32]);
    r.handle(T0, RecipientInput::Chain { block: 100, round: 1, round_block_hash: round_hash(1) }).unwrap();
    r.handle(T0, RecipientInput::GasPrice(10_000.into())).unwrap();
    r.handle(
        T0,
        RecipientInput::SenderFunds { sender: key.address(), max_float: U256::MAX / 2, withdraw_round: 0 },
    )
    .unwrap();
    let price = Price::new(1.into(), 1.into()).unwrap();
    let mut last = None;
    for i in 0..=MAX_SAVED_RANDS {
        r.handle(T0, RecipientInput::Quote { sender: key.address(), price }).unwrap();
        let Some(RecipientOutput::Params { params, .. }) = r.poll_output() else { panic!("params") };
        let n = 1;
        let sig = Ticket::new(&params, key.address(), n).sign(&key).unwrap();
        let b = TicketBatch {
            params,
            sender: key.address(),
            sender_params: vec![TicketSenderParams { sender_nonce: n, sig }],
        };
        let res = r.handle(T0, RecipientInput::Batch(Box::new(b)));
        drain(&mut r);
        if i < MAX_SAVED_RANDS {
            res.unwrap();
        } else {
            last = Some(res);
        }
    }
    assert_eq!(last, Some(Err(Error::StateFull { what: "recipientRand ledgers", limit: MAX_SAVED_RANDS })));
    let frame = r.export_state().encode();
    assert!(frame.len() <= MAX_RECIPIENT_STATE_BYTES);
    Recipient::restore(cfg, keys(), T0, [2; 32], RecipientState::decode(&frame).unwrap()).unwrap();
}

#[test]
fn the_nonce_cap_is_at_most_600_whatever_the_config() {
    let (key, mut r, batch) = {
        let (key, r, batch) = credited_once();
        (key, r, batch)
    };
    // The default config; a ledger holds at most 600 nonces, so 597 more fit and no more.
    r.handle(T0, RecipientInput::Batch(Box::new(more(&batch, &key, 4..=600)))).unwrap();
    drain(&mut r);
    assert_eq!(
        r.handle(T0, RecipientInput::Batch(Box::new(more(&batch, &key, 601..=601)))),
        Err(Error::TooManyNonces { limit: 600 })
    );
    let cfg = RecipientConfig { max_sender_nonces: 1_000_000, ..config() };
    let mut big = Recipient::restore(cfg, keys(), T0, [3; 32], r.export_state()).unwrap();
    assert_eq!(
        big.handle(T0, RecipientInput::Batch(Box::new(more(&batch, &key, 601..=601)))),
        Err(Error::TooManyNonces { limit: 600 })
    );
}
