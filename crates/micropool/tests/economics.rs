//! Property tests of the pool's economics and conservation.
//!
//! Economics: random payer strategies against honest payees running the [`Payee`]
//! machine (credit limit `deposit / n` for `n` payees, the safe setting documented in
//! `docs/micropool.md`):
//! * honest: a [`Payer`] machine that never signs beyond the deposit;
//! * overspending: cheques to random payees with no regard for the deposit, some
//!   withheld after the chunk was served;
//! * colluding: as overspending, plus a colluding payee who settles a large cheque first.
//!
//! Claims: whenever collateral > deposit, a payer whose reserve ends slashed has a
//! negative net return (service received minus tokens lost by payer and colluder); no
//! strategy gains more than the cheques it withheld after being served (unprovable,
//! bounded per payee by the credit limit); with the honest payer, every honest payee that settles
//! before expiry is paid in full; in every run the payees together receive exactly
//! `min(settled claims, deposit)`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use common::*;
use micropool::*;
use primitives::{H256, Machine, SecretKey, Timestamp, U256};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Play {
    Honest,
    Overspend,
    Collude,
}

#[derive(Debug, Clone)]
struct Scenario {
    strategy: Play,
    deposit: u64,
    collateral: u64,
    payees: usize,
    /// (payee index, price, withhold the cheque)
    steps: Vec<(usize, u64, bool)>,
    collude_at: usize,
    collude_amount: u64,
    slash_to_reporter: bool,
    /// Overrides the safe `deposit / payees` credit limit.
    credit_limit: Option<u64>,
    /// Payee slots of the reserve (at least `payees`, up to the slot limit).
    max_payees: usize,
    /// What the mempool does with each submitted settlement, in turn: 0 include at once,
    /// 1 or 2 delay by that many blocks, 3 drop. The last submission a payee makes of a
    /// settlement (its `max_submissions`-th) is always included.
    fates: Vec<u8>,
    /// At the collusion step, the viewer also tries to pay itself and report itself.
    self_deal: bool,
}

fn scenario() -> impl proptest::strategy::Strategy<Value = Scenario> {
    (
        prop_oneof![Just(Play::Honest), Just(Play::Overspend), Just(Play::Collude)],
        10u64..1000,
        1usize..5,
        any::<bool>(),
    )
        .prop_flat_map(|(strategy, deposit, payees, slash_to_reporter)| {
            (
                (
                    Just(strategy),
                    Just(deposit),
                    (deposit + 1)..(3 * deposit),
                    Just(payees),
                    prop::collection::vec((0..payees, 1..=deposit / 4 + 1, prop::bool::weighted(0.2)), 1..30),
                    0usize..30,
                    1..=2 * deposit,
                    Just(slash_to_reporter),
                ),
                (
                    // Payees up to the slot limit: often exactly at it.
                    prop_oneof![Just(payees), payees..=8, Just(1024usize)],
                    prop::collection::vec(0u8..4, 1..12),
                    any::<bool>(),
                ),
            )
        })
        .prop_map(
            |(
                (strategy, deposit, collateral, payees, steps, collude_at, collude_amount, slash_to_reporter),
                (max_payees, fates, self_deal),
            )| {
                Scenario {
                    strategy,
                    deposit,
                    collateral,
                    payees,
                    steps,
                    collude_at,
                    collude_amount,
                    slash_to_reporter,
                    credit_limit: None,
                    max_payees,
                    fates,
                    self_deal,
                }
            },
        )
}

const START: u64 = 10;
const DURATION: u64 = 300;

fn proof_of(store: &MemoryStore) -> (H256, Vec<Vec<u8>>) {
    let state: BTreeMap<Vec<u8>, Vec<u8>> =
        store.reserves.values().map(|r| (r.key().as_bytes().to_vec(), r.encode())).collect();
    ToyStateProof::commit(&state)
}

struct Outcome {
    net_return: i128,
    withheld: u64,
    slashed: bool,
    served: Vec<u64>,
    paid: Vec<u64>,
    payees_paid_total: u64,
    claims_total: u64,
    deposit: u64,
    /// What the slashed collateral can pay shorted payees: `(collateral - deposit) / 2`.
    pool: u64,
    /// Per honest payee, what the honest payer signed it (the honest strategy only).
    signed: Vec<u64>,
    /// Paid to payees by settlements + slashed + returned at release.
    accounted: u64,
    /// Returned to the source at release.
    returned: u64,
    /// The source's balance at the end minus at the start.
    source_change: i128,
}

impl Outcome {
    /// The payees together receive the deposit first, then (once slashed) the
    /// compensation pool, up to what the settled cheques promised.
    fn payable(&self) -> u64 {
        self.claims_total.min(self.deposit + if self.slashed { self.pool } else { 0 })
    }
}

fn low(x: U256) -> u64 {
    x.low_u64()
}

fn colluder_refusal_is_expected(e: &Error) {
    assert!(
        matches!(
            e,
            Error::DepositExhausted { .. } | Error::BelowSlotUnit { .. } | Error::TooManyPayees { .. }
        ),
        "colluder settlement rejected: {e}"
    );
}

/// A submitted settlement waiting in the mempool.
struct Pending {
    due: u64,
    payee: usize,
    tx: ServicePayment,
}

/// The chain side of a run: the store, the mempool and the accounting of receipts.
struct Chain {
    store: MemoryStore,
    cfg: PoolConfig,
    mempool: Vec<Pending>,
    fates: Vec<u8>,
    next_fate: usize,
    /// Submissions seen per (payee, payment_seq).
    submissions: BTreeMap<(usize, u64), u32>,
    max_submissions: u32,
    end: u64,
    slashed: bool,
    accounted: u64,
}

impl Chain {
    /// A payee submitted `tx` at `height`: the mempool includes it now, later, or never.
    fn submit(&mut self, payee: usize, tx: ServicePayment, height: u64) {
        let n = self.submissions.entry((payee, tx.cheque.cheque.payment_seq)).or_default();
        *n += 1;
        let fate = self.fates[self.next_fate % self.fates.len()];
        self.next_fate += 1;
        let last_try = *n >= self.max_submissions;
        match fate {
            3 if !last_try => {}
            1 | 2 if !last_try => {
                let due = (height + u64::from(fate)).min(self.end);
                self.mempool.push(Pending { due, payee, tx });
            }
            _ => self.mempool.push(Pending { due: height, payee, tx }),
        }
    }

    /// Includes every settlement due by `height`; returns `(payee, payment_seq, result)`.
    fn include(&mut self, height: u64) -> Vec<(usize, u64, Result<Receipt, Error>)> {
        let (due, later): (Vec<_>, Vec<_>) = self.mempool.drain(..).partition(|p| p.due <= height);
        self.mempool = later;
        due.into_iter()
            .map(|p| {
                let r = settle(&mut self.store, &self.cfg, height, &p.tx);
                if let Ok(r) = &r {
                    self.slashed |= r.overspend_proven;
                    self.accounted += low(r.paid) + low(r.slashed);
                }
                (p.payee, p.tx.cheque.cheque.payment_seq, r)
            })
            .collect()
    }
}

fn run(s: &Scenario) -> Outcome {
    let cfg = PoolConfig {
        slash_to: if s.slash_to_reporter { SlashDestination::Reporter } else { SlashDestination::Burn },
        max_payees: s.max_payees.max(s.payees),
        ..PoolConfig::default()
    };
    let viewer = key(1);
    let colluder = key(9);
    let honest: Vec<SecretKey> = (0..s.payees).map(|i| key(20 + i as u8)).collect();
    let initial = 10 * (s.deposit + s.collateral);
    let mut store = MemoryStore::with_balances([(viewer.address(), u(initial))]);
    reserve_fund(&mut store, &cfg, START, &reserve_tx(&viewer, 1, s.deposit, s.collateral, DURATION))
        .unwrap();
    let unit = low(cfg.slot_unit(u(s.deposit)));

    let limit = s.credit_limit.unwrap_or((s.deposit / s.payees as u64).max(1));
    let pcfg = PayeeConfig {
        chain_id: CHAIN,
        block_time_ms: 1000,
        credit_limit: u(limit),
        min_remaining: u(1),
        settle_threshold: u(limit.div_ceil(2)),
        settle_margin_blocks: 10,
        fee: U256::zero(),
        resubmit_after_ms: 5_000,
        max_submissions: 3,
    };
    let mut machines: Vec<Payee<ToyStateProof, SecretKey>> = honest
        .iter()
        .map(|k| {
            Payee::new(
                pcfg.clone(),
                PayeeContext { verifier: ToyStateProof, signer: k.clone() },
                Timestamp(0),
                [0; 32],
            )
        })
        .collect();
    let mut alive = vec![true; s.payees];
    let handshake = |store: &MemoryStore, height: u64| {
        let (state_root, proof) = proof_of(store);
        PayeeInput::Handshake { source: viewer.address(), reserve_seq: 1, state_root, height, proof }
    };
    for m in machines.iter_mut() {
        m.handle(Timestamp(0), handshake(&store, START)).unwrap();
        while m.poll_output().is_some() {}
    }
    let mut payer = Payer::new(
        PayerConfig {
            chain_id: CHAIN,
            reserve_seq: 1,
            deposit: u(s.deposit),
            slot_unit: u(unit),
            expires_at: Timestamp(DURATION * 1000),
        },
        viewer.clone(),
        Timestamp(0),
        [0; 32],
    );
    let mut chain = Chain {
        store,
        cfg: cfg.clone(),
        mempool: Vec::new(),
        fates: s.fates.clone(),
        next_fate: 0,
        submissions: BTreeMap::new(),
        max_submissions: pcfg.max_submissions,
        end: START + DURATION,
        slashed: false,
        accounted: 0,
    };
    let mut cheat_owed: Vec<(u64, u64)> = vec![(0, 0); s.payees];
    let mut served = vec![0u64; s.payees];
    let mut withheld = 0u64;

    // Hands a machine's settlements to the mempool.
    let collect = |i: usize, m: &mut Payee<ToyStateProof, SecretKey>, chain: &mut Chain, height: u64| {
        while let Some(o) = m.poll_output() {
            if let PayeeOutput::Submit(tx) = o {
                chain.submit(i, tx, height);
            }
        }
    };
    // One block: every live payee whose timer is due wakes up (and may submit); then the
    // mempool's due settlements land and their payees hear of it.
    let block = |machines: &mut Vec<Payee<ToyStateProof, SecretKey>>,
                 alive: &mut Vec<bool>,
                 chain: &mut Chain,
                 height: u64| {
        let now = Timestamp((height - START) * 1000);
        for (i, m) in machines.iter_mut().enumerate() {
            if alive[i] && m.poll_timeout().is_some_and(|t| t <= now) {
                m.handle(now, PayeeInput::Timeout).unwrap();
                collect(i, m, chain, height);
            }
        }
        for (i, seq, r) in chain.include(height) {
            match r {
                Ok(_) => {
                    let m = &mut machines[i];
                    m.handle(
                        now,
                        PayeeInput::Settled { source: viewer.address(), reserve_seq: 1, payment_seq: seq },
                    )
                    .unwrap();
                    if alive[i] && m.handle(now, handshake(&chain.store, height)).is_err() {
                        alive[i] = false;
                    }
                    collect(i, m, chain, height);
                }
                Err(Error::DepositExhausted { .. }) => alive[i] = false,
                // Only an overspender's slots run out (its own payees took them).
                Err(Error::TooManyPayees { .. }) => {
                    assert!(chain.store.reserve(&viewer.address(), 1).unwrap().slashed, "slots ran out");
                    alive[i] = false;
                }
                // A delayed copy landing after a resubmission (or a newer settlement).
                Err(Error::StalePaymentSeq { .. }) => {}
                Err(e) => panic!("honest settlement rejected: {e}"),
            }
        }
    };

    for (step, &(i, price, withhold)) in s.steps.iter().enumerate() {
        let height = START + 1 + step as u64;
        let now = Timestamp((height - START) * 1000);
        block(&mut machines, &mut alive, &mut chain, height);
        if step == s.collude_at.min(s.steps.len() - 1) {
            if s.strategy == Play::Collude {
                let tx = pay(&viewer, 1, &colluder, s.collude_amount, 1);
                // It may find the deposit already gone (an honest payee revealed the overspend).
                match settle(&mut chain.store, &cfg, height, &tx) {
                    Ok(r) => {
                        chain.slashed |= r.overspend_proven;
                        chain.accounted += low(r.paid) + low(r.slashed);
                    }
                    Err(e) => colluder_refusal_is_expected(&e),
                }
            }
            if s.self_deal {
                let before = chain.store.clone();
                let own = pay(&viewer, 1, &viewer, s.collude_amount, 1);
                assert_eq!(
                    settle(&mut chain.store, &cfg, height, &own),
                    Err(Error::SelfPayment { source_addr: viewer.address() })
                );
                let evidence = vec![cheque(&viewer, 1, colluder.address(), s.collude_amount + s.deposit, 2)];
                assert_eq!(
                    report_overspend(&mut chain.store, &cfg, height, &report(&viewer, evidence)),
                    Err(Error::ReporterIsSource { source_addr: viewer.address() })
                );
                assert_eq!(before, chain.store);
            }
        }
        if !alive[i] {
            continue;
        }
        if s.strategy == Play::Honest {
            // The honest payer's first cheque to a peer is rounded up to the slot unit.
            let adds = if payer.owed_to(&honest[i].address()).is_zero() { price.max(unit) } else { price };
            if payer.signed_total() + u(adds) > u(s.deposit) {
                continue;
            }
        }
        let m = &mut machines[i];
        let req = PayeeInput::ChunkRequest {
            source: viewer.address(),
            reserve_seq: 1,
            resource_id: rid(),
            price: u(price),
        };
        m.handle(now, req).unwrap();
        let serve = matches!(m.poll_output(), Some(PayeeOutput::Event(PayeeEvent::Serve { .. })));
        if !serve {
            continue;
        }
        served[i] += price;
        let cheque = match s.strategy {
            Play::Honest => {
                payer
                    .handle(
                        now,
                        PayerInput::ChunkReceived {
                            peer: honest[i].address(),
                            resource_id: rid(),
                            price: u(price),
                        },
                    )
                    .unwrap();
                match payer.poll_output() {
                    Some(PayerOutput::Send { cheque, .. }) => Some(cheque),
                    other => panic!("honest payer did not pay: {other:?}"),
                }
            }
            _ if withhold => {
                withheld += price;
                None
            }
            _ => {
                let (seq, amount) = &mut cheat_owed[i];
                *seq += 1;
                *amount += price;
                Some(cheque(&viewer, 1, honest[i].address(), *amount, *seq))
            }
        };
        if let Some(c) = cheque {
            // The payee refuses a cheater's dust first cheque (below the slot unit it could
            // never settle); every other cheque is kept.
            let dust = c.cheque.amount < u(unit) && !matches!(s.strategy, Play::Honest);
            match m.handle(now, PayeeInput::Cheque(c)) {
                Ok(()) => {}
                Err(Error::BelowSlotUnit { .. }) if dust => {}
                Err(e) => panic!("cheque refused: {e:?}"),
            }
        }
        collect(i, m, &mut chain, height);
    }
    // The last blocks before the end: timers fire, settlements (and their resubmissions)
    // land, up to the end height.
    for height in (START + DURATION - 10)..=(START + DURATION) {
        block(&mut machines, &mut alive, &mut chain, height);
    }
    let mut store = chain.store;
    let rec = store.reserve(&viewer.address(), 1).unwrap();
    let paid: Vec<u64> =
        honest.iter().map(|k| rec.transfer(&k.address()).map_or(0, |t| low(t.paid))).collect();
    // A cheater's cheques that never reached the slot unit cannot settle: service paid
    // with dust is as unpaid as a withheld cheque (less than a slot unit per payee).
    for (i, k) in honest.iter().enumerate() {
        let (_, owed) = cheat_owed[i];
        if rec.transfer(&k.address()).is_none() && owed < unit {
            withheld += owed;
        }
    }
    let claims_total = rec.transfers.iter().map(|t| low(t.promised)).sum();
    let payees_paid_total = rec.transfers.iter().map(|t| low(t.paid)).sum();
    let r = release_fund(
        &mut store,
        &cfg,
        START + DURATION + cfg.freeze_period,
        &release(&colluder, viewer.address(), 1),
    )
    .unwrap();

    let coalition_after = low(store.balance(&viewer.address())) + low(store.balance(&colluder.address()));
    let service: u64 = served.iter().sum();
    Outcome {
        net_return: service as i128 + coalition_after as i128 - initial as i128,
        withheld,
        slashed: chain.slashed || rec.slashed,
        served,
        paid,
        payees_paid_total,
        claims_total,
        deposit: s.deposit,
        pool: (s.collateral - s.deposit) / 2,
        signed: honest.iter().map(|k| low(payer.owed_to(&k.address()))).collect(),
        accounted: chain.accounted + low(r.slashed) + low(r.paid),
        returned: low(r.paid),
        source_change: low(store.balance(&viewer.address())) as i128 - initial as i128,
    }
}

/// The claims of the module docs for one run.
fn check(s: &Scenario) -> Result<(), TestCaseError> {
    let o = run(s);
    // The reporter reward is only collusion-proof when the reporter is not the
    // colluder; with burning, the bound holds for every strategy.
    let reporter_is_colluder = s.slash_to_reporter && s.strategy == Play::Collude;
    if !reporter_is_colluder {
        // Without a slash, the payer can at most keep chunks it never paid for, which
        // payees risk knowingly (bounded by their credit limit); no signed evidence
        // exists for them.
        prop_assert!(o.net_return <= o.withheld as i128, "net return {} in {:?}", o.net_return, s);
        if o.slashed {
            prop_assert!(o.net_return < 0, "slashed cheater broke even in {:?}", s);
        }
    }
    if s.strategy == Play::Honest {
        prop_assert!(!o.slashed);
        // Every payee holding the honest payer's cheques is paid exactly what they
        // promise, despite dropped and delayed settlements, and that covers what it
        // served (the first cheque is rounded up to the slot unit).
        prop_assert_eq!(&o.paid, &o.signed, "honest payees not paid in full");
        prop_assert!(o.paid.iter().zip(&o.served).all(|(p, s)| p >= s));
    }
    prop_assert_eq!(o.payees_paid_total, o.payable());
    prop_assert_eq!(o.accounted, s.deposit + s.collateral, "paid + slashed + returned");
    if o.slashed {
        prop_assert_eq!(o.returned, 0);
        prop_assert_eq!(o.source_change, -((s.deposit + s.collateral) as i128));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn cheating_never_pays_and_honest_payees_are_paid(s in scenario()) {
        check(&s)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// The same claims over 2000 strategies: `cargo test -p micropool --release --test
    /// economics -- --ignored`.
    #[test]
    #[ignore = "heavy sweep: 2000 random payer strategies, run with --release --ignored"]
    fn cheating_never_pays_sweep(s in scenario()) {
        check(&s)?;
    }
}

fn collusion(payees: usize, credit_limit: Option<u64>) -> Scenario {
    Scenario {
        strategy: Play::Collude,
        deposit: 100,
        collateral: 101,
        payees,
        steps: (0..40).map(|i| (i % payees, 5, false)).collect(),
        collude_at: 0,
        collude_amount: 100,
        slash_to_reporter: false,
        credit_limit,
        max_payees: 1024,
        fates: vec![0],
        self_deal: false,
    }
}

#[test]
fn colluder_settling_first_gets_the_payer_slashed_at_a_loss() {
    let o = run(&collusion(4, None));
    assert!(o.slashed);
    // The colluder took the whole deposit back; each honest payee served at most its
    // credit limit (25) unpaid before the slash stopped it, and the payer lost the
    // 101 collateral.
    assert!(o.net_return < 0, "net return {}", o.net_return);
    assert_eq!(o.payees_paid_total, 100);
}

#[test]
fn the_credit_limit_is_what_bounds_the_gain() {
    // Payees that each risk the whole deposit let a colluding payer profit: the
    // whitepaper's "collateral > deposit" alone is not enough with many payees.
    let o = run(&collusion(4, Some(100)));
    assert!(o.slashed);
    assert!(o.net_return > 0, "net return {}", o.net_return);
}

#[derive(Debug, Clone)]
enum Op {
    Reserve { seq: u64, deposit: u64, extra: u64, duration: u64 },
    Pay { seq: u64, payee: u8, amount: u64, pseq: u64, fee: u64 },
    Release { seq: u64, fee: u64 },
    Report { seq: u64, a: u64, b: u64 },
    Advance(u64),
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    prop_oneof![
        (1u64..4, 1u64..200, 0u64..100, 250u64..400)
            .prop_map(|(seq, deposit, extra, duration)| Op::Reserve { seq, deposit, extra, duration }),
        (1u64..4, 0u8..3, 0u64..300, 0u64..6, 0u64..3).prop_map(|(seq, payee, amount, pseq, fee)| Op::Pay {
            seq,
            payee,
            amount,
            pseq,
            fee
        }),
        (1u64..4, 0u64..3).prop_map(|(seq, fee)| Op::Release { seq, fee }),
        (1u64..4, 0u64..200, 0u64..200).prop_map(|(seq, a, b)| Op::Report { seq, a, b }),
        (1u64..200).prop_map(Op::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Balances plus locked funds change only by fees and burned slashes; a rejected
    /// transaction changes nothing.
    #[test]
    fn conservation(ops in prop::collection::vec(op(), 1..40), reporter_gets in any::<bool>()) {
        let cfg = PoolConfig {
            min_fee: u(1),
            slash_to: if reporter_gets { SlashDestination::Reporter } else { SlashDestination::Burn },
            ..PoolConfig::default()
        };
        let viewer = key(1);
        let payees = [key(2), key(3), key(4)];
        let mut store = MemoryStore::with_balances(
            [(viewer.address(), u(2000))].into_iter().chain(payees.iter().map(|k| (k.address(), u(5)))),
        );
        let mut height = 1u64;
        let mut out_of_accounts = U256::zero();
        for op in ops {
            let tx = match op {
                Op::Advance(n) => { height += n; continue; }
                Op::Reserve { seq, deposit, extra, duration } => {
                    let mut t = reserve_tx(&viewer, seq, deposit, deposit + extra, duration);
                    t.fee = u(1);
                    Transaction::Reserve(t.signed(&viewer, CHAIN))
                }
                Op::Pay { seq, payee, amount, pseq, fee } => {
                    let k = &payees[payee as usize];
                    let c = cheque(&viewer, seq, k.address(), amount, pseq);
                    Transaction::Pay(ServicePayment::countersign(c, u(fee), k, CHAIN))
                }
                Op::Release { seq, fee } => {
                    let mut t = release(&payees[0], viewer.address(), seq);
                    t.fee = u(fee);
                    Transaction::Release(t.signed(&payees[0], CHAIN))
                }
                Op::Report { seq, a, b } => {
                    let ev = vec![cheque(&viewer, seq, payees[1].address(), a, 1), cheque(&viewer, seq, payees[2].address(), b, 1)];
                    let mut t = report(&payees[2], ev);
                    t.fee = u(1);
                    Transaction::Report(t.signed(&payees[2], CHAIN))
                }
            };
            let before = store.clone();
            match execute(&mut store, &cfg, height, &tx) {
                Ok(r) => {
                    prop_assert_eq!(before.total_supply(), store.total_supply() + r.fee + r.burned);
                    out_of_accounts += r.fee + r.burned;
                }
                Err(_) => prop_assert_eq!(&before, &store),
            }
            for r in store.reserves.values() {
                prop_assert!(r.used <= r.deposit);
                prop_assert!(r.slashed || r.collateral > r.deposit);
            }
        }
        prop_assert_eq!(store.total_supply() + out_of_accounts, u(2015));
    }
}
