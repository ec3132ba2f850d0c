//! ledger rewards: one block's rewards with the guardian lottery over 1,000 and 10,000
//! guardians, against the bare `bls-gossip` aggregate verification it is built on
//! (measured in the same run).
//!
//! * `aggregate_verify` (baseline): `Aggregate::verify` of the checkpoint aggregate, all
//!   guardians signing: one weighted key sum and two pairings.
//! * `lottery`: `lottery_winners` over a verified aggregate: one keccak per signer (keys
//!   compressed once, at verification) and the threshold in 512 bits.
//! * `block_rewards`: everything from scratch: decode the aggregate, quorum, verification,
//!   lottery, validator split (21 validators), credit list.
//! * `block_rewards_with`: what a node runs per block when it verified the checkpoint's
//!   aggregate once (`verify_checkpoint_aggregate`) and reuses it until the next one.
//!
//! Run: `cargo bench -p meshcast-benches --bench ledger_rewards -- --warm-up-time 1
//! --measurement-time 3`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::hint::black_box;
use std::sync::Arc;

use bls_gossip::bls::{self, SecretKey as BlsKey};
use bls_gossip::{Aggregate, Bls, GossipMessage, GuardianSet, SignerVector};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ledger::rewards::{
    CheckpointGuardians, RewardConfig, RewardInput, block_rewards, block_rewards_with, lottery_winners,
    verify_checkpoint_aggregate,
};
use mlbft_core::{Checkpoint, guardian_message};
use primitives::{Address, H256, U256};

struct Setup {
    set: GuardianSet<Bls>,
    recipients: Vec<Address>,
    aggregate: Vec<u8>,
    agg: Aggregate<Bls>,
    msg: Vec<u8>,
    checkpoint: Checkpoint,
    set_hash: [u8; 32],
}

fn setup(n: usize) -> Setup {
    let keys: Vec<BlsKey> = (0..n)
        .map(|i| {
            let mut ikm = [0u8; 32];
            ikm[..8].copy_from_slice(&(i as u64).to_be_bytes());
            BlsKey::key_gen(&ikm).unwrap()
        })
        .collect();
    // Stakes from 10,000 to about 1,000,000 THETA-wei units, unequal.
    let stakes: Vec<u128> = (0..n).map(|i| 10_000 + (i as u128 * 7_919) % 990_000).collect();
    let set = GuardianSet::<Bls>::new(keys.iter().map(|k| k.public_key()).collect(), stakes).unwrap();
    let checkpoint = Checkpoint { height: 1_000, hash: H256::repeat_byte(0xc7) };
    let set_hash = [0x5e; 32];
    let msg = guardian_message(&checkpoint, &set_hash);
    let sigs: Vec<bls::Signature> = keys.iter().map(|k| k.sign(&msg)).collect();
    let agg = Aggregate::<Bls> {
        signers: Arc::new(SignerVector::from_counts(&vec![1u8; n])),
        signature: bls::aggregate_signatures(&sigs).unwrap(),
    };
    let aggregate = GossipMessage::new(checkpoint.height, agg.clone()).encode();
    let recipients = (0..n as u64).map(|i| Address::from_low_u64_be(0x10_0000 + i)).collect();
    Setup { set, recipients, aggregate, agg, msg, checkpoint, set_hash }
}

fn lottery(c: &mut Criterion) {
    let cfg = RewardConfig::default();
    let validators: Vec<(Address, U256)> =
        (0..21u64).map(|i| (Address::from_low_u64_be(i + 1), U256::from(1_000_000 + i))).collect();
    let mut group = c.benchmark_group("ledger_rewards");
    for n in [1_000usize, 10_000] {
        let s = setup(n);
        let view = CheckpointGuardians {
            checkpoint: s.checkpoint,
            set: &s.set,
            set_hash: s.set_hash,
            recipients: &s.recipients,
            aggregate: &s.aggregate,
        };
        let verified = verify_checkpoint_aggregate(&view).unwrap();
        let prev = H256::repeat_byte(0x42);
        let input = RewardInput {
            height: 1_001,
            supply: U256::from(5_000_000_000u64) * U256::exp10(18),
            previous_block_hash: prev,
            validators: &validators,
            guardians: Some(view),
        };
        let winners = block_rewards(&cfg, &input).unwrap().winners.len();
        eprintln!("{n} guardians: {winners} winners at {} expected", cfg.lottery_expected_winners);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("aggregate_verify", n), &n, |b, _| {
            b.iter(|| assert!(s.agg.verify(black_box(s.set.keys()), black_box(&s.msg)).unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("lottery", n), &n, |b, _| {
            b.iter(|| black_box(lottery_winners(&cfg, black_box(&verified), black_box(&prev))))
        });
        group.bench_with_input(BenchmarkId::new("block_rewards", n), &n, |b, _| {
            b.iter(|| black_box(block_rewards(&cfg, black_box(&input)).unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("block_rewards_with", n), &n, |b, _| {
            b.iter(|| black_box(block_rewards_with(&cfg, black_box(&input), &verified).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, lottery);
criterion_main!(benches);
