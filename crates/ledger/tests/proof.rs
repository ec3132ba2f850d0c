//! State proofs for light clients: an account and a reserve proven against a state root
//! (present and absent), refused under another root, with a tampered node, or as bytes
//! that are not a canonical proof.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod exec_common;

use exec_common::*;
use ledger::proof::{MAX_PROOF_NODES, ProofError, StateProof, verify_account, verify_reserve};
use ledger::*;
use primitives::{H256, U256};
use proptest::prelude::*;

fn reserved() -> Ledger<mpt_refcount::MemoryStore> {
    let mut l = ledger();
    let reserve = signed(
        Transaction::ReserveFund(ReserveFundTx {
            fee: tfuel(100),
            source: TxInput::new(addr(3), tfuel(1_000), 1),
            collateral: tfuel(1_500),
            resource_ids: vec!["stream/42".into()],
            duration: 300,
        }),
        &[3],
    );
    l.execute_block(1, &[reserve]).unwrap();
    l
}

#[test]
fn accounts_and_reserves_are_proven_present_or_absent() {
    let l = reserved();
    let root = l.root();
    let p = StateProof::decode(&l.prove_account(1, &addr(2)).unwrap().encode()).unwrap();
    assert_eq!(verify_account(root, &addr(2), &p).unwrap(), Some(l.account(&addr(2)).unwrap()));
    // An address never funded: proven absent.
    let nobody = primitives::Address::repeat_byte(0x77);
    let p = l.prove_account(1, &nobody).unwrap();
    assert_eq!(verify_account(root, &nobody, &p).unwrap(), None);
    // The reserve an edge checks before serving on credit.
    let p = l.prove_reserve(1, &addr(3), 1).unwrap();
    let fund = verify_reserve(root, &addr(3), 1, &p).unwrap().unwrap();
    assert_eq!((fund.deposit, fund.collateral), (U256::from(1_000u64), U256::from(1_500u64)));
    assert_eq!(verify_reserve(root, &addr(3), 2, &l.prove_reserve(1, &addr(3), 2).unwrap()).unwrap(), None);
    // An older retained state proves the older value.
    let p0 = l.prove_reserve(0, &addr(3), 1).unwrap();
    assert_eq!(verify_reserve(l.root_at(0).unwrap(), &addr(3), 1, &p0).unwrap(), None);
}

#[test]
fn a_proof_proves_nothing_under_another_root_or_once_tampered() {
    let l = reserved();
    let p = l.prove_account(1, &addr(2)).unwrap();
    assert!(matches!(verify_account(H256::repeat_byte(9), &addr(2), &p), Err(ProofError::Invalid(_))));
    // A proof for one key does not prove another's value.
    assert!(verify_account(l.root(), &addr(4), &p).map(|a| a.is_none()).unwrap_or(true));
    let mut tampered = p.clone();
    let last = tampered.nodes.last_mut().unwrap();
    let i = last.len() - 1;
    last[i] ^= 1;
    assert!(matches!(verify_account(l.root(), &addr(2), &tampered), Err(ProofError::Invalid(_))));
    assert!(matches!(l.prove_account(9, &addr(2)), Err(ProofError::NotRetained { height: 9 })));
}

#[test]
fn the_proof_codec_is_bounded_and_canonical() {
    assert!(StateProof::decode(&[]).is_err());
    let too_many = StateProof { nodes: vec![vec![1]; MAX_PROOF_NODES + 1] };
    assert!(matches!(StateProof::decode(&too_many.encode()), Err(ProofError::Malformed(_))));
    let mut trailing = StateProof { nodes: vec![vec![1, 2]] }.encode();
    trailing.push(0);
    assert!(StateProof::decode(&trailing).is_err());
    // A list inside the list is not a node.
    assert!(StateProof::decode(&[0xc2, 0xc1, 0x01]).is_err());
}

proptest! {
    #[test]
    fn decoding_never_panics_and_accepts_only_its_encodings(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(p) = StateProof::decode(&bytes) {
            prop_assert_eq!(p.encode(), bytes);
        }
    }
}
