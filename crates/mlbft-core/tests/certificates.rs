//! Commit certificates with real BLS, settlement proofs, evidence and the wire codec.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use bls_gossip::{Bls, Scheme};
use mlbft_core::{
    Block, BlockRef, Certificate, CommitCertificate, Error, Evidence, Limits, Message, Proposal,
    SettlementProof, SignedStatement, StatementKind, ValidatorSet, Vote, proposal_message, vote_message,
};
use primitives::{H256, U256};

type Keys = Vec<(<Bls as Scheme>::SecretKey, <Bls as Scheme>::PublicKey)>;

fn committee(n: usize) -> (Keys, Arc<ValidatorSet<Bls>>) {
    let keys: Keys = (0..n).map(|i| Bls::keypair(&[i as u8 + 1; 32]).unwrap()).collect();
    let set = ValidatorSet::<Bls>::equal_stake(keys.iter().map(|k| k.1).collect()).unwrap();
    (keys, Arc::new(set))
}

fn block(height: u64, epoch: u64, parent: H256) -> Block {
    Block { height, epoch, parent, proposer: 0, payload: vec![epoch as u8; 8] }
}

fn cc(keys: &Keys, signers: impl IntoIterator<Item = usize>, b: BlockRef) -> CommitCertificate<Bls> {
    let msg = vote_message(&b);
    let sigs: Vec<_> = signers.into_iter().map(|i| (i, Bls::sign(&keys[i].0, &msg))).collect();
    CommitCertificate { block: b, cert: Certificate::aggregate(keys.len(), &sigs).unwrap() }
}

#[test]
fn certificate_checks_validity_and_quorum() {
    let (keys, set) = committee(20);
    let b = block(1, 1, Block::genesis().hash()).reference();
    // 14 of 20: 42 > 40.
    let good = cc(&keys, 0..14, b);
    good.verify(&set).unwrap();
    assert_eq!(good.signers().count(), 14);
    // 13 of 20: 39 is not > 40.
    assert!(matches!(cc(&keys, 0..13, b).verify(&set), Err(Error::NoQuorum { .. })));
    // Valid signatures over another block.
    let other = block(1, 2, Block::genesis().hash()).reference();
    let mut wrong = cc(&keys, 0..14, other);
    wrong.block = b;
    assert_eq!(wrong.verify(&set), Err(Error::BadCertificate));
    // Claiming a signer whose signature is not in the aggregate.
    let mut inflated = cc(&keys, 0..14, b);
    inflated.cert.signers.insert(19).unwrap();
    assert_eq!(inflated.verify(&set), Err(Error::BadCertificate));
    // A bitmap for another set size.
    let (_, small) = committee(4);
    assert!(matches!(good.verify(&small), Err(Error::BitmapLength { .. })));
}

#[test]
fn certificate_stake_weighted_quorum() {
    let keys: Keys = (0..4).map(|i| Bls::keypair(&[i as u8 + 9; 32]).unwrap()).collect();
    let stakes = [U256::from(70), U256::from(10), U256::from(10), U256::from(10)];
    let set = ValidatorSet::<Bls>::new(keys.iter().map(|k| k.1).zip(stakes).collect()).unwrap();
    let b = block(1, 1, Block::genesis().hash()).reference();
    // 70 of 100 is more than 2/3 alone; the three small ones (30) are not.
    cc(&keys, [0], b).verify(&set).unwrap();
    assert!(matches!(cc(&keys, [1, 2, 3], b).verify(&set), Err(Error::NoQuorum { .. })));
}

#[test]
fn certificate_codec_round_trips_and_enforces_limits() {
    let (keys, set) = committee(20);
    let b = block(7, 9, H256::repeat_byte(3)).reference();
    let c = cc(&keys, 2..18, b);
    let bytes = c.encode();
    let back = CommitCertificate::<Bls>::decode(&bytes, 20, 1024).unwrap();
    assert_eq!(back, c);
    back.verify(&set).unwrap();
    assert!(matches!(CommitCertificate::<Bls>::decode(&bytes, 20, 10), Err(Error::TooLong { .. })));
    assert!(matches!(CommitCertificate::<Bls>::decode(&bytes, 25, 1024), Err(Error::BitmapLength { .. })));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(CommitCertificate::<Bls>::decode(&trailing, 20, 1024).is_err());
    // Padding bits of the bitmap must be zero (one canonical encoding).
    let raw = c.cert.encode();
    let pos = raw.iter().position(|&x| x == 0x83).unwrap(); // 3-byte bitmap string header
    let mut padded = raw.clone();
    padded[pos + 3] |= 0x80;
    assert!(Certificate::<Bls>::decode(&padded, 20, 1024).is_err());
    assert!(Certificate::<Bls>::decode(&raw, 20, 1024).is_ok());
}

#[test]
fn settlement_proof_verifies_two_consecutive_ccs() {
    let (keys, set) = committee(4);
    let g = Block::genesis().hash();
    let b1 = block(1, 1, g);
    let b2 = block(2, 2, b1.hash());
    let b3 = block(3, 3, b2.hash());
    let proof = SettlementProof {
        headers: vec![b1.header(), b2.header(), b3.header()],
        cc_settled: cc(&keys, 0..3, b2.reference()),
        cc_child: cc(&keys, 1..4, b3.reference()),
    };
    let cp = proof.verify(&set).unwrap();
    assert_eq!((cp.height, cp.hash), (1, b1.hash()));
    let back = SettlementProof::<Bls>::decode(&proof.encode(), 4, 4096).unwrap();
    assert_eq!(back, proof);
    // The child must be in the next epoch.
    let late = block(3, 5, b2.hash());
    let bad = SettlementProof {
        headers: vec![b2.header(), late.header()],
        cc_settled: cc(&keys, 0..3, b2.reference()),
        cc_child: cc(&keys, 0..3, late.reference()),
    };
    assert!(matches!(bad.verify(&set), Err(Error::InvalidBlock { .. })));
    // A broken parent link.
    let stray = block(3, 3, H256::repeat_byte(1));
    let broken = SettlementProof {
        headers: vec![b1.header(), b2.header(), stray.header()],
        cc_settled: cc(&keys, 0..3, b2.reference()),
        cc_child: cc(&keys, 0..3, stray.reference()),
    };
    assert!(matches!(broken.verify(&set), Err(Error::InvalidBlock { .. })));
}

fn statement(keys: &Keys, kind: StatementKind, signer: usize, b: BlockRef) -> SignedStatement<Bls> {
    let msg = match kind {
        StatementKind::Proposal => proposal_message(&b),
        StatementKind::Vote => vote_message(&b),
    };
    SignedStatement { kind, signer: signer as u32, block: b, signature: Bls::sign(&keys[signer].0, &msg) }
}

#[test]
fn evidence_verifies_alone_and_round_trips() {
    let (keys, set) = committee(4);
    let g = Block::genesis().hash();
    let a = block(1, 3, g).reference();
    let b = Block { payload: b"other".to_vec(), ..block(1, 3, g) }.reference();
    for kind in [StatementKind::Vote, StatementKind::Proposal] {
        let ev = Evidence::new(statement(&keys, kind, 2, a), statement(&keys, kind, 2, b)).unwrap();
        ev.verify(&set).unwrap();
        assert_eq!((ev.offender(), ev.epoch()), (2, 3));
        let back = Evidence::<Bls>::decode(&ev.encode(), 512).unwrap();
        assert_eq!(back, ev);
        back.verify(&set).unwrap();
        // A forged second statement does not verify.
        let mut forged = ev.clone();
        forged.second.signature = Bls::sign(&keys[1].0, &vote_message(&b));
        assert!(matches!(forged.verify(&set), Err(Error::BadSignature { .. })));
    }
    // Shapes that prove nothing.
    let v = |s, blk| statement(&keys, StatementKind::Vote, s, blk);
    assert!(Evidence::new(v(2, a), v(2, a)).is_err(), "the same block twice");
    assert!(Evidence::new(v(2, a), v(1, b)).is_err(), "two signers");
    let later = block(1, 4, g).reference();
    assert!(Evidence::new(v(2, a), v(2, later)).is_err(), "two epochs");
    assert!(Evidence::new(v(2, a), statement(&keys, StatementKind::Proposal, 2, b)).is_err(), "two kinds");
    assert!(Evidence::<Bls>::decode(&[0xc0], 512).is_err());
    assert!(matches!(Evidence::<Bls>::decode(&[0u8; 600], 4096), Err(Error::TooLong { .. })));
}

#[test]
fn message_codec_round_trips_and_refuses_oversized_input() {
    let (keys, _set) = committee(4);
    let g = Block::genesis().hash();
    let b1 = block(1, 1, g);
    let b2 = block(2, 2, b1.hash());
    let parent_cc = cc(&keys, 0..3, b1.reference());
    let limits = Limits { validators: 4, max_payload: 64, max_message: 4096 };
    let msgs = vec![
        Message::Proposal(Proposal {
            block: b2.clone(),
            parent_cc: Some(parent_cc.clone()),
            signature: Bls::sign(&keys[0].0, &proposal_message(&b2.reference())),
        }),
        Message::Vote(Vote {
            block: b2.reference(),
            voter: 3,
            signature: Bls::sign(&keys[3].0, &vote_message(&b2.reference())),
        }),
        Message::BlockRequest { hash: b1.hash() },
        Message::BlockResponse { block: b1.clone(), cc: parent_cc.clone() },
        Message::Finality {
            checkpoint: mlbft_core::Checkpoint { height: 100, hash: g },
            proof: vec![1, 2, 3],
        },
    ];
    for m in msgs {
        let bytes = m.encode();
        assert_eq!(Message::<Bls>::decode(&bytes, &limits).unwrap(), m);
        assert!(matches!(
            Message::<Bls>::decode(&bytes, &Limits { max_message: bytes.len() - 1, ..limits }),
            Err(Error::TooLong { .. })
        ));
    }
    let big = Block { payload: vec![0; 65], ..b2 };
    let p = Message::Proposal(Proposal {
        block: big.clone(),
        parent_cc: Some(parent_cc),
        signature: Bls::sign(&keys[0].0, &proposal_message(&big.reference())),
    });
    assert!(matches!(Message::<Bls>::decode(&p.encode(), &limits), Err(Error::PayloadTooLarge { .. })));
    assert!(Message::<Bls>::decode(&[0xc1, 0x09], &limits).is_err(), "unknown tag");
    assert!(Message::<Bls>::decode(&[], &limits).is_err());
}
