//! One test per pool rule and per error (given / when / then).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use micropool::*;
use primitives::U256;

#[test]
fn reserve_locks_deposit_and_collateral() {
    let (store, _, viewer) = funded();
    assert_eq!(store.balance(&viewer.address()), u(750));
    let r = store.reserve(&viewer.address(), 1).unwrap();
    assert_eq!((r.deposit, r.collateral, r.used, r.end_height), (u(100), u(150), u(0), 310));
    assert_eq!(store.total_supply(), u(1000));
    assert_eq!(store.last_reserve_seq(&viewer.address()), 1);
}

#[test]
fn reserve_rejects_each_bad_parameter() {
    let cfg = PoolConfig { min_fee: u(1), ..PoolConfig::default() };
    let v = key(1);
    let mut store = MemoryStore::with_balances([(v.address(), u(1000))]);
    let with = |f: &dyn Fn(&mut ReserveFund)| {
        let mut t = reserve_tx(&v, 1, 100, 150, 300);
        t.fee = u(1);
        f(&mut t);
        t.signed(&v, CHAIN)
    };
    let cases: Vec<(ReserveFund, Error)> = vec![
        (with(&|t| t.fee = u(0)), Error::FeeTooLow { fee: u(0), min: u(1) }),
        (with(&|t| t.deposit = u(0)), Error::ZeroDeposit),
        (
            with(&|t| t.collateral = u(100)),
            Error::CollateralNotAboveDeposit { deposit: u(100), collateral: u(100) },
        ),
        (with(&|t| t.duration = 299), Error::DurationOutOfRange { duration: 299, min: 300, max: 43_200 }),
        (
            with(&|t| t.duration = 43_201),
            Error::DurationOutOfRange { duration: 43_201, min: 300, max: 43_200 },
        ),
        (with(&|t| t.resource_ids.clear()), Error::NoResourceIds),
        (with(&|t| t.resource_ids.push(rid())), Error::DuplicateResourceId { resource_id: rid() }),
        (
            with(&|t| t.resource_ids = (0..65).map(|i| resource_id(&i.to_string())).collect()),
            Error::TooMany { what: "resource ids", count: 65, max: 64 },
        ),
        (
            with(&|t| t.collateral = u(1000)),
            Error::InsufficientBalance { who: v.address(), needed: u(1101), available: u(1000) },
        ),
        (
            with(&|t| {
                t.deposit = U256::MAX - 1;
                t.collateral = U256::MAX;
            }),
            Error::Overflow { what: "reserve total" },
        ),
    ];
    for (tx, want) in cases {
        assert_eq!(reserve_fund(&mut store, &cfg, 10, &tx), Err(want));
    }
    // Nothing was written by any failed attempt.
    assert_eq!(store, MemoryStore::with_balances([(v.address(), u(1000))]));

    let mut forged = with(&|_| {});
    forged.source = key(2).address();
    assert!(matches!(
        reserve_fund(&mut store, &cfg, 10, &forged),
        Err(Error::WrongSigner { role: Role::Source, .. })
    ));
}

#[test]
fn reserve_seq_must_increase() {
    let (mut store, cfg, v) = funded();
    let again = reserve_tx(&v, 1, 10, 11, 300);
    assert_eq!(
        reserve_fund(&mut store, &cfg, 20, &again),
        Err(Error::ReserveSeqNotIncreasing { source_addr: v.address(), last: 1, got: 1 })
    );
    reserve_fund(&mut store, &cfg, 20, &reserve_tx(&v, 5, 10, 11, 300)).unwrap();
    assert!(matches!(
        reserve_fund(&mut store, &cfg, 20, &reserve_tx(&v, 3, 10, 11, 300)),
        Err(Error::ReserveSeqNotIncreasing { last: 5, got: 3, .. })
    ));
}

#[test]
fn cumulative_cheques_pay_only_the_increase() {
    let (mut store, cfg, v) = funded();
    let bob = key(2);
    let r = settle(&mut store, &cfg, 20, &pay(&v, 1, &bob, 30, 2)).unwrap();
    assert_eq!((r.paid, r.shortfall, r.overspend_proven), (u(30), u(0), false));
    let r = settle(&mut store, &cfg, 21, &pay(&v, 1, &bob, 45, 5)).unwrap();
    assert_eq!(r.paid, u(15));
    assert_eq!(store.balance(&bob.address()), u(45));
    let rec = store.reserve(&v.address(), 1).unwrap();
    assert_eq!(rec.used, u(45));
    assert_eq!(rec.transfer(&bob.address()).unwrap().payment_seq, 5);
    assert_eq!(store.total_supply(), u(1000));
}

#[test]
fn only_the_newest_cheque_settles() {
    let (mut store, cfg, v) = funded();
    let bob = key(2);
    settle(&mut store, &cfg, 20, &pay(&v, 1, &bob, 30, 2)).unwrap();
    assert_eq!(
        settle(&mut store, &cfg, 20, &pay(&v, 1, &bob, 20, 1)),
        Err(Error::StalePaymentSeq { target: bob.address(), last: 2, got: 1 })
    );
    assert_eq!(
        settle(&mut store, &cfg, 20, &pay(&v, 1, &bob, 30, 2)),
        Err(Error::StalePaymentSeq { target: bob.address(), last: 2, got: 2 })
    );
    assert_eq!(
        settle(&mut store, &cfg, 20, &pay(&v, 1, &bob, 29, 3)),
        Err(Error::CumulativeAmountDecreased { target: bob.address(), previous: u(30), amount: u(29) })
    );
}

#[test]
fn settlement_checks_reserve_resource_expiry_and_signatures() {
    let (mut store, cfg, v) = funded();
    let bob = key(2);
    assert_eq!(
        settle(&mut store, &cfg, 20, &pay(&v, 9, &bob, 1, 1)),
        Err(Error::ReserveNotFound { source_addr: v.address(), reserve_seq: 9 })
    );
    assert_eq!(
        settle(&mut store, &cfg, 311, &pay(&v, 1, &bob, 1, 1)),
        Err(Error::ReserveExpired { end_height: 310, height: 311 })
    );
    settle(&mut store, &cfg, 310, &pay(&v, 1, &bob, 1, 1)).unwrap();

    let other = Cheque {
        source: v.address(),
        reserve_seq: 1,
        target: bob.address(),
        resource_id: resource_id("other"),
        amount: u(5),
        payment_seq: 9,
    }
    .sign(&v, CHAIN);
    let tx = ServicePayment::countersign(other, U256::zero(), &bob, CHAIN);
    assert_eq!(
        settle(&mut store, &cfg, 20, &tx),
        Err(Error::UnknownResource { resource_id: resource_id("other") })
    );

    // Countersigned by someone other than the target.
    let tx = ServicePayment::countersign(cheque(&v, 1, bob.address(), 5, 9), U256::zero(), &key(3), CHAIN);
    assert!(matches!(settle(&mut store, &cfg, 20, &tx), Err(Error::WrongSigner { role: Role::Target, .. })));
    // A cheque not signed by the source.
    let forged =
        Cheque { source: v.address(), ..cheque(&key(7), 1, bob.address(), 5, 9).cheque }.sign(&key(7), CHAIN);
    let tx = ServicePayment::countersign(forged, U256::zero(), &bob, CHAIN);
    assert!(matches!(settle(&mut store, &cfg, 20, &tx), Err(Error::WrongSigner { role: Role::Source, .. })));
}

#[test]
fn settlement_fee_comes_from_the_payee() {
    let (mut store, _, v) = funded();
    let cfg = PoolConfig { min_fee: u(2), ..PoolConfig::default() };
    let bob = key(2);
    let cheap = pay(&v, 1, &bob, 10, 1);
    assert_eq!(settle(&mut store, &cfg, 20, &cheap), Err(Error::FeeTooLow { fee: u(0), min: u(2) }));
    let tx = ServicePayment::countersign(cheque(&v, 1, bob.address(), 1, 1), u(2), &bob, CHAIN);
    assert_eq!(
        settle(&mut store, &cfg, 20, &tx),
        Err(Error::InsufficientBalance { who: bob.address(), needed: u(2), available: u(1) })
    );
    let tx = ServicePayment::countersign(cheque(&v, 1, bob.address(), 10, 1), u(2), &bob, CHAIN);
    let r = settle(&mut store, &cfg, 20, &tx).unwrap();
    assert_eq!(r.fee, u(2));
    assert_eq!(store.balance(&bob.address()), u(8));
    assert_eq!(store.total_supply(), u(998));
}

#[test]
fn payee_count_is_capped() {
    // The cap is the one the reserve was made under (its slot unit, 50, is in the
    // record): settling under a lower `max_payees` than the reserve's would lock out
    // payees within the deposit (see hardening.rs).
    let cfg = PoolConfig { max_payees: 2, ..PoolConfig::default() };
    let v = key(1);
    let mut store = MemoryStore::with_balances([(v.address(), u(1000))]);
    reserve_fund(&mut store, &cfg, 10, &reserve_tx(&v, 1, 100, 150, 300)).unwrap();
    settle(&mut store, &cfg, 20, &pay(&v, 1, &key(2), 50, 1)).unwrap();
    settle(&mut store, &cfg, 20, &pay(&v, 1, &key(3), 50, 1)).unwrap();
    // A third payee means 150 promised against 100: the overspend is proven, no slot.
    assert!(settle(&mut store, &cfg, 20, &pay(&v, 1, &key(4), 50, 1)).unwrap().overspend_proven);
    assert_eq!(
        settle(&mut store, &cfg, 20, &pay(&v, 1, &key(5), 50, 1)),
        Err(Error::TooManyPayees { max: 2 })
    );
    assert_eq!(store.reserve(&v.address(), 1).unwrap().transfers.len(), 2);
    // Existing payees still settle.
    settle(&mut store, &cfg, 20, &pay(&v, 1, &key(2), 51, 2)).unwrap();
}

#[test]
fn overspend_at_settlement_slashes_the_collateral_and_burns_it() {
    let (mut store, cfg, v) = funded();
    let (colluder, honest) = (key(2), key(3));
    settle(&mut store, &cfg, 20, &pay(&v, 1, &colluder, 80, 1)).unwrap();
    let r = settle(&mut store, &cfg, 21, &pay(&v, 1, &honest, 50, 1)).unwrap();
    // 20 from the deposit, 25 from the compensation pool ((150 - 100) / 2), 5 unpaid.
    assert_eq!(r.paid, u(45));
    assert_eq!(r.compensated, u(25));
    assert_eq!(r.shortfall, u(5));
    assert!(r.overspend_proven);
    assert_eq!((r.slashed, r.burned), (u(125), u(125)));
    let rec = store.reserve(&v.address(), 1).unwrap();
    assert!(rec.slashed);
    assert_eq!((rec.collateral, rec.remaining()), (u(0), u(0)));
    assert_eq!(rec.transfer(&honest.address()).unwrap().paid, u(45));
    assert_eq!(store.total_supply(), u(1000 - 125));
    // Nothing left: a later increase has nothing to take.
    assert_eq!(
        settle(&mut store, &cfg, 22, &pay(&v, 1, &key(4), 5, 1)),
        Err(Error::DepositExhausted { shortfall: u(5) })
    );
    // Release after the freeze: nothing returns to the cheater.
    let r = release_fund(&mut store, &cfg, 315, &release(&v, v.address(), 1)).unwrap();
    assert_eq!((r.paid, r.slashed), (u(0), u(0)));
    assert_eq!(store.balance(&v.address()), u(750));
}

#[test]
fn overspend_penalty_can_go_to_the_reporter() {
    let (mut store, _, v) = funded();
    let cfg = PoolConfig { slash_to: SlashDestination::Reporter, ..PoolConfig::default() };
    settle(&mut store, &cfg, 20, &pay(&v, 1, &key(2), 100, 1)).unwrap();
    let r = settle(&mut store, &cfg, 20, &pay(&v, 1, &key(3), 10, 1)).unwrap();
    // The penalty (collateral less the compensation pool of 25) goes to the payee whose
    // settlement proved the overspend; its 10 is paid from the pool.
    assert_eq!((r.paid, r.compensated, r.slashed, r.burned), (u(10), u(10), u(125), u(0)));
    assert_eq!(store.balance(&key(3).address()), u(135));
    assert_eq!(store.total_supply(), u(1000));
}

#[test]
fn release_waits_for_end_plus_freeze_and_returns_the_rest() {
    let (mut store, cfg, v) = funded();
    settle(&mut store, &cfg, 20, &pay(&v, 1, &key(2), 40, 1)).unwrap();
    let anyone = key(9);
    assert_eq!(
        release_fund(&mut store, &cfg, 314, &release(&anyone, v.address(), 1)),
        Err(Error::ReleaseTooEarly { releasable_at: 315, height: 314 })
    );
    let r = release_fund(&mut store, &cfg, 315, &release(&anyone, v.address(), 1)).unwrap();
    assert_eq!(r.paid, u(60 + 150));
    assert_eq!(store.balance(&v.address()), u(750 + 210));
    assert!(store.reserve(&v.address(), 1).is_none());
    assert_eq!(
        release_fund(&mut store, &cfg, 316, &release(&anyone, v.address(), 1)),
        Err(Error::ReserveNotFound { source_addr: v.address(), reserve_seq: 1 })
    );
    // A cheque of the released reserve can never settle again, nor can the sequence be reused.
    assert!(matches!(
        settle(&mut store, &cfg, 20, &pay(&v, 1, &key(2), 50, 2)),
        Err(Error::ReserveNotFound { .. })
    ));
    assert!(matches!(
        reserve_fund(&mut store, &cfg, 400, &reserve_tx(&v, 1, 10, 11, 300)),
        Err(Error::ReserveSeqNotIncreasing { .. })
    ));
    assert_eq!(store.total_supply(), u(1000));
}

#[test]
fn release_fee_and_signature_are_checked() {
    let (mut store, _, v) = funded();
    let cfg = PoolConfig { min_fee: u(1), ..PoolConfig::default() };
    assert_eq!(
        release_fund(&mut store, &cfg, 315, &release(&v, v.address(), 1)),
        Err(Error::FeeTooLow { fee: u(0), min: u(1) })
    );
    let mut tx = release(&v, v.address(), 1);
    tx.fee = u(1);
    tx.submitter = key(4).address();
    let tx = ReleaseFund { signature: tx.clone().signed(&v, CHAIN).signature, ..tx };
    assert!(matches!(
        release_fund(&mut store, &cfg, 315, &tx),
        Err(Error::WrongSigner { role: Role::Submitter, .. })
    ));
}

#[test]
fn overspend_report_slashes_collateral_and_keeps_the_deposit_for_payees() {
    let (mut store, cfg, v) = funded();
    let (a, b, reporter) = (key(2), key(3), key(4));
    let ca = cheque(&v, 1, a.address(), 70, 1);
    let cb = cheque(&v, 1, b.address(), 60, 1);
    let r = report_overspend(&mut store, &cfg, 30, &report(&reporter, vec![ca.clone(), cb.clone()])).unwrap();
    assert!(r.overspend_proven);
    assert_eq!(r.burned, u(125));
    assert_eq!(
        report_overspend(&mut store, &cfg, 30, &report(&reporter, vec![ca.clone(), cb])),
        Err(Error::AlreadySlashed { source_addr: v.address(), reserve_seq: 1 })
    );
    // The first payee is still paid in full from the deposit, the second gets the rest.
    let ra = settle(&mut store, &cfg, 31, &ServicePayment::countersign(ca, U256::zero(), &a, CHAIN)).unwrap();
    assert_eq!((ra.paid, ra.shortfall), (u(70), u(0)));
    let rb = settle(&mut store, &cfg, 31, &pay(&v, 1, &b, 60, 1)).unwrap();
    // The deposit's last 30, then 25 from the compensation pool.
    assert_eq!((rb.paid, rb.compensated, rb.shortfall, rb.slashed), (u(55), u(25), u(5), u(0)));
    assert_eq!(store.total_supply(), u(1000 - 125));
}

#[test]
fn slashed_deposit_left_at_release_is_slashed_too() {
    let (mut store, _, v) = funded();
    let cfg = PoolConfig { slash_to: SlashDestination::Reporter, ..PoolConfig::default() };
    let reporter = key(4);
    let evidence = vec![cheque(&v, 1, key(2).address(), 70, 1), cheque(&v, 1, key(3).address(), 60, 1)];
    report_overspend(&mut store, &cfg, 30, &report(&reporter, evidence)).unwrap();
    settle(&mut store, &cfg, 31, &pay(&v, 1, &key(2), 70, 1)).unwrap();
    let r = release_fund(&mut store, &cfg, 400, &release(&v, v.address(), 1)).unwrap();
    // The deposit left (30) and the unused compensation pool (25).
    assert_eq!((r.paid, r.slashed, r.burned), (u(0), u(55), u(0)));
    assert_eq!(store.balance(&reporter.address()), u(125 + 55));
    assert_eq!(store.balance(&v.address()), u(750));
    assert_eq!(store.total_supply(), u(1000));
}

#[test]
fn overspend_report_needs_valid_evidence() {
    let (mut store, cfg, v) = funded();
    let rep = key(4);
    assert_eq!(report_overspend(&mut store, &cfg, 30, &report(&rep, vec![])), Err(Error::EmptyEvidence));
    // Settled promises count: 60 settled to key 2 plus 41 evidenced to key 3 > 100.
    settle(&mut store, &cfg, 20, &pay(&v, 1, &key(2), 60, 1)).unwrap();
    let honest = vec![cheque(&v, 1, key(2).address(), 55, 1), cheque(&v, 1, key(3).address(), 40, 1)];
    assert_eq!(
        report_overspend(&mut store, &cfg, 30, &report(&rep, honest)),
        Err(Error::NoOverspend { total: u(100), deposit: u(100) })
    );
    let mixed = vec![cheque(&v, 1, key(3).address(), 41, 1), cheque(&v, 2, key(3).address(), 41, 1)];
    assert_eq!(
        report_overspend(&mut store, &cfg, 30, &report(&rep, mixed)),
        Err(Error::EvidenceMixesReserves {
            expected_source: v.address(),
            expected_seq: 1,
            found_source: v.address(),
            found_seq: 2
        })
    );
    let forged = vec![
        Cheque { source: v.address(), ..cheque(&rep, 1, key(3).address(), 41, 1).cheque }.sign(&rep, CHAIN),
    ];
    assert!(matches!(
        report_overspend(&mut store, &cfg, 30, &report(&rep, forged)),
        Err(Error::WrongSigner { role: Role::Source, .. })
    ));
    let small = PoolConfig { max_evidence: 1, ..cfg.clone() };
    let two = vec![cheque(&v, 1, key(3).address(), 41, 1), cheque(&v, 1, key(5).address(), 1, 1)];
    assert_eq!(
        report_overspend(&mut store, &small, 30, &report(&rep, two)),
        Err(Error::TooMany { what: "evidence cheques", count: 2, max: 1 })
    );
    let missing = vec![cheque(&v, 7, key(3).address(), 41, 1)];
    assert!(matches!(
        report_overspend(&mut store, &cfg, 30, &report(&rep, missing)),
        Err(Error::ReserveNotFound { .. })
    ));
    let proof = vec![cheque(&v, 1, key(3).address(), 41, 1)];
    report_overspend(&mut store, &cfg, 30, &report(&rep, proof)).unwrap();
}

#[test]
fn transactions_round_trip_and_execute() {
    let (mut store, cfg, v) = funded();
    let txs = [
        Transaction::Reserve(reserve_tx(&v, 2, 10, 11, 300)),
        Transaction::Pay(pay(&v, 2, &key(2), 4, 1)),
        Transaction::Report(report(&key(4), vec![cheque(&v, 2, key(3).address(), 7, 1)])),
        Transaction::Release(release(&v, v.address(), 2)),
    ];
    let heights = [20, 21, 22, 400];
    for (tx, h) in txs.iter().zip(heights) {
        let bytes = tx.encode();
        assert!(bytes.len() <= MAX_TX_BYTES);
        let back = Transaction::decode(&bytes).unwrap();
        assert_eq!(&back, tx);
        back.verify(CHAIN).unwrap();
        let before = store.total_supply();
        let r = execute(&mut store, &cfg, h, &back).unwrap();
        assert_eq!(before, store.total_supply() + r.fee + r.burned);
    }
    assert!(store.reserve(&v.address(), 2).is_none());
}

#[test]
fn transaction_decoder_rejects_bad_bytes() {
    let (_, _, v) = funded();
    let bytes = Transaction::Reserve(reserve_tx(&v, 2, 10, 11, 300)).encode();
    assert!(matches!(Transaction::decode(&bytes[..bytes.len() - 2]), Err(Error::Decode { .. })));
    let mut trailing = bytes.clone();
    trailing.push(0x80);
    assert!(matches!(Transaction::decode(&trailing), Err(Error::Decode { .. })));
    assert!(matches!(Transaction::decode(&[0xc1, 0x09]), Err(Error::Decode { .. })));
    assert!(matches!(Transaction::decode(&vec![0u8; MAX_TX_BYTES + 1]), Err(Error::Decode { .. })));
    let mut tx = reserve_tx(&v, 2, 10, 11, 300);
    tx.resource_ids = (0..65).map(|i| resource_id(&i.to_string())).collect();
    assert!(matches!(Transaction::decode(&Transaction::Reserve(tx).encode()), Err(Error::Decode { .. })));
}

#[test]
fn verified_settlement_matches_settle_and_batch_verification_flags_bad_ones() {
    let (mut a, cfg, v) = funded();
    let mut b = a.clone();
    let good = pay(&v, 1, &key(2), 30, 1);
    let bad =
        ServicePayment::countersign(cheque(&v, 1, key(2).address(), 30, 1), U256::zero(), &key(3), CHAIN);
    let checked = verify_payments(vec![good.clone(), bad], CHAIN);
    assert!(matches!(checked[1], Err(Error::WrongSigner { role: Role::Target, .. })));
    let verified = checked[0].clone().unwrap();
    assert_eq!(verified.get(), &good);
    assert_eq!(settle_verified(&mut a, &cfg, 20, &verified), settle(&mut b, &cfg, 20, &good));
    assert_eq!(a, b);
    assert_eq!(verified.into_inner(), good);
}

#[test]
fn host_checked_reserve_and_release_match_the_signed_path() {
    // The ledger checks Theta-format signatures itself and hands the fields over as
    // `Verified::checked_by_host`: the rules then give exactly what the signed path gives,
    // whatever the (unchecked) signature fields hold, and refuse another chain's check.
    let cfg = PoolConfig::default();
    let v = key(1);
    let mut signed_store = MemoryStore::with_balances([(v.address(), u(1000))]);
    let mut host_store = signed_store.clone();
    let t = reserve_tx(&v, 1, 100, 150, 300);
    let mut unsigned = t.clone();
    unsigned.signature = placeholder_signature();
    assert!(reserve_fund(&mut MemoryStore::default(), &cfg, 10, &unsigned).is_err());
    assert_eq!(
        reserve_fund_verified(&mut host_store, &cfg, 10, &Verified::checked_by_host(unsigned.clone(), CHAIN)),
        reserve_fund(&mut signed_store, &cfg, 10, &t)
    );
    assert_eq!(host_store, signed_store);
    let other = Verified::checked_by_host(unsigned, CHAIN + 1);
    assert_eq!(
        reserve_fund_verified(&mut host_store, &cfg, 10, &other),
        Err(Error::ChainMismatch { verified_for: CHAIN + 1, chain_id: CHAIN })
    );
    let r = release(&v, v.address(), 1);
    let mut r_unsigned = r.clone();
    r_unsigned.signature = placeholder_signature();
    // Too early on both paths, then the same release.
    assert_eq!(
        release_fund_verified(
            &mut host_store,
            &cfg,
            314,
            &Verified::checked_by_host(r_unsigned.clone(), CHAIN)
        ),
        release_fund(&mut signed_store, &cfg, 314, &r)
    );
    assert_eq!(
        release_fund_verified(
            &mut host_store,
            &cfg,
            315,
            &Verified::checked_by_host(r_unsigned.clone(), CHAIN)
        ),
        release_fund(&mut signed_store, &cfg, 315, &r)
    );
    assert_eq!(host_store, signed_store);
    assert_eq!(host_store.balance(&v.address()), u(1000));
    assert_eq!(
        release_fund_verified(&mut host_store, &cfg, 315, &Verified::checked_by_host(r_unsigned, CHAIN + 1)),
        Err(Error::ChainMismatch { verified_for: CHAIN + 1, chain_id: CHAIN })
    );
}
