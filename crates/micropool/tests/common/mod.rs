//! Shared fixtures of the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use micropool::*;
use primitives::{Address, H256, Machine, SecretKey, Timestamp, U256};

pub const CHAIN: u64 = 1;

pub fn key(b: u8) -> SecretKey {
    SecretKey::from_bytes([b; 32]).unwrap()
}

/// The payee configuration the machine tests share.
pub fn payee_cfg() -> PayeeConfig {
    PayeeConfig {
        chain_id: CHAIN,
        block_time_ms: 1000,
        credit_limit: u(30),
        min_remaining: u(10),
        settle_threshold: u(20),
        settle_margin_blocks: 10,
        fee: U256::zero(),
        resubmit_after_ms: 5_000,
        max_submissions: 3,
    }
}

pub fn u(x: u64) -> U256 {
    U256::from(x)
}

pub fn rid() -> ResourceId {
    resource_id("stream/42")
}

pub fn reserve_tx(src: &SecretKey, seq: u64, deposit: u64, collateral: u64, duration: u64) -> ReserveFund {
    ReserveFund {
        source: src.address(),
        reserve_seq: seq,
        resource_ids: vec![rid()],
        deposit: u(deposit),
        collateral: u(collateral),
        duration,
        fee: U256::zero(),
        signature: placeholder_signature(),
    }
    .signed(src, CHAIN)
}

pub fn cheque(src: &SecretKey, seq: u64, target: Address, amount: u64, payment_seq: u64) -> SignedCheque {
    Cheque {
        source: src.address(),
        reserve_seq: seq,
        target,
        resource_id: rid(),
        amount: u(amount),
        payment_seq,
    }
    .sign(src, CHAIN)
}

pub fn pay(src: &SecretKey, seq: u64, payee: &SecretKey, amount: u64, payment_seq: u64) -> ServicePayment {
    ServicePayment::countersign(
        cheque(src, seq, payee.address(), amount, payment_seq),
        U256::zero(),
        payee,
        CHAIN,
    )
}

pub fn release(submitter: &SecretKey, src: Address, seq: u64) -> ReleaseFund {
    ReleaseFund {
        submitter: submitter.address(),
        source: src,
        reserve_seq: seq,
        fee: U256::zero(),
        signature: placeholder_signature(),
    }
    .signed(submitter, CHAIN)
}

pub fn report(reporter: &SecretKey, evidence: Vec<SignedCheque>) -> ReportOverspend {
    ReportOverspend {
        reporter: reporter.address(),
        evidence,
        fee: U256::zero(),
        signature: placeholder_signature(),
    }
    .signed(reporter, CHAIN)
}

/// A store where the viewer (key 1) holds 1000 and reserve 1 (deposit 100, collateral
/// 150, duration 300) was made at height 10, ending at 310.
pub fn funded() -> (MemoryStore, PoolConfig, SecretKey) {
    let cfg = PoolConfig::default();
    let viewer = key(1);
    let mut store = MemoryStore::with_balances([(viewer.address(), u(1000))]);
    reserve_fund(&mut store, &cfg, 10, &reserve_tx(&viewer, 1, 100, 150, 300)).unwrap();
    (store, cfg, viewer)
}

/// The state root and proof of every reserve in `store` (the toy state commitment).
pub fn state_proof(store: &MemoryStore) -> (H256, Vec<Vec<u8>>) {
    let state: BTreeMap<Vec<u8>, Vec<u8>> =
        store.reserves.values().map(|r| (r.key().as_bytes().to_vec(), r.encode())).collect();
    ToyStateProof::commit(&state)
}

/// A payee machine with [`payee_cfg`] and key `k`.
pub fn payee(k: SecretKey) -> Payee<ToyStateProof, SecretKey> {
    Payee::new(payee_cfg(), PayeeContext { verifier: ToyStateProof, signer: k }, Timestamp(0), [0; 32])
}

/// The handshake for reserve 1 of `v` at `height`, proven against `store`.
pub fn handshake(store: &MemoryStore, v: &SecretKey, height: u64) -> PayeeInput {
    let (state_root, proof) = state_proof(store);
    PayeeInput::Handshake { source: v.address(), reserve_seq: 1, state_root, height, proof }
}

/// Every pending output of `m`.
pub fn drain<M: Machine>(m: &mut M) -> Vec<M::Output> {
    std::iter::from_fn(|| m.poll_output()).collect()
}

/// Asks `pe` to serve one chunk of reserve 1 of `v` (price 1) at `now`; the outputs.
pub fn request_chunk<M: Machine<Input = PayeeInput>>(pe: &mut M, now: u64, v: &SecretKey) -> Vec<M::Output> {
    let request =
        PayeeInput::ChunkRequest { source: v.address(), reserve_seq: 1, resource_id: rid(), price: u(1) };
    assert!(pe.handle(Timestamp(now), request).is_ok(), "a chunk request is answered, not an error");
    drain(pe)
}
