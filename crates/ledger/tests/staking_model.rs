//! Model-based test of staking: random deposits (V1 and V2), withdrawals and empty
//! blocks, each in its own block, against a plain `BTreeMap` model of the pools, the
//! lock period and the balances. After every block the validator set, the guardian set
//! and every balance must equal the model's, and supply is conserved.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod exec_common;

use std::collections::BTreeMap;

use exec_common::*;
use ledger::*;
use primitives::{Address, U256};
use proptest::prelude::*;

const N: u8 = 4;
const START: u64 = 10_000;
const FEE: u64 = 100;
const LOCK: u64 = 5;

#[derive(Debug, Clone)]
enum Op {
    Deposit { source: u8, holder: u8, purpose: u8, amount: u64, v2: bool, key_of: u8 },
    Withdraw { source: u8, holder: u8, purpose: u8 },
    Idle,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (1..=N, 1..=N, 0..2u8, prop::sample::select(vec![50u64, 150, 1_000, 3_000]), any::<bool>(), prop_oneof![4 => Just(0u8), 1 => 1..=N])
            .prop_map(|(source, holder, purpose, amount, v2, key_of)| Op::Deposit { source, holder, purpose, amount, v2, key_of }),
        3 => (1..=N, 1..=N, 0..2u8).prop_map(|(source, holder, purpose)| Op::Withdraw { source, holder, purpose }),
        1 => Just(Op::Idle),
    ]
}

#[derive(Debug, Clone, PartialEq)]
struct MStake {
    source: u8,
    amount: u64,
    withdrawn: bool,
    ret: u64,
}

#[derive(Debug, Clone, Default)]
struct Model {
    seq: BTreeMap<u8, u64>,
    theta: BTreeMap<u8, u64>,
    tfuel: BTreeMap<u8, u64>,
    /// (purpose, holder) → (bls key owner id, stakes)
    pools: BTreeMap<(u8, u8), (u8, Vec<MStake>)>,
}

impl Model {
    fn new() -> Self {
        let mut m = Model::default();
        for n in 1..=N {
            m.theta.insert(n, START);
            m.tfuel.insert(n, START);
            m.seq.insert(n, 0);
        }
        m.pools
            .insert((0, 1), (1, vec![MStake { source: 1, amount: 1_000, withdrawn: false, ret: u64::MAX }]));
        m.pools.insert((1, 2), (2, vec![MStake { source: 2, amount: 100, withdrawn: false, ret: u64::MAX }]));
        m
    }

    fn begin(&mut self, h: u64) {
        let mut emptied = Vec::new();
        for (k, (_, stakes)) in self.pools.iter_mut() {
            stakes.retain(|s| {
                if s.withdrawn && s.ret <= h {
                    *self.theta.get_mut(&s.source).unwrap() += s.amount;
                    false
                } else {
                    true
                }
            });
            if stakes.is_empty() {
                emptied.push(*k);
            }
        }
        for k in emptied {
            self.pools.remove(&k);
        }
    }

    /// Applies the op at height `h`; whether it must succeed.
    fn apply(&mut self, op: &Op, h: u64) -> bool {
        match *op {
            Op::Idle => true,
            Op::Deposit { source, holder, purpose, amount, v2, key_of } => {
                let min = if purpose == 0 { 1_000 } else { 100 };
                if amount < min || self.theta[&source] < amount || self.tfuel[&source] < FEE {
                    return false;
                }
                let key = if key_of == 0 { holder } else { key_of };
                match self.pools.get_mut(&(purpose, holder)) {
                    Some((_, stakes)) => match stakes.iter_mut().find(|s| s.source == source) {
                        Some(s) if s.withdrawn => return false,
                        Some(s) => s.amount += amount,
                        None => stakes.push(MStake { source, amount, withdrawn: false, ret: u64::MAX }),
                    },
                    None => {
                        if !v2 || self.pools.iter().any(|((p, _), (k, _))| *p == purpose && *k == key) {
                            return false;
                        }
                        self.pools.insert(
                            (purpose, holder),
                            (key, vec![MStake { source, amount, withdrawn: false, ret: u64::MAX }]),
                        );
                    }
                }
                *self.theta.get_mut(&source).unwrap() -= amount;
                *self.tfuel.get_mut(&source).unwrap() -= FEE;
                *self.seq.get_mut(&source).unwrap() += 1;
                true
            }
            Op::Withdraw { source, holder, purpose } => {
                if self.tfuel[&source] < FEE {
                    return false;
                }
                let Some((_, stakes)) = self.pools.get_mut(&(purpose, holder)) else { return false };
                let Some(s) = stakes.iter_mut().find(|s| s.source == source) else { return false };
                if s.withdrawn {
                    return false;
                }
                s.withdrawn = true;
                s.ret = h + LOCK;
                *self.tfuel.get_mut(&source).unwrap() -= FEE;
                *self.seq.get_mut(&source).unwrap() += 1;
                true
            }
        }
    }

    fn holders(&self, purpose: u8) -> Vec<(Address, u64, u8)> {
        let mut out: Vec<_> = self
            .pools
            .iter()
            .filter(|((p, _), _)| *p == purpose)
            .map(|((_, h), (k, stakes))| {
                (addr(*h), stakes.iter().filter(|s| !s.withdrawn).map(|s| s.amount).sum::<u64>(), *k)
            })
            .filter(|(_, s, _)| *s > 0)
            .collect();
        out.sort_by_key(|x| x.0);
        out
    }

    fn validators(&self) -> Vec<(Address, u64, u8)> {
        let mut c = self.holders(0);
        // Theta: stake descending, then EIP-55 hex descending; top 3; by address.
        c.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| checksum_hex(&b.0).cmp(&checksum_hex(&a.0))));
        c.truncate(3);
        c.sort_by_key(|x| x.0);
        c
    }
}

fn tx_for(op: &Op, m: &Model) -> Option<Transaction> {
    match *op {
        Op::Idle => None,
        Op::Deposit { source, holder, purpose, amount, v2, key_of } => {
            let seq = m.seq[&source] + 1;
            let key = if key_of == 0 { holder } else { key_of };
            Some(if v2 {
                deposit_v2(source, seq, holder, purpose, amount, key)
            } else {
                deposit(source, seq, holder, purpose, amount)
            })
        }
        Op::Withdraw { source, holder, purpose } => {
            Some(withdraw(source, m.seq[&source] + 1, holder, purpose))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn staking_matches_the_map_model(ops in prop::collection::vec(op(), 1..14)) {
        let mut l = ledger_with(N, START, START);
        let mut m = Model::new();
        for (i, op) in ops.iter().enumerate() {
            let h = l.height() + 1;
            let tx = tx_for(op, &m);
            let mut next = m.clone();
            next.begin(h);
            let ok = next.apply(op, h);
            let txs: Vec<Transaction> = tx.into_iter().collect();
            match l.execute_block(h, &txs) {
                Ok(_) => {
                    prop_assert!(ok, "op {} {:?} succeeded, the model refuses it", i, op);
                    m = next;
                }
                Err(e) => {
                    prop_assert!(!ok, "op {} {:?} refused ({}), the model accepts it", i, op, e);
                    // The refused block changed nothing; run the height with no
                    // transaction so stake returns stay in step with the model.
                    l.execute_block(h, &[]).unwrap();
                    m.begin(h);
                }
            }
            for n in 1..=N {
                let a = l.account(&addr(n)).unwrap();
                prop_assert_eq!(a.sequence, m.seq[&n]);
                prop_assert_eq!(a.coins, coins(m.theta[&n], m.tfuel[&n]));
            }
            let vals: Vec<_> = l.validators().unwrap().into_iter().map(|v| (v.holder, v.stake, v.bls_pubkey)).collect();
            let want: Vec<_> = m.validators().into_iter().map(|(h, s, k)| (h, U256::from(s), bls_pk(k))).collect();
            prop_assert_eq!(vals, want);
            let gs: Vec<_> = l.guardians().unwrap().into_iter().map(|g| (g.holder, g.stake, g.bls_pubkey)).collect();
            let want: Vec<_> = m.holders(1).into_iter().map(|(h, s, k)| (h, u128::from(s), bls_pk(k))).collect();
            prop_assert_eq!(gs, want);
            prop_assert_eq!(total_holdings(&l), l.supply().unwrap().expected_total().unwrap());
        }
    }
}
