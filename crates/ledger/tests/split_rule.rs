//! SplitRule (Theta's `tx_split_rule.go`) and its effect on ServicePayment
//! (`splitPayment`): shares of what a payee is paid for a resource go to the rule's
//! addresses while the rule is in force; only its initiator may change it; bad shares are
//! refused; an expired rule pays the payee in full and is deleted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod exec_common;

use exec_common::*;
use ledger::*;
use mpt_refcount::MemoryStore;
use primitives::U256;

const RESOURCE: &str = "stream/42";

fn rule(by: u8, seq: u64, splits: &[(u8, u64)], duration: u64) -> Transaction {
    signed(
        Transaction::SplitRule(SplitRuleTx {
            fee: tfuel(100),
            resource_id: RESOURCE.into(),
            initiator: TxInput::new(addr(by), tfuel(100), seq),
            splits: splits.iter().map(|(a, p)| Split { address: addr(*a), percentage: *p }).collect(),
            duration,
        }),
        &[by],
    )
}

fn reserve(src: u8, seq: u64) -> Transaction {
    signed(
        Transaction::ReserveFund(ReserveFundTx {
            fee: tfuel(100),
            source: TxInput::new(addr(src), tfuel(1_000), seq),
            collateral: tfuel(1_500),
            resource_ids: vec![RESOURCE.into()],
            duration: 300,
        }),
        &[src],
    )
}

fn payment(src: u8, target: u8, tseq: u64, amount: u64, pseq: u64) -> Transaction {
    signed(
        Transaction::ServicePayment(ServicePaymentTx {
            fee: tfuel(100),
            source: TxInput::new(addr(src), tfuel(amount), 0),
            target: TxInput::new(addr(target), Coins::zero(), tseq),
            payment_sequence: pseq,
            reserve_sequence: 1,
            resource_id: RESOURCE.into(),
        }),
        &[src, target],
    )
}

fn tfuel_of(l: &Ledger<MemoryStore>, n: u8) -> U256 {
    l.account(&addr(n)).unwrap().coins.tfuel_wei
}

fn conserved(l: &Ledger<MemoryStore>) {
    assert_eq!(total_holdings(l), l.supply().unwrap().expected_total().unwrap());
}

#[test]
fn payments_for_the_resource_are_split_while_the_rule_is_in_force() {
    let mut l = ledger();
    // Block 1: owner 6 splits the resource 10% to 7 and 25% to 8, for 10 blocks.
    l.execute_block(1, &[rule(6, 1, &[(7, 10), (8, 25)], 10), reserve(3, 1)]).unwrap();
    let (t4, t7, t8) = (tfuel_of(&l, 4), tfuel_of(&l, 7), tfuel_of(&l, 8));
    // Payee 4 is paid 800 (fee 100): 80 to 7, 200 to 8, 520 − 100 to 4.
    l.execute_block(2, &[payment(3, 4, 1, 800, 1)]).unwrap();
    assert_eq!(tfuel_of(&l, 7), t7 + U256::from(80u64));
    assert_eq!(tfuel_of(&l, 8), t8 + U256::from(200u64));
    assert_eq!(tfuel_of(&l, 4), t4 + U256::from(420u64));
    conserved(&l);
    // A cumulative cheque pays only the increase (150 more): shares of 150, floored.
    l.execute_block(3, &[payment(3, 4, 2, 950, 2)]).unwrap();
    assert_eq!(tfuel_of(&l, 7), t7 + U256::from(80u64 + 15));
    assert_eq!(tfuel_of(&l, 8), t8 + U256::from(200u64 + 37));
    conserved(&l);
}

#[test]
fn only_the_initiator_changes_a_rule_in_force_and_an_expired_one_is_free() {
    let mut l = ledger();
    // In force through block 4 (end height 0 + 3 = 3: blocks whose parent is ≤ 3).
    l.execute_block(1, &[rule(6, 1, &[(7, 50)], 3)]).unwrap();
    let taken = l.check_tx(&rule(5, 1, &[(5, 100)], 3)).unwrap_err();
    assert_eq!(taken, ExecError::SplitRuleTaken { resource_id: RESOURCE.into(), initiator: addr(6) });
    // The initiator may replace it.
    l.execute_block(2, &[rule(6, 2, &[(7, 20), (8, 20)], 3)]).unwrap();
    for h in 3..=5 {
        l.execute_block(h, &[]).unwrap();
    }
    // End height 1 + 3 = 4: block 6 (parent 5) is past it; another initiator may take it.
    l.execute_block(6, &[rule(5, 1, &[(5, 100)], 3)]).unwrap();
    conserved(&l);
}

#[test]
fn an_expired_rule_pays_the_payee_in_full_and_is_deleted() {
    let mut l = ledger();
    l.execute_block(1, &[rule(6, 1, &[(7, 50)], 1), reserve(3, 1)]).unwrap();
    l.execute_block(2, &[]).unwrap();
    let (t4, t7) = (tfuel_of(&l, 4), tfuel_of(&l, 7));
    // End height 0 + 1 = 1; block 3's parent is 2: expired.
    l.execute_block(3, &[payment(3, 4, 1, 600, 1)]).unwrap();
    assert_eq!(tfuel_of(&l, 7), t7);
    assert_eq!(tfuel_of(&l, 4), t4 + U256::from(500u64));
    let key = ledger::state::split_rule_key(RESOURCE);
    let trie = mpt_refcount::Trie::from_root(l.root());
    assert_eq!(trie.get(l.store(), &key).unwrap(), None, "the expired rule is deleted");
    conserved(&l);
}

#[test]
fn bad_rules_are_refused_and_change_nothing() {
    let mut l = ledger();
    let root = l.root();
    assert!(matches!(l.check_tx(&rule(6, 1, &[(7, 101)], 5)), Err(ExecError::BadSplit { .. })));
    assert!(matches!(l.check_tx(&rule(6, 1, &[(7, 60), (8, 41)], 5)), Err(ExecError::BadSplit { .. })));
    let many: Vec<(u8, u64)> = (0..512).map(|i| ((i % 8 + 1) as u8, 0)).collect();
    assert!(matches!(l.check_tx(&rule(6, 1, &many, 5)), Err(ExecError::TooManyAccounts { count: 513, .. })));
    assert!(matches!(l.check_tx(&rule(6, 2, &[(7, 10)], 5)), Err(ExecError::BadSequence { .. })));
    let cheap = signed(
        Transaction::SplitRule(SplitRuleTx {
            fee: tfuel(1),
            resource_id: RESOURCE.into(),
            initiator: TxInput::new(addr(6), tfuel(1), 1),
            splits: vec![],
            duration: 5,
        }),
        &[6],
    );
    assert!(matches!(l.check_tx(&cheap), Err(ExecError::FeeTooLow { .. })));
    assert!(l.execute_block(1, &[rule(6, 1, &[(7, 101)], 5)]).is_err());
    assert_eq!(l.root(), root);
    // Exactly 100% is fine; the fee is burned.
    let out = l.execute_block(1, &[rule(6, 1, &[(7, 60), (8, 40)], 5)]).unwrap();
    assert_eq!(out.fees_burned, tfuel(100));
    conserved(&l);
}
