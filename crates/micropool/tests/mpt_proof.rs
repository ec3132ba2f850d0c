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
