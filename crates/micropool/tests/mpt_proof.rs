//! The payee's handshake against a real Ethereum Merkle Patricia trie (`mpt-refcount`):
//! the pool record is stored in a state trie, a proof is generated from the store, and
//! the payee accepts it — and rejects a stale root, a forged record and a proof of
//! another key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use micropool::*;
use mpt_refcount::{SecureTrie, Trie, apply};
use primitives::{Machine, Timestamp};

#[test]
fn payee_verifies_the_pool_with_a_merkle_proof() {
    let (pool_store, _, viewer) = funded();
    let record = pool_store.reserve(&viewer.address(), 1).unwrap();
    let record_key = reserve_key(&viewer.address(), 1);

    // The state trie holds the record plus unrelated accounts.
    let mut nodes = mpt_refcount::MemoryStore::default();
    let mut trie = Trie::new();
    trie.insert(&nodes, record_key.as_bytes(), &record.encode()).unwrap();
    for i in 0u8..50 {
        trie.insert(&nodes, primitives::keccak256([i]).as_bytes(), &[i; 40]).unwrap();
    }
    let changes = trie.commit();
    let root = changes.root();
    apply(&mut nodes, &changes).unwrap();
    let proof = trie.prove(&nodes, record_key.as_bytes()).unwrap();

    let mut payee = Payee::new(
        payee_cfg(),
        PayeeContext { verifier: MptStateProof, signer: key(5) },
        Timestamp(0),
        [0; 32],
    );
    let hs = |root, proof: &Vec<Vec<u8>>| PayeeInput::Handshake {
        source: viewer.address(),
        reserve_seq: 1,
        state_root: root,
        height: 20,
        proof: proof.clone(),
    };
    payee.handle(Timestamp(0), hs(root, &proof)).unwrap();
    let outputs: Vec<_> = std::iter::from_fn(|| payee.poll_output()).collect();
    assert!(
        outputs.iter().any(|o| matches!(o, PayeeOutput::Event(PayeeEvent::PoolVerified { remaining, .. }) if *remaining == u(100))),
        "{outputs:?}"
    );

    // A proof against another root, or of another key, is refused.
    let mut fresh = Payee::new(
        payee_cfg(),
        PayeeContext { verifier: MptStateProof, signer: key(6) },
        Timestamp(0),
        [0; 32],
    );
    assert!(matches!(
        fresh.handle(Timestamp(0), hs(primitives::keccak256(b"stale"), &proof)),
        Err(Error::Proof(_))
    ));
    let other = trie.prove(&nodes, primitives::keccak256([3u8]).as_bytes()).unwrap();
    assert!(fresh.handle(Timestamp(0), hs(root, &other)).is_err());
    // A proof whose leaf was forged no longer hashes to the root.
    let mut forged = proof.clone();
    let last = forged.last_mut().unwrap();
    let n = last.len();
    last[n - 1] ^= 1;
    assert!(matches!(fresh.handle(Timestamp(0), hs(root, &forged)), Err(Error::Proof(_))));
}

#[test]
fn secure_trie_variant() {
    let (pool_store, _, viewer) = funded();
    let record = pool_store.reserve(&viewer.address(), 1).unwrap();
    let record_key = reserve_key(&viewer.address(), 1);
    let mut nodes = mpt_refcount::MemoryStore::default();
    let mut trie = SecureTrie::new();
    trie.insert(&nodes, record_key.as_bytes(), &record.encode()).unwrap();
    let changes = trie.commit();
    apply(&mut nodes, &changes).unwrap();
    let proof = trie.prove(&nodes, record_key.as_bytes()).unwrap();
    assert_eq!(
        MptSecureStateProof.verify(changes.root(), record_key.as_bytes(), &proof).unwrap(),
        Some(record.encode())
    );
    assert_eq!(MptSecureStateProof.verify(changes.root(), b"absent", &proof).unwrap(), None);
}

/// A reserve record as large as it gets with `payees` payees under the default
/// configuration: every `payment_seq = u64::MAX`, every amount `amount_bytes` long (13:
/// up to 2^104 base units, far above any real supply), 64 resource ids.
fn largest_record(amount_bytes: usize, payees: u32) -> ReservedFund {
    let cfg = PoolConfig::default();
    let big = primitives::U256::from_big_endian(&vec![0xff; amount_bytes]);
    ReservedFund {
        source: primitives::Address::repeat_byte(1),
        reserve_seq: u64::MAX,
        resource_ids: (0..cfg.max_resource_ids).map(|i| resource_id(&format!("r{i}"))).collect(),
        deposit: big,
        collateral: big,
        used: big,
        end_height: u64::MAX,
        slashed: true,
        reporter: primitives::Address::repeat_byte(2),
        transfers: (0..payees)
            .map(|i| {
                let mut a = [0u8; 20];
                a[..4].copy_from_slice(&i.to_be_bytes());
                TransferRecord {
                    target: primitives::Address::from(a),
                    payment_seq: u64::MAX,
                    promised: big,
                    paid: big,
                }
            })
            .collect(),
        slot_unit: big,
    }
}

/// Review: a record lives in the state trie, whose values are at most
/// `mpt_refcount::MAX_VALUE_BYTES`. Under the default `max_payees` the fullest record
/// fits (amounts below 2^104), so a full slot table never makes a settlement unwritable;
/// the ledger must keep `max_payees` and amounts within that (a 2,048-slot table does not
/// fit).
#[test]
fn the_fullest_default_record_fits_a_state_trie_value_and_proves() {
    let rec = largest_record(13, PoolConfig::default().max_payees as u32);
    let bytes = rec.encode();
    assert!(bytes.len() <= mpt_refcount::MAX_VALUE_BYTES, "{} bytes", bytes.len());
    let mut nodes = mpt_refcount::MemoryStore::default();
    let mut trie = SecureTrie::new();
    let key = reserve_key(&rec.source, rec.reserve_seq);
    trie.insert(&nodes, key.as_bytes(), &bytes).unwrap();
    for i in 0u32..200 {
        trie.insert(&nodes, &i.to_be_bytes(), &[7; 40]).unwrap();
    }
    let (root, _) = trie.commit_to(&mut nodes).unwrap();
    let proof = trie.prove(&nodes, key.as_bytes()).unwrap();
    assert_eq!(MptSecureStateProof.verify(root, key.as_bytes(), &proof).unwrap(), Some(bytes));
    // Twice the slots do not fit: the trie refuses the value (typed, nothing changed).
    let double = largest_record(13, 2 * 1024);
    assert!(matches!(
        trie.insert(&nodes, key.as_bytes(), &double.encode()),
        Err(mpt_refcount::Error::ValueTooLarge { .. })
    ));
}
