//! The registry, bonding, reward, fee and slashing rules, one test per rule
//! (given / when / then).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use orchestration::job::{Capability, Hardware, JobKind, VerificationPolicy};
use orchestration::registry::{
    PPM, Registry, RegistryConfig, RegistryError, Rounds, ServiceRecord, StakeView,
};
use orchestration::slashing::{ComputeClaim, FaultJudge, FaultProof, SlashError, Slasher, SlashingConfig};
use orchestration::staking::{FACTOR_SCALE, FeeOutcome, RewardOutcome, Staking, StakingConfig, StakingError};
use primitives::{Address, H256, SecretKey, U256, keccak256};
use transcode_verify::{
    ClaimPrice, Evidence, Fault, Fps, RenditionClaim, RenditionFacts, TranscodeClaim, rendition_hash,
};

const ROUNDS: Rounds = Rounds { length: 100, lock_blocks: 10 };

fn addr(n: u64) -> Address {
    Address::from_low_u64_be(n)
}

fn u(n: u64) -> U256 {
    U256::from(n)
}

fn transcode_cap(price: u64) -> Capability {
    Capability {
        kind: JobKind::Transcode { profile: "P720P30".into(), hardware: Hardware::Gpu },
        price_per_unit: u(price),
        verification: VerificationPolicy::Sampled { rate: 10 },
    }
}

fn compute_cap() -> Capability {
    Capability {
        kind: JobKind::Compute { workload: "keccak-chain/v1".into() },
        price_per_unit: u(5),
        verification: VerificationPolicy::Sampled { rate: 1 },
    }
}

fn record(o: Address, reward_cut: u32, fee_share: u32) -> ServiceRecord {
    ServiceRecord {
        orchestrator: o,
        service_uri: "https://orch.example:8935".into(),
        capabilities: vec![transcode_cap(2)],
        regions: vec!["eu-west".into()],
        reward_cut,
        fee_share,
    }
}

fn registry() -> Registry {
    Registry::new(RegistryConfig {
        rounds: ROUNDS,
        min_stake: u(100),
        max_active: 10,
        ..RegistryConfig::default()
    })
    .unwrap()
}

fn staking() -> Staking {
    Staking::new(StakingConfig {
        rounds: ROUNDS,
        unbonding_period: 2,
        reward_per_round: u(1_000_000),
        ticket_validity_period: 2,
    })
    .unwrap()
}

/// Round 1 with orchestrator 1 registered (10% reward cut, 50% fee share) and self-bonded
/// with 1,000.
fn world() -> (Registry, Staking, Address) {
    let mut reg = registry();
    let o = addr(1);
    reg.register(record(o, 100_000, 500_000), 0).unwrap();
    let mut st = staking();
    st.initialize_round(100, &reg).unwrap();
    st.bond(o, o, u(1_000)).unwrap();
    (reg, st, o)
}

// ---------------------------------------------------------------- registry

#[test]
fn registry_refuses_out_of_bounds_records() {
    let reg = registry();
    let ok = record(addr(1), PPM, PPM);
    assert_eq!(reg.validate(&ok), Ok(()), "100% is allowed");
    let cases: Vec<(ServiceRecord, RegistryError)> = vec![
        (ServiceRecord { orchestrator: Address::zero(), ..ok.clone() }, RegistryError::ZeroOrchestrator),
        (ServiceRecord { service_uri: String::new(), ..ok.clone() }, RegistryError::EmptyUri),
        (
            ServiceRecord { service_uri: "x".repeat(257), ..ok.clone() },
            RegistryError::UriTooLong { len: 257, max: 256 },
        ),
        (ServiceRecord { capabilities: vec![], ..ok.clone() }, RegistryError::NoCapabilities),
        (
            ServiceRecord {
                capabilities: (0..33u64)
                    .map(|i| Capability {
                        kind: JobKind::Compute { workload: format!("w{i}") },
                        ..compute_cap()
                    })
                    .collect(),
                ..ok.clone()
            },
            RegistryError::TooManyCapabilities { count: 33, max: 32 },
        ),
        (
            ServiceRecord {
                capabilities: vec![transcode_cap(1), compute_cap(), transcode_cap(3)],
                ..ok.clone()
            },
            RegistryError::DuplicateCapability { index: 2 },
        ),
        (
            ServiceRecord {
                capabilities: vec![Capability {
                    verification: VerificationPolicy::Sampled { rate: 0 },
                    ..compute_cap()
                }],
                ..ok.clone()
            },
            RegistryError::InvalidVerification { index: 0 },
        ),
        (
            ServiceRecord { regions: vec!["r".into(); 17], ..ok.clone() },
            RegistryError::TooManyRegions { count: 17, max: 16 },
        ),
        (
            ServiceRecord { regions: vec!["ok".into(), String::new()], ..ok.clone() },
            RegistryError::BadRegion { index: 1, len: 0, max: 32 },
        ),
        (
            ServiceRecord { reward_cut: PPM + 1, ..ok.clone() },
            RegistryError::RewardCutTooHigh { got: PPM + 1 },
        ),
        (ServiceRecord { fee_share: PPM + 1, ..ok.clone() }, RegistryError::FeeShareTooHigh { got: PPM + 1 }),
    ];
    for (bad, want) in cases {
        let mut r = registry();
        assert_eq!(r.register(bad.clone(), 0), Err(want.clone()), "{bad:?}");
        assert!(r.records().next().is_none(), "a refused record was stored");
    }
}

#[test]
fn rounds_config_is_validated() {
    for rounds in [Rounds { length: 0, lock_blocks: 0 }, Rounds { length: 10, lock_blocks: 10 }] {
        let e = Registry::new(RegistryConfig { rounds, ..RegistryConfig::default() }).unwrap_err();
        assert_eq!(e, RegistryError::BadRounds { length: rounds.length, lock_blocks: rounds.lock_blocks });
        assert!(Staking::new(StakingConfig { rounds, ..StakingConfig::default() }).is_err());
    }
}

#[test]
fn rates_are_locked_in_the_last_blocks_of_a_round() {
    let mut reg = registry();
    let o = addr(1);
    // Given a round of 100 blocks whose last 10 lock rates,
    assert_eq!(
        reg.register(record(o, 0, 0), 190),
        Err(RegistryError::RatesLocked { block: 190, round: 1, lock_blocks: 10 }),
        "a registration sets rates"
    );
    reg.register(record(o, 0, 0), 189).unwrap();
    // when the orchestrator changes its fee share in the window, it is refused,
    let raised = record(o, 0, 900_000);
    assert_eq!(
        reg.update(raised.clone(), 295),
        Err(RegistryError::RatesLocked { block: 295, round: 2, lock_blocks: 10 })
    );
    assert_eq!(reg.get(&o).unwrap().fee_share, 0);
    // but a URI or capability change is not,
    let moved = ServiceRecord {
        service_uri: "https://new.example".into(),
        capabilities: vec![compute_cap()],
        ..record(o, 0, 0)
    };
    reg.update(moved.clone(), 299).unwrap();
    assert_eq!(reg.get(&o), Some(&moved));
    // and the rate change goes through outside the window.
    reg.update(raised.clone(), 300).unwrap();
    assert_eq!(reg.get(&o).unwrap().fee_share, 900_000);
}

#[test]
fn register_update_deregister_need_the_right_state() {
    let mut reg = registry();
    let o = addr(1);
    assert_eq!(reg.update(record(o, 0, 0), 0), Err(RegistryError::NotRegistered(o)));
    reg.register(record(o, 0, 0), 0).unwrap();
    assert_eq!(reg.register(record(o, 0, 0), 0), Err(RegistryError::AlreadyRegistered(o)));
    assert_eq!(reg.deregister(&o), Ok(record(o, 0, 0)));
    assert_eq!(reg.deregister(&o), Err(RegistryError::NotRegistered(o)));
}

#[test]
fn active_set_is_min_stake_then_largest_first_and_query_filters_by_kind() {
    let mut reg = Registry::new(RegistryConfig {
        rounds: ROUNDS,
        min_stake: u(100),
        max_active: 2,
        ..RegistryConfig::default()
    })
    .unwrap();
    let mut stakes = std::collections::BTreeMap::new();
    for (n, stake) in [(1u64, 99u64), (2, 100), (3, 500), (4, 300)] {
        let mut r = record(addr(n), 0, 0);
        if n == 4 {
            r.capabilities = vec![compute_cap()];
        }
        reg.register(r, 0).unwrap();
        stakes.insert(addr(n), u(stake));
    }
    stakes.insert(addr(9), u(10_000)); // staked, not registered
    assert_eq!(reg.active_set(&stakes), vec![(addr(3), u(500)), (addr(4), u(300))]);
    assert!(!reg.is_active(&addr(2), &stakes), "cut by max_active");
    assert!(!reg.is_active(&addr(1), &stakes), "below the minimum");
    let kind = transcode_cap(0).kind;
    let offering: Vec<(Address, U256)> = reg
        .offering(&kind, &stakes)
        .into_iter()
        .map(|(r, c, s)| {
            assert_eq!(c.kind, kind);
            (r.orchestrator, s)
        })
        .collect();
    assert_eq!(offering, vec![(addr(3), u(500))], "orchestrator 4 sells compute only");
    let compute = reg.offering(&compute_cap().kind, &stakes);
    assert_eq!(compute.len(), 1);
    assert_eq!(compute[0].0.orchestrator, addr(4));
}

// ---------------------------------------------------------------- rounds and bonding

#[test]
fn factor_scale_is_ten_to_the_27() {
    assert_eq!(FACTOR_SCALE, U256::exp10(27));
}

#[test]
fn rounds_only_move_forward_and_timing_must_match() {
    let (reg, mut st, _) = world();
    assert_eq!(st.current_round(), 1);
    assert_eq!(st.initialize_round(199, &reg), Err(StakingError::RoundNotIncreasing { current: 1, got: 1 }));
    assert_eq!(st.initialize_round(250, &reg), Ok(2));
    let other = Registry::new(RegistryConfig {
        rounds: Rounds { length: 50, lock_blocks: 5 },
        ..RegistryConfig::default()
    })
    .unwrap();
    assert!(matches!(st.initialize_round(900, &other), Err(StakingError::RoundsMismatch { .. })));
    let mut fresh = staking();
    assert_eq!(fresh.bond(addr(2), addr(1), u(1)), Err(StakingError::NotInitialized));
}

#[test]
fn stake_bonded_in_a_round_earns_from_the_next() {
    let (reg, mut st, o) = world();
    let d = addr(2);
    st.bond(d, o, u(1_000)).unwrap();
    let p = st.position(&d).unwrap();
    assert_eq!((p.earning, p.pending, p.delegate), (U256::zero(), u(1_000), Some(o)));
    assert_eq!(st.stake_of(&o), u(2_000));
    st.initialize_round(200, &reg).unwrap();
    let p = st.position(&d).unwrap();
    assert_eq!((p.earning, p.pending), (u(1_000), U256::zero()));
    assert_eq!(st.active_set().get(&o), Some(&u(2_000)));

    // A latecomer bonding in round 2 before the reward gets none of round 2's reward.
    let late = addr(3);
    st.bond(late, o, u(1_000)).unwrap();
    let out = st.reward(o).unwrap();
    // 1,000,000 minted (the only active orchestrator): 10% cut, 900,000 over 2,000 earning.
    assert_eq!(out, RewardOutcome { orchestrator: u(100_000), delegators: u(900_000) });
    assert_eq!(st.position(&d).unwrap().earning, u(451_000));
    assert_eq!(st.position(&late).unwrap().bonded(), u(1_000));
    let own = st.position(&o).unwrap();
    assert_eq!((own.earning, own.pending), (u(451_000), u(100_000)), "the cut is bonded as pending stake");
    assert_eq!(st.totals().minted, u(1_000_000));
}

#[test]
fn reward_is_once_per_round_for_active_self_bonded_orchestrators() {
    let (mut reg, mut st, o) = world();
    // Round 1's active set was taken before anyone bonded.
    assert_eq!(st.reward(o), Err(StakingError::NotActive { orchestrator: o, round: 1 }));
    st.initialize_round(200, &reg).unwrap();
    st.reward(o).unwrap();
    assert_eq!(st.reward(o), Err(StakingError::AlreadyRewarded { orchestrator: o, round: 2 }));

    // An orchestrator with only delegated stake cannot collect.
    let o2 = addr(5);
    reg.register(record(o2, 0, 0), 200).unwrap();
    st.bond(addr(6), o2, u(1_000)).unwrap();
    st.initialize_round(300, &reg).unwrap();
    let before = format!("{st:?}");
    assert_eq!(st.reward(o2), Err(StakingError::NotSelfBonded(o2)));
    assert_eq!(before, format!("{st:?}"), "a refused call changed the state");
}

#[test]
fn inflation_is_shared_by_active_stake_and_split_by_reward_cut() {
    let (mut reg, mut st, o) = world();
    let o2 = addr(5);
    reg.register(record(o2, PPM, 0), 100).unwrap(); // keeps all rewards
    st.bond(o2, o2, u(3_000)).unwrap();
    st.initialize_round(200, &reg).unwrap();
    // 1,000 vs 3,000 of 4,000 active.
    assert_eq!(st.reward(o).unwrap(), RewardOutcome { orchestrator: u(25_000), delegators: u(225_000) });
    assert_eq!(st.reward(o2).unwrap(), RewardOutcome { orchestrator: u(750_000), delegators: U256::zero() });
    assert_eq!(st.totals().minted, u(1_000_000));
}

#[test]
fn delegation_change_moves_the_whole_stake_and_restarts_earning() {
    let (mut reg, mut st, o) = world();
    let o2 = addr(5);
    reg.register(record(o2, 0, 0), 100).unwrap();
    st.bond(o2, o2, u(1_000)).unwrap();
    let d = addr(2);
    st.bond(d, o, u(500)).unwrap();
    st.initialize_round(200, &reg).unwrap();
    st.reward(o).unwrap();
    let had = st.position(&d).unwrap().earning;
    assert!(had > u(500));
    assert_eq!(st.bond(d, o, U256::zero()), Err(StakingError::ZeroAmount), "no amount, no move");
    st.bond(d, o2, U256::zero()).unwrap();
    let p = st.position(&d).unwrap();
    assert_eq!((p.delegate, p.earning, p.pending), (Some(o2), U256::zero(), had));
    assert_eq!(st.pool(&o2).pending, had);
    assert_eq!(st.stake_of(&o2), u(1_000) + had);
}

#[test]
fn unbonding_lock_is_withdrawable_after_the_period_only() {
    let (reg, mut st, o) = world();
    let d = addr(2);
    st.bond(d, o, u(1_000)).unwrap();
    st.initialize_round(200, &reg).unwrap();
    assert_eq!(st.unbond(d, U256::zero()), Err(StakingError::ZeroAmount));
    assert_eq!(
        st.unbond(d, u(1_001)),
        Err(StakingError::InsufficientBond { bonded: u(1_000), requested: u(1_001) })
    );
    let id = st.unbond(d, u(400)).unwrap();
    assert_eq!(st.position(&d).unwrap().earning, u(600));
    assert_eq!(st.pool(&o).unbonding, u(400));
    assert_eq!(st.locks(&d).unwrap()[0].1.withdraw_round, 4);
    // The lock does not earn.
    st.reward(o).unwrap();
    assert_eq!(st.locks(&d).unwrap()[0].1.amount, u(400));
    st.initialize_round(300, &reg).unwrap();
    assert_eq!(
        st.withdraw_stake(d, id),
        Err(StakingError::LockNotExpired { withdraw_round: 4, current_round: 3 })
    );
    st.initialize_round(400, &reg).unwrap();
    assert_eq!(st.withdraw_stake(d, id), Ok(u(400)));
    assert_eq!(st.withdraw_stake(d, id), Err(StakingError::UnknownLock { delegator: d, id }));
    assert_eq!(st.pool(&o).unbonding, U256::zero());
    assert_eq!(st.totals().withdrawn, u(400));
}

#[test]
fn rebond_returns_a_lock_to_the_orchestrator_as_pending_stake() {
    let (reg, mut st, o) = world();
    let d = addr(2);
    st.bond(d, o, u(1_000)).unwrap();
    st.initialize_round(200, &reg).unwrap();
    let id = st.unbond(d, u(1_000)).unwrap();
    assert_eq!(st.position(&d).unwrap().delegate, None, "fully unbonded");
    st.rebond(d, id).unwrap();
    let p = st.position(&d).unwrap();
    assert_eq!((p.delegate, p.pending), (Some(o), u(1_000)));
    assert!(st.locks(&d).unwrap().is_empty());
    assert_eq!(st.pool(&o).unbonding, U256::zero());
    assert_eq!(st.rebond(d, id), Err(StakingError::UnknownLock { delegator: d, id }));
}

#[test]
fn rebond_to_another_orchestrator_only_once_fully_unbonded() {
    let (mut reg, mut st, o) = world();
    let o2 = addr(5);
    reg.register(record(o2, 0, 0), 100).unwrap();
    let d = addr(2);
    st.bond(d, o, u(1_000)).unwrap();
    st.initialize_round(200, &reg).unwrap();
    let a = st.unbond(d, u(300)).unwrap();
    assert_eq!(st.rebond_to(d, a, o2), Err(StakingError::StillBonded { delegate: o }));
    let b = st.unbond(d, u(700)).unwrap();
    st.rebond_to(d, a, o2).unwrap();
    assert_eq!(st.position(&d).unwrap().delegate, Some(o2));
    assert_eq!(st.pool(&o2).pending, u(300));
    assert_eq!(st.pool(&o).unbonding, u(700));
    // The other lock now follows the current delegate.
    st.rebond(d, b).unwrap();
    assert_eq!(st.pool(&o2).pending, u(1_000));
    assert_eq!(st.pool(&o).unbonding, U256::zero());
}

#[test]
fn fees_split_by_fee_share_over_earning_stake() {
    let (reg, mut st, o) = world();
    let (d, late) = (addr(2), addr(3));
    st.bond(d, o, u(3_000)).unwrap();
    st.initialize_round(200, &reg).unwrap();
    st.bond(late, o, u(4_000)).unwrap(); // pending: no fees this round
    let out = st.credit_fees(o, u(10_000), 2).unwrap();
    assert_eq!(out, FeeOutcome { orchestrator: u(5_000), delegators: u(5_000), fee_share: 500_000 });
    // 5,000 over 4,000 earning: the orchestrator's own 1,000 gets 1,250, d 3,750.
    assert_eq!(st.position(&d).unwrap().fees, u(3_750));
    assert_eq!(st.position(&late).unwrap().fees, U256::zero());
    assert_eq!(st.position(&o).unwrap().fees, u(6_250));
    assert_eq!(st.withdraw_fees(d), Ok(u(3_750)));
    assert_eq!(st.withdraw_fees(d), Err(StakingError::ZeroAmount));
    assert_eq!(st.withdraw_fees(o), Ok(u(6_250)));
    assert_eq!(st.totals().fees_out, u(10_000));
}

#[test]
fn a_ticket_settles_at_the_fee_share_committed_for_its_round() {
    let (mut reg, mut st, o) = world();
    st.bond(addr(2), o, u(1_000)).unwrap();
    st.initialize_round(200, &reg).unwrap(); // round 2 commits 50%
    // The orchestrator cuts its delegators' share to zero for round 3.
    reg.update(record(o, 100_000, 0), 250).unwrap();
    st.initialize_round(300, &reg).unwrap();
    assert_eq!(st.rates_at(&o, 2).unwrap().fee_share, 500_000);
    assert_eq!(st.rates_at(&o, 3).unwrap().fee_share, 0);
    // A ticket issued in round 2, redeemed in round 3, still pays delegators 50%.
    assert_eq!(st.credit_fees(o, u(1_000), 2).unwrap().delegators, u(500));
    assert_eq!(st.credit_fees(o, u(1_000), 3).unwrap().delegators, U256::zero());
}

#[test]
fn fees_only_for_tickets_inside_the_validity_window() {
    let (reg, mut st, o) = world();
    st.initialize_round(300, &reg).unwrap();
    st.initialize_round(400, &reg).unwrap(); // round 4, validity 2: rounds 3 and 4
    assert_eq!(
        st.credit_fees(o, u(1), 2),
        Err(StakingError::TicketOutsideWindow { ticket_round: 2, current_round: 4, validity: 2 })
    );
    assert!(matches!(st.credit_fees(o, u(1), 5), Err(StakingError::TicketOutsideWindow { .. })));
    assert!(st.credit_fees(o, u(1), 3).is_ok());
    assert_eq!(
        st.credit_fees(addr(77), u(1), 4),
        Err(StakingError::NoCommittedRates { orchestrator: addr(77), round: 4 })
    );
}

#[test]
fn claim_after_many_rounds_equals_the_closed_form() {
    let (reg, mut st, o) = world();
    let d = addr(2);
    st.bond(d, o, u(1_000)).unwrap();
    // Reward cut 10%: each round d's earning stake grows by 90% of the reward times its
    // share of the earning stake; the orchestrator's cut is pending for a round first.
    // The pool's total is exact (bonded + minted); d's stake is modelled in 10^-18 units
    // so the model's own rounding stays far below one unit.
    const E18: u128 = 1_000_000_000_000_000_000;
    let mut model_d = 1_000u128 * E18;
    let mut total = 2_000u128;
    for round in 2..=60u64 {
        st.initialize_round(round * 100, &reg).unwrap();
        assert_eq!(st.active_set().get(&o), Some(&U256::from(total)));
        let out = st.reward(o).unwrap();
        let minted = 1_000_000u128; // the only active orchestrator
        let cut = minted / 10;
        assert_eq!(out.orchestrator, U256::from(cut));
        let del = minted - cut;
        model_d += del * model_d / total;
        total += minted;
    }
    // One claim, 59 rounds later: within the rounding of the cumulative factor.
    let claimed = st.claim(d).unwrap().earning.as_u128();
    let model_d = model_d / E18;
    assert!(claimed <= model_d && model_d - claimed <= 1, "{claimed} vs {model_d}");
}

// ---------------------------------------------------------------- slashing

struct Judge;

/// A fake container: `w,h,frames,duration_us,fps_num,fps_den;payload`.
fn container(w: u32, h: u32, frames: u64, dur: u64, payload: &str) -> Vec<u8> {
    format!("{w},{h},{frames},{dur},30,1;{payload}").into_bytes()
}

impl FaultJudge for Judge {
    fn probe(&self, bytes: &[u8]) -> Option<RenditionFacts> {
        let s = std::str::from_utf8(bytes).ok()?;
        let head = s.split(';').next()?;
        let v: Vec<u64> = head.split(',').map(|x| x.parse().ok()).collect::<Option<_>>()?;
        let [w, h, frames, dur, num, den] = v[..] else { return None };
        Some(RenditionFacts {
            width: w as u32,
            height: h as u32,
            frames,
            duration_us: dur,
            fps: Some(Fps::new(num as u32, den as u32).ok()?),
            hash: [0; 32],
        })
    }
    fn confirm_perceptual(&self, _: &Evidence, _: &[u8], renditions: &[Vec<u8>]) -> bool {
        renditions.iter().any(|r| r.ends_with(b"BLACK"))
    }
    fn reexecute(&self, workload: &str, input: &[u8]) -> Option<H256> {
        (workload == "keccak-chain/v1").then(|| keccak256(keccak256(input)))
    }
}

fn orch_key() -> SecretKey {
    SecretKey::from_bytes([7; 32]).unwrap()
}

/// Orchestrator (its key's address) self-bonded 1,000 and earning, a delegator with 3,000
/// earning and 1,000 unbonding, and another with 2,000 bonded this round.
fn slash_world() -> (Registry, Staking, Address) {
    let mut reg = registry();
    let o = orch_key().address();
    reg.register(record(o, 0, 0), 0).unwrap();
    let mut st = staking();
    st.initialize_round(100, &reg).unwrap();
    st.bond(o, o, u(1_000)).unwrap();
    st.bond(addr(2), o, u(4_000)).unwrap();
    st.initialize_round(200, &reg).unwrap();
    st.unbond(addr(2), u(1_000)).unwrap();
    st.bond(addr(3), o, u(2_000)).unwrap();
    (reg, st, o)
}

fn compute_claim(input: &[u8], output: H256) -> ComputeClaim {
    ComputeClaim::sign(&orch_key(), H256::repeat_byte(9), "keccak-chain/v1".into(), keccak256(input), output)
}

#[test]
fn compute_mismatch_slashes_pro_rata_pays_a_bonus_and_burns_the_rest() {
    let (_, mut st, o) = slash_world();
    let mut slasher = Slasher::new(SlashingConfig {
        fraction_ppm: 100_000,
        reporter_bonus_ppm: 250_000,
        ..SlashingConfig::default()
    })
    .unwrap();
    let input = b"job input".to_vec();
    let proof = FaultProof::Compute { claim: compute_claim(&input, H256::repeat_byte(1)), input };
    let reporter = addr(42);
    let out = slasher.report(&mut st, o, reporter, &proof, &Judge).unwrap();
    // 10% of 4,000 earning, 2,000 pending and 1,000 unbonding.
    assert_eq!((out.slashed.earning, out.slashed.pending, out.slashed.unbonding), (u(400), u(200), u(100)));
    assert_eq!((out.bonus, out.burned), (u(175), u(525)));
    assert_eq!(slasher.bonus_of(&reporter), u(175));
    assert_eq!(slasher.burned(), u(525));
    assert_eq!(st.position(&o).unwrap().earning, u(900));
    assert_eq!(st.position(&addr(2)).unwrap().earning, u(2_700));
    assert_eq!(st.position(&addr(3)).unwrap().pending, u(1_800));
    assert_eq!(st.locks(&addr(2)).unwrap()[0].1.amount, u(900));
    assert_eq!(st.totals().slashed, u(700));
    // The same fault again is refused and changes nothing.
    let before = format!("{st:?}");
    assert_eq!(
        slasher.report(&mut st, o, reporter, &proof, &Judge),
        Err(SlashError::AlreadyReported(out.fault_id))
    );
    assert_eq!(before, format!("{st:?}"));
}

#[test]
fn compute_reports_that_do_not_prove_a_fault_are_refused() {
    let (_, mut st, o) = slash_world();
    let mut slasher = Slasher::new(SlashingConfig::default()).unwrap();
    let input = b"job input".to_vec();
    let right = keccak256(keccak256(&input));
    let honest = FaultProof::Compute { claim: compute_claim(&input, right), input: input.clone() };
    assert_eq!(slasher.report(&mut st, o, addr(42), &honest, &Judge), Err(SlashError::NoFault));
    let wrong = compute_claim(&input, H256::repeat_byte(1));
    let other_input = FaultProof::Compute { claim: wrong.clone(), input: b"other".to_vec() };
    assert_eq!(slasher.report(&mut st, o, addr(42), &other_input, &Judge), Err(SlashError::InputNotClaimed));
    let framed = FaultProof::Compute { claim: wrong.clone(), input: input.clone() };
    assert_eq!(
        slasher.report(&mut st, addr(3), addr(42), &framed, &Judge),
        Err(SlashError::NotSigned { orchestrator: addr(3) }),
        "a claim signed by someone else"
    );
    let unknown =
        ComputeClaim::sign(&orch_key(), H256::zero(), "nope".into(), keccak256(&input), H256::zero());
    assert_eq!(
        slasher.report(&mut st, o, addr(42), &FaultProof::Compute { claim: unknown, input }, &Judge),
        Err(SlashError::UnknownWorkload("nope".into()))
    );
    assert_eq!(st.totals().slashed, U256::zero());
}

fn transcode_proof(rendition: Vec<u8>, claimed_pixels: Option<u64>) -> FaultProof {
    let source = container(1280, 720, 60, 2_000_000, "source");
    let (w, h) = (640u32, 360u32);
    let pixels = claimed_pixels.unwrap_or(60 * u64::from(w) * u64::from(h));
    let claim = TranscodeClaim::signed(
        [3; 32],
        17,
        rendition_hash(&source),
        ClaimPrice { price_per_unit: u(1), pixels_per_unit: u(1) },
        vec![RenditionClaim {
            profile: "P360P30".into(),
            width: w,
            height: h,
            frames: 60,
            pixels,
            hash: rendition_hash(&rendition),
        }],
        &orch_key(),
    );
    let evidence = Evidence {
        claim,
        faults: vec![Fault::PixelCount { rendition: 0, claimed: pixels, computed: 0 }],
        metrics: vec![],
    };
    FaultProof::Transcode { evidence: Box::new(evidence), source, renditions: vec![rendition] }
}

#[test]
fn transcode_fault_is_rederived_from_the_signed_claim() {
    let (_, mut st, o) = slash_world();
    let mut slasher = Slasher::new(SlashingConfig::default()).unwrap();
    let good = container(640, 360, 60, 2_000_000, "ok");
    // An honest claim proves nothing, whatever faults the reporter lists.
    assert_eq!(
        slasher.report(&mut st, o, addr(42), &transcode_proof(good.clone(), None), &Judge),
        Err(SlashError::NoFault)
    );
    // Over-claimed pixels (paid per pixel) are a provable fault.
    let out = slasher.report(&mut st, o, addr(42), &transcode_proof(good.clone(), Some(1)), &Judge).unwrap();
    assert_eq!(out.slashed.total(), u(700));
    // The same segment again is a double report.
    let wrong_res = container(320, 180, 60, 2_000_000, "small");
    assert!(matches!(
        slasher.report(&mut st, o, addr(42), &transcode_proof(wrong_res, None), &Judge),
        Err(SlashError::AlreadyReported(_))
    ));
}

#[test]
fn transcode_reports_must_use_the_bytes_the_orchestrator_signed() {
    let (_, mut st, o) = slash_world();
    let mut slasher = Slasher::new(SlashingConfig::default()).unwrap();
    let FaultProof::Transcode { evidence, source, renditions } =
        transcode_proof(container(320, 180, 60, 2_000_000, "x"), None)
    else {
        unreachable!()
    };
    let swapped = FaultProof::Transcode {
        evidence: evidence.clone(),
        source: source.clone(),
        renditions: vec![container(640, 360, 60, 2_000_000, "y")],
    };
    assert_eq!(
        slasher.report(&mut st, o, addr(42), &swapped, &Judge),
        Err(SlashError::RenditionNotSigned { index: 0 })
    );
    let other_source = FaultProof::Transcode {
        evidence: evidence.clone(),
        source: b"x".to_vec(),
        renditions: renditions.clone(),
    };
    assert_eq!(
        slasher.report(&mut st, o, addr(42), &other_source, &Judge),
        Err(SlashError::SourceNotClaimed)
    );
    let other = SecretKey::from_bytes([8; 32]).unwrap();
    // A signature by another key over a claim naming the orchestrator …
    let mut forged = evidence.clone();
    forged.claim.signature = other.sign_prehash(&H256(forged.claim.digest()));
    let forged =
        FaultProof::Transcode { evidence: forged, source: source.clone(), renditions: renditions.clone() };
    assert_eq!(
        slasher.report(&mut st, o, addr(42), &forged, &Judge),
        Err(SlashError::NotSigned { orchestrator: o })
    );
    // … or a validly signed claim that names another orchestrator: neither slashes `o`.
    let mut elsewhere = evidence.clone();
    elsewhere.claim.resign(&other);
    let elsewhere =
        FaultProof::Transcode { evidence: elsewhere, source: source.clone(), renditions: renditions.clone() };
    assert_eq!(
        slasher.report(&mut st, o, addr(42), &elsewhere, &Judge),
        Err(SlashError::NotSigned { orchestrator: o })
    );
    assert_eq!(st.totals().slashed, U256::zero());
    // The untampered proof (wrong resolution) slashes.
    let ok = FaultProof::Transcode { evidence, source, renditions };
    assert!(slasher.report(&mut st, o, addr(42), &ok, &Judge).is_ok());
}

#[test]
fn perceptual_faults_need_the_judge() {
    let (_, mut st, o) = slash_world();
    let mut slasher = Slasher::new(SlashingConfig::default()).unwrap();
    let black = container(640, 360, 60, 2_000_000, "BLACK");
    let FaultProof::Transcode { mut evidence, source, renditions } = transcode_proof(black, None) else {
        unreachable!()
    };
    evidence.faults = vec![Fault::BlackFrame { rendition: 0, frame: 3 }];
    let proof = FaultProof::Transcode { evidence: evidence.clone(), source: source.clone(), renditions };
    assert!(slasher.report(&mut st, o, addr(42), &proof, &Judge).is_ok());
    // Same claim shape, the judge sees nothing wrong.
    let mut s2 = slash_world().1;
    let fine = container(640, 360, 60, 2_000_000, "fine");
    let FaultProof::Transcode { evidence: mut e2, source, renditions } = transcode_proof(fine, None) else {
        unreachable!()
    };
    e2.faults = vec![Fault::BlackFrame { rendition: 0, frame: 3 }];
    let proof = FaultProof::Transcode { evidence: e2, source, renditions };
    assert_eq!(
        Slasher::new(SlashingConfig::default()).unwrap().report(&mut s2, o, addr(42), &proof, &Judge),
        Err(SlashError::NoFault)
    );
}

#[test]
fn a_full_slash_burns_the_pool_but_keeps_earned_fees() {
    let (reg, mut st, o) = slash_world();
    st.credit_fees(o, u(10_000), 2).unwrap(); // fee share 0: all to the orchestrator
    let mut reg2 = reg.clone();
    reg2.update(record(o, 0, PPM), 250).unwrap();
    st.initialize_round(300, &reg2).unwrap();
    st.credit_fees(o, u(6_000), 3).unwrap(); // 6,000 over 1,000 + 3,000 + 2,000 earning
    let mut slasher = Slasher::new(SlashingConfig {
        fraction_ppm: PPM,
        reporter_bonus_ppm: 0,
        ..SlashingConfig::default()
    })
    .unwrap();
    let input = b"i".to_vec();
    let proof = FaultProof::Compute { claim: compute_claim(&input, H256::zero()), input };
    let out = slasher.report(&mut st, o, addr(42), &proof, &Judge).unwrap();
    assert_eq!(out.slashed.total(), u(7_000));
    assert_eq!(out.burned, u(7_000));
    assert_eq!(st.stake_of(&o), U256::zero());
    let d = st.position(&addr(2)).unwrap();
    assert_eq!((d.bonded(), d.fees), (U256::zero(), u(3_000)));
    assert_eq!(st.position(&o).unwrap().fees, u(11_000));
    assert_eq!(st.locks(&addr(2)).unwrap()[0].1.amount, U256::zero());
    // The pool starts over: new stake bonds and earns normally.
    st.bond(addr(9), o, u(500)).unwrap();
    assert_eq!(st.position(&addr(9)).unwrap().pending, u(500));
    assert_eq!(st.withdraw_fees(addr(2)), Ok(u(3_000)));
}

#[test]
fn slasher_config_is_validated() {
    assert_eq!(
        Slasher::new(SlashingConfig { fraction_ppm: 0, ..SlashingConfig::default() }).unwrap_err(),
        SlashError::BadConfig
    );
    assert_eq!(
        Slasher::new(SlashingConfig { reporter_bonus_ppm: PPM + 1, ..SlashingConfig::default() })
            .unwrap_err(),
        SlashError::BadConfig
    );
}

// ---------------------------------------------------------------- tickets to fees

#[test]
fn broker_config_must_fit_staking() {
    use pm_tickets::{BrokerConfig, Settlement};
    let cfg = StakingConfig { ticket_validity_period: 2, ..StakingConfig::default() };
    let ok =
        BrokerConfig { unlock_period: 3, ticket_validity_period: 2, settlement: Settlement::AllOrNothing };
    assert_eq!(cfg.check_broker(&ok), Ok(()));
    assert!(matches!(
        cfg.check_broker(&BrokerConfig { unlock_period: 1, ..ok }),
        Err(StakingError::Broker { .. })
    ));
    assert!(matches!(
        cfg.check_broker(&BrokerConfig { ticket_validity_period: 3, ..ok }),
        Err(StakingError::Broker { .. })
    ));
}

#[test]
fn a_redeemed_ticket_pays_the_orchestrator_account_and_its_delegators_at_the_issue_rounds_share() {
    use pm_tickets::{
        Broker, BrokerConfig, MAX_WIN_PROB, SignedTicket, Ticket, TicketExpirationParams, rand_hash,
    };
    let (mut reg, mut st, o) = world();
    st.bond(addr(2), o, u(3_000)).unwrap();
    st.initialize_round(200, &reg).unwrap();
    let mut broker = Broker::new(BrokerConfig::default()).unwrap();
    st.config().check_broker(broker.config()).unwrap();
    let round_hash = |r: u64| keccak256(r.to_be_bytes());
    broker.initialize_round(2, round_hash(2), [o]).unwrap();
    let key = SecretKey::from_bytes([5; 32]).unwrap();
    broker.store_mut().mint(key.address(), u(50_000)).unwrap();
    broker.fund_deposit(key.address(), u(50_000)).unwrap();
    let rand = H256::repeat_byte(4);
    let ticket = Ticket {
        recipient: o,
        sender: key.address(),
        face_value: u(40_000),
        win_prob: MAX_WIN_PROB,
        sender_nonce: 0,
        recipient_rand_hash: rand_hash(&rand),
        expiration_params: TicketExpirationParams {
            creation_round: 2,
            creation_round_block_hash: round_hash(2),
        },
    };
    let sig = ticket.sign(&key).unwrap();
    // The orchestrator lowers its fee share after issuing; the ticket is redeemed in round 3.
    reg.update(record(o, 100_000, 0), 250).unwrap();
    st.initialize_round(300, &reg).unwrap();
    broker.initialize_round(3, round_hash(3), [o]).unwrap();
    let paid = broker.redeem_winning_ticket(&SignedTicket { ticket, sig, recipient_rand: rand }).unwrap();
    assert_eq!(paid, u(40_000));
    use pm_tickets::BrokerStore;
    assert_eq!(broker.store().balance(&o), u(40_000), "paid to the orchestrator's account");
    let out = st.credit_redemption(&ticket, paid).unwrap();
    assert_eq!((out.fee_share, out.delegators), (500_000, u(20_000)), "round 2's share");
    assert_eq!(st.position(&addr(2)).unwrap().fees, u(15_000));
}

#[test]
fn bonding_needs_addresses_and_locks_are_bounded() {
    let (_, mut st, o) = world();
    assert_eq!(st.bond(Address::zero(), o, u(1)), Err(StakingError::ZeroAddress));
    assert_eq!(st.bond(addr(2), Address::zero(), u(1)), Err(StakingError::ZeroAddress));
    assert_eq!(st.unbond(addr(2), u(1)), Err(StakingError::NotBonded(addr(2))));
    st.bond(addr(2), o, u(1_000)).unwrap();
    for _ in 0..orchestration::staking::MAX_LOCKS {
        st.unbond(addr(2), u(1)).unwrap();
    }
    assert_eq!(st.unbond(addr(2), u(1)), Err(StakingError::TooManyLocks { max: 64 }));
    assert_eq!(st.locks(&addr(2)).unwrap().len(), 64);
}

#[test]
fn a_lock_burned_by_a_full_slash_cannot_be_rebonded_and_withdraws_nothing() {
    let (reg, mut st, o) = slash_world();
    let mut slasher =
        Slasher::new(SlashingConfig { fraction_ppm: PPM, ..SlashingConfig::default() }).unwrap();
    let input = b"i".to_vec();
    let proof = FaultProof::Compute { claim: compute_claim(&input, H256::zero()), input };
    slasher.report(&mut st, o, addr(42), &proof, &Judge).unwrap();
    let (id, lock) = st.locks(&addr(2)).unwrap()[0];
    assert_eq!(lock.amount, U256::zero());
    assert_eq!(st.rebond(addr(2), id), Err(StakingError::NothingToRebond));
    st.initialize_round(400, &reg).unwrap();
    assert_eq!(st.withdraw_stake(addr(2), id), Ok(U256::zero()));
    assert!(st.locks(&addr(2)).unwrap().is_empty());
}
