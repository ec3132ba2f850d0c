//! Harnesses for the decoders in `mlbft-core`: equivocation evidence, commit
//! certificates, consensus wire messages and settlement proofs (real BLS signature
//! parsing). What decodes must re-encode to something that decodes to the same value.

use bls_gossip::{Bls, Scheme};
use mlbft_core::{
    Block, Certificate, CommitCertificate, Evidence, Limits, Message, SettlementProof, SignedStatement,
    StatementKind, proposal_message, vote_message,
};

/// Validator-set sizes the harness decodes against (the first input byte picks one).
const SIZES: [usize; 4] = [1, 4, 20, 100];

fn split(data: &[u8]) -> Option<(usize, &[u8])> {
    let (&pick, rest) = data.split_first()?;
    Some((SIZES[usize::from(pick) % SIZES.len()], rest))
}

/// Evidence (two signed statements) from untrusted bytes.
pub fn evidence(data: &[u8]) {
    if let Ok(e) = Evidence::<Bls>::decode(data, 4096) {
        let again = Evidence::<Bls>::decode(&e.encode(), 4096).expect("re-encoded evidence decodes");
        assert_eq!(again, e);
        assert_ne!(e.first.block, e.second.block, "decoded evidence names two blocks");
    }
}

/// A commit certificate from untrusted bytes.
pub fn certificate(data: &[u8]) {
    let Some((n, rest)) = split(data) else { return };
    if let Ok(cc) = CommitCertificate::<Bls>::decode(rest, n, 4096) {
        assert_eq!(cc.cert.signers.len(), n);
        let again = CommitCertificate::<Bls>::decode(&cc.encode(), n, 4096).expect("round trip");
        assert_eq!(again, cc);
    }
}

/// A consensus wire message, or a settlement proof, from untrusted bytes.
pub fn message(data: &[u8]) {
    let Some((n, rest)) = split(data) else { return };
    let limits = Limits { validators: n, max_payload: 1024, max_message: 8192 };
    if let Ok(m) = Message::<Bls>::decode(rest, &limits) {
        let again = Message::<Bls>::decode(&m.encode(), &limits).expect("round trip");
        assert_eq!(again, m);
    }
    if let Ok(p) = SettlementProof::<Bls>::decode(rest, n, 8192) {
        let again = SettlementProof::<Bls>::decode(&p.encode(), n, 8192).expect("round trip");
        assert_eq!(again, p);
    }
}

/// Seeds: valid encodings of each kind (the first byte picks the set size for the
/// certificate and message harnesses).
pub fn seeds() -> Vec<Vec<u8>> {
    let keys: Vec<_> = (0..4u8).map(|i| Bls::keypair(&[i + 1; 32]).expect("ikm")).collect();
    let g = Block::genesis();
    let b1 = Block { height: 1, epoch: 1, parent: g.hash(), proposer: 0, payload: b"one".to_vec() };
    let b2 = Block { height: 2, epoch: 2, parent: b1.hash(), proposer: 1, payload: b"two".to_vec() };
    let cc = |b: &Block| {
        let msg = vote_message(&b.reference());
        let sigs: Vec<_> = (0..3).map(|i| (i, Bls::sign(&keys[i].0, &msg))).collect();
        CommitCertificate { block: b.reference(), cert: Certificate::aggregate(4, &sigs).expect("sigs") }
    };
    let stmt = |b: &Block| SignedStatement::<Bls> {
        kind: StatementKind::Proposal,
        signer: 1,
        block: b.reference(),
        signature: Bls::sign(&keys[1].0, &proposal_message(&b.reference())),
    };
    let b2x = Block { payload: b"other".to_vec(), ..b2.clone() };
    let ev = Evidence::new(stmt(&b2), stmt(&b2x)).expect("shape");
    let proof =
        SettlementProof { headers: vec![b1.header(), b2.header()], cc_settled: cc(&b1), cc_child: cc(&b2) };
    let msg = Message::<Bls>::BlockResponse { block: b1.clone(), cc: cc(&b1) };
    let with_size = |bytes: Vec<u8>| {
        let mut v = vec![1u8];
        v.extend(bytes);
        v
    };
    vec![ev.encode(), with_size(cc(&b2).encode()), with_size(msg.encode()), with_size(proof.encode())]
}
