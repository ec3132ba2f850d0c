//! ReserveFund, ServicePayment and ReleaseFund executed through micropool's rules on
//! the two-coin state: every rule's effect and the errors each returns.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod exec_common;

use exec_common::*;
use ledger::*;
use mpt_refcount::MemoryStore;
use primitives::U256;

fn err_of(l: &Ledger<MemoryStore>, tx: &Transaction) -> ExecError {
    l.check_tx(tx).expect_err("expected a refusal")
}

fn reserve_tx(src: u8, seq: u64, deposit: Coins, collateral: Coins, duration: u64, fee: u64) -> Transaction {
    signed(
        Transaction::ReserveFund(ReserveFundTx {
            fee: tfuel(fee),
            source: TxInput::new(addr(src), deposit, seq),
            collateral,
            resource_ids: vec!["stream/42".into()],
            duration,
        }),
        &[src],
    )
}

fn reserve(src: u8, seq: u64) -> Transaction {
    reserve_tx(src, seq, tfuel(1_000), tfuel(1_500), 300, 100)
}

/// A settlement of `amount` (cumulative) from reserve `reserve_seq` of `src` to
/// `target` (next sequence `tseq`), payment sequence `pseq`, both signatures.
fn payment(src: u8, reserve_seq: u64, target: u8, tseq: u64, amount: u64, pseq: u64) -> Transaction {
    signed(
        Transaction::ServicePayment(ServicePaymentTx {
            fee: tfuel(100),
            source: TxInput::new(addr(src), tfuel(amount), 0),
            target: TxInput::new(addr(target), Coins::zero(), tseq),
            payment_sequence: pseq,
            reserve_sequence: reserve_seq,
            resource_id: "stream/42".into(),
        }),
        &[src, target],
    )
}

fn release(src: u8, seq: u64, reserve_seq: u64) -> Transaction {
    signed(
        Transaction::ReleaseFund(ReleaseFundTx {
            fee: tfuel(100),
            source: TxInput::new(addr(src), Coins::zero(), seq),
            reserve_sequence: reserve_seq,
        }),
        &[src],
    )
}

fn conserved(l: &Ledger<MemoryStore>) {
    assert_eq!(total_holdings(l), l.supply().unwrap().expected_total().unwrap());
}

#[test]
fn reserve_pay_release_round_trip() {
    let mut l = ledger();
    let out = l.execute_block(1, &[reserve(3, 1)]).unwrap(); // ends at 301
    assert_eq!(out.fees_burned, tfuel(100));
    assert_eq!(
        l.account(&addr(3)).unwrap(),
        Account { sequence: 1, coins: coins(1_000_000, 1_000_000 - 2_600) }
    );
    conserved(&l);
    // Two cumulative cheques to peer 4; only the increase is paid.
    l.execute_block(2, &[payment(3, 1, 4, 1, 300, 1)]).unwrap();
    l.execute_block(3, &[payment(3, 1, 4, 2, 450, 2)]).unwrap();
    assert_eq!(
        l.account(&addr(4)).unwrap(),
        Account { sequence: 2, coins: coins(1_000_000, 1_000_000 + 450 - 200) }
    );
    conserved(&l);
    // Release after end + freeze (301 + 5): the rest comes back.
    assert!(matches!(
        l.check_tx(&release(3, 2, 1)),
        Err(ExecError::Pool(micropool::Error::ReleaseTooEarly { releasable_at: 306, .. }))
    ));
    l.execute_block(306, &[release(3, 2, 1)]).unwrap();
    assert_eq!(
        l.account(&addr(3)).unwrap(),
        Account { sequence: 2, coins: coins(1_000_000, 1_000_000 - 100 - 450 - 100) }
    );
    conserved(&l);
    let s = l.supply().unwrap();
    assert_eq!(s.burned, tfuel(400));
    assert_eq!(s.slashed, Coins::zero());
}

#[test]
fn overspend_is_slashed_and_burned() {
    let mut l = ledger();
    l.execute_block(1, &[reserve(3, 1)]).unwrap(); // deposit 1000, collateral 1500
    l.execute_block(2, &[payment(3, 1, 4, 1, 800, 1)]).unwrap();
    // A second payee's cheque of 800 finds 200 left: the source overspent.
    let out = l.execute_block(3, &[payment(3, 1, 5, 1, 800, 1)]).unwrap();
    let slashed = out.slashed;
    assert!(!slashed.is_zero());
    assert_eq!(slashed.theta_wei, U256::zero());
    assert_eq!(l.supply().unwrap().slashed, slashed);
    conserved(&l);
}

#[test]
fn reserve_errors() {
    let l = ledger();
    assert_eq!(
        err_of(&l, &reserve_tx(3, 1, coins(1, 1_000), tfuel(1_500), 300, 100)),
        ExecError::PoolNotTfuel { field: "reserve_fund.source.coins" }
    );
    assert_eq!(
        err_of(&l, &reserve_tx(3, 1, tfuel(1_000), coins(1, 1_500), 300, 100)),
        ExecError::PoolNotTfuel { field: "reserve_fund.collateral" }
    );
    assert!(matches!(
        err_of(&l, &reserve_tx(3, 1, tfuel(1_000), tfuel(1_000), 300, 100)),
        ExecError::Pool(micropool::Error::CollateralNotAboveDeposit { .. })
    ));
    assert!(matches!(
        err_of(&l, &reserve_tx(3, 1, tfuel(1_000), tfuel(1_500), 299, 100)),
        ExecError::Pool(micropool::Error::DurationOutOfRange { .. })
    ));
    assert!(matches!(
        err_of(&l, &reserve_tx(3, 1, tfuel(0), tfuel(1_500), 300, 100)),
        ExecError::Pool(micropool::Error::ZeroDeposit)
    ));
    assert!(matches!(
        err_of(&l, &reserve_tx(3, 1, tfuel(1_000), tfuel(1_500), 300, 99)),
        ExecError::FeeTooLow { .. }
    ));
    assert!(matches!(err_of(&l, &reserve(3, 2)), ExecError::BadSequence { .. }));
    assert!(matches!(
        err_of(&l, &reserve_tx(3, 1, tfuel(600_000), tfuel(600_000), 300, 100)),
        ExecError::InsufficientFunds { currency: "TFUEL", .. }
    ));
    let mut unsigned = reserve(3, 1);
    if let Transaction::ReserveFund(t) = &mut unsigned {
        t.source.signature = None;
    }
    assert!(matches!(err_of(&l, &unsigned), ExecError::Tx(Error::MissingSignature { .. })));
}

#[test]
fn payment_errors() {
    let mut l = ledger();
    l.execute_block(1, &[reserve(3, 1)]).unwrap();
    assert!(matches!(
        err_of(&l, &payment(3, 9, 4, 1, 300, 1)),
        ExecError::Pool(micropool::Error::ReserveNotFound { reserve_seq: 9, .. })
    ));
    l.execute_block(2, &[payment(3, 1, 4, 1, 300, 1)]).unwrap();
    assert!(matches!(
        err_of(&l, &payment(3, 1, 4, 2, 400, 1)),
        ExecError::Pool(micropool::Error::StalePaymentSeq { .. })
    ));
    assert!(matches!(
        err_of(&l, &payment(3, 1, 4, 2, 200, 2)),
        ExecError::Pool(micropool::Error::CumulativeAmountDecreased { .. })
    ));
    assert!(matches!(err_of(&l, &payment(3, 1, 4, 1, 400, 2)), ExecError::BadSequence { .. }));
    let theta_cheque = signed(
        Transaction::ServicePayment(ServicePaymentTx {
            fee: tfuel(100),
            source: TxInput::new(addr(3), coins(1, 300), 0),
            target: TxInput::new(addr(5), Coins::zero(), 1),
            payment_sequence: 1,
            reserve_sequence: 1,
            resource_id: "stream/42".into(),
        }),
        &[3, 5],
    );
    assert_eq!(err_of(&l, &theta_cheque), ExecError::PoolNotTfuel { field: "service_payment.source.coins" });
    // The target's signature is required; the source's must be the source's.
    let mut no_target = payment(3, 1, 5, 1, 300, 1);
    if let Transaction::ServicePayment(t) = &mut no_target {
        t.target.signature = None;
    }
    assert!(matches!(err_of(&l, &no_target), ExecError::Tx(Error::MissingSignature { .. })));
    let forged = signed(
        Transaction::ServicePayment(ServicePaymentTx {
            fee: tfuel(100),
            source: TxInput::new(addr(3), tfuel(300), 0),
            target: TxInput::new(addr(5), Coins::zero(), 1),
            payment_sequence: 1,
            reserve_sequence: 1,
            resource_id: "stream/42".into(),
        }),
        &[5],
    );
    assert!(matches!(err_of(&l, &forged), ExecError::Tx(Error::MissingSignature { .. })));
    // Expired: after the end height 301.
    l.execute_block(302, &[]).unwrap();
    assert!(matches!(
        err_of(&l, &payment(3, 1, 5, 1, 300, 1)),
        ExecError::Pool(micropool::Error::ReserveExpired { end_height: 301, .. })
    ));
}

#[test]
fn release_errors() {
    let mut l = ledger();
    l.execute_block(1, &[reserve(3, 1)]).unwrap();
    assert!(matches!(
        err_of(&l, &release(3, 2, 7)),
        ExecError::Pool(micropool::Error::ReserveNotFound { reserve_seq: 7, .. })
    ));
    assert!(matches!(err_of(&l, &release(3, 5, 1)), ExecError::BadSequence { .. }));
    // Another account cannot release the source's reserve: it has none of its own.
    assert!(matches!(
        err_of(&l, &release(4, 1, 1)),
        ExecError::Pool(micropool::Error::ReserveNotFound { .. })
    ));
}
