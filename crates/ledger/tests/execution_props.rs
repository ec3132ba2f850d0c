//! Property tests of block execution against a model of balances and sequences:
//! supply conservation (total = genesis + issuance − burned − slashed), no account ever
//! overdrawn, determinism (same blocks, same roots), atomic rejection (a block with a bad
//! transaction changes nothing), replay rejection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod exec_common;

use std::collections::BTreeMap;

use exec_common::*;
use ledger::*;
use primitives::U256;
use proptest::prelude::*;

const ACCOUNTS: u8 = 5;
const START: u64 = 10_000;

/// One generated transfer: from, to, theta, tfuel, fee, and a sequence offset (0 = the
/// right one; anything else a replay or a gap).
#[derive(Debug, Clone)]
struct Spec {
    from: u8,
    to: u8,
    theta: u64,
    tfuel: u64,
    fee: u64,
    seq_off: i8,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        1..=ACCOUNTS,
        1..=ACCOUNTS + 1,
        0..6_000u64,
        0..6_000u64,
        prop_oneof![9 => Just(100u64), 1 => 0..100u64],
        prop_oneof![8 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)],
    )
        .prop_map(|(from, to, theta, tfuel, fee, seq_off)| Spec { from, to, theta, tfuel, fee, seq_off })
}

#[derive(Clone, Default)]
struct Model {
    acc: BTreeMap<u8, (u64, u128, u128)>,
    burned: u128,
}

impl Model {
    fn new() -> Self {
        let mut m = Model::default();
        for n in 1..=ACCOUNTS {
            m.acc.insert(n, (0, START as u128, START as u128));
        }
        m
    }
    /// Applies a spec the way the rules should; `false` if they must refuse it.
    fn apply(&mut self, s: &Spec) -> bool {
        let (seq, th, tf) = self.acc.get(&s.from).copied().unwrap_or_default();
        if s.seq_off != 0 || s.fee < 100 {
            return false;
        }
        let need_tf = s.tfuel as u128 + s.fee as u128;
        if th < s.theta as u128 || tf < need_tf {
            return false;
        }
        self.acc.insert(s.from, (seq + 1, th - s.theta as u128, tf - need_tf));
        let e = self.acc.entry(s.to).or_default();
        e.1 += s.theta as u128;
        e.2 += s.tfuel as u128;
        self.burned += s.fee as u128;
        true
    }
}

fn tx_of(s: &Spec, model: &Model) -> Transaction {
    let seq = model.acc.get(&s.from).map_or(0, |a| a.0) as i64 + 1 + s.seq_off as i64;
    send(s.from, seq.max(0) as u64, s.to, coins(s.theta, s.tfuel), s.fee)
}

fn check_against(l: &Ledger<mpt_refcount::MemoryStore>, m: &Model) {
    for n in 1..=ACCOUNTS + 1 {
        let a = l.account(&addr(n)).unwrap();
        let (seq, th, tf) = m.acc.get(&n).copied().unwrap_or_default();
        assert_eq!(a.sequence, seq, "sequence of {n}");
        assert_eq!(a.coins, Coins::new(U256::from(th), U256::from(tf)), "coins of {n}");
    }
    let s = l.supply().unwrap();
    assert_eq!(s.burned, Coins::new(U256::zero(), U256::from(m.burned)));
    // Supply conservation: what the state holds is genesis + issued − burned − slashed.
    assert_eq!(total_holdings(l), s.expected_total().unwrap());
}

fn fresh() -> Ledger<mpt_refcount::MemoryStore> {
    ledger_with(ACCOUNTS, START, START)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Each block is either applied exactly as the model says (all its transfers valid)
    /// or refused whole, naming the first bad transfer, with the state unchanged.
    #[test]
    fn blocks_match_the_model_and_conserve_supply(blocks in prop::collection::vec(prop::collection::vec(spec(), 1..4), 1..5)) {
        let mut l = fresh();
        let mut m = Model::new();
        let mut height = 0;
        for block in &blocks {
            let mut trial = m.clone();
            let mut txs = Vec::new();
            let mut first_bad = None;
            for (i, s) in block.iter().enumerate() {
                txs.push(tx_of(s, &trial));
                if !trial.apply(s) && first_bad.is_none() {
                    first_bad = Some(i);
                }
            }
            let root = l.root();
            height += 1;
            match (l.execute_block(height, &txs), first_bad) {
                (Ok(out), None) => {
                    prop_assert_eq!(out.state_root, l.root());
                    m = trial;
                }
                (Err(ExecError::InBlock { index, .. }), Some(bad)) => {
                    prop_assert_eq!(index, bad);
                    prop_assert_eq!(l.root(), root, "atomic rejection");
                    height -= 1;
                }
                (other, bad) => prop_assert!(false, "block {:?}: got {:?}, model says first bad {:?}", block, other, bad),
            }
            check_against(&l, &m);
        }
    }

    /// Same blocks on the same genesis give the same roots; replaying any executed
    /// transaction is refused.
    #[test]
    fn execution_is_deterministic_and_replays_fail(specs in prop::collection::vec(spec(), 1..6)) {
        let mut a = fresh();
        let mut b = fresh();
        let mut m = Model::new();
        let mut executed = Vec::new();
        let mut h = 0;
        for s in &specs {
            let tx = tx_of(s, &m);
            let mut trial = m.clone();
            if !trial.apply(s) {
                continue;
            }
            h += 1;
            let ra = a.execute_block(h, std::slice::from_ref(&tx)).unwrap();
            let rb = b.execute_block(h, std::slice::from_ref(&tx)).unwrap();
            prop_assert_eq!(ra.state_root, rb.state_root);
            m = trial;
            executed.push(tx);
        }
        for tx in &executed {
            let e = a.check_tx(tx).unwrap_err();
            prop_assert!(matches!(e, ExecError::BadSequence { .. }), "replay gives {:?}", e);
        }
        check_against(&a, &m);
    }
}
