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

#[test]
fn a_long_resource_id_is_keyed_by_its_hash_and_splits_like_any_other() {
    let mut l = ledger();
    let long = "r".repeat(300);
    let rule = signed(
        Transaction::SplitRule(SplitRuleTx {
            fee: tfuel(100),
            resource_id: long.clone(),
            initiator: TxInput::new(addr(6), tfuel(100), 1),
            splits: vec![Split { address: addr(7), percentage: 10 }],
            duration: 10,
        }),
        &[6],
    );
    l.execute_block(1, &[rule]).unwrap();
    let key = ledger::state::split_rule_key(&long);
    assert!(key.len() <= mpt_refcount::MAX_KEY_BYTES);
    let trie = mpt_refcount::Trie::from_root(l.root());
    let stored = SplitRule::decode(&key, &trie.get(l.store(), &key).unwrap().unwrap()).unwrap();
    assert_eq!(stored.resource_id, long);
    conserved(&l);
}

#[test]
fn a_write_the_trie_cannot_hold_fails_its_transaction_not_the_block() {
    // With the account limit raised, 5,000 shares make a record over the trie's value
    // limit: refused when applied (a typed error), so the block around it still commits.
    let mut cfg = config();
    cfg.max_accounts_per_tx = 6_000;
    let g = Genesis::from_json(&genesis_json(8, 1_000_000, 1_000_000, &[1], &[2])).unwrap();
    let mut l = Ledger::from_genesis(MemoryStore::new(), cfg, &g, PruningPolicy { keep_last: 4 }).unwrap();
    let shares: Vec<(u8, u64)> = (0..5_000).map(|i| ((i % 8 + 1) as u8, 0)).collect();
    let huge = rule(6, 1, &shares, 5);
    assert!(matches!(l.check_tx(&huge), Err(ExecError::StateLimit { .. })));
    l.begin_block(1).unwrap();
    assert!(matches!(l.apply_tx(&huge), Err(ExecError::StateLimit { .. })));
    l.apply_tx(&rule(6, 1, &[(7, 10)], 5)).unwrap();
    l.commit_block().unwrap();
    conserved(&l);
}

#[test]
fn a_full_reserve_record_fits_one_trie_value() {
    // The worst case LedgerConfig::theta admits: MAX_RESERVE_PAYEES payees with 32-byte
    // amounts and the most resource ids.
    let cfg = LedgerConfig::theta(CHAIN);
    assert_eq!(cfg.pool.max_payees, MAX_RESERVE_PAYEES);
    let big = U256::MAX;
    let fund = micropool::ReservedFund {
        source: addr(1),
        reserve_seq: u64::MAX,
        resource_ids: vec![primitives::H256::repeat_byte(0xff); cfg.pool.max_resource_ids],
        deposit: big,
        collateral: big,
        used: big,
        end_height: u64::MAX,
        slot_unit: big,
        transfers: (0..cfg.pool.max_payees)
            .map(|i| micropool::TransferRecord {
                target: primitives::Address::from_low_u64_be(i as u64),
                payment_seq: u64::MAX,
                promised: big,
                paid: big,
            })
            .collect(),
        slashed: true,
        reporter: addr(2),
    };
    assert!(fund.encode().len() <= mpt_refcount::MAX_VALUE_BYTES, "{} bytes", fund.encode().len());
}
