//! Slashing: the `slash_proof` envelope (round trip, size limits, every decode error),
//! double-signing evidence verified against the committee of its height (real BLS),
//! overspend evidence against the reserve record (micropool's rule), the orders they
//! yield, replay refusal, the Slash transaction's consistency checks, and a decoder that
//! never panics and accepts only canonical bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use bls_gossip::Bls;
use bls_gossip::bls::SecretKey as BlsKey;
use ledger::slashing::{
    Committee, KIND_DOUBLE_SIGN, KIND_OVERSPEND, MAX_OVERSPEND_CHEQUES, MAX_SLASH_PROOF_LEN, Offence,
    SLASH_PROOF_VERSION, SlashConfig, SlashContext, SlashError, SlashEvidence, double_sign_key,
    overspend_key, verify_slash_tx,
};
use ledger::{Coins, SlashTx, TxInput};
use micropool::{Cheque, ReservedFund, SignedCheque, SlashDestination, TransferRecord, resource_id};
use mlbft_core::{
    BlockRef, Evidence, SignedStatement, StatementKind, ValidatorSet, proposal_message, vote_message,
};
use primitives::rlp::RlpStream;
use primitives::{Address, H256, SecretKey, U256};
use proptest::prelude::*;

const CHAIN: u64 = 1; // micropool's default chain id

// ---------------------------------------------------------------- fixtures

struct Ctx {
    height: u64,
    /// Committees by first height (each applies until the next).
    committees: Vec<(u64, Committee)>,
    reserves: BTreeMap<(Address, u64), ReservedFund>,
    used: BTreeSet<H256>,
}

impl SlashContext for Ctx {
    fn height(&self) -> u64 {
        self.height
    }
    fn committee_at(&self, height: u64) -> Option<&Committee> {
        self.committees.iter().rev().find(|(from, _)| *from <= height).map(|(_, c)| c)
    }
    fn reserve(&self, source: &Address, reserve_seq: u64) -> Option<ReservedFund> {
        self.reserves.get(&(*source, reserve_seq)).cloned()
    }
    fn evidence_used(&self, key: &H256) -> bool {
        self.used.contains(key)
    }
}

fn bls_key(i: u8) -> BlsKey {
    BlsKey::key_gen(&[i; 32]).unwrap()
}

fn validator_address(i: u8) -> Address {
    Address::repeat_byte(0xb0 + i)
}

/// Four validators with stakes 100, 200, 300, 400 (keys 1..=4), from height 10.
fn committee() -> Committee {
    let set = ValidatorSet::<Bls>::new(
        (1..=4u8).map(|i| (bls_key(i).public_key(), U256::from(100u64 * i as u64))).collect(),
    )
    .unwrap();
    Committee { set, addresses: (0..4).map(validator_address).collect() }
}

fn viewer() -> SecretKey {
    SecretKey::from_bytes([0x31; 32]).unwrap()
}

fn payee(i: u8) -> Address {
    Address::repeat_byte(0xd0 + i)
}

fn reporter() -> Address {
    Address::repeat_byte(0xee)
}

/// Reserve 3 of the viewer: deposit 100, collateral 201, payee 1 settled at 40.
fn reserve() -> ReservedFund {
    ReservedFund {
        source: viewer().address(),
        reserve_seq: 3,
        resource_ids: vec![resource_id("stream")],
        deposit: U256::from(100u64),
        collateral: U256::from(201u64),
        used: U256::from(40u64),
        end_height: 900,
        slashed: false,
        reporter: Address::zero(),
        transfers: vec![TransferRecord {
            target: payee(1),
            payment_seq: 1,
            promised: U256::from(40u64),
            paid: U256::from(40u64),
        }],
        slot_unit: U256::one(),
    }
}

fn ctx() -> Ctx {
    let mut reserves = BTreeMap::new();
    let r = reserve();
    reserves.insert((r.source, r.reserve_seq), r);
    Ctx { height: 120, committees: vec![(10, committee())], reserves, used: BTreeSet::new() }
}

fn statement(kind: StatementKind, signer: u32, height: u64, epoch: u64, hash: u8) -> SignedStatement<Bls> {
    let block = BlockRef { height, epoch, hash: H256::repeat_byte(hash) };
    let msg = match kind {
        StatementKind::Proposal => proposal_message(&block),
        StatementKind::Vote => vote_message(&block),
    };
    // Validator index i holds key i + 1.
    SignedStatement { kind, signer, block, signature: bls_key(signer as u8 + 1).sign(&msg) }
}

/// Validator 2 (stake 300) votes for two blocks at height 100, epoch 7.
fn double_vote() -> Evidence<Bls> {
    Evidence::new(
        statement(StatementKind::Vote, 2, 100, 7, 0xaa),
        statement(StatementKind::Vote, 2, 100, 7, 0xbb),
    )
    .unwrap()
}

fn cheque(target: u8, amount: u64, seq: u64) -> SignedCheque {
    Cheque {
        source: viewer().address(),
        reserve_seq: 3,
        target: payee(target),
        resource_id: resource_id("stream"),
        amount: U256::from(amount),
        payment_seq: seq,
    }
    .sign(&viewer(), CHAIN)
}

/// Payee 1 is promised 40 (settled), payee 2 gets a cheque for 70: 110 > 100.
fn overspend() -> SlashEvidence {
    SlashEvidence::Overspend(vec![cheque(2, 70, 1)])
}

fn slash_tx(proof: Vec<u8>, slashed: Address, reserve_sequence: u64) -> SlashTx {
    SlashTx {
        proposer: TxInput::new(reporter(), Coins::zero(), 1),
        slashed_address: slashed,
        reserve_sequence,
        slash_proof: proof,
    }
}

fn envelope(version: u64, kind: u64, body_raw: &[u8]) -> Vec<u8> {
    let mut s = RlpStream::new_list(3);
    s.append(&version);
    s.append(&kind);
    s.append_raw(body_raw, 1);
    s.out().to_vec()
}

fn decode(bytes: &[u8]) -> Result<SlashEvidence, SlashError> {
    SlashEvidence::decode(bytes, MAX_SLASH_PROOF_LEN)
}

// ---------------------------------------------------------------- envelope

#[test]
fn both_kinds_round_trip_byte_for_byte() {
    for e in [SlashEvidence::DoubleSign(Box::new(double_vote())), overspend()] {
        let bytes = e.encode();
        let r = primitives::rlp::Rlp::new(&bytes);
        assert_eq!(r.val_at::<u8>(0).unwrap(), SLASH_PROOF_VERSION);
        let kind = if matches!(e, SlashEvidence::DoubleSign(_)) { KIND_DOUBLE_SIGN } else { KIND_OVERSPEND };
        assert_eq!(r.val_at::<u8>(1).unwrap(), kind);
        assert_eq!(decode(&bytes).unwrap(), e);
    }
}

#[test]
fn size_limits_apply_before_anything_is_decoded() {
    let bytes = overspend().encode();
    assert_eq!(
        SlashEvidence::decode(&bytes, bytes.len() - 1),
        Err(SlashError::TooLong { len: bytes.len(), limit: bytes.len() - 1 })
    );
    let huge = vec![0u8; MAX_SLASH_PROOF_LEN + 1];
    assert_eq!(
        SlashEvidence::decode(&huge, usize::MAX),
        Err(SlashError::TooLong { len: MAX_SLASH_PROOF_LEN + 1, limit: MAX_SLASH_PROOF_LEN })
    );
}

#[test]
fn malformed_envelopes_are_refused() {
    let good = overspend().encode();
    let mut trailing = good.clone();
    trailing.push(0x80);
    assert!(matches!(decode(&trailing), Err(SlashError::Malformed { what: "envelope", .. })));
    assert!(matches!(decode(&[]), Err(SlashError::Malformed { what: "envelope", .. })));
    assert!(matches!(decode(&[0x83, 1, 2, 3]), Err(SlashError::Malformed { what: "envelope", .. })));
    assert!(matches!(decode(&[0xc2, 0x01, 0x02]), Err(SlashError::Malformed { what: "envelope", .. })));
    assert!(matches!(decode(&good[..good.len() - 1]), Err(SlashError::Malformed { .. })));
    // A body that is not a list of cheques.
    assert!(matches!(
        decode(&envelope(1, 2, &[0x82, 1, 2])),
        Err(SlashError::Malformed { what: "cheques", .. })
    ));
}

#[test]
fn unknown_versions_and_kinds_are_refused() {
    let body = primitives::rlp::encode_list(&[cheque(2, 70, 1)]).to_vec();
    assert_eq!(decode(&envelope(2, 2, &body)), Err(SlashError::UnsupportedVersion { found: 2, expected: 1 }));
    assert_eq!(decode(&envelope(0, 2, &body)), Err(SlashError::UnsupportedVersion { found: 0, expected: 1 }));
    assert_eq!(decode(&envelope(1, 3, &body)), Err(SlashError::UnknownKind(3)));
    assert_eq!(decode(&envelope(1, 0, &body)), Err(SlashError::UnknownKind(0)));
}

/// Non-canonical forms are refused (by the RLP reader here; the decoder's final
/// re-encoding check, `SlashError::NonCanonical`, is the backstop behind it).
#[test]
fn non_canonical_envelopes_are_refused() {
    let body = primitives::rlp::encode_list(&[cheque(2, 70, 1)]).to_vec();
    let with_kind = |kind: &[u8], version: &[u8]| {
        let mut s = RlpStream::new_list(3);
        s.append_raw(version, 1);
        s.append_raw(kind, 1);
        s.append_raw(&body, 1);
        s.out().to_vec()
    };
    assert!(decode(&with_kind(&[0x02], &[0x01])).is_ok());
    // The kind as a long-form string of one byte, the version as a one-byte string.
    assert!(matches!(decode(&with_kind(&[0xb8, 0x01, 0x02], &[0x01])), Err(SlashError::Malformed { .. })));
    assert!(matches!(
        decode(&with_kind(&[0x02], &[0x81, 0x01])),
        Err(SlashError::Malformed { what: "version", .. })
    ));
    // A zero-prefixed list length.
    let good = overspend().encode();
    assert_eq!(good[0], 0xf8, "the overspend envelope uses a one-byte long-form length");
    let mut long = vec![0xf9, 0x00];
    long.extend_from_slice(&good[1..]);
    assert!(matches!(decode(&long), Err(SlashError::Malformed { what: "envelope", .. })));
}

#[test]
fn bad_double_sign_bodies_are_refused_with_the_evidence_error() {
    // A body that is not evidence.
    assert!(matches!(decode(&envelope(1, 1, &[0xc1, 0x80])), Err(SlashError::Evidence(_))));
    // Two statements of different kinds do not make evidence.
    let mut s = RlpStream::new_list(2);
    let a = Evidence::new(
        statement(StatementKind::Vote, 1, 100, 7, 1),
        statement(StatementKind::Vote, 1, 100, 7, 2),
    )
    .unwrap()
    .encode();
    let b = Evidence::new(
        statement(StatementKind::Proposal, 1, 100, 7, 1),
        statement(StatementKind::Proposal, 1, 100, 7, 2),
    )
    .unwrap()
    .encode();
    // first statement of `a`, second of `b`.
    let ra = primitives::rlp::Rlp::new(&a);
    let rb = primitives::rlp::Rlp::new(&b);
    s.append_raw(ra.at(0).unwrap().as_raw(), 1);
    s.append_raw(rb.at(1).unwrap().as_raw(), 1);
    let mixed = s.out().to_vec();
    assert!(matches!(
        decode(&envelope(1, 1, &mixed)),
        Err(SlashError::Evidence(mlbft_core::Error::InvalidEvidence { .. }))
    ));
}

#[test]
fn cheque_counts_are_bounded_and_each_cheque_must_decode() {
    assert_eq!(decode(&envelope(1, 2, &[0xc0])), Err(SlashError::NoCheques));
    let many: Vec<SignedCheque> = (0..=MAX_OVERSPEND_CHEQUES as u64).map(|i| cheque(2, 70, i + 1)).collect();
    let bytes = SlashEvidence::Overspend(many).encode();
    assert_eq!(decode(&bytes), Err(SlashError::TooManyCheques { count: 65, max: 64 }));
    let body = {
        let mut s = RlpStream::new_list(2);
        s.append(&cheque(2, 70, 1));
        s.append_raw(&[0xc1, 0x80], 1);
        s.out().to_vec()
    };
    assert!(matches!(decode(&envelope(1, 2, &body)), Err(SlashError::Cheque { index: 1, .. })));
}

// ---------------------------------------------------------------- double signing

#[test]
fn double_voting_slashes_the_offenders_stake_at_its_height_and_burns_it() {
    let c = ctx();
    let e = SlashEvidence::DoubleSign(Box::new(double_vote()));
    let order = e.verify(reporter(), &SlashConfig::default(), &c).unwrap();
    assert_eq!(order.offender, validator_address(2));
    assert_eq!(order.amount, U256::from(300u64));
    assert_eq!(order.burned, U256::from(300u64));
    assert_eq!(order.beneficiary, None);
    assert_eq!(order.reserve, None);
    assert_eq!(order.evidence_key, double_sign_key(&validator_address(2), 7));
    assert_eq!(
        order.offence,
        Offence::DoubleSign {
            kind: StatementKind::Vote,
            epoch: 7,
            height: 100,
            validator: 2,
            stake: U256::from(300u64)
        }
    );
}

#[test]
fn double_proposing_with_a_partial_slash_and_a_reporter_reward() {
    let c = ctx();
    let e = Evidence::new(
        statement(StatementKind::Proposal, 0, 50, 3, 0x01),
        statement(StatementKind::Proposal, 0, 51, 3, 0x02),
    )
    .unwrap();
    let cfg =
        SlashConfig { double_sign_slash_bps: 5_000, reporter_reward_bps: 1_000, ..SlashConfig::default() };
    let order = SlashEvidence::DoubleSign(Box::new(e)).verify(reporter(), &cfg, &c).unwrap();
    assert_eq!(order.offender, validator_address(0));
    assert_eq!(order.amount, U256::from(50u64));
    assert_eq!(order.beneficiary, Some((reporter(), U256::from(5u64))));
    assert_eq!(order.burned, U256::from(45u64));
}

#[test]
fn a_forged_statement_is_refused() {
    let c = ctx();
    let mut forged = statement(StatementKind::Vote, 2, 100, 7, 0xbb);
    forged.signature = bls_key(9).sign(&forged.message());
    let e = Evidence::new(statement(StatementKind::Vote, 2, 100, 7, 0xaa), forged).unwrap();
    assert!(matches!(
        SlashEvidence::DoubleSign(Box::new(e)).verify(reporter(), &SlashConfig::default(), &c),
        Err(SlashError::Evidence(mlbft_core::Error::BadSignature { signer: 2, .. }))
    ));
    // Signed by a validator of another committee: index 5 is outside this one.
    let outsider = Evidence::new(
        SignedStatement { signer: 5, ..statement(StatementKind::Vote, 2, 100, 7, 0xaa) },
        SignedStatement { signer: 5, ..statement(StatementKind::Vote, 2, 100, 7, 0xbb) },
    )
    .unwrap();
    assert!(matches!(
        SlashEvidence::DoubleSign(Box::new(outsider)).verify(reporter(), &SlashConfig::default(), &c),
        Err(SlashError::Evidence(mlbft_core::Error::UnknownValidator { index: 5, .. }))
    ));
}

#[test]
fn evidence_must_fall_inside_the_window_and_under_a_known_committee() {
    let e = SlashEvidence::DoubleSign(Box::new(double_vote()));
    let cfg = SlashConfig { max_evidence_age: 19, ..SlashConfig::default() };
    let mut c = ctx();
    assert_eq!(
        e.verify(reporter(), &cfg, &c),
        Err(SlashError::EvidenceTooOld { offence: 100, age: 20, max_age: 19 })
    );
    c.height = 99;
    assert_eq!(
        e.verify(reporter(), &SlashConfig::default(), &c),
        Err(SlashError::EvidenceFromFuture { offence: 100, current: 99 })
    );
    let mut c = ctx();
    c.committees = vec![(101, committee())];
    assert_eq!(
        e.verify(reporter(), &SlashConfig::default(), &c),
        Err(SlashError::UnknownCommittee { height: 100 })
    );
    let mut broken = committee();
    broken.addresses.pop();
    c.committees = vec![(0, broken)];
    assert_eq!(
        e.verify(reporter(), &SlashConfig::default(), &c),
        Err(SlashError::InvalidCommittee { addresses: 3, validators: 4 })
    );
}

#[test]
fn statements_under_two_committees_are_refused() {
    let mut c = ctx();
    let mut other = committee();
    other.addresses.reverse();
    c.committees.push((51, other));
    let e = Evidence::new(
        statement(StatementKind::Vote, 1, 50, 3, 1),
        statement(StatementKind::Vote, 1, 51, 3, 2),
    )
    .unwrap();
    assert_eq!(
        SlashEvidence::DoubleSign(Box::new(e)).verify(reporter(), &SlashConfig::default(), &c),
        Err(SlashError::CommitteeMismatch { first: 50, second: 51 })
    );
}

#[test]
fn an_offender_cannot_report_itself() {
    let e = SlashEvidence::DoubleSign(Box::new(double_vote()));
    assert_eq!(
        e.verify(validator_address(2), &SlashConfig::default(), &ctx()),
        Err(SlashError::ReporterIsOffender { reporter: validator_address(2) })
    );
    assert_eq!(
        overspend().verify(viewer().address(), &SlashConfig::default(), &ctx()),
        Err(SlashError::ReporterIsOffender { reporter: viewer().address() })
    );
}

#[test]
fn a_double_sign_offence_is_slashed_once_whatever_evidence_proves_it() {
    let mut c = ctx();
    let cfg = SlashConfig::default();
    let order = SlashEvidence::DoubleSign(Box::new(double_vote())).verify(reporter(), &cfg, &c).unwrap();
    c.used.insert(order.evidence_key);
    let again = SlashEvidence::DoubleSign(Box::new(double_vote()));
    assert_eq!(again.verify(reporter(), &cfg, &c), Err(SlashError::Replayed { key: order.evidence_key }));
    // The same two statements swapped, or a third conflicting vote in the same epoch.
    let v = double_vote();
    let swapped = Evidence::new(v.second.clone(), v.first.clone()).unwrap();
    assert_ne!(swapped.encode(), v.encode());
    assert_eq!(
        SlashEvidence::DoubleSign(Box::new(swapped)).verify(reporter(), &cfg, &c),
        Err(SlashError::Replayed { key: order.evidence_key })
    );
    let third = Evidence::new(v.first.clone(), statement(StatementKind::Vote, 2, 100, 7, 0xcc)).unwrap();
    assert_eq!(
        SlashEvidence::DoubleSign(Box::new(third)).verify(reporter(), &cfg, &c),
        Err(SlashError::Replayed { key: order.evidence_key })
    );
    // Another epoch is another offence.
    let next = Evidence::new(
        statement(StatementKind::Vote, 2, 101, 8, 1),
        statement(StatementKind::Vote, 2, 101, 8, 2),
    )
    .unwrap();
    assert!(SlashEvidence::DoubleSign(Box::new(next)).verify(reporter(), &cfg, &c).is_ok());
}

// ---------------------------------------------------------------- overspend

#[test]
fn overspend_burns_the_penalty_and_keeps_the_compensation_pool_for_payees() {
    let order = overspend().verify(reporter(), &SlashConfig::default(), &ctx()).unwrap();
    // pool = (201 - 100) / 2 = 50; penalty = 201 - 50 = 151.
    assert_eq!(order.offender, viewer().address());
    assert_eq!(order.amount, U256::from(151u64));
    assert_eq!(order.burned, U256::from(151u64));
    assert_eq!(order.beneficiary, None);
    assert_eq!(
        order.offence,
        Offence::Overspend { reserve_seq: 3, promised: U256::from(110u64), deposit: U256::from(100u64) }
    );
    assert_eq!(order.evidence_key, overspend_key(&viewer().address(), 3));
    let after = order.reserve.unwrap();
    let expected =
        ReservedFund { collateral: U256::from(50u64), slashed: true, reporter: reporter(), ..reserve() };
    assert_eq!(after, expected);
}

#[test]
fn overspend_pays_the_reporter_when_the_pool_config_says_so() {
    let mut cfg = SlashConfig::default();
    cfg.pool.slash_to = SlashDestination::Reporter;
    let order = overspend().verify(reporter(), &cfg, &ctx()).unwrap();
    assert_eq!(order.beneficiary, Some((reporter(), U256::from(151u64))));
    assert_eq!(order.burned, U256::zero());
}

#[test]
fn cheques_within_the_deposit_prove_nothing() {
    // 40 settled + 60 = 100: exactly the deposit. A lower newer cheque to payee 1 adds nothing.
    let e = SlashEvidence::Overspend(vec![cheque(2, 60, 1), cheque(1, 10, 2)]);
    assert_eq!(
        e.verify(reporter(), &SlashConfig::default(), &ctx()),
        Err(SlashError::NoOverspend { total: U256::from(100u64), deposit: U256::from(100u64) })
    );
}

#[test]
fn bad_cheques_are_refused() {
    let cfg = SlashConfig::default();
    // Signed by someone else than the source, or for another chain.
    let mut forged = cheque(2, 70, 1);
    forged.signature =
        SecretKey::from_bytes([0x77; 32]).unwrap().sign_prehash(&forged.cheque.signing_hash(CHAIN));
    let r = SlashEvidence::Overspend(vec![cheque(3, 1, 1), forged]).verify(reporter(), &cfg, &ctx());
    assert!(
        matches!(r, Err(SlashError::Cheque { index: 1, source: micropool::Error::WrongSigner { .. } })),
        "{r:?}"
    );
    let other_chain =
        SlashConfig { pool: micropool::PoolConfig { chain_id: 2, ..cfg.pool.clone() }, ..cfg.clone() };
    let r = overspend().verify(reporter(), &other_chain, &ctx());
    assert!(matches!(r, Err(SlashError::Cheque { index: 0, .. })), "{r:?}");

    // Cheques of two reserves.
    let mut stray = cheque(2, 70, 1).cheque;
    stray.reserve_seq = 4;
    let stray = stray.sign(&viewer(), CHAIN);
    assert_eq!(
        SlashEvidence::Overspend(vec![cheque(2, 70, 1), stray]).verify(reporter(), &cfg, &ctx()),
        Err(SlashError::MixedReserves {
            index: 1,
            expected_source: viewer().address(),
            expected_seq: 3,
            found_source: viewer().address(),
            found_seq: 4,
        })
    );

    // More cheques than the pool's configured limit.
    let few =
        SlashConfig { pool: micropool::PoolConfig { max_evidence: 1, ..cfg.pool.clone() }, ..cfg.clone() };
    assert_eq!(
        SlashEvidence::Overspend(vec![cheque(2, 70, 1), cheque(3, 1, 1)]).verify(reporter(), &few, &ctx()),
        Err(SlashError::TooManyCheques { count: 2, max: 1 })
    );
    assert_eq!(SlashEvidence::Overspend(vec![]).verify(reporter(), &cfg, &ctx()), Err(SlashError::NoCheques));
}

#[test]
fn the_reserve_must_exist_match_and_be_unslashed() {
    let cfg = SlashConfig::default();
    let mut c = ctx();
    c.reserves.clear();
    assert_eq!(
        overspend().verify(reporter(), &cfg, &c),
        Err(SlashError::ReserveNotFound { source_addr: viewer().address(), reserve_seq: 3 })
    );
    let mut c = ctx();
    let wrong = ReservedFund { reserve_seq: 9, ..reserve() };
    c.reserves.insert((viewer().address(), 3), wrong);
    assert_eq!(
        overspend().verify(reporter(), &cfg, &c),
        Err(SlashError::ReserveMismatch { source_addr: viewer().address(), reserve_seq: 3 })
    );
    let mut c = ctx();
    c.reserves.insert((viewer().address(), 3), ReservedFund { slashed: true, ..reserve() });
    assert_eq!(
        overspend().verify(reporter(), &cfg, &c),
        Err(SlashError::AlreadySlashed { source_addr: viewer().address(), reserve_seq: 3 })
    );
}

#[test]
fn an_overspend_is_slashed_once_whatever_cheques_prove_it() {
    let mut c = ctx();
    let cfg = SlashConfig::default();
    let order = overspend().verify(reporter(), &cfg, &c).unwrap();
    c.used.insert(order.evidence_key);
    let other = SlashEvidence::Overspend(vec![cheque(4, 99, 1), cheque(2, 70, 1)]);
    assert_eq!(other.verify(reporter(), &cfg, &c), Err(SlashError::Replayed { key: order.evidence_key }));
}

#[test]
fn promises_that_overflow_are_an_error() {
    let big = |t: u8| {
        Cheque {
            source: viewer().address(),
            reserve_seq: 3,
            target: payee(t),
            resource_id: resource_id("stream"),
            amount: U256::MAX,
            payment_seq: 1,
        }
        .sign(&viewer(), CHAIN)
    };
    assert_eq!(
        SlashEvidence::Overspend(vec![big(2), big(3)]).verify(reporter(), &SlashConfig::default(), &ctx()),
        Err(SlashError::Overflow { what: "promised total" })
    );
}

#[test]
fn basis_points_above_one_whole_are_refused() {
    let cfg = SlashConfig { reporter_reward_bps: 10_001, ..SlashConfig::default() };
    assert!(matches!(overspend().verify(reporter(), &cfg, &ctx()), Err(SlashError::InvalidConfig { .. })));
    let cfg = SlashConfig { double_sign_slash_bps: 10_001, ..SlashConfig::default() };
    assert!(matches!(overspend().verify(reporter(), &cfg, &ctx()), Err(SlashError::InvalidConfig { .. })));
}

// ---------------------------------------------------------------- the Slash transaction

#[test]
fn verify_slash_tx_checks_the_named_offender_and_reserve() {
    let cfg = SlashConfig::default();
    let c = ctx();
    let ds = SlashEvidence::DoubleSign(Box::new(double_vote())).encode();
    let os = overspend().encode();
    assert_eq!(
        verify_slash_tx(&slash_tx(ds.clone(), validator_address(2), 0), 4096, &cfg, &c).unwrap().amount,
        U256::from(300u64)
    );
    assert_eq!(
        verify_slash_tx(&slash_tx(os.clone(), viewer().address(), 3), 4096, &cfg, &c).unwrap().amount,
        U256::from(151u64)
    );

    assert_eq!(
        verify_slash_tx(&slash_tx(ds.clone(), validator_address(1), 0), 4096, &cfg, &c),
        Err(SlashError::WrongSlashedAddress { named: validator_address(1), offender: validator_address(2) })
    );
    assert_eq!(
        verify_slash_tx(&slash_tx(ds, validator_address(2), 3), 4096, &cfg, &c),
        Err(SlashError::WrongReserveSequence { named: 3, expected: 0 })
    );
    assert_eq!(
        verify_slash_tx(&slash_tx(os.clone(), viewer().address(), 4), 4096, &cfg, &c),
        Err(SlashError::WrongReserveSequence { named: 4, expected: 3 })
    );
    assert_eq!(
        verify_slash_tx(&slash_tx(os.clone(), viewer().address(), 3), 10, &cfg, &c),
        Err(SlashError::TooLong { len: os.len(), limit: 10 })
    );
    // The reporter is the transaction's proposer.
    let mut own = slash_tx(os, viewer().address(), 3);
    own.proposer.address = viewer().address();
    assert_eq!(
        verify_slash_tx(&own, 4096, &cfg, &c),
        Err(SlashError::ReporterIsOffender { reporter: viewer().address() })
    );
}

// ---------------------------------------------------------------- properties

fn mutate(bytes: &[u8], ops: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for &(pos, op, val) in ops {
        if b.is_empty() {
            b.push(val);
            continue;
        }
        let p = pos % b.len();
        match op % 4 {
            0 => b[p] ^= val | 1,
            1 => b.truncate(p),
            2 => b.insert(p, val),
            _ => b[p] = val,
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the bytes, decoding returns a value or an error; a value re-encodes to
    /// exactly the input, and verification answers without panicking.
    #[test]
    fn decoder_never_panics_and_accepts_only_canonical_bytes(
        which in 0usize..2,
        ops in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..4),
    ) {
        let seed = if which == 0 { SlashEvidence::DoubleSign(Box::new(double_vote())).encode() } else { overspend().encode() };
        let bytes = mutate(&seed, &ops);
        if let Ok(e) = decode(&bytes) {
            prop_assert_eq!(e.encode(), bytes);
            let _ = e.verify(reporter(), &SlashConfig::default(), &ctx());
        }
    }

    /// Random bytes never panic the decoder.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(e) = decode(&bytes) {
            prop_assert_eq!(e.encode(), bytes);
        }
    }
}
