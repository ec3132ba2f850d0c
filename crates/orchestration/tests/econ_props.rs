//! Property tests of the staking books over random histories of bond, move, unbond,
//! rebond, withdraw, claim, reward, fee, rate-change and slash operations:
//!
//! * every delegator's O(1) claim (stake, pending stake, fees, locks) equals a
//!   brute-force model that updates every delegator's balance on every event;
//! * stake and fees paid out plus what is still claimable never exceed what was bonded,
//!   minted and earned (the dust stays in the pools), and the pools' books balance;
//! * a refused call changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;

use orchestration::job::{Capability, Hardware, JobKind, VerificationPolicy};
use orchestration::registry::{PPM, Registry, RegistryConfig, Rounds, ServiceRecord, StakeView};
use orchestration::slashing::{ComputeClaim, FaultJudge, FaultProof, Slasher, SlashingConfig};
use orchestration::staking::{Staking, StakingConfig};
use primitives::{Address, H256, SecretKey, U256, keccak256};
use proptest::prelude::*;
use transcode_verify::{Evidence, RenditionFacts};

const ROUNDS: Rounds = Rounds { length: 100, lock_blocks: 10 };
const REWARD: u128 = 100_000_000;
/// Model balances are kept in 10^-9 units.
const SC: u128 = 1_000_000_000;
const N_ORCH: usize = 2;
const N_DEL: usize = 6; // 0 and 1 are the orchestrators themselves

#[derive(Clone, Debug)]
enum Op {
    Bond { d: usize, o: usize, amount: u64 },
    Move { d: usize, o: usize },
    Unbond { d: usize, all: bool },
    Rebond { d: usize, lock: usize },
    RebondTo { d: usize, lock: usize, o: usize },
    Withdraw { d: usize, lock: usize },
    Claim { d: usize },
    WithdrawFees { d: usize },
    NextRound,
    Reward { o: usize },
    Fees { o: usize, amount: u64, age: u64 },
    Rates { o: usize, cut: u32, share: u32 },
    Slash { o: usize, ppm: u32 },
}

fn op() -> impl Strategy<Value = Op> {
    let d = 0..N_DEL;
    let o = 0..N_ORCH;
    prop_oneof![
        4 => (d.clone(), o.clone(), 1_000_000_000u64..1_000_000_000_000).prop_map(|(d, o, amount)| Op::Bond { d, o, amount }),
        1 => (d.clone(), o.clone()).prop_map(|(d, o)| Op::Move { d, o }),
        2 => (d.clone(), any::<bool>()).prop_map(|(d, all)| Op::Unbond { d, all }),
        1 => (d.clone(), 0..3usize).prop_map(|(d, lock)| Op::Rebond { d, lock }),
        1 => (d.clone(), 0..3usize, o.clone()).prop_map(|(d, lock, o)| Op::RebondTo { d, lock, o }),
        1 => (d.clone(), 0..3usize).prop_map(|(d, lock)| Op::Withdraw { d, lock }),
        1 => d.clone().prop_map(|d| Op::Claim { d }),
        1 => d.clone().prop_map(|d| Op::WithdrawFees { d }),
        3 => Just(Op::NextRound),
        3 => o.clone().prop_map(|o| Op::Reward { o }),
        3 => (o.clone(), 1u64..10_000_000_000, 0..3u64).prop_map(|(o, amount, age)| Op::Fees { o, amount, age }),
        1 => (o.clone(), 0..=PPM, 0..=PPM).prop_map(|(o, cut, share)| Op::Rates { o, cut, share }),
        1 => (o, 1..=500_000u32).prop_map(|(o, ppm)| Op::Slash { o, ppm }),
    ]
}

#[derive(Clone, Debug, Default)]
struct MDel {
    delegate: Option<usize>,
    earning: u128,
    pending: u128,
    pending_round: u64,
    fees: u128,
    /// Real lock id, orchestrator, amount, withdraw round.
    locks: Vec<(u64, usize, u128, u64)>,
}

struct World {
    reg: Registry,
    st: Staking,
    slasher: Slasher,
    keys: Vec<SecretKey>,
    orchs: Vec<Address>,
    dels: Vec<Address>,
    model: Vec<MDel>,
    /// Committed (cut, share) per orchestrator per round.
    rates: Vec<BTreeMap<u64, (u32, u32)>>,
    rewarded: Vec<Option<u64>>,
    round: u64,
    job: u64,
    ops: u128,
}

struct Judge;

impl FaultJudge for Judge {
    fn probe(&self, _: &[u8]) -> Option<RenditionFacts> {
        None
    }
    fn confirm_perceptual(&self, _: &Evidence, _: &[u8], _: &[Vec<u8>]) -> bool {
        false
    }
    fn reexecute(&self, _: &str, input: &[u8]) -> Option<H256> {
        Some(keccak256(input))
    }
}

fn record(o: Address, cut: u32, share: u32) -> ServiceRecord {
    ServiceRecord {
        orchestrator: o,
        service_uri: "https://o.example".into(),
        capabilities: vec![Capability {
            kind: JobKind::Transcode { profile: "P720P30".into(), hardware: Hardware::Cpu },
            price_per_unit: U256::one(),
            verification: VerificationPolicy::Sampled { rate: 5 },
        }],
        regions: vec![],
        reward_cut: cut,
        fee_share: share,
    }
}

/// `a · b / c` without overflow.
fn md(a: u128, b: u128, c: u128) -> u128 {
    (U256::from(a) * U256::from(b) / U256::from(c)).as_u128()
}

fn u(x: U256) -> u128 {
    x.as_u128()
}

impl World {
    fn new() -> Self {
        let keys: Vec<SecretKey> =
            (0..N_ORCH).map(|i| SecretKey::from_bytes([i as u8 + 1; 32]).unwrap()).collect();
        let orchs: Vec<Address> = keys.iter().map(SecretKey::address).collect();
        let mut dels = orchs.clone();
        dels.extend((N_ORCH..N_DEL).map(|i| Address::from_low_u64_be(1_000 + i as u64)));
        let mut reg = Registry::new(RegistryConfig {
            rounds: ROUNDS,
            min_stake: U256::one(),
            ..RegistryConfig::default()
        })
        .unwrap();
        let mut rates = vec![BTreeMap::new(); N_ORCH];
        for (i, o) in orchs.iter().enumerate() {
            reg.register(record(*o, 200_000 * i as u32 + 100_000, 500_000), 0).unwrap();
            rates[i].insert(1, (200_000 * i as u32 + 100_000, 500_000));
        }
        let mut st = Staking::new(StakingConfig {
            rounds: ROUNDS,
            unbonding_period: 2,
            reward_per_round: U256::from(REWARD),
            ticket_validity_period: 2,
        })
        .unwrap();
        st.initialize_round(100, &reg).unwrap();
        let slasher = Slasher::new(SlashingConfig { fraction_ppm: 1, ..SlashingConfig::default() }).unwrap();
        World {
            reg,
            st,
            slasher,
            keys,
            orchs,
            dels,
            model: vec![MDel::default(); N_DEL],
            rates,
            rewarded: vec![None; N_ORCH],
            round: 1,
            job: 0,
            ops: 0,
        }
    }

    fn committed(&self, o: usize, round: u64) -> Option<(u32, u32)> {
        self.rates[o].range(..=round).next_back().map(|(_, r)| *r)
    }

    /// Distributes `amount` (in wei; shares come out scaled) over the earning delegators of `o` by the pool's
    /// real earning total, as a brute-force per-delegator update.
    fn distribute(&mut self, o: usize, amount: u128, fees: bool) {
        let e_real = u(self.st.pool(&self.orchs[o]).earning);
        if e_real == 0 {
            return;
        }
        for m in self.model.iter_mut().filter(|m| m.delegate == Some(o)) {
            let share = md(amount, m.earning, e_real);
            if fees {
                m.fees += share;
            } else {
                m.earning += share;
            }
        }
    }

    fn tol(&self, v: u128) -> u128 {
        2 + self.ops + v / 10_000_000 * self.ops.max(1)
    }

    fn close(&self, real: u128, model_scaled: u128, what: &str) -> Result<(), TestCaseError> {
        let m = model_scaled / SC;
        let t = self.tol(m.max(real));
        prop_assert!(real.abs_diff(m) <= t, "{what}: real {real} vs model {m} (tolerance {t})");
        Ok(())
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        self.ops += 1;
        let before = format!("{:?}", self.st);
        let refused = match op.clone() {
            Op::Bond { d, o, amount } => {
                let r = self.st.bond(self.dels[d], self.orchs[o], U256::from(amount));
                prop_assert!(r.is_ok(), "bond refused: {r:?}");
                let m = &mut self.model[d];
                let moved = if m.delegate.is_some_and(|x| x != o) {
                    std::mem::take(&mut m.earning) + std::mem::take(&mut m.pending)
                } else {
                    0
                };
                m.delegate = Some(o);
                m.pending += moved + u128::from(amount) * SC;
                m.pending_round = self.round;
                false
            }
            Op::Move { d, o } => {
                let r = self.st.bond(self.dels[d], self.orchs[o], U256::zero());
                let m = &mut self.model[d];
                let moving = m.delegate.is_some_and(|x| x != o);
                prop_assert_eq!(r.is_ok(), moving, "move: {:?}", r);
                if moving {
                    m.pending += std::mem::take(&mut m.earning);
                    m.delegate = Some(o);
                    m.pending_round = self.round;
                }
                r.is_err()
            }
            Op::Unbond { d, all } => {
                let bonded = self.st.position(&self.dels[d]).unwrap().bonded();
                let amount = if all || bonded < U256::from(2_000_000_000u64) { bonded } else { bonded / 2 };
                let r = self.st.unbond(self.dels[d], amount);
                let m = &mut self.model[d];
                match (m.delegate, &r) {
                    (Some(o), Ok(id)) => {
                        let a = u(amount) * SC;
                        // Pending first, then earning; the floored real amount leaves the
                        // model's fraction behind, dropped with a full unbond.
                        let from_p = a.min(m.pending);
                        m.pending -= from_p;
                        m.earning = m.earning.saturating_sub(a - from_p);
                        if amount == bonded {
                            m.earning = 0;
                            m.pending = 0;
                            m.delegate = None;
                        }
                        m.locks.push((*id, o, a, self.round + 2));
                    }
                    (None, Err(_)) => {}
                    (delegate, r) => prop_assert!(false, "unbond with delegate {delegate:?}: {r:?}"),
                }
                r.is_err()
            }
            Op::Rebond { d, lock } | Op::RebondTo { d, lock, .. } => {
                let to = if let Op::RebondTo { o, .. } = op { Some(*o) } else { None };
                let m = self.model[d].clone();
                let Some(&(id, from, amount, _)) = m.locks.get(lock) else { return Ok(()) };
                let r = match to {
                    Some(o) => self.st.rebond_to(self.dels[d], id, self.orchs[o]),
                    None => self.st.rebond(self.dels[d], id),
                };
                let target = match (to, m.delegate) {
                    (Some(t), Some(cur)) if t != cur => None,
                    (Some(t), _) => Some(t),
                    (None, Some(cur)) => Some(cur),
                    (None, None) => Some(from),
                };
                prop_assert_eq!(r.is_ok(), target.is_some(), "rebond: {:?}", r);
                if let Some(t) = target {
                    let m = &mut self.model[d];
                    m.locks.remove(lock);
                    m.delegate = Some(t);
                    m.pending += amount;
                    m.pending_round = self.round;
                }
                r.is_err()
            }
            Op::Withdraw { d, lock } => {
                let Some(&(id, _, amount, wr)) = self.model[d].locks.get(lock) else { return Ok(()) };
                let r = self.st.withdraw_stake(self.dels[d], id);
                prop_assert_eq!(r.is_ok(), self.round >= wr, "withdraw: {:?}", r);
                if let Ok(paid) = r {
                    self.close(u(paid), amount, "withdrawn lock")?;
                    self.model[d].locks.remove(lock);
                }
                r.is_err()
            }
            Op::Claim { d } => {
                let p = self.st.claim(self.dels[d]).unwrap();
                self.close(u(p.earning), self.model[d].earning, "claimed stake")?;
                false
            }
            Op::WithdrawFees { d } => {
                let r = self.st.withdraw_fees(self.dels[d]);
                if let Ok(paid) = r {
                    self.close(u(paid), self.model[d].fees, "withdrawn fees")?;
                    self.model[d].fees = 0;
                } else {
                    prop_assert!(
                        self.model[d].fees / SC <= self.tol(0),
                        "fees refused with {} owed",
                        self.model[d].fees / SC
                    );
                }
                r.is_err()
            }
            Op::NextRound => {
                self.round += 1;
                let round = self.st.initialize_round(self.round * ROUNDS.length, &self.reg).unwrap();
                prop_assert_eq!(round, self.round);
                for (i, o) in self.orchs.iter().enumerate() {
                    let r = self.reg.get(o).unwrap();
                    self.rates[i].insert(self.round, (r.reward_cut, r.fee_share));
                }
                for m in &mut self.model {
                    if m.pending_round < self.round {
                        m.earning += std::mem::take(&mut m.pending);
                    }
                }
                // The active set holds every orchestrator with stake, at its pool total.
                for (i, o) in self.orchs.iter().enumerate() {
                    let model: u128 = self
                        .model
                        .iter()
                        .filter(|m| m.delegate == Some(i))
                        .map(|m| m.earning + m.pending)
                        .sum();
                    match self.st.active_set().get(o) {
                        Some(s) => self.close(u(*s), model, "active stake")?,
                        None => {
                            prop_assert!(model / SC <= self.tol(0), "orchestrator {i} with stake not active")
                        }
                    }
                }
                false
            }
            Op::Reward { o } => {
                let addr = self.orchs[o];
                let r = self.st.reward(addr);
                let snap = self.st.active_set().get(&addr).copied();
                let self_bonded = self.model[o].delegate == Some(o);
                let expect_ok = snap.is_some() && self.rewarded[o] != Some(self.round) && self_bonded;
                prop_assert_eq!(r.is_ok(), expect_ok, "reward: {:?}", r);
                if let Ok(out) = r {
                    let total: u128 = self.st.active_set().values().map(|s| u(*s)).sum();
                    let amount = REWARD * u(snap.unwrap_or_default()) / total;
                    let (cut_ppm, _) = self.committed(o, self.round).unwrap();
                    let cut = amount * u128::from(cut_ppm) / u128::from(PPM);
                    prop_assert_eq!(u(out.orchestrator), cut);
                    prop_assert!(u(out.delegators) == amount - cut || u(out.delegators) == 0);
                    // The pool total before the reward is the real earning minus what it added.
                    let e_before = u(self.st.pool(&addr).earning) - u(out.delegators);
                    if e_before > 0 {
                        for m in self.model.iter_mut().filter(|m| m.delegate == Some(o)) {
                            m.earning += md(u(out.delegators), m.earning, e_before);
                        }
                    }
                    self.model[o].pending += cut * SC;
                    self.model[o].pending_round = self.round;
                    self.rewarded[o] = Some(self.round);
                }
                r.is_err()
            }
            Op::Fees { o, amount, age } => {
                let ticket_round = self.round.saturating_sub(age);
                let r = self.st.credit_fees(self.orchs[o], U256::from(amount), ticket_round);
                let valid = age < 2 && ticket_round >= 1;
                prop_assert_eq!(r.is_ok(), valid, "fees: {:?}", r);
                if let Ok(out) = r {
                    let (_, share) = self.committed(o, ticket_round).unwrap();
                    prop_assert_eq!(out.fee_share, share);
                    let del = u(out.delegators);
                    prop_assert!(del == u128::from(amount) * u128::from(share) / u128::from(PPM) || del == 0);
                    self.distribute(o, del, true);
                    self.model[o].fees += u(out.orchestrator) * SC;
                }
                r.is_err()
            }
            Op::Rates { o, cut, share } => {
                let block = self.round * ROUNDS.length + 1;
                self.reg.update(record(self.orchs[o], cut, share), block).unwrap();
                false
            }
            Op::Slash { o, ppm } => {
                self.slasher = Slasher::new(SlashingConfig {
                    fraction_ppm: ppm,
                    reporter_bonus_ppm: 300_000,
                    ..SlashingConfig::default()
                })
                .unwrap();
                self.job += 1;
                let input = self.job.to_be_bytes().to_vec();
                let claim = ComputeClaim::sign(
                    &self.keys[o],
                    H256::from_low_u64_be(self.job),
                    "w".into(),
                    keccak256(&input),
                    H256::zero(),
                );
                let out = self
                    .slasher
                    .report(
                        &mut self.st,
                        self.orchs[o],
                        Address::from_low_u64_be(99),
                        &FaultProof::Compute { claim, input },
                        &Judge,
                    )
                    .unwrap();
                prop_assert_eq!(out.bonus + out.burned, out.slashed.total());
                let keep = |x: u128| md(x, u128::from(PPM - ppm), u128::from(PPM));
                for m in &mut self.model {
                    if m.delegate == Some(o) {
                        m.earning = keep(m.earning);
                        m.pending = keep(m.pending);
                    }
                    for l in m.locks.iter_mut().filter(|l| l.1 == o) {
                        l.2 = keep(l.2);
                    }
                }
                false
            }
        };
        if refused {
            prop_assert_eq!(&before, &format!("{:?}", self.st), "a refused call changed the state");
        }
        self.check()
    }

    fn check(&self) -> Result<(), TestCaseError> {
        let t = self.st.totals();
        let (mut claimable_stake, mut claimable_fees) = (0u128, 0u128);
        for (i, d) in self.dels.iter().enumerate() {
            let p = self.st.position(d).unwrap();
            let m = &self.model[i];
            self.close(u(p.earning), m.earning, &format!("delegator {i} earning"))?;
            self.close(u(p.pending), m.pending, &format!("delegator {i} pending"))?;
            self.close(u(p.fees), m.fees, &format!("delegator {i} fees"))?;
            if p.bonded() > U256::zero() {
                prop_assert_eq!(
                    p.delegate.map(|a| self.orchs.iter().position(|o| *o == a).unwrap()),
                    m.delegate
                );
            }
            let locks = self.st.locks(d).unwrap();
            prop_assert_eq!(locks.len(), m.locks.len());
            for ((id, l), ml) in locks.iter().zip(&m.locks) {
                prop_assert_eq!(*id, ml.0);
                prop_assert_eq!(l.withdraw_round, ml.3);
                self.close(u(l.amount), ml.2, &format!("delegator {i} lock {id}"))?;
                claimable_stake += u(l.amount);
            }
            claimable_stake += u(p.bonded());
            claimable_fees += u(p.fees);
        }
        let pools: u128 = self
            .orchs
            .iter()
            .map(|o| {
                let p = self.st.pool(o);
                u(p.earning) + u(p.pending) + u(p.unbonding)
            })
            .sum();
        // The books balance exactly; what delegators can claim never exceeds the pools.
        prop_assert_eq!(
            pools + u(t.withdrawn) + u(t.slashed) + u(t.dust),
            u(t.bonded) + u(t.minted),
            "pool books"
        );
        prop_assert!(u(t.dust) <= 4 * self.ops, "dust {} after {} ops", u(t.dust), self.ops);
        prop_assert!(
            claimable_stake <= pools,
            "claimable stake {} over the pools {}",
            claimable_stake,
            pools
        );
        prop_assert!(
            claimable_stake + u(t.withdrawn) <= u(t.bonded) + u(t.minted) - u(t.slashed) - u(t.dust)
        );
        prop_assert!(
            claimable_fees + u(t.fees_out) <= u(t.fees_in),
            "fees paid {} + owed {} over earned {}",
            u(t.fees_out),
            claimable_fees,
            u(t.fees_in)
        );
        prop_assert!(
            pools - claimable_stake <= 4 * self.ops,
            "dust {} after {} ops",
            pools - claimable_stake,
            self.ops
        );
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn claims_match_brute_force_and_never_exceed_what_was_minted_and_earned(ops in proptest::collection::vec(op(), 1..80)) {
        let mut w = World::new();
        for op in &ops {
            w.step(op)?;
        }
        // Everyone claims at the end: the same answers.
        for d in 0..N_DEL {
            let p = w.st.claim(w.dels[d]).unwrap();
            w.close(u(p.earning), w.model[d].earning, "final claim")?;
            w.close(u(p.fees), w.model[d].fees, "final fees")?;
        }
        w.check()?;
    }
}

#[test]
fn stake_view_matches_pool_totals() {
    let mut w = World::new();
    w.step(&Op::Bond { d: 2, o: 0, amount: 5_000_000_000 }).unwrap();
    assert_eq!(w.st.stake_of(&w.orchs[0]), U256::from(5_000_000_000u64));
}
