//! Issue 18, items 10–16: each defect of the adversarial review reproduced through the
//! public API, kept as a regression test (given / when / then).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use common::*;
use micropool::*;
use primitives::{Address, Machine, SecretKey, Timestamp, U256};

fn submits(out: &[PayeeOutput]) -> Vec<ServicePayment> {
    out.iter()
        .filter_map(|o| match o {
            PayeeOutput::Submit(tx) => Some(tx.clone()),
            _ => None,
        })
        .collect()
}

/// A throwaway payee key, distinct for every `i`.
fn throwaway(i: u32) -> SecretKey {
    let mut b = [0x77u8; 32];
    b[..4].copy_from_slice(&(i + 1).to_be_bytes());
    SecretKey::from_bytes(b).unwrap()
}

// ---- item 10: free slot exhaustion ------------------------------------------------

#[test]
fn zero_amount_settlement_is_rejected() {
    let (mut store, cfg, v) = funded();
    let before = store.clone();
    assert_eq!(
        settle(&mut store, &cfg, 20, &pay(&v, 1, &key(5), 0, 1)),
        Err(Error::NothingToSettle { target: key(5).address(), amount: u(0) })
    );
    assert_eq!(store, before);
}

#[test]
fn viewer_filling_every_slot_with_dust_cannot_lock_out_an_honest_payee() {
    // Given a pool with 8 slots and deposit 100: the viewer settles dust cheques (one
    // base unit each) to throwaway addresses of its own.
    let cfg = PoolConfig { max_payees: 8, ..PoolConfig::default() };
    let v = key(1);
    let mut store = MemoryStore::with_balances([(v.address(), u(1000))]);
    reserve_fund(&mut store, &cfg, 10, &reserve_tx(&v, 1, 100, 150, 300)).unwrap();
    let unit = store.reserve(&v.address(), 1).unwrap().slot_unit;
    assert_eq!(unit, u(13), "ceil(100 / 8)");
    for i in 0..8 {
        let r = settle(&mut store, &cfg, 20, &pay(&v, 1, &throwaway(i), 1, 1));
        assert_eq!(r, Err(Error::BelowSlotUnit { amount: u(1), slot_unit: unit }));
    }
    // The viewer can open slots only by promising at least a slot unit each. It opens 6
    // (78 promised).
    for i in 0..6 {
        settle(&mut store, &cfg, 20, &pay(&v, 1, &throwaway(i), 13, 1)).unwrap();
    }
    // The honest payee's first cheque (an honest payer's is at least a slot unit) takes
    // a slot and is paid in full: 91 promised in all, within the deposit.
    let honest = key(2);
    assert_eq!(
        settle(&mut store, &cfg, 21, &pay(&v, 1, &honest, 9, 1)),
        Err(Error::BelowSlotUnit { amount: u(9), slot_unit: unit })
    );
    let r = settle(&mut store, &cfg, 21, &pay(&v, 1, &honest, 13, 1)).unwrap();
    assert_eq!((r.paid, r.shortfall, r.overspend_proven), (u(13), u(0), false));
    // An eighth slot of a unit would promise 104 > 100: the viewer can take it only by
    // overspending, which is slashed (the pool's 25 makes that payee whole).
    let r = settle(&mut store, &cfg, 22, &pay(&v, 1, &throwaway(6), 13, 1)).unwrap();
    assert!(r.overspend_proven);
    assert_eq!((r.paid, r.compensated), (u(13), u(4)));
    assert_eq!(store.reserve(&v.address(), 1).unwrap().transfers.len(), 8);
    assert_eq!(
        settle(&mut store, &cfg, 22, &pay(&v, 1, &throwaway(100), 13, 1)),
        Err(Error::TooManyPayees { max: 8 })
    );
    // The payees already in still settle their increases.
    assert_eq!(settle(&mut store, &cfg, 23, &pay(&v, 1, &honest, 14, 2)).unwrap().paid, u(1));
}

#[test]
fn a_full_record_met_by_a_valid_cheque_proves_the_overspend() {
    // Deposit 100, 4 slots of 25: four payees promised exactly the deposit.
    let cfg = PoolConfig { max_payees: 4, ..PoolConfig::default() };
    let v = key(1);
    let mut store = MemoryStore::with_balances([(v.address(), u(1000))]);
    reserve_fund(&mut store, &cfg, 10, &reserve_tx(&v, 1, 100, 150, 300)).unwrap();
    for i in 0..4 {
        let r = settle(&mut store, &cfg, 20, &pay(&v, 1, &throwaway(i), 25, 1)).unwrap();
        assert!(!r.overspend_proven);
    }
    // A fifth valid cheque means the source signed 125 against 100: slashed. That payee
    // gets no slot, so it cannot be paid (nothing would stop it settling twice).
    let before = store.clone();
    let r = settle(&mut store, &cfg, 21, &pay(&v, 1, &key(2), 25, 1)).unwrap();
    assert!(r.overspend_proven);
    assert_eq!((r.paid, r.shortfall, r.slashed), (u(0), u(25), u(125)));
    assert_eq!(store.total_supply() + r.burned, before.total_supply());
    let rec = store.reserve(&v.address(), 1).unwrap();
    assert!(rec.slashed && rec.transfer(&key(2).address()).is_none());
    assert_eq!(
        settle(&mut store, &cfg, 21, &pay(&v, 1, &key(2), 25, 1)),
        Err(Error::TooManyPayees { max: 4 })
    );
}

#[test]
fn honest_payer_first_cheque_covers_a_slot_unit() {
    let v = key(1);
    let cfg = PayerConfig {
        chain_id: CHAIN,
        reserve_seq: 1,
        deposit: u(100),
        slot_unit: u(13),
        expires_at: Timestamp(300_000),
    };
    let mut p = Payer::new(cfg, v, Timestamp(0), [0; 32]);
    let bob = key(2).address();
    for price in [1, 1, 20] {
        p.handle(Timestamp(1), PayerInput::ChunkReceived { peer: bob, resource_id: rid(), price: u(price) })
            .unwrap();
    }
    let amounts: Vec<U256> = drain(&mut p)
        .into_iter()
        .map(|o| match o {
            PayerOutput::Send { cheque, .. } => cheque.cheque.amount,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    // The first cheque is rounded up to the slot unit; later ones add the price.
    assert_eq!(amounts, vec![u(13), u(14), u(34)]);
    assert_eq!(p.signed_total(), u(34));
}

// ---- item 11: dropped settlements are resubmitted --------------------------------

#[test]
fn dropped_settlement_is_resubmitted_until_seen_on_chain_within_a_bound() {
    let (mut store, cfg, v) = funded();
    let bob = key(2);
    let mut pe = payee(bob.clone());
    pe.handle(Timestamp(0), handshake(&store, &v, 10)).unwrap();
    pe.handle(Timestamp(1), PayeeInput::Cheque(cheque(&v, 1, bob.address(), 25, 1))).unwrap();
    let first = submits(&drain(&mut pe));
    assert_eq!(first.len(), 1);
    // The settlement is dropped from the mempool. The payee wakes up to resubmit.
    let resend = payee_cfg().resubmit_after_ms;
    assert_eq!(pe.poll_timeout(), Some(Timestamp(1 + resend)));
    pe.handle(Timestamp(resend), PayeeInput::Timeout).unwrap();
    assert!(submits(&drain(&mut pe)).is_empty(), "too early");
    let mut sent = 1;
    let mut now = 1;
    while let Some(t) = pe.poll_timeout() {
        if t.0 > 200_000 {
            break;
        }
        now = t.0;
        pe.handle(t, PayeeInput::Timeout).unwrap();
        let again = submits(&drain(&mut pe));
        if !again.is_empty() {
            assert_eq!(again, first, "the same settlement, resent");
            sent += again.len();
        }
    }
    assert_eq!(sent, payee_cfg().max_submissions as usize, "resubmission is bounded");
    // The settlement finally lands and the host reports it: nothing more to resend.
    settle(&mut store, &cfg, 30, &first[0]).unwrap();
    assert!(now < 20_000);
    pe.handle(Timestamp(20_000), handshake(&store, &v, 30)).unwrap();
    drain(&mut pe);
    assert_eq!(pe.unsettled(&v.address(), 1), u(0));
    assert_eq!(pe.poll_timeout(), Some(Timestamp(300_000)), "only the session's closing remains");
}

#[test]
fn inclusion_report_stops_resubmission() {
    let (store, _, v) = funded();
    let bob = key(2);
    let mut pe = payee(bob.clone());
    pe.handle(Timestamp(0), handshake(&store, &v, 10)).unwrap();
    pe.handle(Timestamp(1), PayeeInput::Cheque(cheque(&v, 1, bob.address(), 25, 1))).unwrap();
    assert_eq!(submits(&drain(&mut pe)).len(), 1);
    pe.handle(Timestamp(2), PayeeInput::Settled { source: v.address(), reserve_seq: 1, payment_seq: 1 })
        .unwrap();
    assert_eq!(pe.unsettled(&v.address(), 1), u(0));
    pe.handle(Timestamp(1 + payee_cfg().resubmit_after_ms), PayeeInput::Timeout).unwrap();
    assert!(submits(&drain(&mut pe)).is_empty());
}

#[test]
fn a_newer_settlement_replaces_the_one_in_flight_and_a_late_older_one_still_counts() {
    let (store, _, v) = funded();
    let bob = key(2);
    let mut pe = payee(bob.clone());
    pe.handle(Timestamp(0), handshake(&store, &v, 10)).unwrap();
    pe.handle(Timestamp(1), PayeeInput::Cheque(cheque(&v, 1, bob.address(), 20, 1))).unwrap();
    assert_eq!(submits(&drain(&mut pe)).len(), 1);
    // Not yet seen on chain; a newer cheque 20 above it is submitted at once.
    pe.handle(Timestamp(2), PayeeInput::Cheque(cheque(&v, 1, bob.address(), 40, 2))).unwrap();
    let second = submits(&drain(&mut pe));
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].cheque.cheque.payment_seq, 2);
    // The older one lands first: it counts, and the newer stays in flight.
    pe.handle(Timestamp(3), PayeeInput::Settled { source: v.address(), reserve_seq: 1, payment_seq: 1 })
        .unwrap();
    assert_eq!(pe.unsettled(&v.address(), 1), u(20));
    assert_eq!(pe.poll_timeout(), Some(Timestamp(2 + payee_cfg().resubmit_after_ms)));
    pe.handle(Timestamp(2 + payee_cfg().resubmit_after_ms), PayeeInput::Timeout).unwrap();
    assert_eq!(submits(&drain(&mut pe)), second, "the newer one is resent");
    // A report of a settlement the payee never made is refused, changing nothing.
    assert_eq!(
        pe.handle(
            Timestamp(6_000),
            PayeeInput::Settled { source: v.address(), reserve_seq: 1, payment_seq: 3 }
        ),
        Err(Error::UnknownSettlement { payment_seq: 3, newest: 2 })
    );
    assert_eq!(pe.unsettled(&v.address(), 1), u(20));
}

// ---- item 12: the source cannot be its own reporter ------------------------------

#[test]
fn source_cannot_report_itself_or_pay_itself() {
    let (mut store, _, v) = funded();
    let cfg = PoolConfig { slash_to: SlashDestination::Reporter, ..PoolConfig::default() };
    let ev = vec![cheque(&v, 1, key(2).address(), 60, 1), cheque(&v, 1, key(3).address(), 60, 1)];
    let before = store.clone();
    assert_eq!(
        report_overspend(&mut store, &cfg, 20, &report(&v, ev.clone())),
        Err(Error::ReporterIsSource { source_addr: v.address() })
    );
    // Nor can the source settle a cheque to itself and collect the penalty as the payee
    // whose settlement proved the overspend.
    settle(&mut store, &cfg, 20, &pay(&v, 1, &key(2), 100, 1)).unwrap();
    assert_eq!(
        settle(&mut store, &cfg, 20, &pay(&v, 1, &v, 50, 1)),
        Err(Error::SelfPayment { source_addr: v.address() })
    );
    assert_eq!(store.balance(&v.address()), before.balance(&v.address()));
    // An independent reporter is paid.
    let r = report_overspend(&mut store, &cfg, 20, &report(&key(4), ev)).unwrap();
    assert!(r.overspend_proven);
}

#[test]
fn payee_machine_refuses_its_own_pool() {
    let (store, _, v) = funded();
    let mut pe = payee(v.clone());
    assert_eq!(
        pe.handle(Timestamp(0), handshake(&store, &v, 10)),
        Err(Error::SelfPayment { source_addr: v.address() })
    );
    assert_eq!(pe.sessions(), 0);
    assert!(drain(&mut pe).is_empty());
}

// ---- item 13: a payee that learns of a slash settles at once ---------------------

#[test]
fn payee_settles_at_once_when_it_sees_the_reserve_slashed() {
    let (mut store, cfg, v) = funded();
    let bob = key(2);
    let mut pe = payee(bob.clone());
    pe.handle(Timestamp(0), handshake(&store, &v, 10)).unwrap();
    // 15 unsettled, below the threshold of 20: normally Bob would keep serving.
    pe.handle(Timestamp(1), PayeeInput::Cheque(cheque(&v, 1, bob.address(), 15, 1))).unwrap();
    assert!(submits(&drain(&mut pe)).is_empty());
    // Someone reports an overspend; the deposit is still there.
    let ev = vec![cheque(&v, 1, key(3).address(), 60, 1), cheque(&v, 1, key(4).address(), 60, 1)];
    report_overspend(&mut store, &cfg, 20, &report(&key(5), ev)).unwrap();
    pe.handle(Timestamp(2), handshake(&store, &v, 20)).unwrap();
    let out = submits(&drain(&mut pe));
    assert_eq!(out.len(), 1, "settle before other payees drain the deposit");
    assert_eq!(settle(&mut store, &cfg, 21, &out[0]).unwrap().paid, u(15));
}

#[test]
fn payee_settles_at_once_when_told_of_an_overspend() {
    let (store, _, v) = funded();
    let bob = key(2);
    let mut pe = payee(bob.clone());
    pe.handle(Timestamp(0), handshake(&store, &v, 10)).unwrap();
    pe.handle(Timestamp(1), PayeeInput::Cheque(cheque(&v, 1, bob.address(), 15, 1))).unwrap();
    assert!(submits(&drain(&mut pe)).is_empty());
    pe.handle(Timestamp(2), PayeeInput::OverspendSeen { source: v.address(), reserve_seq: 1 }).unwrap();
    let out = submits(&drain(&mut pe));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].cheque.cheque.amount, u(15));
    // And it stops serving.
    assert!(matches!(
        request_chunk(&mut pe, 3, &v)[..],
        [PayeeOutput::Event(PayeeEvent::Refuse { reason: Error::AlreadySlashed { .. }, .. })]
    ));
}

// ---- item 14: a verified payment is bound to its chain ---------------------------

#[test]
fn verified_payment_is_bound_to_the_chain_it_was_verified_for() {
    let (mut store, _, v) = funded();
    let other_chain = PoolConfig { chain_id: 2, ..PoolConfig::default() };
    let verified = Verified::payment(pay(&v, 1, &key(2), 30, 1), CHAIN).unwrap();
    assert_eq!(verified.chain_id(), CHAIN);
    let before = store.clone();
    assert_eq!(
        settle_verified(&mut store, &other_chain, 20, &verified),
        Err(Error::ChainMismatch { verified_for: CHAIN, chain_id: 2 })
    );
    assert_eq!(store, before);
}

// ---- item 15: slashed collateral makes shorted payees whole first ----------------

#[test]
fn slashed_collateral_pays_the_shorted_payee_before_it_is_burned() {
    let (mut store, cfg, v) = funded();
    let (colluder, honest) = (key(2), key(3));
    settle(&mut store, &cfg, 20, &pay(&v, 1, &colluder, 90, 1)).unwrap();
    // Deposit 100, collateral 150: 10 left for the honest payee's 20.
    let r = settle(&mut store, &cfg, 21, &pay(&v, 1, &honest, 20, 1)).unwrap();
    assert!(r.overspend_proven);
    assert_eq!((r.paid, r.compensated, r.shortfall), (u(20), u(10), u(0)));
    assert_eq!(store.balance(&honest.address()), u(20));
    // The compensation pool is half the collateral's excess over the deposit: 25.
    assert_eq!(r.slashed, u(150 - 25));
    let rec = store.reserve(&v.address(), 1).unwrap();
    assert_eq!(rec.collateral, u(15));
    // The source never recovers collateral: the rest is burned at release.
    let r = release_fund(&mut store, &cfg, 315, &release(&v, v.address(), 1)).unwrap();
    assert_eq!((r.paid, r.burned), (u(0), u(15)));
    assert_eq!(store.balance(&v.address()), u(750));
}

// ---- item 16: sessions end, and a restarted payer resumes ------------------------

#[test]
fn payee_session_is_pruned_after_the_reserve_ends_and_its_settlement_lands() {
    let (mut store, cfg, v) = funded();
    let bob = key(2);
    let mut pe = payee(bob.clone());
    pe.handle(Timestamp(0), handshake(&store, &v, 10)).unwrap();
    pe.handle(Timestamp(1), PayeeInput::Cheque(cheque(&v, 1, bob.address(), 15, 1))).unwrap();
    drain(&mut pe);
    pe.handle(Timestamp(290_000), PayeeInput::Timeout).unwrap();
    let tx = submits(&drain(&mut pe));
    settle(&mut store, &cfg, 300, &tx[0]).unwrap();
    pe.handle(
        Timestamp(290_500),
        PayeeInput::Settled { source: v.address(), reserve_seq: 1, payment_seq: 1 },
    )
    .unwrap();
    drain(&mut pe);
    assert_eq!(pe.sessions(), 1);
    assert_eq!(pe.poll_timeout(), Some(Timestamp(300_000)));
    pe.handle(Timestamp(300_000), PayeeInput::Timeout).unwrap();
    assert_eq!(
        drain(&mut pe),
        vec![PayeeOutput::Event(PayeeEvent::SessionClosed {
            source: v.address(),
            reserve_seq: 1,
            settled: u(15),
            unsettled: u(0),
        })]
    );
    assert_eq!(pe.sessions(), 0);
    assert!(pe.newest_cheque(&v.address(), 1).is_none());
    assert_eq!(pe.poll_timeout(), None);
}

#[test]
fn restarted_payer_resumes_its_cheque_sequences_without_overspending() {
    let v = key(1);
    let cfg = PayerConfig {
        chain_id: CHAIN,
        reserve_seq: 1,
        deposit: u(100),
        slot_unit: u(1),
        expires_at: Timestamp(300_000),
    };
    let (bob, carol) = (key(2).address(), key(3).address());
    let mut p = Payer::new(cfg.clone(), v.clone(), Timestamp(0), [0; 32]);
    for (peer, price) in [(bob, 30), (carol, 40), (bob, 10)] {
        p.handle(Timestamp(1), PayerInput::ChunkReceived { peer, resource_id: rid(), price: u(price) })
            .unwrap();
    }
    drain(&mut p);
    let saved = p.state();
    assert_eq!(saved.signed, u(80));
    assert_eq!(saved.peers, BTreeMap::from([(bob, (2, u(40))), (carol, (1, u(40)))]));
    drop(p);

    // The host stores it as canonical bytes.
    let bytes = saved.encode();
    assert_eq!(PayerState::decode(&bytes).unwrap(), saved);
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(PayerState::decode(&trailing), Err(Error::Decode { .. })));
    assert!(matches!(PayerState::decode(&vec![0u8; MAX_PAYER_STATE_BYTES + 1]), Err(Error::Decode { .. })));
    // Peers out of order (or repeated) do not decode: one peer, one sequence.
    let mut unsorted = primitives::rlp::RlpStream::new_list(5);
    unsorted.append(&CHAIN).append(&v.address()).append(&1u64).append(&u(80));
    unsorted.begin_list(2);
    for (peer, seq, amount) in [(carol.max(bob), 1u64, u(40)), (carol.min(bob), 2, u(40))] {
        unsorted.begin_list(3).append(&peer).append(&seq).append(&amount);
    }
    assert!(matches!(PayerState::decode(&unsorted.out()), Err(Error::Decode { .. })));

    // A fresh machine would restart every sequence at 1 (refused by payees) and forget
    // the 80 already signed (overspending). The resumed one continues.
    let mut p =
        Payer::resume(cfg.clone(), v.clone(), Timestamp(2), [0; 32], PayerState::decode(&bytes).unwrap())
            .unwrap();
    p.handle(Timestamp(2), PayerInput::ChunkReceived { peer: bob, resource_id: rid(), price: u(5) }).unwrap();
    let Some(PayerOutput::Send { cheque, .. }) = p.poll_output() else { panic!() };
    assert_eq!((cheque.cheque.payment_seq, cheque.cheque.amount), (3, u(45)));
    assert_eq!(
        p.handle(Timestamp(2), PayerInput::ChunkReceived { peer: carol, resource_id: rid(), price: u(16) }),
        Err(Error::WouldExceedDeposit { signed: u(85), price: u(16), deposit: u(100) })
    );

    // A saved state that does not add up is refused.
    let mut bad = saved.clone();
    bad.signed = u(79);
    assert_eq!(
        Payer::resume(cfg.clone(), v.clone(), Timestamp(2), [0; 32], bad).err(),
        Some(Error::InconsistentPayerState { signed: u(79), sum: u(80) })
    );
    let mut over = saved;
    over.peers.insert(Address::repeat_byte(9), (1, u(30)));
    over.signed = u(110);
    assert_eq!(
        Payer::resume(cfg, v, Timestamp(2), [0; 32], over).err(),
        Some(Error::WouldExceedDeposit { signed: u(110), price: U256::zero(), deposit: u(100) })
    );
}

// ---- review: the slot rule across a configuration change ----------------------------

#[test]
fn lowering_max_payees_after_the_reserve_does_not_lock_out_an_honest_payee() {
    // Given a reserve made under 4 slots (deposit 100, slot unit 25) ...
    let made_under = PoolConfig { max_payees: 4, ..PoolConfig::default() };
    let v = key(1);
    let mut store = MemoryStore::with_balances([(v.address(), u(1000))]);
    reserve_fund(&mut store, &made_under, 10, &reserve_tx(&v, 1, 100, 150, 300)).unwrap();
    assert_eq!(store.reserve(&v.address(), 1).unwrap().slot_unit, u(25));
    // ... and a chain that later lowers the limit to 2 slots per record.
    let now = PoolConfig { max_payees: 2, ..made_under.clone() };
    for i in 0..2 {
        settle(&mut store, &now, 20, &pay(&v, 1, &throwaway(i), 25, 1)).unwrap();
    }
    // When a third payee settles a valid cheque (75 promised in all, within the deposit),
    // then it is paid in full: the record keeps the slots its slot unit promised.
    let honest = key(2);
    let r = settle(&mut store, &now, 21, &pay(&v, 1, &honest, 25, 1)).unwrap();
    assert_eq!((r.paid, r.shortfall, r.overspend_proven), (u(25), u(0), false));
    let r = settle(&mut store, &now, 21, &pay(&v, 1, &throwaway(2), 25, 1)).unwrap();
    assert_eq!((r.paid, r.overspend_proven), (u(25), false));
    // A fifth valid cheque (125 against 100) still proves the overspend.
    let r = settle(&mut store, &now, 22, &pay(&v, 1, &throwaway(3), 25, 1)).unwrap();
    assert!(r.overspend_proven);
    assert_eq!(store.reserve(&v.address(), 1).unwrap().transfers.len(), 4);
}

#[test]
fn raising_max_payees_after_the_reserve_keeps_the_slot_unit_of_the_record() {
    // A reserve made under 4 slots keeps its unit of 25 when the chain allows 100 slots:
    // dust still cannot take a slot, so slots still cannot run out before the deposit.
    let made_under = PoolConfig { max_payees: 4, ..PoolConfig::default() };
    let v = key(1);
    let mut store = MemoryStore::with_balances([(v.address(), u(1000))]);
    reserve_fund(&mut store, &made_under, 10, &reserve_tx(&v, 1, 100, 150, 300)).unwrap();
    let now = PoolConfig { max_payees: 100, ..made_under };
    assert_eq!(
        settle(&mut store, &now, 20, &pay(&v, 1, &throwaway(0), 1, 1)),
        Err(Error::BelowSlotUnit { amount: u(1), slot_unit: u(25) })
    );
}

// ---- review: a saved payer state belongs to one reserve -----------------------------

#[test]
fn payer_state_of_another_reserve_is_refused_at_resume() {
    // Given a viewer with two reserves on one chain: reserve 1 has signed 90 of its 100,
    // reserve 2 has signed 10.
    let v = key(1);
    let cfg = |reserve_seq| PayerConfig {
        chain_id: CHAIN,
        reserve_seq,
        deposit: u(100),
        slot_unit: u(1),
        expires_at: Timestamp(300_000),
    };
    let (bob, carol) = (key(2).address(), key(3).address());
    let mut p1 = Payer::new(cfg(1), v.clone(), Timestamp(0), [0; 32]);
    p1.handle(Timestamp(1), PayerInput::ChunkReceived { peer: bob, resource_id: rid(), price: u(90) })
        .unwrap();
    let mut p2 = Payer::new(cfg(2), v.clone(), Timestamp(0), [0; 32]);
    p2.handle(Timestamp(1), PayerInput::ChunkReceived { peer: bob, resource_id: rid(), price: u(10) })
        .unwrap();
    let (s1, s2) = (p1.state(), p2.state());
    drop((p1, p2));
    // When the host mixes up the saved states at restart, then the resume is refused: the
    // payer of reserve 1 would otherwise believe it had signed 10 and sign 90 more
    // (180 against 100, slashed).
    let mismatch = |chain_id, source_addr, reserve_seq, saved: &PayerState| {
        Some(Error::PayerStateOfAnotherReserve {
            saved_chain_id: saved.chain_id,
            saved_source: saved.source,
            saved_reserve_seq: saved.reserve_seq,
            chain_id,
            source_addr,
            reserve_seq,
        })
    };
    assert_eq!((s2.chain_id, s2.source, s2.reserve_seq), (CHAIN, v.address(), 2));
    assert_eq!(
        Payer::resume(cfg(1), v.clone(), Timestamp(2), [0; 32], s2.clone()).err(),
        mismatch(CHAIN, v.address(), 1, &s2),
        "reserve 2's state resumed a payer of reserve 1"
    );
    // Nor does it resume under another chain id or another signer.
    let other_chain = PayerConfig { chain_id: CHAIN + 1, ..cfg(1) };
    assert_eq!(
        Payer::resume(other_chain, v.clone(), Timestamp(2), [0; 32], s1.clone()).err(),
        mismatch(CHAIN + 1, v.address(), 1, &s1)
    );
    assert_eq!(
        Payer::resume(cfg(1), key(9), Timestamp(2), [0; 32], s1.clone()).err(),
        mismatch(CHAIN, key(9).address(), 1, &s1)
    );
    // Its own state resumes, also through the stored bytes.
    let mut p =
        Payer::resume(cfg(1), v, Timestamp(2), [0; 32], PayerState::decode(&s1.encode()).unwrap()).unwrap();
    assert!(
        p.handle(Timestamp(2), PayerInput::ChunkReceived { peer: carol, resource_id: rid(), price: u(11) })
            .is_err()
    );
}

// ---- review: the payee machine and the slot unit -----------------------------------

#[test]
fn payee_refuses_a_first_cheque_it_could_never_settle() {
    // Given a reserve whose slot unit is 25 (deposit 100 under 4 slots) ...
    let cfg = PoolConfig { max_payees: 4, ..PoolConfig::default() };
    let v = key(1);
    let mut store = MemoryStore::with_balances([(v.address(), u(1000))]);
    reserve_fund(&mut store, &cfg, 10, &reserve_tx(&v, 1, 100, 150, 300)).unwrap();
    let bob = key(2);
    let mut pe = payee(bob.clone());
    pe.handle(Timestamp(0), handshake(&store, &v, 10)).unwrap();
    drain(&mut pe);
    // ... when the viewer pays with a first cheque of 10, which the chain refuses
    // (BelowSlotUnit) and an honest payer never signs (it rounds up to the unit) ...
    let low = cheque(&v, 1, bob.address(), 10, 1);
    assert_eq!(
        settle(&mut store, &cfg, 20, &ServicePayment::countersign(low.clone(), u(0), &bob, CHAIN)),
        Err(Error::BelowSlotUnit { amount: u(10), slot_unit: u(25) })
    );
    // ... then the payee refuses it rather than counting it as payment.
    assert_eq!(
        pe.handle(Timestamp(1), PayeeInput::Cheque(low)),
        Err(Error::BelowSlotUnit { amount: u(10), slot_unit: u(25) })
    );
    assert!(pe.newest_cheque(&v.address(), 1).is_none());
    // A first cheque of the unit is kept; later increments of any size are too.
    pe.handle(Timestamp(2), PayeeInput::Cheque(cheque(&v, 1, bob.address(), 25, 2))).unwrap();
    pe.handle(Timestamp(3), PayeeInput::Cheque(cheque(&v, 1, bob.address(), 26, 3))).unwrap();
    assert_eq!(pe.newest_cheque(&v.address(), 1).unwrap().cheque.amount, u(26));
}

#[test]
fn payee_without_a_slot_refuses_a_pool_that_cannot_pay_it_a_slot_unit() {
    // Given a reserve of 100 with a slot unit of 25 (4 slots) whose settled cheques
    // promise 88: 12 is left, above the payee's min_remaining (10) but below the unit.
    let cfg = PoolConfig { max_payees: 4, ..PoolConfig::default() };
    let v = key(1);
    let mut store = MemoryStore::with_balances([(v.address(), u(1000))]);
    reserve_fund(&mut store, &cfg, 10, &reserve_tx(&v, 1, 100, 150, 300)).unwrap();
    for (i, amount) in [25, 25, 38].into_iter().enumerate() {
        settle(&mut store, &cfg, 20, &pay(&v, 1, &throwaway(i as u32), amount, 1)).unwrap();
    }
    // Any cheque the source could sign a newcomer (at least a unit) overspends: the chain
    // would slash and pay it at most 12, and an honest payer cannot sign it at all.
    let mut pe = payee(key(2));
    assert_eq!(
        pe.handle(Timestamp(0), handshake(&store, &v, 21)),
        Err(Error::InsufficientRemaining { remaining: u(12), required: u(25) })
    );
    assert_eq!(pe.sessions(), 0);
    // A payee that already holds a slot keeps its session (its increments need no unit).
    let mut holder = payee(throwaway(2));
    holder.handle(Timestamp(0), handshake(&store, &v, 21)).unwrap();
    assert_eq!(holder.sessions(), 1);
}

#[test]
fn tiny_cheques_while_a_settlement_is_in_flight_do_not_each_cost_the_payee_a_fee() {
    // Given a payee with a settlement of 20 in flight (threshold 20) ...
    let (store, _, v) = funded();
    let bob = key(2);
    let mut pe = payee(bob.clone());
    pe.handle(Timestamp(0), handshake(&store, &v, 10)).unwrap();
    pe.handle(Timestamp(1), PayeeInput::Cheque(cheque(&v, 1, bob.address(), 20, 1))).unwrap();
    assert_eq!(submits(&drain(&mut pe)).len(), 1);
    // ... when the viewer sends cheques one base unit apart before it lands (each costs
    // the viewer 1; each settlement transaction would cost the payee a fee) ...
    let mut submitted = 0;
    for t in 1..=19u64 {
        pe.handle(Timestamp(1 + t), PayeeInput::Cheque(cheque(&v, 1, bob.address(), 20 + t, 1 + t))).unwrap();
        submitted += submits(&drain(&mut pe)).len();
    }
    // ... then none is submitted while the one in flight may still land: a replacement
    // goes out once it adds a settle threshold (20) over the one in flight.
    assert_eq!(submitted, 0, "one settlement transaction per base unit paid");
    pe.handle(Timestamp(30), PayeeInput::Cheque(cheque(&v, 1, bob.address(), 40, 21))).unwrap();
    let out = submits(&drain(&mut pe));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].cheque.cheque.amount, u(40));
    // A small increase waits for the one in flight: once it lands, the newest goes out
    // at the settlement window before the end (it is not lost).
    pe.handle(Timestamp(31), PayeeInput::Cheque(cheque(&v, 1, bob.address(), 41, 22))).unwrap();
    assert!(submits(&drain(&mut pe)).is_empty());
    pe.handle(Timestamp(32), PayeeInput::Settled { source: v.address(), reserve_seq: 1, payment_seq: 21 })
        .unwrap();
    assert_eq!(pe.unsettled(&v.address(), 1), u(1));
    let at = pe.poll_timeout().unwrap();
    assert_eq!(at, Timestamp(290_000), "woken at the settlement window");
    pe.handle(at, PayeeInput::Timeout).unwrap();
    let last = submits(&drain(&mut pe));
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].cheque.cheque.amount, u(41));
}
