//! Model-based property tests of the pool rules against adversarial viewers.
//!
//! A viewer pays up to `max_payees` honest payees cumulative cheques (every first cheque
//! at least the slot unit, as the honest [`Payer`] signs them) and also plays against
//! them: it settles cheques to throwaway addresses of its own (within the deposit, or
//! overspending), tries to pay itself and to report itself; an independent reporter
//! reports what it sees. Honest settlements are submitted in any order, some delayed
//! behind newer ones (then stale), some dropped; each honest payee present at the end
//! settles its newest cheque before the end height.
//!
//! Invariants, checked against a model of what the source signed:
//! * every rule either applies or fails with an expected error, leaving the store
//!   untouched; the source's self-payment and self-report are always refused;
//! * conservation per reserve: paid out to payees + slashed + returned to the source ==
//!   deposit + collateral;
//! * while the source's cheques stay within the deposit, no slash happens and no honest
//!   payee holding a valid cheque is paid less than it (slots never run out);
//! * an honest payee is never paid more than its newest cheque;
//! * once slashed, the source never recovers collateral (release returns nothing), and
//!   with burning, the coalition of the source and its throwaways gets back at most the
//!   deposit plus the compensation pool, less than it locked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use common::*;
use micropool::*;
use primitives::{Address, SecretKey, U256};
use proptest::prelude::*;

const START: u64 = 10;
const DURATION: u64 = 300;

#[derive(Debug, Clone)]
enum Act {
    /// Honest payee `i` submits its cheque number `t` (modulo its count): possibly older
    /// than one already settled (a delayed settlement, refused as stale).
    SettleHonest { i: usize, t: usize },
    /// The viewer raises throwaway `j`'s cumulative cheque by `amount` and settles it.
    Throwaway { j: u32, amount: u64 },
    /// The viewer settles a cheque to itself.
    SelfPay { amount: u64 },
    /// The viewer reports its own cheques as an overspend.
    SelfReport,
    /// An independent reporter submits every newest cheque it has seen.
    Report,
    /// Blocks pass.
    Advance(u64),
}

#[derive(Debug, Clone)]
struct Model {
    deposit: u64,
    collateral: u64,
    max_payees: usize,
    /// The chain's `max_payees` once the reserve is made (a configuration change, lower
    /// or higher): the record keeps the slots its slot unit promised.
    later_max_payees: usize,
    /// Throwaway settlements stay within what the honest payees leave of the deposit.
    within: bool,
    slash_to_reporter: bool,
    /// Per honest payee: the cumulative amounts of its cheques (ascending, the first at
    /// least the slot unit), and whether it settles its newest at the end.
    honest: Vec<(Vec<u64>, bool)>,
    acts: Vec<Act>,
}

fn unit_of(deposit: u64, max_payees: usize) -> u64 {
    deposit.div_ceil(max_payees as u64).max(1)
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        4 => (0usize..8, 0usize..4).prop_map(|(i, t)| Act::SettleHonest { i, t }),
        3 => (0u32..6, 1u64..120).prop_map(|(j, amount)| Act::Throwaway { j, amount }),
        1 => (1u64..100).prop_map(|amount| Act::SelfPay { amount }),
        1 => Just(Act::SelfReport),
        1 => Just(Act::Report),
        1 => (1u64..40).prop_map(Act::Advance),
    ]
}

fn model() -> impl Strategy<Value = Model> {
    (10u64..400, 1usize..=8, any::<bool>(), any::<bool>(), prop_oneof![1 => 1usize..=12, 2 => Just(0)])
        .prop_flat_map(|(deposit, max_payees, within, slash_to_reporter, later)| {
            // `0`: no change.
            let later_max_payees = if later == 0 { max_payees } else { later };
            let unit = unit_of(deposit, max_payees);
            // Up to the slot limit, as many honest payees as the deposit can give a slot.
            let most = (max_payees as u64).min(deposit / unit) as usize;
            (
                (deposit + 1)..(3 * deposit),
                prop::collection::vec((0u64..100, 1usize..=3, prop::bool::weighted(0.85)), 0..=most),
                0u64..=100,
                prop::collection::vec(act(), 0..40),
            )
                .prop_map(move |(collateral, payees, share, acts)| {
                    let k = payees.len() as u64;
                    // What the honest payees are promised beyond their slot units: `share`
                    // percent of what the units leave of the deposit, split by weight.
                    let spare = (deposit - k * unit) * share / 100;
                    let weights: u64 = payees.iter().map(|p| p.0).sum::<u64>().max(1);
                    let honest = payees
                        .iter()
                        .map(|&(w, n, present)| {
                            let extra = spare * w / weights;
                            let amounts = (1..=n as u64).map(|t| unit + extra * t / n as u64).collect();
                            (amounts, present)
                        })
                        .collect();
                    Model {
                        deposit,
                        collateral,
                        max_payees,
                        later_max_payees,
                        within,
                        slash_to_reporter,
                        honest,
                        acts,
                    }
                })
        })
}

/// The model's view of the source's signatures: per payee, the newest cheque signed.
#[derive(Default)]
struct Signed(BTreeMap<Address, SignedCheque>);

impl Signed {
    fn sign(&mut self, v: &SecretKey, target: Address, amount: u64, seq: u64) -> SignedCheque {
        let c = cheque(v, 1, target, amount, seq);
        let newer = self.0.get(&target).is_none_or(|old| old.cheque.amount < c.cheque.amount);
        if newer {
            self.0.insert(target, c.clone());
        }
        c
    }
    fn total(&self) -> u64 {
        self.0.values().map(|c| c.cheque.amount.low_u64()).sum()
    }
}

struct Ledger {
    store: MemoryStore,
    cfg: PoolConfig,
    /// Paid to payees by settlements, slashed, returned to the source at release.
    paid: u64,
    slashed: u64,
    returned: u64,
    /// What the source's throwaways received (the coalition's recovery).
    throwaways: u64,
}

impl Ledger {
    /// Applies `tx`; on error checks the store is untouched and returns the error.
    fn apply(&mut self, height: u64, tx: &Transaction) -> Result<Receipt, Error> {
        let before = self.store.clone();
        let r = execute(&mut self.store, &self.cfg, height, tx);
        match &r {
            Ok(r) => {
                assert_eq!(before.total_supply(), self.store.total_supply() + r.fee + r.burned);
                self.slashed += r.slashed.low_u64();
                match tx {
                    Transaction::Release(_) => self.returned += r.paid.low_u64(),
                    _ => self.paid += r.paid.low_u64(),
                }
            }
            Err(_) => assert_eq!(before, self.store, "a rejected transaction changed the store"),
        }
        r
    }
}

fn check(m: &Model) -> Result<(), TestCaseError> {
    let cfg = PoolConfig {
        max_payees: m.max_payees,
        slash_to: if m.slash_to_reporter { SlashDestination::Reporter } else { SlashDestination::Burn },
        ..PoolConfig::default()
    };
    let unit = unit_of(m.deposit, m.max_payees);
    prop_assert_eq!(cfg.slot_unit(u(m.deposit)), u(unit));
    let v = key(1);
    let initial = 10 * (m.deposit + m.collateral);
    let mut l = Ledger {
        store: MemoryStore::with_balances([(v.address(), u(initial))]),
        cfg,
        paid: 0,
        slashed: 0,
        returned: 0,
        throwaways: 0,
    };
    l.apply(START, &Transaction::Reserve(reserve_tx(&v, 1, m.deposit, m.collateral, DURATION))).unwrap();
    l.cfg.max_payees = m.later_max_payees;
    let end = START + DURATION;
    let honest: Vec<SecretKey> = (0..m.honest.len()).map(|i| key(20 + i as u8)).collect();
    let reporter = key(50);
    let mut signed = Signed::default();
    // The honest payees' cheques are all signed up front (the viewer paid for service as
    // it went); what varies is when, and whether, they are settled.
    let cheques: Vec<Vec<SignedCheque>> = m
        .honest
        .iter()
        .zip(&honest)
        .map(|((amounts, _), k)| {
            amounts.iter().enumerate().map(|(t, &a)| signed.sign(&v, k.address(), a, t as u64 + 1)).collect()
        })
        .collect();
    let honest_total = signed.total();
    prop_assert!(honest_total <= m.deposit);
    let mut throwaway_owed: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    let mut height = START + 1;

    let settle_honest = |l: &mut Ledger, height: u64, i: usize, t: usize| -> Result<Receipt, Error> {
        let tx = ServicePayment::countersign(cheques[i][t].clone(), U256::zero(), &honest[i], CHAIN);
        l.apply(height, &Transaction::Pay(tx))
    };
    let mut honest_errors = Vec::new();

    for a in &m.acts {
        match *a {
            Act::Advance(n) => height = (height + n).min(end),
            Act::SettleHonest { i, t } => {
                if m.honest.is_empty() {
                    continue;
                }
                let i = i % m.honest.len();
                let t = t % cheques[i].len();
                if let Err(e) = settle_honest(&mut l, height, i, t) {
                    honest_errors.push(e);
                }
            }
            Act::Throwaway { j, amount } => {
                let k = key(60 + j as u8);
                let (seq, owed) = throwaway_owed.entry(j).or_default();
                let amount = if m.within {
                    // Within the deposit: at most what the other cheques leave.
                    let room = m.deposit - signed.total();
                    let add = amount.min(room);
                    if add == 0 {
                        continue;
                    }
                    add
                } else {
                    amount
                };
                *seq += 1;
                *owed += amount;
                let c = signed.sign(&v, k.address(), *owed, *seq);
                let tx = ServicePayment::countersign(c, U256::zero(), &k, CHAIN);
                match l.apply(height, &Transaction::Pay(tx)) {
                    Ok(r) => l.throwaways += r.paid.low_u64(),
                    Err(e) => prop_assert!(
                        matches!(
                            e,
                            Error::BelowSlotUnit { .. }
                                | Error::TooManyPayees { .. }
                                | Error::DepositExhausted { .. }
                        ),
                        "throwaway settlement: {e}"
                    ),
                }
            }
            Act::SelfPay { amount } => {
                let tx = ServicePayment::countersign(
                    cheque(&v, 1, v.address(), amount, 1),
                    U256::zero(),
                    &v,
                    CHAIN,
                );
                prop_assert_eq!(
                    l.apply(height, &Transaction::Pay(tx)),
                    Err(Error::SelfPayment { source_addr: v.address() })
                );
            }
            Act::SelfReport | Act::Report => {
                let evidence: Vec<SignedCheque> =
                    signed.0.values().take(l.cfg.max_evidence).cloned().collect();
                if evidence.is_empty() {
                    continue;
                }
                let by = if matches!(a, Act::SelfReport) { &v } else { &reporter };
                match l.apply(height, &Transaction::Report(report(by, evidence))) {
                    Ok(r) => {
                        prop_assert!(r.overspend_proven);
                        prop_assert!(signed.total() > m.deposit, "slashed within the deposit");
                    }
                    Err(Error::ReporterIsSource { .. }) => prop_assert!(matches!(a, Act::SelfReport)),
                    Err(e) => {
                        prop_assert!(matches!(a, Act::Report), "self-report not refused as such: {e}");
                        prop_assert!(
                            matches!(e, Error::NoOverspend { .. } | Error::AlreadySlashed { .. }),
                            "report: {e}"
                        );
                    }
                }
            }
        }
    }
    // Before the end, every present honest payee settles its newest cheque (unless a
    // settlement of it already landed).
    for (i, (_, present)) in m.honest.iter().enumerate() {
        let last = cheques[i].len() - 1;
        let settled_seq =
            l.store.reserve(&v.address(), 1).unwrap().transfer(&honest[i].address()).map(|t| t.payment_seq);
        if *present
            && settled_seq != Some(last as u64 + 1)
            && let Err(e) = settle_honest(&mut l, end, i, last)
        {
            honest_errors.push(e);
        }
    }

    let rec = l.store.reserve(&v.address(), 1).unwrap();
    let overspent = signed.total() > m.deposit;
    if !overspent {
        prop_assert!(!rec.slashed, "slashed without an overspend");
        for e in &honest_errors {
            // Stale: a delayed older cheque; nothing to settle: a newer cheque adding nothing.
            prop_assert!(
                matches!(e, Error::StalePaymentSeq { .. } | Error::NothingToSettle { .. }),
                "honest payee refused: {e}"
            );
        }
    }
    for (i, (amounts, present)) in m.honest.iter().enumerate() {
        let paid = rec.transfer(&honest[i].address()).map_or(0, |t| t.paid.low_u64());
        let newest = *amounts.last().unwrap();
        prop_assert!(paid <= newest, "payee {i} paid {paid} above its cheque {newest}");
        if *present && !overspent {
            prop_assert_eq!(paid, newest, "honest payee {} paid less than its valid cheque", i);
        }
    }
    prop_assert!(rec.transfers.len() <= m.max_payees.max(m.later_max_payees));

    let balance_before_release = l.store.balance(&v.address()).low_u64();
    let r = l
        .apply(end + l.cfg.freeze_period, &Transaction::Release(release(&reporter, v.address(), 1)))
        .unwrap();
    prop_assert_eq!(l.paid + l.slashed + l.returned, m.deposit + m.collateral, "conservation");
    prop_assert_eq!(l.store.balance(&v.address()).low_u64(), balance_before_release + r.paid.low_u64());
    if rec.slashed {
        prop_assert_eq!(r.paid, U256::zero(), "the source recovered collateral after overspending");
        prop_assert_eq!(l.store.balance(&v.address()).low_u64(), initial - m.deposit - m.collateral);
        if !m.slash_to_reporter {
            let pool = (m.collateral - m.deposit) / 2;
            prop_assert!(l.throwaways <= m.deposit + pool);
            prop_assert!(l.throwaways < m.deposit + m.collateral);
        }
    } else {
        prop_assert_eq!(r.paid.low_u64(), m.deposit + m.collateral - l.paid);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn adversarial_viewers_against_the_rules(m in model()) {
        check(&m)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// The same invariants over 3000 runs: `cargo test -p micropool --release --test
    /// pool_model -- --ignored`.
    #[test]
    #[ignore = "heavy sweep: run with --release --ignored"]
    fn adversarial_viewers_against_the_rules_sweep(m in model()) {
        check(&m)?;
    }
}

#[test]
fn the_slot_limit_is_reachable_by_honest_payees() {
    // max_payees honest payees of exactly a slot unit each fill every slot, all paid.
    let m = Model {
        deposit: 96,
        collateral: 100,
        max_payees: 8,
        later_max_payees: 8,
        within: true,
        slash_to_reporter: false,
        honest: (0..8).map(|_| (vec![12], true)).collect(),
        acts: vec![Act::Throwaway { j: 0, amount: 5 }, Act::Report],
    };
    check(&m).unwrap();
}

#[test]
fn the_slot_limit_survives_a_lower_max_payees_after_the_reserve() {
    // The reserve was made under 8 slots (unit 12); the chain then allows 3 per record.
    // Eight honest payees of a unit each, and a throwaway within the deposit: all paid.
    let m = Model {
        deposit: 96,
        collateral: 100,
        max_payees: 8,
        later_max_payees: 3,
        within: true,
        slash_to_reporter: false,
        honest: (0..7).map(|_| (vec![12], true)).collect(),
        acts: vec![Act::Throwaway { j: 0, amount: 12 }, Act::SettleHonest { i: 0, t: 0 }, Act::Report],
    };
    check(&m).unwrap();
}
