//! Rewards: issuance and its rounding, the validator split, the guardian lottery over a
//! checked checkpoint aggregate (real BLS), the Coinbase check and its every error, and
//! the properties the issue names (total ≤ issuance, determinism, every winner provably
//! qualifies, a forged or foreign aggregate is refused).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, OnceLock};

use bls_gossip::bls::{self, SecretKey as BlsKey};
use bls_gossip::{Aggregate, Bls, GossipMessage, GuardianSet, SignerVector};
use ledger::rewards::{
    CheckpointGuardians, LOTTERY_DOMAIN, RewardConfig, RewardError, RewardInput, block_rewards,
    block_rewards_with, lottery_hash, lottery_seed, lottery_winners, qualifies, verify_checkpoint_aggregate,
    verify_coinbase, verify_winner,
};
use ledger::{CoinbaseTx, Coins, TxInput, TxOutput};
use mlbft_core::{Checkpoint, guardian_message};
use primitives::{Address, H256, U256};
use proptest::prelude::*;

const TFUEL: u128 = 1_000_000_000_000_000_000;

/// Guardians that signed one checkpoint: keys, the set, each one's signature.
struct Guardians {
    keys: Vec<BlsKey>,
    set: GuardianSet<Bls>,
    sigs: Vec<bls::Signature>,
    recipients: Vec<Address>,
    checkpoint: Checkpoint,
    set_hash: [u8; 32],
}

impl Guardians {
    fn new(stakes: &[u128], seed: u8) -> Guardians {
        let keys: Vec<BlsKey> =
            (0..stakes.len()).map(|i| BlsKey::key_gen(&[seed, i as u8, 7, 7].repeat(8)).unwrap()).collect();
        let set =
            GuardianSet::<Bls>::new(keys.iter().map(|k| k.public_key()).collect(), stakes.to_vec()).unwrap();
        let checkpoint = Checkpoint { height: 200, hash: H256::repeat_byte(0xc7) };
        let set_hash = [0x5e; 32];
        let msg = guardian_message(&checkpoint, &set_hash);
        let sigs = keys.iter().map(|k| k.sign(&msg)).collect();
        let recipients = (0..stakes.len()).map(|i| Address::from_low_u64_be(0x1000 + i as u64)).collect();
        Guardians { keys, set, sigs, recipients, checkpoint, set_hash }
    }

    /// The aggregate of `signers` (one signature each) as a gossip message.
    fn aggregate(&self, signers: &[usize]) -> Vec<u8> {
        let mut counts = vec![0u8; self.set.len()];
        for &i in signers {
            counts[i] = 1;
        }
        let sigs: Vec<_> = signers.iter().map(|&i| self.sigs[i]).collect();
        let signature = bls::aggregate_signatures(&sigs).unwrap();
        let agg = Aggregate::<Bls> { signers: Arc::new(SignerVector::from_counts(&counts)), signature };
        GossipMessage::new(self.checkpoint.height, agg).encode()
    }

    fn view<'a>(&'a self, aggregate: &'a [u8]) -> CheckpointGuardians<'a> {
        CheckpointGuardians {
            checkpoint: self.checkpoint,
            set: &self.set,
            set_hash: self.set_hash,
            recipients: &self.recipients,
            aggregate,
        }
    }
}

/// Eight guardians with unequal stakes, built once (key generation and signing).
fn fixture() -> &'static Guardians {
    static G: OnceLock<Guardians> = OnceLock::new();
    G.get_or_init(|| Guardians::new(&[10, 20, 30, 40, 50, 60, 70, 80], 1))
}

fn validators() -> Vec<(Address, U256)> {
    vec![
        (Address::repeat_byte(0xa1), U256::from(1_000u64)),
        (Address::repeat_byte(0xa2), U256::from(3_000u64)),
        (Address::repeat_byte(0xa3), U256::from(6_000u64)),
    ]
}

fn supply() -> U256 {
    U256::from(5_000_000_000u128 * TFUEL)
}

fn input<'a>(
    validators: &'a [(Address, U256)],
    guardians: Option<CheckpointGuardians<'a>>,
) -> RewardInput<'a> {
    RewardInput {
        height: 201,
        supply: supply(),
        previous_block_hash: H256::repeat_byte(0x42),
        validators,
        guardians,
    }
}

fn coinbase(outputs: Vec<TxOutput>, height: u64) -> CoinbaseTx {
    CoinbaseTx {
        proposer: TxInput::new(Address::repeat_byte(0xa1), Coins::zero(), 0),
        outputs,
        block_height: height,
    }
}

// ---------------------------------------------------------------- issuance

#[test]
fn default_issuance_is_five_percent_a_year_rounded_down() {
    let cfg = RewardConfig::default();
    let s: u128 = 5_000_000_000 * TFUEL;
    let expected = s * 500 / (10_000 * 5_256_000);
    assert_eq!(cfg.block_issuance(U256::from(s)).unwrap(), U256::from(expected));
    // A year of blocks mints at most 5% of the (fixed) supply.
    assert!(U256::from(expected) * U256::from(5_256_000u64) <= U256::from(s / 20));
    // Tiny supplies round to nothing rather than minting more than the rate.
    assert_eq!(cfg.block_issuance(U256::from(1_000u64)).unwrap(), U256::zero());
}

#[test]
fn issuance_that_does_not_fit_is_an_overflow() {
    let cfg = RewardConfig { annual_inflation_bps: u32::MAX, blocks_per_year: 1, ..RewardConfig::default() };
    assert_eq!(cfg.block_issuance(U256::MAX), Err(RewardError::Overflow { what: "block issuance" }));
}

#[test]
fn bad_configs_are_refused() {
    let zero_blocks = RewardConfig { blocks_per_year: 0, ..RewardConfig::default() };
    assert!(matches!(zero_blocks.block_issuance(supply()), Err(RewardError::InvalidConfig { .. })));
    let shares =
        RewardConfig { validator_share_bps: 6_000, guardian_share_bps: 4_001, ..RewardConfig::default() };
    assert!(matches!(shares.validate(), Err(RewardError::InvalidConfig { .. })));
    let v = validators();
    assert!(matches!(block_rewards(&shares, &input(&v, None)), Err(RewardError::InvalidConfig { .. })));
}

// ---------------------------------------------------------------- validators

#[test]
fn validators_share_their_pool_by_stake_and_guardians_get_nothing_without_a_checkpoint() {
    let cfg = RewardConfig::default();
    let v = validators();
    let r = block_rewards(&cfg, &input(&v, None)).unwrap();
    let issuance = cfg.block_issuance(supply()).unwrap();
    assert_eq!(r.issuance, issuance);
    assert_eq!(r.validator_pool, issuance * U256::from(5_000u64) / U256::from(10_000u64));
    let pool = r.validator_pool;
    let expected: Vec<(Address, U256)> =
        v.iter().map(|(a, s)| (*a, pool * *s / U256::from(10_000u64))).collect();
    assert_eq!(r.credits, expected);
    assert!(r.winners.is_empty());
    // The guardian pool is not minted, and not handed to the validators either.
    assert!(r.minted() <= r.validator_pool);
    assert!(r.minted() < r.issuance);
}

#[test]
fn one_address_is_credited_once_with_its_amounts_summed_and_zero_credits_are_dropped() {
    let cfg = RewardConfig::default();
    let a = Address::repeat_byte(0x01);
    let v = vec![(a, U256::from(1u64)), (Address::repeat_byte(0x02), U256::zero()), (a, U256::from(1u64))];
    let r = block_rewards(&cfg, &input(&v, None)).unwrap();
    assert_eq!(r.credits.len(), 1);
    assert_eq!(r.credits[0].0, a);
    assert_eq!(r.credits[0].1, r.validator_pool / 2 * 2);
}

#[test]
fn no_validator_stake_is_an_error() {
    let cfg = RewardConfig::default();
    assert_eq!(block_rewards(&cfg, &input(&[], None)), Err(RewardError::NoValidatorStake));
    let zero = vec![(Address::repeat_byte(1), U256::zero())];
    assert_eq!(block_rewards(&cfg, &input(&zero, None)), Err(RewardError::NoValidatorStake));
    let huge = vec![(Address::repeat_byte(1), U256::MAX), (Address::repeat_byte(2), U256::one())];
    assert_eq!(
        block_rewards(&cfg, &input(&huge, None)),
        Err(RewardError::Overflow { what: "validator stake" })
    );
}

// ---------------------------------------------------------------- lottery

#[test]
fn qualification_threshold_is_exact_and_scaled_by_stake_share() {
    // stake/total = 1/2 and one expected winner: the threshold is 2^255.
    let below = H256::from_slice(&[[0x7f].as_slice(), &[0xff; 31]].concat());
    let at = H256::from_slice(&[[0x80].as_slice(), &[0u8; 31]].concat());
    assert!(qualifies(&below, 1, 2, 1));
    assert!(!qualifies(&at, 1, 2, 1));
    // Twice the stake share, twice the threshold: 2^255 now wins.
    assert!(qualifies(&at, 2, 2, 1) && qualifies(&H256::repeat_byte(0xff), 2, 2, 1));
    // A threshold at or above 2^256 always wins; zero stake never does.
    assert!(qualifies(&H256::repeat_byte(0xff), 1, 4, 4));
    assert!(!qualifies(&H256::zero(), 0, 4, 1_000));
    assert!(!qualifies(&H256::zero(), 1, 0, 1));
    assert!(!qualifies(&H256::zero(), 1, 4, 0));
}

#[test]
fn lottery_hash_is_keccak_of_its_documented_preimage() {
    let pk = [3u8; 48];
    let (d, p) = (H256::repeat_byte(4), H256::repeat_byte(5));
    let mut pre = LOTTERY_DOMAIN.to_vec();
    pre.extend_from_slice(&pk);
    pre.extend_from_slice(d.as_bytes());
    let seed = primitives::keccak256(&pre);
    assert_eq!(lottery_seed(&pk, &d), seed);
    let outer = [seed.as_bytes(), p.as_bytes()].concat();
    assert_eq!(lottery_hash(&pk, &d, &p), primitives::keccak256(&outer));
    assert_ne!(lottery_hash(&pk, &d, &p), lottery_hash(&pk, &p, &d));
}

#[test]
fn signers_who_win_share_the_guardian_pool_and_non_signers_get_nothing() {
    let g = fixture();
    // Everyone but guardian 0 (stake 10 of 360) signs; a threshold so high every signer wins.
    let signers: Vec<usize> = (1..8).collect();
    let agg = g.aggregate(&signers);
    let cfg = RewardConfig { lottery_expected_winners: 1_000, ..RewardConfig::default() };
    let v = validators();
    let r = block_rewards(&cfg, &input(&v, Some(g.view(&agg)))).unwrap();
    assert_eq!(r.winners, signers);
    let each = r.guardian_pool / U256::from(7u64);
    for &i in &signers {
        assert!(r.credits.contains(&(g.recipients[i], each)), "guardian {i} credited");
    }
    assert!(r.credits.iter().all(|(a, _)| *a != g.recipients[0]));
    assert!(r.minted() <= r.issuance);
    assert_eq!(r.credits.len(), 3 + 7);
    assert!(r.credits.windows(2).all(|w| w[0].0 < w[1].0), "sorted by address");
}

#[test]
fn a_low_threshold_picks_some_signers_and_each_pick_is_provable() {
    let g = fixture();
    let all: Vec<usize> = (0..8).collect();
    let agg = g.aggregate(&all);
    let cfg = RewardConfig { lottery_expected_winners: 2, ..RewardConfig::default() };
    let verified = verify_checkpoint_aggregate(&g.view(&agg)).unwrap();
    assert_eq!(verified.signers, all);
    let mut seen_win = false;
    let mut seen_loss = false;
    for b in 0u8..40 {
        let prev = H256::repeat_byte(b);
        let winners = lottery_winners(&cfg, &verified, &prev);
        for i in 0..8 {
            let proof = verify_winner(&cfg, &g.view(&agg), &prev, i);
            if winners.contains(&i) {
                assert_eq!(proof, Ok(()));
                seen_win = true;
            } else {
                assert_eq!(proof, Err(RewardError::NotAWinner { index: i }));
                seen_loss = true;
            }
        }
    }
    assert!(seen_win && seen_loss, "40 blocks at 2 expected winners of 8 show both outcomes");
}

#[test]
fn verify_winner_refuses_non_signers_and_unknown_guardians() {
    let g = fixture();
    let agg = g.aggregate(&[1, 2, 3, 4, 5, 6, 7]);
    let cfg = RewardConfig { lottery_expected_winners: 1_000, ..RewardConfig::default() };
    let prev = H256::repeat_byte(9);
    assert_eq!(verify_winner(&cfg, &g.view(&agg), &prev, 0), Err(RewardError::NotASigner { index: 0 }));
    assert_eq!(
        verify_winner(&cfg, &g.view(&agg), &prev, 8),
        Err(RewardError::UnknownGuardian { index: 8, len: 8 })
    );
    assert_eq!(verify_winner(&cfg, &g.view(&agg), &prev, 7), Ok(()));
}

#[test]
fn aggregate_below_two_thirds_is_refused() {
    let g = fixture();
    // Stakes 50+60+70+80 = 260 of 360: 780 > 720 passes; drop 80 → 180: 540 ≤ 720 fails.
    let agg = g.aggregate(&[4, 5, 6]);
    let v = validators();
    let r = block_rewards(&RewardConfig::default(), &input(&v, Some(g.view(&agg))));
    assert_eq!(r, Err(RewardError::NotQuorum { signed: 180, total: 360 }));
}

#[test]
fn forged_and_foreign_aggregates_are_refused() {
    let g = fixture();
    let v = validators();
    let cfg = RewardConfig::default();
    let signers: Vec<usize> = (0..8).collect();
    let run = |agg: &[u8], view: CheckpointGuardians<'_>| {
        block_rewards(&cfg, &input(&v, Some(CheckpointGuardians { aggregate: agg, ..view })))
    };
    let base = g.view(&[]);

    // Signed by another set of keys (same stakes, same checkpoint): does not verify.
    let other = Guardians::new(&[10, 20, 30, 40, 50, 60, 70, 80], 2);
    let foreign = other.aggregate(&signers);
    assert_eq!(run(&foreign, base), Err(RewardError::AggregateInvalid { height: 200 }));

    // Claims a signer whose signature it does not hold.
    let sigs: Vec<_> = (1..8).map(|i| g.sigs[i]).collect();
    let claimed = Aggregate::<Bls> {
        signers: Arc::new(SignerVector::from_counts(&[1; 8])),
        signature: bls::aggregate_signatures(&sigs).unwrap(),
    };
    let lying = GossipMessage::new(200, claimed).encode();
    assert_eq!(run(&lying, base), Err(RewardError::AggregateInvalid { height: 200 }));

    // The right signatures for another checkpoint hash, or under another set hash.
    let agg = g.aggregate(&signers);
    let moved =
        CheckpointGuardians { checkpoint: Checkpoint { height: 200, hash: H256::repeat_byte(1) }, ..base };
    assert_eq!(run(&agg, moved), Err(RewardError::AggregateInvalid { height: 200 }));
    let reset = CheckpointGuardians { set_hash: [0; 32], ..base };
    assert_eq!(run(&agg, reset), Err(RewardError::AggregateInvalid { height: 200 }));

    // For another checkpoint height.
    let later =
        CheckpointGuardians { checkpoint: Checkpoint { height: 300, hash: g.checkpoint.hash }, ..base };
    assert_eq!(run(&agg, later), Err(RewardError::WrongCheckpoint { expected: 300, found: 200 }));

    // Bytes that do not decode (truncated, or a vector over another set size).
    assert!(matches!(run(&agg[..agg.len() - 1], base), Err(RewardError::ProofDecode(_))));
    let small = Guardians::new(&[1, 1, 1], 3);
    assert!(matches!(run(&small.aggregate(&[0, 1, 2]), base), Err(RewardError::ProofDecode(_))));

    // Recipients that do not line up with the set.
    let short = CheckpointGuardians { recipients: &g.recipients[..7], aggregate: &agg, ..base };
    assert_eq!(
        block_rewards(&cfg, &input(&v, Some(short))),
        Err(RewardError::RecipientsMismatch { recipients: 7, guardians: 8 })
    );
    // And the genuine aggregate passes.
    assert!(run(&agg, base).is_ok());
}

#[test]
fn a_verification_reused_across_blocks_gives_the_same_rewards_and_only_for_its_checkpoint() {
    let g = fixture();
    let agg = g.aggregate(&(0..8).collect::<Vec<_>>());
    let cfg = RewardConfig { lottery_expected_winners: 3, ..RewardConfig::default() };
    let v = validators();
    let verified = verify_checkpoint_aggregate(&g.view(&agg)).unwrap();
    assert_eq!(verified.signer_keys[3], g.keys[3].public_key().to_bytes());
    assert_eq!(
        verified.signer_seeds[3],
        lottery_seed(&verified.signer_keys[3], &primitives::keccak256(&agg))
    );
    assert_eq!(verified.signer_stakes, vec![10, 20, 30, 40, 50, 60, 70, 80]);
    for b in 0u8..10 {
        let mut inp = input(&v, Some(g.view(&agg)));
        inp.previous_block_hash = H256::repeat_byte(b);
        assert_eq!(block_rewards_with(&cfg, &inp, &verified), block_rewards(&cfg, &inp));
    }
    // Another aggregate (fewer signers), another checkpoint, no guardians: refused.
    let fewer = g.aggregate(&(1..8).collect::<Vec<_>>());
    assert_eq!(
        block_rewards_with(&cfg, &input(&v, Some(g.view(&fewer))), &verified),
        Err(RewardError::VerificationMismatch)
    );
    let moved = CheckpointGuardians {
        checkpoint: Checkpoint { height: 300, hash: g.checkpoint.hash },
        ..g.view(&agg)
    };
    assert_eq!(
        block_rewards_with(&cfg, &input(&v, Some(moved)), &verified),
        Err(RewardError::VerificationMismatch)
    );
    let reset = CheckpointGuardians { set_hash: [1; 32], ..g.view(&agg) };
    assert_eq!(
        block_rewards_with(&cfg, &input(&v, Some(reset)), &verified),
        Err(RewardError::VerificationMismatch)
    );
    assert_eq!(block_rewards_with(&cfg, &input(&v, None), &verified), Err(RewardError::VerificationMismatch));
}

// ---------------------------------------------------------------- coinbase

fn expected_rewards() -> ledger::BlockRewards {
    let g = fixture();
    let agg = g.aggregate(&(0..8).collect::<Vec<_>>());
    let cfg = RewardConfig { lottery_expected_winners: 1_000, ..RewardConfig::default() };
    let v = validators();
    block_rewards(&cfg, &input(&v, Some(g.view(&agg)))).unwrap()
}

#[test]
fn the_computed_outputs_pass_verify_coinbase() {
    let r = expected_rewards();
    assert_eq!(verify_coinbase(&r, &coinbase(r.outputs(), 201)), Ok(()));
    assert!(r.outputs().iter().all(|o| o.coins.theta_wei.is_zero()));
}

#[test]
fn verify_coinbase_reports_every_kind_of_mismatch() {
    let r = expected_rewards();
    let out = r.outputs();
    let (a0, v0) = r.credits[0];
    let (a1, v1) = r.credits[1];

    assert_eq!(
        verify_coinbase(&r, &coinbase(out.clone(), 202)),
        Err(RewardError::WrongHeight { expected: 201, found: 202 })
    );

    let mut theta = out.clone();
    theta[1].coins.theta_wei = U256::one();
    assert_eq!(
        verify_coinbase(&r, &coinbase(theta, 201)),
        Err(RewardError::ThetaCredited { address: a1, amount: U256::one() })
    );

    let mut dup = out.clone();
    dup.insert(1, out[0].clone());
    assert_eq!(verify_coinbase(&r, &coinbase(dup, 201)), Err(RewardError::Duplicate { address: a0 }));

    let stranger = Address::repeat_byte(0xee);
    let mut extra = out.clone();
    extra.push(TxOutput::new(stranger, Coins::new(U256::zero(), U256::from(5u64))));
    assert_eq!(
        verify_coinbase(&r, &coinbase(extra, 201)),
        Err(RewardError::Extra { address: stranger, amount: U256::from(5u64) })
    );

    let missing = out[1..].to_vec();
    assert_eq!(
        verify_coinbase(&r, &coinbase(missing, 201)),
        Err(RewardError::Missing { address: a0, amount: v0 })
    );

    let mut swapped = out.clone();
    swapped.swap(0, 1);
    assert_eq!(
        verify_coinbase(&r, &coinbase(swapped, 201)),
        Err(RewardError::WrongRecipient { index: 0, expected: a0, found: a1 })
    );

    let mut more = out.clone();
    more[1].coins.tfuel_wei = v1 + U256::one();
    assert_eq!(
        verify_coinbase(&r, &coinbase(more, 201)),
        Err(RewardError::WrongAmount { address: a1, expected: v1, found: v1 + U256::one() })
    );

    // An empty Coinbase for a block that owes rewards.
    assert_eq!(
        verify_coinbase(&r, &coinbase(vec![], 201)),
        Err(RewardError::Missing { address: a0, amount: v0 })
    );
}

// ---------------------------------------------------------------- properties

fn stake() -> impl Strategy<Value = U256> {
    prop_oneof![
        (1u64..1_000_000).prop_map(U256::from),
        any::<u128>().prop_map(|s| U256::from(s) + U256::one()),
    ]
}

fn cfg_strategy() -> impl Strategy<Value = RewardConfig> {
    (0u32..=20_000, 1u64..10_000_000, 0u32..=10_000, 0u64..20).prop_flat_map(|(infl, bpy, v, w)| {
        (0u32..=10_000 - v).prop_map(move |g| RewardConfig {
            annual_inflation_bps: infl,
            blocks_per_year: bpy,
            validator_share_bps: v,
            guardian_share_bps: g,
            lottery_expected_winners: w,
        })
    })
}

/// Subsets of the fixture's guardians holding more than 2/3 of its stake.
fn quorum_subset() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(any::<bool>(), 8).prop_filter_map("quorum", |mask| {
        let g = fixture();
        let signers: Vec<usize> = (0..8).filter(|&i| mask[i]).collect();
        let signed: u128 = signers.iter().map(|&i| g.set.stake(i)).sum();
        (3 * signed > 2 * g.set.total_stake()).then_some(signers)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Issuance never exceeds the rate and is the floor: issuance·d ≤ supply·bps < (issuance+1)·d.
    #[test]
    fn issuance_is_the_floor_of_the_rate(supply in any::<[u8; 32]>(), cfg in cfg_strategy()) {
        let supply = U256::from_big_endian(&supply) >> 40; // keep supply·bps well inside 512 bits
        let i = cfg.block_issuance(supply).unwrap();
        let d = U256::from(10_000u64) * U256::from(cfg.blocks_per_year);
        let rate = supply.full_mul(U256::from(cfg.annual_inflation_bps));
        prop_assert!(i.full_mul(d) <= rate);
        prop_assert!((i + U256::one()).full_mul(d) > rate);
    }

    /// Total credited ≤ issuance, and the computation is deterministic.
    #[test]
    fn credits_never_exceed_issuance_and_are_deterministic(
        cfg in cfg_strategy(),
        stakes in proptest::collection::vec((0u8..6, stake()), 1..6),
        supply in any::<u128>(),
        signers in quorum_subset(),
        prev in any::<[u8; 32]>(),
    ) {
        let g = fixture();
        let validators: Vec<(Address, U256)> =
            stakes.iter().map(|(a, s)| (Address::repeat_byte(0xa0 + a), *s)).collect();
        let agg = g.aggregate(&signers);
        let inp = RewardInput {
            height: 7,
            supply: U256::from(supply),
            previous_block_hash: H256::from(prev),
            validators: &validators,
            guardians: Some(g.view(&agg)),
        };
        let r = block_rewards(&cfg, &inp).unwrap();
        prop_assert!(r.minted() <= r.issuance);
        prop_assert!(r.validator_pool.saturating_add(r.guardian_pool) <= r.issuance);
        prop_assert!(r.credits.windows(2).all(|w| w[0].0 < w[1].0));
        prop_assert!(r.credits.iter().all(|(_, v)| !v.is_zero()));
        prop_assert_eq!(&block_rewards(&cfg, &inp).unwrap(), &r);
        prop_assert_eq!(verify_coinbase(&r, &coinbase(r.outputs(), 7)), Ok(()));
    }

    /// Every winner provably qualifies (signer, hash below its threshold), and every
    /// signer who did not win provably does not.
    #[test]
    fn every_winner_provably_qualifies(
        signers in quorum_subset(),
        prev in any::<[u8; 32]>(),
        w in 1u64..8,
    ) {
        let g = fixture();
        let cfg = RewardConfig { lottery_expected_winners: w, ..RewardConfig::default() };
        let agg = g.aggregate(&signers);
        let view = g.view(&agg);
        let prev = H256::from(prev);
        let verified = verify_checkpoint_aggregate(&view).unwrap();
        let winners = lottery_winners(&cfg, &verified, &prev);
        for i in 0..8 {
            let proof = verify_winner(&cfg, &view, &prev, i);
            if winners.contains(&i) {
                prop_assert_eq!(proof, Ok(()));
                let h = lottery_hash(&g.keys[i].public_key().to_bytes(), &verified.digest, &prev);
                prop_assert!(qualifies(&h, g.set.stake(i), g.set.total_stake(), w));
            } else if signers.contains(&i) {
                prop_assert_eq!(proof, Err(RewardError::NotAWinner { index: i }));
            } else {
                prop_assert_eq!(proof, Err(RewardError::NotASigner { index: i }));
            }
        }
    }

    /// An aggregate whose signature is not the signers' (one signer's signature replaced
    /// by a foreign key's, or the message changed) yields an error, never rewards.
    #[test]
    fn forged_aggregate_yields_an_error(signers in quorum_subset(), victim in 0usize..8, prev in any::<[u8; 32]>()) {
        let g = fixture();
        let victim = signers[victim % signers.len()];
        let forger = BlsKey::key_gen(&[0xf0; 32]).unwrap();
        let msg = guardian_message(&g.checkpoint, &g.set_hash);
        let sigs: Vec<_> = signers.iter().map(|&i| if i == victim { forger.sign(&msg) } else { g.sigs[i] }).collect();
        let mut counts = vec![0u8; 8];
        for &i in &signers { counts[i] = 1; }
        let forged = Aggregate::<Bls> {
            signers: Arc::new(SignerVector::from_counts(&counts)),
            signature: bls::aggregate_signatures(&sigs).unwrap(),
        };
        let bytes = GossipMessage::new(g.checkpoint.height, forged).encode();
        let validators = validators();
        let mut inp = input(&validators, Some(g.view(&bytes)));
        inp.previous_block_hash = H256::from(prev);
        prop_assert_eq!(
            block_rewards(&RewardConfig::default(), &inp),
            Err(RewardError::AggregateInvalid { height: g.checkpoint.height })
        );
        prop_assert_eq!(
            verify_winner(&RewardConfig::default(), &g.view(&bytes), &H256::from(prev), victim),
            Err(RewardError::AggregateInvalid { height: g.checkpoint.height })
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The credit list equals a plain `u128` model of the rules (floor at every step,
    /// amounts of one address summed, zeros dropped, winners paid equally).
    #[test]
    fn credits_match_a_u128_model(
        cfg in cfg_strategy(),
        stakes in proptest::collection::vec((0u8..4, 0u64..1_000_000), 1..6),
        supply in 0u128..10_000_000_000 * TFUEL,
        signers in quorum_subset(),
        prev in any::<[u8; 32]>(),
    ) {
        prop_assume!(stakes.iter().any(|(_, s)| *s > 0));
        let g = fixture();
        let validators: Vec<(Address, U256)> =
            stakes.iter().map(|(a, s)| (Address::repeat_byte(0xa0 + a), U256::from(*s))).collect();
        let agg = g.aggregate(&signers);
        let inp = RewardInput {
            height: 9,
            supply: U256::from(supply),
            previous_block_hash: H256::from(prev),
            validators: &validators,
            guardians: Some(g.view(&agg)),
        };
        let r = block_rewards(&cfg, &inp).unwrap();

        let issuance = supply * u128::from(cfg.annual_inflation_bps) / (10_000 * u128::from(cfg.blocks_per_year));
        let vpool = issuance * u128::from(cfg.validator_share_bps) / 10_000;
        let gpool = issuance * u128::from(cfg.guardian_share_bps) / 10_000;
        let total: u128 = stakes.iter().map(|(_, s)| u128::from(*s)).sum();
        let mut model: std::collections::BTreeMap<Address, u128> = Default::default();
        for (a, s) in &stakes {
            *model.entry(Address::repeat_byte(0xa0 + a)).or_default() += vpool * u128::from(*s) / total;
        }
        if !r.winners.is_empty() {
            let each = gpool / r.winners.len() as u128;
            for &i in &r.winners {
                *model.entry(g.recipients[i]).or_default() += each;
            }
        }
        let model: Vec<(Address, U256)> =
            model.into_iter().filter(|(_, v)| *v > 0).map(|(a, v)| (a, U256::from(v))).collect();
        prop_assert_eq!(r.issuance, U256::from(issuance));
        prop_assert_eq!(&r.credits, &model);
        prop_assert!(r.winners.iter().all(|i| signers.contains(i)));
    }
}
