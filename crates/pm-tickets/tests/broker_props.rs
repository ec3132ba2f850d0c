//! Broker properties over random operation sequences: no ticket is redeemed twice,
//! funds are conserved across deposits, reserves, redemptions and withdrawals, an
//! unlocked sender's tickets are refused, losing tickets and tickets with bad
//! signatures are never paid (with the contract's error inside the validity window),
//! and a refused call changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use pm_tickets::*;
use primitives::{Address, H256, SecretKey, U256};
use proptest::prelude::*;

const ROUNDS: u64 = 6;

fn round_hash(r: u64) -> H256 {
    primitives::keccak256(r.to_be_bytes())
}

struct Pool {
    senders: Vec<Address>,
    recipients: Vec<Address>,
    tickets: Vec<SignedTicket>,
    bad: Vec<(SignedTicket, Bad)>,
}

/// How a ticket of [`Pool::bad`] is broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bad {
    /// Validly signed, but `winProb = 1`: it loses (checked when the pool is built).
    Loser,
    /// Signed by the other sender's key.
    ForeignKey,
    /// Validly signed, then its face value raised.
    Tampered,
}

/// Winning tickets (winProb = 2^256 − 1), signed once: 2 senders × 2 recipients ×
/// rounds 1..=ROUNDS × 2 nonces.
fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let keys: Vec<SecretKey> = (1..=2u8).map(|i| SecretKey::from_bytes([i; 32]).unwrap()).collect();
        let recipients: Vec<Address> = (0..2u8).map(|i| Address::repeat_byte(0xa0 + i)).collect();
        let mut tickets = Vec::new();
        for key in &keys {
            for (ri, r) in recipients.iter().enumerate() {
                for round in 1..=ROUNDS {
                    for nonce in 0..2u32 {
                        let rand = H256::repeat_byte(ri as u8 + 1);
                        let face = U256::from(150u64 * u64::from(nonce + 1) * round);
                        let ticket = Ticket {
                            recipient: *r,
                            sender: key.address(),
                            face_value: face,
                            win_prob: MAX_WIN_PROB,
                            sender_nonce: nonce,
                            recipient_rand_hash: rand_hash(&rand),
                            expiration_params: TicketExpirationParams {
                                creation_round: round,
                                creation_round_block_hash: round_hash(round),
                            },
                        };
                        let sig = ticket.sign(key).unwrap();
                        tickets.push(SignedTicket { ticket, sig, recipient_rand: rand });
                    }
                }
            }
        }
        let mut bad = Vec::new();
        for (ki, key) in keys.iter().enumerate() {
            for (ri, r) in recipients.iter().enumerate() {
                for round in 1..=ROUNDS {
                    let rand = H256::repeat_byte(ri as u8 + 1);
                    let base = Ticket {
                        recipient: *r,
                        sender: key.address(),
                        face_value: U256::from(100u64),
                        win_prob: MAX_WIN_PROB,
                        sender_nonce: 10,
                        recipient_rand_hash: rand_hash(&rand),
                        expiration_params: TicketExpirationParams {
                            creation_round: round,
                            creation_round_block_hash: round_hash(round),
                        },
                    };
                    let loser = Ticket { win_prob: U256::one(), sender_nonce: 11, ..base };
                    let st =
                        SignedTicket { ticket: loser, sig: loser.sign(key).unwrap(), recipient_rand: rand };
                    assert!(!st.wins(), "winProb 1 loses");
                    bad.push((st, Bad::Loser));
                    let other = &keys[1 - ki];
                    let foreign = Ticket { sender_nonce: 12, ..base };
                    let sig = Ticket { sender: other.address(), ..foreign }.sign(other).unwrap();
                    bad.push((SignedTicket { ticket: foreign, sig, recipient_rand: rand }, Bad::ForeignKey));
                    let honest = Ticket { sender_nonce: 13, ..base };
                    let sig = honest.sign(key).unwrap();
                    let tampered = Ticket { face_value: U256::from(10_000u64), ..honest };
                    bad.push((SignedTicket { ticket: tampered, sig, recipient_rand: rand }, Bad::Tampered));
                }
            }
        }
        Pool { senders: keys.iter().map(SecretKey::address).collect(), recipients, tickets, bad }
    })
}

#[derive(Clone, Debug)]
enum Op {
    Deposit(usize, u64),
    Reserve(usize, u64),
    Unlock(usize),
    Cancel(usize),
    Withdraw(usize),
    NextRound(bool),
    Redeem(usize),
    RedeemBad(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..2usize, 0..1_500u64).prop_map(|(s, a)| Op::Deposit(s, a)),
        1 => (0..2usize, 0..1_500u64).prop_map(|(s, a)| Op::Reserve(s, a)),
        1 => (0..2usize).prop_map(Op::Unlock),
        1 => (0..2usize).prop_map(Op::Cancel),
        1 => (0..2usize).prop_map(Op::Withdraw),
        1 => any::<bool>().prop_map(Op::NextRound),
        4 => (0..pool_len()).prop_map(Op::Redeem),
        2 => (0..bad_len()).prop_map(Op::RedeemBad),
    ]
}

fn pool_len() -> usize {
    2 * 2 * ROUNDS as usize * 2
}

fn bad_len() -> usize {
    2 * 2 * ROUNDS as usize * 3
}

/// Each sender's outside balance at the start.
const BALANCE: u64 = 1_000_000;

/// A broker (unlock period 2, tickets valid for 2 rounds: the shortest unlock period
/// the broker accepts) in round 1, with the pool's recipients active and each sender
/// holding [`BALANCE`] in the store.
fn broker_in_round_1(pool: &Pool, settlement: Settlement) -> Broker {
    let mut b =
        Broker::new(BrokerConfig { unlock_period: 2, ticket_validity_period: 2, settlement }).unwrap();
    for s in &pool.senders {
        b.store_mut().mint(*s, BALANCE.into()).unwrap();
    }
    b.initialize_round(1, round_hash(1), pool.recipients.iter().copied()).unwrap();
    b
}

/// The store agrees with the broker: escrow is deposits + reserves, each recipient's
/// account its fees, each sender's account its balance less funding plus withdrawals.
fn check_store(b: &Broker, pool: &Pool, funded: &[U256; 2]) -> Result<(), TestCaseError> {
    let store = b.store();
    prop_assert_eq!(Some(store.escrowed()), b.total_escrowed(), "escrow");
    for r in &pool.recipients {
        prop_assert_eq!(store.balance(r), b.fees(r), "recipient's account");
    }
    for (s, f) in pool.senders.iter().zip(funded) {
        prop_assert_eq!(store.balance(s) + *f, U256::from(BALANCE) + b.withdrawn(s), "sender's account");
    }
    prop_assert_eq!(store.total_held(), Some(store.total_minted()), "store conservation");
    Ok(())
}

fn run(ops: Vec<Op>, settlement: Settlement) -> Result<(), TestCaseError> {
    let pool = pool();
    let mut b = broker_in_round_1(pool, settlement);
    let mut redeemed: BTreeSet<H256> = BTreeSet::new();
    let mut funded = [U256::zero(); 2];
    for op in ops {
        let before = format!("{b:?}");
        let result: Result<(), Error> = match op {
            Op::Deposit(s, a) => {
                b.fund_deposit(pool.senders[s], a.into()).map(|()| funded[s] += U256::from(a))
            }
            Op::Reserve(s, a) => {
                b.fund_reserve(pool.senders[s], a.into()).map(|()| funded[s] += U256::from(a))
            }
            Op::Unlock(s) => b.unlock(pool.senders[s]),
            Op::Cancel(s) => b.cancel_unlock(pool.senders[s]),
            Op::Withdraw(s) => {
                let acct = b.sender(&pool.senders[s]);
                let expect = acct.deposit + b.reserve(&pool.senders[s]);
                b.withdraw(pool.senders[s]).map(|got| assert_eq!(got, expect))
            }
            Op::NextRound(shrink) => {
                let r = b.current_round() + 1;
                if r > ROUNDS {
                    continue;
                }
                let set: Vec<Address> =
                    if shrink { pool.recipients[..1].to_vec() } else { pool.recipients.clone() };
                b.initialize_round(r, round_hash(r), set)
            }
            Op::Redeem(i) => {
                let st = &pool.tickets[i];
                let t = &st.ticket;
                let hash = t.hash();
                let acct = b.sender(&t.sender);
                let unlocked = acct.withdraw_round != 0 && b.current_round() >= acct.withdraw_round;
                let in_window = t.expiration_params.creation_round <= b.current_round()
                    && t.expiration_params.creation_round + 2 > b.current_round();
                let float = b.max_float(&t.sender, &t.recipient);
                let res = b.redeem_winning_ticket(st);
                match &res {
                    Ok(paid) => {
                        prop_assert!(redeemed.insert(hash), "redeemed twice");
                        prop_assert!(in_window && !unlocked);
                        prop_assert!(*paid <= t.face_value && *paid <= float);
                        if settlement == Settlement::AllOrNothing {
                            prop_assert_eq!(*paid, t.face_value);
                        }
                        prop_assert!(b.is_used(&hash));
                    }
                    Err(Error::TicketUsed(h)) => prop_assert!(redeemed.contains(h)),
                    Err(e) => {
                        prop_assert!(!redeemed.contains(&hash) || !in_window, "used ticket gave {e:?}");
                        if unlocked && in_window && !redeemed.contains(&hash) {
                            prop_assert_eq!(e, &Error::SenderUnlocked(t.sender));
                        }
                    }
                }
                if in_window && !redeemed.contains(&hash) && unlocked {
                    prop_assert!(res.is_err());
                }
                res.map(|_| ())
            }
            Op::RedeemBad(i) => {
                let (st, kind) = &pool.bad[i];
                let t = &st.ticket;
                let in_window = t.expiration_params.creation_round <= b.current_round()
                    && t.expiration_params.creation_round + 2 > b.current_round();
                let res = b.redeem_winning_ticket(st);
                prop_assert!(res.is_err(), "{kind:?} ticket paid");
                prop_assert!(!b.is_used(&t.hash()), "{kind:?} ticket marked used");
                let err = res.as_ref().unwrap_err();
                if in_window {
                    match kind {
                        Bad::Loser => prop_assert_eq!(err, &Error::NotWinning),
                        Bad::ForeignKey | Bad::Tampered => {
                            prop_assert!(
                                matches!(err, Error::BadSignature { sender, .. } if *sender == t.sender),
                                "{kind:?}: {err:?}"
                            )
                        }
                    }
                } else {
                    prop_assert!(
                        matches!(err, Error::TicketExpired { .. } | Error::UnknownCreationRound { .. }),
                        "{kind:?} outside the window: {err:?}"
                    );
                }
                res.map(|_| ())
            }
        };
        if result.is_err() {
            prop_assert_eq!(&before, &format!("{b:?}"), "a refused call changed the broker");
        }
        prop_assert_eq!(b.total_accounted(), Some(b.total_funded()), "conservation");
        check_store(&b, pool, &funded)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn all_or_nothing_broker_invariants(ops in proptest::collection::vec(op(), 1..60)) {
        run(ops, Settlement::AllOrNothing)?;
    }

    #[test]
    fn partial_broker_invariants(ops in proptest::collection::vec(op(), 1..60)) {
        run(ops, Settlement::Partial)?;
    }
}

#[test]
fn unlocked_sender_is_refused_and_withdraw_pays_everything() {
    let pool = pool();
    let mut b = broker_in_round_1(pool, Settlement::AllOrNothing);
    let s = pool.senders[0];
    b.fund_deposit_and_reserve(s, 10_000.into(), 4_000.into(), 6_000.into()).unwrap();
    // A round-2 ticket of face 300 (sender 0, recipient 0, nonce 0).
    let st = pool
        .tickets
        .iter()
        .find(|t| {
            t.ticket.sender == s
                && t.ticket.recipient == pool.recipients[0]
                && t.ticket.expiration_params.creation_round == 2
                && t.ticket.sender_nonce == 0
        })
        .unwrap();
    b.unlock(s).unwrap();
    assert_eq!(b.withdraw(s), Err(Error::SenderLocked { withdraw_round: 3, current_round: 1 }));
    b.initialize_round(2, round_hash(2), pool.recipients.iter().copied()).unwrap();
    assert_eq!(b.withdraw(s), Err(Error::SenderLocked { withdraw_round: 3, current_round: 2 }));
    b.initialize_round(3, round_hash(3), pool.recipients.iter().copied()).unwrap();
    assert_eq!(b.redeem_winning_ticket(st), Err(Error::SenderUnlocked(s)));
    assert_eq!(b.withdraw(s).unwrap(), U256::from(10_000));
    assert_eq!(b.store().balance(&s), U256::from(BALANCE));
    assert_eq!(b.redeem_winning_ticket(st), Err(Error::SenderUnlocked(s)));
    // Funding again relocks.
    b.fund_deposit(s, 500.into()).unwrap();
    assert_eq!(b.redeem_winning_ticket(st).unwrap(), U256::from(300));
    assert_eq!(b.store().balance(&pool.recipients[0]), U256::from(300), "paid to the recipient's account");
    assert_eq!(b.redeem_winning_ticket(st), Err(Error::TicketUsed(st.ticket.hash())));
}

#[test]
fn reserve_split_over_the_active_set() {
    let pool = pool();
    let mut b = broker_in_round_1(pool, Settlement::AllOrNothing);
    let s = pool.senders[0];
    b.fund_reserve(s, 500.into()).unwrap();
    let (r0, r1) = (pool.recipients[0], pool.recipients[1]);
    assert_eq!(b.claimable_reserve(&s, &r0), U256::from(250));
    // Ticket of face 150 to r0: paid from its reserve share; the other share is intact.
    let t = pool
        .tickets
        .iter()
        .find(|t| t.ticket.recipient == r0 && t.ticket.sender == s && t.ticket.face_value == 150.into())
        .unwrap();
    assert_eq!(b.redeem_winning_ticket(t).unwrap(), U256::from(150));
    assert_eq!(b.claimable_reserve(&s, &r0), U256::from(100));
    assert_eq!(b.claimable_reserve(&s, &r1), U256::from(250));
    assert_eq!(b.claimable_reserve(&s, &Address::repeat_byte(0xee)), U256::zero(), "not active");
    // All-or-nothing: a 300 ticket exceeds r0's remaining 100 and is refused, unused.
    let big = pool
        .tickets
        .iter()
        .find(|t| t.ticket.recipient == r0 && t.ticket.sender == s && t.ticket.face_value == 300.into())
        .unwrap();
    assert!(matches!(b.redeem_winning_ticket(big), Err(Error::InsufficientFunds { .. })));
    assert!(!b.is_used(&big.ticket.hash()));
    // Under the contract's partial rule the same ticket pays 100 and is burnt.
    let mut partial = {
        let mut p = broker_in_round_1(pool, Settlement::Partial);
        p.fund_reserve(s, 500.into()).unwrap();
        p.redeem_winning_ticket(t).unwrap();
        p
    };
    assert_eq!(partial.redeem_winning_ticket(big).unwrap(), U256::from(100));
    assert!(partial.is_used(&big.ticket.hash()));
}

#[test]
fn unlock_period_shorter_than_ticket_validity_is_refused() {
    let cfg =
        BrokerConfig { unlock_period: 1, ticket_validity_period: 2, settlement: Settlement::AllOrNothing };
    assert_eq!(
        Broker::new(cfg).unwrap_err(),
        Error::UnlockShorterThanValidity { unlock_period: 1, ticket_validity_period: 2 }
    );
    assert_eq!(
        Broker::new(BrokerConfig { ticket_validity_period: 0, unlock_period: 0, ..cfg }).unwrap_err(),
        Error::ZeroValidityPeriod
    );
    assert!(Broker::new(BrokerConfig { unlock_period: 2, ..cfg }).is_ok());
}

#[test]
fn every_ticket_accepted_before_unlock_is_redeemable_until_the_deposit_can_leave() {
    // The sender unlocks in round 2, right after issuing a round-2 ticket (the last one a
    // recipient accepts from it). With the unlock period equal to the validity period,
    // the ticket is redeemable in every round before the withdrawal opens.
    let pool = pool();
    let s = pool.senders[0];
    let st = pool
        .tickets
        .iter()
        .find(|t| {
            t.ticket.sender == s
                && t.ticket.expiration_params.creation_round == 2
                && t.ticket.sender_nonce == 0
        })
        .unwrap();
    for redeem_in in [2u64, 3] {
        let mut b = broker_in_round_1(pool, Settlement::AllOrNothing);
        b.fund_deposit(s, 1_000.into()).unwrap();
        b.initialize_round(2, round_hash(2), pool.recipients.iter().copied()).unwrap();
        b.unlock(s).unwrap();
        assert_eq!(b.sender(&s).withdraw_round, 4);
        if redeem_in == 3 {
            b.initialize_round(3, round_hash(3), pool.recipients.iter().copied()).unwrap();
            assert!(matches!(b.withdraw(s), Err(Error::SenderLocked { .. })), "the deposit cannot leave yet");
        }
        assert_eq!(
            b.redeem_winning_ticket(st).unwrap(),
            st.ticket.face_value,
            "redeemable in round {redeem_in}"
        );
    }
}

#[test]
fn funding_needs_the_balance_and_a_refusal_moves_nothing() {
    let pool = pool();
    let mut b = broker_in_round_1(pool, Settlement::AllOrNothing);
    let s = pool.senders[0];
    let before = format!("{b:?}");
    assert_eq!(
        b.fund_deposit(s, (BALANCE + 1).into()),
        Err(Error::InsufficientBalance { account: s, balance: BALANCE.into(), needed: (BALANCE + 1).into() })
    );
    assert_eq!(before, format!("{b:?}"));
    b.fund_deposit_and_reserve(s, BALANCE.into(), 400_000.into(), 600_000.into()).unwrap();
    assert_eq!(b.store().balance(&s), U256::zero());
    assert_eq!(b.store().escrowed(), U256::from(BALANCE));
}
