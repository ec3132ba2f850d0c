//! The BLS wrapper through its public API: key generation, typed rejections, proofs of
//! possession, weighted keys against repeated addition, batch verification and bisection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bls_gossip::bls::{
    self, DST_POP, DST_SIGNATURE, KeyTable, ProofOfPossession, PublicKey, SecretKey, Signature,
    aggregate_public_keys, weighted_public_key,
};
use bls_gossip::{Bls, Error, Scheme, SignerVector};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// On the curve, not in the subgroup (order 11·10177·…; from bls12-381-tests' generator).
const G1_WRONG_ORDER: &str =
    "a123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
/// On the twist, order 13.
const G2_WRONG_ORDER: &str = "984e811f55e6f9d84d77d2f79102fd7ea7422f4759df5bf7f6331d550245e3f1bcf6a30e3b29110d85e0ca16f9f6ae7a197bfd0342bbc8bee2beced2f173e1a87be576379b343e93232d6cef98d84b1d696e5612ff283ce2cfdccb2cfb65fa0c";

fn key(i: u8) -> SecretKey {
    SecretKey::key_gen(&[i; 32]).unwrap()
}

#[test]
fn ciphersuite_tags() {
    assert_eq!(DST_SIGNATURE, b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_");
    assert_eq!(DST_POP, b"BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_");
}

#[test]
fn keygen_is_deterministic_and_checks_input() {
    assert_eq!(key(1).to_bytes(), key(1).to_bytes());
    assert_ne!(key(1).to_bytes(), key(2).to_bytes());
    assert_eq!(SecretKey::key_gen(&[1; 31]).unwrap_err(), Error::ShortKeyMaterial { len: 31 });
    let sk = key(3);
    assert_eq!(SecretKey::from_bytes(&sk.to_bytes()).unwrap().public_key(), sk.public_key());
    assert_eq!(SecretKey::from_bytes(&[0; 32]).unwrap_err(), Error::ZeroSecret);
    assert_eq!(SecretKey::from_bytes(&[0xff; 32]).unwrap_err(), Error::InvalidSecret);
    assert!(matches!(SecretKey::from_bytes(&[1; 31]), Err(Error::BadLength { expected: 32, got: 31 })));
    assert_eq!(format!("{sk:?}"), "SecretKey(<redacted>)");
}

#[test]
fn points_are_validated_with_typed_errors() {
    let mut inf = [0u8; 48];
    inf[0] = 0xc0;
    assert_eq!(PublicKey::from_bytes(&inf).unwrap_err(), Error::IdentityKey);
    assert_eq!(
        PublicKey::from_bytes(&unhex(G1_WRONG_ORDER)).unwrap_err(),
        Error::NotInSubgroup { what: "public key" }
    );
    assert_eq!(
        Signature::from_bytes(&unhex(G2_WRONG_ORDER)).unwrap_err(),
        Error::NotInSubgroup { what: "signature" }
    );
    assert!(matches!(PublicKey::from_bytes(&[0u8; 48]), Err(Error::BadPoint { .. })));
    assert!(matches!(Signature::from_bytes(&[0xff; 96]), Err(Error::BadPoint { .. })));
    assert!(matches!(PublicKey::from_bytes(&[0u8; 47]), Err(Error::BadLength { .. })));
    let pk = key(4).public_key();
    assert_eq!(PublicKey::from_bytes(&pk.to_bytes()).unwrap(), pk);
}

#[test]
fn proof_of_possession() {
    let (a, b) = (key(5), key(6));
    let pop = a.prove_possession();
    assert_eq!(a.public_key().verify_possession(&pop), Ok(()));
    assert_eq!(b.public_key().verify_possession(&pop), Err(Error::InvalidPossession));
    // A PoP is not a signature over the key bytes under the signing tag (separate DST).
    let plain = ProofOfPossession::from_bytes(&a.sign(&a.public_key().to_bytes()).to_bytes()).unwrap();
    assert_eq!(a.public_key().verify_possession(&plain), Err(Error::InvalidPossession));
    assert_eq!(ProofOfPossession::from_bytes(&pop.to_bytes()).unwrap(), pop);
    let set = bls_gossip::GuardianSet::<Bls>::with_proofs(&[(a.public_key(), pop, 5)]).unwrap();
    assert_eq!(set.total_stake(), 5);
    assert!(bls_gossip::GuardianSet::<Bls>::with_proofs(&[(b.public_key(), pop, 5)]).is_err());
}

#[test]
fn weighted_key_is_repeated_addition() {
    let keys: Vec<PublicKey> = (1..=4).map(|i| key(i).public_key()).collect();
    let w = weighted_public_key(&keys, &[(0, 3), (2, 1), (3, 0)]).unwrap();
    let sum = aggregate_public_keys(&[keys[0], keys[0], keys[0], keys[2]]).unwrap();
    assert_eq!(w, sum);
    let big = weighted_public_key(&keys, &[(1, 1 << 70)]).unwrap();
    let half = weighted_public_key(&keys, &[(1, 1 << 69)]).unwrap();
    assert_eq!(big, aggregate_public_keys(&[half, half]).unwrap());
    assert_eq!(weighted_public_key(&keys, &[(0, 0)]).unwrap_err(), Error::EmptyAggregate);
    assert!(matches!(
        weighted_public_key(&keys, &[(9, 1)]),
        Err(Error::SignerOutOfRange { index: 9, len: 4 })
    ));
}

fn fixture(n: usize, aggregates: usize) -> (Vec<PublicKey>, Vec<u8>, Vec<(SignerVector, Signature)>) {
    let sks: Vec<SecretKey> = (0..n as u8).map(|i| key(i + 10)).collect();
    let keys: Vec<PublicKey> = sks.iter().map(SecretKey::public_key).collect();
    let msg = b"checkpoint".to_vec();
    let sigs: Vec<Signature> = sks.iter().map(|s| s.sign(&msg)).collect();
    let mut out = Vec::new();
    for j in 0..aggregates {
        let mut counts = vec![0u8; n];
        let mut sig: Option<Signature> = None;
        for (u, c) in counts.iter_mut().enumerate() {
            let k = ((u * 7 + j * 3) % 4) as u8; // multiplicities 0..=3
            *c = k;
            for _ in 0..k {
                sig = Some(sig.map_or(sigs[u], |s| s.combine(&sigs[u])));
            }
        }
        out.push((SignerVector::from_counts(&counts), sig.unwrap()));
    }
    (keys, msg, out)
}

#[test]
fn weighted_and_batch_verification_name_the_bad_aggregate() {
    let (keys, msg, mut aggs) = fixture(12, 6);
    for (c, s) in &aggs {
        assert!(bls::verify_weighted(&keys, &msg, c, s).unwrap());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let table = KeyTable::new(keys.clone());
    let plain = KeyTable::without_precomputation(keys.clone());
    assert!(table.is_precomputed() && !plain.is_precomputed());
    let items: Vec<(&SignerVector, &Signature)> = aggs.iter().map(|(c, s)| (c, s)).collect();
    assert!(bls::batch_verify(&keys, &msg, &items, &mut rng).unwrap());
    assert!(bls::batch_verify_with(&table, &msg, &items, &mut rng).unwrap());
    assert!(bls::find_invalid(&table, &msg, &items, &mut rng).unwrap().is_empty());

    // Corrupt aggregate 4: claim one more signature by guardian 0 than it holds.
    let mut bad = aggs[4].0.clone();
    bad.set(0, bad.count(0) + 1).unwrap();
    aggs[4].0 = bad;
    let items: Vec<(&SignerVector, &Signature)> = aggs.iter().map(|(c, s)| (c, s)).collect();
    assert!(!bls::verify_weighted(&keys, &msg, items[4].0, items[4].1).unwrap());
    assert!(!bls::batch_verify(&keys, &msg, &items, &mut rng).unwrap());
    assert!(!bls::batch_verify_with(&table, &msg, &items, &mut rng).unwrap());
    for t in [&table, &plain] {
        assert_eq!(bls::find_invalid(t, &msg, &items, &mut rng).unwrap(), vec![4]);
    }
    // Two bad ones.
    let swapped = (items[1].0, items[0].1);
    let mut two = items.clone();
    two[1] = swapped;
    assert_eq!(<Bls as Scheme>::find_invalid(&table, &msg, &two, &mut rng).unwrap(), vec![1, 4]);
    // Mismatched lengths are typed errors.
    let short = SignerVector::singleton(3, 0).unwrap();
    assert!(matches!(
        bls::verify_weighted(&keys, &msg, &short, items[0].1),
        Err(Error::LengthMismatch { .. })
    ));
    // An empty signer vector never verifies.
    assert!(!bls::verify_weighted(&keys, &msg, &SignerVector::new(12), items[0].1).unwrap());
}

#[test]
fn negation_and_scaling() {
    let s = key(7).sign(b"m");
    assert!(s.combine(&s.negate().unwrap()).is_identity());
    assert_eq!(s.negate().unwrap().negate().unwrap(), s);
    let three = <Bls as Scheme>::scale(&s, 3).unwrap();
    assert_eq!(three, s.combine(&s).combine(&s));
    assert_eq!(<Bls as Scheme>::scale(&s, 1).unwrap(), s);
    assert!(<Bls as Scheme>::scale(&s, 0).is_none());
}

/// Folded scalars above 72 bits (here 6 aggregates with multiplicities up to 240) take the
/// plain MSM instead of the key table, with the same verdicts.
#[test]
fn key_table_falls_back_for_wide_scalars() {
    let (keys, msg, aggs) = fixture(5, 6);
    let scaled: Vec<(SignerVector, Signature)> = aggs
        .iter()
        .map(|(c, s)| {
            let counts: Vec<u8> = (0..c.len()).map(|u| c.count(u) * 80).collect();
            (SignerVector::from_counts(&counts), <Bls as Scheme>::scale(s, 80).unwrap())
        })
        .collect();
    let table = KeyTable::new(keys.clone());
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let items: Vec<(&SignerVector, &Signature)> = scaled.iter().map(|(c, s)| (c, s)).collect();
    assert!(bls::batch_verify_with(&table, &msg, &items, &mut rng).unwrap());
    let mut wrong = items.clone();
    wrong[2].1 = items[3].1;
    assert!(!bls::batch_verify_with(&table, &msg, &wrong, &mut rng).unwrap());
    assert_eq!(bls::find_invalid(&table, &msg, &wrong, &mut rng).unwrap(), vec![2]);
}
