//! Slash transactions executed: double-signing evidence takes the offender's stake
//! (withdrawn stake included) and drops it from the validator set, overspend evidence
//! slashes a reserve, and the attacks a reviewer would try are refused without changing
//! anything: replays of the same offence, a non-validator proposer, forged statements,
//! evidence outside the window, a wrong slashed address.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod exec_common;

use exec_common::*;
use ledger::slashing::{SlashError, SlashEvidence};
use ledger::*;
use micropool::{Cheque, resource_id};
use mlbft_core::{BlockRef, Evidence, SignedStatement, StatementKind, vote_message};
use mpt_refcount::MemoryStore;
use primitives::{H256, U256};

const VALIDATORS: [u8; 3] = [1, 2, 3];

fn chain() -> Ledger<MemoryStore> {
    chain_with(config())
}

fn chain_with(cfg: LedgerConfig) -> Ledger<MemoryStore> {
    let g = Genesis::from_json(&genesis_json(8, 1_000_000, 1_000_000, &VALIDATORS, &[4])).unwrap();
    Ledger::from_genesis(MemoryStore::new(), cfg, &g, PruningPolicy { keep_last: 16 }).unwrap()
}

/// Executes empty blocks up to `height`.
fn advance(l: &mut Ledger<MemoryStore>, height: u64) {
    for h in l.height() + 1..=height {
        l.execute_block(h, &[]).unwrap();
    }
}

/// Two votes by holder `n` in `epoch` for different blocks at `height`, signed with its
/// BLS key; `signer_key` overrides the key (a forgery).
fn double_vote(l: &Ledger<MemoryStore>, n: u8, height: u64, epoch: u64, signer_key: u8) -> Vec<u8> {
    let committee = l.committee_at(height).unwrap().unwrap();
    let index = committee.addresses.iter().position(|a| *a == addr(n)).unwrap() as u32;
    let statement = |hash: u8| {
        let block = BlockRef { height, epoch, hash: H256::repeat_byte(hash) };
        SignedStatement {
            kind: StatementKind::Vote,
            signer: index,
            block,
            signature: bls_key(signer_key).sign(&vote_message(&block)),
        }
    };
    let e = Evidence::new(statement(0xaa), statement(0xbb)).unwrap();
    SlashEvidence::DoubleSign(Box::new(e)).encode()
}

fn slash(proposer: u8, seq: u64, slashed: u8, reserve_sequence: u64, proof: Vec<u8>) -> Transaction {
    signed(
        Transaction::Slash(SlashTx {
            proposer: TxInput::new(addr(proposer), Coins::zero(), seq),
            slashed_address: addr(slashed),
            reserve_sequence,
            slash_proof: proof,
        }),
        &[proposer],
    )
}

fn stake_of(l: &Ledger<MemoryStore>, n: u8) -> U256 {
    l.validators().unwrap().iter().find(|v| v.holder == addr(n)).map(|v| v.stake).unwrap_or_default()
}

fn conserved(l: &Ledger<MemoryStore>) {
    assert_eq!(total_holdings(l), l.supply().unwrap().expected_total().unwrap());
}

#[test]
fn double_voting_takes_the_whole_stake_burns_it_and_drops_the_validator() {
    let mut l = chain();
    advance(&mut l, 4);
    assert_eq!(stake_of(&l, 2), U256::from(1_000u64));
    let proof = double_vote(&l, 2, 3, 7, 2);
    let out = l.execute_block(5, &[slash(1, 1, 2, 0, proof.clone())]).unwrap();
    assert_eq!(out.slashed, coins(1_000, 0));
    assert_eq!(l.supply().unwrap().slashed, coins(1_000, 0));
    assert_eq!(stake_of(&l, 2), U256::zero());
    assert!(l.validators().unwrap().iter().all(|v| v.holder != addr(2)));
    // The reporter pays no fee and gets nothing by default; its sequence moves.
    assert_eq!(l.account(&addr(1)).unwrap(), Account { sequence: 1, coins: coins(1_000_000, 1_000_000) });
    conserved(&l);

    // The same offence again: the same bytes, or another pair of statements of the
    // same epoch, is a replay and changes nothing.
    let root = l.root();
    assert!(matches!(
        l.check_tx(&slash(1, 2, 2, 0, proof)),
        Err(ExecError::Slash(SlashError::Replayed { .. }))
    ));
    let mut other = double_vote(&l, 2, 3, 7, 2);
    other = {
        let SlashEvidence::DoubleSign(mut e) = SlashEvidence::decode(&other, usize::MAX).unwrap() else {
            unreachable!()
        };
        std::mem::swap(&mut e.first, &mut e.second);
        SlashEvidence::DoubleSign(e).encode()
    };
    let e = l.execute_block(6, &[slash(3, 1, 2, 0, other)]).unwrap_err();
    assert!(
        matches!(e, ExecError::InBlock { error, .. } if matches!(*error, ExecError::Slash(SlashError::Replayed { .. })))
    );
    assert_eq!(l.root(), root);
}

#[test]
fn a_withdrawn_stake_is_still_slashed_and_its_return_pays_nothing() {
    let mut l = chain();
    advance(&mut l, 1);
    // Validator 3 votes twice at height 2, then withdraws to escape (returned at 2 + 5).
    let proof = double_vote(&l, 3, 2, 4, 3);
    l.execute_block(2, &[withdraw(3, 1, 3, STAKE_FOR_VALIDATOR)]).unwrap();
    let out = l.execute_block(3, &[slash(1, 1, 3, 0, proof)]).unwrap();
    assert_eq!(out.slashed, coins(1_000, 0));
    let before = l.account(&addr(3)).unwrap().coins;
    advance(&mut l, 7);
    assert_eq!(l.account(&addr(3)).unwrap().coins, before, "the return gives back nothing");
    conserved(&l);
}

#[test]
fn the_evidence_window_ends_before_the_earliest_withdrawal_returns() {
    // Lock 5: the committee of height 4 is the state of 2; the earliest escape is a
    // withdrawal in block 3, returned at the start of block 8. Evidence is accepted up
    // to age 5 − 2 = 3 (block 7), when the stake is still held.
    let mut l = chain();
    advance(&mut l, 2);
    let proof = double_vote(&l, 2, 4, 9, 2);
    l.execute_block(3, &[withdraw(2, 1, 2, STAKE_FOR_VALIDATOR)]).unwrap();
    advance(&mut l, 6);
    let mut late = l.clone();
    late.execute_block(7, &[]).unwrap();
    assert!(matches!(
        late.check_tx(&slash(1, 1, 2, 0, proof.clone())),
        Err(ExecError::Slash(SlashError::EvidenceTooOld { age: 4, max_age: 3, .. }))
    ));
    let out = l.execute_block(7, &[slash(1, 1, 2, 0, proof)]).unwrap();
    assert_eq!(out.slashed, coins(1_000, 0), "the whole stake, withdrawn but not yet returned");
    conserved(&l);
}

#[test]
fn a_reporter_reward_is_paid_in_theta_when_configured() {
    let mut cfg = config();
    cfg.reporter_reward_bps = 1_000;
    cfg.double_sign_slash_bps = 5_000;
    let mut l = chain_with(cfg);
    advance(&mut l, 3);
    let proof = double_vote(&l, 2, 3, 1, 2);
    let out = l.execute_block(4, &[slash(1, 1, 2, 0, proof)]).unwrap();
    // Half the stake (500): 50 to the reporter, 450 burned; 500 stays staked.
    assert_eq!(out.slashed, coins(450, 0));
    assert_eq!(l.account(&addr(1)).unwrap().coins, coins(1_000_050, 1_000_000));
    assert_eq!(stake_of(&l, 2), U256::from(500u64));
    conserved(&l);
}

#[test]
fn bad_slashes_are_refused_and_change_nothing() {
    let mut l = chain();
    advance(&mut l, 10);
    let good = double_vote(&l, 2, 9, 3, 2);
    let root = l.root();
    // Only a validator of the block's height may submit one (holder 5 holds no stake).
    assert_eq!(
        l.check_tx(&slash(5, 1, 2, 0, good.clone())),
        Err(ExecError::NotValidator { proposer: addr(5), height: 11 })
    );
    // The offender cannot report itself.
    assert!(matches!(
        l.check_tx(&slash(2, 1, 2, 0, good.clone())),
        Err(ExecError::Slash(SlashError::ReporterIsOffender { .. }))
    ));
    // The transaction must name the offender, and reserve 0 for double signing.
    assert!(matches!(
        l.check_tx(&slash(1, 1, 3, 0, good.clone())),
        Err(ExecError::Slash(SlashError::WrongSlashedAddress { .. }))
    ));
    assert!(matches!(
        l.check_tx(&slash(1, 1, 2, 9, good.clone())),
        Err(ExecError::Slash(SlashError::WrongReserveSequence { .. }))
    ));
    // Statements signed by another key are not the validator's.
    let forged = double_vote(&l, 2, 9, 3, 3);
    assert!(matches!(l.check_tx(&slash(1, 1, 2, 0, forged)), Err(ExecError::Slash(SlashError::Evidence(_)))));
    // Older than the return lock (5 blocks): the stake may be gone, refused.
    let old = double_vote(&l, 2, 4, 3, 2);
    assert!(matches!(
        l.check_tx(&slash(1, 1, 2, 0, old)),
        Err(ExecError::Slash(SlashError::EvidenceTooOld { .. }))
    ));
    // Garbage, and a wrong proposer sequence.
    assert!(matches!(
        l.check_tx(&slash(1, 1, 2, 0, vec![1, 2, 3])),
        Err(ExecError::Slash(SlashError::Malformed { .. }))
    ));
    assert!(matches!(l.check_tx(&slash(1, 2, 2, 0, good.clone())), Err(ExecError::BadSequence { .. })));
    assert_eq!(l.root(), root);
    // The good one still slashes.
    l.execute_block(11, &[slash(1, 1, 2, 0, good)]).unwrap();
    assert_eq!(stake_of(&l, 2), U256::zero());
}

#[test]
fn overspend_evidence_slashes_the_reserve_once() {
    let mut l = chain();
    let reserve = signed(
        Transaction::ReserveFund(ReserveFundTx {
            fee: tfuel(100),
            source: TxInput::new(addr(6), tfuel(1_000), 1),
            collateral: tfuel(1_500),
            resource_ids: vec!["stream/42".into()],
            duration: 300,
        }),
        &[6],
    );
    l.execute_block(1, &[reserve]).unwrap();
    // Payee 7 settles 800 on chain; payee 8 holds an off-chain cheque for 800 more.
    let pay = signed(
        Transaction::ServicePayment(ServicePaymentTx {
            fee: tfuel(100),
            source: TxInput::new(addr(6), tfuel(800), 0),
            target: TxInput::new(addr(7), Coins::zero(), 1),
            payment_sequence: 1,
            reserve_sequence: 1,
            resource_id: "stream/42".into(),
        }),
        &[6, 7],
    );
    l.execute_block(2, &[pay]).unwrap();
    let cheque = Cheque {
        source: addr(6),
        reserve_seq: 1,
        target: addr(8),
        resource_id: resource_id("stream/42"),
        amount: U256::from(800u64),
        payment_seq: 1,
    }
    .sign(&key(6), config().pool.chain_id);
    let proof = SlashEvidence::Overspend(vec![cheque]).encode();
    // The reserve is named by its sequence.
    assert!(matches!(
        l.check_tx(&slash(1, 1, 6, 2, proof.clone())),
        Err(ExecError::Slash(SlashError::WrongReserveSequence { .. }))
    ));
    let out = l.execute_block(3, &[slash(1, 1, 6, 1, proof.clone())]).unwrap();
    assert!(!out.slashed.is_zero());
    assert_eq!(out.slashed.theta_wei, U256::zero());
    assert_eq!(l.supply().unwrap().slashed, out.slashed);
    conserved(&l);
    assert!(matches!(
        l.check_tx(&slash(1, 2, 6, 1, proof)),
        Err(ExecError::Slash(SlashError::Replayed { .. } | SlashError::AlreadySlashed { .. }))
    ));
}
