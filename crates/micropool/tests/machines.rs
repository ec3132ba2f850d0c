//! The payer and payee machines, driven by hand (given / when / then).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use common::*;
use micropool::*;
use primitives::{Address, H256, Machine, SecretKey, Timestamp};

fn payer(v: SecretKey) -> Payer<SecretKey> {
    let cfg = PayerConfig {
        chain_id: CHAIN,
        reserve_seq: 1,
        deposit: u(100),
        slot_unit: u(1),
        expires_at: Timestamp(300_000),
    };
    Payer::new(cfg, v, Timestamp(0), [0; 32])
}

#[test]
fn payer_issues_cumulative_cheques_per_peer_and_never_exceeds_the_deposit() {
    let v = key(1);
    let mut p = payer(v.clone());
    let (bob, carol) = (key(2).address(), key(3).address());
    for (peer, price) in [(bob, 10), (carol, 20), (bob, 15)] {
        p.handle(Timestamp(1), PayerInput::ChunkReceived { peer, resource_id: rid(), price: u(price) })
            .unwrap();
    }
    let sent: Vec<_> = drain(&mut p)
        .into_iter()
        .map(|o| match o {
            PayerOutput::Send { to, cheque } => {
                cheque.verify(CHAIN).unwrap();
                (to, cheque.cheque.amount, cheque.cheque.payment_seq)
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(sent, vec![(bob, u(10), 1), (carol, u(20), 1), (bob, u(25), 2)]);
    assert_eq!(p.signed_total(), u(45));
    assert_eq!(p.owed_to(&bob), u(25));
    let err =
        p.handle(Timestamp(2), PayerInput::ChunkReceived { peer: carol, resource_id: rid(), price: u(56) });
    assert_eq!(err, Err(Error::WouldExceedDeposit { signed: u(45), price: u(56), deposit: u(100) }));
    assert!(drain(&mut p).is_empty());
    p.handle(Timestamp(2), PayerInput::ChunkReceived { peer: carol, resource_id: rid(), price: u(55) })
        .unwrap();
    assert_eq!(p.signed_total(), u(100));
}

#[test]
fn payer_stops_at_expiry() {
    let mut p = payer(key(1));
    assert_eq!(p.poll_timeout(), Some(Timestamp(300_000)));
    p.handle(Timestamp(300_000), PayerInput::Timeout).unwrap();
    assert_eq!(drain(&mut p), vec![PayerOutput::Event(PayerEvent::Expired)]);
    assert_eq!(p.poll_timeout(), None);
    let err = p.handle(
        Timestamp(300_001),
        PayerInput::ChunkReceived { peer: Address::zero(), resource_id: rid(), price: u(1) },
    );
    assert_eq!(err, Err(Error::PayerExpired { expired_at: Timestamp(300_000) }));
}

#[test]
fn payee_verifies_the_pool_serves_within_its_exposure_and_settles() {
    let (mut store, cfg, v) = funded();
    let bob = key(2);
    let mut pe = payee(bob.clone());
    let mut pr = payer(v.clone());
    pe.handle(Timestamp(0), handshake(&store, &v, 20)).unwrap();
    assert_eq!(
        drain(&mut pe),
        vec![PayeeOutput::Event(PayeeEvent::PoolVerified {
            source: v.address(),
            reserve_seq: 1,
            remaining: u(100),
            end_height: 310
        })]
    );
    let req = |price| PayeeInput::ChunkRequest {
        source: v.address(),
        reserve_seq: 1,
        resource_id: rid(),
        price: u(price),
    };
    let mut submitted = Vec::new();
    for i in 0..3u64 {
        pe.handle(Timestamp(i), req(8)).unwrap();
        assert_eq!(
            drain(&mut pe),
            vec![PayeeOutput::Event(PayeeEvent::Serve { source: v.address(), price: u(8) })]
        );
        pr.handle(
            Timestamp(i),
            PayerInput::ChunkReceived { peer: bob.address(), resource_id: rid(), price: u(8) },
        )
        .unwrap();
        let Some(PayerOutput::Send { cheque, .. }) = pr.poll_output() else { panic!() };
        pe.handle(Timestamp(i), PayeeInput::Cheque(cheque)).unwrap();
        for o in drain(&mut pe) {
            if let PayeeOutput::Submit(tx) = o {
                submitted.push(tx);
            }
        }
    }
    // 24 unsettled >= threshold 20: settled once, on the third cheque.
    assert_eq!(submitted.len(), 1);
    assert_eq!(submitted[0].cheque.cheque.amount, u(24));
    // Exposure 24 + 8 would exceed the credit limit 30 until the settlement lands.
    pe.handle(Timestamp(5), req(8)).unwrap();
    assert!(matches!(
        drain(&mut pe)[..],
        [PayeeOutput::Event(PayeeEvent::Refuse { reason: Error::ExposureExceeded { .. }, .. })]
    ));
    settle(&mut store, &cfg, 25, &submitted[0]).unwrap();
    pe.handle(Timestamp(6), handshake(&store, &v, 25)).unwrap();
    assert_eq!(pe.unsettled(&v.address(), 1), u(0));
    drain(&mut pe);
    pe.handle(Timestamp(7), req(8)).unwrap();
    assert!(matches!(drain(&mut pe)[..], [PayeeOutput::Event(PayeeEvent::Serve { .. })]));
}

#[test]
fn payee_settles_what_is_left_before_expiry() {
    let (store, _, v) = funded();
    let bob = key(2);
    let mut pe = payee(bob.clone());
    pe.handle(Timestamp(0), handshake(&store, &v, 10)).unwrap();
    pe.handle(Timestamp(1), PayeeInput::Cheque(cheque(&v, 1, bob.address(), 5, 1))).unwrap();
    drain(&mut pe);
    // End height 310 is 300 blocks (300 s) away; settle 10 blocks before.
    assert_eq!(pe.poll_timeout(), Some(Timestamp(290_000)));
    pe.handle(Timestamp(289_999), PayeeInput::Timeout).unwrap();
    assert!(drain(&mut pe).is_empty());
    pe.handle(Timestamp(290_000), PayeeInput::Timeout).unwrap();
    let out = drain(&mut pe);
    assert!(matches!(&out[..], [PayeeOutput::Submit(tx)] if tx.cheque.cheque.amount == u(5)));
    // Nothing more to settle; only the resubmission of the one in flight is armed.
    assert_eq!(pe.poll_timeout(), Some(Timestamp(290_000 + payee_cfg().resubmit_after_ms)));
    // Too close to the end to serve more.
    assert!(matches!(
        request_chunk(&mut pe, 290_001, &v)[..],
        [PayeeOutput::Event(PayeeEvent::Refuse { reason: Error::ReserveExpired { .. }, .. })]
    ));
}

#[test]
fn payee_rejects_bad_cheques_and_keeps_only_the_newest() {
    let (store, _, v) = funded();
    let bob = key(2);
    let mut pe = payee(bob.clone());
    let c1 = cheque(&v, 1, bob.address(), 5, 1);
    assert_eq!(
        pe.handle(Timestamp(0), PayeeInput::Cheque(c1.clone())),
        Err(Error::NoVerifiedPool { source_addr: v.address(), reserve_seq: 1 })
    );
    pe.handle(Timestamp(0), handshake(&store, &v, 10)).unwrap();
    assert_eq!(
        pe.handle(Timestamp(0), PayeeInput::Cheque(cheque(&v, 1, key(3).address(), 5, 1))),
        Err(Error::WrongTarget { target: key(3).address(), me: bob.address() })
    );
    pe.handle(Timestamp(0), PayeeInput::Cheque(cheque(&v, 1, bob.address(), 9, 3))).unwrap();
    assert_eq!(
        pe.handle(Timestamp(0), PayeeInput::Cheque(c1)),
        Err(Error::StalePaymentSeq { target: bob.address(), last: 3, got: 1 })
    );
    assert_eq!(
        pe.handle(Timestamp(0), PayeeInput::Cheque(cheque(&v, 1, bob.address(), 8, 4))),
        Err(Error::CumulativeAmountDecreased { target: bob.address(), previous: u(9), amount: u(8) })
    );
    let forged = Cheque { source: v.address(), ..cheque(&key(7), 1, bob.address(), 10, 4).cheque }
        .sign(&key(7), CHAIN);
    assert!(matches!(pe.handle(Timestamp(0), PayeeInput::Cheque(forged)), Err(Error::WrongSigner { .. })));
    assert_eq!(pe.newest_cheque(&v.address(), 1).unwrap().cheque.amount, u(9));
    assert!(matches!(
        pe.handle(Timestamp(400_000), PayeeInput::Cheque(cheque(&v, 1, bob.address(), 10, 4))),
        Err(Error::ReserveExpired { .. })
    ));
}

#[test]
fn payee_handshake_rejects_missing_forged_short_or_slashed_pools() {
    let (mut store, cfg, v) = funded();
    let mut pe = payee(key(2));
    let (root, proof) = state_proof(&store);
    let hs = |seq, root, proof: &Vec<Vec<u8>>, height| PayeeInput::Handshake {
        source: v.address(),
        reserve_seq: seq,
        state_root: root,
        height,
        proof: proof.clone(),
    };
    assert_eq!(
        pe.handle(Timestamp(0), hs(2, root, &proof, 10)),
        Err(Error::PoolAbsent { state_root: root, source_addr: v.address(), reserve_seq: 2 })
    );
    assert!(matches!(pe.handle(Timestamp(0), hs(1, H256::zero(), &proof, 10)), Err(Error::Proof(_))));
    assert_eq!(
        pe.handle(Timestamp(0), hs(1, root, &proof, 311)),
        Err(Error::ReserveExpired { end_height: 310, height: 311 })
    );
    // A state whose key for reserve 1 holds another reserve's record.
    let mut other = store.reserve(&v.address(), 1).unwrap();
    other.reserve_seq = 9;
    let state = BTreeMap::from([(reserve_key(&v.address(), 1).as_bytes().to_vec(), other.encode())]);
    let (r2, p2) = ToyStateProof::commit(&state);
    assert_eq!(pe.handle(Timestamp(0), hs(1, r2, &p2, 10)), Err(Error::RecordMismatch));
    // Deposit drained below the payee's minimum.
    settle(&mut store, &cfg, 20, &pay(&v, 1, &key(3), 95, 1)).unwrap();
    let (root, proof) = state_proof(&store);
    assert_eq!(
        pe.handle(Timestamp(0), hs(1, root, &proof, 20)),
        Err(Error::InsufficientRemaining { remaining: u(5), required: u(10) })
    );
    settle(&mut store, &cfg, 20, &pay(&v, 1, &key(4), 50, 1)).unwrap();
    let (root, proof) = state_proof(&store);
    assert_eq!(
        pe.handle(Timestamp(0), hs(1, root, &proof, 20)),
        Err(Error::AlreadySlashed { source_addr: v.address(), reserve_seq: 1 })
    );
}

#[test]
fn identical_inputs_give_identical_outputs() {
    let run = || {
        let (store, _, v) = funded();
        let mut pr = payer(v.clone());
        let mut pe = payee(key(2));
        let mut log = Vec::new();
        pe.handle(Timestamp(0), handshake(&store, &v, 10)).unwrap();
        for i in 0..6u64 {
            let _ = pe.handle(
                Timestamp(i),
                PayeeInput::ChunkRequest {
                    source: v.address(),
                    reserve_seq: 1,
                    resource_id: rid(),
                    price: u(7),
                },
            );
            let _ = pr.handle(
                Timestamp(i),
                PayerInput::ChunkReceived { peer: key(2).address(), resource_id: rid(), price: u(7) },
            );
            while let Some(PayerOutput::Send { cheque, .. }) = pr.poll_output() {
                let _ = pe.handle(Timestamp(i), PayeeInput::Cheque(cheque));
            }
            log.extend(drain(&mut pe));
        }
        pe.handle(Timestamp(290_000), PayeeInput::Timeout).unwrap();
        log.extend(drain(&mut pe));
        log
    };
    let a = run();
    assert!(a.iter().any(|o| matches!(o, PayeeOutput::Submit(_))));
    assert_eq!(a, run());
}

#[test]
fn refresh_showing_a_drained_pool_settles_at_once_and_stops_serving() {
    let (mut store, cfg, v) = funded();
    let bob = key(2);
    let mut pe = payee(bob.clone());
    pe.handle(Timestamp(0), handshake(&store, &v, 10)).unwrap();
    pe.handle(Timestamp(1), PayeeInput::Cheque(cheque(&v, 1, bob.address(), 8, 1))).unwrap();
    drain(&mut pe);
    // Someone else drains the deposit; Bob's refresh shows 5 left for his 8 unsettled.
    settle(&mut store, &cfg, 20, &pay(&v, 1, &key(3), 95, 1)).unwrap();
    pe.handle(Timestamp(2), handshake(&store, &v, 20)).unwrap();
    let out = drain(&mut pe);
    let Some(PayeeOutput::Submit(tx)) = out.last() else { panic!("no settlement in {out:?}") };
    let r = settle(&mut store, &cfg, 21, tx).unwrap();
    // 5 from the deposit, 3 from the compensation pool of the slashed collateral.
    assert_eq!((r.paid, r.compensated, r.shortfall, r.overspend_proven), (u(8), u(3), u(0), true));
    pe.handle(Timestamp(3), handshake(&store, &v, 21)).unwrap();
    drain(&mut pe);
    assert!(matches!(
        request_chunk(&mut pe, 4, &v)[..],
        [PayeeOutput::Event(PayeeEvent::Refuse { reason: Error::AlreadySlashed { .. }, .. })]
    ));
}
