//! Coinbase executed with the block's context: validators of the block's committee and
//! the lottery's winners among the guardians who signed the finalized checkpoint are
//! credited exactly, the supply grows by exactly that, and every way a proposer could
//! cheat (inflated or redirected credits, a Coinbase by someone else, a second one, one
//! not first, a forged aggregate, another height) is refused without changing anything.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod exec_common;

use std::sync::Arc;

use bls_gossip::bls;
use bls_gossip::{Aggregate, Bls, GossipMessage, SignerVector};
use exec_common::*;
use ledger::rewards::RewardError;
use ledger::*;
use mlbft_core::{Checkpoint, guardian_message};
use mpt_refcount::MemoryStore;
use primitives::{H256, U256};

const VALIDATORS: [u8; 3] = [1, 2, 3];
const GUARDIANS: [u8; 4] = [4, 5, 6, 7];
const SET_HASH: [u8; 32] = [0x5e; 32];
const TFUEL_EACH: u64 = 10_000_000_000_000_000_000;

fn chain() -> Ledger<MemoryStore> {
    // 10 TFUEL per account: enough supply for a non-zero per-block issuance at 5% a year.
    let g = Genesis::from_json(&genesis_json(8, 1_000_000, TFUEL_EACH, &VALIDATORS, &GUARDIANS)).unwrap();
    let mut l =
        Ledger::from_genesis(MemoryStore::new(), config(), &g, PruningPolicy { keep_last: 16 }).unwrap();
    for h in 1..=3 {
        l.execute_block(h, &[]).unwrap();
    }
    l.finalize(2).unwrap();
    l
}

fn checkpoint() -> Checkpoint {
    Checkpoint { height: 2, hash: H256::repeat_byte(0xc7) }
}

/// The aggregate of guardians `signers` (holder numbers) over the checkpoint, each signing
/// with `key_of(holder)`, in the ledger's guardian order.
fn aggregate(l: &Ledger<MemoryStore>, signers: &[u8], key_of: impl Fn(u8) -> u8) -> Vec<u8> {
    let order: Vec<_> = l.guardians().unwrap().into_iter().map(|g| g.holder).collect();
    let msg = guardian_message(&checkpoint(), &SET_HASH);
    let mut counts = vec![0u8; order.len()];
    let mut sigs = Vec::new();
    for &n in signers {
        let i = order.iter().position(|a| *a == addr(n)).unwrap();
        counts[i] = 1;
        sigs.push(bls_key(key_of(n)).sign(&msg));
    }
    let signature = bls::aggregate_signatures(&sigs).unwrap();
    let agg = Aggregate::<Bls> { signers: Arc::new(SignerVector::from_counts(&counts)), signature };
    GossipMessage::new(checkpoint().height, agg).encode()
}

fn context(aggregate: Vec<u8>) -> BlockContext {
    BlockContext {
        proposer: addr(1),
        previous_block_hash: H256::repeat_byte(0x42),
        finality: Some(Finality { checkpoint: checkpoint(), set_hash: SET_HASH, aggregate }),
    }
}

fn coinbase(by: u8, height: u64, outputs: Vec<TxOutput>) -> Transaction {
    signed(
        Transaction::Coinbase(CoinbaseTx {
            proposer: TxInput::new(addr(by), Coins::zero(), 0),
            outputs,
            block_height: height,
        }),
        &[by],
    )
}

fn conserved(l: &Ledger<MemoryStore>) {
    assert_eq!(total_holdings(l), l.supply().unwrap().expected_total().unwrap());
}

fn refused(l: &mut Ledger<MemoryStore>, ctx: Option<BlockContext>, txs: &[Transaction]) -> ExecError {
    let root = l.root();
    let e = l.execute_block_in(4, ctx, txs).unwrap_err();
    assert_eq!(l.root(), root, "a refused block changes nothing");
    match e {
        ExecError::InBlock { error, .. } => *error,
        other => other,
    }
}

#[test]
fn validators_and_signing_guardians_are_credited_and_the_supply_grows_by_exactly_that() {
    let mut l = chain();
    let ctx = context(aggregate(&l, &[4, 5, 6], |n| n));
    let expected = l.block_rewards(4, &ctx).unwrap();
    assert!(!expected.issuance.is_zero());
    // Every validator is credited; guardian credits go to signers only (7 did not sign).
    for v in VALIDATORS {
        assert!(expected.credits.iter().any(|(a, _)| *a == addr(v)), "validator {v}");
    }
    assert!(expected.credits.iter().all(|(a, _)| *a != addr(7)));
    assert!(expected.minted() <= expected.issuance);
    let before: Vec<Coins> = (1..=8).map(|n| l.account(&addr(n)).unwrap().coins).collect();
    let out = l.execute_block_in(4, Some(ctx.clone()), &[coinbase(1, 4, expected.outputs())]).unwrap();
    assert_eq!(out.receipts[0].tx_type, TxType::Coinbase);
    for n in 1..=8u8 {
        let owed = expected.credits.iter().find(|(a, _)| *a == addr(n)).map(|(_, v)| *v).unwrap_or_default();
        let now = l.account(&addr(n)).unwrap().coins;
        assert_eq!(now, before[n as usize - 1].checked_add(&Coins::new(U256::zero(), owed)).unwrap(), "{n}");
    }
    assert_eq!(l.supply().unwrap().issued, Coins::new(U256::zero(), expected.minted()));
    conserved(&l);
    // The next block reuses the verified aggregate and pays again, on the grown supply.
    let next = l.block_rewards(5, &ctx).unwrap();
    assert!(next.issuance >= expected.issuance);
    l.execute_block_in(5, Some(ctx), &[coinbase(1, 5, next.outputs())]).unwrap();
    conserved(&l);
}

#[test]
fn before_the_first_checkpoint_only_validators_are_paid() {
    let mut l = chain();
    let ctx = BlockContext { finality: None, ..context(Vec::new()) };
    let expected = l.block_rewards(4, &ctx).unwrap();
    assert_eq!(expected.credits.len(), VALIDATORS.len());
    l.execute_block_in(4, Some(ctx), &[coinbase(1, 4, expected.outputs())]).unwrap();
    conserved(&l);
}

#[test]
fn a_cheating_proposer_is_refused() {
    let mut l = chain();
    let ctx = context(aggregate(&l, &[4, 5, 6, 7], |n| n));
    let expected = l.block_rewards(4, &ctx).unwrap();
    let good = expected.outputs();

    // Inflated, redirected, missing or extra credits.
    let mut inflated = good.clone();
    inflated[0].coins.tfuel_wei += U256::one();
    assert!(matches!(
        refused(&mut l, Some(ctx.clone()), &[coinbase(1, 4, inflated)]),
        ExecError::Reward(RewardError::WrongAmount { .. })
    ));
    let mut redirected = good.clone();
    redirected[0].address = addr(8);
    assert!(matches!(
        refused(&mut l, Some(ctx.clone()), &[coinbase(1, 4, redirected)]),
        ExecError::Reward(_)
    ));
    let mut extra = good.clone();
    extra.push(TxOutput::new(addr(8), tfuel(1)));
    assert!(matches!(refused(&mut l, Some(ctx.clone()), &[coinbase(1, 4, extra)]), ExecError::Reward(_)));
    // Another height's rewards.
    assert!(matches!(
        refused(&mut l, Some(ctx.clone()), &[coinbase(1, 3, good.clone())]),
        ExecError::Reward(RewardError::WrongHeight { .. })
    ));
    // Someone other than the proposer; or the proposer's name without its signature.
    assert!(matches!(
        refused(&mut l, Some(ctx.clone()), &[coinbase(2, 4, good.clone())]),
        ExecError::NotProposer { .. }
    ));
    let Transaction::Coinbase(mut forged) = coinbase(2, 4, good.clone()) else { unreachable!() };
    forged.proposer.address = addr(1);
    assert!(matches!(refused(&mut l, Some(ctx.clone()), &[Transaction::Coinbase(forged)]), ExecError::Tx(_)));
    // Twice, or not first.
    assert_eq!(
        refused(&mut l, Some(ctx.clone()), &[coinbase(1, 4, good.clone()), coinbase(1, 4, good.clone())]),
        ExecError::CoinbaseNotFirst
    );
    assert_eq!(
        refused(&mut l, Some(ctx.clone()), &[send(8, 1, 7, tfuel(1), 100), coinbase(1, 4, good.clone())]),
        ExecError::CoinbaseNotFirst
    );
    // Without the block's context.
    assert_eq!(refused(&mut l, None, &[coinbase(1, 4, good.clone())]), ExecError::NoBlockContext);
    // A forged aggregate (guardian 7's share signed with another key) proves nothing.
    let bad = context(aggregate(&l, &[4, 5, 6, 7], |n| if n == 7 { 9 } else { n }));
    assert!(matches!(
        refused(&mut l, Some(bad.clone()), &[coinbase(1, 4, good.clone())]),
        ExecError::Reward(_)
    ));
    assert!(l.block_rewards(4, &bad).is_err());
    // Too few signers (one of four guardians is not more than 2/3 of their stake).
    let few = context(aggregate(&l, &[4], |n| n));
    assert!(l.block_rewards(4, &few).is_err());
    // The honest one still executes.
    l.execute_block_in(4, Some(ctx), &[coinbase(1, 4, good)]).unwrap();
    conserved(&l);
}

fn distribution(holder: u8, seq: u64, beneficiary: u8, bps: u64) -> Transaction {
    signed(
        Transaction::StakeRewardDistribution(StakeRewardDistributionTx {
            fee: tfuel(100),
            holder: TxInput::new(addr(holder), tfuel(100), seq),
            beneficiary: TxOutput::new(addr(beneficiary), Coins::zero()),
            split_basis_point: bps,
        }),
        &[holder],
    )
}

#[test]
fn a_reward_distribution_rule_splits_the_holders_guardian_reward() {
    let mut l = chain();
    // Above Theta's 10% cap: refused.
    assert!(matches!(l.check_tx(&distribution(5, 1, 8, 1_001)), Err(ExecError::BadSplit { .. })));
    // Guardian 5 sends 10% of its guardian rewards to 8.
    l.execute_block(4, &[distribution(5, 1, 8, 1_000)]).unwrap();
    let ctx = context(aggregate(&l, &[4, 5, 6, 7], |n| n));
    let r = l.block_rewards(5, &ctx).unwrap();
    // Every signer wins here (100 expected winners among four equal stakes).
    assert_eq!(r.winners.len(), 4);
    let each = r.guardian_pool / U256::from(4u64);
    let split = each * U256::from(1_000u64) / U256::from(10_000u64);
    let credit = |n: u8| r.credits.iter().find(|(a, _)| *a == addr(n)).map(|(_, v)| *v).unwrap_or_default();
    assert_eq!(credit(4), each);
    assert_eq!(credit(5), each - split);
    assert_eq!(credit(8), split);
    assert!(r.minted() <= r.issuance);
    l.execute_block_in(5, Some(ctx.clone()), &[coinbase(1, 5, r.outputs())]).unwrap();
    conserved(&l);
    // 0 removes the rule: the next block pays guardian 5 in full.
    l.execute_block(6, &[distribution(5, 2, 8, 0)]).unwrap();
    let r = l.block_rewards(7, &ctx).unwrap();
    let each = r.guardian_pool / U256::from(4u64);
    assert_eq!(r.credits.iter().find(|(a, _)| *a == addr(5)).map(|(_, v)| *v), Some(each));
    assert!(r.credits.iter().all(|(a, _)| *a != addr(8)));
}
